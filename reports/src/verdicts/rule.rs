//! What every FAQ rule shares: the scenario names and thresholds, the noise rule that decides
//! "A is clearly lower than B" ([`compare`]), and reading a scenario's cells into figures
//! (median, min, max over repeats) with the parts a verdict is assembled from.

use std::collections::BTreeSet;

use crate::figures::{self, KeyCells};
use crate::format::value_with_unit as fmt_value;
use crate::model::{Cell, Evidence, Outcome, Results, Verdict};
use crate::stats::{self, Beyond, BootstrapOptions, Interval};

use super::metrics::FaqMetric;

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
/// Mass refresh: data may be at most this stale (5 s).
pub const STALENESS_BOUND_US: f64 = 5_000_000.0;
/// How far measured setup round trips may lie from an exact protocol prediction.
pub const SETUP_TOLERANCE_RTTS: f64 = 0.5;
/// … and from an approximate one (WebRTC).
pub const SETUP_TOLERANCE_APPROX_RTTS: f64 = 1.0;

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
pub struct PairComparison {
    /// The call.
    pub diff: Diff,
    /// `median(a) / median(b)`.
    pub ratio: f64,
    /// The bootstrap interval of the ratio, when both sides had enough repeats.
    pub interval: Option<Interval>,
}

/// Compares per-repeat figures `a` and `b` by the noise rule (module docs); `None` when a side
/// has no figures.
pub fn compare(a: &[f64], b: &[f64]) -> Option<PairComparison> {
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
    // With too few repeats for a bootstrap, the ranges of the repeats must not overlap: the
    // interval of ratios is then [amin / bmax, amax / bmin], and the same rule applies.
    let side = match interval {
        Some(ci) => ci.beyond((1.0, 1.0)),
        None if amax < bmin => Beyond::Below,
        None if amin > bmax => Beyond::Above,
        None => Beyond::Within,
    };
    let (lower_apart, higher_apart) = (side == Beyond::Below, side == Beyond::Above);
    let diff = if ratio <= 1.0 - MARGIN && lower_apart {
        Diff::Lower
    } else if ratio >= 1.0 / (1.0 - MARGIN) && higher_apart {
        Diff::Higher
    } else {
        Diff::Same
    };
    Some(PairComparison {
        diff,
        ratio,
        interval,
    })
}

pub(super) fn min_max(v: &[f64]) -> Option<(f64, f64)> {
    let min = v.iter().copied().reduce(f64::min)?;
    let max = v.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

// ---------------------------------------------------------------------------------------------
// Reading cells

/// One cell key's per-repeat figures of one metric.
#[derive(Debug, Clone)]
pub(super) struct Fig {
    /// `scenario/workload/transport/profile`.
    pub(super) cell: String,
    /// Transport id.
    pub(super) transport: String,
    /// Transport as shown (`webrtc (str0m)`).
    pub(super) name: String,
    /// Implementation, if any.
    pub(super) implementation: Option<String>,
    /// Profile name.
    pub(super) profile: String,
    /// The figure of each ok repeat that had it.
    pub(super) values: Vec<f64>,
    /// Why there are no values (failed/skipped reason, or the figure missing).
    pub(super) why_none: String,
    pub(super) metric: FaqMetric,
    /// Median `params.clients` of the ok repeats.
    pub(super) clients: Option<f64>,
    /// The profile's mean loss (`params.link`), when recorded.
    pub(super) loss: Option<f64>,
}

impl Fig {
    pub(super) fn median(&self) -> Option<f64> {
        stats::median(&self.values)
    }

    pub(super) fn evidence(&self) -> Option<Evidence> {
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

    pub(super) fn show(&self) -> String {
        match self.median() {
            Some(m) => format!("{} {}", self.name, fmt_value(m, self.metric.unit)),
            None => format!("{}: no figure ({})", self.name, self.why_none),
        }
    }
}

/// Mean loss of a cell's link (`params.link`: `loss` and Gilbert-Elliott, either direction's
/// override ignored).
pub(super) fn link_loss(c: &Cell) -> Option<f64> {
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

pub(super) struct Ctx<'a> {
    pub(super) keys: Vec<KeyCells<'a>>,
    pub(super) scenarios: BTreeSet<&'a str>,
    pub(super) quick: bool,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(r: &'a Results) -> Self {
        Self {
            keys: figures::keys(r),
            scenarios: r.cells.iter().map(|c| c.scenario.as_str()).collect(),
            quick: r
                .cells
                .iter()
                .any(|c| c.params.get("quick").and_then(|v| v.as_bool()) == Some(true)),
        }
    }

    pub(super) fn has_scenario(&self, s: &str) -> bool {
        self.scenarios.contains(s)
    }

    /// Figures of every key of `scenario` whose workload name passes `name` and whose
    /// workload id is `workload`.
    pub(super) fn figs(
        &self,
        scenario: &str,
        workload: &str,
        name: &dyn Fn(&str) -> bool,
        m: FaqMetric,
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
    pub(super) fn names(&self, scenario: &str, workload: &str) -> Vec<String> {
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

pub(super) fn profiles_of(figs: &[Fig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in figs {
        if !out.contains(&f.profile) {
            out.push(f.profile.clone());
        }
    }
    out
}

/// The figure with the lowest median among `figs` with a figure.
pub(super) fn best<'f>(figs: impl Iterator<Item = &'f Fig>) -> Option<&'f Fig> {
    figs.filter(|f| f.median().is_some()).min_by(|a, b| {
        a.median()
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.median().unwrap_or(f64::INFINITY))
    })
}

/// One comparison's contribution to a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
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
pub(super) fn combine(parts: &[Part]) -> Outcome {
    if parts.contains(&Part::Refutes) {
        Outcome::Refuted
    } else if !parts.is_empty() && parts.iter().all(|p| *p == Part::Confirms) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    }
}

/// "a vs b" in words with the ratio and its interval.
pub(super) fn describe(a: &Fig, b: &Fig, c: &PairComparison) -> String {
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
pub(super) fn versus(a: &Fig, b: &Fig) -> Result<(PairComparison, String), String> {
    match compare(&a.values, &b.values) {
        Some(c) => Ok((c, describe(a, b, &c))),
        None => Err(format!("missing figure: {} / {}", a.show(), b.show())),
    }
}

/// Compares `a` with `b` and records the part: `a` clearly lower confirms, clearly higher
/// refutes, within noise is noise, a missing figure is missing; the line says why.
pub(super) fn lower_confirms(a: &Fig, b: &Fig, parts: &mut Vec<Part>, lines: &mut Vec<String>) {
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

pub(super) fn new_verdict(id: &str, faq: &str, claim: &str, rule: &str) -> Verdict {
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

pub(super) fn push_evidence(v: &mut Verdict, figs: &[&Fig]) {
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

pub(super) fn finish(mut v: Verdict, parts: &[Part], lines: Vec<String>, none: &str) -> Verdict {
    v.verdict = combine(parts);
    v.decided_by = if lines.is_empty() {
        none.to_string()
    } else {
        lines.join("; ")
    };
    v
}
