//! Traces: everything a migration did, as timestamped events.
//!
//! The web playground animates a trace and can scrub backwards because it is data; the report is
//! derived from it ([`crate::report::Report::from_trace`]); a trace recorded on a real KVM guest
//! has the same format. Page sets are stored as runs `[first, count]`, so sequential transfers
//! stay small. At [`TraceDetail::Summary`] events carry counts only (for big VMs and sweeps).

use crate::context::{Channel, Encoding, RoundKind};
use crate::scenario::{PhaseTag, Scenario};
use crate::units::Quantity;
use crate::workload::AccessKind;
use serde::{Deserialize, Serialize};

/// Format version of trace files; bumped on incompatible changes.
pub const TRACE_FORMAT: u32 = 1;

/// How much a trace records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceDetail {
    /// Counts only: rounds, totals, faults.
    Summary,
    /// Which pages were sent and dirtied (what the playground animates).
    #[default]
    Pages,
    /// Also every guest access on the destination (for checking the post-copy invariants), and
    /// one `PagesSent` event per send call, so that each page's `arrive` time is exact.
    Accesses,
}

/// A set of pages as runs of consecutive page numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageRuns(pub Vec<[u64; 2]>);

impl PageRuns {
    /// Adds a page, extending the last run when it is the next page.
    pub fn push(&mut self, page: u64) {
        if let Some(last) = self.0.last_mut() {
            if last[0] + last[1] == page {
                last[1] += 1;
                return;
            }
        }
        self.0.push([page, 1]);
    }
    /// Appends all runs of `other`.
    pub fn extend(&mut self, other: &PageRuns) {
        for &[start, len] in &other.0 {
            match self.0.last_mut() {
                Some(last) if last[0] + last[1] == start => last[1] += len,
                _ => self.0.push([start, len]),
            }
        }
    }
    /// Whether there are no pages.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every page, in stored order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|&[s, n]| s..s + n)
    }
}

/// Where the guest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Host {
    /// Running on the source.
    Source,
    /// Running on the destination.
    Destination,
}

/// Non-page data a migration sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// CPU and device state.
    State,
    /// A dirty bitmap (TSMC stage 2): the pages it marks are absent on the destination until
    /// they are sent again.
    DirtyBitmap,
    /// The list of free (ballooned) pages.
    FreePageList,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A round begins.
    RoundStarted {
        /// 1-based round number.
        round: u32,
        /// What the round does.
        kind: RoundKind,
        /// Pages dirty (waiting to be sent) when it began.
        dirty_pages: u64,
    },
    /// The current round ends.
    RoundEnded {
        /// Round number.
        round: u32,
        /// Pages dirty when it ended.
        dirty_pages: u64,
    },
    /// Pages left the source (starting at the event's time).
    PagesSent {
        /// When the last byte left.
        end: f64,
        /// When the last byte arrived.
        arrive: f64,
        /// Which path.
        channel: Channel,
        /// How the pages were encoded.
        encoding: Encoding,
        /// Number of pages.
        count: u64,
        /// Page content bytes.
        payload_bytes: u64,
        /// Wire bytes, headers included.
        wire_bytes: u64,
        /// Which pages (empty at summary detail).
        #[serde(default, skip_serializing_if = "PageRuns::is_empty")]
        pages: PageRuns,
    },
    /// Non-page data left the source.
    DataSent {
        /// What it was.
        what: DataKind,
        /// When the last byte left.
        end: f64,
        /// When it arrived.
        arrive: f64,
        /// Wire bytes.
        bytes: u64,
        /// The pages a dirty bitmap or a free-page list names (empty for the CPU state, and at
        /// summary detail). A dirty bitmap sent before the destination resumed makes its pages
        /// absent there until they are sent again; a free-page list makes its pages present.
        #[serde(default, skip_serializing_if = "PageRuns::is_empty")]
        pages: PageRuns,
    },
    /// Pages became dirty on the source (first write since they were last logged).
    PagesDirtied {
        /// Number of pages.
        count: u64,
        /// Which pages.
        #[serde(default, skip_serializing_if = "PageRuns::is_empty")]
        pages: PageRuns,
    },
    /// The destination discarded pages that arrived after it already had them.
    PagesDropped {
        /// Number of pages.
        count: u64,
        /// Which pages.
        #[serde(default, skip_serializing_if = "PageRuns::is_empty")]
        pages: PageRuns,
    },
    /// The guest was stopped on the source.
    SourcePaused,
    /// The guest started on the destination.
    DestinationResumed,
    /// The destination guest touched an absent page and blocked.
    FaultRaised {
        /// The page.
        page: u64,
        /// Read or write.
        access: AccessKind,
    },
    /// The faulting page arrived and the guest went on.
    FaultServed {
        /// The page.
        page: u64,
        /// Seconds the guest was blocked.
        stall: f64,
    },
    /// A guest access on the destination (only at [`TraceDetail::Accesses`]).
    GuestAccess {
        /// The page.
        page: u64,
        /// Read or write.
        access: AccessKind,
    },
    /// The source vCPUs were throttled.
    Throttled {
        /// Fraction of vCPU time taken away.
        fraction: f64,
    },
    /// The bulk sending rate limit changed.
    RateLimited {
        /// Bytes per second, or none for unlimited.
        bytes_per_s: Option<f64>,
    },
    /// The guest's workload entered a phase.
    PhaseChanged {
        /// Phase index.
        phase: usize,
        /// Phase name.
        name: String,
        /// Its tag, if any.
        tag: Option<PhaseTag>,
        /// Where the guest ran.
        host: Host,
    },
    /// A task-guided migration's coordinator changed state.
    Coordinator {
        /// The new state.
        state: crate::context::CoordinatorState,
        /// Why, for people (the tag seen, the policy applied).
        reason: String,
    },
    /// The migration is over.
    MigrationEnded {
        /// The VM runs on the destination with all its memory there.
        completed: bool,
        /// The algorithm's stop condition was met.
        converged: bool,
        /// Destination memory equals the guest's memory, page by page.
        verified: bool,
        /// Pages that were sent at least once.
        distinct_pages: u64,
        /// Writes the guest made during the migration.
        guest_writes: u64,
        /// Guest seconds of work done during the migration (less than wall time when the
        /// guest was paused, throttled or blocked).
        guest_progress_s: f64,
        /// Why the algorithm stopped.
        stop_reason: String,
    },
}

