//! The destination side of a migration: a [`Destination`] receives pages and the CPU state,
//! switches over, and checks the continuation. [`LocalDestination`] is a VM in this process
//! (used directly by `livemig kvm migrate`, and by `livemig kvm receive` behind TCP);
//! [`super::remote::RemoteDestination`] is one in another process.

use super::guest::{PlanState, Planner};
use super::uffd::{Supplied, Uffd};
use super::vm::{GuestMemory, Runner, VcpuState, Vm, PAGE};
use super::wire::{Continuation, OutOfRange};
use super::KvmError;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{ContextError, EncodedBatch};
use livemig_core::Scenario;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// What the destination receives, in order.
#[derive(Debug)]
pub enum Msg {
    /// Whole pages: `data` holds `pages.len()` pages in order.
    Pages {
        /// Page numbers.
        pages: Vec<u64>,
        /// Their bytes.
        data: Vec<u8>,
    },
    /// Whole pages of the source's memory in this process, read when they are applied: one
    /// copy, source to destination, as a shared-memory transport makes it (a copy into a
    /// message and another out of it ran at a third of memcpy). A page the guest writes
    /// between the send and the copy arrives newer than it was sent; the write is in the
    /// dirty log, so the page is sent again, and once the source is paused nothing changes.
    Copy {
        /// Page numbers.
        pages: Vec<u64>,
        /// The source's memory.
        from: Arc<GuestMemory>,
    },
    /// Encoded pages, decoded with the core's `codec::decode` (a delta applies to the
    /// destination's current copy).
    Encoded(EncodedBatch),
    /// Pages that are all zeros.
    Zero(Vec<u64>),
    /// Post-copy, before the switch-over: these pages become absent again (TSMC's dirty
    /// bitmap); they fault in or arrive later.
    Discard(PageBitmap),
    /// The vCPU and plan state.
    State(Box<MigratedState>),
    /// Answers once everything before it has been applied.
    Sync(mpsc::Sender<SyncReply>),
}

/// The vCPU state and the host's guest-progress state.
#[derive(Debug, Clone)]
pub struct MigratedState {
    /// The vCPU registers and events.
    pub vcpu: VcpuState,
    /// Where the guest's batch plan is.
    pub plan: PlanState,
}

impl MigratedState {
    /// Bytes on the wire.
    pub fn wire_bytes() -> u64 {
        VcpuState::wire_bytes() + PlanState::BYTES as u64
    }
    /// The wire form: the vCPU state's bytes, then the plan's.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.vcpu.to_bytes();
        b.extend_from_slice(&self.plan.to_bytes());
        b
    }
    /// Checks a state received from a peer before it is loaded: the vCPU can run `planner`'s
    /// guest ([`VcpuState::check_guest`]) and the plan is consistent with its workload and at
    /// most `max_guest_time` nominal seconds ([`PlanState::check`]).
    pub fn check(&self, planner: &Planner, max_guest_time: f64) -> Result<(), OutOfRange> {
        self.vcpu.check_guest(&planner.layout())?;
        self.plan.check(planner, max_guest_time)
    }
    /// Parses [`MigratedState::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Option<MigratedState> {
        let v = VcpuState::wire_bytes() as usize;
        if b.len() != v + PlanState::BYTES {
            return None;
        }
        Some(MigratedState { vcpu: VcpuState::from_bytes(&b[..v])?, plan: PlanState::from_bytes(b[v..].try_into().ok()?) })
    }
}

/// The receiver's answer to a sync.
#[derive(Debug)]
pub struct SyncReply {
    /// The last state received.
    pub state: Option<Box<MigratedState>>,
    /// Pages that did not decode since the last sync.
    pub errors: Vec<String>,
    /// Post-copy: pages that arrived when already present, since the last sync.
    pub dropped: Vec<u64>,
}

/// What the switch-over check found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Switchover {
    /// The guest's plan state as it resumed.
    pub plan: PlanState,
    /// Pages that differ between source (at pause) and destination (at resume).
    pub mismatched_pages: u64,
    /// The first few.
    pub first_mismatches: Vec<u64>,
    /// Pages that did not decode on the destination.
    pub decode_errors: Vec<String>,
    /// Seconds the check took.
    pub check_s: f64,
    /// Post-copy: pages not present at resume (not compared; they fault in or are pushed).
    pub absent: u64,
}

