//! Reading each criterion's figures from the results: which cells qualify (nearest size,
//! nearest loss level, requested profile) and each transport's repeats.

use super::criteria::Criterion;
use super::traits::Traits;
use crate::figures::KeyCells;
use crate::metrics::Metric;
use crate::verdicts::{self, Evidence};

/// One transport's figures for one criterion.
pub(super) struct Read {
    pub(super) transport_id: String,
    pub(super) values: Vec<f64>,
    pub(super) evidence: Option<Evidence>,
    pub(super) why: Option<String>,
    /// The profiles whose repeats `values` pools.
    pub(super) profiles: Vec<String>,
}

/// Per criterion: transport name → its figures (noting size and profile substitutions).
pub(super) fn read_all(
    keys: &[KeyCells<'_>],
    crit: &[Criterion],
    t: &Traits,
    notes: &mut Vec<String>,
) -> Vec<Vec<(String, Read)>> {
    let mut per_crit = Vec::new();
    for c in crit {
        let here = select(keys, c, t, notes);
        per_crit.push(read_criterion(here, c));
    }
    per_crit
}

/// Adds `note` unless it is already there (several criteria read the same scenario).
fn push_once(notes: &mut Vec<String>, note: String) {
    if !notes.contains(&note) {
        notes.push(note);
    }
}

/// The key cells a criterion reads: its scenario and workload, then the nearest size and
/// the nearest loss level or the requested profile.
fn select<'k, 'a>(
    keys: &'k [KeyCells<'a>],
    c: &Criterion,
    t: &Traits,
    notes: &mut Vec<String>,
) -> Vec<&'k KeyCells<'a>> {
    let mut here: Vec<&KeyCells<'_>> = keys
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
        keep_nearest_clients(&mut here, c, t, notes);
    }
    if c.scenario == verdicts::HOL {
        keep_nearest_loss(&mut here, t);
    } else if let Some(p) = &t.profile {
        if here.iter().any(|k| k.profile == p.as_str()) {
            here.retain(|k| k.profile == p.as_str());
        } else if !here.is_empty() {
            let note = format!(
                "{}: profile {p} not measured; using {}",
                c.scenario,
                crate::figures::distinct(here.iter().map(|k| k.profile)).join(", ")
            );
            push_once(notes, note);
        }
    }
    here
}

/// Keeps the workload whose client count is nearest the traits' (on a log scale), noting
/// when it is not the traits' own.
fn keep_nearest_clients(
    here: &mut Vec<&KeyCells<'_>>,
    c: &Criterion,
    t: &Traits,
    notes: &mut Vec<String>,
) {
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
            push_once(notes, note);
        }
        here.retain(|k| k.workload == best_name);
    }
}

/// Keeps the profile whose link loss is nearest the requested profile's (3 % without one).
fn keep_nearest_loss(here: &mut Vec<&KeyCells<'_>>, t: &Traits) {
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
}

/// Each transport's repeats of the criterion's metric, pooled over profiles, with evidence
/// and why a figure is missing.
fn read_criterion(here: Vec<&KeyCells<'_>>, c: &Criterion) -> Vec<(String, Read)> {
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
            // A loss-aware percentile the delivered fraction cannot reach says so.
            let gap = crate::figures::gap(&k.ok, c.metric);
            Some(gap.unwrap_or_else(|| format!("{} not recorded", c.metric.id)))
        } else {
            None
        };
        let evidence = evidence_of(
            &format!("{}/{}/{}/{}", k.scenario, k.workload, name, k.profile),
            c.metric,
            &values,
        );
        // Several profiles: pool the repeats of every profile for this transport.
        let at = match reads.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                reads.push((
                    name,
                    Read {
                        transport_id: first.transport.clone(),
                        values: Vec::new(),
                        evidence: None,
                        why,
                        profiles: Vec::new(),
                    },
                ));
                reads.len() - 1
            }
        };
        let read = &mut reads[at].1;
        if !values.is_empty() && !read.profiles.iter().any(|p| p == k.profile) {
            read.profiles.push(k.profile.to_string());
        }
        read.values.extend(values);
        if read.evidence.is_none() {
            read.evidence = evidence;
        }
    }
    reads
}

fn link_loss_of(c: &crate::model::Cell) -> Option<f64> {
    let l = c.params.get("link")?;
    l.get("loss").and_then(|v| v.as_f64())
}

fn evidence_of(cell: &str, m: &Metric, values: &[f64]) -> Option<Evidence> {
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
