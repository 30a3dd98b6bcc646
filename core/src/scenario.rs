//! Scenarios: the VM, its workload, the link and the migration settings, as data.
//!
//! Scenario files are TOML (or JSON with the same structure) in human units. Loading validates
//! every field and names the offending one with the accepted range:
//!
//! ```
//! let err = livemig_core::Scenario::from_toml_str("[link]\nbandwidth = \"0 Gbit/s\"").unwrap_err();
//! assert!(err.to_string().starts_with("link.bandwidth:"));
//! ```
//!
//! Algorithm parameters live in `[params.<algorithm>]` tables so one scenario can carry settings
//! for every algorithm it is compared across; they are validated against the algorithms'
//! declared parameters when the scenario is loaded, and resolved (with a variant's fixed values)
//! when the algorithm is built ([`crate::algorithms::build`]).

use crate::content::ContentMix;
use crate::units::{short, Bandwidth, ByteSize, PageRate, Seconds, OUT_OF_RANGE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Largest VM the simulator accepts (the model keeps about 13 bytes a page).
pub const MAX_MEMORY: u64 = 256 << 30;

/// The largest input file a front end reads (a scenario, an assignment, an answers file):
/// 16 MiB, hundreds of times any real one. The CLI and the playground both refuse a larger one.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not valid TOML or JSON.
    #[error("malformed {format} scenario: {message}")]
    Syntax {
        /// "TOML" or "JSON".
        format: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a wrong type, an unknown name, or a value outside its accepted range.
    #[error("{field}: {message}")]
    Field {
        /// Dotted path of the field, e.g. `link.bandwidth`.
        field: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A `--set key=value` override is malformed.
    #[error("override '{0}': expected KEY=VALUE with a dotted key such as link.bandwidth=10Gbit/s")]
    Override(String),
}

/// The accepted ranges of the quantity fields, as messages print them ([`Scenario::validate`]
/// checks them; a value too large for its quantity to hold at all gets the same text).
mod accepted {
    pub const PAGE_SIZE: &str = "a power of two from 512 B to 2 MiB";
    pub const STATE_SIZE: &str = "0 B to 1 GiB";
    pub const RESUME_OVERHEAD: &str = "0 s to 60 s";
    pub const RATE: &str = "0 to 1e9 pages/s";
    pub const BANDWIDTH: &str = "more than 0 bit/s, up to 10 Tbit/s";
    pub const LATENCY: &str = "0 s to 10 s";
    pub const PAGE_HEADER: &str = "0 B to 4 KiB";
    pub const SEND_BUFFER: &str = "0 B to 1 GiB";
    pub const HOST_RATE: &str = "8 kbit/s to 10 Tbit/s, or unset (no cost)";
    pub const HOST_TIME: &str = "0 s to 1 s, or unset (no cost)";
    pub const TIMEOUT: &str = "1 ms to 10000000 s";
    pub const PHASE_DURATION: &str = "1 us to 1000000000 s";
    pub const WORKING_SET: &str = "one page up to the used memory (vm.memory minus vm.reserved_memory and vm.free_memory)";
    pub const RESERVED_MEMORY: &str = "whole pages, less than vm.memory minus vm.free_memory";
}

/// The accepted range of a quantity field, by its dotted path (a phase's fields as the
/// workload's).
fn quantity_range(path: &str) -> Option<&'static str> {
    let path = match path.strip_prefix("workload.phases[") {
        Some(rest) => {
            let (_, field) = rest.split_once("].")?;
            if field == "duration" {
                return Some(accepted::PHASE_DURATION);
            }
            format!("workload.{field}")
        }
        None => path.to_string(),
    };
    Some(match path.as_str() {
        "vm.memory" => "from one page to 256 GiB",
        "vm.page_size" => accepted::PAGE_SIZE,
        "vm.free_memory" => "whole pages, less than vm.memory",
        "vm.reserved_memory" => accepted::RESERVED_MEMORY,
        "vm.state_size" => accepted::STATE_SIZE,
        "vm.resume_overhead" => accepted::RESUME_OVERHEAD,
        "workload.write_rate" | "workload.read_rate" => accepted::RATE,
        "workload.working_set" | "workload.working_set_offset" => accepted::WORKING_SET,
        "workload.write_size" => "1 B to the page size",
        "link.bandwidth" => accepted::BANDWIDTH,
        "link.latency" => accepted::LATENCY,
        "link.page_header" => accepted::PAGE_HEADER,
        "link.send_buffer" => accepted::SEND_BUFFER,
        "host.send_rate" | "host.zero_scan_rate" | "host.first_touch_rate" => accepted::HOST_RATE,
        "host.discard_range_time" | "host.discard_page_time" | "host.postcopy_switch_time" | "host.dirty_fault_time" => accepted::HOST_TIME,
        "migration.timeout" => accepted::TIMEOUT,
        _ => return None,
    })
}

fn field_err(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Field { field: field.into(), message: message.into() }
}

/// A complete migration experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name shown in reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// One or two sentences for people.
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice; same scenario and seed give the same trace. Any `u64`; above
    /// TOML's largest integer (2^63 - 1) write it in quotes.
    #[serde(default = "default_seed", deserialize_with = "seed")]
    pub seed: u64,
    /// The virtual machine.
    #[serde(default)]
    pub vm: VmSpec,
    /// What the guest does with its memory.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// The network between source and destination.
    #[serde(default)]
    pub link: LinkSpec,
    /// The source host's sending threads: how fast they put pages on the wire.
    #[serde(default, skip_serializing_if = "HostSpec::is_default")]
    pub host: HostSpec,
    /// Which algorithm, and when to give up.
    #[serde(default)]
    pub migration: MigrationSpec,
    /// Per-algorithm parameters: `[params.precopy]`, `[params.postcopy]`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, BTreeMap<String, Value>>,
}

