//! The guest program and the host-side planner that drives it.
//!
//! # Design choices
//!
//! * **CPU mode.** The guest runs in 64-bit long mode at **CPL3 with IOPL 3**, set up entirely by
//!   the host (`KVM_SET_SREGS`: CR0.PG|PE, CR4.PAE, EFER.LME|LMA, user code and data segments;
//!   identity page tables with 2 MiB user pages covering the first GiB; a GDT in guest memory).
//!   There is no guest kernel: with IOPL 3 the loop's `out` exits straight to the host, and no
//!   exception is expected (one would triple-fault and stop the run with an error). Under this
//!   machine's PVM hypervisor user-mode code runs natively while kernel-mode code is emulated
//!   (see docs/architecture.md, real KVM): an earlier 32-bit CPL0 version of this loop managed about 50,000
//!   writes/s, this one about 19 million unpaced.
//! * **Code.** A 196-byte loop hand-written in `guest.S` (beside this file) and assembled with
//!   GNU `as`; the bytes are embedded here so the build needs no assembler.
//! * **Work.** Each *batch* does `W` writes then `R` reads, then `out 0x10`: the host
//!   counts it, paces it (sleeps to hold the scenario's rate), can pause it there, and writes the
//!   next batch's `W`, `R` and working set into the parameter block. A write stores the
//!   32-bit value `k * 0x9E3779B1 ^ page` at byte offset `(4k) mod 4096` of the page, where `k`
//!   counts the guest's writes; a read folds the word it reads into a checksum
//!   (`rol 5; xor`), so a stale page the guest reads changes the checksum. Page choice follows
//!   the core's patterns (idle, sequential, uniform, hot/cold) with a 32-bit LCG in the guest;
//!   the stream differs from the simulator's (which hashes), the distribution is the same.
//! * **Reserved pages.** The page tables (PML4, PDPT, PD), the GDT, the code and the parameter
//!   block (with the stack at its top) take the last six pages of the scenario's used memory; the
//!   working set is clamped below them.
//! * **Determinism.** The plan of batch `i` (its `W`, `R` and phase) is a pure function of `i`
//!   (phases advance with *nominal* guest time, the sum of the batches' nominal durations), and
//!   the guest's state is a pure function of the plans it ran, so a fresh guest run for the same
//!   number of batches without pacing reproduces the memory exactly: the continuation check.

use super::wire::OutOfRange;
use livemig_core::scenario::{AccessPattern, PhaseTag, Scenario};
use livemig_core::workload::Workload;

/// The guest loop (see `guest.S`).
pub const GUEST_CODE: &[u8] = &[
    0x8b, 0x4e, 0x04, 0x85, 0xc9, 0x74, 0x29, 0x8b, 0x06, 0xff, 0xd0, 0x89, 0xea, 0x69, 0xd2, 0xb1, 0x79, 0x37, 0x9e, 0x31, 0xc2, 0xc1,
    0xe0, 0x0c, 0x51, 0x8d, 0x0c, 0xad, 0x00, 0x00, 0x00, 0x00, 0x81, 0xe1, 0xfc, 0x0f, 0x00, 0x00, 0x89, 0x14, 0x08, 0x59, 0xff, 0xc5,
    0xff, 0xc9, 0x75, 0xd7, 0x8b, 0x4e, 0x08, 0x85, 0xc9, 0x74, 0x19, 0x8b, 0x06, 0xff, 0xd0, 0xc1, 0xe0, 0x0c, 0x89, 0xda, 0x81, 0xe2,
    0xfc, 0x0f, 0x00, 0x00, 0xc1, 0xc7, 0x05, 0x33, 0x3c, 0x10, 0xff, 0xc9, 0x75, 0xe7, 0x89, 0x6e, 0x24, 0x89, 0x7e, 0x28, 0xff, 0x46,
    0x2c, 0xe6, 0x10, 0xeb, 0xa3, 0x8b, 0x46, 0x0c, 0xc3, 0x8b, 0x46, 0x20, 0x8d, 0x50, 0x01, 0x3b, 0x56, 0x10, 0x72, 0x02, 0x31, 0xd2,
    0x89, 0x56, 0x20, 0x03, 0x46, 0x0c, 0xc3, 0x69, 0xdb, 0x0d, 0x66, 0x19, 0x00, 0x81, 0xc3, 0x5f, 0xf3, 0x6e, 0x3c, 0x89, 0xd8, 0xf7,
    0x66, 0x10, 0x89, 0xd0, 0x03, 0x46, 0x0c, 0xc3, 0x69, 0xdb, 0x0d, 0x66, 0x19, 0x00, 0x81, 0xc3, 0x5f, 0xf3, 0x6e, 0x3c, 0x89, 0xd8,
    0x69, 0xdb, 0x0d, 0x66, 0x19, 0x00, 0x81, 0xc3, 0x5f, 0xf3, 0x6e, 0x3c, 0x3b, 0x46, 0x1c, 0x73, 0x0b, 0x89, 0xd8, 0xf7, 0x66, 0x14,
    0x89, 0xd0, 0x03, 0x46, 0x0c, 0xc3, 0x89, 0xd8, 0xf7, 0x66, 0x18, 0x89, 0xd0, 0x03, 0x46, 0x0c, 0x03, 0x46, 0x14, 0xc3,
];
/// Offset of `pick_idle` in [`GUEST_CODE`].
const PICK_IDLE: u32 = 0x5d;
/// Offset of `pick_seq`.
const PICK_SEQ: u32 = 0x61;
/// Offset of `pick_uniform`.
const PICK_UNIFORM: u32 = 0x75;
/// Offset of `pick_hotcold`.
const PICK_HOTCOLD: u32 = 0x8c;

