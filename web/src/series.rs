//! The numbers behind the charts and the export files, computed from a trace and its report
//! without a browser (so they are unit-tested natively).
//!
//! * [`round_bars`], [`round_rates`]: per-round figures from the report's `per_round`;
//! * [`cumulative_bytes`], [`downtime_windows`]: data sent over time and when the VM ran nowhere;
//! * [`model_for`]: the geometric pre-copy model's prediction for a scenario (as `livemig model`);
//! * [`report_csv`], [`summary_csv`]: the report as CSV with the CLI's columns.

use livemig_core::context::RoundKind;
use livemig_core::model::{GeometricModel, Prediction};
use livemig_core::report::Report;
use livemig_core::trace::{Event, Trace};
use livemig_core::Scenario;

/// One round as a bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundBar {
    /// 1-based round number.
    pub round: u32,
    /// What the round did.
    pub kind: RoundKind,
    /// Page transmissions in the round.
    pub pages: u64,
    /// Wire bytes in the round.
    pub bytes: u64,
}

/// The report's rounds as bars (one per `per_round` entry, in order).
pub fn round_bars(report: &Report) -> Vec<RoundBar> {
    report.per_round.iter().map(|r| RoundBar { round: r.round, kind: r.kind, pages: r.pages_sent, bytes: r.bytes_sent }).collect()
}

/// A round's dirty rate against its transfer rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundRate {
    /// 1-based round number.
    pub round: u32,
    /// What the round did.
    pub kind: RoundKind,
    /// Pages dirty at the round's end per second of the round.
    pub dirty_per_s: f64,
    /// Pages sent per second of the round.
    pub sent_per_s: f64,
}

/// Dirty rate (pages dirty at the round's end / round duration) and transfer rate (pages sent /
/// round duration) of every round that lasted a measurable time; instantaneous rounds are left
/// out (their rates are undefined).
pub fn round_rates(report: &Report) -> Vec<RoundRate> {
    report
        .per_round
        .iter()
        .filter_map(|r| {
            let d = r.end_s - r.start_s;
            (d.is_finite() && d > 1e-12).then(|| RoundRate {
                round: r.round,
                kind: r.kind,
                dirty_per_s: r.dirty_pages as f64 / d,
                sent_per_s: r.pages_sent as f64 / d,
            })
        })
        .collect()
}

/// Wire bytes that have left the source by time `t`, as a piecewise-linear curve of `(t,
/// bytes)` points in time order, starting at `(0, 0)`: each send's bytes leave evenly between
/// its start and its `end` (so a summary trace, with one send per round, still gives a curve,
/// not one jump per round). The last value is the report's `bytes_sent`, exactly.
pub fn cumulative_bytes(trace: &Trace) -> Vec<(f64, f64)> {
    // (time, order at that time, change): ramps end first, then begin, then instant sends.
    enum Change {
        Finish(f64, u64),
        Begin(f64),
        Jump(u64),
    }
    let mut changes: Vec<(f64, u8, Change)> = Vec::new();
    for e in &trace.events {
        let (b, end) = match &e.event {
            Event::PagesSent { wire_bytes, end, .. } => (*wire_bytes, *end),
            Event::DataSent { bytes, end, .. } => (*bytes, *end),
            _ => continue,
        };
        if b == 0 || !e.t.is_finite() {
            continue;
        }
        let start = e.t.max(0.0);
        if end.is_finite() && end > start {
            let rate = b as f64 / (end - start);
            changes.push((start, 1, Change::Begin(rate)));
            changes.push((end, 0, Change::Finish(rate, b)));
        } else {
            changes.push((start, 2, Change::Jump(b)));
        }
    }
    changes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = vec![(0.0, 0.0)];
    // Bytes of finished sends (exact), bytes of sends under way, their total rate, how many.
    let (mut done, mut partial, mut slope, mut active) = (0u64, 0.0f64, 0.0f64, 0usize);
    let mut last_t = 0.0f64;
    let mut i = 0;
    while i < changes.len() {
        let t = changes[i].0;
        partial += slope * (t - last_t);
        last_t = t;
        let floor = out.last().map_or(0.0, |p| p.1);
        let before = (done as f64 + partial).max(floor);
        while i < changes.len() && changes[i].0 == t {
            match changes[i].2 {
                Change::Finish(rate, b) => {
                    done = done.saturating_add(b);
                    partial -= b as f64;
                    slope -= rate;
                    active -= 1;
                }
                Change::Begin(rate) => {
                    slope += rate;
                    active += 1;
                }
                Change::Jump(b) => done = done.saturating_add(b),
            }
            i += 1;
        }
        if active == 0 {
            // Nothing under way: drop the rounding the running sums gathered.
            partial = 0.0;
            slope = 0.0;
        }
        let after = (done as f64 + partial).max(before);
        if t > 0.0 || before > 0.0 {
            out.push((t, before));
        }
        if after > before {
            out.push((t, after));
        }
    }
    out
}

