//! The vocabulary of topologies, shared by every backend: which backend ([`BackendKind`]),
//! hosts ([`HostId`], [`NetHost`]), what to build ([`TopologySpec`], with a [`Nat`] per client),
//! link counters, the addressing plan and the [`LinkBackend`] trait the backends implement.
//!
//! This is the ground floor of the topology stack: it imports nothing above it (no backend, no
//! factory), so the backends ([`crate::kernel`], the userspace and `none` backends) can use it
//! without a cycle, the factory ([`crate::backend`]) sits above the backends, and
//! [`crate::topology`] on top.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::core::CoreStats;
use crate::error::NetemError;
use crate::profile::Profile;

/// The namespace-name prefix of everything this crate creates.
pub const PREFIX: &str = "wb-";

/// Environment variable that overrides [`PREFIX`] for the topologies of this process (and of
/// processes it starts): must start with `wb-`.
pub const PREFIX_ENV: &str = "WIREBENCH_NETNS_PREFIX";

/// Which backend shapes the links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Default)]
pub enum BackendKind {
    /// Kernel if it has sch_netem, else userspace, else none; says which and why.
    #[default]
    Auto,
    /// veth pairs + `tc netem` (needs sch_netem).
    Kernel,
    /// wirebench's own emulator: a TUN device per host, packets routed through the core.
    Userspace,
    /// No namespaces, no shaping: every host is 127.0.0.1.
    None,
}

impl BackendKind {
    /// Stable name (`auto`, `kernel`, `userspace`, `none`), as recorded in results.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Kernel => "kernel",
            BackendKind::Userspace => "userspace",
            BackendKind::None => "none",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A host of the star: 0 is the server, k ≥ 1 is client k (the protocol's client id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub u32);

impl HostId {
    /// The server.
    pub const SERVER: HostId = HostId(0);

    /// Client `k` (1-based).
    pub fn client(k: u32) -> HostId {
        HostId(k)
    }
}

impl std::fmt::Display for HostId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == 0 {
            f.write_str("server")
        } else {
            write!(f, "client{}", self.0)
        }
    }
}

/// One host of a topology: its namespace and address (not to be confused with
/// `wirebench_reports::Host`, the facts about the machine a run happened on).
#[derive(Debug, Clone)]
pub struct NetHost {
    /// Which host.
    pub id: HostId,
    /// The namespace its applications run in, the one [`crate::Topology::command`] and
    /// [`crate::Topology::run_in`] enter (None with the `none` backend: the current namespace).
    /// For a client behind a NAT, the LAN namespace behind it ([`NatHost::lan_netns`]).
    pub netns: Option<String>,
    /// Its public address: where other hosts reach it, and, behind a NAT, the address they see
    /// its packets come from (the mapping's address; the port is the NAT's choice).
    pub addr: IpAddr,
    /// The NAT in front of it (clients only; None = on the emulated link directly).
    pub nat: Option<NatHost>,
    pub(crate) ns_fd: Option<Arc<OwnedFd>>,
}

/// A host's NAT: which kind, the private address its applications have, and the namespaces on
/// either side of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatHost {
    /// Which NAT ([`Nat::EndpointIndependent`] or [`Nat::Symmetric`], never [`Nat::None`]).
    pub kind: Nat,
    /// The applications' own (private) address, on the LAN behind the NAT.
    pub inside_addr: Ipv4Addr,
    /// The LAN namespace the applications run in (equal to [`NetHost::netns`]).
    pub lan_netns: String,
    /// The host's namespace on the emulated link, holding the NAT (nft table `wirebench_nat`),
    /// the public address and the access link's device.
    pub router_netns: String,
}

