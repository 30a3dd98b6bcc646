//! Property tests of the page codecs: lossless round trips on random and content-model pages,
//! QEMU-exact XBZRLE against a byte-at-a-time port of `xbzrle_encode_buffer`, and decoders
//! that never panic on arbitrary or corrupted input.

use livemig_core::codec::{self, lz4, wkdm, xbzrle, zero, CodecError, Compressor, Encoding, Thresholds};
use livemig_core::content::{ContentClass, ContentMix, ContentModel};
use proptest::prelude::*;

const PAGE: usize = 4096;

fn class_strategy() -> impl Strategy<Value = ContentClass> {
    prop_oneof![Just(ContentClass::Zero), Just(ContentClass::Text), Just(ContentClass::Structured), Just(ContentClass::Random)]
}

/// A page of the content model: any class, seed, page and version (written zero pages too).
fn model_page() -> impl Strategy<Value = (ContentClass, Vec<u8>)> {
    (class_strategy(), any::<u64>(), 0u64..1 << 20, 0u32..6, prop_oneof![Just(8usize), Just(64), Just(512)]).prop_map(
        |(class, seed, page, version, write)| {
            let model = ContentModel::new(seed, PAGE, write, ContentMix::only(class), 0..u64::MAX);
            let mut buf = vec![0u8; PAGE];
            model.fill(page, version, &mut buf);
            (class, buf)
        },
    )
}

/// Pages of 32-bit words drawn to exercise every WKdm tag: zeros, repeats, words sharing
/// upper bits with a few bases, small integers and random words.
fn wordy_page() -> impl Strategy<Value = Vec<u8>> {
    (1usize..=2048, any::<u64>()).prop_map(|(words, seed)| {
        let mut g = seed | 1;
        let mut next = move || {
            g ^= g << 13;
            g ^= g >> 7;
            g ^= g << 17;
            g
        };
        let bases: Vec<u32> = (0..4).map(|_| next() as u32 & !0x3FF).collect();
        let mut prev = 0u32;
        let mut page = Vec::with_capacity(words * 4);
        for _ in 0..words {
            let r = next();
            let w = match r % 6 {
                0 => 0,
                1 => prev,
                2 => bases[(r >> 8) as usize % 4] | ((r >> 16) as u32 & 0x3FF),
                3 => (r >> 20) as u32 & 0x3FF,
                _ => (r >> 32) as u32,
            };
            prev = w;
            page.extend_from_slice(&w.to_le_bytes());
        }
        page
    })
}

fn wkdm_round_trip(page: &[u8]) -> Result<usize, TestCaseError> {
    let mut big = vec![0u8; wkdm::max_encoded_len(page.len())];
    let len = wkdm::encode(page, &mut big).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(len, wkdm::word_stats(page).wkdm_encoded_len());
    // The one-pass (roomy buffer) and two-pass (exact buffer) encoders agree byte for byte.
    let mut exact = vec![0u8; len];
    prop_assert_eq!(wkdm::encode(page, &mut exact), Ok(len));
    prop_assert_eq!(&big[..len], &exact[..]);
    let mut back = vec![0x5Au8; page.len()];
    prop_assert_eq!(wkdm::decode(&big[..len], &mut back), Ok(()));
    prop_assert_eq!(&back[..], page);
    Ok(len)
}

fn lz4_round_trip(page: &[u8]) -> Result<usize, TestCaseError> {
    let mut out = vec![0u8; lz4::max_encoded_len(page.len())];
    let len = lz4::Lz4Encoder::new().encode(page, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut back = vec![0x5Au8; page.len()];
    prop_assert_eq!(lz4::decode(&out[..len], &mut back), Ok(()));
    prop_assert_eq!(&back[..], page);
    Ok(len)
}

/// QEMU's `xbzrle_encode_buffer`, byte at a time (`None` is its `-1`).
fn qemu_encode(old: &[u8], new: &[u8], dlen: usize) -> Option<Vec<u8>> {
    fn uleb(dst: &mut Vec<u8>, mut v: usize) {
        while v >= 0x80 {
            dst.push(v as u8 | 0x80);
            v >>= 7;
        }
        dst.push(v as u8);
    }
    let slen = new.len();
    let (mut i, mut dst) = (0, Vec::new());
    while i < slen {
        if dst.len() + 2 > dlen {
            return None;
        }
        let start = i;
        while i < slen && old[i] == new[i] {
            i += 1;
        }
        if i - start == slen {
            return Some(Vec::new());
        }
        if i == slen {
            return Some(dst);
        }
        uleb(&mut dst, i - start);
        if dst.len() + 2 > dlen {
            return None;
        }
        let start = i;
        while i < slen && old[i] != new[i] {
            i += 1;
        }
        uleb(&mut dst, i - start);
        if dst.len() + (i - start) > dlen {
            return None;
        }
        dst.extend_from_slice(&new[start..i]);
    }
    Some(dst)
}

/// A random old page and a sparsely modified new one.
fn page_pair() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (prop::collection::vec(any::<u8>(), PAGE), prop::collection::vec((0usize..PAGE, prop::collection::vec(any::<u8>(), 1..80)), 0..24))
        .prop_map(|(old, edits)| {
            let mut new = old.clone();
            for (at, bytes) in edits {
                for (k, b) in bytes.into_iter().enumerate() {
                    if at + k < PAGE {
                        new[at + k] = b;
                    }
                }
            }
            (old, new)
        })
}

