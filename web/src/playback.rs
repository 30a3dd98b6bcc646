//! Playback of a trace: what both hosts' pages look like at any moment, for drawing and scrubbing.
//!
//! A [`Trace`] is a list of timestamped events. Playback turns it into a timeline of *effects*
//! (each event at its time, and for every page transmission a second effect when it arrives) and
//! keeps one byte of state per page and host. Moving forward applies effects; moving backwards
//! restores the nearest checkpoint and applies forward from there. Checkpoints are taken whenever
//! about one VM's worth of page updates has happened since the last one, so a seek never touches
//! more than about two VMs' worth of pages, whatever the trace's length.
//!
//! Live metrics come from the core's [`ReportBuilder`] fed with the same events, so the numbers
//! on screen at the end of a run are exactly the CLI's `livemig simulate --json` report.

use livemig_core::algorithms::Downtime;
use livemig_core::context::{CoordinatorState, Encoding, RoundKind};
use livemig_core::report::{Report, ReportBuilder};
use livemig_core::trace::{DataKind, Event, Trace, TraceDetail};
use std::rc::Rc;

/// The largest VM the playground animates, in pages (16 Mi pages: 64 GiB of 4 KiB pages).
pub const MAX_PAGES: u64 = 1 << 24;

/// State of a page on the source host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SourcePage {
    /// Not sent yet.
    NotSent = 0,
    /// Sent, and not written since.
    Sent = 1,
    /// Written after it was sent: the destination's copy is stale.
    Dirty = 2,
}

/// State of a page on the destination host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DestPage {
    /// Not there (not received yet, or absent in post-copy).
    Absent = 0,
    /// Received as a full page.
    Full = 1,
    /// Received as a zero-page flag (or known free).
    Zero = 2,
    /// Received compressed (WKdm or LZ4).
    Compressed = 3,
    /// Received as a delta against the previous version (XBZRLE).
    Delta = 4,
    /// The guest touched it while absent and waits for it.
    Faulted = 5,
}

/// What a grid cell shows (one or more pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// Source: not sent yet.
    NotSent,
    /// Source: sent and clean.
    Sent,
    /// Source: dirtied after being sent.
    Dirty,
    /// Either host: on the wire right now.
    InFlight,
    /// Destination: absent.
    Absent,
    /// Destination: present (full page).
    Present,
    /// Destination: zero page.
    Zero,
    /// Destination: arrived compressed.
    Compressed,
    /// Destination: arrived as a delta.
    Delta,
    /// Destination: faulted, the guest waits.
    Faulted,
}

impl CellKind {
    /// Every state, in the legend's order.
    pub const ALL: [CellKind; 10] = [
        CellKind::NotSent,
        CellKind::Sent,
        CellKind::Dirty,
        CellKind::InFlight,
        CellKind::Absent,
        CellKind::Present,
        CellKind::Zero,
        CellKind::Compressed,
        CellKind::Delta,
        CellKind::Faulted,
    ];

    /// Colour as RGB: the Okabe–Ito palette, which stays distinct for the common colour-vision
    /// deficiencies; every state also has a mark ([`crate::page_marks`]).
    pub fn rgb(self) -> [u8; 3] {
        match self {
            CellKind::NotSent | CellKind::Absent => [0xe4, 0xe7, 0xeb],
            CellKind::Sent | CellKind::Present => [0x00, 0x9e, 0x73],
            CellKind::Dirty => [0xe6, 0x9f, 0x00],
            CellKind::InFlight => [0x00, 0x72, 0xb2],
            CellKind::Zero => [0xf0, 0xe4, 0x42],
            CellKind::Compressed => [0xcc, 0x79, 0xa7],
            CellKind::Delta => [0x56, 0xb4, 0xe9],
            CellKind::Faulted => [0xd5, 0x5e, 0x00],
        }
    }
    /// CSS colour.
    pub fn css(self) -> String {
        let [r, g, b] = self.rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }
    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            CellKind::NotSent => "not yet sent",
            CellKind::Sent => "sent, clean",
            CellKind::Dirty => "dirtied after being sent",
            CellKind::InFlight => "in flight",
            CellKind::Absent => "absent",
            CellKind::Present => "present",
            CellKind::Zero => "zero page",
            CellKind::Compressed => "compressed",
            CellKind::Delta => "delta-encoded",
            CellKind::Faulted => "faulted (guest waits)",
        }
    }
    /// The kinds a source grid shows, in legend order.
    pub const SOURCE: [CellKind; 4] = [CellKind::NotSent, CellKind::Sent, CellKind::Dirty, CellKind::InFlight];
    /// The kinds a destination grid shows, in legend order.
    pub const DEST: [CellKind; 7] =
        [CellKind::Absent, CellKind::InFlight, CellKind::Present, CellKind::Zero, CellKind::Compressed, CellKind::Delta, CellKind::Faulted];
}

/// Where the VM runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmAt {
    /// On the source (before switch-over, or after a cancelled migration).
    Source,
    /// Paused: the downtime.
    Paused,
    /// On the destination.
    Destination,
    /// Stopped and not resumed (a failed migration).
    Nowhere,
}

/// Which host a grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The source host.
    Source,
    /// The destination host.
    Destination,
}

