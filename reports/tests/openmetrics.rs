//! The OpenMetrics export: its structure (cumulative buckets, `+Inf` = `_count`, one family
//! per name, `# EOF` last), its figures (the same medians as the other exports), and
//! `promtool check metrics` on the export of the FAQ fixture when promtool is installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_fixture;

use std::collections::BTreeMap;
use std::path::Path;

use report_fixture::fixed;
use wirebench_reports::export::{self, openmetrics, Format};
use wirebench_reports::figures;
use wirebench_reports::Results;

/// A sample line split into (name, labels without `le`, `le`, value).
fn sample(line: &str) -> (String, String, Option<String>, f64) {
    let (series, value) = line.rsplit_once(' ').expect("name and value");
    let (name, labels) = match series.split_once('{') {
        Some((n, l)) => (n, l.trim_end_matches('}')),
        None => (series, ""),
    };
    let mut le = None;
    let mut rest = Vec::new();
    for l in labels.split(",").filter(|l| !l.is_empty()) {
        match l.strip_prefix("le=") {
            Some(v) => le = Some(v.trim_matches('"').to_string()),
            None => rest.push(l),
        }
    }
    let value = if value == "+Inf" {
        f64::INFINITY
    } else {
        value.parse().expect("a number")
    };
    (name.to_string(), rest.join(","), le, value)
}

fn fixture() -> Results {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/faq-quick-results.json");
    Results::load(&path).expect("fixture loads")
}

/// Checks the structure every export must have; returns the number of histogram series.
fn check_structure(text: &str) -> usize {
    assert!(text.ends_with("# EOF\n"), "no # EOF terminator");
    assert_eq!(text.matches("# EOF").count(), 1);
    // Families are contiguous: a name's # TYPE appears once, before its samples.
    let mut typed: Vec<&str> = Vec::new();
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = l.split(' ').nth(2).unwrap();
        assert!(!typed.contains(&name), "{name} typed twice");
        assert!(name.starts_with("wirebench_"), "{name}");
        typed.push(name);
    }
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, labels, le, value) = sample(l);
        assert!(value.is_finite() && value >= 0.0, "{l}");
        if name == "wirebench_latency_seconds_bucket" {
            let le = le.expect("a bucket has le");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                assert!(le.contains('.'), "le {le} not canonical");
                le.parse().unwrap()
            };
            buckets.entry(labels).or_default().push((bound, value));
        } else if name == "wirebench_latency_seconds_count" {
            assert!(counts.insert(labels, value).is_none(), "{l} twice");
        }
    }
    for (labels, b) in &buckets {
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0),
            "le not increasing: {labels}"
        );
        assert!(
            b.windows(2).all(|w| w[0].1 <= w[1].1),
            "not cumulative: {labels}"
        );
        let last = b.last().unwrap();
        assert_eq!(last.0, f64::INFINITY, "{labels}: +Inf bucket last");
        assert_eq!(Some(&last.1), counts.get(labels), "{labels}: +Inf = _count");
    }
    assert_eq!(buckets.len(), counts.len());
    buckets.len()
}

#[test]
fn openmetrics_snapshot() {
    insta::assert_snapshot!("metrics_prom", openmetrics::text(&fixed()));
}

#[test]
fn histograms_are_cumulative_and_end_at_their_count() {
    let r = fixed();
    let text = openmetrics::text(&r);
    let series = check_structure(&text);
    let with_latency = figures::keys(&r)
        .iter()
        .filter(|k| k.ok.iter().any(|c| c.latency_us.is_some()))
        .count();
    assert!(
        series > 0 && series == with_latency,
        "{series} / {with_latency}"
    );
    // The pooled count is the delivered frames of every ok repeat.
    let delivered: u64 = r
        .cells
        .iter()
        .filter(|c| c.status == wirebench_reports::Status::Ok)
        .filter_map(|c| c.latency_us.as_ref())
        .map(|l| l.delivered_count())
        .sum();
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("wirebench_latency_seconds_count"))
        .map(|l| sample(l).3)
        .sum();
    assert_eq!(total, delivered as f64);
    check_structure(&openmetrics::text(&fixture()));
}

#[test]
fn gauges_are_the_medians_in_base_units() {
    let r = fixed();
    let text = openmetrics::text(&r);
    let k = &figures::keys(&r)[0];
    let p50 = k
        .spread(figures::metric("latency_p50_us").unwrap())
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("wirebench_latency_p50_seconds{"))
        .unwrap();
    assert!(
        line.contains(&format!("scenario=\"{}\"", k.scenario)),
        "{line}"
    );
    assert!(
        line.contains(&format!("transport=\"{}\"", k.transport)),
        "{line}"
    );
    assert!(line.contains("client=\"rust\""), "{line}");
    assert!((sample(line).3 - p50.median / 1e6).abs() < 1e-12, "{line}");
    assert!(text.contains("# UNIT wirebench_latency_seconds seconds\n"));
    // Failed keys are still there, as repeat counts.
    assert!(
        text.contains("status=\"failed\"} 1"),
        "a failed repeat is counted"
    );
}

/// A histogram that cannot be decoded leaves its key without a histogram series (a pool
/// without that repeat would misstate it), and the export goes on.
#[test]
fn an_unreadable_histogram_drops_only_its_series() {
    let mut r = fixed();
    let c = r
        .cells
        .iter_mut()
        .find(|c| c.status == wirebench_reports::Status::Ok && c.latency_us.is_some())
        .unwrap();
    if let Some(l) = c.latency_us.as_mut() {
        l.hdr = "not base64!".into();
    }
    let marker = format!(
        "transport=\"{}\",impl=\"\",profile=\"{}\"",
        c.transport, c.profile
    );
    let scenario = format!("scenario=\"{}\"", c.scenario);
    let text = openmetrics::text(&r);
    check_structure(&text);
    let of_key = |prefix: &str| {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(&marker) && l.contains(&scenario))
            .count()
    };
    assert_eq!(of_key("wirebench_latency_seconds_"), 0);
    assert_eq!(of_key("wirebench_latency_p50_seconds{"), 1);
    assert!(text.contains("wirebench_latency_seconds_count{"));
}

#[test]
fn the_export_writes_metrics_prom() {
    let dir = tempfile_dir();
    let paths = export::write(&fixed(), Format::OpenMetrics, &dir).unwrap();
    assert_eq!(paths, vec![dir.join(openmetrics::FILE_NAME)]);
    assert_eq!(
        "prometheus".parse::<Format>().ok(),
        Some(Format::OpenMetrics)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wirebench-om-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `promtool check metrics` (Debian's `prometheus`) accepts the export of the FAQ fixture (one
/// label value escaped): it parses and passes promtool's lint (base units, help texts, names).
/// Skipped, saying so, where promtool is not installed; with `CI` set (`.ci/run` installs it)
/// a missing promtool fails the test, so CI cannot pass without the check.
#[test]
fn promtool_accepts_the_export() {
    use std::io::Write as _;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool not found and CI is set: install Debian's `prometheus`"
        );
        eprintln!("promtool not installed: skipping (apt-get install prometheus)");
        return;
    };
    // A label value that needs escaping (quote, backslash) on one key.
    let mut r = fixture();
    r.cells[0].scenario = "faq \"quoted\" C:\\path".into();
    let text = openmetrics::text(&r);
    assert!(text.contains(r#"scenario="faq \"quoted\" C:\\path""#));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {said}");
    assert!(said.trim().is_empty(), "promtool: {said}");
}
