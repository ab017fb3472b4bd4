//! OpenMetrics text exposition of a results file: `--export openmetrics` writes
//! [`FILE_NAME`] (`metrics.prom`).
//!
//! One series per cell key ([`crate::figures::keys`]), labelled `scenario`, `workload`,
//! `transport`, `impl` (empty for transports with one implementation), `profile` and `client`
//! (`rust`, or the browser's name: `chromium`):
//!
//! - `wirebench_repeats{status}` (gauge): the key's repeats by outcome (`ok`, `failed`,
//!   `skipped`), so a key that never succeeded still appears.
//! - `wirebench_latency_seconds` (histogram): the delivered frames of every ok repeat of the key,
//!   pooled, read from the stored HdrHistograms into the fixed buckets [`LATENCY_BUCKETS_US`]
//!   (`_bucket{le}` cumulative, `_count`, `_sum`). A sample counts at the top of its
//!   HdrHistogram bucket, as the reported percentiles do. Frames that never arrived are not in
//!   it: `wirebench_loss_ratio` counts them.
//! - one gauge per metric of [`crate::figures::METRICS`] ([`GAUGES`]): the median over the ok
//!   repeats, the figure summary.md and the other exports show, in base units (seconds, bytes,
//!   bytes per second, ratios). A key without the figure has no sample.
//!
//! The text is OpenMetrics 1.0 (`# UNIT`, the `# EOF` terminator) without `_created` series or
//! timestamps, which keeps it valid Prometheus text format 0.0.4 too (that format reads
//! `# UNIT` and `# EOF` as comments): `promtool check metrics < metrics.prom` passes, and
//! node_exporter's textfile collector reads the file as it is.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::figures::{self, KeyCells, Metric};
use crate::metrics as m;
use crate::model::Results;

/// The file the export writes.
pub const FILE_NAME: &str = "metrics.prom";

