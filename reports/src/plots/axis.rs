//! Axis ranges and ticks of the charts: finite positive ranges, 1-2-5 log bounds and ticks.

/// Largest value an axis extends to; anything beyond is drawn at the edge (no measurement
/// of wirebench comes near it, and plotters' tick search needs finite, sane ranges).
pub(crate) const PLOT_MAX: f64 = 1e30;

/// The smallest and largest finite value of `vals`, each clamped to `floor`..[`PLOT_MAX`];
/// `None` when there is none.
pub(crate) fn positive_range(vals: impl Iterator<Item = f64>, floor: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        let v = v.clamp(floor, PLOT_MAX);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo <= hi).then_some((lo, hi))
}

/// Log-axis bounds around [lo, hi] that start and end on a 1-2-5 step.
pub(crate) fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let down = |v: f64| {
        let e = 10f64.powf(v.log10().floor());
        [5.0, 2.0, 1.0]
            .iter()
            .map(|m| m * e)
            .find(|c| *c <= v)
            .unwrap_or(e)
    };
    let up = |v: f64| {
        let e = 10f64.powf(v.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * e)
            .find(|c| *c >= v)
            .unwrap_or(10.0 * e)
    };
    let (a, b) = (down(lo * 0.95), up(hi * 1.05));
    if b > a {
        (a, b)
    } else {
        (a, a * 10.0)
    }
}

/// Powers of ten from `lo` to `hi`.
pub(crate) fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut x = 10f64.powf(lo.log10().ceil());
    while x <= hi * 1.000_001 && v.len() < 40 {
        v.push(x);
        x *= 10.0;
    }
    v
}

/// Log-axis ticks in [lo, hi]: 1-2-5 steps when they give at most 7 ticks, otherwise powers
/// of ten (thinned to every other decade beyond 7).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let d = decades(lo / 10.0, hi * 10.0);
    let in_range = |v: &f64| *v >= lo * 0.999_999 && *v <= hi * 1.000_001;
    let fine: Vec<f64> = d
        .iter()
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * e))
        .filter(in_range)
        .collect();
    if fine.len() <= 7 {
        return fine;
    }
    let mut coarse: Vec<f64> = d.into_iter().filter(in_range).collect();
    while coarse.len() > 7 {
        coarse = coarse.into_iter().step_by(2).collect();
    }
    coarse
}
