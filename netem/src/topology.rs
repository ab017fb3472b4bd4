//! Star topologies: a server and clients 1..N, each in its own network namespace behind its own
//! access link, and the [`LinkBackend`] trait the shaping backends implement.
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

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use crate::core::CoreStats;
use crate::error::NetemError;
use crate::profile::Profile;
use crate::sys;

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

/// The backend picked and why (what `auto` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendChoice {
    /// The backend in use (never `Auto`).
    pub kind: BackendKind,
    /// Why it was picked.
    pub reason: String,
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "backend {} ({})", self.kind, self.reason)
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

/// One host of a topology.
#[derive(Debug, Clone)]
pub struct Host {
    /// Which host.
    pub id: HostId,
    /// Its namespace name (None with the `none` backend: the current namespace).
    pub netns: Option<String>,
    /// Its IP address.
    pub addr: IpAddr,
    pub(crate) ns_fd: Option<Arc<OwnedFd>>,
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
        }
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

/// One shaping backend holding a live topology. Held as `Box<dyn LinkBackend>` by [`Topology`].
pub trait LinkBackend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// The hosts, server first, then clients 1..N.
    fn hosts(&self) -> &[Host];
    /// Counters of a host's access link.
    fn counters(&self, id: HostId) -> Result<LinkCounters, NetemError>;
    /// Puts a new profile on a host's access link (applies to packets sent from now on).
    fn set_profile(&self, id: HostId, profile: &Profile) -> Result<(), NetemError>;
    /// Cuts (`true`) or restores (`false`) a host's access link, both directions.
    fn set_cut(&self, id: HostId, cut: bool) -> Result<(), NetemError>;
    /// Removes everything the backend created. Idempotent.
    fn teardown(&mut self) -> Result<(), NetemError>;
}

/// A live topology. Dropping it tears it down (errors then go to stderr).
pub struct Topology {
    backend: Box<dyn LinkBackend>,
    choice: BackendChoice,
    torn_down: bool,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("choice", &self.choice)
            .field("hosts", &self.backend.hosts())
            .finish()
    }
}

