//! End-to-end tests of the FAQ machinery: `wirebench run --quick` applies a scenario's CI scale
//! and writes verdicts that match the schema; `wirebench recommend` ranks transports from a
//! results file produced by a real quick run of `scenarios/faq/{setup,hol}.toml`
//! (`tests/fixtures/faq-quick-results.json`, userspace link emulation), with evidence that
//! traces back to the file's cells.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn wirebench() -> Command {
    Command::cargo_bin("wirebench").expect("binary built")
}

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/faq-quick-results.json")
}

fn recommend_json(args: &[&str]) -> serde_json::Value {
    let a = wirebench()
        .arg("recommend")
        .arg("--results")
        .arg(fixture())
        .args(args)
        .args(["--format", "json"])
        .assert();
    // 0 with a ranking, 4 when nothing could be ranked (the JSON says why in its notes).
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 4)), "{:?}", a.get_output());
    serde_json::from_slice(&a.get_output().stdout).expect("recommend --format json is JSON")
}

/// `recommend --results FIXTURE ARGS` as text: its stdout (it must succeed).
fn recommend_text(args: &[&str]) -> String {
    let a = wirebench()
        .arg("recommend")
        .arg("--results")
        .arg(fixture())
        .args(args)
        .assert()
        .success();
    String::from_utf8_lossy(&a.get_output().stdout).to_string()
}

