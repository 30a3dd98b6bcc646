//! Delta pre-copy: after the first round, send only what changed in a page (QEMU's XBZRLE).
//!
//! A. Bhardwaj and C. Rama Krishna, "Improving the Performance of Pre-copy Virtual Machine
//! Migration Technique", ICCCN 2018, LNNS 46: after the first full round, send only the modified
//! contents of dirty pages [C: abstract; the paper's encoding was not available]. Implemented,
//! as docs/algorithms/delta.md describes \[R\], as QEMU's XBZRLE (`migration/ram.c`, `xbzrle.c`,
//! `docs/xbzrle.txt`; docs/algorithms/xbzrle.md) \[C\], which is itself based on Svärd et al., VEE 2011:
//!
//! * the source keeps a cache of the last version of each page it sent, `cache_size` bytes
//!   (QEMU's default 64 MiB), direct-mapped by page number over a power-of-two number of slots;
//!   an entry from the current or the previous dirty-log generation is not evicted by another
//!   page [C: page_cache.c's age rule];
//! * XBZRLE is not used in the first (bulk) round; zero pages are always sent as flags;
//! * cache miss: insert the page (unless in the last stage) and send it whole;
//! * cache hit: XOR against the cached copy, encode zero runs and non-zero runs with ULEB128
//!   lengths ([`crate::codec::xbzrle`]); an unchanged page sends nothing; an encoding that would
//!   exceed the page (overflow) sends the page whole; otherwise the delta goes, and the cache is
//!   updated with the new content (not in the last stage);
//! * a page sent as a zero flag after the bulk round sets its cache entry to zeros.
//!
//! Two registry entries: `xbzrle` is QEMU's (its convergence rule, a 64 MiB cache) and `delta`
//! is Bhardwaj & Rama Krishna's reading (Xen's convergence rule by default, an unlimited cache that
//! also keeps the pages of the first round, so the second round can already send deltas) \[R\].
//! An unlimited cache holds a copy of every page sent: as much memory as the VM.
//!
//! Encoding costs time like MECOM's compression: a batch occupies the link for the longer of its
//! wire time and `Σ page_size / encode_rate` over the pages found in the cache and XOR-encoded
//! (a miss is sent whole without encoding) \[R\]. XBZRLE starts after the first complete pass, as
//! in QEMU: a migration that converges within its first pass sends its stop-and-copy plainly.

use super::precopy::{self, PageSender, PlainPages, Precopy, PrecopyParams, Stage};
use super::{parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::codec::memo::{ByteMemo, IdMemo};
use crate::codec::{xbzrle, zero, CodecError};
use crate::context::{ContextError, EncodedBatch, Encoding, MigrationContext, Outcome};

parameters! {
    /// Delta pre-copy's own parameters (`[params.delta]`); pre-copy's are in `[params.precopy]`.
    pub struct DeltaParams, specs PARAMS {
        cache_size: u64 = (
            ParamKind::Size { min: 4096, max: 1 << 40 },
            "64 MiB",
            "XBZRLE cache of sent pages (QEMU's default 64 MiB; the VM's size or more = unlimited)"
        ),
        cache_first_round: bool = (
            ParamKind::Bool,
            "false",
            "also cache the pages of the first round, so round 2 already sends deltas (Bhardwaj) [R]"
        ),
        encode_rate: f64 = (ParamKind::Bandwidth { min: 1e6, max: 1e12 }, "2 GB/s", "bytes/s the source XORs and encodes"),
    }
}

/// The registry entry of QEMU's XBZRLE pre-copy.
pub const XBZRLE_INFO: AlgorithmInfo = AlgorithmInfo {
    name: "xbzrle",
    section: "delta",
    base: Some(("precopy", precopy::PARAMS)),
    family: Family::PreCopy,
    downtime: Downtime::LastDirtyPages,
    summary: "QEMU pre-copy with XBZRLE: later rounds send XOR run-length deltas against a 64 MiB cache of sent pages",
    paper: "QEMU migration/xbzrle.c (Svärd et al., VEE 2011)",
    params: PARAMS,
    fixed: &[("policy", "qemu")],
    build,
};

/// The registry entry of Bhardwaj & Rama Krishna's delta pre-copy.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "delta",
    summary: "Delta pre-copy: after the first round send only modified content (XBZRLE, unlimited cache)",
    paper: "Bhardwaj & Rama Krishna, Improving the Performance of Pre-copy VM Migration, ICCCN 2018",
    fixed: &[("cache_size", "1 TiB"), ("cache_first_round", "true")],
    ..XBZRLE_INFO
};

