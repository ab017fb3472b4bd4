//! Lossy transports in what people read: the loss beside every latency, and `–` with the
//! reason where a percentile is null (beyond the delivered fraction, or too few samples), in
//! summary.md, report.html, the terminal table and the CSV.

mod report_fixture;

use hdrhistogram::Histogram;
use report_fixture::{blank, results};
use wirebench_reports::{export, html, summary, terminal, Delivery, Latency, Results, Status};

/// `delivered` echoes at 20.0–21.9 ms and `lost` that never came back, on `transport`.
fn echo(transport: &str, repeat: u32, delivered: u64, lost: u64) -> wirebench_reports::Cell {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for i in 0..delivered {
        h.record(20_000 + i % 1_900).expect("in range");
    }
    let mut c = blank("hol", "echo", transport, "loss-5", repeat, Status::Ok);
    c.latency_us = Some(Latency::with_lost(&h, lost).expect("encode"));
    c.delivery = Some(Delivery {
        sent: delivered + lost,
        received: delivered,
        lost,
        ..Delivery::default()
    });
    c
}

/// Datagrams losing 5 % of 2,000 echoes (p99 beyond the delivered ones), WebSocket losing
/// none over 500 (p99 needs 1,000 samples), three repeats each.
fn lossy() -> Results {
    let mut cells = Vec::new();
    for r in 1..=3 {
        cells.push(echo("webtransport-datagram", r, 1900, 100));
        cells.push(echo("websocket", r, 500, 0));
    }
    results(cells)
}

const BEYOND: &str = "only 95.0 % of frames arrived: p99 is beyond the lost ones";
const TOO_FEW: &str = "500 samples; p99 needs at least 1000";

#[test]
fn summary_shows_the_loss_beside_latency_and_why_a_percentile_is_null() {
    // summary.md pads its tables: compare with single spaces.
    let md: String = summary::markdown(&lossy())
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    let row = md
        .lines()
        .find(|l| l.starts_with("| hol | echo | webtransport-datagram |"))
        .expect("datagram row");
    // p50 over all 2,000 echoes (the 1,000th), with the loss beside it; p99 null, marked.
    assert!(
        row.contains(" ms · 5.0 % lost | –¹ · 5.0 % lost |"),
        "{row}"
    );
    let ws = md
        .lines()
        .find(|l| l.starts_with("| hol | echo | websocket |"))
        .expect("websocket row");
    assert!(ws.contains("| –² |"), "no loss beside a lossless row: {ws}");
    assert!(!ws.contains("lost |"), "{ws}");
    assert!(md.contains(&format!("- ¹ – : {BEYOND}")), "{md}");
    assert!(md.contains(&format!("- ² – : {TOO_FEW}")), "{md}");
}

#[test]
fn html_shows_the_loss_and_the_reason_on_hover() {
    let page = html::render(&lossy()).expect("renders");
    assert!(
        page.contains(&format!(
            "<td class=\"num gap\" title=\"– : {BEYOND}\">–<small class=\"lost\">5.0 % lost</small></td>"
        )),
        "null p99 with its reason and the loss"
    );
    assert!(page.contains(&format!("title=\"– : {TOO_FEW}\">–</td>")));
    // The charts: the legend and the bar labels carry the loss, the note names the key.
    assert!(page.contains("webtransport-datagram (5.0 % lost)"));
    assert!(page.contains("p99 – · 5.0 % lost"));
    assert!(page.contains("Lost: webtransport-datagram · loss-5 5.0 % lost."));
}

#[test]
fn terminal_and_csv_leave_null_percentiles_empty() {
    let t = terminal::table(&lossy());
    let row = t
        .lines()
        .find(|l| l.contains("webtransport-datagram"))
        .expect("datagram row");
    assert!(row.contains("–¹") && row.contains("5.0 %"), "{row}");
    assert!(t.contains(&format!("¹ – : {BEYOND}")), "{t}");
    let csv = export::csv(&lossy());
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let p99 = header
        .iter()
        .position(|h| *h == "latency_p99_us")
        .expect("p99");
    let p50 = header
        .iter()
        .position(|h| *h == "latency_p50_us")
        .expect("p50");
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[p99], "", "{line}");
        assert!(!f[p50].is_empty(), "{line}");
    }
}
