//! Which workload a cell runs, with its parameters ([`WorkloadSpec`], sent to the client agents
//! as part of their job), and what follows from the kind alone: id, latency kind, time limit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::params::Params;

/// Which workload and its parameters, as run by the client agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    /// Round trips at a fixed rate per client (open loop).
    Echo(Params),
    /// Server → clients at a fixed rate; one-way latency on the shared clock.
    Push(Params),
    /// Server → client bulk transfer with backpressure.
    Download(Params),
    /// Client → server bulk transfer with backpressure.
    Upload(Params),
    /// Cold connection setup, repeated.
    Connect(Params),
    /// Browser only: `clients` event streams (or long-polls) opened at once to one origin;
    /// time to each one's first event shows the browser's per-origin connection limit. One
    /// stream is released every `duration_ms`.
    OriginLimit(Params),
    /// Client A → client B in pairs (open loop, one-way latency): through the server, or peer
    /// to peer for WebRTC.
    Relay(Params),
    /// N clients send ops; the server orders and broadcasts them: op → delivered-to-all
    /// latency and order violations.
    Collab(Params),
    /// Many quiet connections held open, a rare notification to all of them: memory per
    /// connection, keep-alive bytes, notification latency (see [`idle`]).
    Idle(Params),
    /// A push stream whose link is cut for a while: recovery time, frames lost and duplicated
    /// (see [`flap`]).
    Flap(Params),
}

impl WorkloadSpec {
    /// The workload's id.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Echo(_) => "echo",
            Self::Push(_) => "push",
            Self::Download(_) => "download",
            Self::Upload(_) => "upload",
            Self::Connect(_) => "connect",
            Self::OriginLimit(_) => "origin-limit",
            Self::Relay(_) => "relay",
            Self::Collab(_) => "collab",
            Self::Idle(_) => "idle",
            Self::Flap(_) => "flap",
        }
    }

    /// Its parameters.
    pub fn params(&self) -> &Params {
        match self {
            Self::Echo(p)
            | Self::Push(p)
            | Self::Download(p)
            | Self::Upload(p)
            | Self::Connect(p)
            | Self::OriginLimit(p)
            | Self::Relay(p)
            | Self::Collab(p)
            | Self::Idle(p)
            | Self::Flap(p) => p,
        }
    }

    /// What the latency figures of this workload are.
    pub fn latency_kind(&self) -> &'static str {
        match self {
            Self::Echo(_) => "rtt",
            Self::Push(_)
            | Self::Download(_)
            | Self::Relay(_)
            | Self::Collab(_)
            | Self::Idle(_)
            | Self::Flap(_) => "one-way",
            Self::Upload(_) => "none",
            Self::Connect(_) => "setup",
            Self::OriginLimit(_) => "first-event",
        }
    }

    /// How long the whole workload may take before the orchestrator gives up on it.
    pub fn time_limit(&self) -> Duration {
        let p = self.params();
        let base = p.warmup_ms + p.duration_ms;
        // Connecting thousands of clients takes a while before any schedule starts (TLS
        // handshakes on a small machine, through the emulator): 10 ms per client on top.
        let connecting = 10 * u64::from(p.clients);
        match self {
            Self::Connect(_) => Duration::from_secs(60 + 10 * p.connects as u64),
            Self::OriginLimit(_) => {
                Duration::from_millis(p.duration_ms * (p.clients as u64 + 2))
                    + Duration::from_secs(60)
            }
            // Plus the keep-alive-only window.
            Self::Idle(_) => {
                Duration::from_millis(base + p.quiet_ms.unwrap_or(0) + connecting)
                    + Duration::from_secs(120)
            }
            Self::Flap(_) => Duration::from_millis(base) + Duration::from_secs(90),
            _ => Duration::from_millis(base + connecting) + Duration::from_secs(60),
        }
    }
}

impl WorkloadSpec {
    /// Whether the clients hold their schedules until the server (and every other client) is
    /// ready: relay pairs and collab order recording are set up once all are connected.
    pub fn gated(&self) -> bool {
        matches!(self, Self::Relay(_) | Self::Collab(_))
    }

    /// Whether losing frames is what the workload measures (flap: what a cut costs), so a
    /// reliable transport's loss does not fail the cell.
    pub fn measures_loss(&self) -> bool {
        matches!(self, Self::Flap(_))
    }

    /// The phase step between clients' open-loop schedules, ns: `period / N` for the workloads
    /// whose N clients each send on a schedule (echo, relay, collab), as wrk2 staggers its
    /// connections, so N clients never queue N frames at one instant. `None` for one client
    /// or a workload without client schedules.
    pub fn phase_step_ns(&self) -> Option<u64> {
        let p = match self {
            Self::Echo(p) | Self::Relay(p) | Self::Collab(p) => p,
            _ => return None,
        };
        let n = u64::from(p.clients);
        (n > 1).then(|| p.period_ns() / n)
    }

