//! Verification: what the destination holds against the guest's memory, page by page, and
//! the decoding of encoded pages as the destination would decode them.

use super::SimContext;
use crate::codec::memo::bytes_equal;
use crate::content::{ContentCache, ContentModel};
use crate::context::Encoding;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// Page bytes recently served to the algorithm, by page: `(version, offset in bytes)`.
#[derive(Debug, Default)]
pub(super) struct ReadLog {
    index: HashMap<u64, (u32, usize)>,
    bytes: Vec<u8>,
}

impl ReadLog {
    /// Pages kept at most; past this the log starts over.
    const CAPACITY: usize = 4096;

    pub(super) fn record(&mut self, page: u64, version: u32, bytes: &[u8]) {
        if self.index.len() >= Self::CAPACITY {
            self.clear();
        }
        self.index.insert(page, (version, self.bytes.len()));
        self.bytes.extend_from_slice(bytes);
    }

    pub(super) fn get(&self, page: u64, version: u32, len: usize) -> Option<&[u8]> {
        match self.index.get(&page) {
            Some(&(v, at)) if v == version => Some(&self.bytes[at..at + len]),
            _ => None,
        }
    }

    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.bytes.clear();
    }
}

impl SimContext {
    /// Whether the destination, decoding `data` for `page`, gets the source's current bytes (a
    /// codec bug, or a delta against a base the destination does not have, gives false). A delta
    /// applies to the destination's current copy.
    ///
    /// `sent_shared` is the sender's own copy of `data` when it shared it
    /// ([`EncodedBatch::push_shared`]): bytes in the very memory already checked need no
    /// comparing.
    pub(super) fn decodes_to_source(&mut self, page: u64, encoding: Encoding, data: &[u8], sent_shared: Option<&Arc<[u8]>>) -> bool {
        // A page holding a shared content that these very bytes were seen to decode to: they
        // decode to it again (a codec is a pure function), no need to decode or compare pages.
        let version = self.src_version[page as usize];
        let shared = match encoding {
            Encoding::Wkdm | Encoding::Lz4 | Encoding::Full => {
                self.content.shared_content_id(page, version).map(|id| id * 8 + encoding as u64)
            }
            _ => None,
        };
        if let Some(key) = shared {
            let same = |known: &Arc<[u8]>| sent_shared.is_some_and(|sent| Arc::ptr_eq(sent, known)) || bytes_equal(known, data);
            if self.verified_shared.get(key).is_some_and(same) {
                return true;
            }
        }
        let ok = self.decode_and_compare(page, encoding, data);
        if let (true, Some(key)) = (ok, shared) {
            self.verified_shared.insert(key, sent_shared.cloned().unwrap_or_else(|| data.into()));
        }
        ok
    }

    /// [`Self::decodes_to_source`] by decoding and comparing.
    pub(super) fn decode_and_compare(&mut self, page: u64, encoding: Encoding, data: &[u8]) -> bool {
        let version = self.src_version[page as usize];
        let ps = self.page_size as usize;
        match encoding {
            // A never-written zero-class page: no need to look at bytes.
            Encoding::Zero if data.is_empty() && self.content.is_zero(page, version) => true,
            _ => {
                let mut got = std::mem::take(&mut self.decode_buf);
                got.resize(ps, 0);
                let ok = match encoding {
                    Encoding::Delta => {
                        let base = self.dst_version[page as usize];
                        self.dst_present.get(page) && !self.dst_corrupt.get(page) && {
                            self.cache.read(&self.content, page, base, &mut got);
                            crate::codec::decode(encoding, data, &mut got).is_ok()
                        }
                    }
                    _ => crate::codec::decode(encoding, data, &mut got).is_ok(),
                };
                let equal =
                    ok && Self::equals_source(&self.read_log, &mut self.cache, &self.content, &mut self.expect_buf, page, version, &got);
                self.decode_buf = got;
                equal
            }
        }
    }

    /// Whether `bytes` are the source's bytes of `page` at `version`: what the algorithm read
    /// (the read log), else generated again.
    pub(super) fn equals_source(
        read_log: &ReadLog,
        cache: &mut ContentCache,
        content: &ContentModel,
        expect_buf: &mut Vec<u8>,
        page: u64,
        version: u32,
        bytes: &[u8],
    ) -> bool {
        match read_log.get(page, version, bytes.len()) {
            Some(read) => bytes_equal(bytes, read),
            None => {
                expect_buf.resize(bytes.len(), 0);
                cache.read(content, page, version, expect_buf);
                bytes_equal(bytes, expect_buf)
            }
        }
    }

    pub(super) fn mark_corrupt(&mut self, page: u64, corrupt: bool) {
        if corrupt {
            self.dst_corrupt.set(page);
        } else {
            self.dst_corrupt.clear(page);
        }
    }

    /// Whether the destination's copy of `page` equals the guest's. Equal versions are equal
    /// bytes; otherwise the bytes of the two base versions (before the writes the guest made on
    /// the destination, which apply alike to both) are compared, since a page rewritten with
    /// the same bytes has a new version but unchanged content (and a delta encoder rightly sends
    /// nothing for it).
    pub(super) fn page_matches(&mut self, page: u64) -> bool {
        let p = page as usize;
        if self.dst_corrupt.get(page) {
            return false;
        }
        if self.dst_version[p] == self.src_version[p] + self.dst_writes[p] {
            return true;
        }
        let (dst_base, src_base) = (self.dst_version[p] - self.dst_writes[p], self.src_version[p]);
        let ps = self.page_size as usize;
        let (mut a, mut b) = (vec![0u8; ps], vec![0u8; ps]);
        self.content.fill(page, dst_base, &mut a);
        self.content.fill(page, src_base, &mut b);
        a == b
    }
}
