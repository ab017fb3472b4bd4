//! `webrtc` (reliable, ordered data channel) and `webrtc-unreliable` (unordered,
//! maxRetransmits = 0), each with two implementations behind the same transport: `str0m`
//! (sans-IO, one tokio task per peer) and `webrtc-rs` (crate `webrtc`, classic 0.17 line).
//!
//! Signalling is WHIP-style over the server's HTTPS port, without trickle: the client gathers
//! its candidates, `POST /rtc/offer?client=<id>&impl=<server impl>` with the complete offer,
//! and gets `201 Created` with the complete answer and `Location: /rtc/session/<sid>`. The client
//! opens one in-band (DCEP) channel; the server accepts any.
//!
//! For the relay workload two clients connect to each other instead (peer to peer): the sender
//! offers through `POST /rtc/relay/offer?client=A&peer=B`, the receiver takes the offer from
//! `GET /rtc/relay/offer?client=B` and answers with `POST /rtc/relay/session/<sid>?client=B`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use hyper::Method;

use super::http::{read_body, HttpConn};
use super::{Connection, Guarantees, Setup, Target, Transport, TransportError};

/// The implementations, default first.
pub const IMPLEMENTATIONS: &[&str] = &["str0m", "webrtc-rs"];

/// Label of the channel the client opens.
pub const CHANNEL_LABEL: &str = "wirebench";

/// How long a client waits for its channel to open after signalling.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest frame a data channel carries: the SDP default `max-message-size` (64 KiB, RFC 8841),
/// which both stacks use. Larger frames are refused by the sender with
/// [`TransportError::TooLarge`] (and dropped and counted as `rtc_frame_too_large` by the
/// server), never split.
pub const MAX_MESSAGE: usize = 65_536;

/// Refuses a frame over [`MAX_MESSAGE`].
pub fn check_size(frame: &[u8]) -> Result<(), TransportError> {
    if frame.len() > MAX_MESSAGE {
        return Err(TransportError::TooLarge {
            size: frame.len(),
            max: MAX_MESSAGE,
        });
    }
    Ok(())
}

/// Bytes a data channel may hold unacknowledged before a sender waits (backpressure).
pub const MAX_BUFFERED: usize = 1 << 20;

/// Which WebRTC stack runs a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcImpl {
    /// str0m, sans-IO.
    Str0m,
    /// webrtc-rs 0.17.
    WebrtcRs,
}

impl RtcImpl {
    /// Parses an implementation name (`str0m`, `webrtc-rs`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "str0m" => Some(Self::Str0m),
            "webrtc-rs" => Some(Self::WebrtcRs),
            _ => None,
        }
    }

    /// The name recorded in result cells as `impl`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Str0m => "str0m",
            Self::WebrtcRs => "webrtc-rs",
        }
    }
}

/// A data-channel transport: client implementation, and the implementation the server should
/// answer with (by default the same, so a cell measures one stack end to end; interop tests
/// mix them).
#[derive(Debug, Clone, Copy)]
pub struct WebRtcTransport {
    /// `webrtc` (reliable, ordered) or `webrtc-unreliable`.
    pub reliable: bool,
    /// The client's stack.
    pub client: RtcImpl,
    /// The server's stack.
    pub server: RtcImpl,
}

/// Data channel options for one side.
#[derive(Debug, Clone, Copy)]
pub struct ChannelOpts {
    /// Reliable and ordered, or unordered with no retransmissions.
    pub reliable: bool,
}

/// The local address a peer for `target` binds: [`Target::local_ip`] when set, else
/// [`local_ip_towards`] the server.
pub fn local_ip_for(target: &Target) -> Result<IpAddr, TransportError> {
    match target.local_ip {
        Some(ip) => Ok(ip),
        None => local_ip_towards(target.addr),
    }
}

/// The local address to use towards `target`: for loopback the target's own address, otherwise
/// the address the kernel would route from (a connected UDP socket sends nothing).
pub fn local_ip_towards(target: SocketAddr) -> Result<IpAddr, TransportError> {
    if target.ip().is_loopback() {
        return Ok(target.ip());
    }
    let any: SocketAddr = if target.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(any).map_err(|e| TransportError::io("route probe", e))?;
    s.connect(target)
        .map_err(|e| TransportError::io(format!("no route to {target}"), e))?;
    Ok(s.local_addr()
        .map_err(|e| TransportError::io("route probe", e))?
        .ip())
}

/// Where a peer's offer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// To the server, which answers as a peer with this stack (`/rtc/offer`).
    Server(RtcImpl),
    /// Through the server to this client, which answers (`/rtc/relay/offer`, peer to peer).
    Peer(u32),
}

/// One signalling request carrying an SDP body (or none): (status, `Location`, body as text).
async fn sdp_request(
    conn: &mut HttpConn,
    method: Method,
    path: &str,
    sdp: Option<String>,
) -> Result<(hyper::StatusCode, String, String), TransportError> {
    let headers: &[(&str, &str)] = if sdp.is_some() {
        &[("content-type", "application/sdp")]
    } else {
        &[]
    };
    let resp = conn
        .request(
            method,
            path,
            headers,
            sdp.map(Bytes::from).unwrap_or_default(),
        )
        .await?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = read_body(resp).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| TransportError::Protocol(format!("{path}: the body is not UTF-8")))?;
    Ok((status, location, text))
}

