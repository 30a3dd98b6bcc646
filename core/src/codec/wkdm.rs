//! WKdm: Wilson & Kaplan's direct-mapped, partial-matching word compressor (docs/algorithms/mecom.md).
//!
//! P. R. Wilson, S. F. Kaplan, Y. Smaragdakis, "The case for compressed caching in virtual
//! memory systems", USENIX ATC 1999; S. F. Kaplan, "Compressed caching and modern virtual memory
//! simulation", PhD thesis, UT Austin 1999. MECOM uses it for pages of "strong regularity"
//! (docs/algorithms/mecom.md). The algorithm is as that page describes it \[M\], which matches the WKdm
//! reference code's design:
//!
//! * the page is read as little-endian 32-bit words;
//! * a 16-entry direct-mapped dictionary, every entry pre-initialised to [`DICT_INIT`] (1), is
//!   indexed by hashing bits 10..17 of the word (`(w >> 10) & 0xFF`) through a 256 → 16 table;
//! * each word gets a 2-bit tag, tested in this order:
//!   - `EXACT` (3): `dict[h] == w` → the 4-bit dictionary index is emitted;
//!   - `ZERO` (0): `w == 0` → nothing else (the dictionary never holds 0, so the order of these
//!     two tests does not matter);
//!   - `PARTIAL` (1): the upper 22 bits match (`dict[h] >> 10 == w >> 10`) → the index and the
//!     low 10 bits are emitted, and `dict[h] := w`;
//!   - `MISS` (2): the full word is emitted, and `dict[h] := w`.
//!
//! [`encode_reference`] is this procedure written plainly, word by word (wkdm/reference.rs);
//! the fast [`encode`] below must write the same bytes, which a property test checks.
//!
//! # Format
//!
//! All little-endian 32-bit words; offsets count words from the start of the encoding:
//!
//! | words | contents |
//! |---|---|
//! | 4 | header: `[0]` start of the full words (= end of the tags), `[1]` start of the queue positions, `[2]` start of the low bits, `[3]` end of the encoding |
//! | ⌈n/16⌉ | tags, 16 per word: tag of page word `i` in bits `2·(i mod 16)` of word `i / 16` |
//! | misses | full words, in page order |
//! | ⌈(exact+partial)/8⌉ | 4-bit dictionary indices, 8 per word: `k`-th index in bits `4·(k mod 8)` |
//! | ⌈partial/3⌉ | 10-bit low parts, 3 per word: `k`-th in bits `10·(k mod 3)`; bits 30–31 zero |
//!
//! Unused tag, index and low-part slots, and bits 30–31 of the low-part words, are zero; the
//! decoder rejects them otherwise, so every valid encoding is the encoder's. The size is
//! `16 + 4·⌈n/16⌉ + 4·misses + 4·⌈(exact+partial)/8⌉ + 4·⌈partial/3⌉` bytes (for a 4 KiB
//! page, `16 + 256 + …`, as docs/algorithms/mecom.md gives it).
//!
//! # Differences from the reference code \[R\]
//!
//! * **Hash table.** The reference WKdm's 256 → 16 table maps index 0 (words below 1024, small
//!   integers) alone to entry 0 and spreads the other 255 indices as 17 shuffled copies of
//!   entries 1..15. [`HASH_TABLE`] has that structure but its own shuffle (generated at compile
//!   time), so encodings are not byte-compatible with other WKdm implementations; compression
//!   ratios are statistically the same.
//! * **Packing.** The reference code packs tags and indices through byte-interleaved
//!   intermediate arrays and its first header word names the algorithm; here slots are packed
//!   in plain order and the first header word is the end of the tags, which the decoder checks
//!   against the page size.
//! * **Page size.** Any page that is a whole number of 32-bit words (4 KiB, 8 KiB, 16 KiB,
//!   64 KiB, … up to 16 GiB), not only 1024 words; the tag area is ⌈n/16⌉ words.
//!
//! # Speed
//!
//! Encoder and decoder run without data-dependent branches: each word's outputs are stored at
//! their streams' cursors and the cursors advance by the tag's flags (read from a per-tag
//! table); zero words (and, in the decoder, exact hits) "update" a trash dictionary entry, so
//! every word stores without a branch and no store address depends on a dictionary load. The
//! dictionary array has 256 entries, 17 of them used, so that any byte indexes it without a
//! bounds check, and the staging arrays are indexed modulo their power-of-two sizes for the
//! same reason. A page of up to 4 KiB with an output buffer of [`max_encoded_len`] is encoded
//! in one pass (full words, indices and low parts are staged on the stack, since where their
//! sections start depends on the counts before them); other pages take a [`word_stats`] pass
//! to size the sections first, which also detects a too-small buffer before anything is
//! written. The decoder validates the whole encoding (header, section sizes against the tags,
//! padding) before writing, then unpacks the full-word, index and low-part streams per
//! 1024-word segment. MECOM's [`Compressor`](super::Compressor) takes its classification
//! statistic from the one-pass encoder rather than from a separate pass. About 1.5 GB/s
//! encoding and 1.8 GB/s decoding on one core (see `livemig bench --codecs`).

use super::CodecError;

mod reference;
pub use reference::encode_reference;

/// Entries in the dictionary.
pub const DICT_SIZE: usize = 16;
/// The value every dictionary entry starts with (the reference code's `PRELOAD_DICTIONARY`).
pub const DICT_INIT: u32 = 1;
/// Tag of a zero word.
pub const TAG_ZERO: u32 = 0;
/// Tag of a partial match (upper 22 bits equal).
pub const TAG_PARTIAL: u32 = 1;
/// Tag of a dictionary miss.
pub const TAG_MISS: u32 = 2;
/// Tag of an exact dictionary hit.
pub const TAG_EXACT: u32 = 3;
/// Bits of a word a partial match sends.
pub const LOW_BITS: u32 = 10;
const LOW_MASK: u32 = (1 << LOW_BITS) - 1;
/// Words of header.
pub const HEADER_WORDS: usize = 4;

