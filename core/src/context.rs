//! The interface every migration algorithm is written against.
//!
//! An algorithm is plain sequential code that reads like the paper's pseudo-code: fetch the dirty
//! log, send pages, decide to stop, pause the source, send the CPU state, resume the
//! destination, serve faults, push. It sees only [`MigrationContext`], so the same code runs in
//! the simulator ([`crate::sim::SimContext`]: virtual clock, simulated guest and link) and on a
//! real KVM guest (the native runner's context: KVM's dirty log, the guest's real bytes,
//! wall-clock time, a real socket, userfaultfd).
//!
//! The method set follows the capabilities real hypervisors expose: Xen's shadow-log
//! `CLEAN`/`PEEK` and KVM's `KVM_GET_DIRTY_LOG` (with manual protect for a peek), QEMU's
//! zero-page flag and postcopy page requests, Cloud Hypervisor's small `Migratable` traits.

use crate::bitmap::PageBitmap;
use crate::scenario::{OnTimeout, PhaseTag};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which path a transmission takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The bulk stream (pre-copy rounds, background push).
    Bulk,
    /// The fault-reply path of post-copy (QEMU's postcopy-preempt channel when the link has one).
    Priority,
}

/// How a page's content travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Encoding {
    /// The whole page.
    Full,
    /// A flag saying the page is all zeros (QEMU `RAM_SAVE_FLAG_ZERO`): one byte of payload.
    Zero,
    /// Only what changed since the last sent version (XBZRLE).
    Delta,
    /// WKdm word-dictionary compression.
    Wkdm,
    /// LZ4 (the stand-in for LZO).
    Lz4,
}

impl Encoding {
    /// Wire bytes a record of this encoding carries besides the per-page header and its encoded
    /// bytes: QEMU's XBZRLE record has a 1-byte encoding flag and a be16 length; a compressed
    /// page carries a 2-byte length; a zero page is a 1-byte flag; a full page is the page.
    pub fn framing_bytes(self) -> u64 {
        match self {
            Encoding::Full => 0,
            Encoding::Zero => 1,
            Encoding::Delta => 3,
            Encoding::Wkdm | Encoding::Lz4 => 2,
        }
    }
}

/// Pages in encoded form, ready to send: each page with its encoding and its encoded bytes
/// (empty for [`Encoding::Zero`]; the page's bytes for [`Encoding::Full`]).
///
/// A page's bytes are copied into the batch ([`Self::push`]), or shared with the sender
/// ([`Self::push_shared`]): a sender that sends one encoding for many pages (MECOM, for the
/// simulator's never-written contents) hands over a reference, not a copy per page, and a
/// receiver that has checked those very bytes once need not compare them again
/// ([`Self::shared`]). Either way, [`Self::get`] gives the bytes, and two batches are equal
/// when they hold the same pages, encodings and bytes.
#[derive(Debug, Clone, Default)]
pub struct EncodedBatch {
    pages: Vec<u64>,
    encodings: Vec<Encoding>,
    spans: Vec<Span>,
    data: Vec<u8>,
    shared: Vec<Arc<[u8]>>,
    data_bytes: u64,
}

/// Where a page's bytes are in an [`EncodedBatch`].
#[derive(Debug, Clone, Copy)]
enum Span {
    /// `data[start..end]`.
    Copied { start: usize, end: usize },
    /// `shared[index]`.
    Shared(usize),
}

