//! The native runner's library: the real-KVM backend and the QEMU peer (used by the `livemig`
//! binary and its tests).

pub mod kvm;
pub mod qemu;

/// How far `value` is from `reference`, as a fraction of the reference: `(value - reference) /
/// |reference|`; 0 when both are 0, None when only the reference is (the comparisons with the
/// KVM runner, QEMU and the closed form all report their differences this one way).
pub fn relative_change(value: f64, reference: f64) -> Option<f64> {
    if reference == 0.0 {
        return (value == 0.0).then_some(0.0);
    }
    Some((value - reference) / reference.abs())
}
