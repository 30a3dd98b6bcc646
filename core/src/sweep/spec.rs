//! The playground's sweeps and the metrics it plots, without the browser: what the compare and
//! sweep views compute (the web crate re-exports this module as `livemig_web::sweep_spec`).
//!
//! A sweep varies one number of the scenario over a range and runs every value:
//!
//! ```text
//! link.bandwidth=100Mbit/s..10Gbit/s:8            8 values, log spaced (the default for bandwidth)
//! workload.write_rate=1000..50000pages/s:6;log    6 values, log spaced
//! params.precopy.downtime_limit=10ms..1s:5;metric=downtime
//! ```
//!
//! * `path`: a scenario field ([`SCENARIO_PATHS`]) or a numeric algorithm parameter
//!   `params.<table>.<name>`;
//! * `from..to`: values in the units the core's overrides accept (`livemig --set`), parsed by
//!   [`crate::units`]; a bare `from` takes `to`'s unit (`0.1..10Gbit/s`);
//! * `:steps`: how many values, 2 to [`MAX_STEPS`] in the browser (the grammar is
//!   [`crate::sweep`]'s, the CLI's `--vary`; older links' `/steps` is read as `:steps`);
//! * options after `;`: `log` or `lin` spacing, `metric=<name>` (the metric plotted, see
//!   [`Metric`]).
//!
//! Unlike the CLI's [`super::vary`], which keeps values in the first end's unit, a sweep here
//! works in base units (bytes, bytes/s, seconds). [`Metric`] is shared by the compare table,
//! its charts, the sweep plot and the lessons.

use crate::units::{self, Bandwidth, ByteSize, PageRate, Seconds};
use crate::{Report, Scenario};
use std::fmt;

/// Most values a sweep runs in the browser (the grammar itself, [`crate::sweep`], allows
/// up to [`crate::sweep::MAX_STEPS`]).
pub const MAX_STEPS: usize = 32;

/// A sweep description that cannot be used (the grammar's).
pub use super::SweepError;
/// The accepted form, for messages: the grammar's.
pub use super::FORM;
use super::{sweep_error as err, upgrade_legacy, SweepText};

/// A measured result of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Start to end of the migration (s).
    TotalTime,
    /// Time the VM ran nowhere (s).
    Downtime,
    /// Wire bytes.
    DataSent,
    /// Network page faults.
    Faults,
    /// Page transmissions, duplicates included.
    PagesSent,
    /// Time the destination guest was blocked on faults (s).
    FaultStall,
}

impl Metric {
    /// All metrics, in the order they are offered.
    pub const ALL: [Metric; 6] =
        [Metric::TotalTime, Metric::Downtime, Metric::DataSent, Metric::Faults, Metric::PagesSent, Metric::FaultStall];

    /// Name in a sweep description (`metric=downtime`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::TotalTime => "total-time",
            Metric::Downtime => "downtime",
            Metric::DataSent => "data-sent",
            Metric::Faults => "faults",
            Metric::PagesSent => "pages-sent",
            Metric::FaultStall => "fault-stall",
        }
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            Metric::TotalTime => "total time",
            Metric::Downtime => "downtime",
            Metric::DataSent => "data sent",
            Metric::Faults => "network faults",
            Metric::PagesSent => "pages sent",
            Metric::FaultStall => "fault stall",
        }
    }

    /// The metric called `name`.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What it measures, for its unit.
    pub fn quantity(self) -> units::Quantity {
        match self {
            Metric::TotalTime | Metric::Downtime | Metric::FaultStall => units::Quantity::Duration,
            Metric::DataSent => units::Quantity::Size,
            Metric::Faults | Metric::PagesSent => units::Quantity::Count,
        }
    }

    /// Its value in a report, in base units (seconds, bytes, a count).
    pub fn value(self, r: &Report) -> f64 {
        match self {
            Metric::TotalTime => r.total_time_s,
            Metric::Downtime => r.downtime_s,
            Metric::DataSent => r.bytes_sent as f64,
            Metric::Faults => r.network_faults as f64,
            Metric::PagesSent => r.pages_sent as f64,
            Metric::FaultStall => r.fault_stall_s,
        }
    }
}