proptest! {
    // 128 cases a test unless PROPTEST_CASES says otherwise (e.g. 10000 for a long soak).
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128), ..ProptestConfig::default() })]

    #[test]
    fn wkdm_round_trips_random_pages(page in prop::collection::vec(any::<u8>(), PAGE)) {
        let len = wkdm_round_trip(&page)?;
        prop_assert!(len <= wkdm::max_encoded_len(PAGE));
    }

    #[test]
    fn wkdm_round_trips_word_structured_pages_of_any_size(page in wordy_page()) {
        wkdm_round_trip(&page)?;
    }

    #[test]
    fn wkdm_and_lz4_round_trip_content_model_pages((class, page) in model_page()) {
        let wk = wkdm_round_trip(&page)?;
        let lz = lz4_round_trip(&page)?;
        if class == ContentClass::Structured {
            prop_assert!(wk < PAGE, "a structured page should shrink under WKdm: {}", wk);
        }
        if class == ContentClass::Text {
            prop_assert!(lz < PAGE * 3 / 4, "a text page should shrink under LZ4: {}", lz);
        }
    }

    #[test]
    fn lz4_round_trips_random_pages(page in prop::collection::vec(any::<u8>(), 0..9000)) {
        lz4_round_trip(&page)?;
    }

    #[test]
    fn compressor_round_trips_and_never_sends_more_than_a_page((_class, page) in model_page(), sim in 0.0f64..1.2) {
        let mut comp = Compressor::new(Thresholds { similarity: sim });
        let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
        let c = comp.compress(&page, &mut out).unwrap();
        prop_assert!(c.len <= PAGE);
        prop_assert_eq!(c.codec == Encoding::Zero, zero::is_zero(&page));
        prop_assert_eq!(c.choice, codec::classify(&page, &Thresholds { similarity: sim }));
        if c.codec == Encoding::Wkdm {
            prop_assert!(c.choice.stats.similarity() >= sim);
        }
        let mut back = vec![0xC3u8; PAGE];
        prop_assert_eq!(codec::decode(c.codec, &out[..c.len], &mut back), Ok(()));
        prop_assert_eq!(back, page);
    }

    #[test]
    fn xbzrle_applies_sparse_changes_exactly((old, new) in page_pair()) {
        let mut out = vec![0u8; PAGE];
        let got = xbzrle::encode(&old, &new, &mut out);
        let want = qemu_encode(&old, &new, PAGE);
        match (got, want) {
            (Ok(len), Some(reference)) => {
                prop_assert_eq!(&out[..len], &reference[..]);
                prop_assert_eq!(len == 0, old == new);
                let mut page = old.clone();
                prop_assert_eq!(xbzrle::decode(&out[..len], &mut page), Ok(()));
                prop_assert_eq!(page, new);
            }
            (Err(CodecError::Overflow { limit }), None) => prop_assert_eq!(limit, PAGE),
            (got, want) => prop_assert!(false, "encoder {:?}, QEMU reference {:?}", got, want.map(|w| w.len())),
        }
    }

    #[test]
    fn xbzrle_matches_qemu_for_any_output_size((old, new) in page_pair(), dlen in 0usize..600) {
        let mut out = vec![0u8; dlen];
        let got = xbzrle::encode(&old, &new, &mut out).ok().map(|len| out[..len].to_vec());
        prop_assert_eq!(got, qemu_encode(&old, &new, dlen));
    }

    #[test]
    fn xbzrle_unchanged_is_zero_and_random_overflows(old in prop::collection::vec(any::<u8>(), PAGE), new in prop::collection::vec(any::<u8>(), PAGE)) {
        let mut out = vec![0u8; PAGE];
        prop_assert_eq!(xbzrle::encode(&old, &old, &mut out), Ok(0));
        prop_assert_eq!(xbzrle::encode(&old, &new, &mut out), Err(CodecError::Overflow { limit: PAGE }));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..6000), words in 0usize..2048) {
        let mut page = vec![0u8; words * 4];
        let _ = wkdm::decode(&bytes, &mut page);
        let _ = lz4::decode(&bytes, &mut page);
        let before = page.clone();
        if xbzrle::decode(&bytes, &mut page).is_err() {
            prop_assert_eq!(&page, &before);
        }
        let _ = wkdm::decode(&bytes, &mut page[..words * 4 / 2 / 4 * 4]);
        let _ = xbzrle::decode(&bytes, &mut page[..words]);
    }

    #[test]
    fn decoders_never_panic_on_corrupted_encodings(
        (_class, page) in model_page(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
        let mut scratch = vec![0u8; PAGE];
        let wk = wkdm::encode(&page, &mut out).unwrap();
        let lz_buf = { let mut b = vec![0u8; lz4::max_encoded_len(PAGE)]; let n = lz4::encode(&page, &mut b).unwrap(); b.truncate(n); b };
        let mut old = page.clone();
        old[PAGE / 2] ^= 0xFF;
        old[10] ^= 1;
        let xb_len = xbzrle::encode(&old, &page, &mut scratch).unwrap();
        let xb = scratch[..xb_len].to_vec();
        for (codec, mut enc) in [(Encoding::Wkdm, out[..wk].to_vec()), (Encoding::Lz4, lz_buf), (Encoding::Delta, xb)] {
            if enc.is_empty() {
                continue;
            }
            for (at, b) in &edits {
                let i = at.index(enc.len());
                enc[i] ^= b | 1;
            }
            let mut target = old.clone();
            let result = codec::decode(codec, &enc, &mut target);
            if result.is_err() && codec != Encoding::Lz4 {
                prop_assert_eq!(&target, &old, "a rejected {:?} payload changed the page", codec);
            }
            let short = &enc[..cut.index(enc.len())];
            let _ = codec::decode(codec, short, &mut target);
        }
    }
}

