//! How a KVM migration ends: the finished run (continuation check, trace and report), the
//! abort that leaves the guest running on the source, and the entry points that run an
//! algorithm to one or the other.

use super::{KvmContext, KvmOptions, KvmRun, NEVER_ARRIVED};
use crate::kvm::guest::PlanState;
use crate::kvm::vm::PAGE;
use crate::kvm::KvmError;
use livemig_core::context::{ContextError, Outcome, Rounds};
use livemig_core::recorder::{SendEvents, TraceHeader, TraceRecorder};
use livemig_core::scenario::Scenario;
use livemig_core::trace::{Event, TraceDetail};
use livemig_core::Report;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl KvmContext {
    /// Ends the run: checks the continuation, and returns the trace and report.
    pub fn finish(mut self, algorithm: &str, params: serde_json::Map<String, serde_json::Value>, outcome: &Outcome) -> KvmRun {
        self.end_round();
        self.observe_phase();
        let t_end = self.t();
        // Guest work during the migration: on the source until the pause (or now), then on the
        // destination.
        let src_plan = self.paused.unwrap_or_else(|| PlanState {
            writes: self.src_runner.progress().writes.load(Ordering::Relaxed),
            guest_time: self.src_runner.guest_time(),
            ..self.start_plan
        });
        let mut writes = src_plan.writes - self.start_plan.writes;
        let mut progress = src_plan.guest_time - self.start_plan.guest_time;
        let source_seconds = self.rec.events().iter().find(|e| matches!(e.event, Event::SourcePaused)).map_or(t_end, |e| e.t);
        let late_batches = self.src_runner.progress().late_batches.load(Ordering::Relaxed);
        self.src_runner.stop();
        let mut incomplete = false;
        if let Some((plan, _)) = self.resumed {
            match self.dest.finish(self.options.continuation_batches) {
                Ok(c) => {
                    writes += c.writes - plan.writes;
                    progress += c.guest_time - plan.guest_time;
                    self.verification.continuation_ok = Some(c.ok);
                    self.verification.continuation_mismatches = c.mismatches;
                    self.verification.continuation_batch = c.batch;
                }
                Err(e) => {
                    // Post-copy that never got every page over (possibly reported by a remote
                    // receiver, hence the text).
                    incomplete |= e.to_string().contains(NEVER_ARRIVED);
                    self.verification.decode_errors.push(format!("continuation check failed: {e}"));
                    self.verification.continuation_ok = Some(false);
                }
            }
        }
        let dropped = self.dest.take_dropped();
        if !dropped.is_empty() {
            let pages = self.rec.runs(dropped.iter().copied());
            self.rec.push(t_end, Event::PagesDropped { count: dropped.len() as u64, pages });
        }
        let completed = self.resumed.is_some() && self.dest.complete() && !incomplete;
        let v = &self.verification;
        let verified = completed && v.mismatched_pages == 0 && v.decode_errors.is_empty() && v.continuation_ok == Some(true);
        let event = Event::MigrationEnded {
            completed,
            converged: outcome.converged,
            verified,
            distinct_pages: self.ever_sent.count(),
            guest_writes: writes,
            guest_progress_s: progress,
            stop_reason: outcome.stop_reason.clone(),
        };
        let header = TraceHeader {
            algorithm: algorithm.to_string(),
            params,
            scenario: self.scenario.clone(),
            page_count: self.n,
            page_size: PAGE as u64,
            backend: "kvm",
        };
        let recorder = std::mem::replace(&mut self.rec, TraceRecorder::new(self.options.detail, SendEvents::PerCall));
        // The KVM context's recorder has no size cap (a real guest's trace is bounded by its
        // memory and the timeout), so it always gives the trace.
        let trace = recorder.finish(t_end, event, header).expect("a recorder without a cap gives its trace");
        let report = Report::from_trace(&trace);
        let source_write_rate = (src_plan.writes - self.start_plan.writes) as f64 / source_seconds.max(1e-9);
        KvmRun { trace, report, verification: self.verification.clone(), source_write_rate, late_batches }
    }
}

impl Drop for KvmContext {
    fn drop(&mut self) {
        self.src_runner.stop();
    }
}

/// Why a KVM migration could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Bad input: the message names the field.
    #[error("{0}")]
    BadInput(String),
    /// KVM is missing or failed.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// The algorithm asked the context for something impossible.
    #[error("algorithm failed: {0}")]
    Context(#[from] ContextError),
}

