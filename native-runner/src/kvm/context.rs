//! [`KvmContext`]: the core's [`MigrationContext`] over two real KVM VMs in one process.
//!
//! # Design choices
//!
//! * **Dirty log.** `KVM_GET_DIRTY_LOG` fetches and clears. The context keeps a host-side
//!   bitmap of pages fetched from KVM but not yet handed to the algorithm: `peek_dirty` and
//!   `dirty_count` OR KVM's log into it and return it (Xen's `PEEK`), `fetch_dirty` ORs and
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
//! * **Encoding time.** `send_encoded`'s `cpu_s` (the cost model's encoding time) is ignored:
//!   the real encoding already took real time before the call.
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

use super::dest::{prefill, Destination, LocalDestination, MigratedState, Msg};
use super::guest::{Layout, PlanState, Planner};
use super::vm::{Runner, VcpuState, Vm, PAGE};
use super::KvmError;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{Channel, ContextError, CoordinatorState, EncodedBatch, Encoding, MigrationContext, Outcome, RoundKind, Sent};
use livemig_core::scenario::{OnTimeout, PhaseTag, Scenario};
use livemig_core::trace::{DataKind, Event, Host, PageRuns, TimedEvent, Trace, TraceDetail, TRACE_FORMAT};
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
    round: u32,
    round_open: bool,
    paused: Option<PlanState>,
    state_sent: bool,
    resumed: Option<(PlanState, f64)>,
    start_plan: PlanState,
    phase: (usize, Host),
    events: Vec<TimedEvent>,
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
        let layout = Layout::new(n, scenario.used_pages());
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
            round: 0,
            round_open: false,
            paused: None,
            state_sent: false,
            resumed: None,
            start_plan,
            phase: (usize::MAX, Host::Source),
            events: Vec::new(),
            faults: std::collections::HashMap::new(),
            verification: Verification::default(),
            buf: vec![0u8; PAGE],
            options: KvmOptions { detail: options.detail.min(TraceDetail::Pages), ..options },
        })
    }

    fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn push(&mut self, t: f64, event: Event) {
        self.events.push(TimedEvent { t, event });
    }

    fn runs(&self, pages: impl Iterator<Item = u64>) -> PageRuns {
        let mut runs = PageRuns::default();
        if self.options.detail >= TraceDetail::Pages {
            pages.for_each(|p| runs.push(p));
        }
        runs
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
            self.push(t, event);
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
            self.push(t, Event::PagesDirtied { count, pages: fresh });
        }
        Ok(())
    }

    /// Takes the destination's next page fault (post-copy), waiting at most `timeout`.
    fn take_fault(&mut self, timeout: Duration) -> Option<u64> {
        let f = self.dest.next_fault(timeout)?;
        let t = f.at.saturating_duration_since(self.start).as_secs_f64();
        let access = if f.write { AccessKind::Write } else { AccessKind::Read };
        self.push(t, Event::FaultRaised { page: f.page, access });
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

    fn ensure_round(&mut self) {
        if !self.round_open {
            self.begin_round(RoundKind::Other);
        }
    }

    /// Occupies the link for `bytes` (blocking until they have left) and returns (start, end,
    /// arrival) in seconds since the start.
    ///
    /// As in the simulator, the scenario's timeout cuts the wait: a send that would cross it
    /// ends at it, however slow the link (the pages themselves already went through the real
    /// channel; only the pacing is cut). Unlike the simulator, the wait in the downtime is cut
    /// too, and past the timeout sends do not wait at all: a real run never outlives its
    /// timeout by more than its real work (a forced stop-and-copy then moves at the channel's
    /// own speed rather than the scenario's link).
    fn transmit(&mut self, bytes: u64) -> (f64, f64, f64) {
        let bw = self.rate_limit.map_or(self.bandwidth, |r| r.min(self.bandwidth));
        let now = Instant::now();
        let start = self.link_free.max(now);
        let paced = Duration::try_from_secs_f64(bytes as f64 / bw).ok().and_then(|d| start.checked_add(d));
        let deadline = self.start + Duration::from_secs_f64(self.timeout);
        let end = match paced {
            Some(end) if end <= deadline => end,
            _ => deadline.max(start),
        };
        self.link_free = end;
        let now = Instant::now();
        if end > now {
            std::thread::sleep(end - now);
        }
        self.bytes_sent += bytes;
        let base = self.start;
        let secs = |i: Instant| i.saturating_duration_since(base).as_secs_f64();
        (secs(start), secs(end), secs(end) + self.latency)
    }

    fn send(&mut self, msg: Msg) -> Result<(), ContextError> {
        self.dest.deliver(msg)
    }

    #[allow(clippy::too_many_arguments)]
    fn record_sent(&mut self, times: (f64, f64, f64), encoding: Encoding, pages: &[u64], payload: u64, wire: u64) {
        let runs = self.runs(pages.iter().copied());
        pages.iter().for_each(|&p| {
            self.ever_sent.set(p);
        });
        if !self.faults.is_empty() {
            for &p in pages {
                if let Some(raised) = self.faults.remove(&p) {
                    self.push(times.2, Event::FaultServed { page: p, stall: (times.2 - raised).max(0.0) });
                }
            }
        }
        self.push(
            times.0,
            Event::PagesSent {
                end: times.1,
                arrive: times.2,
                channel: Channel::Bulk,
                encoding,
                count: pages.len() as u64,
                payload_bytes: payload,
                wire_bytes: wire,
                pages: runs,
            },
        );
    }

    fn send_data(&mut self, what: DataKind, bytes: u64, pages: Option<&PageBitmap>) -> Sent {
        self.ensure_round();
        let times = self.transmit(bytes);
        let runs = match pages {
            Some(b) if self.options.detail >= TraceDetail::Pages => PageRuns(b.runs().into_iter().map(|(f, c)| [f, c]).collect()),
            _ => PageRuns::default(),
        };
        self.push(times.0, Event::DataSent { what, end: times.1, arrive: times.2, bytes, pages: runs });
        Sent { wire_bytes: bytes, payload_bytes: 0 }
    }

    /// Ends the run: checks the continuation, and returns the trace and report.
    pub fn finish(mut self, algorithm: &str, params: serde_json::Map<String, serde_json::Value>, outcome: &Outcome) -> KvmRun {
        if self.round_open {
            self.end_round();
        }
        self.observe_phase();
        let t_end = self.t();
        // Guest work during the migration: on the source until the pause (or now), then on the
        // destination.
        let src_plan = self.paused.unwrap_or_else(|| PlanState {
            writes: self.src_runner.progress().writes.load(Ordering::Relaxed),
            guest_time: self.src_runner.guest_time(),
            ..self.start_plan
        });
        let mut writes = src_plan.writes - self.start_plan.writes;
        let mut progress = src_plan.guest_time - self.start_plan.guest_time;
        let source_seconds = self.events.iter().find(|e| matches!(e.event, Event::SourcePaused)).map_or(t_end, |e| e.t);
        let late_batches = self.src_runner.progress().late_batches.load(Ordering::Relaxed);
        self.src_runner.stop();
        let mut incomplete = false;
        if let Some((plan, _)) = self.resumed {
            match self.dest.finish(self.options.continuation_batches) {
                Ok(c) => {
                    writes += c.writes - plan.writes;
                    progress += c.guest_time - plan.guest_time;
                    self.verification.continuation_ok = Some(c.ok);
                    self.verification.continuation_mismatches = c.mismatches;
                    self.verification.continuation_batch = c.batch;
                }
                Err(e) => {
                    // Post-copy that never got every page over (possibly reported by a remote
                    // receiver, hence the text).
                    incomplete |= e.to_string().contains(NEVER_ARRIVED);
                    self.verification.decode_errors.push(format!("continuation check failed: {e}"));
                    self.verification.continuation_ok = Some(false);
                }
            }
        }
        let dropped = self.dest.take_dropped();
        if !dropped.is_empty() {
            let pages = self.runs(dropped.iter().copied());
            self.push(t_end, Event::PagesDropped { count: dropped.len() as u64, pages });
        }
        let completed = self.resumed.is_some() && self.dest.complete() && !incomplete;
        let v = &self.verification;
        let verified = completed && v.mismatched_pages == 0 && v.decode_errors.is_empty() && v.continuation_ok == Some(true);
        let event = Event::MigrationEnded {
            completed,
            converged: outcome.converged,
            verified,
            distinct_pages: self.ever_sent.count(),
            guest_writes: writes,
            guest_progress_s: progress,
            stop_reason: outcome.stop_reason.clone(),
        };
        self.push(t_end, event);
        let mut events = std::mem::take(&mut self.events);
        events.sort_by(|a, b| a.t.total_cmp(&b.t));
        let trace = Trace {
            format: TRACE_FORMAT,
            algorithm: algorithm.to_string(),
            params,
            scenario: self.scenario.clone(),
            page_count: self.n,
            page_size: PAGE as u64,
            detail: self.options.detail,
            backend: "kvm".into(),
            events,
        };
        let report = Report::from_trace(&trace);
        let source_write_rate = (src_plan.writes - self.start_plan.writes) as f64 / source_seconds.max(1e-9);
        KvmRun { trace, report, verification: self.verification.clone(), source_write_rate, late_batches }
    }
}

