//! Iterative pre-copy with three convergence policies.
//!
//! Round 1 sends every page while the VM runs; each later round sends the pages dirtied during
//! the previous one; when the policy says so, the VM is paused and the rest is sent with the CPU
//! state (stop-and-copy). Clark et al., "Live Migration of Virtual Machines", NSDI 2005.
//!
//! Policies (`policy`):
//!
//! * **`xen`** — Xen's classic `xc_domain_save.c` [C]: at most `xen_max_iters` (29) live rounds,
//!   then a final one; stop when the round just finished started with fewer than
//!   `xen_min_pages` (50) dirty pages (sent + skipped: one round of lag against the
//!   "remaining < threshold" formulation), or when more than `xen_max_factor` (3) x memory has
//!   been sent. Pages are visited in Xen's pseudo-random permutation in batches of 1024, and a
//!   page already re-dirtied when its batch is scanned (a `PEEK` of the log per batch) is skipped
//!   and left for the next round. For VMs smaller than 1024 pages the permutation rotates by half
//!   the address width instead of 10 bits (Xen's shift would be negative) [R].
//!   Optional Clark rate limiting (`rate_limit`) [S/M]: round 1 at `rate_min`, each later round
//!   at the previous round's dirty rate + `rate_increment`, capped at `rate_max`; pre-copy also
//!   stops when the rate is at its maximum and a round sent more than the one before; the final
//!   round runs at `rate_max` (Clark's text) — stock Xen builds did not define `ADAPTIVE_SAVE`,
//!   hence off by default.
//! * **`qemu`** — QEMU `migration/ram.c` [C]: bandwidth is measured over 100 ms windows; after
//!   every batch, when the bytes still to send are below `bandwidth x downtime_limit` (300 ms),
//!   the dirty log is synced and, if still below, the VM stops and the rest is sent. No round cap:
//!   a migration that never converges runs until the scenario's timeout. Optional auto-converge:
//!   when at a sync at least 1 s after the last check the bytes dirtied exceed
//!   `throttle_trigger` (50%) of the bytes sent, twice in a row, the vCPUs are throttled by
//!   `throttle_initial` (20%), then `throttle_increment` (10%) more each time, up to 99%.
//!   A "round" here is one pass over the dirty bitmap (QEMU's dirty-sync count also counts the
//!   extra syncs of the threshold check).
//! * **`cloud-hypervisor`** — Cloud Hypervisor's `vm-migration` [C]: after the full first copy,
//!   up to `ch_max_passes` (5) dirty passes; before each, if the dirty bytes divided by the last
//!   pass's bandwidth fit in `downtime_limit`, stop and copy.
//!
//! `zero_pages` sends all-zero pages as a one-byte flag (QEMU always does; `auto` = on for
//! `qemu` only). `self_ballooning` sends the guest's free-page list instead of its free pages
//! (Hines & Gopalan's DSB applied to pre-copy). At the scenario's timeout the migration is
//! cancelled (the VM stays on the source) or forced into stop-and-copy, per
//! `migration.on_timeout`; either way the report says `converged: false`.

use super::{Algorithm, ParamKind, ParamSpec, Params};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, MigrationContext, Outcome, RoundKind};
use crate::scenario::OnTimeout;

