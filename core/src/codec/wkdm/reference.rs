//! The WKdm encoder as the algorithm describes it, one step at a time: read the page as words,
//! classify each word against the dictionary, collect four streams, then pack them. It is
//! slow (it allocates, branches on every word and packs in a second pass) and kept for reading
//! and as the oracle the fast [`super::encode`] is tested against: for every page, both give
//! the same bytes.

use super::{check_page, CodecError, DICT_INIT, DICT_SIZE, HASH_TABLE, HEADER_WORDS, LOW_BITS, TAG_EXACT, TAG_MISS, TAG_PARTIAL, TAG_ZERO};

/// Encodes `page` (a whole number of little-endian 32-bit words) into a new buffer, the same
/// bytes as [`super::encode`].
pub fn encode_reference(page: &[u8]) -> Result<Vec<u8>, CodecError> {
    check_page(page.len())?;

    // 1. A 16-entry dictionary, every entry preloaded with DICT_INIT.
    let mut dictionary = [DICT_INIT; DICT_SIZE];

    // 2. Classify every word, in page order, into four streams.
    let mut tags: Vec<u32> = Vec::new(); // one 2-bit tag per word
    let mut full_words: Vec<u32> = Vec::new(); // misses: the whole word
    let mut indices: Vec<u32> = Vec::new(); // exact and partial hits: the 4-bit dictionary index
    let mut low_bits: Vec<u32> = Vec::new(); // partial hits: the word's low 10 bits
    for bytes in page.chunks_exact(4) {
        let word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        // The dictionary entry: bits 10..17 of the word through the 256 -> 16 hash table.
        let index = HASH_TABLE[((word >> LOW_BITS) & 0xFF) as usize] as usize;
        let entry = dictionary[index];
        if entry == word {
            // Exact hit: the index says it all.
            tags.push(TAG_EXACT);
            indices.push(index as u32);
        } else if word == 0 {
            // Zero: the tag says it all.
            tags.push(TAG_ZERO);
        } else if entry >> LOW_BITS == word >> LOW_BITS {
            // Partial hit: the upper 22 bits match; send the index and the low 10 bits, and
            // remember the word.
            tags.push(TAG_PARTIAL);
            indices.push(index as u32);
            low_bits.push(word & ((1 << LOW_BITS) - 1));
            dictionary[index] = word;
        } else {
            // Miss: send the whole word and remember it.
            tags.push(TAG_MISS);
            full_words.push(word);
            dictionary[index] = word;
        }
    }

    // 3. Pack the small values: tags 16 to a word (2 bits each), indices 8 to a word (4 bits
    //    each), low parts 3 to a word (10 bits each); the first value in the lowest bits.
    let packed_tags = pack(&tags, 2, 16);
    let packed_indices = pack(&indices, 4, 8);
    let packed_low_bits = pack(&low_bits, LOW_BITS, 3);

    // 4. The header: where each section starts, and where the encoding ends (in words).
    let full_start = HEADER_WORDS + packed_tags.len();
    let index_start = full_start + full_words.len();
    let low_start = index_start + packed_indices.len();
    let end = low_start + packed_low_bits.len();
    let header = [full_start as u32, index_start as u32, low_start as u32, end as u32];

    // 5. Header, tags, full words, indices, low parts: little-endian words.
    let words = header.iter().chain(&packed_tags).chain(&full_words).chain(&packed_indices).chain(&packed_low_bits);
    Ok(words.flat_map(|w| w.to_le_bytes()).collect())
}

/// Packs `values` of `bits` bits each, `per_word` to a 32-bit word, the `k`-th value in bits
/// `bits * (k % per_word)` of word `k / per_word`; unused slots are zero.
fn pack(values: &[u32], bits: u32, per_word: usize) -> Vec<u32> {
    values.chunks(per_word).map(|chunk| chunk.iter().enumerate().fold(0u32, |word, (slot, &v)| word | v << (bits * slot as u32))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fast(page: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; super::super::max_encoded_len(page.len())];
        let len = super::super::encode(page, &mut out).unwrap();
        out.truncate(len);
        out
    }

    /// Pages that exercise every tag: words drawn from a few values that share upper bits,
    /// zeros, small integers and random words.
    fn word_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0u32), 0u32..4096, (0u32..8, 0u32..1024).prop_map(|(hi, lo)| 0xDEAD_0000 | hi << 10 | lo), any::<u32>(),]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_fast_encoder_writes_the_reference_bytes(words in proptest::collection::vec(word_strategy(), 0..2100)) {
            let page: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            prop_assert_eq!(fast(&page), encode_reference(&page).unwrap());
        }

        #[test]
        fn the_fast_encoder_writes_the_reference_bytes_for_random_bytes(page in proptest::collection::vec(any::<u8>(), 0..1100usize).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v })) {
            prop_assert_eq!(fast(&page), encode_reference(&page).unwrap());
        }
    }

    #[test]
    fn a_4_kib_page_of_each_kind_matches() {
        let mut g = crate::rng::SplitMix64::new(3);
        let random: Vec<u8> = (0..4096).map(|_| g.next_u64() as u8).collect();
        let text: Vec<u8> = b"the quick brown fox ".iter().copied().cycle().take(4096).collect();
        for page in [vec![0u8; 4096], random, text] {
            assert_eq!(fast(&page), encode_reference(&page).unwrap());
        }
        assert!(encode_reference(&[1, 2, 3]).is_err());
    }
}
