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
];

/// The preset called `name`, parsed.
pub fn preset(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| Scenario::from_toml_str(text))
}

/// The TOML text of the preset called `name`.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
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
}
