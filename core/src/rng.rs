//! Deterministic, counter-based randomness.
//!
//! The simulator needs random numbers it can *seek*: the guest's k-th write of a stream must be
//! the same page whether the guest ran on the source or the destination at that moment, and the
//! destination must be able to jump to "the access at guest time g" without replaying every
//! access before it. A counter-based generator gives exactly that: the value for `(seed, stream,
//! index)` is a pure function, the SplitMix64 finaliser applied to a mix of its inputs
//! (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014). The same
//! inputs give the same numbers on every platform, natively and in wasm.

/// The SplitMix64 output function: a bijective 64-bit mixer with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A pure function of its four inputs, uniformly distributed over `u64`.
#[inline]
pub fn hash4(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    mix64(mix64(mix64(seed ^ mix64(a)) ^ b.rotate_left(17)) ^ c.rotate_left(41))
}

/// Maps a 64-bit hash to a float in `[0, 1)`.
#[inline]
pub fn unit_f64(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A small sequential generator (SplitMix64) for filling page contents.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose stream is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Uniform integer in `0..n` from a hash (Lemire's multiply-shift; n > 0).
#[inline]
pub fn below(h: u64, n: u64) -> u64 {
    ((h as u128 * n as u128) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_pure_and_spreads() {
        assert_eq!(hash4(1, 2, 3, 4), hash4(1, 2, 3, 4));
        assert_ne!(hash4(1, 2, 3, 4), hash4(1, 2, 3, 5));
        let n = 10_000u64;
        let mut buckets = [0u32; 10];
        for k in 0..n {
            buckets[below(hash4(7, 0, 0, k), 10) as usize] += 1;
        }
        for b in buckets {
            assert!((800..1200).contains(&b), "{buckets:?}");
        }
    }

    #[test]
    fn splitmix_matches_reference_vector() {
        // Reference values for seed 0 from the SplitMix64 paper's C implementation.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
