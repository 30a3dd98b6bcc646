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

mod answers;
mod format;
mod grading;
mod quantities;
#[cfg(test)]
mod tests;

use crate::units::significant;
pub use answers::{AnswerValue, Answers};
pub use grading::{Grade, TaskGrade, Tolerance};
pub use quantities::show_metric;

use crate::scenario::{Scenario, ScenarioError};
use serde::{Deserialize, Serialize};

/// The assignments shipped with the core, `(name, TOML text)`.
pub const ASSIGNMENTS: &[(&str, &str)] = &[
    ("precopy-convergence", include_str!("../../assignments/precopy-convergence.toml")),
    ("postcopy-faults", include_str!("../../assignments/postcopy-faults.toml")),
    ("mecom-link-speed", include_str!("../../assignments/mecom-link-speed.toml")),
    ("tsmc-data-sent", include_str!("../../assignments/tsmc-data-sent.toml")),
    ("task-guided-timing", include_str!("../../assignments/task-guided-timing.toml")),
    ("student-algorithm", include_str!("../../assignments/student-algorithm.toml")),
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
pub use crate::units::Quantity;

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

/// The bundled assignment called `name`, parsed and checked.
pub fn assignment(name: &str) -> Result<Assignment, AssignmentError> {
    let (_, text) = ASSIGNMENTS.iter().find(|a| a.0 == name).ok_or_else(|| AssignmentError::Unknown { name: name.to_string() })?;
    Assignment::from_toml_str(text, name, &|path| Err(format!("bundled assignments cannot read files (asked for '{path}')")))
}
