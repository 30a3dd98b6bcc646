//! The animated migration of one run: the phase caption, both hosts and the link between them,
//! the player's controls, live metrics and charts.

use crate::components::{charts::Charts, controls::Controls, grid::HostGrid, link::LinkView, metrics::Metrics};
use crate::loaded::Loaded;
use crate::playback::Side;
use crate::state::player::{PlayerAction, PlayerStatus};
use std::rc::Rc;
use yew::prelude::*;

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
