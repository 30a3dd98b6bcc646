//! The interface every migration algorithm is written against.
//!
//! An algorithm is plain sequential code that reads like the paper's pseudo-code: fetch the dirty
//! log, send pages, decide to stop, pause the source, send the CPU state, resume the
//! destination, serve faults, push. It sees only [`MigrationContext`], so the same code runs in
//! the simulator ([`crate::sim::SimContext`]: virtual clock, simulated guest and link) and on a
//! real KVM guest (the native runner's context: KVM's dirty log, the guest's real bytes,
//! wall-clock time, a real socket, userfaultfd).
//!
//! The seam is a few small traits, one per concern, in the manner of Cloud Hypervisor's
//! `Migratable`/`Pausable`: [`Clock`], [`DirtyLog`], [`GuestMemory`], [`Transport`],
//! [`SwitchOver`], [`Faults`], [`Tuning`], [`Rounds`] and [`TaskTags`]; [`MigrationContext`] is
//! all of them. Their methods follow the capabilities real hypervisors expose: Xen's shadow-log
//! `CLEAN`/`PEEK` and KVM's `KVM_GET_DIRTY_LOG`, QEMU's zero-page flag and postcopy page
//! requests. Shortcuts only a simulation can take sit behind [`MigrationContext::sim_hints`]
//! ([`SimHints`]), which a real guest's context does not offer.
//!
//! Where the order of calls matters, the types carry it: [`DirtyLogging`], the proof that the
//! dirty log is on, comes only from `start_dirty_log` and is needed to fetch or peek the log;
//! [`Paused`], the proof that the source is paused, comes only from `pause_source` and is needed
//! to send the CPU state and to resume on the destination, which consumes it.

use crate::bitmap::PageBitmap;
use crate::scenario::{OnTimeout, PhaseTag};
use serde::{Deserialize, Serialize};

mod encoded;
pub use encoded::{EncodedBatch, Encoding};

/// Which path a transmission takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The bulk stream (pre-copy rounds, background push).
    Bulk,
    /// The fault-reply path of post-copy (QEMU's postcopy-preempt channel when the link has one).
    Priority,
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

/// Checks a [`Tuning::set_rate_limit`] argument: a limit must be more than 0 bytes/s
/// (None lifts it). Every context's implementation calls this, so all reject the same values.
pub fn check_rate_limit(bytes_per_s: Option<f64>) -> Result<(), ContextError> {
    match bytes_per_s {
        Some(r) if r.is_nan() || r <= 0.0 => {
            Err(ContextError::BadArgument { name: "rate limit", value: r.to_string(), accepted: "more than 0 bytes/s" })
        }
        _ => Ok(()),
    }
}

/// Checks a [`Transport::send_dirty_bitmap`] argument: a bitmap over the VM's `pages`.
pub fn check_bitmap_length(bitmap: &crate::bitmap::PageBitmap, pages: u64) -> Result<(), ContextError> {
    if bitmap.len() != pages {
        return Err(ContextError::BadArgument { name: "bitmap length", value: bitmap.len().to_string(), accepted: "the VM's page count" });
    }
    Ok(())
}

/// Proof that the source's dirty log is on: made only by `start_dirty_log`, needed by
/// [`DirtyLog::fetch_dirty`] and [`DirtyLog::peek_dirty`].
#[derive(Debug, Clone, Copy)]
pub struct DirtyLogging(());

/// Proof that the guest is paused on the source: made only by `pause_source`, needed by
/// [`SwitchOver::send_state`], and consumed by `resume_destination`.
#[derive(Debug)]
pub struct Paused(());

/// Time and the VM's size. Times are seconds since the migration started.
pub trait Clock {
    /// Number of guest pages.
    fn page_count(&self) -> u64;
    /// Page size in bytes.
    fn page_size(&self) -> u64;
    /// Seconds since the migration started.
    fn now(&self) -> f64;
    /// Whether the scenario's time limit has passed; the algorithm should stop.
    fn deadline_passed(&self) -> bool;
    /// What to do when the deadline passes before the algorithm converges.
    fn timeout_action(&self) -> OnTimeout;
    /// Lets time pass without sending until `t` (seconds since the migration started), or until
    /// the deadline if that comes first; the guest runs meanwhile. A time already past returns
    /// at once. QEMU's migration thread sleeps out its rate limit's window this way
    /// (`migration_rate_limit()`).
    fn wait_until(&mut self, t: f64) -> Result<(), ContextError>;
}

/// The source's dirty log. `start_dirty_log` gives the [`DirtyLogging`] that fetching and
/// peeking need.
pub trait DirtyLog {
    /// Clears the source's dirty log and starts logging writes. Contexts implement it;
    /// algorithms call `start_dirty_log`, which also gives the proof.
    fn enable_dirty_log(&mut self) -> Result<(), ContextError>;
    /// Returns the pages written since the last fetch and clears the log (Xen `CLEAN`,
    /// `KVM_GET_DIRTY_LOG`).
    fn fetch_dirty(&mut self, logging: &DirtyLogging) -> Result<PageBitmap, ContextError>;
    /// The pages written since the last fetch, without clearing (Xen `PEEK`).
    fn peek_dirty(&mut self, logging: &DirtyLogging) -> Result<&PageBitmap, ContextError>;

    /// Clears the source's dirty log and starts logging writes; the proof fetches and peeks.
    fn start_dirty_log(&mut self) -> Result<DirtyLogging, ContextError> {
        self.enable_dirty_log()?;
        Ok(DirtyLogging(()))
    }
}

