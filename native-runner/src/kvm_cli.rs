//! `livemig kvm ...`: migrations of a real KVM guest (see `livemig_runner::kvm`).

use crate::input::{bad, check_algorithm, load_scenario};
use anyhow::Context;
use livemig_core::trace::TraceDetail;
use livemig_core::units::ByteSize;
use livemig_core::Scenario;
use livemig_runner::kvm::context::{migrate, KvmOptions, KvmRun, MigrateError};

/// Largest guest the KVM backend runs (its 32-bit guest reaches 4 GiB; 1 GiB is what is tested).
pub const MAX_KVM_MEMORY: u64 = 1 << 30;
/// Smallest guest: the guest program's pages and a few pages of working set.
pub const MIN_KVM_MEMORY: u64 = 64 << 10;

/// Parses `--memory` (a size such as `64MiB`).
pub fn parse_memory(text: &str) -> anyhow::Result<u64> {
    let accepted = "accepted a size from 64 KiB to 1 GiB in whole 4 KiB pages, e.g. 64MiB";
    let parsed: Result<toml::Value, _> = toml::from_str(&format!("m = {text:?}"));
    #[derive(serde::Deserialize)]
    struct M {
        m: ByteSize,
    }
    let size = parsed.ok().and_then(|v| v.try_into::<M>().ok()).map(|m| m.m.0);
    match size {
        Some(b) if (MIN_KVM_MEMORY..=MAX_KVM_MEMORY).contains(&b) && b % 4096 == 0 => Ok(b),
        Some(_) => Err(bad(format!("--memory: '{text}' is out of range: {accepted}"))),
        None => Err(bad(format!("--memory: '{text}' is not a size: {accepted}"))),
    }
}

/// Resizes the scenario's VM to `bytes`, scaling free memory and every working set and offset
/// by the same factor (rounded to whole pages) so that a preset keeps its shape; rates stay.
pub fn resize(s: &mut Scenario, bytes: u64) {
    let ps = s.vm.page_size.0.max(1);
    let f = bytes as f64 / s.vm.memory.0 as f64;
    let scale = |b: u64| ((b as f64 * f / ps as f64).round() as u64) * ps;
    s.vm.memory = ByteSize(bytes);
    s.vm.free_memory = ByteSize(scale(s.vm.free_memory.0).min(bytes.saturating_sub(ps * 4)));
    let w = &mut s.workload;
    w.working_set = w.working_set.map(|b| ByteSize(scale(b.0).max(ps)));
    w.working_set_offset = ByteSize(scale(w.working_set_offset.0));
    for p in &mut w.phases {
        p.working_set = p.working_set.map(|b| ByteSize(scale(b.0).max(ps)));
        p.working_set_offset = p.working_set_offset.map(|b| ByteSize(scale(b.0)));
    }
}

/// `livemig kvm migrate`.
pub fn kvm_migrate(
    scenario: &str,
    set: &[String],
    algorithm: Option<&str>,
    memory: Option<&str>,
    trace: Option<&str>,
    options: KvmOptions,
) -> anyhow::Result<(KvmRun, Scenario)> {
    let memory = memory.map(parse_memory).transpose()?;
    let mut s = load_scenario(scenario, set)?;
    if let Some(a) = algorithm {
        check_algorithm("--algorithm", a)?;
    }
    if let Some(b) = memory {
        resize(&mut s, b);
        s.validate().map_err(|e| bad(format!("with --memory {}: {e}", ByteSize(b))))?;
    } else if s.vm.memory.0 > MAX_KVM_MEMORY {
        return Err(bad(format!(
            "vm.memory: {} is too large for the KVM backend: accepted up to 1 GiB (use --memory SIZE to scale the scenario)",
            s.vm.memory
        )));
    }
    let detail = if trace.is_some() { TraceDetail::Pages } else { TraceDetail::Summary };
    let run = migrate(&s, algorithm, KvmOptions { detail, ..options }).map_err(|e| match e {
        MigrateError::BadInput(m) => bad(m),
        other => anyhow::Error::new(other),
    })?;
    if let Some(path) = trace {
        let json = serde_json::to_string(&run.trace)?;
        if path == "-" {
            println!("{json}");
        } else {
            let tmp = format!("{path}.partial");
            let written = std::fs::write(&tmp, json.as_bytes())
                .with_context(|| format!("writing {tmp}"))
                .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("renaming {tmp} to {path}")));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    Ok((run, s))
}

/// The lines printed on standard error after a KVM run: what verification found and how fast
/// the guest ran.
pub fn kvm_notes(run: &KvmRun) -> String {
    let v = &run.verification;
    if v.continuation_ok.is_none() {
        return format!("kvm: no switch-over (the destination never resumed); source guest wrote {:.0} pages/s", run.source_write_rate);
    }
    let cont = match v.continuation_ok {
        Some(true) => format!("the destination guest matched a reference run without migration at batch {}", v.continuation_batch),
        Some(false) if v.continuation_mismatches == 0 => "the continuation check failed (see below)".to_string(),
        Some(false) => format!("the destination guest DIFFERED from a reference run in {} pages", v.continuation_mismatches),
        None => "the destination never resumed".to_string(),
    };
    let absent = if v.absent_at_resume > 0 { format!(", {} absent at resume (post-copy)", v.absent_at_resume) } else { String::new() };
    let mut text = format!(
        "kvm: switch-over check: {} of {} pages differ{absent} (checked in {:.1} ms); {cont}; source guest wrote {:.0} pages/s",
        v.mismatched_pages,
        run.trace.page_count - v.absent_at_resume,
        v.verify_s * 1e3,
        run.source_write_rate
    );
    if run.late_batches > 0 {
        text += &format!("; the guest ran more than 20 ms behind its pacing {} times", run.late_batches);
    }
    for e in &v.decode_errors {
        text += &format!("\nkvm: {e}");
    }
    text
}
