//! Property tests of the simulator's and the algorithms' invariants over random scenarios
//! (docs/algorithms/model.md), plus the cross-check of the simulator against the geometric pre-copy
//! model (docs/algorithms/analytical-model.md).
//!
//! Every property runs every entry of [`registry()`], so an algorithm added to the registry is
//! covered without touching this file. Scenarios are small (64 to 2048 pages) and their timeouts
//! are a few times the time one full copy of memory takes, so every run is short. The
//! algorithms' boolean and choice parameters are drawn at random too, and their numeric
//! parameters are their default, half or twice it (integers also their minimum).
//!
//! `PROPTEST_CASES=5000 cargo test -p livemig-core --test invariants` runs a longer soak.

use livemig_core::algorithms::{registry, AlgorithmInfo, Family, ParamKind};
use livemig_core::bitmap::PageBitmap;
use livemig_core::content::ContentMix;
use livemig_core::context::{Channel, ContextError, DirtyLogging, MigrationContext, Outcome, RoundKind};
use livemig_core::model::GeometricModel;
use livemig_core::rng::mix64;
use livemig_core::scenario::{AccessPattern, HostSpec, LinkSpec, MigrationSpec, OnTimeout, PhaseSpec, VmSpec, WorkloadSpec};
use livemig_core::sim::{SimContext, SimOptions};
use livemig_core::trace::{DataKind, Event, TraceDetail};
use livemig_core::units::{Bandwidth, ByteSize, PageRate, Seconds};
use livemig_core::{simulate, Run, Scenario};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

const CASES: u32 = 48;

/// Proptest settings: [`CASES`] cases unless `PROPTEST_CASES` asks for more (a soak run);
/// failures are saved beside this file (`invariants.proptest-regressions`) and replayed first on
/// the next run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    ProptestConfig {
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------------------------
// Random scenarios
// ---------------------------------------------------------------------------------------------

/// One workload phase, with rates given as λ = rate × wire page size / bandwidth.
#[derive(Debug, Clone)]
struct PhaseRecipe {
    pattern: AccessPattern,
    lambda_write: f64,
    lambda_read: f64,
    /// Working set as fractions of the used memory: (size, offset).
    ws: (f64, f64),
    hot_fraction: f64,
    hot_probability: f64,
    /// Duration in full-copy times.
    duration: f64,
}

fn arb_pattern() -> impl Strategy<Value = AccessPattern> {
    prop_oneof![
        1 => Just(AccessPattern::Idle),
        3 => Just(AccessPattern::Uniform),
        3 => Just(AccessPattern::HotCold),
        3 => Just(AccessPattern::Sequential),
    ]
}

fn arb_phase() -> impl Strategy<Value = PhaseRecipe> {
    // A third of the working sets are all of the used memory, so a demand-paging guest can
    // touch every page.
    let ws = prop_oneof![1 => Just((1.0, 0.0)), 2 => (0.01..=1.0f64, 0.0..=1.0f64)];
    (arb_pattern(), 0.0..1.5f64, 0.0..2.0f64, ws, 0.01..=1.0f64, 0.0..=1.0f64, 0.05..3.0f64).prop_map(
        |(pattern, lambda_write, lambda_read, ws, hot_fraction, hot_probability, duration)| PhaseRecipe {
            pattern,
            lambda_write,
            lambda_read,
            ws,
            hot_fraction,
            hot_probability,
            duration,
        },
    )
}

/// Everything a random scenario is made from.
#[derive(Debug, Clone)]
struct Recipe {
    pages: u64,
    page_size: u64,
    /// Free memory at the top, then reserved memory at the bottom, each in quarters of memory.
    unused_quarters: (f64, f64),
    state_size: u64,
    resume_overhead: f64,
    content: [f64; 4],
    seed: u64,
    bandwidth: f64,
    latency: f64,
    page_header: u64,
    priority_channel: bool,
    send_buffer: u64,
    /// `host.send_rate`, `host.zero_scan_rate`, `host.send_threads`.
    host: (Option<f64>, Option<f64>, u32),
    main: PhaseRecipe,
    write_size_fraction: f64,
    phases: Vec<PhaseRecipe>,
    repeat: bool,
    timeout_factor: f64,
    on_timeout: OnTimeout,
    param_seed: u64,
}

fn arb_recipe() -> impl Strategy<Value = Recipe> {
    let vm = (
        64u64..=2048,
        prop_oneof![Just(512u64), Just(1024), Just(4096)],
        (prop_oneof![1 => Just(0.0), 1 => 0.0..=1.0f64], prop_oneof![2 => Just(0.0), 1 => 0.0..=1.0f64]),
        0u64..=(128 << 10),
        prop_oneof![Just(0.0), 0.0..0.005f64],
        [0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64],
        any::<u64>(),
    );
    let link = (
        (1e6f64.ln()..1.25e9f64.ln()).prop_map(f64::exp),
        prop_oneof![Just(0.0), 0.0..0.005f64],
        0u64..=16,
        any::<bool>(),
        0u64..=(256 << 10),
    );
    let work =
        (arb_phase(), 0.0..=1.0f64, prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(arb_phase(), 2..=3)], any::<bool>());
    let mig = (3.0..20.0f64, prop_oneof![Just(OnTimeout::Cancel), Just(OnTimeout::ForceStop)], any::<u64>());
    let rate = || prop_oneof![2 => Just(None), 1 => (1e6f64.ln()..1e10f64.ln()).prop_map(|l| Some(l.exp()))];
    let host = (rate(), rate(), 1u32..=4);
    (vm, link, work, mig, host).prop_map(
        |(
            (pages, page_size, unused_quarters, state_size, resume_overhead, content, seed),
            (bandwidth, latency, page_header, priority_channel, send_buffer),
            (main, write_size_fraction, phases, repeat),
            (timeout_factor, on_timeout, param_seed),
            host,
        )| Recipe {
            pages,
            page_size,
            unused_quarters,
            state_size,
            resume_overhead,
            content,
            seed,
            bandwidth,
            latency,
            page_header,
            priority_channel,
            send_buffer,
            host,
            main,
            write_size_fraction,
            phases,
            repeat,
            timeout_factor,
            on_timeout,
            param_seed,
        },
    )
}

