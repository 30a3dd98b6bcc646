//! A race: two to four algorithms on the same scenario and seed, played on one clock.
//!
//! This module holds what the race view needs without a browser: which algorithms race (from
//! the link's `cmp`), the moments each lane marks on its timeline (downtime start and end,
//! finish), the moments a step stops at (any racer's round start, downtime start or end, or
//! finish: [`moments`]), the shared clock (play, pause, step, scrub, speed), and the race
//! view's state ([`RaceState`]: the racers being run, then the race and its clock) with its one
//! transition function, [`reduce`].

use crate::loaded::{load_trace, Loaded};
use crate::playback::Cursor;
use crate::state::player::{BASE_WALL_SECONDS, MAX_FRAME_SECONDS};
use livemig_core::trace::{Event, Trace, TraceDetail};
use livemig_core::Scenario;
use std::rc::Rc;

/// Lanes a race has at least and at most (the link's reader, the core's, checks them too).
pub const LANES: std::ops::RangeInclusive<usize> = livemig_core::share::RACE_LANES;
/// The race shown when the link names fewer than two algorithms.
pub const DEFAULT_RACE: [&str; 2] = ["precopy-xen", "postcopy-bubbling"];

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

/// What happens to a racer at a [`Moment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MomentKind {
    /// A round (of pre-copy, a push, a stage) starts; 1-based.
    Round(u32),
    /// The VM pauses on the source: downtime starts.
    DowntimeStart,
    /// The VM resumes on the destination: downtime ends.
    DowntimeEnd,
    /// The migration ends.
    Finish,
}

/// A moment the race's Step stops at: something that happens to one racer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment {
    /// Seconds of the run.
    pub t: f64,
    /// Index of the lane.
    pub lane: usize,
    /// What happens.
    pub kind: MomentKind,
}

impl Moment {
    /// In words, with the racer's name ("precopy-xen: round 3 starts").
    pub fn describe(&self, racer: &str) -> String {
        let what = match self.kind {
            MomentKind::Round(n) => format!("round {n} starts"),
            MomentKind::DowntimeStart => "VM paused, downtime starts".to_string(),
            MomentKind::DowntimeEnd => "VM resumed on the destination, downtime ends".to_string(),
            MomentKind::Finish => "migration finished".to_string(),
        };
        format!("{racer}: {what}")
    }
}

/// Every racer's moments (round starts, downtime start and end, finish), by time (and lane, at
/// the same time).
pub fn moments<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Vec<Moment> {
    let mut out = Vec::new();
    for (lane, trace) in traces.into_iter().enumerate() {
        for e in &trace.events {
            let kind = match e.event {
                Event::RoundStarted { round, .. } => MomentKind::Round(round),
                Event::SourcePaused => MomentKind::DowntimeStart,
                Event::DestinationResumed => MomentKind::DowntimeEnd,
                Event::MigrationEnded { .. } => MomentKind::Finish,
                _ => continue,
            };
            out.push(Moment { t: e.t, lane, kind });
        }
    }
    out.sort_by(|a, b| a.t.total_cmp(&b.t).then(a.lane.cmp(&b.lane)));
    out
}

/// The moments at the latest moment at or before `now` (several racers can share an instant),
/// none before the first.
pub fn moments_at(moments: &[Moment], now: f64) -> &[Moment] {
    let end = moments.partition_point(|m| m.t <= now);
    let Some(last) = end.checked_sub(1).map(|i| moments[i].t) else { return &[] };
    let start = moments[..end].partition_point(|m| m.t < last);
    &moments[start..end]
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
    /// Speed multiplier (1: the longest run in [`BASE_WALL_SECONDS`]).
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
        let pace = self.duration.max(1e-9) / BASE_WALL_SECONDS * self.speed;
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

    /// One step forward or back: to the next (previous) moment something happens to any racer
    /// ([`moments`]), or to the end (start) when there is none; pauses.
    pub fn step(&mut self, forward: bool, moments: &[Moment]) {
        self.playing = false;
        let now = self.now;
        let to = if forward {
            moments.iter().map(|m| m.t).find(|&t| t > now).unwrap_or(self.duration)
        } else {
            moments.iter().rev().map(|m| m.t).find(|&t| t < now).unwrap_or(0.0)
        };
        self.now = to.clamp(0.0, self.duration);
    }

    /// To a fraction (0..=1) of the longest run.
    pub fn scrub(&mut self, frac: f64) {
        let f = if frac.is_finite() { frac.clamp(0.0, 1.0) } else { 0.0 };
        self.now = f * self.duration;
    }
}

