//! Simulations in Web Workers, one per core: the compare and sweep views hand their runs here,
//! and they run side by side while the page stays responsive.
//!
//! Each worker is the `livemig-sim-worker` binary (`web/src/bin/livemig-sim-worker.rs`), which
//! Trunk builds next to the app (`data-type="worker"` in `web/index.html`) from the same core.
//! It answers [`SimRequest`]s with [`SimMessage`]s, as JSON text. The pool keeps its workers
//! between batches (a worker loads and compiles its wasm once, in about 100 ms), gives each
//! idle worker the next job, longest first, and hands the results back in the jobs' order.
//!
//! Nothing here can leave a view waiting: where workers cannot be created, fail to load within
//! [`LOAD_TIMEOUT_MS`] or break, the jobs not yet answered run on the page's thread instead
//! ([`run_batch`](crate::batch::run_batch)), with the same [`SimJob::run`]. A job whose worker fails while running it
//! (a panic in the core) gets that failure as its result, and the worker is replaced. A batch
//! that is abandoned (a new one, Stop, the view closing) stops its workers at once.
//!
//! Written against `web-sys` directly rather than `gloo-worker`: that crate panics where a
//! worker cannot be spawned or a message does not decode, and does not report a worker that
//! fails to load, all of which the playground must survive.

use crate::batch::{run_batch_as, Job};
use crate::dom::now_ms;
use crate::sim_job::{SimJob, SimMessage, SimRequest};
use crate::state::batch::Progress;
use livemig_core::Report;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::Callback;

/// The worker's loader script, beside `index.html` (Trunk's `data-loader-shim`).
pub const WORKER_SCRIPT: &str = "./livemig-sim-worker_loader.js";

/// A worker that has not loaded after this long is given up on, and its jobs run on the page.
pub const LOAD_TIMEOUT_MS: u32 = 15_000;

/// Workers at most, whatever the machine reports.
const MAX_WORKERS: usize = 8;

/// One job's result and the milliseconds its simulation took.
pub type Outcome = (Result<Report, String>, f64);

/// A finished batch: the outcomes in the jobs' order, the milliseconds of simulation summed
/// over the jobs, and the wall-clock milliseconds from start to the last result.
pub type Finished = (Vec<Outcome>, f64, f64);

/// How the pool's batches run, for the views to say.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// In `n` Web Workers.
    Workers(usize),
    /// On the page's thread (why is in the console).
    PageThread,
}

impl Mode {
    /// A short phrase for the page ("in 2 Web Workers").
    pub fn describe(&self) -> String {
        match self {
            Mode::Workers(1) => "in a Web Worker".into(),
            Mode::Workers(n) => format!("in {n} Web Workers"),
            Mode::PageThread => "on the page's thread".into(),
        }
    }
}

struct Slot {
    id: u64,
    worker: web_sys::Worker,
    ready: bool,
    /// The job it is running: (request id, index in the batch).
    running: Option<(u64, usize)>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Slot {
    /// Stops the worker now. The slot itself (with the closures JavaScript calls) is kept in
    /// [`Pool::retired`] until a later event: this may run inside one of those closures.
    fn retire(self, retired: &mut Vec<Slot>) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
        retired.push(self);
    }
}

struct Batch {
    generation: Rc<Cell<u64>>,
    my: u64,
    jobs: Vec<(String, SimJob)>,
    /// Indices not yet handed out, popped from the end: the costliest last.
    queue: Vec<usize>,
    results: Vec<Option<Outcome>>,
    answered: usize,
    busy_ms: f64,
    started: f64,
    progress: Callback<Progress>,
    done: Callback<Finished>,
}

impl Batch {
    fn abandoned(&self) -> bool {
        self.generation.get() != self.my
    }
}

#[derive(Default)]
struct Pool {
    slots: Vec<Slot>,
    /// Stopped workers whose closures may still be on the stack; dropped at the next batch.
    retired: Vec<Slot>,
    next_id: u64,
    /// Set once workers are known not to work here; every batch then runs on the page.
    broken: bool,
    batch: Option<Batch>,
    load_timer: Option<gloo::timers::callback::Timeout>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// What to do once the pool is no longer borrowed (a callback may start another batch).
enum After {
    Progress(Callback<Progress>, Progress),
    Done(Callback<Finished>, Finished),
    /// Run these jobs of the batch on the page's thread, then finish it.
    OnPage(Batch, Vec<usize>),
}

fn workers_wanted() -> usize {
    let cores = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency());
    (cores as usize).clamp(1, MAX_WORKERS)
}

