//! The HTTP/3 WebTransport endpoint on UDP P (`/wt?client=<id>`), feeding the [`Hub`].
//!
//! A session's datagrams are its downstream from the moment it is accepted; when the client
//! opens a bidirectional stream, that stream becomes the downstream (the most recently opened
//! one, as for every transport). Requests are answered on the path they came in on: a frame on a
//! stream is answered on that stream, a datagram with a datagram. A datagram reply larger than
//! the session's max datagram size is dropped and counted (`wt_datagram_too_large`).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use wtransport::endpoint::IncomingSession;
use wtransport::tls::{Certificate, CertificateChain, PrivateKey};
use wtransport::{Endpoint, Identity as WtIdentity, ServerConfig};

use super::hub::{Hub, Reply};
use super::outq;
use crate::frame::{put_prefixed, LengthPrefixed};
use crate::tls::Identity;
use crate::transport::webtransport::{send_datagram, StreamFrames};
use crate::transport::TransportError;

/// Builds the wtransport endpoint on an already bound UDP socket (port P).
pub fn endpoint(
    socket: std::net::UdpSocket,
    identity: &Identity,
) -> Result<Endpoint<wtransport::endpoint::endpoint_side::Server>, TransportError> {
    let cert = Certificate::from_der(identity.cert_der.to_vec())
        .map_err(|e| TransportError::Tls(format!("certificate for HTTP/3: {e}")))?;
    let id = WtIdentity::new(
        CertificateChain::single(cert),
        PrivateKey::from_der_pkcs8(identity.key_der.clone()),
    );
    let cfg = ServerConfig::builder()
        .with_bind_socket(socket)
        .with_identity(id)
        // No server keep-alive: the client keeps its session alive (as browsers do), so the
        // idle workload's keep-alive bytes are the client's setting, not the server's.
        .keep_alive_interval(None)
        .build();
    Endpoint::server(cfg).map_err(|e| TransportError::io("HTTP/3 endpoint on UDP P", e))
}

/// Accepts sessions forever.
pub async fn serve(endpoint: Endpoint<wtransport::endpoint::endpoint_side::Server>, hub: Arc<Hub>) {
    loop {
        let incoming = endpoint.accept().await;
        tokio::spawn(session(incoming, hub.clone()));
    }
}

fn client_from_path(path: &str) -> Option<u32> {
    let query = path.strip_prefix("/wt?")?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("client="))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|id| *id != 0)
}

async fn session(incoming: IncomingSession, hub: Arc<Hub>) {
    let Ok(req) = incoming.await else {
        hub.errors.add("wt_handshake_failed");
        return;
    };
    let path = req.path().to_string();
    if path != "/wt" && !path.starts_with("/wt?") {
        req.not_found().await;
        return;
    }
    let Some(id) = client_from_path(&path) else {
        // HTTP/3 has no reason phrase: 400 in spirit, a 403 on the wire.
        hub.errors.add("wt_bad_client_id");
        req.forbidden().await;
        return;
    };
    let Ok(conn) = req.accept().await else {
        return;
    };
    // Datagram downstream until a stream opens (and again when every stream has closed).
    let (dtx, mut drx) = outq::channel(outq::QUEUE_FRAMES);
    let attachment = hub.attach_channel(id, dtx.clone());
    let dconn = conn.clone();
    let dhub = hub.clone();
    let dgram_writer = tokio::spawn(async move {
        while let Some(f) = drx.recv().await {
            match send_datagram(&dconn, f) {
                Ok(()) => {}
                Err(TransportError::TooLarge { .. }) => dhub.errors.add("wt_datagram_too_large"),
                Err(_) => break,
            }
        }
    });
    // Running streams; finished ones are reaped as they end, not kept for the session.
    let mut streams = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            bi = conn.accept_bi() => {
                let Ok((send, recv)) = bi else { break };
                let (tx, rx) = outq::channel(outq::QUEUE_FRAMES);
                // The newest open stream is the downstream; each stream stays attached while
                // it is open, so when the newest ends the one before it takes over.
                let attached = hub.attach_channel(id, tx.clone());
                streams.spawn(stream(hub.clone(), id, send, recv, tx, rx, attached));
            }
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
            d = conn.receive_datagram() => {
                let Ok(d) = d else { break };
                hub.on_frame(id, d.payload(), Reply::Channel(&dtx)).await;
            }
        }
    }
    drop(attachment);
    drop(dtx);
    dgram_writer.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while streams.join_next().await.is_some() {}
    })
    .await;
}

async fn stream(
    hub: Arc<Hub>,
    id: u32,
    mut send: wtransport::SendStream,
    recv: wtransport::RecvStream,
    tx: outq::FrameTx,
    mut rx: outq::FrameRx,
    attached: crate::server::hub::Attachment,
) {
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        loop {
            let f = tokio::select! {
                f = rx.recv() => f,
                _ = &mut done_rx => {
                    // Upstream FIN: every reply is already queued; flush them, then FIN.
                    buf.clear();
                    while let Some(f) = rx.try_recv() {
                        put_prefixed(&mut buf, &f);
                    }
                    if !buf.is_empty() && send.write_all(&buf).await.is_err() {
                        return;
                    }
                    break;
                }
            };
            let Some(f) = f else { break };
            buf.clear();
            rx.coalesce_prefixed(&mut buf, &f, 256 * 1024);
            if send.write_all(&buf).await.is_err() {
                return;
            }
        }
        // FIN answered with FIN.
        let _ = send.finish().await;
    });
    let mut frames = StreamFrames {
        recv,
        dec: LengthPrefixed::new(),
    };
    loop {
        match frames.next().await {
            Ok(Some(f)) => hub.on_frame(id, f, Reply::Channel(&tx)).await,
            Ok(None) => break,
            Err(TransportError::Frame(e)) => {
                hub.count_bad(&e);
                break;
            }
            Err(_) => break,
        }
    }
    // Upstream ended: no longer a downstream (an older open stream, or the datagrams, take over).
    drop(attached);
    drop(tx);
    let _ = done_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

#[cfg(test)]
mod tests {
    use super::client_from_path;

    #[test]
    fn client_id_is_taken_from_the_query() {
        assert_eq!(client_from_path("/wt?client=7"), Some(7));
        assert_eq!(client_from_path("/wt?x=1&client=9"), Some(9));
        assert_eq!(client_from_path("/wt?client=0"), None);
        assert_eq!(client_from_path("/wt?client=abc"), None);
        assert_eq!(client_from_path("/wt"), None);
    }
}
