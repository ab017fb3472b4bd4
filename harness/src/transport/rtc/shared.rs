//! What the two WebRTC engines (`str0m`, `webrtc-rs`) share on either side: which stack runs
//! a peer, the channel's label and limits, the local address a peer binds, and how a client
//! turns the phases its peer reports into a [`Setup`]. Kept apart from [`super`] (the transport
//! that dispatches to the engines) so the engines depend on it without depending on each other.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::network::{RtcChannelMode, RtcSignalling};
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

/// Largest message a webrtc-rs peer receives: its channels are detached and read into a buffer
/// this large (`rtc_webrtcrs`), the SDP default `max-message-size` its SDP implies by leaving the
/// attribute out. (webrtc-rs 0.17's own read loop, not used, reads into `u16::MAX` bytes and
/// closes the channel on a 64 KiB message: `webrtc-0.17.2/src/data_channel/mod.rs:33`.)
pub const WEBRTC_RS_MAX_MESSAGE: usize = MAX_MESSAGE;

/// The largest frame a cell of `implementation` (`None`: the server's default, str0m) can
/// carry on a data channel.
pub fn max_frame(implementation: Option<&str>) -> usize {
    match implementation.and_then(RtcImpl::parse) {
        Some(RtcImpl::WebrtcRs) => WEBRTC_RS_MAX_MESSAGE,
        _ => MAX_MESSAGE,
    }
}

/// Why a data-channel cell of `implementation` cannot run with `size`-byte frames, if it
/// cannot: refused at plan time rather than failing after a wait.
pub fn size_skip_reason(implementation: Option<&str>, size: usize) -> Option<String> {
    let max = max_frame(implementation);
    (size > max).then(|| {
        format!(
            "a {size}-byte frame exceeds a data channel's max-message-size ({max} bytes, the SDP \
             default both stacks announce); frames are never split"
        )
    })
}

/// Most bytes a str0m sender hands SCTP ahead of its acknowledgements when the path's round
/// trip is `rtt`: two round trips at 1 Gbit/s, within [`MIN_WINDOW`] and [`MAX_BUFFERED`].
/// sctp-proto (0.10) walks every chunk in flight on each transmit (`get_data_packets_to_
/// retransmit`, `expire_inflight_messages`), so the bytes in flight cost CPU per packet: on
/// loopback 1 MiB in flight held str0m to ~90 Mbit/s where 64 KiB moves ~600; a long path still
/// gets the window its bandwidth-delay product needs.
pub fn send_window(rtt: Option<Duration>) -> usize {
    let bdp = rtt.map_or(0.0, |r| r.as_secs_f64() * 2.0 * WINDOW_RATE_BYTES_PER_S);
    (bdp as usize).clamp(MIN_WINDOW, MAX_BUFFERED)
}

/// The smallest str0m send window (also the one used before a round trip is known).
pub const MIN_WINDOW: usize = 64 * 1024;

/// The rate [`send_window`] sizes its window for, bytes/s (1 Gbit/s).
const WINDOW_RATE_BYTES_PER_S: f64 = 125e6;

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
    /// How the channel opens: in band (DCEP), or pre-negotiated (with SNAP or without).
    pub channel: RtcChannelMode,
    /// Whether the offer goes over a connection opened before the timed setup.
    pub signalling: RtcSignalling,
}

impl ChannelOpts {
    /// The pre-negotiated channel both peers create, when the channel is not opened in band.
    pub fn negotiated(&self) -> Option<Negotiated> {
        match self.channel {
            RtcChannelMode::Dcep => None,
            RtcChannelMode::Negotiated | RtcChannelMode::Snap => Some(Negotiated {
                snap: self.channel == RtcChannelMode::Snap,
                reliable: self.reliable,
            }),
        }
    }
}

/// A channel both peers create with the same stream id and options instead of opening it in
/// band (`negotiated: true`): the client asks the server for one with `channel=` on its offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// SCTP INIT chunks in the SDP as well (SNAP): the association needs no handshake.
    pub snap: bool,
    /// Reliable and ordered, or unordered with no retransmissions.
    pub reliable: bool,
}

/// The stream id of the pre-negotiated channel on both peers.
pub const NEGOTIATED_STREAM: u16 = 0;

impl Negotiated {
    /// The offer's query parameters that ask the server for this channel.
    pub fn query(&self) -> String {
        let mode = if self.snap { "snap" } else { "negotiated" };
        let unreliable = if self.reliable { "" } else { "&unreliable=1" };
        format!("&channel={mode}{unreliable}")
    }

    /// Parses the offer's `channel` and `unreliable` query values (`None`, `None`: in band);
    /// `Err` names the value refused.
    pub fn from_query(
        channel: Option<&str>,
        unreliable: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let reliable = match unreliable {
            None | Some("0") => true,
            Some("1") => false,
            Some(v) => return Err(format!("unreliable={v:?}: use 1 or 0")),
        };
        let snap = match channel {
            None | Some("dcep") if reliable => return Ok(None),
            None | Some("dcep") => {
                return Err(
                    "unreliable=1 applies to a negotiated channel only (an in-band \
                            channel carries its options in DCEP)"
                        .into(),
                )
            }
            Some("negotiated") => false,
            Some("snap") => true,
            Some(v) => return Err(format!("channel={v:?}: use dcep, negotiated or snap")),
        };
        Ok(Some(Self { snap, reliable }))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The offer's query round-trips the negotiated channel; bad values are refused.
    #[test]
    fn negotiated_channel_query_round_trips() {
        for snap in [false, true] {
            for reliable in [false, true] {
                let n = Negotiated { snap, reliable };
                let q = n.query();
                let get = |k: &str| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{k}=")[..]))
                        .map(str::to_string)
                };
                let parsed =
                    Negotiated::from_query(get("channel").as_deref(), get("unreliable").as_deref());
                assert_eq!(parsed, Ok(Some(n)), "{q}");
            }
        }
        assert_eq!(Negotiated::from_query(None, None), Ok(None));
        assert_eq!(Negotiated::from_query(Some("dcep"), Some("0")), Ok(None));
        assert!(Negotiated::from_query(Some("sctp"), None).is_err());
        assert!(Negotiated::from_query(None, Some("1")).is_err());
        assert!(Negotiated::from_query(Some("snap"), Some("yes")).is_err());
    }

    /// Each stack carries frames up to the SDP's 65,536 bytes (webrtc-rs too, its channels
    /// detached); anything larger is refused with the reason.
    #[test]
    fn frames_a_stack_cannot_carry_are_refused() {
        for imp in [Some("str0m"), None, Some("webrtc-rs")] {
            assert_eq!(size_skip_reason(imp, 65_536), None, "{imp:?}");
            let why = size_skip_reason(imp, 65_537).unwrap_or_default();
            assert!(
                why.contains("max-message-size (65536 bytes"),
                "{imp:?}: {why}"
            );
        }
    }

    /// The send window is two round trips at 1 Gbit/s, between 64 KiB and 1 MiB.
    #[test]
    fn the_send_window_follows_the_round_trip() {
        assert_eq!(send_window(None), MIN_WINDOW);
        assert_eq!(send_window(Some(Duration::from_micros(100))), MIN_WINDOW);
        assert_eq!(send_window(Some(Duration::from_millis(1))), 250_000);
        assert_eq!(send_window(Some(Duration::from_millis(30))), MAX_BUFFERED);
    }
}
