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
//!   extra syncs of the threshold check). Live copying is capped at `max_bandwidth` (QEMU's
//!   `max-bandwidth`, default 128 MiB/s: `MAX_THROTTLE` in `migration/options.c`, enforced by
//!   `migration_rate_limit()` per 100 ms window), so the bandwidth the threshold is computed
//!   from is at most the cap; the stop-and-copy is not capped (`ram_save_complete()` sends
//!   without `qemu_file_rate_limit()` checks), so with a fast link the downtime is the
//!   threshold's bytes at the link's (or the sender's) full speed, far below the limit.
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
        name: "max_bandwidth",
        kind: ParamKind::Bandwidth { min: 1e3, max: 1.25e12 },
        default: "128 MiB/s",
        help: "qemu: rate cap on live copying (QEMU max-bandwidth); stop-and-copy is not capped",
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

/// Which convergence policy a pre-copy follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
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
    /// QEMU's `max-bandwidth` (the `qemu` policy only; `None` for the others).
    max_bandwidth: Option<f64>,
    auto_converge: Option<(f64, f64, f64)>,
    ch_max_passes: u64,
    encoder: EncoderSpec,
    self_ballooning: bool,
}

/// Builds pre-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    Box::new(Precopy::from_params(p))
}

impl Precopy {
    /// Pre-copy with every parameter at its default except the policy and the downtime limit,
    /// for algorithms that drive pre-copy rounds themselves (task-guided migration). It sends
    /// at the link's speed: QEMU's rate cap is QEMU's, not the coordinator's.
    pub(crate) fn with_policy(policy: Policy, downtime_limit: f64) -> Precopy {
        let defaults = Params::resolve("precopy", PARAMS, None, &[]).expect("pre-copy's defaults are valid");
        let zero_pages = policy == Policy::Qemu; // `zero_pages = "auto"`
        Precopy {
            policy,
            downtime_limit,
            max_bandwidth: None,
            encoder: EncoderSpec::Plain { zero_pages },
            ..Precopy::from_params(&defaults)
        }
    }

    /// The convergence policy.
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// The batch size and encoder a [`Run`] needs.
    pub(crate) fn run_settings(&self) -> (EncoderSpec, usize) {
        (self.encoder.clone(), self.batch_pages)
    }

    /// Pre-copy that sends its pages through `encoder` (MECOM, delta pre-copy).
    pub(crate) fn with_encoder(p: &Params, encoder: EncoderSpec) -> Precopy {
        Precopy { encoder, ..Precopy::from_params(p) }
    }

    /// Pre-copy from resolved parameters (`[params.precopy]`).
    pub(crate) fn from_params(p: &Params) -> Precopy {
        let policy = match p.choice("policy") {
            "qemu" => Policy::Qemu,
            "cloud-hypervisor" => Policy::CloudHypervisor,
            _ => Policy::Xen,
        };
        Precopy {
            policy,
            xen_max_iters: p.int("xen_max_iters") as u64,
            xen_min_pages: p.int("xen_min_pages") as u64,
            xen_max_factor: p.float("xen_max_factor"),
            skip_redirtied: p.bool("skip_redirtied"),
            permute: p.choice("scan_order") == "xen-permute",
            batch_pages: p.int("batch_pages") as usize,
            rate_limit: p.bool("rate_limit").then(|| (p.float("rate_min"), p.float("rate_max"), p.float("rate_increment"))),
            downtime_limit: p.float("downtime_limit"),
            max_bandwidth: (policy == Policy::Qemu).then(|| p.float("max_bandwidth")),
            auto_converge: p
                .bool("auto_converge")
                .then(|| (p.float("throttle_initial"), p.float("throttle_increment"), p.float("throttle_trigger"))),
            ch_max_passes: p.int("ch_max_passes") as u64,
            encoder: EncoderSpec::Plain {
                zero_pages: match p.choice("zero_pages") {
                    "on" => true,
                    "off" => false,
                    _ => policy == Policy::Qemu,
                },
            },
            self_ballooning: p.bool("self_ballooning"),
        }
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

/// Where a batch is in a pre-copy migration. Encoders treat the stages differently: QEMU does
/// not use XBZRLE in the first (bulk) round, and does not update its cache in the last stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Round 1: every page, once.
    FirstRound,
    /// A later round while the VM runs.
    Live,
    /// The VM is paused: the last pages.
    StopAndCopy,
}

/// How pre-copy puts a batch of pages on the wire: plain pages here, compressed pages in MECOM
/// ([`super::mecom`]), XBZRLE deltas in delta pre-copy ([`super::delta`]).
pub trait PageSender {
    /// Sends `pages` with their current content.
    fn send(&mut self, ctx: &mut dyn MigrationContext, pages: &[u64], stage: Stage) -> Result<(), ContextError>;

