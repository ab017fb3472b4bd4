//! The transport vocabulary every transport implements and every workload uses: the
//! [`Transport`] trait, the [`Connection`] it hands back (a [`FrameSink`] and a
//! [`FrameStream`]), its [`Target`], [`Setup`] times, [`Guarantees`] and [`TransportError`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::frame::FrameError;
use crate::network::{RtcChannelMode, RtcSignalling};

/// The client's default QUIC keep-alive, well under the 30 s idle timeout (the `idle` workload
/// sets its own, see [`Target::quic_keep_alive`]). The server sends none: the client keeps the
/// session alive, as browsers do.
pub const WEBTRANSPORT_KEEP_ALIVE: Duration = Duration::from_secs(3);

/// Errors a transport reports. They end the connection; the cell is marked failed with the text.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Socket-level failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS failure.
    #[error("TLS: {0}")]
    Tls(String),
    /// The peer broke the protocol (bad status, bad framing, ...).
    #[error("protocol: {0}")]
    Protocol(String),
    /// A frame the peer sent could not be decoded.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    /// The frame is larger than the transport can carry (e.g. a datagram over the max size).
    #[error("frame of {size} bytes exceeds this transport's maximum of {max} bytes")]
    TooLarge {
        /// Size asked for.
        size: usize,
        /// Largest allowed.
        max: usize,
    },
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// Timed out.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl TransportError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A protocol error from a library's error, with every cause behind it: hyper says only
    /// "connection error" until its source ("Connection reset by peer (os error 104)") is
    /// added. A cause already in the text is not repeated.
    pub fn protocol(context: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        let mut text = format!("{context}: {e}");
        let mut cur = e.source();
        while let Some(cause) = cur {
            let c = cause.to_string();
            if !text.contains(&c) {
                text.push_str(": ");
                text.push_str(&c);
            }
            cur = cause.source();
        }
        Self::Protocol(text)
    }
}

/// Where a client connects and who it is.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address for HTTPS/HTTP/3 (port P); the raw `tcp` transport uses P+1.
    pub addr: SocketAddr,
    /// Use TLS for the TCP-based HTTP transports (`--plaintext` turns it off).
    pub tls: bool,
    /// SHA-256 of the server certificate's DER, pinned by TLS clients.
    pub cert_sha256: Option<[u8; 32]>,
    /// This client's id (`?client=`), not 0.
    pub client_id: u32,
    /// Interval between polls for `poll` (short polling).
    pub poll_interval: Duration,
    /// How many clients share the short-poll schedule: client `id` polls at
    /// `(id mod poll_slots) · interval / poll_slots` past each multiple of the interval on the
    /// host's monotonic clock ([`crate::transport::poll::first_poll_ns`]), so N pollers' phases
    /// spread evenly over the interval instead of following when each happened to connect.
    pub poll_slots: u32,
    /// Local address to connect from (`None`: the kernel's choice). Spreading thousands of
    /// clients over several loopback addresses keeps ephemeral ports from running out.
    pub local_ip: Option<IpAddr>,
    /// The WebTransport client's QUIC keep-alive interval (`None`: no keep-alive PINGs).
    pub quic_keep_alive: Option<Duration>,
    /// Open the HTTP transports' upstream connection (`POST /up`) only when the first frame is
    /// sent, as a browser does, instead of at connect (a listen-only client then holds one
    /// connection).
    pub lazy_up: bool,
    /// WebRTC: the STUN/TURN servers and ICE policy (None: host candidates only).
    pub ice: Option<crate::transport::rtc::ice::IceConfig>,
    /// WebRTC: how the client opens its data channel (DCEP by default; the fast paths skip
    /// round trips, see [`RtcChannelMode`]).
    pub rtc_channel: RtcChannelMode,
    /// WebRTC: whether the offer goes over a fresh HTTPS connection or one opened before the
    /// timed setup.
    pub rtc_signalling: RtcSignalling,
}

impl Target {
    /// A target for `client_id` at `addr` with the defaults: no local address, the
    /// WebTransport keep-alive of [`WEBTRANSPORT_KEEP_ALIVE`], eager upstream.
    pub fn new(
        addr: SocketAddr,
        tls: bool,
        cert_sha256: Option<[u8; 32]>,
        client_id: u32,
        poll_interval: Duration,
    ) -> Self {
        Self {
            addr,
            tls,
            cert_sha256,
            client_id,
            poll_interval,
            poll_slots: 1,
            local_ip: None,
            quic_keep_alive: Some(WEBTRANSPORT_KEEP_ALIVE),
            lazy_up: false,
            ice: None,
            rtc_channel: RtcChannelMode::Dcep,
            rtc_signalling: RtcSignalling::Fresh,
        }
    }
}

