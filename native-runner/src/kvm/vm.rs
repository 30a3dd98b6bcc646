//! One KVM virtual machine: guest memory, the vCPU and the thread that runs it.
//!
//! # Design choices
//!
//! * Guest memory is one anonymous `mmap` (`MAP_NORESERVE`, so a 1 GiB guest costs only the
//!   pages it touches) registered as memory slot 0 at guest-physical address 0, with
//!   `KVM_MEM_LOG_DIRTY_PAGES` on the source.
//! * The vCPU runs on its own thread ([`Runner`]). It is stopped only at the guest's batch port
//!   exit (`out 0x10`), never in the middle of a batch, so pausing needs no signal and the
//!   guest's state at a pause is always at a batch boundary (which the continuation check
//!   relies on). A pause therefore waits for at most one batch (a few ms).
//! * The host reads and writes guest memory through raw pointer copies while the guest may be
//!   running, as every VMM does; the bytes of a page being written concurrently may be torn, which
//!   is exactly what dirty logging is for.
#![allow(unsafe_code)]

use super::guest::{param, BatchPlan, Layout, PlanState, Planner, BATCH_PORT, GUEST_CODE};
use super::wire::OutOfRange;
use super::KvmError;
use kvm_bindings::{kvm_fpu, kvm_mp_state, kvm_regs, kvm_segment, kvm_sregs, kvm_userspace_memory_region, kvm_vcpu_events};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Page size the KVM backend supports.
pub const PAGE: usize = 4096;

/// CR0: protected mode.
const CR0_PE: u64 = 1;
/// CR0: paging.
const CR0_PG: u64 = 1 << 31;
/// CR4: physical address extension (needed by long mode).
const CR4_PAE: u64 = 1 << 5;
/// EFER: long mode enabled.
const EFER_LME: u64 = 1 << 8;
/// EFER: long mode active.
const EFER_LMA: u64 = 1 << 10;
/// RFLAGS: the reserved bit that is always 1.
const RFLAGS_FIXED: u64 = 1 << 1;

