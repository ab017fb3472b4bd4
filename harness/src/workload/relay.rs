//! `relay`: clients in pairs, A → B. A sends data frames (kind 6) at `rate` on an open-loop
//! schedule, stamped with their intended send time; B measures one-way latency on the shared
//! `CLOCK_MONOTONIC` and counts what arrived, late, twice or out of order.
//!
//! The path is the transport's [`Transport::connect_relay`](crate::transport::Transport): through
//! the server for every transport but WebRTC (the orchestrator pairs the clients over the control
//! channel and the server forwards A's data frames, unchanged, to B's downstream), peer to peer
//! for WebRTC (A and B signal through the server's `/rtc/relay/...` and then talk directly).
//! With `deadline_ms` (media-like traffic) a frame later than the deadline counts as lost: its
//! latency is still recorded, and it is counted in `late`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::orchestrate::{ServerControl, ServerReport};
use super::params::{Check, ParamDecl, ParamType, ParamValue, Params};
use super::report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::{lateness, recv_before, send_schedule, Schedule, DRAIN};
use super::score::{delivery, fail, paced_throughput, require_arrivals};
use crate::agent::control::ServerCommand;
use crate::clock::{now_ns, PreciseTimer};
use crate::frame::Kind;
use crate::transport::{FrameSink, FrameStream, TransportError};
use wirebench_reports::model::{Cell, Delivery, Status};

/// Checks that the relay's clients come in pairs.
pub fn check_pairs(clients: u32) -> Result<(), String> {
    if clients < 2 || !clients.is_multiple_of(2) {
        return Err(format!(
            "relay needs an even number of clients (pairs), got {clients}"
        ));
    }
    Ok(())
}

/// The `relay` workload's own keys.
pub const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        key: "deadline_ms",
        ty: ParamType::U64,
        default: None,
        check: Check::ms(1, 60_000),
        doc: "a frame later than this (from its intended send time) counts as lost, as a media frame would; delivery.late counts them",
        quick: false,
        only: Some("relay"),
        refusal: Some("only the relay workload has a deadline"),
    },
    ParamDecl {
        key: "pair_delay_ms",
        ty: ParamType::F64,
        default: None,
        check: Check::DelayMs,
        doc: "extra one-way delay between the two peers' hosts, on top of both access links",
        quick: false,
        only: Some("relay"),
        refusal: Some("only the relay workload has peers (pair_delay_ms is the delay between them)"),
    },
];

/// The defaults `relay` gives shared keys: one pair of clients.
pub const SHARED_DEFAULTS: &[(&str, ParamValue)] = &[("clients", ParamValue::U32(2))];

/// The pairing of `clients` relay clients (ids 1..=clients): with n = clients / 2 pairs, client
/// k ≤ n sends to client k + n. Returns `(peer, is_sender)` for `id`.
pub fn peer_of(id: u32, clients: u32) -> (u32, bool) {
    let n = (clients / 2).max(1);
    if id <= n {
        (id + n, true)
    } else {
        (id.saturating_sub(n), false)
    }
}

/// Every (sender, receiver) pair of `clients` relay clients.
pub fn pairs(clients: u32) -> Vec<(u32, u32)> {
    let n = clients / 2;
    (1..=n).map(|k| (k, k + n)).collect()
}

/// A's side: the open-loop schedule of data frames to `peer`, then a linger of [`DRAIN`] so
/// frames still in flight (retransmissions on a lossy path) arrive before the connection
/// closes.
pub(super) async fn send(
    p: &Params,
    id: u32,
    peer: u32,
    sink: Box<dyn FrameSink>,
    stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let _ = peer; // routing is the server's (paired by the orchestrator) or the peer connection's
    let (sched, warm_n) = Schedule::of(p, start_ns);
    let sent = Arc::new(AtomicU64::new(0));
    let r = send_schedule(sink, sched, id, Kind::Data, p.size, sent.clone()).await;
    let n = sent.load(Ordering::Acquire);
    rep.bytes_sent = n * p.size as u64;
    rep.sent = n.saturating_sub(warm_n);
    let (mut sink, late) = r?;
    rep.send_lateness_us = Some(lateness(&late));
    PreciseTimer::new()
        .map_err(|e| TransportError::io("timerfd", e))?
        .sleep_until_ns(sched.end_ns() + DRAIN.as_nanos() as u64)
        .await
        .map_err(|e| TransportError::io("timerfd", e))?;
    let _ = sink.close().await;
    drop(stream);
    Ok(())
}

