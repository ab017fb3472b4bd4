//! The answer first: for each workload on each link of a run, the transports ranked on the
//! workload's figure of merit, and — where the FAQ scenarios ran — `recommend`'s ranking for
//! the common cases. report.html and summary.md both open with it ([`crate::html`],
//! [`Answer::markdown`]), so a reader learns *which transport for my case* before any table.
//!
//! **Ranking.** Per (scenario, workload, profile), the transports with a figure are ordered on
//! the workload's figure of merit ([`merit`]): p50 latency for echo, push, relay and collab;
//! goodput for download and upload; setup time for connect; server memory per connection for
//! idle; recovery time for flap. Figures are medians over the ok repeats
//! ([`crate::figures::KeyCells::spread`], the ones every table shows). Each carries its ratio
//! to the best (value ÷ best's value, so 1.00× is the best and a goodput of 0.5× is half the
//! best's) and to the raw-TCP floor (value ÷ tcp's value), which is shown but never ranked:
//! browsers cannot open raw TCP. With two or more repeats, a transport whose repeat range
//! overlaps the one ranked above it shares its rank (`1, 1, 3`): the run cannot tell them
//! apart. Lossy latency rows show their loss beside the figure; a row without a figure (failed,
//! skipped, or a percentile the delivered fraction cannot give) is listed unranked with why.

use crate::figures::{self, KeyCells, Spread};
use crate::metrics::{self as m, Better, Metric, MetricKind};
use crate::model::Results;
use crate::recommend::{self, Connectivity, Recommendation, Traits};

mod markdown;

/// A workload's figure of merit: what it is ranked on, and a second figure shown beside it.
#[derive(Debug, Clone, Copy)]
pub struct Merit {
    /// The figure ranked on.
    pub metric: &'static Metric,
    /// Shown beside it, not ranked on (p99 beside p50, setup round trips beside setup time).
    pub also: Option<&'static Metric>,
    /// What the figure measures for this workload, in words (`round trip`).
    pub what: &'static str,
}

/// The figure of merit of a workload id.
pub fn merit(workload: &str) -> Merit {
    let latency = |what| Merit {
        metric: m::LATENCY_P50,
        also: Some(m::LATENCY_P99),
        what,
    };
    match workload {
        "echo" => latency("round trip"),
        "push" => latency("server → client, one way"),
        "relay" => latency("client → client, one way"),
        "collab" => latency("op → delivered to every client"),
        "origin-limit" => latency("time to each stream's first event"),
        "download" | "upload" => Merit {
            metric: m::GOODPUT,
            also: None,
            what: "bulk goodput",
        },
        "connect" => Merit {
            metric: m::SETUP_MS,
            also: Some(m::SETUP_RTTS),
            what: "cold connection setup; ÷ tcp = round trips of the link as measured, tcp's \
                   setup being one handshake",
        },
        "idle" => Merit {
            metric: m::SERVER_BYTES_PER_CONN,
            also: Some(m::LATENCY_P50),
            what: "server memory per quiet connection",
        },
        "flap" => Merit {
            metric: m::FLAP_RECOVERY_MS,
            also: None,
            what: "recovery after the link is cut",
        },
        _ => latency("latency"),
    }
}

/// One transport's place in a ranking.
#[derive(Debug, Clone)]
pub struct Place {
    /// Rank from 1 (tied transports share one); `None` for the tcp floor and rows without a
    /// figure.
    pub rank: Option<usize>,
    /// Whether its repeat range overlaps the one ranked above it (it shares that rank).
    pub tied: bool,
    /// Transport as shown (`webrtc (str0m)`).
    pub transport: String,
    /// Transport id (`webrtc`), for its colour.
    pub id: String,
    /// Which of its transport's implementations it is ([`figures::variant`]): drawn solid
    /// (0) or hatched, as in the charts.
    pub variant: usize,
    /// The figure of merit over the ok repeats.
    pub figure: Option<Spread>,
    /// Median of the second figure ([`Merit::also`]).
    pub also: Option<f64>,
    /// Figure ÷ the best's.
    pub vs_best: Option<f64>,
    /// Figure ÷ the tcp floor's.
    pub vs_tcp: Option<f64>,
    /// Frames lost among those a latency figure counts, when any were.
    pub lost: Option<f64>,
    /// The raw-TCP floor (shown, not ranked).
    pub floor: bool,
    /// Why it has no figure (failed, skipped, a percentile out of reach).
    pub note: Option<String>,
    /// In how many repeats the load generator could not keep its schedule (`2 of 3
    /// repeats`), when any: the figure partly measures wirebench itself.
    pub harness_bound: Option<String>,
}