/// The value of a curve of [`cumulative_bytes`] points at time `t` (linear between points,
/// the last value after the end, 0 before the start).
pub fn value_at(points: &[(f64, f64)], t: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= t);
    match (i.checked_sub(1).map(|j| points[j]), points.get(i)) {
        (None, _) => 0.0,
        (Some(a), None) => a.1,
        (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0),
        (Some(a), Some(_)) => a.1,
    }
}

/// At most about `max` points of a non-decreasing curve, for drawing: within each of `max / 2`
/// equal time slices only the first and last points are kept, so the drawn line stays within a
/// slice of the exact one. Keeps the first and last points.
pub fn decimate(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max.max(2) {
        return points.to_vec();
    }
    let slices = (max / 2).max(1);
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let span = (t1 - t0).max(1e-300);
    let slice_of = |t: f64| (((t - t0) / span * slices as f64) as usize).min(slices - 1);
    let mut out = Vec::with_capacity(max + 2);
    let mut i = 0;
    while i < points.len() {
        let s = slice_of(points[i].0);
        let mut j = i;
        while j + 1 < points.len() && slice_of(points[j + 1].0) == s {
            j += 1;
        }
        out.push(points[i]);
        if j > i {
            out.push(points[j]);
        }
        i = j + 1;
    }
    out
}

/// When the VM ran nowhere: from each `SourcePaused` to the next `DestinationResumed` (or to
/// the trace's end if it never resumed).
pub fn downtime_windows(trace: &Trace) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut paused = None;
    for e in &trace.events {
        match e.event {
            Event::SourcePaused if paused.is_none() => paused = Some(e.t),
            Event::DestinationResumed => {
                if let Some(p) = paused.take() {
                    out.push((p, e.t.max(p)));
                }
            }
            _ => {}
        }
    }
    if let Some(p) = paused {
        let end = trace.events.last().map_or(p, |e| e.t).max(p);
        out.push((p, end));
    }
    out
}

/// The geometric model set up for a scenario, and what it predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// The model's inputs.
    pub model: GeometricModel,
    /// `λ` = dirty rate / transfer rate.
    pub lambda: f64,
    /// Its prediction.
    pub prediction: Prediction,
}

/// The geometric pre-copy model (Xen's stop rules) for `scenario`, set up exactly as
/// `livemig model` sets it up: the scenario's `[params.precopy]` with `precopy-xen`'s fixed
/// values, the workload's write rate as the dirty rate, latency added to the resume cost.
pub fn model_for(scenario: &Scenario) -> Result<ModelView, String> {
    let model = GeometricModel::for_scenario(scenario).map_err(|e| e.to_string())?;
    if !(model.bandwidth.is_finite() && model.bandwidth > 0.0 && model.page_bytes > 0.0 && model.pages > 0.0) {
        return Err("the model needs a positive bandwidth and at least one page".into());
    }
    let prediction = model.predict();
    if prediction.per_round_pages.iter().any(|v| !v.is_finite()) {
        return Err("the model's prediction is not finite for this scenario".into());
    }
    Ok(ModelView { lambda: model.lambda(), model, prediction })
}

use livemig_core::report::csv_line;
/// A round kind as the CLI writes it (`live`, `stop-and-copy`, ...).
pub use livemig_core::report::round_kind_name as kind_name;

/// Columns of [`report_csv`]: `livemig simulate --csv --per-round`'s.
pub use livemig_core::report::ROUND_COLUMNS;

/// The report's rounds as CSV, exactly as `livemig simulate --csv --per-round` prints them, plus
/// a last `total` row: time from the first round's start to the end, and the report's totals
/// of pages and bytes (`kind` and `dirty_pages` empty).
pub fn report_csv(report: &Report) -> String {
    let mut out = report.rounds_csv();
    let start = report.per_round.first().map_or(0.0, |r| r.start_s);
    out += &csv_line(&[
        "total".into(),
        String::new(),
        start.to_string(),
        report.total_time_s.to_string(),
        report.pages_sent.to_string(),
        report.bytes_sent.to_string(),
        String::new(),
    ]);
    out
}

