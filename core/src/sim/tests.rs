//! Tests of the simulator's link, timeout and verification.

use super::*;
use crate::context::*;
use crate::trace::TraceDetail;

fn idle(pages: u64) -> Scenario {
    Scenario::from_toml_str(&format!(
        "[vm]\nmemory = \"{} KiB\"\n[vm.content]\nzero = 0.5\ntext = 0.5\nstructured = 0.0\nrandom = 0.0\n[link]\nbandwidth = \"1 Gbit/s\"",
        pages * 4
    ))
    .unwrap()
}

/// Copies every page once as `encode` says, pauses, sends the state, resumes; returns whether
/// the run verified and the total time.
fn migrate_with(pages: u64, cpu_s: f64, encode: impl Fn(&mut SimContext, u64, &mut EncodedBatch)) -> (bool, f64, u64) {
    let s = idle(pages);
    let mut ctx = SimContext::new(&s, SimOptions { detail: TraceDetail::Pages, ..Default::default() });
    ctx.start_dirty_log().unwrap();
    let mut batch = EncodedBatch::new();
    for p in 0..pages {
        encode(&mut ctx, p, &mut batch);
    }
    ctx.charge_encoding(cpu_s).unwrap();
    ctx.send_encoded(&batch).unwrap();
    let paused = ctx.pause_source().unwrap();
    ctx.send_state(&paused).unwrap();
    ctx.resume_destination(paused).unwrap();
    let bytes = ctx.bytes_sent();
    let trace = ctx.finish("test", Default::default(), &Outcome::converged("done")).unwrap();
    let report = crate::Report::from_trace(&trace);
    (report.verified, report.total_time_s, bytes)
}

fn full_or_zero(ctx: &mut SimContext, p: u64, batch: &mut EncodedBatch) {
    if ctx.is_zero_page(p).unwrap() {
        batch.push(p, Encoding::Zero, &[]);
    } else {
        let mut buf = vec![0u8; ctx.page_size() as usize];
        ctx.read_page(p, &mut buf).unwrap();
        batch.push(p, Encoding::Full, &buf);
    }
}

#[test]
fn encoded_full_and_zero_pages_verify_and_zero_flags_are_cheap() {
    let (verified, _, bytes) = migrate_with(256, 0.0, full_or_zero);
    assert!(verified);
    let state = idle(256).vm.state_size.0;
    // Half the pages are zero: 9 bytes each (header + flag) instead of 4104.
    assert!(bytes - state < 256 * 4104 * 3 / 4, "{bytes}");
}

#[test]
fn a_page_that_does_not_decode_to_the_source_fails_verification() {
    let (verified, _, _) = migrate_with(64, 0.0, |ctx, p, batch| {
        if p == 7 {
            batch.push(p, Encoding::Full, &vec![0xAB; ctx.page_size() as usize]);
        } else {
            full_or_zero(ctx, p, batch);
        }
    });
    assert!(!verified);
    // A zero flag for a page that is not zero is caught too.
    let (verified, _, _) = migrate_with(64, 0.0, |ctx, p, batch| {
        if !ctx.is_zero_page(p).unwrap() && p > 10 {
            batch.push(p, Encoding::Zero, &[]);
        } else {
            full_or_zero(ctx, p, batch);
        }
    });
    assert!(!verified);
}

#[test]
fn encoding_time_is_pipelined_with_sending() {
    let (_, fast, _) = migrate_with(256, 0.0, full_or_zero);
    // Encoding that takes longer than the wire sets the pace.
    let (verified, slow, _) = migrate_with(256, 2.0, full_or_zero);
    assert!(verified);
    assert!(slow >= 2.0 && slow < 2.0 + fast, "{slow} vs {fast}");
    // Encoding faster than the wire costs nothing extra.
    let (_, hidden, _) = migrate_with(256, 1e-6, full_or_zero);
    assert_eq!(hidden, fast);
}

/// The idle scenario over a link of `bandwidth` with a 5 s timeout, `on_timeout` as given.
fn slow(bandwidth: &str, on_timeout: &str) -> Scenario {
    Scenario::parse_with_overrides(
        "",
        &[
            format!("link.bandwidth=\"{bandwidth}\""),
            "migration.timeout=\"5 s\"".into(),
            format!("migration.on_timeout=\"{on_timeout}\""),
            "vm.memory=\"64 MiB\"".into(),
            "workload.pattern=\"uniform\"".into(),
            "workload.write_rate=100".into(),
        ],
    )
    .unwrap()
}

#[test]
fn a_send_that_would_cross_the_timeout_ends_at_it() {
    // Issue 13, defect 4: the timeout was checked between batches only, so a 1 Mbit/s run
    // with a 5 s timeout reported 33.6 s, and at 1 bit/s 33,619,968 s of guest time were
    // simulated.
    for bandwidth in ["1 bit/s", "1 Mbit/s", "10 Mbit/s"] {
        let s = slow(bandwidth, "cancel");
        // Pre-copy cancelled at the timeout: the total is the timeout, and only the bytes
        // the link carried by then count.
        for algorithm in ["precopy-xen", "precopy-qemu", "tsmc", "mecom"] {
            let r = crate::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap().report;
            assert_eq!(r.total_time_s, 5.0, "{algorithm} at {bandwidth}");
            assert!(r.bytes_sent as f64 <= s.link.bandwidth.0 * 5.0 + 1.0, "{algorithm} at {bandwidth}: {} bytes", r.bytes_sent);
        }
        // Post-copy and hybrid: the guest runs nowhere past the timeout; only the downtime
        // (the CPU state, sent while the guest is paused) is not cut.
        for algorithm in ["postcopy-push", "postcopy-bubbling", "hybrid"] {
            let r = crate::simulate(&s, Some(algorithm), TraceDetail::Pages).unwrap().report;
            assert!(r.total_time_s <= 5.0 + r.downtime_s + 1e-9, "{algorithm} at {bandwidth}: {r:?}");
            assert!(!r.completed, "{algorithm} at {bandwidth}");
        }
    }
}

#[test]
fn a_forced_stop_and_copy_after_a_cut_send_still_moves_every_page() {
    // The pages of the send cut at the timeout arrive: the forced stop-and-copy sends what
    // the guest dirtied, and the destination verifies, delta caches included.
    for algorithm in ["precopy-xen", "precopy-qemu", "xbzrle", "delta", "mecom"] {
        let run = crate::simulate(&slow("10 Mbit/s", "force-stop"), Some(algorithm), TraceDetail::Pages).unwrap();
        let r = &run.report;
        assert!(r.completed && r.verified, "{algorithm}: {r:?}");
        assert!((r.preparation_time_s - 5.0).abs() < 1e-9, "{algorithm}: paused at {}", r.preparation_time_s);
    }
}

#[test]
fn deltas_are_refused_after_resume_and_bad_cpu_time_is_an_error() {
    let s = idle(16);
    let mut ctx = SimContext::new(&s, SimOptions::default());
    let mut batch = EncodedBatch::new();
    batch.push(0, Encoding::Zero, &[]);
    assert!(matches!(ctx.charge_encoding(f64::NAN), Err(ContextError::BadArgument { .. })));
    assert!(matches!(ctx.charge_encoding(-1.0), Err(ContextError::BadArgument { .. })));
    let paused = ctx.pause_source().unwrap();
    ctx.resume_destination(paused).unwrap();
    let mut delta = EncodedBatch::new();
    delta.push(1, Encoding::Delta, &[0, 1, 5]);
    assert!(matches!(ctx.send_encoded(&delta), Err(ContextError::WrongState { .. })));
}
