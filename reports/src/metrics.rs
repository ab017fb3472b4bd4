//! The metric catalogue: every figure the reports read from a cell (one repeat), defined once.
//!
//! A [`Metric`] says how a figure is read from a cell ([`Metric::extract`]), what it is called
//! (`id`, `label`, `unit`), which way is better, what kind of quantity it is, and how it is
//! printed ([`Metric::format`]). Each metric is a named constant (`&'static Metric`) and
//! every output takes its metrics from here:
//!
//! - the tables, charts and exports ([`crate::figures::METRICS`] lists the ones they show, in
//!   display order; the id is the CSV column and export measure: `latency_p50_us`);
//! - the FAQ verdicts and `recommend` (the id and unit are written into their evidence);
//! - `compare` ([`crate::compare::CompareMetric`] names the metrics it judges; the ones it
//!   judges carry a [`CompareAlias`]: the `--metric` id and the label of its tables, `p50`
//!   and `latency p50`).
//!
//! This module sits just above [`crate::model`] and [`crate::format`] and imports nothing
//! else from the crate.

use crate::format::{bytes, bytes_mib1, bytes_mib2, count, fmt_bps, fmt_us};
use crate::model::{Cell, Latency, MeasuredWindow};

/// Which direction of a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Lower is better (latency, setup time, CPU, memory, overhead, frames missed).
    Smaller,
    /// Higher is better (throughput).
    Bigger,
}

/// What kind of quantity a metric is, so CI exports can sort it into the right document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A latency percentile, µs.
    Latency,
    /// Connection setup time.
    Setup,
    /// Messages or bytes per second.
    Throughput,
    /// Frames lost, late or out of order.
    Delivery,
    /// CPU time or memory.
    Resources,
    /// Bytes on the wire.
    Wire,
}

/// The name `compare` gives a metric it judges (a public contract: `--metric` and the
/// `metric` field of its JSON), and how its tables print it.
#[derive(Debug, Clone, Copy)]
pub struct CompareAlias {
    /// `--metric` id and JSON name (`p50`).
    pub id: &'static str,
    /// Label in compare's tables (`latency p50`).
    pub label: &'static str,
    /// How compare's tables print a value, where they differ from [`Metric::format`]
    /// (`None`: the metric's own format).
    pub format: Option<fn(f64) -> String>,
}

/// One figure that can be read from a cell (one repeat).
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Stable id: CSV column, export measure, evidence id (`latency_p50_us`).
    pub id: &'static str,
    /// Short human label (`p50 latency`).
    pub label: &'static str,
    /// Unit as written into evidence and exports (`µs`, `bit/s`, `fraction`).
    pub unit: &'static str,
    /// Direction of improvement.
    pub better: Better,
    /// Kind of quantity.
    pub kind: MetricKind,
    /// Reads the figure from one cell; `None` where the cell has no such figure.
    pub extract: fn(&Cell) -> Option<f64>,
    /// Prints a value for people, with its unit where the column does not say it.
    pub format: fn(f64) -> String,
    /// Why the figure is null in a cell that has the quantity (a latency percentile the
    /// delivered fraction or the sample count cannot give: [`Latency::gap`]).
    pub gap: Option<fn(&Cell) -> Option<String>>,
    /// The name `compare` judges it under, for the metrics it judges.
    pub compare: Option<CompareAlias>,
}

impl Metric {
    /// The figure of one cell, when it has a finite one.
    pub fn get_from(&self, c: &Cell) -> Option<f64> {
        (self.extract)(c).filter(|v| v.is_finite())
    }

    /// Why the figure is null in this cell, when the cell has the quantity but not this
    /// figure of it (`1500 samples; p99.9 needs at least 10000`).
    pub fn gap(&self, c: &Cell) -> Option<String> {
        self.gap.and_then(|g| g(c))
    }

    /// Prints a value ([`Metric::format`]).
    pub fn show(&self, v: f64) -> String {
        (self.format)(v)
    }

    /// Whether a larger value is worse.
    pub fn higher_is_worse(&self) -> bool {
        self.better == Better::Smaller
    }

