//! The metrics `compare` judges (`--metric`): names for entries of the metric catalogue
//! ([`crate::metrics`], which says how each is read from a cell and printed), and
//! [`CompareError`] (which names metrics, and which parsing a metric returns).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::metrics::{self, Metric};
use crate::model::{Cell, Results};

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
    /// Baseline and current emulated their links with different backends.
    #[error(
        "baseline ran on link backend {baseline:?}, current on {current:?}: refusing to \
         compare runs whose links were emulated differently (rerun both with the same \
         --netem)"
    )]
    BackendMismatch {
        /// `netem_backend` of the baseline.
        baseline: String,
        /// `netem_backend` of the current run.
        current: String,
    },
    /// Baseline and current ran different versions of the emulator's semantics.
    #[error(
        "baseline ran emulator semantics v{baseline}, current v{current}: refusing to compare \
         runs whose emulator drew delay, jitter, loss or order differently (rerun the \
         baseline with this build)"
    )]
    SemanticsMismatch {
        /// `emulator_semantics` of the baseline (1 when absent).
        baseline: u32,
        /// `emulator_semantics` of the current run (1 when absent).
        current: u32,
    },
    /// Baseline and current ran on hosts whose kernels default to different TCP congestion
    /// controls.
    #[error(
        "baseline ran with TCP congestion control {baseline:?}, current with {current:?}: \
         refusing to compare runs whose TCP-based transports were paced differently (BBR's \
         PROBE_RTT stalls small-message streams that cubic does not; rerun both on hosts with \
         the same net.ipv4.tcp_congestion_control)"
    )]
    CongestionControlMismatch {
        /// `host.tcp_congestion_control` of the baseline.
        baseline: String,
        /// `host.tcp_congestion_control` of the current run.
        current: String,
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

/// A compared metric: a name for an entry of the catalogue ([`CompareMetric::metric`]). Ids
/// (`p50`, `p99`, `goodput`, `msgs_per_s`, `setup_ms`, `server_cpu_s`, `rss_per_conn`) are
/// used by `--metric` and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompareMetric {
    /// Median latency of a repeat (`latency_us.p50`), µs.
    P50,
    /// 99th percentile latency of a repeat (`latency_us.p99`), µs.
    P99,
    /// Goodput (`throughput.goodput_bps`), bit/s.
    Goodput,
    /// Messages per second delivered (`throughput.msgs_per_s`).
    MsgsPerS,
    /// Connection setup time (`setup_ms`), ms.
    SetupMs,
    /// Server agent CPU time (`resources.server_cpu_s`), s.
    ServerCpu,
    /// Server peak RSS per connection: `resources.server_rss_peak_bytes / params.clients`,
    /// bytes; only where `params.clients` is a positive number.
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

    /// The catalogue entry this metric is: how it is read, judged and printed.
    pub fn metric(self) -> &'static Metric {
        match self {
            CompareMetric::P50 => metrics::LATENCY_P50,
            CompareMetric::P99 => metrics::LATENCY_P99,
            CompareMetric::Goodput => metrics::GOODPUT,
            CompareMetric::MsgsPerS => metrics::MSGS_PER_S,
            CompareMetric::SetupMs => metrics::SETUP_MS,
            CompareMetric::ServerCpu => metrics::SERVER_CPU,
            CompareMetric::RssPerConn => metrics::SERVER_RSS_PER_CONN,
        }
    }

    /// Stable id (CLI and JSON): the catalogue entry's compare alias.
    pub fn id(self) -> &'static str {
        self.metric().compare_id()
    }

    /// Label for people.
    pub fn label(self) -> &'static str {
        self.metric().compare_label()
    }

    /// Whether a larger value is worse (latency, setup, CPU, memory) or better (goodput,
    /// messages per second).
    pub fn higher_is_worse(self) -> bool {
        self.metric().higher_is_worse()
    }

    /// The metric's value in one cell, when measured (not filtered: compare refuses
    /// non-finite values with an error naming the cell).
    pub fn extract(self, cell: &Cell) -> Option<f64> {
        (self.metric().extract)(cell)
    }

    /// Formats a value of this metric with its unit, as compare's tables print it.
    pub fn format(self, v: f64) -> String {
        self.metric().compare_format(v)
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

/// Written as its id (`"p50"`).
impl Serialize for CompareMetric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
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

/// Refuses two runs whose links were emulated by different backends or emulator semantics,
/// or whose hosts default to different TCP congestion controls (when both files record it):
/// their figures would differ for that alone.
pub(super) fn same_environment(baseline: &Results, current: &Results) -> Result<(), CompareError> {
    if baseline.netem_backend != current.netem_backend {
        return Err(CompareError::BackendMismatch {
            baseline: baseline.netem_backend.clone(),
            current: current.netem_backend.clone(),
        });
    }
    let (b, c) = (
        baseline.emulator_semantics.unwrap_or(1),
        current.emulator_semantics.unwrap_or(1),
    );
    if b != c {
        return Err(CompareError::SemanticsMismatch {
            baseline: b,
            current: c,
        });
    }
    if let (Some(b), Some(c)) = (
        &baseline.host.tcp_congestion_control,
        &current.host.tcp_congestion_control,
    ) {
        if b != c {
            return Err(CompareError::CongestionControlMismatch {
                baseline: b.clone(),
                current: c.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_labels_and_json_names_are_the_public_ones() {
        let ids = CompareMetric::ALL.map(CompareMetric::id);
        assert_eq!(
            ids,
            [
                "p50",
                "p99",
                "goodput",
                "msgs_per_s",
                "setup_ms",
                "server_cpu_s",
                "rss_per_conn"
            ]
        );
        for m in CompareMetric::ALL {
            assert!(m.metric().compare.is_some(), "{m}");
            assert_eq!(m.id().parse::<CompareMetric>().ok(), Some(m));
            let json = serde_json::to_value(m).ok();
            assert_eq!(json, Some(serde_json::Value::from(m.id())));
        }
        assert_eq!(CompareMetric::RssPerConn.label(), "server RSS/conn");
        assert_eq!(CompareMetric::MsgsPerS.format(12.4), "12/s");
        assert!(!CompareMetric::Goodput.higher_is_worse());
    }
}
