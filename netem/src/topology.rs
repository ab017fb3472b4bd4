//! Star topologies: a server and clients 1..N, each in its own network namespace behind its own
//! access link. [`Topology`] is the live topology the harness holds: it picks a backend through
//! [`crate::backend`] and drives it through the [`LinkBackend`] trait of [`crate::link`].
//!
//! ```no_run
//! use wirebench_netem::{BackendKind, HostId, ProfileSet, Topology, TopologySpec};
//! # fn main() -> Result<(), wirebench_netem::NetemError> {
//! let profiles = ProfileSet::builtin();
//! let spec = TopologySpec::star(profiles.get("broadband")?, 1);
//! let topo = Topology::up(BackendKind::Auto, &spec)?;
//! eprintln!("netem: {}", topo.choice());
//! let server = topo.server();
//! let mut srv = topo.command(HostId::SERVER, "wirebench")?;
//! srv.args(["serve", "--bind", &format!("{}:4433", server.addr)]);
//! let mut cli = topo.command(HostId::client(1), "wirebench")?;
//! cli.args(["drive", "--target", &format!("https://{}:4433", server.addr)]);
//! // ... spawn them (or tokio::process::Command::from(cmd)), read topo.counters(..) ...
//! topo.teardown()?; // also done on Drop
//! # Ok(()) }
//! ```
//!
//! Addresses: host `h` (0 = server, k = client k) is `10.77.0.0 + h + 1` in `10.77.0.0/16`, so
//! the server is `10.77.0.1` and client 1 is `10.77.0.2`. Namespaces are named
//! `<prefix><run id>-s` (server) and `<prefix><run id>-c<k>`; the prefix is `wb-`, or the value
//! of `WIREBENCH_NETNS_PREFIX` (it must start with `wb-`), which lets tests and side-by-side runs
//! find and clean up exactly their own namespaces (`wirebench netem cleanup --prefix …`).
//!
//! NATs: a client with a [`Nat`](crate::Nat) other than `none` in [`TopologySpec::nat`] gets a
//! LAN namespace `<prefix><run id>-c<k>n` behind its host namespace, which becomes its NAT
//! router ([`crate::nat`]). [`Topology::command`] and [`Topology::run_in`] then enter the LAN
//! namespace, so the client's traffic crosses the NAT, then its access link; its
//! [`NetHost::netns`] names the LAN namespace, [`NetHost::addr`] stays the public address and
//! [`NetHost::nat`] holds the private one and the router namespace.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::backend::{choose_backend, open, BackendChoice};
use crate::error::NetemError;
use crate::link::{BackendKind, HostId, LinkBackend, LinkCounters, NetHost, TopologySpec, PREFIX};
use crate::nat::NatLayer;
use crate::profile::Profile;
use crate::sys;

/// A live topology. Dropping it tears it down (errors then go to stderr).
pub struct Topology {
    backend: Box<dyn LinkBackend>,
    /// The NATs in front of clients (torn down before the backend).
    nat: NatLayer,
    /// The hosts as applications see them (a NATed client: its LAN namespace).
    hosts: Vec<NetHost>,
    choice: BackendChoice,
    torn_down: bool,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("choice", &self.choice)
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl Topology {
    /// Brings a topology up with the backend asked for (`Auto` picks; see [`choose_backend`]).
    /// NATs, like shaping, need namespaces: `Auto` then never picks `none`.
    pub fn up(kind: BackendKind, spec: &TopologySpec) -> Result<Self, NetemError> {
        let all_unshaped =
            spec.server.is_unshaped() && spec.clients.iter().all(|p| p.is_unshaped());
        let choice = choose_backend(kind, !all_unshaped || spec.has_nat())?;
        Self::up_with(choice, spec)
    }

    /// Brings a topology up with an already chosen backend.
    pub fn up_with(choice: BackendChoice, spec: &TopologySpec) -> Result<Self, NetemError> {
        if !spec.prefix.starts_with(PREFIX) {
            return Err(NetemError::Invalid(format!(
                "namespace prefix {:?} must start with {PREFIX:?}",
                spec.prefix
            )));
        }
        if spec.clients.len() > 60_000 {
            return Err(NetemError::Invalid("too many clients (max 60000)".into()));
        }
        let mut spec = spec.clone();
        if spec.run_id.is_none() {
            spec.run_id = Some(new_run_id());
        }
        let mut backend = open(&choice, &spec)?;
        // On error the partial NAT layer has removed what it made; the backend goes too.
        let (nat, hosts) = NatLayer::up(&spec, choice.kind, backend.hosts()).inspect_err(|_| {
            if let Err(e) = backend.teardown() {
                eprintln!("wirebench-netem: teardown after a failed NAT set-up: {e}");
            }
        })?;
        Ok(Self {
            backend,
            nat,
            hosts,
            choice,
            torn_down: false,
        })
    }

    /// The backend in use and why it was chosen.
    pub fn choice(&self) -> &BackendChoice {
        &self.choice
    }

    /// The backend's name (`kernel`, `userspace`, `none`), for `results.json`'s `netem_backend`.
    pub fn backend_name(&self) -> &'static str {
        self.choice.kind.name()
    }

