//! What the post-copy family shares once the guest runs on the destination: the source serves
//! page requests (the faulted page plus a window of neighbours) and pushes the pages the
//! destination still lacks, each page at most once.
//!
//! Used by [`super::postcopy`] (Hines & Gopalan), [`super::hybrid`] (Sahni & Varma) and
//! [`super::tsmc`] (Song et al.). A [`PageServer`] starts from the set of pages that need no
//! transmission (already on the destination, listed free, or, for TSMC, not in the dirty
//! bitmap) and marks each page it sends, so no page goes twice; a [`Pusher`] chooses the order
//! of the background push.

use super::hybrid::WindowShape;
use super::postcopy::Prepaging;
use crate::bitmap::PageBitmap;
use crate::context::{Channel, ContextError, MigrationContext, Outcome, Paused};
use std::collections::VecDeque;

/// Order of the background push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushOrder {
    /// Address order from page 0.
    Linear,
    /// Bubbling outward from the most recent fault; `dual` alternates both edges, otherwise the
    /// bubble grows upward only.
    Bubble {
        /// Grow both ways.
        dual: bool,
    },
}

impl PushOrder {
    /// The order named by a `prepaging` parameter: `none`, `forward` or `dual`.
    pub(crate) fn from_prepaging(prepaging: Prepaging) -> PushOrder {
        match prepaging {
            Prepaging::Forward => PushOrder::Bubble { dual: false },
            Prepaging::Dual => PushOrder::Bubble { dual: true },
            Prepaging::None => PushOrder::Linear,
        }
    }
}

/// A bubble around one pivot: the next candidate page on each side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pivot {
    /// Next page to consider going down (inclusive), if any.
    pub(crate) left: Option<u64>,
    /// Next page to consider going up (inclusive), if any.
    pub(crate) right: Option<u64>,
    /// Which edge goes next (dual direction alternates).
    pub(crate) left_turn: bool,
}

