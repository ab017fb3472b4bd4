//! What people read, snapshot-tested on a fixed results file, plus the promises every format
//! keeps: the same statistics everywhere, gaps for null measurements, failures never hidden.

mod report_fixture;

use report_fixture::{bad_cell, fixed, ok_cell, results, Rng};
use wirebench_reports::export::{self, Format};
use wirebench_reports::{html, summary, Results, Status};

#[test]
fn summary_markdown_snapshot() {
    insta::assert_snapshot!("summary_md", summary::markdown(&fixed()));
}

/// summary.md with its table padding collapsed to single spaces, so rows read as written.
fn unpadded(md: &str) -> String {
    md.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect()
}

#[test]
fn csv_snapshot() {
    insta::assert_snapshot!("results_csv", export::csv(&fixed()));
}

#[test]
fn github_action_benchmark_snapshot() {
    let files = export::exporter(Format::GithubActionBenchmark)
        .export(&fixed())
        .expect("exports");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "benchmark-smaller.json");
    insta::assert_snapshot!("gab_smaller", files[0].contents);
    insta::assert_snapshot!("gab_bigger", files[1].contents);
}

#[test]
fn bencher_snapshot() {
    let files = export::exporter(Format::Bencher)
        .export(&fixed())
        .expect("exports");
    insta::assert_snapshot!("bencher", files[0].contents);
}

fn csv_table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    // The fixture has no quoted fields except the reason, which is the last column.
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            let mut f: Vec<String> = l.splitn(header.len(), ',').map(str::to_string).collect();
            f.resize(header.len(), String::new());
            f
        })
        .collect();
    (header, rows)
}

#[test]
fn every_format_carries_the_summary_statistics() {
    let r = fixed();
    let rows = summary::rows(&r);
    let (header, csv_rows) = csv_table(&export::csv(&r));
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let bencher = export::bencher(&r);
    let (smaller, bigger) = export::github_action_benchmark(&r);
    assert!(!rows.is_empty());
    for row in &rows {
        let csv = csv_rows
            .iter()
            .find(|c| {
                c[0] == row.scenario
                    && c[1] == row.workload
                    && c[2] == row.transport
                    && c[3] == row.profile
            })
            .unwrap_or_else(|| panic!("no CSV row for {row:?}"));
        let csv_num = |name: &str| csv[col(name)].parse::<f64>().ok();
        assert_eq!(csv_num("latency_p50_us"), row.p50_us, "{row:?}");
        assert_eq!(csv_num("latency_p99_us"), row.p99_us, "{row:?}");
        assert_eq!(csv_num("goodput_bps"), row.goodput_bps, "{row:?}");
        assert_eq!(csv_num("msgs_per_s"), row.msgs_per_s, "{row:?}");
        assert_eq!(csv_num("setup_ms"), row.setup_ms, "{row:?}");
        assert_eq!(csv[col("lost")].parse::<u64>().ok(), row.lost, "{row:?}");
        assert_eq!(csv_num("ok"), Some(row.repeats as f64));

        let name = format!("{}/{}/{}", row.scenario, row.transport, row.profile);
        let b = &bencher[&name];
        assert_eq!(b["latency-p50-us"]["value"].as_f64(), row.p50_us, "{name}");
        assert_eq!(b["setup-ms"]["value"].as_f64(), row.setup_ms, "{name}");
        if let Some(p50) = row.p50_us {
            let lo = b["latency-p50-us"]["lower_value"].as_f64().expect("lower");
            let hi = b["latency-p50-us"]["upper_value"].as_f64().expect("upper");
            assert!(lo <= p50 && p50 <= hi, "{name}: {lo} {p50} {hi}");
            let gab = smaller
                .as_array()
                .expect("array")
                .iter()
                .find(|e| e["name"] == format!("{name} p50 latency"))
                .expect("gab entry");
            assert_eq!(gab["value"].as_f64(), Some(p50));
            assert_eq!(gab["unit"], "µs");
        }
        if let Some(g) = row.goodput_bps {
            let gab = bigger
                .as_array()
                .expect("array")
                .iter()
                .find(|e| e["name"] == format!("{name} goodput"))
                .expect("gab entry");
            assert_eq!(gab["value"].as_f64(), Some(g));
        }
    }
    // Latency goes only into the smaller-is-better document, throughput only into the other.
    assert!(bigger
        .as_array()
        .expect("array")
        .iter()
        .all(|e| !e["name"].as_str().unwrap_or("").contains("latency")));
}

