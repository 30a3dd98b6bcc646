//! The simulated link: transmissions that take `bytes / bandwidth` (or the encoding time, or
//! the destination's work), arrive one latency later, and are applied at the destination.

use super::{SimContext, Where};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, Encoding, RoundKind, Rounds, Sent};
use crate::trace::{DataKind, Event, PageRuns};

/// One transmission on the simulated link ([`SimContext::transmit`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Transmission {
    pub(super) start: f64,
    /// When the last byte left (the timeout, for a send cut there).
    pub(super) end: f64,
    /// When the last byte arrives.
    pub(super) arrive: f64,
    /// Wire bytes the link carried: all of them, or for a send cut at the timeout the share
    /// carried by then.
    pub(super) bytes: u64,
}

/// A pending arrival at the destination.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    pub(super) at: f64,
    pub(super) page: u64,
    pub(super) version: u32,
    /// The copy did not decode to the source's bytes.
    pub(super) corrupt: bool,
}

impl SimContext {
    /// Applies arrivals up to `t`. Arrivals on each channel are in time order.
    pub(super) fn process_arrivals(&mut self, t: f64) {
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
    pub(super) fn transmit(&mut self, bytes: u64, channel: Channel, cpu_s: f64, receive_s: f64) -> Transmission {
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

    pub(super) fn ensure_round(&mut self) {
        if !self.rec.round_open() {
            self.begin_round(RoundKind::Other);
        }
    }

    /// Delivers `pages` at `arrive`: the source's current versions, or for encoded pages the
    /// `snapshot` taken when they were read and decoded (version, and whether the copy failed to
    /// decode to the source's bytes).
    pub(super) fn deliver(&mut self, pages: &[u64], snapshot: Option<&[(u32, bool)]>, arrive: f64, channel: Channel) {
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
    pub(super) fn send_encoded_pages(
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
    pub(super) fn first_touch_seconds(&mut self, pages: &[u64], encoding: Encoding) -> f64 {
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

    /// Sends non-page data; `pages` is the page set it names (recorded at page detail).
    /// `receive_s` is the destination's work on it.
    pub(super) fn send_data(&mut self, what: DataKind, bytes: u64, pages: Option<&PageBitmap>, receive_s: f64) -> Sent {
        self.ensure_round();
        let tx = self.transmit(bytes, Channel::Bulk, 0.0, receive_s);
        self.last_arrival = self.last_arrival.max(tx.arrive);
        self.rec.data_sent(tx.start, tx.end, tx.arrive, what, tx.bytes, pages);
        self.advance_to(tx.end);
        Sent { wire_bytes: tx.bytes, payload_bytes: 0 }
    }
}