/// An anonymous mapping used as guest memory.
#[derive(Debug)]
pub struct GuestMemory {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this struct for its whole life; all access goes
// through `copy_nonoverlapping` on in-bounds ranges, and concurrent writes by the guest are the
// expected (hypervisor-style) sharing of guest RAM.
unsafe impl Send for GuestMemory {}
// SAFETY: as above; no Rust references to the bytes are ever handed out.
unsafe impl Sync for GuestMemory {}

/// Copies `len` bytes (a multiple of 64) from `src` to `dst` with non-temporal stores, which
/// write whole cache lines straight to memory instead of first reading each destination line
/// into the cache. A migration's destination does not read the pages it receives soon, so this
/// is the right kind of copy for it, and it is what glibc's `memcpy` itself switches to, but
/// only above `glibc.cpu.x86_non_temporal_threshold` (192 MiB on this project's machine):
/// measured here, `memcpy` in 64 MiB pieces ran at 8.8 GB/s and this copy at 12-14 GB/s in
/// pieces of any size from one page up, against 15.5 GB/s for one 256 MiB `memcpy`.
///
/// # Safety
/// `src` and `dst` must be 16-byte aligned, valid for `len` bytes and not overlap.
#[cfg(target_arch = "x86_64")]
unsafe fn copy_streaming(src: *const u8, dst: *mut u8, len: usize) {
    use std::arch::x86_64::{__m128i, _mm_load_si128, _mm_sfence, _mm_stream_si128};
    debug_assert!(len % 64 == 0 && src as usize % 16 == 0 && dst as usize % 16 == 0);
    let (s, d) = (src as *const __m128i, dst as *mut __m128i);
    let mut i = 0;
    // SAFETY (whole loop): SSE2 is part of x86_64; every offset is inside both ranges and
    // 16-byte aligned, as the caller promises.
    while i < len / 16 {
        let (a, b, c, e) =
            (_mm_load_si128(s.add(i)), _mm_load_si128(s.add(i + 1)), _mm_load_si128(s.add(i + 2)), _mm_load_si128(s.add(i + 3)));
        _mm_stream_si128(d.add(i), a);
        _mm_stream_si128(d.add(i + 1), b);
        _mm_stream_si128(d.add(i + 2), c);
        _mm_stream_si128(d.add(i + 3), e);
        i += 4;
    }
    // Non-temporal stores are weakly ordered: fence them before anyone reads the pages.
    _mm_sfence();
}

/// Elsewhere, an ordinary copy.
///
/// # Safety
/// As [`std::ptr::copy_nonoverlapping`].
#[cfg(not(target_arch = "x86_64"))]
unsafe fn copy_streaming(src: *const u8, dst: *mut u8, len: usize) {
    std::ptr::copy_nonoverlapping(src, dst, len)
}

impl GuestMemory {
    /// Maps `len` bytes (a multiple of the page size) of zeroed anonymous memory.
    pub fn new(len: usize) -> Result<GuestMemory, KvmError> {
        if len == 0 || len % PAGE != 0 {
            return Err(KvmError::Setup(format!("guest memory size {len} is not a positive multiple of 4096")));
        }
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(KvmError::Setup(format!("mmap of {len} bytes failed: {}", std::io::Error::last_os_error())));
        }
        Ok(GuestMemory { ptr: ptr as *mut u8, len })
    }
    /// Allocates every page now (`madvise(MADV_POPULATE_WRITE)`, QEMU's `-mem-prealloc`), so
    /// that later writes do not fault each page in one by one; on a kernel without it
    /// (before Linux 5.14), writes a zero into each page instead. The contents stay zero. Not
    /// for a post-copy destination, whose pages must stay missing for userfaultfd.
    pub fn populate(&self) {
        /// `MADV_POPULATE_WRITE` (Linux 5.14; not in every libc release).
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        // Transparent huge pages where the kernel has them (as QEMU asks for guest RAM): the
        // host-side copies of a migration then walk 2 MiB mappings, not 4 KiB ones, and a
        // 64 MiB copy took 5.3 ms instead of 6.2. KVM still tracks dirty pages at 4 KiB (it
        // maps the guest in small pages while logging). Advice only: failure changes nothing.
        // SAFETY: the whole mapping this struct owns; the advice does not change its contents.
        unsafe { libc::madvise(self.ptr as *mut libc::c_void, self.len, libc::MADV_HUGEPAGE) };
        // SAFETY: as above; populating does not change the contents either.
        let r = unsafe { libc::madvise(self.ptr as *mut libc::c_void, self.len, MADV_POPULATE_WRITE) };
        if r != 0 {
            for page in 0..self.len / PAGE {
                // SAFETY: inside the mapping; the page is zero, so writing zero changes nothing.
                unsafe { std::ptr::write_volatile(self.ptr.add(page * PAGE), 0u8) };
            }
        }
    }
    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the mapping is empty (never: construction refuses it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Pages mapped.
    pub fn pages(&self) -> u64 {
        (self.len / PAGE) as u64
    }
    /// The host address of the mapping.
    pub fn host_addr(&self) -> u64 {
        self.ptr as u64
    }
    fn check(&self, offset: usize, n: usize) {
        assert!(offset.checked_add(n).is_some_and(|e| e <= self.len), "guest memory access {offset}+{n} out of range {}", self.len);
    }
    /// Copies bytes at guest-physical `offset` into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        self.check(offset, buf.len());
        // SAFETY: the range is inside the mapping (checked) and `buf` is a distinct host buffer.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), buf.as_mut_ptr(), buf.len()) }
    }
    /// Copies `bytes` to guest-physical `offset`.
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        self.check(offset, bytes.len());
        // SAFETY: the range is inside the mapping (checked) and `bytes` is a distinct host buffer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(offset), bytes.len()) }
    }
    /// Copies pages `first..first + count` of `source` (a memory of the same size) to the same
    /// pages here, in one copy.
    pub fn copy_pages_from(&self, source: &GuestMemory, first: u64, count: u64) {
        let (offset, len) = (first as usize * PAGE, count as usize * PAGE);
        self.check(offset, len);
        source.check(offset, len);
        // SAFETY: the range is inside both mappings (checked), which are distinct mappings, and
        // starts on a page boundary of each.
        unsafe { copy_streaming(source.ptr.add(offset), self.ptr.add(offset), len) }
    }
    /// Drops the contents of pages `first .. first + count` (`madvise(MADV_DONTNEED)`): they
    /// read as zeros and their memory is untouched again (a post-copy destination's discard; on
    /// a range registered with userfaultfd the next touch faults to it).
    pub fn discard_pages(&self, first: u64, count: u64) -> Result<(), KvmError> {
        let (offset, len) = (first as usize * PAGE, count as usize * PAGE);
        self.check(offset, len);
        // SAFETY: a page-aligned range inside the mapping (checked); its contents are dropped,
        // nothing is unmapped.
        if unsafe { libc::madvise(self.ptr.add(offset) as *mut libc::c_void, len, libc::MADV_DONTNEED) } != 0 {
            return Err(KvmError::Setup(format!("madvise(MADV_DONTNEED): {}", std::io::Error::last_os_error())));
        }
        Ok(())
    }
    /// Tells the kernel not to back the mapping with huge pages from now on (QEMU's destination
    /// does so before its first discard). Advice only: failure changes nothing.
    pub fn forbid_huge_pages(&self) {
        // SAFETY: advice on the whole mapping this struct owns; it changes no contents.
        unsafe { libc::madvise(self.ptr as *mut libc::c_void, self.len, libc::MADV_NOHUGEPAGE) };
    }
    /// Zeroes page `page`.
    pub fn zero_page(&self, page: u64) {
        let offset = page as usize * PAGE;
        self.check(offset, PAGE);
        // SAFETY: the page is inside the mapping (checked).
        unsafe { std::ptr::write_bytes(self.ptr.add(offset), 0, PAGE) }
    }
    /// Reads a little-endian u32.
    pub fn read_u32(&self, offset: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(offset as usize, &mut b);
        u32::from_le_bytes(b)
    }
    /// Writes a little-endian u32.
    pub fn write_u32(&self, offset: u64, v: u32) {
        self.write(offset as usize, &v.to_le_bytes());
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping created in `new`, unmapped once. The VM
        // that used it as a memory slot has been dropped first (field order in `Vm`) or no
        // longer runs.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}

/// The vCPU state moved from the source to the destination.
#[derive(Debug, Clone)]
pub struct VcpuState {
    /// General-purpose registers.
    pub regs: kvm_regs,
    /// Segment and control registers.
    pub sregs: kvm_sregs,
    /// x87/SSE state.
    pub fpu: kvm_fpu,
    /// Pending exceptions, interrupts, NMIs.
    pub events: kvm_vcpu_events,
    /// Run state.
    pub mp_state: kvm_mp_state,
}

impl VcpuState {
    /// Bytes of this state on a wire (the structures' sizes).
    pub fn wire_bytes() -> u64 {
        (std::mem::size_of::<kvm_regs>()
            + std::mem::size_of::<kvm_sregs>()
            + std::mem::size_of::<kvm_fpu>()
            + std::mem::size_of::<kvm_vcpu_events>()
            + std::mem::size_of::<kvm_mp_state>()) as u64
    }
    /// The state as bytes (the five KVM structures, each in its C layout, concatenated): the
    /// `State` payload of the wire protocol. Both ends are x86-64 hosts of the same ABI.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::wire_bytes() as usize);
        push_pod(&mut out, &self.regs);
        push_pod(&mut out, &self.sregs);
        push_pod(&mut out, &self.fpu);
        push_pod(&mut out, &self.events);
        push_pod(&mut out, &self.mp_state);
        out
    }
    /// Parses [`VcpuState::to_bytes`]; None if the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<VcpuState> {
        if bytes.len() != Self::wire_bytes() as usize {
            return None;
        }
        let mut at = 0;
        Some(VcpuState {
            regs: take_pod(bytes, &mut at),
            sregs: take_pod(bytes, &mut at),
            fpu: take_pod(bytes, &mut at),
            events: take_pod(bytes, &mut at),
            mp_state: take_pod(bytes, &mut at),
        })
    }
    /// Checks that this state can run the guest of `layout` as [`Vm::boot`] set it up, before
    /// it is loaded into a vCPU: runnable, 64-bit long mode with paging (CR0.PE|PG, CR4.PAE,
    /// EFER.LME|LMA) over the guest's own page tables (CR3) and GDT, user code and stack
    /// segments at CPL3, no pending exception, and `rip`/`rsp` inside the guest's code
    /// and stack pages. The guest never changes any of these, so a state that differs did not
    /// come from it (an all-zero state fails at the first check).
    pub fn check_guest(&self, layout: &Layout) -> Result<(), OutOfRange> {
        let hex = |v: u64| format!("{v:#x}");
        let s = &self.sregs;
        let need = |field: &'static str, value: u64, mask: u64, what: &str| {
            if value & mask == mask {
                Ok(())
            } else {
                Err(OutOfRange::new(field, hex(value), format!("{what} set (the guest runs in 64-bit long mode)")))
            }
        };
        if self.mp_state.mp_state != kvm_bindings::KVM_MP_STATE_RUNNABLE {
            return Err(OutOfRange::new("State.mp_state", self.mp_state.mp_state, "0 (runnable)"));
        }
        need("State.sregs.cr0", s.cr0, CR0_PE | CR0_PG, "PE and PG")?;
        need("State.sregs.cr4", s.cr4, CR4_PAE, "PAE")?;
        need("State.sregs.efer", s.efer, EFER_LME | EFER_LMA, "LME and LMA")?;
        if s.cr3 & !0xfff != layout.tables {
            return Err(OutOfRange::new("State.sregs.cr3", hex(s.cr3), format!("{} (the guest's page tables)", hex(layout.tables))));
        }
        let gdt = layout.tables + 3 * PAGE as u64;
        if s.gdt.base != gdt {
            return Err(OutOfRange::new("State.sregs.gdt.base", hex(s.gdt.base), format!("{} (the guest's GDT)", hex(gdt))));
        }
        let cs = &s.cs;
        if cs.present != 1 || cs.s != 1 || cs.type_ & 0x8 == 0 || cs.l != 1 || cs.db != 0 || cs.dpl != 3 {
            let shown = format!("present {} s {} type {:#x} l {} db {} dpl {}", cs.present, cs.s, cs.type_, cs.l, cs.db, cs.dpl);
            return Err(OutOfRange::new("State.sregs.cs", shown, "a present 64-bit user code segment (l 1, db 0, dpl 3)"));
        }
        let ss = &s.ss;
        if ss.present != 1 || ss.s != 1 || ss.type_ & 0xa != 0x2 || ss.dpl != 3 {
            let shown = format!("present {} s {} type {:#x} dpl {}", ss.present, ss.s, ss.type_, ss.dpl);
            return Err(OutOfRange::new("State.sregs.ss", shown, "a present writable user data segment (dpl 3)"));
        }
        let r = &self.regs;
        // Only the fixed bit: IOPL 3 is what boot sets, but this machine's PVM reports the
        // flags of a running guest as 0x6 (its `out` exits regardless), so IOPL is not checked.
        if r.rflags & RFLAGS_FIXED == 0 {
            return Err(OutOfRange::new("State.regs.rflags", hex(r.rflags), "bit 1 set (it always is)"));
        }
        let code = layout.code..layout.code + GUEST_CODE.len() as u64;
        if !code.contains(&r.rip) {
            return Err(OutOfRange::new(
                "State.regs.rip",
                hex(r.rip),
                format!("{} to {} (the guest's code)", hex(code.start), hex(code.end - 1)),
            ));
        }
        if r.rsp <= layout.params || r.rsp > layout.stack_top() {
            let accepted = format!("{} to {} (the guest's stack)", hex(layout.params + 1), hex(layout.stack_top()));
            return Err(OutOfRange::new("State.regs.rsp", hex(r.rsp), accepted));
        }
        let e = &self.events;
        if e.exception.injected != 0 || e.exception.pending != 0 || e.nmi.injected != 0 || e.nmi.pending != 0 {
            let shown = format!(
                "exception {} (injected {}, pending {}), nmi injected {} pending {}",
                e.exception.nr, e.exception.injected, e.exception.pending, e.nmi.injected, e.nmi.pending
            );
            return Err(OutOfRange::new("State.events", shown, "none pending or injected (the guest takes no exceptions)"));
        }
        Ok(())
    }
    /// Reads the state of a stopped vCPU.
    pub fn get(vcpu: &VcpuFd) -> Result<VcpuState, KvmError> {
        let e = |what: &str, err: kvm_ioctls::Error| KvmError::Kvm(format!("{what}: {err}"));
        Ok(VcpuState {
            regs: vcpu.get_regs().map_err(|x| e("KVM_GET_REGS", x))?,
            sregs: vcpu.get_sregs().map_err(|x| e("KVM_GET_SREGS", x))?,
            fpu: vcpu.get_fpu().map_err(|x| e("KVM_GET_FPU", x))?,
            events: vcpu.get_vcpu_events().map_err(|x| e("KVM_GET_VCPU_EVENTS", x))?,
            mp_state: vcpu.get_mp_state().map_err(|x| e("KVM_GET_MP_STATE", x))?,
        })
    }
    /// Loads the state into a vCPU that does not run (Firecracker's order: mp_state, regs,
    /// sregs, fpu, events).
    pub fn set(&self, vcpu: &VcpuFd) -> Result<(), KvmError> {
        let e = |what: &str, err: kvm_ioctls::Error| KvmError::Kvm(format!("{what}: {err}"));
        vcpu.set_mp_state(self.mp_state).map_err(|x| e("KVM_SET_MP_STATE", x))?;
        vcpu.set_regs(&self.regs).map_err(|x| e("KVM_SET_REGS", x))?;
        vcpu.set_sregs(&self.sregs).map_err(|x| e("KVM_SET_SREGS", x))?;
        vcpu.set_fpu(&self.fpu).map_err(|x| e("KVM_SET_FPU", x))?;
        vcpu.set_vcpu_events(&self.events).map_err(|x| e("KVM_SET_VCPU_EVENTS", x))?;
        Ok(())
    }
}

