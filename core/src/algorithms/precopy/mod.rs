//! Iterative pre-copy with three convergence policies.
//!
//! Round 1 sends every page while the VM runs; each later round sends the pages dirtied during
//! the previous one; when the policy says so, the VM is paused and the rest is sent with the CPU
//! state (stop-and-copy). Clark et al., "Live Migration of Virtual Machines", NSDI 2005
//! (docs/algorithms/model.md).
//!
//! Each policy is its own file, whose `run` follows its source's procedure:
//!
//! * [`xen`] — Xen's classic `xc_domain_save()` loop with Clark's rate limiting
//!   (`precopy-xen`, the default policy);
//! * [`qemu`] — QEMU's `migration_iteration_run()` threshold rule with `max-bandwidth` and
//!   auto-converge (`precopy-qemu`);
//! * [`cloud_hypervisor`] — Cloud Hypervisor's downtime estimate and pass cap (`precopy-ch`).
//!
//! What they share is in `engine`: batches, the page sender, stop-and-copy and the end at the
//! timeout. MECOM ([`super::mecom`]) and delta pre-copy ([`super::delta`]) are pre-copy with
//! another page sender; task-guided migration ([`super::task_guided`]) pauses and resumes the
//! Xen and QEMU loops.
//!
//! `zero_pages` sends all-zero pages as a one-byte flag (QEMU always does; `auto` = on for
//! `qemu` only). `self_ballooning` sends the guest's free-page list instead of its free pages
//! (Hines & Gopalan's DSB applied to pre-copy). At the scenario's timeout the migration is
//! cancelled (the VM stays on the source) or forced into stop-and-copy, per
//! `migration.on_timeout`; either way the report says `converged: false`.

pub mod cloud_hypervisor;
pub(crate) mod engine;
pub mod qemu;
pub mod xen;

#[cfg(test)]
mod tests;

use super::{choice, parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::context::{ContextError, MigrationContext, Outcome};
use cloud_hypervisor::CloudHypervisorPolicy;
pub(crate) use engine::{PageSender, PlainPages, Run, Sending, Stage};
use qemu::QemuPolicy;
pub use xen::xen_permute;
use xen::XenPolicy;

choice! {
    /// The `policy` parameter: which convergence policy a pre-copy follows.
    pub enum Policy { Xen = "xen", Qemu = "qemu", CloudHypervisor = "cloud-hypervisor" }
}

choice! {
    /// The `scan_order` parameter: the order a Xen round visits pages in.
    pub enum ScanOrder { XenPermute = "xen-permute", Linear = "linear" }
}

choice! {
    /// The `zero_pages` parameter: send all-zero pages as a flag.
    pub enum ZeroPages { Auto = "auto", On = "on", Off = "off" }
}

parameters! {
    /// Pre-copy's parameters (`[params.precopy]`), also read by MECOM, delta pre-copy and
    /// QEMU's post-copy.
    pub struct PrecopyParams, specs PARAMS {
        policy: Policy = (ParamKind::Choice(Policy::WORDS), "xen", "convergence policy"),
        xen_max_iters: u64 = (ParamKind::Int { min: 1, max: 10_000 }, "29", "xen: live rounds before the final one"),
        xen_min_pages: u64 = (ParamKind::Int { min: 0, max: 1 << 40 }, "50", "xen: stop when a round started with fewer dirty pages"),
        xen_max_factor: f64 = (ParamKind::Float { min: 1.0, max: 1000.0 }, "3", "xen: stop after sending this many times memory"),
        skip_redirtied: bool = (ParamKind::Bool, "true", "xen: skip pages already re-dirtied when their batch is scanned"),
        scan_order: ScanOrder = (ParamKind::Choice(ScanOrder::WORDS), "xen-permute", "xen: page visiting order within a round"),
        batch_pages: usize = (ParamKind::Int { min: 1, max: 1 << 20 }, "1024", "pages per send batch (Xen MAX_BATCH_SIZE)"),
        rate_limit: bool = (ParamKind::Bool, "false", "xen: Clark's adaptive rate limiting"),
        rate_min: f64 = (ParamKind::Bandwidth { min: 1e3, max: 1.25e12 }, "100 Mbit/s", "xen: first-round rate"),
        rate_max: f64 = (ParamKind::Bandwidth { min: 1e3, max: 1.25e12 }, "500 Mbit/s", "xen: rate cap, and the final round's rate"),
        rate_increment: f64 = (ParamKind::Bandwidth { min: 0.0, max: 1.25e12 }, "50 Mbit/s", "xen: added to the dirty rate each round"),
        downtime_limit: f64 = (ParamKind::Duration { min: 1e-6, max: 3600.0 }, "300 ms", "qemu, cloud-hypervisor: tolerated downtime"),
        max_bandwidth: f64 = (
            ParamKind::Bandwidth { min: 1e3, max: 1.25e12 },
            "128 MiB/s",
            "qemu: rate cap on live copying (QEMU max-bandwidth); stop-and-copy is not capped"
        ),
        auto_converge: bool = (ParamKind::Bool, "false", "qemu: throttle vCPUs when dirtying outpaces sending"),
        throttle_initial: f64 = (ParamKind::Float { min: 0.01, max: 0.99 }, "0.2", "qemu: first throttle step"),
        throttle_increment: f64 = (ParamKind::Float { min: 0.01, max: 0.99 }, "0.1", "qemu: later throttle steps"),
        throttle_trigger: f64 = (ParamKind::Float { min: 0.01, max: 10.0 }, "0.5", "qemu: dirtied/sent ratio that counts as too high"),
        ch_max_passes: u64 = (ParamKind::Int { min: 0, max: 10_000 }, "5", "cloud-hypervisor: dirty passes after the first copy"),
        zero_pages: ZeroPages = (ParamKind::Choice(ZeroPages::WORDS), "auto", "send zero pages as a flag (auto: on for qemu)"),
        self_ballooning: bool = (ParamKind::Bool, "false", "do not send the guest's free pages"),
    }
}

impl PrecopyParams {
    /// Every parameter at its default.
    pub(crate) fn defaults() -> PrecopyParams {
        PrecopyParams::from_params(&Params::resolve("precopy", PARAMS, None, &[]).expect("pre-copy's defaults are valid"))
    }

    /// How these parameters send pages.
    pub(crate) fn sending(&self) -> Sending {
        Sending {
            batch_pages: self.batch_pages,
            zero_pages: match self.zero_pages {
                ZeroPages::On => true,
                ZeroPages::Off => false,
                ZeroPages::Auto => self.policy == Policy::Qemu,
            },
            self_ballooning: self.self_ballooning,
        }
    }
}

/// The registry entry of pre-copy with a choice of policy.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "precopy",
    section: "precopy",
    base: None,
    family: Family::PreCopy,
    downtime: Downtime::LastDirtyPages,
    summary: "Iterative pre-copy with a choice of convergence policy (default: Xen's)",
    paper: "Clark et al., Live Migration of Virtual Machines, NSDI 2005; Xen xc_domain_save.c",
    params: PARAMS,
    fixed: &[],
    build,
};

