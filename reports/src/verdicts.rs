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
//! over repeats is at most `1 − MARGIN` (10 %) **and** — with at least
//! [`MIN_BOOTSTRAP_REPEATS`] repeats on each side — the 95 % bootstrap interval of that ratio
//! ([`crate::stats::bootstrap_ratio_of_medians`]) lies wholly below 1, or — with fewer
//! repeats — A's largest repeat is below B's smallest. Mirrored for *clearly higher*.
//! Anything else is *within noise*.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::figures::{self, KeyCells};
use crate::format::fmt_us;
/// Formats a figure in its unit (kept here for callers): [`crate::format::value_with_unit`].
pub use crate::format::value_with_unit as fmt_value;
use crate::model::{Cell, Results};
pub use crate::model::{Evidence, Outcome, StoredVerdict, Verdict};
use crate::stats::{self, BootstrapOptions, Interval};

/// Scenario of FAQ line 1 (peer messaging and media-like traffic).
pub const PEER: &str = "faq-peer";
/// Scenario of FAQ line 2 (collaboration, few clients).
pub const COLLAB: &str = "faq-collab";
/// Scenario of FAQ line 3 (quiet notifications).
pub const QUIET: &str = "faq-quiet";
/// Scenario of FAQ line 4 (mass refresh).
pub const REFRESH: &str = "faq-refresh";
/// Cross-cutting: setup across an RTT sweep.
pub const SETUP: &str = "faq-setup";
/// Cross-cutting: head-of-line blocking under loss.
pub const HOL: &str = "faq-hol";

/// Relative margin a difference must exceed to count (10 %).
pub const MARGIN: f64 = 0.10;
/// Fewest repeats per side for the bootstrap interval; below it the ranges must not overlap.
pub const MIN_BOOTSTRAP_REPEATS: usize = 3;
/// A media frame later than this counts as lost (150 ms, one-way).
pub const MEDIA_DEADLINE_US: u64 = 150_000;
/// Mass refresh: data may be at most this stale (5 s).
pub const STALENESS_BOUND_US: f64 = 5_000_000.0;
/// How far measured setup round trips may lie from an exact protocol prediction.
pub const SETUP_TOLERANCE_RTTS: f64 = 0.5;
/// … and from an approximate one (WebRTC).
pub const SETUP_TOLERANCE_APPROX_RTTS: f64 = 1.0;