pub use livemig_core::report::SUMMARY_COLUMNS;

/// The report's summary as CSV, exactly as `livemig simulate --csv` prints it.
pub fn summary_csv(r: &Report) -> String {
    csv_line(&SUMMARY_COLUMNS) + &csv_line(&r.summary_record())
}

/// Checks the size of a trace file the user picked, before it is read: at most
/// [`livemig_core::trace::MAX_TRACE_FILE_BYTES`], the largest trace `livemig trace` writes by
/// default. `bytes` is the browser's `File.size`. The error is one line naming the file, its
/// size and the bound.
pub fn check_trace_file_size(name: &str, bytes: f64) -> Result<(), String> {
    let bytes = if bytes.is_finite() && bytes >= 0.0 { bytes as u64 } else { u64::MAX };
    Trace::check_file_size(bytes).map_err(|e| format!("trace file '{name}': {e}"))
}

/// Checks a trace read from a file for what the player's arithmetic needs beyond what
/// [`Trace::from_json`] and the player check: totals of counts and bytes that fit in 64 bits
/// (the report adds them up) and no empty page runs (`[first, 0]`). A trace the simulator
/// wrote always passes.
pub fn check_trace_file(trace: &Trace) -> Result<(), String> {
    let (mut pages, mut wire, mut payload, mut dropped) = (0u128, 0u128, 0u128, 0u128);
    for (i, e) in trace.events.iter().enumerate() {
        let runs = match &e.event {
            Event::PagesSent { count, wire_bytes, payload_bytes, pages: runs, .. } => {
                pages += u128::from(*count);
                wire += u128::from(*wire_bytes);
                payload += u128::from(*payload_bytes);
                runs
            }
            Event::DataSent { bytes, pages: runs, .. } => {
                wire += u128::from(*bytes);
                runs
            }
            Event::PagesDropped { count, pages: runs } => {
                dropped += u128::from(*count);
                runs
            }
            Event::PagesDirtied { pages: runs, .. } => runs,
            _ => continue,
        };
        if runs.0.iter().any(|r| r[1] == 0) {
            return Err(format!("trace event {i} has an empty page run ([first, 0])"));
        }
    }
    if pages.max(wire).max(payload).max(dropped) > u128::from(u64::MAX) {
        return Err("the trace's page or byte counts add up to more than 64 bits can hold".into());
    }
    Ok(())
}

