//! The sweep view's state: the form as typed, the error to show under a field, and the batch
//! of runs ([`Batch`] of [`Swept`]), with its one transition function, [`reduce`].

use crate::state::batch::{self, Batch, BatchAction};
use crate::sweep_spec::{csv_field, quantity_of, split_loosely, Metric, Quantity, SweepError, SweepSpec};
use livemig_core::Report;
use std::rc::Rc;

/// The sweep shown when the link names none.
pub const DEFAULT_SWEEP: &str = "link.bandwidth=100Mbit/s..10Gbit/s:8";

/// The form's fields, as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// The scenario path varied.
    pub path: String,
    /// The first value.
    pub from: String,
    /// The last value.
    pub to: String,
    /// How many values.
    pub steps: String,
    /// "auto", "lin" or "log".
    pub spacing: String,
    /// The metric plotted.
    pub metric: Metric,
}

impl Form {
    /// The form showing `spec`.
    pub fn of(spec: &SweepSpec) -> Form {
        Form {
            path: spec.path.clone(),
            from: spec.from_text.clone(),
            to: spec.to_text.clone(),
            steps: spec.steps.to_string(),
            spacing: if spec.log == spec.quantity.log_by_default() {
                "auto".into()
            } else if spec.log {
                "log".into()
            } else {
                "lin".into()
            },
            metric: spec.metric,
        }
    }

    /// The form of a link's sweep that does not parse, as far as it can be read.
    pub fn loosely(text: &str) -> Form {
        let (path, from, to, steps, options) = split_loosely(text);
        let mut f = Form { path, from, to, steps, spacing: "auto".into(), metric: Metric::TotalTime };
        for o in options {
            match o.as_str() {
                "log" | "lin" => f.spacing = o,
                _ => {
                    if let Some(m) = o.strip_prefix("metric=").and_then(Metric::from_name) {
                        f.metric = m;
                    }
                }
            }
        }
        f
    }

    /// The form varying `path` instead, with a range suggested in its units and automatic spacing.
    pub fn varying(&self, path: String) -> Form {
        let mut f = self.clone();
        let (from, to) = match path.as_str() {
            "link.bandwidth" => ("100Mbit/s", "10Gbit/s"),
            "link.latency" => ("0.1ms", "50ms"),
            "workload.write_rate" => ("1000pages/s", "60000pages/s"),
            "workload.read_rate" => ("1000pages/s", "100000pages/s"),
            "workload.working_set" => ("64MiB", "512MiB"),
            "workload.hot_fraction" | "workload.hot_probability" => ("0.1", "0.9"),
            "vm.memory" => ("512MiB", "4GiB"),
            "vm.state_size" => ("1MiB", "256MiB"),
            "vm.resume_overhead" => ("1ms", "100ms"),
            "migration.timeout" => ("10s", "600s"),
            _ => match quantity_of(&path) {
                Ok(Quantity::Duration) => ("10ms", "1s"),
                Ok(Quantity::Bandwidth) => ("100Mbit/s", "10Gbit/s"),
                Ok(Quantity::Size { .. }) => ("16MiB", "1GiB"),
                Ok(Quantity::Integer) => ("1", "16"),
                Ok(Quantity::Number | Quantity::Rate) => ("0.1", "1"),
                Err(_) => ("", ""),
            },
        };
        if !from.is_empty() {
            f.from = from.into();
            f.to = to.into();
        }
        f.spacing = "auto".into();
        f.path = path;
        f
    }

    /// The sweep as the link writes it (`path=from..to:steps[;lin|;log][;metric=NAME]`).
    pub fn text(&self) -> String {
        let mut t = format!("{}={}..{}:{}", self.path.trim(), self.from.trim(), self.to.trim(), self.steps.trim());
        if self.spacing == "lin" || self.spacing == "log" {
            t.push(';');
            t.push_str(&self.spacing);
        }
        if self.metric != Metric::TotalTime {
            t.push_str(&format!(";metric={}", self.metric.name()));
        }
        t
    }
}