/// Marker for the KVM structures moved as raw bytes.
///
/// # Safety
/// Implementors are `repr(C)` structures of integers and integer arrays only (no pointers, no
/// enums, no bools), for which every bit pattern is a valid value.
unsafe trait Pod: Copy {}
// SAFETY: bindgen-generated repr(C) structures of integer fields and arrays (and unions of
// integer arrays), valid for any bit pattern.
unsafe impl Pod for kvm_regs {}
// SAFETY: as above.
unsafe impl Pod for kvm_sregs {}
// SAFETY: as above.
unsafe impl Pod for kvm_fpu {}
// SAFETY: as above.
unsafe impl Pod for kvm_vcpu_events {}
// SAFETY: as above.
unsafe impl Pod for kvm_mp_state {}

fn push_pod<T: Pod>(out: &mut Vec<u8>, v: &T) {
    // SAFETY: `T: Pod` has no padding-dependent invariants; reading its bytes (including any
    // padding, which bindgen makes explicit fields here) is reading initialised memory of
    // `size_of::<T>()` bytes owned by `v`.
    let bytes = unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) };
    out.extend_from_slice(bytes);
}

fn take_pod<T: Pod>(bytes: &[u8], at: &mut usize) -> T {
    let n = std::mem::size_of::<T>();
    let slice = &bytes[*at..*at + n];
    *at += n;
    // SAFETY: `slice` has exactly `size_of::<T>()` bytes (bounds-checked above), `read_unaligned`
    // copes with any alignment, and every bit pattern is a valid `T` (`T: Pod`).
    unsafe { std::ptr::read_unaligned(slice.as_ptr() as *const T) }
}

