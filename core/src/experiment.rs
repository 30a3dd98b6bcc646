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
//!
//! [[group.unknown]]          # a set-up detail the paper does not state (this group only;
//! field = "workload.write_rate"  # [[unknown]] at the top level applies to every group)
//! values = ["500pages/s", "1000pages/s", "2000pages/s"]   # its plausible values, as --set takes them
//! chosen = "1000pages/s"     # the value of the headline set-up: one of `values`
//! evidence = "why this range, and why this value: the paper's words, or the system it measured"
//! # also = ["params.tsmc.rate_limit"]   optional: other keys that take the same value
//! # of = "vm.memory"        optional: the values are fractions of the case's memory size
//! ```
//!
//! Every (group, case) pair runs the baseline and each algorithm on the same scenario and seed.
//! For each metric the result gives the mean baseline value, the mean algorithm value, the mean
//! of the per-case changes in percent (the papers report averaged relative changes), and the
//! paper's number where one was published. Metrics are report fields by name, so an algorithm's
//! own fields (e.g. `withdrawals`) can be compared too.
//!
//! **Bands.** A paper rarely states every detail its numbers depend on. Each `unknown` names one
//! such detail, the range of values the paper (or the system it measured) leaves plausible, the
//! value the headline set-up uses and the evidence for both. The headline numbers are those of
//! the chosen values; the *band* of each change is its minimum and maximum over every
//! combination of the unknowns' values (the full grid, each combination averaged over the cases
//! as the headline is), so a reader sees how much the conclusion rests on what the paper did not
//! say. Overrides apply in the order base scenario, group `set`, case `set`, unknowns. A
//! combination in which a run reaches the scenario's timeout is left out of the band (its numbers
//! measure the timeout, not the algorithms) and counted; the chosen combination is always in it.
//! A group runs (combinations x cases x (1 + algorithms)) simulations; at most [`MAX_SETUPS`]
//! combinations per group.

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
    /// Set-up details the paper leaves open, for this group only.
    #[serde(default, rename = "unknown", skip_serializing_if = "Vec::is_empty")]
    pub unknowns: Vec<UnknownSpec>,
}

/// Most combinations of unknowns' values one group may run.
pub const MAX_SETUPS: usize = 64;

/// A set-up detail the paper does not state: its plausible values, the one the headline set-up
/// uses, and why (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownSpec {
    /// A scenario key as `--set` takes it, e.g. `workload.write_rate`.
    pub field: String,
    /// Other keys that take the same value (e.g. the same parameter of another algorithm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// `vm.memory`: the values are fractions of the case's memory size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// The plausible values, as `--set` takes them (strings, numbers or booleans).
    #[serde(deserialize_with = "de_values")]
    pub values: Vec<String>,
    /// The value of the headline set-up; one of `values`.
    #[serde(deserialize_with = "de_value")]
    pub chosen: String,
    /// The evidence for the range and for the choice.
    pub evidence: String,
}

fn value_text(v: toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("{other} is not accepted: a string, number or boolean, as --set takes it")),
    }
}

fn de_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    value_text(toml::Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn de_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<toml::Value>::deserialize(d)?.into_iter().map(|v| value_text(v).map_err(serde::de::Error::custom)).collect()
}

impl UnknownSpec {
    /// The overrides that give this detail `value` in `scenario` (the case's scenario, which a
    /// fraction `of` the memory size needs).
    fn overrides(&self, value: &str, scenario: &Scenario) -> Vec<String> {
        let value = match self.of.as_deref() {
            Some(_) => {
                let fraction: f64 = value.trim().parse().unwrap_or(f64::NAN);
                let ps = scenario.vm.page_size.0;
                let pages = (fraction * scenario.vm.memory.0 as f64 / ps as f64).round().max(1.0) as u64;
                crate::units::ByteSize(pages * ps).to_string()
            }
            None => value.to_string(),
        };
        std::iter::once(&self.field).chain(&self.also).map(|k| format!("{k}={value}")).collect()
    }

