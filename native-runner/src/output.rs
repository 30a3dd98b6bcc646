//! Tables for people, CSV and JSON for programs, and the files they are written to.
//!
//! # Output files
//!
//! Every file `livemig` writes (`trace -o`, `kvm ... --trace`) goes through [`check_output`]
//! before any work and [`write_output`] after it:
//!
//! * the target is a regular file, or does not exist yet (in a directory that does): a device,
//!   a FIFO, a directory or a socket is refused, and so is a symbolic link (it is not
//!   followed: write to the file it names instead);
//! * an empty path is refused when the arguments are parsed ([`output_path`]);
//! * the file is written to a temporary file beside the target and renamed over it at the
//!   end, so a failure never leaves half a file, and the temporary file is removed.

use comfy_table::{presets::UTF8_BORDERS_ONLY, CellAlignment, Table};
use livemig_core::units::Quantity;
use livemig_core::Report;

/// Prints `text` on standard output; a closed pipe (e.g. `| head`) is not an error worth
/// reporting.
pub fn print(text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

/// Prints `value` as pretty JSON and a newline ([`print()`]).
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    print(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    t
}

pub(crate) fn right_align(t: &mut Table, from: usize) {
    for i in from..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One run, for people: the metrics, then the rounds.
pub fn report_text(r: &Report) -> String {
    let mut out = format!("{} on {} (seed {})\n", r.algorithm, r.scenario, r.seed);
    let mut t = table(&["metric", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("total time", Quantity::Duration.show(r.total_time_s)),
        ("downtime", Quantity::Duration.show(r.downtime_s)),
        ("preparation time", Quantity::Duration.show(r.preparation_time_s)),
        ("resume time", Quantity::Duration.show(r.resume_time_s)),
        ("pages sent", r.pages_sent.to_string()),
        ("data sent (wire)", Quantity::Size.show(r.bytes_sent as f64)),
        ("page payload", Quantity::Size.show(r.payload_bytes as f64)),
        ("duplicate pages", r.duplicate_pages.to_string()),
        ("zero pages", r.zero_pages.to_string()),
        ("rounds", r.rounds.to_string()),
        ("network faults", r.network_faults.to_string()),
        ("fault stall", Quantity::Duration.show(r.fault_stall_s)),
        ("dropped pages", r.dropped_pages.to_string()),
        ("max throttle", format!("{:.0}%", r.max_throttle * 100.0)),
        ("guest progress", Quantity::Duration.show(r.guest_progress_s)),
        ("converged", yes(r.converged).into()),
        ("completed", yes(r.completed).into()),
        ("verified", yes(r.verified).into()),
        ("stop reason", r.stop_reason.clone()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    out += &t.to_string();
    out.push('\n');
    let mut rounds = table(&["round", "kind", "start", "end", "pages sent", "data sent", "dirty at end"]);
    for pr in &r.per_round {
        rounds.add_row(vec![
            pr.round.to_string(),
            serde_json::to_value(pr.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            Quantity::Duration.show(pr.start_s),
            Quantity::Duration.show(pr.end_s),
            pr.pages_sent.to_string(),
            Quantity::Size.show(pr.bytes_sent as f64),
            pr.dirty_pages.to_string(),
        ]);
    }
    right_align(&mut rounds, 2);
    out += &rounds.to_string();
    out.push('\n');
    out
}

/// Several runs side by side, for people.
pub fn compare_text(scenario: &str, reports: &[Report]) -> String {
    let mut t = table(&[
        "algorithm",
        "total time",
        "downtime",
        "data sent",
        "pages sent",
        "duplicates",
        "rounds",
        "faults",
        "fault stall",
        "converged",
        "verified",
    ]);
    for r in reports {
        t.add_row(vec![
            r.algorithm.clone(),
            Quantity::Duration.show(r.total_time_s),
            Quantity::Duration.show(r.downtime_s),
            Quantity::Size.show(r.bytes_sent as f64),
            r.pages_sent.to_string(),
            r.duplicate_pages.to_string(),
            r.rounds.to_string(),
            r.network_faults.to_string(),
            Quantity::Duration.show(r.fault_stall_s),
            yes(r.converged).into(),
            yes(r.verified).into(),
        ]);
    }
    right_align(&mut t, 1);
    format!("{scenario}\n{t}\n")
}

pub use livemig_core::report::SUMMARY_COLUMNS;

/// Reports as CSV, one row each, with extra leading columns.
pub fn summary_csv(extra_header: &[&str], rows: &[(Vec<String>, &Report)]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = extra_header.iter().chain(SUMMARY_COLUMNS.iter()).copied().collect();
    w.write_record(&header)?;
    for (extra, r) in rows {
        let rec: Vec<String> = extra.iter().cloned().chain(r.summary_record()).collect();
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// A report's rounds as CSV: the core's one per-round writer ([`livemig_core::Report::rounds_csv`]).
pub fn rounds_csv(r: &Report) -> anyhow::Result<String> {
    Ok(r.rounds_csv())
}

/// Clap's value parser for an output path (`-o FILE`, `--trace FILE`): not empty.
pub fn output_path(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is empty: accepted a file path, or - for standard output".into());
    }
    Ok(text.to_string())
}

/// Checks, before any work, that `path` (given to `flag`) may be written: see the module's
/// rules. `-` (standard output) is always accepted.
pub fn check_output(flag: &str, path: &str) -> anyhow::Result<()> {
    use crate::input::bad;
    if path == "-" {
        return Ok(());
    }
    let target = std::path::Path::new(path);
    let refuse = |why: &str| bad(format!("{flag}: '{path}' {why}: accepted a regular file (new or replaced), or - for standard output"));
    match target.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => return Err(refuse("is a symbolic link, which livemig does not follow")),
        Ok(m) if !m.is_file() => return Err(refuse(&format!("is {}", crate::input::file_kind(m.file_type())))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bad(format!("{flag}: cannot write '{path}': {e}"))),
    }
    let dir = parent_dir(target);
    match dir.metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(refuse(&format!("is not in an existing directory ('{}')", dir.display()))),
    }
}

/// The directory a file path is in (`.` for a bare name).
fn parent_dir(path: &std::path::Path) -> &std::path::Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    }
}

/// Writes `path` (checked by [`check_output`]; `-` is standard output) with `write`, through a
/// buffer: into a temporary file beside it, then renamed over it, so that a failure leaves
/// neither half a file nor the temporary one. The target is checked again just before the
/// rename.
pub fn write_output(flag: &str, path: &str, write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    if path == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        write(&mut out)?;
        return match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to standard output"),
        };
    }
    let target = std::path::Path::new(path);
    let tmp = tempfile::Builder::new()
        .prefix(".livemig-")
        .suffix(".partial")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(parent_dir(target))
        .with_context(|| format!("creating a temporary file beside {path}"))?;
    let mut out = std::io::BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("writing {path}"))?;
    check_output(flag, path)?;
    tmp.persist(target).map_err(|e| e.error).with_context(|| format!("writing {path}"))?;
    Ok(())
}
