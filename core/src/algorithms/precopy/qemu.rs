//! QEMU's pre-copy: `migration_iteration_run()` (`migration/migration.c`) with the pending-bytes
//! test of `ram_save_pending()` (`migration/ram.c`), `max-bandwidth` and auto-converge
//! (docs/algorithms/precopy-qemu.md) \[C\].
//!
//! The procedure, as QEMU's migration thread runs it:
//!
//! 1. Cap live copying at `max_bandwidth` (QEMU's `max-bandwidth`, default 128 MiB/s:
//!    `MAX_THROTTLE` in `migration/options.c`) the way `migration_rate_limit()` does: the
//!    migration thread sends at its own speed until the 100 ms window's quota
//!    (`max_bandwidth` x 100 ms) is spent, then sleeps to the window's end. The first pass sends
//!    every page.
//! 2. Send the dirty pages in address order, page by page, the scan wrapping at the end of
//!    memory and going on (the first wrap ends the first pass; XBZRLE starts there). At the
//!    first iteration's end after a window has passed, measure the window's bandwidth
//!    (`migration_update_counters()`); the **threshold** is `bandwidth x downtime_limit`
//!    (300 ms) (`QemuPolicy::threshold_bytes`), so with a cap the threshold is at most the
//!    cap's.
//! 3. Test at every iteration's end, and at once when nothing is left to send. An iteration
//!    (`migration_iteration_run()`, then `ram_save_iterate()`) sends until the window's quota
//!    is spent or 50 ms have passed (`MAX_WAIT`): under a binding cap the tests come at the
//!    windows' ends, and also 50 ms into a window whose quota takes the thread longer than that
//!    to send. The test: if the bytes still to send are below the threshold, sync the dirty log
//!    for the exact figure (`ram_save_pending()`) and, if still below, stop: pause, send the
//!    rest and the CPU state. The stop-and-copy is not capped (`ram_save_complete()` sends
//!    without `qemu_file_rate_limit()` checks), so with a fast link the downtime is the
//!    threshold's bytes at the sender's full speed, far below the limit. Otherwise the pages
//!    the sync found join those still to send, and the scan goes on.
//! 4. That test is the only sync while the migration runs: QEMU 7.2 does not sync when the
//!    scan wraps (`find_dirty_block()` only sets `complete_round`). So a round here, from one
//!    sync to the next, is what `dirty-sync-count` counts, and a fast writer's pages wait
//!    in the dirty log until the pages still to send fall under the threshold. No round cap:
//!    a migration that never converges runs until the scenario's timeout.
//! 5. **Auto-converge** (`auto_converge`, `AutoConverge`): at a sync at least 1 s after the last
//!    check, when the bytes dirtied exceed `throttle_trigger` (50%) of the bytes sent, twice in a
//!    row, throttle the vCPUs by `throttle_initial` (20%), then `throttle_increment` (10%) more
//!    each time, up to 99%.

use super::engine::{until_ended, Interrupt, Run, Step};
use super::{AlgorithmInfo, PrecopyParams};
use crate::bitmap::PageBitmap;
use crate::context::{ContextError, Outcome};
use crate::units::Seconds;

/// The registry entry of QEMU's policy.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "precopy-qemu",
    summary: "QEMU: stop when remaining bytes < measured bandwidth x downtime limit; no round cap",
    paper: "QEMU migration/ram.c, migration.c (downtime-limit 300 ms, auto-converge)",
    fixed: &[("policy", "qemu")],
    ..super::INFO
};

/// QEMU's bandwidth and rate-limit window, seconds (`BUFFER_DELAY`).
const WINDOW: f64 = 0.1;
/// The longest iteration of QEMU's migration thread, seconds (`MAX_WAIT`).
const MAX_WAIT: f64 = 0.05;
/// Pages QEMU sends between two looks at the clock: it has no batches, but sends page by page
/// and checks the time every 64 pages (`ram_save_iterate()`: `if ((i & 63) == 0)`), and the rate
/// limit after each page. The pass sends at most this many between its own checks (the
/// scenario's `batch_pages`, Xen's 1024 by default, when smaller), so that the convergence test
/// falls where QEMU's does: with 1024-page batches, a 128 MiB/s cap sends a batch in 31 ms, the
/// test came every fourth batch (124 ms, not 100), and an idle guest's stop-and-copy carried
/// 25 MB where QEMU's carries about 37.
const CLOCK_CHECK_PAGES: usize = 64;
/// Auto-converge's check period, seconds.
const PERIOD: f64 = 1.0;
/// The most auto-converge throttles the vCPUs.
const MAX_THROTTLE: f64 = 0.99;

