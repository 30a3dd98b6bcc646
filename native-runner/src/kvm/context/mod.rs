//! [`KvmContext`]: the core's [`MigrationContext`](livemig_core::MigrationContext) over two real
//! KVM VMs in one process.
//!
//! # Design choices
//!
//! * **Dirty log.** `KVM_GET_DIRTY_LOG` fetches and clears. The context keeps a host-side
//!   bitmap of pages fetched from KVM but not yet handed to the algorithm: `peek_dirty` ORs
//!   KVM's log into it and returns it (Xen's `PEEK`), `fetch_dirty` ORs and
//!   hands it over, emptying it (Xen's `CLEAN`). This is the "accumulate" emulation of a peek;
//!   it needs no manual-protect mode and is exact, since every bit KVM cleared is kept until
//!   the algorithm consumes it.
//! * **Link.** The transport is an in-process channel to a receiver thread that applies pages
//!   to the destination's memory (decoding compressed pages and XBZRLE deltas with the core's
//!   `codec::decode`). The sender is paced to the scenario's link bandwidth (or the algorithm's
//!   rate limit, if lower): each send blocks until its bytes would have left a link of that
//!   speed, so pre-copy rounds last as long as on the scenario's link while the guest keeps
//!   dirtying memory. Latency is added once, when the destination resumes (it waits for the
//!   last arrival). Wire bytes are counted as in the simulator (payload + per-page header).
//! * **Encoding time.** Measured, not charged: the context offers no simulation hints
//!   (`sim_hints` is None), so algorithms charge no cost-model time; the real encoding already
//!   took real time before the call.
//! * **Throttle.** `set_throttle(f)` stretches the guest's pacing so that its guest time runs at
//!   `1 - f` of wall time (the vCPU sleeps longer between batches), like QEMU's auto-converge.
//! * **Pause.** The source vCPU stops at its next batch exit (at most one batch, a few ms). The
//!   downtime begins when it has stopped.
//! * **Verification** (when the destination resumes, after the `DestinationResumed` event and
//!   before its vCPU starts; the time it takes is cut out of the migration's clock, so it counts
//!   neither as downtime nor as migration time): every page of the source (stopped since the
//!   pause) is compared byte for byte with the destination's (an exact comparison rather than a
//!   checksum, since both memories are in this process). After the
//!   migration, the destination guest runs a fixed number of further batches and a fresh
//!   reference VM runs the same guest from boot, without pacing and without migration, for the
//!   same total number of batches: the two memories must be equal page by page (the guest's
//!   write counter and read checksum included). `verified` needs both.
//! * **Post-copy** (in process, and over TCP where faults come back as `Fault` messages): the destination's memory is registered with userfaultfd
//!   (missing mode) from the start and every page is put in with `UFFDIO_COPY`/`ZEROPAGE`, so
//!   it can resume with pages absent. A destination vCPU touching one blocks in KVM; the fault
//!   thread reports it, `poll_fault`/`wait_fault_until` hand it to the algorithm
//!   (`FaultRaised`), and the page's arrival wakes the vCPU (`FaultServed`, stall = arrival -
//!   fault). A pushed page already present is dropped (EEXIST; `PagesDropped`). Pages absent at
//!   resume are not compared then (they fault in or are pushed later); the continuation check
//!   and "every page arrived" cover them. There is one path: post-copy's priority channel is
//!   the bulk one.
//! * **TSMC's dirty bitmap** (`send_dirty_bitmap` before the switch-over): the pages it names
//!   are dropped from the destination's memory with `madvise(MADV_DONTNEED)`, which makes them
//!   missing again under userfaultfd (QEMU's post-copy "discard" does the same), so the
//!   resumed guest faults on them and the stage-3 push or a fault answer supplies them. The
//!   discard travels in order with the pages, so every stage-1 copy has landed before it.

//!
//! # Files
//!
//! This file holds the state and the guest-facing helpers (dirty log, phases, faults);
//! `seam` implements the core's traits, `link` paces and records sends, `outcome` ends a run
//! (finish, abort) and runs an algorithm on the context. The trace goes through the core's
//! [`TraceRecorder`], the simulator's.

mod link;
mod outcome;
mod seam;

pub use outcome::{migrate, migrate_or_abort, Aborted, MigrateError, SourceCheck};

