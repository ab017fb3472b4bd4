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
        limits: Default::default(),
    })
    .await
    .expect("server starts")
}

pub fn target(s: &Server, client: u32) -> Target {
    Target::new(
        s.addr,
        true,
        Some(s.identity.cert_sha256),
        client,
        Duration::from_millis(5),
    )
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

/// [`expect_statuses`], and every 400 must say why in its body.
pub async fn expect_statuses_with_reasons(s: &Server, cases: &[(&str, &str, &[u8], u16)]) {
    let bodies = expect_statuses(s, cases).await;
    for ((m, path, _, want), text) in cases.iter().zip(&bodies) {
        if *want == 400 {
            assert!(!text.is_empty(), "{m} {path}: 400 without a reason");
        }
    }
}

/// Runs one cell with the real agents (this package's `wirebench` binary): the `[[workload]]`
/// body `workload` (TOML keys) over `transport` (`id` or `id@impl`) on `profile`. `None` when the
/// profile is shaped and link emulation is unavailable here (not root, no TUN): the caller
/// skips, except in CI, which runs as root.
pub async fn run_cell(
    workload: &str,
    transport: &str,
    profile: &str,
) -> Option<wirebench_reports::Cell> {
    use wirebench::runner::{self, scenario};
    use wirebench_netem::{BackendKind, ProfileSet};
    let profiles = ProfileSet::parse(scenario::DEFAULT_PROFILES, "profiles.toml").unwrap();
    let shaped = !profiles.get(profile).unwrap().is_unshaped();
    let netem = wirebench_netem::choose_backend(BackendKind::Userspace, true);
    if shaped && netem.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with /dev/net/tun"
        );
        eprintln!("skipped: link emulation unavailable: {:?}", netem.err());
        return None;
    }
    let (id, imp) = match transport.split_once('@') {
        Some((id, imp)) => (id, Some(imp.to_string())),
        None => (transport, None),
    };
    let text = format!(
        "name = \"conformance\"\nrepeat = 1\ntransports = [\"{id}\"]\nprofiles = [\"{profile}\"]\n[[workload]]\n{workload}\n"
    );
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    let s = scenario::parse(&text, "conformance.toml", &names).unwrap();
    let mut cells = runner::plan(&[s], None);
    cells.retain(|c| {
        c.implementation == imp || (imp.is_none() && c.implementation.as_deref() == Some("str0m"))
    });
    assert_eq!(cells.len(), 1, "{transport}: one planned cell");
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wirebench"));
    let opts = runner::RunOptions::single(exe.clone(), profiles, netem.map_err(|e| e.to_string()));
    let (cell, _) = runner::run_cell(&cells[0], &opts, &exe, 0).await;
    Some(cell)
}

/// A small `idle` workload on loopback: 20 clients, 4 notifications.
pub const IDLE_LOOPBACK: &str = "kind = \"idle\"\nclients = 20\nwarmup_ms = 200\nquiet_ms = 300\nduration_ms = 1000\nnotify_interval_ms = 250\npoll_interval_ms = 50\n";

/// `idle` with every keep-alive at 200 ms and a 1 s quiet window, 5 clients.
pub const IDLE_SHAPED: &str = "kind = \"idle\"\nclients = 5\nwarmup_ms = 300\nquiet_ms = 1000\nduration_ms = 500\nnotify_interval_ms = 500\npoll_interval_ms = 200\nws_ping_ms = 200\nsse_heartbeat_ms = 200\nlong_poll_hold_ms = 200\nquic_keepalive_ms = 200\n";

/// `flap`: 100 frames/s, the link cut 0.5 s after the warm-up for 1 s, 300 ms stall timeout.
pub const FLAP: &str = "kind = \"flap\"\nrate = 100\nwarmup_ms = 200\nduration_ms = 3000\ncut_at_ms = 500\ncut_ms = 1000\nstall_ms = 300\n";

/// Asserts that cell `c` ran ok (else fails with its reason); returns its transport name for
/// the messages of further checks.
pub fn expect_ok(c: &wirebench_reports::Cell) -> String {
    let t = c.transport_name();
    assert_eq!(
        c.status,
        wirebench_reports::Status::Ok,
        "{t}: {:?}",
        c.error
    );
    t
}

