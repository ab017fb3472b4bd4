//! The server side of a cell: the server agent started on the server's host, and the
//! [`ServerControl`] the workloads' steps drive it through (commands, marks, the client link).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context as _};
use wirebench_netem::{HostId, Topology};

use super::agent::AgentProcess;
use crate::agent::control::{ServerCommand, ServerEvent};
use crate::clock::now_ns;
use crate::workload::orchestrate::{Mark, ServerControl, ServerReport};

/// What the server agent says once it listens.
#[derive(Debug, Clone)]
pub(crate) struct Ready {
    /// Its HTTP(S) address (port P).
    pub addr: String,
    /// SHA-256 of its certificate (DER, hex), for the Rust clients to pin.
    pub cert_sha256: String,
    /// SHA-256 of its certificate's SPKI (base64), for Chromium.
    pub spki_sha256: Option<String>,
    /// Its open-file limit.
    pub nofile_limit: Option<u64>,
}

/// How to start a server agent.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// Plain HTTP instead of HTTPS.
    pub plaintext: bool,
    /// Offer HTTP/2.
    pub http2: bool,
    /// Hidden echo-reply delay, µs (0 = none).
    pub inject_delay_us: u64,
    /// CPU to pin it to.
    pub cpu: Option<usize>,
    /// Where it writes its certificate and key as PEM, for a proxy in front.
    pub cert_dir: Option<std::path::PathBuf>,
}

/// A running server agent, and the topology its cell runs on.
pub(crate) struct ServerAgent<'t> {
    agent: AgentProcess,
    topo: Option<&'t Topology>,
}

impl<'t> ServerAgent<'t> {
    /// Starts `exe serve --control` on the server's host and waits until it listens.
    pub async fn start(
        exe: &Path,
        topo: Option<&'t Topology>,
        s: ServerSettings,
    ) -> anyhow::Result<(Self, Ready)> {
        let delay = s.inject_delay_us.to_string();
        let (cmd, bind) = match topo {
            Some(t) => (
                t.command(HostId::SERVER, exe)?,
                SocketAddr::new(t.server().addr, 0).to_string(),
            ),
            None => (std::process::Command::new(exe), "127.0.0.1:0".to_string()),
        };
        let mut args = vec!["serve", "--bind", &bind, "--control"];
        if s.plaintext {
            args.push("--plaintext");
        }
        if s.http2 {
            args.push("--http2");
        }
        if s.inject_delay_us > 0 {
            args.extend(["--inject-delay-us", &delay]);
        }
        let cert_dir = s.cert_dir.as_deref().map(Path::to_string_lossy);
        if let Some(dir) = &cert_dir {
            args.extend(["--cert-dir", dir]);
        }
        let mut agent = AgentProcess::spawn(cmd, &args, "server", s.cpu)?;
        let ready = match agent.recv::<ServerEvent>().await? {
            ServerEvent::Ready {
                addr,
                cert_sha256,
                spki_sha256,
                nofile_limit,
            } => Ready {
                addr,
                cert_sha256,
                spki_sha256,
                nofile_limit,
            },
            other => bail!("server agent: expected ready, got {other:?}"),
        };
        Ok((Self { agent, topo }, ready))
    }

    /// The server agent's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.agent.pid()
    }

    /// Asks for the server's statistics, then stops it.
    pub async fn stats_and_stop(mut self) -> anyhow::Result<ServerReport> {
        self.agent.send(&ServerCommand::Stats).await?;
        let report = loop {
            match self.agent.recv::<ServerEvent>().await? {
                ServerEvent::Stats(report) => break report,
                ServerEvent::Error { message } => bail!("server agent: {message}"),
                _ => continue,
            }
        };
        let _ = self.agent.send(&ServerCommand::Shutdown).await;
        self.agent.shutdown().await;
        Ok(report)
    }

    fn link(&self) -> anyhow::Result<&'t Topology> {
        self.topo.context("flap needs an emulated link to cut")
    }
}

impl ServerControl for ServerAgent<'_> {
    async fn send(&mut self, cmd: &ServerCommand) -> anyhow::Result<()> {
        self.agent.send(cmd).await
    }

    async fn done(&mut self) -> anyhow::Result<()> {
        loop {
            match self.agent.recv::<ServerEvent>().await? {
                ServerEvent::Done => return Ok(()),
                ServerEvent::Error { message } => bail!("server agent: {message}"),
                _ => continue,
            }
        }
    }

    async fn mark(&mut self) -> anyhow::Result<Mark> {
        self.agent.send(&ServerCommand::Probe).await?;
        loop {
            match self.agent.recv::<ServerEvent>().await? {
                ServerEvent::Probe {
                    rss_bytes,
                    cpu_s,
                    attached,
                } => {
                    return Ok(Mark {
                        at_ns: now_ns(),
                        rss_bytes,
                        cpu_s,
                        attached,
                        counters: self.topo.and_then(|t| t.counters(HostId::client(1)).ok()),
                    })
                }
                ServerEvent::Error { message } => bail!("server agent: {message}"),
                _ => continue,
            }
        }
    }

    fn cut_client_link(&self) -> anyhow::Result<()> {
        self.link()?
            .cut(HostId::client(1))
            .context("cutting the client's link")
    }

    fn restore_client_link(&self) -> anyhow::Result<()> {
        self.link()?
            .restore(HostId::client(1))
            .context("restoring the client's link")
    }
}
