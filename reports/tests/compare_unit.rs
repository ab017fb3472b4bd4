//! Unit tests of `compare`: refusals, verdict rules, outputs.

mod compare_common;

use compare_common::{cell, cells, results, samples, Rep};
use serde_json::json;
use wirebench_reports::compare::{
    compare, CompareError, CompareMetric, CompareOptions, RegressionVerdict, EXIT_NOTHING_JUDGED,
    EXIT_REGRESSION,
};
use wirebench_reports::{Results, Status};

fn reps(levels: &[f64]) -> Vec<Rep> {
    levels.iter().copied().map(Rep::at).collect()
}

fn steady() -> Vec<Rep> {
    reps(&[100.0, 102.0, 99.0, 101.0, 100.5])
}

fn verdict(r: &wirebench_reports::compare::Comparison, m: CompareMetric) -> RegressionVerdict {
    r.rows()
        .find(|(_, x)| x.metric == m)
        .map(|(_, x)| x.verdict)
        .expect("metric compared")
}

#[test]
fn params_mismatch_is_refused_naming_cell_and_field() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    for c in &mut cur.cells {
        c.params.insert("clients".into(), json!(8));
    }
    let err = compare(&base, &cur, &CompareOptions::default()).unwrap_err();
    assert!(
        matches!(&err, CompareError::ParamsMismatch { field, .. } if field == "clients"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("params.clients"), "{msg}");
    assert!(msg.contains("quick/echo/websocket/lan"), "{msg}");
    assert!(
        msg.contains("baseline 4") && msg.contains("current 8"),
        "{msg}"
    );
}

/// Runs on different link backends or emulator semantics are refused; absent semantics is 1.
#[test]
fn different_backends_or_emulator_semantics_are_refused() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    cur.netem_backend = "kernel".into();
    let err = compare(&base, &cur, &CompareOptions::default()).unwrap_err();
    assert!(
        matches!(err, CompareError::BackendMismatch { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("link backend \"none\", current on \"kernel\""),
        "{err}"
    );
    let mut cur = base.clone();
    cur.emulator_semantics = Some(2);
    let err = compare(&base, &cur, &CompareOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            CompareError::SemanticsMismatch {
                baseline: 1,
                current: 2
            }
        ),
        "{err:?}"
    );
    // Absent (an older file) is version 1: accepted against an explicit 1.
    cur.emulator_semantics = Some(1);
    assert!(compare(&base, &cur, &CompareOptions::default()).is_ok());
    // Hosts defaulting to different TCP congestion controls are refused; a file that does
    // not record it (older) is compared.
    let mut cur = base.clone();
    cur.host.tcp_congestion_control = Some("bbr".into());
    assert!(compare(&base, &cur, &CompareOptions::default()).is_ok());
    let mut bbr_base = base.clone();
    bbr_base.host.tcp_congestion_control = Some("bbr".into());
    assert!(compare(&bbr_base, &cur, &CompareOptions::default()).is_ok());
    cur.host.tcp_congestion_control = Some("cubic".into());
    let err = compare(&bbr_base, &cur, &CompareOptions::default()).unwrap_err();
    assert!(
        matches!(err, CompareError::CongestionControlMismatch { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("TCP congestion control \"bbr\", current with \"cubic\""),
        "{err}"
    );
}

#[test]
fn params_present_on_one_side_only_is_refused() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    for c in &mut cur.cells {
        c.params.insert("burst".into(), json!(true));
    }
    let msg = compare(&base, &cur, &CompareOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("params.burst") && msg.contains("baseline absent"),
        "{msg}"
    );
}

#[test]
fn ignored_params_and_equal_numbers_are_accepted() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    for c in &mut cur.cells {
        c.params.insert("clients".into(), json!(4.0)); // same number, written as a float
        c.params.insert("seed".into(), json!(42));
    }
    let opts = CompareOptions {
        ignore_params: vec!["seed".into()],
        ..CompareOptions::default()
    };
    let r = compare(&base, &cur, &opts).unwrap();
    assert_eq!(r.counts.unchanged, CompareMetric::ALL.len());
    // Without the ignore list the extra parameter is refused.
    assert!(compare(&base, &cur, &CompareOptions::default()).is_err());
}

#[test]
fn repeats_disagreeing_within_a_file_are_refused() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    cur.cells[2].params.insert("size".into(), json!(1024));
    let err = compare(&base, &cur, &CompareOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            CompareError::ParamsInconsistent {
                side: "current",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("params.size"), "{msg}");
}

