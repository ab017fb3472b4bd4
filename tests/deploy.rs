//! deploy/: the Kubernetes manifests validated offline against the Kubernetes schemas (PyPI's
//! `kubernetes-validate`, strict, Kubernetes 1.33.0), the Indexed Jobs' shard count kept in
//! step with their `--shard I/N`, the `drive` arguments they pass accepted by this build, and
//! the Dockerfile's stages (docs/distributed.md).
//!
//! Without the validator the schema test fails under CI (`CI` set: .ci/run installs it) and
//! is skipped, saying why, elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The validator (run as `python3 -m kubernetes_validate`, the Python that .ci/run installed
/// it into) and the Kubernetes version the manifests are checked against.
const VALIDATOR: &str = "kubernetes-validate";
const KUBERNETES: &str = "1.33.0";

fn validator() -> Command {
    let mut c = Command::new("python3");
    c.args(["-m", "kubernetes_validate"]);
    c
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every manifest under deploy/k8s (recursively), sorted.
fn manifests() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("deploy/k8s"), &mut out);
    out.sort();
    assert!(out.len() >= 4, "deploy/k8s holds the manifests: {out:?}");
    out
}

/// Whether the validator runs here; under CI its absence is a failure.
fn validator_present() -> bool {
    let ok = validator()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{VALIDATOR} is missing: .ci/run installs it (pip install kubernetes-validate==1.37.0)"
        );
        eprintln!(
            "skipped: {VALIDATOR} is not installed (pip install kubernetes-validate==1.37.0)"
        );
    }
    ok
}

/// Runs the validator on one file: its success and what it said.
fn validate(file: &Path) -> (bool, String) {
    let out = validator()
        .args(["--strict", "-k", KUBERNETES])
        .arg(file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas_strictly() {
    if !validator_present() {
        return;
    }
    for m in manifests() {
        let (ok, said) = validate(&m);
        assert!(ok, "{}: {said}", m.display());
        assert!(said.contains("passed"), "{}: {said}", m.display());
    }
}

/// The test of the test: a Job with a misspelt field and one with a wrong type both fail.
#[test]
fn the_validator_refuses_a_broken_manifest() {
    if !validator_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("deploy/k8s/client-job.yaml")).unwrap();
    for (name, from, to) in [
        ("misspelt", "  parallelism: 4", "  paralelism: 4"),
        ("wrong type", "  completions: 4", "  completions: four"),
        ("no containers", "      containers:", "      kontainers:"),
    ] {
        assert!(good.contains(from), "{from:?} is in client-job.yaml");
        let bad = dir.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&bad, good.replacen(from, to, 1)).unwrap();
        let (ok, said) = validate(&bad);
        assert!(!ok, "{name}: the validator accepted it: {said}");
    }
}

/// The value of `key: value` on the first line that starts with `key:`.
fn value_after<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}:"))
        .trim()
}

/// The `drive` container's arguments (the list after `- drive`).
fn drive_args(text: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != "- drive");
    let first = lines.next().expect("an args list starting with `- drive`");
    let indent = first.len() - first.trim_start().len();
    let mut args = vec!["drive".to_string()];
    for l in lines {
        let t = l.trim_start();
        if l.len() - t.len() != indent || !t.starts_with("- ") {
            break;
        }
        args.push(t[2..].to_string());
    }
    args
}

/// Each Indexed Job runs N pods for N shards: `completions` = `parallelism` = the N of
/// `--shard $(JOB_COMPLETION_INDEX)/N`, and its output is the pod's stdout.
#[test]
fn indexed_jobs_agree_on_the_shard_count() {
    let jobs: Vec<PathBuf> = manifests()
        .into_iter()
        .filter(|m| std::fs::read_to_string(m).unwrap().contains("kind: Job"))
        .collect();
    assert!(jobs.len() >= 2, "the client Job and its NET_ADMIN variant");
    for j in jobs {
        let text = std::fs::read_to_string(&j).unwrap();
        let name = j.display();
        assert_eq!(value_after(&text, "completionMode"), "Indexed", "{name}");
        let n = value_after(&text, "completions");
        assert_eq!(value_after(&text, "parallelism"), n, "{name}");
        let args = drive_args(&text);
        let shard = format!("--shard=$(JOB_COMPLETION_INDEX)/{n}");
        assert!(args.contains(&shard), "{name}: {args:?} lacks {shard}");
        assert!(args.iter().any(|a| a.starts_with("--out=")), "{name}");
    }
}

/// The `drive` arguments of every Job parse with this build: substituted as the kubelet
/// would (index 3, a hash, a past start) and aimed at a closed loopback port, `drive` prints
/// on stdout, as one line, shard 3/N's results file, its cell failed at connecting (exit 3).
#[test]
fn the_jobs_drive_arguments_are_accepted_by_this_build() {
    for j in manifests() {
        let text = std::fs::read_to_string(&j).unwrap();
        if !text.contains("- drive") {
            continue;
        }
        let n = value_after(&text, "completions");
        let args: Vec<String> = drive_args(&text)
            .into_iter()
            .map(|a| {
                if a.starts_with("--target=") {
                    return "--target=https://127.0.0.1:9".to_string();
                }
                a.replace("$(JOB_COMPLETION_INDEX)", "3")
                    .replace("$(CERT_SHA256)", &"ab".repeat(32))
                    .replace("$(START_AT)", "1")
            })
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_wirebench"))
            .args(&args)
            .output()
            .unwrap();
        let name = j.display();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{name}: one line: {stdout}");
        let r: wirebench_reports::Results = serde_json::from_str(&stdout).unwrap();
        let cell = &r.cells[0];
        assert_eq!(cell.params["shard"], format!("3/{n}"), "{name}");
        let error = cell.error.as_deref().unwrap_or_default();
        assert!(error.contains("connect"), "{name}: {error}");
    }
}

/// The image: a build stage, the `netem` stage with tc, and a distroless runtime last (the
/// default target), non-root.
#[test]
fn the_dockerfile_builds_in_stages_onto_a_distroless_runtime() {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 3, "{froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(froms[1].ends_with(" AS netem"), "{froms:?}");
    assert!(froms[2].contains("distroless"), "{froms:?}");
    assert!(text.contains("cargo build --release --locked"));
    assert!(text.contains("iproute2"));
    assert!(text.contains("USER 65532"));
}
