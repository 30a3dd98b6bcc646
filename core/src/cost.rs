//! What a run may cost, estimated before it starts, and the caps a front end refuses it over.
//!
//! The simulator's time and memory grow with three things a legal scenario can make enormous:
//!
//! * **guest accesses**, taken one by one: at most the workload's fastest phase (writes plus
//!   reads a second) over the scenario's timeout, since the guest never runs past it (see
//!   [`crate::sim`]);
//! * **pages**: the simulator keeps about 13 bytes a page, and passes over every page a few
//!   times a round;
//! * **the trace**, at the pages and accesses details: every page sent or dirtied is recorded,
//!   and at the accesses detail every access the destination guest makes.
//!
//! [`Cost::of`] gives upper estimates of the three; [`Limits::check`] refuses a run over a cap
//! with one line naming the estimate, the fields it comes from and the cap. The caps are set so
//! that every shipped preset, every algorithm and the benchmark's sizes run within them; a front
//! end lets the user raise them (`livemig --max-accesses`, `--max-pages`, `--max-trace-size`).

use crate::scenario::Scenario;
use crate::trace::TraceDetail;
use crate::units::{short, ByteSize, Quantity};

/// Upper estimates of what a run of a scenario costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Guest accesses the simulator may take one by one.
    pub accesses: f64,
    /// The fastest phase's accesses per second (writes plus reads).
    pub access_rate: f64,
    /// Pages of guest memory.
    pub pages: u64,
    /// Bytes of the trace file at the requested detail (0 at the summary detail, which records
    /// counts only).
    pub trace_bytes: f64,
}

/// Trace bytes per page recorded at the pages detail (a run `[page, count]` costs about 12
/// bytes of JSON; a page is recorded when sent and when dirtied).
const TRACE_BYTES_PER_PAGE: f64 = 16.0;
/// Trace bytes per guest access at the accesses detail (`{"t":...,"type":"guest_access",...}`).
const TRACE_BYTES_PER_ACCESS: f64 = 64.0;
/// Times each page may be sent, for the trace estimate (pre-copy's rounds resend pages, capped
/// by the algorithms at a few times memory).
const SENDS_PER_PAGE: f64 = 4.0;

impl Cost {
    /// The estimates for `scenario` recorded at `detail`.
    pub fn of(scenario: &Scenario, detail: TraceDetail) -> Cost {
        let w = &scenario.workload;
        let rate_of = |write: f64, read: f64| write + read;
        let base = rate_of(w.write_rate.0, w.read_rate.0);
        let access_rate = w
            .phases
            .iter()
            .fold(base, |max, p| max.max(rate_of(p.write_rate.unwrap_or(w.write_rate).0, p.read_rate.unwrap_or(w.read_rate).0)));
        let max_writes = w.phases.iter().fold(w.write_rate.0, |max, p| max.max(p.write_rate.unwrap_or(w.write_rate).0));
        let timeout = scenario.migration.timeout.0;
        let accesses = access_rate * timeout;
        let pages = scenario.page_count();
        let trace_bytes = match detail {
            TraceDetail::Summary => 0.0,
            TraceDetail::Pages => TRACE_BYTES_PER_PAGE * (pages as f64 * SENDS_PER_PAGE + max_writes * timeout),
            TraceDetail::Accesses => {
                TRACE_BYTES_PER_PAGE * (pages as f64 * SENDS_PER_PAGE + max_writes * timeout) + TRACE_BYTES_PER_ACCESS * accesses
            }
        };
        Cost { accesses, access_rate, pages, trace_bytes }
    }
}

/// Caps on [`Cost`]: a run over one is refused before it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most guest accesses (default [`Limits::DEFAULT_ACCESSES`]).
    pub accesses: f64,
    /// Most pages (default [`Limits::DEFAULT_PAGES`]).
    pub pages: u64,
    /// Largest trace, in bytes (default [`Limits::DEFAULT_TRACE_BYTES`]).
    pub trace_bytes: u64,
}

impl Limits {
    /// One billion accesses: a few seconds to a quarter of a minute of simulation, and 27 times
    /// the busiest preset (web-server: 62,000 accesses/s for 600 s).
    pub const DEFAULT_ACCESSES: f64 = 1e9;
    /// 64 Mi pages: 256 GiB of 4 KiB pages (the largest VM, in the usual page size), about
    /// 870 MB of simulator state.
    pub const DEFAULT_PAGES: u64 = 64 << 20;
    /// 512 MiB of trace (about as much again in memory while it is written).
    pub const DEFAULT_TRACE_BYTES: u64 = 512 << 20;