    /// The dirty log was just synced: a new generation begins (XBZRLE ages its cache by it,
    /// as QEMU does by `dirty_sync_count`). Nothing by default.
    fn dirty_log_synced(&mut self) {}
}

/// Which [`PageSender`] a pre-copy uses; each run builds a fresh one (encoders keep state).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EncoderSpec {
    /// Whole pages; zero pages as a one-byte flag when `zero_pages`.
    Plain {
        /// Send zero pages as flags.
        zero_pages: bool,
    },
    /// MECOM's content-aware compression.
    Mecom(super::mecom::MecomSettings),
    /// XBZRLE deltas against a cache of sent pages.
    Xbzrle(super::delta::XbzrleSettings),
}

impl EncoderSpec {
    fn sender(&self, page_size: usize) -> Box<dyn PageSender> {
        match self {
            EncoderSpec::Plain { zero_pages } => Box::new(PlainPages::new(*zero_pages)),
            EncoderSpec::Mecom(settings) => Box::new(super::mecom::MecomSender::new(settings.clone(), page_size)),
            EncoderSpec::Xbzrle(settings) => Box::new(super::delta::XbzrleSender::new(settings.clone(), page_size)),
        }
    }
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
}

impl PlainPages {
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

/// Shared pieces of every policy's run.
pub(crate) struct Run<'a> {
    ctx: &'a mut dyn MigrationContext,
    sender: Box<dyn PageSender>,
    stage: Stage,
    live_rounds: u64,
    batch_pages: usize,
    batch: Vec<u64>,
}

