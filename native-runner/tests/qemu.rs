//! Tests of the QEMU peer. The real migrations need QEMU (`qemu-system-x86`, `qemu-system-data`)
//! and `/dev/kvm`; where either is missing each such test prints one `qemu: skipping: ...` line
//! and passes. The QMP client's tests run against a fake QEMU on a socket pair and need nothing.
//!
//! The tests that start QEMU take a lock, so only one pair of QEMUs runs at a time: this
//! machine has two cores, and the crash test must know that every QEMU child is its own.

use livemig_core::Scenario;
use livemig_runner::qemu::config::config_for;
use livemig_runner::qemu::qmp::{Qmp, QmpError};
use livemig_runner::qemu::report::QemuReport;
use livemig_runner::qemu::{self, QemuError, QemuOptions, Tamper};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static QEMU_LOCK: Mutex<()> = Mutex::new(());

/// The lock for one QEMU test, or None (after one line saying why) where QEMU cannot run.
fn qemu_available() -> Option<MutexGuard<'static, ()>> {
    match qemu::check_available(&QemuOptions::default()) {
        Ok(()) => Some(QEMU_LOCK.lock().unwrap_or_else(|e| e.into_inner())),
        Err(e) => {
            eprintln!("qemu: skipping: {e}");
            None
        }
    }
}

/// A 128 MiB guest with a hot-cold workload of `write_rate` writes/s over 32 MiB.
fn scenario(write_rate: u32, overrides: &[&str]) -> Scenario {
    let text = format!(
        "name = \"qemu-test\"\n[vm]\nmemory = \"128 MiB\"\n[workload]\npattern = \"hot-cold\"\nwrite_rate = {write_rate}\n\
         read_rate = 5000\nworking_set = \"32 MiB\"\nworking_set_offset = \"16 MiB\"\nwrite_size = \"256 B\"\n[migration]\ntimeout = \"60 s\"\n"
    );
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Scenario::parse_with_overrides(&text, &overrides).unwrap()
}

fn migrate(s: &Scenario, algorithm: &str, options: &QemuOptions) -> Result<QemuReport, QemuError> {
    qemu::run::migrate(s, &config_for(s, algorithm).unwrap(), options)
}

/// What every successful real migration must show.
fn assert_completed_and_plausible(q: &QemuReport) {
    let r = &q.report;
    let d = &q.qemu;
    let v = d.verification.as_ref().expect("a completed migration is checked");
    assert!(r.completed && r.converged && r.verified, "{}: {}\n{v:?}", r.algorithm, r.stop_reason);
    assert_eq!(v.mismatched_pages, 0);
    assert_eq!(v.pages_checked, d.guest.used_pages);
    assert!(v.written_pages > 100, "the guest wrote {} pages", v.written_pages);
    assert!(d.continuation.as_ref().is_some_and(|c| c.writes_after > c.writes_before));
    // Every non-zero page of the guest crossed the wire whole at least once (or as XBZRLE).
    let touched = d.guest.filled_pages * 4096;
    assert!(r.bytes_sent >= touched, "{} bytes sent, {touched} bytes of non-zero guest memory", r.bytes_sent);
    assert!(d.ram.normal >= d.guest.filled_pages, "{} pages sent whole", d.ram.normal);
    // The never-written zero pages of the used area went as zero pages.
    let zero = d.guest.used_pages - d.guest.filled_pages - v.written_pages;
    assert!(r.zero_pages >= zero, "{} zero pages counted, at least {zero} expected", r.zero_pages);
    assert_eq!(r.zero_pages, d.ram.duplicate);
    assert!(r.total_time_s > 0.0 && r.downtime_s > 0.0 && r.downtime_s < r.total_time_s, "{r:?}");
    let seen = d.guest_seen_downtime_s.expect("STOP and RESUME events were seen");
    // The two downtimes are measured by different clocks on different sides (QEMU's ends when the
    // source's migration thread gets to account for it, which on a loaded machine can be after
    // the destination has resumed), so only their plausibility is checked here.
    assert!(seen > 0.0 && seen < 5.0, "guest-seen downtime {seen}, QEMU's {}", r.downtime_s);
    let passes = d.per_sync.iter().filter(|s| s.dirty_sync_count >= 2).count();
    assert!(!d.per_sync.is_empty() && r.rounds as usize == passes + 1, "{} rounds, {passes} passes", r.rounds);
    assert_eq!(r.per_round.iter().map(|x| x.pages_sent).sum::<u64>(), r.pages_sent);
    assert_eq!(r.per_round.iter().map(|x| x.bytes_sent).sum::<u64>(), r.bytes_sent);
    // The guest paced itself by the TSC at about the rate asked. The bounds are loose on
    // purpose: the rate is measured over 300 ms between two QMP round trips, and on a loaded
    // 2-CPU machine a round trip can take tens of ms (`livemig qemu run` prints the rates).
    let g = &d.guest;
    assert!((g.achieved_write_rate / g.write_rate - 1.0).abs() < 0.5, "{g:?}");
    assert!((g.guest_tsc_hz / g.tsc_hz as f64 - 1.0).abs() < 0.5, "{g:?}");
}

