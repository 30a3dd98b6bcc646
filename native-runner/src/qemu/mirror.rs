//! The simulator's side of a QEMU comparison: the scenario that describes what QEMU ran, on
//! this host, so that the simulated run and the real one can be held side by side.
//!
//! QEMU migrates over loopback, where the link is not what sets the pace: QEMU's one migration
//! thread is (it scans the dirty bitmap, checks each page for zeros, copies the page into its
//! buffer and runs the TCP stack's copy), and it shares this machine's two cores with the
//! guest's spinning vCPU and the destination's receiving thread. [`HostModel`] holds what that
//! costs here, measured by [`calibrate`] on two runs that are not among the ones compared: an
//! idle guest whose memory is all filled and one whose memory is all zero (three of each, the
//! median kept), both with
//! `max-bandwidth` out of the way. From them come the sending thread's rate
//! (`host.send_rate`), the zero check's rate (`host.zero_scan_rate`), the device state QEMU
//! sends in the downtime (`vm.state_size`), the destination's time from the last byte to a
//! running guest (`vm.resume_overhead`), and, from the same filled guests migrated with
//! `postcopy-ram` set, the destination's rate of placing pages into memory it has just
//! discarded (`host.first_touch_rate`, which the post-copy comparisons use: QEMU's destination
//! discards its RAM when such a migration starts). A probe of the kernel's `madvise` gives what
//! the destination's discard costs at the switch to post-copy (`host.discard_range_time`,
//! `host.discard_page_time`), and the same idle guests switched to post-copy at once give its
//! fixed cost (`host.postcopy_switch_time`: their guest-seen downtime less the pre-copy runs').
//! A guest that writes its pages in order far faster than it can while dirty logging traps each
//! write gives what a write fault costs it (`host.dirty_fault_time`, [`measure_dirty_fault`]).
//! Nothing is fitted to the runs being compared.
//!
//! [`simulated_scenario`] then makes the scenario: the guest's memory, its first 4 MiB (the
//! guest program and page tables, zero but for a few pages) as reserved memory at the bottom
//! (`vm.reserved_memory`: QEMU's scan sends those zero pages first), the
//! workload at the rates the guest achieved before the migration (its pacing clock is the TSC,
//! which under PVM can run a little slower than the host's), QEMU's 8-byte page header, no
//! priority channel for post-copy replies (`postcopy-preempt` is off by default in QEMU 7.2),
//! and the host model.

use super::crosscheck::median;
use super::report::QemuReport;
use super::{config, run, QemuError, QemuOptions};
use livemig_core::scenario::HostSpec;
use livemig_core::units::{Bandwidth, ByteSize, PageRate, Seconds};
use livemig_core::Scenario;
use serde::Serialize;

/// QEMU's `max-bandwidth` for the calibration runs: far above what one thread can send. Their
/// `downtime-limit` is 1 ms, so that memory goes live (a 300 ms limit at this speed would let
/// QEMU stop the guest with a third of its memory still to send) and the downtime carries the
/// device state alone.
const UNCAPPED: &str = "1000 Gbit/s";

