//! FAQ 1: peer messaging and media-like traffic (`faq-peer`): WebRTC against a relay.

use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// FAQ 1: peer messaging

pub(super) fn peer_relay(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-relay-latency",
        "1",
        "Real-time messaging between peers without a central source of truth: WebRTC (direct, \
         peer to peer) delivers sooner than relaying through a server when the peers are closer \
         to each other than to the server.",
        "relay one-way p50 (faq-peer, workload `relay`), per profile: every WebRTC \
         implementation measured (each data channel stack its own comparison, none picked as \
         the best afterwards) vs WebSocket through the server. Confirmed: every one clearly \
         lower on every profile; refuted: any clearly higher; else (within noise, or a stack \
         without figures) inconclusive.",
    );
    let figs = ctx.figs(PEER, "relay", &|n| n == "relay", P50);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&figs) {
        let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
        let rtcs = run_here(
            here.iter().copied().filter(|f| f.transport == "webrtc"),
            &mut v.caveats,
        );
        let ws = here.iter().copied().find(|f| f.transport == "websocket");
        push_evidence(&mut v, &here);
        let Some(ws) = ws.filter(|_| !rtcs.is_empty()) else {
            parts.push(Part::Missing);
            lines.push(format!(
                "{p}: webrtc or websocket relay cells missing or failed"
            ));
            continue;
        };
        for rtc in rtcs {
            lower_confirms(rtc, ws, &mut parts, &mut lines);
        }
        if let Some(other) = best(
            here.iter()
                .copied()
                .filter(|f| !f.transport.starts_with("webrtc") && f.transport != "websocket"),
        ) {
            if other.median() < ws.median() {
                v.caveats.push(format!(
                    "{p}: the fastest server-relayed transport was {}, not WebSocket",
                    other.show()
                ));
            }
        }
    }
    vec![finish(v, &parts, lines, "no relay cells in faq-peer")]
}

pub(super) fn peer_media(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-media-unreliable",
        "1",
        "Media-like traffic (30 fps × 1 KiB frames, 2 % loss, a frame later than 150 ms counts \
         as lost): unreliable delivery misses fewer frames than reliable delivery.",
        "fraction of frames sent that did not arrive within 150 ms (faq-peer, workload `media`), \
         per profile and implementation: webrtc-unreliable vs webrtc, and \
         webtransport-datagram vs webtransport. Confirmed: the unreliable one clearly lower in \
         every pair; refuted: clearly higher in any; else inconclusive.",
    );
    v.caveats.push(
        "a frame lost and one later than 150 ms count the same (the figure is over every \
         frame sent)"
            .into(),
    );
    let figs = ctx.figs(PEER, "relay", &|n| n == "media", MISSED_150MS);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&figs) {
        let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
        push_evidence(&mut v, &here);
        for (unrel, rel) in [
            ("webrtc-unreliable", "webrtc"),
            ("webtransport-datagram", "webtransport"),
        ] {
            for u in here.iter().filter(|f| f.transport == unrel) {
                let Some(r) = here
                    .iter()
                    .find(|f| f.transport == rel && f.implementation == u.implementation)
                else {
                    continue;
                };
                lower_confirms(u, r, &mut parts, &mut lines);
            }
        }
    }
    vec![finish(
        v,
        &parts,
        lines,
        "no reliable/unreliable pairs of `media` cells in faq-peer",
    )]
}
