//! One host's memory as a grid of cells, drawn into a canvas one pixel per cell (`ImageData`)
//! and scaled up by CSS, so a 1 GiB VM (262,144 pages) costs one pass over its page states.

use crate::app::Loaded;
use crate::playback::{CellKind, Grid, Side, VmAt};
use std::rc::Rc;
use wasm_bindgen::{Clamped, JsCast};
use yew::prelude::*;

/// Cells a grid has at most: larger VMs group several pages per cell.
pub const MAX_CELLS: u64 = 32_768;

/// Props of [`HostGrid`].
#[derive(Properties, PartialEq)]
pub struct GridProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Which host.
    pub side: Side,
    /// Redraw when this changes.
    pub tick: u64,
}

/// A host panel: title, page grid and legend.
#[component]
pub fn HostGrid(props: &GridProps) -> Html {
    let canvas = use_node_ref();
    let pixels = use_mut_ref(Vec::<u8>::new);
    let grid = Grid::new(props.loaded.playback.borrow().trace().page_count, MAX_CELLS);
    {
        let canvas = canvas.clone();
        let loaded = props.loaded.clone();
        let side = props.side;
        use_effect_with((props.tick, Rc::as_ptr(&props.loaded)), move |_| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                let mut px = pixels.borrow_mut();
                loaded.playback.borrow().paint(side, &grid, &mut px);
                if let Some(ctx) = c.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok()) {
                    if let Ok(img) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&px[..]), grid.cols, grid.rows) {
                        let _ = ctx.put_image_data(&img, 0.0, 0.0);
                    }
                }
            }
        });
    }
    let (title, kinds, testid): (&str, &[CellKind], &str) = match props.side {
        Side::Source => ("Source host", &CellKind::SOURCE, "grid-source"),
        Side::Destination => ("Destination host", &CellKind::DEST, "grid-destination"),
    };
    let vm_at = props.loaded.playback.borrow().vm_at();
    let running_here = match (props.side, vm_at) {
        (Side::Source, VmAt::Source) | (Side::Destination, VmAt::Destination) => "VM running here",
        (_, VmAt::Paused) => "VM paused",
        _ => "",
    };
    let counts = props.loaded.playback.borrow().counts(props.side);
    let ppc = grid.pages_per_cell;
    let cell_note = if ppc == 1 { "1 cell = 1 page".to_string() } else { format!("1 cell = {ppc} pages") };
    html! {
        <figure class="host" data-testid={testid}>
            <figcaption><strong>{title}</strong>{" "}<span class="badge">{running_here}</span></figcaption>
            <canvas ref={canvas} class="grid" width={grid.cols.to_string()} height={grid.rows.to_string()}
                style={format!("aspect-ratio: {} / {}", grid.cols, grid.rows)}
                role="img" aria-label={format!("{title} memory, {cell_note}")} />
            <ul class="legend">
                { for kinds.iter().map(|k| {
                    let n = counts.iter().find(|(c, _)| c == k).map_or(0, |c| c.1);
                    html! { <li><span class="swatch" style={format!("background:{}", k.css())}></span>{format!("{} ({n})", k.label())}</li> }
                }) }
            </ul>
            <p class="cell-note" data-testid={format!("{testid}-cells")}>{cell_note}</p>
        </figure>
    }
}
