//! `cargo xtask`: set-up and test orchestration for LiveMig Lab.
//!
//! * `cargo xtask serve [--port N] [--release]` installs what the playground needs (the wasm32
//!   target, trunk, the wasm-bindgen CLI matching `Cargo.lock`) and serves it with
//!   `trunk serve --offline` on 127.0.0.1, printing the address once the first build is done.
//! * `cargo xtask test` installs what the tests need on a fresh machine (skipping whatever is
//!   already there) and runs every check: the core for wasm32, rustfmt, clippy (native and the web
//!   crate for wasm32), rustdoc (warnings are errors), the unit, property, black-box and doc
//!   tests, that the fuzz targets build, every algorithm on every preset byte-identical to
//!   `xtask/fingerprints.tsv`, the benchmark table, the release build of the playground and its
//!   browser tests in headless Chromium. QEMU (`qemu-system-x86`, for the QEMU peer's
//!   tests) is installed like Chromium, with apt-get, when it is missing.
//! * `cargo xtask browser-test [ARGS]`: only the playground's release build and browser tests
//!   (ARGS go to `node --test`, e.g. `tests/player.test.mjs`).
//! * `cargo xtask perf [ARGS]`: the release build of the playground, then
//!   `web/browser-tests/perf.mjs` (ARGS go to it): wasm size, first render, frame times.
//!
//! * `cargo xtask fingerprint [--update]`: every preset with every algorithm through the release
//!   CLI, each report, per-round table and trace compared byte for byte with the committed record
//!   (see [`fingerprint`]).
//! * `cargo xtask fuzz [--time SECS] [TARGET...]`: coverage-guided fuzzing of the parsers and
//!   decoders, SECS seconds per target (see [`fuzz`]).
//!
//! Each step prints what it runs; the first failing step stops the run with its exit status.

mod fingerprint;
mod fuzz;

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// No single smoke command may take longer than this; a hang fails the run instead of CI's clock.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(300);
/// Trunk 0.22 needs a newer rustc than this project's machines have; 0.21.14 builds with `--locked`.
const TRUNK_VERSION: &str = "0.21.14";
/// The web crate (built by trunk, linted for wasm32).
const WEB_CRATE: &str = "livemig-web";
/// The Node browser tests and the performance script.
const BROWSER_TESTS: &str = "web/browser-tests";
/// Where `cargo xtask test`/`perf` put the release playground (not `dist/`, which `trunk serve` owns).
const TEST_DIST: &str = "target/web-dist";
/// The browser the tests drive (Debian's package).
const CHROMIUM: &str = "/usr/bin/chromium";
/// QEMU for the QEMU peer's tests (`livemig qemu`, native-runner/tests/qemu.rs): Debian's
/// `qemu-system-x86`, and the qboot firmware from `qemu-system-data` (one of its dependencies).
const QEMU: &str = "/usr/bin/qemu-system-x86_64";
/// The firmware the QEMU peer boots with.
const QBOOT: &str = "/usr/share/qemu/qboot.rom";
/// The whole browser test run may not take longer than this.
const BROWSER_TESTS_TIMEOUT: Duration = Duration::from_secs(900);
/// The performance script may not take longer than this.
const PERF_TIMEOUT: Duration = Duration::from_secs(300);
/// Node's major version that playwright-core needs.
const NODE_MAJOR: u32 = 20;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  serve [--port N] [--release]
                  install what the playground needs (wasm32 target, trunk, wasm-bindgen CLI), then
                  serve it on http://127.0.0.1:8080/ (or --port) with `trunk serve --offline`
  setup           install what the tests need (wasm32 target, clippy, rustfmt, trunk, wasm-bindgen CLI,
                  QEMU, Chromium, the browser tests' npm packages), skipping what is there
  test            setup, then run every check (wasm32 build, rustfmt, clippy, docs, tests, the fuzz targets'
                  build, the fingerprints of every preset and algorithm, the benchmark table, the
                  playground's release build and its browser tests)
  browser-test [ARGS]
                  only the playground's release build and its browser tests (ARGS go to `node --test`,
                  e.g. tests/player.test.mjs)
  perf [ARGS]     the playground's release build, then its performance table (ARGS go to perf.mjs:
                  --seconds 5 --speed 4 --loads 5 --query '?v=1&...' --json)
  fingerprint [--update]
                  every preset with every algorithm through the release CLI: each report, per-round
                  table and trace must be byte-identical to xtask/fingerprints.tsv (--update rewrites
                  it after a deliberate model change)
  fuzz [--time SECS] [TARGET...]
                  coverage-guided fuzzing (libFuzzer, stable Rust) of the parsers and decoders, SECS
                  seconds per target (default 60; targets: scenario set vary link assignment answers
                  trace codec wire receiver); prints executions, time and findings per target";

