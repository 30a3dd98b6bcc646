//! The network link between the hosts: batches of pages travel from left to right while they are
//! on the wire (bulk channel below, the post-copy priority channel for faulted pages above).
//! With reduced motion the batches are not animated; the link lists what is on the wire instead.

use crate::loaded::Loaded;
use crate::playback::{CellKind, Flight};
use livemig_core::context::Encoding;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The link's width and height in CSS pixels on the normal page.
pub const SIZE: (f64, f64) = (240.0, 200.0);

/// Props of [`LinkView`].
#[derive(Properties, PartialEq)]
pub struct LinkProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Redraw when this changes.
    pub tick: u64,
    /// Prefers reduced motion.
    pub reduced_motion: bool,
    /// Width in CSS pixels (else [`SIZE`]'s).
    #[prop_or_default]
    pub width: Option<f64>,
}

fn colour(f: &Flight) -> String {
    match f.encoding {
        Encoding::Zero => CellKind::Zero.css(),
        Encoding::Delta => CellKind::Delta.css(),
        Encoding::Full => CellKind::InFlight.css(),
        _ => CellKind::Compressed.css(),
    }
}

/// The link between the two host panels.
#[component]
pub fn LinkView(props: &LinkProps) -> Html {
    let canvas = use_node_ref();
    let flights = props.loaded.playback.borrow().flights();
    let (w, h) = (props.width.unwrap_or(SIZE.0), SIZE.1);
    {
        let canvas = canvas.clone();
        let flights = flights.clone();
        let still = props.reduced_motion;
        use_effect_with((props.tick, Rc::as_ptr(&props.loaded), w.to_bits()), move |_| {
            let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() else { return };
            let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
            c.set_width((w * dpr) as u32);
            c.set_height((h * dpr) as u32);
            let Some(ctx) = c.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok()) else {
                return;
            };
            let _ = ctx.scale(dpr, dpr);
            ctx.clear_rect(0.0, 0.0, w, h);
            // Two lanes: priority (faults) on top, bulk below.
            for (y, label) in [(h * 0.3, "priority"), (h * 0.7, "bulk")] {
                ctx.set_stroke_style_str("#94a3b8");
                ctx.set_line_width(1.0);
                ctx.begin_path();
                ctx.move_to(0.0, y);
                ctx.line_to(w, y);
                ctx.stroke();
                ctx.set_fill_style_str("#475569");
                ctx.set_font("12px sans-serif");
                let _ = ctx.fill_text(label, 4.0, y - 6.0);
            }
            for f in &flights {
                let y = if f.priority { h * 0.3 } else { h * 0.7 };
                let size = (4.0 + (f.count as f64).log2().max(0.0) * 1.5).min(18.0);
                let x = if still { w / 2.0 - size / 2.0 } else { f.progress * (w - size) };
                ctx.set_fill_style_str(&colour(f));
                ctx.fill_rect(x, y - size / 2.0, size, size);
            }
        });
    }
    let on_wire: u64 = flights.iter().map(|f| f.count).sum();
    html! {
        <figure class="link" data-testid="link" style={props.width.map(|w| format!("width:{}px", w + 18.0))}>
            <figcaption>{"Network link"}</figcaption>
            <canvas ref={canvas} class="link-canvas" style={format!("width:{w}px;height:{h}px")} role="img"
                aria-label={format!("{on_wire} pages on the wire")} />
            <p class="muted" data-testid="on-wire">{format!("{on_wire} pages on the wire")}</p>
        </figure>
    }
}
