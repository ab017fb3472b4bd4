//! End-to-end tests of `wirebench compare`'s exit codes and outputs: results files built here
//! from the model types (with real HdrHistograms), the real binary run on them.
//! 0 = no regression, 2 = regression, 1 = error (missing file, bad JSON, params mismatch).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wirebench_reports::{Cell, Host, Latency, Results, Status, SCHEMA};

const REPEATS: u32 = 5;

fn wirebench() -> Command {
    Command::cargo_bin("wirebench").expect("binary built")
}

/// One echo repeat whose RTTs centre on `p50_us`: a real histogram of 2,000 samples spread
/// ±20 % around it, so every percentile (and the stored `hdr`) is consistent.
fn echo_cell(transport: &str, repeat: u32, p50_us: f64, rate: u64) -> Cell {
    let mut h = wirebench::workload::new_histogram();
    for i in 0..2000u64 {
        let spread = ((i * 7919) % 401) as f64 / 1000.0 - 0.2; // -0.2 ..= +0.2
        h.record((p50_us * (1.0 + spread)).round() as u64).unwrap();
    }
    let mut params = serde_json::Map::new();
    params.insert("rate".into(), rate.into());
    params.insert("size".into(), 64.into());
    params.insert("latency".into(), "rtt".into());
    Cell {
        scenario: "quick".into(),
        workload: "echo".into(),
        label: None,
        transport: transport.into(),
        profile: "loopback".into(),
        repeat,
        status: Status::Ok,
        error: None,
        params,
        implementation: None,
        client: None,
        latency_us: Some(Latency::from_histogram(&h).unwrap()),
        setup_ms: None,
        setup_rtts: None,
        setup_phases_ms: BTreeMap::new(),
        throughput: None,
        delivery: None,
        wire: None,
        resources: None,
        warmup: None,
        send_lateness_us: None,
        harness_bound: None,
        emulator: None,
        phase_step_ns: None,
        browser: None,
        errors: BTreeMap::new(),
        idle: None,
        flap: None,
        shards: Vec::new(),
    }
}

/// Results with `REPEATS` repeats of echo over tcp and websocket; the websocket p50 is scaled
/// by `ws_factor`, and `rate` is the echo rate recorded in `params`.
fn results(ws_factor: f64, rate: u64) -> Results {
    let mut cells = Vec::new();
    for r in 1..=REPEATS {
        // Small run-to-run variation (±1.5 %), the same pattern on both sides.
        let wobble = 1.0 + (f64::from(r % 3) - 1.0) * 0.015;
        cells.push(echo_cell("tcp", r, 80.0 * wobble, rate));
        cells.push(echo_cell("websocket", r, 120.0 * wobble * ws_factor, rate));
    }
    Results {
        schema: SCHEMA.to_string(),
        version: "0.1.0".into(),
        git: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        host: Host {
            os: "linux".into(),
            cpus: 2,
            ..Host::default()
        },
        netem_backend: "none".into(),
        emulator_semantics: None,
        cells,
        verdicts: Vec::new(),
        thresholds: Vec::new(),
    }
}

fn save(dir: &Path, name: &str, r: &Results) -> PathBuf {
    let p = dir.join(name);
    r.save_atomic(&p).unwrap();
    p
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn identical_files_exit_0() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let c = save(d.path(), "current.json", &results(1.0, 1000));
    let o = wirebench().arg("compare").arg(&b).arg(&c).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let md = stdout(&o);
    assert!(!md.contains("regressed"), "nothing may regress:\n{md}");
    assert!(md.contains("websocket") && md.contains("tcp"), "{md}");
}

#[test]
fn one_and_a_half_times_slower_exits_2_and_names_the_cell() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let c = save(d.path(), "current.json", &results(1.5, 1000));
    let o = wirebench().arg("compare").arg(&b).arg(&c).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let md = stdout(&o);
    let regressed: Vec<&str> = md.lines().filter(|l| l.contains("regressed")).collect();
    assert!(
        regressed.iter().any(|l| l.contains("websocket")),
        "the websocket cell must be named as regressed:\n{md}"
    );
    assert!(
        !regressed
            .iter()
            .any(|l| l.contains("tcp") && !l.contains("websocket")),
        "tcp did not change and must not be flagged:\n{md}"
    );
    // Reversed, the same change is an improvement, and nothing regresses.
    let o = wirebench().arg("compare").arg(&c).arg(&b).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("improved"), "{}", stdout(&o));
}

/// Two single-repeat runs cannot be judged: exit 4 and a headline that says so, never a
/// green "no regression".
#[test]
fn single_repeat_runs_exit_4_nothing_judged() {
    let d = tempfile::tempdir().unwrap();
    let mut one = results(1.0, 1000);
    one.cells.retain(|c| c.repeat == 1);
    let b = save(d.path(), "baseline.json", &one);
    let c = save(d.path(), "current.json", &one);
    let o = wirebench().arg("compare").arg(&b).arg(&c).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}{}", stdout(&o), stderr(&o));
    let md = stdout(&o);
    assert!(md.contains("nothing could be judged"), "{md}");
    assert!(!md.contains("no regression"), "{md}");
}

#[test]
fn json_output_parses_and_carries_the_verdicts() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let c = save(d.path(), "current.json", &results(1.5, 1000));
    let o = wirebench()
        .args(["compare", "--format", "json", "--metric", "p50"])
        .arg(&b)
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("compare JSON parses");
    let cells = v["cells"].as_array().expect("cells array");
    assert_eq!(cells.len(), 2);
    for cell in cells {
        let t = cell["key"]["transport"].as_str().unwrap();
        let m = cell["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == "p50")
            .expect("p50 compared");
        let ratio = m["ratio"].as_f64().unwrap();
        match t {
            "websocket" => {
                assert_eq!(m["verdict"], "regressed");
                assert!((ratio - 1.5).abs() < 0.02, "ratio {ratio}");
            }
            "tcp" => {
                assert_eq!(m["verdict"], "unchanged");
                assert!((ratio - 1.0).abs() < 0.02, "ratio {ratio}");
            }
            other => panic!("unexpected cell {other}"),
        }
    }
}

#[test]
fn missing_file_exits_1_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let missing = d.path().join("no-such-results.json");
    let o = wirebench()
        .arg("compare")
        .arg(&b)
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no-such-results.json"),
        "the message must name the file: {}",
        stderr(&o)
    );
}

#[test]
fn bad_json_exits_1_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let bad = d.path().join("broken-current.json");
    std::fs::write(&bad, "{\"schema\": \"wirebench/1\", \"cells\": [").unwrap();
    let o = wirebench()
        .arg("compare")
        .arg(&b)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("broken-current.json"),
        "the message must name the file: {}",
        stderr(&o)
    );
}

#[test]
fn params_mismatch_exits_1_naming_the_field() {
    let d = tempfile::tempdir().unwrap();
    let b = save(d.path(), "baseline.json", &results(1.0, 1000));
    let c = save(d.path(), "current.json", &results(1.0, 2000));
    let o = wirebench().arg("compare").arg(&b).arg(&c).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("params.rate") && e.contains("1000") && e.contains("2000"),
        "the message must name the parameter and both values: {e}"
    );
}
