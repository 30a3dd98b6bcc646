//! Criterion benchmarks of the simulator: whole migrations of the benchmark scenario
//! ([`livemig_core::presets::benchmark`]: hot/cold workload, 1 Gbit/s) with Xen pre-copy and
//! post-copy with bubbling, for a 1 GiB and a 4 GiB VM. `livemig bench` runs the same scenario up
//! to 64 GiB, one process per case, and also reports peak memory.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use livemig_core::{presets::benchmark, simulate, trace::TraceDetail};

fn whole_migrations(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    for gib in [1u64, 4] {
        let scenario = benchmark(gib).expect("the benchmark scenario is valid");
        for algorithm in ["precopy-xen", "postcopy-bubbling"] {
            group.bench_with_input(BenchmarkId::new(algorithm, format!("{gib}GiB")), &scenario, |b, s| {
                b.iter(|| {
                    let run = simulate(s, Some(algorithm), TraceDetail::Summary).expect("the benchmark runs");
                    assert!(run.report.verified);
                    run.report.total_time_s
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, whole_migrations);
criterion_main!(benches);
