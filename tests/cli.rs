//! End-to-end tests of the `wirebench` binary: a real run of a tiny scenario (agents as child
//! processes, real sockets), results validated against the JSON Schema, and clear errors for
//! bad input.

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

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("reports/schema/results.schema.json"))
        .expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

/// k6-style `[thresholds]`: a crossed limit ends `run` and `compare` with exit 99 and a table
/// of what crossed; a passing one leaves exit 0; a threshold naming nothing in the scenario is
/// refused with its file, line and key.
#[test]
fn thresholds_gate_run_and_compare_with_exit_99() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |thresholds: &str| {
        let p = dir.path().join("thr.toml");
        std::fs::write(
            &p,
            format!(
                "name = \"thr\"\nrepeat = 1\ntransports = [\"tcp\", \"websocket\"]\n\
                 [defaults]\nwarmup_ms = 100\nduration_ms = 300\n\
                 [[workload]]\nkind = \"echo\"\nrate = 200\n\
                 [thresholds]\n{thresholds}"
            ),
        )
        .unwrap();
        p
    };
    let run = |file: &Path, out: &str| {
        wirebench()
            .args(["run", "--quiet", "--force", "--out"])
            .arg(dir.path().join(out))
            .arg(file)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let crossed = run(
        &scenario("\"echo.*.p50_us\" = \"< 1\"\n\"echo.tcp.p50_us\" = \"< 10000000\"\n"),
        "crossed",
    );
    let err = String::from_utf8_lossy(&crossed.stderr);
    assert_eq!(crossed.status.code(), Some(99), "{err}");
    assert!(
        err.contains("thresholds: 2 of 3 crossed (exit 99)"),
        "{err}"
    );
    assert!(
        err.contains("| `echo.*.p50_us < 1` | thr/echo/websocket/loopback |"),
        "{err}"
    );
    let results = dir.path().join("crossed/results.json");
    let summary = std::fs::read_to_string(dir.path().join("crossed/summary.md")).unwrap();
    assert!(summary.contains("## Thresholds"), "{summary}");
    let cmp = wirebench()
        .arg("compare")
        .args([&results, &results])
        .output()
        .unwrap();
    assert_eq!(
        cmp.status.code(),
        Some(99),
        "compare checks the current file's thresholds"
    );
    let json_out = wirebench()
        .args(["report", "--format", "json"])
        .arg(&results)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json_out.stdout).expect("report json");
    let checks = v["thresholds"].as_array().expect("thresholds in the JSON");
    assert_eq!(checks.len(), 3, "{v}");
    assert_eq!(checks.iter().filter(|c| c["passed"] == false).count(), 2);

    let passed = run(&scenario("\"echo.*.p50_us\" = \"< 10000000\"\n"), "passed");
    assert_eq!(
        passed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&passed.stderr)
    );

    let bad = run(&scenario("\"echo.webrtc.p50_us\" = \"< 1\"\n"), "bad");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("thr.toml:11: thresholds.\"echo.webrtc.p50_us\": workload `echo` does not run transport `webrtc`"),
        "{err}"
    );
}

