//! Reverse proxies in front of the server (scenario key `proxy`): which variants exist, the
//! nginx configuration each variant runs with (generated here from one template so that
//! `docs/proxy.md` can show users exactly what was measured), and a real nginx (Debian's
//! `nginx`) started with it on the server's host, its files in a temporary directory of its
//! own, and stopped (its whole process group) when the cell ends, fails or is interrupted.
//!
//! The proxy terminates TLS with the run's certificate and forwards plain HTTP/1.x to the
//! server agent on the same host, as deployments put nginx in front of an application server.
//! Which transports go through it is the harness's business (`wirebench::proxy`).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::daemon::{self, Daemon};
use crate::error::{IoContext as _, NetemError};
use crate::link::HostId;
use crate::topology::Topology;

/// A reverse-proxy variant in front of the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyKind {
    /// No proxy: clients talk to the server agent directly (the default).
    #[default]
    None,
    /// nginx with nothing but `proxy_pass`: HTTP/1.0 upstream, buffering on, no WebSocket
    /// upgrade headers (so WebSocket cannot work through it).
    NginxBare,
    /// What a user gets by following nginx's own guides: a plain `proxy_pass` (HTTP/1.0
    /// upstream, `proxy_buffering on`, 60 s read timeout) plus nginx's WebSocket recipe on the
    /// WebSocket path (HTTP/1.1 and the `Upgrade`/`Connection` headers).
    NginxDefault,
    /// nginx set up for streaming: buffering off (both ways), HTTP/1.1 to an upstream with
    /// keep-alive connections, upgrade headers, hour-long read/send timeouts.
    NginxStreaming,
}

impl ProxyKind {
    /// Every variant, `none` first.
    pub const ALL: [ProxyKind; 4] = [
        Self::None,
        Self::NginxBare,
        Self::NginxDefault,
        Self::NginxStreaming,
    ];

