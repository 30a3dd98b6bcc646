//! A scenario's algorithm and parameters, mapped to QEMU's migration capabilities and parameters
//! (`qapi/migration.json`: `MigrationCapability`, `MigrationParameters`).
//!
//! | registry name   | QEMU                                                                    |
//! |-----------------|-------------------------------------------------------------------------|
//! | `precopy-qemu`  | plain pre-copy (`migrate`)                                              |
//! | `xbzrle`        | pre-copy with the `xbzrle` capability and `xbzrle-cache-size`           |
//! | `postcopy-qemu` | `postcopy-ram`; `migrate-start-postcopy` after `precopy_passes` passes   |
//!
//! Parameters are read through the core's own resolution ([`livemig_core::algorithms::build`]),
//! so `--set params.precopy.downtime_limit=50ms` reaches QEMU as `downtime-limit: 50`:
//!
//! * `[params.precopy]` `downtime_limit` → `downtime-limit` (ms; QEMU's switch-over test in
//!   `migration/migration.c` `migration_iteration_run`: pending bytes below bandwidth x limit);
//! * `auto_converge` → capability `auto-converge`; `throttle_initial`, `throttle_increment`,
//!   `throttle_trigger` (fractions) → `cpu-throttle-initial`, `cpu-throttle-increment`,
//!   `throttle-trigger-threshold` (percent; `migration/ram.c` `migration_trigger_throttle`);
//! * `max_bandwidth` → `max-bandwidth` (bytes/s; QEMU's default is 128 MiB/s);
//! * the scenario's `host.send_threads` → capability `multifd` + `multifd-channels` (when more
//!   than 1: QEMU's sending threads, as the simulator models them);
//! * `[params.delta]` `cache_size` → `xbzrle-cache-size` (`migration/xbzrle.c`, `page_cache.c`);
//! * `postcopy-qemu`'s `precopy_passes` → how many complete pre-copy passes run before
//!   `migrate-start-postcopy`.
//!
//! Other pre-copy parameters (Xen's and Cloud Hypervisor's policies, `zero_pages`,
//! `self_ballooning`) have no QEMU counterpart and are ignored; QEMU always sends zero pages as
//! flags.

use super::QemuError;
use livemig_core::algorithms::{self, AlgorithmInfo, Params};
use livemig_core::scenario::{OnTimeout, Scenario};
use std::time::Duration;

/// The algorithms the QEMU peer runs.
pub const ALGORITHMS: [&str; 3] = ["precopy-qemu", "xbzrle", "postcopy-qemu"];

/// QEMU's default `max-bandwidth` (`migration/migration.c`: `MAX_THROTTLE`, 128 MiB/s), for
/// an entry that declares no `max_bandwidth`.
pub const DEFAULT_MAX_BANDWIDTH: u64 = 128 << 20;
/// QEMU's largest `downtime-limit` (`MAX_MIGRATE_DOWNTIME_SECONDS`, 2000 s), in ms.
pub const MAX_DOWNTIME_LIMIT_MS: u64 = 2_000_000;

/// The migration flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Pre-copy.
    Precopy,
    /// Pre-copy with XBZRLE.
    Xbzrle,
    /// Pre-copy passes, then post-copy.
    Postcopy,
}

/// Auto-converge settings, in QEMU's percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AutoConverge {
    /// `cpu-throttle-initial`.
    pub initial_pct: u64,
    /// `cpu-throttle-increment`.
    pub increment_pct: u64,
    /// `throttle-trigger-threshold`.
    pub trigger_pct: u64,
}