/// The 256 → 16 hash table: `HASH_TABLE[(w >> 10) & 0xFF]` is the dictionary entry of word `w`.
/// Entry 0 only for index 0; indices 1..=255 are 17 Fisher–Yates shuffles of 1..=15 (SplitMix64,
/// fixed seed). See the module docs for how this relates to the reference table \[R\].
pub const HASH_TABLE: [u8; 256] = build_hash_table();

const fn build_hash_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut state: u64 = 0x574B_646D_0000_0001; // "WKdm"
    let mut copy = 0;
    while copy < 17 {
        let mut perm = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut i = perm.len() - 1;
        while i > 0 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let j = (z % (i as u64 + 1)) as usize;
            let t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            i -= 1;
        }
        let mut k = 0;
        while k < 15 {
            table[1 + copy * 15 + k] = perm[k];
            k += 1;
        }
        copy += 1;
    }
    table
}

#[inline(always)]
fn slot(w: u32) -> usize {
    HASH_TABLE[((w >> LOW_BITS) & 0xFF) as usize] as usize
}

/// The dictionary as the encoder and decoder keep it: entries `0..DICT_SIZE`, then the trash
/// entry [`TRASH`], then unused entries up to 255 so that any byte (a [`HASH_TABLE`] entry, an
/// index read from an encoding) indexes it without a bounds check.
type Dict = [u32; 256];

/// The dictionary entry that zero words (and, in the decoder, exact hits) "update", so that
/// every word stores its value without a branch; never read.
const TRASH: usize = DICT_SIZE;

fn new_dict() -> Dict {
    [DICT_INIT; 256]
}

#[inline(always)]
fn words(page: &[u8]) -> impl Iterator<Item = u32> + '_ {
    page.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4-byte chunk")))
}

#[inline(always)]
fn put(out: &mut [u8], word: usize, value: u32) {
    out[word * 4..word * 4 + 4].copy_from_slice(&value.to_le_bytes());
}

#[inline(always)]
fn get(buf: &[u8], word: usize) -> u32 {
    u32::from_le_bytes(buf[word * 4..word * 4 + 4].try_into().expect("4 bytes"))
}

/// The WKdm dictionary statistic of a page: one pass over its words with the encoder's
/// dictionary, counting what the encoder would tag ZERO, EXACT and PARTIAL.
///
/// MECOM's classifier uses [`WordStats::similarity`] (docs/algorithms/mecom.md, \[R\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordStats {
    /// Words equal to zero.
    pub zero: u32,
    /// Words found in the dictionary.
    pub exact: u32,
    /// Words whose upper 22 bits matched the dictionary entry.
    pub partial: u32,
    /// Words in the page.
    pub words: u32,
}

impl WordStats {
    /// Words that missed the dictionary.
    pub fn misses(&self) -> u32 {
        self.words - self.zero - self.exact - self.partial
    }

    /// `(zero + exact + partial) / words`, in `[0, 1]` (0 for an empty page).
    pub fn similarity(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            (self.zero + self.exact + self.partial) as f64 / self.words as f64
        }
    }

    /// `zero / words`, in `[0, 1]` (0 for an empty page): MECOM's optional "mostly zero" test
    /// compares it with θ_zero.
    pub fn zero_fraction(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            self.zero as f64 / self.words as f64
        }
    }

    /// Exact size in bytes of the page's WKdm encoding.
    pub fn wkdm_encoded_len(&self) -> usize {
        let layout = Layout::new(self.words as usize, self.misses() as usize, (self.exact + self.partial) as usize, self.partial as usize);
        layout.end * 4
    }
}

/// Word offsets of the sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    full: usize,
    qpos: usize,
    low: usize,
    end: usize,
}

impl Layout {
    fn new(words: usize, misses: usize, matches: usize, partials: usize) -> Self {
        let full = HEADER_WORDS + words.div_ceil(16);
        let qpos = full + misses;
        let low = qpos + matches.div_ceil(8);
        let end = low + partials.div_ceil(3);
        Layout { full, qpos, low, end }
    }
}

/// Counts the page's zero words and exact and partial dictionary hits, as the encoder would.
/// A trailing part-word (a page that is not whole words) is ignored.
pub fn word_stats(page: &[u8]) -> WordStats {
    let mut dict = new_dict();
    let [zero, exact, partial] = count_words(page, &mut dict, [0; 3]);
    WordStats { zero, exact, partial, words: (page.len() / 4) as u32 }
}

/// [`word_stats`]' loop, resumable: adds the zero, exact and partial counts of `page`'s whole
/// words to `counts`, starting from (and updating) the dictionary `dict`.
#[inline(always)]
fn count_words(page: &[u8], dict: &mut Dict, counts: [u32; 3]) -> [u32; 3] {
    // Zero words "update" the trash entry, so every word stores its own value and no store
    // depends on the dictionary load (no loop-carried dependency).
    let [mut zero, mut exact, mut partial] = counts;
    for w in words(page) {
        let s = slot(w);
        let d = dict[s];
        let is_zero = w == 0;
        let is_exact = w == d;
        let is_partial = !is_zero & !is_exact & ((w ^ d) >> LOW_BITS == 0);
        zero += is_zero as u32;
        exact += is_exact as u32;
        partial += is_partial as u32;
        dict[if is_zero { TRASH } else { s }] = w;
    }
    [zero, exact, partial]
}

/// Adds the words of `page` that miss the dictionary `dict` (which it updates) to `misses`,
/// 16 words at a time, and stops after the 16 that take the count above `stop_above` (so a
/// result above `stop_above` means only that).
fn count_misses(page: &[u8], dict: &mut Dict, mut misses: usize, stop_above: usize) -> usize {
    let mut count = |block: &[u8]| {
        for w in words(block) {
            let s = slot(w);
            misses += ((w != 0) & ((w ^ dict[s]) >> LOW_BITS != 0)) as usize;
            dict[if w == 0 { TRASH } else { s }] = w;
        }
        misses
    };
    let mut blocks = page.chunks_exact(64);
    for block in blocks.by_ref() {
        if count(block) > stop_above {
            return misses;
        }
    }
    count(blocks.remainder())
}

