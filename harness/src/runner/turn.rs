//! A real TURN server (Debian's `coturn`, `turnserver`) for WebRTC cells with a `turn` key:
//! started on its host of the topology (the server's, or a host of its own near the peers, see
//! [`super::plan::turn_host`]) with a configuration and a fresh long-term credential of its own
//! in a temporary directory, listening on UDP and TCP 3478 and TLS 5349 (the run's
//! certificate, which the server agent writes there with `--cert-dir`), and stopped with its
//! process group when the cell ends, fails or is interrupted (the directory goes with it).
//! It is the cell's STUN server too. Which cells cannot use it is said at plan time
//! ([`crate::workload::network::skip_reason`]).

use std::io::Read as _;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use wirebench_netem::{HostId, Topology};

use super::daemon::{self, Daemon};
use super::plan::PlannedCell;
use crate::network::{uses_ice, IcePolicy, TurnPlace, TurnTransport};
use crate::transport::rtc::ice::{IceConfig, IceServer};
use crate::workload::Params;

/// How long coturn may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The STUN/TURN port (UDP and TCP).
pub const PORT: u16 = 3478;
/// The TURN-over-TLS port.
pub const TLS_PORT: u16 = 5349;
/// The relay ports coturn allocates from (a small range: a cell holds a few allocations).
pub const RELAY_PORTS: (u16, u16) = (49_160, 49_259);
/// The realm of the long-term credential.
pub const REALM: &str = "wirebench";

/// Where `turnserver` is installed, if it is.
pub(crate) fn find() -> Option<PathBuf> {
    super::daemon::find_program("turnserver")
}

/// Whether coturn is installed (the planner skips TURN cells when it is not).
pub(crate) fn available() -> bool {
    find().is_some()
}

/// Whether cell `pc` runs a TURN server: a WebRTC cell with `turn` set.
pub(crate) fn wanted(pc: &PlannedCell) -> bool {
    uses_ice(&pc.transport) && pc.spec.params().turn != TurnPlace::None
}

/// The directory a TURN cell's certificate, coturn configuration, database and logs live in;
/// removed when dropped.
pub(crate) fn turn_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("wirebench-turn-")
        .tempdir()
        .context("making coturn's directory")
}

/// Starts the cell's coturn on its host when the cell wants one (`dir` is then its directory).
pub(crate) async fn start(
    pc: &PlannedCell,
    topo: Option<&Topology>,
    dir: Option<&tempfile::TempDir>,
    stage: &super::clients::CellStage,
) -> anyhow::Result<Option<Coturn>> {
    let (Some(dir), Some(host)) = (dir, super::plan::turn_host(&pc.spec)) else {
        return Ok(None);
    };
    let topo =
        topo.context("a TURN server runs on a host of the cell's topology, and it has none")?;
    stage.set(format!("starting coturn on {host}"));
    Coturn::start(topo, host, dir.path()).await.map(Some)
}

/// How far a path is from direct, for ties: relayed, then server-reflexive, peer-reflexive,
/// host.
fn relayedness(path: &str) -> u8 {
    match path.split('/').next().unwrap_or_default() {
        "relay" => 3,
        "srflx" => 2,
        "prflx" => 1,
        _ => 0,
    }
}

/// What ICE and the TURN server add to a cell that ran: the path the clients' selected
/// candidate pairs took (`params.ice_path`; when connections differ, every path with its count
/// in `params.ice_paths` and the most common as `ice_path`, the more relayed one on a tie, so
/// a relay pair whose two ends see different local types counts as relayed) and coturn's CPU
/// seconds (`params.turn_cpu_s`).
pub(crate) fn record(
    cell: &mut wirebench_reports::model::Cell,
    ice_paths: &std::collections::BTreeMap<String, u64>,
    turn_cpu_s: Option<f64>,
) {
    if let Some((path, _)) = ice_paths.iter().max_by_key(|(p, n)| (**n, relayedness(p))) {
        cell.params.insert("ice_path".into(), path.clone().into());
        if ice_paths.len() > 1 {
            let counts: serde_json::Map<String, serde_json::Value> = ice_paths
                .iter()
                .map(|(k, v)| (k.clone(), (*v).into()))
                .collect();
            cell.params.insert("ice_paths".into(), counts.into());
        }
    }
    if let Some(cpu) = turn_cpu_s {
        let ms = (cpu * 1000.0).round() / 1000.0;
        cell.params.insert("turn_cpu_s".into(), ms.into());
    }
}