/// Per-repeat values of one metric of one cell key of the fixture, recomputed from the file
/// through the metric catalogue.
fn fixture_values(cell: &str, metric: &str) -> Vec<f64> {
    let r = wirebench_reports::Results::load(&fixture()).unwrap();
    let mut v: Vec<f64> = r
        .cells
        .iter()
        .filter(|c| c.status == wirebench_reports::Status::Ok)
        .filter(|c| {
            let (s, w, t, p) = c.key();
            format!("{s}/{w}/{t}/{p}") == cell
        })
        .filter_map(|c| {
            let m = wirebench_reports::metrics::by_id(metric)
                .unwrap_or_else(|| panic!("metric {metric} is not in the catalogue"));
            m.get_from(c)
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn recommend_ranks_with_evidence_traceable_to_cells() {
    let rec = recommend_json(&["--loss-tolerant", "--clients", "5", "--profile", "loss-3"]);
    let ts = rec["transports"].as_array().unwrap();
    let ranked: Vec<&serde_json::Value> = ts.iter().filter(|t| !t["rank"].is_null()).collect();
    assert!(ranked.len() >= 4, "{rec:#}");
    // Ranks are 1..n in order of score, excluded transports after them.
    for (i, t) in ranked.iter().enumerate() {
        assert_eq!(t["rank"].as_u64(), Some(i as u64 + 1));
        if i > 0 {
            assert!(
                t["score"].as_f64() >= ranked[i - 1]["score"].as_f64(),
                "{rec:#}"
            );
        }
    }
    assert_eq!(ranked[0]["score"].as_f64(), Some(1.0), "the best scores 1");
    let tcp = ts.iter().find(|t| t["transport"] == "tcp").unwrap();
    assert!(tcp["rank"].is_null());
    assert!(tcp["excluded"].as_str().unwrap().contains("browsers"));
    // Every evidence figure is the median of the named cell's repeats, at the chosen loss level.
    for t in &ranked {
        let ev = t["evidence"].as_array().unwrap();
        assert!(!ev.is_empty(), "{t:#}");
        for e in ev {
            let cell = e["cell"].as_str().unwrap();
            assert!(
                cell.starts_with("faq-hol/echo/") && cell.ends_with("/loss-3"),
                "{cell}"
            );
            let values = fixture_values(cell, e["metric"].as_str().unwrap());
            assert_eq!(values.len() as u64, e["repeats"].as_u64().unwrap());
            let median = wirebench_reports::stats::median(&values).unwrap();
            assert_eq!(e["median"].as_f64(), Some(median), "{cell}");
        }
        assert!(
            t["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_str().unwrap().starts_with("hol-blocking: ")),
            "{t:#}"
        );
    }
    // The collab criteria are unmeasured in this file, and the notes say so.
    let notes = rec["notes"].to_string();
    assert!(
        notes.contains("faq-collab is not in the results"),
        "{notes}"
    );
    assert!(notes.contains("--quick"), "{notes}");
}

#[test]
fn recommend_without_loss_tolerance_leaves_unreliable_transports_out() {
    let rec = recommend_json(&["--clients", "5"]);
    for t in rec["transports"].as_array().unwrap() {
        let name = t["transport"].as_str().unwrap();
        if name.starts_with("webrtc-unreliable") || name == "webtransport-datagram" {
            assert!(t["rank"].is_null(), "{t:#}");
            assert!(t["excluded"].as_str().unwrap().contains("--loss-tolerant"));
        }
    }
    // Text output: same ranking, people-readable, evidence with its cell.
    let out = recommend_text(&["--loss-tolerant", "--size", "1400"]);
    assert!(out.contains("\n1. "), "{out}");
    assert!(out.contains("[faq-hol/echo/"), "{out}");
    assert!(
        out.contains("webtransport-datagram  not ranked: a 1400 B message"),
        "{out}"
    );
    assert!(out.contains("FAQ verdicts that apply:"), "{out}");
}

/// `recommend` names the profile its figures come from (here the loss level nearest 3 %).
#[test]
fn recommend_names_the_profile_it_used() {
    let rec = recommend_json(&["--loss-tolerant", "--clients", "5"]);
    assert_eq!(rec["profiles"], serde_json::json!(["loss-3"]), "{rec:#}");
    assert!(rec["per_profile"].as_array().unwrap().is_empty());
    let out = recommend_text(&["--loss-tolerant", "--clients", "5"]);
    assert!(out.contains("(figures from loss-3)"), "{out}");
}

/// Results with nothing the traits need: exit 4 and a clear word, not an empty success.
#[test]
fn recommend_with_nothing_to_rank_exits_4() {
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture()).unwrap()).unwrap();
    r["cells"] = serde_json::json!([]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();
    let a = wirebench()
        .arg("recommend")
        .arg("--results")
        .arg(&path)
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains("nothing to rank"), "{stderr}");
}

#[test]
fn recommend_rejects_bad_traits_clearly() {
    for (args, want) in [
        (vec!["--clients", "0"], "--clients"),
        (vec!["--size", "3"], "--size 3"),
        (vec!["--rate=-1"], "--rate"),
        (vec!["--profile", "mars"], "--profile"),
        (vec!["--topology", "mesh"], "mesh"),
    ] {
        let a = wirebench()
            .arg("recommend")
            .arg("--results")
            .arg(fixture())
            .args(&args)
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let a = wirebench()
        .args(["recommend", "--results", "/nonexistent/results.json"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains("/nonexistent/results.json"), "{stderr}");
}

/// `run --quick` applies the `[quick]` table, marks the cells, computes the verdicts of the FAQ
/// scenario it ran and writes them into a results file that matches the schema and summary.md.
#[test]
fn quick_run_applies_the_ci_scale_and_writes_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("setup.toml");
    std::fs::write(
        &scenario,
        r#"name = "faq-setup"
description = "setup round trips (loopback only: no RTT to count them in)"
transports = ["tcp", "websocket"]
repeat = 3
[quick]
repeat = 1
connects = 3
[[workload]]
kind = "connect"
connects = 50
warmup_ms = 1
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let a = wirebench()
        .args(["run", "--quick", "--quiet", "--out"])
        .arg(&out)
        .arg(&scenario)
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("reports/schema/results.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let r = wirebench_reports::Results::load(&out.join("results.json")).unwrap();
    assert_eq!(r.cells.len(), 2, "quick: one repeat of two transports");
    for c in &r.cells {
        assert_eq!(c.params["connects"], 3);
        assert_eq!(c.params["quick"], true);
    }
    let vs = wirebench_reports::verdicts::read(&r);
    assert_eq!(vs.len(), 2, "{:#?}", r.verdicts);
    for v in &vs {
        assert!(v.id.starts_with("setup-rtts-"));
        // Loopback has no RTT to count round trips in: inconclusive, and it says why.
        assert_eq!(
            v.verdict,
            wirebench_reports::verdicts::Outcome::Inconclusive
        );
        assert!(v.decided_by.contains("shaped profile"), "{}", v.decided_by);
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## FAQ verdicts"), "{summary}");
    assert!(summary.contains("`setup-rtts-websocket`"), "{summary}");
    drop(a);
}
