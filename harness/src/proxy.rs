//! Reverse proxies in front of the server (scenario key `proxy`): which variants exist, which
//! transports go through one, and the nginx configuration each variant runs with, generated
//! here from one template so that `docs/proxy.md` can show users exactly what was measured.
//!
//! The proxy terminates TLS with the run's certificate and forwards plain HTTP/1.x to the
//! server agent on the same host, as deployments put nginx in front of an application server.
//! Only the HTTP transports (WebSocket, SSE, long-poll, poll) can go through it; WebTransport
//! (QUIC on UDP), WebRTC (its media path is UDP; only signalling is HTTP) and raw `tcp` bypass
//! it, and their cells say so (`params.proxy_bypassed`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

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

/// Whether `transport`'s traffic can go through an HTTP reverse proxy: the HTTP transports.
/// WebTransport (QUIC), WebRTC (UDP media path) and raw `tcp` bypass it.
pub fn goes_through(transport: &str) -> bool {
    matches!(transport, "websocket" | "sse" | "long-poll" | "poll")
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

    #[test]
    fn only_http_transports_go_through() {
        assert!(goes_through("sse") && goes_through("websocket"));
        assert!(!goes_through("webtransport") && !goes_through("webrtc") && !goes_through("tcp"));
    }
}
