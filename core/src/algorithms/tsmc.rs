//! TSMC, three-stage memory copy: one full copy while the VM runs, a downtime that carries only
//! the dirty bitmap and the CPU state, then post-copy of the dirtied pages alone.
//!
//! J. Song, W. Liu, F. Yin, C. Gao, "TSMC: A Novel Approach for Live Virtual Machine
//! Migration", Journal of Applied Mathematics, vol. 2014, Article ID 297127,
//! doi:10.1155/2014/297127 (docs/algorithms/tsmc.md). The procedure is the paper's Fig. 2 \[C\]:
//!
//! 1. **Full memory copy (live)**: every page is sent once, in address order, in send calls of
//!    `copy_batch` pages, while the dirty log records the guest's writes.
//! 2. **Dirty bitmap copy (the downtime)**: pause; S = the recorded dirty pages; send the bitmap
//!    (N/8 bytes) and the CPU state; resume on the destination, where the pages of S are
//!    absent. No page data is sent during the downtime \[C\], so downtime ≈ `(N/8 + state)/B`
//!    plus the link latency and the resume overhead.
//! 3. **Dirty pages copy (post-copy)**: the source pushes the pages of S "periodically … in a
//!    preset time interval" \[C\]: every `push_interval` (default 10 ms \[R\]) up to `push_batch`
//!    pages of S not yet sent (default 512 \[R\]: 2 MiB of 4 KiB pages per 10 ms is more than a
//!    gigabit link carries, so on the paper's testbed the push runs at line rate), in address
//!    order \[R\], in send calls of 16 pages with page requests served between calls \[R\].
//!    Between pushes it waits for page requests; a request is answered with the faulted page at
//!    once and then its **prepull** window [C concept]: the pages of S not yet sent within
//!    `prepull` pages of it (default 16 \[R\]: the paper gives no size), on the priority path.
//!
//! Every page is sent at most twice \[C\], and total pages = N + |S| (docs/algorithms/tsmc.md, docs/algorithms/analytical-model.md). A page pushed
//! after the destination already has it is dropped there; this implementation never sends a
//! page of S twice, so that does not arise.
//!
//! Which writes mark a page for stage 3 (`record`) is not settled by the recovered text
//! (docs/algorithms/tsmc.md): `all-writes` (default, conservative, as the paper says "record the pages modified
//! during this process") marks every page written in stage 1; `after-sent` \[R\] marks only pages
//! written after their stage-1 transmission, since a page written before it was sent with fresh
//! content. It is implemented by peeking at the dirty log before each send call and, when a page
//! of the call is already dirty, fetching (clearing) the log and keeping only the bits of pages
//! already sent.
//!
//! **Rate limiting** (`rate_limit`, off by default) \[R\]: TSMC was built into Xen 4.1.4's
//! pre-copy code, whose stage 1 is the first iteration of `xc_domain_save`'s loop. When that code
//! is built with Clark's adaptive rate limiting (`ADAPTIVE_SAVE`; see [`super::precopy`]), the
//! first iteration runs at the start rate, so stage 1 here runs at `rate_min` (100 Mbit/s) like
//! the baseline's round 1, and stages 2 and 3 at `rate_max` (500 Mbit/s), as Clark's
//! stop-and-copy and the baseline's final round do. Without it, a rate-limited baseline would be
//! compared with a TSMC that copies memory ten times faster than the same Xen could.
//!
//! If the scenario's timeout passes during stage 1, the migration is cancelled (the VM stays on
//! the source) or switched over at once with the pages not yet copied added to S, per
//! `migration.on_timeout`; a timeout in stage 3 leaves the VM incomplete on the destination, as
//! in post-copy.

use super::postcopy_common::{resume_without, FaultWindow, PageServer, Pusher};
use super::{choice, parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, DirtyLogging, MigrationContext, Outcome, RoundKind};
use crate::scenario::OnTimeout;

/// Pages per send call in a stage-3 push; page requests are served between calls.
const PUSH_CALL_PAGES: usize = 16;

choice! {
    /// The `record` parameter: which writes stage 1 marks.
    pub enum Record { AllWrites = "all-writes", AfterSent = "after-sent" }
}

