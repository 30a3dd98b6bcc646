//! Classroom assignments: a lecturer's file of scenarios and tasks, a student's answers file,
//! and the grader both the CLI and the browser call, so that both give the same grade.
//!
//! An assignment is data (`core/assignments/NAME.toml`; the lecturers' guide is
//! `docs/assignments.md`):
//!
//! ```toml
//! title = "Pre-copy at two link speeds"
//! intro = """
//! Markdown for the student: what to read, what to run.
//! """
//!
//! [scenarios.db]                      # a scenario: a preset with changes ...
//! preset = "write-hot-database"
//! set = ["vm.memory=256MiB", "workload.working_set=128MiB"]
//! # ... or `path = "file.toml"` (relative to the assignment), or an inline [scenarios.db.scenario]
//!
//! [[task]]
//! id = "downtime"
//! kind = "numeric"                    # numeric, choice, prediction, search, implement
//! question = "What is the downtime of Xen pre-copy on db?"
//! scenario = "db"
//! algorithm = "precopy-xen"
//! metric = "downtime_s"               # any numeric report field
//! unit = "ms"                         # the unit the student answers in
//! tolerance = 0.1                     # within 10%
//! hint_high = "Did you count the state transfer twice?"
//! ```
//!
//! Answers are a small TOML file (`livemig assignment template NAME` prints one to fill in):
//!
//! ```toml
//! student = "Ada"
//! [answers]
//! downtime = 12.5        # in the task's unit, or a string with a unit: "12.5 ms"
//! ```
//!
//! No assignment stores an answer key: [`Assignment::grade`] runs the core for every task at
//! grading time (a search task at the student's value and one step beyond it; an implement task
//! with the student's algorithm), so a changed scenario or algorithm never leaves a stale key.
//! The grade of each task says why, in words meant to teach.

use crate::experiment::metric;
use crate::report::Report;
use crate::scenario::{Scenario, ScenarioError};
use crate::trace::TraceDetail;
use crate::units::{Bandwidth, ByteSize, Seconds};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The assignments shipped with the core, `(name, TOML text)`.
pub const ASSIGNMENTS: &[(&str, &str)] = &[
    ("precopy-convergence", include_str!("../assignments/precopy-convergence.toml")),
    ("postcopy-faults", include_str!("../assignments/postcopy-faults.toml")),
    ("mecom-link-speed", include_str!("../assignments/mecom-link-speed.toml")),
    ("tsmc-data-sent", include_str!("../assignments/tsmc-data-sent.toml")),
    ("task-guided-timing", include_str!("../assignments/task-guided-timing.toml")),
    ("student-algorithm", include_str!("../assignments/student-algorithm.toml")),
];

/// Report fields a task may name as its metric: every numeric report field.
pub use crate::report::METRICS;

/// Why an assignment file could not be loaded. Every message names the file, and the task and
/// field where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssignmentError {
    /// The file is not valid TOML, or has the wrong shape.
    #[error("assignment {file}: {message}")]
    Malformed {
        /// The file or bundled name.
        file: String,
        /// What is wrong (with line and column for syntax errors).
        message: String,
    },
    /// A field of the assignment or of one task is wrong.
    #[error("assignment {file}: {field}: {message}")]
    Field {
        /// The file or bundled name.
        file: String,
        /// Where, e.g. `task 'downtime' (task[0]).metric`.
        field: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A scenario of the assignment is invalid.
    #[error("assignment {file}: scenarios.{scenario}: {source}")]
    Scenario {
        /// The file or bundled name.
        file: String,
        /// The scenario's name in the assignment.
        scenario: String,
        /// The scenario error (names the scenario field).
        source: ScenarioError,
    },
    /// No bundled assignment has this name.
    #[error("unknown assignment '{name}': accepted a TOML file or one of {}", ASSIGNMENTS.iter().map(|a| a.0).collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// Why an answers file could not be graded. Nothing is graded when there is one: a malformed
/// file never passes a task by accident.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswersError {
    /// The file is not valid TOML, or has the wrong shape.
    #[error("answers {file}: {message}")]
    Malformed {
        /// The answers file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// One answer has the wrong type or an unreadable value, or names no task.
    #[error("answers {file}: answers.{task}: {message}")]
    Answer {
        /// The answers file.
        file: String,
        /// The task id.
        task: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// The file format
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentFile {
    title: String,
    #[serde(default)]
    author: String,
    intro: String,
    #[serde(default)]
    scenarios: BTreeMap<String, ScenarioFile>,
    #[serde(default, rename = "task")]
    tasks: Vec<TaskFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    description: String,
    preset: Option<String>,
    path: Option<String>,
    scenario: Option<toml::Table>,
    #[serde(default)]
    set: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    id: String,
    kind: String,
    question: String,
    points: Option<f64>,
    scenario: Option<String>,
    algorithm: Option<String>,
    metric: Option<String>,
    unit: Option<String>,
    tolerance: Option<f64>,
    tolerance_abs: Option<f64>,
    hint: Option<String>,
    hint_high: Option<String>,
    hint_low: Option<String>,
    explain: Option<String>,
    options: Option<Vec<OptionFile>>,
    correct: Option<String>,
    vary: Option<String>,
    direction: Option<String>,
    step: Option<f64>,
    meets: Option<Vec<ConditionFile>>,
    scenarios: Option<Vec<String>>,
    require: Option<Vec<ConditionFile>>,
    forbid: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionFile {
    id: Option<String>,
    label: String,
    algorithm: Option<String>,
    scenario: Option<String>,
    #[serde(default)]
    when: Vec<ConditionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionFile {
    metric: String,
    op: String,
    value: toml::Value,
    scale: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The checked assignment
// ---------------------------------------------------------------------------------------------

/// A loaded and checked assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Bundled name or file name (answers may name it; the CLI shows it).
    pub name: String,
    /// Title.
    pub title: String,
    /// Author (may be empty).
    pub author: String,
    /// The introduction, Markdown.
    pub intro: String,
    /// Its scenarios, in name order.
    pub scenarios: Vec<NamedScenario>,
    /// Its tasks, in file order.
    pub tasks: Vec<Task>,
}

/// One scenario of an assignment, resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedScenario {
    /// Name tasks refer to it by.
    pub name: String,
    /// For people.
    pub description: String,
    /// Where it came from, for people (`preset web-server`, `file x.toml`, `inline`), with its
    /// changes.
    pub origin: String,
    /// The scenario, as its own TOML reads back (so that a scenario file or a link made from it
    /// runs exactly the same).
    pub scenario: Scenario,
}

/// One task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Answers-file key.
    pub id: String,
    /// The question, Markdown.
    pub question: String,
    /// Points for passing it.
    pub points: f64,
    /// Shown with the grade: why it comes out this way (may be empty).
    pub explain: String,
    /// What kind of task, and how it is graded.
    pub kind: TaskKind,
}

/// The kinds of task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// A number the core computes, answered within a tolerance.
    Numeric(NumericQ),
    /// One of several options; the right one is computed from runs.
    Choice(ChoiceQ),
    /// Like numeric or choice, but answered before the run is shown (the browser locks it).
    Prediction(Box<TaskKind>),
    /// A value of a scenario field that meets a criterion and is the lowest (or highest) that
    /// does, checked by running the core at the value and one step beyond it.
    Search(SearchQ),
    /// The student's own registered algorithm must pass the invariants and the requirements.
    Implement(ImplementQ),
}

/// A scenario and an algorithm to run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunRef {
    /// Scenario name in the assignment.
    pub scenario: String,
    /// Registered algorithm name.
    pub algorithm: String,
}

/// The unit a student answers in.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// As written (`ms`, `MiB`, `pages`, or empty).
    pub name: String,
    /// Base units (s, bytes, bytes/s, 1) per one of this unit.
    pub factor: f64,
    /// Which quantity, for reading answers with their own unit.
    pub quantity: Quantity,
}

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Seconds.
    Duration,
    /// Bytes.
    Size,
    /// Bytes per second.
    Bandwidth,
    /// A count or ratio.
    Plain,
}

/// A numeric question.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericQ {
    /// What is run.
    pub run: RunRef,
    /// Report field.
    pub metric: String,
    /// Answer unit.
    pub unit: Unit,
    /// Accepted relative error (fraction).
    pub tolerance: f64,
    /// Accepted absolute error, base units.
    pub tolerance_abs: f64,
    /// Said when the answer is too high.
    pub hint_high: Option<String>,
    /// Said when the answer is too low.
    pub hint_low: Option<String>,
}

/// A choice question.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceQ {
    /// The options.
    pub options: Vec<ChoiceOption>,
    /// How the right option is found.
    pub rule: ChoiceRule,
    /// Said when the answer is wrong.
    pub hint: Option<String>,
}

/// One option of a choice.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceOption {
    /// What the student answers (case does not matter).
    pub id: String,
    /// For people.
    pub label: String,
    /// The run this option stands for.
    pub run: RunRef,
    /// With [`ChoiceRule::When`]: the option is right when all these hold.
    pub when: Vec<Condition>,
}

/// How a choice's right option is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum ChoiceRule {
    /// The option whose run has the smallest value of the metric.
    Min(String),
    /// The option whose run has the largest value of the metric.
    Max(String),
    /// The first option whose conditions all hold.
    When,
}

/// A comparison of a report field with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Report field.
    pub metric: String,
    /// `<`, `<=`, `>`, `>=`, `==` or `!=`.
    pub op: String,
    /// Base units (before scaling).
    pub value: f64,
    /// Multiply the value by the scenario's `page_count` or `memory` (bytes).
    pub scale: Option<String>,
}

/// Search direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The lowest value that meets the criterion.
    Lowest,
    /// The highest value that meets it.
    Highest,
}

