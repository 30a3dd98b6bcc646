//! Declared parameters: each algorithm states its parameters once, with their type, range,
//! default and one line of help, and gets back a typed struct.
//!
//! [`parameters!`] declares an algorithm's parameter list (the `PARAMS` the CLI, the web forms
//! and scenario validation read) and a struct with one typed field per parameter, filled from
//! the resolved [`Params`] by `from_params`. A parameter's name is its field's name, so there is
//! no second spelling to keep in step. [`choice!`] declares the enum of a choice parameter with
//! the words a scenario writes.

use crate::units::{Bandwidth, ByteSize, Seconds};
use serde_json::Value;
use std::collections::BTreeMap;

/// The type and accepted range of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// true or false.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted.
        min: i64,
        /// Largest accepted.
        max: i64,
    },
    /// A number in `min..=max`.
    Float {
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// A duration in seconds, `min..=max`.
    Duration {
        /// Smallest accepted (seconds).
        min: f64,
        /// Largest accepted (seconds).
        max: f64,
    },
    /// A bandwidth in bytes/s, `min..=max`.
    Bandwidth {
        /// Smallest accepted (bytes/s).
        min: f64,
        /// Largest accepted (bytes/s).
        max: f64,
    },
    /// A size in bytes, `min..=max`.
    Size {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
}

impl ParamKind {
    /// Human description of the accepted values.
    pub fn accepted(&self) -> String {
        match *self {
            ParamKind::Bool => "true or false".into(),
            ParamKind::Int { min, max } => format!("an integer from {min} to {max}"),
            ParamKind::Float { min, max } => format!("a number from {min} to {max}"),
            ParamKind::Choice(words) => format!("one of {}", words.join(", ")),
            ParamKind::Duration { min, max } => format!("a duration from {} to {}", Seconds(min), Seconds(max)),
            ParamKind::Bandwidth { min, max } => format!("a bandwidth from {} to {}", Bandwidth(min), Bandwidth(max)),
            ParamKind::Size { min, max } => format!("a size from {} to {}", ByteSize(min), ByteSize(max)),
        }
    }
}

/// One declared parameter of an algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Key in `[params.<algorithm>]`.
    pub name: &'static str,
    /// Type and range.
    pub kind: ParamKind,
    /// Default value, written as in a scenario file.
    pub default: &'static str,
    /// One line for people.
    pub help: &'static str,
}

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number, or a duration (s), bandwidth (bytes/s) or size (bytes).
    Float(f64),
    /// A choice.
    Text(String),
}

/// A parameter value that does not fit its declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// Dotted path, e.g. `params.precopy.policy`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

fn parse_value(spec: &ParamSpec, v: &Value) -> Result<ParamValue, String> {
    let text = match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let bad = || format!("{v} is not accepted: {}", spec.kind.accepted());
    match spec.kind {
        ParamKind::Bool => match (v, text) {
            (Value::Bool(b), _) => Ok(ParamValue::Bool(*b)),
            (_, Some("true")) => Ok(ParamValue::Bool(true)),
            (_, Some("false")) => Ok(ParamValue::Bool(false)),
            _ => Err(bad()),
        },
        ParamKind::Int { min, max } => {
            let n = match (v, text) {
                (Value::Number(n), _) => n.as_i64(),
                (_, Some(t)) => t.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(bad)?;
            if n < min || n > max {
                return Err(bad());
            }
            Ok(ParamValue::Int(n))
        }
        ParamKind::Float { min, max } => {
            let x = match (v, text) {
                (Value::Number(n), _) => n.as_f64(),
                (_, Some(t)) => t.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(bad)?;
            if x.is_nan() || x < min || x > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x))
        }
        ParamKind::Choice(words) => {
            let t = text.ok_or_else(bad)?;
            if !words.contains(&t) {
                return Err(format!("'{t}' is not accepted: {}", spec.kind.accepted()));
            }
            Ok(ParamValue::Text(t.to_string()))
        }
        ParamKind::Duration { min, max } => {
            let x: Seconds = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0.is_nan() || x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0))
        }
        ParamKind::Bandwidth { min, max } => {
            let x: Bandwidth = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0.is_nan() || x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0))
        }
        ParamKind::Size { min, max } => {
            let x: ByteSize = serde_json::from_value(v.clone()).map_err(|e| format!("{e}: accepted {}", spec.kind.accepted()))?;
            if x.0 < min || x.0 > max {
                return Err(bad());
            }
            Ok(ParamValue::Float(x.0 as f64))
        }
    }
}

/// An algorithm's parameters, checked against its declarations, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
    shown: serde_json::Map<String, Value>,
}

impl Params {
    /// Resolves `given` (from `[params.<section>]`) against `specs`, then applies a variant's
    /// fixed values.
    pub fn resolve(
        section: &str,
        specs: &'static [ParamSpec],
        given: Option<&BTreeMap<String, Value>>,
        fixed: &[(&'static str, &'static str)],
    ) -> Result<Params, ParamError> {
        let mut values = BTreeMap::new();
        let mut shown = serde_json::Map::new();
        if let Some(given) = given {
            for key in given.keys() {
                if !specs.iter().any(|s| s.name == key) {
                    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                    return Err(ParamError {
                        field: format!("params.{section}.{key}"),
                        message: format!("unknown parameter; {section} accepts: {}", names.join(", ")),
                    });
                }
            }
        }
        for spec in specs {
            let fixed_value = fixed.iter().find(|(k, _)| *k == spec.name).map(|(_, v)| Value::String(v.to_string()));
            let default = Value::String(spec.default.to_string());
            let raw = fixed_value.as_ref().or_else(|| given.and_then(|g| g.get(spec.name))).unwrap_or(&default);
            let value =
                parse_value(spec, raw).map_err(|message| ParamError { field: format!("params.{section}.{}", spec.name), message })?;
            shown.insert(spec.name.to_string(), raw.clone());
            values.insert(spec.name, value);
        }
        Ok(Params { values, shown })
    }

