//! The destination side of a migration: a [`Destination`] receives pages and the CPU state,
//! switches over, and checks the continuation. [`LocalDestination`] is a VM in this process
//! (used directly by `livemig kvm migrate`, and by `livemig kvm receive` behind TCP);
//! [`super::remote::RemoteDestination`] is one in another process.

use super::guest::{PlanState, Planner};
use super::vm::{GuestMemory, Runner, VcpuState, Vm, PAGE};
use super::wire::Continuation;
use super::KvmError;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{ContextError, EncodedBatch};
use livemig_core::Scenario;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
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
    /// Encoded pages, decoded with the core's `codec::decode` (a delta applies to the
    /// destination's current copy).
    Encoded(EncodedBatch),
    /// Pages that are all zeros.
    Zero(Vec<u64>),
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
fn receive(mem: Arc<GuestMemory>, rx: mpsc::Receiver<Msg>) {
    let mut state = None;
    let mut errors = Vec::new();
    let mut page = vec![0u8; PAGE];
    let mut written = PageBitmap::new(mem.pages());
    for msg in rx {
        match msg {
            Msg::Pages { pages, data } => {
                for (i, &p) in pages.iter().enumerate() {
                    mem.write(p as usize * PAGE, &data[i * PAGE..(i + 1) * PAGE]);
                    written.set(p);
                }
            }
            Msg::Encoded(batch) => {
                for (p, encoding, bytes) in batch.iter() {
                    if encoding == livemig_core::context::Encoding::Zero && !written.get(p) {
                        continue;
                    }
                    mem.read(p as usize * PAGE, &mut page);
                    match livemig_core::codec::decode(encoding, bytes, &mut page) {
                        Ok(()) => {
                            mem.write(p as usize * PAGE, &page);
                            written.set(p);
                        }
                        Err(e) => errors.push(format!("page {p} ({encoding:?}) does not decode: {e}")),
                    }
                }
            }
            Msg::Zero(pages) => pages.iter().filter(|&&p| written.get(p)).for_each(|&p| mem.zero_page(p)),
            Msg::State(s) => state = Some(s),
            Msg::Sync(reply) => {
                let _ = reply.send(SyncReply { state: state.clone(), errors: std::mem::take(&mut errors) });
            }
        }
    }
}

/// A destination VM in this process, with a receiver thread applying what arrives.
pub struct LocalDestination {
    kvm: kvm_ioctls::Kvm,
    scenario: Scenario,
    planner: Planner,
    prefill: bool,
    // Field order: the runner stops before the VM goes.
    runner: Option<Runner>,
    vm: Vm,
    tx: Option<mpsc::Sender<Msg>>,
    rx_thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalDestination {
    /// An empty destination VM for `scenario`'s guest.
    pub fn new(scenario: &Scenario, planner: Planner, prefill: bool) -> Result<LocalDestination, KvmError> {
        let kvm = super::open_kvm()?;
        let bytes = scenario.page_count() as usize * PAGE;
        let vm = Vm::new(&kvm, bytes, false)?;
        let (tx, rx) = mpsc::channel();
        let mem = vm.memory().clone();
        let rx_thread = std::thread::Builder::new()
            .name("receiver".into())
            .spawn(move || receive(mem, rx))
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
        Ok((state.plan, reply.errors))
    }

    /// Starts the guest from `plan`.
    pub fn start(&mut self, plan: PlanState) {
        self.runner = Some(Runner::start(&self.vm, self.planner.clone(), plan, true, None));
    }
}

impl Drop for LocalDestination {
    fn drop(&mut self) {
        if let Some(r) = &mut self.runner {
            r.stop();
        }
        self.tx = None;
        if let Some(t) = self.rx_thread.take() {
            let _ = t.join();
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
        for p in 0..self.memory().pages() {
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

    fn finish(&mut self, batches: u64) -> Result<Continuation, KvmError> {
        let Some(runner) = &self.runner else {
            return Err(KvmError::Guest("the destination never resumed".into()));
        };
        let (writes, guest_time, _) = self.progress().expect("running");
        let target = runner.progress().batches.load(Ordering::Relaxed) + batches.max(1);
        runner.resume(Some(target));
        let plan = runner.wait_parked(Duration::from_secs(600))?;
        let n = self.scenario.page_count();
        let reference = Vm::new(&self.kvm, n as usize * PAGE, false)?;
        if self.prefill {
            prefill(reference.memory(), &self.planner);
        }
        reference.boot(self.planner.layout(), self.scenario.seed)?;
        let ref_runner = Runner::start(&reference, self.planner.clone(), PlanState::start(), false, Some(plan.batch));
        let ref_plan = ref_runner.wait_parked(Duration::from_secs(600))?;
        let (mut a, mut b) = (vec![0u8; PAGE], vec![0u8; PAGE]);
        let mismatches = (0..n)
            .filter(|&p| {
                self.vm.memory().read(p as usize * PAGE, &mut a);
                reference.memory().read(p as usize * PAGE, &mut b);
                a != b
            })
            .count() as u64;
        let regs_equal = {
            let d = VcpuState::get(&self.vm.vcpu().lock().expect("vcpu lock"))?;
            let r = VcpuState::get(&reference.vcpu().lock().expect("vcpu lock"))?;
            d.regs == r.regs
        };
        Ok(Continuation {
            writes,
            guest_time,
            ok: mismatches == 0 && regs_equal && ref_plan.batch == plan.batch,
            mismatches,
            batch: plan.batch,
        })
    }
}