/// A destination page fault (post-copy): the page, whether it was a write, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    /// The page.
    pub page: u64,
    /// A write access.
    pub write: bool,
    /// When the fault was seen.
    pub at: Instant,
}

/// Where pages go.
pub trait Destination {
    /// Delivers a message (in order).
    fn deliver(&mut self, msg: Msg) -> Result<(), ContextError>;
    /// Switches over: waits until everything delivered has been applied, loads the CPU state,
    /// compares every page with `source` (stopped since the pause), then starts the guest.
    fn resume(&mut self, source: &GuestMemory) -> Result<Switchover, ContextError>;
    /// The guest's progress on the destination, if known: (writes, guest seconds, phase).
    fn progress(&self) -> Option<(u64, f64, usize)>;
    /// Lets the guest run `batches` more batches, replays it from boot in a reference VM
    /// without migration, and compares the two.
    fn finish(&mut self, batches: u64) -> Result<Continuation, KvmError>;
    /// Post-copy: the next page fault, waiting at most `timeout` (None: no post-copy here, or
    /// no fault in time).
    fn next_fault(&mut self, timeout: Duration) -> Option<Fault> {
        let _ = timeout;
        None
    }
    /// Post-copy: pages dropped on arrival because they were present, since the last call.
    fn take_dropped(&mut self) -> Vec<u64> {
        Vec::new()
    }
    /// Post-copy: whether every page is present.
    fn complete(&self) -> bool {
        true
    }
}

/// Writes the prefill pattern into the working sets (before boot; the same for every VM of a
/// run, so the reference run starts from the same memory). Pages outside them stay zero.
pub fn prefill(mem: &GuestMemory, planner: &Planner) {
    let mut page = vec![0u8; PAGE];
    let mut done = PageBitmap::new(mem.pages());
    for ph in planner.phases() {
        for p in ph.ws_start as u64..(ph.ws_start + ph.ws_len) as u64 {
            if done.set(p) {
                // Text-like words: compressible, distinct per page.
                for (i, w) in page.chunks_exact_mut(4).enumerate() {
                    let v = (p as u32) << 12 | (i as u32 % 97);
                    w.copy_from_slice(&v.to_le_bytes());
                }
                mem.write(p as usize * PAGE, &page);
            }
        }
    }
}

