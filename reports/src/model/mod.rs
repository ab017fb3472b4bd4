//! The results model: `results.json`, schema `wirebench/1`.
//!
//! This is a versioned public contract (see `docs/results.md` and `schema/results.schema.json`,
//! generated from these types by [`Results::json_schema`]). Readers ignore fields they do not
//! know (a newer writer may add some within `wirebench/1`) and reject another schema id.
//! Absent measurements are `null`, never invented; every latency figure is traceable to the
//! full HdrHistogram stored beside it (`latency_us.hdr`).

use std::collections::BTreeMap;
use std::path::Path;

/// Every transport id, in report order. The harness's `transport::ALL_IDS` is this list, so the
/// reports (ranking, verdicts, plot colours) and the harness can never disagree on the set.
pub const TRANSPORT_IDS: &[&str] = &[
    "tcp",
    "websocket",
    "sse",
    "long-poll",
    "poll",
    "webtransport",
    "webtransport-datagram",
    "webrtc",
    "webrtc-unreliable",
];

/// The transports that may lose or reorder frames by design (datagrams, unordered data
/// channels with `maxRetransmits = 0`).
pub const UNRELIABLE_TRANSPORTS: &[&str] = &["webtransport-datagram", "webrtc-unreliable"];

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod verdict;
pub use verdict::{Evidence, Outcome, StoredVerdict, Verdict};

/// The schema identifier written at the top of every results file.
pub const SCHEMA: &str = "wirebench/1";

/// Errors reading, writing or decoding results.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File at fault.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not valid results JSON.
    #[error("{path}: line {line}, column {column}: {msg}")]
    Json {
        /// File at fault.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        msg: String,
    },
    /// The file declares a schema this version does not read.
    #[error("{path}: schema is {found:?}, this wirebench reads {SCHEMA:?}")]
    Schema {
        /// File at fault.
        path: String,
        /// Schema found in the file.
        found: String,
    },
    /// A stored histogram could not be decoded or encoded.
    #[error("histogram: {0}")]
    Histogram(String),
}

/// A whole results file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Results {
    /// Always [`SCHEMA`].
    #[schemars(extend("const" = "wirebench/1"))]
    pub schema: String,
    /// wirebench version that produced the file.
    pub version: String,
    /// `git describe` of the source tree, when known.
    pub git: Option<String>,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    /// The machine the run happened on.
    pub host: Host,
    /// Link-emulation backend used (`none`, `kernel`, `userspace`).
    pub netem_backend: String,
    /// Version of the link emulator's semantics (how delay, jitter, loss and order are drawn;
    /// `wirebench_netem::EMULATOR_SEMANTICS`); absent in files from before it was recorded,
    /// which means 1. `compare` refuses runs whose versions differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator_semantics: Option<u32>,
    /// One entry per measured cell (workload × transport × profile × repeat).
    pub cells: Vec<Cell>,
    /// FAQ verdicts computed over the cells, when a run produced them (typed; entries of
    /// another shape in a file are kept as JSON, see [`StoredVerdict`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<StoredVerdict>,
    /// Absolute pass/fail limits the scenarios set (`[thresholds]`), checked by `run` and
    /// `compare` ([`crate::thresholds`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdSpec>,
}

/// One entry of a scenario's `[thresholds]` table, as written: `"echo.websocket.p99_us" =
/// "< 2000"` in scenario `default`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ThresholdSpec {
    /// The scenario that set it (it applies to that scenario's cells only).
    pub scenario: String,
    /// `WORKLOAD.TRANSPORT[.PROFILE].METRIC`; TRANSPORT may be `*` (every transport).
    pub key: String,
    /// `< N`, `<= N`, `> N` or `>= N`, N in the metric's unit.
    pub condition: String,
}

/// Facts about the machine, so numbers can be judged in context.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Host {
    /// Host name.
    pub hostname: Option<String>,
    /// Operating system (`linux`).
    pub os: String,
    /// Kernel release (`uname -r`).
    pub kernel: Option<String>,
    /// Logical CPUs available.
    pub cpus: u32,
    /// CPU model name, from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// Total memory in bytes.
    pub memory_bytes: Option<u64>,
    /// How quiet the machine was when the run started (`run`'s timer probe, `--settle`);
    /// absent in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Settle>,
    /// The kernel's default TCP congestion control (`cubic`, `bbr`), which the namespaces and
    /// every TCP-based transport inherit: BBR's PROBE_RTT (cwnd held at 4 packets for ~200 ms
    /// every 10 s) stalls small-message streams that cubic does not, so figures depend on it.
    /// Absent in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_congestion_control: Option<String>,
}