/// Declared parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "policy", kind: ParamKind::Choice(&["xen", "qemu", "cloud-hypervisor"]), default: "xen", help: "convergence policy" },
    ParamSpec {
        name: "xen_max_iters",
        kind: ParamKind::Int { min: 1, max: 10_000 },
        default: "29",
        help: "xen: live rounds before the final one",
    },
    ParamSpec {
        name: "xen_min_pages",
        kind: ParamKind::Int { min: 0, max: 1 << 40 },
        default: "50",
        help: "xen: stop when a round started with fewer dirty pages",
    },
    ParamSpec {
        name: "xen_max_factor",
        kind: ParamKind::Float { min: 1.0, max: 1000.0 },
        default: "3",
        help: "xen: stop after sending this many times memory",
    },
    ParamSpec {
        name: "skip_redirtied",
        kind: ParamKind::Bool,
        default: "true",
        help: "xen: skip pages already re-dirtied when their batch is scanned",
    },
    ParamSpec {
        name: "scan_order",
        kind: ParamKind::Choice(&["xen-permute", "linear"]),
        default: "xen-permute",
        help: "xen: page visiting order within a round",
    },
    ParamSpec {
        name: "batch_pages",
        kind: ParamKind::Int { min: 1, max: 1 << 20 },
        default: "1024",
        help: "pages per send batch (Xen MAX_BATCH_SIZE)",
    },
    ParamSpec { name: "rate_limit", kind: ParamKind::Bool, default: "false", help: "xen: Clark's adaptive rate limiting" },
    ParamSpec {
        name: "rate_min",
        kind: ParamKind::Bandwidth { min: 1e3, max: 1.25e12 },
        default: "100 Mbit/s",
        help: "xen: first-round rate",
    },
    ParamSpec {
        name: "rate_max",
        kind: ParamKind::Bandwidth { min: 1e3, max: 1.25e12 },
        default: "500 Mbit/s",
        help: "xen: rate cap, and the final round's rate",
    },
    ParamSpec {
        name: "rate_increment",
        kind: ParamKind::Bandwidth { min: 0.0, max: 1.25e12 },
        default: "50 Mbit/s",
        help: "xen: added to the dirty rate each round",
    },
    ParamSpec {
        name: "downtime_limit",
        kind: ParamKind::Duration { min: 1e-6, max: 3600.0 },
        default: "300 ms",
        help: "qemu, cloud-hypervisor: tolerated downtime",
    },
    ParamSpec {
        name: "auto_converge",
        kind: ParamKind::Bool,
        default: "false",
        help: "qemu: throttle vCPUs when dirtying outpaces sending",
    },
    ParamSpec {
        name: "throttle_initial",
        kind: ParamKind::Float { min: 0.01, max: 0.99 },
        default: "0.2",
        help: "qemu: first throttle step",
    },
    ParamSpec {
        name: "throttle_increment",
        kind: ParamKind::Float { min: 0.01, max: 0.99 },
        default: "0.1",
        help: "qemu: later throttle steps",
    },
    ParamSpec {
        name: "throttle_trigger",
        kind: ParamKind::Float { min: 0.01, max: 10.0 },
        default: "0.5",
        help: "qemu: dirtied/sent ratio that counts as too high",
    },
    ParamSpec {
        name: "ch_max_passes",
        kind: ParamKind::Int { min: 0, max: 10_000 },
        default: "5",
        help: "cloud-hypervisor: dirty passes after the first copy",
    },
    ParamSpec {
        name: "zero_pages",
        kind: ParamKind::Choice(&["auto", "on", "off"]),
        default: "auto",
        help: "send zero pages as a flag (auto: on for qemu)",
    },
    ParamSpec { name: "self_ballooning", kind: ParamKind::Bool, default: "false", help: "do not send the guest's free pages" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Xen,
    Qemu,
    CloudHypervisor,
}

/// Pre-copy migration (see the module docs).
#[derive(Debug, Clone)]
pub struct Precopy {
    policy: Policy,
    xen_max_iters: u64,
    xen_min_pages: u64,
    xen_max_factor: f64,
    skip_redirtied: bool,
    permute: bool,
    batch_pages: usize,
    rate_limit: Option<(f64, f64, f64)>,
    downtime_limit: f64,
    auto_converge: Option<(f64, f64, f64)>,
    ch_max_passes: u64,
    zero_pages: bool,
    self_ballooning: bool,
}

/// Builds pre-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let policy = match p.choice("policy") {
        "qemu" => Policy::Qemu,
        "cloud-hypervisor" => Policy::CloudHypervisor,
        _ => Policy::Xen,
    };
    Box::new(Precopy {
        policy,
        xen_max_iters: p.int("xen_max_iters") as u64,
        xen_min_pages: p.int("xen_min_pages") as u64,
        xen_max_factor: p.float("xen_max_factor"),
        skip_redirtied: p.bool("skip_redirtied"),
        permute: p.choice("scan_order") == "xen-permute",
        batch_pages: p.int("batch_pages") as usize,
        rate_limit: p.bool("rate_limit").then(|| (p.float("rate_min"), p.float("rate_max"), p.float("rate_increment"))),
        downtime_limit: p.float("downtime_limit"),
        auto_converge: p
            .bool("auto_converge")
            .then(|| (p.float("throttle_initial"), p.float("throttle_increment"), p.float("throttle_trigger"))),
        ch_max_passes: p.int("ch_max_passes") as u64,
        zero_pages: match p.choice("zero_pages") {
            "on" => true,
            "off" => false,
            _ => policy == Policy::Qemu,
        },
        self_ballooning: p.bool("self_ballooning"),
    })
}

/// Xen's `permute()`: a bit rotation of the page index within the address width, repeated
/// until it lands inside the VM (a bijection on `0..nr`).
pub fn xen_permute(i: u64, nr: u64, order: u32) -> u64 {
    if order == 0 {
        return i;
    }
    let rot = if order > 10 { 10 } else { order / 2 };
    let mask = if order == 64 { u64::MAX } else { (1u64 << order) - 1 };
    let mut i = i;
    loop {
        i = ((i >> (order - rot)) | (i << rot)) & mask;
        if i < nr {
            return i;
        }
    }
}