/// The I/O port the guest writes after each batch.
pub const BATCH_PORT: u16 = 0x10;
/// Pages the guest program itself occupies (page tables, GDT, code, parameter block and stack).
pub const RESERVED_PAGES: u64 = 6;
/// Largest guest: one page directory of 2 MiB pages maps the first GiB.
pub const MAX_MEMORY: u64 = 1 << 30;
/// Nominal guest seconds of one batch while the workload writes or reads.
pub const BATCH_SECONDS: f64 = 0.002;
/// Nominal guest seconds of one batch of an idle phase (no reads, no writes).
pub const IDLE_BATCH_SECONDS: f64 = 0.01;
/// At most this many writes (and reads) in one batch, so a pause waits for little work.
pub const MAX_BATCH: u64 = 4096;

/// Byte offsets in the parameter block.
pub mod param {
    /// Address of the page-choice routine.
    pub const PICK: u64 = 0x00;
    /// Writes in this batch.
    pub const WRITES: u64 = 0x04;
    /// Reads in this batch.
    pub const READS: u64 = 0x08;
    /// First page of the working set.
    pub const WS_START: u64 = 0x0C;
    /// Pages in the working set.
    pub const WS_LEN: u64 = 0x10;
    /// Pages in the hot part.
    pub const HOT_LEN: u64 = 0x14;
    /// Pages in the cold part.
    pub const COLD_LEN: u64 = 0x18;
    /// P(hot) scaled to 2^32.
    pub const HOT_THRESHOLD: u64 = 0x1C;
    /// Position of the sequential sweep.
    pub const SEQ: u64 = 0x20;
    /// Writes done so far (written by the guest).
    pub const K: u64 = 0x24;
    /// Checksum of what the guest read (written by the guest).
    pub const CHECKSUM: u64 = 0x28;
    /// Batches done (written by the guest).
    pub const BATCHES: u64 = 0x2C;
}

/// Where the guest program lives in guest-physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Pages in guest memory.
    pub pages: u64,
    /// Guest-physical address of the code.
    pub code: u64,
    /// Guest-physical address of the parameter block (the stack grows down from its page's end).
    pub params: u64,
    /// Pages below this may be touched by the workload.
    pub usable: u64,
    /// Guest-physical address of the PML4 (then the PDPT, the PD and the GDT, a page each).
    pub tables: u64,
}

impl Layout {
    /// The layout for a guest of `pages` pages whose free memory begins at page `used` (the
    /// scenario's `used_range().end`): the program and its tables take the last pages below it.
    pub fn new(pages: u64, used: u64) -> Layout {
        let used = used.clamp(RESERVED_PAGES + 1, pages);
        Layout {
            pages,
            code: (used - 2) * 4096,
            params: (used - 1) * 4096,
            usable: used - RESERVED_PAGES,
            tables: (used - RESERVED_PAGES) * 4096,
        }
    }
    /// The initial stack pointer.
    pub fn stack_top(&self) -> u64 {
        self.params + 4096
    }
}