/// QEMU's convergence rule and rate cap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QemuPolicy {
    /// Tolerated downtime, seconds.
    pub downtime_limit: f64,
    /// QEMU's `max-bandwidth` on live copying, bytes/s (None: send at the sender's speed).
    pub max_bandwidth: Option<f64>,
    /// Auto-converge, if on.
    pub auto_converge: Option<AutoConverge>,
}

/// Auto-converge's throttle steps and trigger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AutoConverge {
    /// The first throttle.
    pub initial: f64,
    /// Added at each later step.
    pub increment: f64,
    /// Dirtied / sent ratio that counts as too high.
    pub trigger: f64,
}

impl AutoConverge {
    /// Whether a period in which the guest dirtied `dirtied_bytes` while `sent_bytes` were sent
    /// counts as dirtying too fast.
    pub(crate) fn too_dirty(&self, dirtied_bytes: f64, sent_bytes: f64) -> bool {
        dirtied_bytes > self.trigger * sent_bytes
    }

    /// The throttle after `current`: the initial step first, then one increment more, at most
    /// 99%.
    pub(crate) fn next_throttle(&self, current: f64) -> f64 {
        if current == 0.0 {
            self.initial
        } else {
            (current + self.increment).min(MAX_THROTTLE)
        }
    }
}

impl QemuPolicy {
    /// The QEMU policy of resolved pre-copy parameters.
    pub(crate) fn from_params(p: &PrecopyParams) -> QemuPolicy {
        QemuPolicy {
            downtime_limit: p.downtime_limit,
            max_bandwidth: Some(p.max_bandwidth),
            auto_converge: p.auto_converge.then_some(AutoConverge {
                initial: p.throttle_initial,
                increment: p.throttle_increment,
                trigger: p.throttle_trigger,
            }),
        }
    }

    /// The bytes that may still be pending when the VM stops: what the measured bandwidth sends
    /// in the downtime limit.
    pub(crate) fn threshold_bytes(&self, bandwidth: f64) -> f64 {
        bandwidth * self.downtime_limit
    }

    /// QEMU's migration thread: rounds until the pending bytes fit the threshold (the dirty log
    /// must be on).
    pub(crate) fn run(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let mut state = self.start(run)?;
        until_ended(|interrupt| self.round(run, &mut state, interrupt))
    }

    /// Starts a QEMU-policy pre-copy (the dirty log must be on): the first pass sends every page.
    pub(crate) fn start(&self, run: &mut Run<'_>) -> Result<QemuState, ContextError> {
        let remaining = run.first_round_set()?;
        let (now, bytes) = (run.ctx.now(), run.ctx.bytes_sent());
        Ok(QemuState {
            remaining,
            cursor: 0,
            postcopy_requested: false,
            threshold_bytes: 0.0,
            win_t: now,
            win_bytes: bytes,
            iter_t: now,
            period_t: now,
            period_bytes: bytes,
            period_dirty: 0,
            high_count: 0,
            throttle: 0.0,
        })
    }