/// A client host's NAT (RFC 4787 terms), as scenarios and results name it ([`Nat::name`],
/// [`std::str::FromStr`]): `none`, `endpoint-independent`, `symmetric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Nat {
    /// No NAT: the host is on the emulated link with its public address.
    #[default]
    None,
    /// A typical home router: one mapping per inside address:port, reused for every
    /// destination (the port kept where it is free), and filtering by address and port (only
    /// replies from where the inside sent to get in). Peers behind two of them can punch holes.
    EndpointIndependent,
    /// A new mapping (a random external port) per destination, filtering by address and port:
    /// the port a STUN server sees is useless to a peer, so direct connectivity between two
    /// such hosts fails and a relay (TURN) is needed.
    Symmetric,
}

impl Nat {
    /// Every kind, in the order of [`Nat::name`]'s list.
    pub const ALL: [Nat; 3] = [Nat::None, Nat::EndpointIndependent, Nat::Symmetric];

    /// Stable name, as scenarios and results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Nat::None => "none",
            Nat::EndpointIndependent => "endpoint-independent",
            Nat::Symmetric => "symmetric",
        }
    }
}

impl std::fmt::Display for Nat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Nat {
    type Err = NetemError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nat::ALL.into_iter().find(|n| n.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Nat::ALL.iter().map(|n| n.name()).collect();
            NetemError::Invalid(format!(
                "unknown NAT {s:?}: expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// Per-direction counters of one host's access link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Host → router: `packets_in`/`bytes_in` is what the host sent.
    pub up: CoreStats,
    /// Router → host: `packets_out`/`bytes_out` is what the host received.
    pub down: CoreStats,
    /// Packets the host sent that no host of the topology could take (unknown address, IPv6).
    pub unroutable: u64,
    /// Packets the emulator could not write into the host's device (should stay 0).
    pub write_errors: u64,
}

/// Whether shaped-free links may use TUN offloads (TSO/GSO super-packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offload {
    /// On for a host only while every link its packets cross is unshaped.
    #[default]
    Auto,
    /// Never (every packet is MTU-sized).
    Off,
}

/// What to build: the server's and each client's access-link profile.
#[derive(Debug, Clone)]
pub struct TopologySpec {
    /// Namespace prefix; must start with `wb-`.
    pub prefix: String,
    /// Run id (unique per topology); None = generated.
    pub run_id: Option<String>,
    /// The server's access link (unshaped by default: the server sits in a data centre).
    pub server: Profile,
    /// Client k's access link is `clients[k - 1]`.
    pub clients: Vec<Profile>,
    /// Seed of every random choice of the emulator.
    pub seed: u64,
    /// Offload policy (userspace backend).
    pub offload: Offload,
    /// Run the userspace router's threads at SCHED_FIFO priority (best effort), so deadlines
    /// hold on a loaded machine.
    pub realtime: bool,
    /// Extra one-way delay on the path between two hosts, on top of both access links (e.g. two
    /// peers close to each other, the server far away: put the delay on the access links and
    /// none here, or the reverse). Userspace backend only.
    pub pair_delays: Vec<PairDelay>,
    /// Client k's NAT is `nat[k - 1]`; clients past the end have none (so empty = no NATs).
    /// Not with the `none` backend. See [`crate::nat`].
    pub nat: Vec<Nat>,
}

/// Extra delay between two hosts, each way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairDelay {
    /// One end.
    pub a: HostId,
    /// The other end.
    pub b: HostId,
    /// Extra one-way delay, ms.
    pub delay_ms: f64,
}

impl TopologySpec {
    /// `clients` clients, each on `profile`; the server's link unshaped.
    pub fn star(profile: &Profile, clients: u32) -> Self {
        Self {
            prefix: std::env::var(PREFIX_ENV).unwrap_or_else(|_| PREFIX.to_string()),
            run_id: None,
            server: Profile::default(),
            clients: vec![profile.clone(); clients as usize],
            seed: 1,
            offload: Offload::Auto,
            realtime: true,
            pair_delays: Vec::new(),
            nat: Vec::new(),
        }
    }

    /// The NAT in front of a host ([`Nat::None`] for the server and clients without one).
    pub fn nat_of(&self, id: HostId) -> Nat {
        match id.0 {
            0 => Nat::None,
            k => self.nat.get(k as usize - 1).copied().unwrap_or_default(),
        }
    }

