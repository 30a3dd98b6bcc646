//! Comparison of algorithms on one scenario: the same scenario and seed run with every chosen
//! algorithm (summary detail), a table of the CLI's metrics, one small bar chart per metric, and
//! a CSV of the table.
//!
//! Runs go to Web Workers, one per core ([`crate::worker_pool`]; on the page's thread, with a
//! yield to the browser between runs, where workers do not work), so the page shows progress and
//! stays responsive; the time from start to the last result and the time spent in the
//! simulator are measured with `performance.now()` and shown. The view's state is a
//! [`Batch`] of [`Compared`] ([`crate::state::batch`], [`crate::state::compare`]).

use crate::batch::{stop_batch, use_batch_generation};
use crate::colors::{color_of, css_color};
use crate::components::algorithm_picker::AlgorithmPicker;
use crate::components::bar_chart::{Bar, BarChart};
use crate::dom::download;
use crate::share::ShareState;
use crate::sim_job::SimJob;
use crate::state::batch::{Batch, BatchAction, Progress};
use crate::state::compare::{rows_csv, scenario_key, selection, Compared, Row};
use crate::sweep_spec::Metric;
use crate::worker_pool::{self, Finished};
use livemig_core::algorithms;
use livemig_core::units::Quantity;
use std::rc::Rc;
use yew::prelude::*;

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
    let state = use_reducer(Batch::<Compared>::default);
    // A running comparison is abandoned when the view closes.
    let generation = use_batch_generation();
    let selected = selection(&props.share);
    let key = scenario_key(&props.share);
    let scenario = props.share.scenario();

    let start = {
        let dispatch = state.dispatcher();
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
            let d = dispatch.clone();
            let on_progress = Callback::from(move |x: Progress| d.dispatch(BatchAction::Progress(x)));
            let d = dispatch.clone();
            let on_done = Callback::from(move |(outcomes, busy_ms, wall_ms): Finished| {
                let rows = names.iter().zip(outcomes).map(|(name, (result, ms))| Row { name: name.clone(), result, ms }).collect();
                let mode = worker_pool::mode().describe();
                d.dispatch(BatchAction::Done(Rc::new(Compared { key: key.clone(), memory, rows, busy_ms, wall_ms, mode })));
            });
            worker_pool::run_jobs(&generation, jobs, on_progress, on_done);
        })
    };

    // Run at once when opened from a link that names the comparison, and again whenever the
    // scenario changes under a comparison already shown.
    {
        let start = start.clone();
        let shown = state.result.clone();
        let linked = !props.share.compare.is_empty();
        let selected = selected.clone();
        let valid = scenario.is_ok();
        use_effect_with(key.clone(), move |key| {
            let stale = shown.as_ref().is_some_and(|r| &r.key != key);
            if valid && !selected.is_empty() && (stale || (shown.is_none() && linked)) {
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
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            stop_batch(&generation);
            dispatch.dispatch(BatchAction::Stop);
        })
    };
    let on_csv = {
        let shown = state.result.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(r) = shown.as_ref() {
                // The view has no status line: a refused download shows only in the console.
                if let Err(e) = download("livemig-compare.csv", "text/csv", &rows_csv(&r.rows)) {
                    gloo::console::warn!(format!("compare CSV: {e}"));
                }
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
    let running = state.progress.as_ref().map(|(done, total, next)| {
        html! {
            <p class="compare-progress" role="status" data-testid="compare-progress">
                <progress max={total.to_string()} value={done.to_string()}></progress>
                {format!(" {done} of {total} done; running {next}…")}
                <button type="button" onclick={on_stop.clone()}>{"Stop"}</button>
            </p>
        }
    });

    let table = state.result.as_ref().map(|r| {
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
                <button type="button" class="primary" onclick={on_compare} disabled={selected.is_empty() || scenario.is_err() || state.running()}
                    data-testid="compare-run">{format!("Compare {} algorithms", selected.len())}</button>
                <button type="button" onclick={on_race} disabled={!crate::race::LANES.contains(&selected.len()) || scenario.is_err()}
                    title="Animate 2 to 4 of them side by side on one clock" data-testid="compare-race">{"Race them"}</button>
            </div>
            { for running }
            { for table }
        </section>
    }
}
