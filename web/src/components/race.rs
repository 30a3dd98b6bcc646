//! The race view (`view=race&cmp=a,b`): two to four algorithms migrate the same scenario and
//! seed side by side, on one clock ([`crate::race::Clock`]). Each lane shows its phase caption,
//! both hosts' grids, its live metrics and a timeline marking when its downtime starts and ends
//! and when it finishes. One player (play, pause, step, scrub, speed, and the keyboard) drives
//! every lane; a step goes to the next moment something happens to any racer (a round starts,
//! a downtime starts or ends, a migration finishes: [`crate::race::moments`]), and the caption
//! under the player says what. It works in presentation mode too, and opened from a lesson it
//! shows what the lesson asks to watch for.
//!
//! The racers are simulated one after the other, yielding to the browser between them, so the
//! page says how far it has got; the runs and the clock are kept for the page's life, so that
//! entering or leaving presentation mode (which rebuilds the view) neither simulates again nor
//! moves the clock.

use crate::app::{load_trace, Loaded, BASE_WALL_SECONDS, SPEEDS};
use crate::components::grid::{HostGrid, Swatch};
use crate::keys::{self, KeyCommand, KeyTarget};
use crate::playback::{CellKind, Side};
use crate::race::{moments, moments_at, racers, Clock, Marks, Moment};
use crate::share::{ScenarioSource, ShareState, View};
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use std::cell::{Cell, RefCell};
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

/// The runs of a race and every racer's moments.
#[derive(Debug)]
pub struct Race {
    /// One lane per racer, in the link's order.
    pub lanes: Vec<Lane>,
    /// The moments a step stops at.
    pub moments: Vec<Moment>,
}

/// What decides a race's runs: the scenario part of the link and the racers.
type RaceKey = (ScenarioSource, Vec<String>, Option<u64>, Vec<String>);

fn race_key(share: &ShareState) -> RaceKey {
    (share.source.clone(), share.overrides.clone(), share.seed, racers(&share.compare))
}

thread_local! {
    /// The last race run on this page and its clock: a view rebuilt for the same race (entering
    /// or leaving presentation mode) takes both from here.
    static LAST: RefCell<Option<(RaceKey, Rc<Race>, Clock)>> = const { RefCell::new(None) };
}

fn remembered(key: &RaceKey) -> Option<(Rc<Race>, Clock)> {
    LAST.with(|l| l.borrow().as_ref().filter(|(k, _, _)| k == key).map(|(_, r, c)| (r.clone(), *c)))
}

fn remember(key: RaceKey, race: Rc<Race>, clock: Clock) {
    LAST.with(|l| *l.borrow_mut() = Some((key, race, clock)));
}

fn remember_clock(key: &RaceKey, clock: Clock) {
    LAST.with(|l| {
        if let Some((k, _, c)) = l.borrow_mut().as_mut() {
            if k == key {
                *c = clock;
            }
        }
    });
}

/// Simulates one racer on `scenario` at page detail.
fn run_lane(scenario: &livemig_core::Scenario, algorithm: &str) -> Result<Lane, String> {
    let run = livemig_core::simulate(scenario, Some(algorithm), TraceDetail::Pages).map_err(|e| format!("{algorithm}: {e}"))?;
    let marks = Marks::of(&run.trace);
    let loaded = load_trace(run.trace, false).map_err(|e| format!("{algorithm}: {e}"))?;
    Ok(Lane { algorithm: algorithm.to_string(), loaded, marks })
}

