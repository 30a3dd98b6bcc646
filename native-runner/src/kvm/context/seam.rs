//! The seam: the core's [`MigrationContext`] traits over the two VMs, the channel and the
//! fault thread. A real guest offers no simulation hints.

use super::{guest_err, KvmContext, ZERO_PAGE};
use crate::kvm::dest::{MigratedState, Msg};
use crate::kvm::vm::{VcpuState, PAGE};
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{
    Channel, Clock, ContextError, CoordinatorState, DirtyLog, DirtyLogging, EncodedBatch, Encoding, Faults, GuestMemory, MigrationContext,
    Paused, RoundKind, Rounds, Sent, SwitchOver, TaskTags, Transport, Tuning,
};
use livemig_core::scenario::{OnTimeout, PhaseTag};
use livemig_core::trace::{DataKind, Event};
use std::time::{Duration, Instant};

impl Clock for KvmContext {
    fn page_count(&self) -> u64 {
        self.n
    }
    fn page_size(&self) -> u64 {
        PAGE as u64
    }
    fn now(&self) -> f64 {
        self.t()
    }
    fn deadline_passed(&self) -> bool {
        self.t() >= self.timeout
    }
    fn timeout_action(&self) -> OnTimeout {
        self.scenario.migration.on_timeout
    }
    fn wait_until(&mut self, t: f64) -> Result<(), ContextError> {
        self.wait_in_steps("t", t, |_, step| {
            std::thread::sleep(step);
            None::<()>
        })?;
        Ok(())
    }
}

impl KvmContext {
    /// Lets time pass until `until` (seconds since the start), or the timeout if that comes
    /// first, in steps of at most 20 ms, noting the guest's phase after each: `step` waits out
    /// one step and may end the wait early with a value. A NaN `until` is refused, named `name`.
    fn wait_in_steps<T>(
        &mut self,
        name: &'static str,
        until: f64,
        mut step: impl FnMut(&mut KvmContext, Duration) -> Option<T>,
    ) -> Result<Option<T>, ContextError> {
        if until.is_nan() {
            return Err(ContextError::BadArgument { name, value: until.to_string(), accepted: "a time in seconds" });
        }
        let limit = until.min(self.timeout);
        loop {
            let now = self.t();
            if now >= limit {
                self.observe_phase();
                return Ok(None);
            }
            if let Some(value) = step(self, Duration::from_secs_f64((limit - now).min(0.02))) {
                return Ok(Some(value));
            }
            self.observe_phase();
        }
    }
}

impl DirtyLog for KvmContext {
    fn enable_dirty_log(&mut self) -> Result<(), ContextError> {
        self.src.dirty_log().map_err(guest_err)?;
        self.pending.clear_all();
        Ok(())
    }
    fn fetch_dirty(&mut self, _: &DirtyLogging) -> Result<PageBitmap, ContextError> {
        self.absorb()?;
        Ok(std::mem::replace(&mut self.pending, PageBitmap::new(self.n)))
    }
    fn peek_dirty(&mut self, _: &DirtyLogging) -> Result<&PageBitmap, ContextError> {
        self.absorb()?;
        Ok(&self.pending)
    }
}

impl GuestMemory for KvmContext {
    fn is_zero_page(&mut self, page: u64) -> Result<bool, ContextError> {
        self.check_page(page)?;
        let mut buf = std::mem::take(&mut self.buf);
        self.src.memory().read(page as usize * PAGE, &mut buf);
        let zero = buf[..] == ZERO_PAGE[..];
        self.buf = buf;
        Ok(zero)
    }
    fn read_page(&mut self, page: u64, buf: &mut [u8]) -> Result<(), ContextError> {
        self.check_page(page)?;
        if buf.len() != PAGE {
            return Err(ContextError::BadArgument { name: "buf.len()", value: buf.len().to_string(), accepted: "exactly the page size" });
        }
        self.src.memory().read(page as usize * PAGE, buf);
        Ok(())
    }
    fn free_pages(&mut self) -> Result<PageBitmap, ContextError> {
        let mut b = PageBitmap::new(self.n);
        for p in self.scenario.used_range().end..self.n {
            b.set(p);
        }
        Ok(b)
    }
}

