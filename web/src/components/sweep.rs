//! A sweep: one number of the scenario varied over a range, every value run with every chosen
//! algorithm, one metric plotted as a line per algorithm, and a table.
//!
//! The description (`path=from..to:steps`, see [`crate::sweep_spec`]) goes into the link
//! (`sweep=`), so a sweep can be handed out like a run. Invalid input is shown under the field
//! at fault with the accepted form; values the core rejects are reported with the core's message.

use crate::components::compare::{
    color_of, css_color, download, fit_canvas, scenario_key, selection_or, stop_batch, use_batch_generation, AlgorithmPicker, Progress,
    SWEEP_DEFAULT_SELECTION,
};
use crate::share::ShareState;
use crate::sim_job::SimJob;
use crate::sweep_spec::{csv_field, quantity_of, split_loosely, sweepable_paths, Metric, SweepError, SweepSpec, MAX_STEPS};
use crate::worker_pool::{self, Finished};
use livemig_core::Report;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use yew::prelude::*;

/// The sweep shown when the link names none.
pub const DEFAULT_SWEEP: &str = "link.bandwidth=100Mbit/s..10Gbit/s:8";

/// The form's fields, as typed.
#[derive(Debug, Clone, PartialEq)]
struct Form {
    path: String,
    from: String,
    to: String,
    steps: String,
    /// "auto", "lin" or "log".
    spacing: String,
    metric: Metric,
}

impl Form {
    fn of(spec: &SweepSpec) -> Form {
        Form {
            path: spec.path.clone(),
            from: spec.from_text.clone(),
            to: spec.to_text.clone(),
            steps: spec.steps.to_string(),
            spacing: if spec.log == spec.quantity.log_by_default() {
                "auto".into()
            } else if spec.log {
                "log".into()
            } else {
                "lin".into()
            },
            metric: spec.metric,
        }
    }

    /// The form of a link's sweep that does not parse, as far as it can be read.
    fn loosely(text: &str) -> Form {
        let (path, from, to, steps, options) = split_loosely(text);
        let mut f = Form { path, from, to, steps, spacing: "auto".into(), metric: Metric::TotalTime };
        for o in options {
            match o.as_str() {
                "log" | "lin" => f.spacing = o,
                _ => {
                    if let Some(m) = o.strip_prefix("metric=").and_then(Metric::from_name) {
                        f.metric = m;
                    }
                }
            }
        }
        f
    }

    fn text(&self) -> String {
        let mut t = format!("{}={}..{}:{}", self.path.trim(), self.from.trim(), self.to.trim(), self.steps.trim());
        if self.spacing == "lin" || self.spacing == "log" {
            t.push(';');
            t.push_str(&self.spacing);
        }
        if self.metric != Metric::TotalTime {
            t.push_str(&format!(";metric={}", self.metric.name()));
        }
        t
    }
}

/// A finished sweep.
#[derive(Debug, Clone, PartialEq)]
struct Swept {
    spec: SweepSpec,
    key: String,
    values: Vec<f64>,
    algorithms: Vec<String>,
    /// `cells[value][algorithm]`.
    cells: Vec<Vec<Result<Report, String>>>,
    busy_ms: f64,
    wall_ms: f64,
    /// Where the simulations ran ("in 2 Web Workers").
    mode: String,
}

/// One line of the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Algorithm.
    pub name: String,
    /// `(x, y)` in base units; `None` where the run failed.
    pub points: Vec<(f64, Option<f64>)>,
}

/// Props of [`SweepChart`].
#[derive(Properties, PartialEq)]
pub struct SweepChartProps {
    /// The sweep (axis, spacing).
    pub spec: SweepSpec,
    /// The metric plotted.
    pub metric: Metric,
    /// One line per algorithm.
    pub series: Vec<Series>,
}

const CHART_HEIGHT: u32 = 380;