/// Applies every message to the destination's memory (the receiver thread).
///
/// A zero page for a page never written here is a no-op: fresh anonymous memory is zero, and
/// writing zeros would fault in (allocate) every page of a mostly empty guest, which under this
/// machine's hypervisor costs microseconds a page and made resume wait for the receiver.
///
/// In post-copy mode (`uffd` given) the memory is registered with userfaultfd: every page is
/// supplied with `UFFDIO_COPY` / `UFFDIO_ZEROPAGE` (which wakes a vCPU blocked on it), a page
/// that is already present is dropped (EEXIST: the guest may have written it since), and
/// `present` says which pages are there (reading a missing page would block this thread).
fn receive(
    mem: Arc<GuestMemory>,
    rx: mpsc::Receiver<Msg>,
    uffd: Option<Arc<Uffd>>,
    present: Arc<Mutex<PageBitmap>>,
    started: Arc<AtomicBool>,
) {
    let mut state = None;
    let mut errors = Vec::new();
    let mut dropped = Vec::new();
    let mut page = vec![0u8; PAGE];
    let mut written = PageBitmap::new(mem.pages());
    let base = mem.host_addr();
    // Puts `bytes` (None: zeros) into page `p`.
    let put = |p: u64, bytes: Option<&[u8]>, written: &mut PageBitmap, errors: &mut Vec<String>, dropped: &mut Vec<u64>| {
        match &uffd {
            None => {
                match bytes {
                    Some(b) => mem.write(p as usize * PAGE, b),
                    None if written.get(p) => mem.zero_page(p),
                    None => {}
                }
                written.set(p);
            }
            Some(u) => {
                let r = match bytes {
                    Some(b) => u.copy(base + p * PAGE as u64, b),
                    None => u.zero(base + p * PAGE as u64, PAGE as u64),
                };
                match r {
                    Ok(Supplied::Done) => {
                        present.lock().expect("present lock").set(p);
                    }
                    Ok(Supplied::Exists) => {
                        // Present already: before resume it is ours to overwrite (nobody runs
                        // here yet); after, the guest may have written it, so drop the copy.
                        if present.lock().expect("present lock").get(p) && !started.load(Ordering::Relaxed) {
                            match bytes {
                                Some(b) => mem.write(p as usize * PAGE, b),
                                None => mem.zero_page(p),
                            }
                        } else {
                            dropped.push(p);
                        }
                    }
                    Err(e) => errors.push(format!("page {p}: {e}")),
                }
            }
        }
    };
    // A message taken from the queue while coalescing copies, to apply next.
    let mut next: Option<Msg> = None;
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        match msg {
            Msg::Pages { pages, data } => {
                for (i, &p) in pages.iter().enumerate() {
                    put(p, Some(&data[i * PAGE..(i + 1) * PAGE]), &mut written, &mut errors, &mut dropped);
                }
            }
            Msg::Copy { mut pages, from } => {
                // Copies already queued behind this one join it: one call per run of pages for
                // up to 64 MiB at a time, instead of a message and its bookkeeping per batch.
                while pages.len() < COALESCE_PAGES {
                    match rx.try_recv() {
                        Ok(Msg::Copy { pages: more, from: f }) if Arc::ptr_eq(&f, &from) => pages.extend(more),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // In page order: Xen's permutation visits memory in scattered 64-page runs, and
                // ascending addresses cut the TLB misses and page-table walks of the copy (64 MiB
                // went from 6.5 to 5.3 ms). Every page is copied from the source's memory as it
                // is now, so the order within the batch does not change what arrives.
                pages.sort_unstable();
                for (first, count) in runs_of(&pages) {
                    if uffd.is_none() {
                        mem.copy_pages_from(&from, first, count);
                        (first..first + count).for_each(|p| {
                            written.set(p);
                        });
                    } else if let Some(u) = &uffd {
                        // One UFFDIO_COPY straight from the source's memory for the run; the pages
                        // from one already present on go one by one (it is dropped or, before
                        // the switch-over, overwritten).
                        let (offset, len) = (first * PAGE as u64, count * PAGE as u64);
                        assert!(offset + len <= from.len() as u64, "a run outside the source's memory");
                        // (A failed range goes page by page too, where each failure is reported.)
                        let done = u.copy_range(base + offset, from.host_addr() + offset, len).map_or(0, |bytes| bytes / PAGE as u64);
                        {
                            let mut present = present.lock().expect("present lock");
                            (first..first + done).for_each(|p| {
                                present.set(p);
                            });
                        }
                        for p in first + done..first + count {
                            from.read(p as usize * PAGE, &mut page);
                            put(p, Some(&page), &mut written, &mut errors, &mut dropped);
                        }
                    }
                }
            }
            Msg::Encoded(batch) => {
                for (p, encoding, bytes) in batch.iter() {
                    if encoding == livemig_core::context::Encoding::Zero {
                        put(p, None, &mut written, &mut errors, &mut dropped);
                        continue;
                    }
                    let here = match &uffd {
                        None => true,
                        Some(_) => present.lock().expect("present lock").get(p),
                    };
                    if here {
                        mem.read(p as usize * PAGE, &mut page);
                    } else {
                        page.fill(0);
                    }
                    match livemig_core::codec::decode(encoding, bytes, &mut page) {
                        Ok(()) => put(p, Some(&page), &mut written, &mut errors, &mut dropped),
                        Err(e) => errors.push(format!("page {p} ({encoding:?}) does not decode: {e}")),
                    }
                }
            }
            Msg::Zero(pages) => pages.iter().for_each(|&p| put(p, None, &mut written, &mut errors, &mut dropped)),
            Msg::Discard(pages) => match &uffd {
                // The pages go missing again: the next touch faults to the userfaultfd.
                Some(_) => {
                    for (first, count) in pages.runs() {
                        match mem.discard_pages(first, count) {
                            Ok(()) => {
                                let mut present = present.lock().expect("present lock");
                                (first..first + count).for_each(|p| {
                                    present.clear(p);
                                });
                            }
                            Err(e) => errors.push(format!("pages {first}..{}: {e}", first + count)),
                        }
                    }
                }
                None => errors.push("a dirty bitmap needs a post-copy (userfaultfd) destination".into()),
            },
            Msg::State(s) => state = Some(s),
            Msg::Sync(reply) => {
                let _ = reply.send(SyncReply {
                    state: state.clone(),
                    errors: std::mem::take(&mut errors),
                    dropped: std::mem::take(&mut dropped),
                });
            }
        }
    }
}

/// Pages the receiver copies in one go at most (64 MiB of 4 KiB pages).
const COALESCE_PAGES: usize = 16_384;

/// Consecutive runs `(first, count)` of a list of pages, in its order.
pub fn runs_of(pages: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some((first, count)) if *first + *count == p => *count += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}

/// Messages queued for the receiver thread at most: the sender blocks beyond that, as it would
/// on a socket whose peer is slower, so pages count as sent once the destination can take them
/// (an unbounded queue let pre-copy run ahead and left the backlog to the downtime).
const QUEUE: usize = 16;

/// A destination VM in this process, with a receiver thread applying what arrives.
pub struct LocalDestination {
    kvm: kvm_ioctls::Kvm,
    scenario: Scenario,
    planner: Planner,
    prefill: bool,
    // Field order: the runner stops before the VM goes.
    runner: Option<Runner>,
    vm: Vm,
    tx: Option<mpsc::SyncSender<Msg>>,
    rx_thread: Option<std::thread::JoinHandle<()>>,
    /// Post-copy: the userfaultfd, the pages present, the fault thread and its stop flag, the
    /// faults it reported and the pages dropped.
    uffd: Option<Arc<Uffd>>,
    present: Arc<Mutex<PageBitmap>>,
    fault_thread: Option<std::thread::JoinHandle<()>>,
    stop_faults: Arc<AtomicBool>,
    started: Arc<AtomicBool>,
    faults: Option<mpsc::Receiver<Fault>>,
    dropped: Vec<u64>,
}

impl LocalDestination {
    /// An empty destination VM for `scenario`'s guest; with `postcopy`, its memory is
    /// registered with userfaultfd so that the guest can run before every page is there.
    pub fn new(scenario: &Scenario, planner: Planner, prefill: bool, postcopy: bool) -> Result<LocalDestination, KvmError> {
        let kvm = super::open_kvm()?;
        let bytes = scenario.page_count() as usize * PAGE;
        let vm = Vm::new(&kvm, bytes, false)?;
        if !postcopy {
            // Allocated up front, before the migration's clock starts (as QEMU's destination
            // does with -mem-prealloc): otherwise every arriving page first faults its memory
            // in, and the receiver copies at the speed of page faults, not of memory.
            vm.memory().populate();
        }
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let mem = vm.memory().clone();
        let present = Arc::new(Mutex::new(PageBitmap::new(scenario.page_count())));
        let uffd = if postcopy { Some(Arc::new(Uffd::register(mem.host_addr(), bytes as u64).map_err(KvmError::Setup)?)) } else { None };
        let stop_faults = Arc::new(AtomicBool::new(false));
        let (fault_thread, faults) = match &uffd {
            Some(u) => {
                let (ftx, frx) = mpsc::channel();
                let (u, stop, base) = (u.clone(), stop_faults.clone(), mem.host_addr());
                let t = std::thread::Builder::new()
                    .name("faults".into())
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            match u.next_fault(50) {
                                Ok(Some((addr, write))) => {
                                    let fault = Fault { page: (addr - base) / PAGE as u64, write, at: Instant::now() };
                                    if ftx.send(fault).is_err() {
                                        break;
                                    }
                                }
                                Ok(None) => {}
                                Err(_) => break,
                            }
                        }
                    })
                    .map_err(|e| KvmError::Setup(format!("spawning the fault thread: {e}")))?;
                (Some(t), Some(frx))
            }
            None => (None, None),
        };
        let started = Arc::new(AtomicBool::new(false));
        let (u, p, st) = (uffd.clone(), present.clone(), started.clone());
        let rx_thread = std::thread::Builder::new()
            .name("receiver".into())
            .spawn(move || receive(mem, rx, u, p, st))
            .map_err(|e| KvmError::Setup(format!("spawning the receiver: {e}")))?;
        Ok(LocalDestination {
            kvm,
            scenario: scenario.clone(),
            planner,
            prefill,
            runner: None,
            vm,
            tx: Some(tx),
            rx_thread: Some(rx_thread),
            uffd,
            present,
            fault_thread,
            stop_faults,
            started,
            faults,
            dropped: Vec::new(),
        })
    }

    /// The destination's memory.
    pub fn memory(&self) -> &GuestMemory {
        self.vm.memory()
    }

    /// Waits until everything delivered has been applied and loads the CPU state into the
    /// vCPU; returns the plan state and the pages that did not decode.
    pub fn arrive(&mut self) -> Result<(PlanState, Vec<String>), ContextError> {
        let (tx, rx) = mpsc::channel();
        self.deliver(Msg::Sync(tx))?;
        let reply = rx.recv().map_err(|_| ContextError::Transport("the receiver has gone".into()))?;
        let state = reply.state.ok_or_else(|| ContextError::Transport("the CPU state did not arrive".into()))?;
        state.vcpu.set(&self.vm.vcpu().lock().expect("vcpu lock")).map_err(|e| ContextError::Guest(e.to_string()))?;
        self.dropped.extend(reply.dropped);
        Ok((state.plan, reply.errors))
    }

    /// Post-copy: the pages present now (None: not post-copy, every page is there).
    pub fn present_pages(&self) -> Option<PageBitmap> {
        self.uffd.as_ref().map(|_| self.present.lock().expect("present lock").clone())
    }

    /// Takes the stream of page faults (post-copy), for a thread that forwards them.
    pub fn take_faults(&mut self) -> Option<mpsc::Receiver<Fault>> {
        self.faults.take()
    }

    /// Starts the guest from `plan`.
    pub fn start(&mut self, plan: PlanState) {
        self.started.store(true, Ordering::Relaxed);
        self.runner = Some(Runner::start(&self.vm, self.planner.clone(), plan, true, None));
    }
}

