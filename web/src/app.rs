//! The playground's top-level component: reads the link, runs the simulation, owns the player.
//!
//! Data flow: the URL (or the form, a preset, a lesson) gives a [`ShareState`]; its scenario is
//! simulated by the core at page detail; the trace goes into a [`Playback`] that the animation
//! loop advances. Every component draws from the playback at the current `tick`; the URL is kept
//! in step so that copying it shares the run.

use crate::components::assignments::{AssignmentsView, Session};
use crate::components::presentation::PresentView;
use crate::components::race::RaceView;
use crate::components::{
    charts::Charts, compare::CompareView, controls::Controls, export::ExportBar, grid::HostGrid, lessons::LessonsView,
};
use crate::components::{link::LinkView, metrics::Metrics, scenario_form::ScenarioForm, sweep::SweepView};
use crate::keys::{self, KeyCommand, KeyTarget};
use crate::playback::{Playback, Side};
use crate::share::{ShareState, View};
use livemig_core::trace::{Trace, TraceDetail};
use livemig_core::Scenario;
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// A simulated (or opened) run ready to play.
#[derive(Debug)]
pub struct Loaded {
    /// The scenario that was run.
    pub scenario: Scenario,
    /// The player (shared with the components that draw from it).
    pub playback: RefCell<Playback>,
    /// The whole run's report (the CLI's numbers).
    pub report: livemig_core::Report,
    /// Whether the run came from a trace file rather than the simulator.
    pub from_file: bool,
    /// The page states behind the source's and the destination's grid cells as last drawn
    /// ([`crate::playback::CellCache`]): kept with the run, so that a grid drawn anew for the
    /// same run (entering presentation mode) counts only the cells that changed.
    pub cells: [RefCell<crate::playback::CellCache>; 2],
}

impl PartialEq for Loaded {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Runs the scenario in the simulator and prepares it for playing.
pub fn simulate(scenario: &Scenario) -> Result<Rc<Loaded>, String> {
    let run = livemig_core::simulate(scenario, None, TraceDetail::Pages).map_err(|e| e.to_string())?;
    load_trace(run.trace, false)
}

/// Prepares a trace (simulated or from a file) for playing.
pub fn load_trace(trace: Trace, from_file: bool) -> Result<Rc<Loaded>, String> {
    let report = livemig_core::Report::from_trace(&trace);
    let scenario = trace.scenario.clone();
    let playback = Playback::new(Rc::new(trace)).map_err(|e| e.to_string())?;
    Ok(Rc::new(Loaded { scenario, playback: RefCell::new(playback), report, from_file, cells: Default::default() }))
}

/// Animation speeds offered: multiples of the base pace (a whole run in about 20 s).
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Wall seconds a whole run takes at speed 1.
pub const BASE_WALL_SECONDS: f64 = 20.0;

fn location_query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

fn replace_url(query: &str) {
    if let Some(w) = web_sys::window() {
        if let Ok(h) = w.history() {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(query));
        }
    }
}

fn prefers_reduced_motion() -> bool {
    web_sys::window().and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten()).is_some_and(|m| m.matches())
}

/// What the player is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerStatus {
    /// Playing (not paused).
    pub playing: bool,
    /// Speed multiplier.
    pub speed: f64,
    /// Increases whenever the picture changes.
    pub tick: u64,
}

/// A request from the controls or the keyboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayerAction {
    /// Toggle play/pause.
    PlayPause,
    /// One event forward/back.
    StepEvent(bool),
    /// One round forward/back.
    StepRound(bool),
    /// Back to the start.
    Restart,
    /// Go to a fraction (0..=1) of the run.
    ScrubTo(f64),
    /// Set the speed multiplier.
    Speed(f64),
    /// Go to the end.
    End,
}