fn default_name() -> String {
    "unnamed".into()
}
fn default_seed() -> u64 {
    1
}

/// Deserialises a seed: a `u64`, or its decimal digits as a string (TOML integers stop at
/// 2^63 - 1, and a `--set seed=...` above that arrives as text).
fn seed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer from 0 to 18446744073709551615")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("{v} {OUT_OF_RANGE}: accepted an integer from 0 to 18446744073709551615")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            Err(E::custom(format!("{} is not accepted: accepted an integer from 0 to 18446744073709551615", crate::units::short(v))))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            let digits = v.trim().replace('_', "");
            match digits.parse::<u64>() {
                Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Err(E::custom(format!("'{v}' {OUT_OF_RANGE}: accepted an integer from 0 to 18446744073709551615")))
                }
                _ => Err(E::custom(format!("'{v}' is not an integer: accepted an integer from 0 to 18446744073709551615"))),
            }
        }
    }
    d.deserialize_any(V)
}

/// The virtual machine being migrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VmSpec {
    /// Guest memory size.
    pub memory: ByteSize,
    /// Page size (power of two, 512 B to 2 MiB).
    pub page_size: ByteSize,
    /// Memory the guest is not using (at the top of its address space; zero pages that a
    /// self-ballooning guest can give back). Workloads never touch it.
    pub free_memory: ByteSize,
    /// Memory at the bottom of the address space that the guest keeps for itself and the
    /// workload never touches: zero pages, not free (a self-ballooning guest does not give them
    /// back). The QEMU peer's guest keeps its program and page tables in its first 4 MiB, zero
    /// but for a few pages, and QEMU sends them first. Workload offsets count from its end.
    #[serde(skip_serializing_if = "ByteSize::is_zero")]
    pub reserved_memory: ByteSize,
    /// CPU and device state sent while the VM is paused.
    pub state_size: ByteSize,
    /// Time the destination needs to start the VM once everything has arrived.
    pub resume_overhead: Seconds,
    /// What the pages hold.
    pub content: ContentMix,
}

impl Default for VmSpec {
    fn default() -> Self {
        VmSpec {
            memory: ByteSize(1 << 30),
            page_size: ByteSize(4096),
            free_memory: ByteSize(0),
            reserved_memory: ByteSize(0),
            state_size: ByteSize(64 << 10),
            resume_overhead: Seconds(0.005),
            content: ContentMix::default(),
        }
    }
}

/// How the guest chooses which pages to touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessPattern {
    /// No memory accesses.
    Idle,
    /// Uniformly random pages of the working set.
    Uniform,
    /// A hot part of the working set takes most accesses.
    HotCold,
    /// Pages of the working set in order, wrapping around (memtester-like).
    Sequential,
}

/// A marker a task-guided coordinator reacts to at the start of a phase (Lin & Kuo 2018: tagged
/// code regions). A tag opens a region that lasts until the next tag: untagged phases belong to
/// the region of the last tag before them (around the cycle when the sequence repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseTag {
    /// A region that dirties little memory begins: a good time to migrate.
    EnterCalm,
    /// A region that dirties much memory begins: the calm region, if any, is over.
    LeaveCalm,
}

/// Workload settings that a phase may override.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Name shown in traces.
    #[serde(default)]
    pub name: String,
    /// How long the phase lasts in guest time (not needed for the last phase of a
    /// non-repeating sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Seconds>,
    /// Tag seen by a task-guided coordinator when the phase starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<PhaseTag>,
    /// Access pattern (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<AccessPattern>,
    /// Page writes per second (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rate: Option<PageRate>,
    /// Page reads per second (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_rate: Option<PageRate>,
    /// Working set size (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set: Option<ByteSize>,
    /// Start of the working set (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set_offset: Option<ByteSize>,
    /// Hot fraction of the working set (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::units::opt_number")]
    pub hot_fraction: Option<f64>,
    /// Probability an access goes to the hot part (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::units::opt_number")]
    pub hot_probability: Option<f64>,
}

/// What the guest does with its memory while it migrates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// How pages are chosen.
    pub pattern: AccessPattern,
    /// Page writes per second of guest time.
    pub write_rate: PageRate,
    /// Page reads per second of guest time (they matter after a post-copy switch-over).
    pub read_rate: PageRate,
    /// Pages the workload touches (default: all memory except `vm.free_memory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_set: Option<ByteSize>,
    /// Where the working set starts.
    pub working_set_offset: ByteSize,
    /// Hot fraction of the working set (`hot-cold` only), in (0, 1].
    #[serde(deserialize_with = "crate::units::number")]
    pub hot_fraction: f64,
    /// Probability an access goes to the hot part (`hot-cold` only), in [0, 1].
    #[serde(deserialize_with = "crate::units::number")]
    pub hot_probability: f64,
    /// Bytes one write changes in a page (shapes delta encoding and compression).
    pub write_size: ByteSize,
    /// Optional sequence of phases; unset fields inherit the values above.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseSpec>,
    /// Whether the phase sequence starts again after its last phase.
    pub repeat: bool,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            pattern: AccessPattern::Idle,
            write_rate: PageRate(0.0),
            read_rate: PageRate(0.0),
            working_set: None,
            working_set_offset: ByteSize(0),
            hot_fraction: 0.1,
            hot_probability: 0.9,
            write_size: ByteSize(64),
            phases: Vec::new(),
            repeat: true,
        }
    }
}

