//! Workloads: the guest's memory accesses as seekable streams in guest time.
//!
//! A workload is a sequence of phases (one phase when the scenario gives none). Each phase has a
//! write stream and a read stream; the `k`-th access of a stream within a phase happens at guest
//! time `phase_start + k / rate` (constant spacing, so "D pages/s" means exactly D per second),
//! and its page is a pure function of `(seed, stream, phase, cycle, k)` (see [`crate::rng`]).
//! Because streams are pure functions of time, the destination can continue the guest's access
//! stream exactly where the source paused it, and the same scenario and seed always produce the
//! same accesses.
//!
//! Guest time stops while the VM is paused or blocked on a network fault, and runs slower while
//! it is throttled; the simulator maps guest time to wall-clock time. Writes stalled by dirty
//! logging's write faults (`host.dirty_fault_time`) fall behind guest time and catch up, at most
//! [`MAX_CATCH_UP_S`] of it.

use crate::rng::{below, hash4_prefix, CounterRng};
use crate::scenario::{AccessPattern, PhaseTag, Scenario};
use rand::distr::{Distribution, StandardUniform};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The most of its schedule, in guest seconds, that a guest's writes may fall behind and still
/// be caught up in a burst; a guest later than that gives up the writes it missed and goes on
/// from the present. The QEMU peer's guest program does the same (`P_MAX_LAG_W`, 0.1 s of its
/// write rate, in `native-runner/qemu-guest/guest.S`); an open-loop service with a bounded queue
/// behaves alike.
pub const MAX_CATCH_UP_S: f64 = 0.1;

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// The guest reads the page.
    Read,
    /// The guest writes the page (a new version).
    Write,
}

/// One resolved phase of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name from the scenario (or "main").
    pub name: String,
    /// Start within one cycle of the phase sequence, in guest seconds.
    pub offset: f64,
    /// Length in guest seconds (infinite for the last phase of a non-repeating sequence).
    pub duration: f64,
    /// Tag a task-guided coordinator sees when the phase starts.
    pub tag: Option<PhaseTag>,
    /// How pages are chosen.
    pub pattern: AccessPattern,
    /// Writes per guest second.
    pub write_rate: f64,
    /// Reads per guest second.
    pub read_rate: f64,
    /// First page of the working set.
    pub ws_start: u64,
    /// Pages in the working set.
    pub ws_len: u64,
    /// Pages in the hot part (hot-cold only).
    pub hot_len: u64,
    /// Probability of the hot part (hot-cold only).
    pub hot_probability: f64,
}

/// A scenario's workload, resolved to pages and rates.
#[derive(Debug, Clone)]
pub struct Workload {
    seed: u64,
    phases: Vec<Phase>,
    cycle_len: f64,
    repeat: bool,
}

/// Position in one access stream: the next access not yet taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    kind: AccessKind,
    phase: usize,
    cycle: u64,
    k: u64,
    /// What [`Workload::peek`] last found for this position (it is asked again and again for
    /// the stream whose access is not the next: the simulator merges two streams).
    peeked: Option<(f64, u64)>,
    /// The hash prefix of this stream, phase and cycle ([`crate::rng::hash4_prefix`]): an
    /// access's page then costs one mixing step.
    prefix: u64,
}

impl Workload {
    /// Resolves the scenario's workload (the scenario must be valid).
    pub fn new(s: &Scenario) -> Workload {
        let ps = s.vm.page_size.0;
        let used = s.used_pages();
        // Offsets count from the end of the reserved memory.
        let base = s.used_range().start;
        let w = &s.workload;
        let specs: Vec<crate::scenario::PhaseSpec> = if w.phases.is_empty() { vec![Default::default()] } else { w.phases.clone() };
        let n = specs.len();
        let mut offset = 0.0;
        let mut phases = Vec::with_capacity(n);
        for (i, p) in specs.iter().enumerate() {
            let ws_start = p.working_set_offset.unwrap_or(w.working_set_offset).0 / ps;
            let ws_len = p.working_set.or(w.working_set).map(|b| b.0 / ps).unwrap_or(used - ws_start).max(1);
            let hot_fraction = p.hot_fraction.unwrap_or(w.hot_fraction);
            // Without explicit phases, or for the last phase of a sequence that does not
            // repeat, the phase lasts forever (validation guarantees the others have durations).
            let duration =
                if w.phases.is_empty() || (!w.repeat && i + 1 == n) { f64::INFINITY } else { p.duration.map_or(f64::INFINITY, |d| d.0) };
            phases.push(Phase {
                name: if p.name.is_empty() {
                    if n == 1 {
                        "main".into()
                    } else {
                        format!("phase {i}")
                    }
                } else {
                    p.name.clone()
                },
                offset,
                duration,
                tag: p.tag,
                pattern: p.pattern.unwrap_or(w.pattern),
                write_rate: p.write_rate.unwrap_or(w.write_rate).0,
                read_rate: p.read_rate.unwrap_or(w.read_rate).0,
                ws_start: base + ws_start,
                ws_len,
                hot_len: ((ws_len as f64 * hot_fraction).round() as u64).clamp(1, ws_len),
                hot_probability: p.hot_probability.unwrap_or(w.hot_probability),
            });
            offset += duration;
        }
        let cycle_len = offset;
        Workload { seed: s.seed, phases, cycle_len, repeat: w.repeat && cycle_len.is_finite() }
    }

