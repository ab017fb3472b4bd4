//! The agents: `wirebench serve` (server) and `wirebench drive` (clients), separate processes the
//! orchestrator starts and steers over a JSON-lines control channel on stdin/stdout.

pub mod control;
pub mod drive;
pub mod procstat;
pub mod serve;
