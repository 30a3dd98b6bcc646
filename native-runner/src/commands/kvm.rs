//! `livemig kvm ...`: migrations of a real KVM guest (see `livemig_runner::kvm`).

use super::{kvm_bench, ScenarioArgs};
use crate::input::{bad, check_algorithm, load_scenario, simulate};
use crate::output::{check_output, print, print_json, report_text, write_output};
use livemig_core::trace::TraceDetail;
use livemig_core::units::{ByteSize, Quantity};
use livemig_core::Scenario;
use livemig_runner::kvm::context::{migrate_or_abort, KvmOptions, KvmRun, MigrateError};
use livemig_runner::kvm::crosscheck;
use livemig_runner::kvm::remote::ReceiveOptions;

/// What `kvm migrate` and `kvm send` take.
#[derive(clap::Args)]
pub struct KvmRunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Algorithm (default: the scenario's migration.algorithm); any registered one
    #[arg(long, short)]
    algorithm: Option<String>,
    /// Guest memory (e.g. 64MiB, up to 1GiB); working sets scale with it
    #[arg(long)]
    memory: Option<String>,
    /// Write the run's trace (JSON, the `livemig trace` format) to FILE, or - for stdout
    #[arg(long, value_name = "FILE", value_parser = crate::output::output_path)]
    trace: Option<String>,
    /// Print JSON (the report schema)
    #[arg(long)]
    json: bool,
}

/// `livemig kvm` subcommands.
#[derive(clap::Subcommand)]
pub enum KvmCommand {
    /// Migrate the scenario's guest between two VMs in this process and print its report
    Migrate {
        #[command(flatten)]
        run: KvmRunArgs,
    },
    /// Like `migrate`, but to a `livemig kvm receive` in another process over TCP
    Send {
        /// Address of the receiver, e.g. 127.0.0.1:4444
        #[arg(long, value_name = "ADDR", value_parser = crate::usage::host_port)]
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
        #[arg(long, value_name = "FILE", value_parser = crate::output::output_path)]
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
        #[arg(long, value_name = "ADDR", value_parser = crate::usage::host_port)]
        listen: String,
        /// Longest wait for each message of the migration (e.g. 60, 30s, 2min: 1 ms to 1 day);
        /// a sender silent for longer is cut off
        #[arg(long, value_name = "DURATION", default_value = "60 s", value_parser = crate::usage::duration_arg)]
        read_timeout: std::time::Duration,
        /// Longest wait for a sender to connect (1 ms to 1 day); then the receiver gives up
        #[arg(long, value_name = "DURATION", default_value = "10 min", value_parser = crate::usage::duration_arg)]
        accept_timeout: std::time::Duration,
        /// Longest the whole migration may take from the connection (1 ms to 1 day); a sender
        /// slower than that is cut off [default: the scenario's migration.timeout plus 120 s]
        #[arg(long, value_name = "DURATION", value_parser = crate::usage::duration_arg)]
        session_timeout: Option<std::time::Duration>,
    },
}

/// Runs a `livemig kvm` subcommand.
pub fn run(command: KvmCommand) -> anyhow::Result<()> {
    match command {
        KvmCommand::Migrate { run } => migrate(&run, None),
        KvmCommand::Send { to, run } => migrate(&run, Some(to)),
        KvmCommand::Crosscheck { scenario, algorithm, memory, trace, json } => {
            crosscheck_run(&scenario, &algorithm, memory.as_deref(), trace.as_deref(), json)
        }
        KvmCommand::Bench { memory, json } => {
            let b = kvm_bench::bench(Some(&memory))?;
            if json {
                print_json(&b)
            } else {
                print(&kvm_bench::text(&b))
            }
        }
        KvmCommand::BenchSink { addr } => kvm_bench::sink(&addr),
        KvmCommand::Receive { listen, read_timeout, accept_timeout, session_timeout } => {
            receive(&listen, ReceiveOptions { read_timeout, accept_timeout, session_timeout })
        }
    }
}

