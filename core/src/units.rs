//! Human units for scenario files: sizes (`"1 GiB"`), bandwidths (`"1 Gbit/s"`), durations
//! (`"300 ms"`) and page rates (`"20000 pages/s"`).
//!
//! Every quantity also accepts a bare number in its base SI unit (bytes, bytes per second,
//! seconds, pages per second), so JSON written by programs needs no unit strings. Values are
//! stored in base units; `Display` prints them back in the most readable unit, and that text
//! parses to the same value.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A quantity string that could not be parsed; says what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Not a number with a known unit.
    #[error("'{input}' is not a {kind}: expected {expected}")]
    NotA {
        /// The text that failed to parse.
        input: String,
        /// What kind of quantity was expected ("size", "bandwidth", ...).
        kind: &'static str,
        /// Examples of accepted forms.
        expected: &'static str,
    },
    /// A number with a known unit, too large (or too small) for the quantity to hold: e.g.
    /// `"1e308 Gbit/s"`, `"16 EiB"`.
    #[error("'{input}' {OUT_OF_RANGE}: accepted {accepted}")]
    OutOfRange {
        /// The text as written.
        input: String,
        /// What the quantity can hold (a field accepts less: see its own range).
        accepted: &'static str,
    },
}

/// The words of an out-of-range message ([`UnitError::OutOfRange`] and the scenario's range
/// checks alike).
pub const OUT_OF_RANGE: &str = "is out of range";

/// The text as written of an [`UnitError::OutOfRange`] message (`'TEXT' is out of range: ...`),
/// so that a caller who knows the field can name the field's own range instead.
pub fn out_of_range_input(message: &str) -> Option<&str> {
    let rest = message.strip_prefix('\'')?;
    let (input, tail) = rest.split_once(&format!("' {OUT_OF_RANGE}: ") as &str)?;
    (!tail.is_empty()).then_some(input)
}

/// A number for messages that echo a value: at most 6 significant digits, without trailing
/// zeros, in exponent form from a billion up and under 0.0001 (`0.9999`, not
/// `0.9998999999999999`; `1e300`, not 301 digits; `6e11`). Close enough to read back what was
/// written; for figures shown to people see [`Quantity::show`] and [`significant`].
pub fn short(v: f64) -> String {
    digits(v, 6, 1e9)
}

/// How many significant digits a figure for people has ([`significant`], [`Quantity::show`]).
pub const SIGNIFICANT_DIGITS: i32 = 4;

/// A figure for people: [`SIGNIFICANT_DIGITS`] significant digits without trailing zeros, but
/// never fewer than the whole part (`0.01235`, `123.5`, `8.78`, `5`, `267170`); exponent form
/// from 10^15 up and under 0.0001. A NaN or an infinity prints as `NaN`, `inf`, `-inf`.
pub fn significant(v: f64) -> String {
    digits(v, SIGNIFICANT_DIGITS, 1e15)
}

/// `v` with `n` significant digits (more for a whole part that needs them), trailing zeros
/// dropped; in exponent form (with `n` digits) under 0.0001 and from `exponent_from` up.
fn digits(v: f64, n: i32, exponent_from: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    if (1e-4..exponent_from).contains(&a) {
        let decimals = (n - 1 - a.log10().floor() as i32).max(0) as usize;
        trim_fraction(&format!("{v:.decimals$}")).to_string()
    } else {
        let text = format!("{v:.prec$e}", prec = (n - 1) as usize);
        let (mantissa, exponent) = text.split_once('e').expect("exponent form");
        format!("{}e{exponent}", trim_fraction(mantissa))
    }
}

/// A number for a chart's tick or bar: [`significant`], with `k`, `M` or `G` from ten thousand
/// up (`950`, `1500`, `15k`, `262.1k`, `1.2M`).
pub fn compact(v: f64) -> String {
    let (div, unit) = Quantity::Count.scale(v);
    let suffix = match unit {
        "thousand" => "k",
        "million" => "M",
        "billion" => "G",
        _ => "",
    };
    format!("{}{suffix}", significant(v / div))
}

