//! One conformance suite, run against every transport: the same checks, no per-transport
//! expectations except where a transport's guarantees differ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rstest::rstest;
use wirebench::frame::{Header, Kind};
use wirebench::transport;

mod common;
use common::*;

const ALL: [&str; 5] = ["tcp", "websocket", "sse", "long-poll", "poll"];

#[rstest]
#[tokio::test]
async fn echo_frames_come_back_intact(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
    #[values(24, 64, 1024, 70_000)] size: usize,
) {
    let s = server().await;
    let mut c = connect(&s, t, 7).await;
    for seq in 0..5 {
        let f = frame(seq, 7, Kind::EchoRequest, size);
        c.sink.send(f.clone()).await.unwrap();
        let got = recv(&mut c).await;
        assert_eq!(got.len(), size, "{t}: size");
        let h = Header::parse(&got).unwrap();
        assert_eq!(h.kind, Kind::EchoReply, "{t}");
        assert_eq!(&got[..20], &f[..20], "{t}: header fields changed");
        assert_eq!(&got[24..], &f[24..], "{t}: payload changed");
    }
}

#[rstest]
#[tokio::test]
async fn ordered_transports_keep_order(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let tr = transport::by_id(t).unwrap();
    assert!(tr.guarantees().ordered);
    let mut c = connect(&s, t, 3).await;
    let n = 500;
    for seq in 0..n {
        c.sink
            .send(frame(seq, 3, Kind::EchoRequest, 64))
            .await
            .unwrap();
    }
    for want in 0..n {
        let h = Header::parse(&recv(&mut c).await).unwrap();
        assert_eq!(h.seq, want, "{t}: out of order");
    }
}

#[rstest]
#[tokio::test]
async fn broadcast_reaches_every_client(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let mut clients = Vec::new();
    for id in 1..=3 {
        clients.push(connect(&s, t, id).await);
    }
    // Make sure every downstream is registered before broadcasting (a poll registers on its
    // first request): one echo round trip each.
    for (i, c) in clients.iter_mut().enumerate() {
        c.sink
            .send(frame(0, i as u32 + 1, Kind::EchoRequest, 32))
            .await
            .unwrap();
        recv(c).await;
    }
    clients[0]
        .sink
        .send(frame(99, 1, Kind::BroadcastRequest, 48))
        .await
        .unwrap();
    for c in clients.iter_mut() {
        let h = Header::parse(&recv(c).await).unwrap();
        assert_eq!((h.kind, h.seq, h.sender), (Kind::Broadcast, 99, 1), "{t}");
    }
}

/// A reader that stops reading must not make the server queue without bound: the server's
/// producer is held back (channel + socket buffers, or the HTTP window).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_bounds_server_memory(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let c = connect(&s, t, 5).await;
    // Register the downstream for HTTP transports with a first poll.
    let mut c = c;
    c.sink
        .send(frame(0, 5, Kind::EchoRequest, 32))
        .await
        .unwrap();
    recv(&mut c).await;
    let before = wirebench::agent::procstat::rss_bytes().unwrap();
    let hub = s.hub.clone();
    // 1.5 s of 64 KiB frames at loopback speed would be gigabytes if nothing pushed back.
    let producer = tokio::spawn(wirebench::workload::server_download(
        hub,
        vec![5],
        65_536,
        Duration::from_millis(1500),
    ));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let grown = wirebench::agent::procstat::rss_bytes()
        .unwrap()
        .saturating_sub(before);
    producer.abort();
    assert!(
        grown < 200 << 20,
        "{t}: RSS grew by {} MiB with a stalled reader",
        grown >> 20
    );
    if t != "tcp" && t != "websocket" {
        assert!(
            s.hub.client(5).backlog() < 1000,
            "{t}: HTTP queue unbounded"
        );
    }
}

