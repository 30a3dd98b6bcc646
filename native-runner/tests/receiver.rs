//! Regression tests of `livemig kvm receive` against hostile or broken senders (issue 13,
//! defect 5): a client that sends nothing, a `Finish` claiming too many batches (2^40, and
//! `u64::MAX`, which once wrapped round), a CPU state that cannot run, messages out of order
//! or repeated, no sender at all (the accept deadline), and a sender that keeps sending valid
//! messages slowly (the session deadline). Each test talks to a real receiver process over 127.0.0.1 and waits for it at
//! most a few seconds. The ones that need a destination VM print one `skipping:` line where
//! `/dev/kvm` cannot be opened.

use livemig_core::context::Encoding;
use livemig_core::Scenario;
use livemig_runner::kvm::dest::MigratedState;
use livemig_runner::kvm::guest::{Layout, PlanState, Planner};
use livemig_runner::kvm::vm::{Runner, VcpuState, Vm};
use livemig_runner::kvm::wire::{push_record, read_frame, write_frame, Hello, Kind};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `/dev/kvm` opens; prints the skip line when it does not (straight to standard
/// error, which the test harness does not capture, so a skipped test never passes silently).
fn have_kvm() -> bool {
    match livemig_runner::kvm::open_kvm() {
        Ok(_) => true,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "skipping: {e}");
            false
        }
    }
}

/// A receiver process, killed if a test fails before waiting for it (it would otherwise stay
/// in `accept`).
struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `livemig kvm receive` on a free port with `extra` arguments; returns it and its
/// address.
fn receiver(extra: &[&str]) -> (Receiver, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("livemig"))
        .args(["kvm", "receive", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    let child = Receiver(child);
    let addr = line.trim().strip_prefix("livemig: listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
    (child, addr)
}

/// Waits for `child` at most `limit`; kills it and fails if it is still running then. Returns
/// its exit code and standard error.
fn finish_within(mut receiver: Receiver, limit: Duration) -> (Option<i32>, String) {
    let child = &mut receiver.0;
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("the receiver was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (child.wait().unwrap().code(), stderr)
}

/// A 1 MiB guest writing 1000 pages/s.
fn small_scenario() -> Scenario {
    Scenario::from_toml_str("[vm]\nmemory = \"1 MiB\"\n[workload]\npattern = \"sequential\"\nwrite_rate = 1000\nread_rate = 0\n").unwrap()
}

/// A sender's view of a real migration of `s`'s guest: its memory as page records and the
/// state of its vCPU paused after a few batches.
struct Source {
    pages: Vec<u8>,
    state: Vec<u8>,
}

fn source(s: &Scenario) -> Source {
    let kvm = livemig_runner::kvm::open_kvm().unwrap();
    let layout = Layout::new(s.page_count(), s.used_pages());
    let vm = Vm::new(&kvm, s.page_count() as usize * 4096, false).unwrap();
    vm.boot(layout, s.seed).unwrap();
    let runner = Runner::start(&vm, Planner::new(s, layout), PlanState::start(), false, Some(5));
    let plan = runner.wait_parked(Duration::from_secs(5)).unwrap();
    let vcpu = VcpuState::get(&vm.vcpu().lock().unwrap()).unwrap();
    let mut memory = vec![0u8; s.page_count() as usize * 4096];
    vm.memory().read(0, &mut memory);
    let mut pages = Vec::new();
    push_record(&mut pages, 0, s.page_count() as u32, Encoding::Full, &memory);
    Source { pages, state: MigratedState { vcpu, plan }.to_bytes() }
}

/// Connects to `addr` and sends `s`'s `Hello`.
fn hello(addr: &str, s: &Scenario) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let hello = serde_json::to_vec(&Hello { scenario: s.clone(), prefill: false, postcopy: false }).unwrap();
    write_frame(&mut stream, Kind::Hello, &hello).unwrap();
    stream
}

/// Migrates `s`'s guest up to and including the `Resumed` answer.
fn resumed(addr: &str, s: &Scenario) -> TcpStream {
    let src = source(s);
    let mut stream = hello(addr, s);
    write_frame(&mut stream, Kind::Pages, &src.pages).unwrap();
    write_frame(&mut stream, Kind::State, &src.state).unwrap();
    write_frame(&mut stream, Kind::Resume, &[]).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (kind, _) = read_frame(&mut stream).unwrap().unwrap();
    assert_eq!(kind, Kind::Resumed);
    stream
}

/// Asserts a one-line failure (exit 1) that names `field`, without a panic.
fn refused(code: Option<i32>, stderr: &str, field: &str) {
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(field) && stderr.contains("accepted"), "expected {field:?} and the accepted values: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_client_that_connects_and_sends_nothing_is_cut_off_at_the_read_timeout() {
    let (child, addr) = receiver(&["--read-timeout", "1"]);
    let t = Instant::now();
    let _silent = TcpStream::connect(&addr).unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--read-timeout") && stderr.contains("1 s"), "{stderr}");
    assert!(t.elapsed() >= Duration::from_millis(900), "cut off after {:?}, before the timeout", t.elapsed());
}

#[test]
fn a_client_that_stops_inside_a_frame_is_cut_off_at_the_read_timeout() {
    let (child, addr) = receiver(&["--read-timeout", "1"]);
    let mut stream = TcpStream::connect(&addr).unwrap();
    // Half a header, then silence with the connection open.
    stream.write_all(b"LMIG\x02\x00\x01").unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--read-timeout"), "{stderr}");
}

#[test]
fn a_finish_claiming_2_pow_40_batches_is_refused_at_once() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let (child, addr) = receiver(&[]);
    let mut stream = resumed(&addr, &s);
    write_frame(&mut stream, Kind::Finish, &(1u64 << 40).to_le_bytes()).unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    refused(code, &stderr, "Finish.batches");
}

#[test]
fn a_finish_of_u64_max_batches_does_not_wrap_round_and_succeed() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let (child, addr) = receiver(&[]);
    let mut stream = resumed(&addr, &s);
    write_frame(&mut stream, Kind::Finish, &u64::MAX.to_le_bytes()).unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    refused(code, &stderr, "Finish.batches");
}