/// The machine's timer lateness when a run started: a busy machine (a build just ended, the
/// kernel still writing back) makes the load generator late, and such cells are flagged
/// harness-bound; this says whether the run began in that state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Settle {
    /// p99 of how late 1,000 precise wake-ups at 1 kHz were in the last probe, µs.
    pub timer_lateness_p99_us: u64,
    /// The limit it was held to: the harness-bound floor ([`HarnessBound::limit_us`]), µs.
    pub limit_us: u64,
    /// Probes run (1 without `--settle`; more while waiting for the machine to settle).
    pub probes: u32,
    /// Time spent probing and waiting before the first cell, ms.
    pub waited_ms: u64,
    /// Whether the last probe was within the limit.
    pub settled: bool,
}

/// Outcome of a cell.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured; the figures are valid.
    Ok,
    /// The transport or workload failed; `error` says why. Figures may be partial or null.
    Failed,
    /// Not run (e.g. link emulation impossible here); `error` says why.
    Skipped,
}

/// One measured cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Cell {
    /// Scenario name.
    pub scenario: String,
    /// Workload id (`echo`, `push`, ...).
    pub workload: String,
    /// The workload's name in its scenario when it differs from the id (a scenario may run one
    /// workload twice with different parameters, e.g. `echo` and `echo-1k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Transport id (`tcp`, `websocket`, ...).
    pub transport: String,
    /// Network profile name.
    pub profile: String,
    /// Repeat index, from 1.
    pub repeat: u32,
    /// Outcome.
    pub status: Status,
    /// Why the cell failed or was skipped.
    pub error: Option<String>,
    /// Workload parameters as run (rate, size, clients, durations, ...).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Implementation of the transport, where a transport has several (e.g. `str0m`).
    #[serde(default, rename = "impl", skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    /// Client kind when not the Rust agent (e.g. `chromium 156`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Latency in microseconds (RTT or one-way, per `params.latency`), warm-up excluded.
    pub latency_us: Option<Latency>,
    /// Connection setup time in ms (median over the cell's connections).
    pub setup_ms: Option<f64>,
    /// Setup time in round trips of the profile (`setup_ms` / configured RTT); null on an
    /// unshaped link, where the RTT is not meaningful.
    pub setup_rtts: Option<f64>,
    /// Mean duration of each setup phase (`tcp`, `tls`, `upgrade`, `ice`, `dtls`, ...), ms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub setup_phases_ms: BTreeMap<String, f64>,
    /// Rates.
    pub throughput: Option<Throughput>,
    /// Delivery accounting, warm-up excluded.
    pub delivery: Option<Delivery>,
    /// Bytes on the wire.
    pub wire: Option<Wire>,
    /// CPU time and memory of the agents.
    pub resources: Option<Resources>,
    /// What the warm-up excluded.
    #[serde(default)]
    pub warmup: Option<Warmup>,
    /// How late the open-loop sender's sends left against their schedule, µs (client side).
    /// Large values mean the client machine could not keep the schedule: the latency figures
    /// then include that delay (which is the correct, coordinated-omission-free reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lateness_us: Option<Lateness>,
    /// Set when the load generator, not the transport, limited the cell: its sender lateness
    /// p99 exceeded max(100 µs, 10 % of the latency p50). Verdicts treat such a cell as having
    /// no figure (inconclusive); reports mark it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_bound: Option<HarnessBound>,
    /// The link emulator's own figures over the cell: how late it released packets against
    /// their scheduled times, and what its queues dropped. Absent without emulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<EmulatorFigures>,
    /// Phase step between the clients' open-loop schedules, ns: client `i` starts
    /// `i · phase_step_ns` after the first (`period / clients`, as wrk2 staggers connections).
    /// Absent for one client or a workload without client schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_step_ns: Option<u64>,
    /// Errors by kind (e.g. `malformed_frame`, `http_503`), counted, not fatal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// What only the browser client measures (clock offset estimate, per-origin limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserFigures>,
    /// Figures of the `idle` workload: memory per connection, keep-alive bytes, server CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleFigures>,
    /// Figures of the `flap` workload: the cut, recovery time, resumes and reconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap: Option<FlapFigures>,
    /// The shards the cell ran in across client machines (`drive --shard`, `merge`): one entry
    /// in a shard's file, every shard's in a merged one; absent for a cell run whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<Shard>,
}

