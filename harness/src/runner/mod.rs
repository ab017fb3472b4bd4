//! The orchestrator behind `wirebench run`, in three stages joined by data:
//!
//! 1. [`plan`]: scenarios → cells, every fact resolved once ([`plan::resolve`]);
//! 2. [`execute`]: one cell's topology, server agent and client side ([`clients`]: Rust agents
//!    or Chromium), driven through the workload's steps, torn down at the end;
//! 3. [`score`]: the agents' reports → the cell's figures (pure).
//!
//! [`suite`] runs a whole plan (variants interleaved, Ctrl-C, `results.json` after every cell);
//! [`scenario`] parses the scenario files the plan starts from.

mod agent;
pub mod cell;
pub mod clients;
mod cross;
pub mod execute;
pub mod options;
pub mod plan;
pub mod progress;
pub mod scenario;
pub mod score;
mod server;
pub mod settle;
pub mod suite;
mod turn;
mod window;

pub use cell::run_cell;
pub use options::{RunOptions, Variant};
pub use plan::{needs_topology, plan, PlannedCell};
pub use suite::{run, Shutdown};