#[test]
fn an_all_zero_cpu_state_is_refused_before_resuming() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let (child, addr) = receiver(&[]);
    let mut stream = hello(&addr, &s);
    write_frame(&mut stream, Kind::State, &vec![0u8; MigratedState::wire_bytes() as usize]).unwrap();
    let _ = write_frame(&mut stream, Kind::Resume, &[]);
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let answer = read_frame(&mut stream);
    assert!(!matches!(answer, Ok(Some((Kind::Resumed, _)))), "an all-zero state was resumed");
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    refused(code, &stderr, "State.");
}

#[test]
fn a_second_resume_is_refused() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let (child, addr) = receiver(&[]);
    let mut stream = resumed(&addr, &s);
    write_frame(&mut stream, Kind::Resume, &[]).unwrap();
    let answer = read_frame(&mut stream);
    assert!(!matches!(answer, Ok(Some((Kind::Resumed, _)))), "a second Resume was answered");
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unexpected Resume message: expected Finish"), "{stderr}");
}

#[test]
fn a_valid_migration_by_hand_still_finishes_and_matches_its_reference() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let (child, addr) = receiver(&[]);
    let mut stream = resumed(&addr, &s);
    write_frame(&mut stream, Kind::Finish, &10u64.to_le_bytes()).unwrap();
    let (kind, payload) = read_frame(&mut stream).unwrap().unwrap();
    assert_eq!(kind, Kind::Finished);
    let cont: livemig_runner::kvm::wire::Continuation = serde_json::from_slice(&payload).unwrap();
    assert!(cont.ok, "{cont:?}");
    let (code, stderr) = finish_within(child, Duration::from_secs(10));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_message_before_hello_is_refused_without_reading_its_payload() {
    let (child, addr) = receiver(&["--read-timeout", "10"]);
    let mut stream = TcpStream::connect(&addr).unwrap();
    // A `Pages` header announcing 200 MiB that never come: refused on the header.
    let mut header = Vec::new();
    header.extend_from_slice(b"LMIG");
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&(Kind::Pages as u16).to_le_bytes());
    header.extend_from_slice(&(200u64 << 20).to_le_bytes());
    stream.write_all(&header).unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Pages") && stderr.contains("expected Hello"), "{stderr}");
}

