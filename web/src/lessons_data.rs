//! Guided lessons, without the browser: definitions, runs and grading.
//!
//! A lesson is a short text citing its paper, a scenario to play (a preset, overrides and an
//! algorithm), and a predict-then-run question. The learner answers first; the answer locks;
//! then the lesson's runs are simulated by the core and the prediction is graded against their
//! reports. No lesson stores its answer: the correct choice or number is computed from the runs
//! every time, so a change in the core can never leave a lesson with a stale answer (the tests
//! below check that each lesson still teaches what its explanation says).
//!
//! Every lesson names a race ([`Lesson::race`]): its scenario run by two to four algorithms side
//! by side, which the lesson view opens in the race view or in presentation mode. Three lessons
//! are built around their race ([`Lesson::watch`] says what to watch for in it): pre-copy against
//! post-copy on a read-heavy server, Xen's stopping rule against QEMU's on a write-hot database,
//! and TSMC against pre-copy on a guest that writes almost as fast as the link sends.

use crate::share::{ScenarioSource, ShareState, View};
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
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
    /// The algorithms raced on the lesson's scenario (two to four, the lesson's own first).
    pub race: &'static [&'static str],
    /// What to watch for in the race, for a lesson built around it (empty otherwise).
    pub watch: &'static str,
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
    Quantity::Size.show(b as f64)
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

