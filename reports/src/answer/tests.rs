//! The ranking on synthetic results: order, ratios, the floor, ties, failed rows, caveats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::model::{test_cell as cell, Cell, Latency, Status, Throughput};

fn results(cells: Vec<Cell>) -> Results {
    Results::of_cells(cells)
}

/// 1,000 samples at `us`, with `lost` frames never delivered.
fn latency(us: u64, lost: u64) -> Latency {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    h.record_n(us, 1000).unwrap();
    Latency::with_lost(&h, lost).unwrap()
}

fn echo(transport: &str, repeat: u32, us: u64) -> Cell {
    let mut c = cell("echo", transport, "loopback", repeat);
    c.latency_us = Some(latency(us, 0));
    c
}

fn find<'a>(g: &'a Group, t: &str) -> &'a Place {
    g.places.iter().find(|p| p.transport == t).unwrap()
}

#[test]
fn ranks_on_p50_with_ratios_to_best_and_floor_and_lists_failures_last() {
    let mut failed = cell("echo", "webrtc", "loopback", 1);
    failed.status = Status::Failed;
    failed.error = Some("ICE timed out".into());
    let mut lossy = echo("webtransport-datagram", 1, 60);
    lossy.latency_us = Some(latency(60, 50));
    let r = results(vec![
        failed,
        echo("websocket", 1, 100),
        echo("tcp", 1, 50),
        echo("sse", 1, 80),
        lossy,
    ]);
    let a = Answer::of(&r);
    assert_eq!(a.groups.len(), 1);
    let g = &a.groups[0];
    let order: Vec<(&str, String)> = g
        .places
        .iter()
        .map(|p| (p.transport.as_str(), p.rank_text()))
        .collect();
    assert_eq!(
        order,
        [
            ("webtransport-datagram", "1".to_string()),
            ("sse", "2".into()),
            ("websocket", "3".into()),
            ("tcp", "floor".into()),
            ("webrtc", "–".into()),
        ]
    );
    let ws = find(g, "websocket");
    assert!((ws.vs_best.unwrap() - 100.0 / 60.0).abs() < 0.02, "{ws:?}");
    assert!((ws.vs_tcp.unwrap() - 2.0).abs() < 0.02, "{ws:?}");
    let dg = find(g, "webtransport-datagram");
    assert!(
        g.figure_text(dg).contains("% lost"),
        "{}",
        g.figure_text(dg)
    );
    assert_eq!(find(g, "sse").lost, None);
    assert_eq!(
        find(g, "webrtc").note.as_deref(),
        Some("failed: ICE timed out")
    );
    assert!(a.caveats.iter().any(|c| c.contains("One repeat")));
    assert!(a.caveats.iter().any(|c| c.contains("no successful repeat")));
    assert!(!a.indicative);
}

#[test]
fn goodput_ranks_the_biggest_first() {
    let bulk = |t: &str, bps: f64| {
        let mut c = cell("download", t, "broadband", 1);
        c.throughput = Some(Throughput {
            msgs_per_s: None,
            goodput_bps: Some(bps),
        });
        c
    };
    let r = results(vec![
        bulk("websocket", 50e6),
        bulk("webrtc", 20e6),
        bulk("tcp", 90e6),
    ]);
    let g = &Answer::of(&r).groups[0];
    assert_eq!(g.places[0].transport, "websocket");
    assert_eq!(g.places[1].transport, "webrtc");
    assert!((g.places[1].vs_best.unwrap() - 0.4).abs() < 1e-9);
    assert!(g.places[2].floor);
    assert!(
        g.subtitle().contains("higher is better"),
        "{}",
        g.subtitle()
    );
}

#[test]
fn overlapping_repeats_share_a_rank_and_separate_ones_do_not() {
    let r = results(vec![
        echo("websocket", 1, 100),
        echo("websocket", 2, 120),
        echo("sse", 1, 110),
        echo("sse", 2, 130),
        echo("poll", 1, 500),
        echo("poll", 2, 520),
    ]);
    let a = Answer::of(&r);
    let g = &a.groups[0];
    let ranks: Vec<String> = g.places.iter().map(|p| p.rank_text()).collect();
    assert_eq!(ranks, ["1", "=1", "3"]);
    assert!(a.caveats.iter().any(|c| c.contains("share a rank")));
}

#[test]
fn a_second_implementation_is_hatched_as_in_the_charts() {
    let mut rs = echo("webrtc", 1, 300);
    rs.implementation = Some("webrtc-rs".into());
    let mut s0 = echo("webrtc", 1, 200);
    s0.implementation = Some("str0m".into());
    let r = results(vec![s0, rs]);
    let g = &Answer::of(&r).groups[0];
    assert_eq!(find(g, "webrtc (str0m)").variant, 0);
    assert_eq!(find(g, "webrtc (webrtc-rs)").variant, 1);
    let html = crate::html::render(&r).unwrap();
    let answer = &html[..html.find("</section>").unwrap()];
    assert_eq!(
        answer.matches("class=\"sw hatched\"").count(),
        1,
        "{answer}"
    );
}

