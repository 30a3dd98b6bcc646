//! Xen's pre-copy loop (`xc_domain_save()` in `tools/libxc/xc_domain_save.c`) with Clark's
//! adaptive rate limiting. Clark et al., "Live Migration of Virtual Machines", NSDI 2005
//! (docs/algorithms/precopy-xen.md).
//!
//! The procedure, as `xc_domain_save()` runs it \[C\]:
//!
//! 1. Turn on the shadow dirty log. Round 1 sends every page.
//! 2. A round visits the pages in Xen's pseudo-random permutation ([`xen_permute`]) in batches of
//!    `batch_pages` (1024, `MAX_BATCH_SIZE`). Before each batch the log is peeked (`PEEK`): a
//!    page already re-dirtied is skipped and left for the next round, since it would be sent
//!    again anyway (`skip_redirtied`).
//! 3. After the round, the stop tests, in Xen's order (`XenPolicy::stop_test`):
//!    * with rate limiting, the rate is at its maximum and this round sent more than the one
//!      before (Clark: the dirty set no longer shrinks);
//!    * the round started with fewer than `xen_min_pages` (50) dirty pages (sent + skipped: one
//!      round of lag against the "remaining < threshold" formulation);
//!    * `xen_max_iters` (29) live rounds were run;
//!    * more than `xen_max_factor` (3) x memory was sent.
//! 4. If one holds: pause the domain, send the pages still dirty and the CPU state (the final
//!    round). Otherwise read and clear the log (`CLEAN`): those pages are the next round's.
//!
//! For VMs smaller than 1024 pages the permutation rotates by half the address width instead
//! of 10 bits (Xen's shift would be negative) \[R\].
//!
//! **Clark's rate limiting** (`rate_limit`) \[S/M\] (`ClarkRates`): round 1 runs at `rate_min`,
//! each later round at the previous round's dirty rate + `rate_increment`, capped at
//! `rate_max`; the final round runs at `rate_max` (Clark's text). Stock Xen builds did not
//! define `ADAPTIVE_SAVE`, hence off by default.

use super::engine::{until_ended, Interrupt, Run, Step};
use super::{AlgorithmInfo, PrecopyParams, ScanOrder};
use crate::bitmap::PageBitmap;
use crate::context::{ContextError, Outcome};

/// The registry entry of Xen's policy.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "precopy-xen",
    summary: "Xen classic: 29 live rounds + final, stop under 50 dirty pages or over 3x memory, skip re-dirtied pages",
    paper: "Xen tools/libxc/xc_domain_save.c (Clark et al., NSDI 2005)",
    fixed: &[("policy", "xen")],
    ..super::INFO
};

/// Xen's stop rules and visiting order, and Clark's rate limiting.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct XenPolicy {
    /// Live rounds before the final one.
    pub max_iters: u64,
    /// Stop when a round started with fewer dirty pages.
    pub min_pages: u64,
    /// Stop after sending this many times memory.
    pub max_factor: f64,
    /// Skip pages already re-dirtied when their batch is scanned.
    pub skip_redirtied: bool,
    /// Visit pages in Xen's permutation (else in address order).
    pub permute: bool,
    /// Clark's adaptive rate limiting, if on.
    pub rate_limit: Option<ClarkRates>,
}

/// Clark's adaptive rate limiting: the rate schedule of the live rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ClarkRates {
    /// Round 1's rate, and the lowest, bytes/s.
    pub min: f64,
    /// The cap, and the final round's rate, bytes/s.
    pub max: f64,
    /// Added to the measured dirty rate, bytes/s.
    pub increment: f64,
}

impl ClarkRates {
    /// The rate of the round after one that lasted `round_time` seconds and during which the
    /// guest dirtied `dirtied_bytes`: the dirty rate plus the increment, within `min..=max`.
    pub(crate) fn next_round_rate(&self, dirtied_bytes: f64, round_time: f64) -> f64 {
        let dirty_rate = dirtied_bytes / round_time;
        (dirty_rate + self.increment).clamp(self.min, self.max)
    }
}

impl XenPolicy {
    /// The Xen policy of resolved pre-copy parameters.
    pub(crate) fn from_params(p: &PrecopyParams) -> XenPolicy {
        XenPolicy {
            max_iters: p.xen_max_iters,
            min_pages: p.xen_min_pages,
            max_factor: p.xen_max_factor,
            skip_redirtied: p.skip_redirtied,
            permute: p.scan_order == ScanOrder::XenPermute,
            rate_limit: p.rate_limit.then_some(ClarkRates { min: p.rate_min, max: p.rate_max, increment: p.rate_increment }),
        }
    }

