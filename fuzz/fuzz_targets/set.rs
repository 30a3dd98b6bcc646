//! `--set PATH=VALUE`: the first line picks a preset, every further line is an override (as
//! `livemig --set` and the link's `set=` apply them); each line is also read as every unit.
#![no_main]
use livemig_core::units::{Bandwidth, ByteSize, PageRate, Seconds};

livemig_fuzz::fuzz_target!(|data: &[u8]| {
    let Some(text) = livemig_fuzz::text(data) else { return };
    let mut lines = text.lines();
    let presets = livemig_core::presets::PRESETS;
    let pick = lines.next().map_or(0, |l| l.len()) % presets.len();
    let overrides: Vec<String> = lines.map(str::to_string).collect();
    for o in &overrides {
        let value = o.split_once('=').map_or(o.as_str(), |(_, v)| v);
        let _ = value.parse::<ByteSize>();
        let _ = value.parse::<Bandwidth>();
        let _ = value.parse::<Seconds>();
        let _ = value.parse::<PageRate>();
    }
    if let Some(Ok(base)) = livemig_core::presets::preset(presets[pick].0) {
        if let Ok(s) = base.with_overrides(&overrides) {
            let _ = s.validate();
        }
    }
});
