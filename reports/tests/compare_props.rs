//! Property tests for the comparison statistics (issue 6).

mod compare_common;

use compare_common::{cells, results, Rep};
use proptest::prelude::*;
use wirebench_reports::compare::{compare, CompareMetric, CompareOptions, RegressionVerdict};
use wirebench_reports::stats::{
    bootstrap_paired_ratio, bootstrap_ratio_of_medians, BootstrapOptions,
};

/// Repeat levels within `spread` (fraction) of `base`.
fn levels(n: std::ops::RangeInclusive<usize>, spread: f64) -> impl Strategy<Value = Vec<Rep>> {
    (50.0..50_000.0f64, prop::collection::vec(0.0..1.0f64, n)).prop_map(move |(base, us)| {
        us.into_iter()
            .map(|u| {
                let f = 1.0 + spread * u;
                let mut r = Rep::at(base * f);
                // Other figures vary with the repeat too, so every metric sees some noise.
                r.goodput_bps *= f;
                r.msgs_per_s *= f;
                r.setup_ms *= f;
                r.cpu_s *= f;
                r.rss = (r.rss as f64 * f) as u64;
                r
            })
            .collect()
    })
}

fn mirror(v: RegressionVerdict) -> RegressionVerdict {
    match v {
        RegressionVerdict::Regressed => RegressionVerdict::Improved,
        RegressionVerdict::Improved => RegressionVerdict::Regressed,
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The percentile interval always contains the point estimate.
    #[test]
    fn ci_contains_point_estimate(
        b in prop::collection::vec(0.0..1e6f64, 1..12),
        c in prop::collection::vec(0.0..1e6f64, 1..12),
        seed in any::<u64>(),
    ) {
        let o = BootstrapOptions { resamples: 2000, confidence: 0.95, seed };
        let r = bootstrap_ratio_of_medians(&b, &c, &o).unwrap();
        prop_assert!(r.ci.low <= r.estimate && r.estimate <= r.ci.high, "{r:?}");
    }

    /// Same for the paired bootstrap.
    #[test]
    fn paired_ci_contains_point_estimate(
        pairs in prop::collection::vec((0.0..1e6f64, 0.0..1e6f64), 1..12),
        seed in any::<u64>(),
    ) {
        let (b, c): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let o = BootstrapOptions { resamples: 2000, confidence: 0.95, seed };
        let r = bootstrap_paired_ratio(&b, &c, &o).unwrap();
        prop_assert!(r.ci.low <= r.estimate * (1.0 + 1e-12) && r.estimate <= r.ci.high * (1.0 + 1e-12), "{r:?}");
    }

    /// Same, through `compare` on real histograms.
    #[test]
    fn compare_ci_contains_ratio(
        b in levels(3..=7, 0.5),
        c in levels(3..=7, 0.5),
        paired in any::<bool>(),
    ) {
        let cmp = compare(
            &results(cells("websocket", &b, 1.0)),
            &results(cells("websocket", &c, 1.0)),
            &CompareOptions { paired, ..CompareOptions::default() },
        ).unwrap();
        prop_assert_eq!(cmp.rows().count(), CompareMetric::ALL.len());
        for (_, m) in cmp.rows() {
            let ci = m.ci.unwrap();
            prop_assert!(ci.contains(m.ratio), "{:?}: {} not in {:?}", m.metric, m.ratio, ci);
        }
    }

    /// Comparing a run with itself: every metric unchanged when run-to-run spread is modest,
    /// and never a regression or improvement whatever the spread.
    #[test]
    fn identical_inputs_are_unchanged(
        quiet in levels(3..=8, 0.08),
        loud in levels(3..=8, 1.0),
        paired in any::<bool>(),
    ) {
        let opts = CompareOptions { paired, ..CompareOptions::default() };
        let r = results(cells("websocket", &quiet, 1.0));
        let cmp = compare(&r, &r, &opts).unwrap();
        prop_assert_eq!(cmp.counts.unchanged, CompareMetric::ALL.len());
        prop_assert!(cmp.rows().all(|(_, m)| m.verdict == RegressionVerdict::Unchanged && m.ratio == 1.0));
        prop_assert_eq!(cmp.exit_code(), 0);

        let r = results(cells("websocket", &loud, 1.0));
        let cmp = compare(&r, &r, &opts).unwrap();
        prop_assert!(cmp.rows().all(|(_, m)| matches!(m.verdict, RegressionVerdict::Unchanged | RegressionVerdict::Noisy)));
        prop_assert!(!cmp.regressed());
    }

    /// Scaling every current latency sample by 1.5 is flagged as a p50 and p99 regression
    /// (run-to-run spread up to 20 %, threshold up to 20 %: the worst case is
/// 1.5 / 1.2 = 1.25 > 1.2), and nothing else moves.
    #[test]
    fn latency_times_1_5_regresses(
        reps in levels(3..=8, 0.2),
        threshold in 5.0..20.0f64,
        paired in any::<bool>(),
    ) {
        let opts = CompareOptions { threshold_pct: threshold, paired, ..CompareOptions::default() };
        let cmp = compare(
            &results(cells("websocket", &reps, 1.0)),
            &results(cells("websocket", &reps, 1.5)),
            &opts,
        ).unwrap();
        for (_, m) in cmp.rows() {
            match m.metric {
                CompareMetric::P50 | CompareMetric::P99 => {
                    prop_assert_eq!(m.verdict, RegressionVerdict::Regressed, "{:?}", m);
                    prop_assert!((m.ratio - 1.5).abs() < 0.01, "{:?}", m);
                }
                _ => prop_assert!(m.verdict != RegressionVerdict::Regressed, "{:?}", m),
            }
        }
        prop_assert!(cmp.regressed());
        prop_assert_eq!(cmp.exit_code(), 2);
    }

    /// Swapping baseline and current mirrors every verdict (regressed ↔ improved, the others
    /// stay) and inverts the ratio and its interval.
    #[test]
    fn swap_mirrors_verdicts(
        b in levels(2..=7, 0.3),
        c in levels(2..=7, 0.3),
        scale in 0.5..2.0f64,
        paired in any::<bool>(),
    ) {
        let base = results(cells("websocket", &b, 1.0));
        let cur = results(cells("websocket", &c, scale));
        let opts = CompareOptions { paired, ..CompareOptions::default() };
        let fwd = compare(&base, &cur, &opts).unwrap();
        let back = compare(&cur, &base, &opts).unwrap();
        for ((_, f), (_, r)) in fwd.rows().zip(back.rows()) {
            prop_assert_eq!(f.metric, r.metric);
            prop_assert_eq!(r.verdict, mirror(f.verdict), "{:?} vs {:?}", f, r);
            prop_assert!((f.ratio * r.ratio - 1.0).abs() < 1e-9);
            if let (Some(fc), Some(rc)) = (f.ci, r.ci) {
                prop_assert!((fc.low * rc.high - 1.0).abs() < 1e-9);
                prop_assert!((fc.high * rc.low - 1.0).abs() < 1e-9);
            }
        }
        prop_assert_eq!(fwd.counts.regressed, back.counts.improved);
        prop_assert_eq!(fwd.counts.improved, back.counts.regressed);
    }
}

/// The symmetry property must not be vacuous: with a clear slowdown, the forward direction
/// regresses and the reverse improves.
#[test]
fn swap_turns_regression_into_improvement() {
    let reps: Vec<Rep> = [100.0, 103.0, 98.0, 101.0]
        .into_iter()
        .map(Rep::at)
        .collect();
    let base = results(cells("tcp", &reps, 1.0));
    let cur = results(cells("tcp", &reps, 1.3));
    let fwd = compare(&base, &cur, &CompareOptions::default()).unwrap();
    let back = compare(&cur, &base, &CompareOptions::default()).unwrap();
    assert_eq!(fwd.counts.regressed, 2, "{}", fwd.markdown());
    assert_eq!(back.counts.improved, 2, "{}", back.markdown());
    assert_eq!(back.counts.regressed, 0);
    assert_eq!((fwd.exit_code(), back.exit_code()), (2, 0));
}
