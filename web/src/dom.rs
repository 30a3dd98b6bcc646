//! Small helpers over the browser's APIs that several views share: the clock, file downloads
//! and canvas sizing.

/// Milliseconds from `performance.now()` (0 outside a browser).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// The browser's reason for refusing a call, as text.
pub fn js_err(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(&e).map(|e| String::from(e.message())))
        .unwrap_or_else(|| "the browser refused".to_string())
}

/// Offers `text` as a file download: a Blob behind a temporary `<a download>`, whose URL is
/// revoked once the browser has had time to start the download.
pub fn download(file_name: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let props = web_sys::BlobPropertyBag::new();
    props.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &props).map_err(js_err)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_err)?;
    let clicked = click_download(&url, file_name);
    gloo::timers::callback::Timeout::new(30_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    clicked
}

/// Clicks a temporary, hidden `<a download>` pointing at `href` (a Blob's URL or a canvas's
/// data URL); the anchor is in the document while it is clicked, as some browsers require.
pub fn click_download(href: &str, file_name: &str) -> Result<(), String> {
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let body = doc.body().ok_or("no document body")?;
    let a: web_sys::HtmlAnchorElement =
        wasm_bindgen::JsCast::dyn_into(doc.create_element("a").map_err(js_err)?).map_err(|_| "not an anchor".to_string())?;
    a.set_href(href);
    a.set_download(file_name);
    let _ = a.set_attribute("style", "display:none");
    body.append_child(&a).map_err(js_err)?;
    a.click();
    a.remove();
    Ok(())
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
