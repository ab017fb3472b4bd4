//! What the two WebRTC engines (`str0m`, `webrtc-rs`) share on either side: which stack runs
//! a peer, the channel's label and limits, the local address a peer binds, and how a client
//! turns the phases its peer reports into a [`Setup`]. Kept apart from [`super`] (the transport
//! that dispatches to the engines) so the engines depend on it without depending on each other.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::transport::api::{Setup, Target, TransportError};

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
        ice_path: None,
    }
}
