//! The scenario parser: TOML and JSON scenario files, then validation.
#![no_main]
use livemig_core::Scenario;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    for parsed in [Scenario::from_toml_str(text), Scenario::from_json_str(text)] {
        if let Ok(s) = parsed {
            if s.validate().is_ok() {
                // What every run computes first.
                let _ = (s.page_count(), s.used_pages());
                let _ = Scenario::from_toml_str(&s.to_toml());
            }
        }
    }
});