impl Drop for KvmContext {
    fn drop(&mut self) {
        self.src_runner.stop();
    }
}

impl MigrationContext for KvmContext {
    fn page_count(&self) -> u64 {
        self.n
    }
    fn page_size(&self) -> u64 {
        PAGE as u64
    }
    fn now(&self) -> f64 {
        self.t()
    }
    fn deadline_passed(&self) -> bool {
        self.t() >= self.timeout
    }
    fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }
    fn timeout_action(&self) -> OnTimeout {
        self.scenario.migration.on_timeout
    }

    fn start_dirty_log(&mut self) -> Result<(), ContextError> {
        self.src.dirty_log().map_err(guest_err)?;
        self.pending.clear_all();
        Ok(())
    }
    fn fetch_dirty(&mut self) -> Result<PageBitmap, ContextError> {
        self.absorb()?;
        Ok(std::mem::replace(&mut self.pending, PageBitmap::new(self.n)))
    }
    fn peek_dirty(&mut self) -> Result<&PageBitmap, ContextError> {
        self.absorb()?;
        Ok(&self.pending)
    }
    fn dirty_count(&mut self) -> Result<u64, ContextError> {
        self.absorb()?;
        Ok(self.pending.count())
    }

    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError> {
        self.check_page(page)?;
        let mut buf = std::mem::take(&mut self.buf);
        self.src.memory().read(page as usize * PAGE, &mut buf);
        let zero = buf[..] == ZERO_PAGE[..];
        self.buf = buf;
        Ok(zero)
    }
    fn read_page(&mut self, page: u64, buf: &mut [u8]) -> Result<(), ContextError> {
        self.check_page(page)?;
        if buf.len() != PAGE {
            return Err(ContextError::BadArgument { name: "buf.len()", value: buf.len().to_string(), accepted: "exactly the page size" });
        }
        self.src.memory().read(page as usize * PAGE, buf);
        Ok(())
    }
    fn free_pages(&mut self) -> Result<PageBitmap, ContextError> {
        let mut b = PageBitmap::new(self.n);
        for p in self.scenario.used_pages()..self.n {
            b.set(p);
        }
        Ok(b)
    }

    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError> {
        let _ = channel; // one channel: post-copy's priority path is not supported.
        for &p in pages {
            self.check_page(p)?;
        }
        self.ensure_round();
        let payload = pages.len() as u64 * PAGE as u64;
        let wire = payload + pages.len() as u64 * self.header;
        // The destination copies the pages out of the source's memory (see `Msg::Copy`), then
        // the link is occupied for their bytes.
        let keep: Vec<u64> = pages.iter().copied().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Copy { pages: keep, from: self.src.memory().clone() })?;
        let times = self.transmit(wire);
        self.record_sent(times, Encoding::Full, pages, payload, wire);
        Ok(Sent { wire_bytes: wire, payload_bytes: payload })
    }
    fn send_encoded(&mut self, batch: &EncodedBatch, cpu_s: f64) -> Result<Sent, ContextError> {
        if !(cpu_s.is_finite() && cpu_s >= 0.0) {
            return Err(ContextError::BadArgument { name: "cpu_s", value: cpu_s.to_string(), accepted: "a finite number of seconds >= 0" });
        }
        for (page, encoding, _) in batch.iter() {
            self.check_page(page)?;
            if encoding == Encoding::Delta && self.resumed.is_some() {
                return Err(ContextError::WrongState { operation: "send_encoded", reason: "a delta needs the destination paused" });
            }
        }
        self.ensure_round();
        let mut delivered = EncodedBatch::new();
        for (page, encoding, bytes) in batch.iter() {
            if Some(page) != self.options.drop_page {
                delivered.push(page, encoding, bytes);
            }
        }
        self.send(Msg::Encoded(delivered))?;
        // One event per encoding, each occupying the link in turn (as the simulator records it).
        let mut total = Sent::default();
        for encoding in [Encoding::Zero, Encoding::Full, Encoding::Wkdm, Encoding::Lz4, Encoding::Delta] {
            let (mut pages, mut payload) = (Vec::new(), 0u64);
            for (page, e, data) in batch.iter() {
                if e == encoding {
                    pages.push(page);
                    payload += data.len() as u64 + encoding.framing_bytes();
                }
            }
            if pages.is_empty() {
                continue;
            }
            let wire = payload + pages.len() as u64 * self.header;
            let times = self.transmit(wire);
            self.record_sent(times, encoding, &pages, payload, wire);
            total.wire_bytes += wire;
            total.payload_bytes += payload;
        }
        Ok(total)
    }
    fn send_zero_pages(&mut self, pages: &[u64]) -> Result<Sent, ContextError> {
        // Not re-checked: a page the guest wrote since the caller checked it is in the dirty
        // log and will be sent again.
        for &p in pages {
            self.check_page(p)?;
        }
        self.ensure_round();
        let keep: Vec<u64> = pages.iter().copied().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Zero(keep))?;
        let payload = pages.len() as u64;
        let wire = payload + pages.len() as u64 * self.header;
        let times = self.transmit(wire);
        self.record_sent(times, Encoding::Zero, pages, payload, wire);
        Ok(Sent { wire_bytes: wire, payload_bytes: payload })
    }
    fn send_free_page_list(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        let runs = pages.runs();
        let keep: Vec<u64> = pages.iter().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Zero(keep))?;
        Ok(self.send_data(DataKind::FreePageList, runs.len() as u64 * 16, Some(pages)))
    }
    fn send_dirty_bitmap(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        livemig_core::context::check_bitmap_length(pages, self.n)?;
        if !self.options.postcopy {
            return Err(ContextError::WrongState {
                operation: "send_dirty_bitmap",
                reason: "the destination's memory is not registered with userfaultfd (not a post-copy run)",
            });
        }
        // As in the simulator: before the switch-over the pages become absent on the
        // destination (dropped from its memory, so they fault); after it, the bitmap is only
        // information (the guest may have written them there since).
        if self.resumed.is_none() {
            self.send(Msg::Discard(pages.clone()))?;
        }
        Ok(self.send_data(DataKind::DirtyBitmap, pages.wire_bytes(), Some(pages)))
    }
    fn send_state(&mut self) -> Result<Sent, ContextError> {
        let Some(plan) = self.paused else {
            return Err(ContextError::WrongState { operation: "send_state", reason: "pause the source first" });
        };
        let vcpu = VcpuState::get(&self.src.vcpu().lock().expect("vcpu lock")).map_err(guest_err)?;
        self.send(Msg::State(Box::new(MigratedState { vcpu, plan })))?;
        self.state_sent = true;
        Ok(self.send_data(DataKind::State, MigratedState::wire_bytes(), None))
    }

    fn begin_round(&mut self, kind: RoundKind) {
        if self.round_open {
            self.end_round();
        }
        let _ = self.absorb();
        self.round += 1;
        self.round_open = true;
        let event = Event::RoundStarted { round: self.round, kind, dirty_pages: self.pending.count() };
        let t = self.t();
        self.push(t, event);
    }
    fn end_round(&mut self) {
        if self.round_open {
            let _ = self.absorb();
            self.round_open = false;
            let event = Event::RoundEnded { round: self.round, dirty_pages: self.pending.count() };
            let t = self.t();
            self.push(t, event);
        }
    }
    fn pause_source(&mut self) -> Result<(), ContextError> {
        if self.paused.is_some() {
            return Err(ContextError::WrongState { operation: "pause_source", reason: "the guest is not running on the source" });
        }
        self.observe_phase();
        let plan = self.src_runner.pause().map_err(guest_err)?;
        self.paused = Some(plan);
        let t = self.t();
        self.push(t, Event::SourcePaused);
        Ok(())
    }
    fn resume_destination(&mut self) -> Result<(), ContextError> {
        if self.paused.is_none() || self.resumed.is_some() {
            return Err(ContextError::WrongState { operation: "resume_destination", reason: "pause the source first" });
        }
        if !self.state_sent {
            return Err(ContextError::WrongState { operation: "resume_destination", reason: "send the CPU state first" });
        }
        // The last bytes arrive one latency after they left.
        let now = Instant::now();
        if self.link_free > now {
            std::thread::sleep(self.link_free - now);
        }
        std::thread::sleep(Duration::from_secs_f64(self.latency));
        // The destination waits for everything sent (the transport is in order), loads the
        // state, and is checked page by page before its guest starts: the check's time is cut
        // out of the migration's clock (the guest runs nowhere meanwhile).
        let s = self.dest.resume(self.src.memory())?;
        let check = Duration::from_secs_f64(s.check_s);
        self.start += check;
        let t = self.t();
        self.push(t, Event::DestinationResumed);
        self.verification.mismatched_pages = s.mismatched_pages;
        self.verification.first_mismatches = s.first_mismatches;
        self.verification.decode_errors.extend(s.decode_errors);
        self.verification.verify_s = s.check_s;
        self.verification.absent_at_resume = s.absent;
        self.resumed = Some((s.plan, t));
        self.throttle = 0.0;
        Ok(())
    }
    fn set_throttle(&mut self, fraction: f64) -> Result<(), ContextError> {
        if !(0.0..=0.99).contains(&fraction) {
            return Err(ContextError::BadArgument { name: "throttle", value: fraction.to_string(), accepted: "0 to 0.99" });
        }
        if self.paused.is_none() && fraction != self.throttle {
            self.throttle = fraction;
            self.src_runner.set_throttle(fraction);
            let t = self.t();
            self.push(t, Event::Throttled { fraction });
        }
        Ok(())
    }
    fn set_rate_limit(&mut self, bytes_per_s: Option<f64>) -> Result<(), ContextError> {
        livemig_core::context::check_rate_limit(bytes_per_s)?;
        if bytes_per_s != self.rate_limit {
            self.rate_limit = bytes_per_s;
            let t = self.t();
            self.push(t, Event::RateLimited { bytes_per_s });
        }
        Ok(())
    }

    fn poll_fault(&mut self) -> Result<Option<u64>, ContextError> {
        Ok(self.take_fault(Duration::ZERO))
    }
    fn wait_fault_until(&mut self, until: f64) -> Result<Option<u64>, ContextError> {
        if until.is_nan() {
            return Err(ContextError::BadArgument { name: "until", value: until.to_string(), accepted: "a time in seconds" });
        }
        let limit = until.min(self.timeout);
        loop {
            let now = self.t();
            if now >= limit {
                self.observe_phase();
                return Ok(None);
            }
            let wait = Duration::from_secs_f64((limit - now).min(0.02));
            if let Some(page) = self.take_fault(wait) {
                return Ok(Some(page));
            }
            self.observe_phase();
        }
    }
    fn task_tag(&mut self) -> Result<Option<PhaseTag>, ContextError> {
        self.observe_phase();
        let t = match self.dest.progress() {
            Some((_, t, _)) if self.resumed.is_some() => t,
            _ => self.src_runner.guest_time(),
        };
        Ok(self.planner.tag_at(t))
    }
    fn coordinator(&mut self, state: CoordinatorState, reason: &str) {
        let t = self.t();
        self.push(t, Event::Coordinator { state, reason: reason.to_string() });
    }
}