/// The largest WKdm encoding of a page of `page_len` bytes: `20 + 4·⌈n/16⌉ + page_len`
/// (4372 bytes for a 4 KiB page). All misses cost `4n`; one partial match among `n − 1` misses
/// costs 4 bytes more (a whole index word and a whole low-bits word for one word), and every
/// other mix costs less.
pub fn max_encoded_len(page_len: usize) -> usize {
    let n = page_len / 4;
    Layout::new(n, n.saturating_sub(1), n.min(1), n.min(1)).end * 4
}

fn check_page(page_len: usize) -> Result<usize, CodecError> {
    if page_len % 4 != 0 || page_len / 4 > u32::MAX as usize {
        return Err(CodecError::PageSize { codec: "wkdm", len: page_len, multiple: 4 });
    }
    Ok(page_len / 4)
}

/// Pages of up to this many words are encoded in one pass when `out` has room for the worst
/// case; others take two.
const ONE_PASS_WORDS: usize = 1024;

/// Encodes `page` (a whole number of 32-bit words) into `out`; returns the encoding's length.
///
/// `out` needs the exact encoded size ([`WordStats::wkdm_encoded_len`]); with
/// [`max_encoded_len`] bytes (which always suffice) a page of up to 4 KiB is encoded in a
/// single pass, otherwise [`word_stats`] first sizes the sections. A random page expands (to
/// about 4.4 KiB for 4 KiB); the caller decides whether to send it raw.
pub fn encode(page: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    let n = check_page(page.len())?;
    if fits_one_pass(page, out) {
        return match encode_one_pass(page, out, &mut new_dict(), usize::MAX) {
            OnePass::Encoded(_, len) => Ok(len),
            OnePass::Abandoned { .. } => unreachable!("no page has more than usize::MAX misses"),
        };
    }
    encode_two_pass(page, n, out, word_stats(page))
}

/// Words at the start of a page that [`encode_if_misses_at_most`] and
/// [`encode_unless_misses_exceed`] probe to guess whether the page will qualify.
const PROBE_WORDS: usize = 64;

/// Whether the first [`PROBE_WORDS`] words of a page of `n` words miss more often than
/// `max_misses` allows the whole page: then it probably does not qualify for WKdm, and counting
/// its misses first is cheaper than encoding it and giving up.
fn probably_too_many_misses(page: &[u8], n: usize, max_misses: usize) -> bool {
    probe(page, n, &mut new_dict()) * n > max_misses * n.min(PROBE_WORDS)
}

/// The misses among the first [`PROBE_WORDS`] words of a page of `n` words, counted from the
/// dictionary `dict` (fresh).
fn probe(page: &[u8], n: usize, dict: &mut Dict) -> usize {
    count_misses(&page[..4 * n.min(PROBE_WORDS)], dict, 0, usize::MAX)
}

/// Whether [`encode_one_pass`] can encode `page` (a whole number of words) into `out`.
fn fits_one_pass(page: &[u8], out: &[u8]) -> bool {
    page.len() / 4 <= ONE_PASS_WORDS && out.len() >= max_encoded_len(page.len())
}

/// MECOM's fused classify-and-encode: the page's [`word_stats`], and its encoding in `out` if
/// at most `max_misses` of its words miss the dictionary (`None` if more do, or if
/// `max_misses` is `None`; `out` then holds garbage).
///
/// A page of up to 4 KiB with an output buffer of [`max_encoded_len`] is read once if it
/// qualifies: it is encoded in one pass, which gives the statistic too; a page that does not
/// is encoded until more than `max_misses` words have missed and only counted from there on.
/// A page whose first [`PROBE_WORDS`] words miss too often is counted first and encoded only
/// if it qualifies after all. Other pages are counted, then encoded in two passes.
pub(crate) fn encode_if_misses_at_most(
    page: &[u8],
    out: &mut [u8],
    max_misses: Option<usize>,
) -> Result<(WordStats, Option<usize>), CodecError> {
    let n = check_page(page.len())?;
    let Some(max) = max_misses else {
        return Ok((word_stats(page), None));
    };
    if !fits_one_pass(page, out) || probably_too_many_misses(page, n, max) {
        let stats = word_stats(page);
        if stats.misses() as usize > max {
            return Ok((stats, None));
        }
        return Ok((stats, Some(encode(page, out)?)));
    }
    let mut dict = new_dict();
    Ok(match encode_one_pass(page, out, &mut dict, max) {
        OnePass::Encoded(stats, len) => (stats, Some(len)),
        OnePass::Abandoned { seen, counts } => {
            let [zero, exact, partial] = count_words(&page[4 * seen..], &mut dict, counts);
            (WordStats { zero, exact, partial, words: n as u32 }, None)
        }
    })
}

/// [`encode_if_misses_at_most`] without the statistic: the encoding's length if at most
/// `max_misses` of the page's words miss the dictionary, else `None` (and `out` holds
/// garbage). Reads a page only until it is sure: a page that does not qualify is given up
/// as soon as more than `max_misses` words have missed.
pub(crate) fn encode_unless_misses_exceed(page: &[u8], out: &mut [u8], max_misses: usize) -> Result<Option<usize>, CodecError> {
    let n = check_page(page.len())?;
    let mut dict = new_dict();
    let probe_misses = probe(page, n, &mut dict);
    if !fits_one_pass(page, out) || probe_misses * n > max_misses * n.min(PROBE_WORDS) {
        // Go on counting from the end of the probe.
        if count_misses(&page[4 * n.min(PROBE_WORDS)..], &mut dict, probe_misses, max_misses) > max_misses {
            return Ok(None);
        }
        return encode(page, out).map(Some);
    }
    Ok(match encode_one_pass(page, out, &mut new_dict(), max_misses) {
        OnePass::Encoded(_, len) => Some(len),
        OnePass::Abandoned { .. } => None,
    })
}

fn put_header(out: &mut [u8], layout: Layout) {
    put(out, 0, layout.full as u32);
    put(out, 1, layout.qpos as u32);
    put(out, 2, layout.low as u32);
    put(out, 3, layout.end as u32);
}

/// Calls `f` on each 16-word block of `page`, the last one zero-padded: padding words are zero
/// words, which leave the dictionary alone, emit nothing, and get the zero tags the format
/// wants as padding.
#[inline(always)]
fn for_each_block(page: &[u8], mut f: impl FnMut(&[u8; 64])) {
    let mut blocks = page.chunks_exact(64);
    for block in blocks.by_ref() {
        f(block.try_into().expect("64-byte block"));
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        f(&last);
    }
}

