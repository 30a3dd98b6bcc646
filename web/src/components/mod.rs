//! The playground's components, one per file.

pub mod assignments;
pub mod charts;
pub mod compare;
pub mod controls;
pub mod export;
pub mod grid;
pub mod lessons;
pub mod link;
pub mod metrics;
pub mod presentation;
pub mod race;
pub mod scenario_form;
pub mod sweep;
