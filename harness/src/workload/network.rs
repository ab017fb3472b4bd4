//! The network keys (issue 17): `nat`, `ice`, `turn`, `turn_transport`, `turn_delay_ms`, and
//! the WebRTC setup fast paths (issue 15): `rtc_channel`, `rtc_signalling`;
//! declared for the catalogue ([`PARAMS`]), checked together ([`cross_check`]) and kept in a
//! cell's params where they apply ([`trim_cell_params`]); which WebRTC cells cannot run with
//! them is said at plan time ([`skip_reason`]). Their values are
//! [`crate::network`]'s.

use super::params::{Check, ParamDecl, ParamType, ParamValue, Params};
use super::spec::WorkloadSpec;
use crate::network::{
    uses_ice, Choice, IcePolicy, NatKind, RtcChannelMode, RtcSignalling, TurnPlace, TurnTransport,
};

/// The network keys: NAT, TURN, ICE policy (every workload takes them; the ICE and TURN keys
/// apply to WebRTC cells only and are recorded on those).
pub const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        key: "nat",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("none")),
        check: Check::Choice(NatKind::NAMES),
        doc: "NAT in front of every client host (nftables in the namespaces, see docs/nat.md); needs a topology",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "ice",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("all")),
        check: Check::Choice(IcePolicy::NAMES),
        doc: "WebRTC clients' ICE transport policy: \"all\" candidates, or \"relay\" (TURN only; needs turn)",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "turn",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("none")),
        check: Check::Choice(TurnPlace::NAMES),
        doc: "where a real coturn (STUN + TURN for WebRTC cells) runs: \"none\", on the \"server\"'s host, or \"near-peers\" (a host of its own)",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "turn_transport",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("udp")),
        check: Check::Choice(TurnTransport::NAMES),
        doc: "how WebRTC clients reach the TURN server: \"udp\" or \"tcp\" (port 3478), \"tls\" (5349, the run's certificate)",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "turn_delay_ms",
        ty: ParamType::F64,
        default: None,
        check: Check::DelayMs,
        doc: "turn = \"near-peers\": one-way delay on the TURN host's access link; none = unshaped",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "rtc_channel",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("dcep")),
        check: Check::Choice(RtcChannelMode::NAMES),
        doc: "how WebRTC clients open their channel: \"dcep\" (in band), \"negotiated\" (no DCEP round trip), \"snap\" (negotiated, SCTP INIT in the SDP; str0m only); see docs/protocol.md",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "rtc_signalling",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("fresh")),
        check: Check::Choice(RtcSignalling::NAMES),
        doc: "WebRTC clients' offer: over a \"fresh\" HTTPS connection, or one \"reused\" (opened before the timed setup)",
        quick: false,
        only: None,
        refusal: None,
    },
];

/// The checks of the network keys together: (the key at fault, why). `ice = "relay"` needs a
/// TURN server; `turn_delay_ms` is the near-peers host's delay; a TURN transport other than UDP
/// needs a TURN server to reach.
pub fn cross_check(p: &Params) -> Option<(&'static str, String)> {
    if p.ice == IcePolicy::Relay && p.turn == TurnPlace::None {
        return Some((
            "ice",
            "ice = \"relay\" allows relayed candidates only, which need a TURN server: set turn \
             = \"server\" or \"near-peers\""
                .into(),
        ));
    }
    if p.turn_delay_ms.is_some() && p.turn != TurnPlace::NearPeers {
        return Some((
            "turn_delay_ms",
            format!(
                "turn_delay_ms is the delay of the TURN server's own host, which only turn = \
                 \"near-peers\" has (turn is {:?})",
                p.turn.as_str()
            ),
        ));
    }
    if !p.turn_transport.is_default() && p.turn == TurnPlace::None {
        return Some((
            "turn_transport",
            "turn_transport says how clients reach the TURN server, and there is none: set \
             turn = \"server\" or \"near-peers\""
                .into(),
        ));
    }
    None
}

