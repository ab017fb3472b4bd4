//! Hostile peers: clients that stop reading, never finish a request or hold state they no
//! longer use. Each test fails on a server that lets one such peer stall or grow it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rstest::rstest;
use wirebench::frame::{Header, Kind};

mod common;
use common::*;

/// A client that floods broadcast requests and never reads its downstream must not delay
/// another client's broadcasts (its own copies are dropped and counted instead).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_stall_broadcasts(
    #[values("tcp", "websocket")] t: &str,
) {
    let s = server().await;
    let mut good = connect(&s, t, 1).await;
    let mut hostile = connect(&s, t, 2).await;
    // 20 MiB of broadcasts: beyond the hostile client's socket buffers and server queue.
    let flood = tokio::spawn(async move {
        for seq in 0..20_000 {
            if hostile
                .sink
                .send(frame(seq, 2, Kind::BroadcastRequest, 1024))
                .await
                .is_err()
            {
                break;
            }
        }
        hostile
    });
    // Keep the good client reading while the flood goes on, then time its own broadcast.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flood.is_finished() && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(50), good.stream.recv()).await;
    }
    // The good client catches up with the flood's copies first (a reader that fell behind
    // by a full queue has its own copies dropped too, by design); the hostile one still
    // reads nothing.
    while let Ok(Ok(Some(_))) =
        tokio::time::timeout(Duration::from_millis(200), good.stream.recv()).await
    {}
    let started = Instant::now();
    good.sink
        .send(frame(99, 1, Kind::BroadcastRequest, 64))
        .await
        .unwrap();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(3), good.stream.recv())
            .await
            .expect("own broadcast within 3 s while another client stalls")
            .unwrap()
            .unwrap();
        let h = Header::parse(&f).unwrap();
        if (h.sender, h.seq) == (1, 99) {
            break;
        }
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "{t}: waited {waited:?}");
    let full = s
        .hub
        .errors
        .snapshot()
        .get("broadcast_queue_full")
        .copied()
        .unwrap_or(0);
    assert!(
        full > 0,
        "{t}: the stalled client's copies were not counted"
    );
    drop(flood);
}

/// A plaintext server with short limits, so the timeout tests take seconds.
async fn strict_server(budget: u64) -> wirebench::server::Server {
    strict_server_tls(false, budget).await
}

async fn strict_server_tls(tls: bool, budget: u64) -> wirebench::server::Server {
    use wirebench::server::{limits::Limits, Server, ServerConfig};
    Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        plaintext: !tls,
        poll_timeout: Duration::from_secs(25),
        http2: false,
        limits: Limits {
            handshake: Duration::from_secs(1),
            body_stall: Duration::from_secs(1),
            body_budget: budget,
            rtc_connect: Duration::from_secs(1),
        },
    })
    .await
    .unwrap()
}

