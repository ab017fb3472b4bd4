//! Conformance of the UDP-based transports (`webtransport`, `webtransport-datagram`, `webrtc`,
//! `webrtc-unreliable` with both implementations) and WebRTC interop between str0m and
//! webrtc-rs. The same checks as the TCP transports, except that unreliable modes may lose
//! frames, which must then be counted, never duplicated or corrupted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use rstest::rstest;
use wirebench::frame::{Header, Kind};
use wirebench::network::{RtcChannelMode, RtcSignalling};
use wirebench::transport::rtc::{RtcImpl, WebRtcTransport};
use wirebench::transport::{self, Transport, TransportError};

mod common;
use common::*;

const RELIABLE: [&str; 3] = ["webtransport", "webrtc@str0m", "webrtc@webrtc-rs"];

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_frames_come_back_intact(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
    #[values(24, 64, 1024, 65_536, 70_000)] size: usize,
) {
    let tr = transport_for(t);
    if !tr.guarantees().reliable && size > 1024 {
        // Unreliable modes carry frames up to a datagram (or a few SCTP chunks).
        return;
    }
    let s = server().await;
    let mut c = connect_with(&s, tr.as_ref(), 7).await;
    assert!(c.setup.total > Duration::ZERO, "{t}: setup not measured");
    if t.starts_with("webrtc") && size > transport::rtc::MAX_MESSAGE {
        // Over the data channel's max-message-size: refused clearly, never split or lost.
        let err = c
            .sink
            .send(frame(0, 7, Kind::EchoRequest, size))
            .await
            .expect_err("over max-message-size");
        assert!(matches!(err, TransportError::TooLarge { .. }), "{t}: {err}");
        return;
    }
    for seq in 0..5 {
        let f = frame(seq, 7, Kind::EchoRequest, size);
        c.sink.send(f.clone()).await.unwrap();
        // On loopback an unreliable echo of five frames does not lose any in practice; a lost
        // one would show as a timeout here.
        let got = recv(&mut c).await;
        assert_eq!(got.len(), size, "{t}: size");
        let h = Header::parse(&got).unwrap();
        assert_eq!(h.kind, Kind::EchoReply, "{t}");
        assert_eq!(&got[..20], &f[..20], "{t}: header fields changed");
        assert_eq!(&got[24..], &f[24..], "{t}: payload changed");
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_transports_keep_order(
    #[values("webtransport", "webrtc@str0m", "webrtc@webrtc-rs")] t: &str,
) {
    assert!(RELIABLE.contains(&t));
    let s = server().await;
    assert!(transport_for(t).guarantees().ordered);
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

/// A paced unreliable stream: whatever arrives is intact and unique, and sent = received + lost
/// adds up.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreliable_loss_is_counted_not_hidden(
    #[values(
        "webtransport-datagram",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
) {
    let s = server().await;
    let tr = transport_for(t);
    assert!(!tr.guarantees().reliable && !tr.guarantees().ordered);
    let mut c = connect_with(&s, tr.as_ref(), 4).await;
    let sent = 2000u64;
    let mut tick = tokio::time::interval(Duration::from_micros(200));
    for seq in 0..sent {
        tick.tick().await;
        c.sink
            .send(frame(seq, 4, Kind::EchoRequest, 512))
            .await
            .unwrap();
    }
    let mut seen = HashSet::new();
    while let Ok(Ok(Some(f))) =
        tokio::time::timeout(Duration::from_millis(500), c.stream.recv()).await
    {
        let h = Header::parse(&f).unwrap();
        assert_eq!(h.kind, Kind::EchoReply, "{t}");
        assert_eq!(
            f,
            with_kind(&frame(h.seq, 4, Kind::EchoReply, 512), &f),
            "{t}: corrupted"
        );
        assert!(h.seq < sent, "{t}: unknown seq");
        assert!(seen.insert(h.seq), "{t}: duplicate {}", h.seq);
    }
    let received = seen.len() as u64;
    let lost = sent - received;
    eprintln!("{t}: sent {sent} received {received} lost {lost}");
    assert!(
        received >= sent * 9 / 10,
        "{t}: lost {lost} of {sent} on loopback at 5k/s"
    );
}

/// The expected frame with `got`'s send time (the filler depends only on seq).
fn with_kind(expected: &Bytes, got: &Bytes) -> Bytes {
    let mut v = expected.to_vec();
    v[8..16].copy_from_slice(&got[8..16]);
    Bytes::from(v)
}

#[tokio::test]
async fn oversized_datagram_is_refused_clearly() {
    let s = server().await;
    let mut c = connect(&s, "webtransport-datagram", 2).await;
    let err = c
        .sink
        .send(frame(1, 2, Kind::EchoRequest, 4000))
        .await
        .expect_err("a 4000-byte datagram must be refused");
    match &err {
        TransportError::TooLarge { size, max } => {
            assert_eq!(*size, 4000);
            assert!((1000..4000).contains(max), "max datagram size {max}");
        }
        e => panic!("wrong error: {e}"),
    }
    let text = err.to_string();
    assert!(text.contains("4000") && text.contains("maximum"), "{text}");
    // The session is still usable after the refusal.
    c.sink
        .send(frame(2, 2, Kind::EchoRequest, 64))
        .await
        .unwrap();
    assert_eq!(Header::parse(&recv(&mut c).await).unwrap().seq, 2);
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_and_push_reach_every_client(
    #[values("webtransport", "webrtc@str0m", "webrtc@webrtc-rs")] t: &str,
) {
    let s = server().await;
    let mut clients = Vec::new();
    for id in 1..=3 {
        let mut c = connect(&s, t, id).await;
        // One round trip registers the downstream (a WebTransport stream exists once used).
        c.sink
            .send(frame(0, id, Kind::EchoRequest, 32))
            .await
            .unwrap();
        recv(&mut c).await;
        clients.push(c);
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
    assert!(s.hub.send_to(2, frame(7, 0, Kind::Push, 100)).await);
    let h = Header::parse(&recv(&mut clients[1]).await).unwrap();
    assert_eq!((h.kind, h.seq), (Kind::Push, 7), "{t}");
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs"
    )]
    t: &str,
) {
    let s = server().await;
    let mut good = connect(&s, t, 1).await;
    let mut bad = connect(&s, t, 2).await;
    let _ = bad.sink.send(Bytes::from_static(b"tiny")).await;
    let mut unknown = frame(1, 2, Kind::Data, 32).to_vec();
    unknown[20] = 77;
    let _ = bad.sink.send(Bytes::from(unknown)).await;
    good.sink
        .send(frame(5, 1, Kind::EchoRequest, 64))
        .await
        .unwrap();
    let h = Header::parse(&recv(&mut good).await).unwrap();
    assert_eq!((h.kind, h.seq), (Kind::EchoReply, 5), "{t}");
    let mut errors = s.hub.errors.snapshot();
    for _ in 0..50 {
        if errors.contains_key("frame_unknown_kind") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        errors = s.hub.errors.snapshot();
    }
    assert!(
        errors.get("frame_short").copied().unwrap_or(0) >= 1,
        "{t}: short frame not counted: {errors:?}"
    );
    assert!(
        errors.get("frame_unknown_kind").copied().unwrap_or(0) >= 1,
        "{t}: unknown kind not counted: {errors:?}"
    );
}

/// Interop: each implementation's client against the other's server, both channel kinds.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_implementations_interoperate(
    #[values((RtcImpl::WebrtcRs, RtcImpl::Str0m), (RtcImpl::Str0m, RtcImpl::WebrtcRs))] pair: (
        RtcImpl,
        RtcImpl,
    ),
    #[values(true, false)] reliable: bool,
) {
    let (client, server_impl) = pair;
    let s = server().await;
    let tr = WebRtcTransport {
        reliable,
        client,
        server: server_impl,
    };
    let mut c = connect_with(&s, &tr, 11).await;
    let names: Vec<&str> = c.setup.phases.iter().map(|(n, _)| *n).collect();
    for phase in ["signalling", "ice", "dtls", "channel"] {
        assert!(
            names.contains(&phase),
            "{client:?}->{server_impl:?}: no {phase} in {names:?}"
        );
    }
    // Up to the SDP's default max-message-size, each way (webrtc-rs reads it whole); reliable
    // only, where a lost chunk is resent.
    let big = reliable.then_some((20, 65_536));
    for (seq, size) in (0..20).map(|s| (s, 1000)).chain(big) {
        let f = frame(seq, 11, Kind::EchoRequest, size);
        c.sink.send(f.clone()).await.unwrap();
        let got = recv(&mut c).await;
        assert_eq!(got.len(), size, "{client:?}->{server_impl:?}");
        assert_eq!(&got[24..], &f[24..]);
        assert_eq!(Header::parse(&got).unwrap().seq, seq);
    }
    c.sink.close().await.unwrap();
}

