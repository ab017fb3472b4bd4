//! FAQ 1 as deployed (`faq-nat`): peers behind NATs, a real TURN relay (coturn) where direct
//! connectivity fails, against WebSocket through the server.

use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

/// The ICE paths the WebRTC cells of `fig` reported (`params.ice_path`, every ok repeat).
fn ice_paths(ctx: &Ctx<'_>, fig: &Fig) -> Vec<String> {
    ctx.keys
        .iter()
        .filter(|k| k.cell_name() == fig.cell)
        .flat_map(|k| k.ok.iter())
        .filter_map(|c| c.params.get("ice_path")?.as_str().map(str::to_string))
        .collect()
}

/// Each WebRTC implementation's relay figure of workload `name` (every stack measured, none
/// picked as the best afterwards), with WebSocket's through the server (`server-reference`),
/// per profile.
fn pairs(ctx: &Ctx<'_>, name: &str, caveats: &mut Vec<String>) -> Vec<(Option<Fig>, Option<Fig>)> {
    let rtc = ctx.figs(NAT, "relay", &|n| n == name, P50);
    let ws = ctx.figs(NAT, "relay", &|n| n == "server-reference", P50);
    profiles_of(&rtc)
        .into_iter()
        .flat_map(|p| {
            let ws = ws
                .iter()
                .find(|f| f.profile == p && f.transport == "websocket")
                .cloned();
            let here = run_here(
                rtc.iter()
                    .filter(|f| f.profile == p && f.transport == "webrtc"),
                caveats,
            );
            if here.is_empty() {
                return vec![(None, ws)];
            }
            here.into_iter()
                .map(|f| (Some(f.clone()), ws.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether every path in `paths` passes `ok` (and there is one): else the line says which
/// paths were taken.
fn paths_are(paths: &[String], ok: impl Fn(&str) -> bool, want: &str) -> Result<(), String> {
    if !paths.is_empty() && paths.iter().all(|p| ok(p)) {
        Ok(())
    } else {
        Err(format!("ICE took {paths:?}, not {want}"))
    }
}

pub(super) fn peer_nat_direct(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-nat-direct",
        "1",
        "Behind common home NATs (endpoint-independent mapping) WebRTC still connects peer to \
         peer and keeps a clearly lower relay latency than WebSocket through the server.",
        "faq-nat, workload `nat-direct` (both peers behind endpoint-independent NATs, STUN from \
         coturn) vs `server-reference`, relay one-way p50 per profile: every WebRTC \
         implementation measured, each its own comparison, vs WebSocket. Confirmed: every repeat's ICE path direct (host, srflx or \
         prflx, read from the stack) and WebRTC clearly lower; refuted: a relayed path, or \
         WebRTC clearly higher; else inconclusive.",
    );
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for (rtc, ws) in pairs(ctx, "nat-direct", &mut v.caveats) {
        let (Some(rtc), Some(ws)) = (rtc, ws) else {
            parts.push(Part::Missing);
            lines.push("webrtc or websocket relay cells missing or failed".into());
            continue;
        };
        push_evidence(&mut v, &[&rtc, &ws]);
        let paths = ice_paths(ctx, &rtc);
        if let Err(why) = paths_are(&paths, |p| !p.starts_with("relay"), "a direct path") {
            parts.push(if paths.is_empty() {
                Part::Missing
            } else {
                Part::Refutes(None)
            });
            lines.push(format!("{}: {why}", rtc.cell));
            continue;
        }
        lower_confirms(&rtc, &ws, &mut parts, &mut lines);
    }
    vec![finish(v, &parts, lines, "no relay cells in faq-nat")]
}

pub(super) fn peer_turn_cost(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-turn-cost",
        "1",
        "Behind symmetric NATs WebRTC must relay through TURN, and where the relay sits decides \
         whether it still beats the server: TURN beside the server costs what the server path \
         costs (both cross the server's link twice), TURN near the peers keeps WebRTC's \
         peer-to-peer latency.",
        &format!(
            "faq-nat, relay one-way p50 per profile, every WebRTC implementation measured (each \
             its own comparison) vs WebSocket through the server (`server-reference`): `turn-server` (TURN beside the \
             server) not clearly lower than WebSocket (ratio at least {:.2}), and `turn-near` \
             (TURN near the peers) clearly lower; both with every repeat's ICE path relayed. \
             Confirmed: both hold; refuted: turn-server clearly lower, or turn-near not clearly \
             lower beyond noise; a path not relayed leaves it inconclusive.",
            1.0 - MARGIN
        ),
    );
    v.caveats.push(
        "webrtc-rs reaches TURN over UDP only (TURN over TCP and TLS are skipped), and waits \
         about 2 s before nominating a relayed pair: a relayed setup takes that much longer"
            .into(),
    );
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for (name, near) in [("turn-server", false), ("turn-near", true)] {
        for (rtc, ws) in pairs(ctx, name, &mut v.caveats) {
            let (Some(rtc), Some(ws)) = (rtc, ws) else {
                parts.push(Part::Missing);
                lines.push(format!(
                    "{name}: webrtc or websocket relay cells missing or failed"
                ));
                continue;
            };
            push_evidence(&mut v, &[&rtc, &ws]);
            let paths = ice_paths(ctx, &rtc);
            if let Err(why) = paths_are(&paths, |p| p.starts_with("relay"), "a relay") {
                parts.push(Part::Missing);
                lines.push(format!("{}: {why}", rtc.cell));
                continue;
            }
            match versus(&rtc, &ws) {
                Ok((c, line)) => {
                    parts.push(match (near, c.diff) {
                        (true, Diff::Lower) => Part::Confirms(Some(c.p())),
                        (true, Diff::Higher) => Part::Refutes(Some(c.p())),
                        (true, Diff::Same) => Part::Noise(Some(c.p())),
                        (false, Diff::Lower) => Part::Refutes(Some(c.p())),
                        (false, _) if c.ratio >= 1.0 - MARGIN => Part::Confirms(None),
                        (false, _) => Part::Noise(Some(c.p())),
                    });
                    lines.push(format!("{name}: {line}"));
                }
                Err(e) => {
                    parts.push(Part::Missing);
                    lines.push(format!("{name}: {e}"));
                }
            }
        }
    }
    vec![finish(v, &parts, lines, "no relay cells in faq-nat")]
}