#[test]
fn tiny_run_writes_valid_results_summary_and_report() {
    let out = tempfile::tempdir().unwrap();
    let assert = wirebench()
        .args(["run", "--quiet", "--out"])
        .arg(out.path())
        .arg(repo().join("tests/scenarios/tiny.toml"))
        .timeout(std::time::Duration::from_secs(300))
        .assert();
    let output = assert.get_output().clone();
    let results_path = out.path().join("results.json");
    let text = std::fs::read_to_string(&results_path).expect("results.json written");
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    // A second run into the same directory does not silently replace these results.
    let again = wirebench()
        .args(["run", "--quiet", "--out"])
        .arg(out.path())
        .arg(repo().join("tests/scenarios/tiny.toml"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).to_string();
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&results_path).unwrap(), text);
    let validator = jsonschema::validator_for(&schema()).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&results)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "results.json does not match the schema: {errors:#?}"
    );
    // The model reads back what the runner wrote.
    let model = wirebench_reports::Results::load(&results_path).unwrap();
    assert_eq!(model.cells.len(), 5 * 5, "5 workloads × 5 transports");
    // The machine's quietness at the start is probed once and recorded, busy or not.
    let settle = model.host.settle.as_ref().expect("host.settle recorded");
    assert_eq!((settle.probes, settle.limit_us), (1, 100), "{settle:?}");
    assert_eq!(
        settle.settled,
        settle.timer_lateness_p99_us <= settle.limit_us,
        "{settle:?}"
    );
    let failed: Vec<String> = model
        .cells
        .iter()
        .filter(|c| c.status != wirebench_reports::Status::Ok)
        .map(|c| format!("{}/{}: {:?}", c.workload, c.transport, c.error))
        .collect();
    assert!(
        failed.is_empty(),
        "cells failed: {failed:#?}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0));
    for c in &model.cells {
        match c.workload.as_str() {
            "echo" | "push" => {
                let l = c.latency_us.as_ref().expect("latency");
                let p50 = l.p50.expect("p50 of a lossless echo/push");
                assert!(
                    l.count > 0 && p50 > 0 && l.p99.is_none_or(|p99| p50 <= p99),
                    "{c:?}"
                );
                // The summary is traceable to the stored histogram.
                let h = l.histogram().unwrap();
                assert_eq!(h.len(), l.count);
                assert_eq!(h.value_at_quantile(0.5), p50);
                let d = c.delivery.as_ref().unwrap();
                assert_eq!(d.lost, 0, "{}: lost frames", c.transport);
            }
            "download" | "upload" => {
                let g = c.throughput.as_ref().and_then(|t| t.goodput_bps).unwrap();
                assert!(g > 1e6, "{}/{}: goodput {g} bit/s", c.workload, c.transport);
            }
            "connect" => {
                assert!(c.setup_ms.unwrap() > 0.0);
                // Where the setup time goes, per phase (mean over the timed connections).
                assert!(c.setup_phases_ms.values().all(|v| *v >= 0.0));
                assert!(!c.setup_phases_ms.is_empty(), "{:?}", c.transport);
            }
            w => panic!("unexpected workload {w}"),
        }
        let r = c.resources.as_ref().unwrap();
        assert!(r.server_rss_peak_bytes.unwrap() > 0 && r.client_cpu_s.is_some());
    }
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    // Its tables are padded: a row's cells, separated by single spaces once collapsed.
    let rows: Vec<String> = summary
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        rows.iter()
            .any(|l| l.starts_with("| tiny | echo | websocket | loopback |")),
        "{summary}"
    );
    assert!(out.path().join("report.html").exists());
}

#[test]
fn broken_scenario_names_file_line_and_key() {
    let out = tempfile::tempdir().unwrap();
    let broken = repo().join("tests/scenarios/broken.toml");
    let assert = wirebench()
        .args(["run", "--quiet", "--out"])
        .arg(out.path())
        .arg(&broken)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains(&format!("{}:7: sise:", broken.display())),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("did you mean `size`?"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.path().join("results.json").exists());
}