/// The ranking of one workload on one link.
#[derive(Debug, Clone)]
pub struct Group {
    /// Scenario name.
    pub scenario: String,
    /// Workload as named in the scenario.
    pub workload: String,
    /// Profile name.
    pub profile: String,
    /// What it is ranked on.
    pub merit: Merit,
    /// Ranked first, then the floor, then unranked rows.
    pub places: Vec<Place>,
    /// The FAQ verdicts whose evidence reads this workload on this link, one entry per
    /// outcome (`confirmed: setup-rtts-tcp, setup-rtts-sse`).
    pub verdicts: Vec<String>,
}

impl Group {
    /// `echo · loopback` (the scenario first when the run has several and it is not named
    /// like the workload).
    pub fn title(&self, with_scenario: bool) -> String {
        if with_scenario && self.scenario != self.workload {
            format!("{} · {} · {}", self.scenario, self.workload, self.profile)
        } else {
            format!("{} · {}", self.workload, self.profile)
        }
    }

    /// `p50 latency (round trip), lower is better`.
    pub fn subtitle(&self) -> String {
        format!(
            "{} ({}), {} is better",
            self.merit.metric.label,
            self.merit.what,
            match self.merit.metric.better {
                Better::Smaller => "lower",
                Better::Bigger => "higher",
            }
        )
    }

    /// The second figure's metric, when some place has it.
    pub fn also(&self) -> Option<&'static Metric> {
        self.merit
            .also
            .filter(|_| self.places.iter().any(|p| p.also.is_some()))
    }

    /// Whether the group has a tcp floor to compare with.
    pub fn has_floor(&self) -> bool {
        self.places.iter().any(|p| p.floor && p.figure.is_some())
    }

    /// Whether some place is harness-bound (its figure then carries [`HARNESS_MARK`]).
    pub fn any_harness_bound(&self) -> bool {
        self.places.iter().any(|p| p.harness_bound.is_some())
    }

    /// The figure of a place as shown: the median (marked when harness-bound), with the loss
    /// beside a lossy latency.
    pub fn figure_text(&self, p: &Place) -> String {
        let (mut s, lost) = self.figure_parts(p);
        if let Some(l) = lost {
            s.push_str(" · ");
            s.push_str(&l);
        }
        s
    }

    /// A place's figure as shown (with the harness-bound mark) and, apart, its loss
    /// (`0.02 % lost`) when the figure is a latency with frames lost: the HTML card puts the
    /// loss on a line of its own so the column stays narrow.
    pub fn figure_parts(&self, p: &Place) -> (String, Option<String>) {
        let mut s = p
            .figure
            .map_or_else(|| "–".to_string(), |f| self.merit.metric.show(f.median));
        if p.harness_bound.is_some() {
            s.push_str(HARNESS_MARK);
        }
        (s, p.lost.map(crate::format::lost_pct))
    }

    /// The second figure of a place as shown (`–` when absent).
    pub fn also_text(&self, p: &Place) -> String {
        match (self.merit.also, p.also) {
            (Some(a), Some(v)) => a.show(v),
            _ => "–".into(),
        }
    }
}

/// `recommend`'s ranking for one common case, with the command that reproduces it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case in words (`real-time collaboration, a few clients, one source of truth`).
    pub title: &'static str,
    /// The rule of thumb's answer for it, which the ranking confirms or not.
    pub folklore: &'static str,
    /// The transport id the rule of thumb names.
    pub expect: &'static str,
    /// `wirebench recommend …` with these traits.
    pub command: String,
    /// The ranking.
    pub rec: Recommendation,
}

/// What report.html and summary.md open with.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Caveats every reader must see before the figures (scale, repeats, loopback).
    pub caveats: Vec<String>,
    /// Whether the run was CI-scale (`--quick`): every ranking is indicative.
    pub indicative: bool,
    /// `recommend`'s rankings for the common cases whose FAQ scenarios ran.
    pub cases: Vec<Case>,
    /// Per (scenario, workload, profile), in run order.
    pub groups: Vec<Group>,
    /// Whether the run has more than one scenario (titles then name it).
    pub several_scenarios: bool,
}

/// The common cases of the rule of thumb, as `recommend` traits.
const CASES: &[(&str, &str, &str, &str, Connectivity, u32, bool)] = &[
    (
        "video call or real-time messaging between peers, no central source of truth",
        "WebRTC",
        "webrtc",
        "--topology p2p --clients 2",
        Connectivity::P2p,
        2,
        false,
    ),
    (
        "real-time collaboration, a few clients, one source of truth",
        "WebSockets",
        "websocket",
        "--topology server --clients 10",
        Connectivity::Server,
        10,
        false,
    ),
    (
        "notifications after long quiet periods",
        "SSE (beware of scaling the number of clients)",
        "sse",
        "--topology server --clients 1000 --quiet-periods",
        Connectivity::Server,
        1000,
        true,
    ),
    (
        "refreshing data for a huge number of clients",
        "polling",
        "poll",
        "--topology server --clients 10000",
        Connectivity::Server,
        10_000,
        false,
    ),
];

