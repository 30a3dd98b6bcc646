//! `livemig kvm bench`: in-process migrations of a real guest beside the machine's memcpy and
//! loopback TCP bandwidth, measured in the same run.

use super::kvm::parse_memory;
use crate::input::load_scenario;
use livemig_core::trace::Event;
use livemig_core::units::Quantity;
use livemig_runner::kvm::context::{migrate, KvmOptions, KvmRun, MigrateError};
use livemig_runner::resize_guest;
use std::io::{Read, Write};
use std::time::Instant;

/// The link of the bench's migrations: fast enough that the sender is never paced (the copy
/// runs as fast as the machine allows).
const UNPACED_LINK: [&str; 2] = ["link.bandwidth=10Tbit/s", "link.latency=0s"];

/// One migration of the bench.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchCase {
    /// "idle" or "hot-cold 20000 pages/s".
    pub guest: String,
    /// The preset it ran.
    pub scenario: String,
    /// Algorithm.
    pub algorithm: String,
    /// Seconds, start to end.
    pub total_time_s: f64,
    /// Seconds the guest ran nowhere.
    pub downtime_s: f64,
    /// Pages sent.
    pub pages_sent: u64,
    /// Bytes of pages sent before the source paused, over the time they took (B/s).
    pub live_copy_bytes_per_s: f64,
    /// Whether it verified.
    pub verified: bool,
}

/// What `livemig kvm bench` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bench {
    /// Guest memory.
    pub memory_bytes: u64,
    /// The migrations.
    pub cases: Vec<BenchCase>,
    /// memcpy bandwidth in this process (B/s, best of a few copies of a large buffer).
    pub memcpy_bytes_per_s: f64,
    /// memcpy bandwidth in 64 MiB pieces (B/s, best of a few): below glibc's non-temporal
    /// threshold (192 MiB here), where memcpy writes through the cache and runs slower.
    pub memcpy_pieces_bytes_per_s: f64,
    /// The in-process receiver's own copy (`GuestMemory::copy_pages_from`: non-temporal stores)
    /// between two preallocated guest memories, in 64-page runs as Xen's order sends them (B/s,
    /// best of a few): the ceiling of the page-copy column.
    pub receiver_copy_bytes_per_s: f64,
    /// memcpy bandwidth into fresh memory (first touch faults every page in; B/s).
    pub memcpy_fresh_bytes_per_s: f64,
    /// Loopback TCP throughput to a peer process (B/s).
    pub tcp_loopback_bytes_per_s: f64,
    /// How the TCP peer ran.
    pub tcp_peer: String,
    /// Target: in-process page-copy throughput >= half of memcpy (best case).
    pub throughput_target_met: bool,
    /// Target: idle downtime < 10 ms.
    pub idle_downtime_target_met: bool,
}

/// Bytes of pages sent while the source ran, over the time from the first send to the pause.
fn live_copy_rate(run: &KvmRun) -> f64 {
    let pause = run.trace.events.iter().find(|e| matches!(e.event, Event::SourcePaused)).map(|e| e.t);
    let (mut first, mut last, mut bytes) = (f64::INFINITY, 0.0f64, 0u64);
    for e in &run.trace.events {
        if let Event::PagesSent { end, payload_bytes, .. } = &e.event {
            if pause.is_some_and(|p| e.t >= p) {
                continue;
            }
            first = first.min(e.t);
            last = last.max(*end);
            bytes += payload_bytes;
        }
    }
    if bytes == 0 || last <= first {
        return 0.0;
    }
    bytes as f64 / (last - first)
}

/// The best rate of `runs` runs of `copy`, each moving `bytes` (B/s). What a run returns is
/// dropped after its clock stops (freeing a fresh mapping is not part of the copy).
fn best_rate<T>(bytes: usize, runs: usize, mut copy: impl FnMut() -> T) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..runs {
        let t = Instant::now();
        let out = std::hint::black_box(copy());
        best = best.max(bytes as f64 / t.elapsed().as_secs_f64());
        drop(out);
    }
    best
}

