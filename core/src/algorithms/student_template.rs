//! The student template: the smallest complete migration algorithm, to copy and change.
//!
//! It is a pre-copy with a fixed number of live rounds (Clark et al., NSDI 2005, without any
//! stop rule): round 1 sends every page while the VM runs, each later live round sends the
//! pages the guest dirtied during the round before, and then the VM is paused and whatever is
//! still dirty goes with the CPU state (stop-and-copy). With `live_rounds = 0` it is plain
//! stop-and-copy: the whole memory is sent while the VM is paused.
//!
//! # Start your own algorithm from this file, in five steps
//!
//! 1. Copy this file to `core/src/algorithms/my_algorithm.rs` and rename the struct.
//! 2. Name it: change `name` and `section` in its [`INFO`] below (e.g. `"my-algorithm"`).
//!    Register it: in `core/src/algorithms/mod.rs` add `pub mod my_algorithm;` beside the other
//!    modules and the one line `my_algorithm::INFO,` to `REGISTRY`.
//! 3. Change `run` below: decide what to send in each round and when to stop.
//! 4. `cargo test -p livemig-core --test invariants` runs your algorithm on hundreds of random
//!    scenarios and checks the invariants (memory verified at the end, totals consistent, runs
//!    deterministic).
//! 5. `livemig assignment check student-algorithm answers.toml` grades it against the stated
//!    metrics (write your algorithm's registry name as the answer).
//!
//! # The context API in one page
//!
//! An algorithm only ever talks to a [`MigrationContext`] (a few small traits, one per
//! concern: see `core/src/context/mod.rs`); the simulator and the real-KVM backend both
//! implement it, so the same code migrates a simulated and a real guest.
//!
//! * Sizes and time: `page_count()`, `page_size()`, `now()` (seconds since the start),
//!   `deadline_passed()` (the scenario's timeout) and `timeout_action()` (cancel or force).
//! * The dirty log: `start_dirty_log()` starts recording the guest's writes and returns the
//!   proof that it is on (`DirtyLogging`); `fetch_dirty(&logging)` returns the pages written
//!   since the last fetch and clears the log; `peek_dirty(&logging)` looks without clearing.
//! * Sending: `send_pages(&pages, Channel::Bulk)` sends whole pages (time passes by
//!   bytes / bandwidth, and the guest keeps writing meanwhile); `send_state()` sends the CPU and
//!   device state. There are also encoded sends (zero pages, compression, deltas).
//! * Rounds: `begin_round(kind)` / `end_round()` group the sends as the report's `per_round`
//!   shows them. Every send must happen inside a round.
//! * Switching over: `pause_source()` stops the guest (the downtime starts) and returns the
//!   proof that it is paused (`Paused`), which `send_state(&paused)` needs and
//!   `resume_destination(paused)` uses up to start it on the destination (the downtime ends);
//!   so the calls cannot come in the wrong order. A page that was
//!   never sent is absent there and faults when the guest touches it (post-copy serves such
//!   faults with `poll_fault()` / `wait_fault()`).
//!
//! The run returns an [`Outcome`]: `converged` when the algorithm's own plan completed,
//! `forced` when something else (here, the timeout) ended it. The simulator then checks that the
//! destination's memory equals the guest's, page by page: the report's `verified`.

use super::{parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, MigrationContext, Outcome, RoundKind};
use crate::scenario::OnTimeout;

/// The registry entry (`REGISTRY` in `mod.rs` lists it as `student_template::INFO`): in your
/// copy, change `name` and `section` (the name on the command line and the `[params.<section>]`
/// table it reads), `summary` and `paper`.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "student-template",
    section: "student-template",
    base: None,
    family: Family::PreCopy,
    downtime: Downtime::LastDirtyPages,
    summary: "The student template: a fixed number of live pre-copy rounds, then stop-and-copy (copy it to start your own)",
    paper: "Clark et al., NSDI 2005 (pre-copy without a stop rule); core/src/algorithms/student_template.rs",
    params: PARAMS,
    fixed: &[],
    build,
};

parameters! {
    /// Declared parameters: the CLI, the web form and scenario validation read the list this
    /// declares (`PARAMS`), so a parameter is described and range-checked in one place, and its
    /// value arrives in a typed field. Set it in a scenario with `[params.student-template]`
    /// `live_rounds = 3`, or `--set params.student-template.live_rounds=3`.
    pub struct TemplateParams, specs PARAMS {
        live_rounds: i64 = (ParamKind::Int { min: 0, max: 30 }, "1", "live rounds before stop-and-copy (0: plain stop-and-copy)"),
    }
}

