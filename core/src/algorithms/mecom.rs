//! MECOM: pre-copy that compresses every page by its content.
//!
//! H. Jin, L. Deng, S. Wu, X. Shi, X. Pan, "Live virtual machine migration with adaptive memory
//! compression", IEEE Cluster 2009; H. Jin, L. Deng, S. Wu, X. Shi, H. Chen, X. Pan, "MECOM: Live
//! migration of virtual machines by adaptively compressing memory pages", FGCS 38 (2014) 23–35.
//!
//! Pre-copy exactly as in [`super::precopy`] (its parameters are read from `[params.precopy]`;
//! the paper's platform was Xen 3.1.0, so the default policy is `xen`), except that every page
//! sent in every round, the final stop-and-copy round included, goes through an adaptive,
//! zero-aware compressor (docs/algorithms/mecom.md) [C: abstracts]:
//!
//! 1. an all-zero page is sent as a flag;
//! 2. a page with strong regularity — the share of its 32-bit words that are zero or hit the
//!    WKdm dictionary exactly or partially is at least `similarity` — is compressed with WKdm
//!    (implemented here, [`crate::codec::wkdm`]) [M for the classes, R for the statistic and
//!    threshold: the paper's values were not recovered];
//! 3. any other page is compressed with LZ4 ([`crate::codec::lz4`]), the stand-in for the
//!    paper's LZO1X-1 because the Rust LZO crates are GPL-licensed \[R\];
//! 4. a page whose encoding is not smaller than the page is sent raw.
//!
//! The codecs run on the page's real bytes and the destination really decodes them (in the
//! simulator a page that does not decode to the source's bytes fails verification).
//!
//! **Compression costs time.** Pages are compressed in batches on `threads` worker threads,
//! pipelined with sending [C concept, R details]: a batch occupies the link for the longer of
//! its wire time and its compression time, `Σ page_size / rate(codec) / threads`, with one
//! throughput per codec (`zero_rate`, `wkdm_rate`, `lz4_rate`; defaults near what `livemig bench
//! --codecs` measures for one core of this project's machine \[R\]). So on a slow link compression
//! hides behind the wire and saves time; on a fast link with few threads it becomes the
//! bottleneck and makes the migration slower than plain pre-copy.

use super::precopy::{self, PageSender, Precopy, PrecopyParams, Stage};
use super::{parameters, Algorithm, AlgorithmInfo, Downtime, Family, ParamKind, Params};
use crate::codec::memo::IdMemo;
use crate::codec::{max_compressed_len, Compressor, Thresholds};
use crate::context::{ContextError, EncodedBatch, Encoding, MigrationContext, Outcome};
use std::sync::Arc;

parameters! {
    /// MECOM's own parameters (`[params.mecom]`); pre-copy's are in `[params.precopy]`.
    pub struct MecomParams, specs PARAMS {
        similarity: f64 = (
            ParamKind::Float { min: 0.0, max: 1.0 },
            "0.5",
            "θ_sim: share of zero/dictionary-hit words from which a page goes to WKdm, not LZ4 [R]"
        ),
        threads: u32 = (
            ParamKind::Int { min: 1, max: 1024 },
            "4",
            "compression threads on the source (batches are compressed in parallel with sending)"
        ),
        zero_rate: f64 = (ParamKind::Bandwidth { min: 1e6, max: 1e12 }, "8 GB/s", "bytes/s one thread scans to find a zero page"),
        wkdm_rate: f64 = (ParamKind::Bandwidth { min: 1e6, max: 1e12 }, "1 GB/s", "bytes/s one thread compresses with WKdm"),
        lz4_rate: f64 = (ParamKind::Bandwidth { min: 1e6, max: 1e12 }, "400 MB/s", "bytes/s one thread compresses with LZ4 (LZO's stand-in)"),
    }
}

/// The registry entry.
pub const INFO: AlgorithmInfo = AlgorithmInfo {
    name: "mecom",
    section: "mecom",
    base: Some(("precopy", precopy::PARAMS)),
    family: Family::PreCopy,
    downtime: Downtime::LastDirtyPages,
    summary: "Pre-copy compressing each page by content: zero flag, WKdm for word-regular pages, LZ4 (for LZO) otherwise",
    paper: "Jin et al., Live VM migration with adaptive memory compression, Cluster 2009; MECOM, FGCS 2014",
    params: PARAMS,
    fixed: &[],
    build,
};

/// MECOM's settings: the classifier's threshold and the compression cost model.
#[derive(Debug, Clone, PartialEq)]
pub struct MecomSettings {
    /// θ_sim.
    pub similarity: f64,
    /// Compression threads.
    pub threads: u32,
    /// Per-thread throughput of the zero scan, WKdm and LZ4, bytes/s.
    pub rates: [f64; 3],
}

impl MecomSettings {
    fn from_params(p: &MecomParams) -> MecomSettings {
        MecomSettings { similarity: p.similarity, threads: p.threads, rates: [p.zero_rate, p.wkdm_rate, p.lz4_rate] }
    }
}

/// Builds MECOM from resolved parameters (pre-copy's and MECOM's).
pub fn build(p: &Params) -> Box<dyn Algorithm> {
    Box::new(Mecom {
        precopy: Precopy::from_params(&PrecopyParams::from_params(p)),
        settings: MecomSettings::from_params(&MecomParams::from_params(p)),
    })
}

/// MECOM (see the module docs).
#[derive(Debug, Clone)]
pub struct Mecom {
    precopy: Precopy,
    settings: MecomSettings,
}