/// The kind of number a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// A size in bytes; `pages`: rounded to whole pages (the VM's memory, its working set).
    Size {
        /// Round to whole pages.
        pages: bool,
    },
    /// Bytes per second.
    Bandwidth,
    /// Seconds.
    Duration,
    /// Pages per second.
    Rate,
    /// A plain number.
    Number,
    /// A whole number.
    Integer,
}

impl Quantity {
    /// How values are written.
    pub fn accepted(self) -> &'static str {
        match self {
            Quantity::Size { .. } => "a size such as 256 MiB or 4 GiB",
            Quantity::Bandwidth => "a bandwidth such as 100 Mbit/s or 10 Gbit/s",
            Quantity::Duration => "a duration such as 300 ms or 2 s",
            Quantity::Rate => "a page rate such as 20000 pages/s",
            Quantity::Number => "a number such as 0.25",
            Quantity::Integer => "a whole number such as 16",
        }
    }

    /// Parses one end of a range to base units.
    pub fn parse(self, text: &str) -> Result<f64, String> {
        let t = text.trim();
        match self {
            Quantity::Size { .. } => t.parse::<ByteSize>().map(|v| v.0 as f64).map_err(|e| e.to_string()),
            Quantity::Bandwidth => t.parse::<Bandwidth>().map(|v| v.0).map_err(|e| e.to_string()),
            Quantity::Duration => t.parse::<Seconds>().map(|v| v.0).map_err(|e| e.to_string()),
            Quantity::Rate => t.parse::<PageRate>().map(|v| v.0).map_err(|e| e.to_string()),
            Quantity::Number => t.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("'{t}' is not {}", self.accepted())),
            Quantity::Integer => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && v.fract() == 0.0)
                .ok_or_else(|| format!("'{t}' is not {}", self.accepted())),
        }
    }

    /// Log spacing suits it by default (a bandwidth spans orders of magnitude).
    pub fn log_by_default(self) -> bool {
        matches!(self, Quantity::Bandwidth)
    }

    /// What it measures, for showing values ([`units::Quantity::show`] and `scale`).
    pub fn measure(self) -> units::Quantity {
        match self {
            Quantity::Size { .. } => units::Quantity::Size,
            Quantity::Bandwidth => units::Quantity::Bandwidth,
            Quantity::Duration => units::Quantity::Duration,
            Quantity::Rate => units::Quantity::Rate,
            Quantity::Number => units::Quantity::Plain,
            Quantity::Integer => units::Quantity::Count,
        }
    }
}

/// The scenario fields a sweep offers: path, label, kind.
pub const SCENARIO_PATHS: &[(&str, &str, Quantity)] = &[
    ("link.bandwidth", "link bandwidth", Quantity::Bandwidth),
    ("link.latency", "link latency (one way)", Quantity::Duration),
    ("workload.write_rate", "guest write rate", Quantity::Rate),
    ("workload.read_rate", "guest read rate", Quantity::Rate),
    ("workload.working_set", "working set", Quantity::Size { pages: true }),
    ("workload.hot_fraction", "hot fraction of the working set", Quantity::Number),
    ("workload.hot_probability", "share of accesses to the hot part", Quantity::Number),
    ("vm.memory", "VM memory", Quantity::Size { pages: true }),
    ("vm.state_size", "CPU/device state", Quantity::Size { pages: false }),
    ("vm.resume_overhead", "resume overhead", Quantity::Duration),
    ("migration.timeout", "timeout", Quantity::Duration),
];

