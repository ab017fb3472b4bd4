//! `idle`: many quiet connections held open, a rare notification to all of them.
//!
//! The orchestrator drives the timeline (see `docs/results.md`, field `idle`):
//! 1. every client connects (on loopback from 16 source addresses, so ephemeral ports don't run
//!    out); the server agent's RSS is probed before and after, the client agent's too;
//! 2. warm-up (`warmup_ms`): nothing is sent;
//! 3. quiet window (`quiet_ms`): only the transports' keep-alives cross the link; the link
//!    emulator's counters at its ends give the keep-alive bytes per connection-hour;
//! 4. notification window (`duration_ms`): the server pushes one notification to every client
//!    every `notify_interval_ms`, stamped with its intended send time; each arrival's one-way
//!    latency (shared host clock) goes into the histogram.
//!
//! Every transport runs with the keep-alive a production deployment would use (parameters with
//! production defaults, see [`defaults`]): the server pings
//! WebSockets, sends SSE comments and holds long-polls; `poll` polls at its interval; the
//! WebTransport client sends QUIC PINGs; WebRTC keeps its own consent checks. HTTP clients open
//! no upstream connection (they send nothing), as a listening browser tab would not.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::orchestrate::{Mark, ServerControl};
use super::params::{Check, ParamDecl, ParamType, ParamValue, Params, DAY_MS, HOUR_MS};
use super::report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
use super::schedule::recv_before;
use super::score::{delivery, ms};
use crate::agent::control::ServerCommand;
use crate::clock::now_ns;
use crate::frame::Kind;
use crate::transport::{FrameStream, Target, TransportError};
use wirebench_reports::model::{Cell, IdleFigures};

/// Defaults of the `idle` workload: production keep-alives (see `docs/protocol.md`).
pub mod defaults {
    /// A notification every 10 s.
    pub const NOTIFY_INTERVAL_MS: u64 = 10_000;
    /// One minute of keep-alive-only traffic (a multiple of every default interval below but
    /// the long-poll hold).
    pub const QUIET_MS: u64 = 60_000;
    /// WebSocket ping every 30 s: under the 60 s idle timeout of common proxies and load
    /// balancers (nginx `proxy_read_timeout`, AWS ALB), the usual server setting.
    pub const WS_PING_MS: u64 = 30_000;
    /// SSE comment every 15 s, as `docs/protocol.md` specifies for `GET /sse`.
    pub const SSE_HEARTBEAT_MS: u64 = 15_000;
    /// Long-poll held 25 s, the server's default `--poll-timeout`.
    pub const LONG_POLL_HOLD_MS: u64 = 25_000;
    /// QUIC PING after 15 s of quiet, as Chromium does for sessions with open streams (its
    /// 30 s idle timeout halved).
    pub const QUIC_KEEPALIVE_MS: u64 = 15_000;
    /// Short polls every 5 s (data at most 5 s stale) unless the scenario sets
    /// `poll_interval_ms`.
    pub const POLL_INTERVAL_MS: u64 = 5_000;
}

/// The `idle` workload's own keys (production keep-alives by default, see [`defaults`]).
pub const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        key: "notify_interval_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::NOTIFY_INTERVAL_MS)),
        check: Check::ms(1, HOUR_MS),
        doc: "a notification goes to every client this often",
        quick: true,
        only: Some("idle"),
        refusal: None,
    },
    ParamDecl {
        key: "quiet_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::QUIET_MS)),
        check: Check::ms(0, DAY_MS),
        doc: "keep-alive-only window (no notifications) after the warm-up",
        quick: true,
        only: Some("idle"),
        refusal: None,
    },
    ParamDecl {
        key: "ws_ping_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::WS_PING_MS)),
        check: Check::ms(0, HOUR_MS),
        doc: "interval of the server's WebSocket pings",
        quick: false,
        only: Some("idle"),
        refusal: None,
    },
    ParamDecl {
        key: "sse_heartbeat_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::SSE_HEARTBEAT_MS)),
        check: Check::ms(0, HOUR_MS),
        doc: "interval of the server's SSE comment heartbeats",
        quick: false,
        only: Some("idle"),
        refusal: None,
    },
    ParamDecl {
        key: "long_poll_hold_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::LONG_POLL_HOLD_MS)),
        check: Check::ms(1, HOUR_MS),
        doc: "how long a long-poll is held before the server answers 204",
        quick: false,
        only: Some("idle"),
        refusal: None,
    },
    ParamDecl {
        key: "quic_keepalive_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(defaults::QUIC_KEEPALIVE_MS)),
        check: Check::ms(0, HOUR_MS),
        doc: "the WebTransport client's QUIC keep-alive (PING) interval, 0 = none",
        quick: false,
        only: Some("idle"),
        refusal: None,
    },
];

