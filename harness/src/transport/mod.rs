//! The transport trait: one client half per transport id, used by every workload unchanged.
//!
//! A transport connects a client to a wirebench server (see `docs/protocol.md`) and hands back a
//! [`Connection`]: a [`FrameSink`] that sends whole frames (waiting when the transport pushes
//! back) and a [`FrameStream`] that yields whole frames as they arrive, plus how long setup took.
//! Workloads only see this; they never branch on the transport. The vocabulary is in [`api`];
//! this module is the registry of implementations by id.

use std::sync::Arc;

pub mod api;
pub mod http;
pub mod net;
pub mod poll;
pub mod rtc;
pub mod rtc_str0m;
pub mod rtc_webrtcrs;
pub mod sse;
pub mod tcp;
pub mod websocket;
pub mod webtransport;

pub use api::{
    Connection, FrameSink, FrameStream, Guarantees, Setup, Target, Transport, TransportError,
};

/// The most UDP payload a QUIC packet carries here: quinn's path-MTU discovery ceiling. A
/// WebTransport datagram holds less (QUIC and HTTP/3 framing; 1,400-byte frames were measured
/// to fit on loopback, 1,453 not), so a larger frame is refused at plan time.
pub const MAX_QUIC_UDP_PAYLOAD: usize = 1452;

/// Every transport id this build knows, in report order (one list, shared with the reports).
pub const ALL_IDS: &[&str] = wirebench_reports::TRANSPORT_IDS;

/// One-line description of a transport, for `wirebench list`.
pub fn describe(id: &str) -> &'static str {
    match id {
        "tcp" => "length-prefixed frames on raw TCP (port P+1): the floor for TCP-based transports",
        "websocket" => "RFC 6455 WebSocket (wss, GET /ws), one frame per binary message",
        "sse" => "Server-Sent Events down (GET /sse, Last-Event-ID resume), POST /up up",
        "long-poll" => "hanging GET /poll?after=N down, POST /up up",
        "poll" => "GET /poll?wait=0 on a fixed interval down, POST /up up",
        "webtransport" => {
            "HTTP/3 WebTransport session (/wt), length-prefixed frames on one bidirectional stream"
        }
        "webtransport-datagram" => {
            "HTTP/3 WebTransport session (/wt), one frame per datagram (unreliable)"
        }
        "webrtc" => {
            "SCTP data channel, reliable + ordered (str0m or webrtc-rs; WHIP-style /rtc/offer)"
        }
        "webrtc-unreliable" => {
            "SCTP data channel, unordered, maxRetransmits = 0 (str0m or webrtc-rs)"
        }
        _ => "",
    }
}

/// The client half for a transport id, or `None` for an unknown id.
pub fn by_id(id: &str) -> Option<Arc<dyn Transport>> {
    Some(match id {
        "tcp" => Arc::new(tcp::TcpTransport),
        "websocket" => Arc::new(websocket::WebSocketTransport),
        "sse" => Arc::new(sse::SseTransport),
        "long-poll" => Arc::new(poll::PollTransport { long: true }),
        "poll" => Arc::new(poll::PollTransport { long: false }),
        "webtransport" => Arc::new(webtransport::WebTransportTransport { datagram: false }),
        "webtransport-datagram" => Arc::new(webtransport::WebTransportTransport { datagram: true }),
        "webrtc" | "webrtc-unreliable" => return by_id_impl(id, None),
        _ => return None,
    })
}

/// Implementations a transport id can run with (`impl` in result cells), default first; empty
/// for transports with one implementation.
pub fn implementations(id: &str) -> &'static [&'static str] {
    match id {
        "webrtc" | "webrtc-unreliable" => rtc::IMPLEMENTATIONS,
        _ => &[],
    }
}

/// The client half for a transport id run with a named implementation (see
/// [`implementations`]); `None` for an unknown id or an implementation it does not have. The
/// server answers with the same implementation, so a cell measures one stack end to end.
pub fn by_id_impl(id: &str, implementation: Option<&str>) -> Option<Arc<dyn Transport>> {
    let reliable = match id {
        "webrtc" => true,
        "webrtc-unreliable" => false,
        _ if implementation.is_none() => return by_id(id),
        _ => return None,
    };
    let imp = match implementation {
        None => rtc::RtcImpl::Str0m,
        Some(name) => rtc::RtcImpl::parse(name)?,
    };
    Some(Arc::new(rtc::WebRtcTransport {
        reliable,
        client: imp,
        server: imp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reports' list of unreliable transports (ranking, verdicts) is what the transports
    /// themselves promise.
    #[test]
    fn reports_know_which_transports_are_unreliable() {
        for id in ALL_IDS {
            let t = by_id(id).unwrap_or_else(|| panic!("{id} has a transport"));
            assert_eq!(
                !t.guarantees().reliable,
                wirebench_reports::UNRELIABLE_TRANSPORTS.contains(id),
                "{id}"
            );
        }
    }
}
