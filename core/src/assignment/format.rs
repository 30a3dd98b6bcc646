//! The assignment file format: what a lecturer writes, read and checked into an [`Assignment`].

use super::quantities::*;
use super::*;
use std::collections::BTreeMap;

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
                    let q = Quantity::of_metric(&metric);
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
                significant(t.points),
                if t.points == 1.0 { "" } else { "s" },
                wrap(&question, 92, "#   ")
            );
            out += &format!("#   answer: {}\n{} = \"\"\n", t.answer_hint(), t.id);
        }
        out
    }
}

pub(super) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(super) fn wrap(text: &str, width: usize, indent: &str) -> String {
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
