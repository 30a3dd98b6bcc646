//! The playground's state as plain Rust: for each stateful view, a state, the actions that
//! change it and one `reduce` function from a state and an action to the next state. No yew or
//! browser types, so each is unit-tested natively; the components hold them with yew's
//! `use_reducer` (the `Reducible` impls are beside the components).

pub mod batch;
pub mod compare;
pub mod player;
pub mod sweep;
