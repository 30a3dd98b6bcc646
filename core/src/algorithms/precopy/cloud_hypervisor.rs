//! Cloud Hypervisor's pre-copy (`vm-migration`, the `send_migration` loop in
//! `vmm/src/lib.rs`) (docs/algorithms/precopy-ch.md) \[C\].
//!
//! The procedure:
//!
//! 1. Send all of memory once while the VM runs.
//! 2. Before each dirty pass, fetch the dirty log and estimate the downtime: the dirty bytes
//!    divided by the last pass's bandwidth. If the estimate fits in `downtime_limit` (300 ms),
//!    stop and copy.
//! 3. Otherwise, if `ch_max_passes` (5) dirty passes were already sent, stop and copy anyway
//!    (the pass cap).
//! 4. Otherwise send the dirty pages (one more pass) and go to 2.

use super::engine::Run;
use super::{AlgorithmInfo, PrecopyParams};
use crate::bitmap::PageBitmap;
use crate::context::{ContextError, Outcome};
use crate::units::Seconds;

/// The registry entry of Cloud Hypervisor's policy.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "precopy-ch",
    summary: "Cloud Hypervisor: at most 5 dirty passes, or stop once the downtime estimate fits",
    paper: "Cloud Hypervisor vm-migration (estimated downtime <= 300 ms)",
    fixed: &[("policy", "cloud-hypervisor")],
    ..super::INFO
};

/// Cloud Hypervisor's downtime estimate and pass cap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CloudHypervisorPolicy {
    /// Tolerated downtime, seconds.
    pub downtime_limit: f64,
    /// Dirty passes after the first copy.
    pub max_passes: u64,
}

impl CloudHypervisorPolicy {
    /// The Cloud Hypervisor policy of resolved pre-copy parameters.
    pub(crate) fn from_params(p: &PrecopyParams) -> CloudHypervisorPolicy {
        CloudHypervisorPolicy { downtime_limit: p.downtime_limit, max_passes: p.ch_max_passes }
    }

    /// The downtime sending `dirty_bytes` would take at the last pass's `bandwidth` (at least
    /// 1 byte/s).
    pub(crate) fn estimated_downtime(dirty_bytes: f64, bandwidth: f64) -> f64 {
        dirty_bytes / bandwidth.max(1.0)
    }

    /// The first copy, then dirty passes until the estimate fits or the cap is reached (the
    /// dirty log must be on).
    pub(crate) fn run(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let page_size = run.ctx.page_size() as f64;
        let all = run.first_round_set()?;
        let mut bandwidth = send_pass(run, &all)?;
        let mut passes = 0;
        loop {
            let dirty = run.sync_dirty()?;
            let estimate = Self::estimated_downtime(dirty.count() as f64 * page_size, bandwidth);
            if estimate <= self.downtime_limit {
                run.stop_and_copy(dirty)?;
                return Ok(Outcome::converged(format!("estimated downtime {} <= {}", Seconds(estimate), Seconds(self.downtime_limit))));
            }
            if passes >= self.max_passes {
                run.stop_and_copy(dirty)?;
                return Ok(Outcome::forced(format!("{passes} dirty passes: the pass cap")));
            }
            if run.ctx.deadline_passed() {
                return run.end_at_timeout(dirty);
            }
            passes += 1;
            bandwidth = send_pass(run, &dirty)?;
        }
    }
}

/// One live pass over `set`; returns its bandwidth in bytes/s.
fn send_pass(run: &mut Run<'_>, set: &PageBitmap) -> Result<f64, ContextError> {
    run.begin_live_round();
    let (t0, b0) = (run.ctx.now(), run.ctx.bytes_sent());
    run.send_set(set)?;
    run.end_pass();
    let (dt, db) = (run.ctx.now() - t0, run.ctx.bytes_sent() - b0);
    run.ctx.end_round();
    Ok(if dt > 0.0 { db as f64 / dt } else { f64::INFINITY })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run, scenario};
    use super::*;
    use crate::context::RoundKind;

    #[test]
    fn the_estimate_is_the_dirty_bytes_over_the_last_bandwidth() {
        // 30 MB dirty at 100 MB/s: 0.3 s, just within the default limit.
        assert_eq!(CloudHypervisorPolicy::estimated_downtime(30e6, 100e6), 0.3);
        // A pass that measured no bandwidth counts as 1 byte/s.
        assert_eq!(CloudHypervisorPolicy::estimated_downtime(4096.0, 0.0), 4096.0);
    }

    #[test]
    fn the_defaults_are_cloud_hypervisors() {
        let ch = CloudHypervisorPolicy::from_params(&PrecopyParams::defaults());
        assert_eq!(ch, CloudHypervisorPolicy { downtime_limit: 0.3, max_passes: 5 });
    }

    /// A 16 MiB VM (4096 pages) on a 100 Mbit/s link (one full copy: about 1.3 s) whose guest
    /// writes 20,000 pages/s: the dirty set never fits in 300 ms, so only the cap ends it.
    fn never_fits(max_passes: u64) -> crate::Run {
        run(&scenario("16 MiB", "100 Mbit/s", 20_000, &format!("ch_max_passes = {max_passes}")), "precopy-ch")
    }

    #[test]
    fn the_pass_cap_stops_after_the_first_copy_and_that_many_dirty_passes() {
        for max_passes in [0u64, 1, 2, 5] {
            let r = never_fits(max_passes).report;
            let kinds: Vec<RoundKind> = r.per_round.iter().map(|round| round.kind).collect();
            let mut expected = vec![RoundKind::Live; 1 + max_passes as usize];
            expected.push(RoundKind::StopAndCopy);
            assert_eq!(kinds, expected, "ch_max_passes = {max_passes}");
            assert!(!r.converged && r.verified);
            assert_eq!(r.stop_reason, format!("{max_passes} dirty passes: the pass cap"));
        }
    }

    #[test]
    fn a_dirty_set_that_fits_stops_before_the_cap() {
        // 10 pages/s: after the first copy (1.3 s) about 13 pages are dirty, far under 300 ms.
        let r = run(&scenario("16 MiB", "100 Mbit/s", 10, ""), "precopy-ch").report;
        assert_eq!(r.per_round.iter().map(|round| round.kind).collect::<Vec<_>>(), [RoundKind::Live, RoundKind::StopAndCopy]);
        assert!(r.converged && r.verified);
        assert!(r.stop_reason.starts_with("estimated downtime ") && r.stop_reason.ends_with(" <= 300 ms"), "{}", r.stop_reason);
    }
}
