//! The trace recorder both backends write through: the simulator ([`crate::sim`]) and the
//! native runner's KVM context record the same events the same way, and assemble the same
//! [`Trace`].

use crate::bitmap::PageBitmap;
use crate::context::{Channel, Encoding, RoundKind};
use crate::scenario::Scenario;
use crate::trace::{json_len, DataKind, Event, PageRuns, TimedEvent, Trace, TraceDetail, TraceTooLarge, TRACE_FORMAT};

/// Pages merged into one `PagesSent` or `PagesDirtied` event at page detail (keeps animation
/// granularity).
pub const MAX_PAGES_PER_EVENT: u64 = 1024;

/// Whether consecutive page sends become one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendEvents {
    /// Consecutive sends on the same channel and encoding, back to back, become one event
    /// (below access detail, where each page's arrival time matters): the simulator.
    Merged,
    /// Every send call is its own event: a real link, whose sends are not back to back.
    PerCall,
}

/// What a finished trace says about its run besides its events.
#[derive(Debug, Clone)]
pub struct TraceHeader {
    /// The algorithm's registry name.
    pub algorithm: String,
    /// Its parameters as given or defaulted.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The scenario run.
    pub scenario: Scenario,
    /// Pages in the VM.
    pub page_count: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// `simulator` or `kvm`.
    pub backend: &'static str,
}

/// Records events as they happen: rounds, sends (merged or not), dirtied pages in batches.
///
/// With a size cap ([`TraceRecorder::with_cap`]) it also counts the bytes each event takes in
/// the trace's JSON, once the event is sealed (no longer the last, which a send may still
/// extend). Past the cap it keeps only the last event: the run goes on, counting, so that
/// [`TraceRecorder::finish`] can say how large the trace would have been, in bounded memory.
#[derive(Debug)]
pub struct TraceRecorder {
    detail: TraceDetail,
    sends: SendEvents,
    events: Vec<TimedEvent>,
    /// The last event is a `PagesSent` a later send may extend.
    open_send: bool,
    dirty_t: f64,
    dirty_count: u64,
    dirty_pages: PageRuns,
    round: u32,
    round_open: bool,
    /// The cap on the trace's JSON, in bytes.
    cap: Option<u64>,
    /// JSON bytes of the sealed events, commas between them not included.
    sealed_bytes: u64,
    /// Events sealed.
    sealed_events: u64,
}

impl TraceRecorder {
    /// A recorder at `detail`.
    pub fn new(detail: TraceDetail, sends: SendEvents) -> TraceRecorder {
        TraceRecorder {
            detail,
            sends,
            events: Vec::new(),
            open_send: false,
            dirty_t: 0.0,
            dirty_count: 0,
            dirty_pages: PageRuns::default(),
            round: 0,
            round_open: false,
            cap: None,
            sealed_bytes: 0,
            sealed_events: 0,
        }
    }

    /// The same recorder with a cap on the trace's JSON, in bytes (`None`: no cap): past it
    /// the recorder keeps no more events and [`TraceRecorder::finish`] refuses the trace.
    pub fn with_cap(mut self, cap: Option<u64>) -> TraceRecorder {
        self.cap = cap;
        self
    }

    /// How much the trace records.
    pub fn detail(&self) -> TraceDetail {
        self.detail
    }

    /// The events so far.
    pub fn events(&self) -> &[TimedEvent] {
        &self.events
    }

    /// Records `event` at `t`.
    pub fn push(&mut self, t: f64, event: Event) {
        self.flush_dirty();
        self.open_send = false;
        self.append(TimedEvent { t, event });
    }

    /// Adds an event after the last one, which is then sealed.
    fn append(&mut self, event: TimedEvent) {
        self.seal_last();
        self.events.push(event);
    }

    /// With a cap: counts the last event's bytes; once the count is over the cap, drops the
    /// events kept so far (all sealed).
    fn seal_last(&mut self) {
        let Some(cap) = self.cap else { return };
        let Some(last) = self.events.last() else { return };
        self.sealed_bytes += json_len(last);
        self.sealed_events += 1;
        if self.sealed_bytes > cap {
            self.events.clear();
        }
    }

    /// `pages` as runs, at page detail (empty below it).
    pub fn runs(&self, pages: impl Iterator<Item = u64>) -> PageRuns {
        let mut runs = PageRuns::default();
        if self.detail >= TraceDetail::Pages {
            pages.for_each(|p| runs.push(p));
        }
        runs
    }