/// Sends a batch of pages, zero pages as flags when enabled.
pub(crate) fn send_batch(
    ctx: &mut dyn MigrationContext,
    batch: &[u64],
    zero_pages: bool,
    zeros: &mut Vec<u64>,
    full: &mut Vec<u64>,
) -> Result<(), ContextError> {
    if batch.is_empty() {
        return Ok(());
    }
    if !zero_pages {
        ctx.send_pages(batch, Channel::Bulk)?;
        return Ok(());
    }
    zeros.clear();
    full.clear();
    for &p in batch {
        if ctx.is_zero_page(p)? {
            zeros.push(p);
        } else {
            full.push(p);
        }
    }
    // Zero flags go first: the zero check and the send happen at the same instant, before the
    // full pages move the clock and the guest can write to a page that was zero.
    if !zeros.is_empty() {
        ctx.send_zero_pages(zeros)?;
    }
    if !full.is_empty() {
        ctx.send_pages(full, Channel::Bulk)?;
    }
    Ok(())
}

/// Shared pieces of every policy's run.
struct Run<'a> {
    ctx: &'a mut dyn MigrationContext,
    zero_pages: bool,
    batch_pages: usize,
    batch: Vec<u64>,
    zeros: Vec<u64>,
    full: Vec<u64>,
}

impl Run<'_> {
    fn send(&mut self) -> Result<(), ContextError> {
        send_batch(self.ctx, &self.batch, self.zero_pages, &mut self.zeros, &mut self.full)?;
        self.batch.clear();
        Ok(())
    }

    /// Sends every page of `set` in address order, in batches (the VM may be paused or not).
    fn send_set(&mut self, set: &PageBitmap) -> Result<(), ContextError> {
        for p in set.iter() {
            self.batch.push(p);
            if self.batch.len() == self.batch_pages {
                self.send()?;
            }
        }
        self.send()
    }

    /// Pause, send `remaining` plus whatever the log holds, send the state, resume.
    fn stop_and_copy(&mut self, mut remaining: PageBitmap) -> Result<(), ContextError> {
        self.ctx.begin_round(RoundKind::StopAndCopy);
        self.ctx.pause_source()?;
        remaining.union_with(&self.ctx.fetch_dirty()?);
        self.send_set(&remaining)?;
        self.ctx.send_state()?;
        self.ctx.resume_destination()?;
        self.ctx.end_round();
        Ok(())
    }

    /// Round 1's set: all pages, or all but the free ones (sending their list instead).
    fn first_round_set(&mut self, self_ballooning: bool) -> Result<PageBitmap, ContextError> {
        let n = self.ctx.page_count();
        let mut all = PageBitmap::full(n);
        if self_ballooning {
            let free = self.ctx.free_pages()?;
            if free.count() > 0 {
                self.ctx.send_free_page_list(&free)?;
                all.subtract(&free);
            }
        }
        Ok(all)
    }
}

impl Algorithm for Precopy {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let mut run = Run {
            ctx,
            zero_pages: self.zero_pages,
            batch_pages: self.batch_pages,
            batch: Vec::with_capacity(self.batch_pages),
            zeros: Vec::new(),
            full: Vec::new(),
        };
        run.ctx.start_dirty_log()?;
        match self.policy {
            Policy::Xen => self.run_xen(&mut run),
            Policy::Qemu => self.run_qemu(&mut run),
            Policy::CloudHypervisor => self.run_ch(&mut run),
        }
    }
}

fn timeout_reason(action: OnTimeout) -> String {
    match action {
        OnTimeout::Cancel => "timeout before convergence: migration cancelled, the VM stays on the source".into(),
        OnTimeout::ForceStop => "timeout before convergence: forced stop-and-copy".into(),
    }
}

impl Precopy {
    fn on_timeout(&self, run: &mut Run<'_>, remaining: PageBitmap) -> Result<Outcome, ContextError> {
        let action = run.ctx.timeout_action();
        run.ctx.end_round();
        if action == OnTimeout::ForceStop {
            run.stop_and_copy(remaining)?;
        }
        Ok(Outcome::forced(timeout_reason(action)))
    }

