//! The model against QEMU over a grid of workloads, rate caps and modes: each cell runs QEMU a
//! few times and the simulator on every run's scenario with several seeds
//! ([`super::crosscheck`]), and is held to the targets:
//!
//! * total time within 15% of QEMU's median;
//! * bytes sent within 15%;
//! * downtime (as the guest sees it) within the larger of 10 ms and 50%;
//! * the same verdict: both complete within the timeout, or neither does.
//!
//! The grid: an idle guest, and 20,000 and 50,000 writes/s, sequential and uniformly random,
//! over 64 and 256 MiB working sets of a 512 MiB guest; QEMU's `max-bandwidth` at its default
//! 128 MiB/s and at 1 GiB/s; plain pre-copy, XBZRLE, and post-copy after one pass. With three
//! QEMU runs a cell that is 162 migrations, most of a half hour: a benchmark command, not a test.

use super::crosscheck::{median, real_values, simulate_like, METRICS};
use super::mirror::HostModel;
use super::report::QemuReport;
use super::{config, run, QemuError, QemuOptions};
use livemig_core::Scenario;
use serde::Serialize;

/// The guest's memory in every cell.
pub const MEMORY: &str = "512 MiB";
/// How long a migration may take before it counts as not converging (and is cancelled).
pub const TIMEOUT: &str = "30 s";

/// One workload of the grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// e.g. `uniform 50000/s 256MiB`.
    pub label: String,
    /// `--set` overrides that make it.
    pub set: Vec<String>,
}

/// One cell: a workload, a rate cap and a mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// The workload.
    pub workload: Workload,
    /// QEMU's `max-bandwidth`, as written in a scenario.
    pub max_bandwidth: &'static str,
    /// `precopy-qemu`, `xbzrle` or `postcopy-qemu`.
    pub algorithm: &'static str,
}

impl Cell {
    /// `uniform 50000/s 256MiB | 128 MiB/s | xbzrle`.
    pub fn label(&self) -> String {
        format!("{} | {} | {}", self.workload.label, self.max_bandwidth, self.algorithm)
    }

    /// The cell's scenario.
    pub fn scenario(&self) -> Result<Scenario, QemuError> {
        let base = format!(
            "name = \"qemu-matrix\"\n[vm]\nmemory = \"{MEMORY}\"\ncontent = {{ zero = 0.0, text = 0.0, structured = 0.0, random = 1.0 }}\n\
             [migration]\ntimeout = \"{TIMEOUT}\"\non_timeout = \"cancel\"\n"
        );
        let mut set = self.workload.set.clone();
        set.push(format!("params.precopy.max_bandwidth={:?}", self.max_bandwidth));
        Scenario::parse_with_overrides(&base, &set).map_err(|e| QemuError::host("building the cell's scenario", e.to_string()))
    }
}

/// The grid of the module docs.
pub fn grid() -> Vec<Cell> {
    let mut workloads = vec![Workload { label: "idle".into(), set: vec!["workload.pattern=\"idle\"".into()] }];
    for rate in [20_000, 50_000] {
        for pattern in ["sequential", "uniform"] {
            for ws in [64, 256] {
                workloads.push(Workload {
                    label: format!("{pattern} {rate}/s {ws}MiB"),
                    set: vec![
                        format!("workload.pattern={pattern:?}"),
                        format!("workload.write_rate=\"{rate} pages/s\""),
                        format!("workload.working_set=\"{ws} MiB\""),
                    ],
                });
            }
        }
    }
    let mut cells = Vec::new();
    for w in &workloads {
        for cap in ["128 MiB/s", "1 GiB/s"] {
            for algorithm in config::ALGORITHMS {
                cells.push(Cell { workload: w.clone(), max_bandwidth: cap, algorithm });
            }
        }
    }
    cells
}

/// A median and the range around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(v: &[f64]) -> Spread {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Spread { median: median(v), min, max }
    }
}

/// One metric of a cell: QEMU's runs against the simulator's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellMetric {
    /// Report field name.
    pub metric: &'static str,
    /// Over QEMU's runs.
    pub qemu: Spread,
    /// Over the simulator's runs (every QEMU run's scenario, every seed).
    pub simulated: Spread,
}

/// A cell's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CellResult {
    /// The cell.
    pub cell: Cell,
    /// `cell.label()`.
    pub label: String,
    /// Every compared metric.
    pub metrics: Vec<CellMetric>,
    /// QEMU's runs that failed to run at all (QEMU's error, not a migration that did not
    /// converge).
    pub errors: Vec<String>,
    /// QEMU's runs that were not verified.
    pub unverified: usize,
    /// Which targets the cell meets: total time, bytes, downtime, verdict.
    pub within: Targets,
}

