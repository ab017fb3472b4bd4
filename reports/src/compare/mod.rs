//! Comparing two results files: per cell and key metric, the ratio current / baseline with a
//! bootstrap confidence interval over the repeats, and a verdict a CI job can act on.
//!
//! The method is described for users in `docs/compare.md`. In short:
//!
//! - Cells are matched by [`Cell::key`] (scenario, workload, transport, profile). Only
//!   `ok` repeats contribute figures; each repeat contributes one value per metric.
//! - For each metric the point estimate is `median(current) / median(baseline)` and the
//!   interval is a seeded percentile bootstrap ([`crate::stats::bootstrap_ratio_of_medians`]).
//! - With a threshold `t` (default 10 %), a metric where higher is worse **regressed** when
//!   the whole interval lies above `1 + t` and **improved** when it lies below `1 / (1 + t)`
//!   (mirrored for goodput and messages per second). It is **noisy** when a side has fewer
//!   than `min_repeats` repeats, or when the interval is wider than twice the threshold
//!   (`high / low > (1 + t)²`); otherwise **unchanged**.
//! - Cells whose `params` differ are refused with an error naming the cell and the field:
//!   the numbers would not mean the same thing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::format::{pct, trim_float};
use crate::model::{Cell, Results, Status};
use crate::stats::{self, Beyond, BootstrapOptions, Interval};

mod metric;
mod render;

pub use metric::{CompareError, CompareMetric};

/// Exit code when no metric regressed.
pub const EXIT_OK: i32 = 0;
/// Exit code for an error (bad input, refused comparison); used by the CLI.
pub const EXIT_ERROR: i32 = 1;
/// Exit code when at least one metric regressed.
pub const EXIT_REGRESSION: i32 = 2;
/// Exit code when nothing regressed because nothing could be judged: every compared metric
/// was noisy (too few repeats, too wide an interval), or no cell was in both runs. A gate that
/// measured nothing must not pass green.
pub const EXIT_NOTHING_JUDGED: i32 = 4;
/// The fewest bootstrap resamples [`compare`] accepts.
pub const MIN_RESAMPLES: usize = 2000;

/// The verdict for one metric of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegressionVerdict {
    /// The whole interval lies beyond the threshold in the bad direction.
    Regressed,
    /// The whole interval lies beyond the threshold in the good direction.
    Improved,
    /// Too few repeats, or an interval too wide to conclude anything.
    Noisy,
    /// Neither: any change is smaller than the run-to-run noise or the threshold.
    Unchanged,
}

impl RegressionVerdict {
    /// Lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RegressionVerdict::Regressed => "regressed",
            RegressionVerdict::Improved => "improved",
            RegressionVerdict::Noisy => "noisy",
            RegressionVerdict::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for RegressionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cell key (the cell without its repeat index).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CellKey {
    /// Scenario name.
    pub scenario: String,
    /// Workload id.
    pub workload: String,
    /// Transport id.
    pub transport: String,
    /// Profile name.
    pub profile: String,
}

impl CellKey {
    /// The key of a cell.
    pub fn of(cell: &Cell) -> Self {
        let (scenario, workload, transport, profile) = cell.key();
        Self {
            scenario,
            workload,
            transport,
            profile,
        }
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.scenario, self.workload, self.transport, self.profile
        )
    }
}

/// Options of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Regression threshold in percent (default 10): changes smaller than this never count.
    pub threshold_pct: f64,
    /// Metrics to compare; empty means all of [`CompareMetric::ALL`].
    pub metrics: Vec<CompareMetric>,
    /// Fewest `ok` repeats per side for a verdict other than `noisy` (default 3, at least 2).
    pub min_repeats: usize,
    /// Bootstrap resamples (default 5000, at least [`MIN_RESAMPLES`]).
    pub resamples: usize,
    /// Two-sided confidence level (default 0.95).
    pub confidence: f64,
    /// Base seed; each cell and metric derives its own seed from it and its key.
    pub seed: u64,
    /// Parameter names left out of the params equality check (e.g. a per-run seed).
    pub ignore_params: Vec<String>,
    /// Pair repeat `i` of the baseline with repeat `i` of the current run and bootstrap the
    /// per-pair ratios ([`stats::bootstrap_paired_ratio`]). Right only when the two files come
    /// from one interleaved A/B run (`wirebench run --ab`), where repeat `i` of both builds ran
    /// back to back, so drift of the machine cancels within each pair.
    pub paired: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            threshold_pct: 10.0,
            metrics: Vec::new(),
            min_repeats: 3,
            resamples: 5000,
            confidence: 0.95,
            seed: BootstrapOptions::default().seed,
            ignore_params: Vec::new(),
            paired: false,
        }
    }
}

