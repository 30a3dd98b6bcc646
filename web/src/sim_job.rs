//! One simulation as a message: what the compare and sweep views run, on the page's thread or
//! in a Web Worker ([`crate::worker_pool`]), with the same code either way.
//!
//! A job names its scenario the way a shared link does (the scenario part of the query string,
//! plus any overrides a sweep adds), so a worker rebuilds exactly the scenario the page built,
//! with no floating-point value converted on the way; the report comes back as JSON, which
//! `serde_json`'s `float_roundtrip` reads back to the same bits.

use crate::share::{ShareError, ShareState};
use livemig_core::trace::TraceDetail;
use livemig_core::{Report, Scenario};
use serde::{Deserialize, Serialize};

/// A simulation to run: the scenario (as a link's query), extra overrides, the algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimJob {
    /// The scenario part of a link (`?v=1&preset=...&set=...&seed=...`).
    pub query: String,
    /// Overrides applied after the link's (a sweep's value), as `livemig --set` takes them.
    pub overrides: Vec<String>,
    /// The algorithm to run.
    pub algorithm: String,
}

impl SimJob {
    /// A job for `share`'s scenario with `overrides` added, run with `algorithm`.
    pub fn new(share: &ShareState, overrides: Vec<String>, algorithm: &str) -> SimJob {
        let scenario_only = ShareState {
            source: share.source.clone(),
            overrides: share.overrides.clone(),
            algorithm: share.algorithm.clone(),
            seed: share.seed,
            ..ShareState::default()
        };
        SimJob { query: scenario_only.to_query(), overrides, algorithm: algorithm.to_string() }
    }

    /// The scenario: the link's, then the extra overrides.
    pub fn scenario(&self) -> Result<Scenario, ShareError> {
        let s = ShareState::from_query(&self.query)?.scenario()?;
        if self.overrides.is_empty() {
            return Ok(s);
        }
        s.with_overrides(&self.overrides).map_err(|e| ShareError { key: "set".into(), message: e.to_string() })
    }

    /// Runs it (summary detail). Failures are the row's message (delta pre-copy's cache, for
    /// one, fails with a message when a tab's memory cannot hold it).
    pub fn run(&self) -> Result<Report, String> {
        let scenario = self.scenario().map_err(|e| e.to_string())?;
        livemig_core::simulate(&scenario, Some(&self.algorithm), TraceDetail::Summary).map(|r| r.report).map_err(|e| e.to_string())
    }

    /// [`Self::run`], with the milliseconds it took by the clock `now_ms`.
    pub fn run_timed(&self, now_ms: impl Fn() -> f64) -> (Result<Report, String>, f64) {
        let t0 = now_ms();
        let result = self.run();
        (result, now_ms() - t0)
    }
}

/// The page to a worker: run `job`, answer with `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRequest {
    /// Echoed in the answer.
    pub id: u64,
    /// The simulation.
    pub job: SimJob,
}

/// A worker to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SimMessage {
    /// The worker has loaded and takes requests.
    Ready,
    /// The answer to request `id`: the report or the failure, and the milliseconds it took.
    Done {
        /// The request's id.
        id: u64,
        /// The report, or why there is none.
        result: Result<Box<Report>, String>,
        /// Milliseconds spent simulating.
        ms: f64,
    },
    /// A request that did not parse (a bug of the page; answered rather than dropped).
    Unreadable {
        /// What was wrong.
        error: String,
    },
}

impl SimRequest {
    /// Reads a request sent as JSON text.
    pub fn from_json(text: &str) -> Result<SimRequest, String> {
        serde_json::from_str(text).map_err(|e| format!("a simulation request that does not parse: {e}"))
    }
    /// As JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl SimMessage {
    /// Reads a worker's message sent as JSON text.
    pub fn from_json(text: &str) -> Result<SimMessage, String> {
        serde_json::from_str(text).map_err(|e| format!("a worker message that does not parse: {e}"))
    }
    /// As JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    /// What a worker answers to the request text `text`, simulating with `now_ms` as its clock.
    pub fn answer(text: &str, now_ms: impl Fn() -> f64) -> SimMessage {
        match SimRequest::from_json(text) {
            Ok(req) => {
                let (result, ms) = req.job.run_timed(now_ms);
                SimMessage::Done { id: req.id, result: result.map(Box::new), ms }
            }
            Err(error) => SimMessage::Unreadable { error },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::ScenarioSource;

    fn share() -> ShareState {
        ShareState {
            source: ScenarioSource::Preset("web-server".into()),
            overrides: vec![
                "vm.memory=64MiB".into(),
                "workload.working_set=32MiB".into(),
                "workload.working_set_offset=16MiB".into(),
                "link.bandwidth=2.5Gbit/s".into(),
            ],
            seed: Some(7),
            view: crate::share::View::Compare,
            compare: vec!["mecom".into()],
            ..ShareState::default()
        }
    }

    #[test]
    fn a_job_rebuilds_the_pages_scenario_and_adds_its_overrides() {
        let job = SimJob::new(&share(), vec![], "precopy-xen");
        assert_eq!(job.scenario().unwrap(), share().scenario().unwrap());
        assert!(!job.query.contains("view") && !job.query.contains("cmp"), "only the scenario travels: {}", job.query);
        let swept = SimJob::new(&share(), vec!["link.bandwidth=1Gbit/s".into()], "precopy-xen");
        assert_eq!(swept.scenario().unwrap(), share().scenario().unwrap().with_overrides(&["link.bandwidth=1Gbit/s".into()]).unwrap());
    }

    #[test]
    fn answers_round_trip_as_json_to_the_same_bits() {
        let job = SimJob::new(&share(), vec![], "postcopy-bubbling");
        let direct = job.run().unwrap();
        let text = SimRequest { id: 3, job }.to_json();
        let answer = SimMessage::from_json(&SimMessage::answer(&text, || 0.0).to_json()).unwrap();
        match answer {
            SimMessage::Done { id: 3, result: Ok(report), .. } => {
                assert_eq!(*report, direct);
                assert_eq!(report.guest_progress_s.to_bits(), direct.guest_progress_s.to_bits());
                assert_eq!(serde_json::to_string(&report).unwrap(), serde_json::to_string(&direct).unwrap());
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }

    #[test]
    fn bad_requests_and_bad_scenarios_are_answered_with_messages() {
        assert!(matches!(SimMessage::answer("{not json", || 0.0), SimMessage::Unreadable { error } if error.contains("does not parse")));
        let bad = SimJob::new(&share(), vec!["vm.memory=1".into()], "precopy-xen");
        match SimMessage::answer(&SimRequest { id: 1, job: bad }.to_json(), || 0.0) {
            SimMessage::Done { id: 1, result: Err(e), .. } => assert!(e.contains("memory"), "{e}"),
            other => panic!("unexpected answer {other:?}"),
        }
        assert!(SimMessage::from_json("\"Nope\"").is_err());
    }
}