/// Why a WebRTC cell cannot run with its NAT, ICE and TURN keys here, if it cannot: coturn
/// missing, str0m (no STUN/TURN of its own) asked to relay or to reach a peer behind a NAT,
/// webrtc-rs asked for TURN over TCP or TLS.
pub fn skip_reason(
    transport: &str,
    implementation: Option<&str>,
    browser: bool,
    spec: &WorkloadSpec,
    coturn: fn() -> bool,
) -> Option<String> {
    if !uses_ice(transport) {
        return None;
    }
    let p = spec.params();
    if p.turn != TurnPlace::None && !coturn() {
        return Some(format!(
            "turn = {:?} runs a real coturn, which is not installed here (apt-get install coturn)",
            p.turn.as_str()
        ));
    }
    let peers = matches!(spec, WorkloadSpec::Relay(_));
    if let Some(why) = fast_path_skip(implementation, browser, peers, p) {
        return Some(why);
    }
    match (browser, implementation) {
        (false, Some("str0m")) if p.ice == IcePolicy::Relay => Some(
            "str0m does no STUN or TURN itself (it leaves candidate gathering to the \
             application), so it has no relayed candidate for ice = \"relay\""
                .into(),
        ),
        (false, Some("str0m")) if peers && !p.nat.is_default() => Some(format!(
            "str0m does no STUN or TURN itself: behind {} NATs its peers offer only their \
             private host candidates, which cannot reach each other",
            p.nat.as_str()
        )),
        (false, Some("webrtc-rs"))
            if p.turn != TurnPlace::None && p.turn_transport != TurnTransport::Udp =>
        {
            Some(format!(
                "webrtc-rs 0.17's ICE agent allocates TURN over UDP only (its \
                 gather_candidates_relay leaves TCP and TLS as TODO), so turn_transport = {:?} \
                 cannot be measured with it",
                p.turn_transport.as_str()
            ))
        }
        _ => None,
    }
}

/// Why a WebRTC cell cannot take its setup fast path (`rtc_channel`, `rtc_signalling`): the
/// browser client opens in-band channels over fresh signalling only, peers of the relay
/// workload signal through the server's relay, and SNAP is str0m's alone.
fn fast_path_skip(
    implementation: Option<&str>,
    browser: bool,
    peers: bool,
    p: &Params,
) -> Option<String> {
    let fast = !p.rtc_channel.is_default() || !p.rtc_signalling.is_default();
    if fast && browser {
        return Some(format!(
            "the browser client opens an in-band channel over fresh signalling; rtc_channel = \
             {:?}, rtc_signalling = {:?} are for the Rust clients",
            p.rtc_channel.as_str(),
            p.rtc_signalling.as_str()
        ));
    }
    if fast && peers {
        return Some(
            "the setup fast paths (rtc_channel, rtc_signalling) are for client–server peers; \
             relay peers signal through the server's relay"
                .into(),
        );
    }
    if p.rtc_channel == RtcChannelMode::Snap && implementation != Some("str0m") {
        return Some(format!(
            "rtc_channel = \"snap\" exchanges SCTP INIT chunks in the SDP \
             (draft-hancke-tsvwg-snap), which str0m 0.24 does and {} does not",
            implementation.unwrap_or("this stack")
        ));
    }
    None
}