/// Appends a block's full words at word `*at`.
#[inline(always)]
fn append_full(out: &mut [u8], at: &mut usize, m: &BlockModel) {
    let start = *at * 4;
    out[start..start + 4 * m.nfull].copy_from_slice(&m.full[..4 * m.nfull]);
    *at += m.nfull;
}

/// The encoder's model of one word: its tag and dictionary entry. Updates the dictionary;
/// zero words update the [`TRASH`] entry, so the stored value never depends on the
/// dictionary load (no loop-carried dependency).
#[inline(always)]
fn model_word(w: u32, dict: &mut Dict) -> (u32, usize) {
    let s = slot(w);
    let d = dict[s];
    let nonzero = (w != 0) as u32;
    let high_eq = ((w ^ d) >> LOW_BITS == 0) as u32;
    let exact = (w == d) as u32;
    // ZERO 0, PARTIAL 1 (upper bits equal), MISS 2, EXACT 3 (exact implies upper bits equal).
    let tag = nonzero * (2 - high_eq + 2 * exact);
    dict[if nonzero == 1 { s } else { TRASH }] = w;
    (tag, s)
}

/// The one-pass encoder's outputs that cannot go straight to `out`, and their cursors. Every
/// word stores its full word, index and low part at the cursors and advances only the cursors
/// its tag emits (no data-dependent branch). A cursor is below the word's position in the
/// page, so below [`ONE_PASS_WORDS`], whenever something is stored at it; the arrays are
/// indexed modulo that power of two, which costs no bounds check.
struct Staging {
    full: [u32; ONE_PASS_WORDS],
    nfull: usize,
    q: [u8; ONE_PASS_WORDS],
    nq: usize,
    low: [u16; ONE_PASS_WORDS + 2],
    nlow: usize,
}

/// Per tag (ZERO, PARTIAL, MISS, EXACT): how many full words, indices and low parts it emits
/// (one table, so that one register addresses it).
const EMITS: [[usize; 4]; 4] = [[0, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]];

/// Models the 16 words of `block` and stages their outputs; returns their tag word.
#[inline(always)]
fn emit_block(block: &[u8; 64], dict: &mut Dict, st: &mut Staging) -> u32 {
    const MASK: usize = ONE_PASS_WORDS - 1;
    let (mut nfull, mut nq, mut nlow) = (st.nfull, st.nq, st.nlow);
    let mut tags = 0u32;
    for bytes in block.chunks_exact(4) {
        let w = u32::from_le_bytes(bytes.try_into().expect("4-byte chunk"));
        let (tag, s) = model_word(w, dict);
        // Word j's tag ends up in bits 2j after the 16 shifts.
        tags = (tags >> 2) | (tag << 30);
        let [e_full, e_index, e_low, _] = EMITS[(tag & 3) as usize];
        st.full[nfull & MASK] = w;
        nfull += e_full;
        st.q[nq & MASK] = s as u8;
        nq += e_index;
        st.low[nlow & MASK] = (w & LOW_MASK) as u16;
        nlow += e_low;
    }
    (st.nfull, st.nq, st.nlow) = (nfull, nq, nlow);
    tags
}

/// How [`encode_one_pass`] ended.
enum OnePass {
    /// The page is encoded: its statistic and the encoding's length.
    Encoded(WordStats, usize),
    /// More than the allowed misses in the first `seen` words, which had these zero, exact and
    /// partial counts; the dictionary is as they left it.
    Abandoned { seen: usize, counts: [u32; 3] },
}

/// One pass for pages of up to [`ONE_PASS_WORDS`] words into a buffer of
/// [`max_encoded_len`], starting from a fresh dictionary `dict`: tags go straight to their
/// section; full words, indices and low parts, whose sections' starts depend on what comes
/// before them, are staged and packed into place at the end. Gives up after a 16-word block
/// that takes the misses past `max_misses`.
fn encode_one_pass(page: &[u8], out: &mut [u8], dict: &mut Dict, max_misses: usize) -> OnePass {
    let n = page.len() / 4;
    let full_start = HEADER_WORDS + n.div_ceil(16);
    let mut st = Staging { full: [0; ONE_PASS_WORDS], nfull: 0, q: [0; ONE_PASS_WORDS], nq: 0, low: [0; ONE_PASS_WORDS + 2], nlow: 0 };
    let mut blocks = page.chunks_exact(64);
    for (b, block) in blocks.by_ref().enumerate() {
        let tags = emit_block(block.try_into().expect("64-byte block"), dict, &mut st);
        put(out, HEADER_WORDS + b, tags);
        if st.nfull > max_misses {
            let seen = 16 * (b + 1);
            return OnePass::Abandoned { seen, counts: [(seen - st.nfull - st.nq) as u32, (st.nq - st.nlow) as u32, st.nlow as u32] };
        }
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding words are zero words: they leave the dictionary alone, emit nothing, and get
        // the zero tags the format wants as padding.
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        let tags = emit_block(&last, dict, &mut st);
        put(out, HEADER_WORDS + n / 16, tags);
    }
    let Staging { full, nfull, mut q, nq, mut low, nlow } = st;
    if nfull > max_misses {
        return OnePass::Abandoned { seen: n, counts: [(n - nfull - nq) as u32, (nq - nlow) as u32, nlow as u32] };
    }
    let qpos = full_start + nfull;
    let low_at = qpos + nq.div_ceil(8);
    let end = low_at + nlow.div_ceil(3);
    for (bytes, w) in out[full_start * 4..qpos * 4].chunks_exact_mut(4).zip(&full) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
    // Clear the slot each cursor stopped at (a stored but unemitted item, if any); the padding
    // after it was never written.
    if let Some(x) = q.get_mut(nq) {
        *x = 0;
    }
    low[nlow] = 0;
    for (bytes, q) in out[qpos * 4..low_at * 4].chunks_exact_mut(4).zip(q.chunks_exact(8)) {
        bytes.copy_from_slice(&squeeze_nibbles(u64::from_le_bytes(q.try_into().expect("8 bytes"))).to_le_bytes());
    }
    for (bytes, l) in out[low_at * 4..end * 4].chunks_exact_mut(4).zip(low.chunks_exact(3)) {
        let v = u32::from(l[0]) | u32::from(l[1]) << LOW_BITS | u32::from(l[2]) << (2 * LOW_BITS);
        bytes.copy_from_slice(&v.to_le_bytes());
    }
    put_header(out, Layout { full: full_start, qpos, low: low_at, end });
    let stats = WordStats { zero: (n - nfull - nq) as u32, exact: (nq - nlow) as u32, partial: nlow as u32, words: n as u32 };
    OnePass::Encoded(stats, end * 4)
}