#[test]
fn failed_key_appears_in_csv_with_its_reason() {
    let text = export::csv(&fixed());
    let row = text
        .lines()
        .find(|l| l.contains(",webtransport-datagram,"))
        .expect("skipped key has a row");
    assert!(
        row.contains("exceeds the session's max datagram size"),
        "{row}"
    );
    assert!(
        row.contains(",3,0,0,3,"),
        "3 repeats, 0 ok, 0 failed, 3 skipped: {row}"
    );
}

/// Cells that failed, skipped keys, and ok cells whose measurements are all null.
fn gappy() -> Results {
    let mut rng = Rng::new(3);
    let mut all_null = ok_cell(&mut rng, "echo", "echo", "long-poll", "lan", 1, 500);
    all_null.latency_us = None;
    all_null.setup_ms = None;
    all_null.setup_rtts = None;
    all_null.throughput = Some(Default::default());
    all_null.delivery = None;
    all_null.wire = Some(Default::default());
    all_null.resources = Some(Default::default());
    let mut corrupt = ok_cell(&mut rng, "echo", "echo", "poll", "lan", 1, 500);
    if let Some(l) = corrupt.latency_us.as_mut() {
        l.hdr = "not base64 at all!".into();
    }
    let mut no_clients = ok_cell(&mut rng, "echo", "echo", "websocket", "lan", 1, 500);
    no_clients.params.remove("clients");
    results(vec![
        ok_cell(&mut rng, "echo", "echo", "tcp", "lan", 1, 500),
        no_clients,
        all_null,
        corrupt,
        bad_cell(
            "echo",
            "echo",
            "webrtc",
            "lan",
            1,
            Status::Failed,
            "ICE failed: no candidate pair <after 10 s>",
        ),
        bad_cell(
            "flap",
            "flap",
            "sse",
            "lossy",
            1,
            Status::Skipped,
            "link emulation impossible here",
        ),
    ])
}

#[test]
fn failed_cells_and_nulls_render_as_gaps() {
    let r = gappy();
    let page = html::render(&r).expect("renders");
    // Reasons shown, escaped, never hidden.
    assert!(page.contains("ICE failed: no candidate pair &lt;after 10 s&gt;"));
    assert!(page.contains("link emulation impossible here"));
    assert!(page.contains("FAILED") && page.contains("skipped"));
    assert!(page.contains("connect_timeout: 3"), "errors by kind");
    // A scenario with nothing measured still has its section, saying so.
    assert!(page.contains("id=\"s-flap-flap\""));
    assert!(page.contains("No latency recorded in this scenario (–)"));
    // The null cell is a row of gaps; the corrupt histogram is named, not fatal.
    let null_row = page
        .lines()
        .find(|l| l.contains("long-poll</td><td>lan"))
        .expect("long-poll row");
    assert!(null_row.matches(">–<").count() >= 8, "{null_row}");
    assert!(
        page.contains("poll · lan: histogram not readable"),
        "corrupt hdr noted"
    );
    assert!(page.contains("long-poll · lan: no latency recorded"));
    // Charts exist for what was measured, with the failed key marked in them.
    assert!(page.contains("data-chart=\"s-echo-echo-p50p99\""));
    assert!(page.contains("failed (see table)"));
    // RSS per connection needs params.clients: a gap for the cell without it.
    let ws_row = page
        .lines()
        .find(|l| l.contains("websocket</td><td>lan"))
        .expect("websocket row");
    assert!(
        ws_row.ends_with("<td class=\"num\">–</td><td class=\"num\">1.172×</td></tr>")
            || ws_row.contains("–</td><td class=\"num\">1."),
        "{ws_row}"
    );

    let md = unpadded(&summary::markdown(&r));
    assert!(md.contains("| – |"), "{md}");
    assert!(md.contains("ICE failed"));
    let csv = export::csv(&r);
    assert!(csv
        .lines()
        .any(|l| l.starts_with("echo,echo,long-poll,lan,1,1,0,0,,,")));
    for f in Format::ALL {
        let files = export::exporter(f).export(&r).expect("exports");
        assert!(files.iter().all(|x| !x.contents.is_empty()), "{f}");
    }
    // Bencher leaves out what was not measured rather than inventing zeros.
    let b = export::bencher(&r);
    assert!(b.get("echo/webrtc/lan").is_none());
    assert!(b["echo/long-poll/lan"].get("latency-p50-us").is_none());
}