/// Reading the guest's memory on the source.
pub trait GuestMemory {
    /// Whether the page is all zeros on the source now.
    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError>;
    /// Copies the page's current bytes on the source into `buf` (`page_size` bytes).
    fn read_page(&mut self, page: u64, buf: &mut [u8]) -> Result<(), ContextError>;
    /// The pages the guest's balloon reports free (zero, unused; self-ballooning).
    fn free_pages(&mut self) -> Result<PageBitmap, ContextError>;
}

/// Sending to the destination.
pub trait Transport {
    /// Wire bytes sent so far (for measuring bandwidth).
    fn bytes_sent(&self) -> u64;
    /// Sends whole pages with their current content.
    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError>;
    /// Sends pages in encoded form (zero flags, compressed pages, XBZRLE deltas) on the bulk
    /// channel. A delta applies to the destination's current copy of the page, so deltas are
    /// only allowed before resume.
    fn send_encoded(&mut self, batch: &EncodedBatch) -> Result<Sent, ContextError>;
    /// Sends zero-page flags for pages that are all zeros.
    fn send_zero_pages(&mut self, pages: &[u64]) -> Result<Sent, ContextError>;
    /// Tells the destination these pages are free: zero, and not sent.
    fn send_free_page_list(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError>;
    /// Sends the dirty bitmap: on the destination these pages become absent until they arrive.
    fn send_dirty_bitmap(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError>;
}

/// Moving the guest: pause on the source, CPU state, resume on the destination, in that order
/// ([`Paused`]).
pub trait SwitchOver {
    /// Stops the guest on the source; the downtime starts. Contexts implement it; algorithms
    /// call `pause_source`, which also gives the proof.
    fn stop_source(&mut self) -> Result<(), ContextError>;
    /// Sends the CPU and device state (the guest is paused).
    fn send_state(&mut self, paused: &Paused) -> Result<Sent, ContextError>;
    /// Starts the guest on the destination once everything sent so far has arrived; the
    /// downtime ends. Pages never sent are absent there and fault when touched. Contexts
    /// implement it; algorithms call `resume_destination`.
    fn start_destination(&mut self) -> Result<(), ContextError>;

    /// Stops the guest on the source; the downtime starts. The proof sends the CPU state and
    /// resumes the guest on the destination.
    fn pause_source(&mut self) -> Result<Paused, ContextError> {
        self.stop_source()?;
        Ok(Paused(()))
    }

    /// Starts the guest on the destination once everything sent so far has arrived; the
    /// downtime ends, and the proof of the pause is used up. Pages never sent are absent there
    /// and fault when touched.
    fn resume_destination(&mut self, paused: Paused) -> Result<(), ContextError> {
        let Paused(()) = paused;
        self.start_destination()
    }
}

/// Page requests from the destination after the switch-over (post-copy).
pub trait Faults {
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

/// Knobs that slow the guest or the sender.
pub trait Tuning {
    /// Throttles the source's vCPUs to `1 - fraction` of their speed (QEMU auto-converge).
    fn set_throttle(&mut self, fraction: f64) -> Result<(), ContextError>;
    /// Limits the bulk sending rate (Clark's adaptive rate limiting); None lifts the limit.
    fn set_rate_limit(&mut self, bytes_per_s: Option<f64>) -> Result<(), ContextError>;
}

/// Labels for the trace: rounds, and a coordinator's decisions.
pub trait Rounds {
    /// Marks the start of a round (a stretch of the migration shown as one unit in reports).
    fn begin_round(&mut self, kind: RoundKind);
    /// Marks the end of the current round.
    fn end_round(&mut self);
    /// Records that a migration coordinator changed state, and why.
    fn coordinator(&mut self, state: CoordinatorState, reason: &str);
}

/// The guest's own account of what it runs (task-guided migration, Lin & Kuo 2018).
pub trait TaskTags {
    /// The tag of the code region the guest runs now: the tag of the last tagged phase it has
    /// entered ([`PhaseTag::EnterCalm`]: a calm region, [`PhaseTag::LeaveCalm`]: a heavy one),
    /// None when it has passed no tag. The simulator reads the workload's phases; a real guest
    /// reports its tags to the hypervisor.
    fn task_tag(&mut self) -> Result<Option<PhaseTag>, ContextError>;
}

/// Shortcuts only a simulation offers ([`MigrationContext::sim_hints`]): time is a model, and CPU
/// work such as compression is charged by a cost model rather than measured.
pub trait SimHints {
    /// An identifier of the page's current bytes when they are one of the memory model's shared
    /// contents ([`crate::content::ContentModel::shared_content_id`]): pages with equal
    /// identifiers hold equal bytes, so an algorithm may reuse a pure computation (an encoding)
    /// done for one for the others without reading them. None: read the page.
    fn shared_content_id(&mut self, page: u64) -> Result<Option<u64>, ContextError>;
    /// Charges `cpu_s` seconds of encoding work, by the algorithm's cost model, to the next
    /// [`Transport::send_encoded`]: encoding is pipelined with sending, so that batch occupies
    /// the link for the longer of its wire time and `cpu_s`. (A real guest's context measures
    /// real time instead.)
    fn charge_encoding(&mut self, cpu_s: f64) -> Result<(), ContextError>;
}

/// Everything a migration algorithm may do: the seam's small traits together.
pub trait MigrationContext: Clock + DirtyLog + GuestMemory + Transport + SwitchOver + Faults + Tuning + Rounds + TaskTags {
    /// The simulation's shortcuts, when this context simulates the migration; None (the
    /// default, and a real guest's answer) otherwise. An algorithm may then remember the results
    /// of pure computations on identical bytes ([`crate::codec::memo::ByteMemo`]), which changes
    /// how long the simulation takes and no simulated number.
    fn sim_hints(&mut self) -> Option<&mut dyn SimHints> {
        None
    }
}