/// Reads until the server closes the connection (or 5 s pass): what it sent, and when.
async fn read_until_closed(c: &mut tokio::net::TcpStream) -> (String, Duration) {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 5 s"),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// A raw-TCP client's hello frame, length-prefixed, then `rest`.
fn tcp_hello_then(client: u32, rest: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    wirebench::frame::put_prefixed(&mut out, &frame(0, client, Kind::Data, 64));
    out.extend_from_slice(rest);
    out.to_vec()
}

/// Writes what it can of `data` to the raw-TCP port within `within`; how much went in.
async fn write_for(
    s: &wirebench::server::Server,
    data: &[u8],
    within: Duration,
) -> (tokio::net::TcpStream, usize) {
    use tokio::io::AsyncWriteExt;
    let mut addr = s.addr;
    addr.set_port(s.addr.port() + 1);
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut written = 0;
    let deadline = tokio::time::Instant::now() + within;
    while written < data.len() {
        let end = (written + (64 << 10)).min(data.len());
        match tokio::time::timeout_at(deadline, c.write(&data[written..end])).await {
            Ok(Ok(n)) if n > 0 => written += n,
            _ => break,
        }
    }
    (c, written)
}

/// A raw-TCP frame declared large is not buffered on its prefix's word: what arrives beyond
/// the free allowance comes from the body budget (over it, the connection is cut), and a
/// frame that stops arriving is cut at the body-stall timeout.
#[tokio::test]
async fn raw_tcp_frames_are_held_to_the_budget_and_the_stall_timeout() {
    let s = strict_server(2 << 20).await;
    let declared = (16u32 << 20).to_le_bytes();
    // 1 MiB free + 2 MiB of budget: a 4 MiB partial frame is over it.
    let over = tcp_hello_then(1, &[&declared[..], &vec![0u8; 4 << 20]].concat());
    let (mut c, _) = write_for(&s, &over, Duration::from_secs(3)).await;
    let (_, after) = read_until_closed(&mut c).await;
    assert!(
        after < Duration::from_secs(3),
        "over-budget frame held {after:?}"
    );
    let stalled = tcp_hello_then(2, &[&declared[..], &vec![0u8; 100 << 10]].concat());
    let (mut c, n) = write_for(&s, &stalled, Duration::from_secs(3)).await;
    assert_eq!(n, stalled.len());
    let (_, after) = read_until_closed(&mut c).await;
    assert!(
        after < Duration::from_secs(3),
        "stalled frame held {after:?}"
    );
    let errors = s.hub.errors.snapshot();
    assert_eq!(errors.get("tcp_frame_over_budget"), Some(&1), "{errors:?}");
    assert_eq!(errors.get("tcp_frame_stalled"), Some(&1), "{errors:?}");
}

/// A client that sends large echo requests and never reads its replies is held back once its
/// queue's byte bound (32 MiB) is full: the server stops reading it instead of queueing
/// 1024 replies of 8 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_cannot_queue_more_than_the_byte_bound() {
    let s = server().await;
    let mut requests = bytes::BytesMut::new();
    for seq in 1..=40 {
        wirebench::frame::put_prefixed(&mut requests, &frame(seq, 1, Kind::EchoRequest, 8 << 20));
    }
    let all = tcp_hello_then(1, &requests);
    let (_c, written) = write_for(&s, &all, Duration::from_secs(5)).await;
    // Queue (32 MiB), the writer's and the reader's frame in hand, socket buffers: far below
    // the 320 MiB a frame-count bound lets in.
    assert!(
        written < 120 << 20,
        "the server took {} MiB of requests it could not answer",
        written >> 20
    );
}

/// A request head, a TLS handshake and a raw-TCP hello that never complete are cut off at
/// the handshake timeout (1 s here; 30 s by default), not held forever.
#[tokio::test]
async fn unfinished_handshakes_heads_and_hellos_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let s = strict_server(64 << 20).await;
    // Half a request head.
    let mut head = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    head.write_all(b"GET /info HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Nothing at all on the raw tcp port.
    let mut tcp_addr = s.addr;
    tcp_addr.set_port(s.addr.port() + 1);
    let mut hello = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    let (_, head_after) = read_until_closed(&mut head).await;
    let (_, hello_after) = read_until_closed(&mut hello).await;
    assert!(
        head_after < Duration::from_secs(3),
        "head held {head_after:?}"
    );
    assert!(
        hello_after < Duration::from_secs(3),
        "hello held {hello_after:?}"
    );
    let errors = s.hub.errors.snapshot();
    assert_eq!(errors.get("tcp_hello_timeout"), Some(&1), "{errors:?}");
    // A TLS handshake that never starts.
    let s = strict_server_tls(true, 64 << 20).await;
    let mut tls = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (_, tls_after) = read_until_closed(&mut tls).await;
    assert!(tls_after < Duration::from_secs(3), "TLS held {tls_after:?}");
    let errors = s.hub.errors.snapshot();
    assert_eq!(errors.get("tls_handshake_timeout"), Some(&1), "{errors:?}");
}