/// What the `idle` workload measures besides notification latency (`latency_us`) and delivery.
/// Figures the cell could not measure are `null` (e.g. wire bytes on loopback, which has no
/// link emulator to count them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct IdleFigures {
    /// Clients connected and held open (each holds one connection: listen-only HTTP clients
    /// open no upstream).
    pub connections: u64,
    /// Clients the server had a downstream open for once all were connected.
    pub server_attached: Option<u64>,
    /// Server agent RSS before any client connected, bytes.
    pub server_rss_before_bytes: Option<u64>,
    /// Server agent RSS with every client connected, after the warm-up, bytes.
    pub server_rss_connected_bytes: Option<u64>,
    /// (connected − before) / connections, bytes.
    pub server_rss_per_connection_bytes: Option<f64>,
    /// The client agent's RSS growth while connecting / connections, bytes.
    pub client_rss_per_connection_bytes: Option<f64>,
    /// Length of the keep-alive-only window as measured, ms.
    pub quiet_ms: Option<f64>,
    /// IP bytes client → server in the quiet window (link emulator), all clients.
    pub keepalive_bytes_up: Option<u64>,
    /// IP bytes server → client in the quiet window (link emulator), all clients.
    pub keepalive_bytes_down: Option<u64>,
    /// IP packets both ways in the quiet window, all clients.
    pub keepalive_packets: Option<u64>,
    /// (bytes up + down) / connections / window length in hours.
    pub keepalive_bytes_per_connection_hour: Option<f64>,
    /// Packets both ways / connections / window length in hours.
    pub keepalive_packets_per_connection_hour: Option<f64>,
    /// Server agent CPU seconds used in the quiet window.
    pub server_cpu_quiet_s: Option<f64>,
    /// Length of the notification window as measured (until the client agent reported), ms.
    pub notify_window_ms: Option<f64>,
    /// Server agent CPU seconds used in the notification window (fan-out included).
    pub server_cpu_notify_s: Option<f64>,
    /// IP bytes both ways in the notification window / clients / minutes (keep-alives and
    /// notifications).
    pub bytes_per_client_per_min: Option<f64>,
    /// Open-file limit the server agent ran with.
    pub server_nofile_limit: Option<u64>,
    /// Open-file limit the client agent ran with.
    pub client_nofile_limit: Option<u64>,
    /// Connections lost while idle (a proxy's idle timeout, say), whether the transport then
    /// reopened them underneath (SSE, as EventSource does) or not; absent when none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_connections: Option<u64>,
    /// Time from every client connected to the first connection lost, ms: how long a quiet
    /// connection survives (with keep-alives off: `ws_ping_ms = 0`, `sse_heartbeat_ms = 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_drop_ms: Option<f64>,
}

/// What the `flap` workload measures besides latency and delivery (`lost`, `duplicated`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FlapFigures {
    /// When the link was cut, ms after the push stream was started.
    pub cut_at_ms: Option<f64>,
    /// How long the link was cut, ms (as done, not as asked).
    pub cut_ms: Option<f64>,
    /// From the restore to the frame that ended a client's longest silence, ms (the slowest
    /// client); null when no silence ended after the restore.
    pub recovery_ms: Option<f64>,
    /// The longest silence clients saw, ms (earliest start to latest end over clients).
    pub outage_ms: Option<f64>,
    /// Downstreams resumed in place (SSE `Last-Event-ID`, long-poll / poll cursor).
    pub resumes: u64,
    /// New connections opened after a lost or silent one.
    pub reconnects: u64,
    /// Resume or reconnect attempts that failed or timed out (while the link was cut).
    pub failed_attempts: u64,
}

/// Figures of a browser-client cell beyond the common ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BrowserFigures {
    /// How the page's clock was related to the server's, for one-way figures (push, download,
    /// relay, collab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_sync: Option<ClockSync>,
    /// The per-origin connection limit, as the browser showed it (workload `origin-limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_limit: Option<OriginLimit>,
}

/// How a browser client's clock was related to the server's. On one machine the server
/// publishes the exact CLOCK_MONOTONIC − CLOCK_REALTIME offset and the page converts its wall
/// clock with it (`method` `exact`); otherwise an NTP-style estimate (`GET /clock` probes; the
/// one with the shortest round trip wins, half that round trip bounding the error). The one-way
/// figures of the cell are off by at most `uncertainty_us`, in either direction; for relay and
/// collab (one-way between pages on the machine's shared wall clock, every page using the one
/// offset) it bounds only the frames' `sent_ns` and cancels out of the latency.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ClockSync {
    /// Probes sent (per client).
    pub probes: u32,
    /// Largest error bound over the cell's clients, µs.
    pub uncertainty_us: f64,
    /// `exact` or `estimated` (absent in results written before the exact offset existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// With `exact`: the largest |estimate − exact| over the clients, µs — the error the
    /// NTP-style estimate would have had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_error_us: Option<f64>,
    /// With `exact`: the largest error bound the estimate claimed, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_uncertainty_us: Option<f64>,
}

