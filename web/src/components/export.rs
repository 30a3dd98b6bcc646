//! Share, export and open (filled in by the export work).
use crate::app::Loaded;
use crate::share::ShareState;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`ExportBar`].
#[derive(Properties, PartialEq)]
pub struct ExportProps {
    /// The current run.
    pub loaded: Option<Rc<Loaded>>,
    /// Current state.
    pub share: ShareState,
    /// A trace file was opened (or could not be).
    pub open_trace: Callback<Result<Rc<Loaded>, String>>,
}

/// The share/export/open bar.
#[component]
pub fn ExportBar(_props: &ExportProps) -> Html {
    html! {}
}
