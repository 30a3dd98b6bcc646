//! `livemig fidelity`: one line per comparison of the simulator with something it should agree
//! with, each measured now: the geometric model's closed form, this project's KVM runner on a
//! real guest, real QEMU, and each paper's published headline numbers.
//!
//! Parts that need what this machine lacks (/dev/kvm, QEMU) say so in their line and are left
//! out; `--no-kvm`, `--no-qemu` and `--no-papers` leave a part out on purpose (the papers' part
//! runs every experiment, a few minutes on two cores).

use livemig_core::model::GeometricModel;
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use livemig_core::Scenario;
use serde::Serialize;

/// `livemig fidelity`: every comparison measured now, leaving out what the flags say.
pub fn run(no_kvm: bool, no_qemu: bool, no_papers: bool, json: bool) -> anyhow::Result<()> {
    let mut f = Fidelity::default();
    eprintln!("fidelity: the closed form ...");
    closed_form(&mut f)?;
    if !no_kvm {
        eprintln!("fidelity: the KVM runner ...");
        kvm(&mut f)?;
    }
    if !no_qemu {
        eprintln!("fidelity: QEMU (calibration, then three migrations) ...");
        qemu(&mut f)?;
    }
    if !no_papers {
        eprintln!("fidelity: the papers' experiments ...");
        papers(&mut f)?;
    }
    if json {
        crate::output::print_json(&f)
    } else {
        crate::output::print(&text(&f))
    }
}

/// One compared quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// What the simulator is held against, e.g. "QEMU 7.2 (real)".
    pub against: String,
    /// The case: scenario, algorithm, metric.
    pub case: String,
    /// The reference's value, as printed.
    pub reference: String,
    /// The simulator's value, as printed.
    pub simulated: String,
    /// Relative error of the simulator, or the published number's place in the band.
    pub error: String,
    /// Within the comparison's target (None: no target stated).
    pub ok: Option<bool>,
}

/// A part that could not run here, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The part.
    pub part: String,
    /// Why.
    pub why: String,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Fidelity {
    /// Every comparison made.
    pub lines: Vec<Line>,
    /// Parts that did not run.
    pub skipped: Vec<Skipped>,
}

fn pct(sim: f64, reference: f64) -> String {
    livemig_runner::relative_change(sim, reference).map_or_else(|| "-".into(), |e| format!("{:+.1}%", e * 100.0))
}

fn within(sim: f64, reference: f64, tolerance: f64) -> bool {
    livemig_runner::relative_change(sim, reference).is_some_and(|e| e.abs() <= tolerance)
}

/// The simulator against the geometric model, on `memtester` as shipped and under the model's
/// own assumptions (no headers, latency, state or resume cost; Xen's skip rule off, linear
/// order), where the two must agree within 1% (the downtime, a final round of a few dozen
/// pages, within 1% or two pages' transfer time: the model's pages are continuous).
pub fn closed_form(f: &mut Fidelity) -> anyhow::Result<()> {
    let shipped = crate::input::load_scenario("memtester", &[])?;
    let assumptions: Vec<String> = [
        "link.page_header=0",
        "link.latency=\"0 s\"",
        "vm.state_size=0",
        "vm.resume_overhead=\"0 s\"",
        "params.precopy.skip_redirtied=false",
        "params.precopy.scan_order=\"linear\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ideal = shipped.with_overrides(&assumptions)?;
    for (label, s, tolerance) in [("memtester", &shipped, None), ("memtester under the model's assumptions", &ideal, Some(0.01))] {
        let m = GeometricModel::for_scenario(s)?;
        let p = m.predict();
        let r = crate::input::simulate(s, Some("precopy-xen"), TraceDetail::Summary)?.report;
        let two_pages = 2.0 * m.page_bytes / m.bandwidth;
        let against = "closed form (geometric model)".to_string();
        for (metric, q, model, sim) in [
            ("total time", Quantity::Duration, p.total_time_s, r.total_time_s),
            ("data sent", Quantity::Size, p.total_bytes, r.bytes_sent as f64),
            ("downtime", Quantity::Duration, p.downtime_s, r.downtime_s),
        ] {
            f.lines.push(Line {
                against: against.clone(),
                case: format!("{label}, precopy-xen, {metric}"),
                reference: q.show(model),
                simulated: q.show(sim),
                error: pct(sim, model),
                ok: tolerance.map(|t| within(sim, model, t) || (metric == "downtime" && (sim - model).abs() <= two_pages)),
            });
        }
    }
    Ok(())
}

/// The simulator against this project's KVM runner on a real guest: pre-copy and post-copy.
pub fn kvm(f: &mut Fidelity) -> anyhow::Result<()> {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        f.skipped.push(Skipped { part: "KVM runner".into(), why: format!("/dev/kvm cannot be opened: {e}") });
        return Ok(());
    }
    for (preset, algorithm, memory) in [("write-hot-database", "precopy-xen", "64MiB"), ("web-server", "postcopy-bubbling", "64MiB")] {
        let options = livemig_runner::kvm::context::KvmOptions::default();
        let (run, s) = crate::commands::kvm::kvm_migrate(preset, &[], Some(algorithm), Some(memory), None, options)?;
        let sim = crate::input::simulate(&s, Some(algorithm), TraceDetail::Summary)?.report;
        let real = &run.report;
        for (metric, q, r, si) in [
            ("total time", Quantity::Duration, real.total_time_s, sim.total_time_s),
            ("data sent", Quantity::Size, real.bytes_sent as f64, sim.bytes_sent as f64),
            ("downtime", Quantity::Duration, real.downtime_s, sim.downtime_s),
        ] {
            f.lines.push(Line {
                against: "KVM runner (real guest)".into(),
                case: format!("{preset} {memory}, {algorithm}, {metric}"),
                reference: q.show(r),
                simulated: q.show(si),
                error: pct(si, r),
                ok: None,
            });
        }
    }
    Ok(())
}

