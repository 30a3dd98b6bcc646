//! `livemig sweep`: one scenario field varied over a range, every value run with each algorithm.

use crate::input::bad;
use indicatif::{ProgressBar, ProgressStyle};
use livemig_core::trace::TraceDetail;
use livemig_core::{Report, Scenario};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A parsed `--vary KEY=FROM..TO:STEPS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// Dotted scenario key.
    pub key: String,
    /// The values, as override text.
    pub values: Vec<String>,
}

fn split_unit(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let n: f64 = s[..end].parse().ok()?;
    Some((n, s[end..].trim().to_string()))
}

/// How many `to` units one `from` unit is, when both are units of one quantity (size,
/// bandwidth, duration or page rate), as the scenario parser reads them.
fn unit_ratio(from: &str, to: &str) -> Option<f64> {
    use livemig_core::units::{Bandwidth, ByteSize, PageRate, Seconds};
    fn ratio<T: std::str::FromStr>(from: &str, to: &str, base: impl Fn(T) -> f64) -> Option<f64> {
        let one = |u: &str| format!("1 {u}").parse::<T>().ok().map(&base);
        Some(one(from)? / one(to)?)
    }
    ratio::<ByteSize>(from, to, |v| v.0 as f64)
        .or_else(|| ratio::<Bandwidth>(from, to, |v| v.0))
        .or_else(|| ratio::<Seconds>(from, to, |v| v.0))
        .or_else(|| ratio::<PageRate>(from, to, |v| v.0))
}

/// Parses `KEY=FROM..TO:STEPS` (geometric spacing with `log`).
pub fn parse_vary(spec: &str, log: bool) -> anyhow::Result<Vary> {
    let usage = || {
        bad(format!("--vary '{spec}': expected KEY=FROM..TO:STEPS with STEPS from 2 to 1000, e.g. link.bandwidth=100Mbit/s..10Gbit/s:10"))
    };
    let (key, range) = spec.split_once('=').ok_or_else(usage)?;
    let (range, steps) = range.rsplit_once(':').ok_or_else(usage)?;
    let (from, to) = range.split_once("..").ok_or_else(usage)?;
    let steps: usize = steps.trim().parse().map_err(|_| usage())?;
    if !(2..=1000).contains(&steps) || key.trim().is_empty() {
        return Err(usage());
    }
    let (a, ua) = split_unit(from).ok_or_else(usage)?;
    let (mut b, ub) = split_unit(to).ok_or_else(usage)?;
    if ua != ub {
        // Another unit of the same quantity (100Mbit/s..10Gbit/s): TO in FROM's unit.
        let ratio = unit_ratio(&ub, &ua).ok_or_else(|| {
            bad(format!(
                "--vary '{spec}': FROM and TO must be quantities of one kind, e.g. both sizes or both bandwidths ('{ua}' and '{ub}')"
            ))
        })?;
        b *= ratio;
    }
    if !a.is_finite() || !b.is_finite() || (log && (a <= 0.0 || b <= 0.0)) {
        return Err(bad(format!("--vary '{spec}': FROM and TO must be finite numbers{}", if log { " above 0 for --log" } else { "" })));
    }
    let integers = ua.is_empty() && !from.contains('.') && !to.contains('.');
    let mut values = Vec::with_capacity(steps);
    for i in 0..steps {
        let f = i as f64 / (steps - 1) as f64;
        let v = if log { a * (b / a).powf(f) } else { a + (b - a) * f };
        let text = if integers {
            format!("{}", v.round() as i64)
        } else {
            let t = format!("{v:.6}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        values.push(if ua.is_empty() { text } else { format!("{text} {ua}") });
    }
    values.dedup();
    Ok(Vary { key: key.trim().to_string(), values })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_log_ranges_with_units() {
        let v = parse_vary("link.bandwidth=1Gbit/s..10Gbit/s:4", false).unwrap();
        assert_eq!(v.values, vec!["1 Gbit/s", "4 Gbit/s", "7 Gbit/s", "10 Gbit/s"]);
        let v = parse_vary("link.bandwidth=100Mbit/s..10000Mbit/s:3", true).unwrap();
        assert_eq!(v.values, vec!["100 Mbit/s", "1000 Mbit/s", "10000 Mbit/s"]);
        // TO in another unit of the same quantity is read in FROM's unit (the --help example).
        let v = parse_vary("link.bandwidth=100Mbit/s..10Gbit/s:3", true).unwrap();
        assert_eq!(v.values, vec!["100 Mbit/s", "1000 Mbit/s", "10000 Mbit/s"]);
        let v = parse_vary("vm.memory=512MiB..1GiB:3", false).unwrap();
        assert_eq!(v.values, vec!["512 MiB", "768 MiB", "1024 MiB"]);
        let v = parse_vary("seed=1..5:5", false).unwrap();
        assert_eq!(v.values, vec!["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn malformed_specs_are_rejected() {
        for spec in ["link.bandwidth", "x=1..2", "x=1..2:1", "x=1 s..2 MiB:3", "x=a..b:3", "=1..2:3"] {
            assert!(parse_vary(spec, false).is_err(), "{spec}");
        }
    }
}