/// Eight bytes, each below 16 (little-endian in `x`), packed into eight nibbles: byte `k` in
/// bits `4k..4k+4`.
#[inline(always)]
fn squeeze_nibbles(x: u64) -> u32 {
    let x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    let x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0xFFFF_FFFF) as u32
}

/// Eight nibbles of `v` spread into eight bytes (little-endian): nibble `k` in byte `k`.
#[inline(always)]
fn spread_nibbles(v: u32) -> u64 {
    let x = u64::from(v);
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F
}

/// The second of two passes, for any page size and a buffer of at least the exact size: the
/// page's [`word_stats`] give the section sizes, then every section is written in place.
fn encode_two_pass(page: &[u8], n: usize, out: &mut [u8], stats: WordStats) -> Result<usize, CodecError> {
    let layout = Layout::new(n, stats.misses() as usize, (stats.exact + stats.partial) as usize, stats.partial as usize);
    let needed = layout.end * 4;
    if out.len() < needed {
        return Err(CodecError::OutputTooSmall { codec: "wkdm", needed, available: out.len() });
    }
    let out = &mut out[..needed];
    put_header(out, layout);
    let mut dict = new_dict();
    let (mut tag_at, mut full_at) = (HEADER_WORDS, layout.full);
    let mut qpos = NibbleWriter { acc: 0, bits: 0, at: layout.qpos };
    let mut low = LowWriter { acc: 0, phase: 0, at: layout.low };
    for_each_block(page, |block| {
        let m = model_block(block, &mut dict);
        put(out, tag_at, m.tags);
        tag_at += 1;
        append_full(out, &mut full_at, &m);
        qpos.push(out, m.nibbles, 4 * m.nq);
        for &v in &m.lows[..m.nlow] {
            low.push(out, v);
        }
    });
    qpos.finish(out);
    Ok(needed)
}

/// What 16 words encode to: their tag word, and their full words, indices and low parts.
struct BlockModel {
    tags: u32,
    /// The full words, little-endian.
    full: [u8; 64],
    nfull: usize,
    lows: [u32; 16],
    nlow: usize,
    /// The indices, 4 bits each, in order.
    nibbles: u64,
    nq: u32,
}

/// Runs the WKdm model over 16 words without branches: every output goes to its buffer at the
/// buffer's cursor, and the cursor advances only if the tag emits it.
#[inline(always)]
fn model_block(block: &[u8; 64], dict: &mut Dict) -> BlockModel {
    let mut tags = 0u32;
    let (mut full, mut nfull) = ([0u8; 64], 0usize);
    let (mut lows, mut nlow) = ([0u32; 16], 0usize);
    let (mut qb, mut nq) = ([0u8; 16], 0usize);
    for j in 0..16 {
        let w = u32::from_le_bytes([block[4 * j], block[4 * j + 1], block[4 * j + 2], block[4 * j + 3]]);
        let (tag, s) = model_word(w, dict);
        tags |= tag << (2 * j);
        let k = (nfull & 15) * 4;
        full[k..k + 4].copy_from_slice(&w.to_le_bytes());
        nfull += (tag == TAG_MISS) as usize;
        lows[nlow & 15] = w & LOW_MASK;
        nlow += (tag == TAG_PARTIAL) as usize;
        qb[nq & 15] = s as u8;
        nq += (tag & 1) as usize;
    }
    BlockModel { tags, full, nfull, lows, nlow, nibbles: pack_nibbles(&qb, nq), nq: nq as u32 }
}

/// The low nibbles of `bytes[..n]`, `bytes[k]` in bits `4k..4k+4` (each byte is below 16).
#[inline(always)]
fn pack_nibbles(bytes: &[u8; 16], n: usize) -> u64 {
    let lo = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
    let packed = u64::from(squeeze_nibbles(lo)) | (u64::from(squeeze_nibbles(hi)) << 32);
    if n >= 16 {
        packed
    } else {
        packed & ((1u64 << (4 * n)) - 1)
    }
}

/// Appends 4-bit dictionary indices to the queue-positions section, 8 per word.
struct NibbleWriter {
    acc: u128,
    bits: u32,
    at: usize,
}

impl NibbleWriter {
    /// Appends the low `bits` bits of `v` (at most 64).
    #[inline(always)]
    fn push(&mut self, out: &mut [u8], v: u64, bits: u32) {
        self.acc |= (v as u128) << self.bits;
        self.bits += bits;
        if self.bits >= 64 {
            put(out, self.at, self.acc as u32);
            put(out, self.at + 1, (self.acc >> 32) as u32);
            self.at += 2;
            self.acc >>= 64;
            self.bits -= 64;
        }
    }

    /// Writes the last, partly filled words; returns the word after them.
    fn finish(mut self, out: &mut [u8]) -> usize {
        while self.bits > 0 {
            put(out, self.at, self.acc as u32);
            self.at += 1;
            self.acc >>= 32;
            self.bits = self.bits.saturating_sub(32);
        }
        self.at
    }
}

/// Appends 10-bit low parts to the low-bits section, 3 per word. The word being filled is
/// stored after every push, so there is nothing to flush.
struct LowWriter {
    acc: u32,
    phase: u32,
    at: usize,
}

impl LowWriter {
    #[inline(always)]
    fn push(&mut self, out: &mut [u8], v: u32) {
        self.acc |= v << (LOW_BITS * self.phase);
        put(out, self.at, self.acc);
        let wrap = self.phase == 2;
        self.at += wrap as usize;
        self.acc = if wrap { 0 } else { self.acc };
        self.phase = if wrap { 0 } else { self.phase + 1 };
    }
}