    /// Xen's loop: rounds until a stop test holds (the dirty log must be on).
    pub(crate) fn run(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let mut state = self.start(run)?;
        until_ended(|interrupt| self.round(run, &mut state, interrupt))
    }

    /// Starts a Xen-policy pre-copy (the dirty log must be on): round 1 will send every page.
    pub(crate) fn start(&self, run: &mut Run<'_>) -> Result<XenState, ContextError> {
        let n = run.ctx.page_count();
        let order = if n <= 1 { 0 } else { 64 - (n - 1).leading_zeros() };
        let to_send = run.first_round_set()?;
        let rate = self.rate_limit.map(|rates| rates.min);
        if rate.is_some() {
            run.ctx.set_rate_limit(rate)?;
        }
        Ok(XenState { n, order, to_send, iter: 0, total_sent: 0, sent_last_iter: u64::MAX, rate })
    }

    /// One Xen round, then the stop tests (and stop-and-copy when one holds). `interrupt` is
    /// asked before every batch; when it says yes the round ends early and keeps the pages it
    /// still owes in `state` (see [`XenState::absorb_dirty`] to continue).
    pub(crate) fn round(&self, run: &mut Run<'_>, state: &mut XenState, interrupt: &mut Interrupt<'_>) -> Result<Step, ContextError> {
        if interrupt(&mut *run.ctx)? {
            return Ok(Step::Interrupted);
        }
        let page_size = run.ctx.page_size() as f64;
        let n = state.n;
        state.iter += 1;
        run.begin_live_round();
        let round_start = run.ctx.now();
        let mut tally = RoundTally::default();
        let mut i = 0u64;
        while i < n {
            if i > 0 && interrupt(&mut *run.ctx)? {
                // The pages of this round not yet visited are still owed; the others the guest
                // wrote since they were sent are in the dirty log.
                let mut owed = PageBitmap::new(n);
                self.add_unvisited(state, i, &mut owed);
                state.to_send = owed;
                state.total_sent += tally.sent;
                run.ctx.end_round();
                return Ok(Step::Interrupted);
            }
            let end = (i + run.batch_pages() as u64).min(n);
            self.gather_batch(run, state, i..end, &mut tally)?;
            run.send()?;
            i = end;
            if run.ctx.deadline_passed() {
                // Pages of this round not yet visited are still owed.
                let mut owed = run.sync_dirty()?;
                self.add_unvisited(state, i, &mut owed);
                return Ok(Step::TimedOut(run.end_at_timeout(owed)?));
            }
        }
        state.total_sent += tally.sent;
        let round_time = run.ctx.now() - round_start;
        run.end_pass();
        run.ctx.end_round();

        if let Some(outcome) = self.stop_test(state, tally) {
            if let Some(rates) = self.rate_limit {
                // Clark: the final round runs at the maximum rate.
                run.ctx.set_rate_limit(Some(rates.max))?;
            }
            run.stop_and_copy(PageBitmap::new(n))?;
            return Ok(Step::Stopped(outcome));
        }
        // CLEAN: the pages dirtied during this round are the next round's.
        state.to_send = run.sync_dirty()?;
        state.sent_last_iter = tally.sent;
        if let (Some(rates), true) = (self.rate_limit, round_time > 0.0) {
            let dirtied_bytes = state.to_send.count() as f64 * page_size;
            state.rate = Some(rates.next_round_rate(dirtied_bytes, round_time));
            run.ctx.set_rate_limit(state.rate)?;
        }
        Ok(Step::Next)
    }

    /// The page visited `k`-th in a round.
    fn visit(&self, state: &XenState, k: u64) -> u64 {
        if self.permute {
            xen_permute(k, state.n, state.order)
        } else {
            k
        }
    }

    /// Puts the owed pages among the visits `range` in the batch, skipping (with
    /// `skip_redirtied`) those the log already shows re-dirtied (a `PEEK` per batch).
    fn gather_batch(
        &self,
        run: &mut Run<'_>,
        state: &XenState,
        range: std::ops::Range<u64>,
        tally: &mut RoundTally,
    ) -> Result<(), ContextError> {
        let logging = run.logging()?;
        let redirtied = if self.skip_redirtied { Some(run.ctx.peek_dirty(&logging)?) } else { None };
        for k in range {
            let p = self.visit(state, k);
            if !state.to_send.get(p) {
                continue;
            }
            if redirtied.is_some_and(|log| log.get(p)) {
                tally.skipped += 1;
                continue;
            }
            run.batch.push(p);
        }
        tally.sent += run.batch.len() as u64;
        Ok(())
    }