/// How long connection setup took, in total and by phase where the transport exposes phases.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// From the first packet to a connection ready for frames both ways.
    pub total: Duration,
    /// Named phases (`tcp`, `tls`, `upgrade`, `ice`, `dtls`, `channel`, ...) with how long
    /// each took (durations, not timestamps), in order.
    pub phases: Vec<(&'static str, Duration)>,
    /// WebRTC: the path of the selected ICE candidate pair, as the stack reports it (see
    /// [`crate::transport::rtc::ice::ice_path`]); None for the other transports.
    pub ice_path: Option<String>,
}

/// Sends frames to the server.
#[async_trait]
pub trait FrameSink: Send {
    /// Sends one whole frame; waits while the transport pushes back.
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError>;
    /// Closes the sending side cleanly.
    async fn close(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// Receives frames from the server.
#[async_trait]
pub trait FrameStream: Send {
    /// The next whole frame; `Ok(None)` when the server closed the stream cleanly.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError>;
    /// Messages the transport dropped because they were not frames (e.g. WebSocket text).
    fn dropped(&self) -> u64 {
        0
    }
    /// When the stream's connection was first lost (monotonic ns), for transports that
    /// reconnect by themselves underneath (SSE, as EventSource does); `None` if it never was.
    fn lost_at_ns(&self) -> Option<u64> {
        None
    }
    /// Reopens the downstream after its connection was lost or went silent, continuing where
    /// it left off, for transports that can (SSE: `Last-Event-ID`; long-poll and poll: their
    /// cursor). `Ok(false)`: this transport cannot resume in place; the caller opens a new
    /// connection instead (frames sent to the old one are lost).
    async fn resume(&mut self) -> Result<bool, TransportError> {
        Ok(false)
    }
}

/// An open connection: both halves, independently usable, plus setup timing.
pub struct Connection {
    /// Sending half.
    pub sink: Box<dyn FrameSink>,
    /// Receiving half.
    pub stream: Box<dyn FrameStream>,
    /// How long setup took.
    pub setup: Setup,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

/// What a transport promises, so checks and workloads know what to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarantees {
    /// Every frame arrives (or the connection fails).
    pub reliable: bool,
    /// Frames arrive in the order sent.
    pub ordered: bool,
}

/// The client half of one transport.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Stable id (`tcp`, `websocket`, ...).
    fn id(&self) -> &'static str;
    /// Implementation name, where a transport has several.
    fn implementation(&self) -> Option<&'static str> {
        None
    }
    /// Delivery guarantees.
    fn guarantees(&self) -> Guarantees {
        Guarantees {
            reliable: true,
            ordered: true,
        }
    }
    /// Opens a connection for `target.client_id`.
    async fn connect(&self, target: &Target) -> Result<Connection, TransportError>;
    /// Whether the relay workload's peers talk directly (WebRTC), not through the server.
    fn peer_to_peer(&self) -> bool {
        false
    }
    /// Opens `target.client_id`'s path to `peer` for the relay workload; `sender` is the side
    /// that sends (and, peer to peer, offers). By default the ordinary connection to the
    /// server, which forwards the sender's data frames to the peer (paired by the
    /// orchestrator); peer-to-peer transports signal through the server and connect directly.
    async fn connect_relay(
        &self,
        target: &Target,
        peer: u32,
        sender: bool,
    ) -> Result<Connection, TransportError> {
        let _ = (peer, sender);
        self.connect(target).await
    }
}

#[cfg(test)]
mod tests {
    use super::TransportError;

    /// An error whose text hides its cause, as hyper's "connection error" does.
    #[derive(Debug, thiserror::Error)]
    #[error("connection error")]
    struct Opaque(#[source] std::io::Error);

    /// An error that already says its cause.
    #[derive(Debug, thiserror::Error)]
    #[error("read failed: {0}")]
    struct Says(#[source] std::io::Error);

    #[test]
    fn protocol_errors_name_every_cause_once() {
        let reset = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = TransportError::protocol("/poll?after=3", &Opaque(reset()));
        assert_eq!(
            e.to_string(),
            "protocol: /poll?after=3: connection error: reset by peer"
        );
        let e = TransportError::protocol("reading body", &Says(reset()));
        assert_eq!(
            e.to_string(),
            "protocol: reading body: read failed: reset by peer"
        );
    }
}
