//! `livemig`: run LiveMig Lab migration scenarios from the command line.
//!
//! This file is the command line's shape (clap's argument types) and the dispatch to the
//! commands, one module each under `commands/`. Exit status: 0 on success, 2 for bad input
//! (scenario, flag, value; one line naming the field and what is accepted), 1 when the run
//! itself fails.

mod commands;
mod input;
mod output;
mod usage;

use clap::{CommandFactory, Parser, Subcommand};
use commands::{OutputFormat, ScenarioArgs};
use input::BadInput;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "livemig", version, about = "LiveMig Lab: live VM migration algorithms, simulated", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Caps on what one simulation may cost (see `livemig_core::cost`): a run over one is refused
/// before it starts, with its estimate.
#[derive(clap::Args)]
struct LimitArgs {
    /// Most guest accesses one simulation may take (the fastest phase's writes and reads a
    /// second over migration.timeout)
    #[arg(long, global = true, value_name = "N", default_value = "1e9", value_parser = usage::positive_number)]
    max_accesses: f64,
    /// Most pages a simulated VM may have (vm.memory / vm.page_size)
    #[arg(long, global = true, value_name = "N", default_value_t = livemig_core::cost::Limits::DEFAULT_PAGES, value_parser = usage::max_pages_arg)]
    max_pages: u64,
    /// Largest trace `livemig trace` may write, estimated from the detail, the pages and the rates
    #[arg(long, global = true, value_name = "SIZE", default_value = "512MiB", value_parser = usage::size_arg)]
    max_trace_size: u64,
}

