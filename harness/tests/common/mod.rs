//! Helpers shared by the transport conformance tests: an in-process server, targets pinned to
//! its certificate, connections by transport id (`id` or `id@impl`), recognisable frames.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wirebench::clock::now_ns;
use wirebench::frame::{Header, Kind};
use wirebench::server::{Server, ServerConfig};
use wirebench::transport::{self, Connection, Target, Transport};
use wirebench::workload::{relay, run_clients_gated, ClientReport, Params, WorkloadSpec};

pub async fn server() -> Server {
    server_with(false).await
}

/// A server that offers HTTP/2 (ALPN `h2`) as well as HTTP/1.1 when `http2`.
pub async fn server_with(http2: bool) -> Server {
    Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        plaintext: false,
        poll_timeout: Duration::from_secs(25),
        http2,
    })
    .await
    .expect("server starts")
}

pub fn target(s: &Server, client: u32) -> Target {
    Target {
        addr: s.addr,
        tls: true,
        cert_sha256: Some(s.identity.cert_sha256),
        client_id: client,
        poll_interval: Duration::from_millis(5),
    }
}

/// `id` or `id@impl`.
pub fn transport_for(spec: &str) -> Arc<dyn Transport> {
    let (id, imp) = match spec.split_once('@') {
        Some((id, imp)) => (id, Some(imp)),
        None => (spec, None),
    };
    transport::by_id_impl(id, imp).expect("known transport")
}

pub async fn connect_with(s: &Server, tr: &dyn Transport, client: u32) -> Connection {
    tokio::time::timeout(Duration::from_secs(15), tr.connect(&target(s, client)))
        .await
        .expect("connect in time")
        .expect("connect")
}

pub async fn connect(s: &Server, spec: &str, client: u32) -> Connection {
    connect_with(s, transport_for(spec).as_ref(), client).await
}

pub fn frame(seq: u64, sender: u32, kind: Kind, size: usize) -> Bytes {
    let mut f = Header {
        seq,
        sent_ns: now_ns(),
        sender,
        kind,
    }
    .encode(size)
    .to_vec();
    for (i, b) in f.iter_mut().enumerate().skip(24) {
        *b = (i as u64 * 31 + seq) as u8;
    }
    Bytes::from(f)
}

pub async fn recv(c: &mut Connection) -> Bytes {
    tokio::time::timeout(Duration::from_secs(10), c.stream.recv())
        .await
        .expect("frame in time")
        .expect("recv ok")
        .expect("stream open")
}

/// A relay workload: `clients` clients in pairs, 200 frames/s of 256 bytes per sender for
/// 0.5 s after a 0.1 s warm-up (20 + 100 frames per sender).
pub fn relay_spec(clients: u32) -> WorkloadSpec {
    WorkloadSpec::Relay(Params {
        rate: 200.0,
        size: 256,
        duration_ms: 500,
        warmup_ms: 100,
        clients,
        connects: 1,
        poll_interval_ms: 5,
        ..Params::default()
    })
}

/// A collab workload: `clients` clients, 50 ops/s of 128 bytes each for 0.6 s after a 0.1 s
/// warm-up (5 + 30 ops per client).
pub fn collab_spec(clients: u32) -> WorkloadSpec {
    WorkloadSpec::Collab(Params {
        rate: 50.0,
        size: 128,
        duration_ms: 600,
        warmup_ms: 100,
        clients,
        connects: 1,
        poll_interval_ms: 5,
        ..Params::default()
    })
}

/// Does what the orchestrator does over the control channel before a relay or collab schedule
/// starts: pairs the relay clients at the server (unless they talk peer to peer) at once; the
/// returned future waits until every client that must receive has a downstream, then starts
/// recording the broadcast order for collab. The start barrier of the Rust and browser clients.
pub fn server_gate(
    s: &Server,
    peer_to_peer: bool,
    w: &WorkloadSpec,
) -> impl std::future::Future<Output = ()> {
    let p = w.params().clone();
    let hub = s.hub.clone();
    let ready: Vec<u32> = match w {
        WorkloadSpec::Relay(_) if peer_to_peer => Vec::new(),
        WorkloadSpec::Relay(_) => {
            let pairs = relay::pairs(p.clients);
            hub.set_relay(&pairs);
            pairs.iter().map(|&(_, b)| b).collect()
        }
        _ => (1..=p.clients).collect(),
    };
    let collab = matches!(w, WorkloadSpec::Collab(_));
    async move {
        let missing = hub.wait_attached(&ready, Duration::from_secs(10)).await;
        assert!(
            missing.is_empty(),
            "clients {missing:?} never opened a downstream"
        );
        if collab {
            hub.record_order();
        }
    }
}

