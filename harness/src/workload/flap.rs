//! `flap`: a push stream at `rate` whose link the orchestrator cuts for `cut_ms`, `cut_at_ms`
//! after the warm-up, then restores.
//!
//! A client that hears nothing for `stall_ms` (or whose connection errors or closes) gives the
//! connection up, as production clients with a heartbeat timeout do, and recovers:
//! - transports that can resume in place do ([`FrameStream::resume`]): SSE reopens `GET /sse`
//!   with `Last-Event-ID`, long-poll and poll poll again from their cursor on a new connection;
//!   the server's per-client queue holds what was sent meanwhile, so nothing is lost or doubled;
//! - the others (websocket, tcp, webtransport, webrtc) open a new connection with the same
//!   client id; the server sends to the newest downstream, and what it sent into the dead one
//!   is lost, and counted.
//!
//! Each attempt is bounded by `max(stall_ms, 1 s)` and retried at once until it succeeds (while
//! the link is cut, attempts time out). With `stall_ms = 0` only an error or a close triggers
//! recovery: the figures are then those of the transport's own retransmission (TCP's RTO
//! back-off, QUIC's PTO, SCTP). Once the stream's final frame has arrived, silence is its end,
//! not a stall: the client waits `TAIL` (500 ms) for stragglers and recovers nothing (on a
//! reconnecting transport the frames lost in the dead connection never come, and a watchdog
//! still armed would count a second, spurious reconnect after every cut).
//!
//! Measured: the longest silence each client saw (the frame that ended it gives the recovery
//! time against the orchestrator's restore instant), frames lost and duplicated (sequence
//! numbers), resumes, reconnects and failed attempts, and one-way latency of every frame after
//! the warm-up (the frames held back by the cut show as the tail).

use std::time::Duration;

use super::orchestrate::ServerControl;
use super::params::{Check, ParamDecl, ParamType, ParamValue, Params, DAY_MS, HOUR_MS};
use super::report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::{Schedule, DRAIN};
use super::score::{delivery, ms};
use crate::agent::control::ServerCommand;
use crate::clock::now_ns;
use crate::frame::Kind;
use crate::transport::{Connection, Target, Transport, TransportError};
use wirebench_reports::model::{Cell, FlapFigures};

/// Defaults of the `flap` workload.
pub mod defaults {
    /// Push rate, frames/s per client.
    pub const RATE: f64 = 100.0;
    /// Cut 1 s after the warm-up.
    pub const CUT_AT_MS: u64 = 1_000;
    /// For 3 s.
    pub const CUT_MS: u64 = 3_000;
    /// A client gives a connection up after 1 s without a frame.
    pub const STALL_MS: u64 = 1_000;
}

/// The `flap` workload's own keys.
pub const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        key: "cut_at_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::CUT_AT_MS)),
        check: Check::ms(0, DAY_MS),
        doc: "when the link is cut, after the warm-up",
        quick: false,
        only: Some("flap"),
        refusal: None,
    },
    ParamDecl {
        key: "cut_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::CUT_MS)),
        check: Check::ms(1, HOUR_MS),
        doc: "how long the link stays cut; the cut must end before the stream does",
        quick: false,
        only: Some("flap"),
        refusal: None,
    },
    ParamDecl {
        key: "stall_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::STALL_MS)),
        check: Check::ms(0, HOUR_MS),
        doc: "silence after which a client gives its connection up (0 = never; else at least 3 push periods)",
        quick: false,
        only: Some("flap"),
        refusal: None,
    },
];

/// The defaults `flap` gives shared keys: a 100/s push stream.
pub const SHARED_DEFAULTS: &[(&str, ParamValue)] = &[("rate", ParamValue::F64(defaults::RATE))];

/// How long a client waits for the first frame of the stream.
const FIRST_WAIT: Duration = Duration::from_secs(30);

/// Once the last frame of the stream arrived, how long to wait for stragglers.
const TAIL: Duration = Duration::from_millis(500);

/// Frames the server pushes to each client (warm-up included).
pub fn frames(p: &Params) -> u64 {
    Schedule::counts(p).1
}

/// How long a client waits in silence before giving a connection up, ms (0: never).
pub fn stall_ms(p: &Params) -> u64 {
    p.stall_ms.unwrap_or(defaults::STALL_MS)
}

/// Frames of the warm-up (excluded from latency and delivery figures).
pub fn warmup_frames(p: &Params) -> u64 {
    Schedule::counts(p).0
}