#[derive(Subcommand)]
enum Command {
    /// List the algorithms, or show one algorithm's parameters
    Algorithms {
        /// Show this algorithm's parameters
        name: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the preset scenarios, or print one as TOML
    Presets {
        /// Print this preset's TOML
        name: Option<String>,
    },
    /// Simulate one migration and print its report
    Simulate {
        #[command(flatten)]
        scenario: ScenarioArgs,
        /// Algorithm (default: the scenario's migration.algorithm)
        #[arg(long, short)]
        algorithm: Option<String>,
        #[command(flatten)]
        format: OutputFormat,
        /// With --csv: print the per-round table instead of the summary
        #[arg(long, requires = "csv")]
        per_round: bool,
    },
    /// Run several algorithms on the same scenario and seed, side by side
    Compare {
        #[command(flatten)]
        scenario: ScenarioArgs,
        /// Comma-separated algorithms (default: all)
        #[arg(long)]
        algorithms: Option<String>,
        #[command(flatten)]
        format: OutputFormat,
    },
    /// Vary one scenario field over a range and run each value
    Sweep {
        #[command(flatten)]
        scenario: ScenarioArgs,
        /// KEY=FROM..TO:STEPS, e.g. link.bandwidth=100Mbit/s..10Gbit/s:10
        #[arg(long, value_name = "KEY=FROM..TO:STEPS")]
        vary: String,
        /// Space the values geometrically
        #[arg(long)]
        log: bool,
        /// Comma-separated algorithms (default: the scenario's)
        #[arg(long)]
        algorithms: Option<String>,
        #[command(flatten)]
        format: OutputFormat,
    },
    /// Simulate and write the trace (JSON) that the playground replays
    Trace {
        #[command(flatten)]
        scenario: ScenarioArgs,
        /// Algorithm (default: the scenario's migration.algorithm)
        #[arg(long, short)]
        algorithm: Option<String>,
        /// Output file (a regular file: never a device, FIFO, directory or symbolic link), or -
        /// for standard output
        #[arg(long, short, value_parser = output::output_path)]
        output: String,
        /// How much to record
        #[arg(long, value_enum, default_value = "pages")]
        detail: commands::trace::Detail,
    },
    /// Reproduce a paper's evaluation in simulation: simulated change beside the published one
    Experiment {
        /// Experiment name (see `livemig experiment list`), or `all`
        name: String,
        /// Also print every case's runs
        #[arg(long)]
        cases: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Classroom assignments: show one, print an answers template, grade answers files
    Assignment {
        #[command(subcommand)]
        command: commands::assignment::AssignmentCommand,
    },
    /// Compare Xen pre-copy in the simulator with the geometric model (docs/algorithms/analytical-model.md)
    Model {
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Migrate a real guest between two KVM VMs (needs /dev/kvm)
    Kvm {
        #[command(subcommand)]
        command: commands::kvm::KvmCommand,
    },
    /// Migrate a real guest between two QEMU processes over 127.0.0.1 (needs QEMU and /dev/kvm)
    Qemu {
        #[command(subcommand)]
        command: commands::qemu::QemuCommand,
    },
    /// One line per comparison of the simulator with the closed form, the KVM runner, real QEMU
    /// and each paper's published numbers, measured now (a few minutes)
    Fidelity {
        /// Leave out the KVM runner
        #[arg(long)]
        no_kvm: bool,
        /// Leave out QEMU
        #[arg(long)]
        no_qemu: bool,
        /// Leave out the papers' experiments
        #[arg(long)]
        no_papers: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Measure simulator speed and memory for growing VMs (each case in its own process), then
    /// codec throughput
    Bench {
        /// VM sizes in GiB (1 to 256), comma-separated
        #[arg(long, default_value = "1,4,16,64", value_delimiter = ',', value_parser = usage::bench_size)]
        sizes: Vec<u64>,
        /// Comma-separated algorithms
        #[arg(long, default_value = "precopy-xen,postcopy-bubbling")]
        algorithms: String,
        /// Only measure the codecs (zero, WKdm, LZ4, XBZRLE): encode and decode MB/s and ratio
        #[arg(long, conflicts_with_all = ["sizes", "algorithms", "one"])]
        codecs: bool,
        /// Print JSON (the simulator cases only; with --codecs, the codec measurements)
        #[arg(long)]
        json: bool,
        /// Run one case (SIZE_GIB ALGORITHM) in this process (used by bench itself)
        #[arg(long, num_args = 2, value_names = ["SIZE_GIB", "ALGORITHM"], hide = true)]
        one: Option<Vec<String>>,
        /// Only run the slowest legal corners (the caps, the slowest link, the largest VM): wall
        /// time and peak memory of each, in its own process
        #[arg(long, conflicts_with_all = ["sizes", "algorithms", "codecs", "one"])]
        corners: bool,
        /// Run one corner in this process (used by bench itself)
        #[arg(long, value_name = "NAME", hide = true)]
        corner: Option<String>,
    },
}

/// Runs the command.
fn run(command: Command) -> anyhow::Result<()> {
    use commands::*;
    match command {
        Command::Algorithms { name, json } => algorithms::run(name.as_deref(), json),
        Command::Presets { name } => presets::run(name.as_deref()),
        Command::Simulate { scenario, algorithm, format, per_round } => simulate::run(&scenario, algorithm.as_deref(), &format, per_round),
        Command::Compare { scenario, algorithms, format } => compare::run(&scenario, algorithms.as_deref(), &format),
        Command::Sweep { scenario, vary, log, algorithms, format } => sweep::run(&scenario, &vary, log, algorithms.as_deref(), &format),
        Command::Trace { scenario, algorithm, output, detail } => trace::run(&scenario, algorithm.as_deref(), &output, detail),
        Command::Experiment { name, cases, json } => experiment::run(&name, cases, json),
        Command::Assignment { command } => assignment::run(command),
        Command::Model { scenario } => model::run(&scenario),
        Command::Kvm { command } => kvm::run(command),
        Command::Qemu { command } => qemu::run(command),
        Command::Fidelity { no_kvm, no_qemu, no_papers, json } => fidelity::run(no_kvm, no_qemu, no_papers, json),
        Command::Bench { corner: Some(name), .. } => bench_corners::run_one(&name),
        Command::Bench { corners: true, json, .. } => bench_corners::run(json),
        Command::Bench { one: Some(one), .. } => bench::run_one_arg(&one),
        Command::Bench { codecs: true, json, .. } => bench::run_codecs(json),
        Command::Bench { sizes, algorithms, json, .. } => bench::run(&sizes, &algorithms, json),
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if usage::is_help_or_version(&e) => e.exit(),
        Err(e) => {
            // Bad arguments: one line, like every other bad input, and exit 2.
            eprintln!("livemig: {}", usage::one_line(&e, &Cli::command(), &args));
            return ExitCode::from(2);
        }
    };
    let l = &cli.limits;
    input::set_limits(livemig_core::cost::Limits { accesses: l.max_accesses, pages: l.max_pages, trace_bytes: l.max_trace_size });
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livemig: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
