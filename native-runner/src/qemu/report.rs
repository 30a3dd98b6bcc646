//! What a QEMU migration measured: QEMU's own statistics (`query-migrate`, `qapi/migration.json`
//! `MigrationInfo`, `MigrationStats`, `XBZRLECacheStats`), the events it emitted, the guest's
//! side, the verification, and the core's [`Report`] built from them.
//!
//! [`QemuReport`] serialises as the core's report with one extra field, `qemu`, so `--json`
//! output parses as a [`Report`] (the core's struct ignores unknown fields).

use super::config::MigrationConfig;
use super::guest::Verification;
use livemig_core::context::RoundKind;
use livemig_core::report::{Report, RoundReport};
use serde::{Deserialize, Serialize};

/// `query-migrate`'s answer (the fields used here; QEMU 7.2).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct MigrationInfo {
    /// `none`, `setup`, `active`, `postcopy-active`, `completed`, `failed`, `cancelling`, `cancelled`, ...
    pub status: String,
    /// Milliseconds since the migration started (final once completed).
    pub total_time: Option<u64>,
    /// Milliseconds the VM was stopped (measured on the source, `migration.c`
    /// `migration_calculate_complete`).
    pub downtime: Option<u64>,
    /// QEMU's estimate while active.
    pub expected_downtime: Option<u64>,
    /// Milliseconds of set-up before the first byte of RAM.
    pub setup_time: Option<u64>,
    /// RAM statistics.
    pub ram: Option<RamStats>,
    /// XBZRLE cache statistics (with the capability).
    pub xbzrle_cache: Option<XbzrleStats>,
    /// Auto-converge's current throttle.
    pub cpu_throttle_percentage: Option<u64>,
    /// Why it failed.
    pub error_desc: Option<String>,
    /// Destination, post-copy with `postcopy-blocktime`: total ms vCPUs waited for pages.
    pub postcopy_blocktime: Option<u64>,
    /// Destination: the addresses it listens on.
    pub socket_address: Option<Vec<serde_json::Value>>,
}

/// `MigrationStats` (`ram` in `query-migrate`; counters in `migration/ram.c`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct RamStats {
    /// Bytes of RAM data sent (headers included).
    pub transferred: u64,
    /// Bytes still dirty.
    pub remaining: u64,
    /// Guest RAM bytes.
    pub total: u64,
    /// Pages sent as zero pages (`save_zero_page`).
    pub duplicate: u64,
    /// Pages sent whole.
    pub normal: u64,
    /// Their bytes.
    pub normal_bytes: u64,
    /// Pages dirtied per second (measured at each sync).
    pub dirty_pages_rate: u64,
    /// Throughput in Mbit/s.
    pub mbps: f64,
    /// Dirty-bitmap syncs (`migration_bitmap_sync`): 1 after set-up, +1 per pass.
    pub dirty_sync_count: u64,
    /// Pages the destination requested during post-copy.
    pub postcopy_requests: u64,
    /// Page size.
    pub page_size: u64,
    /// Bytes sent before post-copy started.
    pub precopy_bytes: u64,
    /// Bytes sent while the VM was stopped.
    pub downtime_bytes: u64,
    /// Bytes sent during post-copy.
    pub postcopy_bytes: u64,
    /// Bytes sent on multifd channels.
    pub multifd_bytes: u64,
}

/// `XBZRLECacheStats`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct XbzrleStats {
    /// Cache size in bytes.
    pub cache_size: u64,
    /// Bytes of XBZRLE-encoded pages sent.
    pub bytes: u64,
    /// Pages sent XBZRLE-encoded.
    pub pages: u64,
    /// Dirty pages not in the cache (sent whole).
    pub cache_miss: u64,
    /// Miss rate in the last period.
    pub cache_miss_rate: f64,
    /// Encoding rate in the last period.
    pub encoding_rate: f64,
    /// Pages whose encoding overflowed (sent whole).
    pub overflow: u64,
}