/// Decodes a WKdm encoding into `page_out`, whose length is the page size.
///
/// Checks the whole encoding before writing: a wrong length, header or section size, or set
/// padding bits give a [`CodecError`] and leave `page_out` untouched.
pub fn decode(encoded: &[u8], page_out: &mut [u8]) -> Result<(), CodecError> {
    let n = check_page(page_out.len())?;
    if encoded.len() % 4 != 0 {
        return Err(CodecError::WkdmUnaligned { len: encoded.len() });
    }
    let len_words = encoded.len() / 4;
    let tag_words = n.div_ceil(16);
    let tags_end = HEADER_WORDS + tag_words;
    if len_words < tags_end {
        return Err(CodecError::WkdmTruncated { len: encoded.len(), page_len: page_out.len(), needed: tags_end * 4 });
    }
    let offsets = [get(encoded, 0), get(encoded, 1), get(encoded, 2), get(encoded, 3)];
    let [full, qpos, low, end] = offsets.map(|o| o as usize);
    if full != tags_end || qpos < full || low < qpos || end < low || end != len_words {
        return Err(CodecError::WkdmHeader { offsets, page_len: page_out.len(), tags_end, len_words });
    }

    // Count the tags, and check the padding of the last tag word.
    let [misses, matches, partials] = tag_counts(&encoded[HEADER_WORDS * 4..tags_end * 4]);
    if n % 16 != 0 && get(encoded, tags_end - 1) >> (2 * (n % 16)) != 0 {
        return Err(CodecError::WkdmPadding { section: "tags" });
    }
    for (section, expected, found) in [
        ("full words", misses, qpos - full),
        ("queue positions", matches.div_ceil(8), low - qpos),
        ("low bits", partials.div_ceil(3), end - low),
    ] {
        if expected != found {
            return Err(CodecError::WkdmSection { section, expected, found });
        }
    }
    if matches % 8 != 0 && get(encoded, low - 1) >> (4 * (matches % 8)) != 0 {
        return Err(CodecError::WkdmPadding { section: "queue positions" });
    }
    let mut low_or = 0u32;
    for k in low..end {
        low_or |= get(encoded, k);
    }
    if low_or >> (3 * LOW_BITS) != 0 || (partials % 3 != 0 && get(encoded, end - 1) >> (LOW_BITS * (partials % 3) as u32) != 0) {
        return Err(CodecError::WkdmPadding { section: "low bits" });
    }

    // Every section now holds exactly what the tags consume. The page is decoded in segments
    // of up to SEGMENT_WORDS words: the segment's full words, indices and low parts (its tags
    // say how many) are unpacked into local arrays first, so the per-word loop is branch-free:
    // each word takes the next entry of each array, combines them under masks chosen by its
    // tag, and advances each cursor by the tag's flags.
    let mut dict = new_dict();
    let (mut full_next, mut q_next, mut low_next) = (full, 0usize, 0usize);
    let mut streams = Streams { full: [0; SEGMENT_WORDS], q: [0; 2 * SEGMENT_WORDS], low: [0; 2 * SEGMENT_WORDS] };
    for (segment, words) in page_out.chunks_mut(SEGMENT_WORDS * 4).enumerate() {
        let tags_at = HEADER_WORDS + segment * (SEGMENT_WORDS / 16);
        let [nfull, nq, nlow] = if n <= SEGMENT_WORDS {
            [misses, matches, partials]
        } else {
            tag_counts(&encoded[tags_at * 4..(tags_at + (words.len() / 4).div_ceil(16)) * 4])
        };
        // Unpack whole words of each stream; a segment may start inside one.
        for (f, bytes) in streams.full.iter_mut().zip(encoded[full_next * 4..(full_next + nfull) * 4].chunks_exact(4)) {
            *f = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
        }
        let (q_first, q_skip) = (q_next / 8, q_next % 8);
        let q_words = (q_skip + nq).div_ceil(8);
        let q_src = &encoded[(qpos + q_first) * 4..(qpos + q_first + q_words) * 4];
        for (q, bytes) in streams.q.chunks_exact_mut(8).zip(q_src.chunks_exact(4)) {
            q.copy_from_slice(&spread_nibbles(u32::from_le_bytes(bytes.try_into().expect("4 bytes"))).to_le_bytes());
        }
        let (low_first, low_skip) = (low_next / 3, low_next % 3);
        let low_words = (low_skip + nlow).div_ceil(3);
        let low_src = &encoded[(low + low_first) * 4..(low + low_first + low_words) * 4];
        for (l, bytes) in streams.low.chunks_exact_mut(3).zip(low_src.chunks_exact(4)) {
            let v = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            l.copy_from_slice(&[(v & LOW_MASK) as u16, ((v >> LOW_BITS) & LOW_MASK) as u16, ((v >> (2 * LOW_BITS)) & LOW_MASK) as u16]);
        }
        (full_next, q_next, low_next) = (full_next + nfull, q_next + nq, low_next + nlow);
        let mut cursors = [0, q_skip, low_skip];
        let full_blocks = words.len() / 64;
        let mut blocks = words.chunks_exact_mut(64);
        for (b, block) in blocks.by_ref().enumerate() {
            let block: &mut [u8; 64] = block.try_into().expect("64-byte block");
            decode_block(get(encoded, tags_at + b), block, &mut dict, &streams, &mut cursors);
        }
        let rest = blocks.into_remainder();
        if !rest.is_empty() {
            // Padding tags are zero (checked above): the padding words decode to nothing.
            let mut last = [0u8; 64];
            decode_block(get(encoded, tags_at + full_blocks), &mut last, &mut dict, &streams, &mut cursors);
            rest.copy_from_slice(&last[..rest.len()]);
        }
    }
    Ok(())
}

