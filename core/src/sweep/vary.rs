//! The CLI's `--vary KEY=FROM..TO:STEPS`: the grammar's ends read in the first end's unit, and
//! the values between them written as `--set` overrides (`livemig sweep` runs them).

use crate::units::{short, Bandwidth, ByteSize, PageRate, Seconds};

/// A parsed `--vary KEY=FROM..TO:STEPS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// Dotted scenario key.
    pub key: String,
    /// The values, as override text.
    pub values: Vec<String>,
}

/// A `--vary` that cannot be used: the whole message, naming the text and what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct VaryError(pub String);

fn split_unit(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let n: f64 = s[..end].parse().ok()?;
    Some((n, s[end..].trim().to_string()))
}

/// How many `to` units one `from` unit is, when both are units of one quantity (size,
/// bandwidth, duration or page rate), as the scenario parser reads them.
fn unit_ratio(from: &str, to: &str) -> Option<f64> {
    fn ratio<T: std::str::FromStr>(from: &str, to: &str, base: impl Fn(T) -> f64) -> Option<f64> {
        let one = |u: &str| format!("1 {u}").parse::<T>().ok().map(&base);
        Some(one(from)? / one(to)?)
    }
    ratio::<ByteSize>(from, to, |v| v.0 as f64)
        .or_else(|| ratio::<Bandwidth>(from, to, |v| v.0))
        .or_else(|| ratio::<Seconds>(from, to, |v| v.0))
        .or_else(|| ratio::<PageRate>(from, to, |v| v.0))
}

/// Parses `KEY=FROM..TO:STEPS[;log|;lin]`, the core's sweep grammar ([`crate::sweep`]);
/// geometric spacing with `log` (the `--log` flag) or `;log`.
pub fn parse_vary(spec: &str, log: bool) -> Result<Vary, VaryError> {
    let bad = |msg: String| VaryError(msg);
    let usage = || {
        bad(format!(
            "--vary '{spec}': expected KEY=FROM..TO:STEPS with STEPS from 2 to {}, e.g. link.bandwidth=100Mbit/s..10Gbit/s:10",
            super::MAX_STEPS
        ))
    };
    let text = super::SweepText::parse(spec).map_err(|_| usage())?;
    if text.metric.is_some() {
        return Err(bad(format!("--vary '{spec}': metric= chooses the playground's plot; livemig sweep prints every metric")));
    }
    let log = text.log.unwrap_or(log);
    let (key, from, to, steps) = (text.path.as_str(), text.from.as_str(), text.to.as_str(), text.steps);
    let (a, ua) = split_unit(from).ok_or_else(usage)?;
    let (mut b, ub) = split_unit(to).ok_or_else(usage)?;
    if ua != ub {
        // Another unit of the same quantity (100Mbit/s..10Gbit/s): TO in FROM's unit.
        let ratio = unit_ratio(&ub, &ua).ok_or_else(|| {
            bad(format!(
                "--vary '{spec}': FROM and TO must be quantities of one kind, e.g. both sizes or both bandwidths ('{ua}' and '{ub}')"
            ))
        })?;
        b *= ratio;
    }
    if !a.is_finite() || !b.is_finite() || (log && (a <= 0.0 || b <= 0.0)) {
        return Err(bad(format!("--vary '{spec}': FROM and TO must be finite numbers{}", if log { " above 0 for --log" } else { "" })));
    }
    let integers = ua.is_empty() && !from.contains('.') && !to.contains('.');
    let points: Vec<f64> = (0..steps)
        .map(|i| {
            let f = i as f64 / (steps - 1) as f64;
            if log {
                a * (b / a).powf(f)
            } else {
                a + (b - a) * f
            }
        })
        .collect();
    let mut values = match size_unit(&ua) {
        Some(unit) => size_values(&points, unit),
        None => points
            .iter()
            .map(|&v| {
                let text = if integers { format!("{}", v.round() as i64) } else { short(v) };
                if ua.is_empty() {
                    text
                } else {
                    format!("{text} {ua}")
                }
            })
            .collect(),
    };
    values.dedup();
    Ok(Vary { key: key.to_string(), values })
}

/// Bytes in one `unit`, when it is a unit of size (`MiB`, `GB`, ...).
fn size_unit(unit: &str) -> Option<f64> {
    if unit.is_empty() {
        return None;
    }
    format!("1 {unit}").parse::<ByteSize>().ok().map(|b| b.0 as f64)
}

/// The largest page size: sizes swept between page-aligned ends stay page-aligned.
const SIZE_GRAIN_MAX: u64 = 2 << 20;

