//! `wirebench-netem`: network profiles and link emulation.
//!
//! The only crate that touches namespaces, links, qdiscs, NAT tables and TUN devices, and
//! starts the network's own components (nginx in front of the server, coturn for TURN). Profiles
//! are data (`scenarios/profiles.toml`, [`profile`]); the emulator's timing logic is a sans-IO
//! core ([`core`]: loss, duplication, a rate with a `droptail`, `codel` or `fq_codel` queue
//! ([`QueueDiscipline`], docs/queues.md), delay and jitter); [`topology`] builds a star of
//! hosts in network namespaces and puts the profiles on their access links with one of three
//! backends behind [`LinkBackend`]:
//!
//! - `kernel`: veth + `tc netem`, where the kernel has sch_netem;
//! - `userspace`: a TUN device per host and an in-process router driving the core;
//! - `none`: loopback, no shaping.
//!
//! Client hosts can sit behind a NAT ([`Nat`] per client in [`TopologySpec::nat`]: `none`,
//! `endpoint-independent`, `symmetric`), nftables in the namespaces ([`nat`]).
//!
//! The harness calls [`Topology::up`], runs its agents with [`Topology::command`], reads
//! [`Topology::counters`], flaps links with [`Topology::cut`]/[`Topology::restore`] and drops
//! the topology (or calls [`Topology::teardown`]). [`cleanup`] removes leftovers of killed runs;
//! [`cli`] is the `wirebench netem …` command family.
//!
//! # Layout
//!
//! Modules only import modules below them (no import cycle):
//!
//! - ground floor: [`error`], [`profile`], [`core`] (sans-IO emulator), `sys` (syscalls and
//!   `ip`/`tc` commands), [`link`] (the vocabulary: [`BackendKind`], [`HostId`], [`NetHost`],
//!   [`TopologySpec`], [`LinkCounters`], the addressing plan, the [`LinkBackend`] trait),
//!   [`netns`] (namespaces this process made, leftovers, signal teardown), [`rootless`];
//! - backends, on [`link`] and [`netns`]: [`kernel`], `userspace`, `none`; beside them
//!   [`nat`], the NATs in front of client hosts (nftables in the hosts' namespaces);
//! - the backend factory above them: [`backend`] ([`choose_backend`], [`BackendChoice`]);
//! - [`topology`] on top: the live [`Topology`] (a backend, then the NATs on its hosts);
//! - the network's own components on a topology's hosts: [`daemon`] (a process group started
//!   in a host's namespace, waited for, stopped on drop), [`proxy`] (a real nginx in front of
//!   the server, per `proxy` variant) and [`turn`] (a real coturn for STUN and TURN);
//! - `wirebench netem …` above the topology: `measure` (RTT, UDP and TCP measurements),
//!   [`findings`] (what they find, as data: [`CheckReport`], [`ExecSummary`], …, and the
//!   [`CommandSink`] it goes to), [`check`] (configured vs measured), [`exec`], and [`cli`]
//!   (the commands, [`cli::run`]). The library prints nothing for them: it hands its findings
//!   to a [`CommandSink`], and the binary prints.

pub mod backend;
pub mod check;
mod check_jitter;
pub mod cli;
pub mod core;
pub mod daemon;
pub mod dist;
pub mod error;
pub mod exec;
pub mod findings;
pub mod kernel;
pub mod link;
mod measure;
pub mod nat;
pub mod netns;
mod none;
pub mod profile;
pub mod proxy;
pub mod rootless;
mod sys;
pub mod topology;
pub mod turn;
mod userspace;

/// Version of the emulator's semantics: how delay, jitter, loss and packet order are drawn.
/// Recorded in every results file (`emulator_semantics`); `wirebench compare` refuses to
/// compare runs whose versions differ, since their figures would differ for that alone. Bump
/// it with any change to what a profile key does to packets. 2: jitter drawn per packet as
/// netem draws it (correlated uniform or an iproute2 table; was an interpolated curve). 3:
/// Gilbert-Elliott loss decided by the state a packet meets, as netem's `loss_gilb_ell` does
/// (was the state after its transition), with `loss` drawn independently beside it on every
/// packet (a Bernoulli loss no longer skipped the chain's step); the kernel backend gives
/// netem the same by folding `loss` into each state's loss, and sizes `limit` as the userspace
/// queue limit (plus the delay line netem counts in it, none without a rate).
pub const EMULATOR_SEMANTICS: u32 = 3;

pub use backend::{choose_backend, BackendChoice};
pub use check::CheckOptions;
pub use cli::NetemCommand;
pub use error::NetemError;
pub use findings::{
    Baseline, CheckLine, CheckReport, CommandSink, ExecStart, ExecSummary, QuietSink,
};
pub use link::{
    host_addr, BackendKind, HostId, LinkBackend, LinkCounters, Nat, NatHost, NetHost, Offload,
    PairDelay, TopologySpec, PREFIX, PREFIX_ENV,
};
pub use netns::{cleanup, install_signal_cleanup, reap_orphans, signalled};
pub use profile::{
    toml_locate, toml_message, Direction, GilbertElliott, LinkParams, Profile, ProfileError,
    ProfileSet, QueueDiscipline,
};
pub use topology::Topology;
