//! Cross-cutting (`faq-setup`): setup round trips as the protocols predict them.

use crate::figures::{self, KeyCells};
use crate::model::{Cell, Evidence, Outcome, Verdict};
use crate::stats::{self};

use super::metrics::*;
use super::rule::*;

// ---------------------------------------------------------------------------------------------
// Cross-cutting: setup round trips

/// Least-squares slope and intercept of `y` over `x` (needs two distinct x).
pub(super) fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
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
pub(super) fn cell_rtt_ms(c: &Cell) -> Option<f64> {
    let (ms, rtts) = (c.setup_ms?, c.setup_rtts?);
    (rtts > 0.0).then(|| ms / rtts)
}

/// One verdict per connect workload and transport of `faq-setup` with a predicted setup cost:
/// is the measured round-trip count (slope over the RTT sweep) the predicted one? The plain
/// `connect` workload gives `setup-rtts-<transport>`; another (`connect-fast`, the WebRTC fast
/// paths) gives `setup-rtts-<transport>-<workload>`.
pub(super) fn setup_rtts(ctx: &Ctx<'_>) -> Vec<Verdict> {
    let keys = connect_keys(ctx);
    setup_groups(&keys)
        .into_iter()
        .filter_map(|(workload, name)| {
            let mine: Vec<&&KeyCells<'_>> = keys
                .iter()
                .filter(|k| k.workload == workload && k.transport_name() == name)
                .collect();
            // A fast path a stack cannot take is skipped at plan time, with the reason in
            // its cells: no verdict for it.
            let untaken = mine.iter().all(|k| k.ok.is_empty() && k.failed.is_empty());
            if workload != "connect" && untaken {
                return None;
            }
            let pred = mine.first()?.predicted_setup()?;
            Some(setup_verdict(&mine, &workload, &name, &pred))
        })
        .collect()
}

/// The key cells of `faq-setup`'s `connect` workloads.
fn connect_keys<'k, 'a>(ctx: &'k Ctx<'a>) -> Vec<&'k KeyCells<'a>> {
    ctx.keys
        .iter()
        .filter(|k| {
            k.scenario == SETUP
                && k.ok
                    .first()
                    .or_else(|| k.not_ok().next())
                    .is_some_and(|c| c.workload == "connect")
        })
        .collect()
}

/// The (workload, transport as shown) pairs measured, each once, in first-seen order.
fn setup_groups(keys: &[&KeyCells<'_>]) -> Vec<(String, String)> {
    let mut groups: Vec<(String, String)> = Vec::new();
    for k in keys {
        let g = (k.workload.clone(), k.transport_name());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// The verdict on one workload's transport (`name`) against its prediction, from its key
/// cells (`mine`, one per profile).
fn setup_verdict(
    mine: &[&&KeyCells<'_>],
    workload: &str,
    name: &str,
    pred: &figures::Predicted,
) -> Verdict {
    let tol = if pred.approximate {
        SETUP_TOLERANCE_APPROX_RTTS
    } else {
        SETUP_TOLERANCE_RTTS
    };
    let mut v = new_setup_verdict(workload, name, pred, tol);
    cell_evidence(&mut v, mine, name);
    let (slopes, intercepts) = repeat_fits(mine);
    let Some((smin, smax)) = min_max(&slopes) else {
        v.decided_by = "no setup figures on a shaped profile".into();
        return v;
    };
    phases_caveat(&mut v, mine);
    let sm = stats::median(&slopes).unwrap_or(smin);
    let within = |s: f64| (s - pred.rtts).abs() <= tol;
    // A failed repeat leaves its repeat's fit on fewer profiles (or none): the verdict is not
    // decided on the repeats that happened to work.
    let failed = mine
        .iter()
        .find_map(|k| k.failed.first().map(|c| (k.profile, c)));
    v.verdict = if failed.is_some() {
        Outcome::Inconclusive
    } else if slopes.iter().all(|s| within(*s)) {
        Outcome::Confirmed
    } else if slopes.iter().all(|s| !within(*s)) {
        Outcome::Refuted
    } else {
        Outcome::Inconclusive
    };
    v.evidence.push(Evidence {
        cell: format!("{SETUP}/{workload}/{name}/(RTT sweep fit)"),
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
    if let Some((profile, c)) = failed {
        v.decided_by = format!(
            "not judged: repeat {} on {profile} failed ({}); the good repeats measured {}",
            c.repeat,
            c.error.as_deref().unwrap_or("no reason recorded"),
            v.decided_by.trim_start_matches("measured ")
        );
    }
    v
}

/// The undecided verdict for one workload's transport: id, claim and rule (with its
/// tolerance).
fn new_setup_verdict(workload: &str, name: &str, pred: &figures::Predicted, tol: f64) -> Verdict {
    let suffix = if workload == "connect" {
        String::new()
    } else {
        format!("-{workload}")
    };
    let path = if workload == "connect" {
        String::new()
    } else {
        format!(" on `{workload}`'s path")
    };
    new_verdict(
        &format!(
            "setup-rtts-{}{suffix}",
            name.replace(" (", "-").replace(')', "")
        ),
        "setup",
        &format!(
            "{name} connection setup{path} costs {}{} round trips as wirebench's stack connects \
             ({}){}.",
            if pred.approximate { "about " } else { "" },
            pred.rtts,
            pred.basis,
            pred.floor.map_or(String::new(), |(rtts, how)| format!(
                "; the protocol's floor is {rtts} ({how}), reported, not judged"
            ))
        ),
        &format!(
            "faq-setup, `connect` over the RTT sweep: the slope of setup time against the \
             profile's RTT (least squares over the shaped profiles, per repeat) is the \
             measured round-trip count, the intercept the fixed cost. Confirmed: every \
             repeat's slope within ±{tol} RTT of the prediction; refuted: every repeat's \
             outside; else inconclusive, as it is when any repeat failed on any profile. \
             With one shaped profile, setup_rtts is used."
        ),
    )
}

/// Per cell: setup_ms and setup_rtts as evidence, and a caveat for a cell with no ok repeat.
fn cell_evidence(v: &mut Verdict, mine: &[&&KeyCells<'_>], name: &str) {
    for k in mine {
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
}

/// Per repeat, the fitted (slope, intercept) of setup time over the shaped profiles' RTT;
/// with one profile, its setup_ms / RTT as the slope.
fn repeat_fits(mine: &[&&KeyCells<'_>]) -> (Vec<f64>, Vec<f64>) {
    // Per repeat: (rtt, setup_ms) points of the shaped profiles.
    let mut reps: std::collections::BTreeMap<u32, Vec<(f64, f64)>> = Default::default();
    for k in mine {
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
    (slopes, intercepts)
}

/// Where the round trips go, at the largest RTT measured: the setup phases in RTT, as a caveat.
fn phases_caveat(v: &mut Verdict, mine: &[&&KeyCells<'_>]) {
    if let Some((k, rtt)) = mine
        .iter()
        .filter_map(|k| Some((k, k.ok.iter().find_map(|c| cell_rtt_ms(c))?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        let mut names: Vec<&String> = k.ok.iter().flat_map(|c| c.setup_phases_ms.keys()).collect();
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
}
