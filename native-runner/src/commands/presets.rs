//! `livemig presets [NAME]`: the shipped scenarios, or one of them as TOML.

use crate::input::bad;
use crate::output::print;
use livemig_core::presets::{preset, preset_text, PRESETS};

/// Lists the presets with their descriptions, or prints the one called `name`.
pub fn run(name: Option<&str>) -> anyhow::Result<()> {
    let Some(name) = name else {
        let mut text = String::new();
        for (name, _) in PRESETS {
            let s = preset(name).expect("listed").expect("presets are valid");
            text += &format!("{:<20} {}\n", name, s.description);
        }
        return print(&text);
    };
    match preset_text(name) {
        Some(t) => print(t),
        None => Err(bad(format!("NAME: unknown preset '{name}': accepted {}", PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")))),
    }
}
