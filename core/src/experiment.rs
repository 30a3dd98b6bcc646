//! Experiments shaped like the papers' evaluations: the same set-up in simulation, the same
//! metrics, and the simulated change set beside the published one.
//!
//! An experiment is data (`core/experiments/NAME.toml`):
//!
//! ```toml
//! name = "tsmc"
//! title = "TSMC against Xen pre-copy on memtester VMs"
//! paper = "Song et al., TSMC, J. Applied Mathematics 2014, Fig. 4"
//! setup = "what the paper ran, and what this simulation keeps of it"
//! notes = "where and why the simulation may disagree"
//! baseline = "precopy-xen"
//! algorithms = ["tsmc"]
//! metrics = ["total_time_s", "pages_sent", "downtime_s"]
//!
//! [scenario]                 # the base scenario, as in a scenario file (or: preset = "NAME")
//! [scenario.vm]
//! ...
//!
//! [[case]]                   # cases are averaged, as the paper averages over them
//! label = "128 MB"
//! set = ["vm.memory=128MiB"]
//!
//! [[group]]                  # each group is one table (e.g. low and high dirty rate)
//! label = "low dirty rate"
//! set = ["workload.write_rate=2000pages/s"]
//! paper = { total_time_s = -36.2, pages_sent = -22.0 }   # published change in percent
//! ```
//!
//! Every (group, case) pair runs the baseline and each algorithm on the same scenario and seed.
//! For each metric the result gives the mean baseline value, the mean algorithm value, the mean
//! of the per-case changes in percent (the papers report averaged relative changes), and the
//! paper's number where one was published. Metrics are report fields by name, so an algorithm's
//! own fields (e.g. `withdrawals`) can be compared too.

use crate::report::Report;
use crate::scenario::{Scenario, ScenarioError};
use crate::trace::TraceDetail;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The experiments shipped with the core, `(name, TOML text)`.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("tsmc", include_str!("../experiments/tsmc.toml")),
    ("mecom", include_str!("../experiments/mecom.toml")),
    ("delta", include_str!("../experiments/delta.toml")),
    ("hybrid", include_str!("../experiments/hybrid.toml")),
    ("task-guided", include_str!("../experiments/task-guided.toml")),
];

/// Why an experiment could not be loaded or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExperimentError {
    /// The file is not valid TOML or has the wrong shape.
    #[error("experiment {name}: {message}")]
    Malformed {
        /// Experiment name (or file).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A scenario (base or after a case's or group's overrides) is invalid.
    #[error("experiment {name}, {context}: {source}")]
    Scenario {
        /// Experiment name.
        name: String,
        /// Which case or group.
        context: String,
        /// The scenario error.
        source: ScenarioError,
    },
    /// An algorithm named in the experiment is not registered.
    #[error("experiment {name}: unknown algorithm '{algorithm}': accepted {}", crate::algorithms::names().join(", "))]
    UnknownAlgorithm {
        /// Experiment name.
        name: String,
        /// The name given.
        algorithm: String,
    },
    /// A metric is not a numeric report field.
    #[error("experiment {name}: metric '{metric}' is not a numeric report field: accepted e.g. total_time_s, downtime_s, pages_sent, bytes_sent, network_faults")]
    UnknownMetric {
        /// Experiment name.
        name: String,
        /// The metric given.
        metric: String,
    },
    /// A run failed.
    #[error("experiment {name}, {context}: {message}")]
    Run {
        /// Experiment name.
        name: String,
        /// Which case, group and algorithm.
        context: String,
        /// The error.
        message: String,
    },
    /// No experiment has this name.
    #[error("unknown experiment '{name}': accepted {}, all", EXPERIMENTS.iter().map(|e| e.0).collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// One averaged case (e.g. a VM size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// Shown in the per-case results.
    pub label: String,
    /// Scenario overrides, as `--set` takes them.
    #[serde(default)]
    pub set: Vec<String>,
}

/// One table of results (e.g. a dirty-rate regime), with the paper's numbers for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The table's title.
    pub label: String,
    /// Scenario overrides applied before each case's.
    #[serde(default)]
    pub set: Vec<String>,
    /// Published change in percent, per metric.
    #[serde(default)]
    pub paper: BTreeMap<String, f64>,
}