/// The kind of number at `path`, or why it cannot be swept.
pub fn quantity_of(path: &str) -> Result<Quantity, String> {
    if let Some((_, _, q)) = SCENARIO_PATHS.iter().find(|(p, _, _)| *p == path) {
        return Ok(*q);
    }
    let accepted = || {
        format!(
            "accepted {}, or params.<table>.<name> for a numeric algorithm parameter",
            SCENARIO_PATHS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
        )
    };
    let Some(rest) = path.strip_prefix("params.") else {
        return Err(format!("'{path}' cannot be swept: {}", accepted()));
    };
    let Some((section, name)) = rest.split_once('.') else {
        return Err(format!("'{path}' names no parameter: write params.<table>.<name>, e.g. params.precopy.downtime_limit"));
    };
    let Some(specs) = crate::algorithms::registry().iter().find_map(|a| a.section_params(section)) else {
        return Err(format!("no algorithm reads a parameter table '{section}' (params.{section})"));
    };
    let Some(spec) = specs.iter().find(|s| s.name == name) else {
        return Err(format!(
            "params.{section} has no parameter '{name}': accepted {}",
            specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
        ));
    };
    use crate::algorithms::ParamKind as K;
    match spec.kind {
        K::Int { .. } => Ok(Quantity::Integer),
        K::Float { .. } => Ok(Quantity::Number),
        K::Duration { .. } => Ok(Quantity::Duration),
        K::Bandwidth { .. } => Ok(Quantity::Bandwidth),
        K::Size { .. } => Ok(Quantity::Size { pages: false }),
        K::Bool | K::Choice(_) => Err(format!("{path} is {}, not a number: a sweep varies a number", spec.kind.accepted())),
    }
}

/// The paths a sweep offers for these algorithms: the scenario's fields, then the numeric
/// parameters of every parameter table the algorithms read. `(path, label)`.
pub fn sweepable_paths(algorithms: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = SCENARIO_PATHS.iter().map(|(p, l, _)| (p.to_string(), l.to_string())).collect();
    for name in algorithms {
        let Some(info) = crate::algorithms::find(name) else { continue };
        for (section, specs) in info.sections() {
            for spec in specs.iter() {
                let path = format!("params.{section}.{}", spec.name);
                if quantity_of(&path).is_ok() && !out.iter().any(|(p, _)| *p == path) {
                    out.push((path, format!("{section}: {}", spec.help)));
                }
            }
        }
    }
    out
}

/// A parsed sweep: one scenario number varied over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The scenario path varied.
    pub path: String,
    /// Its kind.
    pub quantity: Quantity,
    /// The first value as written.
    pub from_text: String,
    /// The last value as written.
    pub to_text: String,
    /// The first value, base units.
    pub from: f64,
    /// The last value, base units.
    pub to: f64,
    /// How many values.
    pub steps: usize,
    /// Geometric spacing.
    pub log: bool,
    /// The metric plotted.
    pub metric: Metric,
}

/// The unit text at the end of a quantity ("Gbit/s" of "10Gbit/s"), empty for a bare number.
fn unit_suffix(s: &str) -> &str {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || c == '_' || ((c == '-' || c == '+') && i == 0)))
        .map_or(s.len(), |(i, _)| i);
    // An exponent ("1e3") is part of the number when a digit or sign follows the 'e'.
    let rest = &s[end..];
    if let Some(after) = rest.strip_prefix(['e', 'E']) {
        if after.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
            let more = after.trim_start_matches(['-', '+']);
            let digits = more.len() - more.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            return more[digits..].trim();
        }
    }
    rest.trim()
}

/// The parts of a sweep description as written, `(path, from, to, steps, options)`, without
/// checking them (to show a link's sweep in the form even when it is invalid).
pub fn split_loosely(text: &str) -> (String, String, String, String, Vec<String>) {
    let text = upgrade_legacy(text);
    let mut parts = text.trim().split(';');
    let main = parts.next().unwrap_or_default();
    let options = parts.map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    let (path, range) = main.split_once('=').unwrap_or((main, ""));
    let (values, steps) = range.rsplit_once(':').unwrap_or((range, ""));
    let (from, to) = values.split_once("..").unwrap_or((values, ""));
    (path.trim().to_string(), from.trim().to_string(), to.trim().to_string(), steps.trim().to_string(), options)
}

