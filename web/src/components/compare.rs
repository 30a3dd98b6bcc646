//! Comparison of algorithms on one scenario (filled in by the compare work).
use crate::share::ShareState;
use yew::prelude::*;

/// Props of [`CompareView`].
#[derive(Properties, PartialEq)]
pub struct CompareProps {
    /// Current state.
    pub share: ShareState,
    /// Change it.
    pub set_share: Callback<ShareState>,
}

/// The comparison view.
#[component]
pub fn CompareView(_props: &CompareProps) -> Html {
    html! {}
}