/// An event and when it happened (seconds since the migration started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedEvent {
    /// Seconds since start.
    pub t: f64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// A recorded migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// [`TRACE_FORMAT`] of the writer.
    pub format: u32,
    /// Algorithm registry name.
    pub algorithm: String,
    /// Parameters the algorithm ran with (resolved, defaults filled in).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The scenario.
    pub scenario: Scenario,
    /// Pages in the VM.
    pub page_count: u64,
    /// Page size.
    pub page_size: u64,
    /// Detail level.
    pub detail: TraceDetail,
    /// "simulator" or "kvm".
    pub backend: String,
    /// Events in time order.
    pub events: Vec<TimedEvent>,
}

/// The largest trace file read (the playground's *Open trace file*, [`Trace::from_json`]): the
/// largest trace `livemig trace` writes by default (`--max-trace-size`,
/// [`crate::cost::Limits::DEFAULT_TRACE_BYTES`], 512 MiB), so that every trace it writes opens.
pub const MAX_TRACE_FILE_BYTES: u64 = crate::cost::Limits::DEFAULT_TRACE_BYTES;

/// Why a trace file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Not valid trace JSON.
    #[error("malformed trace: {0}")]
    Malformed(String),
    /// Written by an incompatible version.
    #[error("trace format {found} is not supported: this build reads format {TRACE_FORMAT}")]
    Version {
        /// The file's format number.
        found: u32,
    },
    /// Larger than [`MAX_TRACE_FILE_BYTES`].
    #[error("{} is too large: accepted a trace of up to {} (what `livemig trace` writes by default)", Quantity::Size.show(*.bytes as f64), Quantity::Size.show(MAX_TRACE_FILE_BYTES as f64))]
    TooLarge {
        /// The file's size in bytes.
        bytes: u64,
    },
}

