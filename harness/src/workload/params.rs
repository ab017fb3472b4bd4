//! The workloads' parameters: one [`Params`] shared by every workload (each uses the ones that
//! apply), as the scenario parser resolves them and the cell records them.

use serde::{Deserialize, Serialize};

/// Parameters shared by the workloads (each uses the ones that apply).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// Messages per second per client (echo, push).
    pub rate: f64,
    /// Message size in bytes, including the 24-byte header.
    pub size: usize,
    /// Measured duration, ms (after warm-up).
    pub duration_ms: u64,
    /// Warm-up, ms, excluded from the figures.
    pub warmup_ms: u64,
    /// Concurrent clients.
    pub clients: u32,
    /// Connections to open one after another (connect).
    pub connects: u32,
    /// Short-poll interval, ms (poll transport).
    pub poll_interval_ms: u64,
    /// relay: a frame arriving later than this after its intended send time counts as lost
    /// (media-like traffic); none = every arrival counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// relay on a topology: extra one-way delay between the two peers' hosts, ms, on top of
    /// both access links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_delay_ms: Option<f64>,
    /// One-way delay on the server's access link, ms (the server far away); none = unshaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_delay_ms: Option<f64>,
    /// The HTTP version the server offers (scenario key `http`); recorded in the cell's params
    /// only when not the default HTTP/1.1.
    #[serde(default, skip_serializing_if = "HttpVersion::is_http1")]
    pub http: HttpVersion,
    /// idle: a notification goes to every client this often, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_interval_ms: Option<u64>,
    /// idle: length of the keep-alive-only window (no notifications) after the warm-up, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_ms: Option<u64>,
    /// idle: interval of the server's WebSocket pings, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_ping_ms: Option<u64>,
    /// idle: interval of the server's SSE comment heartbeats, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_heartbeat_ms: Option<u64>,
    /// idle: how long a long-poll is held before the server answers `204`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_poll_hold_ms: Option<u64>,
    /// idle: the WebTransport client's QUIC keep-alive (PING) interval, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_keepalive_ms: Option<u64>,
    /// flap: when the link is cut, ms after the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_at_ms: Option<u64>,
    /// flap: how long the link stays cut, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_ms: Option<u64>,
    /// flap: silence after which a client gives its connection up and resumes or reconnects,
    /// ms (0 = never: only an error or a close makes it reconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
}

/// Which HTTP versions the server under test offers on TCP P.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpVersion {
    /// HTTP/1.1 only (ALPN `http/1.1`): the default.
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2 offered first (ALPN `h2`, then `http/1.1`; TLS only). Browsers take it; the Rust
    /// clients offer only `http/1.1` and keep speaking HTTP/1.1.
    #[serde(rename = "2")]
    Http2,
}

impl HttpVersion {
    /// Parses a scenario's `http` value: `"1.1"` or `"2"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1.1" => Some(Self::Http1),
            "2" => Some(Self::Http2),
            _ => None,
        }
    }

    /// Whether this is the default, HTTP/1.1 only.
    pub fn is_http1(&self) -> bool {
        *self == Self::Http1
    }
}