/// One side's figures for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideFigures {
    /// Number of repeats that measured the metric.
    pub n: usize,
    /// Median over those repeats.
    pub median: f64,
    /// The per-repeat values, in repeat order.
    pub values: Vec<f64>,
}

/// One metric of one cell, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// The metric.
    pub metric: CompareMetric,
    /// Whether a larger value is worse for this metric.
    pub higher_is_worse: bool,
    /// Baseline figures.
    pub baseline: SideFigures,
    /// Current figures.
    pub current: SideFigures,
    /// `median(current) / median(baseline)`; when paired, the median of the per-pair ratios
    /// (`null` in JSON when infinite).
    pub ratio: f64,
    /// Bootstrap confidence interval of the ratio; absent when a side has too few repeats.
    pub ci: Option<Interval>,
    /// The verdict.
    pub verdict: RegressionVerdict,
    /// Why, in words (e.g. `CI +11.2 % … +24.9 % wholly above +10 %`).
    pub reason: String,
}

/// Repeat counts of one cell on one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RepeatCounts {
    /// Repeats with status `ok` (the ones whose figures are used).
    pub ok: usize,
    /// Repeats that failed.
    pub failed: usize,
    /// Repeats that were skipped.
    pub skipped: usize,
}

/// A metric measured on one side only (not compared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneSided {
    /// The metric.
    pub metric: CompareMetric,
    /// The side that has figures: `baseline` or `current`.
    pub measured_in: &'static str,
}

/// One cell key present in both files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellComparison {
    /// The cell key.
    pub key: CellKey,
    /// Baseline repeats by status.
    pub baseline_repeats: RepeatCounts,
    /// Current repeats by status.
    pub current_repeats: RepeatCounts,
    /// Compared metrics.
    pub metrics: Vec<MetricComparison>,
    /// Metrics measured on one side only.
    pub one_sided: Vec<OneSided>,
}

impl CellComparison {
    /// Whether the current run has failed repeats where the baseline had none: worth a look
    /// even when no metric regressed (the failed repeats contribute no figures).
    pub fn new_failures(&self) -> bool {
        self.current_repeats.failed > 0 && self.baseline_repeats.failed == 0
    }
}

/// Number of metric comparisons per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// Regressed.
    pub regressed: usize,
    /// Improved.
    pub improved: usize,
    /// Noisy.
    pub noisy: usize,
    /// Unchanged.
    pub unchanged: usize,
}

/// The result of [`compare`]: serialisable as JSON, renderable as Markdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Threshold in percent.
    pub threshold_pct: f64,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Base seed.
    pub seed: u64,
    /// Fewest repeats per side for a non-noisy verdict.
    pub min_repeats: usize,
    /// Whether repeats were paired by index (see [`CompareOptions::paired`]).
    pub paired: bool,
    /// Metrics compared.
    pub metrics: Vec<CompareMetric>,
    /// Baseline `git` / version, for the heading.
    pub baseline_version: String,
    /// Current `git` / version, for the heading.
    pub current_version: String,
    /// Cell keys present in both files, in baseline order.
    pub cells: Vec<CellComparison>,
    /// Cell keys only in the baseline (listed, not compared).
    pub only_in_baseline: Vec<CellKey>,
    /// Cell keys only in the current run (listed, not compared).
    pub only_in_current: Vec<CellKey>,
    /// Totals per verdict.
    pub counts: VerdictCounts,
}

