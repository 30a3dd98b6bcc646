//! `cargo xtask fuzz [--time SECS] [TARGET...]`: coverage-guided fuzzing of the parsers and
//! decoders with libFuzzer, on the stable toolchain.
//!
//! The targets are the `fuzz/` crate's binaries ([`TARGETS`]). They are built in release mode
//! with LLVM's SanitizerCoverage passes (`-Cpasses=sancov-module` and its `-Cllvm-args`, which
//! stable rustc accepts: cargo-fuzz passes the same, plus a sanitizer, which needs nightly) and
//! linked with `libfuzzer-sys`, into `target/fuzz/`. Each target then runs for SECS seconds
//! (60 by default) from its seeds in `fuzz/corpus/TARGET/`; what it learns goes to
//! `target/fuzz/corpus/TARGET/`, and an input that crashes, hangs or goes over the memory bound
//! to `target/fuzz/artifacts/TARGET/`, with libFuzzer's log in `target/fuzz/logs/TARGET.log`.
//!
//! Bounds per input: at most 64 KiB (`-max_len`), 2 s (`-timeout`: longer is a hang), 64 MiB of
//! live Rust heap (the harness's allocator, `fuzz/src/lib.rs`: more is a crash) and 2 GiB of
//! RSS for the whole process (`-rss_limit_mb`).
//!
//! Prints executions, seconds and findings per target; fails if any target found something.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fuzz targets, in the order they run.
pub const TARGETS: &[&str] = &["scenario", "set", "vary", "link", "assignment", "answers", "trace", "codec", "wire", "receiver"];
/// Seconds per target unless `--time` says otherwise.
const DEFAULT_SECS: u64 = 60;
/// Largest input, bytes (as `MAX_INPUT` in `fuzz/src/lib.rs`).
const MAX_LEN: usize = 64 << 10;
/// Seconds after which one input counts as a hang.
const INPUT_TIMEOUT_S: u64 = 2;
/// RSS bound of a fuzzing process, MiB.
const RSS_LIMIT_MB: u64 = 2048;
/// The instrumentation (what cargo-fuzz passes, without a sanitizer).
const RUSTFLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing";

/// What one target's run found.
struct Outcome {
    target: &'static str,
    executions: u64,
    seconds: f64,
    findings: Vec<PathBuf>,
}

/// Runs `cargo xtask fuzz ARGS`.
pub fn fuzz(args: &[String]) -> Result<()> {
    let (secs, targets) = parse_args(args)?;
    let host = host_triple()?;
    build(&host)?;
    let bin_dir = Path::new("target/fuzz").join(&host).join("release");
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(run_target(&bin_dir, target, secs)?);
    }
    print_table(&outcomes);
    let found: usize = outcomes.iter().map(|o| o.findings.len()).sum();
    if found > 0 {
        bail!("{found} finding(s): the inputs are in target/fuzz/artifacts/ (run a target's binary on one to reproduce it)");
    }
    Ok(())
}

/// `--time SECS` and the targets (all when none is named).
fn parse_args(args: &[String]) -> Result<(u64, Vec<&'static str>)> {
    let mut secs = DEFAULT_SECS;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                let v = it.next().context("--time needs a number of seconds")?;
                secs = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .with_context(|| format!("--time: '{v}': accepted 1 to 86400 seconds"))?;
            }
            name => match TARGETS.iter().find(|t| **t == name) {
                Some(t) => targets.push(*t),
                None => bail!("unknown fuzz target '{name}': accepted {}", TARGETS.join(", ")),
            },
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    Ok((secs, targets))
}

/// The host's target triple (`rustc -vV`): building for it explicitly keeps the
/// instrumentation out of build scripts and proc macros.
fn host_triple() -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_string).context("rustc -vV printed no host")
}

/// Builds every target, instrumented.
fn build(host: &str) -> Result<()> {
    println!("\n==> building the fuzz targets (release, SanitizerCoverage, libFuzzer)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bins", "--manifest-path", "fuzz/Cargo.toml", "--target", host])
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", "target/fuzz")
        .status()
        .context("starting cargo build")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    Ok(())
}

/// Runs one target for `secs` seconds and reads its final statistics.
fn run_target(bin_dir: &Path, target: &'static str, secs: u64) -> Result<Outcome> {
    let work = Path::new("target/fuzz/corpus").join(target);
    let artifacts = Path::new("target/fuzz/artifacts").join(target);
    let logs = Path::new("target/fuzz/logs");
    for dir in [&work, &artifacts, &logs.to_path_buf()] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let before = list(&artifacts)?;
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    println!("\n==> fuzzing {target} for {secs} s (log: {})", log_path.display());
    let start = Instant::now();
    let mut child = Command::new(bin_dir.join(target))
        .arg(&work)
        .arg(Path::new("fuzz/corpus").join(target))
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-max_len={MAX_LEN}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting the {target} fuzzer"))?;
    // libFuzzer stops itself; this is the backstop for a fuzzer that does not.
    let limit = Duration::from_secs(secs + 120);
    while child.try_wait()?.is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the {target} fuzzer ran past {} s and was stopped", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let seconds = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let executions = stat(&text, "stat::number_of_executed_units:").unwrap_or(0);
    let findings: Vec<PathBuf> = list(&artifacts)?.into_iter().filter(|p| !before.contains(p)).collect();
    for f in &findings {
        println!("   {target}: {}", f.display());
    }
    Ok(Outcome { target, executions, seconds, findings })
}

/// The files in `dir`.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        out.push(e?.path());
    }
    Ok(out)
}

/// The number after `key` in libFuzzer's final statistics.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
}

/// The per-target summary.
fn print_table(outcomes: &[Outcome]) {
    println!("\n{:<12} {:>12} {:>9} {:>10} {:>9}", "target", "executions", "seconds", "exec/s", "findings");
    for o in outcomes {
        let rate = o.executions as f64 / o.seconds.max(1e-9);
        println!("{:<12} {:>12} {:>9.1} {:>10.0} {:>9}", o.target, o.executions, o.seconds, rate, o.findings.len());
    }
}