#[test]
fn precopy_migrates_and_verifies() {
    let Some(_lock) = qemu_available() else { return };
    let q = migrate(&scenario(5000, &[]), "precopy-qemu", &QemuOptions::default()).unwrap();
    assert_completed_and_plausible(&q);
    assert!(q.qemu.postcopy_started_s.is_none() && q.qemu.xbzrle.is_none());
    // The report is the core's schema with a `qemu` object.
    let json = serde_json::to_value(&q).unwrap();
    let core: livemig_core::Report = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(core, q.report);
    assert_eq!(json["qemu"]["config"]["downtime_limit_ms"], 300);
}

#[test]
fn xbzrle_migrates_and_verifies() {
    let Some(_lock) = qemu_available() else { return };
    // A low downtime limit keeps pre-copy going for several passes, so the cache is used.
    let s = scenario(5000, &["params.precopy.downtime_limit=\"20 ms\"", "params.delta.cache_size=\"32 MiB\""]);
    let q = migrate(&s, "xbzrle", &QemuOptions::default()).unwrap();
    assert_completed_and_plausible(&q);
    let x = q.qemu.xbzrle.as_ref().expect("XBZRLE statistics");
    assert_eq!(x.cache_size, 32 << 20);
    assert!(x.pages + x.cache_miss > 0, "{x:?}");
    assert!(q.qemu.ram.dirty_sync_count >= 3, "{:?}", q.qemu.ram);
}

#[test]
fn postcopy_after_one_pass_migrates_and_verifies() {
    let Some(_lock) = qemu_available() else { return };
    // 20,000 writes/s against a 1 ms downtime limit: pre-copy cannot finish by itself, so the
    // switch to post-copy after the first pass is what ends it.
    let s = scenario(20000, &["params.precopy.downtime_limit=\"1 ms\""]);
    let q = migrate(&s, "postcopy-qemu", &QemuOptions::default()).unwrap();
    assert_completed_and_plausible(&q);
    let started = q.qemu.postcopy_started_s.expect("post-copy started");
    assert!(started > 0.0 && started < q.report.total_time_s + 0.1);
    assert!(q.qemu.per_sync.iter().any(|s| s.status == "postcopy-active") || q.qemu.ram.postcopy_bytes > 0, "{:?}", q.qemu.ram);
    assert_eq!(q.report.network_faults, q.qemu.ram.postcopy_requests);
}

#[test]
fn a_corrupted_page_or_a_wrong_counter_fails_the_check() {
    let Some(_lock) = qemu_available() else { return };
    let s = scenario(5000, &[]);
    let options = QemuOptions { tamper: Some(Tamper::FlipByte { page: 5000 }), ..Default::default() };
    let q = migrate(&s, "precopy-qemu", &options).unwrap();
    let v = q.qemu.verification.as_ref().unwrap();
    assert!(q.report.completed && !q.report.verified, "{v:?}");
    assert_eq!(v.mismatched_pages, 1, "{v:?}");
    assert!(v.mismatches[0].starts_with("page 5000 "), "{v:?}");
    let options = QemuOptions { tamper: Some(Tamper::CounterOffset(-10)), ..Default::default() };
    let q = migrate(&s, "precopy-qemu", &options).unwrap();
    let v = q.qemu.verification.as_ref().unwrap();
    assert!(q.report.completed && !q.report.verified && !v.state_ok && v.mismatched_pages > 0, "{v:?}");
}

