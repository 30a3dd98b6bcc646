//! Migration algorithms: one file each, behind one trait, found by name in [`registry`].
//!
//! # Adding an algorithm
//!
//! 1. Write `core/src/algorithms/my_algorithm.rs` with a struct implementing [`Algorithm`]
//!    (its `run` talks only to [`MigrationContext`]), its parameters declared once with
//!    `parameters!` (the `PARAMS` list and a typed struct), its registry entry
//!    `pub const INFO: AlgorithmInfo`, and a `pub fn build(params: &Params) -> ...`.
//! 2. Add `mod my_algorithm;` below and the one line `my_algorithm::INFO,` to [`REGISTRY`].
//!
//! The smallest complete example, written to be copied, is [`student_template`]: a few live
//! pre-copy rounds then stop-and-copy, with comments that walk through the context API.
//!
//! Parameters are declared with their type, default, range and a one-line help, so the CLI, the
//! web forms and scenario validation all describe and check them the same way. A *variant* is a
//! registry entry that reuses an algorithm with some parameters fixed (e.g. `precopy-qemu`);
//! it reads its other parameters from the same `[params.<base>]` table.
//!
//! # Confidence tags
//!
//! Each algorithm's module comment tags every step with how sure the project is of it
//! (docs/algorithms/README.md): \[C\] confirmed from the primary source, \[S\] from a
//! secondary source, \[M\] recalled from the paper, not re-read, \[R\] reconstructed, a
//! plausible design that is not the paper's (every \[R\] choice is a named parameter).

use crate::context::{ContextError, MigrationContext, Outcome};
use serde_json::Value;
use std::collections::BTreeMap;

mod params;
pub(crate) use params::{choice, parameters};
pub use params::{FromParam, ParamError, ParamKind, ParamSpec, ParamValue, Params};

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

/// When an algorithm moves the guest: its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Memory is copied while the guest runs on the source; it moves once everything is there.
    PreCopy,
    /// The guest moves first; its memory follows, pushed and faulted in.
    PostCopy,
    /// Some memory before the switch, the rest after it.
    Hybrid,
}

impl Family {
    /// The family's name as reports and the CLI write it: `pre-copy`, `post-copy`, `hybrid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::PreCopy => "pre-copy",
            Family::PostCopy => "post-copy",
            Family::Hybrid => "hybrid",
        }
    }

    /// Whether the guest may run on the destination before all its memory is there, so that
    /// the destination must serve page faults (post-copy and hybrid).
    pub const fn faults_on_destination(self) -> bool {
        !matches!(self, Family::PreCopy)
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What crosses the link while the guest is paused at the switch-over (the downtime): how a
/// front end explains an algorithm's stop-and-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Downtime {
    /// The pages dirtied since the last live round, and the CPU state (pre-copy).
    LastDirtyPages,
    /// The CPU state (and, for a hybrid, its working set); the memory follows after the resume.
    StateFirst,
    /// Only the dirty bitmap and the CPU state; the dirty pages follow after the resume (TSMC).
    DirtyBitmap,
}

/// A registry entry: an algorithm, or a variant of one with some parameters fixed.
#[derive(Debug, Clone, Copy)]
pub struct AlgorithmInfo {
    /// Name used on the command line and in scenario files.
    pub name: &'static str,
    /// The `[params.<section>]` table it reads (the base algorithm's name).
    pub section: &'static str,
    /// Pre-copy, post-copy or hybrid.
    pub family: Family,
    /// What crosses the link during the downtime.
    pub downtime: Downtime,
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

/// Every registered algorithm and variant, in the order `livemig algorithms` lists them: one
/// line each, the entry itself in the algorithm's file.
pub static REGISTRY: &[AlgorithmInfo] = &[
    precopy::INFO,
    precopy::xen::INFO,
    precopy::qemu::INFO,
    precopy::cloud_hypervisor::INFO,
    postcopy::INFO,
    postcopy::DEMAND_INFO,
    postcopy::PUSH_INFO,
    postcopy::BUBBLING_INFO,
    postcopy_qemu::INFO,
    hybrid::INFO,
    tsmc::INFO,
    mecom::INFO,
    delta::XBZRLE_INFO,
    delta::INFO,
    task_guided::INFO,
    task_guided::BASELINE_INFO,
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