#[test]
fn classify_matches_the_statistic_on_content_model_pages() {
    let t = Thresholds::default();
    for class in [ContentClass::Zero, ContentClass::Text, ContentClass::Structured, ContentClass::Random] {
        let model = ContentModel::new(3, PAGE, 64, ContentMix::only(class), 0..u64::MAX);
        let mut page = vec![0u8; PAGE];
        for p in 0..64 {
            model.fill(p, 0, &mut page);
            let c = codec::classify(&page, &t);
            let stats = wkdm::word_stats(&page);
            let expected = if zero::is_zero(&page) {
                Encoding::Zero
            } else if stats.similarity() >= t.similarity {
                Encoding::Wkdm
            } else {
                Encoding::Lz4
            };
            assert_eq!(c.codec, expected);
            if c.codec != Encoding::Zero {
                assert_eq!(c.stats, stats);
            }
        }
    }
}

#[test]
fn sample_pages_round_trip_through_every_codec() {
    let mut comp = Compressor::default();
    let mut out = vec![0u8; codec::max_compressed_len(PAGE)];
    let mut back = vec![0u8; PAGE];
    let mut codecs = std::collections::HashSet::new();
    for page in codec::sample_pages(77, 256) {
        let c = comp.compress(&page, &mut out).unwrap();
        codecs.insert(c.codec);
        codec::decode(c.codec, &out[..c.len], &mut back).unwrap();
        assert_eq!(back, page);
    }
    for c in [Encoding::Zero, Encoding::Wkdm, Encoding::Lz4, Encoding::Full] {
        assert!(codecs.contains(&c), "the sample mix never used {c:?}: {codecs:?}");
    }
    for (old, new) in codec::sample_page_pairs(77, 256) {
        let mut delta = vec![0u8; PAGE];
        let len = xbzrle::encode(&old, &new, &mut delta).unwrap();
        let mut page = old.clone();
        xbzrle::decode(&delta[..len], &mut page).unwrap();
        assert_eq!(page, new);
    }
}