    /// Checks `cost` (of `scenario`, at `detail`) against the caps.
    pub fn check(&self, scenario: &Scenario, detail: TraceDetail, cost: &Cost) -> Result<(), CostError> {
        if cost.pages > self.pages {
            return Err(CostError::Pages {
                pages: cost.pages,
                memory: scenario.vm.memory,
                page_size: scenario.vm.page_size,
                cap: self.pages,
            });
        }
        if cost.accesses > self.accesses {
            return Err(CostError::Accesses {
                accesses: short(cost.accesses.round()),
                rate: short(cost.access_rate),
                timeout: scenario.migration.timeout.to_string(),
                cap: short(self.accesses),
            });
        }
        if cost.trace_bytes > self.trace_bytes as f64 {
            return Err(CostError::Trace {
                detail: detail.name(),
                size: Quantity::Size.show(cost.trace_bytes.floor()),
                cap: Quantity::Size.show(self.trace_bytes as f64),
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { accesses: Self::DEFAULT_ACCESSES, pages: Self::DEFAULT_PAGES, trace_bytes: Self::DEFAULT_TRACE_BYTES }
    }
}

/// A run refused by [`Limits::check`]: one line with the estimate, its causes and the cap.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// Too many pages.
    #[error(
        "vm.memory: {memory} in {page_size} pages is {pages} pages, over the cap of {cap} pages: use larger pages or less memory, or raise the cap (--max-pages)"
    )]
    Pages {
        /// Pages of the scenario.
        pages: u64,
        /// Its memory.
        memory: ByteSize,
        /// Its page size.
        page_size: ByteSize,
        /// The cap.
        cap: u64,
    },
    /// Too many guest accesses.
    #[error(
        "workload: this run may simulate up to {accesses} guest accesses ({rate} pages/s of writes and reads for migration.timeout {timeout}), over the cap of {cap}: lower the rates or the timeout, or raise the cap (--max-accesses)"
    )]
    Accesses {
        /// The estimate, printed short.
        accesses: String,
        /// The fastest phase's rate, printed short.
        rate: String,
        /// The timeout, as a duration.
        timeout: String,
        /// The cap, printed short.
        cap: String,
    },
    /// The trace would be too large.
    #[error(
        "--detail {detail}: the trace may reach {size}, over the cap of {cap}: choose a lower detail or a shorter migration.timeout, or raise the cap (--max-trace-size)"
    )]
    Trace {
        /// The detail asked for.
        detail: &'static str,
        /// The estimated size.
        size: String,
        /// The cap.
        cap: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{preset, PRESETS};

    #[test]
    fn every_preset_fits_the_default_caps_at_the_pages_detail() {
        for (name, _) in PRESETS {
            let s = preset(name).unwrap().unwrap();
            let cost = Cost::of(&s, TraceDetail::Pages);
            Limits::default().check(&s, TraceDetail::Pages, &cost).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn enormous_legal_scenarios_are_refused_with_the_estimate() {
        // Issue 13, defect 4: the accepted maximum write rate ran for two minutes.
        let s = Scenario::parse_with_overrides("", &["workload.pattern=\"uniform\"".into(), "workload.write_rate=1e9".into()]).unwrap();
        let e = Limits::default().check(&s, TraceDetail::Summary, &Cost::of(&s, TraceDetail::Summary)).unwrap_err().to_string();
        assert!(e.starts_with("workload: this run may simulate up to 6e11 guest accesses (1e9 pages/s"), "{e}");
        assert!(e.contains("--max-accesses"), "{e}");
        // 256 GiB of 512 B pages.
        let s = Scenario::parse_with_overrides("", &["vm.memory=\"256 GiB\"".into(), "vm.page_size=\"512 B\"".into()]).unwrap();
        let e = Limits::default().check(&s, TraceDetail::Summary, &Cost::of(&s, TraceDetail::Summary)).unwrap_err().to_string();
        assert!(e.starts_with("vm.memory: 256 GiB in 512 B pages is 536870912 pages, over the cap of 67108864 pages"), "{e}");
        // The web-server preset at the accesses detail: the trace that ran out of memory.
        let s = preset("web-server").unwrap().unwrap();
        let e = Limits::default().check(&s, TraceDetail::Accesses, &Cost::of(&s, TraceDetail::Accesses)).unwrap_err().to_string();
        assert!(e.starts_with("--detail accesses: the trace may reach 2.251 GiB, over the cap of 512 MiB"), "{e}");
    }
}
