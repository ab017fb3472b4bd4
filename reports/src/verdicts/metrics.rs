//! The figures FAQ rules read from a cell (one repeat), each with the id and unit written into
//! the evidence.

use crate::figures;
use crate::model::Cell;

/// A media frame later than this counts as lost (150 ms, one-way).
pub const MEDIA_DEADLINE_US: u64 = 150_000;

// ---------------------------------------------------------------------------------------------
// Metrics read from cells

/// A figure read from one cell (one repeat).
#[derive(Debug, Clone, Copy)]
pub struct FaqMetric {
    /// Id written into the evidence.
    pub id: &'static str,
    /// Unit written into the evidence.
    pub unit: &'static str,
    /// Reads the figure.
    pub get: fn(&Cell) -> Option<f64>,
}

pub(super) fn lat(c: &Cell, f: fn(&crate::model::Latency) -> Option<u64>) -> Option<f64> {
    c.latency_us.as_ref().and_then(f).map(|v| v as f64)
}

pub(super) fn measured_minutes(c: &Cell) -> Option<f64> {
    c.params
        .get("duration_ms")
        .and_then(|v| v.as_f64())
        .filter(|d| *d > 0.0)
        .map(|d| d / 60_000.0)
}

/// Median latency, µs.
pub const P50: FaqMetric = FaqMetric {
    id: "latency_p50_us",
    unit: "µs",
    get: |c| lat(c, |l| l.p50),
};
/// 99th percentile latency, µs.
pub const P99: FaqMetric = FaqMetric {
    id: "latency_p99_us",
    unit: "µs",
    get: |c| lat(c, |l| l.p99),
};
/// Fraction of frames sent that did not arrive within [`MEDIA_DEADLINE_US`] (lost or late).
pub const MISSED_150MS: FaqMetric = FaqMetric {
    id: "missed_150ms_fraction",
    unit: "fraction",
    get: missed_within_deadline,
};
/// Setup time, ms.
pub const SETUP_MS: FaqMetric = FaqMetric {
    id: "setup_ms",
    unit: "ms",
    get: |c| c.setup_ms,
};
/// Setup time in round trips of the profile.
pub const SETUP_RTTS: FaqMetric = FaqMetric {
    id: "setup_rtts",
    unit: "RTT",
    get: |c| c.setup_rtts,
};
/// A number at a JSON path of the cell as written to `results.json` (`/idle/…`,
/// `/delivery/order_violations`): figures that workloads document in `docs/results.md`, read
/// by their public names.
pub(super) fn field(c: &Cell, path: &str) -> Option<f64> {
    serde_json::to_value(c).ok()?.pointer(path)?.as_f64()
}

/// Server peak RSS divided by the cell's clients, bytes (includes the server's base
/// footprint, the same for every transport).
pub const SERVER_BYTES_PER_CLIENT: FaqMetric = FaqMetric {
    id: "server_rss_bytes_per_client",
    unit: "bytes",
    get: |c| {
        let rss = c.resources.as_ref()?.server_rss_peak_bytes? as f64;
        Some(rss / figures::clients(c)?)
    },
};
/// Server memory per held connection, bytes: the idle workload's
/// `idle.server_rss_per_connection_bytes` (RSS growth from no client to all connected, per
/// connection), else peak RSS / clients.
pub const SERVER_BYTES_PER_CONN: FaqMetric = FaqMetric {
    id: "server_rss_bytes_per_connection",
    unit: "bytes",
    get: |c| {
        field(c, "/idle/server_rss_per_connection_bytes")
            .or_else(|| SERVER_BYTES_PER_CLIENT.get_from(c))
    },
};
/// Server CPU time per client per measured minute, ms (setup included).
pub const SERVER_CPU_MS_PER_CLIENT_MIN: FaqMetric = FaqMetric {
    id: "server_cpu_ms_per_client_min",
    unit: "ms",
    get: |c| {
        let cpu = c.resources.as_ref()?.server_cpu_s?;
        Some(cpu * 1000.0 / figures::clients(c)? / measured_minutes(c)?)
    },
};
/// Bytes on the wire (both directions) per client per measured minute.
pub const WIRE_BYTES_PER_CLIENT_MIN: FaqMetric = FaqMetric {
    id: "wire_bytes_per_client_min",
    unit: "bytes",
    get: |c| {
        let w = c.wire.as_ref()?;
        let bytes = (w.bytes_up? + w.bytes_down?) as f64;
        Some(bytes / figures::clients(c)? / measured_minutes(c)?)
    },
};
/// Keep-alive bytes per connection-hour of a quiet cell: the idle workload's
/// `idle.keepalive_bytes_per_connection_hour` (IP bytes both ways while nothing is sent),
/// else all wire bytes per client-hour.
pub const WIRE_BYTES_PER_CONN_HOUR: FaqMetric = FaqMetric {
    id: "keepalive_bytes_per_conn_hour",
    unit: "bytes",
    get: |c| {
        field(c, "/idle/keepalive_bytes_per_connection_hour")
            .or_else(|| WIRE_BYTES_PER_CLIENT_MIN.get_from(c).map(|b| b * 60.0))
    },
};
/// Arrivals out of the server's order (collab's `delivery.order_violations`).
pub const ORDER_VIOLATIONS: FaqMetric = FaqMetric {
    id: "order_violations",
    unit: "count",
    get: |c| field(c, "/delivery/order_violations"),
};

impl FaqMetric {
    /// Reads the figure from a cell.
    pub fn get_from(&self, c: &Cell) -> Option<f64> {
        (self.get)(c).filter(|v| v.is_finite())
    }
}

/// Fraction of sent frames that arrived within the media deadline, from the stored histogram.
pub(super) fn missed_within_deadline(c: &Cell) -> Option<f64> {
    let sent = c.delivery.as_ref()?.sent;
    if sent == 0 {
        return None;
    }
    let on_time = match &c.latency_us {
        Some(l) => l.histogram().ok()?.count_between(0, MEDIA_DEADLINE_US),
        None => 0,
    };
    Some(1.0 - (on_time.min(sent) as f64 / sent as f64))
}
