//! Guided lessons, without the browser: definitions, runs and grading.
//!
//! A lesson is a short text citing its paper, a scenario to play (a preset, overrides and an
//! algorithm), and a predict-then-run question. The learner answers first; the answer locks;
//! then the lesson's runs are simulated by the core and the prediction is graded against their
//! reports. No lesson stores its answer: the correct choice or number is computed from the runs
//! every time, so a change in the core can never leave a lesson with a stale answer (the tests
//! below check that each lesson still teaches what its explanation says).

use crate::share::{ScenarioSource, ShareState, View};
use crate::sweep_spec::Quantity;
use livemig_core::trace::TraceDetail;
use livemig_core::{Report, Scenario};

/// Another run a lesson's answer is computed from: the lesson's scenario with more overrides
/// and another algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Shown in the results ("address-order push").
    pub label: &'static str,
    /// Algorithm.
    pub algorithm: &'static str,
    /// Applied after the lesson's overrides.
    pub overrides: &'static [&'static str],
}

/// How close a number must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Within this fraction of the actual value.
    Relative(f64),
    /// Within this distance of it.
    Absolute(f64),
}

/// The kind of question and how its answer is computed from the runs' reports (the lesson's
/// own run first, then its variants').
#[derive(Debug, Clone, Copy)]
pub enum Question {
    /// Pick one of several statements.
    Choice {
        /// The statements.
        choices: &'static [&'static str],
        /// Index of the true one, computed from the reports.
        correct: fn(&[Report]) -> usize,
    },
    /// Predict a number.
    Number {
        /// Unit the prediction is written in.
        unit: &'static str,
        /// The actual value in that unit, computed from the reports.
        actual: fn(&[Report]) -> f64,
        /// How close counts as right.
        tolerance: Tolerance,
    },
}

/// A guided lesson.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    /// URL id (`lesson=`).
    pub id: &'static str,
    /// Algorithm family taught.
    pub family: &'static str,
    /// Title.
    pub title: &'static str,
    /// A few sentences, citing the paper.
    pub text: &'static str,
    /// Preset the scenario starts from.
    pub preset: &'static str,
    /// Changes to the preset (`path=value`).
    pub overrides: &'static [&'static str],
    /// Algorithm played.
    pub algorithm: &'static str,
    /// Label of the played run in the results.
    pub label: &'static str,
    /// Other runs the answer is computed from.
    pub variants: &'static [Variant],
    /// The question.
    pub prompt: &'static str,
    /// Its kind and answer.
    pub question: Question,
    /// What the runs measured, in words, from their reports.
    pub observed: fn(&[Report]) -> String,
    /// Why it comes out that way.
    pub why: &'static str,
}

/// A learner's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    /// Index of the statement picked.
    Choice(usize),
    /// The number predicted, in the question's unit.
    Number(f64),
}

/// The grade of a prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// The prediction was right.
    pub correct: bool,
    /// The prediction, in words.
    pub yours: String,
    /// The right answer, in words (computed from the runs).
    pub answer: String,
    /// What the runs measured.
    pub observed: String,
    /// Why.
    pub why: &'static str,
}

/// One finished run of a lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct LessonRun {
    /// Label.
    pub label: &'static str,
    /// Algorithm.
    pub algorithm: &'static str,
    /// Its report.
    pub report: Report,
}