    /// The guest dirtied `page` at `t` (page detail and above): such pages are recorded in
    /// batches of [`MAX_PAGES_PER_EVENT`].
    pub fn dirtied(&mut self, t: f64, page: u64) {
        if self.detail == TraceDetail::Summary {
            return;
        }
        if self.dirty_count == 0 {
            self.dirty_t = t;
        }
        self.dirty_count += 1;
        self.dirty_pages.push(page);
        if self.dirty_count >= MAX_PAGES_PER_EVENT {
            self.flush_dirty();
        }
    }

    /// Records the dirtied pages not recorded yet.
    pub fn flush_dirty(&mut self) {
        if self.dirty_count > 0 {
            let pages = std::mem::take(&mut self.dirty_pages);
            self.append(TimedEvent { t: self.dirty_t, event: Event::PagesDirtied { count: self.dirty_count, pages } });
            self.dirty_count = 0;
        }
    }

    /// Records pages sent from `t` to `end`, arriving at `arrive`.
    #[allow(clippy::too_many_arguments)]
    pub fn sent(&mut self, t: f64, end: f64, arrive: f64, channel: Channel, encoding: Encoding, pages: &[u64], payload: u64, wire: u64) {
        let with_pages = self.detail >= TraceDetail::Pages;
        // At access detail every send call keeps its own event: the pages of one call arrive
        // together at its `arrive`, while a merged event would only give the last call's, and
        // the post-copy invariants need each page's arrival time.
        if self.sends == SendEvents::Merged && self.open_send && self.dirty_count == 0 && self.detail < TraceDetail::Accesses {
            if let Some(TimedEvent {
                event:
                    Event::PagesSent { end: e_end, arrive: e_arrive, channel: c, encoding: enc, count, payload_bytes, wire_bytes, pages: runs },
                ..
            }) = self.events.last_mut()
            {
                let fits = !with_pages || *count + pages.len() as u64 <= MAX_PAGES_PER_EVENT;
                if *c == channel && *enc == encoding && *e_end == t && fits {
                    *e_end = end;
                    *e_arrive = arrive;
                    *count += pages.len() as u64;
                    *payload_bytes += payload;
                    *wire_bytes += wire;
                    if with_pages {
                        pages.iter().for_each(|&p| runs.push(p));
                    }
                    return;
                }
            }
        }
        let runs = self.runs(pages.iter().copied());
        self.push(
            t,
            Event::PagesSent {
                end,
                arrive,
                channel,
                encoding,
                count: pages.len() as u64,
                payload_bytes: payload,
                wire_bytes: wire,
                pages: runs,
            },
        );
        self.open_send = true;
    }

    /// Records `bytes` of `what` sent from `t` to `end`, arriving at `arrive`, about `pages`.
    pub fn data_sent(&mut self, t: f64, end: f64, arrive: f64, what: DataKind, bytes: u64, pages: Option<&PageBitmap>) {
        let runs = match pages {
            Some(b) if self.detail >= TraceDetail::Pages => PageRuns(b.runs().into_iter().map(|(f, c)| [f, c]).collect()),
            _ => PageRuns::default(),
        };
        self.push(t, Event::DataSent { what, end, arrive, bytes, pages: runs });
    }

    /// Whether a round is open.
    pub fn round_open(&self) -> bool {
        self.round_open
    }

    /// Opens round `kind` at `t` with `dirty_pages` dirty (a round still open must be closed
    /// first).
    pub fn begin_round(&mut self, t: f64, kind: RoundKind, dirty_pages: u64) {
        debug_assert!(!self.round_open, "close the open round first");
        self.round += 1;
        self.round_open = true;
        self.push(t, Event::RoundStarted { round: self.round, kind, dirty_pages });
    }

    /// Closes the open round, if any, at `t` with `dirty_pages` dirty.
    pub fn end_round(&mut self, t: f64, dirty_pages: u64) {
        if self.round_open {
            self.round_open = false;
            self.push(t, Event::RoundEnded { round: self.round, dirty_pages });
        }
    }