fn main() {
    if let Err(e) = real_main() {
        eprintln!("\nxtask: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))?;
    put_cargo_bin_on_path();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("setup") => setup(),
        Some("serve") => serve(rest),
        Some("browser-test") => browser_test(rest),
        Some("perf") => perf(rest),
        Some("fuzz") => fuzz::fuzz(rest),
        Some("fingerprint") => fingerprint_command(rest),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Tools installed by `cargo install` land in `$CARGO_HOME/bin`; trunk finds wasm-bindgen on PATH.
fn put_cargo_bin_on_path() {
    let cargo_home =
        std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(bin) = cargo_home.map(|h| h.join("bin")) else { return };
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|p| p == bin) {
        return;
    }
    let joined = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).expect("PATH entries join");
    // Single-threaded here: nothing else reads the environment yet.
    std::env::set_var("PATH", joined);
}

fn step(title: &str) {
    println!("\n==> {title}");
}

/// Prints and runs a command, streaming its output; fails if it fails or outlives `limit`.
fn exec(cmd: &mut Command, limit: Option<Duration>) -> Result<()> {
    let shown = {
        let mut s = cmd.get_program().to_string_lossy().into_owned();
        for a in cmd.get_args() {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        if let Some(dir) = cmd.get_current_dir() {
            s = format!("(cd {} && {s})", dir.display());
        }
        s
    };
    println!("$ {shown}");
    let mut child = cmd.spawn().with_context(|| format!("starting `{shown}`"))?;
    let status = wait_within(&mut child, limit, &shown)?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Waits for `child` to exit; past `limit` (if any) kills it and fails, naming it `shown`.
fn wait_within(child: &mut std::process::Child, limit: Option<Duration>, shown: &str) -> Result<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if let Some(limit) = limit {
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`{shown}` took longer than {} s and was stopped", limit.as_secs());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command, streaming its output; fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    exec(Command::new(program).args(args), None)
}

/// Runs `cargo ARGS` with rustdoc's warnings (a broken intra-doc link, an unclosed HTML tag) as errors.
fn run_docs(args: &[&str]) -> Result<()> {
    exec(Command::new("cargo").args(args).env("RUSTDOCFLAGS", "-D warnings"), None)
}

/// Runs a command with a time limit, streaming its output.
fn run_limited(program: &Path, args: &[&str], limit: Duration) -> Result<()> {
    exec(Command::new(program).args(args), Some(limit))
}

fn output_of(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("starting {program}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first line a tool prints for `--version`, if it runs and succeeds.
fn version_of(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok().filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout).lines().next().map(|l| l.trim().to_string())
}

/// The version of `krate` that `Cargo.lock` pins (the only one, or an error if there are several).
fn locked_version(krate: &str) -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").context("reading Cargo.lock")?;
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{krate}\"") {
            if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \"")).and_then(|v| v.strip_suffix('"')) {
                versions.push(v.to_string());
            }
        }
    }
    match versions.as_slice() {
        [v] => Ok(v.clone()),
        [] => bail!("Cargo.lock has no {krate}: is {WEB_CRATE} still in the workspace?"),
        _ => bail!("Cargo.lock has several versions of {krate} ({}): trunk needs exactly one", versions.join(", ")),
    }
}

fn setup_wasm_target() -> Result<()> {
    step("set-up: Rust target wasm32-unknown-unknown");
    if output_of("rustup", &["target", "list", "--installed"])?.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("already installed");
    } else {
        run("rustup", &["target", "add", WASM_TARGET])?;
    }
    Ok(())
}

