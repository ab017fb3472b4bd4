//! FAQ 4: refreshing data for many clients (`faq-refresh`): polling.

use crate::format::fmt_us;
use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// FAQ 4: mass refresh

/// FAQ 4's verdict: polling's staleness, and its server memory and CPU against SSE and
/// WebSocket, per profile.
pub(super) fn refresh_poll(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = refresh_verdict();
    let stale = ctx.figs(REFRESH, "push", &|_| true, P99);
    let mem = ctx.figs(REFRESH, "push", &|_| true, SERVER_BYTES_PER_CLIENT);
    let cpu = ctx.figs(REFRESH, "push", &|_| true, SERVER_CPU_MS_PER_CLIENT_MIN);
    let bytes = ctx.figs(REFRESH, "push", &|_| true, WIRE_BYTES_PER_CLIENT_MIN);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&stale) {
        for figs in [&stale, &mem, &cpu, &bytes] {
            let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
            push_evidence(&mut v, &here);
        }
        let Some(poll_stale) = pick(&stale, &p, "poll").filter(|f| f.median().is_some()) else {
            parts.push(Part::Missing);
            lines.push(format!("{p}: poll cells missing or failed"));
            continue;
        };
        staleness(&mut parts, &mut lines, &p, &poll_stale);
        for rival in ["sse", "websocket"] {
            for (figs, must_be_lower) in [(&mem, true), (&cpu, false)] {
                poll_vs(&mut parts, &mut lines, &p, figs, rival, must_be_lower);
            }
        }
    }
    vec![finish(v, &parts, lines, "no push cells in faq-refresh")]
}

/// The undecided verdict: claim, rule and the caveats that always hold.
fn refresh_verdict() -> Verdict {
    let mut v = new_verdict(
        "refresh-poll",
        "4",
        "Refreshing data for a huge number of clients: polling.",
        "faq-refresh (`push` to many clients that want data at most 5 s stale; poll asks every \
         `poll_interval_ms`), per profile: poll vs SSE and WebSocket. Confirmed: poll's \
         staleness p99 ≤ 5 s, its server memory per client clearly lower than both and its \
         server CPU per client-minute not clearly higher than either; refuted: staleness p99 \
         over 5 s, memory clearly higher than either, or CPU clearly higher than either; else \
         inconclusive. Wire bytes per client-minute shown as context.",
    );
    v.caveats.push(
        "polling's practical strengths — cacheable responses (CDN), stateless servers, no \
         connection limits at proxies — are not modelled here"
            .into(),
    );
    v.caveats.push(
        "server CPU is counted between marks at the start and end of the measured window, so \
         the connection ramp (TLS handshakes) before it is left out; results without the marks \
         fall back to whole-process CPU over the measured minutes"
            .into(),
    );
    v
}

/// The figure of transport `t` on profile `p`.
fn pick(figs: &[Fig], p: &str, t: &str) -> Option<Fig> {
    figs.iter()
        .find(|f| f.profile == p && f.transport == t)
        .cloned()
}

/// Poll's staleness p99 against the 5 s bound (over it refutes).
fn staleness(parts: &mut Vec<Part>, lines: &mut Vec<String>, p: &str, poll_stale: &Fig) {
    let clients = poll_stale
        .clients
        .map_or(String::new(), |c| format!(" ({c:.0} clients)"));
    let s = poll_stale.median().unwrap_or(f64::INFINITY);
    if s > STALENESS_BOUND_US {
        parts.push(Part::Refutes(None));
        lines.push(format!(
            "{p}{clients}: poll staleness p99 {} exceeds 5 s",
            fmt_us(s)
        ));
    } else {
        lines.push(format!(
            "{p}{clients}: poll staleness p99 {} ≤ 5 s",
            fmt_us(s)
        ));
    }
}

/// Poll against `rival` on one metric: clearly higher refutes, clearly lower confirms; the
/// same confirms unless poll must be lower (memory).
fn poll_vs(
    parts: &mut Vec<Part>,
    lines: &mut Vec<String>,
    p: &str,
    figs: &[Fig],
    rival: &str,
    must_be_lower: bool,
) {
    let (Some(a), Some(b)) = (pick(figs, p, "poll"), pick(figs, p, rival)) else {
        parts.push(Part::Missing);
        lines.push(format!("{p}: poll or {rival} cells missing"));
        return;
    };
    match versus(&a, &b) {
        Ok((c, line)) => {
            let p = Some(c.p());
            parts.push(match (c.diff, must_be_lower) {
                (Diff::Higher, _) => Part::Refutes(p),
                (Diff::Lower, _) => Part::Confirms(p),
                (Diff::Same, true) => Part::Noise(p),
                // "Not higher" is what this part claims: no test to correct.
                (Diff::Same, false) => Part::Confirms(None),
            });
            lines.push(format!("{}: {line}", a.metric.id));
        }
        Err(e) => {
            parts.push(Part::Missing);
            lines.push(e);
        }
    }
}
