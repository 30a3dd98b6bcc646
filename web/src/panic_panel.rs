//! A panic in the browser must not leave a dead page: the hook logs it to the console and shows
//! an error panel (static markup in `index.html`, so it works even when yew is gone).

/// Installs the panic hook.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show(&info.to_string());
    }));
}

/// Shows the error panel with `message`.
pub fn show(message: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Some(panel) = doc.get_element_by_id("panic-panel") {
        if let Some(text) = doc.get_element_by_id("panic-message") {
            text.set_text_content(Some(message));
        }
        let _ = panel.remove_attribute("hidden");
    }
}
