//! report.html in a real browser: Debian's Chromium, headless, launched and driven over the
//! DevTools protocol by the browser lane's launcher (`wirebench::browser::Chromium`, with the
//! flags of `CHROMIUM.md` that keep Chromium's own traffic on the machine); it lives in the
//! harness crate for that reason, the results fixture is the reports crate's. Asserts the
//! answer section is the page's first element and heading, on the first screen; no
//! console errors, every chart's `<svg>` present with a non-zero size, no request other than
//! the file itself, no horizontal scrolling at 1280 px, all with page JavaScript disabled;
//! keeps a full-page screenshot as a test artifact (`$WIREBENCH_ARTIFACTS/report-screenshot.png`, or
//! `<target>/report-screenshot.png`).
//!
//! Chromium missing: the test fails when `CI` is set, otherwise it says so and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../reports/tests/report_fixture/mod.rs"]
mod report_fixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use wirebench::browser::{chromium, Chromium, LaunchOptions};

const T: Duration = Duration::from_secs(30);

fn artifacts_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WIREBENCH_ARTIFACTS") {
        return PathBuf::from(d);
    }
    // <target>/<profile>/deps/<test binary>
    std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir)
}

#[tokio::test(flavor = "current_thread")]
async fn report_renders_in_chromium() {
    let Some(chromium) = chromium::find() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium not found and CI is set: install Debian's `chromium`"
        );
        eprintln!(
            "SKIP report_renders_in_chromium: chromium not installed (apt-get install chromium)"
        );
        return;
    };

    let mut results = report_fixture::fixed();
    results.verdicts = vec![
        json!({"question": "lowest p99 on lte", "answer": "websocket", "confidence": "high"})
            .into(),
        json!({"question": "cheapest setup on lte", "answer": "tcp", "confidence": "high"}).into(),
    ];
    let html = wirebench_reports::html::render(&results).expect("renders");
    let expected: Vec<String> = html
        .match_indices("data-chart=\"")
        .filter_map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest.find('"').map(|e| rest[..e].to_string())
        })
        .collect();
    assert!(
        expected.len() >= 10,
        "fixture should give many charts: {expected:?}"
    );

    let dir =
        PageDir(std::env::temp_dir().join(format!("wirebench-report-page-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let file = dir.0.join("report.html");
    std::fs::write(&file, &html).expect("write report");
    let file_url = format!("file://{}", file.display());

    let browser = Chromium::launch(
        std::process::Command::new(&chromium),
        &LaunchOptions::default(),
    )
    .await
    .expect("chromium launches");
    let page = browser.new_page(false).await.expect("a page");
    let mut events = browser.cdp.events();
    for domain in ["Page", "Runtime", "Log", "Network"] {
        page.call(&format!("{domain}.enable"), json!({}), T)
            .await
            .expect("enable");
    }
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        T,
    )
    .await
    .expect("metrics");
    // The report must read with JavaScript off: load it that way.
    page.call(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
        T,
    )
    .await
    .expect("script off");
    page.navigate(&file_url).await.expect("report loads");

    let probe = r#"(() => {
        const figs = [...document.querySelectorAll('figure.chart')];
        return {
            figures: figs.length,
            svgs: figs.map(f => {
                const s = f.querySelector(':scope > svg');
                const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
                // Text drawn outside its chart is clipped: titles, labels, legends.
                const clipped = s ? [...s.querySelectorAll('text')].filter(t => {
                    const b = t.getBoundingClientRect();
                    return b.width > 0 && (b.left < r.left - 1 || b.right > r.right + 1
                        || b.top < r.top - 1 || b.bottom > r.bottom + 1);
                }).map(t => t.textContent.trim()) : [];
                return {id: f.dataset.chart, present: !!s, w: r.width, h: r.height,
                        texts: s ? s.querySelectorAll('text').length : 0, clipped};
            }),
            scrollWidth: document.documentElement.scrollWidth,
            height: document.documentElement.scrollHeight,
            resources: performance.getEntriesByType('resource').map(e => e.name),
            title: document.title,
            answer: (() => {
                const a = document.getElementById('answer');
                const first = document.querySelector('h1, h2, h3, h4');
                const r = a ? a.getBoundingClientRect() : {top: 1e9, height: 0};
                return {present: !!a, top: r.top, height: r.height,
                        firstHeadingInside: !!(a && first && a.contains(first)),
                        firstElement: document.querySelector('main').firstElementChild.id,
                        rankings: a ? a.querySelectorAll('table.rank').length : 0,
                        rows: a ? a.querySelectorAll('table.rank tr').length : 0};
            })(),
        };
    })()"#;
    let page_v = page.evaluate(probe, T).await.expect("probe");
    let mut seen: Vec<Value> = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if ev["sessionId"] == page.session.as_str() {
            seen.push(ev);
        }
    }

    // Console errors and exceptions, from any source.
    let errors: Vec<&Value> = seen
        .iter()
        .filter(|e| {
            (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                || e["method"] == "Runtime.exceptionThrown"
                || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // Nothing but the file itself was requested.
    let requests: Vec<&str> = seen
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str())
        .collect();
    assert!(!requests.is_empty(), "the navigation itself is a request");
    assert!(
        requests.iter().all(|u| *u == file_url),
        "requests other than the report: {requests:?}"
    );
    assert_eq!(page_v["resources"], json!([]), "subresources loaded");

    // The answer comes first: the page's first element and first heading, on the first
    // screen, with a ranking per workload × profile.
    let answer = &page_v["answer"];
    assert_eq!(answer["present"], true, "{answer}");
    assert_eq!(answer["firstElement"], "answer", "{answer}");
    assert_eq!(answer["firstHeadingInside"], true, "{answer}");
    assert!(
        answer["top"].as_f64().unwrap_or(f64::MAX) < 100.0,
        "{answer}"
    );
    let groups = wirebench_reports::answer::Answer::of(&results).groups.len();
    assert!(groups > 0, "the fixture has rankings");
    assert_eq!(answer["rankings"].as_u64(), Some(groups as u64), "{answer}");
    assert!(
        answer["rows"].as_u64().unwrap_or(0) > 2 * groups as u64,
        "{answer}"
    );

    // Every chart is there, drawn, with text.
    let svgs = page_v["svgs"].as_array().expect("svgs");
    let ids: Vec<&str> = svgs.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, expected, "charts in the DOM vs in the HTML");
    for s in svgs {
        assert_eq!(s["present"], true, "{s}");
        assert!(s["w"].as_f64().unwrap_or(0.0) > 100.0, "{s}");
        assert!(s["h"].as_f64().unwrap_or(0.0) > 100.0, "{s}");
        assert!(s["texts"].as_u64().unwrap_or(0) > 3, "axis labels: {s}");
        assert_eq!(s["clipped"], json!([]), "text outside its chart: {s}");
    }
    assert!(
        page_v["scrollWidth"].as_f64().unwrap_or(f64::MAX) <= 1280.0,
        "horizontal scrolling at 1280 px: {page_v}"
    );

    // Full-page screenshot, kept as an artifact.
    let height = page_v["height"]
        .as_f64()
        .unwrap_or(900.0)
        .clamp(900.0, 16_000.0);
    let shot = page
        .call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}}),
            T,
        )
        .await
        .expect("screenshot");
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let out = artifacts_dir();
    std::fs::create_dir_all(&out).expect("artifacts dir");
    let path = out.join("report-screenshot.png");
    std::fs::write(&path, &png).expect("write screenshot");
    eprintln!(
        "report.html: {} bytes, {} charts; screenshot {} ({} bytes, 1280×{height})",
        html.len(),
        expected.len(),
        path.display(),
        png.len()
    );

    drop(page);
    browser.close().await;
    drop(dir);
}

/// The directory holding the rendered page; removed even when an assertion fails.
struct PageDir(PathBuf);

impl Drop for PageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
