//! The wire protocol between `livemig kvm send` and `livemig kvm receive` (TCP).
//!
//! # Format (version 2)
//!
//! Every message is a **frame**: a 16-byte little-endian header, then `length` payload bytes.
//!
//! | bytes | field   | value                                              |
//! |-------|---------|----------------------------------------------------|
//! | 0..4  | magic   | `b"LMIG"`                                          |
//! | 4..6  | version | [`VERSION`] (a receiver refuses any other)         |
//! | 6..8  | kind    | [`Kind`] as u16                                    |
//! | 8..16 | length  | payload bytes, at most [`MAX_PAYLOAD`]             |
//!
//! Payloads by kind (sender → receiver unless noted):
//!
//! * `Hello`: JSON `{"scenario": Scenario, "prefill": bool}`: the receiver creates the
//!   destination VM from the scenario (memory size, workload for the continuation check).
//! * `Pages`: a sequence of page records, each `first: u64, count: u32, encoding: u8, len: u32`
//!   then `len` bytes. Encodings: 0 full (`count` consecutive pages, `len = count * 4096`, the
//!   page ranges of Cloud Hypervisor's `MemoryRangeTable`), 1 zero (`count` pages, `len = 0`),
//!   2 XBZRLE delta, 3 WKdm, 4 LZ4 (one page each, `count = 1`).
//! * `State`: the vCPU state and the guest's batch plan (see [`super::vm::VcpuState::to_bytes`]).
//! * `Resume` (empty): all pages and the state have been sent; the receiver loads the state,
//!   checksums every page, starts the guest and answers `Resumed` (receiver → sender):
//!   `pages: u64`, then `pages` u64 page checksums, then JSON `{"errors": [..]}`.
//! * `Finish`: `batches: u64`; the receiver runs the guest that many more batches, replays it in a
//!   reference VM and answers `Finished` (receiver → sender): JSON of [`Continuation`].
//! * `Error` (either way): a UTF-8 message; the connection ends.
//! * `Fault` (receiver → sender, post-copy, interleaved with the answers above): `page: u64,
//!   write: u8`: the destination guest touched an absent page and waits for it.
//! * `Discard` (post-copy, before `Resume`; new in version 2 for TSMC's dirty bitmap): page
//!   ranges `first: u64, count: u64`, each in the guest and in order; the receiver drops those
//!   pages from its memory so that they are absent when the guest resumes.
//!
//! A frame with a bad magic, an unknown version or kind, a length over the limit, a truncated
//! payload, or a payload that does not parse is an error ([`WireError`]), never a panic.
//!
//! # What a receiver accepts
//!
//! A receiver must not be tied up by its peer, so besides parsing it checks:
//!
//! * **Order** ([`Stage`]): `Hello` once, first; then `Pages`, `Discard` (post-copy only) and
//!   `State` (once) in any order; `Resume` once, after `State`; then `Pages` (post-copy only) and
//!   `Finish` once, which ends the session. Anything else (a repeated `Resume`, a `State` after
//!   it, a receiver's message) is refused on its header, before its payload is read.
//! * **Lengths** ([`Limits`]): each kind's payload is bounded by what the migration announced in
//!   `Hello` can need (e.g. `Pages` by the guest's size), and a payload is read as it arrives,
//!   never allocated whole from the header's claim.
//! * **Counts**: page records and discarded runs lie inside the guest; `Finish.batches` is 1 to
//!   [`MAX_FINISH_BATCHES`].
//! * **Time** ([`TimedStream`]): each frame must arrive whole within the receiver's read
//!   timeout of the moment it starts waiting for it (`livemig kvm receive --read-timeout`,
//!   [`DEFAULT_READ_TIMEOUT`] by default), and the whole session must end by the session
//!   deadline ([`super::remote::ReceiveOptions`]), so that a sender cannot hold the receiver by
//!   sending valid messages slowly. Answers to the sender must make progress within the read
//!   timeout too (a sender that stops reading is cut off).