/// A finished sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Swept {
    /// What was swept (its metric is the one plotted).
    pub spec: SweepSpec,
    /// The scenario it was run on ([`crate::state::compare::scenario_key`]).
    pub key: String,
    /// The values, base units.
    pub values: Vec<f64>,
    /// The algorithms, in the order of each row's cells.
    pub algorithms: Vec<String>,
    /// `cells[value][algorithm]`.
    pub cells: Vec<Vec<Result<Report, String>>>,
    /// Milliseconds spent in the simulator, in all.
    pub busy_ms: f64,
    /// Milliseconds from the start to the last result.
    pub wall_ms: f64,
    /// Where the simulations ran ("in 2 Web Workers").
    pub mode: String,
}

/// The sweep's table as CSV: one line per value and algorithm (base units, exact values).
pub fn sweep_csv(s: &Swept) -> String {
    let mut out = format!(
        "{},algorithm,total_time_s,downtime_s,bytes_sent,network_faults,pages_sent,fault_stall_s,verified,error\n",
        csv_field(&s.spec.path)
    );
    for (v, row) in s.values.iter().zip(&s.cells) {
        for (alg, cell) in s.algorithms.iter().zip(row) {
            match cell {
                Ok(r) => out.push_str(&format!(
                    "{v},{},{},{},{},{},{},{},{},\n",
                    csv_field(alg),
                    r.total_time_s,
                    r.downtime_s,
                    r.bytes_sent,
                    r.network_faults,
                    r.pages_sent,
                    r.fault_stall_s,
                    r.verified
                )),
                Err(e) => out.push_str(&format!("{v},{},,,,,,,,{}\n", csv_field(alg), csv_field(e))),
            }
        }
    }
    out
}

/// The sweep view's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepState {
    /// The form as typed.
    pub form: Form,
    /// What is wrong with the form (or the link's sweep, or a value), to show under its field.
    pub error: Option<SweepError>,
    /// The runs.
    pub batch: Batch<Swept>,
}

/// What changes the sweep view.
#[derive(Debug, Clone)]
pub enum SweepAction {
    /// A field of the form was edited: the edit and the field's new text.
    Edit(fn(&mut Form, String), String),
    /// Another path to vary: the range is suggested in its units.
    Path(String),
    /// The form (or the scenario) cannot be run: why.
    Invalid(SweepError),
    /// The form was checked and its runs start.
    Start,
    /// A new metric: the form and the runs shown (which need no new runs) plot it.
    Metric(Metric),
    /// The runs progressed, finished or were stopped.
    Batch(BatchAction<Swept>),
}

impl SweepState {
    /// The state a link's `sweep=` opens: its sweep in the form (as far as it can be read, with
    /// the error under it when it does not parse), else [`DEFAULT_SWEEP`].
    pub fn from_link(sweep: Option<&str>) -> SweepState {
        let (form, error) = match sweep.map(|text| (text, SweepSpec::parse(text))) {
            Some((_, Ok(spec))) => (Form::of(&spec), None),
            Some((text, Err(e))) => (
                Form::loosely(text),
                Some(SweepError {
                    field: e.field,
                    message: format!("{} (in the link's sweep; the form is {})", e.message, crate::sweep_spec::FORM),
                }),
            ),
            None => (Form::of(&SweepSpec::parse(DEFAULT_SWEEP).expect("the default sweep parses")), None),
        };
        SweepState { form, error, batch: Batch::default() }
    }
}

