//! Results fixtures for the report tests, built in code with real HdrHistograms so the
//! statistics and plots have something true to chew on. Deterministic: a fixed-seed xorshift
//! generator, so snapshots are stable.

#![allow(dead_code)]

use hdrhistogram::Histogram;
use serde_json::json;
use wirebench_reports::{
    Cell, Delivery, Host, Latency, Resources, Results, Status, Throughput, Wire, SCHEMA,
};

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// A latency histogram: `base_us` plus an exponential body (mean `spread_us`) and a rare
/// heavy tail (1 % of samples ×10), `n` samples.
pub fn latency(rng: &mut Rng, n: u64, base_us: f64, spread_us: f64) -> Latency {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for _ in 0..n {
        let mut v = base_us - spread_us * rng.unit().ln();
        if rng.unit() < 0.01 {
            v *= 10.0 * rng.unit() + 1.0;
        }
        h.record(v.max(1.0) as u64).expect("in range");
    }
    Latency::from_histogram(&h).expect("encode")
}

pub fn host() -> Host {
    Host {
        hostname: Some("bench-01".into()),
        os: "linux".into(),
        kernel: Some("6.12.48-1-amd64".into()),
        cpus: 2,
        cpu_model: Some("AMD EPYC 7B13".into()),
        memory_bytes: Some(24 * 1024 * 1024 * 1024),
        tcp_congestion_control: Some("cubic".into()),
        settle: Some(wirebench_reports::model::Settle {
            timer_lateness_p99_us: 34,
            limit_us: 100,
            probes: 1,
            waited_ms: 1_000,
            settled: true,
        }),
    }
}

pub fn results(cells: Vec<Cell>) -> Results {
    Results {
        schema: SCHEMA.into(),
        version: "0.1.0".into(),
        git: Some("v0.1.0-12-gabcdef0".into()),
        started_at: "2026-11-24T04:00:00Z".into(),
        host: host(),
        netem_backend: "userspace".into(),
        emulator_semantics: None,
        cells,
        verdicts: Vec::new(),
        thresholds: Vec::new(),
    }
}

/// Typical base RTT (µs) of a transport on loopback, and the extra per profile.
fn base_us(transport: &str, profile: &str) -> f64 {
    let t = match transport {
        "tcp" => 60.0,
        "websocket" => 110.0,
        "sse" => 180.0,
        "long-poll" => 320.0,
        "poll" => 9_000.0,
        "webtransport" => 160.0,
        "webtransport-datagram" => 140.0,
        "webrtc" => 260.0,
        _ => 240.0,
    };
    let p = match profile {
        "loopback" => 0.0,
        "lan" => 1_000.0,
        "lte" => 50_000.0,
        _ => 100_000.0,
    };
    t + p
}

/// A cell with every measurement null, built through serde so that fields the model adds
/// later (with defaults) need no change here.
pub fn blank(
    scenario: &str,
    workload: &str,
    transport: &str,
    profile: &str,
    repeat: u32,
    status: Status,
) -> Cell {
    let mut c: Cell = serde_json::from_value(json!({
        "scenario": scenario,
        "workload": workload,
        "transport": transport,
        "profile": profile,
        "repeat": repeat,
        "status": "ok",
        "error": null,
        "params": {},
        "latency_us": null,
        "setup_ms": null,
        "setup_rtts": null,
        "throughput": null,
        "delivery": null,
        "wire": null,
        "resources": null,
    }))
    .expect("a minimal cell is valid");
    c.status = status;
    c
}

