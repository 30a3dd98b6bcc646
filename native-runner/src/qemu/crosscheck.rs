//! QEMU and the simulator side by side: one real migration, the same scenario simulated with the
//! algorithm that models QEMU's (`precopy-qemu`, `xbzrle`, `postcopy-qemu`) on the host QEMU ran
//! on ([`super::mirror`]), and the relative difference of each metric.
//!
//! The downtime compared is the one the guest sees, from the source's `STOP` event to the
//! destination's `RESUME`: that is the simulator's definition (pause to resume). QEMU's own
//! `downtime` is measured on the source and ends when the source has sent the last byte, before
//! the destination has loaded the state and resumed; it is shown beside it.

use super::mirror::{simulated_scenario, HostModel};
use super::report::{pages_sent, QemuReport};
use super::{config, run, QemuError, QemuOptions};
use livemig_core::trace::TraceDetail;
use livemig_core::{Report, Scenario};
use serde::Serialize;

/// The simulator's seeds for each real run (the spread over them is printed).
pub const SEEDS: [u64; 3] = [1, 2, 3];

/// One metric, real against simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPair {
    /// Report field name.
    pub metric: &'static str,
    /// QEMU's value.
    pub real: f64,
    /// The simulator's value (the median over seeds).
    pub simulated: f64,
}

impl MetricPair {
    /// `(simulated - real) / real`: 0 when both are 0, None when only the real one is.
    pub fn relative_error(&self) -> Option<f64> {
        crate::relative_change(self.simulated, self.real)
    }
}

/// A QEMU run and its simulations.
#[derive(Debug, Clone, Serialize)]
pub struct Crosscheck {
    /// What QEMU measured.
    pub real: QemuReport,
    /// The scenario the simulator ran (seed 1).
    pub simulated_scenario: Scenario,
    /// The simulator's reports, one per seed of [`SEEDS`].
    pub simulated: Vec<Report>,
}

/// The real values of the compared metrics, in [`Crosscheck::pairs`]'s order.
pub fn real_values(r: &QemuReport) -> [f64; 7] {
    let d = &r.qemu;
    [
        d.total_time_s.unwrap_or(r.report.total_time_s),
        d.guest_seen_downtime_s.unwrap_or(0.0),
        d.ram.transferred as f64,
        pages_sent(&d.ram, d.xbzrle.as_ref()) as f64,
        d.ram.duplicate as f64,
        d.ram.postcopy_requests as f64,
        f64::from(u8::from(r.report.completed)),
    ]
}

/// The simulated values of the compared metrics.
pub fn simulated_values(r: &Report) -> [f64; 7] {
    [
        r.total_time_s,
        r.downtime_s,
        r.bytes_sent as f64,
        r.pages_sent as f64,
        r.zero_pages as f64,
        r.network_faults as f64,
        f64::from(u8::from(r.completed)),
    ]
}

/// The compared metrics' names.
pub const METRICS: [&str; 7] = ["total_time_s", "downtime_s", "bytes_sent", "pages_sent", "zero_pages", "network_faults", "completed"];

/// The median of `v` (the mean of the middle two for an even count); NaN for none.
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

impl Crosscheck {
    /// Each metric, QEMU's against the simulator's median over seeds.
    pub fn pairs(&self) -> Vec<MetricPair> {
        let real = real_values(&self.real);
        let sims: Vec<[f64; 7]> = self.simulated.iter().map(simulated_values).collect();
        METRICS
            .iter()
            .enumerate()
            .map(|(i, &metric)| MetricPair { metric, real: real[i], simulated: median(&sims.iter().map(|s| s[i]).collect::<Vec<_>>()) })
            .collect()
    }
}

/// Simulates what QEMU ran in `real` (on the host `host`), once per seed of [`SEEDS`].
pub fn simulate_like(
    scenario: &Scenario,
    algorithm: &str,
    real: &QemuReport,
    host: &HostModel,
) -> Result<(Scenario, Vec<Report>), QemuError> {
    let sim = simulated_scenario(scenario, real, host)?;
    let mut reports = Vec::new();
    for seed in SEEDS {
        let mut s = sim.clone();
        s.seed = seed;
        let run = livemig_core::simulate(&s, Some(algorithm), TraceDetail::Summary)
            .map_err(|e| QemuError::host("simulating", format!("{algorithm}: {e}")))?;
        reports.push(run.report);
    }
    Ok((sim, reports))
}

/// Runs `scenario` with `algorithm` on QEMU, then in the simulator.
pub fn crosscheck(scenario: &Scenario, algorithm: &str, host: &HostModel, options: &QemuOptions) -> Result<Crosscheck, QemuError> {
    let c = config::config_for(scenario, algorithm)?;
    let real = run::migrate(scenario, &c, options)?;
    let (simulated_scenario, simulated) = simulate_like(scenario, algorithm, &real, host)?;
    Ok(Crosscheck { real, simulated_scenario, simulated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_relative_error() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        let p = MetricPair { metric: "x", real: 2.0, simulated: 2.5 };
        assert_eq!(p.relative_error(), Some(0.25));
        assert_eq!(MetricPair { metric: "x", real: 0.0, simulated: 0.0 }.relative_error(), Some(0.0));
        assert_eq!(MetricPair { metric: "x", real: 0.0, simulated: 1.0 }.relative_error(), None);
    }
}
