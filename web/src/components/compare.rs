//! Comparison of algorithms on one scenario: the same scenario and seed run with every chosen
//! algorithm (summary detail), a table of the CLI's metrics, one small bar chart per metric, and
//! a CSV of the table.
//!
//! Runs go to Web Workers, one per core ([`crate::worker_pool`]; on the page's thread, with a
//! yield to the browser between runs, where workers do not work), so the page shows progress and
//! stays responsive; the time from start to the last result and the time spent in the
//! simulator are measured with `performance.now()` and shown. The algorithm picker, the batch runner, the
//! colours and the canvas helpers here are shared with the sweep and lessons views.

use crate::share::ShareState;
use crate::sim_job::SimJob;
use crate::sweep_spec::{csv_field, Metric};
use crate::worker_pool::{self, Finished};
use livemig_core::algorithms;
use livemig_core::units::Quantity;
use livemig_core::Report;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use yew::prelude::*;

/// The comparison offered when the link names none: one algorithm per family and paper.
pub const DEFAULT_SELECTION: [&str; 7] = ["precopy-xen", "postcopy-bubbling", "hybrid", "tsmc", "mecom", "delta", "task-guided"];

/// The algorithms a sweep runs when the link names none: the families whose runs take
/// milliseconds. The codec algorithms (MECOM, delta, XBZRLE) encode every page for real, and a
/// sweep runs each many times on the page's one thread; pick them in the list to add them.
pub const SWEEP_DEFAULT_SELECTION: [&str; 4] = ["precopy-xen", "postcopy-bubbling", "hybrid", "tsmc"];

/// The algorithms compared: the link's `cmp`, else [`DEFAULT_SELECTION`]; in registry order.
pub fn selection(share: &ShareState) -> Vec<String> {
    selection_or(share, &DEFAULT_SELECTION)
}

/// The link's `cmp`, else `default`; in registry order.
pub fn selection_or(share: &ShareState, default: &[&str]) -> Vec<String> {
    let chosen: Vec<String> =
        if share.compare.is_empty() { default.iter().map(|s| s.to_string()).collect() } else { share.compare.clone() };
    algorithms::registry().iter().filter(|a| chosen.iter().any(|c| c == a.name)).map(|a| a.name.to_string()).collect()
}

const PALETTE: [(u8, u8, u8); 16] = [
    (31, 119, 180),
    (174, 199, 232),
    (255, 127, 14),
    (255, 187, 120),
    (44, 160, 44),
    (152, 223, 138),
    (214, 39, 40),
    (255, 152, 150),
    (148, 103, 189),
    (197, 176, 213),
    (140, 86, 75),
    (196, 156, 148),
    (227, 119, 194),
    (127, 127, 127),
    (23, 190, 207),
    (188, 189, 34),
];

