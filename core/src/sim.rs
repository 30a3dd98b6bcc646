//! The simulator: a [`MigrationContext`] with a virtual clock, a simulated guest and link.
//!
//! # Time
//!
//! The clock is the sender's: every transmission advances it by `bytes / bandwidth` (the source
//! sends blocking, one call at a time), and data arrives one latency later. While the clock
//! moves, the guest runs wherever it is:
//!
//! * **on the source** (before the pause) its writes bump page versions and set dirty-log bits;
//!   a throttle of `f` makes guest time run at `1 - f` of wall time;
//! * **nowhere** between pause and resume (the downtime);
//! * **on the destination** after resume, continuing the same access streams. An access to a
//!   page that is not present is a network fault: the guest blocks, a request reaches the source
//!   one latency later, the source sees it when its current send call returns (queueing), sends
//!   the page, and the guest continues when it arrives. The stall is therefore queueing + round
//!   trip + transfer. Without a priority channel the reply also waits behind the link's
//!   `send_buffer` of bulk data already queued in the socket.
//!
//! The scenario's timeout bounds the clock while the guest runs: a send that would cross it
//! ends at it, whatever the bandwidth (`SimContext::transmit`), so the guest is never simulated
//! past it; only the downtime, where the guest costs nothing, may end later.
//!
//! # Memory
//!
//! Per page the simulator keeps the source's version, the destination's version, the number of
//! writes the guest made on the destination, and a presence bit: about 13 bytes a page, so a
//! 64 GiB VM (16 Mi pages) needs about 210 MiB. Page bytes are generated on demand from
//! `(seed, page, version)` (see [`crate::content`]). Pages sent before resume are applied at once
//! (the destination is not running, and resume waits for the last arrival); after resume they
//! become present when they arrive, and an arriving page the destination already has is dropped,
//! as QEMU drops a `UFFDIO_COPY` that fails with `EEXIST`.
//!
//! # Verification
//!
//! At the end, a migration is `verified` when the VM runs on the destination, every page is
//! present there, and each page equals the guest's copy. Contents are a pure function of the
//! version, so equal versions (the destination's, against the source's version at pause plus
//! the writes made on the destination) are equal bytes; where the versions differ the real bytes
//! are compared, since a write can leave a page's bytes as they were. A page sent in encoded form
//! (compressed, XBZRLE delta) is decoded as the destination would, against what the destination
//! holds, and a copy that does not decode to the source's bytes makes the page corrupt on the
//! destination: verification then fails.

use crate::bitmap::PageBitmap;
use crate::codec::memo::{bytes_equal, IdMemo};
use crate::content::{ContentCache, ContentModel};
use crate::context::{Channel, ContextError, EncodedBatch, Encoding, MigrationContext, Outcome, RoundKind, Sent};
use crate::scenario::{OnTimeout, Scenario};
use crate::trace::{json_len, DataKind, Event, Host, PageRuns, TimedEvent, Trace, TraceDetail, TraceTooLarge, TRACE_FORMAT};
use crate::workload::{AccessKind, Cursor, Workload};
use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// Pages merged into one `PagesSent` event at page detail (keeps animation granularity).
const MAX_PAGES_PER_EVENT: u64 = 1024;
/// Bytes of a free-page-list entry on the wire (start page + length).
const FREE_RUN_BYTES: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Source,
    Paused,
    Destination,
}

/// Page bytes recently served to the algorithm, by page: `(version, offset in bytes)`.
#[derive(Debug, Default)]
struct ReadLog {
    index: HashMap<u64, (u32, usize)>,
    bytes: Vec<u8>,
}

impl ReadLog {
    /// Pages kept at most; past this the log starts over.
    const CAPACITY: usize = 4096;

    fn record(&mut self, page: u64, version: u32, bytes: &[u8]) {
        if self.index.len() >= Self::CAPACITY {
            self.clear();
        }
        self.index.insert(page, (version, self.bytes.len()));
        self.bytes.extend_from_slice(bytes);
    }

    fn get(&self, page: u64, version: u32, len: usize) -> Option<&[u8]> {
        match self.index.get(&page) {
            Some(&(v, at)) if v == version => Some(&self.bytes[at..at + len]),
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.bytes.clear();
    }
}

/// The earlier of the next write `w` and the next read `r` (`(guest time, page)` each), with its
/// kind; a write wins a tie.
fn earlier_access(w: Option<(f64, u64)>, r: Option<(f64, u64)>) -> Option<(f64, u64, AccessKind)> {
    match (w, r) {
        (Some(w), Some(r)) if r.0 < w.0 => Some((r.0, r.1, AccessKind::Read)),
        (Some(w), _) => Some((w.0, w.1, AccessKind::Write)),
        (None, Some(r)) => Some((r.0, r.1, AccessKind::Read)),
        (None, None) => None,
    }
}

/// One transmission on the simulated link ([`SimContext::transmit`]).
#[derive(Debug, Clone, Copy)]
struct Transmission {
    start: f64,
    /// When the last byte left (the timeout, for a send cut there).
    end: f64,
    /// When the last byte arrives.
    arrive: f64,
    /// Wire bytes the link carried: all of them, or for a send cut at the timeout the share
    /// carried by then.
    bytes: u64,
}

/// A pending arrival at the destination.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    at: f64,
    page: u64,
    version: u32,
    /// The copy did not decode to the source's bytes.
    corrupt: bool,
}

/// Records events, merging consecutive page transmissions and batching dirtied pages.
///
/// With a size cap ([`SimOptions::max_trace_bytes`]) it also counts the bytes each event takes
/// in the trace's JSON, once the event is sealed (no longer the last, which a send may still
/// extend). Past the cap it keeps only the last event: the run goes on, counting, so that
/// [`SimContext::finish`] can say how large the trace would have been, in bounded memory.
#[derive(Debug)]
struct Recorder {
    detail: TraceDetail,
    events: Vec<TimedEvent>,
    open_send: bool,
    dirty_t: f64,
    dirty_count: u64,
    dirty_pages: PageRuns,
    /// The cap on the trace's JSON, in bytes.
    cap: Option<u64>,
    /// JSON bytes of the sealed events, commas between them not included.
    sealed_bytes: u64,
    /// Events sealed.
    sealed_events: u64,
}

impl Recorder {
    fn flush_dirty(&mut self) {
        if self.dirty_count > 0 {
            let pages = std::mem::take(&mut self.dirty_pages);
            self.append(TimedEvent { t: self.dirty_t, event: Event::PagesDirtied { count: self.dirty_count, pages } });
            self.dirty_count = 0;
        }
    }