use super::dest::{prefill, Destination, LocalDestination};
use super::guest::{Layout, PlanState, Planner};
use super::vm::{Runner, Vm, PAGE};
use super::KvmError;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::ContextError;
use livemig_core::recorder::{SendEvents, TraceRecorder};
use livemig_core::scenario::Scenario;
use livemig_core::trace::{Event, Host, PageRuns, Trace, TraceDetail};
use livemig_core::workload::AccessKind;
use livemig_core::Report;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Options of a KVM migration run.
#[derive(Debug, Clone)]
pub struct KvmOptions {
    /// How much the trace records (`Accesses` is treated as `Pages`: guest accesses are not
    /// observed one by one on real hardware).
    pub detail: TraceDetail,
    /// Guest seconds the workload runs before the migration starts (so memory is populated).
    pub warmup_s: f64,
    /// Fill the workload's working sets with non-zero bytes before boot (a populated guest);
    /// pages outside them stay zero.
    pub prefill: bool,
    /// Batches the destination runs after the migration before the continuation check.
    pub continuation_batches: u64,
    /// Fault injection for tests: never deliver this page (the transfer is broken).
    pub drop_page: Option<u64>,
    /// Migrate to a `livemig kvm receive` at this address (TCP) instead of a VM in this
    /// process.
    pub to: Option<String>,
    /// Post-copy: the destination's memory is registered with userfaultfd, so it can resume
    /// before every page is there (set by [`migrate`] for post-copy and hybrid algorithms,
    /// TSMC among them).
    pub postcopy: bool,
}

