//! `wirebench recommend`: ranks transports for a workload described by its traits, from the
//! measurements in a results file (normally a run of the FAQ scenarios, `scenarios/faq/`).
//!
//! **Ranking.** The traits select *criteria* — figures of the FAQ scenarios that matter for
//! such a workload, each with a weight:
//!
//! | trait | scenario | criteria (weight) |
//! |---|---|---|
//! | `p2p` topology | faq-peer | relay p50 (1), relay p99 (0.5); with loss tolerance also media frames missed at 150 ms (1) |
//! | server authority, ≤ [`FEW_CLIENTS`] clients, not quiet | faq-collab | collab p50 (1), collab p99 (0.5), at the client count nearest yours |
//! | quiet periods | faq-quiet | notification p50 (1), wire bytes per connection-hour (0.5), server memory per connection (0.5), at the size nearest yours |
//! | more than [`FEW_CLIENTS`] clients, not quiet | faq-refresh | server memory per client (1), server CPU per client-minute (1), wire bytes per client-minute (0.5); staleness p99 over 5 s is a caveat |
//! | loss tolerance | faq-hol | echoes missed at 3 RTT (lost or later than 3 × the profile's RTT, of every echo sent) at the loss level nearest the profile's (1) |
//!
//! For each criterion every candidate's median (over repeats) is divided by the best
//! candidate's (`(v + ε) / (best + ε)`, ε a small unit-dependent floor so zeros compare), so
//! the best scores 1. A transport's score is the weighted mean of its ratios; a criterion it
//! has no figure for (failed or not measured) counts as [`MISSING_RATIO`] and is named in its
//! caveats; a criterion no candidate has a figure for is left out (and named in the notes).
//! Lower scores rank first. Figures come from the requested profile when the results have it,
//! else from every profile of the scenario (said in the notes).
//!
//! **Like with like.** Every figure is over every message sent: latency percentiles are
//! loss-aware (a lost message ranks after every delivered one), so a percentile the delivered
//! fraction cannot reach is null — counted as missing, its reason in the caveats — and the
//! criteria under loss are fractions of messages missed at a deadline, lost ones included.
//! The candidates are fixed by the traits before any figure is read, and every candidate is
//! judged on the same figures; none is singled out by its result.
//!
//! Candidates are the web transports of the results. Unreliable ones (datagrams, unordered
//! channels) are ranked only with loss tolerance; raw `tcp` (not available to browsers) is never
//! ranked but shown as the floor; `webtransport-datagram` is left out when messages exceed one
//! datagram ([`MAX_DATAGRAM_BYTES`]).

use serde::Serialize;

mod criteria;
mod proxy;
mod read;
mod render;
mod traits;

pub use traits::{Connectivity, Traits, FEW_CLIENTS};

use crate::model::Results;
use crate::verdicts::{self, Evidence, Verdict};
use criteria::{criteria, Criterion};
use read::Read;

/// Ratio charged for a criterion a transport has no figure for.
pub const MISSING_RATIO: f64 = 4.0;
/// Largest message a WebTransport datagram carries here (typical QUIC path MTU minus headers).
pub const MAX_DATAGRAM_BYTES: u64 = 1100;

/// Which scenarios the traits need (and `recommend` runs when given no results).
pub fn needed_scenarios(t: &Traits) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = criteria(t).iter().map(|c| c.scenario).collect();
    out.dedup();
    let mut uniq = Vec::new();
    for s in out {
        if !uniq.contains(&s) {
            uniq.push(s);
        }
    }
    uniq
}

/// Which FAQ verdicts bear on the traits (by verdict id prefix).
fn relevant_verdicts(t: &Traits) -> Vec<&'static str> {
    let mut v = Vec::new();
    match t.topology {
        Connectivity::P2p => {
            v.push("peer-relay-latency");
            if t.loss_tolerant {
                v.push("peer-media-unreliable");
            }
        }
        Connectivity::Server if t.quiet_periods => {
            v.extend(["quiet-sse-vs-poll", "quiet-sse-scaling"]);
        }
        Connectivity::Server if t.clients <= FEW_CLIENTS => v.push("collab-websocket"),
        Connectivity::Server => v.push("refresh-poll"),
    }
    if t.loss_tolerant {
        v.push("hol-blocking");
    }
    v.push("setup-rtts-");
    v
}