/// The targets a cell meets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Targets {
    /// Total time within 15%.
    pub total_time: bool,
    /// Bytes sent within 15%.
    pub bytes: bool,
    /// Downtime within max(10 ms, 50%).
    pub downtime: bool,
    /// The same verdict.
    pub verdict: bool,
}

impl Targets {
    /// All four.
    pub fn all(&self) -> bool {
        self.total_time && self.bytes && self.downtime && self.verdict
    }
}

impl CellResult {
    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Option<&CellMetric> {
        self.metrics.iter().find(|m| m.metric == name)
    }
}

/// Whether the simulator's `simulated` is within the target for `metric` against QEMU's `real`
/// (see the module docs); None for a metric without a target. `completed` is 0 or 1 per run, so
/// medians of it are the majorities' verdicts.
pub fn within_target(metric: &str, simulated: f64, real: f64) -> Option<bool> {
    match metric {
        "total_time_s" | "bytes_sent" => Some(crate::relative_change(simulated, real).is_some_and(|e| e.abs() <= 0.15)),
        "downtime_s" => Some((simulated - real).abs() <= (0.5 * real).max(0.010)),
        "completed" => Some((simulated >= 0.5) == (real >= 0.5)),
        _ => None,
    }
}

/// Holds `metrics` (their medians) to the targets.
pub fn judge(metrics: &[CellMetric]) -> Targets {
    let within = |name: &str| {
        metrics.iter().find(|m| m.metric == name).is_some_and(|m| within_target(name, m.simulated.median, m.qemu.median) == Some(true))
    };
    Targets {
        total_time: within("total_time_s"),
        bytes: within("bytes_sent"),
        downtime: within("downtime_s"),
        verdict: within("completed"),
    }
}

/// Runs `cell` `runs` times on QEMU and simulates each run's scenario.
pub fn run_cell(cell: &Cell, runs: usize, host: &HostModel, options: &QemuOptions) -> Result<CellResult, QemuError> {
    let scenario = cell.scenario()?;
    let c = config::config_for(&scenario, cell.algorithm)?;
    let mut real: Vec<QemuReport> = Vec::new();
    let mut sims = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..runs {
        match run::migrate(&scenario, &c, options) {
            Ok(r) => {
                let (_, reports) = simulate_like(&scenario, cell.algorithm, &r, host)?;
                sims.extend(reports);
                real.push(r);
            }
            Err(e @ (QemuError::Unavailable(_) | QemuError::Unsupported(_))) => return Err(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let reals: Vec<[f64; 7]> = real.iter().map(real_values).collect();
    let simulated: Vec<[f64; 7]> = sims.iter().map(super::crosscheck::simulated_values).collect();
    let metrics: Vec<CellMetric> = METRICS
        .iter()
        .enumerate()
        .map(|(i, &metric)| CellMetric {
            metric,
            qemu: Spread::of(&reals.iter().map(|r| r[i]).collect::<Vec<_>>()),
            simulated: Spread::of(&simulated.iter().map(|r| r[i]).collect::<Vec<_>>()),
        })
        .collect();
    let within =
        if real.is_empty() { Targets { total_time: false, bytes: false, downtime: false, verdict: false } } else { judge(&metrics) };
    let unverified = real.iter().filter(|r| r.report.completed && !r.report.verified).count();
    Ok(CellResult { label: cell.label(), cell: cell.clone(), metrics, errors, unverified, within })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &'static str, q: f64, s: f64) -> CellMetric {
        let one = |v| Spread { median: v, min: v, max: v };
        CellMetric { metric: name, qemu: one(q), simulated: one(s) }
    }

    #[test]
    fn the_grid_has_every_combination_the_targets_name() {
        let g = grid();
        assert_eq!(g.len(), 9 * 2 * 3);
        for c in &g {
            let s = c.scenario().unwrap();
            assert_eq!(s.vm.memory.0, 512 << 20);
            assert!(config::config_for(&s, c.algorithm).is_ok(), "{}", c.label());
        }
        assert!(g.iter().any(|c| c.label() == "uniform 50000/s 256MiB | 1 GiB/s | postcopy-qemu"));
    }

    #[test]
    fn targets() {
        let ok = [
            metric("total_time_s", 10.0, 11.4),
            metric("bytes_sent", 100.0, 86.0),
            metric("downtime_s", 0.004, 0.013),
            metric("completed", 1.0, 1.0),
        ];
        assert!(judge(&ok).all());
        let bad = [
            metric("total_time_s", 10.0, 11.6),
            metric("bytes_sent", 100.0, 84.0),
            metric("downtime_s", 0.1, 0.16),
            metric("completed", 1.0, 0.0),
        ];
        let t = judge(&bad);
        assert!(!t.total_time && !t.bytes && !t.downtime && !t.verdict);
    }
}
