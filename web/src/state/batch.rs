//! A batch of simulations as a view shows it (compare, sweep): how far it has got while it
//! runs, and its last result. The result stays shown while a new batch runs.

use std::rc::Rc;

/// A batch's progress: jobs done, jobs in all, the label of the one running next.
pub type Progress = (usize, usize, String);

/// A batch view's state.
#[derive(Debug, PartialEq)]
pub struct Batch<R> {
    /// While a batch runs: how far it has got.
    pub progress: Option<Progress>,
    /// The last finished batch's result.
    pub result: Option<Rc<R>>,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Batch { progress: None, result: None }
    }
}

impl<R> Clone for Batch<R> {
    fn clone(&self) -> Self {
        Batch { progress: self.progress.clone(), result: self.result.clone() }
    }
}

impl<R> Batch<R> {
    /// Whether a batch is running.
    pub fn running(&self) -> bool {
        self.progress.is_some()
    }
}

/// What changes a batch view.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchAction<R> {
    /// The batch has got this far (the first report starts it).
    Progress(Progress),
    /// The batch finished with this result.
    Done(Rc<R>),
    /// The batch was stopped: the last result stays.
    Stop,
    /// The result shown changed without running again (the sweep's metric).
    Update(Rc<R>),
}

/// The batch view after `action`.
pub fn reduce<R>(state: &Batch<R>, action: BatchAction<R>) -> Batch<R> {
    match action {
        BatchAction::Progress(p) => Batch { progress: Some(p), result: state.result.clone() },
        BatchAction::Done(r) => Batch { progress: None, result: Some(r) },
        BatchAction::Stop => Batch { progress: None, result: state.result.clone() },
        BatchAction::Update(r) => Batch { progress: state.progress.clone(), result: Some(r) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_runs_reports_progress_finishes_and_stops() {
        let idle: Batch<u32> = Batch::default();
        assert!(!idle.running() && idle.result.is_none());
        let started = reduce(&idle, BatchAction::Progress((0, 4, "precopy-xen".into())));
        assert!(started.running());
        let half = reduce(&started, BatchAction::Progress((2, 4, "tsmc".into())));
        assert_eq!(half.progress, Some((2, 4, "tsmc".to_string())));
        let done = reduce(&half, BatchAction::Done(Rc::new(7)));
        assert_eq!((done.running(), done.result.as_deref()), (false, Some(&7)));
        // A new batch keeps the last result shown until it finishes, or is stopped.
        let again = reduce(&done, BatchAction::Progress((0, 4, "precopy-xen".into())));
        assert_eq!(again.result.as_deref(), Some(&7));
        let stopped = reduce(&again, BatchAction::Stop);
        assert_eq!((stopped.running(), stopped.result.as_deref()), (false, Some(&7)));
        let redrawn = reduce(&stopped, BatchAction::Update(Rc::new(8)));
        assert_eq!(redrawn.result.as_deref(), Some(&8));
    }
}