/// A running coturn. Dropping it stops it.
#[derive(Debug)]
pub(crate) struct Coturn {
    daemon: Daemon,
    /// Where clients reach it (port [`PORT`]).
    pub ip: IpAddr,
    user: String,
    password: String,
    /// Its CPU seconds when it was ready.
    cpu_at_start: Option<f64>,
}

/// `n` random bytes as hex, from the kernel.
fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for coturn's credential")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// coturn's configuration: listening and relaying on `ip` only, the long-term credential, the
/// run's certificate from `dir`, peers in the topology's and the NAT LANs' ranges allowed.
pub fn coturn_conf(ip: IpAddr, user: &str, password: &str, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "# wirebench: one cell's TURN server\n\
         listening-ip={ip}\nrelay-ip={ip}\n\
         listening-port={PORT}\ntls-listening-port={TLS_PORT}\n\
         min-port={}\nmax-port={}\n\
         lt-cred-mech\nrealm={REALM}\nuser={user}:{password}\nfingerprint\n\
         cert={d}/cert.pem\npkey={d}/key.pem\nno-dtls\n\
         no-cli\nno-software-attribute\nno-rfc5780\n\
         # The topology's addresses (10.77/16) are the public side: peers allowed whatever\n\
         # coturn's defaults. The NAT LANs (172.16/12) are private, unreachable from here as\n\
         # from a deployed TURN server: denied, so clients get 403 at once.\n\
         allowed-peer-ip=10.77.0.0-10.77.255.255\n\
         denied-peer-ip=172.16.0.0-172.31.255.255\n\
         userdb={d}/turndb\npidfile={d}/turnserver.pid\n\
         log-file={d}/turnserver.log\nsimple-log\nverbose\n",
        RELAY_PORTS.0, RELAY_PORTS.1
    )
}

/// A STUN Binding request (RFC 5389: type 0x0001, no attributes, the magic cookie).
fn binding_request() -> [u8; 20] {
    let mut m = [0u8; 20];
    m[1] = 0x01;
    m[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
    m[8..20].copy_from_slice(b"wirebenchTRN");
    m
}

/// Whether coturn answers a STUN Binding on UDP and accepts TCP on both its ports, probed on
/// `host`'s network.
fn serving(topo: Option<&Topology>, host: HostId, ip: IpAddr) -> bool {
    let probe = move || -> bool {
        let udp = || -> std::io::Result<bool> {
            let s = UdpSocket::bind(SocketAddr::new(ip, 0))?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            s.send_to(&binding_request(), SocketAddr::new(ip, PORT))?;
            let mut buf = [0u8; 256];
            let n = s.recv(&mut buf)?;
            // A Binding success response (0x0101) carrying our transaction id.
            Ok(n >= 20 && buf[0..2] == [0x01, 0x01] && buf[8..20] == binding_request()[8..20])
        };
        let tcp = |port| {
            TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_millis(200))
                .is_ok()
        };
        udp().unwrap_or(false) && tcp(PORT) && tcp(TLS_PORT)
    };
    match topo {
        Some(t) => t.run_in(host, probe).unwrap_or(false),
        None => probe(),
    }
}

