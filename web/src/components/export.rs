//! Share, export and open, in the sidebar under the scenario form:
//!
//! * **Copy link**: the address (which always holds the scenario, seed and, when paused, the
//!   step) to the clipboard, or shown in a text field where the clipboard is unavailable;
//! * **Report CSV** (the rounds as `livemig simulate --csv --per-round` prints them, plus a
//!   total row), **Summary CSV** (`livemig simulate --csv`), **Report JSON** (`livemig simulate
//!   --json`), **Trace JSON** (`livemig trace -o FILE`): downloads of the current run;
//! * **Charts PNG**: each chart canvas as a PNG;
//! * **Open trace file…**: plays a trace written by `livemig trace` (or a real KVM run).
//!
//! Downloads are a Blob (or the canvas's data URL) behind a temporary `<a download>`.

use crate::components::charts::CHART_IDS;
use crate::dom::{click_download, download, js_err};
use crate::loaded::{load_trace, Loaded};
use crate::series;
use crate::share::ShareState;
use livemig_core::trace::Trace;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

/// Props of [`ExportBar`].
#[derive(Properties, PartialEq)]
pub struct ExportProps {
    /// The current run.
    pub loaded: Option<Rc<Loaded>>,
    /// Current state.
    pub share: ShareState,
    /// A trace file was opened (or could not be).
    pub open_trace: Callback<Result<Rc<Loaded>, String>>,
}

/// A line under the buttons: what happened.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Done(String),
    Failed(String),
}

/// Downloads every chart canvas on the page as a PNG; returns how many.
fn download_charts(stem: &str) -> Result<usize, String> {
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let mut n = 0;
    for id in CHART_IDS {
        let Some(canvas) = doc
            .query_selector(&format!("canvas[data-testid=\"{id}\"]"))
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok())
        else {
            continue;
        };
        if canvas.width() == 0 || canvas.height() == 0 {
            continue;
        }
        let url = canvas.to_data_url_with_type("image/png").map_err(js_err)?;
        click_download(&url, &format!("{stem}-{id}.png"))?;
        n += 1;
    }
    Ok(n)
}

/// Reads, checks and prepares a trace file's text.
fn open_text(name: &str, text: &str) -> Result<Rc<Loaded>, String> {
    let trace = Trace::from_json(text).map_err(|e| format!("trace file '{name}': {e}"))?;
    series::check_trace_file(&trace).map_err(|e| format!("trace file '{name}': {e}"))?;
    load_trace(trace, true).map_err(|e| format!("trace file '{name}': {e}"))
}

