//! `livemig qemu calibrate | crosscheck | matrix`: the simulator held against real QEMU (see
//! `livemig_runner::qemu::{mirror, crosscheck, matrix}`).

use crate::input::bad;
use indicatif::{ProgressBar, ProgressStyle};
use livemig_core::units::Quantity;
use livemig_core::Scenario;
use livemig_runner::qemu::crosscheck::{self, Crosscheck};
use livemig_runner::qemu::matrix::{self, CellResult};
use livemig_runner::qemu::mirror::{self, HostModel};
use livemig_runner::qemu::{QemuError, QemuOptions};

/// The guest memory the calibration uses (the matrix's).
const CALIBRATION_MEMORY: u64 = 512 << 20;

/// How the comparisons run QEMU: the destination preallocates its RAM (see
/// [`QemuOptions::preallocate_destination`]).
pub fn comparison_options() -> QemuOptions {
    QemuOptions { preallocate_destination: true, ..QemuOptions::default() }
}

/// A QEMU error as the CLI reports it: what QEMU cannot express is bad input (exit 2).
pub fn cli_error(e: QemuError) -> anyhow::Error {
    match e {
        QemuError::Unsupported(m) => bad(m),
        e => e.into(),
    }
}

/// Measures the host model, saying so on standard error.
pub fn calibrate(quiet: bool) -> anyhow::Result<HostModel> {
    if !quiet {
        eprintln!(
            "calibrating: {} QEMU migrations of a {} guest (idle, and a probe of dirty logging's faults), loopback TCP and the kernel's discard ...",
            mirror::CALIBRATION_MIGRATIONS,
            Quantity::Size.show(CALIBRATION_MEMORY as f64)
        );
    }
    let options = comparison_options();
    livemig_runner::qemu::check_available(&options).map_err(cli_error)?;
    let link = crate::commands::kvm_bench::tcp_loopback(256 << 20)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let host = mirror::calibrate(CALIBRATION_MEMORY, &options, link, cores).map_err(cli_error)?;
    if !quiet {
        eprintln!("{}", host_text(&host));
    }
    Ok(host)
}

/// One line per measured constant.
pub fn host_text(h: &HostModel) -> String {
    format!(
        "host model: {} CPUs; QEMU's sending thread {}/s with a CPU to itself, zero check {}/s, device state {}, destination resume {}, loopback TCP {}/s; \
         destination's first touch {}/s, discard {} a range + {} a page, switch to post-copy {}; the guest's write fault under dirty logging {}",
        h.cores,
        Quantity::Size.show(h.send_rate),
        Quantity::Size.show(h.zero_scan_rate),
        Quantity::Size.show(h.state_bytes as f64),
        Quantity::Duration.show(h.resume_overhead_s),
        Quantity::Size.show(h.link_bandwidth),
        Quantity::Size.show(h.first_touch_rate),
        Quantity::Duration.show(h.discard_range_s),
        Quantity::Duration.show(h.discard_page_s),
        Quantity::Duration.show(h.postcopy_switch_s),
        Quantity::Duration.show(h.dirty_fault_s)
    )
}

fn fmt_metric(metric: &str, v: f64) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match metric {
        "completed" => if v >= 0.5 { "yes" } else { "no" }.into(),
        _ => Quantity::of_metric(metric).show(v),
    }
}

fn fmt_diff(e: Option<f64>) -> String {
    e.map_or_else(|| "-".into(), |e| format!("{:+.1}%", e * 100.0))
}

/// `livemig qemu crosscheck`'s table.
pub fn crosscheck_text(c: &Crosscheck, host: &HostModel) -> String {
    let mut t = crate::output::table(&["metric", "QEMU", "simulated", "diff"]);
    for p in c.pairs() {
        t.add_row(vec![
            p.metric.to_string(),
            fmt_metric(p.metric, p.real),
            fmt_metric(p.metric, p.simulated),
            fmt_diff(p.relative_error()),
        ]);
    }
    let d = &c.real.qemu;
    let sims: Vec<String> = c
        .simulated
        .iter()
        .map(|r| format!("{} / {}", Quantity::Duration.show(r.total_time_s), Quantity::Duration.show(r.downtime_s)))
        .collect();
    format!(
        "{} on {}: QEMU {} against the simulator (median of seeds {:?})\n{t}\n\
         QEMU's own downtime (source side): {}; the table's is the guest's (STOP to RESUME), the simulator's definition\n\
         simulated total / downtime per seed: {}\n{}\n",
        c.real.report.algorithm,
        c.real.report.scenario,
        d.qemu_version,
        crosscheck::SEEDS,
        d.downtime_s.map_or("-".into(), |s| Quantity::Duration.show(s)),
        sims.join(", "),
        host_text(host)
    )
}

