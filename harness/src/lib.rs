//! `wirebench`: measures real-time web transports on emulated links.
//!
//! The crate holds the whole runtime: the wire [`frame`] format, the [`transport`] trait and its
//! implementations, the [`server`] every transport talks to, the [`workload`]s written once
//! against the trait, the [`agent`]s (`serve`, `drive`) that run them as separate processes, and
//! the [`runner`] that plans cells and writes `results.json`. Results and everything people
//! read live in `wirebench-reports`; link emulation lives in `wirebench-netem`.

pub mod agent;
pub mod browser;
pub mod cli;
pub mod clock;
pub mod frame;
pub mod host;
pub mod netem_cmd;
pub mod network;
pub mod proxy;
pub mod runner;
pub mod server;
pub mod tls;
pub mod transport;
pub mod workload;
