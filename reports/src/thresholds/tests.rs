//! Reading thresholds and checking them on synthetic results.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::model::{test_cell, Cell, Latency, Status};

fn spec(key: &str, condition: &str) -> ThresholdSpec {
    ThresholdSpec {
        scenario: "default".into(),
        key: key.into(),
        condition: condition.into(),
    }
}

fn echo(transport: &str, profile: &str, us: u64) -> Cell {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    h.record_n(us, 2000).unwrap();
    let mut c = test_cell("echo", transport, profile, 1);
    c.latency_us = Some(Latency::from_histogram(&h).unwrap());
    c
}

#[test]
fn keys_and_conditions_are_read_or_refused_with_the_reason() {
    let t = Threshold::parse(&spec("echo.websocket.p99_us", "< 2000")).unwrap();
    assert_eq!(t.metric.id, "latency_p99_us");
    assert_eq!((t.op, t.limit), (Op::Lt, 2000.0));
    let t = Threshold::parse(&spec("download.*.broadband.goodput", ">= 5e7")).unwrap();
    assert_eq!(t.metric.id, "goodput_bps");
    assert_eq!(t.profile.as_deref(), Some("broadband"));
    assert_eq!((t.op, t.limit), (Op::Ge, 5e7));
    for (key, cond, needle) in [
        (
            "echo.websocket",
            "< 1",
            "expected WORKLOAD.TRANSPORT.METRIC",
        ),
        (
            "echo.websockets.p99_us",
            "< 1",
            "unknown transport `websockets`",
        ),
        ("echo.websocket.p98_us", "< 1", "unknown metric `p98_us`"),
        ("echo.websocket.p99_us", "2000", "expected `< N`"),
        ("echo.websocket.p99_us", "< fast", "unit, µs"),
        ("echo..p99_us", "< 1", "an empty part"),
    ] {
        let e = Threshold::parse(&spec(key, cond)).unwrap_err().to_string();
        assert!(e.contains(needle), "{key} {cond}: {e}");
        assert!(e.contains(key), "names the key: {e}");
    }
}

#[test]
fn each_named_cell_is_checked_on_its_median_and_missing_figures_fail() {
    let mut failed = echo("sse", "loopback", 1);
    failed.status = Status::Failed;
    failed.error = Some("refused".into());
    let mut r = Results::of_cells(vec![
        echo("websocket", "loopback", 1500),
        echo("websocket", "broadband", 3000),
        echo("tcp", "loopback", 100),
        failed,
    ]);
    r.thresholds = vec![
        spec("echo.websocket.p99_us", "< 2000"),
        spec("echo.*.loopback.p50_us", "<= 1600"),
        spec("push.websocket.p50_us", "< 1"),
    ];
    let checks = check(&r).unwrap();
    let res: Vec<(&str, &str, bool)> = checks
        .iter()
        .map(|c| (c.threshold.as_str(), c.cell.as_str(), c.passed))
        .collect();
    assert_eq!(
        res,
        [
            (
                "echo.websocket.p99_us < 2000",
                "default/echo/websocket/loopback",
                true
            ),
            (
                "echo.websocket.p99_us < 2000",
                "default/echo/websocket/broadband",
                false
            ),
            (
                "echo.*.loopback.p50_us <= 1600",
                "default/echo/websocket/loopback",
                true
            ),
            (
                "echo.*.loopback.p50_us <= 1600",
                "default/echo/tcp/loopback",
                true
            ),
            (
                "echo.*.loopback.p50_us <= 1600",
                "default/echo/sse/loopback",
                false
            ),
            ("push.websocket.p50_us < 1", "–", false),
        ]
    );
    assert!(checks[4].value.contains("refused"), "{:?}", checks[4]);
    let md = markdown(&checks, false);
    assert!(
        md.starts_with("thresholds: 3 of 6 crossed (exit 99)"),
        "{md}"
    );
    assert_eq!(md.matches("❌ crossed").count(), 3, "{md}");
    assert!(!md.contains("✅"), "only the crossed ones: {md}");
    r.thresholds = vec![spec("echo.websocket.loopback.p99_us", "< 2000")];
    assert!(markdown(&check(&r).unwrap(), true).starts_with("thresholds: all 1 passed"));
    r.thresholds = vec![spec("echo.websocket.p99", "< x")];
    assert!(check(&r).is_err());
}