/// Why a trace cannot be played.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlaybackError {
    /// The VM has too many pages to animate.
    #[error("trace page_count {0} is too large to animate: accepted 1..={MAX_PAGES}")]
    TooManyPages(u64),
    /// An event names a page outside the VM.
    #[error("trace event {index} names page {page}, outside the VM's {page_count} pages")]
    PageOutOfRange {
        /// Event index.
        index: usize,
        /// The page.
        page: u64,
        /// Pages in the VM.
        page_count: u64,
    },
    /// An event time is not a finite number of seconds at or after the previous event's.
    #[error("trace event {index} has time {t}: times must be finite, not negative and in order")]
    BadTime {
        /// Event index.
        index: usize,
        /// Its time.
        t: f64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Effect {
    /// Trace event `i` happens.
    Event(usize),
    /// The pages of `PagesSent` event `i` arrive on the destination.
    Arrive(usize),
}

/// What the migration is doing, in words, at the current moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseView {
    /// Short name: "Round 3", "Stop-and-copy", "Resumed on destination: push", ...
    pub title: String,
    /// One or two plain sentences of what the algorithm does now.
    pub caption: String,
}

/// A batch of pages on the wire, for the link animation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flight {
    /// 0 when it left, 1 when it arrives.
    pub progress: f64,
    /// Pages in the batch.
    pub count: u64,
    /// How they are encoded.
    pub encoding: Encoding,
    /// Sent on the priority (fault) channel.
    pub priority: bool,
}

#[derive(Debug, Clone)]
struct State {
    /// Effects applied so far.
    next: usize,
    src: Vec<u8>,
    dst: Vec<u8>,
    report: ReportBuilder,
    /// Pages sent at least once.
    distinct: u64,
    round: Option<(u32, RoundKind)>,
    paused: bool,
    resumed: bool,
    ended: bool,
    coordinator: Option<CoordinatorState>,
    /// Index of the last fault raised and whether it has been served.
    last_fault: Option<(u64, bool)>,
    /// Workload phase name, if the workload has phases.
    workload_phase: Option<String>,
}

/// A position in a run: the effects applied and the time shown (between two effects while
/// playing, at the last one applied when paused or stepped).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cursor {
    /// Effects applied (the "step" of a shared link).
    pub step: usize,
    /// Seconds of the run.
    pub now: f64,
}

/// A trace's effects in time order: what a [`Cursor`] moves along. It never changes once built,
/// so a player moves its cursor (play, step, scrub) without touching the page states, which
/// [`Playback::show`] brings to a cursor afterwards.
#[derive(Debug)]
pub struct Timeline {
    trace: Rc<Trace>,
    times: Vec<f64>,
    effects: Vec<Effect>,
}

impl Timeline {
    /// The trace.
    pub fn trace(&self) -> &Rc<Trace> {
        &self.trace
    }

    /// Time of the last effect, seconds.
    pub fn duration(&self) -> f64 {
        self.times.last().copied().unwrap_or(0.0)
    }

    /// Number of effects.
    pub fn steps(&self) -> usize {
        self.effects.len()
    }

    /// Whether `c` is at the end.
    pub fn at_end(&self, c: Cursor) -> bool {
        c.step >= self.effects.len()
    }

    /// The cursor at time `t` (clamped to the trace): every effect at or before it applied.
    pub fn at_time(&self, t: f64) -> Cursor {
        let now = if t.is_finite() { t.clamp(0.0, self.duration()) } else { 0.0 };
        Cursor { step: self.times.partition_point(|&x| x <= now), now }
    }

    /// The cursor just after `step` effects (clamped), at the time of the last one applied.
    pub fn at_step(&self, step: usize) -> Cursor {
        let step = step.min(self.effects.len());
        Cursor { step, now: if step == 0 { 0.0 } else { self.times[step - 1] } }
    }

    /// The next (or previous) moment something happens after (before) `c`.
    pub fn step_event(&self, c: Cursor, forward: bool) -> Cursor {
        if forward {
            let n = c.step;
            if n >= self.times.len() {
                return c;
            }
            // Take every effect at the same instant together.
            let t = self.times[n].max(c.now);
            let end = self.times.partition_point(|&x| x <= t);
            self.at_step(end.max(n + 1))
        } else {
            let before = self.times.partition_point(|&x| x < c.now);
            if before == 0 {
                self.at_step(0)
            } else {
                let prev = self.times[before - 1];
                self.at_step(self.times.partition_point(|&x| x <= prev))
            }
        }
    }

    /// The start of the next (or previous) round or switch-over after (before) `c`.
    pub fn step_round(&self, c: Cursor, forward: bool) -> Cursor {
        let is_mark = |i: usize| match self.effects[i] {
            Effect::Event(e) => matches!(
                self.trace.events[e].event,
                Event::RoundStarted { .. } | Event::SourcePaused | Event::DestinationResumed | Event::MigrationEnded { .. }
            ),
            Effect::Arrive(_) => false,
        };
        if forward {
            let to = (c.step..self.effects.len()).find(|&i| is_mark(i)).map_or(self.effects.len(), |i| i + 1);
            self.at_step(to)
        } else {
            let cur = c.step.saturating_sub(1);
            let to = (0..cur).rev().find(|&i| is_mark(i)).map_or(0, |i| i + 1);
            self.at_step(to)
        }
    }
}

/// A trace ready to play: its [`Timeline`] and both hosts' page states at one cursor.
#[derive(Debug, Clone)]
pub struct Playback {
    timeline: Rc<Timeline>,
    /// (start, arrive, event index) of every page transmission, by start.
    sends: Vec<(f64, f64, usize)>,
    longest_flight: f64,
    checkpoints: Vec<State>,
    state: State,
    now: f64,
    /// What crosses the link during the downtime (from the registry; unknown algorithms: none).
    downtime: Option<Downtime>,
    /// The destination states this run ever shows, in legend order.
    dest_kinds: Vec<CellKind>,
}

