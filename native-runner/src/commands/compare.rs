//! `livemig compare SCENARIO`: several algorithms on the same scenario and seed, side by side.

use super::{OutputFormat, ScenarioArgs};
use crate::input::{algorithm_names, simulate};
use crate::output::{compare_text, print, print_json, summary_csv};
use livemig_core::trace::TraceDetail;

/// Runs each of `algorithms` (comma-separated; default: all) and prints their reports.
pub fn run(scenario: &ScenarioArgs, algorithms: Option<&str>, format: &OutputFormat) -> anyhow::Result<()> {
    let s = scenario.load()?;
    let names = algorithm_names("--algorithms", algorithms, livemig_core::algorithms::names())?;
    let mut reports = Vec::new();
    for n in &names {
        reports.push(simulate(&s, Some(n), TraceDetail::Summary)?.report);
    }
    if format.json {
        print_json(&reports)
    } else if format.csv {
        let rows: Vec<_> = reports.iter().map(|r| (vec![], r)).collect();
        print(&summary_csv(&[], &rows)?)
    } else {
        print(&compare_text(&format!("{} (seed {})", s.name, s.seed), &reports))
    }
}