/// Best memcpy bandwidth over a few copies of a `bytes` buffer, in `piece`-byte memcpys.
pub fn memcpy_bandwidth(bytes: usize, piece: usize) -> f64 {
    let src = vec![0x5au8; bytes];
    let mut dst = vec![0u8; bytes];
    dst.copy_from_slice(&src); // fault the pages in
    best_rate(bytes, 4, || {
        for (d, s) in dst.chunks_mut(piece.max(1)).zip(std::hint::black_box(&src).chunks(piece.max(1))) {
            d.copy_from_slice(s);
        }
        std::hint::black_box(&dst);
    })
}

/// Best bandwidth of the receiver's page copy over a few copies of `bytes` between two
/// preallocated guest memories, in runs of 64 pages.
pub fn receiver_copy_bandwidth(bytes: usize) -> anyhow::Result<f64> {
    use livemig_runner::kvm::vm::GuestMemory;
    const RUN: u64 = 64;
    let (src, dst) = (GuestMemory::new(bytes)?, GuestMemory::new(bytes)?);
    src.populate();
    dst.populate();
    let pages = src.pages();
    (0..pages).for_each(|p| src.write(p as usize * 4096, &[0x5a; 64]));
    Ok(best_rate(bytes, 4, || {
        for first in (0..pages).step_by(RUN as usize) {
            dst.copy_pages_from(&src, first, RUN.min(pages - first));
        }
    }))
}

/// `livemig kvm bench-sink ADDR` (hidden): connects to ADDR, reads until end of stream and
/// prints the byte count.
pub fn sink(addr: &str) -> anyhow::Result<()> {
    let mut s = std::net::TcpStream::connect(addr)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    s.write_all(&total.to_le_bytes())?;
    Ok(())
}

/// memcpy bandwidth into memory never touched before (each copy into a fresh anonymous
/// mapping, so every page faults in on first write, as on a migration's destination).
pub fn memcpy_fresh_bandwidth(bytes: usize) -> f64 {
    let src = vec![0x5au8; bytes];
    best_rate(bytes, 2, || {
        let mut dst: Vec<u8> = Vec::with_capacity(bytes);
        dst.extend_from_slice(std::hint::black_box(&src));
        dst
    })
}

/// Loopback TCP throughput: `bytes` written to a peer process (this executable's hidden
/// `kvm bench-sink`), timed until the peer has read them all and answered.
pub fn tcp_loopback(bytes: u64) -> anyhow::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let mut child = std::process::Command::new(std::env::current_exe()?).args(["kvm", "bench-sink", &addr]).spawn()?;
    let (mut s, _) = listener.accept()?;
    let chunk = vec![0xa5u8; 1 << 20];
    let t = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let mut answer = [0u8; 8];
    s.read_exact(&mut answer)?;
    let secs = t.elapsed().as_secs_f64();
    let status = child.wait()?;
    anyhow::ensure!(status.success() && u64::from_le_bytes(answer) == bytes, "the TCP peer failed ({status})");
    Ok(bytes as f64 / secs)
}

fn run_case(guest: &str, preset: &str, algorithm: &str, memory: u64) -> anyhow::Result<BenchCase> {
    let set: Vec<String> = UNPACED_LINK.iter().map(|s| s.to_string()).collect();
    let mut s = load_scenario(preset, &set)?;
    resize_guest(&mut s, memory);
    s.validate().map_err(|e| crate::input::bad(format!("with --memory {memory}: {e}")))?;
    let run = migrate(&s, Some(algorithm), KvmOptions::default()).map_err(|e| match e {
        MigrateError::BadInput(m) => crate::input::bad(m),
        other => anyhow::Error::new(other),
    })?;
    let r = &run.report;
    Ok(BenchCase {
        guest: guest.into(),
        scenario: preset.into(),
        algorithm: algorithm.into(),
        total_time_s: r.total_time_s,
        downtime_s: r.downtime_s,
        pages_sent: r.pages_sent,
        live_copy_bytes_per_s: live_copy_rate(&run),
        verified: r.verified,
    })
}