/// Checks an `idle` cell: all `clients` connected and attached at the server, every one of
/// `notifications` reached every client exactly once, latencies recorded, memory measured.
pub fn check_idle_cell(c: &wirebench_reports::Cell, clients: u64, notifications: u64) {
    let t = expect_ok(c);
    let idle = c.idle.as_ref().expect("idle figures");
    assert_eq!(idle.connections, clients, "{t}: clients connected");
    assert_eq!(
        idle.server_attached,
        Some(clients),
        "{t}: downstreams at the server"
    );
    let d = c.delivery.as_ref().unwrap();
    assert_eq!(d.sent, clients * notifications, "{t}");
    assert_eq!(
        (d.received, d.lost, d.duplicated),
        (d.sent, 0, 0),
        "{t}: {d:?}"
    );
    let l = c.latency_us.as_ref().expect("latency");
    assert_eq!(l.count, d.sent, "{t}: one latency sample per notification");
    assert!(
        l.max.is_some_and(|m| m < 5_000_000),
        "{t}: a notification took {:?} µs",
        l.max
    );
    assert!(
        idle.server_rss_per_connection_bytes.is_some(),
        "{t}: server memory"
    );
    // A browser's memory is per page, not per connection: only the Rust agent measures it.
    assert_eq!(
        idle.client_rss_per_connection_bytes.is_some(),
        c.client.is_none(),
        "{t}: client memory"
    );
    assert!(idle.quiet_ms.unwrap() >= 250.0, "{t}: quiet window");
    if c.profile == "loopback" {
        // No link emulator on loopback: no wire counts, and none invented.
        assert_eq!(idle.keepalive_bytes_per_connection_hour, None, "{t}");
    }
}

/// Checks the keep-alive figures of an [`IDLE_SHAPED`] cell: with a keep-alive, at least three
/// of the five 200 ms intervals of the 1 s quiet window show up as packets of every client
/// (each keep-alive is at least one packet); without one, (almost) nothing crosses the link.
pub fn check_idle_keepalives(c: &wirebench_reports::Cell, has_keepalive: bool) {
    let t = expect_ok(c);
    let idle = c.idle.as_ref().expect("idle figures");
    let packets = idle
        .keepalive_packets
        .expect("packets counted on an emulated link");
    let per_hour = idle
        .keepalive_bytes_per_connection_hour
        .expect("bytes per connection-hour");
    if has_keepalive {
        assert!(
            packets >= 5 * 3,
            "{t}: {packets} packets in the quiet window"
        );
        assert!(
            per_hour > 1000.0,
            "{t}: {per_hour} bytes per connection-hour"
        );
    } else {
        assert!(packets <= 5, "{t}: {packets} packets without a keep-alive");
    }
    assert!(idle.bytes_per_client_per_min.is_some(), "{t}");
}

/// Checks a [`FLAP`] cell. `resumable`: the transport resumes in place without loss (SSE,
/// long-poll, poll); otherwise it reconnects and the frames sent into the dead connection are
/// lost and counted. One cut is one recovery: the client gives its connection up once (the
/// silent link trips the stall watchdog) and resumes or reconnects once; the end of the stream
/// is not a stall.
pub fn check_flap_cell(c: &wirebench_reports::Cell, resumable: bool) {
    let t = expect_ok(c);
    let f = c.flap.as_ref().expect("flap figures");
    let given_up: Vec<(&String, &u64)> = c
        .errors
        .iter()
        .filter(|(k, _)| k.starts_with("flap_"))
        .collect();
    assert_eq!(
        given_up,
        [(&"flap_stalled".to_string(), &1)],
        "{t}: one cut, one stall: {:?}",
        c.errors
    );
    let cut = f.cut_ms.unwrap();
    assert!((990.0..1500.0).contains(&cut), "{t}: cut for {cut} ms");
    let d = c.delivery.as_ref().unwrap();
    assert_eq!(d.sent, 300, "{t}: 3 s at 100 frames/s after the warm-up");
    assert_eq!(d.duplicated, 0, "{t}: {d:?}");
    assert_eq!(d.received + d.lost, d.sent, "{t}: {d:?}");
    let outage = f.outage_ms.expect("a silence was seen");
    assert!(
        outage >= cut - 20.0,
        "{t}: outage {outage} ms < cut {cut} ms"
    );
    let recovery = f.recovery_ms.expect("frames arrived after the restore");
    assert!(recovery < 3000.0, "{t}: recovery {recovery} ms");
    if resumable {
        assert_eq!(d.lost, 0, "{t}: {d:?}");
        assert!(f.resumes == 1 && f.reconnects == 0, "{t}: {f:?}");
        // The frames held back by the cut arrive late, not never.
        assert!(
            c.latency_us
                .as_ref()
                .unwrap()
                .max
                .expect("nothing lost, so a max") as f64
                >= cut * 1000.0 * 0.9,
            "{t}"
        );
    } else {
        assert!(f.reconnects == 1 && f.resumes == 0, "{t}: {f:?}");
        // Lost = what the server pushed while the client heard nothing: the silence at the
        // push rate (100/s), give or take the frames in flight at either end. Chromium's new
        // WebTransport session completes the moment the link is back and gets part of what
        // the server still held for the client (seen: 18-60 frames lost over a 1 s silence),
        // so a browser may lose fewer, never more.
        let expected = outage / 10.0;
        let lost = d.lost as f64;
        let within = if c.client.is_some() {
            lost <= expected * 1.1 + 10.0
        } else {
            (lost - expected).abs() <= expected * 0.1 + 10.0
        };
        assert!(
            within,
            "{t}: lost {} frames over a {outage:.0} ms silence at 100 frames/s",
            d.lost
        );
    }
}