/// One ok cell with every measurement present.
pub fn ok_cell(
    rng: &mut Rng,
    scenario: &str,
    workload: &str,
    transport: &str,
    profile: &str,
    repeat: u32,
    samples: u64,
) -> Cell {
    let base = base_us(transport, profile);
    let jitter = 1.0 + 0.05 * (rng.unit() - 0.5);
    let clients = if workload == "idle" { 1000 } else { 4 };
    let sent = samples;
    let lost = if transport.ends_with("unreliable") || transport.ends_with("datagram") {
        (samples as f64 * 0.002 * (1.0 + rng.unit())) as u64
    } else {
        0
    };
    let rtt_ms = match profile {
        "loopback" => None,
        "lan" => Some(2.0),
        "lte" => Some(100.0),
        _ => Some(200.0),
    };
    let rtts = wirebench_reports::figures::predicted_setup(transport, false, Default::default())
        .map(|p| p.rtts)
        .unwrap_or(2.0);
    let setup_ms = rtt_ms.unwrap_or(0.08) * rtts * jitter + 0.3;
    let mut c = blank(scenario, workload, transport, profile, repeat, Status::Ok);
    c.params = json!({"rate": 1000, "size": 256, "clients": clients, "latency": "rtt"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    c.latency_us = Some(latency(rng, samples, base * jitter, base * 0.15));
    c.setup_ms = Some((setup_ms * 1000.0).round() / 1000.0);
    c.setup_rtts = rtt_ms.map(|r| ((setup_ms / r) * 1000.0).round() / 1000.0);
    c.throughput = Some(Throughput {
        msgs_per_s: Some((1000.0 * clients as f64 * jitter).round()),
        goodput_bps: Some((256.0 * 8.0 * 1000.0 * clients as f64 * jitter).round()),
    });
    c.delivery = Some(Delivery {
        sent,
        received: sent - lost,
        lost,
        duplicated: 0,
        reordered: if lost > 0 { lost / 3 } else { 0 },
        ..Delivery::default()
    });
    c.wire = Some(Wire {
        bytes_up: Some(samples * 300),
        bytes_down: Some(samples * 300),
        overhead_ratio: Some(((300.0 / 256.0) * jitter * 1000.0).round() / 1000.0),
    });
    c.resources = Some(Resources {
        server_cpu_s: Some(((0.4 + base / 1e5) * jitter * 100.0).round() / 100.0),
        server_rss_peak_bytes: Some((8_000_000.0 + clients as f64 * 40_000.0 * jitter) as u64),
        client_cpu_s: Some((0.3 * jitter * 100.0).round() / 100.0),
        client_rss_peak_bytes: Some(6_000_000),
        window: None,
    });
    c
}

/// A failed or skipped cell: no measurements, a reason.
pub fn bad_cell(
    scenario: &str,
    workload: &str,
    transport: &str,
    profile: &str,
    repeat: u32,
    status: Status,
    reason: &str,
) -> Cell {
    let mut c = blank(scenario, workload, transport, profile, repeat, status);
    c.error = Some(reason.into());
    c.errors = [("connect_timeout".to_string(), 3)].into_iter().collect();
    c
}

/// The small fixed results file of the snapshot tests: two scenarios, three transports, two
/// profiles, three repeats, one failed repeat, one skipped key, and some null measurements.
pub fn fixed() -> Results {
    let mut rng = Rng::new(7);
    let mut cells = Vec::new();
    for repeat in 1..=3 {
        for profile in ["loopback", "lte"] {
            for t in ["tcp", "websocket", "sse"] {
                if t == "sse" && profile == "lte" && repeat == 3 {
                    cells.push(bad_cell(
                        "echo",
                        "echo",
                        t,
                        profile,
                        repeat,
                        Status::Failed,
                        "server closed the event stream after 1.2 s (HTTP 503)",
                    ));
                    continue;
                }
                cells.push(ok_cell(&mut rng, "echo", "echo", t, profile, repeat, 2_000));
            }
        }
        cells.push(bad_cell(
            "echo",
            "echo",
            "webtransport-datagram",
            "lte",
            repeat,
            Status::Skipped,
            "datagram size 1200 exceeds the session's max datagram size (1148)",
        ));
    }
    for repeat in 1..=2 {
        for t in ["websocket", "webrtc"] {
            let mut c = ok_cell(&mut rng, "connect", "connect", t, "lte", repeat, 200);
            // connect measures setup only: no latency histogram, no throughput.
            c.latency_us = None;
            c.throughput = None;
            c.delivery = None;
            cells.push(c);
        }
    }
    results(cells)
}

/// A results file of realistic size: `transports` × `workloads` × `profiles` × `repeats`, with
/// `samples` per histogram.
pub fn realistic(
    transports: &[&str],
    workloads: &[&str],
    profiles: &[&str],
    repeats: u32,
    samples: u64,
) -> Results {
    let mut rng = Rng::new(42);
    let mut cells = Vec::new();
    for w in workloads {
        for repeat in 1..=repeats {
            for p in profiles {
                for t in transports {
                    cells.push(ok_cell(&mut rng, w, w, t, p, repeat, samples));
                }
            }
        }
    }
    results(cells)
}