/// A change made to a valid state.
type Change = dyn Fn(&mut MigratedState);

#[test]
fn a_cpu_state_inconsistent_with_the_guest_is_refused_naming_the_field() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    let layout = Layout::new(s.page_count(), s.used_pages());
    let planner = Planner::new(&s, layout);
    let good = MigratedState::from_bytes(&source(&s).state).unwrap();
    good.check(&planner, 60.0).unwrap();
    let refused_for = |change: &dyn Fn(&mut MigratedState)| {
        let mut bad = good.clone();
        change(&mut bad);
        bad.check(&planner, 60.0).unwrap_err().to_string()
    };
    let cases: [(&Change, &str); 10] = [
        (&|m| m.vcpu.sregs.cr0 &= !(1 << 31), "State.sregs.cr0: 0x50033: accepted PE and PG set"),
        (&|m| m.vcpu.sregs.efer = 0, "State.sregs.efer: 0x0: accepted LME and LMA set"),
        (&|m| m.vcpu.sregs.cr3 = 0x1000, "State.sregs.cr3: 0x1000: accepted 0xfa000"),
        (&|m| m.vcpu.sregs.cs.l = 0, "State.sregs.cs:"),
        (&|m| m.vcpu.sregs.ss.present = 0, "State.sregs.ss:"),
        (&|m| m.vcpu.regs.rip = 0, "State.regs.rip: 0x0: accepted 0xfe000 to"),
        (&|m| m.vcpu.regs.rsp = 1 << 40, "State.regs.rsp:"),
        (&|m| m.vcpu.events.exception.pending = 1, "State.events:"),
        (&|m| m.plan.guest_time = f64::NAN, "State.plan.guest_time: NaN: accepted 0 to 60 s"),
        (&|m| m.plan.batch = 1 << 40, "State.plan.batch: 1099511627776: accepted"),
    ];
    for (change, expected) in cases {
        let e = refused_for(change);
        assert!(e.starts_with(expected), "expected {expected:?}, got {e:?}");
    }
}

#[test]
fn a_receiver_no_sender_connects_to_gives_up_at_the_accept_timeout() {
    let (child, _addr) = receiver(&["--accept-timeout", "300ms"]);
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "livemig: no sender connected within 0.3 s (the receiver's --accept-timeout)", "{stderr}");
}

#[test]
fn a_silent_client_is_cut_off_at_the_session_timeout_when_it_comes_before_the_read_timeout() {
    let (child, addr) = receiver(&["--read-timeout", "30", "--session-timeout", "500ms"]);
    let _silent = TcpStream::connect(&addr).unwrap();
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("livemig: the migration did not end within 0.5 s of the connection (the receiver's --session-timeout)"),
        "{stderr}"
    );
}

#[test]
fn a_sender_trickling_valid_pages_is_cut_off_at_the_session_timeout() {
    if !have_kvm() {
        return;
    }
    let s = small_scenario();
    // Each message comes well within the read timeout; only the session deadline ends it.
    let (child, addr) = receiver(&["--read-timeout", "30", "--session-timeout", "1500ms"]);
    let mut stream = hello(&addr, &s);
    let mut one_page = Vec::new();
    push_record(&mut one_page, 0, 1, Encoding::Zero, &[]);
    let mut refused_at = None;
    for i in 0..200 {
        if write_frame(&mut stream, Kind::Pages, &one_page).is_err() {
            refused_at = Some(i);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, stderr) = finish_within(child, Duration::from_secs(5));
    assert!(refused_at.is_some(), "the receiver took 200 messages over 10 s: {stderr}");
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("livemig: the migration did not end within 1.5 s of the connection (the receiver's --session-timeout)"),
        "{stderr}"
    );
}

#[test]
fn the_receive_deadlines_are_refused_out_of_range_in_one_line() {
    for (flag, value) in [("--accept-timeout", "0"), ("--session-timeout", "2 days"), ("--read-timeout", "soon")] {
        let out = Command::new(assert_cmd::cargo::cargo_bin("livemig"))
            .args(["kvm", "receive", "--listen", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(value) && stderr.contains("accepted 1 ms to 1 day"), "{stderr}");
    }
}
