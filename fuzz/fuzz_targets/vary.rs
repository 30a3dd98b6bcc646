//! `--vary KEY=FROM..TO:STEPS` (the CLI's parser, `native-runner/src/sweep.rs`, compiled in
//! here) and the playground's sweep form (`web/src/sweep_spec.rs`).
#![no_main]

/// What `sweep.rs` needs of the binary's `input` module (`native-runner/src/input.rs`), as
/// it is there. If `sweep.rs` comes to need more, this target stops building: add it here.
mod input {
    /// A bad-input error.
    pub fn bad(msg: impl Into<String>) -> anyhow::Error {
        anyhow::anyhow!(msg.into())
    }
    /// Runs a simulation (not called by this target: `sweep::run` is not fuzzed).
    pub fn simulate(
        scenario: &livemig_core::Scenario,
        algorithm: Option<&str>,
        detail: livemig_core::trace::TraceDetail,
    ) -> anyhow::Result<livemig_core::Run> {
        livemig_core::simulate(scenario, algorithm, detail).map_err(|e| bad(e.to_string()))
    }
    /// Refuses a run over the default caps (not called by this target: `sweep::run` is not
    /// fuzzed).
    pub fn check_cost(scenario: &livemig_core::Scenario, detail: livemig_core::trace::TraceDetail) -> anyhow::Result<()> {
        let limits = livemig_core::cost::Limits::default();
        limits.check(scenario, detail, &livemig_core::cost::Cost::of(scenario, detail)).map_err(|e| bad(e.to_string()))
    }
}

#[allow(dead_code, missing_docs)]
#[path = "../../native-runner/src/sweep.rs"]
mod sweep;

#[allow(dead_code, missing_docs, unused_imports)]
#[path = "../../web/src/sweep_spec.rs"]
mod sweep_spec;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let log = text.len() % 2 == 1;
    if let Ok(v) = sweep::parse_vary(text, log) {
        assert!(!v.values.is_empty() && v.values.len() <= 1000, "{} values", v.values.len());
    }
    let _ = sweep_spec::SweepSpec::parse(text);
});
