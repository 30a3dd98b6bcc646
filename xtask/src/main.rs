//! `cargo xtask`: set-up and test orchestration for LiveMig Lab.
//!
//! * `cargo xtask test` installs what the tests need on a fresh machine (skipping whatever is
//!   already there) and runs every check: the core for wasm32, rustfmt, clippy, the unit, property,
//!   black-box and doc tests, and a release-build smoke run of every algorithm on every preset
//!   plus the benchmark table.
//!
//! Each step prints what it runs; the first failing step stops the run with its exit status.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The preset scenarios the release smoke run goes through (all of `core/presets`).
const PRESETS: &[&str] = &["idle-vm", "web-server", "write-hot-database", "memtester", "diabolical", "slow-wan", "task-phases"];
/// No single smoke command may take longer than this; a hang fails the run instead of CI's clock.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(300);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("setup") => setup(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 setup   install what the tests need (wasm32 target, clippy, rustfmt), skipping what is there\n  \
                 test    setup, then run every check (wasm32 build, rustfmt, clippy, tests, release smoke run)"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs a command, streaming its output; fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    println!("$ {program} {}", args.join(" "));
    let status = Command::new(program).args(args).status().with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs a command with a time limit, streaming its output.
fn run_limited(program: &Path, args: &[&str], limit: Duration) -> Result<()> {
    println!("$ {} {}", program.display(), args.join(" "));
    let mut child = Command::new(program).args(args).spawn().with_context(|| format!("starting {}", program.display()))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("`{} {}` failed ({status})", program.display(), args.join(" "));
            }
            return Ok(());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{} {}` took longer than {} s and was stopped", program.display(), args.join(" "), limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn output_of(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("starting {program}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn setup() -> Result<()> {
    step("set-up: Rust target wasm32-unknown-unknown");
    if output_of("rustup", &["target", "list", "--installed"])?.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("already installed");
    } else {
        run("rustup", &["target", "add", WASM_TARGET])?;
    }
    for (component, probe) in [("clippy", "clippy"), ("rustfmt", "fmt")] {
        step(&format!("set-up: Rust component {component}"));
        let present = Command::new("cargo").args([probe, "--version"]).output().is_ok_and(|o| o.status.success());
        if present {
            println!("already installed");
        } else {
            run("rustup", &["component", "add", component])?;
        }
    }
    Ok(())
}

fn test() -> Result<()> {
    let started = Instant::now();
    setup()?;

    step("the core builds for wasm32 (no OS or web dependencies)");
    run("cargo", &["build", "--package", "livemig-core", "--target", WASM_TARGET])?;

    step("formatting (rustfmt.toml)");
    run("cargo", &["fmt", "--all", "--check"])?;

    step("clippy, warnings are errors");
    run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;

    step("unit, property, black-box and doc tests");
    run("cargo", &["test", "--workspace"])?;

    step("release smoke run: every algorithm on every preset, then the benchmark table");
    run("cargo", &["build", "--release", "--package", "livemig-runner"])?;
    let livemig = workspace_root().join("target/release/livemig");
    for preset in PRESETS {
        run_limited(&livemig, &["compare", preset], SMOKE_TIMEOUT)?;
    }
    run_limited(&livemig, &["bench", "--sizes", "1,4,16"], SMOKE_TIMEOUT)?;

    println!("\nall checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