    fn push(&mut self, t: f64, event: Event) {
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

    fn dirtied(&mut self, t: f64, page: u64) {
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

    #[allow(clippy::too_many_arguments)]
    fn sent(&mut self, t: f64, end: f64, arrive: f64, channel: Channel, encoding: Encoding, pages: &[u64], payload: u64, wire: u64) {
        let with_pages = self.detail >= TraceDetail::Pages;
        // At access detail every send call keeps its own event: the pages of one call arrive
        // together at its `arrive`, while a merged event would only give the last call's, and
        // the post-copy invariants need each page's arrival time.
        if self.open_send && self.dirty_count == 0 && self.detail < TraceDetail::Accesses {
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
        let mut runs = PageRuns::default();
        if with_pages {
            pages.iter().for_each(|&p| runs.push(p));
        }
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
}

/// Options of a simulation run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimOptions {
    /// How much the trace records.
    pub detail: TraceDetail,
    /// The largest trace, in bytes of its JSON (as `serde_json::to_writer` writes it): past it
    /// the run keeps no more events and [`SimContext::finish`] refuses the trace, naming the
    /// size it would have reached. `None`: no cap.
    pub max_trace_bytes: Option<u64>,
}

/// Encodings of shared contents the destination remembers as verified: the never-written pages'
/// few thousand contents ([`crate::content::BASE_CONTENTS`] per class), with room to spare.
const SHARED_ENCODINGS: usize = 4096;

/// A simulated source host, link and destination host running one scenario.
#[derive(Debug)]
pub struct SimContext {
    scenario: Scenario,
    n: u64,
    page_size: u64,
    header: u64,
    bandwidth: f64,
    latency: f64,
    timeout: f64,
    content: ContentModel,
    cache: ContentCache,
    workload: Workload,
    free_from: u64,

    now: f64,
    at: Where,
    throttle: f64,
    rate_limit: Option<f64>,
    /// Guest seconds of work done so far.
    guest: f64,
    /// Destination: wall time up to which the guest has been simulated.
    dst_wall: f64,
    writes: Cursor,
    reads: Cursor,
    /// Pages the destination guest can touch, when the fast path past its last possible fault
    /// applies ([`Self::every_reachable_page_present`]); the first not known to be present.
    reachable: Option<std::ops::Range<u64>>,
    reachable_scan: u64,
    phase: usize,
    guest_writes: u64,

    src_version: Vec<u32>,
    dst_version: Vec<u32>,
    dst_writes: Vec<u32>,
    dst_present: PageBitmap,
    /// Destination pages written since its memory was last untouched (`host.first_touch_rate`:
    /// at the start, or since a discard dropped them).
    dst_touched: PageBitmap,
    /// Destination pages whose last copy did not decode to the source's bytes.
    dst_corrupt: PageBitmap,
    dirty: PageBitmap,
    logging: bool,
    ever_sent: PageBitmap,

    bulk_arrivals: VecDeque<Arrival>,
    priority_arrivals: VecDeque<Arrival>,
    in_flight: HashMap<u64, f64>,
    last_arrival: f64,
    blocked: Option<(u64, f64, AccessKind)>,
    requests: VecDeque<(f64, u64)>,

    bytes_sent: u64,
    decode_buf: Vec<u8>,
    expect_buf: Vec<u8>,
    /// Encodings seen to decode to a shared content, by the content's identifier and the
    /// encoding ([`crate::content::ContentModel::shared_content_id`]).
    verified_shared: IdMemo<Arc<[u8]>>,
    /// The pages [`MigrationContext::read_page`] served since the last encoded send, so that
    /// checking what the destination decodes needs no second generation of the same bytes.
    read_log: ReadLog,
    round: u32,
    round_open: bool,
    paused: bool,
    resumed: bool,
    rec: Recorder,
}

impl SimContext {
    /// A simulation of `scenario` (which must be valid: see [`Scenario::validate`]).
    pub fn new(scenario: &Scenario, options: SimOptions) -> SimContext {
        let n = scenario.page_count();
        let ps = scenario.vm.page_size.0;
        let free_from = scenario.used_pages();
        let workload = Workload::new(scenario);
        let writes = workload.seek(AccessKind::Write, 0.0);
        let reads = workload.seek(AccessKind::Read, 0.0);
        let reachable = workload.reachable_pages();
        let content =
            ContentModel::new(scenario.seed, ps as usize, scenario.workload.write_size.0 as usize, scenario.vm.content, free_from);
        SimContext {
            n,
            page_size: ps,
            header: scenario.link.page_header.0,
            bandwidth: scenario.link.bandwidth.0,
            latency: scenario.link.latency.0,
            timeout: scenario.migration.timeout.0,
            content,
            cache: ContentCache::new(4096),
            workload,
            free_from,
            now: 0.0,
            at: Where::Source,
            throttle: 0.0,
            rate_limit: None,
            guest: 0.0,
            dst_wall: 0.0,
            writes,
            reads,
            reachable_scan: reachable.as_ref().map_or(0, |r| r.start),
            reachable,
            phase: 0,
            guest_writes: 0,
            src_version: vec![0; n as usize],
            dst_version: vec![0; n as usize],
            dst_writes: vec![0; n as usize],
            dst_present: PageBitmap::new(n),
            dst_touched: PageBitmap::new(n),
            dst_corrupt: PageBitmap::new(n),
            dirty: PageBitmap::new(n),
            logging: false,
            ever_sent: PageBitmap::new(n),
            bulk_arrivals: VecDeque::new(),
            priority_arrivals: VecDeque::new(),
            in_flight: HashMap::default(),
            last_arrival: 0.0,
            blocked: None,
            requests: VecDeque::new(),
            bytes_sent: 0,
            decode_buf: Vec::new(),
            verified_shared: IdMemo::new(SHARED_ENCODINGS),
            expect_buf: Vec::new(),
            read_log: ReadLog::default(),
            round: 0,
            round_open: false,
            paused: false,
            resumed: false,
            rec: Recorder {
                detail: options.detail,
                events: Vec::new(),
                open_send: false,
                dirty_t: 0.0,
                dirty_count: 0,
                dirty_pages: PageRuns::default(),
                cap: options.max_trace_bytes,
                sealed_bytes: 0,
                sealed_events: 0,
            },
            scenario: scenario.clone(),
        }
    }

    /// Busy vCPUs competing with the migration's threads for the host's CPUs: none while the
    /// guest is paused, fewer while auto-converge throttles it.
    fn running_vcpus(&self) -> f64 {
        let vcpus = f64::from(self.scenario.host.busy_vcpus);
        match self.at {
            Where::Paused => 0.0,
            Where::Source => vcpus * (1.0 - self.throttle),
            Where::Destination => vcpus,
        }
    }

    fn effective_bandwidth(&self) -> f64 {
        self.rate_limit.map_or(self.bandwidth, |r| r.min(self.bandwidth))
    }

    fn check_page(&self, page: u64) -> Result<(), ContextError> {
        if page >= self.n {
            Err(ContextError::PageOutOfRange { page, pages: self.n })
        } else {
            Ok(())
        }
    }

    /// Emits a phase change if guest time `g` has entered a new phase.
    fn track_phase(&mut self, wall: f64, host: Host) {
        let (phase, _) = self.workload.phase_at(self.guest);
        if phase != self.phase {
            self.phase = phase;
            let p = &self.workload.phases()[phase];
            let event = Event::PhaseChanged { phase, name: p.name.clone(), tag: p.tag, host };
            self.rec.push(wall, event);
        }
    }

    /// The guest's phase right now: index, name and tag.
    pub fn guest_phase(&self) -> &crate::workload::Phase {
        &self.workload.phases()[self.workload.phase_at(self.guest).0]
    }

    /// Runs the clock forward to `t`, running the guest wherever it is.
    fn advance_to(&mut self, t: f64) {
        if t <= self.now {
            return;
        }
        match self.at {
            Where::Source => self.run_source_until(t),
            Where::Paused => {}
            Where::Destination => {
                self.run_destination_until(t, false);
            }
        }
        self.now = t;
    }

    fn run_source_until(&mut self, t_end: f64) {
        let speed = 1.0 - self.throttle;
        let wall0 = self.now;
        let g0 = self.guest;
        let g_end = g0 + (t_end - wall0) * speed;
        let wall_of = |g: f64| if speed > 0.0 { wall0 + (g - g0) / speed } else { wall0 };
        while let Some((g, page)) = self.workload.peek(&mut self.writes) {
            if g >= g_end {
                break;
            }
            self.workload.advance(&mut self.writes);
            let wall = wall_of(g);
            if self.workload.phases().len() > 1 {
                self.guest = g;
                self.track_phase(wall, Host::Source);
            }
            self.src_version[page as usize] += 1;
            self.guest_writes += 1;
            if self.logging && self.dirty.set(page) {
                self.rec.dirtied(wall, page);
            }
        }
        self.guest = g_end;
        if self.workload.phases().len() > 1 {
            self.track_phase(t_end, Host::Source);
        }
    }

    /// Applies arrivals up to `t`. Arrivals on each channel are in time order.
    fn process_arrivals(&mut self, t: f64) {
        loop {
            let b = self.bulk_arrivals.front().map(|a| a.at).filter(|&a| a <= t);
            let p = self.priority_arrivals.front().map(|a| a.at).filter(|&a| a <= t);
            let a = match (b, p) {
                (Some(x), Some(y)) if y < x => self.priority_arrivals.pop_front(),
                (Some(_), _) => self.bulk_arrivals.pop_front(),
                (None, Some(_)) => self.priority_arrivals.pop_front(),
                (None, None) => return,
            }
            .expect("front checked");
            if self.in_flight.get(&a.page).is_some_and(|&at| at <= a.at) {
                self.in_flight.remove(&a.page);
            }
            if self.dst_present.get(a.page) {
                self.rec.push(a.at, Event::PagesDropped { count: 1, pages: PageRuns(vec![[a.page, 1]]) });
            } else {
                self.dst_present.set(a.page);
                self.dst_version[a.page as usize] = a.version;
                self.mark_corrupt(a.page, a.corrupt);
            }
            if let Some((page, since, _)) = self.blocked {
                if page == a.page {
                    self.blocked = None;
                    self.rec.push(a.at, Event::FaultServed { page, stall: a.at - since });
                    self.dst_wall = a.at;
                }
            }
        }
    }

    fn next_access(&mut self) -> Option<(f64, u64, AccessKind)> {
        let w = self.workload.peek(&mut self.writes);
        let r = self.workload.peek(&mut self.reads);
        earlier_access(w, r)
    }

    /// Whether every page the destination guest can still touch is present there (known for a
    /// one-phase workload). Pages never become absent after the switch-over, so the scan only
    /// moves forward.
    fn every_reachable_page_present(&mut self) -> bool {
        let Some(reachable) = &self.reachable else { return false };
        while self.reachable_scan < reachable.end {
            match self.dst_present.next_unset(self.reachable_scan) {
                Some(p) if p < reachable.end => {
                    self.reachable_scan = p;
                    return false;
                }
                _ => self.reachable_scan = reachable.end,
            }
        }
        true
    }

    /// Records (at the `Accesses` detail) the destination guest's next `writes` and `reads`
    /// accesses from the cursors given, in time order, each to a present page: the one-step run
    /// of [`Self::run_destination_until`] past the last possible fault.
    fn replay_accesses(&mut self, mut w: Cursor, mut writes: u64, mut r: Cursor, mut reads: u64, guest0: f64, wall0: f64) {
        while writes + reads > 0 {
            let next_w = if writes > 0 { self.workload.peek(&mut w) } else { None };
            let next_r = if reads > 0 { self.workload.peek(&mut r) } else { None };
            let Some((g, page, kind)) = earlier_access(next_w, next_r) else { return };
            let wall = wall0 + (g - guest0);
            self.process_arrivals(wall);
            self.rec.push(wall, Event::GuestAccess { page, access: kind });
            match kind {
                AccessKind::Write => {
                    self.workload.advance(&mut w);
                    writes -= 1;
                    self.dst_version[page as usize] += 1;
                    self.dst_writes[page as usize] += 1;
                }
                AccessKind::Read => {
                    self.workload.advance(&mut r);
                    reads -= 1;
                }
            }
        }
    }

    /// Runs the destination guest until wall time `t_end`. With `stop_at_fault`, returns early
    /// (true) right after the guest raises a fault that sends a request to the source.
    fn run_destination_until(&mut self, t_end: f64, stop_at_fault: bool) -> bool {
        loop {
            if let Some((page, _, _)) = self.blocked {
                // Blocked: nothing runs until the page arrives.
                match self.in_flight.get(&page) {
                    Some(&at) if at <= t_end => {
                        self.process_arrivals(at);
                        continue;
                    }
                    _ => {
                        self.process_arrivals(t_end);
                        if self.blocked.is_some() {
                            self.dst_wall = t_end;
                            return false;
                        }
                        continue;
                    }
                }
            }
            if self.every_reachable_page_present() {
                // No access can fault any more: take the guest's accesses until `t_end` in one
                // step. Below the `Accesses` detail, where accesses are not recorded one by one,
                // the streams are skipped, and the pages written need no versions (a write
                // changes the destination's version and its count of guest writes alike, and
                // verification compares their difference). Either way the guest's time is
                // reckoned from where the step began, so the report does not depend on the
                // detail.
                let (guest0, wall0) = (self.guest, self.dst_wall);
                let guest_end = guest0 + (t_end - wall0);
                let (from_writes, from_reads) = (self.writes, self.reads);
                let written = self.workload.skip_to(&mut self.writes, guest_end).unwrap_or(0);
                let read = self.workload.skip_to(&mut self.reads, guest_end).unwrap_or(0);
                if self.rec.detail == TraceDetail::Accesses {
                    self.replay_accesses(from_writes, written, from_reads, read, guest0, wall0);
                }
                self.guest_writes += written;
                self.guest = guest_end;
                self.dst_wall = t_end;
                self.process_arrivals(t_end);
                return false;
            }
            let Some((g, page, kind)) = self.next_access() else {
                self.guest += t_end - self.dst_wall;
                self.dst_wall = t_end;
                self.process_arrivals(t_end);
                return false;
            };
            let wall = self.dst_wall + (g - self.guest);
            if wall >= t_end {
                self.guest += t_end - self.dst_wall;
                self.dst_wall = t_end;
                self.process_arrivals(t_end);
                if self.workload.phases().len() > 1 {
                    self.track_phase(t_end, Host::Destination);
                }
                return false;
            }
            self.process_arrivals(wall);
            self.guest = g;
            self.dst_wall = wall;
            if self.workload.phases().len() > 1 {
                self.track_phase(wall, Host::Destination);
            }
            if self.dst_present.get(page) {
                self.take_present_access(wall, page, kind);
                self.take_present_accesses(t_end);
            } else {
                // Network fault: block until the page arrives; the access is retried then.
                self.blocked = Some((page, wall, kind));
                self.rec.push(wall, Event::FaultRaised { page, access: kind });
                if !self.in_flight.contains_key(&page) {
                    self.requests.push_back((wall + self.latency, page));
                    if stop_at_fault {
                        return true;
                    }
                }
            }
        }
    }

    /// The destination guest's access at `wall` to `page`, which is present.
    fn take_present_access(&mut self, wall: f64, page: u64, kind: AccessKind) {
        if self.rec.detail == TraceDetail::Accesses {
            self.rec.push(wall, Event::GuestAccess { page, access: kind });
        }
        match kind {
            AccessKind::Write => {
                self.workload.advance(&mut self.writes);
                self.dst_version[page as usize] += 1;
                self.dst_writes[page as usize] += 1;
                self.guest_writes += 1;
            }
            AccessKind::Read => self.workload.advance(&mut self.reads),
        }
    }

    /// Takes a one-phase guest's following accesses to present pages in a tight loop, up to
    /// the next arrival or `t_end`: nothing else can happen in between (no page arrives, no
    /// phase begins, and pages present stay present), so each is what
    /// [`Self::run_destination_until`]'s loop would do with it, in the same arithmetic. Stops
    /// before an access to an absent page (the caller faults it) and before the next arrival.
    fn take_present_accesses(&mut self, t_end: f64) {
        // (Once every reachable page is present, the caller's one-step run takes over.)
        if self.workload.phases().len() > 1 || self.every_reachable_page_present() {
            return;
        }
        let next_arrival =
            [self.bulk_arrivals.front(), self.priority_arrivals.front()].into_iter().flatten().map(|a| a.at).fold(f64::INFINITY, f64::min);
        while let Some((g, page, kind)) = self.next_access() {
            let wall = self.dst_wall + (g - self.guest);
            if wall >= t_end || wall >= next_arrival || !self.dst_present.get(page) {
                return;
            }
            self.guest = g;
            self.dst_wall = wall;
            self.take_present_access(wall, page, kind);
        }
    }

    /// Transmits `bytes`, taking at least `cpu_s` (encoding pipelined with sending) plus the
    /// sending threads' own work on the bytes (`host.send_rate`), and at least `receive_s`, the
    /// destination's work on them (pipelined too: a slower receiver holds the sender back).
    ///
    /// This is the one place the clock runs ahead for a send, so it is where the scenario's
    /// timeout holds: while the guest runs (on the source before the pause, on the destination
    /// after the resume), a send that would cross the timeout ends at it, whatever the
    /// bandwidth, and only the share of its bytes the link carried by then counts (so that a
    /// bandwidth measured over it is the link's). Its pages count as arrived, so that what an
    /// algorithm sent is what the destination has: a delta cache, a post-copy's set of pages
    /// sent, a forced stop-and-copy all stay exact. The downtime is not
    /// cut (the guest is paused, which costs nothing to simulate: a stop-and-copy, forced at the
    /// timeout or begun before it, runs to its end, as `migration.on_timeout = "force-stop"`
    /// says).
    fn transmit(&mut self, bytes: u64, channel: Channel, cpu_s: f64, receive_s: f64) -> Transmission {
        let start = self.now;
        let bw = self.effective_bandwidth();
        let send_s = self.scenario.host.send_pace(self.running_vcpus()).map_or(0.0, |pace| bytes as f64 / pace);
        let duration = (bytes as f64 / bw).max(cpu_s + send_s).max(receive_s);
        let queued = if channel == Channel::Priority && !self.scenario.link.priority_channel {
            self.scenario.link.send_buffer.0 as f64 / self.bandwidth
        } else {
            0.0
        };
        let (end, bytes) = if self.at != Where::Paused && start + duration > self.timeout {
            let end = self.timeout.max(start);
            (end, (bytes as f64 * (end - start) / duration) as u64)
        } else {
            (start + duration, bytes)
        };
        self.bytes_sent += bytes;
        Transmission { start, end, arrive: end + queued + self.latency, bytes }
    }

    fn ensure_round(&mut self) {
        if !self.round_open {
            self.begin_round(RoundKind::Other);
        }
    }

    /// Delivers `pages` at `arrive`: the source's current versions, or for encoded pages the
    /// `snapshot` taken when they were read and decoded (version, and whether the copy failed to
    /// decode to the source's bytes).
    fn deliver(&mut self, pages: &[u64], snapshot: Option<&[(u32, bool)]>, arrive: f64, channel: Channel) {
        for (i, &p) in pages.iter().enumerate() {
            self.ever_sent.set(p);
            let (version, corrupt) = snapshot.map_or((self.src_version[p as usize], false), |s| s[i]);
            if self.resumed {
                let a = Arrival { at: arrive, page: p, version, corrupt };
                match channel {
                    Channel::Bulk => self.bulk_arrivals.push_back(a),
                    Channel::Priority => self.priority_arrivals.push_back(a),
                }
                // The page's earliest arrival: a later copy on a faster path (a priority reply
                // overtaking a bulk push) is the one that unblocks a faulted guest.
                self.in_flight.entry(p).and_modify(|t| *t = t.min(arrive)).or_insert(arrive);
            } else {
                // The destination is not running yet: apply now (snapshot at send start).
                self.dst_present.set(p);
                self.dst_version[p as usize] = version;
                self.mark_corrupt(p, corrupt);
            }
        }
        self.last_arrival = self.last_arrival.max(arrive);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_encoded_pages(
        &mut self,
        pages: &[u64],
        snapshot: Option<&[(u32, bool)]>,
        channel: Channel,
        encoding: Encoding,
        payload: u64,
        cpu_s: f64,
    ) -> Result<Sent, ContextError> {
        for &p in pages {
            self.check_page(p)?;
        }
        self.ensure_round();
        let wire = payload + pages.len() as u64 * self.header;
        // A zero page was read whole by the zero check before it went as a flag.
        let zero_scan_s = match (encoding, self.scenario.host.zero_scan_pace(self.running_vcpus())) {
            (Encoding::Zero, Some(pace)) => (pages.len() as u64 * self.page_size) as f64 / pace,
            _ => 0.0,
        };
        let touch_s = self.first_touch_seconds(pages, encoding);
        let tx = self.transmit(wire, channel, cpu_s + zero_scan_s, touch_s);
        // A send cut at the timeout: the payload in the same share as the wire bytes.
        let payload = if tx.bytes < wire { (payload as f64 * tx.bytes as f64 / wire as f64) as u64 } else { payload };
        self.deliver(pages, snapshot, tx.arrive, channel);
        self.rec.sent(tx.start, tx.end, tx.arrive, channel, encoding, pages, payload, tx.bytes);
        self.advance_to(tx.end);
        Ok(Sent { wire_bytes: tx.bytes, payload_bytes: payload })
    }

    /// The destination's time to write `pages` (sent as `encoding`) into memory it has not
    /// touched yet (`host.first_touch_rate`), marking them touched. A zero flag writes nothing:
    /// QEMU's destination only reads the page (`ram_handle_compressed()`).
    fn first_touch_seconds(&mut self, pages: &[u64], encoding: Encoding) -> f64 {
        let Some(pace) = self.scenario.host.first_touch_pace(self.running_vcpus()) else {
            return 0.0;
        };
        if encoding == Encoding::Zero {
            return 0.0;
        }
        let mut fresh = 0u64;
        for &p in pages {
            if !self.dst_touched.get(p) {
                self.dst_touched.set(p);
                fresh += 1;
            }
        }
        (fresh * self.page_size) as f64 / pace
    }

    /// Whether the destination, decoding `data` for `page`, gets the source's current bytes (a
    /// codec bug, or a delta against a base the destination does not have, gives false). A delta
    /// applies to the destination's current copy.
    ///
    /// `sent_shared` is the sender's own copy of `data` when it shared it
    /// ([`EncodedBatch::push_shared`]): bytes in the very memory already checked need no
    /// comparing.
    fn decodes_to_source(&mut self, page: u64, encoding: Encoding, data: &[u8], sent_shared: Option<&Arc<[u8]>>) -> bool {
        // A page holding a shared content that these very bytes were seen to decode to: they
        // decode to it again (a codec is a pure function), no need to decode or compare pages.
        let version = self.src_version[page as usize];
        let shared = match encoding {
            Encoding::Wkdm | Encoding::Lz4 | Encoding::Full => {
                self.content.shared_content_id(page, version).map(|id| id * 8 + encoding as u64)
            }
            _ => None,
        };
        if let Some(key) = shared {
            let same = |known: &Arc<[u8]>| sent_shared.is_some_and(|sent| Arc::ptr_eq(sent, known)) || bytes_equal(known, data);
            if self.verified_shared.get(key).is_some_and(same) {
                return true;
            }
        }
        let ok = self.decode_and_compare(page, encoding, data);
        if let (true, Some(key)) = (ok, shared) {
            self.verified_shared.insert(key, sent_shared.cloned().unwrap_or_else(|| data.into()));
        }
        ok
    }

    /// [`Self::decodes_to_source`] by decoding and comparing.
    fn decode_and_compare(&mut self, page: u64, encoding: Encoding, data: &[u8]) -> bool {
        let version = self.src_version[page as usize];
        let ps = self.page_size as usize;
        match encoding {
            // A never-written zero-class page: no need to look at bytes.
            Encoding::Zero if data.is_empty() && self.content.is_zero(page, version) => true,
            _ => {
                let mut got = std::mem::take(&mut self.decode_buf);
                got.resize(ps, 0);
                let ok = match encoding {
                    Encoding::Delta => {
                        let base = self.dst_version[page as usize];
                        self.dst_present.get(page) && !self.dst_corrupt.get(page) && {
                            self.cache.read(&self.content, page, base, &mut got);
                            crate::codec::decode(encoding, data, &mut got).is_ok()
                        }
                    }
                    _ => crate::codec::decode(encoding, data, &mut got).is_ok(),
                };
                let equal =
                    ok && Self::equals_source(&self.read_log, &mut self.cache, &self.content, &mut self.expect_buf, page, version, &got);
                self.decode_buf = got;
                equal
            }
        }
    }

    /// Whether `bytes` are the source's bytes of `page` at `version`: what the algorithm read
    /// (the read log), else generated again.
    fn equals_source(
        read_log: &ReadLog,
        cache: &mut ContentCache,
        content: &ContentModel,
        expect_buf: &mut Vec<u8>,
        page: u64,
        version: u32,
        bytes: &[u8],
    ) -> bool {
        match read_log.get(page, version, bytes.len()) {
            Some(read) => bytes_equal(bytes, read),
            None => {
                expect_buf.resize(bytes.len(), 0);
                cache.read(content, page, version, expect_buf);
                bytes_equal(bytes, expect_buf)
            }
        }
    }

    fn mark_corrupt(&mut self, page: u64, corrupt: bool) {
        if corrupt {
            self.dst_corrupt.set(page);
        } else {
            self.dst_corrupt.clear(page);
        }
    }

    /// Whether the destination's copy of `page` equals the guest's. Equal versions are equal
    /// bytes; otherwise the bytes of the two base versions (before the writes the guest made on
    /// the destination, which apply alike to both) are compared, since a page rewritten with
    /// the same bytes has a new version but unchanged content (and a delta encoder rightly sends
    /// nothing for it).
    fn page_matches(&mut self, page: u64) -> bool {
        let p = page as usize;
        if self.dst_corrupt.get(page) {
            return false;
        }
        if self.dst_version[p] == self.src_version[p] + self.dst_writes[p] {
            return true;
        }
        let (dst_base, src_base) = (self.dst_version[p] - self.dst_writes[p], self.src_version[p]);
        let ps = self.page_size as usize;
        let (mut a, mut b) = (vec![0u8; ps], vec![0u8; ps]);
        self.content.fill(page, dst_base, &mut a);
        self.content.fill(page, src_base, &mut b);
        a == b
    }

    /// Sends non-page data; `pages` is the page set it names (recorded at page detail).
    /// `receive_s` is the destination's work on it.
    fn send_data(&mut self, what: DataKind, bytes: u64, pages: Option<&PageBitmap>, receive_s: f64) -> Sent {
        self.ensure_round();
        let tx = self.transmit(bytes, Channel::Bulk, 0.0, receive_s);
        self.last_arrival = self.last_arrival.max(tx.arrive);
        let mut runs = PageRuns::default();
        if let Some(pages) = pages.filter(|_| self.rec.detail >= TraceDetail::Pages) {
            runs.0 = pages.runs().into_iter().map(|(first, count)| [first, count]).collect();
        }
        self.rec.push(tx.start, Event::DataSent { what, end: tx.end, arrive: tx.arrive, bytes: tx.bytes, pages: runs });
        self.advance_to(tx.end);
        Sent { wire_bytes: tx.bytes, payload_bytes: 0 }
    }

    /// Ends the run: lets in-flight pages arrive, checks the destination against the guest's
    /// memory, and returns the trace, or, with a cap ([`SimOptions::max_trace_bytes`]) that the
    /// trace's JSON passed, the size it would have had.
    pub fn finish(
        mut self,
        algorithm: &str,
        params: serde_json::Map<String, serde_json::Value>,
        outcome: &Outcome,
    ) -> Result<Trace, TraceTooLarge> {
        if self.round_open {
            self.end_round();
        }
        if self.resumed {
            let t = self.last_arrival.max(self.now);
            self.advance_to(t);
            self.process_arrivals(t);
        }
        let completed = self.resumed && self.dst_present.count() == self.n;
        let verified = completed && (0..self.n).all(|p| self.page_matches(p));
        self.rec.push(
            self.now,
            Event::MigrationEnded {
                completed,
                converged: outcome.converged,
                verified,
                distinct_pages: self.ever_sent.count(),
                guest_writes: self.guest_writes,
                guest_progress_s: self.guest,
                stop_reason: outcome.stop_reason.clone(),
            },
        );
        self.rec.seal_last();
        let mut events = std::mem::take(&mut self.rec.events);
        events.sort_by(|a, b| a.t.total_cmp(&b.t));
        let mut trace = Trace {
            format: TRACE_FORMAT,
            algorithm: algorithm.to_string(),
            params,
            page_count: self.n,
            page_size: self.page_size,
            detail: self.rec.detail,
            backend: "simulator".into(),
            events: Vec::new(),
            scenario: self.scenario,
        };
        if let Some(cap) = self.rec.cap {
            // The trace with no events, then each event and the commas between them.
            let bytes = json_len(&trace) + self.rec.sealed_bytes + self.rec.sealed_events.saturating_sub(1);
            if bytes > cap {
                return Err(TraceTooLarge { detail: self.rec.detail, bytes, cap });
            }
        }
        trace.events = events;
        Ok(trace)
    }

    /// Pages present on the destination now.
    pub fn destination_present(&self) -> &PageBitmap {
        &self.dst_present
    }
}

impl MigrationContext for SimContext {
    fn page_count(&self) -> u64 {
        self.n
    }
    fn simulated(&self) -> bool {
        true
    }
    fn page_size(&self) -> u64 {
        self.page_size
    }
    fn now(&self) -> f64 {
        self.now
    }
    fn deadline_passed(&self) -> bool {
        self.now >= self.timeout
    }
    fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }
    fn timeout_action(&self) -> OnTimeout {
        self.scenario.migration.on_timeout
    }

    fn start_dirty_log(&mut self) -> Result<(), ContextError> {
        self.dirty.clear_all();
        self.logging = true;
        Ok(())
    }
    fn fetch_dirty(&mut self) -> Result<PageBitmap, ContextError> {
        self.rec.flush_dirty();
        let empty = PageBitmap::new(self.n);
        Ok(std::mem::replace(&mut self.dirty, empty))
    }
    fn peek_dirty(&mut self) -> Result<&PageBitmap, ContextError> {
        Ok(&self.dirty)
    }
    fn dirty_count(&mut self) -> Result<u64, ContextError> {
        Ok(self.dirty.count())
    }

    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError> {
        self.check_page(page)?;
        Ok(self.content.is_zero(page, self.src_version[page as usize]))
    }
    fn shared_content_id(&mut self, page: u64) -> Result<Option<u64>, ContextError> {
        self.check_page(page)?;
        Ok(self.content.shared_content_id(page, self.src_version[page as usize]))
    }
    fn read_page(&mut self, page: u64, buf: &mut [u8]) -> Result<(), ContextError> {
        self.check_page(page)?;
        if buf.len() as u64 != self.page_size {
            return Err(ContextError::BadArgument { name: "buf.len()", value: buf.len().to_string(), accepted: "exactly the page size" });
        }
        let version = self.src_version[page as usize];
        self.cache.read(&self.content, page, version, buf);
        self.read_log.record(page, version, buf);
        Ok(())
    }
    fn free_pages(&mut self) -> Result<PageBitmap, ContextError> {
        let mut b = PageBitmap::new(self.n);
        for p in self.free_from..self.n {
            b.set(p);
        }
        Ok(b)
    }

    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError> {
        let payload = pages.len() as u64 * self.page_size;
        self.send_encoded_pages(pages, None, channel, Encoding::Full, payload, 0.0)
    }
    fn send_encoded(&mut self, batch: &EncodedBatch, cpu_s: f64) -> Result<Sent, ContextError> {
        if !(cpu_s.is_finite() && cpu_s >= 0.0) {
            return Err(ContextError::BadArgument { name: "cpu_s", value: cpu_s.to_string(), accepted: "a finite number of seconds >= 0" });
        }
        for (page, encoding, _) in batch.iter() {
            self.check_page(page)?;
            if encoding == Encoding::Delta && self.resumed {
                return Err(ContextError::WrongState { operation: "send_encoded", reason: "a delta needs the destination paused" });
            }
        }
        // Decode everything as the destination will, against the memory as it is now (the
        // snapshot a send takes), then put each encoding's pages on the wire in turn, sharing
        // the encoding time by page count.
        let snapshot: Vec<(u32, bool)> = batch
            .iter()
            .enumerate()
            .map(|(i, (page, encoding, data))| {
                (self.src_version[page as usize], !self.decodes_to_source(page, encoding, data, batch.shared(i)))
            })
            .collect();
        self.read_log.clear();
        let mut total = Sent::default();
        for encoding in [Encoding::Zero, Encoding::Full, Encoding::Wkdm, Encoding::Lz4, Encoding::Delta] {
            let (mut pages, mut group_snapshot, mut payload) = (Vec::new(), Vec::new(), 0u64);
            for (i, (page, e, data)) in batch.iter().enumerate() {
                if e == encoding {
                    pages.push(page);
                    group_snapshot.push(snapshot[i]);
                    payload += data.len() as u64 + encoding.framing_bytes();
                }
            }
            if pages.is_empty() {
                continue;
            }
            let share = cpu_s * pages.len() as f64 / batch.len() as f64;
            let sent = self.send_encoded_pages(&pages, Some(&group_snapshot), Channel::Bulk, encoding, payload, share)?;
            total.wire_bytes += sent.wire_bytes;
            total.payload_bytes += sent.payload_bytes;
        }
        Ok(total)
    }
    fn send_zero_pages(&mut self, pages: &[u64]) -> Result<Sent, ContextError> {
        for &p in pages {
            self.check_page(p)?;
            if !self.content.is_zero(p, self.src_version[p as usize]) {
                return Err(ContextError::BadArgument { name: "page", value: p.to_string(), accepted: "pages that are all zeros" });
            }
        }
        self.send_encoded_pages(pages, None, Channel::Bulk, Encoding::Zero, pages.len() as u64, 0.0)
    }
    fn send_free_page_list(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        let runs = pages.runs();
        let sent = self.send_data(DataKind::FreePageList, runs.len() as u64 * FREE_RUN_BYTES, Some(pages), 0.0);
        for p in pages.iter() {
            if !self.dst_present.get(p) {
                // A free page is zero at version 0; if the guest wrote it, the destination's
                // copy is stale and verification will say so.
                self.dst_present.set(p);
                self.dst_version[p as usize] = 0;
            }
        }
        Ok(sent)
    }
    fn send_dirty_bitmap(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        crate::context::check_bitmap_length(pages, self.n)?;
        // The destination drops its copies of these pages, one range at a time, and their
        // memory is untouched again.
        let discard_s = self.scenario.host.discard_seconds(pages.runs().len() as u64, pages.count());
        let sent = self.send_data(DataKind::DirtyBitmap, pages.wire_bytes(), Some(pages), discard_s);
        if !self.resumed {
            for p in pages.iter() {
                self.dst_present.clear(p);
                self.dst_touched.clear(p);
            }
        }
        Ok(sent)
    }
    fn send_state(&mut self) -> Result<Sent, ContextError> {
        Ok(self.send_data(DataKind::State, self.scenario.vm.state_size.0, None, 0.0))
    }

    fn begin_round(&mut self, kind: RoundKind) {
        if self.round_open {
            self.end_round();
        }
        self.round += 1;
        self.round_open = true;
        let event = Event::RoundStarted { round: self.round, kind, dirty_pages: self.dirty.count() };
        self.rec.push(self.now, event);
    }
    fn end_round(&mut self) {
        if self.round_open {
            self.round_open = false;
            let event = Event::RoundEnded { round: self.round, dirty_pages: self.dirty.count() };
            self.rec.push(self.now, event);
        }
    }
    fn pause_source(&mut self) -> Result<(), ContextError> {
        if self.at != Where::Source {
            return Err(ContextError::WrongState { operation: "pause_source", reason: "the guest is not running on the source" });
        }
        self.at = Where::Paused;
        self.paused = true;
        self.rec.push(self.now, Event::SourcePaused);
        Ok(())
    }
    fn resume_destination(&mut self) -> Result<(), ContextError> {
        if self.at != Where::Paused {
            return Err(ContextError::WrongState { operation: "resume_destination", reason: "pause the source first" });
        }
        let t = self.now.max(self.last_arrival) + self.scenario.vm.resume_overhead.0;
        self.advance_to(t);
        self.at = Where::Destination;
        self.resumed = true;
        self.throttle = 0.0;
        self.dst_wall = self.now;
        self.reads = self.workload.seek(AccessKind::Read, self.guest);
        self.rec.push(self.now, Event::DestinationResumed);
        Ok(())
    }
    fn set_throttle(&mut self, fraction: f64) -> Result<(), ContextError> {
        if !(0.0..=0.99).contains(&fraction) {
            return Err(ContextError::BadArgument { name: "throttle", value: fraction.to_string(), accepted: "0 to 0.99" });
        }
        if self.at == Where::Source && fraction != self.throttle {
            self.throttle = fraction;
            self.rec.push(self.now, Event::Throttled { fraction });
        }
        Ok(())
    }
    fn set_rate_limit(&mut self, bytes_per_s: Option<f64>) -> Result<(), ContextError> {
        crate::context::check_rate_limit(bytes_per_s)?;
        if bytes_per_s != self.rate_limit {
            self.rate_limit = bytes_per_s;
            self.rec.push(self.now, Event::RateLimited { bytes_per_s });
        }
        Ok(())
    }

    fn poll_fault(&mut self) -> Result<Option<u64>, ContextError> {
        match self.requests.front() {
            Some(&(at, page)) if at <= self.now => {
                self.requests.pop_front();
                Ok(Some(page))
            }
            _ => Ok(None),
        }
    }
    fn task_tag(&mut self) -> Result<Option<crate::scenario::PhaseTag>, ContextError> {
        Ok(self.workload.tag_at(self.guest))
    }
    fn coordinator(&mut self, state: crate::context::CoordinatorState, reason: &str) {
        self.rec.push(self.now, Event::Coordinator { state, reason: reason.to_string() });
    }
    fn wait_fault_until(&mut self, until: f64) -> Result<Option<u64>, ContextError> {
        if until.is_nan() {
            return Err(ContextError::BadArgument { name: "until", value: until.to_string(), accepted: "a time in seconds" });
        }
        let limit = until.min(self.timeout).max(self.now);
        if self.requests.is_empty() && self.at == Where::Destination && self.now < limit {
            // Run the guest until it raises a fault that sends a request, or until the limit.
            let faulted = self.run_destination_until(limit, true);
            self.now = self.dst_wall.max(self.now);
            if !faulted {
                self.now = limit;
            }
        }
        match self.requests.front() {
            Some(&(at, page)) if at <= limit => {
                self.advance_to(at);
                self.requests.pop_front();
                Ok(Some(page))
            }
            _ => {
                self.advance_to(limit);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceDetail;

    fn idle(pages: u64) -> Scenario {
        Scenario::from_toml_str(&format!(
            "[vm]\nmemory = \"{} KiB\"\n[vm.content]\nzero = 0.5\ntext = 0.5\nstructured = 0.0\nrandom = 0.0\n[link]\nbandwidth = \"1 Gbit/s\"",
            pages * 4
        ))
        .unwrap()
    }

    /// Copies every page once as `encode` says, pauses, sends the state, resumes; returns whether
    /// the run verified and the total time.
    fn migrate_with(pages: u64, cpu_s: f64, encode: impl Fn(&mut SimContext, u64, &mut EncodedBatch)) -> (bool, f64, u64) {
        let s = idle(pages);
        let mut ctx = SimContext::new(&s, SimOptions { detail: TraceDetail::Pages, ..Default::default() });
        ctx.start_dirty_log().unwrap();
        let mut batch = EncodedBatch::new();
        for p in 0..pages {
            encode(&mut ctx, p, &mut batch);
        }
        ctx.send_encoded(&batch, cpu_s).unwrap();
        ctx.pause_source().unwrap();
        ctx.send_state().unwrap();
        ctx.resume_destination().unwrap();
        let bytes = ctx.bytes_sent();
        let trace = ctx.finish("test", Default::default(), &Outcome::converged("done")).unwrap();
        let report = crate::Report::from_trace(&trace);
        (report.verified, report.total_time_s, bytes)
    }

    fn full_or_zero(ctx: &mut SimContext, p: u64, batch: &mut EncodedBatch) {
        if ctx.is_zero_page(p).unwrap() {
            batch.push(p, Encoding::Zero, &[]);
        } else {
            let mut buf = vec![0u8; ctx.page_size() as usize];
            ctx.read_page(p, &mut buf).unwrap();
            batch.push(p, Encoding::Full, &buf);
        }
    }

    #[test]
    fn encoded_full_and_zero_pages_verify_and_zero_flags_are_cheap() {
        let (verified, _, bytes) = migrate_with(256, 0.0, full_or_zero);
        assert!(verified);
        let state = idle(256).vm.state_size.0;
        // Half the pages are zero: 9 bytes each (header + flag) instead of 4104.
        assert!(bytes - state < 256 * 4104 * 3 / 4, "{bytes}");
    }

    #[test]
    fn a_page_that_does_not_decode_to_the_source_fails_verification() {
        let (verified, _, _) = migrate_with(64, 0.0, |ctx, p, batch| {
            if p == 7 {
                batch.push(p, Encoding::Full, &vec![0xAB; ctx.page_size() as usize]);
            } else {
                full_or_zero(ctx, p, batch);
            }
        });
        assert!(!verified);
        // A zero flag for a page that is not zero is caught too.
        let (verified, _, _) = migrate_with(64, 0.0, |ctx, p, batch| {
            if !ctx.is_zero_page(p).unwrap() && p > 10 {
                batch.push(p, Encoding::Zero, &[]);
            } else {
                full_or_zero(ctx, p, batch);
            }
        });
        assert!(!verified);
    }

    #[test]
    fn encoding_time_is_pipelined_with_sending() {
        let (_, fast, _) = migrate_with(256, 0.0, full_or_zero);
        // Encoding that takes longer than the wire sets the pace.
        let (verified, slow, _) = migrate_with(256, 2.0, full_or_zero);
        assert!(verified);
        assert!(slow >= 2.0 && slow < 2.0 + fast, "{slow} vs {fast}");
        // Encoding faster than the wire costs nothing extra.
        let (_, hidden, _) = migrate_with(256, 1e-6, full_or_zero);
        assert_eq!(hidden, fast);
    }

    /// The idle scenario over a link of `bandwidth` with a 5 s timeout, `on_timeout` as given.
    fn slow(bandwidth: &str, on_timeout: &str) -> Scenario {
        Scenario::parse_with_overrides(
            "",
            &[
                format!("link.bandwidth=\"{bandwidth}\""),
                "migration.timeout=\"5 s\"".into(),
                format!("migration.on_timeout=\"{on_timeout}\""),
                "vm.memory=\"64 MiB\"".into(),
                "workload.pattern=\"uniform\"".into(),
                "workload.write_rate=100".into(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_send_that_would_cross_the_timeout_ends_at_it() {
        // Issue 13, defect 4: the timeout was checked between batches only, so a 1 Mbit/s run
        // with a 5 s timeout reported 33.6 s, and at 1 bit/s 33,619,968 s of guest time were
        // simulated.
        for bandwidth in ["1 bit/s", "1 Mbit/s", "10 Mbit/s"] {
            let s = slow(bandwidth, "cancel");
            // Pre-copy cancelled at the timeout: the total is the timeout, and only the bytes
            // the link carried by then count.
            for algorithm in ["precopy-xen", "precopy-qemu", "tsmc", "mecom"] {
                let r = crate::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap().report;
                assert_eq!(r.total_time_s, 5.0, "{algorithm} at {bandwidth}");
                assert!(r.bytes_sent as f64 <= s.link.bandwidth.0 * 5.0 + 1.0, "{algorithm} at {bandwidth}: {} bytes", r.bytes_sent);
            }
            // Post-copy and hybrid: the guest runs nowhere past the timeout; only the downtime
            // (the CPU state, sent while the guest is paused) is not cut.
            for algorithm in ["postcopy-push", "postcopy-bubbling", "hybrid"] {
                let r = crate::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap().report;
                assert!(r.total_time_s <= 5.0 + r.downtime_s + 1e-9, "{algorithm} at {bandwidth}: {r:?}");
                assert!(!r.completed, "{algorithm} at {bandwidth}");
            }
        }
    }

    #[test]
    fn a_forced_stop_and_copy_after_a_cut_send_still_moves_every_page() {
        // The pages of the send cut at the timeout arrive: the forced stop-and-copy sends what
        // the guest dirtied, and the destination verifies, delta caches included.
        for algorithm in ["precopy-xen", "precopy-qemu", "xbzrle", "delta", "mecom"] {
            let run = crate::simulate(&slow("10 Mbit/s", "force-stop"), Some(algorithm), TraceDetail::Pages).unwrap();
            let r = &run.report;
            assert!(r.completed && r.verified, "{algorithm}: {r:?}");
            assert!((r.preparation_time_s - 5.0).abs() < 1e-9, "{algorithm}: paused at {}", r.preparation_time_s);
        }
    }

    #[test]
    fn deltas_are_refused_after_resume_and_bad_cpu_time_is_an_error() {
        let s = idle(16);
        let mut ctx = SimContext::new(&s, SimOptions::default());
        let mut batch = EncodedBatch::new();
        batch.push(0, Encoding::Zero, &[]);
        assert!(matches!(ctx.send_encoded(&batch, f64::NAN), Err(ContextError::BadArgument { .. })));
        assert!(matches!(ctx.send_encoded(&batch, -1.0), Err(ContextError::BadArgument { .. })));
        ctx.pause_source().unwrap();
        ctx.resume_destination().unwrap();
        let mut delta = EncodedBatch::new();
        delta.push(1, Encoding::Delta, &[0, 1, 5]);
        assert!(matches!(ctx.send_encoded(&delta, 0.0), Err(ContextError::WrongState { .. })));
    }
}
