//! Migration between two processes over TCP: [`RemoteDestination`] (the sender's view of the
//! destination) and [`serve`] (the `livemig kvm receive` side), speaking [`super::wire`].
//!
//! The switch-over check compares per-page 64-bit checksums: the receiver checksums every page
//! of its memory after loading the state and before starting the guest, the sender checksums
//! the (stopped) source and compares. The continuation check runs on the receiver, which
//! replays the guest from boot in a reference VM. In post-copy the receiver's memory is
//! registered with userfaultfd; its guest's page faults travel back as `Fault` messages (a
//! thread on each side), pages absent at resume are left out of the checksum comparison, and
//! the receiver reports an error at `Finish` if pages never arrived.

use super::dest::{runs_of, Destination, Fault, LocalDestination, MigratedState, Msg, Switchover};
use super::guest::{Layout, Planner};
use super::vm::{GuestMemory, PAGE};
use super::wire::{self, Continuation, Hello, Kind, Limits, OutOfRange, Stage, TimedStream, WireError};
use super::KvmError;
use livemig_core::bitmap::PageBitmap;
use livemig_core::context::{ContextError, EncodedBatch, Encoding};
use livemig_core::Scenario;
use std::io::{BufReader, BufWriter, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// FNV-1a over 8-byte words: the per-page checksum (not a cryptographic hash).
pub fn digest(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in bytes.chunks_exact(8) {
        h ^= u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The checksum of every page (0 for pages not in `present`, which are not read: in post-copy
/// a missing page would block the reader).
pub fn page_digests(mem: &GuestMemory, present: Option<&PageBitmap>) -> Vec<u64> {
    let mut buf = vec![0u8; PAGE];
    (0..mem.pages())
        .map(|p| {
            if present.is_some_and(|b| !b.get(p)) {
                return 0;
            }
            mem.read(p as usize * PAGE, &mut buf);
            digest(&buf)
        })
        .collect()
}

fn transport(e: WireError) -> ContextError {
    ContextError::Transport(e.to_string())
}

/// A destination in another process, reached over TCP. A reader thread takes every frame
/// from the receiver: `Fault`s go to the fault queue, answers to the answer queue.
pub struct RemoteDestination {
    writer: BufWriter<TcpStream>,
    answers: mpsc::Receiver<Result<(Kind, Vec<u8>), String>>,
    faults: mpsc::Receiver<Fault>,
    pages: u64,
    resumed: Option<(u64, f64, usize)>,
}

impl RemoteDestination {
    /// Connects to a `livemig kvm receive` and sends it the scenario.
    pub fn connect(addr: &str, scenario: &Scenario, prefill: bool, postcopy: bool) -> Result<RemoteDestination, KvmError> {
        let stream = TcpStream::connect(addr).map_err(|e| KvmError::Setup(format!("connecting to {addr}: {e}")))?;
        stream.set_nodelay(true).map_err(|e| KvmError::Setup(e.to_string()))?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| KvmError::Setup(e.to_string()))?);
        let (atx, answers) = mpsc::channel();
        let (ftx, faults) = mpsc::channel();
        let pages = scenario.page_count();
        std::thread::Builder::new()
            .name("from-receiver".into())
            .spawn(move || loop {
                match wire::read_frame(&mut reader) {
                    Ok(Some((Kind::Fault, p))) if p.len() == 9 => {
                        let page = u64::from_le_bytes(p[..8].try_into().expect("8 bytes"));
                        if page >= pages {
                            let _ = atx.send(Err(OutOfRange::new("Fault.page", page, format!("0 to {}", pages - 1)).to_string()));
                            break;
                        }
                        let _ = ftx.send(Fault { page, write: p[8] != 0, at: Instant::now() });
                    }
                    Ok(Some(frame)) => {
                        if atx.send(Ok(frame)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = atx.send(Err(e.to_string()));
                        break;
                    }
                }
            })
            .map_err(|e| KvmError::Setup(format!("spawning the reader: {e}")))?;
        let mut d = RemoteDestination {
            writer: BufWriter::with_capacity(1 << 20, stream),
            answers,
            faults,
            pages: scenario.page_count(),
            resumed: None,
        };
        let hello =
            serde_json::to_vec(&Hello { scenario: scenario.clone(), prefill, postcopy }).map_err(|e| KvmError::Setup(e.to_string()))?;
        wire::write_frame(&mut d.writer, Kind::Hello, &hello).map_err(|e| KvmError::Setup(e.to_string()))?;
        Ok(d)
    }

    fn expect(&mut self, kind: Kind, expected: &'static str) -> Result<Vec<u8>, WireError> {
        // Generous: the receiver's continuation check replays the whole run.
        match self.answers.recv_timeout(Duration::from_secs(600)) {
            Ok(Ok((k, payload))) if k == kind => Ok(payload),
            Ok(Ok((got, _))) => Err(WireError::Unexpected { got, expected }),
            Ok(Err(e)) => Err(WireError::Peer(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(WireError::Peer(format!("no {expected} answer in 600 s"))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(WireError::Truncated("the receiver closed the connection")),
        }
    }
}

impl Destination for RemoteDestination {
    fn deliver(&mut self, msg: Msg) -> Result<(), ContextError> {
        let mut payload = Vec::new();
        let kind = match msg {
            Msg::Copy { pages, from } => {
                for (first, count) in runs_of(&pages) {
                    let mut data = vec![0u8; count as usize * PAGE];
                    from.read(first as usize * PAGE, &mut data);
                    wire::push_record(&mut payload, first, count as u32, Encoding::Full, &data);
                }
                Kind::Pages
            }
            Msg::Pages { pages, data } => {
                let mut at = 0;
                for (first, count) in runs_of(&pages) {
                    let end = at + count as usize * PAGE;
                    wire::push_record(&mut payload, first, count as u32, Encoding::Full, &data[at..end]);
                    at = end;
                }
                Kind::Pages
            }
            Msg::Zero(pages) => {
                for (first, count) in runs_of(&pages) {
                    wire::push_record(&mut payload, first, count as u32, Encoding::Zero, &[]);
                }
                Kind::Pages
            }
            Msg::Encoded(batch) => {
                for (page, encoding, bytes) in batch.iter() {
                    wire::push_record(&mut payload, page, 1, encoding, bytes);
                }
                Kind::Pages
            }
            Msg::Discard(pages) => {
                payload = wire::discard_payload(&pages.runs());
                Kind::Discard
            }
            Msg::State(s) => {
                payload = s.to_bytes();
                Kind::State
            }
            Msg::Sync(_) => return Err(ContextError::Transport("sync is local to a process".into())),
        };
        if payload.is_empty() {
            return Ok(());
        }
        wire::write_frame(&mut self.writer, kind, &payload).map_err(transport)
    }

    fn resume(&mut self, source: &GuestMemory) -> Result<Switchover, ContextError> {
        wire::write_frame(&mut self.writer, Kind::Resume, &[]).map_err(transport)?;
        let payload = self.expect(Kind::Resumed, "Resumed").map_err(transport)?;
        let t = Instant::now();
        let theirs = parse_resumed(&payload, self.pages).map_err(transport)?;
        let mut present = PageBitmap::full(self.pages);
        for &[first, count] in &theirs.absent {
            for p in first..(first + count).min(self.pages) {
                present.clear(p);
            }
        }
        let ours = page_digests(source, Some(&present));
        let mut s = Switchover { plan: theirs.plan, decode_errors: theirs.errors, ..Default::default() };
        s.absent = self.pages - present.count();
        for (p, (a, b)) in ours.iter().zip(&theirs.digests).enumerate() {
            if present.get(p as u64) && a != b {
                s.mismatched_pages += 1;
                if s.first_mismatches.len() < 8 {
                    s.first_mismatches.push(p as u64);
                }
            }
        }
        s.check_s = theirs.check_s + t.elapsed().as_secs_f64();
        self.resumed = Some((theirs.plan.writes, theirs.plan.guest_time, theirs.plan.phase));
        Ok(s)
    }

    fn progress(&self) -> Option<(u64, f64, usize)> {
        self.resumed
    }

    fn next_fault(&mut self, timeout: Duration) -> Option<Fault> {
        if timeout.is_zero() {
            self.faults.try_recv().ok()
        } else {
            self.faults.recv_timeout(timeout).ok()
        }
    }

    fn finish(&mut self, batches: u64) -> Result<Continuation, KvmError> {
        let e = |e: WireError| KvmError::Guest(format!("destination: {e}"));
        wire::write_frame(&mut self.writer, Kind::Finish, &batches.to_le_bytes()).map_err(e)?;
        let payload = self.expect(Kind::Finished, "Finished").map_err(e)?;
        serde_json::from_slice(&payload).map_err(|x| e(WireError::Malformed { kind: Kind::Finished, reason: x.to_string() }))
    }
}

/// The `Resumed` payload, parsed.
struct Resumed {
    absent: Vec<[u64; 2]>,
    digests: Vec<u64>,
    plan: super::guest::PlanState,
    errors: Vec<String>,
    check_s: f64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ResumedTail {
    errors: Vec<String>,
    check_s: f64,
    /// Post-copy: runs `[first, count]` of pages absent at resume (their checksums are 0 and
    /// are not compared).
    #[serde(default)]
    absent: Vec<[u64; 2]>,
}

fn parse_resumed(p: &[u8], pages: u64) -> Result<Resumed, WireError> {
    let bad = |reason: String| WireError::Malformed { kind: Kind::Resumed, reason };
    let n = p.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8"))).ok_or_else(|| bad("no page count".into()))?;
    if n != pages {
        return Err(bad(format!("{n} checksums for a guest of {pages} pages")));
    }
    let end = 8 + n as usize * 8;
    let plan_end = end + super::guest::PlanState::BYTES;
    if p.len() < plan_end {
        return Err(bad("cut short".into()));
    }
    let digests = p[8..end].chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8"))).collect();
    let plan = super::guest::PlanState::from_bytes(p[end..plan_end].try_into().expect("plan bytes"));
    let tail: ResumedTail = serde_json::from_slice(&p[plan_end..]).map_err(|e| bad(e.to_string()))?;
    if let Some([first, count]) = tail.absent.iter().find(|[f, c]| *c == 0 || f.checked_add(*c).is_none_or(|end| end > pages)) {
        let accepted = format!("non-empty runs inside the guest's {pages} pages");
        return Err(OutOfRange::new("Resumed.absent", format!("[{first}, {count}]"), accepted).into());
    }
    Ok(Resumed { digests, plan, errors: tail.errors, check_s: tail.check_s, absent: tail.absent })
}

/// What a receiver did.
#[derive(Debug, Clone)]
pub struct Served {
    /// The scenario's name.
    pub scenario: String,
    /// Page records applied.
    pub records: u64,
    /// The continuation check's result.
    pub continuation: Option<Continuation>,
}

/// How a receiver bounds its peer.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveOptions {
    /// How long each frame may take to arrive, from the moment the receiver starts waiting for
    /// it ([`wire::DEFAULT_READ_TIMEOUT`] by default); also how long an answer may take to be
    /// taken by the sender.
    pub read_timeout: Duration,
    /// How long to wait for a sender to connect ([`DEFAULT_ACCEPT_TIMEOUT`] by default).
    pub accept_timeout: Duration,
    /// How long the whole session may last from the connection. `None` (the default): the
    /// scenario's `migration.timeout` plus [`SESSION_ALLOWANCE_S`], from the moment `Hello`
    /// names it (before it, only the read timeout bounds the wait).
    pub session_timeout: Option<Duration>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions { read_timeout: wire::DEFAULT_READ_TIMEOUT, accept_timeout: DEFAULT_ACCEPT_TIMEOUT, session_timeout: None }
    }
}

/// How long a receiver waits for a sender to connect by default: ten minutes, time to start
/// the sender by hand.
pub const DEFAULT_ACCEPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Nominal guest seconds a source may have run before its state is sent, beyond the scenario's
/// migration timeout: its warm-up (half a second by default) with room to spare.
pub const WARMUP_ALLOWANCE_S: f64 = 60.0;

/// Seconds a session may last beyond the scenario's `migration.timeout` by default: the
/// source's warm-up ([`WARMUP_ALLOWANCE_S`]), plus a minute for what is not the migration:
/// creating the destination VM, the switch-over check, and `Finish` (at most
/// [`wire::MAX_FINISH_BATCHES`] paced batches, 10 s of an idle guest, and their replay in a
/// reference VM).
pub const SESSION_ALLOWANCE_S: f64 = WARMUP_ALLOWANCE_S + 60.0;

/// The session deadline of a receiver of `scenario` under `options`: the time from the
/// connection, and where it comes from (for the message when it passes).
pub fn session_limit(scenario: &Scenario, options: &ReceiveOptions) -> (Duration, String) {
    match options.session_timeout {
        Some(limit) => (limit, "the receiver's --session-timeout".to_string()),
        None => {
            let timeout = scenario.migration.timeout.0;
            let limit = Duration::from_secs_f64(timeout + SESSION_ALLOWANCE_S);
            let origin = format!(
                "the receiver's session deadline: the scenario's migration.timeout {} plus {SESSION_ALLOWANCE_S} s; --session-timeout sets another",
                scenario.migration.timeout
            );
            (limit, origin)
        }
    }
}

/// Waits at most `limit` for a connection on `listener` (polled every 10 ms: the standard
/// library's accept has no timeout).
fn accept_within(listener: &TcpListener, limit: Duration) -> Result<TcpStream, KvmError> {
    let setup = |e: std::io::Error| KvmError::Setup(format!("accept: {e}"));
    listener.set_nonblocking(true).map_err(setup)?;
    let deadline = Instant::now() + limit;
    let accepted = loop {
        match listener.accept() {
            Ok((stream, _)) => break Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(KvmError::Deadline(format!(
                        "no sender connected within {} s (the receiver's --accept-timeout)",
                        limit.as_secs_f64()
                    )));
                }
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(setup(e)),
        }
    };
    listener.set_nonblocking(false).map_err(setup)?;
    let stream = accepted?;
    stream.set_nonblocking(false).map_err(setup)?;
    Ok(stream)
}

/// Serves one migration on `listener`: accepts a connection (within the accept timeout),
/// receives the guest, switches over and answers the continuation check, all by the session
/// deadline. Errors (a bad, late, out-of-order or out-of-range message, a deadline passed, a
/// KVM failure) are sent to the peer as an `Error` message when possible and returned; the
/// destination VM and its threads are gone when it returns.
pub fn serve(listener: &TcpListener, options: &ReceiveOptions) -> Result<Served, KvmError> {
    let stream = accept_within(listener, options.accept_timeout)?;
    let connected = Instant::now();
    // Answers, and the fault forwarder's messages, must be taken by the sender in time too.
    stream.set_write_timeout(Some(options.read_timeout)).map_err(|e| KvmError::Setup(e.to_string()))?;
    let writer = Arc::new(Mutex::new(BufWriter::new(stream.try_clone().map_err(|e| KvmError::Setup(e.to_string()))?)));
    let mut timed = TimedStream::new(stream, options.read_timeout);
    if let Some(limit) = options.session_timeout {
        timed.end_session_by(connected + limit);
    }
    let mut reader = BufReader::with_capacity(1 << 20, timed);
    let result = serve_stream(&mut reader, &writer, options, connected);
    if let Err(e) = &result {
        let _ = wire::write_frame(&mut *writer.lock().expect("writer lock"), Kind::Error, e.to_string().as_bytes());
    }
    result
}

type SharedWriter = Arc<Mutex<BufWriter<TcpStream>>>;
type Reader = BufReader<TimedStream>;

/// The session's deadline: its length from the connection, and where that comes from.
type Session = (Duration, String);

/// Reads the next frame within the read timeout and the session deadline (see
/// [`read_message`]); a read cut by the session deadline is [`WireError::SessionTimeout`].
fn next_frame(reader: &mut Reader, stage: Stage, limits: &Limits, session: Option<&Session>) -> Result<(Kind, Vec<u8>), WireError> {
    reader.get_mut().arm();
    let limit = reader.get_ref().limit();
    read_message(reader, stage, limits).map_err(|e| match session {
        Some((limit, origin)) if wire::timed_out(&e) && reader.get_ref().session_over() => {
            WireError::SessionTimeout { limit: *limit, origin: origin.clone() }
        }
        _ if wire::timed_out(&e) => WireError::Timeout(limit),
        _ => e,
    })
}

/// Writes an answer to the sender; one the sender does not take within the write timeout is
/// [`WireError::WriteTimeout`].
fn answer(writer: &SharedWriter, kind: Kind, payload: &[u8], limit: Duration) -> Result<(), WireError> {
    wire::write_frame(&mut *writer.lock().expect("writer lock"), kind, payload).map_err(|e| {
        if wire::timed_out(&e) {
            WireError::WriteTimeout { kind, limit }
        } else {
            e
        }
    })
}

/// Reads the next frame the receiver accepts at `stage`: its kind must be one `stage` accepts
/// and its length within `limits`, both checked on the header, before any of the payload is
/// read. An `Error` frame (its text bounded like a `Hello`) becomes [`WireError::Peer`].
pub fn read_message(reader: &mut impl Read, stage: Stage, limits: &Limits) -> Result<(Kind, Vec<u8>), WireError> {
    let header = wire::read_header(reader)?.ok_or(WireError::Truncated("the sender closed the connection before Finish"))?;
    if header.kind == Kind::Error {
        if header.len > wire::MAX_HELLO {
            return Err(WireError::TooLong(header.len));
        }
    } else {
        stage.next(header.kind, false)?;
        limits.check(header)?;
    }
    let payload = wire::read_payload(reader, header)?;
    Ok((header.kind, payload))
}

/// Parses and checks a `State` payload for `planner`'s guest (see [`MigratedState::check`]).
pub fn parse_state(payload: &[u8], planner: &Planner, max_guest_time: f64) -> Result<MigratedState, WireError> {
    let s = MigratedState::from_bytes(payload)
        .ok_or_else(|| WireError::Malformed { kind: Kind::State, reason: format!("{} bytes of state", payload.len()) })?;
    s.check(planner, max_guest_time)?;
    Ok(s)
}

/// The most nominal guest seconds a source of `scenario` can have run when it sends its state:
/// the scenario's migration timeout plus [`WARMUP_ALLOWANCE_S`].
pub fn max_guest_time(scenario: &Scenario) -> f64 {
    scenario.migration.timeout.0 + WARMUP_ALLOWANCE_S
}

fn serve_stream(reader: &mut Reader, writer: &SharedWriter, options: &ReceiveOptions, connected: Instant) -> Result<Served, KvmError> {
    let w = |e: WireError| match e {
        WireError::SessionTimeout { .. } => KvmError::Deadline(e.to_string()),
        e => KvmError::Guest(format!("migration stream: {e}")),
    };
    let c = |e: ContextError| KvmError::Guest(e.to_string());
    let mut limits = Limits::new(0, MigratedState::wire_bytes());
    let flagged = options.session_timeout.map(|limit| (limit, "the receiver's --session-timeout".to_string()));
    let (kind, payload) = next_frame(reader, Stage::AwaitHello, &limits, flagged.as_ref()).map_err(w)?;
    let hello: Hello = serde_json::from_slice(&payload).map_err(|e| w(WireError::Malformed { kind, reason: e.to_string() }))?;
    let mut stage = Stage::AwaitHello.next(kind, hello.postcopy).map_err(w)?;
    let scenario = hello.scenario;
    scenario.validate().map_err(|e| w(WireError::Malformed { kind, reason: e.to_string() }))?;
    if scenario.vm.page_size.0 != PAGE as u64 || scenario.vm.memory.0 > super::guest::MAX_MEMORY {
        return Err(w(WireError::Malformed { kind, reason: "the scenario's memory is not supported on KVM".into() }));
    }
    let n = scenario.page_count();
    limits.pages = n;
    let session = session_limit(&scenario, options);
    reader.get_mut().end_session_by(connected + session.0);
    let max_guest_time = max_guest_time(&scenario);
    let planner = Planner::new(&scenario, Layout::new(n, scenario.used_range().end));
    let mut dest = LocalDestination::new(&scenario, planner.clone(), hello.prefill, hello.postcopy)?;
    // Post-copy: forward the destination guest's page faults as they happen.
    let write_limit = options.read_timeout;
    if let Some(faults) = dest.take_faults() {
        let writer = writer.clone();
        std::thread::Builder::new()
            .name("to-sender".into())
            .spawn(move || {
                for f in faults {
                    let mut p = f.page.to_le_bytes().to_vec();
                    p.push(f.write as u8);
                    if answer(&writer, Kind::Fault, &p, write_limit).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| KvmError::Setup(format!("spawning the fault forwarder: {e}")))?;
    }
    let mut served = Served { scenario: scenario.name.clone(), records: 0, continuation: None };
    loop {
        let (kind, payload) = next_frame(reader, stage, &limits, Some(&session)).map_err(w)?;
        stage = stage.next(kind, hello.postcopy).map_err(w)?;
        match kind {
            Kind::Pages => {
                let records = wire::parse_records(&payload, n).map_err(w)?;
                let mut batch = EncodedBatch::new();
                for r in records {
                    served.records += 1;
                    let pages: Vec<u64> = (r.first..r.first + r.count as u64).collect();
                    match r.encoding {
                        Encoding::Full => dest.deliver(Msg::Pages { pages, data: r.bytes.to_vec() }).map_err(c)?,
                        Encoding::Zero => dest.deliver(Msg::Zero(pages)).map_err(c)?,
                        e => batch.push(r.first, e, r.bytes),
                    }
                }
                if !batch.is_empty() {
                    dest.deliver(Msg::Encoded(batch)).map_err(c)?;
                }
            }
            Kind::Discard => {
                let mut pages = PageBitmap::new(n);
                for (first, count) in wire::parse_discard(&payload, n).map_err(w)? {
                    (first..first + count).for_each(|p| {
                        pages.set(p);
                    });
                }
                dest.deliver(Msg::Discard(pages)).map_err(c)?;
            }
            Kind::State => {
                let s = parse_state(&payload, &planner, max_guest_time).map_err(w)?;
                dest.deliver(Msg::State(Box::new(s))).map_err(c)?;
            }
            Kind::Resume => {
                let (plan, errors) = dest.arrive().map_err(c)?;
                let t = Instant::now();
                let present = dest.present_pages();
                let digests = page_digests(dest.memory(), present.as_ref());
                let check_s = t.elapsed().as_secs_f64();
                let absent: Vec<[u64; 2]> = present
                    .map(|b| {
                        let mut missing = PageBitmap::full(n);
                        missing.subtract(&b);
                        missing.runs().into_iter().map(|(f, c)| [f, c]).collect()
                    })
                    .unwrap_or_default();
                dest.start(plan);
                let mut out = Vec::with_capacity(8 + digests.len() * 8 + 256);
                out.extend_from_slice(&(digests.len() as u64).to_le_bytes());
                digests.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
                out.extend_from_slice(&plan.to_bytes());
                out.extend_from_slice(&serde_json::to_vec(&ResumedTail { errors, check_s, absent }).expect("serialisable"));
                answer(writer, Kind::Resumed, &out, write_limit).map_err(w)?;
            }
            Kind::Finish => {
                let batches = wire::parse_finish(&payload).map_err(w)?;
                let cont = dest.finish(batches)?;
                answer(writer, Kind::Finished, &serde_json::to_vec(&cont).expect("serialisable"), write_limit).map_err(w)?;
                served.continuation = Some(cont);
                return Ok(served);
            }
            other => unreachable!("the stage machine accepted a {other:?} message"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Resumed` payload for a guest of `pages` pages with these absent runs.
    fn resumed(pages: u64, absent: Vec<[u64; 2]>) -> Vec<u8> {
        let mut out = pages.to_le_bytes().to_vec();
        (0..pages).for_each(|_| out.extend_from_slice(&0u64.to_le_bytes()));
        out.extend_from_slice(&super::super::guest::PlanState::start().to_bytes());
        out.extend_from_slice(&serde_json::to_vec(&ResumedTail { errors: vec![], check_s: 0.0, absent }).unwrap());
        out
    }

    #[test]
    fn the_session_deadline_follows_the_scenario_timeout_unless_the_flag_sets_it() {
        let mut s = Scenario::from_toml_str("[vm]\nmemory = \"1 MiB\"\n[migration]\ntimeout = \"5 s\"\n").unwrap();
        let (limit, origin) = session_limit(&s, &ReceiveOptions::default());
        assert_eq!(limit, Duration::from_secs(125));
        assert_eq!(
            origin,
            "the receiver's session deadline: the scenario's migration.timeout 5 s plus 120 s; --session-timeout sets another"
        );
        s.migration.timeout = livemig_core::units::Seconds(600.0);
        assert_eq!(session_limit(&s, &ReceiveOptions::default()).0, Duration::from_secs(720));
        let flagged = ReceiveOptions { session_timeout: Some(Duration::from_secs(7)), ..Default::default() };
        assert_eq!(session_limit(&s, &flagged), (Duration::from_secs(7), "the receiver's --session-timeout".to_string()));
    }

    #[test]
    fn a_resumed_answer_with_absent_runs_outside_the_guest_is_refused() {
        assert_eq!(parse_resumed(&resumed(16, vec![[0, 4], [10, 6]]), 16).unwrap().absent.len(), 2);
        for bad in [[10, 7], [u64::MAX, 2], [3, 0]] {
            let e = parse_resumed(&resumed(16, vec![bad]), 16).err().unwrap().to_string();
            assert_eq!(e, format!("Resumed.absent: [{}, {}]: accepted non-empty runs inside the guest's 16 pages", bad[0], bad[1]));
        }
        assert!(parse_resumed(&resumed(16, vec![]), 17).is_err(), "16 checksums for 17 pages");
    }
}