/// The defaults `idle` gives shared keys: short polls every 5 s.
pub const SHARED_DEFAULTS: &[(&str, ParamValue)] = &[(
    "poll_interval_ms",
    ParamValue::U64(defaults::POLL_INTERVAL_MS),
)];

/// Loopback source addresses the clients are spread over (127.0.0.1 … 127.0.0.16): each has its
/// own ~28,000 ephemeral ports towards the server.
pub const LOOPBACK_SOURCES: u32 = 16;

/// How long a client waits beyond the schedule for its last notification (fan-out to
/// thousands of clients, a poll interval).
const SLACK: Duration = Duration::from_secs(30);

/// Notifications each client gets: one per `notify_interval_ms` of the window, at least one.
pub fn notifications(p: &Params) -> u64 {
    let every = notify_interval_ms(p);
    (p.duration_ms / every).max(1)
}

/// The notification interval, ms.
pub fn notify_interval_ms(p: &Params) -> u64 {
    p.notify_interval_ms
        .unwrap_or(defaults::NOTIFY_INTERVAL_MS)
        .max(1)
}

/// How long a client waits for its notifications from the start, ms: warm-up, quiet window,
/// every notification interval, a poll interval, and [`SLACK`].
pub fn wait_ms(p: &Params) -> u64 {
    p.warmup_ms
        + p.quiet_ms.unwrap_or(0)
        + notifications(p) * notify_interval_ms(p)
        + p.poll_interval_ms
        + SLACK.as_millis() as u64
}

/// The target the idle clients connect with: lazy HTTP upstream, the workload's QUIC
/// keep-alive (0 = none).
pub(crate) fn client_target(p: &Params, mut base: Target) -> Target {
    base.lazy_up = true;
    base.quic_keep_alive = match p.quic_keepalive_ms.unwrap_or(defaults::QUIC_KEEPALIVE_MS) {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    };
    base
}

/// The source address of client `id` towards `server`: one of [`LOOPBACK_SOURCES`] loopback
/// addresses when the server is on IPv4 loopback, else the kernel's choice.
pub(crate) fn source_ip(server: SocketAddr, id: u32) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => {
            Some(Ipv4Addr::new(127, 0, 0, 1 + (id % LOOPBACK_SOURCES) as u8).into())
        }
        _ => None,
    }
}

/// One client: waits quietly, then takes its notifications.
pub(crate) async fn client(
    p: &Params,
    mut stream: Box<dyn FrameStream>,
    start_ns: u64,
    rep: &mut ClientReport,
) -> Result<(), TransportError> {
    let n = notifications(p);
    let deadline = start_ns + wait_ms(p) * 1_000_000;
    // Latencies kept as a few numbers while the client waits, and put in a histogram only at
    // the end (no await in between): a histogram per held connection (~140 KB) would be most
    // of the client agent's memory at 100,000 connections.
    let mut latencies_us: Vec<u64> = Vec::new();
    let mut seqs = SeqTracker::default();
    let mut lost = None;
    while seqs.distinct < n {
        let f = match recv_before(stream.as_mut(), deadline).await {
            Ok(Some(f)) => f,
            Ok(None) if now_ns() >= deadline => break,
            // Closed or broken while idle (a proxy's idle timeout): the time is the figure;
            // this client gets nothing more.
            Ok(None) => {
                lost = Some((now_ns(), "closed by the server side".to_string()));
                break;
            }
            Err(e) => {
                lost = Some((now_ns(), e.to_string()));
                break;
            }
        };
        let now = now_ns();
        rep.bytes_received_total += f.len() as u64;
        let Some(h) = rep.accept(&f, |h| h.kind == Kind::Push && h.seq < n) else {
            continue;
        };
        if !seqs.record(h.seq) {
            continue;
        }
        let us = now.saturating_sub(h.sent_ns) / 1000;
        latencies_us.push(us.clamp(1, MAX_LATENCY_US));
        rep.frames_received += 1;
        rep.bytes_received += f.len() as u64;
    }
    let mut hist = new_histogram();
    for us in latencies_us {
        let _ = hist.record(us);
    }
    rep.record_receipt(&hist, 0, &seqs, stream.as_ref())?;
    drop(hist);
    rep.sent = n;
    let first = [lost.as_ref().map(|l| l.0), stream.lost_at_ns()]
        .into_iter()
        .flatten()
        .min();
    if let Some(at) = first {
        rep.dropped_connections += 1;
        rep.first_drop_ns = Some(rep.first_drop_ns.map_or(at, |t| t.min(at)));
    }
    match lost {
        Some((at, why)) => Err(TransportError::Protocol(format!(
            "connection lost {:.1} s after the clients started, while idle: {why}",
            at.saturating_sub(start_ns) as f64 / 1e9
        ))),
        None => Ok(()),
    }
}

