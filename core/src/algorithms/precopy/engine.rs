//! The machinery every pre-copy policy shares: batches, the page sender (plain pages here,
//! compressed pages in MECOM, deltas in delta pre-copy), the first round's set, stop-and-copy
//! and the end at the scenario's timeout.

use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, DirtyLogging, MigrationContext, Outcome, RoundKind};
use crate::scenario::OnTimeout;

/// Where a batch is in a pre-copy migration. Encoders treat the stages differently: QEMU does
/// not use XBZRLE in the first (bulk) pass over memory, and does not update its cache in the
/// last stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first pass over memory: every page, once (round 1 where a round is a pass).
    FirstRound,
    /// Later, while the VM runs.
    Live,
    /// The VM is paused: the last pages.
    StopAndCopy,
}

/// How pre-copy puts a batch of pages on the wire: plain pages here ([`PlainPages`]),
/// compressed pages in MECOM ([`crate::algorithms::mecom`]), XBZRLE deltas in delta pre-copy
/// ([`crate::algorithms::delta`]).
pub trait PageSender {
    /// Sends `pages` with their current content.
    fn send(&mut self, ctx: &mut dyn MigrationContext, pages: &[u64], stage: Stage) -> Result<(), ContextError>;

    /// The dirty log was just synced: a new generation begins (XBZRLE ages its cache by it,
    /// as QEMU does by `dirty_sync_count`). Nothing by default.
    fn dirty_log_synced(&mut self) {}
}

/// Whole pages, zero pages as flags when enabled.
pub(crate) struct PlainPages {
    zero_pages: bool,
    zeros: Vec<u64>,
    full: Vec<u64>,
}

impl PlainPages {
    /// Whole pages; with `zero_pages`, zero pages as flags.
    pub(crate) fn new(zero_pages: bool) -> PlainPages {
        PlainPages { zero_pages, zeros: Vec::new(), full: Vec::new() }
    }

    /// Sends `batch` as [`PageSender::send`] does; `before_full` sees the pages that go whole
    /// just before they are sent, at the instant whose bytes they carry (a sender that keeps a
    /// copy of what it sent reads them there).
    pub(crate) fn send_then(
        &mut self,
        ctx: &mut dyn MigrationContext,
        batch: &[u64],
        mut before_full: impl FnMut(&mut dyn MigrationContext, &[u64]) -> Result<(), ContextError>,
    ) -> Result<(), ContextError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.zero_pages {
            before_full(ctx, batch)?;
            ctx.send_pages(batch, Channel::Bulk)?;
            return Ok(());
        }
        self.zeros.clear();
        self.full.clear();
        for &p in batch {
            if ctx.is_zero_page(p)? {
                self.zeros.push(p);
            } else {
                self.full.push(p);
            }
        }
        // Zero flags go first: the zero check and the send happen at the same instant, before the
        // full pages move the clock and the guest can write to a page that was zero.
        if !self.zeros.is_empty() {
            ctx.send_zero_pages(&self.zeros)?;
        }
        if !self.full.is_empty() {
            before_full(ctx, &self.full)?;
            ctx.send_pages(&self.full, Channel::Bulk)?;
        }
        Ok(())
    }
}

impl PageSender for PlainPages {
    fn send(&mut self, ctx: &mut dyn MigrationContext, batch: &[u64], _stage: Stage) -> Result<(), ContextError> {
        self.send_then(ctx, batch, |_, _| Ok(()))
    }
}

/// How a pre-copy sends, whatever its convergence policy: the batch size, zero pages as flags
/// (for plain pages), and self-ballooning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sending {
    /// Pages per send batch (Xen's `MAX_BATCH_SIZE`).
    pub batch_pages: usize,
    /// Send all-zero pages as a one-byte flag.
    pub zero_pages: bool,
    /// Send the guest's free-page list instead of its free pages.
    pub self_ballooning: bool,
}

impl Sending {
    /// The plain sender: whole pages, zero pages as flags when `zero_pages`.
    pub(crate) fn plain_pages(&self) -> Box<dyn PageSender> {
        Box::new(PlainPages::new(self.zero_pages))
    }
}

/// Asked by a resumable pre-copy before each batch: true interrupts the round (a coordinator
/// withdrawing its permission).
pub(crate) type Interrupt<'h> = dyn FnMut(&mut dyn MigrationContext) -> Result<bool, ContextError> + 'h;

/// Never interrupts.
pub(crate) fn never(_: &mut dyn MigrationContext) -> Result<bool, ContextError> {
    Ok(false)
}

/// What one step of a resumable pre-copy (a Xen round, a QEMU round between two syncs) did.
#[derive(Debug)]
pub(crate) enum Step {
    /// The step finished; the next one is prepared.
    Next,
    /// The interrupt asked to stop before a batch: the pages still owed are kept, and the dirty
    /// log goes on logging.
    Interrupted,
    /// The stop condition (or a cap) was met and stop-and-copy is done.
    Stopped(Outcome),
    /// The scenario's timeout passed: the migration was cancelled, or forced to stop and copy.
    TimedOut(Outcome),
}

impl Step {
    /// The migration's outcome when this step ended it (stopped, or timed out); None when
    /// another step follows.
    pub(crate) fn ended(self) -> Option<Outcome> {
        match self {
            Step::Next | Step::Interrupted => None,
            Step::Stopped(outcome) | Step::TimedOut(outcome) => Some(outcome),
        }
    }
}

