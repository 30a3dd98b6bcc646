//! Deterministic, counter-based randomness.
//!
//! The simulator needs random numbers it can *seek*: the guest's k-th write of a stream must be
//! the same page whether the guest ran on the source or the destination at that moment, and the
//! destination must be able to jump to "the access at guest time g" without replaying every
//! access before it. A counter-based generator gives exactly that: the value for `(seed, stream,
//! index)` is a pure function, the SplitMix64 finaliser applied to a mix of its inputs
//! (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014). The same
//! inputs give the same numbers on every platform, natively and in wasm.
//!
//! Both generators here, the seekable [`CounterRng`] and the sequential [`SplitMix64`],
//! implement rand's [`rand::Rng`] (the successor of `RngCore`, through [`TryRng`]) and
//! [`SeedableRng`], so rand's distributions can draw from them; where a rand distribution would
//! draw different numbers from the same bits, the hand-written sampler stays and its doc says
//! why (the traces are fixed: the same scenario and seed give the same trace forever).

use rand::rand_core::utils::fill_bytes_via_next_word;
use rand::{SeedableRng, TryRng};
use std::convert::Infallible;

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
    hash4_last(hash4_prefix(seed, a, b), c)
}

/// The part of [`hash4`] that depends on its first three inputs: for many hashes that differ
/// only in the last, `hash4_last(hash4_prefix(seed, a, b), c) == hash4(seed, a, b, c)` costs one
/// mixing step each instead of four.
#[inline]
pub fn hash4_prefix(seed: u64, a: u64, b: u64) -> u64 {
    mix64(mix64(seed ^ mix64(a)) ^ b.rotate_left(17))
}

/// [`hash4`] from its [`hash4_prefix`] and its last input.
#[inline]
pub fn hash4_last(prefix: u64, c: u64) -> u64 {
    mix64(prefix ^ c.rotate_left(41))
}

/// A seekable stream of random numbers: the `index`-th number of the stream with hash prefix
/// `prefix` is `hash4_last(prefix, index)`, so a stream can jump to any position at no cost
/// ([`CounterRng::seek`]). The stream of `(seed, a, b)` starts at [`hash4`]`(seed, a, b, 0)`.
///
/// It implements rand's generator traits, so rand's distributions draw from it:
///
/// ```
/// use livemig_core::rng::{hash4, CounterRng};
/// use rand::distr::{Distribution, StandardUniform};
/// use rand::Rng;
///
/// let mut r = CounterRng::new(7, 1, 2);
/// assert_eq!(r.next_u64(), hash4(7, 1, 2, 0));
/// r.seek(10);
/// let x: f64 = StandardUniform.sample(&mut r); // from hash4(7, 1, 2, 10)
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRng {
    prefix: u64,
    index: u64,
}

impl CounterRng {
    /// The stream of `(seed, a, b)`, at its start.
    #[inline]
    pub fn new(seed: u64, a: u64, b: u64) -> CounterRng {
        CounterRng::from_prefix(hash4_prefix(seed, a, b))
    }

    /// The stream whose numbers are `hash4_last(prefix, index)`, at its start.
    #[inline]
    pub fn from_prefix(prefix: u64) -> CounterRng {
        CounterRng { prefix, index: 0 }
    }

    /// Moves to position `index`: the next number drawn is the stream's `index`-th.
    #[inline]
    pub fn seek(&mut self, index: u64) {
        self.index = index;
    }

    /// The position of the next number drawn.
    #[inline]
    pub fn index(&self) -> u64 {
        self.index
    }
}

