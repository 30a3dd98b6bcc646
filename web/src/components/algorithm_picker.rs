//! The algorithm picker of the compare and sweep views: checkboxes grouped by family (from the
//! core's registry), each with its chart colour, and quick choices.

use crate::colors::css_color;
use crate::state::compare::DEFAULT_SELECTION;
use livemig_core::algorithms::{self, Family};
use yew::prelude::*;

/// Props of [`AlgorithmPicker`].
#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// Algorithms chosen.
    pub selected: Vec<String>,
    /// A new choice.
    pub on_change: Callback<Vec<String>>,
}

/// Checkboxes for the algorithms, grouped by family, with quick choices.
#[component]
pub fn AlgorithmPicker(props: &PickerProps) -> Html {
    // The families in the registry's order.
    let mut families: Vec<Family> = Vec::new();
    for a in algorithms::registry() {
        if !families.contains(&a.family) {
            families.push(a.family);
        }
    }
    let toggle = |name: &'static str| {
        let selected = props.selected.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |_: Event| {
            let mut next: Vec<String> = selected.iter().filter(|s| *s != name).cloned().collect();
            if next.len() == selected.len() {
                next.push(name.to_string());
            }
            on_change
                .emit(algorithms::registry().iter().filter(|a| next.iter().any(|n| n == a.name)).map(|a| a.name.to_string()).collect());
        })
    };
    let set = |names: Vec<String>| {
        let on_change = props.on_change.clone();
        Callback::from(move |_: MouseEvent| on_change.emit(names.clone()))
    };
    html! {
        <fieldset class="picker" aria-label="algorithms">
            <legend>{format!("Algorithms ({} chosen)", props.selected.len())}</legend>
            <div class="picker-families">
            { for families.iter().map(|fam| html! {
                <div class="picker-family">
                    <span class="picker-family-name">{fam.as_str()}</span>
                    { for algorithms::registry().iter().filter(|a| a.family == *fam).map(|a| html! {
                        <label class="picker-item" title={format!("{}\n{}", a.summary, a.paper)}>
                            <input type="checkbox" checked={props.selected.iter().any(|s| s == a.name)} onchange={toggle(a.name)}
                                data-testid={format!("pick-{}", a.name)} />
                            <span class="swatch" style={format!("background:{}", css_color(a.name))}></span>
                            {a.name}
                        </label>
                    }) }
                </div>
            }) }
            </div>
            <div class="actions">
                <button type="button" onclick={set(DEFAULT_SELECTION.iter().map(|s| s.to_string()).collect())} data-testid="pick-default">{"One per paper"}</button>
                <button type="button" onclick={set(algorithms::names().iter().map(|s| s.to_string()).collect())} data-testid="pick-all">{"All"}</button>
                <button type="button" onclick={set(Vec::new())} data-testid="pick-none">{"None"}</button>
            </div>
        </fieldset>
    }
}
