//! A sweep: one number of the scenario varied over a range, every value run with every chosen
//! algorithm, one metric plotted as a line per algorithm, and a table.
//!
//! The description (`path=from..to:steps`, see [`crate::sweep_spec`]) goes into the link
//! (`sweep=`), so a sweep can be handed out like a run. Invalid input is shown under the field
//! at fault with the accepted form; values the core rejects are reported with the core's message.

use crate::batch::{stop_batch, use_batch_generation};
use crate::colors::css_color;
use crate::components::algorithm_picker::AlgorithmPicker;
use crate::components::sweep_chart::{Series, SweepChart};
use crate::dom::download;
use crate::share::ShareState;
use crate::sim_job::SimJob;
use crate::state::batch::{BatchAction, Progress};
use crate::state::compare::{scenario_key, selection_or, SWEEP_DEFAULT_SELECTION};
use crate::state::sweep::{reduce, sweep_csv, Form, SweepAction, SweepState, Swept};
use crate::sweep_spec::{quantity_of, sweepable_paths, Metric, SweepError, SweepSpec, MAX_STEPS};
use crate::worker_pool::{self, Finished};
use livemig_core::Report;
use std::rc::Rc;
use yew::prelude::*;

/// The sweep's state held by `use_reducer`: [`crate::state::sweep::reduce`].
impl Reducible for SweepState {
    type Action = SweepAction;

    fn reduce(self: Rc<Self>, action: SweepAction) -> Rc<Self> {
        Rc::new(reduce(&self, action))
    }
}

/// Props of [`SweepView`].
#[derive(Properties, PartialEq)]
pub struct SweepProps {
    /// Current state.
    pub share: ShareState,
    /// Change it.
    pub set_share: Callback<ShareState>,
}