/// A trace whose JSON passed its cap while it was recorded (see
/// [`crate::sim::SimOptions::max_trace_bytes`]): it names the detail and the size the trace
/// would have reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--detail {}: the trace would reach {}, over the cap of {}: choose a lower detail or a shorter migration.timeout, or raise the cap (--max-trace-size)",
    .detail.name(),
    Quantity::Size.show(*.bytes as f64),
    Quantity::Size.show(*.cap as f64)
)]
pub struct TraceTooLarge {
    /// The detail recorded.
    pub detail: TraceDetail,
    /// Bytes of JSON the whole trace would have taken.
    pub bytes: u64,
    /// The cap, in bytes.
    pub cap: u64,
}

impl TraceDetail {
    /// The detail's name, as in a trace file and `livemig trace --detail`.
    pub fn name(self) -> &'static str {
        match self {
            TraceDetail::Summary => "summary",
            TraceDetail::Pages => "pages",
            TraceDetail::Accesses => "accesses",
        }
    }
}

/// Bytes that `serde_json::to_writer` writes for `value` (counted, not stored).
pub fn json_len<T: Serialize>(value: &T) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and the trace's types always serialise.
    serde_json::to_writer(&mut count, value).expect("trace events serialise");
    count.0
}

impl Trace {
    /// Checks a trace file's size, in bytes, before it is read: at most
    /// [`MAX_TRACE_FILE_BYTES`].
    pub fn check_file_size(bytes: u64) -> Result<(), TraceError> {
        if bytes > MAX_TRACE_FILE_BYTES {
            return Err(TraceError::TooLarge { bytes });
        }
        Ok(())
    }

    /// Parses a trace file's JSON (at most [`MAX_TRACE_FILE_BYTES`]).
    pub fn from_json(text: &str) -> Result<Trace, TraceError> {
        Trace::check_file_size(text.len() as u64)?;
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| TraceError::Malformed(e.to_string()))?;
        let found = v.get("format").and_then(|f| f.as_u64()).ok_or_else(|| TraceError::Malformed("missing field `format`".into()))?;
        if found != TRACE_FORMAT as u64 {
            return Err(TraceError::Version { found: found as u32 });
        }
        serde_path_to_error::deserialize(v).map_err(|e| TraceError::Malformed(format!("{}: {}", e.path(), e.inner())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::preset;
    use crate::sim::SimOptions;

    #[test]
    fn a_trace_file_over_the_bound_is_refused_naming_its_size_and_the_bound() {
        assert!(Trace::check_file_size(MAX_TRACE_FILE_BYTES).is_ok());
        let e = Trace::check_file_size(600 << 20).unwrap_err().to_string();
        assert_eq!(e, "600 MiB is too large: accepted a trace of up to 512 MiB (what `livemig trace` writes by default)");
    }

    /// The cap counts exactly the bytes `serde_json::to_writer` writes: a cap of that size
    /// passes with the same trace, one byte less refuses it, naming the size.
    #[test]
    fn the_trace_cap_counts_the_json_exactly_and_refuses_a_trace_one_byte_over() {
        let s = preset("idle-vm").unwrap().unwrap();
        for (algorithm, detail) in [("precopy-xen", TraceDetail::Pages), ("postcopy", TraceDetail::Accesses)] {
            let free = crate::simulate(&s, Some(algorithm), detail).unwrap().trace;
            let bytes = serde_json::to_vec(&free).unwrap().len() as u64;
            assert_eq!(json_len(&free), bytes);
            let with = |cap: u64| crate::simulate_with(&s, Some(algorithm), SimOptions { detail, max_trace_bytes: Some(cap) });
            assert_eq!(with(bytes).unwrap().trace, free, "{algorithm}: the cap changed the trace");
            match with(bytes - 1) {
                Err(crate::Error::TraceTooLarge(e)) => assert_eq!(e, TraceTooLarge { detail, bytes, cap: bytes - 1 }),
                other => panic!("{algorithm}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_trace_over_its_cap_says_the_detail_and_the_size_it_would_reach() {
        let s = preset("idle-vm").unwrap().unwrap();
        let options = SimOptions { detail: TraceDetail::Accesses, max_trace_bytes: Some(1000) };
        let e = crate::simulate_with(&s, Some("postcopy"), options).unwrap_err().to_string();
        assert!(e.starts_with("--detail accesses: the trace would reach "), "{e}");
        assert!(e.contains(", over the cap of 1000 B: ") && e.ends_with("(--max-trace-size)"), "{e}");
    }
}
