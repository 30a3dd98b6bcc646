//! Grading: every task run through the core now, and the answer compared, with feedback meant
//! to teach.

use super::answers::*;
use super::quantities::*;
use super::*;
use crate::experiment::metric;
use crate::report::Report;
use crate::trace::TraceDetail;
use std::collections::BTreeMap;

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

pub(super) fn ratio_words(given: f64, expected: f64) -> (bool, String) {
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
        AnswerValue::Number(n) => significant(*n),
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
    let show = |x: f64| if u.name.is_empty() { significant(x / u.factor) } else { format!("{} {}", significant(x / u.factor), u.name) };
    let tolerance = Tolerance { relative: q.tolerance, absolute: q.tolerance_abs };
    let tol_words = match (q.tolerance > 0.0, q.tolerance_abs > 0.0) {
        (true, true) => format!("within {}% or {}", significant(q.tolerance * 100.0), show(q.tolerance_abs)),
        (false, true) => format!("within {}", show(q.tolerance_abs)),
        (true, false) => format!("within {}%", significant(q.tolerance * 100.0)),
        (false, false) => "exactly".to_string(),
    };
    let what = format!("{} of {} on {}", q.metric, q.run.algorithm, q.run.scenario);
    let yours = if prediction { "You predicted" } else { "Your answer is" };
    let expected = Some(show(actual));
    if tolerance.accepts(given, actual) {
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
    let text = |x: f64| if unit.is_empty() { significant(x) } else { format!("{} {unit}", significant(x)) };
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
    let step_words = if whole {
        format!("{} {dir_word}", significant((beyond - x).abs()))
    } else {
        format!("{}% {dir_word}", significant(q.step * 100.0))
    };
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

/// How close a numeric answer must come to the measured value: within a fraction of it or
/// within an absolute amount, whichever is larger. The one rule for numbers, used by the
/// assignments' numeric and prediction tasks and by the web's lessons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Accepted error as a fraction of the measured value (0.1: within 10%).
    pub relative: f64,
    /// Accepted error in the value's own units.
    pub absolute: f64,
}

impl Tolerance {
    /// Within `fraction` of the measured value.
    pub fn relative(fraction: f64) -> Tolerance {
        Tolerance { relative: fraction, absolute: 0.0 }
    }

    /// Within `amount` of the measured value.
    pub fn absolute(amount: f64) -> Tolerance {
        Tolerance { relative: 0.0, absolute: amount }
    }

    /// The largest error accepted around `actual`.
    pub fn slack(self, actual: f64) -> f64 {
        (self.relative * actual.abs()).max(self.absolute)
    }

    /// Whether `given` is close enough to `actual` (never for a number that is not finite).
    pub fn accepts(self, given: f64, actual: f64) -> bool {
        given.is_finite() && (given - actual).abs() <= self.slack(actual)
    }
}
