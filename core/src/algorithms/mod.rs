//! Migration algorithms: one file each, behind one trait, found by name in [`registry`].
//!
//! # Adding an algorithm
//!
//! 1. Write `core/src/algorithms/my_algorithm.rs` with a struct implementing [`Algorithm`]
//!    (its `run` talks only to [`MigrationContext`]), its parameter list as
//!    `pub const PARAMS: &[ParamSpec]`, and a `pub fn build(params: &Params) -> ...`.
//! 2. Add `mod my_algorithm;` below and one line to [`REGISTRY`]: an [`AlgorithmInfo`] entry,
//!    or, as the student template does, `my_algorithm::INFO,` with the entry in the file.
//!
//! The smallest complete example, written to be copied, is [`student_template`]: a few live
//! pre-copy rounds then stop-and-copy, with comments that walk through the context API.
//!
//! Parameters are declared with their type, default, range and a one-line help, so the CLI, the
//! web forms and scenario validation all describe and check them the same way. A *variant* is a
//! registry entry that reuses an algorithm with some parameters fixed (e.g. `precopy-qemu`);
//! it reads its other parameters from the same `[params.<base>]` table.

use crate::context::{ContextError, MigrationContext, Outcome};
use crate::units::{Bandwidth, ByteSize, Seconds};
use serde_json::Value;
use std::collections::BTreeMap;

pub mod delta;
pub mod hybrid;
pub mod mecom;
pub mod postcopy;
mod postcopy_common;
pub mod postcopy_qemu;
pub mod precopy;
pub mod student_template;
pub mod task_guided;
pub mod tsmc;

/// A migration algorithm: plain sequential code over a [`MigrationContext`].
pub trait Algorithm {
    /// Migrates the VM. Returns how it stopped; errors are failures of the context.
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError>;
}

/// The type and accepted range of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// true or false.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted.
        min: i64,
        /// Largest accepted.
        max: i64,
    },
    /// A number in `min..=max`.
    Float {
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// A duration in seconds, `min..=max`.
    Duration {
        /// Smallest accepted (seconds).
        min: f64,
        /// Largest accepted (seconds).
        max: f64,
    },
    /// A bandwidth in bytes/s, `min..=max`.
    Bandwidth {
        /// Smallest accepted (bytes/s).
        min: f64,
        /// Largest accepted (bytes/s).
        max: f64,
    },
    /// A size in bytes, `min..=max`.
    Size {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
}

impl ParamKind {
    /// Human description of the accepted values.
    pub fn accepted(&self) -> String {
        match *self {
            ParamKind::Bool => "true or false".into(),
            ParamKind::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamKind::Float { min, max } => format!("a number from {min} to {max}"),
            ParamKind::Choice(words) => format!("one of {}", words.join(", ")),
            ParamKind::Duration { min, max } => format!("a duration from {} to {}", Seconds(min), Seconds(max)),
            ParamKind::Bandwidth { min, max } => format!("a bandwidth from {} to {}", Bandwidth(min), Bandwidth(max)),
            ParamKind::Size { min, max } => format!("a size from {} to {}", ByteSize(min), ByteSize(max)),
        }
    }
}

/// One declared parameter of an algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Key in `[params.<algorithm>]`.
    pub name: &'static str,
    /// Type and range.
    pub kind: ParamKind,
    /// Default value, written as in a scenario file.
    pub default: &'static str,
    /// One line for people.
    pub help: &'static str,
}

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number, or a duration (s), bandwidth (bytes/s) or size (bytes).
    Float(f64),
    /// A choice.
    Text(String),
}

/// A parameter value that does not fit its declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// Dotted path, e.g. `params.precopy.policy`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

fn parse_value(spec: &ParamSpec, v: &Value) -> Result<ParamValue, String> {
    let text = match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let bad = || format!("{v} is not accepted: {}", spec.kind.accepted());
    match spec.kind {
        ParamKind::Bool => match (v, text) {
            (Value::Bool(b), _) => Ok(ParamValue::Bool(*b)),
            (_, Some("true")) => Ok(ParamValue::Bool(true)),
            (_, Some("false")) => Ok(ParamValue::Bool(false)),
            _ => Err(bad()),
        },
        ParamKind::Int { min, max } => {
            let n = match (v, text) {
                (Value::Number(n), _) => n.as_i64(),
                (_, Some(t)) => t.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(bad)?;
            if n < min || n > max {
                return Err(bad());
            }
            Ok(ParamValue::Int(n))
        }
        ParamKind::Float { min, max } => {
            let x = match (v, text) {
                (Value::Number(n), _) => n.as_f64(),
                (_, Some(t)) => t.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(bad)?;
            if x.is_nan() || x < min || x > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x))
        }
        ParamKind::Choice(words) => {
            let t = text.ok_or_else(bad)?;
            if !words.contains(&t) {
                return Err(format!("'{t}' is not accepted: {}", spec.kind.accepted()));
            }
            Ok(ParamValue::Text(t.to_string()))
        }
        ParamKind::Duration { min, max } => {
            let x: Seconds = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0.is_nan() || x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0))
        }
        ParamKind::Bandwidth { min, max } => {
            let x: Bandwidth = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0.is_nan() || x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0))
        }
        ParamKind::Size { min, max } => {
            let x: ByteSize = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0 as f64))
        }
    }
}