/// What a figure measures, so that it is shown in its unit: the one formatter of numbers for
/// people (the CLI's tables, the playground's metrics, charts and sweeps, assignments'
/// feedback). Figures are in base units: seconds, bytes, bytes per second, pages per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Seconds: `ns`, `µs`, `ms`, `s`.
    Duration,
    /// Bytes, in binary units: `B`, `KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB`.
    Size,
    /// Bytes per second, shown in bits: `bit/s`, `kbit/s`, `Mbit/s`, `Gbit/s`, `Tbit/s`.
    Bandwidth,
    /// Pages per second: `pages/s`.
    Rate,
    /// A count: in full; on an axis in thousands, millions or billions.
    Count,
    /// A plain number (a ratio, a fraction).
    Plain,
}

/// Each quantity's units for people, smallest first: (base units in one, name, where it
/// starts). A figure takes the largest unit it reaches.
const DURATION_SHOWN: &[(f64, &str, f64)] = &[(1e-9, "ns", 0.0), (1e-6, "µs", 1e-6), (1e-3, "ms", 1e-3), (1.0, "s", 1.0)];
const SIZE_SHOWN: &[(f64, &str, f64)] = &[
    (1.0, "B", 0.0),
    (1024.0, "KiB", 1024.0),
    (1048576.0, "MiB", 1048576.0),
    (1073741824.0, "GiB", 1073741824.0),
    (1099511627776.0, "TiB", 1099511627776.0),
    (1125899906842624.0, "PiB", 1125899906842624.0),
    (1152921504606846976.0, "EiB", 1152921504606846976.0),
];
const BANDWIDTH_SHOWN: &[(f64, &str, f64)] = &[
    (1.0 / 8.0, "bit/s", 0.0),
    (1e3 / 8.0, "kbit/s", 1e3 / 8.0),
    (1e6 / 8.0, "Mbit/s", 1e6 / 8.0),
    (1e9 / 8.0, "Gbit/s", 1e9 / 8.0),
    (1e12 / 8.0, "Tbit/s", 1e12 / 8.0),
];
const RATE_SHOWN: &[(f64, &str, f64)] = &[(1.0, "pages/s", 0.0)];
/// A count's axis units: thousands from ten thousand (`1500` reads better than `1.5 thousand`).
const COUNT_SHOWN: &[(f64, &str, f64)] = &[(1.0, "", 0.0), (1e3, "thousand", 1e4), (1e6, "million", 1e6), (1e9, "billion", 1e9)];
const PLAIN_SHOWN: &[(f64, &str, f64)] = &[(1.0, "", 0.0)];

impl Quantity {
    /// The quantity of a report metric named `name` (`downtime_s`, `bytes_sent`, `rounds`):
    /// seconds for a name ending in `_s`, a size for one with `bytes`, else a count.
    pub fn of_metric(name: &str) -> Quantity {
        if name.ends_with("_s") {
            Quantity::Duration
        } else if name.contains("bytes") {
            Quantity::Size
        } else {
            Quantity::Count
        }
    }