/// A parameter search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQ {
    /// What is run.
    pub run: RunRef,
    /// Scenario field varied (`--set` path).
    pub vary: String,
    /// Unit of a bare-number answer (may be empty for plain numbers).
    pub unit: String,
    /// Lowest or highest.
    pub direction: Direction,
    /// Relative step checked beyond the answer (0.1: 10% lower or higher).
    pub step: f64,
    /// All must hold at the answer, and not all one step beyond it.
    pub meets: Vec<Condition>,
}

/// An implement task.
#[derive(Debug, Clone, PartialEq)]
pub struct ImplementQ {
    /// Scenarios the algorithm runs on.
    pub scenarios: Vec<String>,
    /// Requirements on each run, besides the invariants.
    pub require: Vec<Condition>,
    /// Registered algorithms that do not count as the student's own (the shipped ones).
    pub forbid: Vec<String>,
    /// Said when a requirement is missed.
    pub hint: Option<String>,
}

impl Task {
    /// `numeric`, `choice`, `prediction`, `search` or `implement`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TaskKind::Numeric(_) => "numeric",
            TaskKind::Choice(_) => "choice",
            TaskKind::Prediction(_) => "prediction",
            TaskKind::Search(_) => "search",
            TaskKind::Implement(_) => "implement",
        }
    }

    /// What to write as the answer, for people (no answer revealed).
    pub fn answer_hint(&self) -> String {
        fn of(kind: &TaskKind) -> String {
            match kind {
                TaskKind::Numeric(q) if q.unit.name.is_empty() => "a number".into(),
                TaskKind::Numeric(q) => format!("a number in {u}, or a string with a unit such as \"12 {u}\"", u = q.unit.name),
                TaskKind::Choice(q) => {
                    format!("one of {}", q.options.iter().map(|o| format!("\"{}\"", o.id)).collect::<Vec<_>>().join(", "))
                }
                TaskKind::Prediction(inner) => format!("your prediction, before you run it: {}", of(inner)),
                TaskKind::Search(q) if q.unit.is_empty() => format!("a value of {}", q.vary),
                TaskKind::Search(q) => format!("a value of {} in {u}, or a string such as \"100 {u}\"", q.vary, u = q.unit),
                TaskKind::Implement(_) => "the registry name of your algorithm, as a string".into(),
            }
        }
        of(&self.kind)
    }

    /// The runs this task shows the student (scenario, algorithm), without revealing answers;
    /// for predictions these are what is locked until the prediction is in.
    pub fn runs(&self) -> Vec<RunRef> {
        fn of(kind: &TaskKind) -> Vec<RunRef> {
            match kind {
                TaskKind::Numeric(q) => vec![q.run.clone()],
                TaskKind::Choice(q) => {
                    let mut v: Vec<RunRef> = Vec::new();
                    for o in &q.options {
                        if !v.contains(&o.run) {
                            v.push(o.run.clone());
                        }
                    }
                    v
                }
                TaskKind::Prediction(inner) => of(inner),
                TaskKind::Search(q) => vec![q.run.clone()],
                TaskKind::Implement(_) => vec![],
            }
        }
        of(&self.kind)
    }
}

fn unit_of(name: &str) -> Option<Unit> {
    let n = name.trim();
    let plain = |factor: f64| Some(Unit { name: n.to_string(), factor, quantity: Quantity::Plain });
    match n {
        "" | "pages" | "rounds" | "faults" | "x" | "times" | "writes" => return plain(1.0),
        "%" => return plain(0.01),
        _ => {}
    }
    let one = format!("1 {n}");
    if let Ok(s) = one.parse::<Seconds>() {
        return Some(Unit { name: n.into(), factor: s.0, quantity: Quantity::Duration });
    }
    if let Ok(b) = one.parse::<ByteSize>() {
        return Some(Unit { name: n.into(), factor: b.0 as f64, quantity: Quantity::Size });
    }
    if let Ok(b) = one.parse::<Bandwidth>() {
        return Some(Unit { name: n.into(), factor: b.0, quantity: Quantity::Bandwidth });
    }
    None
}

/// Reads `text` (a number with a unit of `quantity`) into base units.
fn parse_quantity(text: &str, quantity: Quantity, unit: &Unit) -> Result<f64, String> {
    let t = text.trim();
    let r = match quantity {
        Quantity::Duration => t.parse::<Seconds>().map(|s| s.0).map_err(|e| e.to_string()),
        Quantity::Size => t.parse::<ByteSize>().map(|b| b.0 as f64).map_err(|e| e.to_string()),
        Quantity::Bandwidth => t.parse::<Bandwidth>().map(|b| b.0).map_err(|e| e.to_string()),
        Quantity::Plain => {
            let bare = t.strip_suffix(unit.name.as_str()).filter(|_| !unit.name.is_empty()).unwrap_or(t).trim();
            bare.replace('_', "").parse::<f64>().map(|v| v * unit.factor).map_err(|_| format!("'{t}' is not a number"))
        }
    };
    match r {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number")),
        Err(e) => Err(e),
    }
}

/// What a metric's value is, for reading condition values with units.
fn metric_quantity(m: &str) -> Quantity {
    if m.ends_with("_s") {
        Quantity::Duration
    } else if m.contains("bytes") {
        Quantity::Size
    } else {
        Quantity::Plain
    }
}

/// A metric's value for people, in its natural unit.
pub fn show_metric(m: &str, v: f64) -> String {
    match m {
        "converged" | "completed" | "verified" => return if v != 0.0 { "yes".into() } else { "no".into() },
        _ => {}
    }
    match metric_quantity(m) {
        Quantity::Duration if v.abs() < 1.0 && v != 0.0 => format!("{} ms", sig(v * 1e3)),
        Quantity::Duration => format!("{} s", sig(v)),
        Quantity::Size => {
            let mib = v / (1u64 << 20) as f64;
            if mib.abs() >= 1024.0 {
                format!("{} GiB", sig(mib / 1024.0))
            } else if mib.abs() >= 1.0 {
                format!("{} MiB", sig(mib))
            } else {
                format!("{} KiB", sig(v / 1024.0))
            }
        }
        _ => sig(v),
    }
}

