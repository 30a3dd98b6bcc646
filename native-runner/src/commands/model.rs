//! `livemig model SCENARIO`: Xen pre-copy in the simulator against the geometric model
//! (docs/algorithms/analytical-model.md).

use super::ScenarioArgs;
use crate::input::{bad, simulate};
use crate::output::{print, table};
use livemig_core::model::GeometricModel;
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;

/// Prints the geometric model's predictions beside the simulated precopy-xen.
pub fn run(scenario: &ScenarioArgs) -> anyhow::Result<()> {
    let s = scenario.load()?;
    let m = GeometricModel::for_scenario(&s).map_err(|e| bad(e.to_string()))?;
    let p = m.predict();
    let run = simulate(&s, Some("precopy-xen"), TraceDetail::Summary)?;
    let r = &run.report;
    let rel = |sim: f64, model: f64| if model == 0.0 { "-".to_string() } else { format!("{:+.1}%", (sim - model) / model * 100.0) };
    let mut t = table(&["", "model", "simulator", "difference"]);
    t.add_row(vec!["λ = dirty rate / transfer rate".to_string(), format!("{:.3}", m.lambda()), String::new(), String::new()]);
    t.add_row(vec!["rounds".to_string(), p.rounds.to_string(), r.rounds.to_string(), rel(r.rounds as f64, p.rounds as f64)]);
    t.add_row(vec![
        "pages sent".to_string(),
        format!("{:.0}", p.total_pages),
        r.pages_sent.to_string(),
        rel(r.pages_sent as f64, p.total_pages),
    ]);
    t.add_row(vec![
        "data sent".to_string(),
        Quantity::Size.show(p.total_bytes),
        Quantity::Size.show(r.bytes_sent as f64),
        rel(r.bytes_sent as f64, p.total_bytes),
    ]);
    t.add_row(vec![
        "total time".to_string(),
        Quantity::Duration.show(p.total_time_s),
        Quantity::Duration.show(r.total_time_s),
        rel(r.total_time_s, p.total_time_s),
    ]);
    t.add_row(vec![
        "downtime".to_string(),
        Quantity::Duration.show(p.downtime_s),
        Quantity::Duration.show(r.downtime_s),
        rel(r.downtime_s, p.downtime_s),
    ]);
    let mut text = format!("{}: geometric pre-copy model (Xen stop rules) against the simulated precopy-xen\n{t}\n", s.name);
    text += "The model assumes every write hits a distinct clean page; workloads that rewrite dirty pages\n\
             (uniform, hot-cold) dirty fewer pages than it predicts, and Xen's skip rule holds pages back.\n\
             See core/src/model.rs for where and why the two differ.\n";
    print(&text)
}