/// An experiment definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Short name (`livemig experiment NAME`).
    pub name: String,
    /// One line for people.
    pub title: String,
    /// The paper and the figure or table reproduced.
    pub paper: String,
    /// The paper's set-up and what the simulation keeps of it.
    pub setup: String,
    /// Where and why the simulation may disagree with the paper.
    #[serde(default)]
    pub notes: String,
    /// The algorithm the paper compares against.
    pub baseline: String,
    /// The algorithms under test.
    pub algorithms: Vec<String>,
    /// Report fields compared, in order.
    pub metrics: Vec<String>,
    /// The base scenario, inline (as in a scenario file) ...
    #[serde(default)]
    pub scenario: toml::Table,
    /// ... or a preset's name.
    #[serde(default)]
    pub preset: Option<String>,
    /// Cases averaged within each group; one unnamed case if empty.
    #[serde(default, rename = "case")]
    pub cases: Vec<CaseSpec>,
    /// Tables; one unnamed group if empty.
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupSpec>,
}

/// One metric of one algorithm in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Report field.
    pub metric: String,
    /// Algorithm under test.
    pub algorithm: String,
    /// Mean over the cases, baseline.
    pub baseline_mean: f64,
    /// Mean over the cases, algorithm.
    pub algorithm_mean: f64,
    /// Mean of the per-case changes in percent (None when the baseline is 0 in every case).
    pub change_pct: Option<f64>,
    /// The paper's published change in percent, where one was published.
    pub paper_change_pct: Option<f64>,
}

/// The reports of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case's label.
    pub label: String,
    /// Baseline first, then each algorithm.
    pub reports: Vec<Report>,
}

/// One group's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The group's label.
    pub label: String,
    /// One row per (metric, algorithm).
    pub rows: Vec<MetricRow>,
    /// Every run.
    pub cases: Vec<CaseResult>,
}

/// A finished experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Paper.
    pub paper: String,
    /// Set-up.
    pub setup: String,
    /// Notes on disagreements.
    pub notes: String,
    /// Baseline algorithm.
    pub baseline: String,
    /// Per group.
    pub groups: Vec<GroupResult>,
}

