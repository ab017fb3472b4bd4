//! Small, dependency-free statistics for comparing runs: median, percentile, a seeded
//! bootstrap confidence interval for the ratio of two medians (compare), and the exact
//! Mann–Whitney test with Holm's correction (FAQ verdicts).
//!
//! Everything here is deterministic: the bootstrap uses its own xorshift generator seeded by
//! the caller, so the same inputs and seed give the same interval on every machine, and a CI
//! verdict can be reproduced from the two results files alone.
//!
//! The bootstrap is *swap-symmetric*: [`bootstrap_ratio_of_medians`]`(a, b)` and
//! `(b, a)` give intervals that are exact reciprocals of each other (`[1/high, 1/low]`), so
//! "A regressed against B" and "B improved against A" are always the same statement.

/// Errors from the statistics helpers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// One side has no values.
    #[error("no {0} values")]
    Empty(&'static str),
    /// A value is NaN, infinite or negative (all compared metrics are non-negative).
    #[error("{side} value {value} is not a finite non-negative number")]
    BadValue {
        /// `baseline` or `current`.
        side: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The options make no sense (zero resamples, confidence outside (0, 1)).
    #[error("invalid bootstrap options: {0}")]
    Options(String),
}

/// Median of `values` (mean of the two middle values for an even count); `None` when empty.
///
/// NaNs sort last (IEEE total order); callers that care reject them first. The one median of
/// the crate (summary.md, report.html, verdicts, compare, recommend all use it).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

/// Median of an already sorted slice.
fn median_sorted(v: &[f64]) -> Option<f64> {
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile of `values` (`p` in 0..=100, clamped), by linear interpolation
/// between closest ranks (the same definition as NumPy's default). `None` when empty or when
/// `p` is NaN.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || p.is_nan() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = p.clamp(0.0, 100.0) / 100.0 * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(v[lo] + (v[hi] - v[lo]) * frac)
}

/// Ratio `num / den` for non-negative figures, defined everywhere: `0/0` is 1 (no change) and
/// `x/0` with `x > 0` is `+∞`.
pub fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        if num == 0.0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        num / den
    }
}

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// Where an interval of ratios (B / A) lies against a band `[low, high]` around 1: the one
/// rule by which FAQ verdicts and `compare` call A and B clearly apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beyond {
    /// Wholly below the band's low end.
    Below,
    /// Wholly above the band's high end.
    Above,
    /// Touching or inside the band.
    Within,
}

impl Interval {
    /// Whether this interval lies wholly below `band.0` or wholly above `band.1`: "clearly
    /// lower" or "clearly higher" (a point band `(1, 1)` asks only which side of 1).
    pub fn beyond(&self, band: (f64, f64)) -> Beyond {
        if self.high < band.0 {
            Beyond::Below
        } else if self.low > band.1 {
            Beyond::Above
        } else {
            Beyond::Within
        }
    }

    /// `high - low`.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }

    /// Whether `x` lies in the interval (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Parameters of the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    /// Number of bootstrap resamples (the comparison insists on at least 2000).
    pub resamples: usize,
    /// Two-sided confidence level, e.g. `0.95`.
    pub confidence: f64,
    /// Seed of the resampling generator.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            resamples: 5000,
            confidence: 0.95,
            seed: 0x5EED_C0DE_B007_5EED,
        }
    }
}

/// A ratio `current / baseline` of medians with its bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioEstimate {
    /// `median(current) / median(baseline)` (see [`ratio`] for zeros).
    pub estimate: f64,
    /// Percentile bootstrap interval at the requested confidence.
    pub ci: Interval,
}

