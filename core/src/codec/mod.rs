//! Page codecs: zero-page detection, WKdm, LZ4 and QEMU's XBZRLE delta encoding, on real bytes.
//!
//! These are what the compressing and delta algorithms (MECOM, delta pre-copy) and the real-KVM
//! backend put on the wire. Every codec:
//!
//! * works on the page's real bytes (in the simulator, [`ContentModel::fill`] regenerates them);
//! * encodes into a caller-provided buffer and decodes into a caller-provided page, without
//!   allocating per page (size the buffers once with [`max_compressed_len`] or each codec's
//!   `max_encoded_len`);
//! * decodes wire data defensively: malformed input gives a typed [`CodecError`], never a panic;
//! * is pure and deterministic: the same input gives the same bytes natively and in wasm.
//!
//! | codec | module | source | confidence |
//! |---|---|---|---|
//! | zero page | [`zero`] | MECOM's zero-aware class (Jin et al., Cluster 2009 / FGCS 2014) | \[M\] |
//! | WKdm | [`wkdm`] | Wilson & Kaplan's WK family (docs/algorithms/mecom.md) | \[M\] format, \[R\] hash table |
//! | LZ4 | [`lz4`] | stand-in for MECOM's LZO1X-1 (docs/algorithms/mecom.md) | \[R\] substitution |
//! | XBZRLE | [`xbzrle`] | QEMU `migration/xbzrle.c` (docs/algorithms/xbzrle.md) | \[C\], byte-exact |
//!
//! [`classify`] is MECOM's per-page choice (docs/algorithms/mecom.md, \[M\] classes, \[R\] statistic and
//! threshold); [`Compressor`] chains it with the encoders and the raw fallback.
//!
//! The module has no clocks: [`sample_pages`] and [`sample_page_pairs`] give the realistic page
//! mixes the `codecs` Criterion bench measures, so a front end can time the same work.
//!
//! [`ContentModel::fill`]: crate::content::ContentModel::fill

use crate::content::{ContentMix, ContentModel};
use serde::{Deserialize, Serialize};

pub mod lz4;
pub mod memo;
pub mod wkdm;
pub mod xbzrle;
pub mod zero;

pub use wkdm::WordStats;