/// The sweep view.
#[component]
pub fn SweepView(props: &SweepProps) -> Html {
    let state = {
        let sweep = props.share.sweep.clone();
        use_reducer(move || SweepState::from_link(sweep.as_deref()))
    };
    let from_link = props.share.sweep.as_deref().is_some_and(|t| SweepSpec::parse(t).is_ok());
    let generation = use_batch_generation();
    let algorithms = selection_or(&props.share, &SWEEP_DEFAULT_SELECTION);
    let key = scenario_key(&props.share);
    let scenario = props.share.scenario();

    // Check the form, store it in the link and run every value with every algorithm.
    let start = {
        let dispatch = state.dispatcher();
        let generation = generation.clone();
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |(f, algorithms, store): (Form, Vec<String>, bool)| {
            let base = match share.scenario() {
                Ok(s) => s,
                Err(e) => {
                    dispatch
                        .dispatch(SweepAction::Invalid(SweepError { field: "sweep", message: format!("the scenario is invalid: {e}") }));
                    return;
                }
            };
            let checked = SweepSpec::parse(&f.text()).and_then(|spec| spec.scenarios(&base).map(|sc| (spec, sc)));
            let (spec, scenarios) = match checked {
                Ok(x) => x,
                Err(e) => {
                    dispatch.dispatch(SweepAction::Invalid(e));
                    return;
                }
            };
            dispatch.dispatch(SweepAction::Start);
            if store && share.sweep.as_deref() != Some(spec.to_string().as_str()) {
                set_share.emit(ShareState { sweep: Some(spec.to_string()), ..share.clone() });
            }
            // (The scenarios were built above to check every value; each job builds its own
            // the same way, in its worker.)
            let mut jobs: Vec<(String, SimJob)> = Vec::new();
            for (v, _) in &scenarios {
                for alg in &algorithms {
                    jobs.push((format!("{alg} at {}", spec.show(*v)), SimJob::new(&share, vec![spec.override_for(*v)], alg)));
                }
            }
            let values: Vec<f64> = scenarios.iter().map(|(v, _)| *v).collect();
            let d = dispatch.clone();
            let on_progress = Callback::from(move |x: Progress| d.dispatch(SweepAction::Batch(BatchAction::Progress(x))));
            let d = dispatch.clone();
            let key = scenario_key(&share);
            let n = algorithms.len();
            let on_done = Callback::from(move |(outcomes, busy_ms, wall_ms): Finished| {
                let flat: Vec<Result<Report, String>> = outcomes.into_iter().map(|(r, _)| r).collect();
                let cells = flat.chunks(n.max(1)).map(<[_]>::to_vec).collect();
                d.dispatch(SweepAction::Batch(BatchAction::Done(Rc::new(Swept {
                    spec: spec.clone(),
                    key: key.clone(),
                    values: values.clone(),
                    algorithms: algorithms.clone(),
                    cells,
                    busy_ms,
                    wall_ms,
                    mode: worker_pool::mode().describe(),
                }))));
            });
            worker_pool::run_jobs(&generation, jobs, on_progress, on_done);
        })
    };

    // Run at once when opened from a link with a sweep, and again when the scenario changes
    // under a sweep already shown.
    {
        let start = start.clone();
        let shown = state.batch.result.clone();
        let form = state.form.clone();
        let algorithms = algorithms.clone();
        let valid = scenario.is_ok();
        use_effect_with(key.clone(), move |key| {
            let stale = shown.as_ref().is_some_and(|r| &r.key != key);
            if valid && !algorithms.is_empty() && (stale || (shown.is_none() && from_link)) {
                start.emit((form, algorithms, false));
            }
        });
    }

    let edit = |apply: fn(&mut Form, String)| {
        let dispatch = state.dispatcher();
        Callback::from(move |e: InputEvent| {
            let i: web_sys::HtmlInputElement = e.target_unchecked_into();
            dispatch.dispatch(SweepAction::Edit(apply, i.value()));
        })
    };
    let choose = |apply: fn(&mut Form, String)| {
        let dispatch = state.dispatcher();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            dispatch.dispatch(SweepAction::Edit(apply, s.value()));
        })
    };
    let on_path = {
        let dispatch = state.dispatcher();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            dispatch.dispatch(SweepAction::Path(s.value()));
        })
    };
    let on_metric = {
        let state = state.clone();
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let Some(m) = Metric::from_name(&s.value()) else { return };
            // The runs are kept: a new metric only redraws, and the link follows.
            let linked = state.batch.result.as_ref().map(|r| SweepSpec { metric: m, ..r.spec.clone() }.to_string());
            state.dispatch(SweepAction::Metric(m));
            if let Some(sweep) = linked {
                set_share.emit(ShareState { sweep: Some(sweep), ..share.clone() });
            }
        })
    };
    let on_pick = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |names: Vec<String>| set_share.emit(ShareState { compare: names, ..share.clone() }))
    };
    let on_submit = {
        let start = start.clone();
        let state = state.clone();
        let algorithms = algorithms.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            start.emit((state.form.clone(), algorithms.clone(), true));
        })
    };
    let on_stop = {
        let generation = generation.clone();
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            stop_batch(&generation);
            dispatch.dispatch(SweepAction::Batch(BatchAction::Stop));
        })
    };
    let on_csv = {
        let shown = state.batch.result.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(r) = shown.as_ref() {
                // The view has no status line: a refused download shows only in the console.
                if let Err(e) = download("livemig-sweep.csv", "text/csv", &sweep_csv(r)) {
                    gloo::console::warn!(format!("sweep CSV: {e}"));
                }
            }
        })
    };
    let form = &state.form;
    let error = &state.error;

    let err_for = |field: &str| -> Html {
        match error.as_ref() {
            Some(e) if e.field == field => {
                html! { <small class="error" role="alert" data-testid={format!("sweep-error-{field}")}>{format!("{field}: {}", e.message)}</small> }
            }
            _ => html! {},
        }
    };
    let invalid = |field: &str| error.as_ref().is_some_and(|e| e.field == field);
    let general_error = error.as_ref().filter(|e| matches!(e.field, "sweep" | "range" | "option")).map(|e| {
        html! { <p class="error" role="alert" data-testid="sweep-error">{format!("{}: {}", e.field, e.message)}</p> }
    });
    let quantity_hint = quantity_of(form.path.trim()).map(|q| q.accepted().to_string()).unwrap_or_default();
    let mut paths = sweepable_paths(&algorithms);
    if !paths.iter().any(|(p, _)| *p == form.path) {
        paths.push((form.path.clone(), form.path.clone()));
    }

    let form_html = html! {
        <form class="sweep-form" onsubmit={on_submit} aria-label="sweep" novalidate=true>
            <div class={classes!("field", "wide", invalid("path").then_some("invalid"))}>
                <label for="sweep-path">{"Vary"}</label>
                <select id="sweep-path" onchange={on_path} data-testid="sweep-path">
                    { for paths.iter().map(|(p, l)| html! { <option value={p.clone()} selected={*p == form.path}>{format!("{p}: {l}")}</option> }) }
                </select>
                { err_for("path") }
            </div>
            <div class={classes!("field", invalid("from").then_some("invalid"))}>
                <label for="sweep-from">{"from"}</label>
                <input id="sweep-from" type="text" value={form.from.clone()} oninput={edit(|f, v| f.from = v)} data-testid="sweep-from"
                    aria-invalid={invalid("from").to_string()} />
                <small class="hint">{quantity_hint.clone()}</small>
                { err_for("from") }
            </div>
            <div class={classes!("field", invalid("to").then_some("invalid"))}>
                <label for="sweep-to">{"to"}</label>
                <input id="sweep-to" type="text" value={form.to.clone()} oninput={edit(|f, v| f.to = v)} data-testid="sweep-to"
                    aria-invalid={invalid("to").to_string()} />
                <small class="hint">{"a bare number takes to's unit"}</small>
                { err_for("to") }
            </div>
            <div class={classes!("field", invalid("steps").then_some("invalid"))}>
                <label for="sweep-steps">{"values"}</label>
                <input id="sweep-steps" type="number" min="2" max={MAX_STEPS.to_string()} value={form.steps.clone()}
                    oninput={edit(|f, v| f.steps = v)} data-testid="sweep-steps" aria-invalid={invalid("steps").to_string()} />
                <small class="hint">{format!("2 to {MAX_STEPS}")}</small>
                { err_for("steps") }
            </div>
            <div class="field">
                <label for="sweep-spacing">{"spacing"}</label>
                <select id="sweep-spacing" title="auto: logarithmic for a bandwidth, linear otherwise" onchange={choose(|f, v| f.spacing = v)} data-testid="sweep-spacing">
                    { for [("auto", "auto"), ("lin", "linear"), ("log", "logarithmic")].iter().map(|(v, l)| html! {
                        <option value={*v} selected={form.spacing == *v}>{*l}</option> }) }
                </select>
            </div>
            <div class={classes!("field", invalid("metric").then_some("invalid"))}>
                <label for="sweep-metric">{"plot"}</label>
                <select id="sweep-metric" onchange={on_metric} data-testid="sweep-metric">
                    { for Metric::ALL.iter().map(|m| html! { <option value={m.name()} selected={form.metric == *m}>{m.label()}</option> }) }
                </select>
                { err_for("metric") }
            </div>
            <div class="field sweep-go">
                <button type="submit" class="primary" disabled={algorithms.is_empty() || scenario.is_err() || state.batch.running()} data-testid="sweep-run">
                    {"Run sweep"}</button>
            </div>
            <p class="muted small sweep-spec">{"As text (the link's "}<code>{"sweep="}</code>{"): "}<code data-testid="sweep-text">{form.text()}</code></p>
        </form>
    };

    let running = state.batch.progress.as_ref().map(|(done, total, next)| {
        html! {
            <p class="compare-progress" role="status" data-testid="sweep-progress">
                <progress max={total.to_string()} value={done.to_string()}></progress>
                {format!(" {done} of {total} runs done; running {next}…")}
                <button type="button" onclick={on_stop.clone()}>{"Stop"}</button>
            </p>
        }
    });

    let shown = state.batch.result.as_ref().map(|r| {
        let metric = r.spec.metric;
        let series: Vec<_> = r
            .algorithms
            .iter()
            .enumerate()
            .map(|(j, name)| Series {
                name: name.clone(),
                points: r.values.iter().zip(&r.cells).map(|(v, row)| (*v, row[j].as_ref().ok().map(|rep| metric.value(rep)))).collect(),
            })
            .collect();
        let ymax = series.iter().flat_map(|s| s.points.iter().filter_map(|p| p.1)).fold(0.0, f64::max);
        let (ydiv, yunit) = metric.quantity().scale(ymax);
        let stale = r.key != key;
        let rows = r.values.iter().zip(&r.cells).map(|(v, row)| {
            html! {
                <tr>
                    <th scope="row" data-value={v.to_string()}>{r.spec.show(*v)}</th>
                    { for row.iter().map(|cell| match cell {
                        Ok(rep) => {
                            let x = metric.value(rep) / ydiv;
                            let text = livemig_core::units::significant(x);
                            if rep.verified {
                                html! { <td data-value={metric.value(rep).to_string()}>{text}</td> }
                            } else {
                                html! { <td class="bad" data-value={metric.value(rep).to_string()} title={format!("not verified: {}", rep.stop_reason)}>{format!("{text} ✗")}</td> }
                            }
                        }
                        Err(e) => html! { <td class="bad" title={e.clone()}>{"failed"}</td> },
                    }) }
                </tr>
            }
        });
        let first_error = r.cells.iter().flatten().find_map(|c| c.as_ref().err()).map(|e| html! { <p class="error small">{format!("A run failed: {e}")}</p> });
        html! {
            <>
                <p class="muted small">
                    <span data-testid="sweep-time" data-ms={format!("{:.1}", r.busy_ms)} data-wall-ms={format!("{:.1}", r.wall_ms)}>
                        {format!("{} runs computed in {:.0} ms", r.values.len() * r.algorithms.len(), r.wall_ms)}</span>
                    {format!(" ({}: {:.0} ms of simulation in all).", r.mode, r.busy_ms)}
                    { if stale { html! { <strong class="bad">{" The scenario has changed since: press Run sweep."}</strong> } } else { html! {} } }
                </p>
                <SweepChart spec={r.spec.clone()} metric={metric} series={series} />
                { for first_error }
                <div class="table-wrap">
                <table class="results sweep" data-testid="sweep-table">
                    <caption class="small muted">{format!("{}{} ; ✗ = did not verify", metric.label(), if yunit.is_empty() { String::new() } else { format!(" ({yunit})") })}</caption>
                    <thead><tr>
                        <th scope="col">{r.spec.path.clone()}</th>
                        { for r.algorithms.iter().map(|a| html! { <th scope="col"><span class="swatch" style={format!("background:{}", css_color(a))}></span>{a.clone()}</th> }) }
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                </div>
                <div class="actions"><button type="button" onclick={on_csv} data-testid="sweep-csv">{"Download CSV"}</button></div>
            </>
        }
    });

    html! {
        <section class="panel sweep-view" aria-label="sweep a parameter">
            <h2>{"Sweep a parameter"}</h2>
            <p class="muted small">{"Vary one number of the scenario and run every value with every chosen algorithm, on the same seed. Bandwidth is spaced logarithmically by default."}</p>
            { if let Err(e) = &scenario { html! { <p class="error" role="alert">{format!("Cannot sweep: {e}")}</p> } } else { html! {} } }
            { form_html }
            { for general_error }
            <AlgorithmPicker selected={algorithms.clone()} on_change={on_pick} />
            { for running }
            { for shown }
        </section>
    }
}
