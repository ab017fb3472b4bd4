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
//! | loss tolerance | faq-hol | echo p99 at the loss level nearest the profile's (1) |
//!
//! For each criterion every candidate's median (over repeats) is divided by the best
//! candidate's (`(v + ε) / (best + ε)`, ε a small unit-dependent floor so zeros compare), so
//! the best scores 1. A transport's score is the weighted mean of its ratios; a criterion it
//! has no figure for (failed or not measured) counts as [`MISSING_RATIO`] and is named in its
//! caveats; a criterion no candidate has a figure for is left out (and named in the notes). Lower scores rank first. Figures come from the requested profile when the results
//! have it, else from every profile of the scenario (said in the notes).
//!
//! Candidates are the web transports of the results. Unreliable ones (datagrams, unordered
//! channels) are ranked only with loss tolerance; raw `tcp` (not available to browsers) is never
//! ranked but shown as the floor; `webtransport-datagram` is left out when messages exceed one
//! datagram.

use serde::Serialize;

mod render;

use crate::model::Results;
use crate::verdicts::{self, Evidence, FaqMetric, Verdict};

/// Up to this many clients a server-authority workload counts as "few" (collaboration).
pub const FEW_CLIENTS: u32 = 50;
/// Ratio charged for a criterion a transport has no figure for.
pub const MISSING_RATIO: f64 = 4.0;
/// Largest message a WebTransport datagram carries here (typical QUIC path MTU minus headers).
pub const MAX_DATAGRAM_BYTES: u64 = 1100;

/// Where the messages flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Connectivity {
    /// Between peers, no central source of truth.
    P2p,
    /// Through a server that holds the truth.
    Server,
}

/// The workload's traits, as `wirebench recommend` takes them.
#[derive(Debug, Clone, Serialize)]
pub struct Traits {
    /// Peer to peer or server authority.
    pub topology: Connectivity,
    /// Concurrent clients.
    pub clients: u32,
    /// Messages per second per client.
    pub rate: f64,
    /// Message size, bytes.
    pub size: u64,
    /// Long quiet periods between messages.
    pub quiet_periods: bool,
    /// Messages may be lost (media, telemetry): unreliable transports qualify.
    pub loss_tolerant: bool,
    /// Network profile to judge on (`None`: every profile measured).
    pub profile: Option<String>,
}

/// One figure a ranking criterion reads.
#[derive(Debug, Clone, Copy)]
struct Criterion {
    scenario: &'static str,
    workload: &'static str,
    /// Which workload names qualify: all, or the one with `params.clients` nearest the traits'.
    nearest_clients: bool,
    /// Only this workload name.
    name: Option<&'static str>,
    metric: FaqMetric,
    weight: f64,
    label: &'static str,
    eps: f64,
}

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

fn criteria(t: &Traits) -> Vec<Criterion> {
    let c = |scenario, workload, name, nearest_clients, metric, weight, label, eps| Criterion {
        scenario,
        workload,
        name,
        nearest_clients,
        metric,
        weight,
        label,
        eps,
    };
    let mut out = Vec::new();
    match t.topology {
        Connectivity::P2p => {
            out.push(c(
                verdicts::PEER,
                "relay",
                Some("relay"),
                false,
                verdicts::P50,
                1.0,
                "relay p50",
                100.0,
            ));
            out.push(c(
                verdicts::PEER,
                "relay",
                Some("relay"),
                false,
                verdicts::P99,
                0.5,
                "relay p99",
                100.0,
            ));
            if t.loss_tolerant {
                out.push(c(
                    verdicts::PEER,
                    "relay",
                    Some("media"),
                    false,
                    verdicts::MISSED_150MS,
                    1.0,
                    "media frames missed at 150 ms",
                    0.005,
                ));
            }
        }
        Connectivity::Server if t.quiet_periods => {
            out.push(c(
                verdicts::QUIET,
                "idle",
                None,
                true,
                verdicts::P50,
                1.0,
                "notification p50",
                100.0,
            ));
            out.push(c(
                verdicts::QUIET,
                "idle",
                None,
                true,
                verdicts::WIRE_BYTES_PER_CONN_HOUR,
                0.5,
                "wire bytes per connection-hour",
                1.0,
            ));
            out.push(c(
                verdicts::QUIET,
                "idle",
                None,
                true,
                verdicts::SERVER_BYTES_PER_CONN,
                0.5,
                "server memory per connection",
                1.0,
            ));
        }
        Connectivity::Server if t.clients <= FEW_CLIENTS => {
            out.push(c(
                verdicts::COLLAB,
                "collab",
                None,
                true,
                verdicts::P50,
                1.0,
                "op → all p50",
                100.0,
            ));
            out.push(c(
                verdicts::COLLAB,
                "collab",
                None,
                true,
                verdicts::P99,
                0.5,
                "op → all p99",
                100.0,
            ));
        }
        Connectivity::Server => {
            out.push(c(
                verdicts::REFRESH,
                "push",
                None,
                true,
                verdicts::SERVER_BYTES_PER_CLIENT,
                1.0,
                "server memory per client",
                1.0,
            ));
            out.push(c(
                verdicts::REFRESH,
                "push",
                None,
                true,
                verdicts::SERVER_CPU_MS_PER_CLIENT_MIN,
                1.0,
                "server CPU per client-minute",
                0.01,
            ));
            out.push(c(
                verdicts::REFRESH,
                "push",
                None,
                true,
                verdicts::WIRE_BYTES_PER_CLIENT_MIN,
                0.5,
                "wire bytes per client-minute",
                1.0,
            ));
        }
    }
    if t.loss_tolerant {
        out.push(c(
            verdicts::HOL,
            "echo",
            None,
            false,
            verdicts::P99,
            1.0,
            "echo p99 under loss",
            100.0,
        ));
    }
    out
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
}

