//! The Assignments view without the browser: where an assignment comes from, the student's
//! answers as typed, and grading them with the core exactly as `livemig assignment check` does.
//!
//! The page grades the answers file it would download: the typed answers become an
//! [`Answers`] document, which is written as TOML and read back before the core grades it, so a
//! downloaded file given to the CLI gets the same grade by construction.

use crate::share::{ScenarioSource, ShareState, View};
use livemig_core::assignment::{AnswerValue, Answers, Assignment, Grade, RunRef, TaskKind, ASSIGNMENTS};
use std::collections::{BTreeMap, BTreeSet};

/// Whether an `assignment=` link value names a file to fetch rather than a bundled assignment.
pub fn is_url(value: &str) -> bool {
    value.contains('/') || value.contains(':') || value.ends_with(".toml")
}

/// Loads a bundled assignment by name.
pub fn bundled(name: &str) -> Result<Assignment, String> {
    livemig_core::assignment::assignment(name).map_err(|e| e.to_string())
}

/// Checks the size of an input file the user picked (`what`: "assignment" or "answers"), before
/// it is read: at most [`livemig_core::scenario::MAX_INPUT_BYTES`] (16 MiB), the CLI's bound.
/// `bytes` is the browser's `File.size`. The error is one line naming the file and the bound.
pub fn check_input_file_size(what: &str, name: &str, bytes: f64) -> Result<(), String> {
    let max = livemig_core::scenario::MAX_INPUT_BYTES;
    if bytes.is_finite() && (0.0..=max as f64).contains(&bytes) {
        return Ok(());
    }
    Err(format!("{what} {name}: {bytes} bytes is too large: accepted a file of up to {} MiB", max >> 20))
}

/// Parses an assignment file's text (opened or fetched). Scenario files (`path = ...`) cannot be
/// read in the browser: the error says to inline them.
pub fn from_text(text: &str, name: &str) -> Result<Assignment, String> {
    Assignment::from_toml_str(text, name, &|path| {
        Err(format!("the browser cannot read the scenario file '{path}': inline it as [scenarios.NAME.scenario], or use a preset"))
    })
    .map_err(|e| e.to_string())
}

/// The names of the bundled assignments.
pub fn bundled_names() -> Vec<&'static str> {
    ASSIGNMENTS.iter().map(|a| a.0).collect()
}

/// What the student has typed and locked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    /// Student name.
    pub student: String,
    /// Task id to the text typed or the option chosen.
    pub inputs: BTreeMap<String, String>,
    /// Predictions locked in (their runs may now be shown).
    pub locked: BTreeSet<String>,
}

impl Draft {
    /// The inputs an answers file gives (to go on from a saved file): its predictions count as
    /// locked, since they were written down already. Answers for tasks `a` lacks are an error.
    pub fn from_answers_file(a: &Assignment, text: &str, file: &str) -> Result<Draft, String> {
        let answers = Answers::from_toml_str(text, file).map_err(|e| e.to_string())?;
        if let Some(unknown) = answers.answers.keys().find(|k| a.task(k).is_none()) {
            return Err(format!("answers {file}: answers.{unknown}: no such task in {}", a.name));
        }
        let mut d = Draft { student: answers.student.clone(), ..Draft::default() };
        for (id, v) in &answers.answers {
            let text = match v {
                AnswerValue::Number(n) => n.to_string(),
                AnswerValue::Text(t) => t.clone(),
                AnswerValue::Bool(true) => "yes".into(),
                AnswerValue::Bool(false) => "no".into(),
            };
            d.inputs.insert(id.clone(), text);
        }
        d.lock_answered(a);
        Ok(d)
    }

    /// The answers document these inputs make: numbers stay numbers, everything else is text;
    /// empty inputs are left out (unanswered).
    pub fn answers(&self, a: &Assignment) -> Answers {
        let mut answers = BTreeMap::new();
        for t in &a.tasks {
            let Some(text) = self.inputs.get(&t.id).map(|s| s.trim()).filter(|s| !s.is_empty()) else { continue };
            let numeric = matches!(&t.kind, TaskKind::Numeric(_) | TaskKind::Search(_))
                || matches!(&t.kind, TaskKind::Prediction(inner) if matches!(inner.as_ref(), TaskKind::Numeric(_)));
            let value = match text.parse::<f64>() {
                Ok(n) if numeric && n.is_finite() => AnswerValue::Number(n),
                _ => AnswerValue::Text(text.to_string()),
            };
            answers.insert(t.id.clone(), value);
        }
        Answers { file: "answers.toml".into(), student: self.student.trim().to_string(), assignment: Some(a.name.clone()), answers }
    }

    /// The answers file to hand in (what "Download answers" saves).
    pub fn answers_toml(&self, a: &Assignment) -> String {
        format!("# Answers to \"{}\", from the LiveMig Lab playground.\n{}", a.title, self.answers(a).to_toml())
    }

    /// Grades the answers file this draft downloads, as the CLI would.
    pub fn grade(&self, a: &Assignment) -> Result<Grade, String> {
        let text = self.answers_toml(a);
        let answers = Answers::from_toml_str(&text, "answers.toml").map_err(|e| e.to_string())?;
        a.grade(&answers).map_err(|e| e.to_string())
    }

    /// Whether task `id` is a prediction still waiting to be locked (its runs stay hidden).
    pub fn run_hidden(&self, a: &Assignment, id: &str) -> bool {
        a.task(id).is_some_and(|t| matches!(t.kind, TaskKind::Prediction(_))) && !self.locked.contains(id)
    }