impl<'a> Run<'a> {
    /// A run over `ctx` with the encoder and batch size of [`Precopy::run_settings`].
    pub(crate) fn new(ctx: &'a mut dyn MigrationContext, (encoder, batch_pages): (EncoderSpec, usize)) -> Run<'a> {
        let sender = encoder.sender(ctx.page_size() as usize);
        Run { ctx, sender, stage: Stage::FirstRound, live_rounds: 0, batch_pages, batch: Vec::with_capacity(batch_pages) }
    }

    /// Starts a live round: the first is the bulk round, later ones send what was dirtied.
    fn begin_live_round(&mut self) {
        self.stage = if self.live_rounds == 0 { Stage::FirstRound } else { Stage::Live };
        self.live_rounds += 1;
        self.ctx.begin_round(RoundKind::Live);
    }

    /// The context the run talks to.
    pub(crate) fn ctx(&mut self) -> &mut dyn MigrationContext {
        &mut *self.ctx
    }

    /// Syncs the dirty log: the pages written since the last sync, and a new generation for the
    /// sender.
    pub(crate) fn sync_dirty(&mut self) -> Result<PageBitmap, ContextError> {
        let dirty = self.ctx.fetch_dirty()?;
        self.sender.dirty_log_synced();
        Ok(dirty)
    }

    fn send(&mut self) -> Result<(), ContextError> {
        self.sender.send(self.ctx, &self.batch, self.stage)?;
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
        self.stage = Stage::StopAndCopy;
        self.ctx.pause_source()?;
        remaining.union_with(&self.sync_dirty()?);
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
        let mut run = Run::new(ctx, self.run_settings());
        run.ctx.start_dirty_log()?;
        match self.policy {
            Policy::Xen => self.run_xen(&mut run),
            Policy::Qemu => self.run_qemu(&mut run),
            Policy::CloudHypervisor => self.run_ch(&mut run),
        }
    }
}

/// Asked by a resumable pre-copy before each batch: true interrupts the round (a coordinator
/// withdrawing its permission).
pub(crate) type Interrupt<'h> = dyn FnMut(&mut dyn MigrationContext) -> Result<bool, ContextError> + 'h;

/// What one step of a resumable pre-copy (a Xen round, a QEMU pass over the bitmap) did.
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

/// A Xen-policy pre-copy in progress: what the next round sends and the stop test's counters.
/// It survives an interrupted round, so a coordinator can pause the pre-copy and continue it.
#[derive(Debug)]
pub(crate) struct XenState {
    n: u64,
    order: u32,
    to_send: PageBitmap,
    iter: u64,
    total_sent: u64,
    sent_last_iter: u64,
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

/// A QEMU-policy pre-copy in progress: the pages still to send, the bandwidth window and the
/// auto-converge bookkeeping. It survives an interrupted pass.
#[derive(Debug)]
pub(crate) struct QemuState {
    remaining: PageBitmap,
    threshold_bytes: f64,
    win_t: f64,
    win_bytes: u64,
    /// The last window's bandwidth, bytes/s.
    win_bandwidth: f64,
    /// When the current iteration (between two convergence tests) began.
    iter_t: f64,
    period_t: f64,
    period_bytes: u64,
    period_dirty: u64,
    high_count: u32,
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

    /// The pages still to send, as far as known (the dirty log holds the rest).
    pub(crate) fn owed(&self) -> &PageBitmap {
        &self.remaining
    }

    fn take_remaining(&mut self) -> PageBitmap {
        std::mem::replace(&mut self.remaining, PageBitmap::new(0))
    }
}

/// Why a pre-copy stopped at the scenario's timeout.
fn timeout_reason(action: OnTimeout) -> String {
    match action {
        OnTimeout::Cancel => "timeout before convergence: migration cancelled, the VM stays on the source".into(),
        OnTimeout::ForceStop => "timeout before convergence: forced stop-and-copy".into(),
    }
}

impl Precopy {
    /// Ends a pre-copy at the scenario's timeout: cancels it, or forces a stop-and-copy of
    /// `remaining` plus whatever the dirty log holds, per `migration.on_timeout`.
    pub(crate) fn on_timeout(&self, run: &mut Run<'_>, remaining: PageBitmap) -> Result<Outcome, ContextError> {
        let action = run.ctx.timeout_action();
        run.ctx.end_round();
        if action == OnTimeout::ForceStop {
            self.lift_rate_cap(run)?;
            run.stop_and_copy(remaining)?;
        }
        Ok(Outcome::forced(timeout_reason(action)))
    }

    /// Lifts QEMU's live-copy rate cap, if this pre-copy has one: QEMU's stop-and-copy and its
    /// post-copy phase (`max-postcopy-bandwidth`, default 0 = unlimited) are not capped.
    pub(crate) fn lift_rate_cap(&self, run: &mut Run<'_>) -> Result<(), ContextError> {
        if self.max_bandwidth.is_some() {
            run.ctx.set_rate_limit(None)?;
        }
        Ok(())
    }

    fn run_xen(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let mut st = self.xen_start(run)?;
        loop {
            match self.xen_round(run, &mut st, &mut |_| Ok(false))? {
                Step::Next | Step::Interrupted => {}
                Step::Stopped(outcome) | Step::TimedOut(outcome) => return Ok(outcome),
            }
        }
    }