#[test]
fn a_quick_run_is_indicative_and_both_outputs_say_so_first() {
    let mut c = echo("websocket", 1, 100);
    c.params.insert("quick".into(), true.into());
    let r = results(vec![c, echo("tcp", 1, 50)]);
    let a = Answer::of(&r);
    assert!(a.indicative);
    let md = a.markdown();
    let first_caveat = md.lines().find(|l| l.starts_with("> ")).unwrap();
    assert!(first_caveat.contains("Indicative only"), "{md}");
    let html = crate::html::render(&r).unwrap();
    let answer_at = html.find("<section id=\"answer\">").unwrap();
    let main = html.find("<main>").unwrap();
    let first_heading = ["<h1", "<h2", "<h3"]
        .iter()
        .filter_map(|t| html[main..].find(t).map(|i| i + main))
        .min();
    assert_eq!(
        html[answer_at..].find("<h1>"),
        Some("<section id=\"answer\">".len()),
        "the answer's title is its first element"
    );
    assert!(
        first_heading.unwrap() > answer_at,
        "no heading before the answer"
    );
    assert!(html[answer_at..].contains("Indicative only"));
    let summary = crate::summary::markdown(&r);
    let answer_md = summary.find("## Which transport?").unwrap();
    assert!(
        !summary[..answer_md].contains("\n## "),
        "summary.md opens with the answer: {summary}"
    );
}

#[test]
fn faq_cells_give_recommends_case_and_say_where_the_ranking_does_not_hold() {
    let relay = |t: &str, profile: &str, us: u64| -> Vec<Cell> {
        (1..=3)
            .map(|i| {
                let mut c = cell("relay", t, profile, i);
                c.scenario = "faq-peer".into();
                c.latency_us = Some(latency(us + u64::from(i), 0));
                c
            })
            .collect()
    };
    let r = results(
        [
            relay("websocket", "lan", 1_000),
            relay("webrtc", "lan", 1_500),
            relay("websocket", "wan", 90_000),
            relay("webrtc", "wan", 20_000),
        ]
        .concat(),
    );
    let a = Answer::of(&r);
    assert_eq!(a.cases.len(), 1, "only the p2p case has its scenario");
    let c = &a.cases[0];
    assert!(c.title.contains("between peers"));
    assert!(c.ranking_text().starts_with("1. "), "{}", c.ranking_text());
    assert!(c.holds_text().starts_with("no — on "), "{}", c.holds_text());
    // Pooled over lan and wan, webrtc's WAN advantage wins: the rule of thumb holds.
    assert_eq!(c.rec.order()[0], "webrtc");
    assert_eq!(c.folklore_check(), "✅ ranks first");
    assert!(c.folklore_holds());
    assert_eq!(c.folklore_detail(), "ranks first");
    let mut flipped = c.clone();
    flipped.expect = "websocket";
    assert_eq!(
        flipped.folklore_check(),
        "❌ webrtc ranks first; websocket ranks 2"
    );
    assert!(!flipped.folklore_holds());
    assert_eq!(
        flipped.folklore_detail(),
        "webrtc ranks first; websocket ranks 2"
    );
    let md = a.markdown();
    assert!(md.contains("### The common cases\n"), "{md}");
    assert!(md.contains("--topology p2p"), "{md}");
    // The HTML report draws the mark from a text font: no emoji, which shows as a box where
    // no emoji font is installed (headless Chromium on a server).
    let html = crate::html::render(&r).unwrap();
    assert!(
        html.contains("<span class=\"yes\">✓</span> ranks first"),
        "the case row: {}",
        html[html.find("class=\"cases\"").unwrap_or(0)..]
            .chars()
            .take(600)
            .collect::<String>()
    );
    assert!(!html.contains('✅') && !html.contains('❌'));
}

#[test]
fn the_faq_fixture_names_the_verdicts_read_from_each_group() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/faq-quick-results.json"
    );
    let r = Results::load(std::path::Path::new(path)).unwrap();
    let a = Answer::of(&r);
    assert!(a.indicative);
    assert!(a.several_scenarios);
    let setup = a.groups.iter().find(|g| g.scenario == "faq-setup").unwrap();
    assert!(
        setup
            .verdicts
            .iter()
            .any(|v| v.starts_with("confirmed") && v.contains(": setup-rtts-tcp")),
        "{:?}",
        setup.verdicts
    );
    assert!(a.markdown().contains("#### faq-setup · "));
}
