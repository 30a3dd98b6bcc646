//! Charts of the run, drawn with plotters on canvases under the metrics:
//!
//! 1. pages (or bytes) per round, the stop-and-copy round in red (`chart-rounds`);
//! 2. data sent over time with the downtime shaded and a line at the current time
//!    (`chart-cumulative`);
//! 3. dirty rate against transfer rate per round, the pre-copy convergence picture
//!    (`chart-rates`);
//! 4. for pre-copy algorithms, the geometric model's pages per round beside the simulated ones
//!    (`chart-model`).
//!
//! The series come from [`crate::series`] (computed once per run). Charts are immediate-mode:
//! a chart is redrawn only when what it shows changes (the run, the options, its size, the
//! current round, or for chart 2 the current time), and while the animation plays at most
//! about four times a second; a trailing redraw catches the last position. Canvases are sized
//! to CSS size x `devicePixelRatio`, with fonts and strokes scaled to match.

use crate::loaded::Loaded;
use crate::series::{self, ModelView, RoundBar, RoundRate};
use livemig_core::algorithms::Family;
use livemig_core::context::RoundKind;
use livemig_core::units::{self, Quantity};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use yew::prelude::*;

/// Shortest time between two redraws caused by the moving time marker, in milliseconds.
pub const MIN_REDRAW_MS: f64 = 250.0;
/// Points of the data-sent curve drawn at most.
const MAX_POINTS: usize = 1200;
const MIB: f64 = 1024.0 * 1024.0;

const INK: RGBColor = RGBColor(0x0f, 0x17, 0x2a);
const MUTED: RGBColor = RGBColor(0x47, 0x55, 0x69);
const BLUE: RGBColor = RGBColor(0x25, 0x63, 0xeb);
const RED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
const TEAL: RGBColor = RGBColor(0x0e, 0xa5, 0xb5);
const GREEN: RGBColor = RGBColor(0x15, 0x80, 0x3d);
const AMBER: RGBColor = RGBColor(0xd9, 0x77, 0x06);
const PURPLE: RGBColor = RGBColor(0x8b, 0x3f, 0xc9);
const NOW_BAND: RGBColor = RGBColor(0xfe, 0xf3, 0xc7);

/// Props of [`Charts`].
#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Redraw when this changes.
    pub tick: u64,
}

/// What chart 1 measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Pages,
    Bytes,
}

/// Everything the charts show that does not depend on the current time.
struct Data {
    bars: Vec<RoundBar>,
    rates: Vec<RoundRate>,
    /// (seconds, bytes), decimated for drawing.
    cumulative: Vec<(f64, f64)>,
    downtime: Vec<(f64, f64)>,
    duration: f64,
    total_bytes: u64,
    /// For pre-copy algorithms: the model, or why there is none.
    model: Option<Result<ModelView, String>>,
    /// The algorithm's family (none for an algorithm the registry does not know).
    family: Option<Family>,
}

impl Data {
    fn new(l: &Loaded) -> Data {
        let p = l.playback.borrow();
        let trace = p.trace();
        let family = livemig_core::algorithms::find(&trace.algorithm).map(|a| a.family);
        let pre_copy = family == Some(Family::PreCopy);
        Data {
            bars: series::round_bars(&l.report),
            rates: series::round_rates(&l.report),
            cumulative: series::decimate(&series::cumulative_bytes(trace), MAX_POINTS),
            downtime: series::downtime_windows(trace),
            duration: p.duration(),
            total_bytes: l.report.bytes_sent,
            model: pre_copy.then(|| series::model_for(&trace.scenario)),
            family,
        }
    }
}

/// The current moment, as the charts mark it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Now {
    t: f64,
    /// Rounds started so far (the current round's number).
    round: u32,
}

/// What a canvas was last drawn from; it is redrawn when this changes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    run: *const Loaded,
    unit: Unit,
    log: bool,
    width: i32,
    height: i32,
    dpr: f64,
    /// The current round (round charts) or time (the data-sent chart).
    marker: f64,
}

