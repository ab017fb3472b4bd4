//! What sits between client and server: a reverse proxy in front of SSE (`faq-proxy`, FAQ 3)
//! and a congested uplink's queue discipline (`faq-load`, cross-cutting).

use crate::format::value_with_unit as fmt_value;
use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

/// The `faq-load` profile with drop-tail bottlenecks.
pub const LOAD_DROPTAIL: &str = "broadband";
/// The `faq-load` profile with FQ-CoDel bottlenecks (otherwise the same link).
pub const LOAD_FQ_CODEL: &str = "broadband-fq_codel";

/// One proxied figure against the direct one, per profile: clearly higher refutes "keeps its
/// latency"; a ratio within the noise margin (or lower) confirms it (not a test: an equivalence
/// bound); higher but not beyond noise is noise. A proxied cell that failed through the proxy
/// while the direct one has figures refutes too: the proxy held the stream (the failure says
/// how).
fn keeps_latency(
    v: &mut Verdict,
    direct: &[Fig],
    proxied: &[Fig],
    tag: &str,
    parts: &mut Vec<Part>,
    lines: &mut Vec<String>,
) {
    for p in profiles_of(proxied) {
        let (Some(d), Some(x)) = (
            direct.iter().find(|f| f.profile == p),
            proxied.iter().find(|f| f.profile == p),
        ) else {
            parts.push(Part::Missing);
            lines.push(format!(
                "{tag}/{p}: the direct or the proxied cell is missing"
            ));
            continue;
        };
        push_evidence(v, &[d, x]);
        if x.values.is_empty() && d.median().is_some() && x.why_none.contains("through nginx") {
            parts.push(Part::Refutes(None));
            lines.push(format!(
                "{tag}: through the proxy no figure, the stream was held ({}); direct {}",
                x.why_none,
                d.show()
            ));
            continue;
        }
        match versus(x, d) {
            Ok((c, line)) => {
                parts.push(match c.diff {
                    Diff::Higher => Part::Refutes(Some(c.p())),
                    _ if c.ratio <= 1.0 + MARGIN => Part::Confirms(None),
                    _ => Part::Noise(Some(c.p())),
                });
                lines.push(format!("{tag}: through the proxy {line}"));
            }
            Err(e) => {
                parts.push(Part::Missing);
                lines.push(format!("{tag}: {e}"));
            }
        }
    }
}

/// `quiet-sse-behind-proxy` (nginx-default) and `quiet-sse-behind-streaming-proxy`
/// (nginx-streaming): SSE's push and quiet-notification latency through the proxy against
/// direct.
pub(super) fn sse_behind_proxy(ctx: &Ctx<'_>) -> Vec<Verdict> {
    [
        (
            "quiet-sse-behind-proxy",
            "nginx-default",
            "expected refuted: nginx buffers proxied responses by default (proxy_buffering on), \
             so events wait in its buffers until they fill (a response's first bytes, headers \
             included, too: an EventSource may never open)",
        ),
        (
            "quiet-sse-behind-streaming-proxy",
            "nginx-streaming",
            "expected confirmed: with proxy_buffering off, HTTP/1.1 upstream and long read \
             timeouts, nginx forwards each event as it comes, for the cost of one more hop",
        ),
    ]
    .into_iter()
    .map(|(id, variant, why)| behind(ctx, id, variant, why))
    .collect()
}

