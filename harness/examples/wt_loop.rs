//! wtransport's own bulk speed, as a yardstick for the harness's `webtransport` and
//! `webtransport-datagram` `download` and `upload` figures (docs/throughput.md): a server and a
//! client in one process, each on its own single-threaded runtime on its own pinned CPU
//! (server 0, client 1), one WebTransport session over QUIC on loopback. `stream`: the sender
//! opens one unidirectional stream and writes fixed-size frames to it as fast as it takes them;
//! `datagram`: it sends fixed-size datagrams (those the session's datagram size allows) as fast
//! as wtransport takes them (it drops the oldest queued when full). The other side counts what
//! arrives.
//!
//! ```text
//! cargo run --release -p wirebench --example wt_loop -- stream|datagram [download|upload]
//!     [--size BYTES]... [--secs S] [--repeat N]
//! ```
//!
//! `download`: the server sends; `upload`: the client does. One line per run: mode, direction,
//! size, Mbit/s of payload received over `--secs` after a 0.5 s warm-up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use wtransport::tls::{Certificate, CertificateChain, PrivateKey};
use wtransport::{ClientConfig, Connection, Endpoint, Identity, ServerConfig};

#[path = "loop_common/mod.rs"]
mod common;
use common::{runtime_thread, Meter, PeerThread};

/// An error that ends a peer: none once the run is over (the other peer may hang up first).
fn over(m: &Meter, e: anyhow::Error) -> Result<()> {
    if m.stopped() {
        Ok(())
    } else {
        Err(e)
    }
}

/// Sends `size`-byte frames on one stream, or as datagrams, until the run stops.
async fn send(conn: Connection, datagram: bool, size: usize, m: &Meter) -> Result<()> {
    let frame = Bytes::from(vec![0xa5u8; size]);
    if datagram {
        let max = conn.max_datagram_size().unwrap_or(0);
        if size > max {
            bail!("a {size}-byte datagram does not fit this session's {max} bytes");
        }
        while !m.stopped() {
            let _ = conn.send_datagram(frame.clone());
            // send_datagram never waits: let the connection's own tasks run.
            tokio::task::yield_now().await;
        }
        return Ok(());
    }
    let mut stream = conn.open_uni().await?.await?;
    while !m.stopped() {
        if let Err(e) = stream.write_all(&frame).await {
            return over(m, e.into());
        }
    }
    Ok(())
}

/// Counts the payload that arrives on the first stream, or in datagrams, until the run stops.
async fn count(conn: Connection, datagram: bool, m: &Meter) -> Result<()> {
    let counting = async {
        if datagram {
            m.opened();
            loop {
                m.count(conn.receive_datagram().await?.payload().len());
            }
        }
        let mut stream = conn.accept_uni().await?;
        m.opened();
        let mut buf = vec![0u8; 64 * 1024];
        while let Some(n) = stream.read(&mut buf).await? {
            m.count(n);
        }
        Ok(())
    };
    tokio::select! {
        r = counting => r.or_else(|e: anyhow::Error| over(m, e)),
        () = m.until_stopped() => Ok(()),
    }
}

/// A self-signed ECDSA certificate valid for less than 14 days, as certificate-hash pinning
/// (WebTransport's `serverCertificateHashes`, wtransport's client alike) requires, and its hash.
fn identity() -> Result<(Identity, wtransport::tls::Sha256Digest)> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    let now = std::time::SystemTime::now();
    params.not_before = (now - Duration::from_secs(3600)).into();
    params.not_after = (now + Duration::from_secs(7 * 24 * 3600)).into();
    let cert = Certificate::from_der(params.self_signed(&key)?.der().to_vec())?;
    let hash = cert.hash();
    let chain = CertificateChain::single(cert);
    Ok((
        Identity::new(chain, PrivateKey::from_der_pkcs8(key.serialize_der())),
        hash,
    ))
}

fn start(size: usize, upload: bool, datagram: bool, m: Arc<Meter>) -> Result<Vec<PeerThread>> {
    let (identity, hash) = identity()?;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let addr = socket.local_addr()?;
    let ms = m.clone();
    let server = runtime_thread(0, m.clone(), async move {
        let cfg = ServerConfig::builder()
            .with_bind_socket(socket)
            .with_identity(identity)
            .build();
        let endpoint = Endpoint::server(cfg)?;
        let conn = endpoint.accept().await.await?.accept().await?;
        if upload {
            count(conn, datagram, &ms).await
        } else {
            send(conn, datagram, size, &ms).await
        }
    });
    let client = runtime_thread(1, m.clone(), async move {
        let cfg = ClientConfig::builder()
            .with_bind_default()
            .with_server_certificate_hashes([hash])
            .build();
        let endpoint = Endpoint::client(cfg)?;
        let conn = endpoint.connect(format!("https://{addr}/")).await?;
        let done = if upload {
            send(conn.clone(), datagram, size, &m).await
        } else {
            count(conn.clone(), datagram, &m).await
        };
        conn.close(0u32.into(), b"done");
        done
    });
    Ok(vec![server, client])
}

fn main() -> Result<()> {
    let args = common::parse_args()?;
    let datagram = match args.words.as_slice() {
        [w] if w == "stream" => false,
        [w] if w == "datagram" => true,
        _ => return Err(anyhow!("name the mode: stream or datagram")),
    };
    let (upload, what) = (args.upload, args.words[0].clone());
    common::run_all(&args, &format!("wtransport-{what}"), |size, m| {
        start(size, upload, datagram, m)
    })
}