/// One point of the per-sync series: `query-migrate` when `dirty-sync-count` changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncSample {
    /// Seconds since the `migrate` command.
    pub t_s: f64,
    /// `dirty-sync-count`.
    pub dirty_sync_count: u64,
    /// `ram.transferred`.
    pub transferred: u64,
    /// `ram.remaining`.
    pub remaining: u64,
    /// `ram.dirty-pages-rate`.
    pub dirty_pages_rate: u64,
    /// Pages sent so far (whole, zero and XBZRLE).
    pub pages: u64,
    /// QEMU's status then.
    pub status: String,
    /// The guest's writes so far and when they were read (seconds since the `migrate`
    /// command), just after the sample; only with [`super::QemuOptions::sample_guest_writes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_writes: Option<(u64, f64)>,
}

/// A QMP event as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// "source" or "destination".
    pub side: &'static str,
    /// Event name.
    pub name: String,
    /// QEMU's timestamp, seconds since the `migrate` command (negative: before it).
    pub t_s: f64,
    /// Event data.
    pub data: serde_json::Value,
}

/// The guest's side.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct GuestStats {
    /// Host TSC ticks per second (the guest's pacing clock).
    pub tsc_hz: u64,
    /// The guest's TSC ticks per second of host wall time, before the migration.
    pub guest_tsc_hz: f64,
    /// Writes per second asked for.
    pub write_rate: f64,
    /// Writes per second achieved before the migration (wall clock).
    pub achieved_write_rate: f64,
    /// Reads per second asked for.
    pub read_rate: f64,
    /// Reads per second achieved before the migration.
    pub achieved_read_rate: f64,
    /// Seconds from QEMU's start to the guest running its workload.
    pub boot_s: f64,
    /// The guest's write counter at the `migrate` command.
    pub writes_at_start: u64,
    /// Times the guest fell behind its schedule and restarted it (by the check).
    pub late: u64,
    /// Pages the guest filled at boot (the rest of the used area is zero).
    pub filled_pages: u64,
    /// Pages in the used area.
    pub used_pages: u64,
}

/// After the check the guest is resumed: does it keep running?
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Continuation {
    /// Write counter right after `cont`.
    pub writes_before: u64,
    /// Write counter a moment later.
    pub writes_after: u64,
    /// Heartbeat right after `cont`.
    pub heartbeat_before: u64,
    /// Heartbeat a moment later.
    pub heartbeat_after: u64,
    /// The moment, in seconds.
    pub interval_s: f64,
    /// The heartbeat advanced, and so did the writes if the workload writes.
    pub ok: bool,
}

/// QEMU-specific results, beside the core's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QemuDetails {
    /// QEMU's version.
    pub qemu_version: String,
    /// What QEMU was told.
    pub config: MigrationConfig,
    /// Guest RAM in bytes.
    pub memory: u64,
    /// QEMU's final migration status on the source.
    pub status: String,
    /// QEMU's `total-time` in seconds.
    pub total_time_s: Option<f64>,
    /// QEMU's `downtime` in seconds (the source's measure).
    pub downtime_s: Option<f64>,
    /// The downtime the guest saw: source `STOP` event to destination `RESUME` event.
    pub guest_seen_downtime_s: Option<f64>,
    /// QEMU's `setup-time` in seconds.
    pub setup_time_s: Option<f64>,
    /// Final RAM statistics.
    pub ram: RamStats,
    /// Final XBZRLE statistics (XBZRLE only).
    pub xbzrle: Option<XbzrleStats>,
    /// When `migrate-start-postcopy` was sent (seconds since `migrate`), if it was.
    pub postcopy_started_s: Option<f64>,
    /// Destination: ms vCPUs waited for post-copy pages, in seconds.
    pub postcopy_blocktime_s: Option<f64>,
    /// Highest auto-converge throttle seen, percent.
    pub max_throttle_pct: u64,
    /// The migration hit the scenario's timeout.
    pub timed_out: bool,
    /// QEMU's error, if it failed.
    pub error: Option<String>,
    /// The per-sync series.
    pub per_sync: Vec<SyncSample>,
    /// QMP events of both sides.
    pub events: Vec<EventRecord>,
    /// The guest.
    pub guest: GuestStats,
    /// The page-by-page check (on the destination; on the source after a cancel).
    pub verification: Option<Verification>,
    /// The guest kept running after the check.
    pub continuation: Option<Continuation>,
}

