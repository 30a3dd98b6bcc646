//! Page contents: what the bytes of a simulated page are.
//!
//! # Representation
//!
//! A simulated VM never stores its memory. Every page's bytes are a pure function of
//! `(seed, page, version)`:
//!
//! * the page's **content class** (zero, text-like, structured, random) is drawn once from the
//!   scenario's content mix by hashing `(seed, page)`;
//! * version 0 is the class's **base content**, generated from a hash stream;
//! * the guest's `j`-th write to the page (which makes version `j`) overwrites `write_size`
//!   bytes at an offset drawn from `(seed, page, j)` with bytes of the page's class.
//!
//! So the only per-page state the simulator keeps is a version counter (4 bytes a page: 64 MiB for
//! a 64 GiB VM), and two copies of a page are equal exactly when their versions are equal. That
//! is how `verified` is computed: the destination's version of every page is compared with the
//! guest's. Codecs (compression, delta encoding) that need the real bytes call
//! [`ContentModel::fill`], which regenerates them; [`ContentCache`] keeps the bytes of recently
//! read pages so a hot page is rolled forward from its last materialised version rather than
//! replayed from version 0. Memory therefore stays at a few bytes a page however large the VM is,
//! plus the cache the codec algorithms choose to hold.

use crate::rng::{below, hash4, CounterRng, SplitMix64};
use rand::distr::{Distribution, StandardUniform};
use rand::Rng;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

/// What kind of data a page holds; it decides how well the page compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentClass {
    /// All zero bytes until written (free or never-touched memory).
    Zero,
    /// ASCII text from a small vocabulary: compresses well with LZ-family codecs.
    Text,
    /// 32-bit words that repeat or share their upper bits (pointers, counters, small integers):
    /// what word-dictionary codecs like WKdm are built for.
    Structured,
    /// Incompressible random bytes (encrypted or already compressed data).
    Random,
}

/// Fractions of pages in each content class. They must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentMix {
    /// Fraction of all-zero pages.
    #[serde(deserialize_with = "crate::units::number")]
    pub zero: f64,
    /// Fraction of text-like pages.
    #[serde(deserialize_with = "crate::units::number")]
    pub text: f64,
    /// Fraction of structured (word-regular) pages.
    #[serde(deserialize_with = "crate::units::number")]
    pub structured: f64,
    /// Fraction of random pages.
    #[serde(deserialize_with = "crate::units::number")]
    pub random: f64,
}

impl Default for ContentMix {
    fn default() -> Self {
        ContentMix { zero: 0.25, text: 0.25, structured: 0.3, random: 0.2 }
    }
}

impl ContentMix {
    /// A mix of only `class`: every page is of that class (its fraction is 1, the others 0).
    ///
    /// ```
    /// use livemig_core::content::{ContentClass, ContentMix};
    /// let mix = ContentMix::only(ContentClass::Text);
    /// assert_eq!(mix, ContentMix { zero: 0.0, text: 1.0, structured: 0.0, random: 0.0 });
    /// assert_eq!(mix.class_of(7, 12345), ContentClass::Text);
    /// ```
    pub fn only(class: ContentClass) -> ContentMix {
        let mut mix = ContentMix { zero: 0.0, text: 0.0, structured: 0.0, random: 0.0 };
        match class {
            ContentClass::Zero => mix.zero = 1.0,
            ContentClass::Text => mix.text = 1.0,
            ContentClass::Structured => mix.structured = 1.0,
            ContentClass::Random => mix.random = 1.0,
        }
        mix
    }

