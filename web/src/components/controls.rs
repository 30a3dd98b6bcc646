//! Play, pause, step (event or round, both directions), restart, speed, and a scrubber over the
//! whole run. Keyboard: space, arrows (shift: by round), Home, End (handled in the app).

use crate::loaded::Loaded;
use crate::state::player::{PlayerAction, PlayerStatus, SPEEDS};
use livemig_core::units::Quantity;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`Controls`].
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Player status.
    pub status: PlayerStatus,
    /// Requests.
    pub act: Callback<PlayerAction>,
}

/// The player controls.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let p = props.loaded.playback.borrow();
    let (now, duration) = (p.now(), p.duration());
    let frac = if duration > 0.0 { now / duration } else { 0.0 };
    let button = |label: &str, title: &str, id: &str, a: PlayerAction| {
        let act = props.act.clone();
        html! { <button class="ctl" title={title.to_string()} aria-label={title.to_string()} data-testid={id.to_string()}
        onclick={Callback::from(move |_| act.emit(a))}>{label.to_string()}</button> }
    };
    let scrub = {
        let act = props.act.clone();
        Callback::from(move |e: InputEvent| {
            let v: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(PlayerAction::ScrubTo(x / 1000.0));
            }
        })
    };
    let speed = {
        let act = props.act.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(PlayerAction::Speed(x));
            }
        })
    };
    html! {
        <section class="controls" aria-label="player controls">
            { button("|◀ Restart", "Restart (Home)", "restart", PlayerAction::Restart) }
            { button("« Round", "Previous round (Shift+←)", "round-back", PlayerAction::StepRound(false)) }
            { button("‹ Step", "Step back: previous event (←)", "step-back", PlayerAction::StepEvent(false)) }
            { button(if props.status.playing { "❚❚ Pause" } else { "▶ Play" }, "Play / pause (space)", "play", PlayerAction::PlayPause) }
            { button("Step ›", "Step: next event (→)", "step", PlayerAction::StepEvent(true)) }
            { button("Round »", "Next round (Shift+→)", "round", PlayerAction::StepRound(true)) }
            { button("End ▶|", "End (End)", "end", PlayerAction::End) }
            <label class="speed">{"Speed "}
                <select onchange={speed} data-testid="speed" aria-label="speed">
                    { for SPEEDS.iter().map(|&s| html! { <option value={s.to_string()} selected={s == props.status.speed}>{format!("{s}x")}</option> }) }
                </select>
            </label>
            <input type="range" class="scrubber" min="0" max="1000" step="1" value={((frac * 1000.0).round() as i64).to_string()}
                oninput={scrub} aria-label="position in the run" data-testid="scrubber" />
            <span class="time" data-testid="time">{format!("{} / {}", Quantity::Duration.show(now), Quantity::Duration.show(duration))}</span>
            <span class="muted">{format!("step {} of {}", p.step(), p.steps())}</span>
        </section>
    }
}
