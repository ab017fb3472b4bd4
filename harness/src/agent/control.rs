//! The agents' internal control channel: JSON lines on the child's stdin/stdout.
//!
//! The orchestrator (`wirebench run`) starts `wirebench serve --control` and `wirebench drive
//! --control`, sends them commands and reads events back. Pipes work the same inside a network
//! namespace, so agents can be started anywhere a process can. Documented in `docs/protocol.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::server::hub::DataCount;
use crate::workload::spec::WorkloadSpec;

/// Orchestrator → server agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum ServerCommand {
    /// Push `count` frames of `size` bytes to each of `clients` at `rate` per second.
    Push {
        /// Client ids.
        clients: Vec<u32>,
        /// Frames per second per client.
        rate: f64,
        /// Frame size, bytes.
        size: usize,
        /// Frames per client.
        count: u64,
    },
    /// Send data frames to `client` as fast as its downstream accepts, for `duration_ms`.
    Download {
        /// Client ids.
        clients: Vec<u32>,
        /// Frame size, bytes.
        size: usize,
        /// How long, ms.
        duration_ms: u64,
    },
    /// Count uploaded bytes only after this long past each client's first data frame.
    UploadWarmup {
        /// Warm-up, ms.
        warmup_ms: u64,
    },
    /// Pair relay clients (sender, receiver): the server forwards each sender's data frames to
    /// its receiver's downstream. Answered with `done` once every receiver has a downstream open
    /// (or `error` naming those that have none after 10 s).
    Relay {
        /// (sender, receiver) client ids.
        pairs: Vec<(u32, u32)>,
    },
    /// Start recording the global broadcast order (collab). Answered with `done` once every one
    /// of `clients` has a downstream open (or `error`).
    Collab {
        /// Client ids.
        clients: Vec<u32>,
    },
    /// Set the keep-alives of connections opened from now on (the `idle` workload's
    /// production settings; 0 = off, except `long_poll_hold_ms`: 0 = `--poll-timeout`).
    KeepAlive {
        /// WebSocket ping interval, ms.
        ws_ping_ms: u64,
        /// SSE comment interval, ms.
        sse_heartbeat_ms: u64,
        /// Long-poll hold, ms.
        long_poll_hold_ms: u64,
    },
    /// Report current memory, CPU time and open downstreams (answered with `probe`).
    Probe,
    /// Report resources, counters and errors.
    Stats,
    /// Stop serving and exit.
    Shutdown,
}

/// Server agent → orchestrator.
/// What the server agent reports at the end of a cell (the `stats` event's fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerReport {
    /// CPU seconds since start.
    pub cpu_s: Option<f64>,
    /// Peak RSS, bytes.
    pub rss_peak_bytes: Option<u64>,
    /// Bulk data received, per client id (upload).
    pub data: Vec<(u32, DataCount)>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Data frames forwarded to a relay peer.
    #[serde(default)]
    pub relayed: u64,
    /// The global broadcast order while recording (collab), op ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    /// Listening.
    Ready {
        /// HTTP(S) address (port P).
        addr: String,
        /// Certificate hash to pin.
        cert_sha256: String,
        /// SHA-256 of the certificate's SPKI, base64 (what a browser is told to accept).
        #[serde(default)]
        spki_sha256: Option<String>,
        /// The open-file limit the agent runs with (after raising it).
        #[serde(default)]
        nofile_limit: Option<u64>,
    },
    /// Answer to `probe`.
    Probe {
        /// Resident set size now (VmRSS), bytes.
        rss_bytes: Option<u64>,
        /// CPU seconds since start.
        cpu_s: Option<f64>,
        /// Clients with a downstream open.
        attached: usize,
    },
    /// Answer to `stats`: the server's report at the end of a cell.
    Stats(ServerReport),
    /// A command failed.
    Error {
        /// Why.
        message: String,
    },
    /// A push or download finished.
    Done,
}

/// Orchestrator → client agent: everything one client agent runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Transport id.
    pub transport: String,
    /// Implementation, for transports with several (None: the default one).
    #[serde(default)]
    pub implementation: Option<String>,
    /// Server address (port P).
    pub addr: String,
    /// Use TLS.
    pub tls: bool,
    /// Certificate hash to pin (hex).
    pub cert_sha256: Option<String>,
    /// First client id; the agent's clients are `first_client .. first_client + clients`.
    pub first_client: u32,
    /// How many clients this agent runs (None: the workload's `clients`). With several client
    /// agents each runs its share; ids stay unique across them.
    #[serde(default)]
    pub clients: Option<u32>,
    /// Hold every schedule, once connected, until the orchestrator sends `{"cmd":"start"}`.
    #[serde(default)]
    pub wait_start: bool,
    /// The workload.
    pub workload: WorkloadSpec,
    /// WebRTC: the STUN/TURN servers and ICE policy of the cell (None: host candidates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice: Option<crate::transport::rtc::ice::IceConfig>,
}

/// Orchestrator → client agent after `connected`, when the job said `wait_start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum DriveCommand {
    /// Start the schedules now.
    Start,
}

/// Client agent → orchestrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DriveEvent {
    /// Every client is connected; server-driven workloads may start.
    Connected {
        /// Client ids.
        clients: Vec<u32>,
    },
    /// Finished (successfully or not).
    Result(Box<crate::workload::report::ClientReport>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `stats` is a flat object with `"event": "stats"`, as older builds write and read it
    /// (`--ab` runs the baseline build's agents under this orchestrator).
    #[test]
    fn stats_keep_their_flat_wire_form() {
        let flat = r#"{"event":"stats","cpu_s":0.5,"rss_peak_bytes":7,"data":[],"errors":{"x":1}}"#;
        let ev: ServerEvent = serde_json::from_str(flat).unwrap_or_else(|e| panic!("{e}"));
        let ServerEvent::Stats(r) = &ev else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (r.cpu_s, r.rss_peak_bytes, r.relayed),
            (Some(0.5), Some(7), 0)
        );
        let back = serde_json::to_value(&ev).unwrap_or_else(|e| panic!("{e}"));
        let want = serde_json::json!({"event": "stats", "cpu_s": 0.5, "rss_peak_bytes": 7,
            "data": [], "errors": {"x": 1}, "relayed": 0});
        assert_eq!(back, want);
    }
}
