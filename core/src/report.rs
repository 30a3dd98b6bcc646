//! Reports: the metrics of a migration, derived from its trace.
//!
//! Definitions follow Hines & Gopalan as used by TSMC (docs/algorithms/model.md):
//! * `preparation_time_s`: start until the source is paused (the VM runs on the source);
//! * `downtime_s`: source paused until the destination resumed (the VM runs nowhere);
//! * `resume_time_s`: destination resumed until the last page is there (the post-copy tail);
//! * `total_time_s` = preparation + downtime + resume (for a cancelled migration: until it was
//!   abandoned, with no downtime);
//! * `pages_sent` counts every page transmission, duplicates included; `duplicate_pages` =
//!   `pages_sent` minus pages sent at least once;
//! * `bytes_sent` is wire bytes: page payloads, per-page headers, CPU state, bitmaps;
//!   `payload_bytes` is page content only;
//! * `fault_stall_s` is the time the destination guest was blocked on network faults.
//!
//! Runs with a task-guided coordinator (traces with [`Event::Coordinator`] events) also report
//! `withdrawals`, `waiting_time_s` and `task_delay_s`; the fields are absent for other runs.
//!
//! Every page transmission and every state or bitmap transfer belongs to a round, so the totals
//! are the sums of the `per_round` values.

use crate::context::RoundKind;
use crate::trace::{Event, Trace};
use serde::{Deserialize, Serialize};

/// One round's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    /// 1-based round number.
    pub round: u32,
    /// What the round did.
    pub kind: RoundKind,
    /// Start time.
    pub start_s: f64,
    /// End time.
    pub end_s: f64,
    /// Page transmissions in the round.
    pub pages_sent: u64,
    /// Wire bytes in the round.
    pub bytes_sent: u64,
    /// Pages dirty when the round ended.
    pub dirty_pages: u64,
}

/// The metrics of one migration run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Algorithm name.
    pub algorithm: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Start to end of the migration.
    pub total_time_s: f64,
    /// Time the VM ran nowhere.
    pub downtime_s: f64,
    /// Start until the source paused.
    pub preparation_time_s: f64,
    /// Destination resumed until the last page arrived.
    pub resume_time_s: f64,
    /// All page transmissions, duplicates included.
    pub pages_sent: u64,
    /// Wire bytes, headers included.
    pub bytes_sent: u64,
    /// Page content bytes.
    pub payload_bytes: u64,
    /// Transmissions beyond the first of each page.
    pub duplicate_pages: u64,
    /// Number of rounds (per_round entries).
    pub rounds: u32,
    /// Network page faults on the destination.
    pub network_faults: u64,
    /// Seconds the destination guest was blocked on faults.
    pub fault_stall_s: f64,
    /// The algorithm's stop condition was met.
    pub converged: bool,
    /// The VM runs on the destination with all its memory there.
    pub completed: bool,
    /// Destination memory equals the guest's memory at the end, page by page.
    pub verified: bool,
    /// Why the algorithm stopped.
    pub stop_reason: String,
    /// Pages the destination discarded because it already had them.
    pub dropped_pages: u64,
    /// Pages sent as zero-page flags.
    pub zero_pages: u64,
    /// Highest vCPU throttle applied on the source.
    pub max_throttle: f64,
    /// Guest seconds of work done during the migration.
    pub guest_progress_s: f64,
    /// Writes the guest made during the migration.
    pub guest_writes: u64,
    /// Task-guided only: times a heavy region began while the migration was approved, so the
    /// coordinator withdrew its permission or suspended the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawals: Option<u32>,
    /// Task-guided only: from the migration request to the coordinator's first approval (to
    /// the end if it never approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_time_s: Option<f64>,
    /// Task-guided only: how much longer the guest's task ran because of the migration, i.e.
    /// wall time minus guest work (`total_time_s - guest_progress_s`: downtime, suspension or
    /// throttling, fault stalls). A task of fixed work W that outlasts the migration takes
    /// W + `task_delay_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_delay_s: Option<f64>,
    /// Per-round figures.
    pub per_round: Vec<RoundReport>,
}

impl Report {
    /// Computes the report of a whole trace.
    pub fn from_trace(trace: &Trace) -> Report {
        let mut b = ReportBuilder::new(trace);
        trace.events.iter().for_each(|e| b.push(e));
        b.report(None)
    }
}

/// Builds a [`Report`] one event at a time, so that a player can show the metrics of a trace's
/// prefix (the web playground's live metrics) with the same code that computes the final report.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    r: Report,
    paused: Option<f64>,
    resumed: Option<f64>,
    end: f64,
    /// Task-guided coordinator: (requested, first approved, withdrawals), if there is one.
    coordinator: Option<(f64, Option<f64>, u32)>,
}