/// Bootstrap confidence interval for `median(current) / median(baseline)`.
///
/// Each side is resampled independently with replacement (same size as the side), the ratio
/// of the resampled medians is computed `resamples` times, and the interval is given by the
/// order statistics at `(1 - confidence) / 2` from each end (percentile bootstrap). The values
/// are per-repeat figures (one per run of a cell), so the interval reflects run-to-run
/// variation, not the variation of samples inside one run.
///
/// Determinism and symmetry: each side is resampled from its own generator stream derived
/// from `seed`; which side gets which stream depends on the data (never on the argument
/// position), and the lower and upper bounds are taken at mirrored ranks, so swapping the
/// arguments yields exactly `[1/high, 1/low]` and the reciprocal estimate.
pub fn bootstrap_ratio_of_medians(
    baseline: &[f64],
    current: &[f64],
    opts: &BootstrapOptions,
) -> Result<RatioEstimate, StatsError> {
    check_options(opts)?;
    let b = checked_sorted(baseline, "baseline")?;
    let c = checked_sorted(current, "current")?;
    let (Some(mb), Some(mc)) = (median_sorted(&b), median_sorted(&c)) else {
        // Unreachable: checked_sorted refuses empty sides. Kept total without a panic.
        return Err(StatsError::Empty("baseline or current"));
    };

    // Stream assignment by data, not by position: the "smaller" side (lexicographically on
    // the sorted values, then by length) draws from stream 0.
    let base_first = b
        .iter()
        .zip(c.iter())
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| b.len().cmp(&c.len()))
        .is_le();
    let mut seeder = SplitMix64(opts.seed);
    let s0 = seeder.next_u64();
    let s1 = seeder.next_u64();
    let (sb, sc) = if base_first { (s0, s1) } else { (s1, s0) };
    let mut rng_b = XorShift64Star::new(sb);
    let mut rng_c = XorShift64Star::new(sc);

    let mut buf_b = vec![0.0; b.len()];
    let mut buf_c = vec![0.0; c.len()];
    let mut ratios = Vec::with_capacity(opts.resamples);
    for _ in 0..opts.resamples {
        let rb = resampled_median(&b, &mut buf_b, &mut rng_b);
        let rc = resampled_median(&c, &mut buf_c, &mut rng_c);
        ratios.push(ratio(rc, rb));
    }
    ratios.sort_by(f64::total_cmp);
    let (low, high) = interval_ranks(opts);
    Ok(RatioEstimate {
        estimate: ratio(mc, mb),
        ci: Interval {
            low: ratios[low],
            high: ratios[high],
        },
    })
}

/// Bootstrap confidence interval for the change between *paired* figures: `current[i]` and
/// `baseline[i]` were measured back to back (an interleaved A/B run), so slow drift of the
/// machine hits both members of a pair alike and cancels in their ratio.
///
/// The estimate is the median of the per-pair ratios `current[i] / baseline[i]`, taken on the
/// log scale (for an even count, the geometric mean of the two middle ratios), so swapping the
/// sides gives exactly the reciprocal estimate and interval. The interval is a percentile
/// bootstrap over the pairs (resampled with replacement), with mirrored ranks. Ratios are
/// clamped to [1e-9, 1e9] so a zero on one side cannot produce an infinite log.
pub fn bootstrap_paired_ratio(
    baseline: &[f64],
    current: &[f64],
    opts: &BootstrapOptions,
) -> Result<RatioEstimate, StatsError> {
    check_options(opts)?;
    checked_sorted(baseline, "baseline")?;
    checked_sorted(current, "current")?;
    if baseline.len() != current.len() {
        return Err(StatsError::Options(format!(
            "paired figures need equal counts ({} baseline, {} current)",
            baseline.len(),
            current.len()
        )));
    }
    let logs: Vec<f64> = baseline
        .iter()
        .zip(current)
        .map(|(&b, &c)| ratio(c, b).clamp(1e-9, 1e9).ln())
        .collect();
    let mut sorted = logs.clone();
    sorted.sort_by(f64::total_cmp);
    let estimate = median_sorted(&sorted).unwrap_or(0.0).exp();
    // The resampled indices never depend on the values, so swapping the sides negates every
    // resampled median and the mirrored ranks below give the reciprocal interval.
    let mut rng = XorShift64Star::new(SplitMix64(opts.seed).next_u64());
    let mut buf = vec![0.0; logs.len()];
    let mut meds = Vec::with_capacity(opts.resamples);
    for _ in 0..opts.resamples {
        meds.push(resampled_median(&logs, &mut buf, &mut rng));
    }
    meds.sort_by(f64::total_cmp);
    let (low, high) = interval_ranks(opts);
    Ok(RatioEstimate {
        estimate,
        ci: Interval {
            low: meds[low].exp(),
            high: meds[high].exp(),
        },
    })
}