impl SweepSpec {
    /// Reads a sweep in the core's grammar ([`crate::sweep`]:
    /// `path=from..to:steps[;log|;lin][;metric=name]`), with at most [`MAX_STEPS`] values (what
    /// the browser runs); an older link's `/steps` is read as `:steps`.
    pub fn parse(text: &str) -> Result<SweepSpec, SweepError> {
        let parts = SweepText::parse(&upgrade_legacy(text))?;
        let quantity = quantity_of(&parts.path).map_err(|m| err("path", m))?;
        let steps = parts.steps;
        if steps > MAX_STEPS {
            return Err(err(
                "steps",
                format!(
                    "{steps} is out of range: the browser runs 2 to {MAX_STEPS} values (livemig sweep on the command line runs up to {})",
                    crate::sweep::MAX_STEPS
                ),
            ));
        }
        let (from_text, to_text) = (parts.from, parts.to);
        // A bare first value takes the last one's unit: "0.1..10Gbit/s".
        let from_parsed = if unit_suffix(&from_text).is_empty() && !unit_suffix(&to_text).is_empty() {
            quantity.parse(&format!("{from_text} {}", unit_suffix(&to_text)))
        } else {
            quantity.parse(&from_text)
        };
        let from = from_parsed.map_err(|m| err("from", m))?;
        let to = quantity.parse(&to_text).map_err(|m| err("to", m))?;
        if from == to {
            return Err(err("to", format!("equals from ({from_text}): a sweep needs two different ends")));
        }
        let metric = match parts.metric {
            None => Metric::TotalTime,
            Some(m) => Metric::from_name(&m)
                .ok_or_else(|| err("metric", format!("unknown metric '{m}': accepted {}", Metric::ALL.map(Metric::name).join(", "))))?,
        };
        let spec = SweepSpec {
            path: parts.path,
            quantity,
            from_text,
            to_text,
            from,
            to,
            steps,
            log: parts.log.unwrap_or(quantity.log_by_default()),
            metric,
        };
        if spec.log && (from <= 0.0 || to <= 0.0) {
            return Err(err(if from <= 0.0 { "from" } else { "to" }, "log spacing needs both ends above zero: use lin, or start above 0"));
        }
        Ok(spec)
    }

    /// The values run, base units, first to last (whole numbers and page sizes rounded, repeats
    /// removed).
    pub fn values(&self, page_size: u64) -> Vec<f64> {
        let n = self.steps;
        let mut out: Vec<f64> = Vec::with_capacity(n);
        for i in 0..n {
            let f = i as f64 / (n - 1) as f64;
            let v = if self.log { self.from * (self.to / self.from).powf(f) } else { self.from + (self.to - self.from) * f };
            let v = if i == 0 {
                self.from
            } else if i == n - 1 {
                self.to
            } else {
                v
            };
            let v = match self.quantity {
                Quantity::Size { pages: true } => {
                    let p = page_size.max(1) as f64;
                    ((v / p).round() * p).max(p)
                }
                Quantity::Size { pages: false } | Quantity::Integer => v.round(),
                _ => v,
            };
            if out.last() != Some(&v) {
                out.push(v);
            }
        }
        out
    }

    /// The override that sets `value` (base units), in `livemig --set` form.
    pub fn override_for(&self, value: f64) -> String {
        let text = match self.quantity {
            Quantity::Size { .. } | Quantity::Integer => format!("{}", value.round() as i64),
            _ => format!("{value}"),
        };
        format!("{}={text}", self.path)
    }

    /// `value` for people.
    pub fn show(&self, value: f64) -> String {
        self.quantity.measure().show(value)
    }

