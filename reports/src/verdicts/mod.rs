//! FAQ verdicts: each claim of the transport FAQ encoded as a check over a results file.
//!
//! The FAQ under test:
//! 1. video calls / real-time messaging without a central source of truth → WebRTC;
//! 2. real-time collaboration with a central source of truth and few clients → WebSockets;
//! 3. notifications that stay quiet for a long time → SSE, but beware of scaling the number
//!    of clients;
//! 4. anything else (refreshing data, notifying a huge number of clients) → polling.
//!
//! plus two cross-cutting claims (setup round trips as the protocols predict them;
//! head-of-line blocking under loss).
//!
//! Every rule is a pure function of [`Results`]: it reads the cells of one FAQ scenario
//! (`scenarios/faq/*.toml`, named by the constants below), compares medians over repeats and
//! returns a [`Verdict`] — `confirmed`, `refuted` or `inconclusive` — with the numbers that
//! decided it, each naming its cell. A rule runs only when its scenario is in the results;
//! missing or failed cells make it inconclusive, never guessed.
//!
//! **Noise rule** ([`compare`]): A is *clearly lower* than B when the ratio of their medians
//! over repeats is at most `1 − MARGIN` (10 %) **and** the exact one-sided Mann–Whitney test
//! over the repeats ([`crate::stats::mann_whitney_lower`]) gives p <= [`ALPHA`] (0.05). With no
//! overlap, 5 vs 5 repeats give p = 1/252 ≈ 0.004, 3 vs 3 give 0.05 and 2 vs 2 or fewer can
//! never decide. A verdict of several comparisons holds its family-wise error at 0.05 by
//! Holm's step-down (a difference that does not survive counts as noise). Mirrored for
//! *clearly higher*. Anything else is *within noise*, said *within the 10 % margin* when the
//! test finds a difference but it is smaller than the margin.
//!
//! **Failed and harness-bound repeats**: when any repeat of a compared cell failed, or its
//! open-loop sender could not keep the schedule (`harness_bound`), that cell has no figure
//! and every comparison with it is inconclusive: the transport is not judged on its good runs
//! only, nor on the load generator's stalls.
//!
//! **`--quick`**: verdicts from CI-scale runs are marked `indicative` and shown apart.

use std::fmt::Write as _;

use crate::model::Results;

mod between;
mod collab;
mod hol;
mod metrics;
mod nat;
mod peer;
mod quiet;
mod refresh;
mod rule;
mod setup;

/// Formats a figure in its unit (kept here for callers): [`crate::format::value_with_unit`].
pub use crate::format::value_with_unit as fmt_value;
pub use crate::model::{Evidence, Outcome, StoredVerdict, Verdict};
use between::{load_queue_dominates, sse_behind_proxy};
use collab::collab;
use hol::hol;
pub use metrics::*;
use nat::{peer_nat_direct, peer_turn_cost};
use peer::{peer_media, peer_relay};
use quiet::{quiet_sse_scaling, quiet_sse_vs_poll};
use refresh::refresh_poll;
use rule::Ctx;
pub use rule::{
    compare, Diff, PairComparison, ALPHA, COLLAB, HOL, LOAD, MARGIN, NAT, PEER, PROXY, QUIET,
    REFRESH, SETUP, SETUP_TOLERANCE_APPROX_RTTS, SETUP_TOLERANCE_RTTS, STALENESS_BOUND_US,
};
use setup::setup_rtts;

