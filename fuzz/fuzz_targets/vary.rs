//! `--vary KEY=FROM..TO:STEPS` (the CLI's parser, `livemig_runner::vary`) and the playground's
//! sweep form (`web/src/sweep_spec.rs`, compiled in here).
#![no_main]

#[allow(dead_code, missing_docs, unused_imports)]
#[path = "../../web/src/sweep_spec.rs"]
mod sweep_spec;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let log = text.len() % 2 == 1;
    if let Ok(v) = livemig_runner::vary::parse_vary(text, log) {
        assert!(!v.values.is_empty() && v.values.len() <= 1000, "{} values", v.values.len());
    }
    let _ = sweep_spec::SweepSpec::parse(text);
});
