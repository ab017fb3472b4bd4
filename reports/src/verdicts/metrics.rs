//! The figures FAQ rules read from a cell (one repeat): entries of the metric catalogue
//! ([`crate::metrics`]), whose id and unit are written into the evidence.

use crate::metrics::Metric;

pub use crate::metrics::{
    LATENCY_P50 as P50, LATENCY_P99 as P99, MEDIA_DEADLINE_US, MISSED_150MS, ORDER_VIOLATIONS,
    SERVER_BYTES_PER_CLIENT, SERVER_BYTES_PER_CONN, SERVER_CPU_MS_PER_CLIENT_MIN, SETUP_MS,
    SETUP_RTTS, WIRE_BYTES_PER_CLIENT_MIN, WIRE_BYTES_PER_CONN_HOUR,
};

/// A figure an FAQ rule reads: an entry of the catalogue.
pub type FaqMetric = &'static Metric;
