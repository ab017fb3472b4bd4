//! `recommend` over results measured on several profiles: it names them, ranks on each alone
//! and says whether the pooled ranking holds on every one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compare_common;

use compare_common::{cell, results, samples, Rep};
use wirebench_reports::model::Cell;
use wirebench_reports::recommend::{recommend, Connectivity, Traits};

/// Three repeats of a faq-peer relay cell at `p50_us` on `profile`.
fn relay(transport: &str, profile: &str, p50_us: f64) -> Vec<Cell> {
    (1..=3)
        .map(|i| {
            let mut c = cell(transport, i, &samples(p50_us), &Rep::at(p50_us));
            c.scenario = "faq-peer".into();
            c.workload = "relay".into();
            c.label = Some("relay".into());
            c.profile = profile.into();
            c
        })
        .collect()
}

/// Relay cells of websocket and webrtc on `lan` and `wan`, at these p50s (µs).
fn lan_and_wan(ws_lan: f64, rtc_lan: f64, ws_wan: f64, rtc_wan: f64) -> Vec<Cell> {
    [
        relay("websocket", "lan", ws_lan),
        relay("webrtc", "lan", rtc_lan),
        relay("websocket", "wan", ws_wan),
        relay("webrtc", "wan", rtc_wan),
    ]
    .concat()
}

fn p2p(profile: Option<&str>) -> Traits {
    Traits {
        topology: Connectivity::P2p,
        clients: 2,
        rate: 50.0,
        size: 256,
        quiet_periods: false,
        loss_tolerant: false,
        profile: profile.map(String::from),
    }
}

#[test]
fn a_ranking_that_flips_between_profiles_is_shown_per_profile() {
    // WebSocket wins on the LAN, WebRTC on the WAN.
    let r = results(lan_and_wan(1000.0, 1500.0, 90_000.0, 20_000.0));
    let rec = recommend(&r, &p2p(None));
    assert_eq!(rec.profiles, ["lan", "wan"], "{}", rec.text());
    assert_eq!(rec.per_profile.len(), 2, "{}", rec.text());
    let lan = &rec.per_profile[0];
    let wan = &rec.per_profile[1];
    assert_eq!(lan.order, ["websocket", "webrtc"]);
    assert_eq!(wan.order, ["webrtc", "websocket"]);
    assert_ne!(lan.same, wan.same, "the pooled order is one of the two");
    assert!(
        rec.text().contains("the ranking differs by profile:"),
        "{}",
        rec.text()
    );
    // Asked for one profile: that one only.
    let rec = recommend(&r, &p2p(Some("wan")));
    assert_eq!(rec.profiles, ["wan"]);
    assert!(rec.per_profile.is_empty());
    assert_eq!(rec.order(), ["webrtc", "websocket"]);
    assert!(rec.text().contains("(figures from wan)"), "{}", rec.text());
}

#[test]
fn a_ranking_that_holds_on_every_profile_says_so() {
    let rec = recommend(
        &results(lan_and_wan(1500.0, 1000.0, 90_000.0, 20_000.0)),
        &p2p(None),
    );
    assert!(rec.per_profile.iter().all(|p| p.same), "{}", rec.text());
    assert!(
        rec.text()
            .contains("the ranking holds on every profile measured (lan, wan)"),
        "{}",
        rec.text()
    );
}