impl Recipe {
    fn scenario(&self) -> Scenario {
        let ps = self.page_size;
        let free_pages = (self.unused_quarters.0 * (self.pages / 4) as f64) as u64;
        let reserved_pages = (self.unused_quarters.1 * (self.pages / 4) as f64) as u64;
        let used = self.pages - free_pages - reserved_pages;
        let wire_page = (ps + self.page_header) as f64;
        // The sender's pace: the link, or the sending threads where they are slower.
        let pace = self.host.0.map_or(self.bandwidth, |r| self.bandwidth.min(r * f64::from(self.host.2)));
        let pages_per_s = pace / wire_page;
        let full_copy = self.pages as f64 / pages_per_s;
        let rates = |p: &PhaseRecipe| {
            if p.pattern == AccessPattern::Idle {
                (PageRate(0.0), PageRate(0.0))
            } else {
                (PageRate(p.lambda_write * pages_per_s), PageRate(p.lambda_read * pages_per_s))
            }
        };
        let working_set = |p: &PhaseRecipe| {
            let len = ((p.ws.0 * used as f64).round() as u64).clamp(1, used);
            let off = ((p.ws.1 * (used - len) as f64).round() as u64).min(used - len);
            (ByteSize(len * ps), ByteSize(off * ps))
        };
        let (write_rate, read_rate) = rates(&self.main);
        let (ws, ws_off) = working_set(&self.main);
        let n_phases = self.phases.len();
        let phases = self
            .phases
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (w, r) = rates(p);
                let (ws, off) = working_set(p);
                let last_forever = !self.repeat && i + 1 == n_phases;
                PhaseSpec {
                    name: format!("p{i}"),
                    duration: (!last_forever).then_some(Seconds((p.duration * full_copy).max(1e-5))),
                    tag: None,
                    pattern: Some(p.pattern),
                    write_rate: Some(w),
                    read_rate: Some(r),
                    working_set: Some(ws),
                    working_set_offset: Some(off),
                    hot_fraction: Some(p.hot_fraction),
                    hot_probability: Some(p.hot_probability),
                }
            })
            .collect();
        let sum: f64 = self.content.iter().sum();
        let content = if sum < 1e-3 {
            ContentMix::default()
        } else {
            let [zero, text, structured, random] = self.content.map(|c| c / sum);
            ContentMix { zero, text, structured, random }
        };
        let mut s = Scenario {
            name: "random".into(),
            description: String::new(),
            seed: self.seed,
            vm: VmSpec {
                memory: ByteSize(self.pages * ps),
                page_size: ByteSize(ps),
                free_memory: ByteSize(free_pages * ps),
                reserved_memory: ByteSize(reserved_pages * ps),
                state_size: ByteSize(self.state_size),
                resume_overhead: Seconds(self.resume_overhead),
                content,
            },
            workload: WorkloadSpec {
                pattern: self.main.pattern,
                write_rate,
                read_rate,
                working_set: Some(ws),
                working_set_offset: ws_off,
                hot_fraction: self.main.hot_fraction,
                hot_probability: self.main.hot_probability,
                write_size: ByteSize(((self.write_size_fraction * ps as f64) as u64).clamp(1, ps)),
                phases,
                repeat: self.repeat,
            },
            link: LinkSpec {
                bandwidth: Bandwidth(self.bandwidth),
                latency: Seconds(self.latency),
                page_header: ByteSize(self.page_header),
                priority_channel: self.priority_channel,
                send_buffer: ByteSize(self.send_buffer),
            },
            host: HostSpec {
                send_rate: self.host.0.map(Bandwidth),
                zero_scan_rate: self.host.1.map(Bandwidth),
                send_threads: self.host.2,
                cores: None,
                busy_vcpus: 1,
                ..HostSpec::default()
            },
            migration: MigrationSpec {
                algorithm: registry()[0].name.to_string(),
                // A few full copies, plus the fixed costs, so the guest gets to run on the
                // destination before the timeout.
                timeout: Seconds(
                    (self.timeout_factor * full_copy
                        + self.resume_overhead
                        + (self.state_size + self.send_buffer) as f64 / pace
                        + 4.0 * self.latency)
                        .max(2e-3),
                ),
                on_timeout: self.on_timeout,
            },
            params: BTreeMap::new(),
        };
        s.params = random_params(self.param_seed);
        s.validate().unwrap_or_else(|e| panic!("the generator made an invalid scenario: {e}\n{}", s.to_toml()));
        s
    }
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    arb_recipe().prop_map(|r| r.scenario())
}

/// Random values for every algorithm's boolean and choice parameters, and default, half or
/// double for its numeric ones (integers also their minimum). Each `[params.<section>]` is filled once, from the
/// first registry entry that reads it; variants' fixed values override it when they are built.
fn random_params(seed: u64) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for info in registry() {
        if out.contains_key(info.section) {
            continue;
        }
        let section_hash = info.section.bytes().fold(0u64, |h, b| mix64(h ^ b as u64));
        let mut table = BTreeMap::new();
        for (i, spec) in info.params.iter().enumerate() {
            let h = mix64(seed ^ mix64(i as u64 ^ section_hash));
            let pick = |n: u64| (h % n) as usize;
            // Numbers stay within 2x of their defaults: extreme rates or sizes would only make
            // runs slow (a 1 kB/s rate limit sends one batch in hours of simulated writes).
            let scaled = |default: f64, min: f64, max: f64| match pick(3) {
                0 => default,
                1 => (default * 0.5).clamp(min, max),
                _ => (default * 2.0).clamp(min, max),
            };
            let v = match spec.kind {
                ParamKind::Bool => Value::Bool(pick(2) == 1),
                ParamKind::Choice(words) => Value::String(words[pick(words.len() as u64)].to_string()),
                ParamKind::Int { min, max } => {
                    let d: i64 = spec.default.parse().expect("integer default");
                    let x = match pick(4) {
                        0 => d,
                        1 => min,
                        2 => (d / 2).clamp(min, max),
                        _ => d.saturating_mul(2).clamp(min, max),
                    };
                    Value::from(x)
                }
                ParamKind::Float { min, max } => {
                    let d: f64 = spec.default.parse().expect("number default");
                    Value::from(scaled(d, min, max))
                }
                ParamKind::Duration { min, max } => {
                    let d: Seconds = spec.default.parse().expect("duration default");
                    Value::from(scaled(d.0, min, max))
                }
                ParamKind::Bandwidth { min, max } => {
                    let d: Bandwidth = spec.default.parse().expect("bandwidth default");
                    Value::from(scaled(d.0, min, max))
                }
                ParamKind::Size { min, max } => {
                    let d: ByteSize = spec.default.parse().expect("size default");
                    Value::from((scaled(d.0 as f64, min as f64, max as f64) as u64).clamp(min, max))
                }
            };
            table.insert(spec.name.to_string(), v);
        }
        out.insert(info.section.to_string(), table);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn run(s: &Scenario, info: &AlgorithmInfo, detail: TraceDetail) -> Run {
    simulate(s, Some(info.name), detail).unwrap_or_else(|e| panic!("{} failed: {e}\n{}", info.name, s.to_toml()))
}

fn case(s: &Scenario, info: &AlgorithmInfo) -> String {
    format!("algorithm {} on scenario:\n{}", info.name, s.to_toml())
}

fn resumed_at(run: &Run) -> Option<usize> {
    run.trace.events.iter().position(|e| matches!(e.event, Event::DestinationResumed))
}

fn free_page_list_sent(run: &Run) -> bool {
    run.trace.events.iter().any(|e| matches!(e.event, Event::DataSent { what: DataKind::FreePageList, .. }))
}

// ---------------------------------------------------------------------------------------------
// 1. Destination memory equals source memory at the end
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// A run that completed (the VM runs on the destination with every page present) has the
    /// guest's memory there page by page; a converged run completed; a run that never resumed
    /// on the destination is neither completed nor verified. Pre-copy resumes only with all
    /// memory there, and resumes unless the timeout cancelled the migration.
    #[test]
    fn completed_runs_are_verified(s in arb_scenario()) {
        for info in registry() {
            let r = run(&s, info, TraceDetail::Summary);
            let rep = &r.report;
            let resumed = resumed_at(&r).is_some();
            prop_assert!(!rep.completed || rep.verified, "completed but not verified: {}", case(&s, info));
            if rep.converged {
                prop_assert!(rep.completed && rep.verified, "converged but completed={} verified={}: {}", rep.completed, rep.verified, case(&s, info));
            }
            if !resumed {
                prop_assert!(!rep.completed && !rep.verified, "never resumed, yet completed={} verified={}: {}", rep.completed, rep.verified, case(&s, info));
            }
            if info.family == Family::PreCopy {
                if resumed {
                    prop_assert!(rep.completed && rep.verified, "pre-copy resumed with completed={} verified={} ({}): {}", rep.completed, rep.verified, rep.stop_reason, case(&s, info));
                } else {
                    prop_assert!(s.migration.on_timeout == OnTimeout::Cancel && !rep.converged,
                        "pre-copy never resumed without a cancelling timeout ({}): {}", rep.stop_reason, case(&s, info));
                }
            }
            if info.family == Family::Hybrid && !resumed {
                prop_assert!(s.migration.on_timeout == OnTimeout::Cancel && !rep.converged,
                    "hybrid never resumed without a cancelling timeout ({}): {}", rep.stop_reason, case(&s, info));
            }
            if info.family == Family::PostCopy {
                prop_assert!(resumed, "post-copy never resumed: {}", case(&s, info));
                prop_assert_eq!(rep.converged, rep.completed, "post-copy: converged (every page sent) must mean completed: {}", case(&s, info));
            }
        }
    }
}

