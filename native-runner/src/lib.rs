//! The native runner's library: the real-KVM backend and the QEMU peer (used by the `livemig`
//! binary and its tests).

pub mod kvm;
pub mod qemu;