/// An algorithm's parameters, checked against its declarations, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
    shown: serde_json::Map<String, Value>,
}

impl Params {
    /// Resolves `given` (from `[params.<section>]`) against `specs`, then applies a variant's
    /// fixed values.
    pub fn resolve(
        section: &str,
        specs: &'static [ParamSpec],
        given: Option<&BTreeMap<String, Value>>,
        fixed: &[(&'static str, &'static str)],
    ) -> Result<Params, ParamError> {
        let mut values = BTreeMap::new();
        let mut shown = serde_json::Map::new();
        if let Some(given) = given {
            for key in given.keys() {
                if !specs.iter().any(|s| s.name == key) {
                    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                    return Err(ParamError {
                        field: format!("params.{section}.{key}"),
                        message: format!("unknown parameter; {section} accepts: {}", names.join(", ")),
                    });
                }
            }
        }
        for spec in specs {
            let fixed_value = fixed.iter().find(|(k, _)| *k == spec.name).map(|(_, v)| Value::String(v.to_string()));
            let default = Value::String(spec.default.to_string());
            let raw = fixed_value.as_ref().or_else(|| given.and_then(|g| g.get(spec.name))).unwrap_or(&default);
            let value =
                parse_value(spec, raw).map_err(|message| ParamError { field: format!("params.{section}.{}", spec.name), message })?;
            shown.insert(spec.name.to_string(), raw.clone());
            values.insert(spec.name, value);
        }
        Ok(Params { values, shown })
    }

    /// Adds another table's parameters (names are unique across an entry's tables).
    fn merge(&mut self, other: Params) {
        self.values.extend(other.values);
        self.shown.extend(other.shown);
    }

    /// The parameters as given or defaulted, for traces and reports.
    pub fn shown(&self) -> serde_json::Map<String, Value> {
        self.shown.clone()
    }

    fn get(&self, name: &str) -> &ParamValue {
        self.values.get(name).unwrap_or_else(|| panic!("parameter {name} is not declared"))
    }

    /// A declared boolean parameter.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), ParamValue::Bool(true))
    }
    /// A declared integer parameter.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            ParamValue::Int(n) => *n,
            other => panic!("parameter {name} is {other:?}, not an integer"),
        }
    }
    /// A declared number, duration (s), bandwidth (bytes/s) or size (bytes).
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            ParamValue::Float(x) => *x,
            ParamValue::Int(n) => *n as f64,
            other => panic!("parameter {name} is {other:?}, not a number"),
        }
    }
    /// A declared choice.
    pub fn choice(&self, name: &str) -> &str {
        match self.get(name) {
            ParamValue::Text(t) => t,
            other => panic!("parameter {name} is {other:?}, not a choice"),
        }
    }
}

/// A registry entry: an algorithm, or a variant of one with some parameters fixed.
#[derive(Debug, Clone, Copy)]
pub struct AlgorithmInfo {
    /// Name used on the command line and in scenario files.
    pub name: &'static str,
    /// The `[params.<section>]` table it reads (the base algorithm's name).
    pub section: &'static str,
    /// "pre-copy", "post-copy", ...
    pub family: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// The paper or implementation it follows.
    pub paper: &'static str,
    /// Declared parameters.
    pub params: &'static [ParamSpec],
    /// A base algorithm whose `[params.<section>]` table and parameters this one reads as well
    /// (MECOM and delta pre-copy are pre-copy with an encoder: they take pre-copy's parameters
    /// from `[params.precopy]` and their own from their own table).
    pub base: Option<(&'static str, &'static [ParamSpec])>,
    /// Parameters a variant fixes.
    pub fixed: &'static [(&'static str, &'static str)],
    /// Builds the algorithm from resolved parameters.
    pub build: fn(&Params) -> Box<dyn Algorithm>,
}

