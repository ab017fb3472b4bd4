//! `webrtc` (reliable, ordered data channel) and `webrtc-unreliable` (unordered,
//! maxRetransmits = 0), each with two implementations behind the same transport: `str0m`
//! (sans-IO, one tokio task per peer) and `webrtc-rs` (crate `webrtc`, classic 0.17 line).
//!
//! Signalling is WHIP-style over the server's HTTPS port, without trickle: the client gathers
//! its candidates, `POST /rtc/offer?client=<id>&impl=<server impl>` with the complete offer,
//! and gets `201 Created` with the complete answer and `Location: /rtc/session/<sid>`. The client
//! opens one in-band (DCEP) channel, which the server accepts whatever its options; or, on the
//! setup fast paths, asks (`&channel=negotiated|snap`) for a pre-negotiated one both create.
//!
//! For the relay workload two clients connect to each other instead (peer to peer): the sender
//! offers through `POST /rtc/relay/offer?client=A&peer=B`, the receiver takes the offer from
//! `GET /rtc/relay/offer?client=B` and answers with `POST /rtc/relay/session/<sid>?client=B`.
//!
//! Layout: [`shared`] (what both engines use), [`signal`] (client-side signalling), [`events`]
//! (the engine-neutral face of a server-side peer); the engines are `rtc_str0m` and
//! `rtc_webrtcrs`; this module picks one, for a client ([`WebRtcTransport`]) or a server peer
//! ([`accept`]). The engines depend on the three submodules, never on this one or each other.

pub mod events;
pub mod ice;
pub mod shared;
pub mod signal;

use std::net::IpAddr;

use async_trait::async_trait;
use tokio::sync::oneshot;

pub use events::ServerPeer;
pub use shared::{
    check_size, local_ip_for, local_ip_towards, max_frame, size_skip_reason, ChannelOpts,
    Negotiated, RtcImpl, CHANNEL_LABEL, MAX_BUFFERED, MAX_MESSAGE, OPEN_TIMEOUT,
    WEBRTC_RS_MAX_MESSAGE,
};
pub use signal::{relay_answer, relay_take_offer, signal, Signal, RELAY_OFFER_WAIT};

use super::api::{Connection, Guarantees, Target, Transport, TransportError};
use super::{rtc_str0m, rtc_webrtcrs};
use crate::network::{RtcChannelMode, RtcSignalling};

/// The implementations, default first.
pub const IMPLEMENTATIONS: &[&str] = &["str0m", "webrtc-rs"];

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
            channel: target.rtc_channel,
            signalling: target.rtc_signalling,
        };
        let to = Signal::Server(self.server);
        match self.client {
            RtcImpl::Str0m => rtc_str0m::connect(target, opts, to).await,
            RtcImpl::WebrtcRs => rtc_webrtcrs::connect(target, opts, to).await,
        }
    }

    fn peer_to_peer(&self) -> bool {
        true
    }

    /// The sender offers to `peer` through the server; the receiver takes the offer and
    /// answers; then they talk directly. Both run this transport's client stack, with an
    /// in-band channel over fresh signalling (the fast paths are for client–server peers).
    async fn connect_relay(
        &self,
        target: &Target,
        peer: u32,
        sender: bool,
    ) -> Result<Connection, TransportError> {
        let opts = ChannelOpts {
            reliable: self.reliable,
            channel: RtcChannelMode::Dcep,
            signalling: RtcSignalling::Fresh,
        };
        match (self.client, sender) {
            (RtcImpl::Str0m, true) => rtc_str0m::connect(target, opts, Signal::Peer(peer)).await,
            (RtcImpl::WebrtcRs, true) => {
                rtc_webrtcrs::connect(target, opts, Signal::Peer(peer)).await
            }
            (RtcImpl::Str0m, false) => rtc_str0m::accept_peer(target).await,
            (RtcImpl::WebrtcRs, false) => rtc_webrtcrs::accept_peer(target).await,
        }
    }
}

/// Server side: answers a complete offer with a peer of stack `imp` whose host candidate is on
/// `local_ip`, creating the client's pre-negotiated channel if it asked for one. The peer runs
/// until the client closes, its connection is lost, or `close` fires (or is dropped);
/// `close`'s receiver is dropped when the peer ends.
pub async fn accept(
    imp: RtcImpl,
    offer_sdp: &str,
    local_ip: IpAddr,
    close: oneshot::Receiver<()>,
    negotiated: Option<Negotiated>,
) -> Result<ServerPeer, TransportError> {
    match imp {
        RtcImpl::Str0m => rtc_str0m::accept(offer_sdp, local_ip, close, negotiated).await,
        RtcImpl::WebrtcRs => rtc_webrtcrs::accept(offer_sdp, local_ip, close, negotiated).await,
    }
}
