//! The KVM wire decoder (`native-runner/src/kvm/wire.rs`): frames read from the bytes one after
//! another, and each payload through the parser of its kind (page records, discarded runs,
//! `Finish`, `Resumed`-side JSON) for a guest whose size the first two bytes pick.
#![no_main]
use livemig_runner::kvm::wire::{self, Kind};

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some((size, mut rest)) = data.split_first_chunk::<2>() else { return };
    // 1 to 65536 pages (up to 256 MiB): the page-range checks matter, the size does not.
    let pages = u16::from_le_bytes(*size) as u64 + 1;
    while let Ok(Some((kind, payload))) = wire::read_frame(&mut rest) {
        match kind {
            Kind::Pages => {
                if let Ok(records) = wire::parse_records(&payload, pages) {
                    assert!(records.iter().all(|r| r.first + r.count as u64 <= pages));
                }
            }
            Kind::Discard => {
                if let Ok(runs) = wire::parse_discard(&payload, pages) {
                    assert!(runs.iter().all(|&(f, c)| c > 0 && f + c <= pages));
                }
            }
            Kind::Finish => {
                if let Ok(b) = wire::parse_finish(&payload) {
                    assert!((1..=wire::MAX_FINISH_BATCHES).contains(&b));
                }
            }
            Kind::Hello => {
                let _ = serde_json::from_slice::<wire::Hello>(&payload);
            }
            _ => {}
        }
    }
});