/// Computes every verdict whose scenario is in the results, in FAQ order.
pub fn evaluate(r: &Results) -> Vec<Verdict> {
    let ctx = Ctx::new(r);
    let mut out = Vec::new();
    type Rule = fn(&Ctx<'_>) -> Vec<Verdict>;
    let rules: [(&str, Rule); 8] = [
        (PEER, peer_relay),
        (PEER, peer_media),
        (COLLAB, collab),
        (QUIET, quiet_sse_vs_poll),
        (QUIET, quiet_sse_scaling),
        (REFRESH, refresh_poll),
        (SETUP, setup_rtts),
        (HOL, hol),
    ];
    for (scenario, rule) in rules {
        if ctx.has_scenario(scenario) {
            out.extend(rule(&ctx));
        }
    }
    if ctx.quick {
        for v in &mut out {
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
// Metrics read from cells

/// A figure read from one cell (one repeat).
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Id written into the evidence.
    pub id: &'static str,
    /// Unit written into the evidence.
    pub unit: &'static str,
    /// Reads the figure.
    pub get: fn(&Cell) -> Option<f64>,
}

fn lat(c: &Cell, f: fn(&crate::model::Latency) -> u64) -> Option<f64> {
    c.latency_us.as_ref().map(|l| f(l) as f64)
}

fn measured_minutes(c: &Cell) -> Option<f64> {
    c.params
        .get("duration_ms")
        .and_then(|v| v.as_f64())
        .filter(|d| *d > 0.0)
        .map(|d| d / 60_000.0)
}

/// Median latency, µs.
pub const P50: Metric = Metric {
    id: "latency_p50_us",
    unit: "µs",
    get: |c| lat(c, |l| l.p50),
};
/// 99th percentile latency, µs.
pub const P99: Metric = Metric {
    id: "latency_p99_us",
    unit: "µs",
    get: |c| lat(c, |l| l.p99),
};
/// Fraction of frames sent that did not arrive within [`MEDIA_DEADLINE_US`] (lost or late).
pub const MISSED_150MS: Metric = Metric {
    id: "missed_150ms_fraction",
    unit: "fraction",
    get: missed_within_deadline,
};
/// Setup time, ms.
pub const SETUP_MS: Metric = Metric {
    id: "setup_ms",
    unit: "ms",
    get: |c| c.setup_ms,
};
/// Setup time in round trips of the profile.
pub const SETUP_RTTS: Metric = Metric {
    id: "setup_rtts",
    unit: "RTT",
    get: |c| c.setup_rtts,
};
/// A number at a JSON path of the cell as written to `results.json` (`/idle/…`,
/// `/delivery/order_violations`): figures that workloads document in `docs/results.md`, read
/// by their public names.
fn field(c: &Cell, path: &str) -> Option<f64> {
    serde_json::to_value(c).ok()?.pointer(path)?.as_f64()
}

/// Server peak RSS divided by the cell's clients, bytes (includes the server's base
/// footprint, the same for every transport).
pub const SERVER_BYTES_PER_CLIENT: Metric = Metric {
    id: "server_rss_bytes_per_client",
    unit: "bytes",
    get: |c| {
        let rss = c.resources.as_ref()?.server_rss_peak_bytes? as f64;
        Some(rss / figures::clients(c)?)
    },
};
/// Server memory per held connection, bytes: the idle workload's
/// `idle.server_rss_per_connection_bytes` (RSS growth from no client to all connected, per
/// connection), else peak RSS / clients.
pub const SERVER_BYTES_PER_CONN: Metric = Metric {
    id: "server_rss_bytes_per_connection",
    unit: "bytes",
    get: |c| {
        field(c, "/idle/server_rss_per_connection_bytes")
            .or_else(|| SERVER_BYTES_PER_CLIENT.get_from(c))
    },
};
/// Server CPU time per client per measured minute, ms (setup included).
pub const SERVER_CPU_MS_PER_CLIENT_MIN: Metric = Metric {
    id: "server_cpu_ms_per_client_min",
    unit: "ms",
    get: |c| {
        let cpu = c.resources.as_ref()?.server_cpu_s?;
        Some(cpu * 1000.0 / figures::clients(c)? / measured_minutes(c)?)
    },
};
/// Bytes on the wire (both directions) per client per measured minute.
pub const WIRE_BYTES_PER_CLIENT_MIN: Metric = Metric {
    id: "wire_bytes_per_client_min",
    unit: "bytes",
    get: |c| {
        let w = c.wire.as_ref()?;
        let bytes = (w.bytes_up? + w.bytes_down?) as f64;
        Some(bytes / figures::clients(c)? / measured_minutes(c)?)
    },
};
/// Keep-alive bytes per connection-hour of a quiet cell: the idle workload's
/// `idle.keepalive_bytes_per_connection_hour` (IP bytes both ways while nothing is sent),
/// else all wire bytes per client-hour.
pub const WIRE_BYTES_PER_CONN_HOUR: Metric = Metric {
    id: "keepalive_bytes_per_conn_hour",
    unit: "bytes",
    get: |c| {
        field(c, "/idle/keepalive_bytes_per_connection_hour")
            .or_else(|| WIRE_BYTES_PER_CLIENT_MIN.get_from(c).map(|b| b * 60.0))
    },
};
/// Arrivals out of the server's order (collab's `delivery.order_violations`).
pub const ORDER_VIOLATIONS: Metric = Metric {
    id: "order_violations",
    unit: "count",
    get: |c| field(c, "/delivery/order_violations"),
};

impl Metric {
    /// Reads the figure from a cell.
    pub fn get_from(&self, c: &Cell) -> Option<f64> {
        (self.get)(c).filter(|v| v.is_finite())
    }
}

/// Fraction of sent frames that arrived within the media deadline, from the stored histogram.
fn missed_within_deadline(c: &Cell) -> Option<f64> {
    let sent = c.delivery.as_ref()?.sent;
    if sent == 0 {
        return None;
    }
    let on_time = match &c.latency_us {
        Some(l) => l.histogram().ok()?.count_between(0, MEDIA_DEADLINE_US),
        None => 0,
    };
    Some(1.0 - (on_time.min(sent) as f64 / sent as f64))
}

// ---------------------------------------------------------------------------------------------
// Comparisons

/// How A's figures stand against B's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diff {
    /// A clearly lower.
    Lower,
    /// A clearly higher.
    Higher,
    /// Within noise.
    Same,
}

/// The result of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The call.
    pub diff: Diff,
    /// `median(a) / median(b)`.
    pub ratio: f64,
    /// The bootstrap interval of the ratio, when both sides had enough repeats.
    pub interval: Option<Interval>,
}

/// Compares per-repeat figures `a` and `b` by the noise rule (module docs); `None` when a side
/// has no figures.
pub fn compare(a: &[f64], b: &[f64]) -> Option<Comparison> {
    let ma = stats::median(a)?;
    let mb = stats::median(b)?;
    let ratio = stats::ratio(ma, mb);
    let interval = if a.len() >= MIN_BOOTSTRAP_REPEATS && b.len() >= MIN_BOOTSTRAP_REPEATS {
        stats::bootstrap_ratio_of_medians(b, a, &BootstrapOptions::default())
            .ok()
            .map(|e| e.ci)
    } else {
        None
    };
    let (amin, amax) = min_max(a)?;
    let (bmin, bmax) = min_max(b)?;
    let lower_apart = match interval {
        Some(ci) => ci.high < 1.0,
        None => amax < bmin,
    };
    let higher_apart = match interval {
        Some(ci) => ci.low > 1.0,
        None => amin > bmax,
    };
    let diff = if ratio <= 1.0 - MARGIN && lower_apart {
        Diff::Lower
    } else if ratio >= 1.0 / (1.0 - MARGIN) && higher_apart {
        Diff::Higher
    } else {
        Diff::Same
    };
    Some(Comparison {
        diff,
        ratio,
        interval,
    })
}

fn min_max(v: &[f64]) -> Option<(f64, f64)> {
    let min = v.iter().copied().reduce(f64::min)?;
    let max = v.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

// ---------------------------------------------------------------------------------------------
// Reading cells

/// One cell key's per-repeat figures of one metric.
#[derive(Debug, Clone)]
struct Fig {
    /// `scenario/workload/transport/profile`.
    cell: String,
    /// Transport id.
    transport: String,
    /// Transport as shown (`webrtc (str0m)`).
    name: String,
    /// Implementation, if any.
    implementation: Option<String>,
    /// Profile name.
    profile: String,
    /// The figure of each ok repeat that had it.
    values: Vec<f64>,
    /// Why there are no values (failed/skipped reason, or the figure missing).
    why_none: String,
    metric: Metric,
    /// Median `params.clients` of the ok repeats.
    clients: Option<f64>,
    /// The profile's mean loss (`params.link`), when recorded.
    loss: Option<f64>,
}

impl Fig {
    fn median(&self) -> Option<f64> {
        stats::median(&self.values)
    }

    fn evidence(&self) -> Option<Evidence> {
        let (min, max) = min_max(&self.values)?;
        Some(Evidence {
            cell: self.cell.clone(),
            metric: self.metric.id.to_string(),
            unit: self.metric.unit.to_string(),
            median: self.median()?,
            min,
            max,
            repeats: self.values.len(),
        })
    }

    fn show(&self) -> String {
        match self.median() {
            Some(m) => format!("{} {}", self.name, fmt_value(m, self.metric.unit)),
            None => format!("{}: no figure ({})", self.name, self.why_none),
        }
    }
}

/// Mean loss of a cell's link (`params.link`: `loss` and Gilbert-Elliott, either direction's
/// override ignored).
fn link_loss(c: &Cell) -> Option<f64> {
    let link = c.params.get("link")?;
    let bern = link.get("loss").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let ge = link
        .get("gilbert_elliott")
        .and_then(|g| {
            let p = g.get("p")?.as_f64()?;
            let r = g.get("r")?.as_f64()?;
            let bad = g.get("loss_bad").and_then(|v| v.as_f64()).unwrap_or(1.0);
            let good = g.get("loss_good").and_then(|v| v.as_f64()).unwrap_or(0.0);
            (p + r > 0.0).then(|| (r * good + p * bad) / (p + r))
        })
        .unwrap_or(0.0);
    Some(1.0 - (1.0 - bern) * (1.0 - ge))
}

struct Ctx<'a> {
    keys: Vec<KeyCells<'a>>,
    scenarios: BTreeSet<&'a str>,
    quick: bool,
}

impl<'a> Ctx<'a> {
    fn new(r: &'a Results) -> Self {
        Self {
            keys: figures::keys(r),
            scenarios: r.cells.iter().map(|c| c.scenario.as_str()).collect(),
            quick: r
                .cells
                .iter()
                .any(|c| c.params.get("quick").and_then(|v| v.as_bool()) == Some(true)),
        }
    }

    fn has_scenario(&self, s: &str) -> bool {
        self.scenarios.contains(s)
    }

    /// Figures of every key of `scenario` whose workload name passes `name` and whose
    /// workload id is `workload`.
    fn figs(
        &self,
        scenario: &str,
        workload: &str,
        name: &dyn Fn(&str) -> bool,
        m: Metric,
    ) -> Vec<Fig> {
        self.keys
            .iter()
            .filter(|k| k.scenario == scenario && name(&k.workload))
            .filter_map(|k| {
                let first = k.ok.first().or_else(|| k.not_ok().next())?;
                if first.workload != workload {
                    return None;
                }
                let values: Vec<f64> = k.ok.iter().filter_map(|c| m.get_from(c)).collect();
                let why_none = match k.reason() {
                    Some(r) if k.ok.is_empty() => r.to_string(),
                    _ if k.ok.is_empty() => "no ok repeat".to_string(),
                    _ => format!("{} not recorded", m.id),
                };
                Some(Fig {
                    cell: format!(
                        "{}/{}/{}/{}",
                        k.scenario,
                        k.workload,
                        first.transport_name(),
                        k.profile
                    ),
                    transport: k.transport.to_string(),
                    name: first.transport_name(),
                    implementation: first.implementation.clone(),
                    profile: k.profile.to_string(),
                    values,
                    why_none,
                    metric: m,
                    clients: stats::median(
                        &k.ok
                            .iter()
                            .filter_map(|c| figures::clients(c))
                            .collect::<Vec<_>>(),
                    ),
                    loss: link_loss(first),
                })
            })
            .collect()
    }

    /// Workload names of `scenario` run as workload id `workload`, in run order.
    fn names(&self, scenario: &str, workload: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in self.keys.iter().filter(|k| k.scenario == scenario) {
            let id = k.ok.first().or_else(|| k.not_ok().next());
            if id.is_some_and(|c| c.workload == workload) && !out.contains(&k.workload) {
                out.push(k.workload.clone());
            }
        }
        out
    }
}

fn profiles_of(figs: &[Fig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in figs {
        if !out.contains(&f.profile) {
            out.push(f.profile.clone());
        }
    }
    out
}

/// The figure with the lowest median among `figs` with a figure.
fn best<'f>(figs: impl Iterator<Item = &'f Fig>) -> Option<&'f Fig> {
    figs.filter(|f| f.median().is_some()).min_by(|a, b| {
        a.median()
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.median().unwrap_or(f64::INFINITY))
    })
}