fn setup_rust() -> Result<()> {
    setup_wasm_target()?;
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

/// Trunk and the wasm-bindgen CLI that matches `Cargo.lock`.
fn setup_web_build() -> Result<()> {
    step(&format!("set-up: trunk {TRUNK_VERSION}"));
    let want = format!("trunk {TRUNK_VERSION}");
    match version_of("trunk") {
        Some(v) if v == want => println!("already installed ({v})"),
        found => {
            if let Some(v) = found {
                println!("found {v}, need {TRUNK_VERSION}: installing it in its place");
            }
            println!(
                "Installing trunk {TRUNK_VERSION} with cargo: this compiles about 400 crates and takes about 15 minutes \
                 on 2 cores. It is not hung; it happens once (then trunk is in ~/.cargo/bin)."
            );
            let _ = std::io::stdout().flush();
            run("cargo", &["install", "trunk", "--version", TRUNK_VERSION, "--locked"])?;
        }
    }

    let bindgen = locked_version("wasm-bindgen")?;
    step(&format!("set-up: wasm-bindgen CLI {bindgen} (the version Cargo.lock pins; trunk uses no other offline)"));
    let want = format!("wasm-bindgen {bindgen}");
    match version_of("wasm-bindgen") {
        Some(v) if v == want || v.starts_with(&format!("{want} ")) => println!("already installed ({v})"),
        found => {
            if let Some(v) = found {
                println!("found {v}, need {bindgen}: installing it in its place");
            }
            println!("Installing wasm-bindgen-cli {bindgen} with cargo: about 5 minutes on 2 cores, once.");
            let _ = std::io::stdout().flush();
            // No --locked: the CLI's own lockfile names a crate version the registry no longer has.
            run("cargo", &["install", "wasm-bindgen-cli", "--version", &bindgen])?;
        }
    }
    Ok(())
}

fn is_root() -> bool {
    output_of("id", &["-u"]).is_ok_and(|u| u.trim() == "0")
}

/// Chromium and its driver from Debian; Node (for playwright-core) must be there already.
fn setup_browser() -> Result<()> {
    step("set-up: Chromium (Debian packages chromium, chromium-driver)");
    if Path::new(CHROMIUM).exists() {
        println!("already installed ({})", version_of(CHROMIUM).unwrap_or_else(|| CHROMIUM.to_string()));
    } else if is_root() {
        exec(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"), None)?;
        exec(
            Command::new("apt-get").args(["install", "-y", "chromium", "chromium-driver"]).env("DEBIAN_FRONTEND", "noninteractive"),
            None,
        )?;
    } else {
        bail!("{CHROMIUM} is missing: run `sudo apt-get install -y chromium chromium-driver`, then this again");
    }

    step(&format!("set-up: Node {NODE_MAJOR} or newer, npm"));
    let node = version_of("node").context("node is not installed: the browser tests need Node 20 or newer (and npm)")?;
    let major: u32 = node.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < NODE_MAJOR {
        bail!("node {node} is too old: the browser tests (playwright-core) need Node {NODE_MAJOR} or newer");
    }
    let npm = version_of("npm").context("npm is not installed (it comes with Node)")?;
    println!("node {node}, npm {npm}");

    step(&format!("set-up: npm packages of {BROWSER_TESTS} (playwright-core, axe-core; no browser download)"));
    let dir = Path::new(BROWSER_TESTS);
    let lock = std::fs::read(dir.join("package-lock.json")).context("reading web/browser-tests/package-lock.json")?;
    let stamp = dir.join("node_modules/.livemig-package-lock.json");
    let installed = ["playwright-core", "axe-core"].iter().all(|p| dir.join("node_modules").join(p).join("package.json").exists());
    if installed && std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        println!("node_modules up to date with package-lock.json");
    } else {
        exec(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir)
                // playwright-core never downloads a browser by itself; say so anyway.
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
            None,
        )?;
        std::fs::write(&stamp, &lock).with_context(|| format!("writing {}", stamp.display()))?;
    }
    Ok(())
}

