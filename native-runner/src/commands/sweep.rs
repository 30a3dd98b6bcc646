//! `livemig sweep SCENARIO --vary KEY=FROM..TO:STEPS`: one scenario field varied over a range,
//! every value run with each algorithm.

use super::{OutputFormat, ScenarioArgs};
use crate::input::{algorithm_names, bad, check_algorithm};
use crate::output::{print, print_json, summary_csv, table};
use indicatif::{ProgressBar, ProgressStyle};
use livemig_core::sweep::vary::{parse_vary, Vary};
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use livemig_core::{Report, Scenario};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs the scenario with each value of `vary` (`KEY=FROM..TO:STEPS`) and each of `algorithms`
/// (default: the scenario's), and prints one row per run.
pub fn run(scenario: &ScenarioArgs, vary: &str, log: bool, algorithms: Option<&str>, format: &OutputFormat) -> anyhow::Result<()> {
    let s = scenario.load()?;
    let names = algorithm_names("--algorithms", algorithms, vec![])?;
    let names = if names.is_empty() {
        check_algorithm("migration.algorithm", &s.migration.algorithm)?;
        vec![s.migration.algorithm.clone()]
    } else {
        names
    };
    let vary = parse_vary(vary, log).map_err(|e| bad(e.0))?;
    let points = run_points(&s, &vary, &names)?;
    if format.json {
        let list: Vec<_> = points.iter().map(|p| serde_json::json!({"key": vary.key, "value": p.value, "report": p.report})).collect();
        print_json(&list)
    } else if format.csv {
        let rows: Vec<_> = points.iter().map(|p| (vec![p.value.clone()], &p.report)).collect();
        print(&summary_csv(&[vary.key.as_str()], &rows)?)
    } else {
        print(&format!("{} (seed {}), varying {}\n{}\n", s.name, s.seed, vary.key, points_table(&vary.key, &points)))
    }
}

/// The runs for people: the value, the algorithm and the main metrics.
fn points_table(key: &str, points: &[Point]) -> comfy_table::Table {
    let mut t = table(&[key, "algorithm", "total time", "downtime", "data sent", "rounds", "faults", "converged"]);
    for p in points {
        let r = &p.report;
        t.add_row(vec![
            p.value.clone(),
            r.algorithm.clone(),
            Quantity::Duration.show(r.total_time_s),
            Quantity::Duration.show(r.downtime_s),
            Quantity::Size.show(r.bytes_sent as f64),
            r.rounds.to_string(),
            r.network_faults.to_string(),
            if r.converged { "yes" } else { "no" }.into(),
        ]);
    }
    t
}

/// One finished run of a sweep.
pub struct Point {
    /// The value of the varied key.
    pub value: String,
    /// The run's report.
    pub report: Report,
}

/// Runs every (value, algorithm) pair on all cores, with a progress bar on a terminal.
pub fn run_points(base: &Scenario, vary: &Vary, algorithms: &[String]) -> anyhow::Result<Vec<Point>> {
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