/// The colour of an algorithm in every chart (by its place in the registry).
pub fn color_of(name: &str) -> RGBColor {
    let i = algorithms::registry().iter().position(|a| a.name == name).unwrap_or(PALETTE.len() - 1);
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// CSS text of [`color_of`].
pub fn css_color(name: &str) -> String {
    let c = color_of(name);
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

/// Milliseconds from `performance.now()` (0 outside a browser).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Offers `text` as a file download.
pub fn download(filename: &str, mime: &str, text: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let props = web_sys::BlobPropertyBag::new();
    props.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &props) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(a) = doc.create_element("a") {
        if let Ok(a) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlAnchorElement>(a) {
            a.set_href(&url);
            a.set_download(filename);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Sizes a canvas's pixels to its CSS box times the device pixel ratio (sharp on high-DPI
/// screens); returns the ratio, by which fonts and margins are scaled.
pub fn fit_canvas(canvas: &web_sys::HtmlCanvasElement, css_height: u32) -> f64 {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let w = canvas.client_width().max(200) as f64;
    canvas.set_width((w * dpr).round() as u32);
    canvas.set_height((css_height as f64 * dpr).round() as u32);
    dpr
}

/// A job of a batch: a label (shown while it runs) and the work.
pub type Job<T> = (String, Box<dyn FnOnce() -> T>);

/// A batch's progress: jobs done, jobs in all, the label of the one running next.
pub type Progress = (usize, usize, String);

struct BatchState<T> {
    jobs: VecDeque<Job<T>>,
    out: Vec<T>,
    busy_ms: f64,
    total: usize,
    started: f64,
}

/// The generation counter a view passes to [`run_batch`]; it is bumped when the view closes, so
/// a batch still running is abandoned.
#[hook]
pub fn use_batch_generation() -> Rc<Cell<u64>> {
    let generation: Rc<Cell<u64>> = use_mut_ref(|| Rc::new(Cell::new(0u64))).borrow().clone();
    {
        let generation = generation.clone();
        use_effect_with((), move |_| {
            // Workers load while the view is read, before the first batch needs them.
            worker_pool::warm_up();
            move || stop_batch(&generation)
        });
    }
    generation
}

/// Abandons the batch running for `generation`: its page-thread slices stop, and workers
/// running its jobs are stopped.
pub fn stop_batch(generation: &Rc<Cell<u64>>) {
    generation.set(generation.get().wrapping_add(1));
    worker_pool::abandon(generation);
}

/// Runs `jobs` in order, yielding to the browser between slices of about 40 ms; reports progress
/// and finally `(results, ms spent in the jobs, wall ms)`. Starting another batch with the same
/// `generation` (or bumping it) abandons this one.
pub fn run_batch<T: 'static>(
    generation: &Rc<Cell<u64>>,
    jobs: Vec<Job<T>>,
    progress: Callback<Progress>,
    done: Callback<(Vec<T>, f64, f64)>,
) {
    let my = generation.get().wrapping_add(1);
    generation.set(my);
    run_batch_as(generation, my, jobs, progress, done);
}

/// [`run_batch`] as the batch `my` of `generation`, already started (the worker pool finishes
/// a batch here when workers cannot run it).
pub fn run_batch_as<T: 'static>(
    generation: &Rc<Cell<u64>>,
    my: u64,
    jobs: Vec<Job<T>>,
    progress: Callback<Progress>,
    done: Callback<(Vec<T>, f64, f64)>,
) {
    let total = jobs.len();
    let first = jobs.first().map(|j| j.0.clone()).unwrap_or_default();
    let st =
        Rc::new(RefCell::new(BatchState { jobs: jobs.into(), out: Vec::with_capacity(total), busy_ms: 0.0, total, started: now_ms() }));
    progress.emit((0, total, first));
    fn slice<T: 'static>(
        gen: Rc<Cell<u64>>,
        my: u64,
        st: Rc<RefCell<BatchState<T>>>,
        progress: Callback<Progress>,
        done: Callback<(Vec<T>, f64, f64)>,
    ) {
        gloo::timers::callback::Timeout::new(0, move || {
            if gen.get() != my {
                return;
            }
            let start = now_ms();
            loop {
                let job = st.borrow_mut().jobs.pop_front();
                let Some((_, work)) = job else {
                    let mut s = st.borrow_mut();
                    let out = std::mem::take(&mut s.out);
                    let wall = now_ms() - s.started;
                    let busy = s.busy_ms;
                    drop(s);
                    done.emit((out, busy, wall));
                    return;
                };
                let t0 = now_ms();
                let r = work();
                let dt = now_ms() - t0;
                let mut s = st.borrow_mut();
                s.out.push(r);
                s.busy_ms += dt;
                if now_ms() - start > 40.0 {
                    break;
                }
            }
            let p = {
                let s = st.borrow();
                (s.out.len(), s.total, s.jobs.front().map(|j| j.0.clone()).unwrap_or_default())
            };
            progress.emit(p);
            slice(gen, my, st, progress, done);
        })
        .forget();
    }
    slice(generation.clone(), my, st, progress, done);
}

/// Props of [`AlgorithmPicker`].
#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// Algorithms chosen.
    pub selected: Vec<String>,
    /// A new choice.
    pub on_change: Callback<Vec<String>>,
}