    /// The class of `page` under this mix.
    pub fn class_of(&self, seed: u64, page: u64) -> ContentClass {
        // The first number of the page's class stream, hash4(seed, page, 0xC1A5, 0), as a float.
        let u: f64 = StandardUniform.sample(&mut CounterRng::new(seed, page, 0xC1A5));
        let mut acc = self.zero;
        if u < acc {
            return ContentClass::Zero;
        }
        acc += self.text;
        if u < acc {
            return ContentClass::Text;
        }
        acc += self.structured;
        if u < acc {
            return ContentClass::Structured;
        }
        ContentClass::Random
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "page",
    "memory",
    "virtual",
    "machine",
    "migration",
    "copy",
    "dirty",
    "round",
    "host",
    "guest",
    "kernel",
    "network",
    "server",
    "request",
    "response",
    "cache",
    "buffer",
    "data",
    "file",
    "user",
    "process",
    "thread",
    "lock",
    "queue",
    "time",
    "value",
    "index",
    "table",
    "record",
    "query",
    "select",
    "from",
    "where",
    "return",
    "error",
    "int",
    "char",
    "void",
    "struct",
    "static",
    "const",
    "if",
    "else",
    "for",
    "while",
    "GET",
    "HTTP/1.1",
    "200",
    "OK",
    "Content-Length:",
    "<div>",
    "</div>",
    "class=",
    "href=",
    "\n",
];

/// Generates page bytes as a pure function of `(seed, page, version)`.
#[derive(Debug, Clone)]
pub struct ContentModel {
    seed: u64,
    page_size: usize,
    write_size: usize,
    mix: ContentMix,
    /// The pages the guest uses; those outside (reserved and free memory) are always zero
    /// class.
    used: std::ops::Range<u64>,
    /// Per class (text, structured, random), bytes of that class drawn once from the seed; a
    /// page's base content is one of [`BASE_CONTENTS`] windows of its class's tile, drawn from
    /// `(seed, page)`, so generating a page is a copy, not a word-by-word draw.
    tiles: [Vec<u8>; 3],
}

/// Bytes of each class's tile (at least four times the page size).
const TILE: usize = 256 * 1024;

/// Distinct base contents a class has: a never-written page of the class holds one of this many
/// windows of the class's tile, chosen by `(seed, page)`. Real memory holds many identical
/// pages (what KSM and deduplicating migration find); here it also lets the simulator encode each
/// distinct content once ([`crate::codec::memo`]), which is what makes compressing a 4 GiB VM
/// for real take seconds. No algorithm here looks across pages, so no metric depends on it.
pub const BASE_CONTENTS: u64 = 1024;

impl ContentModel {
    /// A content model for pages of `page_size` bytes, each write changing `write_size` bytes.
    pub fn new(seed: u64, page_size: usize, write_size: usize, mix: ContentMix, used: std::ops::Range<u64>) -> Self {
        let tile = |class: ContentClass, salt: u64| {
            let mut t = vec![0u8; TILE.max(4 * page_size)];
            fill_class(class, &mut SplitMix64::new(hash4(seed, 0, 0, salt)), &mut t, 0);
            t
        };
        let tiles = [tile(ContentClass::Text, 0x7E87), tile(ContentClass::Structured, 0x57C7), tile(ContentClass::Random, 0x4A4D)];
        ContentModel { seed, page_size, write_size: write_size.clamp(1, page_size), mix, used, tiles }
    }

