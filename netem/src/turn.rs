//! A real TURN server (Debian's `coturn`, `turnserver`) on a host of the topology: a
//! configuration and a fresh long-term credential of its own in a temporary directory,
//! listening on UDP and TCP 3478 and TLS 5349 (the run's certificate, `cert.pem`/`key.pem` in
//! that directory), and stopped with its process group when dropped (the cell ends, fails or
//! is interrupted); the directory goes with it. It is the STUN server too. Which cells want
//! one, and the ICE configuration their clients get, is the harness's business.

use std::io::Read as _;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::{self, Daemon};
use crate::error::{IoContext as _, NetemError};
use crate::link::HostId;
use crate::topology::Topology;

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
pub fn find() -> Option<PathBuf> {
    daemon::find_program("turnserver")
}

/// Whether coturn is installed (the planner skips TURN cells when it is not).
pub fn available() -> bool {
    find().is_some()
}

/// The directory a TURN cell's certificate, coturn configuration, database and logs live in;
/// removed when dropped.
pub fn turn_dir() -> Result<tempfile::TempDir, NetemError> {
    tempfile::Builder::new()
        .prefix("wirebench-turn-")
        .tempdir()
        .ctx(|| "making coturn's directory".into())
}

/// `n` random bytes as hex, from the kernel.
fn random_hex(n: usize) -> Result<String, NetemError> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ctx(|| "reading /dev/urandom for coturn's credential".into())?;
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
fn serving(topo: &Topology, host: HostId, ip: IpAddr) -> bool {
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
    topo.run_in(host, probe).unwrap_or(false)
}

/// A running coturn. Dropping it stops it.
#[derive(Debug)]
pub struct Coturn {
    daemon: Daemon,
    /// Where clients reach it (port [`PORT`], TLS on [`TLS_PORT`]).
    pub ip: IpAddr,
    user: String,
    password: String,
}

impl Coturn {
    /// Starts coturn on `host` of `topo` with its files in `dir` (which holds the run's
    /// certificate as `cert.pem`/`key.pem`), and waits until it serves.
    pub async fn start(topo: &Topology, host: HostId, dir: &Path) -> Result<Self, NetemError> {
        let exe = find().ok_or_else(|| {
            NetemError::daemon("coturn", "is not installed (apt-get install coturn)")
        })?;
        let ip = topo.host(host)?.addr;
        let (user, password) = (format!("wb{}", random_hex(6)?), random_hex(16)?);
        let conf = dir.join("turnserver.conf");
        std::fs::write(&conf, coturn_conf(ip, &user, &password, dir))
            .ctx(|| format!("writing {}", conf.display()))?;
        let mut cmd = daemon::command(Some(topo), host, &exe)?;
        cmd.arg("-c").arg(&conf);
        let mut daemon = Daemon::spawn(cmd, &dir.join("stderr.log"))?;
        let d = dir.to_path_buf();
        let tail = move || daemon::log_tail(&d, &["stderr.log", "turnserver.log"], 6);
        let what = format!("serving on {ip}:{PORT} (UDP, TCP) and {TLS_PORT} (TLS)");
        let name = format!("coturn on {host}");
        daemon
            .wait_ready(
                &name,
                START_TIMEOUT,
                || serving(topo, host, ip),
                &what,
                tail,
            )
            .await?;
        Ok(Self {
            daemon,
            ip,
            user,
            password,
        })
    }

    /// The long-term credential's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The long-term credential's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// coturn's pid while it runs (for its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