/// The setup fast paths end to end: a pre-negotiated channel (both stacks), SNAP (str0m), and
/// the offer on a connection opened before the timed setup; each carries frames both ways, in
/// order, and skips the phases it should (SNAP: no SCTP handshake after DTLS).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_fast_paths_connect_and_carry_frames(
    #[values(
        (RtcImpl::Str0m, RtcChannelMode::Negotiated),
        (RtcImpl::Str0m, RtcChannelMode::Snap),
        (RtcImpl::WebrtcRs, RtcChannelMode::Negotiated)
    )]
    path: (RtcImpl, RtcChannelMode),
    #[values(true, false)] reliable: bool,
) {
    let (imp, channel) = path;
    let s = server().await;
    let tr = WebRtcTransport {
        reliable,
        client: imp,
        server: imp,
    };
    let mut t = target(&s, 21);
    t.rtc_channel = channel;
    t.rtc_signalling = RtcSignalling::Reused;
    let mut c = tokio::time::timeout(Duration::from_secs(15), tr.connect(&t))
        .await
        .expect("connect in time")
        .expect("connect");
    let names: Vec<&str> = c.setup.phases.iter().map(|(n, _)| *n).collect();
    assert!(names.contains(&"dtls"), "{imp:?} {channel:?}: {names:?}");
    for seq in 0..20 {
        let f = frame(seq, 21, Kind::EchoRequest, 1000);
        c.sink.send(f.clone()).await.unwrap();
        let got = recv(&mut c).await;
        assert_eq!(&got[24..], &f[24..]);
        assert_eq!(Header::parse(&got).unwrap().seq, seq);
    }
    c.sink.close().await.unwrap();
}