/// The instants of an idle workload: before connecting, connected (after the warm-up, = quiet
/// window start), quiet window end (= notifications start), client agent done.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleMarks {
    /// Before any client connected.
    pub before: Mark,
    /// Every client connected and the warm-up over: the quiet window starts.
    pub connected: Mark,
    /// The quiet window's end: the notifications start.
    pub quiet_end: Mark,
    /// The client agents reported.
    pub done: Mark,
    /// The server agent's open-file limit.
    pub server_nofile: Option<u64>,
    /// When every client was connected (the warm-up's start), monotonic ns: the zero of the
    /// time to the first dropped connection.
    pub all_connected_ns: u64,
}

/// Step before the clients connect: the server's keep-alive settings, and its memory with no
/// client yet.
pub(crate) async fn prepare(
    p: &Params,
    ctl: &mut impl ServerControl,
    server_nofile: Option<u64>,
) -> anyhow::Result<IdleMarks> {
    use defaults as D;
    ctl.send(&ServerCommand::KeepAlive {
        ws_ping_ms: p.ws_ping_ms.unwrap_or(D::WS_PING_MS),
        sse_heartbeat_ms: p.sse_heartbeat_ms.unwrap_or(D::SSE_HEARTBEAT_MS),
        long_poll_hold_ms: p.long_poll_hold_ms.unwrap_or(D::LONG_POLL_HOLD_MS),
    })
    .await?;
    Ok(IdleMarks {
        before: ctl.mark().await?,
        server_nofile,
        ..IdleMarks::default()
    })
}

/// Step once the clients are connected: the warm-up, the keep-alive-only window (marked at
/// both ends), then the notifications.
pub(crate) async fn arm(
    p: &Params,
    ctl: &mut impl ServerControl,
    clients: Vec<u32>,
    marks: &mut IdleMarks,
) -> anyhow::Result<()> {
    marks.all_connected_ns = now_ns();
    tokio::time::sleep(Duration::from_millis(p.warmup_ms)).await;
    let connected = ctl.mark().await?;
    tokio::time::sleep(Duration::from_millis(p.quiet_ms.unwrap_or(0))).await;
    marks.quiet_end = ctl.mark().await?;
    marks.connected = connected;
    ctl.send(&server_command(p, clients)).await
}

/// The notifications: a push to every client every `notify_interval_ms`.
pub(crate) fn server_command(p: &Params, clients: Vec<u32>) -> ServerCommand {
    ServerCommand::Push {
        clients,
        rate: 1000.0 / notify_interval_ms(p) as f64,
        size: p.size,
        count: notifications(p),
    }
}