/// What QEMU is told to do.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MigrationConfig {
    /// The registry name asked for.
    pub algorithm: String,
    /// Its flavour.
    pub mode: Mode,
    /// `downtime-limit` in ms.
    pub downtime_limit_ms: u64,
    /// `max-bandwidth` in bytes/s.
    pub max_bandwidth: u64,
    /// `xbzrle-cache-size` in bytes (XBZRLE only).
    pub xbzrle_cache_size: Option<u64>,
    /// Auto-converge, if on.
    pub auto_converge: Option<AutoConverge>,
    /// Post-copy: complete pre-copy passes before `migrate-start-postcopy`.
    pub precopy_passes: Option<u64>,
    /// `multifd-channels`, if multifd is on.
    pub multifd_channels: Option<u64>,
    /// The scenario's `migration.timeout`.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// What happens at the timeout.
    pub on_timeout: OnTimeout,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl MigrationConfig {
    /// The capabilities to turn on (`migrate-set-capabilities`), on both sides. `events` makes
    /// QEMU emit `MIGRATION` (status changes) and `MIGRATION_PASS` (each dirty sync) events.
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = vec!["events"];
        match self.mode {
            Mode::Precopy => {}
            Mode::Xbzrle => caps.push("xbzrle"),
            // postcopy-blocktime: the destination measures how long vCPUs waited for pages.
            Mode::Postcopy => caps.extend(["postcopy-ram", "postcopy-blocktime"]),
        }
        if self.auto_converge.is_some() {
            caps.push("auto-converge");
        }
        if self.multifd_channels.is_some() {
            caps.push("multifd");
        }
        caps
    }

    /// The parameters to set (`migrate-set-parameters`) on the source.
    pub fn parameters(&self) -> serde_json::Value {
        let mut p = serde_json::json!({
            "downtime-limit": self.downtime_limit_ms,
            "max-bandwidth": self.max_bandwidth,
        });
        if let Some(c) = self.xbzrle_cache_size {
            p["xbzrle-cache-size"] = c.into();
        }
        if let Some(a) = self.auto_converge {
            p["cpu-throttle-initial"] = a.initial_pct.into();
            p["cpu-throttle-increment"] = a.increment_pct.into();
            p["throttle-trigger-threshold"] = a.trigger_pct.into();
        }
        if let Some(n) = self.multifd_channels {
            p["multifd-channels"] = n.into();
        }
        p
    }
}

/// Whether `info` declares a parameter called `name` (in any of its tables).
fn declared(info: &AlgorithmInfo, name: &str) -> bool {
    info.sections().any(|(_, specs)| specs.iter().any(|s| s.name == name))
}

fn resolve(info: &AlgorithmInfo, s: &Scenario) -> Result<Params, QemuError> {
    algorithms::build(info, &s.params).map(|(_, p)| p).map_err(|e| QemuError::Unsupported(e.to_string()))
}

fn percent(field: &str, fraction: f64, lo: u64, hi: u64) -> Result<u64, QemuError> {
    let pct = (fraction * 100.0).round();
    if pct < lo as f64 || pct > hi as f64 {
        return Err(QemuError::Unsupported(format!(
            "{field}: {fraction} is out of QEMU's range: accepted {} to {}",
            lo as f64 / 100.0,
            hi as f64 / 100.0
        )));
    }
    Ok(pct as u64)
}