    /// One round: from one sync of the dirty log to the next, as QEMU's `dirty-sync-count`
    /// counts them. The scan goes on from where the last round left it, in address order, and
    /// wraps at the end of memory (the first wrap ends the bulk stage). It sends until, at the
    /// end of an iteration, the pages still to send are under the threshold, or none are left;
    /// then it syncs and tests, stops and copies if the pending bytes fit, and otherwise the
    /// next round sends them. `interrupt` is asked before every batch but the first; when it
    /// says yes the round ends early and the pages still owed stay in `state` (see
    /// [`QemuState::absorb_dirty`] to continue).
    pub(crate) fn round(&self, run: &mut Run<'_>, state: &mut QemuState, interrupt: &mut Interrupt<'_>) -> Result<Step, ContextError> {
        let page_size = run.ctx.page_size() as f64;
        if interrupt(&mut *run.ctx)? {
            return Ok(Step::Interrupted);
        }
        run.begin_live_round();
        let mut first_batch = true;
        while let Some(first) = state.next_page(run) {
            if !first_batch && interrupt(&mut *run.ctx)? {
                run.ctx.end_round();
                return Ok(Step::Interrupted);
            }
            first_batch = false;
            let quota_pages = self.pages_left_in_quota(run, state, page_size);
            state.take_batch(run, first, quota_pages);
            run.send()?;
            let iteration_ended = self.end_of_iteration(run, state)?;
            // At the timeout the timeout wins, as in the Xen loop: a send (or a wait) that would
            // cross it ends at it (see the simulator), and no convergence test follows.
            if run.ctx.deadline_passed() {
                let dirty = run.sync_dirty()?;
                state.remaining.union_with(&dirty);
                return Ok(Step::TimedOut(run.end_at_timeout(state.take_remaining())?));
            }
            if !iteration_ended {
                continue;
            }
            if (state.remaining.count() as f64) * page_size < state.threshold_bytes {
                break;
            }
            if state.postcopy_requested {
                // `migration_iteration_run()`: pending bytes at or above the threshold and
                // `start_postcopy` set: `postcopy_start()`.
                run.ctx.end_round();
                return Ok(Step::Interrupted);
            }
        }
        run.ctx.end_round();
        // ram_save_pending(): the estimate is under the threshold (or nothing is left to send),
        // so sync the dirty log for the exact figure. With no bandwidth measured yet (a first
        // pass shorter than one window) the threshold is 0, `remaining_size < max_size` is
        // false and QEMU does not sync: nothing pending goes straight to completion, whose own
        // sync collects what was dirtied (`migration_iteration_run()`).
        if state.remaining.count() > 0 || state.threshold_bytes > 0.0 {
            let dirty = run.sync_dirty()?;
            state.period_dirty += dirty.count();
            state.remaining.union_with(&dirty);
        }
        let pending = state.remaining.count() as f64 * page_size;
        if pending == 0.0 || pending < state.threshold_bytes {
            // `migration_iteration_run()`: complete on `!pending_size || pending_size <
            // threshold_size`.
            run.stop_and_copy(state.take_remaining())?;
            let reason = if pending == 0.0 {
                "nothing left to send".to_string()
            } else {
                format!(
                    "{:.0} KiB pending < {:.0} KiB (measured bandwidth x {})",
                    pending / 1024.0,
                    state.threshold_bytes / 1024.0,
                    Seconds(self.downtime_limit)
                )
            };
            return Ok(Step::Stopped(Outcome::converged(reason)));
        }
        // Auto-converge looks at every sync (`migration_bitmap_sync()` calls
        // `migration_trigger_throttle()`).
        if let Some(auto_converge) = self.auto_converge {
            self.auto_converge_check(run, state, auto_converge, page_size)?;
        }
        if run.ctx.deadline_passed() {
            return Ok(Step::TimedOut(run.end_at_timeout(state.take_remaining())?));
        }
        Ok(Step::Next)
    }

    /// The bytes the rate limit lets the thread send in one window (`rate_limit_max`:
    /// `max-bandwidth` / `XFER_LIMIT_RATIO`); None without a cap.
    fn window_quota(&self) -> Option<f64> {
        self.max_bandwidth.map(|cap| cap * WINDOW)
    }

    /// Whether this window's quota is spent (`qemu_file_rate_limit()`: more sent than the quota).
    fn quota_spent(&self, run: &Run<'_>, state: &QemuState) -> bool {
        self.window_quota().is_some_and(|quota| state.window_bytes(run) > quota)
    }

    /// The most pages the next batch may take: QEMU checks the rate limit before every page, so
    /// it stops one page past the quota; whole pages of `page_size` bytes are counted.
    fn pages_left_in_quota(&self, run: &Run<'_>, state: &QemuState, page_size: f64) -> usize {
        match self.window_quota() {
            Some(quota) => {
                let left = (quota - state.window_bytes(run)).max(0.0);
                (left / page_size).floor() as usize + 1
            }
            None => usize::MAX,
        }
    }

