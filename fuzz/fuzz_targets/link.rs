//! The playground's link decoder (`web/src/share.rs`, compiled in here: it is pure Rust over the
//! core), and the link it writes back must read the same.
#![no_main]

#[allow(dead_code, missing_docs)]
#[path = "../../web/src/share.rs"]
mod share;

/// What `share.rs` needs of `web/src/race.rs` (which needs the whole app): its lane count, as it
/// is there. If `share.rs` comes to need more, this target stops building: add it here.
mod race {
    /// Lanes a race shows (`web/src/race.rs`).
    pub const LANES: std::ops::RangeInclusive<usize> = 2..=4;
}

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    if let Ok(state) = share::ShareState::from_query(text) {
        let again = share::ShareState::from_query(&state.to_query()).expect("a link this build wrote reads back");
        assert_eq!(again, state);
    }
});