fn secs(s: f64) -> String {
    Quantity::Duration.show(s)
}
fn mib(b: u64) -> String {
    Quantity::Size { pages: false }.show(b as f64)
}
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        if a == 0.0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        a / b
    }
}
/// 0 = clearly less (< 3/4), 1 = about the same, 2 = clearly more (> 4/3).
fn three_way(a: f64, b: f64) -> usize {
    let r = ratio(a, b);
    if r < 0.75 {
        0
    } else if r <= 4.0 / 3.0 {
        1
    } else {
        2
    }
}
/// Two yes/no facts as one of four statements: (yes, yes), (yes, no), (no, yes), (no, no).
fn four_way(first: bool, second: bool) -> usize {
    match (first, second) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

const MIB: f64 = (1u64 << 20) as f64;

/// Every lesson, one or more per algorithm family.
pub static LESSONS: &[Lesson] = &[
    Lesson {
        id: "precopy-bandwidth",
        family: "pre-copy",
        title: "Pre-copy: memory divided by bandwidth",
        text: "Pre-copy (Clark et al., Live Migration of Virtual Machines, NSDI 2005) copies the whole memory while the VM keeps running, then \
               re-sends the pages the guest dirtied meanwhile, round after round, and finally pauses the VM for a short stop-and-copy. \
               This VM is almost idle: 1 GiB of memory, 20 page writes per second, moved over a 1 Gbit/s link.",
        preset: "idle-vm",
        overrides: &[],
        algorithm: "precopy-xen",
        label: "Xen pre-copy",
        variants: &[],
        prompt: "How many seconds will the whole migration take?",
        question: Question::Number { unit: "s", actual: |r| r[0].total_time_s, tolerance: Tolerance::Relative(0.15) },
        observed: |r| {
            format!(
                "The migration took {} in {} rounds and sent {}; the stop-and-copy paused the VM for {}.",
                secs(r[0].total_time_s),
                r[0].rounds,
                mib(r[0].bytes_sent),
                secs(r[0].downtime_s)
            )
        },
        why: "1 GiB is 8.6 Gbit, so the first round alone takes about 8.6 s at 1 Gbit/s, plus a little for each page's header. An idle guest \
              dirties almost nothing meanwhile, so the later rounds and the stop-and-copy are tiny: for a quiet VM, pre-copy time is \
              about memory / bandwidth.",
    },
    Lesson {
        id: "precopy-convergence",
        family: "pre-copy",
        title: "Pre-copy: when the guest dirties faster than the link sends",
        text: "Pre-copy converges only if every round is shorter than the one before: the link must send pages faster than the guest \
               dirties them. This guest (Clark et al.'s 'diabolical' MMuncher, NSDI 2005) writes 60,000 pages per second all over \
               256 MiB, about 2 Gbit/s of 4 KiB pages, and the link carries 1 Gbit/s. Xen stops iterating when fewer than 50 pages \
               are dirty, after 29 rounds, or once it has sent three times the VM's memory.",
        preset: "diabolical",
        overrides: &[],
        algorithm: "precopy-xen",
        label: "Xen pre-copy, 1 Gbit/s",
        variants: &[Variant { label: "Xen pre-copy, 10 Gbit/s", algorithm: "precopy-xen", overrides: &["link.bandwidth=10Gbit/s"] }],
        prompt: "What will Xen's pre-copy do on the 1 Gbit/s link?",
        question: Question::Choice {
            choices: &[
                "Converge: the dirty set shrinks round after round and the final pause is a few milliseconds",
                "Not converge: it gives up at a cap and copies the remaining dirty pages with the VM paused, a long downtime",
            ],
            correct: |r| if r[0].converged { 0 } else { 1 },
        },
        observed: |r| {
            format!(
                "On 1 Gbit/s: converged {}, {} rounds, {} sent for 512 MiB of memory, downtime {} ({}). On 10 Gbit/s: converged {}, {} rounds, downtime {}.",
                if r[0].converged { "yes" } else { "no" },
                r[0].rounds,
                mib(r[0].bytes_sent),
                secs(r[0].downtime_s),
                r[0].stop_reason,
                if r[1].converged { "yes" } else { "no" },
                r[1].rounds,
                secs(r[1].downtime_s)
            )
        },
        why: "The guest dirties about twice as much per second as the link sends, so each round only re-sends what the guest dirtied \
              during the previous one and the dirty set never shrinks. Xen stops at its cap of three times the memory and pauses the VM \
              with the working set still dirty: the downtime is that set divided by the bandwidth. On a 10 Gbit/s link the link \
              outpaces the guest and the same algorithm converges in a few rounds with a pause of milliseconds.",
    },
    Lesson {
        id: "postcopy-bubbling",
        family: "post-copy",
        title: "Post-copy: faults and bubbling pre-paging",
        text: "Post-copy (Hines & Gopalan, VEE 2009) moves the VM to the destination first and its memory afterwards: the downtime is \
               only the CPU state, but every access to a page that has not arrived yet is a network fault that stalls the guest. \
               Meanwhile the source pushes pages. Address-order push starts at page 0; bubbling pre-paging (Hines, Deshpande & Gopalan, \
               SIGOPS OSR 2009) pushes outwards from the pages the guest has just faulted on. This web server's busy pages sit at \
               384 MiB, not at address 0.",
        preset: "web-server",
        overrides: &[],
        algorithm: "postcopy-bubbling",
        label: "bubbling pre-paging",
        variants: &[Variant { label: "address-order push", algorithm: "postcopy-push", overrides: &[] }],
        prompt: "Compared with pushing in address order (postcopy-push), how many network faults will bubbling cause?",
        question: Question::Choice {
            choices: &["Clearly fewer (less than 3/4 as many)", "About as many (3/4 to 4/3 as many)", "Clearly more (over 4/3 as many)"],
            correct: |r| three_way(r[0].network_faults as f64, r[1].network_faults as f64),
        },
        observed: |r| {
            format!(
                "Bubbling: {} faults, the guest stalled {}. Address-order push: {} faults, stalled {}. Ratio {:.2}. Both paused the VM for {}.",
                r[0].network_faults,
                secs(r[0].fault_stall_s),
                r[1].network_faults,
                secs(r[1].fault_stall_s),
                ratio(r[0].network_faults as f64, r[1].network_faults as f64),
                secs(r[0].downtime_s)
            )
        },
        why: "A fault tells the source where the guest is working. Bubbling makes each fault a pivot and pushes its neighbours next, so \
              the pages the guest is about to touch arrive before it asks for them. Address-order push spends its first seconds on \
              pages far below the busy region, and the guest faults on its hot pages one by one.",
    },
    Lesson {
        id: "hybrid-working-set",
        family: "hybrid",
        title: "Hybrid: ship the working set with the CPU state",
        text: "Sahni & Varma's hybrid migration (IEEE CCEM 2012) watches which pages the guest writes during one second while the VM \
               still runs on the source: that is its working set. It then pauses the VM and sends the working set together with the \
               CPU state, and continues as post-copy, sending a window of neighbouring pages with every faulted page.",
        preset: "web-server",
        overrides: &[],
        algorithm: "hybrid",
        label: "hybrid",
        variants: &[Variant { label: "post-copy, address-order push", algorithm: "postcopy-push", overrides: &[] }],
        prompt: "Compared with plain post-copy pushing in address order (postcopy-push), what will hybrid do?",
        question: Question::Choice {
            choices: &[
                "Fewer network faults, and a longer downtime",
                "Fewer network faults, and no longer a downtime",
                "No fewer network faults, and a longer downtime",
                "No fewer network faults, and no longer a downtime",
            ],
            correct: |r| {
                four_way((r[0].network_faults as f64) < 0.9 * r[1].network_faults as f64, r[0].downtime_s > 1.1 * r[1].downtime_s)
            },
        },
        observed: |r| {
            format!(
                "Hybrid: {} faults, downtime {}. Post-copy with address-order push: {} faults, downtime {}.",
                r[0].network_faults,
                secs(r[0].downtime_s),
                r[1].network_faults,
                secs(r[1].downtime_s)
            )
        },
        why: "Sending the working set during the pause costs downtime: the VM runs nowhere while those pages cross the link. In \
              return the destination starts with the recently written pages in place, and every later fault brings its neighbours \
              along, so fewer accesses fault. Hybrid trades a few tens of milliseconds of downtime for fewer faults.",
    },
    Lesson {
        id: "tsmc-data-sent",
        family: "hybrid",
        title: "TSMC: every page at most twice",
        text: "TSMC (Song, Liu, Yin & Gao, Journal of Applied Mathematics 2014) copies memory in three stages: every page once while \
               the VM runs; a pause that carries only the dirty bitmap and the CPU state; then post-copy of just the pages dirtied \
               during the first stage. No page travels more than twice. This guest (memtester) writes 20,000 distinct pages per \
               second in address order; the VM has 512 MiB and the link carries 1 Gbit/s.",
        preset: "memtester",
        overrides: &["workload.write_rate=20000 pages/s"],
        algorithm: "tsmc",
        label: "TSMC",
        variants: &[Variant { label: "Xen pre-copy", algorithm: "precopy-xen", overrides: &[] }],
        prompt: "How many MiB will TSMC send in all? (Hint: how long does the first full copy take, and how many pages are written meanwhile?)",
        question: Question::Number { unit: "MiB", actual: |r| r[0].bytes_sent as f64 / MIB, tolerance: Tolerance::Relative(0.15) },
        observed: |r| {
            format!(
                "TSMC sent {} ({} pages, {} of them a second time) with a downtime of {}. Xen pre-copy sent {} in {} rounds.",
                mib(r[0].bytes_sent),
                r[0].pages_sent,
                r[0].duplicate_pages,
                secs(r[0].downtime_s),
                mib(r[1].bytes_sent),
                r[1].rounds
            )
        },
        why: "Stage 1 sends the 512 MiB once, which takes about 4.4 s at 1 Gbit/s; meanwhile the guest writes about \
              20,000 × 4.4 ≈ 88,000 pages (about 340 MiB), and stage 3 sends each of them once more: about 850 MiB in all. Xen pre-copy \
              re-sends the pages dirtied during every round, and with a write rate this close to the bandwidth it needs many rounds, \
              so it sends more than TSMC.",
    },
    Lesson {
        id: "mecom-fast-link",
        family: "pre-copy",
        title: "MECOM: compression against link speed",
        text: "MECOM (Jin et al., IEEE Cluster 2009; FGCS 2014) is pre-copy that compresses every page by its content: a zero page \
               becomes a flag, word-regular pages go through WKdm, the rest through a fast LZ codec. On this web server (256 MiB here, so \
               that the lesson runs quickly) over 1 Gbit/s it sends half the bytes and finishes in about half the time of plain Xen pre-copy. Compression costs CPU time, \
               though: four threads compress pages while batches are sent. Now the link is 40 Gbit/s.",
        preset: "web-server",
        overrides: &["vm.memory=256MiB", "workload.working_set=128MiB", "workload.working_set_offset=64MiB", "link.bandwidth=40Gbit/s"],
        algorithm: "mecom",
        label: "MECOM, 40 Gbit/s",
        variants: &[
            Variant { label: "Xen pre-copy, 40 Gbit/s", algorithm: "precopy-xen", overrides: &[] },
            Variant { label: "MECOM, 1 Gbit/s", algorithm: "mecom", overrides: &["link.bandwidth=1Gbit/s"] },
            Variant { label: "Xen pre-copy, 1 Gbit/s", algorithm: "precopy-xen", overrides: &["link.bandwidth=1Gbit/s"] },
        ],
        prompt: "On the 40 Gbit/s link, which migration finishes first?",
        question: Question::Choice {
            choices: &["MECOM (compressed)", "Xen pre-copy (uncompressed)", "A tie (within 10%)"],
            correct: |r| {
                let x = ratio(r[0].total_time_s, r[1].total_time_s);
                if (x - 1.0).abs() <= 0.1 {
                    2
                } else if x < 1.0 {
                    0
                } else {
                    1
                }
            },
        },
        observed: |r| {
            format!(
                "40 Gbit/s: MECOM {} ({} sent), Xen pre-copy {} ({} sent). 1 Gbit/s: MECOM {}, Xen pre-copy {}.",
                secs(r[0].total_time_s),
                mib(r[0].bytes_sent),
                secs(r[1].total_time_s),
                mib(r[1].bytes_sent),
                secs(r[2].total_time_s),
                secs(r[3].total_time_s)
            )
        },
        why: "A compressed batch occupies the link for the longer of its wire time and its compression time. At 40 Gbit/s a 4 KiB page \
              crosses the wire in under a microsecond, while compressing it takes several: compression becomes the bottleneck, and \
              sending raw pages is faster although it moves twice the bytes. Compression pays off only when the link is the slow part.",
    },
    Lesson {
        id: "xbzrle-downtime",
        family: "pre-copy",
        title: "Delta pre-copy (XBZRLE): send only what changed",
        text: "QEMU's pre-copy pauses the VM once what is left to send fits in its downtime limit (300 ms at the measured bandwidth). \
               XBZRLE (Svärd et al., VEE 2011; the delta pre-copy of Bhardwaj & Rama Krishna, ICCCN 2018) keeps a cache of the pages \
               already sent and re-sends a dirty page as an XOR delta against it: only the bytes that changed, run-length encoded. \
               This database writes 256 bytes at a time into a hot set of 4 KiB pages.",
        preset: "write-hot-database",
        overrides: &["vm.memory=1GiB", "workload.working_set=512MiB"],
        algorithm: "xbzrle",
        label: "QEMU pre-copy with XBZRLE",
        variants: &[Variant { label: "QEMU pre-copy", algorithm: "precopy-qemu", overrides: &[] }],
        prompt: "Compared with QEMU's pre-copy without XBZRLE (precopy-qemu), what will XBZRLE do to the downtime?",
        question: Question::Choice {
            choices: &["Make it clearly shorter (less than 3/4)", "Leave it about the same", "Make it clearly longer (over 4/3)"],
            correct: |r| three_way(r[0].downtime_s, r[1].downtime_s),
        },
        observed: |r| {
            let last = |r: &Report| r.per_round.last().map_or(0, |x| x.bytes_sent);
            format!(
                "XBZRLE: downtime {}, final round {}, {} sent in all. Plain QEMU: downtime {}, final round {}, {} sent in all.",
                secs(r[0].downtime_s),
                mib(last(&r[0])),
                mib(r[0].bytes_sent),
                secs(r[1].downtime_s),
                mib(last(&r[1])),
                mib(r[1].bytes_sent)
            )
        },
        why: "The stop-and-copy round re-sends the hot pages the guest dirtied last. Each changed in a few 256-byte places, so its \
              delta is a fraction of 4 KiB: the final round moves fewer bytes and the VM stays paused for less time. XBZRLE does \
              nothing for the first, bulk round (every page is new then), so the total data sent changes far less than the downtime.",
    },
    Lesson {
        id: "task-guided-timing",
        family: "pre-copy",
        title: "Task-guided: migrate in the calm",
        text: "Lin & Kuo's task-guided migration (IDCS 2018) lets tagged code tell a coordinator when the guest enters a calm region \
               (here 8 s of I/O wait) or a heavy one (35 s of computation sweeping 512 MiB). The coordinator approves pre-copy only \
               in calm regions and withdraws it when a heavy region begins. The baseline starts the same pre-copy as soon as the \
               migration is requested, in the middle of the heavy computation.",
        preset: "task-phases",
        overrides: &[],
        algorithm: "task-guided",
        label: "task-guided",
        variants: &[Variant { label: "migrate at once (baseline)", algorithm: "task-guided-baseline", overrides: &[] }],
        prompt: "Compared with migrating at once (task-guided-baseline), what will task-guided achieve?",
        question: Question::Choice {
            choices: &[
                "Shorter downtime and shorter total time",
                "Shorter downtime but longer total time",
                "Longer downtime but shorter total time",
                "Longer downtime and longer total time",
            ],
            correct: |r| match (r[0].downtime_s < r[1].downtime_s, r[0].total_time_s < r[1].total_time_s) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            },
        },
        observed: |r| {
            format!(
                "Task-guided: waited {} for a calm region, {} withdrawal(s), total {}, downtime {}. Baseline: total {}, downtime {}, {} sent.",
                secs(r[0].waiting_time_s.unwrap_or(0.0)),
                r[0].withdrawals.unwrap_or(0),
                secs(r[0].total_time_s),
                secs(r[0].downtime_s),
                secs(r[1].total_time_s),
                secs(r[1].downtime_s),
                mib(r[1].bytes_sent)
            )
        },
        why: "Waiting costs wall time: the coordinator holds the request through the rest of the heavy phase and pauses when the next \
              one begins, so the migration as a whole takes longer. But pre-copy then runs while the guest dirties little, and the \
              final stop-and-copy is tiny. The baseline copies during the heavy sweep, cannot converge, stops at Xen's cap of three \
              times the memory and pauses the VM for seconds.",
    },
];

