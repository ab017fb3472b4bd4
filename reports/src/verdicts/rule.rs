//! What every FAQ rule shares: the scenario names and thresholds, the noise rule that decides
//! "A is clearly lower than B" ([`compare`]), and reading a scenario's cells into figures
//! (median, min, max over repeats) with the parts a verdict is assembled from.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::figures::{self, KeyCells};
use crate::format::value_with_unit as fmt_value;
use crate::model::{Cell, Evidence, Outcome, Results, Verdict};
use crate::stats;

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
/// Scenario of the reverse-proxy verdicts (`scenarios/faq/proxy.toml`).
pub const PROXY: &str = "faq-proxy";
/// Scenario of the congested-uplink verdict (`scenarios/faq/load.toml`).
pub const LOAD: &str = "faq-load";
/// Scenario of the NAT and TURN verdicts (`scenarios/faq/nat.toml`).
pub const NAT: &str = "faq-nat";

/// Relative margin a difference must exceed to count (10 %).
pub const MARGIN: f64 = 0.10;
/// Family-wise significance level of a verdict: each comparison's one-sided Mann–Whitney p,
/// after Holm's correction over the verdict's comparisons, must be at most this.
pub const ALPHA: f64 = 0.05;
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
    /// One-sided exact Mann–Whitney p that A is lower than B.
    pub p_lower: f64,
    /// … that A is higher than B.
    pub p_higher: f64,
    /// Repeats compared on each side.
    pub repeats: (usize, usize),
}

impl PairComparison {
    /// The p-value in the direction of the medians (lower when `ratio` < 1): the test a
    /// decision rests on, and what Holm's correction ranks.
    pub fn p(&self) -> f64 {
        if self.ratio < 1.0 {
            self.p_lower
        } else {
            self.p_higher
        }
    }
}

/// Compares per-repeat figures `a` and `b` by the noise rule (module docs): A is clearly lower
/// when the one-sided exact Mann–Whitney test gives p <= [`ALPHA`] **and** the ratio of medians
/// is at most `1 − MARGIN`; mirrored for higher. `None` when a side has no figures.
pub fn compare(a: &[f64], b: &[f64]) -> Option<PairComparison> {
    let ma = stats::median(a)?;
    let mb = stats::median(b)?;
    let ratio = stats::ratio(ma, mb);
    let p_lower = stats::mann_whitney_lower(a, b)?;
    let p_higher = stats::mann_whitney_lower(b, a)?;
    let diff = if ratio <= 1.0 - MARGIN && p_lower <= ALPHA {
        Diff::Lower
    } else if ratio >= 1.0 / (1.0 - MARGIN) && p_higher <= ALPHA {
        Diff::Higher
    } else {
        Diff::Same
    };
    Some(PairComparison {
        diff,
        ratio,
        p_lower,
        p_higher,
        repeats: (a.len(), b.len()),
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
    /// Every repeat was skipped (not run here by design, `why_none` says why): a rule that
    /// judges every implementation leaves it out rather than waiting on it.
    pub(super) skipped: bool,
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

/// The figure of every repeat of `k`, or none with the reason: a failed repeat or a
/// harness-bound one leaves the key without figures (the comparison is then inconclusive, not
/// decided on the good runs only or on the load generator's stalls).
fn repeat_values(k: &KeyCells<'_>, m: FaqMetric) -> (Vec<f64>, String) {
    if let Some(c) = k.failed.first() {
        let why = c.error.as_deref().unwrap_or("no reason recorded");
        return (Vec::new(), format!("repeat {} failed: {why}", c.repeat));
    }
    if let Some(c) = k.ok.iter().find(|c| c.is_harness_bound()) {
        let late = c
            .harness_bound
            .as_ref()
            .map_or(0, |h| h.send_lateness_p99_us);
        return (
            Vec::new(),
            format!(
                "repeat {} harness-bound (sender lateness p99 {late} µs)",
                c.repeat
            ),
        );
    }
    let values: Vec<f64> = k.ok.iter().filter_map(|c| m.get_from(c)).collect();
    let why_none = match k.reason() {
        Some(r) if k.ok.is_empty() => r.to_string(),
        _ if k.ok.is_empty() => "no ok repeat".to_string(),
        _ => format!("{} not recorded", m.id),
    };
    (values, why_none)
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
            quick: figures::quick_scale(r),
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
                let (values, why_none) = repeat_values(k, m);
                Some(Fig {
                    cell: k.cell_name(),
                    transport: k.transport.to_string(),
                    name: first.transport_name(),
                    implementation: first.implementation.clone(),
                    profile: k.profile.to_string(),
                    values,
                    why_none,
                    skipped: k.ok.is_empty() && k.failed.is_empty(),
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

/// The figures of `figs` that were run here; a key skipped by design (an implementation that
/// cannot do what the workload needs) is left out, with a caveat saying why.
pub(super) fn run_here<'f>(
    figs: impl Iterator<Item = &'f Fig>,
    caveats: &mut Vec<String>,
) -> Vec<&'f Fig> {
    figs.filter(|f| {
        if f.skipped {
            let c = format!("{} not judged, not run here: {}", f.name, f.why_none);
            if !caveats.contains(&c) {
                caveats.push(c);
            }
        }
        !f.skipped
    })
    .collect()
}

/// The figure with the lowest median among `figs` with a figure.
pub(super) fn best<'f>(figs: impl Iterator<Item = &'f Fig>) -> Option<&'f Fig> {
    figs.filter(|f| f.median().is_some()).min_by(|a, b| {
        a.median()
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.median().unwrap_or(f64::INFINITY))
    })
}

/// One comparison's contribution to a verdict, with the p-value of its test when it is a
/// statistical comparison (`None` for a rule that is not: e.g. an order violation seen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Part {
    /// Agrees with the claim, beyond noise.
    Confirms(Option<f64>),
    /// Contradicts it, beyond noise.
    Refutes(Option<f64>),
    /// Within noise.
    Noise(Option<f64>),
    /// A needed figure is missing (a failed or harness-bound repeat included).
    Missing,
}

