//! The real-KVM backend: a small guest in a KVM VM, and a [`MigrationContext`] that migrates it
//! between two VMs (docs/architecture.md, project issue 5).
//!
//! * [`guest`]: the guest program (a 64-bit loop at CPL3, `guest.S`) and the host's batch
//!   planner that turns the scenario's workload into paced batches of writes and reads;
//! * [`vm`]: a VM (memory slot with dirty logging, vCPU, the vCPU thread with pause and pacing);
//! * [`context`]: [`context::KvmContext`], the core's [`MigrationContext`] over the source VM and
//!   a [`dest::Destination`], and [`context::migrate`], which runs a registered algorithm;
//! * [`dest`]: the destination side (an in-process VM fed by a receiver thread);
//! * [`wire`] and [`remote`]: the same over TCP between two processes;
//! * [`crosscheck`]: a real run held against the simulated one.
//!
//! From the command line:
//!
//! ```text
//! livemig kvm migrate SCENARIO --algorithm NAME [--memory SIZE] [--json] [--trace FILE]
//! livemig kvm receive --listen 127.0.0.1:4444        # in one process
//! livemig kvm send SCENARIO --to 127.0.0.1:4444 -a NAME   # in another
//! livemig kvm crosscheck SCENARIO -a NAME [--memory SIZE] [--json] [--trace FILE]  # real vs simulated
//! livemig kvm bench [--memory SIZE] [--json]     # in-process migrations beside memcpy and TCP
//! ```
//!
//! A migration that fails before the switch-over (e.g. its connection is cut) gives the source
//! back with its guest running (resumed if it was paused): see [`context::migrate_or_abort`].
//!
//! Limits: every algorithm, in one process or over TCP (post-copy and hybrid destinations,
//! TSMC's among them, use userfaultfd, see [`uffd`]); one vCPU, no devices, no interrupts; guests of
//! up to 1 GiB. The guest runs natively
//! (millions of page writes per second unpaced); the host paces it to the scenario's rates in
//! batches of 2 ms, and a run says how often the guest fell behind its pacing.
//!
//! [`MigrationContext`]: livemig_core::MigrationContext

pub mod context;
pub mod crosscheck;
pub mod dest;
pub mod guest;
pub mod remote;
pub mod uffd;
pub mod vm;
pub mod wire;

/// Why the KVM backend failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KvmError {
    /// `/dev/kvm` could not be opened.
    #[error("/dev/kvm cannot be opened: {0}")]
    NoKvm(String),
    /// Setting up a VM failed.
    #[error("setup failed: {0}")]
    Setup(String),
    /// A KVM ioctl failed.
    #[error("KVM: {0}")]
    Kvm(String),
    /// The guest stopped unexpectedly.
    #[error("guest: {0}")]
    Guest(String),
    /// The input cannot run on KVM (field named).
    #[error("{0}")]
    Unsupported(String),
    /// A receiver's deadline passed (the message names it: `--accept-timeout`, the session
    /// deadline).
    #[error("{0}")]
    Deadline(String),
}

/// Opens `/dev/kvm`.
pub fn open_kvm() -> Result<kvm_ioctls::Kvm, KvmError> {
    kvm_ioctls::Kvm::new().map_err(|e| KvmError::NoKvm(e.to_string()))
}