fn draw_lines<X>(root: &DrawingArea<CanvasBackend, Shift>, x: X, props: &SweepChartProps, dpr: f64) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let px = |v: f64| (v * dpr).round() as u32;
    let font = |size: f64| ("sans-serif", size * dpr);
    let spec = &props.spec;
    let max_x = spec.from.abs().max(spec.to.abs());
    let (xdiv, xunit) = spec.quantity.measure().scale(max_x);
    let ymax = props.series.iter().flat_map(|s| s.points.iter().filter_map(|p| p.1)).fold(0.0, f64::max);
    let (ydiv, yunit) = props.metric.quantity().scale(ymax);
    let ytop = if ymax > 0.0 { ymax / ydiv * 1.1 } else { 1.0 };
    let path_label = sweepable_paths(&[])
        .into_iter()
        .find(|(p, _)| *p == spec.path)
        .map_or_else(|| spec.path.rsplit('.').next().unwrap_or(&spec.path).replace('_', " "), |(_, l)| l);
    let xdesc = if xunit.is_empty() { format!("{path_label} ({})", spec.path) } else { format!("{path_label}, {xunit} ({})", spec.path) };
    let ydesc = if yunit.is_empty() { props.metric.label().to_string() } else { format!("{} ({yunit})", props.metric.label()) };
    let y: RangedCoordf64 = (0.0..ytop).into();
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{} against {}", props.metric.label(), path_label), font(15.0))
        .margin(px(10.0))
        .x_label_area_size(px(40.0))
        .y_label_area_size(px(58.0))
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(xdesc)
        .y_desc(ydesc)
        .x_label_style(font(11.0))
        .y_label_style(font(11.0))
        .axis_desc_style(font(12.0))
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| livemig_core::units::significant(*v))
        .y_label_formatter(&|v| livemig_core::units::significant(*v))
        .light_line_style(RGBColor(235, 238, 242))
        .draw()
        .map_err(|e| e.to_string())?;
    for s in &props.series {
        let color = color_of(&s.name);
        let pts: Vec<(f64, f64)> = s.points.iter().filter_map(|&(x, y)| y.map(|y| (x / xdiv, y / ydiv))).collect();
        let line = ShapeStyle::from(&color).stroke_width(px(2.0).max(1));
        chart
            .draw_series(LineSeries::new(pts.clone(), line))
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], line));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, px(3.0), color.filled()))).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(203, 213, 225))
        .label_font(font(11.0))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Round tick positions for a log axis from `a` to `b` (display units):
/// 1, 2, 5 times powers of ten, or every digit when that gives too few.
fn log_ticks(a: f64, b: f64) -> Vec<f64> {
    let pick = |mantissas: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        let mut k = a.log10().floor() as i32 - 1;
        while 10f64.powi(k) <= b * 10.0 && k < 40 {
            for m in mantissas {
                let v = m * 10f64.powi(k);
                if v >= a * (1.0 - 1e-9) && v <= b * (1.0 + 1e-9) {
                    out.push(v);
                }
            }
            k += 1;
        }
        out
    };
    let ticks = pick(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 4 {
        ticks
    } else {
        pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// The sweep's plot: one line per algorithm.
#[component]
pub fn SweepChart(props: &SweepChartProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let key = (props.spec.clone(), props.metric, props.series.clone());
        let props_spec = props.spec.clone();
        let metric = props.metric;
        let series = props.series.clone();
        use_effect_with(key, move |_| {
            let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() else { return };
            let dpr = fit_canvas(&c, CHART_HEIGHT);
            let Some(backend) = CanvasBackend::with_canvas_object(c) else { return };
            let root = backend.into_drawing_area();
            let p = SweepChartProps { spec: props_spec.clone(), metric, series };
            // The x axis is drawn in display units (GiB, Gbit/s, ms), so that its ticks are round.
            let (div, _) = p.spec.quantity.measure().scale(p.spec.from.abs().max(p.spec.to.abs()));
            let lo = p.spec.from.min(p.spec.to) / div;
            let hi = p.spec.from.max(p.spec.to) / div;
            let drawn = root.fill(&WHITE).map_err(|e| e.to_string()).and_then(|_| {
                if p.spec.log {
                    draw_lines(&root, (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)), &p, dpr)
                } else {
                    draw_lines(&root, lo..hi, &p, dpr)
                }
            });
            if let Err(e) = drawn.and_then(|_| root.present().map_err(|e| e.to_string())) {
                gloo::console::warn!(format!("sweep chart: {e}"));
            }
        });
    }
    html! {
        <figure class="sweep-chart">
            <canvas ref={canvas} style={format!("width:100%;height:{CHART_HEIGHT}px")} role="img" data-testid="sweep-chart"
                aria-label={format!("line chart of {} against {}, one line per algorithm", props.metric.label(), props.spec.path)}></canvas>
        </figure>
    }
}

