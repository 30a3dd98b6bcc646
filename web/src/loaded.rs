//! A run ready to play: the scenario, the whole run's report and its [`Playback`], shared by
//! every component that draws it. Plain Rust (no browser types), so that the player's state
//! ([`crate::state::player`]) and its tests can hold one.

use crate::playback::{CellCache, Cursor, Playback, Timeline};
use livemig_core::trace::{Trace, TraceDetail};
use livemig_core::Scenario;
use std::cell::RefCell;
use std::rc::Rc;

/// A simulated (or opened) run ready to play.
#[derive(Debug)]
pub struct Loaded {
    /// The scenario that was run.
    pub scenario: Scenario,
    /// The run's timeline, which the player's cursor moves along.
    pub timeline: Rc<Timeline>,
    /// The page states at the player's cursor: a cache the page brings to the cursor before
    /// drawing ([`Loaded::show`]), so that the components read the states without a copy.
    pub playback: RefCell<Playback>,
    /// The whole run's report (the CLI's numbers).
    pub report: livemig_core::Report,
    /// Whether the run came from a trace file rather than the simulator.
    pub from_file: bool,
    /// The page states behind the source's and the destination's grid cells as last drawn
    /// ([`crate::playback::CellCache`]): kept with the run, so that a grid drawn anew for the
    /// same run (entering presentation mode) counts only the cells that changed.
    pub cells: [RefCell<CellCache>; 2],
}

/// Runs are compared by identity: one simulation is one run, however many components show it.
impl PartialEq for Loaded {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Loaded {
    /// Brings the page states to `cursor` (nothing to do when they are there already).
    pub fn show(&self, cursor: Cursor) {
        let mut p = self.playback.borrow_mut();
        if p.cursor() != cursor {
            p.show(cursor);
        }
    }
}

/// Runs the scenario in the simulator and prepares it for playing.
pub fn simulate(scenario: &Scenario) -> Result<Rc<Loaded>, String> {
    let run = livemig_core::simulate(scenario, None, TraceDetail::Pages).map_err(|e| e.to_string())?;
    load_trace(run.trace, false)
}

/// Prepares a trace (simulated or from a file) for playing.
pub fn load_trace(trace: Trace, from_file: bool) -> Result<Rc<Loaded>, String> {
    let report = livemig_core::Report::from_trace(&trace);
    let scenario = trace.scenario.clone();
    let playback = Playback::new(Rc::new(trace)).map_err(|e| e.to_string())?;
    let timeline = Rc::clone(playback.timeline());
    Ok(Rc::new(Loaded { scenario, timeline, playback: RefCell::new(playback), report, from_file, cells: Default::default() }))
}