    /// The resolved phases.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// The phase running at guest time `t`, and the guest time it started.
    pub fn phase_at(&self, t: f64) -> (usize, f64) {
        let (cycle_start, within) = if self.repeat {
            let c = (t / self.cycle_len).floor().max(0.0);
            (c * self.cycle_len, t - c * self.cycle_len)
        } else {
            (0.0, t)
        };
        let idx = self.phases.iter().position(|p| within < p.offset + p.duration).unwrap_or(self.phases.len() - 1);
        (idx, cycle_start + self.phases[idx].offset)
    }

    /// The tag of the code region the guest is in at guest time `t`: the tag of the phase
    /// running then or, if it has none, of the last tagged phase before it. A repeating sequence
    /// counts around the cycle (the task has been looping), so there every phase is in some
    /// tagged region as soon as one phase has a tag. None if no phase up to `t` has a tag.
    pub fn tag_at(&self, t: f64) -> Option<PhaseTag> {
        let (idx, _) = self.phase_at(t);
        let wrapped: &[Phase] = if self.repeat { &self.phases[idx + 1..] } else { &[] };
        self.phases[..=idx].iter().rev().chain(wrapped.iter().rev()).find_map(|p| p.tag)
    }

    fn rate(&self, phase: usize, kind: AccessKind) -> f64 {
        let p = &self.phases[phase];
        match kind {
            AccessKind::Write => p.write_rate,
            AccessKind::Read => p.read_rate,
        }
    }

    fn phase_start(&self, phase: usize, cycle: u64) -> f64 {
        let cycle_start = if self.repeat { cycle as f64 * self.cycle_len } else { 0.0 };
        cycle_start + self.phases[phase].offset
    }

    /// A cursor at the first access of `kind` at or after guest time `t`.
    pub fn seek(&self, kind: AccessKind, t: f64) -> Cursor {
        let (phase, start) = self.phase_at(t);
        let cycle = if self.repeat { ((start - self.phases[phase].offset) / self.cycle_len).round() as u64 } else { 0 };
        let rate = self.rate(phase, kind);
        let k = if rate > 0.0 { ((t - start) * rate).ceil().max(0.0) as u64 } else { 0 };
        Cursor { kind, phase, cycle, k, peeked: None, prefix: self.stream_prefix(kind, phase, cycle) }
    }

    /// The next access of the cursor's stream: `(guest_time, page)`, or None if the stream
    /// never accesses memory again.
    pub fn peek(&self, c: &mut Cursor) -> Option<(f64, u64)> {
        if c.peeked.is_some() {
            return c.peeked;
        }
        // Skip phases that are over or have no accesses of this kind; give up after one full
        // cycle without accesses.
        let mut skipped = 0;
        loop {
            let p = &self.phases[c.phase];
            let rate = self.rate(c.phase, c.kind);
            if rate > 0.0 {
                let t = c.k as f64 / rate;
                if t < p.duration {
                    c.peeked = Some((self.phase_start(c.phase, c.cycle) + t, self.page(c)));
                    return c.peeked;
                }
            }
            if p.duration.is_infinite() || skipped > self.phases.len() {
                return None;
            }
            skipped += 1;
            c.k = 0;
            c.phase += 1;
            if c.phase == self.phases.len() {
                if !self.repeat {
                    return None;
                }
                c.phase = 0;
                c.cycle += 1;
            }
            c.prefix = self.stream_prefix(c.kind, c.phase, c.cycle);
        }
    }