#[test]
fn bad_flags_are_errors_not_panics() {
    for args in [
        vec!["run", "--transport", "pigeon"],
        vec!["run", "--profile", "mars"],
        vec!["run", "--repeat", "0"],
        vec!["run", "/nonexistent/scenario.toml"],
        vec!["report", "/nonexistent/results.json"],
    ] {
        let a = wirebench().args(&args).assert().code(1);
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(
            stderr.starts_with("wirebench: error:"),
            "{args:?}: {stderr}"
        );
        // The OS error is said once, not once per layer of context.
        assert!(
            stderr.matches("(os error").count() <= 1,
            "{args:?}: {stderr}"
        );
    }
    let a = wirebench().arg("--version").assert().code(0);
    let v = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(v.starts_with("wirebench "), "{v}");
    // Built from a git checkout (as CI and the README's commands are): the commit is named.
    if repo().join(".git").exists() {
        assert!(v.contains("(git "), "{v}");
    }
    // Out-of-range serve settings are usage errors naming the flag and the range (exit 1, as
    // every error: 2 means "regressed").
    for (args, says) in [
        (
            vec!["serve", "--poll-timeout", "18446744073709551615"],
            "1..=3600",
        ),
        (vec!["serve", "--handshake-timeout", "0"], "1..=3600"),
        (vec!["serve", "--body-budget-mib", "0"], "1..=65536"),
        (vec!["run", "--settle", "3601"], "0..=3600"),
    ] {
        let a = wirebench().args(&args).assert().code(1);
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(
            stderr.contains(args[1]) && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
    // Port 65535 leaves no P+1 for raw tcp: refused, not moved to a random port.
    let a = wirebench()
        .args(["serve", "--bind", "127.0.0.1:65535"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains("65535"), "{stderr}");
}

#[test]
fn list_names_transports_workloads_and_profiles() {
    let a = wirebench().arg("list").assert().success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    for want in [
        "websocket",
        "long-poll",
        "echo",
        "connect",
        "loopback",
        "default",
        "faq/peer",
        "faq/collab",
    ] {
        assert!(out.contains(want), "missing {want}: {out}");
    }
}

/// `completions SHELL` prints a script that completes every command; every shell clap_complete
/// knows is offered, an unknown one is a usage error.
#[test]
fn completions_name_the_commands() {
    let a = wirebench().args(["completions", "bash"]).assert().success();
    let script = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(script.contains("_wirebench()"), "{script}");
    for command in [
        "run",
        "report",
        "compare",
        "recommend",
        "list",
        "netem",
        "man",
    ] {
        assert!(script.contains(command), "bash completion lacks {command}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let a = wirebench().args(["completions", shell]).assert().success();
        let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
        assert!(out.contains("recommend"), "{shell}: {out}");
    }
    wirebench().args(["completions", "tcsh"]).assert().code(1);
}

/// `man` prints a roff page whose first request after the preamble (clap_mangen defines the
/// `Aq` string first) is `.TH wirebench 1`; `man --out DIR` writes a page per command.
#[test]
fn man_prints_roff_and_writes_a_page_per_command() {
    let a = wirebench().arg("man").assert().success();
    let page = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or("");
    assert!(first.starts_with(".TH wirebench 1"), "{page}");
    assert!(
        page.contains(".SH SUBCOMMANDS") && page.contains("recommend"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let a = wirebench()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    assert!(
        a.get_output().stdout.is_empty(),
        "pages go to files, not stdout"
    );
    for page in [
        "wirebench.1",
        "wirebench-run.1",
        "wirebench-report.1",
        "wirebench-netem-check.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH "), "{page}");
    }
}

/// Embedded scenarios are reachable by name in `run`: `faq/peer` parses (the run then stops
/// at the bad transport filter), an unknown name lists the known ones.
#[test]
fn embedded_scenarios_run_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, says) in [
        ("faq/peer", "--transport"),
        ("faq-setup", "--transport"),
        ("faq", "--transport"),
        ("faq/nope", "faq/peer"),
    ] {
        let a = wirebench()
            .current_dir(dir.path())
            .args(["run", "--quiet", "--transport", "pigeon", name])
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(stderr.contains(says), "{name}: {stderr}");
    }
}

/// A reader that stops early (`wirebench list | head -1`) ends the output quietly: exit 0,
/// no panic.
#[test]
fn closed_stdout_is_not_a_panic() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wirebench"))
        .arg("list")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the child writes (it is still starting up).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn report_regenerates_html_from_results() {
    let dir = tempfile::tempdir().unwrap();
    let results = wirebench_reports::Results {
        schema: wirebench_reports::SCHEMA.into(),
        version: "0".into(),
        git: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        host: Default::default(),
        netem_backend: "none".into(),
        emulator_semantics: None,
        cells: vec![],
        verdicts: vec![],
        thresholds: vec![],
    };
    let path = dir.path().join("results.json");
    results.save_atomic(&path).unwrap();
    wirebench().arg("report").arg(&path).assert().success();
    assert!(dir.path().join("report.html").exists());
    assert!(
        dir.path().join("summary.md").exists(),
        "report regenerates summary.md too"
    );
}

/// The FAQ fixture copied into a fresh directory (reports are written beside it).
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::copy(repo().join("tests/fixtures/faq-quick-results.json"), &path).unwrap();
    (dir, path)
}

fn stdout_json(a: &assert_cmd::assert::Assert) -> serde_json::Value {
    let out = &a.get_output().stdout;
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// `--format json` on the commands that print data: one JSON document on stdout, the files
/// written said on stderr.
#[test]
fn read_commands_print_json() {
    let a = wirebench()
        .args(["list", "--format", "json"])
        .assert()
        .success();
    let list = stdout_json(&a);
    let ids: Vec<&str> = list["transports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"websocket") && ids.contains(&"webrtc"),
        "{ids:?}"
    );
    assert!(list["parameters"]["echo"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    assert!(list["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "faq/peer"));

    let (dir, results) = fixture_copy();
    let a = wirebench()
        .args(["report", "--format", "json", "--export", "openmetrics"])
        .arg(&results)
        .assert()
        .success();
    let report = stdout_json(&a);
    let fixture = wirebench_reports::Results::load(&results).unwrap();
    assert_eq!(report["cells"]["ok"], fixture.cells.len());
    assert!(report["keys"].as_array().is_some_and(|k| !k.is_empty()));
    assert!(report["verdicts"].as_array().is_some_and(|v| !v.is_empty()));
    let html = report["outputs"]["report"].as_str().unwrap();
    assert!(Path::new(html).exists() && html.ends_with("report.html"));
    assert!(dir.path().join("metrics.prom").exists());
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("wirebench: wrote") && stderr.contains("metrics.prom"),
        "{stderr}"
    );

    let a = wirebench()
        .args(["recommend", "--format", "json", "--results"])
        .arg(&results)
        .assert();
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 4)), "{code:?}");
    let rec = stdout_json(&a);
    assert!(
        rec.get("transports").is_some() && rec.get("traits").is_some(),
        "{rec}"
    );
}

/// `report -o -` writes the HTML to stdout and nothing else; the verdicts go to stderr, no
/// report.html or summary.md is written, --export files go beside the results.
#[test]
fn report_to_stdout_keeps_stdout_html_only() {
    let (dir, results) = fixture_copy();
    let a = wirebench()
        .args(["report", "-o", "-", "--export", "csv"])
        .arg(&results)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stdout.starts_with("<!DOCTYPE html>"),
        "{}",
        &stdout[..stdout.len().min(200)]
    );
    assert!(stdout.trim_end().ends_with("</html>"));
    assert!(
        !stderr.contains("<html") && !stderr.contains("<!DOCTYPE"),
        "{stderr}"
    );
    assert!(
        stderr.contains("verdict"),
        "the verdicts go to stderr: {stderr}"
    );
    assert!(!dir.path().join("report.html").exists());
    assert!(!dir.path().join("summary.md").exists());
    assert!(dir.path().join("results.csv").exists());
    // Both to stdout is refused.
    wirebench()
        .args(["report", "-o", "-", "--format", "json"])
        .arg(&results)
        .assert()
        .code(1);
    // Text: the verdicts are what is printed; the files written are said on stderr.
    let a = wirebench().arg("report").arg(&results).assert().success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stdout.contains("verdict") && !stdout.contains("report.html"),
        "{stdout}"
    );
    assert!(
        stderr.contains("wrote") && stderr.contains("report.html"),
        "{stderr}"
    );
}

