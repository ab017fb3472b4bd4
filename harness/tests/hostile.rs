//! Hostile peers: clients that stop reading, never finish a request or hold state they no
//! longer use. Each test fails on a server that lets one such peer stall or grow it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rstest::rstest;
use wirebench::frame::{Header, Kind};

mod common;
use common::*;

/// A client that floods broadcast requests and never reads its downstream must not delay
/// another client's broadcasts (its own copies are dropped and counted instead).
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_stall_broadcasts(
    #[values("tcp", "websocket")] t: &str,
) {
    let s = server().await;
    let mut good = connect(&s, t, 1).await;
    let mut hostile = connect(&s, t, 2).await;
    // 20 MiB of broadcasts: beyond the hostile client's socket buffers and server queue.
    let flood = tokio::spawn(async move {
        for seq in 0..20_000 {
            if hostile
                .sink
                .send(frame(seq, 2, Kind::BroadcastRequest, 1024))
                .await
                .is_err()
            {
                break;
            }
        }
        hostile
    });
    // Keep the good client reading while the flood goes on, then time its own broadcast.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flood.is_finished() && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(50), good.stream.recv()).await;
    }
    let started = Instant::now();
    good.sink
        .send(frame(99, 1, Kind::BroadcastRequest, 64))
        .await
        .unwrap();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(3), good.stream.recv())
            .await
            .expect("own broadcast within 3 s while another client stalls")
            .unwrap()
            .unwrap();
        let h = Header::parse(&f).unwrap();
        if (h.sender, h.seq) == (1, 99) {
            break;
        }
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "{t}: waited {waited:?}");
    let full = s
        .hub
        .errors
        .snapshot()
        .get("broadcast_queue_full")
        .copied()
        .unwrap_or(0);
    assert!(full > 0, "{t}: the stalled client's copies were not counted");
    drop(flood);
}
