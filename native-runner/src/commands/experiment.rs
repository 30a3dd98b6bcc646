//! `livemig experiment NAME`: a paper's evaluation re-run in simulation, the simulated change
//! beside the published one.

use crate::input::bad;
use crate::output::{compare_text, print, print_json, right_align, table};
use livemig_core::experiment::UnknownSpec;
use livemig_core::units::Quantity;

/// Runs the experiment `name` (`all`: every one; `list`: lists them) and prints its tables, with
/// `with_cases` every case's runs too.
pub fn run(name: &str, with_cases: bool, json: bool) -> anyhow::Result<()> {
    use livemig_core::experiment::{experiment, EXPERIMENTS};
    if name == "list" {
        let mut text = String::new();
        for (n, _) in EXPERIMENTS {
            let spec = experiment(n)?;
            text += &format!("{n:<12} {}\n{:<12} paper: {}\n", spec.title, "", spec.paper);
        }
        return print(&text);
    }
    let names: Vec<&str> = if name == "all" { EXPERIMENTS.iter().map(|e| e.0).collect() } else { vec![name] };
    let specs = names.iter().map(|n| experiment(n).map_err(|e| bad(format!("NAME: {e}")))).collect::<anyhow::Result<Vec<_>>>()?;
    let mut results = Vec::new();
    for spec in &specs {
        eprintln!("experiment {} ...", spec.name);
        let t0 = std::time::Instant::now();
        let result = spec.run()?;
        eprintln!("experiment {}: {} simulations in {:.1} s", spec.name, result.runs, t0.elapsed().as_secs_f64());
        results.push(result);
    }
    if json {
        return print_json(&results);
    }
    let text: Vec<String> = results.iter().map(|r| experiment_text(r, with_cases)).collect();
    print(&text.join("\n"))
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "—".to_string(), |p| format!("{p:+.1}%"))
}

/// Unknowns, one per line, their values (the chosen one in brackets), then the evidence.
fn unknowns_text(unknowns: &[&UnknownSpec]) -> String {
    let mut out = String::new();
    for u in unknowns {
        let values: Vec<String> = u.values.iter().map(|v| if *v == u.chosen { format!("[{v}]") } else { v.clone() }).collect();
        let of = u.of.as_ref().map_or_else(String::new, |of| format!(" (x {of})"));
        let also = if u.also.is_empty() { String::new() } else { format!(" (also {})", u.also.join(", ")) };
        out += &format!("  {}{also}: {}{of}\n    {}\n", u.field, values.join(", "), u.evidence);
    }
    out
}

/// An experiment's tables: per group, each metric's baseline, algorithm, simulated change at the
/// chosen set-up, its band over the unknowns' plausible values and the paper's change; then the
/// unknowns, their values (the chosen one in brackets) and the evidence for them.
pub fn experiment_text(e: &livemig_core::experiment::ExperimentResult, with_cases: bool) -> String {
    let mut out = format!("{}: {}\npaper: {}\nset-up: {}\n", e.name, e.title, e.paper, e.setup);
    for g in &e.groups {
        let has_band = g.rows.iter().any(|r| r.band.is_some());
        let mut headers = vec!["metric", "algorithm", "", "algorithm value", "simulated change"];
        if has_band {
            headers.push("band over the unknowns");
        }
        headers.push("paper's change");
        let baseline = format!("{} (baseline)", e.baseline);
        headers[2] = &baseline;
        let mut t = table(&headers);
        for r in &g.rows {
            let mut row = vec![
                r.metric.clone(),
                r.algorithm.clone(),
                Quantity::of_metric(&r.metric).show(r.baseline_mean),
                Quantity::of_metric(&r.metric).show(r.algorithm_mean),
                percent(r.change_pct),
            ];
            if has_band {
                row.push(r.band.as_ref().map_or_else(|| "—".to_string(), |b| format!("{:+.1}% .. {:+.1}%", b.min, b.max)));
            }
            row.push(match (r.paper_change_pct, &r.band) {
                (None, _) => "not published".to_string(),
                (Some(p), Some(b)) => format!("{p:+.1}% ({})", if b.contains(p) { "in band" } else { "outside" }),
                (Some(p), None) => format!("{p:+.1}%"),
            });
            t.add_row(row);
        }
        right_align(&mut t, 2);
        if !g.label.is_empty() {
            let n = g.cases.len();
            out += &format!("\n{} (mean over {n} case{})\n", g.label, if n == 1 { "" } else { "s" });
        } else {
            out += "\n";
        }
        out += &format!("{t}\n");
        if !g.setups.is_empty() {
            let cut = g.setups.iter().filter(|s| s.timed_out).count();
            let own: Vec<&UnknownSpec> = g.unknowns.iter().filter(|u| !e.unknowns.contains(u)).collect();
            out += &format!(
                "band: {} set-ups over the unknowns{}{}\n",
                g.setups.len(),
                if own.is_empty() { " listed below" } else { " listed below and this group's:" },
                if cut > 0 { format!(" ({cut} left out: a run reached the timeout)") } else { String::new() }
            );
            out += &unknowns_text(&own);
        }
        if with_cases {
            for c in &g.cases {
                out += &compare_text(&format!("{} / {}", g.label, c.label), &c.reports);
            }
        }
    }
    if !e.unknowns.is_empty() {
        out += "\nunknowns (the set-up details the paper does not state; chosen value in brackets):\n";
        out += &unknowns_text(&e.unknowns.iter().collect::<Vec<_>>());
    }
    if !e.notes.is_empty() {
        out += &format!("notes: {}\n", e.notes);
    }
    out
}