fn behind(ctx: &Ctx<'_>, id: &str, variant: &str, expected: &str) -> Verdict {
    let mut v = new_verdict(
        id,
        "3",
        &format!(
            "SSE notifications keep their latency behind a reverse proxy configured as \
             {variant} ({expected})."
        ),
        &format!(
            "faq-proxy, per profile: SSE's push p50 and quiet-notification (idle) p50 through \
             {variant} vs direct. Refuted: clearly higher through the proxy (Mann–Whitney), or \
             no figure through it because the proxy held the stream; confirmed: within {:.0} % \
             of direct on both; else inconclusive.",
            MARGIN * 100.0
        ),
    );
    v.caveats.push(
        "docs/proxy.md shows both nginx configurations; SSE libraries that send \
         `X-Accel-Buffering: no` turn nginx's buffering off per response (wirebench's server \
         does not, to show the default)"
            .into(),
    );
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for workload in ["push", "idle"] {
        let sse = |name: String| {
            let figs = ctx.figs(PROXY, workload, &|n| n == name, P50);
            figs.into_iter()
                .filter(|f| f.transport == "sse")
                .collect::<Vec<_>>()
        };
        let direct = sse(format!("{workload}-direct"));
        let proxied = sse(format!("{workload}-{variant}"));
        let tag = format!("{workload} p50, sse");
        keeps_latency(&mut v, &direct, &proxied, &tag, &mut parts, &mut lines);
    }
    finish(v, &parts, lines, "no push or idle cells in faq-proxy")
}

/// `load-queue-dominates`: under a bulk upload on the same uplink, echo p99 drop-tail vs
/// FQ-CoDel per transport, and that spread against the spread between transports.
pub(super) fn load_queue_dominates(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "load-queue-dominates",
        "*",
        "Under a saturating upload on the same broadband uplink, interactive latency (echo \
         p99) depends more on the bottleneck's queue discipline than on the transport.",
        &format!(
            "faq-load, `echo-loaded` (a bulk TCP upload beside the echo), per transport: p99 on \
             {LOAD_DROPTAIL} (drop-tail) vs {LOAD_FQ_CODEL}; and the smallest such drop against \
             the largest p99 spread between the web transports (raw tcp left out) under either \
             discipline. Confirmed: drop-tail clearly higher for every transport and its \
             smallest excess above the transports' largest spread; refuted: drop-tail clearly \
             lower for some transport, or the spread between transports the larger; else \
             inconclusive."
        ),
    );
    let figs: Vec<Fig> = ctx
        .figs(LOAD, "echo", &|n| n == "echo-loaded", P99)
        .into_iter()
        .filter(|f| f.transport != "tcp")
        .collect();
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    let mut names: Vec<String> = figs.iter().map(|f| f.name.clone()).collect();
    names.dedup();
    names.sort();
    names.dedup();
    let mut queue_gaps = Vec::new();
    for n in &names {
        let of = |p: &str| figs.iter().find(|f| &f.name == n && f.profile == p);
        let (Some(tail), Some(fq)) = (of(LOAD_DROPTAIL), of(LOAD_FQ_CODEL)) else {
            parts.push(Part::Missing);
            lines.push(format!(
                "{n}: a {LOAD_DROPTAIL} or {LOAD_FQ_CODEL} cell is missing"
            ));
            continue;
        };
        push_evidence(&mut v, &[tail, fq]);
        lower_confirms(fq, tail, &mut parts, &mut lines);
        if let (Some(a), Some(b)) = (tail.median(), fq.median()) {
            queue_gaps.push(a - b);
        }
    }
    let spread = |p: &str| {
        let m: Vec<f64> = figs
            .iter()
            .filter(|f| f.profile == p)
            .filter_map(Fig::median)
            .collect();
        min_max(&m).map(|(lo, hi)| hi - lo)
    };
    let spreads: Vec<f64> = [LOAD_DROPTAIL, LOAD_FQ_CODEL]
        .into_iter()
        .filter_map(spread)
        .collect();
    match (
        min_max(&queue_gaps),
        min_max(&spreads),
        queue_gaps.len() == names.len() && names.len() > 1,
    ) {
        (Some((gap, _)), Some((_, widest)), true) => {
            parts.push(if gap > widest {
                Part::Confirms(None)
            } else {
                Part::Refutes(None)
            });
            lines.push(format!(
                "smallest drop-tail − FQ-CoDel p99 gap {} vs largest spread between transports {}",
                fmt_value(gap, P99.unit),
                fmt_value(widest, P99.unit)
            ));
        }
        _ => {
            parts.push(Part::Missing);
            lines
                .push("too few transports with figures on both profiles to compare spreads".into());
        }
    }
    vec![finish(v, &parts, lines, "no echo-loaded cells in faq-load")]
}