    /// The scenario of every value: `base` with the override applied, checked by the core. An
    /// error names the end (`from`, `to`) or value at fault and gives the core's message.
    pub fn scenarios(&self, base: &Scenario) -> Result<Vec<(f64, Scenario)>, SweepError> {
        let values = self.values(base.vm.page_size.0);
        let last = values.len() - 1;
        let run = |i: usize| {
            let v = values[i];
            base.with_overrides(&[self.override_for(v)]).map(|s| (v, s)).map_err(|e| {
                let field = match i {
                    0 => "from",
                    i if i == last => "to",
                    _ => "range",
                };
                err(field, format!("at {}: {e}", self.show(v)))
            })
        };
        // The ends first, so a bad end is blamed rather than a value between.
        let first = run(0)?;
        if last == 0 {
            return Ok(vec![first]);
        }
        let end = run(last)?;
        let mut out = vec![first];
        for i in 1..last {
            out.push(run(i)?);
        }
        out.push(end);
        Ok(out)
    }
}

impl fmt::Display for SweepSpec {
    /// The canonical text (defaults left out), which [`SweepSpec::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}..{}:{}", self.path, self.from_text, self.to_text, self.steps)?;
        if self.log != self.quantity.log_by_default() {
            f.write_str(if self.log { ";log" } else { ";lin" })?;
        }
        if self.metric != Metric::TotalTime {
            write!(f, ";metric={}", self.metric.name())?;
        }
        Ok(())
    }
}

/// CSV field quoting (RFC 4180), the core's.
pub use crate::report::csv_field;

#[cfg(test)]
mod tests {
    use super::*;

    fn web_server() -> Scenario {
        crate::presets::preset("web-server").unwrap().unwrap()
    }

    #[test]
    fn bandwidth_sweeps_are_log_spaced_by_default() {
        let s = SweepSpec::parse("link.bandwidth=100Mbit/s..10Gbit/s/3").unwrap();
        assert_eq!(s.quantity, Quantity::Bandwidth);
        assert!(s.log);
        let v = s.values(4096);
        assert_eq!(v.len(), 3);
        assert!((v[0] - 12.5e6).abs() < 1e-6 && (v[1] - 125e6).abs() < 1e-3 && (v[2] - 1.25e9).abs() < 1e-3, "{v:?}");
        assert_eq!(s.to_string(), "link.bandwidth=100Mbit/s..10Gbit/s:3");
        assert_eq!(s.show(v[1]), "1 Gbit/s");
        assert_eq!(s.show(2.5e9 / 8.0), "2.5 Gbit/s");
    }