impl Answer {
    /// The answer of a results file.
    pub fn of(r: &Results) -> Self {
        let keys = figures::keys(r);
        let groups = groups(r, &keys);
        let indicative = figures::quick_scale(r);
        let scenarios = figures::distinct(keys.iter().map(|k| k.scenario));
        Self {
            caveats: caveats(&keys, indicative),
            indicative,
            cases: cases(r),
            groups,
            several_scenarios: scenarios.len() > 1,
        }
    }
}

/// `recommend`'s ranking for each common case whose scenarios are in the results.
fn cases(r: &Results) -> Vec<Case> {
    CASES
        .iter()
        .filter_map(
            |&(title, folklore, expect, flags, topology, clients, quiet)| {
                let traits = Traits {
                    topology,
                    clients,
                    rate: 10.0,
                    size: 256,
                    quiet_periods: quiet,
                    loss_tolerant: false,
                    profile: None,
                };
                let present = recommend::needed_scenarios(&traits)
                    .iter()
                    .any(|s| r.cells.iter().any(|c| c.scenario == *s));
                let rec = recommend::recommend(r, &traits);
                (present && rec.ranked_any()).then(|| Case {
                    title,
                    folklore,
                    expect,
                    command: format!("wirebench recommend {flags} --results results.json"),
                    rec,
                })
            },
        )
        .collect()
}

/// The caveats shown before any figure.
fn caveats(keys: &[KeyCells<'_>], indicative: bool) -> Vec<String> {
    let mut out = Vec::new();
    if indicative {
        out.push(
            "Indicative only: a CI-scale (`--quick`) run, with fewer clients and repeats and \
             shorter runs than the full scale. Decide on a full run."
                .to_string(),
        );
    }
    let repeats = keys.iter().map(|k| k.ok.len()).max().unwrap_or(0);
    if repeats <= 1 {
        out.push(
            "One repeat per cell: run-to-run noise is not measured, so close figures cannot be \
             told apart. Run with `--repeat 5` (or more) before deciding."
                .to_string(),
        );
    } else {
        out.push(format!(
            "Medians over up to {repeats} repeats; transports whose repeat ranges overlap share \
             a rank (=)."
        ));
    }
    if keys.iter().any(|k| k.profile == "loopback") {
        out.push(
            "`loopback` has no network: it ranks the software stacks. The shaped profiles show \
             what a real link adds."
                .to_string(),
        );
    }
    if keys
        .iter()
        .flat_map(|k| &k.ok)
        .any(|c| c.is_harness_bound())
    {
        out.push(
            "Figures marked † are harness-bound: in some repeats the load generator could not \
             keep its open-loop schedule, so they partly measure wirebench itself."
                .to_string(),
        );
    }
    let not_ok = keys.iter().filter(|k| k.ok.is_empty()).count();
    if not_ok > 0 {
        out.push(format!(
            "{not_ok} cell key(s) have no successful repeat: listed unranked, with the reason."
        ));
    }
    out
}

/// The rankings, one per (scenario, workload, profile), in run order.
fn groups(r: &Results, keys: &[KeyCells<'_>]) -> Vec<Group> {
    let verdicts = crate::verdicts::read(r);
    let mut out: Vec<(Group, Vec<&KeyCells<'_>>)> = Vec::new();
    for k in keys {
        let found = out.iter_mut().find(|(g, _)| {
            g.scenario == k.scenario && g.workload == k.workload && g.profile == k.profile
        });
        match found {
            Some((_, ks)) => ks.push(k),
            None => {
                let id =
                    k.ok.iter()
                        .chain(k.not_ok())
                        .next()
                        .map_or(k.workload.as_str(), |c| c.workload.as_str());
                let g = Group {
                    scenario: k.scenario.to_string(),
                    workload: k.workload.clone(),
                    profile: k.profile.to_string(),
                    merit: merit(id),
                    places: Vec::new(),
                    verdicts: Vec::new(),
                };
                out.push((g, vec![k]));
            }
        }
    }
    out.into_iter()
        .map(|(mut g, ks)| {
            // Variants as the workload's section of the report numbers them.
            let section: Vec<&KeyCells<'_>> = keys
                .iter()
                .filter(|o| o.scenario == g.scenario && o.workload == g.workload)
                .collect();
            g.places = rank(g.merit, &ks, &section);
            let cell_prefix = format!("{}/{}/", g.scenario, g.workload);
            let cell_suffix = format!("/{}", g.profile);
            let read_here = verdicts.iter().filter(|v| {
                v.evidence
                    .iter()
                    .any(|e| e.cell.starts_with(&cell_prefix) && e.cell.ends_with(&cell_suffix))
            });
            // One entry per outcome: `confirmed (indicative): setup-rtts-tcp, setup-rtts-sse`.
            let mut by_outcome: Vec<(String, Vec<&str>)> = Vec::new();
            for v in read_here {
                let label = if v.indicative {
                    format!("{} (indicative)", v.verdict.as_str())
                } else {
                    v.verdict.as_str().to_string()
                };
                match by_outcome.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, ids)) => ids.push(&v.id),
                    None => by_outcome.push((label, vec![&v.id])),
                }
            }
            g.verdicts = by_outcome
                .into_iter()
                .map(|(l, ids)| format!("{l}: {}", ids.join(", ")))
                .collect();
            g
        })
        .collect()
}