/// A request body that stops mid-way is answered 408 at the stall timeout.
#[tokio::test]
async fn a_stalled_body_is_abandoned_with_408() {
    use tokio::io::AsyncWriteExt;
    let s = strict_server(64 << 20).await;
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST /up?client=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .await
        .unwrap();
    let (resp, after) = read_until_closed(&mut c).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(after < Duration::from_secs(3), "{after:?}");
}

/// Request bodies in flight beyond the budget are refused with 503 + Retry-After, and the
/// budget comes back when they end.
#[tokio::test]
async fn bodies_beyond_the_budget_get_503() {
    use tokio::io::AsyncWriteExt;
    let s = strict_server(1 << 20).await;
    let head = b"POST /up?client=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n";
    let part = vec![0u8; 700 << 10];
    let mut a = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    a.write_all(head).await.unwrap();
    a.write_all(&part).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut b = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    b.write_all(head).await.unwrap();
    let _ = b.write_all(&part).await;
    let (resp, _) = read_until_closed(&mut b).await;
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("retry-after: 1"),
        "{resp}"
    );
    // `a` stalls and is cut off; then a small body goes through again.
    let (resp, _) = read_until_closed(&mut a).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(
        b"POST /up?client=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let (resp, _) = read_until_closed(&mut c).await;
    assert!(resp.starts_with("HTTP/1.1 204"), "{resp}");
}

/// A str0m offer of one data channel, without candidates.
fn bare_offer() -> String {
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let mut api = rtc.sdp_api();
    api.add_channel("x".into());
    let (offer, _pending) = api.apply().expect("an offer");
    offer.to_sdp_string()
}

/// POSTs an offer for `client` with a lying `Host` header; the response text.
async fn post_offer(s: &wirebench::server::Server, client: u32, offer: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "POST /rtc/offer?client={client} HTTP/1.1\r\nHost: 10.77.0.1:4433\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{offer}",
        offer.len()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    read_until_closed(&mut c).await.0
}

/// WebRTC signalling: candidates on the address the request arrived on (never the `Host`
/// header's), one server peer per client (a new offer closes the old one), and a peer that
/// never connects closed at the connect timeout (1 s here; 10 s by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_signalling_is_bounded_and_ignores_host() {
    let s = strict_server(64 << 20).await;
    let offer = bare_offer();
    for _ in 0..5 {
        let resp = post_offer(&s, 3, &offer).await;
        assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
        let cands: Vec<&str> = resp
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        assert!(!cands.is_empty(), "{resp}");
        for c in &cands {
            assert!(c.contains("127.0.0.1") && !c.contains("10.77.0.1"), "{c}");
        }
    }
    let events = s.hub.events.snapshot();
    assert_eq!(events.get("rtc_peer_replaced"), Some(&4), "{events:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let errors = s.hub.errors.snapshot();
    assert_eq!(
        errors.get("rtc_peer_connect_timeout"),
        Some(&1),
        "{errors:?}"
    );
}

/// The server closes a keep-alive connection that sits idle past its limit (1 s here), as it
/// does to pollers while thousands of other clients are still connecting. A polling client then
/// opens new connections for its next requests, up and down, as a browser does, and loses
/// nothing.
#[rstest]
#[case("poll")]
#[case("long-poll")]
#[tokio::test]
async fn pollers_reopen_connections_the_server_closed_while_idle(#[case] t: &str) {
    let s = strict_server(1 << 20).await;
    let target =
        wirebench::transport::Target::new(s.addr, false, None, 1, Duration::from_millis(5));
    let mut c = tokio::time::timeout(Duration::from_secs(5), transport_for(t).connect(&target))
        .await
        .expect("connect in time")
        .expect("connect");
    // Past the server's 1 s idle limit: it has closed both connections.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for seq in 0..3 {
        c.sink
            .send(frame(seq, 1, Kind::EchoRequest, 64))
            .await
            .expect("send");
        let h = Header::parse(&recv(&mut c).await).expect("header");
        assert_eq!((h.kind, h.seq), (Kind::EchoReply, seq), "{t}");
    }
}
