//! A student's answers file.

use super::format::toml_string;
use super::*;
use std::collections::BTreeMap;

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
            AnswerValue::Number(n) => significant(*n),
            AnswerValue::Text(t) => t.clone(),
            AnswerValue::Bool(b) => b.to_string(),
        }
    }

    pub(super) fn is_blank(&self) -> bool {
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