#[tokio::test]
async fn bad_signalling_gets_clear_statuses() {
    let s = server().await;
    let cases: [(&str, &str, &[u8], u16); 8] = [
        ("POST", "/rtc/offer", b"v=0\r\n", 400),
        ("POST", "/rtc/offer?client=1&channel=sctp", b"v=0\r\n", 400),
        ("POST", "/rtc/offer?client=1&unreliable=1", b"v=0\r\n", 400),
        (
            "POST",
            "/rtc/offer?client=1&impl=webrtc-rs&channel=snap",
            b"v=0\r\n",
            400,
        ),
        ("POST", "/rtc/offer?client=0", b"v=0\r\n", 400),
        ("POST", "/rtc/offer?client=1&impl=pigeon", b"v=0\r\n", 400),
        ("POST", "/rtc/offer?client=1", b"not sdp", 400),
        ("DELETE", "/rtc/session/12345", b"", 404),
    ];
    expect_statuses_with_reasons(&s, &cases).await;
}

#[test]
fn udp_transport_ids_resolve_with_implementations() {
    for id in [
        "webtransport",
        "webtransport-datagram",
        "webrtc",
        "webrtc-unreliable",
    ] {
        assert!(transport::ALL_IDS.contains(&id));
        assert_eq!(transport::by_id(id).unwrap().id(), id);
    }
    assert_eq!(transport::implementations("webrtc"), ["str0m", "webrtc-rs"]);
    assert!(transport::implementations("tcp").is_empty());
    let t = transport::by_id_impl("webrtc-unreliable", Some("webrtc-rs")).unwrap();
    assert_eq!(
        (t.id(), t.implementation()),
        ("webrtc-unreliable", Some("webrtc-rs"))
    );
    assert_eq!(
        transport::by_id("webrtc").unwrap().implementation(),
        Some("str0m")
    );
    assert!(transport::by_id_impl("webrtc", Some("pigeon")).is_none());
    assert!(transport::by_id_impl("tcp", Some("str0m")).is_none());
}