/// How batches run now.
pub fn mode() -> Mode {
    POOL.with(|p| {
        let p = p.borrow();
        if p.broken {
            Mode::PageThread
        } else {
            Mode::Workers(p.slots.len())
        }
    })
}

/// Starts the workers (if they are not running), so that a first batch does not wait for them
/// to load. Views call it when they open.
pub fn warm_up() {
    let after = POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.broken {
            return Vec::new();
        }
        let mut after = Vec::new();
        while p.slots.len() < workers_wanted() {
            if let Err(why) = spawn(&mut p) {
                after.extend(break_pool(&mut p, why));
                break;
            }
        }
        after
    });
    apply(after);
}

fn spawn(p: &mut Pool) -> Result<(), String> {
    let worker = web_sys::Worker::new(WORKER_SCRIPT).map_err(|e| format!("cannot start a Web Worker: {}", js_text(&e)))?;
    p.next_id += 1;
    let id = p.next_id;
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let text = e.data().as_string().unwrap_or_default();
        on_message(id, &text);
    });
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        e.prevent_default();
        on_error(id, e.message());
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    p.slots.push(Slot { id, worker, ready: false, running: None, _on_message: on_message, _on_error: on_error });
    if p.load_timer.is_none() && !p.slots.iter().any(|s| s.ready) {
        p.load_timer = Some(gloo::timers::callback::Timeout::new(LOAD_TIMEOUT_MS, || {
            let after = POOL.with(|p| {
                let mut p = p.borrow_mut();
                p.load_timer = None;
                if p.slots.iter().any(|s| s.ready) {
                    Vec::new()
                } else {
                    break_pool(&mut p, format!("the simulation workers did not load within {} s", LOAD_TIMEOUT_MS / 1000))
                }
            });
            apply(after);
        }));
    }
    Ok(())
}

fn js_text(v: &JsValue) -> String {
    v.as_string().or_else(|| js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string())).unwrap_or_else(|| "unknown error".into())
}

/// Workers do not work here: drop them, and run what the batch still needs on the page.
fn break_pool(p: &mut Pool, why: String) -> Vec<After> {
    web_sys::console::warn_1(&format!("LiveMig Lab: simulations run on the page's thread: {why}").into());
    p.broken = true;
    for slot in std::mem::take(&mut p.slots) {
        slot.retire(&mut p.retired);
    }
    p.load_timer = None;
    match p.batch.take() {
        Some(b) if !b.abandoned() => {
            let left: Vec<usize> = (0..b.jobs.len()).filter(|&i| b.results[i].is_none()).collect();
            vec![After::OnPage(b, left)]
        }
        _ => Vec::new(),
    }
}

/// Runs `jobs` (label, job): in the workers, or on the page's thread where workers do not
/// work. Reports progress and finally the outcomes in the jobs' order. Bumping `generation`
/// (or starting another batch) abandons this one.
pub fn run_jobs(generation: &Rc<Cell<u64>>, jobs: Vec<(String, SimJob)>, progress: Callback<Progress>, done: Callback<Finished>) {
    warm_up();
    let my = generation.get().wrapping_add(1);
    generation.set(my);
    let total = jobs.len();
    let mut queue: Vec<usize> = (0..total).collect();
    // Longest first, and among equals in the given order: a long job started last would leave
    // the other workers idle while it runs.
    queue.sort_by_key(|&i| (expected_cost(&jobs[i].1.algorithm), std::cmp::Reverse(i)));
    let batch = Batch {
        generation: generation.clone(),
        my,
        results: vec![None; total],
        jobs,
        queue,
        answered: 0,
        busy_ms: 0.0,
        started: now_ms(),
        progress,
        done,
    };
    let after = POOL.with(|p| {
        let mut p = p.borrow_mut();
        p.retired.clear();
        // A batch still running is abandoned: its workers stop and are replaced.
        if p.batch.take().is_some() {
            restart_busy(&mut p);
        }
        if p.broken {
            let all = (0..batch.jobs.len()).collect();
            return vec![After::OnPage(batch, all)];
        }
        if total == 0 {
            return vec![After::Done(batch.done.clone(), (Vec::new(), 0.0, 0.0))];
        }
        p.batch = Some(batch);
        let mut after = dispatch(&mut p);
        after.extend(report_progress(&p));
        after
    });
    apply(after);
}

