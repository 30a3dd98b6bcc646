//! The trace loader (`core/src/trace.rs`).
#![no_main]

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let _ = livemig_core::Trace::from_json(text);
});
