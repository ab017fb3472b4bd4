//! The network's own pieces a scenario can put in a cell (issue 17), as values: the NAT in
//! front of every client host, where a real TURN server (coturn) runs and how clients reach it,
//! the WebRTC clients' ICE policy, and the WebRTC setup fast paths (issue 15). Their scenario keys are declared in
//! [`crate::workload::network`]; the runner's `turn` module starts coturn.

use serde::{Deserialize, Serialize};
use wirebench_netem::Nat;

/// A closed set of spellings, as a scenario gives them and results record them.
pub trait Choice: Copy + Default + PartialEq + 'static {
    /// Every value, the default first.
    const ALL: &'static [Self];
    /// The spellings, in [`Choice::ALL`]'s order (for [`Check::Choice`]).
    const NAMES: &'static [&'static str];

    /// The scenario's (and the results') spelling.
    fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .position(|v| *v == self)
            .and_then(|i| Self::NAMES.get(i))
            .copied()
            .unwrap_or("")
    }

    /// Parses a scenario's spelling.
    fn parse(s: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// Whether this is the default.
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Serde for the [`Choice`] enums: their spelling as a string.
macro_rules! choice_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t as Choice>::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "{s:?}: use one of {}",
                        <$t as Choice>::NAMES.join(", ")
                    ))
                })
            }
        }
    };
}

/// The NAT in front of every client host of a cell (scenario key `nat`): the link-emulation
/// crate's [`Nat`], spelt as it spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatKind(pub Nat);

impl Choice for NatKind {
    const ALL: &'static [Self] = &[
        Self(Nat::None),
        Self(Nat::EndpointIndependent),
        Self(Nat::Symmetric),
    ];
    const NAMES: &'static [&'static str] = &["none", "endpoint-independent", "symmetric"];
}
choice_serde!(NatKind);

/// Which candidates a WebRTC client may use (scenario key `ice`), as `iceTransportPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IcePolicy {
    /// Every candidate: host, server-reflexive, relayed (the default).
    #[default]
    All,
    /// Relayed candidates only: every packet goes through the TURN server.
    Relay,
}

impl Choice for IcePolicy {
    const ALL: &'static [Self] = &[Self::All, Self::Relay];
    const NAMES: &'static [&'static str] = &["all", "relay"];
}
choice_serde!(IcePolicy);

/// Where the cell's TURN server (coturn, also its STUN server) runs (scenario key `turn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TurnPlace {
    /// No STUN/TURN server: WebRTC clients gather host candidates only (the default).
    #[default]
    None,
    /// On the server's host, beside the server agent (the server's delay away from the peers).
    Server,
    /// On a host of its own near the peers: an extra client host without NAT whose access link
    /// has `turn_delay_ms` one way (unshaped when unset).
    NearPeers,
}

impl Choice for TurnPlace {
    const ALL: &'static [Self] = &[Self::None, Self::Server, Self::NearPeers];
    const NAMES: &'static [&'static str] = &["none", "server", "near-peers"];
}
choice_serde!(TurnPlace);

/// How clients reach the TURN server (scenario key `turn_transport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TurnTransport {
    /// UDP to port 3478 (the default).
    #[default]
    Udp,
    /// TCP to port 3478 (`?transport=tcp`).
    Tcp,
    /// TLS over TCP to port 5349 (`turns:`), with the run's certificate.
    Tls,
}

impl Choice for TurnTransport {
    const ALL: &'static [Self] = &[Self::Udp, Self::Tcp, Self::Tls];
    const NAMES: &'static [&'static str] = &["udp", "tcp", "tls"];
}
choice_serde!(TurnTransport);

/// How a WebRTC client opens its data channel (scenario key `rtc_channel`): the setup fast
/// paths, so a cell measures the protocol's floor rather than only asserting it (issue 15).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtcChannelMode {
    /// In-band: SCTP INIT/INIT-ACK and COOKIE-ECHO/ACK, then DCEP OPEN/ACK (what browsers do
    /// by default; the default).
    #[default]
    Dcep,
    /// Pre-negotiated channel (`negotiated: true`, stream id 0 on both peers): no DCEP round
    /// trip, the channel is open when the SCTP association is.
    Negotiated,
    /// Pre-negotiated, and the SCTP INIT chunks exchanged in the SDP (`a=sctp-init`,
    /// draft-hancke-tsvwg-snap): no SCTP handshake either. str0m on both ends only.
    Snap,
}

impl Choice for RtcChannelMode {
    const ALL: &'static [Self] = &[Self::Dcep, Self::Negotiated, Self::Snap];
    const NAMES: &'static [&'static str] = &["dcep", "negotiated", "snap"];
}
choice_serde!(RtcChannelMode);

/// How a WebRTC client reaches the server with its offer (scenario key `rtc_signalling`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtcSignalling {
    /// A fresh HTTPS connection per offer, inside the timed setup (the default).
    #[default]
    Fresh,
    /// An HTTPS connection opened before the timed setup starts, as on a page that already
    /// talks to its origin: setup counts from the offer's request.
    Reused,
}

impl Choice for RtcSignalling {
    const ALL: &'static [Self] = &[Self::Fresh, Self::Reused];
    const NAMES: &'static [&'static str] = &["fresh", "reused"];
}
choice_serde!(RtcSignalling);

/// Whether `transport` uses ICE (and so STUN/TURN): the WebRTC transports.
pub fn uses_ice(transport: &str) -> bool {
    transport.starts_with("webrtc")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling round-trips through parse and serde; unknown ones are refused.
    #[test]
    fn choices_round_trip() {
        for n in NatKind::NAMES {
            let k = NatKind::parse(n).unwrap_or_else(|| panic!("{n}"));
            assert_eq!(k.as_str(), *n);
            assert_eq!(k.0.name(), *n, "the netem crate spells it the same");
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(serde_json::from_str::<NatKind>(&json).ok(), Some(k));
        }
        assert_eq!(TurnPlace::parse("near-peers"), Some(TurnPlace::NearPeers));
        assert!(IcePolicy::parse("host").is_none());
        assert!(serde_json::from_str::<TurnTransport>("\"quic\"").is_err());
        assert_eq!(RtcChannelMode::parse("snap"), Some(RtcChannelMode::Snap));
        assert_eq!(RtcSignalling::parse("reused"), Some(RtcSignalling::Reused));
        assert!(RtcChannelMode::parse("sctp").is_none());
    }
}
