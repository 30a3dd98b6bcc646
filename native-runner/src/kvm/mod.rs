//! The real-KVM backend: a small guest in a KVM VM, and a [`MigrationContext`] that migrates it
//! between two VMs (ALGORITHMS.md §10, project issue 5).
//!
//! * [`guest`]: the guest program (32-bit protected-mode loop) and the host's batch planner;
//! * [`vm`]: a VM (memory slot, vCPU, the vCPU thread with pause/pacing);
//! * [`context`]: [`context::KvmContext`], the core's [`MigrationContext`] over a source and a
//!   destination VM, with an in-process transport, and [`context::migrate`].
//!
//! [`MigrationContext`]: livemig_core::MigrationContext

pub mod context;
pub mod dest;
pub mod guest;
pub mod remote;
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
}

/// Opens `/dev/kvm`.
pub fn open_kvm() -> Result<kvm_ioctls::Kvm, KvmError> {
    kvm_ioctls::Kvm::new().map_err(|e| KvmError::NoKvm(e.to_string()))
}