parameters! {
    /// TSMC's parameters (`[params.tsmc]`).
    pub struct TsmcParams, specs PARAMS {
        record: Record = (
            ParamKind::Choice(Record::WORDS),
            "all-writes",
            "stage 1 marks every written page, or only pages written after they were sent"
        ),
        copy_batch: u64 = (ParamKind::Int { min: 1, max: 65_536 }, "1024", "stage 1: pages per send call"),
        push_interval: f64 = (
            ParamKind::Duration { min: 0.0, max: 10.0 },
            "10 ms",
            "stage 3: time between pushes of dirty pages (0: push continuously)"
        ),
        push_batch: usize = (ParamKind::Int { min: 1, max: 1 << 20 }, "512", "stage 3: most dirty pages pushed per interval"),
        prepull: u64 = (ParamKind::Int { min: 0, max: 4096 }, "16", "stage 3: dirty pages within this distance of a faulted page travel with it"),
        rate_limit: bool = (
            ParamKind::Bool,
            "false",
            "Xen's adaptive rate limiting: stage 1 at rate_min (as pre-copy's round 1), the rest at rate_max"
        ),
        rate_min: f64 = (ParamKind::Bandwidth { min: 1e3, max: 1.25e12 }, "100 Mbit/s", "rate_limit: stage 1's rate (pre-copy's first-round rate)"),
        rate_max: f64 = (
            ParamKind::Bandwidth { min: 1e3, max: 1.25e12 },
            "500 Mbit/s",
            "rate_limit: the rate of stages 2 and 3 (pre-copy's cap and final-round rate)"
        ),
    }
}

/// The registry entry.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "tsmc",
    section: "tsmc",
    base: None,
    family: Family::Hybrid,
    downtime: Downtime::DirtyBitmap,
    summary: "Three stages: one live full copy, a downtime with only the dirty bitmap, then post-copy of the dirty pages",
    paper: "Song, Liu, Yin & Gao, TSMC: A Novel Approach for Live VM Migration, J. Applied Mathematics 2014",
    params: PARAMS,
    fixed: &[],
    build,
};

/// Builds TSMC from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let p = TsmcParams::from_params(p);
    Box::new(Tsmc {
        after_sent: p.record == Record::AfterSent,
        copy_batch: p.copy_batch,
        push_interval: p.push_interval,
        push_batch: p.push_batch,
        prepull: p.prepull,
        rate_limit: p.rate_limit.then_some((p.rate_min, p.rate_max)),
    })
}

/// Three-stage memory copy (see the module docs).
#[derive(Debug, Clone)]
pub struct Tsmc {
    after_sent: bool,
    copy_batch: u64,
    push_interval: f64,
    push_batch: usize,
    prepull: u64,
    /// Stage 1's rate and the later stages' rate, bytes/s, when rate limiting is on.
    rate_limit: Option<(f64, f64)>,
}

/// How stage 1 ended.
enum Stage1 {
    /// Every page was copied.
    Done,
    /// The timeout passed with pages `copied..n` not copied; switch over anyway.
    Forced,
    /// The timeout cancelled the migration.
    Cancelled,
}

impl Tsmc {
    /// Stage 1: copies pages `0..n` in address order. Returns how it ended, the number of pages
    /// copied, and (for `after-sent`) the pages already known to need resending.
    fn full_copy(&self, ctx: &mut dyn MigrationContext, logging: &DirtyLogging) -> Result<(Stage1, u64, PageBitmap), ContextError> {
        let n = ctx.page_count();
        let mut resend = PageBitmap::new(n);
        let mut copied = 0;
        let mut batch = Vec::with_capacity(self.copy_batch.min(n) as usize);
        while copied < n {
            if ctx.deadline_passed() {
                let how = if ctx.timeout_action() == OnTimeout::Cancel { Stage1::Cancelled } else { Stage1::Forced };
                return Ok((how, copied, resend));
            }
            let end = (copied + self.copy_batch).min(n);
            if self.after_sent && ctx.peek_dirty(logging)?.next_set(copied).is_some_and(|p| p < end) {
                // A page of this call was written before being sent: its bit is stale. Collect
                // the log, keep the bits of pages already sent.
                let dirty = ctx.fetch_dirty(logging)?;
                dirty.iter().take_while(|&p| p < copied).for_each(|p| {
                    resend.set(p);
                });
            }
            batch.clear();
            batch.extend(copied..end);
            ctx.send_pages(&batch, Channel::Bulk)?;
            copied = end;
        }
        Ok((Stage1::Done, copied, resend))
    }