/// Throttling state, shared with the trailing-redraw timer.
#[derive(Default)]
struct DrawState {
    last_ms: f64,
    keys: [Option<Key>; 4],
    pending: Option<gloo::timers::callback::Timeout>,
    pending_active: bool,
    draws: u64,
}

/// What a draw pass needs.
#[derive(Clone)]
struct Pass {
    loaded: Rc<Loaded>,
    data: Rc<Data>,
    canvases: [NodeRef; 4],
    unit: Unit,
    log: bool,
}

/// The `data-testid`s of the chart canvases (the PNG export finds them by these).
pub const CHART_IDS: [&str; 4] = ["chart-rounds", "chart-cumulative", "chart-rates", "chart-model"];

fn dpr() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).clamp(1.0, 4.0)
}

impl Pass {
    fn now(&self) -> Now {
        let p = self.loaded.playback.borrow();
        Now { t: p.now(), round: p.report().rounds }
    }

    fn key(&self, i: usize, now: &Now) -> Option<Key> {
        let c = self.canvases[i].cast::<web_sys::HtmlCanvasElement>()?;
        let (width, height) = (c.client_width(), c.client_height());
        if width < 60 || height < 60 {
            return None;
        }
        let marker = if i == 1 { now.t } else { f64::from(now.round) };
        Some(Key { run: Rc::as_ptr(&self.loaded), unit: self.unit, log: self.log, width, height, dpr: dpr(), marker })
    }

    /// Redraws the charts whose key changed. Changes of the time marker alone are throttled
    /// to one redraw per [`MIN_REDRAW_MS`], with a trailing redraw scheduled; anything else
    /// redraws at once. `force` skips the throttle (the trailing redraw).
    fn maybe_draw(&self, state: &Rc<RefCell<DrawState>>, force: bool) {
        let now = self.now();
        let keys: [Option<Key>; 4] = std::array::from_fn(|i| self.key(i, &now));
        let mut st = state.borrow_mut();
        let changed: Vec<usize> = (0..4).filter(|&i| keys[i].is_some() && keys[i] != st.keys[i]).collect();
        if changed.is_empty() {
            return;
        }
        let only_marker = changed.iter().all(|&i| st.keys[i].is_some_and(|k| Key { marker: k.marker, ..keys[i].unwrap_or(k) } == k));
        let t_ms = js_sys::Date::now();
        if only_marker && !force && t_ms - st.last_ms < MIN_REDRAW_MS {
            if !st.pending_active {
                let weak: Weak<RefCell<DrawState>> = Rc::downgrade(state);
                let pass = self.clone();
                let wait = (MIN_REDRAW_MS - (t_ms - st.last_ms)).clamp(0.0, MIN_REDRAW_MS) as u32;
                st.pending_active = true;
                st.pending = Some(gloo::timers::callback::Timeout::new(wait, move || {
                    if let Some(state) = weak.upgrade() {
                        state.borrow_mut().pending_active = false;
                        pass.maybe_draw(&state, true);
                    }
                }));
            }
            return;
        }
        if st.pending_active {
            st.pending_active = false;
            st.pending = None;
        }
        st.last_ms = t_ms;
        st.draws += 1;
        for &i in &changed {
            st.keys[i] = keys[i];
            if let Some(c) = self.canvases[i].cast::<web_sys::HtmlCanvasElement>() {
                if let Err(e) = self.draw(i, &c, &now) {
                    gloo::console::warn!(format!("{}: could not draw: {e}", CHART_IDS[i]));
                }
                let _ = c.set_attribute("data-draws", &st.draws.to_string());
            }
        }
    }

