//! Tests of the real-KVM backend. They need `/dev/kvm`; where it cannot be opened each test
//! prints one line saying so and passes.

use livemig_core::Scenario;
use livemig_runner::kvm::guest::{Layout, PlanState, Planner};
use livemig_runner::kvm::vm::{Runner, Vm};
use std::time::{Duration, Instant};

fn kvm() -> Option<kvm_ioctls::Kvm> {
    match livemig_runner::kvm::open_kvm() {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

fn scenario(memory: &str, workload: &str) -> Scenario {
    Scenario::from_toml_str(&format!("[vm]\nmemory = \"{memory}\"\n[workload]\n{workload}\n")).unwrap()
}

#[test]
fn the_dirty_log_holds_exactly_the_pages_a_sequential_sweep_wrote() {
    let Some(kvm) = kvm() else { return };
    let s = scenario("16 MiB", "pattern = \"sequential\"\nwrite_rate = 50000\nread_rate = 0");
    let layout = Layout::new(s.page_count(), s.used_pages());
    let vm = Vm::new(&kvm, (s.page_count() * 4096) as usize, true).unwrap();
    vm.boot(layout, s.seed).unwrap();
    let _ = vm.dirty_log().unwrap();
    let planner = Planner::new(&s, layout);
    // 50000 pages/s * 2 ms = 100 writes a batch: 10 batches write pages 0..1000.
    let runner = Runner::start(&vm, planner, PlanState::start(), false, Some(10));
    let plan = runner.wait_parked(Duration::from_secs(20)).unwrap();
    assert_eq!((plan.batch, plan.writes), (10, 1000));
    let log = vm.dirty_log().unwrap();
    let dirty: Vec<u64> = (0..s.page_count()).filter(|&p| log[(p / 64) as usize] >> (p % 64) & 1 == 1).collect();
    let mut want: Vec<u64> = (0..1000).collect();
    want.push(layout.params / 4096);
    assert_eq!(dirty, want);
    // Each written page holds k * 0x9E3779B1 ^ page at offset 4k.
    for p in [0u64, 1, 999] {
        let v = vm.memory().read_u32(p * 4096 + (4 * p) % 4096);
        assert_eq!(v, (p as u32).wrapping_mul(0x9E37_79B1) ^ p as u32, "page {p}");
    }
    // The log was cleared by the read.
    assert!(vm.dirty_log().unwrap().iter().all(|&w| w == 0));
}

#[test]
fn measure_the_guest_write_rate() {
    let Some(kvm) = kvm() else { return };
    for (pattern, extra) in [("sequential", ""), ("uniform", ""), ("hot-cold", "hot_fraction = 0.1\nhot_probability = 0.9\n")] {
        let s = scenario("64 MiB", &format!("pattern = \"{pattern}\"\nwrite_rate = 2000000\nread_rate = 0\n{extra}"));
        let layout = Layout::new(s.page_count(), s.used_pages());
        let vm = Vm::new(&kvm, (s.page_count() * 4096) as usize, true).unwrap();
        vm.boot(layout, s.seed).unwrap();
        let runner = Runner::start(&vm, Planner::new(&s, layout), PlanState::start(), false, Some(60));
        let t = Instant::now();
        let plan = runner.wait_parked(Duration::from_secs(60)).unwrap();
        let secs = t.elapsed().as_secs_f64();
        eprintln!("{pattern}: {} writes in {secs:.3} s = {:.0} writes/s", plan.writes, plan.writes as f64 / secs);
    }
}
