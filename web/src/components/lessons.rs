//! Guided lessons (filled in by the lessons work).
use crate::app::{Loaded, PlayerAction, PlayerStatus};
use crate::share::ShareState;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`LessonsView`].
#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    /// Current state.
    pub share: ShareState,
    /// Change it (loads a lesson's scenario).
    pub set_share: Callback<ShareState>,
    /// The current run.
    pub loaded: Option<Rc<Loaded>>,
    /// Player status.
    pub status: PlayerStatus,
    /// Player requests.
    pub act: Callback<PlayerAction>,
}

/// The lessons view.
#[component]
pub fn LessonsView(_props: &LessonsProps) -> Html {
    html! {}
}
