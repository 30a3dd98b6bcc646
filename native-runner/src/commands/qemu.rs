//! `livemig qemu ...`: a scenario's workload on a real guest, migrated between two local QEMU
//! processes (see `livemig_runner::qemu`).

use crate::input::{bad, load_scenario};
use livemig_core::units::ByteSize;
use livemig_core::units::Quantity;
use livemig_runner::qemu::config::{config_for, ALGORITHMS};
use livemig_runner::qemu::guest::{MAX_MEMORY, MIN_MEMORY};
use livemig_runner::qemu::report::QemuReport;
use livemig_runner::qemu::{self, QemuError, QemuOptions};

/// The guest's memory when `--memory` is not given (the scenario's `vm.memory` is not used: the
/// presets' 1-4 GiB would make every run slow).
pub const DEFAULT_MEMORY: u64 = 512 << 20;

/// What `livemig qemu run` and `crosscheck` take: the scenario, the algorithm, the guest.
#[derive(clap::Args)]
pub struct GuestArgs {
    /// Scenario file (TOML or JSON) or preset name (see `livemig presets`)
    scenario: String,
    /// precopy-qemu, xbzrle or postcopy-qemu
    #[arg(long, short)]
    algorithm: String,
    /// Guest memory, 8MiB to 3GiB (default 512MiB, whatever the scenario's vm.memory says;
    /// working sets and free memory scale with it)
    #[arg(long)]
    memory: Option<String>,
    /// Override a scenario field, e.g. --set params.precopy.downtime_limit=50ms
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print JSON (`run`: the report schema, plus a `qemu` object)
    #[arg(long)]
    json: bool,
}

