//! Cross-cutting (`faq-hol`): head-of-line blocking under loss.
//!
//! Like with like: WebSocket and one unordered candidate named before the run
//! ([`HOL_CANDIDATE`]), judged on the same figure over every echo sent — the fraction that did
//! not come back within 3 × the profile's RTT, a lost echo counting as missed
//! ([`crate::metrics::MISSED_3RTT`]). Percentiles over delivered echoes only would flatter
//! the transport that drops what is late; the loss-aware p99 is shown beside, as context.

use crate::model::{Outcome, Verdict};

use super::metrics::*;
use super::rule::*;
use crate::metrics::{DEADLINE_RTTS, MISSED_3RTT};

/// The unordered transport `hol-blocking` compares WebSocket with, named before the run:
/// WebTransport datagrams are the unordered delivery a browser opens to a server (the FAQ's
/// client–server setting), over one QUIC connection like the WebTransport stream measured
/// beside them, with one implementation. The unordered data channel (`webrtc-unreliable`)
/// needs a WebRTC stack on the server and comes in two implementations; it is context.
pub const HOL_CANDIDATE: &str = "webtransport-datagram";

const CLAIM: &str = "Under packet loss, ordered reliable delivery over TCP suffers head-of-line \
     blocking: a lost segment holds every later message, so more of WebSocket's messages miss \
     a real-time deadline than with unordered delivery. The unordered candidate, named before \
     the run: WebTransport datagrams (webtransport-datagram), the unordered delivery a browser \
     opens to a server, over one QUIC connection, one implementation.";

const RULE: &str = "faq-hol, `echo` at 200/s under each lossy profile: the fraction of echoes \
     sent that did not come back within 3 × the profile's RTT (60 ms on loss-1/3/5; a lost \
     echo counts as missed), WebSocket vs webtransport-datagram. Confirmed: WebSocket's \
     fraction clearly higher at the highest loss and not clearly lower at any; refuted: \
     clearly lower at some loss; else inconclusive. The loss-aware RTT p99 of both is shown \
     beside (– when more than 1 % of the echoes were lost); raw TCP, the WebTransport stream \
     and the reliable and unordered data channels are context only.";

// ---------------------------------------------------------------------------------------------
// Cross-cutting: head-of-line blocking

pub(super) fn hol(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict("hol-blocking", "hol", CLAIM, RULE);
    v.caveats.push(format!(
        "a lost echo and one back later than {DEADLINE_RTTS:.0} RTT count the same; the \
         deadline is the application's choice, and another can order the two differently"
    ));
    v.caveats.push(format!(
        "{HOL_CANDIDATE} was named before the run; the other transports are context, never \
         picked as the best afterwards"
    ));
    let figs = ctx.figs(HOL, "echo", &|_| true, MISSED_3RTT);
    let p99s = ctx.figs(HOL, "echo", &|_| true, P99);
    let levels = loss_levels(&figs);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for (loss, p) in &levels {
        let here: Vec<&Fig> = figs.iter().filter(|f| &f.profile == p).collect();
        push_evidence(&mut v, &here);
        let pick = |all: &[Fig], t: &str| {
            all.iter()
                .find(|f| &f.profile == p && f.transport == t && f.name == t)
                .cloned()
        };
        let (ws, cand) = (pick(&figs, "websocket"), pick(&figs, HOL_CANDIDATE));
        let (Some(ws), Some(cand)) = (ws, cand) else {
            parts.push(Part::Missing);
            lines.push(format!("{p}: websocket or {HOL_CANDIDATE} cells missing"));
            continue;
        };
        let p99_context: Vec<&Fig> = p99s
            .iter()
            .filter(|f| &f.profile == p && (f.name == ws.name || f.name == cand.name))
            .collect();
        push_evidence(&mut v, &p99_context);
        let context = p99_context
            .iter()
            .map(|f| p99_text(ctx, f))
            .collect::<Vec<_>>()
            .join(", ");
        match versus(&ws, &cand) {
            Ok((c, line)) => {
                parts.push(Part::of(&c, Part::Refutes, Part::Confirms));
                lines.push(format!(
                    "loss {:.0} %: missed at {DEADLINE_RTTS:.0} RTT: {line}; loss-aware p99: {context}",
                    loss * 100.0
                ));
            }
            Err(e) => {
                parts.push(Part::Missing);
                lines.push(format!("loss {:.0} %: not judged: {e}", loss * 100.0));
            }
        }
    }
    if let Some((_, p)) = levels.last() {
        lines.extend(context_line(&figs, p));
    }
    // After Holm's correction over the loss levels: any reversal refutes; otherwise the
    // highest loss level decides.
    let (parts, holm_note) = holm(&parts);
    v.verdict = if parts.iter().any(Part::refutes) {
        Outcome::Refuted
    } else if parts.last().is_some_and(Part::confirms) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    };
    v.decided_by = if lines.is_empty() {
        "no lossy echo cells in faq-hol".into()
    } else {
        lines.join("; ")
    };
    if let Some(note) = holm_note {
        v.decided_by = format!("{}; {note}", v.decided_by);
    }
    vec![v]
}

