//! One host's memory as a grid of cells. The grid measures the box it is given (a
//! `ResizeObserver`) and picks its cell size and pages per cell from it ([`Grid::fit`]): a wide
//! projector screen gets larger cells and fewer pages per cell than a narrow panel. Cells are
//! painted into an `ImageData` at their real pixel size, each with its state's colour and mark
//! ([`crate::page_marks`]), so a 1 GiB VM (262,144 pages) costs one pass over its page states;
//! from one frame to the next only the cells whose pages changed are counted again
//! ([`crate::playback::CellCache`]), only the cells whose state changed are painted again, and
//! only the rows holding them are copied to the canvas. The page counts of the legend are computed
//! only when the legend is shown (a race shows one legend for all its lanes, without counts).

use crate::components::swatch::Swatch;
use crate::loaded::Loaded;
use crate::page_marks;
use crate::playback::{CellKind, Grid, Side, VmAt};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{Clamped, JsCast};
use yew::prelude::*;

/// Smallest and largest cell, in CSS pixels, on the normal page.
pub const CELL_PX: (u32, u32) = (3, 24);
/// Smallest and largest cell, in CSS pixels, in presentation mode (readable from the back of a room).
pub const PRESENT_CELL_PX: (u32, u32) = (6, 40);

/// Props of [`HostGrid`].
#[derive(Properties, PartialEq)]
pub struct GridProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Which host.
    pub side: Side,
    /// Redraw when this changes.
    pub tick: u64,
    /// Presentation mode (larger cells).
    #[prop_or_default]
    pub present: bool,
    /// Show the legend (a race shows one legend for every lane instead).
    #[prop_or(true)]
    pub legend: bool,
}

/// Watches `node`'s size (CSS pixels, rounded) into `size`, for as long as the component lives.
#[hook]
fn use_box_size(node: NodeRef) -> (f64, f64) {
    let size = use_state(|| (0.0f64, 0.0f64));
    {
        let size = size.clone();
        use_effect_with(node, move |node| {
            let mut observer = None;
            if let Some(el) = node.cast::<web_sys::Element>() {
                let measure = {
                    let el = el.clone();
                    let size = size.clone();
                    move || {
                        let r = el.get_bounding_client_rect();
                        let next = (r.width().floor(), r.height().floor());
                        if *size != next {
                            size.set(next);
                        }
                    }
                };
                measure();
                let cb = Closure::<dyn FnMut()>::new(measure);
                if let Ok(o) = web_sys::ResizeObserver::new(cb.as_ref().unchecked_ref()) {
                    o.observe(&el);
                    observer = Some((o, cb));
                }
            }
            move || {
                if let Some((o, _cb)) = observer {
                    o.disconnect();
                }
            }
        });
    }
    *size
}

