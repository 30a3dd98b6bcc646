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
//! moves the clock. The view's state is [`RaceState`], changed only by [`crate::race::reduce`];
//! the player is [`RaceControls`] and each lane a [`RaceLane`].

use crate::components::race_controls::RaceControls;
use crate::components::race_lane::RaceLane;
use crate::components::swatch::Swatch;
use crate::hooks::use_animation_loop;
use crate::keys::{self, KeyCommand, KeyTarget};
use crate::playback::CellKind;
use crate::race::{moments_at, racers, reduce, Clock, Lane, Race, RaceAction, RaceState, Running};
use crate::share::{ScenarioSource, ShareState, View};
use crate::state::player::PlayerAction;
use livemig_core::units::Quantity;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use yew::prelude::*;

/// The race's state held by `use_reducer`: [`crate::race::reduce`], and no redraw when nothing changed.
impl Reducible for RaceState {
    type Action = RaceAction;

    fn reduce(self: Rc<Self>, action: RaceAction) -> Rc<Self> {
        let next = reduce(&self, action);
        if next == *self {
            self
        } else {
            Rc::new(next)
        }
    }
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

/// The race.
#[component]
pub fn RaceView(props: &RaceProps) -> Html {
    let key = race_key(&props.share);
    let state = use_reducer({
        let key = key.clone();
        move || RaceState::new(remembered(&key))
    });
    remember_clock(&key, state.clock);
    let generation = use_mut_ref(|| Rc::new(Cell::new(0u64)));

    // Simulate when the scenario or the racers change: one racer at a time, yielding to the
    // browser in between (the page shows how far it has got); a newer race abandons this one.
    {
        let dispatch = state.dispatcher();
        let speed = state.clock.speed;
        let share = props.share.clone();
        let generation = generation.borrow().clone();
        use_effect_with(key, move |key| {
            if remembered(key).is_none() {
                let my = generation.get() + 1;
                generation.set(my);
                let key = key.clone();
                let names = racers(&share.compare);
                dispatch.dispatch(RaceAction::Racing(0, names.len(), names[0].clone()));
                let generation = generation.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let mut done = Vec::new();
                    let result = async {
                        let scenario = share.scenario().map_err(|e| e.to_string())?;
                        for (i, a) in names.iter().enumerate() {
                            dispatch.dispatch(RaceAction::Racing(i, names.len(), a.clone()));
                            // Let the browser paint the progress before the next simulation.
                            after_next_paint().await;
                            if generation.get() != my {
                                return Err(String::new());
                            }
                            done.push(Lane::run(&scenario, a)?);
                        }
                        Ok(())
                    }
                    .await;
                    if generation.get() != my {
                        return;
                    }
                    let result = result.map(|()| {
                        let race = Rc::new(Race::new(done));
                        remember(key, race.clone(), Clock::new(race.duration(), speed));
                        race
                    });
                    dispatch.dispatch(RaceAction::Finished(result));
                });
            }
            // Another race, or the view gone: whatever is still running is abandoned.
            move || generation.set(generation.get() + 1)
        });
    }

    let act = state.dispatcher().to_callback();

    // The animation loop: one clock for every lane, one `Frame` action per animation frame
    // while it plays.
    {
        let dispatch = state.dispatcher();
        let on_frame = Callback::from(move |wall: f64| dispatch.dispatch(RaceAction::Frame(wall)));
        use_animation_loop(state.clock.playing, (), on_frame);
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
                use PlayerAction as P;
                let d = match keys::command(&e.key(), e.shift_key(), modifier, target, present) {
                    Some(KeyCommand::Player(P::PlayPause)) => RaceAction::PlayPause,
                    Some(KeyCommand::Player(P::StepEvent(f) | P::StepRound(f))) => RaceAction::Step(f),
                    Some(KeyCommand::Player(P::Restart)) => RaceAction::Restart,
                    Some(KeyCommand::Player(P::End)) => RaceAction::End,
                    _ => return,
                };
                e.prevent_default();
                act.emit(d);
            });
            move || drop(listener)
        });
    }

    let race = match state.running.as_ref() {
        None => return html! { <p class="muted" role="status" data-testid="race-wait">{"Running the race…"}</p> },
        Some(Running::Racer(i, n, a)) => {
            return html! { <p class="muted" role="status" data-testid="race-wait">{format!("Running the race: {a} ({} of {n})…", i + 1)}</p> };
        }
        Some(Running::Done(Err(e))) => {
            return html! { <p class="banner error" role="alert" data-testid="race-error">{format!("Cannot race: {e}")}</p> };
        }
        Some(Running::Done(Ok(r))) => r.clone(),
    };
    let c = state.clock;
    // Every lane's page states at the clock's time (a lane that has finished stays at its end).
    for l in race.lanes.iter() {
        l.loaded.show(state.lane_cursor(l));
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
            <RaceControls clock={c} act={act.clone()} />
            <p class="race-moment small" data-testid="race-moment" aria-live={if c.playing { "off" } else { "polite" }}>{moment_text}</p>
            <div class={classes!("lanes", (race.lanes.len() > 2).then_some("many"))} style={format!("grid-template-columns: repeat({}, minmax(0, 1fr))", race.lanes.len())}>
                { for (0..race.lanes.len()).map(|i| html! { <RaceLane race={race.clone()} index={i} clock={c} present={props.present} /> }) }
            </div>
            <ul class="legend race-legend" aria-label="legend">
                { for legend_kinds.iter().map(|&k| html! { <li><Swatch kind={k} />{format!("{}: {}", crate::page_marks::mark_name(k), k.label())}</li> }) }
                <li><span class="mark-downtime" aria-hidden="true"></span>{"downtime (VM paused)"}</li>
                <li><span class="mark-finish" aria-hidden="true"></span>{"finished"}</li>
            </ul>
        </section>
    }
}
