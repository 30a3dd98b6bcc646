//! Memoisation of pure codec work on identical bytes, for the simulator: by the bytes
//! ([`ByteMemo`]) or by what the simulator knows them to be ([`IdMemo`]).
//!
//! A codec is a pure function of its input: the same page bytes always encode to the same bytes,
//! and the same encoding always decodes to the same page. A simulated VM's never-written pages
//! hold one of a few thousand distinct contents ([`crate::content`]), so most of a first
//! pre-copy round encodes and decodes the same inputs again and again. [`ByteMemo`] remembers
//! an input's output so that the codec runs once per distinct input. A lookup compares the whole
//! input with the remembered one, so a hit is exact (a hash collision only costs a miss), and
//! the result is byte for byte what running the codec gives (tested).
//!
//! Where a page's content has an identifier ([`IdMemo`]), lookups need not touch its bytes:
//! MECOM's compression memo and the simulator's check of what it receives key on that. The
//! XBZRLE cache interns its first-round copies with [`ByteMemo`].
//!
//! Only the simulator's contexts allow it ([`crate::context::MigrationContext::sim_hints`]):
//! there the codecs' CPU time is a model, so remembering results changes no simulated number,
//! only how long the simulation takes. On a real guest the codec's real time is what is
//! measured, and algorithms run their codecs on every page.

use rustc_hash::FxHashMap as HashMap;

/// What a lookup or insertion saw, for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoStats {
    /// Lookups that found the input.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries held.
    pub entries: usize,
}

/// Remembers, for up to `capacity` distinct inputs, a small value `M` and output bytes.
///
/// Inputs are grouped by a 64-bit hash of their bytes and a caller's `salt` (e.g. the
/// encoding); an entry matches only if its input bytes and salt are equal. Once full, it keeps
/// what it has and remembers nothing new.
#[derive(Debug, Clone)]
pub struct ByteMemo<M: Copy> {
    index: HashMap<u64, Vec<u32>>,
    entries: Vec<Entry<M>>,
    capacity: usize,
    stats: MemoStats,
}

#[derive(Debug, Clone)]
struct Entry<M> {
    salt: u64,
    input: Box<[u8]>,
    value: M,
    output: Box<[u8]>,
}

impl<M: Copy> ByteMemo<M> {
    /// An empty memo for at most `capacity` inputs.
    pub fn new(capacity: usize) -> Self {
        ByteMemo { index: HashMap::default(), entries: Vec::new(), capacity, stats: MemoStats::default() }
    }

    /// The value and output remembered for `input` under `salt`, if any.
    pub fn get(&mut self, salt: u64, input: &[u8]) -> Option<(M, &[u8])> {
        let i = self.lookup(salt, input)?;
        let e = &self.entries[i];
        Some((e.value, &e.output))
    }

    /// Remembers `value` and `output` for `input` under `salt` (nothing once full). The caller
    /// inserts only after a [`get`](Self::get) that missed, so an input is held once.
    pub fn insert(&mut self, salt: u64, input: &[u8], value: M, output: &[u8]) {
        self.push(salt, input, value, output);
    }

    /// The index of the entry whose input is `input` under `salt`, inserting it (with `value`
    /// and no output) if there is none and there is room: an interner, for storing identical
    /// inputs once. None when the input is new and the memo is full.
    pub fn intern(&mut self, salt: u64, input: &[u8], value: M) -> Option<usize> {
        self.lookup(salt, input).or_else(|| self.push(salt, input, value, &[]))
    }

    /// The index of the entry holding `input` under `salt`, counted as a hit or a miss.
    fn lookup(&mut self, salt: u64, input: &[u8]) -> Option<usize> {
        let found = self.index.get(&hash(salt, input)).and_then(|ids| {
            ids.iter().map(|&i| i as usize).find(|&i| {
                let e = &self.entries[i];
                e.salt == salt && bytes_equal(&e.input, input)
            })
        });
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    /// Adds an entry and gives its index; None (and nothing added) once full.
    fn push(&mut self, salt: u64, input: &[u8], value: M, output: &[u8]) -> Option<usize> {
        if self.entries.len() >= self.capacity || self.entries.len() >= u32::MAX as usize {
            return None;
        }
        self.index.entry(hash(salt, input)).or_default().push(self.entries.len() as u32);
        self.entries.push(Entry { salt, input: input.into(), value, output: output.into() });
        self.stats.entries = self.entries.len();
        Some(self.entries.len() - 1)
    }

    /// The input bytes of entry `index` (from [`intern`](Self::intern)).
    pub fn input(&self, index: usize) -> &[u8] {
        &self.entries[index].input
    }

    /// Hits, misses and entries so far.
    pub fn stats(&self) -> MemoStats {
        self.stats
    }
}

/// Remembers a value for up to `capacity` content identifiers
/// ([`crate::context::SimHints::shared_content_id`]): a memo keyed by what the
/// simulator knows a page's bytes to be rather than by the bytes, so a hit costs a lookup of
/// one word instead of reading, hashing and comparing the page. Once full, it keeps what it has
/// and remembers nothing new.
#[derive(Debug, Clone)]
pub struct IdMemo<V> {
    values: HashMap<u64, V>,
    capacity: usize,
    stats: MemoStats,
}

impl<V> IdMemo<V> {
    /// An empty memo for at most `capacity` identifiers.
    pub fn new(capacity: usize) -> Self {
        IdMemo { values: HashMap::default(), capacity, stats: MemoStats::default() }
    }

