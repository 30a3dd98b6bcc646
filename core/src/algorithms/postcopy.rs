//! Post-copy: switch over first, move memory afterwards.
//!
//! Hines & Gopalan, "Post-Copy Based Live Virtual Machine Migration Using Adaptive Pre-Paging
//! and Dynamic Self-Ballooning", VEE 2009; Hines, Deshpande & Gopalan, "Post-Copy Live
//! Migration of Virtual Machines", ACM SIGOPS OSR 43(3), 2009.
//!
//! 1. Pause the source and send only the CPU and device state: this is the whole downtime \[C\].
//! 2. Resume on the destination with every page absent.
//! 3. Until every page is there: a guest access to an absent page is a network fault; the
//!    destination asks for the page, and the source sends it at once on the priority path
//!    (**demand paging**). Meanwhile the source **actively pushes** pages not yet sent. Every
//!    page is sent exactly once: the source keeps a sent bitmap \[C\].
//!
//! The push order (`prepaging`):
//! * `none`: address order from page 0;
//! * `forward` / `dual`: **bubbling** \[M\] — pages are pushed outward from a pivot, the most
//!   recent fault, one edge upward (`forward`, what QEMU does: "the dirty page scanning restarts
//!   from the requested location" \[C\]) or alternating both edges (`dual`). The first pivot is
//!   page 0. With `pivots = single` each fault moves the one pivot; with `multi`, each fault adds
//!   a pivot (the oldest is retired beyond `max_pivots`) and bubbles grow round-robin (OSR
//!   extension \[M\]). An edge skips pages already sent and a pivot retires when both its edges have
//!   run off the ends of memory; when no pivot is left a linear scan picks up the rest \[R\].
//!
//! `push = false` is demand paging alone: pages move only when touched, so a guest that never
//! touches some pages never finishes migrating; the run ends at the scenario's timeout with
//! `completed: false`. `self_ballooning` (DSB) sends the guest's free-page list instead of its
//! free pages [C concept, R mechanics]. `push_batch` pages are pushed per send call; faults are
//! served between calls \[R\]. The push and fault-serving machinery is shared with hybrid and
//! TSMC (`postcopy_common.rs`).

use super::postcopy_common::{FaultWindow, PageServer, PushOrder, Pusher};
use super::{choice, parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::bitmap::PageBitmap;
use crate::context::{ContextError, MigrationContext, Outcome, RoundKind};

choice! {
    /// The `prepaging` parameter: the order pages are pushed in.
    pub enum Prepaging { None = "none", Forward = "forward", Dual = "dual" }
}

choice! {
    /// The `pivots` parameter: one bubbling pivot, or one per recent fault.
    pub enum Pivots { Single = "single", Multi = "multi" }
}

parameters! {
    /// Post-copy's parameters (`[params.postcopy]`).
    pub struct PostcopyParams, specs PARAMS {
        push: bool = (ParamKind::Bool, "true", "actively push pages not yet sent (false: demand paging only)"),
        prepaging: Prepaging = (
            ParamKind::Choice(Prepaging::WORDS),
            "dual",
            "push order: address order, or bubbling around faults upward or both ways"
        ),
        pivots: Pivots = (ParamKind::Choice(Pivots::WORDS), "single", "bubbling: one pivot that moves, or one per recent fault"),
        max_pivots: usize = (ParamKind::Int { min: 1, max: 4096 }, "8", "bubbling with multi: most pivots kept"),
        push_batch: usize = (ParamKind::Int { min: 1, max: 65_536 }, "16", "pages pushed per send call (faults are served between calls)"),
        self_ballooning: bool = (ParamKind::Bool, "false", "do not send the guest's free pages"),
    }
}

/// The registry entry of post-copy with active push and bubbling.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "postcopy",
    section: "postcopy",
    base: None,
    family: Family::PostCopy,
    downtime: Downtime::StateFirst,
    summary: "Post-copy: switch over first, then active push with bubbling pre-paging and demand faults",
    paper: "Hines & Gopalan, Post-Copy Based Live VM Migration, VEE 2009",
    params: PARAMS,
    fixed: &[],
    build,
};

/// The registry entry of the demand-paging baseline.
pub const DEMAND_INFO: AlgorithmInfo = AlgorithmInfo {
    name: "postcopy-demand",
    summary: "Post-copy with demand paging only: a page moves only when the guest faults on it",
    paper: "Hines & Gopalan, VEE 2009 (demand-paging baseline)",
    fixed: &[("push", "false")],
    ..INFO
};