/// How many full words, indices and low parts the tags in `tag_bytes` (whole tag words) call
/// for: the MISS tags, the EXACT and PARTIAL tags, the PARTIAL tags. Two tag words at a time,
/// as `count_ones` is a dozen instructions without a popcount instruction.
fn tag_counts(tag_bytes: &[u8]) -> [usize; 3] {
    const LOW: u64 = 0x5555_5555_5555_5555;
    let count = |tags: u64, counts: &mut [usize; 3]| {
        let (lo, hi) = (tags & LOW, (tags >> 1) & LOW);
        counts[0] += (hi & !lo).count_ones() as usize;
        counts[1] += lo.count_ones() as usize;
        counts[2] += (lo & !hi).count_ones() as usize;
    };
    let mut counts = [0; 3];
    let mut pairs = tag_bytes.chunks_exact(8);
    for pair in pairs.by_ref() {
        count(u64::from_le_bytes(pair.try_into().expect("8 bytes")), &mut counts);
    }
    if let Ok(last) = <[u8; 4]>::try_from(pairs.remainder()) {
        count(u64::from(u32::from_le_bytes(last)), &mut counts);
    }
    counts
}

/// Words per segment of [`decode`]: the unpacked streams of a segment live on the stack.
const SEGMENT_WORDS: usize = 1024;

/// A segment's full words, indices and low parts, unpacked. A cursor is at most its stream's
/// offset into its first word (below 8) plus the segment's words before the current one, so
/// below the arrays' power-of-two sizes: it is kept modulo them, which costs no bounds check.
struct Streams {
    full: [u32; SEGMENT_WORDS],
    q: [u8; 2 * SEGMENT_WORDS],
    low: [u16; 2 * SEGMENT_WORDS],
}

/// What a tag means to the decoder, by tag (ZERO, PARTIAL, MISS, EXACT), in one table so that
/// one register addresses it.
#[derive(Clone, Copy)]
struct DecodeTag {
    /// The bits of the dictionary entry, of the low part and of the full word that make up
    /// the decoded word.
    keep_dict: u32,
    keep_low: u32,
    keep_full: u32,
    /// OR-ed into the index from the stream and into the full word's dictionary entry: 0
    /// where the tag updates that entry (PARTIAL the first, MISS the second), 16 to send the
    /// store to the unused entries 16..=31 instead.
    not_partial: u32,
    not_miss: u32,
    /// How far the tag advances the full-word, index and low-part cursors.
    next_full: u32,
    next_index: u32,
    next_low: u32,
}

const DECODE_TAGS: [DecodeTag; 4] = [
    DecodeTag { keep_dict: 0, keep_low: 0, keep_full: 0, not_partial: 16, not_miss: 16, next_full: 0, next_index: 0, next_low: 0 },
    DecodeTag {
        keep_dict: !LOW_MASK,
        keep_low: LOW_MASK,
        keep_full: 0,
        not_partial: 0,
        not_miss: 16,
        next_full: 0,
        next_index: 1,
        next_low: 1,
    },
    DecodeTag { keep_dict: 0, keep_low: 0, keep_full: u32::MAX, not_partial: 16, not_miss: 0, next_full: 1, next_index: 0, next_low: 0 },
    DecodeTag { keep_dict: u32::MAX, keep_low: 0, keep_full: 0, not_partial: 16, not_miss: 16, next_full: 0, next_index: 1, next_low: 0 },
];

