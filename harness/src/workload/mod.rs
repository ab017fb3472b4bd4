//! Workloads, written once against the [`Transport`] trait: no per-transport branches.
//!
//! The client half of every workload runs in the client agent (`wirebench drive`); the
//! server-driven parts (push schedules, downloads) run in the server agent on the orchestrator's
//! command. Latency is measured from the **intended** send time of an open-loop schedule
//! (coordinated-omission corrected) into HdrHistogram (µs, 3 significant digits); samples from
//! the warm-up are recorded apart and excluded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::clock::{now_ns, PreciseTimer};
use crate::frame::{Header, Kind, HEADER_LEN};
use crate::transport::{Connection, FrameSink, FrameStream, Target, Transport, TransportError};

pub mod collab;
pub mod flap;
pub mod idle;
pub mod params;
pub mod relay;

pub use params::{HttpVersion, Params};

/// Highest latency the histograms track: 60 s in µs.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A new latency histogram (µs, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Which workload and its parameters, as run by the client agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    /// Round trips at a fixed rate per client (open loop).
    Echo(Params),
    /// Server → clients at a fixed rate; one-way latency on the shared clock.
    Push(Params),
    /// Server → client bulk transfer with backpressure.
    Download(Params),
    /// Client → server bulk transfer with backpressure.
    Upload(Params),
    /// Cold connection setup, repeated.
    Connect(Params),
    /// Browser only: `clients` event streams (or long-polls) opened at once to one origin;
    /// time to each one's first event shows the browser's per-origin connection limit. One
    /// stream is released every `duration_ms`.
    OriginLimit(Params),
    /// Client A → client B in pairs (open loop, one-way latency): through the server, or peer
    /// to peer for WebRTC.
    Relay(Params),
    /// N clients send ops; the server orders and broadcasts them: op → delivered-to-all
    /// latency and order violations.
    Collab(Params),
    /// Many quiet connections held open, a rare notification to all of them: memory per
    /// connection, keep-alive bytes, notification latency (see [`idle`]).
    Idle(Params),
    /// A push stream whose link is cut for a while: recovery time, frames lost and duplicated
    /// (see [`flap`]).
    Flap(Params),
}

impl WorkloadSpec {
    /// The workload's id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Echo(_) => "echo",
            Self::Push(_) => "push",
            Self::Download(_) => "download",
            Self::Upload(_) => "upload",
            Self::Connect(_) => "connect",
            Self::OriginLimit(_) => "origin-limit",
            Self::Relay(_) => "relay",
            Self::Collab(_) => "collab",
            Self::Idle(_) => "idle",
            Self::Flap(_) => "flap",
        }
    }

    /// Its parameters.
    pub fn params(&self) -> &Params {
        match self {
            Self::Echo(p)
            | Self::Push(p)
            | Self::Download(p)
            | Self::Upload(p)
            | Self::Connect(p)
            | Self::OriginLimit(p)
            | Self::Relay(p)
            | Self::Collab(p)
            | Self::Idle(p)
            | Self::Flap(p) => p,
        }
    }

    /// What the latency figures of this workload are.
    pub fn latency_kind(&self) -> &'static str {
        match self {
            Self::Echo(_) => "rtt",
            Self::Push(_)
            | Self::Download(_)
            | Self::Relay(_)
            | Self::Collab(_)
            | Self::Idle(_)
            | Self::Flap(_) => "one-way",
            Self::Upload(_) => "none",
            Self::Connect(_) => "setup",
            Self::OriginLimit(_) => "first-event",
        }
    }

    /// How long the whole workload may take before the orchestrator gives up on it.
    pub fn time_limit(&self) -> Duration {
        let p = self.params();
        let base = p.warmup_ms + p.duration_ms;
        // Connecting thousands of clients takes a while before any schedule starts (TLS
        // handshakes on a small machine, through the emulator): 10 ms per client on top.
        let connecting = 10 * u64::from(p.clients);
        match self {
            Self::Connect(_) => Duration::from_secs(60 + 10 * p.connects as u64),
            Self::OriginLimit(_) => {
                Duration::from_millis(p.duration_ms * (p.clients as u64 + 2))
                    + Duration::from_secs(60)
            }
            // Plus the keep-alive-only window.
            Self::Idle(_) => {
                Duration::from_millis(base + p.quiet_ms.unwrap_or(0) + connecting)
                    + Duration::from_secs(120)
            }
            Self::Flap(_) => Duration::from_millis(base) + Duration::from_secs(90),
            _ => Duration::from_millis(base + connecting) + Duration::from_secs(60),
        }
    }
}