    /// Stage 3: pushes S periodically and serves page requests until it is all there.
    fn dirty_copy(&self, ctx: &mut dyn MigrationContext, server: &mut PageServer) -> Result<Outcome, ContextError> {
        let mut next_push = ctx.now();
        while server.remaining() > 0 {
            if ctx.deadline_passed() {
                ctx.end_round();
                return Ok(server.timeout_outcome());
            }
            server.serve_arrived(ctx)?;
            if server.remaining() == 0 {
                break;
            }
            if ctx.now() >= next_push {
                let mut left = self.push_batch;
                while left > 0 && !ctx.deadline_passed() {
                    let pushed = server.push(ctx, left.min(PUSH_CALL_PAGES))?;
                    if pushed == 0 {
                        break;
                    }
                    left -= pushed;
                    server.serve_arrived(ctx)?;
                }
                next_push += self.push_interval;
                continue;
            }
            if let Some(page) = ctx.wait_fault_until(next_push)? {
                server.serve(ctx, page)?;
            }
        }
        ctx.end_round();
        Ok(Outcome::converged("every dirty page is on the destination"))
    }
}

impl Algorithm for Tsmc {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let n = ctx.page_count();
        let logging = ctx.start_dirty_log()?;
        if let Some((min, _)) = self.rate_limit {
            ctx.set_rate_limit(Some(min))?;
        }
        ctx.begin_round(RoundKind::Live);
        let (how, copied, resend) = self.full_copy(ctx, &logging)?;
        if let Stage1::Cancelled = how {
            ctx.end_round();
            return Ok(Outcome::forced("timeout during the full copy (stage 1): migration cancelled, the VM stays on the source"));
        }

