//! `wirebench serve`: the server agent.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::control::{ServerCommand, ServerEvent, ServerReport};
use super::procstat;
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

use crate::server::hub::Hub;
use crate::server::{Server, ServerConfig};

/// How long a push or download waits for its clients' downstreams to open.
const ATTACH_WAIT: Duration = Duration::from_secs(10);

/// Options of `wirebench serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (port 0 = pick).
    pub bind: SocketAddr,
    /// Serve plain HTTP.
    pub plaintext: bool,
    /// Offer HTTP/2 too (ALPN `h2`; TLS only).
    pub http2: bool,
    /// Long-poll wait limit.
    pub poll_timeout: Duration,
    /// Timeouts and the request-body budget.
    pub limits: crate::server::limits::Limits,
    /// Take commands on stdin and report on stdout (JSON lines), as the orchestrator does.
    pub control: bool,
    /// Write the certificate and key as PEM into this directory (for a proxy in front).
    pub cert_dir: Option<std::path::PathBuf>,
    /// Delay every echo reply by this many µs (hidden test switch).
    pub inject_delay_us: u64,
}

/// Runs the server agent until shut down (stdin closed or `shutdown` in control mode; Ctrl-C
/// otherwise).
pub async fn run(opts: ServeOptions) -> anyhow::Result<()> {
    crate::clock::tighten_timer_slack();
    let nofile_limit = procstat::raise_nofile_limit();
    let server = Server::start(ServerConfig {
        bind: opts.bind,
        plaintext: opts.plaintext,
        http2: opts.http2,
        poll_timeout: opts.poll_timeout,
        limits: opts.limits,
    })
    .await?;
    server
        .hub
        .inject_delay_us
        .store(opts.inject_delay_us, Ordering::Relaxed);
    if let Some(dir) = &opts.cert_dir {
        server
            .identity
            .write_pem(dir)
            .with_context(|| format!("writing the certificate into {}", dir.display()))?;
    }
    if !opts.control {
        print_listening(&server);
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        return Ok(());
    }
    let mut out = tokio::io::stdout();
    let send = |ev: ServerEvent| {
        let mut line = serde_json::to_string(&ev).unwrap_or_default();
        line.push('\n');
        line
    };
    out.write_all(
        send(ServerEvent::Ready {
            addr: server.addr.to_string(),
            cert_sha256: server.identity.cert_sha256_hex(),
            spki_sha256: Some(server.identity.spki_sha256_b64.clone()),
            nofile_limit,
        })
        .as_bytes(),
    )
    .await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<ServerEvent>(8);
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line.context("reading control channel")? else { break };
                if line.trim().is_empty() { continue; }
                let cmd: ServerCommand = match serde_json::from_str(&line) {
                    Ok(c) => c,
                    Err(e) => {
                        out.write_all(send(ServerEvent::Error { message: format!("bad command {line:?}: {e}") }).as_bytes()).await?;
                        out.flush().await?;
                        continue;
                    }
                };
                if matches!(cmd, ServerCommand::Shutdown) {
                    break;
                }
                if let Some(ev) = handle(&server, cmd, &done_tx) {
                    out.write_all(send(ev).as_bytes()).await?;
                    out.flush().await?;
                }
            }
            Some(ev) = done_rx.recv() => {
                out.write_all(send(ev).as_bytes()).await?;
                out.flush().await?;
            }
        }
    }
    Ok(())
}

/// Tells a person where the server listens and which certificate to pin.
fn print_listening(server: &Server) {
    eprintln!(
        "wirebench serve: listening on {} (tcp transport on port {}), certificate sha256 {}",
        server.info.url,
        server.addr.port().wrapping_add(1),
        server.identity.cert_sha256_hex()
    );
    eprintln!(
        "  spki sha256 (for Chromium): {}",
        server.identity.spki_sha256_b64
    );
}

