//! Task-guided live migration: a coordinator starts pre-copy at an opportune time.
//!
//! C.-C. Lin and Y.-H. Kuo, "A Framework for Task-Guided Virtual Machine Live Migration",
//! IDCS 2018, LNCS 11226, doi:10.1007/978-3-030-02738-4_4 (docs/algorithms/task-guided.md).
//!
//! **Confirmed, from the abstract only \[C\]:** code that updates pages within a small range or at
//! a low frequency is *tagged*; when a tag is detected, a *coordinator* either approves a pending
//! live-migration request or withdraws the permission of an ongoing one, depending on the tag's
//! type, so that migration runs when the guest dirties little memory and the downtime is short.
//! The paper reports shorter downtime and shorter task execution time than migrating at once.
//!
//! **Everything below is a reconstruction \[R\]** (the paper's text was not available); each
//! choice is a parameter of `[params.task-guided]`:
//!
//! * The guest's workload is a sequence of phases; a phase's `tag` marks where a calm region
//!   (`enter-calm`) or a heavy region (`leave-calm`) begins, and untagged phases belong to the
//!   region of the last tag before them. The coordinator reads the current region through
//!   [`crate::context::TaskTags::task_tag`].
//! * State machine (the enum `State`, advanced by `TaskGuided::transition`): *Idle* until the request at `request_at`, then *Pending*. Pending becomes
//!   *Approved* when the guest is in a calm region (checked every `poll_interval` while the guest
//!   runs), or at once when it is in no tagged region at all (an untagged guest gives the
//!   coordinator nothing to wait for, so it behaves like the baseline), or after `max_wait`
//!   without a calm region (so a migration is never postponed for ever). Approved runs pre-copy
//!   with the stop condition `stop`: `xen` (Xen's classic rule: a round that started with fewer
//!   than 50 dirty pages, 29 live rounds, or 3x memory sent) or `downtime-limit` (QEMU's rule:
//!   the bytes still to send fit in measured bandwidth x `downtime_limit`); the machinery is
//!   pre-copy's own ([`super::precopy`]). When the stop condition holds, stop-and-copy → *Done*.
//! * A heavy region that *begins* while approved (the tag changes to `leave-calm` between two
//!   batches, i.e. every 1024 pages) applies the `withdrawal` policy:
//!   `pause` → *Withdrawn*: stop sending but keep dirty logging and everything already sent, and
//!   go on where it stopped at the next approval; `abort` → *Withdrawn*: discard the progress
//!   and start again from scratch (all pages) at the next approval; `suspend-task` →
//!   *TaskSuspended*: suspend the guest's task (its vCPUs are throttled by 99%, the most the
//!   context allows) until the migration finishes, while pre-copy goes on — one reading of the
//!   abstract's "suspension overhead". A withdrawn migration waits for approval as a pending one
//!   does (`max_wait` again). A migration approved by `max_wait` inside a heavy region is not
//!   withdrawn by that same region, only by the next one.
//! * `guided = false` is the baseline (registry variant `task-guided-baseline`): tags are ignored
//!   and the same pre-copy starts at the request.
//!
//! Coordinator changes are recorded as `coordinator` trace events, from which the report derives
//! `withdrawals`, `waiting_time_s` (request to first approval) and `task_delay_s` (how much
//! longer the guest's task ran: wall time minus guest work). At the scenario's timeout the
//! migration is cancelled or forced into stop-and-copy (`migration.on_timeout`), also while the
//! coordinator waits.
//!
//! The `task-phases` preset shows the effect: its guest alternates 35 s of heavy computation and
//! 8 s of calm I/O wait. `task-guided` waits 35 s for the calm region, is withdrawn once, and
//! stops with a downtime of about 10 ms; the baseline (like `precopy-xen`) copies in the heavy
//! region, is forced to stop after sending 3x memory, and stops for about 2 s.