/// Runs a relay or collab workload against the in-process server over transport `t` (`id` or
/// `id@impl`), behind [`server_gate`].
pub async fn run_workload(s: &Server, t: &str, w: WorkloadSpec) -> ClientReport {
    let tr = transport_for(t);
    let gate = server_gate(s, tr.peer_to_peer(), &w);
    tokio::time::timeout(
        Duration::from_secs(60),
        run_clients_gated(tr, target(s, 1), w, 1, None, |_| {}, gate),
    )
    .await
    .expect("workload in time")
}

/// The latency histogram of a report.
pub fn latency(r: &ClientReport) -> hdrhistogram::Histogram<u64> {
    wirebench_reports::decode_histogram(r.latency_hdr.as_deref().expect("a histogram"))
        .expect("histogram decodes")
}

/// Checks a relay report's accounting: `senders` senders' frames after warm-up, none invented;
/// with `reliable`, none lost. Returns frames received.
pub fn check_relay(t: &str, r: &ClientReport, senders: u64, reliable: bool) -> u64 {
    assert_eq!(r.error, None, "{t}");
    assert_eq!(r.sent, senders * 100, "{t}: frames sent after warm-up");
    assert_eq!(r.late, 0, "{t}: no deadline, nothing late");
    assert_eq!(r.duplicated, 0, "{t}: duplicates");
    assert_eq!(
        latency(r).len(),
        r.received,
        "{t}: a latency per frame received"
    );
    assert!(r.received <= r.sent, "{t}: more received than sent");
    if reliable {
        assert_eq!(
            r.received, r.sent,
            "{t}: frames lost on a reliable transport"
        );
        assert_eq!(r.reordered, 0, "{t}: reordered on an ordered transport");
    } else {
        // Loss is possible but counted: lost = sent - received; on loopback most arrive.
        assert!(r.received * 2 > r.sent, "{t}: most frames lost on loopback");
    }
    r.received
}

/// Checks a collab report: every op sent after warm-up by `clients` clients reached all of
/// them (with `reliable`), each client's arrivals are counted, and none violates the server's
/// order (with `ordered`). Returns the order violations.
pub fn check_collab(
    t: &str,
    s: &Server,
    r: &ClientReport,
    clients: u64,
    reliable: bool,
    ordered: bool,
) -> u64 {
    assert_eq!(r.error, None, "{t}");
    let sent = clients * 30;
    assert_eq!(r.sent, sent, "{t}: ops sent after warm-up");
    assert_eq!(
        latency(r).len(),
        r.received,
        "{t}: a latency per op delivered to all"
    );
    assert_eq!(
        r.per_client_received.len() as u64,
        clients,
        "{t}: per-client counts"
    );
    assert_eq!(
        r.arrival_orders.len() as u64,
        clients,
        "{t}: per-client orders"
    );
    for (n, order) in r.per_client_received.iter().zip(&r.arrival_orders) {
        assert_eq!(*n, order.len() as u64, "{t}: count and order disagree");
        assert!(*n <= sent && r.received <= *n, "{t}: {n} of {sent}");
    }
    let server_order = s.hub.broadcast_order();
    // The server ordered every op, warm-up included.
    assert_eq!(server_order.len() as u64, clients * 35, "{t}: server order");
    let v = wirebench::workload::collab::order_violations(&server_order, &r.arrival_orders);
    if reliable {
        assert_eq!(r.received, sent, "{t}: ops not delivered to all");
        assert_eq!(r.duplicated, 0, "{t}");
    }
    if ordered {
        assert_eq!(v, 0, "{t}: clients saw ops out of the server's order");
    }
    v
}

/// Sends each `(method, path, body, status)` request on one HTTP connection to the server and
/// asserts the status; returns the response bodies in order (for checks on the reasons).
pub async fn expect_statuses(s: &Server, cases: &[(&str, &str, &[u8], u16)]) -> Vec<Bytes> {
    use wirebench::transport::http::{read_body, HttpConn};
    use wirebench::transport::Setup;
    let mut conn = HttpConn::open(&target(s, 1), &mut Setup::default())
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for &(m, path, body, want) in cases {
        let resp = conn
            .request(m.parse().unwrap(), path, &[], Bytes::copy_from_slice(body))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = read_body(resp).await.unwrap();
        assert_eq!(
            status,
            want,
            "{m} {path}: {}",
            String::from_utf8_lossy(&text)
        );
        bodies.push(text);
    }
    bodies
}