/// Why a page could not be encoded or decoded. Each variant is one cause and carries the
/// offending values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The page length does not suit the codec.
    #[error("{codec}: a page of {len} bytes is not a whole number of {multiple}-byte words")]
    PageSize {
        /// The codec.
        codec: &'static str,
        /// The page length given.
        len: usize,
        /// What the length must be a multiple of.
        multiple: usize,
    },
    /// The output buffer cannot hold the encoding.
    #[error("{codec}: output buffer of {available} bytes is too small, {needed} needed")]
    OutputTooSmall {
        /// The codec.
        codec: &'static str,
        /// Bytes the encoding needs (for LZ4, the bound the encoder requires up front).
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// XBZRLE was given an old and a new page of different lengths.
    #[error("xbzrle: the old page has {old} bytes but the new page {new}")]
    LengthMismatch {
        /// Length of the old page.
        old: usize,
        /// Length of the new page.
        new: usize,
    },
    /// XBZRLE's encoding does not fit the output buffer: QEMU's `-1`, send the full page.
    #[error("xbzrle: the delta does not fit in {limit} bytes; send the full page")]
    Overflow {
        /// Size of the output buffer (QEMU's `dlen`).
        limit: usize,
    },
    /// A WKdm encoding is not a whole number of 32-bit words.
    #[error("wkdm: an encoding of {len} bytes is not a whole number of 4-byte words")]
    WkdmUnaligned {
        /// Length of the encoding.
        len: usize,
    },
    /// A WKdm encoding is shorter than its header and tags.
    #[error("wkdm: an encoding of {len} bytes is too short for a {page_len}-byte page: header and tags take {needed}")]
    WkdmTruncated {
        /// Length of the encoding.
        len: usize,
        /// Length of the page to decode into.
        page_len: usize,
        /// Bytes of header and tags for that page.
        needed: usize,
    },
    /// A WKdm header's section offsets are out of order, or disagree with the page size or the
    /// encoding's length.
    #[error(
        "wkdm: header offsets {offsets:?} (in words) do not fit a {page_len}-byte page \
         (tags end at word {tags_end}) and an encoding of {len_words} words"
    )]
    WkdmHeader {
        /// The four header words: full-words start, queue-positions start, low-bits start, end.
        offsets: [u32; 4],
        /// Length of the page to decode into.
        page_len: usize,
        /// Where the tags must end (the first header word) for that page.
        tags_end: usize,
        /// Length of the encoding in words.
        len_words: usize,
    },
    /// A WKdm section's size disagrees with what the tags call for.
    #[error("wkdm: the {section} section has {found} words but the tags call for {expected}")]
    WkdmSection {
        /// The section: "full words", "queue positions" or "low bits".
        section: &'static str,
        /// Words the tags call for.
        expected: usize,
        /// Words the header gives it.
        found: usize,
    },
    /// Bits a WKdm encoder leaves zero (padding) are set.
    #[error("wkdm: padding bits are set in the {section} section")]
    WkdmPadding {
        /// The section: "tags", "queue positions" or "low bits".
        section: &'static str,
    },
    /// An XBZRLE encoding ends inside a run.
    #[error("xbzrle: the input ends inside a {what} at byte {offset} (of {len})")]
    XbzrleTruncated {
        /// What was being read: "zrun", "nzrun" or "run length".
        what: &'static str,
        /// Offset in the encoding where it was being read.
        offset: usize,
        /// Length of the encoding.
        len: usize,
    },
    /// An XBZRLE run length does not fit 32 bits.
    #[error("xbzrle: the run length at byte {offset} does not fit 32 bits")]
    XbzrleLengthOverflow {
        /// Offset of the length in the encoding.
        offset: usize,
    },
    /// A zero-length XBZRLE run where none is allowed: a zrun after the first, or any nzrun.
    #[error("xbzrle: zero-length {run} at byte {offset}")]
    XbzrleEmptyRun {
        /// "zrun" or "nzrun".
        run: &'static str,
        /// Offset of the length in the encoding.
        offset: usize,
    },
    /// An XBZRLE run reaches past the end of the page.
    #[error("xbzrle: the {run} at byte {offset} reaches page offset {end}, past the {page_len}-byte page")]
    XbzrlePageOverrun {
        /// "zrun" or "nzrun".
        run: &'static str,
        /// Offset of the run's length in the encoding.
        offset: usize,
        /// Page offset the run would end at.
        end: u64,
        /// Length of the page.
        page_len: usize,
    },
    /// An XBZRLE nzrun announces more data bytes than the encoding holds.
    #[error("xbzrle: the nzrun at byte {offset} needs {count} data bytes but only {available} remain")]
    XbzrleDataOverrun {
        /// Offset of the nzrun's data in the encoding.
        offset: usize,
        /// Bytes announced.
        count: u64,
        /// Bytes left in the encoding.
        available: usize,
    },
    /// The LZ4 block is corrupt.
    #[error("lz4: corrupt block: {reason}")]
    Lz4Corrupt {
        /// What `lz4_flex` reported.
        reason: String,
    },
    /// The LZ4 block decodes to a size other than the page's.
    #[error("lz4: the block decodes to {got} bytes, not the {expected}-byte page")]
    Lz4Length {
        /// Length of the page.
        expected: usize,
        /// Bytes the block decoded to.
        got: usize,
    },
    /// A zero page came with a payload.
    #[error("zero page: expected no payload, got {len} bytes")]
    ZeroPayload {
        /// Length of the payload.
        len: usize,
    },
    /// A raw page's payload is not exactly one page.
    #[error("raw page: expected {expected} bytes, got {got}")]
    RawLength {
        /// Length of the page.
        expected: usize,
        /// Length of the payload.
        got: usize,
    },
}