/// The network between the hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSpec {
    /// Link bandwidth.
    pub bandwidth: Bandwidth,
    /// One-way latency.
    pub latency: Seconds,
    /// Header bytes sent with every page (QEMU: 8).
    pub page_header: ByteSize,
    /// Post-copy fault replies bypass the bulk stream (QEMU's postcopy-preempt channel).
    pub priority_channel: bool,
    /// Bulk data queued in the sender's socket: what a fault reply waits behind when there is
    /// no priority channel.
    pub send_buffer: ByteSize,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            bandwidth: Bandwidth(125e6),
            latency: Seconds(0.0001),
            page_header: ByteSize(8),
            priority_channel: true,
            send_buffer: ByteSize(256 << 10),
        }
    }
}

/// The source host's migration sender. A real sender is a thread (or a few) that scans the
/// dirty bitmap, checks pages for zeros, copies them into the socket and runs the TCP stack; on
/// a fast link that work, not the link, sets the pace (QEMU's single migration thread moves
/// well under a loopback's speed). Unset rates cost nothing: the link alone sets the pace, as
/// in every shipped preset. The work of codecs (compression, XBZRLE) is their own and adds to
/// this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostSpec {
    /// Bytes per second one sending thread puts on the wire (copying and the TCP stack
    /// included); every transmission costs `bytes / (send_rate x send_threads)` of sender time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_rate: Option<Bandwidth>,
    /// Bytes per second one thread scans when it checks pages for zeros: a zero page is read
    /// whole before it goes as a flag (QEMU's `buffer_is_zero()`), a non-zero one stops at its
    /// first non-zero word (free here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_scan_rate: Option<Bandwidth>,
    /// Threads that copy pages to the wire in parallel (QEMU's `multifd-channels` with the
    /// `multifd` capability; 1 is QEMU's single migration thread). The zero check stays on one
    /// thread, as in QEMU 7.2's `ram_save_target_page()`.
    pub send_threads: u32,
    /// CPUs that the guest's busy vCPUs, the sending threads and as many receiving threads share
    /// (both ends on one host, as in a migration over loopback); unset, each has a CPU of its
    /// own. When they are more than the CPUs, each gets `cores / threads` of one, and
    /// `send_rate` (the rate of a thread with a CPU to itself) shrinks with it: while the guest
    /// runs, its vCPUs compete with the migration; in the downtime they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// The guest's vCPUs that keep a CPU busy while the guest runs (throttling by auto-converge
    /// frees its share of them); they matter only with `cores`.
    pub busy_vcpus: u32,
    /// Bytes per second the destination's receiving thread places pages into memory it has
    /// never touched: the kernel allocates and zeroes each page on its first write. Set, the
    /// destination's memory starts untouched (not preallocated, or discarded when the migration
    /// began, as QEMU's destination does with `postcopy-ram`: `postcopy-ram.c`,
    /// `postcopy_ram_incoming_init()` / `init_range()`), and each page's first non-zero copy
    /// costs `page_size / first_touch_rate` of receiving time, pipelined with the sender (a
    /// slower receiver holds the sender back through the socket). A page sent as a zero flag is
    /// only read there and costs nothing. Unset, the destination is preallocated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_touch_rate: Option<Bandwidth>,
    /// Seconds the destination takes per contiguous range of pages it discards when told they
    /// are stale (the switch to post-copy: QEMU's `loadvm_postcopy_ram_handle_discard()` makes
    /// one `madvise(MADV_DONTNEED)` call per range, in `ram_block_discard_range()`). Unset, a
    /// discard costs nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discard_range_time: Option<Seconds>,
    /// Seconds per page discarded, on top of `discard_range_time` (the kernel unmaps and frees
    /// each page of a range). Unset, nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discard_page_time: Option<Seconds>,
    /// Seconds the destination takes to enter post-copy, whatever it discards: QEMU's
    /// destination registers the guest's RAM with userfaultfd and starts its fault thread
    /// (`loadvm_postcopy_handle_listen()`), then loads the device state from the package the
    /// source sent and starts the guest (`loadvm_postcopy_handle_run_bh()`). Charged at the
    /// switch, with the discard, in the downtime. Unset, nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcopy_switch_time: Option<Seconds>,
    /// Seconds of the guest's time each write fault of dirty logging costs it: while the source
    /// logs dirty pages, the hypervisor write-protects every page at each sync of the log
    /// (KVM's `KVM_CLEAR_DIRTY_LOG` / `KVM_GET_DIRTY_LOG`), so the first write to a page after
    /// it traps into the hypervisor, which marks the page dirty and makes it writable again.
    /// The vCPU is stalled meanwhile: a guest that dirties new pages faster than
    /// `1 / dirty_fault_time` a second falls behind its schedule, and catches up when its writes
    /// land on pages already dirty again (at most [`crate::workload::MAX_CATCH_UP_S`] of its
    /// schedule; what it is later than that, it gives up). Writes to pages already dirty since
    /// the last sync, reads, and everything on the destination cost nothing. Unset, nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_fault_time: Option<Seconds>,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec {
            send_rate: None,
            zero_scan_rate: None,
            send_threads: 1,
            cores: None,
            busy_vcpus: 1,
            first_touch_rate: None,
            discard_range_time: None,
            discard_page_time: None,
            postcopy_switch_time: None,
            dirty_fault_time: None,
        }
    }
}

impl HostSpec {
    /// The share of a CPU each sending thread gets when `running_vcpus` busy vCPUs run beside
    /// the sending and receiving threads (1 without `cores`).
    pub fn thread_share(&self, running_vcpus: f64) -> f64 {
        match self.cores {
            None => 1.0,
            Some(cores) => (f64::from(cores) / (running_vcpus + 2.0 * f64::from(self.send_threads))).min(1.0),
        }
    }

    /// Bytes per second all the sending threads together put on the wire beside
    /// `running_vcpus` busy vCPUs; `None` without `send_rate` (sending costs nothing).
    pub fn send_pace(&self, running_vcpus: f64) -> Option<f64> {
        self.send_rate.map(|r| r.0 * f64::from(self.send_threads) * self.thread_share(running_vcpus))
    }

