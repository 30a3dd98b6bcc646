//! The link to the destination: messages go through the destination's channel, and each send
//! is paced to the scenario's bandwidth (or the rate limit) and recorded.

use super::KvmContext;
use crate::kvm::dest::Msg;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{Channel, ContextError, Encoding, RoundKind, Rounds, Sent};
use livemig_core::trace::{DataKind, Event};
use std::time::{Duration, Instant};

impl KvmContext {
    pub(super) fn ensure_round(&mut self) {
        if !self.rec.round_open() {
            self.begin_round(RoundKind::Other);
        }
    }

    /// Occupies the link for `bytes` (blocking until they have left) and returns (start, end,
    /// arrival) in seconds since the start.
    ///
    /// As in the simulator, the scenario's timeout cuts the wait: a send that would cross it
    /// ends at it, however slow the link (the pages themselves already went through the real
    /// channel; only the pacing is cut). Unlike the simulator, the wait in the downtime is cut
    /// too, and past the timeout sends do not wait at all: a real run never outlives its
    /// timeout by more than its real work (a forced stop-and-copy then moves at the channel's
    /// own speed rather than the scenario's link).
    pub(super) fn transmit(&mut self, bytes: u64) -> (f64, f64, f64) {
        let bw = self.rate_limit.map_or(self.bandwidth, |r| r.min(self.bandwidth));
        let now = Instant::now();
        let start = self.link_free.max(now);
        let paced = Duration::try_from_secs_f64(bytes as f64 / bw).ok().and_then(|d| start.checked_add(d));
        let deadline = self.start + Duration::from_secs_f64(self.timeout);
        let end = match paced {
            Some(end) if end <= deadline => end,
            _ => deadline.max(start),
        };
        self.link_free = end;
        let now = Instant::now();
        if end > now {
            std::thread::sleep(end - now);
        }
        self.bytes_sent += bytes;
        let base = self.start;
        let secs = |i: Instant| i.saturating_duration_since(base).as_secs_f64();
        (secs(start), secs(end), secs(end) + self.latency)
    }

    pub(super) fn send(&mut self, msg: Msg) -> Result<(), ContextError> {
        self.dest.deliver(msg)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_sent(&mut self, times: (f64, f64, f64), encoding: Encoding, pages: &[u64], payload: u64, wire: u64) {
        pages.iter().for_each(|&p| {
            self.ever_sent.set(p);
        });
        if !self.faults.is_empty() {
            for &p in pages {
                if let Some(raised) = self.faults.remove(&p) {
                    self.rec.push(times.2, Event::FaultServed { page: p, stall: (times.2 - raised).max(0.0) });
                }
            }
        }
        self.rec.sent(times.0, times.1, times.2, Channel::Bulk, encoding, pages, payload, wire);
    }

    pub(super) fn send_data(&mut self, what: DataKind, bytes: u64, pages: Option<&PageBitmap>) -> Sent {
        self.ensure_round();
        let times = self.transmit(bytes);
        self.rec.data_sent(times.0, times.1, times.2, what, bytes, pages);
        Sent { wire_bytes: bytes, payload_bytes: 0 }
    }
}