    /// Adds another table's parameters (names are unique across an entry's tables).
    pub(crate) fn merge(&mut self, other: Params) {
        self.values.extend(other.values);
        self.shown.extend(other.shown);
    }

    /// The parameters as given or defaulted, for traces and reports.
    pub fn shown(&self) -> serde_json::Map<String, Value> {
        self.shown.clone()
    }

    /// A declared parameter's resolved value.
    pub fn value(&self, name: &str) -> &ParamValue {
        self.values.get(name).unwrap_or_else(|| panic!("parameter {name} is not declared"))
    }

    fn get(&self, name: &str) -> &ParamValue {
        self.value(name)
    }

    /// A declared boolean parameter.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), ParamValue::Bool(true))
    }
    /// A declared integer parameter.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            ParamValue::Int(n) => *n,
            other => panic!("parameter {name} is {other:?}, not an integer"),
        }
    }
    /// A declared number, duration (s), bandwidth (bytes/s) or size (bytes).
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            ParamValue::Float(x) => *x,
            ParamValue::Int(n) => *n as f64,
            other => panic!("parameter {name} is {other:?}, not a number"),
        }
    }
    /// A declared choice.
    pub fn choice(&self, name: &str) -> &str {
        match self.get(name) {
            ParamValue::Text(t) => t,
            other => panic!("parameter {name} is {other:?}, not a choice"),
        }
    }
}

/// A Rust value read from a resolved parameter (the field types of a `parameters!` struct).
pub trait FromParam {
    /// The value; the declaration has already checked the type and range.
    fn from_param(value: &ParamValue) -> Self;
}

impl FromParam for bool {
    fn from_param(value: &ParamValue) -> Self {
        matches!(value, ParamValue::Bool(true))
    }
}

impl FromParam for f64 {
    fn from_param(value: &ParamValue) -> Self {
        match value {
            ParamValue::Float(x) => *x,
            ParamValue::Int(n) => *n as f64,
            other => panic!("parameter is {other:?}, not a number"),
        }
    }
}

macro_rules! integer_from_param {
    ($($t:ty),*) => {$(
        impl FromParam for $t {
            fn from_param(value: &ParamValue) -> Self {
                match value {
                    ParamValue::Int(n) => *n as $t,
                    // A size (bytes) is resolved as a number.
                    ParamValue::Float(x) => *x as $t,
                    other => panic!("parameter is {other:?}, not an integer"),
                }
            }
        }
    )*};
}
integer_from_param!(i64, u64, u32, usize);

/// Declares an algorithm's parameters once: the list of [`ParamSpec`]s (named `$specs`) and a
/// struct with one typed field per parameter, read from resolved [`Params`] by `from_params`.
/// Each field's doc is its help text; a confidence tag in it (`[R]`, as the CLI prints it)
/// links to [the tags' meaning](crate::algorithms#confidence-tags).
///
/// ```ignore
/// parameters! {
///     /// Student template parameters.
///     pub struct TemplateParams, specs PARAMS {
///         live_rounds: i64 = (ParamKind::Int { min: 0, max: 30 }, "1", "live rounds before stop-and-copy"),
///     }
/// }
/// ```
macro_rules! parameters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident, specs $specs:ident {
            $( $field:ident : $ty:ty = ($kind:expr, $default:literal, $help:literal) ),* $(,)?
        }
    ) => {
        /// Declared parameters: the CLI, the web forms and scenario validation read this list.
        $vis const $specs: &[$crate::algorithms::ParamSpec] = &[
            $( $crate::algorithms::ParamSpec { name: stringify!($field), kind: $kind, default: $default, help: $help } ),*
        ];

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $(
                #[doc = $help]
                ///
                /// [C]: crate::algorithms#confidence-tags
                /// [S]: crate::algorithms#confidence-tags
                /// [M]: crate::algorithms#confidence-tags
                /// [R]: crate::algorithms#confidence-tags
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The parameters' resolved values.
            #[allow(dead_code)]
            $vis fn from_params(params: &$crate::algorithms::Params) -> Self {
                $name { $( $field: $crate::algorithms::FromParam::from_param(params.value(stringify!($field))), )* }
            }
        }
    };
}
pub(crate) use parameters;

/// Declares the enum of a choice parameter: one variant per word a scenario may write.
/// `ParamKind::Choice(Enum::WORDS)` declares the parameter; the enum is a field type of a
/// [`parameters!`] struct.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $( $(#[$vmeta])* #[doc = concat!("`", $word, "`")] $variant, )* }

        impl $name {
            /// The words a scenario writes, in declaration order.
            $vis const WORDS: &'static [&'static str] = &[$($word),*];
        }

        impl $crate::algorithms::FromParam for $name {
            fn from_param(value: &$crate::algorithms::ParamValue) -> Self {
                match value {
                    $( $crate::algorithms::ParamValue::Text(t) if t == $word => $name::$variant, )*
                    other => panic!("{other:?} is not one of {:?}", $name::WORDS),
                }
            }
        }
    };
}
pub(crate) use choice;
