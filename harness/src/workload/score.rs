//! Scoring helpers shared by the workloads: turning a client agent's report into a cell's
//! throughput and delivery figures. Each workload's `score` picks the ones that apply; the
//! runner's scoring stage does what is common to every cell.

use wirebench_reports::model::{Cell, Delivery, Status, Throughput};

use super::params::Params;
use super::report::ClientReport;

/// Messages and goodput over the measured duration, for paced workloads (echo, push, relay,
/// collab): what arrived after the warm-up, per second of the schedule.
pub fn paced_throughput(p: &Params, r: &ClientReport) -> Throughput {
    let measured_s = p.duration_ms as f64 / 1000.0;
    Throughput {
        msgs_per_s: Some(r.frames_received as f64 / measured_s),
        goodput_bps: Some(r.bytes_received as f64 * 8.0 / measured_s),
    }
}

/// Frames sent, received, lost, duplicated and reordered after the warm-up.
pub fn delivery(r: &ClientReport) -> Delivery {
    Delivery {
        sent: r.sent,
        received: r.received,
        lost: r.sent.saturating_sub(r.received),
        duplicated: r.duplicated,
        reordered: r.reordered,
        late: None,
        order_violations: None,
        per_client_received: None,
    }
}

/// Fails a cell that is still ok when no frame arrived after the warm-up (nor late).
pub fn require_arrivals(cell: &mut Cell, r: &ClientReport) {
    if cell.status == Status::Ok && r.frames_received + r.late == 0 {
        fail(cell, "no frame arrived after the warm-up".into());
    }
}

/// Marks the cell failed with `why`.
pub fn fail(cell: &mut Cell, why: String) {
    cell.status = Status::Failed;
    cell.error = Some(why);
}

/// Nanoseconds as milliseconds.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}