impl ClockSync {
    /// Folds one client's clock into the cell's: the worst bound and estimate error; `exact`
    /// only when every client was exact.
    pub fn merge(&mut self, other: &ClockSync) {
        self.uncertainty_us = self.uncertainty_us.max(other.uncertainty_us);
        if self.method != other.method {
            self.method = Some("estimated".to_string());
        }
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.estimate_error_us = max(self.estimate_error_us, other.estimate_error_us);
        self.estimate_uncertainty_us =
            max(self.estimate_uncertainty_us, other.estimate_uncertainty_us);
    }
}

/// N streams opened at once to one origin, and when each got going.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct OriginLimit {
    /// Streams opened together.
    pub streams: u32,
    /// How long each stream was held before one was released, ms.
    pub hold_ms: u64,
    /// Streams served before the first release: the browser's concurrent limit per origin.
    pub concurrent: u32,
    /// The protocol the browser negotiated with the origin, as its ALPN id (`http/1.1`, `h2`;
    /// the page's `nextHopProtocol`): HTTP/1.1 limits connections per origin, HTTP/2 streams
    /// per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Per stream, in opening order.
    pub per_stream: Vec<StreamStart>,
}

/// When one stream of [`OriginLimit`] got going, ms after all were opened (null: never).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StreamStart {
    /// Stream number, from 1.
    pub stream: u32,
    /// SSE: the stream opened (response headers); long-poll: the request left the browser.
    pub opened_ms: Option<f64>,
    /// SSE: its first event; long-poll: its response.
    pub first_ms: Option<f64>,
}

/// Latency figures of a cell, loss-aware, plus the full histogram of the delivered frames.
///
/// The percentiles are over every frame counted after warm-up (`count`), a frame that never
/// arrived (`lost`) ranking later than any delivered one. A percentile is `null` when the
/// delivered fraction cannot reach it (more than 1 − q lost) or when `count` is below
/// [`min_samples`] for it (10 / (1 − q): p99 needs 1,000 frames). `max` and `mean` are `null`
/// when frames were lost (they are infinite). `delivered` is the same summary over the
/// delivered frames only, present when `lost` > 0. Every figure can be recomputed from `hdr`
/// and `lost`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Latency {
    /// Frames the percentiles are over: delivered (in `hdr`) + `lost`.
    pub count: u64,
    /// Frames counted that never arrived.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    /// Minimum, µs (null when nothing arrived).
    pub min: Option<u64>,
    /// Median, µs.
    pub p50: Option<u64>,
    /// 90th percentile, µs.
    pub p90: Option<u64>,
    /// 99th percentile, µs.
    pub p99: Option<u64>,
    /// 99.9th percentile, µs.
    pub p999: Option<u64>,
    /// Maximum, µs (null when frames were lost).
    pub max: Option<u64>,
    /// Mean, µs (null when frames were lost).
    pub mean: Option<f64>,
    /// The histogram of the delivered frames: HdrHistogram V2 + deflate, standard base64.
    pub hdr: String,
    /// The same summary over delivered frames only; present when `lost` > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Box<LatencySummary>>,
}

/// A latency summary without the histogram: [`Latency::delivered`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Minimum, µs.
    pub min: Option<u64>,
    /// Median, µs.
    pub p50: Option<u64>,
    /// 90th percentile, µs.
    pub p90: Option<u64>,
    /// 99th percentile, µs.
    pub p99: Option<u64>,
    /// 99.9th percentile, µs.
    pub p999: Option<u64>,
    /// Maximum, µs.
    pub max: Option<u64>,
    /// Mean, µs.
    pub mean: Option<f64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The fewest samples for which percentile `q` is reported: 10 / (1 − q), so that at least
/// ten samples lie beyond it (p50: 20, p90: 100, p99: 1,000, p99.9: 10,000).
pub fn min_samples(q: f64) -> u64 {
    (10.0 / (1.0 - q)).round() as u64
}

