//! The answers-file parser (`core/src/assignment.rs`), and grading against a bundled
//! assignment's tasks without running them.
#![no_main]

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    if let Ok(a) = livemig_core::assignment::Answers::from_toml_str(text, "answers.toml") {
        let _ = livemig_core::assignment::Answers::from_toml_str(&a.to_toml(), "again.toml");
    }
});