    /// The hash prefix of the accesses of `kind` in `phase` of `cycle`.
    fn stream_prefix(&self, kind: AccessKind, phase: usize, cycle: u64) -> u64 {
        let stream = (kind == AccessKind::Read) as u64 | (phase as u64) << 1;
        hash4_prefix(self.seed, stream, cycle)
    }

    /// For a workload of one endless phase: the pages it can ever access (None for several
    /// phases, whose working sets differ).
    pub fn reachable_pages(&self) -> Option<std::ops::Range<u64>> {
        let [p] = &self.phases[..] else { return None };
        if p.duration.is_finite() {
            return None;
        }
        let len = if p.pattern == AccessPattern::Idle { 1 } else { p.ws_len };
        Some(p.ws_start..p.ws_start + len)
    }

    /// For a workload of one endless phase: moves `c` to the first access of its stream at or
    /// after guest time `t` (as [`Workload::advance`] past every earlier one would) and returns
    /// how many accesses it passed; None, and `c` unchanged, for several phases.
    pub fn skip_to(&self, c: &mut Cursor, t: f64) -> Option<u64> {
        self.reachable_pages()?;
        let target = self.seek(c.kind, t);
        let passed = target.k.saturating_sub(c.k);
        if passed > 0 {
            c.k = target.k;
            c.peeked = None;
        }
        Some(passed)
    }

    /// Moves past the access last returned by [`Workload::peek`].
    pub fn advance(&self, c: &mut Cursor) {
        c.k += 1;
        c.peeked = None;
    }