impl ReportBuilder {
    /// An empty report for `trace`'s algorithm and scenario.
    pub fn new(trace: &Trace) -> ReportBuilder {
        ReportBuilder {
            r: Report {
                algorithm: trace.algorithm.clone(),
                scenario: trace.scenario.name.clone(),
                seed: trace.scenario.seed,
                total_time_s: 0.0,
                downtime_s: 0.0,
                preparation_time_s: 0.0,
                resume_time_s: 0.0,
                pages_sent: 0,
                bytes_sent: 0,
                payload_bytes: 0,
                duplicate_pages: 0,
                rounds: 0,
                network_faults: 0,
                fault_stall_s: 0.0,
                converged: false,
                completed: false,
                verified: false,
                stop_reason: String::new(),
                dropped_pages: 0,
                zero_pages: 0,
                max_throttle: 0.0,
                guest_progress_s: 0.0,
                guest_writes: 0,
                withdrawals: None,
                waiting_time_s: None,
                task_delay_s: None,
                per_round: Vec::new(),
            },
            paused: None,
            resumed: None,
            end: 0.0,
            coordinator: None,
        }
    }

    /// Takes one event (events must come in trace order).
    pub fn push(&mut self, e: &crate::trace::TimedEvent) {
        let r = &mut self.r;
        self.end = self.end.max(e.t);
        match &e.event {
            Event::RoundStarted { round, kind, .. } => r.per_round.push(RoundReport {
                round: *round,
                kind: *kind,
                start_s: e.t,
                end_s: e.t,
                pages_sent: 0,
                bytes_sent: 0,
                dirty_pages: 0,
            }),
            Event::RoundEnded { dirty_pages, .. } => {
                if let Some(last) = r.per_round.last_mut() {
                    last.end_s = e.t;
                    last.dirty_pages = *dirty_pages;
                }
            }
            Event::PagesSent { count, payload_bytes, wire_bytes, encoding, .. } => {
                r.pages_sent += count;
                r.payload_bytes += payload_bytes;
                r.bytes_sent += wire_bytes;
                if *encoding == crate::context::Encoding::Zero {
                    r.zero_pages += count;
                }
                if let Some(last) = r.per_round.last_mut() {
                    last.pages_sent += count;
                    last.bytes_sent += wire_bytes;
                }
            }
            Event::DataSent { bytes, .. } => {
                r.bytes_sent += bytes;
                if let Some(last) = r.per_round.last_mut() {
                    last.bytes_sent += bytes;
                }
            }
            Event::PagesDropped { count, .. } => r.dropped_pages += count,
            Event::SourcePaused => self.paused = Some(e.t),
            Event::DestinationResumed => self.resumed = Some(e.t),
            Event::FaultRaised { .. } => r.network_faults += 1,
            Event::FaultServed { stall, .. } => r.fault_stall_s += stall,
            Event::Throttled { fraction } => r.max_throttle = r.max_throttle.max(*fraction),
            Event::MigrationEnded { completed, converged, verified, distinct_pages, guest_writes, guest_progress_s, stop_reason } => {
                r.completed = *completed;
                r.converged = *converged;
                r.verified = *verified;
                r.duplicate_pages = r.pages_sent.saturating_sub(*distinct_pages);
                r.guest_writes = *guest_writes;
                r.guest_progress_s = *guest_progress_s;
                r.stop_reason = stop_reason.clone();
            }
            Event::Coordinator { state, .. } => {
                use crate::context::CoordinatorState as S;
                let (_, approved, withdrawals) = self.coordinator.get_or_insert((e.t, None, 0));
                match state {
                    S::Approved if approved.is_none() => *approved = Some(e.t),
                    S::Withdrawn | S::TaskSuspended => *withdrawals += 1,
                    _ => {}
                }
            }
            Event::PagesDirtied { .. } | Event::GuestAccess { .. } | Event::RateLimited { .. } | Event::PhaseChanged { .. } => {}
        }
    }

    /// The report of the events pushed so far, as seen at time `now` (by default the last
    /// event's time): a downtime still in progress counts until `now`. Before the trace's
    /// `MigrationEnded` event, `duplicate_pages` is 0 and the outcome flags are false.
    pub fn report(&self, now: Option<f64>) -> Report {
        let mut r = self.r.clone();
        let end = now.map_or(self.end, |n| n.max(self.end));
        r.rounds = r.per_round.len() as u32;
        r.total_time_s = end;
        match (self.paused, self.resumed) {
            (Some(p), Some(q)) => {
                r.preparation_time_s = p;
                r.downtime_s = q - p;
                r.resume_time_s = end - q;
            }
            (Some(p), None) => {
                r.preparation_time_s = p;
                r.downtime_s = end - p;
            }
            _ => r.preparation_time_s = end,
        }
        if let Some((requested, approved, withdrawals)) = self.coordinator {
            r.withdrawals = Some(withdrawals);
            r.waiting_time_s = Some(approved.unwrap_or(end) - requested);
            r.task_delay_s = Some((r.total_time_s - r.guest_progress_s).max(0.0));
        }
        r
    }
}

