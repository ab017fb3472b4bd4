//! `collab`: N clients each send ops (broadcast requests, kind 3) at `rate` on an open-loop
//! schedule; the server puts every broadcast in one global order and sends each op to all N
//! clients (kind 4). Measured per op: **delivered-to-all latency**, the last client's arrival
//! minus the op's intended send time (one-way, shared `CLOCK_MONOTONIC`); an op some client never
//! got counts as lost. Each client's arrival order is reported so the orchestrator can count
//! **order violations** against the server's order (see [`order_violations`]).
//!
//! All N clients run in one client agent, which is what lets it take the maximum over clients.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::orchestrate::{ServerControl, ServerReport};
use super::params::Params;
use super::report::{encode, new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::{lateness, recv_before, send_schedule, Schedule, DRAIN};
use super::score::{delivery, paced_throughput, require_arrivals};
use super::spec::WorkloadSpec;
use crate::agent::control::ServerCommand;
use crate::clock::now_ns;
use crate::frame::{op_id, Kind};
use crate::transport::{Connection, TransportError};
use wirebench_reports::model::{Cell, Delivery};

/// One op's arrival at one client after the warm-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The op's id ([`op_id`]).
    pub op: u64,
    /// Its intended send time, ns on the shared clock.
    pub sent_ns: u64,
    /// When it arrived at this client, ns on the same clock.
    pub recv_ns: u64,
}

