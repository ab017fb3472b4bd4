//! Receiving server-originated frames, for the workloads the server drives: `push` (one-way
//! latency per frame) and `download` (bulk goodput).

use std::time::Duration;

use super::bulk::BULK_STALL;
use super::params::Params;
use super::report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::{recv_before, Schedule, DRAIN};
use crate::clock::now_ns;
use crate::frame::Kind;
use crate::transport::{FrameStream, TransportError};

/// Receives server-originated frames of `kind` (push or download data).
pub(crate) async fn receive_server_frames(
    p: &Params,
    kind: Kind,
    mut stream: Box<dyn FrameStream>,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let bulk = kind == Kind::Data;
    let (warm_n, expect_n) = Schedule::counts(p);
    let mut hist = new_histogram();
    let mut warm = 0;
    let mut seqs = SeqTracker::default();
    let mut first_ns = None;
    let mut counted_first = None;
    let mut last_ns = 0;
    let first_wait = first_wait(p, bulk);
    let (stall, idle) = waits(p, bulk);
    let mut deadline = now_ns() + first_wait.as_nanos() as u64;
    loop {
        if !bulk && seqs.distinct >= expect_n {
            break;
        }
        let Some(f) = recv_before(stream.as_mut(), deadline).await? else {
            break;
        };
        let now = now_ns();
        rep.bytes_received_total += f.len() as u64;
        let Some(h) = rep.accept(&f, |h| h.kind == kind) else {
            continue;
        };
        let first = *first_ns.get_or_insert(now);
        deadline = if bulk {
            (now + stall.as_nanos() as u64)
                .min(first + (p.duration_ms + p.warmup_ms) * 1_000_000 + idle.as_nanos() as u64)
        } else {
            first + (p.duration_ms + p.warmup_ms) * 1_000_000 + idle.as_nanos() as u64
        };
        if !seqs.record(h.seq) {
            continue;
        }
        let in_warmup = if bulk {
            now < first + p.warmup_ms * 1_000_000
        } else {
            h.seq < warm_n
        };
        if in_warmup {
            warm += 1;
            continue;
        }
        let us = now.saturating_sub(h.sent_ns) / 1000;
        let _ = hist.record(us.clamp(1, MAX_LATENCY_US));
        counted_first.get_or_insert(now);
        last_ns = now;
        rep.bytes_received += f.len() as u64;
        rep.frames_received += 1;
    }
    if first_ns.is_none() {
        return Err(TransportError::Timeout(format!(
            "no {} frame arrived within {:.1} s (the transport made no progress)",
            if bulk { "data" } else { "push" },
            first_wait.as_secs_f64()
        )));
    }
    rep.record_receipt(&hist, warm, &seqs, stream.as_ref())?;
    // Sequence numbers below the highest one seen that never came: lost data frames
    // (possible on unreliable transports; a fault on reliable ones).
    let missing = seqs.missing();
    if bulk && missing > 0 {
        *rep.errors.entry("frame_missing".into()).or_default() += missing;
    }
    rep.sent = if bulk { hist.len() } else { expect_n - warm_n };
    rep.recv_span_ns = counted_first.map_or(0, |f| last_ns.saturating_sub(f));
    Ok(())
}

/// At least this long for the first frame: setup stragglers and a slow link's round trips.
const FIRST_WAIT_MIN: Duration = Duration::from_secs(5);
/// At most this long, whatever the schedule.
const FIRST_WAIT_MAX: Duration = Duration::from_secs(30);

/// How long a client waits for its first frame before reporting that the transport makes no
/// progress: 20 of the schedule's inter-frame times (push), at least [`FIRST_WAIT_MIN`], plus a
/// poll interval (a poll client fetches it at its next poll), at most [`FIRST_WAIT_MAX`]. A
/// transport that cannot carry the frames fails within seconds, not after a fixed 30 s.
fn first_wait(p: &Params, bulk: bool) -> Duration {
    let frames = if bulk {
        Duration::ZERO
    } else {
        Duration::from_nanos(p.period_ns().saturating_mul(20))
    };
    (frames.max(FIRST_WAIT_MIN) + Duration::from_millis(p.poll_interval_ms)).min(FIRST_WAIT_MAX)
}

/// How long to wait after the last frame (stall) and after the schedule's end (idle).
/// Bulk: the server sends for warm-up + duration; stop half a second after that, so a deep
/// queue's tail does not stretch the cell, or after [`BULK_STALL`] without data: longer than a
/// reliable transport's retransmission timeout (SCTP's minimum RTO is 1 s), so a stall
/// mid-stream counts against the goodput instead of ending the download.
/// Push: stragglers get [`DRAIN`] after the schedule, plus a poll interval (a poll client
/// fetches the last frames at its next poll, up to `poll_interval_ms` later).
fn waits(p: &Params, bulk: bool) -> (Duration, Duration) {
    if bulk {
        (BULK_STALL, Duration::from_millis(500))
    } else {
        let drain = DRAIN + Duration::from_millis(p.poll_interval_ms);
        (drain, drain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_is_awaited_for_a_few_frame_times_not_30_s() {
        let p = |rate: f64, poll_interval_ms: u64| Params {
            rate,
            poll_interval_ms,
            ..Params::default()
        };
        // Bulk and fast schedules: the floor plus a poll interval.
        assert_eq!(
            first_wait(&p(1000.0, 50), true),
            Duration::from_millis(5050)
        );
        assert_eq!(
            first_wait(&p(1000.0, 50), false),
            Duration::from_millis(5050)
        );
        // One frame a second: 20 frame times.
        assert_eq!(
            first_wait(&p(1.0, 50), false),
            Duration::from_millis(20_050)
        );
        // Slow schedules and long poll intervals stop at the ceiling.
        assert_eq!(first_wait(&p(0.1, 4500), false), FIRST_WAIT_MAX);
    }
}