    /// The value remembered for `id`, counted as a hit or a miss.
    pub fn get(&mut self, id: u64) -> Option<&V> {
        let found = self.values.get(&id);
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    /// Remembers `value` for `id` (nothing once full).
    pub fn insert(&mut self, id: u64, value: V) {
        if self.values.len() < self.capacity {
            self.values.insert(id, value);
            self.stats.entries = self.values.len();
        }
    }

    /// Hits, misses and entries so far.
    pub fn stats(&self) -> MemoStats {
        self.stats
    }
}

/// Whether two byte strings are equal, compared eight bytes at a time. Slice equality calls
/// `memcmp`, which on wasm32 is compiler-builtins' byte-by-byte loop (the browser's simulator
/// spent much of a 4 GiB MECOM run in it); whole words are several times faster there and no
/// slower natively.
pub fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = wa.remainder() == wb.remainder();
    tails_equal && wa.zip(wb).all(|(x, y)| u64::from_ne_bytes(x.try_into().expect("8")) == u64::from_ne_bytes(y.try_into().expect("8")))
}

/// A fast 64-bit hash of `bytes` and `salt`: four independent multiply-rotate lanes over
/// 8-byte words, then the tail and the length. Not for security; equal inputs are confirmed by
/// comparing them.
fn hash(salt: u64, bytes: &[u8]) -> u64 {
    const K: [u64; 4] = [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x85EB_CA77_C2B2_AE63];
    let mut lanes = [salt ^ K[0], salt ^ K[1], salt ^ K[2], salt ^ K[3]];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let w = u64::from_le_bytes(block[8 * i..8 * i + 8].try_into().expect("8 bytes"));
            *lane = (*lane ^ w).wrapping_mul(K[i]).rotate_left(29);
        }
    }
    let mut h = bytes.len() as u64;
    for (i, lane) in lanes.iter().enumerate() {
        h = (h ^ lane.wrapping_mul(K[(i + 1) % 4])).rotate_left(31).wrapping_mul(K[i]);
    }
    for &b in blocks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K[0]);
    }
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_equal_bytes_and_salt() {
        let mut m = ByteMemo::<u8>::new(10);
        let a = vec![7u8; 4096];
        let mut b = a.clone();
        b[4095] = 8;
        assert!(m.get(1, &a).is_none());
        m.insert(1, &a, 3, b"out-a");
        assert_eq!(m.get(1, &a), Some((3, &b"out-a"[..])));
        assert!(m.get(2, &a).is_none(), "another salt");
        assert!(m.get(1, &b).is_none(), "one byte differs");
        assert_eq!(m.stats(), MemoStats { hits: 1, misses: 3, entries: 1 });
    }

    #[test]
    fn interning_stores_equal_inputs_once() {
        let mut m = ByteMemo::<()>::new(2);
        let a = m.intern(0, &[1; 64], ()).unwrap();
        let b = m.intern(0, &[2; 64], ()).unwrap();
        assert_ne!(a, b);
        assert_eq!(m.intern(0, &[1; 64], ()), Some(a));
        assert_eq!(m.input(b), &[2; 64]);
        assert_eq!(m.intern(0, &[3; 64], ()), None, "full");
        assert_eq!(m.stats().entries, 2);
    }

    #[test]
    fn it_stops_remembering_when_full() {
        let mut m = ByteMemo::<()>::new(2);
        for i in 0..5u8 {
            m.insert(0, &[i; 64], (), &[i]);
        }
        assert_eq!(m.stats().entries, 2);
        assert!(m.get(0, &[1; 64]).is_some());
        assert!(m.get(0, &[4; 64]).is_none());
    }

    #[test]
    fn an_id_memo_counts_and_stops_when_full() {
        let mut m = IdMemo::<u8>::new(2);
        assert!(m.get(7).is_none());
        m.insert(7, 1);
        m.insert(8, 2);
        m.insert(9, 3);
        assert_eq!(m.get(7), Some(&1));
        assert!(m.get(9).is_none(), "full");
        assert_eq!(m.stats(), MemoStats { hits: 1, misses: 2, entries: 2 });
    }

    #[test]
    fn bytes_equal_is_slice_equality() {
        let a: Vec<u8> = (0..100u8).collect();
        for len in [0, 1, 7, 8, 9, 64, 100] {
            assert!(bytes_equal(&a[..len], &a[..len]));
            for i in 0..len {
                let mut b = a[..len].to_vec();
                b[i] ^= 1;
                assert!(!bytes_equal(&a[..len], &b), "len {len}, byte {i}");
            }
        }
        assert!(!bytes_equal(&a[..8], &a[..9]));
    }

    #[test]
    fn the_hash_sees_every_byte() {
        let base = vec![0u8; 4096 + 5];
        let h0 = hash(0, &base);
        for i in (0..base.len()).step_by(97).chain([base.len() - 1]) {
            let mut b = base.clone();
            b[i] = 1;
            assert_ne!(hash(0, &b), h0, "byte {i}");
        }
        assert_ne!(hash(0, &base[..4096]), hash(0, &base[..4097]));
    }
}
