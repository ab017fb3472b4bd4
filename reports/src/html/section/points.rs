//! The points of the latency charts: a key's repeats merged into one histogram, the
//! percentile spectrum (a line, or one point per sample when there are few), the CDF.

use hdrhistogram::Histogram;

use crate::figures::KeyCells;

/// Merged histogram of a key's ok repeats; decode failures are returned as messages.
pub(crate) fn merged(k: &KeyCells<'_>) -> (Option<Histogram<u64>>, Vec<String>) {
    let mut errors = Vec::new();
    let mut acc: Option<Histogram<u64>> = None;
    for c in &k.ok {
        let Some(l) = c.latency_us.as_ref() else {
            continue;
        };
        match l.histogram() {
            Ok(hist) => {
                let target = match acc.as_mut() {
                    Some(a) => a,
                    None => match Histogram::<u64>::new(3) {
                        Ok(a) => acc.insert(a),
                        Err(e) => {
                            errors.push(format!("{e:?}"));
                            continue;
                        }
                    },
                };
                if let Err(e) = target.add(&hist) {
                    errors.push(format!("repeat {}: {e:?}", c.repeat));
                }
            }
            Err(e) => errors.push(format!("repeat {}: {e}", c.repeat)),
        }
    }
    (acc.filter(|a| !a.is_empty()), errors)
}

/// Percentile spectrum points (1/(1−p), µs), 20 per decade, ending at the maximum of the
/// delivered frames. `lost` frames (never arrived) rank after every delivered one: with loss
/// the percentiles are over all frames and the line ends where the delivered fraction does.
pub(crate) fn spectrum_points(h: &Histogram<u64>, lost: u64) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    let total = n + lost as f64;
    // Where the delivered frames end on the 1/(1−p) axis (all frames counted).
    let end = if lost == 0 { n } else { total / lost as f64 };
    let mut pts = Vec::new();
    for k in 0..=200 {
        let x = 10f64.powf(f64::from(k) / 20.0);
        if x > end.min(total) {
            break;
        }
        let q = 1.0 - 1.0 / x;
        let q = if lost == 0 {
            q
        } else {
            (q * total / n).min(1.0)
        };
        pts.push((x, h.value_at_quantile(q) as f64));
    }
    if n > 1.0 {
        pts.push((end.min(total), h.max() as f64));
    }
    pts
}

/// A spectrum from few samples: one point per sample, the i-th smallest of `total` frames at
/// 1/(1−p) = total / (total − i + 1) (the first at 0 %); `lost` frames rank after them.
pub(crate) fn spectrum_samples(h: &Histogram<u64>, lost: u64) -> Vec<(f64, f64)> {
    let total = (h.len() + lost) as f64;
    let mut pts = Vec::new();
    let mut rank = 0u64;
    for v in h.iter_recorded() {
        for _ in 0..v.count_at_value() {
            rank += 1;
            let x = total / (total - rank as f64 + 1.0);
            pts.push((x, v.value_iterated_to() as f64));
        }
    }
    pts
}

/// CDF points (µs, % of frames ≤): with `lost` frames the curve tops out at the delivered
/// share.
pub(crate) fn cdf_points(h: &Histogram<u64>, lost: u64) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    let share = if lost == 0 {
        1.0
    } else {
        n / (n + lost as f64)
    };
    let mut pts = vec![(h.min() as f64, 0.0)];
    for i in 0..=200 {
        let q = f64::from(i) / 200.0;
        pts.push((h.value_at_quantile(q) as f64, q * 100.0 * share));
    }
    pts
}

/// Frames lost over a key's ok repeats that have a latency.
pub(crate) fn lost_frames(k: &KeyCells<'_>) -> u64 {
    k.ok.iter()
        .filter_map(|c| c.latency_us.as_ref())
        .map(|l| l.lost)
        .sum()
}
