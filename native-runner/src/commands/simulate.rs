//! `livemig simulate SCENARIO`: one migration, its report as a table, JSON or CSV.

use super::{OutputFormat, ScenarioArgs};
use crate::input::{check_algorithm, simulate};
use crate::output::{print, print_json, report_text, rounds_csv, summary_csv};
use livemig_core::trace::TraceDetail;

/// Simulates the scenario with `algorithm` (default: the scenario's) and prints the report;
/// with `--csv --per-round`, its rounds.
pub fn run(scenario: &ScenarioArgs, algorithm: Option<&str>, format: &OutputFormat, per_round: bool) -> anyhow::Result<()> {
    let s = scenario.load()?;
    if let Some(a) = algorithm {
        check_algorithm("--algorithm", a)?;
    }
    let run = simulate(&s, algorithm, TraceDetail::Summary)?;
    if format.json {
        print_json(&run.report)
    } else if format.csv && per_round {
        print(&rounds_csv(&run.report)?)
    } else if format.csv {
        print(&summary_csv(&[], &[(vec![], &run.report)])?)
    } else {
        print(&report_text(&run.report))
    }
}