/// A deliberately broken pre-copy: one live copy of memory, then pause and resume without
/// resending what the guest wrote meanwhile. Every page is present on the destination, so only
/// a real page-by-page comparison can notice the stale pages.
struct ForgetsDirtyPages;

impl livemig_core::algorithms::Algorithm for ForgetsDirtyPages {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        self.run_first_part(ctx)?;
        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        ctx.send_state(&paused)?;
        ctx.resume_destination(paused)?;
        ctx.end_round();
        Ok(Outcome::converged("sent everything once"))
    }
}

/// The same algorithm done right: it also sends the dirty pages while paused.
struct SendsDirtyPages;

impl livemig_core::algorithms::Algorithm for SendsDirtyPages {
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let logging = ForgetsDirtyPages.run_first_part(ctx)?;
        ctx.begin_round(RoundKind::StopAndCopy);
        let paused = ctx.pause_source()?;
        let dirty: Vec<u64> = ctx.fetch_dirty(&logging)?.iter().collect();
        if !dirty.is_empty() {
            ctx.send_pages(&dirty, Channel::Bulk)?;
        }
        ctx.send_state(&paused)?;
        ctx.resume_destination(paused)?;
        ctx.end_round();
        Ok(Outcome::converged("sent everything, then the dirty pages"))
    }
}

impl ForgetsDirtyPages {
    fn run_first_part(&self, ctx: &mut dyn MigrationContext) -> Result<DirtyLogging, ContextError> {
        let logging = ctx.start_dirty_log()?;
        ctx.begin_round(RoundKind::Live);
        let all: Vec<u64> = (0..ctx.page_count()).collect();
        for chunk in all.chunks(64) {
            ctx.send_pages(chunk, Channel::Bulk)?;
        }
        Ok(logging)
    }
}

fn run_custom(s: &Scenario, mut algorithm: impl livemig_core::algorithms::Algorithm) -> livemig_core::Report {
    let mut ctx = SimContext::new(s, SimOptions { detail: TraceDetail::Summary, ..Default::default() });
    let outcome = algorithm.run(&mut ctx).expect("the context accepts the algorithm's calls");
    let trace = ctx.finish("custom", Default::default(), &outcome).expect("no cap");
    livemig_core::Report::from_trace(&trace)
}

/// `verified` is computed, not assumed: it is false when the destination has every page but
/// some are stale, when a pre-copy is cancelled at its timeout, and when demand-only post-copy
/// times out with pages the guest never touched.
#[test]
fn verified_is_computed_not_assumed() {
    let busy = Scenario::from_toml_str(
        r#"
        [vm]
        memory = "4 MiB"
        [workload]
        pattern = "uniform"
        write_rate = "20000 pages/s"
        [link]
        bandwidth = "100 Mbit/s"
        [migration]
        timeout = "2 s"
        on_timeout = "cancel"
        "#,
    )
    .unwrap();

    // Every page present on the destination, but some of them stale.
    let broken = run_custom(&busy, ForgetsDirtyPages);
    assert!(broken.completed, "all pages were sent and the destination resumed");
    assert!(!broken.verified, "the guest wrote pages after they were sent; the destination has stale copies");
    let right = run_custom(&busy, SendsDirtyPages);
    assert!(right.completed && right.verified, "with the dirty pages resent, memory matches: {right:?}");

    // QEMU pre-copy cannot converge (λ ≈ 6.6) and is cancelled at its timeout.
    let qemu = simulate(&busy, Some("precopy-qemu"), TraceDetail::Summary).unwrap().report;
    assert!(!qemu.converged && !qemu.completed && !qemu.verified, "{qemu:?}");
    assert!(qemu.stop_reason.contains("cancelled"), "{}", qemu.stop_reason);
    // The same migration forced into stop-and-copy does end verified.
    let forced = busy.with_overrides(&["migration.on_timeout=\"force-stop\"".into()]).unwrap();
    let qemu = simulate(&forced, Some("precopy-qemu"), TraceDetail::Summary).unwrap().report;
    assert!(!qemu.converged && qemu.completed && qemu.verified, "{qemu:?}");

    // Demand paging with a guest that touches only the first half of memory never completes.
    let half = busy.with_overrides(&["workload.working_set=\"2 MiB\"".into(), "workload.read_rate=\"20000 pages/s\"".into()]).unwrap();
    let demand = simulate(&half, Some("postcopy-demand"), TraceDetail::Summary).unwrap().report;
    assert!(!demand.completed && !demand.verified && !demand.converged, "{demand:?}");
    assert!(demand.pages_sent > 0 && demand.pages_sent <= 512, "only touched pages move: {}", demand.pages_sent);
}

