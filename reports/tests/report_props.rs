//! Property: any results file the model can hold renders (HTML, Markdown, every export)
//! without a panic, whatever mix of statuses, nulls and extreme values it has.

mod report_fixture;

use proptest::prelude::*;
use report_fixture::{ok_cell, results, Rng};
use wirebench_reports::export::{self, Format};
use wirebench_reports::{html, summary, Status};

fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        Just(Some(0.0)),
        (-1e40f64..1e40).prop_map(Some),
        (0.0f64..1e4).prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_results_render(
        seed in 1u64..1000,
        spec in prop::collection::vec(
            (0usize..4, 0usize..3, 0u8..3, value(), value(), value(), value(), any::<bool>()),
            0..12,
        ),
    ) {
        let mut rng = Rng::new(seed);
        let transports = ["tcp", "websocket", "webrtc-unreliable", "made-up"];
        let profiles = ["loopback", "lan", "lte"];
        let cells = spec
            .into_iter()
            .enumerate()
            .map(|(i, (t, p, status, a, b, c, d, latency))| {
                let mut cell = ok_cell(&mut rng, "s", "w", transports[t], profiles[p], i as u32, 20);
                cell.status = [Status::Ok, Status::Failed, Status::Skipped][status as usize];
                cell.error = (status > 0).then(|| "reason".to_string());
                cell.setup_ms = a;
                cell.setup_rtts = b;
                if let Some(th) = cell.throughput.as_mut() {
                    th.goodput_bps = c;
                    th.msgs_per_s = d;
                }
                if let Some(w) = cell.wire.as_mut() {
                    w.overhead_ratio = a;
                }
                if !latency {
                    cell.latency_us = None;
                }
                cell
            })
            .collect();
        let r = results(cells);
        let page = html::render(&r).expect("renders");
        prop_assert!(page.ends_with("</html>\n"));
        let _ = summary::markdown(&r);
        for f in Format::ALL {
            prop_assert!(export::exporter(f).export(&r).is_ok());
        }
    }
}
