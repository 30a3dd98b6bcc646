//! `livemig`: run LiveMig Lab migration scenarios from the command line.
//!
//! Exit status: 0 on success, 2 for bad input (scenario, flag, value; one line naming the field
//! and what is accepted), 1 when the run itself fails.

mod assignment_cli;
mod bench;
mod corners;
mod fidelity;
mod input;
mod kvm_bench;
mod kvm_cli;
mod output;
mod qemu_cli;
mod qemu_compare_cli;
mod sweep;
mod usage;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use input::{bad, load_scenario, BadInput};
use livemig_core::algorithms::registry;
use livemig_core::model::GeometricModel;
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use std::io::Write;
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
    #[arg(long, global = true, value_name = "N", default_value = "1e9", value_parser = positive_number)]
    max_accesses: f64,
    /// Most pages a simulated VM may have (vm.memory / vm.page_size)
    #[arg(long, global = true, value_name = "N", default_value_t = livemig_core::cost::Limits::DEFAULT_PAGES, value_parser = max_pages_arg)]
    max_pages: u64,
    /// Largest trace `livemig trace` may write, estimated from the detail, the pages and the rates
    #[arg(long, global = true, value_name = "SIZE", default_value = "512MiB", value_parser = size_arg)]
    max_trace_size: u64,
}

/// Clap's value parser for a number above 0 (`1e9`, `2000000`).
fn positive_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("is out of range: accepted a number above 0, e.g. 1e9".into()),
        Err(_) => Err("is not a number: accepted a number above 0, e.g. 1e9".into()),
    }
}

/// Clap's value parser for `--max-pages`: a whole number from 1.
fn max_pages_arg(text: &str) -> Result<u64, String> {
    usage::whole_number(text, 1, u64::MAX)
}

/// Clap's value parser for a size (`512MiB`, `2 GiB`).
fn size_arg(text: &str) -> Result<u64, String> {
    text.parse::<livemig_core::units::ByteSize>().map(|b| b.0).map_err(|e| e.to_string())
}

/// Clap's value parser for a network address, HOST:PORT with a port from 0 to 65535.
fn host_port(text: &str) -> Result<String, String> {
    let accepted = "accepted HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:4444";
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("has no port: {accepted}"))?;
    if host.is_empty() {
        return Err(format!("has no host: {accepted}"));
    }
    port.parse::<u16>().map_err(|_| format!("port '{port}' is out of range: {accepted}"))?;
    Ok(text.to_string())
}

/// Clap's value parser for `bench --sizes`: a whole number of GiB from 1 to 256.
fn bench_size(text: &str) -> Result<u64, String> {
    usage::whole_number(text, 1, 256).map_err(|e| e.replace("a whole number from 1 to 256", "a whole number of GiB from 1 to 256"))
}

#[derive(Clone, Copy, ValueEnum)]
enum Detail {
    Summary,
    Pages,
    Accesses,
}