/// When the VM runs on the destination: the downtime's end (for post-copy, a few milliseconds
/// after the start; for pre-copy, at the end).
fn switch_over(r: &Report) -> f64 {
    r.preparation_time_s + r.downtime_s
}

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
        race: &["precopy-xen", "precopy-qemu", "postcopy-bubbling"],
        watch: "",
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
        race: &["precopy-xen", "postcopy-bubbling", "tsmc"],
        watch: "",
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
        race: &["postcopy-bubbling", "postcopy-push"],
        watch: "",
    },
    Lesson {
        id: "race-precopy-postcopy",
        family: "race",
        title: "Race: pre-copy against post-copy on a read-heavy server",
        text: "Pre-copy (Clark et al., Live Migration of Virtual Machines, NSDI 2005) copies memory while the VM runs on the source and \
               switches over at the end; post-copy (Hines & Gopalan, VEE 2009) switches over first and copies afterwards, pushing pages \
               around the ones the guest faults on. Here both migrate the same 1 GiB web server over 1 Gbit/s, from the same seed, on \
               one clock. The guest reads 60,000 pages per second, 90% of them in a hot tenth of its 512 MiB page cache, and writes \
               only 2,000.",
        preset: "web-server",
        overrides: &[],
        algorithm: "postcopy-bubbling",
        label: "post-copy (bubbling)",
        variants: &[Variant { label: "Xen pre-copy", algorithm: "precopy-xen", overrides: &[] }],
        prompt: "Which racer's VM will run on the destination first, and what will that cost its guest?",
        question: Question::Choice {
            choices: &[
                "Post-copy's, within milliseconds; then its guest stalls on network faults until the pages it reads arrive",
                "Post-copy's, within milliseconds; and its guest runs at full speed from then on",
                "Pre-copy's: it starts copying at once, so it switches over first",
                "Both at about the same time, once all the memory has been copied",
            ],
            correct: |r| {
                let (post, pre) = (switch_over(&r[0]), switch_over(&r[1]));
                if (ratio(post, pre) - 1.0).abs() <= 0.1 {
                    3
                } else if post < pre {
                    if r[0].network_faults > 0 && r[0].fault_stall_s > 0.0 {
                        0
                    } else {
                        1
                    }
                } else {
                    2
                }
            },
        },
        observed: |r| {
            format!(
                "Post-copy's VM ran on the destination from {} on, after a pause of {}; pre-copy's paused at {}, for {}. Post-copy's guest \
                 raised {} network faults and stalled {} in all (it did {} of work in {}); pre-copy's raised {} and stalled {}. \
                 Post-copy finished at {} having sent {}, pre-copy at {} having sent {}.",
                secs(switch_over(&r[0])),
                secs(r[0].downtime_s),
                secs(r[1].preparation_time_s),
                secs(r[1].downtime_s),
                r[0].network_faults,
                secs(r[0].fault_stall_s),
                secs(r[0].guest_progress_s),
                secs(r[0].total_time_s),
                r[1].network_faults,
                secs(r[1].fault_stall_s),
                secs(r[0].total_time_s),
                mib(r[0].bytes_sent),
                secs(r[1].total_time_s),
                mib(r[1].bytes_sent)
            )
        },
        why: "Post-copy pauses the VM only to send its CPU state, so its downtime ends a few milliseconds after the start. From then on \
              every read of a page that has not arrived is a network fault that stalls the guest until the page comes: with 60,000 reads \
              a second, thousands of faults and seconds of lost work. Pre-copy lets the guest run undisturbed on the source while it \
              copies, and as this server writes little, its last round is tiny: its downtime is as short as post-copy's, but it comes at \
              the end, more than 8 s later. Both move the same gigabyte over the same link, so they finish within a few percent of each other.",
        race: &["precopy-xen", "postcopy-bubbling"],
        watch: "Step (→) from moment to moment and watch each lane's timeline, where the orange bar is the downtime: whose VM resumes \
                on the destination first? Then watch post-copy's destination grid for faulted pages (the ones its guest is waiting \
                for), and pre-copy's source grid for the pages dirtied behind its copy.",
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
        race: &["hybrid", "postcopy-push"],
        watch: "",
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
        race: &["tsmc", "precopy-xen"],
        watch: "",
    },
    Lesson {
        id: "race-tsmc-precopy",
        family: "race",
        title: "Race: TSMC against pre-copy when the guest writes almost as fast as the link",
        text: "This guest (memtester) sweeps its 512 MiB, writing 30,000 distinct pages per second in address order: about 0.98 Gbit/s of \
               4 KiB pages, on a 1 Gbit/s link. Xen's pre-copy (Clark et al., NSDI 2005) re-sends, round after round, the pages dirtied \
               during the round before. TSMC (Song, Liu, Yin & Gao, 2014) sends every page once while the VM runs, pauses only to send \
               the dirty bitmap and the CPU state, and after the switch-over sends each page dirtied meanwhile once more.",
        preset: "memtester",
        overrides: &["workload.write_rate=30000 pages/s"],
        algorithm: "tsmc",
        label: "TSMC",
        variants: &[Variant { label: "Xen pre-copy", algorithm: "precopy-xen", overrides: &[] }],
        prompt: "Which racer will finish first, and how will the two downtimes compare?",
        question: Question::Choice {
            choices: &[
                "TSMC finishes first, and pre-copy's downtime is over ten times TSMC's",
                "TSMC finishes first, and the two downtimes are within ten times of each other",
                "Pre-copy finishes first, and its downtime is over ten times TSMC's",
                "Pre-copy finishes first, and the two downtimes are within ten times of each other",
            ],
            correct: |r| four_way(r[0].total_time_s < r[1].total_time_s, r[1].downtime_s > 10.0 * r[0].downtime_s),
        },
        observed: |r| {
            format!(
                "TSMC paused at {} for {}, finished at {} and sent {} ({} pages a second time). Xen pre-copy ran {} rounds, \
                 converged {} ({}), paused at {} for {}, finished at {} and sent {}.",
                secs(r[0].preparation_time_s),
                secs(r[0].downtime_s),
                secs(r[0].total_time_s),
                mib(r[0].bytes_sent),
                r[0].duplicate_pages,
                r[1].rounds,
                if r[1].converged { "yes" } else { "no" },
                r[1].stop_reason,
                secs(r[1].preparation_time_s),
                secs(r[1].downtime_s),
                secs(r[1].total_time_s),
                mib(r[1].bytes_sent)
            )
        },
        why: "The guest dirties pages almost as fast as the link sends them, so each pre-copy round re-sends nearly as much as the one \
              before and the dirty set hardly shrinks. Xen stops at its cap of three times the memory and copies the pages still dirty \
              with the VM paused: a downtime of seconds. TSMC pauses after its single pass and sends only the bitmap of the pages \
              dirtied meanwhile, a pause of a few milliseconds; it sends those pages once more after the switch-over. No page travels \
              more than twice, so TSMC sends about twice the memory where Xen sends almost four times, and it finishes in about half \
              the time.",
        race: &["precopy-xen", "tsmc"],
        watch: "Watch the source grids: pre-copy's dirty pages come back round after round, while TSMC pauses after one pass. Then \
                compare the orange downtime bars on the timelines, and who finishes first.",
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
        race: &["mecom", "precopy-xen"],
        watch: "",
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
        race: &["xbzrle", "precopy-qemu"],
        watch: "",
    },
    Lesson {
        id: "race-xen-qemu",
        family: "race",
        title: "Race: Xen's stopping rule against QEMU's on a write-hot database",
        text: "Xen and QEMU both migrate by iterative pre-copy, but they stop iterating by different rules. Xen (xc_domain_save.c) goes \
               on while 50 pages or more are dirty, for at most 29 rounds or until it has sent three times the memory, and skips the \
               pages dirtied again during a round. QEMU (migration/ram.c) stops as soon as what remains fits in its downtime limit: \
               300 ms at the bandwidth it measured. This database (1 GiB here, so that the race runs quickly) writes 20,000 pages per \
               second, 256 bytes at a time, 90% of them into a hot 5% of its 512 MiB working set; the link carries 1 Gbit/s.",
        preset: "write-hot-database",
        overrides: &["vm.memory=1GiB", "workload.working_set=512MiB"],
        algorithm: "precopy-qemu",
        label: "QEMU pre-copy",
        variants: &[Variant { label: "Xen pre-copy", algorithm: "precopy-xen", overrides: &[] }],
        prompt: "Which racer will finish first, and which will pause the VM for longer?",
        question: Question::Choice {
            choices: &[
                "QEMU finishes first, and its downtime is the longer one",
                "QEMU finishes first, and its downtime is no longer than Xen's",
                "Xen finishes first, and QEMU's downtime is the longer one",
                "Xen finishes first, and QEMU's downtime is no longer than Xen's",
            ],
            correct: |r| four_way(r[0].total_time_s < r[1].total_time_s, r[0].downtime_s > r[1].downtime_s),
        },
        observed: |r| {
            let last = |r: &Report| r.per_round.last().map_or(0, |x| x.bytes_sent);
            format!(
                "QEMU paused at {} after {} rounds, sent the last {} with the VM stopped for {}, and finished at {} having sent {}. \
                 Xen went on for {} rounds ({}), paused at {} for {}, and finished at {} having sent {}.",
                secs(r[0].preparation_time_s),
                r[0].rounds,
                mib(last(&r[0])),
                secs(r[0].downtime_s),
                secs(r[0].total_time_s),
                mib(r[0].bytes_sent),
                r[1].rounds,
                r[1].stop_reason,
                secs(r[1].preparation_time_s),
                secs(r[1].downtime_s),
                secs(r[1].total_time_s),
                mib(r[1].bytes_sent)
            )
        },
        why: "The hot pages are written again during every round, so neither rule can wait for the guest to stop dirtying them. QEMU \
              does not try: once the remainder fits in 300 ms at the measured bandwidth, it pauses the VM after a few rounds and sends \
              that remainder, tens of megabytes, with the VM stopped, just under its limit. Xen keeps iterating, and because it skips \
              the pages dirtied again during a round, what it leaves for the final round shrinks until fewer than 50 pages are dirty: a \
              pause of about 10 ms, paid for with several times as many rounds, more data and a later finish. QEMU's rule bounds the \
              downtime by a limit you choose; Xen's makes it as short as it can, at the cost of time.",
        race: &["precopy-xen", "precopy-qemu"],
        watch: "Step (→) goes from round to round: count each racer's rounds, and see who pauses first. Compare the orange downtime \
                bars on the two timelines, and who finishes first.",
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
        race: &["task-guided", "task-guided-baseline"],
        watch: "",
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

    /// The lesson's race: its scenario, run by [`Lesson::race`] side by side, presented or not.
    pub fn race_share(&self, current: &ShareState, present: bool) -> ShareState {
        ShareState { view: View::Race, compare: self.race.iter().map(|a| a.to_string()).collect(), present, ..self.share(current) }
    }

    /// The lesson's run in presentation mode.
    pub fn present_share(&self, current: &ShareState) -> ShareState {
        ShareState { present: true, ..self.share(current) }
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
                    yours: guess.map_or_else(|| "no number".to_string(), |g| format!("{} {unit}", livemig_core::units::significant(g))),
                    answer: format!("{} {unit} (right if {within})", livemig_core::units::significant(actual)),
                    observed,
                    why: self.why,
                }
            }
        }
    }
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

    /// Every claim of the three race lessons' texts, against the runs (the numbers are those of
    /// `livemig compare <preset> --set ... --algorithms ...` for the same scenario).
    #[test]
    fn the_race_lessons_claims_hold() {
        let of = |id: &str| {
            let l = find(id).unwrap();
            let r = reports(l);
            assert!(!l.watch.is_empty(), "{id} is built around its race");
            (l.answer(&r), r)
        };
        let mb = |b: u64| b as f64 / MIB;

        // Pre-copy against post-copy on the read-heavy web server (r[0] post-copy, r[1] pre-copy).
        let (a, r) = of("race-precopy-postcopy");
        let (post, pre) = (&r[0], &r[1]);
        assert_eq!(a, Prediction::Choice(0), "post-copy switches over first and its guest faults");
        assert!(switch_over(post) < 0.05, "post-copy's downtime ends within milliseconds: {}", switch_over(post));
        assert!(pre.preparation_time_s > 8.0, "pre-copy pauses more than 8 s later: {}", pre.preparation_time_s);
        assert!(post.network_faults > 1000 && post.fault_stall_s > 1.0, "thousands of faults, seconds lost: {post:?}");
        assert!(post.guest_progress_s < post.total_time_s - 1.0);
        assert_eq!((pre.network_faults, pre.fault_stall_s), (0, 0.0), "pre-copy's guest runs undisturbed");
        assert!(
            pre.downtime_s <= 1.1 * post.downtime_s && pre.downtime_s < 0.02,
            "as short as post-copy's: {} {}",
            pre.downtime_s,
            post.downtime_s
        );
        assert!((ratio(pre.total_time_s, post.total_time_s) - 1.0).abs() < 0.05, "finish within a few percent");
        assert!((ratio(pre.bytes_sent as f64, post.bytes_sent as f64) - 1.0).abs() < 0.05, "the same gigabyte");

        // Xen against QEMU on the write-hot database (r[0] QEMU, r[1] Xen).
        let (a, r) = of("race-xen-qemu");
        let (qemu, xen) = (&r[0], &r[1]);
        assert_eq!(a, Prediction::Choice(0), "QEMU finishes first with the longer downtime");
        assert!(qemu.rounds <= 4, "QEMU pauses after a few rounds: {}", qemu.rounds);
        let last = qemu.per_round.last().unwrap();
        assert!((10.0..100.0).contains(&mb(last.bytes_sent)), "tens of megabytes with the VM stopped: {}", mb(last.bytes_sent));
        assert!(qemu.downtime_s > 0.1 && qemu.downtime_s < 0.3, "just under the 300 ms limit: {}", qemu.downtime_s);
        assert!(xen.converged && xen.stop_reason.contains("under 50"), "{}", xen.stop_reason);
        assert!(xen.downtime_s < 0.02, "about 10 ms: {}", xen.downtime_s);
        assert!(xen.rounds >= 2 * qemu.rounds, "several times as many rounds: {} {}", xen.rounds, qemu.rounds);
        assert!(xen.bytes_sent > qemu.bytes_sent && xen.total_time_s > qemu.total_time_s, "more data, a later finish");
        assert!(xen.preparation_time_s > qemu.preparation_time_s, "QEMU pauses first");

        // TSMC against Xen pre-copy on memtester at 30,000 pages/s (r[0] TSMC, r[1] Xen).
        let (a, r) = of("race-tsmc-precopy");
        let (tsmc, xen) = (&r[0], &r[1]);
        let memory = mb(find("race-tsmc-precopy").unwrap().scenario().unwrap().vm.memory.0);
        assert_eq!(memory, 512.0);
        assert_eq!(a, Prediction::Choice(0), "TSMC finishes first, pre-copy's downtime over ten times");
        assert!(!xen.converged && xen.stop_reason.contains("3x memory"), "Xen stops at its cap: {}", xen.stop_reason);
        assert!(xen.downtime_s > 1.0, "a downtime of seconds: {}", xen.downtime_s);
        let live: Vec<_> = xen.per_round.iter().filter(|x| x.kind == livemig_core::context::RoundKind::Live).collect();
        assert!(
            live.windows(2).all(|w| w[1].pages_sent as f64 > 0.9 * w[0].pages_sent as f64),
            "each round nearly as much as the one before"
        );
        assert!(tsmc.downtime_s < 0.01, "a few milliseconds: {}", tsmc.downtime_s);
        assert!((1.9..2.1).contains(&(mb(tsmc.bytes_sent) / memory)), "about twice the memory: {}", mb(tsmc.bytes_sent) / memory);
        assert!((3.5..4.0).contains(&(mb(xen.bytes_sent) / memory)), "almost four times: {}", mb(xen.bytes_sent) / memory);
        assert!(tsmc.pages_sent <= 2 * (memory * MIB / 4096.0) as u64, "no page more than twice");
        assert!((0.4..0.6).contains(&(tsmc.total_time_s / xen.total_time_s)), "about half the time");
    }

    #[test]
    fn every_lesson_races_two_to_four_algorithms_that_verify_on_its_scenario() {
        for l in LESSONS {
            assert!(crate::race::LANES.contains(&l.race.len()), "{}: {:?}", l.id, l.race);
            assert!(l.race.contains(&l.algorithm), "{}: the race includes the lesson's own algorithm", l.id);
            let race = l.race_share(&ShareState::default(), false);
            assert_eq!(race.view, View::Race);
            assert_eq!(crate::race::racers(&race.compare), l.race.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(race.scenario().unwrap(), l.scenario().unwrap(), "{}: the race runs the lesson's scenario", l.id);
            assert_eq!(ShareState::from_query(&race.to_query()).unwrap(), race, "{}", l.id);
            assert!(l.race_share(&ShareState::default(), true).present);
            assert!(l.present_share(&ShareState::default()).present);
            let scenario = l.scenario().unwrap();
            for a in l.race {
                let r = livemig_core::simulate(&scenario, Some(a), TraceDetail::Summary).unwrap().report;
                assert!(r.verified, "{} ({a}): {}", l.id, r.stop_reason);
                // The race plays at page detail in the browser: keep every run under 4 GiB sent.
                assert!(r.bytes_sent < 4 << 30, "{} ({a}): {} bytes", l.id, r.bytes_sent);
            }
        }
        // The race lessons' runs are their race.
        for id in ["race-precopy-postcopy", "race-xen-qemu", "race-tsmc-precopy"] {
            let l = find(id).unwrap();
            let mut runs: Vec<&str> = std::iter::once(l.algorithm).chain(l.variants.iter().map(|v| v.algorithm)).collect();
            runs.sort();
            let mut race = l.race.to_vec();
            race.sort();
            assert_eq!(runs, race, "{id}");
            assert!(l.variants.iter().all(|v| v.overrides.is_empty()), "{id}");
        }
    }

    #[test]
    fn predictions_are_read_with_or_without_the_unit() {
        assert_eq!(parse_number(" 8.5 s", "s"), Ok(8.5));
        assert_eq!(parse_number("1,200", "MiB"), Ok(1200.0));
        assert!(parse_number("soon", "s").unwrap_err().contains("not a number"));
        assert!(parse_number("-3", "s").is_err());
    }
}