/// Decodes the 16 words of one tag word. `cursors` are the positions in the segment's unpacked
/// full words, indices and low parts, kept modulo the streams' sizes.
#[inline(always)]
fn decode_block(tags: u32, block: &mut [u8; 64], dict: &mut Dict, streams: &Streams, cursors: &mut [usize; 3]) {
    const FULL_MASK: usize = SEGMENT_WORDS - 1;
    const MASK: usize = 2 * SEGMENT_WORDS - 1;
    let [mut cf, mut cq, mut cl] = *cursors;
    let mut tags = tags;
    for out in block.chunks_exact_mut(4) {
        let t = DECODE_TAGS[(tags & 3) as usize];
        tags >>= 2;
        let fw = streams.full[cf];
        let s = streams.q[cq];
        let lv = u32::from(streams.low[cl]);
        let w = (dict[usize::from(s)] & t.keep_dict) | (lv & t.keep_low) | (fw & t.keep_full);
        // PARTIAL updates entry `s`, MISS the full word's entry, ZERO and EXACT neither: two
        // stores whose addresses do not depend on the dictionary, one of them (or both) to an
        // unused entry, and no select that the compiler could turn into a branch.
        dict[usize::from(s) | t.not_partial as usize] = w;
        dict[slot(fw) | t.not_miss as usize] = w;
        out.copy_from_slice(&w.to_le_bytes());
        cf = (cf + t.next_full as usize) & FULL_MASK;
        cq = (cq + t.next_index as usize) & MASK;
        cl = (cl + t.next_low as usize) & MASK;
    }
    *cursors = [cf, cq, cl];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn round_trip(page: &[u8]) -> usize {
        let mut out = vec![0u8; max_encoded_len(page.len())];
        let len = encode(page, &mut out).unwrap();
        assert_eq!(len, word_stats(page).wkdm_encoded_len());
        let mut back = vec![0xA5u8; page.len()];
        decode(&out[..len], &mut back).unwrap();
        assert_eq!(back, page);
        len
    }

    fn random_page(seed: u64, len: usize) -> Vec<u8> {
        let mut g = crate::rng::SplitMix64::new(seed);
        (0..len).map(|_| g.next_u64() as u8).collect()
    }

    #[test]
    fn hash_table_has_the_reference_structure() {
        assert_eq!(HASH_TABLE[0], 0);
        let mut counts = [0u32; 16];
        for &e in &HASH_TABLE[1..] {
            counts[e as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1..].iter().all(|&c| c == 17), "{counts:?}");
    }

    #[test]
    fn all_zero_page_is_header_and_tags_only() {
        let page = vec![0u8; 4096];
        let s = word_stats(&page);
        assert_eq!(s, WordStats { zero: 1024, exact: 0, partial: 0, words: 1024 });
        assert_eq!(round_trip(&page), 16 + 256);
    }

    #[test]
    fn all_same_word_page_is_one_miss_then_exact_hits() {
        let page = page_of(&[0xDEAD_BEEF; 1024]);
        let s = word_stats(&page);
        assert_eq!((s.zero, s.exact, s.partial, s.misses()), (0, 1023, 0, 1));
        // header + tags + 1 full word + ⌈1023/8⌉ index words
        assert_eq!(round_trip(&page), 16 + 256 + 4 + 128 * 4);
        assert!(s.similarity() > 0.99);
    }

    #[test]
    fn partial_matches_share_the_upper_22_bits() {
        // The first word misses; the next share its upper bits: partial, then exact repeats.
        let base = 0x7f12_3400u32;
        let page = page_of(&[base, base | 0x3ff, base | 1, base | 1, 0, 5]);
        let s = word_stats(&page);
        // 5 against the preloaded 1 (same upper bits: 0) is a partial match too.
        assert_eq!((s.zero, s.exact, s.partial, s.misses()), (1, 1, 3, 1));
        round_trip(&page);
    }

    #[test]
    fn small_integers_partially_match_the_preloaded_dictionary() {
        let page = page_of(&(1..=64).collect::<Vec<u32>>());
        let s = word_stats(&page);
        assert_eq!(s.exact, 1); // 1 == DICT_INIT
        assert_eq!(s.partial, 63);
        round_trip(&page);
    }

    #[test]
    fn the_largest_encoding_is_one_partial_among_misses() {
        // Distinct upper bits: every word after the first misses; 5 partially matches the
        // preloaded 1.
        let words: Vec<u32> = std::iter::once(5).chain((1..1024).map(|i| (i + 1) << 10)).collect();
        let page = page_of(&words);
        let s = word_stats(&page);
        assert_eq!((s.partial, s.misses()), (1, 1023));
        assert_eq!(round_trip(&page), max_encoded_len(4096));
        assert_eq!(max_encoded_len(4096), 16 + 256 + 4096 + 4);
        assert_eq!(round_trip(&page_of(&[7])), max_encoded_len(4));
        assert_eq!(max_encoded_len(0), 16);
    }

    #[test]
    fn random_page_expands_and_still_round_trips() {
        let page = random_page(3, 4096);
        let len = round_trip(&page);
        assert!(len > 4096, "{len}");
        assert!(len <= max_encoded_len(4096));
        assert!(word_stats(&page).similarity() < 0.1);
    }

    #[test]
    fn other_page_sizes_round_trip() {
        for words in [0usize, 1, 15, 16, 17, 1000, 2048, 16384] {
            let mut page = random_page(words as u64, words * 4);
            for (i, c) in page.chunks_exact_mut(4).enumerate() {
                if i % 3 == 0 {
                    c.copy_from_slice(&[0; 4]);
                } else if i % 3 == 1 {
                    c[0] = 7; // perturb low bits of a random word: partial matches for repeats
                }
            }
            round_trip(&page);
        }
    }

    #[test]
    fn encode_rejects_bad_pages_and_small_buffers() {
        let mut out = [0u8; 8192];
        assert_eq!(encode(&[0u8; 4095], &mut out), Err(CodecError::PageSize { codec: "wkdm", len: 4095, multiple: 4 }));
        let page = random_page(1, 4096);
        let needed = word_stats(&page).wkdm_encoded_len();
        assert_eq!(encode(&page, &mut out[..needed - 1]), Err(CodecError::OutputTooSmall { codec: "wkdm", needed, available: needed - 1 }));
        assert_eq!(encode(&page, &mut out[..needed]), Ok(needed));
    }

    fn encoded(page: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; max_encoded_len(page.len())];
        let len = encode(page, &mut out).unwrap();
        out.truncate(len);
        out
    }

    #[test]
    fn decode_rejects_malformed_encodings() {
        let page = page_of(&(0..1024u32).map(|i| if i % 5 == 0 { 0 } else { 0x4000_0000 | (i * 37 % 2000) }).collect::<Vec<_>>());
        let good = encoded(&page);
        let mut out = vec![0u8; 4096];
        let err = |bytes: &[u8], out: &mut [u8]| decode(bytes, out).unwrap_err();

        assert!(matches!(err(&good[..good.len() - 1], &mut out), CodecError::WkdmUnaligned { .. }));
        assert!(matches!(err(&good[..100], &mut out), CodecError::WkdmTruncated { needed: 272, .. }));
        // A page of 1008 words has 63 tag words; one of 1023 words has 64, like 1024, and its
        // last tag word's top slot is padding that this encoding fills.
        assert!(matches!(err(&good, &mut out[..4032]), CodecError::WkdmHeader { tags_end: 67, .. }));
        assert!(matches!(err(&good, &mut out[..4092]), CodecError::WkdmPadding { section: "tags" }));
        assert!(matches!(err(&good, &mut out[..4095]), CodecError::PageSize { .. }));
        assert!(matches!(err(&good[..good.len() - 4], &mut out), CodecError::WkdmHeader { .. }));
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(err(&bad, &mut out), CodecError::WkdmHeader { .. }));
        // Flip a ZERO tag (word 0) to MISS: the full-word section is one short.
        let mut bad = good.clone();
        bad[16] |= 0b10;
        assert!(matches!(err(&bad, &mut out), CodecError::WkdmSection { section: "full words", .. }));
        // Padding bits of a low-bits word.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] |= 0x80;
        assert!(matches!(err(&bad, &mut out), CodecError::WkdmPadding { section: "low bits" }));
        // Padding of the tags of a page that is not a multiple of 16 words.
        let small = page_of(&[3, 0, 9]);
        let mut bad = encoded(&small);
        bad[16] |= 0x40;
        assert!(matches!(decode(&bad, &mut [0u8; 12]), Err(CodecError::WkdmPadding { section: "tags" })));
        // A rejected encoding leaves the page as it was.
        out.fill(0x5A);
        assert!(decode(&bad, &mut out).is_err());
        assert!(out.iter().all(|&b| b == 0x5A));
    }

    #[test]
    fn decode_never_panics_on_corrupted_encodings() {
        let page = page_of(&(0..1024u32).map(|i| [0, 0x7f00_1000 | i, 42, 0xffff_0000 ^ i][i as usize % 4]).collect::<Vec<_>>());
        let good = encoded(&page);
        let mut out = vec![0u8; 4096];
        let mut g = crate::rng::SplitMix64::new(11);
        for _ in 0..2000 {
            let mut bad = good.clone();
            for _ in 0..1 + g.below(4) {
                let i = g.below(bad.len() as u64) as usize;
                bad[i] ^= 1 << g.below(8);
            }
            let _ = decode(&bad, &mut out);
        }
    }
}
