//! The metrics `compare` judges (`--metric`), how each is read from a cell and printed, and
//! [`CompareError`] (which names metrics, and which parsing a metric returns).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::format::{bytes_mib1 as fmt_bytes, fmt_bps, fmt_us};
use crate::model::Cell;

use crate::stats::StatsError;

/// Errors from [`compare`](super::compare()). Each message names the cell, field or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The threshold is not a positive finite percentage.
    #[error("--threshold {0}: must be a positive number of percent (e.g. 10)")]
    InvalidThreshold(f64),
    /// Another option is out of range.
    #[error("invalid compare option: {0}")]
    InvalidOption(String),
    /// A `--metric` name is not known.
    #[error("unknown metric {name:?}; known metrics: {known}")]
    UnknownMetric {
        /// The name given.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },
    /// Baseline and current ran a cell with different parameters.
    #[error(
        "cell {cell}: params.{field} differs (baseline {baseline}, current {current}); \
         refusing to compare runs with different scenario parameters"
    )]
    ParamsMismatch {
        /// The cell key, `scenario/workload/transport/profile`.
        cell: String,
        /// The parameter that differs.
        field: String,
        /// Its value in the baseline (`absent` when missing).
        baseline: String,
        /// Its value in the current run (`absent` when missing).
        current: String,
    },
    /// Repeats of one cell inside one file disagree on their parameters.
    #[error("{side}: repeats of cell {cell} disagree on params.{field} ({first} vs {other})")]
    ParamsInconsistent {
        /// `baseline` or `current`.
        side: &'static str,
        /// The cell key, `scenario/workload/transport/profile`.
        cell: String,
        /// The parameter that differs.
        field: String,
        /// Value in the first repeat.
        first: String,
        /// Value in a later repeat.
        other: String,
    },
    /// A measured value cannot be compared (negative, NaN or infinite).
    #[error("{side}: cell {cell} repeat {repeat}: {metric} is {value}, not a finite non-negative number")]
    BadValue {
        /// `baseline` or `current`.
        side: &'static str,
        /// The cell key, `scenario/workload/transport/profile`.
        cell: String,
        /// Repeat index.
        repeat: u32,
        /// CompareMetric id.
        metric: CompareMetric,
        /// The value found.
        value: f64,
    },
    /// The two files have cells but not a single cell key in common: almost certainly the
    /// wrong files (a CI gate must not pass silently on them).
    #[error(
        "no cell is present in both files (baseline has {baseline} cell keys, current {current}); \
         check that both ran the same scenarios and profiles"
    )]
    NothingInCommon {
        /// Distinct cell keys in the baseline.
        baseline: usize,
        /// Distinct cell keys in the current run.
        current: usize,
    },
    /// The bootstrap refused its input (a bug if it happens: inputs are validated first).
    #[error("statistics: {0}")]
    Stats(#[from] StatsError),
}

/// A compared metric. Ids (`p50`, `p99`, `goodput`, `msgs_per_s`, `setup_ms`,
/// `server_cpu_s`, `rss_per_conn`) are used by `--metric` and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum CompareMetric {
    /// Median latency of a repeat (`latency_us.p50`), µs.
    #[serde(rename = "p50")]
    P50,
    /// 99th percentile latency of a repeat (`latency_us.p99`), µs.
    #[serde(rename = "p99")]
    P99,
    /// Goodput (`throughput.goodput_bps`), bit/s.
    #[serde(rename = "goodput")]
    Goodput,
    /// Messages per second delivered (`throughput.msgs_per_s`).
    #[serde(rename = "msgs_per_s")]
    MsgsPerS,
    /// Connection setup time (`setup_ms`), ms.
    #[serde(rename = "setup_ms")]
    SetupMs,
    /// Server agent CPU time (`resources.server_cpu_s`), s.
    #[serde(rename = "server_cpu_s")]
    ServerCpu,
    /// Server peak RSS per connection: `resources.server_rss_peak_bytes / params.clients`,
    /// bytes; only where `params.clients` is a positive number.
    #[serde(rename = "rss_per_conn")]
    RssPerConn,
}