impl TryRng for CounterRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|v| (v >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let v = hash4_last(self.prefix, self.index);
        self.index = self.index.wrapping_add(1);
        Ok(v)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

impl SeedableRng for CounterRng {
    /// `seed`, `a` and `b` of [`CounterRng::new`], little-endian.
    type Seed = [u8; 24];

    fn from_seed(seed: [u8; 24]) -> CounterRng {
        let word = |i: usize| u64::from_le_bytes(seed[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        CounterRng::new(word(0), word(1), word(2))
    }

    /// The stream `(state, 0, 0)`.
    fn seed_from_u64(state: u64) -> CounterRng {
        CounterRng::new(state, 0, 0)
    }
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
        below(self.next_u64(), n)
    }
}

/// Uniform integer in `0..n` from a hash (Lemire's multiply-shift; n > 0).
///
/// Hand-written on purpose: rand's `Uniform` and `random_range` use the same widening multiply
/// but draw a second number when the low half of the product falls in the biased zone, so they
/// would pick other pages for some accesses (and consume a draw the counter-based streams do not
/// have), changing every trace. The bias here is below n / 2^64.
#[inline]
pub fn below(h: u64, n: u64) -> u64 {
    mul_high(h, n)
}

impl TryRng for SplitMix64 {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((SplitMix64::next_u64(self) >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(SplitMix64::next_u64(self))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

impl SeedableRng for SplitMix64 {
    /// The 64-bit state, little-endian.
    type Seed = [u8; 8];

    fn from_seed(seed: [u8; 8]) -> SplitMix64 {
        SplitMix64::new(u64::from_le_bytes(seed))
    }

    /// The state itself (as [`SplitMix64::new`]), so that seeds mean what the paper's
    /// reference vectors say.
    fn seed_from_u64(state: u64) -> SplitMix64 {
        SplitMix64::new(state)
    }
}

/// The high 64 bits of the 128-bit product `a * b`.
#[cfg(target_pointer_width = "64")]
#[inline]
fn mul_high(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) >> 64) as u64
}

/// The high 64 bits of the 128-bit product `a * b`, from four 32 x 32-bit products: wasm32 has
/// no wide multiply, and `u128` arithmetic there is a call that multiplies 128 by 128 bits
/// (every simulated guest access picks its page this way). The same value, exactly.
#[cfg(not(target_pointer_width = "64"))]
#[inline]
fn mul_high(a: u64, b: u64) -> u64 {
    mul_high_by_pieces(a, b)
}

/// [`mul_high`] from 32-bit pieces (compiled in on 32-bit targets, tested everywhere).
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
#[inline]
fn mul_high_by_pieces(a: u64, b: u64) -> u64 {
    let (a_lo, a_hi, b_lo, b_hi) = (a & 0xFFFF_FFFF, a >> 32, b & 0xFFFF_FFFF, b >> 32);
    let (ll, lh, hl, hh) = (a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi);
    let mid = (ll >> 32) + (lh & 0xFFFF_FFFF) + (hl & 0xFFFF_FFFF);
    hh + (lh >> 32) + (hl >> 32) + (mid >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float a hash stood for before rand drew them (the traces hold it): its top 53 bits,
    /// scaled to `[0, 1)`. rand's `StandardUniform` must draw exactly this from one number.
    fn unit_f64(h: u64) -> f64 {
        (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[test]
    fn the_high_product_by_pieces_is_exact() {
        let mut g = SplitMix64::new(9);
        let edge = [0, 1, 2, u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX - 1, u64::MAX];
        for &a in &edge {
            for &b in &edge {
                assert_eq!(mul_high_by_pieces(a, b), ((a as u128 * b as u128) >> 64) as u64, "{a} * {b}");
            }
        }
        for _ in 0..100_000 {
            let (a, b) = (g.next_u64(), g.next_u64());
            assert_eq!(mul_high_by_pieces(a, b), ((a as u128 * b as u128) >> 64) as u64, "{a} * {b}");
        }
    }

    #[test]
    fn hash_is_pure_and_spreads() {
        assert_eq!(hash4(1, 2, 3, 4), hash4(1, 2, 3, 4));
        assert_ne!(hash4(1, 2, 3, 4), hash4(1, 2, 3, 5));
        assert_eq!(hash4_last(hash4_prefix(1, 2, 3), 4), hash4(1, 2, 3, 4));
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
    fn the_generators_serve_rand_distributions_with_the_same_numbers() {
        use rand::distr::{Distribution, StandardUniform};
        use rand::{Rng, SeedableRng};
        let mut r = CounterRng::new(3, 4, 5);
        for k in 0..1000 {
            assert_eq!(r.index(), k);
            assert_eq!(Rng::next_u64(&mut r), hash4(3, 4, 5, k));
        }
        r.seek(17);
        let x: f64 = StandardUniform.sample(&mut r);
        assert_eq!(x, unit_f64(hash4(3, 4, 5, 17)));
        let mut seed = [0u8; 24];
        seed[..8].copy_from_slice(&3u64.to_le_bytes());
        seed[8..16].copy_from_slice(&4u64.to_le_bytes());
        seed[16..].copy_from_slice(&5u64.to_le_bytes());
        assert_eq!(CounterRng::from_seed(seed), CounterRng::new(3, 4, 5));
        assert_eq!(CounterRng::seed_from_u64(9), CounterRng::new(9, 0, 0));
        let (mut a, mut b) = (SplitMix64::seed_from_u64(5), SplitMix64::new(5));
        for _ in 0..100 {
            let h = b.next_u64();
            let x: f64 = StandardUniform.sample(&mut a);
            assert_eq!(x, unit_f64(h));
        }
        let mut bytes = [0u8; 12];
        CounterRng::new(1, 2, 3).fill_bytes(&mut bytes);
        assert_eq!(bytes[..8], hash4(1, 2, 3, 0).to_le_bytes());
        assert_eq!(bytes[8..], hash4(1, 2, 3, 1).to_le_bytes()[..4]);
    }

    #[test]
    fn splitmix_matches_reference_vector() {
        // Reference values for seed 0 from the SplitMix64 paper's C implementation.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
