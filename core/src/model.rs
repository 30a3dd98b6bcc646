//! The geometric pre-copy model (docs/algorithms/analytical-model.md) as a cross-check for the simulator.
//!
//! With memory `V_mem` pages, transfer rate `R` and a dirty rate `D` of *distinct, clean* pages
//! per second, round 0 sends `V_0 = V_mem` pages in `T_0 = V_0 / R`; round `i` sends what was
//! dirtied during round `i-1`: `V_i = D T_{i-1} = V_mem λ^i` with `λ = D / R`. With `n` live
//! rounds after round 0, the final (stop-and-copy) round sends `V_n`:
//!
//! ```text
//! V_mig  = V_mem (1 - λ^(n+1)) / (1 - λ)
//! T_down = V_mem λ^n / R  (+ state transfer and resume)
//! ```
//!
//! The number of rounds follows Xen's stop rules, evaluated round by round exactly as
//! `xc_domain_save.c` does (stop when the round just finished began with fewer than `min_pages`,
//! after `max_iters` live rounds, or past `max_factor` x memory).
//!
//! # Where the simulator agrees and where it does not
//!
//! The simulator reproduces this model to well within 1% when its assumptions hold: a
//! sequential writer (every write hits a distinct page that is clean), no per-page headers, no
//! latency, no state or resume cost, Xen's skip rule off and linear scan order (see the test
//! `model_agrees_with_simulator` in `core/tests/invariants.rs`). It departs from the model, by
//! design, when:
//! * writes hit pages that are already dirty (uniform or hot-cold workloads): the dirty set grows
//!   more slowly than `D T` and saturates at the writable working set (`V_i = W (1 - e^(-D T/W))`
//!   is the better model there, [`GeometricModel::unique_pages`]);
//! * Xen's skip rule holds back pages already re-dirtied, so round 1 sends fewer than `V_mem`;
//! * headers, latency, state and resume time add to every round and to the downtime;
//! * the rate limiter or auto-converge change `R` or `D` between rounds.

use serde::{Deserialize, Serialize};

/// Inputs of the geometric model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeometricModel {
    /// Memory in pages.
    pub pages: f64,
    /// Bytes per page on the wire (page size + header).
    pub page_bytes: f64,
    /// Link bandwidth in bytes/s.
    pub bandwidth: f64,
    /// Distinct pages dirtied per second.
    pub dirty_rate: f64,
    /// Xen: live rounds before the final one.
    pub max_iters: u32,
    /// Xen: stop when a round began with fewer dirty pages.
    pub min_pages: f64,
    /// Xen: stop after sending this many times memory.
    pub max_factor: f64,
    /// Bytes of CPU/device state sent during the downtime.
    pub state_bytes: f64,
    /// Seconds to start the VM on the destination.
    pub resume_overhead: f64,
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Pages sent in each round, the final stop-and-copy round last.
    pub per_round_pages: Vec<f64>,
    /// Rounds including the final one.
    pub rounds: u32,
    /// All pages sent.
    pub total_pages: f64,
    /// All bytes sent (pages and state).
    pub total_bytes: f64,
    /// Migration time.
    pub total_time_s: f64,
    /// Downtime.
    pub downtime_s: f64,
}

impl GeometricModel {
    /// The model for `scenario`, set up the one way every caller uses: the scenario's
    /// `[params.precopy]` with `precopy-xen`'s fixed values for the stop rules, the workload's
    /// write rate as the dirty rate, the pace of whole pages while the guest runs (the link's
    /// bandwidth, or the source's sending threads where they are slower, sharing the CPUs with
    /// the guest's busy vCPUs) as the transfer rate, and the latency added to the resume cost.
    pub fn for_scenario(scenario: &crate::Scenario) -> Result<GeometricModel, crate::algorithms::ParamError> {
        use crate::algorithms::{find, Params};
        let info = find("precopy-xen").expect("precopy-xen is registered");
        let params = Params::resolve(info.section, info.params, scenario.params.get(info.section), info.fixed)?;
        let link = scenario.link.bandwidth.0;
        let bandwidth = scenario.host.send_pace(f64::from(scenario.host.busy_vcpus)).map_or(link, |pace| link.min(pace));
        Ok(GeometricModel {
            pages: scenario.page_count() as f64,
            page_bytes: (scenario.vm.page_size.0 + scenario.link.page_header.0) as f64,
            bandwidth,
            dirty_rate: scenario.workload.write_rate.0,
            max_iters: params.int("xen_max_iters").clamp(0, i64::from(u32::MAX)) as u32,
            min_pages: params.int("xen_min_pages") as f64,
            max_factor: params.float("xen_max_factor"),
            state_bytes: scenario.vm.state_size.0 as f64,
            resume_overhead: scenario.vm.resume_overhead.0 + scenario.link.latency.0,
        })
    }