/// One key's place before ranking; `section` numbers its variant.
fn place(merit: Merit, k: &KeyCells<'_>, section: &[&KeyCells<'_>]) -> Place {
    let figure = k.spread(merit.metric);
    let note = if k.ok.is_empty() {
        Some(match k.reason() {
            Some(why) if !k.failed.is_empty() => format!("failed: {why}"),
            Some(why) => format!("skipped: {why}"),
            None => "no successful repeat".to_string(),
        })
    } else if figure.is_none() {
        Some(
            k.gap(merit.metric)
                .unwrap_or_else(|| format!("no {} measured", merit.metric.label)),
        )
    } else {
        None
    };
    let bound = k.ok.iter().filter(|c| c.is_harness_bound()).count();
    let lost = (merit.metric.kind == MetricKind::Latency)
        .then(|| k.lost_fraction())
        .flatten()
        .filter(|l| *l > 0.0);
    Place {
        rank: None,
        tied: false,
        transport: k.transport_name(),
        id: k.transport.to_string(),
        variant: figures::variant(section, k),
        figure,
        also: merit.also.and_then(|a| k.spread(a)).map(|s| s.median),
        vs_best: None,
        vs_tcp: None,
        lost,
        floor: k.transport == "tcp",
        note,
        harness_bound: (bound > 0).then(|| format!("{bound} of {} repeats", k.ok.len())),
    }
}

/// Ranks the keys of one group: ranked places best first, then the floor, then the rest.
fn rank(merit: Merit, keys: &[&KeyCells<'_>], section: &[&KeyCells<'_>]) -> Vec<Place> {
    let mut places: Vec<Place> = keys.iter().map(|k| place(merit, k, section)).collect();
    let bigger = merit.metric.better == Better::Bigger;
    let order = |p: &Place| p.figure.map_or(f64::NAN, |f| f.median);
    places.sort_by(|a, b| {
        let class = |p: &Place| match (p.figure.is_some(), p.floor) {
            (true, false) => 0,
            (true, true) => 1,
            (false, _) => 2,
        };
        class(a).cmp(&class(b)).then_with(|| {
            let o = order(a).total_cmp(&order(b));
            if bigger {
                o.reverse()
            } else {
                o
            }
        })
    });
    let best = places
        .iter()
        .find(|p| !p.floor)
        .and_then(|p| p.figure)
        .map(|f| f.median);
    let floor = places
        .iter()
        .find(|p| p.floor)
        .and_then(|p| p.figure)
        .map(|f| f.median);
    let ratio = |v: f64, to: Option<f64>| to.filter(|t| *t > 0.0).map(|t| v / t);
    let mut above: Option<(usize, Spread)> = None;
    for (i, p) in places.iter_mut().enumerate() {
        let Some(f) = p.figure else { continue };
        p.vs_best = ratio(f.median, best);
        p.vs_tcp = ratio(f.median, floor);
        if p.floor {
            continue;
        }
        let tied = above.is_some_and(|(_, a)| overlap(a, f));
        p.tied = tied;
        let r = match above {
            Some((r, _)) if tied => r,
            _ => i + 1,
        };
        p.rank = Some(r);
        above = Some((r, f));
    }
    places
}

/// Whether two spreads of two or more repeats each overlap (the run cannot order them).
fn overlap(a: Spread, b: Spread) -> bool {
    a.n >= 2 && b.n >= 2 && a.min <= b.max && b.min <= a.max
}

/// Marks a harness-bound figure.
pub const HARNESS_MARK: &str = " †";

/// Says what [`HARNESS_MARK`] means, under a ranking that has one.
pub const HARNESS_NOTE: &str = "† harness-bound in some repeats: the load generator fell \
     behind its open-loop schedule, so the figure partly measures wirebench itself.";

/// A ratio as shown: `1.00×`, `2.4×`, `37×`.
pub fn ratio_text(r: Option<f64>) -> String {
    match r {
        None => "–".into(),
        Some(v) if v >= 9.95 => format!("{v:.0}×"),
        Some(v) if v >= 1.995 => format!("{v:.1}×"),
        Some(v) => format!("{v:.2}×"),
    }
}

#[cfg(test)]
mod tests;