impl Topology {
    /// Brings a topology up with the backend asked for (`Auto` picks; see [`choose_backend`]).
    pub fn up(kind: BackendKind, spec: &TopologySpec) -> Result<Self, NetemError> {
        let all_unshaped =
            spec.server.is_unshaped() && spec.clients.iter().all(|p| p.is_unshaped());
        let choice = choose_backend(kind, !all_unshaped)?;
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
        let backend: Box<dyn LinkBackend> = match choice.kind {
            BackendKind::Userspace => Box::new(crate::userspace::Userspace::up(&spec)?),
            BackendKind::Kernel => Box::new(crate::kernel::Kernel::up(&spec)?),
            BackendKind::None | BackendKind::Auto => Box::new(NoneBackend::new(&spec)?),
        };
        Ok(Self {
            backend,
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
    pub fn hosts(&self) -> &[Host] {
        self.backend.hosts()
    }

    /// One host.
    pub fn host(&self, id: HostId) -> Result<&Host, NetemError> {
        self.backend
            .hosts()
            .get(id.0 as usize)
            .ok_or_else(|| NetemError::NoSuchHost(id.to_string()))
    }

    /// The server.
    pub fn server(&self) -> &Host {
        &self.backend.hosts()[0]
    }

    /// Number of clients.
    pub fn client_count(&self) -> u32 {
        (self.backend.hosts().len() - 1) as u32
    }

    /// A command that runs `program` inside the host's namespace (it enters it with `setns` in
    /// `pre_exec`). Spawn it while the topology lives; processes still inside a namespace at
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

    /// Runs `f` on a new thread inside the host's namespace (sockets it opens live there).
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
    /// devices and namespaces removed.
    pub fn teardown(mut self) -> Result<(), NetemError> {
        self.torn_down = true;
        self.backend.teardown()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.torn_down {
            if let Err(e) = self.backend.teardown() {
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
    format!("{:x}{:x}{:03x}", std::process::id(), n, nanos & 0xfff)
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

/// Picks a backend. `Auto`: `kernel` when sch_netem works, else `userspace` when /dev/net/tun
/// works, else `none` (with `shaping_needed`, `none` is an error that says what is missing).
pub fn choose_backend(
    requested: BackendKind,
    shaping_needed: bool,
) -> Result<BackendChoice, NetemError> {
    let mut choice = choose_backend_as(requested, shaping_needed)?;
    if let Some(note) = crate::rootless::note() {
        choice.reason = format!("{}; {note}", choice.reason);
    }
    Ok(choice)
}

fn choose_backend_as(
    requested: BackendKind,
    shaping_needed: bool,
) -> Result<BackendChoice, NetemError> {
    let root = sys::is_root();
    let tun = tun_usable();
    match requested {
        BackendKind::None => Ok(BackendChoice {
            kind: BackendKind::None,
            reason: "asked for: loopback, no shaping".into(),
        }),
        BackendKind::Userspace => {
            if !root {
                return Err(NetemError::Unavailable {
                    backend: "userspace",
                    reason: format!(
                        "needs root (CAP_NET_ADMIN) to create namespaces and TUN devices; {}",
                        crate::rootless::not_root_reason()
                    ),
                });
            }
            tun.map_err(|reason| NetemError::Unavailable {
                backend: "userspace",
                reason,
            })?;
            Ok(BackendChoice {
                kind: BackendKind::Userspace,
                reason: "asked for".into(),
            })
        }
        BackendKind::Kernel => {
            if !root {
                return Err(NetemError::Unavailable {
                    backend: "kernel",
                    reason: format!(
                        "needs root (CAP_NET_ADMIN); {}",
                        crate::rootless::not_root_reason()
                    ),
                });
            }
            crate::kernel::probe_netem().map_err(|reason| NetemError::Unavailable {
                backend: "kernel",
                reason,
            })?;
            Ok(BackendChoice {
                kind: BackendKind::Kernel,
                reason: "asked for".into(),
            })
        }
        BackendKind::Auto => {
            if !root {
                let reason = format!(
                    "not root: namespaces and links need CAP_NET_ADMIN ({}); loopback only",
                    crate::rootless::not_root_reason()
                );
                if shaping_needed {
                    return Err(NetemError::Unavailable {
                        backend: "auto",
                        reason,
                    });
                }
                return Ok(BackendChoice {
                    kind: BackendKind::None,
                    reason,
                });
            }
            let netem = crate::kernel::probe_netem();
            match (&netem, &tun) {
                (Ok(()), _) => Ok(BackendChoice {
                    kind: BackendKind::Kernel,
                    reason: "the kernel has sch_netem: veth + tc netem".into(),
                }),
                (Err(why), Ok(())) => Ok(BackendChoice {
                    kind: BackendKind::Userspace,
                    reason: format!(
                        "no kernel netem ({why}); /dev/net/tun works: userspace emulator"
                    ),
                }),
                (Err(a), Err(b)) => {
                    let reason = format!("no kernel netem ({a}) and no TUN ({b})");
                    if shaping_needed {
                        Err(NetemError::Unavailable {
                            backend: "auto",
                            reason,
                        })
                    } else {
                        Ok(BackendChoice {
                            kind: BackendKind::None,
                            reason: format!("{reason}: loopback only"),
                        })
                    }
                }
            }
        }
    }
}

pub(crate) fn tun_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map(|_| ())
        .map_err(|e| format!("cannot open /dev/net/tun: {e}"))
}

/// The `none` backend: every host is 127.0.0.1 in the current namespace; nothing to shape.
struct NoneBackend {
    hosts: Vec<Host>,
}

impl NoneBackend {
    fn new(spec: &TopologySpec) -> Result<Self, NetemError> {
        if std::iter::once(&spec.server)
            .chain(spec.clients.iter())
            .any(|p| !p.is_unshaped())
        {
            return Err(NetemError::Unsupported {
                backend: "none",
                what: "shape links (the profile has delay, jitter, loss or a rate)".into(),
            });
        }
        let hosts = (0..spec.host_count())
            .map(|h| Host {
                id: HostId(h as u32),
                netns: None,
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                ns_fd: None,
            })
            .collect();
        Ok(Self { hosts })
    }
}

impl LinkBackend for NoneBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::None
    }
    fn hosts(&self) -> &[Host] {
        &self.hosts
    }
    fn counters(&self, _id: HostId) -> Result<LinkCounters, NetemError> {
        Err(NetemError::Unsupported {
            backend: "none",
            what: "count link bytes (loopback is shared)".into(),
        })
    }
    fn set_profile(&self, _id: HostId, profile: &Profile) -> Result<(), NetemError> {
        if profile.is_unshaped() {
            Ok(())
        } else {
            Err(NetemError::Unsupported {
                backend: "none",
                what: "shape a link".into(),
            })
        }
    }
    fn set_cut(&self, _id: HostId, _cut: bool) -> Result<(), NetemError> {
        Err(NetemError::Unsupported {
            backend: "none",
            what: "cut a link".into(),
        })
    }
    fn teardown(&mut self) -> Result<(), NetemError> {
        Ok(())
    }
}

// ---- leftovers, signals ----

static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records a namespace as live (torn down by the signal handler).
pub(crate) fn register_live(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Forgets a namespace (torn down normally).
pub(crate) fn unregister_live(name: &str) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
}

/// Creates a namespace and records it as live.
pub(crate) fn create_netns(name: &str) -> Result<OwnedFd, NetemError> {
    // Never adopt an existing namespace: `ip netns add` fails when the name is taken.
    sys::netns_add(name)?;
    register_live(name);
    sys::open_netns(name).inspect_err(|_| {
        let _ = destroy_netns(name);
    })
}

/// Destroys a namespace (killing what runs in it) and forgets it.
pub(crate) fn destroy_netns(name: &str) -> Result<(), NetemError> {
    let r = sys::netns_destroy(name);
    unregister_live(name);
    r
}

/// Removes what killed runs left behind: every namespace whose name starts with `prefix`
/// (which must start with `wb-`), after killing the processes inside. Returns the names removed.
pub fn cleanup(prefix: &str) -> Result<Vec<String>, NetemError> {
    if !prefix.starts_with(PREFIX) {
        return Err(NetemError::Invalid(format!(
            "cleanup prefix {prefix:?} must start with {PREFIX:?}"
        )));
    }
    let mut removed = Vec::new();
    let mut first_err = None;
    for name in sys::netns_list()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
    {
        match destroy_netns(&name) {
            Ok(()) => removed.push(name),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

static SIGNAL_PIPE_W: AtomicI32 = AtomicI32::new(-1);
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// The signal that started a teardown through [`install_signal_cleanup`], if any.
pub fn signalled() -> Option<i32> {
    match SIGNALLED.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}
static SIGNAL_ONCE: Once = Once::new();

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE_W.load(Ordering::Relaxed);
    let b = sig as u8;
    // SAFETY: write(2) is async-signal-safe; b is a live byte.
    unsafe {
        libc::write(fd, (&b as *const u8).cast(), 1);
    }
}

/// Installs SIGINT/SIGTERM/SIGHUP handlers that tear down every live topology of this process
/// (kill processes in its namespaces, delete them) and then die of the signal as usual.
///
/// Call it once, early, in programs that do not handle these signals themselves; programs that
/// do should drop their [`Topology`] (or call [`cleanup`]) from their own handler.
pub fn install_signal_cleanup() -> Result<(), NetemError> {
    let mut result = Ok(());
    SIGNAL_ONCE.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into a live 2-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            result = Err(NetemError::io("pipe2", std::io::Error::last_os_error()));
            return;
        }
        SIGNAL_PIPE_W.store(fds[1], Ordering::Relaxed);
        let read_fd = fds[0];
        std::thread::Builder::new()
            .name("wb-netem-signals".into())
            .spawn(move || {
                let mut b = [0u8; 1];
                loop {
                    match sys::read(read_fd, &mut b) {
                        Ok(1) => break,
                        Ok(_) => return,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    }
                }
                SIGNALLED.store(b[0] as i32, Ordering::Relaxed);
                let names: Vec<String> = LIVE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                for n in names {
                    let _ = sys::netns_destroy(&n);
                }
                let sig = b[0] as libc::c_int;
                // SAFETY: restoring the default disposition and re-raising: plain syscalls.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| result = Err(NetemError::io("spawning the signal thread", e)));
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction with a plain handler is valid; on_signal is
            // async-signal-safe (one write(2)).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
    result
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
    fn cleanup_refuses_foreign_prefixes() {
        assert!(cleanup("").is_err());
        assert!(cleanup("netns").is_err());
    }

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
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn topology_can_be_shared_across_tasks() {
        assert_send_sync::<super::Topology>();
    }
}
