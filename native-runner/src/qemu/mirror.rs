//! The simulator's side of a QEMU comparison: the scenario that describes what QEMU ran, on
//! this host, so that the simulated run and the real one can be held side by side.
//!
//! QEMU migrates over loopback, where the link is not what sets the pace: QEMU's one migration
//! thread is (it scans the dirty bitmap, checks each page for zeros, copies the page into its
//! buffer and runs the TCP stack's copy), and it shares this machine's two cores with the
//! guest's spinning vCPU and the destination's receiving thread. [`HostModel`] holds what that
//! costs here, measured by [`calibrate`] on two runs that are not among the ones compared: an
//! idle guest whose memory is all filled and one whose memory is all zero, both with
//! `max-bandwidth` out of the way. From them come the sending thread's rate
//! (`host.send_rate`), the zero check's rate (`host.zero_scan_rate`), the device state QEMU
//! sends in the downtime (`vm.state_size`) and the destination's time from the last byte to a
//! running guest (`vm.resume_overhead`). Nothing is fitted to the runs being compared.
//!
//! [`simulated_scenario`] then makes the scenario: the guest's memory, its first 4 MiB (the
//! guest program and page tables, zero but for a few pages) as free memory at the top, the
//! workload at the rates the guest achieved before the migration (its pacing clock is the TSC,
//! which under PVM can run a little slower than the host's), QEMU's 8-byte page header, no
//! priority channel for post-copy replies (`postcopy-preempt` is off by default in QEMU 7.2),
//! and the host model.

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
    /// Bytes per second QEMU's migration thread puts on the wire, pages and headers.
    pub send_rate: f64,
    /// Bytes per second of zero pages it checks and sends as flags.
    pub zero_scan_rate: f64,
    /// Bytes QEMU sends in the downtime besides pages (device state, section headers).
    pub state_bytes: u64,
    /// Seconds from the source's last byte to the destination guest running.
    pub resume_overhead_s: f64,
    /// Loopback TCP's bandwidth, bytes per second (the "link").
    pub link_bandwidth: f64,
}

/// The idle 512 MiB guest the calibration runs: `zero` is the fraction of zero pages.
fn calibration_scenario(zero: f64, memory: u64) -> Result<Scenario, QemuError> {
    let text = format!(
        "name = \"qemu-calibration\"\n[vm]\nmemory = \"{memory}\"\ncontent = {{ zero = {zero}, text = 0.0, structured = 0.0, random = {} }}\n\
         [workload]\npattern = \"idle\"\n[migration]\ntimeout = \"60 s\"\n[params.precopy]\nmax_bandwidth = \"{UNCAPPED}\"\ndowntime_limit = \"1 ms\"\n",
        1.0 - zero,
        memory = ByteSize(memory),
    );
    Scenario::from_toml_str(&text).map_err(|e| QemuError::host("building the calibration scenario", e.to_string()))
}

fn calibration_run(zero: f64, memory: u64, options: &QemuOptions) -> Result<QemuReport, QemuError> {
    let s = calibration_scenario(zero, memory)?;
    let c = config::config_for(&s, "precopy-qemu")?;
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

/// Measures [`HostModel`] with two idle guests of `memory` bytes (see the module docs);
/// `link_bandwidth` is loopback TCP's, measured by the caller.
pub fn calibrate(memory: u64, options: &QemuOptions, link_bandwidth: f64) -> Result<HostModel, QemuError> {
    let filled = calibration_run(0.0, memory, options)?;
    let zeros = calibration_run(1.0, memory, options)?;
    let ram = &filled.qemu.ram;
    let live_bytes = ram.transferred.saturating_sub(ram.downtime_bytes);
    let send_rate = live_bytes as f64 / live_seconds(&filled);
    let zram = &zeros.qemu.ram;
    let zero_scan_rate = (zram.duplicate * 4096) as f64 / live_seconds(&zeros);
    // The idle guest dirtied nothing: its downtime carried the state and the sections' framing.
    let state_bytes = ram.downtime_bytes;
    let guest_seen = filled.qemu.guest_seen_downtime_s.unwrap_or(0.0);
    let resume_overhead_s = (guest_seen - state_bytes as f64 / send_rate).max(0.0);
    Ok(HostModel { send_rate, zero_scan_rate, state_bytes, resume_overhead_s, link_bandwidth })
}

/// The scenario the simulator runs for QEMU's run `real` of `scenario` on a host measured as
/// `host` (see the module docs).
pub fn simulated_scenario(scenario: &Scenario, real: &QemuReport, host: &HostModel) -> Result<Scenario, QemuError> {
    let mut s = scenario.clone();
    let g = &real.qemu.guest;
    let reserved = super::guest::AREA_BASE;
    if s.vm.free_memory.0 + reserved < s.vm.memory.0 {
        s.vm.free_memory = ByteSize(s.vm.free_memory.0 + reserved);
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
    };
    s.validate().map_err(|e| QemuError::host("building the simulated scenario", e.to_string()))?;
    Ok(s)
}
