//! One module per `livemig` command: what it does with its arguments and how it prints. The
//! argument types of the top-level commands are in `main.rs`; a command with subcommands
//! (`assignment`, `kvm`, `qemu`) declares them in its own module.

pub mod algorithms;
pub mod assignment;
pub mod bench;
pub mod bench_corners;
pub mod compare;
pub mod experiment;
pub mod fidelity;
pub mod kvm;
pub mod kvm_bench;
pub mod model;
pub mod presets;
pub mod qemu;
pub mod qemu_compare;
pub mod simulate;
pub mod sweep;
pub mod trace;

/// A scenario and its overrides: what most commands take first.
#[derive(clap::Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML or JSON) or preset name (see `livemig presets`)
    pub scenario: String,
    /// Override a scenario field, e.g. --set link.bandwidth=10Gbit/s --set params.precopy.policy=qemu
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `--json` or `--csv` instead of a table for people.
#[derive(clap::Args)]
pub struct OutputFormat {
    /// Print JSON (the report schema)
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV
    #[arg(long)]
    pub csv: bool,
}

impl ScenarioArgs {
    /// The scenario, loaded and overridden ([`crate::input::load_scenario`]).
    pub fn load(&self) -> anyhow::Result<livemig_core::Scenario> {
        crate::input::load_scenario(&self.scenario, &self.set)
    }
}