impl Drop for LocalDestination {
    fn drop(&mut self) {
        // Post-copy: stop the fault thread and the receiver, then close the userfaultfd, which
        // wakes a vCPU blocked on a missing page (the kernel then fills it with zeros), so the
        // vCPU thread can be stopped.
        self.stop_faults.store(true, Ordering::Relaxed);
        if let Some(t) = self.fault_thread.take() {
            let _ = t.join();
        }
        self.tx = None;
        if let Some(t) = self.rx_thread.take() {
            let _ = t.join();
        }
        self.uffd = None;
        if let Some(r) = &mut self.runner {
            r.stop();
        }
    }
}

impl Destination for LocalDestination {
    fn deliver(&mut self, msg: Msg) -> Result<(), ContextError> {
        self.tx
            .as_ref()
            .ok_or_else(|| ContextError::Transport("the transport is closed".into()))?
            .send(msg)
            .map_err(|_| ContextError::Transport("the receiver has gone".into()))
    }

    fn resume(&mut self, source: &GuestMemory) -> Result<Switchover, ContextError> {
        let (plan, decode_errors) = self.arrive()?;
        let t = Instant::now();
        let mut s = Switchover { plan, decode_errors, ..Default::default() };
        let (mut a, mut b) = (vec![0u8; PAGE], vec![0u8; PAGE]);
        let present = self.uffd.as_ref().map(|_| self.present.lock().expect("present lock").clone());
        for p in 0..self.memory().pages() {
            if present.as_ref().is_some_and(|b| !b.get(p)) {
                // Missing (post-copy): reading it would block; it faults in or is pushed.
                s.absent += 1;
                continue;
            }
            source.read(p as usize * PAGE, &mut a);
            self.memory().read(p as usize * PAGE, &mut b);
            if a != b {
                s.mismatched_pages += 1;
                if s.first_mismatches.len() < 8 {
                    s.first_mismatches.push(p);
                }
            }
        }
        s.check_s = t.elapsed().as_secs_f64();
        self.start(plan);
        Ok(s)
    }

