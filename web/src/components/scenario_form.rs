//! The scenario form: preset, algorithm and its parameters, VM, workload, content mix and link.
//!
//! Every field is a `path=value` change to the scenario, exactly as `livemig --set`, so the form,
//! the link and the CLI share one syntax and one validator (the core's). Each field shows its unit
//! and accepted range; an invalid value shows the core's message under the field and nothing runs.

use crate::share::{ScenarioSource, ShareState};
use livemig_core::algorithms::{self, ParamKind};
use livemig_core::scenario::ScenarioError;
use livemig_core::Scenario;
use std::collections::BTreeMap;
use yew::prelude::*;

/// A scenario field the form offers: path, label, unit/range hint.
struct FieldSpec {
    path: &'static str,
    label: &'static str,
    hint: &'static str,
    choices: &'static [&'static str],
}

const fn field(path: &'static str, label: &'static str, hint: &'static str) -> FieldSpec {
    FieldSpec { path, label, hint, choices: &[] }
}

const VM_FIELDS: &[FieldSpec] = &[
    field("vm.memory", "memory", "size, e.g. 1 GiB; one page to 256 GiB (animated up to 64 GiB)"),
    field("vm.page_size", "page size", "a power of two from 512 B to 2 MiB"),
    field("vm.state_size", "CPU/device state", "size, 0 B to 1 GiB"),
];
const WORKLOAD_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        path: "workload.pattern",
        label: "pattern",
        hint: "where the guest writes",
        choices: &["idle", "uniform", "hot-cold", "sequential"],
    },
    field("workload.write_rate", "write rate", "pages/s, 0 to 1e9"),
    field("workload.read_rate", "read rate", "pages/s, 0 to 1e9"),
    field("workload.working_set", "working set", "size, up to the VM's memory (empty: all of it)"),
    field("workload.hot_fraction", "hot fraction", "fraction of the working set that is hot, 0 to 1"),
    field("workload.hot_probability", "hot probability", "fraction of accesses to the hot part, 0 to 1"),
];
const CONTENT_FIELDS: &[FieldSpec] = &[
    field("vm.content.zero", "zero pages", "fraction 0 to 1; the four add up to 1"),
    field("vm.content.text", "text-like", "fraction 0 to 1"),
    field("vm.content.structured", "structured", "fraction 0 to 1"),
    field("vm.content.random", "random", "fraction 0 to 1"),
];
const LINK_FIELDS: &[FieldSpec] = &[
    field("link.bandwidth", "bandwidth", "e.g. 1 Gbit/s; more than 0, up to 10 Tbit/s"),
    field("link.latency", "latency", "one-way, e.g. 0.1 ms; 0 s to 10 s"),
    field("migration.timeout", "timeout", "give up after, 1 ms to 10,000,000 s"),
];

