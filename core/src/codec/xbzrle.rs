//! XBZRLE: QEMU's delta encoding of a page against its previous version (docs/algorithms/xbzrle.md,
//! \[C\] QEMU `migration/xbzrle.c`, `docs/xbzrle.txt`).
//!
//! Based on Svärd, Hudzia, Tordsson, Elmroth, "Evaluation of delta compression techniques for
//! efficient live migration of large virtual machines", VEE 2011.
//!
//! # Format
//!
//! ```text
//! page   = zrun nzrun | zrun nzrun page
//! zrun   = length              (count of unchanged bytes)
//! nzrun  = length byte...      (count, then the NEW bytes)
//! length = ULEB128             (7 bits a byte, low group first, high bit = continuation)
//! ```
//!
//! The encoder is byte-exact with QEMU's `xbzrle_encode_buffer(old, new, slen, dst, dlen)`
//! with `slen = new.len()` and `dlen = out.len()` (QEMU passes a page-sized `dst`):
//!
//! * runs are maximal (a zrun is every unchanged byte up to the next change, an nzrun every
//!   changed byte up to the next unchanged one), so the encoding is unique;
//! * the first zrun may be 0; a trailing zrun is not emitted; an unchanged page gives `Ok(0)`,
//!   and the caller sends nothing;
//! * overflow — QEMU's `-1`, [`CodecError::Overflow`], send the full page — happens exactly
//!   where QEMU's does: when fewer than 2 bytes are left before a zrun or before an nzrun's
//!   length (even if the rest of the page turns out unchanged), or when the nzrun's bytes do not
//!   fit. The only addition: a length needing more than 2 ULEB bytes (a run over 16383 bytes,
//!   pages over 16 KiB, which QEMU's `uleb128_encode_small` asserts against) overflows if its
//!   bytes do not fit.
//!
//! Runs are found a 64-bit word at a time, like QEMU's `sizeof(long)` scan; any page length
//! works (QEMU asserts a multiple of `sizeof(long)`), up to 4 GiB.
//!
//! The decoder, like QEMU's `xbzrle_decode_buffer`, rejects a zero-length zrun anywhere but at
//! the start of the encoding, a zero-length nzrun, fewer than 2 bytes where a run must start,
//! runs past the end of the page and nzrun data past the end of the encoding. Its ULEB128
//! lengths may use up to 5 bytes (QEMU's `uleb128_decode_small` stops at 2), so it accepts
//! every encoding QEMU's decoder does, and the encodings of pages over 16 KiB. It checks the
//! whole encoding before touching the page, so a rejected delta leaves the page as it was.

use super::CodecError;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn load(buf: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"))
}