/// Sizes `points` (in `unit` bytes each) as the scenario parser reads them: whole bytes, in
/// multiples of a grain, written with the size's own units (`1.125 GiB` is `1152 MiB`). The
/// grain is the largest power of two that divides both ends (so that ends in whole pages give
/// values in whole pages), at most [`SIZE_GRAIN_MAX`] and at most the smallest step, so that
/// no two values merge.
fn size_values(points: &[f64], unit: f64) -> Vec<String> {
    let bytes: Vec<f64> = points.iter().map(|p| p * unit).collect();
    let (first, last) = (bytes[0].round() as u64, bytes[bytes.len() - 1].round() as u64);
    let aligned = |b: u64| if b == 0 { u64::MAX } else { 1u64 << b.trailing_zeros() };
    let min_step = bytes.windows(2).map(|w| (w[1] - w[0]).abs()).fold(f64::INFINITY, f64::min);
    let step_grain = if min_step >= 1.0 { 1u64 << (min_step as u64).ilog2() } else { 1 };
    let grain = aligned(first).min(aligned(last)).min(SIZE_GRAIN_MAX).min(step_grain).max(1);
    bytes.iter().map(|&b| ByteSize(((b / grain as f64).round() as u64).saturating_mul(grain)).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    #[test]
    fn linear_and_log_ranges_with_units() {
        let v = parse_vary("link.bandwidth=1Gbit/s..10Gbit/s:4", false).unwrap();
        assert_eq!(v.values, vec!["1 Gbit/s", "4 Gbit/s", "7 Gbit/s", "10 Gbit/s"]);
        let v = parse_vary("link.bandwidth=100Mbit/s..10000Mbit/s:3", true).unwrap();
        assert_eq!(v.values, vec!["100 Mbit/s", "1000 Mbit/s", "10000 Mbit/s"]);
        // TO in another unit of the same quantity is read in FROM's unit (the --help example).
        let v = parse_vary("link.bandwidth=100Mbit/s..10Gbit/s:3", true).unwrap();
        assert_eq!(v.values, vec!["100 Mbit/s", "1000 Mbit/s", "10000 Mbit/s"]);
        let v = parse_vary("vm.memory=512MiB..1GiB:3", false).unwrap();
        assert_eq!(v.values, vec!["512 MiB", "768 MiB", "1 GiB"]);
        let v = parse_vary("seed=1..5:5", false).unwrap();
        assert_eq!(v.values, vec!["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn the_grammar_options_set_the_spacing() {
        assert_eq!(parse_vary("x=1..100:3;log", false).unwrap().values, vec!["1", "10", "100"]);
        assert_eq!(parse_vary("x=1..100:3", true).unwrap(), parse_vary("x=1..100:3;log", false).unwrap());
        assert_eq!(parse_vary("x=1..101:3;lin", true).unwrap().values, vec!["1", "51", "101"]);
    }

    #[test]
    fn swept_sizes_are_whole_pages_the_parser_accepts() {
        // Issue 13, defect 6: `1.166667 GiB` was generated, and rejected as not a size.
        let base = Scenario::from_toml_str("").unwrap();
        for (spec, log, count) in [
            ("vm.memory=1GiB..2GiB:7", false, 7),
            ("vm.memory=1GiB..2GiB:7", true, 7),
            ("workload.working_set=100MiB..200MiB:7", false, 7),
            ("workload.working_set=1MiB..1000MiB:9", true, 9),
            ("link.send_buffer=64KiB..1MiB:5", true, 5),
        ] {
            let v = parse_vary(spec, log).unwrap();
            assert_eq!(v.values.len(), count, "{spec}");
            for value in &v.values {
                let bytes = value.parse::<ByteSize>().unwrap().0;
                assert_eq!(bytes % 4096, 0, "{spec}: {value}");
                base.with_overrides(&[format!("{}={value}", v.key)]).unwrap_or_else(|e| panic!("{spec}: {value}: {e}"));
            }
        }
        let v = parse_vary("vm.memory=1GiB..2GiB:7", false).unwrap();
        assert_eq!(v.values[1], "1194 MiB");
    }

    #[test]
    fn malformed_specs_are_rejected_with_the_whole_message() {
        for spec in
            ["link.bandwidth", "x=1..2", "x=1..2:1", "x=1 s..2 MiB:3", "x=a..b:3", "=1..2:3", "x=1..2/3", "x=1..2:3;metric=downtime"]
        {
            assert!(parse_vary(spec, false).is_err(), "{spec}");
        }
        // The messages the CLI prints after `livemig: `.
        assert_eq!(
            parse_vary("x=1..2", false).unwrap_err().to_string(),
            "--vary 'x=1..2': expected KEY=FROM..TO:STEPS with STEPS from 2 to 1000, e.g. link.bandwidth=100Mbit/s..10Gbit/s:10"
        );
        assert_eq!(
            parse_vary("x=1 s..2 MiB:3", false).unwrap_err().to_string(),
            "--vary 'x=1 s..2 MiB:3': FROM and TO must be quantities of one kind, e.g. both sizes or both bandwidths ('s' and 'MiB')"
        );
        assert_eq!(
            parse_vary("x=0..1:3", true).unwrap_err().to_string(),
            "--vary 'x=0..1:3': FROM and TO must be finite numbers above 0 for --log"
        );
        assert_eq!(
            parse_vary("x=1..2:3;metric=downtime", false).unwrap_err().to_string(),
            "--vary 'x=1..2:3;metric=downtime': metric= chooses the playground's plot; livemig sweep prints every metric"
        );
    }
}
