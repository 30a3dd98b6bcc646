//! Pages in encoded form: how a page's content travels ([`Encoding`]) and a batch of encoded
//! pages ready to send ([`EncodedBatch`]).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How a page's content travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Encoding {
    /// The whole page.
    Full,
    /// A flag saying the page is all zeros (QEMU `RAM_SAVE_FLAG_ZERO`): one byte of payload.
    Zero,
    /// Only what changed since the last sent version (XBZRLE).
    Delta,
    /// WKdm word-dictionary compression.
    Wkdm,
    /// LZ4 (the stand-in for LZO).
    Lz4,
}

impl Encoding {
    /// Wire bytes a record of this encoding carries besides the per-page header and its encoded
    /// bytes: QEMU's XBZRLE record has a 1-byte encoding flag and a be16 length; a compressed
    /// page carries a 2-byte length; a zero page is a 1-byte flag; a full page is the page.
    pub fn framing_bytes(self) -> u64 {
        match self {
            Encoding::Full => 0,
            Encoding::Zero => 1,
            Encoding::Delta => 3,
            Encoding::Wkdm | Encoding::Lz4 => 2,
        }
    }
}

/// Pages in encoded form, ready to send: each page with its encoding and its encoded bytes
/// (empty for [`Encoding::Zero`]; the page's bytes for [`Encoding::Full`]).
///
/// A page's bytes are copied into the batch ([`Self::push`]), or shared with the sender
/// ([`Self::push_shared`]): a sender that sends one encoding for many pages (MECOM, for the
/// simulator's never-written contents) hands over a reference, not a copy per page, and a
/// receiver that has checked those very bytes once need not compare them again
/// ([`Self::shared`]). Either way, [`Self::get`] gives the bytes, and two batches are equal
/// when they hold the same pages, encodings and bytes.
#[derive(Debug, Clone, Default)]
pub struct EncodedBatch {
    pages: Vec<u64>,
    encodings: Vec<Encoding>,
    spans: Vec<Span>,
    data: Vec<u8>,
    shared: Vec<Arc<[u8]>>,
    data_bytes: u64,
}

/// Where a page's bytes are in an [`EncodedBatch`].
#[derive(Debug, Clone, Copy)]
enum Span {
    /// `data[start..end]`.
    Copied { start: usize, end: usize },
    /// `shared[index]`.
    Shared(usize),
}

impl PartialEq for EncodedBatch {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for EncodedBatch {}

impl EncodedBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.pages.clear();
        self.encodings.clear();
        self.spans.clear();
        self.data.clear();
        self.shared.clear();
        self.data_bytes = 0;
    }
    /// Adds a page with its encoded bytes (copied).
    pub fn push(&mut self, page: u64, encoding: Encoding, bytes: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.spans.push(Span::Copied { start, end: self.data.len() });
        self.pages.push(page);
        self.encodings.push(encoding);
        self.data_bytes += bytes.len() as u64;
    }
    /// Adds a page whose encoded bytes are `bytes`, shared rather than copied.
    pub fn push_shared(&mut self, page: u64, encoding: Encoding, bytes: &Arc<[u8]>) {
        let index = match self.shared.last() {
            Some(last) if Arc::ptr_eq(last, bytes) => self.shared.len() - 1,
            _ => {
                self.shared.push(bytes.clone());
                self.shared.len() - 1
            }
        };
        self.spans.push(Span::Shared(index));
        self.pages.push(page);
        self.encodings.push(encoding);
        self.data_bytes += bytes.len() as u64;
    }
    /// Number of pages.
    pub fn len(&self) -> usize {
        self.pages.len()
    }
    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
    /// Total encoded bytes (framing and headers excluded).
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }
    /// The `i`-th page, its encoding and its encoded bytes.
    pub fn get(&self, i: usize) -> (u64, Encoding, &[u8]) {
        let bytes = match self.spans[i] {
            Span::Copied { start, end } => &self.data[start..end],
            Span::Shared(k) => &self.shared[k][..],
        };
        (self.pages[i], self.encodings[i], bytes)
    }
    /// The `i`-th page's bytes if they were added shared ([`Self::push_shared`]).
    pub fn shared(&self, i: usize) -> Option<&Arc<[u8]>> {
        match self.spans[i] {
            Span::Shared(k) => Some(&self.shared[k]),
            Span::Copied { .. } => None,
        }
    }
    /// Every page, its encoding and its encoded bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Encoding, &[u8])> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}