/// Why percentile `q` of a summary over `count` frames of which `lost` never arrived is null,
/// or `None` when it is reported. For a hover text or a note beside a "–".
pub fn percentile_gap(q: f64, count: u64, lost: u64) -> Option<String> {
    let need = min_samples(q);
    if count < need {
        return Some(format!(
            "{count} samples; p{} needs at least {need}",
            percentile_name(q)
        ));
    }
    let delivered = count.saturating_sub(lost);
    if rank(q, count) > delivered {
        let pct = 100.0 * delivered as f64 / count as f64;
        return Some(format!(
            "only {pct:.1} % of frames arrived: p{} is beyond the lost ones",
            percentile_name(q)
        ));
    }
    None
}

fn percentile_name(q: f64) -> String {
    let s = format!("{:.1}", q * 100.0);
    s.trim_end_matches(".0").to_string()
}

/// Rank (1-based) of percentile `q` among `count` ordered values.
fn rank(q: f64, count: u64) -> u64 {
    ((q * count as f64).ceil() as u64).max(1)
}

/// Percentile `q` of `count` frames, `lost` of them later than any in `h` (the delivered ones).
fn loss_aware_quantile(h: &Histogram<u64>, q: f64, count: u64, lost: u64) -> Option<u64> {
    if percentile_gap(q, count, lost).is_some() || h.is_empty() {
        return None;
    }
    let delivered = h.len() as f64;
    let q_delivered = (rank(q, count) as f64 / delivered).min(1.0);
    Some(h.value_at_quantile(q_delivered))
}

impl LatencySummary {
    /// Summarises `h` (the delivered frames, µs) as if `lost` more frames never arrived.
    pub fn of(h: &Histogram<u64>, lost: u64) -> Self {
        let count = h.len() + lost;
        let complete = lost == 0 && !h.is_empty();
        Self {
            count,
            min: (!h.is_empty()).then(|| h.min()),
            p50: loss_aware_quantile(h, 0.50, count, lost),
            p90: loss_aware_quantile(h, 0.90, count, lost),
            p99: loss_aware_quantile(h, 0.99, count, lost),
            p999: loss_aware_quantile(h, 0.999, count, lost),
            max: complete.then(|| h.max()),
            mean: complete.then(|| h.mean()),
        }
    }
}

impl Latency {
    /// Summarises a histogram (values in µs) of frames that all arrived, and stores it encoded.
    pub fn from_histogram(h: &Histogram<u64>) -> Result<Self, ModelError> {
        Self::with_lost(h, 0)
    }

    /// Summarises the delivered frames' histogram `h` (µs) with `lost` frames that never
    /// arrived ranked after them, and stores `h` encoded.
    pub fn with_lost(h: &Histogram<u64>, lost: u64) -> Result<Self, ModelError> {
        let all = LatencySummary::of(h, lost);
        Ok(Self {
            count: all.count,
            lost,
            min: all.min,
            p50: all.p50,
            p90: all.p90,
            p99: all.p99,
            p999: all.p999,
            max: all.max,
            mean: all.mean,
            hdr: encode_histogram(h)?,
            delivered: (lost > 0).then(|| Box::new(LatencySummary::of(h, 0))),
        })
    }

    /// Frames that arrived (the samples in `hdr`).
    pub fn delivered_count(&self) -> u64 {
        self.count.saturating_sub(self.lost)
    }

    /// Why percentile `q` is null here, or `None` when it is reported.
    pub fn gap(&self, q: f64) -> Option<String> {
        percentile_gap(q, self.count, self.lost)
    }

    /// Decodes the stored histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, ModelError> {
        decode_histogram(&self.hdr)
    }
}

/// Encodes a histogram as base64(V2 + deflate).
pub fn encode_histogram(h: &Histogram<u64>) -> Result<String, ModelError> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| ModelError::Histogram(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decodes base64(V2 or V2 + deflate) into a histogram.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, ModelError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ModelError::Histogram(format!("base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut raw.as_slice())
        .map_err(|e| ModelError::Histogram(format!("{e:?}")))
}

/// Message and byte rates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Throughput {
    /// Messages per second delivered.
    pub msgs_per_s: Option<f64>,
    /// Payload bits per second delivered (message bytes incl. the 24-byte header, × 8).
    pub goodput_bps: Option<f64>,
}

/// What was sent and what arrived.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Delivery {
    /// Frames sent.
    pub sent: u64,
    /// Distinct frames received.
    pub received: u64,
    /// Frames sent and never received.
    pub lost: u64,
    /// Extra copies received.
    pub duplicated: u64,
    /// Frames that arrived after a higher sequence number from the same sender.
    pub reordered: u64,
    /// relay with a deadline (media-like traffic): frames that arrived later than the deadline.
    /// They count in `lost`, not `received`; their latency is in `latency_us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
    /// collab: op arrivals out of the server's single broadcast order, over all clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_violations: Option<u64>,
    /// collab: ops each client received after warm-up, in client-id order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_client_received: Option<Vec<u64>>,
}