    /// Bytes per second the zero check reads beside `running_vcpus` busy vCPUs; `None` without
    /// `zero_scan_rate` (the check costs nothing).
    pub fn zero_scan_pace(&self, running_vcpus: f64) -> Option<f64> {
        self.zero_scan_rate.map(|r| r.0 * self.thread_share(running_vcpus))
    }

    /// Bytes per second the receiving threads together place into untouched memory beside
    /// `running_vcpus` busy vCPUs; `None` without `first_touch_rate` (a preallocated
    /// destination).
    pub fn first_touch_pace(&self, running_vcpus: f64) -> Option<f64> {
        self.first_touch_rate.map(|r| r.0 * f64::from(self.send_threads) * self.thread_share(running_vcpus))
    }

    /// Seconds the destination takes at the switch to post-copy when it discards `pages` pages
    /// lying in `ranges` contiguous ranges: the fixed `postcopy_switch_time` and the discard
    /// (0 with none of the three times set).
    pub fn postcopy_switch_seconds(&self, ranges: u64, pages: u64) -> f64 {
        self.postcopy_switch_time.map_or(0.0, |t| t.0)
            + self.discard_range_time.map_or(0.0, |t| t.0 * ranges as f64)
            + self.discard_page_time.map_or(0.0, |t| t.0 * pages as f64)
    }
}

impl HostSpec {
    fn is_default(&self) -> bool {
        *self == HostSpec::default()
    }
}

/// What a pre-copy does when the timeout passes before it converges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Abandon the migration; the VM keeps running on the source (QEMU `migrate_cancel`).
    Cancel,
    /// Stop the VM and copy what remains, however long the downtime.
    ForceStop,
}

/// Which algorithm runs, and the limits of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationSpec {
    /// Registered algorithm name (see `livemig algorithms`).
    pub algorithm: String,
    /// Simulated time after which a migration that has not finished is ended.
    pub timeout: Seconds,
    /// What happens at the timeout.
    pub on_timeout: OnTimeout,
}

impl Default for MigrationSpec {
    fn default() -> Self {
        MigrationSpec { algorithm: "precopy".into(), timeout: Seconds(600.0), on_timeout: OnTimeout::Cancel }
    }
}

/// A TOML parse error on one line: "line L, column C: message" (the toml crate's own `Display`
/// draws a multi-line snippet of the source, which does not fit a one-line error).
pub(crate) fn toml_syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Replaces non-finite floats (TOML `nan`, `inf`) by their text. JSON has no such numbers, so
/// converting them to a JSON tree would silently turn them into `null`; as text they reach the
/// field's own parser and fail with the field's accepted range.
fn finite_or_text(v: &mut toml::Value) {
    match v {
        toml::Value::Float(f) if !f.is_finite() => *v = toml::Value::String(f.to_string()),
        toml::Value::Array(items) => items.iter_mut().for_each(finite_or_text),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| finite_or_text(v)),
        _ => {}
    }
}

/// The dotted path of the key whose value starts at byte `at` of a TOML text: the last table
/// header before it (`[vm]`, `[[workload.phases]]` with its index) and the key of its line.
/// None when the line holds no `key = value`.
fn toml_key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let mut table = String::new();
    let mut arrays: BTreeMap<String, usize> = BTreeMap::new();
    for l in text[..line_start].lines().map(str::trim) {
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split_once("]]")).map(|(n, _)| n.trim()) {
            let index = arrays.entry(name.to_string()).and_modify(|i| *i += 1).or_insert(0);
            table = format!("{name}[{index}]");
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split_once(']')).map(|(n, _)| n.trim()) {
            table = name.to_string();
        }
    }
    Some(if table.is_empty() { key.to_string() } else { format!("{table}.{key}") })
}

/// A TOML syntax error as a scenario error: an integer too large for TOML (2^63 - 1) names its
/// field and says how to write a large value instead; any other error keeps its line and column.
fn toml_error(text: &str, e: &toml::de::Error) -> ScenarioError {
    let span = e.span();
    let field = span.as_ref().and_then(|s| toml_key_at(text, s.start));
    let literal = span.as_ref().map(|s| text[s.start.min(text.len())..s.end.min(text.len())].trim().to_string());
    let message = e.message();
    let too_large = ["integer", "too large", "overflow"].iter().any(|m| message.contains(m));
    match (field, literal) {
        (Some(field), Some(literal)) if too_large && literal.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => {
            let message = match (quantity_range(&field), field.as_str()) {
                (Some(range), _) => format!("{literal} {OUT_OF_RANGE}: accepted {range}"),
                (None, "seed") => format!(
                    "{literal} is too large for a TOML integer (at most 9223372036854775807): write it in quotes, seed = \"{literal}\" (accepted 0 to 18446744073709551615)"
                ),
                (None, _) => format!("{literal} {OUT_OF_RANGE}: accepted a number TOML can hold (integers up to 9223372036854775807)"),
            };
            field_err(field, message)
        }
        _ => ScenarioError::Syntax { format: "TOML", message: toml_syntax_message(text, e) },
    }
}

fn json_of_toml(text: &str) -> Result<Value, ScenarioError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| match json_of_json(text) {
        // Valid JSON that is not an object (`[1, 2, 3]`, `42`): say what a scenario is.
        Ok(value) => not_a_scenario(&value),
        Err(_) => toml_error(text, &e),
    })?;
    let mut table = toml::Value::Table(table);
    finite_or_text(&mut table);
    serde_json::to_value(table).map_err(|e| ScenarioError::Syntax { format: "TOML", message: e.to_string() })
}

