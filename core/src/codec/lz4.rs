//! LZ4 block compression: the stand-in for MECOM's LZO1X-1 (docs/algorithms/mecom.md, \[R\]).
//!
//! MECOM (Jin et al., IEEE Cluster 2009; FGCS 38, 2014) sends pages of weak regularity through
//! LZO1X-1. The Rust LZO compressors (`lzo1x`, `rust-lzo`) are GPL-2.0 and the MIT `lzo` crate
//! only decompresses, so this MIT/Apache project uses LZ4 — a fast byte-oriented LZ77 of the same
//! family and speed class — through the `lz4_flex` crate (safe encoder and decoder, no `unsafe`).
//! Compression ratios and speeds therefore differ somewhat from the paper's LZO.
//!
//! The format is a raw LZ4 *block* (<https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md>):
//! no frame, no checksum, no size prefix; the decoder is given the page size and checks that the
//! block decodes to exactly that many bytes.

use super::CodecError;
use lz4_flex::block::{compress_into_with_table, decompress_into, get_maximum_output_size, CompressTable};

/// Output buffer size the encoder requires for a page of `page_len` bytes (`lz4_flex`'s bound:
/// `20 + 1.1·page_len`, 4525 bytes for a 4 KiB page). The encoder checks this up front, even when
/// the page would compress well.
pub fn max_encoded_len(page_len: usize) -> usize {
    get_maximum_output_size(page_len)
}

/// An LZ4 block encoder that keeps its 8 KiB hash table between pages, so encoding allocates
/// nothing. Keep one per worker.
pub struct Lz4Encoder {
    table: CompressTable,
}

impl std::fmt::Debug for Lz4Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lz4Encoder").finish_non_exhaustive()
    }
}

impl Default for Lz4Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Lz4Encoder {
    /// An encoder with a fresh hash table.
    pub fn new() -> Self {
        Lz4Encoder { table: CompressTable::default() }
    }

    /// Compresses `page` into `out` as one LZ4 block; returns the block's length. `out` must
    /// hold [`max_encoded_len`]`(page.len())` bytes. Incompressible pages come out slightly
    /// larger than they went in; the caller decides whether to send them raw.
    pub fn encode(&mut self, page: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
        let needed = max_encoded_len(page.len());
        if out.len() < needed {
            return Err(CodecError::OutputTooSmall { codec: "lz4", needed, available: out.len() });
        }
        compress_into_with_table(page, out, &mut self.table).map_err(|_| CodecError::OutputTooSmall {
            codec: "lz4",
            needed,
            available: out.len(),
        })
    }
}

/// Compresses `page` into `out` with a fresh hash table (see [`Lz4Encoder::encode`]; prefer an
/// [`Lz4Encoder`] in loops).
pub fn encode(page: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    Lz4Encoder::new().encode(page, out)
}

/// Decompresses one LZ4 block into `page_out`; the block must decode to exactly
/// `page_out.len()` bytes. Corrupt input gives a [`CodecError`] (`page_out` may then have been
/// partly written).
pub fn decode(encoded: &[u8], page_out: &mut [u8]) -> Result<(), CodecError> {
    let got = decompress_into(encoded, page_out).map_err(|e| CodecError::Lz4Corrupt { reason: e.to_string() })?;
    if got != page_out.len() {
        return Err(CodecError::Lz4Length { expected: page_out.len(), got });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(page: &[u8]) -> usize {
        let mut out = vec![0u8; max_encoded_len(page.len())];
        let len = Lz4Encoder::new().encode(page, &mut out).unwrap();
        let mut back = vec![0xEEu8; page.len()];
        decode(&out[..len], &mut back).unwrap();
        assert_eq!(back, page);
        len
    }

    #[test]
    fn compressible_pages_shrink() {
        assert!(round_trip(&[0u8; 4096]) < 40);
        let text: Vec<u8> = b"the virtual machine migration copies dirty pages; ".iter().copied().cycle().take(4096).collect();
        assert!(round_trip(&text) < 200);
        assert_eq!(round_trip(&[]), 1);
        round_trip(&[1, 2, 3]);
    }

    #[test]
    fn random_page_expands_a_little() {
        let mut g = crate::rng::SplitMix64::new(8);
        let page: Vec<u8> = (0..4096).map(|_| g.next_u64() as u8).collect();
        let len = round_trip(&page);
        assert!(len > 4096 && len <= max_encoded_len(4096), "{len}");
    }

    #[test]
    fn encoder_reuse_gives_identical_blocks() {
        let mut enc = Lz4Encoder::new();
        let a: Vec<u8> = (0..4096u32).map(|i| (i % 13) as u8).collect();
        let b: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
        let (mut x, mut y) = (vec![0u8; 5000], vec![0u8; 5000]);
        let n = enc.encode(&a, &mut x).unwrap();
        enc.encode(&b, &mut y).unwrap();
        let m = enc.encode(&a, &mut y).unwrap();
        assert_eq!(x[..n], y[..m]);
        assert_eq!(encode(&a, &mut y), Ok(n));
    }

    #[test]
    fn errors_are_typed() {
        let mut small = [0u8; 100];
        assert_eq!(encode(&[0u8; 4096], &mut small), Err(CodecError::OutputTooSmall { codec: "lz4", needed: 4525, available: 100 }));
        let mut out = vec![0u8; 5000];
        let len = encode(&[9u8; 4096], &mut out).unwrap();
        let mut page = vec![0u8; 4096];
        assert!(matches!(decode(&out[..len], &mut page[..4000]), Err(CodecError::Lz4Corrupt { .. })));
        assert_eq!(decode(&out[..len], &mut vec![0u8; 5000]), Err(CodecError::Lz4Length { expected: 5000, got: 4096 }));
        assert!(decode(&out[..len - 1], &mut page).is_err());
        assert!(decode(&[0xF0], &mut page).is_err());
        assert!(decode(&[], &mut page).is_err());
    }
}
