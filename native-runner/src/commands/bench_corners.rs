//! `livemig bench --corners`: the slowest legal corners of the scenario space, each run in its
//! own process, with its wall time and peak resident memory.
//!
//! A corner is a preset pushed to an edge of what `livemig` accepts: the caps of
//! `livemig_core::cost` (guest accesses, pages, trace size), the slowest link against the
//! longest timeout, the largest VM on the fastest link. Corners over a cap are refused before
//! any work, and the table shows how fast; corners at a cap run, and the table shows what that
//! costs. Each runs as `livemig bench --corner NAME` so that its peak memory (`VmHWM`) is its own.

use anyhow::Context;
use comfy_table::CellAlignment;
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One corner: a preset, overrides, an algorithm and the detail it records.
pub struct Corner {
    /// Short name (`livemig bench --corner NAME`).
    pub name: &'static str,
    /// What it pushes to the edge, for people.
    pub what: &'static str,
    /// The preset.
    pub preset: &'static str,
    /// `--set` overrides.
    pub set: &'static [&'static str],
    /// The algorithm.
    pub algorithm: &'static str,
    /// `Summary` for a simulation; `Pages` or `Accesses` writes a trace file at that detail.
    pub detail: TraceDetail,
}

/// The corners, slowest legal ones first.
pub const CORNERS: &[Corner] = &[
    Corner {
        name: "accesses-cap-qemu",
        what: "1.6e6 uniform writes/s for the 600 s timeout (the accesses cap), QEMU pre-copy never converges",
        preset: "web-server",
        set: &["workload.pattern=\"uniform\"", "workload.write_rate=1.6e6"],
        algorithm: "precopy-qemu",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "accesses-cap-xen",
        what: "the same guest under Xen pre-copy (stops at its round cap)",
        preset: "web-server",
        set: &["workload.pattern=\"uniform\"", "workload.write_rate=1.6e6"],
        algorithm: "precopy-xen",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "accesses-cap-demand",
        what: "1.6e6 reads/s on the destination for the 600 s timeout, demand paging",
        preset: "web-server",
        set: &["workload.read_rate=1.6e6"],
        algorithm: "postcopy-demand",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "pages-cap-xen",
        what: "256 GiB in 4 KiB pages (the pages cap) on a 10 Tbit/s link",
        preset: "idle-vm",
        set: &["vm.memory=\"256 GiB\"", "link.bandwidth=\"10 Tbit/s\""],
        algorithm: "precopy-xen",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "pages-cap-bubbling",
        what: "the same VM, post-copy with bubbling",
        preset: "idle-vm",
        set: &["vm.memory=\"256 GiB\"", "link.bandwidth=\"10 Tbit/s\""],
        algorithm: "postcopy-bubbling",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "trace-cap-accesses",
        what: "a trace of every destination access, 130 s of web-server (the 512 MiB trace cap)",
        preset: "web-server",
        set: &["migration.timeout=\"130 s\""],
        algorithm: "postcopy-demand",
        detail: TraceDetail::Accesses,
    },
    Corner {
        name: "slowest-link",
        what: "a 1 bit/s link and the longest timeout (10,000,000 s), 20 writes/s",
        preset: "idle-vm",
        set: &["link.bandwidth=\"1 bit/s\"", "migration.timeout=\"10000000 s\"", "workload.read_rate=0"],
        algorithm: "precopy-xen",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "max-write-rate",
        what: "1e9 uniform writes/s (the largest rate): refused by the accesses cap",
        preset: "web-server",
        set: &["workload.pattern=\"uniform\"", "workload.write_rate=1e9"],
        algorithm: "precopy-xen",
        detail: TraceDetail::Summary,
    },
    Corner {
        name: "smallest-pages",
        what: "256 GiB in 512 B pages on a 10 Tbit/s link: refused by the pages cap",
        preset: "idle-vm",
        set: &["vm.memory=\"256 GiB\"", "vm.page_size=\"512 B\"", "link.bandwidth=\"10 Tbit/s\""],
        algorithm: "precopy-xen",
        detail: TraceDetail::Summary,
    },
];