#[test]
fn empty_results_render() {
    let r = results(Vec::new());
    let page = html::render(&r).expect("renders");
    assert!(page.contains("0 cells"));
    assert!(!page.contains("<svg"));
    assert_eq!(export::csv(&r).lines().count(), 1);
}

#[test]
fn html_is_self_contained() {
    let r = fixed();
    let page = html::render(&r).expect("renders");
    assert!(page.starts_with("<!DOCTYPE html>"));
    // The run's provenance names the TCP congestion control every TCP transport ran with.
    assert!(page.contains("TCP congestion control <code>cubic</code>"));
    for banned in [
        "<script", "<link", "<img", "<iframe", "url(", "@import", "src=",
    ] {
        assert!(
            !page.contains(banned),
            "report must load nothing: found {banned:?}"
        );
    }
    // Every http(s) string is an XML namespace, never something fetched.
    for (i, _) in page.match_indices("http") {
        let before = &page[i.saturating_sub(7)..i];
        assert!(
            before.ends_with("xmlns=\""),
            "unexpected URL at {i}: {}",
            &page[i..i + 40]
        );
    }
    // Fixed colour per transport, the same in the legend and in the charts.
    let ws =
        wirebench_reports::plots::css_color(wirebench_reports::plots::transport_color("websocket"));
    assert!(page.matches(&ws.to_string()).count() >= 4);
    // Per scenario: spectrum + CDF per profile with latency, p50/p99 bars, throughput, setup,
    // resources; the connect scenario has no latency, so no latency plots.
    for id in [
        "s-echo-echo-spectrum-loopback",
        "s-echo-echo-cdf-loopback",
        "s-echo-echo-spectrum-lte",
        "s-echo-echo-cdf-lte",
        "s-echo-echo-p50p99",
        "s-echo-echo-goodput_bps",
        "s-echo-echo-msgs_per_s",
        "s-echo-echo-setup_ms",
        "s-echo-echo-server_cpu_s",
        "s-echo-echo-server_rss_per_conn_bytes",
        "s-echo-echo-overhead_ratio",
        "s-connect-connect-setup_ms",
        "s-connect-connect-setup_rtts",
    ] {
        assert!(
            page.contains(&format!("data-chart=\"{id}\"")),
            "missing chart {id}"
        );
    }
    assert!(!page.contains("data-chart=\"s-connect-connect-spectrum"));
    assert_eq!(
        page.matches("<figure class=\"chart\"").count(),
        page.matches("<svg ").count()
    );
    // Predicted round trips stated beside the measured ones.
    assert!(page.contains("TCP 1 + TLS 1.3 1 + first HTTP exchange 1"));
    assert!(page.contains("ICE check 1 + DTLS 1.2 2 + SCTP INIT/COOKIE 2 + DCEP open/ACK 1"));
}

#[test]
fn verdicts_table_when_present() {
    let mut r = fixed();
    r.verdicts = vec![
        serde_json::json!({"question": "lowest p99 on lte?", "answer": "websocket", "confidence": 0.9}).into(),
        serde_json::json!({"question": "<b>bold</b>", "answer": null}).into(),
    ];
    let page = html::render(&r).expect("renders");
    assert!(page.contains("<h2>Verdicts</h2>"));
    assert!(page.contains("<th>question</th><th>answer</th><th>confidence</th>"));
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;"));
    let no = html::render(&fixed()).expect("renders");
    assert!(!no.contains("<h2>Verdicts</h2>"));
}

