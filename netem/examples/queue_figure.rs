//! The figure of docs/queues.md: how long a sparse flow (one 100-byte packet every 20 ms, as a
//! chat or game message) waits at a 10 Mbit/s bottleneck it shares with one bulk flow, under
//! each queue discipline. Virtual clock, no sockets: run with
//! `cargo run --release -p wirebench-netem --example queue_figure`.
//!
//! Two kinds of bulk flow: an unresponsive one offering 12 Mbit/s (a UDP flood), and a
//! rate-based AIMD one standing in for a TCP upload (Reno-like: one more packet per 40 ms RTT
//! each RTT, rate halved on a drop, at most once per RTT).
#![allow(clippy::print_stdout)]

use std::time::Duration;

use wirebench_netem::core::LinkCore;
use wirebench_netem::profile::QueueDiscipline;
use wirebench_netem::LinkParams;

const RATE_MBIT: f64 = 10.0;
const RUN: Duration = Duration::from_secs(60);
const WARM_UP: Duration = Duration::from_secs(5);
const SPARSE_EVERY: Duration = Duration::from_millis(20);
const SPARSE_LEN: usize = 100;
const BULK_LEN: usize = 1500;
const RTT_S: f64 = 0.040;

#[derive(Clone, Copy, PartialEq)]
enum Bulk {
    Unresponsive,
    Aimd,
}

/// The bulk sender: packets per second, adapted to drops when AIMD.
struct Sender {
    kind: Bulk,
    pps: f64,
    drops_seen: u64,
    last_cut: Duration,
}

impl Sender {
    fn after_send(&mut self, now: Duration, drops: u64) {
        if self.kind == Bulk::Unresponsive {
            return;
        }
        if drops > self.drops_seen && (now - self.last_cut).as_secs_f64() > RTT_S {
            self.pps = (self.pps / 2.0).max(10.0);
            self.last_cut = now;
        } else {
            // +1 packet per RTT each RTT: d(pps)/dt = 1/RTT².
            self.pps += 1.0 / (self.pps * RTT_S * RTT_S);
        }
        self.drops_seen = drops;
    }
}

/// The sparse flow's waits at the bottleneck (ms, sorted) and the bulk flow's goodput (Mbit/s).
fn run(queue: QueueDiscipline, kind: Bulk) -> (Vec<f64>, f64) {
    let params = LinkParams {
        rate_mbit: Some(RATE_MBIT),
        queue,
        ..LinkParams::default()
    };
    let mut core: LinkCore<(u64, Duration)> = LinkCore::new(params, 1);
    let mut bulk = Sender {
        kind,
        pps: if kind == Bulk::Aimd { 300.0 } else { 1000.0 },
        drops_seen: 0,
        last_cut: Duration::ZERO,
    };
    let (mut next_sparse, mut next_bulk) = (Duration::from_micros(333), Duration::ZERO);
    let (mut waits, mut bulk_bytes) = (Vec::new(), 0usize);
    loop {
        let send_at = next_sparse.min(next_bulk);
        let deadline = core.next_deadline();
        if send_at < RUN && deadline.is_none_or(|d| send_at < d) {
            if next_sparse <= next_bulk {
                core.send_flow(send_at, (1, send_at), SPARSE_LEN, 1);
                next_sparse += SPARSE_EVERY;
            } else {
                core.send_flow(send_at, (2, send_at), BULK_LEN, 2);
                let s = core.stats();
                bulk.after_send(send_at, s.queue_drops + s.aqm_drops);
                next_bulk += Duration::from_secs_f64(1.0 / bulk.pps);
            }
            continue;
        }
        let Some(d) = deadline else { break };
        while let Some((flow, sent)) = core.poll_transmit(d) {
            if sent < WARM_UP {
                continue;
            }
            if flow == 1 {
                let tx_ms = SPARSE_LEN as f64 * 8.0 / (RATE_MBIT * 1e3);
                waits.push((d - sent).as_secs_f64() * 1e3 - tx_ms);
            } else {
                bulk_bytes += BULK_LEN;
            }
        }
    }
    waits.sort_by(f64::total_cmp);
    let mbit = bulk_bytes as f64 * 8.0 / (RUN - WARM_UP).as_secs_f64() / 1e6;
    (waits, mbit)
}

fn pct(v: &[f64], q: f64) -> f64 {
    v.get(((v.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

fn main() {
    println!(
        "sparse flow ({SPARSE_LEN} B every {} ms) beside one bulk flow at {RATE_MBIT} Mbit/s, \
         {} s after {} s warm-up",
        SPARSE_EVERY.as_millis(),
        (RUN - WARM_UP).as_secs(),
        WARM_UP.as_secs()
    );
    println!(
        "{:<26} {:<9} {:>10} {:>10} {:>10} {:>12}",
        "bulk flow", "queue", "p50 ms", "p99 ms", "max ms", "bulk Mbit/s"
    );
    for (kind, label) in [
        (Bulk::Unresponsive, "unresponsive 12 Mbit/s"),
        (Bulk::Aimd, "AIMD (TCP-like, 40 ms)"),
    ] {
        for q in QueueDiscipline::ALL {
            let (w, mbit) = run(q, kind);
            println!(
                "{label:<26} {:<9} {:>10.2} {:>10.2} {:>10.2} {:>12.2}",
                q.name(),
                pct(&w, 0.5),
                pct(&w, 0.99),
                pct(&w, 1.0),
                mbit
            );
        }
    }
}