/// One client: receives the stream, recovering from silence, errors and closes.
pub(crate) async fn client(
    p: &Params,
    conn: Connection,
    transport: &dyn Transport,
    target: &Target,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let n = frames(p);
    let warm_n = warmup_frames(p);
    let stall = stall_ms(p);
    let stall_ns = (stall > 0).then_some(stall * 1_000_000);
    let attempt = Duration::from_millis(stall.max(1000));
    let mut conn = conn;
    let mut hist = new_histogram();
    let mut warm = 0;
    let mut seqs = SeqTracker::default();
    let mut last_rx: Option<u64> = None;
    let mut quiet_since = now_ns();
    let mut gap: Option<(u64, u64)> = None;
    let mut end_ns = now_ns() + FIRST_WAIT.as_nanos() as u64;
    // The stream's final frame arrived: the server sends nothing more, so silence from then on
    // is its end, not a stall (frames lost in a dead connection never arrive, so the count of
    // distinct frames alone would never say so).
    let mut ended = false;
    while seqs.distinct < n {
        let now = now_ns();
        if now >= end_ns {
            break;
        }
        // Wait for a frame until the end, or (while the stream flows) until it has been silent
        // for `stall_ms`.
        let until = match (stall_ns, last_rx) {
            (Some(s), Some(_)) if !ended => (quiet_since + s).min(end_ns),
            _ => end_ns,
        };
        let wait = Duration::from_nanos(until.saturating_sub(now));
        let why = match tokio::time::timeout(wait, conn.stream.recv()).await {
            Ok(Ok(Some(f))) => {
                let now = now_ns();
                rep.bytes_received_total += f.len() as u64;
                let Some(h) = rep.accept(&f, |h| h.kind == Kind::Push && h.seq < n) else {
                    continue;
                };
                match last_rx {
                    None => {
                        end_ns = now + (p.warmup_ms + p.duration_ms) * 1_000_000 + DRAIN_NS;
                    }
                    Some(t) => {
                        if gap.is_none_or(|(a, b)| now - t > b - a) {
                            gap = Some((t, now));
                        }
                    }
                }
                last_rx = Some(now);
                quiet_since = now;
                if h.seq + 1 == n {
                    ended = true;
                    end_ns = end_ns.min(now + TAIL.as_nanos() as u64);
                }
                if !seqs.record(h.seq) {
                    continue;
                }
                if h.seq < warm_n {
                    warm += 1;
                } else {
                    let us = now.saturating_sub(h.sent_ns) / 1000;
                    let _ = hist.record(us.clamp(1, MAX_LATENCY_US));
                    rep.frames_received += 1;
                    rep.bytes_received += f.len() as u64;
                }
                continue;
            }
            Ok(Ok(None)) => "closed".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) if now_ns() >= end_ns => break,
            Err(_) => "silent".to_string(),
        };
        if last_rx.is_none() {
            return Err(TransportError::Protocol(format!(
                "the stream ended before its first frame ({why})"
            )));
        }
        *rep.errors
            .entry(format!("flap_{}", kind_of(&why)))
            .or_default() += 1;
        recover(&mut conn, transport, target, attempt, end_ns, rep).await;
        quiet_since = now_ns();
    }
    if last_rx.is_none() {
        return Err(TransportError::Timeout(format!(
            "no push frame arrived within {} s",
            FIRST_WAIT.as_secs()
        )));
    }
    rep.record_receipt(&hist, warm, &seqs, conn.stream.as_ref())?;
    rep.sent = n - warm_n;
    rep.recv_span_ns = p.duration_ms * 1_000_000;
    if let Some((a, b)) = gap {
        rep.gap_start_ns = Some(a);
        rep.gap_end_ns = Some(b);
    }
    let _ = conn.sink.close().await;
    Ok(())
}

