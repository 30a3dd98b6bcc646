//! `livemig sweep`: one scenario field varied over a range, every value run with each algorithm
//! (the `--vary` text is read by the core, [`livemig_core::sweep::vary`]).

use crate::input::bad;
use indicatif::{ProgressBar, ProgressStyle};
use livemig_core::trace::TraceDetail;
use livemig_core::{Report, Scenario};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A parsed `--vary` (the core's [`livemig_core::sweep::vary`]).
pub use livemig_core::sweep::vary::Vary;

/// Parses `--vary KEY=FROM..TO:STEPS[;log|;lin]` with the core's [`livemig_core::sweep::vary`]
/// (geometric spacing with `log`, the `--log` flag); a bad one is bad input.
pub fn parse_vary(spec: &str, log: bool) -> anyhow::Result<Vary> {
    livemig_core::sweep::vary::parse_vary(spec, log).map_err(|e| bad(e.0))
}

/// One finished run of a sweep.
pub struct Point {
    /// The value of the varied key.
    pub value: String,
    /// The run's report.
    pub report: Report,
}

/// Runs every (value, algorithm) pair on all cores, with a progress bar on a terminal.
pub fn run(base: &Scenario, vary: &Vary, algorithms: &[String]) -> anyhow::Result<Vec<Point>> {
    // Validate every value first so a bad one fails before any work.
    let mut jobs = Vec::new();
    for value in &vary.values {
        let s = base.with_overrides(&[format!("{}={}", vary.key, value)]).map_err(|e| bad(format!("--vary {}={value}: {e}", vary.key)))?;
        crate::input::check_cost(&s, TraceDetail::Summary).map_err(|e| bad(format!("--vary {}={value}: {e}", vary.key)))?;
        for a in algorithms {
            jobs.push((value.clone(), s.clone(), a.clone()));
        }
    }
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(ProgressStyle::with_template("{spinner} sweep {pos}/{len} runs [{elapsed_precise}] {wide_bar}").expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<Point>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((value, s, a)) = jobs.get(i) else { break };
                let r =
                    crate::input::simulate(s, Some(a), TraceDetail::Summary).map(|run| Point { value: value.clone(), report: run.report });
                results.lock().expect("no panics while holding the lock")[i] = Some(r);
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    results.into_inner().expect("threads joined").into_iter().map(|r| r.expect("every job ran")).collect()
}