/// One phase, resolved to the guest's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePlan {
    /// Phase name.
    pub name: String,
    /// Its tag.
    pub tag: Option<PhaseTag>,
    /// Guest address of the page-choice routine.
    pub pick: u32,
    /// Writes per guest second.
    pub write_rate: f64,
    /// Reads per guest second.
    pub read_rate: f64,
    /// First page of the working set.
    pub ws_start: u32,
    /// Pages in the working set.
    pub ws_len: u32,
    /// Pages in the hot part.
    pub hot_len: u32,
    /// P(hot) scaled to 2^32.
    pub hot_threshold: u32,
}

/// The host's side of the guest's progress: everything the plan of the next batch depends on.
/// It moves to the destination with the vCPU state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanState {
    /// Batches planned (and, once the vCPU is parked, done).
    pub batch: u64,
    /// Nominal guest seconds of the batches planned.
    pub guest_time: f64,
    /// Writes planned.
    pub writes: u64,
    /// Reads planned.
    pub reads: u64,
    /// Fractional writes carried to the next batch.
    pub write_credit: f64,
    /// Fractional reads carried to the next batch.
    pub read_credit: f64,
    /// Phase of the last batch planned (usize::MAX before the first).
    pub phase: usize,
}

impl PlanState {
    /// The state before the first batch.
    pub fn start() -> PlanState {
        PlanState { phase: usize::MAX, ..Default::default() }
    }
    /// Checks a plan state received from a peer against `planner`'s guest: nominal time finite
    /// and at most `max_guest_time`, the batch count consistent with it (each batch stands for
    /// [`BATCH_SECONDS`] to [`IDLE_BATCH_SECONDS`]), at most [`MAX_BATCH`] writes and reads a
    /// batch, carried credits within a batch, and a phase of the workload. Bounding the batch
    /// count bounds the reference run of the continuation check, which replays every batch.
    pub fn check(&self, planner: &Planner, max_guest_time: f64) -> Result<(), OutOfRange> {
        if !(self.guest_time.is_finite() && (0.0..=max_guest_time).contains(&self.guest_time)) {
            return Err(OutOfRange::new("State.plan.guest_time", self.guest_time, format!("0 to {max_guest_time} s")));
        }
        let (low, high) = (self.guest_time / IDLE_BATCH_SECONDS, self.guest_time / BATCH_SECONDS);
        let batch = self.batch as f64;
        if batch < low.floor() - 1.0 || batch > high.ceil() + 1.0 {
            let accepted = format!("{:.0} to {:.0} for {} guest seconds", (low.floor() - 1.0).max(0.0), high.ceil() + 1.0, self.guest_time);
            return Err(OutOfRange::new("State.plan.batch", self.batch, accepted));
        }
        let most = self.batch.saturating_mul(MAX_BATCH);
        for (field, v) in [("State.plan.writes", self.writes), ("State.plan.reads", self.reads)] {
            if v > most {
                return Err(OutOfRange::new(field, v, format!("0 to {most} ({MAX_BATCH} a batch)")));
            }
        }
        for (field, v) in [("State.plan.write_credit", self.write_credit), ("State.plan.read_credit", self.read_credit)] {
            if !(v.is_finite() && (0.0..=MAX_BATCH as f64).contains(&v)) {
                return Err(OutOfRange::new(field, v, format!("0 to {MAX_BATCH}")));
            }
        }
        let phases = planner.phases().len();
        let phase_ok = if self.batch == 0 { self.phase == usize::MAX } else { self.phase < phases };
        if !phase_ok {
            let accepted = if self.batch == 0 { format!("{} before the first batch", usize::MAX) } else { format!("0 to {}", phases - 1) };
            return Err(OutOfRange::new("State.plan.phase", self.phase, accepted));
        }
        Ok(())
    }
    /// Bytes of [`PlanState::to_bytes`].
    pub const BYTES: usize = 56;
    /// Little-endian bytes (for the wire).
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        let fields = [
            self.batch,
            self.guest_time.to_bits(),
            self.writes,
            self.reads,
            self.write_credit.to_bits(),
            self.read_credit.to_bits(),
            self.phase as u64,
        ];
        for (i, f) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
        }
        out
    }
    /// Parses [`PlanState::to_bytes`].
    pub fn from_bytes(b: &[u8; Self::BYTES]) -> PlanState {
        let f = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        PlanState {
            batch: f(0),
            guest_time: f64::from_bits(f(1)),
            writes: f(2),
            reads: f(3),
            write_credit: f64::from_bits(f(4)),
            read_credit: f64::from_bits(f(5)),
            phase: f(6) as usize,
        }
    }
}

