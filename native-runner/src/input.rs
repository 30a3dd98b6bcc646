//! Loading scenarios named on the command line, and the distinction between bad input (exit 2)
//! and failures of the run itself (exit 1).

use livemig_core::presets::{preset_text, PRESETS};
use livemig_core::Scenario;
use std::path::Path;

/// Bad input: a scenario, flag or value the user can fix. Exits with status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand for returning bad input.
pub fn bad(msg: impl Into<String>) -> anyhow::Error {
    BadInput(msg.into()).into()
}

/// Loads SCENARIO (a file path, or a preset name) and applies `--set` overrides.
pub fn load_scenario(arg: &str, overrides: &[String]) -> anyhow::Result<Scenario> {
    let path = Path::new(arg);
    let (text, origin) = if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("SCENARIO: cannot read '{arg}': {e}")))?;
        (text, arg.to_string())
    } else if let Some(text) = preset_text(arg) {
        (text.to_string(), format!("preset {arg}"))
    } else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        return Err(bad(format!(
            "SCENARIO: no file '{arg}' and no preset of that name: accepted a TOML or JSON file, or one of {}",
            names.join(", ")
        )));
    };
    Scenario::parse_with_overrides(&text, overrides).map_err(|e| bad(format!("{origin}: {e}")))
}

/// Resolves the algorithm names given to `flag` (e.g. `--algorithms`), checking each exists.
pub fn algorithm_names(flag: &str, list: Option<&str>, default: Vec<&'static str>) -> anyhow::Result<Vec<String>> {
    let Some(list) = list else {
        return Ok(default.into_iter().map(String::from).collect());
    };
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err(bad(format!("{flag}: empty list: accepted comma-separated names such as precopy-xen,postcopy")));
    }
    for n in &names {
        check_algorithm(flag, n)?;
    }
    Ok(names)
}

/// Checks that an algorithm name given to `flag` (e.g. `--algorithm`) is registered.
pub fn check_algorithm(flag: &str, name: &str) -> anyhow::Result<()> {
    if livemig_core::algorithms::find(name).is_none() {
        return Err(bad(format!("{flag}: unknown algorithm '{name}': accepted {}", livemig_core::algorithms::names().join(", "))));
    }
    Ok(())
}

/// Runs a simulation, turning core input errors into bad input.
pub fn simulate(
    scenario: &Scenario,
    algorithm: Option<&str>,
    detail: livemig_core::trace::TraceDetail,
) -> anyhow::Result<livemig_core::Run> {
    livemig_core::simulate(scenario, algorithm, detail).map_err(|e| match e {
        livemig_core::Error::Context(_) => anyhow::Error::new(e),
        other => bad(other.to_string()),
    })
}
