//! A race: two to four algorithms on the same scenario and seed, played on one clock.
//!
//! This module holds what the race view needs without a browser: which algorithms race (from
//! the link's `cmp`), the moments each lane marks on its timeline (downtime start and end,
//! finish), and the shared clock (play, pause, step, scrub, speed).

use livemig_core::trace::{Event, Trace};

/// Lanes a race has at least and at most.
pub const LANES: std::ops::RangeInclusive<usize> = 2..=4;
/// The race shown when the link names fewer than two algorithms.
pub const DEFAULT_RACE: [&str; 2] = ["precopy-xen", "postcopy-bubbling"];
/// Steps a whole race has (a step moves the clock by this fraction of the longest run).
pub const STEPS: f64 = 100.0;

/// The algorithms that race for a link's `cmp`: the first four named, or the default pair when
/// fewer than two are named.
pub fn racers(cmp: &[String]) -> Vec<String> {
    if cmp.len() < *LANES.start() {
        DEFAULT_RACE.iter().map(|s| s.to_string()).collect()
    } else {
        cmp.iter().take(*LANES.end()).cloned().collect()
    }
}

/// The moments a lane marks on its timeline, in seconds of the run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Marks {
    /// The VM paused on the source (downtime starts).
    pub downtime_start: Option<f64>,
    /// The VM resumed on the destination (downtime ends).
    pub downtime_end: Option<f64>,
    /// The migration ended.
    pub finish: Option<f64>,
}

impl Marks {
    /// Reads the marks from a trace.
    pub fn of(trace: &Trace) -> Marks {
        let mut m = Marks::default();
        for e in &trace.events {
            match e.event {
                Event::SourcePaused if m.downtime_start.is_none() => m.downtime_start = Some(e.t),
                Event::DestinationResumed if m.downtime_end.is_none() => m.downtime_end = Some(e.t),
                Event::MigrationEnded { .. } => m.finish = Some(e.t),
                _ => {}
            }
        }
        m
    }
}

/// The race's one clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Current time, seconds of the runs.
    pub now: f64,
    /// The longest run's duration.
    pub duration: f64,
    /// Playing.
    pub playing: bool,
    /// Speed multiplier (1: the longest run in [`crate::app::BASE_WALL_SECONDS`]).
    pub speed: f64,
}

impl Clock {
    /// A stopped clock at 0 for runs up to `duration` seconds.
    pub fn new(duration: f64, speed: f64) -> Clock {
        Clock { now: 0.0, duration: duration.max(0.0), playing: false, speed }
    }

    /// Advances by `wall` seconds of wall time while playing; stops at the end.
    pub fn tick(&mut self, wall: f64) {
        if !self.playing {
            return;
        }
        let pace = self.duration.max(1e-9) / crate::app::BASE_WALL_SECONDS * self.speed;
        self.now = (self.now + wall.max(0.0) * pace).min(self.duration);
        if self.now >= self.duration {
            self.playing = false;
        }
    }

    /// Play or pause (from the end, play starts again).
    pub fn play_pause(&mut self) {
        if !self.playing && self.now >= self.duration {
            self.now = 0.0;
        }
        self.playing = !self.playing;
    }

    /// One step (a hundredth of the longest run) forward or back; pauses.
    pub fn step(&mut self, forward: bool) {
        self.playing = false;
        let d = self.duration / STEPS;
        self.now = if forward { self.now + d } else { self.now - d }.clamp(0.0, self.duration);
    }

    /// To a fraction (0..=1) of the longest run.
    pub fn scrub(&mut self, frac: f64) {
        let f = if frac.is_finite() { frac.clamp(0.0, 1.0) } else { 0.0 };
        self.now = f * self.duration;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livemig_core::trace::TraceDetail;

    #[test]
    fn a_race_has_two_to_four_lanes() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(racers(&[]), names(&DEFAULT_RACE));
        assert_eq!(racers(&names(&["tsmc"])), names(&DEFAULT_RACE));
        assert_eq!(racers(&names(&["a", "b", "c", "d", "e"])), names(&["a", "b", "c", "d"]));
    }

    #[test]
    fn marks_come_from_the_trace() {
        let s = crate::test_scenarios::small("web-server");
        let t = livemig_core::simulate(&s, Some("precopy-xen"), TraceDetail::Pages).unwrap().trace;
        let m = Marks::of(&t);
        let (a, b) = (m.downtime_start.unwrap(), m.downtime_end.unwrap());
        assert!(a < b && b <= m.finish.unwrap(), "{m:?}");
    }

    #[test]
    fn the_clock_plays_steps_and_scrubs() {
        let mut c = Clock::new(10.0, 1.0);
        c.tick(1.0);
        assert_eq!(c.now, 0.0, "paused: no time passes");
        c.play_pause();
        c.tick(1.0);
        assert!((c.now - 10.0 / crate::app::BASE_WALL_SECONDS).abs() < 1e-12);
        c.tick(1e6);
        assert_eq!((c.now, c.playing), (10.0, false), "stops at the end");
        c.play_pause();
        assert_eq!((c.now, c.playing), (0.0, true), "plays again from the start");
        c.step(true);
        assert!(!c.playing && (c.now - 0.1).abs() < 1e-12);
        c.step(false);
        c.step(false);
        assert_eq!(c.now, 0.0);
        c.scrub(0.5);
        assert_eq!(c.now, 5.0);
        c.scrub(f64::NAN);
        assert_eq!(c.now, 0.0);
    }
}