/// One comparison's contribution to a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Agrees with the claim, beyond noise.
    Confirms,
    /// Contradicts it, beyond noise.
    Refutes,
    /// Within noise.
    Noise,
    /// A needed figure is missing.
    Missing,
}

/// Any refuting part refutes; all parts confirming confirms; anything else is inconclusive.
fn combine(parts: &[Part]) -> Outcome {
    if parts.contains(&Part::Refutes) {
        Outcome::Refuted
    } else if !parts.is_empty() && parts.iter().all(|p| *p == Part::Confirms) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    }
}

/// "a vs b" in words with the ratio and its interval.
fn describe(a: &Fig, b: &Fig, c: &Comparison) -> String {
    let how = match c.diff {
        Diff::Lower => "clearly lower",
        Diff::Higher => "clearly higher",
        Diff::Same => "within noise",
    };
    let ci = match c.interval {
        Some(i) => format!(", 95 % CI ×{:.2}–{:.2}", i.low, i.high),
        None => format!(
            ", {} vs {} repeat(s), ranges {}",
            a.values.len(),
            b.values.len(),
            if c.diff == Diff::Same {
                "overlap or margin not met"
            } else {
                "apart"
            }
        ),
    };
    format!(
        "{} vs {} on {}: ×{:.2} ({how}{ci})",
        a.show(),
        b.show(),
        a.profile,
        c.ratio
    )
}