/// Keeps the network keys in a cell's `params` where they apply: `nat` on every cell behind
/// one; `ice`, `turn`, `turn_transport`, `turn_delay_ms` and the fast paths on WebRTC cells
/// only (coturn is
/// started for those alone), spelt out in full whenever there is a TURN server.
pub fn trim_cell_params(
    transport: &str,
    p: &Params,
    params: &mut serde_json::Map<String, serde_json::Value>,
) {
    const ICE_KEYS: [&str; 6] = [
        "ice",
        "turn",
        "turn_transport",
        "turn_delay_ms",
        "rtc_channel",
        "rtc_signalling",
    ];
    if !uses_ice(transport) {
        for k in ICE_KEYS {
            params.remove(k);
        }
        return;
    }
    if p.turn != TurnPlace::None {
        params.insert("ice".into(), p.ice.as_str().into());
        params.insert("turn_transport".into(), p.turn_transport.as_str().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::scenario::parse;

    fn profiles() -> Vec<String> {
        vec!["loopback".into()]
    }

    /// The keys that only make sense together are refused apart, naming the key at fault.
    #[test]
    fn cross_checks_name_the_key() {
        let mut p = Params {
            ice: IcePolicy::Relay,
            ..Params::default()
        };
        assert_eq!(cross_check(&p).map(|e| e.0), Some("ice"));
        p.turn = TurnPlace::Server;
        assert_eq!(cross_check(&p), None);
        p.turn_delay_ms = Some(2.0);
        assert_eq!(cross_check(&p).map(|e| e.0), Some("turn_delay_ms"));
        p.turn = TurnPlace::NearPeers;
        assert_eq!(cross_check(&p), None);
        let tcp_alone = Params {
            turn_transport: TurnTransport::Tcp,
            ..Params::default()
        };
        assert_eq!(cross_check(&tcp_alone).map(|e| e.0), Some("turn_transport"));
    }

    /// A scenario's network keys parse into the cell's params; a bad value and a lone
    /// `ice = "relay"` are refused with file, line and key.
    #[test]
    fn scenario_keys_parse_and_are_located() {
        let ok = "[defaults]\nnat = \"symmetric\"\n[[workload]]\nkind = \"relay\"\n\
                  turn = \"near-peers\"\nturn_delay_ms = 2.5\nice = \"relay\"\n\
                  turn_transport = \"tcp\"\n";
        let s = parse(ok, "n.toml", &profiles()).unwrap_or_else(|e| panic!("{e}"));
        let p = s.workloads[0].spec.params();
        assert_eq!(p.nat.0, wirebench_netem::Nat::Symmetric);
        assert_eq!(
            (p.turn, p.ice, p.turn_transport, p.turn_delay_ms),
            (
                TurnPlace::NearPeers,
                IcePolicy::Relay,
                TurnTransport::Tcp,
                Some(2.5)
            )
        );

        let bad = "[[workload]]\nkind = \"echo\"\nnat = \"full-cone\"\n";
        let e = parse(bad, "n.toml", &profiles()).map(|_| ()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "workload[1].nat"), "{e}");
        assert!(
            e.msg.contains("\"full-cone\"") && e.msg.contains("\"endpoint-independent\""),
            "{e}"
        );

        let lone = "[[workload]]\nkind = \"connect\"\n\nice = \"relay\"\n";
        let e = parse(lone, "n.toml", &profiles()).map(|_| ()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "workload[1].ice"), "{e}");
        assert!(e.msg.contains("need a TURN server"), "{e}");
    }

    /// The fast paths run on the Rust clients' client–server peers; SNAP on str0m only.
    #[test]
    fn fast_paths_are_skipped_where_they_cannot_run() {
        let p = |channel, signalling| Params {
            rtc_channel: channel,
            rtc_signalling: signalling,
            ..Params::default()
        };
        let none = || false;
        let (snap, fresh) = (RtcChannelMode::Snap, RtcSignalling::Fresh);
        let connect = WorkloadSpec::Connect(p(snap, fresh));
        assert_eq!(
            skip_reason("webrtc", Some("str0m"), false, &connect, none),
            None
        );
        let rs = skip_reason("webrtc", Some("webrtc-rs"), false, &connect, none);
        assert!(rs.is_some_and(|w| w.contains("SNAP") || w.contains("snap")));
        let negotiated =
            WorkloadSpec::Connect(p(RtcChannelMode::Negotiated, RtcSignalling::Reused));
        assert_eq!(
            skip_reason("webrtc", Some("webrtc-rs"), false, &negotiated, none),
            None
        );
        assert!(skip_reason("webrtc", None, true, &negotiated, none).is_some());
        let relay = WorkloadSpec::Relay(p(RtcChannelMode::Negotiated, fresh));
        assert!(skip_reason("webrtc", Some("str0m"), false, &relay, none).is_some());
        assert_eq!(skip_reason("websocket", None, false, &connect, none), None);
    }

    /// The ICE keys stay on WebRTC cells only; with a TURN server they are spelt out.
    #[test]
    fn cell_params_keep_the_keys_where_they_apply() {
        let p = Params {
            nat: NatKind(wirebench_netem::Nat::Symmetric),
            turn: TurnPlace::Server,
            ..Params::default()
        };
        let full = || match serde_json::to_value(&p) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let mut ws = full();
        trim_cell_params("websocket", &p, &mut ws);
        assert_eq!(ws.get("nat").and_then(|v| v.as_str()), Some("symmetric"));
        assert!(
            !ws.contains_key("turn") && !ws.contains_key("ice"),
            "{ws:?}"
        );
        let mut rtc = full();
        trim_cell_params("webrtc", &p, &mut rtc);
        for (k, v) in [
            ("turn", "server"),
            ("ice", "all"),
            ("turn_transport", "udp"),
        ] {
            assert_eq!(rtc.get(k).and_then(|v| v.as_str()), Some(v), "{k}: {rtc:?}");
        }
    }
}