/// Compares `current` against `baseline`; see the module docs for the method.
pub fn compare(
    baseline: &Results,
    current: &Results,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    validate(opts)?;
    metric::same_environment(baseline, current)?;
    let metrics = selected_metrics(opts);
    let ignore: BTreeSet<&str> = opts.ignore_params.iter().map(String::as_str).collect();

    let (b_order, b_groups) = group(baseline);
    let (c_order, c_groups) = group(current);
    let only_in_baseline = only_in(&b_order, &c_groups);
    let only_in_current = only_in(&c_order, &b_groups);

    let mut cells = Vec::new();
    let mut counts = VerdictCounts::default();
    for key in b_order.iter().filter(|k| c_groups.contains_key(*k)) {
        let (Some(bs), Some(cs)) = (b_groups.get(key), c_groups.get(key)) else {
            continue;
        };
        check_params(key, bs, cs, &ignore)?;
        cells.push(compare_cell(key, bs, cs, &metrics, opts, &mut counts)?);
    }
    if cells.is_empty() && !b_order.is_empty() && !c_order.is_empty() {
        return Err(CompareError::NothingInCommon {
            baseline: b_order.len(),
            current: c_order.len(),
        });
    }

    Ok(Comparison {
        threshold_pct: opts.threshold_pct,
        confidence: opts.confidence,
        resamples: opts.resamples,
        seed: opts.seed,
        min_repeats: opts.min_repeats,
        paired: opts.paired,
        metrics,
        baseline_version: describe(baseline),
        current_version: describe(current),
        cells,
        only_in_baseline,
        only_in_current,
        counts,
    })
}

/// The metrics to compare: the requested ones in their canonical order, else all.
fn selected_metrics(opts: &CompareOptions) -> Vec<CompareMetric> {
    if opts.metrics.is_empty() {
        CompareMetric::ALL.to_vec()
    } else {
        let set: BTreeSet<CompareMetric> = opts.metrics.iter().copied().collect();
        CompareMetric::ALL
            .into_iter()
            .filter(|m| set.contains(m))
            .collect()
    }
}

/// The keys of `order` (in its order) that the other side's groups lack.
fn only_in(order: &[CellKey], other: &Groups<'_>) -> Vec<CellKey> {
    order
        .iter()
        .filter(|k| !other.contains_key(*k))
        .cloned()
        .collect()
}

/// A results file's version as shown: the version, with the git description when known.
fn describe(r: &Results) -> String {
    match &r.git {
        Some(g) => format!("{} ({g})", r.version),
        None => r.version.clone(),
    }
}

/// One cell present on both sides: each metric compared (or noted as one-sided), with the
/// verdicts added to `counts`.
fn compare_cell(
    key: &CellKey,
    bs: &[&Cell],
    cs: &[&Cell],
    metrics: &[CompareMetric],
    opts: &CompareOptions,
    counts: &mut VerdictCounts,
) -> Result<CellComparison, CompareError> {
    let t = opts.threshold_pct / 100.0;
    let mut cmp = CellComparison {
        key: key.clone(),
        baseline_repeats: repeat_counts(bs),
        current_repeats: repeat_counts(cs),
        metrics: Vec::new(),
        one_sided: Vec::new(),
    };
    for &metric in metrics {
        let bv = values(bs, metric, key, "baseline")?;
        let cv = values(cs, metric, key, "current")?;
        match (bv.is_empty(), cv.is_empty()) {
            (true, true) => continue,
            (false, true) => cmp.one_sided.push(OneSided {
                metric,
                measured_in: "baseline",
            }),
            (true, false) => cmp.one_sided.push(OneSided {
                metric,
                measured_in: "current",
            }),
            (false, false) => {
                let mc = compare_metric(key, metric, bv, cv, t, opts)?;
                match mc.verdict {
                    RegressionVerdict::Regressed => counts.regressed += 1,
                    RegressionVerdict::Improved => counts.improved += 1,
                    RegressionVerdict::Noisy => counts.noisy += 1,
                    RegressionVerdict::Unchanged => counts.unchanged += 1,
                }
                cmp.metrics.push(mc);
            }
        }
    }
    Ok(cmp)
}

