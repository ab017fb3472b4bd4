//! The server agent's network side: one port P serving HTTPS (HTTP/1.1, and HTTP/2 through ALPN
//! when asked for) on TCP P, HTTP/3 (WebTransport) on UDP P and the raw `tcp` transport on
//! TCP P+1, all feeding one [`Hub`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub mod http;
pub mod hub;
pub mod info;
pub mod limits;
pub mod outq;
pub mod rtc;
pub mod webtransport;

use crate::frame::{Header, Kind, LengthPrefixed};
use crate::tls::Identity;
use hub::{Hub, Reply};
pub use info::ServerInfo;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free P such that P+1 is free too.
    pub bind: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    pub plaintext: bool,
    /// Long-poll wait limit.
    pub poll_timeout: Duration,
    /// Offer HTTP/2 as well (ALPN `h2` before `http/1.1`; TLS only). Off: HTTP/1.1 only.
    pub http2: bool,
    /// Timeouts and the request-body budget ([`limits::Limits::default`] for the defaults).
    pub limits: limits::Limits,
}

/// `SETTINGS_MAX_CONCURRENT_STREAMS` the server advertises on HTTP/2 connections: the RFC 9113
/// recommended minimum, so a browser may run up to 100 event streams and polls to one origin
/// at once (where HTTP/1.1 allows 6 connections).
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 100;

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The HTTP(S) address (port P).
    pub addr: SocketAddr,
    /// Shared state.
    pub hub: Arc<Hub>,
    /// What `/info` reports.
    pub info: ServerInfo,
    /// The TLS identity (always made: WebTransport needs it even with --plaintext).
    pub identity: Identity,
    /// UDP port P, bound and reserved for HTTP/3.
    pub udp: Option<std::net::UdpSocket>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What `/info` reports for a server on `addr` (raw tcp on `tcp_addr`).
fn server_info(
    plaintext: bool,
    addr: SocketAddr,
    tcp_addr: SocketAddr,
    identity: &Identity,
) -> ServerInfo {
    let scheme = if plaintext { "http" } else { "https" };
    ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        transports: crate::transport::ALL_IDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        url: format!("{scheme}://{addr}"),
        webtransport_url: format!("https://{addr}/wt"),
        tcp: tcp_addr.to_string(),
        cert_sha256: Some(identity.cert_sha256_hex()),
        spki_sha256: Some(identity.spki_sha256_b64.clone()),
    }
}

/// Every HTTP route (the public protocol and WebRTC signalling), with request bodies held to
/// the server's limits.
fn app_router(
    state: Arc<http::AppState>,
    rtc: Arc<rtc::RtcState>,
    guard: limits::BodyGuard,
) -> axum::Router {
    http::router(state)
        .merge(rtc::router(rtc).layer(axum::middleware::from_fn(http::cors)))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            limits::guard_bodies,
        ))
}

/// Binds TCP P, TCP P+1 and UDP P. With port 0, retries random ports until all three are free.
async fn bind_ports(
    bind: SocketAddr,
) -> std::io::Result<(TcpListener, TcpListener, std::net::UdpSocket)> {
    if bind.port() == u16::MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "port 65535 leaves no port P+1 for the raw tcp transport: pick a lower port",
        ));
    }
    let mut last_err = None;
    for _ in 0..64 {
        let http = TcpListener::bind(bind).await?;
        let p = http.local_addr()?.port();
        let mut tcp_addr = bind;
        tcp_addr.set_port(p.wrapping_add(1));
        let mut udp_addr = bind;
        udp_addr.set_port(p);
        match (
            TcpListener::bind(tcp_addr).await,
            std::net::UdpSocket::bind(udp_addr),
        ) {
            (Ok(t), Ok(u)) => return Ok((http, t, u)),
            (Err(e), _) | (_, Err(e)) => {
                if bind.port() != 0 {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "port {} is free but {} (tcp P+1 / udp P) is not: {e}",
                            p,
                            p + 1
                        ),
                    ));
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port pair found")))
}