use super::precopy::engine::{Interrupt, Run, Sending, Step};
use super::precopy::qemu::{QemuPolicy, QemuState};
use super::precopy::xen::{XenPolicy, XenState};
use super::precopy::PrecopyParams;
use super::{choice, parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::bitmap::PageBitmap;
use crate::context::{ContextError, CoordinatorState, MigrationContext, Outcome};
use crate::scenario::{OnTimeout, PhaseTag};
use crate::units::Seconds;

choice! {
    /// The `stop` parameter: the pre-copy's stop condition.
    pub enum Stop { Xen = "xen", DowntimeLimit = "downtime-limit" }
}

choice! {
    /// The `withdrawal` parameter: what a heavy region does to an approved migration.
    pub enum Withdrawal { Pause = "pause", Abort = "abort", SuspendTask = "suspend-task" }
}

parameters! {
    /// Task-guided migration's parameters (`[params.task-guided]`).
    pub struct TaskGuidedParams, specs PARAMS {
        guided: bool = (ParamKind::Bool, "true", "follow the guest's tags (false: the baseline, migrate at once on request)"),
        request_at: f64 = (ParamKind::Duration { min: 0.0, max: 1e7 }, "0 s", "when the migration is requested"),
        stop: Stop = (
            ParamKind::Choice(Stop::WORDS),
            "xen",
            "pre-copy stop condition: Xen's (50 pages, 29 rounds, 3x memory) or QEMU's downtime limit"
        ),
        downtime_limit: f64 = (ParamKind::Duration { min: 1e-6, max: 3600.0 }, "300 ms", "downtime-limit: tolerated downtime"),
        withdrawal: Withdrawal = (
            ParamKind::Choice(Withdrawal::WORDS),
            "pause",
            "when a heavy region begins before stop-and-copy: pause sending, abort and restart later, or suspend the task"
        ),
        poll_interval: f64 = (ParamKind::Duration { min: 1e-6, max: 3600.0 }, "10 ms", "how often a waiting coordinator reads the guest's tag"),
        max_wait: f64 = (ParamKind::Duration { min: 0.0, max: 1e7 }, "60 s", "approve anyway after waiting this long for a calm region"),
    }
}

/// The registry entry.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "task-guided",
    section: "task-guided",
    base: None,
    family: Family::PreCopy,
    downtime: Downtime::LastDirtyPages,
    summary: "A coordinator approves pre-copy in the guest's calm (tagged) regions and withdraws it when a heavy one begins",
    paper: "Lin & Kuo, A Framework for Task-Guided Virtual Machine Live Migration, IDCS 2018 (coordinator reconstructed)",
    params: PARAMS,
    fixed: &[],
    build,
};

/// The registry entry of the baseline: tags ignored.
pub const BASELINE_INFO: AlgorithmInfo = AlgorithmInfo {
    name: "task-guided-baseline",
    summary: "Task-guided's baseline: tags ignored, the same pre-copy starts as soon as the migration is requested",
    paper: "Lin & Kuo, IDCS 2018 (baseline: migrate at once)",
    fixed: &[("guided", "false")],
    ..INFO
};

/// How much of the vCPUs' time `suspend-task` takes away (the context's maximum throttle).
pub const SUSPEND_THROTTLE: f64 = 0.99;

/// Task-guided migration (see the module docs).
#[derive(Debug, Clone)]
pub struct TaskGuided {
    guided: bool,
    request_at: f64,
    stop: StopRule,
    sending: Sending,
    withdrawal: Withdrawal,
    poll_interval: f64,
    max_wait: f64,
}

/// The pre-copy's stop condition, with pre-copy's defaults for everything else. It sends at the
/// link's speed: QEMU's rate cap is QEMU's, not the coordinator's.
#[derive(Debug, Clone)]
enum StopRule {
    Xen(XenPolicy),
    DowntimeLimit(QemuPolicy),
}

/// Builds task-guided migration from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let p = TaskGuidedParams::from_params(p);
    let defaults = PrecopyParams::defaults();
    let stop = match p.stop {
        Stop::Xen => StopRule::Xen(XenPolicy::from_params(&defaults)),
        Stop::DowntimeLimit => StopRule::DowntimeLimit(QemuPolicy {
            downtime_limit: p.downtime_limit,
            max_bandwidth: None,
            ..QemuPolicy::from_params(&defaults)
        }),
    };
    // Zero pages as flags with QEMU's rule, as pre-copy's `zero_pages = "auto"` does.
    let sending = Sending { zero_pages: p.stop == Stop::DowntimeLimit, ..defaults.sending() };
    Box::new(TaskGuided {
        guided: p.guided,
        request_at: p.request_at,
        stop,
        sending,
        withdrawal: p.withdrawal,
        poll_interval: p.poll_interval,
        max_wait: p.max_wait,
    })
}

/// A pre-copy in progress, under either stop condition.
enum Engine {
    Xen(XenPolicy, XenState),
    Qemu(QemuPolicy, QemuState),
}