/// All lessons.
pub fn lessons() -> &'static [Lesson] {
    LESSONS
}

/// The lesson with this id.
pub fn find(id: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.id == id)
}

impl Lesson {
    /// The playground state that plays this lesson (keeping `current`'s comparison and sweep).
    pub fn share(&self, current: &ShareState) -> ShareState {
        ShareState {
            source: ScenarioSource::Preset(self.preset.to_string()),
            overrides: self.overrides.iter().map(|o| o.to_string()).collect(),
            algorithm: Some(self.algorithm.to_string()),
            seed: None,
            step: None,
            view: View::Lessons,
            compare: current.compare.clone(),
            lesson: Some(self.id.to_string()),
            sweep: current.sweep.clone(),
            assignment: current.assignment.clone(),
            present: current.present,
        }
    }

    /// The scenario played.
    pub fn scenario(&self) -> Result<Scenario, String> {
        self.share(&ShareState::default()).scenario().map_err(|e| format!("lesson {}: {e}", self.id))
    }

    /// How many runs the answer is computed from: the lesson's own and its variants'.
    pub fn run_count(&self) -> usize {
        1 + self.variants.len()
    }

    /// Simulates run `i` (summary detail): 0 is the lesson's own run, then its variants.
    pub fn run_one(&self, i: usize) -> Result<LessonRun, String> {
        let own = Variant { label: self.label, algorithm: self.algorithm, overrides: &[] };
        let v = if i == 0 { &own } else { self.variants.get(i - 1).ok_or_else(|| format!("lesson {} has no run {i}", self.id))? };
        let mut s = self.share(&ShareState::default());
        s.overrides.extend(v.overrides.iter().map(|o| o.to_string()));
        s.algorithm = Some(v.algorithm.to_string());
        let scenario = s.scenario().map_err(|e| format!("lesson {} ({}): {e}", self.id, v.label))?;
        let run =
            livemig_core::simulate(&scenario, None, TraceDetail::Summary).map_err(|e| format!("lesson {} ({}): {e}", self.id, v.label))?;
        Ok(LessonRun { label: v.label, algorithm: v.algorithm, report: run.report })
    }