fn check_runs(index: usize, runs: &livemig_core::trace::PageRuns, page_count: u64) -> Result<(), PlaybackError> {
    for &[start, len] in &runs.0 {
        if start.checked_add(len).is_none_or(|end| end > page_count) {
            return Err(PlaybackError::PageOutOfRange { index, page: start.saturating_add(len.saturating_sub(1)), page_count });
        }
    }
    Ok(())
}

impl Playback {
    /// Prepares `trace` for playing, checking every page number and time in it.
    pub fn new(trace: Rc<Trace>) -> Result<Playback, PlaybackError> {
        let page_count = trace.page_count;
        if page_count == 0 || page_count > MAX_PAGES {
            return Err(PlaybackError::TooManyPages(page_count));
        }
        let mut keyed: Vec<(f64, usize, Effect)> = Vec::with_capacity(trace.events.len() * 2);
        let mut sends = Vec::new();
        let mut last = 0.0f64;
        let mut longest_flight = 0.0f64;
        for (i, e) in trace.events.iter().enumerate() {
            if !e.t.is_finite() || e.t < last {
                return Err(PlaybackError::BadTime { index: i, t: e.t });
            }
            last = e.t;
            keyed.push((e.t, keyed.len(), Effect::Event(i)));
            match &e.event {
                Event::PagesSent { arrive, pages, .. } => {
                    check_runs(i, pages, page_count)?;
                    let arrive = if arrive.is_finite() && *arrive >= e.t {
                        *arrive
                    } else {
                        return Err(PlaybackError::BadTime { index: i, t: *arrive });
                    };
                    keyed.push((arrive, keyed.len(), Effect::Arrive(i)));
                    sends.push((e.t, arrive, i));
                    longest_flight = longest_flight.max(arrive - e.t);
                }
                Event::DataSent { pages, .. } | Event::PagesDirtied { pages, .. } | Event::PagesDropped { pages, .. } => {
                    check_runs(i, pages, page_count)?
                }
                Event::FaultRaised { page, .. } | Event::FaultServed { page, .. } | Event::GuestAccess { page, .. }
                    if *page >= page_count =>
                {
                    return Err(PlaybackError::PageOutOfRange { index: i, page: *page, page_count })
                }
                _ => {}
            }
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let downtime = livemig_core::algorithms::find(&trace.algorithm).map(|a| a.downtime);
        let dest_kinds = Self::dest_kinds_of(&trace);
        let state = State {
            next: 0,
            src: vec![SourcePage::NotSent as u8; page_count as usize],
            dst: vec![DestPage::Absent as u8; page_count as usize],
            report: ReportBuilder::new(&trace),
            distinct: 0,
            round: None,
            paused: false,
            resumed: false,
            ended: false,
            coordinator: None,
            last_fault: None,
            workload_phase: None,
        };
        let timeline =
            Rc::new(Timeline { times: keyed.iter().map(|k| k.0).collect(), effects: keyed.iter().map(|k| k.2).collect(), trace });
        let mut p = Playback { timeline, sends, longest_flight, checkpoints: vec![state.clone()], state, now: 0.0, downtime, dest_kinds };
        p.build_checkpoints();
        Ok(p)
    }

    /// Plays the whole trace once, keeping a checkpoint after about every VM's worth of page
    /// updates (and every 4096 effects), then rewinds.
    fn build_checkpoints(&mut self) {
        let budget = self.timeline.trace.page_count.max(4096);
        let mut work = 0u64;
        let mut since = 0usize;
        while self.state.next < self.timeline.effects.len() {
            work += self.apply_next();
            since += 1;
            if work >= budget || since >= 4096 {
                self.checkpoints.push(self.state.clone());
                work = 0;
                since = 0;
            }
        }
        self.state = self.checkpoints[0].clone();
    }

    /// The destination states that some moment of `trace` shows.
    fn dest_kinds_of(trace: &Trace) -> Vec<CellKind> {
        let (mut zero, mut compressed, mut delta, mut faulted) = (false, false, false, false);
        for e in &trace.events {
            match &e.event {
                Event::PagesSent { encoding: Encoding::Zero, .. } => zero = true,
                Event::PagesSent { encoding: Encoding::Delta, .. } => delta = true,
                Event::PagesSent { encoding: Encoding::Full, .. } => {}
                Event::PagesSent { .. } => compressed = true,
                Event::DataSent { what: DataKind::FreePageList, .. } => zero = true,
                Event::FaultRaised { .. } => faulted = true,
                _ => {}
            }
        }
        CellKind::DEST
            .into_iter()
            .filter(|k| match k {
                CellKind::Zero => zero,
                CellKind::Compressed => compressed,
                CellKind::Delta => delta,
                CellKind::Faulted => faulted,
                _ => true,
            })
            .collect()
    }

    /// The states a grid of `side` shows at some moment of this run, in legend order.
    pub fn kinds_in_run(&self, side: Side) -> &[CellKind] {
        match side {
            Side::Source => &CellKind::SOURCE,
            Side::Destination => &self.dest_kinds,
        }
    }

    /// The trace being played.
    pub fn trace(&self) -> &Rc<Trace> {
        &self.timeline.trace
    }

    /// The run's timeline (shared: it never changes).
    pub fn timeline(&self) -> &Rc<Timeline> {
        &self.timeline
    }

    /// Whether the trace names pages (a summary trace only has counts: the grids stay still).
    pub fn has_pages(&self) -> bool {
        self.timeline.trace.detail >= TraceDetail::Pages
    }

    /// Time of the last effect, seconds.
    pub fn duration(&self) -> f64 {
        self.timeline.duration()
    }

    /// The current time, seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Effects applied so far (the "step" of a shared link).
    pub fn step(&self) -> usize {
        self.state.next
    }

    /// Number of effects.
    pub fn steps(&self) -> usize {
        self.timeline.steps()
    }

    /// Whether the end has been reached.
    pub fn at_end(&self) -> bool {
        self.state.next >= self.timeline.steps()
    }

    /// Where the page states are now.
    pub fn cursor(&self) -> Cursor {
        Cursor { step: self.state.next, now: self.now }
    }

    /// Applies the next effect; returns the number of page updates it made.
    fn apply_next(&mut self) -> u64 {
        let effect = self.timeline.effects[self.state.next];
        self.state.next += 1;
        let timeline = Rc::clone(&self.timeline);
        let trace = &timeline.trace;
        let s = &mut self.state;
        match effect {
            Effect::Arrive(i) => {
                let Event::PagesSent { encoding, pages, .. } = &trace.events[i].event else { return 0 };
                let to = match encoding {
                    Encoding::Full => DestPage::Full,
                    Encoding::Zero => DestPage::Zero,
                    Encoding::Delta => DestPage::Delta,
                    _ => DestPage::Compressed,
                } as u8;
                pages.iter().for_each(|p| s.dst[p as usize] = to);
                pages.0.iter().map(|r| r[1]).sum()
            }
            Effect::Event(i) => {
                let e = &trace.events[i];
                s.report.push(e);
                match &e.event {
                    Event::PagesSent { pages, .. } => {
                        for p in pages.iter() {
                            let v = &mut s.src[p as usize];
                            s.distinct += u64::from(*v == SourcePage::NotSent as u8);
                            *v = SourcePage::Sent as u8;
                        }
                        pages.0.iter().map(|r| r[1]).sum()
                    }
                    Event::PagesDirtied { pages, .. } => {
                        for p in pages.iter() {
                            let v = &mut s.src[p as usize];
                            if *v == SourcePage::Sent as u8 {
                                *v = SourcePage::Dirty as u8;
                            }
                        }
                        pages.0.iter().map(|r| r[1]).sum()
                    }
                    Event::DataSent { what, pages, .. } => {
                        let to = match what {
                            DataKind::DirtyBitmap => DestPage::Absent,
                            DataKind::FreePageList => DestPage::Zero,
                            DataKind::State => return 0,
                        } as u8;
                        pages.iter().for_each(|p| s.dst[p as usize] = to);
                        pages.0.iter().map(|r| r[1]).sum()
                    }
                    Event::FaultRaised { page, .. } => {
                        s.dst[*page as usize] = DestPage::Faulted as u8;
                        s.last_fault = Some((*page, false));
                        1
                    }
                    Event::FaultServed { page, .. } => {
                        if s.dst[*page as usize] == DestPage::Faulted as u8 {
                            s.dst[*page as usize] = DestPage::Full as u8;
                        }
                        s.last_fault = Some((*page, true));
                        1
                    }
                    Event::RoundStarted { round, kind, .. } => {
                        s.round = Some((*round, *kind));
                        0
                    }
                    Event::SourcePaused => {
                        s.paused = true;
                        0
                    }
                    Event::DestinationResumed => {
                        s.resumed = true;
                        0
                    }
                    Event::MigrationEnded { .. } => {
                        s.ended = true;
                        0
                    }
                    Event::Coordinator { state, .. } => {
                        s.coordinator = Some(*state);
                        0
                    }
                    Event::PhaseChanged { name, .. } => {
                        s.workload_phase = Some(name.clone());
                        0
                    }
                    _ => 0,
                }
            }
        }
    }

    /// Brings the page states to `c` (a cursor of this run's [`Timeline`]): forward by applying
    /// effects, backwards from the nearest checkpoint.
    pub fn show(&mut self, c: Cursor) {
        let target = c.step.min(self.timeline.steps());
        if target < self.state.next {
            let cp = self.checkpoints.partition_point(|c| c.next <= target) - 1;
            self.state = self.checkpoints[cp].clone();
        } else if let Some(cp) = self.checkpoints.get(self.checkpoints.partition_point(|c| c.next <= target).wrapping_sub(1)) {
            // Jump ahead through a checkpoint when one lies between here and the target.
            if cp.next > self.state.next {
                self.state = cp.clone();
            }
        }
        while self.state.next < target {
            self.apply_next();
        }
        self.now = c.now;
    }

    /// Moves to time `t` (clamped to the trace), applying every effect at or before it.
    pub fn seek(&mut self, t: f64) {
        self.show(self.timeline.at_time(t));
    }

    /// Moves to just after `step` effects (clamped), at the time of the last one applied.
    pub fn seek_step(&mut self, step: usize) {
        self.show(self.timeline.at_step(step));
    }

    /// Steps to the next (or previous) moment something happens.
    pub fn step_event(&mut self, forward: bool) {
        self.show(self.timeline.step_event(self.cursor(), forward));
    }

    /// Steps to the start of the next (or previous) round or switch-over.
    pub fn step_round(&mut self, forward: bool) {
        self.show(self.timeline.step_round(self.cursor(), forward));
    }

    /// The metrics so far.
    pub fn report(&self) -> Report {
        self.state.report.report(Some(self.now))
    }

    /// Pages sent more than once so far (transmissions minus distinct pages sent); at the end
    /// of a page-detail trace this equals the report's `duplicate_pages`.
    pub fn duplicates_so_far(&self) -> u64 {
        if self.state.ended {
            return self.report().duplicate_pages;
        }
        self.state.report.report(None).pages_sent.saturating_sub(self.state.distinct)
    }

    /// Batches on the wire at the current time.
    pub fn flights(&self) -> Vec<Flight> {
        let now = self.now;
        let last = if self.state.next == 0 { 0 } else { self.sends.partition_point(|s| s.0 <= now) };
        let mut out = Vec::new();
        for &(start, arrive, i) in self.sends[..last].iter().rev() {
            if start < now - self.longest_flight {
                break;
            }
            if arrive > now {
                if let Event::PagesSent { count, encoding, channel, .. } = &self.timeline.trace.events[i].event {
                    let span = (arrive - start).max(1e-12);
                    out.push(Flight {
                        progress: ((now - start) / span).clamp(0.0, 1.0),
                        count: *count,
                        encoding: *encoding,
                        priority: *channel == livemig_core::context::Channel::Priority,
                    });
                }
            }
        }
        out.reverse();
        out
    }

    /// Page counts per state on one host now; "in flight" counts the pages on the wire (which
    /// are also counted in their host state).
    pub fn counts(&self, side: Side) -> Vec<(CellKind, u64)> {
        let mut hist = [0u64; 6];
        let states = match side {
            Side::Source => &self.state.src,
            Side::Destination => &self.state.dst,
        };
        states.iter().for_each(|&v| hist[v as usize] += 1);
        let flying: u64 = self.flights().iter().map(|f| f.count).sum();
        let all: &[CellKind] = match side {
            Side::Source => &CellKind::SOURCE,
            Side::Destination => &CellKind::DEST,
        };
        all.iter()
            .map(|&k| {
                let n = match k {
                    CellKind::NotSent | CellKind::Absent => hist[0],
                    CellKind::Sent | CellKind::Present => hist[1],
                    CellKind::Dirty | CellKind::Zero => hist[2],
                    CellKind::Compressed => hist[3],
                    CellKind::Delta => hist[4],
                    CellKind::Faulted => hist[5],
                    CellKind::InFlight => flying,
                };
                (k, n)
            })
            .collect()
    }

    /// Where the VM runs now.
    pub fn vm_at(&self) -> VmAt {
        let s = &self.state;
        match (s.paused, s.resumed) {
            (_, true) => VmAt::Destination,
            (true, false) if s.ended => VmAt::Nowhere,
            (true, false) => VmAt::Paused,
            (false, _) => VmAt::Source,
        }
    }

    fn in_flight_mask(&self, pages_per_cell: u64, cells: usize) -> Vec<bool> {
        let now = self.now;
        let mut mask = vec![false; cells];
        let last = if self.state.next == 0 { 0 } else { self.sends.partition_point(|s| s.0 <= now) };
        for &(start, arrive, i) in self.sends[..last].iter().rev() {
            if start < now - self.longest_flight {
                break;
            }
            if arrive > now {
                if let Event::PagesSent { pages, .. } = &self.timeline.trace.events[i].event {
                    for &[s, n] in &pages.0 {
                        let (a, b) = (s / pages_per_cell, (s + n - 1) / pages_per_cell);
                        mask[a as usize..=b as usize].iter_mut().for_each(|m| *m = true);
                    }
                }
            }
        }
        mask
    }

    /// The page states of `side` and the cell kinds they map to, in the states' order.
    fn side_states(&self, side: Side) -> (&[u8], &'static [CellKind]) {
        match side {
            Side::Source => (&self.state.src, &[CellKind::NotSent, CellKind::Sent, CellKind::Dirty]),
            Side::Destination => (
                &self.state.dst,
                &[CellKind::Absent, CellKind::Present, CellKind::Zero, CellKind::Compressed, CellKind::Delta, CellKind::Faulted],
            ),
        }
    }

    /// What a cell of these page states shows, leaving aside the pages in flight: "faulted" on
    /// the destination if any of its pages is, otherwise the state most of its pages are in.
    fn chunk_kind(side: Side, chunk: &[u8], kinds: &[CellKind]) -> CellKind {
        let mut hist = [0u32; 6];
        for &v in chunk {
            hist[v as usize] += 1;
        }
        if side == Side::Destination && hist[DestPage::Faulted as usize] > 0 {
            CellKind::Faulted
        } else {
            let best = (0..kinds.len()).max_by_key(|&k| (hist[k], std::cmp::Reverse(k))).unwrap_or(0);
            kinds[best]
        }
    }

    /// What each cell of a grid with `pages_per_cell` pages per cell shows on `side`.
    ///
    /// A cell shows "faulted" or "in flight" if any of its pages is, otherwise the state most of
    /// its pages are in.
    pub fn cell_kinds_of(&self, side: Side, pages_per_cell: u64) -> Vec<CellKind> {
        self.cell_kinds_cached(side, pages_per_cell, &mut CellCache::default())
    }

    /// [`Self::cell_kinds_of`], recomputing only the cells whose pages changed since `cache` was
    /// last filled (for this side and cell size): an animation frame changes a few cells of a
    /// big VM, and comparing page states a cell at a time is far cheaper than counting them.
    pub fn cell_kinds_cached(&self, side: Side, pages_per_cell: u64, cache: &mut CellCache) -> Vec<CellKind> {
        let ppc = pages_per_cell.max(1) as usize;
        let (states, kinds) = self.side_states(side);
        let cells = states.len().div_ceil(ppc);
        if cache.key != Some((side, ppc)) || cache.states.len() != states.len() {
            cache.key = Some((side, ppc));
            cache.states = states.to_vec();
            cache.base = states.chunks(ppc).map(|c| Self::chunk_kind(side, c, kinds)).collect();
        } else {
            for ((chunk, old), base) in states.chunks(ppc).zip(cache.states.chunks_mut(ppc)).zip(cache.base.iter_mut()) {
                if chunk != old {
                    old.copy_from_slice(chunk);
                    *base = Self::chunk_kind(side, chunk, kinds);
                }
            }
        }
        let flying = self.in_flight_mask(ppc as u64, cells);
        cache.base.iter().zip(flying).map(|(&b, f)| if f && b != CellKind::Faulted { CellKind::InFlight } else { b }).collect()
    }

    /// Paints `side` into an RGBA buffer of `grid.cols x grid.rows` pixels, one per cell.
    pub fn paint(&self, side: Side, grid: &Grid, rgba: &mut Vec<u8>) {
        let kinds = self.cell_kinds_of(side, grid.pages_per_cell);
        rgba.clear();
        rgba.resize(grid.cols as usize * grid.rows as usize * 4, 0xff);
        for (px, k) in rgba.chunks_exact_mut(4).zip(kinds.iter().map(|k| k.rgb()).chain(std::iter::repeat([0xff, 0xff, 0xff]))) {
            px[..3].copy_from_slice(&k);
            px[3] = 0xff;
        }
    }

    /// What is happening now, in words.
    pub fn phase(&self) -> PhaseView {
        let s = &self.state;
        let (title, caption): (String, String) = if s.ended {
            let r = self.report();
            let outcome =
                if r.completed { "The VM runs on the destination with all its memory there." } else { "The migration did not complete." };
            ("Finished".into(), format!("{outcome} Stop reason: {}.", r.stop_reason))
        } else if let Some((page, false)) = s.last_fault.filter(|_| s.resumed) {
            (
                "Fault".into(),
                format!("The guest touched page {page}, which is not on the destination yet: it waits while the page is fetched over the network."),
            )
        } else if s.paused && !s.resumed {
            (
                "Stop-and-copy".into(),
                match self.downtime {
                    Some(Downtime::DirtyBitmap) => {
                        "The VM is paused: only the dirty bitmap and the CPU state cross the link; dirty pages come later.".into()
                    }
                    Some(Downtime::StateFirst) => {
                        "The VM is paused: its CPU state (and the working set, for hybrid) crosses the link, then it resumes on the destination.".into()
                    }
                    Some(Downtime::LastDirtyPages) | None => {
                        "The VM is paused (this is the downtime): the last dirty pages and the CPU state cross the link.".into()
                    }
                },
            )
        } else if s.resumed {
            let served = if s.last_fault.is_some() { " The last fault has been served." } else { "" };
            (
                "Resumed on destination: push".into(),
                format!("The VM runs on the destination. The source pushes the remaining pages; a page the guest needs first is fetched on demand.{served}"),
            )
        } else if let Some(CoordinatorState::Pending) | Some(CoordinatorState::Withdrawn) = s.coordinator {
            (
                "Waiting for a calm phase".into(),
                "The migration was requested; the coordinator waits for the workload to enter a calm region before copying.".into(),
            )
        } else if let Some((round, kind)) = s.round {
            match kind {
                RoundKind::Live if round == 1 => (
                    "Round 1".into(),
                    "The VM keeps running on the source while every page is copied once; pages it writes meanwhile turn dirty.".into(),
                ),
                RoundKind::Live => (
                    format!("Round {round}"),
                    "The VM keeps running; only the pages dirtied during the previous round are sent again.".into(),
                ),
                RoundKind::StopAndCopy => {
                    ("Stop-and-copy".into(), "The VM is paused while the last pages and the CPU state are sent.".into())
                }
                RoundKind::PostCopy => ("Post-copy".into(), "The VM runs on the destination while pages are pushed and faulted in.".into()),
                RoundKind::Other => (format!("Step {round}"), String::new()),
            }
        } else {
            ("Ready".into(), "Press play (space) to start the migration.".into())
        };
        let caption = match &s.workload_phase {
            Some(p) if !s.ended => format!("{caption} Workload phase: {p}."),
            _ => caption,
        };
        PhaseView { title, caption }
    }
}

/// What [`Playback::cell_kinds_cached`] keeps between frames: the page states it last read and
/// each cell's kind then (pages in flight aside).
#[derive(Debug, Clone, Default)]
pub struct CellCache {
    key: Option<(Side, usize)>,
    states: Vec<u8>,
    base: Vec<CellKind>,
}

/// How pages map onto a grid of cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Pages per cell.
    pub pages_per_cell: u64,
    /// Cells used.
    pub cells: u64,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

impl Grid {
    /// A grid for `page_count` pages with at most `max_cells` cells, about twice as wide as high.
    pub fn new(page_count: u64, max_cells: u64) -> Grid {
        let max_cells = max_cells.max(1);
        let pages_per_cell = page_count.div_ceil(max_cells).max(1);
        let cells = page_count.div_ceil(pages_per_cell).max(1);
        let cols = ((cells as f64 * 2.0).sqrt().ceil() as u64).clamp(1, cells);
        let rows = cells.div_ceil(cols);
        Grid { pages_per_cell, cells, cols: cols as u32, rows: rows as u32 }
    }