/// Every workload id, for `wirebench list`.
pub const ALL_IDS: &[(&str, &str)] = &[
    ("echo", "RTT at a fixed open-loop send rate per client"),
    (
        "push",
        "server → N clients at a fixed rate, one-way latency",
    ),
    ("download", "bulk server → client goodput with backpressure"),
    (
        "upload",
        "bulk client → server goodput with backpressure (measured at the server)",
    ),
    ("connect", "cold connection setup time, repeated"),
    (
        "origin-limit",
        "browser only: N event streams / long-polls to one origin, time to each one's first event",
    ),
    (
        "relay",
        "client A → client B in pairs, one-way latency: WebRTC peer to peer, others via the server",
    ),
    (
        "collab",
        "N clients send ops, the server orders and broadcasts: delivered-to-all latency, order violations",
    ),
    (
        "idle",
        "many quiet connections, rare notifications: memory per connection, keep-alive bytes, notification latency",
    ),
    (
        "flap",
        "link cut mid push stream: recovery time, frames lost and duplicated, reconnects",
    ),
];

/// What a client agent reports for its clients, merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientReport {
    /// Why the workload failed, if it did.
    pub error: Option<String>,
    /// Latency histogram (base64 V2+deflate), warm-up excluded.
    pub latency_hdr: Option<String>,
    /// Samples recorded during warm-up.
    pub warmup_samples: u64,
    /// Setup time of each connection, µs.
    pub setup_us: Vec<u64>,
    /// Setup phases summed over connections, µs (divide by `setup_us.len()` for the mean).
    pub setup_phases_us: BTreeMap<String, u64>,
    /// Frames sent (after warm-up, for the delivery figures).
    pub sent: u64,
    /// Distinct frames received (after warm-up).
    pub received: u64,
    /// Extra copies received.
    pub duplicated: u64,
    /// Frames received after a higher sequence number.
    pub reordered: u64,
    /// Bytes received after warm-up.
    pub bytes_received: u64,
    /// Frames received after warm-up.
    pub frames_received: u64,
    /// Time span of the bytes counted in `bytes_received`, ns (summed per client).
    pub recv_span_ns: u64,
    /// Bytes sent (every frame, warm-up included).
    pub bytes_sent: u64,
    /// Bytes received (every frame, warm-up included).
    pub bytes_received_total: u64,
    /// Errors counted by kind (not fatal).
    pub errors: BTreeMap<String, u64>,
    /// How late sends left against their schedule: p50, p99, max in µs (open-loop senders).
    pub send_lateness_us: Option<[u64; 3]>,
    /// CPU seconds of the agent process.
    pub cpu_s: Option<f64>,
    /// Peak RSS of the agent process, bytes.
    pub rss_peak_bytes: Option<u64>,
    /// relay with a deadline: frames that arrived after it (counted as lost, not received).
    #[serde(default)]
    pub late: u64,
    /// collab: ops delivered to each client after warm-up, in client-id order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_client_received: Vec<u64>,
    /// collab: each client's arrival order of the ops after warm-up (op id = sender << 32 |
    /// seq), compared by the orchestrator with the server's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrival_orders: Vec<Vec<u64>>,
    /// The agent's open-file limit, after raising it.
    #[serde(default)]
    pub nofile_limit: Option<u64>,
    /// RSS of the agent before its clients connected (idle), bytes.
    #[serde(default)]
    pub rss_before_connect_bytes: Option<u64>,
    /// RSS of the agent once every client was connected (idle), bytes.
    #[serde(default)]
    pub rss_connected_bytes: Option<u64>,
    /// Downstreams resumed in place after a lost or silent connection (flap: SSE with
    /// `Last-Event-ID`, long-poll and poll from their cursor).
    #[serde(default)]
    pub resumes: u64,
    /// New connections opened after a lost or silent one (flap).
    #[serde(default)]
    pub reconnects: u64,
    /// Resume or reconnect attempts that failed or timed out (flap).
    #[serde(default)]
    pub failed_attempts: u64,
    /// Start of the longest silence between two frames a client saw (flap), monotonic ns;
    /// the earliest over the agent's clients.
    #[serde(default)]
    pub gap_start_ns: Option<u64>,
    /// End of that silence: arrival of the frame that ended it, monotonic ns; the latest over
    /// the agent's clients.
    #[serde(default)]
    pub gap_end_ns: Option<u64>,
}

impl ClientReport {
    /// Stores what a receiving loop measured: the histogram, warm-up count, sequence
    /// accounting and frames the transport dropped.
    pub(crate) fn record_receipt(
        &mut self,
        hist: &Histogram<u64>,
        warm: u64,
        seqs: &SeqTracker,
        stream: &dyn FrameStream,
    ) -> Result<(), TransportError> {
        self.latency_hdr = Some(encode(hist)?);
        self.warmup_samples = warm;
        self.received = hist.len();
        self.duplicated = seqs.duplicated;
        self.reordered = seqs.reordered;
        if stream.dropped() > 0 {
            *self.errors.entry("frame_dropped".into()).or_default() += stream.dropped();
        }
        Ok(())
    }

