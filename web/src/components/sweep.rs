//! A sweep: one parameter varied (filled in by the sweep work).
use crate::share::ShareState;
use yew::prelude::*;

/// Props of [`SweepView`].
#[derive(Properties, PartialEq)]
pub struct SweepProps {
    /// Current state.
    pub share: ShareState,
    /// Change it.
    pub set_share: Callback<ShareState>,
}

/// The sweep view.
#[component]
pub fn SweepView(_props: &SweepProps) -> Html {
    html! {}
}