    /// The trace: the events so far and `ended` at `t`, in time order, under `header`; or, with
    /// a cap ([`TraceRecorder::with_cap`]) that the trace's JSON passed, the size it would have
    /// had.
    pub fn finish(mut self, t: f64, ended: Event, header: TraceHeader) -> Result<Trace, TraceTooLarge> {
        self.push(t, ended);
        self.seal_last();
        let (detail, cap) = (self.detail, self.cap);
        let events = std::mem::take(&mut self.events);
        let mut trace = assemble(Vec::new(), detail, header);
        if let Some(cap) = cap {
            // The trace with no events, then each event and the commas between them.
            let bytes = json_len(&trace) + self.sealed_bytes + self.sealed_events.saturating_sub(1);
            if bytes > cap {
                return Err(TraceTooLarge { detail, bytes, cap });
            }
        }
        trace.events = sorted(events);
        Ok(trace)
    }

    /// A trace of the events so far and `ended` at `t`, at `detail`, leaving the recorder as it
    /// is (a run that ends in failure).
    pub fn snapshot(&self, t: f64, ended: Event, detail: TraceDetail, header: TraceHeader) -> Trace {
        let mut events = self.events.clone();
        events.push(TimedEvent { t, event: ended });
        assemble(events, detail, header)
    }
}

/// `events` in time order.
fn sorted(mut events: Vec<TimedEvent>) -> Vec<TimedEvent> {
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    events
}

fn assemble(events: Vec<TimedEvent>, detail: TraceDetail, header: TraceHeader) -> Trace {
    let events = sorted(events);
    Trace {
        format: TRACE_FORMAT,
        algorithm: header.algorithm,
        params: header.params,
        page_count: header.page_count,
        page_size: header.page_size,
        detail,
        backend: header.backend.into(),
        events,
        scenario: header.scenario,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(rec: &mut TraceRecorder, t: f64, end: f64, pages: &[u64]) {
        rec.sent(t, end, end + 0.001, Channel::Bulk, Encoding::Full, pages, 4096 * pages.len() as u64, 4104 * pages.len() as u64);
    }

    fn sends(rec: &TraceRecorder) -> Vec<(f64, u64)> {
        rec.events()
            .iter()
            .filter_map(|e| match e.event {
                Event::PagesSent { count, .. } => Some((e.t, count)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn back_to_back_sends_merge_in_the_simulator_and_not_on_a_real_link() {
        for (mode, expected) in [(SendEvents::Merged, vec![(0.0, 3)]), (SendEvents::PerCall, vec![(0.0, 2), (1.0, 1)])] {
            let mut rec = TraceRecorder::new(TraceDetail::Summary, mode);
            send(&mut rec, 0.0, 1.0, &[1, 2]);
            send(&mut rec, 1.0, 2.0, &[3]);
            assert_eq!(sends(&rec), expected, "{mode:?}");
        }
        // A send that does not start where the last ended is its own event.
        let mut rec = TraceRecorder::new(TraceDetail::Summary, SendEvents::Merged);
        send(&mut rec, 0.0, 1.0, &[1]);
        send(&mut rec, 1.5, 2.0, &[2]);
        assert_eq!(sends(&rec), [(0.0, 1), (1.5, 1)]);
    }

    #[test]
    fn rounds_are_numbered_and_closed_once() {
        let mut rec = TraceRecorder::new(TraceDetail::Summary, SendEvents::Merged);
        rec.begin_round(0.0, RoundKind::Live, 0);
        rec.end_round(1.0, 5);
        rec.end_round(1.5, 7);
        rec.begin_round(2.0, RoundKind::StopAndCopy, 5);
        assert!(rec.round_open());
        let rounds: Vec<(f64, u32)> = rec
            .events()
            .iter()
            .filter_map(|e| match e.event {
                Event::RoundStarted { round, .. } | Event::RoundEnded { round, .. } => Some((e.t, round)),
                _ => None,
            })
            .collect();
        assert_eq!(rounds, [(0.0, 1), (1.0, 1), (2.0, 2)]);
    }

    #[test]
    fn dirtied_pages_are_recorded_in_batches_before_the_next_event() {
        let mut rec = TraceRecorder::new(TraceDetail::Pages, SendEvents::Merged);
        for p in 0..MAX_PAGES_PER_EVENT + 3 {
            rec.dirtied(0.5, p);
        }
        rec.push(1.0, Event::SourcePaused);
        let dirtied: Vec<u64> = rec
            .events()
            .iter()
            .filter_map(|e| match e.event {
                Event::PagesDirtied { count, .. } => Some(count),
                _ => None,
            })
            .collect();
        assert_eq!(dirtied, [MAX_PAGES_PER_EVENT, 3]);
        assert!(matches!(rec.events().last().unwrap().event, Event::SourcePaused));
    }
}