    /// The frame's header if it parses and `wanted` accepts it; otherwise counts it
    /// (`frame_unexpected`, or the parse error's key) and returns None.
    pub(crate) fn accept(
        &mut self,
        frame: &[u8],
        wanted: impl Fn(&Header) -> bool,
    ) -> Option<Header> {
        match Header::parse(frame) {
            Ok(h) if wanted(&h) => Some(h),
            Ok(_) => {
                self.count_error("frame_unexpected");
                None
            }
            Err(e) => {
                self.count_error(e.counter_key());
                None
            }
        }
    }

    pub(crate) fn count_error(&mut self, key: &str) {
        *self.errors.entry(key.to_string()).or_default() += 1;
    }

    /// Adds another report (another client, or another client agent) to this one (histograms
    /// merged, counts summed).
    pub fn merge(&mut self, other: ClientReport) -> Result<(), TransportError> {
        if self.error.is_none() {
            self.error = other.error;
        }
        self.latency_hdr = match (self.latency_hdr.take(), other.latency_hdr) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => {
                let mut ha = decode(&a)?;
                ha.add(decode(&b)?)
                    .map_err(|e| TransportError::Protocol(format!("histogram merge: {e}")))?;
                Some(encode(&ha)?)
            }
        };
        self.warmup_samples += other.warmup_samples;
        self.setup_us.extend(other.setup_us);
        for (k, v) in other.setup_phases_us {
            *self.setup_phases_us.entry(k).or_default() += v;
        }
        self.sent += other.sent;
        self.received += other.received;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.bytes_received += other.bytes_received;
        self.frames_received += other.frames_received;
        self.recv_span_ns = self.recv_span_ns.max(other.recv_span_ns);
        self.bytes_sent += other.bytes_sent;
        self.bytes_received_total += other.bytes_received_total;
        self.send_lateness_us = match (self.send_lateness_us, other.send_lateness_us) {
            (Some(a), Some(b)) => Some([a[0].max(b[0]), a[1].max(b[1]), a[2].max(b[2])]),
            (a, b) => a.or(b),
        };
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        // Several client agents: their processes' CPU time and memory (peak, and before and
        // after connecting: idle's memory per connection) add up; the open-file limit in force
        // is the lowest.
        self.cpu_s = match (self.cpu_s, other.cpu_s) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.rss_peak_bytes = opt(
            self.rss_peak_bytes,
            other.rss_peak_bytes,
            u64::saturating_add,
        );
        self.rss_before_connect_bytes = opt(
            self.rss_before_connect_bytes,
            other.rss_before_connect_bytes,
            u64::saturating_add,
        );
        self.rss_connected_bytes = opt(
            self.rss_connected_bytes,
            other.rss_connected_bytes,
            u64::saturating_add,
        );
        self.nofile_limit = opt(self.nofile_limit, other.nofile_limit, u64::min);
        self.late += other.late;
        self.per_client_received.extend(other.per_client_received);
        self.arrival_orders.extend(other.arrival_orders);
        self.resumes += other.resumes;
        self.reconnects += other.reconnects;
        self.failed_attempts += other.failed_attempts;
        self.gap_start_ns = opt(self.gap_start_ns, other.gap_start_ns, u64::min);
        self.gap_end_ns = opt(self.gap_end_ns, other.gap_end_ns, u64::max);
        Ok(())
    }
}