/// One ranked (or excluded) transport.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// Rank from 1; `None` when not ranked.
    pub rank: Option<usize>,
    /// Transport as shown (`webrtc (str0m)`).
    pub transport: String,
    /// Weighted mean of its ratios to the best (1 = best on every criterion).
    pub score: Option<f64>,
    /// The figures it was judged on, each naming its cell.
    pub evidence: Vec<Evidence>,
    /// `id: outcome` of the FAQ verdicts that bear on it.
    pub verdicts: Vec<String>,
    /// What the ranking does not cover for this transport.
    pub caveats: Vec<String>,
    /// Why it is not ranked, when it is not.
    pub excluded: Option<String>,
}

/// What `recommend` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The traits judged.
    pub traits: Traits,
    /// Scenarios whose cells were read.
    pub scenarios: Vec<String>,
    /// Transports, ranked first, then the excluded ones.
    pub transports: Vec<Ranked>,
    /// The applicable FAQ verdicts.
    pub verdicts: Vec<Verdict>,
    /// Notes about the evidence (profile substitution, missing scenarios, scale).
    pub notes: Vec<String>,
    /// The link profiles the figures come from (pooled when several and none was asked for).
    pub profiles: Vec<String>,
    /// With several profiles pooled: the ranking on each profile alone, so a reader sees
    /// whether the pooled order holds on every link measured.
    pub per_profile: Vec<ProfileRanking>,
}

/// The ranking on one measured profile alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileRanking {
    /// The profile.
    pub profile: String,
    /// Ranked transports, best first.
    pub order: Vec<String>,
    /// Whether `order` is the pooled ranking's order.
    pub same: bool,
}

impl Recommendation {
    /// Ranked transports, best first.
    pub fn order(&self) -> Vec<String> {
        self.transports
            .iter()
            .filter(|r| r.rank.is_some())
            .map(|r| r.transport.clone())
            .collect()
    }

    /// Whether anything was ranked.
    pub fn ranked_any(&self) -> bool {
        self.transports.iter().any(|r| r.rank.is_some())
    }
}

/// Ranks the transports of `r` for `t`; with no profile asked for and several measured, also
/// ranks on each profile alone.
pub fn recommend(r: &Results, t: &Traits) -> Recommendation {
    let mut rec = rank(r, t);
    if t.profile.is_none() && rec.profiles.len() > 1 {
        let pooled = rec.order();
        rec.per_profile = rec
            .profiles
            .iter()
            .map(|p| {
                let on = Traits {
                    profile: Some(p.clone()),
                    ..t.clone()
                };
                let order = rank(r, &on).order();
                ProfileRanking {
                    profile: p.clone(),
                    same: order == pooled,
                    order,
                }
            })
            .collect();
    }
    rec
}

