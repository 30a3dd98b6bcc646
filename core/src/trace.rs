//! Traces: everything a migration did, as timestamped events.
//!
//! The web playground animates a trace and can scrub backwards because it is data; the report is
//! derived from it ([`crate::report::Report::from_trace`]); a trace recorded on a real KVM guest
//! has the same format. Page sets are stored as runs `[first, count]`, so sequential transfers
//! stay small. At [`TraceDetail::Summary`] events carry counts only (for big VMs and sweeps).

use crate::context::{Channel, Encoding, RoundKind};
use crate::scenario::{PhaseTag, Scenario};
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
}

impl Trace {
    /// Parses a trace file's JSON.
    pub fn from_json(text: &str) -> Result<Trace, TraceError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| TraceError::Malformed(e.to_string()))?;
        let found = v.get("format").and_then(|f| f.as_u64()).ok_or_else(|| TraceError::Malformed("missing field `format`".into()))?;
        if found != TRACE_FORMAT as u64 {
            return Err(TraceError::Version { found: found as u32 });
        }
        serde_path_to_error::deserialize(v).map_err(|e| TraceError::Malformed(format!("{}: {}", e.path(), e.inner())))
    }
}