/// Regression: QEMU's policy measures bandwidth over 100 ms windows, so when a whole pass over
/// memory takes less than that its threshold is still 0; with nothing dirty it used to loop over
/// empty passes at a frozen clock until memory ran out. QEMU completes when nothing is pending.
#[test]
fn precopy_qemu_completes_an_idle_vm_faster_than_one_bandwidth_window() {
    let s = Scenario::from_toml_str("[vm]\nmemory = \"4 MiB\"\n[migration]\ntimeout = \"10 s\"").unwrap();
    let r = simulate(&s, Some("precopy-qemu"), TraceDetail::Summary).unwrap().report;
    assert!(r.converged && r.completed && r.verified, "{r:?}");
    assert_eq!(r.pages_sent, 1024, "one pass, nothing dirty");
    assert!(r.total_time_s < 0.1, "{}", r.total_time_s);
}

// ---------------------------------------------------------------------------------------------
// 2. Post-copy sends every page exactly once
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Every post-copy-family algorithm sends no page twice (across both channels), and when it
    /// completed it sent every page except the free ones it listed instead (self-ballooning:
    /// a `FreePageList` transfer stands for the free pages (`used_range().end..page_count`), which are then never
    /// sent).
    #[test]
    fn postcopy_sends_each_page_exactly_once(s in arb_scenario()) {
        let n = s.page_count();
        let used = s.used_range().end;
        for info in registry().iter().filter(|i| i.family == Family::PostCopy) {
            let r = run(&s, info, TraceDetail::Pages);
            let mut sent = PageBitmap::new(n);
            let mut transmissions = 0u64;
            for e in &r.trace.events {
                if let Event::PagesSent { pages, count, .. } = &e.event {
                    prop_assert_eq!(pages.iter().count() as u64, *count);
                    for p in pages.iter() {
                        prop_assert!(p < n, "page {} out of range: {}", p, case(&s, info));
                        prop_assert!(sent.set(p), "page {} sent twice (second time at t={}): {}", p, e.t, case(&s, info));
                        transmissions += 1;
                    }
                }
            }
            let listed_free = free_page_list_sent(&r);
            if listed_free {
                for p in used..n {
                    prop_assert!(!sent.get(p), "free page {} was listed and also sent: {}", p, case(&s, info));
                }
            }
            let expected = if listed_free { used } else { n };
            if r.report.completed {
                prop_assert_eq!(sent.count(), expected, "completed without sending every page once: {}", case(&s, info));
            } else {
                prop_assert!(sent.count() < expected, "every page was sent but the run is not complete: {}", case(&s, info));
            }
            prop_assert_eq!(r.report.pages_sent, transmissions);
            prop_assert_eq!(r.report.duplicate_pages, 0);
            prop_assert_eq!(r.report.dropped_pages, 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2b. TSMC sends every page at most twice; hybrid sends every page exactly once
// ---------------------------------------------------------------------------------------------

/// `s` with some parameters of `[params.<section>]` replaced.
fn with_params(s: &Scenario, section: &str, params: &[(&str, Value)]) -> Scenario {
    let mut t = s.clone();
    let table = t.params.entry(section.to_string()).or_default();
    for (name, value) in params {
        table.insert(name.to_string(), value.clone());
    }
    t
}

/// Bytes per second whole pages go at: the link's bandwidth, or the source's sending threads
/// where they are slower (the generated hosts have no shared CPUs, so this holds paused or not).
fn pace(s: &Scenario) -> f64 {
    let link = s.link.bandwidth.0;
    s.host.send_pace(f64::from(s.host.busy_vcpus)).map_or(link, |pace| link.min(pace))
}

fn registry_entry(name: &str) -> &'static AlgorithmInfo {
    registry().iter().find(|i| i.name == name).unwrap_or_else(|| panic!("{name} is not registered"))
}

fn paused_at(run: &Run) -> Option<usize> {
    run.trace.events.iter().position(|e| matches!(e.event, Event::SourcePaused))
}

fn bitmap_of(pages: &livemig_core::trace::PageRuns, n: u64) -> PageBitmap {
    let mut b = PageBitmap::new(n);
    pages.iter().for_each(|p| {
        b.set(p);
    });
    b
}

proptest! {
    #![proptest_config(config())]

    /// TSMC (docs/algorithms/model.md, invariant (d); docs/algorithms/tsmc.md), for both readings of which stage-1 writes count:
    /// stage 1 sends a prefix of memory in address order (all of it unless the timeout cut it),
    /// each page once; the downtime carries the dirty bitmap S (N/8 bytes) and no page; S holds
    /// every page stage 1 did not reach; stage 3 sends only pages of S, each once; so no page
    /// is sent more than twice, and a completed run sent `copied + |S|` pages (N + |S| when
    /// stage 1 finished), with pages of S sent again counted as duplicates and none dropped.
    /// The guest runs the same way in stage 1 under both readings, so `after-sent`'s S is a
    /// subset of `all-writes`'s.
    #[test]
    fn tsmc_sends_each_page_at_most_twice(s in arb_scenario()) {
        let info = registry_entry("tsmc");
        let n = s.page_count();
        let mut sets = Vec::new();
        for record in ["all-writes", "after-sent"] {
            let t = with_params(&s, "tsmc", &[("record", Value::from(record))]);
            let r = run(&t, info, TraceDetail::Pages);
            let ctx = || format!("record = {record}, {}", case(&t, info));
            let (paused, resumed) = (paused_at(&r), resumed_at(&r));
            let (mut stage1, mut stage3) = (PageBitmap::new(n), PageBitmap::new(n));
            let mut dirty: Option<PageBitmap> = None;
            for (i, e) in r.trace.events.iter().enumerate() {
                let before_pause = paused.is_none_or(|k| i < k);
                let after_resume = resumed.is_some_and(|k| i > k);
                match &e.event {
                    Event::PagesSent { pages, .. } => {
                        for p in pages.iter() {
                            if before_pause {
                                prop_assert!(stage1.set(p), "page {} sent twice in stage 1: {}", p, ctx());
                            } else if after_resume {
                                prop_assert!(dirty.as_ref().is_some_and(|d| d.get(p)), "page {} sent in stage 3 but not in S: {}", p, ctx());
                                prop_assert!(stage3.set(p), "page {} sent twice in stage 3: {}", p, ctx());
                            } else {
                                prop_assert!(false, "page {} sent during the downtime: {}", p, ctx());
                            }
                        }
                    }
                    Event::DataSent { what: DataKind::DirtyBitmap, pages, bytes, .. } => {
                        prop_assert!(!before_pause && !after_resume && dirty.is_none(), "one bitmap, in the downtime: {}", ctx());
                        prop_assert_eq!(*bytes, n.div_ceil(8));
                        dirty = Some(bitmap_of(pages, n));
                    }
                    _ => {}
                }
            }
            let copied = stage1.count();
            prop_assert_eq!(stage1.next_unset(0).unwrap_or(n), copied, "stage 1 is not a prefix of memory: {}", ctx());
            let rep = &r.report;
            prop_assert_eq!(rep.dropped_pages, 0);
            let Some(dirty) = dirty else {
                prop_assert!(resumed.is_none() && !rep.completed, "resumed without a dirty bitmap: {}", ctx());
                prop_assert!(stage3.count() == 0);
                continue;
            };
            prop_assert!(resumed.is_some(), "bitmap sent but never resumed: {}", ctx());
            prop_assert!((copied..n).all(|p| dirty.get(p)), "pages stage 1 never sent are not all in S: {}", ctx());
            let twice = (0..n).filter(|&p| stage1.get(p) && stage3.get(p)).count() as u64;
            prop_assert_eq!(rep.duplicate_pages, twice, "{}", ctx());
            prop_assert_eq!(rep.pages_sent, copied + stage3.count(), "{}", ctx());
            if rep.completed {
                prop_assert_eq!(stage3.count(), dirty.count(), "completed without sending all of S: {}", ctx());
                prop_assert_eq!(rep.pages_sent, copied + dirty.count());
            } else {
                prop_assert!(stage3.count() < dirty.count(), "all of S sent but not completed: {}", ctx());
            }
            if rep.converged {
                prop_assert_eq!(rep.pages_sent, n + dirty.count(), "converged: N + |S| pages: {}", ctx());
            }
            sets.push((copied, dirty));
        }
        if let [(c1, all), (c2, after)] = &sets[..] {
            prop_assert_eq!(c1, c2, "stage 1 went differently under the two readings: {}", case(&s, info));
            if *c1 == n {
                let mut extra = after.clone();
                extra.subtract(all);
                prop_assert_eq!(extra.count(), 0, "after-sent marked pages all-writes did not: {}", case(&s, info));
            }
        }
    }

    /// Hybrid (docs/algorithms/hybrid.md, docs/algorithms/analytical-model.md): no page is sent twice (downtime copy, pushes and fault
    /// windows together); the pages copied in the downtime are the pages written during the
    /// working-set window (less the free pages it listed, capped at `ws_max_pages`); the
    /// downtime is exactly `(working set + state [+ free list]) / B` plus the latency and the
    /// resume overhead; a completed run sent every page that was not listed free. The window is
    /// drawn relative to one full copy of memory (the scenarios' timeouts are a few full copies),
    /// so that it ends before the timeout in most cases.
    #[test]
    fn hybrid_sends_each_page_exactly_once(s in arb_scenario(), window in 0.0..1.5f64, cap in prop_oneof![Just(0.0), 0.0..1.0f64]) {
        let info = registry_entry("hybrid");
        let n = s.page_count();
        let used = s.used_range().end;
        let full_copy = n as f64 * (s.vm.page_size.0 + s.link.page_header.0) as f64 / pace(&s);
        let ws_max = (cap * n as f64) as u64;
        let t = with_params(&s, "hybrid", &[("ws_window", Value::from(window * full_copy)), ("ws_max_pages", Value::from(ws_max))]);
        let r = run(&t, info, TraceDetail::Pages);
        let ctx = || case(&t, info);
        let (paused, resumed) = (paused_at(&r), resumed_at(&r));
        let (mut sent, mut ws, mut written) = (PageBitmap::new(n), PageBitmap::new(n), PageBitmap::new(n));
        let (mut transmissions, mut downtime_bytes) = (0u64, 0u64);
        for (i, e) in r.trace.events.iter().enumerate() {
            let before_pause = paused.is_none_or(|k| i < k);
            let in_downtime = !before_pause && resumed.is_none_or(|k| i < k);
            match &e.event {
                Event::PagesDirtied { pages, .. } => {
                    prop_assert!(before_pause, "pages dirtied on the source after the pause: {}", ctx());
                    pages.iter().for_each(|p| { written.set(p); });
                }
                Event::PagesSent { pages, wire_bytes, .. } => {
                    prop_assert!(!before_pause, "hybrid sent pages before the pause: {}", ctx());
                    if in_downtime {
                        downtime_bytes += wire_bytes;
                    }
                    for p in pages.iter() {
                        prop_assert!(sent.set(p), "page {} sent twice (second time at t={}): {}", p, e.t, ctx());
                        if in_downtime {
                            ws.set(p);
                        }
                        transmissions += 1;
                    }
                }
                Event::DataSent { bytes, .. } if in_downtime => downtime_bytes += bytes,
                _ => {}
            }
        }
        let rep = &r.report;
        let listed_free = free_page_list_sent(&r);
        let mut candidates = written.clone();
        if listed_free {
            for p in used..n {
                prop_assert!(!sent.get(p), "free page {} was listed and also sent: {}", p, ctx());
                candidates.clear(p);
            }
        }
        if resumed.is_some() {
            let mut outside = ws.clone();
            outside.subtract(&candidates);
            prop_assert_eq!(outside.count(), 0, "downtime pages not written in the window: {}", ctx());
            let expected = if ws_max == 0 { candidates.count() } else { candidates.count().min(ws_max) };
            prop_assert_eq!(ws.count(), expected, "working set of {} pages, {} written, cap {}: {}", ws.count(), candidates.count(), ws_max, ctx());
            let downtime = downtime_bytes as f64 / pace(&s) + s.link.latency.0 + s.vm.resume_overhead.0;
            prop_assert!((rep.downtime_s - downtime).abs() <= 1e-9 * downtime.max(1.0),
                "downtime {} but (WS + state)/B + latency + resume = {}: {}", rep.downtime_s, downtime, ctx());
        } else {
            prop_assert!(sent.count() == 0 && !rep.completed, "cancelled but pages were sent: {}", ctx());
        }
        let expected = if listed_free { used } else { n };
        if rep.completed {
            prop_assert_eq!(sent.count(), expected, "completed without sending every page once: {}", ctx());
        } else {
            prop_assert!(sent.count() < expected, "every page was sent but the run is not complete: {}", ctx());
        }
        prop_assert_eq!(rep.pages_sent, transmissions);
        prop_assert_eq!(rep.duplicate_pages, 0);
        prop_assert_eq!(rep.dropped_pages, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. No destination access reads an absent page
// ---------------------------------------------------------------------------------------------

/// Replays a trace recorded at [`TraceDetail::Accesses`], tracking when each page becomes present
/// on the destination, and checks every destination access and fault against it.
///
/// Presence follows the simulator's documented rules (sim.rs module docs): pages sent before the
/// destination resumed are applied at once; after it resumed, a page becomes present when it
/// arrives (the `arrive` time of its `PagesSent` event) and a later arrival of a page already
/// there is dropped (`PagesDropped`, at that arrival's time); a free-page list makes the free
/// pages (`used_range().end..page_count`) present at once; a dirty bitmap sent before resume (TSMC)
/// makes the pages it names (the `pages` of its `DataSent` event) absent again. An access at time
/// `t` sees every arrival at or before `t`.
fn check_destination_accesses(r: &Run) -> Result<(), String> {
    let trace = &r.trace;
    let n = trace.page_count;
    let used = trace.scenario.used_range().end;
    let resumed = resumed_at(r);
    const NEVER: f64 = f64::INFINITY;
    // Earliest time each page is present on the destination.
    let mut present_from = vec![NEVER; n as usize];
    let mut pre_resume = vec![false; n as usize];
    // Post-resume arrival times of each page.
    let mut arrivals: HashMap<u64, Vec<f64>> = HashMap::new();
    let mut drops: HashMap<u64, Vec<f64>> = HashMap::new();
    for (i, e) in trace.events.iter().enumerate() {
        let before_resume = resumed.is_none_or(|k| i < k);
        match &e.event {
            Event::PagesSent { pages, arrive, count, .. } => {
                if pages.iter().count() as u64 != *count {
                    return Err(format!("PagesSent at t={} lists {} pages for count {count}", e.t, pages.iter().count()));
                }
                for p in pages.iter() {
                    if before_resume {
                        pre_resume[p as usize] = true;
                        present_from[p as usize] = f64::NEG_INFINITY;
                    } else {
                        arrivals.entry(p).or_default().push(*arrive);
                        present_from[p as usize] = present_from[p as usize].min(*arrive);
                    }
                }
            }
            Event::DataSent { what: DataKind::FreePageList, .. } => {
                for p in used..n {
                    if present_from[p as usize] > e.t {
                        present_from[p as usize] = if before_resume { f64::NEG_INFINITY } else { e.t };
                        pre_resume[p as usize] |= before_resume;
                    }
                }
            }
            Event::DataSent { what: DataKind::DirtyBitmap, pages, bytes, .. } if before_resume => {
                // The destination forgets the pages the bitmap marks: absent until sent again.
                if *bytes != n.div_ceil(8) {
                    return Err(format!("dirty bitmap of {bytes} bytes at t={} for {n} pages", e.t));
                }
                for p in pages.iter() {
                    if p >= n {
                        return Err(format!("dirty bitmap at t={} names page {p} of {n}", e.t));
                    }
                    present_from[p as usize] = NEVER;
                    pre_resume[p as usize] = false;
                }
            }
            Event::PagesDropped { pages, .. } => {
                for p in pages.iter() {
                    drops.entry(p).or_default().push(e.t);
                }
            }
            _ => {}
        }
    }

    // Dropped arrivals are exactly the arrivals of pages that were already present.
    for p in 0..n {
        let mut a = arrivals.remove(&p).unwrap_or_default();
        a.sort_by(f64::total_cmp);
        if !pre_resume[p as usize] && !a.is_empty() {
            a.remove(0);
        }
        let mut d = drops.remove(&p).unwrap_or_default();
        d.sort_by(f64::total_cmp);
        if a != d {
            return Err(format!("page {p}: arrivals of a page already present at {a:?}, but PagesDropped at {d:?}"));
        }
    }

    // Walk the destination's accesses in time order.
    let mut blocked: Option<(u64, f64)> = None;
    let mut served: HashMap<u64, f64> = HashMap::new();
    let mut retry: Option<(u64, f64)> = None;
    for (i, e) in trace.events.iter().enumerate() {
        let on_destination = resumed.is_some_and(|k| i > k);
        match &e.event {
            Event::GuestAccess { page, .. } | Event::FaultRaised { page, .. } if !on_destination => {
                return Err(format!("destination access to page {page} at t={} before the destination resumed", e.t));
            }
            Event::GuestAccess { page, access } => {
                let from = present_from[*page as usize];
                if from > e.t {
                    return Err(format!("{access:?} of page {page} at t={} but it is present only from t={from}", e.t));
                }
                if let Some((bp, since)) = blocked {
                    return Err(format!("the guest accessed page {page} at t={} while blocked on page {bp} since t={since}", e.t));
                }
                if let Some((rp, at)) = retry.take() {
                    if rp != *page || e.t != at {
                        return Err(format!(
                            "after the fault on page {rp} was served at t={at}, the next access was page {page} at t={}",
                            e.t
                        ));
                    }
                }
            }
            Event::FaultRaised { page, .. } => {
                let from = present_from[*page as usize];
                if from <= e.t {
                    return Err(format!("fault on page {page} at t={} but it is present from t={from}", e.t));
                }
                if let Some((bp, since)) = blocked {
                    return Err(format!("fault on page {page} at t={} while blocked on page {bp} since t={since}", e.t));
                }
                if retry.is_some() {
                    return Err(format!("fault on page {page} at t={} before the served access was retried", e.t));
                }
                blocked = Some((*page, e.t));
            }
            Event::FaultServed { page, stall } => {
                let Some((bp, since)) = blocked.take() else {
                    return Err(format!("FaultServed for page {page} at t={} without a fault", e.t));
                };
                if bp != *page {
                    return Err(format!("FaultServed for page {page} at t={} while blocked on page {bp}", e.t));
                }
                if present_from[*page as usize] != e.t {
                    return Err(format!(
                        "fault on page {page} served at t={} but the page arrives at t={}",
                        e.t, present_from[*page as usize]
                    ));
                }
                if ((e.t - since) - stall).abs() > 1e-9 * e.t.max(1.0) {
                    return Err(format!("page {page}: stall {stall} but blocked from t={since} to t={}", e.t));
                }
                served.insert(*page, e.t);
                retry = Some((*page, e.t));
            }
            _ => {}
        }
    }

    // `completed` agrees with the replay.
    let all_present = present_from.iter().all(|&t| t < NEVER);
    if r.report.completed != (resumed.is_some() && all_present) {
        return Err(format!(
            "report.completed = {} but the replay says resumed = {}, every page present = {all_present}",
            r.report.completed,
            resumed.is_some()
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// No destination access reads an absent page, and every fault is on an absent page
    /// (docs/algorithms/model.md, invariant (a)), for every algorithm; see [`check_destination_accesses`].
    #[test]
    fn destination_never_reads_an_absent_page(s in arb_scenario()) {
        for info in registry() {
            let r = run(&s, info, TraceDetail::Accesses);
            if let Err(e) = check_destination_accesses(&r) {
                return Err(TestCaseError::fail(format!("{e}\n{}", case(&s, info))));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Report totals are the sums of the rounds
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// `pages_sent` and `bytes_sent` equal the sums of the per-round values; rounds are numbered
    /// 1, 2, ... and do not overlap; every transmission happens inside a round; and the totals
    /// equal the sums over the trace's `PagesSent` and `DataSent` events.
    #[test]
    fn report_totals_are_sums_of_rounds(s in arb_scenario()) {
        for info in registry() {
            let r = run(&s, info, TraceDetail::Pages);
            let rep = &r.report;
            let sum_pages: u64 = rep.per_round.iter().map(|x| x.pages_sent).sum();
            let sum_bytes: u64 = rep.per_round.iter().map(|x| x.bytes_sent).sum();
            prop_assert_eq!(rep.pages_sent, sum_pages, "{}", case(&s, info));
            prop_assert_eq!(rep.bytes_sent, sum_bytes, "{}", case(&s, info));
            prop_assert_eq!(rep.rounds as usize, rep.per_round.len());
            for (i, round) in rep.per_round.iter().enumerate() {
                prop_assert_eq!(round.round as usize, i + 1);
                prop_assert!(round.start_s <= round.end_s, "round {} ends before it starts: {}", i + 1, case(&s, info));
                if i > 0 {
                    prop_assert!(rep.per_round[i - 1].end_s <= round.start_s, "rounds {} and {} overlap: {}", i, i + 1, case(&s, info));
                }
            }
            let (mut open, mut pages, mut wire, mut payload) = (false, 0u64, 0u64, 0u64);
            for e in &r.trace.events {
                match &e.event {
                    Event::RoundStarted { .. } => { prop_assert!(!open, "a round starts inside another: {}", case(&s, info)); open = true; }
                    Event::RoundEnded { .. } => { prop_assert!(open, "a round ends that was not open: {}", case(&s, info)); open = false; }
                    Event::PagesSent { count, wire_bytes, payload_bytes, .. } => {
                        prop_assert!(open, "pages sent outside a round at t={}: {}", e.t, case(&s, info));
                        pages += count;
                        wire += wire_bytes;
                        payload += payload_bytes;
                    }
                    Event::DataSent { bytes, .. } => {
                        prop_assert!(open, "data sent outside a round at t={}: {}", e.t, case(&s, info));
                        wire += bytes;
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(rep.pages_sent, pages);
            prop_assert_eq!(rep.bytes_sent, wire);
            prop_assert_eq!(rep.payload_bytes, payload);
            prop_assert!(rep.bytes_sent >= rep.payload_bytes);
            let t = rep.preparation_time_s + rep.downtime_s + rep.resume_time_s;
            prop_assert!((t - rep.total_time_s).abs() <= 1e-9 * rep.total_time_s.max(1.0),
                "preparation + downtime + resume = {} but total = {}: {}", t, rep.total_time_s, case(&s, info));
        }
    }

    /// How much a trace records does not change what happens: the report is the same at every
    /// detail level.
    #[test]
    fn report_does_not_depend_on_trace_detail(s in arb_scenario()) {
        for info in registry() {
            let summary = run(&s, info, TraceDetail::Summary).report;
            let pages = run(&s, info, TraceDetail::Pages).report;
            let accesses = run(&s, info, TraceDetail::Accesses).report;
            prop_assert_eq!(&summary, &pages, "summary vs pages: {}", case(&s, info));
            prop_assert_eq!(&pages, &accesses, "pages vs accesses: {}", case(&s, info));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Determinism
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// The same scenario and seed give the same trace, byte for byte as JSON.
    #[test]
    fn same_seed_same_trace(s in arb_scenario()) {
        for info in registry() {
            let a = serde_json::to_string(&run(&s, info, TraceDetail::Accesses).trace).unwrap();
            let b = serde_json::to_string(&run(&s, info, TraceDetail::Accesses).trace).unwrap();
            prop_assert!(a == b, "two runs differ: {}", case(&s, info));
        }
    }

    /// With random writes and reads, a different seed gives different events (the scenario,
    /// which holds the seed, is left out of the comparison). The guest must make enough random
    /// accesses for that to be certain rather than likely: at least 256 pages, uniform accesses
    /// over all of them at λ >= 0.2 each way, and no latency or queueing that could keep a
    /// post-copy guest blocked on its first fault (whose page is then the only random thing,
    /// equal for two seeds once in a few hundred cases).
    #[test]
    fn different_seed_different_trace(recipe in arb_recipe(), other in any::<u64>(), lw in 0.2..1.2f64, lr in 0.2..1.5f64) {
        let mut recipe = recipe;
        prop_assume!(other != recipe.seed);
        recipe.main = PhaseRecipe { pattern: AccessPattern::Uniform, lambda_write: lw, lambda_read: lr, ws: (1.0, 0.0), ..recipe.main };
        recipe.phases.clear();
        recipe.pages = recipe.pages.max(256);
        recipe.latency = 0.0;
        recipe.priority_channel = true;
        let s = recipe.scenario();
        let mut t = s.clone();
        t.seed = other;
        for info in registry() {
            let ra = run(&s, info, TraceDetail::Accesses);
            // A plain stop-and-copy (the student template with live_rounds = 0) pauses the guest
            // before it runs and ends at resume: the guest never makes a random access.
            if ra.report.guest_progress_s == 0.0 {
                continue;
            }
            let a = serde_json::to_string(&ra.trace.events).unwrap();
            let b = serde_json::to_string(&run(&t, info, TraceDetail::Accesses).trace.events).unwrap();
            prop_assert!(a != b, "seeds {} and {} give the same events: {}", s.seed, other, case(&s, info));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. The simulator reproduces the geometric model
// ---------------------------------------------------------------------------------------------

/// Relative error of `sim` against `model`, checked against `tol` (a fraction) or, when
/// `slack` is given, against `slack` in absolute terms if that is larger.
fn within(label: &str, what: &str, sim: f64, model: f64, tol: f64, slack: f64) {
    let err = (sim - model).abs();
    let rel = err / model.abs().max(f64::MIN_POSITIVE);
    println!("{label} {what:<14} simulator {sim:<16.6} model {model:<16.6} {:.4}%", rel * 100.0);
    assert!(
        rel <= tol || err <= slack,
        "{label}: {what}: simulator {sim}, model {model} ({:.3}% apart, accepted {}% or {slack})",
        rel * 100.0,
        tol * 100.0
    );
}

/// Runs Xen pre-copy under the geometric model's assumptions and compares it with the model.
/// `page_slack`: accept per-round pages and the downtime one page (one page's transfer time)
/// off, for the small final rounds of Xen's default stop rule, where 1% is below one page.
fn compare_with_model(lambda: f64, pages: u64, min_pages: u64, max_iters: u32, page_slack: bool) {
    let page = 4096u64;
    let bandwidth = 125e6; // 1 Gbit/s
    let dirty_rate = lambda * bandwidth / page as f64;
    let text = format!(
        r#"
        name = "geometric"
        [vm]
        memory = "{memory}"
        page_size = "4 KiB"
        state_size = "0 B"
        resume_overhead = "0 s"
        [workload]
        pattern = "sequential"
        write_rate = {dirty_rate}
        [link]
        bandwidth = {bandwidth}
        latency = "0 s"
        page_header = "0 B"
        [migration]
        algorithm = "precopy-xen"
        timeout = "1000 s"
        [params.precopy]
        skip_redirtied = false
        scan_order = "linear"
        xen_min_pages = {min_pages}
        xen_max_iters = {max_iters}
        "#,
        memory = pages * page,
    );
    let s = Scenario::from_toml_str(&text).unwrap();
    let r = simulate(&s, None, TraceDetail::Summary).unwrap().report;
    let label = format!("λ = {lambda:<4} min_pages = {min_pages:<5} max_iters = {max_iters:<2}");
    assert!(r.verified, "{label}: {r:?}");
    let m = GeometricModel {
        pages: pages as f64,
        page_bytes: page as f64,
        bandwidth,
        dirty_rate,
        max_iters,
        min_pages: min_pages as f64,
        max_factor: 3.0,
        state_bytes: 0.0,
        resume_overhead: 0.0,
    };
    let p = m.predict();
    let sim_rounds: Vec<u64> = r.per_round.iter().map(|x| x.pages_sent).collect();
    assert_eq!(r.rounds, p.rounds, "{label}: rounds differ: simulator {sim_rounds:?}, model {:?}", p.per_round_pages);
    let (one_page, one_page_time) = if page_slack { (1.0, page as f64 / bandwidth * 1.000_001) } else { (0.0, 0.0) };
    for (i, (&sim, &model)) in sim_rounds.iter().zip(&p.per_round_pages).enumerate() {
        within(&label, &format!("round {} pages", i + 1), sim as f64, model, 0.01, one_page);
    }
    within(&label, "total pages", r.pages_sent as f64, p.total_pages, 0.01, 0.0);
    within(&label, "total bytes", r.bytes_sent as f64, p.total_bytes, 0.01, 0.0);
    within(&label, "total time", r.total_time_s, p.total_time_s, 0.01, 0.0);
    within(&label, "downtime", r.downtime_s, p.downtime_s, 0.01, one_page_time);
}

/// The geometric model's assumptions, made true in a scenario: a sequential writer over all of
/// memory (each write hits a distinct page that is clean, as long as λ < 1; for λ >= 1 the
/// dirty set saturates at memory size, as the model caps it), no per-page header, zero latency,
/// no CPU state and no resume cost, Xen's skip rule off and linear scan order. Then Xen
/// pre-copy must match `GeometricModel::predict`: the same number of rounds, and pages, bytes,
/// total time and downtime within 1%.
///
/// The simulator moves whole pages and its writer writes at instants `k / D`, so a round sends
/// `D T` rounded to a page. With Xen's default stop rule (a round under 50 pages) the final
/// round is a few dozen pages and one page is several percent of the downtime; those runs are
/// checked to within one page per round (and rounds and totals still within 1%), and runs with
/// a higher `xen_min_pages` or a lower `xen_max_iters`, whose final rounds are hundreds of pages,
/// to within 1% everywhere.
#[test]
fn model_agrees_with_simulator() {
    // Final rounds of hundreds to thousands of pages: 1% everywhere.
    for &(lambda, min_pages, max_iters) in &[(0.1, 7_000, 29), (0.3, 2_000, 29), (0.6, 1_000, 29), (0.6, 50, 3), (0.9, 50, 5)] {
        compare_with_model(lambda, 65_536, min_pages, max_iters, false);
    }
    // Xen's default stop rules (50 pages, 29 rounds, 3x memory).
    for &lambda in &[0.1, 0.3, 0.6, 0.9, 1.3] {
        compare_with_model(lambda, 65_536, 50, 29, true);
    }
}

// ---------------------------------------------------------------------------------------------
// The generator reaches the situations the properties are about
// ---------------------------------------------------------------------------------------------

/// Guards the properties above against being vacuous: over a fixed sample of generated
/// scenarios, every algorithm sometimes completes, pre-copy sometimes converges, times out and
/// is cancelled, and is forced to stop; post-copy guests fault, some post-copy runs end
/// incomplete at the timeout, some self-balloon; hybrid-family runs (hybrid, TSMC) are sometimes
/// cancelled before the switch-over, fault, and end incomplete, and TSMC resends dirty pages.
/// The counts are printed with `--nocapture`.
#[test]
fn generator_reaches_the_interesting_cases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = arb_scenario();
    #[derive(Default, Debug)]
    struct Counts {
        runs: u32,
        completed: u32,
        converged: u32,
        not_resumed: u32,
        forced_completed: u32,
        with_faults: u32,
        with_drops: u32,
        with_duplicates: u32,
        free_list: u32,
        zero_pages: u32,
        throttled: u32,
    }
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    for _ in 0..150 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        for info in registry() {
            let r = run(&s, info, TraceDetail::Summary);
            let rep = &r.report;
            let c = counts.entry(info.name).or_default();
            c.runs += 1;
            c.completed += rep.completed as u32;
            c.converged += rep.converged as u32;
            c.not_resumed += resumed_at(&r).is_none() as u32;
            c.forced_completed += (rep.completed && !rep.converged) as u32;
            c.with_faults += (rep.network_faults > 0) as u32;
            c.with_drops += (rep.dropped_pages > 0) as u32;
            c.with_duplicates += (rep.duplicate_pages > 0) as u32;
            c.free_list += free_page_list_sent(&r) as u32;
            c.zero_pages += (rep.zero_pages > 0) as u32;
            c.throttled += (rep.max_throttle > 0.0) as u32;
        }
    }
    for (name, c) in &counts {
        println!("{name:>18}: {c:?}");
    }
    let family =
        |f: Family, pick: fn(&Counts) -> u32| registry().iter().filter(|i| i.family == f).map(|i| pick(&counts[i.name])).sum::<u32>();
    for info in registry() {
        let c = &counts[info.name];
        assert!(c.completed > 0, "{}: never completed in {} runs", info.name, c.runs);
    }
    assert!(family(Family::PreCopy, |c| c.converged) > 0, "no pre-copy run converged");
    assert!(family(Family::PreCopy, |c| c.not_resumed) > 0, "no pre-copy run was cancelled");
    assert!(family(Family::PreCopy, |c| c.forced_completed) > 0, "no pre-copy run was forced to stop");
    assert!(family(Family::PreCopy, |c| c.zero_pages) > 0, "no pre-copy run sent zero pages as flags");
    assert!(family(Family::PostCopy, |c| c.runs - c.completed) > 0, "every post-copy run completed");
    assert!(family(Family::PostCopy, |c| c.with_faults) > 0, "no post-copy guest faulted");
    assert!(family(Family::PostCopy, |c| c.free_list) > 0, "no post-copy run self-ballooned");
    assert!(family(Family::Hybrid, |c| c.not_resumed) > 0, "no hybrid run was cancelled before the switch-over");
    assert!(family(Family::Hybrid, |c| c.with_faults) > 0, "no hybrid-family guest faulted");
    assert!(family(Family::Hybrid, |c| c.runs - c.completed - c.not_resumed) > 0, "every resumed hybrid-family run completed");
    assert!(counts["tsmc"].with_duplicates > 0, "TSMC never sent a page twice");
    assert!(counts["hybrid"].free_list > 0, "no hybrid run self-ballooned");
}
