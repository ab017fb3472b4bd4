//! Micro-benchmark of the userspace link emulator's per-packet cost: one
//! [`LinkCore::send`] plus the [`LinkCore::poll_transmit`] calls that take out what is due,
//! in steady state on a virtual clock (a 1,500-byte packet every 10 µs, so a 20 ms delay line
//! holds about 2,000 packets), offered as 16 flows in turn. The packet is a `u64` id: this measures the core's scheduling,
//! not copying payloads (the shell's job). Run with `just bench` (or `cargo bench -p
//! wirebench-netem`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wirebench_netem::core::LinkCore;
use wirebench_netem::profile::QueueDiscipline;
use wirebench_netem::{GilbertElliott, LinkParams};

const PACKET: usize = 1500;
const SPACING: Duration = Duration::from_micros(10);

fn profiles() -> Vec<(&'static str, LinkParams)> {
    let delay = LinkParams {
        delay_ms: 20.0,
        ..LinkParams::default()
    };
    vec![
        ("passthrough", LinkParams::default()),
        ("delay", delay),
        (
            "delay+jitter",
            LinkParams {
                jitter_ms: 5.0,
                jitter_correlation: 0.25,
                ..delay
            },
        ),
        (
            "delay+loss",
            LinkParams {
                loss: 0.01,
                ..delay
            },
        ),
        (
            "delay+gilbert-elliott",
            LinkParams {
                gilbert_elliott: Some(GilbertElliott {
                    p: 0.01,
                    r: 0.3,
                    loss_bad: 1.0,
                    loss_good: 0.0,
                }),
                ..delay
            },
        ),
        (
            // 2 Gbit/s: a 1,500-byte packet takes 6 µs, under the 10 µs spacing.
            "delay+rate",
            LinkParams {
                rate_mbit: Some(2000.0),
                queue_packets: Some(1000),
                ..delay
            },
        ),
        (
            // The same, dequeue-driven under CoDel: the queue never reaches the target.
            "delay+rate+codel",
            LinkParams {
                rate_mbit: Some(2000.0),
                queue_packets: Some(1000),
                queue: QueueDiscipline::Codel,
                ..delay
            },
        ),
        (
            // And under FQ-CoDel (1,024 flow queues, 16 flows in turn: see `per_packet`).
            "delay+rate+fq_codel",
            LinkParams {
                rate_mbit: Some(2000.0),
                queue_packets: Some(1000),
                queue: QueueDiscipline::FqCodel,
                ..delay
            },
        ),
        (
            "delay+jitter+loss+rate",
            LinkParams {
                jitter_ms: 5.0,
                loss: 0.01,
                rate_mbit: Some(2000.0),
                queue_packets: Some(1000),
                ..delay
            },
        ),
    ]
}

fn per_packet(c: &mut Criterion) {
    let mut g = c.benchmark_group("link_core");
    g.throughput(Throughput::Elements(1));
    for (name, params) in profiles() {
        g.bench_function(format!("send+poll/{name}"), |b| {
            let mut core: LinkCore<u64> = LinkCore::new(params, 1);
            let mut now = Duration::ZERO;
            let mut id = 0u64;
            // Fill the delay line first so the heap is at its steady-state size.
            for _ in 0..4000 {
                now += SPACING;
                core.send_flow(now, id, PACKET, id % 16);
                id += 1;
                while core.poll_transmit(now).is_some() {}
            }
            b.iter(|| {
                now += SPACING;
                // 16 flows in turn (fq_codel hashes them apart; the others ignore the key).
                black_box(core.send_flow(now, id, PACKET, id % 16));
                id += 1;
                let mut out = 0u64;
                while let Some(p) = core.poll_transmit(now) {
                    out = out.wrapping_add(p);
                }
                black_box(out)
            });
            assert!(core.stats().packets_out > 0);
        });
    }
    g.finish();
}

criterion_group!(benches, per_packet);
criterion_main!(benches);