fn json_of_json(text: &str) -> Result<Value, ScenarioError> {
    serde_json::from_str(text).map_err(|e| ScenarioError::Syntax { format: "JSON", message: e.to_string() })
}

/// The tables and fields a scenario is made of, for messages.
const SCENARIO_FIELDS: &str = "name, description, seed, vm, workload, link, host, migration, params";

/// The error for a JSON value that is not an object.
fn not_a_scenario(value: &Value) -> ScenarioError {
    let what = match value {
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "an object",
    };
    field_err(
        "scenario",
        format!("a JSON document holding {what} is not a scenario: expected a JSON object or TOML with the fields {SCENARIO_FIELDS}"),
    )
}

/// Turns an override value into JSON: a TOML literal if it parses as one, else a string.
fn override_value(raw: &str) -> Value {
    let raw = raw.trim();
    if let Ok(mut table) = toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        if let Some(v) = table.get_mut("v") {
            finite_or_text(v);
            if let Ok(json) = serde_json::to_value(v) {
                return json;
            }
        }
    }
    Value::String(raw.to_string())
}

/// Applies `key=value` overrides (dotted keys) to a scenario's value tree.
pub fn apply_overrides(tree: &mut Value, overrides: &[String]) -> Result<(), ScenarioError> {
    for ov in overrides {
        let (key, value) = ov.split_once('=').ok_or_else(|| ScenarioError::Override(ov.clone()))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(ScenarioError::Override(ov.clone()));
        }
        let mut node = &mut *tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if !node.is_object() {
                let parent = parts[..i].join(".");
                return Err(field_err(&parent, format!("not a table, so it has no field '{part}': accepted {parent}=VALUE")));
            }
            let map = node.as_object_mut().expect("checked object");
            if i == parts.len() - 1 {
                map.insert(part.to_string(), override_value(value));
                break;
            }
            node = map.entry(part.to_string()).or_insert_with(|| Value::Object(Default::default()));
        }
    }
    Ok(())
}

impl Scenario {
    /// Parses and validates a TOML scenario.
    pub fn from_toml_str(text: &str) -> Result<Scenario, ScenarioError> {
        Self::from_tree(json_of_toml(text)?)
    }

    /// Parses and validates a JSON scenario.
    pub fn from_json_str(text: &str) -> Result<Scenario, ScenarioError> {
        Self::from_tree(json_of_json(text)?)
    }

    /// Parses TOML or JSON (JSON if the text starts with `{`), applies overrides, validates.
    pub fn parse_with_overrides(text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let mut tree = Self::tree_of(text)?;
        apply_overrides(&mut tree, overrides)?;
        Self::from_tree(tree)
    }

    /// [`Self::parse_with_overrides`] for the text of a scenario file, which must set something:
    /// an empty file (or one of comments only, or `{}`) is an error saying what is missing,
    /// where an empty text elsewhere means every default.
    pub fn parse_file_with_overrides(text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let mut tree = Self::tree_of(text)?;
        if tree.as_object().is_some_and(|o| o.is_empty()) {
            return Err(field_err(
                "scenario",
                format!("the file is empty: a scenario sets at least one of {SCENARIO_FIELDS}, e.g. [vm] memory = \"1 GiB\""),
            ));
        }
        apply_overrides(&mut tree, overrides)?;
        Self::from_tree(tree)
    }

    /// The value tree of a TOML or JSON text (JSON if it starts with `{`).
    fn tree_of(text: &str) -> Result<Value, ScenarioError> {
        if text.trim_start().starts_with('{') {
            json_of_json(text)
        } else {
            json_of_toml(text)
        }
    }

    /// Deserialises and validates a scenario from a JSON value tree.
    pub fn from_tree(tree: Value) -> Result<Scenario, ScenarioError> {
        if !tree.is_object() {
            return Err(not_a_scenario(&tree));
        }
        let scenario: Scenario = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // A quantity too large to hold at all: name the field's own range.
            let message = match (crate::units::out_of_range_input(&inner), quantity_range(&path)) {
                (Some(input), Some(range)) => format!("'{input}' {OUT_OF_RANGE}: accepted {range}"),
                _ => inner,
            };
            field_err(if path == "." { "scenario".to_string() } else { path }, message)
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// This scenario with overrides applied, validated again.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let mut tree = serde_json::to_value(self).expect("scenarios serialise");
        apply_overrides(&mut tree, overrides)?;
        Self::from_tree(tree)
    }