use livemig_core::context::Encoding;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The protocol version this build speaks.
pub const VERSION: u16 = 2;
/// The frame magic.
pub const MAGIC: [u8; 4] = *b"LMIG";
/// Largest payload accepted (a `Resumed` for a 1 GiB guest is 2 MiB; a page batch a few MiB).
pub const MAX_PAYLOAD: u64 = 256 << 20;
/// Page size on the wire.
pub const PAGE: usize = 4096;
/// Largest `Hello` payload (a scenario's JSON is a few KiB).
pub const MAX_HELLO: u64 = 1 << 20;
/// Most batches a `Finish` may ask the destination to run on, paced (the sender asks for 100:
/// 0.2 s of a busy guest, 1 s of an idle one; 1,000 idle batches take 10 s). The reference VM
/// then replays every batch from boot, unpaced.
pub const MAX_FINISH_BATCHES: u64 = 1_000;
/// How long a receiver waits for a frame by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of one page record's header.
pub const RECORD_HEADER: u64 = 17;

/// Message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// Start of a migration: the scenario.
    Hello = 1,
    /// Page records.
    Pages = 2,
    /// vCPU and plan state.
    State = 3,
    /// Switch over.
    Resume = 4,
    /// Answer to `Resume`: page checksums.
    Resumed = 5,
    /// Run on and check the continuation.
    Finish = 6,
    /// Answer to `Finish`.
    Finished = 7,
    /// Failure; the connection ends.
    Error = 8,
    /// Post-copy page fault (receiver → sender, any time after `Resumed`).
    Fault = 9,
    /// Post-copy: pages that become absent again (TSMC's dirty bitmap).
    Discard = 10,
}