/// A policy's own loop, with nothing to interrupt it: `step` (a Xen round, a QEMU pass) again
/// and again until one ends the migration.
pub(crate) fn until_ended(mut step: impl FnMut(&mut Interrupt<'_>) -> Result<Step, ContextError>) -> Result<Outcome, ContextError> {
    loop {
        if let Some(outcome) = step(&mut never)?.ended() {
            return Ok(outcome);
        }
    }
}

/// One pre-copy in progress over a context: the sender, the current batch and stage.
pub(crate) struct Run<'a> {
    pub(super) ctx: &'a mut dyn MigrationContext,
    sender: Box<dyn PageSender>,
    stage: Stage,
    /// The first pass over memory is complete: later live batches are [`Stage::Live`].
    first_pass_over: bool,
    batch_pages: usize,
    self_ballooning: bool,
    pub(super) batch: Vec<u64>,
    /// The dirty log is on.
    logging: Option<DirtyLogging>,
}

impl<'a> Run<'a> {
    /// A run over `ctx` that sends through `sender` as `sending` says.
    pub(crate) fn new(ctx: &'a mut dyn MigrationContext, sender: Box<dyn PageSender>, sending: &Sending) -> Run<'a> {
        Run {
            ctx,
            sender,
            stage: Stage::FirstRound,
            first_pass_over: false,
            batch_pages: sending.batch_pages,
            self_ballooning: sending.self_ballooning,
            batch: Vec::with_capacity(sending.batch_pages),
            logging: None,
        }
    }

    /// The context the run talks to.
    pub(crate) fn ctx(&mut self) -> &mut dyn MigrationContext {
        &mut *self.ctx
    }

    /// Pages per batch.
    pub(super) fn batch_pages(&self) -> usize {
        self.batch_pages
    }

    /// Starts a live round: in the first pass over memory its batches are the bulk stage, after
    /// it they send what was dirtied.
    pub(super) fn begin_live_round(&mut self) {
        self.stage = if self.first_pass_over { Stage::Live } else { Stage::FirstRound };
        self.ctx.begin_round(RoundKind::Live);
    }

    /// A pass over memory is complete (the first one ends the bulk stage). Where a round is a
    /// pass (Xen, Cloud Hypervisor) that is the round's end; QEMU's scan wraps within a round.
    pub(super) fn end_pass(&mut self) {
        self.first_pass_over = true;
        if self.stage == Stage::FirstRound {
            self.stage = Stage::Live;
        }
    }

    /// Clears the dirty log and starts logging (again).
    pub(crate) fn start_dirty_log(&mut self) -> Result<(), ContextError> {
        self.logging = Some(self.ctx.start_dirty_log()?);
        Ok(())
    }

    /// The proof that the dirty log is on.
    pub(crate) fn logging(&self) -> Result<DirtyLogging, ContextError> {
        self.logging.ok_or(ContextError::WrongState { operation: "a pre-copy round", reason: "start the dirty log first" })
    }

    /// Syncs the dirty log: the pages written since the last sync, and a new generation for the
    /// sender.
    pub(crate) fn sync_dirty(&mut self) -> Result<PageBitmap, ContextError> {
        let logging = self.logging()?;
        let dirty = self.ctx.fetch_dirty(&logging)?;
        self.sender.dirty_log_synced();
        Ok(dirty)
    }

    /// Sends the batch through the sender and empties it.
    pub(super) fn send(&mut self) -> Result<(), ContextError> {
        self.sender.send(self.ctx, &self.batch, self.stage)?;
        self.batch.clear();
        Ok(())
    }

    /// Sends every page of `set` in address order, in batches (the VM may be paused or not).
    pub(super) fn send_set(&mut self, set: &PageBitmap) -> Result<(), ContextError> {
        for p in set.iter() {
            self.batch.push(p);
            if self.batch.len() == self.batch_pages {
                self.send()?;
            }
        }
        self.send()
    }

    /// Pause, send `remaining` plus whatever the log holds, send the state, resume.
    pub(super) fn stop_and_copy(&mut self, mut remaining: PageBitmap) -> Result<(), ContextError> {
        self.ctx.begin_round(RoundKind::StopAndCopy);
        self.stage = Stage::StopAndCopy;
        let paused = self.ctx.pause_source()?;
        // A coordinator that never started pre-copy has no log to read (and owes every page).
        if self.logging.is_some() {
            remaining.union_with(&self.sync_dirty()?);
        }
        self.send_set(&remaining)?;
        self.ctx.send_state(&paused)?;
        self.ctx.resume_destination(paused)?;
        self.ctx.end_round();
        Ok(())
    }

    /// Round 1's set: all pages, or all but the free ones (sending their list instead).
    pub(super) fn first_round_set(&mut self) -> Result<PageBitmap, ContextError> {
        let n = self.ctx.page_count();
        let mut all = PageBitmap::full(n);
        if self.self_ballooning {
            let free = self.ctx.free_pages()?;
            if free.count() > 0 {
                self.ctx.send_free_page_list(&free)?;
                all.subtract(&free);
            }
        }
        Ok(all)
    }

    /// Ends a pre-copy at the scenario's timeout: cancels it, or forces a stop-and-copy of
    /// `remaining` plus whatever the dirty log holds, per `migration.on_timeout`.
    pub(crate) fn end_at_timeout(&mut self, remaining: PageBitmap) -> Result<Outcome, ContextError> {
        let action = self.ctx.timeout_action();
        self.ctx.end_round();
        if action == OnTimeout::ForceStop {
            self.stop_and_copy(remaining)?;
        }
        Ok(Outcome::forced(timeout_reason(action)))
    }
}

/// Why a pre-copy stopped at the scenario's timeout.
fn timeout_reason(action: OnTimeout) -> String {
    match action {
        OnTimeout::Cancel => "timeout before convergence: migration cancelled, the VM stays on the source".into(),
        OnTimeout::ForceStop => "timeout before convergence: forced stop-and-copy".into(),
    }
}