    /// Simulates the lesson's run and its variants (summary detail), in that order.
    pub fn run(&self) -> Result<Vec<LessonRun>, String> {
        (0..self.run_count()).map(|i| self.run_one(i)).collect()
    }

    /// The right answer, computed from the runs: a choice's index, or a number.
    pub fn answer(&self, reports: &[Report]) -> Prediction {
        match self.question {
            Question::Choice { correct, .. } => Prediction::Choice(correct(reports)),
            Question::Number { actual, .. } => Prediction::Number(actual(reports)),
        }
    }

    /// Grades `prediction` against the runs' reports (the lesson's run first, as [`Lesson::run`]).
    pub fn grade(&self, prediction: Prediction, reports: &[Report]) -> Feedback {
        let observed = (self.observed)(reports);
        match (self.question, prediction) {
            (Question::Choice { choices, correct }, p) => {
                let right = correct(reports);
                let picked = match p {
                    Prediction::Choice(i) => Some(i),
                    Prediction::Number(_) => None,
                };
                Feedback {
                    correct: picked == Some(right),
                    yours: picked.and_then(|i| choices.get(i)).map_or_else(|| "no choice".to_string(), |c| c.to_string()),
                    answer: choices.get(right).map_or_else(String::new, |c| c.to_string()),
                    observed,
                    why: self.why,
                }
            }
            (Question::Number { unit, actual, tolerance }, p) => {
                let actual = actual(reports);
                let guess = match p {
                    Prediction::Number(x) => Some(x),
                    Prediction::Choice(_) => None,
                };
                // The assignments' rule for numbers (livemig_core::assignment::Tolerance).
                let rule = match tolerance {
                    Tolerance::Relative(f) => livemig_core::assignment::Tolerance::relative(f),
                    Tolerance::Absolute(d) => livemig_core::assignment::Tolerance::absolute(d),
                };
                let ok = guess.is_some_and(|g| rule.accepts(g, actual));
                let within = match tolerance {
                    Tolerance::Relative(f) => format!("within {:.0}%", f * 100.0),
                    Tolerance::Absolute(d) => format!("within {d} {unit}"),
                };
                Feedback {
                    correct: ok,
                    yours: guess.map_or_else(|| "no number".to_string(), |g| format!("{} {unit}", show_number(g))),
                    answer: format!("{} {unit} (right if {within})", show_number(actual)),
                    observed,
                    why: self.why,
                }
            }
        }
    }
}