/// Migrates the scenario's guest between two KVM VMs with `algorithm` (or the scenario's).
pub fn migrate_or_abort(scenario: &Scenario, algorithm: Option<&str>, options: KvmOptions) -> Result<KvmRun, Aborted> {
    scenario.validate().map_err(|e| MigrateError::BadInput(e.to_string()))?;
    let name = algorithm.unwrap_or(&scenario.migration.algorithm);
    let info = livemig_core::algorithms::find(name).ok_or_else(|| {
        MigrateError::BadInput(format!(
            "--algorithm: unknown algorithm '{name}': accepted {}",
            livemig_core::algorithms::names().join(", ")
        ))
    })?;
    let postcopy = info.family.faults_on_destination();
    let options = KvmOptions { postcopy, ..options };
    if scenario.vm.page_size.0 != PAGE as u64 {
        return Err(MigrateError::BadInput(format!(
            "vm.page_size: {} bytes is not supported on KVM: accepted 4096",
            scenario.vm.page_size.0
        ))
        .into());
    }
    let (mut alg, params) = livemig_core::algorithms::build(info, &scenario.params).map_err(|e| MigrateError::BadInput(e.to_string()))?;
    let mut ctx = KvmContext::new(scenario, options)?;
    match alg.run(&mut ctx) {
        Ok(outcome) => Ok(ctx.finish(info.name, params.shown(), &outcome)),
        Err(e) => {
            let error = MigrateError::Context(e);
            let report = ctx.abort(info.name, &error.to_string());
            let source = ctx.resumed.is_none().then(|| Box::new(ctx));
            Err(Aborted { error, report: Some(Box::new(report)), source })
        }
    }
}

/// Migrates like [`migrate`]; a migration that fails (e.g. its connection is cut) before the
/// switch-over gives back the source with its guest running again.
pub fn migrate(scenario: &Scenario, algorithm: Option<&str>, options: KvmOptions) -> Result<KvmRun, MigrateError> {
    migrate_or_abort(scenario, algorithm, options).map_err(|a| a.error)
}

/// A migration that failed while it ran.
pub struct Aborted {
    /// Why.
    pub error: MigrateError,
    /// The report of what happened until then (not completed, not verified), if it started.
    pub report: Option<Box<Report>>,
    /// The source, when the failure came before the switch-over: its guest runs on.
    pub source: Option<Box<KvmContext>>,
}

impl std::fmt::Debug for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aborted").field("error", &self.error).field("source", &self.source.is_some()).finish()
    }
}

impl From<MigrateError> for Aborted {
    fn from(error: MigrateError) -> Aborted {
        Aborted { error, report: None, source: None }
    }
}

impl From<KvmError> for Aborted {
    fn from(e: KvmError) -> Aborted {
        MigrateError::Kvm(e).into()
    }
}

/// What [`KvmContext::check_source`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceCheck {
    /// Batches the source guest had run when it was checked.
    pub batch: u64,
    /// Pages that differ from a reference run without migration.
    pub mismatches: u64,
    /// Whether memory and registers equal the reference run's.
    pub ok: bool,
}

impl KvmContext {
    /// After a failure: if the switch-over has not happened, the source guest runs again (it is
    /// resumed if it was paused) and the run is ended with a report saying it did not complete.
    fn abort(&mut self, algorithm: &str, reason: &str) -> Report {
        self.end_round();
        if self.resumed.is_none() && self.paused.take().is_some() {
            self.src_runner.resume(None);
            self.state_sent = false;
        }
        let t = self.t();
        let ended = Event::MigrationEnded {
            completed: false,
            converged: false,
            verified: false,
            distinct_pages: self.ever_sent.count(),
            guest_writes: 0,
            guest_progress_s: 0.0,
            stop_reason: format!("aborted: {reason}"),
        };
        let header = TraceHeader {
            algorithm: algorithm.to_string(),
            params: serde_json::Map::new(),
            scenario: self.scenario.clone(),
            page_count: self.n,
            page_size: PAGE as u64,
            backend: "kvm",
        };
        let trace = self.rec.snapshot(t, ended, TraceDetail::Summary, header);
        Report::from_trace(&trace)
    }

    /// Batches the source guest has run so far.
    pub fn source_batches(&self) -> u64 {
        self.src_runner.progress().batches.load(Ordering::Relaxed)
    }

    /// Whether the source guest is running (not paused, not failed).
    pub fn source_running(&self) -> bool {
        self.paused.is_none() && self.src_runner.error().is_none()
    }

    /// Lets the source guest run `batches` more batches, parks it there, and compares its
    /// memory with a reference run without migration for the same number of batches.
    pub fn check_source(&mut self, batches: u64) -> Result<SourceCheck, KvmError> {
        let target = self.source_batches() + batches.max(1);
        self.src_runner.resume(Some(target));
        let plan = self.src_runner.wait_parked(Duration::from_secs(600))?;
        let kvm = crate::kvm::open_kvm()?;
        let (mismatches, ok) =
            crate::kvm::dest::compare_with_reference(&kvm, &self.src, &self.scenario, &self.planner, self.options.prefill, plan.batch)?;
        Ok(SourceCheck { batch: plan.batch, mismatches, ok })
    }
}