    fn progress(&self) -> Option<(u64, f64, usize)> {
        self.runner.as_ref().map(|r| {
            let p = r.progress();
            (p.writes.load(Ordering::Relaxed), r.guest_time(), p.phase.load(Ordering::Relaxed) as usize)
        })
    }

    fn next_fault(&mut self, timeout: Duration) -> Option<Fault> {
        let rx = self.faults.as_ref()?;
        if timeout.is_zero() {
            rx.try_recv().ok()
        } else {
            rx.recv_timeout(timeout).ok()
        }
    }

    fn take_dropped(&mut self) -> Vec<u64> {
        if self.uffd.is_some() {
            let (tx, rx) = mpsc::channel();
            if self.deliver(Msg::Sync(tx)).is_ok() {
                if let Ok(reply) = rx.recv() {
                    self.dropped.extend(reply.dropped);
                }
            }
        }
        std::mem::take(&mut self.dropped)
    }

    fn complete(&self) -> bool {
        self.uffd.is_none() || self.present.lock().expect("present lock").count() == self.scenario.page_count()
    }

    fn finish(&mut self, batches: u64) -> Result<Continuation, KvmError> {
        // Post-copy: wait until the receiver thread has applied everything sent (with a link
        // that is not paced, the last pages can still be in its queue).
        if self.uffd.is_some() {
            let (tx, rx) = mpsc::channel();
            if self.deliver(Msg::Sync(tx)).is_ok() {
                if let Ok(reply) = rx.recv() {
                    self.dropped.extend(reply.dropped);
                    if !reply.errors.is_empty() {
                        return Err(KvmError::Guest(format!("the destination failed to apply pages: {}", reply.errors.join("; "))));
                    }
                }
            }
        }
        if !self.complete() {
            let missing = self.scenario.page_count() - self.present.lock().expect("present lock").count();
            return Err(KvmError::Guest(format!("{missing} {}", super::context::NEVER_ARRIVED)));
        }
        let Some(runner) = &self.runner else {
            return Err(KvmError::Guest("the destination never resumed".into()));
        };
        let (writes, guest_time, _) = self.progress().expect("running");
        let done = runner.progress().batches.load(Ordering::Relaxed);
        let target = done
            .checked_add(batches.max(1))
            .ok_or_else(|| KvmError::Guest(format!("batch {done} + {batches} more is past the largest batch number")))?;
        runner.resume(Some(target));
        let plan = runner.wait_parked(Duration::from_secs(600))?;
        let (mismatches, ok) = compare_with_reference(&self.kvm, &self.vm, &self.scenario, &self.planner, self.prefill, plan.batch)?;
        Ok(Continuation { writes, guest_time, ok, mismatches, batch: plan.batch })
    }
}

