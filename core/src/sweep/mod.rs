//! The one sweep grammar: how the CLI's `--vary` and the playground's sweep describe "vary one
//! number of the scenario over a range".
//!
//! ```text
//! path=from..to:steps[;log|;lin][;metric=NAME]
//! link.bandwidth=100Mbit/s..10Gbit/s:10
//! workload.write_rate=1000..50000pages/s:6;log
//! params.precopy.downtime_limit=10ms..1s:5;metric=downtime
//! ```
//!
//! * `path`: a dotted scenario key (`livemig --set`'s);
//! * `from..to`: the two ends as written, in the units the scenario accepts;
//! * `:steps`: how many values, 2 to [`MAX_STEPS`];
//! * options after `;`: `log` (geometric spacing; the CLI's `--log` says the same), `lin`
//!   (linear), `metric=NAME` (what the playground plots).
//!
//! This module reads the text into its parts ([`SweepText`]); what the ends mean (their
//! quantity, the values between them) is read by two callers: [`vary`], the CLI's `--vary`,
//! keeps values in the first end's unit, and [`spec`], the playground's sweep, works in base
//! units. Older playground links wrote `/steps`; [`upgrade_legacy`] rewrites them to `:steps`.

pub mod spec;
pub mod vary;

/// Most values one sweep may have.
pub const MAX_STEPS: usize = 1000;

/// The accepted form, for messages.
pub const FORM: &str = "path=from..to:steps, e.g. link.bandwidth=100Mbit/s..10Gbit/s:10";

/// A sweep description that cannot be used: `field` is the part at fault (`path`, `from`,
/// `to`, `steps`, `option`, `metric`, or `sweep` for the whole text), `message` what is wrong
/// and what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SweepError {
    /// Which part.
    pub field: &'static str,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// A [`SweepError`] for `field`.
pub fn sweep_error(field: &'static str, message: impl Into<String>) -> SweepError {
    SweepError { field, message: message.into() }
}

/// A sweep description read into its parts, ends and options as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepText {
    /// The dotted scenario key.
    pub path: String,
    /// The first end as written.
    pub from: String,
    /// The last end as written.
    pub to: String,
    /// How many values, 2 to [`MAX_STEPS`].
    pub steps: usize,
    /// `Some(true)` for `;log`, `Some(false)` for `;lin`, None when the text says neither.
    pub log: Option<bool>,
    /// The name after `;metric=`, if any (checked by the caller).
    pub metric: Option<String>,
}

impl SweepText {
    /// Reads `path=from..to:steps[;log|;lin][;metric=NAME]`.
    pub fn parse(text: &str) -> Result<SweepText, SweepError> {
        let mut parts = text.trim().split(';');
        let main = parts.next().unwrap_or_default().trim();
        let (path, range) = main.split_once('=').ok_or_else(|| sweep_error("sweep", format!("'{main}' is not {FORM}")))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(sweep_error("path", format!("missing: the form is {FORM}")));
        }
        let (values, steps_text) = range.rsplit_once(':').ok_or_else(|| {
            let legacy = range.rsplit_once('/').is_some_and(|(_, s)| s.trim().parse::<usize>().is_ok());
            sweep_error(
                "steps",
                if legacy {
                    format!("write the number of values after ':' (from..to:steps), not '/'; the form is {FORM}")
                } else {
                    format!("missing: end with :steps, a number of values from 2 to {MAX_STEPS}; the form is {FORM}")
                },
            )
        })?;
        let steps_text = steps_text.trim();
        let steps: usize = steps_text.parse().map_err(|_| {
            sweep_error("steps", format!("'{steps_text}' is not a whole number of values from 2 to {MAX_STEPS}; the form is {FORM}"))
        })?;
        if !(2..=MAX_STEPS).contains(&steps) {
            return Err(sweep_error("steps", format!("{steps} is out of range: accepted 2 to {MAX_STEPS} values")));
        }
        let (from, to) = values
            .split_once("..")
            .ok_or_else(|| sweep_error("sweep", format!("'{values}' is not a range from..to; the form is {FORM}")))?;
        let mut out =
            SweepText { path: path.to_string(), from: from.trim().to_string(), to: to.trim().to_string(), steps, log: None, metric: None };
        for opt in parts.map(str::trim).filter(|o| !o.is_empty()) {
            match opt {
                "log" => out.log = Some(true),
                "lin" | "linear" => out.log = Some(false),
                _ => match opt.split_once('=') {
                    Some(("metric", m)) => out.metric = Some(m.trim().to_string()),
                    _ => return Err(sweep_error("option", format!("unknown option '{opt}': accepted log, lin, metric=<name>"))),
                },
            }
        }
        Ok(out)
    }
}