/// The lossy profiles of the figures, by mean loss, lowest first.
fn loss_levels(figs: &[Fig]) -> Vec<(f64, String)> {
    let mut levels: Vec<(f64, String)> = Vec::new();
    for f in figs {
        let loss = f.loss.unwrap_or(0.0);
        if loss > 0.0 && !levels.iter().any(|l| l.1 == f.profile) {
            levels.push((loss, f.profile.clone()));
        }
    }
    levels.sort_by(|a, b| a.0.total_cmp(&b.0));
    levels
}

/// A p99 figure as context: its median, or `–` with why it is null (lost echoes or too few).
fn p99_text(ctx: &Ctx<'_>, f: &Fig) -> String {
    if f.median().is_some() {
        return f.show();
    }
    let gap = ctx
        .keys
        .iter()
        .find(|k| k.scenario == HOL && k.profile == f.profile && k.transport_name() == f.name)
        .and_then(|k| k.gap(P99));
    match gap {
        Some(g) => format!("{} – ({g})", f.name),
        None => f.show(),
    }
}

/// The other transports' missed fractions at the highest loss, as context.
fn context_line(figs: &[Fig], p: &str) -> Option<String> {
    let others: Vec<String> = figs
        .iter()
        .filter(|f| f.profile == p && f.name != "websocket" && f.name != HOL_CANDIDATE)
        .map(Fig::show)
        .collect();
    (!others.is_empty()).then(|| format!("context on {p} (not deciding): {}", others.join(", ")))
}

#[cfg(test)]
mod tests {
    //! The candidate drops 5 % of its echoes, so its loss-aware p99 is null and the fraction
    //! missed at 3 RTT decides; a better unordered transport beside it changes nothing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use hdrhistogram::Histogram;

    use crate::model::{Cell, Delivery, Latency, Outcome, Results};
    use crate::verdicts::evaluate;

    const SENT: u64 = 2000;

    /// One repeat of an echo cell on `profile` (10 ms one-way, `loss` each way): `SENT` echoes,
    /// `late` of them back after 70 ms, `lost` never, the rest after 22 ms.
    fn echo(transport: &str, profile: &str, loss: f64, repeat: u32, late: u64, lost: u64) -> Cell {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        h.record_n(22_000, SENT - late - lost).unwrap();
        if late > 0 {
            h.record_n(70_000, late).unwrap();
        }
        let mut c: Cell = serde_json::from_value(serde_json::json!({
            "scenario": "faq-hol", "workload": "echo", "transport": transport,
            "profile": profile, "repeat": repeat, "status": "ok", "error": null,
            "params": {"duration_ms": 10_000, "link": {"delay_ms": 10.0, "loss": loss}},
            "latency_us": null, "setup_ms": null, "setup_rtts": null, "throughput": null,
            "delivery": null, "wire": null, "resources": null,
        }))
        .unwrap();
        c.latency_us = Some(Latency::with_lost(&h, lost).unwrap());
        c.delivery = Some(Delivery {
            sent: SENT,
            received: SENT - lost,
            lost,
            ..Delivery::default()
        });
        c
    }

    /// Five repeats (full scale) per transport and loss level: (transport, late, lost) per echo cell.
    fn results(specs: &[(&str, u64, u64)]) -> Results {
        let mut cells = Vec::new();
        for (profile, loss) in [("loss-1", 0.01), ("loss-3", 0.03), ("loss-5", 0.05)] {
            for r in 1..=5 {
                for (t, late, lost) in specs {
                    // Repeats differ a little, so the bootstrap has something to resample.
                    let vary = |n: &u64| if *n > 0 { n + u64::from(r) } else { 0 };
                    let (late, lost) = (vary(late), vary(lost));
                    cells.push(echo(t, profile, loss, r, late, lost));
                }
            }
        }
        Results::of_cells(cells)
    }