/// Every registered algorithm and variant, in the order `livemig algorithms` lists them.
pub static REGISTRY: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "precopy",
        section: "precopy",
        base: None,
        family: "pre-copy",
        summary: "Iterative pre-copy with a choice of convergence policy (default: Xen's)",
        paper: "Clark et al., Live Migration of Virtual Machines, NSDI 2005; Xen xc_domain_save.c",
        params: precopy::PARAMS,
        fixed: &[],
        build: precopy::build,
    },
    AlgorithmInfo {
        name: "precopy-xen",
        section: "precopy",
        base: None,
        family: "pre-copy",
        summary: "Xen classic: 29 live rounds + final, stop under 50 dirty pages or over 3x memory, skip re-dirtied pages",
        paper: "Xen tools/libxc/xc_domain_save.c (Clark et al., NSDI 2005)",
        params: precopy::PARAMS,
        fixed: &[("policy", "xen")],
        build: precopy::build,
    },
    AlgorithmInfo {
        name: "precopy-qemu",
        section: "precopy",
        base: None,
        family: "pre-copy",
        summary: "QEMU: stop when remaining bytes < measured bandwidth x downtime limit; no round cap",
        paper: "QEMU migration/ram.c, migration.c (downtime-limit 300 ms, auto-converge)",
        params: precopy::PARAMS,
        fixed: &[("policy", "qemu")],
        build: precopy::build,
    },
    AlgorithmInfo {
        name: "precopy-ch",
        section: "precopy",
        base: None,
        family: "pre-copy",
        summary: "Cloud Hypervisor: at most 5 dirty passes, or stop once the downtime estimate fits",
        paper: "Cloud Hypervisor vm-migration (estimated downtime <= 300 ms)",
        params: precopy::PARAMS,
        fixed: &[("policy", "cloud-hypervisor")],
        build: precopy::build,
    },
    AlgorithmInfo {
        name: "postcopy",
        section: "postcopy",
        base: None,
        family: "post-copy",
        summary: "Post-copy: switch over first, then active push with bubbling pre-paging and demand faults",
        paper: "Hines & Gopalan, Post-Copy Based Live VM Migration, VEE 2009",
        params: postcopy::PARAMS,
        fixed: &[],
        build: postcopy::build,
    },
    AlgorithmInfo {
        name: "postcopy-demand",
        section: "postcopy",
        base: None,
        family: "post-copy",
        summary: "Post-copy with demand paging only: a page moves only when the guest faults on it",
        paper: "Hines & Gopalan, VEE 2009 (demand-paging baseline)",
        params: postcopy::PARAMS,
        fixed: &[("push", "false")],
        build: postcopy::build,
    },
    AlgorithmInfo {
        name: "postcopy-push",
        section: "postcopy",
        base: None,
        family: "post-copy",
        summary: "Post-copy with active push in address order plus demand paging",
        paper: "Hines & Gopalan, VEE 2009 (active push)",
        params: postcopy::PARAMS,
        fixed: &[("push", "true"), ("prepaging", "none")],
        build: postcopy::build,
    },
    AlgorithmInfo {
        name: "postcopy-bubbling",
        section: "postcopy",
        base: None,
        family: "post-copy",
        summary: "Post-copy with bubbling pre-paging around several fault pivots, both directions",
        paper: "Hines, Deshpande & Gopalan, Post-Copy Live Migration of VMs, SIGOPS OSR 2009",
        params: postcopy::PARAMS,
        fixed: &[("push", "true"), ("prepaging", "dual"), ("pivots", "multi")],
        build: postcopy::build,
    },
    postcopy_qemu::INFO,
    AlgorithmInfo {
        name: "hybrid",
        section: "hybrid",
        base: None,
        family: "hybrid",
        summary: "Working set estimated live and sent with the CPU state, then post-copy with a locality window per fault",
        paper: "Sahni & Varma, A Hybrid Approach to Live Migration of Virtual Machines, IEEE CCEM 2012",
        params: hybrid::PARAMS,
        fixed: &[],
        build: hybrid::build,
    },
    AlgorithmInfo {
        name: "tsmc",
        section: "tsmc",
        base: None,
        family: "hybrid",
        summary: "Three stages: one live full copy, a downtime with only the dirty bitmap, then post-copy of the dirty pages",
        paper: "Song, Liu, Yin & Gao, TSMC: A Novel Approach for Live VM Migration, J. Applied Mathematics 2014",
        params: tsmc::PARAMS,
        fixed: &[],
        build: tsmc::build,
    },
    AlgorithmInfo {
        name: "mecom",
        section: "mecom",
        base: Some(("precopy", precopy::PARAMS)),
        family: "pre-copy",
        summary: "Pre-copy compressing each page by content: zero flag, WKdm for word-regular pages, LZ4 (for LZO) otherwise",
        paper: "Jin et al., Live VM migration with adaptive memory compression, Cluster 2009; MECOM, FGCS 2014",
        params: mecom::PARAMS,
        fixed: &[],
        build: mecom::build,
    },
    AlgorithmInfo {
        name: "xbzrle",
        section: "delta",
        base: Some(("precopy", precopy::PARAMS)),
        family: "pre-copy",
        summary: "QEMU pre-copy with XBZRLE: later rounds send XOR run-length deltas against a 64 MiB cache of sent pages",
        paper: "QEMU migration/xbzrle.c (Svärd et al., VEE 2011)",
        params: delta::PARAMS,
        fixed: &[("policy", "qemu")],
        build: delta::build,
    },
    AlgorithmInfo {
        name: "delta",
        section: "delta",
        base: Some(("precopy", precopy::PARAMS)),
        family: "pre-copy",
        summary: "Delta pre-copy: after the first round send only modified content (XBZRLE, unlimited cache)",
        paper: "Bhardwaj & Rama Krishna, Improving the Performance of Pre-copy VM Migration, ICCCN 2018",
        params: delta::PARAMS,
        fixed: &[("cache_size", "1 TiB"), ("cache_first_round", "true")],
        build: delta::build,
    },
    AlgorithmInfo {
        name: "task-guided",
        section: "task-guided",
        base: None,
        family: "pre-copy",
        summary: "A coordinator approves pre-copy in the guest's calm (tagged) regions and withdraws it when a heavy one begins",
        paper: "Lin & Kuo, A Framework for Task-Guided Virtual Machine Live Migration, IDCS 2018 (coordinator reconstructed)",
        params: task_guided::PARAMS,
        fixed: &[],
        build: task_guided::build,
    },
    AlgorithmInfo {
        name: "task-guided-baseline",
        section: "task-guided",
        base: None,
        family: "pre-copy",
        summary: "Task-guided's baseline: tags ignored, the same pre-copy starts as soon as the migration is requested",
        paper: "Lin & Kuo, IDCS 2018 (baseline: migrate at once)",
        params: task_guided::PARAMS,
        fixed: &[("guided", "false")],
        build: task_guided::build,
    },
    // The student template's entry is in its own file: a student's algorithm is one line here.
    student_template::INFO,
];

