//! Encoding throughput (MB/s of page data) on realistic pages from the content model.
//!
//! `cargo bench -p livemig-core --bench codecs`. Every group measures the same 1024 pages
//! (4 MiB) of [`sample_pages`] (the default content mix) or, for XBZRLE, the page pairs of
//! [`sample_page_pairs`]; the `*-class` groups measure one content class at a time.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use livemig_core::codec::{self, lz4, sample_page_pairs, sample_pages, wkdm, xbzrle, zero, Compressor, Encoding};
use livemig_core::content::{ContentClass, ContentMix, ContentModel};
use std::hint::black_box;

const PAGES: usize = 1024;
const PAGE: usize = 4096;

fn bytes(pages: &[Vec<u8>]) -> u64 {
    pages.iter().map(|p| p.len() as u64).sum()
}

/// Encodes every page with `enc` and returns the encodings (for the decode benches).
fn encode_all(pages: &[Vec<u8>], mut enc: impl FnMut(&[u8], &mut [u8]) -> usize) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
    pages
        .iter()
        .map(|p| {
            let n = enc(p, &mut out);
            out[..n].to_vec()
        })
        .collect()
}

fn class_pages(class: ContentClass) -> Vec<Vec<u8>> {
    let model = ContentModel::new(7, PAGE, 64, ContentMix::only(class), 0..u64::MAX);
    (0..PAGES as u64)
        .map(|i| {
            let mut p = vec![0u8; PAGE];
            model.fill(i, 0, &mut p);
            p
        })
        .collect()
}

fn bench_mixed(c: &mut Criterion) {
    let pages = sample_pages(1, PAGES);
    let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
    let mut page_out = vec![0u8; PAGE];
    let mut g = c.benchmark_group("mixed");
    g.throughput(Throughput::Bytes(bytes(&pages)));

    g.bench_function("zero-detect", |b| b.iter(|| pages.iter().filter(|p| zero::is_zero(black_box(p))).count()));
    g.bench_function("wkdm-stats", |b| b.iter(|| pages.iter().map(|p| wkdm::word_stats(black_box(p)).exact).sum::<u32>()));
    g.bench_function("wkdm-encode", |b| b.iter(|| pages.iter().map(|p| wkdm::encode(black_box(p), &mut out).unwrap()).sum::<usize>()));
    let enc = encode_all(&pages, |p, o| wkdm::encode(p, o).unwrap());
    g.bench_function("wkdm-decode", |b| {
        b.iter(|| {
            for e in &enc {
                wkdm::decode(black_box(e), &mut page_out).unwrap();
            }
        })
    });
    let mut lz = lz4::Lz4Encoder::new();
    g.bench_function("lz4-encode", |b| b.iter(|| pages.iter().map(|p| lz.encode(black_box(p), &mut out).unwrap()).sum::<usize>()));
    let enc = encode_all(&pages, |p, o| lz4::encode(p, o).unwrap());
    g.bench_function("lz4-decode", |b| {
        b.iter(|| {
            for e in &enc {
                lz4::decode(black_box(e), &mut page_out).unwrap();
            }
        })
    });
    // MECOM's whole per-page path: classify, encode, raw fallback.
    let mut comp = Compressor::default();
    g.bench_function("mecom-compress", |b| {
        b.iter(|| pages.iter().map(|p| comp.compress(black_box(p), &mut out).unwrap().len).sum::<usize>())
    });
    let sent: Vec<(Encoding, Vec<u8>)> = pages
        .iter()
        .map(|p| {
            let c = comp.compress(p, &mut out).unwrap();
            (c.codec, out[..c.len].to_vec())
        })
        .collect();
    g.bench_function("mecom-decompress", |b| {
        b.iter(|| {
            for (codec, e) in &sent {
                codec::decode(*codec, black_box(e), &mut page_out).unwrap();
            }
        })
    });

    let pairs = sample_page_pairs(1, PAGES);
    let mut xout = vec![0u8; PAGE];
    g.bench_function("xbzrle-encode", |b| {
        b.iter(|| pairs.iter().map(|(old, new)| xbzrle::encode(black_box(old), black_box(new), &mut xout).unwrap_or(PAGE)).sum::<usize>())
    });
    let deltas: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(old, new)| {
            let n = xbzrle::encode(old, new, &mut xout).unwrap();
            xout[..n].to_vec()
        })
        .collect();
    let mut work: Vec<Vec<u8>> = pairs.iter().map(|(old, _)| old.clone()).collect();
    g.bench_function("xbzrle-decode", |b| {
        // Applying a delta onto the new page leaves it unchanged, so iterations stay valid.
        b.iter(|| {
            for (d, page) in deltas.iter().zip(work.iter_mut()) {
                xbzrle::decode(black_box(d), page).unwrap();
            }
        })
    });
    g.finish();
}

fn bench_classes(c: &mut Criterion) {
    let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
    let mut page_out = vec![0u8; PAGE];
    let mut g = c.benchmark_group("class");
    // Zero detection's worst case: every page is scanned to the end.
    let zeros = class_pages(ContentClass::Zero);
    g.throughput(Throughput::Bytes(bytes(&zeros)));
    g.bench_with_input(BenchmarkId::new("zero-detect", "zero"), &zeros, |b, pages| {
        b.iter(|| pages.iter().filter(|p| zero::is_zero(black_box(p))).count())
    });
    for (name, class) in [("text", ContentClass::Text), ("structured", ContentClass::Structured), ("random", ContentClass::Random)] {
        let pages = class_pages(class);
        g.throughput(Throughput::Bytes(bytes(&pages)));
        g.bench_with_input(BenchmarkId::new("wkdm-encode", name), &pages, |b, pages| {
            b.iter(|| pages.iter().map(|p| wkdm::encode(black_box(p), &mut out).unwrap()).sum::<usize>())
        });
        let enc = encode_all(&pages, |p, o| wkdm::encode(p, o).unwrap());
        g.bench_with_input(BenchmarkId::new("wkdm-decode", name), &enc, |b, enc| {
            b.iter(|| {
                for e in enc {
                    wkdm::decode(black_box(e), &mut page_out).unwrap();
                }
            })
        });
        let mut lz = lz4::Lz4Encoder::new();
        g.bench_with_input(BenchmarkId::new("lz4-encode", name), &pages, |b, pages| {
            b.iter(|| pages.iter().map(|p| lz.encode(black_box(p), &mut out).unwrap()).sum::<usize>())
        });
        let enc = encode_all(&pages, |p, o| lz4::encode(p, o).unwrap());
        g.bench_with_input(BenchmarkId::new("lz4-decode", name), &enc, |b, enc| {
            b.iter(|| {
                for e in enc {
                    lz4::decode(black_box(e), &mut page_out).unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench_mixed, bench_classes
}
criterion_main!(benches);