    /// Whether any client is behind a NAT.
    pub fn has_nat(&self) -> bool {
        self.nat.iter().any(|n| *n != Nat::None)
    }

    /// The profile of a host's access link.
    pub fn profile(&self, id: HostId) -> Option<&Profile> {
        match id.0 {
            0 => Some(&self.server),
            k => self.clients.get(k as usize - 1),
        }
    }

    pub(crate) fn host_count(&self) -> usize {
        self.clients.len() + 1
    }
}

/// The address of host index `h` (0 = server).
pub fn host_addr(h: usize) -> Ipv4Addr {
    let n = (h + 1) as u32;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 77, 0, 0)) | (n & 0xffff))
}

/// The host index of an address in the topology's /16, if it is one.
pub(crate) fn addr_host(dst: [u8; 4]) -> Option<usize> {
    if dst[0] != 10 || dst[1] != 77 {
        return None;
    }
    let n = u16::from_be_bytes([dst[2], dst[3]]) as usize;
    n.checked_sub(1)
}

/// One shaping backend holding a live topology. Held as `Box<dyn LinkBackend>` by
/// [`crate::Topology`]; made by [`crate::backend::open`].
pub trait LinkBackend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// The hosts, server first, then clients 1..N.
    fn hosts(&self) -> &[NetHost];
    /// Counters of a host's access link.
    fn counters(&self, id: HostId) -> Result<LinkCounters, NetemError>;
    /// Puts a new profile on a host's access link (applies to packets sent from now on).
    fn set_profile(&self, id: HostId, profile: &Profile) -> Result<(), NetemError>;
    /// Cuts (`true`) or restores (`false`) a host's access link, both directions.
    fn set_cut(&self, id: HostId, cut: bool) -> Result<(), NetemError>;
    /// Removes everything the backend created. Idempotent.
    fn teardown(&mut self) -> Result<(), NetemError>;
}

/// The namespace name of a host.
pub(crate) fn ns_name(spec: &TopologySpec, h: usize) -> String {
    let run = spec.run_id.as_deref().unwrap_or("x");
    if h == 0 {
        format!("{}{run}-s", spec.prefix)
    } else {
        format!("{}{run}-c{h}", spec.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        assert_eq!(host_addr(0), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(host_addr(1), Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!(host_addr(300), Ipv4Addr::new(10, 77, 1, 45));
        for h in [0usize, 1, 254, 255, 256, 1000] {
            assert_eq!(addr_host(host_addr(h).octets()), Some(h));
        }
        assert_eq!(addr_host([10, 78, 0, 1]), None);
        assert_eq!(addr_host([10, 77, 0, 0]), None);
    }

    #[test]
    fn nat_names_round_trip_and_errors_list_them() {
        for n in Nat::ALL {
            assert_eq!(n.name().parse::<Nat>().unwrap(), n);
            assert_eq!(n.to_string(), n.name());
        }
        let e = "full-cone".parse::<Nat>().unwrap_err().to_string();
        assert!(e.contains("full-cone"), "{e}");
        assert!(e.contains("none, endpoint-independent, symmetric"), "{e}");
        assert_eq!(Nat::default(), Nat::None);
    }

    #[test]
    fn nat_of_defaults_to_none() {
        let mut spec = TopologySpec::star(&Profile::default(), 3);
        spec.nat = vec![Nat::Symmetric, Nat::None];
        assert_eq!(spec.nat_of(HostId::SERVER), Nat::None);
        assert_eq!(spec.nat_of(HostId::client(1)), Nat::Symmetric);
        assert_eq!(spec.nat_of(HostId::client(2)), Nat::None);
        assert_eq!(spec.nat_of(HostId::client(3)), Nat::None);
        assert!(spec.has_nat());
        spec.nat.clear();
        assert!(!spec.has_nat());
    }
}