/// The registry entry of active push in address order.
pub const PUSH_INFO: AlgorithmInfo = AlgorithmInfo {
    name: "postcopy-push",
    summary: "Post-copy with active push in address order plus demand paging",
    paper: "Hines & Gopalan, VEE 2009 (active push)",
    fixed: &[("push", "true"), ("prepaging", "none")],
    ..INFO
};

/// The registry entry of bubbling around several pivots.
pub const BUBBLING_INFO: AlgorithmInfo = AlgorithmInfo {
    name: "postcopy-bubbling",
    summary: "Post-copy with bubbling pre-paging around several fault pivots, both directions",
    paper: "Hines, Deshpande & Gopalan, Post-Copy Live Migration of VMs, SIGOPS OSR 2009",
    fixed: &[("push", "true"), ("prepaging", "dual"), ("pivots", "multi")],
    ..INFO
};

/// Builds post-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let p = PostcopyParams::from_params(p);
    Box::new(Postcopy {
        push: p.push,
        order: PushOrder::from_prepaging(p.prepaging),
        multi: p.pivots == Pivots::Multi,
        max_pivots: p.max_pivots,
        push_batch: p.push_batch,
        self_ballooning: p.self_ballooning,
    })
}

/// Post-copy migration (see the module docs).
#[derive(Debug, Clone)]
pub struct Postcopy {
    push: bool,
    order: PushOrder,
    multi: bool,
    max_pivots: usize,
    push_batch: usize,
    self_ballooning: bool,
}

impl Algorithm for Postcopy {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let n = ctx.page_count();
        let mut sent = PageBitmap::new(n);
        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        if self.self_ballooning {
            let free = ctx.free_pages()?;
            if free.count() > 0 {
                ctx.send_free_page_list(&free)?;
                sent.union_with(&free);
            }
        }
        ctx.send_state(&paused)?;
        ctx.resume_destination(paused)?;
        ctx.begin_round(RoundKind::PostCopy);

        let pusher = Pusher::new(self.order, self.multi, self.max_pivots);
        PageServer::new(sent, pusher, FaultWindow::NONE).run(ctx, self.push.then_some(self.push_batch))
    }
}

#[cfg(test)]
mod tests {
    use super::super::postcopy_common::Pivot;
    use super::*;
    use std::collections::VecDeque;

    /// Drives the pusher like the algorithm does: a fault scheduled at step i is served
    /// before step i's push.
    fn order_of(pusher: &mut Pusher, n: u64, faults: &[(usize, u64)]) -> Vec<u64> {
        let mut sent = PageBitmap::new(n);
        let mut out = Vec::new();
        for i in 0.. {
            if let Some(&(_, f)) = faults.iter().find(|(at, _)| *at == i) {
                if sent.set(f) {
                    out.push(f);
                    pusher.on_fault(f);
                }
            }
            let Some(p) = pusher.next(&sent) else { break };
            assert!(sent.set(p), "page {p} pushed twice");
            out.push(p);
        }
        out
    }

    #[test]
    fn dual_bubble_grows_both_ways_around_a_fault() {
        let mut pusher =
            Pusher { order: PushOrder::Bubble { dual: true }, multi: false, max_pivots: 1, pivots: VecDeque::new(), linear: 0 };
        pusher.pivots.push_back(Pivot::at(0, true));
        let order = order_of(&mut pusher, 16, &[(2, 10)]);
        // 0, 1 pushed from the first pivot; the fault at 10 moves the pivot: 10 on demand, then
        // the bubble alternates up and down around it.
        assert_eq!(&order[..8], &[0, 1, 10, 11, 9, 12, 8, 13]);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>(), "each page exactly once");
    }

    #[test]
    fn forward_bubble_continues_upward_then_wraps() {
        let mut pusher =
            Pusher { order: PushOrder::Bubble { dual: false }, multi: false, max_pivots: 1, pivots: VecDeque::new(), linear: 0 };
        pusher.pivots.push_back(Pivot::at(0, false));
        let order = order_of(&mut pusher, 8, &[(1, 5)]);
        assert_eq!(order, vec![0, 5, 6, 7, 1, 2, 3, 4]);
    }

    #[test]
    fn multi_pivots_round_robin() {
        let mut pusher =
            Pusher { order: PushOrder::Bubble { dual: false }, multi: true, max_pivots: 4, pivots: VecDeque::new(), linear: 0 };
        pusher.on_fault(100);
        pusher.on_fault(200);
        let sent = PageBitmap::new(300);
        let mut s = sent.clone();
        let mut got = Vec::new();
        for _ in 0..4 {
            let p = pusher.next(&s).unwrap();
            s.set(p);
            got.push(p);
        }
        assert_eq!(got, vec![100, 200, 101, 201]);
    }
}
