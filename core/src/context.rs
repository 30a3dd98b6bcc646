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
use crate::scenario::OnTimeout;
use serde::{Deserialize, Serialize};

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
}