/// The report's numeric fields by name, in its order (booleans count as 1 and 0, as
/// [`crate::experiment::metric`] reads them): what an assignment task or an experiment may
/// name as a metric. The task-guided fields are present only for its runs.
pub const METRICS: &[&str] = &[
    "total_time_s",
    "downtime_s",
    "preparation_time_s",
    "resume_time_s",
    "pages_sent",
    "bytes_sent",
    "payload_bytes",
    "duplicate_pages",
    "rounds",
    "network_faults",
    "fault_stall_s",
    "converged",
    "completed",
    "verified",
    "dropped_pages",
    "zero_pages",
    "max_throttle",
    "guest_progress_s",
    "guest_writes",
    "withdrawals",
    "waiting_time_s",
    "task_delay_s",
];

/// Column names of a report's one-line summary, in [`Report::summary_record`] order: what
/// `livemig simulate --csv` prints and the playground's Summary CSV holds.
pub const SUMMARY_COLUMNS: [&str; 17] = [
    "algorithm",
    "scenario",
    "seed",
    "total_time_s",
    "downtime_s",
    "preparation_time_s",
    "resume_time_s",
    "pages_sent",
    "bytes_sent",
    "payload_bytes",
    "duplicate_pages",
    "rounds",
    "network_faults",
    "fault_stall_s",
    "converged",
    "completed",
    "verified",
];

impl Report {
    /// The report's summary fields as text, in [`SUMMARY_COLUMNS`] order (numbers in Rust's
    /// shortest round-trip form).
    pub fn summary_record(&self) -> Vec<String> {
        let r = self;
        vec![
            r.algorithm.clone(),
            r.scenario.clone(),
            r.seed.to_string(),
            r.total_time_s.to_string(),
            r.downtime_s.to_string(),
            r.preparation_time_s.to_string(),
            r.resume_time_s.to_string(),
            r.pages_sent.to_string(),
            r.bytes_sent.to_string(),
            r.payload_bytes.to_string(),
            r.duplicate_pages.to_string(),
            r.rounds.to_string(),
            r.network_faults.to_string(),
            r.fault_stall_s.to_string(),
            r.converged.to_string(),
            r.completed.to_string(),
            r.verified.to_string(),
        ]
    }
}

/// Columns of [`Report::rounds_csv`]: `livemig simulate --csv --per-round`'s.
pub const ROUND_COLUMNS: [&str; 7] = ["round", "kind", "start_s", "end_s", "pages_sent", "bytes_sent", "dirty_pages"];

/// A round kind as the per-round table writes it (`live`, `stop-and-copy`, ...): its serde name.
pub fn round_kind_name(kind: RoundKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// One CSV field (RFC 4180), quoted only when it holds a comma, a quote or a line break, as
/// the `csv` crate writes it.
pub fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// One CSV record and its line ending.
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

impl Report {
    /// The per-round table as CSV, [`ROUND_COLUMNS`] then one row per round (numbers in Rust's
    /// shortest round-trip form): what `livemig simulate --csv --per-round` prints and the
    /// playground downloads. The one writer of this table.
    pub fn rounds_csv(&self) -> String {
        let mut out = csv_line(&ROUND_COLUMNS);
        for r in &self.per_round {
            out += &csv_line(&[
                r.round.to_string(),
                round_kind_name(r.kind),
                r.start_s.to_string(),
                r.end_s.to_string(),
                r.pages_sent.to_string(),
                r.bytes_sent.to_string(),
                r.dirty_pages.to_string(),
            ]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exactly_the_reports_numeric_fields() {
        // A task-guided run has the optional fields too.
        let s = crate::presets::preset("task-phases").unwrap().unwrap();
        let r = crate::simulate(&s, Some("task-guided"), crate::trace::TraceDetail::Summary).unwrap().report;
        let value = serde_json::to_value(&r).unwrap();
        let mut numeric: Vec<&str> = value
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| (v.is_number() || v.is_boolean()) && k.as_str() != "seed")
            .map(|(k, _)| k.as_str())
            .collect();
        let mut listed = METRICS.to_vec();
        numeric.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, numeric);
        for m in METRICS {
            assert!(crate::experiment::metric(&r, m).is_some(), "{m}");
        }
    }
}