/// A QEMU run's report: the core's, plus `qemu`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QemuReport {
    /// The core's report.
    #[serde(flatten)]
    pub report: Report,
    /// QEMU's details.
    pub qemu: QemuDetails,
}

/// Pages sent in any form.
pub fn pages_sent(ram: &RamStats, xbzrle: Option<&XbzrleStats>) -> u64 {
    ram.normal + ram.duplicate + xbzrle.map_or(0, |x| x.pages)
}

/// The core report's fields from QEMU's figures. Rounds are the intervals between the samples
/// of the per-sync series from the end of the first pass on (QEMU's dirty syncs, as seen by polling every 25 ms, so two syncs
/// within one poll make one round), then a last round from the last sample to completion: the
/// stop-and-copy (with whatever pass was still running), or the post-copy phase. `stop_s` is the source's `STOP` event and
/// `resume_s` the destination's `RESUME`, in seconds since `migrate`.
#[allow(clippy::too_many_arguments)]
pub fn core_report(
    scenario: &livemig_core::Scenario,
    d: &QemuDetails,
    stop_s: Option<f64>,
    completed: bool,
    verified: bool,
    stop_reason: String,
    guest_writes: u64,
) -> Report {
    let ram = &d.ram;
    let total = d.total_time_s.unwrap_or(0.0);
    let downtime = d.downtime_s.unwrap_or(0.0);
    let preparation = stop_s.unwrap_or(total).min(total);
    let pages = pages_sent(ram, d.xbzrle.as_ref());
    let page_size = ram.page_size.max(4096);
    let mut per_round = Vec::new();
    let mut prev = (0.0, 0u64, 0u64);
    // dirty-sync-count 1 is the set-up sync (ram.c ram_init_bitmaps): passes end at 2, 3, ...
    for (i, s) in d.per_sync.iter().filter(|s| s.dirty_sync_count >= 2).enumerate() {
        let kind = if s.status == "postcopy-active" { RoundKind::PostCopy } else { RoundKind::Live };
        per_round.push(RoundReport {
            round: i as u32 + 1,
            kind,
            start_s: prev.0,
            end_s: s.t_s,
            pages_sent: s.pages.saturating_sub(prev.1),
            bytes_sent: s.transferred.saturating_sub(prev.2),
            dirty_pages: s.remaining / page_size,
        });
        prev = (s.t_s, s.pages, s.transferred);
    }
    if completed {
        let kind = if d.postcopy_started_s.is_some() { RoundKind::PostCopy } else { RoundKind::StopAndCopy };
        per_round.push(RoundReport {
            round: per_round.len() as u32 + 1,
            kind,
            start_s: prev.0,
            end_s: total.max(prev.0),
            pages_sent: pages.saturating_sub(prev.1),
            bytes_sent: ram.transferred.saturating_sub(prev.2),
            dirty_pages: 0,
        });
    }
    let progress = if scenario.workload.write_rate.0 > 0.0 {
        guest_writes as f64 / scenario.workload.write_rate.0
    } else {
        (total - downtime).max(0.0)
    };
    Report {
        algorithm: d.config.algorithm.clone(),
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        total_time_s: total,
        downtime_s: downtime,
        preparation_time_s: preparation,
        resume_time_s: if completed { (total - preparation - downtime).max(0.0) } else { 0.0 },
        pages_sent: pages,
        bytes_sent: ram.transferred,
        payload_bytes: ram.normal_bytes + d.xbzrle.as_ref().map_or(0, |x| x.bytes),
        duplicate_pages: pages.saturating_sub(ram.total / page_size),
        rounds: per_round.len() as u32,
        network_faults: ram.postcopy_requests,
        fault_stall_s: d.postcopy_blocktime_s.unwrap_or(0.0),
        converged: completed && !d.timed_out,
        completed,
        verified,
        stop_reason,
        dropped_pages: 0,
        zero_pages: ram.duplicate,
        max_throttle: d.max_throttle_pct as f64 / 100.0,
        guest_progress_s: progress,
        guest_writes,
        withdrawals: None,
        waiting_time_s: None,
        task_delay_s: None,
        per_round,
    }
}