/// `livemig qemu crosscheck SCENARIO -a ALG`.
pub fn run_crosscheck(s: &Scenario, algorithm: &str, json: bool) -> anyhow::Result<()> {
    let host = calibrate(json)?;
    let c = crosscheck::crosscheck(s, algorithm, &host, &comparison_options()).map_err(cli_error)?;
    if json {
        let pairs = c.pairs();
        let value = serde_json::json!({"host": host, "pairs": pairs.iter().map(|p| serde_json::json!({
            "metric": p.metric, "qemu": p.real, "simulated": p.simulated, "relative_error": p.relative_error(),
        })).collect::<Vec<_>>(), "qemu": c.real, "simulated": c.simulated});
        crate::output::print_json(&value)
    } else {
        crate::output::print(&crosscheck_text(&c, &host))
    }
}

fn spread_text(metric: &str, s: &matrix::Spread) -> String {
    if s.median.is_nan() {
        return "-".into();
    }
    if metric == "completed" {
        return fmt_metric(metric, s.median);
    }
    if s.min == s.max {
        fmt_metric(metric, s.median)
    } else {
        format!("{} ({}-{})", fmt_metric(metric, s.median), fmt_metric(metric, s.min), fmt_metric(metric, s.max))
    }
}

/// The matrix table: per cell, QEMU's median (min-max) and the simulator's, with the error.
pub fn matrix_text(cells: &[CellResult], host: &HostModel, runs: usize) -> String {
    let mut t = crate::output::table(&[
        "cell",
        "total QEMU",
        "total sim",
        "err",
        "bytes QEMU",
        "bytes sim",
        "err",
        "downtime QEMU",
        "downtime sim",
        "done Q/S",
        "ok",
    ]);
    let mut passed = 0;
    for c in cells {
        let m = |name| c.metric(name).expect("every metric is compared");
        let (tt, by, dt, done) = (m("total_time_s"), m("bytes_sent"), m("downtime_s"), m("completed"));
        let err = |x: &matrix::CellMetric| fmt_diff(livemig_runner::relative_change(x.simulated.median, x.qemu.median));
        let w = c.within;
        let mark = |ok: bool, what: &str| if ok { String::new() } else { what.to_string() };
        let verdict = if w.all() {
            passed += 1;
            "yes".to_string()
        } else {
            [mark(w.total_time, "time"), mark(w.bytes, "bytes"), mark(w.downtime, "downtime"), mark(w.verdict, "verdict")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        };
        t.add_row(vec![
            c.label.clone(),
            spread_text("total_time_s", &tt.qemu),
            spread_text("total_time_s", &tt.simulated),
            err(tt),
            spread_text("bytes_sent", &by.qemu),
            spread_text("bytes_sent", &by.simulated),
            err(by),
            spread_text("downtime_s", &dt.qemu),
            spread_text("downtime_s", &dt.simulated),
            format!("{}/{}", fmt_metric("completed", done.qemu.median), fmt_metric("completed", done.simulated.median)),
            verdict,
        ]);
    }
    let mut out = format!(
        "QEMU against the simulator: {} cells, {runs} QEMU runs each (median and min-max), the simulator on every run's scenario with seeds {:?}\n{t}\n",
        cells.len(),
        crosscheck::SEEDS
    );
    out += &format!(
        "{passed} of {} cells within every target (total time and bytes within 15%, downtime within max(10 ms, 50%), the same verdict)\n",
        cells.len()
    );
    for c in cells {
        for e in &c.errors {
            out += &format!("{}: a QEMU run failed: {e}\n", c.label);
        }
        if c.unverified > 0 {
            out += &format!("{}: {} QEMU runs were not verified\n", c.label, c.unverified);
        }
    }
    out += &host_text(host);
    out += "\n";
    out
}

/// `livemig qemu matrix`.
pub fn run_matrix(runs: usize, filter: Option<&str>, json: bool) -> anyhow::Result<()> {
    if !(1..=20).contains(&runs) {
        return Err(bad(format!("--runs: {runs} is out of range: accepted 1 to 20")));
    }
    let cells: Vec<matrix::Cell> = matrix::grid().into_iter().filter(|c| filter.is_none_or(|f| c.label().contains(f))).collect();
    if cells.is_empty() {
        return Err(bad(format!(
            "--cells: '{}' matches no cell: cells are named like 'uniform 50000/s 256MiB | 128 MiB/s | xbzrle'",
            filter.unwrap_or_default()
        )));
    }
    let host = calibrate(false)?;
    let options = comparison_options();
    let bar = ProgressBar::new((cells.len() * runs) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} qemu matrix {pos}/{len} migrations [{elapsed_precise}, about {eta} left] {wide_bar}\n{msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut results = Vec::new();
    for cell in &cells {
        bar.set_message(cell.label());
        let r = matrix::run_cell(cell, runs, &host, &options).map_err(cli_error)?;
        bar.inc(runs as u64);
        results.push(r);
    }
    bar.finish_and_clear();
    if json {
        let value = serde_json::json!({"host": host, "runs": runs, "cells": results});
        crate::output::print_json(&value)
    } else {
        crate::output::print(&matrix_text(&results, &host, runs))
    }
}