/// Computes every verdict whose scenario is in the results, in FAQ order.
pub fn evaluate(r: &Results) -> Vec<Verdict> {
    let ctx = Ctx::new(r);
    let mut out = Vec::new();
    type Rule = fn(&Ctx<'_>) -> Vec<Verdict>;
    let rules: [(&str, Rule); 12] = [
        (PEER, peer_relay),
        (PEER, peer_media),
        (NAT, peer_nat_direct),
        (NAT, peer_turn_cost),
        (COLLAB, collab),
        (QUIET, quiet_sse_vs_poll),
        (QUIET, quiet_sse_scaling),
        (PROXY, sse_behind_proxy),
        (REFRESH, refresh_poll),
        (SETUP, setup_rtts),
        (HOL, hol),
        (LOAD, load_queue_dominates),
    ];
    for (scenario, rule) in rules {
        if ctx.has_scenario(scenario) {
            out.extend(rule(&ctx));
        }
    }
    if ctx.quick {
        for v in &mut out {
            v.indicative = true;
            v.caveats.push(
                "CI scale (`--quick`): fewer clients and repeats, shorter runs than the full \
                 scale; decide on a full run"
                    .into(),
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Storing and rendering

/// The verdicts as stored in [`Results::verdicts`] (written to `results.json`).
pub fn stored(verdicts: &[Verdict]) -> Vec<StoredVerdict> {
    verdicts.iter().cloned().map(StoredVerdict::Faq).collect()
}

/// The FAQ verdicts of a results file (entries of another shape are skipped).
pub fn read(r: &Results) -> Vec<Verdict> {
    r.verdicts
        .iter()
        .filter_map(StoredVerdict::faq)
        .cloned()
        .collect()
}

/// The verdicts as a Markdown section for summary.md (empty when there are none).
pub fn markdown(verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    if verdicts.is_empty() {
        return s;
    }
    if verdicts.iter().any(|v| v.indicative) {
        let _ = writeln!(
            s,
            "## FAQ verdicts — indicative only (`--quick`)\n\nA CI-scale run: fewer clients \
             and repeats, shorter runs. These outcomes hint, they do not decide; run the full \
             scale to decide.\n"
        );
    } else {
        let _ = writeln!(s, "## FAQ verdicts\n");
    }
    let _ = writeln!(s, "| faq | claim | verdict | decided by |");
    let _ = writeln!(s, "|---|---|---|---|");
    for v in verdicts {
        let _ = writeln!(
            s,
            "| {} | `{}` | **{}** | {} |",
            v.faq,
            v.id,
            v.outcome_text(),
            crate::format::md_cell(&v.decided_by)
        );
    }
    for v in verdicts {
        let _ = writeln!(s, "\n### `{}`: {}\n", v.id, v.outcome_text());
        let _ = writeln!(s, "{}\n\nRule: {}\n", v.claim, v.rule);
        for e in &v.evidence {
            let _ = writeln!(
                s,
                "- `{}` {}: {} ({}–{}, {} repeat{})",
                e.cell,
                e.metric,
                fmt_value(e.median, &e.unit),
                fmt_value(e.min, &e.unit),
                fmt_value(e.max, &e.unit),
                e.repeats,
                if e.repeats == 1 { "" } else { "s" }
            );
        }
        for c in &v.caveats {
            let _ = writeln!(s, "- caveat: {c}");
        }
    }
    s.push('\n');
    s
}

/// A short table for the terminal.
pub fn terminal(verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    if verdicts.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\n{:<28} {:<13} decided by", "verdict", "outcome");
    for v in verdicts {
        let _ = writeln!(s, "{:<28} {:<13} {}", v.id, v.outcome_text(), v.decided_by);
    }
    s
}

#[cfg(test)]
mod tests {
    //! Every rule on synthetic results that should confirm it, refute it and leave it
    //! inconclusive. Latency summaries carry real histograms where a rule reads them.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::{Cell, Delivery, Latency, Resources, Status, Wire};

    fn results(cells: Vec<Cell>) -> Results {
        Results::of_cells(cells)
    }

    /// A latency summary whose histogram holds 1,000 samples of each value (enough for p99).
    fn latency(values: &[u64]) -> Latency {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in values {
            h.record_n(*v, 1000).unwrap();
        }
        Latency::from_histogram(&h).unwrap()
    }

    struct C<'a> {
        scenario: &'a str,
        workload: &'a str,
        name: &'a str,
        transport: &'a str,
        imp: Option<&'a str>,
        profile: &'a str,
    }

    fn cell(k: &C<'_>, repeat: u32, f: impl FnOnce(&mut Cell)) -> Cell {
        // Built from JSON, as a reader sees it: fields added to the model later default.
        let mut c: Cell = serde_json::from_value(serde_json::json!({
            "scenario": k.scenario,
            "workload": k.workload,
            "transport": k.transport,
            "profile": k.profile,
            "repeat": repeat,
            "status": "ok",
            "error": null,
            "params": {"duration_ms": 60_000},
            "latency_us": null,
            "setup_ms": null,
            "setup_rtts": null,
            "throughput": null,
            "delivery": null,
            "wire": null,
            "resources": null,
        }))
        .unwrap();
        c.label = (k.name != k.workload).then(|| k.name.to_string());
        c.implementation = k.imp.map(str::to_string);
        f(&mut c);
        c
    }

    /// Five repeats (full scale) of a cell with a latency of `us` (±1 %) at every percentile.
    fn lat_cells(k: &C<'_>, us: u64) -> Vec<Cell> {
        (1..=5)
            .map(|r| {
                cell(k, r, |c| {
                    c.latency_us = Some(latency(&[us + us * u64::from(r) / 100]));
                })
            })
            .collect()
    }

    fn only<'a>(vs: &'a [Verdict], id: &str) -> &'a Verdict {
        vs.iter()
            .find(|v| v.id == id)
            .unwrap_or_else(|| panic!("no verdict {id} in {vs:#?}"))
    }

    fn outcome(cells: Vec<Cell>, id: &str) -> Outcome {
        let vs = evaluate(&results(cells));
        let v = only(&vs, id);
        assert!(!v.decided_by.is_empty(), "{v:#?}");
        v.verdict
    }

    /// A `--quick` run's verdicts are indicative and every output says so.
    #[test]
    fn quick_verdicts_are_indicative() {
        let k = relay("websocket", None);
        let mut cells = lat_cells(&relay("webrtc", Some("str0m")), 5_000);
        cells.extend(lat_cells(&k, 120_000));
        for c in &mut cells {
            c.params.insert("quick".into(), true.into());
        }
        let vs = evaluate(&results(cells));
        let v = only(&vs, "peer-relay-latency");
        assert!(v.indicative);
        assert_eq!(v.outcome_text(), "indicative: confirmed (--quick)");
        let md = markdown(&vs);
        assert!(md.contains("indicative only"), "{md}");
        assert!(!md.contains("**confirmed**"), "{md}");
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(json["indicative"], true);
    }

    #[test]
    fn compare_needs_the_margin_and_a_significant_mann_whitney() {
        let five_low = [10.0, 11.0, 10.5, 10.2, 10.8];
        let five_high = [20.0, 21.0, 19.0, 20.5, 19.5];
        let c = compare(&five_low, &five_high).unwrap();
        assert_eq!(c.diff, Diff::Lower);
        assert!((c.p() - 1.0 / 252.0).abs() < 1e-12, "{c:?}");
        assert_eq!(c.repeats, (5, 5));
        assert_eq!(compare(&five_high, &five_low).unwrap().diff, Diff::Higher);
        // Apart but within the 10 % margin.
        let near = [10.5, 10.6, 10.7, 10.9, 11.0];
        let c = compare(&[10.0, 10.1, 10.2, 10.3, 10.4], &near).unwrap();
        assert_eq!(c.diff, Diff::Same);
        assert!(c.p() < 0.01);
        // 3 vs 3 apart: p = 1/20 = 0.05 just decides; one overlap does not.
        assert_eq!(
            compare(&[10.0, 11.0, 10.5], &[20.0, 21.0, 19.0])
                .unwrap()
                .diff,
            Diff::Lower
        );
        assert_eq!(
            compare(&[10.0, 11.0, 20.0], &[19.0, 21.0, 22.0])
                .unwrap()
                .diff,
            Diff::Same
        );
        // Two or one repeats a side can never decide, however far apart.
        assert_eq!(
            compare(&[10.0, 11.0], &[20.0, 21.0]).unwrap().diff,
            Diff::Same
        );
        assert_eq!(compare(&[0.0], &[0.1]).unwrap().diff, Diff::Same);
        assert!(compare(&[], &[1.0]).is_none());
    }

    fn proxied(workload: &'static str, name: &'static str, t: &'static str) -> C<'static> {
        C {
            scenario: PROXY,
            workload,
            name,
            transport: t,
            imp: None,
            profile: "broadband",
        }
    }

    /// SSE through nginx's defaults: the proxy held the stream (the cells failed through it)
    /// refutes; through the streaming configuration within the margin confirms, clearly slower
    /// refutes.
    #[test]
    fn sse_behind_a_proxy() {
        let mut cells = Vec::new();
        for w in ["push", "idle"] {
            let name = |v: &str| -> &'static str { Box::leak(format!("{w}-{v}").into_boxed_str()) };
            cells.extend(lat_cells(&proxied(w, name("direct"), "sse"), 15_000));
            cells.extend(lat_cells(
                &proxied(w, name("nginx-streaming"), "sse"),
                15_300,
            ));
            cells.extend((1..=5).map(|r| {
                cell(&proxied(w, name("nginx-default"), "sse"), r, |c| {
                    c.status = Status::Failed;
                    c.error = Some(
                        "through nginx (nginx-default): client 1: connect: timed out: no \
                         connection after 30 s"
                            .into(),
                    );
                })
            }));
        }
        let vs = evaluate(&results(cells.clone()));
        assert_eq!(
            only(&vs, "quiet-sse-behind-proxy").verdict,
            Outcome::Refuted
        );
        let streaming = only(&vs, "quiet-sse-behind-streaming-proxy");
        assert_eq!(streaming.verdict, Outcome::Confirmed, "{streaming:#?}");
        // Through the streaming proxy 60 % slower: refuted.
        for c in cells
            .iter_mut()
            .filter(|c| c.label.as_deref().is_some_and(|l| l.ends_with("streaming")))
        {
            c.latency_us = Some(latency(&[24_000 + u64::from(c.repeat) * 100]));
        }
        assert_eq!(
            outcome(cells, "quiet-sse-behind-streaming-proxy"),
            Outcome::Refuted
        );
    }

    fn natted(name: &'static str, t: &'static str) -> C<'static> {
        C {
            scenario: NAT,
            workload: "relay",
            name,
            transport: t,
            imp: (t == "webrtc").then_some("webrtc-rs"),
            profile: "loopback",
        }
    }

    /// `faq-nat`: the ICE path the stack reported decides whether a figure counts.
    #[test]
    fn nat_verdicts_read_the_ice_path() {
        let with_path = |mut cells: Vec<Cell>, path: &str| {
            for c in &mut cells {
                c.params.insert("ice_path".into(), path.into());
            }
            cells
        };
        let reference = lat_cells(&natted("server-reference", "websocket"), 120_000);
        let mut cells = reference.clone();
        cells.extend(with_path(
            lat_cells(&natted("nat-direct", "webrtc"), 5_000),
            "prflx",
        ));
        cells.extend(with_path(
            lat_cells(&natted("turn-server", "webrtc"), 121_000),
            "relay/udp",
        ));
        cells.extend(with_path(
            lat_cells(&natted("turn-near", "webrtc"), 6_000),
            "relay/udp",
        ));
        // str0m does no STUN or TURN: its cells are skipped by design, which leaves it out
        // of the comparison (said in a caveat) rather than making every verdict inconclusive.
        for name in ["nat-direct", "turn-server", "turn-near"] {
            let k = C {
                imp: Some("str0m"),
                ..natted(name, "webrtc")
            };
            for r in 1..=5 {
                cells.push(cell(&k, r, |c| {
                    c.status = Status::Skipped;
                    c.error = Some("str0m does no STUN or TURN itself".into());
                }));
            }
        }
        let vs = evaluate(&results(cells));
        let direct = only(&vs, "peer-nat-direct");
        assert_eq!(direct.verdict, Outcome::Confirmed, "{direct:#?}");
        assert!(
            direct
                .caveats
                .iter()
                .any(|c| c.contains("webrtc (str0m) not judged, not run here")),
            "{direct:#?}"
        );
        let turn = only(&vs, "peer-turn-cost");
        assert_eq!(turn.verdict, Outcome::Confirmed, "{turn:#?}");
        // Behind the "common" NATs the stack relayed after all: refuted.
        let mut cells = reference.clone();
        cells.extend(with_path(
            lat_cells(&natted("nat-direct", "webrtc"), 5_000),
            "relay/udp",
        ));
        assert_eq!(outcome(cells, "peer-nat-direct"), Outcome::Refuted);
        // Each stack is its own comparison: a second one slower than the server path refutes.
        let mut cells = reference.clone();
        cells.extend(with_path(
            lat_cells(&natted("nat-direct", "webrtc"), 5_000),
            "prflx",
        ));
        let str0m = C {
            imp: Some("str0m"),
            ..natted("nat-direct", "webrtc")
        };
        cells.extend(with_path(lat_cells(&str0m, 200_000), "host"));
        assert_eq!(outcome(cells, "peer-nat-direct"), Outcome::Refuted);
        // TURN beside the server clearly faster than the server path: refuted.
        let mut cells = reference;
        cells.extend(with_path(
            lat_cells(&natted("turn-server", "webrtc"), 60_000),
            "relay/udp",
        ));
        cells.extend(with_path(
            lat_cells(&natted("turn-near", "webrtc"), 6_000),
            "relay/udp",
        ));
        assert_eq!(outcome(cells, "peer-turn-cost"), Outcome::Refuted);
    }

    fn loaded(t: &'static str, profile: &'static str) -> C<'static> {
        C {
            scenario: LOAD,
            workload: "echo",
            name: "echo-loaded",
            transport: t,
            imp: None,
            profile,
        }
    }

    /// Echo p99 beside an upload: drop-tail far above FQ-CoDel for every transport and the
    /// transports close together confirms; transports further apart than the queue gap refutes.
    #[test]
    fn load_queue_dominates_compares_the_two_spreads() {
        let run = |ws: [u64; 2], wt: [u64; 2]| {
            let mut cells = Vec::new();
            for (t, [tail, fq]) in [("websocket", ws), ("webtransport", wt)] {
                cells.extend(lat_cells(&loaded(t, between::LOAD_DROPTAIL), tail));
                cells.extend(lat_cells(&loaded(t, between::LOAD_FQ_CODEL), fq));
            }
            // The raw-tcp floor is not a web transport: its figures never widen the spread.
            cells.extend(lat_cells(&loaded("tcp", between::LOAD_DROPTAIL), 500_000));
            cells.extend(lat_cells(&loaded("tcp", between::LOAD_FQ_CODEL), 1_000));
            outcome(cells, "load-queue-dominates")
        };
        assert_eq!(run([90_000, 32_000], [95_000, 33_000]), Outcome::Confirmed);
        assert_eq!(run([60_000, 31_000], [160_000, 120_000]), Outcome::Refuted);
    }

    fn relay(t: &'static str, imp: Option<&'static str>) -> C<'static> {
        C {
            scenario: PEER,
            workload: "relay",
            name: "relay",
            transport: t,
            imp,
            profile: "peers-near",
        }
    }

    #[test]
    fn peer_relay_confirms_refutes_and_stays_inconclusive() {
        let run = |rtc: u64, ws: u64| {
            let mut cells = lat_cells(&relay("webrtc", Some("str0m")), rtc);
            cells.extend(lat_cells(
                &relay("webrtc", Some("webrtc-rs")),
                rtc * 11 / 10,
            ));
            cells.extend(lat_cells(&relay("websocket", None), ws));
            cells
        };
        assert_eq!(
            outcome(run(5_000, 120_000), "peer-relay-latency"),
            Outcome::Confirmed
        );
        assert_eq!(
            outcome(run(200_000, 120_000), "peer-relay-latency"),
            Outcome::Refuted
        );
        assert_eq!(
            outcome(run(115_000, 120_000), "peer-relay-latency"),
            Outcome::Inconclusive
        );
        // Every implementation is judged, none picked as the best afterwards: one stack
        // clearly faster and one clearly slower than WebSocket refutes.
        let mut cells = lat_cells(&relay("webrtc", Some("str0m")), 5_000);
        cells.extend(lat_cells(&relay("webrtc", Some("webrtc-rs")), 200_000));
        cells.extend(lat_cells(&relay("websocket", None), 120_000));
        assert_eq!(outcome(cells, "peer-relay-latency"), Outcome::Refuted);
        // One stack without figures: inconclusive, however fast the other.
        let mut cells = run(5_000, 120_000);
        if let Some(c) = cells
            .iter_mut()
            .find(|c| c.implementation.as_deref() == Some("webrtc-rs"))
        {
            c.harness_bound = crate::model::HarnessBound::check(900, Some(2_000));
        }
        assert_eq!(outcome(cells, "peer-relay-latency"), Outcome::Inconclusive);
        // WebSocket failed: inconclusive, with the reason.
        let mut cells = lat_cells(&relay("webrtc", Some("str0m")), 5_000);
        cells.push(cell(&relay("websocket", None), 1, |c| {
            c.status = Status::Failed;
            c.error = Some("boom".into());
        }));
        assert_eq!(outcome(cells, "peer-relay-latency"), Outcome::Inconclusive);
        // Evidence names its cells.
        let vs = evaluate(&results(run(5_000, 120_000)));
        let v = only(&vs, "peer-relay-latency");
        assert!(v
            .evidence
            .iter()
            .any(|e| e.cell == "faq-peer/relay/webrtc (str0m)/peers-near" && e.repeats == 5));
        assert!(v.decided_by.contains("webrtc (str0m)"), "{}", v.decided_by);
        assert!(
            v.decided_by.contains("5 vs 5 repeats, p = 0.004"),
            "{}",
            v.decided_by
        );
        // One failed repeat of five: that transport is not judged on its four good runs.
        let mut cells = run(5_000, 120_000);
        cells.push(cell(&relay("websocket", None), 6, |c| {
            c.status = Status::Failed;
            c.error = Some("agent crashed".into());
        }));
        let vs = evaluate(&results(cells));
        let v = only(&vs, "peer-relay-latency");
        assert_eq!(v.verdict, Outcome::Inconclusive, "{}", v.decided_by);
        assert!(
            v.decided_by.contains("repeat 6 failed: agent crashed"),
            "{}",
            v.decided_by
        );
        // A harness-bound repeat: the load generator's stall is not charged to the transport.
        let mut cells = run(5_000, 120_000);
        if let Some(c) = cells.iter_mut().find(|c| c.transport == "websocket") {
            c.harness_bound = crate::model::HarnessBound::check(900, Some(2_000));
        }
        let vs = evaluate(&results(cells));
        let v = only(&vs, "peer-relay-latency");
        assert_eq!(v.verdict, Outcome::Inconclusive, "{}", v.decided_by);
        assert!(
            v.decided_by
                .contains("harness-bound (sender lateness p99 900 µs)"),
            "{}",
            v.decided_by
        );
    }

    /// Five repeats of a media cell: `sent` frames, of which `on_time` arrived within 150 ms
    /// and `late` after it.
    fn media_cells(t: &'static str, sent: u64, on_time: u64, late: u64) -> Vec<Cell> {
        let k = C {
            name: "media",
            ..relay(t, Some("str0m"))
        };
        (1..=5)
            .map(|r| {
                cell(&k, r, |c| {
                    let mut h =
                        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                    h.record_n(20_000, on_time).unwrap();
                    if late > 0 {
                        h.record_n(400_000, late).unwrap();
                    }
                    c.latency_us = Some(Latency::from_histogram(&h).unwrap());
                    c.delivery = Some(Delivery {
                        sent: sent + u64::from(r),
                        received: on_time + late,
                        ..Delivery::default()
                    });
                })
            })
            .collect()
    }

    #[test]
    fn missed_fraction_reads_the_histogram() {
        let c = &media_cells("webrtc", 100, 90, 5)[0];
        let m = MISSED_150MS.get_from(c).unwrap();
        assert!((m - (1.0 - 90.0 / 101.0)).abs() < 1e-9, "{m}");
    }

    #[test]
    fn peer_media_confirms_refutes_and_stays_inconclusive() {
        let run = |unrel: (u64, u64), rel: (u64, u64)| {
            let mut cells = media_cells("webrtc-unreliable", 1000, unrel.0, unrel.1);
            cells.extend(media_cells("webrtc", 1000, rel.0, rel.1));
            cells
        };
        let id = "peer-media-unreliable";
        assert_eq!(outcome(run((980, 0), (900, 100)), id), Outcome::Confirmed);
        assert_eq!(outcome(run((900, 0), (990, 10)), id), Outcome::Refuted);
        assert_eq!(outcome(run((980, 0), (981, 19)), id), Outcome::Inconclusive);
        assert_eq!(
            outcome(media_cells("webrtc", 100, 90, 0), id),
            Outcome::Inconclusive
        );
    }

    fn collab(t: &'static str, n: &'static str, clients: u64, us: u64) -> Vec<Cell> {
        let k = C {
            scenario: COLLAB,
            workload: "collab",
            name: n,
            transport: t,
            imp: None,
            profile: "broadband",
        };
        let mut cells = lat_cells(&k, us);
        for c in &mut cells {
            c.params.insert("clients".into(), clients.into());
            c.delivery = Some(Delivery::default());
        }
        cells
    }

    #[test]
    fn collab_confirms_refutes_and_stays_inconclusive() {
        let run = |ws: u64, sse: u64, poll: u64| {
            let mut cells = Vec::new();
            for (n, clients) in [("collab-2", 2), ("collab-10", 10)] {
                cells.extend(collab("websocket", n, clients, ws));
                cells.extend(collab("sse", n, clients, sse));
                cells.extend(collab("poll", n, clients, poll));
            }
            cells
        };
        let id = "collab-websocket";
        assert_eq!(outcome(run(30_000, 31_000, 90_000), id), Outcome::Confirmed);
        assert_eq!(outcome(run(30_000, 15_000, 90_000), id), Outcome::Refuted);
        assert_eq!(
            outcome(run(30_000, 30_500, 31_000), id),
            Outcome::Inconclusive
        );
    }

    fn idle(
        t: &'static str,
        n: &'static str,
        clients: u64,
        us: u64,
        rss: u64,
        wire: u64,
    ) -> Vec<Cell> {
        let k = C {
            scenario: QUIET,
            workload: "idle",
            name: n,
            transport: t,
            imp: None,
            profile: "broadband",
        };
        let mut cells = lat_cells(&k, us);
        for (i, c) in cells.iter_mut().enumerate() {
            c.params.insert("clients".into(), clients.into());
            c.resources = Some(Resources {
                server_rss_peak_bytes: Some(rss * clients + i as u64 * 1000),
                ..Resources::default()
            });
            c.wire = Some(Wire {
                bytes_up: Some(wire * clients / 2 + i as u64),
                bytes_down: Some(wire * clients / 2),
                overhead_ratio: None,
            });
        }
        cells
    }

    #[test]
    fn quiet_rules_confirm_refute_and_stay_inconclusive() {
        let run = |sse: (u64, u64, u64), poll: (u64, u64, u64)| {
            let mut cells = Vec::new();
            for (n, clients) in [("idle-1k", 1000), ("idle-10k", 10_000)] {
                cells.extend(idle("sse", n, clients, sse.0, sse.1, sse.2));
                cells.extend(idle("poll", n, clients, poll.0, poll.1, poll.2));
                cells.extend(idle("websocket", n, clients, sse.0, sse.1, sse.2));
            }
            cells
        };
        let (a, b) = ("quiet-sse-vs-poll", "quiet-sse-scaling");
        // SSE: faster, fewer idle bytes, more memory per connection.
        let cells = run((2_000, 20_000, 5_000), (2_000_000, 5_000, 90_000));
        let vs = evaluate(&results(cells));
        assert_eq!(only(&vs, a).verdict, Outcome::Confirmed);
        assert_eq!(only(&vs, b).verdict, Outcome::Confirmed);
        // The largest size decides and is named.
        assert!(
            only(&vs, a).decided_by.contains("10000 connections"),
            "{}",
            only(&vs, a).decided_by
        );
        assert!(only(&vs, b)
            .caveats
            .iter()
            .any(|c| c.contains("6 HTTP/1.1 connections")));
        // SSE slower than polling, and lighter on memory: both refuted.
        let cells = run((3_000_000, 2_000, 5_000), (2_000_000, 20_000, 90_000));
        let vs = evaluate(&results(cells));
        assert_eq!(only(&vs, a).verdict, Outcome::Refuted);
        assert_eq!(only(&vs, b).verdict, Outcome::Refuted);
        // Same figures: inconclusive.
        let same = (2_000, 20_000, 5_000);
        let vs = evaluate(&results(run(same, same)));
        assert_eq!(only(&vs, a).verdict, Outcome::Inconclusive);
        assert_eq!(only(&vs, b).verdict, Outcome::Inconclusive);
    }

    fn refresh(t: &'static str, p99_us: u64, rss: u64, cpu_s: f64) -> Vec<Cell> {
        let k = C {
            scenario: REFRESH,
            workload: "push",
            name: "refresh",
            transport: t,
            imp: None,
            profile: "broadband",
        };
        let mut cells = lat_cells(&k, p99_us);
        for (i, c) in cells.iter_mut().enumerate() {
            c.params.insert("clients".into(), 10_000.into());
            c.resources = Some(Resources {
                server_rss_peak_bytes: Some(rss * 10_000 + i as u64),
                server_cpu_s: Some(cpu_s + i as f64 * 0.01),
                ..Resources::default()
            });
        }
        cells
    }

    #[test]
    fn refresh_confirms_refutes_and_stays_inconclusive() {
        let run = |stale: u64, rss: u64, cpu: f64| {
            let mut cells = refresh("poll", stale, rss, cpu);
            cells.extend(refresh("sse", 20_000, 30_000, 10.0));
            cells.extend(refresh("websocket", 20_000, 30_000, 10.0));
            cells
        };
        let id = "refresh-poll";
        assert_eq!(outcome(run(4_600_000, 5_000, 10.0), id), Outcome::Confirmed);
        assert_eq!(outcome(run(6_000_000, 5_000, 10.0), id), Outcome::Refuted);
        assert_eq!(outcome(run(4_600_000, 5_000, 40.0), id), Outcome::Refuted);
        assert_eq!(
            outcome(run(4_600_000, 29_500, 10.0), id),
            Outcome::Inconclusive
        );
        // Poll's memory is lower in every repeat, by less than the margin: the text says so
        // rather than calling a significant difference noise.
        let vs = evaluate(&results(run(4_600_000, 29_500, 10.0)));
        let text = &only(&vs, id).decided_by;
        assert!(
            text.contains(
                "×0.98 (within the 10 % margin: Mann–Whitney one-sided, 5 vs 5 repeats, p = 0.004)"
            ),
            "{text}"
        );
    }

    fn connect(t: &'static str, per_rtt: &dyn Fn(u32) -> f64) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (profile, rtt) in [("rtt-10", 20.0), ("rtt-50", 100.0), ("rtt-150", 300.0)] {
            let k = C {
                scenario: SETUP,
                workload: "connect",
                name: "connect",
                transport: t,
                imp: None,
                profile,
            };
            for r in 1..=5 {
                cells.push(cell(&k, r, |c| {
                    let ms = 2.0 + per_rtt(r) * rtt;
                    c.setup_ms = Some(ms);
                    c.setup_rtts = Some(ms / rtt);
                }));
            }
        }
        cells
    }

    /// A fast-path connect workload gets its own verdict, judged against its own path's
    /// prediction, and is not mixed into the plain `connect` fit; a stack that cannot take the
    /// path (skipped) gets none.
    #[test]
    fn setup_fast_paths_are_judged_apart() {
        let mut cells = Vec::new();
        for (profile, rtt) in [("rtt-10", 20.0), ("rtt-50", 100.0), ("rtt-150", 300.0)] {
            for (name, imp, rtts, skipped) in [
                ("connect", "str0m", 9.1, false),
                ("connect-fast", "str0m", 4.05, false),
                ("connect-fast", "webrtc-rs", 0.0, true),
            ] {
                let k = C {
                    scenario: SETUP,
                    workload: "connect",
                    name,
                    transport: "webrtc",
                    imp: Some(imp),
                    profile,
                };
                for r in 1..=5 {
                    cells.push(cell(&k, r, |c| {
                        if name != "connect" {
                            c.params.insert("rtc_channel".into(), "snap".into());
                            c.params.insert("rtc_signalling".into(), "reused".into());
                        }
                        if skipped {
                            c.status = Status::Skipped;
                            c.error = Some("SNAP is str0m's".into());
                            return;
                        }
                        let ms = 3.0 + rtts * rtt;
                        c.setup_ms = Some(ms);
                        c.setup_rtts = Some(ms / rtt);
                    }));
                }
            }
        }
        let vs = evaluate(&results(cells));
        let plain = only(&vs, "setup-rtts-webrtc-str0m");
        assert_eq!(plain.verdict, Outcome::Confirmed, "{}", plain.decided_by);
        let fast = only(&vs, "setup-rtts-webrtc-str0m-connect-fast");
        assert_eq!(fast.verdict, Outcome::Confirmed, "{}", fast.decided_by);
        assert!(fast.claim.contains("SNAP"), "{}", fast.claim);
        assert!(!vs
            .iter()
            .any(|v| v.id == "setup-rtts-webrtc-webrtc-rs-connect-fast"));
    }

    #[test]
    fn setup_rtts_confirm_refute_and_stay_inconclusive() {
        let id = "setup-rtts-websocket";
        assert_eq!(
            outcome(connect("websocket", &|_| 3.05), id),
            Outcome::Confirmed
        );
        assert_eq!(
            outcome(connect("websocket", &|_| 5.0), id),
            Outcome::Refuted
        );
        // Repeats straddle the tolerance.
        assert_eq!(
            outcome(
                connect("websocket", &|r| if r == 1 { 3.0 } else { 4.0 }),
                id
            ),
            Outcome::Inconclusive
        );
        // The fit separates the fixed cost from the round trips.
        let vs = evaluate(&results(connect("webtransport", &|_| 3.0)));
        let v = only(&vs, "setup-rtts-webtransport");
        assert_eq!(v.verdict, Outcome::Confirmed);
        assert!(v.claim.contains("floor is 2"), "{}", v.claim);
        assert!(
            v.decided_by.contains("fixed cost 2.0 ms"),
            "{}",
            v.decided_by
        );
        // WebRTC as this stack connects: 9 round trips (the old "≈ 4" refuted it for the
        // library's behaviour).
        assert_eq!(
            outcome(connect("webrtc", &|_| 9.08), "setup-rtts-webrtc"),
            Outcome::Confirmed
        );
        assert_eq!(
            outcome(connect("webrtc", &|_| 4.8), "setup-rtts-webrtc"),
            Outcome::Refuted
        );
        // No shaped profile: inconclusive.
        let k = C {
            scenario: SETUP,
            workload: "connect",
            name: "connect",
            transport: "tcp",
            imp: None,
            profile: "loopback",
        };
        let cells = vec![cell(&k, 1, |c| c.setup_ms = Some(0.2))];
        assert_eq!(outcome(cells, "setup-rtts-tcp"), Outcome::Inconclusive);
        // A failed repeat on one profile: not judged on the repeats that worked.
        let mut cells = connect("websocket", &|_| 3.05);
        let k = C {
            scenario: SETUP,
            workload: "connect",
            name: "connect",
            transport: "websocket",
            imp: None,
            profile: "rtt-150",
        };
        cells.push(cell(&k, 6, |c| {
            c.status = Status::Failed;
            c.error = Some("handshake timed out".into());
        }));
        let vs = evaluate(&results(cells));
        let v = only(&vs, id);
        assert_eq!(v.verdict, Outcome::Inconclusive, "{}", v.decided_by);
        assert!(
            v.decided_by
                .contains("repeat 6 on rtt-150 failed (handshake timed out)"),
            "{}",
            v.decided_by
        );
    }

    fn hol_cells(t: &'static str, p99s: [u64; 3]) -> Vec<Cell> {
        let mut cells = Vec::new();
        for ((profile, loss), p99) in [("loss-1", 0.01), ("loss-3", 0.03), ("loss-5", 0.05)]
            .into_iter()
            .zip(p99s)
        {
            let k = C {
                scenario: HOL,
                workload: "echo",
                name: "echo",
                transport: t,
                imp: None,
                profile,
            };
            for mut c in lat_cells(&k, p99) {
                c.params.insert(
                    "link".into(),
                    serde_json::json!({"delay_ms": 10.0, "loss": loss}),
                );
                cells.push(c);
            }
        }
        cells
    }

    #[test]
    fn hol_confirms_refutes_and_stays_inconclusive() {
        let run = |ws: [u64; 3], dg: [u64; 3]| {
            let mut cells = hol_cells("websocket", ws);
            cells.extend(hol_cells("webtransport-datagram", dg));
            cells.extend(hol_cells("webtransport", ws));
            cells
        };
        let id = "hol-blocking";
        // Noise at 1 %, clear at 5 %: confirmed.
        assert_eq!(
            outcome(run([21_000, 60_000, 250_000], [21_500, 22_000, 22_000]), id),
            Outcome::Confirmed
        );
        assert_eq!(
            outcome(run([21_000, 22_000, 22_000], [21_000, 60_000, 250_000]), id),
            Outcome::Refuted
        );
        assert_eq!(
            outcome(run([21_000, 60_000, 22_000], [21_000, 22_000, 22_500]), id),
            Outcome::Inconclusive
        );
    }

    #[test]
    fn rules_run_only_for_scenarios_present_and_note_the_quick_scale() {
        assert!(evaluate(&results(lat_cells(
            &C {
                scenario: "default",
                workload: "echo",
                name: "echo",
                transport: "tcp",
                imp: None,
                profile: "loopback"
            },
            100
        )))
        .is_empty());
        let mut cells = connect("websocket", &|_| 3.0);
        for c in &mut cells {
            c.params.insert("quick".into(), true.into());
        }
        let vs = evaluate(&results(cells));
        assert!(vs[0].caveats.iter().any(|c| c.contains("--quick")));
    }

    #[test]
    fn verdicts_round_trip_through_results_and_render() {
        let mut r = results(connect("websocket", &|_| 3.0));
        let vs = evaluate(&r);
        r.verdicts = stored(&vs);
        let text = serde_json::to_string(&r).unwrap();
        let back = Results::parse(&text, "mem").unwrap();
        assert_eq!(read(&back), vs);
        let md = markdown(&vs);
        assert!(
            md.contains("| setup | `setup-rtts-websocket` | **confirmed** |"),
            "{md}"
        );
        assert!(
            md.contains("`faq-setup/connect/websocket/rtt-150` setup_rtts"),
            "{md}"
        );
        let summary = crate::summary::markdown(&back);
        assert!(summary.contains("## FAQ verdicts"), "{summary}");
        let html = crate::html::render(&back).unwrap();
        assert!(html.contains("<h2>FAQ verdicts</h2>"));
        assert!(html.contains("setup-rtts-websocket"));
        // Other verdict shapes still read (and are simply not FAQ verdicts).
        r.verdicts = vec![serde_json::json!({"question": "q"}).into()];
        assert!(read(&r).is_empty());
    }
}