/// What QEMU's sender costs on this host (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostModel {
    /// This host's CPUs, shared by both QEMUs' threads and the guest's vCPU.
    pub cores: u32,
    /// Bytes per second QEMU's migration thread puts on the wire, pages and headers, with a CPU
    /// to itself (the calibration measures it with the guest's vCPU spinning beside it, and
    /// divides by the share of a CPU it had: `host.cores` / (1 vCPU + 1 sending + 1 receiving
    /// thread)).
    pub send_rate: f64,
    /// Bytes per second of zero pages it checks and sends as flags, likewise with a CPU to
    /// itself.
    pub zero_scan_rate: f64,
    /// Bytes QEMU sends in the downtime besides pages (device state, section headers).
    pub state_bytes: u64,
    /// Seconds from the source's last byte to the destination guest running.
    pub resume_overhead_s: f64,
    /// Loopback TCP's bandwidth, bytes per second (the "link").
    pub link_bandwidth: f64,
    /// Bytes per second the destination places pages into memory it has not touched, with a
    /// CPU to itself: measured on filled idle guests migrated with `postcopy-ram` set (QEMU's
    /// destination then discards its RAM when the migration starts, preallocated or not) and
    /// post-copy never started.
    pub first_touch_rate: f64,
    /// Seconds per range and per page the kernel takes to discard ranges of touched guest
    /// memory, as QEMU's destination does at the switch to post-copy ([`measure_discard`]).
    pub discard_range_s: f64,
    /// See `discard_range_s`.
    pub discard_page_s: f64,
    /// Seconds the switch to post-copy adds to the downtime whatever is discarded: the
    /// guest-seen downtime of filled idle guests switched to post-copy before the first pass
    /// (nothing sent yet, so nothing to discard) less that of the pre-copy runs (the same
    /// device state, and no page left for the downtime either). QEMU's destination registers
    /// the guest's RAM with userfaultfd, starts its fault thread and loads the device state from
    /// the package before the guest runs (`loadvm_postcopy_handle_listen()`,
    /// `loadvm_postcopy_handle_run_bh()`).
    pub postcopy_switch_s: f64,
    /// Seconds the guest's vCPU loses per write fault of dirty logging: the first write to a
    /// page after each sync of the dirty log traps into KVM, which marks the page dirty and
    /// makes it writable again ([`measure_dirty_fault`]). 0 where the probe's guest kept up.
    pub dirty_fault_s: f64,
}

/// The idle 512 MiB guest the calibration runs: `zero` is the fraction of zero pages. With
/// `postcopy_passes` = [`NEVER`], post-copy is never started in it (more passes than an idle
/// guest needs), so that a run with `postcopy-ram` set is a pre-copy into a discarded
/// destination; with 0 the switch comes before the first pass.
fn calibration_scenario(zero: f64, memory: u64, postcopy_passes: u64) -> Result<Scenario, QemuError> {
    let text = format!(
        "name = \"qemu-calibration\"\n[vm]\nmemory = \"{memory}\"\ncontent = {{ zero = {zero}, text = 0.0, structured = 0.0, random = {} }}\n\
         [workload]\npattern = \"idle\"\n[migration]\ntimeout = \"60 s\"\n[params.precopy]\nmax_bandwidth = \"{UNCAPPED}\"\ndowntime_limit = \"1 ms\"\n\
         [params.postcopy-qemu]\nprecopy_passes = {postcopy_passes}\n",
        1.0 - zero,
        memory = ByteSize(memory),
    );
    Scenario::from_toml_str(&text).map_err(|e| QemuError::host("building the calibration scenario", e.to_string()))
}

/// `precopy_passes` of a calibration run that never switches to post-copy.
const NEVER: u64 = 10_000;

fn calibration_run(zero: f64, memory: u64, algorithm: &str, postcopy_passes: u64, options: &QemuOptions) -> Result<QemuReport, QemuError> {
    let s = calibration_scenario(zero, memory, postcopy_passes)?;
    let c = config::config_for(&s, algorithm)?;
    let r = run::migrate(&s, &c, options)?;
    if !r.report.completed {
        return Err(QemuError::host("calibrating", format!("the idle guest's migration did not complete: {}", r.report.stop_reason)));
    }
    Ok(r)
}

/// Seconds QEMU spent sending memory live: its total time less set-up and downtime.
fn live_seconds(r: &QemuReport) -> f64 {
    let d = &r.qemu;
    (d.total_time_s.unwrap_or(0.0) - d.setup_time_s.unwrap_or(0.0) - d.downtime_s.unwrap_or(0.0)).max(1e-3)
}

/// Calibration runs of each kind; the median is kept (one run on this noisy machine can be a
/// third as fast as the next).
pub const CALIBRATION_RUNS: usize = 3;