/// Compares `a` against `b`; `None` (with the reason) when either lacks figures.
fn versus(a: &Fig, b: &Fig) -> Result<(Comparison, String), String> {
    match compare(&a.values, &b.values) {
        Some(c) => Ok((c, describe(a, b, &c))),
        None => Err(format!("missing figure: {} / {}", a.show(), b.show())),
    }
}

/// Compares `a` with `b` and records the part: `a` clearly lower confirms, clearly higher
/// refutes, within noise is noise, a missing figure is missing; the line says why.
fn lower_confirms(a: &Fig, b: &Fig, parts: &mut Vec<Part>, lines: &mut Vec<String>) {
    match versus(a, b) {
        Ok((c, line)) => {
            parts.push(match c.diff {
                Diff::Lower => Part::Confirms,
                Diff::Higher => Part::Refutes,
                Diff::Same => Part::Noise,
            });
            lines.push(line);
        }
        Err(e) => {
            parts.push(Part::Missing);
            lines.push(e);
        }
    }
}

fn new_verdict(id: &str, faq: &str, claim: &str, rule: &str) -> Verdict {
    Verdict {
        id: id.to_string(),
        faq: faq.to_string(),
        claim: claim.to_string(),
        rule: rule.to_string(),
        verdict: Outcome::Inconclusive,
        decided_by: String::new(),
        evidence: Vec::new(),
        caveats: Vec::new(),
    }
}

fn push_evidence(v: &mut Verdict, figs: &[&Fig]) {
    for f in figs {
        if let Some(e) = f.evidence() {
            if !v
                .evidence
                .iter()
                .any(|x| x.cell == e.cell && x.metric == e.metric)
            {
                v.evidence.push(e);
            }
        }
    }
}

fn finish(mut v: Verdict, parts: &[Part], lines: Vec<String>, none: &str) -> Verdict {
    v.verdict = combine(parts);
    v.decided_by = if lines.is_empty() {
        none.to_string()
    } else {
        lines.join("; ")
    };
    v
}

// ---------------------------------------------------------------------------------------------
// FAQ 1: peer messaging