impl Transport for KvmContext {
    fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }
    fn send_pages(&mut self, pages: &[u64], channel: Channel) -> Result<Sent, ContextError> {
        let _ = channel; // one channel: post-copy's priority path is not supported.
        for &p in pages {
            self.check_page(p)?;
        }
        self.ensure_round();
        let payload = pages.len() as u64 * PAGE as u64;
        let wire = payload + pages.len() as u64 * self.header;
        // The destination copies the pages out of the source's memory (see `Msg::Copy`), then
        // the link is occupied for their bytes.
        let keep: Vec<u64> = pages.iter().copied().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Copy { pages: keep, from: self.src.memory().clone() })?;
        let times = self.transmit(wire);
        self.record_sent(times, Encoding::Full, pages, payload, wire);
        Ok(Sent { wire_bytes: wire, payload_bytes: payload })
    }
    /// Encoding time is measured, not charged: the real encoding already took real time before
    /// the call.
    fn send_encoded(&mut self, batch: &EncodedBatch) -> Result<Sent, ContextError> {
        for (page, encoding, _) in batch.iter() {
            self.check_page(page)?;
            if encoding == Encoding::Delta && self.resumed.is_some() {
                return Err(ContextError::WrongState { operation: "send_encoded", reason: "a delta needs the destination paused" });
            }
        }
        self.ensure_round();
        let mut delivered = EncodedBatch::new();
        for (page, encoding, bytes) in batch.iter() {
            if Some(page) != self.options.drop_page {
                delivered.push(page, encoding, bytes);
            }
        }
        self.send(Msg::Encoded(delivered))?;
        // One event per encoding, each occupying the link in turn (as the simulator records it).
        let mut total = Sent::default();
        for encoding in [Encoding::Zero, Encoding::Full, Encoding::Wkdm, Encoding::Lz4, Encoding::Delta] {
            let (mut pages, mut payload) = (Vec::new(), 0u64);
            for (page, e, data) in batch.iter() {
                if e == encoding {
                    pages.push(page);
                    payload += data.len() as u64 + encoding.framing_bytes();
                }
            }
            if pages.is_empty() {
                continue;
            }
            let wire = payload + pages.len() as u64 * self.header;
            let times = self.transmit(wire);
            self.record_sent(times, encoding, &pages, payload, wire);
            total.wire_bytes += wire;
            total.payload_bytes += payload;
        }
        Ok(total)
    }
    fn send_zero_pages(&mut self, pages: &[u64]) -> Result<Sent, ContextError> {
        // Not re-checked: a page the guest wrote since the caller checked it is in the dirty
        // log and will be sent again.
        for &p in pages {
            self.check_page(p)?;
        }
        self.ensure_round();
        let keep: Vec<u64> = pages.iter().copied().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Zero(keep))?;
        let payload = pages.len() as u64;
        let wire = payload + pages.len() as u64 * self.header;
        let times = self.transmit(wire);
        self.record_sent(times, Encoding::Zero, pages, payload, wire);
        Ok(Sent { wire_bytes: wire, payload_bytes: payload })
    }
    fn send_free_page_list(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        let runs = pages.runs();
        let keep: Vec<u64> = pages.iter().filter(|&p| Some(p) != self.options.drop_page).collect();
        self.send(Msg::Zero(keep))?;
        Ok(self.send_data(DataKind::FreePageList, runs.len() as u64 * 16, Some(pages)))
    }
    fn send_dirty_bitmap(&mut self, pages: &PageBitmap) -> Result<Sent, ContextError> {
        livemig_core::context::check_bitmap_length(pages, self.n)?;
        if !self.options.postcopy {
            return Err(ContextError::WrongState {
                operation: "send_dirty_bitmap",
                reason: "the destination's memory is not registered with userfaultfd (not a post-copy run)",
            });
        }
        // As in the simulator: before the switch-over the pages become absent on the
        // destination (dropped from its memory, so they fault); after it, the bitmap is only
        // information (the guest may have written them there since).
        if self.resumed.is_none() {
            self.send(Msg::Discard(pages.clone()))?;
        }
        Ok(self.send_data(DataKind::DirtyBitmap, pages.wire_bytes(), Some(pages)))
    }
}