/// The profiles the figures of `per_crit` come from, in the order first read.
fn profiles_read(per_crit: &[Vec<(String, Read)>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in per_crit.iter().flatten().flat_map(|(_, r)| &r.profiles) {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Ranks the transports of `r` for `t` on the profile asked for, or pooled over profiles.
fn rank(r: &Results, t: &Traits) -> Recommendation {
    let crit = criteria(t);
    let keys = crate::figures::keys(r);
    let scenarios = needed_scenarios(t);
    let mut notes = scenario_notes(r, &scenarios);
    let per_crit = read::read_all(&keys, &crit, t, &mut notes);
    let names = candidates(&per_crit);
    let applicable = applicable_verdicts(r, t);
    let bests = bests(&crit, &per_crit, t, &mut notes);
    let mut ranked: Vec<Ranked> = names
        .iter()
        .map(|(name, id)| {
            let mut item = Ranked {
                rank: None,
                transport: name.clone(),
                score: None,
                evidence: Vec::new(),
                verdicts: Vec::new(),
                caveats: transport_caveats(id, t, &keys)
                    .into_iter()
                    .chain(proxy::caveat(&keys, id))
                    .collect(),
                excluded: exclusion(id, t),
            };
            score(&mut item, &crit, &per_crit, &bests);
            item.verdicts = verdicts_of(name, &applicable);
            item
        })
        .collect();
    assign_ranks(&mut ranked, &mut notes);
    Recommendation {
        traits: t.clone(),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        transports: ranked,
        verdicts: applicable,
        notes,
        profiles: profiles_read(&per_crit),
        per_profile: Vec::new(),
    }
}

/// Notes on the results as a whole: scenarios the traits need that are missing, CI scale.
fn scenario_notes(r: &Results, scenarios: &[&'static str]) -> Vec<String> {
    let mut notes = Vec::new();
    for s in scenarios {
        if !r.cells.iter().any(|c| c.scenario == *s) {
            notes.push(format!(
                "scenario {s} is not in the results: its criteria are unmeasured"
            ));
        }
    }
    if crate::figures::quick_scale(r) {
        notes.push("figures from a CI-scale (--quick) run: fewer clients and repeats".into());
    }
    notes
}

/// Candidates: every transport seen in any criterion, as (name, id), in transport order.
fn candidates(per_crit: &[Vec<(String, Read)>]) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = Vec::new();
    for reads in per_crit {
        for (n, read) in reads {
            if !names.iter().any(|x| &x.0 == n) {
                names.push((n.clone(), read.transport_id.clone()));
            }
        }
    }
    names.sort_by_key(|(n, id)| {
        (
            crate::TRANSPORT_IDS
                .iter()
                .position(|w| w == id)
                .unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
}

/// The FAQ verdicts that bear on the traits, recomputed from the cells so an older file gets
/// today's rules.
fn applicable_verdicts(r: &Results, t: &Traits) -> Vec<Verdict> {
    let all_verdicts = verdicts::evaluate(r);
    let wanted = relevant_verdicts(t);
    all_verdicts
        .into_iter()
        .filter(|v| wanted.iter().any(|w| v.id.starts_with(w)))
        .collect()
}

/// Per criterion, the best eligible median (`None`, and a note, when nobody has a figure).
fn bests(
    crit: &[Criterion],
    per_crit: &[Vec<(String, Read)>],
    t: &Traits,
    notes: &mut Vec<String>,
) -> Vec<Option<f64>> {
    crit.iter()
        .zip(per_crit)
        .map(|(c, reads)| {
            let b = reads
                .iter()
                .filter(|(n, r)| eligible(n, &r.transport_id, t))
                .filter_map(|(_, r)| crate::stats::median(&r.values))
                .reduce(f64::min);
            if b.is_none() {
                notes.push(format!(
                    "{} ({}): no transport has a figure; not used in the ranking",
                    c.label, c.scenario
                ));
            }
            b
        })
        .collect()
}

/// Why a transport is not ranked for these traits, when it is not.
fn exclusion(id: &str, t: &Traits) -> Option<String> {
    if id == "tcp" {
        Some("raw TCP is not available to browsers (shown as the floor)".into())
    } else if crate::UNRELIABLE_TRANSPORTS.contains(&id) && !t.loss_tolerant {
        Some("drops messages under loss; pass --loss-tolerant if your messages may be lost".into())
    } else if id == "webtransport-datagram" && t.size > MAX_DATAGRAM_BYTES {
        Some(format!(
            "a {} B message does not fit one datagram (≤ {MAX_DATAGRAM_BYTES} B)",
            t.size
        ))
    } else {
        None
    }
}

/// Scores `item` (weighted mean of its ratios to the best), adding its evidence and a caveat
/// per criterion it has no figure for.
fn score(
    item: &mut Ranked,
    crit: &[Criterion],
    per_crit: &[Vec<(String, Read)>],
    bests: &[Option<f64>],
) {
    let mut total = 0.0;
    let mut weights = 0.0;
    for ((c, reads), best) in crit.iter().zip(per_crit).zip(bests) {
        // A criterion no candidate has a figure for ranks nobody: it is left out (and
        // named in the notes).
        let Some(best) = *best else {
            continue;
        };
        let mine = reads
            .iter()
            .find(|(n, _)| *n == item.transport)
            .map(|(_, r)| r);
        let ratio = match mine.and_then(|r| crate::stats::median(&r.values)) {
            Some(v) => (v + c.eps) / (best + c.eps),
            None => {
                let why = mine
                    .and_then(|r| r.why.clone())
                    .unwrap_or_else(|| "not measured".into());
                item.caveats.push(format!("{}: no figure ({why})", c.label));
                MISSING_RATIO
            }
        };
        if let Some(e) = mine.and_then(|r| r.evidence.clone()) {
            item.evidence.push(e);
        }
        total += c.weight * ratio;
        weights += c.weight;
    }
    if weights > 0.0 {
        item.score = Some(total / weights);
    }
}

/// `id: outcome` of the applicable verdicts with evidence from transport `name`.
fn verdicts_of(name: &str, applicable: &[Verdict]) -> Vec<String> {
    let mut out = Vec::new();
    for v in applicable {
        if v.evidence
            .iter()
            .any(|e| cell_transport(&e.cell) == Some(name))
        {
            out.push(format!("{}: {}", v.id, v.outcome_text()));
        }
    }
    out
}

/// Sorts ranked transports first (by score), numbers them, and notes when none could be.
fn assign_ranks(ranked: &mut [Ranked], notes: &mut Vec<String>) {
    ranked.sort_by(|a, b| {
        (a.excluded.is_some(), a.score.unwrap_or(f64::INFINITY))
            .partial_cmp(&(b.excluded.is_some(), b.score.unwrap_or(f64::INFINITY)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut n = 0;
    for item in ranked.iter_mut() {
        if item.excluded.is_none() {
            n += 1;
            item.rank = Some(n);
        }
    }
    if ranked.iter().all(|r| r.rank.is_none()) {
        notes.push(
            "nothing to rank: the results hold no cells of the scenarios these traits need".into(),
        );
    }
}

fn eligible(_name: &str, id: &str, t: &Traits) -> bool {
    id != "tcp"
        && (t.loss_tolerant || !crate::UNRELIABLE_TRANSPORTS.contains(&id))
        && !(id == "webtransport-datagram" && t.size > MAX_DATAGRAM_BYTES)
}

/// The transport part of an evidence cell key `scenario/workload/transport/profile`.
fn cell_transport(cell: &str) -> Option<&str> {
    cell.split('/').nth(2)
}

/// What holds for a transport whatever the numbers say.
fn transport_caveats(id: &str, t: &Traits, keys: &[crate::figures::KeyCells<'_>]) -> Vec<String> {
    let mut v = Vec::new();
    match id {
        "sse" => {
            v.push(
                "HTTP/1.1 browsers allow 6 connections per origin and each EventSource holds one \
                 (HTTP/2 lifts it); upstream messages need separate POSTs"
                    .into(),
            );
        }
        "poll" => {
            v.push(
                "latency is bounded below by the poll interval; every poll costs a request even \
                 when nothing changed"
                    .into(),
            );
        }
        "long-poll" => v.push("one request per delivery batch; upstream needs POSTs".into()),
        "webrtc" | "webrtc-unreliable" if t.topology == Connectivity::Server => {
            v.push("to a server, WebRTC needs a media-capable server stack (ICE/DTLS/SCTP)".into())
        }
        "webrtc" | "webrtc-unreliable" => v.push(proxy::nat_caveat(keys)),
        "webtransport" | "webtransport-datagram" => {
            v.push("needs HTTP/3 (UDP) end to end; not in every browser (Safari) or network".into())
        }
        _ => {}
    }
    if t.clients > 10_000 {
        v.push(format!(
            "{} clients is beyond the largest scale measured here (10,000)",
            t.clients
        ));
    }
    v
}