/// A sweep as older playground links wrote it (`from..to/steps`, steps up to 32) in today's
/// form (`from..to:steps`); any other text unchanged.
pub fn upgrade_legacy(text: &str) -> String {
    let (main, options) = text.split_once(';').map_or((text, None), |(m, o)| (m, Some(o)));
    if main.contains(':') {
        return text.to_string();
    }
    match main.rsplit_once('/') {
        Some((range, steps)) if range.contains("..") && steps.trim().parse::<usize>().is_ok() => {
            let mut out = format!("{range}:{steps}");
            if let Some(o) = options {
                out.push(';');
                out.push_str(o);
            }
            out
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_and_its_options() {
        let s = SweepText::parse(" link.bandwidth = 100Mbit/s .. 10Gbit/s : 10 ").unwrap();
        assert_eq!((s.path.as_str(), s.from.as_str(), s.to.as_str(), s.steps), ("link.bandwidth", "100Mbit/s", "10Gbit/s", 10));
        assert_eq!((s.log, s.metric), (None, None));
        let s = SweepText::parse("params.precopy.downtime_limit=10ms..1s:5;log;metric=downtime").unwrap();
        assert_eq!((s.log, s.metric.as_deref()), (Some(true), Some("downtime")));
        assert_eq!(SweepText::parse("x=1..2:2;lin").unwrap().log, Some(false));
        assert_eq!(SweepText::parse("x=1..2:1000").unwrap().steps, 1000);
    }

    #[test]
    fn bad_texts_name_the_part() {
        for (text, field) in [
            ("link.bandwidth", "sweep"),
            ("=1..2:3", "path"),
            ("x=1..2", "steps"),
            ("x=1..2/3", "steps"),
            ("x=1..2:1", "steps"),
            ("x=1..2:1001", "steps"),
            ("x=1..2:many", "steps"),
            ("x=1-2:3", "sweep"),
            ("x=1..2:3;fast", "option"),
        ] {
            assert_eq!(SweepText::parse(text).unwrap_err().field, field, "{text}");
        }
        assert!(SweepText::parse("x=1..2/3").unwrap_err().message.contains("not '/'"));
    }

    #[test]
    fn old_links_are_upgraded() {
        assert_eq!(upgrade_legacy("link.bandwidth=100Mbit/s..10Gbit/s/8"), "link.bandwidth=100Mbit/s..10Gbit/s:8");
        assert_eq!(upgrade_legacy("workload.write_rate=1000..50000pages/s/6;log"), "workload.write_rate=1000..50000pages/s:6;log");
        assert_eq!(upgrade_legacy("link.bandwidth=100Mbit/s..10Gbit/s:8"), "link.bandwidth=100Mbit/s..10Gbit/s:8");
        assert_eq!(upgrade_legacy("link.bandwidth=100Mbit/s..10Gbit/s"), "link.bandwidth=100Mbit/s..10Gbit/s");
        let up = upgrade_legacy("link.latency=0.1ms..100ms/4;log");
        assert_eq!(SweepText::parse(&up).unwrap().steps, 4);
    }
}