/// Abandons the batch running for `generation`, if any, and stops its workers now.
pub fn abandon(generation: &Rc<Cell<u64>>) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.batch.as_ref().is_some_and(|b| Rc::ptr_eq(&b.generation, generation)) {
            p.batch = None;
            restart_busy(&mut p);
        }
    });
}

/// Terminates the workers that are running a job and starts fresh ones in their place.
fn restart_busy(p: &mut Pool) {
    let (busy, idle): (Vec<Slot>, Vec<Slot>) = std::mem::take(&mut p.slots).into_iter().partition(|s| s.running.is_some());
    p.slots = idle;
    let stopped = busy.len();
    for slot in busy {
        slot.retire(&mut p.retired);
    }
    for _ in 0..stopped {
        if let Err(why) = spawn(p) {
            let _ = break_pool(p, why);
            return;
        }
    }
}

/// The relative cost of an algorithm's run, for the order in which jobs are handed out: the
/// encoding variants of pre-copy (MECOM, delta, XBZRLE) encode every page's bytes, demand-only
/// post-copy faults every page in one access at a time, and post-copy runs the guest on the
/// destination access by access.
fn expected_cost(algorithm: &str) -> u8 {
    match livemig_core::algorithms::find(algorithm) {
        Some(info) if info.base.is_some() || info.fixed.contains(&("push", "false")) => 2,
        Some(info) if info.family == livemig_core::algorithms::Family::PostCopy => 1,
        _ => 0,
    }
}

/// Hands jobs to idle, loaded workers.
fn dispatch(p: &mut Pool) -> Vec<After> {
    if drop_if_abandoned(p) {
        return Vec::new();
    }
    let Some(b) = p.batch.as_mut() else { return Vec::new() };
    let mut failed = None;
    for slot in p.slots.iter_mut().filter(|s| s.ready && s.running.is_none()) {
        let Some(index) = b.queue.pop() else { break };
        p.next_id += 1;
        let request = SimRequest { id: p.next_id, job: b.jobs[index].1.clone() };
        slot.running = Some((request.id, index));
        if let Err(e) = slot.worker.post_message(&JsValue::from_str(&request.to_json())) {
            slot.running = None;
            b.queue.push(index);
            failed = Some(format!("cannot send a job to a Web Worker: {}", js_text(&e)));
            break;
        }
    }
    match failed {
        Some(why) => break_pool(p, why),
        None => Vec::new(),
    }
}

fn on_message(worker: u64, text: &str) {
    let after = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let Some(slot) = p.slots.iter_mut().find(|s| s.id == worker) else { return Vec::new() };
        let message = SimMessage::from_json(text);
        let finished = match message {
            Ok(SimMessage::Ready) => {
                slot.ready = true;
                None
            }
            Ok(SimMessage::Done { id, result, ms }) => match slot.running {
                Some((running, index)) if running == id => {
                    slot.running = None;
                    Some((index, (result.map(|report| *report), ms)))
                }
                _ => None,
            },
            Ok(SimMessage::Unreadable { error }) => slot.running.take().map(|(_, index)| (index, (Err(error), 0.0))),
            Err(error) => slot.running.take().map(|(_, index)| (index, (Err(error), 0.0))),
        };
        let mut after = Vec::new();
        if let Some((index, outcome)) = finished {
            after.extend(record(&mut p, index, outcome));
        }
        after.extend(dispatch(&mut p));
        after.extend(report_progress(&p));
        after
    });
    apply(after);
}