impl Part {
    /// The part a comparison gives: A clearly lower → `lower`, clearly higher → `higher`.
    pub(super) fn of(
        c: &PairComparison,
        lower: fn(Option<f64>) -> Part,
        higher: fn(Option<f64>) -> Part,
    ) -> Part {
        match c.diff {
            Diff::Lower => lower(Some(c.p())),
            Diff::Higher => higher(Some(c.p())),
            Diff::Same => Part::Noise(Some(c.p())),
        }
    }

    pub(super) fn confirms(&self) -> bool {
        matches!(self, Part::Confirms(_))
    }

    pub(super) fn refutes(&self) -> bool {
        matches!(self, Part::Refutes(_))
    }

    fn p(&self) -> Option<f64> {
        match self {
            Part::Confirms(p) | Part::Refutes(p) | Part::Noise(p) => *p,
            Part::Missing => None,
        }
    }
}

/// Holm's step-down over the statistical parts of one verdict (family-wise [`ALPHA`]): a
/// confirming or refuting part whose p does not survive it counts as noise. Returns the
/// corrected parts and, when there were several tests, a sentence saying what was done.
pub(super) fn holm(parts: &[Part]) -> (Vec<Part>, Option<String>) {
    let tested: Vec<(usize, f64)> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.p()?)))
        .collect();
    let keep = stats::holm(&tested.iter().map(|t| t.1).collect::<Vec<_>>(), ALPHA);
    let mut out = parts.to_vec();
    let mut demoted = 0;
    for ((i, p), significant) in tested.iter().zip(keep) {
        if !significant && (out[*i].confirms() || out[*i].refutes()) {
            out[*i] = Part::Noise(Some(*p));
            demoted += 1;
        }
    }
    let note = (tested.len() > 1).then(|| {
        format!(
            "Holm over {} tests at family-wise α {ALPHA}{}",
            tested.len(),
            if demoted > 0 {
                format!(": {demoted} difference(s) not significant after correction")
            } else {
                String::new()
            }
        )
    });
    (out, note)
}

/// After Holm's correction: any refuting part refutes; all parts confirming confirms; anything
/// else is inconclusive.
pub(super) fn combine(parts: &[Part]) -> Outcome {
    let (parts, _) = holm(parts);
    if parts.iter().any(Part::refutes) {
        Outcome::Refuted
    } else if !parts.is_empty() && parts.iter().all(Part::confirms) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    }
}

/// "a vs b" in words with the ratio and the test that decided it.
pub(super) fn describe(a: &Fig, b: &Fig, c: &PairComparison) -> String {
    // A difference the test finds but smaller than the margin is not noise: say which.
    let margin = format!("within the {:.0} % margin", MARGIN * 100.0);
    let how = match c.diff {
        Diff::Lower => "clearly lower",
        Diff::Higher => "clearly higher",
        Diff::Same if c.p() <= ALPHA => margin.as_str(),
        Diff::Same => "within noise",
    };
    let (na, nb) = c.repeats;
    format!(
        "{} vs {} on {}: ×{:.2} ({how}: Mann–Whitney one-sided, {na} vs {nb} repeats, p = {})",
        a.show(),
        b.show(),
        a.profile,
        c.ratio,
        fmt_p(c.p())
    )
}

/// A p-value as text: three decimals, or "< 0.001".
pub(super) fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
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
            parts.push(Part::of(&c, Part::Confirms, Part::Refutes));
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
        indicative: false,
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
    if let (_, Some(note)) = holm(parts) {
        let _ = write!(v.decided_by, "; {note}");
    }
    v
}
