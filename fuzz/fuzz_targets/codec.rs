//! Every codec's decoder (`core/src/codec/`): the first byte picks XBZRLE, WKdm or LZ4, the rest
//! is the encoded page, decoded onto a page of known content (a delta applies to it). A decoder
//! must fail cleanly or fill exactly one page.
#![no_main]
use livemig_core::codec::{lz4, wkdm, xbzrle};

const PAGE: usize = 4096;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some((&pick, encoded)) = data.split_first() else { return };
    let mut page: Vec<u8> = (0..PAGE).map(|i| (i * 7 % 251) as u8).collect();
    let _ = match pick % 3 {
        0 => xbzrle::decode(encoded, &mut page),
        1 => wkdm::decode(encoded, &mut page),
        _ => lz4::decode(encoded, &mut page),
    };
    assert_eq!(page.len(), PAGE);
    // And through the dispatcher the receivers use.
    let encodings = [livemig_core::context::Encoding::Delta, livemig_core::context::Encoding::Wkdm, livemig_core::context::Encoding::Lz4];
    let _ = livemig_core::codec::decode(encodings[pick as usize % 3], encoded, &mut page);
});