impl SwitchOver for KvmContext {
    fn stop_source(&mut self) -> Result<(), ContextError> {
        if self.paused.is_some() {
            return Err(ContextError::WrongState { operation: "pause_source", reason: "the guest is not running on the source" });
        }
        self.observe_phase();
        let plan = self.src_runner.pause().map_err(guest_err)?;
        self.paused = Some(plan);
        let t = self.t();
        self.rec.push(t, Event::SourcePaused);
        Ok(())
    }
    fn send_state(&mut self, _: &Paused) -> Result<Sent, ContextError> {
        let Some(plan) = self.paused else {
            return Err(ContextError::WrongState { operation: "send_state", reason: "pause the source first" });
        };
        let vcpu = VcpuState::get(&self.src.vcpu().lock().expect("vcpu lock")).map_err(guest_err)?;
        self.send(Msg::State(Box::new(MigratedState { vcpu, plan })))?;
        self.state_sent = true;
        Ok(self.send_data(DataKind::State, MigratedState::wire_bytes(), None))
    }
    fn start_destination(&mut self) -> Result<(), ContextError> {
        if self.paused.is_none() || self.resumed.is_some() {
            return Err(ContextError::WrongState { operation: "resume_destination", reason: "pause the source first" });
        }
        if !self.state_sent {
            return Err(ContextError::WrongState { operation: "resume_destination", reason: "send the CPU state first" });
        }
        // The last bytes arrive one latency after they left.
        let now = Instant::now();
        if self.link_free > now {
            std::thread::sleep(self.link_free - now);
        }
        std::thread::sleep(Duration::from_secs_f64(self.latency));
        // The destination waits for everything sent (the transport is in order), loads the
        // state, and is checked page by page before its guest starts: the check's time is cut
        // out of the migration's clock (the guest runs nowhere meanwhile).
        let s = self.dest.resume(self.src.memory())?;
        let check = Duration::from_secs_f64(s.check_s);
        self.start += check;
        let t = self.t();
        self.rec.push(t, Event::DestinationResumed);
        self.verification.mismatched_pages = s.mismatched_pages;
        self.verification.first_mismatches = s.first_mismatches;
        self.verification.decode_errors.extend(s.decode_errors);
        self.verification.verify_s = s.check_s;
        self.verification.absent_at_resume = s.absent;
        self.resumed = Some((s.plan, t));
        self.throttle = 0.0;
        Ok(())
    }
}

impl Faults for KvmContext {
    fn poll_fault(&mut self) -> Result<Option<u64>, ContextError> {
        Ok(self.take_fault(Duration::ZERO))
    }
    fn wait_fault_until(&mut self, until: f64) -> Result<Option<u64>, ContextError> {
        self.wait_in_steps("until", until, |ctx, step| ctx.take_fault(step))
    }
}

impl Tuning for KvmContext {
    fn set_throttle(&mut self, fraction: f64) -> Result<(), ContextError> {
        if !(0.0..=0.99).contains(&fraction) {
            return Err(ContextError::BadArgument { name: "throttle", value: fraction.to_string(), accepted: "0 to 0.99" });
        }
        if self.paused.is_none() && fraction != self.throttle {
            self.throttle = fraction;
            self.src_runner.set_throttle(fraction);
            let t = self.t();
            self.rec.push(t, Event::Throttled { fraction });
        }
        Ok(())
    }
    fn set_rate_limit(&mut self, bytes_per_s: Option<f64>) -> Result<(), ContextError> {
        livemig_core::context::check_rate_limit(bytes_per_s)?;
        if bytes_per_s != self.rate_limit {
            self.rate_limit = bytes_per_s;
            let t = self.t();
            self.rec.push(t, Event::RateLimited { bytes_per_s });
        }
        Ok(())
    }
}

impl Rounds for KvmContext {
    fn begin_round(&mut self, kind: RoundKind) {
        if self.rec.round_open() {
            self.end_round();
        }
        let _ = self.absorb();
        let t = self.t();
        self.rec.begin_round(t, kind, self.pending.count());
    }
    fn end_round(&mut self) {
        if self.rec.round_open() {
            let _ = self.absorb();
            let t = self.t();
            self.rec.end_round(t, self.pending.count());
        }
    }
    fn coordinator(&mut self, state: CoordinatorState, reason: &str) {
        let t = self.t();
        self.rec.push(t, Event::Coordinator { state, reason: reason.to_string() });
    }
}

impl TaskTags for KvmContext {
    fn task_tag(&mut self) -> Result<Option<PhaseTag>, ContextError> {
        self.observe_phase();
        let t = match self.dest.progress() {
            Some((_, t, _)) if self.resumed.is_some() => t,
            _ => self.src_runner.guest_time(),
        };
        Ok(self.planner.tag_at(t))
    }
}

impl MigrationContext for KvmContext {}