    fn draw(&self, i: usize, canvas: &web_sys::HtmlCanvasElement, now: &Now) -> Result<(), String> {
        let dpr = dpr();
        let (w, h) = ((f64::from(canvas.client_width()) * dpr).round() as u32, (f64::from(canvas.client_height()) * dpr).round() as u32);
        // Setting the size clears the canvas, which is then drawn whole.
        canvas.set_width(w);
        canvas.set_height(h);
        let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("no 2d context")?;
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let s = Style { dpr };
        let d = &self.data;
        let r = match i {
            0 => draw_rounds(&root, &s, d, self.unit, self.log, now.round),
            1 => draw_cumulative(&root, &s, d, now),
            2 => draw_rates(&root, &s, d, now.round),
            _ => match &d.model {
                Some(Ok(m)) => draw_model(&root, &s, d, m, now.round),
                _ => Ok(()),
            },
        };
        r.map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }
}

type Area = DrawingArea<CanvasBackend, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Sizes in canvas pixels for the device pixel ratio.
struct Style {
    dpr: f64,
}

impl Style {
    fn px(&self, v: f64) -> u32 {
        (v * self.dpr).round().max(1.0) as u32
    }
    fn font(&self, size: f64) -> TextStyle<'static> {
        ("sans-serif", size * self.dpr).into_font().color(&INK)
    }
    fn caption(&self) -> TextStyle<'static> {
        ("sans-serif", 15.0 * self.dpr).into_font().style(FontStyle::Bold).color(&INK)
    }
    fn builder<'a, 'b>(&self, root: &'a Area, title: &str) -> ChartBuilder<'a, 'b, CanvasBackend> {
        let mut b = ChartBuilder::on(root);
        b.caption(title, self.caption())
            .margin(self.px(10.0))
            .margin_right(self.px(16.0))
            .x_label_area_size(self.px(40.0))
            .y_label_area_size(self.px(62.0));
        b
    }
    /// A chart with nothing to show: its title and a sentence.
    fn empty(&self, root: &Area, title: &str, why: &str) -> DrawResult {
        let (w, h) = root.dim_in_pixel();
        let caption = self.caption().pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(title.to_string(), (w as i32 / 2, self.px(10.0) as i32), caption))?;
        let style = self.font(13.0).color(&MUTED).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(why.to_string(), (w as i32 / 2, h as i32 / 2), style))?;
        Ok(())
    }
    fn legend<CT: plotters::coord::CoordTranslate>(
        &self,
        chart: &mut ChartContext<'_, CanvasBackend, CT>,
        pos: SeriesLabelPosition,
    ) -> DrawResult {
        chart
            .configure_series_labels()
            .position(pos)
            .margin(self.px(6.0))
            .legend_area_size(self.px(18.0))
            .label_font(self.font(12.0))
            .background_style(WHITE.mix(0.85))
            .border_style(MUTED.mix(0.6))
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn kind_colour(kind: RoundKind) -> RGBColor {
    match kind {
        RoundKind::Live => BLUE,
        RoundKind::StopAndCopy => RED,
        RoundKind::PostCopy => TEAL,
        RoundKind::Other => MUTED,
    }
}

fn kind_label(kind: RoundKind) -> &'static str {
    match kind {
        RoundKind::Live => "live round",
        RoundKind::StopAndCopy => "stop-and-copy (downtime)",
        RoundKind::PostCopy => "post-copy",
        RoundKind::Other => "other",
    }
}

/// Integer round numbers only.
fn round_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 && *x >= 0.5 {
        format!("{:.0}", x.round())
    } else {
        String::new()
    }
}

/// A log axis from just below the smallest positive value to above the largest.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    // At least three decades, so that the axis is labelled by powers of ten.
    let lo = 10f64.powf(lo.log10().floor().min(hi.log10().floor() - 2.0));
    (lo, hi * 2.0)
}

/// A linear axis from 0 to a little above the largest value (never an empty range).
fn linear_top(values: impl Iterator<Item = f64>) -> f64 {
    let hi = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if hi > 0.0 {
        hi * 1.12
    } else {
        1.0
    }
}

