//! Quantities in assignments: the unit a student answers in, reading answers with units, and
//! showing metric values for people.

use super::*;
use crate::units::{Bandwidth, ByteSize, Seconds};

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
        Quantity::Plain => {
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

/// What a metric's value is, for reading condition values with units.
pub(super) fn metric_quantity(m: &str) -> Quantity {
    if m.ends_with("_s") {
        Quantity::Duration
    } else if m.contains("bytes") {
        Quantity::Size
    } else {
        Quantity::Plain
    }
}

/// A metric's value for people, in its natural unit.
pub fn show_metric(m: &str, v: f64) -> String {
    match m {
        "converged" | "completed" | "verified" => return if v != 0.0 { "yes".into() } else { "no".into() },
        _ => {}
    }
    match metric_quantity(m) {
        Quantity::Duration if v.abs() < 1.0 && v != 0.0 => format!("{} ms", sig(v * 1e3)),
        Quantity::Duration => format!("{} s", sig(v)),
        Quantity::Size => {
            let mib = v / (1u64 << 20) as f64;
            if mib.abs() >= 1024.0 {
                format!("{} GiB", sig(mib / 1024.0))
            } else if mib.abs() >= 1.0 {
                format!("{} MiB", sig(mib))
            } else {
                format!("{} KiB", sig(v / 1024.0))
            }
        }
        _ => sig(v),
    }
}

/// A number with four significant digits (integers in full), trailing zeros dropped.
pub fn sig(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
    let decimals = (3 - digits).clamp(0, 9) as usize;
    let t = format!("{v:.decimals$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
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
            Some(s) => format!(" ({} x {s})", sig(self.value)),
            None => String::new(),
        };
        format!("{} {} {}{scaled}", self.metric, self.op, show_metric(&self.metric, self.threshold(scenario)))
    }
}
