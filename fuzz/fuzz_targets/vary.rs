//! `--vary KEY=FROM..TO:STEPS` (the CLI's reading, `livemig_core::sweep::vary`) and the
//! playground's sweep form (`livemig_core::sweep::spec`, which the web crate re-exports).
#![no_main]

use livemig_core::sweep::{spec::SweepSpec, vary::parse_vary};

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let log = text.len() % 2 == 1;
    if let Ok(v) = parse_vary(text, log) {
        assert!(!v.values.is_empty() && v.values.len() <= 1000, "{} values", v.values.len());
    }
    let _ = SweepSpec::parse(text);
});