/// A number with four significant digits (integers in full), trailing zeros dropped.
pub fn sig(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
    let decimals = (3 - digits).clamp(0, 9) as usize;
    let t = format!("{v:.decimals$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

impl Condition {
    /// The value compared against, for `scenario`.
    pub fn threshold(&self, scenario: &Scenario) -> f64 {
        match self.scale.as_deref() {
            Some("page_count") => self.value * scenario.page_count() as f64,
            Some("memory") => self.value * scenario.vm.memory.0 as f64,
            _ => self.value,
        }
    }

    /// Whether `v` satisfies the condition for `scenario`.
    pub fn holds(&self, v: f64, scenario: &Scenario) -> bool {
        let t = self.threshold(scenario);
        match self.op.as_str() {
            "<" => v < t,
            "<=" => v <= t,
            ">" => v > t,
            ">=" => v >= t,
            "==" => v == t,
            _ => v != t,
        }
    }

    /// `downtime_s <= 100 ms`, for people.
    pub fn describe(&self, scenario: &Scenario) -> String {
        let scaled = match self.scale.as_deref() {
            Some(s) => format!(" ({} x {s})", sig(self.value)),
            None => String::new(),
        };
        format!("{} {} {}{scaled}", self.metric, self.op, show_metric(&self.metric, self.threshold(scenario)))
    }
}

struct Loader<'a> {
    file: &'a str,
    scenarios: &'a BTreeMap<String, NamedScenario>,
}

impl Loader<'_> {
    fn err(&self, field: String, message: impl Into<String>) -> AssignmentError {
        AssignmentError::Field { file: self.file.to_string(), field, message: message.into() }
    }

    fn scenario(&self, at: &str, name: Option<&String>) -> Result<String, AssignmentError> {
        let name = name.ok_or_else(|| self.err(format!("{at}.scenario"), "missing: name one of the assignment's [scenarios]"))?;
        if !self.scenarios.contains_key(name) {
            return Err(self.err(
                format!("{at}.scenario"),
                format!("unknown scenario '{name}': accepted {}", self.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")),
            ));
        }
        Ok(name.clone())
    }

    fn algorithm(&self, at: &str, name: Option<&String>) -> Result<String, AssignmentError> {
        let name = name.ok_or_else(|| self.err(format!("{at}.algorithm"), "missing: name a registered algorithm"))?;
        if crate::algorithms::find(name).is_none() {
            return Err(self.err(
                format!("{at}.algorithm"),
                format!("unknown algorithm '{name}': accepted {}", crate::algorithms::names().join(", ")),
            ));
        }
        Ok(name.clone())
    }

    fn metric(&self, field: String, m: Option<&String>) -> Result<String, AssignmentError> {
        let m = m.ok_or_else(|| self.err(field.clone(), format!("missing: name a report field, one of {}", METRICS.join(", "))))?;
        if !METRICS.contains(&m.as_str()) {
            return Err(self.err(field, format!("'{m}' is not a numeric report field: accepted {}", METRICS.join(", "))));
        }
        Ok(m.clone())
    }

    fn conditions(&self, at: &str, list: &[ConditionFile]) -> Result<Vec<Condition>, AssignmentError> {
        let mut out = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let metric = self.metric(format!("{here}.metric"), Some(&c.metric))?;
            if !["<", "<=", ">", ">=", "==", "!="].contains(&c.op.as_str()) {
                return Err(self.err(format!("{here}.op"), format!("'{}' is not accepted: one of <, <=, >, >=, ==, !=", c.op)));
            }
            let value = match &c.value {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) if f.is_finite() => *f,
                toml::Value::Boolean(b) => f64::from(u8::from(*b)),
                toml::Value::String(s) => {
                    let q = metric_quantity(&metric);
                    let plain = Unit { name: String::new(), factor: 1.0, quantity: Quantity::Plain };
                    parse_quantity(s, q, &plain).map_err(|e| self.err(format!("{here}.value"), e))?
                }
                other => {
                    return Err(self.err(
                        format!("{here}.value"),
                        format!("{other} is not accepted: a finite number (base units), true/false, or a string such as \"100 ms\""),
                    ))
                }
            };
            if let Some(s) = &c.scale {
                if s != "page_count" && s != "memory" {
                    return Err(self.err(format!("{here}.scale"), format!("'{s}' is not accepted: page_count or memory")));
                }
            }
            out.push(Condition { metric, op: c.op.clone(), value, scale: c.scale.clone() });
        }
        Ok(out)
    }

    fn unit(&self, at: &str, u: Option<&String>) -> Result<Unit, AssignmentError> {
        let name = u.map(String::as_str).unwrap_or("");
        unit_of(name).ok_or_else(|| {
            self.err(
                format!("{at}.unit"),
                format!("'{name}' is not a unit: accepted a duration (s, ms, us), size (B, KiB, MiB, GiB), bandwidth (Mbit/s, Gbit/s), pages, %, or empty"),
            )
        })
    }

    /// Fields that are set but that `kind` does not read.
    fn unused(&self, at: &str, t: &TaskFile, kind: &str, used: &[&str]) -> Result<(), AssignmentError> {
        let set: [(&str, bool); 19] = [
            ("scenario", t.scenario.is_some()),
            ("algorithm", t.algorithm.is_some()),
            ("metric", t.metric.is_some()),
            ("unit", t.unit.is_some()),
            ("tolerance", t.tolerance.is_some()),
            ("tolerance_abs", t.tolerance_abs.is_some()),
            ("hint", t.hint.is_some()),
            ("hint_high", t.hint_high.is_some()),
            ("hint_low", t.hint_low.is_some()),
            ("options", t.options.is_some()),
            ("correct", t.correct.is_some()),
            ("vary", t.vary.is_some()),
            ("direction", t.direction.is_some()),
            ("step", t.step.is_some()),
            ("meets", t.meets.is_some()),
            ("scenarios", t.scenarios.is_some()),
            ("require", t.require.is_some()),
            ("forbid", t.forbid.is_some()),
            ("explain", false),
        ];
        for (name, is_set) in set {
            if is_set && !used.contains(&name) {
                return Err(self.err(format!("{at}.{name}"), format!("not used by a {kind} task: accepted here {}", used.join(", "))));
            }
        }
        Ok(())
    }

    fn numeric(&self, at: &str, t: &TaskFile) -> Result<NumericQ, AssignmentError> {
        let run = RunRef { scenario: self.scenario(at, t.scenario.as_ref())?, algorithm: self.algorithm(at, t.algorithm.as_ref())? };
        let metric = self.metric(format!("{at}.metric"), t.metric.as_ref())?;
        let unit = self.unit(at, t.unit.as_ref())?;
        let tolerance = t.tolerance.unwrap_or(if t.tolerance_abs.is_some() { 0.0 } else { 0.1 });
        if !(0.0..=10.0).contains(&tolerance) {
            return Err(
                self.err(format!("{at}.tolerance"), format!("{tolerance} is out of range: accepted a fraction from 0 to 10 (0.1 = 10%)"))
            );
        }
        let tolerance_abs = t.tolerance_abs.unwrap_or(0.0);
        if !(tolerance_abs >= 0.0 && tolerance_abs.is_finite()) {
            return Err(
                self.err(format!("{at}.tolerance_abs"), format!("{tolerance_abs} is out of range: accepted 0 or more, in the task's unit"))
            );
        }
        Ok(NumericQ {
            run,
            metric,
            tolerance,
            tolerance_abs: tolerance_abs * unit.factor,
            unit,
            hint_high: t.hint_high.clone(),
            hint_low: t.hint_low.clone(),
        })
    }

    fn choice(&self, at: &str, t: &TaskFile) -> Result<ChoiceQ, AssignmentError> {
        let files = t
            .options
            .as_ref()
            .filter(|o| o.len() >= 2)
            .ok_or_else(|| self.err(format!("{at}.options"), "missing: at least two options"))?;
        let rule = match t.correct.as_deref() {
            Some("min") => ChoiceRule::Min(self.metric(format!("{at}.metric"), t.metric.as_ref())?),
            Some("max") => ChoiceRule::Max(self.metric(format!("{at}.metric"), t.metric.as_ref())?),
            Some("when") => {
                if t.metric.is_some() {
                    return Err(
                        self.err(format!("{at}.metric"), "not used with correct = \"when\": each option's `when` conditions decide")
                    );
                }
                ChoiceRule::When
            }
            other => {
                return Err(self.err(
                    format!("{at}.correct"),
                    format!(
                        "{} is not accepted: \"min\" or \"max\" (of `metric`), or \"when\" (each option's conditions)",
                        other.map_or("missing".to_string(), |o| format!("'{o}'"))
                    ),
                ))
            }
        };
        let mut options = Vec::new();
        for (i, o) in files.iter().enumerate() {
            let here = format!("{at}.options[{i}]");
            let scenario = self.scenario(&here, o.scenario.as_ref().or(t.scenario.as_ref()))?;
            let algorithm = self.algorithm(&here, o.algorithm.as_ref().or(t.algorithm.as_ref()))?;
            let id = o.id.clone().or_else(|| o.algorithm.clone()).unwrap_or_else(|| o.label.clone());
            if id.trim().is_empty() {
                return Err(self.err(format!("{here}.id"), "empty: accepted a short word the student answers with"));
            }
            if options.iter().any(|x: &ChoiceOption| x.id.eq_ignore_ascii_case(&id)) {
                return Err(self.err(format!("{here}.id"), format!("'{id}' is used by two options: give each option its own id")));
            }
            let when = self.conditions(&format!("{here}.when"), &o.when)?;
            match (&rule, when.is_empty()) {
                (ChoiceRule::When, true) => {
                    return Err(self.err(format!("{here}.when"), "missing: with correct = \"when\" every option needs conditions"))
                }
                (ChoiceRule::Min(_) | ChoiceRule::Max(_), false) => {
                    return Err(self.err(format!("{here}.when"), "not used with correct = \"min\" or \"max\""))
                }
                _ => {}
            }
            options.push(ChoiceOption { id, label: o.label.clone(), run: RunRef { scenario, algorithm }, when });
        }
        Ok(ChoiceQ { options, rule, hint: t.hint.clone() })
    }

    fn task(&self, i: usize, t: &TaskFile) -> Result<Task, AssignmentError> {
        let at = format!("task '{}' (task[{i}])", t.id);
        let valid_id = !t.id.is_empty() && t.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            return Err(
                self.err(format!("task[{i}].id"), format!("'{}' is not accepted: letters, digits, - and _ (a TOML bare key)", t.id))
            );
        }
        const NUMERIC: &[&str] = &["scenario", "algorithm", "metric", "unit", "tolerance", "tolerance_abs", "hint_high", "hint_low"];
        const CHOICE: &[&str] = &["scenario", "algorithm", "metric", "options", "correct", "hint"];
        let kind = match t.kind.as_str() {
            "numeric" => {
                self.unused(&at, t, "numeric", NUMERIC)?;
                TaskKind::Numeric(self.numeric(&at, t)?)
            }
            "choice" => {
                self.unused(&at, t, "choice", CHOICE)?;
                TaskKind::Choice(self.choice(&at, t)?)
            }
            "prediction" => {
                if t.options.is_some() {
                    self.unused(&at, t, "prediction (choice)", CHOICE)?;
                    TaskKind::Prediction(Box::new(TaskKind::Choice(self.choice(&at, t)?)))
                } else {
                    self.unused(&at, t, "prediction (numeric)", NUMERIC)?;
                    TaskKind::Prediction(Box::new(TaskKind::Numeric(self.numeric(&at, t)?)))
                }
            }
            "search" => {
                self.unused(&at, t, "search", &["scenario", "algorithm", "vary", "unit", "direction", "step", "meets", "hint"])?;
                let run =
                    RunRef { scenario: self.scenario(&at, t.scenario.as_ref())?, algorithm: self.algorithm(&at, t.algorithm.as_ref())? };
                let vary =
                    t.vary.clone().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                        self.err(format!("{at}.vary"), "missing: a scenario field as --set takes it, e.g. link.bandwidth")
                    })?;
                // The field must exist: setting it to its own value must work.
                let base = &self.scenarios[&run.scenario].scenario;
                let tree = serde_json::to_value(base).expect("scenarios serialise");
                let exists = vary.split('.').try_fold(&tree, |node, part| node.get(part)).is_some() || vary.starts_with("params.");
                if !exists {
                    return Err(self.err(format!("{at}.vary"), format!("'{vary}' is not a field of scenario '{}': accepted a dotted path such as link.bandwidth or workload.write_rate", run.scenario)));
                }
                let unit = t.unit.clone().unwrap_or_default();
                let direction = match t.direction.as_deref() {
                    Some("lowest") => Direction::Lowest,
                    Some("highest") => Direction::Highest,
                    other => {
                        return Err(self.err(
                            format!("{at}.direction"),
                            format!(
                                "{} is not accepted: \"lowest\" or \"highest\"",
                                other.map_or("missing".to_string(), |o| format!("'{o}'"))
                            ),
                        ))
                    }
                };
                let step = t.step.unwrap_or(0.1);
                if !(step > 0.0 && step < 1.0) {
                    return Err(self.err(
                        format!("{at}.step"),
                        format!("{step} is out of range: accepted a fraction more than 0 and less than 1 (0.1 = 10%)"),
                    ));
                }
                let meets = self.conditions(&format!("{at}.meets"), t.meets.as_deref().unwrap_or_default())?;
                if meets.is_empty() {
                    return Err(self.err(
                        format!("{at}.meets"),
                        "missing: at least one condition, e.g. { metric = \"downtime_s\", op = \"<=\", value = \"100 ms\" }",
                    ));
                }
                TaskKind::Search(SearchQ { run, vary, unit, direction, step, meets })
            }
            "implement" => {
                self.unused(&at, t, "implement", &["scenarios", "require", "forbid", "hint"])?;
                let names = t
                    .scenarios
                    .clone()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| self.err(format!("{at}.scenarios"), "missing: at least one scenario name"))?;
                for (j, n) in names.iter().enumerate() {
                    self.scenario(&format!("{at}.scenarios[{j}]"), Some(n))?;
                }
                let require = self.conditions(&format!("{at}.require"), t.require.as_deref().unwrap_or_default())?;
                TaskKind::Implement(ImplementQ {
                    scenarios: names,
                    require,
                    forbid: t.forbid.clone().unwrap_or_default(),
                    hint: t.hint.clone(),
                })
            }
            other => {
                return Err(self.err(
                    format!("{at}.kind"),
                    format!("'{other}' is not a task kind: accepted numeric, choice, prediction, search, implement"),
                ))
            }
        };
        let points = t.points.unwrap_or(1.0);
        if !(points.is_finite() && points >= 0.0) {
            return Err(self.err(format!("{at}.points"), format!("{points} is out of range: accepted 0 or more")));
        }
        Ok(Task {
            id: t.id.clone(),
            question: t.question.trim().to_string(),
            points,
            explain: t.explain.clone().unwrap_or_default().trim().to_string(),
            kind,
        })
    }
}