    /// `λ = D / R` with `R` in pages per second.
    pub fn lambda(&self) -> f64 {
        self.dirty_rate * self.page_bytes / self.bandwidth
    }

    /// The closed form: total pages with `n` live rounds after round 0.
    pub fn closed_form_total_pages(&self, n: u32) -> f64 {
        let l = self.lambda();
        if (l - 1.0).abs() < 1e-12 {
            self.pages * (n as f64 + 1.0)
        } else {
            self.pages * (1.0 - l.powi(n as i32 + 1)) / (1.0 - l)
        }
    }

    /// The closed form: downtime with `n` live rounds after round 0.
    pub fn closed_form_downtime(&self, n: u32) -> f64 {
        self.pages * self.lambda().powi(n as i32) * self.page_bytes / self.bandwidth
            + self.state_bytes / self.bandwidth
            + self.resume_overhead
    }

    /// Round-by-round prediction under Xen's stop rules.
    pub fn predict(&self) -> Prediction {
        let rate = self.bandwidth / self.page_bytes; // pages per second
        let mut per_round = Vec::new();
        let mut v = self.pages;
        let mut total = 0.0;
        let mut iter = 0;
        loop {
            iter += 1;
            per_round.push(v);
            total += v;
            let t = v / rate;
            let next = (self.dirty_rate * t).min(self.pages);
            let stop = v < self.min_pages || iter >= self.max_iters || total > self.pages * self.max_factor;
            v = next;
            if stop {
                per_round.push(v);
                total += v;
                break;
            }
        }
        let final_pages = *per_round.last().expect("at least one round");
        let downtime = final_pages / rate + self.state_bytes / self.bandwidth + self.resume_overhead;
        Prediction {
            rounds: per_round.len() as u32,
            total_pages: total,
            total_bytes: total * self.page_bytes + self.state_bytes,
            total_time_s: total / rate + self.state_bytes / self.bandwidth + self.resume_overhead,
            downtime_s: downtime,
            per_round_pages: per_round,
        }
    }

    /// Distinct pages hit by `writes` uniform random writes over `working_set` pages: the
    /// saturation model for workloads that rewrite dirty pages.
    pub fn unique_pages(working_set: f64, writes: f64) -> f64 {
        working_set * (1.0 - (-writes / working_set).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> GeometricModel {
        GeometricModel {
            pages: 262_144.0,
            page_bytes: 4096.0,
            bandwidth: 125e6,
            dirty_rate: 15_000.0,
            max_iters: 29,
            min_pages: 50.0,
            max_factor: 3.0,
            state_bytes: 0.0,
            resume_overhead: 0.0,
        }
    }

    #[test]
    fn round_by_round_equals_closed_form() {
        let m = model();
        let p = m.predict();
        let n = p.rounds - 1;
        assert!((p.total_pages - m.closed_form_total_pages(n)).abs() / p.total_pages < 1e-9);
        assert!((p.downtime_s - m.closed_form_downtime(n)).abs() < 1e-9);
    }

    #[test]
    fn lambda_above_one_hits_a_cap() {
        let mut m = model();
        m.dirty_rate = 40_000.0; // λ ≈ 1.31
        let p = m.predict();
        assert!(p.rounds <= 30);
        assert!(p.total_pages > 2.0 * m.pages);
    }

    #[test]
    fn unique_pages_saturates() {
        assert!((GeometricModel::unique_pages(1000.0, 1e6) - 1000.0).abs() < 1e-6);
        assert!((GeometricModel::unique_pages(1e9, 1000.0) - 1000.0).abs() < 1e-3);
    }
}
