//! What a browser page is told about ICE: the cell's [`IceConfig`] as the `RTCConfiguration`
//! the page passes to `RTCPeerConnection` (`iceServers` with the run's coturn credential,
//! `iceTransportPolicy`). The page reports the selected pair's path back in `ice_paths`, named
//! as the Rust clients name it ([`crate::transport::rtc::ice::pair_path`]).

use serde_json::{json, Value};

use crate::transport::rtc::ice::IceConfig;

/// `ice` as an `RTCConfiguration`: every server with its URLs (`stun:`, `turn:…?transport=`,
/// `turns:`) and, for TURN, its user name and credential; `iceTransportPolicy` `relay` for a
/// relay-only cell, else `all`.
pub fn rtc_configuration(ice: &IceConfig) -> Value {
    let servers: Vec<Value> = ice
        .servers
        .iter()
        .map(|s| {
            let mut v = json!({ "urls": s.urls });
            if !s.username.is_empty() {
                v["username"] = json!(s.username);
                v["credential"] = json!(s.credential);
            }
            v
        })
        .collect();
    json!({
        "iceServers": servers,
        "iceTransportPolicy": if ice.relay_only { "relay" } else { "all" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::rtc::ice::IceServer;

    /// STUN goes without a credential, TURN with it; the policy follows `relay_only`.
    #[test]
    fn configuration_as_the_page_takes_it() {
        let ice = IceConfig {
            servers: vec![
                IceServer {
                    urls: vec!["stun:10.0.0.1:3478".into()],
                    ..IceServer::default()
                },
                IceServer {
                    urls: vec!["turn:10.0.0.1:3478?transport=tcp".into()],
                    username: "u".into(),
                    credential: "p".into(),
                },
            ],
            relay_only: true,
        };
        assert_eq!(
            rtc_configuration(&ice),
            json!({
                "iceServers": [
                    {"urls": ["stun:10.0.0.1:3478"]},
                    {"urls": ["turn:10.0.0.1:3478?transport=tcp"], "username": "u", "credential": "p"},
                ],
                "iceTransportPolicy": "relay",
            })
        );
    }
}
