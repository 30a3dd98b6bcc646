//! The seam: [`MigrationContext`] and its traits over the simulated guest, link and
//! destination, and the simulation's hints ([`SimHints`]).

use super::{SimContext, Where, FREE_RUN_BYTES};
use crate::bitmap::PageBitmap;
use crate::context::{
    Channel, Clock, ContextError, CoordinatorState, DirtyLog, DirtyLogging, EncodedBatch, Encoding, Faults, GuestMemory, MigrationContext,
    Paused, Rounds, Sent, SimHints, SwitchOver, TaskTags, Transport, Tuning,
};
use crate::scenario::{OnTimeout, PhaseTag};
use crate::trace::{DataKind, Event};
use crate::workload::AccessKind;

impl Clock for SimContext {
    fn page_count(&self) -> u64 {
        self.n
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
    fn timeout_action(&self) -> OnTimeout {
        self.scenario.migration.on_timeout
    }
    fn wait_until(&mut self, t: f64) -> Result<(), ContextError> {
        if t.is_nan() {
            return Err(ContextError::BadArgument { name: "t", value: t.to_string(), accepted: "a time in seconds" });
        }
        self.advance_to(t.min(self.timeout));
        Ok(())
    }
}

impl DirtyLog for SimContext {
    fn enable_dirty_log(&mut self) -> Result<(), ContextError> {
        self.dirty.clear_all();
        self.logging = true;
        Ok(())
    }
    fn fetch_dirty(&mut self, _: &DirtyLogging) -> Result<PageBitmap, ContextError> {
        self.rec.flush_dirty();
        let empty = PageBitmap::new(self.n);
        Ok(std::mem::replace(&mut self.dirty, empty))
    }
    fn peek_dirty(&mut self, _: &DirtyLogging) -> Result<&PageBitmap, ContextError> {
        Ok(&self.dirty)
    }
}

impl GuestMemory for SimContext {
    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError> {
        self.check_page(page)?;
        Ok(self.content.is_zero(page, self.src_version[page as usize]))
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
}

impl Transport for SimContext {
    fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }
    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError> {
        let payload = pages.len() as u64 * self.page_size;
        self.send_encoded_pages(pages, None, channel, Encoding::Full, payload, 0.0)
    }
    fn send_encoded(&mut self, batch: &EncodedBatch) -> Result<Sent, ContextError> {
        // The encoding work the algorithm's cost model charged ([`SimHints::charge_encoding`]).
        let cpu_s = std::mem::take(&mut self.encoding_charge);
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
        // The destination enters post-copy and drops its copies of these pages, one range at a
        // time, and their memory is untouched again.
        let switch_s = self.scenario.host.postcopy_switch_seconds(pages.runs().len() as u64, pages.count());
        let sent = self.send_data(DataKind::DirtyBitmap, pages.wire_bytes(), Some(pages), switch_s);
        if !self.resumed {
            for p in pages.iter() {
                self.dst_present.clear(p);
                self.dst_touched.clear(p);
            }
        }
        Ok(sent)
    }
}

impl SwitchOver for SimContext {
    fn stop_source(&mut self) -> Result<(), ContextError> {
        if self.at != Where::Source {
            return Err(ContextError::WrongState { operation: "pause_source", reason: "the guest is not running on the source" });
        }
        self.at = Where::Paused;
        self.drop_write_backlog();
        self.paused = true;
        self.rec.push(self.now, Event::SourcePaused);
        Ok(())
    }
    fn send_state(&mut self, _: &Paused) -> Result<Sent, ContextError> {
        Ok(self.send_data(DataKind::State, self.scenario.vm.state_size.0, None, 0.0))
    }
    fn start_destination(&mut self) -> Result<(), ContextError> {
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
}

impl Faults for SimContext {
    fn poll_fault(&mut self) -> Result<Option<u64>, ContextError> {
        match self.requests.front() {
            Some(&(at, page)) if at <= self.now => {
                self.requests.pop_front();
                Ok(Some(page))
            }
            _ => Ok(None),
        }
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

impl Tuning for SimContext {
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
}

impl Rounds for SimContext {
    fn begin_round(&mut self, kind: crate::context::RoundKind) {
        if self.rec.round_open() {
            self.end_round();
        }
        self.rec.begin_round(self.now, kind, self.dirty.count());
    }
    fn end_round(&mut self) {
        self.rec.end_round(self.now, self.dirty.count());
    }
    fn coordinator(&mut self, state: CoordinatorState, reason: &str) {
        self.rec.push(self.now, Event::Coordinator { state, reason: reason.to_string() });
    }
}

impl TaskTags for SimContext {
    fn task_tag(&mut self) -> Result<Option<PhaseTag>, ContextError> {
        Ok(self.workload.tag_at(self.guest))
    }
}

impl SimHints for SimContext {
    fn shared_content_id(&mut self, page: u64) -> Result<Option<u64>, ContextError> {
        self.check_page(page)?;
        Ok(self.content.shared_content_id(page, self.src_version[page as usize]))
    }
    fn charge_encoding(&mut self, cpu_s: f64) -> Result<(), ContextError> {
        if !(cpu_s.is_finite() && cpu_s >= 0.0) {
            return Err(ContextError::BadArgument { name: "cpu_s", value: cpu_s.to_string(), accepted: "a finite number of seconds >= 0" });
        }
        self.encoding_charge = cpu_s;
        Ok(())
    }
}

impl MigrationContext for SimContext {
    fn sim_hints(&mut self) -> Option<&mut dyn SimHints> {
        Some(self)
    }
}