/// 40,000 writes/s uniformly over 64 MiB of a 128 MiB guest: with a 1 ms downtime limit
/// pre-copy never ends by itself.
fn never_converging(overrides: &[&str]) -> Scenario {
    let mut all = vec!["params.precopy.downtime_limit=\"1 ms\""];
    all.extend_from_slice(overrides);
    let text = "[vm]\nmemory = \"128 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 40000\nworking_set = \"64 MiB\"\n";
    Scenario::parse_with_overrides(text, &all.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn at_the_timeout_a_cancel_leaves_the_guest_on_the_source_and_a_force_stop_completes() {
    let Some(_lock) = qemu_available() else { return };
    // Live copying is also capped at 16 MiB/s, so the first pass over the 64 MiB the guest
    // filled takes 4 s: the 2 s timeout comes first even on a machine so loaded that the guest
    // dirties far fewer pages than asked (a force-stop lifts the cap for the stop-and-copy).
    let slow = "params.precopy.max_bandwidth=\"16 MiB/s\"";
    let q = migrate(&never_converging(&["migration.timeout=\"2 s\"", slow]), "precopy-qemu", &QemuOptions::default()).unwrap();
    let r = &q.report;
    assert_eq!(q.qemu.status, "cancelled");
    assert!(q.qemu.timed_out && !r.converged && !r.completed, "{}", r.stop_reason);
    // The source resumed, and its memory is what a run without migration gives.
    assert!(r.verified, "{:?}", q.qemu.verification);
    assert!(r.bytes_sent > 0 && r.total_time_s >= 2.0, "{r:?}");
    let q = migrate(
        &never_converging(&["migration.timeout=\"2 s\"", "migration.on_timeout=\"force-stop\"", slow]),
        "precopy-qemu",
        &QemuOptions::default(),
    )
    .unwrap();
    let r = &q.report;
    assert!(q.qemu.timed_out && r.completed && !r.converged && r.verified, "{}", r.stop_reason);
    assert!(r.stop_reason.contains("forced"), "{}", r.stop_reason);
}

#[test]
fn auto_converge_throttles_the_guest_until_it_converges() {
    let Some(_lock) = qemu_available() else { return };
    // QEMU compares pending bytes with bandwidth x limit all through a pass, and a 100 ms window
    // of max-bandwidth goes out in a burst, so only a guest that dirties fresh pages faster than
    // 128 MiB/s needs throttling: 60,000 writes/s (234 MiB/s) uniformly over 64 MiB. QEMU
    // considers throttling once a second (ram.c migration_trigger_throttle, two high periods in a
    // row), so this takes a few seconds.
    let text = "[vm]\nmemory = \"128 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = 60000\nworking_set = \"64 MiB\"\n\
                [params.precopy]\ndowntime_limit = \"30 ms\"\nauto_converge = true\n";
    let s = Scenario::from_toml_str(text).unwrap();
    let q = migrate(&s, "precopy-qemu", &QemuOptions::default()).unwrap();
    let r = &q.report;
    assert!(r.completed && r.verified, "{}", r.stop_reason);
    assert!(q.qemu.max_throttle_pct >= 20 && r.max_throttle >= 0.2, "throttle {}%", q.qemu.max_throttle_pct);
}

#[test]
fn multifd_migrates_and_verifies() {
    let Some(_lock) = qemu_available() else { return };
    // Two sending threads: QEMU's multifd with two channels.
    let s = scenario(5000, &["host.send_threads=2"]);
    let config = config_for(&s, "precopy-qemu").unwrap();
    assert_eq!(config.multifd_channels, Some(2));
    assert!(config.capabilities().contains(&"multifd"));
    let q = qemu::run::migrate(&s, &config, &QemuOptions::default()).unwrap();
    assert_completed_and_plausible(&q);
    assert!(q.qemu.ram.multifd_bytes > 0, "{:?}", q.qemu.ram);
}

#[test]
fn the_privilege_drop_experiment_sysretq_works_and_lretq_fails_fast_under_pvm() {
    use livemig_runner::qemu::guest::DropMethod;
    let Some(_lock) = qemu_available() else { return };
    let s = scenario(2000, &[]);
    let q = migrate(&s, "precopy-qemu", &QemuOptions { drop: DropMethod::Sysretq, ..Default::default() }).unwrap();
    assert!(q.report.completed && q.report.verified, "{}", q.report.stop_reason);
    // A far return to CPL3 is beyond PVM's instruction emulator: QEMU reports a KVM internal
    // error and the run must end at once with the step named. (On hardware virtualisation it
    // works, and so must the run.)
    let t = Instant::now();
    match migrate(&s, "precopy-qemu", &QemuOptions { drop: DropMethod::Lretq, ..Default::default() }) {
        Ok(q) => assert!(q.report.verified),
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with("qemu: source: waiting for the guest to boot: the guest stopped: internal-error"), "{text}");
            assert!(text.contains("KVM internal error"), "{text}");
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        }
    }
    assert_eq!(qemu_children(), vec![], "QEMU processes left behind");
}

