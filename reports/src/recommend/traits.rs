//! The workload traits `wirebench recommend` takes (shared by the criteria, the reading of
//! figures and the ranking, so none of them imports another's parent).

use serde::Serialize;

/// Up to this many clients a server-authority workload counts as "few" (collaboration).
pub const FEW_CLIENTS: u32 = 50;

/// Where the messages flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Connectivity {
    /// Between peers, no central source of truth.
    P2p,
    /// Through a server that holds the truth.
    Server,
}

/// The workload's traits, as `wirebench recommend` takes them.
#[derive(Debug, Clone, Serialize)]
pub struct Traits {
    /// Peer to peer or server authority.
    pub topology: Connectivity,
    /// Concurrent clients.
    pub clients: u32,
    /// Messages per second per client.
    pub rate: f64,
    /// Message size, bytes.
    pub size: u64,
    /// Long quiet periods between messages.
    pub quiet_periods: bool,
    /// Messages may be lost (media, telemetry): unreliable transports qualify.
    pub loss_tolerant: bool,
    /// Network profile to judge on (`None`: every profile measured).
    pub profile: Option<String>,
}