/// How a page is put on the wire: the codecs here produce and read every [`Encoding`] but
/// [`Encoding::Full`] (the page as it is, which [`Compressor`] falls back to).
pub use crate::context::Encoding;

/// MECOM's classification thresholds (docs/algorithms/mecom.md). The paper's values were not
/// recovered \[R\]: sweep them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// θ_sim: a page whose [`WordStats::similarity`] is at least this goes to WKdm, otherwise to
    /// LZ4. Default 0.5.
    pub similarity: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { similarity: 0.5 }
    }
}

/// [`classify`]'s decision for a page, with the statistic it was based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// [`Encoding::Zero`], [`Encoding::Wkdm`] or [`Encoding::Lz4`].
    pub codec: Encoding,
    /// The WKdm dictionary statistic of the page (for a zero page: every word zero, computed
    /// without the dictionary pass).
    pub stats: WordStats,
}

/// MECOM's per-page choice (docs/algorithms/mecom.md; the three classes are \[M\], the statistic and
/// threshold \[R\]):
///
/// 1. an all-zero page ([`zero::is_zero`]) → [`Encoding::Zero`];
/// 2. else, if the page is whole 32-bit words and its WKdm dictionary similarity
///    `(zero + exact + partial) / words` ([`wkdm::word_stats`]) is at least θ_sim →
///    [`Encoding::Wkdm`];
/// 3. else → [`Encoding::Lz4`] (the stand-in for LZO1X-1).
///
/// Whether the result is sent raw (compressed size ≥ page size) is decided after encoding; see
/// [`Compressor::compress`].
pub fn classify(page: &[u8], thresholds: &Thresholds) -> Choice {
    let words = (page.len() / 4) as u32;
    if zero::is_zero(page) {
        return Choice { codec: Encoding::Zero, stats: WordStats { zero: words, exact: 0, partial: 0, words } };
    }
    let stats = wkdm::word_stats(page);
    let codec = if page.len() % 4 == 0 && stats.similarity() >= thresholds.similarity { Encoding::Wkdm } else { Encoding::Lz4 };
    Choice { codec, stats }
}

/// Output buffer size that [`Compressor::compress`] needs for a page of `page_len` bytes: the
/// largest of the raw page, [`wkdm::max_encoded_len`] and [`lz4::max_encoded_len`].
pub fn max_compressed_len(page_len: usize) -> usize {
    page_len.max(wkdm::max_encoded_len(page_len)).max(lz4::max_encoded_len(page_len))
}

/// What [`Compressor::compress`] produced for a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressed {
    /// How the page is sent: [`Encoding::Zero`], [`Encoding::Wkdm`], [`Encoding::Lz4`] or [`Encoding::Full`].
    pub codec: Encoding,
    /// Payload bytes written at the start of the output buffer (0 for a zero page, the page size
    /// for a raw page).
    pub len: usize,
    /// What [`classify`] chose before the raw fallback.
    pub choice: Choice,
}

/// What [`Compressor::encode`] produced: [`Compressed`] without the statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// How the page is sent: [`Encoding::Zero`], [`Encoding::Wkdm`], [`Encoding::Lz4`] or [`Encoding::Full`].
    pub codec: Encoding,
    /// Payload bytes written at the start of the output buffer (0 for a zero page, the page size
    /// for a raw page).
    pub len: usize,
    /// What [`classify`] chose before the raw fallback ([`Choice::codec`]).
    pub chosen: Encoding,
}

/// MECOM's page compressor: [`classify`], encode, and fall back to the raw page when the
/// encoding is not smaller than the page (docs/algorithms/mecom.md, step 4). Holds the LZ4 hash table,
/// so it allocates nothing per page; keep one per worker.
#[derive(Debug)]
pub struct Compressor {
    /// The classification thresholds.
    pub thresholds: Thresholds,
    lz4: lz4::Lz4Encoder,
    /// For the last page length in words and θ_sim seen (as bits): the most misses a page of
    /// that many words can have and still go to WKdm (`None`: it never does).
    max_misses: Option<(u32, u64, Option<u32>)>,
}