    /// Starts a Xen-policy pre-copy (the dirty log must be on): round 1 will send every page.
    pub(crate) fn xen_start(&self, run: &mut Run<'_>) -> Result<XenState, ContextError> {
        let n = run.ctx.page_count();
        let order = if n <= 1 { 0 } else { 64 - (n - 1).leading_zeros() };
        let to_send = run.first_round_set(self.self_ballooning)?;
        let mut rate = None;
        if let Some((min, _, _)) = self.rate_limit {
            rate = Some(min);
            run.ctx.set_rate_limit(rate)?;
        }
        Ok(XenState { n, order, to_send, iter: 0, total_sent: 0, sent_last_iter: u64::MAX, rate })
    }

    /// One Xen round, then the stop test (and stop-and-copy when it says so). `interrupt` is
    /// asked before every batch; when it says yes the round ends early and keeps the pages it
    /// still owes in `st` (see [`XenState::absorb_dirty`] to continue).
    pub(crate) fn xen_round(&self, run: &mut Run<'_>, st: &mut XenState, interrupt: &mut Interrupt<'_>) -> Result<Step, ContextError> {
        let (n, order) = (st.n, st.order);
        let visit = |k: u64| if self.permute { xen_permute(k, n, order) } else { k };
        let unvisited = |st: &XenState, from: u64, owed: &mut PageBitmap| {
            for k in from..n {
                let p = visit(k);
                if st.to_send.get(p) {
                    owed.set(p);
                }
            }
        };
        if interrupt(&mut *run.ctx)? {
            return Ok(Step::Interrupted);
        }
        let page_size = run.ctx.page_size() as f64;
        st.iter += 1;
        let iter = st.iter;
        run.begin_live_round();
        let round_start = run.ctx.now();
        let (mut sent_this, mut skip_this) = (0u64, 0u64);
        let mut i = 0u64;
        while i < n {
            if i > 0 && interrupt(&mut *run.ctx)? {
                // The pages of this round not yet visited are still owed; the others the guest
                // wrote since they were sent are in the dirty log.
                let mut owed = PageBitmap::new(n);
                unvisited(st, i, &mut owed);
                st.to_send = owed;
                st.total_sent += sent_this;
                run.ctx.end_round();
                return Ok(Step::Interrupted);
            }
            let end = (i + run.batch_pages as u64).min(n);
            {
                let peek = if self.skip_redirtied { Some(run.ctx.peek_dirty()?) } else { None };
                for k in i..end {
                    let p = visit(k);
                    if !st.to_send.get(p) {
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
                let mut owed = run.sync_dirty()?;
                unvisited(st, i, &mut owed);
                return Ok(Step::TimedOut(self.on_timeout(run, owed)?));
            }
        }
        st.total_sent += sent_this;
        let round_time = run.ctx.now() - round_start;
        run.ctx.end_round();

        let rate_is_max = matches!((st.rate, self.rate_limit), (Some(r), Some((_, max, _))) if r >= max);
        let stop = if rate_is_max && sent_this > st.sent_last_iter {
            Some(Outcome::converged("rate limit at its maximum and the dirty set grew"))
        } else if sent_this + skip_this < self.xen_min_pages {
            Some(Outcome::converged(format!(
                "round {iter} started with {} dirty pages, under {}",
                sent_this + skip_this,
                self.xen_min_pages
            )))
        } else if iter >= self.xen_max_iters {
            Some(Outcome::forced(format!("{iter} live rounds: the iteration cap")))
        } else if st.total_sent as f64 > n as f64 * self.xen_max_factor {
            Some(Outcome::forced(format!("sent more than {}x memory", self.xen_max_factor)))
        } else {
            None
        };
        if let Some(outcome) = stop {
            if let Some((_, max, _)) = self.rate_limit {
                run.ctx.set_rate_limit(Some(max))?;
            }
            run.stop_and_copy(PageBitmap::new(n))?;
            return Ok(Step::Stopped(outcome));
        }
        st.to_send = run.sync_dirty()?;
        st.sent_last_iter = sent_this;
        if let (Some((min, max, inc)), true) = (self.rate_limit, round_time > 0.0) {
            let dirty_rate = st.to_send.count() as f64 * page_size / round_time;
            let r = (dirty_rate + inc).clamp(min, max);
            st.rate = Some(r);
            run.ctx.set_rate_limit(st.rate)?;
        }
        Ok(Step::Next)
    }

    fn run_qemu(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let mut st = self.qemu_start(run)?;
        loop {
            match self.qemu_pass(run, &mut st, &mut |_| Ok(false))? {
                Step::Next | Step::Interrupted => {}
                Step::Stopped(outcome) | Step::TimedOut(outcome) => return Ok(outcome),
            }
        }
    }

    /// Starts a QEMU-policy pre-copy (the dirty log must be on): the first pass sends every page.
    pub(crate) fn qemu_start(&self, run: &mut Run<'_>) -> Result<QemuState, ContextError> {
        if let Some(cap) = self.max_bandwidth {
            run.ctx.set_rate_limit(Some(cap))?;
        }
        let remaining = run.first_round_set(self.self_ballooning)?;
        let (now, bytes) = (run.ctx.now(), run.ctx.bytes_sent());
        Ok(QemuState {
            remaining,
            threshold_bytes: 0.0,
            win_t: now,
            win_bytes: bytes,
            win_bandwidth: 0.0,
            iter_t: now,
            period_t: now,
            period_bytes: bytes,
            period_dirty: 0,
            high_count: 0,
            throttle: 0.0,
        })
    }

    /// One QEMU pass over the dirty bitmap, with the downtime-limit test after every batch (and
    /// stop-and-copy when it passes), then a sync and auto-converge. `interrupt` is asked before
    /// every batch; when it says yes the pass ends early and the pages still owed stay in `st`
    /// (see [`QemuState::absorb_dirty`] to continue).
    pub(crate) fn qemu_pass(&self, run: &mut Run<'_>, st: &mut QemuState, interrupt: &mut Interrupt<'_>) -> Result<Step, ContextError> {
        const WINDOW: f64 = 0.1;
        const MAX_WAIT: f64 = 0.05;
        const PERIOD: f64 = 1.0;
        let page_size = run.ctx.page_size() as f64;
        if interrupt(&mut *run.ctx)? {
            return Ok(Step::Interrupted);
        }
        run.begin_live_round();
        let mut cursor = 0u64;
        while let Some(p) = st.remaining.next_set(cursor) {
            if cursor > 0 && interrupt(&mut *run.ctx)? {
                run.ctx.end_round();
                return Ok(Step::Interrupted);
            }
            run.batch.push(p);
            st.remaining.clear(p);
            cursor = p + 1;
            while run.batch.len() < run.batch_pages {
                match st.remaining.next_set(cursor) {
                    Some(q) => {
                        run.batch.push(q);
                        st.remaining.clear(q);
                        cursor = q + 1;
                    }
                    None => break,
                }
            }
            run.send()?;
            let now = run.ctx.now();
            if now - st.win_t >= WINDOW {
                let bandwidth = (run.ctx.bytes_sent() - st.win_bytes) as f64 / (now - st.win_t);
                st.threshold_bytes = bandwidth * self.downtime_limit;
                st.win_bandwidth = bandwidth;
                st.win_t = now;
                st.win_bytes = run.ctx.bytes_sent();
            }
            // QEMU tests for convergence once per iteration of its migration thread
            // (`migration_iteration_run()`), not after every page: an iteration sends until
            // `MAX_WAIT` (50 ms) has passed or the rate limit's quota for the current 100 ms
            // window is spent, and then the thread sleeps to the window's end. Under a binding
            // cap the quota goes out in a burst, so there is one test per window.
            let capped = self.max_bandwidth.is_some_and(|cap| st.win_bandwidth >= 0.95 * cap);
            let iteration = if capped { WINDOW } else { MAX_WAIT };
            let test_now = now - st.iter_t >= iteration;
            if test_now {
                st.iter_t = now;
            }
            // At the timeout the timeout wins, as in the Xen loop: a send that would cross it
            // ends at it (see the simulator), and no convergence test follows.
            if run.ctx.deadline_passed() {
                let dirty = run.sync_dirty()?;
                st.remaining.union_with(&dirty);
                return Ok(Step::TimedOut(self.on_timeout(run, st.take_remaining())?));
            }
            if test_now && (st.remaining.count() as f64) * page_size < st.threshold_bytes {
                // Exact pending: sync the dirty log first.
                let dirty = run.sync_dirty()?;
                st.period_dirty += dirty.count();
                st.remaining.union_with(&dirty);
                let pending = st.remaining.count() as f64 * page_size;
                if pending < st.threshold_bytes {
                    run.ctx.end_round();
                    self.lift_rate_cap(run)?;
                    run.stop_and_copy(st.take_remaining())?;
                    return Ok(Step::Stopped(Outcome::converged(format!(
                        "{:.0} KiB pending < {:.0} KiB (measured bandwidth x {})",
                        pending / 1024.0,
                        st.threshold_bytes / 1024.0,
                        crate::units::Seconds(self.downtime_limit)
                    ))));
                }
            }
        }
        run.ctx.end_round();
        // End of a pass over the bitmap: sync.
        let dirty = run.sync_dirty()?;
        st.period_dirty += dirty.count();
        st.remaining.union_with(&dirty);
        let pending = st.remaining.count() as f64 * page_size;
        if pending == 0.0 || pending < st.threshold_bytes {
            // QEMU's test at the sync that ends a pass (`migration_iteration_run()`: complete on
            // `!pending_size || pending_size < threshold_size`). With nothing pending it
            // completes whatever the threshold, which is still 0 when the whole pass took less
            // than one bandwidth window: without that an idle guest would loop here forever at
            // a frozen clock.
            self.lift_rate_cap(run)?;
            run.stop_and_copy(st.take_remaining())?;
            let reason = if pending == 0.0 {
                "nothing left to send after a pass over the dirty bitmap".to_string()
            } else {
                format!(
                    "{:.0} KiB pending after a pass < {:.0} KiB (measured bandwidth x {})",
                    pending / 1024.0,
                    st.threshold_bytes / 1024.0,
                    crate::units::Seconds(self.downtime_limit)
                )
            };
            return Ok(Step::Stopped(Outcome::converged(reason)));
        }
        if let Some((initial, increment, trigger)) = self.auto_converge {
            let now = run.ctx.now();
            if now - st.period_t >= PERIOD {
                let xfer = (run.ctx.bytes_sent() - st.period_bytes) as f64;
                if st.period_dirty as f64 * page_size > trigger * xfer {
                    st.high_count += 1;
                    if st.high_count >= 2 {
                        st.throttle = if st.throttle == 0.0 { initial } else { (st.throttle + increment).min(0.99) };
                        run.ctx.set_throttle(st.throttle)?;
                        st.high_count = 0;
                    }
                }
                st.period_t = now;
                st.period_bytes = run.ctx.bytes_sent();
                st.period_dirty = 0;
            }
        }
        if run.ctx.deadline_passed() {
            return Ok(Step::TimedOut(self.on_timeout(run, st.take_remaining())?));
        }
        Ok(Step::Next)
    }

    fn run_ch(&self, run: &mut Run<'_>) -> Result<Outcome, ContextError> {
        let page_size = run.ctx.page_size() as f64;
        let first = run.first_round_set(self.self_ballooning)?;
        let mut bandwidth = self.send_pass(run, &first)?;
        let mut passes = 0;
        loop {
            let dirty = run.sync_dirty()?;
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
        run.begin_live_round();
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
