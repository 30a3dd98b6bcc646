//! One lane of a race: the racer's name and family, its phase caption, both hosts' grids, a
//! timeline marking its downtime and finish against the race's clock, and its live metrics.
//! The lane's page states are at the clock's time when it is drawn (the race view sees to it).

use crate::components::grid::HostGrid;
use crate::playback::Side;
use crate::race::{Clock, Race};
use livemig_core::units::Quantity;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`RaceLane`].
#[derive(Properties, PartialEq)]
pub struct RaceLaneProps {
    /// The race.
    pub race: Rc<Race>,
    /// Which lane.
    pub index: usize,
    /// The race's clock.
    pub clock: Clock,
    /// Presentation mode (larger cells).
    pub present: bool,
}

/// One lane: name, phase, both grids, timeline, metrics.
#[component]
pub fn RaceLane(props: &RaceLaneProps) -> Html {
    let Some(l) = props.race.lanes.get(props.index) else { return html! {} };
    let (c, present) = (&props.clock, props.present);
    let p = l.loaded.playback.borrow();
    // The lane's own time: once it has finished its grids no longer change, nor repaint.
    let tick = p.now().to_bits();
    let phase = p.phase();
    let r = p.report();
    let duration = p.duration();
    drop(p);
    let family = livemig_core::algorithms::find(&l.algorithm).map_or("", |a| a.family.as_str());
    let x = |t: f64| if c.duration > 0.0 { (t / c.duration * 1000.0).clamp(0.0, 1000.0) } else { 0.0 };
    let m = l.marks;
    let mut marks_text = Vec::new();
    match (m.downtime_start, m.downtime_end) {
        (Some(a), Some(b)) => marks_text.push(format!("downtime {} to {}", Quantity::Duration.show(a), Quantity::Duration.show(b))),
        (Some(a), None) => marks_text.push(format!("paused at {}, never resumed", Quantity::Duration.show(a))),
        _ => {}
    }
    match m.finish {
        Some(f) => marks_text.push(format!("finished at {}", Quantity::Duration.show(f))),
        None => marks_text.push("did not finish".into()),
    }
    let finished = m.finish.is_some_and(|f| c.now >= f);
    html! {
        <article class="lane" data-testid={format!("lane-{}", l.algorithm)}>
            <h2>{l.algorithm.clone()}{" "}<span class="lane-family">{family}</span>
                { for finished.then(|| html! { <span class="lane-done" data-testid="lane-finished">{"finished"}</span> }) }</h2>
            <p class="lane-phase"><strong data-testid="lane-phase">{phase.title}</strong>{" "}{phase.caption}</p>
            <div class="lane-hosts">
                <HostGrid loaded={l.loaded.clone()} side={Side::Source} tick={tick} present={present} legend={false} />
                <HostGrid loaded={l.loaded.clone()} side={Side::Destination} tick={tick} present={present} legend={false} />
            </div>
            <svg class="timeline" viewBox="0 0 1000 20" preserveAspectRatio="none" role="img" aria-label={marks_text.join(", ")} data-testid="lane-timeline">
                <rect x="0" y="7" width={format!("{:.1}", x(duration))} height="6" fill="#cbd5e1" />
                { for m.finish.map(|f| html! { <rect x={format!("{:.1}", (x(f) - 3.0).max(0.0))} y="0" width="6" height="20" fill="#0f172a" /> }) }
                { for m.downtime_start.map(|a| {
                    let b = m.downtime_end.or(m.finish).unwrap_or(a);
                    html! { <rect x={format!("{:.1}", x(a))} y="2" width={format!("{:.1}", (x(b) - x(a)).max(4.0))} height="16" fill="#d55e00" /> }
                }) }
                <rect x={format!("{:.1}", (x(c.now) - 1.5).max(0.0))} y="0" width="3" height="20" fill="#0072b2" />
            </svg>
            <p class="lane-marks small">{marks_text.join(", ")}</p>
            <dl class="lane-metrics">
                <div><dt>{"elapsed"}</dt><dd data-testid="lane-elapsed" data-value={r.total_time_s.to_string()}>{Quantity::Duration.show(r.total_time_s)}</dd></div>
                <div><dt>{"downtime"}</dt><dd data-testid="lane-downtime" data-value={r.downtime_s.to_string()}>{Quantity::Duration.show(r.downtime_s)}</dd></div>
                <div><dt>{"data sent"}</dt><dd>{Quantity::Size.show(r.bytes_sent as f64)}</dd></div>
                <div><dt>{"faults"}</dt><dd>{r.network_faults.to_string()}</dd></div>
            </dl>
        </article>
    }
}