    /// After a batch: whether the migration thread's iteration ends here, so that the threshold
    /// is tested. QEMU tests for convergence once per iteration (`migration_iteration_run()`),
    /// not after every page: `ram_save_iterate()` sends until the window's quota is spent or
    /// `MAX_WAIT` (50 ms) has passed. Then `migration_rate_limit()` sleeps out a spent window,
    /// and once a window has passed `migration_update_counters()` measures its bandwidth, which
    /// sets the threshold, and starts the next window.
    fn end_of_iteration(&self, run: &mut Run<'_>, state: &mut QemuState) -> Result<bool, ContextError> {
        let spent = self.quota_spent(run, state);
        if !spent && run.ctx.now() - state.iter_t < MAX_WAIT {
            return Ok(false);
        }
        let window_end = state.win_t + WINDOW;
        if spent {
            run.ctx.wait_until(window_end)?;
        }
        let now = run.ctx.now();
        if now >= window_end {
            let bandwidth = state.window_bytes(run) / (now - state.win_t);
            state.threshold_bytes = self.threshold_bytes(bandwidth);
            state.win_t = now;
            state.win_bytes = run.ctx.bytes_sent();
        }
        state.iter_t = now;
        Ok(true)
    }

    /// Auto-converge at a sync: once a period has passed, count a too-dirty period, and throttle
    /// one step more at the second in a row.
    fn auto_converge_check(
        &self,
        run: &mut Run<'_>,
        state: &mut QemuState,
        auto_converge: AutoConverge,
        page_size: f64,
    ) -> Result<(), ContextError> {
        let now = run.ctx.now();
        if now - state.period_t < PERIOD {
            return Ok(());
        }
        let sent_bytes = (run.ctx.bytes_sent() - state.period_bytes) as f64;
        if auto_converge.too_dirty(state.period_dirty as f64 * page_size, sent_bytes) {
            state.high_count += 1;
            if state.high_count >= 2 {
                state.throttle = auto_converge.next_throttle(state.throttle);
                run.ctx.set_throttle(state.throttle)?;
                state.high_count = 0;
            }
        }
        state.period_t = now;
        state.period_bytes = run.ctx.bytes_sent();
        state.period_dirty = 0;
        Ok(())
    }
}

/// A QEMU-policy pre-copy in progress: the pages still to send, the bandwidth window and the
/// auto-converge bookkeeping. It survives an interrupted round.
#[derive(Debug)]
pub(crate) struct QemuState {
    /// Pages still to send.
    remaining: PageBitmap,
    /// Where the scan of `remaining` goes on from (QEMU's `last_seen_block` / `last_page`).
    cursor: u64,
    /// `migrate-start-postcopy` was issued (QEMU's `start_postcopy`): see
    /// [`QemuState::request_postcopy`].
    postcopy_requested: bool,
    /// The pending bytes under which the VM stops.
    threshold_bytes: f64,
    /// When the current bandwidth and rate-limit window began.
    win_t: f64,
    /// Bytes sent when it began.
    win_bytes: u64,
    /// When the current iteration (between two convergence tests) began.
    iter_t: f64,
    /// When the current auto-converge period began.
    period_t: f64,
    /// Bytes sent when it began.
    period_bytes: u64,
    /// Pages dirtied in it.
    period_dirty: u64,
    /// Too-dirty periods in a row.
    high_count: u32,
    /// The current throttle.
    throttle: f64,
}

impl QemuState {
    /// Adds the pages the guest dirtied meanwhile, and restarts the bandwidth and auto-converge
    /// measurements, which a pause without sending would distort (continuing after a pause).
    pub(crate) fn absorb_dirty(&mut self, run: &mut Run) -> Result<(), ContextError> {
        self.remaining.union_with(&run.sync_dirty()?);
        let ctx = run.ctx();
        (self.win_t, self.win_bytes, self.iter_t) = (ctx.now(), ctx.bytes_sent(), ctx.now());
        (self.period_t, self.period_bytes, self.period_dirty) = (ctx.now(), ctx.bytes_sent(), 0);
        Ok(())
    }

