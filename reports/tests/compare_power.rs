//! Operating characteristics of the verdict rule, by seeded simulation: how often an A/A
//! comparison cries wolf, and how often a real slowdown is caught, for a given run-to-run
//! noise (coefficient of variation of a per-repeat figure), repeats and threshold.
//!
//! These numbers back the guidance in `docs/compare.md`; run with `--nocapture` to see them.

use wirebench_reports::stats::{bootstrap_ratio_of_medians, BootstrapOptions, XorShift64Star};

/// Fraction of `trials` simulated comparisons flagged as regressed, when the true ratio is
/// `ratio` and each repeat's figure is log-normal with coefficient of variation ≈ `cv`.
fn flagged(cv: f64, n: usize, threshold_pct: f64, ratio: f64, trials: usize, seed: u64) -> f64 {
    let mut rng = XorShift64Star::new(seed);
    let mut normal = move || {
        // Box–Muller.
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let opts = BootstrapOptions {
        resamples: 2000,
        ..BootstrapOptions::default()
    };
    let up = 1.0 + threshold_pct / 100.0;
    let mut hits = 0;
    for i in 0..trials {
        let mut draw = |scale: f64| {
            (0..n)
                .map(|_| 100.0 * scale * (cv * normal()).exp())
                .collect::<Vec<f64>>()
        };
        let (b, c) = (draw(1.0), draw(ratio));
        let o = BootstrapOptions {
            seed: opts.seed ^ i as u64,
            ..opts
        };
        let est = bootstrap_ratio_of_medians(&b, &c, &o).expect("valid input");
        if est.ci.low > up {
            hits += 1;
        }
    }
    hits as f64 / trials as f64
}

#[test]
fn false_alarms_are_rare_and_real_slowdowns_are_caught() {
    let trials = 400;
    let mut table = String::from("cv    n  threshold  A/A flagged  +20 % flagged  +50 % flagged\n");
    for (cv, n) in [
        (0.02, 3),
        (0.02, 5),
        (0.05, 3),
        (0.05, 5),
        (0.10, 3),
        (0.10, 5),
    ] {
        let aa = flagged(cv, n, 10.0, 1.0, trials, 1);
        let p20 = flagged(cv, n, 10.0, 1.2, trials, 2);
        let p50 = flagged(cv, n, 10.0, 1.5, trials, 3);
        table.push_str(&format!(
            "{cv:.2}  {n}  10 %       {aa:>11.3}  {p20:>13.3}  {p50:>13.3}\n"
        ));
        // A/A: never more than 1 % of metrics flagged, even with 10 % run-to-run noise.
        assert!(aa <= 0.01, "A/A cv {cv} n {n}: {aa}\n{table}");
        // A 50 % slowdown is caught almost always at up to 10 % noise.
        assert!(p50 >= 0.85, "+50 % cv {cv} n {n}: {p50}\n{table}");
    }
    println!("{table}");
    // A 20 % slowdown is caught ≥ 95 % of the time only on a quiet runner (cv 2 %).
    assert!(flagged(0.02, 5, 10.0, 1.2, trials, 4) >= 0.95, "{table}");
    assert!(flagged(0.02, 3, 10.0, 1.2, trials, 5) >= 0.95, "{table}");
    // ... and much less often on a noisy one: the rule prefers silence to false alarms.
    assert!(flagged(0.10, 3, 10.0, 1.2, trials, 6) < 0.5, "{table}");
}