fn draw_rounds(root: &Area, s: &Style, d: &Data, unit: Unit, log: bool, current: u32) -> DrawResult {
    let (title, y_desc) = match unit {
        Unit::Pages => ("Pages sent per round", "pages sent"),
        Unit::Bytes => ("Data sent per round", "data sent (MiB)"),
    };
    if d.bars.is_empty() {
        return s.empty(root, title, "This trace has no rounds.");
    }
    let value = |b: &RoundBar| match unit {
        Unit::Pages => b.pages as f64,
        Unit::Bytes => b.bytes as f64 / MIB,
    };
    let n = d.bars.iter().map(|b| b.round).max().unwrap_or(1).max(1);
    let x = 0.5..f64::from(n) + 0.5;
    // Head room above the bars for their values and the legend.
    if log {
        let (lo, hi) = log_bounds(d.bars.iter().map(value));
        let chart = s.builder(root, title).build_cartesian_2d(x, (lo..hi * 4.0).log_scale())?;
        rounds_body(chart, s, d, &value, y_desc, lo, current)
    } else {
        let top = linear_top(d.bars.iter().map(value)) * 1.25;
        let chart = s.builder(root, title).build_cartesian_2d(x, 0.0..top)?;
        rounds_body(chart, s, d, &value, y_desc, 0.0, current)
    }
}