/// Checkboxes for the algorithms, grouped by family, with quick choices.
#[component]
pub fn AlgorithmPicker(props: &PickerProps) -> Html {
    let mut families: Vec<&str> = Vec::new();
    for a in algorithms::registry() {
        if !families.contains(&a.family.as_str()) {
            families.push(a.family.as_str());
        }
    }
    let toggle = |name: &'static str| {
        let selected = props.selected.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |_: Event| {
            let mut next: Vec<String> = selected.iter().filter(|s| *s != name).cloned().collect();
            if next.len() == selected.len() {
                next.push(name.to_string());
            }
            on_change
                .emit(algorithms::registry().iter().filter(|a| next.iter().any(|n| n == a.name)).map(|a| a.name.to_string()).collect());
        })
    };
    let set = |names: Vec<String>| {
        let on_change = props.on_change.clone();
        Callback::from(move |_: MouseEvent| on_change.emit(names.clone()))
    };
    html! {
        <fieldset class="picker" aria-label="algorithms">
            <legend>{format!("Algorithms ({} chosen)", props.selected.len())}</legend>
            <div class="picker-families">
            { for families.iter().map(|fam| html! {
                <div class="picker-family">
                    <span class="picker-family-name">{*fam}</span>
                    { for algorithms::registry().iter().filter(|a| a.family.as_str() == *fam).map(|a| html! {
                        <label class="picker-item" title={format!("{}\n{}", a.summary, a.paper)}>
                            <input type="checkbox" checked={props.selected.iter().any(|s| s == a.name)} onchange={toggle(a.name)}
                                data-testid={format!("pick-{}", a.name)} />
                            <span class="swatch" style={format!("background:{}", css_color(a.name))}></span>
                            {a.name}
                        </label>
                    }) }
                </div>
            }) }
            </div>
            <div class="actions">
                <button type="button" onclick={set(DEFAULT_SELECTION.iter().map(|s| s.to_string()).collect())} data-testid="pick-default">{"One per paper"}</button>
                <button type="button" onclick={set(algorithms::names().iter().map(|s| s.to_string()).collect())} data-testid="pick-all">{"All"}</button>
                <button type="button" onclick={set(Vec::new())} data-testid="pick-none">{"None"}</button>
            </div>
        </fieldset>
    }
}

/// One bar of a chart: label, value (base units; `None` when the run failed), colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Algorithm.
    pub label: String,
    /// Value, base units.
    pub value: Option<f64>,
    /// Colour.
    pub color: (u8, u8, u8),
}

/// Props of [`BarChart`].
#[derive(Properties, PartialEq)]
pub struct BarChartProps {
    /// What is plotted.
    pub metric: Metric,
    /// One bar per algorithm, top to bottom.
    pub bars: Vec<Bar>,
}