/// Refuses zero resamples and a confidence outside (0, 1).
fn check_options(opts: &BootstrapOptions) -> Result<(), StatsError> {
    if opts.resamples == 0 {
        return Err(StatsError::Options("resamples must be at least 1".into()));
    }
    if !(opts.confidence > 0.0 && opts.confidence < 1.0) {
        return Err(StatsError::Options(format!(
            "confidence {} is not in (0, 1)",
            opts.confidence
        )));
    }
    Ok(())
}

/// Ranks of the interval's bounds among the sorted resampled statistics: mirrored, so the
/// interval of the swapped comparison is exactly the reciprocal one.
fn interval_ranks(opts: &BootstrapOptions) -> (usize, usize) {
    let tail = (1.0 - opts.confidence) / 2.0;
    let k = ((tail * opts.resamples as f64).floor() as usize).min(opts.resamples - 1);
    let (lo, hi) = (k, opts.resamples - 1 - k);
    if lo <= hi {
        (lo, hi)
    } else {
        (hi, lo)
    }
}

/// Validates and sorts one side.
fn checked_sorted(values: &[f64], side: &'static str) -> Result<Vec<f64>, StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty(side));
    }
    if let Some(&value) = values.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return Err(StatsError::BadValue { side, value });
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Ok(v)
}

/// Median of a resample (with replacement) of `src` into `buf` (same length).
fn resampled_median(src: &[f64], buf: &mut [f64], rng: &mut XorShift64Star) -> f64 {
    for slot in buf.iter_mut() {
        *slot = src[rng.below(src.len())];
    }
    buf.sort_by(f64::total_cmp);
    median_sorted(buf).unwrap_or(f64::NAN)
}

/// SplitMix64, used only to turn one seed into well-mixed stream seeds.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xorshift64* (Vigna): small, fast and good enough for resampling indices.
#[derive(Debug, Clone)]
pub struct XorShift64Star(u64);

impl XorShift64Star {
    /// A generator from `seed` (a zero seed is replaced, as xorshift must not start at 0).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform index in `0..n` (multiply-shift; the bias is below 2⁻⁵⁰ for small `n`).
    /// Returns 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Stable 64-bit FNV-1a hash of some strings, for deriving per-item seeds that do not depend
/// on iteration order or on which other items are being compared.
pub fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for p in parts {
        for &byte in p.as_bytes().iter().chain(std::iter::once(&0xFF)) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    h
}

/// Exact one-sided Mann–Whitney (Wilcoxon rank-sum) test that `a` tends **lower** than `b`:
/// the probability, were all values drawn from one distribution, that `a`'s rank sum would be
/// as small as observed or smaller. Ties take mid-ranks and the permutation distribution is
/// over those mid-ranks, so ties are exact too. Exact (every split of the pooled values
/// enumerated) up to 20 values in all; beyond, the normal approximation with the tie
/// correction. `None` when a side is empty or holds a non-finite value.
///
/// With `n` vs `m` repeats and no overlap the smallest p is `1 / C(n+m, n)`: 1/20 = 0.05 for
/// 3 vs 3, 1/252 ≈ 0.004 for 5 vs 5; one or two repeats a side can never reach 0.05.
pub fn mann_whitney_lower(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let ranks = mid_ranks(a, b);
    let (n, total) = (a.len(), a.len() + b.len());
    let observed: f64 = ranks[..n].iter().sum();
    if total <= 20 {
        let (mut at_most, mut all) = (0u64, 0u64);
        for_each_subset(total, n, &mut |mask| {
            let sum: f64 = (0..total)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| ranks[i])
                .sum();
            all += 1;
            if sum <= observed + 1e-9 {
                at_most += 1;
            }
        });
        return Some(at_most as f64 / all as f64);
    }
    // Normal approximation with continuity and tie corrections.
    let (nf, mf, nt) = (n as f64, (total - n) as f64, total as f64);
    let mean = nf * (nt + 1.0) / 2.0;
    let mut sorted = ranks.clone();
    sorted.sort_by(f64::total_cmp);
    let ties: f64 = sorted
        .chunk_by(|x, y| x == y)
        .map(|g| {
            let t = g.len() as f64;
            t * t * t - t
        })
        .sum();
    let var = nf * mf / 12.0 * ((nt + 1.0) - ties / (nt * (nt - 1.0)));
    if var <= 0.0 {
        return Some(1.0);
    }
    let z = (observed - mean + 0.5) / var.sqrt();
    Some(normal_cdf(z))
}