/// `run --format json`: the end-of-run summary as one JSON document on stdout, even with
/// --quiet, naming the files written.
#[test]
fn run_prints_its_summary_as_json() {
    let out = tempfile::tempdir().unwrap();
    let a = wirebench()
        .args([
            "run",
            "--quiet",
            "--format",
            "json",
            "--transport",
            "tcp",
            "--out",
        ])
        .arg(out.path())
        .arg(repo().join("tests/scenarios/tiny.toml"))
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success();
    let doc = stdout_json(&a);
    assert_eq!(doc["cells"]["ok"], 5, "{doc}");
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 5, "one key per workload over tcp");
    let echo = keys.iter().find(|k| k["workload"] == "echo").unwrap();
    assert!(
        echo["latency_p50_us"].as_f64().is_some_and(|v| v > 0.0),
        "{echo}"
    );
    let results = doc["outputs"]["results"].as_str().unwrap();
    assert!(Path::new(results).exists(), "{results}");
}

/// A namespace prefix unique to one test of this process, so parallel tests (and other runs on
/// the machine) never see each other's namespaces.
fn own_prefix(test: &str) -> String {
    format!("wb-t{}{test}-", std::process::id())
}

/// Runs `scenario` through the userspace link emulator with this test's namespace `prefix`,
/// expects exit 0 within `timeout_s`, and returns the results (checked to be emulated).
fn run_shaped(
    scenario: &Path,
    out: &Path,
    prefix: &str,
    timeout_s: u64,
) -> wirebench_reports::Results {
    wirebench()
        .args(["run", "--quiet", "--netem", "userspace", "--out"])
        .arg(out)
        .arg(scenario)
        .env("WIREBENCH_NETNS_PREFIX", prefix)
        .timeout(std::time::Duration::from_secs(timeout_s))
        .assert()
        .code(0);
    let r = wirebench_reports::Results::load(&out.join("results.json")).unwrap();
    assert_eq!(r.netem_backend, "userspace");
    r
}