/// A pre-copy's convergence policy with its settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Convergence {
    /// Xen's loop ([`xen`]).
    Xen(XenPolicy),
    /// QEMU's threshold rule ([`qemu`]).
    Qemu(QemuPolicy),
    /// Cloud Hypervisor's estimate and pass cap ([`cloud_hypervisor`]).
    CloudHypervisor(CloudHypervisorPolicy),
}

/// Pre-copy migration (see the module docs).
#[derive(Debug, Clone)]
pub struct Precopy {
    convergence: Convergence,
    sending: Sending,
}

/// Builds pre-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    Box::new(Precopy::from_params(&PrecopyParams::from_params(p)))
}

impl Precopy {
    /// Pre-copy from resolved parameters (`[params.precopy]`).
    pub(crate) fn from_params(p: &PrecopyParams) -> Precopy {
        let convergence = match p.policy {
            Policy::Xen => Convergence::Xen(XenPolicy::from_params(p)),
            Policy::Qemu => Convergence::Qemu(QemuPolicy::from_params(p)),
            Policy::CloudHypervisor => Convergence::CloudHypervisor(CloudHypervisorPolicy::from_params(p)),
        };
        Precopy { convergence, sending: p.sending() }
    }

    /// Runs the pre-copy, putting pages on the wire through `sender`: turn on the dirty log,
    /// then the policy's loop.
    pub(crate) fn run_with(&self, ctx: &mut dyn MigrationContext, sender: Box<dyn PageSender>) -> Result<Outcome, ContextError> {
        let mut run = Run::new(ctx, sender, &self.sending);
        run.start_dirty_log()?;
        match &self.convergence {
            Convergence::Xen(xen) => xen.run(&mut run),
            Convergence::Qemu(qemu) => qemu.run(&mut run),
            Convergence::CloudHypervisor(ch) => ch.run(&mut run),
        }
    }
}

impl Algorithm for Precopy {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        self.run_with(ctx, self.sending.plain_pages())
    }
}