#[test]
fn too_few_repeats_is_noisy_even_for_a_big_change() {
    let base = results(cells("websocket", &reps(&[100.0, 101.0]), 1.0));
    let cur = results(cells("websocket", &reps(&[100.0, 101.0]), 3.0));
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    let (_, p50) = r
        .rows()
        .find(|(_, m)| m.metric == CompareMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, RegressionVerdict::Noisy);
    assert!(p50.ci.is_none());
    assert!((p50.ratio - 3.0).abs() < 0.01, "{}", p50.ratio);
    assert!(p50.reason.contains("need 3"), "{}", p50.reason);
    assert_eq!(r.counts.noisy, CompareMetric::ALL.len());
    // Nothing could be judged: not a green pass.
    assert_eq!(r.exit_code(), EXIT_NOTHING_JUDGED);
    assert!(r.markdown().contains("noisy (too few repeats)"));
    assert!(
        r.markdown().contains("nothing could be judged"),
        "{}",
        r.markdown()
    );
}

#[test]
fn failed_repeats_do_not_count_as_repeats() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = results(cells("websocket", &steady(), 2.0));
    for c in cur.cells.iter_mut().skip(2) {
        c.status = Status::Failed;
        c.error = Some("boom".into());
    }
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_eq!(verdict(&r, CompareMetric::P50), RegressionVerdict::Noisy);
    assert_eq!(r.cells[0].current_repeats.failed, 3);
    assert!(r.cells[0].new_failures());
    let md = r.markdown();
    assert!(
        md.contains("failed repeats 0 in baseline, 3 in current ⚠️ new"),
        "{md}"
    );
}

#[test]
fn wide_interval_is_noisy_not_unchanged() {
    let noisy = reps(&[100.0, 160.0, 70.0, 130.0]);
    let base = results(cells("websocket", &noisy, 1.0));
    let cur = results(cells("websocket", &noisy, 1.05));
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    let (_, p50) = r
        .rows()
        .find(|(_, m)| m.metric == CompareMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, RegressionVerdict::Noisy, "{p50:?}");
    assert!(p50.reason.contains("too wide"), "{}", p50.reason);
    assert!(!r.regressed());
}

#[test]
fn small_change_within_threshold_is_unchanged() {
    let base = results(cells("websocket", &steady(), 1.0));
    let cur = results(cells("websocket", &steady(), 1.04));
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_eq!(
        verdict(&r, CompareMetric::P50),
        RegressionVerdict::Unchanged
    );
    // The same change is a regression against a 1 % threshold.
    let strict = CompareOptions {
        threshold_pct: 1.0,
        ..CompareOptions::default()
    };
    let r = compare(&base, &cur, &strict).unwrap();
    assert_eq!(
        verdict(&r, CompareMetric::P50),
        RegressionVerdict::Regressed
    );
}

#[test]
fn lower_goodput_is_a_regression_higher_an_improvement() {
    let base = results(cells("websocket", &steady(), 1.0));
    let slower: Vec<Rep> = steady()
        .into_iter()
        .map(|mut r| {
            r.goodput_bps *= 0.7;
            r.msgs_per_s *= 1.3;
            r
        })
        .collect();
    let cur = results(cells("websocket", &slower, 1.0));
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_eq!(
        verdict(&r, CompareMetric::Goodput),
        RegressionVerdict::Regressed
    );
    assert_eq!(
        verdict(&r, CompareMetric::MsgsPerS),
        RegressionVerdict::Improved
    );
    assert_eq!(
        verdict(&r, CompareMetric::P50),
        RegressionVerdict::Unchanged
    );
    assert_eq!(r.counts.regressed, 1);
    assert_eq!(r.exit_code(), EXIT_REGRESSION);
    let (key, m) = r.regressions().next().unwrap();
    assert_eq!(key.to_string(), "quick/echo/websocket/lan");
    assert_eq!(m.metric, CompareMetric::Goodput);
}