/// Recovers a silent or lost stream: resumes in place where the transport can, else opens a
/// new connection; retried until it works or the stream's time (`end_ns`) is up.
async fn recover(
    conn: &mut Connection,
    transport: &dyn Transport,
    target: &Target,
    attempt: Duration,
    end_ns: u64,
    rep: &mut ClientReport,
) {
    while now_ns() < end_ns {
        match tokio::time::timeout(attempt, conn.stream.resume()).await {
            Ok(Ok(true)) => {
                rep.resumes += 1;
                return;
            }
            Ok(Ok(false)) => match tokio::time::timeout(attempt, transport.connect(target)).await {
                Ok(Ok(c)) => {
                    *conn = c;
                    rep.reconnects += 1;
                    return;
                }
                Ok(Err(_)) => {
                    rep.failed_attempts += 1;
                    // Refused at once (e.g. no route yet): don't spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => rep.failed_attempts += 1,
            },
            Ok(Err(_)) => {
                rep.failed_attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => rep.failed_attempts += 1,
        }
    }
}

const DRAIN_NS: u64 = DRAIN.as_nanos() as u64;

/// A short key for why a connection was given up (`silent`, `closed`, `error`).
fn kind_of(why: &str) -> &'static str {
    match why {
        "silent" => "stalled",
        "closed" => "closed",
        _ => "error",
    }
}

/// The instants of a flap workload (monotonic ns).
#[derive(Debug, Clone, Copy, Default)]
pub struct FlapMarks {
    /// The push schedule was started.
    pub push_ns: u64,
    /// The client's link was cut.
    pub cut_ns: u64,
    /// The client's link was restored.
    pub restore_ns: u64,
}

/// The push stream whose link is cut.
pub(crate) fn server_command(p: &Params, clients: Vec<u32>) -> ServerCommand {
    ServerCommand::Push {
        clients,
        rate: p.rate,
        size: p.size,
        count: frames(p),
    }
}

/// Step once the clients are connected: starts the push stream, cuts the client's link
/// `cut_at_ms` after the warm-up and restores it `cut_ms` later.
pub(crate) async fn arm(
    p: &Params,
    ctl: &mut impl ServerControl,
    clients: Vec<u32>,
) -> anyhow::Result<FlapMarks> {
    ctl.send(&server_command(p, clients)).await?;
    let push_ns = now_ns();
    let at = p.warmup_ms + p.cut_at_ms.unwrap_or(defaults::CUT_AT_MS);
    tokio::time::sleep(Duration::from_millis(at)).await;
    ctl.cut_client_link()?;
    let cut_ns = now_ns();
    let cut = p.cut_ms.unwrap_or(defaults::CUT_MS);
    tokio::time::sleep(Duration::from_millis(cut)).await;
    ctl.restore_client_link()?;
    Ok(FlapMarks {
        push_ns,
        cut_ns,
        restore_ns: now_ns(),
    })
}

/// The flap figures from the cut's instants and the clients' longest silences.
pub fn figures(m: &FlapMarks, r: &ClientReport) -> FlapFigures {
    FlapFigures {
        cut_at_ms: Some(ms(m.cut_ns.saturating_sub(m.push_ns))),
        cut_ms: Some(ms(m.restore_ns.saturating_sub(m.cut_ns))),
        recovery_ms: r
            .gap_end_ns
            .filter(|&e| e >= m.restore_ns)
            .map(|e| ms(e - m.restore_ns)),
        outage_ms: match (r.gap_start_ns, r.gap_end_ns) {
            (Some(a), Some(b)) => Some(ms(b.saturating_sub(a))),
            _ => None,
        },
        resumes: r.resumes,
        reconnects: r.reconnects,
        failed_attempts: r.failed_attempts,
    }
}

/// Scores a flap cell: delivery (what the cut cost) and the flap figures.
pub(crate) fn score(cell: &mut Cell, r: &ClientReport, marks: Option<&FlapMarks>) {
    cell.delivery = Some(delivery(r));
    if let Some(m) = marks {
        cell.flap = Some(figures(m, r));
    }
}

/// The schedule a browser page runs, as the Rust client derives it (defaults applied), so the
/// page repeats no default.
pub fn page_schedule(p: &Params) -> serde_json::Value {
    serde_json::json!({
        "frames": frames(p),
        "warmup_frames": warmup_frames(p),
        "stall_ms": stall_ms(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_follow_rate_and_windows() {
        let p = Params {
            rate: 100.0,
            size: 64,
            duration_ms: 5_000,
            warmup_ms: 500,
            clients: 1,
            connects: 1,
            poll_interval_ms: 50,
            ..Params::default()
        };
        assert_eq!(frames(&p), 550);
        assert_eq!(warmup_frames(&p), 50);
        assert_eq!(kind_of("silent"), "stalled");
        assert_eq!(kind_of("protocol: reset"), "error");
    }
}