    /// `migrate-start-postcopy`: QEMU acts on it at the start of its next iteration, after the
    /// convergence test (`migration_iteration_run()` switches only while the pending bytes are
    /// at or above the threshold). From then on a round ends, with [`Step::Interrupted`], at the
    /// first iteration's end where the test does not sync; a round whose sync finds the pending
    /// bytes still at or above the threshold ends with [`Step::Next`] as before, and QEMU
    /// switches there too.
    pub(crate) fn request_postcopy(&mut self) {
        self.postcopy_requested = true;
    }

    /// Bytes sent in the current window.
    fn window_bytes(&self, run: &Run<'_>) -> f64 {
        (run.ctx.bytes_sent() - self.win_bytes) as f64
    }

    /// The pages still to send, as far as known (the dirty log holds the rest).
    pub(crate) fn owed(&self) -> &PageBitmap {
        &self.remaining
    }

    /// The next page to send, from the scan's position on; at the end of memory the scan wraps
    /// to the start and a pass over memory is complete (`find_dirty_block()`: `complete_round`,
    /// and XBZRLE is enabled). `None` when nothing is left to send.
    fn next_page(&mut self, run: &mut Run<'_>) -> Option<u64> {
        if let Some(p) = self.remaining.next_set(self.cursor) {
            return Some(p);
        }
        let p = self.remaining.next_set(0)?;
        run.end_pass();
        Some(p)
    }

    /// Moves the next pages to send, from `first` on in address order up to the end of memory,
    /// into the run's batch (at most [`CLOCK_CHECK_PAGES`], and at most `most`), and moves the
    /// scan past them.
    fn take_batch(&mut self, run: &mut Run<'_>, first: u64, most: usize) {
        let limit = run.batch_pages().min(CLOCK_CHECK_PAGES).min(most);
        run.batch.push(first);
        self.remaining.clear(first);
        self.cursor = first + 1;
        while run.batch.len() < limit {
            match self.remaining.next_set(self.cursor) {
                Some(p) => {
                    run.batch.push(p);
                    self.remaining.clear(p);
                    self.cursor = p + 1;
                }
                None => break,
            }
        }
    }

    fn take_remaining(&mut self) -> PageBitmap {
        std::mem::replace(&mut self.remaining, PageBitmap::new(0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, run, scenario};
    use super::*;
    use crate::trace::Event;

    fn auto_converge() -> AutoConverge {
        AutoConverge { initial: 0.2, increment: 0.1, trigger: 0.5 }
    }

    #[test]
    fn the_defaults_are_qemus() {
        let qemu = QemuPolicy::from_params(&PrecopyParams::defaults());
        // 300 ms, 128 MiB/s (MAX_THROTTLE), auto-converge off.
        assert_eq!(qemu, QemuPolicy { downtime_limit: 0.3, max_bandwidth: Some(134_217_728.0), auto_converge: None });
    }

    #[test]
    fn the_threshold_is_what_the_bandwidth_sends_in_the_downtime_limit() {
        let qemu = QemuPolicy::from_params(&PrecopyParams::defaults());
        // 100 MB/s x 300 ms = 30 MB.
        assert!((qemu.threshold_bytes(100e6) - 30e6).abs() < 1e-6);
        // Under the 128 MiB/s cap the threshold is at most 128 MiB/s x 300 ms = 38.4 MiB.
        assert!((qemu.threshold_bytes(134_217_728.0) - 0.3 * 134_217_728.0).abs() < 1e-6);
    }

    #[test]
    fn auto_converge_steps_20_then_10_more_up_to_99_percent() {
        let ac = auto_converge();
        let mut throttle = 0.0;
        let mut steps = Vec::new();
        for _ in 0..10 {
            throttle = ac.next_throttle(throttle);
            steps.push((throttle * 100.0).round() as u32);
        }
        assert_eq!(steps, [20, 30, 40, 50, 60, 70, 80, 90, 99, 99]);
    }

    #[test]
    fn auto_converge_triggers_when_dirtying_exceeds_half_of_sending() {
        let ac = auto_converge();
        assert!(ac.too_dirty(51.0, 100.0));
        assert!(!ac.too_dirty(50.0, 100.0), "exactly the trigger is not too much");
        assert!(!ac.too_dirty(0.0, 0.0));
    }

    #[test]
    fn auto_converge_throttles_at_every_second_too_dirty_period() {
        // 16 MiB on 100 Mbit/s (a full copy in 1.3 s) with 10,000 writes/s: dirtying outpaces
        // sending in every period.
        let s = scenario("16 MiB", "100 Mbit/s", 10_000, "auto_converge = true");
        let run = run(&s, "precopy-qemu");
        let throttles: Vec<(f64, f64)> = events(&run)
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Throttled { fraction } => Some((*t, *fraction)),
                _ => None,
            })
            .collect();
        assert!(throttles.len() >= 3, "{throttles:?}");
        let percents: Vec<u32> = throttles.iter().map(|(_, f)| (f * 100.0).round() as u32).collect();
        let expected: Vec<u32> = (0..percents.len() as u32).map(|k| (20 + 10 * k).min(99)).collect();
        assert_eq!(percents, expected);
        // Two periods of at least 1 s each before the first step and between steps.
        assert!(throttles[0].0 >= 2.0, "{throttles:?}");
        assert!(throttles.windows(2).all(|w| w[1].0 - w[0].0 >= 2.0), "{throttles:?}");
        assert_eq!(run.report.max_throttle, throttles.last().unwrap().1);
    }