#[derive(clap::Args)]
struct ScenarioArgs {
    /// Scenario file (TOML or JSON) or preset name (see `livemig presets`)
    scenario: String,
    /// Override a scenario field, e.g. --set link.bandwidth=10Gbit/s --set params.precopy.policy=qemu
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// `--json` or `--csv` instead of a table for people.
#[derive(clap::Args)]
struct OutputFormat {
    /// Print JSON (the report schema)
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV
    #[arg(long)]
    csv: bool,
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
        detail: Detail,
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
        command: AssignmentCommand,
    },
    /// Compare Xen pre-copy in the simulator with the geometric model (docs/algorithms/analytical-model.md)
    Model {
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Migrate a real guest between two KVM VMs (needs /dev/kvm)
    Kvm {
        #[command(subcommand)]
        command: KvmCommand,
    },
    /// Migrate a real guest between two QEMU processes over 127.0.0.1 (needs QEMU and /dev/kvm)
    Qemu {
        #[command(subcommand)]
        command: qemu_cli::QemuCommand,
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
        #[arg(long, default_value = "1,4,16,64", value_delimiter = ',', value_parser = bench_size)]
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

#[derive(Subcommand)]
enum AssignmentCommand {
    /// List the bundled assignments
    List,
    /// Print an assignment's text, scenarios and tasks (no answers)
    Show {
        /// Bundled assignment name (see `livemig assignment list`) or assignment file (TOML)
        assignment: String,
    },
    /// Print an answers file to fill in: every task id, with its question and what to write
    Template {
        /// Bundled assignment name or assignment file
        assignment: String,
    },
    /// Print one of an assignment's scenarios as a scenario file
    Scenario {
        /// Bundled assignment name or assignment file
        assignment: String,
        /// The scenario's name in the assignment
        scenario: String,
    },
    /// Grade answers files: per task pass or fail with feedback; exit 0 only if all pass
    Check {
        /// Bundled assignment name or assignment file
        assignment: String,
        /// Answers files (TOML); several grade a whole class
        #[arg(required = true)]
        answers: Vec<String>,
        /// Print JSON: one grade per answers file, in order
        #[arg(long)]
        json: bool,
    },
}

/// What `kvm migrate` and `kvm send` take.
#[derive(clap::Args)]
struct KvmRunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Algorithm (default: the scenario's migration.algorithm); any registered one
    #[arg(long, short)]
    algorithm: Option<String>,
    /// Guest memory (e.g. 64MiB, up to 1GiB); working sets scale with it
    #[arg(long)]
    memory: Option<String>,
    /// Write the run's trace (JSON, the `livemig trace` format) to FILE, or - for stdout
    #[arg(long, value_name = "FILE", value_parser = output::output_path)]
    trace: Option<String>,
    /// Print JSON (the report schema)
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KvmCommand {
    /// Migrate the scenario's guest between two VMs in this process and print its report
    Migrate {
        #[command(flatten)]
        run: KvmRunArgs,
    },
    /// Like `migrate`, but to a `livemig kvm receive` in another process over TCP
    Send {
        /// Address of the receiver, e.g. 127.0.0.1:4444
        #[arg(long, value_name = "ADDR", value_parser = host_port)]
        to: String,
        #[command(flatten)]
        run: KvmRunArgs,
    },
    /// Run the scenario on the real guest and in the simulator, and print both side by side
    Crosscheck {
        #[command(flatten)]
        scenario: ScenarioArgs,
        /// Algorithm (any registered one)
        #[arg(long, short)]
        algorithm: String,
        /// Guest memory (e.g. 64MiB, up to 1GiB); working sets scale with it
        #[arg(long)]
        memory: Option<String>,
        /// Write the real run's trace (JSON, the `livemig trace` format) to FILE
        #[arg(long, value_name = "FILE", value_parser = output::output_path)]
        trace: Option<String>,
        /// Print JSON: { "real": Report, "simulated": Report, "difference": {...} }
        #[arg(long)]
        json: bool,
    },
    /// Migrate an idle and a 20,000 pages/s guest in process and print the times beside the
    /// machine's memcpy and loopback TCP bandwidth
    Bench {
        /// Guest memory (e.g. 64MiB, up to 1GiB)
        #[arg(long, default_value = "1GiB")]
        memory: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The peer of `kvm bench`'s TCP measurement: read ADDR to its end
    #[command(hide = true)]
    BenchSink {
        /// Address to connect to
        addr: String,
    },
    /// Receive one migration over TCP (the destination VM runs in this process), then exit
    Receive {
        /// Address to listen on, e.g. 127.0.0.1:4444 (port 0: any free port, printed)
        #[arg(long, value_name = "ADDR", value_parser = host_port)]
        listen: String,
        /// Longest wait for each message of the migration (e.g. 60, 30s, 2min: 1 ms to 1 day);
        /// a sender silent for longer is cut off
        #[arg(long, value_name = "DURATION", default_value = "60 s", value_parser = parse_timeout)]
        read_timeout: std::time::Duration,
        /// Longest wait for a sender to connect (1 ms to 1 day); then the receiver gives up
        #[arg(long, value_name = "DURATION", default_value = "10 min", value_parser = parse_timeout)]
        accept_timeout: std::time::Duration,
        /// Longest the whole migration may take from the connection (1 ms to 1 day); a sender
        /// slower than that is cut off [default: the scenario's migration.timeout plus 120 s]
        #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
        session_timeout: Option<std::time::Duration>,
    },
}

/// Parses `kvm receive`'s `--read-timeout`, `--accept-timeout` and `--session-timeout`: a
/// duration (a bare number is seconds), 1 ms to 1 day.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let accepted = "accepted 1 ms to 1 day, e.g. 60, 30s or 2min";
    let secs = text.parse::<livemig_core::units::Seconds>().map_err(|e| format!("{e}: {accepted}"))?.0;
    if !(1e-3..=86_400.0).contains(&secs) {
        return Err(format!("is out of range: {accepted}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        // A closed pipe (e.g. `| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Algorithms { name: None, json } => {
            if json {
                let list: Vec<_> = registry()
                    .iter()
                    .map(|a| serde_json::json!({"name": a.name, "family": a.family, "summary": a.summary, "paper": a.paper}))
                    .collect();
                return print(&format!("{}\n", serde_json::to_string_pretty(&list)?));
            }
            let mut text = String::new();
            for a in registry() {
                text += &format!("{:<18} {:<10} {}\n{:<29} paper: {}\n", a.name, a.family, a.summary, "", a.paper);
            }
            print(&text)
        }
        Command::Algorithms { name: Some(name), json } => {
            input::check_algorithm("NAME", &name)?;
            let a = livemig_core::algorithms::find(&name).expect("checked");
            let fixed = |name: &str| a.fixed.iter().find(|f| f.0 == name).map(|f| f.1);
            if json {
                let params: Vec<_> = a
                    .sections()
                    .flat_map(|(section, specs)| specs.iter().map(move |p| (section, p)))
                    .map(|(section, p)| serde_json::json!({"name": p.name, "section": section, "default": fixed(p.name).unwrap_or(p.default), "accepted": p.kind.accepted(), "help": p.help, "fixed": fixed(p.name).is_some()}))
                    .collect();
                return print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"name": a.name, "section": a.section, "summary": a.summary, "paper": a.paper, "params": params})
                    )?
                ));
            }
            let mut text = format!("{} ({}): {}\npaper: {}\n", a.name, a.family, a.summary, a.paper);
            for (section, specs) in a.sections() {
                text += &format!("parameters, set in [params.{section}] or with --set params.{section}.NAME=VALUE:\n");
                for p in specs {
                    text += &format!(
                        "  {:<20} {:<14} {}{}\n  {:<20} accepted: {}\n",
                        p.name,
                        fixed(p.name).unwrap_or(p.default),
                        p.help,
                        if fixed(p.name).is_some() { " (fixed by this variant)" } else { "" },
                        "",
                        p.kind.accepted()
                    );
                }
            }
            print(&text)
        }
        Command::Presets { name: None } => {
            let mut text = String::new();
            for (name, _) in livemig_core::presets::PRESETS {
                let s = livemig_core::presets::preset(name).expect("listed").expect("presets are valid");
                text += &format!("{:<20} {}\n", name, s.description);
            }
            print(&text)
        }
        Command::Presets { name: Some(name) } => match livemig_core::presets::preset_text(&name) {
            Some(t) => print(t),
            None => Err(bad(format!(
                "NAME: unknown preset '{name}': accepted {}",
                livemig_core::presets::PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
            ))),
        },
        Command::Simulate { scenario, algorithm, format: OutputFormat { json, csv }, per_round } => {
            let s = load_scenario(&scenario.scenario, &scenario.set)?;
            if let Some(a) = &algorithm {
                input::check_algorithm("--algorithm", a)?;
            }
            let run = input::simulate(&s, algorithm.as_deref(), TraceDetail::Summary)?;
            if json {
                print(&format!("{}\n", serde_json::to_string_pretty(&run.report)?))
            } else if csv && per_round {
                print(&output::rounds_csv(&run.report)?)
            } else if csv {
                print(&output::summary_csv(&[], &[(vec![], &run.report)])?)
            } else {
                print(&output::report_text(&run.report))
            }
        }
        Command::Compare { scenario, algorithms, format: OutputFormat { json, csv } } => {
            let s = load_scenario(&scenario.scenario, &scenario.set)?;
            let names = input::algorithm_names("--algorithms", algorithms.as_deref(), livemig_core::algorithms::names())?;
            let mut reports = Vec::new();
            for n in &names {
                reports.push(input::simulate(&s, Some(n), TraceDetail::Summary)?.report);
            }
            if json {
                print(&format!("{}\n", serde_json::to_string_pretty(&reports)?))
            } else if csv {
                let rows: Vec<_> = reports.iter().map(|r| (vec![], r)).collect();
                print(&output::summary_csv(&[], &rows)?)
            } else {
                print(&output::compare_text(&format!("{} (seed {})", s.name, s.seed), &reports))
            }
        }
        Command::Sweep { scenario, vary, log, algorithms, format: OutputFormat { json, csv } } => {
            let s = load_scenario(&scenario.scenario, &scenario.set)?;
            let names = input::algorithm_names("--algorithms", algorithms.as_deref(), vec![])?;
            let names = if names.is_empty() {
                input::check_algorithm("migration.algorithm", &s.migration.algorithm)?;
                vec![s.migration.algorithm.clone()]
            } else {
                names
            };
            let vary = sweep::parse_vary(&vary, log)?;
            let points = sweep::run(&s, &vary, &names)?;
            if json {
                let list: Vec<_> =
                    points.iter().map(|p| serde_json::json!({"key": vary.key, "value": p.value, "report": p.report})).collect();
                print(&format!("{}\n", serde_json::to_string_pretty(&list)?))
            } else if csv {
                let rows: Vec<_> = points.iter().map(|p| (vec![p.value.clone()], &p.report)).collect();
                print(&output::summary_csv(&[vary.key.as_str()], &rows)?)
            } else {
                let mut t = comfy_table::Table::new();
                t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY).set_header(vec![
                    vary.key.as_str(),
                    "algorithm",
                    "total time",
                    "downtime",
                    "data sent",
                    "rounds",
                    "faults",
                    "converged",
                ]);
                for p in &points {
                    let r = &p.report;
                    t.add_row(vec![
                        p.value.clone(),
                        r.algorithm.clone(),
                        Quantity::Duration.show(r.total_time_s),
                        Quantity::Duration.show(r.downtime_s),
                        Quantity::Size.show(r.bytes_sent as f64),
                        r.rounds.to_string(),
                        r.network_faults.to_string(),
                        if r.converged { "yes" } else { "no" }.into(),
                    ]);
                }
                print(&format!("{} (seed {}), varying {}\n{t}\n", s.name, s.seed, vary.key))
            }
        }
        Command::Trace { scenario, algorithm, output, detail } => {
            output::check_output("--output", &output)?;
            let s = load_scenario(&scenario.scenario, &scenario.set)?;
            if let Some(a) = &algorithm {
                input::check_algorithm("--algorithm", a)?;
            }
            let detail = match detail {
                Detail::Summary => TraceDetail::Summary,
                Detail::Pages => TraceDetail::Pages,
                Detail::Accesses => TraceDetail::Accesses,
            };
            let run = input::simulate(&s, algorithm.as_deref(), detail)?;
            // Serialised straight into the file (never as one string in memory).
            output::write_output("--output", &output, |w| {
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
        Command::Kvm { command: KvmCommand::Migrate { run } } => {
            kvm_run(&run.scenario, run.algorithm.as_deref(), run.memory.as_deref(), run.trace.as_deref(), run.json, None)
        }
        Command::Kvm { command: KvmCommand::Send { to, run } } => {
            kvm_run(&run.scenario, run.algorithm.as_deref(), run.memory.as_deref(), run.trace.as_deref(), run.json, Some(to))
        }
        Command::Kvm { command: KvmCommand::Crosscheck { scenario, algorithm, memory, trace, json } } => {
            if trace.as_deref() == Some("-") {
                return Err(bad("--trace: '-' is not accepted here: accepted a file path"));
            }
            if let Some(t) = &trace {
                output::check_output("--trace", &format!("{t}.scenario.json"))?;
            }
            let options = livemig_runner::kvm::context::KvmOptions::default();
            let (run, s) =
                kvm_cli::kvm_migrate(&scenario.scenario, &scenario.set, Some(&algorithm), memory.as_deref(), trace.as_deref(), options)?;
            let sim = input::simulate(&s, Some(&algorithm), livemig_core::trace::TraceDetail::Summary)?;
            if json {
                print(&format!("{}\n", serde_json::to_string_pretty(&kvm_cli::crosscheck_json(&run.report, &sim.report))?))?;
            } else {
                let mut text = kvm_cli::crosscheck_text(&run.report, &sim.report);
                if let Some(t) = &trace {
                    let scenario_path = format!("{t}.scenario.json");
                    output::write_output("--trace", &scenario_path, |w| {
                        serde_json::to_writer_pretty(&mut *w, &s)?;
                        Ok(())
                    })?;
                    text += &format!(
                        "real trace written to {t}; the scenario as run is in {scenario_path}; the simulated trace: livemig trace {scenario_path} -a {algorithm} -o FILE\n"
                    );
                }
                print(&text)?;
            }
            eprintln!("{}", kvm_cli::kvm_notes(&run));
            if !run.report.verified {
                anyhow::bail!("the real migration was not verified (see above)");
            }
            Ok(())
        }
        Command::Kvm { command: KvmCommand::Bench { memory, json } } => {
            let b = kvm_bench::bench(Some(&memory))?;
            if json {
                print(&format!("{}\n", serde_json::to_string_pretty(&b)?))
            } else {
                print(&kvm_bench::text(&b))
            }
        }
        Command::Kvm { command: KvmCommand::BenchSink { addr } } => kvm_bench::sink(&addr),
        Command::Kvm { command: KvmCommand::Receive { listen, read_timeout, accept_timeout, session_timeout } } => {
            let listener = std::net::TcpListener::bind(&listen)
                .map_err(|e| bad(format!("--listen: cannot listen on '{listen}': {e}: accepted HOST:PORT")))?;
            eprintln!("livemig: listening on {}", listener.local_addr()?);
            let options = livemig_runner::kvm::remote::ReceiveOptions { read_timeout, accept_timeout, session_timeout };
            let served = livemig_runner::kvm::remote::serve(&listener, &options)?;
            let c = served.continuation.expect("a served migration ends with its continuation check");
            print(&format!(
                "received {} ({} page records); the guest ran on to batch {}: {}\n",
                served.scenario,
                served.records,
                c.batch,
                if c.ok {
                    "matched a reference run without migration".to_string()
                } else {
                    format!("DIFFERED from a reference run in {} pages", c.mismatches)
                }
            ))
        }
        Command::Qemu { command } => qemu_cli::run(command),
        Command::Model { scenario } => model(&scenario),
        Command::Fidelity { no_kvm, no_qemu, no_papers, json } => {
            let mut f = fidelity::Fidelity::default();
            eprintln!("fidelity: the closed form ...");
            fidelity::closed_form(&mut f)?;
            if !no_kvm {
                eprintln!("fidelity: the KVM runner ...");
                fidelity::kvm(&mut f)?;
            }
            if !no_qemu {
                eprintln!("fidelity: QEMU (calibration, then three migrations) ...");
                fidelity::qemu(&mut f)?;
            }
            if !no_papers {
                eprintln!("fidelity: the papers' experiments ...");
                fidelity::papers(&mut f)?;
            }
            if json {
                print(&format!("{}\n", serde_json::to_string_pretty(&f)?))
            } else {
                print(&fidelity::text(&f))
            }
        }
        Command::Assignment { command } => assignment(command),
        Command::Experiment { name, cases, json } => experiment(&name, cases, json),
        Command::Bench { corner: Some(name), .. } => corners::run_one(&name),
        Command::Bench { corners: true, json, .. } => print(&corners::run_all(json)?),
        Command::Bench { one: Some(one), .. } => {
            let gib: u64 = one[0].parse().map_err(|_| bad(format!("--one: '{}' is not a size in GiB", one[0])))?;
            input::check_algorithm("--one", &one[1])?;
            bench::run_one(gib, &one[1])
        }
        Command::Bench { codecs: true, json, .. } => print(&bench::codecs(json)?),
        Command::Bench { sizes, algorithms, json, .. } => {
            let names = input::algorithm_names("--algorithms", Some(&algorithms), vec![])?;
            bench::run_all(&sizes, &names, json)?;
            // The JSON stays the list of simulator cases; `--codecs --json` gives the codecs'.
            if json {
                return Ok(());
            }
            print(&format!("\n{}", bench::codecs(false)?))
        }
    }
}

/// `livemig kvm migrate` and `livemig kvm send`.
fn kvm_run(
    scenario: &ScenarioArgs,
    algorithm: Option<&str>,
    memory: Option<&str>,
    trace: Option<&str>,
    json: bool,
    to: Option<String>,
) -> anyhow::Result<()> {
    let options = livemig_runner::kvm::context::KvmOptions { to, ..Default::default() };
    let (run, _) = kvm_cli::kvm_migrate(&scenario.scenario, &scenario.set, algorithm, memory, trace, options)?;
    if trace != Some("-") {
        if json {
            print(&format!("{}\n", serde_json::to_string_pretty(&run.report)?))?;
        } else {
            print(&output::report_text(&run.report))?;
        }
    }
    eprintln!("{}", kvm_cli::kvm_notes(&run));
    if !run.report.completed {
        anyhow::bail!("the migration did not complete: {}", run.report.stop_reason);
    }
    if !run.report.verified {
        anyhow::bail!("the migration was not verified (see above)");
    }
    Ok(())
}

fn assignment(command: AssignmentCommand) -> anyhow::Result<()> {
    match command {
        AssignmentCommand::List => print(&assignment_cli::list()?),
        AssignmentCommand::Show { assignment } => print(&assignment_cli::show(&assignment_cli::load(&assignment)?)),
        AssignmentCommand::Template { assignment } => print(&assignment_cli::load(&assignment)?.answers_template()),
        AssignmentCommand::Scenario { assignment, scenario } => {
            print(&assignment_cli::scenario(&assignment_cli::load(&assignment)?, &scenario)?)
        }
        AssignmentCommand::Check { assignment, answers, json } => {
            let a = assignment_cli::load(&assignment)?;
            let (text, any_bad, any_failed) = assignment_cli::check(&a, &answers, json)?;
            print(&text)?;
            if any_bad {
                return Err(bad("ANSWERS: some answers files could not be graded (see above)"));
            }
            match (any_failed, answers.len()) {
                (0, _) => {}
                (_, 1) => anyhow::bail!("not every task passed"),
                (n, total) => anyhow::bail!("{n} of {total} answers files did not pass every task"),
            }
            Ok(())
        }
    }
}

fn experiment(name: &str, with_cases: bool, json: bool) -> anyhow::Result<()> {
    use livemig_core::experiment::{experiment, EXPERIMENTS};
    if name == "list" {
        let mut text = String::new();
        for (n, _) in EXPERIMENTS {
            let spec = experiment(n)?;
            text += &format!("{n:<12} {}\n{:<12} paper: {}\n", spec.title, "", spec.paper);
        }
        return print(&text);
    }
    let names: Vec<&str> = if name == "all" { EXPERIMENTS.iter().map(|e| e.0).collect() } else { vec![name] };
    let specs = names.iter().map(|n| experiment(n).map_err(|e| bad(format!("NAME: {e}")))).collect::<anyhow::Result<Vec<_>>>()?;
    let mut results = Vec::new();
    for spec in &specs {
        eprintln!("experiment {} ...", spec.name);
        let t0 = std::time::Instant::now();
        let result = spec.run()?;
        eprintln!("experiment {}: {} simulations in {:.1} s", spec.name, result.runs, t0.elapsed().as_secs_f64());
        results.push(result);
    }
    if json {
        return print(&format!("{}\n", serde_json::to_string_pretty(&results)?));
    }
    let text: Vec<String> = results.iter().map(|r| output::experiment_text(r, with_cases)).collect();
    print(&text.join("\n"))
}

fn model(args: &ScenarioArgs) -> anyhow::Result<()> {
    let s = load_scenario(&args.scenario, &args.set)?;
    let m = GeometricModel::for_scenario(&s).map_err(|e| bad(e.to_string()))?;
    let p = m.predict();
    let run = input::simulate(&s, Some("precopy-xen"), TraceDetail::Summary)?;
    let r = &run.report;
    let rel = |sim: f64, model: f64| if model == 0.0 { "-".to_string() } else { format!("{:+.1}%", (sim - model) / model * 100.0) };
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY).set_header(vec!["", "model", "simulator", "difference"]);
    t.add_row(vec!["λ = dirty rate / transfer rate".to_string(), format!("{:.3}", m.lambda()), String::new(), String::new()]);
    t.add_row(vec!["rounds".to_string(), p.rounds.to_string(), r.rounds.to_string(), rel(r.rounds as f64, p.rounds as f64)]);
    t.add_row(vec![
        "pages sent".to_string(),
        format!("{:.0}", p.total_pages),
        r.pages_sent.to_string(),
        rel(r.pages_sent as f64, p.total_pages),
    ]);
    t.add_row(vec![
        "data sent".to_string(),
        Quantity::Size.show(p.total_bytes),
        Quantity::Size.show(r.bytes_sent as f64),
        rel(r.bytes_sent as f64, p.total_bytes),
    ]);
    t.add_row(vec![
        "total time".to_string(),
        Quantity::Duration.show(p.total_time_s),
        Quantity::Duration.show(r.total_time_s),
        rel(r.total_time_s, p.total_time_s),
    ]);
    t.add_row(vec![
        "downtime".to_string(),
        Quantity::Duration.show(p.downtime_s),
        Quantity::Duration.show(r.downtime_s),
        rel(r.downtime_s, p.downtime_s),
    ]);
    let mut text = format!("{}: geometric pre-copy model (Xen stop rules) against the simulated precopy-xen\n{t}\n", s.name);
    text += "The model assumes every write hits a distinct clean page; workloads that rewrite dirty pages\n\
             (uniform, hot-cold) dirty fewer pages than it predicts, and Xen's skip rule holds pages back.\n\
             See core/src/model.rs for where and why the two differ.\n";
    print(&text)
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
    match run(cli) {
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