/// `livemig kvm migrate` and `livemig kvm send` (`to`: the receiver's address).
fn migrate(args: &KvmRunArgs, to: Option<String>) -> anyhow::Result<()> {
    let trace = args.trace.as_deref();
    let options = KvmOptions { to, ..Default::default() };
    let (run, _) =
        kvm_migrate(&args.scenario.scenario, &args.scenario.set, args.algorithm.as_deref(), args.memory.as_deref(), trace, options)?;
    if trace != Some("-") {
        if args.json {
            print_json(&run.report)?;
        } else {
            print(&report_text(&run.report))?;
        }
    }
    eprintln!("{}", kvm_notes(&run));
    if !run.report.completed {
        anyhow::bail!("the migration did not complete: {}", run.report.stop_reason);
    }
    if !run.report.verified {
        anyhow::bail!("the migration was not verified (see above)");
    }
    Ok(())
}

/// `livemig kvm crosscheck`: the real run, then the simulated one, side by side.
fn crosscheck_run(scenario: &ScenarioArgs, algorithm: &str, memory: Option<&str>, trace: Option<&str>, json: bool) -> anyhow::Result<()> {
    if trace == Some("-") {
        return Err(bad("--trace: '-' is not accepted here: accepted a file path"));
    }
    if let Some(t) = trace {
        check_output("--trace", &format!("{t}.scenario.json"))?;
    }
    let (run, s) = kvm_migrate(&scenario.scenario, &scenario.set, Some(algorithm), memory, trace, KvmOptions::default())?;
    let sim = simulate(&s, Some(algorithm), TraceDetail::Summary)?;
    if json {
        print_json(&crosscheck::json(&run.report, &sim.report))?;
    } else {
        let mut text = crosscheck_text(&run.report, &sim.report);
        if let Some(t) = trace {
            let scenario_path = format!("{t}.scenario.json");
            write_output("--trace", &scenario_path, |w| {
                serde_json::to_writer_pretty(&mut *w, &s)?;
                Ok(())
            })?;
            text += &format!(
                "real trace written to {t}; the scenario as run is in {scenario_path}; the simulated trace: livemig trace {scenario_path} -a {algorithm} -o FILE\n"
            );
        }
        print(&text)?;
    }
    eprintln!("{}", kvm_notes(&run));
    if !run.report.verified {
        anyhow::bail!("the real migration was not verified (see above)");
    }
    Ok(())
}

/// `livemig kvm receive`: one migration over TCP, then the continuation check's verdict.
fn receive(listen: &str, options: ReceiveOptions) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(listen).map_err(|e| bad(format!("--listen: cannot listen on '{listen}': {e}: accepted HOST:PORT")))?;
    eprintln!("livemig: listening on {}", listener.local_addr()?);
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

/// Largest guest the KVM backend runs (its 32-bit guest reaches 4 GiB; 1 GiB is what is tested).
pub const MAX_KVM_MEMORY: u64 = 1 << 30;
/// Smallest guest: the guest program's pages and a few pages of working set.
pub const MIN_KVM_MEMORY: u64 = 64 << 10;

/// Parses `--memory`: whole 4 KiB pages from [`MIN_KVM_MEMORY`] to [`MAX_KVM_MEMORY`].
pub fn parse_memory(text: &str) -> anyhow::Result<u64> {
    let accepted = "accepted a size from 64 KiB to 1 GiB in whole 4 KiB pages, e.g. 64MiB";
    crate::input::parse_size("--memory", text, MIN_KVM_MEMORY..=MAX_KVM_MEMORY, 4096, accepted)
}

/// `livemig kvm migrate`.
pub fn kvm_migrate(
    scenario: &str,
    set: &[String],
    algorithm: Option<&str>,
    memory: Option<&str>,
    trace: Option<&str>,
    options: KvmOptions,
) -> anyhow::Result<(KvmRun, Scenario)> {
    if let Some(path) = trace {
        check_output("--trace", path)?;
    }
    let memory = memory.map(parse_memory).transpose()?;
    let mut s = load_scenario(scenario, set)?;
    if let Some(a) = algorithm {
        check_algorithm("--algorithm", a)?;
    }
    if let Some(b) = memory {
        livemig_runner::resize_guest(&mut s, b);
        s.validate().map_err(|e| bad(format!("with --memory {}: {e}", ByteSize(b))))?;
    } else if s.vm.memory.0 > MAX_KVM_MEMORY {
        return Err(bad(format!(
            "vm.memory: {} is too large for the KVM backend: accepted up to 1 GiB (use --memory SIZE to scale the scenario)",
            s.vm.memory
        )));
    }
    let detail = if trace.is_some() { TraceDetail::Pages } else { TraceDetail::Summary };
    let run = migrate_or_abort(&s, algorithm, KvmOptions { detail, ..options }).map_err(|a| match a.error {
        MigrateError::BadInput(m) => bad(m),
        other if a.source.is_some() => {
            anyhow::anyhow!("{other}: the migration was aborted before the switch-over and the source guest was left running")
        }
        other => anyhow::Error::new(other),
    })?;
    if let Some(path) = trace {
        write_output("--trace", path, |w| {
            serde_json::to_writer(&mut *w, &run.trace)?;
            Ok(writeln!(w)?)
        })?;
    }
    Ok((run, s))
}