/// Why a KVM migration could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Bad input: the message names the field.
    #[error("{0}")]
    BadInput(String),
    /// KVM is missing or failed.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// The algorithm asked the context for something impossible.
    #[error("algorithm failed: {0}")]
    Context(#[from] ContextError),
}

/// Migrates the scenario's guest between two KVM VMs with `algorithm` (or the scenario's).
pub fn migrate_or_abort(scenario: &Scenario, algorithm: Option<&str>, options: KvmOptions) -> Result<KvmRun, Aborted> {
    scenario.validate().map_err(|e| MigrateError::BadInput(e.to_string()))?;
    let name = algorithm.unwrap_or(&scenario.migration.algorithm);
    let info = livemig_core::algorithms::find(name).ok_or_else(|| {
        MigrateError::BadInput(format!(
            "--algorithm: unknown algorithm '{name}': accepted {}",
            livemig_core::algorithms::names().join(", ")
        ))
    })?;
    let postcopy = info.family != "pre-copy";
    let options = KvmOptions { postcopy, ..options };
    if scenario.vm.page_size.0 != PAGE as u64 {
        return Err(MigrateError::BadInput(format!(
            "vm.page_size: {} bytes is not supported on KVM: accepted 4096",
            scenario.vm.page_size.0
        ))
        .into());
    }
    let (mut alg, params) = livemig_core::algorithms::build(info, &scenario.params).map_err(|e| MigrateError::BadInput(e.to_string()))?;
    let mut ctx = KvmContext::new(scenario, options)?;
    match alg.run(&mut ctx) {
        Ok(outcome) => Ok(ctx.finish(info.name, params.shown(), &outcome)),
        Err(e) => {
            let error = MigrateError::Context(e);
            let report = ctx.abort(info.name, &error.to_string());
            let source = ctx.resumed.is_none().then(|| Box::new(ctx));
            Err(Aborted { error, report: Some(Box::new(report)), source })
        }
    }
}