impl Default for KvmOptions {
    fn default() -> Self {
        KvmOptions {
            detail: TraceDetail::Summary,
            warmup_s: 0.5,
            prefill: true,
            continuation_batches: 100,
            drop_page: None,
            to: None,
            postcopy: false,
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verification {
    /// Pages whose checksum differed between source (at pause) and destination (at resume).
    pub mismatched_pages: u64,
    /// The first few of them.
    pub first_mismatches: Vec<u64>,
    /// Pages that did not decode on the destination.
    pub decode_errors: Vec<String>,
    /// Whether the destination, run on, matched a reference run without migration (None if it
    /// was not checked: the destination never resumed).
    pub continuation_ok: Option<bool>,
    /// Pages differing in the continuation check.
    pub continuation_mismatches: u64,
    /// Batches both guests ran in the continuation check.
    pub continuation_batch: u64,
    /// Seconds the switch-over verification took (not counted as downtime).
    pub verify_s: f64,
    /// Post-copy: pages absent at resume (not compared then; checked by the continuation).
    pub absent_at_resume: u64,
}

/// A finished KVM migration.
#[derive(Debug, Clone)]
pub struct KvmRun {
    /// The trace (backend "kvm").
    pub trace: Trace,
    /// Its report (`verified` comes from [`Verification`]).
    pub report: Report,
    /// What verification found.
    pub verification: Verification,
    /// Guest writes per second while it ran on the source during the migration (measured).
    pub source_write_rate: f64,
    /// Batches that ran late on the source (the guest could not hold the requested rate).
    pub late_batches: u64,
}

/// The context over a source VM (running the guest) and a destination VM.
pub struct KvmContext {
    scenario: Scenario,
    options: KvmOptions,
    n: u64,
    header: u64,
    bandwidth: f64,
    latency: f64,
    timeout: f64,
    planner: Planner,
    start: Instant,
    src: Vm,
    src_runner: Runner,
    dest: Box<dyn Destination>,
    pending: PageBitmap,
    ever_sent: PageBitmap,
    link_free: Instant,
    rate_limit: Option<f64>,
    throttle: f64,
    bytes_sent: u64,
    paused: Option<PlanState>,
    state_sent: bool,
    resumed: Option<(PlanState, f64)>,
    start_plan: PlanState,
    phase: (usize, Host),
    /// The trace so far (the core's recorder, as the simulator's).
    rec: TraceRecorder,
    /// Post-copy: faulted pages not served yet, with when they faulted.
    faults: std::collections::HashMap<u64, f64>,
    verification: Verification,
    buf: Vec<u8>,
}

/// What a destination's error says when pages never arrived (post-copy).
pub const NEVER_ARRIVED: &str = "pages never reached the destination";

/// A page of zeros (compared with `==`, which is a `memcmp` even in unoptimised builds).
static ZERO_PAGE: [u8; PAGE] = [0; PAGE];

fn guest_err(e: KvmError) -> ContextError {
    ContextError::Guest(e.to_string())
}

impl KvmContext {
    /// Sets up both VMs, boots the guest on the source, runs it for the warm-up and starts the
    /// clock.
    pub fn new(scenario: &Scenario, options: KvmOptions) -> Result<KvmContext, KvmError> {
        if scenario.vm.page_size.0 != PAGE as u64 {
            return Err(KvmError::Unsupported(format!(
                "vm.page_size: {} bytes is not supported on KVM: accepted 4096",
                scenario.vm.page_size.0
            )));
        }
        let kvm = super::open_kvm()?;
        let n = scenario.page_count();
        let bytes = (n as usize).checked_mul(PAGE).ok_or_else(|| KvmError::Setup("memory size overflows".into()))?;
        let layout = Layout::new(n, scenario.used_range().end);
        let planner = Planner::new(scenario, layout);
        let src = Vm::new(&kvm, bytes, true)?;
        let dest: Box<dyn Destination> = match &options.to {
            None => Box::new(LocalDestination::new(scenario, planner.clone(), options.prefill, options.postcopy)?),
            Some(addr) => Box::new(super::remote::RemoteDestination::connect(addr, scenario, options.prefill, options.postcopy)?),
        };
        // A source guest that has been running has its memory allocated: without this, the
        // first read of each never-written page (to send it) would fault it in on the clock.
        src.memory().populate();
        if options.prefill {
            prefill(src.memory(), &planner);
        }
        src.boot(layout, scenario.seed)?;
        let src_runner = Runner::start(&src, planner.clone(), PlanState::start(), true, None);
        std::thread::sleep(Duration::from_secs_f64(options.warmup_s.max(0.0)));
        if let Some(e) = src_runner.error() {
            return Err(KvmError::Guest(e));
        }
        let start_plan = PlanState {
            batch: src_runner.progress().batches.load(Ordering::Relaxed),
            writes: src_runner.progress().writes.load(Ordering::Relaxed),
            reads: src_runner.progress().reads.load(Ordering::Relaxed),
            guest_time: src_runner.guest_time(),
            ..PlanState::start()
        };
        let now = Instant::now();
        Ok(KvmContext {
            n,
            header: scenario.link.page_header.0,
            bandwidth: scenario.link.bandwidth.0,
            latency: scenario.link.latency.0,
            timeout: scenario.migration.timeout.0,
            scenario: scenario.clone(),
            planner,
            start: now,
            src,
            src_runner,
            dest,
            pending: PageBitmap::new(n),
            ever_sent: PageBitmap::new(n),
            link_free: now,
            rate_limit: None,
            throttle: 0.0,
            bytes_sent: 0,
            paused: None,
            state_sent: false,
            resumed: None,
            start_plan,
            phase: (usize::MAX, Host::Source),
            rec: TraceRecorder::new(options.detail.min(TraceDetail::Pages), SendEvents::PerCall),
            faults: std::collections::HashMap::new(),
            verification: Verification::default(),
            buf: vec![0u8; PAGE],
            options: KvmOptions { detail: options.detail.min(TraceDetail::Pages), ..options },
        })
    }

    fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Records a phase change of the guest, wherever it runs.
    fn observe_phase(&mut self) {
        let (phase, host) = match (self.resumed.is_some(), self.dest.progress()) {
            (true, Some((_, _, phase))) => (phase, Host::Destination),
            (true, None) => return,
            (false, _) => (self.src_runner.progress().phase.load(Ordering::Relaxed) as usize, Host::Source),
        };
        if (phase, host) != self.phase && phase < self.planner.phases().len() {
            let p = &self.planner.phases()[phase];
            let event = Event::PhaseChanged { phase, name: p.name.clone(), tag: p.tag, host };
            self.phase = (phase, host);
            let t = self.t();
            self.rec.push(t, event);
        }
    }

    /// ORs KVM's log into the pending bitmap, recording newly dirtied pages.
    fn absorb(&mut self) -> Result<(), ContextError> {
        self.observe_phase();
        let log = self.src.dirty_log().map_err(guest_err)?;
        let t = self.t();
        let mut fresh = PageRuns::default();
        let mut count = 0;
        for (wi, &w) in log.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let p = wi as u64 * 64 + w.trailing_zeros() as u64;
                w &= w - 1;
                if p < self.n && self.pending.set(p) {
                    count += 1;
                    if self.options.detail >= TraceDetail::Pages {
                        fresh.push(p);
                    }
                }
            }
        }
        if count > 0 {
            self.rec.push(t, Event::PagesDirtied { count, pages: fresh });
        }
        Ok(())
    }

    /// Takes the destination's next page fault (post-copy), waiting at most `timeout`.
    fn take_fault(&mut self, timeout: Duration) -> Option<u64> {
        let f = self.dest.next_fault(timeout)?;
        let t = f.at.saturating_duration_since(self.start).as_secs_f64();
        let access = if f.write { AccessKind::Write } else { AccessKind::Read };
        self.rec.push(t, Event::FaultRaised { page: f.page, access });
        self.faults.entry(f.page).or_insert(t);
        Some(f.page)
    }

    fn check_page(&self, page: u64) -> Result<(), ContextError> {
        if page >= self.n {
            Err(ContextError::PageOutOfRange { page, pages: self.n })
        } else {
            Ok(())
        }
    }
}
