//! Every shipped assignment: its reference answers pass every task and its typical wrong answers
//! fail every task, graded by running the core now (no stored answer key). The answers files are
//! `core/assignments/answers/NAME.reference.toml` and `NAME.wrong.toml`.

use livemig_core::assignment::{assignment, Answers, Assignment, ASSIGNMENTS};

fn answers_file(name: &str, which: &str) -> String {
    let path = format!("{}/assignments/answers/{name}.{which}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The shipped assignment, except that the student-algorithm's implement task is graded
/// without its `forbid` list for the reference answers (whose reference solution, Xen's
/// pre-copy, ships with the core).
fn for_reference(name: &str) -> Assignment {
    let text = ASSIGNMENTS.iter().find(|a| a.0 == name).unwrap().1;
    let without_forbid: String = text.lines().filter(|l| !l.starts_with("forbid = ")).collect::<Vec<_>>().join("\n");
    Assignment::from_toml_str(&without_forbid, name, &|p| Err(format!("no file {p}"))).unwrap()
}

#[test]
fn at_least_five_assignments_ship_and_each_has_several_kinds_of_task() {
    assert!(ASSIGNMENTS.len() >= 5);
    let mut kinds = std::collections::BTreeSet::new();
    for (name, _) in ASSIGNMENTS {
        let a = assignment(name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&a.name, name);
        assert!(a.tasks.len() >= 3, "{name}");
        kinds.extend(a.tasks.iter().map(|t| t.kind_name()));
        // The template lists every task, and grades as all unanswered.
        let blank = Answers::from_toml_str(&a.answers_template(), "template").unwrap();
        let g = a.grade(&blank).unwrap();
        assert!(g.tasks.iter().all(|t| !t.passed && t.feedback.starts_with("Not answered")), "{name}");
    }
    assert_eq!(kinds.len(), 5, "{kinds:?}");
}

#[test]
fn reference_answers_pass_every_task() {
    for (name, _) in ASSIGNMENTS {
        let a = for_reference(name);
        let answers = Answers::from_toml_str(&answers_file(name, "reference"), "reference").unwrap();
        let started = std::time::Instant::now();
        let g = a.grade(&answers).unwrap_or_else(|e| panic!("{e}"));
        println!("{name}: graded in {:.2} s", started.elapsed().as_secs_f64());
        for t in &g.tasks {
            assert!(t.passed, "{name}: reference answer to {} fails: {}", t.id, t.feedback);
            assert!(t.feedback.starts_with("Right"), "{}", t.feedback);
        }
        assert!(g.passed && g.points == g.max_points && g.tasks.len() == a.tasks.len());
    }
}

#[test]
fn wrong_answers_fail_every_task_with_feedback() {
    for (name, _) in ASSIGNMENTS {
        let a = assignment(name).unwrap();
        let answers = Answers::from_toml_str(&answers_file(name, "wrong"), "wrong").unwrap();
        let g = a.grade(&answers).unwrap_or_else(|e| panic!("{e}"));
        for t in &g.tasks {
            assert!(!t.passed, "{name}: wrong answer to {} passes: {}", t.id, t.feedback);
            assert!(t.feedback.starts_with("Not yet"), "{}", t.feedback);
            assert_eq!(t.points, 0.0);
        }
        assert!(!g.passed && g.points == 0.0);
    }
}

#[test]
fn a_shipped_algorithm_does_not_count_as_the_students_own() {
    let a = assignment("student-algorithm").unwrap();
    let answers = Answers::from_toml_str(&answers_file("student-algorithm", "reference"), "reference").unwrap();
    let g = a.grade(&answers).unwrap();
    let t = g.tasks.iter().find(|t| t.id == "my-algorithm").unwrap();
    assert!(!t.passed && t.feedback.contains("ships with LiveMig Lab"), "{}", t.feedback);
}

#[test]
fn a_changed_scenario_changes_the_expected_answer() {
    // The answer key is computed at grading time: the reference downtime no longer passes once
    // the lecturer makes the link ten times slower.
    let text = ASSIGNMENTS.iter().find(|a| a.0 == "precopy-convergence").unwrap().1;
    let slower = text.replacen(
        "set = [\"vm.memory=256MiB\", \"workload.working_set=128MiB\"]",
        "set = [\"vm.memory=256MiB\", \"workload.working_set=128MiB\", \"link.bandwidth=400Mbit/s\"]",
        1,
    );
    assert_ne!(slower, text);
    let a = Assignment::from_toml_str(&slower, "changed/precopy-convergence.toml", &|p| Err(p.to_string())).unwrap();
    let answers = Answers::from_toml_str(&answers_file("precopy-convergence", "reference"), "reference").unwrap();
    let g = a.grade(&answers).unwrap();
    let t = g.tasks.iter().find(|t| t.id == "downtime-1g").unwrap();
    assert!(!t.passed && t.feedback.contains("too low"), "{}", t.feedback);
}