/// The sweep view after `action`.
pub fn reduce(state: &SweepState, action: SweepAction) -> SweepState {
    let mut next = state.clone();
    match action {
        SweepAction::Edit(apply, text) => apply(&mut next.form, text),
        SweepAction::Path(path) => next.form = state.form.varying(path),
        SweepAction::Invalid(e) => next.error = Some(e),
        SweepAction::Start => next.error = None,
        SweepAction::Metric(m) => {
            next.form.metric = m;
            if let Some(r) = &state.batch.result {
                let mut swept = (**r).clone();
                swept.spec.metric = m;
                next.batch = batch::reduce(&state.batch, BatchAction::Update(Rc::new(swept)));
            }
        }
        SweepAction::Batch(a) => next.batch = batch::reduce(&state.batch, a),
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swept(spec: &str) -> Swept {
        let spec = SweepSpec::parse(spec).unwrap();
        Swept {
            key: "k".into(),
            values: vec![spec.from, spec.to],
            algorithms: vec!["precopy-xen".into()],
            cells: vec![vec![Err("a, b".into())], vec![Err("c".into())]],
            busy_ms: 1.0,
            wall_ms: 2.0,
            mode: "here".into(),
            spec,
        }
    }

    #[test]
    fn a_link_opens_its_sweep_or_says_what_is_wrong() {
        let st = SweepState::from_link(None);
        assert_eq!(st.form.text(), DEFAULT_SWEEP);
        assert!(st.error.is_none());
        let st = SweepState::from_link(Some("link.latency=1ms..50ms:5;metric=downtime"));
        assert_eq!((st.form.path.as_str(), st.form.metric), ("link.latency", Metric::Downtime));
        let st = SweepState::from_link(Some("link.latency=1ms..fast:5"));
        assert_eq!((st.form.from.as_str(), st.form.to.as_str()), ("1ms", "fast"));
        let e = st.error.unwrap();
        assert!(e.message.contains("in the link's sweep"), "{e}");
    }

    #[test]
    fn a_new_path_suggests_a_range_in_its_units() {
        let st = SweepState::from_link(Some("link.bandwidth=1Gbit/s..2Gbit/s:4;lin"));
        let st = reduce(&st, SweepAction::Path("vm.memory".into()));
        assert_eq!((st.form.from.as_str(), st.form.to.as_str(), st.form.spacing.as_str()), ("512MiB", "4GiB", "auto"));
        let st = reduce(&st, SweepAction::Path("params.precopy.downtime_limit".into()));
        assert_eq!((st.form.from.as_str(), st.form.to.as_str()), ("10ms", "1s"));
        assert!(SweepSpec::parse(&st.form.text()).is_ok(), "{}", st.form.text());
    }

    #[test]
    fn edits_errors_runs_and_metrics() {
        let st = SweepState::from_link(None);
        let st = reduce(&st, SweepAction::Edit(|f, v| f.steps = v, "x".into()));
        assert_eq!(st.form.steps, "x");
        let form = st.form.clone();
        let bad = SweepSpec::parse(&form.text()).unwrap_err();
        let st = reduce(&st, SweepAction::Invalid(bad.clone()));
        assert_eq!(st.error, Some(bad));
        let st = reduce(&st, SweepAction::Start);
        assert!(st.error.is_none());
        let st = reduce(&st, SweepAction::Batch(BatchAction::Progress((1, 16, "tsmc at 1 Gbit/s".into()))));
        assert!(st.batch.running());
        let done = swept(DEFAULT_SWEEP);
        let st = reduce(&st, SweepAction::Batch(BatchAction::Done(Rc::new(done.clone()))));
        assert_eq!(st.batch.result.as_deref(), Some(&done));
        // A new metric redraws the runs shown and keeps them.
        let st = reduce(&st, SweepAction::Metric(Metric::Faults));
        assert_eq!(st.form.metric, Metric::Faults);
        let shown = st.batch.result.as_deref().unwrap();
        assert_eq!((shown.spec.metric, &shown.cells), (Metric::Faults, &done.cells));
        assert!(sweep_csv(shown).lines().nth(1).unwrap().ends_with(",\"a, b\""), "{}", sweep_csv(shown));
    }
}