    #[test]
    fn linear_sweeps_and_options_round_trip() {
        let s = SweepSpec::parse("workload.write_rate = 1000..5000 pages/s / 5 ; metric=downtime").unwrap();
        assert!(!s.log);
        assert_eq!(s.metric, Metric::Downtime);
        assert_eq!(s.values(4096), vec![1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
        let again = SweepSpec::parse(&s.to_string()).unwrap();
        assert_eq!(again, s);
        let l = SweepSpec::parse("link.latency=0.1ms..100ms/4;log").unwrap();
        assert!(l.log);
        assert_eq!(SweepSpec::parse(&l.to_string()).unwrap(), l);
        let b = SweepSpec::parse("link.bandwidth=1Gbit/s..10Gbit/s/4;lin").unwrap();
        assert!(!b.log && b.to_string().ends_with(";lin"));
    }

    #[test]
    fn the_cli_form_and_a_bare_first_value_are_read() {
        let s = SweepSpec::parse("link.bandwidth=0.1..10Gbit/s/8").unwrap();
        assert!((s.from - 0.1e9 / 8.0).abs() < 1e-6);
        let c = SweepSpec::parse("link.bandwidth=100Mbit/s..10Gbit/s:10").unwrap();
        assert_eq!(c.steps, 10);
        assert_eq!(unit_suffix("1e3pages/s"), "pages/s");
        assert_eq!(unit_suffix("2.5"), "");
        let (p, f, t, n, o) = split_loosely("link.bandwidth=fast..10Gbit/s/8;log");
        assert_eq!(
            (p.as_str(), f.as_str(), t.as_str(), n.as_str(), o),
            ("link.bandwidth", "fast", "10Gbit/s", "8", vec!["log".to_string()])
        );
    }

    #[test]
    fn memory_values_are_whole_pages_and_algorithm_parameters_are_swept() {
        let s = SweepSpec::parse("vm.memory=100MB..1GB/4").unwrap();
        for v in s.values(4096) {
            assert_eq!(v % 4096.0, 0.0, "{v}");
        }
        let p = SweepSpec::parse("params.precopy.downtime_limit=10ms..1s/3;metric=downtime").unwrap();
        assert_eq!(p.quantity, Quantity::Duration);
        let scen = p.scenarios(&web_server()).unwrap();
        assert_eq!(scen.len(), 3);
        let ints = SweepSpec::parse("params.precopy.xen_max_iters=1..3/8").unwrap();
        assert_eq!(ints.values(4096), vec![1.0, 2.0, 3.0]);
        assert!(ints.override_for(2.0).ends_with("=2"));
        let ws = SweepSpec::parse("workload.write_rate=1000..40000/3").unwrap().scenarios(&web_server()).unwrap();
        assert_eq!(ws[2].1.workload.write_rate.0, 40000.0);
    }

    #[test]
    fn bad_sweeps_name_the_field_and_the_form() {
        let cases = [
            ("link.bandwidth", "sweep", "path=from..to:steps"),
            ("=1..2/3", "path", "missing"),
            ("link.colour=1..2/3", "path", "link.bandwidth"),
            ("params.precopy.policy=1..2/3", "path", "not a number"),
            ("params.precopy.nope=1..2/3", "path", "downtime_limit"),
            ("params.nope.x=1..2/3", "path", "no algorithm"),
            ("link.bandwidth=fast..10Gbit/s/3", "from", "bandwidth"),
            ("link.bandwidth=1Gbit/s..slow/3", "to", "Gbit/s"),
            ("link.bandwidth=1Gbit/s..10Gbit/s", "steps", ":steps"),
            ("link.bandwidth=1Gbit/s..10Gbit/s/1", "steps", "2 to 1000"),
            ("link.bandwidth=1Gbit/s..10Gbit/s:x", "steps", "whole number"),
            ("link.bandwidth=1Gbit/s..1Gbit/s/3", "to", "differ"),
            ("link.bandwidth=1Gbit/s-10Gbit/s:3", "sweep", "from..to"),
            ("link.bandwidth=1Gbit/s..10Gbit/s:33", "steps", "livemig sweep"),
            ("link.latency=0ms..10ms/3;log", "from", "above zero"),
            ("link.latency=1ms..10ms/3;metric=speed", "metric", "downtime"),
            ("link.latency=1ms..10ms/3;fast", "option", "log, lin"),
        ];
        for (text, field, needle) in cases {
            let e = SweepSpec::parse(text).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        // Values the core rejects name the end and give the core's message.
        let e = SweepSpec::parse("vm.memory=1GiB..512GiB/3").unwrap().scenarios(&web_server()).unwrap_err();
        assert_eq!(e.field, "to", "{e}");
        assert!(e.message.contains("vm.memory"), "{e}");
    }

    #[test]
    fn metrics_read_reports_and_pick_units() {
        let run =
            crate::simulate(&crate::presets::preset("idle-vm").unwrap().unwrap(), Some("precopy-xen"), crate::trace::TraceDetail::Summary)
                .unwrap();
        assert_eq!(Metric::DataSent.value(&run.report), run.report.bytes_sent as f64);
        assert_eq!(Metric::TotalTime.quantity().scale(0.5), (1e-3, "ms"));
        assert_eq!(Metric::DataSent.quantity().scale(2.0 * (1u64 << 30) as f64).1, "GiB");
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert!(sweepable_paths(&["mecom".into()]).iter().any(|(p, _)| p == "params.mecom.threads"));
        assert!(sweepable_paths(&["mecom".into()]).iter().any(|(p, _)| p == "params.precopy.downtime_limit"));
    }
}