impl Coturn {
    /// Starts coturn on `host` of `topo` with its files in `dir` (which holds the run's
    /// certificate as `cert.pem`/`key.pem`), and waits until it serves.
    pub async fn start(topo: &Topology, host: HostId, dir: &Path) -> anyhow::Result<Self> {
        let exe =
            find().ok_or_else(|| anyhow!("coturn is not installed (apt-get install coturn)"))?;
        let ip = topo.host(host)?.addr;
        let (user, password) = (format!("wb{}", random_hex(6)?), random_hex(16)?);
        let conf = dir.join("turnserver.conf");
        std::fs::write(&conf, coturn_conf(ip, &user, &password, dir))
            .with_context(|| format!("writing {}", conf.display()))?;
        let mut cmd = daemon::command(Some(topo), host, &exe)?;
        cmd.arg("-c").arg(&conf);
        let mut daemon = Daemon::spawn(cmd, &dir.join("stderr.log"))?;
        let d = dir.to_path_buf();
        let tail = move || daemon::log_tail(&d, &["stderr.log", "turnserver.log"], 6);
        let what = format!("serving on {ip}:{PORT} (UDP, TCP) and {TLS_PORT} (TLS)");
        daemon
            .wait_ready(START_TIMEOUT, || serving(Some(topo), host, ip), &what, tail)
            .await
            .with_context(|| format!("coturn on {host}"))?;
        let cpu_at_start = daemon.pid().and_then(cpu_of);
        Ok(Self {
            daemon,
            ip,
            user,
            password,
            cpu_at_start,
        })
    }

    /// The ICE configuration of the cell's WebRTC clients: coturn as STUN server and as TURN
    /// server over the cell's `turn_transport`, with the credential; `ice = "relay"` as the
    /// relay-only policy.
    pub fn ice_config(&self, p: &Params) -> IceConfig {
        let ip = self.ip;
        let turn = match p.turn_transport {
            TurnTransport::Udp => format!("turn:{ip}:{PORT}?transport=udp"),
            TurnTransport::Tcp => format!("turn:{ip}:{PORT}?transport=tcp"),
            TurnTransport::Tls => format!("turns:{ip}:{TLS_PORT}?transport=tcp"),
        };
        IceConfig {
            servers: vec![
                IceServer {
                    urls: vec![format!("stun:{ip}:{PORT}")],
                    ..IceServer::default()
                },
                IceServer {
                    urls: vec![turn],
                    username: self.user.clone(),
                    credential: self.password.clone(),
                },
            ],
            relay_only: p.ice == IcePolicy::Relay,
        }
    }

    /// CPU seconds coturn has used since it was ready.
    pub fn cpu_s(&self) -> Option<f64> {
        let now = cpu_of(self.daemon.pid()?)?;
        Some((now - self.cpu_at_start?).max(0.0))
    }
}