/// The lines printed on standard error after a KVM run: what verification found and how fast
/// the guest ran.
pub fn kvm_notes(run: &KvmRun) -> String {
    let v = &run.verification;
    if v.continuation_ok.is_none() {
        return format!("kvm: no switch-over (the destination never resumed); source guest wrote {:.0} pages/s", run.source_write_rate);
    }
    let cont = match v.continuation_ok {
        Some(true) => format!("the destination guest matched a reference run without migration at batch {}", v.continuation_batch),
        Some(false) if v.continuation_mismatches == 0 => "the continuation check failed (see below)".to_string(),
        Some(false) => format!("the destination guest DIFFERED from a reference run in {} pages", v.continuation_mismatches),
        None => "the destination never resumed".to_string(),
    };
    let absent = if v.absent_at_resume > 0 { format!(", {} absent at resume (post-copy)", v.absent_at_resume) } else { String::new() };
    let mut text = format!(
        "kvm: switch-over check: {} of {} pages differ{absent} (checked in {:.1} ms); {cont}; source guest wrote {:.0} pages/s",
        v.mismatched_pages,
        run.trace.page_count - v.absent_at_resume,
        v.verify_s * 1e3,
        run.source_write_rate
    );
    if run.late_batches > 0 {
        text += &format!("; the guest ran more than 20 ms behind its pacing {} times", run.late_batches);
    }
    for e in &v.decode_errors {
        text += &format!("\nkvm: {e}");
    }
    text
}

/// Rounds shown in the crosscheck's per-round list.
const CROSSCHECK_ROUNDS: usize = 8;

fn per_round_list(r: &livemig_core::Report) -> String {
    let mut items: Vec<String> = r.per_round.iter().take(CROSSCHECK_ROUNDS).map(|x| x.pages_sent.to_string()).collect();
    if r.per_round.len() > CROSSCHECK_ROUNDS {
        items.push(format!("... (+{})", r.per_round.len() - CROSSCHECK_ROUNDS));
    }
    items.join(",")
}

/// `livemig kvm crosscheck`'s table.
pub fn crosscheck_text(real: &livemig_core::Report, sim: &livemig_core::Report) -> String {
    let fmt = |name: &str, v: f64| Quantity::of_metric(name).show(v);
    let pct = |d: Option<f64>| d.map_or_else(|| "n/a".to_string(), |d| format!("{d:+.1}%"));
    let mut t = format!("crosscheck: {} on {} (real KVM guest vs simulator)\n", real.algorithm, real.scenario);
    t += &format!("{:<16} {:>16} {:>16} {:>10}\n", "metric", "real", "simulated", "diff");
    for (name, r, s) in crosscheck::rows(real, sim) {
        t += &format!("{:<16} {:>16} {:>16} {:>10}\n", name, fmt(name, r), fmt(name, s), pct(crosscheck::relative_difference(r, s)));
    }
    t += &format!(
        "{:<16} {:>16} {:>16} {:>10}\n",
        "verified",
        real.verified,
        sim.verified,
        if real.verified == sim.verified { "same" } else { "differ" }
    );
    t += &format!(
        "pages per round (first {CROSSCHECK_ROUNDS}):\n  real:      {}\n  simulated: {}\n",
        per_round_list(real),
        per_round_list(sim)
    );
    let diffs: Vec<String> = (0..CROSSCHECK_ROUNDS.min(real.per_round.len().max(sim.per_round.len())))
        .map(|i| {
            let r = real.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            let s = sim.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            pct(crosscheck::relative_difference(r, s))
        })
        .collect();
    t += &format!("  diff:      {}\n", diffs.join(","));
    t
}