impl Compressor {
    /// A compressor with these thresholds.
    pub fn new(thresholds: Thresholds) -> Self {
        Compressor { thresholds, lz4: lz4::Lz4Encoder::new(), max_misses: None }
    }

    /// Compresses `page` into `out`, which must hold [`max_compressed_len`]`(page.len())` bytes.
    ///
    /// Gives exactly [`classify`]'s choice (statistic included), but does not read a page
    /// twice to classify and then encode it: the WKdm dictionary statistic of a page of up to
    /// 4 KiB is taken while encoding it with [`wkdm::encode`]'s one pass, until the page has
    /// missed the dictionary too often to reach θ_sim; from there on it is only counted, and
    /// the page goes to LZ4. A page whose first 64 words already miss too often is counted
    /// first and encoded only if it reaches θ_sim after all; larger pages are counted, then
    /// encoded. A WKdm page is therefore always encoded, and sent raw if that encoding is not
    /// smaller than the page.
    pub fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Result<Compressed, CodecError> {
        let needed = max_compressed_len(page.len());
        if out.len() < needed {
            return Err(CodecError::OutputTooSmall { codec: "compressor", needed, available: out.len() });
        }
        let words = (page.len() / 4) as u32;
        if zero::is_zero(page) {
            let stats = WordStats { zero: words, exact: 0, partial: 0, words };
            return Ok(Compressed { codec: Encoding::Zero, len: 0, choice: Choice { codec: Encoding::Zero, stats } });
        }
        let (stats, wkdm_len) = if page.len() % 4 == 0 {
            let max_misses = self.max_misses(words);
            wkdm::encode_if_misses_at_most(page, out, max_misses.map(|m| m as usize))?
        } else {
            (wkdm::word_stats(page), None)
        };
        let (codec, encoded) = match wkdm_len {
            Some(len) => (Encoding::Wkdm, len),
            None => (Encoding::Lz4, self.lz4.encode(page, out)?),
        };
        let choice = Choice { codec, stats };
        if encoded < page.len() {
            Ok(Compressed { codec, len: encoded, choice })
        } else {
            out[..page.len()].copy_from_slice(page);
            Ok(Compressed { codec: Encoding::Full, len: page.len(), choice })
        }
    }

    /// Compresses `page` into `out` (which must hold [`max_compressed_len`]`(page.len())`
    /// bytes) exactly as [`compress`](Self::compress) does: the same codec and the same bytes,
    /// without the statistic. So it reads a page only until its class is certain: a page is
    /// given up for LZ4 as soon as too many of its words have missed the WKdm dictionary to
    /// reach θ_sim, without counting the rest. MECOM's sender uses this.
    pub fn encode(&mut self, page: &[u8], out: &mut [u8]) -> Result<Encoded, CodecError> {
        let needed = max_compressed_len(page.len());
        if out.len() < needed {
            return Err(CodecError::OutputTooSmall { codec: "compressor", needed, available: out.len() });
        }
        if zero::is_zero(page) {
            return Ok(Encoded { codec: Encoding::Zero, len: 0, chosen: Encoding::Zero });
        }
        let max_misses = if page.len() % 4 == 0 { self.max_misses((page.len() / 4) as u32) } else { None };
        let wkdm_len = match max_misses {
            Some(max) => wkdm::encode_unless_misses_exceed(page, out, max as usize)?,
            None => None,
        };
        let (chosen, len) = match wkdm_len {
            Some(len) => (Encoding::Wkdm, len),
            None => (Encoding::Lz4, self.lz4.encode(page, out)?),
        };
        if len < page.len() {
            Ok(Encoded { codec: chosen, len, chosen })
        } else {
            out[..page.len()].copy_from_slice(page);
            Ok(Encoded { codec: Encoding::Full, len: page.len(), chosen })
        }
    }