impl Engine {
    /// Starts a pre-copy from scratch: dirty logging on, every page to send.
    fn start(stop: &StopRule, run: &mut Run<'_>) -> Result<Engine, ContextError> {
        run.start_dirty_log()?;
        Ok(match stop {
            StopRule::Xen(xen) => Engine::Xen(xen.clone(), xen.start(run)?),
            StopRule::DowntimeLimit(qemu) => Engine::Qemu(qemu.clone(), qemu.start(run)?),
        })
    }

    /// One round: Xen's, or QEMU's from one sync of the dirty log to the next.
    fn step(&mut self, run: &mut Run<'_>, interrupt: &mut Interrupt<'_>) -> Result<Step, ContextError> {
        match self {
            Engine::Xen(xen, state) => xen.round(run, state, interrupt),
            Engine::Qemu(qemu, state) => qemu.round(run, state, interrupt),
        }
    }

    /// Continues after a pause: adds what the guest dirtied meanwhile.
    fn absorb_dirty(&mut self, run: &mut Run<'_>) -> Result<(), ContextError> {
        match self {
            Engine::Xen(_, state) => state.absorb_dirty(run),
            Engine::Qemu(_, state) => state.absorb_dirty(run),
        }
    }

    /// The pages known to be owed (the dirty log holds the rest).
    fn owed(&self) -> &PageBitmap {
        match self {
            Engine::Xen(_, state) => state.owed(),
            Engine::Qemu(_, state) => state.owed(),
        }
    }
}

/// What an approved coordinator watches between batches: the guest's tag, to see a heavy
/// region begin, and whether it has suspended the guest's task.
struct Watch {
    last_tag: Option<PhaseTag>,
    suspended: bool,
}

/// The coordinator's state machine (the module docs'): each state holds what it needs.
enum State {
    /// The guest runs; no migration has been requested yet.
    Idle,
    /// A migration was requested and waits for approval.
    Pending,
    /// Pre-copy runs.
    Approved { engine: Engine, watch: Watch },
    /// Pre-copy runs while the guest's task is suspended, until the migration finishes.
    TaskSuspended { engine: Engine, watch: Watch },
    /// Sending stopped; waits for approval again, to continue `kept` (pause) or start anew
    /// (abort: None).
    Withdrawn { kept: Option<Engine> },
    /// Stop-and-copy is done, or the timeout ended the migration.
    Done(Outcome),
}

impl TaskGuided {
    /// The coordinator's transition function: what happens in `state`, and the state after.
    fn transition(&self, state: State, run: &mut Run<'_>) -> Result<State, ContextError> {
        match state {
            State::Idle => self.wait_for_request(run),
            State::Pending => self.wait_for_approval(run, None),
            State::Withdrawn { kept } => self.wait_for_approval(run, kept),
            State::Approved { engine, watch } | State::TaskSuspended { engine, watch } => self.precopy_step(run, engine, watch),
            State::Done(outcome) => Ok(State::Done(outcome)),
        }
    }

    /// Idle → Pending at `request_at` (→ Done if the timeout passes first).
    fn wait_for_request(&self, run: &mut Run<'_>) -> Result<State, ContextError> {
        while run.ctx().now() < self.request_at && !run.ctx().deadline_passed() {
            run.ctx().wait_fault_until(self.request_at)?;
        }
        let now = run.ctx().now();
        run.ctx().coordinator(CoordinatorState::Pending, &format!("migration requested at {}", Seconds(now)));
        if run.ctx().deadline_passed() {
            return Ok(State::Done(self.timeout_while_waiting(run, None)?));
        }
        Ok(State::Pending)
    }

    /// Pending or Withdrawn → Approved once the coordinator approves, continuing `kept` or
    /// starting pre-copy from scratch (→ Done if the timeout passes first).
    fn wait_for_approval(&self, run: &mut Run<'_>, kept: Option<Engine>) -> Result<State, ContextError> {
        let Some(reason) = self.await_approval(run.ctx())? else {
            return Ok(State::Done(self.timeout_while_waiting(run, kept.as_ref())?));
        };
        run.ctx().coordinator(CoordinatorState::Approved, &reason);
        let engine = match kept {
            Some(mut engine) => {
                engine.absorb_dirty(run)?;
                engine
            }
            None => Engine::start(&self.stop, run)?,
        };
        let watch = Watch { last_tag: run.ctx().task_tag()?, suspended: false };
        Ok(State::Approved { engine, watch })
    }

