//! `echo`: round trips at a fixed open-loop rate per client; latency from the intended send
//! time of each request to the arrival of its reply.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wirebench_reports::model::Cell;

use super::params::Params;
use super::report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::{lateness, recv_before, send_schedule, Schedule, DRAIN};
use super::score::{delivery, paced_throughput};
use crate::clock::now_ns;
use crate::frame::Kind;
use crate::transport::{FrameSink, FrameStream, TransportError};

/// The client half: sends echo requests on the schedule and times their replies.
pub(crate) async fn echo(
    p: &Params,
    id: u32,
    sink: Box<dyn FrameSink>,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let (sched, warm_n) = Schedule::of(p, start_ns);
    let (period_ns, total_n) = (sched.period_ns, sched.total_n);
    let size = p.size;
    let sent = Arc::new(AtomicU64::new(0));
    let sender = send_schedule(sink, sched, id, Kind::EchoRequest, size, sent.clone());
    let end_ns = start_ns + total_n * period_ns + DRAIN.as_nanos() as u64;
    let mut hist = new_histogram();
    let mut warm = 0u64;
    let mut seqs = SeqTracker::default();
    let mut rx_total = 0u64;
    let receiver = async {
        let mut got = 0u64;
        while got < total_n {
            let Some(f) = recv_before(stream.as_mut(), end_ns).await? else {
                break;
            };
            let now = now_ns();
            rx_total += f.len() as u64;
            let Some(h) = rep.accept(&f, |h| h.kind == Kind::EchoReply && h.sender == id) else {
                continue;
            };
            if h.seq >= total_n || !seqs.record(h.seq) {
                continue;
            }
            got += 1;
            let us = now.saturating_sub(h.sent_ns) / 1000;
            if h.seq < warm_n {
                warm += 1;
            } else {
                let _ = hist.record(us.clamp(1, MAX_LATENCY_US));
            }
        }
        Ok::<_, TransportError>(())
    };
    let (s, r) = tokio::join!(sender, receiver);
    r?;
    let (mut sink, late) = s?;
    let _ = sink.close().await;
    rep.send_lateness_us = Some(lateness(&late));
    let sent = sent.load(Ordering::Acquire);
    rep.record_receipt(&hist, warm, &seqs, stream.as_ref())?;
    rep.sent = sent.saturating_sub(warm_n);
    rep.frames_received = hist.len();
    rep.bytes_received = hist.len() * size as u64;
    rep.recv_span_ns = (total_n - warm_n) * period_ns;
    rep.bytes_sent = sent * size as u64;
    rep.bytes_received_total = rx_total;
    Ok(())
}

/// Scores an echo cell: paced throughput and delivery of the replies.
pub(crate) fn score(p: &Params, cell: &mut Cell, r: &ClientReport) {
    cell.throughput = Some(paced_throughput(p, r));
    cell.delivery = Some(delivery(r));
}