/// The first index `>= i` where `a` and `b` differ, or `a.len()`.
#[inline]
fn first_diff(a: &[u8], b: &[u8], mut i: usize) -> usize {
    let n = a.len();
    while i + 32 <= n {
        let x = (load(a, i) ^ load(b, i))
            | (load(a, i + 8) ^ load(b, i + 8))
            | (load(a, i + 16) ^ load(b, i + 16))
            | (load(a, i + 24) ^ load(b, i + 24));
        if x != 0 {
            break;
        }
        i += 32;
    }
    while i + 8 <= n {
        let x = load(a, i) ^ load(b, i);
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The first index `>= i` where `a` and `b` are equal, or `a.len()`.
#[inline]
fn first_same(a: &[u8], b: &[u8], mut i: usize) -> usize {
    let n = a.len();
    while i + 8 <= n {
        let x = load(a, i) ^ load(b, i);
        // The lowest set bit of `(x - 0x01..) & !x & 0x80..` marks exactly the lowest zero byte
        // of x (false positives only occur above a true zero byte).
        let z = x.wrapping_sub(LO) & !x & HI;
        if z != 0 {
            return i + (z.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] != b[i] {
        i += 1;
    }
    i
}

/// Bytes of the ULEB128 encoding of `v`.
fn uleb_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `v` as ULEB128 at `out[d..]`; returns the new `d`.
#[inline]
fn put_uleb(out: &mut [u8], mut d: usize, mut v: u64) -> Result<usize, CodecError> {
    if d + uleb_len(v) > out.len() {
        return Err(CodecError::Overflow { limit: out.len() });
    }
    while v >= 0x80 {
        out[d] = (v as u8) | 0x80;
        v >>= 7;
        d += 1;
    }
    out[d] = v as u8;
    Ok(d + 1)
}

/// Encodes `new` as a delta against `old` into `out`, exactly as QEMU's `xbzrle_encode_buffer`.
///
/// Returns `Ok(0)` if the page is unchanged (send nothing), `Ok(len)` for an encoding of `len`
/// bytes, [`CodecError::Overflow`] if it does not fit in `out` (send the full page; QEMU gives
/// `out` the page size), and [`CodecError::LengthMismatch`] if the pages differ in length.
/// `out`'s contents past the returned length, or after an error, are unspecified.
pub fn encode(old: &[u8], new: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    if old.len() != new.len() {
        return Err(CodecError::LengthMismatch { old: old.len(), new: new.len() });
    }
    let (slen, dlen) = (new.len(), out.len());
    let overflow = Err(CodecError::Overflow { limit: dlen });
    let (mut i, mut d) = (0usize, 0usize);
    while i < slen {
        if d + 2 > dlen {
            return overflow;
        }
        let zrun_start = i;
        i = first_diff(old, new, i);
        if i - zrun_start == slen {
            return Ok(0);
        }
        if i == slen {
            return Ok(d);
        }
        d = put_uleb(out, d, (i - zrun_start) as u64)?;
        if d + 2 > dlen {
            return overflow;
        }
        let nzrun_start = i;
        i = first_same(old, new, i);
        let nzrun = i - nzrun_start;
        d = put_uleb(out, d, nzrun as u64)?;
        if d + nzrun > dlen {
            return overflow;
        }
        out[d..d + nzrun].copy_from_slice(&new[nzrun_start..i]);
        d += nzrun;
    }
    Ok(d)
}

/// One nzrun of a parsed encoding: `data` goes at page offset `at`.
struct Patch<'a> {
    at: usize,
    data: &'a [u8],
}

/// Parses an encoding run by run, checking it against a page of `page_len` bytes.
struct Runs<'a> {
    src: &'a [u8],
    i: usize,
    d: u64,
    page_len: usize,
}

impl<'a> Runs<'a> {
    fn new(src: &'a [u8], page_len: usize) -> Self {
        Runs { src, i: 0, d: 0, page_len }
    }

    /// Reads a ULEB128 length of at most 32 bits at `self.i`.
    fn length(&mut self) -> Result<u64, CodecError> {
        let start = self.i;
        let mut v = 0u64;
        for k in 0..5 {
            let Some(&b) = self.src.get(start + k) else {
                return Err(CodecError::XbzrleTruncated { what: "run length", offset: start + k, len: self.src.len() });
            };
            v |= u64::from(b & 0x7F) << (7 * k);
            if b & 0x80 == 0 {
                if v > u64::from(u32::MAX) {
                    break;
                }
                self.i = start + k + 1;
                return Ok(v);
            }
        }
        Err(CodecError::XbzrleLengthOverflow { offset: start })
    }

    fn next_patch(&mut self) -> Result<Option<Patch<'a>>, CodecError> {
        let len = self.src.len();
        if self.i == len {
            return Ok(None);
        }
        // zrun
        let at = self.i;
        if len - at < 2 {
            return Err(CodecError::XbzrleTruncated { what: "zrun", offset: at, len });
        }
        let zrun = self.length()?;
        if zrun == 0 && at != 0 {
            return Err(CodecError::XbzrleEmptyRun { run: "zrun", offset: at });
        }
        self.d += zrun;
        if self.d > self.page_len as u64 {
            return Err(CodecError::XbzrlePageOverrun { run: "zrun", offset: at, end: self.d, page_len: self.page_len });
        }
        // nzrun
        let at = self.i;
        if len - at < 2 {
            return Err(CodecError::XbzrleTruncated { what: "nzrun", offset: at, len });
        }
        let count = self.length()?;
        if count == 0 {
            return Err(CodecError::XbzrleEmptyRun { run: "nzrun", offset: at });
        }
        if self.d + count > self.page_len as u64 {
            return Err(CodecError::XbzrlePageOverrun { run: "nzrun", offset: at, end: self.d + count, page_len: self.page_len });
        }
        let available = len - self.i;
        if count > available as u64 {
            return Err(CodecError::XbzrleDataOverrun { offset: self.i, count, available });
        }
        let count = count as usize;
        let patch = Patch { at: self.d as usize, data: &self.src[self.i..self.i + count] };
        self.i += count;
        self.d += count as u64;
        Ok(Some(patch))
    }
}

/// Applies an XBZRLE encoding onto `page`, which holds the old version, making it the new one.
///
/// An empty encoding (an unchanged page) leaves the page as it is. Malformed input gives a
/// [`CodecError`] and leaves `page` untouched.
pub fn decode(encoded: &[u8], page: &mut [u8]) -> Result<(), CodecError> {
    let mut check = Runs::new(encoded, page.len());
    while check.next_patch()?.is_some() {}
    let mut runs = Runs::new(encoded, page.len());
    while let Some(p) = runs.next_patch()? {
        page[p.at..p.at + p.data.len()].copy_from_slice(p.data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of QEMU's `docs/xbzrle.txt` (docs/algorithms/xbzrle.md).
    fn qemu_vector() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut old = vec![0u8; 1001];
        old.extend_from_slice(&[
            0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x68, 0x00, 0x00, 0x6b, 0x00, 0x6d,
        ]);
        old.resize(4096, 0);
        let mut new = vec![0u8; 1001];
        new.extend_from_slice(&[
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x68, 0x00, 0x00, 0x67, 0x00, 0x69,
        ]);
        new.resize(4096, 0);
        let encoded = vec![
            0xe9, 0x07, 0x0f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x03, 0x01, 0x67,
            0x01, 0x01, 0x69,
        ];
        (old, new, encoded)
    }

    fn delta(old: &[u8], new: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![0u8; new.len()];
        let len = encode(old, new, &mut out)?;
        out.truncate(len);
        Ok(out)
    }

    #[test]
    fn qemu_test_vector_byte_for_byte() {
        let (old, new, expected) = qemu_vector();
        assert_eq!(old.len(), 4096);
        assert_eq!(expected.len(), 24);
        let got = delta(&old, &new).unwrap();
        assert_eq!(got, expected);
        let mut page = old.clone();
        decode(&expected, &mut page).unwrap();
        assert_eq!(page, new);
    }

    #[test]
    fn unchanged_page_encodes_to_nothing() {
        let page = vec![7u8; 4096];
        assert_eq!(delta(&page, &page), Ok(vec![]));
        assert_eq!(delta(&[], &[]), Ok(vec![]));
        let mut copy = page.clone();
        decode(&[], &mut copy).unwrap();
        assert_eq!(copy, page);
    }

    #[test]
    fn first_zrun_may_be_zero_and_no_trailing_zrun() {
        let old = vec![0u8; 64];
        let mut new = old.clone();
        new[0] = 1;
        new[1] = 2;
        assert_eq!(delta(&old, &new).unwrap(), vec![0, 2, 1, 2]);
        let mut new = old.clone();
        new[63] = 9;
        assert_eq!(delta(&old, &new).unwrap(), vec![63, 1, 9]);
        // A change spanning word boundaries and a whole changed page.
        let new: Vec<u8> = (0..64).map(|i| i as u8 + 1).collect();
        let mut want = vec![0, 64];
        want.extend_from_slice(&new);
        let mut out = vec![0u8; 100];
        let len = encode(&old, &new, &mut out).unwrap();
        assert_eq!(&out[..len], &want[..]);
    }

    #[test]
    fn long_runs_use_two_byte_lengths_and_odd_lengths_work() {
        for len in [1usize, 7, 9, 31, 33, 4095, 4096, 5000] {
            let old: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut new = old.clone();
            for i in (len / 3..len).step_by(97) {
                new[i] ^= 0xFF;
            }
            if len > 200 {
                for b in &mut new[10..150] {
                    *b = b.wrapping_add(1);
                }
            }
            let mut out = vec![0u8; 2 * len + 16];
            let n = encode(&old, &new, &mut out).unwrap();
            let mut page = old.clone();
            decode(&out[..n], &mut page).unwrap();
            assert_eq!(page, new, "len {len}");
        }
    }

    #[test]
    fn overflow_follows_qemu() {
        let old = vec![0u8; 4096];
        let new: Vec<u8> = (0..4096).map(|i| (i % 251) as u8 + 1).collect();
        assert_eq!(delta(&old, &new), Err(CodecError::Overflow { limit: 4096 }));
        // Alternating bytes: 2 bytes of header per changed byte, 3 bytes a pair overall.
        let alt: Vec<u8> = (0..4096).map(|i| (i % 2) as u8).collect();
        assert_eq!(delta(&old, &alt), Err(CodecError::Overflow { limit: 4096 }));
        // QEMU checks `d + 2 > dlen` before every zrun, even one that ends the page.
        let mut new = old.clone();
        new[0] = 1;
        // `00 01 01` is 3 bytes, but the check before the final (unsent) zrun needs 3 + 2.
        assert_eq!(encode(&old, &new, &mut [0u8; 3]), Err(CodecError::Overflow { limit: 3 }));
        assert_eq!(encode(&old, &new, &mut [0u8; 4]), Err(CodecError::Overflow { limit: 4 }));
        let mut out = [0u8; 5];
        assert_eq!(encode(&old, &new, &mut out), Ok(3));
        assert_eq!(out[..3], [0, 1, 1]);
        // With a buffer under 2 bytes even an unchanged page overflows, as in QEMU.
        assert_eq!(encode(&old, &old, &mut [0u8; 1]), Err(CodecError::Overflow { limit: 1 }));
        assert_eq!(encode(&old, &old[..4095], &mut [0u8; 9]), Err(CodecError::LengthMismatch { old: 4096, new: 4095 }));
    }

    #[test]
    fn decode_rejects_what_qemu_rejects() {
        let mut page = vec![0u8; 4096];
        let e = |bytes: &[u8], page: &mut [u8]| decode(bytes, page).unwrap_err();
        assert_eq!(e(&[5], &mut page), CodecError::XbzrleTruncated { what: "zrun", offset: 0, len: 1 });
        assert_eq!(e(&[5, 1], &mut page), CodecError::XbzrleTruncated { what: "nzrun", offset: 1, len: 2 });
        assert_eq!(e(&[5, 0, 1], &mut page), CodecError::XbzrleEmptyRun { run: "nzrun", offset: 1 });
        assert_eq!(e(&[5, 1, 9, 0, 1, 9], &mut page), CodecError::XbzrleEmptyRun { run: "zrun", offset: 3 });
        assert_eq!(e(&[5, 3, 9, 9], &mut page), CodecError::XbzrleDataOverrun { offset: 2, count: 3, available: 2 });
        assert_eq!(e(&[0x81, 0x20, 1, 0], &mut page), CodecError::XbzrlePageOverrun { run: "zrun", offset: 0, end: 4097, page_len: 4096 });
        assert_eq!(
            e(&[0xFF, 0x1F, 2, 0, 0], &mut page),
            CodecError::XbzrlePageOverrun { run: "nzrun", offset: 2, end: 4097, page_len: 4096 }
        );
        assert_eq!(e(&[0x80, 0x80], &mut page), CodecError::XbzrleTruncated { what: "run length", offset: 2, len: 2 });
        assert_eq!(e(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1], &mut page), CodecError::XbzrleLengthOverflow { offset: 0 });
        assert_eq!(e(&[0x80, 0x80, 0x80, 0x80, 0x80, 0], &mut page), CodecError::XbzrleLengthOverflow { offset: 0 });
        // Zero-length first zrun is fine; a rejected delta leaves the page untouched.
        decode(&[0, 1, 7], &mut page).unwrap();
        assert_eq!(page[0], 7);
        assert!(decode(&[1, 1, 8, 1, 0], &mut page).is_err());
        assert_eq!(page[1], 0);
        // Redundant (non-minimal) length encodings decode, as in QEMU.
        decode(&[0x82, 0x00, 0x81, 0x00, 5], &mut page).unwrap();
        assert_eq!(page[2], 5);
    }

    #[test]
    fn uleb_lengths() {
        assert_eq!([0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64].map(uleb_len), [1, 1, 1, 2, 2, 3, 5]);
        let mut out = [0u8; 5];
        assert_eq!(put_uleb(&mut out, 0, 1001), Ok(2));
        assert_eq!(out[..2], [0xe9, 0x07]);
    }

    #[test]
    fn run_scans_agree_with_bytewise_scans() {
        let mut g = crate::rng::SplitMix64::new(4);
        for _ in 0..500 {
            let n = g.below(80) as usize;
            let a: Vec<u8> = (0..n).map(|_| g.below(3) as u8).collect();
            let b: Vec<u8> = (0..n).map(|_| g.below(3) as u8).collect();
            for i in 0..=n {
                let diff = (i..n).find(|&j| a[j] != b[j]).unwrap_or(n);
                let same = (i..n).find(|&j| a[j] == b[j]).unwrap_or(n);
                assert_eq!(first_diff(&a, &b, i), diff);
                assert_eq!(first_same(&a, &b, i), same);
            }
        }
    }
}