/// The idle figures from the orchestrator's marks and the client agent's report.
pub fn figures(m: &IdleMarks, r: &ClientReport) -> IdleFigures {
    let conns = r.setup_us.len() as u64;
    let per_conn = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if conns > 0 => Some((b as f64 - a as f64) / conns as f64),
        _ => None,
    };
    let cpu = |a: &Mark, b: &Mark| match (a.cpu_s, b.cpu_s) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    // (bytes up, bytes down, packets) between two marks, from the emulator's counters.
    let wire = |a: &Mark, b: &Mark| match (a.counters, b.counters) {
        (Some(a), Some(b)) => Some((
            b.up.bytes_in.saturating_sub(a.up.bytes_in),
            b.down.bytes_out.saturating_sub(a.down.bytes_out),
            b.up.packets_in.saturating_sub(a.up.packets_in)
                + b.down.packets_out.saturating_sub(a.down.packets_out),
        )),
        _ => None,
    };
    // A window between two marks, if both were taken (a failed cell stops early).
    let span = |a: &Mark, b: &Mark| (a.at_ns > 0 && b.at_ns >= a.at_ns).then(|| b.at_ns - a.at_ns);
    let quiet_ns = span(&m.connected, &m.quiet_end);
    let notify_ns = span(&m.quiet_end, &m.done);
    let quiet_wire = wire(&m.connected, &m.quiet_end);
    let per_conn_hour = |x: u64| match quiet_ns {
        Some(q) if conns > 0 && q > 0 => Some(x as f64 / conns as f64 / (q as f64 / 3.6e12)),
        _ => None,
    };
    IdleFigures {
        connections: conns,
        server_attached: quiet_ns.map(|_| m.connected.attached as u64),
        server_rss_before_bytes: m.before.rss_bytes,
        server_rss_connected_bytes: m.connected.rss_bytes,
        server_rss_per_connection_bytes: per_conn(m.before.rss_bytes, m.connected.rss_bytes),
        client_rss_per_connection_bytes: per_conn(
            r.rss_before_connect_bytes,
            r.rss_connected_bytes,
        ),
        quiet_ms: quiet_ns.map(ms),
        keepalive_bytes_up: quiet_wire.map(|w| w.0),
        keepalive_bytes_down: quiet_wire.map(|w| w.1),
        keepalive_packets: quiet_wire.map(|w| w.2),
        keepalive_bytes_per_connection_hour: quiet_wire.and_then(|w| per_conn_hour(w.0 + w.1)),
        keepalive_packets_per_connection_hour: quiet_wire.and_then(|w| per_conn_hour(w.2)),
        server_cpu_quiet_s: cpu(&m.connected, &m.quiet_end),
        notify_window_ms: notify_ns.map(ms),
        server_cpu_notify_s: cpu(&m.quiet_end, &m.done),
        bytes_per_client_per_min: match (wire(&m.quiet_end, &m.done), notify_ns) {
            (Some(w), Some(n)) if conns > 0 && n > 0 => {
                Some((w.0 + w.1) as f64 / conns as f64 / (n as f64 / 6e10))
            }
            _ => None,
        },
        server_nofile_limit: m.server_nofile,
        client_nofile_limit: r.nofile_limit,
        dropped_connections: (r.dropped_connections > 0).then_some(r.dropped_connections),
        first_drop_ms: r
            .first_drop_ns
            .filter(|&t| m.all_connected_ns > 0 && t >= m.all_connected_ns)
            .map(|t| ms(t - m.all_connected_ns)),
    }
}

/// Scores an idle cell: delivery of the notifications and the idle figures.
pub(crate) fn score(cell: &mut Cell, r: &ClientReport, marks: Option<&IdleMarks>) {
    cell.delivery = Some(delivery(r));
    if let Some(m) = marks {
        cell.idle = Some(figures(m, r));
    }
}

/// The schedule a browser page runs, as the Rust client derives it (defaults applied), so the
/// page repeats no default.
pub fn page_schedule(p: &Params) -> serde_json::Value {
    serde_json::json!({
        "notifications": notifications(p),
        "wait_ms": wait_ms(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 clients, 25 s of notifications, every idle key unset (the defaults apply).
    fn params() -> Params {
        Params {
            rate: 1.0,
            size: 64,
            duration_ms: 25_000,
            clients: 10,
            connects: 1,
            poll_interval_ms: 50,
            ..Params::default()
        }
    }

    #[test]
    fn notification_count_and_sources() {
        let mut p = params();
        p.notify_interval_ms = Some(10_000);
        assert_eq!(notifications(&p), 2);
        p.duration_ms = 5_000;
        assert_eq!(notifications(&p), 1);
        let lo: SocketAddr = "127.0.0.1:4433".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(source_ip(lo, 16), Some(Ipv4Addr::new(127, 0, 0, 1).into()));
        assert_eq!(source_ip(lo, 17), Some(Ipv4Addr::new(127, 0, 0, 2).into()));
        let ns: SocketAddr = "10.77.0.1:4433".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(source_ip(ns, 3), None);
    }

    #[test]
    fn idle_clients_listen_lazily_with_the_quic_keepalive_asked_for() {
        let mut p = params();
        let base = Target::new(
            "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!()),
            true,
            None,
            1,
            Duration::from_millis(50),
        );
        p.quic_keepalive_ms = Some(0);
        let t = client_target(&p, base.clone());
        assert!(t.lazy_up);
        assert_eq!(t.quic_keep_alive, None);
        p.quic_keepalive_ms = Some(15_000);
        assert_eq!(
            client_target(&p, base).quic_keep_alive,
            Some(Duration::from_secs(15))
        );
    }
}