/// Resolves after the browser's next paint: an animation frame (which comes before the paint),
/// then a task (which runs after it).
async fn after_next_paint() {
    let Some(w) = web_sys::window() else { return };
    let frame = js_sys::Promise::new(&mut |resolve, _| {
        let _ = w.request_animation_frame(&resolve);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(frame).await;
    let task = js_sys::Promise::new(&mut |resolve, _| {
        let _ = w.set_timeout_with_callback(&resolve);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(task).await;
}

/// The race's state while it is being run: which racer is running, or the result.
#[derive(Debug, Clone)]
enum Running {
    /// Racer `0` of `1` is being simulated.
    Racer(usize, usize, String),
    /// Done.
    Done(Result<Rc<Race>, String>),
}

/// Props of [`RaceView`].
#[derive(Properties, PartialEq)]
pub struct RaceProps {
    /// The link's state (scenario, seed and `cmp`).
    pub share: ShareState,
    /// Presentation mode.
    #[prop_or_default]
    pub present: bool,
    /// Change the link (the way back to the lesson the race was opened from).
    #[prop_or_default]
    pub set_share: Option<Callback<ShareState>>,
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
    let key = race_key(&props.share);
    let lanes = use_state(|| remembered(&key).map(|(r, _)| Running::Done(Ok(r))));
    let clock = use_state(|| remembered(&key).map_or(Clock::new(0.0, 1.0), |(_, c)| c));
    let clock_ref = use_mut_ref(|| *clock);
    *clock_ref.borrow_mut() = *clock;
    remember_clock(&key, *clock);
    let generation = use_mut_ref(|| Rc::new(Cell::new(0u64)));

    // Simulate when the scenario or the racers change: one racer at a time, yielding to the
    // browser in between (the page shows how far it has got); a newer race abandons this one.
    {
        let lanes = lanes.clone();
        let clock = clock.clone();
        let share = props.share.clone();
        let generation = generation.borrow().clone();
        use_effect_with(key, move |key| {
            if remembered(key).is_none() {
                let my = generation.get() + 1;
                generation.set(my);
                let key = key.clone();
                let names = racers(&share.compare);
                let speed = clock.speed;
                lanes.set(Some(Running::Racer(0, names.len(), names[0].clone())));
                let generation = generation.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let mut done = Vec::new();
                    let result = async {
                        let scenario = share.scenario().map_err(|e| e.to_string())?;
                        for (i, a) in names.iter().enumerate() {
                            lanes.set(Some(Running::Racer(i, names.len(), a.clone())));
                            // Let the browser paint the progress before the next simulation.
                            after_next_paint().await;
                            if generation.get() != my {
                                return Err(String::new());
                            }
                            done.push(run_lane(&scenario, a)?);
                        }
                        Ok(())
                    }
                    .await;
                    if generation.get() != my {
                        return;
                    }
                    match result {
                        Ok(()) => {
                            let traces: Vec<_> = done.iter().map(|l| l.loaded.playback.borrow().trace().clone()).collect();
                            let moments = moments(traces.iter().map(|t| &**t));
                            let duration = done.iter().map(|l| l.loaded.playback.borrow().duration()).fold(0.0, f64::max);
                            let race = Rc::new(Race { lanes: done, moments });
                            let c = Clock::new(duration, speed);
                            remember(key, race.clone(), c);
                            clock.set(c);
                            lanes.set(Some(Running::Done(Ok(race))));
                        }
                        Err(e) => lanes.set(Some(Running::Done(Err(e)))),
                    }
                });
            }
            // Another race, or the view gone: whatever is still running is abandoned.
            move || generation.set(generation.get() + 1)
        });
    }

    let race_now: Option<Rc<Race>> = match lanes.as_ref() {
        Some(Running::Done(Ok(r))) => Some(r.clone()),
        _ => None,
    };
    let act = {
        let clock = clock.clone();
        let clock_ref = clock_ref.clone();
        let race = race_now.clone();
        Callback::from(move |d: Do| {
            let mut c = *clock_ref.borrow();
            match d {
                Do::PlayPause => c.play_pause(),
                Do::Step(f) => c.step(f, race.as_ref().map_or(&[][..], |r| &r.moments)),
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
        use_effect_with((present, race_now.as_ref().map(Rc::as_ptr)), move |&(present, _)| {
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

    let race = match (*lanes).as_ref() {
        None => return html! { <p class="muted" role="status" data-testid="race-wait">{"Running the race…"}</p> },
        Some(Running::Racer(i, n, a)) => {
            return html! { <p class="muted" role="status" data-testid="race-wait">{format!("Running the race: {a} ({} of {n})…", i + 1)}</p> };
        }
        Some(Running::Done(Err(e))) => {
            return html! { <p class="banner error" role="alert" data-testid="race-error">{format!("Cannot race: {e}")}</p> };
        }
        Some(Running::Done(Ok(r))) => r.clone(),
    };
    let c = *clock;
    // Every lane at the clock's time (a lane that has finished stays at its end).
    for l in race.lanes.iter() {
        let mut p = l.loaded.playback.borrow_mut();
        let t = c.now.min(p.duration());
        if p.now() != t {
            p.seek(t);
        }
    }
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
    let names: Vec<&str> = race.lanes.iter().map(|l| l.algorithm.as_str()).collect();
    let here = moments_at(&race.moments, c.now);
    let moment_text = if here.is_empty() || c.now == 0.0 {
        "Every racer starts at 0 s. Step (→) goes to the next moment something happens to any racer.".to_string()
    } else {
        // The moment's own time: after a scrub or while playing, the clock has moved on since.
        let t = here[0].t;
        let what = here.iter().map(|m| m.describe(names.get(m.lane).copied().unwrap_or("?"))).collect::<Vec<_>>().join("; ");
        if t == c.now {
            format!("At {}: {what}.", Quantity::Duration.show(t))
        } else {
            format!("Last at {}: {what}.", Quantity::Duration.show(t))
        }
    };
    let lesson = props.share.lesson.as_deref().and_then(crate::lessons_data::find).filter(|l| !l.watch.is_empty());
    let back = match (lesson, &props.set_share) {
        (Some(l), Some(set)) => {
            let set = set.clone();
            let share = ShareState { view: View::Lessons, lesson: Some(l.id.to_string()), ..props.share.clone() };
            Some(
                html! { <button type="button" class="ctl" data-testid="race-back-to-lesson" onclick={Callback::from(move |_| set.emit(share.clone()))}>{"← Back to the lesson"}</button> },
            )
        }
        _ => None,
    };
    let watch = lesson.map(|l| {
        html! {
            <p class="race-watch" data-testid="race-watch"><strong>{format!("{}: ", l.title)}</strong>{l.watch}{" "}{ for back }</p>
        }
    });
    html! {
        <section class={classes!("race", props.present.then_some("race-present"))} data-testid="race" aria-label="race">
            { for watch }
            { controls(&c, &act) }
            <p class="race-moment small" data-testid="race-moment" aria-live={if c.playing { "off" } else { "polite" }}>{moment_text}</p>
            <div class={classes!("lanes", (race.lanes.len() > 2).then_some("many"))} style={format!("grid-template-columns: repeat({}, minmax(0, 1fr))", race.lanes.len())}>
                { for race.lanes.iter().map(|l| lane(l, &c, props.present)) }
            </div>
            <ul class="legend race-legend" aria-label="legend">
                { for legend_kinds.iter().map(|&k| html! { <li><Swatch kind={k} />{format!("{}: {}", crate::page_marks::mark_name(k), k.label())}</li> }) }
                <li><span class="mark-downtime" aria-hidden="true"></span>{"downtime (VM paused)"}</li>
                <li><span class="mark-finish" aria-hidden="true"></span>{"finished"}</li>
            </ul>
        </section>
    }
}

/// The keys of the race, for the player's help line and presentation mode's bar.
pub const RACE_KEYS: &str =
    "Space play/pause · → ← next/previous moment of any racer (a round starts, a downtime starts or ends, a racer finishes; PgDn PgUp too) · Home/End start/end";

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
            { button("‹ Step", "Step back to the previous moment of any racer (←)", "race-step-back", Do::Step(false)) }
            { button(if c.playing { "❚❚ Pause" } else { "▶ Play" }, "Play / pause (space)", "race-play", Do::PlayPause) }
            { button("Step ›", "Step to the next moment of any racer: a round starts, a downtime starts or ends, a racer finishes (→)", "race-step", Do::Step(true)) }
            { button("End ▶|", "End (End)", "race-end", Do::End) }
            <label class="speed">{"Speed "}
                <select onchange={speed} data-testid="race-speed" aria-label="speed">
                    { for SPEEDS.iter().map(|&s| html! { <option value={s.to_string()} selected={s == c.speed}>{format!("{s}x")}</option> }) }
                </select>
            </label>
            <input type="range" class="scrubber" min="0" max="1000" step="1" value={((frac * 1000.0).round() as i64).to_string()}
                oninput={scrub} aria-label="position in the race" data-testid="race-scrubber" />
            <span class="time" data-testid="race-time" data-value={c.now.to_string()}>{format!("{} / {}", Quantity::Duration.show(c.now), Quantity::Duration.show(c.duration))}</span>
            <span class="muted">{format!("the longest run in {BASE_WALL_SECONDS:.0} s at 1x")}</span>
            <p class="race-keys small muted" data-testid="race-keys">{"Keys: "}{RACE_KEYS}</p>
        </section>
    }
}

/// One lane: name, phase, both grids, timeline, metrics.
fn lane(l: &Lane, c: &Clock, present: bool) -> Html {
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