/// QEMU migrations [`calibrate`] makes: a warm-up, then [`CALIBRATION_RUNS`] of each of its five
/// kinds (filled pre-copy, filled with `postcopy-ram`, filled switched to post-copy at once,
/// zero, and the dirty-fault probe: [`measure_dirty_fault`]).
pub const CALIBRATION_MIGRATIONS: usize = 5 * CALIBRATION_RUNS + 1;

/// Measures [`HostModel`] with idle guests of `memory` bytes: one filled guest to warm up, then
/// [`CALIBRATION_RUNS`] filled guests back to back (as the compared runs come), then as many
/// zero guests (see the module docs); `link_bandwidth` is loopback TCP's, measured by the
/// caller.
///
/// Why the warm-up and the order: this machine is itself a VM whose kernel reports freed memory
/// to its host (`page_reporting`, on the kernel command line), and memory the host has taken
/// back is slow to touch again. A QEMU destination writes every page it receives into memory it
/// has just allocated, so a migration right after one that freed a guest's worth of memory runs
/// up to three times as fast as one after a pause or after a zero guest (which allocates almost
/// nothing): 1.0 to 1.5 GB/s against 0.33 to 0.6 GB/s, measured. The compared runs come back to
/// back, so the calibration does too.
pub fn calibrate(memory: u64, options: &QemuOptions, link_bandwidth: f64, cores: u32) -> Result<HostModel, QemuError> {
    let (mut send, mut zero, mut state, mut resume, mut touch) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut precopy_seen, mut switch_seen) = (Vec::new(), Vec::new());
    calibration_run(0.0, memory, "precopy-qemu", NEVER, options)?;
    for _ in 0..CALIBRATION_RUNS {
        let filled = calibration_run(0.0, memory, "precopy-qemu", NEVER, options)?;
        let ram = &filled.qemu.ram;
        send.push(ram.transferred.saturating_sub(ram.downtime_bytes) as f64 / live_seconds(&filled));
        // The idle guest dirtied nothing: its downtime carried the state and the sections'
        // framing, and what the guest saw beyond QEMU's own downtime is the destination's work.
        let d = &filled.qemu;
        resume.push((d.guest_seen_downtime_s.unwrap_or(0.0) - d.downtime_s.unwrap_or(0.0)).max(0.0));
        precopy_seen.push(d.guest_seen_downtime_s.unwrap_or(0.0));
        state.push(ram.downtime_bytes as f64);
    }
    // The same filled guests into a destination that discarded its memory: QEMU's
    // `postcopy-ram` capability does that when the migration starts (`postcopy-ram.c`,
    // `init_range()`), whether or not post-copy ever begins.
    for _ in 0..CALIBRATION_RUNS {
        let fresh = calibration_run(0.0, memory, "postcopy-qemu", NEVER, options)?;
        let ram = &fresh.qemu.ram;
        touch.push((ram.normal * 4096) as f64 / live_seconds(&fresh));
    }
    // The same filled guests switched to post-copy before the first pass.
    for _ in 0..CALIBRATION_RUNS {
        let switched = calibration_run(0.0, memory, "postcopy-qemu", 0, options)?;
        switch_seen.push(switched.qemu.guest_seen_downtime_s.unwrap_or(0.0));
    }
    for _ in 0..CALIBRATION_RUNS {
        let zeros = calibration_run(1.0, memory, "precopy-qemu", NEVER, options)?;
        zero.push((zeros.qemu.ram.duplicate * 4096) as f64 / live_seconds(&zeros));
    }
    let (discard_range_s, discard_page_s) = measure_discard(DISCARD_PROBE_BYTES)?;
    let dirty_fault_s = measure_dirty_fault(memory, options)?;
    // The calibration guests' one vCPU spins all the time, beside one sending and one receiving
    // thread.
    let share = HostSpec { cores: Some(cores), ..HostSpec::default() }.thread_share(1.0);
    Ok(HostModel {
        cores,
        send_rate: median(&send) / share,
        zero_scan_rate: median(&zero) / share,
        state_bytes: median(&state) as u64,
        resume_overhead_s: median(&resume),
        link_bandwidth,
        first_touch_rate: median(&touch) / share,
        discard_range_s,
        discard_page_s,
        postcopy_switch_s: (median(&switch_seen) - median(&precopy_seen)).max(0.0),
        dirty_fault_s,
    })
}

