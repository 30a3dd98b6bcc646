//! Preset scenarios shipped with the core (the CLI and the playground both offer them by name).

use crate::scenario::{Scenario, ScenarioError};

/// `(name, TOML text)` of every preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("idle-vm", include_str!("../presets/idle-vm.toml")),
    ("web-server", include_str!("../presets/web-server.toml")),
    ("write-hot-database", include_str!("../presets/write-hot-database.toml")),
    ("memtester", include_str!("../presets/memtester.toml")),
    ("diabolical", include_str!("../presets/diabolical.toml")),
    ("slow-wan", include_str!("../presets/slow-wan.toml")),
    ("task-phases", include_str!("../presets/task-phases.toml")),
];

/// The preset called `name`, parsed.
pub fn preset(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| Scenario::from_toml_str(text))
}

/// The TOML text of the preset called `name`.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The benchmark scenario of `livemig bench` and `cargo bench`: a `gib` GiB VM with a hot/cold
/// workload (20,000 writes/s and 20,000 reads/s over a quarter of memory, 90% of accesses on its
/// hottest tenth) migrating over a 1 Gbit/s link.
pub fn benchmark(gib: u64) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml_str(&format!(
        r#"
name = "bench-{gib}GiB"
description = "benchmark: {gib} GiB, hot/cold writes and reads, 1 Gbit/s"
[vm]
memory = "{gib} GiB"
[workload]
pattern = "hot-cold"
write_rate = "20000 pages/s"
read_rate = "20000 pages/s"
working_set = "{ws} MiB"
hot_fraction = 0.1
hot_probability = 0.9
[link]
bandwidth = "1 Gbit/s"
latency = "0.1 ms"
[migration]
timeout = "2 h"
"#,
        ws = gib * 256
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_preset_parses() {
        for (name, _) in super::PRESETS {
            let s = super::preset(name).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn the_benchmark_scenario_is_valid_up_to_64_gib() {
        for gib in [1, 4, 16, 64] {
            let s = super::benchmark(gib).unwrap();
            s.validate().unwrap();
            assert_eq!(s.page_count(), gib << 18);
        }
    }
}
