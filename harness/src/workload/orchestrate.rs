//! The orchestrator's side of a cell, as the workloads' steps see it: commands to the server
//! agent, probes of it ("marks"), the client link to cut, and what the server reports at the
//! end. The runner implements [`ServerControl`] over the server agent's control pipes; each
//! workload module says which commands it sends and when (its *steps*), and the runner only
//! calls them in order: prepare → (clients connect) → arm → (clients run) → finish.

use wirebench_netem::LinkCounters;

use crate::agent::control::ServerCommand;
pub use crate::agent::control::ServerReport;

/// What a workload's steps may ask of the orchestrator while a cell runs.
#[allow(async_fn_in_trait)] // used with static dispatch only, within the crate
pub trait ServerControl {
    /// Sends `cmd` to the server agent.
    async fn send(&mut self, cmd: &ServerCommand) -> anyhow::Result<()>;
    /// Waits for the server agent's `done` (or its error) after a command that answers so.
    async fn done(&mut self) -> anyhow::Result<()>;
    /// A probe of the server agent, with the client link's counters, at this instant.
    async fn mark(&mut self) -> anyhow::Result<Mark>;
    /// Cuts client host 1's access link (needs an emulated link).
    fn cut_client_link(&self) -> anyhow::Result<()>;
    /// Restores client host 1's access link.
    fn restore_client_link(&self) -> anyhow::Result<()>;
}

/// A server probe with the client link's counters, at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mark {
    /// When it was taken (monotonic ns; 0 = never taken).
    pub at_ns: u64,
    /// The server agent's RSS, bytes.
    pub rss_bytes: Option<u64>,
    /// The server agent's CPU seconds so far.
    pub cpu_s: Option<f64>,
    /// Clients with a connection attached at the server.
    pub attached: usize,
    /// Client host 1's link counters (on a topology).
    pub counters: Option<LinkCounters>,
}