impl Kind {
    fn from_u16(v: u16) -> Option<Kind> {
        Some(match v {
            1 => Kind::Hello,
            2 => Kind::Pages,
            3 => Kind::State,
            4 => Kind::Resume,
            5 => Kind::Resumed,
            6 => Kind::Finish,
            7 => Kind::Finished,
            8 => Kind::Error,
            9 => Kind::Fault,
            10 => Kind::Discard,
            _ => return None,
        })
    }
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended inside a frame.
    #[error("truncated message: {0}")]
    Truncated(&'static str),
    /// Not a LiveMig frame.
    #[error("bad magic {0:02x?}: not a livemig migration stream")]
    Magic([u8; 4]),
    /// Another protocol version.
    #[error("protocol version {0} is not supported: this build speaks version {VERSION}")]
    Version(u16),
    /// An unknown message kind.
    #[error("unknown message kind {0}")]
    Kind(u16),
    /// A payload over the limit.
    #[error("message of {0} bytes is over the limit of {MAX_PAYLOAD}")]
    TooLong(u64),
    /// A payload that does not parse.
    #[error("malformed {kind:?} message: {reason}")]
    Malformed {
        /// The message kind.
        kind: Kind,
        /// What is wrong.
        reason: String,
    },
    /// The peer reported an error.
    #[error("the peer failed: {0}")]
    Peer(String),
    /// A message of the wrong kind at this point of the protocol.
    #[error("unexpected {got:?} message: expected {expected}")]
    Unexpected {
        /// What arrived.
        got: Kind,
        /// What the protocol expects.
        expected: &'static str,
    },
    /// A frame did not arrive whole in time.
    #[error("no complete message within {} s (the receiver's --read-timeout): the sender stopped sending", .0.as_secs_f64())]
    Timeout(Duration),
    /// An answer could not be written in time: the peer stopped reading.
    #[error("could not send {kind:?} within {} s (the receiver's --read-timeout): the sender stopped reading", .limit.as_secs_f64())]
    WriteTimeout {
        /// The answer being written.
        kind: Kind,
        /// The time it was given.
        limit: Duration,
    },
    /// The whole session did not end by its deadline.
    #[error("the migration did not end within {} s of the connection ({origin}): the sender is too slow or stalled", .limit.as_secs_f64())]
    SessionTimeout {
        /// The time the session was given, from the connection.
        limit: Duration,
        /// Where that time comes from, for people (the flag, or the scenario's timeout and
        /// the allowance).
        origin: String,
    },
    /// A field with a value outside what the migration can need.
    #[error(transparent)]
    Range(#[from] OutOfRange),
}

/// A field whose value is outside the accepted range; the message names both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value}: accepted {accepted}")]
pub struct OutOfRange {
    /// The field, e.g. `Finish.batches` or `State.sregs.cr0`.
    pub field: &'static str,
    /// The value received, shortly formatted.
    pub value: String,
    /// What is accepted.
    pub accepted: String,
}

impl OutOfRange {
    /// A value of `field` outside `accepted`.
    pub fn new(field: &'static str, value: impl std::fmt::Display, accepted: impl Into<String>) -> OutOfRange {
        OutOfRange { field, value: value.to_string(), accepted: accepted.into() }
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> Result<(), WireError> {
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&VERSION.to_le_bytes());
    header[6..8].copy_from_slice(&(kind as u16).to_le_bytes());
    header[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    w.write_all(&header)?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

/// A frame's header: its kind and payload length (already checked against [`MAX_PAYLOAD`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message kind.
    pub kind: Kind,
    /// Payload bytes announced.
    pub len: u64,
}

/// Reads and checks one frame header. `Ok(None)` when the stream ends cleanly before it.
pub fn read_header(r: &mut impl Read) -> Result<Option<Header>, WireError> {
    let mut header = [0u8; 16];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(WireError::Truncated("header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    parse_header(&header).map(Some)
}

/// Checks a 16-byte frame header.
pub fn parse_header(header: &[u8; 16]) -> Result<Header, WireError> {
    let magic: [u8; 4] = header[0..4].try_into().expect("4 bytes");
    if magic != MAGIC {
        return Err(WireError::Magic(magic));
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let kind_raw = u16::from_le_bytes([header[6], header[7]]);
    let kind = Kind::from_u16(kind_raw).ok_or(WireError::Kind(kind_raw))?;
    let len = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    if len > MAX_PAYLOAD {
        return Err(WireError::TooLong(len));
    }
    Ok(Header { kind, len })
}

/// Reads the payload of `header`, growing the buffer as bytes arrive (a header's claim alone
/// allocates at most 1 MiB). An `Error` payload becomes [`WireError::Peer`].
pub fn read_payload(r: &mut impl Read, header: Header) -> Result<Vec<u8>, WireError> {
    let mut payload = Vec::with_capacity(header.len.min(1 << 20) as usize);
    let got = r.take(header.len).read_to_end(&mut payload)?;
    if (got as u64) < header.len {
        return Err(WireError::Truncated("payload"));
    }
    if header.kind == Kind::Error {
        return Err(WireError::Peer(String::from_utf8_lossy(&payload).into_owned()));
    }
    Ok(payload)
}

/// Reads one frame: its kind and payload. `Ok(None)` when the stream ends cleanly before a
/// frame.
pub fn read_frame(r: &mut impl Read) -> Result<Option<(Kind, Vec<u8>)>, WireError> {
    let Some(header) = read_header(r)? else { return Ok(None) };
    let payload = read_payload(r, header)?;
    Ok(Some((header.kind, payload)))
}

/// A TCP stream whose reads must finish by a deadline: [`TimedStream::arm`] sets it, each read
/// waits at most until then, and one after it fails with `TimedOut` (see [`WireError::Timeout`]).
/// A session deadline ([`TimedStream::end_session_by`]), when set, bounds every read as well.
#[derive(Debug)]
pub struct TimedStream {
    stream: TcpStream,
    limit: Duration,
    deadline: Option<Instant>,
    session: Option<Instant>,
}

impl TimedStream {
    /// Wraps `stream`; each armed deadline is `limit` from the moment it is armed.
    pub fn new(stream: TcpStream, limit: Duration) -> TimedStream {
        TimedStream { stream, limit, deadline: None, session: None }
    }
    /// Starts the clock for the next frame.
    pub fn arm(&mut self) {
        self.deadline = Some(Instant::now() + self.limit);
    }
    /// The time each frame is given.
    pub fn limit(&self) -> Duration {
        self.limit
    }
    /// Sets the instant by which the whole session must end: no read waits past it.
    pub fn end_session_by(&mut self, at: Instant) {
        self.session = Some(at);
    }
    /// Whether the session deadline has passed.
    pub fn session_over(&self) -> bool {
        self.session.is_some_and(|at| Instant::now() >= at)
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let deadline = match (self.deadline, self.session) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

/// Whether `e` is a read that ran out of time (`TimedOut`, or `WouldBlock` from a socket
/// timeout).
pub fn timed_out(e: &WireError) -> bool {
    matches!(e, WireError::Io(io) if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock))
}

/// Where a receiver is in the protocol (see the module's "What a receiver accepts").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing received yet: only `Hello`.
    AwaitHello,
    /// Between `Hello` and `Resume`.
    Receiving {
        /// The migration is post-copy (`Hello.postcopy`): `Discard` is allowed.
        postcopy: bool,
        /// `State` has arrived.
        state: bool,
    },
    /// After `Resume`: post-copy pages, then `Finish`.
    Resumed {
        /// The migration is post-copy: pages may still arrive.
        postcopy: bool,
    },
    /// After `Finish`: nothing more.
    Finished,
}

impl Stage {
    /// The stage after a message of `kind`, or why it is refused here. `postcopy` is
    /// `Hello.postcopy`, read only on `Hello`.
    pub fn next(self, kind: Kind, postcopy: bool) -> Result<Stage, WireError> {
        let next = match (self, kind) {
            (Stage::AwaitHello, Kind::Hello) => Some(Stage::Receiving { postcopy, state: false }),
            (Stage::Receiving { .. }, Kind::Pages) => Some(self),
            (Stage::Receiving { postcopy: true, .. }, Kind::Discard) => Some(self),
            (Stage::Receiving { postcopy, state: false }, Kind::State) => Some(Stage::Receiving { postcopy, state: true }),
            (Stage::Receiving { postcopy, state: true }, Kind::Resume) => Some(Stage::Resumed { postcopy }),
            (Stage::Resumed { postcopy: true }, Kind::Pages) => Some(self),
            (Stage::Resumed { .. }, Kind::Finish) => Some(Stage::Finished),
            _ => None,
        };
        next.ok_or(WireError::Unexpected { got: kind, expected: self.expected() })
    }

    /// The messages accepted here, for errors.
    pub fn expected(self) -> &'static str {
        match self {
            Stage::AwaitHello => "Hello",
            Stage::Receiving { postcopy: false, state: false } => "Pages or State",
            Stage::Receiving { postcopy: false, state: true } => "Pages or Resume",
            Stage::Receiving { postcopy: true, state: false } => "Pages, Discard or State",
            Stage::Receiving { postcopy: true, state: true } => "Pages, Discard or Resume",
            Stage::Resumed { postcopy: true } => "Pages or Finish",
            Stage::Resumed { postcopy: false } => "Finish",
            Stage::Finished => "nothing after Finish",
        }
    }
}

/// The largest payload of each kind a receiver accepts for a guest of `pages` pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Pages in the guest (0 before `Hello`).
    pub pages: u64,
    /// Bytes of a `State` payload (exact).
    pub state: u64,
}

impl Limits {
    /// The limits for a guest of `pages` pages whose `State` is `state` bytes.
    pub fn new(pages: u64, state: u64) -> Limits {
        Limits { pages, state }
    }

    /// Checks a header's length against what its kind can need: `Hello` up to [`MAX_HELLO`];
    /// `Pages` up to every page at its largest encoding with its record header, within
    /// [`MAX_PAYLOAD`];
    /// `Discard` up to one run per page; `State` exactly; `Resume` empty; `Finish` 8 bytes.
    pub fn check(&self, header: Header) -> Result<(), WireError> {
        let (low, high, accepted) = match header.kind {
            Kind::Hello => (1, MAX_HELLO, format!("1 to {MAX_HELLO} bytes")),
            Kind::Pages => {
                let per_page = livemig_core::codec::max_compressed_len(PAGE) as u64 + RECORD_HEADER;
                let max = self.pages.saturating_mul(per_page).min(MAX_PAYLOAD);
                (RECORD_HEADER, max, format!("{RECORD_HEADER} to {max} bytes for a guest of {} pages", self.pages))
            }
            Kind::Discard => {
                let max = self.pages.saturating_mul(16).min(MAX_PAYLOAD);
                (16, max, format!("16 to {max} bytes for a guest of {} pages", self.pages))
            }
            Kind::State => (self.state, self.state, format!("{} bytes", self.state)),
            Kind::Resume => (0, 0, "0 bytes".into()),
            Kind::Finish => (8, 8, "8 bytes".into()),
            _ => (0, MAX_PAYLOAD, format!("up to {MAX_PAYLOAD} bytes")),
        };
        if header.len < low || header.len > high {
            return Err(OutOfRange::new(kind_length_field(header.kind), format!("{} bytes", header.len), accepted).into());
        }
        Ok(())
    }
}

/// The field name of a kind's payload length, for errors.
fn kind_length_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Hello => "Hello length",
        Kind::Pages => "Pages length",
        Kind::Discard => "Discard length",
        Kind::State => "State length",
        Kind::Resume => "Resume length",
        Kind::Finish => "Finish length",
        _ => "message length",
    }
}

/// Parses a `Finish` payload: the batches to run on, 1 to [`MAX_FINISH_BATCHES`].
pub fn parse_finish(payload: &[u8]) -> Result<u64, WireError> {
    let bytes: [u8; 8] =
        payload.try_into().map_err(|_| OutOfRange::new("Finish length", format!("{} bytes", payload.len()), "8 bytes (batches: u64)"))?;
    let batches = u64::from_le_bytes(bytes);
    if !(1..=MAX_FINISH_BATCHES).contains(&batches) {
        return Err(OutOfRange::new("Finish.batches", batches, format!("1 to {MAX_FINISH_BATCHES}")).into());
    }
    Ok(batches)
}

/// The `Hello` payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// The scenario being migrated.
    pub scenario: livemig_core::Scenario,
    /// Whether the guest's working sets were prefilled (the reference run must do the same).
    pub prefill: bool,
    /// Post-copy: register the destination's memory with userfaultfd and report faults.
    #[serde(default)]
    pub postcopy: bool,
}

/// The receiver's answer to `Finish`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Continuation {
    /// Writes the guest had made when `Finish` arrived.
    pub writes: u64,
    /// Nominal guest seconds done when `Finish` arrived.
    pub guest_time: f64,
    /// The destination matched the reference run.
    pub ok: bool,
    /// Pages that differed.
    pub mismatches: u64,
    /// The batch both stopped at.
    pub batch: u64,
}

fn encoding_code(e: Encoding) -> u8 {
    match e {
        Encoding::Full => 0,
        Encoding::Zero => 1,
        Encoding::Delta => 2,
        Encoding::Wkdm => 3,
        Encoding::Lz4 => 4,
        _ => 255,
    }
}

fn encoding_from(code: u8) -> Option<Encoding> {
    Some(match code {
        0 => Encoding::Full,
        1 => Encoding::Zero,
        2 => Encoding::Delta,
        3 => Encoding::Wkdm,
        4 => Encoding::Lz4,
        _ => return None,
    })
}

/// One page record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// First page.
    pub first: u64,
    /// Pages.
    pub count: u32,
    /// Encoding.
    pub encoding: Encoding,
    /// Bytes (full pages, or one encoded page).
    pub bytes: &'a [u8],
}