    /// The most misses a page of `words` words can have and still reach θ_sim, computed with
    /// [`WordStats::similarity`] itself (so the decision is [`classify`]'s to the last bit), and
    /// cached for the last page length and threshold.
    fn max_misses(&mut self, words: u32) -> Option<u32> {
        let theta = self.thresholds.similarity;
        match self.max_misses {
            Some((w, t, m)) if w == words && t == theta.to_bits() => m,
            _ => {
                let to_wkdm = |misses: u32| WordStats { zero: words - misses, exact: 0, partial: 0, words }.similarity() >= theta;
                // The similarity falls as the misses grow: find the last count that reaches θ_sim.
                let m = if !to_wkdm(0) {
                    None
                } else {
                    let (mut lo, mut hi) = (0u32, words); // to_wkdm(lo) holds
                    while lo < hi {
                        let mid = lo + (hi - lo).div_ceil(2);
                        if to_wkdm(mid) {
                            lo = mid;
                        } else {
                            hi = mid - 1;
                        }
                    }
                    Some(lo)
                };
                self.max_misses = Some((words, theta.to_bits(), m));
                m
            }
        }
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new(Thresholds::default())
    }
}

/// Decodes a payload of any codec into `page`. For [`Encoding::Delta`], `page` must hold the
/// previous version of the page (the delta is applied onto it); for the others its contents are
/// overwritten.
pub fn decode(codec: Encoding, payload: &[u8], page: &mut [u8]) -> Result<(), CodecError> {
    match codec {
        Encoding::Zero if payload.is_empty() => {
            page.fill(0);
            Ok(())
        }
        Encoding::Zero => Err(CodecError::ZeroPayload { len: payload.len() }),
        Encoding::Full if payload.len() == page.len() => {
            page.copy_from_slice(payload);
            Ok(())
        }
        Encoding::Full => Err(CodecError::RawLength { expected: page.len(), got: payload.len() }),
        Encoding::Wkdm => wkdm::decode(payload, page),
        Encoding::Lz4 => lz4::decode(payload, page),
        Encoding::Delta => xbzrle::decode(payload, page),
    }
}

/// Page size of the sample pages.
pub const SAMPLE_PAGE_SIZE: usize = 4096;
/// Bytes each simulated guest write changes in the sample pages.
pub const SAMPLE_WRITE_SIZE: usize = 64;

fn sample_model(seed: u64) -> ContentModel {
    ContentModel::new(seed, SAMPLE_PAGE_SIZE, SAMPLE_WRITE_SIZE, ContentMix::default(), 0..u64::MAX)
}

/// `count` realistic 4 KiB pages for measuring codecs: [`ContentModel`] pages of the default
/// content mix (25% zero, 25% text, 30% structured, 20% random), page `i` at version `i % 4` (so
/// some zero-class pages have been written to). Pure: the same seed gives the same pages.
pub fn sample_pages(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let model = sample_model(seed);
    (0..count as u64)
        .map(|i| {
            let mut page = vec![0u8; SAMPLE_PAGE_SIZE];
            model.fill(i, (i % 4) as u32, &mut page);
            page
        })
        .collect()
}