    /// `field=value` for people (`field=0.5 x vm.memory` for fractions).
    pub fn describe(&self, value: &str) -> String {
        match &self.of {
            Some(of) => format!("{}={value} x {of}", self.field),
            None => format!("{}={value}", self.field),
        }
    }

    fn check(&self) -> Result<(), String> {
        let f = &self.field;
        if f.trim().is_empty() || self.also.iter().any(|k| k.trim().is_empty()) {
            return Err("unknown: field (and also): accepted a scenario key such as workload.write_rate".into());
        }
        if self.values.len() < 2 {
            return Err(format!("unknown '{f}': values has {} entries: accepted two or more plausible values", self.values.len()));
        }
        if let Some(v) = self.values.iter().enumerate().find_map(|(i, v)| self.values[..i].contains(v).then_some(v)) {
            return Err(format!("unknown '{f}': values lists '{v}' twice: accepted distinct values"));
        }
        if !self.values.contains(&self.chosen) {
            return Err(format!("unknown '{f}': chosen = '{}' is not one of values: accepted {}", self.chosen, self.values.join(", ")));
        }
        if self.evidence.trim().is_empty() {
            return Err(format!("unknown '{f}': evidence is empty: accepted the reason for the range and the choice"));
        }
        if let Some(of) = &self.of {
            if of != "vm.memory" {
                return Err(format!("unknown '{f}': of = '{of}' is not accepted: accepted vm.memory"));
            }
            for v in &self.values {
                match v.trim().parse::<f64>() {
                    Ok(x) if x > 0.0 && x <= 1.0 => {}
                    _ => {
                        return Err(format!(
                            "unknown '{f}': value '{v}' is not accepted: a fraction of vm.memory, more than 0 and at most 1"
                        ))
                    }
                }
            }
        }
        Ok(())
    }
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
    /// Set-up details the paper leaves open, for every group.
    #[serde(default, rename = "unknown")]
    pub unknowns: Vec<UnknownSpec>,
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
    /// The change's range over the unknowns' plausible values (None when the group has none).
    pub band: Option<Band>,
}

/// The range of a change over the combinations of the unknowns' values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Smallest change in percent.
    pub min: f64,
    /// Largest change in percent.
    pub max: f64,
    /// The combination that gives the smallest.
    pub min_at: Vec<String>,
    /// The combination that gives the largest.
    pub max_at: Vec<String>,
}

impl Band {
    /// Whether `x` lies in the band.
    pub fn contains(&self, x: f64) -> bool {
        self.min - 1e-9 <= x && x <= self.max + 1e-9
    }
}