/// The simulator against real QEMU: one cell of the matrix per mode (a 512 MiB guest writing
/// 20,000 pages/s uniformly over 64 MiB, QEMU's default 128 MiB/s cap), held to the matrix's
/// targets.
pub fn qemu(f: &mut Fidelity) -> anyhow::Result<()> {
    use livemig_runner::qemu::{crosscheck, matrix};
    let options = crate::commands::qemu_compare::comparison_options();
    if let Err(e) = livemig_runner::qemu::check_available(&options) {
        f.skipped.push(Skipped { part: "QEMU".into(), why: e.to_string() });
        return Ok(());
    }
    let host = crate::commands::qemu_compare::calibrate(true)?;
    for cell in matrix::grid().into_iter().filter(|c| c.workload.label == "uniform 20000/s 64MiB" && c.max_bandwidth == "128 MiB/s") {
        let s: Scenario = cell.scenario().map_err(crate::commands::qemu_compare::cli_error)?;
        let c = crosscheck::crosscheck(&s, cell.algorithm, &host, &options).map_err(crate::commands::qemu_compare::cli_error)?;
        let version = c.real.qemu.qemu_version.clone();
        for p in c.pairs() {
            if !matches!(p.metric, "total_time_s" | "downtime_s" | "bytes_sent") {
                continue;
            }
            let q = Quantity::of_metric(p.metric);

            f.lines.push(Line {
                against: format!("QEMU {version} (real)"),
                case: format!("{}, {}", cell.label(), p.metric),
                reference: q.show(p.real),
                simulated: q.show(p.simulated),
                error: pct(p.simulated, p.real),
                ok: matrix::within_target(p.metric, p.simulated, p.real),
            });
        }
    }
    Ok(())
}

/// The simulator against each paper's published headline numbers: the change at the set-up the
/// experiment chose, and whether the published number is inside the band of changes over the
/// set-up details the paper does not state (the target: inside, with the same sign).
pub fn papers(f: &mut Fidelity) -> anyhow::Result<()> {
    for (name, _) in livemig_core::experiment::EXPERIMENTS {
        let result = livemig_core::experiment::experiment(name)?.run()?;
        for g in &result.groups {
            for row in g.rows.iter().filter(|r| r.paper_change_pct.is_some()) {
                let paper = row.paper_change_pct.unwrap_or_default();
                let sim = row.change_pct;
                let same_sign = sim.is_some_and(|s| s.signum() == paper.signum());
                let (place, in_band) = match &row.band {
                    Some(b) => {
                        let inside = b.contains(paper);
                        (format!("band {:+.1}..{:+.1}%: {}", b.min, b.max, if inside { "inside" } else { "outside" }), inside)
                    }
                    None => ("no band".to_string(), false),
                };
                f.lines.push(Line {
                    against: format!("paper: experiment {}", result.name),
                    case: format!("{}, {}, {} against {}", g.label, row.metric, row.algorithm, result.baseline),
                    reference: format!("{paper:+.1}%"),
                    simulated: sim.map_or("-".into(), |s| format!("{s:+.1}%")),
                    error: format!("{place}{}", if same_sign { "" } else { ", sign differs" }),
                    ok: Some(in_band && same_sign),
                });
            }
        }
    }
    Ok(())
}

/// The summary as a table, then what was skipped.
pub fn text(f: &Fidelity) -> String {
    let mut t = crate::output::table(&["against", "case", "reference", "simulated", "error", "ok"]);
    for l in &f.lines {
        let ok = match l.ok {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        t.add_row(vec![l.against.clone(), l.case.clone(), l.reference.clone(), l.simulated.clone(), l.error.clone(), ok.to_string()]);
    }
    let mut out = format!("The simulator against what it should agree with, measured now\n{t}\n");
    let judged: Vec<&Line> = f.lines.iter().filter(|l| l.ok.is_some()).collect();
    out +=
        &format!("{} of {} comparisons with a target are within it.\n", judged.iter().filter(|l| l.ok == Some(true)).count(), judged.len());
    for s in &f.skipped {
        out += &format!("skipped {}: {}\n", s.part, s.why);
    }
    out
}