    /// Approved or TaskSuspended: one pre-copy round, the coordinator watching between
    /// batches. → the same (or TaskSuspended) for the next round, Withdrawn when a heavy region
    /// began, Done when stop-and-copy is done or the timeout passed.
    fn precopy_step(&self, run: &mut Run<'_>, mut engine: Engine, mut watch: Watch) -> Result<State, ContextError> {
        let step = engine.step(run, &mut |ctx| self.heavy_region_begins(ctx, &mut watch))?;
        match step {
            Step::Next if watch.suspended => Ok(State::TaskSuspended { engine, watch }),
            Step::Next => Ok(State::Approved { engine, watch }),
            Step::Stopped(outcome) => {
                run.ctx().coordinator(CoordinatorState::Done, "stop-and-copy done: the VM runs on the destination");
                Ok(State::Done(outcome))
            }
            Step::TimedOut(outcome) => {
                if run.ctx().timeout_action() == OnTimeout::ForceStop {
                    run.ctx().coordinator(CoordinatorState::Done, "timeout: forced stop-and-copy");
                } else if watch.suspended {
                    // Cancelled: the guest stays on the source, and its task goes on.
                    run.ctx().set_throttle(0.0)?;
                }
                Ok(State::Done(outcome))
            }
            Step::Interrupted if self.withdrawal == Withdrawal::Abort => {
                run.ctx().coordinator(
                    CoordinatorState::Withdrawn,
                    "a heavy region (leave-calm) began before stop-and-copy: migration aborted, to restart from scratch",
                );
                Ok(State::Withdrawn { kept: None })
            }
            Step::Interrupted => {
                run.ctx().coordinator(
                    CoordinatorState::Withdrawn,
                    "a heavy region (leave-calm) began before stop-and-copy: sending paused, dirty logging and sent pages kept",
                );
                Ok(State::Withdrawn { kept: Some(engine) })
            }
        }
    }

    /// Asked before every batch of an approved pre-copy: whether a heavy region has just
    /// begun and the round must stop (pause, abort). With `suspend-task` the guest's task is
    /// suspended instead (once) and the round goes on.
    fn heavy_region_begins(&self, ctx: &mut dyn MigrationContext, watch: &mut Watch) -> Result<bool, ContextError> {
        if !self.guided {
            return Ok(false);
        }
        let tag = ctx.task_tag()?;
        let begins = tag == Some(PhaseTag::LeaveCalm) && watch.last_tag != Some(PhaseTag::LeaveCalm);
        watch.last_tag = tag;
        if !begins {
            return Ok(false);
        }
        if self.withdrawal != Withdrawal::SuspendTask {
            return Ok(true);
        }
        if !watch.suspended {
            watch.suspended = true;
            ctx.set_throttle(SUSPEND_THROTTLE)?;
            ctx.coordinator(
                CoordinatorState::TaskSuspended,
                "a heavy region (leave-calm) began before stop-and-copy: the task is suspended until the migration finishes",
            );
        }
        Ok(false)
    }

    /// Waits, the guest running, until the coordinator approves; returns why, or None if the
    /// scenario's timeout passed first.
    fn await_approval(&self, ctx: &mut dyn MigrationContext) -> Result<Option<String>, ContextError> {
        if !self.guided {
            return Ok(Some("baseline: tags are ignored, pre-copy starts at once".into()));
        }
        let give_up = ctx.now() + self.max_wait;
        loop {
            match ctx.task_tag()? {
                Some(PhaseTag::EnterCalm) => return Ok(Some("the guest is in a calm region (enter-calm)".into())),
                None => return Ok(Some("the guest is in no tagged region".into())),
                Some(PhaseTag::LeaveCalm) => {}
            }
            if ctx.now() >= give_up {
                return Ok(Some(format!("no calm region within max_wait ({}): approved in a heavy region", Seconds(self.max_wait))));
            }
            if ctx.deadline_passed() {
                return Ok(None);
            }
            let next = (ctx.now() + self.poll_interval).min(give_up);
            ctx.wait_fault_until(next)?;
        }
    }

    /// The timeout passed while the coordinator waited: cancel, or stop and copy what is owed
    /// (every page if pre-copy never started or was aborted).
    fn timeout_while_waiting(&self, run: &mut Run<'_>, engine: Option<&Engine>) -> Result<Outcome, ContextError> {
        let remaining = match engine {
            Some(e) => e.owed().clone(),
            None => PageBitmap::full(run.ctx().page_count()),
        };
        let outcome = run.end_at_timeout(remaining)?;
        if run.ctx().timeout_action() == OnTimeout::ForceStop {
            run.ctx().coordinator(CoordinatorState::Done, "timeout while waiting: forced stop-and-copy");
        }
        Ok(outcome)
    }
}