/// Ranks the transports of `r` for `t`.
pub fn recommend(r: &Results, t: &Traits) -> Recommendation {
    let mut notes = Vec::new();
    let crit = criteria(t);
    let keys = crate::figures::keys(r);
    let scenarios = needed_scenarios(t);
    for s in &scenarios {
        if !r.cells.iter().any(|c| c.scenario == *s) {
            notes.push(format!(
                "scenario {s} is not in the results: its criteria are unmeasured"
            ));
        }
    }
    if r.cells
        .iter()
        .any(|c| c.params.get("quick").and_then(|v| v.as_bool()) == Some(true))
    {
        notes.push("figures from a CI-scale (--quick) run: fewer clients and repeats".into());
    }
    // Per criterion: transport name → (values, evidence, why missing).
    struct Read {
        transport_id: String,
        values: Vec<f64>,
        evidence: Option<Evidence>,
        why: Option<String>,
    }
    let mut per_crit: Vec<Vec<(String, Read)>> = Vec::new();
    for c in &crit {
        let mut here: Vec<&crate::figures::KeyCells<'_>> = keys
            .iter()
            .filter(|k| k.scenario == c.scenario)
            .filter(|k| {
                k.ok.first()
                    .or_else(|| k.not_ok().next())
                    .is_some_and(|x| x.workload == c.workload)
            })
            .filter(|k| c.name.is_none_or(|n| k.workload == n))
            .collect();
        if c.nearest_clients {
            let target = f64::from(t.clients.max(1)).ln();
            let names_clients: Vec<(String, f64)> = here
                .iter()
                .filter_map(|k| {
                    let cl =
                        k.ok.iter()
                            .chain(k.not_ok())
                            .find_map(|x| crate::figures::clients(x))?;
                    Some((k.workload.clone(), cl))
                })
                .collect();
            if let Some((best_name, cl)) = names_clients
                .iter()
                .min_by(|a, b| {
                    (a.1.ln() - target)
                        .abs()
                        .total_cmp(&(b.1.ln() - target).abs())
                })
                .cloned()
            {
                if (cl - f64::from(t.clients)).abs() > 0.5 {
                    let note = format!(
                        "{}: nearest measured size is {} ({cl:.0} clients; you have {})",
                        c.scenario, best_name, t.clients
                    );
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
                here.retain(|k| k.workload == best_name);
            }
        }
        if c.scenario == verdicts::HOL {
            // The loss level nearest the profile's.
            let want = t
                .profile
                .as_deref()
                .and_then(|p| {
                    here.iter()
                        .find(|k| k.profile == p)
                        .and_then(|k| k.ok.first().or_else(|| k.not_ok().next()))
                        .and_then(|c| link_loss_of(c))
                })
                .unwrap_or(0.03);
            let level = here
                .iter()
                .filter_map(|k| {
                    let c = k.ok.first().or_else(|| k.not_ok().next())?;
                    Some((k.profile.to_string(), link_loss_of(c)?))
                })
                .min_by(|a, b| (a.1 - want).abs().total_cmp(&(b.1 - want).abs()));
            if let Some((p, _)) = level {
                here.retain(|k| k.profile == p);
            }
        } else if let Some(p) = &t.profile {
            if here.iter().any(|k| k.profile == p.as_str()) {
                here.retain(|k| k.profile == p.as_str());
            } else if !here.is_empty() {
                let note = format!(
                    "{}: profile {p} not measured; using {}",
                    c.scenario,
                    crate::figures::distinct(here.iter().map(|k| k.profile)).join(", ")
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
        let mut reads: Vec<(String, Read)> = Vec::new();
        for k in here {
            let Some(first) = k.ok.first().or_else(|| k.not_ok().next()) else {
                continue;
            };
            let name = first.transport_name();
            let values: Vec<f64> = k.ok.iter().filter_map(|x| c.metric.get_from(x)).collect();
            let why = if k.ok.is_empty() {
                Some(k.reason().unwrap_or("no ok repeat").to_string())
            } else if values.is_empty() {
                Some(format!("{} not recorded", c.metric.id))
            } else {
                None
            };
            let evidence = evidence_of(
                &format!("{}/{}/{}/{}", k.scenario, k.workload, name, k.profile),
                &c.metric,
                &values,
            );
            // Several profiles: pool the repeats of every profile for this transport.
            if let Some((_, read)) = reads.iter_mut().find(|(n, _)| *n == name) {
                read.values.extend(values);
                if read.evidence.is_none() {
                    read.evidence = evidence;
                }
                continue;
            }
            reads.push((
                name,
                Read {
                    transport_id: first.transport.clone(),
                    values,
                    evidence,
                    why,
                },
            ));
        }
        per_crit.push(reads);
    }

    // Candidates: every transport seen in any criterion.
    let mut names: Vec<(String, String)> = Vec::new();
    for reads in &per_crit {
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

    // Recomputed from the cells, so an older file gets today's rules.
    let all_verdicts = verdicts::evaluate(r);
    let wanted = relevant_verdicts(t);
    let applicable: Vec<Verdict> = all_verdicts
        .into_iter()
        .filter(|v| wanted.iter().any(|w| v.id.starts_with(w)))
        .collect();

    let bests: Vec<Option<f64>> = crit
        .iter()
        .zip(&per_crit)
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
        .collect();
    let mut ranked = Vec::new();
    for (name, id) in &names {
        let mut item = Ranked {
            rank: None,
            transport: name.clone(),
            score: None,
            evidence: Vec::new(),
            verdicts: Vec::new(),
            caveats: transport_caveats(id, t),
            excluded: None,
        };
        if id == "tcp" {
            item.excluded =
                Some("raw TCP is not available to browsers (shown as the floor)".into());
        } else if crate::UNRELIABLE_TRANSPORTS.contains(&id.as_str()) && !t.loss_tolerant {
            item.excluded = Some(
                "drops messages under loss; pass --loss-tolerant if your messages may be lost"
                    .into(),
            );
        } else if id == "webtransport-datagram" && t.size > MAX_DATAGRAM_BYTES {
            item.excluded = Some(format!(
                "a {} B message does not fit one datagram (≤ {MAX_DATAGRAM_BYTES} B)",
                t.size
            ));
        }
        let mut total = 0.0;
        let mut weights = 0.0;
        for ((c, reads), best) in crit.iter().zip(&per_crit).zip(&bests) {
            // A criterion no candidate has a figure for ranks nobody: it is left out (and
            // named in the notes).
            let Some(best) = *best else {
                continue;
            };
            let mine = reads.iter().find(|(n, _)| n == name).map(|(_, r)| r);
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
        for v in &applicable {
            if v.evidence
                .iter()
                .any(|e| cell_transport(&e.cell) == Some(name.as_str()))
            {
                item.verdicts
                    .push(format!("{}: {}", v.id, v.verdict.as_str()));
            }
        }
        ranked.push(item);
    }
    ranked.sort_by(|a, b| {
        (a.excluded.is_some(), a.score.unwrap_or(f64::INFINITY))
            .partial_cmp(&(b.excluded.is_some(), b.score.unwrap_or(f64::INFINITY)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut n = 0;
    for item in &mut ranked {
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
    Recommendation {
        traits: t.clone(),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        transports: ranked,
        verdicts: applicable,
        notes,
    }
}

fn eligible(_name: &str, id: &str, t: &Traits) -> bool {
    id != "tcp"
        && (t.loss_tolerant || !crate::UNRELIABLE_TRANSPORTS.contains(&id))
        && !(id == "webtransport-datagram" && t.size > MAX_DATAGRAM_BYTES)
}

fn link_loss_of(c: &crate::model::Cell) -> Option<f64> {
    let l = c.params.get("link")?;
    l.get("loss").and_then(|v| v.as_f64())
}

/// The transport part of an evidence cell key `scenario/workload/transport/profile`.
fn cell_transport(cell: &str) -> Option<&str> {
    cell.split('/').nth(2)
}

fn evidence_of(cell: &str, m: &FaqMetric, values: &[f64]) -> Option<Evidence> {
    let min = values.iter().copied().reduce(f64::min)?;
    let max = values.iter().copied().reduce(f64::max)?;
    Some(Evidence {
        cell: cell.to_string(),
        metric: m.id.to_string(),
        unit: m.unit.to_string(),
        median: crate::stats::median(values)?,
        min,
        max,
        repeats: values.len(),
    })
}

/// What holds for a transport whatever the numbers say.
fn transport_caveats(id: &str, t: &Traits) -> Vec<String> {
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
        "webrtc" | "webrtc-unreliable" => v.push(
            "peer to peer needs signalling, and a TURN relay when NAT traversal fails (not \
             modelled)"
                .into(),
        ),
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