#[test]
fn rss_per_connection_divides_by_clients() {
    let base = results(cells("websocket", &steady(), 1.0));
    let r = compare(&base, &base, &CompareOptions::default()).unwrap();
    let (_, rss) = r
        .rows()
        .find(|(_, m)| m.metric == CompareMetric::RssPerConn)
        .unwrap();
    assert_eq!(rss.baseline.median, (10u64 << 20) as f64 / 4.0);

    // Without params.clients the metric is not compared at all.
    let mut no_clients = base.clone();
    for c in &mut no_clients.cells {
        c.params.remove("clients");
    }
    let r = compare(&no_clients, &no_clients, &CompareOptions::default()).unwrap();
    assert!(r.rows().all(|(_, m)| m.metric != CompareMetric::RssPerConn));
    assert_eq!(r.rows().count(), CompareMetric::ALL.len() - 1);
}

#[test]
fn metric_filter_and_parsing() {
    let base = results(cells("websocket", &steady(), 1.0));
    let cur = results(cells("websocket", &steady(), 1.5));
    let opts = CompareOptions {
        metrics: CompareMetric::parse_list("p99, setup").unwrap(),
        ..CompareOptions::default()
    };
    let r = compare(&base, &cur, &opts).unwrap();
    let got: Vec<CompareMetric> = r.rows().map(|(_, m)| m.metric).collect();
    assert_eq!(got, vec![CompareMetric::P99, CompareMetric::SetupMs]);
    assert_eq!(r.counts.regressed, 1);

    let err = CompareMetric::parse_list("p50,p95")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"p95\"") && err.contains("rss_per_conn"),
        "{err}"
    );
    assert_eq!(
        "Latency-P50".parse::<CompareMetric>().unwrap(),
        CompareMetric::P50
    );
}

#[test]
fn one_sided_cells_are_listed_not_compared() {
    let mut base_cells = cells("websocket", &steady(), 1.0);
    base_cells.extend(cells("sse", &steady(), 1.0));
    let mut cur_cells = cells("websocket", &steady(), 1.0);
    cur_cells.extend(cells("tcp", &steady(), 9.0));
    let r = compare(
        &results(base_cells),
        &results(cur_cells),
        &CompareOptions::default(),
    )
    .unwrap();
    assert_eq!(r.cells.len(), 1);
    assert_eq!(r.only_in_baseline[0].transport, "sse");
    assert_eq!(r.only_in_current[0].transport, "tcp");
    assert!(!r.regressed());
    let md = r.markdown();
    assert!(md.contains("Cells only in the baseline"), "{md}");
    assert!(md.contains("- quick/echo/tcp/lan"), "{md}");
}

#[test]
fn metric_measured_on_one_side_is_listed() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    for c in &mut cur.cells {
        c.setup_ms = None;
    }
    let r = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_eq!(r.cells[0].one_sided.len(), 1);
    assert_eq!(r.cells[0].one_sided[0].metric, CompareMetric::SetupMs);
    assert_eq!(r.cells[0].one_sided[0].measured_in, "baseline");
}

