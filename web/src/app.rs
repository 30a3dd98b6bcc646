//! The playground's top-level component: reads the link, runs the simulation, owns the player.
//!
//! Data flow: the URL (or the form, a preset, a lesson) gives a [`ShareState`]; its scenario is
//! simulated by the core at page detail; the run goes into the player's state
//! ([`crate::state::player`]), which the controls, the keys and the animation loop change by
//! dispatching actions to its reducer. Before drawing, the run's page states are brought to the
//! player's cursor, and every component draws from them; the URL is kept in step so that copying
//! it shares the run.

use crate::components::assignments::{AssignmentsView, Session};
use crate::components::presentation::PresentView;
use crate::components::race::RaceView;
use crate::components::{compare::CompareView, export::ExportBar, lessons::LessonsView, play::PlayView};
use crate::components::{scenario_form::ScenarioForm, sweep::SweepView};
use crate::hooks::use_animation_loop;
use crate::keys::{self, KeyCommand, KeyTarget};
use crate::loaded::{simulate, Loaded};
use crate::share::{ShareState, View};
use crate::state::player::{self, Action, Player, PlayerAction};
use std::rc::Rc;
use yew::prelude::*;

/// The player's state held by `use_reducer`: [`player::reduce`], and no redraw when nothing changed.
impl Reducible for Player {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let next = player::reduce(&self, action);
        if next == *self {
            self
        } else {
            Rc::new(next)
        }
    }
}

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
    let player = use_reducer(Player::default);
    let reduced_motion = use_memo((), |_| prefers_reduced_motion());
    let assignment_session = use_state(Session::default);

    // Simulate whenever the scenario-defining part of the link changes.
    {
        let dispatch = player.dispatcher();
        let key = (share.source.clone(), share.overrides.clone(), share.algorithm.clone(), share.seed);
        let step = share.step;
        let share_now = (*share).clone();
        use_effect_with(key, move |_| {
            let run = share_now.scenario().map_err(|e| e.to_string()).and_then(|s| simulate(&s));
            dispatch.dispatch(Action::Simulated(run, step));
        });
    }

    // Keep the address bar equal to the state (with the current step when paused).
    {
        let q = ShareState { step: player.link_step(), ..(*share).clone() }.to_query();
        use_effect_with(q, |q| replace_url(q));
    }

    let act = {
        let dispatch = player.dispatcher();
        Callback::from(move |a: PlayerAction| dispatch.dispatch(Action::Control(a)))
    };

    // The animation loop while playing: one `Frame` action per animation frame, with the wall
    // time since the last. It stops when the player stops (the reducer pauses it at the end).
    {
        let dispatch = player.dispatcher();
        let on_frame = Callback::from(move |wall: f64| dispatch.dispatch(Action::Frame(wall)));
        use_animation_loop(player.playing, player.run.as_ref().map(Rc::as_ptr), on_frame);
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

    // Keyboard (see `keys`): space, arrows, Home, End, p; in presentation mode also Esc, PageUp/Down.
    // The race view drives its own clock with the player's keys.
    {
        let act = act.clone();
        let set_present = set_present.clone();
        use_effect_with((share.present, share.view == View::Race), move |&(presenting, racing)| {
            let doc = gloo::utils::document();
            // Not passive: the handler calls preventDefault (space would scroll the page).
            let options = gloo::events::EventListenerOptions::enable_prevent_default();
            let listener = gloo::events::EventListener::new_with_options(&doc, "keydown", options, move |e| {
                let Some(e) = wasm_bindgen::JsCast::dyn_ref::<web_sys::KeyboardEvent>(e) else { return };
                let target = KeyTarget::of_event(e);
                let modifier = e.ctrl_key() || e.alt_key() || e.meta_key();
                let Some(c) = keys::command(&e.key(), e.shift_key(), modifier, target, presenting) else { return };
                if matches!(c, KeyCommand::Player(_)) && racing {
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
        let dispatch = player.dispatcher();
        let set_view = set_view.clone();
        Callback::from(move |result: Result<Rc<Loaded>, String>| {
            let opened = result.is_ok();
            dispatch.dispatch(Action::Opened(result));
            if opened {
                set_view.emit(View::Play);
            }
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

    // The run's page states at the player's cursor, for every component that draws them.
    let loaded = player.run.clone();
    if let Some(run) = &loaded {
        run.show(player.cursor);
    }
    let status = player.status();

    let banner = link_error.as_ref().map(|e| html! { <div class="banner error" role="alert" data-testid="link-error">{e}</div> });
    let run_banner = player
        .error
        .as_ref()
        .map(|e| html! { <div class="banner error" role="alert" data-testid="run-error">{format!("Cannot run: {e}")}</div> });

    let body = match share.view {
        View::Play => html! {
            <PlayView loaded={loaded.clone()} status={status} act={act.clone()} reduced_motion={*reduced_motion} />
        },
        View::Compare => html! { <CompareView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Sweep => html! { <SweepView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Lessons => {
            html! { <LessonsView share={(*share).clone()} set_share={set_share.clone()} loaded={loaded.clone()} status={status} act={act.clone()} /> }
        }
        View::Race => html! { <RaceView share={(*share).clone()} set_share={set_share.clone()} /> },
        View::Assignments => html! {
            <AssignmentsView share={(*share).clone()} set_share={set_share.clone()} loaded={loaded.clone()} status={status} act={act.clone()}
                session={assignment_session.clone()} />
        },
    };

    if share.present {
        return html! {
            <div class="app presenting" data-testid="presentation">
                { for banner }
                { for run_banner }
                <PresentView loaded={loaded.clone()} status={status} act={act.clone()} reduced_motion={*reduced_motion}
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
                    <ExportBar loaded={loaded.clone()} share={(*share).clone()} open_trace={open_trace} />
                </aside>
                <main class="main">{ body }</main>
            </div>
        </div>
    }
}
