//! A real nginx (Debian's `nginx`) in front of a cell's server agent, for cells with a `proxy`:
//! started on the server's host with a configuration generated per variant
//! ([`crate::proxy::nginx_conf`]), its files in a temporary directory of its own, and stopped
//! (its whole process group) when the cell ends, fails or is interrupted.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use wirebench_netem::{HostId, Topology};

use super::daemon::{self, Daemon};
use crate::proxy::{nginx_conf, NginxSite, ProxyKind};

/// How long nginx may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried when the one picked is taken by the time nginx binds it.
const PORT_TRIES: usize = 4;

/// Where nginx is installed, if it is: `$PATH`, then the sbin directories a non-root `$PATH`
/// may lack.
pub(crate) fn find() -> Option<PathBuf> {
    super::daemon::find_program("nginx")
}

/// Whether nginx is installed (the planner skips proxied cells when it is not).
pub(crate) fn available() -> bool {
    find().is_some()
}

/// The directory a proxied cell's certificate, nginx configuration and logs live in; removed
/// when dropped.
pub(crate) fn site_dir() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("wirebench-nginx-")
        .tempdir()
        .context("making nginx's directory")?;
    // nginx's workers run as an unprivileged user and create files under tmp/: they must be
    // able to reach it (the key file itself stays 0600, read by the master only).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .context("opening nginx's directory to its workers")?;
    std::fs::create_dir(dir.path().join("tmp")).context("making nginx's tmp directory")?;
    Ok(dir)
}

/// A running nginx. Dropping it stops it.
pub(crate) struct Nginx {
    daemon: Daemon,
    dir: PathBuf,
    /// Where clients reach it.
    pub addr: SocketAddr,
}

impl std::fmt::Debug for Nginx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nginx").field("addr", &self.addr).finish()
    }
}

/// The unprivileged user and group nginx's workers run as when it is started as root.
fn worker_user() -> Option<(&'static str, &'static str)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let has = |g: &str| groups.lines().any(|l| l.split(':').next() == Some(g));
    Some(("nobody", if has("nogroup") { "nogroup" } else { "nobody" }))
}

/// A free TCP port on `ip`, in the server host's namespace.
fn free_port(topo: Option<&Topology>, ip: IpAddr) -> anyhow::Result<u16> {
    let bind = move || -> std::io::Result<u16> {
        Ok(TcpListener::bind(SocketAddr::new(ip, 0))?
            .local_addr()?
            .port())
    };
    let port = match topo {
        Some(t) => t.run_in(HostId::SERVER, bind)?,
        None => bind(),
    };
    port.context("finding a free port for nginx")
}

/// Whether nginx answers on `addr` (in the server host's namespace): a worker, not only the
/// master's listening socket, so the cell's first connection does not wait for the worker to
/// start. A plain-HTTP request gets an answer on a TLS port too (nginx's 400 "plain HTTP
/// request was sent to HTTPS port").
fn listening(topo: Option<&Topology>, addr: SocketAddr) -> bool {
    let probe = move || -> bool {
        let answered = || -> std::io::Result<bool> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(b"GET /wirebench-probe HTTP/1.0\r\n\r\n")?;
            Ok(s.read(&mut [0u8; 64])? > 0)
        };
        answered().unwrap_or(false)
    };
    match topo {
        Some(t) => t.run_in(HostId::SERVER, probe).unwrap_or(false),
        None => probe(),
    }
}

impl Nginx {
    /// Starts nginx variant `kind` on the server's host in front of the server agent at
    /// `upstream` (plain HTTP), with its files in `dir` (which holds the certificate as
    /// `cert.pem`/`key.pem` when `tls`), and waits until it listens.
    pub async fn start(
        topo: Option<&Topology>,
        kind: ProxyKind,
        upstream: SocketAddr,
        dir: &Path,
        tls: bool,
        http2: bool,
    ) -> anyhow::Result<Self> {
        let exe =
            find().ok_or_else(|| anyhow!("nginx is not installed (apt-get install nginx)"))?;
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let listen = SocketAddr::new(upstream.ip(), free_port(topo, upstream.ip())?);
            let site = NginxSite {
                dir,
                listen,
                upstream,
                tls,
                http2,
                user: worker_user(),
            };
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, nginx_conf(kind, &site))
                .with_context(|| format!("writing {}", conf.display()))?;
            let mut nginx = Self {
                daemon: spawn(topo, &exe, &conf, dir)?,
                dir: dir.to_path_buf(),
                addr: listen,
            };
            match nginx.wait_listening(topo).await {
                Ok(()) => return Ok(nginx),
                Err(e) => {
                    last = format!("{e:#}");
                    if !last.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        bail!("nginx ({}) did not start: {last}", kind.as_str())
    }

    /// Waits until nginx accepts connections, or says why it ended.
    async fn wait_listening(&mut self, topo: Option<&Topology>) -> anyhow::Result<()> {
        let (addr, dir) = (self.addr, self.dir.clone());
        let tail = move || daemon::log_tail(&dir, &["stderr.log", "error.log"], 5);
        let what = format!("listening on {addr}");
        self.daemon
            .wait_ready(START_TIMEOUT, || listening(topo, addr), &what, tail)
            .await
    }
}

/// Spawns nginx's master in the foreground, in its own process group, in the server host's
/// namespace; it gets SIGTERM (a clean stop of master and workers) if wirebench dies.
fn spawn(topo: Option<&Topology>, exe: &Path, conf: &Path, dir: &Path) -> anyhow::Result<Daemon> {
    let mut cmd = daemon::command(topo, HostId::SERVER, exe)?;
    cmd.arg("-c")
        .arg(conf)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"));
    Daemon::spawn(cmd, &dir.join("stderr.log"))
}