#[test]
fn disjoint_files_are_an_error() {
    let base = results(cells("websocket", &steady(), 1.0));
    let cur = results(cells("tcp", &steady(), 1.0));
    let err = compare(&base, &cur, &CompareOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            CompareError::NothingInCommon {
                baseline: 1,
                current: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn bad_values_and_options_are_refused() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = base.clone();
    cur.cells[1].setup_ms = Some(-1.0);
    let msg = compare(&base, &cur, &CompareOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("current") && msg.contains("repeat 2") && msg.contains("setup_ms"),
        "{msg}"
    );
    for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let o = CompareOptions {
            threshold_pct: bad,
            ..CompareOptions::default()
        };
        assert!(matches!(
            compare(&base, &base, &o),
            Err(CompareError::InvalidThreshold(_))
        ));
    }
    let o = CompareOptions {
        resamples: 100,
        ..CompareOptions::default()
    };
    assert!(compare(&base, &base, &o)
        .unwrap_err()
        .to_string()
        .contains("resamples 100"));
}

#[test]
fn deterministic_and_json_shape() {
    let base = results(cells("websocket", &steady(), 1.0));
    let cur = results(cells("websocket", &steady(), 1.3));
    let a = compare(&base, &cur, &CompareOptions::default()).unwrap();
    let b = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_eq!(a.json().unwrap(), b.json().unwrap());
    let v: serde_json::Value = serde_json::from_str(&a.json().unwrap()).unwrap();
    assert_eq!(v["counts"]["regressed"], 2);
    let m = &v["cells"][0]["metrics"][0];
    assert_eq!(m["metric"], "p50");
    assert_eq!(m["verdict"], "regressed");
    assert!(m["ci"]["low"].as_f64().unwrap() > 1.1);
    assert_eq!(m["baseline"]["n"], 5);
    assert_eq!(v["cells"][0]["key"]["transport"], "websocket");
}

#[test]
fn reading_a_file_round_trip() {
    // What the CLI does: load both files from disk, compare.
    let dir = std::env::temp_dir().join(format!("wb-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (bp, cp) = (dir.join("base.json"), dir.join("cur.json"));
    results(cells("websocket", &steady(), 1.0))
        .save_atomic(&bp)
        .unwrap();
    results(cells("websocket", &steady(), 1.25))
        .save_atomic(&cp)
        .unwrap();
    let r = compare(
        &Results::load(&bp).unwrap(),
        &Results::load(&cp).unwrap(),
        &CompareOptions::default(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.exit_code(), EXIT_REGRESSION);
}

#[test]
fn markdown_for_a_pr_comment() {
    let base = results(cells("websocket", &steady(), 1.0));
    let mut cur = results(cells("websocket", &steady(), 1.2));
    // One single-sample cell on the current side only, to show the "only in" section.
    cur.cells
        .push(cell("tcp", 1, &samples(100.0), &Rep::at(100.0)));
    let opts = CompareOptions {
        metrics: vec![
            CompareMetric::P50,
            CompareMetric::P99,
            CompareMetric::SetupMs,
        ],
        ..CompareOptions::default()
    };
    let md = compare(&base, &cur, &opts).unwrap().markdown();
    insta::assert_snapshot!(md, @r#"
    ## wirebench compare

    Baseline 0.1.0 (abc1234) → current 0.1.0 (abc1234).

    ❌ **2 regressions** · 0 improved · 1 unchanged · 0 noisy — threshold ±10 %, 95 % bootstrap CI of the ratio of medians over repeats (5000 resamples, ≥ 3 repeats per side).

    | cell | metric | baseline | current | change | 95 % CI | verdict |
    |---|---|--:|--:|--:|--:|---|
    | quick/echo/websocket/lan | latency p50 | 100 µs (n=5) | 120 µs (n=5) | +20.0 % | +17.6 % … +22.0 % | 🔴 **regressed** |
    | quick/echo/websocket/lan | latency p99 | 159 µs (n=5) | 191 µs (n=5) | +20.1 % | +17.5 % … +22.3 % | 🔴 **regressed** |

    <details><summary>1 unchanged</summary>

    | cell | metric | baseline | current | change | 95 % CI | verdict |
    |---|---|--:|--:|--:|--:|---|
    | quick/echo/websocket/lan | setup | 2.00 ms (n=5) | 2.00 ms (n=5) | +0.0 % | +0.0 % … +0.0 % | ⚪ unchanged |

    </details>

    ### Cells only in the current run (not compared)

    - quick/echo/tcp/lan
    "#);
}

#[test]
fn paired_repeats_cancel_drift_that_makes_unpaired_noisy() {
    // Repeat i of both builds ran back to back and drifted together (±40 %); the current
    // build is 25 % slower in every pair.
    let drift = reps(&[100.0, 140.0, 80.0, 120.0, 60.0, 110.0, 90.0]);
    let base = results(cells("websocket", &drift, 1.0));
    let cur = results(cells("websocket", &drift, 1.25));
    let unpaired = compare(&base, &cur, &CompareOptions::default()).unwrap();
    assert_ne!(
        verdict(&unpaired, CompareMetric::P50),
        RegressionVerdict::Regressed
    );
    let paired = CompareOptions {
        paired: true,
        ..CompareOptions::default()
    };
    let r = compare(&base, &cur, &paired).unwrap();
    assert_eq!(
        verdict(&r, CompareMetric::P50),
        RegressionVerdict::Regressed
    );
    assert!(r.paired && r.markdown().contains("paired"));
    // The same drift with no change is not a regression when paired.
    let same = compare(&base, &results(cells("websocket", &drift, 1.0)), &paired).unwrap();
    assert_eq!(
        verdict(&same, CompareMetric::P50),
        RegressionVerdict::Unchanged
    );
    // Only repeats present on both sides pair up: too few pairs is noisy, not a verdict.
    let short = results(cells("websocket", &drift[..2], 1.25));
    let r = compare(&base, &short, &paired).unwrap();
    assert_eq!(verdict(&r, CompareMetric::P50), RegressionVerdict::Noisy);
}
