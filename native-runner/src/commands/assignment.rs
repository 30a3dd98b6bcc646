//! `livemig assignment`: list, show, template, scenario and check (grade) classroom assignments.
//!
//! Everything about an assignment (parsing, checking, grading, feedback) is in
//! `livemig_core::assignment`; this file only finds the files, prints, and sets the exit
//! status: 0 when every answers file passes every task, 1 when a task fails, 2 for bad input (a
//! malformed assignment or answers file, an unknown task, scenario or algorithm, an answer of
//! the wrong type).

use crate::input::{bad, read_input};
use crate::output::print;
use livemig_core::assignment::{assignment, Answers, Assignment, Grade, ASSIGNMENTS};
use std::path::Path;

/// `livemig assignment` subcommands.
#[derive(clap::Subcommand)]
pub enum AssignmentCommand {
    /// List the bundled assignments
    List,
    /// Print an assignment's text, scenarios and tasks (no answers)
    Show {
        /// Bundled assignment name (see `livemig assignment list`) or assignment file (TOML)
        assignment: String,
    },
    /// Print an answers file to fill in: every task id, with its question and what to write
    Template {
        /// Bundled assignment name or assignment file
        assignment: String,
    },
    /// Print one of an assignment's scenarios as a scenario file
    Scenario {
        /// Bundled assignment name or assignment file
        assignment: String,
        /// The scenario's name in the assignment
        scenario: String,
    },
    /// Grade answers files: per task pass or fail with feedback; exit 0 only if all pass
    Check {
        /// Bundled assignment name or assignment file
        assignment: String,
        /// Answers files (TOML); several grade a whole class
        #[arg(required = true)]
        answers: Vec<String>,
        /// Print JSON: one grade per answers file, in order
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `livemig assignment` subcommand; `check` exits 1 unless every answers file passes
/// every task.
pub fn run(command: AssignmentCommand) -> anyhow::Result<()> {
    match command {
        AssignmentCommand::List => print(&list()?),
        AssignmentCommand::Show { assignment } => print(&show(&load(&assignment)?)),
        AssignmentCommand::Template { assignment } => print(&load(&assignment)?.answers_template()),
        AssignmentCommand::Scenario { assignment, scenario: name } => print(&scenario(&load(&assignment)?, &name)?),
        AssignmentCommand::Check { assignment, answers, json } => {
            let a = load(&assignment)?;
            let (text, any_bad, any_failed) = check(&a, &answers, json)?;
            print(&text)?;
            if any_bad {
                return Err(bad("ANSWERS: some answers files could not be graded (see above)"));
            }
            match (any_failed, answers.len()) {
                (0, _) => {}
                (_, 1) => anyhow::bail!("not every task passed"),
                (n, total) => anyhow::bail!("{n} of {total} answers files did not pass every task"),
            }
            Ok(())
        }
    }
}

/// Loads NAME (bundled) or FILE; a scenario `path` is read relative to the assignment file.
pub fn load(arg: &str) -> anyhow::Result<Assignment> {
    let path = Path::new(arg);
    // Anything at the path (a file, a link, a device) is what the user meant, not a name.
    if path.symlink_metadata().is_ok() {
        let text = read_input("ASSIGNMENT", path).map_err(bad)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let loader = move |p: &str| read_input("scenario file", &dir.join(p));
        return Assignment::from_toml_str(&text, arg, &loader).map_err(|e| bad(e.to_string()));
    }
    if ASSIGNMENTS.iter().any(|a| a.0 == arg) {
        return assignment(arg).map_err(|e| bad(e.to_string()));
    }
    Err(bad(format!(
        "ASSIGNMENT: no file '{arg}' and no bundled assignment of that name: accepted a TOML file or one of {}",
        ASSIGNMENTS.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
    )))
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| if l.trim().is_empty() { String::new() } else { format!("{by}{l}") }).collect::<Vec<_>>().join("\n")
}

/// Wraps `text` at `width` columns, each line after the first indented by `by`.
fn wrap(text: &str, width: usize, by: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for w in text.split_whitespace() {
        if col > 0 && col + 1 + w.chars().count() > width {
            out += "\n";
            out += by;
            col = 0;
        } else if col > 0 {
            out += " ";
            col += 1;
        }
        out += w;
        col += w.chars().count();
    }
    out
}

/// `livemig assignment list`.
pub fn list() -> anyhow::Result<String> {
    let mut out = String::new();
    for (name, _) in ASSIGNMENTS {
        let a = assignment(name)?;
        out += &format!("{name:<22} {} ({} tasks)\n", a.title, a.tasks.len());
    }
    Ok(out)
}

/// `livemig assignment show`: the text and the tasks, no answers.
pub fn show(a: &Assignment) -> String {
    let n = a.tasks.len();
    let points = livemig_core::units::significant(a.max_points());
    let mut out = format!(
        "{}\n{}\n(assignment {}{}; {n} task{}, {points} point{})\n\n{}\n\nScenarios\n",
        a.title,
        "=".repeat(a.title.chars().count()),
        a.name,
        if a.author.is_empty() { String::new() } else { format!(", by {}", a.author) },
        if n == 1 { "" } else { "s" },
        if a.max_points() == 1.0 { "" } else { "s" },
        a.intro
    );
    for s in &a.scenarios {
        out += &format!("  {:<12} {}\n", s.name, if s.description.is_empty() { &s.scenario.name } else { &s.description });
        out += &format!("  {:<12} {}\n", "", wrap(&s.origin, 90, &format!("  {:<12} ", "")));
        out += &format!(
            "  {:<12} try: livemig assignment scenario {} {} > {}.toml && livemig simulate {}.toml -a ALGORITHM\n",
            "", a.name, s.name, s.name, s.name
        );
    }
    out += "\nTasks\n";
    for (i, t) in a.tasks.iter().enumerate() {
        let p = livemig_core::units::significant(t.points);
        out += &format!("\n  {}. {} ({}, {p} point{})\n", i + 1, t.id, t.kind_name(), if t.points == 1.0 { "" } else { "s" });
        out += &format!("{}\n", indent(&t.question, "     "));
        let runs = t.runs();
        if !runs.is_empty() {
            let r: Vec<String> = runs.iter().map(|r| format!("{} on {}", r.algorithm, r.scenario)).collect();
            out += &format!("     runs: {}\n", wrap(&r.join(", "), 90, "           "));
        }
        out += &format!("     answer: {}\n", wrap(&t.answer_hint(), 90, "             "));
    }
    out += &format!(
        "\nAnswer in a file (`livemig assignment template {}` prints one to fill in), then\n`livemig assignment check {} ANSWERS.toml`.\n",
        a.name, a.name
    );
    out
}

/// `livemig assignment scenario`: one scenario's TOML.
pub fn scenario(a: &Assignment, name: &str) -> anyhow::Result<String> {
    let s = a.scenario(name).ok_or_else(|| {
        bad(format!(
            "SCENARIO: unknown scenario '{name}' in {}: accepted {}",
            a.name,
            a.scenarios.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    Ok(s.scenario.to_toml())
}

fn grade_text(g: &Grade) -> String {
    let who = if g.student.is_empty() { String::new() } else { format!(" ({})", g.student) };
    let mut out = format!(
        "{}{who}: {} of {} points, {}\n",
        g.file,
        livemig_core::units::significant(g.points),
        livemig_core::units::significant(g.max_points),
        if g.passed { "every task passed" } else { "not every task passed" }
    );
    for t in &g.tasks {
        out += &format!("  {} {:<20} {}\n", if t.passed { "PASS" } else { "FAIL" }, t.id, wrap(&t.feedback, 96, &" ".repeat(28)));
    }
    out
}

/// `livemig assignment check`: grades each answers file; returns the text (or JSON) to print,
/// whether any file was bad input, and how many graded files did not pass every task.
pub fn check(a: &Assignment, files: &[String], json: bool) -> anyhow::Result<(String, bool, usize)> {
    let mut results: Vec<Result<Grade, String>> = Vec::new();
    for f in files {
        let graded = read_input("ANSWERS", Path::new(f))
            .and_then(|text| Answers::from_toml_str(&text, f).map_err(|e| e.to_string()))
            .and_then(|answers| a.grade(&answers).map_err(|e| e.to_string()));
        results.push(graded);
    }
    // One answers file that cannot be graded is bad input, reported on its own line.
    if let [Err(e)] = results.as_slice() {
        return Err(bad(e.clone()));
    }
    let any_bad = results.iter().any(Result::is_err);
    let any_failed = results.iter().filter(|r| r.as_ref().is_ok_and(|g| !g.passed)).count();
    if json {
        let list: Vec<serde_json::Value> = results
            .iter()
            .zip(files)
            .map(|(r, f)| match r {
                Ok(g) => serde_json::to_value(g).expect("grades serialise"),
                Err(e) => serde_json::json!({ "file": f, "error": e }),
            })
            .collect();
        return Ok((format!("{}\n", serde_json::to_string_pretty(&list)?), any_bad, any_failed));
    }
    let mut out = String::new();
    for r in &results {
        match r {
            Ok(g) => out += &format!("{}\n", grade_text(g)),
            Err(e) => eprintln!("livemig: {e}"),
        }
    }
    if files.len() > 1 {
        let mut t = crate::output::table(&["answers file", "student", "points", "tasks passed", "result"]);
        for (r, f) in results.iter().zip(files) {
            match r {
                Ok(g) => t.add_row(vec![
                    f.clone(),
                    g.student.clone(),
                    format!("{} / {}", livemig_core::units::significant(g.points), livemig_core::units::significant(g.max_points)),
                    format!("{} / {}", g.tasks.iter().filter(|t| t.passed).count(), g.tasks.len()),
                    if g.passed { "pass".to_string() } else { "fail".to_string() },
                ]),
                Err(_) => t.add_row(vec![f.clone(), String::new(), String::new(), String::new(), "bad input (see above)".to_string()]),
            };
        }
        out += &format!("{} ({}): {} answers files\n{t}\n", a.title, a.name, files.len());
    }
    Ok((out, any_bad, any_failed))
}
