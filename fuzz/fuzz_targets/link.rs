//! The playground's link decoder (`livemig_core::share`, which the web crate re-exports), and the
//! link it writes back must read the same.
#![no_main]

use livemig_core::share::ShareState;

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    if let Ok(state) = ShareState::from_query(text) {
        let again = ShareState::from_query(&state.to_query()).expect("a link this build wrote reads back");
        assert_eq!(again, state);
    }
});
