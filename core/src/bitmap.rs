//! A fixed-size set of page numbers stored one bit per page.
//!
//! Dirty logs, sent sets and presence maps are all page bitmaps: 16 Mi pages (a 64 GiB VM) take
//! 2 MiB. The set keeps its population count so that "how many pages are dirty" is O(1).

use serde::{Deserialize, Serialize};

/// A set of pages `0..len`, one bit each, with a maintained count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageBitmap {
    words: Vec<u64>,
    len: u64,
    count: u64,
}

impl PageBitmap {
    /// An empty set over `len` pages.
    pub fn new(len: u64) -> Self {
        PageBitmap { words: vec![0; len.div_ceil(64) as usize], len, count: 0 }
    }

    /// The set of all `len` pages.
    pub fn full(len: u64) -> Self {
        let mut b = PageBitmap::new(len);
        b.set_all();
        b
    }

    /// Number of pages the set ranges over.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set ranges over zero pages.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of pages in the set.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether `page` is in the set. Out-of-range pages are not.
    #[inline]
    pub fn get(&self, page: u64) -> bool {
        page < self.len && self.words[(page / 64) as usize] & (1 << (page % 64)) != 0
    }

    /// Adds `page`; returns true if it was not already present.
    #[inline]
    pub fn set(&mut self, page: u64) -> bool {
        debug_assert!(page < self.len);
        let w = &mut self.words[(page / 64) as usize];
        let bit = 1u64 << (page % 64);
        let added = *w & bit == 0;
        *w |= bit;
        // Keep this a branch. The branchless `self.count += added as u64` was miscompiled in
        // release builds (rustc 1.95, opt-level 3): post-copy's sent set came out short of its
        // bits by the number of demand-served pages and the push loop never ended. Safe code, so
        // the optimiser is at fault; the release smoke run of `cargo xtask test` (every preset,
        // every algorithm, release build) guards it.
        if added {
            self.count += 1;
        }
        added
    }

    /// Removes `page`; returns true if it was present.
    #[inline]
    pub fn clear(&mut self, page: u64) -> bool {
        debug_assert!(page < self.len);
        let w = &mut self.words[(page / 64) as usize];
        let bit = 1u64 << (page % 64);
        let removed = *w & bit != 0;
        *w &= !bit;
        // A branch, as in `set`: the branchless `self.count -= removed as u64` came out wrong in
        // release builds too (rustc 1.95, opt-level 3: this module's unit test
        // `set_clear_count_and_iterate` failed under `cargo test --release`).
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Adds every page.
    pub fn set_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = u64::MAX);
        if self.len % 64 != 0 {
            if let Some(last) = self.words.last_mut() {
                *last = (1u64 << (self.len % 64)) - 1;
            }
        }
        self.count = self.len;
    }

    /// Removes every page.
    pub fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
        self.count = 0;
    }

    /// Adds every page of `other` (same length).
    pub fn union_with(&mut self, other: &PageBitmap) {
        debug_assert_eq!(self.len, other.len);
        let mut count = 0;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
            count += a.count_ones() as u64;
        }
        self.count = count;
    }

    /// Removes every page of `other` (same length).
    pub fn subtract(&mut self, other: &PageBitmap) {
        debug_assert_eq!(self.len, other.len);
        let mut count = 0;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
            count += a.count_ones() as u64;
        }
        self.count = count;
    }

    /// The first page `>= from` that is in the set.
    pub fn next_set(&self, from: u64) -> Option<u64> {
        self.next_matching(from, false)
    }

    /// The first page `>= from` that is not in the set.
    pub fn next_unset(&self, from: u64) -> Option<u64> {
        self.next_matching(from, true)
    }

    /// The last page `<= from` that is not in the set.
    pub fn prev_unset(&self, from: u64) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let mut page = from.min(self.len - 1);
        loop {
            let wi = (page / 64) as usize;
            let bit = page % 64;
            let mask = if bit == 63 { u64::MAX } else { (1u64 << (bit + 1)) - 1 };
            let w = !self.words[wi] & mask;
            if w != 0 {
                return Some(wi as u64 * 64 + 63 - w.leading_zeros() as u64);
            }
            if wi == 0 {
                return None;
            }
            page = wi as u64 * 64 - 1;
        }
    }

    fn next_matching(&self, from: u64, invert: bool) -> Option<u64> {
        if from >= self.len {
            return None;
        }
        let mut wi = (from / 64) as usize;
        let mut w = if invert { !self.words[wi] } else { self.words[wi] };
        w &= u64::MAX << (from % 64);
        loop {
            if w != 0 {
                let page = wi as u64 * 64 + w.trailing_zeros() as u64;
                return (page < self.len).then_some(page);
            }
            wi += 1;
            if wi >= self.words.len() {
                return None;
            }
            w = if invert { !self.words[wi] } else { self.words[wi] };
        }
    }

    /// The pages in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as u64;
                w &= w - 1;
                Some(wi as u64 * 64 + b)
            })
        })
    }

    /// The set as maximal runs `(first_page, run_length)`.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(start) = self.next_set(from) {
            let end = self.next_unset(start).unwrap_or(self.len);
            out.push((start, end - start));
            from = end;
        }
        out
    }

    /// Size of the bitmap on the wire: one bit per page, rounded up to bytes.
    pub fn wire_bytes(&self) -> u64 {
        self.len.div_ceil(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_clear_count_and_iterate() {
        let mut b = PageBitmap::new(200);
        assert!(b.set(3));
        assert!(!b.set(3));
        b.set(64);
        b.set(199);
        assert_eq!(b.count(), 3);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![3, 64, 199]);
        assert!(b.clear(64));
        assert_eq!(b.count(), 2);
        assert_eq!(b.next_set(4), Some(199));
        assert_eq!(b.next_unset(3), Some(4));
        assert_eq!(b.prev_unset(3), Some(2));
    }

    #[test]
    fn full_respects_length_and_runs() {
        let mut b = PageBitmap::full(70);
        assert_eq!(b.count(), 70);
        assert_eq!(b.next_unset(0), None);
        assert_eq!(b.iter().count(), 70);
        b.clear(10);
        b.clear(11);
        assert_eq!(b.runs(), vec![(0, 10), (12, 58)]);
        assert_eq!(b.prev_unset(69), Some(11));
        assert_eq!(PageBitmap::full(64).prev_unset(63), None);
    }

    #[test]
    fn union_and_subtract_keep_count() {
        let mut a = PageBitmap::new(130);
        let mut b = PageBitmap::new(130);
        a.set(1);
        b.set(1);
        b.set(129);
        a.union_with(&b);
        assert_eq!(a.count(), 2);
        a.subtract(&b);
        assert_eq!(a.count(), 0);
    }
}