impl AlgorithmInfo {
    /// The parameter tables this entry reads, the base algorithm's first.
    pub fn sections(&self) -> impl Iterator<Item = (&'static str, &'static [ParamSpec])> {
        self.base.into_iter().chain(std::iter::once((self.section, self.params)))
    }

    /// The declared parameters of the table called `section`, if this entry reads it.
    pub fn section_params(&self, section: &str) -> Option<&'static [ParamSpec]> {
        self.sections().find(|(name, _)| *name == section).map(|(_, specs)| specs)
    }
}

/// All registry entries.
pub fn registry() -> &'static [AlgorithmInfo] {
    REGISTRY
}

/// The registry entry called `name`.
pub fn find(name: &str) -> Option<&'static AlgorithmInfo> {
    REGISTRY.iter().find(|a| a.name == name)
}

/// The names of all registry entries.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|a| a.name).collect()
}

/// Builds `info`'s algorithm with the parameters a scenario gives for it.
pub fn build(
    info: &AlgorithmInfo,
    scenario_params: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<(Box<dyn Algorithm>, Params), ParamError> {
    let mut params: Option<Params> = None;
    for (section, specs) in info.sections() {
        let resolved = Params::resolve(section, specs, scenario_params.get(section), info.fixed)?;
        match &mut params {
            None => params = Some(resolved),
            Some(p) => p.merge(resolved),
        }
    }
    let params = params.expect("every entry reads its own section");
    Ok(((info.build)(&params), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_names_are_unique() {
        let empty = BTreeMap::new();
        for info in REGISTRY {
            build(info, &empty).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            assert_eq!(REGISTRY.iter().filter(|a| a.name == info.name).count(), 1);
        }
    }

    #[test]
    fn bad_parameters_name_the_field_and_range() {
        let mut given = BTreeMap::new();
        given.insert("precopy".to_string(), BTreeMap::from([("policy".to_string(), Value::String("fast".into()))]));
        let e = build(find("precopy").unwrap(), &given).err().unwrap().to_string();
        assert!(e.starts_with("params.precopy.policy: 'fast' is not accepted: one of xen"), "{e}");
        given.insert("precopy".to_string(), BTreeMap::from([("colour".to_string(), Value::Bool(true))]));
        let e = build(find("precopy").unwrap(), &given).err().unwrap().to_string();
        assert!(e.contains("unknown parameter"), "{e}");
        given.insert("precopy".to_string(), BTreeMap::from([("downtime_limit".to_string(), Value::String("-3 ms".into()))]));
        let e = build(find("precopy").unwrap(), &given).err().unwrap().to_string();
        assert!(e.starts_with("params.precopy.downtime_limit:"), "{e}");
    }
}