impl Server {
    /// Binds the ports and starts serving.
    pub async fn start(cfg: ServerConfig) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        if cfg.http2 && cfg.plaintext {
            anyhow::bail!(
                "HTTP/2 is offered over TLS only (browsers negotiate it with ALPN `h2`): \
                 drop --plaintext or the HTTP/2 setting"
            );
        }
        let (http_l, tcp_l, udp) = bind_ports(cfg.bind)
            .await
            .with_context(|| format!("binding {}", cfg.bind))?;
        let addr = http_l.local_addr()?;
        let tcp_addr = tcp_l.local_addr()?;
        let identity = Identity::generate(&addr.ip().to_string())?;
        let hub = Hub::new();
        let info = server_info(cfg.plaintext, addr, tcp_addr, &identity);
        let state = Arc::new(http::AppState {
            hub: hub.clone(),
            info: info.clone(),
            poll_timeout: cfg.poll_timeout,
        });
        // One budget for every body in flight: HTTP request bodies and raw-TCP frames.
        let guard = limits::BodyGuard {
            stall: cfg.limits.body_stall,
            budget: limits::BodyBudget::new(cfg.limits.body_budget),
        };
        let router = app_router(
            state,
            rtc::RtcState::new(hub.clone(), addr, cfg.limits.rtc_connect),
            guard.clone(),
        );
        let wt_socket = udp
            .try_clone()
            .with_context(|| format!("sharing UDP {addr} with HTTP/3"))?;
        let wt = webtransport::endpoint(wt_socket, &identity)
            .with_context(|| format!("HTTP/3 on UDP {addr}"))?;
        let tls = if cfg.plaintext {
            None
        } else {
            let alpn: &[&[u8]] = if cfg.http2 {
                &[b"h2", b"http/1.1"]
            } else {
                &[b"http/1.1"]
            };
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                identity.server_config(alpn)?,
            )))
        };
        let mut tasks = Vec::new();
        let handshake = cfg.limits.handshake;
        tasks.push(tokio::spawn(serve_http(
            http_l,
            tls,
            router,
            hub.clone(),
            handshake,
        )));
        tasks.push(tokio::spawn(serve_tcp(
            tcp_l,
            hub.clone(),
            handshake,
            guard,
        )));
        tasks.push(tokio::spawn(webtransport::serve(wt, hub.clone())));
        let sweeper_hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                sweeper_hub.expire_idle();
            }
        }));
        Ok(Self {
            addr,
            hub,
            info,
            identity,
            udp: Some(udp),
            tasks,
        })
    }
}

/// The next accepted connection. A failed accept (out of file descriptors, say) is counted in
/// the server's errors, `accept_emfile` or `accept_failed`, so a cell whose clients cannot get
/// in says why, and the loop backs off briefly rather than spin.
async fn accept(listener: &TcpListener, hub: &Hub) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(e) => {
                hub.errors.add(match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE) => "accept_emfile",
                    _ => "accept_failed",
                });
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_http(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    hub: Arc<Hub>,
    handshake: Duration,
) {
    loop {
        let stream = accept(&listener, &hub).await;
        let tls = tls.clone();
        // Each request knows the local address it arrived on (WebRTC candidates go there).
        let local = stream.local_addr().ok().map(rtc::LocalAddr);
        let inner = TowerToHyperService::new(router.clone());
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            if let Some(l) = local {
                req.extensions_mut().insert(l);
            }
            hyper::service::Service::call(&inner, req)
        });
        let hub = hub.clone();
        tokio::spawn(async move {
            // A request head must arrive within `handshake` (and a keep-alive connection may
            // sit idle between requests that long), or the connection is closed.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(handshake);
            match tls {
                Some(acc) => {
                    let s = match tokio::time::timeout(handshake, acc.accept(stream)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(_)) => return,
                        Err(_) => {
                            hub.errors.add("tls_handshake_timeout");
                            return;
                        }
                    };
                    if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                        // HTTP/2: every request of the origin multiplexed on this connection,
                        // up to the advertised number of concurrent streams. No extended
                        // CONNECT: browsers open WebSockets on an HTTP/1.1 connection.
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
                            .serve_connection(TokioIo::new(s), svc)
                            .await;
                    } else {
                        let r = builder
                            .serve_connection(TokioIo::new(s), svc)
                            .with_upgrades()
                            .await;
                        count_header_timeout(&hub, r);
                    }
                }
                None => {
                    let r = builder
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                    count_header_timeout(&hub, r);
                }
            }
        });
    }
}

/// Counts an HTTP/1.1 connection the server closed because no request head arrived in time
/// (`http_header_timeout` in the cell's `errors`): an idle keep-alive connection, or a
/// request whose head was still on its way, so a client error it causes can be traced here.
fn count_header_timeout(hub: &Hub, r: Result<(), hyper::Error>) {
    if r.is_err_and(|e| e.is_timeout()) {
        hub.errors.add("http_header_timeout");
    }
}