/// Writes a second the dirty-fault probe's guest asks for: far more than it can make while
/// each one faults (about 30,000 a second on this machine), so that it always lags.
const FAULT_PROBE_RATE: f64 = 200_000.0;

/// Measures what a write fault of dirty logging costs the guest: a guest writing its pages in
/// order over half of its memory, much faster than it can while they fault, migrated at QEMU's
/// default 128 MiB/s cap (the sending thread idles most of the time, so the vCPU has a CPU to
/// itself, as in the 128 MiB/s comparisons) until the timeout cancels it, [`CALIBRATION_RUNS`]
/// times.
///
/// After the first pass every round of QEMU's is a sync of the dirty log, which write-protects
/// every page; a writer that moves on to a new page at each write then faults at every write,
/// until it comes round to the pages it wrote since the sync. The runner reads the guest's
/// write counter at each sync it sees ([`QemuOptions::sample_guest_writes`]); between two of
/// those reads after the first pass, while the guest made fewer writes than its working set
/// has pages (it did not come round), every write faulted, and its writes a second are the
/// faults a second the vCPU managed ([`faults_per_second`]). The median over the rounds of all
/// the runs is kept, and its inverse is the cost of one. A guest that kept up everywhere (no
/// round qualifies) gives 0: faults were not what limited it.
pub fn measure_dirty_fault(memory: u64, options: &QemuOptions) -> Result<f64, QemuError> {
    let working_set = memory / 2;
    let text = format!(
        "name = \"qemu-dirty-fault-probe\"\n[vm]\nmemory = \"{}\"\ncontent = {{ zero = 0.0, text = 0.0, structured = 0.0, random = 1.0 }}\n\
         [workload]\npattern = \"sequential\"\nwrite_rate = \"{FAULT_PROBE_RATE} pages/s\"\nworking_set = \"{}\"\n\
         [migration]\ntimeout = \"10 s\"\non_timeout = \"cancel\"\n[params.precopy]\nmax_bandwidth = \"128 MiB/s\"\n",
        ByteSize(memory),
        ByteSize(working_set),
    );
    let s = Scenario::from_toml_str(&text).map_err(|e| QemuError::host("building the dirty-fault probe", e.to_string()))?;
    let c = config::config_for(&s, "precopy-qemu")?;
    let options = QemuOptions { sample_guest_writes: true, ..options.clone() };
    let mut rates = Vec::new();
    for _ in 0..CALIBRATION_RUNS {
        let r = run::migrate(&s, &c, &options)?;
        rates.extend(faults_per_second(&r.qemu.per_sync, working_set / 4096));
    }
    Ok(fault_cost(&rates))
}

/// The cost of one write fault from the faults a second of a probe's rounds (see
/// [`measure_dirty_fault`]): the inverse of their median, or 0 with none.
pub fn fault_cost(faults_per_second: &[f64]) -> f64 {
    if faults_per_second.is_empty() {
        0.0
    } else {
        1.0 / median(faults_per_second)
    }
}

/// The guest's writes a second between consecutive reads of its counter after the first pass,
/// from a probe's samples (see [`measure_dirty_fault`]); stretches where it made as many writes
/// as 90% of its working set's pages (it may have come round to its own pages) are left out.
///
/// The dirty log's own count would undercount: a page the guest writes while it is still
/// pending from an earlier round (the sender has not reached it) faults but sets no new bit in
/// QEMU's bitmap. An earlier version of this probe used that count: 27,300 to 29,700 new pages
/// a second on this machine, where the guest's writes give 29,200 to 32,800 faults a second.
pub fn faults_per_second(samples: &[super::report::SyncSample], working_set_pages: u64) -> Vec<f64> {
    let reads: Vec<(u64, f64)> = samples.iter().filter(|x| x.dirty_sync_count >= 2).filter_map(|x| x.guest_writes).collect();
    reads
        .windows(2)
        .filter_map(|w| {
            let (writes, seconds) = (w[1].0.saturating_sub(w[0].0), w[1].1 - w[0].1);
            let qualifies = writes > 0 && seconds > 0.0 && (writes as f64) < 0.9 * working_set_pages as f64;
            qualifies.then(|| writes as f64 / seconds)
        })
        .collect()
}

