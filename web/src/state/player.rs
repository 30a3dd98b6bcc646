//! The player's state and its one transition function.
//!
//! [`Player`] is everything the single-run player shows: the run, why it could not run, the
//! position in it ([`Cursor`]), whether it plays and how fast. [`reduce`] takes a state and an
//! [`Action`] (a control, a key, an animation frame, a run loaded or failed) and gives the next
//! state; nothing else changes the player. The app holds the state with yew's `use_reducer` and
//! brings the run's page states to the cursor before drawing ([`Loaded::show`]).
//!
//! The state is small and cheap to copy: the run is shared (`Rc`) and moving the cursor reads
//! only the run's [`Timeline`](crate::playback::Timeline).

use crate::loaded::Loaded;
use crate::playback::Cursor;
use std::rc::Rc;

/// Animation speeds offered: multiples of the base pace (a whole run in about 20 s).
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Wall seconds a whole run takes at speed 1.
pub const BASE_WALL_SECONDS: f64 = 20.0;
/// The most wall time one animation frame advances by (a tab in the background sends none for
/// a while; the run should not jump when it comes back).
pub const MAX_FRAME_SECONDS: f64 = 0.1;

/// A request from the controls or the keyboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayerAction {
    /// Toggle play/pause.
    PlayPause,
    /// One event forward/back.
    StepEvent(bool),
    /// One round forward/back.
    StepRound(bool),
    /// Back to the start.
    Restart,
    /// Go to a fraction (0..=1) of the run.
    ScrubTo(f64),
    /// Set the speed multiplier.
    Speed(f64),
    /// Go to the end.
    End,
}

/// Everything that changes the player.
#[derive(Debug, Clone)]
pub enum Action {
    /// A control or a key.
    Control(PlayerAction),
    /// An animation frame, `0` wall seconds after the previous one (0 for the first).
    Frame(f64),
    /// The scenario was simulated (or could not be), opened at a step (the link's) or the start.
    Simulated(Result<Rc<Loaded>, String>, Option<usize>),
    /// A trace file was opened; one that cannot be read leaves the run playing as it is.
    Opened(Result<Rc<Loaded>, String>),
}

/// What the components need of the player besides the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerStatus {
    /// Playing (not paused).
    pub playing: bool,
    /// Speed multiplier.
    pub speed: f64,
    /// Increases whenever the picture changes.
    pub tick: u64,
}

/// The player.
#[derive(Debug, Clone, PartialEq)]
pub struct Player {
    /// The run (none while the scenario cannot run).
    pub run: Option<Rc<Loaded>>,
    /// Why the last run or file could not be loaded.
    pub error: Option<String>,
    /// Where in the run.
    pub cursor: Cursor,
    /// Playing (not paused).
    pub playing: bool,
    /// Speed multiplier.
    pub speed: f64,
    /// Increases whenever the state changes (the components redraw on it).
    pub tick: u64,
}

impl Default for Player {
    fn default() -> Player {
        Player { run: None, error: None, cursor: Cursor::default(), playing: false, speed: 1.0, tick: 0 }
    }
}

impl Player {
    /// Playing, speed and tick, for the components' props.
    pub fn status(&self) -> PlayerStatus {
        PlayerStatus { playing: self.playing, speed: self.speed, tick: self.tick }
    }

    /// Whether the cursor is at the end of the run.
    pub fn at_end(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.timeline.at_end(self.cursor))
    }

    /// The step a link names: where a paused simulated run is, none at the start or while playing.
    pub fn link_step(&self) -> Option<usize> {
        self.run.as_ref().filter(|r| !self.playing && !r.from_file).map(|_| self.cursor.step).filter(|&s| s > 0)
    }
}