    #[test]
    fn max_bandwidth_spends_one_quota_a_window_at_full_speed_and_the_stop_and_copy_is_not_capped() {
        // A 10 Gbit/s link: only the 128 MiB/s cap limits the live rounds, which take about 2 s.
        let s = scenario("256 MiB", "10 Gbit/s", 1000, "");
        // One event per send, not merged.
        let run = crate::simulate(&s, Some("precopy-qemu"), crate::trace::TraceDetail::Accesses).unwrap();
        assert!(run.report.converged && run.report.verified, "{}", run.report.stop_reason);
        let quota = 134_217_728.0 * WINDOW;
        let paused = events(&run).iter().find(|(_, e)| matches!(e, Event::SourcePaused)).unwrap().0;
        // (start, end, wire bytes) of every live send.
        let live: Vec<(f64, f64, u64)> = events(&run)
            .iter()
            .filter_map(|(t, e)| match e {
                Event::PagesSent { end, wire_bytes, .. } if *t < paused => Some((*t, *end, *wire_bytes)),
                _ => None,
            })
            .collect();
        let windows = (live.last().unwrap().1 / WINDOW).ceil() as usize;
        assert!(windows >= 10, "{windows} windows");
        for k in 0..windows {
            let start = k as f64 * WINDOW;
            let sends: Vec<_> = live.iter().filter(|(t, ..)| *t >= start - 1e-9 && *t < start + WINDOW - 1e-9).collect();
            let bytes: u64 = sends.iter().map(|s| s.2).sum();
            // The window's quota and at most the page that crossed it (`qemu_file_rate_limit()`
            // is asked before each page), give or take the 8-byte headers of the last batch (the
            // policy counts pages of `page_size` bytes).
            assert!(bytes as f64 <= quota + 4104.0 + 64.0 * 8.0, "window {k}: {bytes} bytes");
            // Sent at the link's speed, 10 Gbit/s, then the thread sleeps: a window's quota is
            // out within its first 12 ms.
            let last = sends.last().unwrap();
            assert!(last.1 - start < 0.012, "window {k}: sending until {:.4} s", last.1);
        }
        // Every window but the last spent its quota.
        let full: u64 = live.iter().filter(|(t, ..)| *t < WINDOW - 1e-9).map(|s| s.2).sum();
        assert!(full as f64 > quota, "{full}");
        // The stop-and-copy is not capped: it runs at the link's speed (its round also holds
        // the device state and the resume), far above the cap.
        let stop = run.report.per_round.last().unwrap();
        let rate = stop.bytes_sent as f64 / (stop.end_s - stop.start_s);
        assert!(rate > 5.0 * 134_217_728.0, "{rate} bytes/s");
    }
}
