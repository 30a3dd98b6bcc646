//! The race's one player: play, pause, step to the next or previous moment of any racer, restart,
//! end, speed and a scrubber over the longest run.

use crate::race::{Clock, RaceAction};
use crate::state::player::{BASE_WALL_SECONDS, SPEEDS};
use livemig_core::units::Quantity;
use yew::prelude::*;

/// The keys of the race, for the player's help line and presentation mode's bar.
pub const RACE_KEYS: &str =
    "Space play/pause · → ← next/previous moment of any racer (a round starts, a downtime starts or ends, a racer finishes; PgDn PgUp too) · Home/End start/end";

/// Props of [`RaceControls`].
#[derive(Properties, PartialEq)]
pub struct RaceControlsProps {
    /// The race's clock.
    pub clock: Clock,
    /// Requests.
    pub act: Callback<RaceAction>,
}

/// The race's one player.
#[component]
pub fn RaceControls(props: &RaceControlsProps) -> Html {
    let (c, act) = (&props.clock, &props.act);
    let button = |label: &str, title: &str, id: &str, d: RaceAction| {
        let act = act.clone();
        html! { <button class="ctl" title={title.to_string()} aria-label={title.to_string()} data-testid={id.to_string()}
        onclick={Callback::from(move |_| act.emit(d.clone()))}>{label.to_string()}</button> }
    };
    let scrub = {
        let act = act.clone();
        Callback::from(move |e: InputEvent| {
            let v: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(RaceAction::Scrub(x / 1000.0));
            }
        })
    };
    let speed = {
        let act = act.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Ok(x) = v.value().parse::<f64>() {
                act.emit(RaceAction::Speed(x));
            }
        })
    };
    let frac = if c.duration > 0.0 { c.now / c.duration } else { 0.0 };
    html! {
        <section class="controls" aria-label="race controls">
            { button("|◀ Restart", "Restart (Home)", "race-restart", RaceAction::Restart) }
            { button("‹ Step", "Step back to the previous moment of any racer (←)", "race-step-back", RaceAction::Step(false)) }
            { button(if c.playing { "❚❚ Pause" } else { "▶ Play" }, "Play / pause (space)", "race-play", RaceAction::PlayPause) }
            { button("Step ›", "Step to the next moment of any racer: a round starts, a downtime starts or ends, a racer finishes (→)", "race-step", RaceAction::Step(true)) }
            { button("End ▶|", "End (End)", "race-end", RaceAction::End) }
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