    /// Serialises to TOML (human units).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("scenarios serialise to TOML")
    }

    /// Number of pages.
    pub fn page_count(&self) -> u64 {
        self.vm.memory.0 / self.vm.page_size.0
    }

    /// Number of pages the guest uses (all but the reserved and the free memory).
    pub fn used_pages(&self) -> u64 {
        let used = self.used_range();
        used.end - used.start
    }

    /// The pages the workload may touch: above the reserved memory, below the free memory. The
    /// pages outside it are zero.
    pub fn used_range(&self) -> std::ops::Range<u64> {
        let ps = self.vm.page_size.0;
        self.vm.reserved_memory.0 / ps..self.page_count() - self.vm.free_memory.0 / ps
    }

    /// Checks every field's range; the error names the field and what it accepts.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let vm = &self.vm;
        let ps = vm.page_size.0;
        if !(512..=(2 << 20)).contains(&ps) || !ps.is_power_of_two() {
            return Err(field_err("vm.page_size", format!("{} is not accepted: {}", vm.page_size, accepted::PAGE_SIZE)));
        }
        if vm.memory.0 < ps || vm.memory.0 > MAX_MEMORY {
            return Err(field_err(
                "vm.memory",
                format!("{} is out of range: accepted from one page ({}) to {}", vm.memory, vm.page_size, ByteSize(MAX_MEMORY)),
            ));
        }
        if vm.memory.0 % ps != 0 {
            return Err(field_err("vm.memory", format!("{} is not a whole number of {} pages", vm.memory, vm.page_size)));
        }
        if vm.free_memory.0 >= vm.memory.0 || vm.free_memory.0 % ps != 0 {
            return Err(field_err(
                "vm.free_memory",
                format!("{} is not accepted: whole pages, less than vm.memory ({})", vm.free_memory, vm.memory),
            ));
        }
        if vm.reserved_memory.0 % ps != 0 || vm.reserved_memory.0 >= vm.memory.0 - vm.free_memory.0 {
            return Err(field_err("vm.reserved_memory", format!("{} is not accepted: {}", vm.reserved_memory, accepted::RESERVED_MEMORY)));
        }
        if vm.state_size.0 > 1 << 30 {
            return Err(field_err("vm.state_size", format!("{} {OUT_OF_RANGE}: accepted {}", vm.state_size, accepted::STATE_SIZE)));
        }
        check_duration("vm.resume_overhead", vm.resume_overhead, 0.0, 60.0, accepted::RESUME_OVERHEAD)?;
        let c = &vm.content;
        for (name, v) in [("zero", c.zero), ("text", c.text), ("structured", c.structured), ("random", c.random)] {
            check_range(&format!("vm.content.{name}"), v, 0.0, 1.0, "a fraction from 0 to 1")?;
        }
        let sum = c.zero + c.text + c.structured + c.random;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(field_err("vm.content", format!("fractions add up to {}; they must add up to 1", short(sum))));
        }

        let used = self.used_pages() * ps;
        let w = &self.workload;
        if w.write_size.0 == 0 || w.write_size.0 > ps {
            return Err(field_err(
                "workload.write_size",
                format!("{} is out of range: accepted 1 B to the page size ({})", w.write_size, vm.page_size),
            ));
        }
        check_phase_fields(
            "workload",
            w.pattern,
            w.write_rate,
            w.read_rate,
            w.working_set,
            w.working_set_offset,
            w.hot_fraction,
            w.hot_probability,
            used,
            ps,
        )?;
        for (i, p) in w.phases.iter().enumerate() {
            let prefix = format!("workload.phases[{i}]");
            let last = i + 1 == w.phases.len();
            match p.duration {
                Some(d) => check_duration(&format!("{prefix}.duration"), d, 1e-6, 1e9, accepted::PHASE_DURATION)?,
                None if w.repeat || !last => {
                    return Err(field_err(
                        format!("{prefix}.duration"),
                        "missing: every phase needs a duration, except the last when workload.repeat = false",
                    ))
                }
                None => {}
            }
            check_phase_fields(
                &prefix,
                p.pattern.unwrap_or(w.pattern),
                p.write_rate.unwrap_or(w.write_rate),
                p.read_rate.unwrap_or(w.read_rate),
                p.working_set.or(w.working_set),
                p.working_set_offset.unwrap_or(w.working_set_offset),
                p.hot_fraction.unwrap_or(w.hot_fraction),
                p.hot_probability.unwrap_or(w.hot_probability),
                used,
                ps,
            )?;
        }

        let l = &self.link;
        if !(l.bandwidth.0 > 0.0 && l.bandwidth.0 <= 1.25e12) {
            return Err(field_err("link.bandwidth", format!("{} {OUT_OF_RANGE}: accepted {}", l.bandwidth, accepted::BANDWIDTH)));
        }
        check_duration("link.latency", l.latency, 0.0, 10.0, accepted::LATENCY)?;
        if l.page_header.0 > 4096 {
            return Err(field_err("link.page_header", format!("{} {OUT_OF_RANGE}: accepted {}", l.page_header, accepted::PAGE_HEADER)));
        }
        if l.send_buffer.0 > 1 << 30 {
            return Err(field_err("link.send_buffer", format!("{} {OUT_OF_RANGE}: accepted {}", l.send_buffer, accepted::SEND_BUFFER)));
        }
        let h = &self.host;
        for (field, rate) in
            [("host.send_rate", h.send_rate), ("host.zero_scan_rate", h.zero_scan_rate), ("host.first_touch_rate", h.first_touch_rate)]
        {
            if let Some(r) = rate {
                if !(r.0 >= 1e3 && r.0 <= 1.25e12) {
                    return Err(field_err(field, format!("{r} {OUT_OF_RANGE}: accepted {}", accepted::HOST_RATE)));
                }
            }
        }
        if !(1..=256).contains(&h.send_threads) {
            return Err(field_err("host.send_threads", format!("{} is out of range: accepted an integer from 1 to 256", h.send_threads)));
        }
        if let Some(c) = h.cores {
            if !(1..=4096).contains(&c) {
                return Err(field_err(
                    "host.cores",
                    format!("{c} is out of range: accepted an integer from 1 to 4096, or unset (a CPU each)"),
                ));
            }
        }
        for (field, time) in [
            ("host.discard_range_time", h.discard_range_time),
            ("host.discard_page_time", h.discard_page_time),
            ("host.postcopy_switch_time", h.postcopy_switch_time),
            ("host.dirty_fault_time", h.dirty_fault_time),
        ] {
            if let Some(t) = time {
                check_range(field, t.0, 0.0, 1.0, accepted::HOST_TIME)?;
            }
        }
        if h.busy_vcpus > 4096 {
            return Err(field_err("host.busy_vcpus", format!("{} is out of range: accepted an integer from 0 to 4096", h.busy_vcpus)));
        }
        check_duration("migration.timeout", self.migration.timeout, 1e-3, 1e7, accepted::TIMEOUT)?;
        if crate::algorithms::find(&self.migration.algorithm).is_none() {
            return Err(field_err(
                "migration.algorithm",
                format!("'{}' is not an algorithm: accepted {}", self.migration.algorithm, crate::algorithms::names().join(", ")),
            ));
        }
        self.validate_params()
    }

    /// Checks every `[params.<section>]` table against the declared parameters of the
    /// algorithms that read it, so a misspelt table or parameter is reported when the scenario
    /// is loaded, whichever algorithm then runs.
    fn validate_params(&self) -> Result<(), ScenarioError> {
        use crate::algorithms::{registry, Params};
        for (section, given) in &self.params {
            let Some(specs) = registry().iter().find_map(|a| a.section_params(section)) else {
                let mut sections: Vec<&str> = Vec::new();
                for (name, _) in registry().iter().flat_map(|a| a.sections()) {
                    if !sections.contains(&name) {
                        sections.push(name);
                    }
                }
                return Err(field_err(
                    format!("params.{section}"),
                    format!(
                        "unknown parameter table: accepted {}",
                        sections.iter().map(|s| format!("params.{s}")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            Params::resolve(section, specs, Some(given), &[]).map_err(|e| ScenarioError::Field { field: e.field, message: e.message })?;
        }
        Ok(())
    }
}

/// Checks that `v` is in `lo..=hi`; the message prints the value short.
fn check_range(field: &str, v: f64, lo: f64, hi: f64, accepted: &str) -> Result<(), ScenarioError> {
    if v.is_nan() || v < lo || v > hi {
        return Err(field_err(field, format!("{} {OUT_OF_RANGE}: accepted {accepted}", short(v))));
    }
    Ok(())
}

/// [`check_range`] for a duration, printed in its own unit (`500 ns`, not `0.0000005`).
fn check_duration(field: &str, v: Seconds, lo: f64, hi: f64, accepted: &str) -> Result<(), ScenarioError> {
    if v.0.is_nan() || v.0 < lo || v.0 > hi {
        return Err(field_err(field, format!("{v} {OUT_OF_RANGE}: accepted {accepted}")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_phase_fields(
    prefix: &str,
    pattern: AccessPattern,
    write_rate: PageRate,
    read_rate: PageRate,
    working_set: Option<ByteSize>,
    offset: ByteSize,
    hot_fraction: f64,
    hot_probability: f64,
    used_bytes: u64,
    page_size: u64,
) -> Result<(), ScenarioError> {
    for (name, r) in [("write_rate", write_rate), ("read_rate", read_rate)] {
        if r.0.is_nan() || r.0 < 0.0 || r.0 > 1e9 {
            return Err(field_err(format!("{prefix}.{name}"), format!("{r} {OUT_OF_RANGE}: accepted {}", accepted::RATE)));
        }
    }
    if pattern == AccessPattern::Idle && (write_rate.0 > 0.0 || read_rate.0 > 0.0) {
        return Err(field_err(
            format!("{prefix}.pattern"),
            "idle accepts no accesses: set write_rate and read_rate to 0, or choose uniform, hot-cold or sequential",
        ));
    }
    let ws = working_set.map(|w| w.0).unwrap_or(used_bytes.saturating_sub(offset.0));
    if ws < page_size || offset.0.checked_add(ws).is_none_or(|end| end > used_bytes) {
        return Err(field_err(
            format!("{prefix}.working_set"),
            format!(
                "{} at offset {} does not fit: accepted one page up to the used memory ({}, vm.memory minus vm.reserved_memory and vm.free_memory)",
                ByteSize(ws),
                offset,
                ByteSize(used_bytes)
            ),
        ));
    }
    check_range(&format!("{prefix}.hot_fraction"), hot_fraction, f64::MIN_POSITIVE, 1.0, "more than 0, up to 1")?;
    check_range(&format!("{prefix}.hot_probability"), hot_probability, 0.0, 1.0, "0 to 1")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_make_a_valid_scenario() {
        let s = Scenario::from_toml_str("").unwrap();
        assert_eq!(s.page_count(), 262_144);
        assert_eq!(s.migration.algorithm, "precopy");
    }

    #[test]
    fn human_units_and_round_trip() {
        let s = Scenario::from_toml_str(
            r#"
            name = "db"
            [vm]
            memory = "4 GiB"
            [workload]
            pattern = "hot-cold"
            write_rate = "20000 pages/s"
            working_set = "1 GiB"
            [link]
            bandwidth = "10 Gbit/s"
            latency = "1 ms"
            [params.precopy]
            policy = "qemu"
            "#,
        )
        .unwrap();
        assert_eq!(s.vm.memory.0, 4 << 30);
        assert_eq!(s.link.bandwidth.0, 1.25e9);
        assert_eq!(s.params["precopy"]["policy"], "qemu");
        let again = Scenario::from_toml_str(&s.to_toml()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[link]\nbandwidth = \"0 Gbit/s\"", "link.bandwidth:"),
            ("[link]\nbandwidth = \"fast\"", "link.bandwidth:"),
            ("[link]\nbandwdith = \"1 Gbit/s\"", "link.bandwdith: unknown field"),
            ("[vm]\nmemory = \"1 TiB\"", "vm.memory:"),
            ("[workload]\npattern = \"zigzag\"", "workload.pattern:"),
            ("[workload]\npattern = \"uniform\"\nwrite_rate = \"nan\"", "workload.write_rate:"),
            ("[workload]\npattern = \"idle\"\nwrite_rate = 5", "workload.pattern:"),
            ("[vm.content]\nzero = 0.5", "vm.content:"),
            (
                "[vm]\nmemory = \"4 MiB\"\nfree_memory = \"2 MiB\"\nreserved_memory = \"2 MiB\"",
                "vm.reserved_memory: 2 MiB is not accepted: whole pages, less than vm.memory minus vm.free_memory",
            ),
            ("[vm]\nreserved_memory = \"1000 B\"", "vm.reserved_memory: 1000 B is not accepted: whole pages"),
            ("[workload]\npattern = \"uniform\"\n[[workload.phases]]\nwrite_rate = 1", "workload.phases[0].duration:"),
            ("[workload]\nhot_probability = nan", "workload.hot_probability: NaN is out of range: accepted 0 to 1"),
            ("[workload]\nhot_fraction = \"0.5\"", "workload.hot_fraction: invalid type: string \"0.5\", expected a number"),
            ("[vm.content]\nzero = inf", "vm.content.zero: inf is out of range"),
            ("[workload]\npattern = \"uniform\"\nwrite_rate = nan", "workload.write_rate: 'NaN' is not a page rate"),
            ("[link]\nbandwidth = -inf", "link.bandwidth: '-inf' is not a bandwidth"),
            ("[migration]\nalgorithm = \"pre-copy\"", "migration.algorithm: 'pre-copy' is not an algorithm: accepted precopy,"),
            ("[params.pre-copy]\npolicy = \"xen\"", "params.pre-copy: unknown parameter table: accepted params.precopy, params.postcopy"),
            ("[params.postcopy]\npolicy = \"xen\"", "params.postcopy.policy: unknown parameter"),
            ("[params.precopy]\nxen_max_factor = nan", "params.precopy.xen_max_factor: \"NaN\" is not accepted"),
        ];
        for (text, prefix) in cases {
            let e = Scenario::from_toml_str(text).unwrap_err().to_string();
            assert!(e.starts_with(prefix), "{text:?} gave {e:?}");
        }
        let e = Scenario::from_toml_str("[vm]\nmemory = \"1 GiB\"\n[link\n").unwrap_err().to_string();
        assert!(e.starts_with("malformed TOML scenario: line 3, column 6: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn messages_name_the_field_its_range_and_the_value_short() {
        // Issue 13, defect 7.
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "[workload]\npattern = \"uniform\"\nwrite_rate = 10\n[[workload.phases]]\nduration = \"500 ns\"",
                &[],
                "workload.phases[0].duration: 500 ns is out of range: accepted 1 us to 1000000000 s",
            ),
            (
                "",
                &["link.bandwidth=1e308 Gbit/s"],
                "link.bandwidth: '1e308 Gbit/s' is out of range: accepted more than 0 bit/s, up to 10 Tbit/s",
            ),
            ("", &["link.send_buffer=1 EiB"], "link.send_buffer: 1 EiB is out of range: accepted 0 B to 1 GiB"),
            ("[link]\nsend_buffer = \"16 EiB\"", &[], "link.send_buffer: '16 EiB' is out of range: accepted 0 B to 1 GiB"),
            (
                "[vm]\nmemory = 99999999999999999999999",
                &[],
                "vm.memory: 99999999999999999999999 is out of range: accepted from one page to 256 GiB",
            ),
            (
                "[[workload.phases]]\nduration = 1\n[[workload.phases]]\nwrite_rate = 1e999",
                &[],
                "workload.phases[1].write_rate: 1e999 is out of range: accepted 0 to 1e9 pages/s",
            ),
            ("seed = 18446744073709551616", &[], "seed: 18446744073709551616 is too large for a TOML integer"),
            ("", &["seed=18446744073709551616"], "seed: '18446744073709551616' is out of range"),
            ("[1, 2, 3]", &[], "scenario: a JSON document holding an array is not a scenario: expected a JSON object"),
            ("", &["workload.hot_probability=1e300"], "workload.hot_probability: 1e300 is out of range: accepted 0 to 1"),
            ("[vm.content]\nzero = 0.3333\ntext = 0.3333\nstructured = 0.3333\nrandom = 0", &[], "vm.content: fractions add up to 0.9999;"),
        ];
        for (text, overrides, prefix) in cases {
            let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
            let e = Scenario::parse_with_overrides(text, &overrides).unwrap_err().to_string();
            assert!(e.starts_with(prefix), "{text:?} {overrides:?} gave {e:?}");
            assert!(!e.contains('\n'), "{e}");
        }
        // The largest seed is a seed, on the command line and quoted in a file.
        let s = Scenario::parse_with_overrides("", &["seed=18446744073709551615".into()]).unwrap();
        assert_eq!(s.seed, u64::MAX);
        assert_eq!(Scenario::from_toml_str("seed = \"18446744073709551615\"").unwrap().seed, u64::MAX);
        // An empty scenario file says what is missing; an empty text elsewhere is the defaults.
        for text in ["", "  \n# only a comment\n", "{}"] {
            let e = Scenario::parse_file_with_overrides(text, &[]).unwrap_err().to_string();
            assert!(e.starts_with("scenario: the file is empty: a scenario sets at least one of name,"), "{e}");
        }
        assert!(Scenario::parse_with_overrides("", &[]).is_ok());
    }

    #[test]
    fn overrides_set_nested_fields_with_units_and_types() {
        let s = Scenario::parse_with_overrides(
            "",
            &["link.bandwidth=10Gbit/s".into(), "seed=7".into(), "params.precopy.auto_converge=true".into()],
        )
        .unwrap();
        assert_eq!(s.link.bandwidth.0, 1.25e9);
        assert_eq!(s.seed, 7);
        assert_eq!(s.params["precopy"]["auto_converge"], true);
        let e = Scenario::parse_with_overrides("", &["link.bogus=1".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown field `bogus`"), "{e}");
        assert!(Scenario::parse_with_overrides("", &["novalue".into()]).is_err());
        for nan in ["NaN", "nan"] {
            let e = Scenario::parse_with_overrides("", &[format!("workload.hot_probability={nan}")]).unwrap_err().to_string();
            assert!(e.starts_with("workload.hot_probability: NaN is out of range: accepted 0 to 1"), "{e}");
        }
    }
}