/// Pages handed to the context per send call: small enough that the timeout is noticed soon.
const BATCH: usize = 1024;

/// A fixed number of live pre-copy rounds, then stop-and-copy (see the module docs).
#[derive(Debug, Clone)]
pub struct StudentTemplate {
    live_rounds: i64,
}

/// Builds the algorithm from its resolved parameters (the registry calls this).
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    Box::new(StudentTemplate { live_rounds: TemplateParams::from_params(p).live_rounds })
}

impl Algorithm for StudentTemplate {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let n = ctx.page_count();
        // From now on every guest write is recorded.
        let logging = ctx.start_dirty_log()?;
        // What the next round must send: at first, every page.
        let mut to_send: Vec<u64> = (0..n).collect();
        let mut forced = None;

        for _ in 0..self.live_rounds {
            if to_send.is_empty() {
                break;
            }
            ctx.begin_round(RoundKind::Live);
            let mut sent = 0;
            for batch in to_send.chunks(BATCH) {
                if ctx.deadline_passed() {
                    break;
                }
                // Time passes while the pages travel, and the guest dirties more meanwhile.
                ctx.send_pages(batch, Channel::Bulk)?;
                sent += batch.len();
            }
            ctx.end_round();
            if sent < to_send.len() {
                // The timeout passed in the middle of a round.
                if ctx.timeout_action() == OnTimeout::Cancel {
                    // Give up: the VM keeps running on the source, nothing is switched over.
                    return Ok(Outcome::forced("timeout: migration cancelled, the VM stays on the source"));
                }
                // Force the switch-over: what this round did not send goes in the downtime.
                to_send.drain(..sent);
                forced = Some("timeout: forced into stop-and-copy");
                break;
            }
            // The next round sends what the guest wrote during this one.
            to_send = ctx.fetch_dirty(&logging)?.iter().collect();
        }

        // Stop-and-copy: pause, send what is still dirty and the CPU state, resume there.
        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        let mut last = PageBitmap::new(n);
        for &p in &to_send {
            last.set(p);
        }
        // Pages written since the last fetch (the guest ran until the pause).
        last.union_with(&ctx.fetch_dirty(&logging)?);
        let last: Vec<u64> = last.iter().collect();
        for batch in last.chunks(BATCH) {
            ctx.send_pages(batch, Channel::Bulk)?;
        }
        ctx.send_state(&paused)?;
        ctx.resume_destination(paused)?;
        ctx.end_round();
        Ok(match forced {
            Some(reason) => Outcome::forced(reason),
            None => Outcome::converged(format!("{} live round(s), then stop-and-copy", self.live_rounds)),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::presets::preset;
    use crate::simulate;
    use crate::trace::TraceDetail;

    #[test]
    fn one_live_round_sends_memory_once_plus_what_was_dirtied_and_verifies() {
        let s = preset("write-hot-database")
            .unwrap()
            .unwrap()
            .with_overrides(&["vm.memory=64MiB".into(), "workload.working_set=32MiB".into()])
            .unwrap();
        let r = simulate(&s, Some("student-template"), TraceDetail::Summary).unwrap().report;
        assert!(r.verified && r.converged, "{r:?}");
        assert_eq!(r.rounds, 2);
        assert!(r.pages_sent > s.page_count(), "{}", r.pages_sent);
        // Plain stop-and-copy: every page once, all of it in the downtime.
        let stop = s.with_overrides(&["params.student-template.live_rounds=0".into()]).unwrap();
        let r0 = simulate(&stop, Some("student-template"), TraceDetail::Summary).unwrap().report;
        assert!(r0.verified);
        assert_eq!(r0.pages_sent, stop.page_count());
        assert!(r0.downtime_s > r.downtime_s * 5.0, "{} vs {}", r0.downtime_s, r.downtime_s);
    }

    #[test]
    fn a_timeout_cancels_or_forces() {
        let s = preset("write-hot-database")
            .unwrap()
            .unwrap()
            .with_overrides(&["vm.memory=64MiB".into(), "workload.working_set=32MiB".into(), "migration.timeout=50ms".into()])
            .unwrap();
        let r = simulate(&s, Some("student-template"), TraceDetail::Summary).unwrap().report;
        assert!(!r.converged && !r.completed, "{r:?}");
        let f = s.with_overrides(&["migration.on_timeout=force-stop".into()]).unwrap();
        let r = simulate(&f, Some("student-template"), TraceDetail::Summary).unwrap().report;
        assert!(!r.converged && r.completed && r.verified, "{r:?}");
    }
}
