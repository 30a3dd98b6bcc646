//! The playground's simulation worker: a Web Worker that runs [`SimJob`]s for the compare and
//! sweep views (see `livemig_web::worker_pool`), so that they run one per core and the page
//! stays responsive. Trunk builds it beside the app (`data-type="worker"` in `web/index.html`).
//!
//! It says [`SimMessage::Ready`] once loaded, then answers every request (JSON text) with one
//! message: the report, the simulation's error, or why the request could not be read.
//!
//! [`SimJob`]: livemig_web::sim_job::SimJob

use livemig_web::sim_job::SimMessage;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

fn main() {
    // A panic (a bug in the core) is logged with its message; the page sees the worker's error
    // event and shows the run as failed.
    console_error_panic_hook::set_once();
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let performance = scope.performance();
    let reply = scope.clone();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let text = e.data().as_string().unwrap_or_default();
        let answer = SimMessage::answer(&text, || performance.as_ref().map_or(0.0, |p| p.now()));
        let _ = reply.post_message(&JsValue::from_str(&answer.to_json()));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    let _ = scope.post_message(&JsValue::from_str(&SimMessage::Ready.to_json()));
}