/// Runs the bench.
pub fn bench(memory: Option<&str>) -> anyhow::Result<Bench> {
    let memory = memory.map(parse_memory).transpose()?.unwrap_or(1 << 30);
    let mut cases = Vec::new();
    for (guest, preset) in [("idle", "idle-vm"), ("hot-cold 20000 pages/s", "write-hot-database")] {
        for algorithm in ["precopy-xen", "postcopy-bubbling", "tsmc"] {
            cases.push(run_case(guest, preset, algorithm, memory)?);
        }
    }
    let buffer = (memory as usize).min(256 << 20);
    let memcpy = memcpy_bandwidth(buffer, buffer);
    let tcp = tcp_loopback((memory * 2).clamp(256 << 20, 1 << 30))?;
    let best = cases.iter().map(|c| c.live_copy_bytes_per_s).fold(0.0, f64::max);
    let idle_ok = cases.iter().filter(|c| c.guest == "idle" && c.algorithm == "precopy-xen").all(|c| c.downtime_s < 0.010);
    Ok(Bench {
        memory_bytes: memory,
        cases,
        memcpy_bytes_per_s: memcpy,
        memcpy_pieces_bytes_per_s: memcpy_bandwidth(buffer, 64 << 20),
        receiver_copy_bytes_per_s: receiver_copy_bandwidth(buffer)?,
        memcpy_fresh_bytes_per_s: memcpy_fresh_bandwidth(buffer),
        tcp_loopback_bytes_per_s: tcp,
        tcp_peer: "a second process (this executable's hidden `kvm bench-sink`)".into(),
        throughput_target_met: best >= memcpy / 2.0,
        idle_downtime_target_met: idle_ok,
    })
}

fn mbps(b: f64) -> String {
    format!("{:.0} MB/s", b / 1e6)
}

/// The bench as a table.
pub fn text(b: &Bench) -> String {
    let mut t = format!(
        "kvm bench: {} guest, in-process migrations over an unpaced link ({} and {})\n",
        livemig_core::units::ByteSize(b.memory_bytes),
        UNPACED_LINK[0],
        UNPACED_LINK[1]
    );
    t += &format!(
        "{:<24} {:<18} {:>10} {:>11} {:>10} {:>16} {:>8}\n",
        "guest", "algorithm", "total", "downtime", "pages", "page copy", "verified"
    );
    for c in &b.cases {
        t += &format!(
            "{:<24} {:<18} {:>10} {:>11} {:>10} {:>16} {:>8}\n",
            c.guest,
            c.algorithm,
            Quantity::Duration.show(c.total_time_s),
            Quantity::Duration.show(c.downtime_s),
            c.pages_sent,
            if c.live_copy_bytes_per_s > 0.0 { mbps(c.live_copy_bytes_per_s) } else { "- (no live copy)".into() },
            if c.verified { "yes" } else { "NO" }
        );
    }
    t += &format!("memcpy in process        {}\n", mbps(b.memcpy_bytes_per_s));
    t += &format!(
        "memcpy in 64 MiB pieces  {} (below glibc's non-temporal threshold: through the cache)\n",
        mbps(b.memcpy_pieces_bytes_per_s)
    );
    t += &format!(
        "receiver's page copy     {} (non-temporal stores, 64-page runs: the page copy's ceiling)\n",
        mbps(b.receiver_copy_bytes_per_s)
    );
    t += &format!(
        "memcpy into fresh memory {} (every page faults in, as a destination did before preallocating)\n",
        mbps(b.memcpy_fresh_bytes_per_s)
    );
    t += &format!("TCP loopback             {} (to {})\n", mbps(b.tcp_loopback_bytes_per_s), b.tcp_peer);
    let best = b.cases.iter().map(|c| c.live_copy_bytes_per_s).fold(0.0, f64::max);
    let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
    t += &format!(
        "target: in-process page copy >= half of memcpy: best {} vs {}: {}\n",
        mbps(best),
        mbps(b.memcpy_bytes_per_s / 2.0),
        pass(b.throughput_target_met)
    );
    let idle: Vec<String> = b
        .cases
        .iter()
        .filter(|c| c.guest == "idle" && c.algorithm == "precopy-xen")
        .map(|c| Quantity::Duration.show(c.downtime_s))
        .collect();
    t += &format!("target: idle downtime < 10 ms (precopy-xen): {}: {}\n", idle.join(", "), pass(b.idle_downtime_target_met));
    t
}