/// Mid-ranks (1-based) of `a` then `b` in the pooled order: tied values share their mean rank.
fn mid_ranks(a: &[f64], b: &[f64]) -> Vec<f64> {
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let mut order: Vec<usize> = (0..pooled.len()).collect();
    order.sort_by(|&i, &j| pooled[i].total_cmp(&pooled[j]));
    let mut ranks = vec![0.0; pooled.len()];
    let mut k = 0;
    while k < order.len() {
        let mut end = k + 1;
        while end < order.len() && pooled[order[end]] == pooled[order[k]] {
            end += 1;
        }
        let mid = (k + end + 1) as f64 / 2.0;
        for &i in &order[k..end] {
            ranks[i] = mid;
        }
        k = end;
    }
    ranks
}

/// Calls `f` with every `size`-element subset of `0..total` as a bit mask (`total` <= 20).
fn for_each_subset(total: usize, size: usize, f: &mut dyn FnMut(u32)) {
    if size == 0 || size > total {
        f(0);
        return;
    }
    let limit = 1u32 << total;
    let mut mask = (1u32 << size) - 1;
    while mask < limit {
        f(mask);
        // Gosper's hack: the next mask with as many bits set.
        let c = mask & mask.wrapping_neg();
        let r = mask + c;
        mask = (((r ^ mask) >> 2) / c) | r;
    }
}

