//! `livemig kvm ...`: migrations of a real KVM guest (see `livemig_runner::kvm`).

use crate::input::{bad, check_algorithm, load_scenario};
use livemig_core::trace::TraceDetail;
use livemig_core::units::{ByteSize, Quantity};
use livemig_core::Scenario;
use livemig_runner::kvm::context::{migrate_or_abort, KvmOptions, KvmRun, MigrateError};

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
    if let Some(path) = trace {
        crate::output::check_output("--trace", path)?;
    }
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
    let run = migrate_or_abort(&s, algorithm, KvmOptions { detail, ..options }).map_err(|a| match a.error {
        MigrateError::BadInput(m) => bad(m),
        other if a.source.is_some() => {
            anyhow::anyhow!("{other}: the migration was aborted before the switch-over and the source guest was left running")
        }
        other => anyhow::Error::new(other),
    })?;
    if let Some(path) = trace {
        crate::output::write_output("--trace", path, |w| {
            serde_json::to_writer(&mut *w, &run.trace)?;
            Ok(writeln!(w)?)
        })?;
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

/// Relative difference of `real` against `simulated`, in percent (None when the simulated
/// value is 0 and the real one is not).
pub fn relative_difference(real: f64, simulated: f64) -> Option<f64> {
    livemig_runner::relative_change(real, simulated).map(|d| d * 100.0)
}

/// Rounds shown in the crosscheck's per-round list.
const CROSSCHECK_ROUNDS: usize = 8;

fn per_round_list(r: &livemig_core::Report) -> String {
    let mut items: Vec<String> = r.per_round.iter().take(CROSSCHECK_ROUNDS).map(|x| x.pages_sent.to_string()).collect();
    if r.per_round.len() > CROSSCHECK_ROUNDS {
        items.push(format!("... (+{})", r.per_round.len() - CROSSCHECK_ROUNDS));
    }
    items.join(",")
}

/// The compared metrics: (name, real, simulated).
fn crosscheck_rows(real: &livemig_core::Report, sim: &livemig_core::Report) -> Vec<(&'static str, f64, f64)> {
    vec![
        ("rounds", real.rounds as f64, sim.rounds as f64),
        ("pages_sent", real.pages_sent as f64, sim.pages_sent as f64),
        ("bytes_sent", real.bytes_sent as f64, sim.bytes_sent as f64),
        ("downtime_s", real.downtime_s, sim.downtime_s),
        ("total_time_s", real.total_time_s, sim.total_time_s),
        ("network_faults", real.network_faults as f64, sim.network_faults as f64),
    ]
}

/// `livemig kvm crosscheck`'s JSON: `{ "real": Report, "simulated": Report, "difference": {...} }`.
pub fn crosscheck_json(real: &livemig_core::Report, sim: &livemig_core::Report) -> serde_json::Value {
    let mut diff = serde_json::Map::new();
    for (name, r, s) in crosscheck_rows(real, sim) {
        diff.insert(format!("{name}_pct"), relative_difference(r, s).map_or(serde_json::Value::Null, |d| serde_json::json!(d)));
    }
    let rounds: Vec<serde_json::Value> = (0..real.per_round.len().max(sim.per_round.len()))
        .map(|i| {
            let r = real.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            let s = sim.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            relative_difference(r, s).map_or(serde_json::Value::Null, |d| serde_json::json!(d))
        })
        .collect();
    diff.insert("pages_sent_per_round_pct".into(), serde_json::Value::Array(rounds));
    diff.insert("verified_equal".into(), serde_json::json!(real.verified == sim.verified));
    serde_json::json!({ "real": real, "simulated": sim, "difference": diff })
}

/// `livemig kvm crosscheck`'s table.
pub fn crosscheck_text(real: &livemig_core::Report, sim: &livemig_core::Report) -> String {
    let fmt = |name: &str, v: f64| Quantity::of_metric(name).show(v);
    let pct = |d: Option<f64>| d.map_or_else(|| "n/a".to_string(), |d| format!("{d:+.1}%"));
    let mut t = format!("crosscheck: {} on {} (real KVM guest vs simulator)\n", real.algorithm, real.scenario);
    t += &format!("{:<16} {:>16} {:>16} {:>10}\n", "metric", "real", "simulated", "diff");
    for (name, r, s) in crosscheck_rows(real, sim) {
        t += &format!("{:<16} {:>16} {:>16} {:>10}\n", name, fmt(name, r), fmt(name, s), pct(relative_difference(r, s)));
    }
    t += &format!(
        "{:<16} {:>16} {:>16} {:>10}\n",
        "verified",
        real.verified,
        sim.verified,
        if real.verified == sim.verified { "same" } else { "differ" }
    );
    t += &format!(
        "pages per round (first {CROSSCHECK_ROUNDS}):\n  real:      {}\n  simulated: {}\n",
        per_round_list(real),
        per_round_list(sim)
    );
    let diffs: Vec<String> = (0..CROSSCHECK_ROUNDS.min(real.per_round.len().max(sim.per_round.len())))
        .map(|i| {
            let r = real.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            let s = sim.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            pct(relative_difference(r, s))
        })
        .collect();
    t += &format!("  diff:      {}\n", diffs.join(","));
    t
}
