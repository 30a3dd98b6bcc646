//! The playground's shareable link: its whole state in a versioned URL query (the web crate
//! re-exports this module as `livemig_web::share`; it is pure, so it is here, where the fuzz
//! target and the native tests read it too).
//!
//! ```text
//! ?v=1&preset=web-server&alg=postcopy-bubbling&seed=7&set=link.bandwidth=10Gbit/s&step=120
//! ```
//!
//! * `v`: format version (this build reads and writes [`SHARE_VERSION`]); a link without `v` is
//!   read as the current version;
//! * `preset`: a core preset, or `scenario`: a whole scenario as base64url TOML (for scenarios
//!   opened from a file);
//! * `set` (repeatable): a change to the scenario, `path=value`, exactly as `livemig --set`;
//! * `alg`: the algorithm; `seed`: the seed; `step`: how far the run has been played (effects);
//! * `view`: `play`, `compare`, `sweep`, `lessons`, `assignments` or `race`; `cmp`: algorithms
//!   compared or raced (comma separated; a race takes 2 to 4); `lesson`: a lesson id; `sweep`: a
//!   sweep ([`crate::sweep::spec::SweepSpec`]); `assignment`: a bundled assignment's name, or the URL of an assignment file to fetch;
//! * `present`: `1` opens presentation mode (the hosts and the link fill the screen), `0` or
//!   absent does not.
//!
//! A bad `view` or `present` is not fatal: [`ShareState::from_query_lenient`] keeps the rest of
//! the link, uses the default for that parameter and returns the error for one message.
//!
//! A link always reproduces the same run: the simulation is deterministic for a seed.

use crate::Scenario;
use base64::Engine;

/// The version this build writes.
pub const SHARE_VERSION: u32 = 1;

/// Lanes a race has at least and at most (a link's `cmp` with `view=race`).
pub const RACE_LANES: std::ops::RangeInclusive<usize> = 2..=4;

/// The URL parameters this build reads.
pub const KEYS: &[&str] =
    &["v", "preset", "scenario", "set", "alg", "seed", "step", "view", "cmp", "lesson", "sweep", "assignment", "present"];

/// Where the scenario comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioSource {
    /// A core preset by name.
    Preset(String),
    /// A scenario's TOML text.
    Inline(String),
}

/// Which view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// The animated migration.
    #[default]
    Play,
    /// Several algorithms on the same scenario.
    Compare,
    /// One parameter varied.
    Sweep,
    /// Guided lessons.
    Lessons,
    /// Classroom assignments.
    Assignments,
    /// Two to four algorithms animated side by side on one clock.
    Race,
}

impl View {
    /// All views with their URL names.
    pub const ALL: [(View, &'static str); 6] = [
        (View::Play, "play"),
        (View::Compare, "compare"),
        (View::Sweep, "sweep"),
        (View::Lessons, "lessons"),
        (View::Assignments, "assignments"),
        (View::Race, "race"),
    ];
    /// URL name.
    pub fn name(self) -> &'static str {
        View::ALL.iter().find(|(v, _)| *v == self).map_or("play", |(_, n)| n)
    }
}

/// Everything a link carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareState {
    /// The scenario's origin.
    pub source: ScenarioSource,
    /// `path=value` changes applied to it, in order.
    pub overrides: Vec<String>,
    /// Algorithm (else the scenario's own).
    pub algorithm: Option<String>,
    /// Seed (else the scenario's own).
    pub seed: Option<u64>,
    /// Effects played.
    pub step: Option<usize>,
    /// View shown.
    pub view: View,
    /// Algorithms in the comparison.
    pub compare: Vec<String>,
    /// Lesson open.
    pub lesson: Option<String>,
    /// Sweep description `path=from..to:steps` (older links: `/steps`) (the sweep view's parameter).
    pub sweep: Option<String>,
    /// Assignment open: a bundled name, or a URL to fetch.
    pub assignment: Option<String>,
    /// Presentation mode: the hosts and the link fill the screen, the form and export hide.
    pub present: bool,
}

impl Default for ShareState {
    fn default() -> Self {
        ShareState {
            source: ScenarioSource::Preset("web-server".into()),
            overrides: Vec::new(),
            algorithm: None,
            seed: None,
            step: None,
            view: View::Play,
            compare: Vec::new(),
            lesson: None,
            sweep: None,
            assignment: None,
            present: false,
        }
    }
}