/// B's side: receives `peer`'s data frames until all have arrived or the schedule plus
/// [`DRAIN`] is over.
pub(super) async fn receive(
    p: &Params,
    peer: u32,
    sink: Box<dyn FrameSink>,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let _keep = sink; // the upstream stays open (an HTTP client's id lives on)
    let (sched, warm_n) = Schedule::of(p, start_ns);
    let deadline_ns = p.deadline_ms.map(|ms| ms * 1_000_000);
    let end_ns = sched.end_ns() + DRAIN.as_nanos() as u64;
    let mut hist = new_histogram();
    let mut warm = 0;
    let mut seqs = SeqTracker::default();
    while seqs.distinct < sched.total_n {
        let Some(f) = recv_before(stream.as_mut(), end_ns).await? else {
            break;
        };
        let now = now_ns();
        rep.bytes_received_total += f.len() as u64;
        let Some(h) = rep.accept(&f, |h| h.kind == Kind::Data && h.sender == peer) else {
            continue;
        };
        if h.seq >= sched.total_n || !seqs.record(h.seq) {
            continue;
        }
        if h.seq < warm_n {
            warm += 1;
            continue;
        }
        let ns = now.saturating_sub(h.sent_ns);
        let _ = hist.record((ns / 1000).clamp(1, MAX_LATENCY_US));
        if deadline_ns.is_some_and(|d| ns > d) {
            rep.late += 1;
        } else {
            rep.frames_received += 1;
            rep.bytes_received += f.len() as u64;
        }
    }
    if seqs.distinct == 0 {
        return Err(TransportError::Timeout(format!(
            "no frame from client {peer} arrived by the end of the schedule"
        )));
    }
    rep.record_receipt(&hist, warm, &seqs, stream.as_ref())?;
    // Late frames are in the histogram (their latency is the point) but not received.
    rep.received = hist.len() - rep.late;
    rep.recv_span_ns = (sched.total_n - warm_n) * sched.period_ns;
    Ok(())
}

/// Step once the clients are connected: through the server, the server learns the pairs it
/// forwards between (confirmed before the schedules start); peer to peer needs nothing.
pub(crate) async fn arm(
    p: &Params,
    ctl: &mut impl ServerControl,
    peer_to_peer: bool,
) -> anyhow::Result<()> {
    if !peer_to_peer {
        ctl.send(&ServerCommand::Relay {
            pairs: pairs(p.clients),
        })
        .await?;
        ctl.done().await?;
    }
    Ok(())
}

/// Scores a relay cell: paced throughput, at least one frame after the warm-up, delivery with
/// the frames later than the deadline, and — peer to peer — that the server carried none.
pub(crate) fn score(
    p: &Params,
    cell: &mut Cell,
    r: &ClientReport,
    s: &ServerReport,
    peer_to_peer: bool,
) {
    cell.throughput = Some(paced_throughput(p, r));
    require_arrivals(cell, r);
    cell.delivery = Some(Delivery {
        late: p.deadline_ms.map(|_| r.late),
        ..delivery(r)
    });
    if cell.status == Status::Ok && peer_to_peer {
        // Peer to peer means the server carried none of the data.
        let via_server = s.relayed + s.data.iter().map(|(_, d)| d.frames).sum::<u64>();
        if via_server > 0 {
            fail(
                cell,
                format!("peer-to-peer relay: the server saw {via_server} data frames"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_the_ids_in_halves() {
        assert_eq!(pairs(4), [(1, 3), (2, 4)]);
        assert_eq!(peer_of(1, 4), (3, true));
        assert_eq!(peer_of(4, 4), (2, false));
        assert!(check_pairs(3).is_err());
        assert!(check_pairs(0).is_err());
        assert!(check_pairs(2).is_ok());
    }
}