    /// All hosts, server first.
    pub fn hosts(&self) -> &[NetHost] {
        &self.hosts
    }

    /// One host.
    pub fn host(&self, id: HostId) -> Result<&NetHost, NetemError> {
        self.hosts
            .get(id.0 as usize)
            .ok_or_else(|| NetemError::NoSuchHost(id.to_string()))
    }

    /// The server.
    pub fn server(&self) -> &NetHost {
        &self.hosts[0]
    }

    /// Number of clients.
    pub fn client_count(&self) -> u32 {
        (self.hosts.len() - 1) as u32
    }

    /// A command that runs `program` inside the host's namespace (it enters it with `setns` in
    /// `pre_exec`): [`NetHost::netns`], which for a client behind a NAT is the LAN namespace
    /// behind it. Spawn it while the topology lives; processes still inside a namespace at
    /// teardown are killed. For tokio: `tokio::process::Command::from(cmd)`.
    pub fn command(&self, id: HostId, program: impl AsRef<OsStr>) -> Result<Command, NetemError> {
        let host = self.host(id)?;
        let mut cmd = Command::new(program);
        if let Some(fd) = &host.ns_fd {
            let fd = Arc::clone(fd);
            // SAFETY: the closure runs between fork and exec; it only calls setns(2), which is
            // async-signal-safe, and builds an io::Error from errno without allocating.
            unsafe {
                cmd.pre_exec(move || sys::setns(fd.as_raw_fd()));
            }
        }
        Ok(cmd)
    }

    /// Runs `f` on a new thread inside the host's namespace (sockets it opens live there);
    /// behind a NAT, the LAN namespace, as for [`Topology::command`].
    pub fn run_in<T: Send>(
        &self,
        id: HostId,
        f: impl FnOnce() -> T + Send,
    ) -> Result<T, NetemError> {
        let host = self.host(id)?;
        match &host.ns_fd {
            Some(fd) => sys::in_netns(fd, &id.to_string(), f),
            None => Ok(f()),
        }
    }

    /// Counters of a host's access link.
    pub fn counters(&self, id: HostId) -> Result<LinkCounters, NetemError> {
        self.backend.counters(id)
    }

    /// Changes a host's link profile at run time.
    pub fn set_profile(&self, id: HostId, profile: &Profile) -> Result<(), NetemError> {
        self.backend.set_profile(id, profile)
    }

    /// Cuts a host's link (both directions drop everything).
    pub fn cut(&self, id: HostId) -> Result<(), NetemError> {
        self.backend.set_cut(id, true)
    }

    /// Restores a cut link.
    pub fn restore(&self, id: HostId) -> Result<(), NetemError> {
        self.backend.set_cut(id, false)
    }

    /// Tears everything down: router threads stopped, processes left in the namespaces killed,
    /// devices, NAT tables and namespaces removed.
    pub fn teardown(mut self) -> Result<(), NetemError> {
        self.torn_down = true;
        self.teardown_all()
    }

    /// The NATs' LAN namespaces first (their processes killed), then the backend; the first
    /// error, after trying both.
    fn teardown_all(&mut self) -> Result<(), NetemError> {
        let nat = self.nat.teardown();
        // Our handles on the namespaces must not keep them alive past their deletion.
        for h in &mut self.hosts {
            h.ns_fd = None;
        }
        let backend = self.backend.teardown();
        nat.and(backend)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.torn_down {
            if let Err(e) = self.teardown_all() {
                eprintln!("wirebench-netem: teardown: {e}");
            }
        }
    }
}

fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // `P<pid>_`: the owner, so a later run can remove what a killed one left
    // (`netns::reap_orphans`).
    format!("P{}_{:x}{:03x}", std::process::id(), n, nanos & 0xfff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn none_backend_refuses_shaping() {
        let p = Profile {
            delay_ms: 5.0,
            ..Profile::default()
        };
        let spec = TopologySpec::star(&p, 1);
        let choice = BackendChoice {
            kind: BackendKind::None,
            reason: "test".into(),
        };
        assert!(Topology::up_with(choice.clone(), &spec).is_err());
        let spec = TopologySpec::star(&Profile::default(), 2);
        let t = Topology::up_with(choice, &spec).unwrap();
        assert_eq!(t.hosts().len(), 3);
        assert_eq!(t.server().addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(t.command(HostId::client(2), "true").is_ok());
        assert!(t.command(HostId::client(3), "true").is_err());
    }

    #[test]
    fn none_backend_refuses_nat() {
        let mut spec = TopologySpec::star(&Profile::default(), 2);
        spec.nat = vec![crate::Nat::None, crate::Nat::Symmetric];
        let choice = BackendChoice {
            kind: BackendKind::None,
            reason: "test".into(),
        };
        let e = Topology::up_with(choice, &spec).unwrap_err();
        assert!(matches!(e, NetemError::Invalid(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("symmetric") && text.contains("client 2"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn topology_can_be_shared_across_tasks() {
        assert_send_sync::<super::Topology>();
    }
}