/// Bytes on the wire per direction.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Wire {
    /// Client → server bytes.
    pub bytes_up: Option<u64>,
    /// Server → client bytes.
    pub bytes_down: Option<u64>,
    /// Wire bytes / payload bytes (both directions).
    pub overhead_ratio: Option<f64>,
}

/// Per-process resources, from /proc.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Resources {
    /// Server agent CPU seconds (user + system) during the cell.
    pub server_cpu_s: Option<f64>,
    /// Server agent peak resident set, bytes.
    pub server_rss_peak_bytes: Option<u64>,
    /// Client agent(s) CPU seconds (user + system).
    pub client_cpu_s: Option<f64>,
    /// Client agent peak resident set, bytes (largest client process).
    pub client_rss_peak_bytes: Option<u64>,
    /// The same processes and links between two marks, at the start and the end of the
    /// measured window (warm-up over, before the drain): what the workload itself cost, without
    /// start-up, connection setup, warm-up and drain. Absent for workloads without one timed
    /// window (connect, idle, flap, origin-limit) and for browser cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MeasuredWindow>,
}

/// Resources and wire bytes between the marks of a cell's measured window, read by the runner
/// from /proc and the emulator's link counters (the whole-cell figures are beside them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct MeasuredWindow {
    /// Time between the two marks, ms (the workload's `duration_ms`, give or take the
    /// runner's timer).
    pub duration_ms: f64,
    /// Server agent CPU seconds (user + system) between the marks.
    pub server_cpu_s: Option<f64>,
    /// Client agents' CPU seconds between the marks, summed.
    pub client_cpu_s: Option<f64>,
    /// Server agent resident set at the end mark less at the start mark, bytes (negative when
    /// it shrank).
    pub server_rss_growth_bytes: Option<i64>,
    /// Client agents' resident sets at the end mark less at the start mark, summed, bytes.
    pub client_rss_growth_bytes: Option<i64>,
    /// Client → server bytes on the clients' links between the marks (emulated links only).
    pub wire_bytes_up: Option<u64>,
    /// Server → client bytes on the clients' links between the marks.
    pub wire_bytes_down: Option<u64>,
}

/// Schedule lateness of an open-loop sender, µs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Lateness {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// The link emulator's timing and drops over one cell (every host's links, both directions).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct EmulatorFigures {
    /// `userspace` or `kernel`.
    pub backend: String,
    /// The emulator's semantics version (`Results::emulator_semantics`).
    pub semantics: u32,
    /// Packets released.
    pub packets: u64,
    /// Mean delay between a packet's scheduled release and its actual one, µs (userspace
    /// only: the kernel keeps no such count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_lateness_mean_us: Option<f64>,
    /// The largest such delay, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_lateness_max_us: Option<f64>,
    /// Packets dropped because a bottleneck queue was full.
    pub queue_drops: u64,
    /// Packets the bottleneck's AQM (CoDel, FQ-CoDel: `params.queue`) dropped to keep its
    /// queueing delay near the target; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aqm_drops: u64,
    /// The longest time a packet waited in a bottleneck queue, ms (queue disciplines that
    /// measure it: CoDel, FQ-CoDel); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sojourn_ms: Option<f64>,
    /// Whether the largest release lateness exceeded 1 ms: the emulator's timing error is then
    /// a visible part of the cell's tail (reports list such cells).
    pub over_bound: bool,
}

/// Release lateness above which a cell's emulator is flagged `over_bound`, µs.
pub const EMULATOR_LATENESS_BOUND_US: f64 = 1000.0;

/// Why a cell is flagged harness-bound (see [`Cell::harness_bound`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct HarnessBound {
    /// The rule that fired, in words with its figures.
    pub reason: String,
    /// The open-loop sender's lateness p99, µs.
    pub send_lateness_p99_us: u64,
    /// The limit it exceeded: max(100 µs, 10 % of the latency p50), µs.
    pub limit_us: u64,
}

impl HarnessBound {
    /// Lateness p99 above which a sender is the bottleneck: max(100 µs, 10 % of `p50_us`).
    pub fn limit_us(latency_p50_us: Option<u64>) -> u64 {
        latency_p50_us.map_or(0, |p50| p50 / 10).max(100)
    }