/// Appends a page record to a `Pages` payload.
pub fn push_record(out: &mut Vec<u8>, first: u64, count: u32, encoding: Encoding, bytes: &[u8]) {
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.push(encoding_code(encoding));
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Parses a `Pages` payload for a guest of `pages` pages.
pub fn parse_records(payload: &[u8], pages: u64) -> Result<Vec<Record<'_>>, WireError> {
    let bad = |reason: String| WireError::Malformed { kind: Kind::Pages, reason };
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < payload.len() {
        if payload.len() - at < 17 {
            return Err(bad(format!("a record header at byte {at} is cut short")));
        }
        let first = u64::from_le_bytes(payload[at..at + 8].try_into().expect("8"));
        let count = u32::from_le_bytes(payload[at + 8..at + 12].try_into().expect("4"));
        let code = payload[at + 12];
        let len = u32::from_le_bytes(payload[at + 13..at + 17].try_into().expect("4")) as usize;
        at += 17;
        let encoding = encoding_from(code).ok_or_else(|| bad(format!("unknown encoding {code}")))?;
        if count == 0 || first.checked_add(count as u64).is_none_or(|end| end > pages) {
            return Err(bad(format!("pages {first}+{count} are outside the guest's {pages} pages")));
        }
        let expected = match encoding {
            Encoding::Full => Some(count as usize * PAGE),
            Encoding::Zero => Some(0),
            _ if count != 1 => return Err(bad(format!("an encoded record of {count} pages: accepted 1"))),
            _ => None,
        };
        if expected.is_some_and(|e| e != len) || len > payload.len() - at {
            return Err(bad(format!("record of pages {first}+{count} has {len} bytes")));
        }
        out.push(Record { first, count, encoding, bytes: &payload[at..at + len] });
        at += len;
    }
    Ok(out)
}