/// Runs every client of the agent, each on its own staggered schedule
/// ([`WorkloadSpec::client_start_ns`]); returns their merged report with the delivered-to-all
/// histogram.
pub(super) async fn run(
    spec: &WorkloadSpec,
    p: &Params,
    conns: Vec<(u32, Connection)>,
    start_ns: u64,
) -> ClientReport {
    let ids: Arc<HashSet<u32>> = Arc::new(conns.iter().map(|(id, _)| *id).collect());
    let n = ids.len() as u64;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(id, conn)| {
            let (p, ids) = (p.clone(), ids.clone());
            let start = spec.client_start_ns(start_ns, id);
            tokio::spawn(async move {
                let mut rep = ClientReport::default();
                let mut arrivals = Vec::new();
                if let Err(e) = client(&p, id, &ids, conn, start, &mut rep, &mut arrivals).await {
                    rep.error = Some(format!("client {id}: {e}"));
                }
                (id, rep, arrivals)
            })
        })
        .collect();
    let mut report = ClientReport::default();
    let mut per_client = Vec::new();
    for t in tasks {
        match t.await {
            Ok((id, rep, arrivals)) => {
                if let Err(e) = report.merge(rep) {
                    report.error.get_or_insert(e.to_string());
                }
                per_client.push((id, arrivals));
            }
            Err(e) => {
                report.error.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    delivered_to_all(p, n, per_client, &mut report);
    report
}

/// Fills `report`'s collab figures from every client's arrivals: each op's delivered-to-all
/// latency (its latest arrival over the `n` clients minus its intended send time; an op some
/// client never got is not delivered), the per-client counts and arrival orders (client-id
/// order). Shared by the Rust client agent and the browser client.
pub(crate) fn delivered_to_all(
    p: &Params,
    n: u64,
    mut per_client: Vec<(u32, Vec<Arrival>)>,
    report: &mut ClientReport,
) {
    per_client.sort_by_key(|(id, _)| *id);
    // Per op: (intended send time, latest arrival, clients reached).
    let mut ops: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    for (_, arrivals) in &per_client {
        for a in arrivals {
            let e = ops.entry(a.op).or_insert((a.sent_ns, 0, 0));
            e.1 = e.1.max(a.recv_ns);
            e.2 += 1;
        }
    }
    let mut hist = new_histogram();
    for &(sent_ns, last, reached) in ops.values() {
        if reached == n {
            let _ = hist.record((last.saturating_sub(sent_ns) / 1000).clamp(1, MAX_LATENCY_US));
        }
    }
    match encode(&hist) {
        Ok(h) => report.latency_hdr = Some(h),
        Err(e) => {
            report.error.get_or_insert(e.to_string());
        }
    }
    report.received = hist.len();
    report.frames_received = hist.len();
    report.bytes_received = hist.len() * p.size as u64;
    report.per_client_received = per_client.iter().map(|(_, a)| a.len() as u64).collect();
    report.arrival_orders = per_client
        .into_iter()
        .map(|(_, a)| a.into_iter().map(|a| a.op).collect())
        .collect();
}

/// One client: sends its ops and receives everyone's, until it has all of them or the schedule
/// plus [`DRAIN`] is over.
async fn client(
    p: &Params,
    id: u32,
    ids: &HashSet<u32>,
    conn: Connection,
    start_ns: u64,
    rep: &mut ClientReport,
    arrivals: &mut Vec<Arrival>,
) -> Result<(), TransportError> {
    let Connection {
        sink, mut stream, ..
    } = conn;
    let (sched, warm_n) = Schedule::of(p, start_ns);
    let sent = Arc::new(AtomicU64::new(0));
    let sender = send_schedule(
        sink,
        sched,
        id,
        Kind::BroadcastRequest,
        p.size,
        sent.clone(),
    );
    let expect = sched.total_n * ids.len() as u64;
    let end_ns = sched.end_ns() + DRAIN.as_nanos() as u64;
    let mut seqs: HashMap<u32, SeqTracker> = HashMap::new();
    let mut warm = 0u64;
    let mut got = 0u64;
    let mut rx_total = 0u64;
    let receiver = async {
        while got < expect {
            let Some(f) = recv_before(stream.as_mut(), end_ns).await? else {
                break;
            };
            let now = now_ns();
            rx_total += f.len() as u64;
            let Some(h) = rep.accept(&f, |h| h.kind == Kind::Broadcast && ids.contains(&h.sender))
            else {
                continue;
            };
            if h.seq >= sched.total_n || !seqs.entry(h.sender).or_default().record(h.seq) {
                continue;
            }
            got += 1;
            if h.seq < warm_n {
                warm += 1;
                continue;
            }
            arrivals.push(Arrival {
                op: op_id(h.sender, h.seq),
                sent_ns: h.sent_ns,
                recv_ns: now,
            });
        }
        Ok::<_, TransportError>(())
    };
    let (s, r) = tokio::join!(sender, receiver);
    let n = sent.load(Ordering::Acquire);
    rep.sent = n.saturating_sub(warm_n);
    rep.bytes_sent = n * p.size as u64;
    rep.bytes_received_total = rx_total;
    rep.warmup_samples = warm;
    rep.duplicated = seqs.values().map(|s| s.duplicated).sum();
    rep.reordered = seqs.values().map(|s| s.reordered).sum();
    if stream.dropped() > 0 {
        *rep.errors.entry("frame_dropped".into()).or_default() += stream.dropped();
    }
    r?;
    let (mut sink, late) = s?;
    let _ = sink.close().await;
    rep.send_lateness_us = Some(lateness(&late));
    Ok(())
}

/// Order violations: for each client's arrival order, the ops that arrived after an op the
/// reference order puts later (each such arrival counts once), plus ops the reference does not
/// know. The reference is the server's order when it reports one; clients that agree with it
/// agree with each other.
pub fn order_violations(reference: &[u64], orders: &[Vec<u64>]) -> u64 {
    let pos: HashMap<u64, usize> = reference
        .iter()
        .enumerate()
        .map(|(i, &op)| (op, i))
        .collect();
    let mut v = 0;
    for order in orders {
        let mut max = None;
        for op in order {
            match pos.get(op) {
                Some(&p) if max.is_some_and(|m| p < m) => v += 1,
                Some(&p) => max = Some(p),
                None => v += 1,
            }
        }
    }
    v
}

/// Step once the clients are connected: the server starts recording its broadcast order for
/// these clients (confirmed before the schedules start).
pub(crate) async fn arm(ctl: &mut impl ServerControl, clients: Vec<u32>) -> anyhow::Result<()> {
    ctl.send(&ServerCommand::Collab { clients }).await?;
    ctl.done().await
}

/// Scores a collab cell: paced throughput, at least one op after the warm-up, delivery with
/// order violations against the server's single order and each client's deliveries.
pub(crate) fn score(p: &Params, cell: &mut Cell, r: &ClientReport, s: &ServerReport) {
    cell.throughput = Some(paced_throughput(p, r));
    require_arrivals(cell, r);
    // Against the server's single order; without one (a server that does not report it),
    // against the first client's.
    let reference = match (s.order.is_empty(), r.arrival_orders.first()) {
        (true, Some(first)) => first.as_slice(),
        _ => s.order.as_slice(),
    };
    cell.delivery = Some(Delivery {
        order_violations: Some(order_violations(reference, &r.arrival_orders)),
        per_client_received: Some(r.per_client_received.clone()),
        ..delivery(r)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_count_arrivals_against_the_reference_order() {
        let server = [op_id(1, 0), op_id(2, 0), op_id(1, 1), op_id(2, 1)];
        let same = server.to_vec();
        assert_eq!(order_violations(&server, &[same.clone(), same.clone()]), 0);
        // A subset in the right order (a lost op) is no violation.
        assert_eq!(
            order_violations(&server, &[vec![op_id(1, 0), op_id(2, 1)]]),
            0
        );
        // Two ops swapped: the second arrival is behind the first.
        let swapped = vec![op_id(2, 0), op_id(1, 0), op_id(1, 1), op_id(2, 1)];
        assert_eq!(order_violations(&server, &[same, swapped]), 1);
        // An op the server never ordered.
        assert_eq!(order_violations(&server, &[vec![op_id(9, 9)]]), 1);
    }
}