impl PartialEq for EncodedBatch {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for EncodedBatch {}

impl EncodedBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.pages.clear();
        self.encodings.clear();
        self.spans.clear();
        self.data.clear();
        self.shared.clear();
        self.data_bytes = 0;
    }
    /// Adds a page with its encoded bytes (copied).
    pub fn push(&mut self, page: u64, encoding: Encoding, bytes: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.spans.push(Span::Copied { start, end: self.data.len() });
        self.pages.push(page);
        self.encodings.push(encoding);
        self.data_bytes += bytes.len() as u64;
    }
    /// Adds a page whose encoded bytes are `bytes`, shared rather than copied.
    pub fn push_shared(&mut self, page: u64, encoding: Encoding, bytes: &Arc<[u8]>) {
        let index = match self.shared.last() {
            Some(last) if Arc::ptr_eq(last, bytes) => self.shared.len() - 1,
            _ => {
                self.shared.push(bytes.clone());
                self.shared.len() - 1
            }
        };
        self.spans.push(Span::Shared(index));
        self.pages.push(page);
        self.encodings.push(encoding);
        self.data_bytes += bytes.len() as u64;
    }
    /// Number of pages.
    pub fn len(&self) -> usize {
        self.pages.len()
    }
    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
    /// Total encoded bytes (framing and headers excluded).
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }
    /// The `i`-th page, its encoding and its encoded bytes.
    pub fn get(&self, i: usize) -> (u64, Encoding, &[u8]) {
        let bytes = match self.spans[i] {
            Span::Copied { start, end } => &self.data[start..end],
            Span::Shared(k) => &self.shared[k][..],
        };
        (self.pages[i], self.encodings[i], bytes)
    }
    /// The `i`-th page's bytes if they were added shared ([`Self::push_shared`]).
    pub fn shared(&self, i: usize) -> Option<&Arc<[u8]>> {
        match self.spans[i] {
            Span::Shared(k) => Some(&self.shared[k]),
            Span::Copied { .. } => None,
        }
    }
    /// Every page, its encoding and its encoded bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Encoding, &[u8])> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// What a stretch of the migration is doing; labels a round in traces and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoundKind {
    /// An iterative pre-copy round while the VM runs on the source.
    Live,
    /// The VM is paused: final pages and CPU state (the downtime).
    StopAndCopy,
    /// The VM runs on the destination while the remaining pages are pushed and faulted in.
    PostCopy,
    /// Anything not labelled by the algorithm.
    Other,
}

/// A task-guided migration coordinator's state (Lin & Kuo 2018; see
/// [`crate::algorithms::task_guided`]), recorded in traces as it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoordinatorState {
    /// A migration has been requested and waits for the coordinator's approval.
    Pending,
    /// The coordinator approved the migration: pre-copy runs.
    Approved,
    /// A heavy region began before stop-and-copy: the coordinator withdrew its permission and
    /// pre-copy stopped sending until the next approval.
    Withdrawn,
    /// A heavy region began before stop-and-copy: the coordinator suspended the guest's task
    /// (throttled its vCPUs) and pre-copy goes on.
    TaskSuspended,
    /// Stop-and-copy is done: the VM runs on the destination.
    Done,
}

/// Bytes one transmission put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    /// Bytes on the wire, headers included.
    pub wire_bytes: u64,
    /// Page content bytes (or encoded page bytes), headers excluded.
    pub payload_bytes: u64,
}

/// What an algorithm reports when it returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The algorithm's own stop condition was met (false when a cap, a timeout or a cancel
    /// ended it).
    pub converged: bool,
    /// Why it stopped, for people.
    pub stop_reason: String,
}

impl Outcome {
    /// The stop condition was met.
    pub fn converged(reason: impl Into<String>) -> Self {
        Outcome { converged: true, stop_reason: reason.into() }
    }
    /// Something other than the stop condition ended the migration.
    pub fn forced(reason: impl Into<String>) -> Self {
        Outcome { converged: false, stop_reason: reason.into() }
    }
}

