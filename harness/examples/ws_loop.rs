//! tokio-tungstenite's own bulk speed over rustls, as a yardstick for the harness's `websocket`
//! `download` and `upload` figures (docs/throughput.md): a server and a client in one process,
//! each on its own single-threaded runtime on its own pinned CPU (server 0, client 1), one TLS
//! 1.3 connection on loopback, one side sending fixed-size binary messages as fast as
//! `send` takes them, the other counting what arrives.
//!
//! ```text
//! cargo run --release -p wirebench --example ws_loop -- [download|upload]
//!     [--size BYTES]... [--secs S] [--repeat N]
//! ```
//!
//! `download`: the server sends; `upload`: the client does. One line per run: direction, size,
//! Mbit/s of message payload received over `--secs` after a 0.5 s warm-up.

use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[path = "loop_common/mod.rs"]
mod common;
use common::{runtime_thread, Meter, PeerThread};

/// The server's and the client's TLS configurations around one self-signed certificate.
fn tls() -> Result<(rustls::ServerConfig, rustls::ClientConfig)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key =
        PrivateKeyDer::try_from(cert.signing_key.serialize_der()).map_err(anyhow::Error::msg)?;
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der)?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((server, client))
}

/// Sends `size`-byte binary messages until the run stops.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    size: usize,
    m: &Meter,
) -> Result<()> {
    let frame = Bytes::from(vec![0xa5u8; size]);
    while !m.stopped() {
        if let Err(e) = ws.send(Message::Binary(frame.clone())).await {
            // The receiver may hang up first once the run is over.
            return if m.stopped() { Ok(()) } else { Err(e.into()) };
        }
    }
    Ok(())
}

/// Counts the binary payload that arrives until the connection ends or the run stops.
async fn count<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>, m: &Meter) {
    m.opened();
    let counting = async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg {
                m.count(b.len());
            }
        }
    };
    tokio::select! {
        () = counting => {}
        () = m.until_stopped() => {}
    }
}

fn start(size: usize, upload: bool, m: Arc<Meter>) -> Result<Vec<PeerThread>> {
    let (server_tls, client_tls) = tls()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let ms = m.clone();
    let server = runtime_thread(0, m.clone(), async move {
        let (tcp, _) = TcpListener::from_std(listener)?.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(server_tls))
            .accept(tcp)
            .await?;
        let ws = tokio_tungstenite::accept_async(tls).await?;
        if upload {
            count(ws, &ms).await;
            Ok(())
        } else {
            send(ws, size, &ms).await
        }
    });
    let client = runtime_thread(1, m.clone(), async move {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(client_tls))
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let (ws, _) = tokio_tungstenite::client_async("wss://localhost/", tls).await?;
        if upload {
            send(ws, size, &m).await
        } else {
            count(ws, &m).await;
            Ok(())
        }
    });
    Ok(vec![server, client])
}

fn main() -> Result<()> {
    let args = common::parse_args()?;
    let upload = args.upload;
    common::run_all(&args, "tokio-tungstenite", |size, m| start(size, upload, m))
}