fn rounds_body<Y>(
    mut chart: ChartContext<CanvasBackend, Cartesian2d<RangedCoordf64, Y>>,
    s: &Style,
    d: &Data,
    value: &dyn Fn(&RoundBar) -> f64,
    y_desc: &str,
    base: f64,
    current: u32,
) -> DrawResult
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let top = chart.y_range().end;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(d.bars.len().min(12) + 1)
        .x_label_formatter(&round_label)
        .y_label_formatter(&|v| units::compact(*v))
        .x_desc("round")
        .y_desc(y_desc)
        .label_style(s.font(12.0))
        .axis_desc_style(s.font(13.0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(MUTED.mix(0.15))
        .draw()?;
    if current > 0 {
        let c = f64::from(current);
        chart.draw_series(std::iter::once(Rectangle::new([(c - 0.5, base), (c + 0.5, top)], NOW_BAND.filled())))?;
    }
    for kind in [RoundKind::Live, RoundKind::StopAndCopy, RoundKind::PostCopy, RoundKind::Other] {
        if !d.bars.iter().any(|b| b.kind == kind) {
            continue;
        }
        let colour = kind_colour(kind);
        let bars = d.bars.iter().filter(move |b| b.kind == kind && value(b) > base).map(move |b| {
            let r = f64::from(b.round);
            Rectangle::new([(r - 0.38, base), (r + 0.38, value(b))], colour.filled())
        });
        let px = s.px(5.0) as i32;
        chart
            .draw_series(bars)?
            .label(kind_label(kind))
            .legend(move |(x, y)| Rectangle::new([(x, y - px), (x + 2 * px, y + px)], colour.filled()));
    }
    // Each bar's value on top of it, while they fit.
    if d.bars.len() <= 14 {
        let style = s.font(11.0).color(&INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(
            // A round that sent nothing says 0 at the axis.
            d.bars.iter().map(|b| Text::new(units::compact(value(b)), (f64::from(b.round), value(b).max(base)), style.clone())),
        )?;
    }
    let n = d.bars.iter().map(|b| b.round).max().unwrap_or(1);
    s.legend(&mut chart, legend_side(d.bars.iter().map(|b| (f64::from(b.round), value(b))), f64::from(n) / 2.0 + 0.5))
}

fn draw_cumulative(root: &Area, s: &Style, d: &Data, now: &Now) -> DrawResult {
    let title = "Data sent over time";
    if d.cumulative.len() < 2 {
        return s.empty(root, title, "No data was sent in this trace.");
    }
    let x_end = d.duration.max(d.cumulative.last().map_or(0.0, |p| p.0)).max(1e-6);
    let top = linear_top(std::iter::once(d.total_bytes as f64 / MIB));
    let mut chart = s.builder(root, title).build_cartesian_2d(0.0..x_end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| units::compact(*v))
        .y_label_formatter(&|v| units::compact(*v))
        .x_desc("time (s)")
        .y_desc("data sent (MiB)")
        .label_style(s.font(12.0))
        .axis_desc_style(s.font(13.0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(MUTED.mix(0.15))
        .draw()?;
    // The downtime, at least a few pixels wide so that a 10 ms pause in a 10 s run shows.
    let (plot_w, _) = chart.plotting_area().dim_in_pixel();
    let min_w = x_end * f64::from(s.px(4.0)) / f64::from(plot_w.max(1));
    let px = s.px(5.0) as i32;
    if !d.downtime.is_empty() {
        let bands = d.downtime.iter().map(|&(a, b)| Rectangle::new([(a, 0.0), (b.max(a + min_w), top)], RED.mix(0.28).filled()));
        chart
            .draw_series(bands)?
            .label("downtime (VM paused)")
            .legend(move |(x, y)| Rectangle::new([(x, y - px), (x + 2 * px, y + px)], RED.mix(0.28).filled()));
        let (a, b) = d.downtime[0];
        let right_half = a > x_end / 2.0;
        let style = s.font(12.0).color(&RED).pos(Pos::new(if right_half { HPos::Right } else { HPos::Left }, VPos::Top));
        let gap = min_w * 1.5;
        let at = if right_half { a - gap } else { b.max(a + min_w) + gap };
        // Below the legend (upper left) when the downtime comes early.
        let y = if a < x_end * 0.4 { top * 0.7 } else { top * 0.97 };
        chart.draw_series(std::iter::once(Text::new(format!("downtime {}", Quantity::Duration.show(b - a)), (at, y), style)))?;
    }
    let stroke = s.px(2.0);
    chart
        .draw_series(
            AreaSeries::new(d.cumulative.iter().map(|&(t, b)| (t, b / MIB)), 0.0, BLUE.mix(0.12)).border_style(BLUE.stroke_width(stroke)),
        )?
        .label("data sent")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 2 * px, y)], BLUE.stroke_width(stroke)));
    // The current time.
    let t = now.t.clamp(0.0, x_end);
    let y = series::value_at(&d.cumulative, t) / MIB;
    chart.draw_series(std::iter::once(PathElement::new([(t, 0.0), (t, top)], INK.stroke_width(s.px(1.5)))))?;
    chart.draw_series(std::iter::once(Circle::new((t, y), s.px(4.0), INK.filled())))?;
    let right_half = t > x_end * 0.6;
    let style = s.font(12.0).color(&INK).pos(Pos::new(if right_half { HPos::Right } else { HPos::Left }, VPos::Bottom));
    let dx = x_end * 0.012;
    let label = format!("now {} · {} MiB", Quantity::Duration.show(now.t), units::compact(y));
    // At the foot of the line: the curve rises from lower left to upper right, the legend and
    // the downtime label sit at the top.
    chart.draw_series(std::iter::once(Text::new(label, (if right_half { t - dx } else { t + dx }, top * 0.03), style)))?;
    s.legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn draw_rates(root: &Area, s: &Style, d: &Data, current: u32) -> DrawResult {
    let title = "Dirty rate vs transfer rate per round";
    if d.rates.is_empty() {
        return s.empty(root, title, "No round lasted long enough to have a rate.");
    }
    let n = d.bars.iter().map(|b| b.round).chain(d.rates.iter().map(|r| r.round)).max().unwrap_or(1).max(1);
    // Head room above the lines for the legend.
    let top = linear_top(d.rates.iter().flat_map(|r| [r.dirty_per_s, r.sent_per_s])) * 1.3;
    let mut chart = s.builder(root, title).build_cartesian_2d(0.5..f64::from(n) + 0.5, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(d.bars.len().min(12) + 1)
        .x_label_formatter(&round_label)
        .y_label_formatter(&|v| units::compact(*v))
        .x_desc("round")
        .y_desc("pages per second")
        .label_style(s.font(12.0))
        .axis_desc_style(s.font(13.0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(MUTED.mix(0.15))
        .draw()?;
    if current > 0 {
        let c = f64::from(current);
        chart.draw_series(std::iter::once(Rectangle::new([(c - 0.5, 0.0), (c + 0.5, top)], NOW_BAND.filled())))?;
    }
    // Rounds run with the VM paused (stop-and-copy) dirty nothing and their time is mostly the
    // CPU state and the resume: they get a red band and markers but no line.
    for r in d.bars.iter().filter(|b| b.kind == RoundKind::StopAndCopy) {
        let c = f64::from(r.round);
        chart.draw_series(std::iter::once(Rectangle::new([(c - 0.5, 0.0), (c + 0.5, top)], RED.mix(0.1).filled())))?;
    }
    // Lines join consecutive rounds, never through a stop-and-copy round.
    let mut runs: Vec<Vec<&RoundRate>> = Vec::new();
    for r in d.rates.iter().filter(|r| r.kind != RoundKind::StopAndCopy) {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|p| p.round + 1 == r.round) => run.push(r),
            _ => runs.push(vec![r]),
        }
    }
    let (stroke, dot, px) = (s.px(2.0), s.px(4.0), s.px(5.0) as i32);
    for (label, colour, get) in [
        ("transfer rate (pages sent / s)", GREEN, (|r: &RoundRate| r.sent_per_s) as fn(&RoundRate) -> f64),
        ("dirty rate (pages dirty at round end / s)", AMBER, |r: &RoundRate| r.dirty_per_s),
    ] {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), u32>>())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 2 * px, y)], colour.stroke_width(stroke)));
        for run in runs.iter().filter(|run| run.len() > 1) {
            chart.draw_series(LineSeries::new(run.iter().map(|r| (f64::from(r.round), get(r))), colour.stroke_width(stroke)))?;
        }
        chart.draw_series(d.rates.iter().map(|r| Circle::new((f64::from(r.round), get(r)), dot, colour.filled())))?;
    }
    let side = legend_side(d.rates.iter().map(|r| (f64::from(r.round), r.sent_per_s.max(r.dirty_per_s))), f64::from(n) / 2.0 + 0.5);
    s.legend(&mut chart, side)
}