/// Memory [`measure_discard`] probes.
const DISCARD_PROBE_BYTES: usize = 64 << 20;

/// Measures what the destination's discard costs on this host, per range and per page: the
/// switch to post-copy makes QEMU's destination call `madvise(MADV_DONTNEED)` once per range
/// of stale pages (`loadvm_postcopy_ram_handle_discard()` → `ram_block_discard_range()`), on
/// memory it filled with transparent huge pages during pre-copy and marked `MADV_NOHUGEPAGE`
/// just before (`postcopy_ram_prepare_discard()`), so each range may split a huge page.
///
/// The probe does the same to `bytes` of memory twice, filled anew each time: once with every
/// other page a range of its own, once with runs of 64 pages (the same pages discarded, 64
/// times fewer ranges). The difference gives the cost per range, the rest the cost per page.
/// The median of three probes is kept.
pub fn measure_discard(bytes: usize) -> Result<(f64, f64), QemuError> {
    use crate::kvm::vm::GuestMemory;
    let pages = bytes / 4096;
    let probe = |run: usize| -> Result<(f64, u64), QemuError> {
        let failed = |e: crate::kvm::KvmError| QemuError::host("measuring the discard cost", e.to_string());
        let memory = GuestMemory::new(bytes).map_err(failed)?;
        memory.populate();
        // Huge pages off, as `postcopy_ram_prepare_discard()` does.
        memory.forbid_huge_pages();
        let (start, mut ranges) = (std::time::Instant::now(), 0u64);
        for first in (0..pages).step_by(2 * run) {
            memory.discard_pages(first as u64, run.min(pages - first) as u64).map_err(failed)?;
            ranges += 1;
        }
        Ok((start.elapsed().as_secs_f64(), ranges))
    };
    let (mut per_range, mut per_page) = (Vec::new(), Vec::new());
    for _ in 0..CALIBRATION_RUNS {
        let (single, single_ranges) = probe(1)?;
        let (runs, runs_ranges) = probe(64)?;
        // The same pages go in both (half of them); only the number of ranges differs.
        let range_s = ((single - runs) / (single_ranges - runs_ranges) as f64).max(0.0);
        per_range.push(range_s);
        per_page.push(((runs - range_s * runs_ranges as f64) / (pages / 2) as f64).max(0.0));
    }
    Ok((median(&per_range), median(&per_page)))
}

