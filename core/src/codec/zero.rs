//! Zero-page detection: MECOM's first class (docs/algorithms/mecom.md, \[M\]: "all-zero page → send only
//! `(pfn, ZERO)`; detect it with a word scan").

/// Whether every byte of `page` is zero.
///
/// Scans 64-byte blocks as eight OR-ed 64-bit words (the compiler vectorises this) and stops at
/// the first block with a set bit, so a non-zero page usually costs one block. Any length works;
/// an empty page is zero.
#[inline]
pub fn is_zero(page: &[u8]) -> bool {
    let mut blocks = page.chunks_exact(64);
    for block in &mut blocks {
        let mut acc = 0u64;
        for word in block.chunks_exact(8) {
            acc |= u64::from_ne_bytes(word.try_into().expect("8-byte chunk"));
        }
        if acc != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pages_are_zero() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0u8; 4096]));
        assert!(is_zero(&[0u8; 4097]));
        assert!(is_zero(&[0u8; 63]));
    }

    #[test]
    fn any_set_bit_anywhere_is_found() {
        for len in [1usize, 7, 63, 64, 65, 4096, 4100] {
            for pos in [0, len / 2, len - 1] {
                for bit in [0x01u8, 0x80] {
                    let mut page = vec![0u8; len];
                    page[pos] = bit;
                    assert!(!is_zero(&page), "len {len} pos {pos} bit {bit:#x}");
                }
            }
        }
    }
}