    /// Parses a scenario's `proxy` value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The scenario's (and the results') spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::NginxBare => "nginx-bare",
            Self::NginxDefault => "nginx-default",
            Self::NginxStreaming => "nginx-streaming",
        }
    }

    /// Whether this is no proxy at all.
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }

    /// The valid values, quoted, for error messages and `wirebench list`.
    pub fn choices() -> String {
        Self::ALL
            .iter()
            .map(|k| format!("{:?}", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where an nginx instance listens, what it forwards to and where its files live.
#[derive(Debug, Clone, Copy)]
pub struct NginxSite<'a> {
    /// Its directory: configuration, pid file, error log, temp paths, certificate and key
    /// (`cert.pem`, `key.pem`).
    pub dir: &'a Path,
    /// Address it listens on.
    pub listen: SocketAddr,
    /// The server agent's plain-HTTP address it forwards to.
    pub upstream: SocketAddr,
    /// Terminate TLS (with `cert.pem`/`key.pem`); off for `--plaintext` runs.
    pub tls: bool,
    /// Offer HTTP/2 to clients (ALPN `h2`; TLS only). The upstream stays HTTP/1.x.
    pub http2: bool,
    /// The unprivileged user and group its workers run as, when started as root.
    pub user: Option<(&'a str, &'a str)>,
}

/// The `location` blocks of a variant (`upstream` = where `proxy_pass` points).
fn locations(kind: ProxyKind, upstream: &str) -> String {
    match kind {
        ProxyKind::None => String::new(),
        ProxyKind::NginxBare => format!(
            "        # A bare proxy_pass: nginx's defaults for everything else.\n\
             \x20       location / {{\n\
             \x20           proxy_pass http://{upstream};\n\
             \x20       }}\n"
        ),
        ProxyKind::NginxDefault => format!(
            "        # A plain proxy_pass, nginx's defaults: HTTP/1.0 upstream, proxy_buffering on,\n\
             \x20       # proxy_read_timeout 60s.\n\
             \x20       location / {{\n\
             \x20           proxy_pass http://{upstream};\n\
             \x20       }}\n\
             \x20       # nginx's WebSocket recipe (nginx.org/en/docs/http/websocket.html) on the\n\
             \x20       # WebSocket path: without it WebSocket cannot work through nginx at all.\n\
             \x20       location = /ws {{\n\
             \x20           proxy_pass http://{upstream};\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Upgrade $http_upgrade;\n\
             \x20           proxy_set_header Connection \"upgrade\";\n\
             \x20       }}\n"
        ),
        ProxyKind::NginxStreaming => "        # Streaming: events and messages pass at once, connections stay open.\n\
             \x20       location / {\n\
             \x20           proxy_pass http://wirebench;\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Upgrade $http_upgrade;\n\
             \x20           proxy_set_header Connection $connection_upgrade;\n\
             \x20           proxy_buffering off;\n\
             \x20           proxy_request_buffering off;\n\
             \x20           proxy_cache off;\n\
             \x20           proxy_read_timeout 1h;\n\
             \x20           proxy_send_timeout 1h;\n\
             \x20           client_max_body_size 0;\n\
             \x20       }\n"
            .to_string(),
    }
}

/// The complete `nginx.conf` of variant `kind` for `site`: a foreground master with one worker,
/// every file under `site.dir`, access log off.
pub fn nginx_conf(kind: ProxyKind, site: &NginxSite<'_>) -> String {
    let dir = site.dir.display();
    let mut c = format!("# Generated by wirebench: proxy = {:?}.\n", kind.as_str());
    if let Some((user, group)) = site.user {
        let _ = writeln!(c, "user {user} {group};");
    }
    let _ = write!(
        c,
        "daemon off;\n\
         worker_processes 1;\n\
         worker_rlimit_nofile 300000;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         events {{\n\
         \x20   worker_connections 140000;\n\
         }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {dir}/tmp/client_body;\n\
         \x20   proxy_temp_path {dir}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {dir}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {dir}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {dir}/tmp/scgi;\n"
    );
    let upstream = if kind == ProxyKind::NginxStreaming {
        let _ = write!(
            c,
            "    map $http_upgrade $connection_upgrade {{\n\
             \x20       default upgrade;\n\
             \x20       '' '';\n\
             \x20   }}\n\
             \x20   upstream wirebench {{\n\
             \x20       server {};\n\
             \x20       keepalive 64;\n\
             \x20   }}\n",
            site.upstream
        );
        "wirebench".to_string()
    } else {
        site.upstream.to_string()
    };
    let tls = if site.tls { " ssl" } else { "" };
    let h2 = if site.tls && site.http2 { " http2" } else { "" };
    let _ = write!(
        c,
        "    server {{\n        listen {}{tls}{h2};\n",
        site.listen
    );
    if site.tls {
        let _ = write!(
            c,
            "        ssl_certificate {dir}/cert.pem;\n        ssl_certificate_key {dir}/key.pem;\n\
             \x20       ssl_protocols TLSv1.2 TLSv1.3;\n"
        );
    }
    c.push_str(&locations(kind, &upstream));
    c.push_str("    }\n}\n");
    c
}

/// How long nginx may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried when the one picked is taken by the time nginx binds it.
const PORT_TRIES: usize = 4;

/// Where nginx is installed, if it is: `$PATH`, then the sbin directories a non-root `$PATH`
/// may lack.
pub fn find() -> Option<PathBuf> {
    daemon::find_program("nginx")
}

/// Whether nginx is installed (the planner skips proxied cells when it is not).
pub fn available() -> bool {
    find().is_some()
}

/// The directory a proxied cell's certificate, nginx configuration and logs live in; removed
/// when dropped.
pub fn site_dir() -> Result<tempfile::TempDir, NetemError> {
    let dir = tempfile::Builder::new()
        .prefix("wirebench-nginx-")
        .tempdir()
        .ctx(|| "making nginx's directory".into())?;
    // nginx's workers run as an unprivileged user and create files under tmp/: they must be
    // able to reach it (the key file itself stays 0600, read by the master only).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .ctx(|| "opening nginx's directory to its workers".into())?;
    std::fs::create_dir(dir.path().join("tmp")).ctx(|| "making nginx's tmp directory".into())?;
    Ok(dir)
}

/// A running nginx. Dropping it stops it.
pub struct Nginx {
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
fn free_port(topo: Option<&Topology>, ip: IpAddr) -> Result<u16, NetemError> {
    let bind = move || -> std::io::Result<u16> {
        Ok(TcpListener::bind(SocketAddr::new(ip, 0))?
            .local_addr()?
            .port())
    };
    daemon::run_on(topo, HostId::SERVER, bind)?.ctx(|| "finding a free port for nginx".into())
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
    daemon::run_on(topo, HostId::SERVER, probe).unwrap_or(false)
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
    ) -> Result<Self, NetemError> {
        let exe = find().ok_or_else(|| {
            NetemError::daemon("nginx", "is not installed (apt-get install nginx)")
        })?;
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
                .ctx(|| format!("writing {}", conf.display()))?;
            let mut nginx = Self {
                daemon: spawn(topo, &exe, &conf, dir)?,
                dir: dir.to_path_buf(),
                addr: listen,
            };
            match nginx.wait_listening(topo).await {
                Ok(()) => return Ok(nginx),
                Err(e) => {
                    last = e.to_string();
                    if !last.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        let name = format!("nginx ({})", kind.as_str());
        Err(NetemError::daemon(name, format!("did not start: {last}")))
    }

    /// Waits until nginx accepts connections, or says why it ended.
    async fn wait_listening(&mut self, topo: Option<&Topology>) -> Result<(), NetemError> {
        let (addr, dir) = (self.addr, self.dir.clone());
        let tail = move || daemon::log_tail(&dir, &["stderr.log", "error.log"], 5);
        let what = format!("listening on {addr}");
        self.daemon
            .wait_ready(
                "nginx",
                START_TIMEOUT,
                || listening(topo, addr),
                &what,
                tail,
            )
            .await
    }
}

/// Spawns nginx's master in the foreground, in its own process group, in the server host's
/// namespace; it gets SIGTERM (a clean stop of master and workers) if wirebench dies.
fn spawn(
    topo: Option<&Topology>,
    exe: &Path,
    conf: &Path,
    dir: &Path,
) -> Result<Daemon, NetemError> {
    let mut cmd = daemon::command(topo, HostId::SERVER, exe)?;
    cmd.arg("-c")
        .arg(conf)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"));
    Daemon::spawn(cmd, &dir.join("stderr.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(dir: &Path, tls: bool, http2: bool) -> NginxSite<'_> {
        NginxSite {
            dir,
            listen: "10.77.0.1:8443".parse().unwrap_or_else(|e| panic!("{e}")),
            upstream: "10.77.0.1:4433".parse().unwrap_or_else(|e| panic!("{e}")),
            tls,
            http2,
            user: None,
        }
    }

    #[test]
    fn names_round_trip() {
        for k in ProxyKind::ALL {
            assert_eq!(ProxyKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProxyKind::parse("nginx"), None);
        assert!(ProxyKind::choices().contains("\"nginx-streaming\""));
    }

    #[test]
    fn default_buffers_and_streaming_does_not() {
        let dir = Path::new("/tmp/x");
        let d = nginx_conf(ProxyKind::NginxDefault, &site(dir, true, false));
        assert!(!d.contains("proxy_buffering off"), "{d}");
        assert!(d.contains("location = /ws"), "{d}");
        assert!(d.contains("proxy_pass http://10.77.0.1:4433;"), "{d}");
        assert!(d.contains("listen 10.77.0.1:8443 ssl;"), "{d}");
        let s = nginx_conf(ProxyKind::NginxStreaming, &site(dir, true, true));
        assert!(s.contains("proxy_buffering off;"), "{s}");
        assert!(s.contains("keepalive 64;"), "{s}");
        assert!(s.contains("server 10.77.0.1:4433;"), "{s}");
        assert!(s.contains("listen 10.77.0.1:8443 ssl http2;"), "{s}");
        let b = nginx_conf(ProxyKind::NginxBare, &site(dir, false, true));
        assert!(!b.contains("Upgrade"), "{b}");
        assert!(!b.contains("ssl"), "{b}");
        assert!(b.contains("listen 10.77.0.1:8443;"), "{b}");
    }

    /// docs/proxy.md shows each variant's configuration as wirebench generates it (for a
    /// server at 10.77.0.1:4433, nginx on 10.77.0.1:8443, started as root), so users can copy
    /// the one that works.
    #[test]
    fn docs_show_the_generated_configs() {
        let docs = include_str!("../../docs/proxy.md");
        let dir = Path::new("/tmp/wirebench-nginx-XXXXXX");
        let mut missing = String::new();
        for kind in [
            ProxyKind::NginxBare,
            ProxyKind::NginxDefault,
            ProxyKind::NginxStreaming,
        ] {
            let mut site = site(dir, true, false);
            site.user = Some(("nobody", "nogroup"));
            let conf = nginx_conf(kind, &site);
            if !docs.contains(&conf) {
                let _ = write!(missing, "\n=== {} ===\n{conf}", kind.as_str());
            }
        }
        assert!(
            missing.is_empty(),
            "docs/proxy.md lacks these configurations as generated:{missing}"
        );
    }
}