    /// Locks every answered prediction (checking reveals the runs).
    pub fn lock_answered(&mut self, a: &Assignment) {
        for t in &a.tasks {
            if matches!(t.kind, TaskKind::Prediction(_)) && self.inputs.get(&t.id).is_some_and(|s| !s.trim().is_empty()) {
                self.locked.insert(t.id.clone());
            }
        }
    }
}

/// The link state that loads `run` of `a` into the playground (the Assignments view stays open).
pub fn share_for_run(a: &Assignment, run: &RunRef, share: &ShareState) -> Option<ShareState> {
    let s = a.scenario(&run.scenario)?;
    Some(ShareState {
        source: ScenarioSource::Inline(s.scenario.to_toml()),
        overrides: Vec::new(),
        algorithm: Some(run.algorithm.clone()),
        seed: None,
        step: None,
        view: View::Assignments,
        ..share.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_file_over_16_mib_is_refused_before_it_is_read() {
        assert_eq!(check_input_file_size("answers", "a.toml", (16 << 20) as f64), Ok(()));
        assert_eq!(
            check_input_file_size("assignment", "big.toml", (17 << 20) as f64),
            Err("assignment big.toml: 17825792 bytes is too large: accepted a file of up to 16 MiB".to_string())
        );
    }

    #[test]
    fn every_bundled_assignment_loads_and_a_path_is_refused_with_advice() {
        for name in bundled_names() {
            bundled(name).unwrap();
        }
        let text = "title = \"x\"\nintro = \"y\"\n[scenarios.s]\npath = \"s.toml\"\n[[task]]\nid = \"t\"\nkind = \"numeric\"\nquestion = \"?\"\nscenario = \"s\"\nalgorithm = \"precopy\"\nmetric = \"downtime_s\"\n";
        let e = from_text(text, "mine.toml").unwrap_err();
        assert!(e.contains("mine.toml") && e.contains("scenarios.s.path") && e.contains("inline it"), "{e}");
        assert!(is_url("https://example.org/a.toml") && is_url("a.toml") && !is_url("tsmc-data-sent"));
    }

    #[test]
    fn the_page_grades_its_download_exactly_as_the_core_grades_the_file() {
        let a = bundled("tsmc-data-sent").unwrap();
        let mut d = Draft { student: "Ada".into(), ..Draft::default() };
        d.inputs.insert("less-data-high".into(), "TSMC".into());
        d.inputs.insert("tsmc-duplicates".into(), "8192".into());
        d.inputs.insert("tsmc-downtime".into(), "100 ms".into());
        d.inputs.insert("xen-converges-high".into(), "  ".into());
        let g = d.grade(&a).unwrap();
        let file = Answers::from_toml_str(&d.answers_toml(&a), "answers.toml").unwrap();
        assert_eq!(g, a.grade(&file).unwrap());
        let by_id = |id: &str| g.tasks.iter().find(|t| t.id == id).unwrap();
        assert!(by_id("less-data-high").passed);
        assert!(by_id("tsmc-duplicates").passed);
        assert!(!by_id("tsmc-downtime").passed && by_id("tsmc-downtime").feedback.contains("too high"));
        assert!(by_id("xen-converges-high").given.is_none());
        assert_eq!(g.student, "Ada");
        // A wrong type is an error message, not a grade.
        d.inputs.insert("less-data-high".into(), "quantum".into());
        assert!(d.grade(&a).unwrap_err().contains("answers.less-data-high"));
    }

    #[test]
    fn a_saved_answers_file_reopens_with_the_same_grade() {
        let a = bundled("precopy-convergence").unwrap();
        let mut d = Draft { student: "Ada".into(), ..Draft::default() };
        d.inputs.insert("downtime-1g".into(), "10.37".into());
        d.inputs.insert("converges-100m".into(), "no".into());
        d.inputs.insert("lowest-bandwidth".into(), "365 Mbit/s".into());
        let back = Draft::from_answers_file(&a, &d.answers_toml(&a), "saved.toml").unwrap();
        assert!(back.locked.contains("converges-100m"));
        assert_eq!(back.answers(&a), d.answers(&a));
        assert!(Draft::from_answers_file(&a, "[answers]\nnope = 1", "x.toml").unwrap_err().contains("answers.nope"));
    }

    #[test]
    fn predictions_hide_their_runs_until_locked() {
        let a = bundled("tsmc-data-sent").unwrap();
        let mut d = Draft::default();
        assert!(d.run_hidden(&a, "less-data-low"));
        assert!(!d.run_hidden(&a, "less-data-high"));
        d.lock_answered(&a);
        assert!(d.run_hidden(&a, "less-data-low"), "an unanswered prediction does not lock");
        d.inputs.insert("less-data-low".into(), "tsmc".into());
        d.lock_answered(&a);
        assert!(!d.run_hidden(&a, "less-data-low"));
        let run = &a.task("less-data-low").unwrap().runs()[0];
        let share = share_for_run(&a, run, &ShareState::default()).unwrap();
        let s = share.scenario().unwrap();
        assert_eq!(s, {
            let mut x = a.scenario(&run.scenario).unwrap().scenario.clone();
            x.migration.algorithm = run.algorithm.clone();
            x
        });
        assert_eq!(share.view, View::Assignments);
    }
}