/// The player after `action`.
pub fn reduce(state: &Player, action: Action) -> Player {
    let mut next = state.clone();
    match action {
        Action::Simulated(result, step) => {
            next.playing = false;
            match result {
                Ok(run) => {
                    next.cursor = run.timeline.at_step(step.unwrap_or(0));
                    next.run = Some(run);
                    next.error = None;
                }
                Err(e) => {
                    next.run = None;
                    next.cursor = Cursor::default();
                    next.error = Some(e);
                }
            }
        }
        Action::Opened(result) => {
            next.playing = false;
            match result {
                Ok(run) => {
                    next.cursor = run.timeline.at_step(0);
                    next.run = Some(run);
                    next.error = None;
                }
                Err(e) => next.error = Some(e),
            }
        }
        Action::Frame(wall) => {
            let Some(run) = state.run.as_ref().filter(|_| state.playing) else { return state.clone() };
            let tl = &run.timeline;
            let wall = if wall.is_finite() { wall.clamp(0.0, MAX_FRAME_SECONDS) } else { 0.0 };
            let pace = tl.duration().max(1e-9) / BASE_WALL_SECONDS * state.speed;
            next.cursor = tl.at_time(state.cursor.now + wall * pace);
            next.playing = !tl.at_end(next.cursor);
        }
        Action::Control(a) => {
            let Some(run) = state.run.as_ref() else { return state.clone() };
            let tl = &run.timeline;
            let c = state.cursor;
            match a {
                PlayerAction::PlayPause => {
                    if !state.playing && tl.at_end(c) {
                        next.cursor = tl.at_step(0);
                    }
                    next.playing = !state.playing;
                    if !next.playing {
                        // Pause on the last event shown, so that the link (which names the
                        // step) reopens exactly this picture and time.
                        next.cursor = tl.at_step(c.step);
                    }
                }
                PlayerAction::StepEvent(forward) => {
                    next.playing = false;
                    next.cursor = tl.step_event(c, forward);
                }
                PlayerAction::StepRound(forward) => {
                    next.playing = false;
                    next.cursor = tl.step_round(c, forward);
                }
                PlayerAction::Restart => next.cursor = tl.at_step(0),
                PlayerAction::ScrubTo(frac) => {
                    let frac = if frac.is_finite() { frac.clamp(0.0, 1.0) } else { 0.0 };
                    next.cursor = tl.at_time(frac * tl.duration());
                    // Land on an event, as a paused player does (the link names the step).
                    if !state.playing {
                        next.cursor = tl.at_step(next.cursor.step);
                    }
                }
                PlayerAction::Speed(s) => next.speed = s,
                PlayerAction::End => {
                    next.playing = false;
                    next.cursor = tl.at_step(tl.steps());
                }
            }
        }
    }
    if next != *state {
        next.tick = state.tick.wrapping_add(1);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loaded::load_trace;
    use livemig_core::trace::TraceDetail;

    fn run(algorithm: &str) -> Rc<Loaded> {
        let s = crate::test_scenarios::small("web-server");
        load_trace(livemig_core::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap().trace, false).unwrap()
    }

    fn loaded(algorithm: &str) -> Player {
        reduce(&Player::default(), Action::Simulated(Ok(run(algorithm)), None))
    }

    fn act(p: &Player, a: PlayerAction) -> Player {
        reduce(p, Action::Control(a))
    }

    #[test]
    fn play_advances_by_wall_time_and_pause_lands_on_an_event() {
        let p = loaded("precopy-xen");
        let duration = p.run.as_ref().unwrap().timeline.duration();
        assert_eq!((p.cursor, p.playing), (Cursor::default(), false));
        let unchanged = reduce(&p, Action::Frame(0.05));
        assert_eq!(unchanged, p, "a paused player ignores frames");
        assert_eq!(unchanged.tick, p.tick, "and does not redraw");
        let playing = act(&p, PlayerAction::PlayPause);
        assert!(playing.playing && playing.tick > p.tick);
        let first = reduce(&playing, Action::Frame(0.0));
        assert_eq!(first.cursor.now, 0.0, "the first frame sets the clock going");
        let later = reduce(&first, Action::Frame(0.05));
        let expected = 0.05 * duration / BASE_WALL_SECONDS;
        assert!((later.cursor.now - expected).abs() < 1e-12, "{} vs {expected}", later.cursor.now);
        let tl = &later.run.as_ref().unwrap().timeline;
        assert_eq!(later.cursor, tl.at_time(expected));
        let held = reduce(&later, Action::Frame(30.0));
        assert!(
            (held.cursor.now - later.cursor.now - MAX_FRAME_SECONDS * duration / BASE_WALL_SECONDS).abs() < 1e-12,
            "a long gap counts as 0.1 s"
        );
        let paused = act(&held, PlayerAction::PlayPause);
        assert!(!paused.playing);
        assert_eq!(paused.cursor, tl.at_step(held.cursor.step), "paused on the last event shown");
        assert_eq!(paused.link_step(), Some(paused.cursor.step).filter(|&s| s > 0));
        assert_eq!(held.link_step(), None, "no step in the link while playing");
    }

    #[test]
    fn speed_multiplies_the_pace() {
        let p = act(&act(&loaded("precopy-xen"), PlayerAction::Speed(4.0)), PlayerAction::PlayPause);
        assert_eq!(p.speed, 4.0);
        let duration = p.run.as_ref().unwrap().timeline.duration();
        let q = reduce(&p, Action::Frame(0.05));
        assert!((q.cursor.now - 4.0 * 0.05 * duration / BASE_WALL_SECONDS).abs() < 1e-12);
    }

    #[test]
    fn steps_go_by_event_and_round_both_ways_and_pause() {
        let p = act(&loaded("precopy-xen"), PlayerAction::PlayPause);
        let tl = Rc::clone(&p.run.as_ref().unwrap().timeline);
        let a = act(&p, PlayerAction::StepEvent(true));
        assert!(!a.playing);
        assert_eq!(a.cursor, tl.step_event(p.cursor, true));
        assert!(a.cursor.step > 0);
        let b = act(&a, PlayerAction::StepRound(true));
        assert_eq!(b.cursor, tl.step_round(a.cursor, true));
        assert!(b.cursor.step > a.cursor.step);
        let c = act(&b, PlayerAction::StepRound(false));
        assert!(c.cursor.step < b.cursor.step);
        let d = act(&act(&c, PlayerAction::StepEvent(true)), PlayerAction::StepEvent(false));
        assert_eq!(d.cursor.now, c.cursor.now, "one event forward and back");
        assert_eq!(act(&d, PlayerAction::Restart).cursor, Cursor::default());
    }

    #[test]
    fn scrubbing_lands_on_an_event_when_paused_and_between_events_when_playing() {
        let p = loaded("postcopy-bubbling");
        let tl = Rc::clone(&p.run.as_ref().unwrap().timeline);
        let half = tl.duration() * 0.5;
        let paused = act(&p, PlayerAction::ScrubTo(0.5));
        assert_eq!(paused.cursor, tl.at_step(tl.at_time(half).step));
        let playing = act(&act(&p, PlayerAction::PlayPause), PlayerAction::ScrubTo(0.5));
        assert!(playing.playing);
        assert_eq!(playing.cursor, tl.at_time(half));
        assert_eq!(act(&p, PlayerAction::ScrubTo(f64::NAN)).cursor, tl.at_step(tl.at_time(0.0).step), "NaN: the start");
        assert_eq!(act(&p, PlayerAction::ScrubTo(7.0)).cursor, tl.at_step(tl.steps()));
    }

    #[test]
    fn reaching_the_end_stops_and_play_starts_again() {
        let mut p = act(&loaded("tsmc"), PlayerAction::PlayPause);
        let mut frames = 0;
        while p.playing {
            p = reduce(&p, Action::Frame(MAX_FRAME_SECONDS));
            frames += 1;
            assert!(frames < 10_000);
        }
        assert!(p.at_end());
        assert!(frames >= (BASE_WALL_SECONDS / MAX_FRAME_SECONDS) as usize, "about 20 s of frames at speed 1: {frames}");
        let again = act(&p, PlayerAction::PlayPause);
        assert!(again.playing);
        assert_eq!(again.cursor, Cursor::default());
        let end = act(&again, PlayerAction::End);
        assert!(end.at_end() && !end.playing);
    }

    #[test]
    fn loading_a_new_run_pauses_keeps_the_speed_and_opens_at_the_links_step() {
        let p = act(&act(&loaded("precopy-xen"), PlayerAction::Speed(2.0)), PlayerAction::PlayPause);
        let other = run("postcopy-demand");
        let q = reduce(&p, Action::Simulated(Ok(Rc::clone(&other)), Some(7)));
        assert!(!q.playing && q.speed == 2.0 && q.tick > p.tick);
        assert_eq!(q.cursor, other.timeline.at_step(7));
        assert!(Rc::ptr_eq(q.run.as_ref().unwrap(), &other));
        let failed = reduce(&q, Action::Simulated(Err("bad".into()), None));
        assert!(failed.run.is_none() && failed.error.as_deref() == Some("bad"));
        assert_eq!(act(&failed, PlayerAction::PlayPause), failed, "nothing to play");
        let back = reduce(&failed, Action::Opened(Ok(Rc::clone(&other))));
        assert!(back.error.is_none() && back.cursor == Cursor::default());
        let unreadable = reduce(&back, Action::Opened(Err("not a trace".into())));
        assert!(unreadable.run.is_some() && unreadable.error.is_some(), "a bad file keeps the run");
    }
}