    /// When client `id`'s schedule starts, given the shared start: offset by
    /// `(id mod N) · period / N` ([`Self::phase_step_ns`]).
    pub fn client_start_ns(&self, start_ns: u64, id: u32) -> u64 {
        let n = u64::from(self.params().clients.max(1));
        start_ns + self.phase_step_ns().unwrap_or(0) * (u64::from(id) % n)
    }

    /// For a cell on the poll transport: a warning when the poll interval is locked to the
    /// clients' send period ([`super::schedule::poll_phase_bins`] under ten over the measured
    /// frames, pooled over the clients with the agents' staggers), with an interval nearby
    /// that is not. `None` when the phases walk through the interval, or for a workload
    /// without a send schedule.
    pub fn poll_phase_warning(&self) -> Option<String> {
        use super::schedule::{poll_phase_bins, POLL_PHASE_BINS};
        let p = match self {
            Self::Echo(p) | Self::Push(p) | Self::Relay(p) | Self::Collab(p) | Self::Flap(p) => p,
            _ => return None,
        };
        let frames = (p.rate * p.duration_ms as f64 / 1000.0).ceil() as u64;
        let bins = |ms: u64| {
            let (interval, offsets) = self.poll_phase_offsets(ms * 1_000_000);
            poll_phase_bins(p.period_ns(), interval, frames, &offsets)
        };
        let have = bins(p.poll_interval_ms);
        if have >= POLL_PHASE_BINS {
            return None;
        }
        let better = (p.poll_interval_ms + 1..=p.poll_interval_ms + 20)
            .find(|&ms| bins(ms) >= POLL_PHASE_BINS)
            .map_or_else(String::new, |ms| format!(" (e.g. poll_interval_ms = {ms})"));
        Some(format!(
            "poll_interval_ms = {} against one send every {:.1} ms per client: the frames \
             meet the polls at only {have} of {POLL_PHASE_BINS} points of the interval, so a \
             poll cell measures those phases shifted by one random offset and its figures \
             scatter between repeats; pick an interval that is not a multiple or fraction of \
             the send period{better}",
            p.poll_interval_ms,
            p.period_ns() as f64 / 1e6,
        ))
    }

    /// The poll schedule a latency figure depends on and where each sender's frames start
    /// against it, ns, for [`Self::poll_phase_warning`]. Client `id` sends from
    /// `(id mod N) · period / N` ([`Self::client_start_ns`]; push: all at once) and polls from
    /// `(id mod N) · interval / N`. Push and echo: each client's frames against its own polls;
    /// relay: sender k's against receiver k + N/2's; collab: every sender's ops against all N
    /// pollers together (delivered-to-all waits for the last), a grid of period interval / N.
    /// Beyond 100 clients, 100 evenly spaced ones stand for them.
    fn poll_phase_offsets(&self, interval: u64) -> (u64, Vec<u64>) {
        let n = u64::from(self.params().clients.max(1)).min(100);
        let send = |id: u64| (id % n) * self.phase_step_ns().unwrap_or(0);
        let poll = |id: u64| (id % n) * interval / n;
        let past = |s: u64, p: u64, i: u64| (s % i + i - p % i) % i;
        match self {
            Self::Collab(_) => {
                let grid = (interval / n).max(1);
                (grid, (0..n).map(|j| past(send(j), 0, grid)).collect())
            }
            Self::Relay(_) => {
                let half = (n / 2).max(1);
                let o = (1..=half).map(|k| past(send(k), poll(k + half), interval));
                (interval, o.collect())
            }
            _ => (
                interval,
                (0..n).map(|i| past(send(i), poll(i), interval)).collect(),
            ),
        }
    }
}

/// Every workload id, for `wirebench list`.
pub const ALL_IDS: &[(&str, &str)] = &[
    ("echo", "RTT at a fixed open-loop send rate per client"),
    (
        "push",
        "server → N clients at a fixed rate, one-way latency",
    ),
    ("download", "bulk server → client goodput with backpressure"),
    (
        "upload",
        "bulk client → server goodput with backpressure (measured at the server)",
    ),
    ("connect", "cold connection setup time, repeated"),
    (
        "origin-limit",
        "browser only: N event streams / long-polls to one origin, time to each one's first event",
    ),
    (
        "relay",
        "client A → client B in pairs, one-way latency: WebRTC peer to peer, others via the server",
    ),
    (
        "collab",
        "N clients send ops, the server orders and broadcasts: delivered-to-all latency, order violations",
    ),
    (
        "idle",
        "many quiet connections, rare notifications: memory per connection, keep-alive bytes, notification latency",
    ),
    (
        "flap",
        "link cut mid push stream: recovery time, frames lost and duplicated, reconnects",
    ),
];