/// One algorithm in the race.
#[derive(Debug)]
pub struct Lane {
    /// Its name.
    pub algorithm: String,
    /// Its run.
    pub loaded: Rc<Loaded>,
    /// Its timeline marks.
    pub marks: Marks,
}

impl Lane {
    /// Simulates `algorithm` on `scenario` at page detail.
    pub fn run(scenario: &Scenario, algorithm: &str) -> Result<Lane, String> {
        let run = livemig_core::simulate(scenario, Some(algorithm), TraceDetail::Pages).map_err(|e| format!("{algorithm}: {e}"))?;
        let marks = Marks::of(&run.trace);
        let loaded = load_trace(run.trace, false).map_err(|e| format!("{algorithm}: {e}"))?;
        Ok(Lane { algorithm: algorithm.to_string(), loaded, marks })
    }
}

/// The runs of a race and every racer's moments.
#[derive(Debug)]
pub struct Race {
    /// One lane per racer, in the link's order.
    pub lanes: Vec<Lane>,
    /// The moments a step stops at.
    pub moments: Vec<Moment>,
}

/// Races are compared by identity (one race is one set of runs).
impl PartialEq for Race {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Race {
    /// The race of these lanes.
    pub fn new(lanes: Vec<Lane>) -> Race {
        let moments = moments(lanes.iter().map(|l| &**l.loaded.timeline.trace()));
        Race { lanes, moments }
    }

    /// The longest run's duration.
    pub fn duration(&self) -> f64 {
        self.lanes.iter().map(|l| l.loaded.timeline.duration()).fold(0.0, f64::max)
    }
}

/// How far the race's runs have got.
#[derive(Debug, Clone, PartialEq)]
pub enum Running {
    /// Racer `0` of `1`, called `2`, is being simulated.
    Racer(usize, usize, String),
    /// Done: the race, or why it cannot run.
    Done(Result<Rc<Race>, String>),
}

/// What changes a race.
#[derive(Debug, Clone, PartialEq)]
pub enum RaceAction {
    /// Play or pause.
    PlayPause,
    /// To the next (previous) moment of any racer.
    Step(bool),
    /// To the start.
    Restart,
    /// To the end, paused.
    End,
    /// To a fraction (0..=1) of the longest run.
    Scrub(f64),
    /// Set the speed multiplier.
    Speed(f64),
    /// An animation frame, `0` wall seconds after the previous one.
    Frame(f64),
    /// Racer `0` of `1`, called `2`, is being simulated.
    Racing(usize, usize, String),
    /// Every racer has run (or one could not).
    Finished(Result<Rc<Race>, String>),
}

/// The race view's state: how far the runs have got, and the one clock every lane follows.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceState {
    /// None before the first racer starts.
    pub running: Option<Running>,
    /// The clock.
    pub clock: Clock,
}

impl RaceState {
    /// A race already run (and its clock), or nothing yet.
    pub fn new(remembered: Option<(Rc<Race>, Clock)>) -> RaceState {
        match remembered {
            Some((race, clock)) => RaceState { running: Some(Running::Done(Ok(race))), clock },
            None => RaceState { running: None, clock: Clock::new(0.0, 1.0) },
        }
    }