fn peer_relay(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-relay-latency",
        "1",
        "Real-time messaging between peers without a central source of truth: WebRTC (direct, \
         peer to peer) delivers sooner than relaying through a server when the peers are closer \
         to each other than to the server.",
        "relay one-way p50 (faq-peer, workload `relay`), per profile: the fastest WebRTC data \
         channel vs WebSocket through the server. Confirmed: WebRTC clearly lower on every \
         profile; refuted: clearly higher on any; else inconclusive.",
    );
    let figs = ctx.figs(PEER, "relay", &|n| n == "relay", P50);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&figs) {
        let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
        let rtc = best(here.iter().copied().filter(|f| f.transport == "webrtc"));
        let ws = here.iter().copied().find(|f| f.transport == "websocket");
        push_evidence(&mut v, &here);
        let (Some(rtc), Some(ws)) = (rtc, ws) else {
            parts.push(Part::Missing);
            lines.push(format!(
                "{p}: webrtc or websocket relay cells missing or failed"
            ));
            continue;
        };
        lower_confirms(rtc, ws, &mut parts, &mut lines);
        if let Some(other) = best(
            here.iter()
                .copied()
                .filter(|f| !f.transport.starts_with("webrtc") && f.transport != "websocket"),
        ) {
            if other.median() < ws.median() {
                v.caveats.push(format!(
                    "{p}: the fastest server-relayed transport was {}, not WebSocket",
                    other.show()
                ));
            }
        }
    }
    vec![finish(v, &parts, lines, "no relay cells in faq-peer")]
}

fn peer_media(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut v = new_verdict(
        "peer-media-unreliable",
        "1",
        "Media-like traffic (30 fps × 1 KiB frames, 2 % loss, a frame later than 150 ms counts \
         as lost): unreliable delivery misses fewer frames than reliable delivery.",
        "fraction of frames sent that did not arrive within 150 ms (faq-peer, workload `media`), \
         per profile and implementation: webrtc-unreliable vs webrtc, and \
         webtransport-datagram vs webtransport. Confirmed: the unreliable one clearly lower in \
         every pair; refuted: clearly higher in any; else inconclusive.",
    );
    v.caveats.push(
        "latency counts only frames that arrived; a frame lost and one later than 150 ms count \
         the same"
            .into(),
    );
    let figs = ctx.figs(PEER, "relay", &|n| n == "media", MISSED_150MS);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&figs) {
        let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
        push_evidence(&mut v, &here);
        for (unrel, rel) in [
            ("webrtc-unreliable", "webrtc"),
            ("webtransport-datagram", "webtransport"),
        ] {
            for u in here.iter().filter(|f| f.transport == unrel) {
                let Some(r) = here
                    .iter()
                    .find(|f| f.transport == rel && f.implementation == u.implementation)
                else {
                    continue;
                };
                lower_confirms(u, r, &mut parts, &mut lines);
            }
        }
    }
    vec![finish(
        v,
        &parts,
        lines,
        "no reliable/unreliable pairs of `media` cells in faq-peer",
    )]
}

// ---------------------------------------------------------------------------------------------
// FAQ 2: collaboration

/// Server-authority transports of the FAQ, WebSocket's rivals in the collab rule.
const FAQ_RIVALS: &[&str] = &["sse", "long-poll", "poll", "webrtc"];

fn collab(ctx: &Ctx<'_>) -> Vec<Verdict> {
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
            push_evidence(&mut v, &here);
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
                continue;
            };
            if let Some(o) = order
                .iter()
                .find(|f| f.profile == p && f.transport == "websocket")
            {
                push_evidence(&mut v, &[o]);
                if o.values.iter().any(|x| *x > 0.0) {
                    parts.push(Part::Refutes);
                    lines.push(format!("{name}/{p}: order violations over websocket"));
                }
            }
            let mut any_higher = false;
            let mut any_lower = false;
            let mut sub = Vec::new();
            for rival in here
                .iter()
                .copied()
                .filter(|f| FAQ_RIVALS.contains(&f.transport.as_str()))
            {
                match versus(ws, rival) {
                    Ok((c, line)) => {
                        any_higher |= c.diff == Diff::Lower;
                        any_lower |= c.diff == Diff::Higher;
                        sub.push(line);
                    }
                    Err(e) => v.caveats.push(format!("{name}/{p}: {e}")),
                }
            }
            parts.push(if any_lower {
                Part::Refutes
            } else if any_higher {
                Part::Confirms
            } else if sub.is_empty() {
                Part::Missing
            } else {
                Part::Noise
            });
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
        }
    }
    vec![finish(v, &parts, lines, "no collab cells in faq-collab")]
}

// ---------------------------------------------------------------------------------------------
// FAQ 3: quiet notifications

