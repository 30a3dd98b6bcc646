//! A legend square: a page state's colour with its mark, drawn as the grids draw it.

use crate::page_marks;
use crate::playback::CellKind;
use yew::prelude::*;

/// Props of [`Swatch`].
#[derive(Properties, PartialEq)]
pub struct SwatchProps {
    /// The state shown.
    pub kind: CellKind,
}

/// A legend square: the state's colour with its mark, as the grid draws it.
#[component]
pub fn Swatch(props: &SwatchProps) -> Html {
    const SIZE: u32 = 14;
    let k = props.kind;
    let [r, g, b] = page_marks::ink(k);
    let ink = format!("rgb({r},{g},{b})");
    html! {
        <svg class="swatch" width={SIZE.to_string()} height={SIZE.to_string()} viewBox={format!("0 0 {SIZE} {SIZE}")} aria-hidden="true" focusable="false">
            <rect width={SIZE.to_string()} height={SIZE.to_string()} fill={k.css()} />
            { for page_marks::swatch_rects(k, SIZE).into_iter().map(|(x, y, w)| html! {
                <rect x={x.to_string()} y={y.to_string()} width={w.to_string()} height="1" fill={ink.clone()} />
            }) }
        </svg>
    }
}
