//! Live metrics: the core's report of the trace played so far (the same code as
//! `livemig simulate --json`, so at the end the numbers are the CLI's). Each value also carries
//! its exact number in `data-value`, which the browser tests compare with the CLI.

use crate::loaded::Loaded;
use livemig_core::units::Quantity;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`Metrics`].
#[derive(Properties, PartialEq)]
pub struct MetricsProps {
    /// The run.
    pub loaded: Rc<Loaded>,
    /// Redraw when this changes.
    pub tick: u64,
}

/// The metric tiles.
#[component]
pub fn Metrics(props: &MetricsProps) -> Html {
    let p = props.loaded.playback.borrow();
    let r = p.report();
    let dup = p.duplicates_so_far();
    let done = p.at_end();
    let tile = |id: &str, label: &str, shown: String, exact: String, help: &str| {
        html! {
            <div class="metric" title={help.to_string()}>
                <span class="label">{label.to_string()}</span>
                <span class="value" data-testid={format!("metric-{id}")} data-value={exact}>{shown}</span>
            </div>
        }
    };
    let outcome = done.then(|| {
        let (cls, text) = if r.verified {
            ("ok", "verified: destination memory equals the guest's")
        } else if r.completed {
            ("bad", "completed but NOT verified")
        } else {
            ("bad", "did not complete")
        };
        html! { <p class={classes!("outcome", cls)} data-testid="outcome" data-verified={r.verified.to_string()}>{text}{format!(" ({})", r.stop_reason)}</p> }
    });
    html! {
        <section class="metrics" aria-label="metrics">
            { tile("total-time", "elapsed", Quantity::Duration.show(r.total_time_s), r.total_time_s.to_string(), "time since the migration started") }
            { tile("downtime", "downtime", Quantity::Duration.show(r.downtime_s), r.downtime_s.to_string(), "the VM runs nowhere: from pause on the source to resume on the destination") }
            { tile("pages-sent", "pages sent", r.pages_sent.to_string(), r.pages_sent.to_string(), "every page transmission, duplicates included") }
            { tile("bytes-sent", "data sent", Quantity::Size.show(r.bytes_sent as f64), r.bytes_sent.to_string(), "bytes on the wire: pages, headers, CPU state, bitmaps") }
            { tile("duplicate-pages", "duplicates", dup.to_string(), dup.to_string(), "transmissions of pages that had already been sent") }
            { tile("rounds", "rounds", r.rounds.to_string(), r.rounds.to_string(), "rounds so far (pre-copy iterations, stop-and-copy, post-copy)") }
            { tile("network-faults", "faults", r.network_faults.to_string(), r.network_faults.to_string(), "destination accesses to absent pages that waited for the network") }
            { tile("fault-stall", "fault stall", Quantity::Duration.show(r.fault_stall_s), r.fault_stall_s.to_string(), "time the guest was blocked on faults") }
            { for outcome }
        </section>
    }
}
