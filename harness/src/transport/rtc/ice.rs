//! What a WebRTC client is told about ICE (the STUN/TURN servers it may use and its transport
//! policy), as the orchestrator sends it in the client agents' job and to the browser pages,
//! and what a client reports back: the path its selected candidate pair took
//! ([`pair_path`]: `host`, `srflx`, `prflx`, `relay/<transport>`), read from the stack's own
//! state, never assumed from the configuration.

use serde::{Deserialize, Serialize};

/// One ICE server, as `RTCIceServer`: its URLs and long-term credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:HOST:PORT`, `turn:HOST:PORT?transport=udp|tcp`, `turns:HOST:PORT?transport=tcp`.
    pub urls: Vec<String>,
    /// The TURN user name (empty for STUN).
    #[serde(default)]
    pub username: String,
    /// The TURN password (empty for STUN).
    #[serde(default)]
    pub credential: String,
}

/// A client's ICE configuration, as `RTCConfiguration`'s `iceServers` and `iceTransportPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceConfig {
    /// The STUN and TURN servers.
    pub servers: Vec<IceServer>,
    /// `iceTransportPolicy: "relay"`: relayed candidates only.
    #[serde(default)]
    pub relay_only: bool,
}

/// The path of a selected candidate pair, from its local candidate's type (`host`, `srflx`,
/// `prflx`, `relay`) and, for a relayed one, how it reaches the TURN server (`udp`, `tcp`,
/// `tls`): `relay/udp`. A relayed candidate whose TURN transport is unknown is `relay`.
pub fn ice_path(candidate_type: &str, relay_protocol: Option<&str>) -> String {
    match (candidate_type, relay_protocol) {
        ("relay", Some(p)) if !p.is_empty() => format!("relay/{p}"),
        (t, _) => t.to_string(),
    }
}

/// The path of a selected candidate pair from both its candidates' types: the less direct of
/// the two (relay, then srflx, prflx, host), so both ends of one pair say the same — a host
/// candidate paired with the peer's server-reflexive one crosses the peer's NAT. A relayed
/// local candidate names its TURN transport (`local_relay_protocol`); a relayed remote one's
/// is not known here (`relay`).
pub fn pair_path(local: &str, local_relay_protocol: Option<&str>, remote: &str) -> String {
    let rank = |t: &str| match t {
        "relay" => 3,
        "srflx" => 2,
        "prflx" => 1,
        _ => 0,
    };
    if local == "relay" {
        ice_path(local, local_relay_protocol)
    } else if rank(remote) > rank(local) {
        remote.to_string()
    } else {
        local.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relayed path names its TURN transport; the others are the candidate type alone.
    #[test]
    fn paths_name_the_relay_transport() {
        assert_eq!(ice_path("relay", Some("tcp")), "relay/tcp");
        assert_eq!(ice_path("relay", None), "relay");
        assert_eq!(ice_path("srflx", Some("udp")), "srflx");
        assert_eq!(ice_path("host", None), "host");
        assert_eq!(pair_path("host", None, "srflx"), "srflx");
        assert_eq!(pair_path("srflx", None, "prflx"), "srflx");
        assert_eq!(pair_path("relay", Some("udp"), "host"), "relay/udp");
        assert_eq!(pair_path("prflx", None, "relay"), "relay");
        assert_eq!(pair_path("host", None, "host"), "host");
    }
}
