//! The playground's components, one per file.

pub mod algorithm_picker;
pub mod assignments;
pub mod bar_chart;
pub mod charts;
pub mod compare;
pub mod controls;
pub mod export;
pub mod grid;
pub mod lessons;
pub mod link;
pub mod metrics;
pub mod play;
pub mod presentation;
pub mod race;
pub mod race_controls;
pub mod race_lane;
pub mod scenario_form;
pub mod swatch;
pub mod sweep;
pub mod sweep_chart;