/// Migrates like [`migrate`]; a migration that fails (e.g. its connection is cut) before the
/// switch-over gives back the source with its guest running again.
pub fn migrate(scenario: &Scenario, algorithm: Option<&str>, options: KvmOptions) -> Result<KvmRun, MigrateError> {
    migrate_or_abort(scenario, algorithm, options).map_err(|a| a.error)
}

/// A migration that failed while it ran.
pub struct Aborted {
    /// Why.
    pub error: MigrateError,
    /// The report of what happened until then (not completed, not verified), if it started.
    pub report: Option<Box<Report>>,
    /// The source, when the failure came before the switch-over: its guest runs on.
    pub source: Option<Box<KvmContext>>,
}

impl std::fmt::Debug for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aborted").field("error", &self.error).field("source", &self.source.is_some()).finish()
    }
}

impl From<MigrateError> for Aborted {
    fn from(error: MigrateError) -> Aborted {
        Aborted { error, report: None, source: None }
    }
}

impl From<KvmError> for Aborted {
    fn from(e: KvmError) -> Aborted {
        MigrateError::Kvm(e).into()
    }
}

/// What [`KvmContext::check_source`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceCheck {
    /// Batches the source guest had run when it was checked.
    pub batch: u64,
    /// Pages that differ from a reference run without migration.
    pub mismatches: u64,
    /// Whether memory and registers equal the reference run's.
    pub ok: bool,
}