impl Assignment {
    /// Parses and checks an assignment. `file` names it in errors; `load` returns the text of
    /// a scenario file named by `path = "..."` (the CLI resolves it relative to the assignment;
    /// the browser and bundled assignments have no files and return an error).
    pub fn from_toml_str(text: &str, file: &str, load: &dyn Fn(&str) -> Result<String, String>) -> Result<Assignment, AssignmentError> {
        let raw: AssignmentFile = toml::from_str(text)
            .map_err(|e| AssignmentError::Malformed { file: file.to_string(), message: crate::scenario::toml_syntax_message(text, &e) })?;
        let field = |field: &str, message: &str| AssignmentError::Field {
            file: file.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        };
        if raw.title.trim().is_empty() {
            return Err(field("title", "empty: give the assignment a title"));
        }
        if raw.tasks.is_empty() {
            return Err(field("task", "missing: at least one [[task]]"));
        }
        let mut scenarios = BTreeMap::new();
        for (name, s) in &raw.scenarios {
            let at = format!("scenarios.{name}");
            let scenario_err = |source| AssignmentError::Scenario { file: file.to_string(), scenario: name.clone(), source };
            let (base, origin) = match (&s.preset, &s.path, &s.scenario) {
                (Some(p), None, None) => {
                    let text = crate::presets::preset_text(p).ok_or_else(|| {
                        field(
                            &format!("{at}.preset"),
                            &format!(
                                "unknown preset '{p}': accepted {}",
                                crate::presets::PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                            ),
                        )
                    })?;
                    (text.to_string(), format!("preset {p}"))
                }
                (None, Some(path), None) => {
                    let text = load(path).map_err(|e| field(&format!("{at}.path"), &format!("cannot load '{path}': {e}")))?;
                    (text, format!("file {path}"))
                }
                (None, None, Some(table)) => {
                    (toml::to_string(table).map_err(|e| field(&format!("{at}.scenario"), &e.to_string()))?, "inline".to_string())
                }
                _ => return Err(field(&at, "give exactly one of preset = \"NAME\", path = \"FILE\" or a [scenarios.NAME.scenario] table")),
            };
            let scenario = Scenario::parse_with_overrides(&base, &s.set).map_err(scenario_err)?;
            scenario.validate().map_err(scenario_err)?;
            // Once through its own TOML: units print rounded (0.1 ms), so this is the scenario
            // that `livemig assignment scenario` prints and the playground's link rebuilds, bit
            // for bit.
            let scenario = Scenario::from_toml_str(&scenario.to_toml()).map_err(scenario_err)?;
            let origin = if s.set.is_empty() { origin } else { format!("{origin}, set {}", s.set.join(", ")) };
            scenarios.insert(
                name.clone(),
                NamedScenario { name: name.clone(), description: s.description.trim().to_string(), origin, scenario },
            );
        }
        let loader = Loader { file, scenarios: &scenarios };
        let mut tasks: Vec<Task> = Vec::new();
        for (i, t) in raw.tasks.iter().enumerate() {
            let task = loader.task(i, t)?;
            if tasks.iter().any(|x| x.id == task.id) {
                return Err(field(&format!("task[{i}].id"), &format!("'{}' is used by two tasks: each task needs its own id", task.id)));
            }
            tasks.push(task);
        }
        Ok(Assignment {
            name: file.to_string(),
            title: raw.title.trim().to_string(),
            author: raw.author,
            intro: raw.intro.trim().to_string(),
            scenarios: scenarios.into_values().collect(),
            tasks,
        })
    }

    /// The scenario called `name`.
    pub fn scenario(&self, name: &str) -> Option<&NamedScenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// The task called `id`.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// Total points.
    pub fn max_points(&self) -> f64 {
        self.tasks.iter().map(|t| t.points).sum()
    }

    /// An answers file to fill in: every task id with an empty answer, and a comment with the
    /// question and what to write.
    pub fn answers_template(&self) -> String {
        let mut out = format!(
            "# Answers to \"{}\" (assignment {}).\n# Fill in every answer, then grade them: livemig assignment check {} THIS_FILE\n# An empty answer (\"\") counts as not answered.\nassignment = {}\nstudent = \"\"\n\n[answers]\n",
            self.title,
            self.name,
            self.name,
            toml_string(&self.name)
        );
        for t in &self.tasks {
            let question = t.question.split_whitespace().collect::<Vec<_>>().join(" ");
            out += &format!(
                "\n# {} ({}, {} point{}): {}\n",
                t.id,
                t.kind_name(),
                sig(t.points),
                if t.points == 1.0 { "" } else { "s" },
                wrap(&question, 92, "#   ")
            );
            out += &format!("#   answer: {}\n{} = \"\"\n", t.answer_hint(), t.id);
        }
        out
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for w in text.split_whitespace() {
        if line > 0 && line + w.len() + 1 > width {
            out += "\n";
            out += indent;
            line = 0;
        } else if line > 0 {
            out += " ";
            line += 1;
        }
        out += w;
        line += w.len();
    }
    out
}

/// The bundled assignment called `name`, parsed and checked.
pub fn assignment(name: &str) -> Result<Assignment, AssignmentError> {
    let (_, text) = ASSIGNMENTS.iter().find(|a| a.0 == name).ok_or_else(|| AssignmentError::Unknown { name: name.to_string() })?;
    Assignment::from_toml_str(text, name, &|path| Err(format!("bundled assignments cannot read files (asked for '{path}')")))
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// One answer as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    /// A number (in the task's unit).
    Number(f64),
    /// A word, an option id, a value with a unit, an algorithm name.
    Text(String),
    /// true or false (accepted for yes/no choices).
    Bool(bool),
}

impl AnswerValue {
    /// As written, for people.
    pub fn shown(&self) -> String {
        match self {
            AnswerValue::Number(n) => sig(*n),
            AnswerValue::Text(t) => t.clone(),
            AnswerValue::Bool(b) => b.to_string(),
        }
    }

    fn is_blank(&self) -> bool {
        matches!(self, AnswerValue::Text(t) if t.trim().is_empty())
    }
}

/// A student's answers file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answers {
    /// The file's name, for errors.
    pub file: String,
    /// Who answered (may be empty).
    pub student: String,
    /// The assignment these answer, if the file says.
    pub assignment: Option<String>,
    /// Task id to answer.
    pub answers: BTreeMap<String, AnswerValue>,
}

impl Answers {
    /// Parses an answers file (`student`, `assignment`, `[answers]`); `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Answers, AnswersError> {
        let malformed = |message: String| AnswersError::Malformed { file: file.to_string(), message };
        let table: toml::Table = toml::from_str(text).map_err(|e| malformed(crate::scenario::toml_syntax_message(text, &e)))?;
        let mut a = Answers { file: file.to_string(), ..Answers::default() };
        for (key, value) in table {
            match (key.as_str(), value) {
                ("student", toml::Value::String(s)) => a.student = s,
                ("assignment", toml::Value::String(s)) => a.assignment = Some(s),
                ("answers", toml::Value::Table(t)) => {
                    for (task, v) in t {
                        let v = match v {
                            toml::Value::Integer(i) => AnswerValue::Number(i as f64),
                            toml::Value::Float(f) if f.is_finite() => AnswerValue::Number(f),
                            toml::Value::String(s) => AnswerValue::Text(s),
                            toml::Value::Boolean(b) => AnswerValue::Bool(b),
                            other => {
                                return Err(AnswersError::Answer {
                                    file: file.to_string(),
                                    task,
                                    message: format!("{other} is not accepted: a finite number, a string or true/false"),
                                })
                            }
                        };
                        a.answers.insert(task, v);
                    }
                }
                ("student" | "assignment", other) => return Err(malformed(format!("{key}: {other} is not accepted: a string"))),
                ("answers", _) => return Err(malformed("answers: not a table: write the answers under [answers]".into())),
                (other, _) => return Err(malformed(format!("unknown field '{other}': accepted student, assignment, [answers]"))),
            }
        }
        Ok(a)
    }

    /// Writes the answers file the CLI reads (what the browser downloads).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(a) = &self.assignment {
            out += &format!("assignment = {}\n", toml_string(a));
        }
        out += &format!("student = {}\n\n[answers]\n", toml_string(&self.student));
        for (task, v) in &self.answers {
            let value = match v {
                AnswerValue::Number(n) => toml::Value::Float(*n).to_string(),
                AnswerValue::Text(t) => toml_string(t),
                AnswerValue::Bool(b) => b.to_string(),
            };
            out += &format!("{task} = {value}\n");
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Grading
// ---------------------------------------------------------------------------------------------

/// The grade of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskGrade {
    /// Task id.
    pub id: String,
    /// Task kind.
    pub kind: String,
    /// Passed.
    pub passed: bool,
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max_points: f64,
    /// The answer, as given (None when not answered).
    pub given: Option<String>,
    /// The value computed now by the core, where there is one to show.
    pub expected: Option<String>,
    /// What went right or wrong, and what to check.
    pub feedback: String,
}

