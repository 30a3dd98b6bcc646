//! `livemig trace SCENARIO -o FILE`: simulate and write the trace the playground replays.

use super::ScenarioArgs;
use crate::input::{check_algorithm, simulate};
use crate::output::{check_output, write_output};
use clap::ValueEnum;
use livemig_core::trace::TraceDetail;

/// How much a trace records (`--detail`).
#[derive(Clone, Copy, ValueEnum)]
pub enum Detail {
    Summary,
    Pages,
    Accesses,
}

impl From<Detail> for TraceDetail {
    fn from(d: Detail) -> TraceDetail {
        match d {
            Detail::Summary => TraceDetail::Summary,
            Detail::Pages => TraceDetail::Pages,
            Detail::Accesses => TraceDetail::Accesses,
        }
    }
}

/// Simulates and writes the trace to `output` (`-`: standard output), serialised straight into
/// the file (never as one string in memory); says on standard error what it wrote.
pub fn run(scenario: &ScenarioArgs, algorithm: Option<&str>, output: &str, detail: Detail) -> anyhow::Result<()> {
    check_output("--output", output)?;
    let s = scenario.load()?;
    if let Some(a) = algorithm {
        check_algorithm("--algorithm", a)?;
    }
    let run = simulate(&s, algorithm, detail.into())?;
    write_output("--output", output, |w| {
        serde_json::to_writer(&mut *w, &run.trace)?;
        Ok(writeln!(w)?)
    })?;
    if output != "-" {
        eprintln!(
            "wrote {output}: {} events, {} {} on {}",
            run.trace.events.len(),
            if run.report.verified { "verified" } else { "NOT verified" },
            run.trace.algorithm,
            s.name
        );
    }
    Ok(())
}
