//! Tests of loading, answering and grading assignments.

use super::grading::ratio_words;
use super::*;
use crate::trace::TraceDetail;
use crate::Report;

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
        ("[answers]\nleast = \"quantum\"", "answers.least: 'quantum' is not one of the options: accepted \"precopy-xen\", \"postcopy\""),
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
    assert_eq!(show_metric("downtime_s", 0.0934), "93.4 ms");
    assert_eq!(show_metric("bytes_sent", 3.0 * 1048576.0), "3 MiB");
    assert_eq!(show_metric("converged", 1.0), "yes");
    assert_eq!(ratio_words(3.0, 1.0).1, "3.0x too high");
    assert_eq!(ratio_words(0.8, 1.0).1, "25% too low");
}

#[test]
fn one_tolerance_rule_for_numbers() {
    let rel = Tolerance::relative(0.1);
    assert!(rel.accepts(109.0, 100.0) && rel.accepts(91.0, 100.0) && !rel.accepts(111.0, 100.0));
    let abs = Tolerance::absolute(2.0);
    assert!(abs.accepts(1.0, 0.0) && !abs.accepts(2.5, 0.0));
    // Whichever is larger: 10% of 5 is 0.5, the absolute 2 wins.
    let both = Tolerance { relative: 0.1, absolute: 2.0 };
    assert!(both.accepts(6.9, 5.0) && !both.accepts(7.1, 5.0));
    assert!(!rel.accepts(f64::NAN, 100.0) && !Tolerance::absolute(f64::INFINITY).accepts(f64::INFINITY, 1.0));
}