/// The grade of one answers file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// Assignment name.
    pub assignment: String,
    /// Assignment title.
    pub title: String,
    /// Student, as the answers file says.
    pub student: String,
    /// The answers file.
    pub file: String,
    /// Every task passed.
    pub passed: bool,
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max_points: f64,
    /// Per task, in the assignment's order.
    pub tasks: Vec<TaskGrade>,
}

/// Runs the core for an assignment's tasks, each (scenario, changes, algorithm) once.
struct Runner<'a> {
    a: &'a Assignment,
    cache: BTreeMap<(String, Vec<String>, String), Result<Report, String>>,
}

impl Runner<'_> {
    fn scenario(&self, name: &str, set: &[String]) -> Result<Scenario, ScenarioError> {
        let base = &self.a.scenario(name).expect("checked when the assignment was loaded").scenario;
        if set.is_empty() {
            Ok(base.clone())
        } else {
            let s = base.with_overrides(set)?;
            s.validate()?;
            Ok(s)
        }
    }

    fn report(&mut self, run: &RunRef, set: &[String]) -> Result<Report, String> {
        let key = (run.scenario.clone(), set.to_vec(), run.algorithm.clone());
        if let Some(r) = self.cache.get(&key) {
            return r.clone();
        }
        let r = self
            .scenario(&run.scenario, set)
            .map_err(|e| e.to_string())
            .and_then(|s| crate::simulate(&s, Some(&run.algorithm), TraceDetail::Summary).map(|r| r.report).map_err(|e| e.to_string()));
        self.cache.insert(key, r.clone());
        r
    }

    fn value(&mut self, run: &RunRef, set: &[String], m: &str) -> Result<f64, String> {
        let r = self.report(run, set).map_err(|e| format!("the run of {} on {} failed: {e}", run.algorithm, run.scenario))?;
        metric(&r, m).ok_or_else(|| format!("{} does not report {m} on {}", run.algorithm, run.scenario))
    }
}

fn ratio_words(given: f64, expected: f64) -> (bool, String) {
    let high = given > expected;
    if expected == 0.0 || given == 0.0 || given.signum() != expected.signum() {
        return (high, if high { "too high".into() } else { "too low".into() });
    }
    let r = if high { given / expected } else { expected / given };
    let words = if r >= 1.5 { format!("{:.1}x", r) } else { format!("{:.0}%", (r - 1.0) * 100.0) };
    (high, format!("{words} too {}", if high { "high" } else { "low" }))
}

fn read_number(task: &Task, q: &NumericQ, v: &AnswerValue, file: &str) -> Result<f64, AnswersError> {
    let err = |message: String| AnswersError::Answer { file: file.to_string(), task: task.id.clone(), message };
    match v {
        AnswerValue::Number(n) => Ok(n * q.unit.factor),
        // A bare number written as a string is in the task's unit too ("12" is 12 ms, not 12 s).
        AnswerValue::Text(t) if t.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
            Ok(t.trim().parse::<f64>().unwrap_or(0.0) * q.unit.factor)
        }
        AnswerValue::Text(t) => parse_quantity(t, q.unit.quantity, &q.unit)
            .map_err(|e| err(format!("{e}: this {} task takes {}", task.kind_name(), task.answer_hint()))),
        AnswerValue::Bool(b) => Err(err(format!("{b} is not accepted: this {} task takes {}", task.kind_name(), task.answer_hint()))),
    }
}

fn pick_option<'q>(task: &Task, q: &'q ChoiceQ, v: &AnswerValue, file: &str) -> Result<&'q ChoiceOption, AnswersError> {
    let text = match v {
        AnswerValue::Text(t) => t.trim().to_string(),
        AnswerValue::Bool(true) => "yes".into(),
        AnswerValue::Bool(false) => "no".into(),
        AnswerValue::Number(n) => sig(*n),
    };
    q.options.iter().find(|o| o.id.eq_ignore_ascii_case(&text)).ok_or_else(|| AnswersError::Answer {
        file: file.to_string(),
        task: task.id.clone(),
        message: format!(
            "'{}' is not one of the options: accepted {}",
            v.shown(),
            q.options.iter().map(|o| format!("\"{}\"", o.id)).collect::<Vec<_>>().join(", ")
        ),
    })
}

struct Verdict {
    passed: bool,
    expected: Option<String>,
    feedback: String,
}

