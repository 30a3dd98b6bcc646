//! Hybrid pre/post-copy: ship the working set with the CPU state, then post-copy the rest.
//!
//! S. Sahni and V. Varma, "A Hybrid Approach to Live Migration of Virtual Machines", IEEE CCEM
//! 2012, pp. 1–5 (KVM/QEMU). Only the abstract is known (docs/algorithms/hybrid.md): the CPU state is
//! bundled with the devices and the VM's frequently accessed pages, its working set, which
//! "drastically reduces network page faults" [C/M]; on every network fault the pages in the
//! fault's locality travel with the faulted page \[M\]. Everything below that is a
//! reconstruction \[R\], and each choice is a parameter:
//!
//! 1. **Working-set estimation** while the VM runs on the source: the dirty log runs for
//!    `ws_window` (default 1 s), fetched `ws_samples` times; the working set WS is every page
//!    written in the window [R: KVM has no cheap accessed-bit API, so a write-based working set
//!    is the practical choice]. With `ws_max_pages` > 0 the set is capped to the pages written
//!    in the most samples (ties: lower addresses first) \[R\].
//! 2. **Freeze and copy (the downtime)**: pause; send the WS pages and the CPU and device
//!    state. Downtime ≈ `(state + |WS|·P)/B` plus the link latency and the resume overhead.
//! 3. **Resume** on the destination; the pages outside WS are absent.
//! 4. **Post-copy**: the source pushes the remaining pages in `push_batch`-page send calls in
//!    address order (`prepaging = none`, the default \[R\]) or bubbling around the latest fault
//!    (`forward` / `dual`, as in post-copy); a page request is answered with the faulted page
//!    at once, then its locality window of neighbours not yet sent: `k` pages each side
//!    (`window = around`: `[f−k, f+k]`) or `2k` pages upward (`forward`: `[f, f+2k]`); `k`
//!    defaults to 16 [R: docs/algorithms/hybrid.md suggests 8–64]. Both go on the priority path.
//! 5. The migration ends when every page is on the destination. Each page is sent exactly once
//!    (docs/algorithms/analytical-model.md: total pages = N).
//!
//! `self_ballooning` sends the guest's free-page list during the downtime instead of its free
//! pages (Hines & Gopalan's DSB, as in post-copy). If the scenario's timeout passes during the
//! working-set window, the migration is cancelled (the VM stays on the source) or the VM is
//! switched over at once with the working set found so far, per `migration.on_timeout`; a
//! timeout in the post-copy phase leaves the VM incomplete on the destination, as in post-copy.

use super::postcopy::Prepaging;
use super::postcopy_common::{FaultWindow, PageServer, PushOrder, Pusher};
use super::{choice, parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, MigrationContext, Outcome, RoundKind};
use crate::scenario::OnTimeout;

/// Pages per send call while the working set is copied during the downtime.
const WS_SEND_PAGES: usize = 1024;

choice! {
    /// The `window` parameter: the shape of the locality window around a fault.
    pub enum WindowShape { Around = "around", Forward = "forward" }
}

parameters! {
    /// Hybrid migration's parameters (`[params.hybrid]`).
    pub struct HybridParams, specs PARAMS {
        ws_window: f64 = (
            ParamKind::Duration { min: 0.0, max: 600.0 },
            "1 s",
            "how long the dirty log runs to find the working set (0: none, plain post-copy with windows)"
        ),
        ws_samples: u32 = (
            ParamKind::Int { min: 1, max: 64 },
            "4",
            "dirty-log fetches in the window; pages written in more of them rank higher under the cap"
        ),
        ws_max_pages: u64 = (ParamKind::Int { min: 0, max: 1 << 40 }, "0", "most working-set pages sent during the downtime (0: no cap)"),
        k: u64 = (
            ParamKind::Int { min: 0, max: 4096 },
            "16",
            "locality window: neighbours sent with a faulted page (each side for around, 2k upward for forward)"
        ),
        window: WindowShape = (ParamKind::Choice(WindowShape::WORDS), "around", "locality window shape: [f-k, f+k] or [f, f+2k]"),
        prepaging: Prepaging = (
            ParamKind::Choice(Prepaging::WORDS),
            "none",
            "push order: address order, or bubbling around the latest fault upward or both ways"
        ),
        push_batch: usize = (ParamKind::Int { min: 1, max: 65_536 }, "16", "pages pushed per send call (faults are served between calls)"),
        self_ballooning: bool = (ParamKind::Bool, "false", "do not send the guest's free pages"),
    }
}

/// The registry entry.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "hybrid",
    section: "hybrid",
    base: None,
    family: Family::Hybrid,
    downtime: Downtime::StateFirst,
    summary: "Working set estimated live and sent with the CPU state, then post-copy with a locality window per fault",
    paper: "Sahni & Varma, A Hybrid Approach to Live Migration of Virtual Machines, IEEE CCEM 2012",
    params: PARAMS,
    fixed: &[],
    build,
};