impl CompareMetric {
    /// All metrics, in table order.
    pub const ALL: [CompareMetric; 7] = [
        CompareMetric::P50,
        CompareMetric::P99,
        CompareMetric::Goodput,
        CompareMetric::MsgsPerS,
        CompareMetric::SetupMs,
        CompareMetric::ServerCpu,
        CompareMetric::RssPerConn,
    ];

    /// Stable id (CLI and JSON).
    pub fn id(self) -> &'static str {
        match self {
            CompareMetric::P50 => "p50",
            CompareMetric::P99 => "p99",
            CompareMetric::Goodput => "goodput",
            CompareMetric::MsgsPerS => "msgs_per_s",
            CompareMetric::SetupMs => "setup_ms",
            CompareMetric::ServerCpu => "server_cpu_s",
            CompareMetric::RssPerConn => "rss_per_conn",
        }
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            CompareMetric::P50 => "latency p50",
            CompareMetric::P99 => "latency p99",
            CompareMetric::Goodput => "goodput",
            CompareMetric::MsgsPerS => "msgs/s",
            CompareMetric::SetupMs => "setup",
            CompareMetric::ServerCpu => "server CPU",
            CompareMetric::RssPerConn => "server RSS/conn",
        }
    }

    /// Whether a larger value is worse (latency, setup, CPU, memory) or better (goodput,
    /// messages per second).
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, CompareMetric::Goodput | CompareMetric::MsgsPerS)
    }

    /// The metric's value in one cell, when measured.
    pub fn extract(self, cell: &Cell) -> Option<f64> {
        let lat = || cell.latency_us.as_ref().filter(|l| l.count > 0);
        match self {
            CompareMetric::P50 => lat().and_then(|l| l.p50).map(|v| v as f64),
            CompareMetric::P99 => lat().and_then(|l| l.p99).map(|v| v as f64),
            CompareMetric::Goodput => cell.throughput.as_ref().and_then(|t| t.goodput_bps),
            CompareMetric::MsgsPerS => cell.throughput.as_ref().and_then(|t| t.msgs_per_s),
            CompareMetric::SetupMs => cell.setup_ms,
            CompareMetric::ServerCpu => cell.resources.as_ref().and_then(|r| r.server_cpu_s),
            CompareMetric::RssPerConn => {
                let rss = cell.resources.as_ref()?.server_rss_peak_bytes? as f64;
                let clients = cell.params.get("clients")?.as_f64()?;
                (clients > 0.0).then(|| rss / clients)
            }
        }
    }

    /// Formats a value of this metric with its unit.
    pub fn format(self, v: f64) -> String {
        match self {
            CompareMetric::P50 | CompareMetric::P99 => fmt_us(v),
            CompareMetric::Goodput => fmt_bps(v),
            CompareMetric::MsgsPerS => format!("{v:.0}/s"),
            CompareMetric::SetupMs => format!("{v:.2} ms"),
            CompareMetric::ServerCpu => format!("{v:.3} s"),
            CompareMetric::RssPerConn => fmt_bytes(v),
        }
    }

    /// Parses a comma-separated list of metric names (as given to `--metric`).
    pub fn parse_list(s: &str) -> Result<Vec<CompareMetric>, CompareError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(CompareMetric::from_str)
            .collect()
    }
}

impl fmt::Display for CompareMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for CompareMetric {
    type Err = CompareError;

    /// Accepts the ids plus a few aliases (`latency_p50`, `goodput_bps`, `msgs`, `setup`,
    /// `cpu`, `rss`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let m = match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "p50" | "latency_p50" => CompareMetric::P50,
            "p99" | "latency_p99" => CompareMetric::P99,
            "goodput" | "goodput_bps" => CompareMetric::Goodput,
            "msgs_per_s" | "msgs" => CompareMetric::MsgsPerS,
            "setup_ms" | "setup" => CompareMetric::SetupMs,
            "server_cpu_s" | "cpu" => CompareMetric::ServerCpu,
            "rss_per_conn" | "rss" => CompareMetric::RssPerConn,
            _ => {
                return Err(CompareError::UnknownMetric {
                    name: s.to_string(),
                    known: CompareMetric::ALL.map(CompareMetric::id).join(", "),
                })
            }
        };
        Ok(m)
    }
}