fn draw_bars(canvas: web_sys::HtmlCanvasElement, metric: Metric, bars: &[Bar], css_height: u32) -> Result<(), String> {
    let dpr = fit_canvas(&canvas, css_height);
    let px = |v: f64| (v * dpr).round() as u32;
    let font = |size: f64| ("sans-serif", size * dpr);
    let max = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let (div, unit) = metric.quantity().scale(max);
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or("no canvas")?;
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = bars.len().max(1);
    let xmax = if max > 0.0 { max / div * 1.18 } else { 1.0 };
    let title = if unit.is_empty() { metric.label().to_string() } else { format!("{} ({unit})", metric.label()) };
    let label_width = bars.iter().map(|b| b.label.len()).max().unwrap_or(4) as f64 * 7.0 + 10.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, font(14.0))
        .margin(px(6.0))
        .x_label_area_size(px(22.0))
        .y_label_area_size(px(label_width))
        .build_cartesian_2d(0.0..xmax, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(5)
        .y_labels(n)
        .x_label_style(font(11.0))
        .y_label_style(font(11.0))
        .x_label_formatter(&|v| livemig_core::units::significant(*v))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => (n - 1).checked_sub(*i).and_then(|j| bars.get(j)).map(|b| b.label.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .light_line_style(RGBColor(235, 238, 242))
        .draw()
        .map_err(|e| e.to_string())?;
    let value_style = TextStyle::from(font(10.5)).pos(Pos::new(HPos::Left, VPos::Center)).color(&RGBColor(15, 23, 42));
    for (i, b) in bars.iter().enumerate() {
        let seg = n - 1 - i;
        let (r, g, bl) = b.color;
        match b.value {
            Some(v) => {
                let x = v / div;
                let mut rect =
                    Rectangle::new([(0.0, SegmentValue::Exact(seg)), (x, SegmentValue::Exact(seg + 1))], RGBColor(r, g, bl).filled());
                rect.set_margin(px(3.0), px(3.0), 0, 0);
                chart.draw_series(std::iter::once(rect)).map_err(|e| e.to_string())?;
                let text = livemig_core::units::significant(x);
                chart
                    .draw_series(std::iter::once(Text::new(format!(" {text}"), (x, SegmentValue::CenterOf(seg)), value_style.clone())))
                    .map_err(|e| e.to_string())?;
            }
            None => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        " failed".to_string(),
                        (0.0, SegmentValue::CenterOf(seg)),
                        value_style.clone().color(&RED),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// A small horizontal bar chart of one metric, one bar per algorithm.
#[component]
pub fn BarChart(props: &BarChartProps) -> Html {
    let canvas = use_node_ref();
    let height = 46 + 20 * props.bars.len() as u32;
    {
        let canvas = canvas.clone();
        use_effect_with((props.metric, props.bars.clone()), move |(metric, bars)| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                if let Err(e) = draw_bars(c, *metric, bars, height) {
                    gloo::console::warn!(format!("bar chart: {e}"));
                }
            }
        });
    }
    html! {
        <figure class="bar-chart">
            <canvas ref={canvas} style={format!("width:100%;height:{height}px")} role="img"
                aria-label={format!("bar chart of {} per algorithm", props.metric.label())}
                data-testid={format!("compare-chart-{}", props.metric.name())}></canvas>
        </figure>
    }
}

/// One algorithm's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Algorithm.
    pub name: String,
    /// Its report, or why it failed.
    pub result: Result<Report, String>,
    /// Milliseconds the simulation took in this browser.
    pub ms: f64,
}

/// A finished comparison.
#[derive(Debug, Clone, PartialEq)]
struct Compared {
    /// The scenario it was run on (source, overrides, seed).
    key: String,
    /// Memory of the VM.
    memory: u64,
    rows: Vec<Row>,
    busy_ms: f64,
    wall_ms: f64,
    /// Where the simulations ran ("in 2 Web Workers").
    mode: String,
}

/// What identifies the scenario of a comparison (the algorithm is the compared one's).
pub fn scenario_key(share: &ShareState) -> String {
    format!("{:?}|{:?}|{:?}", share.source, share.overrides, share.seed)
}

/// The comparison table as CSV (base units, exact values).
pub fn rows_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "algorithm,family,total_time_s,downtime_s,pages_sent,bytes_sent,duplicate_pages,rounds,network_faults,fault_stall_s,converged,verified,stop_reason,error\n",
    );
    for r in rows {
        let family = algorithms::find(&r.name).map_or("", |a| a.family.as_str());
        match &r.result {
            Ok(p) => out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},\n",
                csv_field(&r.name),
                csv_field(family),
                p.total_time_s,
                p.downtime_s,
                p.pages_sent,
                p.bytes_sent,
                p.duplicate_pages,
                p.rounds,
                p.network_faults,
                p.fault_stall_s,
                p.converged,
                p.verified,
                csv_field(&p.stop_reason)
            )),
            Err(e) => out.push_str(&format!("{},{},,,,,,,,,,,,{}\n", csv_field(&r.name), csv_field(family), csv_field(e))),
        }
    }
    out
}

/// Props of [`CompareView`].
#[derive(Properties, PartialEq)]
pub struct CompareProps {
    /// Current state.
    pub share: ShareState,
    /// Change it.
    pub set_share: Callback<ShareState>,
}

