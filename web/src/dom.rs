//! Small helpers over the browser's APIs that several views share: the clock, file downloads
//! and canvas sizing.

/// Milliseconds from `performance.now()` (0 outside a browser).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Offers `text` as a file download.
pub fn download(filename: &str, mime: &str, text: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let props = web_sys::BlobPropertyBag::new();
    props.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &props) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(a) = doc.create_element("a") {
        if let Ok(a) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlAnchorElement>(a) {
            a.set_href(&url);
            a.set_download(filename);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Sizes a canvas's pixels to its CSS box times the device pixel ratio (sharp on high-DPI
/// screens); returns the ratio, by which fonts and margins are scaled.
pub fn fit_canvas(canvas: &web_sys::HtmlCanvasElement, css_height: u32) -> f64 {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let w = canvas.client_width().max(200) as f64;
    canvas.set_width((w * dpr).round() as u32);
    canvas.set_height((css_height as f64 * dpr).round() as u32);
    dpr
}