    /// Adds the owed pages the round has not visited yet (from visit `from` on) to `owed`.
    fn add_unvisited(&self, state: &XenState, from: u64, owed: &mut PageBitmap) {
        for k in from..state.n {
            let p = self.visit(state, k);
            if state.to_send.get(p) {
                owed.set(p);
            }
        }
    }

    /// Xen's stop tests after a round that sent and skipped `tally`'s pages, in Xen's order:
    /// the outcome if the migration should stop and copy now, None to go on.
    pub(crate) fn stop_test(&self, state: &XenState, tally: RoundTally) -> Option<Outcome> {
        let iter = state.iter;
        let rate_is_max = matches!((state.rate, self.rate_limit), (Some(r), Some(rates)) if r >= rates.max);
        if rate_is_max && tally.sent > state.sent_last_iter {
            Some(Outcome::converged("rate limit at its maximum and the dirty set grew"))
        } else if tally.sent + tally.skipped < self.min_pages {
            Some(Outcome::converged(format!(
                "round {iter} started with {} dirty pages, under {}",
                tally.sent + tally.skipped,
                self.min_pages
            )))
        } else if iter >= self.max_iters {
            Some(Outcome::forced(format!("{iter} live rounds: the iteration cap")))
        } else if state.total_sent as f64 > state.n as f64 * self.max_factor {
            Some(Outcome::forced(format!("sent more than {}x memory", self.max_factor)))
        } else {
            None
        }
    }
}

/// What a round did with the pages it owed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RoundTally {
    /// Pages sent.
    pub sent: u64,
    /// Pages skipped because the log showed them re-dirtied.
    pub skipped: u64,
}

/// A Xen-policy pre-copy in progress: what the next round sends and the stop tests' counters.
/// It survives an interrupted round, so a coordinator can pause the pre-copy and continue it.
#[derive(Debug)]
pub(crate) struct XenState {
    /// Pages in the VM.
    n: u64,
    /// Address width of the permutation.
    order: u32,
    /// The pages the round owes.
    to_send: PageBitmap,
    /// Live rounds begun.
    iter: u64,
    /// Pages sent in all live rounds.
    total_sent: u64,
    /// Pages the previous round sent (`u64::MAX` before the first).
    sent_last_iter: u64,
    /// The current rate limit (Clark), bytes/s.
    rate: Option<f64>,
}

impl XenState {
    /// Adds the pages the guest dirtied since the last round (continuing after a pause).
    pub(crate) fn absorb_dirty(&mut self, run: &mut Run) -> Result<(), ContextError> {
        self.to_send.union_with(&run.sync_dirty()?);
        Ok(())
    }

    /// The pages the next round sends, as far as known (the dirty log holds the rest).
    pub(crate) fn owed(&self) -> &PageBitmap {
        &self.to_send
    }
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

#[cfg(test)]
mod tests {
    use super::super::tests::{events, run, scenario};
    use super::*;
    use crate::context::RoundKind;
    use crate::trace::Event;

    fn xen() -> XenPolicy {
        XenPolicy::from_params(&PrecopyParams::defaults())
    }

    /// A Xen pre-copy of `n` pages after `iter` live rounds that sent `total_sent` pages in
    /// all, `sent_last_iter` in the round before the last, at rate `rate`.
    fn after(n: u64, iter: u64, total_sent: u64, sent_last_iter: u64, rate: Option<f64>) -> XenState {
        XenState { n, order: 0, to_send: PageBitmap::new(n), iter, total_sent, sent_last_iter, rate }
    }

    fn tally(sent: u64, skipped: u64) -> RoundTally {
        RoundTally { sent, skipped }
    }

    #[test]
    fn the_defaults_are_xens() {
        assert_eq!(
            xen(),
            XenPolicy { max_iters: 29, min_pages: 50, max_factor: 3.0, skip_redirtied: true, permute: true, rate_limit: None }
        );
    }

    #[test]
    fn a_round_that_started_with_fewer_than_50_dirty_pages_is_the_last() {
        let state = after(1000, 3, 1200, 60, None);
        // Sent and skipped pages both were dirty when the round started: 40 + 9 = 49 < 50.
        assert_eq!(xen().stop_test(&state, tally(40, 9)), Some(Outcome::converged("round 3 started with 49 dirty pages, under 50")));
        // 50 is not under 50.
        assert_eq!(xen().stop_test(&state, tally(40, 10)), None);
    }