    /// The flag for a cell whose sender lateness p99 is `late_p99_us`, when over the limit.
    pub fn check(late_p99_us: u64, latency_p50_us: Option<u64>) -> Option<Self> {
        let limit = Self::limit_us(latency_p50_us);
        (late_p99_us > limit).then(|| Self {
            reason: format!(
                "the open-loop sender left {late_p99_us} µs late at p99, over the {limit} µs \
                 limit (max of 100 µs and 10 % of the latency p50): the load generator, not \
                 the transport, set the pace"
            ),
            send_lateness_p99_us: late_p99_us,
            limit_us: limit,
        })
    }
}

/// What warm-up excluded from the figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Warmup {
    /// Warm-up length, ms.
    pub duration_ms: u64,
    /// Samples recorded during warm-up and excluded.
    pub samples: u64,
}

/// What `params.clocks` says of a sharded cell: every latency figure it holds was measured on
/// one host's clock (RTT, setup time), since client machines' clocks are not synchronised.
/// One-way figures across machines would need synchronised clocks (PTP, or NTP within the
/// figures' precision).
pub const CLOCKS_PER_HOST: &str = "per-host";

/// One shard of a cell: which clients it ran, where, and what it measured that the merged
/// cell cannot combine exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Shard {
    /// Shard index I, from 0.
    pub index: u32,
    /// Shards in all (N).
    pub of: u32,
    /// First client id of the shard; its clients are `first_client .. first_client + clients`.
    pub first_client: u32,
    /// How many clients the shard ran.
    pub clients: u32,
    /// The client machine's host name, when known.
    pub hostname: Option<String>,
    /// RFC 3339 UTC time the shard started.
    pub started_at: String,
    /// The shard's outcome (a merged cell is `ok` only when every shard is).
    pub status: Status,
    /// Why the shard failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The shard's client agent: CPU seconds and peak RSS (the server's are null: `drive` does
    /// not control the server).
    pub resources: Option<Resources>,
    /// How late the shard's open-loop senders left against their schedule, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lateness_us: Option<Lateness>,
    /// Setup time of each of the shard's connections, µs, as an HdrHistogram (V2 + deflate,
    /// base64, 3 significant digits): the merged cell's `setup_ms` is the median of the shards'
    /// histograms added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_us_hdr: Option<String>,
}

impl Shard {
    /// `I/N`, as `params.shard` writes it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.of)
    }
}

impl Results {
    /// A results file of `cells` with a blank envelope (version `0`, default host, userspace
    /// backend, no verdicts): how tests and tools build results from cells alone.
    pub fn of_cells(cells: Vec<Cell>) -> Self {
        Self {
            schema: SCHEMA.into(),
            version: "0".into(),
            git: None,
            started_at: "2026-01-01T00:00:00Z".into(),
            host: Host::default(),
            netem_backend: "userspace".into(),
            emulator_semantics: None,
            cells,
            verdicts: Vec::new(),
            thresholds: Vec::new(),
        }
    }

