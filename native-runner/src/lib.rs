//! The native runner's library: the real-KVM backend (used by the `livemig` binary and its
//! tests).

pub mod kvm;
