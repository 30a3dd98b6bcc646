//! # livemig-web
//!
//! The LiveMig Lab browser playground: the core's algorithms run in the browser (the same crate
//! as the CLI, compiled to wasm), and their traces are animated page by page.
//!
//! * [`playback`]: page states of both hosts at any moment of a trace (scrubbing, stepping);
//!   [`loaded`]: a run ready to play;
//! * [`state`]: each stateful view's state, actions and `reduce` function (the player, compare,
//!   sweep; the race's is in [`race`]), held by the components with `use_reducer`;
//! * [`share`]: the versioned URL that reproduces a run (the core's, re-exported);
//! * [`sim_job`] and [`worker_pool`]: simulations as messages, run in Web Workers, one per core;
//! * [`keys`]: the keyboard map; [`page_marks`]: the page states' colours and marks;
//! * [`app`] and [`components`]: the yew user interface.
//!
//! The modules without a browser dependency ([`playback`], [`state`], [`race`], [`keys`],
//! [`page_marks`]) are unit-tested natively; [`share`] and [`sweep_spec`] are the core's, tested there.

#![deny(missing_docs)]

pub mod app;
pub mod assignment_page;
pub mod batch;
pub mod colors;
pub mod components;
pub mod dom;
pub mod hooks;
pub mod keys;
pub mod lessons_data;
pub mod loaded;
pub mod markdown;
pub mod page_marks;
pub mod panic_panel;
pub mod playback;
pub mod race;
pub mod series;
pub mod sim_job;
pub mod state;
pub mod worker_pool;

/// The shareable link (the core's: pure, and fuzzed there).
pub use livemig_core::share;
/// Sweeps and the metrics the views plot (the core's: pure, and fuzzed there).
pub use livemig_core::sweep::spec as sweep_spec;

/// Scenarios the unit tests share.
#[cfg(test)]
pub(crate) mod test_scenarios {
    use livemig_core::Scenario;

    /// A preset shrunk to a 64 MiB VM (web-server keeps its working set away from address 0).
    pub fn small(preset: &str) -> Scenario {
        let s = livemig_core::presets::preset(preset).unwrap().unwrap();
        if preset == "web-server" {
            s.with_overrides(&["vm.memory=64MiB".into(), "workload.working_set=32MiB".into(), "workload.working_set_offset=16MiB".into()])
                .unwrap()
        } else {
            s.with_overrides(&["vm.memory=64MiB".into()]).unwrap()
        }
    }
}