impl Algorithm for Mecom {
    /// Pre-copy's rounds under its convergence policy, every page of every round (the
    /// stop-and-copy included) going through the adaptive compressor: a zero page as a flag,
    /// a word-regular page with WKdm, any other with LZ4, a page that does not shrink raw
    /// ([`MecomSender`]).
    fn run(&mut self, ctx: &mut dyn MigrationContext) -> Result<Outcome, ContextError> {
        let compressor = MecomSender::new(self.settings.clone(), ctx.page_size() as usize);
        self.precopy.run_with(ctx, Box::new(compressor))
    }
}

/// Compresses each batch and sends it (see the module docs).
pub struct MecomSender {
    settings: MecomSettings,
    compressor: Compressor,
    page: Vec<u8>,
    out: Vec<u8>,
    batch: EncodedBatch,
    /// In a simulation only: what each shared page content compressed to (how it is sent, what
    /// the classifier chose, the bytes), by its identifier
    /// ([`crate::context::SimHints::shared_content_id`]), so that the codec runs once per content and
    /// such pages are not even read; the cost model still charges every page.
    memo: IdMemo<(Encoding, Encoding, Arc<[u8]>)>,
}

/// Distinct page contents the simulation's compression memo holds (the never-written pages'
/// [`crate::content::BASE_CONTENTS`] per class, with room to spare).
const MEMO_ENTRIES: usize = 4096;

impl MecomSender {
    /// A sender for pages of `page_size` bytes.
    pub fn new(settings: MecomSettings, page_size: usize) -> Self {
        Self::with_memo(settings, page_size, MEMO_ENTRIES)
    }

    /// A sender whose simulation memo holds at most `memo_entries` contents (0: none).
    fn with_memo(settings: MecomSettings, page_size: usize, memo_entries: usize) -> Self {
        let compressor = Compressor::new(Thresholds { similarity: settings.similarity });
        MecomSender {
            settings,
            compressor,
            page: vec![0; page_size],
            out: vec![0; max_compressed_len(page_size)],
            batch: EncodedBatch::new(),
            memo: IdMemo::new(memo_entries),
        }
    }

    /// Seconds one thread spends on a page that `codec` was chosen for (a raw page cost the
    /// attempt at its codec).
    fn cost(&self, chosen: Encoding) -> f64 {
        let [zero, wkdm, lz4] = self.settings.rates;
        let bytes = self.page.len() as f64;
        bytes / zero
            + match chosen {
                Encoding::Zero => 0.0,
                Encoding::Wkdm => bytes / wkdm,
                _ => bytes / lz4,
            }
    }
}

impl PageSender for MecomSender {
    fn send(&mut self, ctx: &mut dyn MigrationContext, pages: &[u64], _stage: Stage) -> Result<(), ContextError> {
        if pages.is_empty() {
            return Ok(());
        }
        self.batch.clear();
        let mut cpu = 0.0;
        for &p in pages {
            let shared = match ctx.sim_hints() {
                Some(hints) => hints.shared_content_id(p)?,
                None => None,
            };
            if let Some(id) = shared {
                if let Some((codec, chosen, bytes)) = self.memo.get(id) {
                    let chosen = *chosen;
                    self.batch.push_shared(p, *codec, bytes);
                    cpu += self.cost(chosen);
                    continue;
                }
            }
            ctx.read_page(p, &mut self.page)?;
            let c =
                self.compressor.encode(&self.page, &mut self.out).map_err(|e| ContextError::Guest(format!("compressing page {p}: {e}")))?;
            cpu += self.cost(c.chosen);
            match shared {
                // Shared from the first page on, so that the simulator checks these very bytes
                // once and recognises them on every later page.
                Some(id) => {
                    let bytes: Arc<[u8]> = self.out[..c.len].into();
                    self.batch.push_shared(p, c.codec, &bytes);
                    self.memo.insert(id, (c.codec, c.chosen, bytes));
                }
                None => self.batch.push(p, c.codec, &self.out[..c.len]),
            }
        }
        if let Some(hints) = ctx.sim_hints() {
            hints.charge_encoding(cpu / self.settings.threads as f64)?;
        }
        ctx.send_encoded(&self.batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Clock, DirtyLog};
    use crate::sim::{SimContext, SimOptions};
    use crate::Scenario;

    #[test]
    fn the_simulation_memo_sends_exactly_what_the_codecs_give() {
        let s = Scenario::from_toml_str("[vm]\nmemory = \"64 MiB\"\n[workload]\npattern = \"uniform\"\nwrite_rate = \"20000 pages/s\"\n")
            .unwrap();
        let settings = MecomSettings { similarity: 0.5, threads: 4, rates: [8e9, 1e9, 5e8] };
        let mut with = MecomSender::with_memo(settings.clone(), 4096, MEMO_ENTRIES);
        let mut without = MecomSender::with_memo(settings, 4096, 0);
        let mut a = SimContext::new(&s, SimOptions::default());
        let mut b = SimContext::new(&s, SimOptions::default());
        a.start_dirty_log().unwrap();
        b.start_dirty_log().unwrap();
        let pages: Vec<u64> = (0..s.page_count()).collect();
        // Twice over memory: the second pass meets pages written since (new contents).
        for chunk in pages.chunks(512).chain(pages.chunks(512)) {
            with.send(&mut a, chunk, Stage::Live).unwrap();
            without.send(&mut b, chunk, Stage::Live).unwrap();
            assert_eq!(with.batch, without.batch, "pages {}..", chunk[0]);
            assert_eq!(a.now(), b.now(), "the cost model charges every page");
        }
        let stats = with.memo.stats();
        assert!(stats.hits > s.page_count() / 2, "most never-written pages repeat a content: {stats:?}");
        assert_eq!(without.memo.stats().hits, 0);
    }
}