/// What one corner measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct CornerResult {
    /// The corner's name.
    pub name: String,
    /// Wall-clock seconds, from loading the scenario to the end (the trace written).
    pub wall_s: f64,
    /// Peak resident memory of the process, bytes.
    pub peak_rss: u64,
    /// How it ended: the run's simulated time and verdict, or the refusal.
    pub outcome: String,
}

/// Runs the corner `name` in this process and prints its result as JSON.
pub fn run_one(name: &str) -> anyhow::Result<()> {
    let corner = CORNERS.iter().find(|c| c.name == name).ok_or_else(|| {
        crate::input::bad(format!(
            "--corner: unknown corner '{name}': accepted {}",
            CORNERS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let set: Vec<String> = corner.set.iter().map(|s| s.to_string()).collect();
    let start = Instant::now();
    let outcome = match run_corner(corner, &set) {
        Ok(text) => text,
        Err(e) if e.downcast_ref::<crate::input::BadInput>().is_some() => format!("refused: {e}"),
        Err(e) => return Err(e),
    };
    let r = CornerResult {
        name: name.to_string(),
        wall_s: start.elapsed().as_secs_f64(),
        peak_rss: crate::commands::bench::peak_rss(),
        outcome,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Loads, checks and runs a corner (writing its trace to a temporary file at a trace detail).
fn run_corner(corner: &Corner, set: &[String]) -> anyhow::Result<String> {
    let s = crate::input::load_scenario(corner.preset, set)?;
    let run = crate::input::simulate(&s, Some(corner.algorithm), corner.detail)?;
    let mut written = String::new();
    if corner.detail != TraceDetail::Summary {
        let dir = tempfile::tempdir().context("creating a directory for the trace")?;
        let path = dir.path().join("trace.json");
        let path = path.to_str().context("a temporary path in UTF-8")?;
        crate::output::write_output("--output", path, |w| Ok(serde_json::to_writer(w, &run.trace)?))?;
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        written = format!(", trace of {} events, {}", run.trace.events.len(), Quantity::Size.show(size as f64));
    }
    let r = &run.report;
    Ok(format!(
        "ran: {} simulated, {}{written}",
        Quantity::Duration.show(r.total_time_s),
        if r.verified {
            "verified"
        } else if r.completed {
            "completed, not verified"
        } else {
            "not completed"
        }
    ))
}

/// Runs every corner in a child process and prints the table (or JSON).
/// `livemig bench --corners`: every corner, each in its own process, as a table or JSON.
pub fn run(json: bool) -> anyhow::Result<()> {
    crate::output::print(&run_all(json)?)
}

fn run_all(json: bool) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding the livemig executable")?;
    let mut results = Vec::new();
    for c in CORNERS {
        eprintln!("bench: corner {} ...", c.name);
        let out = std::process::Command::new(&exe).args(["bench", "--corner", c.name]).output().context("running a corner")?;
        if !out.status.success() {
            anyhow::bail!("corner {} failed: {}", c.name, String::from_utf8_lossy(&out.stderr).trim());
        }
        let r: CornerResult = serde_json::from_slice(&out.stdout).context("reading a corner's result")?;
        results.push(r);
    }
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&results)?));
    }
    let mut t = crate::output::table(&["corner", "algorithm", "wall time", "peak memory", "outcome"]);
    for (c, r) in CORNERS.iter().zip(&results) {
        t.add_row(vec![
            c.name.to_string(),
            c.algorithm.to_string(),
            Quantity::Duration.show(r.wall_s),
            Quantity::Size.show(r.peak_rss as f64),
            r.outcome.clone(),
        ]);
    }
    for i in 2..4 {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut text = String::from("the slowest legal corners (default caps), each in its own process\n");
    for c in CORNERS {
        text += &format!("  {:<20} {} on {}\n", c.name, c.what, c.preset);
    }
    Ok(format!("{text}{t}\n"))
}
