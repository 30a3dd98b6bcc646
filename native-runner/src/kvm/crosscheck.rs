//! A real KVM run held against the simulator's run of the same scenario (`livemig kvm
//! crosscheck`): the metrics compared and their relative differences.

use livemig_core::Report;

/// Relative difference of `real` against `simulated`, in percent (None when the simulated
/// value is 0 and the real one is not).
pub fn relative_difference(real: f64, simulated: f64) -> Option<f64> {
    crate::relative_change(real, simulated).map(|d| d * 100.0)
}

/// The compared metrics: (name, real, simulated).
pub fn rows(real: &Report, sim: &Report) -> Vec<(&'static str, f64, f64)> {
    vec![
        ("rounds", real.rounds as f64, sim.rounds as f64),
        ("pages_sent", real.pages_sent as f64, sim.pages_sent as f64),
        ("bytes_sent", real.bytes_sent as f64, sim.bytes_sent as f64),
        ("downtime_s", real.downtime_s, sim.downtime_s),
        ("total_time_s", real.total_time_s, sim.total_time_s),
        ("network_faults", real.network_faults as f64, sim.network_faults as f64),
    ]
}

/// The comparison as JSON (`livemig kvm crosscheck --json`): `{ "real": Report, "simulated": Report, "difference": {...} }`.
pub fn json(real: &Report, sim: &Report) -> serde_json::Value {
    let mut diff = serde_json::Map::new();
    for (name, r, s) in rows(real, sim) {
        diff.insert(format!("{name}_pct"), relative_difference(r, s).map_or(serde_json::Value::Null, |d| serde_json::json!(d)));
    }
    let rounds: Vec<serde_json::Value> = (0..real.per_round.len().max(sim.per_round.len()))
        .map(|i| {
            let r = real.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            let s = sim.per_round.get(i).map_or(0.0, |x| x.pages_sent as f64);
            relative_difference(r, s).map_or(serde_json::Value::Null, |d| serde_json::json!(d))
        })
        .collect();
    diff.insert("pages_sent_per_round_pct".into(), serde_json::Value::Array(rounds));
    diff.insert("verified_equal".into(), serde_json::json!(real.verified == sim.verified));
    serde_json::json!({ "real": real, "simulated": sim, "difference": diff })
}