/// Delta pre-copy's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct XbzrleSettings {
    /// Cache size in bytes.
    pub cache_bytes: u64,
    /// Cache the first round's pages.
    pub cache_first_round: bool,
    /// Encoding throughput, bytes/s.
    pub encode_rate: f64,
}

/// Builds delta pre-copy from resolved parameters (pre-copy's and its own).
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    let own = DeltaParams::from_params(p);
    Box::new(Delta {
        precopy: Precopy::from_params(&PrecopyParams::from_params(p)),
        settings: XbzrleSettings { cache_bytes: own.cache_size, cache_first_round: own.cache_first_round, encode_rate: own.encode_rate },
    })
}

/// Delta pre-copy (see the module docs).
#[derive(Debug, Clone)]
pub struct Delta {
    precopy: Precopy,
    settings: XbzrleSettings,
}

impl Algorithm for Delta {
    /// Pre-copy's rounds under its convergence policy, dirty pages going as deltas against the
    /// cache of what was sent: after the first round, a page found in the cache goes as its
    /// XOR run-length delta (nothing when unchanged, whole on overflow), a page not found goes
    /// whole and enters the cache ([`XbzrleSender`]).
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let encoder = XbzrleSender::new(self.settings.clone(), ctx.page_size() as usize);
        self.precopy.run_with(ctx, Box::new(encoder))
    }
}

/// One cache slot's owner: which page it holds and from which generation, and where its bytes
/// are.
#[derive(Debug, Clone, Copy)]
struct Slot {
    page: u64,
    age: u64,
    /// The bytes are the interned content with this index, not the slot's own buffer.
    shared: Option<u32>,
}

/// Distinct contents a simulation's cache interns (the never-written pages'
/// [`crate::content::BASE_CONTENTS`] per class, with room to spare).
const INTERNED_CONTENTS: usize = 4096;

/// QEMU's page cache: direct-mapped, a power-of-two number of slots, each slot's copy allocated
/// on first use (untouched slots cost no memory). A copy that cannot be allocated is an error,
/// not an abort (a browser tab has at most 4 GiB).
///
/// In a simulation ([`MigrationContext::sim_hints`]) the first round's copies are interned: a
/// slot whose bytes equal a content already held refers to it instead of copying it, so the
/// unlimited cache of a 4 GiB VM whose never-written pages repeat a few thousand contents holds
/// those once, not 4 GiB. What the cache holds, and so every delta, is the same (tested).
struct PageCache {
    slots: Vec<Option<Slot>>,
    /// Each slot's own copy, allocated when the slot first stores one (a slot whose content is
    /// interned, or that was never used, costs no page).
    own: Vec<Option<Box<[u8]>>>,
    interned: Option<ByteMemo<()>>,
    /// Which interned content a shared content identifier is
    /// ([`crate::context::SimHints::shared_content_id`]), so such a page need not be read again.
    interned_ids: IdMemo<u32>,
}

impl PageCache {
    fn new(cache_bytes: u64, page_count: u64, page_size: usize, intern: bool) -> PageCache {
        let wanted = (cache_bytes / page_size as u64).max(1);
        // Enough slots for every page means no conflicts at all (the unlimited cache).
        let slots = if wanted >= page_count { page_count.max(1) } else { 1u64 << (63 - wanted.leading_zeros()) };
        PageCache {
            slots: vec![None; slots as usize],
            own: vec![None; slots as usize],
            interned: intern.then(|| ByteMemo::new(INTERNED_CONTENTS)),
            interned_ids: IdMemo::new(if intern { INTERNED_CONTENTS } else { 0 }),
        }
    }

    fn slot_of(&self, page: u64) -> usize {
        (page % self.slots.len() as u64) as usize
    }

    /// The cached copy of `page`, if the cache holds it.
    fn get(&self, page: u64) -> Option<&[u8]> {
        let i = self.slot_of(page);
        match self.slots[i] {
            Some(s) if s.page == page => match (s.shared, &self.interned) {
                (Some(id), Some(interned)) => Some(interned.input(id as usize)),
                _ => self.own[i].as_deref(),
            },
            _ => None,
        }
    }