    fn units(self) -> &'static [(f64, &'static str, f64)] {
        match self {
            Quantity::Duration => DURATION_SHOWN,
            Quantity::Size => SIZE_SHOWN,
            Quantity::Bandwidth => BANDWIDTH_SHOWN,
            Quantity::Rate => RATE_SHOWN,
            Quantity::Count => COUNT_SHOWN,
            Quantity::Plain => PLAIN_SHOWN,
        }
    }

    /// The unit to show figures up to `max` (base units, either sign) in: `(base units in one,
    /// name)`, e.g. `(1e-3, "ms")` for 0.5 s; the name is empty for a plain number or a small
    /// count. For a chart's axis, whose ticks are then divided by the first.
    pub fn scale(self, max: f64) -> (f64, &'static str) {
        let units = self.units();
        let a = max.abs();
        // Zero in the base unit (`0 s`, `0 B`); NaN in the smallest.
        let base = || units.iter().find(|u| u.0 == 1.0).unwrap_or(&units[0]);
        let (div, name, _) = if a == 0.0 { base() } else { units.iter().rev().find(|u| a >= u.2).unwrap_or(&units[0]) };
        (*div, name)
    }

    /// A figure for people, in its own best unit with [`significant`] digits: `"8.78 s"`,
    /// `"255.2 ms"`, `"0 s"`, `"1023 B"`, `"1 KiB"`, `"1.021 GiB"`, `"2.5 Gbit/s"`,
    /// `"20000 pages/s"`, `"267170"` (a count in full). A figure that rounds up to the next
    /// unit takes it (0.99999 s is `"1 s"`, not `"1000 ms"`); a NaN or an infinity is `NaN`,
    /// `inf` or `-inf` without a unit.
    pub fn show(self, v: f64) -> String {
        if !v.is_finite() {
            return v.to_string();
        }
        if self == Quantity::Count || self == Quantity::Plain {
            return significant(v);
        }
        let (mut div, mut unit) = self.scale(v);
        let mut text = significant(v / div);
        // Rounding may reach the next unit: 999.99 ms is 1 s.
        if let Some(next) = self.units().iter().find(|u| u.0 > div) {
            if text.parse::<f64>().is_ok_and(|x| x.abs() * div >= next.2) {
                (div, unit) = (next.0, next.1);
                text = significant(v / div);
            }
        }
        format!("{text} {unit}")
    }
}

/// `1.500000` to `1.5`, `2.000` to `2` (text without a point is left as it is).
fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || c == '_' || ((c == '-' || c == '+') && i == 0) || c == 'e' && i > 0))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    // 'e' is only an exponent if followed by a digit or sign; otherwise it starts the unit.
    let mut end = end;
    if let Some(pos) = s[..end].find('e') {
        let rest = &s[pos + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
            end = pos;
        }
    }
    let number: f64 = s[..end].replace('_', "").parse().ok()?;
    Some((number, s[end..].trim()))
}

fn parse_with(s: &str, kind: &'static str, expected: &'static str, units: &[(&str, f64)]) -> Result<f64, UnitError> {
    let err = || UnitError::NotA { input: s.to_string(), kind, expected };
    let (number, unit) = split_number(s).ok_or_else(err)?;
    let factor = units
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit) && (name.len() > 1 || *name == unit))
        .or_else(|| units.iter().find(|(name, _)| *name == unit))
        .map(|(_, f)| *f)
        .ok_or_else(err)?;
    if !number.is_finite() {
        return Err(err());
    }
    // A finite number in a known unit that overflows is a value, just too large.
    Ok(number * factor)
}