/// Why a context operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContextError {
    /// A page number outside the VM.
    #[error("page {page} is out of range: the VM has pages 0..{pages}")]
    PageOutOfRange {
        /// The page asked for.
        page: u64,
        /// The number of pages.
        pages: u64,
    },
    /// The operation is not allowed in the migration's current state.
    #[error("{operation} is not allowed now: {reason}")]
    WrongState {
        /// What was attempted.
        operation: &'static str,
        /// Why it is not allowed.
        reason: &'static str,
    },
    /// An argument is outside its accepted range.
    #[error("{name} = {value} is out of range: accepted {accepted}")]
    BadArgument {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The accepted range.
        accepted: &'static str,
    },
    /// The transport (socket, channel) failed.
    #[error("transport failed: {0}")]
    Transport(String),
    /// The guest or hypervisor failed.
    #[error("guest failed: {0}")]
    Guest(String),
}

/// Checks a [`MigrationContext::set_rate_limit`] argument: a limit must be more than 0 bytes/s
/// (None lifts it). Every context's implementation calls this, so all reject the same values.
pub fn check_rate_limit(bytes_per_s: Option<f64>) -> Result<(), ContextError> {
    match bytes_per_s {
        Some(r) if r.is_nan() || r <= 0.0 => {
            Err(ContextError::BadArgument { name: "rate limit", value: r.to_string(), accepted: "more than 0 bytes/s" })
        }
        _ => Ok(()),
    }
}

/// Checks a [`MigrationContext::send_dirty_bitmap`] argument: a bitmap over the VM's `pages`.
pub fn check_bitmap_length(bitmap: &crate::bitmap::PageBitmap, pages: u64) -> Result<(), ContextError> {
    if bitmap.len() != pages {
        return Err(ContextError::BadArgument { name: "bitmap length", value: bitmap.len().to_string(), accepted: "the VM's page count" });
    }
    Ok(())
}

/// Everything a migration algorithm may do. Times are seconds since the migration started.
pub trait MigrationContext {
    /// Number of guest pages.
    fn page_count(&self) -> u64;
    /// Page size in bytes.
    fn page_size(&self) -> u64;
    /// Seconds since the migration started.
    fn now(&self) -> f64;
    /// Whether the scenario's time limit has passed; the algorithm should stop.
    fn deadline_passed(&self) -> bool;
    /// Wire bytes sent so far (for measuring bandwidth).
    fn bytes_sent(&self) -> u64;
    /// What to do when the deadline passes before the algorithm converges.
    fn timeout_action(&self) -> OnTimeout;

    /// Clears the source's dirty log and starts logging writes.
    fn start_dirty_log(&mut self) -> Result<(), ContextError>;
    /// Returns the pages written since the last fetch and clears the log (Xen `CLEAN`,
    /// `KVM_GET_DIRTY_LOG`).
    fn fetch_dirty(&mut self) -> Result<PageBitmap, ContextError>;
    /// The pages written since the last fetch, without clearing (Xen `PEEK`).
    fn peek_dirty(&mut self) -> Result<&PageBitmap, ContextError>;
    /// How many pages are dirty now (a cheap peek).
    fn dirty_count(&mut self) -> Result<u64, ContextError>;

    /// Whether the page is all zeros on the source now.
    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError>;
    /// Copies the page's current bytes on the source into `buf` (`page_size` bytes).
    fn read_page(&mut self, page: u64, buf: &mut [u8]) -> Result<(), ContextError>;
    /// The pages the guest's balloon reports free (zero, unused; self-ballooning).
    fn free_pages(&mut self) -> Result<PageBitmap, ContextError>;