/// This process's QEMU children (pid, state), from /proc.
fn qemu_children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some((head, tail)) = stat.rsplit_once(')') else { continue };
        let mut fields = tail.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == me && head.contains("qemu-system") {
            found.push((pid, state));
        }
    }
    found
}

/// Whether process `pid` holds an established TCP connection (a QEMU's only TCP socket is the
/// migration stream: QMP goes over a Unix socket).
fn has_established_tcp(pid: u32) -> bool {
    let established: Vec<String> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
        .flat_map(|table| {
            // "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...": state 01 is ESTABLISHED.
            table
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() > 9 && f[3] == "01").then(|| f[9].to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|target| {
        let t = target.to_string_lossy();
        t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).is_some_and(|inode| established.iter().any(|e| e == inode))
    })
}

#[test]
fn a_qemu_killed_mid_migration_is_an_error_naming_the_step_and_leaves_no_process() {
    let Some(_lock) = qemu_available() else { return };
    // Capped at 16 MiB/s the first pass alone takes seconds, however fast or starved the guest.
    let s = never_converging(&["params.precopy.max_bandwidth=\"16 MiB/s\""]);
    let killer = std::thread::spawn(|| {
        // Wait for the source (the second child: the destination starts first) to open the
        // migration stream, let it send for a moment, then kill it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let source = loop {
            let children = qemu_children();
            if children.len() == 2 {
                let source = children.iter().map(|c| c.0).max().unwrap();
                if has_established_tcp(source) {
                    break source;
                }
            }
            assert!(Instant::now() < deadline, "the migration did not start within 30 s: {children:?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(500));
        let status = std::process::Command::new("kill").args(["-9", &source.to_string()]).status().unwrap();
        assert!(status.success());
        Instant::now()
    });
    let e = migrate(&s, "precopy-qemu", &QemuOptions::default()).unwrap_err();
    let returned = Instant::now();
    let killed = killer.join().unwrap();
    let text = e.to_string();
    assert!(text.starts_with("qemu: source: migrating (query-migrate): QEMU was killed by signal 9"), "{text}");
    // The error and the clean-up follow the kill within bounded time.
    let after_kill = returned.saturating_duration_since(killed);
    assert!(after_kill < Duration::from_secs(15), "{after_kill:?}");
    assert_eq!(qemu_children(), vec![], "QEMU processes left behind");
}

#[test]
fn a_qemu_that_fails_to_start_or_never_answers_is_an_error_within_bounded_time() {
    let Some(_lock) = qemu_available() else { return };
    let s = scenario(1000, &[]);
    let e = migrate(&s, "precopy-qemu", &QemuOptions { qemu: "/bin/false".into(), ..Default::default() }).unwrap_err();
    assert_eq!(e.to_string(), "qemu: destination: starting: QEMU exited with status 1");
    // A "QEMU" that runs but never opens its QMP socket.
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("silent-qemu");
    std::fs::write(&silent, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&silent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let options = QemuOptions { qemu: silent, qmp_timeout: Duration::from_secs(1), ..Default::default() };
    let t = Instant::now();
    let e = migrate(&s, "precopy-qemu", &options).unwrap_err();
    assert_eq!(e.to_string(), "qemu: destination: starting: QMP did not answer within 1 s");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The sleeping stand-in was killed and reaped.
    let me = std::process::id().to_string();
    let left = std::process::Command::new("pgrep").args(["-P", &me, "sleep"]).output().unwrap();
    assert!(left.stdout.is_empty(), "left behind: {}", String::from_utf8_lossy(&left.stdout));
    // Nothing of the private directories is left either.
    let ours = format!("livemig-qemu-{}-", std::process::id());
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&ours))
        .map(|e| e.path())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn killing_livemig_kills_its_qemus() {
    let Some(_lock) = qemu_available() else { return };
    let mut livemig = std::process::Command::new(assert_cmd::cargo::cargo_bin("livemig"))
        .args(["qemu", "run", "diabolical", "-a", "precopy-qemu", "--memory", "64MiB"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parent = livemig.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut qemus = Vec::new();
    while qemus.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let out = std::process::Command::new("pgrep").args(["-P", &parent, "qemu-system"]).output().unwrap();
        qemus = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect();
    }
    assert_eq!(qemus.len(), 2, "livemig did not start two QEMUs");
    livemig.kill().unwrap();
    livemig.wait().unwrap();
    // PR_SET_PDEATHSIG: the kernel kills them; whoever inherits them reaps them (or they stay zombies).
    let deadline = Instant::now() + Duration::from_secs(5);
    let alive = |pid: &String| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, t)| t.trim_start().starts_with(|c| c != 'Z')))
            .unwrap_or(false)
    };
    while qemus.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!qemus.iter().any(alive), "QEMUs {qemus:?} outlived the killed livemig");
    // Its private directory stayed behind (no destructor ran); the next run sweeps it away.
    let theirs = format!("livemig-qemu-{parent}-");
    let left = || {
        std::fs::read_dir(std::env::temp_dir()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(&theirs)).count()
    };
    assert_eq!(left(), 1);
    drop(livemig_runner::qemu::process::PrivateDir::new().unwrap());
    assert_eq!(left(), 0);
}