/// One combination of the unknowns' values and the changes it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// Each unknown's value, as `field=value`.
    pub values: Vec<String>,
    /// The change in percent of each row of the group, in order.
    pub changes: Vec<Option<f64>>,
    /// A run reached the scenario's timeout: left out of the band.
    pub timed_out: bool,
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
    /// Every run (at the chosen set-up).
    pub cases: Vec<CaseResult>,
    /// The unknowns the band is taken over (the experiment's, then the group's).
    pub unknowns: Vec<UnknownSpec>,
    /// Every combination of the unknowns' values (the chosen one included); empty without
    /// unknowns.
    pub setups: Vec<Setup>,
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
    /// The unknowns of every group (each group's own are in its result).
    pub unknowns: Vec<UnknownSpec>,
    /// Simulations run, all groups and set-ups.
    pub runs: usize,
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
            vec![GroupSpec { label: String::new(), set: vec![], paper: BTreeMap::new(), unknowns: vec![] }]
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

    /// The unknowns of `group`: the experiment's, then the group's own.
    pub fn unknowns_of(&self, group: &GroupSpec) -> Vec<UnknownSpec> {
        self.unknowns.iter().chain(&group.unknowns).cloned().collect()
    }

    /// The scenario of one (group, case) pair at the chosen set-up.
    pub fn scenario_for(&self, group: &GroupSpec, case: &CaseSpec) -> Result<Scenario, ExperimentError> {
        let unknowns = self.unknowns_of(group);
        self.scenario_at(group, case, &unknowns, &chosen_indices(&unknowns))
    }

    /// The scenario of one (group, case) pair with unknown `i` at its value `at[i]`.
    fn scenario_at(&self, group: &GroupSpec, case: &CaseSpec, unknowns: &[UnknownSpec], at: &[usize]) -> Result<Scenario, ExperimentError> {
        let context = || {
            let mut c = format!("group '{}', case '{}'", group.label, case.label);
            if !unknowns.is_empty() {
                let values: Vec<String> = unknowns.iter().zip(at).map(|(u, &i)| u.describe(&u.values[i])).collect();
                c += &format!(", unknowns at {}", values.join(", "));
            }
            c
        };
        let err = |source| ExperimentError::Scenario { name: self.name.clone(), context: context(), source };
        let overrides: Vec<String> = group.set.iter().chain(&case.set).cloned().collect();
        let mut s = self.base()?.with_overrides(&overrides).map_err(err)?;
        let extra: Vec<String> = unknowns.iter().zip(at).flat_map(|(u, &i)| u.overrides(&u.values[i], &s)).collect();
        if !extra.is_empty() {
            s = s.with_overrides(&extra).map_err(err)?;
        }
        s.validate().map_err(err)?;
        Ok(s)
    }

    fn malformed(&self, message: String) -> ExperimentError {
        ExperimentError::Malformed { name: self.name.clone(), message }
    }

    fn check(&self) -> Result<(), ExperimentError> {
        for a in std::iter::once(&self.baseline).chain(&self.algorithms) {
            if crate::algorithms::find(a).is_none() {
                return Err(ExperimentError::UnknownAlgorithm { name: self.name.clone(), algorithm: a.clone() });
            }
        }
        if self.algorithms.is_empty() || self.metrics.is_empty() {
            return Err(self.malformed("algorithms and metrics: accepted at least one of each".into()));
        }
        for u in &self.unknowns {
            u.check().map_err(|m| self.malformed(m))?;
        }
        for group in self.groups() {
            let in_group = |m: String| if group.unknowns.is_empty() { m } else { format!("group '{}', {m}", group.label) };
            for u in &group.unknowns {
                u.check().map_err(|m| self.malformed(in_group(m)))?;
            }
            for key in group.paper.keys() {
                if !self.metrics.contains(key) {
                    return Err(self.malformed(format!(
                        "group '{}': paper.{key} is not one of the metrics: accepted {}",
                        group.label,
                        self.metrics.join(", ")
                    )));
                }
            }
            let unknowns = self.unknowns_of(&group);
            let keys: Vec<&String> = unknowns.iter().flat_map(|u| std::iter::once(&u.field).chain(&u.also)).collect();
            if let Some(k) = keys.iter().enumerate().find_map(|(i, k)| keys[..i].contains(k).then_some(k)) {
                return Err(
                    self.malformed(format!("group '{}': unknown '{k}' is given twice: accepted one unknown per field", group.label))
                );
            }
            let setups: usize = unknowns.iter().map(|u| u.values.len()).product();
            if setups > MAX_SETUPS {
                return Err(self.malformed(format!(
                    "group '{}': the unknowns' values make {setups} combinations: accepted at most {MAX_SETUPS}",
                    group.label
                )));
            }
            // Every value of every unknown (the others at their chosen values) gives a valid
            // scenario in every case.
            let chosen = chosen_indices(&unknowns);
            for case in self.cases() {
                self.scenario_at(&group, &case, &unknowns, &chosen)?;
                for (j, u) in unknowns.iter().enumerate() {
                    for i in 0..u.values.len() {
                        let mut at = chosen.clone();
                        at[j] = i;
                        self.scenario_at(&group, &case, &unknowns, &at)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the baseline and every algorithm on each case of `group` with the unknowns at `at`.
    /// Also says whether a run reached the scenario's timeout.
    fn run_setup(&self, group: &GroupSpec, unknowns: &[UnknownSpec], at: &[usize]) -> Result<(Vec<CaseResult>, bool), ExperimentError> {
        let algorithms: Vec<&String> = std::iter::once(&self.baseline).chain(&self.algorithms).collect();
        let mut cases = Vec::new();
        let mut timed_out = false;
        for case in self.cases() {
            let scenario = self.scenario_at(group, &case, unknowns, at)?;
            let mut reports = Vec::new();
            for a in &algorithms {
                let run = crate::simulate(&scenario, Some(a), TraceDetail::Summary).map_err(|e| ExperimentError::Run {
                    name: self.name.clone(),
                    context: format!("group '{}', case '{}', {a}", group.label, case.label),
                    message: e.to_string(),
                })?;
                timed_out |= run.report.total_time_s >= scenario.migration.timeout.0 - 1e-9;
                reports.push(run.report);
            }
            cases.push(CaseResult { label: case.label.clone(), reports });
        }
        Ok((cases, timed_out))
    }

    /// One row per (metric, algorithm) from one set-up's runs.
    fn rows(&self, group: &GroupSpec, cases: &[CaseResult]) -> Result<Vec<MetricRow>, ExperimentError> {
        let mut rows = Vec::new();
        for m in &self.metrics {
            for (i, a) in self.algorithms.iter().enumerate() {
                let mut base_sum = 0.0;
                let mut alg_sum = 0.0;
                let mut changes = Vec::new();
                for c in cases {
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
                    band: None,
                });
            }
        }
        Ok(rows)
    }

    /// Runs every (group, case, algorithm) at the chosen set-up, and at every other combination
    /// of the unknowns' values for the bands.
    pub fn run(&self) -> Result<ExperimentResult, ExperimentError> {
        let per_setup = self.cases().len() * (1 + self.algorithms.len());
        let mut runs = 0;
        let mut groups = Vec::new();
        for group in self.groups() {
            let unknowns = self.unknowns_of(&group);
            let chosen = chosen_indices(&unknowns);
            let (cases, chosen_timed_out) = self.run_setup(&group, &unknowns, &chosen)?;
            runs += per_setup;
            let mut rows = self.rows(&group, &cases)?;
            let mut setups = Vec::new();
            if !unknowns.is_empty() {
                for at in combinations(&unknowns) {
                    let values = unknowns.iter().zip(&at).map(|(u, &i)| u.describe(&u.values[i])).collect();
                    let (changes, timed_out) = if at == chosen {
                        (rows.iter().map(|r| r.change_pct).collect(), chosen_timed_out)
                    } else {
                        let (cases, timed_out) = self.run_setup(&group, &unknowns, &at)?;
                        runs += per_setup;
                        (self.rows(&group, &cases)?.iter().map(|r| r.change_pct).collect(), timed_out)
                    };
                    setups.push((at == chosen, Setup { values, changes, timed_out }));
                }
                for (k, row) in rows.iter_mut().enumerate() {
                    let mut band: Option<Band> = None;
                    for (is_chosen, s) in &setups {
                        let Some(x) = s.changes[k] else { continue };
                        if s.timed_out && !is_chosen {
                            continue;
                        }
                        let b = band.get_or_insert_with(|| Band { min: x, max: x, min_at: s.values.clone(), max_at: s.values.clone() });
                        if x < b.min {
                            (b.min, b.min_at) = (x, s.values.clone());
                        }
                        if x > b.max {
                            (b.max, b.max_at) = (x, s.values.clone());
                        }
                    }
                    row.band = band;
                }
            }
            groups.push(GroupResult {
                label: group.label.clone(),
                rows,
                cases,
                unknowns,
                setups: setups.into_iter().map(|(_, s)| s).collect(),
            });
        }
        Ok(ExperimentResult {
            name: self.name.clone(),
            title: self.title.clone(),
            paper: self.paper.clone(),
            setup: self.setup.clone(),
            notes: self.notes.clone(),
            baseline: self.baseline.clone(),
            groups,
            unknowns: self.unknowns.clone(),
            runs,
        })
    }
}

/// Each unknown's chosen value, as an index into its values.
fn chosen_indices(unknowns: &[UnknownSpec]) -> Vec<usize> {
    unknowns.iter().map(|u| u.values.iter().position(|v| *v == u.chosen).unwrap_or(0)).collect()
}

/// Every combination of the unknowns' values, as indices (the last unknown varies fastest).
fn combinations(unknowns: &[UnknownSpec]) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for u in unknowns {
        all = all.into_iter().flat_map(|prefix: Vec<usize>| (0..u.values.len()).map(move |i| [prefix.clone(), vec![i]].concat())).collect();
    }
    all
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

    /// EXAMPLE with an experiment-wide unknown and one for the "low" group.
    fn with_unknowns() -> String {
        EXAMPLE.replace(
            "[[case]]\nlabel = \"8 MiB\"",
            "[[unknown]]\nfield = \"link.bandwidth\"\nvalues = [\"50Mbit/s\", \"100Mbit/s\"]\nchosen = \"100Mbit/s\"\nevidence = \"the paper's link\"\n\n[[case]]\nlabel = \"8 MiB\"",
        )
        .replace(
            "paper = { pages_sent = -10.0 }",
            "paper = { pages_sent = -10.0 }\n[[group.unknown]]\nfield = \"workload.working_set\"\nof = \"vm.memory\"\nvalues = [0.25, 0.5]\nchosen = 0.5\nevidence = \"the buffer\"",
        )
    }

    #[test]
    fn unknowns_parse_and_give_a_band_around_the_chosen_set_up() {
        let spec = ExperimentSpec::from_toml_str(&with_unknowns()).unwrap();
        assert_eq!(spec.unknowns.len(), 1);
        assert_eq!(spec.groups[0].unknowns[0].values, ["0.25", "0.5"]);
        // The chosen set-up: the unknowns' chosen values, a fraction of the case's memory.
        let s = spec.scenario_for(&spec.groups[0], &spec.cases[1]).unwrap();
        assert_eq!((s.link.bandwidth.0, s.workload.working_set.unwrap().0), (12.5e6, 8 << 20));
        let result = spec.run().unwrap();
        assert_eq!(result.runs, (4 + 2) * 2 * 2);
        let (low, high) = (&result.groups[0], &result.groups[1]);
        assert_eq!((low.setups.len(), high.setups.len()), (4, 2));
        assert_eq!(low.unknowns.len(), 2);
        assert_eq!(low.setups[1].values, ["link.bandwidth=50Mbit/s", "workload.working_set=0.5 x vm.memory"]);
        for g in &result.groups {
            for (k, row) in g.rows.iter().enumerate() {
                let Some(x) = row.change_pct else { continue };
                let band = row.band.as_ref().unwrap_or_else(|| panic!("{row:?}"));
                assert!(band.contains(x), "{row:?}");
                let changes: Vec<f64> = g.setups.iter().filter_map(|s| s.changes[k]).collect();
                assert_eq!(band.min, changes.iter().cloned().fold(f64::INFINITY, f64::min));
                assert_eq!(band.max, changes.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
                assert!(g.setups.iter().any(|s| s.values == band.min_at && s.changes[k] == Some(band.min)));
            }
        }
        // A slower link changes the times: the band is not a point.
        let time = low.rows.iter().find(|r| r.metric == "total_time_s").unwrap().band.clone().unwrap();
        assert!(time.max - time.min > 1.0, "{time:?}");
        // Without unknowns there is no band.
        let plain = ExperimentSpec::from_toml_str(EXAMPLE).unwrap().run().unwrap();
        assert!(plain.groups.iter().all(|g| g.setups.is_empty() && g.rows.iter().all(|r| r.band.is_none())));
    }

    #[test]
    fn bad_unknowns_get_one_line_naming_the_field_and_what_is_accepted() {
        let base = with_unknowns();
        let cases: &[(&str, &str, &str)] = &[
            (
                "chosen = \"100Mbit/s\"",
                "chosen = \"1Gbit/s\"",
                "unknown 'link.bandwidth': chosen = '1Gbit/s' is not one of values: accepted 50Mbit/s, 100Mbit/s",
            ),
            (
                "values = [\"50Mbit/s\", \"100Mbit/s\"]\nchosen = \"100Mbit/s\"",
                "values = [\"100Mbit/s\"]\nchosen = \"100Mbit/s\"",
                "unknown 'link.bandwidth': values has 1 entries: accepted two or more",
            ),
            ("values = [\"50Mbit/s\", \"100Mbit/s\"]", "values = [\"100Mbit/s\", \"100Mbit/s\"]", "values lists '100Mbit/s' twice"),
            ("evidence = \"the paper's link\"", "evidence = \" \"", "unknown 'link.bandwidth': evidence is empty: accepted"),
            ("evidence = \"the paper's link\"", "", "missing field `evidence`"),
            (
                "values = [0.25, 0.5]\nchosen = 0.5",
                "values = [0.25, 2]\nchosen = 0.25",
                "group 'low', unknown 'workload.working_set': value '2' is not accepted: a fraction of vm.memory",
            ),
            ("of = \"vm.memory\"", "of = \"link.bandwidth\"", "of = 'link.bandwidth' is not accepted: accepted vm.memory"),
            ("values = [\"50Mbit/s\", \"100Mbit/s\"]", "values = [\"-5Mbit/s\", \"100Mbit/s\"]", "link.bandwidth"),
            ("field = \"link.bandwidth\"", "field = \"link.bandwith\"", "link.bandwith"),
            ("field = \"workload.working_set\"", "field = \"link.bandwidth\"", "unknown 'link.bandwidth' is given twice"),
            ("values = [\"50Mbit/s\", \"100Mbit/s\"]", "values = [[1], \"100Mbit/s\"]", "is not accepted: a string, number or boolean"),
        ];
        for (from, to, expected) in cases {
            assert!(base.contains(from), "{from}");
            let e = ExperimentSpec::from_toml_str(&base.replacen(from, to, 1)).unwrap_err().to_string();
            assert!(e.contains(expected), "{to}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        // Too many combinations.
        let many: Vec<String> = (1..=MAX_SETUPS + 1).map(|i| format!("\"{}Mbit/s\"", i * 100)).collect();
        let e = ExperimentSpec::from_toml_str(
            &base.replace("values = [\"50Mbit/s\", \"100Mbit/s\"]", &format!("values = [{}]", many.join(", "))),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(&format!("combinations: accepted at most {MAX_SETUPS}")), "{e}");
    }

    /// Runs `name`'s whole grid; checks that each band holds the change at the chosen set-up, and
    /// that each published number has a band and is in it or the notes say why not.
    fn check_shipped_bands(name: &str) {
        {
            let result = experiment(name).unwrap().run().unwrap_or_else(|e| panic!("{e}"));
            for g in &result.groups {
                for row in &g.rows {
                    if let (Some(x), Some(band)) = (row.change_pct, &row.band) {
                        assert!(band.contains(x), "{name} / {} / {}: {x} outside {band:?}", g.label, row.metric);
                    }
                    if let Some(paper) = row.paper_change_pct {
                        assert!(row.band.is_some(), "{name} / {} / {}: a published number needs a band", g.label, row.metric);
                        let in_band = row.band.as_ref().is_some_and(|b| b.contains(paper));
                        assert!(in_band || !result.notes.is_empty(), "{name}: {} outside its band and no notes say why", row.metric);
                    }
                }
            }
        }
    }

    #[test]
    fn the_tsmc_band_holds_its_chosen_set_up() {
        check_shipped_bands("tsmc"); // a few seconds
    }

    /// Every shipped experiment's whole grid: a few minutes, so only on request
    /// (`cargo test -p livemig-core --release -- --ignored shipped`).
    #[test]
    #[ignore = "runs every shipped experiment's whole grid (minutes)"]
    fn every_shipped_band_holds_its_chosen_set_up() {
        for (name, _) in EXPERIMENTS {
            check_shipped_bands(name);
        }
    }

    #[test]
    fn every_shipped_experiment_loads() {
        for (name, _) in EXPERIMENTS {
            let spec = experiment(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&spec.name, name);
        }
    }
}