    /// Sends whole pages with their current content.
    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError>;
    /// Sends pages in encoded form (zero flags, compressed pages, XBZRLE deltas) on the bulk
    /// channel. `cpu_s` is the encoding work the batch took by the algorithm's cost model:
    /// encoding is pipelined with sending, so the batch occupies the link for the longer of its
    /// wire time and `cpu_s` (the KVM backend measures real time instead). A delta applies to the
    /// destination's current copy of the page, so deltas are only allowed before resume.
    fn send_encoded(&mut self, batch: &EncodedBatch, cpu_s: f64) -> Result<Sent, ContextError>;
    /// Sends zero-page flags for pages that are all zeros.
    fn send_zero_pages(&mut self, pages: &[u64]) -> Result<Sent, ContextError>;
    /// Tells the destination these pages are free: zero, and not sent.
    fn send_free_page_list(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError>;
    /// Sends the dirty bitmap: on the destination these pages become absent until they arrive.
    fn send_dirty_bitmap(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError>;
    /// Sends the CPU and device state.
    fn send_state(&mut self) -> Result<Sent, ContextError>;

    /// Marks the start of a round (a stretch of the migration shown as one unit in reports).
    fn begin_round(&mut self, kind: RoundKind);
    /// Marks the end of the current round.
    fn end_round(&mut self);
    /// Stops the guest on the source; the downtime starts.
    fn pause_source(&mut self) -> Result<(), ContextError>;
    /// Starts the guest on the destination once everything sent so far has arrived; the
    /// downtime ends. Pages never sent are absent there and fault when touched.
    fn resume_destination(&mut self) -> Result<(), ContextError>;
    /// Throttles the source's vCPUs to `1 - fraction` of their speed (QEMU auto-converge).
    fn set_throttle(&mut self, fraction: f64) -> Result<(), ContextError>;
    /// Limits the bulk sending rate (Clark's adaptive rate limiting); None lifts the limit.
    fn set_rate_limit(&mut self, bytes_per_s: Option<f64>) -> Result<(), ContextError>;

    /// A page the destination has requested after a fault, if one has arrived.
    fn poll_fault(&mut self) -> Result<Option<u64>, ContextError>;
    /// Lets time pass until `until` (seconds since the start; capped at the scenario's deadline)
    /// while the guest runs wherever it is, sending nothing. Returns early with the page of a
    /// destination page request that arrives first, if any. Algorithms use it to wait for a
    /// working-set window (hybrid) or a push interval (TSMC).
    fn wait_fault_until(&mut self, until: f64) -> Result<Option<u64>, ContextError>;

    /// Waits for the destination's next page request; None if none will come before the deadline.
    fn wait_fault(&mut self) -> Result<Option<u64>, ContextError> {
        self.wait_fault_until(f64::INFINITY)
    }

    /// Whether this context simulates the migration: time is a model, and CPU work such as
    /// compression is charged by a cost model rather than measured. An algorithm may then
    /// remember the results of pure computations on identical bytes
    /// ([`crate::codec::memo::ByteMemo`]), which changes how long the simulation takes and no
    /// simulated number. A real guest's context answers false (the default): its codecs run,
    /// and are timed, on every page.
    fn simulated(&self) -> bool {
        false
    }

    /// In a simulation, an identifier of the page's current bytes when they are one of the
    /// memory model's shared contents ([`crate::content::ContentModel::shared_content_id`]):
    /// pages with equal identifiers hold equal bytes, so an algorithm may reuse a pure
    /// computation (an encoding) done for one for the others without reading them, as it
    /// would with [`crate::codec::memo::ByteMemo`] after reading them. None (the default, and
    /// always on a real guest): read the page.
    fn shared_content_id(&mut self, page: u64) -> Result<Option<u64>, ContextError> {
        let _ = page;
        Ok(None)
    }

    /// The tag of the code region the guest runs now: the tag of the last tagged phase it has
    /// entered ([`PhaseTag::EnterCalm`]: a calm region, [`PhaseTag::LeaveCalm`]: a heavy one),
    /// None when it has passed no tag. The simulator reads the workload's phases; a real guest
    /// reports its tags to the hypervisor (task-guided migration, Lin & Kuo 2018).
    fn task_tag(&mut self) -> Result<Option<PhaseTag>, ContextError>;

    /// Records that a migration coordinator changed state, and why (for traces; contexts that
    /// keep no trace ignore it).
    fn coordinator(&mut self, state: CoordinatorState, reason: &str) {
        let _ = (state, reason);
    }
}