        ctx.begin_round(RoundKind::StopAndCopy);
        if let Some((_, max)) = self.rate_limit {
            ctx.set_rate_limit(Some(max))?;
        }
        let paused = ctx.pause_source()?;
        // With `after-sent` every bit left in the log was set after its page's send: each call
        // started with none of its pages dirty.
        let mut dirty = ctx.fetch_dirty(&logging)?;
        dirty.union_with(&resend);
        for p in copied..n {
            dirty.set(p);
        }
        let done = resume_without(ctx, paused, &dirty)?;
        let mut server = PageServer::new(done, Pusher::linear(), FaultWindow::Around(self.prepull));
        let outcome = self.dirty_copy(ctx, &mut server)?;
        match how {
            Stage1::Forced => {
                Ok(Outcome::forced(format!("timeout during the full copy (stage 1): forced switch-over; {}", outcome.stop_reason)))
            }
            _ => Ok(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{DataKind, Event, TraceDetail};
    use crate::{simulate, Run, Scenario};

    const BASE: &str = r#"
        [vm]
        memory = "16 MiB"
        state_size = "64 KiB"
        resume_overhead = "0 s"
        [link]
        bandwidth = "1 Gbit/s"
        latency = "0 s"
        page_header = "0 B"
        [migration]
        timeout = "60 s"
    "#;

    fn run(workload: &str, params: &str, detail: TraceDetail) -> Run {
        let s = Scenario::from_toml_str(&format!("{BASE}\n[workload]\n{workload}\n[params.tsmc]\n{params}")).unwrap();
        simulate(&s, Some("tsmc"), detail).unwrap()
    }

    /// The pages of the dirty bitmap (S).
    fn bitmap_pages(r: &Run) -> Vec<u64> {
        let mut it = r.trace.events.iter().filter_map(|e| match &e.event {
            Event::DataSent { what: DataKind::DirtyBitmap, pages, .. } => Some(pages.iter().collect::<Vec<_>>()),
            _ => None,
        });
        let s = it.next().expect("a dirty bitmap was sent");
        assert!(it.next().is_none(), "one bitmap");
        s
    }

    /// A sequential writer in the upper half of memory, which the full copy reaches halfway.
    const UPPER_HALF_WRITER: &str = r#"
        pattern = "sequential"
        write_rate = "3000 pages/s"
        read_rate = "3000 pages/s"
        working_set = "8 MiB"
        working_set_offset = "8 MiB"
    "#;

    #[test]
    fn downtime_carries_no_page_data() {
        let r = run(UPPER_HALF_WRITER, "", TraceDetail::Pages);
        let rep = &r.report;
        assert!(rep.converged && rep.completed && rep.verified, "{rep:?}");
        let (mut paused, mut bitmap_bytes) = (false, 0);
        for e in &r.trace.events {
            match &e.event {
                Event::SourcePaused => paused = true,
                Event::DestinationResumed => break,
                Event::PagesSent { count, .. } => assert!(!paused, "{count} pages sent during the downtime"),
                Event::DataSent { what: DataKind::DirtyBitmap, bytes, .. } => bitmap_bytes = *bytes,
                _ => {}
            }
        }
        assert_eq!(bitmap_bytes, 4096 / 8);
        let expected = (512.0 + 65536.0) / 125e6;
        assert!((rep.downtime_s - expected).abs() < 1e-9, "downtime {} expected {expected}", rep.downtime_s);
        // Total pages = N + |S|, each page at most twice.
        let s = bitmap_pages(&r).len() as u64;
        assert!(s > 100, "the writer dirtied {s} pages");
        assert_eq!(rep.pages_sent, 4096 + s);
        assert_eq!(rep.duplicate_pages, s);
        assert_eq!(rep.dropped_pages, 0);
    }

    #[test]
    fn rate_limiting_runs_stage_1_at_the_start_rate_and_the_rest_at_the_cap() {
        let limited = "rate_limit = true\nrate_min = \"100 Mbit/s\"\nrate_max = \"500 Mbit/s\"";
        let r = run(UPPER_HALF_WRITER, limited, TraceDetail::Summary);
        let rep = &r.report;
        assert!(rep.converged && rep.completed && rep.verified, "{rep:?}");
        // Stage 1 carries the whole of memory (16 MiB, no headers) at 100 Mbit/s.
        let stage1 = &rep.per_round[0];
        let expected = (16u64 << 20) as f64 / 12.5e6;
        assert!((stage1.end_s - stage1.start_s - expected).abs() < 0.01 * expected, "{stage1:?}, expected {expected} s");
        // Stage 3 pushes faster than 500 Mbit/s would allow: it runs at the cap.
        let stage3 = rep.per_round.last().unwrap();
        let rate = stage3.bytes_sent as f64 / (stage3.end_s - stage3.start_s);
        assert!(rate <= 62.5e6 * 1.001 && rate > 0.8 * 62.5e6, "stage 3 at {rate} B/s: {stage3:?}");
        // Without rate limiting stage 1 runs at the line rate (1 Gbit/s).
        let free = run(UPPER_HALF_WRITER, "", TraceDetail::Summary);
        let s1 = &free.report.per_round[0];
        assert!((s1.end_s - s1.start_s - (16u64 << 20) as f64 / 125e6).abs() < 1e-3, "{s1:?}");
    }

    #[test]
    fn an_idle_vm_sends_each_page_once() {
        let r = run("pattern = \"uniform\"\nwrite_rate = \"0 pages/s\"\nread_rate = \"1000 pages/s\"", "", TraceDetail::Pages);
        let rep = &r.report;
        assert!(rep.converged && rep.completed && rep.verified, "{rep:?}");
        assert_eq!(rep.pages_sent, 4096);
        assert_eq!(rep.network_faults, 0);
        assert!(bitmap_pages(&r).is_empty());
        assert_eq!(rep.rounds, 3, "full copy, bitmap, dirty pages");
    }

    #[test]
    fn after_sent_resends_only_pages_written_after_their_copy() {
        let all = run(UPPER_HALF_WRITER, "record = \"all-writes\"", TraceDetail::Pages);
        let after = run(UPPER_HALF_WRITER, "record = \"after-sent\"", TraceDetail::Pages);
        assert!(all.report.verified && after.report.verified, "{:?}\n{:?}", all.report, after.report);
        let (s_all, s_after) = (bitmap_pages(&all), bitmap_pages(&after));
        // The writer starts at page 2048 and the copy reaches it about halfway through stage 1:
        // the pages written before that were sent fresh.
        assert!(s_after.len() * 3 / 2 < s_all.len(), "after-sent {} all-writes {}", s_after.len(), s_all.len());
        assert!(s_after.iter().all(|p| s_all.contains(p)), "after-sent marks a subset");
        assert!(!s_after.contains(&2048) && s_all.contains(&2048));
        assert_eq!(after.report.pages_sent, 4096 + s_after.len() as u64);
    }

    /// Checks every fault reply of a run: the faulted page alone on the priority path, then the
    /// pages of S within `k` of it not sent before. Returns the number of window pages sent.
    fn check_prepull(r: &Run, k: u64) -> u64 {
        let s: std::collections::BTreeSet<u64> = bitmap_pages(r).into_iter().collect();
        let mut sent = std::collections::BTreeSet::new();
        let (mut resumed, mut fault, mut window_pages) = (false, None, 0);
        for e in &r.trace.events {
            match &e.event {
                Event::DestinationResumed => resumed = true,
                Event::FaultRaised { page, .. } => {
                    assert!(s.contains(page), "fault on page {page}, which is not in S");
                    fault = Some(*page);
                }
                Event::PagesSent { channel, pages, .. } if resumed => {
                    let pages: Vec<u64> = pages.iter().collect();
                    if *channel == Channel::Priority {
                        let f = fault.expect("a priority send answers a fault");
                        if pages != [f] {
                            let expected: Vec<u64> =
                                s.range(f.saturating_sub(k)..=f + k).copied().filter(|p| *p != f && !sent.contains(p)).collect();
                            assert_eq!(pages, expected, "prepull window of page {f}");
                            window_pages += pages.len() as u64;
                        }
                    }
                    for p in pages {
                        assert!(s.contains(&p), "page {p} sent in stage 3 but not in S");
                        assert!(sent.insert(p), "page {p} sent twice in stage 3");
                    }
                }
                _ => {}
            }
        }
        window_pages
    }

    #[test]
    fn a_fault_brings_its_prepull_window_of_dirty_pages() {
        // Random writes over the upper half during stage 1 scatter S there; after resume the
        // guest reads the same pages at random; pushes are single pages 10 s apart, so faults
        // and their windows move almost all of S.
        let workload = r#"
            pattern = "uniform"
            write_rate = "3000 pages/s"
            read_rate = "2000 pages/s"
            working_set = "8 MiB"
            working_set_offset = "8 MiB"
        "#;
        let params = "push_interval = \"10 s\"\npush_batch = 1\n";
        let with = run(workload, &format!("{params}prepull = 16"), TraceDetail::Accesses);
        let without = run(workload, &format!("{params}prepull = 0"), TraceDetail::Accesses);
        assert!(with.report.verified && without.report.verified, "{:?}\n{:?}", with.report, without.report);
        assert!(check_prepull(&with, 16) > 50, "windows carried dirty neighbours");
        assert_eq!(check_prepull(&without, 0), 0);
        assert!(
            with.report.network_faults * 2 < without.report.network_faults,
            "prepull {} faults, none {}",
            with.report.network_faults,
            without.report.network_faults
        );
    }

    #[test]
    fn a_timeout_in_stage_1_cancels_or_forces_the_switch_over() {
        let s = Scenario::from_toml_str(&format!("{BASE}\n[workload]\n{UPPER_HALF_WRITER}")).unwrap();
        let cancel = s.with_overrides(&["migration.timeout=\"50 ms\"".into(), "migration.on_timeout=\"cancel\"".into()]).unwrap();
        let r = simulate(&cancel, Some("tsmc"), TraceDetail::Pages).unwrap();
        assert!(!r.trace.events.iter().any(|e| matches!(e.event, Event::SourcePaused)), "the VM stays on the source");
        assert!(!r.report.converged && !r.report.completed, "{:?}", r.report);
        assert!(r.report.stop_reason.contains("cancelled"), "{}", r.report.stop_reason);
        let force = cancel.with_overrides(&["migration.on_timeout=\"force-stop\"".into()]).unwrap();
        let r = simulate(&force, Some("tsmc"), TraceDetail::Pages).unwrap();
        let bitmap = bitmap_pages(&r);
        assert!(bitmap.contains(&4095), "pages never copied are in the bitmap");
        assert!(!r.report.converged && !r.report.completed, "{:?}", r.report);
        assert!(r.report.stop_reason.contains("forced switch-over"), "{}", r.report.stop_reason);
    }
}