    #[test]
    fn the_29th_live_round_is_the_last() {
        assert_eq!(xen().stop_test(&after(1000, 28, 1200, 100, None), tally(100, 0)), None);
        assert_eq!(
            xen().stop_test(&after(1000, 29, 1200, 100, None), tally(100, 0)),
            Some(Outcome::forced("29 live rounds: the iteration cap"))
        );
    }

    #[test]
    fn more_than_three_times_memory_sent_is_the_last() {
        assert_eq!(xen().stop_test(&after(1000, 5, 3000, 100, None), tally(100, 0)), None);
        assert_eq!(xen().stop_test(&after(1000, 5, 3001, 100, None), tally(100, 0)), Some(Outcome::forced("sent more than 3x memory")));
    }

    #[test]
    fn the_stop_tests_apply_in_xens_order() {
        // At the iteration cap and over 3x memory, a small round still counts as converged.
        let state = after(1000, 29, 5000, 100, None);
        assert_eq!(xen().stop_test(&state, tally(10, 0)), Some(Outcome::converged("round 29 started with 10 dirty pages, under 50")));
        // The iteration cap comes before the memory factor.
        assert_eq!(xen().stop_test(&state, tally(100, 0)), Some(Outcome::forced("29 live rounds: the iteration cap")));
    }

    #[test]
    fn clarks_rule_stops_when_the_rate_is_at_its_maximum_and_the_dirty_set_grew() {
        let clark = XenPolicy { rate_limit: Some(ClarkRates { min: 100.0, max: 500.0, increment: 50.0 }), ..xen() };
        let grew = Some(Outcome::converged("rate limit at its maximum and the dirty set grew"));
        assert_eq!(clark.stop_test(&after(1000, 4, 1200, 100, Some(500.0)), tally(101, 0)), grew);
        // Not when the set did not grow, nor below the maximum rate, nor without rate limiting.
        assert_eq!(clark.stop_test(&after(1000, 4, 1200, 100, Some(500.0)), tally(100, 0)), None);
        assert_eq!(clark.stop_test(&after(1000, 4, 1200, 100, Some(499.0)), tally(101, 0)), None);
        assert_eq!(xen().stop_test(&after(1000, 4, 1200, 100, None), tally(101, 0)), None);
    }

    #[test]
    fn clarks_next_rate_is_the_dirty_rate_plus_the_increment_within_min_and_max() {
        let rates = ClarkRates { min: 100.0, max: 500.0, increment: 50.0 };
        // 2000 bytes dirtied in 10 s: 200 bytes/s, + 50.
        assert_eq!(rates.next_round_rate(2000.0, 10.0), 250.0);
        // Never below the first round's rate, never above the cap.
        assert_eq!(rates.next_round_rate(0.0, 10.0), 100.0);
        assert_eq!(rates.next_round_rate(1e6, 10.0), 500.0);
    }

    #[test]
    fn a_rate_limited_run_starts_at_rate_min_and_ends_at_rate_max() {
        // 100 Mbit/s = 12.5 MB/s first, 500 Mbit/s = 62.5 MB/s for the final round.
        let s = scenario("16 MiB", "1 Gbit/s", 2000, "rate_limit = true");
        let run = run(&s, "precopy-xen");
        let evs = events(&run);
        let rates: Vec<(f64, Option<f64>)> = evs
            .iter()
            .filter_map(|(t, e)| match e {
                Event::RateLimited { bytes_per_s } => Some((*t, *bytes_per_s)),
                _ => None,
            })
            .collect();
        assert_eq!(rates[0], (0.0, Some(12.5e6)));
        assert_eq!(rates.last().unwrap().1, Some(62.5e6));
        assert!(rates.iter().all(|(_, r)| (12.5e6..=62.5e6).contains(&r.unwrap())), "{rates:?}");
        // The maximum is set after the last live round and before the pause.
        let paused = evs.iter().position(|(_, e)| matches!(e, Event::SourcePaused)).unwrap();
        let last_rate = evs.iter().rposition(|(_, e)| matches!(e, Event::RateLimited { .. })).unwrap();
        assert!(last_rate < paused);
        // The first round, at 12.5 MB/s, takes its 16 MiB (plus headers) / 12.5 MB/s.
        let first = &run.report.per_round[0];
        assert_eq!(first.kind, RoundKind::Live);
        let seconds = first.end_s - first.start_s;
        assert!((seconds - first.bytes_sent as f64 / 12.5e6).abs() < 1e-3, "{seconds} s for {} bytes", first.bytes_sent);
        assert!(run.report.verified);
    }

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