    fn run_xen(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let n = run.ctx.page_count();
        let page_size = run.ctx.page_size() as f64;
        let order = 64 - n.saturating_sub(1).leading_zeros();
        let order = if n <= 1 { 0 } else { order };
        let mut to_send = run.first_round_set(self.self_ballooning)?;
        let mut rate = None;
        if let Some((min, _, _)) = self.rate_limit {
            rate = Some(min);
            run.ctx.set_rate_limit(rate)?;
        }
        let (mut iter, mut total_sent, mut sent_last_iter) = (0u64, 0u64, u64::MAX);
        loop {
            iter += 1;
            run.ctx.begin_round(RoundKind::Live);
            let round_start = run.ctx.now();
            let (mut sent_this, mut skip_this) = (0u64, 0u64);
            let mut i = 0u64;
            while i < n {
                let end = (i + run.batch_pages as u64).min(n);
                {
                    let peek = if self.skip_redirtied { Some(run.ctx.peek_dirty()?) } else { None };
                    for k in i..end {
                        let p = if self.permute { xen_permute(k, n, order) } else { k };
                        if !to_send.get(p) {
                            continue;
                        }
                        if peek.is_some_and(|pk| pk.get(p)) {
                            skip_this += 1;
                            continue;
                        }
                        run.batch.push(p);
                    }
                }
                sent_this += run.batch.len() as u64;
                run.send()?;
                i = end;
                if run.ctx.deadline_passed() {
                    // Pages of this round not yet visited are still owed.
                    let mut owed = run.ctx.fetch_dirty()?;
                    for k in i..n {
                        let p = if self.permute { xen_permute(k, n, order) } else { k };
                        if to_send.get(p) {
                            owed.set(p);
                        }
                    }
                    return self.on_timeout(run, owed);
                }
            }
            total_sent += sent_this;
            let round_time = run.ctx.now() - round_start;
            run.ctx.end_round();

            let rate_is_max = matches!((rate, self.rate_limit), (Some(r), Some((_, max, _))) if r >= max);
            let stop = if rate_is_max && sent_this > sent_last_iter {
                Some(Outcome::converged("rate limit at its maximum and the dirty set grew"))
            } else if sent_this + skip_this < self.xen_min_pages {
                Some(Outcome::converged(format!(
                    "round {iter} started with {} dirty pages, under {}",
                    sent_this + skip_this,
                    self.xen_min_pages
                )))
            } else if iter >= self.xen_max_iters {
                Some(Outcome::forced(format!("{iter} live rounds: the iteration cap")))
            } else if total_sent as f64 > n as f64 * self.xen_max_factor {
                Some(Outcome::forced(format!("sent more than {}x memory", self.xen_max_factor)))
            } else {
                None
            };
            if let Some(outcome) = stop {
                if let Some((_, max, _)) = self.rate_limit {
                    run.ctx.set_rate_limit(Some(max))?;
                }
                run.stop_and_copy(PageBitmap::new(n))?;
                return Ok(outcome);
            }
            to_send = run.ctx.fetch_dirty()?;
            sent_last_iter = sent_this;
            if let (Some((min, max, inc)), true) = (self.rate_limit, round_time > 0.0) {
                let dirty_rate = to_send.count() as f64 * page_size / round_time;
                let r = (dirty_rate + inc).clamp(min, max);
                rate = Some(r);
                run.ctx.set_rate_limit(rate)?;
            }
        }
    }

