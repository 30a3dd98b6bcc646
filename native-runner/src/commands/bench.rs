//! `livemig bench`: how fast the simulator is, and how much memory it needs, as the VM grows.
//!
//! Each case runs in a child process (`livemig bench --one SIZE ALGORITHM`) so that its peak
//! resident memory (`VmHWM`) is its own.
//!
//! `livemig bench --codecs` measures the page codecs instead (encode and decode MB/s, and the
//! compression ratio, of zero detection, WKdm, LZ4 and XBZRLE) on the sample pages the `codecs`
//! Criterion bench uses; a plain `livemig bench` prints that table after the simulator's.

use anyhow::Context;
use comfy_table::CellAlignment;
use livemig_core::trace::TraceDetail;
use livemig_core::units::Quantity;
use livemig_core::Scenario;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// `livemig bench`: every size with every algorithm (comma-separated), each in its own
/// process, then the codecs' table (not with `--json`: its JSON stays the list of simulator
/// cases; `--codecs --json` gives the codecs').
pub fn run(sizes: &[u64], algorithms: &str, json: bool) -> anyhow::Result<()> {
    let names = crate::input::algorithm_names("--algorithms", Some(algorithms), vec![])?;
    run_all(sizes, &names, json)?;
    if json {
        return Ok(());
    }
    crate::output::print(&format!("\n{}", codecs(false)?))
}

/// `livemig bench --codecs`.
pub fn run_codecs(json: bool) -> anyhow::Result<()> {
    crate::output::print(&codecs(json)?)
}

/// `livemig bench --one SIZE_GIB ALGORITHM`: one case in this process (bench's child).
pub fn run_one_arg(one: &[String]) -> anyhow::Result<()> {
    let gib: u64 = one[0].parse().map_err(|_| crate::input::bad(format!("--one: '{}' is not a size in GiB", one[0])))?;
    crate::input::check_algorithm("--one", &one[1])?;
    run_one(gib, &one[1])
}

/// The benchmark scenario (shared with `cargo bench`).
pub fn scenario(gib: u64) -> anyhow::Result<Scenario> {
    livemig_core::presets::benchmark(gib).map_err(|e| crate::input::bad(format!("--sizes: {gib} GiB: {e}")))
}

/// What one case measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseResult {
    /// VM size in GiB.
    pub gib: u64,
    /// Algorithm.
    pub algorithm: String,
    /// Wall-clock seconds the simulation took.
    pub wall_s: f64,
    /// Peak resident memory of the process, bytes.
    pub peak_rss: u64,
    /// Simulated migration time.
    pub total_time_s: f64,
    /// Simulated downtime.
    pub downtime_s: f64,
    /// Pages sent.
    pub pages_sent: u64,
    /// Whether the run verified.
    pub verified: bool,
}