/// What the host writes into the parameter block before one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPlan {
    /// Writes in the batch.
    pub writes: u32,
    /// Reads in the batch.
    pub reads: u32,
    /// Nominal guest seconds the batch stands for.
    pub duration: f64,
    /// The phase index, and whether it starts with this batch.
    pub phase: usize,
    /// Whether this batch starts a new phase (the working-set fields must be written).
    pub new_phase: bool,
}

/// Turns the scenario's workload into batches.
#[derive(Debug, Clone)]
pub struct Planner {
    workload: Workload,
    phases: Vec<PhasePlan>,
    layout: Layout,
}

impl Planner {
    /// The planner of `scenario`'s workload in `layout`.
    pub fn new(scenario: &Scenario, layout: Layout) -> Planner {
        let workload = Workload::new(scenario);
        let code = layout.code as u32;
        let phases = workload
            .phases()
            .iter()
            .map(|p| {
                let ws_start = p.ws_start.min(layout.usable - 1);
                let ws_len = p.ws_len.clamp(1, layout.usable - ws_start);
                let hot_len = p.hot_len.clamp(1, ws_len);
                let pick = match p.pattern {
                    AccessPattern::Idle => PICK_IDLE,
                    AccessPattern::Sequential => PICK_SEQ,
                    AccessPattern::Uniform => PICK_UNIFORM,
                    AccessPattern::HotCold => PICK_HOTCOLD,
                };
                PhasePlan {
                    name: p.name.clone(),
                    tag: p.tag,
                    pick: code + pick,
                    write_rate: p.write_rate,
                    read_rate: p.read_rate,
                    ws_start: ws_start as u32,
                    ws_len: ws_len as u32,
                    hot_len: hot_len as u32,
                    hot_threshold: (p.hot_probability.clamp(0.0, 1.0) * 4_294_967_295.0) as u32,
                }
            })
            .collect();
        Planner { workload, phases, layout }
    }

    /// The resolved phases.
    pub fn phases(&self) -> &[PhasePlan] {
        &self.phases
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The tag of the code region the guest is in at nominal guest time `t`.
    pub fn tag_at(&self, t: f64) -> Option<PhaseTag> {
        self.workload.tag_at(t)
    }

    /// Plans the next batch and advances `state`.
    pub fn next(&self, state: &mut PlanState) -> BatchPlan {
        let (phase, _) = self.workload.phase_at(state.guest_time);
        let p = &self.phases[phase];
        let new_phase = phase != state.phase;
        if new_phase {
            state.write_credit = 0.0;
            state.read_credit = 0.0;
        }
        let duration = if p.write_rate > 0.0 || p.read_rate > 0.0 { BATCH_SECONDS } else { IDLE_BATCH_SECONDS };
        state.write_credit += p.write_rate * duration;
        state.read_credit += p.read_rate * duration;
        let writes = (state.write_credit.floor() as u64).min(MAX_BATCH);
        let reads = (state.read_credit.floor() as u64).min(MAX_BATCH);
        state.write_credit = (state.write_credit - writes as f64).min(MAX_BATCH as f64);
        state.read_credit = (state.read_credit - reads as f64).min(MAX_BATCH as f64);
        state.batch += 1;
        state.guest_time += duration;
        state.writes += writes;
        state.reads += reads;
        state.phase = phase;
        BatchPlan { writes: writes as u32, reads: reads as u32, duration, phase, new_phase }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_hold_the_rate_and_are_deterministic() {
        let s = Scenario::from_toml_str("[vm]\nmemory = \"16 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 1234\nread_rate = 10")
            .unwrap();
        let layout = Layout::new(s.page_count(), s.used_range().end);
        assert_eq!(layout.usable, 4096 - RESERVED_PAGES);
        let planner = Planner::new(&s, layout);
        assert_eq!(planner.phases()[0].ws_len as u64, layout.usable);
        let mut a = PlanState::start();
        let mut b = PlanState::start();
        let mut writes = 0;
        for _ in 0..500 {
            let pa = planner.next(&mut a);
            assert_eq!(pa, planner.next(&mut b));
            writes += pa.writes as u64;
        }
        assert!((a.guest_time - 1.0).abs() < 1e-9);
        assert!((1233..=1234).contains(&writes), "{writes}");
    }
}
