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

/// Resizes the scenario's VM to `bytes` for a real guest (the KVM runner's and the QEMU peer's
/// `--memory`), scaling free memory and every working set and offset by the same factor
/// (rounded to whole pages) so that a preset keeps its shape; rates stay.
pub fn resize_guest(s: &mut livemig_core::Scenario, bytes: u64) {
    use livemig_core::units::ByteSize;
    let ps = s.vm.page_size.0.max(1);
    let f = bytes as f64 / s.vm.memory.0 as f64;
    let scale = |b: u64| ((b as f64 * f / ps as f64).round() as u64) * ps;
    s.vm.memory = ByteSize(bytes);
    s.vm.free_memory = ByteSize(scale(s.vm.free_memory.0).min(bytes.saturating_sub(ps * 4)));
    let w = &mut s.workload;
    w.working_set = w.working_set.map(|b| ByteSize(scale(b.0).max(ps)));
    w.working_set_offset = ByteSize(scale(w.working_set_offset.0));
    for p in &mut w.phases {
        p.working_set = p.working_set.map(|b| ByteSize(scale(b.0).max(ps)));
        p.working_set_offset = p.working_set_offset.map(|b| ByteSize(scale(b.0)));
    }
}