#[test]
fn scenarios_qemu_cannot_express_are_refused_in_one_line() {
    let s = scenario(1000, &[]);
    let e = config_for(&s, "tsmc").unwrap_err().to_string();
    assert_eq!(e, "algorithm: QEMU has no 'tsmc': accepted precopy-qemu, xbzrle, postcopy-qemu");
    let phases = Scenario::from_toml_str(
        "[vm]\nmemory = \"128 MiB\"\n[[workload.phases]]\nduration = \"1 s\"\npattern = \"uniform\"\nwrite_rate = 10\n\
         [[workload.phases]]\nduration = \"1 s\"",
    )
    .unwrap();
    let e = qemu::run::migrate(&phases, &config_for(&phases, "precopy-qemu").unwrap(), &QemuOptions::default()).unwrap_err();
    assert!(matches!(&e, QemuError::Unsupported(m) if m.starts_with("workload.phases: ")), "{e}");
    let big_pages = scenario(1000, &["vm.page_size=\"8 KiB\""]);
    let e = qemu::run::migrate(&big_pages, &config_for(&big_pages, "precopy-qemu").unwrap(), &QemuOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("vm.page_size: 8 KiB is not accepted"), "{e}");
}

// ---- The QMP client against a fake QEMU (no QEMU needed) ----

/// A fake QEMU on the other end of a socket pair: sends the greeting, answers
/// `qmp_capabilities`, then lets `script` answer each later command.
fn fake(script: impl Fn(&Value, &mut UnixStream) + Send + 'static) -> Qmp {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let greeting = json!({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": []}});
        writeln!(theirs, "{greeting}\r").unwrap();
        let mut reader = std::io::BufReader::new(theirs.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let cmd: Value = serde_json::from_str(&line).unwrap();
            if cmd["execute"] == "qmp_capabilities" {
                writeln!(theirs, "{}", json!({"return": {}, "id": cmd["id"]})).unwrap();
            } else {
                script(&cmd, &mut theirs);
            }
            line.clear();
        }
    });
    Qmp::from_stream(ours)
}

#[test]
fn qmp_answers_with_interleaved_events() {
    let mut q = fake(|cmd, s| {
        writeln!(s, "{}", json!({"event": "STOP", "timestamp": {"seconds": 10, "microseconds": 500000}})).unwrap();
        writeln!(s, "{}", json!({"return": {"status": "wrong id"}, "id": 999})).unwrap();
        writeln!(s, "{}", json!({"return": {"status": "active"}, "id": cmd["id"]})).unwrap();
    });
    assert_eq!(q.handshake(Duration::from_secs(2)).unwrap(), "7.2.22");
    let r = q.execute("query-migrate", json!({}), Duration::from_secs(2)).unwrap();
    assert_eq!(r["status"], "active");
    let events = q.take_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "STOP");
    assert!((events[0].qemu_time - 10.5).abs() < 1e-9);
    assert!(q.take_events().is_empty());
}

