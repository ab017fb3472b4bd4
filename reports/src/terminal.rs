//! The end-of-run table `wirebench run` prints on the terminal: one row per cell key (medians
//! over repeats, as in summary.md), the loss beside the latencies, why a latency is null, then
//! one line per failed or skipped cell.

use std::fmt::Write as _;

use crate::metrics as m;
use crate::model::{Results, Status};
use crate::summary::{latency_text, rows, Notes};

/// The end-of-run table for the terminal.
pub fn table(r: &Results) -> String {
    let rows = rows(r);
    let mut s = String::new();
    let dash = || "–".to_string();
    let mut notes = Notes::default();
    let _ = writeln!(
        s,
        "\n{:<10} {:<11} {:<10} {:>3} {:>10} {:>10} {:>7} {:>14} {:>10}",
        "workload", "transport", "profile", "n", "p50", "p99", "lost", "goodput", "setup"
    );
    for row in rows {
        let _ = writeln!(
            s,
            "{:<10} {:<11} {:<10} {:>3} {:>10} {:>10} {:>7} {:>14} {:>10}",
            row.workload,
            row.transport,
            row.profile,
            row.repeats,
            latency_text(row.p50_us, row.p50_gap.as_deref(), None, &mut notes),
            latency_text(row.p99_us, row.p99_gap.as_deref(), None, &mut notes),
            row.lost_fraction.map(lost_column).unwrap_or_else(dash),
            row.goodput_bps.map(m::GOODPUT.format).unwrap_or_else(dash),
            row.setup_ms.map(m::SETUP_MS.format).unwrap_or_else(dash),
        );
    }
    for (i, reason) in notes.reasons().iter().enumerate() {
        let _ = writeln!(s, "{} – : {reason}", notes.mark_number(i + 1));
    }
    for l in crate::summary::harness_bound_lines(r) {
        let _ = writeln!(s, "harness-bound {l}");
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

/// The `lost` column: the fraction of frames the latency counts that never arrived.
fn lost_column(f: f64) -> String {
    if f == 0.0 {
        "0 %".into()
    } else {
        crate::format::lost_pct(f)
            .trim_end_matches(" lost")
            .to_string()
    }
}