const SIZE_UNITS: &[(&str, f64)] = &[
    ("", 1.0),
    ("B", 1.0),
    ("bytes", 1.0),
    ("KiB", 1024.0),
    ("MiB", 1024.0 * 1024.0),
    ("GiB", 1024.0 * 1024.0 * 1024.0),
    ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("PiB", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("EiB", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("KB", 1e3),
    ("kB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("PB", 1e15),
    ("EB", 1e18),
];
const SIZE_EXPECTED: &str = "a size such as \"4096\", \"64 B\", \"4 KiB\", \"1 GiB\" or \"1.5 GB\"";

const BANDWIDTH_UNITS: &[(&str, f64)] = &[
    ("", 1.0),
    ("B/s", 1.0),
    ("bit/s", 1.0 / 8.0),
    ("bps", 1.0 / 8.0),
    ("kbit/s", 1e3 / 8.0),
    ("Kbit/s", 1e3 / 8.0),
    ("Mbit/s", 1e6 / 8.0),
    ("Gbit/s", 1e9 / 8.0),
    ("Tbit/s", 1e12 / 8.0),
    ("kbps", 1e3 / 8.0),
    ("Mbps", 1e6 / 8.0),
    ("Gbps", 1e9 / 8.0),
    ("KB/s", 1e3),
    ("kB/s", 1e3),
    ("MB/s", 1e6),
    ("GB/s", 1e9),
    ("KiB/s", 1024.0),
    ("MiB/s", 1024.0 * 1024.0),
    ("GiB/s", 1024.0 * 1024.0 * 1024.0),
];
const BANDWIDTH_EXPECTED: &str = "a bandwidth such as \"1 Gbit/s\", \"100 Mbit/s\", \"128 MiB/s\" or a number of bytes per second";

const DURATION_UNITS: &[(&str, f64)] =
    &[("", 1.0), ("s", 1.0), ("sec", 1.0), ("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("min", 60.0), ("h", 3600.0)];
const DURATION_EXPECTED: &str = "a duration such as \"300 ms\", \"1.5 s\", \"50 us\" or \"2 min\"";

const RATE_UNITS: &[(&str, f64)] = &[("", 1.0), ("pages/s", 1.0), ("page/s", 1.0), ("/s", 1.0)];
const RATE_EXPECTED: &str = "a page rate such as \"20000 pages/s\" or a number of pages per second";

fn fmt_scaled(f: &mut fmt::Formatter<'_>, value: f64, units: &[(&str, f64)]) -> fmt::Result {
    // units are (name, factor) in ascending order; choose the largest that keeps value >= 1.
    let mut chosen = units[0];
    for &u in units {
        if value.abs() >= u.1 {
            chosen = u;
        }
    }
    let scaled = value / chosen.1;
    // Six decimals read back to the same value for every scenario worth writing; values far
    // outside any field's range print short rather than with hundreds of digits.
    let text = if scaled != 0.0 && !(1e-4..1e15).contains(&scaled.abs()) {
        short(scaled)
    } else {
        trim_fraction(&format!("{scaled:.6}")).to_string()
    };
    write!(f, "{text} {}", chosen.0)
}

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $kind:literal, $units:ident, $expected:ident, $holds:literal, $display:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
        pub struct $name(pub $inner);

        impl std::str::FromStr for $name {
            type Err = UnitError;
            fn from_str(s: &str) -> Result<Self, UnitError> {
                let v = parse_with(s, $kind, $expected, $units)?;
                // Too large for the type is out of range; anything else (negative or fractional
                // bytes) is malformed.
                Self::from_base(v).ok_or_else(|| match Self::in_bounds(v) {
                    true => UnitError::NotA { input: s.to_string(), kind: $kind, expected: $expected },
                    false => UnitError::OutOfRange { input: s.to_string(), accepted: $holds },
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                #[allow(clippy::redundant_closure_call)]
                ($display)(f, self.0 as f64)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expected)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(|e: UnitError| E::custom(e))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        $name::from_base(v).ok_or_else(|| {
                            let input = short(v);
                            E::custom(match $name::in_bounds(v) {
                                true => UnitError::NotA { input, kind: $kind, expected: $expected },
                                false => UnitError::OutOfRange { input, accepted: $holds },
                            })
                        })
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        self.visit_f64(v as f64)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        self.visit_f64(v as f64)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

quantity!(
    /// A size in bytes (`"4 KiB"`, `"1 GiB"`, `4096`).
    ByteSize, u64, "size", SIZE_UNITS, SIZE_EXPECTED, "a size of 0 B up to 16 EiB",
    |f: &mut fmt::Formatter<'_>, v: f64| {
        let v = v as u64;
        for (name, factor) in
            [("EiB", 1u64 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        {
            if v >= factor && v % factor == 0 {
                return write!(f, "{} {name}", v / factor);
            }
        }
        write!(f, "{v} B")
    }
);
quantity!(
    /// A bandwidth in bytes per second (`"1 Gbit/s"`, `"128 MiB/s"`).
    Bandwidth, f64, "bandwidth", BANDWIDTH_UNITS, BANDWIDTH_EXPECTED, "a finite bandwidth",
    |f: &mut fmt::Formatter<'_>, v: f64| fmt_scaled(f, v, &[("bit/s", 1.0 / 8.0), ("kbit/s", 1e3 / 8.0), ("Mbit/s", 1e6 / 8.0), ("Gbit/s", 1e9 / 8.0)])
);
quantity!(
    /// A duration in seconds (`"300 ms"`, `"1.5 s"`).
    Seconds, f64, "duration", DURATION_UNITS, DURATION_EXPECTED, "a finite duration",
    |f: &mut fmt::Formatter<'_>, v: f64| fmt_scaled(f, v, &[("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1.0)])
);
quantity!(
    /// A rate of page accesses per second (`"20000 pages/s"`).
    PageRate, f64, "page rate", RATE_UNITS, RATE_EXPECTED, "a finite page rate",
    |f: &mut fmt::Formatter<'_>, v: f64| fmt_scaled(f, v, &[("pages/s", 1.0)])
);

/// Deserialises a plain number (a fraction or probability), for `#[serde(deserialize_with)]`.
///
/// Also takes the text of a non-finite number (`"NaN"`, `"inf"`): that is how a TOML `nan` or a
/// `--set key=NaN` reaches the value tree, and letting it through means validation reports it
/// against the field's accepted range instead of as a confusing type error.
pub(crate) fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct V;
    impl de::Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v.trim().parse::<f64>() {
                Ok(x) if !x.is_finite() => Ok(x),
                _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

/// [`number`] for an optional field (use with `#[serde(default)]`).
pub(crate) fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number(d).map(Some)
}

impl ByteSize {
    fn from_base(v: f64) -> Option<Self> {
        (v >= 0.0 && v.fract() == 0.0 && Self::in_bounds(v)).then_some(ByteSize(v as u64))
    }
    /// Whether `v` bytes fit the type (`u64::MAX as f64` is 2^64, one past the largest).
    fn in_bounds(v: f64) -> bool {
        v < u64::MAX as f64
    }
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
    /// Whether the size is 0 B.
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

impl Bandwidth {
    fn from_base(v: f64) -> Option<Self> {
        v.is_finite().then_some(Bandwidth(v))
    }
    /// Whether `v` is finite (a NaN is not a quantity; an infinity is out of range).
    fn in_bounds(v: f64) -> bool {
        v.is_finite()
    }
    /// Bytes per second.
    pub fn bytes_per_s(self) -> f64 {
        self.0
    }
}

impl Seconds {
    fn from_base(v: f64) -> Option<Self> {
        v.is_finite().then_some(Seconds(v))
    }
    /// Whether `v` is finite (a NaN is not a quantity; an infinity is out of range).
    fn in_bounds(v: f64) -> bool {
        v.is_finite()
    }
    /// The duration in seconds.
    pub fn secs(self) -> f64 {
        self.0
    }
}

impl PageRate {
    fn from_base(v: f64) -> Option<Self> {
        v.is_finite().then_some(PageRate(v))
    }
    /// Whether `v` is finite (a NaN is not a quantity; an infinity is out of range).
    fn in_bounds(v: f64) -> bool {
        v.is_finite()
    }
    /// Pages per second.
    pub fn per_s(self) -> f64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_binary_and_decimal_prefixes() {
        assert_eq!("4 KiB".parse::<ByteSize>().unwrap().0, 4096);
        assert_eq!("1GiB".parse::<ByteSize>().unwrap().0, 1 << 30);
        assert_eq!("1.5 GB".parse::<ByteSize>().unwrap().0, 1_500_000_000);
        assert_eq!("64 B".parse::<ByteSize>().unwrap().0, 64);
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        assert!("1.5 B".parse::<ByteSize>().is_err());
        assert!("-4 KiB".parse::<ByteSize>().is_err());
        assert!("4 parsecs".parse::<ByteSize>().is_err());
    }

    #[test]
    fn bandwidths_convert_bits_to_bytes() {
        assert_eq!("1 Gbit/s".parse::<Bandwidth>().unwrap().0, 125_000_000.0);
        assert_eq!("100 Mbit/s".parse::<Bandwidth>().unwrap().0, 12_500_000.0);
        assert_eq!("128 MiB/s".parse::<Bandwidth>().unwrap().0, 134_217_728.0);
        assert!("NaN Gbit/s".parse::<Bandwidth>().is_err());
        assert!("1 Gbit".parse::<Bandwidth>().is_err());
    }

    #[test]
    fn durations_and_rates() {
        assert!(("300 ms".parse::<Seconds>().unwrap().0 - 0.3).abs() < 1e-12);
        assert_eq!("2 min".parse::<Seconds>().unwrap().0, 120.0);
        assert_eq!("20000 pages/s".parse::<PageRate>().unwrap().0, 20000.0);
        assert_eq!("1e3 pages/s".parse::<PageRate>().unwrap().0, 1000.0);
    }

    #[test]
    fn display_round_trips() {
        for s in ["1 GiB", "4 KiB", "123 B"] {
            let v: ByteSize = s.parse().unwrap();
            assert_eq!(v.to_string(), s);
        }
        let b: Bandwidth = "2.5 Gbit/s".parse().unwrap();
        assert_eq!(b.to_string(), "2.5 Gbit/s");
        assert_eq!(b.to_string().parse::<Bandwidth>().unwrap(), b);
        let d: Seconds = "300 ms".parse().unwrap();
        assert_eq!(d.to_string(), "300 ms");
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(short(0.9998999999999999), "0.9999");
        assert_eq!(short(1e300), "1e300");
        assert_eq!(short(-2.5e-7), "-2.5e-7");
        assert_eq!(short(600.0), "600");
        assert_eq!(short(123456.789), "123457");
        assert_eq!(short(6e11), "6e11");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(f64::NAN), "NaN");
        // Display of a huge value stays short too.
        assert_eq!(Bandwidth(1e300).to_string(), "8e291 Gbit/s");
    }

    #[test]
    fn figures_for_people_have_four_significant_digits() {
        assert_eq!(significant(0.012345), "0.01235");
        assert_eq!(significant(123.456), "123.5");
        assert_eq!(significant(5.0), "5");
        assert_eq!(significant(267170.4), "267170", "the whole part is never cut");
        assert_eq!(significant(-2.5), "-2.5");
        assert_eq!(significant(0.0), "0");
        assert_eq!(significant(1.5e-7), "1.5e-7");
        assert_eq!(significant(2e16), "2e16");
        assert_eq!(significant(f64::NAN), "NaN");
        assert_eq!(significant(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn durations_show_in_their_unit() {
        let d = |v| Quantity::Duration.show(v);
        assert_eq!(d(0.0), "0 s");
        assert_eq!(d(8.78), "8.78 s");
        assert_eq!(d(600.0), "600 s");
        assert_eq!(d(0.2552), "255.2 ms");
        assert_eq!(d(0.0934), "93.4 ms");
        assert_eq!(d(0.9999), "999.9 ms");
        assert_eq!(d(0.99999), "1 s", "rounding up reaches the next unit");
        assert_eq!(d(1.0), "1 s");
        assert_eq!(d(1e-3), "1 ms");
        assert_eq!(d(2.5e-5), "25 µs");
        assert_eq!(d(3e-9), "3 ns");
        assert_eq!(d(-0.005), "-5 ms");
        assert_eq!(d(86400.0), "86400 s");
        assert_eq!(d(f64::NAN), "NaN");
        assert_eq!(d(f64::INFINITY), "inf");
    }

    #[test]
    fn sizes_show_in_binary_units() {
        let b = |v| Quantity::Size.show(v);
        assert_eq!(b(0.0), "0 B");
        assert_eq!(b(512.0), "512 B");
        assert_eq!(b(1023.0), "1023 B");
        assert_eq!(b(1024.0), "1 KiB");
        assert_eq!(b(1048575.0), "1 MiB", "1023.999 KiB rounds up to the next unit");
        assert_eq!(b(3.0 * 1048576.0), "3 MiB");
        assert_eq!(b(904_700_000.0), "862.8 MiB");
        assert_eq!(b(1.0206 * 1073741824.0), "1.021 GiB");
        assert_eq!(b(1099511627776.0), "1 TiB");
        assert_eq!(b(-2048.0), "-2 KiB");
        assert_eq!(b(f64::NAN), "NaN");
    }

    #[test]
    fn bandwidths_rates_counts_and_plain_numbers() {
        assert_eq!(Quantity::Bandwidth.show(1e9 / 8.0), "1 Gbit/s");
        assert_eq!(Quantity::Bandwidth.show(2.5e9 / 8.0), "2.5 Gbit/s");
        assert_eq!(Quantity::Bandwidth.show(12_500_000.0), "100 Mbit/s");
        assert_eq!(Quantity::Bandwidth.show(0.0), "0 bit/s");
        assert_eq!(Quantity::Rate.show(20000.0), "20000 pages/s");
        assert_eq!(Quantity::Count.show(267170.0), "267170");
        assert_eq!(Quantity::Count.show(12.345), "12.35");
        assert_eq!(Quantity::Plain.show(0.25), "0.25");
        assert_eq!(Quantity::of_metric("downtime_s"), Quantity::Duration);
        assert_eq!(Quantity::of_metric("payload_bytes"), Quantity::Size);
        assert_eq!(Quantity::of_metric("rounds"), Quantity::Count);
    }

    #[test]
    fn axes_scale_to_their_largest_value() {
        assert_eq!(Quantity::Duration.scale(0.5), (1e-3, "ms"));
        assert_eq!(Quantity::Duration.scale(12.0), (1.0, "s"));
        assert_eq!(Quantity::Duration.scale(0.0), (1.0, "s"));
        assert_eq!(Quantity::Size.scale(2.0 * 1073741824.0), (1073741824.0, "GiB"));
        assert_eq!(Quantity::Size.scale(1023.0), (1.0, "B"));
        assert_eq!(Quantity::Size.scale(1024.0), (1024.0, "KiB"));
        assert_eq!(Quantity::Bandwidth.scale(-1.25e9), (1e9 / 8.0, "Gbit/s"));
        assert_eq!(Quantity::Count.scale(9999.0), (1.0, ""));
        assert_eq!(Quantity::Count.scale(15000.0), (1e3, "thousand"));
        assert_eq!(Quantity::Count.scale(f64::NAN), (1.0, ""));
        assert_eq!(Quantity::Plain.scale(1e9), (1.0, ""));
    }

    #[test]
    fn chart_numbers_are_compact() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1500.0), "1500");
        assert_eq!(compact(15_000.0), "15k");
        assert_eq!(compact(262_144.0), "262.1k");
        assert_eq!(compact(1_200_000.0), "1.2M");
        assert_eq!(compact(3e9), "3G");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(2.5), "2.5");
    }

    #[test]
    fn too_large_is_out_of_range_not_malformed() {
        // Issue 13, defect 7: these were "not a bandwidth" and "not a size".
        let e = "1e308 Gbit/s".parse::<Bandwidth>().unwrap_err();
        assert_eq!(e.to_string(), "'1e308 Gbit/s' is out of range: accepted a finite bandwidth");
        assert_eq!(out_of_range_input(&e.to_string()), Some("1e308 Gbit/s"));
        assert_eq!("1 EiB".parse::<ByteSize>().unwrap().0, 1 << 60);
        assert_eq!(ByteSize(1 << 60).to_string(), "1 EiB");
        let e = "16 EiB".parse::<ByteSize>().unwrap_err().to_string();
        assert_eq!(e, "'16 EiB' is out of range: accepted a size of 0 B up to 16 EiB");
        // Malformed stays malformed.
        assert!(matches!("1.5 B".parse::<ByteSize>(), Err(UnitError::NotA { .. })));
        assert!(matches!("NaN s".parse::<Seconds>(), Err(UnitError::NotA { .. })));
        assert_eq!(out_of_range_input("'x' is not a size: expected ..."), None);
    }

    #[test]
    fn error_names_the_kind_and_examples() {
        let e = "fast".parse::<Bandwidth>().unwrap_err().to_string();
        assert!(e.contains("'fast' is not a bandwidth"), "{e}");
        assert!(e.contains("Gbit/s"), "{e}");
    }
}