/// Named namespaces starting with `prefix`.
fn netns_with(prefix: &str) -> Vec<String> {
    netns_names()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn netns_names() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|n| n.starts_with("wb-"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A shaped profile runs through the link emulator: setup counts the round trips the protocols
/// predict, echo sees the configured RTT, wire bytes are counted, and no namespace is left.
#[test]
fn shaped_profile_runs_through_the_emulator_and_cleans_up() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipped: link emulation needs root");
        return;
    }
    let prefix = own_prefix("shaped");
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("shaped.toml");
    std::fs::write(
        &scenario,
        r#"name = "shaped"
repeat = 1
transports = ["tcp", "websocket"]
profiles = ["broadband"]
[defaults]
warmup_ms = 200
duration_ms = 800
[[workload]]
kind = "echo"
rate = 100
[[workload]]
kind = "connect"
connects = 3
[[workload]]
kind = "download"
size = 16384
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = run_shaped(&scenario, &out, &prefix, 120);
    for c in &r.cells {
        assert_eq!(c.status, wirebench_reports::Status::Ok, "{c:?}");
        let rtts = c.setup_rtts.expect("setup in round trips on a shaped link");
        let want = if c.transport == "tcp" { 1.0 } else { 3.0 };
        // Setup cannot beat the round trips the protocol needs (tight lower bound); stalls of a
        // loaded virtual machine only add (seen here: up to 7 RTT for a 3-RTT handshake), so the
        // upper bound only catches a run that is stuck.
        assert!(
            rtts > want - 0.2 && rtts < want + 20.0,
            "{}/{}: setup {rtts:.2} RTT, the protocol predicts {want}",
            c.workload,
            c.transport
        );
        let w = c.wire.as_ref().unwrap();
        assert!(w.bytes_up.unwrap() > 0 && w.bytes_down.unwrap() > 0);
        if c.workload == "echo" {
            // The emulated RTT is a hard floor; scheduling stalls on a loaded VM only add.
            let p50_ms = c.latency_us.as_ref().unwrap().p50.expect("p50") as f64 / 1000.0;
            assert!(
                (29.0..1000.0).contains(&p50_ms),
                "{}: echo p50 {p50_ms} ms over a 30 ms RTT",
                c.transport
            );
            assert!(w.overhead_ratio.unwrap() > 1.0);
        }
        if c.workload == "download" {
            // broadband is 100 Mbit/s down: the emulator must hold the rate.
            let g = c.throughput.as_ref().and_then(|t| t.goodput_bps).unwrap() / 1e6;
            assert!(
                (60.0..=101.0).contains(&g),
                "{}: download {g:.1} Mbit/s on a 100 Mbit/s link",
                c.transport
            );
        }
    }
    assert_eq!(
        netns_with(&prefix),
        Vec::<String>::new(),
        "namespaces left behind"
    );
}

/// Rootless mode: an unprivileged user (uid 65534, no capabilities) gets a shaped run by
/// becoming root over a private user namespace; the run says so, the link is really shaped,
/// and nothing appears in (or is left in) the host's namespaces.
#[test]
fn unprivileged_user_runs_shaped_cells_rootless() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipped: needs root to drop to an unprivileged user with setpriv");
        return;
    }
    let prefix = own_prefix("rootless");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // The build tree may sit where uid 65534 cannot reach (e.g. under /root): run a copy.
    let bin = dir.path().join("wirebench");
    std::fs::copy(assert_cmd::cargo::cargo_bin("wirebench"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scenario = dir.path().join("rootless.toml");
    std::fs::write(
        &scenario,
        r#"name = "rootless"
repeat = 1
transports = ["tcp"]
profiles = ["broadband"]
[defaults]
warmup_ms = 100
duration_ms = 500
[[workload]]
kind = "echo"
rate = 100
"#,
    )
    .unwrap();
    std::fs::set_permissions(&scenario, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.path().join("out");
    let run = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(&bin)
        .args(["run", "--netem", "userspace", "--out"])
        .arg(&out)
        .arg(&scenario)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("WIREBENCH_NETNS_PREFIX", &prefix)
        .output()
        .expect("setpriv (util-linux) runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "rootless run failed: {text}");
    assert!(
        text.contains("rootless"),
        "the run must say it is rootless: {text}"
    );
    let r = wirebench_reports::Results::load(&out.join("results.json")).unwrap();
    assert_eq!(r.netem_backend, "userspace");
    let c = &r.cells[0];
    assert_eq!(c.status, wirebench_reports::Status::Ok, "{c:?}");
    let p50_ms = c.latency_us.as_ref().unwrap().p50.expect("p50") as f64 / 1000.0;
    assert!(
        (29.0..1000.0).contains(&p50_ms),
        "echo p50 {p50_ms} ms over broadband's 30 ms RTT"
    );
    assert_eq!(
        netns_with(&prefix),
        Vec::<String>::new(),
        "rootless mode must not touch the host's namespaces"
    );
}

/// relay with the peers 5 ms apart and the server 60 ms away (userspace emulator): WebRTC goes
/// peer to peer (≈ 5 ms one way), WebSocket through the server (≈ 60 + 60 ms); the peers run on
/// two client hosts, and no namespace is left.
#[test]
fn shaped_relay_takes_the_peer_path_or_the_server_path() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipped: link emulation needs root");
        return;
    }
    let prefix = own_prefix("relay");
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("tests/scenarios/relay-shaped.toml");
    let out = dir.path().join("out");
    let r = run_shaped(&scenario, &out, &prefix, 180);
    let mut seen = Vec::new();
    for c in &r.cells {
        assert_eq!(c.status, wirebench_reports::Status::Ok, "{c:?}");
        seen.push(format!(
            "{}@{}",
            c.transport,
            c.implementation.as_deref().unwrap_or("-")
        ));
        let d = c.delivery.as_ref().unwrap();
        assert_eq!((d.sent, d.received), (40, 40), "{}: delivery", c.transport);
        assert_eq!(c.params["pair_delay_ms"], 5.0);
        assert_eq!(c.params["server_delay_ms"], 60.0);
        // The emulated path is a hard floor; stalls of a loaded machine only add.
        let p50_ms = c.latency_us.as_ref().unwrap().p50.expect("p50") as f64 / 1000.0;
        let (lo, hi) = if c.transport == "webrtc" {
            (5.0, 60.0) // peer to peer: 5 ms; through the server it could not beat 120 ms
        } else {
            (120.0, 600.0)
        };
        assert!(
            (lo..hi).contains(&p50_ms),
            "{}: relay p50 {p50_ms} ms, the path predicts {lo} ms",
            c.transport
        );
        let w = c.wire.as_ref().unwrap();
        assert!(w.bytes_up.unwrap() > 0 && w.bytes_down.unwrap() > 0);
        // Setup in round trips of the client <-> server path (120 ms).
        assert!(
            c.setup_rtts.unwrap() > 0.5,
            "{}: {:?}",
            c.transport,
            c.setup_rtts
        );
    }
    seen.sort();
    assert_eq!(seen, ["webrtc@str0m", "webrtc@webrtc-rs", "websocket@-"]);
    assert_eq!(
        netns_with(&prefix),
        Vec::<String>::new(),
        "namespaces left behind"
    );
}

/// `--ab` runs both builds interleaved and compares them; the same build against itself must
/// not be called a regression on a clear signal, and writes the comparison.
#[test]
fn ab_run_compares_two_builds() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("ab.toml");
    std::fs::write(
        &scenario,
        "name = \"ab\"\nrepeat = 3\ntransports = [\"tcp\"]\n[[workload]]\nkind = \"connect\"\nconnects = 5\nwarmup_ms = 1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let me = assert_cmd::cargo::cargo_bin("wirebench");
    let a = wirebench()
        .args(["run", "--quiet", "--threshold", "1000", "--ab"])
        .arg(&me)
        .arg("--out")
        .arg(&out)
        .arg(&scenario)
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    for side in ["baseline", "current"] {
        let r = wirebench_reports::Results::load(&out.join(side).join("results.json")).unwrap();
        assert_eq!(r.cells.len(), 3, "{side}");
    }
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("connect"), "{md}");
    assert!(stdout.contains("connect"), "{stdout}");
}

