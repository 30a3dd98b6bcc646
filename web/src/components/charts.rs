//! Charts of the run (filled in by the charts work).
use crate::app::Loaded;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`Charts`].
#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Redraw when this changes.
    pub tick: u64,
}

/// The charts.
#[component]
pub fn Charts(_props: &ChartsProps) -> Html {
    html! {}
}