/// relay over WebTransport goes through the server (stream: every frame; datagrams: loss is
/// counted); over WebRTC it is peer to peer: the server only passes the offer and the answer
/// along and never sees a data frame.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_runs_on_every_udp_transport(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
) {
    let s = server().await;
    let tr = transport_for(t);
    let r = run_workload(&s, t, relay_spec(2)).await;
    let received = check_relay(t, &r, 1, tr.guarantees().reliable);
    let relayed = s.hub.relayed.load(std::sync::atomic::Ordering::Relaxed);
    let events = s.hub.events.snapshot();
    if tr.peer_to_peer() {
        assert_eq!(
            relayed, 0,
            "{t}: peer-to-peer frames went through the server"
        );
        assert_eq!(
            s.hub.client(1).data_count().frames,
            0,
            "{t}: server saw data"
        );
        assert_eq!(events.get("rtc_relay_offer"), Some(&1), "{t}: {events:?}");
        assert_eq!(events.get("rtc_relay_answer"), Some(&1), "{t}: {events:?}");
        assert_eq!(events.get("rtc_offer"), None, "{t}: a server peer was made");
    } else {
        // Warm-up frames too (120 in all); a lost datagram is lost either side of the server.
        assert!(
            relayed >= received && relayed <= 120,
            "{t}: relayed {relayed}"
        );
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collab_runs_on_every_udp_transport(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
) {
    let s = server().await;
    let g = transport_for(t).guarantees();
    let r = run_workload(&s, t, collab_spec(3)).await;
    check_collab(t, &s, &r, 3, g.reliable, g.ordered);
}

#[tokio::test]
async fn bad_relay_signalling_gets_clear_statuses() {
    let s = server().await;
    let cases: [(&str, &str, &[u8], u16); 7] = [
        ("POST", "/rtc/relay/offer?client=1", b"v=0\r\n", 400),
        ("POST", "/rtc/relay/offer?client=1&peer=1", b"v=0\r\n", 400),
        ("POST", "/rtc/relay/offer?client=1&peer=2", b"not sdp", 400),
        ("GET", "/rtc/relay/offer?client=2&wait=0", b"", 204),
        ("GET", "/rtc/relay/offer", b"", 400),
        ("POST", "/rtc/relay/session/999?client=2", b"v=0\r\n", 404),
        ("DELETE", "/rtc/relay/session/999", b"", 404),
    ];
    expect_statuses_with_reasons(&s, &cases).await;
    // An offer addressed to client 2: only client 2 may answer it; withdrawing it ends the
    // offerer's wait with 410.
    use wirebench::transport::http::{read_body, HttpConn};
    use wirebench::transport::Setup;
    let mut conn = HttpConn::open(&target(&s, 2), &mut Setup::default())
        .await
        .unwrap();
    let t1 = target(&s, 1);
    let offerer = tokio::spawn(async move {
        let mut c = HttpConn::open(&t1, &mut Setup::default()).await.unwrap();
        let resp = c
            .request(
                "POST".parse().unwrap(),
                "/rtc/relay/offer?client=1&peer=2",
                &[],
                Bytes::from_static(b"v=0\r\n"),
            )
            .await
            .unwrap();
        resp.status().as_u16()
    });
    let resp = conn
        .request(
            "GET".parse().unwrap(),
            "/rtc/relay/offer?client=2",
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let session = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(resp.headers()["wirebench-peer"].to_str().unwrap(), "1");
    assert_eq!(read_body(resp).await.unwrap().as_ref(), b"v=0\r\n");
    let resp = conn
        .request(
            "POST".parse().unwrap(),
            &format!("{session}?client=3"),
            &[],
            Bytes::from_static(b"v=0\r\n"),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    read_body(resp).await.unwrap();
    let resp = conn
        .request("DELETE".parse().unwrap(), &session, &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    read_body(resp).await.unwrap();
    assert_eq!(offerer.await.unwrap(), 410);
}

/// `idle` over the UDP transports: every client connects and stays connected (QUIC keep-alive,
/// ICE consent), and every notification reaches every client once with its latency recorded.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_holds_every_client_and_notifies_all(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
) {
    let c = run_cell(IDLE_LOOPBACK, t, "loopback").await.unwrap();
    check_idle_cell(&c, 20, 4);
}

/// `idle` on an emulated link: the WebTransport client's QUIC PINGs cross the wire at the
/// interval asked for (200 ms here).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_quic_keepalive_crosses_the_wire(
    #[values("webtransport", "webtransport-datagram")] t: &str,
) {
    let Some(c) = run_cell(IDLE_SHAPED, t, "lan").await else {
        return;
    };
    check_idle_keepalives(&c, true);
}

/// `flap` over the UDP transports: after a 1 s cut the client reconnects (a new session or
/// peer connection); frames pushed meanwhile are lost and counted, none twice.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flap_reconnects_and_counts_the_loss(
    #[values(
        "webtransport",
        "webtransport-datagram",
        "webrtc@str0m",
        "webrtc@webrtc-rs",
        "webrtc-unreliable@str0m",
        "webrtc-unreliable@webrtc-rs"
    )]
    t: &str,
) {
    let Some(c) = run_cell(FLAP, t, "lan").await else {
        return;
    };
    check_flap_cell(&c, false);
}