impl Algorithm for TaskGuided {
    /// Runs the coordinator's state machine from Idle to Done.
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let mut run = Run::new(ctx, self.sending.plain_pages(), &self.sending);
        let mut state = State::Idle;
        loop {
            state = match self.transition(state, &mut run)? {
                State::Done(outcome) => return Ok(outcome),
                next => next,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::CoordinatorState as S;
    use crate::trace::{Event, TraceDetail};
    use crate::{simulate, Run as SimRun, Scenario};

    /// A 64 MiB VM (16384 pages) on a 1 Gbit/s link, so one full copy takes about 0.54 s, whose
    /// guest runs the given regions in a loop: "heavy" (tagged leave-calm: 40,000 writes/s over
    /// 8 MiB) or "calm" (tagged enter-calm: 100 writes/s over 1 MiB), each for its seconds.
    fn regions(list: &[(&str, f64)], params: &str) -> Scenario {
        let mut phases = String::new();
        for (kind, seconds) in list {
            let (tag, rate, ws) = if *kind == "heavy" { ("leave-calm", 40000, 8) } else { ("enter-calm", 100, 1) };
            phases += &format!(
                "[[workload.phases]]\nname = \"{kind}\"\nduration = \"{seconds} s\"\ntag = \"{tag}\"\npattern = \"uniform\"\n\
                 write_rate = \"{rate} pages/s\"\nworking_set = \"{ws} MiB\"\n"
            );
        }
        Scenario::from_toml_str(&format!(
            "[vm]\nmemory = \"64 MiB\"\n[link]\nbandwidth = \"1 Gbit/s\"\n[migration]\ntimeout = \"60 s\"\n\
             [params.task-guided]\n{params}\n[workload]\n{phases}"
        ))
        .unwrap()
    }

    /// Two regions: `first` ("heavy" or "calm"), then the other.
    fn phases(first: &str, heavy: f64, calm: f64, params: &str) -> Scenario {
        if first == "heavy" {
            regions(&[("heavy", heavy), ("calm", calm)], params)
        } else {
            regions(&[("calm", calm), ("heavy", heavy)], params)
        }
    }

    fn go(s: &Scenario, algorithm: &str) -> SimRun {
        simulate(s, Some(algorithm), TraceDetail::Summary).unwrap()
    }

    /// The coordinator's states with their times.
    fn states(run: &SimRun) -> Vec<(f64, S)> {
        run.trace
            .events
            .iter()
            .filter_map(|e| match &e.event {
                Event::Coordinator { state, .. } => Some((e.t, *state)),
                _ => None,
            })
            .collect()
    }

    fn first_send(run: &SimRun) -> f64 {
        run.trace.events.iter().find(|e| matches!(e.event, Event::PagesSent { .. })).map(|e| e.t).unwrap()
    }

    #[test]
    fn approval_waits_for_a_calm_region() {
        let s = phases("heavy", 2.0, 3.0, "");
        let run = go(&s, "task-guided");
        let st = states(&run);
        assert_eq!(st[0], (0.0, S::Pending));
        assert_eq!(st[1].1, S::Approved);
        // Approved within one poll interval of the calm region's start (guest time = wall time
        // before the migration).
        assert!((2.0..2.011).contains(&st[1].0), "{st:?}");
        assert!(first_send(&run) >= 2.0);
        assert_eq!(st.last().unwrap().1, S::Done);
        let r = &run.report;
        assert!(r.converged && r.verified, "{}", r.stop_reason);
        assert_eq!(r.withdrawals, Some(0));
        assert!((r.waiting_time_s.unwrap() - st[1].0).abs() < 1e-12);
        // The guest only lost the downtime.
        assert!((r.task_delay_s.unwrap() - r.downtime_s).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn a_guest_already_in_a_calm_region_is_approved_at_once() {
        let run = go(&phases("calm", 2.0, 3.0, ""), "task-guided");
        let st = states(&run);
        assert_eq!(&st[..2], &[(0.0, S::Pending), (0.0, S::Approved)]);
        assert_eq!(run.report.waiting_time_s, Some(0.0));
    }

    #[test]
    fn the_baseline_starts_at_once_and_pays_in_downtime() {
        let s = phases("heavy", 2.0, 3.0, "");
        let base = go(&s, "task-guided-baseline");
        let st = states(&base);
        assert_eq!(&st[..2], &[(0.0, S::Pending), (0.0, S::Approved)]);
        assert_eq!(first_send(&base), 0.0);
        assert_eq!(base.report.waiting_time_s, Some(0.0));
        assert_eq!(base.report.withdrawals, Some(0));
        let guided = go(&s, "task-guided");
        assert!(base.report.verified && guided.report.verified);
        assert!(
            guided.report.downtime_s * 3.0 < base.report.downtime_s,
            "guided {} vs baseline {}",
            guided.report.downtime_s,
            base.report.downtime_s
        );
        // The baseline pays the same with `guided = false` set by hand.
        let by_hand = go(&phases("heavy", 2.0, 3.0, "guided = false"), "task-guided");
        assert_eq!(by_hand.report.downtime_s, base.report.downtime_s);
    }

    #[test]
    fn the_request_time_is_honoured() {
        let run = go(&phases("calm", 2.0, 3.0, "request_at = \"1 s\"\nguided = false"), "task-guided");
        assert_eq!(states(&run)[0], (1.0, S::Pending));
        assert_eq!(first_send(&run), 1.0);
    }

    /// Calm regions of 0.4 s, too short for one full copy (0.54 s) but long enough for the rest
    /// of it: a heavy region begins while pre-copy runs.
    fn short_calm(withdrawal: &str) -> SimRun {
        go(&phases("calm", 1.0, 0.4, &format!("withdrawal = \"{withdrawal}\"")), "task-guided")
    }

    #[test]
    fn pause_withdraws_when_a_heavy_region_begins_and_resumes_where_it_stopped() {
        let run = short_calm("pause");
        let st = states(&run);
        assert_eq!(st[1], (0.0, S::Approved));
        assert_eq!(st[2].1, S::Withdrawn);
        assert!((0.4..0.44).contains(&st[2].0), "withdrawn within a batch of the heavy region's start: {st:?}");
        // Nothing is sent while withdrawn; sending resumes with the next calm region (1.4 s).
        let resumed = st[3];
        assert_eq!(resumed.1, S::Approved);
        assert!((1.4..1.411).contains(&resumed.0), "{st:?}");
        let idle_link = run.trace.events.iter().any(|e| matches!(e.event, Event::PagesSent { .. }) && e.t > st[2].0 && e.t < resumed.0);
        assert!(!idle_link, "pages sent while withdrawn");
        // Progress was kept: the second approval finished the copy, sending what was owed and
        // what the heavy region dirtied, not memory again.
        let r = &run.report;
        assert!(r.converged && r.verified, "{}", r.stop_reason);
        assert_eq!(r.withdrawals, Some(1));
        assert!(r.pages_sent < 16384 + 2048 + 500, "{} pages sent", r.pages_sent);
        assert_eq!(st.last().unwrap().1, S::Done);
        assert!(r.downtime_s < 0.01, "{}", r.downtime_s);
        assert!((r.task_delay_s.unwrap() - r.downtime_s).abs() < 1e-6, "a withdrawal costs the task nothing");
    }

    #[test]
    fn abort_discards_the_progress_and_restarts_from_scratch() {
        // A calm region too short, a heavy one, then a calm one long enough.
        let s = |w: &str| regions(&[("calm", 0.3), ("heavy", 1.0), ("calm", 3.0)], &format!("withdrawal = \"{w}\""));
        let pause = go(&s("pause"), "task-guided");
        let abort = go(&s("abort"), "task-guided");
        let st = states(&abort);
        assert_eq!(st.iter().map(|x| x.1).collect::<Vec<_>>(), [S::Pending, S::Approved, S::Withdrawn, S::Approved, S::Done]);
        // The restart sends all of memory again.
        let after: u64 = abort
            .trace
            .events
            .iter()
            .filter(|e| e.t >= st[3].0)
            .map(|e| if let Event::PagesSent { count, .. } = e.event { count } else { 0 })
            .sum();
        assert!(after >= 16384, "{after} pages sent after the restart");
        assert!(abort.report.pages_sent > pause.report.pages_sent + 8000);
        assert!(abort.report.converged && abort.report.verified);
        assert_eq!((abort.report.withdrawals, pause.report.withdrawals), (Some(1), Some(1)));
    }

    #[test]
    fn abort_can_starve_when_calm_regions_are_shorter_than_a_full_copy() {
        // Every calm region is too short, so an aborting coordinator never finishes; the
        // timeout cancels the migration (the VM stays on the source).
        let s = phases("calm", 1.0, 0.4, "withdrawal = \"abort\"").with_overrides(&["migration.timeout=\"5 s\"".into()]).unwrap();
        let run = go(&s, "task-guided");
        assert!(!run.report.converged && !run.report.completed);
        assert!(run.report.withdrawals.unwrap() >= 4, "{:?}", run.report.withdrawals);
    }

    #[test]
    fn suspend_task_throttles_the_guest_and_keeps_sending() {
        let run = short_calm("suspend-task");
        let st = states(&run);
        assert_eq!(st.iter().map(|x| x.1).collect::<Vec<_>>(), [S::Pending, S::Approved, S::TaskSuspended, S::Done]);
        let r = &run.report;
        assert!(r.converged && r.verified);
        assert_eq!(r.max_throttle, SUSPEND_THROTTLE);
        assert_eq!(r.withdrawals, Some(1));
        // The task lost 99% of the time from its suspension to the pause, then the downtime.
        let suspended_for = r.preparation_time_s - st[2].0;
        let expected = SUSPEND_THROTTLE * suspended_for + r.downtime_s;
        assert!((r.task_delay_s.unwrap() - expected).abs() < 1e-3, "{r:?}");
        // The link never idled: one uninterrupted pre-copy, done before the paused one.
        assert!(r.total_time_s < short_calm("pause").report.total_time_s);
    }

    #[test]
    fn max_wait_bounds_the_wait_for_a_calm_region() {
        // Only heavy tags: no calm region ever comes.
        let s = Scenario::from_toml_str(
            "[vm]\nmemory = \"16 MiB\"\n[params.task-guided]\nmax_wait = \"0.5 s\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 100\n\
             [[workload.phases]]\nduration = \"1 s\"\ntag = \"leave-calm\"\n",
        )
        .unwrap();
        let run = go(&s, "task-guided");
        let st = states(&run);
        assert_eq!(st[1], (0.5, S::Approved));
        // Approved in the heavy region, it is not withdrawn by that same region.
        assert_eq!(run.report.withdrawals, Some(0));
        assert!(run.report.verified);
    }

    #[test]
    fn an_untagged_guest_is_approved_at_once() {
        let s = Scenario::from_toml_str("[vm]\nmemory = \"16 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 100\n").unwrap();
        let run = go(&s, "task-guided");
        assert_eq!(&states(&run)[..2], &[(0.0, S::Pending), (0.0, S::Approved)]);
        assert!(run.report.converged && run.report.verified);
        // Other algorithms' reports carry no coordinator fields.
        let plain = go(&s, "precopy-xen").report;
        assert_eq!((plain.withdrawals, plain.waiting_time_s, plain.task_delay_s), (None, None, None));
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("withdrawals").is_none());
    }

    #[test]
    fn the_downtime_limit_stop_condition_works_under_guidance() {
        let limit = "stop = \"downtime-limit\"\ndowntime_limit = \"20 ms\"";
        let run = go(&phases("heavy", 2.0, 3.0, limit), "task-guided");
        let r = &run.report;
        assert!(r.converged && r.verified, "{}", r.stop_reason);
        assert!(r.stop_reason.contains("pending"), "{}", r.stop_reason);
        assert!(r.downtime_s < 0.02, "{}", r.downtime_s);
        assert!(states(&run)[1].0 >= 2.0);
        // QEMU's rule sends zero pages as flags, so its first pass is quicker than Xen's.
        let short = go(&phases("calm", 1.0, 0.1, limit), "task-guided");
        assert!(short.report.withdrawals.unwrap() >= 1, "{:?}", short.report.withdrawals);
        assert!(short.report.converged && short.report.verified);
    }

    #[test]
    fn a_timeout_while_waiting_cancels_or_forces_the_copy() {
        let s = phases("heavy", 20.0, 3.0, "").with_overrides(&["migration.timeout=\"1 s\"".into()]).unwrap();
        let cancelled = go(&s, "task-guided");
        assert!(!cancelled.report.converged && !cancelled.report.completed);
        assert_eq!(cancelled.report.pages_sent, 0);
        let forced = go(&s.with_overrides(&["migration.on_timeout=\"force-stop\"".into()]).unwrap(), "task-guided");
        assert!(!forced.report.converged && forced.report.verified);
        assert_eq!(states(&forced).last().unwrap().1, S::Done);
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let info = crate::algorithms::find("task-guided").unwrap();
        for (key, value, field) in [
            ("poll_interval", "-10 ms", "params.task-guided.poll_interval:"),
            ("poll_interval", "0 s", "params.task-guided.poll_interval:"),
            ("withdrawal", "retry", "params.task-guided.withdrawal: 'retry' is not accepted: one of pause, abort, suspend-task"),
            ("stop", "qemu", "params.task-guided.stop:"),
            ("max_wait", "-1 s", "params.task-guided.max_wait:"),
        ] {
            let given = std::collections::BTreeMap::from([(
                "task-guided".to_string(),
                std::collections::BTreeMap::from([(key.to_string(), serde_json::Value::String(value.into()))]),
            )]);
            let e = crate::algorithms::build(info, &given).err().unwrap().to_string();
            assert!(e.starts_with(field), "{key} = {value}: {e}");
        }
        let e = Scenario::from_toml_str("[params.task-guided]\nwithdrawal = \"retry\"").unwrap_err().to_string();
        assert!(e.starts_with("params.task-guided.withdrawal:"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        /// Over random tagged workloads, policies and timeouts: the run ends with all memory
        /// on the destination or, only when the timeout cancelled it, on the source; nothing is
        /// sent while the permission is withdrawn; and the report's coordinator figures match
        /// the trace.
        #[test]
        fn tagged_runs_end_correctly(
            pages in 256u64..2048,
            bandwidth in 1e7f64..1e9,
            heavy in 0.05f64..2.0,
            calm in 0.05f64..2.0,
            heavy_rate in 0.2f64..3.0,
            heavy_first: bool,
            untagged_middle: bool,
            withdrawal in 0usize..3,
            downtime_limit: bool,
            force: bool,
            timeout in 1.0f64..20.0,
        ) {
            let full_copy = pages as f64 * 4104.0 / bandwidth;
            let heavy_phase = format!(
                "[[workload.phases]]\nduration = \"{} s\"\ntag = \"leave-calm\"\npattern = \"uniform\"\nwrite_rate = {}\n",
                heavy * full_copy, heavy_rate * bandwidth / 4104.0
            );
            let calm_phase = format!(
                "[[workload.phases]]\nduration = \"{} s\"\ntag = \"enter-calm\"\npattern = \"uniform\"\nwrite_rate = 10\n\
                 working_set = \"64 KiB\"\n",
                calm * full_copy
            );
            let middle = if untagged_middle { format!("[[workload.phases]]\nduration = \"{} s\"\n", 0.3 * full_copy) } else { String::new() };
            let phases = if heavy_first { format!("{heavy_phase}{middle}{calm_phase}") } else { format!("{calm_phase}{middle}{heavy_phase}") };
            let text = format!(
                "[vm]\nmemory = \"{} KiB\"\n[link]\nbandwidth = \"{} B/s\"\n[migration]\ntimeout = \"{} s\"\non_timeout = \"{}\"\n\
                 [params.task-guided]\nwithdrawal = \"{}\"\nstop = \"{}\"\nmax_wait = \"{} s\"\n\
                 [workload]\npattern = \"uniform\"\nwrite_rate = 100\n{phases}",
                pages * 4,
                bandwidth,
                timeout * full_copy,
                if force { "force-stop" } else { "cancel" },
                ["pause", "abort", "suspend-task"][withdrawal],
                if downtime_limit { "downtime-limit" } else { "xen" },
                3.0 * full_copy,
            );
            let s = Scenario::from_toml_str(&text).unwrap();
            let run = go(&s, "task-guided");
            let r = &run.report;
            let resumed = run.trace.events.iter().any(|e| matches!(e.event, Event::DestinationResumed));
            proptest::prop_assert!(if resumed { r.completed && r.verified } else { !force && !r.converged }, "{r:?}\n{text}");
            let st = states(&run);
            proptest::prop_assert_eq!(st[0].1, S::Pending);
            proptest::prop_assert_eq!(st.last().unwrap().1 == S::Done, resumed);
            let withdrawn = st.iter().filter(|x| matches!(x.1, S::Withdrawn | S::TaskSuspended)).count() as u32;
            proptest::prop_assert_eq!(r.withdrawals, Some(withdrawn));
            // Between a withdrawal and the next approval the link carries nothing (a forced
            // stop-and-copy at the timeout excepted).
            let mut withdrawn_since = None;
            for e in &run.trace.events {
                match &e.event {
                    Event::Coordinator { state: S::Withdrawn, .. } => withdrawn_since = Some(e.t),
                    Event::Coordinator { .. } | Event::SourcePaused => withdrawn_since = None,
                    Event::PagesSent { .. } => proptest::prop_assert!(withdrawn_since.is_none(), "sent at {} while withdrawn\n{}", e.t, text),
                    _ => {}
                }
            }
            proptest::prop_assert!(r.task_delay_s.unwrap() >= r.downtime_s - 1e-9);
        }
    }
}