/// The share/export/open bar.
#[component]
pub fn ExportBar(props: &ExportProps) -> Html {
    let status = use_state(|| None::<Status>);
    let shown_link = use_state(|| None::<String>);
    let reader = use_mut_ref(|| None::<gloo::file::callbacks::FileReader>);

    let copy_link = {
        let status = status.clone();
        let shown_link = shown_link.clone();
        let from_file = props.loaded.as_ref().is_some_and(|l| l.from_file);
        Callback::from(move |_: MouseEvent| {
            let Some(w) = web_sys::window() else { return };
            let href = w.location().href().unwrap_or_default();
            let note = if from_file { " It reproduces the scenario in the form, not the opened trace file." } else { "" };
            // `navigator.clipboard` is missing on pages not served over HTTPS or localhost.
            let clipboard =
                js_sys::Reflect::get(&w.navigator(), &JsValue::from_str("clipboard")).ok().filter(|c| !c.is_undefined() && !c.is_null());
            let Some(clipboard) = clipboard else {
                status.set(Some(Status::Failed(format!("No clipboard here: copy the link from the field below.{note}"))));
                shown_link.set(Some(href));
                return;
            };
            let clipboard: web_sys::Clipboard = clipboard.unchecked_into();
            let ok = {
                let status = status.clone();
                let shown_link = shown_link.clone();
                let note = note.to_string();
                Closure::<dyn FnMut(JsValue)>::once(move |_: JsValue| {
                    status.set(Some(Status::Done(format!("Link copied.{note}"))));
                    shown_link.set(None);
                })
            };
            let failed = {
                let status = status.clone();
                let shown_link = shown_link.clone();
                let href = href.clone();
                let note = note.to_string();
                Closure::<dyn FnMut(JsValue)>::once(move |_: JsValue| {
                    status
                        .set(Some(Status::Failed(format!("The browser did not allow copying: copy the link from the field below.{note}"))));
                    shown_link.set(Some(href));
                })
            };
            let _ = clipboard.write_text(&href).then2(&ok, &failed);
            // The promise may settle after this handler returns, so the closures must outlive
            // it; one of them is never called and stays allocated (a few bytes a click).
            ok.forget();
            failed.forget();
        })
    };

    let download = |what: &'static str| {
        let status = status.clone();
        let loaded = props.loaded.clone();
        Callback::from(move |_: MouseEvent| {
            let Some(l) = loaded.as_ref() else { return };
            let stem = series::file_stem(&l.report);
            let result = match what {
                "csv" => {
                    download(&format!("{stem}-rounds.csv"), "text/csv", &series::report_csv(&l.report)).map(|()| "rounds CSV".to_string())
                }
                "summary" => download(&format!("{stem}-summary.csv"), "text/csv", &series::summary_csv(&l.report))
                    .map(|()| "summary CSV".to_string()),
                "json" => serde_json::to_string_pretty(&l.report)
                    .map_err(|e| e.to_string())
                    // The CLI prints the JSON and a newline.
                    .and_then(|j| download(&format!("{stem}-report.json"), "application/json", &(j + "\n")))
                    .map(|()| "report JSON".to_string()),
                "trace" => {
                    let trace = Rc::clone(l.playback.borrow().trace());
                    serde_json::to_string(&*trace)
                        .map_err(|e| e.to_string())
                        .and_then(|j| download(&format!("{stem}-trace.json"), "application/json", &j))
                        .map(|()| format!("trace JSON ({} events)", trace.events.len()))
                }
                _ => match download_charts(&stem) {
                    Ok(0) => Err("no charts on screen: open the Play view first".to_string()),
                    Ok(n) => Ok(format!("{n} chart PNG{}", if n == 1 { "" } else { "s" })),
                    Err(e) => Err(e),
                },
            };
            status.set(Some(match result {
                Ok(what) => Status::Done(format!("Downloaded the {what}.")),
                Err(e) => Status::Failed(format!("Could not export: {e}")),
            }));
        })
    };

    let on_file = {
        let status = status.clone();
        let open_trace = props.open_trace.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            let name = file.name();
            // A file over the bound is refused before any of it is read.
            if let Err(e) = series::check_trace_file_size(&name, file.size()) {
                status.set(Some(Status::Failed(e.clone())));
                open_trace.emit(Err(e));
                input.set_value("");
                return;
            }
            status.set(Some(Status::Done(format!("Reading {name}…"))));
            let status = status.clone();
            let open_trace = open_trace.clone();
            let handle = gloo::file::callbacks::read_as_text(&gloo::file::File::from(file), move |text| {
                let result = match text {
                    Ok(text) => open_text(&name, &text),
                    Err(e) => Err(format!("trace file '{name}' could not be read: {e}")),
                };
                status.set(Some(match &result {
                    Ok(l) => Status::Done(format!(
                        "Opened {name}: {} on {} ({} events).",
                        l.report.algorithm,
                        l.report.scenario,
                        l.playback.borrow().trace().events.len()
                    )),
                    Err(e) => Status::Failed(e.clone()),
                }));
                open_trace.emit(result);
            });
            // Keep the reader alive until it is done (a newer file replaces it).
            *reader.borrow_mut() = Some(handle);
            // Let the same file be chosen again.
            input.set_value("");
        })
    };

    let no_run = props.loaded.is_none();
    let status_line = status.as_ref().map(|s| {
        let (cls, text) = match s {
            Status::Done(t) => ("export-status", t),
            Status::Failed(t) => ("export-status failed", t),
        };
        html! { <p class={cls} role="status" data-testid="export-status">{text}</p> }
    });
    let link_field = shown_link.as_ref().map(|href| {
        html! {
            <input class="export-link" type="text" readonly=true value={href.clone()} aria-label="link to this run" data-testid="copy-link-text"
                onfocus={Callback::from(|e: FocusEvent| e.target_unchecked_into::<web_sys::HtmlInputElement>().select())} />
        }
    });
    let button = |label: &'static str, id: &'static str, title: &'static str, onclick: Callback<MouseEvent>, disabled: bool| {
        html! { <button type="button" class="export-btn" data-testid={id} title={title} {onclick} {disabled}>{label}</button> }
    };
    html! {
        <section class="panel export" aria-label="share, export and open">
            <h2 class="export-title">{"Share & export"}</h2>
            <div class="export-row">
                { button("Copy link", "copy-link", "copy the address of this run (scenario, seed and step) to share it", copy_link, false) }
            </div>
            <div class="export-row">
                { button("Report CSV", "export-csv", "per-round figures and totals, as `livemig simulate --csv --per-round`", download("csv"), no_run) }
                { button("Summary CSV", "export-summary-csv", "the run's summary row, as `livemig simulate --csv`", download("summary"), no_run) }
                { button("Report JSON", "export-json", "the whole report, as `livemig simulate --json`", download("json"), no_run) }
                { button("Trace JSON", "export-trace", "every event of the run, as `livemig trace` writes it (open it again below)", download("trace"), no_run) }
                { button("Charts PNG", "export-png", "each chart of the Play view as a PNG image", download("png"), no_run) }
            </div>
            <label class="export-open">
                <span>{"Open trace file…"}</span>
                <input type="file" accept=".json,application/json" data-testid="open-trace" onchange={on_file} />
            </label>
            <p class="hint">{"A trace written by `livemig trace -o run.json` (or by the Trace JSON button) plays here."}</p>
            { for status_line }
            { for link_field }
        </section>
    }
}