#[test]
fn qmp_error_reply_names_the_command() {
    let mut q = fake(|cmd, s| {
        writeln!(s, "{}", json!({"error": {"class": "GenericError", "desc": "no such thing"}, "id": cmd["id"]})).unwrap();
    });
    q.handshake(Duration::from_secs(2)).unwrap();
    let e = q.execute("migrate", json!({"uri": "tcp:127.0.0.1:1"}), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(&e, QmpError::Command { command, class, .. } if command == "migrate" && class == "GenericError"), "{e:?}");
    assert_eq!(e.to_string(), "QMP migrate failed: GenericError: no such thing");
}

#[test]
fn qmp_garbage_is_a_protocol_error() {
    let mut q = fake(|_, s| s.write_all(b"this is not json\n").unwrap());
    q.handshake(Duration::from_secs(2)).unwrap();
    let e = q.execute("query-status", json!({}), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(&e, QmpError::Protocol(m) if m.contains("this is not json")), "{e:?}");
    // A garbage greeting fails the handshake the same way.
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    theirs.write_all(b"\x00\x01garbage\n").unwrap();
    let e = Qmp::from_stream(ours).handshake(Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, QmpError::Protocol(_)), "{e:?}");
}

#[test]
fn qmp_silence_ends_at_the_deadline() {
    let mut q = fake(|_, _| {});
    q.handshake(Duration::from_secs(2)).unwrap();
    let t = Instant::now();
    let e = q.execute("query-status", json!({}), Duration::from_millis(200)).unwrap_err();
    assert!(matches!(e, QmpError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Half a line, then nothing: still the deadline, not a hang.
    let mut q = fake(|_, s| s.write_all(b"{\"return\": ").unwrap());
    q.handshake(Duration::from_secs(2)).unwrap();
    let e = q.execute("query-status", json!({}), Duration::from_millis(200)).unwrap_err();
    assert!(matches!(e, QmpError::Timeout { .. }), "{e:?}");
    // A peer that never greets, and one that hangs up.
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let e = Qmp::from_stream(ours).handshake(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(e, QmpError::Timeout { .. }), "{e:?}");
    let (ours, theirs) = UnixStream::pair().unwrap();
    drop(theirs);
    let e = Qmp::from_stream(ours).handshake(Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, QmpError::Closed), "{e:?}");
}

/// `livemig ARGS` must be refused as bad input: exit status 2, one line on stderr naming
/// `field` and what is `accepted`, nothing on stdout.
fn cli_bad_input(args: &[&str], field: &str, accepted: &str) {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("livemig")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "livemig {args:?}: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("livemig: ") && stderr.contains(field) && stderr.contains(accepted), "livemig {args:?}: {stderr}");
}

#[test]
fn the_cli_refuses_what_qemu_cannot_run_with_exit_status_2() {
    cli_bad_input(
        &["qemu", "run", "web-server", "-a", "tsmc"],
        "--algorithm: QEMU has no 'tsmc'",
        "accepted precopy-qemu, xbzrle, postcopy-qemu",
    );
    cli_bad_input(&["qemu", "run", "task-phases", "-a", "precopy-qemu"], "workload.phases:", "accepted none");
    cli_bad_input(&["qemu", "run", "web-server", "-a", "xbzrle", "--memory", "4GiB"], "--memory", "accepted a size from 8 MiB to 3 GiB");
    cli_bad_input(
        &[
            "qemu",
            "run",
            "web-server",
            "-a",
            "precopy-qemu",
            "--set",
            "params.precopy.auto_converge=true",
            "--set",
            "params.precopy.throttle_trigger=2",
        ],
        "params.precopy.throttle_trigger",
        "accepted 0.01 to 1",
    );
    cli_bad_input(&["qemu", "run", "web-server", "-a", "xbzrle", "--set", "vm.page_size=\"8 KiB\""], "vm.page_size", "accepted 4 KiB");
}