fn validate(opts: &CompareOptions) -> Result<(), CompareError> {
    if !(opts.threshold_pct.is_finite() && opts.threshold_pct > 0.0) {
        return Err(CompareError::InvalidThreshold(opts.threshold_pct));
    }
    if opts.min_repeats < 2 {
        return Err(CompareError::InvalidOption(format!(
            "min_repeats {} is below 2: a bootstrap over one repeat says nothing",
            opts.min_repeats
        )));
    }
    if opts.resamples < MIN_RESAMPLES {
        return Err(CompareError::InvalidOption(format!(
            "resamples {} is below {MIN_RESAMPLES}",
            opts.resamples
        )));
    }
    if !(opts.confidence > 0.0 && opts.confidence < 1.0) {
        return Err(CompareError::InvalidOption(format!(
            "confidence {} is not in (0, 1)",
            opts.confidence
        )));
    }
    Ok(())
}

type Groups<'a> = BTreeMap<CellKey, Vec<&'a Cell>>;

/// Groups all cells (any status) by key; also returns the keys in first-seen order.
fn group(r: &Results) -> (Vec<CellKey>, Groups<'_>) {
    let mut order = Vec::new();
    let mut groups: Groups<'_> = BTreeMap::new();
    for c in &r.cells {
        let k = CellKey::of(c);
        let entry = groups.entry(k.clone()).or_default();
        if entry.is_empty() {
            order.push(k);
        }
        entry.push(c);
    }
    (order, groups)
}

fn repeat_counts(cells: &[&Cell]) -> RepeatCounts {
    let mut rc = RepeatCounts::default();
    for c in cells {
        match c.status {
            Status::Ok => rc.ok += 1,
            Status::Failed => rc.failed += 1,
            Status::Skipped => rc.skipped += 1,
        }
    }
    rc
}

/// JSON equality with numbers compared by value (`10` equals `10.0`).
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "absent".to_string(), |v| v.to_string())
}

/// The first parameter (in name order) on which two params maps differ.
fn first_difference<'a>(
    a: &'a serde_json::Map<String, serde_json::Value>,
    b: &'a serde_json::Map<String, serde_json::Value>,
    ignore: &BTreeSet<&str>,
) -> Option<&'a String> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().find(|n| {
        !ignore.contains(n.as_str())
            && match (a.get(*n), b.get(*n)) {
                (Some(x), Some(y)) => !json_eq(x, y),
                (None, None) => false,
                _ => true,
            }
    })
}

fn check_params(
    key: &CellKey,
    bs: &[&Cell],
    cs: &[&Cell],
    ignore: &BTreeSet<&str>,
) -> Result<(), CompareError> {
    for (side, cells) in [("baseline", bs), ("current", cs)] {
        let Some(first) = cells.first() else { continue };
        for other in &cells[1..] {
            if let Some(field) = first_difference(&first.params, &other.params, ignore) {
                return Err(CompareError::ParamsInconsistent {
                    side,
                    cell: key.to_string(),
                    field: field.clone(),
                    first: show(first.params.get(field)),
                    other: show(other.params.get(field)),
                });
            }
        }
    }
    if let (Some(b), Some(c)) = (bs.first(), cs.first()) {
        if let Some(field) = first_difference(&b.params, &c.params, ignore) {
            return Err(CompareError::ParamsMismatch {
                cell: key.to_string(),
                field: field.clone(),
                baseline: show(b.params.get(field)),
                current: show(c.params.get(field)),
            });
        }
    }
    Ok(())
}

/// `(repeat index, value)` of one metric on one side.
type Repeats = Vec<(u32, f64)>;

/// Per-repeat values of `metric` over the `ok` repeats, validated.
fn values(
    cells: &[&Cell],
    metric: CompareMetric,
    key: &CellKey,
    side: &'static str,
) -> Result<Repeats, CompareError> {
    let mut out = Vec::new();
    for c in cells.iter().filter(|c| c.status == Status::Ok) {
        if let Some(v) = metric.extract(c) {
            if !v.is_finite() || v < 0.0 {
                return Err(CompareError::BadValue {
                    side,
                    cell: key.to_string(),
                    repeat: c.repeat,
                    metric,
                    value: v,
                });
            }
            out.push((c.repeat, v));
        }
    }
    Ok(out)
}

