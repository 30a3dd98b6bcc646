//! # livemig-core
//!
//! Live virtual-machine migration algorithms over an abstract page-memory model, and a
//! deterministic simulator to run them.
//!
//! * [`scenario`]: what is migrated, over what link, with which algorithm (TOML/JSON, human units);
//! * [`context`]: the [`MigrationContext`] trait every algorithm is written against;
//! * [`algorithms`]: one file per algorithm, found by name in the registry;
//! * [`sim`]: the simulator's context (virtual clock, simulated guest and link);
//! * [`trace`] and [`report`]: what a run recorded, and its metrics;
//! * [`model`]: the analytical pre-copy model for cross-checking;
//! * [`cost`]: what a run may cost (accesses, pages, trace size), estimated up front, and its caps;
//! * [`sweep`]: the one sweep grammar, the CLI's `--vary` values and the playground's sweeps;
//!   [`share`]: the playground's link (pure parsers the front ends and the fuzz targets share);
//! * [`experiment`] and [`assignment`]: papers' evaluations and classroom assignments, as data.
//!
//! ```
//! use livemig_core::{simulate, presets::preset, trace::TraceDetail};
//! let scenario = preset("idle-vm").unwrap().unwrap();
//! let run = simulate(&scenario, Some("precopy-xen"), TraceDetail::Summary).unwrap();
//! assert!(run.report.verified);
//! assert!(run.report.converged);
//! assert!(run.report.downtime_s < 0.05); // an idle VM leaves almost nothing for stop-and-copy
//! ```
//!
//! The core is pure: no I/O, no clocks, no threads, seeded randomness only. It builds for
//! `wasm32-unknown-unknown`, and the same scenario gives the same trace everywhere.

#![deny(missing_docs)]

pub mod algorithms;
pub mod assignment;
pub mod bitmap;
pub mod codec;
pub mod content;
pub mod context;
pub mod cost;
pub mod experiment;
pub mod model;
pub mod presets;
pub mod recorder;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod share;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod units;
pub mod workload;

pub use context::{MigrationContext, Outcome};
pub use report::Report;
pub use scenario::Scenario;
pub use trace::Trace;

/// Anything that can stop a simulation before it starts or while it runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// An algorithm parameter is invalid.
    #[error(transparent)]
    Param(#[from] algorithms::ParamError),
    /// No algorithm has this name.
    #[error("unknown algorithm '{name}': accepted {}", algorithms::names().join(", "))]
    UnknownAlgorithm {
        /// The name given.
        name: String,
    },
    /// The algorithm asked the context for something impossible.
    #[error("algorithm failed: {0}")]
    Context(context::ContextError),
    /// The trace passed its cap ([`sim::SimOptions::max_trace_bytes`]).
    #[error(transparent)]
    TraceTooLarge(#[from] trace::TraceTooLarge),
}

impl From<context::ContextError> for Error {
    fn from(e: context::ContextError) -> Self {
        Error::Context(e)
    }
}

/// A finished simulation.
#[derive(Debug, Clone)]
pub struct Run {
    /// Everything that happened.
    pub trace: Trace,
    /// Its metrics.
    pub report: Report,
}

/// Simulates `scenario` with `algorithm` (or the scenario's own `migration.algorithm`).
pub fn simulate(scenario: &Scenario, algorithm: Option<&str>, detail: trace::TraceDetail) -> Result<Run, Error> {
    simulate_with(scenario, algorithm, sim::SimOptions { detail, max_trace_bytes: None })
}

/// [`simulate`] with all the simulator's options, a cap on the trace's size among them.
pub fn simulate_with(scenario: &Scenario, algorithm: Option<&str>, options: sim::SimOptions) -> Result<Run, Error> {
    scenario.validate()?;
    let name = algorithm.unwrap_or(&scenario.migration.algorithm);
    let info = algorithms::find(name).ok_or_else(|| Error::UnknownAlgorithm { name: name.to_string() })?;
    let (mut algorithm, params) = algorithms::build(info, &scenario.params)?;
    let mut ctx = sim::SimContext::new(scenario, options);
    let outcome = algorithm.run(&mut ctx)?;
    let trace = ctx.finish(info.name, params.shown(), &outcome)?;
    let report = Report::from_trace(&trace);
    Ok(Run { trace, report })
}