/// `livemig qemu` subcommands.
#[derive(clap::Subcommand)]
pub enum QemuCommand {
    /// Migrate the scenario's workload between two QEMU processes over 127.0.0.1 and print
    /// QEMU's figures in the report schema
    Run(GuestArgs),
    /// Run the scenario on QEMU and in the simulator (with the matching algorithm, on a model
    /// of this host measured first) and print both with the relative difference
    Crosscheck(GuestArgs),
    /// Measure this host's model of QEMU's sender (idle migrations and loopback TCP)
    Calibrate {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Hold the simulator against QEMU over a grid of workloads, rate caps and modes (about
    /// half an hour with 3 runs a cell) and print the error per cell
    Matrix {
        /// QEMU runs per cell (the median and min-max are printed)
        #[arg(long, default_value_t = 3, value_parser = runs_arg)]
        runs: usize,
        /// Only the cells whose name contains this, e.g. "| xbzrle" or "uniform 50000/s"
        #[arg(long)]
        cells: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// Clap's value parser for `qemu matrix --runs`: 1 to 100 runs a cell.
fn runs_arg(text: &str) -> Result<usize, String> {
    crate::usage::whole_number(text, 1, 100).map(|n| n as usize)
}

/// Parses `--memory`: whole MiB from [`MIN_MEMORY`] to [`MAX_MEMORY`].
fn parse_memory(text: &str) -> anyhow::Result<u64> {
    crate::input::parse_size(
        "--memory",
        text,
        MIN_MEMORY..=MAX_MEMORY,
        1 << 20,
        "accepted a size from 8 MiB to 3 GiB in whole MiB, e.g. 512MiB",
    )
}

/// The scenario a QEMU guest of `--memory` (default [`DEFAULT_MEMORY`]) runs, checked for the
/// algorithm.
fn guest_scenario(args: &GuestArgs) -> anyhow::Result<livemig_core::Scenario> {
    let memory = args.memory.as_deref().map(parse_memory).transpose()?.unwrap_or(DEFAULT_MEMORY);
    let mut s = load_scenario(&args.scenario, &args.set)?;
    let algorithm = args.algorithm.as_str();
    if !ALGORITHMS.contains(&algorithm) {
        return Err(bad(format!("--algorithm: QEMU has no '{algorithm}': accepted {}", ALGORITHMS.join(", "))));
    }
    livemig_runner::resize_guest(&mut s, memory);
    s.validate().map_err(|e| bad(format!("with --memory {}: {e}", ByteSize(memory))))?;
    config_for(&s, algorithm).map_err(|e| bad(e.to_string()))?;
    Ok(s)
}

/// Runs a `livemig qemu` subcommand.
pub fn run(command: QemuCommand) -> anyhow::Result<()> {
    let args = match command {
        QemuCommand::Run(args) => args,
        QemuCommand::Crosscheck(args) => {
            let s = guest_scenario(&args)?;
            return crate::commands::qemu_compare::run_crosscheck(&s, &args.algorithm, args.json);
        }
        QemuCommand::Calibrate { json } => {
            let host = crate::commands::qemu_compare::calibrate(json)?;
            return if json { crate::output::print_json(&host) } else { Ok(()) };
        }
        QemuCommand::Matrix { runs, cells, json } => return crate::commands::qemu_compare::run_matrix(runs, cells.as_deref(), json),
    };
    let s = guest_scenario(&args)?;
    let config = config_for(&s, &args.algorithm).map_err(|e| bad(e.to_string()))?;
    let report = match qemu::run::migrate(&s, &config, &QemuOptions::default()) {
        Ok(r) => r,
        Err(QemuError::Unsupported(m)) => return Err(bad(m)),
        Err(e) => return Err(e.into()),
    };
    if args.json {
        crate::output::print_json(&report)?;
    } else {
        crate::output::print(&text(&report))?;
    }
    if !report.report.completed {
        anyhow::bail!("the migration did not complete: {}", report.report.stop_reason);
    }
    if !report.report.verified {
        anyhow::bail!("the migration was not verified (see above)");
    }
    Ok(())
}

fn opt_secs(s: Option<f64>) -> String {
    s.map_or_else(|| "-".to_string(), |s| Quantity::Duration.show(s))
}

/// The report for people.
pub fn text(q: &QemuReport) -> String {
    let r = &q.report;
    let d = &q.qemu;
    let g = &d.guest;
    let mut t = crate::output::table(&["metric", "value"]);
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let mut rows: Vec<(&str, String)> = vec![
        ("status", d.status.clone()),
        ("total time (QEMU)", opt_secs(d.total_time_s)),
        ("downtime (QEMU)", opt_secs(d.downtime_s)),
        ("downtime seen by the guest", opt_secs(d.guest_seen_downtime_s)),
        ("setup time", opt_secs(d.setup_time_s)),
        ("data transferred", Quantity::Size.show(d.ram.transferred as f64)),
        ("pages sent whole", d.ram.normal.to_string()),
        ("zero pages", d.ram.duplicate.to_string()),
        ("dirty syncs", d.ram.dirty_sync_count.to_string()),
    ];
    if let Some(x) = &d.xbzrle {
        rows.push(("XBZRLE pages / bytes", format!("{} / {}", x.pages, Quantity::Size.show(x.bytes as f64))));
        rows.push(("XBZRLE cache misses / overflows", format!("{} / {}", x.cache_miss, x.overflow)));
    }
    if d.config.precopy_passes.is_some() {
        rows.push(("post-copy started", opt_secs(d.postcopy_started_s)));
        rows.push(("post-copy page requests", d.ram.postcopy_requests.to_string()));
        rows.push(("post-copy vCPU blocktime", opt_secs(d.postcopy_blocktime_s)));
    }
    if d.config.auto_converge.is_some() {
        rows.push(("max throttle", format!("{}%", d.max_throttle_pct)));
    }
    rows.extend([
        ("converged", yes(r.converged)),
        ("completed", yes(r.completed)),
        ("verified", yes(r.verified)),
        ("stop reason", r.stop_reason.clone()),
    ]);
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    let mut out = format!(
        "{} on {} (seed {}), QEMU {}, {} guest, downtime limit {} ms, max bandwidth {}/s\n{t}\n",
        r.algorithm,
        r.scenario,
        r.seed,
        d.qemu_version,
        Quantity::Size.show(d.memory as f64),
        d.config.downtime_limit_ms,
        Quantity::Size.show(d.config.max_bandwidth as f64)
    );
    if !d.per_sync.is_empty() {
        let mut s = crate::output::table(&["sync", "time", "transferred", "remaining", "dirty pages/s", "status"]);
        for x in &d.per_sync {
            s.add_row(vec![
                x.dirty_sync_count.to_string(),
                Quantity::Duration.show(x.t_s),
                Quantity::Size.show(x.transferred as f64),
                Quantity::Size.show(x.remaining as f64),
                x.dirty_pages_rate.to_string(),
                x.status.clone(),
            ]);
        }
        out += &format!("{s}\n");
    }
    if let Some(v) = &d.verification {
        out += &format!(
            "check: {} of {} pages differ from a run without migration, replayed to the guest's write {} ({} pages written){}\n",
            v.mismatched_pages,
            v.pages_checked,
            v.writes,
            v.written_pages,
            if v.state_ok { "" } else { "; the guest's counter or LCG state is wrong" }
        );
        for m in &v.mismatches {
            out += &format!("  {m}\n");
        }
    }
    if let Some(c) = &d.continuation {
        out += &format!(
            "after cont: writes {} -> {}, heartbeat {} -> {} in {} ({})\n",
            c.writes_before,
            c.writes_after,
            c.heartbeat_before,
            c.heartbeat_after,
            Quantity::Duration.show(c.interval_s),
            if c.ok { "running" } else { "NOT running" }
        );
    }
    out += &format!(
        "guest: {:.0} writes/s asked, {:.0} achieved; {:.0} reads/s asked, {:.0} achieved; guest TSC {:.4} x host TSC ({:.1} MHz); booted in {}; fell behind {} times\n",
        g.write_rate,
        g.achieved_write_rate,
        g.read_rate,
        g.achieved_read_rate,
        g.guest_tsc_hz / g.tsc_hz.max(1) as f64,
        g.tsc_hz as f64 / 1e6,
        Quantity::Duration.show(g.boot_s),
        g.late
    );
    out
}
