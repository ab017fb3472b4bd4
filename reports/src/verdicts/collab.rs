//! FAQ 2: collaboration with a central source of truth (`faq-collab`): WebSockets with few clients.

use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// FAQ 2: collaboration

/// Server-authority transports of the FAQ, WebSocket's rivals in the collab rule.
const FAQ_RIVALS: &[&str] = &["sse", "long-poll", "poll", "webrtc"];

/// FAQ 2's verdict: WebSocket against its server-authority rivals on every collab workload.
pub(super) fn collab(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "collab-websocket",
        "2",
        "Real-time collaboration with a central source of truth and few clients: WebSockets.",
        "collab op → delivered-to-all p50 (faq-collab, every `collab` workload: 2, 5, 10 \
         clients), per workload and profile: WebSocket vs SSE, long-poll, poll and WebRTC to \
         the server. Confirmed: no rival clearly lower anywhere, at least one rival clearly \
         higher in each (the check can tell them apart), and no order violations over \
         WebSocket; refuted: a rival clearly lower somewhere, or order violations over \
         WebSocket; else inconclusive. WebTransport and raw TCP (not in the FAQ) are shown \
         as context.",
    );
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for name in ctx.names(COLLAB, "collab") {
        let figs = ctx.figs(COLLAB, "collab", &|n| n == name, P50);
        let order = ctx.figs(COLLAB, "collab", &|n| n == name, ORDER_VIOLATIONS);
        for p in profiles_of(&figs) {
            let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
            let (part, line) = collab_profile(&mut v, &name, &p, &here, &order);
            parts.extend(part);
            lines.extend(line);
        }
    }
    vec![finish(v, &parts, lines, "no collab cells in faq-collab")]
}

/// One workload and profile: WebSocket's order violations and its p50 against each rival,
/// as the parts and lines of the verdict.
fn collab_profile(
    v: &mut Verdict,
    name: &str,
    p: &str,
    here: &[&Fig],
    order: &[Fig],
) -> (Vec<Part>, Vec<String>) {
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    push_evidence(v, here);
    let clients = here
        .iter()
        .find_map(|f| f.clients)
        .map_or(String::new(), |c| format!(" ({c:.0} clients)"));
    let Some(ws) = here
        .iter()
        .copied()
        .find(|f| f.transport == "websocket" && f.median().is_some())
    else {
        parts.push(Part::Missing);
        lines.push(format!("{name}/{p}: websocket cells missing or failed"));
        return (parts, lines);
    };
    if let Some(o) = order
        .iter()
        .find(|f| f.profile == p && f.transport == "websocket")
    {
        push_evidence(v, &[o]);
        if o.values.iter().any(|x| *x > 0.0) {
            parts.push(Part::Refutes(None));
            lines.push(format!("{name}/{p}: order violations over websocket"));
        }
    }
    let (part, sub) = versus_rivals(v, name, p, ws, here);
    parts.push(part);
    lines.push(format!("{name}{clients}: {}", sub.join(", ")));
    for ctx_t in ["webtransport", "tcp"] {
        if let Some(f) = here.iter().find(|f| f.transport == ctx_t) {
            if f.median() < ws.median() {
                v.caveats.push(format!(
                    "{name}/{p}: {} (not an FAQ option) was faster than websocket",
                    f.show()
                ));
            }
        }
    }
    (parts, lines)
}

/// WebSocket against each FAQ rival: the part (a rival clearly lower refutes, one clearly
/// higher confirms) and the comparison lines.
fn versus_rivals(
    v: &mut Verdict,
    name: &str,
    p: &str,
    ws: &Fig,
    here: &[&Fig],
) -> (Part, Vec<String>) {
    // p of the strongest comparison each way (Holm then corrects the verdict's family).
    let mut ws_higher: Option<f64> = None;
    let mut ws_lower: Option<f64> = None;
    let mut tested: Option<f64> = None;
    let mut sub = Vec::new();
    for rival in here
        .iter()
        .copied()
        .filter(|f| FAQ_RIVALS.contains(&f.transport.as_str()))
    {
        match versus(ws, rival) {
            Ok((c, line)) => {
                let p = c.p();
                let min = |x: Option<f64>| Some(x.map_or(p, |x| x.min(p)));
                match c.diff {
                    Diff::Lower => ws_lower = min(ws_lower),
                    Diff::Higher => ws_higher = min(ws_higher),
                    Diff::Same => tested = min(tested),
                }
                sub.push(line);
            }
            Err(e) => v.caveats.push(format!("{name}/{p}: {e}")),
        }
    }
    let part = if ws_higher.is_some() {
        Part::Refutes(ws_higher)
    } else if ws_lower.is_some() {
        Part::Confirms(ws_lower)
    } else if sub.is_empty() {
        Part::Missing
    } else {
        Part::Noise(tested)
    };
    (part, sub)
}