/// A host panel: title, page grid and legend.
#[component]
pub fn HostGrid(props: &GridProps) -> Html {
    let canvas = use_node_ref();
    let frame = use_node_ref();
    let pixels = use_mut_ref(Vec::<u8>::new);
    // What the canvas shows now: the cells' states, and the grid and cell size they were painted at.
    let shown = use_mut_ref(|| (Vec::<CellKind>::new(), None::<(Grid, u32)>));
    let (width, height) = use_box_size(frame.clone());
    let (min_cell, max_cell) = if props.present { PRESENT_CELL_PX } else { CELL_PX };
    let page_count = props.loaded.playback.borrow().trace().page_count;
    let (grid, cell) = Grid::fit(page_count, width, height, min_cell, max_cell);
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let device_cell = ((f64::from(cell) * dpr).round() as u32).max(1);
    {
        let canvas = canvas.clone();
        let loaded = props.loaded.clone();
        let side = props.side;
        let pixels: Rc<RefCell<Vec<u8>>> = pixels.clone();
        let shown = shown.clone();
        use_effect_with((props.tick, Rc::as_ptr(&props.loaded), grid, device_cell), move |_| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                let mut px = pixels.borrow_mut();
                // The page states behind the cells last computed for this run and side (only the
                // cells whose pages changed are counted again).
                let cache = &loaded.cells[side as usize];
                let kinds = loaded.playback.borrow().cell_kinds_cached(side, grid.pages_per_cell, &mut cache.borrow_mut());
                let mut shown = shown.borrow_mut();
                // A new grid or cell size (the canvas was resized, and so cleared): paint it all.
                let before: &[CellKind] = if shown.1 == Some((grid, device_cell)) { &shown.0 } else { &[] };
                let rows = page_marks::repaint_cells(&kinds, before, grid.cols, grid.rows, device_cell, &mut px);
                if !rows.is_empty() {
                    if let Some(ctx) =
                        c.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
                    {
                        let row_bytes = (grid.cols * device_cell * 4) as usize;
                        let (y0, y1) = ((rows.start * device_cell) as usize, (rows.end * device_cell) as usize);
                        if let Ok(img) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
                            Clamped(&px[y0 * row_bytes..y1 * row_bytes]),
                            grid.cols * device_cell,
                            (y1 - y0) as u32,
                        ) {
                            let _ = ctx.put_image_data(&img, 0.0, y0 as f64);
                        }
                    }
                }
                *shown = (kinds, Some((grid, device_cell)));
            }
        });
    }
    let (title, testid) = match props.side {
        Side::Source => ("Source host", "grid-source"),
        Side::Destination => ("Destination host", "grid-destination"),
    };
    // In presentation mode the legend lists only the states this run shows (it has less room).
    let kinds: Vec<CellKind> = match (props.present, props.side) {
        (true, side) => props.loaded.playback.borrow().kinds_in_run(side).to_vec(),
        (false, Side::Source) => CellKind::SOURCE.to_vec(),
        (false, Side::Destination) => CellKind::DEST.to_vec(),
    };
    let vm_at = props.loaded.playback.borrow().vm_at();
    let running_here = match (props.side, vm_at) {
        (Side::Source, VmAt::Source) | (Side::Destination, VmAt::Destination) => "VM running here",
        (_, VmAt::Paused) => "VM paused",
        _ => "",
    };
    let counts = if props.legend { props.loaded.playback.borrow().counts(props.side) } else { Vec::new() };
    let ppc = grid.pages_per_cell;
    let cell_note = if ppc == 1 { "1 cell = 1 page".to_string() } else { format!("1 cell = {ppc} pages") };
    // Until the frame has been measured (or while it has no room), the canvas takes no space.
    let measured = width >= f64::from(min_cell) && height >= f64::from(min_cell);
    let (css_w, css_h) = if measured { (grid.cols * cell, grid.rows * cell) } else { (0, 0) };
    html! {
        <figure class="host" data-testid={testid}>
            <figcaption><strong>{title}</strong>{" "}<span class="badge">{running_here}</span>
                { for props.present.then(|| html! { <span class="cell-note" data-testid={format!("{testid}-cells")}>{cell_note.clone()}</span> }) }
            </figcaption>
            <div class="grid-frame" ref={frame}>
                <canvas ref={canvas} class="grid" width={(grid.cols * device_cell).to_string()} height={(grid.rows * device_cell).to_string()}
                    style={format!("width:{css_w}px;height:{css_h}px")} data-cell-px={cell.to_string()}
                    role="img" aria-label={format!("{title} memory, {cell_note}")} />
            </div>
            if props.legend {
            <ul class="legend" aria-label={format!("{title} legend")}>
                { for kinds.iter().map(|&k| {
                    let n = counts.iter().find(|(c, _)| *c == k).map_or(0, |c| c.1);
                    html! { <li><Swatch kind={k} />{format!("{}: {} ({n})", page_marks::mark_name(k), k.label())}</li> }
                }) }
            </ul>
            }
            { for (!props.present).then(|| html! { <p class="cell-note" data-testid={format!("{testid}-cells")}>{cell_note.clone()}</p> }) }
        </figure>
    }
}