/// Runs a fresh reference VM from boot, unpaced and without migration, for `batch` batches and
/// compares its memory page by page (and its registers) with `vm`'s, parked at that batch.
/// Returns (pages that differ, whether everything matched).
pub fn compare_with_reference(
    kvm: &kvm_ioctls::Kvm,
    vm: &Vm,
    scenario: &Scenario,
    planner: &Planner,
    prefilled: bool,
    batch: u64,
) -> Result<(u64, bool), KvmError> {
    let n = scenario.page_count();
    let reference = Vm::new(kvm, n as usize * PAGE, false)?;
    if prefilled {
        prefill(reference.memory(), planner);
    }
    reference.boot(planner.layout(), scenario.seed)?;
    let ref_runner = Runner::start(&reference, planner.clone(), PlanState::start(), false, Some(batch));
    let ref_plan = ref_runner.wait_parked(Duration::from_secs(600))?;
    let (mut a, mut b) = (vec![0u8; PAGE], vec![0u8; PAGE]);
    let mismatches = (0..n)
        .filter(|&p| {
            vm.memory().read(p as usize * PAGE, &mut a);
            reference.memory().read(p as usize * PAGE, &mut b);
            a != b
        })
        .count() as u64;
    let regs_equal = {
        let d = VcpuState::get(&vm.vcpu().lock().expect("vcpu lock"))?;
        let r = VcpuState::get(&reference.vcpu().lock().expect("vcpu lock"))?;
        d.regs == r.regs
    };
    Ok((mismatches, mismatches == 0 && regs_equal && ref_plan.batch == batch))
}