/// Upper bounds of the latency histogram's buckets, µs (written in seconds: `le="0.00001"` …
/// `le="10.0"`), then `+Inf`: 10 µs to 10 s in 1–2.5–5 steps.
pub const LATENCY_BUCKETS_US: &[u64] = &[
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// How a metric of [`figures::METRICS`] is exposed: its family name (unit suffix included),
/// OpenMetrics unit, and the divisor from the metric's unit to the base unit.
#[derive(Debug, Clone, Copy)]
pub struct Gauge {
    /// The metric read (its median over the ok repeats).
    pub metric: &'static Metric,
    /// Metric family name.
    pub name: &'static str,
    /// `# UNIT` (empty: none; the name ends with it otherwise).
    pub unit: &'static str,
    /// The metric's value divided by this is in the base unit (µs → s: 1e6).
    pub divisor: f64,
}

const fn gauge(
    metric: &'static Metric,
    name: &'static str,
    unit: &'static str,
    divisor: f64,
) -> Gauge {
    Gauge {
        metric,
        name,
        unit,
        divisor,
    }
}

/// The gauge of every metric of [`figures::METRICS`], in its order.
pub const GAUGES: &[Gauge] = &[
    gauge(
        m::LATENCY_P50,
        "wirebench_latency_p50_seconds",
        "seconds",
        1e6,
    ),
    gauge(
        m::LATENCY_P90,
        "wirebench_latency_p90_seconds",
        "seconds",
        1e6,
    ),
    gauge(
        m::LATENCY_P99,
        "wirebench_latency_p99_seconds",
        "seconds",
        1e6,
    ),
    gauge(
        m::LATENCY_P999,
        "wirebench_latency_p999_seconds",
        "seconds",
        1e6,
    ),
    gauge(
        m::LATENCY_MAX,
        "wirebench_latency_max_seconds",
        "seconds",
        1e6,
    ),
    gauge(m::MSGS_PER_S, "wirebench_messages_per_second", "", 1.0),
    gauge(
        m::GOODPUT,
        "wirebench_goodput_bytes_per_second",
        "bytes_per_second",
        8.0,
    ),
    gauge(m::SETUP_MS, "wirebench_setup_seconds", "seconds", 1e3),
    gauge(m::SETUP_RTTS, "wirebench_setup_round_trips", "", 1.0),
    gauge(m::LOSS_RATIO, "wirebench_loss_ratio", "ratio", 1.0),
    gauge(
        m::SERVER_CPU,
        "wirebench_server_cpu_seconds",
        "seconds",
        1.0,
    ),
    gauge(
        m::CLIENT_CPU,
        "wirebench_client_cpu_seconds",
        "seconds",
        1.0,
    ),
    gauge(
        m::SERVER_RSS_PEAK,
        "wirebench_server_rss_peak_bytes",
        "bytes",
        1.0,
    ),
    gauge(
        m::SERVER_RSS_PER_CONN,
        "wirebench_server_rss_per_connection_bytes",
        "bytes",
        1.0,
    ),
    gauge(m::OVERHEAD, "wirebench_wire_overhead_ratio", "ratio", 1.0),
];

/// The OpenMetrics text of a results file (the module's documentation says what it holds).
pub fn text(r: &Results) -> String {
    let keys = figures::keys(r);
    let labels: Vec<String> = keys.iter().map(labels).collect();
    let mut out = String::new();
    let mut lines = String::new();
    for (k, l) in keys.iter().zip(&labels) {
        for (status, n) in [
            ("ok", k.ok.len()),
            ("failed", k.failed.len()),
            ("skipped", k.skipped.len()),
        ] {
            let _ = writeln!(lines, "wirebench_repeats{{{l},status=\"{status}\"}} {n}");
        }
    }
    family(
        &mut out,
        ("wirebench_repeats", "gauge", ""),
        "Repeats of the cell key by outcome (ok, failed, skipped).",
        &lines,
    );
    lines.clear();
    for (k, l) in keys.iter().zip(&labels) {
        if let Some(b) = Buckets::pooled(k) {
            b.write(&mut lines, "wirebench_latency_seconds", l);
        }
    }
    family(
        &mut out,
        ("wirebench_latency_seconds", "histogram", "seconds"),
        "Latency of the delivered frames of every ok repeat of the cell key, pooled (lost \
         frames are not in it: see wirebench_loss_ratio).",
        &lines,
    );
    for g in GAUGES {
        lines.clear();
        for (k, l) in keys.iter().zip(&labels) {
            if let Some(s) = k.spread(g.metric) {
                let _ = writeln!(lines, "{}{{{l}}} {}", g.name, float(s.median / g.divisor));
            }
        }
        let unit = if g.unit.is_empty() {
            String::new()
        } else {
            format!(", in {}", g.unit.replace('_', " "))
        };
        let help = format!(
            "{}, median over the ok repeats of the cell key (metric {}{unit}).",
            g.metric.label, g.metric.id
        );
        family(&mut out, (g.name, "gauge", g.unit), &help, &lines);
    }
    out.push_str("# EOF\n");
    out
}

/// Appends a metric family (`# HELP`, `# TYPE`, `# UNIT` when `unit` is set, then `samples`);
/// nothing when it has no sample. `head` is (name, type, unit).
fn family(out: &mut String, head: (&str, &str, &str), help: &str, samples: &str) {
    if samples.is_empty() {
        return;
    }
    let (name, kind, unit) = head;
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if !unit.is_empty() {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
    out.push_str(samples);
}

/// The labels of a cell key's series, `scenario="…",workload="…",…`, values escaped.
fn labels(k: &KeyCells<'_>) -> String {
    let first = k.ok.iter().chain(k.not_ok()).next();
    let implementation = first
        .and_then(|c| c.implementation.as_deref())
        .unwrap_or("");
    let client = first
        .and_then(|c| c.client.as_deref())
        .map_or("rust", |c| c.split_whitespace().next().unwrap_or(c));
    [
        ("scenario", k.scenario),
        ("workload", k.workload.as_str()),
        ("transport", k.transport),
        ("impl", implementation),
        ("profile", k.profile),
        ("client", client),
    ]
    .iter()
    .map(|(name, v)| format!("{name}=\"{}\"", escape_label(v)))
    .collect::<Vec<_>>()
    .join(",")
}

/// A label value escaped: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// A `# HELP` text escaped: backslash and line feed (what both text formats agree on).
fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

/// A number as both text formats write it: `+Inf`, `-Inf`, `NaN`, else a decimal with a
/// fraction part (`1.0`, `0.00025`), OpenMetrics' canonical form for `le`.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = v.to_string();
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// A latency histogram in the fixed buckets: per-bucket counts (the last one `+Inf`), the
/// number of samples and their sum, µs.
#[derive(Debug, Clone, PartialEq)]
struct Buckets {
    counts: Vec<u64>,
    count: u64,
    sum_us: f64,
}

impl Buckets {
    /// The delivered frames of the key's ok repeats, pooled; `None` when no ok repeat has a
    /// latency histogram, or when one of them cannot be decoded (a pool without it would
    /// misstate the key; report.html names such a histogram, the gauges still show the stored
    /// percentiles).
    fn pooled(k: &KeyCells<'_>) -> Option<Self> {
        let mut pooled: Option<Self> = None;
        for c in &k.ok {
            let Some(l) = &c.latency_us else { continue };
            let h = l.histogram().ok()?;
            pooled
                .get_or_insert_with(|| Self {
                    counts: vec![0; LATENCY_BUCKETS_US.len() + 1],
                    count: 0,
                    sum_us: 0.0,
                })
                .add(&h);
        }
        pooled
    }

    /// Adds a histogram's samples, each at the top of its HdrHistogram bucket.
    fn add(&mut self, h: &Histogram<u64>) {
        for v in h.iter_recorded() {
            let top = v.value_iterated_to();
            let n = v.count_at_value();
            let i = LATENCY_BUCKETS_US.partition_point(|b| *b < top);
            if let Some(c) = self.counts.get_mut(i) {
                *c += n;
            }
            self.count += n;
            self.sum_us += top as f64 * n as f64;
        }
    }

    /// Appends `_bucket` (cumulative, `+Inf` last), `_count` and `_sum` series.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (i, n) in self.counts.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BUCKETS_US
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| float(*b as f64 / 1e6));
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", float(self.sum_us / 1e6));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shown_metric_has_a_gauge_in_base_units() {
        assert_eq!(GAUGES.len(), figures::METRICS.len());
        for (g, m) in GAUGES.iter().zip(figures::METRICS) {
            assert_eq!(g.metric.id, m.id);
            assert!(g.name.starts_with("wirebench_"), "{}", g.name);
            assert!(g.unit.is_empty() || g.name.ends_with(&format!("_{}", g.unit)));
            assert!(
                !g.name.contains("_us") && !g.name.contains("_ms"),
                "{}",
                g.name
            );
        }
    }

    #[test]
    fn values_and_labels_are_written_as_the_formats_want() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(250.0 / 1e6), "0.00025");
        assert_eq!(float(10.0 / 1e6), "0.00001");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(escape_label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(escape_help("x\\y\nz"), r"x\\y\nz");
    }

    #[test]
    fn samples_fall_in_the_bucket_their_value_reaches() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
        for v in [10, 11, 1_000, 20_000_000] {
            h.record(v).expect("in range");
        }
        let mut b = Buckets {
            counts: vec![0; LATENCY_BUCKETS_US.len() + 1],
            count: 0,
            sum_us: 0.0,
        };
        b.add(&h);
        assert_eq!(b.counts[0], 1, "10 µs ≤ le 10 µs");
        assert_eq!(b.counts[1], 1, "11 µs in le 25 µs");
        assert_eq!(b.counts[6], 1, "1 ms ≤ le 1 ms");
        assert_eq!(b.counts[LATENCY_BUCKETS_US.len()], 1, "20 s only in +Inf");
        assert_eq!(b.count, 4);
        assert!(b.sum_us >= 20_001_021.0, "{}", b.sum_us);
    }
}
