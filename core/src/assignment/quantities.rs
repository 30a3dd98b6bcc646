//! Quantities in assignments: the unit a student answers in, reading answers with units, and
//! showing metric values for people.

use super::*;
use crate::units::{Bandwidth, ByteSize, PageRate, Seconds};

pub(super) fn unit_of(name: &str) -> Option<Unit> {
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
pub(super) fn parse_quantity(text: &str, quantity: Quantity, unit: &Unit) -> Result<f64, String> {
    let t = text.trim();
    let r = match quantity {
        Quantity::Duration => t.parse::<Seconds>().map(|s| s.0).map_err(|e| e.to_string()),
        Quantity::Size => t.parse::<ByteSize>().map(|b| b.0 as f64).map_err(|e| e.to_string()),
        Quantity::Bandwidth => t.parse::<Bandwidth>().map(|b| b.0).map_err(|e| e.to_string()),
        Quantity::Rate => t.parse::<PageRate>().map(|r| r.0).map_err(|e| e.to_string()),
        Quantity::Count | Quantity::Plain => {
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

/// A metric's value for people, in its natural unit ([`Quantity::show`]); a flag as yes or no.
pub fn show_metric(m: &str, v: f64) -> String {
    match m {
        "converged" | "completed" | "verified" => if v != 0.0 { "yes" } else { "no" }.into(),
        _ => Quantity::of_metric(m).show(v),
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
            Some(s) => format!(" ({} x {s})", significant(self.value)),
            None => String::new(),
        };
        format!("{} {} {}{scaled}", self.metric, self.op, show_metric(&self.metric, self.threshold(scenario)))
    }
}