/// A numeric report field by name (fields an algorithm adds included).
pub fn metric(report: &Report, field: &str) -> Option<f64> {
    let value = serde_json::to_value(report).ok()?;
    match value.get(field)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

impl ExperimentSpec {
    /// Parses and checks an experiment definition: its algorithms exist and every scenario it
    /// will run is valid.
    pub fn from_toml_str(text: &str) -> Result<ExperimentSpec, ExperimentError> {
        let spec: ExperimentSpec =
            toml::from_str(text).map_err(|e| ExperimentError::Malformed { name: "(file)".into(), message: e.message().to_string() })?;
        spec.check()?;
        Ok(spec)
    }

    fn base(&self) -> Result<Scenario, ExperimentError> {
        if let Some(name) = &self.preset {
            let scenario = crate::presets::preset(name).ok_or_else(|| ExperimentError::Malformed {
                name: self.name.clone(),
                message: format!(
                    "preset '{name}' does not exist: accepted {}",
                    crate::presets::PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ),
            })?;
            return scenario.map_err(|source| ExperimentError::Scenario {
                name: self.name.clone(),
                context: format!("preset {name}"),
                source,
            });
        }
        let text = toml::to_string(&self.scenario)
            .map_err(|e| ExperimentError::Malformed { name: self.name.clone(), message: format!("scenario: {e}") })?;
        Scenario::from_toml_str(&text).map_err(|source| ExperimentError::Scenario {
            name: self.name.clone(),
            context: "base scenario".into(),
            source,
        })
    }

    fn groups(&self) -> Vec<GroupSpec> {
        if self.groups.is_empty() {
            vec![GroupSpec { label: String::new(), set: vec![], paper: BTreeMap::new() }]
        } else {
            self.groups.clone()
        }
    }

    fn cases(&self) -> Vec<CaseSpec> {
        if self.cases.is_empty() {
            vec![CaseSpec { label: String::new(), set: vec![] }]
        } else {
            self.cases.clone()
        }
    }

    /// The scenario of one (group, case) pair.
    pub fn scenario_for(&self, group: &GroupSpec, case: &CaseSpec) -> Result<Scenario, ExperimentError> {
        let overrides: Vec<String> = group.set.iter().chain(&case.set).cloned().collect();
        let s = self.base()?.with_overrides(&overrides).map_err(|source| ExperimentError::Scenario {
            name: self.name.clone(),
            context: format!("group '{}', case '{}'", group.label, case.label),
            source,
        })?;
        s.validate().map_err(|source| ExperimentError::Scenario {
            name: self.name.clone(),
            context: format!("group '{}', case '{}'", group.label, case.label),
            source,
        })?;
        Ok(s)
    }

    fn check(&self) -> Result<(), ExperimentError> {
        for a in std::iter::once(&self.baseline).chain(&self.algorithms) {
            if crate::algorithms::find(a).is_none() {
                return Err(ExperimentError::UnknownAlgorithm { name: self.name.clone(), algorithm: a.clone() });
            }
        }
        if self.algorithms.is_empty() || self.metrics.is_empty() {
            return Err(ExperimentError::Malformed {
                name: self.name.clone(),
                message: "algorithms and metrics: accepted at least one of each".into(),
            });
        }
        for group in self.groups() {
            for key in group.paper.keys() {
                if !self.metrics.contains(key) {
                    return Err(ExperimentError::Malformed {
                        name: self.name.clone(),
                        message: format!(
                            "group '{}': paper.{key} is not one of the metrics: accepted {}",
                            group.label,
                            self.metrics.join(", ")
                        ),
                    });
                }
            }
            for case in self.cases() {
                self.scenario_for(&group, &case)?;
            }
        }
        Ok(())
    }

    /// Runs every (group, case, algorithm).
    pub fn run(&self) -> Result<ExperimentResult, ExperimentError> {
        let algorithms: Vec<&String> = std::iter::once(&self.baseline).chain(&self.algorithms).collect();
        let mut groups = Vec::new();
        for group in self.groups() {
            let mut cases = Vec::new();
            for case in self.cases() {
                let scenario = self.scenario_for(&group, &case)?;
                let mut reports = Vec::new();
                for a in &algorithms {
                    let run = crate::simulate(&scenario, Some(a), TraceDetail::Summary).map_err(|e| ExperimentError::Run {
                        name: self.name.clone(),
                        context: format!("group '{}', case '{}', {a}", group.label, case.label),
                        message: e.to_string(),
                    })?;
                    reports.push(run.report);
                }
                cases.push(CaseResult { label: case.label.clone(), reports });
            }
            let mut rows = Vec::new();
            for m in &self.metrics {
                for (i, a) in self.algorithms.iter().enumerate() {
                    let mut base_sum = 0.0;
                    let mut alg_sum = 0.0;
                    let mut changes = Vec::new();
                    for c in &cases {
                        let value = |r: &Report| {
                            metric(r, m).ok_or_else(|| ExperimentError::UnknownMetric { name: self.name.clone(), metric: m.clone() })
                        };
                        let b = value(&c.reports[0])?;
                        let x = value(&c.reports[i + 1])?;
                        base_sum += b;
                        alg_sum += x;
                        if b != 0.0 {
                            changes.push((x - b) / b * 100.0);
                        }
                    }
                    let n = cases.len() as f64;
                    rows.push(MetricRow {
                        metric: m.clone(),
                        algorithm: a.clone(),
                        baseline_mean: base_sum / n,
                        algorithm_mean: alg_sum / n,
                        change_pct: (!changes.is_empty()).then(|| changes.iter().sum::<f64>() / changes.len() as f64),
                        paper_change_pct: group.paper.get(m).copied(),
                    });
                }
            }
            groups.push(GroupResult { label: group.label.clone(), rows, cases });
        }
        Ok(ExperimentResult {
            name: self.name.clone(),
            title: self.title.clone(),
            paper: self.paper.clone(),
            setup: self.setup.clone(),
            notes: self.notes.clone(),
            baseline: self.baseline.clone(),
            groups,
        })
    }
}

/// The shipped experiment called `name`, parsed and checked.
pub fn experiment(name: &str) -> Result<ExperimentSpec, ExperimentError> {
    let (_, text) = EXPERIMENTS.iter().find(|e| e.0 == name).ok_or_else(|| ExperimentError::Unknown { name: name.to_string() })?;
    ExperimentSpec::from_toml_str(text).map_err(|e| match e {
        ExperimentError::Malformed { message, .. } => ExperimentError::Malformed { name: name.to_string(), message },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name = "example"
title = "post-copy against Xen pre-copy"
paper = "none: a test of the experiment machinery"
setup = "two VM sizes, two write rates"
baseline = "precopy-xen"
algorithms = ["postcopy"]
metrics = ["total_time_s", "pages_sent", "downtime_s", "verified"]

[scenario]
name = "example"
[scenario.vm]
memory = "8 MiB"
[scenario.workload]
pattern = "uniform"
write_rate = "2000 pages/s"
working_set = "4 MiB"
[scenario.link]
bandwidth = "100 Mbit/s"

[[case]]
label = "8 MiB"
[[case]]
label = "16 MiB"
set = ["vm.memory=16MiB"]

[[group]]
label = "low"
paper = { pages_sent = -10.0 }
[[group]]
label = "high"
set = ["workload.write_rate=8000pages/s"]
"#;

    #[test]
    fn runs_every_case_and_averages_changes() {
        let spec = ExperimentSpec::from_toml_str(EXAMPLE).unwrap();
        let result = spec.run().unwrap();
        assert_eq!(result.groups.len(), 2);
        for g in &result.groups {
            assert_eq!(g.cases.len(), 2);
            assert_eq!(g.rows.len(), 4);
            let pages = g.rows.iter().find(|r| r.metric == "pages_sent").unwrap();
            // Post-copy sends each page once; pre-copy sends at least that.
            assert!(pages.change_pct.unwrap() <= 0.0, "{pages:?}");
            let expected = g
                .cases
                .iter()
                .map(|c| (c.reports[1].pages_sent as f64 - c.reports[0].pages_sent as f64) / c.reports[0].pages_sent as f64 * 100.0)
                .sum::<f64>()
                / 2.0;
            assert!((pages.change_pct.unwrap() - expected).abs() < 1e-9);
            let verified = g.rows.iter().find(|r| r.metric == "verified").unwrap();
            assert_eq!(verified.algorithm_mean, 1.0);
        }
        assert_eq!(result.groups[0].rows[1].paper_change_pct, Some(-10.0));
        assert_eq!(result.groups[1].rows[1].paper_change_pct, None);
        // The high group really has the higher write rate.
        assert!(result.groups[1].cases[0].reports[0].pages_sent > result.groups[0].cases[0].reports[0].pages_sent);
    }

    #[test]
    fn bad_definitions_name_what_is_wrong() {
        let e = ExperimentSpec::from_toml_str(&EXAMPLE.replace("algorithms = [\"postcopy\"]", "algorithms = [\"nope\"]")).unwrap_err();
        assert!(e.to_string().contains("unknown algorithm 'nope'"), "{e}");
        let e = ExperimentSpec::from_toml_str(&EXAMPLE.replace("set = [\"vm.memory=16MiB\"]", "set = [\"vm.memory=-1MiB\"]")).unwrap_err();
        assert!(e.to_string().contains("case '16 MiB'") && e.to_string().contains("vm.memory"), "{e}");
        let e = ExperimentSpec::from_toml_str(&EXAMPLE.replace("paper = { pages_sent", "paper = { colour")).unwrap_err();
        assert!(e.to_string().contains("paper.colour"), "{e}");
        let spec = ExperimentSpec::from_toml_str(&EXAMPLE.replace("\"verified\"]", "\"stop_reason\"]")).unwrap();
        assert!(matches!(spec.run(), Err(ExperimentError::UnknownMetric { .. })));
        assert!(matches!(experiment("nope"), Err(ExperimentError::Unknown { .. })));
    }

    #[test]
    fn every_shipped_experiment_loads() {
        for (name, _) in EXPERIMENTS {
            let spec = experiment(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&spec.name, name);
        }
    }
}
