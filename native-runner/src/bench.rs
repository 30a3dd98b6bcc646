//! `livemig bench`: how fast the simulator is, and how much memory it needs, as the VM grows.
//!
//! Each case runs in a child process (`livemig bench --one SIZE ALGORITHM`) so that its peak
//! resident memory (`VmHWM`) is its own.

use crate::output::{bytes, secs};
use anyhow::Context;
use comfy_table::{presets::UTF8_BORDERS_ONLY, CellAlignment, Table};
use livemig_core::trace::TraceDetail;
use livemig_core::Scenario;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The benchmark scenario (shared with `cargo bench`).
pub fn scenario(gib: u64) -> anyhow::Result<Scenario> {
    livemig_core::presets::benchmark(gib).map_err(|e| crate::input::bad(format!("--sizes: {gib} GiB: {e}")))
}

/// What one case measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseResult {
    /// VM size in GiB.
    pub gib: u64,
    /// Algorithm.
    pub algorithm: String,
    /// Wall-clock seconds the simulation took.
    pub wall_s: f64,
    /// Peak resident memory of the process, bytes.
    pub peak_rss: u64,
    /// Simulated migration time.
    pub total_time_s: f64,
    /// Simulated downtime.
    pub downtime_s: f64,
    /// Pages sent.
    pub pages_sent: u64,
    /// Whether the run verified.
    pub verified: bool,
}

fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs one case in this process and prints its result as JSON.
pub fn run_one(gib: u64, algorithm: &str) -> anyhow::Result<()> {
    let s = scenario(gib)?;
    let start = Instant::now();
    let run = crate::input::simulate(&s, Some(algorithm), TraceDetail::Summary)?;
    let wall_s = start.elapsed().as_secs_f64();
    let r = CaseResult {
        gib,
        algorithm: algorithm.to_string(),
        wall_s,
        peak_rss: peak_rss(),
        total_time_s: run.report.total_time_s,
        downtime_s: run.report.downtime_s,
        pages_sent: run.report.pages_sent,
        verified: run.report.verified,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Runs every case in a child process and prints the table (or JSON).
pub fn run_all(sizes: &[u64], algorithms: &[String], json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the livemig executable")?;
    let mut results = Vec::new();
    for &gib in sizes {
        for a in algorithms {
            eprintln!("bench: {gib} GiB, {a} ...");
            let out = std::process::Command::new(&exe)
                .args(["bench", "--one", &gib.to_string(), a])
                .output()
                .context("running a benchmark case")?;
            if !out.status.success() {
                anyhow::bail!("benchmark case {gib} GiB {a} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
            let r: CaseResult = serde_json::from_slice(&out.stdout).context("reading a benchmark case's result")?;
            results.push(r);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "VM",
        "algorithm",
        "wall time",
        "peak memory",
        "simulated total",
        "simulated downtime",
        "pages sent",
        "verified",
    ]);
    for r in &results {
        t.add_row(vec![
            format!("{} GiB", r.gib),
            r.algorithm.clone(),
            format!("{:.3} s", r.wall_s),
            bytes(r.peak_rss),
            secs(r.total_time_s),
            secs(r.downtime_s),
            r.pages_sent.to_string(),
            if r.verified { "yes" } else { "no" }.into(),
        ]);
    }
    for i in 2..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("hot/cold workload (20,000 writes/s and 20,000 reads/s over a quarter of memory), 1 Gbit/s link");
    println!("{t}");
    Ok(())
}