/// A shaped scenario of one `tcp` echo cell lasting about `secs` seconds.
fn long_shaped_scenario(dir: &Path, secs: u32) -> PathBuf {
    let scenario = dir.join("long.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"long\"\nrepeat = 1\ntransports = [\"tcp\"]\nprofiles = [\"broadband\"]\n\
             [[workload]]\nkind = \"echo\"\nrate = 50\nwarmup_ms = 100\nduration_ms = {}\n",
            secs * 1000
        ),
    )
    .unwrap();
    scenario
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipped: link emulation needs root");
    }
    root
}

/// Ctrl-C at any moment, even while the first cell is still setting up, leaves no namespace.
#[test]
fn an_early_ctrl_c_leaves_no_namespace() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = long_shaped_scenario(dir.path(), 30);
    for (i, after_ms) in [5u64, 15, 30, 60, 120, 400].into_iter().enumerate() {
        let prefix = own_prefix(&format!("early{i}"));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wirebench"))
            .args(["run", "--quiet", "--netem", "userspace", "--out"])
            .arg(dir.path().join(format!("out{i}")))
            .arg(&scenario)
            .env("WIREBENCH_NETNS_PREFIX", &prefix)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(after_ms));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let _ = child.wait();
        assert_eq!(
            netns_with(&prefix),
            Vec::<String>::new(),
            "Ctrl-C {after_ms} ms into a run left namespaces"
        );
    }
}

