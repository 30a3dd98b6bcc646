//! `cargo xtask fingerprint [--update]`: proof that a change kept the simulator's behaviour.
//!
//! Every preset is run with every registered algorithm through the release CLI, three ways:
//!
//! * `report`: `livemig simulate PRESET -a ALG --json` (the summary report),
//! * `rounds`: `livemig simulate PRESET -a ALG --csv --per-round` (the per-round table),
//! * `trace`: `livemig trace PRESET -a ALG --detail pages -o -` (what the playground replays),
//!
//! and each output's length and SHA-256 are compared with [`FINGERPRINTS`], the committed record.
//! A refactoring must leave every line as it is; a change that means to alter the simulator's
//! numbers (a model fix) rewrites the record with `--update`, and the diff of that file in the
//! commit shows exactly which presets and algorithms it moved.
//!
//! The presets and algorithms come from the CLI itself (`livemig presets`, `livemig algorithms
//! --json`), so a new one is fingerprinted without editing this file.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The committed record, relative to the workspace root.
pub const FINGERPRINTS: &str = "xtask/fingerprints.tsv";

/// The three outputs of each preset and algorithm: name, then the CLI arguments after
/// `PRESET -a ALG`.
const OUTPUTS: &[(&str, &[&str])] =
    &[("report", &["--json"]), ("rounds", &["--csv", "--per-round"]), ("trace", &["--detail", "pages", "-o", "-"])];

/// One output's identity: `(preset, algorithm, output)`.
type Key = (String, String, String);
/// Its length in bytes and SHA-256 (hex).
type Print = (usize, String);

/// Runs `cargo xtask fingerprint ARGS` with the release CLI at `livemig`.
pub fn fingerprint(livemig: &Path, args: &[String]) -> Result<()> {
    let update = match args {
        [] => false,
        [flag] if flag == "--update" => true,
        _ => bail!("cargo xtask fingerprint: expected no argument or --update, got `{}`", args.join(" ")),
    };
    let presets = presets(livemig)?;
    let algorithms = algorithms(livemig)?;
    let jobs: Vec<Key> = presets
        .iter()
        .flat_map(|p| algorithms.iter().map(move |a| (p.clone(), a.clone())))
        .flat_map(|(p, a)| OUTPUTS.iter().map(move |(o, _)| (p.clone(), a.clone(), (*o).to_string())))
        .collect();
    println!("{} presets x {} algorithms x {} outputs = {} runs", presets.len(), algorithms.len(), OUTPUTS.len(), jobs.len());
    let measured = run_all(livemig, &jobs)?;
    let path = Path::new(FINGERPRINTS);
    if update {
        std::fs::write(path, render(&measured)).with_context(|| format!("writing {FINGERPRINTS}"))?;
        println!("wrote {} fingerprints to {FINGERPRINTS}", measured.len());
        return Ok(());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {FINGERPRINTS} (write it with --update)"))?;
    let recorded = parse(&text)?;
    let mut differences = Vec::new();
    for (key, print) in &measured {
        match recorded.get(key) {
            Some(r) if r == print => {}
            Some(r) => differences.push(format!(
                "{} {} {}: {} bytes {} (recorded {} bytes {})",
                key.0,
                key.1,
                key.2,
                print.0,
                &print.1[..12],
                r.0,
                &r.1[..12]
            )),
            None => differences.push(format!("{} {} {}: not in the record", key.0, key.1, key.2)),
        }
    }
    for key in recorded.keys().filter(|k| !measured.contains_key(*k)) {
        differences.push(format!("{} {} {}: recorded but no longer produced", key.0, key.1, key.2));
    }
    if differences.is_empty() {
        println!("all {} outputs are byte-identical to {FINGERPRINTS}", measured.len());
        Ok(())
    } else {
        for d in &differences {
            println!("  differs: {d}");
        }
        bail!(
            "{} of {} outputs differ from {FINGERPRINTS}: a refactoring must not change them; a deliberate model change \
             records them with `cargo xtask fingerprint --update`",
            differences.len(),
            measured.len()
        )
    }
}

/// The preset names `livemig presets` lists (the first word of each line).
fn presets(livemig: &Path) -> Result<Vec<String>> {
    let out = capture(livemig, &["presets"])?;
    let text = String::from_utf8(out).context("`livemig presets` printed something that is not UTF-8")?;
    let names: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    if names.is_empty() {
        bail!("`livemig presets` listed no preset");
    }
    Ok(names)
}

/// The algorithm names `livemig algorithms --json` lists.
fn algorithms(livemig: &Path) -> Result<Vec<String>> {
    let out = capture(livemig, &["algorithms", "--json"])?;
    let text = String::from_utf8(out).context("`livemig algorithms --json` printed something that is not UTF-8")?;
    let names = json_names(&text)?;
    if names.is_empty() {
        bail!("`livemig algorithms --json` listed no algorithm");
    }
    Ok(names)
}

/// The `name` of every object in the algorithm list.
fn json_names(text: &str) -> Result<Vec<String>> {
    let list: Vec<serde_json::Value> = serde_json::from_str(text).context("`livemig algorithms --json` is not a JSON array")?;
    list.iter().map(|a| a["name"].as_str().map(str::to_string).context("an entry of `livemig algorithms --json` has no name")).collect()
}

/// Runs every job on as many threads as the machine has cores; the first failure is returned.
fn run_all(livemig: &Path, jobs: &[Key]) -> Result<BTreeMap<Key, Print>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = Mutex::new(0usize);
    let results = Mutex::new(BTreeMap::new());
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(key) = jobs.get(i) else { break };
                if failure.lock().unwrap().is_some() {
                    break;
                }
                match run_one(livemig, key) {
                    Ok(print) => {
                        results.lock().unwrap().insert(key.clone(), print);
                    }
                    Err(e) => {
                        failure.lock().unwrap().get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap())
}

/// One output's length and hash.
fn run_one(livemig: &Path, (preset, algorithm, output): &Key) -> Result<Print> {
    let extra = OUTPUTS.iter().find(|(o, _)| o == output).map(|(_, a)| *a).unwrap_or_default();
    let command = if output == "trace" { "trace" } else { "simulate" };
    let mut args = vec![command, preset.as_str(), "-a", algorithm.as_str()];
    args.extend_from_slice(extra);
    let out = capture(livemig, &args)?;
    let hash = Sha256::digest(&out).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok((out.len(), hash))
}

/// No single CLI run may take longer than this: a hang fails the check instead of CI's clock.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Standard output of `livemig ARGS`, which must succeed within [`RUN_LIMIT`].
fn capture(livemig: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let shown = || format!("livemig {}", args.join(" "));
    let mut child = Command::new(livemig)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", livemig.display()))?;
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = stderr.read_to_string(&mut buf);
        buf
    });
    let status = super::wait_within(&mut child, Some(RUN_LIMIT), &shown())?;
    let out = out_reader.join().expect("reader thread").with_context(|| format!("reading the output of `{}`", shown()))?;
    let err = err_reader.join().expect("reader thread");
    if !status.success() {
        bail!("`{}` failed ({status}): {}", shown(), err.trim());
    }
    Ok(out)
}

