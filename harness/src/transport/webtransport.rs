//! `webtransport` and `webtransport-datagram`: an HTTP/3 WebTransport session to
//! `https://HOST:P/wt?client=<id>` (crate `wtransport`, quinn underneath, rustls with ring).
//!
//! The client pins the server certificate by its SHA-256 (as browsers do with
//! `serverCertificateHashes`). `webtransport` opens one bidirectional stream and sends
//! u32-LE length-prefixed frames on it; `webtransport-datagram` sends one frame per datagram and
//! refuses, with [`TransportError::TooLarge`], a frame larger than the session's current maximum
//! datagram size (never truncates).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use wtransport::endpoint::endpoint_side::Client;
use wtransport::error::SendDatagramError;
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Endpoint};

use super::api::{
    Connection, FrameSink, FrameStream, Guarantees, Setup, Target, Transport, TransportError,
};
use crate::frame::{put_prefixed, LengthPrefixed};

pub use super::api::WEBTRANSPORT_KEEP_ALIVE as KEEP_ALIVE;

/// The WebTransport client, over a stream or over datagrams.
#[derive(Debug, Clone, Copy)]
pub struct WebTransportTransport {
    /// One frame per datagram (`webtransport-datagram`) instead of a bidirectional stream.
    pub datagram: bool,
}

/// A local address to bind a client UDP socket for reaching `target`: the one asked for, else
/// the target's own address when it is loopback, otherwise the wildcard of its family.
pub(crate) fn client_bind_addr(
    target: SocketAddr,
    local_ip: Option<std::net::IpAddr>,
) -> SocketAddr {
    let ip = if let Some(ip) = local_ip {
        ip
    } else if target.ip().is_loopback() {
        target.ip()
    } else if target.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

fn wt_err(context: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Protocol(format!("webtransport {context}: {e}"))
}

#[async_trait]
impl Transport for WebTransportTransport {
    fn id(&self) -> &'static str {
        if self.datagram {
            "webtransport-datagram"
        } else {
            "webtransport"
        }
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees {
            reliable: !self.datagram,
            ordered: !self.datagram,
        }
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let t0 = Instant::now();
        let hash = target.cert_sha256.ok_or_else(|| {
            TransportError::Tls(
                "webtransport needs the server certificate's SHA-256 to pin (GET /cert-hash)"
                    .into(),
            )
        })?;
        let cfg = ClientConfig::builder()
            .with_bind_address(client_bind_addr(target.addr, target.local_ip))
            .with_server_certificate_hashes([Sha256Digest::new(hash)])
            .keep_alive_interval(target.quic_keep_alive)
            .build();
        let endpoint = Endpoint::client(cfg)
            .map_err(|e| TransportError::io("webtransport: binding the client UDP socket", e))?;
        let url = format!("https://{}/wt?client={}", target.addr, target.client_id);
        let conn = endpoint
            .connect(&url)
            .await
            .map_err(|e| wt_err(&format!("connecting to {url}"), e))?;
        let mut setup = Setup::default();
        setup.phases.push(("session", t0.elapsed()));
        if self.datagram {
            setup.total = t0.elapsed();
            return Ok(Connection {
                sink: Box::new(DatagramSink {
                    conn: conn.clone(),
                    _endpoint: endpoint,
                }),
                stream: Box::new(DatagramStream { conn }),
                setup,
            });
        }
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| wt_err("opening the stream", e))?
            .await
            .map_err(|e| wt_err("opening the stream", e))?;
        setup.total = t0.elapsed();
        let session = setup.phases.first().map_or(Duration::ZERO, |(_, d)| *d);
        setup
            .phases
            .push(("stream", setup.total.saturating_sub(session)));
        Ok(Connection {
            sink: Box::new(StreamSink {
                send,
                buf: BytesMut::new(),
                _conn: conn,
                _endpoint: endpoint,
            }),
            stream: Box::new(StreamFrames {
                recv,
                dec: LengthPrefixed::new(),
            }),
            setup,
        })
    }
}

/// Length-prefixed frames on the session's bidirectional stream.
struct StreamSink {
    send: wtransport::SendStream,
    buf: BytesMut,
    // Dropping the last connection handle or the endpoint closes the session.
    _conn: wtransport::Connection,
    _endpoint: Endpoint<Client>,
}

#[async_trait]
impl FrameSink for StreamSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.buf.clear();
        put_prefixed(&mut self.buf, &frame);
        self.send
            .write_all(&self.buf)
            .await
            .map_err(|e| wt_err("stream send", e))
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.send
            .finish()
            .await
            .map_err(|e| wt_err("stream finish", e))
    }
}

/// Reads length-prefixed frames; cancellation-safe (bytes read are kept in the decoder).
pub(crate) struct StreamFrames {
    pub(crate) recv: wtransport::RecvStream,
    pub(crate) dec: LengthPrefixed,
}

impl StreamFrames {
    /// Next frame, `None` at a clean FIN between frames.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, TransportError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            match self
                .recv
                .read(&mut chunk)
                .await
                .map_err(|e| wt_err("stream recv", e))?
            {
                Some(n) => self.dec.extend(&chunk[..n]),
                None if self.dec.pending() == 0 => return Ok(None),
                None => {
                    return Err(TransportError::Protocol(
                        "webtransport stream ended inside a frame".into(),
                    ))
                }
            }
        }
    }
}

#[async_trait]
impl FrameStream for StreamFrames {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        self.next().await
    }
}

/// Checks a frame against the session's datagram limit and sends it, never truncated.
pub(crate) fn send_datagram(
    conn: &wtransport::Connection,
    frame: Bytes,
) -> Result<(), TransportError> {
    let max = conn.max_datagram_size().ok_or_else(|| {
        TransportError::Protocol("the peer does not accept WebTransport datagrams".into())
    })?;
    let size = frame.len();
    if size > max {
        return Err(TransportError::TooLarge { size, max });
    }
    match conn.send_datagram(frame) {
        Ok(()) => Ok(()),
        Err(SendDatagramError::TooLarge) => Err(TransportError::TooLarge {
            size,
            max: conn.max_datagram_size().unwrap_or(0),
        }),
        Err(SendDatagramError::NotConnected) => Err(TransportError::Closed),
        Err(e) => Err(wt_err("datagram send", e)),
    }
}

/// One frame per datagram. Unreliable: the sender paces (no backpressure applies).
struct DatagramSink {
    conn: wtransport::Connection,
    _endpoint: Endpoint<Client>,
}

#[async_trait]
impl FrameSink for DatagramSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        send_datagram(&self.conn, frame)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.conn.close(0u32.into(), b"done");
        Ok(())
    }
}

struct DatagramStream {
    conn: wtransport::Connection,
}

#[async_trait]
impl FrameStream for DatagramStream {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self.conn.receive_datagram().await {
            Ok(d) => Ok(Some(d.payload())),
            Err(_) => Ok(None),
        }
    }
}
