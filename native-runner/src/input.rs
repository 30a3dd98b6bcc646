//! Loading scenarios named on the command line, and the distinction between bad input (exit 2)
//! and failures of the run itself (exit 1).

use livemig_core::cost::{Cost, Limits};
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

/// The largest input file `livemig` reads (a scenario, an assignment, an answers file, a
/// scenario an assignment names): 16 MiB, hundreds of times any real one (the playground's
/// bound too).
pub const MAX_INPUT_BYTES: u64 = livemig_core::scenario::MAX_INPUT_BYTES;

/// What kind of file a non-regular file is, for messages.
pub fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the input file `path` given as `what` (e.g. `SCENARIO`) as text, with a bound: a
/// regular file (a symbolic link to one is followed), at most [`MAX_INPUT_BYTES`], UTF-8. A
/// device, FIFO or directory is refused before it is opened, so `/dev/zero` or a FIFO with no
/// writer cannot tie the run up. The error is the one-line message.
pub fn read_input(what: &str, path: &Path) -> Result<String, String> {
    use std::io::Read;
    let shown = path.display();
    let refuse = |why: String| format!("{what}: '{shown}' {why}: accepted a regular file of up to {} MiB", MAX_INPUT_BYTES >> 20);
    let meta = std::fs::metadata(path).map_err(|e| format!("{what}: cannot read '{shown}': {e}"))?;
    if !meta.is_file() {
        return Err(refuse(format!("is {}", file_kind(meta.file_type()))));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(refuse(format!("is {} bytes", meta.len())));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{what}: cannot read '{shown}': {e}"))?;
    let mut bytes = Vec::new();
    // The file may have grown since: read one byte past the bound to know.
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("{what}: cannot read '{shown}': {e}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(refuse(format!("is more than {} MiB", MAX_INPUT_BYTES >> 20)));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("{what}: '{shown}' is not UTF-8 text (byte {}): accepted a TOML or JSON file", e.utf8_error().valid_up_to()))
}

/// Loads SCENARIO (a file path, or a preset name) and applies `--set` overrides.
pub fn load_scenario(arg: &str, overrides: &[String]) -> anyhow::Result<Scenario> {
    let path = Path::new(arg);
    // Anything at the path (a file, a link, a device) is what the user meant, not a preset.
    if path.symlink_metadata().is_ok() {
        let text = read_input("SCENARIO", path).map_err(bad)?;
        return Scenario::parse_file_with_overrides(&text, overrides).map_err(|e| bad(format!("{arg}: {e}")));
    }
    let Some(text) = preset_text(arg) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        return Err(bad(format!(
            "SCENARIO: no file '{arg}' and no preset of that name: accepted a TOML or JSON file, or one of {}",
            names.join(", ")
        )));
    };
    Scenario::parse_with_overrides(text, overrides).map_err(|e| bad(format!("preset {arg}: {e}")))
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

/// The caps of this process's simulations (`--max-accesses`, `--max-pages`,
/// `--max-trace-size`), set once from the command line.
static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();

/// Sets the caps every [`simulate`] checks (the defaults until then).
pub fn set_limits(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// Accesses above which a run within the caps still says, once, how many it may take.
const NOTE_ACCESSES: f64 = 2e8;

/// Refuses, as bad input, a run whose estimated cost ([`Cost`]) is over a cap; says once on
/// standard error when a run within the caps may still take long.
pub fn check_cost(scenario: &Scenario, detail: livemig_core::trace::TraceDetail) -> anyhow::Result<()> {
    static NOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let limits = LIMITS.get().copied().unwrap_or_default();
    let cost = Cost::of(scenario, detail);
    limits.check(scenario, detail, &cost).map_err(|e| bad(e.to_string()))?;
    if cost.accesses > NOTE_ACCESSES && !NOTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "livemig: note: {}: up to {} guest accesses to simulate (the cap is {}: --max-accesses)",
            scenario.name,
            livemig_core::units::short(cost.accesses.round()),
            livemig_core::units::short(limits.accesses)
        );
    }
    Ok(())
}

/// Runs a simulation (within the caps: [`check_cost`]), turning core input errors into bad
/// input. Above the summary detail the trace is also held to `--max-trace-size` as it is
/// recorded (the estimate refuses most traces over it up front; this catches the rest, in
/// bounded memory, and names the size the trace would reach).
pub fn simulate(
    scenario: &Scenario,
    algorithm: Option<&str>,
    detail: livemig_core::trace::TraceDetail,
) -> anyhow::Result<livemig_core::Run> {
    check_cost(scenario, detail)?;
    let limits = LIMITS.get().copied().unwrap_or_default();
    let max_trace_bytes = (detail > livemig_core::trace::TraceDetail::Summary).then_some(limits.trace_bytes);
    let options = livemig_core::sim::SimOptions { detail, max_trace_bytes };
    livemig_core::simulate_with(scenario, algorithm, options).map_err(|e| match e {
        livemig_core::Error::Context(_) => anyhow::Error::new(e),
        other => bad(other.to_string()),
    })
}

/// Parses a size given to `flag` (`--memory 64MiB`) within `range`, in whole `grain` bytes;
/// out of range or not a size is bad input naming the flag and `accepted`.
pub fn parse_size(flag: &str, text: &str, range: std::ops::RangeInclusive<u64>, grain: u64, accepted: &str) -> anyhow::Result<u64> {
    // Read as a scenario field is (a TOML string), so that every unit the scenario takes works.
    #[derive(serde::Deserialize)]
    struct M {
        m: livemig_core::units::ByteSize,
    }
    let size = toml::from_str::<toml::Value>(&format!("m = {text:?}")).ok().and_then(|v| v.try_into::<M>().ok()).map(|m| m.m.0);
    match size {
        Some(b) if range.contains(&b) && b % grain == 0 => Ok(b),
        Some(_) => Err(bad(format!("{flag}: '{text}' is out of range: {accepted}"))),
        None => Err(bad(format!("{flag}: '{text}' is not a size: {accepted}"))),
    }
}