/// Reads the next length-prefixed frame from a WebTransport stream; `None` at its end.
async fn next_wt_frame(
    recv: &mut wtransport::RecvStream,
    dec: &mut wirebench::frame::LengthPrefixed,
) -> Option<Bytes> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(f) = dec.next_frame().unwrap() {
            return Some(f);
        }
        let n = tokio::time::timeout(Duration::from_secs(5), recv.read(&mut buf))
            .await
            .expect("a frame or the stream's end within 5 s")
            .unwrap()?;
        dec.extend(&buf[..n]);
    }
}

/// The newest open WebTransport stream is the client's downstream; when it ends, an older
/// stream still open takes over (as `docs/protocol.md` says), not the datagrams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_webtransport_stream_takes_over_when_the_newest_ends() {
    use wirebench::frame::{put_prefixed, LengthPrefixed};
    use wtransport::{tls::Sha256Digest, ClientConfig, Endpoint};
    let s = server().await;
    let cfg = ClientConfig::builder()
        .with_bind_default()
        .with_server_certificate_hashes([Sha256Digest::new(s.identity.cert_sha256)])
        .build();
    let endpoint = Endpoint::client(cfg).unwrap();
    let conn = endpoint
        .connect(format!("https://{}/wt?client=7", s.addr))
        .await
        .unwrap();
    // A stream reaches the server with its first bytes: each opens with a data frame.
    let mut streams = Vec::new();
    for seq in 0..2 {
        let (mut send, recv) = conn.open_bi().await.unwrap().await.unwrap();
        let mut hello = bytes::BytesMut::new();
        put_prefixed(&mut hello, &frame(seq, 7, Kind::Data, 64));
        send.write_all(&hello).await.unwrap();
        streams.push((send, recv, LengthPrefixed::new()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut old_send, mut old_recv, mut old_dec) = streams.remove(0);
    let (mut new_send, mut new_recv, mut new_dec) = streams.remove(0);
    assert!(s.hub.send_to(7, frame(1, 0, Kind::Push, 64)).await);
    let f = next_wt_frame(&mut new_recv, &mut new_dec).await.unwrap();
    assert_eq!(
        Header::parse(&f).unwrap().seq,
        1,
        "the newest stream is the downstream"
    );
    // The newest stream ends (FIN both ways); the older one takes over.
    new_send.finish().await.unwrap();
    assert!(next_wt_frame(&mut new_recv, &mut new_dec).await.is_none());
    assert!(s.hub.send_to(7, frame(2, 0, Kind::Push, 64)).await);
    let f = next_wt_frame(&mut old_recv, &mut old_dec).await.unwrap();
    assert_eq!(
        Header::parse(&f).unwrap().seq,
        2,
        "the older stream took over"
    );
    old_send.finish().await.unwrap();
}