impl KvmContext {
    /// After a failure: if the switch-over has not happened, the source guest runs again (it is
    /// resumed if it was paused) and the run is ended with a report saying it did not complete.
    fn abort(&mut self, algorithm: &str, reason: &str) -> Report {
        if self.round_open {
            self.end_round();
        }
        if self.resumed.is_none() && self.paused.take().is_some() {
            self.src_runner.resume(None);
            self.state_sent = false;
        }
        let t = self.t();
        let mut events = self.events.clone();
        events.push(TimedEvent {
            t,
            event: Event::MigrationEnded {
                completed: false,
                converged: false,
                verified: false,
                distinct_pages: self.ever_sent.count(),
                guest_writes: 0,
                guest_progress_s: 0.0,
                stop_reason: format!("aborted: {reason}"),
            },
        });
        events.sort_by(|a, b| a.t.total_cmp(&b.t));
        let trace = Trace {
            format: TRACE_FORMAT,
            algorithm: algorithm.to_string(),
            params: serde_json::Map::new(),
            scenario: self.scenario.clone(),
            page_count: self.n,
            page_size: PAGE as u64,
            detail: TraceDetail::Summary,
            backend: "kvm".into(),
            events,
        };
        Report::from_trace(&trace)
    }

    /// Batches the source guest has run so far.
    pub fn source_batches(&self) -> u64 {
        self.src_runner.progress().batches.load(Ordering::Relaxed)
    }

    /// Whether the source guest is running (not paused, not failed).
    pub fn source_running(&self) -> bool {
        self.paused.is_none() && self.src_runner.error().is_none()
    }

    /// Lets the source guest run `batches` more batches, parks it there, and compares its
    /// memory with a reference run without migration for the same number of batches.
    pub fn check_source(&mut self, batches: u64) -> Result<SourceCheck, KvmError> {
        let target = self.source_batches() + batches.max(1);
        self.src_runner.resume(Some(target));
        let plan = self.src_runner.wait_parked(Duration::from_secs(600))?;
        let kvm = super::open_kvm()?;
        let (mismatches, ok) =
            super::dest::compare_with_reference(&kvm, &self.src, &self.scenario, &self.planner, self.options.prefill, plan.batch)?;
        Ok(SourceCheck { batch: plan.batch, mismatches, ok })
    }
}