/// A run killed outright (SIGKILL) cannot clean up; the next run removes what it left, and
/// nothing of a live run.
#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    if !is_root() {
        return;
    }
    let prefix = own_prefix("killed");
    let dir = tempfile::tempdir().unwrap();
    let scenario = long_shaped_scenario(dir.path(), 30);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wirebench"))
        .args(["run", "--quiet", "--netem", "userspace", "--out"])
        .arg(dir.path().join("killed"))
        .arg(&scenario)
        .env("WIREBENCH_NETNS_PREFIX", &prefix)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while netns_with(&prefix).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let left = netns_with(&prefix);
    assert!(!left.is_empty(), "the killed run had made no namespace");
    let short = dir.path().join("short.toml");
    std::fs::write(
        &short,
        "name = \"short\"\nrepeat = 1\ntransports = [\"tcp\"]\nprofiles = [\"broadband\"]\n\
         [[workload]]\nkind = \"echo\"\nrate = 50\nwarmup_ms = 100\nduration_ms = 300\n",
    )
    .unwrap();
    let out = wirebench()
        .args(["run", "--netem", "userspace", "--out"])
        .arg(dir.path().join("next"))
        .arg(&short)
        .env("WIREBENCH_NETNS_PREFIX", own_prefix("next"))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("left by runs that no longer exist"),
        "{stderr}"
    );
    assert_eq!(netns_with(&prefix), Vec::<String>::new(), "{left:?}");
}