/// A VM with one vCPU and one memory slot.
#[derive(Debug)]
pub struct Vm {
    // Field order matters: the vCPU and VM close before the memory is unmapped.
    vcpu: Arc<Mutex<VcpuFd>>,
    fd: VmFd,
    mem: Arc<GuestMemory>,
    logging: bool,
}

impl Vm {
    /// A VM with `bytes` of zeroed memory, dirty-logged if `dirty_log`.
    pub fn new(kvm: &Kvm, bytes: usize, dirty_log: bool) -> Result<Vm, KvmError> {
        let fd = kvm.create_vm().map_err(|e| KvmError::Kvm(format!("KVM_CREATE_VM: {e}")))?;
        // Needed by VT-x for real mode; harmless elsewhere (PVM may refuse it).
        let _ = fd.set_tss_address(0xfffb_d000);
        let mem = Arc::new(GuestMemory::new(bytes)?);
        let vm_fd_vcpu = fd.create_vcpu(0).map_err(|e| KvmError::Kvm(format!("KVM_CREATE_VCPU: {e}")))?;
        let vm = Vm { vcpu: Arc::new(Mutex::new(vm_fd_vcpu)), fd, mem, logging: false };
        let mut vm = vm;
        vm.set_logging(dirty_log)?;
        Ok(vm)
    }
    /// Registers slot 0, with or without dirty logging (re-registering toggles it and, when
    /// turned on, starts from a clean log).
    pub fn set_logging(&mut self, on: bool) -> Result<(), KvmError> {
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: if on { kvm_bindings::KVM_MEM_LOG_DIRTY_PAGES } else { 0 },
            guest_phys_addr: 0,
            memory_size: self.mem.len() as u64,
            userspace_addr: self.mem.host_addr(),
        };
        // SAFETY: the region is this VM's own mapping, which outlives the VM (field order).
        unsafe { self.fd.set_user_memory_region(region) }.map_err(|e| KvmError::Kvm(format!("KVM_SET_USER_MEMORY_REGION: {e}")))?;
        self.logging = on;
        Ok(())
    }
    /// Fetches and clears KVM's dirty log: one bit per page, 64 pages a word.
    pub fn dirty_log(&self) -> Result<Vec<u64>, KvmError> {
        if !self.logging {
            return Err(KvmError::Kvm("dirty logging is off".into()));
        }
        self.fd.get_dirty_log(0, self.mem.len()).map_err(|e| KvmError::Kvm(format!("KVM_GET_DIRTY_LOG: {e}")))
    }
    /// The guest memory.
    pub fn memory(&self) -> &Arc<GuestMemory> {
        &self.mem
    }
    /// The vCPU (locked by the runner thread while the guest runs a batch).
    pub fn vcpu(&self) -> &Arc<Mutex<VcpuFd>> {
        &self.vcpu
    }

    /// Loads the guest program and sets the vCPU to start it: identity page tables (2 MiB user
    /// pages over the first GiB), a GDT, 64-bit long mode at CPL3 with IOPL 3, `rsi` =
    /// parameter block, `rbx` = a `seed`-derived LCG state.
    pub fn boot(&self, layout: Layout, seed: u64) -> Result<(), KvmError> {
        if layout.pages * PAGE as u64 > super::guest::MAX_MEMORY {
            return Err(KvmError::Unsupported("vm.memory: the KVM guest maps at most 1 GiB: accepted up to 1 GiB".into()));
        }
        let m = &self.mem;
        m.write(layout.code as usize, GUEST_CODE);
        let (pml4, pdpt, pd, gdt) = (layout.tables, layout.tables + 4096, layout.tables + 8192, layout.tables + 12288);
        let w64 = |a: u64, v: u64| m.write(a as usize, &v.to_le_bytes());
        w64(pml4, pdpt | 0x7); // present, writable, user
        w64(pdpt, pd | 0x7);
        for i in 0..512u64 {
            w64(pd + i * 8, (i << 21) | 0x87); // present, writable, user, 2 MiB page
        }
        // GDT: null, kernel code (0x08), kernel data (0x10), user data (0x1b), user code (0x23).
        w64(gdt + 8, 0x00af_9a00_0000_ffff);
        w64(gdt + 16, 0x00cf_9200_0000_ffff);
        w64(gdt + 24, 0x00cf_f200_0000_ffff);
        w64(gdt + 32, 0x00af_fa00_0000_ffff);
        let vcpu = self.vcpu.lock().expect("vcpu lock");
        let e = |what: &str, err: kvm_ioctls::Error| KvmError::Kvm(format!("{what}: {err}"));
        let mut sregs = vcpu.get_sregs().map_err(|x| e("KVM_GET_SREGS", x))?;
        let seg = |selector: u16, type_: u8, l: u8, db: u8| kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector,
            type_,
            present: 1,
            dpl: 3,
            db,
            s: 1,
            l,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        sregs.cs = seg(0x23, 0xb, 1, 0);
        for s in [&mut sregs.ds, &mut sregs.es, &mut sregs.fs, &mut sregs.gs, &mut sregs.ss] {
            *s = seg(0x1b, 0x3, 0, 1);
        }
        // A (never used) 64-bit TSS so the task register is valid.
        sregs.tr = kvm_segment {
            base: gdt + 0x800,
            limit: 0x67,
            selector: 0x28,
            type_: 0xb,
            present: 1,
            dpl: 0,
            db: 0,
            s: 0,
            l: 0,
            g: 0,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        sregs.gdt.base = gdt;
        sregs.gdt.limit = 0x2f;
        sregs.cr3 = pml4;
        sregs.cr4 = 0x20; // PAE
        sregs.cr0 = 0x8005_0033; // PG | WP | NE | ET | MP | PE
        sregs.efer = 0x500; // LME | LMA
        vcpu.set_sregs(&sregs).map_err(|x| e("KVM_SET_SREGS", x))?;
        let regs = kvm_regs {
            rip: layout.code,
            rsp: layout.stack_top(),
            rsi: layout.params,
            rbx: (seed ^ (seed >> 32)) & 0xffff_ffff | 1,
            rflags: 0x3002, // IOPL 3: `out` is allowed at CPL3
            ..Default::default()
        };
        vcpu.set_regs(&regs).map_err(|x| e("KVM_SET_REGS", x))?;
        Ok(())
    }
}

