//! Presentation mode, for a lecture: the source grid, the link and the destination grid side by
//! side filling the screen, the phase caption in large type above them, and below a compact
//! player and the live metrics. The form, the export panel, the tabs and the charts are hidden.
//! It is entered with the Present button, the `p` key or `present=1` in the link, and left with
//! Esc, `p` or the Leave button; the keys of a presenter remote (PageUp/PageDown, arrows, space)
//! drive the player (see [`crate::keys`]).

use crate::components::{controls::Controls, grid::HostGrid, link::LinkView, metrics::Metrics, race::RaceView};
use crate::loaded::Loaded;
use crate::playback::Side;
use crate::share::ShareState;
use crate::state::player::{PlayerAction, PlayerStatus};
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`PresentView`].
#[derive(Properties, PartialEq)]
pub struct PresentProps {
    /// The run (none while the scenario cannot run).
    pub loaded: Option<Rc<Loaded>>,
    /// Player status.
    pub status: PlayerStatus,
    /// Player requests.
    pub act: Callback<PlayerAction>,
    /// Prefers reduced motion.
    pub reduced_motion: bool,
    /// The algorithm's name, for the title bar.
    pub algorithm: String,
    /// The scenario's name, for the title bar.
    pub scenario: String,
    /// Leave presentation mode.
    pub on_exit: Callback<()>,
    /// A race to present instead of the single run (the link's state).
    #[prop_or_default]
    pub race: Option<ShareState>,
}

/// The whole screen in presentation mode.
#[component]
pub fn PresentView(props: &PresentProps) -> Html {
    let exit = props.on_exit.reform(|_: MouseEvent| ());
    let bar = html! {
        <header class="present-bar">
            <h1>{"LiveMig Lab"}</h1>
            <span class="present-run" data-testid="present-run">{format!("{} on {}", props.algorithm, props.scenario)}</span>
            <span class="present-keys" data-testid="present-keys">{if props.race.is_some() {
                "Space play/pause · ← → or PgUp PgDn: previous/next moment of any racer · Esc leave"
            } else {
                "Space play/pause · ← → step · PgUp PgDn round · Esc leave"
            }}</span>
            <button class="present-exit" data-testid="present-exit" onclick={exit}>{"Leave (Esc)"}</button>
        </header>
    };
    if let Some(share) = &props.race {
        return html! { <>{bar}<main class="present-main"><RaceView share={share.clone()} present=true /></main></> };
    }
    let Some(l) = props.loaded.clone() else {
        return html! { <>{bar}<main class="present-main"><p>{"Nothing to play: leave presentation mode and fix the scenario."}</p></main></> };
    };
    let phase = l.playback.borrow().phase();
    let tick = props.status.tick;
    // The link takes what the grids can spare: an eighth of the screen, 130 to 240 pixels.
    let screen = web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|w| w.as_f64()).unwrap_or(1366.0);
    let link_width = (screen * 0.125).clamp(130.0, 240.0).floor();
    html! {
        <>
            {bar}
            <main class="present-main">
                <section class="phase present-phase" aria-live="polite">
                    <h2 data-testid="phase-title">{phase.title}</h2>
                    <p data-testid="phase-caption">{phase.caption}</p>
                </section>
                <section class="hosts present-hosts" data-testid="present-hosts">
                    <HostGrid loaded={l.clone()} side={Side::Source} tick={tick} present=true />
                    <LinkView loaded={l.clone()} tick={tick} reduced_motion={props.reduced_motion} width={link_width} />
                    <HostGrid loaded={l.clone()} side={Side::Destination} tick={tick} present=true />
                </section>
                <Controls loaded={l.clone()} status={props.status} act={props.act.clone()} />
                <Metrics loaded={l} tick={tick} />
            </main>
        </>
    }
}
