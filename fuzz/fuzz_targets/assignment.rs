//! The assignment parser (`core/src/assignment.rs`), with no scenario files to load.
#![no_main]

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let no_files = |path: &str| Err(format!("{path}: no files while fuzzing"));
    if let Ok(a) = livemig_core::assignment::Assignment::from_toml_str(text, "fuzz.toml", &no_files) {
        let _ = (a.max_points(), a.answers_template());
    }
});
