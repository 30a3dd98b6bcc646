//! Batches of simulations on the page's thread: the runner the worker pool falls back to (and
//! the lessons use), and the generation counter a view abandons its batch with.

use crate::dom::now_ms;
use crate::state::batch::{Batch, BatchAction, Progress};
use crate::worker_pool;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use yew::prelude::*;

/// A batch view's state held by `use_reducer`: [`crate::state::batch::reduce`].
impl<R: PartialEq + 'static> Reducible for Batch<R> {
    type Action = BatchAction<R>;

    fn reduce(self: Rc<Self>, action: BatchAction<R>) -> Rc<Self> {
        Rc::new(crate::state::batch::reduce(&self, action))
    }
}

/// A job of a batch: a label (shown while it runs) and the work.
pub type Job<T> = (String, Box<dyn FnOnce() -> T>);

struct BatchState<T> {
    jobs: VecDeque<Job<T>>,
    out: Vec<T>,
    busy_ms: f64,
    total: usize,
    started: f64,
}

/// The generation counter a view passes to [`run_batch`]; it is bumped when the view closes, so
/// a batch still running is abandoned.
#[hook]
pub fn use_batch_generation() -> Rc<Cell<u64>> {
    let generation: Rc<Cell<u64>> = use_mut_ref(|| Rc::new(Cell::new(0u64))).borrow().clone();
    {
        let generation = generation.clone();
        use_effect_with((), move |_| {
            // Workers load while the view is read, before the first batch needs them.
            worker_pool::warm_up();
            move || stop_batch(&generation)
        });
    }
    generation
}

/// Abandons the batch running for `generation`: its page-thread slices stop, and workers
/// running its jobs are stopped.
pub fn stop_batch(generation: &Rc<Cell<u64>>) {
    generation.set(generation.get().wrapping_add(1));
    worker_pool::abandon(generation);
}

/// Runs `jobs` in order, yielding to the browser between slices of about 40 ms; reports progress
/// and finally `(results, ms spent in the jobs, wall ms)`. Starting another batch with the same
/// `generation` (or bumping it) abandons this one.
pub fn run_batch<T: 'static>(
    generation: &Rc<Cell<u64>>,
    jobs: Vec<Job<T>>,
    progress: Callback<Progress>,
    done: Callback<(Vec<T>, f64, f64)>,
) {
    let my = generation.get().wrapping_add(1);
    generation.set(my);
    run_batch_as(generation, my, jobs, progress, done);
}

/// [`run_batch`] as the batch `my` of `generation`, already started (the worker pool finishes
/// a batch here when workers cannot run it).
pub fn run_batch_as<T: 'static>(
    generation: &Rc<Cell<u64>>,
    my: u64,
    jobs: Vec<Job<T>>,
    progress: Callback<Progress>,
    done: Callback<(Vec<T>, f64, f64)>,
) {
    let total = jobs.len();
    let first = jobs.first().map(|j| j.0.clone()).unwrap_or_default();
    let st =
        Rc::new(RefCell::new(BatchState { jobs: jobs.into(), out: Vec::with_capacity(total), busy_ms: 0.0, total, started: now_ms() }));
    progress.emit((0, total, first));
    fn slice<T: 'static>(
        gen: Rc<Cell<u64>>,
        my: u64,
        st: Rc<RefCell<BatchState<T>>>,
        progress: Callback<Progress>,
        done: Callback<(Vec<T>, f64, f64)>,
    ) {
        gloo::timers::callback::Timeout::new(0, move || {
            if gen.get() != my {
                return;
            }
            let start = now_ms();
            loop {
                let job = st.borrow_mut().jobs.pop_front();
                let Some((_, work)) = job else {
                    let mut s = st.borrow_mut();
                    let out = std::mem::take(&mut s.out);
                    let wall = now_ms() - s.started;
                    let busy = s.busy_ms;
                    drop(s);
                    done.emit((out, busy, wall));
                    return;
                };
                let t0 = now_ms();
                let r = work();
                let dt = now_ms() - t0;
                let mut s = st.borrow_mut();
                s.out.push(r);
                s.busy_ms += dt;
                if now_ms() - start > 40.0 {
                    break;
                }
            }
            let p = {
                let s = st.borrow();
                (s.out.len(), s.total, s.jobs.front().map(|j| j.0.clone()).unwrap_or_default())
            };
            progress.emit(p);
            slice(gen, my, st, progress, done);
        })
        .forget();
    }
    slice(generation.clone(), my, st, progress, done);
}
