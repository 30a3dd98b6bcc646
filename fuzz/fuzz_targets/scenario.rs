//! The scenario parser: TOML and JSON scenario files, then validation; a valid scenario written
//! back as TOML must parse again.
#![no_main]
use livemig_core::Scenario;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    for s in [Scenario::from_toml_str(text), Scenario::from_json_str(text)].into_iter().flatten() {
        if s.validate().is_ok() {
            // What every run computes first.
            let _ = (s.page_count(), s.used_pages());
            let again = Scenario::from_toml_str(&s.to_toml());
            assert!(again.is_ok(), "{:?}\n{}", again.err(), s.to_toml());
        }
    }
});