/// The playground.
#[component]
pub fn App() -> Html {
    // The link decides the first state; a bad link shows a message and falls back to the default.
    // A bad `view` or `present` falls back alone, keeping the rest of the link.
    let initial = use_memo((), |_| match ShareState::from_query_lenient(&location_query()) {
        Ok((s, soft)) if soft.is_empty() => (s, None),
        Ok((s, soft)) => {
            let each: Vec<String> = soft.iter().map(|e| format!("{e}. {}", e.fallback())).collect();
            (s, Some(format!("This link could not be read: {}", each.join(" "))))
        }
        Err(e) => (ShareState::default(), Some(format!("This link could not be read: {e}. Showing the default scenario instead."))),
    });
    let share = use_state(|| initial.0.clone());
    let link_error = use_state(|| initial.1.clone());
    let loaded = use_state(|| None::<Rc<Loaded>>);
    let run_error = use_state(|| None::<String>);
    let status = use_state(|| PlayerStatus { playing: false, speed: 1.0, tick: 0 });
    let status_ref = use_mut_ref(|| *status);
    *status_ref.borrow_mut() = *status;
    let reduced_motion = use_memo((), |_| prefers_reduced_motion());
    let assignment_session = use_state(Session::default);

    // Simulate whenever the scenario-defining part of the link changes.
    {
        let loaded = loaded.clone();
        let run_error = run_error.clone();
        let status = status.clone();
        let key = (share.source.clone(), share.overrides.clone(), share.algorithm.clone(), share.seed);
        let step = share.step;
        let share_now = (*share).clone();
        use_effect_with(key, move |_| {
            match share_now.scenario().map_err(|e| e.to_string()).and_then(|s| simulate(&s)) {
                Ok(l) => {
                    if let Some(step) = step {
                        l.playback.borrow_mut().seek_step(step);
                    }
                    loaded.set(Some(l));
                    run_error.set(None);
                }
                Err(e) => {
                    loaded.set(None);
                    run_error.set(Some(e));
                }
            }
            status.set(PlayerStatus { playing: false, speed: status.speed, tick: status.tick + 1 });
        });
    }

    // Keep the address bar equal to the state (with the current step when paused).
    {
        let q = {
            let mut s = (*share).clone();
            s.step = loaded.as_ref().filter(|l| !status.playing && !l.from_file).map(|l| l.playback.borrow().step()).filter(|&st| st > 0);
            s.to_query()
        };
        use_effect_with(q, |q| replace_url(q));
    }

    let act = {
        let loaded = loaded.clone();
        let status = status.clone();
        let status_ref = status_ref.clone();
        Callback::from(move |a: PlayerAction| {
            let Some(l) = loaded.as_ref() else { return };
            let cur = *status_ref.borrow();
            let mut next = PlayerStatus { tick: cur.tick + 1, ..cur };
            {
                let mut p = l.playback.borrow_mut();
                match a {
                    PlayerAction::PlayPause => {
                        if !cur.playing && p.at_end() {
                            p.seek_step(0);
                        }
                        next.playing = !cur.playing;
                        if !next.playing {
                            // Pause on the last event shown, so that the link (which names the
                            // step) reopens exactly this picture and time.
                            let step = p.step();
                            p.seek_step(step);
                        }
                    }
                    PlayerAction::StepEvent(f) => {
                        next.playing = false;
                        p.step_event(f);
                    }
                    PlayerAction::StepRound(f) => {
                        next.playing = false;
                        p.step_round(f);
                    }
                    PlayerAction::Restart => {
                        p.seek_step(0);
                    }
                    PlayerAction::ScrubTo(frac) => {
                        let d = p.duration();
                        p.seek(frac.clamp(0.0, 1.0) * d);
                        // Land on an event, as a paused player does (the link names the step).
                        if !cur.playing {
                            let step = p.step();
                            p.seek_step(step);
                        }
                    }
                    PlayerAction::Speed(s) => next.speed = s,
                    PlayerAction::End => {
                        next.playing = false;
                        let n = p.steps();
                        p.seek_step(n);
                    }
                }
            }
            *status_ref.borrow_mut() = next;
            status.set(next);
        })
    };

    // The animation loop: advance the player by wall time x pace while playing.
    {
        let loaded = loaded.clone();
        let status = status.clone();
        let status_ref = status_ref.clone();
        use_effect_with((status.playing, loaded.as_ref().map(Rc::as_ptr)), move |(playing, _)| {
            let handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>> = Rc::new(RefCell::new(None));
            if *playing {
                if let Some(l) = loaded.as_ref().cloned() {
                    fn frame(
                        l: Rc<Loaded>,
                        status: UseStateHandle<PlayerStatus>,
                        status_ref: Rc<RefCell<PlayerStatus>>,
                        handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>>,
                        last: Option<f64>,
                    ) {
                        let h2 = handle.clone();
                        let af = gloo::render::request_animation_frame(move |ts| {
                            let cur = *status_ref.borrow();
                            if !cur.playing {
                                return;
                            }
                            let dt = last.map_or(0.0, |l| ((ts - l) / 1000.0).clamp(0.0, 0.1));
                            let ended = {
                                let mut p = l.playback.borrow_mut();
                                let pace = p.duration().max(1e-9) / BASE_WALL_SECONDS * cur.speed;
                                let t = p.now() + dt * pace;
                                p.seek(t);
                                p.at_end()
                            };
                            let next = PlayerStatus { playing: !ended, tick: cur.tick + 1, ..cur };
                            *status_ref.borrow_mut() = next;
                            status.set(next);
                            if !ended {
                                frame(l, status, status_ref, h2, Some(ts));
                            }
                        });
                        *handle.borrow_mut() = Some(af);
                    }
                    frame(l, status, status_ref, handle.clone(), None);
                }
            }
            move || drop(handle.borrow_mut().take())
        });
    }

    // Presentation mode on or off (the link says which).
    let set_present = {
        let share = share.clone();
        Callback::from(move |on: bool| {
            if share.present != on {
                share.set(ShareState { present: on, ..(*share).clone() });
            }
        })
    };
    let present_ref = use_mut_ref(|| share.present);
    *present_ref.borrow_mut() = share.present;
    // The race view drives its own clock with the same keys.
    let racing_ref = use_mut_ref(|| share.view == View::Race);
    *racing_ref.borrow_mut() = share.view == View::Race;

    // Keyboard (see `keys`): space, arrows, Home, End, p; in presentation mode also Esc, PageUp/Down.
    {
        let act = act.clone();
        let set_present = set_present.clone();
        let present_ref = present_ref.clone();
        let racing_ref = racing_ref.clone();
        use_effect_with((), move |_| {
            let doc = gloo::utils::document();
            // Not passive: the handler calls preventDefault (space would scroll the page).
            let options = gloo::events::EventListenerOptions::enable_prevent_default();
            let listener = gloo::events::EventListener::new_with_options(&doc, "keydown", options, move |e| {
                let Some(e) = wasm_bindgen::JsCast::dyn_ref::<web_sys::KeyboardEvent>(e) else { return };
                let target = KeyTarget::of_event(e);
                let presenting = *present_ref.borrow();
                let modifier = e.ctrl_key() || e.alt_key() || e.meta_key();
                let Some(c) = keys::command(&e.key(), e.shift_key(), modifier, target, presenting) else { return };
                if matches!(c, KeyCommand::Player(_)) && *racing_ref.borrow() {
                    return;
                }
                e.prevent_default();
                match c {
                    KeyCommand::Player(a) => act.emit(a),
                    KeyCommand::TogglePresent => set_present.emit(!presenting),
                    KeyCommand::LeavePresent => set_present.emit(false),
                }
            });
            move || drop(listener)
        });
    }

    let set_share = {
        let share = share.clone();
        let link_error = link_error.clone();
        Callback::from(move |s: ShareState| {
            link_error.set(None);
            share.set(s);
        })
    };
    let set_view = {
        let share = share.clone();
        Callback::from(move |v: View| {
            let mut s = (*share).clone();
            s.view = v;
            share.set(s);
        })
    };
    let open_trace = {
        let loaded = loaded.clone();
        let run_error = run_error.clone();
        let status = status.clone();
        let set_view = set_view.clone();
        Callback::from(move |result: Result<Rc<Loaded>, String>| {
            match result {
                Ok(l) => {
                    loaded.set(Some(l));
                    run_error.set(None);
                    set_view.emit(View::Play);
                }
                Err(e) => run_error.set(Some(e)),
            }
            status.set(PlayerStatus { playing: false, speed: status.speed, tick: status.tick + 1 });
        })
    };

    let tabs = View::ALL.iter().map(|&(v, name)| {
        let set_view = set_view.clone();
        let label = match v {
            View::Play => "Play",
            View::Compare => "Compare",
            View::Sweep => "Sweep",
            View::Lessons => "Lessons",
            View::Assignments => "Assignments",
            View::Race => "Race",
        };
        html! {
            <button role="tab" class={classes!("tab", (share.view == v).then_some("active"))} aria-selected={(share.view == v).to_string()}
                data-testid={format!("tab-{name}")} onclick={Callback::from(move |_| set_view.emit(v))}>{label}</button>
        }
    });

    let banner = link_error.as_ref().map(|e| html! { <div class="banner error" role="alert" data-testid="link-error">{e}</div> });
    let run_banner = run_error
        .as_ref()
        .map(|e| html! { <div class="banner error" role="alert" data-testid="run-error">{format!("Cannot run: {e}")}</div> });

    let body = match share.view {
        View::Play => html! {
            <PlayView loaded={(*loaded).clone()} status={*status} act={act.clone()} reduced_motion={*reduced_motion} />
        },
        View::Compare => html! { <CompareView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Sweep => html! { <SweepView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Lessons => {
            html! { <LessonsView share={(*share).clone()} set_share={set_share.clone()} loaded={(*loaded).clone()} status={*status} act={act.clone()} /> }
        }
        View::Race => html! { <RaceView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Assignments => html! {
            <AssignmentsView share={(*share).clone()} set_share={set_share.clone()} loaded={(*loaded).clone()} status={*status} act={act.clone()}
                session={assignment_session.clone()} />
        },
    };

    if share.present {
        return html! {
            <div class="app presenting" data-testid="presentation">
                { for banner }
                { for run_banner }
                <PresentView loaded={(*loaded).clone()} status={*status} act={act.clone()} reduced_motion={*reduced_motion}
                    algorithm={if share.view == View::Race {
                        crate::race::racers(&share.compare).join(" vs ")
                    } else {
                        loaded.as_ref().map(|l| l.scenario.migration.algorithm.clone()).unwrap_or_default()
                    }}
                    scenario={loaded.as_ref().map(|l| l.scenario.name.clone()).unwrap_or_default()}
                    on_exit={set_present.reform(|_| false)}
                    race={(share.view == View::Race).then(|| (*share).clone())} />
            </div>
        };
    }

    html! {
        <div class="app">
            <header class="top">
                <h1>{"LiveMig Lab"}</h1>
                <span class="subtitle">{"live virtual-machine migration, page by page"}</span>
                <nav class="tabs" role="tablist">{ for tabs }</nav>
                <button class="present-btn" data-testid="present" title="Presentation mode (P): the hosts fill the screen"
                    onclick={set_present.reform(|_| true)}>{"Present"}</button>
            </header>
            { for banner }
            { for run_banner }
            <div class="layout">
                <aside class="side">
                    <ScenarioForm share={(*share).clone()} set_share={set_share.clone()} />
                    <ExportBar loaded={(*loaded).clone()} share={(*share).clone()} open_trace={open_trace} />
                </aside>
                <main class="main">{ body }</main>
            </div>
        </div>
    }
}

/// Props of [`PlayView`].
#[derive(Properties, PartialEq)]
pub struct PlayProps {
    /// The run.
    pub loaded: Option<Rc<Loaded>>,
    /// Player status.
    pub status: PlayerStatus,
    /// Player requests.
    pub act: Callback<PlayerAction>,
    /// Prefers reduced motion.
    pub reduced_motion: bool,
}

/// The animated migration: phase caption, two hosts and the link, controls, metrics, charts.
#[component]
pub fn PlayView(props: &PlayProps) -> Html {
    let Some(l) = props.loaded.clone() else {
        return html! { <p class="muted">{"Nothing to play: fix the scenario on the left."}</p> };
    };
    let phase = l.playback.borrow().phase();
    let tick = props.status.tick;
    let note = (!l.playback.borrow().has_pages())
        .then(|| html! { <p class="banner">{"This trace was recorded at summary detail: it has counts but not page numbers, so the grids stay still."}</p> });
    html! {
        <>
            <section class="phase" aria-live="polite">
                <h2 data-testid="phase-title">{phase.title}</h2>
                <p data-testid="phase-caption">{phase.caption}</p>
            </section>
            { for note }
            <section class="hosts">
                <HostGrid loaded={l.clone()} side={Side::Source} tick={tick} />
                <LinkView loaded={l.clone()} tick={tick} reduced_motion={props.reduced_motion} />
                <HostGrid loaded={l.clone()} side={Side::Destination} tick={tick} />
            </section>
            <Controls loaded={l.clone()} status={props.status} act={props.act.clone()} />
            <Metrics loaded={l.clone()} tick={tick} />
            <Charts loaded={l.clone()} tick={tick} />
        </>
    }
}