/// Builds hybrid from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let p = HybridParams::from_params(p);
    Box::new(Hybrid {
        ws_window: p.ws_window,
        ws_samples: p.ws_samples,
        ws_max_pages: p.ws_max_pages,
        window: FaultWindow::new(p.window, p.k),
        order: PushOrder::from_prepaging(p.prepaging),
        push_batch: p.push_batch,
        self_ballooning: p.self_ballooning,
    })
}

/// Sahni & Varma's hybrid migration (see the module docs).
#[derive(Debug, Clone)]
pub struct Hybrid {
    ws_window: f64,
    ws_samples: u32,
    ws_max_pages: u64,
    window: FaultWindow,
    order: PushOrder,
    push_batch: usize,
    self_ballooning: bool,
}

impl Hybrid {
    /// Runs the dirty log for the window and returns the working set, or None when the timeout
    /// cancelled the migration.
    fn estimate_working_set(&self, ctx: &mut dyn MigrationContext) -> Result<Option<PageBitmap>, ContextError> {
        let n = ctx.page_count();
        let logging = ctx.start_dirty_log()?;
        let t0 = ctx.now();
        let mut ws = PageBitmap::new(n);
        // Samples each page was written in (only needed to rank pages under the cap).
        let mut hits: Vec<u8> = if self.ws_max_pages > 0 { vec![0; n as usize] } else { Vec::new() };
        for i in 1..=self.ws_samples {
            let until = t0 + self.ws_window * f64::from(i) / f64::from(self.ws_samples);
            // The guest runs on the source: no page request can arrive, so this only waits.
            ctx.wait_fault_until(until)?;
            let dirty = ctx.fetch_dirty(&logging)?;
            if !hits.is_empty() {
                dirty.iter().for_each(|p| hits[p as usize] += 1);
            }
            ws.union_with(&dirty);
            if ctx.deadline_passed() {
                if ctx.timeout_action() == OnTimeout::Cancel {
                    return Ok(None);
                }
                break;
            }
        }
        if self.ws_max_pages > 0 && ws.count() > self.ws_max_pages {
            let mut ranked: Vec<u64> = ws.iter().collect();
            ranked.sort_by_key(|&p| (std::cmp::Reverse(hits[p as usize]), p));
            ws = PageBitmap::new(n);
            ranked.iter().take(self.ws_max_pages as usize).for_each(|&p| {
                ws.set(p);
            });
        }
        Ok(Some(ws))
    }
}

impl Algorithm for Hybrid {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let n = ctx.page_count();
        ctx.begin_round(RoundKind::Live);
        let Some(mut ws) = self.estimate_working_set(ctx)? else {
            ctx.end_round();
            return Ok(Outcome::forced("timeout during working-set estimation: migration cancelled, the VM stays on the source"));
        };
        let forced = ctx.deadline_passed();

        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        let mut done = PageBitmap::new(n);
        if self.self_ballooning {
            let free = ctx.free_pages()?;
            if free.count() > 0 {
                ctx.send_free_page_list(&free)?;
                done.union_with(&free);
                ws.subtract(&free);
            }
        }
        let pages: Vec<u64> = ws.iter().collect();
        for chunk in pages.chunks(WS_SEND_PAGES) {
            ctx.send_pages(chunk, Channel::Bulk)?;
        }
        done.union_with(&ws);
        ctx.send_state(&paused)?;
        ctx.resume_destination(paused)?;
        ctx.begin_round(RoundKind::PostCopy);

        let pusher = Pusher::new(self.order, false, 1);
        let outcome = PageServer::new(done, pusher, self.window).run(ctx, Some(self.push_batch))?;
        if forced && outcome.converged {
            return Ok(Outcome::forced("timeout during working-set estimation: forced switch-over"));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Event, TraceDetail};
    use crate::{simulate, Run, Scenario};

    fn scenario(extra: &str) -> Scenario {
        Scenario::from_toml_str(&format!(
            r#"
            [vm]
            memory = "16 MiB"
            state_size = "64 KiB"
            resume_overhead = "0 s"
            [workload]
            pattern = "hot-cold"
            write_rate = "2000 pages/s"
            read_rate = "4000 pages/s"
            working_set = "4 MiB"
            hot_fraction = 0.25
            hot_probability = 0.9
            [link]
            bandwidth = "1 Gbit/s"
            latency = "0 s"
            page_header = "0 B"
            [migration]
            timeout = "60 s"
            {extra}
            "#
        ))
        .unwrap()
    }

    fn run(s: &Scenario) -> Run {
        simulate(s, Some("hybrid"), TraceDetail::Pages).unwrap()
    }

