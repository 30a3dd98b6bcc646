//! What the policies' tests share: small simulated scenarios and the events they leave.

use crate::trace::{Event, TraceDetail};
use crate::{simulate, Run, Scenario};

/// A `memory` VM on a `bandwidth` link whose guest writes `write_rate` pages/s uniformly over
/// all of its memory, with `params` in `[params.precopy]`; a 60 s timeout.
pub(super) fn scenario(memory: &str, bandwidth: &str, write_rate: u64, params: &str) -> Scenario {
    Scenario::from_toml_str(&format!(
        "[vm]\nmemory = \"{memory}\"\n[link]\nbandwidth = \"{bandwidth}\"\n[migration]\ntimeout = \"60 s\"\n\
         [params.precopy]\n{params}\n[workload]\npattern = \"uniform\"\nwrite_rate = \"{write_rate} pages/s\"\n"
    ))
    .unwrap()
}

/// Runs `algorithm` on `scenario` in the simulator.
pub(super) fn run(scenario: &Scenario, algorithm: &str) -> Run {
    simulate(scenario, Some(algorithm), TraceDetail::Summary).unwrap()
}

/// Every event of the run with its time, in order.
pub(super) fn events(run: &Run) -> Vec<(f64, &Event)> {
    run.trace.events.iter().map(|e| (e.t, &e.event)).collect()
}
