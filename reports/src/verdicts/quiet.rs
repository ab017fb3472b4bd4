//! FAQ 3: quiet notifications (`faq-quiet`): SSE against polling, and SSE's cost as clients grow.

use crate::model::Verdict;

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// FAQ 3: quiet notifications

const SSE_ORIGIN_LIMIT: &str = "browsers open at most 6 HTTP/1.1 connections per origin, and \
    every SSE stream holds one: a seventh tab (or EventSource) of the same site waits. HTTP/2 \
    lifts the limit (to the server's stream limit, 100 here); this bench's Rust clients are not \
    subject to it: the browser lane's origin-limit workload measures it (docs/faq.md)";

/// The idle workload with the most clients: its name and clients.
pub(super) fn largest_idle(ctx: &Ctx<'_>) -> Option<(String, f64)> {
    ctx.names(QUIET, "idle")
        .into_iter()
        .filter_map(|n| {
            let c = ctx
                .figs(QUIET, "idle", &|x| x == n, P50)
                .iter()
                .find_map(|f| f.clients)?;
            Some((n, c))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Compares transport `a` against `b` on every profile of `figs`, pushing the evidence and one
/// part per profile: `confirm_when` is the [`Diff`] of `a` against `b` that agrees with the
/// claim, its opposite refutes, noise is noise. `tag` prefixes each line.
#[allow(clippy::too_many_arguments)]
pub(super) fn a_vs_b(
    v: &mut Verdict,
    figs: &[Fig],
    a: &str,
    b: &str,
    confirm_when: Diff,
    tag: &str,
    parts: &mut Vec<Part>,
    lines: &mut Vec<String>,
) {
    for p in profiles_of(figs) {
        let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
        push_evidence(v, &here);
        let fa = here.iter().find(|f| f.transport == a);
        let fb = here.iter().find(|f| f.transport == b);
        let (Some(fa), Some(fb)) = (fa, fb) else {
            parts.push(Part::Missing);
            lines.push(format!("{tag}/{p}: {a} or {b} cells missing"));
            continue;
        };
        match versus(fa, fb) {
            Ok((c, line)) => {
                parts.push(match c.diff {
                    Diff::Same => Part::Noise(Some(c.p())),
                    d if d == confirm_when => Part::Confirms(Some(c.p())),
                    _ => Part::Refutes(Some(c.p())),
                });
                lines.push(format!("{tag}: {line}"));
            }
            Err(e) => {
                parts.push(Part::Missing);
                lines.push(format!("{tag}: {e}"));
            }
        }
    }
}

pub(super) fn quiet_sse_vs_poll(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "quiet-sse-vs-poll",
        "3",
        "Notifications that stay quiet for a long time: SSE delivers them sooner than polling \
         and costs fewer bytes while nothing happens.",
        "faq-quiet, the `idle` workload with the most connections, per profile: SSE vs poll on \
         notification latency p50 and on wire bytes per connection-hour. Confirmed: SSE clearly \
         lower on both; refuted: clearly higher on either; else inconclusive. WebSocket shown \
         as context.",
    );
    v.caveats.push(SSE_ORIGIN_LIMIT.into());
    let Some((name, clients)) = largest_idle(ctx) else {
        return vec![finish(v, &[], vec![], "no idle cells in faq-quiet")];
    };
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for m in [P50, WIRE_BYTES_PER_CONN_HOUR] {
        let figs = ctx.figs(QUIET, "idle", &|n| n == name, m);
        let tag = format!("{} ({clients:.0} connections)", m.id);
        a_vs_b(
            &mut v,
            &figs,
            "sse",
            "poll",
            Diff::Lower,
            &tag,
            &mut parts,
            &mut lines,
        );
    }
    vec![finish(v, &parts, lines, "no idle cells in faq-quiet")]
}

pub(super) fn quiet_sse_scaling(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "quiet-sse-scaling",
        "3",
        "… but beware of scaling the number of SSE clients: each holds a connection and server \
         state, which polling does not.",
        "faq-quiet, the `idle` workload with the most connections, per profile: server memory \
         per held connection (RSS growth from none to all connected), SSE vs poll. Confirmed: \
         SSE clearly higher; refuted: clearly lower; else inconclusive. SSE at every idle size \
         shown, to see the growth.",
    );
    v.caveats.push(SSE_ORIGIN_LIMIT.into());
    let Some((name, clients)) = largest_idle(ctx) else {
        return vec![finish(v, &[], vec![], "no idle cells in faq-quiet")];
    };
    let all = ctx.figs(QUIET, "idle", &|_| true, SERVER_BYTES_PER_CONN);
    let sse_sizes: Vec<&Fig> = all.iter().filter(|f| f.transport == "sse").collect();
    push_evidence(&mut v, &sse_sizes);
    let figs = ctx.figs(QUIET, "idle", &|n| n == name, SERVER_BYTES_PER_CONN);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    let tag = format!("{clients:.0} connections");
    a_vs_b(
        &mut v,
        &figs,
        "sse",
        "poll",
        Diff::Higher,
        &tag,
        &mut parts,
        &mut lines,
    );
    vec![finish(v, &parts, lines, "no idle cells in faq-quiet")]
}