fn cpu_of(pid: u32) -> Option<f64> {
    crate::agent::procstat::cpu_seconds_of(&pid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::plan::{plan, resolve, RunFacts};
    use wirebench_netem::{BackendChoice, BackendKind, Nat, ProfileSet};

    fn skip(c: &PlannedCell, coturn: fn() -> bool) -> Option<String> {
        let browser = c.client == crate::runner::scenario::ClientKind::Browser;
        let imp = c.implementation.as_deref();
        crate::workload::network::skip_reason(&c.transport, imp, browser, &c.spec, coturn)
    }

    fn cells(text: &str) -> Vec<PlannedCell> {
        let set = ProfileSet::parse(crate::runner::scenario::DEFAULT_PROFILES, "profiles.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = set.profiles.keys().cloned().collect();
        let s = crate::runner::scenario::parse(text, "t.toml", &names)
            .unwrap_or_else(|e| panic!("{e}"));
        plan(&[s], None)
    }

    fn facts<'a>(
        profiles: &'a ProfileSet,
        netem: &'a Result<BackendChoice, String>,
        coturn: fn() -> bool,
    ) -> RunFacts<'a> {
        RunFacts {
            profiles,
            netem,
            plaintext: false,
            chromium: || true,
            nginx: || true,
            coturn,
        }
    }

    /// A relay cell behind symmetric NATs with TURN near the peers gets both peers' hosts
    /// behind NATs and a third host, without one, on `turn_delay_ms`; coturn runs there.
    #[test]
    fn nat_and_turn_shape_the_topology() {
        let set = ProfileSet::parse(crate::runner::scenario::DEFAULT_PROFILES, "profiles.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let netem = Ok(BackendChoice {
            kind: BackendKind::Userspace,
            reason: "test".into(),
        });
        let text = "[[workload]]\nkind = \"relay\"\ntransports = [\"webrtc\", \"websocket\"]\n\
                    nat = \"symmetric\"\nturn = \"near-peers\"\nturn_delay_ms = 2.0\n";
        let all = cells(text);
        let rs = all
            .iter()
            .find(|c| c.implementation.as_deref() == Some("webrtc-rs"))
            .unwrap_or_else(|| panic!("no webrtc-rs cell"));
        assert!(wanted(rs));
        let r = resolve(rs, &facts(&set, &netem, || true)).unwrap_or_else(|e| panic!("{e:?}"));
        let (_, spec) = r
            .topology
            .unwrap_or_else(|| panic!("a NAT needs a topology"));
        assert_eq!(spec.clients.len(), 3);
        assert_eq!(spec.clients[2].delay_ms, 2.0);
        assert_eq!(spec.nat_of(HostId::client(1)), Nat::Symmetric);
        assert_eq!(spec.nat_of(HostId::client(2)), Nat::Symmetric);
        assert_eq!(spec.nat_of(HostId::client(3)), Nat::None);
        assert_eq!(
            crate::runner::plan::turn_host(&rs.spec),
            Some(HostId::client(3))
        );

        // str0m cannot cross the NATs; WebSocket runs without coturn; no coturn, no TURN cell.
        let str0m = all
            .iter()
            .find(|c| c.implementation.as_deref() == Some("str0m"))
            .unwrap_or_else(|| panic!("no str0m cell"));
        let e = resolve(str0m, &facts(&set, &netem, || true)).unwrap_err();
        assert!(e.reason.contains("str0m does no STUN or TURN"), "{e:?}");
        let ws = all.iter().find(|c| c.transport == "websocket");
        assert!(ws.is_some_and(|c| !wanted(c) && skip(c, || false).is_none()));
        let e = resolve(rs, &facts(&set, &netem, || false)).unwrap_err();
        assert!(e.reason.contains("apt-get install coturn"), "{e:?}");
    }

    /// webrtc-rs has no TURN over TCP or TLS, str0m no relayed candidates: said at plan time.
    #[test]
    fn stacks_that_cannot_are_skipped_with_the_reason() {
        let tcp = cells(
            "[[workload]]\nkind = \"connect\"\ntransports = [\"webrtc\"]\nturn = \"server\"\n\
             turn_transport = \"tcp\"\nice = \"relay\"\n",
        );
        for c in &tcp {
            let why = skip(c, || true).unwrap_or_default();
            match c.implementation.as_deref() {
                Some("webrtc-rs") => assert!(why.contains("TURN over UDP only"), "{why}"),
                _ => assert!(why.contains("no relayed candidate"), "{why}"),
            }
        }
    }

    /// The configuration listens and relays on the host's address only, with the credential,
    /// the run's certificate and the private peer ranges allowed, and logs into its directory.
    #[test]
    fn config_names_address_credential_certificate_and_peers() {
        let conf = coturn_conf(
            "10.77.0.1"
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            "u1",
            "p1",
            Path::new("/tmp/x"),
        );
        for line in [
            "listening-ip=10.77.0.1",
            "relay-ip=10.77.0.1",
            "user=u1:p1",
            "lt-cred-mech",
            "cert=/tmp/x/cert.pem",
            "allowed-peer-ip=10.77.0.0-10.77.255.255",
            "denied-peer-ip=172.16.0.0-172.31.255.255",
            "log-file=/tmp/x/turnserver.log",
            "userdb=/tmp/x/turndb",
            "no-cli",
        ] {
            assert!(conf.lines().any(|l| l == line), "{line} missing:\n{conf}");
        }
    }
}