#[test]
fn write_puts_the_file_in_place() {
    let dir = std::env::temp_dir().join(format!("wirebench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("report.html");
    html::write(&fixed(), &path).expect("writes");
    let text = std::fs::read_to_string(&path).expect("reads");
    assert!(text.contains("wirebench report"));
    let written = export::write(&fixed(), Format::GithubActionBenchmark, &dir).expect("exports");
    assert_eq!(written.len(), 2);
    let bad = html::write(&fixed(), &dir.join("no/such/dir/report.html")).expect_err("fails");
    assert!(bad.to_string().contains("no/such/dir"), "{bad}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn extreme_values_render_without_panics() {
    let mut rng = Rng::new(11);
    let mut cells = Vec::new();
    for (i, v) in [0.0, -5.0, 1e-300, f64::MAX, 1e300, f64::MIN_POSITIVE]
        .into_iter()
        .enumerate()
    {
        let mut c = ok_cell(&mut rng, "edge", "edge", "tcp", "p", i as u32 + 1, 50);
        c.setup_ms = Some(v);
        c.setup_rtts = Some(v);
        c.throughput = Some(wirebench_reports::Throughput {
            msgs_per_s: Some(v),
            goodput_bps: Some(v),
        });
        if let Some(w) = c.wire.as_mut() {
            w.overhead_ratio = Some(v);
        }
        if let Some(l) = c.latency_us.as_mut() {
            l.p50 = Some(if i % 2 == 0 { 0 } else { u64::MAX });
            l.p99 = Some(u64::MAX);
        }
        c.params.insert("clients".into(), serde_json::json!(v));
        cells.push(c);
    }
    // One transport whose every figure is zero, alone in its scenario.
    let mut zero = ok_cell(&mut rng, "zero", "zero", "websocket", "p", 1, 50);
    zero.setup_ms = Some(0.0);
    zero.throughput = Some(wirebench_reports::Throughput {
        msgs_per_s: Some(0.0),
        goodput_bps: Some(0.0),
    });
    cells.push(zero);
    let r = results(cells);
    let page = html::render(&r).expect("renders");
    assert!(page.contains("data-chart=\"s-edge-edge-setup_ms\""));
    let _ = summary::markdown(&r);
    let _ = export::csv(&r);
    let _ = export::bencher(&r);
}

/// Two implementations of one transport are two rows, each named (`webrtc (str0m)`), in the
/// HTML tables as in summary.md.
#[test]
fn html_names_each_implementation() {
    let mut rng = Rng::new(7);
    let mut cells = Vec::new();
    for imp in ["str0m", "webrtc-rs"] {
        let mut c = ok_cell(&mut rng, "echo", "echo", "webrtc", "loopback", 1, 100);
        c.implementation = Some(imp.into());
        cells.push(c);
    }
    let page = html::render(&results(cells)).expect("renders");
    for name in ["webrtc (str0m)", "webrtc (webrtc-rs)"] {
        assert!(
            page.contains(&format!("</i>{name}</td>")),
            "{name} has no row of its own in the figures table"
        );
    }
}

/// Browser lane: the Rust-vs-browser table names the browser's version even when the first
/// browser cell was skipped before Chromium started (it says only `chromium`), shows goodput
/// side by side, and the per-origin table says which HTTP version each row ran over.
#[test]
fn browser_tables_name_the_version_goodput_and_http_version() {
    use wirebench_reports::{BrowserFigures, OriginLimit, StreamStart};
    let mut rng = Rng::new(11);
    let mut skipped = bad_cell(
        "b",
        "download",
        "tcp",
        "loopback",
        1,
        Status::Skipped,
        "browsers have no raw TCP API",
    );
    skipped.client = Some("chromium".into());
    let rust = ok_cell(&mut rng, "b", "download", "websocket", "loopback", 1, 500);
    let mut browser = ok_cell(&mut rng, "b", "download", "websocket", "loopback", 1, 500);
    browser.client = Some("chromium 156.0.7500.1".into());
    if let Some(t) = browser.throughput.as_mut() {
        t.goodput_bps = Some(123.4e6);
    }
    let mut origin = |label: &str, protocol: &str, concurrent: u32, http: Option<&str>| {
        let mut c = ok_cell(&mut rng, "b", "origin-limit", "sse", "loopback", 1, 50);
        c.label = Some(label.into());
        c.client = Some("chromium 156.0.7500.1".into());
        if let Some(h) = http {
            c.params.insert("http".into(), serde_json::json!(h));
        }
        c.browser = Some(BrowserFigures {
            clock_sync: None,
            origin_limit: Some(OriginLimit {
                streams: 8,
                hold_ms: 500,
                concurrent,
                protocol: Some(protocol.into()),
                per_stream: (1..=8)
                    .map(|k| StreamStart {
                        stream: k,
                        opened_ms: Some(1.0),
                        first_ms: Some(if k <= concurrent { 2.0 } else { 502.0 }),
                    })
                    .collect(),
            }),
        });
        c
    };
    let h1 = origin("origin-limit", "http/1.1", 6, None);
    let h2 = origin("origin-limit-h2", "h2", 8, Some("2"));
    let r = results(vec![skipped, rust, browser, h1, h2]);
    let md = unpadded(&summary::markdown(&r));
    assert!(
        md.contains("headless Chromium (`chromium 156.0.7500.1`)"),
        "{md}"
    );
    assert!(md.contains("goodput browser"), "{md}");
    assert!(md.contains("123.4 Mbit/s"), "{md}");
    assert!(
        md.contains("| sse (chromium) | 1.1 | loopback | 1 | 6 of 8 |"),
        "{md}"
    );
    assert!(
        md.contains("| sse (chromium) | 2 (h2) | loopback | 1 | 8 of 8 |"),
        "{md}"
    );
    let page = html::render(&r).expect("renders");
    assert!(page.contains("<td>2 (h2)</td>"), "html lacks the h2 row");
    assert!(
        !page.contains("chromium, "),
        "plain `chromium` listed beside the version"
    );
}

/// idle and flap have tables of their own figures in summary.md and report.html: keep-alive
/// bytes per connection-hour, recovery time, frames lost, resumes, reconnects (medians over
/// repeats; a Rust and a browser cell as rows of their own).
#[test]
fn idle_and_flap_figures_have_their_tables() {
    use wirebench_reports::model::{FlapFigures, IdleFigures};
    let mut rng = Rng::new(13);
    let mut cells = Vec::new();
    for (repeat, bytes) in [(1, 30_000.0), (2, 34_000.0), (3, 32_000.0)] {
        let mut c = ok_cell(&mut rng, "q", "idle", "sse", "broadband", repeat, 100);
        c.idle = Some(IdleFigures {
            connections: 5,
            keepalive_bytes_per_connection_hour: Some(bytes),
            keepalive_packets_per_connection_hour: Some(480.0),
            ..IdleFigures::default()
        });
        cells.push(c);
    }
    for client in [None, Some("chromium 156.0.7500.1")] {
        let mut c = ok_cell(&mut rng, "f", "flap", "websocket", "lan", 1, 300);
        c.client = client.map(String::from);
        if let Some(d) = c.delivery.as_mut() {
            d.lost = 134;
        }
        c.flap = Some(FlapFigures {
            cut_ms: Some(1001.2),
            recovery_ms: Some(if client.is_some() { 341.0 } else { 300.0 }),
            outage_ms: Some(1350.0),
            reconnects: 2,
            failed_attempts: 1,
            ..FlapFigures::default()
        });
        cells.push(c);
    }
    let r = results(cells);
    let md = unpadded(&summary::markdown(&r));
    assert!(md.contains("## Quiet connections (idle)"), "{md}");
    // The median of 30,000, 34,000 and 32,000 bytes.
    assert!(
        md.contains("| q | idle | sse | broadband | 3 | 5 | 31.2 KiB | 480 |"),
        "{md}"
    );
    assert!(md.contains("## Link flap (flap)"), "{md}");
    assert!(
        md.contains("| f | flap | websocket | lan | 1 | 1001 ms | 300 ms | 1350 ms | 134 | "),
        "{md}"
    );
    assert!(
        md.contains("| f | flap | websocket (chromium) | lan | 1 | 1001 ms | 341 ms |"),
        "{md}"
    );
    let page = html::render(&r).expect("renders");
    assert!(
        page.contains("<h3>Link flap (flap)</h3>"),
        "html lacks the flap table"
    );
    assert!(
        page.contains("<td>websocket (chromium)</td><td>lan</td><td class=\"num\">1001 ms</td>"),
        "html lacks the browser's flap row"
    );
    assert!(
        page.contains("31.2 KiB<small>"),
        "html lacks the idle spread"
    );
}