    /// The race, once run.
    pub fn race(&self) -> Option<&Rc<Race>> {
        match &self.running {
            Some(Running::Done(Ok(r))) => Some(r),
            _ => None,
        }
    }

    /// Where a lane is on the clock: at the clock's time, or at its end once it has finished.
    pub fn lane_cursor(&self, lane: &Lane) -> Cursor {
        let tl = &lane.loaded.timeline;
        tl.at_time(self.clock.now.min(tl.duration()))
    }
}

/// The race after `action`.
pub fn reduce(state: &RaceState, action: RaceAction) -> RaceState {
    let mut next = state.clone();
    let c = &mut next.clock;
    match action {
        RaceAction::PlayPause => c.play_pause(),
        RaceAction::Step(forward) => c.step(forward, state.race().map_or(&[][..], |r| &r.moments)),
        RaceAction::Restart => c.scrub(0.0),
        RaceAction::End => {
            c.playing = false;
            c.scrub(1.0);
        }
        RaceAction::Scrub(f) => c.scrub(f),
        RaceAction::Speed(s) => c.speed = s,
        RaceAction::Frame(wall) => c.tick(if wall.is_finite() { wall.clamp(0.0, MAX_FRAME_SECONDS) } else { 0.0 }),
        RaceAction::Racing(i, n, name) => next.running = Some(Running::Racer(i, n, name)),
        RaceAction::Finished(result) => {
            if let Ok(race) = &result {
                next.clock = Clock::new(race.duration(), state.clock.speed);
            }
            next.running = Some(Running::Done(result));
        }
    }
    next
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
    fn steps_stop_at_every_racers_rounds_downtime_and_finish() {
        let s = crate::test_scenarios::small("web-server");
        let run = |a: &str| livemig_core::simulate(&s, Some(a), TraceDetail::Summary).unwrap().trace;
        let (pre, post) = (run("precopy-xen"), run("postcopy-bubbling"));
        let ms = moments([&pre, &post]);
        assert!(ms.windows(2).all(|w| w[0].t <= w[1].t), "sorted by time");
        for (lane, trace) in [&pre, &post].into_iter().enumerate() {
            let m = Marks::of(trace);
            let has = |k: MomentKind, t: Option<f64>| ms.iter().any(|x| x.lane == lane && x.kind == k && Some(x.t) == t);
            assert!(has(MomentKind::DowntimeStart, m.downtime_start), "lane {lane}");
            assert!(has(MomentKind::DowntimeEnd, m.downtime_end), "lane {lane}");
            assert!(has(MomentKind::Finish, m.finish), "lane {lane}");
        }
        assert!(ms.iter().filter(|m| m.lane == 0 && matches!(m.kind, MomentKind::Round(_))).count() >= 2, "pre-copy's rounds");
        // Stepping from the start visits every distinct moment, in order, then the end.
        let duration = ms.last().unwrap().t;
        let mut c = Clock::new(duration, 1.0);
        let mut seen = vec![];
        while c.now < duration {
            c.step(true, &ms);
            seen.push(c.now);
            let here = moments_at(&ms, c.now);
            assert!(!here.is_empty() && here.iter().all(|m| m.t == c.now));
        }
        let mut distinct: Vec<f64> = ms.iter().map(|m| m.t).filter(|&t| t > 0.0).collect();
        distinct.dedup();
        assert_eq!(seen, distinct);
        assert!(moments_at(&ms, -1.0).is_empty());
        assert_eq!(moments_at(&ms, duration).last().unwrap().kind, MomentKind::Finish);
        assert_eq!(ms[0].describe("precopy-xen"), "precopy-xen: round 1 starts");
    }

    #[test]
    fn the_clock_plays_steps_and_scrubs() {
        let mut c = Clock::new(10.0, 1.0);
        c.tick(1.0);
        assert_eq!(c.now, 0.0, "paused: no time passes");
        c.play_pause();
        c.tick(1.0);
        assert!((c.now - 10.0 / BASE_WALL_SECONDS).abs() < 1e-12);
        c.tick(1e6);
        assert_eq!((c.now, c.playing), (10.0, false), "stops at the end");
        c.play_pause();
        assert_eq!((c.now, c.playing), (0.0, true), "plays again from the start");
        let at = |t: f64, lane: usize| Moment { t, lane, kind: MomentKind::Round(1) };
        let ms = [at(0.0, 0), at(2.0, 1), at(2.0, 0), at(7.5, 1)];
        c.step(true, &ms);
        assert_eq!((c.now, c.playing), (2.0, false), "to the next moment of any racer, paused");
        c.step(true, &ms);
        assert_eq!(c.now, 7.5, "moments at the same instant are one step");
        c.step(true, &ms);
        assert_eq!(c.now, 10.0, "after the last moment: the end");
        c.step(false, &ms);
        c.step(false, &ms);
        assert_eq!(c.now, 2.0);
        c.step(false, &ms);
        c.step(false, &ms);
        assert_eq!(c.now, 0.0);
        c.scrub(0.5);
        assert_eq!(c.now, 5.0);
        c.scrub(f64::NAN);
        assert_eq!(c.now, 0.0);
    }

    #[test]
    fn lanes_run_on_one_clock() {
        let s = crate::test_scenarios::small("web-server");
        let lanes = ["precopy-xen", "postcopy-bubbling", "tsmc"].map(|a| Lane::run(&s, a).unwrap());
        let durations: Vec<f64> = lanes.iter().map(|l| l.loaded.timeline.duration()).collect();
        let race = Rc::new(Race::new(lanes.into()));
        let longest = durations.iter().copied().fold(0.0, f64::max);
        let shortest = durations.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(shortest < longest);
        let mut st = reduce(&RaceState::new(None), RaceAction::Speed(2.0));
        st = reduce(&st, RaceAction::Racing(0, 3, "precopy-xen".into()));
        assert_eq!(st.race(), None);
        st = reduce(&st, RaceAction::Finished(Ok(Rc::clone(&race))));
        assert_eq!((st.clock.now, st.clock.duration, st.clock.speed, st.clock.playing), (0.0, longest, 2.0, false));
        assert_eq!(reduce(&st, RaceAction::Frame(0.1)), st, "paused: frames change nothing");
        st = reduce(&st, RaceAction::PlayPause);
        // Play until the shortest run has finished: it stays at its end while the others go on.
        while st.clock.now <= shortest {
            st = reduce(&st, RaceAction::Frame(0.1));
            for l in &race.lanes {
                let tl = &l.loaded.timeline;
                assert_eq!(st.lane_cursor(l), tl.at_time(st.clock.now.min(tl.duration())), "{}", l.algorithm);
            }
        }
        let done: Vec<bool> = race.lanes.iter().map(|l| l.loaded.timeline.at_end(st.lane_cursor(l))).collect();
        assert!(done.iter().any(|&d| d) && done.iter().any(|&d| !d), "{done:?}");
        st = reduce(&st, RaceAction::Step(true));
        assert!(!st.clock.playing);
        assert!(race.moments.iter().any(|m| m.t == st.clock.now), "a step lands on a racer's moment");
        st = reduce(&st, RaceAction::End);
        assert!(race.lanes.iter().all(|l| l.loaded.timeline.at_end(st.lane_cursor(l))));
        st = reduce(&st, RaceAction::Restart);
        assert!(race.lanes.iter().all(|l| st.lane_cursor(l) == l.loaded.timeline.at_time(0.0)));
        let failed = reduce(&st, RaceAction::Finished(Err("precopy-xen: no".into())));
        assert_eq!(failed.race(), None);
        assert_eq!(failed.clock, st.clock, "a failed race keeps the clock");
    }
}
