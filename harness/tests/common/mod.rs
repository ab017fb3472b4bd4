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

pub async fn server() -> Server {
    Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        plaintext: false,
        poll_timeout: Duration::from_secs(25),
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
