//! `download` and `upload`: bulk goodput with backpressure. Download's client half is
//! [`super::receive`], its server half [`server_download`]; upload's client half is [`upload`],
//! measured where the data lands (the server's data counts).

use std::sync::Arc;
use std::time::Duration;

use wirebench_reports::model::{Cell, Status, Throughput};

use super::orchestrate::ServerReport;
use super::params::Params;
use super::report::ClientReport;
use super::score::{fail, require_arrivals};
use crate::agent::control::ServerCommand;
use crate::clock::now_ns;
use crate::frame::{Header, Kind, HEADER_LEN};
use crate::transport::{FrameSink, FrameStream, TransportError};

/// A download ends early after this long without a data frame (the browser page uses the same).
pub const BULK_STALL: Duration = Duration::from_millis(1500);

/// An upload fails after this long without the transport taking a frame: a transport that
/// cannot make progress says so in seconds, not at the cell's time limit.
pub const UPLOAD_STALL: Duration = Duration::from_secs(5);

/// The client half of `upload`: sends data frames as fast as the transport takes them, then an
/// echo whose reply proves the server has taken them all.
pub(crate) async fn upload(
    p: &Params,
    id: u32,
    mut sink: Box<dyn FrameSink>,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let end = start_ns + (p.warmup_ms + p.duration_ms) * 1_000_000;
    let mut seq = 0u64;
    crate::clock::PreciseTimer::new()
        .map_err(|e| TransportError::io("timerfd", e))?
        .sleep_until_ns(start_ns)
        .await
        .map_err(|e| TransportError::io("timerfd", e))?;
    while now_ns() < end {
        let f = Header {
            seq,
            sent_ns: now_ns(),
            sender: id,
            kind: Kind::Data,
        }
        .encode(p.size);
        match tokio::time::timeout(UPLOAD_STALL, sink.send(f)).await {
            Ok(sent) => sent?,
            Err(_) => {
                return Err(TransportError::Timeout(format!(
                    "no progress: the transport took no {}-byte frame for {} s \
                     ({seq} frames sent before)",
                    p.size,
                    UPLOAD_STALL.as_secs()
                )))
            }
        }
        seq += 1;
        rep.bytes_sent += p.size as u64;
    }
    rep.sent = seq;
    // An echo after the data: on a reliable ordered transport its reply proves the server has
    // taken every data frame before it.
    let marker = Header {
        seq,
        sent_ns: now_ns(),
        sender: id,
        kind: Kind::EchoRequest,
    }
    .encode(HEADER_LEN);
    sink.send(marker).await?;
    // What the transport's buffers still hold must cross the link first: on a slow link that
    // can take far longer than a stall.
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(f) = stream.recv().await? {
            if let Ok(h) = Header::parse(&f) {
                if h.kind == Kind::EchoReply && h.seq == seq {
                    return Ok::<_, TransportError>(true);
                }
            }
        }
        Ok(false)
    })
    .await;
    match got {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(TransportError::Closed),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(TransportError::Timeout(
            "server did not confirm the end of the upload within 30 s".into(),
        )),
    }
}

/// Sends data frames to each client as fast as its downstream accepts, for `duration`.
/// HTTP downstreams are paced by what the client has acknowledged (a bounded window).
pub async fn server_download(
    hub: Arc<crate::server::hub::Hub>,
    clients: Vec<u32>,
    size: usize,
    duration: Duration,
) {
    let end = now_ns() + duration.as_nanos() as u64;
    let window = (4 << 20) / size.max(1) as u64 + 16;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let state = hub.client(c);
                let mut delivered = state.delivered.subscribe();
                let mut seq = 0;
                while now_ns() < end {
                    while state.backlog() > window {
                        delivered.mark_unchanged();
                        if state.backlog() <= window {
                            break;
                        }
                        if tokio::time::timeout(Duration::from_millis(200), delivered.changed())
                            .await
                            .is_ok_and(|r| r.is_err())
                        {
                            return;
                        }
                        if now_ns() >= end {
                            return;
                        }
                    }
                    let f = Header {
                        seq,
                        sent_ns: now_ns(),
                        sender: 0,
                        kind: Kind::Data,
                    }
                    .encode(size);
                    if !hub.send_to(c, f).await {
                        return;
                    }
                    seq += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// The server command that starts a download once `clients` are connected: data for the
/// warm-up and the measured duration.
pub(crate) fn download_command(p: &Params, clients: Vec<u32>) -> ServerCommand {
    ServerCommand::Download {
        clients,
        size: p.size,
        duration_ms: p.warmup_ms + p.duration_ms,
    }
}

/// The server command before an upload's clients connect: data in the warm-up is not counted.
pub(crate) fn upload_command(p: &Params) -> ServerCommand {
    ServerCommand::UploadWarmup {
        warmup_ms: p.warmup_ms,
    }
}

/// Scores a download cell: goodput over the span the counted frames arrived in.
pub(crate) fn score_download(cell: &mut Cell, r: &ClientReport) {
    let span = r.recv_span_ns as f64 / 1e9;
    cell.throughput = (span > 0.0).then(|| Throughput {
        msgs_per_s: Some(r.frames_received as f64 / span),
        goodput_bps: Some(r.bytes_received as f64 * 8.0 / span),
    });
    require_arrivals(cell, r);
}

/// Scores an upload cell where the data landed: the server's counts after the warm-up.
pub(crate) fn score_upload(cell: &mut Cell, s: &ServerReport) {
    let counts = || s.data.iter().map(|(_, d)| d);
    let bytes: u64 = counts().map(|d| d.bytes).sum();
    let frames: u64 = counts().map(|d| d.frames).sum();
    let first = counts().map(|d| d.first_ns).min();
    let last = counts().map(|d| d.last_ns).max();
    cell.throughput = match (first, last) {
        (Some(f), Some(l)) if l > f => {
            let span = (l - f) as f64 / 1e9;
            Some(Throughput {
                msgs_per_s: Some(frames as f64 / span),
                goodput_bps: Some(bytes as f64 * 8.0 / span),
            })
        }
        _ => {
            if cell.status == Status::Ok {
                fail(
                    cell,
                    "the server counted no uploaded data after the warm-up".into(),
                );
            }
            None
        }
    };
}
