//! The bar charts' axes and values: the unit an axis is ticked in, and the value formatters.

use crate::format::fmt_bps;
use crate::metrics::Metric;
use crate::plots::{self, BarRow};

/// The largest finite value a bar chart's rows draw (bars, whiskers, markers).
pub(crate) fn rows_max(rows: &[BarRow]) -> f64 {
    rows.iter()
        .flat_map(|r| {
            [r.value, r.back]
                .into_iter()
                .flatten()
                .flat_map(|v| [v.median, v.max])
                .chain(r.marker)
        })
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// A bar chart of one metric: (metric, quantity on the x axis, log axis, value formatter, the
/// unit the axis is ticked in).
pub(crate) type ChartSpec = (
    &'static Metric,
    &'static str,
    bool,
    fn(f64) -> String,
    AxisUnit,
);

/// The unit a bar chart's axis is ticked in: the ticks are plain numbers in it and the axis
/// description names it, so the two never disagree (a bytes axis ticked in MiB says `(MiB)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AxisUnit {
    /// Bytes with binary prefixes (B, KiB, MiB, GiB).
    Bytes,
    /// Bits per second with decimal prefixes (bit/s, kbit/s, Mbit/s, Gbit/s).
    BitsPerS,
    /// A rate with decimal multipliers (`msg/s`, `thousand msg/s`, `million msg/s`).
    PerS(&'static str),
    /// One unit whatever the values.
    Fixed(&'static str),
}

impl AxisUnit {
    /// The divisor of the ticks and the unit's name for an axis whose largest value is `max`:
    /// the largest prefix `max` reaches.
    pub(crate) fn scale(self, max: f64) -> (f64, String) {
        let pick = |steps: &[(f64, &str)]| {
            let (d, u) = steps
                .iter()
                .rev()
                .find(|(d, _)| max >= *d)
                .unwrap_or(&steps[0]);
            (*d, u.to_string())
        };
        const K: f64 = 1024.0;
        match self {
            Self::Bytes => pick(&[(1.0, "B"), (K, "KiB"), (K * K, "MiB"), (K * K * K, "GiB")]),
            Self::BitsPerS => pick(&[
                (1.0, "bit/s"),
                (1e3, "kbit/s"),
                (1e6, "Mbit/s"),
                (1e9, "Gbit/s"),
            ]),
            Self::PerS(u) => {
                let (d, prefix) = pick(&[(1.0, ""), (1e3, "thousand "), (1e6, "million ")]);
                (d, format!("{prefix}{u}"))
            }
            Self::Fixed(u) => (1.0, u.to_string()),
        }
    }
}

pub(crate) fn fmt_bps_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        fmt_bps(v).replace(' ', "")
    }
}
/// A message rate as a bar's value: `2.5k msg/s`.
pub(crate) fn msgs_tick(v: f64) -> String {
    format!("{} msg/s", plots::si(v))
}
pub(crate) fn ms_tick(v: f64) -> String {
    format!("{}ms", plots::trim_num(v))
}
pub(crate) fn s_tick(v: f64) -> String {
    format!("{}s", plots::trim_num(v))
}
pub(crate) fn rtt_tick(v: f64) -> String {
    format!("{} RTT", plots::trim_num(v))
}
pub(crate) fn ratio_tick(v: f64) -> String {
    format!("{}×", plots::trim_num(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_units_follow_the_largest_value() {
        let mib = 1024.0 * 1024.0;
        assert_eq!(AxisUnit::Bytes.scale(13.8 * mib), (mib, "MiB".to_string()));
        assert_eq!(AxisUnit::Bytes.scale(900.0), (1.0, "B".to_string()));
        assert_eq!(AxisUnit::BitsPerS.scale(2.5e6), (1e6, "Mbit/s".to_string()));
        assert_eq!(
            AxisUnit::PerS("msg/s").scale(4_000.0),
            (1e3, "thousand msg/s".to_string())
        );
        assert_eq!(AxisUnit::Fixed("ms").scale(1e9), (1.0, "ms".to_string()));
        assert_eq!(AxisUnit::Bytes.scale(0.0), (1.0, "B".to_string()));
    }
}