/// Malformed input from a peer is refused or counted; the server keeps serving others.
#[rstest]
#[tokio::test]
async fn malformed_frames_do_not_hurt_other_clients(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let mut good = connect(&s, t, 1).await;
    let mut bad = connect(&s, t, 2).await;
    // A frame shorter than the header and one of an unknown kind: dropped and counted.
    let _ = bad.sink.send(Bytes::from_static(b"tiny")).await;
    let mut unknown = frame(1, 2, Kind::Data, 32).to_vec();
    unknown[20] = 77;
    let _ = bad.sink.send(Bytes::from(unknown)).await;
    // Then send an oversized length prefix by hand for stream transports.
    if t == "tcp" {
        use tokio::io::AsyncWriteExt;
        let mut addr = s.addr;
        addr.set_port(addr.port() + 1);
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        raw.write_all(&[0u8; 64]).await.unwrap();
    }
    good.sink
        .send(frame(5, 1, Kind::EchoRequest, 64))
        .await
        .unwrap();
    let h = Header::parse(&recv(&mut good).await).unwrap();
    assert_eq!((h.kind, h.seq), (Kind::EchoReply, 5), "{t}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let errors = s.hub.errors.snapshot();
    assert!(
        errors.get("frame_short").copied().unwrap_or(0) >= 1,
        "{t}: short frame not counted: {errors:?}"
    );
    assert!(
        errors.get("frame_unknown_kind").copied().unwrap_or(0) >= 1,
        "{t}: unknown kind not counted: {errors:?}"
    );
}

#[tokio::test]
async fn bad_http_requests_get_clear_statuses() {
    let s = server().await;
    expect_statuses(
        &s,
        &[
            ("GET", "/poll", b"", 400),
            ("GET", "/poll?client=0", b"", 400),
            ("GET", "/poll?client=1&after=x", b"", 400),
            ("POST", "/up?client=1", b"\x05\x00\x00\x00ab", 400),
            ("GET", "/poll?client=1&wait=0", b"", 204),
        ],
    )
    .await;
}

/// SSE resume: the event stream breaks mid-stream, the client reconnects with Last-Event-ID,
/// and every frame arrives exactly once, in order.
#[tokio::test]
async fn sse_resumes_without_loss_or_duplicates() {
    let s = server().await;
    let mut c = connect(&s, "sse", 9).await;
    let hub = s.hub.clone();
    let n = 400u64;
    let pusher = tokio::spawn(async move {
        for seq in 0..n {
            hub.send_to(9, frame(seq, 0, Kind::Push, 64)).await;
            if seq == n / 2 {
                // Cut the stream server-side while frames are flowing.
                hub.client(9).disconnect_streams();
            }
            if seq % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let mut got = Vec::new();
    while got.len() < n as usize {
        let h = Header::parse(&recv(&mut c).await).unwrap();
        got.push(h.seq);
    }
    pusher.await.unwrap();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    // Nothing more (no duplicates) arrives.
    let extra = tokio::time::timeout(Duration::from_millis(300), c.stream.recv()).await;
    assert!(extra.is_err(), "unexpected extra frame after resume");
    let opens = s.hub.events.snapshot().get("sse_open").copied();
    assert!(
        opens >= Some(2),
        "the stream was not cut and resumed: {opens:?}"
    );
}

#[test]
fn every_transport_id_resolves() {
    for t in ALL {
        let tr = transport::by_id(t).unwrap();
        assert_eq!(tr.id(), t);
    }
    assert!(transport::by_id("pigeon").is_none());
    let _ = Arc::new(0);
}

/// relay through the server: two pairs, every sender's data frames forwarded to its peer,
/// each exactly once and in order, with one-way latency per frame.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_goes_through_the_server(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let r = run_workload(&s, t, relay_spec(4)).await;
    check_relay(t, &r, 2, true);
    // Every frame, warm-up included, went through the server: 2 senders × 120.
    let relayed = s.hub.relayed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(relayed, 240, "{t}: frames the server forwarded");
    assert_eq!(
        s.hub.client(1).data_count().frames,
        0,
        "{t}: relayed counted as upload"
    );
}

/// collab: three clients' ops, put in one order by the server, reach every client in that
/// order.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collab_delivers_every_op_to_all_in_the_server_order(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let s = server().await;
    let r = run_workload(&s, t, collab_spec(3)).await;
    check_collab(t, &s, &r, 3, true, true);
}

/// HTTP/2 is opt-in: a server with it negotiates `h2` with a client that offers it (and serves
/// a request over it), HTTP/1.1 with one that offers only `http/1.1` (wirebench's own clients),
/// and a server without it never negotiates `h2`. Every HTTP transport still echoes against
/// the HTTP/2 server.
#[tokio::test]
async fn http2_is_negotiated_only_when_offered_by_both() {
    async fn alpn(s: &wirebench::server::Server, offer: &[&[u8]]) -> Option<Vec<u8>> {
        let cfg = wirebench::tls::pinned_client_config(s.identity.cert_sha256, offer).unwrap();
        let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::IpAddress(s.addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap();
        tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
    }
    let h1 = server_with(false).await;
    let h2 = server_with(true).await;
    let both: &[&[u8]] = &[b"h2", b"http/1.1"];
    assert_eq!(alpn(&h2, both).await.as_deref(), Some(&b"h2"[..]));
    assert_eq!(
        alpn(&h2, &[b"http/1.1"]).await.as_deref(),
        Some(&b"http/1.1"[..])
    );
    assert_eq!(alpn(&h1, both).await.as_deref(), Some(&b"http/1.1"[..]));

    // A real HTTP/2 exchange.
    let cfg = wirebench::tls::pinned_client_config(h2.identity.cert_sha256, &[b"h2"]).unwrap();
    let tcp = tokio::net::TcpStream::connect(h2.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(h2.addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("https://{}/clock", h2.addr))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);

    for t in ["websocket", "sse", "long-poll", "poll"] {
        let mut c = connect(&h2, t, 70).await;
        let f = frame(1, 70, Kind::EchoRequest, 64);
        c.sink.send(f.clone()).await.unwrap();
        let got = recv(&mut c).await;
        assert_eq!(&got[24..], &f[24..], "{t} over the HTTP/2-enabled server");
        assert_eq!(Header::parse(&got).unwrap().kind, Kind::EchoReply, "{t}");
    }
}

/// `idle`: every client connects and stays connected, every notification reaches every client
/// once with its latency recorded, and the server's memory per connection is measured.
#[rstest]
#[tokio::test]
async fn idle_holds_every_client_and_notifies_all(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let c = run_cell(IDLE_LOOPBACK, t, "loopback").await.unwrap();
    check_idle_cell(&c, 20, 4);
}

/// `idle` on an emulated link: each transport's keep-alive crosses the wire in the quiet window
/// at the interval asked for (200 ms here), and `tcp`, which has none, stays silent.
#[rstest]
#[tokio::test]
async fn idle_keepalives_cross_the_wire_at_their_interval(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let Some(c) = run_cell(IDLE_SHAPED, t, "lan").await else {
        return;
    };
    check_idle_keepalives(&c, t != "tcp");
}

/// `flap`: the client's link is cut for 1 s mid-stream. SSE resumes with `Last-Event-ID` and
/// long-poll / poll from their cursor: nothing lost, nothing twice. `tcp` and `websocket`
/// reconnect: what the server wrote into the dead connection is lost, and the loss is counted
/// (it matches the silence the client saw, frame for frame at the push rate).
#[rstest]
#[tokio::test]
async fn flap_recovers_as_documented(
    #[values("tcp", "websocket", "sse", "long-poll", "poll")] t: &str,
) {
    let Some(c) = run_cell(FLAP, t, "lan").await else {
        return;
    };
    check_flap_cell(&c, matches!(t, "sse" | "long-poll" | "poll"));
}
