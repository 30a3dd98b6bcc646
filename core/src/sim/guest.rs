//! The simulated guest: its accesses on the source (writes bump versions and set dirty-log
//! bits) and on the destination (an access to an absent page is a network fault that blocks it
//! until the page arrives), and its workload's phases.

use super::{SimContext, Where};
use crate::trace::{Event, Host, TraceDetail};
use crate::workload::{AccessKind, Cursor, MAX_CATCH_UP_S};

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

impl SimContext {
    /// The guest's phase right now: index, name and tag.
    pub fn guest_phase(&self) -> &crate::workload::Phase {
        &self.workload.phases()[self.workload.phase_at(self.guest).0]
    }

    /// Emits a phase change if guest time `g` has entered a new phase.
    pub(super) fn track_phase(&mut self, wall: f64, host: Host) {
        let (phase, _) = self.workload.phase_at(self.guest);
        if phase != self.phase {
            self.phase = phase;
            let p = &self.workload.phases()[phase];
            let event = Event::PhaseChanged { phase, name: p.name.clone(), tag: p.tag, host };
            self.rec.push(wall, event);
        }
    }

    /// Runs the clock forward to `t`, running the guest wherever it is.
    pub(super) fn advance_to(&mut self, t: f64) {
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

    /// Runs the source guest's writes until wall time `t_end`. With `host.dirty_fault_time`,
    /// each write that sets a dirty-log bit stalls the vCPU for that long, so the guest's writes
    /// fall behind its schedule while it dirties new pages, and catch up (each as soon as the
    /// vCPU is free) while it rewrites dirty ones; a guest more than [`MAX_CATCH_UP_S`] behind
    /// gives up the writes it missed. Without it the vCPU is never stalled and each write
    /// happens on schedule.
    pub(super) fn run_source_until(&mut self, t_end: f64) {
        let speed = 1.0 - self.throttle;
        let (wall0, g0) = (self.now, self.guest);
        let g_end = g0 + (t_end - wall0) * speed;
        let wall_of = |g: f64| if speed > 0.0 { wall0 + (g - g0) / speed } else { wall0 };
        let mut free = self.vcpu_stalled_until.max(wall0);
        while free < t_end {
            let Some((g, page)) = self.workload.peek(&mut self.writes) else { break };
            let due = g0 + (free - wall0) * speed;
            if due - g > MAX_CATCH_UP_S {
                self.give_up_writes_before(due);
                continue;
            }
            if g >= g_end {
                break;
            }
            self.workload.advance(&mut self.writes);
            let wall = wall_of(g).max(free);
            if self.workload.phases().len() > 1 {
                self.guest = g;
                self.track_phase(wall, Host::Source);
            }
            free = if self.write_on_source(wall, page) { wall + self.dirty_fault_s } else { wall };
        }
        self.vcpu_stalled_until = free;
        self.guest = g_end;
        if self.workload.phases().len() > 1 {
            self.track_phase(t_end, Host::Source);
        }
    }

    /// The source guest writes `page` at `wall`: a new version, and a dirty-log bit while the
    /// log is on. True when the write set the bit, which is what traps into the hypervisor on a
    /// real host (the page was write-protected since the last sync).
    fn write_on_source(&mut self, wall: f64, page: u64) -> bool {
        self.src_version[page as usize] += 1;
        self.guest_writes += 1;
        let faulted = self.logging && self.dirty.set(page);
        if faulted {
            self.rec.dirtied(wall, page);
        }
        faulted
    }

    /// Moves the write stream past every write scheduled before guest time `t`, none of them
    /// made (a guest too late to catch up). [`crate::workload::Workload::skip_to`] jumps there
    /// where it can; a workload of several phases is stepped through.
    fn give_up_writes_before(&mut self, t: f64) {
        if self.workload.skip_to(&mut self.writes, t).is_none() {
            while self.workload.peek(&mut self.writes).is_some_and(|(g, _)| g < t) {
                self.workload.advance(&mut self.writes);
            }
        }
    }

    /// The source is paused: writes that dirty logging's faults held back are given up (a
    /// guest resumed after a downtime is late by it as well; see [`MAX_CATCH_UP_S`]).
    pub(super) fn drop_write_backlog(&mut self) {
        if self.dirty_fault_s > 0.0 {
            self.give_up_writes_before(self.guest);
            self.vcpu_stalled_until = self.now;
        }
    }

    pub(super) fn next_access(&mut self) -> Option<(f64, u64, AccessKind)> {
        let w = self.workload.peek(&mut self.writes);
        let r = self.workload.peek(&mut self.reads);
        earlier_access(w, r)
    }

    /// Whether every page the destination guest can still touch is present there (known for a
    /// one-phase workload). Pages never become absent after the switch-over, so the scan only
    /// moves forward.
    pub(super) fn every_reachable_page_present(&mut self) -> bool {
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
    pub(super) fn replay_accesses(&mut self, mut w: Cursor, mut writes: u64, mut r: Cursor, mut reads: u64, guest0: f64, wall0: f64) {
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
    pub(super) fn run_destination_until(&mut self, t_end: f64, stop_at_fault: bool) -> bool {
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
                if self.rec.detail() == TraceDetail::Accesses {
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
    pub(super) fn take_present_access(&mut self, wall: f64, page: u64, kind: AccessKind) {
        if self.rec.detail() == TraceDetail::Accesses {
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
    pub(super) fn take_present_accesses(&mut self, t_end: f64) {
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
}
