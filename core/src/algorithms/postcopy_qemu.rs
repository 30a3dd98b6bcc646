//! QEMU's post-copy: pre-copy passes first, then a switch to post-copy for what is still dirty.
//!
//! This is how QEMU runs post-copy in practice [C: QEMU `migration/migration.c`,
//! `migration/ram.c`, `docs/devel/migration.rst` "Postcopy"]: the `postcopy-ram` capability is
//! set on both sides, the migration starts as an ordinary pre-copy, and the management layer
//! issues `migrate-start-postcopy` (usually after the first pass over memory). Then:
//!
//! 1. **Pre-copy passes** (QEMU's own pre-copy, [`super::precopy`] with the `qemu` policy): the
//!    first pass sends every page, later ones what was dirtied, at most `max_bandwidth`, with
//!    QEMU's convergence test once per iteration. A round ends at a sync of the dirty log, which
//!    QEMU makes only when the pages still to send fall under the threshold, so the first round
//!    ends near the end of the first pass. If the test passes before the switch, the
//!    migration completes as a plain pre-copy (`migration_iteration_run()` checks
//!    `pending_size < threshold_size` before it looks at `start_postcopy`).
//! 2. **Switch** after `precopy_passes` rounds (`postcopy_start()`). The management layer
//!    issues `migrate-start-postcopy` when it sees the sync that ends them; QEMU looks at it at
//!    the start of its next iteration, after the convergence test, so a migration whose pending
//!    bytes fall under the threshold within that iteration still completes as pre-copy (at a
//!    fast cap, most do). Then: stop the VM, sync
//!    the dirty log one last time, send the *discard* list of the pages dirtied since they were
//!    sent (`ram_postcopy_send_discard_bitmap()`; the destination drops its stale copies), send
//!    the device state, and resume on the destination. The downtime carries no page data.
//! 3. **Post-copy**: the source sends the remaining dirty pages in the background, uncapped
//!    (`max-postcopy-bandwidth` defaults to 0, unlimited), scanning upward in address order;
//!    a page the destination guest touches and lacks is requested (userfaultfd) and sent first
//!    (`ram_save_queue_pages()` / `get_queued_page()`), and the background scan continues from
//!    the requested page (`last_seen_block`/`last_page` move there): bubbling in one direction
//!    around the latest fault. Without the `postcopy-preempt` capability (off by default in
//!    QEMU 7.2) a reply queues behind the bulk data already in the socket: the scenario's
//!    `link.priority_channel = false` models that.
//!
//! With `precopy_passes = 0` the switch comes right after set-up: every page is post-copied.
//! QEMU counts a sync at set-up as dirty sync 1, so "switch after N passes" is
//! `dirty-sync-count` reaching N + 1 in `query-migrate` \[C\]. A timeout during the pre-copy
//! passes cancels or forces a stop-and-copy like any QEMU pre-copy; a timeout during post-copy
//! leaves the VM incomplete on the destination (QEMU: the VM is lost if either side fails).

use super::postcopy_common::{resume_without, FaultWindow, PageServer, PushOrder, Pusher};
use super::precopy::engine::{never, Run, Sending};
use super::precopy::qemu::QemuPolicy;
use super::precopy::PrecopyParams;
use super::{parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::context::{ContextError, MigrationContext, Outcome, RoundKind};

/// Pages per send call of the background push; page requests are served between calls.
const PUSH_CALL_PAGES: usize = 16;

parameters! {
    /// QEMU post-copy's own parameters (`[params.postcopy-qemu]`); pre-copy's, from
    /// `[params.precopy]`, apply to the passes.
    pub struct PostcopyQemuParams, specs PARAMS {
        precopy_passes: u64 = (
            ParamKind::Int { min: 0, max: 10_000 },
            "1",
            "pre-copy rounds (syncs of the dirty log after set-up; the first ends near the end of the first pass) before migrate-start-postcopy"
        ),
    }
}

/// The registry entry.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "postcopy-qemu",
    section: "postcopy-qemu",
    base: Some(("precopy", super::precopy::PARAMS)),
    family: Family::Hybrid,
    downtime: Downtime::StateFirst,
    summary: "QEMU post-copy: pre-copy passes (QEMU's rules), then migrate-start-postcopy for the pages still dirty",
    paper: "QEMU migration/migration.c postcopy_start, migration/ram.c (postcopy-ram capability)",
    params: PARAMS,
    fixed: &[("policy", "qemu")],
    build,
};

/// Builds QEMU's post-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let precopy = PrecopyParams::from_params(p);
    Box::new(PostcopyQemu {
        qemu: QemuPolicy::from_params(&precopy),
        sending: precopy.sending(),
        precopy_passes: PostcopyQemuParams::from_params(p).precopy_passes,
    })
}

/// QEMU's post-copy (see the module docs).
#[derive(Debug, Clone)]
pub struct PostcopyQemu {
    qemu: QemuPolicy,
    sending: Sending,
    precopy_passes: u64,
}

impl Algorithm for PostcopyQemu {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let mut run = Run::new(ctx, self.sending.plain_pages(), &self.sending);
        run.start_dirty_log()?;

        // 1. Pre-copy rounds, with QEMU's convergence test.
        let mut state = self.qemu.start(&mut run)?;
        for _ in 0..self.precopy_passes {
            if let Some(outcome) = self.qemu.round(&mut run, &mut state, &mut never)?.ended() {
                return Ok(outcome);
            }
        }
        // migrate-start-postcopy, issued at the sync that ended the last round: QEMU acts on it
        // at its next iteration, unless the convergence test passes first. (Issued before the
        // migration starts, with no round, it is there at the first iteration.)
        if self.precopy_passes > 0 {
            state.request_postcopy();
            if let Some(outcome) = self.qemu.round(&mut run, &mut state, &mut never)?.ended() {
                return Ok(outcome);
            }
        }

        // 2. migrate-start-postcopy: stop, last sync, discard list, device state, resume. The
        // post-copy phase is not capped (`max-postcopy-bandwidth`, default 0 = unlimited).
        let logging = run.logging()?;
        let ctx = run.ctx();
        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        let mut dirty = state.owed().clone();
        dirty.union_with(&ctx.fetch_dirty(&logging)?);
        let done = resume_without(ctx, paused, &dirty)?;

        // 3. Post-copy of the dirty pages: background scan upward, requests first.
        let pusher = Pusher::new(PushOrder::Bubble { dual: false }, false, 1);
        PageServer::new(done, pusher, FaultWindow::NONE).run(ctx, Some(PUSH_CALL_PAGES))
    }
}