/// A file name stem for a run's exports: `livemig-<scenario>-<algorithm>`, with anything but
/// ASCII letters, digits, `.`, `_` and `-` replaced by `-`.
pub fn file_stem(report: &Report) -> String {
    let clean = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        let t = out.trim_matches(['-', '.']).to_string();
        if t.is_empty() {
            "run".to_string()
        } else {
            t
        }
    };
    format!("livemig-{}-{}", clean(&report.scenario), clean(&report.algorithm))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_trace_file_over_the_bound_is_refused_before_it_is_read() {
        let bound = livemig_core::trace::MAX_TRACE_FILE_BYTES as f64;
        assert_eq!(super::check_trace_file_size("t.json", bound), Ok(()));
        assert_eq!(super::check_trace_file_size("t.json", 0.0), Ok(()));
        assert_eq!(
            super::check_trace_file_size("huge.json", 2.0 * bound),
            Err("trace file 'huge.json': 1 GiB is too large: accepted a trace of up to 512 MiB (what `livemig trace` writes by default)"
                .to_string())
        );
        assert!(super::check_trace_file_size("odd.json", f64::NAN).is_err());
    }

    use super::*;
    use livemig_core::presets;
    use livemig_core::report::RoundReport;
    use livemig_core::trace::TraceDetail;

    fn run(preset: &str, algorithm: &str, detail: TraceDetail) -> (Trace, Report) {
        let s = crate::test_scenarios::small(preset);
        let run = livemig_core::simulate(&s, Some(algorithm), detail).unwrap();
        let report = Report::from_trace(&run.trace);
        (run.trace, report)
    }

    const ALGS: [&str; 6] = ["precopy-xen", "precopy-qemu", "postcopy-bubbling", "tsmc", "mecom", "hybrid"];

    #[test]
    fn per_round_series_have_one_entry_per_round() {
        for a in ALGS {
            let (_, r) = run("web-server", a, TraceDetail::Pages);
            let bars = round_bars(&r);
            assert_eq!(bars.len(), r.rounds as usize, "{a}");
            assert_eq!(bars.iter().map(|b| b.pages).sum::<u64>(), r.pages_sent, "{a}: bars add up to the pages sent");
            let rates = round_rates(&r);
            assert!(rates.len() <= bars.len());
            assert!(rates.iter().all(|x| x.dirty_per_s.is_finite() && x.sent_per_s.is_finite() && x.sent_per_s >= 0.0), "{a}");
        }
    }

    #[test]
    fn the_stop_and_copy_round_is_marked_and_pre_copy_converges() {
        let (_, r) = run("web-server", "precopy-xen", TraceDetail::Pages);
        let bars = round_bars(&r);
        assert_eq!(bars.last().map(|b| b.kind), Some(RoundKind::StopAndCopy));
        let rates = round_rates(&r);
        let first = rates[0];
        let d = r.per_round[0].end_s - r.per_round[0].start_s;
        assert!((first.sent_per_s - r.per_round[0].pages_sent as f64 / d).abs() < 1e-6);
        assert!((first.dirty_per_s - r.per_round[0].dirty_pages as f64 / d).abs() < 1e-6);
        assert!(first.dirty_per_s < first.sent_per_s, "a converging pre-copy dirties more slowly than it sends");
    }

    #[test]
    fn cumulative_bytes_end_at_the_reports_total() {
        for detail in [TraceDetail::Pages, TraceDetail::Summary] {
            for a in ALGS {
                let (t, r) = run("web-server", a, detail);
                let c = cumulative_bytes(&t);
                assert_eq!(c.first(), Some(&(0.0, 0.0)));
                assert_eq!(c.last().map(|p| p.1), Some(r.bytes_sent as f64), "{a} {detail:?}");
                assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1), "{a}: time-ordered and non-decreasing");
                let d = decimate(&c, 200);
                assert!(d.len() <= 202, "{a}: {}", d.len());
                assert_eq!(d.first(), c.first());
                assert_eq!(d.last(), c.last());
                assert!(d.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
                assert_eq!(value_at(&c, f64::INFINITY), r.bytes_sent as f64);
                assert_eq!(value_at(&c, -1.0), 0.0);
            }
        }
    }

    #[test]
    fn a_summary_trace_ramps_through_each_round() {
        let (t, r) = run("web-server", "precopy-xen", TraceDetail::Summary);
        let c = cumulative_bytes(&t);
        let round1 = &r.per_round[0];
        let mid = (round1.start_s + round1.end_s) / 2.0;
        let half = value_at(&c, mid);
        let expect = round1.bytes_sent as f64 / 2.0;
        assert!((half - expect).abs() / expect < 0.01, "half-way through round 1: {half} vs {expect}");
        assert!((value_at(&c, round1.end_s) - round1.bytes_sent as f64).abs() < 1.0);
    }

    #[test]
    fn the_downtime_window_is_the_reports_downtime() {
        for a in ["precopy-xen", "postcopy-push", "hybrid"] {
            let (t, r) = run("web-server", a, TraceDetail::Pages);
            let w = downtime_windows(&t);
            assert_eq!(w.len(), 1, "{a}");
            assert!((w[0].0 - r.preparation_time_s).abs() < 1e-12, "{a}");
            assert!((w[0].1 - w[0].0 - r.downtime_s).abs() < 1e-9, "{a}");
        }
    }

    #[test]
    fn empty_traces_give_empty_series_without_panicking() {
        let (mut t, _) = run("idle-vm", "precopy-xen", TraceDetail::Summary);
        t.events.clear();
        let r = Report::from_trace(&t);
        assert_eq!(r.rounds, 0);
        assert!(round_bars(&r).is_empty());
        assert!(round_rates(&r).is_empty());
        assert_eq!(cumulative_bytes(&t), vec![(0.0, 0.0)]);
        assert_eq!(decimate(&cumulative_bytes(&t), 10), vec![(0.0, 0.0)]);
        assert_eq!(value_at(&[], 1.0), 0.0);
        assert!(downtime_windows(&t).is_empty());
        assert!(decimate(&[], 10).is_empty());
        let csv = report_csv(&r);
        assert_eq!(csv.lines().count(), 2, "header and total: {csv}");
        // Paused but never resumed: the window runs to the end.
        let (mut t, _) = run("idle-vm", "precopy-xen", TraceDetail::Summary);
        t.events.retain(|e| !matches!(e.event, Event::DestinationResumed));
        let w = downtime_windows(&t);
        assert_eq!(w.last().map(|w| w.1), t.events.last().map(|e| e.t));
    }

    #[test]
    fn the_model_is_set_up_as_the_cli_sets_it_up() {
        let s = presets::preset("web-server").unwrap().unwrap();
        let m = model_for(&s).unwrap();
        // `livemig model web-server`: λ = 0.066 and 6 rounds.
        assert!((m.lambda - 0.066).abs() < 0.001, "{}", m.lambda);
        assert_eq!(m.prediction.rounds, 6);
        assert_eq!(m.prediction.per_round_pages.len(), 6);
        assert_eq!(m.prediction.per_round_pages[0], s.page_count() as f64);
        let mut bad = s.clone();
        bad.link.bandwidth.0 = 0.0;
        assert!(model_for(&bad).is_err());
    }

    fn report_with(rounds: Vec<RoundReport>) -> Report {
        let (t, _) = run("idle-vm", "precopy-xen", TraceDetail::Summary);
        let mut r = Report::from_trace(&t);
        r.per_round = rounds;
        r.rounds = r.per_round.len() as u32;
        r
    }

    #[test]
    fn report_csv_has_the_clis_round_columns_and_a_total_row() {
        let rr = |round, kind, start_s, end_s, pages_sent, bytes_sent, dirty_pages| RoundReport {
            round,
            kind,
            start_s,
            end_s,
            pages_sent,
            bytes_sent,
            dirty_pages,
        };
        let mut r = report_with(vec![
            rr(1, RoundKind::Live, 0.0, 8.404236864, 255977, 1050529608, 10676),
            rr(2, RoundKind::StopAndCopy, 8.404236864, 8.5, 3, 77848, 0),
        ]);
        r.total_time_s = 8.5;
        r.pages_sent = 255980;
        r.bytes_sent = 1050607456;
        let csv = report_csv(&r);
        assert_eq!(
            csv,
            "round,kind,start_s,end_s,pages_sent,bytes_sent,dirty_pages\n\
             1,live,0,8.404236864,255977,1050529608,10676\n\
             2,stop-and-copy,8.404236864,8.5,3,77848,0\n\
             total,,0,8.5,255980,1050607456,\n"
        );
    }

    #[test]
    fn summary_csv_has_the_clis_columns_and_quotes_when_needed() {
        let mut r = report_with(Vec::new());
        r.scenario = "a, \"quoted\" name".into();
        let csv = summary_csv(&r);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("algorithm,scenario,seed,total_time_s,downtime_s,preparation_time_s,resume_time_s,pages_sent,bytes_sent,payload_bytes,duplicate_pages,rounds,network_faults,fault_stall_s,converged,completed,verified")
        );
        let row = lines.next().unwrap();
        assert!(row.starts_with("precopy-xen,\"a, \"\"quoted\"\" name\","), "{row}");
        assert!(row.ends_with(&format!(",{},{},{}", r.converged, r.completed, r.verified)));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn hostile_trace_files_are_rejected_before_they_reach_the_player() {
        let (t, _) = run("idle-vm", "precopy-xen", TraceDetail::Pages);
        assert_eq!(check_trace_file(&t), Ok(()));
        let mut bad = t.clone();
        if let Some(Event::PagesSent { pages, .. }) =
            bad.events.iter_mut().map(|e| &mut e.event).find(|e| matches!(e, Event::PagesSent { .. }))
        {
            pages.0[0][1] = 0;
        }
        assert!(check_trace_file(&bad).unwrap_err().contains("empty page run"));
        let mut bad = t.clone();
        for e in bad.events.iter_mut() {
            if let Event::PagesSent { wire_bytes, .. } = &mut e.event {
                *wire_bytes = u64::MAX / 2;
            }
        }
        assert!(check_trace_file(&bad).unwrap_err().contains("64 bits"));
    }

    #[test]
    fn file_stems_are_safe() {
        let mut r = report_with(Vec::new());
        r.scenario = "../My scenario: v2".into();
        r.algorithm = "precopy-xen".into();
        assert_eq!(file_stem(&r), "livemig-My-scenario-v2-precopy-xen");
        r.scenario = "////".into();
        assert_eq!(file_stem(&r), "livemig-run-precopy-xen");
    }
}
