//! The race view (`view=race&cmp=a,b`): two to four algorithms migrate the same scenario and
//! seed side by side, on one clock ([`crate::race::Clock`]). Each lane shows its phase caption,
//! both hosts' grids, its live metrics and a timeline marking when its downtime starts and ends
//! and when it finishes. One player (play, pause, step, scrub, speed, and the keyboard) drives
//! every lane. It works in presentation mode too.

use crate::app::{load_trace, Loaded, BASE_WALL_SECONDS, SPEEDS};
use crate::components::grid::{HostGrid, Swatch};
use crate::components::metrics::{bytes, seconds};
use crate::keys::{self, KeyCommand, KeyTarget};
use crate::playback::{CellKind, Side};
use crate::race::{racers, Clock, Marks};
use crate::share::ShareState;
use livemig_core::trace::TraceDetail;
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// One algorithm in the race.
#[derive(Debug)]
pub struct Lane {
    /// Its name.
    pub algorithm: String,
    /// Its run.
    pub loaded: Rc<Loaded>,
    /// Its timeline marks.
    pub marks: Marks,
}

/// Simulates every racer on the link's scenario.
fn run_lanes(share: &ShareState) -> Result<Rc<Vec<Lane>>, String> {
    let scenario = share.scenario().map_err(|e| e.to_string())?;
    let mut lanes = Vec::new();
    for a in racers(&share.compare) {
        let run = livemig_core::simulate(&scenario, Some(&a), TraceDetail::Pages).map_err(|e| format!("{a}: {e}"))?;
        let marks = Marks::of(&run.trace);
        let loaded = load_trace(run.trace, false).map_err(|e| format!("{a}: {e}"))?;
        lanes.push(Lane { algorithm: a, loaded, marks });
    }
    Ok(Rc::new(lanes))
}

/// Props of [`RaceView`].
#[derive(Properties, PartialEq)]
pub struct RaceProps {
    /// The link's state (scenario, seed and `cmp`).
    pub share: ShareState,
    /// Presentation mode.
    #[prop_or_default]
    pub present: bool,
}

/// What a control or key asks of the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Do {
    PlayPause,
    Step(bool),
    Restart,
    End,
    Scrub(f64),
    Speed(f64),
}

