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

use livemig_core::context::Encoding;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The protocol version this build speaks.
pub const VERSION: u16 = 2;
/// The frame magic.
pub const MAGIC: [u8; 4] = *b"LMIG";
/// Largest payload accepted (a `Resumed` for a 1 GiB guest is 2 MiB; a page batch a few MiB).
pub const MAX_PAYLOAD: u64 = 256 << 20;
/// Page size on the wire.
pub const PAGE: usize = 4096;

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

fn read_full(r: &mut impl Read, buf: &mut [u8], what: &'static str) -> Result<(), WireError> {
    r.read_exact(buf).map_err(|e| if e.kind() == std::io::ErrorKind::UnexpectedEof { WireError::Truncated(what) } else { WireError::Io(e) })
}

/// Reads one frame: its kind and payload. `Ok(None)` when the stream ends cleanly before a
/// frame.
pub fn read_frame(r: &mut impl Read) -> Result<Option<(Kind, Vec<u8>)>, WireError> {
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
    let mut payload = vec![0u8; len as usize];
    read_full(r, &mut payload, "payload")?;
    if kind == Kind::Error {
        return Err(WireError::Peer(String::from_utf8_lossy(&payload).into_owned()));
    }
    Ok(Some((kind, payload)))
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
}