    /// The page's content class.
    pub fn class_of(&self, page: u64) -> ContentClass {
        if !self.used.contains(&page) {
            ContentClass::Zero
        } else {
            self.mix.class_of(self.seed, page)
        }
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whether the page is all zeros at `version` (only zero-class pages never written).
    pub fn is_zero(&self, page: u64, version: u32) -> bool {
        version == 0 && self.class_of(page) == ContentClass::Zero
    }

    /// Writes the bytes of `page` at `version` into `buf` (`page_size` bytes).
    pub fn fill(&self, page: u64, version: u32, buf: &mut [u8]) {
        let class = self.class_of(page);
        // The base is a copy from a tile; the writes then overwrite what they cover.
        self.fill_base(page, class, buf);
        self.overlay_writes(page, class, 0, version, buf);
    }

    /// Rolls `buf` forward from the bytes at version `from` to version `to` (`from <= to`).
    pub fn roll_forward(&self, page: u64, from: u32, to: u32, buf: &mut [u8]) {
        let class = self.class_of(page);
        // Bytes no write in from+1..=to covers keep their version-`from` value, already in `buf`.
        self.overlay_writes(page, class, from, to, buf)
    }

    /// Writes into `buf` the bytes that writes `from+1..=to` leave behind (bytes none of them
    /// covers keep what `buf` holds). Each byte's value is that of the last write covering
    /// it (a write replaces its whole range), so the writes are applied newest first and each
    /// only where no later write has been: a page rewritten a thousand times costs the few
    /// writes that show, and a run of whole-page writes costs one. Gives the same bytes as
    /// applying every write in order (tested).
    fn overlay_writes(&self, page: u64, class: ContentClass, from: u32, to: u32, buf: &mut [u8]) {
        // Uncovered byte ranges, sorted and disjoint.
        let mut open: Vec<(usize, usize)> = vec![(0, buf.len())];
        let mut scratch = Vec::new();
        let mut j = to;
        while j > from && !open.is_empty() {
            let r = self.write_range(page, j);
            let (start, end) = (r.start, r.end);
            let first = open.partition_point(|&(_, b)| b <= start);
            let last = open.partition_point(|&(a, _)| a < end);
            if first < last {
                let whole = open[first].0 <= start && open[first].1 >= end;
                if whole {
                    // Nothing newer wrote here: generate in place.
                    self.apply_write(page, class, j, buf);
                } else {
                    scratch.resize(end - start, 0);
                    self.write_bytes(page, class, j, &mut scratch);
                    for &(a, b) in &open[first..last] {
                        let (a, b) = (a.max(start), b.min(end));
                        buf[a..b].copy_from_slice(&scratch[a - start..b - start]);
                    }
                }
                // Remove [start, end) from the open ranges first..last.
                let mut kept = Vec::with_capacity(2);
                let (a0, b1) = (open[first].0, open[last - 1].1);
                if a0 < start {
                    kept.push((a0, start));
                }
                if b1 > end {
                    kept.push((end, b1));
                }
                open.splice(first..last, kept);
            }
            j -= 1;
        }
    }

    /// The byte range the `j`-th write to `page` changes.
    pub fn write_range(&self, page: u64, j: u32) -> std::ops::Range<usize> {
        let span = (self.page_size - self.write_size + 1) as u64;
        let offset = below(hash4(self.seed, page, j as u64, 0x0FF5), span) as usize;
        offset..offset + self.write_size
    }

    fn apply_write(&self, page: u64, class: ContentClass, j: u32, buf: &mut [u8]) {
        let range = self.write_range(page, j);
        self.write_bytes(page, class, j, &mut buf[range]);
    }

    /// The bytes the `j`-th write to `page` stores (its whole range) into `out`.
    fn write_bytes(&self, page: u64, class: ContentClass, j: u32, out: &mut [u8]) {
        let mut g = SplitMix64::new(hash4(self.seed, page, j as u64, 0xB17E));
        // A write into a zero page leaves structured data behind.
        let class = if class == ContentClass::Zero { ContentClass::Structured } else { class };
        fill_class(class, &mut g, out, page);
    }

    /// Which of its class's [`BASE_CONTENTS`] windows a page holds before it is written.
    fn base_slot(&self, page: u64) -> u64 {
        below(hash4(self.seed, page, 0, 0xBA5E), BASE_CONTENTS)
    }

    /// An identifier of the bytes of `page` at `version` when they are one of the model's shared
    /// base contents: a never-written page of the text, structured or random class holds one
    /// window of its class's tile, and a never-written zero page zeros, so pages with equal
    /// identifiers hold equal bytes. None for a page the guest has written (its bytes are its
    /// own).
    pub fn shared_content_id(&self, page: u64, version: u32) -> Option<u64> {
        if version != 0 {
            return None;
        }
        let class = match self.class_of(page) {
            ContentClass::Zero => return Some(3 * BASE_CONTENTS),
            ContentClass::Text => 0,
            ContentClass::Structured => 1,
            ContentClass::Random => 2,
        };
        Some(class * BASE_CONTENTS + self.base_slot(page))
    }

    fn fill_base(&self, page: u64, class: ContentClass, buf: &mut [u8]) {
        let tile = match class {
            ContentClass::Zero => return buf.fill(0),
            ContentClass::Text => &self.tiles[0],
            ContentClass::Structured => &self.tiles[1],
            ContentClass::Random => &self.tiles[2],
        };
        // Windows start at word-aligned offsets spread over the tile.
        let last_word = ((tile.len() - buf.len()) / 4) as u64;
        let slot = self.base_slot(page);
        let offset = 4 * (slot * last_word / (BASE_CONTENTS - 1)) as usize;
        buf.copy_from_slice(&tile[offset..offset + buf.len()]);
    }
}

fn fill_class(class: ContentClass, g: &mut SplitMix64, buf: &mut [u8], page: u64) {
    match class {
        ContentClass::Zero => buf.fill(0),
        // rand's fill: one number a little-endian 8 bytes, the last cut to what is left.
        ContentClass::Random => g.fill_bytes(buf),
        ContentClass::Text => {
            // Words separated by a space, the last one cut at the end of the buffer.
            let mut i = 0;
            while i < buf.len() {
                let w = WORDS[g.below(WORDS.len() as u64) as usize].as_bytes();
                let n = w.len().min(buf.len() - i);
                buf[i..i + n].copy_from_slice(&w[..n]);
                i += n;
                if i < buf.len() {
                    buf[i] = b' ';
                    i += 1;
                }
            }
        }
        ContentClass::Structured => {
            // Pointers into a few nearby regions, small counters and repeated flags:
            // words share their upper 22 bits often, as WKdm expects of real heap data.
            // One 64-bit draw makes two words: 3 bits choose the kind, 29 bits of payload.
            let base = 0x7f00_0000u32.wrapping_add((page as u32 & 0xff) << 16);
            let mut prev = base;
            let mut draw = 0u64;
            for (i, chunk) in buf.chunks_mut(4).enumerate() {
                if i % 2 == 0 {
                    draw = g.next_u64();
                }
                let r = (draw >> (32 * (i % 2))) as u32;
                let payload = r >> 3;
                let word = match r & 7 {
                    0 | 1 => 0,
                    2 | 3 => prev,
                    4 | 5 => base | (payload & 0x3ff),
                    6 => payload & 0xff,
                    _ => payload ^ (payload << 7),
                };
                prev = word;
                let bytes = word.to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }
    }
}

/// Materialised page bytes for algorithms that read contents, rolled forward on demand.
///
/// Holds at most `capacity` pages; when full, an arbitrary old entry is dropped and will be
/// regenerated from version 0 if read again.
#[derive(Debug, Clone)]
pub struct ContentCache {
    pages: HashMap<u64, (u32, Vec<u8>)>,
    capacity: usize,
}

impl ContentCache {
    /// A cache for at most `capacity` pages.
    pub fn new(capacity: usize) -> Self {
        ContentCache { pages: HashMap::default(), capacity: capacity.max(1) }
    }

    /// Copies the bytes of `page` at `version` into `buf`.
    pub fn read(&mut self, model: &ContentModel, page: u64, version: u32, buf: &mut [u8]) {
        if let Some((v, bytes)) = self.pages.get_mut(&page) {
            if *v <= version {
                model.roll_forward(page, *v, version, bytes);
                *v = version;
                buf.copy_from_slice(bytes);
                return;
            }
        }
        model.fill(page, version, buf);
        if version > 0 {
            if self.pages.len() >= self.capacity {
                if let Some(&victim) = self.pages.keys().next() {
                    self.pages.remove(&victim);
                }
            }
            self.pages.insert(page, (version, buf.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ContentModel {
        ContentModel::new(42, 4096, 64, ContentMix::default(), 0..u64::MAX)
    }

    #[test]
    fn contents_are_deterministic_and_versions_change_write_size_bytes() {
        let m = model();
        let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
        for page in 0..50 {
            m.fill(page, 0, &mut a);
            m.fill(page, 0, &mut b);
            assert_eq!(a, b);
            m.fill(page, 1, &mut b);
            let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
            assert!(changed <= 64, "page {page}: {changed} bytes changed by one 64-byte write");
        }
    }

    #[test]
    fn equal_shared_content_ids_are_equal_bytes() {
        let m = model();
        let mut seen: HashMap<u64, Vec<u8>> = HashMap::default();
        let mut buf = vec![0u8; 4096];
        let (mut shared, mut repeats) = (0, 0);
        for page in 0..20_000 {
            m.fill(page, 0, &mut buf);
            match m.shared_content_id(page, 0) {
                Some(id) => {
                    shared += 1;
                    match seen.get(&id) {
                        Some(bytes) => {
                            repeats += 1;
                            assert_eq!(bytes, &buf, "page {page}: id {id} names other bytes");
                        }
                        None => {
                            seen.insert(id, buf.clone());
                        }
                    }
                }
                None => panic!("page {page} at version 0 has no shared id"),
            }
            assert_eq!(m.shared_content_id(page, 1), None, "a written page's bytes are its own");
        }
        assert!(shared == 20_000 && repeats > 15_000, "{shared} shared, {repeats} repeats");
        // Different identifiers are different bytes (distinct windows).
        let distinct: std::collections::HashSet<&Vec<u8>> = seen.values().collect();
        assert_eq!(distinct.len(), seen.len());
    }

    #[test]
    fn roll_forward_equals_fill() {
        let m = model();
        let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
        m.fill(7, 3, &mut a);
        m.roll_forward(7, 3, 10, &mut a);
        m.fill(7, 10, &mut b);
        assert_eq!(a, b);
        let mut cache = ContentCache::new(4);
        for v in [2, 5, 5, 9] {
            cache.read(&m, 7, v, &mut a);
            m.fill(7, v, &mut b);
            assert_eq!(a, b);
        }
    }

    /// Every write applied in order: what `fill` and `roll_forward` must equal.
    fn fill_in_order(m: &ContentModel, page: u64, version: u32, buf: &mut [u8]) {
        let class = m.class_of(page);
        m.fill_base(page, class, buf);
        for j in 1..=version {
            m.apply_write(page, class, j, buf);
        }
    }

    #[test]
    fn newest_first_overlay_equals_every_write_in_order() {
        for write_size in [1usize, 8, 64, 1000, 4095, 4096] {
            let m = ContentModel::new(9, 4096, write_size, ContentMix::default(), 0..u64::MAX);
            let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
            for page in 0..12 {
                for version in [0u32, 1, 2, 5, 40, 300] {
                    m.fill(page, version, &mut a);
                    fill_in_order(&m, page, version, &mut b);
                    assert_eq!(a, b, "write size {write_size}, page {page}, version {version}");
                    for to in [version, version + 1, version + 7, version + 200] {
                        m.roll_forward(page, version, to, &mut a);
                        fill_in_order(&m, page, to, &mut b);
                        assert_eq!(a, b, "write size {write_size}, page {page}, {version} -> {to}");
                        m.fill(page, version, &mut a);
                    }
                }
            }
        }
    }

    #[test]
    fn zero_pages_are_zero_until_written() {
        let mix = ContentMix { zero: 1.0, text: 0.0, structured: 0.0, random: 0.0 };
        let m = ContentModel::new(1, 4096, 8, mix, 0..u64::MAX);
        let mut a = vec![1u8; 4096];
        m.fill(3, 0, &mut a);
        assert!(a.iter().all(|&b| b == 0));
        assert!(m.is_zero(3, 0));
        m.fill(3, 1, &mut a);
        assert!(!m.is_zero(3, 1));
    }

    #[test]
    fn class_fractions_follow_the_mix() {
        let m = model();
        let n = 20_000;
        let zeros = (0..n).filter(|&p| m.class_of(p) == ContentClass::Zero).count() as f64;
        assert!((zeros / n as f64 - 0.25).abs() < 0.02);
    }
}