/// Peak resident memory of this process (`VmHWM`), in bytes.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs one case in this process and prints its result as JSON.
pub fn run_one(gib: u64, algorithm: &str) -> anyhow::Result<()> {
    let s = scenario(gib)?;
    let start = Instant::now();
    let run = crate::input::simulate(&s, Some(algorithm), TraceDetail::Summary)?;
    let wall_s = start.elapsed().as_secs_f64();
    let r = CaseResult {
        gib,
        algorithm: algorithm.to_string(),
        wall_s,
        peak_rss: peak_rss(),
        total_time_s: run.report.total_time_s,
        downtime_s: run.report.downtime_s,
        pages_sent: run.report.pages_sent,
        verified: run.report.verified,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Runs every case in a child process and prints the table (or JSON).
pub fn run_all(sizes: &[u64], algorithms: &[String], json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the livemig executable")?;
    let mut results = Vec::new();
    for &gib in sizes {
        for a in algorithms {
            eprintln!("bench: {gib} GiB, {a} ...");
            let out = std::process::Command::new(&exe)
                .args(["bench", "--one", &gib.to_string(), a])
                .output()
                .context("running a benchmark case")?;
            if !out.status.success() {
                anyhow::bail!("benchmark case {gib} GiB {a} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
            let r: CaseResult = serde_json::from_slice(&out.stdout).context("reading a benchmark case's result")?;
            results.push(r);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    let mut t = crate::output::table(&[
        "VM",
        "algorithm",
        "wall time",
        "peak memory",
        "simulated total",
        "simulated downtime",
        "pages sent",
        "verified",
    ]);
    for r in &results {
        t.add_row(vec![
            format!("{} GiB", r.gib),
            r.algorithm.clone(),
            Quantity::Duration.show(r.wall_s),
            Quantity::Size.show(r.peak_rss as f64),
            Quantity::Duration.show(r.total_time_s),
            Quantity::Duration.show(r.downtime_s),
            r.pages_sent.to_string(),
            if r.verified { "yes" } else { "no" }.into(),
        ]);
    }
    crate::output::right_align(&mut t, 2);
    println!("hot/cold workload (20,000 writes/s and 20,000 reads/s over a quarter of memory), 1 Gbit/s link");
    println!("{t}");
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// `livemig bench --codecs`: codec throughput on the sample pages of the `codecs` Criterion bench.

/// Seed of the sample pages (as `core/benches/codecs.rs`).
const CODEC_SEED: u64 = 1;
/// Sample pages (as `core/benches/codecs.rs`: 4 MiB of 4 KiB pages).
const CODEC_PAGES: usize = 1024;
/// Each measurement repeats whole passes over the sample until at least this long has passed.
const CODEC_MIN_SECONDS: f64 = 0.2;

/// What `livemig bench --codecs` measured.
#[derive(Debug, Serialize)]
pub struct CodecBench {
    /// Seed of [`livemig_core::codec::sample_pages`] and [`livemig_core::codec::sample_page_pairs`].
    pub seed: u64,
    /// Pages (or, for XBZRLE, page pairs) in the sample.
    pub pages: usize,
    /// Bytes of a sample page.
    pub page_size: usize,
    /// Least time each throughput was measured over, seconds (in passes over the sample; the
    /// median pass gives the number).
    pub min_seconds: f64,
    /// One entry per codec.
    pub codecs: Vec<CodecResult>,
}

/// One codec's throughput and compression on the sample.
#[derive(Debug, Serialize)]
pub struct CodecResult {
    /// `zero`, `wkdm`, `lz4` or `xbzrle`.
    pub codec: &'static str,
    /// Pages encoded in a pass (for `zero`: scanned).
    pub encode_pages: usize,
    /// Pages decoded in a pass (for `zero`: the pages found zero, filled with zeros; for
    /// `xbzrle`: the deltas that fitted in a page).
    pub decode_pages: usize,
    /// Megabytes (10^6 bytes) of uncompressed page a second, encoding.
    pub encode_mb_s: f64,
    /// Megabytes (10^6 bytes) of uncompressed page a second, decoding; `null` when no page was
    /// decodable.
    pub decode_mb_s: Option<f64>,
    /// Uncompressed bytes of the sample.
    pub input_bytes: u64,
    /// Bytes put on the wire for the sample (a zero page: 0; a page zero detection or XBZRLE
    /// cannot encode: the whole page; WKdm and LZ4: every encoding, even larger than the page).
    pub output_bytes: u64,
    /// `input_bytes / output_bytes` (`null` if nothing at all is sent).
    pub ratio: f64,
    /// For `zero` only: MB/s of detection on the zero pages alone, where every byte is scanned
    /// (on the whole sample most pages are rejected at their first non-zero 64-byte block).
    pub full_scan_mb_s: Option<f64>,
    /// What the numbers cover.
    pub note: String,
}

/// Runs `pass` (one pass over the sample, `bytes_per_pass` uncompressed bytes) until at least
/// [`CODEC_MIN_SECONDS`] have passed; returns MB/s of the median pass, so that a pass the
/// scheduler interrupted (other processes on the machine) does not count.
fn throughput(bytes_per_pass: u64, mut pass: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut times = Vec::new();
    let mut last = start;
    while last.duration_since(start).as_secs_f64() < CODEC_MIN_SECONDS {
        pass();
        let now = Instant::now();
        times.push(now.duration_since(last).as_secs_f64());
        last = now;
    }
    times.sort_by(f64::total_cmp);
    bytes_per_pass as f64 / times[times.len() / 2] / 1e6
}

fn mismatch(codec: &str, page: usize, what: &str) -> anyhow::Error {
    anyhow::anyhow!("codec benchmark: {codec}: page {page} of the sample {what}; the codec is broken, its numbers would be meaningless")
}

fn ratio(input: u64, output: u64) -> f64 {
    if output == 0 {
        f64::INFINITY
    } else {
        input as f64 / output as f64
    }
}

/// Zero-page detection: encode is the scan of every page, decode fills the zero pages with zeros.
fn bench_zero(pages: &[Vec<u8>]) -> anyhow::Result<CodecResult> {
    use livemig_core::codec::{decode, zero, Encoding};
    use std::hint::black_box;
    let page_size = pages[0].len();
    let mut zero_pages = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let found = zero::is_zero(p);
        if found != p.iter().all(|&b| b == 0) {
            return Err(mismatch("zero", i, if found { "was found zero but is not" } else { "is zero but was not found" }));
        }
        if found {
            zero_pages.push(i);
        }
    }
    let input_bytes = (pages.len() * page_size) as u64;
    let encode_mb_s = throughput(input_bytes, || {
        black_box(pages.iter().filter(|p| zero::is_zero(black_box(p))).count());
    });
    let full_scan_mb_s = (!zero_pages.is_empty()).then(|| {
        throughput((zero_pages.len() * page_size) as u64, || {
            black_box(zero_pages.iter().filter(|&&i| zero::is_zero(black_box(&pages[i]))).count());
        })
    });
    let mut out = vec![0xA5u8; page_size];
    for &i in &zero_pages {
        out.fill(0xA5);
        decode(Encoding::Zero, &[], &mut out).map_err(|e| mismatch("zero", i, &format!("did not decode ({e})")))?;
        if out != pages[i] {
            return Err(mismatch("zero", i, "decoded to other bytes"));
        }
    }
    let decode_mb_s = (!zero_pages.is_empty()).then(|| {
        throughput((zero_pages.len() * page_size) as u64, || {
            let empty: &[u8] = &[];
            for _ in &zero_pages {
                decode(Encoding::Zero, black_box(empty), &mut out).expect("checked");
                black_box(&mut out);
            }
        })
    });
    let output_bytes = ((pages.len() - zero_pages.len()) * page_size) as u64;
    Ok(CodecResult {
        codec: "zero",
        encode_pages: pages.len(),
        decode_pages: zero_pages.len(),
        encode_mb_s,
        decode_mb_s,
        input_bytes,
        output_bytes,
        ratio: ratio(input_bytes, output_bytes),
        note: match full_scan_mb_s {
            Some(full) => format!("scan stops at the first set byte; zero pages alone: {full:.0} MB/s"),
            None => "scan stops at the first set byte; no zero page in the sample".into(),
        },
        full_scan_mb_s,
    })
}

/// A whole-page codec (WKdm, LZ4): every page encoded, every encoding decoded and checked.
fn bench_page_codec(
    name: &'static str,
    pages: &[Vec<u8>],
    mut encode: impl FnMut(&[u8], &mut [u8]) -> Result<usize, livemig_core::codec::CodecError>,
    decode: impl Fn(&[u8], &mut [u8]) -> Result<(), livemig_core::codec::CodecError>,
) -> anyhow::Result<CodecResult> {
    use std::hint::black_box;
    let page_size = pages[0].len();
    let mut out = vec![0u8; livemig_core::codec::max_compressed_len(page_size)];
    let mut encoded = Vec::with_capacity(pages.len());
    for (i, p) in pages.iter().enumerate() {
        let n = encode(p, &mut out).map_err(|e| mismatch(name, i, &format!("did not encode ({e})")))?;
        encoded.push(out[..n].to_vec());
    }
    let mut back = vec![0u8; page_size];
    for (i, (p, e)) in pages.iter().zip(&encoded).enumerate() {
        back.fill(0xA5);
        decode(e, &mut back).map_err(|err| mismatch(name, i, &format!("did not decode ({err})")))?;
        if &back != p {
            return Err(mismatch(name, i, "decoded to other bytes"));
        }
    }
    let input_bytes = (pages.len() * page_size) as u64;
    let encode_mb_s = throughput(input_bytes, || {
        let mut total = 0usize;
        for p in pages {
            total += encode(black_box(p), &mut out).expect("checked");
        }
        black_box(total);
    });
    let decode_mb_s = throughput(input_bytes, || {
        for e in &encoded {
            decode(black_box(e), &mut back).expect("checked");
            black_box(&mut back);
        }
    });
    if back != *pages.last().expect("a sample") {
        return Err(mismatch(name, pages.len() - 1, "decoded to other bytes while timed"));
    }
    let output_bytes = encoded.iter().map(|e| e.len() as u64).sum();
    Ok(CodecResult {
        codec: name,
        encode_pages: pages.len(),
        decode_pages: pages.len(),
        encode_mb_s,
        decode_mb_s: Some(decode_mb_s),
        input_bytes,
        output_bytes,
        ratio: ratio(input_bytes, output_bytes),
        full_scan_mb_s: None,
        note: "every page; random pages expand".into(),
    })
}

/// XBZRLE: each new page encoded against its old version; each delta applied onto the old page.
fn bench_xbzrle(pairs: &[(Vec<u8>, Vec<u8>)]) -> anyhow::Result<CodecResult> {
    use livemig_core::codec::{xbzrle, CodecError};
    use std::hint::black_box;
    let page_size = pairs[0].1.len();
    // QEMU gives the encoder a page-sized buffer: a delta that does not fit is sent as the page.
    let mut out = vec![0u8; page_size];
    let mut deltas = Vec::with_capacity(pairs.len());
    let mut output_bytes = 0u64;
    for (i, (old, new)) in pairs.iter().enumerate() {
        match xbzrle::encode(old, new, &mut out) {
            Ok(n) => {
                output_bytes += n as u64;
                deltas.push((i, out[..n].to_vec()));
            }
            Err(CodecError::Overflow { .. }) => output_bytes += page_size as u64,
            Err(e) => return Err(mismatch("xbzrle", i, &format!("did not encode ({e})"))),
        }
    }
    // Decode onto the old page, then check; the timed passes re-apply each delta onto its
    // already-new page, which leaves it unchanged (the same writes, and still checkable).
    let mut work: Vec<Vec<u8>> = deltas.iter().map(|(i, _)| pairs[*i].0.clone()).collect();
    let check = |work: &[Vec<u8>], when: &str| -> anyhow::Result<()> {
        for ((i, _), page) in deltas.iter().zip(work) {
            if page != &pairs[*i].1 {
                return Err(mismatch("xbzrle", *i, &format!("decoded to other bytes{when}")));
            }
        }
        Ok(())
    };
    for ((i, d), page) in deltas.iter().zip(work.iter_mut()) {
        xbzrle::decode(d, page).map_err(|e| mismatch("xbzrle", *i, &format!("did not decode ({e})")))?;
    }
    check(&work, "")?;
    let input_bytes = (pairs.len() * page_size) as u64;
    let encode_mb_s = throughput(input_bytes, || {
        let mut total = 0usize;
        for (old, new) in pairs {
            total += xbzrle::encode(black_box(old), black_box(new), &mut out).unwrap_or(page_size);
        }
        black_box(total);
    });
    let decode_mb_s = (!deltas.is_empty()).then(|| {
        throughput((deltas.len() * page_size) as u64, || {
            for ((_, d), page) in deltas.iter().zip(work.iter_mut()) {
                xbzrle::decode(black_box(d), page).expect("checked");
                black_box(page);
            }
        })
    });
    check(&work, " while timed")?;
    Ok(CodecResult {
        codec: "xbzrle",
        encode_pages: pairs.len(),
        decode_pages: deltas.len(),
        encode_mb_s,
        decode_mb_s,
        input_bytes,
        output_bytes,
        ratio: ratio(input_bytes, output_bytes),
        full_scan_mb_s: None,
        note: format!("delta after 1 to 4 writes of {} B", livemig_core::codec::SAMPLE_WRITE_SIZE),
    })
}

/// Measures every codec on the sample pages (a few seconds) and returns the table, or JSON.
///
/// Every encoding is decoded and compared with its input first; a codec that does not give back
/// its input fails the benchmark (a run failure) rather than being timed.
pub fn codecs(json: bool) -> anyhow::Result<String> {
    use livemig_core::codec::{lz4, sample_page_pairs, sample_pages, wkdm, SAMPLE_PAGE_SIZE};
    eprintln!("bench: codecs ...");
    let pages = sample_pages(CODEC_SEED, CODEC_PAGES);
    let pairs = sample_page_pairs(CODEC_SEED, CODEC_PAGES);
    let mut lz = lz4::Lz4Encoder::new();
    let result = CodecBench {
        seed: CODEC_SEED,
        pages: CODEC_PAGES,
        page_size: SAMPLE_PAGE_SIZE,
        min_seconds: CODEC_MIN_SECONDS,
        codecs: vec![
            bench_zero(&pages)?,
            bench_page_codec("wkdm", &pages, wkdm::encode, wkdm::decode)?,
            bench_page_codec("lz4", &pages, |p, o| lz.encode(p, o), lz4::decode)?,
            bench_xbzrle(&pairs)?,
        ],
    };
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&result)?));
    }
    let mut t = crate::output::table(&["codec", "encode", "decode", "ratio", "pages", "measured on"]);
    for c in &result.codecs {
        t.add_row(vec![
            c.codec.to_string(),
            format!("{:.0} MB/s", c.encode_mb_s),
            c.decode_mb_s.map_or("-".into(), |d| format!("{d:.0} MB/s")),
            format!("{:.2}", c.ratio),
            format!("{} / {}", c.encode_pages, c.decode_pages),
            c.note.clone(),
        ]);
    }
    for i in 1..5 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    Ok(format!(
        "codecs on {} sample pages of {} (seed {}, the default content mix; XBZRLE on as many page pairs),\n\
         MB/s = 10^6 bytes of uncompressed page a second (median pass over the sample, passes repeated for {} s), ratio = page bytes / bytes sent, pages = encoded / decoded\n{t}\n",
        result.pages,
        Quantity::Size.show(result.page_size as f64),
        result.seed,
        result.min_seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use livemig_core::codec::{lz4, sample_pages, CodecError};

    #[test]
    fn a_codec_that_does_not_give_back_its_input_fails_the_benchmark() {
        let pages = sample_pages(3, 16);
        // Decodes, but one byte wrong.
        let off_by_one = |e: &[u8], page: &mut [u8]| {
            lz4::decode(e, page)?;
            page[100] ^= 1;
            Ok(())
        };
        let e = bench_page_codec("lz4", &pages, lz4::encode, off_by_one).unwrap_err().to_string();
        assert!(e.contains("lz4: page 0 of the sample decoded to other bytes"), "{e}");
        // Rejects its own encoding.
        let refuses = |_: &[u8], _: &mut [u8]| Err(CodecError::Lz4Length { expected: 4096, got: 1 });
        let e = bench_page_codec("lz4", &pages, lz4::encode, refuses).unwrap_err().to_string();
        assert!(e.contains("lz4: page 0 of the sample did not decode"), "{e}");
        // Cannot encode.
        let e = bench_page_codec("lz4", &pages, |_, _| Err(CodecError::Overflow { limit: 0 }), lz4::decode).unwrap_err().to_string();
        assert!(e.contains("did not encode"), "{e}");
    }

    #[test]
    fn throughput_is_bytes_over_the_median_pass() {
        let mut n = 0u64;
        let mb_s = throughput(1_000_000, || {
            n += 1;
            std::thread::sleep(std::time::Duration::from_millis(if n % 10 == 0 { 40 } else { 10 }));
        });
        // 1 MB a ~10 ms pass: ~100 MB/s, whatever the occasional slow pass.
        assert!(mb_s > 25.0 && mb_s <= 100.5, "{mb_s}");
        assert!(n >= 10, "{n} passes in {CODEC_MIN_SECONDS} s");
    }
}