fn sweep_csv(s: &Swept) -> String {
    let mut out = format!(
        "{},algorithm,total_time_s,downtime_s,bytes_sent,network_faults,pages_sent,fault_stall_s,verified,error\n",
        csv_field(&s.spec.path)
    );
    for (v, row) in s.values.iter().zip(&s.cells) {
        for (alg, cell) in s.algorithms.iter().zip(row) {
            match cell {
                Ok(r) => out.push_str(&format!(
                    "{v},{},{},{},{},{},{},{},{},\n",
                    csv_field(alg),
                    r.total_time_s,
                    r.downtime_s,
                    r.bytes_sent,
                    r.network_faults,
                    r.pages_sent,
                    r.fault_stall_s,
                    r.verified
                )),
                Err(e) => out.push_str(&format!("{v},{},,,,,,,,{}\n", csv_field(alg), csv_field(e))),
            }
        }
    }
    out
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
    let linked = props.share.sweep.as_deref().map(SweepSpec::parse);
    let form = {
        let linked = linked.clone();
        let raw = props.share.sweep.clone().unwrap_or_default();
        use_state(move || match linked {
            Some(Ok(spec)) => Form::of(&spec),
            Some(Err(_)) => Form::loosely(&raw),
            None => Form::of(&SweepSpec::parse(DEFAULT_SWEEP).expect("the default sweep parses")),
        })
    };
    let error = {
        let linked = linked.clone();
        use_state(move || match linked {
            Some(Err(e)) => {
                Some(SweepError { field: e.field, message: format!("{} (in the link's sweep; the form is {})", e.message, FORM_HINT) })
            }
            _ => None,
        })
    };
    let results = use_state(|| None::<Swept>);
    let progress = use_state(|| None::<Progress>);
    let generation = use_batch_generation();
    let algorithms = selection_or(&props.share, &SWEEP_DEFAULT_SELECTION);
    let key = scenario_key(&props.share);
    let scenario = props.share.scenario();

    // Check the form, store it in the link and run every value with every algorithm.
    let start = {
        let results = results.clone();
        let progress = progress.clone();
        let error = error.clone();
        let generation = generation.clone();
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |(f, algorithms, store): (Form, Vec<String>, bool)| {
            let base = match share.scenario() {
                Ok(s) => s,
                Err(e) => {
                    error.set(Some(SweepError { field: "sweep", message: format!("the scenario is invalid: {e}") }));
                    return;
                }
            };
            let checked = SweepSpec::parse(&f.text()).and_then(|spec| spec.scenarios(&base).map(|sc| (spec, sc)));
            let (spec, scenarios) = match checked {
                Ok(x) => x,
                Err(e) => {
                    error.set(Some(e));
                    return;
                }
            };
            error.set(None);
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
            let p = progress.clone();
            let on_progress = Callback::from(move |x: Progress| p.set(Some(x)));
            let (results, p) = (results.clone(), progress.clone());
            let key = scenario_key(&share);
            let n = algorithms.len();
            let on_done = Callback::from(move |(outcomes, busy_ms, wall_ms): Finished| {
                p.set(None);
                let flat: Vec<Result<Report, String>> = outcomes.into_iter().map(|(r, _)| r).collect();
                let cells = flat.chunks(n.max(1)).map(<[_]>::to_vec).collect();
                results.set(Some(Swept {
                    spec: spec.clone(),
                    key: key.clone(),
                    values: values.clone(),
                    algorithms: algorithms.clone(),
                    cells,
                    busy_ms,
                    wall_ms,
                    mode: worker_pool::mode().describe(),
                }));
            });
            worker_pool::run_jobs(&generation, jobs, on_progress, on_done);
        })
    };

    // Run at once when opened from a link with a sweep, and again when the scenario changes
    // under a sweep already shown.
    {
        let start = start.clone();
        let results = results.clone();
        let form = form.clone();
        let algorithms = algorithms.clone();
        let from_link = matches!(linked, Some(Ok(_)));
        let valid = scenario.is_ok();
        use_effect_with(key.clone(), move |key| {
            let stale = results.as_ref().is_some_and(|r| &r.key != key);
            if valid && !algorithms.is_empty() && (stale || (results.is_none() && from_link)) {
                start.emit(((*form).clone(), algorithms, false));
            }
        });
    }

    let edit = |apply: fn(&mut Form, String)| {
        let form = form.clone();
        Callback::from(move |e: InputEvent| {
            let i: web_sys::HtmlInputElement = e.target_unchecked_into();
            let mut f = (*form).clone();
            apply(&mut f, i.value());
            form.set(f);
        })
    };
    let choose = |apply: fn(&mut Form, String)| {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let mut f = (*form).clone();
            apply(&mut f, s.value());
            form.set(f);
        })
    };
    let on_path = {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let path = s.value();
            let mut f = (*form).clone();
            // Suggest a range in the new field's units.
            let (from, to) = match path.as_str() {
                "link.bandwidth" => ("100Mbit/s", "10Gbit/s"),
                "link.latency" => ("0.1ms", "50ms"),
                "workload.write_rate" => ("1000pages/s", "60000pages/s"),
                "workload.read_rate" => ("1000pages/s", "100000pages/s"),
                "workload.working_set" => ("64MiB", "512MiB"),
                "workload.hot_fraction" | "workload.hot_probability" => ("0.1", "0.9"),
                "vm.memory" => ("512MiB", "4GiB"),
                "vm.state_size" => ("1MiB", "256MiB"),
                "vm.resume_overhead" => ("1ms", "100ms"),
                "migration.timeout" => ("10s", "600s"),
                _ => ("", ""),
            };
            if !from.is_empty() {
                f.from = from.into();
                f.to = to.into();
            } else if let Ok(q) = quantity_of(&path) {
                use crate::sweep_spec::Quantity as Q;
                let (a, b) = match q {
                    Q::Duration => ("10ms", "1s"),
                    Q::Bandwidth => ("100Mbit/s", "10Gbit/s"),
                    Q::Size { .. } => ("16MiB", "1GiB"),
                    Q::Integer => ("1", "16"),
                    Q::Number | Q::Rate => ("0.1", "1"),
                };
                f.from = a.into();
                f.to = b.into();
            }
            f.spacing = "auto".into();
            f.path = path;
            form.set(f);
        })
    };
    let on_metric = {
        let form = form.clone();
        let results = results.clone();
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let Some(m) = Metric::from_name(&s.value()) else { return };
            let mut f = (*form).clone();
            f.metric = m;
            form.set(f);
            // The runs are kept: a new metric only redraws, and the link follows.
            if let Some(r) = results.as_ref() {
                let mut spec = r.spec.clone();
                spec.metric = m;
                let mut next = (*r).clone();
                next.spec = spec.clone();
                results.set(Some(next));
                set_share.emit(ShareState { sweep: Some(spec.to_string()), ..share.clone() });
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
        let form = form.clone();
        let algorithms = algorithms.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            start.emit(((*form).clone(), algorithms.clone(), true));
        })
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
                download("livemig-sweep.csv", "text/csv", &sweep_csv(r));
            }
        })
    };

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
                <button type="submit" class="primary" disabled={algorithms.is_empty() || scenario.is_err() || progress.is_some()} data-testid="sweep-run">
                    {"Run sweep"}</button>
            </div>
            <p class="muted small sweep-spec">{"As text (the link's "}<code>{"sweep="}</code>{"): "}<code data-testid="sweep-text">{form.text()}</code></p>
        </form>
    };

    let running = progress.as_ref().map(|(done, total, next)| {
        html! {
            <p class="compare-progress" role="status" data-testid="sweep-progress">
                <progress max={total.to_string()} value={done.to_string()}></progress>
                {format!(" {done} of {total} runs done; running {next}…")}
                <button type="button" onclick={on_stop.clone()}>{"Stop"}</button>
            </p>
        }
    });

    let shown = results.as_ref().map(|r| {
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

/// The form, for messages about a link's sweep.
const FORM_HINT: &str = crate::sweep_spec::FORM;
