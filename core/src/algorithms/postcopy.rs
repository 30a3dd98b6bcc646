//! Post-copy: switch over first, move memory afterwards.
//!
//! Hines & Gopalan, "Post-Copy Based Live Virtual Machine Migration Using Adaptive Pre-Paging
//! and Dynamic Self-Ballooning", VEE 2009; Hines, Deshpande & Gopalan, "Post-Copy Live
//! Migration of Virtual Machines", ACM SIGOPS OSR 43(3), 2009.
//!
//! 1. Pause the source and send only the CPU and device state: this is the whole downtime [C].
//! 2. Resume on the destination with every page absent.
//! 3. Until every page is there: a guest access to an absent page is a network fault; the
//!    destination asks for the page, and the source sends it at once on the priority path
//!    (**demand paging**). Meanwhile the source **actively pushes** pages not yet sent. Every
//!    page is sent exactly once: the source keeps a sent bitmap [C].
//!
//! The push order (`prepaging`):
//! * `none`: address order from page 0;
//! * `forward` / `dual`: **bubbling** [M] — pages are pushed outward from a pivot, the most
//!   recent fault, one edge upward (`forward`, what QEMU does: "the dirty page scanning restarts
//!   from the requested location" [C]) or alternating both edges (`dual`). The first pivot is
//!   page 0. With `pivots = single` each fault moves the one pivot; with `multi`, each fault adds
//!   a pivot (the oldest is retired beyond `max_pivots`) and bubbles grow round-robin (OSR
//!   extension [M]). An edge skips pages already sent and a pivot retires when both its edges have
//!   run off the ends of memory; when no pivot is left a linear scan picks up the rest [R].
//!
//! `push = false` is demand paging alone: pages move only when touched, so a guest that never
//! touches some pages never finishes migrating; the run ends at the scenario's timeout with
//! `completed: false`. `self_ballooning` (DSB) sends the guest's free-page list instead of its
//! free pages [C concept, R mechanics]. `push_batch` pages are pushed per send call; faults are
//! served between calls [R].

use super::{Algorithm, ParamKind, ParamSpec, Params};
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, MigrationContext, Outcome, RoundKind};
use std::collections::VecDeque;

/// Declared parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "push",
        kind: ParamKind::Bool,
        default: "true",
        help: "actively push pages not yet sent (false: demand paging only)",
    },
    ParamSpec {
        name: "prepaging",
        kind: ParamKind::Choice(&["none", "forward", "dual"]),
        default: "dual",
        help: "push order: address order, or bubbling around faults upward or both ways",
    },
    ParamSpec {
        name: "pivots",
        kind: ParamKind::Choice(&["single", "multi"]),
        default: "single",
        help: "bubbling: one pivot that moves, or one per recent fault",
    },
    ParamSpec {
        name: "max_pivots",
        kind: ParamKind::Int { min: 1, max: 4096 },
        default: "8",
        help: "bubbling with multi: most pivots kept",
    },
    ParamSpec {
        name: "push_batch",
        kind: ParamKind::Int { min: 1, max: 65_536 },
        default: "16",
        help: "pages pushed per send call (faults are served between calls)",
    },
    ParamSpec { name: "self_ballooning", kind: ParamKind::Bool, default: "false", help: "do not send the guest's free pages" },
];