impl Assignment {
    /// Grades `answers`: runs the core for every task now, and compares. An answer of the wrong
    /// type, or one for a task that does not exist, is an error and nothing is graded; a task
    /// without an answer fails.
    pub fn grade(&self, answers: &Answers) -> Result<Grade, AnswersError> {
        if let Some(a) = &answers.assignment {
            // Compare by file stem: the same assignment may be named by another path or URL.
            let stem = |s: &str| s.rsplit(['/', '\\']).next().unwrap_or(s).trim_end_matches(".toml").to_string();
            if stem(a) != stem(&self.name) {
                return Err(AnswersError::Malformed {
                    file: answers.file.clone(),
                    message: format!("assignment: these answers are for '{a}', not for '{}'", self.name),
                });
            }
        }
        if let Some(unknown) = answers.answers.keys().find(|k| self.task(k).is_none()) {
            return Err(AnswersError::Answer {
                file: answers.file.clone(),
                task: unknown.clone(),
                message: format!("no such task: accepted {}", self.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")),
            });
        }
        // Check every answer's type before running anything.
        for t in &self.tasks {
            if let Some(v) = answers.answers.get(&t.id).filter(|v| !v.is_blank()) {
                self.check_type(t, &t.kind, v, &answers.file)?;
            }
        }
        let mut runner = Runner { a: self, cache: BTreeMap::new() };
        let mut tasks = Vec::new();
        for t in &self.tasks {
            let given = answers.answers.get(&t.id).filter(|v| !v.is_blank());
            let verdict = match given {
                None => Verdict {
                    passed: false,
                    expected: None,
                    feedback: format!("Not answered: write {} as answers.{} = ... in the answers file.", t.answer_hint(), t.id),
                },
                Some(v) => self.grade_task(t, &t.kind, v, &mut runner, &answers.file)?,
            };
            let mut feedback = verdict.feedback;
            if given.is_some() && !t.explain.is_empty() {
                feedback += &format!(" Why: {}", t.explain.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            tasks.push(TaskGrade {
                id: t.id.clone(),
                kind: t.kind_name().to_string(),
                passed: verdict.passed,
                points: if verdict.passed { t.points } else { 0.0 },
                max_points: t.points,
                given: given.map(AnswerValue::shown),
                expected: verdict.expected,
                feedback,
            });
        }
        Ok(Grade {
            assignment: self.name.clone(),
            title: self.title.clone(),
            student: answers.student.clone(),
            file: answers.file.clone(),
            passed: tasks.iter().all(|t| t.passed),
            points: tasks.iter().map(|t| t.points).sum(),
            max_points: self.max_points(),
            tasks,
        })
    }

    fn check_type(&self, t: &Task, kind: &TaskKind, v: &AnswerValue, file: &str) -> Result<(), AnswersError> {
        let err = |message: String| AnswersError::Answer { file: file.to_string(), task: t.id.clone(), message };
        match kind {
            TaskKind::Numeric(q) => read_number(t, q, v, file).map(|_| ()),
            TaskKind::Choice(q) => pick_option(t, q, v, file).map(|_| ()),
            TaskKind::Prediction(inner) => self.check_type(t, inner, v, file),
            TaskKind::Search(q) => {
                search_value(q, v).map(|_| ()).map_err(|e| err(format!("{e}: this search task takes {}", t.answer_hint())))
            }
            TaskKind::Implement(_) => match v {
                AnswerValue::Text(_) => Ok(()),
                other => Err(err(format!("{} is not accepted: this implement task takes {}", other.shown(), t.answer_hint()))),
            },
        }
    }

    fn grade_task(&self, t: &Task, kind: &TaskKind, v: &AnswerValue, runner: &mut Runner<'_>, file: &str) -> Result<Verdict, AnswersError> {
        Ok(match kind {
            TaskKind::Numeric(q) => grade_numeric(t, q, v, runner, file, false)?,
            TaskKind::Choice(q) => grade_choice(t, q, v, runner, file, false)?,
            TaskKind::Prediction(inner) => match inner.as_ref() {
                TaskKind::Numeric(q) => grade_numeric(t, q, v, runner, file, true)?,
                TaskKind::Choice(q) => grade_choice(t, q, v, runner, file, true)?,
                _ => unreachable!("predictions are numeric or choice"),
            },
            TaskKind::Search(q) => grade_search(t, q, v, runner, file)?,
            TaskKind::Implement(q) => grade_implement(q, v, runner),
        })
    }
}

fn failed_run(e: String) -> Verdict {
    Verdict { passed: false, expected: None, feedback: format!("Cannot grade: {e}. Tell your lecturer: the assignment needs fixing.") }
}

fn grade_numeric(
    t: &Task,
    q: &NumericQ,
    v: &AnswerValue,
    runner: &mut Runner<'_>,
    file: &str,
    prediction: bool,
) -> Result<Verdict, AnswersError> {
    let given = read_number(t, q, v, file)?;
    let actual = match runner.value(&q.run, &[], &q.metric) {
        Ok(x) => x,
        Err(e) => return Ok(failed_run(e)),
    };
    let u = &q.unit;
    let show = |x: f64| if u.name.is_empty() { sig(x / u.factor) } else { format!("{} {}", sig(x / u.factor), u.name) };
    let tol = (q.tolerance * actual.abs()).max(q.tolerance_abs);
    let tol_words = match (q.tolerance > 0.0, q.tolerance_abs > 0.0) {
        (true, true) => format!("within {}% or {}", sig(q.tolerance * 100.0), show(q.tolerance_abs)),
        (false, true) => format!("within {}", show(q.tolerance_abs)),
        (true, false) => format!("within {}%", sig(q.tolerance * 100.0)),
        (false, false) => "exactly".to_string(),
    };
    let what = format!("{} of {} on {}", q.metric, q.run.algorithm, q.run.scenario);
    let yours = if prediction { "You predicted" } else { "Your answer is" };
    let expected = Some(show(actual));
    if (given - actual).abs() <= tol {
        return Ok(Verdict {
            passed: true,
            expected,
            feedback: format!(
                "Right: {yours} {}; the simulator measured {} for the {what} (accepted {tol_words}).",
                show(given),
                show(actual)
            ),
        });
    }
    let (high, words) = ratio_words(given, actual);
    let hint = if high { q.hint_high.clone() } else { q.hint_low.clone() };
    let hint = hint.map(|h| h.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_else(|| {
        let unit = if u.name.is_empty() { String::new() } else { format!(" (answers are in {})", u.name) };
        if high {
            format!("Check your unit{unit}, and whether you counted something {} does not include.", q.metric)
        } else {
            format!("Check your unit{unit}, and whether you left out part of the migration (a round, the final stop-and-copy, the CPU state, per-page headers).")
        }
    });
    Ok(Verdict {
        passed: false,
        expected,
        feedback: format!(
            "Not yet: {yours} {}, {words} against the {what}, which the simulator measured as {} (accepted {tol_words}). {hint}",
            show(given),
            show(actual)
        ),
    })
}

fn grade_choice(
    t: &Task,
    q: &ChoiceQ,
    v: &AnswerValue,
    runner: &mut Runner<'_>,
    file: &str,
    prediction: bool,
) -> Result<Verdict, AnswersError> {
    let chosen = pick_option(t, q, v, file)?;
    let mut evidence = Vec::new();
    let correct: Option<&ChoiceOption> = match &q.rule {
        ChoiceRule::Min(m) | ChoiceRule::Max(m) => {
            let mut best: Option<(f64, &ChoiceOption)> = None;
            for o in &q.options {
                let x = match runner.value(&o.run, &[], m) {
                    Ok(x) => x,
                    Err(e) => return Ok(failed_run(e)),
                };
                evidence.push(format!("{} {}", o.label, show_metric(m, x)));
                let better = match (&q.rule, best) {
                    (_, None) => true,
                    (ChoiceRule::Min(_), Some((b, _))) => x < b,
                    (_, Some((b, _))) => x > b,
                };
                if better {
                    best = Some((x, o));
                }
            }
            let m_words = format!("{m}: ");
            if let Some(first) = evidence.first_mut() {
                *first = format!("{m_words}{first}");
            }
            best.map(|b| b.1)
        }
        ChoiceRule::When => {
            let mut found = None;
            let mut shown_runs: Vec<(RunRef, String)> = Vec::new();
            for o in &q.options {
                let scenario = runner.scenario(&o.run.scenario, &[]).expect("checked");
                let mut all = true;
                for c in &o.when {
                    let x = match runner.value(&o.run, &[], &c.metric) {
                        Ok(x) => x,
                        Err(e) => return Ok(failed_run(e)),
                    };
                    all &= c.holds(x, &scenario);
                    let note = (o.run.clone(), format!("{} = {}", c.metric, show_metric(&c.metric, x)));
                    if !shown_runs.contains(&note) {
                        shown_runs.push(note);
                    }
                }
                if all && found.is_none() {
                    found = Some(o);
                }
            }
            evidence = shown_runs.into_iter().map(|(r, s)| format!("{} on {}: {s}", r.algorithm, r.scenario)).collect();
            found
        }
    };
    let Some(correct) = correct else {
        return Ok(failed_run(format!("no option of task '{}' is true for these runs ({})", t.id, evidence.join("; "))));
    };
    let yours = if prediction { "You predicted" } else { "You chose" };
    let measured = format!("The simulator measured {}.", evidence.join(", "));
    if correct.id == chosen.id {
        Ok(Verdict {
            passed: true,
            expected: Some(correct.label.clone()),
            feedback: format!("Right: {yours} \"{}\". {measured}", chosen.label),
        })
    } else {
        let hint = q.hint.as_ref().map(|h| format!(" {}", h.split_whitespace().collect::<Vec<_>>().join(" "))).unwrap_or_default();
        Ok(Verdict {
            passed: false,
            expected: Some(correct.label.clone()),
            feedback: format!("Not yet: {yours} \"{}\", but the runs say \"{}\". {measured}{hint}", chosen.label, correct.label),
        })
    }
}

/// The value a search answer gives: (number, unit text), e.g. (620, "Mbit/s").
fn search_value(q: &SearchQ, v: &AnswerValue) -> Result<(f64, String), String> {
    match v {
        AnswerValue::Number(n) if n.is_finite() => Ok((*n, q.unit.clone())),
        AnswerValue::Text(t) => {
            let t = t.trim();
            let end = t
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || c == '_' || ((c == '-' || c == '+') && i == 0) || (c == 'e' && i > 0)))
                .map_or(t.len(), |(i, _)| i);
            let number: f64 = t[..end].replace('_', "").parse().map_err(|_| format!("'{t}' does not start with a number"))?;
            let unit = t[end..].trim();
            Ok((number, if unit.is_empty() { q.unit.clone() } else { unit.to_string() }))
        }
        other => Err(format!("{} is not accepted", other.shown())),
    }
}

fn grade_search(t: &Task, q: &SearchQ, v: &AnswerValue, runner: &mut Runner<'_>, file: &str) -> Result<Verdict, AnswersError> {
    let err = |message: String| AnswersError::Answer { file: file.to_string(), task: t.id.clone(), message };
    let (x, unit) = search_value(q, v).map_err(|e| err(e.to_string()))?;
    let text = |x: f64| if unit.is_empty() { sig(x) } else { format!("{} {unit}", sig(x)) };
    // A whole number without a unit (a round count, a parameter) steps by at least 1.
    let whole = unit.is_empty() && x.fract() == 0.0;
    let beyond = match (q.direction, whole) {
        (Direction::Lowest, false) => x * (1.0 - q.step),
        (Direction::Highest, false) => x * (1.0 + q.step),
        (Direction::Lowest, true) => (x * (1.0 - q.step)).floor().min(x - 1.0),
        (Direction::Highest, true) => (x * (1.0 + q.step)).ceil().max(x + 1.0),
    };
    let set = |x: f64| vec![format!("{}={}", q.vary, text(x))];
    // The student's value must make a valid scenario.
    if let Err(e) = runner.scenario(&q.run.scenario, &set(x)) {
        return Err(err(format!("{} = {} is not accepted: {e}", q.vary, text(x))));
    }
    let check = |runner: &mut Runner<'_>, x: f64| -> Result<(bool, String), String> {
        let scenario = runner.scenario(&q.run.scenario, &set(x)).map_err(|e| e.to_string())?;
        let mut all = true;
        let mut parts = Vec::new();
        for c in &q.meets {
            let m = runner.value(&q.run, &set(x), &c.metric)?;
            let ok = c.holds(m, &scenario);
            all &= ok;
            parts.push(format!(
                "{} = {} ({} {})",
                c.metric,
                show_metric(&c.metric, m),
                if ok { "meets" } else { "misses" },
                c.describe(&scenario)
            ));
        }
        Ok((all, parts.join(", ")))
    };
    let (ok_at, at_words) = match check(runner, x) {
        Ok(r) => r,
        Err(e) => return Ok(failed_run(e)),
    };
    let dir_word = if q.direction == Direction::Lowest { "less" } else { "more" };
    let step_words = if whole { format!("{} {dir_word}", sig((beyond - x).abs())) } else { format!("{}% {dir_word}", sig(q.step * 100.0)) };
    let method = "(Checked by running the simulator at your value and one step beyond it, not against a stored number.)";
    if !ok_at {
        let hint = match q.direction {
            Direction::Lowest => "the lowest value that works is higher: try a larger value",
            Direction::Highest => "the highest value that works is lower: try a smaller value",
        };
        return Ok(Verdict {
            passed: false,
            expected: None,
            feedback: format!("Not yet: with {} = {} the run of {} gives {at_words}: {hint}. {method}", q.vary, text(x), q.run.algorithm),
        });
    }
    let beyond_ok = runner.scenario(&q.run.scenario, &set(beyond)).is_ok();
    let (ok_beyond, beyond_words) = if beyond_ok {
        match check(runner, beyond) {
            Ok(r) => r,
            Err(e) => return Ok(failed_run(e)),
        }
    } else {
        (false, "not a valid scenario".to_string())
    };
    if ok_beyond {
        let hint = match q.direction {
            Direction::Lowest => "a lower value works too: look lower",
            Direction::Highest => "a higher value works too: look higher",
        };
        return Ok(Verdict {
            passed: false,
            expected: None,
            feedback: format!(
                "Not yet: {} meets the criterion ({at_words}), but so does {} ({step_words}): {beyond_words}; {hint}. {method}",
                text(x),
                text(beyond),
            ),
        });
    }
    Ok(Verdict {
        passed: true,
        expected: None,
        feedback: format!(
            "Right: with {} = {} the run of {} gives {at_words}, and at {} ({step_words}) it gives {beyond_words}, so yours is the {} to within one step ({step_words}). {method}",
            q.vary,
            text(x),
            q.run.algorithm,
            text(beyond),
            if q.direction == Direction::Lowest { "lowest that works" } else { "highest that works" },
        ),
    })
}

fn grade_implement(q: &ImplementQ, v: &AnswerValue, runner: &mut Runner<'_>) -> Verdict {
    let name = v.shown().trim().to_string();
    if crate::algorithms::find(&name).is_none() {
        return Verdict {
            passed: false,
            expected: None,
            feedback: format!(
                "Not yet: there is no algorithm '{name}' in the registry. Add `pub mod your_file;` and one AlgorithmInfo entry with name = \"{name}\" to REGISTRY in core/src/algorithms/mod.rs (copy the student-template entry), rebuild, and check again. Registered now: {}.",
                crate::algorithms::names().join(", ")
            ),
        };
    }
    if q.forbid.iter().any(|f| f == &name) {
        return Verdict {
            passed: false,
            expected: None,
            feedback: format!("Not yet: '{name}' ships with LiveMig Lab, so it is not your own algorithm: copy core/src/algorithms/student_template.rs to a new file, register it under a new name, and give that name."),
        };
    }
    let mut passed = true;
    let mut parts = Vec::new();
    for sc in &q.scenarios {
        let scenario = runner.scenario(sc, &[]).expect("checked");
        let summary = crate::simulate(&scenario, Some(&name), TraceDetail::Summary);
        let pages = crate::simulate(&scenario, Some(&name), TraceDetail::Pages);
        let (summary, pages) = match (summary, pages) {
            (Ok(a), Ok(b)) => (a.report, b.report),
            (Err(e), _) | (_, Err(e)) => {
                passed = false;
                parts.push(format!("on {sc}: the run failed: {e}"));
                continue;
            }
        };
        let mut problems = Vec::new();
        if !summary.completed {
            problems.push(format!("it did not complete ({})", summary.stop_reason));
        } else if !summary.verified {
            problems.push(
                "the destination's memory differs from the guest's (not verified): a page written after it was sent was not sent again"
                    .to_string(),
            );
        }
        let round_pages: u64 = summary.per_round.iter().map(|r| r.pages_sent).sum();
        let round_bytes: u64 = summary.per_round.iter().map(|r| r.bytes_sent).sum();
        if round_pages != summary.pages_sent || round_bytes != summary.bytes_sent {
            problems.push("sends happened outside a round (call begin_round before sending and end_round after)".into());
        }
        if summary != pages {
            problems.push("the run is not deterministic (two runs of the same scenario differ)".into());
        }
        let mut met = Vec::new();
        for c in &q.require {
            match metric(&summary, &c.metric) {
                Some(x) if c.holds(x, &scenario) => {
                    met.push(format!("{} = {} (meets {})", c.metric, show_metric(&c.metric, x), c.describe(&scenario)))
                }
                Some(x) => problems.push(format!("{} = {} misses {}", c.metric, show_metric(&c.metric, x), c.describe(&scenario))),
                None => problems.push(format!("it reports no {}", c.metric)),
            }
        }
        if problems.is_empty() {
            parts.push(format!("on {sc}: completed, verified{}{}", if met.is_empty() { "" } else { ", " }, met.join(", ")));
        } else {
            passed = false;
            parts.push(format!("on {sc}: {}", problems.join("; ")));
        }
    }
    let hint = match (&q.hint, passed) {
        (Some(h), false) => format!(" {}", h.split_whitespace().collect::<Vec<_>>().join(" ")),
        _ => String::new(),
    };
    Verdict {
        passed,
        expected: None,
        feedback: format!("{} {name}: {}.{hint}", if passed { "Right:" } else { "Not yet:" }, parts.join(". ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(path: &str) -> Result<String, String> {
        Err(format!("no file {path}"))
    }

    const SMALL: &str = r#"
title = "test"
intro = "Some *Markdown*."

[scenarios.db]
preset = "write-hot-database"
set = ["vm.memory=64MiB", "workload.working_set=32MiB"]

[scenarios.idle]
description = "an idle VM"
set = ["params.student-template.live_rounds=0"]
[scenarios.idle.scenario]
name = "tiny-idle"
[scenarios.idle.scenario.vm]
memory = "16 MiB"

[[task]]
id = "downtime"
kind = "numeric"
question = "Downtime of Xen pre-copy on db?"
scenario = "db"
algorithm = "precopy-xen"
metric = "downtime_s"
unit = "ms"
hint_high = "Did you count the final round twice?"

[[task]]
id = "least"
kind = "choice"
question = "Which sends less data on db?"
scenario = "db"
metric = "bytes_sent"
correct = "min"
options = [{ label = "Xen pre-copy", algorithm = "precopy-xen" }, { label = "post-copy", algorithm = "postcopy" }]

[[task]]
id = "converges"
kind = "prediction"
question = "Will Xen pre-copy converge on idle?"
scenario = "idle"
algorithm = "precopy-xen"
correct = "when"
options = [
  { id = "yes", label = "yes", when = [{ metric = "converged", op = "==", value = true }] },
  { id = "no", label = "no", when = [{ metric = "converged", op = "==", value = false }] },
]

[[task]]
id = "bandwidth"
kind = "search"
question = "Lowest bandwidth at which the downtime of stop-and-copy is at most 500 ms?"
scenario = "idle"
algorithm = "student-template"
vary = "link.bandwidth"
unit = "Mbit/s"
direction = "lowest"
step = 0.1
meets = [{ metric = "downtime_s", op = "<=", value = "500 ms" }]

[[task]]
id = "mine"
kind = "implement"
question = "Implement it."
scenarios = ["db", "idle"]
require = [{ metric = "pages_sent", op = "<=", value = 3, scale = "page_count" }]
"#;

    fn small() -> Assignment {
        Assignment::from_toml_str(SMALL, "small.toml", &no_files).unwrap()
    }

    fn answers(text: &str) -> Answers {
        Answers::from_toml_str(text, "a.toml").unwrap()
    }

    fn report(a: &Assignment, sc: &str, alg: &str) -> Report {
        crate::simulate(&a.scenario(sc).unwrap().scenario, Some(alg), TraceDetail::Summary).unwrap().report
    }

    #[test]
    fn grades_numeric_answers_against_a_run_made_now_with_teaching_feedback() {
        let a = small();
        let d = report(&a, "db", "precopy-xen").downtime_s;
        let right = a.grade(&answers(&format!("[answers]\ndowntime = {}", d * 1e3 * 1.05))).unwrap();
        assert!(right.tasks[0].passed, "{:?}", right.tasks[0]);
        let as_text = a.grade(&answers(&format!("[answers]\ndowntime = \"{} s\"", d))).unwrap();
        assert!(as_text.tasks[0].passed, "{:?}", as_text.tasks[0]);
        let bare_text = a.grade(&answers(&format!("[answers]\ndowntime = \"{}\"", d * 1e3))).unwrap();
        assert!(bare_text.tasks[0].passed, "a bare number in a string is in the task's unit: {:?}", bare_text.tasks[0]);
        let high = a.grade(&answers(&format!("[answers]\ndowntime = {}", d * 1e3 * 3.0))).unwrap();
        let t = &high.tasks[0];
        assert!(!t.passed && t.points == 0.0);
        assert!(t.feedback.contains("3.0x too high") && t.feedback.contains("Did you count the final round twice?"), "{}", t.feedback);
        let low = a.grade(&answers(&format!("[answers]\ndowntime = {}", d * 1e3 * 0.8))).unwrap();
        assert!(low.tasks[0].feedback.contains("25% too low") && low.tasks[0].feedback.contains("left out"), "{}", low.tasks[0].feedback);
        // Unanswered tasks fail; the grade is not passed.
        assert!(!right.passed);
        assert!(right.tasks[1].feedback.starts_with("Not answered"));
        assert_eq!(right.max_points, 5.0);
    }

    #[test]
    fn choices_are_computed_from_the_runs() {
        let a = small();
        let xen = report(&a, "db", "precopy-xen").bytes_sent;
        let post = report(&a, "db", "postcopy").bytes_sent;
        let least = if xen < post { "precopy-xen" } else { "postcopy" };
        let other = if xen < post { "postcopy" } else { "precopy-xen" };
        let g = a.grade(&answers(&format!("[answers]\nleast = \"{least}\"\nconverges = true"))).unwrap();
        assert!(g.tasks[1].passed, "{:?}", g.tasks[1]);
        assert!(g.tasks[1].feedback.contains("bytes_sent: "), "{}", g.tasks[1].feedback);
        let converged = report(&a, "idle", "precopy-xen").converged;
        assert_eq!(g.tasks[2].passed, converged, "{:?}", g.tasks[2]);
        let g = a.grade(&answers(&format!("[answers]\nleast = \"{}\"\nconverges = \"NO\"", other.to_uppercase()))).unwrap();
        assert!(!g.tasks[1].passed && g.tasks[1].feedback.contains("but the runs say"), "{}", g.tasks[1].feedback);
        assert_eq!(g.tasks[2].passed, !converged);
        assert!(g.tasks[2].feedback.contains("You predicted"));
    }

    #[test]
    fn a_search_is_checked_by_running_at_the_value_and_one_step_below() {
        let a = small();
        // Stop-and-copy of a 16 MiB idle VM in 500 ms needs about 16 MiB * 8 / 0.5 s = 270 Mbit/s.
        let meets = |mbit: f64| {
            let s = a.scenario("idle").unwrap().scenario.with_overrides(&[format!("link.bandwidth={mbit} Mbit/s")]).unwrap();
            crate::simulate(&s, Some("student-template"), TraceDetail::Summary).unwrap().report.downtime_s <= 0.5
        };
        // Find the lowest passing value to within 1% by bisection, as a student might.
        let (mut lo, mut hi) = (10.0_f64, 10_000.0_f64);
        while hi / lo > 1.01 {
            let mid = (lo * hi).sqrt();
            if meets(mid) {
                hi = mid
            } else {
                lo = mid
            }
        }
        let g = a.grade(&answers(&format!("[answers]\nbandwidth = {hi}"))).unwrap();
        assert!(g.tasks[3].passed, "{}", g.tasks[3].feedback);
        assert!(g.tasks[3].feedback.contains("not against a stored number"));
        let g = a.grade(&answers(&format!("[answers]\nbandwidth = \"{} Gbit/s\"", hi * 2.0 / 1000.0))).unwrap();
        assert!(!g.tasks[3].passed && g.tasks[3].feedback.contains("a lower value works too"), "{}", g.tasks[3].feedback);
        let g = a.grade(&answers(&format!("[answers]\nbandwidth = {}", hi * 0.5))).unwrap();
        assert!(!g.tasks[3].passed && g.tasks[3].feedback.contains("try a larger value"), "{}", g.tasks[3].feedback);
        let e = a.grade(&answers("[answers]\nbandwidth = \"fast\"")).unwrap_err().to_string();
        assert!(e.starts_with("answers a.toml: answers.bandwidth: 'fast' does not start with a number"), "{e}");
        let e = a.grade(&answers("[answers]\nbandwidth = \"10 furlongs\"")).unwrap_err().to_string();
        assert!(e.contains("answers.bandwidth: link.bandwidth = 10 furlongs is not accepted"), "{e}");
    }

    #[test]
    fn an_implement_task_runs_the_named_algorithm_and_checks_invariants_and_requirements() {
        let a = small();
        let g = a.grade(&answers("[answers]\nmine = \"student-template\"")).unwrap();
        assert!(g.tasks[4].passed, "{}", g.tasks[4].feedback);
        assert!(g.tasks[4].feedback.contains("on db: completed, verified, pages_sent"), "{}", g.tasks[4].feedback);
        let g = a.grade(&answers("[answers]\nmine = \"my-precopy\"")).unwrap();
        assert!(!g.tasks[4].passed && g.tasks[4].feedback.contains("no algorithm 'my-precopy' in the registry"), "{}", g.tasks[4].feedback);
        // Demand-only post-copy never completes on a guest that leaves pages untouched.
        let g = a.grade(&answers("[answers]\nmine = \"postcopy-demand\"")).unwrap();
        assert!(!g.tasks[4].passed && g.tasks[4].feedback.contains("did not complete"), "{}", g.tasks[4].feedback);
        let tight = SMALL.replace("value = 3, scale", "value = 1, scale");
        let a = Assignment::from_toml_str(&tight, "tight.toml", &no_files).unwrap();
        let g = a.grade(&answers("[answers]\nmine = \"student-template\"")).unwrap();
        assert!(!g.tasks[4].passed && g.tasks[4].feedback.contains("misses pages_sent <="), "{}", g.tasks[4].feedback);
    }

    #[test]
    fn bad_answers_are_errors_naming_the_task_and_nothing_is_graded() {
        let a = small();
        let cases = [
            ("[answers]\ndowntime = true", "answers.downtime: true is not accepted: this numeric task takes a number in ms"),
            ("[answers]\ndowntime = \"12 parsecs\"", "answers.downtime: '12 parsecs' is not a duration"),
            ("[answers]\ndowntime = [1, 2]", "answers.downtime: [1, 2] is not accepted"),
            (
                "[answers]\nleast = \"quantum\"",
                "answers.least: 'quantum' is not one of the options: accepted \"precopy-xen\", \"postcopy\"",
            ),
            ("[answers]\nmine = 3", "answers.mine: 3 is not accepted: this implement task takes the registry name"),
            ("[answers]\ndowntme = 3", "answers.downtme: no such task: accepted downtime, least"),
            ("[answers\n", "answers a.toml: line 1"),
            ("studnet = \"x\"", "unknown field 'studnet'"),
            ("answers = 3", "answers: not a table"),
            ("assignment = \"other\"", "these answers are for 'other'"),
            ("assignment = \"labs/other.toml\"", "these answers are for 'labs/other.toml'"),
        ];
        for (text, needle) in cases {
            let e = Answers::from_toml_str(text, "a.toml").and_then(|x| a.grade(&x)).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?} gave {e:?}");
        }
        // The same assignment named by another path is accepted.
        for name in ["small.toml", "other/dir/small.toml", "https://example.org/small.toml", "small"] {
            a.grade(&answers(&format!("assignment = \"{name}\""))).unwrap();
        }
        // Blank answers (the template's) are unanswered, not errors, and fail.
        let g = a.grade(&answers(&a.answers_template().replace("student = \"\"", "student = \"Ada\""))).unwrap();
        assert_eq!(g.student, "Ada");
        assert!(g.tasks.iter().all(|t| !t.passed && t.given.is_none()), "{g:?}");
        assert_eq!(g.points, 0.0);
    }

    #[test]
    fn bad_assignments_name_the_task_and_field() {
        let cases = [
            (
                "algorithm = \"precopy-xen\"\nmetric = \"downtime_s\"",
                "algorithm = \"quantum\"\nmetric = \"downtime_s\"",
                "task 'downtime' (task[0]).algorithm: unknown algorithm 'quantum'",
            ),
            (
                "metric = \"downtime_s\"\nunit",
                "metric = \"colour\"\nunit",
                "task 'downtime' (task[0]).metric: 'colour' is not a numeric report field",
            ),
            (
                "scenario = \"db\"\nalgorithm = \"precopy-xen\"\nmetric = \"downtime_s\"",
                "scenario = \"dbx\"\nalgorithm = \"precopy-xen\"\nmetric = \"downtime_s\"",
                "task 'downtime' (task[0]).scenario: unknown scenario 'dbx': accepted db, idle",
            ),
            ("unit = \"ms\"", "unit = \"parsecs\"", "task 'downtime' (task[0]).unit: 'parsecs' is not a unit"),
            ("kind = \"numeric\"", "kind = \"essay\"", "task 'downtime' (task[0]).kind: 'essay' is not a task kind"),
            ("correct = \"min\"", "correct = \"best\"", "task 'least' (task[1]).correct: 'best' is not accepted"),
            ("vary = \"link.bandwidth\"", "vary = \"link.bandwith\"", "task 'bandwidth' (task[3]).vary: 'link.bandwith' is not a field"),
            ("direction = \"lowest\"", "direction = \"down\"", "task 'bandwidth' (task[3]).direction: 'down' is not accepted"),
            (
                "op = \"<=\", value = \"500 ms\"",
                "op = \"=<\", value = \"500 ms\"",
                "task 'bandwidth' (task[3]).meets[0].op: '=<' is not accepted",
            ),
            ("value = \"500 ms\"", "value = \"500 parsecs\"", "task 'bandwidth' (task[3]).meets[0].value: '500 parsecs' is not a duration"),
            (
                "scenarios = [\"db\", \"idle\"]",
                "scenarios = [\"db\", \"nope\"]",
                "task 'mine' (task[4]).scenarios[1].scenario: unknown scenario 'nope'",
            ),
            ("hint_high = \"Did", "hint = \"x\"\nhint_high = \"Did", "task 'downtime' (task[0]).hint: not used by a numeric task"),
            ("id = \"least\"", "id = \"downtime\"", "task[1].id: 'downtime' is used by two tasks"),
            ("id = \"least\"", "id = \"least one\"", "task[1].id: 'least one' is not accepted"),
            ("preset = \"write-hot-database\"", "preset = \"write-hot\"", "scenarios.db.preset: unknown preset 'write-hot'"),
            ("set = [\"vm.memory=64MiB\"", "set = [\"vm.memroy=64MiB\"", "scenarios.db: vm.memroy: unknown field"),
            ("description = \"an idle VM\"", "description = \"an idle VM\"\npath = \"idle.toml\"", "scenarios.idle: give exactly one of"),
            ("title = \"test\"", "title = \"test\"\ncolour = 1", "unknown field `colour`"),
            ("[[task]]\nid = \"least\"", "[[task]]\nid = \"least\"\nkind = \"choice\"\nkind = \"x\"", "duplicate key"),
        ];
        for (from, to, needle) in cases {
            assert!(SMALL.contains(from), "{from}");
            let e = Assignment::from_toml_str(&SMALL.replacen(from, to, 1), "small.toml", &no_files).unwrap_err().to_string();
            assert!(e.contains(needle), "{to:?} gave {e:?}");
            assert!(e.starts_with("assignment small.toml: "), "{e}");
        }
        let with_path = SMALL.replace(
            "[scenarios.idle.scenario]\nname = \"tiny-idle\"\n[scenarios.idle.scenario.vm]\nmemory = \"16 MiB\"",
            "path = \"idle.toml\"",
        );
        let e = Assignment::from_toml_str(&with_path, "small.toml", &no_files).unwrap_err().to_string();
        assert!(e.contains("scenarios.idle.path: cannot load 'idle.toml': no file idle.toml"), "{e}");
        for s in &small().scenarios {
            assert_eq!(Scenario::from_toml_str(&s.scenario.to_toml()).unwrap(), s.scenario, "{}", s.name);
        }
        let a = Assignment::from_toml_str(&with_path, "small.toml", &|p| {
            assert_eq!(p, "idle.toml");
            Ok("name = \"from-file\"\n[vm]\nmemory = \"16 MiB\"".into())
        })
        .unwrap();
        assert_eq!(a.scenario("idle").unwrap().scenario.name, "from-file");
        assert!(matches!(assignment("nope"), Err(AssignmentError::Unknown { .. })));
    }

    #[test]
    fn answers_round_trip_through_their_toml() {
        let mut a =
            Answers { file: "x".into(), student: "Ada \"the\" first".into(), assignment: Some("small.toml".into()), ..Answers::default() };
        a.answers.insert("downtime".into(), AnswerValue::Number(12.5));
        a.answers.insert("least".into(), AnswerValue::Text("postcopy".into()));
        a.answers.insert("converges".into(), AnswerValue::Bool(true));
        let back = Answers::from_toml_str(&a.to_toml(), "x").unwrap();
        assert_eq!(back, a);
        let g1 = small().grade(&a).unwrap();
        let g2 = small().grade(&back).unwrap();
        assert_eq!(g1, g2);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(sig(0.012345), "0.01235");
        assert_eq!(sig(123.456), "123.5");
        assert_eq!(sig(5.0), "5");
        assert_eq!(show_metric("downtime_s", 0.0934), "93.4 ms");
        assert_eq!(show_metric("bytes_sent", 3.0 * 1048576.0), "3 MiB");
        assert_eq!(show_metric("converged", 1.0), "yes");
        assert_eq!(ratio_words(3.0, 1.0).1, "3.0x too high");
        assert_eq!(ratio_words(0.8, 1.0).1, "25% too low");
    }
}