/// What QEMU is told for `algorithm` on `s` (one line naming the field for what QEMU cannot do).
pub fn config_for(s: &Scenario, algorithm: &str) -> Result<MigrationConfig, QemuError> {
    let mode = match algorithm {
        "precopy-qemu" => Mode::Precopy,
        "xbzrle" => Mode::Xbzrle,
        "postcopy-qemu" => Mode::Postcopy,
        other => {
            return Err(QemuError::Unsupported(format!("algorithm: QEMU has no '{other}': accepted {}", ALGORITHMS.join(", "))));
        }
    };
    // The registry entry whose parameters apply.
    let info = algorithms::find(algorithm)
        .ok_or_else(|| QemuError::Unsupported(format!("algorithm: '{algorithm}' is not registered in the core")))?;
    let p = resolve(info, s)?;
    let f = |name: &str| declared(info, name).then(|| p.float(name));
    let downtime_limit_ms = f("downtime_limit").map_or(300, |d| ((d * 1000.0).round() as u64).clamp(1, MAX_DOWNTIME_LIMIT_MS));
    let section = info.base.map_or(info.section, |b| b.0);
    let auto_converge = if declared(info, "auto_converge") && p.bool("auto_converge") {
        Some(AutoConverge {
            initial_pct: percent(&format!("params.{section}.throttle_initial"), p.float("throttle_initial"), 1, 99)?,
            increment_pct: percent(&format!("params.{section}.throttle_increment"), p.float("throttle_increment"), 1, 99)?,
            trigger_pct: percent(&format!("params.{section}.throttle_trigger"), p.float("throttle_trigger"), 1, 100)?,
        })
    } else {
        None
    };
    let max_bandwidth = f("max_bandwidth").map_or(DEFAULT_MAX_BANDWIDTH, |b| b.round() as u64);
    let multifd_channels = (s.host.send_threads > 1).then_some(u64::from(s.host.send_threads));
    let xbzrle_cache_size = (mode == Mode::Xbzrle).then(|| f("cache_size").map_or(64 << 20, |b| b as u64));
    if let Some(size) = xbzrle_cache_size {
        // QEMU 7.2 (migration/migration.c migrate_params_check, ram.c xbzrle_cache_resize): a
        // power of two of at least a page; the cache is of no use beyond the guest's memory.
        if !size.is_power_of_two() || size < 4096 || size > s.vm.memory.0 {
            return Err(QemuError::Unsupported(format!(
                "params.delta.cache_size: {} is not accepted by QEMU: accepted a power of two from 4 KiB to the guest's memory ({})",
                livemig_core::units::ByteSize(size),
                s.vm.memory
            )));
        }
    }
    let precopy_passes = (mode == Mode::Postcopy).then(|| p.int("precopy_passes").max(0) as u64);
    if mode == Mode::Postcopy && multifd_channels.is_some() {
        return Err(QemuError::Unsupported(
            "host.send_threads: QEMU 7.2 cannot combine multifd with post-copy: accepted 1 (no multifd) for postcopy-qemu".into(),
        ));
    }
    Ok(MigrationConfig {
        algorithm: algorithm.to_string(),
        mode,
        downtime_limit_ms,
        max_bandwidth,
        xbzrle_cache_size,
        auto_converge,
        precopy_passes,
        multifd_channels,
        timeout: Duration::from_secs_f64(s.migration.timeout.0),
        on_timeout: s.migration.on_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parameters_and_refuses_other_algorithms() {
        let s = Scenario::parse_with_overrides(
            "[vm]\nmemory = \"128 MiB\"",
            &[
                "params.precopy.downtime_limit=\"50 ms\"".into(),
                "params.precopy.auto_converge=true".into(),
                "params.delta.cache_size=\"16 MiB\"".into(),
            ],
        )
        .unwrap();
        let c = config_for(&s, "xbzrle").unwrap();
        assert_eq!(c.downtime_limit_ms, 50);
        assert_eq!(c.xbzrle_cache_size, Some(16 << 20));
        assert_eq!(c.auto_converge, Some(AutoConverge { initial_pct: 20, increment_pct: 10, trigger_pct: 50 }));
        assert_eq!(c.capabilities(), vec!["events", "xbzrle", "auto-converge"]);
        assert_eq!(c.parameters()["downtime-limit"], 50);
        let c = config_for(&s, "postcopy-qemu").unwrap();
        assert_eq!(c.precopy_passes, Some(1));
        assert!(c.capabilities().contains(&"postcopy-ram"));
        let e = config_for(&s, "tsmc").unwrap_err().to_string();
        assert_eq!(e, "algorithm: QEMU has no 'tsmc': accepted precopy-qemu, xbzrle, postcopy-qemu");
        for size in ["1 GiB", "48 MiB"] {
            let bad =
                Scenario::parse_with_overrides("[vm]\nmemory = \"128 MiB\"", &[format!("params.delta.cache_size=\"{size}\"")]).unwrap();
            assert!(config_for(&bad, "xbzrle").unwrap_err().to_string().starts_with("params.delta.cache_size:"), "{size}");
        }
        let hi =
            Scenario::parse_with_overrides("", &["params.precopy.auto_converge=true".into(), "params.precopy.throttle_trigger=2".into()])
                .unwrap();
        assert!(config_for(&hi, "precopy-qemu").unwrap_err().to_string().starts_with("params.precopy.throttle_trigger: 2 is out of"));
    }
}