/// The batch's progress: jobs answered, jobs in all, and the jobs running now (else the next).
fn report_progress(p: &Pool) -> Vec<After> {
    let Some(b) = p.batch.as_ref() else { return Vec::new() };
    let mut running: Vec<&str> = p.slots.iter().filter_map(|s| s.running).map(|(_, i)| b.jobs[i].0.as_str()).collect();
    if running.is_empty() {
        running.extend(b.queue.last().map(|&i| b.jobs[i].0.as_str()));
    }
    vec![After::Progress(b.progress.clone(), (b.answered, b.jobs.len(), running.join(", ")))]
}

fn on_error(worker: u64, message: String) {
    let after = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let Some(at) = p.slots.iter().position(|s| s.id == worker) else { return Vec::new() };
        if !p.slots[at].ready {
            // It failed to load (a missing or broken script): workers do not work here.
            return break_pool(&mut p, format!("a simulation worker failed to load: {message}"));
        }
        let running = p.slots[at].running;
        let slot = p.slots.remove(at);
        slot.retire(&mut p.retired);
        let mut after = Vec::new();
        if let Some((_, index)) = running {
            after.extend(record(&mut p, index, (Err(format!("the simulation stopped with an error: {message}")), 0.0)));
        }
        if let Err(why) = spawn(&mut p) {
            after.extend(break_pool(&mut p, why));
            return after;
        }
        after.extend(dispatch(&mut p));
        after.extend(report_progress(&p));
        after
    });
    apply(after);
}

/// Records job `index`'s outcome; reports progress, or the end of the batch.
fn record(p: &mut Pool, index: usize, outcome: Outcome) -> Vec<After> {
    if drop_if_abandoned(p) {
        return Vec::new();
    }
    let Some(b) = p.batch.as_mut() else { return Vec::new() };
    if b.results[index].is_some() {
        return Vec::new();
    }
    b.busy_ms += outcome.1;
    b.results[index] = Some(outcome);
    b.answered += 1;
    if b.answered < b.jobs.len() {
        // (Progress is reported once the next jobs are handed out: see `report_progress`.)
        return Vec::new();
    }
    let Some(b) = p.batch.take() else { return Vec::new() };
    let wall = now_ms() - b.started;
    vec![After::Done(b.done, (outcomes(b.results), b.busy_ms, wall))]
}

/// Drops the pool's batch if it has been abandoned (its generation moved on), stopping the
/// workers still running its jobs; says whether it did.
fn drop_if_abandoned(p: &mut Pool) -> bool {
    if !p.batch.as_ref().is_some_and(Batch::abandoned) {
        return false;
    }
    p.batch = None;
    restart_busy(p);
    true
}

/// A finished batch's results in the jobs' order (every one is there by then).
fn outcomes(results: Vec<Option<Outcome>>) -> Vec<Outcome> {
    results.into_iter().map(|r| r.unwrap_or((Err("no result".into()), 0.0))).collect()
}

fn apply(after: Vec<After>) {
    for a in after {
        match a {
            After::Progress(cb, p) => cb.emit(p),
            After::Done(cb, f) => cb.emit(f),
            After::OnPage(b, left) => finish_on_page(b, left),
        }
    }
}

/// Runs the jobs `left` of `b` on the page's thread and finishes the batch.
fn finish_on_page(b: Batch, left: Vec<usize>) {
    let Batch { generation, my, jobs, results, busy_ms, started, progress, done, .. } = b;
    let page_jobs: Vec<Job<(usize, Outcome)>> = left
        .iter()
        .map(|&i| {
            let (label, job) = jobs[i].clone();
            let work: Box<dyn FnOnce() -> (usize, Outcome)> = Box::new(move || (i, job.run_timed(now_ms)));
            (label, work)
        })
        .collect();
    let already = jobs.len() - left.len();
    let total = jobs.len();
    let on_progress = Callback::from(move |(n, _, label): Progress| progress.emit((already + n, total, label)));
    let results = RefCell::new(Some(results));
    let on_done = Callback::from(move |(ran, page_ms, _): (Vec<(usize, Outcome)>, f64, f64)| {
        let Some(mut results) = results.borrow_mut().take() else { return };
        for (i, outcome) in ran {
            results[i] = Some(outcome);
        }
        done.emit((outcomes(results), busy_ms + page_ms, now_ms() - started));
    });
    // The same batch goes on: abandoning it (`generation` moving on) stops this part too.
    run_batch_as(&generation, my, page_jobs, on_progress, on_done);
}
