//! The sweep's plot: one metric against the varied number, one line per algorithm, drawn with
//! plotters on a canvas (a logarithmic axis for a logarithmic sweep).

use crate::colors::color_of;
use crate::dom::fit_canvas;
use crate::sweep_spec::{sweepable_paths, Metric, SweepSpec};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use yew::prelude::*;

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
        .x_label_formatter(&|v| {
            let s = format!("{v:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .y_label_formatter(&|v| {
            let s = format!("{v:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
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