    fn run_qemu(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        const WINDOW: f64 = 0.1;
        const PERIOD: f64 = 1.0;
        let page_size = run.ctx.page_size() as f64;
        let mut remaining = run.first_round_set(self.self_ballooning)?;
        let mut threshold_bytes = 0.0;
        let (mut win_t, mut win_bytes) = (run.ctx.now(), run.ctx.bytes_sent());
        // auto-converge bookkeeping
        let (mut period_t, mut period_bytes, mut period_dirty, mut high_count, mut throttle) =
            (run.ctx.now(), run.ctx.bytes_sent(), 0u64, 0u32, 0.0f64);
        loop {
            run.ctx.begin_round(RoundKind::Live);
            let mut cursor = 0u64;
            while let Some(p) = remaining.next_set(cursor) {
                run.batch.push(p);
                remaining.clear(p);
                cursor = p + 1;
                while run.batch.len() < run.batch_pages {
                    match remaining.next_set(cursor) {
                        Some(q) => {
                            run.batch.push(q);
                            remaining.clear(q);
                            cursor = q + 1;
                        }
                        None => break,
                    }
                }
                run.send()?;
                let now = run.ctx.now();
                if now - win_t >= WINDOW {
                    let bandwidth = (run.ctx.bytes_sent() - win_bytes) as f64 / (now - win_t);
                    threshold_bytes = bandwidth * self.downtime_limit;
                    win_t = now;
                    win_bytes = run.ctx.bytes_sent();
                }
                if (remaining.count() as f64) * page_size < threshold_bytes {
                    // Exact pending: sync the dirty log first.
                    let dirty = run.ctx.fetch_dirty()?;
                    period_dirty += dirty.count();
                    remaining.union_with(&dirty);
                    let pending = remaining.count() as f64 * page_size;
                    if pending < threshold_bytes {
                        run.ctx.end_round();
                        run.stop_and_copy(remaining)?;
                        return Ok(Outcome::converged(format!(
                            "{:.0} KiB pending < {:.0} KiB (measured bandwidth x {})",
                            pending / 1024.0,
                            threshold_bytes / 1024.0,
                            crate::units::Seconds(self.downtime_limit)
                        )));
                    }
                }
                if run.ctx.deadline_passed() {
                    let dirty = run.ctx.fetch_dirty()?;
                    remaining.union_with(&dirty);
                    return self.on_timeout(run, remaining);
                }
            }
            run.ctx.end_round();
            // End of a pass over the bitmap: sync.
            let dirty = run.ctx.fetch_dirty()?;
            period_dirty += dirty.count();
            remaining.union_with(&dirty);
            if remaining.count() == 0 {
                // Nothing pending: QEMU completes on `!pending_size` whatever the threshold. The
                // threshold is still 0 when the whole pass took less than one bandwidth window,
                // and without this check an idle guest would loop here forever at a frozen clock.
                run.stop_and_copy(remaining)?;
                return Ok(Outcome::converged("nothing left to send after a pass over the dirty bitmap"));
            }
            if let Some((initial, increment, trigger)) = self.auto_converge {
                let now = run.ctx.now();
                if now - period_t >= PERIOD {
                    let xfer = (run.ctx.bytes_sent() - period_bytes) as f64;
                    if period_dirty as f64 * page_size > trigger * xfer {
                        high_count += 1;
                        if high_count >= 2 {
                            throttle = if throttle == 0.0 { initial } else { (throttle + increment).min(0.99) };
                            run.ctx.set_throttle(throttle)?;
                            high_count = 0;
                        }
                    }
                    period_t = now;
                    period_bytes = run.ctx.bytes_sent();
                    period_dirty = 0;
                }
            }
            if run.ctx.deadline_passed() {
                return self.on_timeout(run, remaining);
            }
        }
    }

    fn run_ch(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let page_size = run.ctx.page_size() as f64;
        let first = run.first_round_set(self.self_ballooning)?;
        let mut bandwidth = self.send_pass(run, &first)?;
        let mut passes = 0;
        loop {
            let dirty = run.ctx.fetch_dirty()?;
            let estimate = dirty.count() as f64 * page_size / bandwidth.max(1.0);
            if estimate <= self.downtime_limit {
                run.stop_and_copy(dirty)?;
                return Ok(Outcome::converged(format!(
                    "estimated downtime {} <= {}",
                    crate::units::Seconds(estimate),
                    crate::units::Seconds(self.downtime_limit)
                )));
            }
            if passes >= self.ch_max_passes {
                run.stop_and_copy(dirty)?;
                return Ok(Outcome::forced(format!("{passes} dirty passes: the pass cap")));
            }
            if run.ctx.deadline_passed() {
                return self.on_timeout(run, dirty);
            }
            passes += 1;
            bandwidth = self.send_pass(run, &dirty)?;
        }
    }

    /// One live pass over `set`; returns its bandwidth in bytes/s.
    fn send_pass(&self, run: &mut Run<'_>, set: &PageBitmap) -> Result<f64, ContextError> {
        run.ctx.begin_round(RoundKind::Live);
        let (t0, b0) = (run.ctx.now(), run.ctx.bytes_sent());
        run.send_set(set)?;
        let (dt, db) = (run.ctx.now() - t0, run.ctx.bytes_sent() - b0);
        run.ctx.end_round();
        Ok(if dt > 0.0 { db as f64 / dt } else { f64::INFINITY })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xen_permute_is_a_bijection() {
        for nr in [1u64, 2, 5, 100, 1000, 1024, 1500, 4096, 70_000] {
            let order = if nr <= 1 { 0 } else { 64 - (nr - 1).leading_zeros() };
            let mut seen = PageBitmap::new(nr);
            for i in 0..nr {
                let p = xen_permute(i, nr, order);
                assert!(p < nr);
                assert!(seen.set(p), "nr {nr}: {p} twice");
            }
        }
    }

    #[test]
    fn xen_permute_rotates_by_ten_bits() {
        // 2^17 pages (512 MiB): page 1 goes to 1 << 10.
        assert_eq!(xen_permute(1, 1 << 17, 17), 1 << 10);
    }
}