    /// Pages sent during the downtime (between the pause and the resume).
    fn downtime_pages(r: &Run) -> u64 {
        let mut paused = false;
        let mut pages = 0;
        for e in &r.trace.events {
            match &e.event {
                Event::SourcePaused => paused = true,
                Event::DestinationResumed => break,
                Event::PagesSent { count, .. } if paused => pages += count,
                _ => {}
            }
        }
        pages
    }

    #[test]
    fn downtime_is_state_plus_working_set_over_bandwidth() {
        let s = scenario("[params.hybrid]\nws_window = \"200 ms\"");
        let r = run(&s);
        let rep = &r.report;
        assert!(rep.converged && rep.completed && rep.verified, "{rep:?}");
        let ws = downtime_pages(&r);
        // 200 ms at 2000 writes/s over a 1024-page working set: a few hundred distinct pages.
        assert!(ws > 100 && ws < 400, "working set {ws}");
        let expected = (64.0 * 1024.0 + ws as f64 * 4096.0) / 125e6;
        assert!((rep.downtime_s - expected).abs() < 1e-9, "downtime {} expected {expected}", rep.downtime_s);
        assert!((rep.preparation_time_s - 0.2).abs() < 1e-9, "{}", rep.preparation_time_s);
        // Every page exactly once.
        assert_eq!(rep.pages_sent, 4096);
        assert_eq!(rep.duplicate_pages, 0);
    }

    #[test]
    fn the_working_set_cuts_faults() {
        let none = run(&scenario("[params.hybrid]\nws_window = \"0 s\"\nk = 0")).report;
        let ws = run(&scenario("[params.hybrid]\nws_window = \"1 s\"\nk = 0")).report;
        assert!(none.verified && ws.verified);
        assert!(ws.network_faults * 2 < none.network_faults, "with WS {} faults, without {}", ws.network_faults, none.network_faults);
        assert!(ws.downtime_s > none.downtime_s);
    }

    #[test]
    fn ws_max_pages_caps_the_downtime_copy() {
        let r = run(&scenario("[params.hybrid]\nws_window = \"1 s\"\nws_max_pages = 100"));
        assert_eq!(downtime_pages(&r), 100);
        assert!(r.report.verified && r.report.pages_sent == 4096, "{:?}", r.report);
    }

    #[test]
    fn a_fault_brings_its_locality_window() {
        // Reads only, at page 1000 upward, so the first fault is on a page push has not reached.
        let base = r#"
            [vm]
            memory = "16 MiB"
            [workload]
            pattern = "sequential"
            write_rate = "0 pages/s"
            read_rate = "100 pages/s"
            working_set = "1 MiB"
            working_set_offset = "8 MiB"
            [link]
            bandwidth = "1 Gbit/s"
            latency = "1 ms"
            priority_channel = true
            [params.hybrid]
            ws_window = "0 s"
        "#;
        for (params, first, last) in [("k = 8\nwindow = \"around\"", 2040, 2056), ("k = 8\nwindow = \"forward\"", 2048, 2064)] {
            let s = Scenario::from_toml_str(&format!("{base}\n{params}")).unwrap();
            // At access detail every send call is its own event.
            let r = simulate(&s, Some("hybrid"), TraceDetail::Accesses).unwrap();
            assert!(r.report.verified, "{:?}", r.report);
            let mut priority = r.trace.events.iter().filter_map(|e| match &e.event {
                Event::PagesSent { channel: Channel::Priority, pages, .. } => Some(pages.iter().collect::<Vec<_>>()),
                _ => None,
            });
            assert_eq!(priority.next().unwrap(), vec![2048], "the faulted page goes alone, first");
            let window: Vec<u64> = (first..=last).filter(|&p| p != 2048).collect();
            assert_eq!(priority.next().unwrap(), window, "then its window ({params})");
        }
    }

    #[test]
    fn a_timeout_in_the_window_cancels_or_forces_the_switch_over() {
        let s = scenario("[params.hybrid]\nws_window = \"10 s\"");
        let cancel = s.with_overrides(&["migration.timeout=\"0.5 s\"".into(), "migration.on_timeout=\"cancel\"".into()]).unwrap();
        let r = run(&cancel);
        assert!(!r.trace.events.iter().any(|e| matches!(e.event, Event::SourcePaused)), "cancelled: the VM stays on the source");
        assert!(!r.report.converged && !r.report.completed && r.report.pages_sent == 0, "{:?}", r.report);
        assert!(r.report.stop_reason.contains("cancelled"), "{}", r.report.stop_reason);
        let force = cancel.with_overrides(&["migration.on_timeout=\"force-stop\"".into()]).unwrap();
        let r = run(&force);
        assert!(r.trace.events.iter().any(|e| matches!(e.event, Event::DestinationResumed)), "forced switch-over");
        assert!(downtime_pages(&r) > 0, "the working set found so far is sent");
        assert!(!r.report.converged && !r.report.completed, "the deadline has passed: the tail is cut: {:?}", r.report);
    }
}