/// The race.
#[component]
pub fn RaceView(props: &RaceProps) -> Html {
    let lanes = use_state(|| None::<Result<Rc<Vec<Lane>>, String>>);
    let clock = use_state(|| Clock::new(0.0, 1.0));
    let clock_ref = use_mut_ref(|| *clock);
    *clock_ref.borrow_mut() = *clock;

    // Simulate when the scenario or the racers change.
    {
        let lanes = lanes.clone();
        let clock = clock.clone();
        let share = props.share.clone();
        let key = (share.source.clone(), share.overrides.clone(), share.seed, racers(&share.compare));
        use_effect_with(key, move |_| {
            let result = run_lanes(&share);
            let duration =
                result.as_ref().ok().map_or(0.0, |l| l.iter().map(|l| l.loaded.playback.borrow().duration()).fold(0.0, f64::max));
            lanes.set(Some(result));
            clock.set(Clock::new(duration, clock.speed));
        });
    }

    let act = {
        let clock = clock.clone();
        let clock_ref = clock_ref.clone();
        Callback::from(move |d: Do| {
            let mut c = *clock_ref.borrow();
            match d {
                Do::PlayPause => c.play_pause(),
                Do::Step(f) => c.step(f),
                Do::Restart => c.scrub(0.0),
                Do::End => {
                    c.playing = false;
                    c.scrub(1.0);
                }
                Do::Scrub(f) => c.scrub(f),
                Do::Speed(s) => c.speed = s,
            }
            *clock_ref.borrow_mut() = c;
            clock.set(c);
        })
    };

    // The animation loop: one clock for every lane.
    {
        let clock = clock.clone();
        let clock_ref = clock_ref.clone();
        use_effect_with(clock.playing, move |&playing| {
            let handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>> = Rc::new(RefCell::new(None));
            fn frame(
                clock: UseStateHandle<Clock>,
                clock_ref: Rc<RefCell<Clock>>,
                handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>>,
                last: Option<f64>,
            ) {
                let h2 = handle.clone();
                let af = gloo::render::request_animation_frame(move |ts| {
                    let mut c = *clock_ref.borrow();
                    if !c.playing {
                        return;
                    }
                    c.tick(last.map_or(0.0, |l| ((ts - l) / 1000.0).clamp(0.0, 0.1)));
                    *clock_ref.borrow_mut() = c;
                    clock.set(c);
                    if c.playing {
                        frame(clock, clock_ref, h2, Some(ts));
                    }
                });
                *handle.borrow_mut() = Some(af);
            }
            if playing {
                frame(clock, clock_ref, handle.clone(), None);
            }
            move || drop(handle.borrow_mut().take())
        });
    }

    // Keyboard: the player's keys drive the race (the app leaves them to this view).
    {
        let act = act.clone();
        let present = props.present;
        use_effect_with(present, move |&present| {
            let doc = gloo::utils::document();
            let options = gloo::events::EventListenerOptions::enable_prevent_default();
            let listener = gloo::events::EventListener::new_with_options(&doc, "keydown", options, move |e| {
                let Some(e) = wasm_bindgen::JsCast::dyn_ref::<web_sys::KeyboardEvent>(e) else { return };
                let target = KeyTarget::of_event(e);
                let modifier = e.ctrl_key() || e.alt_key() || e.meta_key();
                use crate::app::PlayerAction as P;
                let d = match keys::command(&e.key(), e.shift_key(), modifier, target, present) {
                    Some(KeyCommand::Player(P::PlayPause)) => Do::PlayPause,
                    Some(KeyCommand::Player(P::StepEvent(f) | P::StepRound(f))) => Do::Step(f),
                    Some(KeyCommand::Player(P::Restart)) => Do::Restart,
                    Some(KeyCommand::Player(P::End)) => Do::End,
                    _ => return,
                };
                e.prevent_default();
                act.emit(d);
            });
            move || drop(listener)
        });
    }

    let Some(result) = (*lanes).as_ref() else {
        return html! { <p class="muted" data-testid="race-wait">{"Running the race…"}</p> };
    };
    let lanes = match result {
        Ok(l) => l.clone(),
        Err(e) => return html! { <p class="banner error" role="alert" data-testid="race-error">{format!("Cannot race: {e}")}</p> },
    };
    let c = *clock;
    // Every lane at the clock's time (a lane that has finished stays at its end).
    for l in lanes.iter() {
        let mut p = l.loaded.playback.borrow_mut();
        let t = c.now.min(p.duration());
        if p.now() != t {
            p.seek(t);
        }
    }
    let tick = c.now.to_bits();
    let legend_kinds = [
        CellKind::NotSent,
        CellKind::Sent,
        CellKind::Dirty,
        CellKind::InFlight,
        CellKind::Zero,
        CellKind::Compressed,
        CellKind::Delta,
        CellKind::Faulted,
    ];
    html! {
        <section class={classes!("race", props.present.then_some("race-present"))} data-testid="race" aria-label="race">
            { controls(&c, &act) }
            <div class={classes!("lanes", (lanes.len() > 2).then_some("many"))} style={format!("grid-template-columns: repeat({}, minmax(0, 1fr))", lanes.len())}>
                { for lanes.iter().map(|l| lane(l, &c, tick, props.present)) }
            </div>
            <ul class="legend race-legend" aria-label="legend">
                { for legend_kinds.iter().map(|&k| html! { <li><Swatch kind={k} />{format!("{}: {}", crate::page_marks::mark_name(k), k.label())}</li> }) }
                <li><span class="mark-downtime" aria-hidden="true"></span>{"downtime (VM paused)"}</li>
                <li><span class="mark-finish" aria-hidden="true"></span>{"finished"}</li>
            </ul>
        </section>
    }
}