/// Carries out one command (all but `shutdown`); the event to answer at once, if any. Push,
/// download, relay and collab answer later, through `done_tx`.
fn handle(
    server: &Server,
    cmd: ServerCommand,
    done_tx: &tokio::sync::mpsc::Sender<ServerEvent>,
) -> Option<ServerEvent> {
    let hub = &server.hub;
    match cmd {
        ServerCommand::Push {
            clients,
            rate,
            size,
            count,
        } => spawn_push(hub.clone(), clients, rate, size, count, done_tx.clone()),
        ServerCommand::Download {
            clients,
            size,
            duration_ms,
        } => {
            let duration = Duration::from_millis(duration_ms);
            spawn_download(hub.clone(), clients, size, duration, done_tx.clone());
        }
        ServerCommand::Relay { pairs } => {
            hub.set_relay(&pairs);
            let receivers: Vec<u32> = pairs.iter().map(|&(_, b)| b).collect();
            spawn_when_attached(hub.clone(), receivers, "relay", done_tx.clone(), |_| {});
        }
        ServerCommand::Collab { clients } => {
            let record = |hub: &crate::server::hub::Hub| hub.record_order();
            spawn_when_attached(hub.clone(), clients, "collab", done_tx.clone(), record);
        }
        ServerCommand::UploadWarmup { warmup_ms } => {
            hub.upload_warmup_ns
                .store(warmup_ms * 1_000_000, Ordering::Relaxed);
        }
        ServerCommand::KeepAlive {
            ws_ping_ms,
            sse_heartbeat_ms,
            long_poll_hold_ms,
        } => {
            let k = &hub.keepalive;
            k.ws_ping_ms.store(ws_ping_ms, Ordering::Relaxed);
            k.sse_heartbeat_ms
                .store(sse_heartbeat_ms, Ordering::Relaxed);
            k.long_poll_hold_ms
                .store(long_poll_hold_ms, Ordering::Relaxed);
        }
        ServerCommand::Probe => {
            return Some(ServerEvent::Probe {
                rss_bytes: procstat::rss_bytes(),
                cpu_s: procstat::cpu_seconds(),
                attached: hub.attached_count(),
            })
        }
        ServerCommand::Stats => return Some(stats(server)),
        ServerCommand::Shutdown => {}
    }
    None
}

/// Pushes `count` frames to `clients` at `rate` once their downstreams are open; answers
/// `done`, or `error` naming the clients that never opened one.
fn spawn_push(
    hub: Arc<Hub>,
    clients: Vec<u32>,
    rate: f64,
    size: usize,
    count: u64,
    tx: Sender<ServerEvent>,
) {
    tokio::spawn(async move {
        let missing = hub.wait_attached(&clients, ATTACH_WAIT).await;
        if !missing.is_empty() {
            let message = format!("push: clients {missing:?} never opened a downstream");
            let _ = tx.send(ServerEvent::Error { message }).await;
            return;
        }
        let ev = match crate::workload::server_push(&hub, &clients, rate, size, count).await {
            Ok(()) => ServerEvent::Done,
            Err(e) => ServerEvent::Error {
                message: format!("push: {e}"),
            },
        };
        let _ = tx.send(ev).await;
    });
}

/// Sends data to `clients` for `duration` once their downstreams are open; answers `done`, or
/// `error` naming the clients that never opened one.
fn spawn_download(
    hub: Arc<Hub>,
    clients: Vec<u32>,
    size: usize,
    duration: Duration,
    tx: Sender<ServerEvent>,
) {
    tokio::spawn(async move {
        let missing = hub.wait_attached(&clients, ATTACH_WAIT).await;
        if !missing.is_empty() {
            let message = format!("download: clients {missing:?} never opened a downstream");
            let _ = tx.send(ServerEvent::Error { message }).await;
            return;
        }
        crate::workload::server_download(hub, clients, size, duration).await;
        let _ = tx.send(ServerEvent::Done).await;
    });
}

/// The server's statistics at the end of a cell.
fn stats(server: &Server) -> ServerEvent {
    let hub = &server.hub;
    let data = hub
        .client_ids()
        .into_iter()
        .map(|id| (id, hub.client(id).data_count()))
        .filter(|(_, d)| d.frames > 0)
        .collect();
    ServerEvent::Stats(ServerReport {
        cpu_s: procstat::cpu_seconds(),
        rss_peak_bytes: procstat::rss_peak_bytes(),
        data,
        errors: hub.errors.snapshot(),
        relayed: hub.relayed.load(Ordering::Relaxed),
        order: hub.broadcast_order(),
    })
}

/// Answers `done` once every one of `clients` has a downstream open (after running `then`), or
/// `error` naming those that have none after [`ATTACH_WAIT`].
fn spawn_when_attached(
    hub: std::sync::Arc<crate::server::hub::Hub>,
    clients: Vec<u32>,
    what: &'static str,
    tx: tokio::sync::mpsc::Sender<ServerEvent>,
    then: impl FnOnce(&crate::server::hub::Hub) + Send + 'static,
) {
    tokio::spawn(async move {
        let missing = hub.wait_attached(&clients, ATTACH_WAIT).await;
        let ev = if missing.is_empty() {
            then(&hub);
            ServerEvent::Done
        } else {
            ServerEvent::Error {
                message: format!("{what}: clients {missing:?} never opened a downstream"),
            }
        };
        let _ = tx.send(ev).await;
    });
}
