//! The simulator: a [`crate::context::MigrationContext`] with a virtual clock, a simulated guest and link.
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

//!
//! # Files
//!
//! This file holds the state; `guest` runs the guest on either host, `link` carries
//! transmissions, `verify` compares the destination with the guest, and `seam` implements the
//! algorithm-facing traits ([`crate::context`]) over all of it. Events go to the shared
//! [`TraceRecorder`].

mod guest;
mod link;
mod seam;
#[cfg(test)]
mod tests;
mod verify;

use crate::bitmap::PageBitmap;
use crate::codec::memo::IdMemo;
use crate::content::{ContentCache, ContentModel};
use crate::context::{ContextError, Outcome, Rounds};
use crate::recorder::{SendEvents, TraceHeader, TraceRecorder};
use crate::scenario::Scenario;
use crate::trace::{Event, Trace, TraceDetail, TraceTooLarge};
use crate::workload::{AccessKind, Cursor, Workload};
use link::Arrival;
use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use verify::ReadLog;

/// Bytes of a free-page-list entry on the wire (start page + length).
const FREE_RUN_BYTES: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Source,
    Paused,
    Destination,
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
    /// Wall time until which the source's vCPU is stalled by dirty logging's write faults
    /// (`host.dirty_fault_time`); its writes lag behind `guest` meanwhile.
    vcpu_stalled_until: f64,
    /// `host.dirty_fault_time` in seconds (0: writes cost nothing).
    dirty_fault_s: f64,
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
    /// Encoding work charged to the next encoded send ([`crate::context::SimHints`]).
    encoding_charge: f64,
    paused: bool,
    resumed: bool,
    rec: TraceRecorder,
}

impl SimContext {
    /// A simulation of `scenario` (which must be valid: see [`Scenario::validate`]).
    pub fn new(scenario: &Scenario, options: SimOptions) -> SimContext {
        let n = scenario.page_count();
        let ps = scenario.vm.page_size.0;
        let used = scenario.used_range();
        let free_from = used.end;
        let workload = Workload::new(scenario);
        let writes = workload.seek(AccessKind::Write, 0.0);
        let reads = workload.seek(AccessKind::Read, 0.0);
        let reachable = workload.reachable_pages();
        let content = ContentModel::new(scenario.seed, ps as usize, scenario.workload.write_size.0 as usize, scenario.vm.content, used);
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
            vcpu_stalled_until: 0.0,
            dirty_fault_s: scenario.host.dirty_fault_time.map_or(0.0, |t| t.0),
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
            encoding_charge: 0.0,
            paused: false,
            resumed: false,
            rec: TraceRecorder::new(options.detail, SendEvents::Merged).with_cap(options.max_trace_bytes),
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

    /// Ends the run: lets in-flight pages arrive, checks the destination against the guest's
    /// memory, and returns the trace, or, with a cap ([`SimOptions::max_trace_bytes`]) that the
    /// trace's JSON passed, the size it would have had.
    pub fn finish(
        mut self,
        algorithm: &str,
        params: serde_json::Map<String, serde_json::Value>,
        outcome: &Outcome,
    ) -> Result<Trace, TraceTooLarge> {
        self.end_round();
        if self.resumed {
            let t = self.last_arrival.max(self.now);
            self.advance_to(t);
            self.process_arrivals(t);
        }
        let completed = self.resumed && self.dst_present.count() == self.n;
        let verified = completed && (0..self.n).all(|p| self.page_matches(p));
        let ended = Event::MigrationEnded {
            completed,
            converged: outcome.converged,
            verified,
            distinct_pages: self.ever_sent.count(),
            guest_writes: self.guest_writes,
            guest_progress_s: self.guest,
            stop_reason: outcome.stop_reason.clone(),
        };
        let header = TraceHeader {
            algorithm: algorithm.to_string(),
            params,
            scenario: self.scenario,
            page_count: self.n,
            page_size: self.page_size,
            backend: "simulator",
        };
        self.rec.finish(self.now, ended, header)
    }

    /// Pages present on the destination now.
    pub fn destination_present(&self) -> &PageBitmap {
        &self.dst_present
    }
}
