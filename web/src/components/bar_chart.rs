//! A small horizontal bar chart of one metric, one bar per algorithm (the compare view's charts).

use crate::dom::fit_canvas;
use crate::sweep_spec::Metric;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use yew::prelude::*;

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
        .x_label_formatter(&|v| {
            let s = format!("{v:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        })
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
                let text = if x >= 100.0 || x == x.round() { format!("{x:.0}") } else { format!("{x:.2}") };
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