/// The scenario the simulator runs for QEMU's run `real` of `scenario` on a host measured as
/// `host` (see the module docs).
pub fn simulated_scenario(scenario: &Scenario, real: &QemuReport, host: &HostModel) -> Result<Scenario, QemuError> {
    let mut s = scenario.clone();
    let g = &real.qemu.guest;
    // The guest's first 4 MiB (its program and page tables), zero but for a few pages, at the
    // bottom, where QEMU's scan finds them first.
    let reserved = super::guest::AREA_BASE;
    if s.vm.free_memory.0 + reserved < s.vm.memory.0 {
        s.vm.reserved_memory = ByteSize(reserved);
    }
    s.vm.state_size = ByteSize(host.state_bytes.min(1 << 30));
    s.vm.resume_overhead = Seconds(host.resume_overhead_s.min(60.0));
    if g.write_rate > 0.0 {
        s.workload.write_rate = PageRate(g.achieved_write_rate);
    }
    if g.read_rate > 0.0 {
        s.workload.read_rate = PageRate(g.achieved_read_rate);
    }
    s.link.bandwidth = Bandwidth(host.link_bandwidth.min(1.25e12));
    s.link.latency = Seconds(20e-6);
    s.link.page_header = ByteSize(8);
    s.link.priority_channel = false;
    let threads = real.qemu.config.multifd_channels.unwrap_or(1).clamp(1, 256) as u32;
    s.host = HostSpec {
        send_rate: Some(Bandwidth(host.send_rate)),
        zero_scan_rate: Some(Bandwidth(host.zero_scan_rate)),
        send_threads: threads,
        cores: Some(host.cores),
        // The QEMU peer's guest has one vCPU, and it spins between its paced accesses.
        busy_vcpus: 1,
        // With `postcopy-ram` QEMU's destination discards its memory as the migration starts,
        // preallocated or not; otherwise the comparisons preallocate it.
        first_touch_rate: (real.qemu.config.mode == config::Mode::Postcopy).then_some(Bandwidth(host.first_touch_rate.clamp(1e3, 1.25e12))),
        discard_range_time: Some(Seconds(host.discard_range_s.min(1.0))),
        discard_page_time: Some(Seconds(host.discard_page_s.min(1.0))),
        postcopy_switch_time: Some(Seconds(host.postcopy_switch_s.min(1.0))),
        dirty_fault_time: (host.dirty_fault_s > 0.0).then_some(Seconds(host.dirty_fault_s.min(1.0))),
    };
    s.validate().map_err(|e| QemuError::host("building the simulated scenario", e.to_string()))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::report::SyncSample;
    use super::*;

    fn sample(t_s: f64, sync: u64, pages: u64, remaining_pages: u64, guest_writes: Option<u64>) -> SyncSample {
        SyncSample {
            t_s,
            dirty_sync_count: sync,
            transferred: pages * 4104,
            remaining: remaining_pages * 4096,
            dirty_pages_rate: 0,
            pages,
            status: "active".into(),
            // Read 10 ms after the sample.
            guest_writes: guest_writes.map(|w| (w, t_s + 0.01)),
        }
    }

    #[test]
    fn the_fault_cost_is_the_inverse_of_the_guests_writes_a_second_after_the_first_pass() {
        // Sync 2 ends the first pass. By sync 3, 2 s later, the guest made 56,000 writes: 28,000
        // a second. By sync 4, 1.5 s later, 42,000: 28,000 a second. The dirty log found fewer
        // new pages (52,000 and 39,000: the writer passed over pages still pending), which the
        // estimate does not use.
        let samples = [
            sample(0.02, 1, 1_000, 130_000, Some(1_000)),
            sample(3.70, 2, 120_000, 60_000, Some(400_000)),
            sample(5.70, 3, 170_000, 62_000, Some(456_000)),
            sample(7.20, 4, 210_000, 61_000, Some(498_000)),
        ];
        let rates = faults_per_second(&samples, 65_536);
        assert_eq!(rates.len(), 2);
        assert!(rates.iter().all(|r| (r - 28_000.0).abs() < 1e-6), "{rates:?}");
        assert!((fault_cost(&rates) - 1.0 / 28_000.0).abs() < 1e-12);
    }

    #[test]
    fn rounds_where_the_writer_came_round_and_a_guest_that_kept_up_give_no_cost() {
        // 64,000 writes over a 65,536-page working set: the writer may have come round, so its
        // pace says nothing about faults; with no round left, faults cost nothing. Samples
        // without the guest's counter give no rate either.
        let samples = [sample(3.70, 2, 120_000, 60_000, Some(0)), sample(5.70, 3, 170_000, 74_000, Some(64_000))];
        assert!(faults_per_second(&samples, 65_536).is_empty());
        let unread = [sample(3.70, 2, 120_000, 60_000, None), sample(5.70, 3, 170_000, 62_000, None)];
        assert!(faults_per_second(&unread, 65_536).is_empty());
        assert!(faults_per_second(&[], 65_536).is_empty());
        assert_eq!(fault_cost(&[]), 0.0);
    }
}