    /// results.json's JSON Schema (2020-12), generated from these types: what
    /// `reports/schema/results.schema.json` holds (a test keeps the two equal). Objects allow
    /// properties they do not name: a newer writer may add fields within `wirebench/1`.
    pub fn json_schema() -> serde_json::Value {
        let mut v = schemars::schema_for!(Results).to_value();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "$id".into(),
                "https://wirebench.invalid/schema/results-1.json".into(),
            );
            o.insert(
                "title".into(),
                "wirebench results (schema wirebench/1)".into(),
            );
        }
        v
    }

    /// Reads and checks a results file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text, &p)
    }

    /// Parses results JSON; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ModelError> {
        // Check the schema first so a future version gets a clear message, not a field error.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Some(found) = v.get("schema").and_then(|s| s.as_str()) {
                if found != SCHEMA {
                    return Err(ModelError::Schema {
                        path: origin.to_string(),
                        found: found.to_string(),
                    });
                }
            }
        }
        serde_json::from_str(text).map_err(|e| ModelError::Json {
            path: origin.to_string(),
            line: e.line(),
            column: e.column(),
            msg: e.to_string(),
        })
    }

    /// Writes the file atomically (temp file in the same directory, then rename), so a
    /// reader or a killed run never sees a half-written file.
    pub fn save_atomic(&self, path: &Path) -> Result<(), ModelError> {
        let p = path.display().to_string();
        let io = |source| ModelError::Io {
            path: p.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            // On disk before it replaces the old file: a crash leaves one or the other whole.
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself, durable (best effort: not every file system lets a directory
            // be opened and synced).
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// An ok cell of scenario `default` with no figures and empty params, read from JSON as a
/// reader sees it; unit tests fill in the figures they need.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn test_cell(workload: &str, transport: &str, profile: &str, repeat: u32) -> Cell {
    serde_json::from_value(serde_json::json!({
        "scenario": "default", "workload": workload, "transport": transport,
        "profile": profile, "repeat": repeat, "status": "ok", "error": null,
        "params": {}, "latency_us": null, "setup_ms": null, "setup_rtts": null,
        "throughput": null, "delivery": null, "wire": null, "resources": null,
    }))
    .unwrap()
}

impl Cell {
    /// Whether the load generator limited this cell ([`Cell::harness_bound`]).
    pub fn is_harness_bound(&self) -> bool {
        self.harness_bound.is_some()
    }

    /// The workload's name in its scenario: `label` when set, else the workload id.
    pub fn workload_name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.workload)
    }

    /// The transport as shown and keyed: the id, with the implementation and a client other
    /// than the Rust agent in parentheses (`webrtc (str0m)`, `websocket (chromium)`), so a
    /// browser cell never counts as a repeat of a Rust one.
    pub fn transport_name(&self) -> String {
        let client = self
            .client
            .as_deref()
            .map(|c| c.split_whitespace().next().unwrap_or(c));
        match (&self.implementation, client) {
            (Some(i), Some(c)) => format!("{} ({i}, {c})", self.transport),
            (Some(i), None) => format!("{} ({i})", self.transport),
            (None, Some(c)) => format!("{} ({c})", self.transport),
            (None, None) => self.transport.clone(),
        }
    }

    /// The cell's key without the repeat: cells with the same key are repeats of one another.
    /// The workload part is [`Cell::workload_name`], the transport part
    /// [`Cell::transport_name`].
    pub fn key(&self) -> (String, String, String, String) {
        (
            self.scenario.clone(),
            self.workload_name().to_string(),
            self.transport_name(),
            self.profile.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trips() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in [10, 20, 30, 1000, 5000] {
            h.record(v).unwrap();
        }
        let l = Latency::from_histogram(&h).unwrap();
        let back = l.histogram().unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(l.count, 5);
    }

    fn uniform(n: u64) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=n {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn percentiles_need_enough_samples() {
        let l = Latency::from_histogram(&uniform(1500)).unwrap();
        assert_eq!(l.p50, Some(750));
        assert!(
            l.p99.is_some_and(|v| (1480..=1490).contains(&v)),
            "{:?}",
            l.p99
        );
        assert_eq!(l.p999, None, "1,500 samples cannot give p99.9");
        assert!(
            l.gap(0.999).unwrap().contains("10000"),
            "{:?}",
            l.gap(0.999)
        );
        assert_eq!(l.max, Some(1500));
        assert!(l.delivered.is_none());
        let small = Latency::from_histogram(&uniform(50)).unwrap();
        assert!(small.p50.is_some() && small.p90.is_none() && small.p99.is_none());
    }

    #[test]
    fn lost_frames_rank_after_delivered_ones() {
        // 2,000 frames, 1,900 delivered with latencies 1..=1900 µs, 100 lost (5 %).
        let l = Latency::with_lost(&uniform(1900), 100).unwrap();
        assert_eq!((l.count, l.lost, l.delivered_count()), (2000, 100, 1900));
        // p50 over all frames is the 1,000th value, not the 950th.
        assert_eq!(l.p50, Some(1000));
        // p90 = rank 1,800 of 2,000: still among the delivered.
        assert_eq!(l.p90, Some(1800));
        // p99 = rank 1,980 > 1,900 delivered: beyond the lost ones.
        assert_eq!(l.p99, None);
        assert!(l.gap(0.99).unwrap().contains("95.0 %"), "{:?}", l.gap(0.99));
        assert_eq!((l.max, l.mean), (None, None));
        let d = l.delivered.as_deref().unwrap();
        assert_eq!((d.count, d.p50, d.max), (1900, Some(950), Some(1900)));
        // Stored and read back: the same figures.
        let back: Latency = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn old_results_still_read() {
        let l: Latency = serde_json::from_str(
            r#"{"count":3,"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2.0,"hdr":""}"#,
        )
        .unwrap();
        assert_eq!((l.lost, l.p99), (0, Some(3)));
    }

    #[test]
    fn wrong_schema_is_named() {
        let e = Results::parse(r#"{"schema":"wirebench/9"}"#, "x.json").unwrap_err();
        assert!(e.to_string().contains("wirebench/9"), "{e}");
    }
}