/// Builds post-copy from resolved parameters.
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    Box::new(Postcopy {
        push: p.bool("push"),
        order: match p.choice("prepaging") {
            "forward" => PushOrder::Bubble { dual: false },
            "dual" => PushOrder::Bubble { dual: true },
            _ => PushOrder::Linear,
        },
        multi: p.choice("pivots") == "multi",
        max_pivots: p.int("max_pivots") as usize,
        push_batch: p.int("push_batch") as usize,
        self_ballooning: p.bool("self_ballooning"),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushOrder {
    Linear,
    Bubble { dual: bool },
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

/// A bubble around one pivot: the next candidate page on each side.
#[derive(Debug, Clone, Copy)]
struct Pivot {
    /// Next page to consider going down (inclusive), if any.
    left: Option<u64>,
    /// Next page to consider going up (inclusive), if any.
    right: Option<u64>,
    /// Which edge goes next (dual direction alternates).
    left_turn: bool,
}

impl Pivot {
    fn at(page: u64, dual: bool) -> Pivot {
        Pivot { left: if dual { page.checked_sub(1) } else { None }, right: Some(page), left_turn: false }
    }

    fn exhausted(&self) -> bool {
        self.left.is_none() && self.right.is_none()
    }

    /// The next unsent page on this bubble's edges, advancing them.
    fn next(&mut self, sent: &PageBitmap) -> Option<u64> {
        for _ in 0..2 {
            let take_left = self.left_turn && self.left.is_some() || self.right.is_none();
            self.left_turn = !self.left_turn;
            if take_left {
                if let Some(from) = self.left {
                    match sent.prev_unset(from) {
                        Some(p) => {
                            self.left = p.checked_sub(1);
                            return Some(p);
                        }
                        None => self.left = None,
                    }
                }
            } else if let Some(from) = self.right {
                match sent.next_unset(from) {
                    Some(p) => {
                        self.right = Some(p + 1);
                        return Some(p);
                    }
                    None => self.right = None,
                }
            }
        }
        None
    }
}

/// Chooses which page to push next.
struct Pusher {
    order: PushOrder,
    multi: bool,
    max_pivots: usize,
    pivots: VecDeque<Pivot>,
    linear: u64,
}

impl Pusher {
    fn on_fault(&mut self, page: u64) {
        if let PushOrder::Bubble { dual } = self.order {
            if !self.multi {
                self.pivots.clear();
            } else if self.pivots.len() >= self.max_pivots {
                self.pivots.pop_front();
            }
            self.pivots.push_back(Pivot::at(page, dual));
        }
    }

    fn next(&mut self, sent: &PageBitmap) -> Option<u64> {
        while let Some(mut pivot) = self.pivots.pop_front() {
            let page = pivot.next(sent);
            if !pivot.exhausted() {
                // Round-robin: the pivot goes to the back of the queue.
                self.pivots.push_back(pivot);
            }
            if page.is_some() {
                return page;
            }
        }
        let p = sent.next_unset(self.linear).or_else(|| sent.next_unset(0))?;
        self.linear = p + 1;
        Some(p)
    }
}

impl Postcopy {
    fn serve(ctx: &mut dyn MigrationContext, page: u64, sent: &mut PageBitmap, pusher: &mut Pusher) -> Result<(), ContextError> {
        if page < sent.len() && sent.set(page) {
            ctx.send_pages(&[page], Channel::Priority)?;
            pusher.on_fault(page);
        }
        Ok(())
    }
}

impl Algorithm for Postcopy {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let n = ctx.page_count();
        let mut sent = PageBitmap::new(n);
        ctx.begin_round(RoundKind::StopAndCopy);
        ctx.pause_source()?;
        if self.self_ballooning {
            let free = ctx.free_pages()?;
            if free.count() > 0 {
                ctx.send_free_page_list(&free)?;
                sent.union_with(&free);
            }
        }
        ctx.send_state()?;
        ctx.resume_destination()?;
        ctx.begin_round(RoundKind::PostCopy);

        let mut pusher = Pusher { order: self.order, multi: self.multi, max_pivots: self.max_pivots, pivots: VecDeque::new(), linear: 0 };
        if let PushOrder::Bubble { dual } = self.order {
            pusher.pivots.push_back(Pivot::at(0, dual));
        }
        let mut batch = Vec::with_capacity(self.push_batch);
        while sent.count() < n {
            if ctx.deadline_passed() {
                ctx.end_round();
                return Ok(Outcome::forced(format!(
                    "timeout with {} pages still on the source: the VM is incomplete on the destination",
                    n - sent.count()
                )));
            }
            while let Some(page) = ctx.poll_fault()? {
                Self::serve(ctx, page, &mut sent, &mut pusher)?;
            }
            if !self.push {
                if let Some(page) = ctx.wait_fault()? {
                    Self::serve(ctx, page, &mut sent, &mut pusher)?;
                }
                continue;
            }
            batch.clear();
            while batch.len() < self.push_batch {
                match pusher.next(&sent) {
                    Some(p) => {
                        sent.set(p);
                        batch.push(p);
                    }
                    None => break,
                }
            }
            if !batch.is_empty() {
                ctx.send_pages(&batch, Channel::Bulk)?;
            }
        }
        ctx.end_round();
        Ok(Outcome::converged("every page is on the destination"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