/// Combines two optional values with `f`, or takes whichever is there.
fn opt(a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn encode(h: &Histogram<u64>) -> Result<String, TransportError> {
    wirebench_reports::encode_histogram(h).map_err(|e| TransportError::Protocol(e.to_string()))
}

fn decode(s: &str) -> Result<Histogram<u64>, TransportError> {
    wirebench_reports::decode_histogram(s).map_err(|e| TransportError::Protocol(e.to_string()))
}

/// Tracks sequence numbers: distinct, duplicated and reordered arrivals.
#[derive(Debug, Default)]
pub struct SeqTracker {
    seen: Vec<u64>,
    max_seen: Option<u64>,
    /// Distinct sequence numbers seen.
    pub distinct: u64,
    /// Repeats of a sequence number already seen.
    pub duplicated: u64,
    /// Arrivals below the highest sequence number seen so far.
    pub reordered: u64,
}

impl SeqTracker {
    /// Records `seq`; returns true if it is new.
    pub fn record(&mut self, seq: u64) -> bool {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.seen.len() {
            if w > 1 << 26 {
                // Absurd sequence number from a peer: count it, don't allocate for it.
                self.duplicated += 1;
                return false;
            }
            self.seen.resize(w + 1, 0);
        }
        if self.seen[w] & (1 << b) != 0 {
            self.duplicated += 1;
            return false;
        }
        self.seen[w] |= 1 << b;
        self.distinct += 1;
        match self.max_seen {
            Some(m) if seq < m => self.reordered += 1,
            _ => self.max_seen = Some(seq),
        }
        true
    }
}

/// Runs the client half of `spec` for clients `first_client ..` over `transport`.
/// `on_connected` is called once every client is connected (server-driven workloads start then).
pub async fn run_clients(
    transport: Arc<dyn Transport>,
    base: Target,
    spec: WorkloadSpec,
    first_client: u32,
    on_connected: impl FnOnce(Vec<u32>),
) -> ClientReport {
    run_clients_gated(
        transport,
        base,
        spec,
        first_client,
        None,
        on_connected,
        async {},
    )
    .await
}

/// [`run_clients`] for `count` clients (None: the workload's `clients`), holding every schedule
/// until `start` resolves after `on_connected`: the orchestrator's barrier when the server or
/// other client agents must be ready first (relay pairs, collab).
pub async fn run_clients_gated(
    transport: Arc<dyn Transport>,
    base: Target,
    spec: WorkloadSpec,
    first_client: u32,
    count: Option<u32>,
    on_connected: impl FnOnce(Vec<u32>),
    start: impl std::future::Future<Output = ()>,
) -> ClientReport {
    let p = spec.params().clone();
    let mut report = ClientReport::default();
    if p.size < HEADER_LEN {
        report.error = Some(format!(
            "message size {} is below the {HEADER_LEN}-byte frame header",
            p.size
        ));
        return report;
    }
    if let WorkloadSpec::Connect(_) = spec {
        let target = Target {
            client_id: first_client,
            ..base
        };
        connect_workload(transport.as_ref(), &target, &p, &mut report).await;
        return finish(report);
    }
    if let WorkloadSpec::OriginLimit(_) = spec {
        report.error =
            Some("origin-limit runs in the browser client only (--client browser)".into());
        return report;
    }
    let relay = matches!(spec, WorkloadSpec::Relay(_));
    if relay {
        if let Err(e) = relay::check_pairs(p.clients) {
            report.error = Some(e);
            return report;
        }
    }
    let base = client_target(&spec, base);
    let spread = matches!(spec, WorkloadSpec::Idle(_));
    if spread {
        report.rss_before_connect_bytes = crate::agent::procstat::rss_bytes();
    }
    // Connect every client first (concurrently, a few at a time to spread the handshakes;
    // relay peers all at once, since a peer-to-peer offer waits for its answerer).
    let ids: Vec<u32> = (0..count.unwrap_or(p.clients).max(1))
        .map(|k| first_client + k)
        .collect();
    let mut conns = Vec::with_capacity(ids.len());
    let chunk_len = if relay { ids.len() } else { 64 };
    for chunk in ids.chunks(chunk_len) {
        let futs = chunk.iter().map(|&id| {
            let t = transport.clone();
            let mut target = Target {
                client_id: id,
                ..base.clone()
            };
            if spread {
                target.local_ip = idle::source_ip(target.addr, id);
            }
            let pair = relay.then(|| relay::peer_of(id, p.clients));
            async move {
                let connect = async {
                    match pair {
                        Some((peer, sender)) => t.connect_relay(&target, peer, sender).await,
                        None => t.connect(&target).await,
                    }
                };
                // A server that accepts no more (out of file descriptors) leaves a handshake
                // hanging: bounded, so the cell fails with the reason instead of its time limit.
                let c = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .unwrap_or_else(|_| {
                        Err(TransportError::Timeout(format!(
                            "no connection after {} s",
                            CONNECT_TIMEOUT.as_secs()
                        )))
                    });
                (id, c, target)
            }
        });
        for (id, r, target) in futures_util::future::join_all(futs).await {
            match r {
                Ok(c) => {
                    report.setup_us.push(c.setup.total.as_micros() as u64);
                    for (k, v) in &c.setup.phases {
                        *report.setup_phases_us.entry(k.to_string()).or_default() +=
                            v.as_micros() as u64;
                    }
                    conns.push((id, c, target));
                }
                Err(e) => {
                    report.error = Some(format!(
                        "client {id}: connect: {e} ({} of {} clients connected)",
                        conns.len(),
                        ids.len()
                    ));
                    return finish(report);
                }
            }
        }
    }
    if spread {
        report.rss_connected_bytes = crate::agent::procstat::rss_bytes();
    }
    on_connected(ids);
    start.await;
    let start_ns = now_ns() + 5_000_000; // every client's schedule starts 5 ms from now
    if let WorkloadSpec::Collab(p) = &spec {
        let conns = conns.into_iter().map(|(id, c, _)| (id, c)).collect();
        let r = collab::run(p, conns, start_ns).await;
        if let Err(e) = report.merge(r) {
            report.error.get_or_insert(e.to_string());
        }
        return finish(report);
    }
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(id, conn, target)| {
            let spec = spec.clone();
            let transport = transport.clone();
            tokio::spawn(async move { run_one(spec, id, conn, start_ns, transport, target).await })
        })
        .collect();
    for t in tasks {
        match t.await {
            Ok(r) => {
                if let Err(e) = report.merge(r) {
                    report.error.get_or_insert(e.to_string());
                }
            }
            Err(e) => {
                report.error.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    finish(report)
}

/// The target a workload's clients connect with: listen-only clients (idle, push) open no
/// HTTP upstream until they send, which they never do, so 10,000 of them hold 10,000
/// connections at the server rather than 20,000 (twice the open-file limit's worth, once).
fn client_target(spec: &WorkloadSpec, base: Target) -> Target {
    match spec {
        WorkloadSpec::Idle(p) => idle::client_target(p, base),
        WorkloadSpec::Push(_) => Target {
            lazy_up: true,
            ..base
        },
        _ => base,
    }
}

fn finish(mut r: ClientReport) -> ClientReport {
    r.cpu_s = crate::agent::procstat::cpu_seconds();
    r.rss_peak_bytes = crate::agent::procstat::rss_peak_bytes();
    r
}

async fn run_one(
    spec: WorkloadSpec,
    id: u32,
    conn: Connection,
    start_ns: u64,
    transport: Arc<dyn Transport>,
    target: Target,
) -> ClientReport {
    let mut rep = ClientReport::default();
    if let WorkloadSpec::Flap(p) = &spec {
        if let Err(e) = flap::client(p, conn, transport.as_ref(), &target, &mut rep).await {
            rep.error = Some(format!("client {id}: {e}"));
        }
        return rep;
    }
    let Connection { sink, stream, .. } = conn;
    let res = match &spec {
        WorkloadSpec::Echo(p) => echo(p, id, sink, stream, start_ns, &mut rep).await,
        WorkloadSpec::Push(p) => receive_server_frames(p, Kind::Push, stream, &mut rep).await,
        WorkloadSpec::Download(p) => {
            let _keep = sink; // keep the upstream open while downloading
            receive_server_frames(p, Kind::Data, stream, &mut rep).await
        }
        WorkloadSpec::Upload(p) => upload(p, id, sink, stream, start_ns, &mut rep).await,
        WorkloadSpec::Relay(p) => match relay::peer_of(id, p.clients) {
            (peer, true) => relay::send(p, id, peer, sink, stream, start_ns, &mut rep).await,
            (peer, false) => relay::receive(p, peer, sink, stream, start_ns, &mut rep).await,
        },
        WorkloadSpec::Idle(p) => {
            let _keep = sink; // a dropped sink may close the connection (tcp: FIN)
            idle::client(p, stream, start_ns, &mut rep).await
        }
        WorkloadSpec::Connect(_)
        | WorkloadSpec::Collab(_)
        | WorkloadSpec::OriginLimit(_)
        | WorkloadSpec::Flap(_) => Ok(()),
    };
    if let Err(e) = res {
        rep.error = Some(format!("client {id}: {e}"));
    }
    rep
}

/// The next frame if one arrives before `deadline_ns` (monotonic); `None` at the deadline or
/// when the stream ends.
pub(crate) async fn recv_before(
    stream: &mut dyn FrameStream,
    deadline_ns: u64,
) -> Result<Option<Bytes>, TransportError> {
    let wait = Duration::from_nanos(deadline_ns.saturating_sub(now_ns()));
    match tokio::time::timeout(wait, stream.recv()).await {
        Err(_) => Ok(None),
        Ok(r) => r,
    }
}

/// How long to wait for stragglers after the last scheduled send.
pub const DRAIN: Duration = Duration::from_secs(3);

/// How long one client's connect may take before the workload gives up on it (TCP's SYN
/// retransmits alone reach 15 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A download ends early after this long without a data frame (the browser page uses the same).
pub const BULK_STALL: Duration = Duration::from_millis(1500);

async fn echo(
    p: &Params,
    id: u32,
    sink: Box<dyn FrameSink>,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let (sched, warm_n) = Schedule::of(p, start_ns);
    let (period_ns, total_n) = (sched.period_ns, sched.total_n);
    let size = p.size;
    let sent = Arc::new(AtomicU64::new(0));
    let sender = send_schedule(sink, sched, id, Kind::EchoRequest, size, sent.clone());
    let end_ns = start_ns + total_n * period_ns + DRAIN.as_nanos() as u64;
    let mut hist = new_histogram();
    let mut warm = 0u64;
    let mut seqs = SeqTracker::default();
    let mut rx_total = 0u64;
    let receiver = async {
        let mut got = 0u64;
        while got < total_n {
            let Some(f) = recv_before(stream.as_mut(), end_ns).await? else {
                break;
            };
            let now = now_ns();
            rx_total += f.len() as u64;
            let Some(h) = rep.accept(&f, |h| h.kind == Kind::EchoReply && h.sender == id) else {
                continue;
            };
            if h.seq >= total_n || !seqs.record(h.seq) {
                continue;
            }
            got += 1;
            let us = now.saturating_sub(h.sent_ns) / 1000;
            if h.seq < warm_n {
                warm += 1;
            } else {
                let _ = hist.record(us.clamp(1, MAX_LATENCY_US));
            }
        }
        Ok::<_, TransportError>(())
    };
    let (s, r) = tokio::join!(sender, receiver);
    r?;
    let (mut sink, late) = s?;
    let _ = sink.close().await;
    rep.send_lateness_us = Some(lateness(&late));
    let sent = sent.load(Ordering::Acquire);
    rep.record_receipt(&hist, warm, &seqs, stream.as_ref())?;
    rep.sent = sent.saturating_sub(warm_n);
    rep.frames_received = hist.len();
    rep.bytes_received = hist.len() * size as u64;
    rep.recv_span_ns = (total_n - warm_n) * period_ns;
    rep.bytes_sent = sent * size as u64;
    rep.bytes_received_total = rx_total;
    Ok(())
}

/// An open-loop send schedule: frame `seq` is due at `start_ns + seq * period_ns`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// When frame 0 is due (monotonic ns).
    pub start_ns: u64,
    /// Interval between frames, ns.
    pub period_ns: u64,
    /// Frames in all, warm-up included.
    pub total_n: u64,
}

impl Schedule {
    /// The schedule of `p` (rate, warm-up, duration) from `start_ns`, and the warm-up's frames.
    pub fn of(p: &Params, start_ns: u64) -> (Self, u64) {
        let warm_n = (p.rate * p.warmup_ms as f64 / 1000.0).ceil() as u64;
        let total_n = warm_n + (p.rate * p.duration_ms as f64 / 1000.0).ceil() as u64;
        let s = Self {
            start_ns,
            period_ns: (1e9 / p.rate.max(0.001)) as u64,
            total_n,
        };
        (s, warm_n)
    }

    /// When the last frame is due.
    pub fn end_ns(&self) -> u64 {
        self.start_ns + self.total_n * self.period_ns
    }
}

/// Sends the schedule's frames of `kind` from `id`, each stamped with its intended send time;
/// `sent` counts frames handed to the transport. Returns the sink and how late each send left
/// (µs histogram).
pub(crate) async fn send_schedule(
    mut sink: Box<dyn FrameSink>,
    sched: Schedule,
    id: u32,
    kind: Kind,
    size: usize,
    sent: Arc<AtomicU64>,
) -> Result<(Box<dyn FrameSink>, Histogram<u64>), TransportError> {
    let mut timer = PreciseTimer::new().map_err(|e| TransportError::io("timerfd", e))?;
    let mut late = new_histogram();
    for seq in 0..sched.total_n {
        let t = sched.start_ns + seq * sched.period_ns;
        timer
            .sleep_until_ns(t)
            .await
            .map_err(|e| TransportError::io("timerfd", e))?;
        let _ = late.record(((now_ns() - t) / 1000).clamp(1, MAX_LATENCY_US));
        let f = Header {
            seq,
            sent_ns: t,
            sender: id,
            kind,
        }
        .encode(size);
        sink.send(f).await?;
        sent.store(seq + 1, Ordering::Release);
    }
    Ok((sink, late))
}

/// p50, p99 and max of a send-lateness histogram.
pub(crate) fn lateness(h: &Histogram<u64>) -> [u64; 3] {
    [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()]
}

/// Receives server-originated frames of `kind` (push or download data).
async fn receive_server_frames(
    p: &Params,
    kind: Kind,
    mut stream: Box<dyn FrameStream>,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let bulk = kind == Kind::Data;
    let warm_n = (p.rate * p.warmup_ms as f64 / 1000.0).ceil() as u64;
    let expect_n = warm_n + (p.rate * p.duration_ms as f64 / 1000.0).ceil() as u64;
    let mut hist = new_histogram();
    let mut warm = 0;
    let mut seqs = SeqTracker::default();
    let mut first_ns = None;
    let mut counted_first = None;
    let mut last_ns = 0;
    let first_wait = Duration::from_secs(30);
    // Bulk: the server sends for warm-up + duration; stop half a second after that, so a deep
    // queue's tail does not stretch the cell, or after BULK_STALL without data: longer than a
    // reliable transport's retransmission timeout (SCTP's minimum RTO is 1 s), so a stall
    // mid-stream counts against the goodput instead of ending the download.
    // Push: stragglers get DRAIN after the schedule, plus a poll interval (a poll client
    // fetches the last frames at its next poll, up to `poll_interval_ms` later).
    let (stall, idle) = if bulk {
        (BULK_STALL, Duration::from_millis(500))
    } else {
        let drain = DRAIN + Duration::from_millis(p.poll_interval_ms);
        (drain, drain)
    };
    let mut deadline = now_ns() + first_wait.as_nanos() as u64;
    loop {
        if !bulk && seqs.distinct >= expect_n {
            break;
        }
        let Some(f) = recv_before(stream.as_mut(), deadline).await? else {
            break;
        };
        let now = now_ns();
        rep.bytes_received_total += f.len() as u64;
        let Some(h) = rep.accept(&f, |h| h.kind == kind) else {
            continue;
        };
        let first = *first_ns.get_or_insert(now);
        deadline = if bulk {
            (now + stall.as_nanos() as u64)
                .min(first + (p.duration_ms + p.warmup_ms) * 1_000_000 + idle.as_nanos() as u64)
        } else {
            first + (p.duration_ms + p.warmup_ms) * 1_000_000 + idle.as_nanos() as u64
        };
        if !seqs.record(h.seq) {
            continue;
        }
        let in_warmup = if bulk {
            now < first + p.warmup_ms * 1_000_000
        } else {
            h.seq < warm_n
        };
        if in_warmup {
            warm += 1;
            continue;
        }
        let us = now.saturating_sub(h.sent_ns) / 1000;
        let _ = hist.record(us.clamp(1, MAX_LATENCY_US));
        counted_first.get_or_insert(now);
        last_ns = now;
        rep.bytes_received += f.len() as u64;
        rep.frames_received += 1;
    }
    if first_ns.is_none() {
        return Err(TransportError::Timeout(format!(
            "no {} frame arrived within {} s",
            if bulk { "data" } else { "push" },
            first_wait.as_secs()
        )));
    }
    rep.record_receipt(&hist, warm, &seqs, stream.as_ref())?;
    if bulk {
        // Sequence numbers below the highest one seen that never came: lost data frames
        // (possible on unreliable transports; a fault on reliable ones).
        let missing = seqs
            .max_seen
            .map_or(0, |m| (m + 1).saturating_sub(seqs.distinct));
        if missing > 0 {
            *rep.errors.entry("frame_missing".into()).or_default() += missing;
        }
    }
    rep.sent = if bulk { hist.len() } else { expect_n - warm_n };
    rep.recv_span_ns = counted_first.map_or(0, |f| last_ns.saturating_sub(f));
    Ok(())
}

async fn upload(
    p: &Params,
    id: u32,
    mut sink: Box<dyn FrameSink>,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let end = start_ns + (p.warmup_ms + p.duration_ms) * 1_000_000;
    let mut seq = 0u64;
    crate::clock::PreciseTimer::new()
        .map_err(|e| TransportError::io("timerfd", e))?
        .sleep_until_ns(start_ns)
        .await
        .map_err(|e| TransportError::io("timerfd", e))?;
    while now_ns() < end {
        let f = Header {
            seq,
            sent_ns: now_ns(),
            sender: id,
            kind: Kind::Data,
        }
        .encode(p.size);
        sink.send(f).await?;
        seq += 1;
        rep.bytes_sent += p.size as u64;
    }
    rep.sent = seq;
    // An echo after the data: on a reliable ordered transport its reply proves the server has
    // taken every data frame before it.
    let marker = Header {
        seq,
        sent_ns: now_ns(),
        sender: id,
        kind: Kind::EchoRequest,
    }
    .encode(HEADER_LEN);
    sink.send(marker).await?;
    let deadline = Duration::from_secs(30);
    let got = tokio::time::timeout(deadline, async {
        while let Some(f) = stream.recv().await? {
            if let Ok(h) = Header::parse(&f) {
                if h.kind == Kind::EchoReply && h.seq == seq {
                    return Ok::<_, TransportError>(true);
                }
            }
        }
        Ok(false)
    })
    .await;
    match got {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(TransportError::Closed),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(TransportError::Timeout(
            "server did not confirm the end of the upload".into(),
        )),
    }
}

async fn connect_workload(
    transport: &dyn Transport,
    target: &Target,
    p: &Params,
    rep: &mut ClientReport,
) {
    let mut hist = new_histogram();
    for i in 0..p.connects.max(1) {
        let t0 = now_ns();
        let mut conn = match transport.connect(target).await {
            Ok(c) => c,
            Err(e) => {
                rep.error = Some(format!("connect #{}: {e}", i + 1));
                return;
            }
        };
        let setup_us = conn.setup.total.as_micros() as u64;
        // One round trip proves the connection carries frames both ways.
        let probe = Header {
            seq: i as u64,
            sent_ns: t0,
            sender: target.client_id,
            kind: Kind::EchoRequest,
        }
        .encode(p.size.max(HEADER_LEN));
        let ok = async {
            conn.sink.send(probe).await?;
            loop {
                match conn.stream.recv().await? {
                    Some(f) => {
                        if Header::parse(&f).is_ok_and(|h| h.kind == Kind::EchoReply) {
                            return Ok::<_, TransportError>(());
                        }
                    }
                    None => return Err(TransportError::Closed),
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), ok).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                rep.error = Some(format!("connect #{}: first echo: {e}", i + 1));
                return;
            }
            Err(_) => {
                rep.error = Some(format!("connect #{}: first echo timed out", i + 1));
                return;
            }
        }
        let _ = conn.sink.close().await;
        drop(conn);
        let warm = i == 0 && p.warmup_ms > 0; // the first connect warms caches when a warm-up is asked for
        if warm {
            rep.warmup_samples += 1;
        } else {
            let _ = hist.record(setup_us.max(1));
            rep.setup_us.push(setup_us);
        }
    }
    rep.sent = hist.len();
    rep.received = hist.len();
    match encode(&hist) {
        Ok(s) => rep.latency_hdr = Some(s),
        Err(e) => rep.error = Some(e.to_string()),
    }
}

/// Sends `count` push frames to each client at `rate`, stamped with their intended send time.
pub async fn server_push(
    hub: &crate::server::hub::Hub,
    clients: &[u32],
    rate: f64,
    size: usize,
    count: u64,
) -> std::io::Result<()> {
    let period = (1e9 / rate.max(0.001)) as u64;
    let start = now_ns() + 2_000_000;
    let mut timer = PreciseTimer::new()?;
    for seq in 0..count {
        let t = start + seq * period;
        timer.sleep_until_ns(t).await?;
        let f: Bytes = Header {
            seq,
            sent_ns: t,
            sender: 0,
            kind: Kind::Push,
        }
        .encode(size);
        for &c in clients {
            hub.send_to(c, f.clone()).await;
        }
    }
    Ok(())
}

/// Sends data frames to each client as fast as its downstream accepts, for `duration`.
/// HTTP downstreams are paced by what the client has acknowledged (a bounded window).
pub async fn server_download(
    hub: Arc<crate::server::hub::Hub>,
    clients: Vec<u32>,
    size: usize,
    duration: Duration,
) {
    let end = now_ns() + duration.as_nanos() as u64;
    let window = (4 << 20) / size.max(1) as u64 + 16;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let state = hub.client(c);
                let mut delivered = state.delivered.subscribe();
                let mut seq = 0;
                while now_ns() < end {
                    while state.backlog() > window {
                        delivered.mark_unchanged();
                        if state.backlog() <= window {
                            break;
                        }
                        if tokio::time::timeout(Duration::from_millis(200), delivered.changed())
                            .await
                            .is_ok_and(|r| r.is_err())
                        {
                            return;
                        }
                        if now_ns() >= end {
                            return;
                        }
                    }
                    let f = Header {
                        seq,
                        sent_ns: now_ns(),
                        sender: 0,
                        kind: Kind::Data,
                    }
                    .encode(size);
                    if !hub.send_to(c, f).await {
                        return;
                    }
                    seq += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listen-only clients (push, idle) open no HTTP upstream; clients that send do.
    #[test]
    fn only_senders_open_an_upstream_at_once() {
        let base = Target::new(
            "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!()),
            true,
            None,
            1,
            Duration::from_millis(50),
        );
        let p = Params {
            rate: 10.0,
            size: 64,
            duration_ms: 1000,
            clients: 1,
            connects: 1,
            poll_interval_ms: 50,
            ..Params::default()
        };
        assert!(client_target(&WorkloadSpec::Push(p.clone()), base.clone()).lazy_up);
        assert!(client_target(&WorkloadSpec::Idle(p.clone()), base.clone()).lazy_up);
        assert!(!client_target(&WorkloadSpec::Echo(p.clone()), base.clone()).lazy_up);
        assert!(!client_target(&WorkloadSpec::Upload(p), base).lazy_up);
    }

    #[test]
    fn seq_tracker_counts_dups_and_reorders() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 3, 2, 3, 5, 4] {
            t.record(s);
        }
        assert_eq!(t.distinct, 6);
        assert_eq!(t.duplicated, 1);
        assert_eq!(t.reordered, 2);
    }

    /// The orchestrator merges its client agents' reports into an empty one: the idle
    /// workload's memory before and after connecting adds up over agents, the open-file limit
    /// is the lowest, the flap silence spans the earliest start to the latest end.
    #[test]
    fn merged_agent_reports_keep_idle_and_flap_figures() {
        let agent = |before, connected, nofile, gap: (u64, u64)| ClientReport {
            rss_before_connect_bytes: Some(before),
            rss_connected_bytes: Some(connected),
            nofile_limit: Some(nofile),
            gap_start_ns: Some(gap.0),
            gap_end_ns: Some(gap.1),
            resumes: 1,
            ..ClientReport::default()
        };
        let mut r = ClientReport::default();
        r.merge(agent(10, 30, 1024, (5, 50))).unwrap();
        assert_eq!(
            (
                r.rss_before_connect_bytes,
                r.rss_connected_bytes,
                r.nofile_limit
            ),
            (Some(10), Some(30), Some(1024))
        );
        r.merge(agent(20, 25, 512, (3, 40))).unwrap();
        assert_eq!(
            (
                r.rss_before_connect_bytes,
                r.rss_connected_bytes,
                r.nofile_limit
            ),
            (Some(30), Some(55), Some(512))
        );
        assert_eq!(
            (r.gap_start_ns, r.gap_end_ns, r.resumes),
            (Some(3), Some(50), 2)
        );
    }

    /// A cell's time limit grows with its client count, so 10,000 clients connecting through
    /// the emulator before the schedule starts don't time a sound cell out.
    #[test]
    fn time_limit_grows_with_clients() {
        let push = |clients| {
            WorkloadSpec::Push(Params {
                clients,
                warmup_ms: 10_000,
                duration_ms: 60_000,
                ..Params::default()
            })
            .time_limit()
        };
        assert_eq!(push(1), Duration::from_millis(130_010));
        assert_eq!(push(10_000), Duration::from_secs(230));
    }
}