    fn hol(r: &Results) -> crate::model::Verdict {
        evaluate(r)
            .into_iter()
            .find(|v| v.id == "hol-blocking")
            .expect("hol verdict")
    }

    #[test]
    fn a_lossy_candidate_is_judged_on_every_echo_sent() {
        // WebSocket: nothing lost, 2 % back late (HOL blocking). The candidate: 5 % lost, the
        // rest fast: its p99 over the echoes that came back (22 ms) would beat WebSocket's
        // (70 ms), but over every echo sent it misses more. webrtc-unreliable loses less
        // than either: context, not the comparison.
        let r = results(&[
            ("websocket", 40, 0),
            ("webtransport-datagram", 0, 100),
            ("webrtc-unreliable", 0, 5),
        ]);
        let dg = r
            .cells
            .iter()
            .find(|c| c.transport == "webtransport-datagram")
            .unwrap();
        let l = dg.latency_us.as_ref().unwrap();
        assert_eq!(l.p99, None, "5 % lost: p99 is beyond the delivered echoes");
        let delivered_p99 = l.delivered.as_ref().unwrap().p99.unwrap();
        assert!((22_000..22_100).contains(&delivered_p99), "{delivered_p99}");
        let v = hol(&r);
        assert_eq!(v.verdict, Outcome::Refuted, "{}", v.decided_by);
        assert!(v.decided_by.contains("websocket 2."), "{}", v.decided_by);
        assert!(
            v.decided_by.contains("webtransport-datagram 5."),
            "{}",
            v.decided_by
        );
        assert!(
            v.decided_by.contains("webtransport-datagram – (only 9"),
            "the null p99 says why: {}",
            v.decided_by
        );
        assert!(
            v.decided_by
                .contains("context on loss-5 (not deciding): webrtc-unreliable"),
            "{}",
            v.decided_by
        );
        let missed = |t: &str| {
            v.evidence
                .iter()
                .find(|e| {
                    e.cell == format!("faq-hol/echo/{t}/loss-5")
                        && e.metric == "missed_3rtt_fraction"
                })
                .map(|e| e.median)
        };
        assert!(missed("webtransport-datagram").is_some_and(|m| (m - 0.051).abs() < 1e-3));
        assert!(missed("websocket").is_some_and(|m| (m - 0.0210).abs() < 1e-3));
        assert!(v
            .evidence
            .iter()
            .any(|e| e.metric == "latency_p99_us" && e.cell.contains("websocket")));
    }

    #[test]
    fn hol_blocking_beyond_the_deadline_confirms() {
        // WebSocket: 12 % of the echoes held past 3 RTT; the candidate loses 5 %.
        let r = results(&[("websocket", 240, 0), ("webtransport-datagram", 0, 100)]);
        let v = hol(&r);
        assert_eq!(v.verdict, Outcome::Confirmed, "{}", v.decided_by);
        // Without the candidate nothing decides, whatever else ran.
        let r = results(&[("websocket", 240, 0), ("webrtc-unreliable", 0, 5)]);
        let v = hol(&r);
        assert_eq!(v.verdict, Outcome::Inconclusive, "{}", v.decided_by);
        assert!(
            v.decided_by.contains("webtransport-datagram cells missing"),
            "{}",
            v.decided_by
        );
        // A harness-bound repeat at 1 % loss: that level is not judged (and says so); the
        // others still decide.
        let mut r = results(&[("websocket", 240, 0), ("webtransport-datagram", 0, 100)]);
        if let Some(c) = r
            .cells
            .iter_mut()
            .find(|c| c.transport == "webtransport-datagram" && c.profile == "loss-1")
        {
            c.harness_bound = crate::model::HarnessBound::check(2_500, Some(20_000));
        }
        let v = hol(&r);
        assert_eq!(v.verdict, Outcome::Confirmed, "{}", v.decided_by);
        assert!(
            v.decided_by.starts_with("loss 1 %: not judged: ")
                && v.decided_by
                    .contains("harness-bound (sender lateness p99 2500 µs)"),
            "{}",
            v.decided_by
        );
    }
}