impl Pivot {
    /// A bubble starting at `page`.
    pub(crate) fn at(page: u64, dual: bool) -> Pivot {
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
#[derive(Debug, Clone)]
pub(crate) struct Pusher {
    pub(crate) order: PushOrder,
    pub(crate) multi: bool,
    pub(crate) max_pivots: usize,
    pub(crate) pivots: VecDeque<Pivot>,
    pub(crate) linear: u64,
}

impl Pusher {
    /// A pusher in `order`; a bubbling one starts with a pivot at page 0.
    pub(crate) fn new(order: PushOrder, multi: bool, max_pivots: usize) -> Pusher {
        let mut pusher = Pusher { order, multi, max_pivots, pivots: VecDeque::new(), linear: 0 };
        if let PushOrder::Bubble { dual } = order {
            pusher.pivots.push_back(Pivot::at(0, dual));
        }
        pusher
    }

    /// Address order from page 0.
    pub(crate) fn linear() -> Pusher {
        Pusher::new(PushOrder::Linear, false, 1)
    }

    /// A fault at `page` was served: bubbling moves (or adds) a pivot there.
    pub(crate) fn on_fault(&mut self, page: u64) {
        if let PushOrder::Bubble { dual } = self.order {
            if !self.multi {
                self.pivots.clear();
            } else if self.pivots.len() >= self.max_pivots {
                self.pivots.pop_front();
            }
            self.pivots.push_back(Pivot::at(page, dual));
        }
    }

    /// The next page not in `sent`, or None when every page is.
    pub(crate) fn next(&mut self, sent: &PageBitmap) -> Option<u64> {
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

/// Which neighbours of a faulted page travel with it (Sahni & Varma's locality window, TSMC's
/// prepull).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultWindow {
    /// `[f − k, f + k]`.
    Around(u64),
    /// `[f, f + 2k]`.
    Forward(u64),
}

impl FaultWindow {
    /// Only the faulted page (plain demand paging).
    pub(crate) const NONE: FaultWindow = FaultWindow::Around(0);

    /// The window named by a `window` parameter (`around` or `forward`) with half-width `k`.
    pub(crate) fn new(shape: WindowShape, k: u64) -> FaultWindow {
        match shape {
            WindowShape::Forward => FaultWindow::Forward(k),
            WindowShape::Around => FaultWindow::Around(k),
        }
    }

    /// First and last page of the window around a fault at `page`, clipped to `0..n`.
    pub(crate) fn bounds(&self, page: u64, n: u64) -> (u64, u64) {
        let last = n.saturating_sub(1);
        match *self {
            FaultWindow::Around(k) => (page.saturating_sub(k), page.saturating_add(k).min(last)),
            FaultWindow::Forward(k) => (page, page.saturating_add(k.saturating_mul(2)).min(last)),
        }
    }
}

/// The switch-over of a migration that copied memory first and leaves the pages of `dirty` to
/// post-copy (TSMC's stage 2, QEMU's `postcopy_start()`): with the source paused, send the dirty
/// bitmap (the destination drops its stale copies of those pages) and the state, resume on the
/// destination and begin the post-copy round. Returns the pages that need no transmission.
pub(crate) fn resume_without(ctx: &mut dyn MigrationContext, paused: Paused, dirty: &PageBitmap) -> Result<PageBitmap, ContextError> {
    ctx.send_dirty_bitmap(dirty)?;
    ctx.send_state(&paused)?;
    ctx.resume_destination(paused)?;
    ctx.begin_round(crate::context::RoundKind::PostCopy);
    let mut done = PageBitmap::full(ctx.page_count());
    done.subtract(dirty);
    Ok(done)
}

/// The source's side of the post-copy phase: serves page requests and pushes what is left,
/// sending each page at most once.
#[derive(Debug, Clone)]
pub(crate) struct PageServer {
    /// Pages that need no (further) transmission: sent, on their way, or never needed.
    done: PageBitmap,
    pusher: Pusher,
    window: FaultWindow,
    batch: Vec<u64>,
}

impl PageServer {
    /// A server that still has to deliver every page not in `done`.
    pub(crate) fn new(done: PageBitmap, pusher: Pusher, window: FaultWindow) -> PageServer {
        PageServer { done, pusher, window, batch: Vec::new() }
    }

    /// Pages still to deliver.
    pub(crate) fn remaining(&self) -> u64 {
        self.done.len() - self.done.count()
    }

    /// Serves a page request: the page at once on the priority path if it has not been sent,
    /// then, in a second send call, the window's neighbours that have not been sent. The window
    /// is sent even when the page itself was already on its way (the request still says where
    /// the guest is working). A page outside the VM is ignored.
    pub(crate) fn serve(&mut self, ctx: &mut dyn MigrationContext, page: u64) -> Result<(), ContextError> {
        let n = self.done.len();
        if page >= n {
            return Ok(());
        }
        if self.done.set(page) {
            ctx.send_pages(&[page], Channel::Priority)?;
            self.pusher.on_fault(page);
        }
        let (first, last) = self.window.bounds(page, n);
        if first == last {
            return Ok(());
        }
        self.batch.clear();
        let mut p = first;
        while let Some(q) = self.done.next_unset(p).filter(|&q| q <= last) {
            self.done.set(q);
            self.batch.push(q);
            p = q + 1;
        }
        if !self.batch.is_empty() {
            ctx.send_pages(&self.batch, Channel::Priority)?;
        }
        Ok(())
    }

    /// Serves every page request that has arrived.
    pub(crate) fn serve_arrived(&mut self, ctx: &mut dyn MigrationContext) -> Result<(), ContextError> {
        while let Some(page) = ctx.poll_fault()? {
            self.serve(ctx, page)?;
        }
        Ok(())
    }

    /// Pushes up to `max` pages not yet sent, in the pusher's order, in one send call on the
    /// bulk path. Returns how many it pushed (0 when nothing is left).
    pub(crate) fn push(&mut self, ctx: &mut dyn MigrationContext, max: usize) -> Result<usize, ContextError> {
        self.batch.clear();
        while self.batch.len() < max {
            match self.pusher.next(&self.done) {
                Some(p) => {
                    self.done.set(p);
                    self.batch.push(p);
                }
                None => break,
            }
        }
        if !self.batch.is_empty() {
            ctx.send_pages(&self.batch, Channel::Bulk)?;
        }
        Ok(self.batch.len())
    }

    /// The classic post-copy loop until every page is delivered or the deadline passes: serve
    /// the requests that arrived, then push one call of `push_batch` pages; with `push_batch` =
    /// None (demand paging only), wait for the next request instead. Ends the current round.
    pub(crate) fn run(&mut self, ctx: &mut dyn MigrationContext, push_batch: Option<usize>) -> Result<Outcome, ContextError> {
        while self.remaining() > 0 {
            if ctx.deadline_passed() {
                ctx.end_round();
                return Ok(self.timeout_outcome());
            }
            self.serve_arrived(ctx)?;
            match push_batch {
                Some(batch) => {
                    self.push(ctx, batch)?;
                }
                None => {
                    if let Some(page) = ctx.wait_fault()? {
                        self.serve(ctx, page)?;
                    }
                }
            }
        }
        ctx.end_round();
        Ok(Outcome::converged("every page is on the destination"))
    }

    /// The outcome when the deadline passes with pages still on the source.
    pub(crate) fn timeout_outcome(&self) -> Outcome {
        Outcome::forced(format!("timeout with {} pages still on the source: the VM is incomplete on the destination", self.remaining()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_clip_to_memory() {
        assert_eq!(FaultWindow::Around(4).bounds(10, 100), (6, 14));
        assert_eq!(FaultWindow::Around(4).bounds(2, 100), (0, 6));
        assert_eq!(FaultWindow::Around(4).bounds(98, 100), (94, 99));
        assert_eq!(FaultWindow::Forward(4).bounds(10, 100), (10, 18));
        assert_eq!(FaultWindow::Forward(4).bounds(95, 100), (95, 99));
        assert_eq!(FaultWindow::NONE.bounds(7, 100), (7, 7));
        assert_eq!(FaultWindow::Forward(u64::MAX).bounds(7, 100), (7, 99));
    }
}