/// Posts a complete offer and returns (answer SDP, session path).
pub async fn signal(
    target: &Target,
    offer: String,
    to: Signal,
) -> Result<(String, String), TransportError> {
    let mut conn = HttpConn::open(target, &mut Setup::default()).await?;
    let path = match to {
        Signal::Server(server) => format!(
            "/rtc/offer?client={}&impl={}",
            target.client_id,
            server.name()
        ),
        Signal::Peer(peer) => format!("/rtc/relay/offer?client={}&peer={peer}", target.client_id),
    };
    let (status, location, text) = sdp_request(&mut conn, Method::POST, &path, Some(offer)).await?;
    if status != hyper::StatusCode::CREATED {
        return Err(TransportError::Protocol(format!(
            "POST {path}: {status}: {}",
            text.trim()
        )));
    }
    Ok((text, location))
}

/// How long a relay answerer waits for its peer's offer.
pub const RELAY_OFFER_WAIT: Duration = Duration::from_secs(30);

/// Relay answerer: waits for an offer addressed to `target.client_id` (long-polling
/// `GET /rtc/relay/offer`, at most [`RELAY_OFFER_WAIT`]); returns (offer SDP, session path).
pub async fn relay_take_offer(target: &Target) -> Result<(String, String), TransportError> {
    let mut conn = HttpConn::open(target, &mut Setup::default()).await?;
    let path = format!("/rtc/relay/offer?client={}", target.client_id);
    let give_up = Instant::now() + RELAY_OFFER_WAIT;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout(format!(
                "no relay offer for client {} within {} s",
                target.client_id,
                RELAY_OFFER_WAIT.as_secs()
            )));
        }
        let (status, location, text) =
            tokio::time::timeout(left, sdp_request(&mut conn, Method::GET, &path, None))
                .await
                .map_err(|_| TransportError::Timeout(format!("GET {path}")))??;
        match status {
            hyper::StatusCode::NO_CONTENT => continue,
            hyper::StatusCode::OK if location.starts_with("/rtc/relay/session/") => {
                return Ok((text, location))
            }
            _ => {
                return Err(TransportError::Protocol(format!(
                    "GET {path}: {status}: {}",
                    text.trim()
                )))
            }
        }
    }
}

/// Relay answerer: hands the complete answer for `session` (a `Location` from
/// [`relay_take_offer`]) to the waiting offerer.
pub async fn relay_answer(
    target: &Target,
    session: &str,
    answer: String,
) -> Result<(), TransportError> {
    let mut conn = HttpConn::open(target, &mut Setup::default()).await?;
    let path = format!("{session}?client={}", target.client_id);
    let (status, _, text) = sdp_request(&mut conn, Method::POST, &path, Some(answer)).await?;
    if status != hyper::StatusCode::NO_CONTENT {
        return Err(TransportError::Protocol(format!(
            "POST {path}: {status}: {}",
            text.trim()
        )));
    }
    Ok(())
}

/// Phase timestamps reported by a peer while it connects.
pub(crate) type PhaseTx = tokio::sync::mpsc::UnboundedSender<(&'static str, Instant)>;

/// Turns collected phase instants into a [`Setup`].
pub(crate) fn setup_from(
    t0: Instant,
    signalled: Instant,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(&'static str, Instant)>,
) -> Setup {
    // Phases are durations (like the TCP transports' `tcp`, `tls`, `upgrade`): each runs from
    // the end of the previous one to the instant the peer reported it done.
    let mut marks: Vec<(&'static str, Instant)> = vec![("signalling", signalled)];
    while let Ok((name, at)) = rx.try_recv() {
        if !marks.iter().any(|(n, _)| *n == name) {
            marks.push((name, at));
        }
    }
    marks.sort_by_key(|(_, at)| *at);
    let mut prev = t0;
    let mut phases = Vec::with_capacity(marks.len());
    for (name, at) in marks {
        phases.push((name, at.saturating_duration_since(prev)));
        prev = prev.max(at);
    }
    Setup {
        total: t0.elapsed(),
        phases,
    }
}

#[async_trait]
impl Transport for WebRtcTransport {
    fn id(&self) -> &'static str {
        if self.reliable {
            "webrtc"
        } else {
            "webrtc-unreliable"
        }
    }

    fn implementation(&self) -> Option<&'static str> {
        Some(self.client.name())
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees {
            reliable: self.reliable,
            ordered: self.reliable,
        }
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let opts = ChannelOpts {
            reliable: self.reliable,
        };
        let to = Signal::Server(self.server);
        match self.client {
            RtcImpl::Str0m => super::rtc_str0m::connect(target, opts, to).await,
            RtcImpl::WebrtcRs => super::rtc_webrtcrs::connect(target, opts, to).await,
        }
    }

    fn peer_to_peer(&self) -> bool {
        true
    }

    /// The sender offers to `peer` through the server; the receiver takes the offer and
    /// answers; then they talk directly. Both run this transport's client stack.
    async fn connect_relay(
        &self,
        target: &Target,
        peer: u32,
        sender: bool,
    ) -> Result<Connection, TransportError> {
        let opts = ChannelOpts {
            reliable: self.reliable,
        };
        match (self.client, sender) {
            (RtcImpl::Str0m, true) => {
                super::rtc_str0m::connect(target, opts, Signal::Peer(peer)).await
            }
            (RtcImpl::WebrtcRs, true) => {
                super::rtc_webrtcrs::connect(target, opts, Signal::Peer(peer)).await
            }
            (RtcImpl::Str0m, false) => super::rtc_str0m::accept_peer(target).await,
            (RtcImpl::WebrtcRs, false) => super::rtc_webrtcrs::accept_peer(target).await,
        }
    }
}
