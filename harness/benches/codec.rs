//! Micro-benchmarks of the per-message work on the hot path: frame header encode/decode,
//! length-prefixed decoding, SSE event encode/parse, long-poll response framing, and latency
//! histogram record/merge/serialise. Run with `just bench` (or `cargo bench -p wirebench`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use wirebench::frame::{put_prefixed, split_prefixed, with_kind, Header, Kind, LengthPrefixed};
use wirebench::transport::sse::{encode_event, SseParser};
use wirebench::workload::new_histogram;

/// Message sizes measured: the default echo size and a 1 KiB message.
const SIZES: [usize; 2] = [64, 1024];

fn header() -> Header {
    Header {
        seq: 123_456,
        sent_ns: 987_654_321_000,
        sender: 7,
        kind: Kind::EchoRequest,
    }
}

fn frame_codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("encode/{size}"), |b| {
            b.iter(|| black_box(header()).encode(black_box(size)))
        });
        let f = header().encode(size);
        g.bench_function(format!("parse/{size}"), |b| {
            b.iter(|| Header::parse(black_box(&f)).unwrap())
        });
        g.bench_function(format!("echo_reply/{size}"), |b| {
            b.iter(|| with_kind(black_box(&f), Kind::EchoReply))
        });
    }
    g.finish();
}

/// A stream of `n` length-prefixed frames of `size` bytes, as tcp or WebTransport carry them.
fn prefixed_stream(n: usize, size: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..n {
        let h = Header {
            seq: i as u64,
            ..header()
        };
        put_prefixed(&mut out, &h.encode(size));
    }
    out
}

fn length_prefixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("length_prefixed");
    const N: usize = 64;
    for size in SIZES {
        let stream = prefixed_stream(N, size);
        g.throughput(Throughput::Elements(N as u64));
        // Whole frames per read.
        g.bench_function(format!("decode/{size}x{N}"), |b| {
            b.iter(|| {
                let mut d = LengthPrefixed::new();
                d.extend(black_box(&stream));
                let mut k = 0;
                while let Some(f) = d.next_frame().unwrap() {
                    k += f.len();
                }
                k
            })
        });
        // Reads that split frames (1,500-byte segments, as a socket may deliver them).
        g.bench_function(format!("decode_segmented/{size}x{N}"), |b| {
            b.iter(|| {
                let mut d = LengthPrefixed::new();
                let mut k = 0;
                for chunk in black_box(&stream).chunks(1500) {
                    d.extend(chunk);
                    while let Some(f) = d.next_frame().unwrap() {
                        k += f.len();
                    }
                }
                k
            })
        });
    }
    g.finish();
}

fn sse(c: &mut Criterion) {
    let mut g = c.benchmark_group("sse");
    for size in SIZES {
        let f = header().encode(size);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("encode/{size}"), |b| {
            b.iter_batched_ref(
                || BytesMut::with_capacity(4096),
                |out| encode_event(out, black_box(42), black_box(&f)),
                BatchSize::SmallInput,
            )
        });
        const N: usize = 64;
        let mut stream = BytesMut::new();
        for i in 0..N {
            encode_event(&mut stream, i as u64 + 1, &f);
        }
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(format!("parse/{size}x{N}"), |b| {
            b.iter(|| {
                let mut p = SseParser::default();
                let evs = p.push(black_box(&stream));
                assert_eq!(evs.len(), N);
                evs
            })
        });
    }
    g.finish();
}

fn long_poll(c: &mut Criterion) {
    let mut g = c.benchmark_group("long_poll");
    const N: usize = 256; // the most frames one /poll response carries
    for size in SIZES {
        let frames: Vec<_> = (0..N).map(|_| header().encode(size)).collect();
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(format!("frame_response/{size}x{N}"), |b| {
            b.iter(|| {
                let mut out = BytesMut::new();
                for f in black_box(&frames) {
                    put_prefixed(&mut out, f);
                }
                out
            })
        });
        let body = prefixed_stream(N, size).freeze();
        g.bench_function(format!("split_response/{size}x{N}"), |b| {
            b.iter(|| split_prefixed(black_box(&body)).unwrap())
        });
    }
    g.finish();
}

fn histogram(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram");
    // Latencies spread over 50 µs .. ~5 ms, as an echo run records them.
    let samples: Vec<u64> = (0..10_000u64).map(|i| 50 + (i * 7919) % 5000).collect();
    g.throughput(Throughput::Elements(1));
    g.bench_function("record", |b| {
        let mut h = new_histogram();
        let mut i = 0;
        b.iter(|| {
            h.record(black_box(samples[i % samples.len()])).unwrap();
            i += 1;
        })
    });
    let mut full = new_histogram();
    for &s in &samples {
        full.record(s).unwrap();
    }
    g.bench_function("merge", |b| {
        b.iter_batched_ref(
            new_histogram,
            |h| h.add(black_box(&full)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("encode", |b| {
        b.iter(|| wirebench_reports::encode_histogram(black_box(&full)).unwrap())
    });
    let encoded = wirebench_reports::encode_histogram(&full).unwrap();
    g.bench_function("decode", |b| {
        b.iter(|| wirebench_reports::decode_histogram(black_box(&encoded)).unwrap())
    });
    g.finish();
}

criterion_group!(
    benches,
    frame_codec,
    length_prefixed,
    sse,
    long_poll,
    histogram
);
criterion_main!(benches);