    /// Stores `bytes` as `page`'s own copy unless the slot holds another page from the current
    /// or the previous generation (QEMU's `cache_insert`); returns whether it was stored.
    fn insert(&mut self, page: u64, bytes: &[u8], age: u64) -> Result<bool, ContextError> {
        if !self.may_store(page, age) {
            return Ok(false);
        }
        self.store(page, bytes, age, None)
    }

    /// Marks `page`'s entry as used in generation `age`, if the cache holds it.
    fn refresh(&mut self, page: u64, age: u64) {
        let i = self.slot_of(page);
        if let Some(s) = self.slots[i].as_mut().filter(|s| s.page == page) {
            s.age = age;
        }
    }

    /// Whether `page` may take its slot in generation `age` (QEMU's `cache_insert` rule).
    fn may_store(&self, page: u64, age: u64) -> bool {
        match self.slots[self.slot_of(page)] {
            Some(s) => s.page == page || s.age + 1 < age,
            None => true,
        }
    }

    /// Stores a first-round page the guest has not written (a shared content) by reference to
    /// its interned copy, reading it only the first time its content is met; other pages as
    /// [`insert`](Self::insert) does. Returns whether it was stored.
    fn insert_first_round(&mut self, ctx: &mut dyn MigrationContext, page: u64, buf: &mut [u8], age: u64) -> Result<bool, ContextError> {
        if !self.may_store(page, age) {
            return Ok(false);
        }
        let id = match (&self.interned, ctx.sim_hints()) {
            (Some(_), Some(hints)) => hints.shared_content_id(page)?,
            _ => None,
        };
        if let Some(index) = id.and_then(|id| self.interned_ids.get(id).copied()) {
            let i = self.slot_of(page);
            self.slots[i] = Some(Slot { page, age, shared: Some(index) });
            return Ok(true);
        }
        ctx.read_page(page, buf)?;
        let shared = self.interned.as_mut().and_then(|interned| interned.intern(0, buf, ()).map(|i| i as u32));
        if let (Some(id), Some(index)) = (id, shared) {
            self.interned_ids.insert(id, index);
        }
        self.store(page, buf, age, shared)
    }

    /// Puts `page` in its slot: by reference to interned content `shared`, or as its own copy.
    fn store(&mut self, page: u64, bytes: &[u8], age: u64, shared: Option<u32>) -> Result<bool, ContextError> {
        let i = self.slot_of(page);
        if shared.is_none() {
            match &mut self.own[i] {
                Some(copy) => copy.copy_from_slice(bytes),
                empty => {
                    let mut buf = Vec::new();
                    buf.try_reserve_exact(bytes.len()).map_err(|e| {
                        ContextError::Guest(format!("the XBZRLE cache cannot grow by a page ({e}): use a smaller cache_size or VM"))
                    })?;
                    buf.extend_from_slice(bytes);
                    *empty = Some(buf.into_boxed_slice());
                }
            }
        }
        self.slots[i] = Some(Slot { page, age, shared });
        Ok(true)
    }
}

/// Sends XBZRLE deltas against its cache (see the module docs).
pub struct XbzrleSender {
    settings: XbzrleSettings,
    cache: Option<PageCache>,
    page: Vec<u8>,
    out: Vec<u8>,
    batch: EncodedBatch,
    /// Dirty-log generation: one per sync of the dirty log, as QEMU ages entries by
    /// `dirty_sync_count` (a pass's end, and each exact check of the convergence test).
    age: u64,
    /// Whether a live round after the first has begun: QEMU's `xbzrle_enabled`.
    first_pass_done: bool,
    /// Whether a simulation may intern the cache's first-round copies (tests turn it off).
    intern: bool,
    /// The first round's sender: XBZRLE is not used there, so zero pages go as flags and the
    /// others whole, as plain pre-copy sends them.
    first_round: PlainPages,
}

impl XbzrleSender {
    /// A sender for pages of `page_size` bytes.
    pub fn new(settings: XbzrleSettings, page_size: usize) -> Self {
        XbzrleSender {
            settings,
            cache: None,
            page: vec![0; page_size],
            out: vec![0; page_size],
            batch: EncodedBatch::new(),
            age: 0,
            first_pass_done: false,
            intern: true,
            first_round: PlainPages::new(true),
        }
    }
}