    /// The id `compare` uses: its alias, else the metric's id.
    pub fn compare_id(&self) -> &'static str {
        self.compare.map_or(self.id, |a| a.id)
    }

    /// The label compare's tables use: its alias's, else the metric's label.
    pub fn compare_label(&self) -> &'static str {
        self.compare.map_or(self.label, |a| a.label)
    }

    /// Prints a value as compare's tables do.
    pub fn compare_format(&self, v: f64) -> String {
        match self.compare.and_then(|a| a.format) {
            Some(f) => f(v),
            None => self.show(v),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading helpers

fn lat(c: &Cell, f: fn(&Latency) -> Option<u64>) -> Option<f64> {
    c.latency_us.as_ref().and_then(f).map(|v| v as f64)
}

/// Number of client connections of a cell (`params.clients`), when given and positive.
pub fn clients(c: &Cell) -> Option<f64> {
    c.params
        .get("clients")
        .and_then(|v| v.as_f64())
        .filter(|n| n.is_finite() && *n >= 1.0)
}

/// The measured duration of a cell in minutes (`params.duration_ms`), when positive.
pub fn measured_minutes(c: &Cell) -> Option<f64> {
    c.params
        .get("duration_ms")
        .and_then(|v| v.as_f64())
        .filter(|d| *d > 0.0)
        .map(|d| d / 60_000.0)
}

/// A number at a JSON path of the cell as written to `results.json` (`/idle/…`,
/// `/delivery/order_violations`): figures that workloads document in `docs/results.md`, read
/// by their public names.
pub fn field(c: &Cell, path: &str) -> Option<f64> {
    serde_json::to_value(c).ok()?.pointer(path)?.as_f64()
}

/// Why a cell's latency maximum (or mean) is null: frames were lost, and ranked after every
/// delivered one.
fn max_gap(c: &Cell) -> Option<String> {
    let l = c.latency_us.as_ref()?;
    (l.lost > 0).then(|| {
        format!(
            "{} of {} frames lost: the maximum is beyond them",
            l.lost, l.count
        )
    })
}

/// Server peak RSS / clients, bytes.
fn rss_per_client(c: &Cell) -> Option<f64> {
    let rss = c.resources.as_ref()?.server_rss_peak_bytes? as f64;
    Some(rss / clients(c)?)
}

/// A media frame later than this counts as lost (150 ms, one-way).
pub const MEDIA_DEADLINE_US: u64 = 150_000;

/// The deadline of [`MISSED_3RTT`], in round trips of the profile: a frame needing more than
/// two round trips beyond the path's own is late for real-time use (a loss repaired by about
/// one retransmission round trip fits, a retransmission timeout or a second loss does not).
pub const DEADLINE_RTTS: f64 = 3.0;

/// The RTT a cell's profile configures (`params.link`: its one-way `delay_ms` each way, with
/// the `up` / `down` overrides), ms; `None` on an unshaped link.
pub fn link_rtt_ms(c: &Cell) -> Option<f64> {
    let link = c.params.get("link")?;
    let base = link.get("delay_ms").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let way = |dir: &str| {
        link.get(dir)
            .and_then(|o| o.get("delay_ms"))
            .and_then(|v| v.as_f64())
            .unwrap_or(base)
    };
    let rtt = way("up") + way("down");
    (rtt > 0.0).then_some(rtt)
}

/// Fraction of the frames sent (`delivery.sent`, else the frames the latency counts) that did
/// not arrive within `deadline_us`, lost ones included, from the stored histogram.
pub fn missed_within(c: &Cell, deadline_us: u64) -> Option<f64> {
    let sent = match (&c.delivery, &c.latency_us) {
        (Some(d), _) => d.sent,
        (None, Some(l)) => l.count,
        (None, None) => return None,
    };
    if sent == 0 {
        return None;
    }
    let on_time = match &c.latency_us {
        Some(l) => l.histogram().ok()?.count_between(0, deadline_us),
        None => 0,
    };
    Some(1.0 - (on_time.min(sent) as f64 / sent as f64))
}

/// [`missed_within`] [`DEADLINE_RTTS`] × the profile's RTT.
fn missed_within_rtts(c: &Cell) -> Option<f64> {
    let deadline_us = DEADLINE_RTTS * link_rtt_ms(c)? * 1000.0;
    missed_within(c, deadline_us.round() as u64)
}

fn ms2(v: f64) -> String {
    format!("{v:.2} ms")
}

fn seconds2(v: f64) -> String {
    format!("{v:.2} s")
}

fn percent(v: f64) -> String {
    format!("{:.2} %", v * 100.0)
}

// ---------------------------------------------------------------------------------------------
// Latency

/// Median latency, µs.
pub const LATENCY_P50: &Metric = &Metric {
    id: "latency_p50_us",
    label: "p50 latency",
    unit: "µs",
    better: Better::Smaller,
    kind: MetricKind::Latency,
    extract: |c| lat(c, |l| l.p50),
    format: fmt_us,
    gap: Some(|c| c.latency_us.as_ref()?.gap(0.5)),
    compare: Some(CompareAlias {
        id: "p50",
        label: "latency p50",
        format: None,
    }),
};
/// 90th percentile latency, µs.
pub const LATENCY_P90: &Metric = &Metric {
    id: "latency_p90_us",
    label: "p90 latency",
    extract: |c| lat(c, |l| l.p90),
    gap: Some(|c| c.latency_us.as_ref()?.gap(0.9)),
    compare: None,
    ..*LATENCY_P50
};
/// 99th percentile latency, µs.
pub const LATENCY_P99: &Metric = &Metric {
    id: "latency_p99_us",
    label: "p99 latency",
    extract: |c| lat(c, |l| l.p99),
    gap: Some(|c| c.latency_us.as_ref()?.gap(0.99)),
    compare: Some(CompareAlias {
        id: "p99",
        label: "latency p99",
        format: None,
    }),
    ..*LATENCY_P50
};
/// 99.9th percentile latency, µs.
pub const LATENCY_P999: &Metric = &Metric {
    id: "latency_p999_us",
    label: "p99.9 latency",
    extract: |c| lat(c, |l| l.p999),
    gap: Some(|c| c.latency_us.as_ref()?.gap(0.999)),
    compare: None,
    ..*LATENCY_P50
};
/// Largest latency, µs (null when frames were lost).
pub const LATENCY_MAX: &Metric = &Metric {
    id: "latency_max_us",
    label: "max latency",
    extract: |c| lat(c, |l| l.max),
    gap: Some(max_gap),
    compare: None,
    ..*LATENCY_P50
};

// ---------------------------------------------------------------------------------------------
// Throughput and setup

/// Messages per second delivered.
pub const MSGS_PER_S: &Metric = &Metric {
    id: "msgs_per_s",
    label: "messages/s",
    unit: "msg/s",
    better: Better::Bigger,
    kind: MetricKind::Throughput,
    extract: |c| c.throughput.as_ref().and_then(|t| t.msgs_per_s),
    format: count,
    gap: None,
    compare: Some(CompareAlias {
        id: "msgs_per_s",
        label: "msgs/s",
        format: Some(|v| format!("{v:.0}/s")),
    }),
};
/// Goodput, bit/s (whole frames, header included).
pub const GOODPUT: &Metric = &Metric {
    id: "goodput_bps",
    label: "goodput",
    unit: "bit/s",
    better: Better::Bigger,
    kind: MetricKind::Throughput,
    extract: |c| c.throughput.as_ref().and_then(|t| t.goodput_bps),
    format: fmt_bps,
    gap: None,
    compare: Some(CompareAlias {
        id: "goodput",
        label: "goodput",
        format: None,
    }),
};
/// Connection setup time, ms.
pub const SETUP_MS: &Metric = &Metric {
    id: "setup_ms",
    label: "setup time",
    unit: "ms",
    better: Better::Smaller,
    kind: MetricKind::Setup,
    extract: |c| c.setup_ms,
    format: ms2,
    gap: None,
    compare: Some(CompareAlias {
        id: "setup_ms",
        label: "setup",
        format: None,
    }),
};
/// Setup time in round trips of the profile.
pub const SETUP_RTTS: &Metric = &Metric {
    id: "setup_rtts",
    label: "setup round trips",
    unit: "RTT",
    better: Better::Smaller,
    kind: MetricKind::Setup,
    extract: |c| c.setup_rtts,
    format: |v| format!("{v:.2}"),
    gap: None,
    compare: None,
};

// ---------------------------------------------------------------------------------------------
// Delivery

/// Frames lost / frames sent.
pub const LOSS_RATIO: &Metric = &Metric {
    id: "loss_ratio",
    label: "loss ratio",
    unit: "lost/sent",
    better: Better::Smaller,
    kind: MetricKind::Delivery,
    extract: |c| {
        c.delivery
            .as_ref()
            .filter(|d| d.sent > 0)
            .map(|d| d.lost as f64 / d.sent as f64)
    },
    format: percent,
    gap: None,
    compare: None,
};
/// Fraction of frames sent that did not arrive within [`MEDIA_DEADLINE_US`] (lost or late).
pub const MISSED_150MS: &Metric = &Metric {
    id: "missed_150ms_fraction",
    label: "frames missed at 150 ms",
    unit: "fraction",
    better: Better::Smaller,
    kind: MetricKind::Delivery,
    extract: |c| missed_within(c, MEDIA_DEADLINE_US),
    format: percent,
    gap: None,
    compare: None,
};
/// Fraction of frames sent that did not arrive within [`DEADLINE_RTTS`] (3) × the profile's
/// RTT, lost ones included: a figure over every frame sent, the same for reliable and
/// unreliable transports (`hol-blocking`, `recommend --loss-tolerant`). Null on an unshaped
/// link.
pub const MISSED_3RTT: &Metric = &Metric {
    id: "missed_3rtt_fraction",
    label: "frames missed at 3 RTT",
    unit: "fraction",
    better: Better::Smaller,
    kind: MetricKind::Delivery,
    extract: missed_within_rtts,
    format: percent,
    gap: None,
    compare: None,
};
/// Arrivals out of the server's order (collab's `delivery.order_violations`).
pub const ORDER_VIOLATIONS: &Metric = &Metric {
    id: "order_violations",
    label: "order violations",
    unit: "count",
    better: Better::Smaller,
    kind: MetricKind::Delivery,
    extract: |c| field(c, "/delivery/order_violations"),
    format: count,
    gap: None,
    compare: None,
};

// ---------------------------------------------------------------------------------------------
// Resources

/// Server agent CPU time, s.
pub const SERVER_CPU: &Metric = &Metric {
    id: "server_cpu_s",
    label: "server CPU",
    unit: "s",
    better: Better::Smaller,
    kind: MetricKind::Resources,
    extract: |c| c.resources.as_ref().and_then(|r| r.server_cpu_s),
    format: seconds2,
    gap: None,
    compare: Some(CompareAlias {
        id: "server_cpu_s",
        label: "server CPU",
        format: Some(|v| format!("{v:.3} s")),
    }),
};
/// Client agent(s) CPU time, s.
pub const CLIENT_CPU: &Metric = &Metric {
    id: "client_cpu_s",
    label: "client CPU",
    extract: |c| c.resources.as_ref().and_then(|r| r.client_cpu_s),
    compare: None,
    ..*SERVER_CPU
};
/// Server agent peak RSS, bytes.
pub const SERVER_RSS_PEAK: &Metric = &Metric {
    id: "server_rss_peak_bytes",
    label: "server peak RSS",
    unit: "bytes",
    better: Better::Smaller,
    kind: MetricKind::Resources,
    extract: |c| {
        c.resources
            .as_ref()
            .and_then(|r| r.server_rss_peak_bytes)
            .map(|b| b as f64)
    },
    format: bytes,
    gap: None,
    compare: None,
};
/// Server peak RSS / `params.clients`, bytes (only where `clients` is set).
pub const SERVER_RSS_PER_CONN: &Metric = &Metric {
    id: "server_rss_per_conn_bytes",
    label: "server RSS per connection",
    extract: rss_per_client,
    compare: Some(CompareAlias {
        id: "rss_per_conn",
        label: "server RSS/conn",
        format: Some(bytes_mib1),
    }),
    ..*SERVER_RSS_PEAK
};
/// Server peak RSS divided by the cell's clients, bytes, as the FAQ verdicts name it
/// (includes the server's base footprint, the same for every transport).
pub const SERVER_BYTES_PER_CLIENT: &Metric = &Metric {
    id: "server_rss_bytes_per_client",
    label: "server memory per client",
    format: bytes_mib2,
    compare: None,
    ..*SERVER_RSS_PER_CONN
};
/// Server memory per held connection, bytes: the idle workload's
/// `idle.server_rss_per_connection_bytes` (RSS growth from no client to all connected, per
/// connection), else peak RSS / clients.
pub const SERVER_BYTES_PER_CONN: &Metric = &Metric {
    id: "server_rss_bytes_per_connection",
    label: "server memory per connection",
    extract: |c| {
        field(c, "/idle/server_rss_per_connection_bytes")
            .or_else(|| SERVER_BYTES_PER_CLIENT.get_from(c))
    },
    ..*SERVER_BYTES_PER_CLIENT
};
/// `in_window` of the measured window's marks (`resources.window`) per client per minute where
/// the cell has them, else `whole` (the whole cell's count: start-up, setup, warm-up and drain
/// included) over the measured minutes, as cells recorded before the marks.
fn per_client_minute(
    c: &Cell,
    in_window: impl Fn(&MeasuredWindow) -> Option<f64>,
    whole: impl Fn(&Cell) -> Option<f64>,
) -> Option<f64> {
    let window = c.resources.as_ref().and_then(|r| r.window.as_ref());
    if let Some(w) = window.filter(|w| w.duration_ms > 0.0) {
        if let Some(v) = in_window(w) {
            return Some(v / clients(c)? / (w.duration_ms / 60_000.0));
        }
    }
    Some(whole(c)? / clients(c)? / measured_minutes(c)?)
}

/// Server CPU time per client per minute, ms: between the measured window's marks
/// (`resources.window`) where the cell has them, else the whole cell's CPU (start-up, setup,
/// warm-up and drain included) over the measured minutes, as cells before the marks recorded.
pub const SERVER_CPU_MS_PER_CLIENT_MIN: &Metric = &Metric {
    id: "server_cpu_ms_per_client_min",
    label: "server CPU per client-minute",
    unit: "ms",
    better: Better::Smaller,
    kind: MetricKind::Resources,
    extract: |c| {
        per_client_minute(
            c,
            |w| Some(w.server_cpu_s? * 1000.0),
            |c| Some(c.resources.as_ref()?.server_cpu_s? * 1000.0),
        )
    },
    format: |v| format!("{v:.1} ms"),
    gap: None,
    compare: None,
};

// ---------------------------------------------------------------------------------------------
// Wire

/// Wire bytes / payload bytes, both directions.
pub const OVERHEAD: &Metric = &Metric {
    id: "overhead_ratio",
    label: "wire overhead",
    unit: "wire/payload",
    better: Better::Smaller,
    kind: MetricKind::Wire,
    extract: |c| c.wire.as_ref().and_then(|w| w.overhead_ratio),
    format: |v| format!("{v:.3}×"),
    gap: None,
    compare: None,
};
/// Bytes on the wire (both directions) per client per minute: between the measured window's
/// marks (`resources.window`) where the cell has them, as server CPU is taken; else the whole
/// cell's bytes (connection setup, warm-up and drain included) over the measured minutes.
pub const WIRE_BYTES_PER_CLIENT_MIN: &Metric = &Metric {
    id: "wire_bytes_per_client_min",
    label: "wire bytes per client-minute",
    unit: "bytes",
    better: Better::Smaller,
    kind: MetricKind::Wire,
    extract: |c| {
        per_client_minute(
            c,
            |w| Some((w.wire_bytes_up? + w.wire_bytes_down?) as f64),
            |c| {
                let w = c.wire.as_ref()?;
                Some((w.bytes_up? + w.bytes_down?) as f64)
            },
        )
    },
    format: bytes_mib2,
    gap: None,
    compare: None,
};
/// Keep-alive bytes per connection-hour of a quiet cell: the idle workload's
/// `idle.keepalive_bytes_per_connection_hour` (IP bytes both ways while nothing is sent),
/// else all wire bytes per client-hour.
pub const WIRE_BYTES_PER_CONN_HOUR: &Metric = &Metric {
    id: "keepalive_bytes_per_conn_hour",
    label: "wire bytes per connection-hour",
    extract: |c| {
        field(c, "/idle/keepalive_bytes_per_connection_hour")
            .or_else(|| WIRE_BYTES_PER_CLIENT_MIN.get_from(c).map(|b| b * 60.0))
    },
    ..*WIRE_BYTES_PER_CLIENT_MIN
};

// ---------------------------------------------------------------------------------------------
// Recovery

/// Link flap: from the link's return to the frame that ended the slowest client's longest
/// silence, ms (the flap workload's `flap.recovery_ms`).
pub const FLAP_RECOVERY_MS: &Metric = &Metric {
    id: "flap_recovery_ms",
    label: "recovery after a link cut",
    unit: "ms",
    better: Better::Smaller,
    kind: MetricKind::Delivery,
    extract: |c| c.flap.as_ref()?.recovery_ms,
    format: |v| format!("{v:.0} ms"),
    gap: None,
    compare: None,
};

/// Every metric of the catalogue (for lookups by id and the uniqueness test).
pub const ALL: &[&Metric] = &[
    LATENCY_P50,
    LATENCY_P90,
    LATENCY_P99,
    LATENCY_P999,
    LATENCY_MAX,
    MSGS_PER_S,
    GOODPUT,
    SETUP_MS,
    SETUP_RTTS,
    LOSS_RATIO,
    MISSED_150MS,
    MISSED_3RTT,
    ORDER_VIOLATIONS,
    SERVER_CPU,
    CLIENT_CPU,
    SERVER_RSS_PEAK,
    SERVER_RSS_PER_CONN,
    SERVER_BYTES_PER_CLIENT,
    SERVER_BYTES_PER_CONN,
    SERVER_CPU_MS_PER_CLIENT_MIN,
    OVERHEAD,
    WIRE_BYTES_PER_CLIENT_MIN,
    WIRE_BYTES_PER_CONN_HOUR,
    FLAP_RECOVERY_MS,
];

/// Looks a metric of the catalogue up by id.
pub fn by_id(id: &str) -> Option<&'static Metric> {
    ALL.iter().copied().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MeasuredWindow, Resources};

    #[test]
    fn ids_and_compare_ids_are_unique() {
        for (i, m) in ALL.iter().enumerate() {
            for o in &ALL[i + 1..] {
                assert_ne!(m.id, o.id);
                if m.compare.is_some() && o.compare.is_some() {
                    assert_ne!(m.compare_id(), o.compare_id(), "{} / {}", m.id, o.id);
                }
            }
            assert_eq!(by_id(m.id).map(|x| x.id), Some(m.id));
        }
        assert!(by_id("latency_p95_us").is_none());
    }

    #[test]
    fn compare_prints_as_its_tables_did() {
        assert_eq!(MSGS_PER_S.show(4050.4), "4,050");
        assert_eq!(MSGS_PER_S.compare_format(4050.4), "4050/s");
        assert_eq!(SERVER_CPU.show(0.4104), "0.41 s");
        assert_eq!(SERVER_CPU.compare_format(0.4104), "0.410 s");
        assert_eq!(LATENCY_P50.compare_format(1200.0), "1.20 ms");
        assert_eq!(SETUP_MS.compare_label(), "setup");
        assert_eq!(LATENCY_P90.compare_id(), "latency_p90_us");
        assert!(!GOODPUT.higher_is_worse() && LATENCY_P99.higher_is_worse());
    }

    /// Per-client-minute CPU and wire bytes come from the measured window's marks when the
    /// cell has them (set-up and warm-up left out), else from the whole cell.
    #[test]
    fn per_client_minute_figures_use_the_measured_window() {
        let mut c: Cell = serde_json::from_value(serde_json::json!({
            "scenario": "s", "workload": "push", "transport": "sse", "profile": "p",
            "repeat": 1, "status": "ok",
            "params": {"clients": 10, "duration_ms": 60000},
            "wire": {"bytes_up": 12000, "bytes_down": 48000},
            "resources": {"server_cpu_s": 3.0}
        }))
        .unwrap();
        // Whole cell: 60,000 bytes and 3 s over 10 clients and one minute.
        assert_eq!(WIRE_BYTES_PER_CLIENT_MIN.get_from(&c), Some(6000.0));
        assert_eq!(SERVER_CPU_MS_PER_CLIENT_MIN.get_from(&c), Some(300.0));
        c.resources = Some(Resources {
            server_cpu_s: Some(3.0),
            window: Some(MeasuredWindow {
                duration_ms: 30_000.0,
                server_cpu_s: Some(0.5),
                wire_bytes_up: Some(1000),
                wire_bytes_down: Some(4000),
                ..MeasuredWindow::default()
            }),
            ..Resources::default()
        });
        // Window: 5,000 bytes and 0.5 s over 10 clients and half a minute.
        assert_eq!(WIRE_BYTES_PER_CLIENT_MIN.get_from(&c), Some(1000.0));
        assert_eq!(SERVER_CPU_MS_PER_CLIENT_MIN.get_from(&c), Some(100.0));
    }
}