/// A number with about three significant digits: 8.62, 851, 0.0123.
pub fn show_number(x: f64) -> String {
    let a = x.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    s
}

/// Reads a predicted number: digits, optionally with the unit written after it.
pub fn parse_number(text: &str, unit: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t.strip_suffix(unit).unwrap_or(t).trim().replace(',', "");
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("'{}' is not a number: write e.g. 12.5 (in {unit})", text.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every lesson's runs, simulated once for all the tests.
    fn all_runs() -> &'static Vec<Vec<LessonRun>> {
        static RUNS: std::sync::OnceLock<Vec<Vec<LessonRun>>> = std::sync::OnceLock::new();
        RUNS.get_or_init(|| LESSONS.iter().map(|l| l.run().unwrap_or_else(|e| panic!("{e}"))).collect())
    }

    fn reports(l: &Lesson) -> Vec<Report> {
        let i = LESSONS.iter().position(|o| o.id == l.id).unwrap();
        all_runs()[i].iter().map(|r| r.report.clone()).collect()
    }

    #[test]
    fn ids_are_unique_and_every_family_has_a_lesson() {
        for (i, l) in LESSONS.iter().enumerate() {
            assert!(LESSONS[..i].iter().all(|o| o.id != l.id), "duplicate id {}", l.id);
            assert_eq!(find(l.id).map(|f| f.id), Some(l.id));
            assert!(livemig_core::algorithms::find(l.algorithm).is_some(), "{}", l.id);
        }
        for alg in ["precopy-xen", "postcopy-bubbling", "hybrid", "tsmc", "mecom", "xbzrle", "task-guided"] {
            assert!(LESSONS.iter().any(|l| l.algorithm == alg), "no lesson plays {alg}");
        }
    }

    #[test]
    fn every_lesson_runs_and_verifies_and_its_link_round_trips() {
        for (l, runs) in LESSONS.iter().zip(all_runs()) {
            assert_eq!(runs.len(), 1 + l.variants.len());
            for r in runs {
                assert!(r.report.verified, "{} ({}): not verified: {}", l.id, r.label, r.report.stop_reason);
            }
            // The played scenario is the lesson's own run.
            let played = livemig_core::simulate(&l.scenario().unwrap(), None, TraceDetail::Summary).unwrap();
            assert_eq!(played.report, runs[0].report, "{}", l.id);
            let share = l.share(&ShareState::default());
            assert_eq!(ShareState::from_query(&share.to_query()).unwrap(), share, "{}", l.id);
            assert!(!(l.observed)(&runs.iter().map(|r| r.report.clone()).collect::<Vec<_>>()).is_empty());
        }
    }

    #[test]
    fn the_computed_answer_grades_right_and_others_wrong() {
        for l in LESSONS {
            let reps = reports(l);
            let right = l.answer(&reps);
            let fb = l.grade(right, &reps);
            assert!(fb.correct, "{}: {fb:?}", l.id);
            match (l.question, right) {
                (Question::Choice { choices, .. }, Prediction::Choice(i)) => {
                    assert!(i < choices.len(), "{}", l.id);
                    for j in (0..choices.len()).filter(|&j| j != i) {
                        let fb = l.grade(Prediction::Choice(j), &reps);
                        assert!(!fb.correct, "{}: choice {j} graded right", l.id);
                        assert_eq!(fb.answer, choices[i]);
                    }
                }
                (Question::Number { tolerance, .. }, Prediction::Number(x)) => {
                    let slack = match tolerance {
                        Tolerance::Relative(f) => f * x,
                        Tolerance::Absolute(d) => d,
                    };
                    assert!(l.grade(Prediction::Number(x + 0.9 * slack), &reps).correct, "{}", l.id);
                    assert!(!l.grade(Prediction::Number(x + 2.0 * slack + 1.0), &reps).correct, "{}", l.id);
                    assert!(!l.grade(Prediction::Number(f64::NAN), &reps).correct, "{}", l.id);
                }
                _ => unreachable!(),
            }
        }
    }

    /// Each lesson's explanation states an outcome; if the core changes so that the outcome
    /// changes, this fails and the text must be rewritten (the answers themselves are always
    /// computed, so the grading would still be right).
    #[test]
    fn the_explanations_still_hold() {
        let expect = |id: &str| {
            let l = find(id).unwrap();
            let r = reports(l);
            (l.answer(&r), r)
        };
        let (a, r) = expect("precopy-bandwidth");
        assert!(matches!(a, Prediction::Number(x) if (8.0..10.0).contains(&x)), "{a:?}");
        assert!(r[0].downtime_s < 0.05);
        let (a, r) = expect("precopy-convergence");
        assert_eq!(a, Prediction::Choice(1));
        assert!(r[0].downtime_s > 0.1 && r[1].converged && r[1].downtime_s < 0.05);
        assert_eq!(expect("postcopy-bubbling").0, Prediction::Choice(0));
        assert_eq!(expect("hybrid-working-set").0, Prediction::Choice(0));
        let (a, r) = expect("tsmc-data-sent");
        assert!(matches!(a, Prediction::Number(x) if (700.0..1000.0).contains(&x)), "{a:?}");
        assert!(r[1].bytes_sent > r[0].bytes_sent, "Xen should send more than TSMC");
        let (a, r) = expect("mecom-fast-link");
        assert_eq!(a, Prediction::Choice(1));
        assert!(r[2].total_time_s < 0.75 * r[3].total_time_s, "MECOM should win on 1 Gbit/s");
        let (a, r) = expect("xbzrle-downtime");
        assert_eq!(a, Prediction::Choice(0));
        assert!(ratio(r[0].bytes_sent as f64, r[1].bytes_sent as f64) > 0.8, "total data should change far less");
        assert_eq!(expect("task-guided-timing").0, Prediction::Choice(1));
    }

    #[test]
    fn predictions_are_read_with_or_without_the_unit() {
        assert_eq!(parse_number(" 8.5 s", "s"), Ok(8.5));
        assert_eq!(parse_number("1,200", "MiB"), Ok(1200.0));
        assert!(parse_number("soon", "s").unwrap_err().contains("not a number"));
        assert!(parse_number("-3", "s").is_err());
        assert_eq!(show_number(8.615), "8.62");
        assert_eq!(show_number(850.2), "850");
    }
}