/// The value at a dotted path of a JSON tree, as the form shows it.
fn value_at(tree: &serde_json::Value, path: &str) -> String {
    let mut node = tree;
    for part in path.split('.') {
        match node.get(part) {
            Some(n) => node = n,
            None => return String::new(),
        }
    }
    match node {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The scenario with `edits` applied, or the field and message of the first problem.
fn try_edits(share: &ShareState, edits: &BTreeMap<String, String>) -> Result<ShareState, (String, String)> {
    let mut next = share.clone();
    for (path, value) in edits {
        next.overrides.retain(|o| o.split_once('=').map(|(k, _)| k.trim()) != Some(path.as_str()));
        next.overrides.push(format!("{path}={value}"));
    }
    next.step = None;
    match next.scenario() {
        Ok(_) => Ok(next),
        Err(e) => {
            // Find which field the core complained about by re-running the parse for its error.
            let field = base_scenario(&next)
                .and_then(|s| s.with_overrides(&next.overrides).and_then(|s| s.validate().map(|_| s)).err())
                .map(|e| match e {
                    ScenarioError::Field { field, .. } => field,
                    ScenarioError::Override(o) => o.split_once('=').map_or(o.clone(), |(k, _)| k.to_string()),
                    ScenarioError::Syntax { .. } => String::new(),
                })
                .unwrap_or_default();
            Err((field, e.message))
        }
    }
}

fn base_scenario(share: &ShareState) -> Option<Scenario> {
    match &share.source {
        ScenarioSource::Preset(p) => livemig_core::presets::preset(p)?.ok(),
        ScenarioSource::Inline(t) => Scenario::from_toml_str(t).ok(),
    }
}

fn accepted(kind: &ParamKind) -> String {
    kind.accepted()
}

/// Props of [`ScenarioForm`].
#[derive(Properties, PartialEq)]
pub struct FormProps {
    /// Current state.
    pub share: ShareState,
    /// Apply a new state (runs it).
    pub set_share: Callback<ShareState>,
}

/// The scenario form.
#[component]
pub fn ScenarioForm(props: &FormProps) -> Html {
    let edits = use_state(BTreeMap::<String, String>::new);
    {
        // A new scenario (preset, link, lesson) drops unsaved edits.
        let edits = edits.clone();
        use_effect_with((props.share.source.clone(), props.share.overrides.clone(), props.share.algorithm.clone()), move |_| {
            edits.set(BTreeMap::new())
        });
    }
    let scenario = props.share.scenario().ok().or_else(|| base_scenario(&props.share));
    let tree = scenario.as_ref().and_then(|s| serde_json::to_value(s).ok()).unwrap_or_default();
    let checked = try_edits(&props.share, &edits);
    let (error_field, error_message) = match &checked {
        Err((f, m)) => (f.clone(), m.clone()),
        Ok(_) => (String::new(), String::new()),
    };
    let algorithm = scenario.as_ref().map(|s| s.migration.algorithm.clone()).unwrap_or_default();
    let info = algorithms::find(&algorithm);

    let input = |path: String, label: &str, hint: &str, choices: &[&str], current: String, disabled: bool| {
        let edits_h = edits.clone();
        let shown = edits.get(&path).cloned().unwrap_or(current);
        let p2 = path.clone();
        let oninput = Callback::from(move |e: InputEvent| {
            let v: web_sys::HtmlInputElement = e.target_unchecked_into();
            let mut m = (*edits_h).clone();
            m.insert(p2.clone(), v.value());
            edits_h.set(m);
        });
        let edits_h = edits.clone();
        let p3 = path.clone();
        let onchange_select = Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let mut m = (*edits_h).clone();
            m.insert(p3.clone(), v.value());
            edits_h.set(m);
        });
        let invalid = error_field == path;
        let id = format!("f-{}", path.replace('.', "-"));
        let control = if choices.is_empty() {
            html! { <input id={id.clone()} type="text" value={shown} {oninput} disabled={disabled} aria-invalid={invalid.to_string()}
            data-testid={id.clone()} aria-describedby={format!("{id}-hint")} /> }
        } else {
            html! { <select id={id.clone()} onchange={onchange_select} disabled={disabled} data-testid={id.clone()}>
                { for choices.iter().map(|c| html! { <option value={c.to_string()} selected={*c == shown}>{c.to_string()}</option> }) }
            </select> }
        };
        html! {
            <div class={classes!("field", invalid.then_some("invalid"))}>
                <label for={id.clone()}>{label.to_string()}</label>
                { control }
                <small id={format!("{id}-hint")} class="hint">{hint.to_string()}</small>
                { if invalid { html! { <small class="error" role="alert" data-testid="field-error">{error_message.clone()}</small> } } else { html! {} } }
            </div>
        }
    };
    let group = |title: &str, fields: &[FieldSpec]| {
        html! {
            <details class="group" open={fields.iter().any(|f| f.path == error_field)}>
                <summary>{title.to_string()}</summary>
                { for fields.iter().map(|f| input(f.path.to_string(), f.label, f.hint, f.choices, value_at(&tree, f.path), false)) }
            </details>
        }
    };
    let params = info.map(|info| {
        let fixed: Vec<&str> = info.fixed.iter().map(|f| f.0).collect();
        html! {
            <details class="group" open={error_field.starts_with("params.")}>
                <summary>{format!("{} parameters", info.name)}</summary>
                <p class="muted small">{info.summary}<br/><em>{info.paper}</em></p>
                { for info.sections().flat_map(|(section, specs)| specs.iter().map(move |s| (section, s))).map(|(section, spec)| {
                    let path = format!("params.{section}.{}", spec.name);
                    let fixed_value = info.fixed.iter().find(|f| f.0 == spec.name).map(|f| f.1.to_string());
                    let current = fixed_value.clone().unwrap_or_else(|| {
                        let v = value_at(&tree, &path);
                        if v.is_empty() { spec.default.to_string() } else { v }
                    });
                    let choices: &[&str] = match spec.kind { ParamKind::Choice(c) => c, ParamKind::Bool => &["true", "false"], _ => &[] };
                    let hint = format!("{}; {}", spec.help, accepted(&spec.kind));
                    input(path, spec.name, &hint, choices, current, fixed.contains(&spec.name))
                }) }
            </details>
        }
    });

    let run = {
        let set_share = props.set_share.clone();
        let checked = checked.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Ok(next) = &checked {
                set_share.emit(next.clone());
            }
        })
    };
    let on_preset = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let next = ShareState {
                source: ScenarioSource::Preset(v.value()),
                overrides: vec![],
                algorithm: None,
                seed: None,
                step: None,
                ..share.clone()
            };
            set_share.emit(next);
        })
    };
    let on_algorithm = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlSelectElement = e.target_unchecked_into();
            set_share.emit(ShareState { algorithm: Some(v.value()), step: None, ..share.clone() });
        })
    };
    let on_seed = {
        let share = props.share.clone();
        let set_share = props.set_share.clone();
        Callback::from(move |e: Event| {
            let v: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(seed) = v.value().trim().parse::<u64>() {
                set_share.emit(ShareState { seed: Some(seed), step: None, ..share.clone() });
            }
        })
    };
    let preset_name = match &props.share.source {
        ScenarioSource::Preset(p) => p.clone(),
        ScenarioSource::Inline(_) => String::new(),
    };
    let description = scenario.as_ref().map(|s| s.description.clone()).unwrap_or_default();
    let seed = scenario.as_ref().map_or(0, |s| s.seed);
    let dirty = !edits.is_empty();
    html! {
        <form class="scenario" onsubmit={run} aria-label="scenario">
            <div class="field">
                <label for="preset">{"Preset"}</label>
                <select id="preset" onchange={on_preset} data-testid="preset">
                    { if preset_name.is_empty() { html! { <option selected=true value="">{"(custom scenario)"}</option> } } else { html! {} } }
                    { for livemig_core::presets::PRESETS.iter().map(|(n, _)| html! { <option value={n.to_string()} selected={*n == preset_name}>{n.to_string()}</option> }) }
                </select>
                <small class="hint">{description}</small>
            </div>
            <div class="field">
                <label for="algorithm">{"Algorithm"}</label>
                <select id="algorithm" onchange={on_algorithm} data-testid="algorithm">
                    { for algorithms::registry().iter().map(|a| html! { <option value={a.name} selected={a.name == algorithm} title={a.summary}>{format!("{} ({})", a.name, a.family)}</option> }) }
                </select>
            </div>
            <div class="field">
                <label for="seed">{"Seed"}</label>
                <input id="seed" type="number" min="0" value={seed.to_string()} onchange={on_seed} data-testid="seed" />
                <small class="hint">{"same seed, same run: a whole number"}</small>
            </div>
            { for params }
            { group("VM", VM_FIELDS) }
            { group("Workload", WORKLOAD_FIELDS) }
            { group("Content mix", CONTENT_FIELDS) }
            { group("Link", LINK_FIELDS) }
            { if !error_message.is_empty() && !error_field.is_empty() && dirty { html! {} } else if !error_message.is_empty() {
                html! { <p class="error" role="alert" data-testid="form-error">{error_message.clone()}</p> } } else { html! {} } }
            <div class="actions">
                <button type="submit" class="primary" disabled={checked.is_err() || !dirty} data-testid="run">{"Run with these values"}</button>
                <button type="button" disabled={!dirty} onclick={{ let edits = edits.clone(); Callback::from(move |_| edits.set(BTreeMap::new())) }}>{"Discard edits"}</button>
            </div>
        </form>
    }
}
