//! Cross-cutting (`faq-hol`): head-of-line blocking under loss.

use crate::model::{Outcome, Verdict};

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// Cross-cutting: head-of-line blocking

pub(super) fn hol(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "hol-blocking",
        "hol",
        "Under packet loss, ordered reliable delivery over TCP suffers head-of-line blocking: \
         its tail latency rises above that of unordered delivery (QUIC datagrams, unordered \
         data channels).",
        "faq-hol, `echo` under each lossy profile: RTT p99 of WebSocket vs the best unordered \
         transport. Confirmed: WebSocket clearly higher at the highest loss and not clearly \
         lower at any; refuted: clearly lower at some loss; else inconclusive. The QUIC stream \
         (webtransport), reliable data channel and raw TCP are shown as context.",
    );
    v.caveats.push(
        "unordered transports drop what is lost: their latency counts only echoes that came \
         back (see their lost counts)"
            .into(),
    );
    let figs = ctx.figs(HOL, "echo", &|_| true, P99);
    let mut levels: Vec<(f64, String)> = Vec::new();
    for f in &figs {
        let loss = f.loss.unwrap_or(0.0);
        if loss > 0.0 && !levels.iter().any(|l| l.1 == f.profile) {
            levels.push((loss, f.profile.clone()));
        }
    }
    levels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for (loss, p) in &levels {
        let here: Vec<&Fig> = figs.iter().filter(|f| &f.profile == p).collect();
        push_evidence(&mut v, &here);
        let ws = here
            .iter()
            .copied()
            .find(|f| f.transport == "websocket" && f.median().is_some());
        let un = best(
            here.iter()
                .copied()
                .filter(|f| crate::UNRELIABLE_TRANSPORTS.contains(&f.transport.as_str())),
        );
        let (Some(ws), Some(un)) = (ws, un) else {
            parts.push(Part::Missing);
            lines.push(format!(
                "{p}: websocket or unordered cells missing or failed"
            ));
            continue;
        };
        match versus(ws, un) {
            Ok((c, line)) => {
                parts.push(match c.diff {
                    Diff::Lower => Part::Refutes,
                    Diff::Higher => Part::Confirms,
                    Diff::Same => Part::Noise,
                });
                lines.push(format!("loss {:.0} %: {line}", loss * 100.0));
            }
            Err(e) => {
                parts.push(Part::Missing);
                lines.push(e);
            }
        }
    }
    // Any reversal refutes; otherwise the highest loss level decides.
    v.verdict = if parts.contains(&Part::Refutes) {
        Outcome::Refuted
    } else if parts.last() == Some(&Part::Confirms) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    };
    v.decided_by = if lines.is_empty() {
        "no lossy echo cells in faq-hol".into()
    } else {
        lines.join("; ")
    };
    vec![v]
}