/// A link that cannot be read; the message names the URL parameter and what it accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("link parameter `{key}`: {message}")]
pub struct ShareError {
    /// The URL parameter.
    pub key: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

fn bad(key: &str, message: impl Into<String>) -> ShareError {
    ShareError { key: key.into(), message: message.into() }
}

impl ShareError {
    /// What the playground shows instead, for the parameters it can fall back on alone.
    pub fn fallback(&self) -> &'static str {
        match self.key.as_str() {
            "view" => "Showing the Play view instead.",
            "present" => "Showing the run without presentation mode.",
            "cmp" => "Racing the first four.",
            _ => "Showing the default scenario instead.",
        }
    }
}

impl ShareState {
    /// Reads a query string (with or without the leading `?`); any bad parameter is an error.
    pub fn from_query(query: &str) -> Result<ShareState, ShareError> {
        let (s, soft) = ShareState::from_query_lenient(query)?;
        match soft.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(s),
        }
    }

    /// Reads a query string, falling back on the default for a bad `view` or `present` alone:
    /// those errors are returned beside the state (the rest of the link is kept). Any other bad
    /// parameter is an error for the whole link.
    pub fn from_query_lenient(query: &str) -> Result<(ShareState, Vec<ShareError>), ShareError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut s = ShareState::default();
        let mut soft = Vec::new();
        let mut source: Option<ScenarioSource> = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "v" => match value.parse::<u32>() {
                    Ok(SHARE_VERSION) => {}
                    _ => return Err(bad("v", format!("'{value}' is not supported: this playground reads v={SHARE_VERSION}"))),
                },
                "preset" => {
                    if crate::presets::preset_text(&value).is_none() {
                        let names: Vec<_> = crate::presets::PRESETS.iter().map(|p| p.0).collect();
                        return Err(bad("preset", format!("unknown preset '{value}': accepted {}", names.join(", "))));
                    }
                    if source.is_some() {
                        return Err(bad("preset", "give either `preset` or `scenario`, once"));
                    }
                    source = Some(ScenarioSource::Preset(value));
                }
                "scenario" => {
                    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(value.trim_end_matches('='))
                        .map_err(|e| bad("scenario", format!("not base64url: {e}")))?;
                    let text = String::from_utf8(bytes).map_err(|_| bad("scenario", "not UTF-8 text"))?;
                    if source.is_some() {
                        return Err(bad("scenario", "give either `preset` or `scenario`, once"));
                    }
                    source = Some(ScenarioSource::Inline(text));
                }
                "set" => {
                    if !value.contains('=') {
                        return Err(bad("set", format!("'{value}' is not path=value (e.g. link.bandwidth=10Gbit/s)")));
                    }
                    s.overrides.push(value);
                }
                "alg" => {
                    if crate::algorithms::find(&value).is_none() {
                        return Err(bad("alg", format!("unknown algorithm '{value}': accepted {}", crate::algorithms::names().join(", "))));
                    }
                    s.algorithm = Some(value);
                }
                "seed" => {
                    s.seed = Some(value.parse().map_err(|_| bad("seed", format!("'{value}' is not a whole number in 0..={}", u64::MAX)))?)
                }
                "step" => {
                    s.step = Some(value.parse().map_err(|_| bad("step", format!("'{value}' is not a whole number of steps (0 or more)")))?)
                }
                "view" => match View::ALL.iter().find(|(_, n)| *n == value) {
                    Some(&(v, _)) => s.view = v,
                    None => soft.push(bad("view", format!("unknown view '{value}': accepted {}", View::ALL.map(|(_, n)| n).join(", ")))),
                },
                "present" => match value.as_str() {
                    "1" => s.present = true,
                    "0" => s.present = false,
                    _ => soft.push(bad("present", format!("'{value}' is not 1 (presentation mode) or 0"))),
                },
                "cmp" => {
                    s.compare = value.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect();
                    if let Some(a) = s.compare.iter().find(|a| crate::algorithms::find(a).is_none()) {
                        return Err(bad("cmp", format!("unknown algorithm '{a}': accepted {}", crate::algorithms::names().join(", "))));
                    }
                }
                "lesson" => s.lesson = Some(value),
                "sweep" => s.sweep = Some(value),
                "assignment" => s.assignment = Some(value),
                other => return Err(bad(other, format!("unknown link parameter: accepted {}", KEYS.join(", ")))),
            }
        }
        if let Some(src) = source {
            s.source = src;
        }
        if s.view == View::Race && s.compare.len() > *RACE_LANES.end() {
            let n = s.compare.len();
            soft.push(bad("cmp", format!("a race takes 2 to 4 algorithms, this link names {n}")));
            s.compare.truncate(*RACE_LANES.end());
        }
        // Check the scenario now, so a bad link says so before anything runs.
        s.scenario()?;
        Ok((s, soft))
    }

    /// Writes the query string (starting with `?`).
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::from("?"));
        q.append_pair("v", &SHARE_VERSION.to_string());
        match &self.source {
            ScenarioSource::Preset(p) => q.append_pair("preset", p),
            ScenarioSource::Inline(text) => q.append_pair("scenario", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)),
        };
        for o in &self.overrides {
            q.append_pair("set", o);
        }
        if let Some(a) = &self.algorithm {
            q.append_pair("alg", a);
        }
        if let Some(seed) = self.seed {
            q.append_pair("seed", &seed.to_string());
        }
        if self.view != View::Play {
            q.append_pair("view", self.view.name());
        }
        if !self.compare.is_empty() {
            q.append_pair("cmp", &self.compare.join(","));
        }
        if let Some(l) = &self.lesson {
            q.append_pair("lesson", l);
        }
        if let Some(sw) = &self.sweep {
            q.append_pair("sweep", sw);
        }
        if let Some(a) = &self.assignment {
            q.append_pair("assignment", a);
        }
        if self.present {
            q.append_pair("present", "1");
        }
        if let Some(step) = self.step {
            q.append_pair("step", &step.to_string());
        }
        // `form_urlencoded` adds '&' before the first pair too; a leading "?&" is legal but ugly.
        q.finish().replacen("?&", "?", 1)
    }

    /// The scenario this state describes: source, then overrides, then algorithm and seed; validated.
    pub fn scenario(&self) -> Result<Scenario, ShareError> {
        let (key, base) = match &self.source {
            ScenarioSource::Preset(name) => (
                "preset",
                crate::presets::preset(name)
                    .ok_or_else(|| bad("preset", format!("unknown preset '{name}'")))?
                    .map_err(|e| bad("preset", e.to_string()))?,
            ),
            ScenarioSource::Inline(text) => ("scenario", Scenario::from_toml_str(text).map_err(|e| bad("scenario", e.to_string()))?),
        };
        let mut s =
            if self.overrides.is_empty() { base } else { base.with_overrides(&self.overrides).map_err(|e| bad("set", e.to_string()))? };
        if let Some(a) = &self.algorithm {
            s.migration.algorithm = a.clone();
        }
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        s.validate().map_err(|e| bad(if self.overrides.is_empty() { key } else { "set" }, e.to_string()))?;
        if crate::algorithms::find(&s.migration.algorithm).is_none() {
            return Err(bad("alg", format!("unknown algorithm '{}'", s.migration.algorithm)));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_round_trips() {
        let s = ShareState {
            source: ScenarioSource::Preset("slow-wan".into()),
            overrides: vec!["link.bandwidth=10 Gbit/s".into(), "vm.memory=2GiB".into()],
            algorithm: Some("postcopy-bubbling".into()),
            seed: Some(42),
            step: Some(17),
            view: View::Compare,
            compare: vec!["precopy-xen".into(), "tsmc".into()],
            lesson: None,
            sweep: Some("link.bandwidth=0.1..10Gbit/s/8".into()),
            assignment: Some("tsmc-data-sent".into()),
            present: true,
        };
        let q = s.to_query();
        assert!(q.starts_with("?v=1&preset=slow-wan&"), "{q}");
        assert_eq!(ShareState::from_query(&q).unwrap(), s);
    }

    #[test]
    fn an_inline_scenario_round_trips() {
        let text = crate::presets::preset_text("idle-vm").unwrap().to_string();
        let s = ShareState { source: ScenarioSource::Inline(text), ..ShareState::default() };
        let back = ShareState::from_query(&s.to_query()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.scenario().unwrap(), s.scenario().unwrap());
    }

    #[test]
    fn the_link_decides_the_scenario() {
        let s = ShareState::from_query("?v=1&preset=idle-vm&alg=tsmc&seed=9&set=link.bandwidth%3D10Gbit%2Fs").unwrap();
        let sc = s.scenario().unwrap();
        assert_eq!(sc.seed, 9);
        assert_eq!(sc.migration.algorithm, "tsmc");
        assert_eq!(sc.link.bandwidth.0, 10e9 / 8.0);
        // No `v`: the current version; no query at all: the default.
        assert_eq!(ShareState::from_query("preset=idle-vm").unwrap().source, ScenarioSource::Preset("idle-vm".into()));
        assert_eq!(ShareState::from_query("").unwrap(), ShareState::default());
    }

    #[test]
    fn bad_links_name_the_parameter_and_what_is_accepted() {
        let cases = [
            ("?v=2", "v", "v=1"),
            ("?preset=nope", "preset", "web-server"),
            ("?alg=quantum", "alg", "precopy-xen"),
            ("?seed=-3", "seed", "whole number"),
            ("?step=x", "step", "whole number"),
            ("?view=3d", "view", "compare"),
            ("?cmp=precopy,bogus", "cmp", "bogus"),
            ("?set=vm.memory", "set", "path=value"),
            ("?set=vm.memory%3D-5GiB", "set", "vm.memory"),
            ("?set=link.bandwidth%3D0Gbit%2Fs", "set", "bandwidth"),
            ("?scenario=%%%", "scenario", "base64"),
            ("?scenario=bm90IHRvbWw", "scenario", ""),
            ("?colour=red", "colour", "accepted v, preset"),
            ("?preset=idle-vm&preset=web-server", "preset", "once"),
            ("?present=yes", "present", "not 1"),
        ];
        for (q, key, needle) in cases {
            let e = ShareState::from_query(q).unwrap_err();
            assert_eq!(e.key, key, "{q}: {e}");
            assert!(e.to_string().contains(needle), "{q}: {e}");
        }
    }

    /// The cases of `web/browser-tests/tests/bad-links.test.mjs`, natively, with the whole
    /// message the page shows (the banner's text is this error's).
    #[test]
    fn the_browser_tests_bad_links_give_these_messages() {
        let presets = crate::presets::PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
        let algorithms = crate::algorithms::names().join(", ");
        let cases = [
            ("?v=1&preset=nope", format!("link parameter `preset`: unknown preset 'nope': accepted {presets}")),
            ("?alg=quantum", format!("link parameter `alg`: unknown algorithm 'quantum': accepted {algorithms}")),
            ("?seed=-1", "link parameter `seed`: '-1' is not a whole number in 0..=18446744073709551615".to_string()),
            ("?v=2", "link parameter `v`: '2' is not supported: this playground reads v=1".to_string()),
            (
                "?v=1&preset=idle-vm&set=vm.memory%3D-5GiB",
                "link parameter `set`: vm.memory: '-5GiB' is not a size: expected a size such as \"4096\", \"64 B\", \"4 KiB\", \
                 \"1 GiB\" or \"1.5 GB\""
                    .to_string(),
            ),
        ];
        for (query, message) in cases {
            let e = ShareState::from_query(query).unwrap_err();
            assert_eq!(e.to_string(), message, "{query}");
            assert_eq!(e.fallback(), "Showing the default scenario instead.", "{query}");
            // Lenient reading rejects them too: none is a view or present.
            assert_eq!(ShareState::from_query_lenient(query).unwrap_err(), e, "{query}");
        }
        assert!(algorithms.contains("precopy-xen") && presets.contains("web-server"));
    }

    /// `web/browser-tests/tests/share-link.test.mjs`: the link the page keeps in the address bar
    /// while paused (with `step=`, written last) reads back as the same state.
    #[test]
    fn the_browser_tests_shared_link_reads_back() {
        let query = "?v=1&preset=web-server&alg=precopy-xen&seed=5";
        let mut s = ShareState::from_query(query).unwrap();
        assert_eq!(s.to_query(), query);
        s.step = Some(42);
        let shared = s.to_query();
        assert_eq!(shared, "?v=1&preset=web-server&alg=precopy-xen&seed=5&step=42");
        assert_eq!(ShareState::from_query(&shared).unwrap(), s);
        let sc = s.scenario().unwrap();
        assert_eq!((sc.name.as_str(), sc.migration.algorithm.as_str(), sc.seed), ("web-server", "precopy-xen", 5));
    }

    #[test]
    fn a_bad_view_or_present_falls_back_alone() {
        let (s, soft) = ShareState::from_query_lenient("?preset=idle-vm&alg=tsmc&view=3d&present=2").unwrap();
        assert_eq!(s.source, ScenarioSource::Preset("idle-vm".into()));
        assert_eq!(s.algorithm.as_deref(), Some("tsmc"));
        assert_eq!((s.view, s.present), (View::Play, false));
        assert_eq!(soft.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["view", "present"]);
        assert!(soft[1].fallback().contains("without presentation"));
        let (s, soft) = ShareState::from_query_lenient("?present=1&view=lessons").unwrap();
        assert!(s.present && soft.is_empty() && s.view == View::Lessons);
        assert!(s.to_query().contains("present=1"));
        let (s, soft) = ShareState::from_query_lenient("?view=race&cmp=precopy-xen,tsmc,mecom,delta,hybrid").unwrap();
        assert_eq!((s.view, s.compare.len(), soft[0].key.as_str()), (View::Race, 4, "cmp"));
        assert_eq!(soft[0].to_string(), "link parameter `cmp`: a race takes 2 to 4 algorithms, this link names 5");
        assert_eq!(soft[0].fallback(), "Racing the first four.");
        // Any other bad parameter still rejects the whole link.
        assert_eq!(ShareState::from_query_lenient("?present=1&seed=x").unwrap_err().key, "seed");
    }
}