/// What the runner thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Run,
    Pause,
    Quit,
}

#[derive(Debug)]
struct Ctl {
    want: Want,
    /// Park when this many batches are done.
    stop_at: Option<u64>,
    parked: bool,
    plan: PlanState,
    error: Option<String>,
    /// Whether the thread has exited.
    done: bool,
}

/// Counters the runner publishes while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Batches done.
    pub batches: AtomicU64,
    /// Writes done.
    pub writes: AtomicU64,
    /// Reads done.
    pub reads: AtomicU64,
    /// Index of the phase running.
    pub phase: AtomicU64,
    /// Nominal guest seconds done (f64 bits).
    pub guest_time: AtomicU64,
    /// Batches that finished later than the pacing asked (the guest could not keep the rate).
    pub late_batches: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    ctl: Mutex<Ctl>,
    cv: Condvar,
    /// vCPU throttle fraction (f64 bits): guest time runs at `1 - throttle` of wall time.
    throttle: AtomicU64,
    progress: Progress,
}

/// The thread running one VM's vCPU batch by batch.
#[derive(Debug)]
pub struct Runner {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Runner {
    /// Starts running `vm`'s vCPU from `plan` (the guest must be booted or restored). With
    /// `paced`, each batch takes its nominal time (stretched by the throttle); without, the guest
    /// runs as fast as it can (the reference run of the continuation check). `stop_at` parks the
    /// vCPU when that many batches are done.
    pub fn start(vm: &Vm, planner: Planner, plan: PlanState, paced: bool, stop_at: Option<u64>) -> Runner {
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Ctl { want: Want::Run, stop_at, parked: false, plan, error: None, done: false }),
            cv: Condvar::new(),
            throttle: AtomicU64::new(0f64.to_bits()),
            progress: Progress::default(),
        });
        shared.progress.batches.store(plan.batch, Ordering::Relaxed);
        shared.progress.writes.store(plan.writes, Ordering::Relaxed);
        shared.progress.reads.store(plan.reads, Ordering::Relaxed);
        shared.progress.guest_time.store(plan.guest_time.to_bits(), Ordering::Relaxed);
        let (vcpu, mem, s) = (vm.vcpu.clone(), vm.mem.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("vcpu0".into())
            .spawn(move || run_loop(&s, &vcpu, &mem, &planner, paced))
            .expect("spawning the vCPU thread");
        Runner { shared, thread: Some(thread) }
    }

    /// Asks the vCPU to stop at its next batch exit and waits until it has; returns the plan
    /// state at that point. Fails if the guest failed.
    pub fn pause(&self) -> Result<PlanState, KvmError> {
        let mut g = self.shared.ctl.lock().expect("ctl lock");
        if g.want == Want::Run {
            g.want = Want::Pause;
        }
        self.shared.cv.notify_all();
        while !g.parked && !g.done {
            g = self.shared.cv.wait(g).expect("ctl lock");
        }
        match &g.error {
            Some(e) => Err(KvmError::Guest(e.clone())),
            None => Ok(g.plan),
        }
    }

    /// Waits until the vCPU parks by itself (at its `stop_at` batch, or on an error), at most
    /// `timeout`.
    pub fn wait_parked(&self, timeout: Duration) -> Result<PlanState, KvmError> {
        let deadline = Instant::now() + timeout;
        let mut g = self.shared.ctl.lock().expect("ctl lock");
        while !g.parked && !g.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(KvmError::Guest(format!("the guest did not reach batch {:?} in {timeout:?}", g.stop_at)));
            }
            g = self.shared.cv.wait_timeout(g, left).expect("ctl lock").0;
        }
        match &g.error {
            Some(e) => Err(KvmError::Guest(e.clone())),
            None => Ok(g.plan),
        }
    }

    /// Lets a paused vCPU run again, parking at `stop_at` batches if given.
    pub fn resume(&self, stop_at: Option<u64>) {
        let mut g = self.shared.ctl.lock().expect("ctl lock");
        if g.want != Want::Quit {
            g.want = Want::Run;
            g.stop_at = stop_at;
        }
        self.shared.cv.notify_all();
    }

    /// Sets the throttle (0 to 0.99).
    pub fn set_throttle(&self, fraction: f64) {
        self.shared.throttle.store(fraction.to_bits(), Ordering::Relaxed);
    }

    /// The published counters.
    pub fn progress(&self) -> &Progress {
        &self.shared.progress
    }

    /// Nominal guest seconds done.
    pub fn guest_time(&self) -> f64 {
        f64::from_bits(self.shared.progress.guest_time.load(Ordering::Relaxed))
    }

    /// The error that stopped the guest, if any.
    pub fn error(&self) -> Option<String> {
        self.shared.ctl.lock().expect("ctl lock").error.clone()
    }

    /// Stops the thread (after its current batch) and joins it.
    pub fn stop(&mut self) {
        {
            let mut g = self.shared.ctl.lock().expect("ctl lock");
            g.want = Want::Quit;
            self.shared.cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_plan(mem: &GuestMemory, planner: &Planner, b: &BatchPlan) {
    let base = planner.layout().params;
    if b.new_phase {
        let p = &planner.phases()[b.phase];
        mem.write_u32(base + param::PICK, p.pick);
        mem.write_u32(base + param::WS_START, p.ws_start);
        mem.write_u32(base + param::WS_LEN, p.ws_len);
        mem.write_u32(base + param::HOT_LEN, p.hot_len);
        mem.write_u32(base + param::COLD_LEN, p.ws_len - p.hot_len);
        mem.write_u32(base + param::HOT_THRESHOLD, p.hot_threshold);
        mem.write_u32(base + param::SEQ, 0);
    }
    mem.write_u32(base + param::WRITES, b.writes);
    mem.write_u32(base + param::READS, b.reads);
}

fn run_loop(s: &Shared, vcpu: &Mutex<VcpuFd>, mem: &GuestMemory, planner: &Planner, paced: bool) {
    let mut due = Instant::now();
    loop {
        let plan = {
            let mut g = s.ctl.lock().expect("ctl lock");
            if g.stop_at.is_some_and(|n| g.plan.batch >= n) && g.want == Want::Run {
                g.want = Want::Pause;
            }
            if g.want != Want::Run {
                g.parked = true;
                s.cv.notify_all();
                while g.want == Want::Pause {
                    g = s.cv.wait(g).expect("ctl lock");
                }
                g.parked = false;
                if g.want == Want::Quit {
                    break;
                }
                due = Instant::now();
                continue;
            }
            let mut next = g.plan;
            let b = planner.next(&mut next);
            (b, next)
        };
        let (b, next) = plan;
        write_plan(mem, planner, &b);
        let result = {
            let mut v = vcpu.lock().expect("vcpu lock");
            loop {
                match v.run() {
                    Ok(VcpuExit::IoOut(BATCH_PORT, _)) => break Ok(()),
                    Ok(other) => break Err(format!("unexpected vCPU exit {other:?}")),
                    // A signal interrupted KVM_RUN: the guest has not reached its batch exit yet.
                    Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                    Err(e) => break Err(format!("KVM_RUN: {e}")),
                }
            }
        };
        let mut g = s.ctl.lock().expect("ctl lock");
        if let Err(e) = result {
            g.error = Some(e);
            g.parked = true;
            break;
        }
        g.plan = next;
        drop(g);
        let p = &s.progress;
        p.batches.store(next.batch, Ordering::Relaxed);
        p.writes.store(next.writes, Ordering::Relaxed);
        p.reads.store(next.reads, Ordering::Relaxed);
        p.phase.store(b.phase as u64, Ordering::Relaxed);
        p.guest_time.store(next.guest_time.to_bits(), Ordering::Relaxed);
        if paced {
            let throttle = f64::from_bits(s.throttle.load(Ordering::Relaxed)).clamp(0.0, 0.99);
            due += Duration::from_secs_f64(b.duration / (1.0 - throttle));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else if now - due > Duration::from_millis(20) {
                // The guest cannot keep the rate: do not build up a debt of batches.
                p.late_batches.fetch_add(1, Ordering::Relaxed);
                due = now;
            }
        }
    }
    let mut g = s.ctl.lock().expect("ctl lock");
    g.done = true;
    s.cv.notify_all();
}

#[cfg(test)]
mod tests {
    use super::{GuestMemory, VcpuState, PAGE};
    use crate::kvm::guest::Layout;

    #[test]
    fn an_all_zero_cpu_state_cannot_run_the_guest() {
        let zero = VcpuState::from_bytes(&vec![0u8; VcpuState::wire_bytes() as usize]).unwrap();
        let e = zero.check_guest(&Layout::new(256, 256)).unwrap_err();
        assert_eq!(e.to_string(), "State.sregs.cr0: 0x0: accepted PE and PG set (the guest runs in 64-bit long mode)");
    }

    #[test]
    fn page_copies_move_exactly_the_pages_asked_for() {
        let pages = 300u64;
        let (src, dst) = (GuestMemory::new(pages as usize * PAGE).unwrap(), GuestMemory::new(pages as usize * PAGE).unwrap());
        src.populate();
        for p in 0..pages {
            let bytes: Vec<u8> = (0..PAGE).map(|i| (p as usize * 31 + i * 7) as u8).collect();
            src.write(p as usize * PAGE, &bytes);
        }
        // Runs of one page, of many, at the start and at the very end of the memory.
        for (first, count) in [(0, 1), (5, 64), (100, 3), (299, 1)] {
            dst.copy_pages_from(&src, first, count);
        }
        let copied = |p: u64| [(0, 1), (5, 64), (100, 3), (299, 1)].iter().any(|&(f, c)| p >= f && p < f + c);
        let (mut a, mut b) = (vec![0u8; PAGE], vec![0u8; PAGE]);
        for p in 0..pages {
            src.read(p as usize * PAGE, &mut a);
            dst.read(p as usize * PAGE, &mut b);
            if copied(p) {
                assert_eq!(a, b, "page {p} was copied");
            } else {
                assert!(b.iter().all(|&x| x == 0), "page {p} was not asked for and stays zero");
            }
        }
    }
}