/// `count` realistic `(old, new)` 4 KiB page pairs for measuring delta encoding: `old` is page
/// `i` of [`sample_pages`]' model at version `i % 4`, `new` the same page after `1 + i % 4` more
/// 64-byte guest writes.
pub fn sample_page_pairs(seed: u64, count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let model = sample_model(seed);
    (0..count as u64)
        .map(|i| {
            let from = (i % 4) as u32;
            let mut old = vec![0u8; SAMPLE_PAGE_SIZE];
            model.fill(i, from, &mut old);
            let mut new = old.clone();
            model.roll_forward(i, from, from + 1 + (i % 4) as u32, &mut new);
            (old, new)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::ContentClass;

    fn class_page(class: ContentClass, page: u64) -> Vec<u8> {
        let mix = match class {
            ContentClass::Zero => ContentMix { zero: 1.0, text: 0.0, structured: 0.0, random: 0.0 },
            ContentClass::Text => ContentMix { zero: 0.0, text: 1.0, structured: 0.0, random: 0.0 },
            ContentClass::Structured => ContentMix { zero: 0.0, text: 0.0, structured: 1.0, random: 0.0 },
            ContentClass::Random => ContentMix { zero: 0.0, text: 0.0, structured: 0.0, random: 1.0 },
        };
        let model = ContentModel::new(9, 4096, 64, mix, 0..u64::MAX);
        let mut buf = vec![0u8; 4096];
        model.fill(page, 0, &mut buf);
        buf
    }

    #[test]
    fn classify_sends_each_content_class_where_mecom_would() {
        let t = Thresholds::default();
        for p in 0..20 {
            assert_eq!(classify(&class_page(ContentClass::Zero, p), &t).codec, Encoding::Zero);
            assert_eq!(classify(&class_page(ContentClass::Structured, p), &t).codec, Encoding::Wkdm);
            assert_eq!(classify(&class_page(ContentClass::Text, p), &t).codec, Encoding::Lz4);
            assert_eq!(classify(&class_page(ContentClass::Random, p), &t).codec, Encoding::Lz4);
        }
        // θ_sim above 1 never picks WKdm; 0 always does for a non-zero page.
        let page = class_page(ContentClass::Structured, 1);
        assert_eq!(classify(&page, &Thresholds { similarity: 1.1 }).codec, Encoding::Lz4);
        assert_eq!(classify(&class_page(ContentClass::Random, 1), &Thresholds { similarity: 0.0 }).codec, Encoding::Wkdm);
    }

    #[test]
    fn zero_choice_reports_all_words_zero() {
        let c = classify(&[0u8; 4096], &Thresholds::default());
        assert_eq!(c.stats, WordStats { zero: 1024, exact: 0, partial: 0, words: 1024 });
        assert_eq!(c.stats.similarity(), 1.0);
    }

    #[test]
    fn compressor_round_trips_and_falls_back_to_raw() {
        let mut comp = Compressor::default();
        let mut out = vec![0u8; max_compressed_len(4096)];
        let mut back = vec![0u8; 4096];
        for class in [ContentClass::Zero, ContentClass::Text, ContentClass::Structured, ContentClass::Random] {
            let page = class_page(class, 3);
            let c = comp.compress(&page, &mut out).unwrap();
            let expected = match class {
                ContentClass::Zero => Encoding::Zero,
                ContentClass::Text => Encoding::Lz4,
                ContentClass::Structured => Encoding::Wkdm,
                ContentClass::Random => Encoding::Full,
            };
            assert_eq!(c.codec, expected, "{class:?}");
            assert!(c.len < 4096 || c.codec == Encoding::Full);
            back.fill(0xAA);
            decode(c.codec, &out[..c.len], &mut back).unwrap();
            assert_eq!(back, page, "{class:?}");
        }
        let mut small = [0u8; 100];
        assert!(matches!(comp.compress(&[1u8; 4096], &mut small), Err(CodecError::OutputTooSmall { .. })));
    }

    /// Pages that put every branch of the fused classify-and-encode to work: each content
    /// class, pages that change class part-way (so the probe of the first 64 words guesses
    /// wrong), a written zero page, and sizes that take the two-pass encoder or are not whole
    /// words.
    fn mixed_pages() -> Vec<Vec<u8>> {
        let classes = [ContentClass::Zero, ContentClass::Text, ContentClass::Structured, ContentClass::Random];
        let mut pages = Vec::new();
        for (i, &a) in classes.iter().enumerate() {
            for (j, &b) in classes.iter().enumerate() {
                for split in [0usize, 64, 256, 1000, 2048, 3072, 4096] {
                    let mut page = class_page(a, (i * 4 + j) as u64);
                    page[split..].copy_from_slice(&class_page(b, 100 + (i * 4 + j) as u64)[split..]);
                    pages.push(page);
                }
            }
        }
        pages.extend(sample_pages(3, 64));
        let mut written = vec![0u8; 4096];
        written[1000..1064].fill(0xAB);
        pages.push(written);
        for len in [0usize, 4, 60, 64, 100, 1022, 8192, 16384] {
            let mut page: Vec<u8> = class_page(ContentClass::Structured, len as u64).into_iter().cycle().take(len).collect();
            if len > 64 {
                page[..64].copy_from_slice(&class_page(ContentClass::Random, 7)[..64]);
            }
            pages.push(page);
        }
        pages
    }

    #[test]
    fn compress_and_encode_agree_with_classify() {
        let mut out = vec![0u8; max_compressed_len(16384)];
        let mut out2 = vec![0u8; max_compressed_len(16384)];
        let mut back = vec![0u8; 16384];
        let pages = mixed_pages();
        for similarity in [0.0, 0.3, 0.5, 0.62, 0.8, 0.97, 1.0, 1.1, f64::NAN] {
            let t = Thresholds { similarity };
            let mut comp = Compressor::new(t);
            for page in &pages {
                let c = comp.compress(page, &mut out).unwrap();
                assert_eq!(c.choice, classify(page, &t), "θ {similarity}, {} bytes", page.len());
                let e = comp.encode(page, &mut out2).unwrap();
                assert_eq!((e.codec, e.len, e.chosen), (c.codec, c.len, c.choice.codec));
                assert_eq!(out[..c.len], out2[..e.len]);
                let back = &mut back[..page.len()];
                decode(c.codec, &out[..c.len], back).unwrap();
                assert_eq!(back, &page[..]);
            }
        }
    }

    #[test]
    fn the_choice_is_exact_at_the_threshold() {
        // θ_sim equal to a page's similarity sends it to WKdm; just above, to LZ4.
        let mut out = vec![0u8; max_compressed_len(16384)];
        for page in mixed_pages().into_iter().filter(|p| p.len() % 4 == 0 && !zero::is_zero(p)) {
            let stats = wkdm::word_stats(&page);
            let at = stats.similarity();
            for (similarity, codec) in [(at, Encoding::Wkdm), (at + 1e-12, Encoding::Lz4)] {
                let mut comp = Compressor::new(Thresholds { similarity });
                assert_eq!(comp.compress(&page, &mut out).unwrap().choice, Choice { codec, stats });
                assert_eq!(comp.encode(&page, &mut out).unwrap().chosen, codec);
            }
        }
    }

    #[test]
    fn generic_decode_rejects_bad_zero_and_raw_payloads() {
        let mut page = [1u8; 64];
        assert_eq!(decode(Encoding::Zero, &[0], &mut page), Err(CodecError::ZeroPayload { len: 1 }));
        assert_eq!(decode(Encoding::Full, &[0; 63], &mut page), Err(CodecError::RawLength { expected: 64, got: 63 }));
        decode(Encoding::Zero, &[], &mut page).unwrap();
        assert_eq!(page, [0u8; 64]);
    }

    #[test]
    fn samples_are_deterministic_and_mixed() {
        let a = sample_pages(5, 64);
        assert_eq!(a, sample_pages(5, 64));
        assert_ne!(a, sample_pages(6, 64));
        let zeros = a.iter().filter(|p| zero::is_zero(p)).count();
        assert!(zeros > 0 && zeros < 64, "{zeros}");
        for (old, new) in sample_page_pairs(5, 32) {
            assert_ne!(old, new);
            let changed = old.iter().zip(&new).filter(|(x, y)| x != y).count();
            assert!(changed <= 4 * SAMPLE_WRITE_SIZE);
        }
    }
}