/// One metric of one cell: medians, the bootstrap CI of current / baseline, and the verdict.
fn compare_metric(
    key: &CellKey,
    metric: CompareMetric,
    bv: Repeats,
    cv: Repeats,
    t: f64,
    opts: &CompareOptions,
) -> Result<MetricComparison, CompareError> {
    let (bv, cv) = paired_values(bv, cv, opts.paired);
    let side = |values: Vec<f64>| SideFigures {
        n: values.len(),
        median: stats::median(&values).unwrap_or(f64::NAN),
        values,
    };
    let (baseline, current) = (side(bv), side(cv));
    let ratio = stats::ratio(current.median, baseline.median);
    let higher_is_worse = metric.higher_is_worse();
    let mut out = MetricComparison {
        metric,
        higher_is_worse,
        ratio,
        ci: None,
        verdict: RegressionVerdict::Noisy,
        reason: String::new(),
        baseline,
        current,
    };
    let (nb, nc) = (out.baseline.n, out.current.n);
    if nb < opts.min_repeats || nc < opts.min_repeats {
        out.reason = format!(
            "{nb} baseline / {nc} current repeats; need {} on each side",
            opts.min_repeats
        );
        return Ok(out);
    }
    let seed = opts.seed
        ^ stats::fnv1a(&[
            &key.scenario,
            &key.workload,
            &key.transport,
            &key.profile,
            metric.id(),
        ]);
    let bo = BootstrapOptions {
        resamples: opts.resamples,
        confidence: opts.confidence,
        seed,
    };
    let est = if opts.paired {
        stats::bootstrap_paired_ratio(&out.baseline.values, &out.current.values, &bo)?
    } else {
        stats::bootstrap_ratio_of_medians(&out.baseline.values, &out.current.values, &bo)?
    };
    out.ratio = est.estimate;
    let ci = est.ci;
    out.ci = Some(ci);
    (out.verdict, out.reason) = judge(ci, higher_is_worse, t, opts.threshold_pct);
    Ok(out)
}

/// The values of each side; paired: only repeats measured on both sides, matched by repeat
/// index.
fn paired_values(bv: Repeats, cv: Repeats, paired: bool) -> (Vec<f64>, Vec<f64>) {
    let (bv, cv): (Repeats, Repeats) = if paired {
        let cmap: BTreeMap<u32, f64> = cv.iter().copied().collect();
        bv.iter()
            .filter_map(|&(r, b)| cmap.get(&r).map(|&c| ((r, b), (r, c))))
            .unzip()
    } else {
        (bv, cv)
    };
    let bv: Vec<f64> = bv.into_iter().map(|(_, v)| v).collect();
    let cv: Vec<f64> = cv.into_iter().map(|(_, v)| v).collect();
    (bv, cv)
}

/// The verdict and its reason from the ratio's CI against the threshold `t` (a fraction;
/// `threshold_pct` for the message).
fn judge(
    ci: Interval,
    higher_is_worse: bool,
    t: f64,
    threshold_pct: f64,
) -> (RegressionVerdict, String) {
    let up = 1.0 + t;
    let down = 1.0 / up;
    let side = ci.beyond((down, up));
    let (worse, better) = match (side, higher_is_worse) {
        (Beyond::Above, true) | (Beyond::Below, false) => (true, false),
        (Beyond::Below, true) | (Beyond::Above, false) => (false, true),
        (Beyond::Within, _) => (false, false),
    };
    let span = format!("CI {} … {}", pct(ci.low), pct(ci.high));
    if worse || better {
        let above = side == Beyond::Above;
        let limit = if above { pct(up) } else { pct(down) };
        (
            if worse {
                RegressionVerdict::Regressed
            } else {
                RegressionVerdict::Improved
            },
            format!(
                "{span} wholly {} {limit}",
                if above { "above" } else { "below" }
            ),
        )
    } else if stats::ratio(ci.high, ci.low) > up * up {
        (
            RegressionVerdict::Noisy,
            format!(
                "{span} too wide: spans more than 2 × {}",
                fmt_threshold(threshold_pct)
            ),
        )
    } else {
        (
            RegressionVerdict::Unchanged,
            format!("{span} not wholly beyond ±{}", fmt_threshold(threshold_pct)),
        )
    }
}

/// A threshold in percent for messages: `10 %`.
fn fmt_threshold(p: f64) -> String {
    format!("{} %", trim_float(p))
}