    /// The grid for `page_count` pages that best fills a `width` x `height` box (CSS pixels):
    /// the fewest pages per cell (a power of two) whose cells, at least `min_cell` pixels
    /// square, fit in the box, then the largest cell size (at most `max_cell`) that still fits.
    /// Returns the grid and its cell size in pixels. A box too small for even one cell gets a
    /// one-cell-per-pixel grid of the old shape.
    pub fn fit(page_count: u64, width: f64, height: f64, min_cell: u32, max_cell: u32) -> (Grid, u32) {
        let page_count = page_count.max(1);
        let min_cell = min_cell.max(1);
        let max_cell = max_cell.max(min_cell);
        let across = |cell: u32| -> (u64, u64) {
            let c = f64::from(cell);
            ((width / c).floor().max(0.0) as u64, (height / c).floor().max(0.0) as u64)
        };
        let (w, h) = across(min_cell);
        if w == 0 || h == 0 {
            return (Grid::new(page_count, page_count.min(32_768)), 1);
        }
        let room = w * h;
        let mut pages_per_cell = 1u64;
        while page_count.div_ceil(pages_per_cell) > room {
            pages_per_cell *= 2;
        }
        let cells = page_count.div_ceil(pages_per_cell);
        let cell = (min_cell..=max_cell).rev().find(|&c| {
            let (w, h) = across(c);
            w * h >= cells
        });
        let cell = cell.unwrap_or(min_cell);
        let (w, _) = across(cell);
        // As many columns as fit, but no more than the cells need on a rectangle of the box's shape.
        let cols = w.clamp(1, cells);
        let rows = cells.div_ceil(cols);
        (Grid { pages_per_cell, cells, cols: cols as u32, rows: rows as u32 }, cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(preset: &str, algorithm: &str) -> Rc<Trace> {
        let s = crate::test_scenarios::small(preset);
        let run = livemig_core::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap();
        Rc::new(run.trace)
    }

    #[test]
    fn metrics_at_the_end_equal_the_report() {
        for a in ["precopy-xen", "postcopy-bubbling", "tsmc", "mecom", "hybrid"] {
            let t = run("web-server", a);
            let mut p = Playback::new(Rc::clone(&t)).unwrap();
            p.seek(f64::INFINITY);
            p.seek(p.duration());
            assert!(p.at_end());
            assert_eq!(p.report(), livemig_core::Report::from_trace(&t), "{a}");
            let end = p
                .timeline
                .effects
                .iter()
                .position(|e| matches!(e, Effect::Event(i) if matches!(t.events[*i].event, Event::MigrationEnded { .. })))
                .unwrap();
            p.seek_step(end);
            assert!(!p.state.ended);
            assert_eq!(
                p.duplicates_so_far(),
                livemig_core::Report::from_trace(&t).duplicate_pages,
                "{a}: counted live, duplicates agree with the report"
            );
        }
    }

    #[test]
    fn every_page_is_present_on_the_destination_at_the_end() {
        for a in ["precopy-xen", "postcopy-push", "tsmc", "delta", "hybrid"] {
            let t = run("web-server", a);
            let mut p = Playback::new(t).unwrap();
            p.seek(p.duration());
            let kinds = p.cell_kinds_of(Side::Destination, 1);
            assert!(kinds.iter().all(|k| !matches!(k, CellKind::Absent | CellKind::Faulted | CellKind::InFlight)), "{a}");
        }
    }

    #[test]
    fn cached_cell_kinds_equal_the_counted_ones_forwards_backwards_and_at_other_sizes() {
        for a in ["precopy-xen", "postcopy-bubbling", "tsmc"] {
            let t = run("web-server", a);
            let mut p = Playback::new(t).unwrap();
            let (mut src, mut dst) = (CellCache::default(), CellCache::default());
            let d = p.duration();
            for (i, frac) in [0.0, 0.01, 0.2, 0.2, 0.21, 0.6, 0.3, 0.95, 1.0, 0.0].into_iter().enumerate() {
                p.seek(d * frac);
                // The cell size changes now and then (a resized window): the cache starts afresh.
                let ppc = if i == 5 { 8 } else { 16 };
                for (side, cache) in [(Side::Source, &mut src), (Side::Destination, &mut dst)] {
                    assert_eq!(p.cell_kinds_cached(side, ppc, cache), p.cell_kinds_of(side, ppc), "{a} at {frac}, {side:?}");
                }
            }
            // One cache used for the other side is refilled, not misread.
            assert_eq!(p.cell_kinds_cached(Side::Destination, 16, &mut src), p.cell_kinds_of(Side::Destination, 16), "{a}");
        }
    }

    #[test]
    fn seeking_backwards_gives_the_same_state_as_playing_forwards() {
        let t = run("web-server", "postcopy-bubbling");
        let mut fresh = Playback::new(Rc::clone(&t)).unwrap();
        let mut scrubbed = Playback::new(t).unwrap();
        scrubbed.seek(scrubbed.duration());
        for frac in [0.9, 0.1, 0.5, 0.33, 0.0, 0.75] {
            let at = fresh.duration() * frac;
            scrubbed.seek(at);
            fresh = Playback::new(Rc::clone(fresh.trace())).unwrap();
            fresh.seek(at);
            assert_eq!(scrubbed.state.next, fresh.state.next);
            assert_eq!(scrubbed.state.src, fresh.state.src);
            assert_eq!(scrubbed.state.dst, fresh.state.dst);
            assert_eq!(scrubbed.report(), fresh.report());
            assert_eq!(scrubbed.phase(), fresh.phase());
        }
    }

    #[test]
    fn stepping_visits_rounds_in_order_and_back() {
        let t = run("web-server", "precopy-xen");
        let mut p = Playback::new(t).unwrap();
        let mut titles = Vec::new();
        while !p.at_end() {
            p.step_round(true);
            titles.push(p.phase().title);
        }
        assert_eq!(titles.first().map(String::as_str), Some("Round 1"));
        assert!(titles.iter().any(|t| t == "Stop-and-copy"), "{titles:?}");
        assert_eq!(titles.last().map(String::as_str), Some("Finished"));
        let end = p.step();
        p.step_event(false);
        assert!(p.step() < end);
        p.step_event(true);
        assert_eq!(p.step(), end);
        p.step_round(false);
        p.step_round(false);
        assert!(p.step() < end);
    }

    #[test]
    fn faults_show_on_the_destination_while_the_guest_waits() {
        let t = run("web-server", "postcopy-demand");
        let mut p = Playback::new(t).unwrap();
        let mut saw = false;
        while !p.at_end() {
            p.step_event(true);
            if p.phase().title == "Fault" {
                saw = true;
                assert!(p.counts(Side::Destination).iter().any(|&(k, n)| k == CellKind::Faulted && n > 0));
                break;
            }
        }
        assert!(saw, "a demand-paging run shows a fault");
    }

    #[test]
    fn malformed_traces_are_rejected_with_the_event_named() {
        let t = run("idle-vm", "precopy-xen");
        let mut bad = (*t).clone();
        if let Some(Event::PagesSent { pages, .. }) =
            bad.events.iter_mut().map(|e| &mut e.event).find(|e| matches!(e, Event::PagesSent { .. }))
        {
            pages.0[0] = [bad.page_count, 1];
        }
        let err = Playback::new(Rc::new(bad)).unwrap_err();
        assert!(matches!(err, PlaybackError::PageOutOfRange { .. }), "{err}");
        let mut bad = (*t).clone();
        bad.events[1].t = -1.0;
        assert!(matches!(Playback::new(Rc::new(bad)).unwrap_err(), PlaybackError::BadTime { index: 1, .. }));
        let mut bad = (*t).clone();
        bad.page_count = 0;
        assert_eq!(Playback::new(Rc::new(bad)).unwrap_err(), PlaybackError::TooManyPages(0));
    }

    #[test]
    fn the_legend_lists_the_states_a_run_shows() {
        let p = Playback::new(run("web-server", "precopy-xen")).unwrap();
        assert!(!p.kinds_in_run(Side::Destination).contains(&CellKind::Faulted));
        assert_eq!(p.kinds_in_run(Side::Source), &CellKind::SOURCE);
        let p = Playback::new(run("web-server", "postcopy-demand")).unwrap();
        assert!(p.kinds_in_run(Side::Destination).contains(&CellKind::Faulted));
        let p = Playback::new(run("web-server", "mecom")).unwrap();
        assert!(p.kinds_in_run(Side::Destination).contains(&CellKind::Compressed));
    }

    #[test]
    fn a_grid_fits_its_box() {
        // 1 GiB of 4 KiB pages in a projector-sized panel.
        for (w, h) in [(400.0, 330.0), (600.0, 520.0), (820.0, 760.0), (300.0, 150.0)] {
            let (g, cell) = Grid::fit(262_144, w, h, 6, 32);
            assert!(g.pages_per_cell.is_power_of_two());
            assert!(g.cols as u64 * g.rows as u64 >= g.cells);
            assert!(f64::from(g.cols * cell) <= w && f64::from(g.rows * cell) <= h, "{w}x{h}: {g:?} at {cell}");
            assert!(cell >= 6);
            // Half the pages per cell would not fit.
            if g.pages_per_cell > 1 {
                let finer = 262_144u64.div_ceil(g.pages_per_cell / 2);
                assert!(finer > ((w / 6.0).floor() * (h / 6.0).floor()) as u64, "{w}x{h}: {g:?}");
            }
        }
        // A small VM gets one page a cell, as large as the box allows.
        let (g, cell) = Grid::fit(1000, 400.0, 200.0, 3, 24);
        assert_eq!(g.pages_per_cell, 1);
        assert!(cell > 3 && g.cols * cell <= 400 && g.rows * cell <= 200, "{g:?} at {cell}");
        // No room: still a grid, never a panic.
        let (g, cell) = Grid::fit(1000, 0.0, 0.0, 3, 24);
        assert!(g.cells >= 1 && cell == 1);
    }

    #[test]
    fn grids_group_pages_and_paint_every_cell() {
        let g = Grid::new(262_144, 65_536);
        assert_eq!(g.pages_per_cell, 4);
        assert_eq!(g.cells, 65_536);
        assert!(g.cols as u64 * g.rows as u64 >= g.cells);
        let small = Grid::new(100, 65_536);
        assert_eq!((small.pages_per_cell, small.cells), (1, 100));
        let t = run("idle-vm", "precopy-xen");
        let p = Playback::new(t).unwrap();
        let g = Grid::new(p.trace().page_count, 4096);
        let mut rgba = Vec::new();
        p.paint(Side::Source, &g, &mut rgba);
        assert_eq!(rgba.len(), g.cols as usize * g.rows as usize * 4);
        assert_eq!(&rgba[..3], &CellKind::NotSent.rgb());
    }
}
