//! Hooks the views share.

use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// While `running`, calls `on_frame` once an animation frame with the wall seconds since the
/// previous one (0 for the first). The loop stops (its next frame cancelled) when `running` or
/// `key` changes, or the component goes; `on_frame` is taken when the loop starts, so it should
/// be a stable callback, such as one that dispatches to a reducer.
#[hook]
pub fn use_animation_loop<K: PartialEq + 'static>(running: bool, key: K, on_frame: Callback<f64>) {
    use_effect_with((running, key), move |&(running, _)| {
        let handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>> = Rc::new(RefCell::new(None));
        fn frame(on_frame: Callback<f64>, handle: Rc<RefCell<Option<gloo::render::AnimationFrame>>>, last: Option<f64>) {
            let next = handle.clone();
            let af = gloo::render::request_animation_frame(move |ts| {
                on_frame.emit(last.map_or(0.0, |l| (ts - l) / 1000.0));
                frame(on_frame, next, Some(ts));
            });
            *handle.borrow_mut() = Some(af);
        }
        if running {
            frame(on_frame, handle.clone(), None);
        }
        move || drop(handle.borrow_mut().take())
    });
}