    fn page(&self, c: &Cursor) -> u64 {
        let p = &self.phases[c.phase];
        // The k-th number of the stream (seed, stream, cycle) = hash4(seed, stream, cycle, k):
        // `stream_prefix` computed the first three.
        let mut stream = CounterRng::from_prefix(c.prefix);
        stream.seek(c.k);
        let h = stream.next_u64();
        match p.pattern {
            AccessPattern::Idle => p.ws_start,
            AccessPattern::Uniform => p.ws_start + below(h, p.ws_len),
            AccessPattern::Sequential => p.ws_start + c.k % p.ws_len,
            AccessPattern::HotCold => {
                let cold_len = p.ws_len - p.hot_len;
                // The hot/cold coin: a uniform float from its own stream, keyed by the access
                // (its first number is mix64(h ^ 0x5EED)), drawn by rand's StandardUniform. The
                // comparison stays hand-written: rand's Bernoulli compares all 64 bits against
                // p * 2^64, which decides differently from this 53-bit float near the threshold
                // and would change some accesses, and so the traces.
                let coin: f64 = StandardUniform.sample(&mut CounterRng::from_prefix(h ^ 0x5EED));
                let hot = cold_len == 0 || coin < p.hot_probability;
                if hot {
                    p.ws_start + below(h, p.hot_len)
                } else {
                    p.ws_start + p.hot_len + below(h, cold_len)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        Scenario::from_toml_str(&format!("[vm]\nmemory = \"64 MiB\"\n{extra}")).unwrap()
    }

    #[test]
    fn constant_rate_and_seek_continues_the_same_stream() {
        let s = scenario("[workload]\npattern = \"uniform\"\nwrite_rate = 1000");
        let w = Workload::new(&s);
        let mut c = w.seek(AccessKind::Write, 0.0);
        let mut seen = Vec::new();
        while let Some((t, p)) = w.peek(&mut c) {
            if t >= 1.0 {
                break;
            }
            seen.push((t, p));
            w.advance(&mut c);
        }
        assert_eq!(seen.len(), 1000);
        let mut c2 = w.seek(AccessKind::Write, seen[500].0);
        assert_eq!(w.peek(&mut c2), Some(seen[500]));
    }

    /// The pages of the workload's first `n` writes.
    fn first_writes(w: &Workload, n: usize) -> Vec<u64> {
        let mut c = w.seek(AccessKind::Write, 0.0);
        (0..n)
            .map(|_| {
                let page = w.peek(&mut c).unwrap().1;
                w.advance(&mut c);
                page
            })
            .collect()
    }

    #[test]
    fn offsets_count_from_the_end_of_the_reserved_memory() {
        // 1 MiB reserved (256 pages), then an offset of 2 MiB (512 pages).
        let s = scenario(
            "reserved_memory = \"1 MiB\"\n[workload]\npattern = \"sequential\"\nwrite_rate = 100\nworking_set = \"4 MiB\"\nworking_set_offset = \"2 MiB\"",
        );
        assert_eq!(s.used_range(), 256..16384);
        let pages = first_writes(&Workload::new(&s), 1024);
        assert_eq!(pages, (768..1792).collect::<Vec<_>>());
        // Without a working set the workload has all of the used memory, and no reserved page.
        let all = Workload::new(&scenario("reserved_memory = \"1 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 100000"));
        let pages = first_writes(&all, 100_000);
        assert!(pages.iter().all(|p| (256..16384).contains(p)));
        assert!(pages.iter().any(|&p| p < 300) && pages.iter().any(|&p| p > 16300));
    }

    #[test]
    fn sequential_sweeps_distinct_pages() {
        let s = scenario("[workload]\npattern = \"sequential\"\nwrite_rate = 100\nworking_set = \"4 MiB\"");
        let pages = first_writes(&Workload::new(&s), 1024);
        assert_eq!(pages, (0..1024).collect::<Vec<_>>());
    }

    #[test]
    fn hot_cold_concentrates_on_the_hot_part() {
        let s = scenario("[workload]\npattern = \"hot-cold\"\nwrite_rate = 1000\nhot_fraction = 0.1\nhot_probability = 0.9");
        let w = Workload::new(&s);
        let hot_len = w.phases()[0].hot_len;
        let mut c = w.seek(AccessKind::Write, 0.0);
        let mut hot = 0;
        for _ in 0..10_000 {
            if w.peek(&mut c).unwrap().1 < hot_len {
                hot += 1;
            }
            w.advance(&mut c);
        }
        assert!((8800..9200).contains(&hot), "{hot}");
    }

    #[test]
    fn phases_cycle_with_their_own_rates() {
        let s = scenario(
            "[workload]\npattern = \"uniform\"\nwrite_rate = 0\n[[workload.phases]]\nduration = \"1 s\"\nwrite_rate = 10\n[[workload.phases]]\nduration = \"1 s\"\nwrite_rate = 0\ntag = \"enter-calm\"",
        );
        let w = Workload::new(&s);
        assert_eq!(w.phase_at(1.5).0, 1);
        assert_eq!(w.phase_at(2.5), (0, 2.0));
        let mut c = w.seek(AccessKind::Write, 0.0);
        let times: Vec<f64> = (0..20)
            .map(|_| {
                let a = w.peek(&mut c).unwrap().0;
                w.advance(&mut c);
                a
            })
            .collect();
        assert!(times[..10].iter().all(|&t| t < 1.0));
        assert!(times[10..].iter().all(|&t| (2.0..3.0).contains(&t)));
        let mut r = w.seek(AccessKind::Read, 0.0);
        assert_eq!(w.peek(&mut r), None);
    }

    #[test]
    fn tags_hold_until_the_next_tag_and_wrap_around_a_cycle() {
        let phases = "[[workload.phases]]\nduration = \"1 s\"\ntag = \"leave-calm\"\n[[workload.phases]]\nduration = \"1 s\"\n\
                      [[workload.phases]]\nduration = \"1 s\"\ntag = \"enter-calm\"\n[[workload.phases]]\nduration = \"1 s\"\n";
        let w = Workload::new(&scenario(&format!("[workload]\n{phases}")));
        let tags: Vec<_> = [0.5, 1.5, 2.5, 3.5, 4.5].iter().map(|&t| w.tag_at(t)).collect();
        use PhaseTag::*;
        assert_eq!(tags, [Some(LeaveCalm), Some(LeaveCalm), Some(EnterCalm), Some(EnterCalm), Some(LeaveCalm)]);
        // Untagged first phases: before the first tag there is none, unless the sequence repeats.
        let late = "[[workload.phases]]\nduration = \"1 s\"\n[[workload.phases]]\nduration = \"1 s\"\ntag = \"enter-calm\"\n";
        let once = Workload::new(&scenario(&format!("[workload]\nrepeat = false\n{late}")));
        assert_eq!((once.tag_at(0.5), once.tag_at(7.0)), (None, Some(EnterCalm)));
        let looping = Workload::new(&scenario(&format!("[workload]\n{late}")));
        assert_eq!(looping.tag_at(0.5), Some(EnterCalm));
        assert_eq!(Workload::new(&scenario("")).tag_at(3.0), None);
    }
}