impl PageSender for XbzrleSender {
    fn dirty_log_synced(&mut self) {
        self.age += 1;
    }

    fn send(&mut self, ctx: &mut dyn MigrationContext, pages: &[u64], stage: Stage) -> Result<(), ContextError> {
        if pages.is_empty() {
            return Ok(());
        }
        let ps = self.page.len();
        let intern = self.intern && ctx.sim_hints().is_some();
        let cache = self.cache.get_or_insert_with(|| PageCache::new(self.settings.cache_bytes, ctx.page_count(), ps, intern));
        let last = stage == Stage::StopAndCopy;
        if stage == Stage::Live {
            self.first_pass_done = true;
        }
        // QEMU turns XBZRLE on once the first pass over memory is complete
        // (`find_dirty_block()` in `migration/ram.c` sets `xbzrle_enabled` when the scan wraps):
        // a stop-and-copy that comes before that, because the migration converged within its
        // first pass, sends plain pages and fills no cache. A cache filled in the first round
        // (Bhardwaj's reading) is used whenever it can be.
        let bulk = stage == Stage::FirstRound || (last && !self.first_pass_done && !self.settings.cache_first_round);
        if bulk {
            // Whole pages are cached (if at all) as they are the instant they are sent; zero
            // pages are not cached in the first round.
            let (cache_them, page, age) = (self.settings.cache_first_round, &mut self.page, self.age);
            return self.first_round.send_then(ctx, pages, |ctx, full| {
                if cache_them {
                    for &p in full {
                        cache.insert_first_round(ctx, p, page, age)?;
                    }
                }
                Ok(())
            });
        }
        self.batch.clear();
        let mut encoded_bytes = 0usize;
        for &p in pages {
            ctx.read_page(p, &mut self.page)?;
            if zero::is_zero(&self.page) {
                if cache.get(p).is_some() && !last {
                    cache.insert(p, &self.page, self.age)?;
                }
                self.batch.push(p, Encoding::Zero, &[]);
                continue;
            }
            let Some(old) = cache.get(p) else {
                if !last {
                    cache.insert(p, &self.page, self.age)?;
                }
                self.batch.push(p, Encoding::Full, &self.page);
                continue;
            };
            // Only a page found in the cache is XOR-encoded; a miss goes whole.
            encoded_bytes += ps;
            match xbzrle::encode(old, &self.page, &mut self.out) {
                // Unchanged: the destination's copy is current, nothing is sent; the hit keeps
                // the entry fresh (`cache_is_cached()` sets its age).
                Ok(0) => cache.refresh(p, self.age),
                Ok(len) => {
                    if !last {
                        cache.insert(p, &self.page, self.age)?;
                    }
                    self.batch.push(p, Encoding::Delta, &self.out[..len]);
                }
                Err(CodecError::Overflow { .. }) => {
                    if !last {
                        cache.insert(p, &self.page, self.age)?;
                    }
                    self.batch.push(p, Encoding::Full, &self.page);
                }
                Err(e) => return Err(ContextError::Guest(format!("encoding page {p}: {e}"))),
            }
        }
        if !self.batch.is_empty() {
            if let Some(hints) = ctx.sim_hints() {
                hints.charge_encoding(encoded_bytes as f64 / self.settings.encode_rate)?;
            }
            ctx.send_encoded(&self.batch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Clock, DirtyLog};

    #[test]
    fn the_cache_is_direct_mapped_and_keeps_fresh_entries() {
        let mut c = PageCache::new(4 * 4096, 100, 4096, false);
        assert_eq!(c.slots.len(), 4);
        assert!(c.insert(1, &[1; 4096], 1).unwrap());
        assert_eq!(c.get(1).unwrap()[0], 1);
        // Page 5 maps to the same slot; page 1's entry is from this generation: kept.
        assert!(!c.insert(5, &[5; 4096], 1).unwrap());
        assert!(!c.insert(5, &[5; 4096], 2).unwrap());
        assert!(c.get(5).is_none());
        // Two generations later it may be evicted.
        assert!(c.insert(5, &[5; 4096], 3).unwrap());
        assert!(c.get(1).is_none());
        assert_eq!(c.get(5).unwrap()[0], 5);
        // A cache as large as the VM has a slot per page.
        let c = PageCache::new(1 << 40, 100, 4096, false);
        assert_eq!(c.slots.len(), 100);
        // Not a power of two: rounded down.
        assert_eq!(PageCache::new(6 * 4096, 100, 4096, false).slots.len(), 4);
    }

    #[test]
    fn entries_age_by_dirty_log_syncs_and_hits_keep_them_fresh() {
        use crate::sim::{SimContext, SimOptions};
        // Four slots: pages 1 and 5 share one. QEMU's generation is `dirty_sync_count`, which
        // moves at every sync, mid-pass ones included: an entry unused for two syncs may go.
        let s = crate::Scenario::from_toml_str(
            "[vm]\nmemory = \"1 MiB\"\ncontent = { zero = 0.0, text = 0.0, structured = 0.0, random = 1.0 }\n",
        )
        .unwrap();
        let settings = XbzrleSettings { cache_bytes: 4 * 4096, cache_first_round: false, encode_rate: 1e9 };
        let encodings = |syncs_between: u64| {
            let mut sender = XbzrleSender::new(settings.clone(), 4096);
            let mut ctx = SimContext::new(&s, SimOptions::default());
            ctx.start_dirty_log().unwrap();
            let all: Vec<u64> = (0..s.page_count()).collect();
            sender.send(&mut ctx, &all, Stage::FirstRound).unwrap();
            sender.dirty_log_synced();
            sender.send(&mut ctx, &[1], Stage::Live).unwrap(); // a miss: cached
            for _ in 0..syncs_between {
                sender.dirty_log_synced();
            }
            sender.send(&mut ctx, &[5], Stage::Live).unwrap(); // a miss: cached if page 1's entry is stale
            sender.send(&mut ctx, &[1], Stage::Live).unwrap();
            sender.batch.iter().map(|(_, e, _)| e).collect::<Vec<_>>()
        };
        // Page 1 unchanged: a hit sends nothing (an empty batch); evicted, it goes whole.
        assert_eq!(encodings(1), Vec::<Encoding>::new(), "one sync later page 1's entry is kept");
        assert_eq!(encodings(2), vec![Encoding::Full], "two syncs later page 5 took the slot");
    }

    #[test]
    fn interning_the_cache_sends_the_same_deltas() {
        use crate::sim::{SimContext, SimOptions};
        let s = crate::Scenario::from_toml_str(
            "[vm]\nmemory = \"32 MiB\"\n[workload]\npattern = \"hot-cold\"\nwrite_rate = \"20000 pages/s\"\nworking_set = \"16 MiB\"\n",
        )
        .unwrap();
        let settings = XbzrleSettings { cache_bytes: u64::MAX / 2, cache_first_round: true, encode_rate: 1e9 };
        let mut shared = XbzrleSender::new(settings.clone(), 4096);
        let mut copied = XbzrleSender::new(settings, 4096);
        copied.intern = false;
        let (mut a, mut b) = (SimContext::new(&s, SimOptions::default()), SimContext::new(&s, SimOptions::default()));
        a.start_dirty_log().unwrap();
        b.start_dirty_log().unwrap();
        let pages: Vec<u64> = (0..s.page_count()).collect();
        for chunk in pages.chunks(256) {
            shared.send(&mut a, chunk, Stage::FirstRound).unwrap();
            copied.send(&mut b, chunk, Stage::FirstRound).unwrap();
        }
        // The first round cached the same bytes for every page, most by reference.
        let (sc, cc) = (shared.cache.as_ref().unwrap(), copied.cache.as_ref().unwrap());
        for &p in &pages {
            assert_eq!(sc.get(p), cc.get(p), "page {p}");
        }
        let by_id = sc.interned_ids.stats();
        let interned = sc.interned.as_ref().unwrap().stats();
        assert!(by_id.hits > by_id.misses && interned.entries < pages.len(), "{by_id:?} {interned:?}");
        assert!(cc.interned.is_none());
        assert_eq!(a.now(), b.now());
        // And the next round sends the same deltas.
        for chunk in pages.chunks(256) {
            shared.send(&mut a, chunk, Stage::Live).unwrap();
            copied.send(&mut b, chunk, Stage::Live).unwrap();
            assert_eq!(shared.batch, copied.batch, "pages {}..", chunk[0]);
        }
    }
}
