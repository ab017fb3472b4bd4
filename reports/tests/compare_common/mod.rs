//! Synthetic results for the compare tests.
#![allow(dead_code)]

use hdrhistogram::Histogram;
use serde_json::json;
use wirebench_reports::{Cell, Host, Latency, Results};

/// Per-repeat figures of one synthetic cell.
#[derive(Debug, Clone)]
pub struct Rep {
    /// Latency level, µs: the repeat's samples are spread around it.
    pub level_us: f64,
    pub goodput_bps: f64,
    pub msgs_per_s: f64,
    pub setup_ms: f64,
    pub cpu_s: f64,
    pub rss: u64,
}

impl Rep {
    /// A repeat with all figures derived from one level.
    pub fn at(level_us: f64) -> Self {
        Self {
            level_us,
            goodput_bps: 1e8,
            msgs_per_s: 1000.0,
            setup_ms: 2.0,
            cpu_s: 0.5,
            rss: 10 << 20,
        }
    }
}

/// Latency samples of one repeat: 1,000 values (enough for p99) between 0.8 and 1.6 × `level`,
/// so p50 ≈ level and p99 ≈ 1.6 × level.
pub fn samples(level_us: f64) -> Vec<u64> {
    (0..1000)
        .map(|i| (level_us * (0.8 + 0.8 * (f64::from(i) / 999.0).powi(2))).round() as u64)
        .collect()
}

/// A latency summary over `samples` (real HdrHistogram, µs).
pub fn latency(samples: &[u64]) -> Latency {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for &s in samples {
        h.record(s.max(1)).expect("in range");
    }
    Latency::from_histogram(&h).expect("encodes")
}

/// One ok cell of workload `echo`, profile `lan`, scenario `quick`. Built through serde so
/// that optional fields added to the model later need no change here.
pub fn cell(transport: &str, repeat: u32, latency_samples: &[u64], rep: &Rep) -> Cell {
    serde_json::from_value(json!({
        "scenario": "quick",
        "workload": "echo",
        "transport": transport,
        "profile": "lan",
        "repeat": repeat,
        "status": "ok",
        "error": null,
        "params": {"clients": 4, "rate": 1000, "size": 64},
        "latency_us": latency(latency_samples),
        "setup_ms": rep.setup_ms,
        "setup_rtts": null,
        "throughput": {"msgs_per_s": rep.msgs_per_s, "goodput_bps": rep.goodput_bps},
        "delivery": null,
        "wire": null,
        "resources": {
            "server_cpu_s": rep.cpu_s,
            "server_rss_peak_bytes": rep.rss,
            "client_cpu_s": null,
            "client_rss_peak_bytes": null
        }
    }))
    .expect("a valid cell")
}

/// Cells for `transport`, one per repeat, latency samples scaled by `scale`.
pub fn cells(transport: &str, reps: &[Rep], scale: f64) -> Vec<Cell> {
    reps.iter()
        .zip(1..)
        .map(|(r, i)| {
            let s: Vec<u64> = samples(r.level_us)
                .into_iter()
                .map(|v| (v as f64 * scale).round() as u64)
                .collect();
            cell(transport, i, &s, r)
        })
        .collect()
}

/// A results file holding `cells`.
pub fn results(cells: Vec<Cell>) -> Results {
    Results {
        schema: wirebench_reports::SCHEMA.into(),
        version: "0.1.0".into(),
        git: Some("abc1234".into()),
        started_at: "2026-11-24T00:00:00Z".into(),
        host: Host {
            os: "linux".into(),
            cpus: 2,
            ..Host::default()
        },
        netem_backend: "none".into(),
        emulator_semantics: None,
        cells,
        verdicts: Vec::new(),
        thresholds: Vec::new(),
    }
}