/// A `Discard` payload: the page runs `(first, count)`.
pub fn discard_payload(runs: &[(u64, u64)]) -> Vec<u8> {
    runs.iter().flat_map(|&(first, count)| first.to_le_bytes().into_iter().chain(count.to_le_bytes())).collect()
}

/// Parses a `Discard` payload for a guest of `pages` pages: runs in the guest, in order, not
/// overlapping.
pub fn parse_discard(payload: &[u8], pages: u64) -> Result<Vec<(u64, u64)>, WireError> {
    let bad = |reason: String| WireError::Malformed { kind: Kind::Discard, reason };
    if payload.len() % 16 != 0 {
        return Err(bad(format!("{} bytes: accepted a multiple of 16 (first: u64, count: u64)", payload.len())));
    }
    let mut runs = Vec::with_capacity(payload.len() / 16);
    let mut next = 0u64;
    for chunk in payload.chunks_exact(16) {
        let first = u64::from_le_bytes(chunk[..8].try_into().expect("8"));
        let count = u64::from_le_bytes(chunk[8..].try_into().expect("8"));
        if count == 0 || first < next || first.checked_add(count).is_none_or(|end| end > pages) {
            return Err(bad(format!("pages {first}+{count}: accepted ascending, non-empty runs inside the guest's {pages} pages")));
        }
        next = first + count;
        runs.push((first, count));
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Finish, &7u64.to_le_bytes()).unwrap();
        let (kind, payload) = read_frame(&mut &buf[..]).unwrap().unwrap();
        assert_eq!((kind, payload), (Kind::Finish, 7u64.to_le_bytes().to_vec()));
        assert!(read_frame(&mut &buf[..0]).unwrap().is_none());
        assert!(matches!(read_frame(&mut &buf[..10]), Err(WireError::Truncated("header"))));
        assert!(matches!(read_frame(&mut &buf[..20]), Err(WireError::Truncated("payload"))));
        let mut bad = buf.clone();
        bad[0] = b'X';
        assert!(matches!(read_frame(&mut &bad[..]), Err(WireError::Magic(_))));
        let mut bad = buf.clone();
        bad[4] = 9;
        assert!(matches!(read_frame(&mut &bad[..]), Err(WireError::Version(9))));
        let mut bad = buf.clone();
        bad[6] = 99;
        assert!(matches!(read_frame(&mut &bad[..]), Err(WireError::Kind(99))));
        let mut bad = buf.clone();
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read_frame(&mut &bad[..]), Err(WireError::TooLong(_))));
        let mut err = Vec::new();
        write_frame(&mut err, Kind::Error, b"boom").unwrap();
        assert!(matches!(read_frame(&mut &err[..]), Err(WireError::Peer(m)) if m == "boom"));
    }

    #[test]
    fn page_records_round_trip_and_are_checked() {
        let mut p = Vec::new();
        push_record(&mut p, 3, 2, Encoding::Full, &[7u8; 2 * PAGE]);
        push_record(&mut p, 9, 5, Encoding::Zero, &[]);
        push_record(&mut p, 1, 1, Encoding::Lz4, &[1, 2, 3]);
        let r = parse_records(&p, 16).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].first, r[0].count, r[0].bytes.len()), (3, 2, 2 * PAGE));
        assert_eq!((r[1].first, r[1].count, r[1].encoding), (9, 5, Encoding::Zero));
        assert_eq!(r[2].bytes, &[1, 2, 3]);
        assert!(parse_records(&p, 10).is_err(), "page 13 is outside a 10-page guest");
        assert!(parse_records(&p[..p.len() - 1], 16).is_err(), "truncated");
        let mut bad = Vec::new();
        push_record(&mut bad, 0, 1, Encoding::Full, &[0u8; 100]);
        assert!(parse_records(&bad, 16).is_err(), "a full page of 100 bytes");
    }

    #[test]
    fn discard_runs_round_trip_and_bad_runs_are_errors() {
        let runs = vec![(0, 3), (10, 1), (100, 28)];
        assert_eq!(parse_discard(&discard_payload(&runs), 128).unwrap(), runs);
        assert!(parse_discard(&[], 128).unwrap().is_empty());
        for bad in [vec![(0, 3), (2, 1)], vec![(127, 2)], vec![(5, 0)], vec![(u64::MAX, 2)]] {
            let e = parse_discard(&discard_payload(&bad), 128).unwrap_err().to_string();
            assert!(e.contains("Discard") && e.contains("accepted"), "{bad:?}: {e}");
        }
        assert!(parse_discard(&[0u8; 15], 128).unwrap_err().to_string().contains("multiple of 16"));
    }

    #[test]
    fn the_stage_machine_refuses_out_of_order_and_repeated_messages() {
        use Kind::*;
        let run = |kinds: &[Kind], postcopy: bool| {
            kinds.iter().try_fold(Stage::AwaitHello, |st, &k| st.next(k, postcopy)).map_err(|e| e.to_string())
        };
        assert_eq!(run(&[Hello, Pages, State, Pages, Resume, Finish], false), Ok(Stage::Finished));
        assert_eq!(run(&[Hello, Discard, Pages, State, Resume, Pages, Pages, Finish], true), Ok(Stage::Finished));
        for (kinds, postcopy, expected) in [
            (&[Pages][..], false, "unexpected Pages message: expected Hello"),
            (&[Hello, Hello], false, "unexpected Hello message: expected Pages or State"),
            (&[Hello, Resume], false, "unexpected Resume message: expected Pages or State"),
            (&[Hello, State, State], false, "unexpected State message: expected Pages or Resume"),
            (&[Hello, State, Resume, Resume], false, "unexpected Resume message: expected Finish"),
            (&[Hello, State, Resume, Resume], true, "unexpected Resume message: expected Pages or Finish"),
            (&[Hello, State, Resume, Pages], false, "unexpected Pages message: expected Finish"),
            (&[Hello, State, Resume, State], true, "unexpected State message: expected Pages or Finish"),
            (&[Hello, Discard], false, "unexpected Discard message: expected Pages or State"),
            (&[Hello, State, Resume, Finish, Finish], false, "unexpected Finish message: expected nothing after Finish"),
            (&[Hello, Resumed], false, "unexpected Resumed message"),
            (&[Hello, Fault], true, "unexpected Fault message"),
        ] {
            let e = run(kinds, postcopy).unwrap_err();
            assert!(e.starts_with(expected), "{kinds:?}: {e}");
        }
    }

    #[test]
    fn payload_lengths_are_checked_against_the_guest_before_reading() {
        let l = Limits::new(256, 1000);
        let h = |kind, len| Header { kind, len };
        assert!(l.check(h(Kind::Pages, 256 * (4096 + 17))).is_ok());
        let e = l.check(h(Kind::Pages, 200 << 20)).unwrap_err().to_string();
        assert!(e.starts_with("Pages length: 209715200 bytes: accepted 17 to ") && e.ends_with("for a guest of 256 pages"), "{e}");
        assert!(l.check(h(Kind::State, 1000)).is_ok());
        assert_eq!(l.check(h(Kind::State, 999)).unwrap_err().to_string(), "State length: 999 bytes: accepted 1000 bytes");
        assert!(l.check(h(Kind::Resume, 1)).is_err());
        assert!(l.check(h(Kind::Finish, 16)).is_err());
        assert!(l.check(h(Kind::Discard, 257 * 16)).is_err());
        assert!(l.check(h(Kind::Hello, MAX_HELLO + 1)).is_err());
        // A header's claim is not allocated: 200 MiB announced, 3 bytes sent.
        let mut frame = Vec::new();
        write_frame(&mut frame, Kind::Pages, &[1, 2, 3]).unwrap();
        frame[8..16].copy_from_slice(&(200u64 << 20).to_le_bytes());
        assert!(matches!(read_frame(&mut &frame[..]), Err(WireError::Truncated("payload"))));
    }

    #[test]
    fn finish_batches_are_bounded() {
        assert_eq!(parse_finish(&100u64.to_le_bytes()).unwrap(), 100);
        for bad in [0, MAX_FINISH_BATCHES + 1, 1 << 40, u64::MAX] {
            let e = parse_finish(&bad.to_le_bytes()).unwrap_err().to_string();
            assert_eq!(e, format!("Finish.batches: {bad}: accepted 1 to {MAX_FINISH_BATCHES}"));
        }
        assert!(parse_finish(&[0; 7]).unwrap_err().to_string().starts_with("Finish length: 7 bytes"));
    }

    #[test]
    fn a_timed_stream_gives_up_at_its_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut timed = TimedStream::new(server, Duration::from_millis(200));
        timed.arm();
        let t = Instant::now();
        let e = read_frame(&mut timed).unwrap_err();
        assert!(timed_out(&e), "{e}");
        assert!((Duration::from_millis(190)..Duration::from_secs(2)).contains(&t.elapsed()), "{:?}", t.elapsed());
    }
}