const SSE_ORIGIN_LIMIT: &str = "browsers open at most 6 HTTP/1.1 connections per origin, and \
    every SSE stream holds one: a seventh tab (or EventSource) of the same site waits. HTTP/2 \
    lifts the limit (to the server's stream limit, 100 here); this bench's Rust clients are not \
    subject to it: the browser lane's origin-limit workload measures it (docs/faq.md)";

/// The idle workload with the most clients: its name and clients.
fn largest_idle(ctx: &Ctx<'_>) -> Option<(String, f64)> {
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
fn a_vs_b(
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
                    Diff::Same => Part::Noise,
                    d if d == confirm_when => Part::Confirms,
                    _ => Part::Refutes,
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

fn quiet_sse_vs_poll(ctx: &Ctx<'_>) -> Vec<Verdict> {
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

fn quiet_sse_scaling(ctx: &Ctx<'_>) -> Vec<Verdict> {
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

// ---------------------------------------------------------------------------------------------
// FAQ 4: mass refresh

fn refresh_poll(ctx: &Ctx<'_>) -> Vec<Verdict> {
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
        "server CPU includes connection setup (TLS handshakes), amortised over the measured \
         minutes"
            .into(),
    );
    let stale = ctx.figs(REFRESH, "push", &|_| true, P99);
    let mem = ctx.figs(REFRESH, "push", &|_| true, SERVER_BYTES_PER_CLIENT);
    let cpu = ctx.figs(REFRESH, "push", &|_| true, SERVER_CPU_MS_PER_CLIENT_MIN);
    let bytes = ctx.figs(REFRESH, "push", &|_| true, WIRE_BYTES_PER_CLIENT_MIN);
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    for p in profiles_of(&stale) {
        let pick = |figs: &'_ [Fig], t: &str| -> Option<Fig> {
            figs.iter()
                .find(|f| f.profile == p && f.transport == t)
                .cloned()
        };
        for figs in [&stale, &mem, &cpu, &bytes] {
            let here: Vec<&Fig> = figs.iter().filter(|f| f.profile == p).collect();
            push_evidence(&mut v, &here);
        }
        let Some(poll_stale) = pick(&stale, "poll").filter(|f| f.median().is_some()) else {
            parts.push(Part::Missing);
            lines.push(format!("{p}: poll cells missing or failed"));
            continue;
        };
        let clients = poll_stale
            .clients
            .map_or(String::new(), |c| format!(" ({c:.0} clients)"));
        let s = poll_stale.median().unwrap_or(f64::INFINITY);
        if s > STALENESS_BOUND_US {
            parts.push(Part::Refutes);
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
        for rival in ["sse", "websocket"] {
            for (figs, must_be_lower) in [(&mem, true), (&cpu, false)] {
                let (Some(a), Some(b)) = (pick(figs, "poll"), pick(figs, rival)) else {
                    parts.push(Part::Missing);
                    lines.push(format!("{p}: poll or {rival} cells missing"));
                    continue;
                };
                match versus(&a, &b) {
                    Ok((c, line)) => {
                        parts.push(match (c.diff, must_be_lower) {
                            (Diff::Higher, _) => Part::Refutes,
                            (Diff::Lower, _) => Part::Confirms,
                            (Diff::Same, true) => Part::Noise,
                            (Diff::Same, false) => Part::Confirms,
                        });
                        lines.push(format!("{}: {line}", a.metric.id));
                    }
                    Err(e) => {
                        parts.push(Part::Missing);
                        lines.push(e);
                    }
                }
            }
        }
    }
    vec![finish(v, &parts, lines, "no push cells in faq-refresh")]
}

// ---------------------------------------------------------------------------------------------
// Cross-cutting: setup round trips

/// Least-squares slope and intercept of `y` over `x` (needs two distinct x).
fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// The configured RTT of a cell, ms: `setup_ms / setup_rtts` (the runner divides by it).
fn cell_rtt_ms(c: &Cell) -> Option<f64> {
    let (ms, rtts) = (c.setup_ms?, c.setup_rtts?);
    (rtts > 0.0).then(|| ms / rtts)
}

fn setup_rtts(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let mut out = Vec::new();
    let keys: Vec<&KeyCells<'_>> = ctx
        .keys
        .iter()
        .filter(|k| {
            k.scenario == SETUP
                && k.ok
                    .first()
                    .or_else(|| k.not_ok().next())
                    .is_some_and(|c| c.workload == "connect")
        })
        .collect();
    let mut transports: Vec<(String, String, bool)> = Vec::new();
    for k in &keys {
        let Some(c) = k.ok.first().or_else(|| k.not_ok().next()) else {
            continue;
        };
        let t = (c.transport.clone(), c.transport_name(), k.plaintext());
        if !transports.iter().any(|x| x.1 == t.1) {
            transports.push(t);
        }
    }
    for (id, name, plaintext) in transports {
        let Some(pred) = figures::predicted_setup(&id, plaintext) else {
            continue;
        };
        let tol = if pred.approximate {
            SETUP_TOLERANCE_APPROX_RTTS
        } else {
            SETUP_TOLERANCE_RTTS
        };
        let mut v = new_verdict(
            &format!("setup-rtts-{}", name.replace(" (", "-").replace(')', "")),
            "setup",
            &format!(
                "{name} connection setup costs {}{} round trips ({}).",
                if pred.approximate { "about " } else { "" },
                pred.rtts,
                pred.basis
            ),
            &format!(
                "faq-setup, `connect` over the RTT sweep: the slope of setup time against the \
                 profile's RTT (least squares over the shaped profiles, per repeat) is the \
                 measured round-trip count, the intercept the fixed cost. Confirmed: every \
                 repeat's slope within ±{tol} RTT of the prediction; refuted: every repeat's \
                 outside; else inconclusive. With one shaped profile, setup_rtts is used."
            ),
        );
        let mine: Vec<&&KeyCells<'_>> = keys
            .iter()
            .filter(|k| {
                k.ok.first()
                    .or_else(|| k.not_ok().next())
                    .is_some_and(|c| c.transport_name() == name)
            })
            .collect();
        for k in &mine {
            for m in [SETUP_MS, SETUP_RTTS] {
                let values: Vec<f64> = k.ok.iter().filter_map(|c| m.get_from(c)).collect();
                let Some((min, max)) = min_max(&values) else {
                    continue;
                };
                v.evidence.push(Evidence {
                    cell: format!("{}/{}/{}/{}", k.scenario, k.workload, name, k.profile),
                    metric: m.id.into(),
                    unit: m.unit.into(),
                    median: stats::median(&values).unwrap_or(min),
                    min,
                    max,
                    repeats: values.len(),
                });
            }
            if k.ok.is_empty() {
                v.caveats.push(format!(
                    "{}: {}",
                    k.profile,
                    k.reason().unwrap_or("no ok repeat")
                ));
            }
        }
        // Per repeat: (rtt, setup_ms) points of the shaped profiles.
        let mut reps: std::collections::BTreeMap<u32, Vec<(f64, f64)>> = Default::default();
        for k in &mine {
            for c in &k.ok {
                if let (Some(rtt), Some(ms)) = (cell_rtt_ms(c), c.setup_ms) {
                    reps.entry(c.repeat).or_default().push((rtt, ms));
                }
            }
        }
        let mut slopes = Vec::new();
        let mut intercepts = Vec::new();
        for pts in reps.values() {
            match fit_line(pts) {
                Some((s, i)) => {
                    slopes.push(s);
                    intercepts.push(i);
                }
                None => {
                    if let [(rtt, ms)] = pts.as_slice() {
                        slopes.push(ms / rtt);
                    }
                }
            }
        }
        let Some((smin, smax)) = min_max(&slopes) else {
            v.decided_by = "no setup figures on a shaped profile".into();
            out.push(v);
            continue;
        };
        // Where the round trips go, at the largest RTT measured.
        if let Some((k, rtt)) = mine
            .iter()
            .filter_map(|k| Some((k, k.ok.iter().find_map(|c| cell_rtt_ms(c))?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            let mut names: Vec<&String> =
                k.ok.iter().flat_map(|c| c.setup_phases_ms.keys()).collect();
            names.sort();
            names.dedup();
            let phases: Vec<String> = names
                .iter()
                .filter_map(|n| {
                    let v: Vec<f64> =
                        k.ok.iter()
                            .filter_map(|c| c.setup_phases_ms.get(*n).copied())
                            .collect();
                    let m = stats::median(&v)?;
                    Some(format!("{n} {:.2}", m / rtt))
                })
                .collect();
            if !phases.is_empty() {
                v.caveats.push(format!(
                    "phases on {} in RTT (mean per connection): {}",
                    k.profile,
                    phases.join(", ")
                ));
            }
        }
        let sm = stats::median(&slopes).unwrap_or(smin);
        let within = |s: f64| (s - pred.rtts).abs() <= tol;
        v.verdict = if slopes.iter().all(|s| within(*s)) {
            Outcome::Confirmed
        } else if slopes.iter().all(|s| !within(*s)) {
            Outcome::Refuted
        } else {
            Outcome::Inconclusive
        };
        v.evidence.push(Evidence {
            cell: format!("{SETUP}/connect/{name}/(RTT sweep fit)"),
            metric: "setup_rtts_slope".into(),
            unit: "RTT".into(),
            median: sm,
            min: smin,
            max: smax,
            repeats: slopes.len(),
        });
        let fixed =
            stats::median(&intercepts).map_or(String::new(), |i| format!(", fixed cost {i:.1} ms"));
        v.decided_by = format!(
            "measured {sm:.2} RTT (repeats {smin:.2}–{smax:.2}{fixed}) vs predicted {}{} ± {tol}",
            if pred.approximate { "≈" } else { "" },
            pred.rtts
        );
        out.push(v);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cross-cutting: head-of-line blocking

fn hol(ctx: &Ctx<'_>) -> Vec<Verdict> {
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
    let _ = writeln!(s, "## FAQ verdicts\n");
    let _ = writeln!(s, "| faq | claim | verdict | decided by |");
    let _ = writeln!(s, "|---|---|---|---|");
    for v in verdicts {
        let _ = writeln!(
            s,
            "| {} | `{}` | **{}** | {} |",
            v.faq,
            v.id,
            v.verdict.as_str(),
            v.decided_by.replace('|', "\\|")
        );
    }
    for v in verdicts {
        let _ = writeln!(s, "\n### `{}`: {}\n", v.id, v.verdict.as_str());
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
        let _ = writeln!(
            s,
            "{:<28} {:<13} {}",
            v.id,
            v.verdict.as_str(),
            v.decided_by
        );
    }
    s
}

#[cfg(test)]
mod tests {
    //! Every rule on synthetic results that should confirm it, refute it and leave it
    //! inconclusive. Latency summaries carry real histograms where a rule reads them.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::{Delivery, Host, Latency, Resources, Status, Wire, SCHEMA};

    fn results(cells: Vec<Cell>) -> Results {
        Results {
            schema: SCHEMA.into(),
            version: "0".into(),
            git: None,
            started_at: "2026-11-24T00:00:00Z".into(),
            host: Host::default(),
            netem_backend: "userspace".into(),
            cells,
            verdicts: Vec::new(),
        }
    }

    /// A latency summary whose histogram holds `n` samples of each value.
    fn latency(values: &[u64]) -> Latency {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in values {
            h.record_n(*v, 10).unwrap();
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

    /// Three repeats of a cell with a latency of `us` (±1 %) at every percentile.
    fn lat_cells(k: &C<'_>, us: u64) -> Vec<Cell> {
        (1..=3)
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

    #[test]
    fn compare_uses_bootstrap_with_enough_repeats_and_ranges_without() {
        let c = compare(&[10.0, 11.0, 10.5], &[20.0, 21.0, 19.0]).unwrap();
        assert_eq!(c.diff, Diff::Lower);
        assert!(c.interval.is_some_and(|i| i.high < 1.0));
        assert_eq!(
            compare(&[20.0, 21.0, 19.0], &[10.0, 11.0, 10.5])
                .unwrap()
                .diff,
            Diff::Higher
        );
        // Within the 10 % margin.
        assert_eq!(
            compare(&[10.0, 10.1, 10.2], &[10.5, 10.6, 10.7])
                .unwrap()
                .diff,
            Diff::Same
        );
        // Two repeats: ranges must not overlap.
        let c = compare(&[10.0, 30.0], &[20.0, 21.0]).unwrap();
        assert_eq!((c.diff, c.interval), (Diff::Same, None));
        assert_eq!(
            compare(&[10.0, 11.0], &[20.0, 21.0]).unwrap().diff,
            Diff::Lower
        );
        assert!(compare(&[], &[1.0]).is_none());
        // Zeros compare: 0 is clearly lower than 0.1.
        assert_eq!(compare(&[0.0], &[0.1]).unwrap().diff, Diff::Lower);
        assert_eq!(compare(&[0.0], &[0.0]).unwrap().diff, Diff::Same);
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
            cells.extend(lat_cells(&relay("webrtc", Some("webrtc-rs")), rtc * 2));
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
            .any(|e| e.cell == "faq-peer/relay/webrtc (str0m)/peers-near" && e.repeats == 3));
        assert!(v.decided_by.contains("webrtc (str0m)"), "{}", v.decided_by);
    }

    /// Three repeats of a media cell: `sent` frames, of which `on_time` arrived within 150 ms
    /// and `late` after it.
    fn media_cells(t: &'static str, sent: u64, on_time: u64, late: u64) -> Vec<Cell> {
        let k = C {
            name: "media",
            ..relay(t, Some("str0m"))
        };
        (1..=3)
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
            for r in 1..=3 {
                cells.push(cell(&k, r, |c| {
                    let ms = 2.0 + per_rtt(r) * rtt;
                    c.setup_ms = Some(ms);
                    c.setup_rtts = Some(ms / rtt);
                }));
            }
        }
        cells
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
        let vs = evaluate(&results(connect("webtransport", &|_| 2.0)));
        let v = only(&vs, "setup-rtts-webtransport");
        assert_eq!(v.verdict, Outcome::Confirmed);
        assert!(
            v.decided_by.contains("fixed cost 2.0 ms"),
            "{}",
            v.decided_by
        );
        // WebRTC's prediction is approximate (± 1 RTT).
        assert_eq!(
            outcome(connect("webrtc", &|_| 4.8), "setup-rtts-webrtc"),
            Outcome::Confirmed
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