/// The upper corner over the lower half of the data (x above or below `mid`).
fn legend_side(points: impl Iterator<Item = (f64, f64)>, mid: f64) -> SeriesLabelPosition {
    let (mut left, mut right) = (0.0f64, 0.0f64);
    for (x, y) in points.filter(|p| p.1.is_finite()) {
        if x > mid {
            right = right.max(y);
        } else {
            left = left.max(y);
        }
    }
    if right > left {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    }
}

fn draw_model(root: &Area, s: &Style, d: &Data, m: &ModelView, current: u32) -> DrawResult {
    let title = "Pages per round: model vs simulated";
    let model: Vec<(f64, f64)> = m.prediction.per_round_pages.iter().enumerate().map(|(i, &v)| (i as f64 + 1.0, v)).collect();
    let sim: Vec<(f64, f64)> = d.bars.iter().map(|b| (f64::from(b.round), b.pages as f64)).collect();
    if model.is_empty() && sim.is_empty() {
        return s.empty(root, title, "Nothing to compare.");
    }
    let n = model.len().max(d.bars.iter().map(|b| b.round as usize).max().unwrap_or(0)).max(1);
    let (lo, hi) = log_bounds(model.iter().chain(&sim).map(|p| p.1));
    let mut chart = s.builder(root, title).build_cartesian_2d(0.5..n as f64 + 0.5, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(12) + 1)
        .x_label_formatter(&round_label)
        .y_label_formatter(&|v| units::compact(*v))
        .x_desc("round")
        .y_desc("pages sent (log scale)")
        .label_style(s.font(12.0))
        .axis_desc_style(s.font(13.0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(MUTED.mix(0.15))
        .draw()?;
    if current > 0 {
        let c = f64::from(current);
        chart.draw_series(std::iter::once(Rectangle::new([(c - 0.5, lo), (c + 0.5, hi)], NOW_BAND.filled())))?;
    }
    let (stroke, dot, px) = (s.px(2.0), s.px(4.0), s.px(5.0) as i32);
    let positive = |v: &&(f64, f64)| v.1 > 0.0 && v.1.is_finite();
    let model_pts: Vec<(f64, f64)> = model.iter().filter(positive).copied().collect();
    let sim_pts: Vec<(f64, f64)> = sim.iter().filter(positive).copied().collect();
    chart
        .draw_series(DashedLineSeries::new(model_pts.iter().copied(), s.px(6.0), s.px(4.0), PURPLE.stroke_width(stroke)))?
        .label("model")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 2 * px, y)], PURPLE.stroke_width(stroke)));
    chart.draw_series(model_pts.iter().map(|&p| TriangleMarker::new(p, dot + 1, PURPLE.filled())))?;
    chart
        .draw_series(LineSeries::new(sim_pts.iter().copied(), BLUE.stroke_width(stroke)))?
        .label("simulated")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 2 * px, y)], BLUE.stroke_width(stroke)));
    chart.draw_series(sim_pts.iter().map(|&p| Circle::new(p, dot, BLUE.filled())))?;
    s.legend(&mut chart, legend_side(model.iter().chain(&sim).copied(), n as f64 / 2.0 + 0.5))
}