/// The comparison view.
#[component]
pub fn CompareView(props: &CompareProps) -> Html {
    let results = use_state(|| None::<Compared>);
    let progress = use_state(|| None::<Progress>);
    // A running comparison is abandoned when the view closes.
    let generation = use_batch_generation();
    let selected = selection(&props.share);
    let key = scenario_key(&props.share);
    let scenario = props.share.scenario();

    let start = {
        let results = results.clone();
        let progress = progress.clone();
        let generation = generation.clone();
        let share = props.share.clone();
        Callback::from(move |names: Vec<String>| {
            let scenario = match share.scenario() {
                Ok(s) => s,
                Err(_) => return,
            };
            let key = scenario_key(&share);
            let memory = scenario.vm.memory.0;
            let jobs: Vec<(String, SimJob)> = names.iter().map(|name| (name.clone(), SimJob::new(&share, Vec::new(), name))).collect();
            let p = progress.clone();
            let on_progress = Callback::from(move |x: Progress| p.set(Some(x)));
            let (results, p) = (results.clone(), progress.clone());
            let on_done = Callback::from(move |(outcomes, busy_ms, wall_ms): Finished| {
                p.set(None);
                let rows = names.iter().zip(outcomes).map(|(name, (result, ms))| Row { name: name.clone(), result, ms }).collect();
                let mode = worker_pool::mode().describe();
                results.set(Some(Compared { key: key.clone(), memory, rows, busy_ms, wall_ms, mode }));
            });
            worker_pool::run_jobs(&generation, jobs, on_progress, on_done);
        })
    };

    // Run at once when opened from a link that names the comparison, and again whenever the
    // scenario changes under a comparison already shown.
    {
        let start = start.clone();
        let results = results.clone();
        let linked = !props.share.compare.is_empty();
        let selected = selected.clone();
        let valid = scenario.is_ok();
        use_effect_with(key.clone(), move |key| {
            let stale = results.as_ref().is_some_and(|r| &r.key != key);
            if valid && !selected.is_empty() && (stale || (results.is_none() && linked)) {
                start.emit(selected);
            }
        });
    }

    let on_pick = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |names: Vec<String>| set_share.emit(ShareState { compare: names, ..share.clone() }))
    };
    let on_race = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        let selected = selected.clone();
        Callback::from(move |_: MouseEvent| {
            set_share.emit(ShareState { compare: selected.clone(), view: crate::share::View::Race, step: None, ..share.clone() })
        })
    };
    let on_compare = {
        let start = start.clone();
        let selected = selected.clone();
        Callback::from(move |_: MouseEvent| start.emit(selected.clone()))
    };
    let on_stop = {
        let generation = generation.clone();
        let progress = progress.clone();
        Callback::from(move |_: MouseEvent| {
            stop_batch(&generation);
            progress.set(None);
        })
    };
    let on_csv = {
        let results = results.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(r) = results.as_ref() {
                download("livemig-compare.csv", "text/csv", &rows_csv(&r.rows));
            }
        })
    };

    let scenario_line = match &scenario {
        Ok(s) => html! {
            <p class="muted small">{format!("Scenario {} (seed {}): {} VM, {} link. Every algorithm runs on the same scenario and seed.",
                s.name, s.seed, Quantity::Size.show(s.vm.memory.0 as f64), s.link.bandwidth)}</p>
        },
        Err(e) => html! { <p class="error" role="alert" data-testid="compare-error">{format!("Cannot compare: {e}")}</p> },
    };
    let running = progress.as_ref().map(|(done, total, next)| {
        html! {
            <p class="compare-progress" role="status" data-testid="compare-progress">
                <progress max={total.to_string()} value={done.to_string()}></progress>
                {format!(" {done} of {total} done; running {next}…")}
                <button type="button" onclick={on_stop.clone()}>{"Stop"}</button>
            </p>
        }
    });

    let table = results.as_ref().map(|r| {
        let stale = r.key != key;
        let cell = |id: &str, exact: String, shown: String| html! { <td data-col={id.to_string()} data-value={exact}>{shown}</td> };
        let rows = r.rows.iter().map(|row| {
            let info = algorithms::find(&row.name);
            let name_cell = html! {
                <th scope="row" title={info.map_or(String::new(), |i| format!("{}\n{}\nsimulated in {:.0} ms", i.summary, i.paper, row.ms))}
                    data-ms={format!("{:.1}", row.ms)}>
                    <span class="swatch" style={format!("background:{}", css_color(&row.name))}></span>
                    {row.name.clone()}
                    <span class="family">{info.map_or("", |i| i.family.as_str())}</span>
                </th>
            };
            match &row.result {
                Ok(p) => {
                    let verdict = if p.verified {
                        html! { <td data-col="verified" data-value="true" class="ok">{"yes"}</td> }
                    } else {
                        html! { <td data-col="verified" data-value="false" class="bad" title={p.stop_reason.clone()}>
                            {if p.completed { "no" } else { "did not complete" }}<br/><small>{p.stop_reason.clone()}</small></td> }
                    };
                    html! {
                        <tr data-testid={format!("compare-row-{}", row.name)}>
                            { name_cell }
                            { cell("total-time", p.total_time_s.to_string(), Quantity::Duration.show(p.total_time_s)) }
                            { cell("downtime", p.downtime_s.to_string(), Quantity::Duration.show(p.downtime_s)) }
                            { cell("pages-sent", p.pages_sent.to_string(), p.pages_sent.to_string()) }
                            { cell("bytes-sent", p.bytes_sent.to_string(), Quantity::Size.show(p.bytes_sent as f64)) }
                            { cell("duplicate-pages", p.duplicate_pages.to_string(), p.duplicate_pages.to_string()) }
                            { cell("rounds", p.rounds.to_string(), p.rounds.to_string()) }
                            { cell("network-faults", p.network_faults.to_string(), p.network_faults.to_string()) }
                            { cell("fault-stall", p.fault_stall_s.to_string(), Quantity::Duration.show(p.fault_stall_s)) }
                            { verdict }
                        </tr>
                    }
                }
                Err(e) => html! {
                    <tr data-testid={format!("compare-row-{}", row.name)} class="failed">
                        { name_cell }
                        <td colspan="9" class="bad" data-col="error" role="alert">{format!("failed: {e}")}</td>
                    </tr>
                },
            }
        });
        let charts = [Metric::TotalTime, Metric::Downtime, Metric::DataSent, Metric::Faults].map(|m| {
            let bars: Vec<Bar> = r
                .rows
                .iter()
                .map(|row| {
                    let c = color_of(&row.name);
                    Bar { label: row.name.clone(), value: row.result.as_ref().ok().map(|p| m.value(p)), color: (c.0, c.1, c.2) }
                })
                .collect();
            html! { <BarChart metric={m} bars={bars} /> }
        });
        html! {
            <>
                <p class="muted small compare-time">
                    <span data-testid="compare-time" data-ms={format!("{:.1}", r.busy_ms)} data-wall-ms={format!("{:.1}", r.wall_ms)}>
                        {format!("Computed in {:.0} ms", r.wall_ms)}</span>
                    {format!(" ({} algorithms on a {} VM, in the browser {}: {:.0} ms of simulation in all).",
                        r.rows.len(), Quantity::Size.show(r.memory as f64), r.mode, r.busy_ms)}
                    { if stale { html! { <strong class="bad">{" The scenario has changed since: press Compare."}</strong> } } else { html! {} } }
                </p>
                <div class="table-wrap">
                <table class="results compare" data-testid="compare-table">
                    <thead><tr>
                        <th scope="col">{"algorithm"}</th><th scope="col">{"total time"}</th><th scope="col">{"downtime"}</th>
                        <th scope="col">{"pages sent"}</th><th scope="col">{"data sent"}</th><th scope="col">{"duplicates"}</th>
                        <th scope="col">{"rounds"}</th><th scope="col">{"faults"}</th><th scope="col">{"fault stall"}</th><th scope="col">{"verified"}</th>
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                </div>
                <div class="actions">
                    <button type="button" onclick={on_csv} data-testid="compare-csv">{"Download CSV"}</button>
                </div>
                <section class="compare-charts" aria-label="comparison charts">{ for charts }</section>
            </>
        }
    });

    html! {
        <section class="panel compare-view" aria-label="compare algorithms">
            <h2>{"Compare algorithms"}</h2>
            { scenario_line }
            <AlgorithmPicker selected={selected.clone()} on_change={on_pick} />
            <div class="actions">
                <button type="button" class="primary" onclick={on_compare} disabled={selected.is_empty() || scenario.is_err() || progress.is_some()}
                    data-testid="compare-run">{format!("Compare {} algorithms", selected.len())}</button>
                <button type="button" onclick={on_race} disabled={!crate::race::LANES.contains(&selected.len()) || scenario.is_err()}
                    title="Animate 2 to 4 of them side by side on one clock" data-testid="compare-race">{"Race them"}</button>
            </div>
            { for running }
            { for table }
        </section>
    }
}
