//! The compare view's data: which algorithms are compared, a finished comparison and its CSV.
//! Its state while running is a [`crate::state::batch::Batch`] of [`Compared`].

use crate::share::ShareState;
use crate::sweep_spec::csv_field;
use livemig_core::algorithms;
use livemig_core::Report;

/// The comparison offered when the link names none: one algorithm per family and paper.
pub const DEFAULT_SELECTION: [&str; 7] = ["precopy-xen", "postcopy-bubbling", "hybrid", "tsmc", "mecom", "delta", "task-guided"];

/// The algorithms a sweep runs when the link names none: the families whose runs take
/// milliseconds. The codec algorithms (MECOM, delta, XBZRLE) encode every page for real, and a
/// sweep runs each many times on the page's one thread; pick them in the list to add them.
pub const SWEEP_DEFAULT_SELECTION: [&str; 4] = ["precopy-xen", "postcopy-bubbling", "hybrid", "tsmc"];

/// The algorithms compared: the link's `cmp`, else [`DEFAULT_SELECTION`]; in registry order.
pub fn selection(share: &ShareState) -> Vec<String> {
    selection_or(share, &DEFAULT_SELECTION)
}

/// The link's `cmp`, else `default`; in registry order.
pub fn selection_or(share: &ShareState, default: &[&str]) -> Vec<String> {
    let chosen: Vec<String> =
        if share.compare.is_empty() { default.iter().map(|s| s.to_string()).collect() } else { share.compare.clone() };
    algorithms::registry().iter().filter(|a| chosen.iter().any(|c| c == a.name)).map(|a| a.name.to_string()).collect()
}

/// One algorithm's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Algorithm.
    pub name: String,
    /// Its report, or why it failed.
    pub result: Result<Report, String>,
    /// Milliseconds the simulation took in this browser.
    pub ms: f64,
}

/// A finished comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// The scenario it was run on ([`scenario_key`]).
    pub key: String,
    /// Memory of the VM.
    pub memory: u64,
    /// One row per algorithm, in registry order.
    pub rows: Vec<Row>,
    /// Milliseconds spent in the simulator, in all.
    pub busy_ms: f64,
    /// Milliseconds from the start to the last result.
    pub wall_ms: f64,
    /// Where the simulations ran ("in 2 Web Workers").
    pub mode: String,
}

/// What identifies the scenario of a comparison (the algorithm is the compared one's).
pub fn scenario_key(share: &ShareState) -> String {
    format!("{:?}|{:?}|{:?}", share.source, share.overrides, share.seed)
}

/// The comparison table as CSV (base units, exact values).
pub fn rows_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "algorithm,family,total_time_s,downtime_s,pages_sent,bytes_sent,duplicate_pages,rounds,network_faults,fault_stall_s,converged,verified,stop_reason,error\n",
    );
    for r in rows {
        let family = algorithms::find(&r.name).map_or("", |a| a.family.as_str());
        match &r.result {
            Ok(p) => out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},\n",
                csv_field(&r.name),
                csv_field(family),
                p.total_time_s,
                p.downtime_s,
                p.pages_sent,
                p.bytes_sent,
                p.duplicate_pages,
                p.rounds,
                p.network_faults,
                p.fault_stall_s,
                p.converged,
                p.verified,
                csv_field(&p.stop_reason)
            )),
            Err(e) => out.push_str(&format!("{},{},,,,,,,,,,,,{}\n", csv_field(&r.name), csv_field(family), csv_field(e))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_is_the_links_or_the_default_in_registry_order() {
        let mut share = ShareState::default();
        let names = selection(&share);
        assert_eq!(names.len(), DEFAULT_SELECTION.len());
        let order: Vec<usize> = names.iter().map(|n| algorithms::registry().iter().position(|a| a.name == n).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        share.compare = vec!["tsmc".into(), "precopy-xen".into(), "no-such".into()];
        assert_eq!(selection(&share), ["precopy-xen", "tsmc"]);
        assert_eq!(selection_or(&ShareState::default(), &SWEEP_DEFAULT_SELECTION).len(), SWEEP_DEFAULT_SELECTION.len());
    }

    #[test]
    fn the_csv_names_each_family_from_the_registry() {
        let rows = [
            Row { name: "postcopy-demand".into(), result: Err("too big, sorry".into()), ms: 1.0 },
            Row { name: "unknown".into(), result: Err("no".into()), ms: 1.0 },
        ];
        let csv = rows_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "postcopy-demand,post-copy,,,,,,,,,,,,\"too big, sorry\"");
        assert_eq!(lines[2], "unknown,,,,,,,,,,,,,no");
    }
}