/// The shared player.
fn controls(c: &Clock, act: &Callback<Do>) -> Html {
    let button = |label: &str, title: &str, id: &str, d: Do| {
        let act = act.clone();
        html! { <button class="ctl" title={title.to_string()} aria-label={title.to_string()} data-testid={id.to_string()}
        onclick={Callback::from(move |_| act.emit(d))}>{label.to_string()}</button> }
    };
    let scrub = {
        let act = act.clone();
        Callback::from(move |e: InputEvent| {
            let v: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(Do::Scrub(x / 1000.0));
            }
        })
    };
    let speed = {
        let act = act.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(Do::Speed(x));
            }
        })
    };
    let frac = if c.duration > 0.0 { c.now / c.duration } else { 0.0 };
    html! {
        <section class="controls" aria-label="race controls">
            { button("|◀ Restart", "Restart (Home)", "race-restart", Do::Restart) }
            { button("‹ Step", "Step back (←)", "race-step-back", Do::Step(false)) }
            { button(if c.playing { "❚❚ Pause" } else { "▶ Play" }, "Play / pause (space)", "race-play", Do::PlayPause) }
            { button("Step ›", "Step forward (→)", "race-step", Do::Step(true)) }
            { button("End ▶|", "End (End)", "race-end", Do::End) }
            <label class="speed">{"Speed "}
                <select onchange={speed} data-testid="race-speed" aria-label="speed">
                    { for SPEEDS.iter().map(|&s| html! { <option value={s.to_string()} selected={s == c.speed}>{format!("{s}x")}</option> }) }
                </select>
            </label>
            <input type="range" class="scrubber" min="0" max="1000" step="1" value={((frac * 1000.0).round() as i64).to_string()}
                oninput={scrub} aria-label="position in the race" data-testid="race-scrubber" />
            <span class="time" data-testid="race-time">{format!("{} / {}", seconds(c.now), seconds(c.duration))}</span>
            <span class="muted">{format!("the longest run in {BASE_WALL_SECONDS:.0} s at 1x")}</span>
        </section>
    }
}

/// One lane: name, phase, both grids, timeline, metrics.
fn lane(l: &Lane, c: &Clock, tick: u64, present: bool) -> Html {
    let p = l.loaded.playback.borrow();
    let phase = p.phase();
    let r = p.report();
    let duration = p.duration();
    drop(p);
    let family = livemig_core::algorithms::find(&l.algorithm).map_or("", |a| a.family.as_str());
    let x = |t: f64| if c.duration > 0.0 { (t / c.duration * 1000.0).clamp(0.0, 1000.0) } else { 0.0 };
    let m = l.marks;
    let mut marks_text = Vec::new();
    match (m.downtime_start, m.downtime_end) {
        (Some(a), Some(b)) => marks_text.push(format!("downtime {} to {}", seconds(a), seconds(b))),
        (Some(a), None) => marks_text.push(format!("paused at {}, never resumed", seconds(a))),
        _ => {}
    }
    match m.finish {
        Some(f) => marks_text.push(format!("finished at {}", seconds(f))),
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
                <div><dt>{"elapsed"}</dt><dd data-testid="lane-elapsed" data-value={r.total_time_s.to_string()}>{seconds(r.total_time_s)}</dd></div>
                <div><dt>{"downtime"}</dt><dd data-testid="lane-downtime" data-value={r.downtime_s.to_string()}>{seconds(r.downtime_s)}</dd></div>
                <div><dt>{"data sent"}</dt><dd>{bytes(r.bytes_sent)}</dd></div>
                <div><dt>{"faults"}</dt><dd>{r.network_faults.to_string()}</dd></div>
            </dl>
        </article>
    }
}