/// Standard normal cumulative distribution (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Holm's step-down over `p`-values at family-wise level `alpha`: which are significant. The
/// smallest p is held to `alpha / m`, the next to `alpha / (m − 1)`, …; the first that fails
/// stops the walk and every larger p fails with it.
pub fn holm(p: &[f64], alpha: f64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![false; p.len()];
    for (k, &i) in order.iter().enumerate() {
        if p[i] <= alpha / (p.len() - k) as f64 + 1e-12 {
            out[i] = true;
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one "clearly apart" rule: wholly below or above the band, never when touching it.
    #[test]
    fn intervals_are_beyond_a_band_only_wholly() {
        let iv = |low, high| Interval { low, high };
        assert_eq!(iv(0.5, 0.9).beyond((1.0, 1.0)), Beyond::Below);
        assert_eq!(iv(1.1, 1.3).beyond((1.0, 1.0)), Beyond::Above);
        assert_eq!(iv(0.9, 1.0).beyond((1.0, 1.0)), Beyond::Within);
        assert_eq!(iv(0.95, 1.05).beyond((1.0 / 1.1, 1.1)), Beyond::Within);
        assert_eq!(iv(1.11, 1.2).beyond((1.0 / 1.1, 1.1)), Beyond::Above);
        assert_eq!(iv(f64::NAN, f64::NAN).beyond((1.0, 1.0)), Beyond::Within);
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentile_interpolates() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(percentile(&v, 0.0), Some(10.0));
        assert_eq!(percentile(&v, 50.0), Some(30.0));
        assert_eq!(percentile(&v, 100.0), Some(50.0));
        assert_eq!(percentile(&v, 25.0), Some(20.0));
        assert_eq!(percentile(&v, 37.5), Some(25.0));
        assert_eq!(percentile(&v, 150.0), Some(50.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, f64::NAN), None);
    }

    #[test]
    fn ratio_handles_zero() {
        assert_eq!(ratio(0.0, 0.0), 1.0);
        assert_eq!(ratio(1.0, 0.0), f64::INFINITY);
        assert_eq!(ratio(3.0, 2.0), 1.5);
    }

    #[test]
    fn bootstrap_is_deterministic_and_seed_dependent() {
        let b = [100.0, 104.0, 98.0, 101.0, 97.0];
        let c = [110.0, 112.0, 108.0, 115.0, 109.0];
        let o = BootstrapOptions::default();
        let r1 = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        let r2 = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        assert_eq!(r1, r2);
        assert!((r1.estimate - 110.0 / 100.0).abs() < 1e-12);
        assert!(r1.ci.contains(r1.estimate));
        // With many repeats the interval is not a fixed order statistic of the data, so some
        // seed gives a different interval: the generator is actually used.
        let b: Vec<f64> = (0..40).map(|i| 100.0 + f64::from((i * 37) % 23)).collect();
        let c: Vec<f64> = (0..40).map(|i| 105.0 + f64::from((i * 29) % 31)).collect();
        let r1 = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        let differs = (1..20).any(|s| {
            let o2 = BootstrapOptions { seed: s, ..o };
            bootstrap_ratio_of_medians(&b, &c, &o2).unwrap().ci != r1.ci
        });
        assert!(differs);
    }

    #[test]
    fn three_repeats_give_the_full_range() {
        // With 3 values per side, P(resampled median = min) = 7/27 per side, so both 2.5 %
        // tails are reached by the extreme combinations.
        let b = [100.0, 102.0, 104.0];
        let c = [120.0, 121.0, 125.0];
        let r = bootstrap_ratio_of_medians(&b, &c, &BootstrapOptions::default()).unwrap();
        assert_eq!(r.ci.low, 120.0 / 104.0);
        assert_eq!(r.ci.high, 125.0 / 100.0);
    }

    #[test]
    fn swapping_gives_reciprocal_interval() {
        let b = [100.0, 104.0, 98.0, 101.0];
        let c = [130.0, 112.0, 108.0, 115.0, 109.0];
        let o = BootstrapOptions::default();
        let f = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        let r = bootstrap_ratio_of_medians(&c, &b, &o).unwrap();
        assert!((r.ci.low * f.ci.high - 1.0).abs() < 1e-12, "{r:?} vs {f:?}");
        assert!((r.ci.high * f.ci.low - 1.0).abs() < 1e-12, "{r:?} vs {f:?}");
        assert!((r.estimate * f.estimate - 1.0).abs() < 1e-12);
    }

    #[test]
    fn paired_ratio_cancels_shared_drift() {
        // Drift of ±40 % shared by both members of each pair; the change is exactly +20 %.
        let b = [100.0, 140.0, 80.0, 120.0, 60.0, 110.0, 90.0];
        let c: Vec<f64> = b.iter().map(|x| x * 1.2).collect();
        let o = BootstrapOptions::default();
        let p = bootstrap_paired_ratio(&b, &c, &o).unwrap();
        assert!((p.estimate - 1.2).abs() < 1e-9, "{p:?}");
        assert!((p.ci.low - 1.2).abs() < 1e-9 && (p.ci.high - 1.2).abs() < 1e-9);
        // Unpaired, the same drift swamps the change.
        let u = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        assert!(u.ci.low < 1.0, "{u:?}");
    }

    #[test]
    fn paired_ratio_is_swap_symmetric_and_contains_its_estimate() {
        let b = [100.0, 104.0, 98.0, 101.0, 150.0, 97.0];
        let c = [130.0, 112.0, 108.0, 115.0, 109.0, 111.0];
        let o = BootstrapOptions::default();
        let f = bootstrap_paired_ratio(&b, &c, &o).unwrap();
        let r = bootstrap_paired_ratio(&c, &b, &o).unwrap();
        assert!(f.ci.contains(f.estimate), "{f:?}");
        assert!((r.ci.low * f.ci.high - 1.0).abs() < 1e-12, "{r:?} vs {f:?}");
        assert!((r.ci.high * f.ci.low - 1.0).abs() < 1e-12, "{r:?} vs {f:?}");
        assert!((r.estimate * f.estimate - 1.0).abs() < 1e-12);
        assert!(bootstrap_paired_ratio(&b, &c[..5], &o).is_err());
        assert!(bootstrap_paired_ratio(&[0.0, 1.0], &[1.0, 0.0], &o).is_ok());
    }

    #[test]
    fn bad_input_is_refused() {
        let o = BootstrapOptions::default();
        assert_eq!(
            bootstrap_ratio_of_medians(&[], &[1.0], &o),
            Err(StatsError::Empty("baseline"))
        );
        assert!(matches!(
            bootstrap_ratio_of_medians(&[1.0], &[f64::NAN], &o),
            Err(StatsError::BadValue {
                side: "current",
                ..
            })
        ));
        assert!(matches!(
            bootstrap_ratio_of_medians(&[1.0], &[-1.0], &o),
            Err(StatsError::BadValue { .. })
        ));
        let zero = BootstrapOptions { resamples: 0, ..o };
        assert!(bootstrap_ratio_of_medians(&[1.0], &[1.0], &zero).is_err());
        let conf = BootstrapOptions {
            confidence: 1.0,
            ..o
        };
        assert!(bootstrap_ratio_of_medians(&[1.0], &[1.0], &conf).is_err());
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = XorShift64Star::new(0);
        let mut seen = [0usize; 5];
        for _ in 0..10_000 {
            seen[r.below(5)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 1_500), "{seen:?}");
    }

    #[test]
    fn mann_whitney_exact_values() {
        let p = |a: &[f64], b: &[f64]| mann_whitney_lower(a, b).unwrap();
        // No overlap: 1 / C(n+m, n).
        assert!((p(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 1.0 / 20.0).abs() < 1e-12);
        let five = [1.0, 2.0, 3.0, 4.0, 5.0];
        let high = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!((p(&five, &high) - 1.0 / 252.0).abs() < 1e-12);
        // The other direction: every split is at least as low.
        assert!((p(&high, &five) - 1.0).abs() < 1e-12);
        // One repeat a side can never decide.
        assert!((p(&[1.0], &[2.0]) - 0.5).abs() < 1e-12);
        // One swap of 5 vs 5: rank sum 16, two splits of 252 reach it.
        assert!(
            (p(&[1.0, 2.0, 3.0, 4.0, 6.0], &[5.0, 7.0, 8.0, 9.0, 10.0]) - 2.0 / 252.0).abs()
                < 1e-12
        );
        // All tied: no evidence either way.
        assert!((p(&[1.0, 1.0], &[1.0, 1.0]) - 1.0).abs() < 1e-12);
        // A tie across the samples: ranks 1, 2.5 | 2.5, 4 → sum 3.5; splits ≤ 3.5: {1,2.5}×2 of 6.
        assert!((p(&[1.0, 2.0], &[2.0, 3.0]) - 2.0 / 6.0).abs() < 1e-12);
        assert!(mann_whitney_lower(&[], &[1.0]).is_none());
        assert!(mann_whitney_lower(&[f64::NAN], &[1.0]).is_none());
        // Large samples: the normal approximation, no overlap → tiny p.
        let a: Vec<f64> = (0..15).map(f64::from).collect();
        let b: Vec<f64> = (15..30).map(f64::from).collect();
        assert!(p(&a, &b) < 1e-5);
        assert!(p(&b, &a) > 0.99);
    }

    #[test]
    fn holm_steps_down() {
        // m = 3: 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05.
        assert_eq!(holm(&[0.04, 0.01, 0.02], 0.05), vec![true, true, true]);
        // 0.03 > 0.05/2 stops the walk: 0.04 fails with it even though it is below 0.05.
        assert_eq!(holm(&[0.01, 0.03, 0.04], 0.05), vec![true, false, false]);
        assert_eq!(holm(&[0.05], 0.05), vec![true]);
        assert_eq!(holm(&[0.05, 0.05], 0.05), vec![false, false]);
        assert!(holm(&[], 0.05).is_empty());
    }
}