async fn serve_tcp(
    listener: TcpListener,
    hub: Arc<Hub>,
    handshake: Duration,
    guard: limits::BodyGuard,
) {
    loop {
        let stream = accept(&listener, &hub).await;
        let (r, w) = stream.into_split();
        let frames = TcpFrames {
            r,
            dec: LengthPrefixed::new(),
            held: limits::Held::new(guard.budget.clone()),
            stall: guard.stall,
        };
        tokio::spawn(tcp_session(frames, w, hub.clone(), handshake));
    }
}

/// Bytes of frames still arriving a raw-TCP connection may buffer before the rest is taken
/// from the server's body budget (the default suite's bulk frames are 16 KiB).
const TCP_FREE_BYTES: usize = 1 << 20;

/// A raw-TCP connection's incoming frames. A frame still arriving must make progress within
/// the body-stall timeout, and what it buffers beyond [`TCP_FREE_BYTES`] is held from the
/// body budget, as an HTTP request body is.
struct TcpFrames {
    r: tokio::net::tcp::OwnedReadHalf,
    dec: LengthPrefixed,
    held: limits::Held,
    stall: Duration,
}

impl TcpFrames {
    /// The next frame, `Ok(None)` at the end of the stream, or the error-counter key of why
    /// the connection is cut off. With `by`, the frame must be whole by then (the hello).
    async fn next(
        &mut self,
        by: Option<tokio::time::Instant>,
    ) -> Result<Option<Bytes>, &'static str> {
        use tokio::io::AsyncReadExt;
        loop {
            match self.dec.next_frame() {
                Ok(Some(f)) => {
                    self.hold()?;
                    return Ok(Some(f));
                }
                Ok(None) => {}
                Err(e) => return Err(e.counter_key()),
            }
            let (deadline, late) = match by {
                Some(by) => (Some(by), "tcp_hello_timeout"),
                None if self.dec.pending() > 0 => (
                    Some(tokio::time::Instant::now() + self.stall),
                    "tcp_frame_stalled",
                ),
                None => (None, ""),
            };
            let buf = self.dec.buffer_mut();
            buf.reserve(64 * 1024);
            let read = match deadline {
                Some(d) => tokio::time::timeout_at(d, self.r.read_buf(buf))
                    .await
                    .map_err(|_| late)?,
                None => self.r.read_buf(buf).await,
            };
            match read {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => self.hold()?,
            }
        }
    }

    /// Holds from the budget what is buffered beyond [`TCP_FREE_BYTES`].
    fn hold(&mut self) -> Result<(), &'static str> {
        let over = self.dec.pending().saturating_sub(TCP_FREE_BYTES) as u64;
        self.held.set(over).map_err(|_| "tcp_frame_over_budget")
    }
}

/// Writes a raw-TCP client's queued frames, length-prefixed, coalescing what is already
/// queued into one write.
async fn tcp_writer(mut w: tokio::net::tcp::OwnedWriteHalf, mut rx: outq::FrameRx) {
    let mut buf = bytes::BytesMut::new();
    while let Some(f) = rx.recv().await {
        buf.clear();
        rx.coalesce_prefixed(&mut buf, &f, 256 * 1024);
        if w.write_all(&buf).await.is_err() {
            break;
        }
    }
}

/// One raw-TCP client: the first frame names it (within `handshake`, or the connection is
/// closed, counted `tcp_hello_timeout`), then frames both ways.
async fn tcp_session(
    mut frames: TcpFrames,
    w: tokio::net::tcp::OwnedWriteHalf,
    hub: Arc<Hub>,
    handshake: Duration,
) {
    let hello_by = tokio::time::Instant::now() + handshake;
    let id = match frames.next(Some(hello_by)).await {
        Ok(Some(f)) => match Header::parse(&f) {
            Ok(h) if h.kind == Kind::Data && h.sender != 0 => h.sender,
            Ok(_) => return hub.errors.add("tcp_bad_hello"),
            Err(e) => return hub.count_bad(&e),
        },
        Ok(None) => return,
        Err(key) => return hub.errors.add(key),
    };
    let (tx, rx) = outq::channel(outq::QUEUE_FRAMES);
    let attached = hub.attach_channel(id, tx.clone());
    let writer = tokio::spawn(tcp_writer(w, rx));
    loop {
        match frames.next(None).await {
            Ok(Some(f)) => hub.on_frame(id, f, Reply::Channel(&tx)).await,
            Ok(None) => break,
            Err(key) => {
                hub.errors.add(key);
                break;
            }
        }
    }
    drop(attached);
    drop(tx);
    // Let queued replies drain, then end.
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}
