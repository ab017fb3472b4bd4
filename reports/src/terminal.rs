//! The end-of-run table `wirebench run` prints on the terminal: one row per cell key (medians
//! over repeats, as in summary.md), then one line per failed or skipped cell.

use std::fmt::Write as _;

use crate::metrics as m;
use crate::model::{Results, Status};
use crate::summary::rows;

/// The end-of-run table for the terminal.
pub fn table(r: &Results) -> String {
    let rows = rows(r);
    let mut s = String::new();
    let dash = || "–".to_string();
    let _ = writeln!(
        s,
        "\n{:<10} {:<11} {:<10} {:>3} {:>10} {:>10} {:>14} {:>10}",
        "workload", "transport", "profile", "n", "p50", "p99", "goodput", "setup"
    );
    for row in rows {
        let _ = writeln!(
            s,
            "{:<10} {:<11} {:<10} {:>3} {:>10} {:>10} {:>14} {:>10}",
            row.workload,
            row.transport,
            row.profile,
            row.repeats,
            row.p50_us.map(m::LATENCY_P50.format).unwrap_or_else(dash),
            row.p99_us.map(m::LATENCY_P99.format).unwrap_or_else(dash),
            row.goodput_bps.map(m::GOODPUT.format).unwrap_or_else(dash),
            row.setup_ms.map(m::SETUP_MS.format).unwrap_or_else(dash),
        );
    }
    for c in r.cells.iter().filter(|c| c.status != Status::Ok) {
        let _ = writeln!(
            s,
            "{} {}/{}/{} #{}: {}",
            if c.status == Status::Failed {
                "FAILED "
            } else {
                "skipped"
            },
            c.workload_name(),
            c.transport,
            c.profile,
            c.repeat,
            c.error.as_deref().unwrap_or("")
        );
    }
    s
}