/// A few words of a per-round series for screen readers.
fn describe(values: impl Iterator<Item = (u32, String)>) -> String {
    let mut parts: Vec<String> = values.take(12).map(|(r, v)| format!("round {r}: {v}")).collect();
    if parts.len() == 12 {
        parts.push("…".into());
    }
    parts.join(", ")
}

/// The charts.
#[component]
pub fn Charts(props: &ChartsProps) -> Html {
    let data = use_memo(props.loaded.clone(), |l| Data::new(l));
    let unit = use_state(|| Unit::Pages);
    let log = use_state(|| true);
    let canvases: [NodeRef; 4] = [use_node_ref(), use_node_ref(), use_node_ref(), use_node_ref()];
    let state = use_mut_ref(DrawState::default);
    let rerender = use_force_update();

    // Re-render when the window changes size: the canvases follow the layout, and the size is
    // part of each chart's key.
    use_effect_with((), move |_| {
        let listener = web_sys::window().map(|w| gloo::events::EventListener::new(&w, "resize", move |_| rerender.force_update()));
        move || drop(listener)
    });
    // After every render: redraw what changed (cheap when nothing did).
    {
        let pass = Pass { loaded: props.loaded.clone(), data: data.clone(), canvases: canvases.clone(), unit: *unit, log: *log };
        use_effect(move || pass.maybe_draw(&state, false));
    }

    let set_unit = |u: Unit| {
        let unit = unit.clone();
        Callback::from(move |_| unit.set(u))
    };
    let toggle_log = {
        let log = log.clone();
        Callback::from(move |_| log.set(!*log))
    };
    let d = &*data;
    let rounds_label = format!(
        "Bar chart of {} per round. {}",
        if *unit == Unit::Pages { "pages sent" } else { "data sent" },
        describe(d.bars.iter().map(|b| {
            let v = if *unit == Unit::Pages { b.pages.to_string() } else { Quantity::Size.show(b.bytes as f64) };
            (b.round, format!("{v} ({})", series::kind_name(b.kind)))
        }))
    );
    let cumulative_label = format!(
        "Line chart of data sent over time: {} in {}.{}",
        Quantity::Size.show(d.total_bytes as f64),
        Quantity::Duration.show(d.duration),
        d.downtime.first().map_or(String::new(), |w| format!(
            " Downtime from {} to {}.",
            Quantity::Duration.show(w.0),
            Quantity::Duration.show(w.1)
        ))
    );
    let rates_label = format!(
        "Dirty rate and transfer rate per round, pages per second. {}",
        describe(d.rates.iter().map(|r| (r.round, format!("dirty {:.0}, sent {:.0}", r.dirty_per_s, r.sent_per_s))))
    );
    let model = d.model.as_ref().map(|m| match m {
        Ok(m) => {
            let sim_pages: u64 = d.bars.iter().map(|b| b.pages).sum();
            let label = format!(
                "Pages per round predicted by the geometric model and simulated. Model: {}. Simulated: {}.",
                describe(m.prediction.per_round_pages.iter().enumerate().map(|(i, v)| (i as u32 + 1, format!("{v:.0}")))),
                describe(d.bars.iter().map(|b| (b.round, b.pages.to_string())))
            );
            html! {
                <figure class="chart">
                    <canvas ref={canvases[3].clone()} data-testid="chart-model" role="img" aria-label={label} />
                    <figcaption class="chart-note" data-testid="chart-model-note">
                        {format!(
                            "Geometric model with Xen's stop rules (as `livemig model`): λ = dirty rate / transfer rate = {:.3}; it predicts {} rounds and {:.0} pages, the simulation sent {} pages in {} rounds. ",
                            m.lambda, m.prediction.rounds, m.prediction.total_pages, sim_pages, d.bars.len()
                        )}
                        {"The model assumes every write dirties a new page; workloads that rewrite the same pages dirty fewer."}
                    </figcaption>
                </figure>
            }
        }
        Err(e) => html! {
            <figure class="chart">
                <p class="chart-note" data-testid="chart-model-error">{format!("The geometric model cannot be set up for this scenario: {e}")}</p>
            </figure>
        },
    });
    let pressed = |u: Unit| (*unit == u).to_string();
    let (rounds_note, rates_note) = if d.family == Some(Family::PreCopy) {
        (
            "One bar per round. Pre-copy resends what the guest dirtied during the previous round, so the bars shrink when it converges; the red bar is the stop-and-copy round, sent while the VM is paused.",
            "While the dirty rate stays below the transfer rate, each round has less to send than the last and pre-copy converges; if it catches up, rounds stop shrinking. The red band is the stop-and-copy round: the VM is paused, nothing is dirtied.",
        )
    } else {
        (
            "One bar per round. The red bar is the stop-and-copy round, sent while the VM is paused; post-copy rounds (teal) run with the VM on the destination, where pages are pushed or fetched on demand and each is sent once.",
            "Pages dirty at a round's end and pages sent, per second of the round. Once the VM runs on the destination nothing is left dirty on the source, so only the transfer rate remains.",
        )
    };

    html! {
        <section class="charts" aria-label="charts" data-testid="charts">
            <figure class="chart">
                <div class="chart-tools" role="group" aria-label="rounds chart options">
                    <button type="button" class={classes!("chart-chip", (*unit == Unit::Pages).then_some("on"))} aria-pressed={pressed(Unit::Pages)}
                        data-testid="chart-rounds-pages" onclick={set_unit(Unit::Pages)}>{"pages"}</button>
                    <button type="button" class={classes!("chart-chip", (*unit == Unit::Bytes).then_some("on"))} aria-pressed={pressed(Unit::Bytes)}
                        data-testid="chart-rounds-bytes" onclick={set_unit(Unit::Bytes)}>{"bytes"}</button>
                    <label class="chart-check"><input type="checkbox" checked={*log} onchange={toggle_log} data-testid="chart-rounds-log" />{" log scale"}</label>
                </div>
                <canvas ref={canvases[0].clone()} data-testid="chart-rounds" role="img" aria-label={rounds_label} />
                <figcaption class="chart-note">{rounds_note}</figcaption>
            </figure>
            <figure class="chart">
                <canvas ref={canvases[1].clone()} data-testid="chart-cumulative" role="img" aria-label={cumulative_label} />
                <figcaption class="chart-note">{"Bytes that have left the source (pages, headers, CPU state), spread over each send. The red band is the downtime; the black line is now."}</figcaption>
            </figure>
            <figure class="chart">
                <canvas ref={canvases[2].clone()} data-testid="chart-rates" role="img" aria-label={rates_label} />
                <figcaption class="chart-note">{rates_note}</figcaption>
            </figure>
            { for model }
        </section>
    }
}
