//! Report size and render time on results files of realistic size. Prints the figures (run
//! with `--nocapture`) and bounds them, so a change that makes the report balloon or crawl
//! fails here.

mod report_fixture;

use std::time::Instant;

use wirebench_reports::{export, html, summary, Results};

fn measure(label: &str, r: &Results) -> (usize, f64) {
    // Warm once (page faults, lazy statics), then time the best of three.
    let html = html::render(r).expect("renders");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let again = html::render(r).expect("renders");
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(again.len(), html.len(), "rendering is deterministic");
    }
    let charts = html.matches("<figure class=\"chart\"").count();
    let t = Instant::now();
    let md = summary::markdown(r);
    let csv = export::csv(r);
    let other_ms = t.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "{label}: {} cells → report.html {} bytes ({:.0} KiB), {charts} charts, render {best:.1} ms; \
         summary.md {} bytes, CSV {} bytes ({other_ms:.1} ms)",
        r.cells.len(),
        html.len(),
        html.len() as f64 / 1024.0,
        md.len(),
        csv.len()
    );
    if let Some(dir) = std::env::var_os("WIREBENCH_ARTIFACTS") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            std::path::Path::new(&dir).join(format!("{label}.html")),
            &html,
        );
    }
    (html.len(), best)
}

#[test]
fn default_suite_size_and_render_time() {
    // The embedded default suite: 5 TCP transports × 6 workloads × loopback × 3 repeats,
    // ~3,000 samples per histogram (1,000 msg/s for 3 s).
    let r = report_fixture::realistic(
        &["tcp", "websocket", "sse", "long-poll", "poll"],
        &[
            "echo-64", "echo-1k", "push", "download", "upload", "connect",
        ],
        &["loopback"],
        3,
        3_000,
    );
    let (bytes, ms) = measure("default-suite", &r);
    assert!(bytes < 3 * 1024 * 1024, "report.html is {bytes} bytes");
    assert!(ms < 5_000.0, "render took {ms} ms");
}

#[test]
fn large_matrix_size_and_render_time() {
    // 5 transports × 5 workloads × 3 profiles × 3 repeats, 20,000 samples per histogram.
    let r = report_fixture::realistic(
        &[
            "tcp",
            "websocket",
            "sse",
            "webtransport",
            "webrtc-unreliable",
        ],
        &["echo", "push", "relay", "collab", "idle"],
        &["loopback", "lan", "lte"],
        3,
        20_000,
    );
    let (bytes, ms) = measure("large-matrix", &r);
    assert!(bytes < 8 * 1024 * 1024, "report.html is {bytes} bytes");
    assert!(ms < 10_000.0, "render took {ms} ms");
}