/// The record's text: a header, then one tab-separated line per output, sorted.
fn render(prints: &BTreeMap<Key, Print>) -> String {
    let mut text = String::from(
        "# Fingerprints of every preset x algorithm output (cargo xtask fingerprint; see xtask/src/fingerprint.rs).\n\
         # preset\talgorithm\toutput\tbytes\tsha256\n",
    );
    for ((p, a, o), (len, hash)) in prints {
        let _ = writeln!(text, "{p}\t{a}\t{o}\t{len}\t{hash}");
    }
    text
}

/// The record, parsed back.
fn parse(text: &str) -> Result<BTreeMap<Key, Print>> {
    let mut prints = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [p, a, o, len, hash] = fields[..] else {
            bail!("{FINGERPRINTS} line {}: expected 5 tab-separated fields, found {}", n + 1, fields.len());
        };
        let len = len.parse().with_context(|| format!("{FINGERPRINTS} line {}: bytes `{len}` is not a count", n + 1))?;
        if hash.len() != 64 {
            bail!("{FINGERPRINTS} line {}: sha256 `{hash}` is not 64 hex digits", n + 1);
        }
        prints.insert((p.to_string(), a.to_string(), o.to_string()), (len, hash.to_string()));
    }
    Ok(prints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_the_top_level_names() {
        let json = r#"[{"name":"precopy","params":[{"name":"max_rounds"}]},{"name": "tsmc","family":"x"}]"#;
        assert_eq!(json_names(json).unwrap(), ["precopy", "tsmc"]);
    }

    #[test]
    fn the_record_round_trips() {
        let mut prints = BTreeMap::new();
        prints.insert(("idle-vm".into(), "precopy".into(), "trace".into()), (12, "ab".repeat(32)));
        assert_eq!(parse(&render(&prints)).unwrap(), prints);
    }

    #[test]
    fn a_damaged_record_names_its_line() {
        let e = parse("# header\nidle-vm\tprecopy\ttrace\t12\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("5 tab-separated fields"), "{e}");
    }
}