/// QEMU and its firmware from Debian, without the recommended GUI, OVMF and block extras.
fn setup_qemu() -> Result<()> {
    step("set-up: QEMU (Debian packages qemu-system-x86, qemu-system-data)");
    if Path::new(QEMU).exists() && Path::new(QBOOT).exists() {
        println!("already installed ({})", version_of(QEMU).unwrap_or_else(|| QEMU.to_string()));
    } else if is_root() {
        exec(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"), None)?;
        exec(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "qemu-system-x86", "qemu-system-data"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
            None,
        )?;
    } else {
        bail!("{QEMU} or {QBOOT} is missing: run `sudo apt-get install -y --no-install-recommends qemu-system-x86 qemu-system-data`, then this again");
    }
    Ok(())
}

fn setup() -> Result<()> {
    setup_rust()?;
    setup_web_build()?;
    setup_qemu()?;
    setup_browser()
}

/// A release build runs wasm-opt unless `web/index.html` turns it off; Debian's binaryen is too
/// old for current Rust output and trunk would download another, which fails offline.
fn check_wasm_opt() -> Result<()> {
    step("wasm-opt in release builds");
    let html = std::fs::read_to_string("web/index.html").context("reading web/index.html")?;
    let tag = html
        .split('<')
        .find(|t| t.starts_with("link") && t.contains("data-trunk") && t.contains("rel=\"rust\""))
        .context("web/index.html has no <link data-trunk rel=\"rust\"> for trunk")?;
    if tag.contains("data-wasm-opt=\"0\"") {
        println!("disabled (data-wasm-opt=\"0\" in web/index.html): trunk will not run or download it");
        return Ok(());
    }
    match version_of("wasm-opt") {
        Some(v) => {
            println!("enabled in web/index.html; trunk uses {v} only if it is the version it expects, else it tries to download one");
            Ok(())
        }
        None => bail!(
            "web/index.html enables wasm-opt (no data-wasm-opt=\"0\" on its rust link) but there is no wasm-opt on PATH: \
             trunk would download one, which fails offline; set data-wasm-opt=\"0\" (Debian's binaryen 108 also needs \
             --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types --enable-multivalue)"
        ),
    }
}

/// `trunk build --release --offline` into [`TEST_DIST`].
fn build_web_release() -> Result<()> {
    check_wasm_opt()?;
    step(&format!("the playground's release build (trunk, into {TEST_DIST})"));
    exec(
        Command::new("trunk").args(["build", "--release", "--offline", "--dist", TEST_DIST]).env("TRUNK_SKIP_VERSION_CHECK", "true"),
        None,
    )?;
    let wasm: Vec<_> = std::fs::read_dir(TEST_DIST)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect();
    if wasm.is_empty() {
        bail!("trunk built no .wasm into {TEST_DIST}");
    }
    for (name, len) in wasm {
        println!("{TEST_DIST}/{name}: {:.2} MiB", len as f64 / 1024.0 / 1024.0);
    }
    Ok(())
}

/// `node --test` over `web/browser-tests/tests/` (or `args`), against [`TEST_DIST`] and the release CLI.
fn run_browser_tests(args: &[String]) -> Result<()> {
    step("browser tests: headless Chromium (playwright-core) against the release build");
    let root = workspace_root();
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-concurrency=1", "--test-timeout=180000", "--test-reporter=spec"]);
    if args.is_empty() {
        cmd.arg("tests/");
    } else {
        cmd.args(args);
    }
    cmd.current_dir(BROWSER_TESTS)
        .env("LIVEMIG_DIST", root.join(TEST_DIST))
        .env("LIVEMIG_CLI", root.join("target/release/livemig"))
        .env("CHROMIUM", CHROMIUM);
    exec(&mut cmd, Some(BROWSER_TESTS_TIMEOUT))
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

    step("clippy of the web crate for wasm32, warnings are errors");
    run("cargo", &["clippy", "--package", WEB_CRATE, "--target", WASM_TARGET, "--", "-D", "warnings"])?;

    step("docs: rustdoc of every crate (and of the web crate for wasm32), warnings are errors");
    run_docs(&["doc", "--workspace", "--no-deps"])?;
    run_docs(&["doc", "--package", WEB_CRATE, "--target", WASM_TARGET, "--no-deps"])?;

    step("unit, property, black-box and doc tests");
    run("cargo", &["test", "--workspace"])?;

    step("the fuzz targets build (they link the crates whose parsers and decoders they fuzz)");
    run("cargo", &["check", "--manifest-path", "fuzz/Cargo.toml", "--bins", "--target-dir", "target/fuzz-check"])?;

    step("release run: every algorithm on every preset, byte-identical to xtask/fingerprints.tsv");
    let livemig = build_release_cli()?;
    fingerprint::fingerprint(&livemig, &[])?;
    step("release run: the benchmark table");
    run_limited(&livemig, &["bench", "--sizes", "1,4,16"], SMOKE_TIMEOUT)?;

    build_web_release()?;
    run_browser_tests(&[])?;

    println!("\nall checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Builds the release CLI and returns its path.
fn build_release_cli() -> Result<PathBuf> {
    run("cargo", &["build", "--release", "--package", "livemig-runner"])?;
    Ok(workspace_root().join("target/release/livemig"))
}

fn fingerprint_command(args: &[String]) -> Result<()> {
    step("every algorithm on every preset through the release CLI, against xtask/fingerprints.tsv");
    let livemig = build_release_cli()?;
    fingerprint::fingerprint(&livemig, args)
}

fn browser_test(args: &[String]) -> Result<()> {
    setup_wasm_target()?;
    setup_web_build()?;
    setup_browser()?;
    step("the release CLI (the tests compare the page's numbers with it)");
    run("cargo", &["build", "--release", "--package", "livemig-runner"])?;
    build_web_release()?;
    run_browser_tests(args)
}

fn perf(args: &[String]) -> Result<()> {
    setup_wasm_target()?;
    setup_web_build()?;
    setup_browser()?;
    build_web_release()?;
    step("performance: wasm size, first render, frame times (headless Chromium)");
    let mut cmd = Command::new("node");
    cmd.arg("perf.mjs")
        .args(args)
        .current_dir(BROWSER_TESTS)
        .env("LIVEMIG_DIST", workspace_root().join(TEST_DIST))
        .env("CHROMIUM", CHROMIUM);
    exec(&mut cmd, Some(PERF_TIMEOUT))
}

fn serve(args: &[String]) -> Result<()> {
    let mut port: u16 = 8080;
    let mut release = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" | "-p" => port = it.next().context("--port needs a number")?.parse().context("--port: not a port number (1-65535)")?,
            s if s.starts_with("--port=") => port = s["--port=".len()..].parse().context("--port: not a port number (1-65535)")?,
            "--release" => release = true,
            other => bail!("cargo xtask serve: unknown argument `{other}`\n\n{USAGE}"),
        }
    }
    if port == 0 {
        bail!("--port: 0 is not a port to open in a browser; give 1-65535");
    }
    setup_wasm_target()?;
    setup_web_build()?;
    if release {
        check_wasm_opt()?;
    }
    // Fail now, with what to do, rather than after the first build.
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
        bail!("127.0.0.1:{port} is not free ({e}): stop what uses it or pick another port, e.g. `cargo xtask serve --port 8081`");
    }

    let url = format!("http://127.0.0.1:{port}/");
    step(&format!("serving the playground on {url}"));
    println!(
        "The first build compiles the playground for wasm32 ({} build, a minute or two on 2 cores); trunk then rebuilds \
         and reloads the page on every change. Ctrl+C stops.",
        if release { "release" } else { "debug" }
    );
    let port_s = port.to_string();
    let mut trunk_args = vec!["serve", "--offline", "--address", "127.0.0.1", "--port", &port_s, "--disable-address-lookup"];
    if release {
        trunk_args.push("--release");
    }
    if std::io::stdout().is_terminal() {
        trunk_args.extend(["--color", "always"]);
    }
    println!("$ trunk {}", trunk_args.join(" "));
    let mut child = Command::new("trunk")
        .args(&trunk_args)
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting trunk")?;
    // Pass trunk's output through; once it listens (after the first build), print the address
    // where it is seen.
    let banner = format!("\n    LiveMig Lab playground: {url}   (open it in a browser; Ctrl+C stops)\n");
    let listening = format!("127.0.0.1:{port}");
    let announced = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forward = |stream: Box<dyn std::io::Read + Send>, to_stderr: bool| {
        let (banner, listening) = (banner.clone(), listening.clone());
        let announced = announced.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if to_stderr {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
                if line.contains(&listening) && !announced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    println!("{banner}");
                }
            }
        })
    };
    let out = forward(Box::new(child.stdout.take().expect("piped")), false);
    let err = forward(Box::new(child.stderr.take().expect("piped")), true);
    let status = child.wait()?;
    let _ = out.join();
    let _ = err.join();
    if !status.success() {
        bail!("trunk serve stopped ({status})");
    }
    Ok(())
}
