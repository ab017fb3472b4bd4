//! The HTTP endpoints: `/info`, `/cert-hash`, `/clock`, `/ws`, `/sse`, `/poll`, `/up`, with
//! CORS, and the browser client's page under `/client/`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::hub::{Hub, Reply};
use super::info::ServerInfo;
use crate::frame::{put_prefixed, split_prefixed, MAX_FRAME};

/// Most frames in one `/poll` response.
pub const POLL_MAX_FRAMES: usize = 256;
/// Most bytes in one `/poll` response.
pub const POLL_MAX_BYTES: usize = 1 << 20;
/// Largest `POST /up` body.
pub const UP_MAX_BODY: usize = 8 << 20;
/// Default interval of SSE keep-alive comments (the protocol's 15 s; see
/// [`super::hub::KeepAlive`] to change it at run time).
pub const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

/// State shared by the handlers.
#[derive(Debug)]
pub struct AppState {
    /// Clients and routing.
    pub hub: Arc<Hub>,
    /// What `/info` and `/cert-hash` report.
    pub info: ServerInfo,
    /// How long a long-poll waits before answering 204.
    pub poll_timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct ClientQuery {
    client: Option<String>,
    after: Option<String>,
    wait: Option<String>,
}

/// A `400` with a reason, for bad requests.
fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

/// A request the server refuses with `400` and this reason.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        bad_request(self.0)
    }
}

fn client_id(q: &ClientQuery) -> Result<u32, BadRequest> {
    let raw = q
        .client
        .as_deref()
        .ok_or_else(|| BadRequest("missing ?client=<id> (a u32, not 0)".into()))?;
    match raw.parse::<u32>() {
        Ok(0) | Err(_) => Err(BadRequest(format!(
            "invalid ?client={raw:?}: must be a u32, not 0"
        ))),
        Ok(id) => Ok(id),
    }
}

fn parse_after(raw: Option<&str>) -> Result<Option<u64>, BadRequest> {
    match raw {
        None => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| BadRequest(format!("invalid after={s:?}: must be a u64 cursor"))),
    }
}

/// The router for every HTTP endpoint, with CORS applied.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/cert-hash", get(cert_hash))
        .route("/clock", get(clock))
        .route("/client", get(client_redirect))
        .route("/client/", get(client_page))
        .route("/client/wirebench.js", get(client_script))
        .route("/ws", get(ws))
        .route("/sse", get(sse))
        .route("/poll", get(poll))
        .route("/up", post(up))
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

pub(crate) async fn cors(req: Request<Body>, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("Wirebench-Cursor, Wirebench-Gap, Location, Wirebench-Peer"),
    );
    if preflight {
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("Content-Type, Last-Event-ID"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
    }
    resp
}

async fn info(State(s): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&s.info).unwrap_or_default(),
    )
        .into_response()
}

async fn cert_hash(State(s): State<Arc<AppState>>) -> Response {
    match &s.info.cert_sha256 {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain")], h.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no certificate: server runs --plaintext",
        )
            .into_response(),
    }
}

/// `GET /clock`: the server's `CLOCK_MONOTONIC` in ns (text), so a client without that clock
/// (a browser) can estimate its offset NTP-style for one-way figures; plus, in
/// `x-wirebench-mono-minus-realtime-ns` and `x-wirebench-mono-minus-realtime-bound-ns`, the
/// exact offset of that clock from the machine's wall clock, which a client on the same machine
/// uses instead of the estimate.
async fn clock() -> Response {
    let (offset, bound) = crate::clock::mono_minus_realtime_ns();
    (
        [
            (header::CONTENT_TYPE, "text/plain".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-wirebench-mono-minus-realtime-ns"),
                offset.to_string(),
            ),
            (
                header::HeaderName::from_static("x-wirebench-mono-minus-realtime-bound-ns"),
                bound.to_string(),
            ),
            (
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                "x-wirebench-mono-minus-realtime-ns, x-wirebench-mono-minus-realtime-bound-ns"
                    .to_string(),
            ),
        ],
        crate::clock::now_ns().to_string(),
    )
        .into_response()
}

/// The browser client's page and script (`harness/assets/client/`), embedded in the binary.
const CLIENT_HTML: &str = include_str!("../../assets/client/index.html");
const CLIENT_JS: &str = include_str!("../../assets/client/wirebench.js");

/// Serves a browser-client file cross-origin isolated (COOP + COEP, and CORP on what the page
/// loads), so `performance.now()` has its fine (5 µs) resolution in the page.
fn isolated(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
            (
                header::HeaderName::from_static("cross-origin-embedder-policy"),
                "require-corp",
            ),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "same-origin",
            ),
        ],
        body,
    )
        .into_response()
}

async fn client_redirect() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, "/client/")],
    )
        .into_response()
}

async fn client_page() -> Response {
    isolated("text/html; charset=utf-8", CLIENT_HTML)
}

async fn client_script() -> Response {
    isolated("text/javascript; charset=utf-8", CLIENT_JS)
}

async fn ws(
    State(s): State<Arc<AppState>>,
    Query(q): Query<ClientQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let id = match client_id(&q) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    upgrade
        .read_buffer_size(crate::transport::websocket::READ_BUFFER)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| ws_session(s.hub.clone(), id, socket))
}

/// Waits for the next tick of an optional interval (forever without one).
async fn next_tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// An interval whose first tick is one period from now; `None` for no interval.
fn keepalive_timer(period: Option<Duration>) -> Option<tokio::time::Interval> {
    period.map(|p| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + p, p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    })
}

async fn ws_session(hub: Arc<Hub>, id: u32, socket: WebSocket) {
    let (mut w, mut r) = socket.split();
    let (tx, mut rx) = super::outq::channel(super::outq::QUEUE_FRAMES);
    let _attached = hub.attach_channel(id, tx.clone());
    let mut ping = keepalive_timer(super::hub::KeepAlive::interval(&hub.keepalive.ws_ping_ms));
    let writer = tokio::spawn(async move {
        loop {
            let f = tokio::select! {
                f = rx.recv() => f,
                _ = next_tick(&mut ping) => {
                    // Keep-alive: an empty ping; the client's WebSocket answers with a pong.
                    if w.send(Message::Ping(Bytes::new())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            let Some(f) = f else { break };
            if w.send(Message::Binary(f)).await.is_err() {
                break;
            }
        }
        let _ = w.close().await;
    });
    while let Some(msg) = r.next().await {
        match msg {
            Ok(Message::Binary(b)) => hub.on_frame(id, b, Reply::Channel(&tx)).await,
            Ok(Message::Text(_)) => hub.errors.add("frame_text"),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    drop(tx);
    drop(_attached);
    writer.abort();
}

/// `GET /sse`: an event stream of the client's HTTP queue, resuming after `Last-Event-ID`
/// (or `?after=`); without either, only frames queued from now on.
/// The cursor an SSE client resumes from (`Last-Event-ID`), or why it is not one.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, String> {
    match headers.get("last-event-id").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(v)) => match v.trim().parse::<u64>() {
            Ok(c) => Ok(Some(c)),
            Err(_) => Err(format!("invalid Last-Event-ID {v:?}: must be a cursor")),
        },
        Some(Err(_)) => Err("Last-Event-ID is not text".into()),
    }
}

async fn sse(
    State(s): State<Arc<AppState>>,
    Query(q): Query<ClientQuery>,
    headers: HeaderMap,
) -> Response {
    let id = match client_id(&q) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let from_header = match last_event_id(&headers) {
        Ok(c) => c,
        Err(why) => return bad_request(why),
    };
    let after = match parse_after(q.after.as_deref()) {
        Ok(a) => from_header.or(a),
        Err(r) => return r.into_response(),
    };
    let Some(client) = s.hub.admit(id) else {
        return server_full();
    };
    let attached = s.hub.attach_http(id);
    s.hub.events.add("sse_open");
    let hub = s.hub.clone();
    let mut pos = after.unwrap_or_else(|| client.last_cursor());
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(8);
    tokio::spawn(async move {
        let _attached = attached;
        let mut latest = client.latest.subscribe();
        let mut kick = client.kick.subscribe();
        kick.mark_unchanged();
        if tx.send(Ok(Bytes::from_static(b":ok\n\n"))).await.is_err() {
            return;
        }
        loop {
            if kick.has_changed().unwrap_or(true) {
                return;
            }
            let b = client.take_after(pos, POLL_MAX_FRAMES, POLL_MAX_BYTES, true);
            if b.gap > 0 || !b.frames.is_empty() {
                let mut out = BytesMut::new();
                if b.gap > 0 {
                    out.extend_from_slice(format!("event: gap\ndata: {}\n\n", b.gap).as_bytes());
                }
                for (c, f) in &b.frames {
                    crate::transport::sse::encode_event(&mut out, *c, f);
                }
                pos = b.cursor;
                if tx.send(Ok(out.freeze())).await.is_err() {
                    return;
                }
                continue;
            }
            latest.mark_unchanged();
            if client.last_cursor() > pos {
                continue;
            }
            let beat = super::hub::KeepAlive::interval(&hub.keepalive.sse_heartbeat_ms)
                .unwrap_or(Duration::MAX);
            tokio::select! {
                r = tokio::time::timeout(beat, latest.changed()) => match r {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        if tx.send(Ok(Bytes::from_static(b":\n\n"))).await.is_err() {
                            return;
                        }
                    }
                },
                _ = kick.changed() => return,
            }
        }
    });
    let body = Body::from_stream(tokio_stream_from(rx));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `GET /poll?after=N[&wait=MS]`: frames after N, waiting up to the long-poll hold (the poll
/// timeout unless a keep-alive command set one; `wait` ms when shorter, `wait=0` answers at
/// once); `204` when there are none.
async fn poll(State(s): State<Arc<AppState>>, Query(q): Query<ClientQuery>) -> Response {
    let id = match client_id(&q) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let after = match parse_after(q.after.as_deref()) {
        Ok(a) => a.unwrap_or(0),
        Err(r) => return r.into_response(),
    };
    // The hold: the keep-alive setting when the orchestrator gave one (idle workload), else
    // the poll timeout; a client's `wait` only shortens it.
    let hold = super::hub::KeepAlive::interval(&s.hub.keepalive.long_poll_hold_ms)
        .unwrap_or(s.poll_timeout);
    let limit = match q.wait.as_deref().map(str::parse::<u64>) {
        None => hold,
        Some(Ok(ms)) => hold.min(Duration::from_millis(ms)),
        Some(Err(_)) => {
            return bad_request(format!(
                "invalid wait={:?}: must be milliseconds (0 = answer at once)",
                q.wait.as_deref().unwrap_or_default()
            ))
        }
    };
    let wait = !limit.is_zero();
    let Some(client) = s.hub.admit(id) else {
        return server_full();
    };
    let _attached = s.hub.attach_http(id);
    client.acknowledge(after);
    let mut latest = client.latest.subscribe();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        latest.mark_unchanged();
        let b = client.take_after(after, POLL_MAX_FRAMES, POLL_MAX_BYTES, false);
        if !b.frames.is_empty() || b.gap > 0 || !wait {
            let mut builder = Response::builder()
                .header("wirebench-cursor", b.cursor.to_string())
                .header(header::CACHE_CONTROL, "no-store");
            if b.gap > 0 {
                builder = builder.header("wirebench-gap", b.gap.to_string());
            }
            let resp = if b.frames.is_empty() {
                builder.status(StatusCode::NO_CONTENT).body(Body::empty())
            } else {
                let mut out = BytesMut::new();
                for (_, f) in &b.frames {
                    put_prefixed(&mut out, f);
                }
                builder
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(Body::from(out.freeze()))
            };
            return resp.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        match tokio::time::timeout_at(deadline, latest.changed()).await {
            Ok(Ok(())) => continue,
            _ => {
                return Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header("wirebench-cursor", b.cursor.to_string())
                    .body(Body::empty())
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }
}

/// `503` for a new client when the server holds [`super::hub::MAX_CLIENT_STATES`] already.
fn server_full() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "server full: too many client states; retry later",
    )
        .into_response()
}

/// `POST /up`: length-prefixed frames, handled in order.
async fn up(State(s): State<Arc<AppState>>, Query(q): Query<ClientQuery>, body: Body) -> Response {
    let id = match client_id(&q) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let Some(client) = s.hub.admit(id) else {
        return server_full();
    };
    if client.backlog() >= super::hub::BACKLOG_LIMIT {
        s.hub.errors.add("http_503_backpressure");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "0")],
            "downstream queue full: read your downstream, then retry",
        )
            .into_response();
    }
    let bytes = match axum::body::to_bytes(body, UP_MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let e: &(dyn std::error::Error + 'static) = &e;
            if let Some(cut) = super::limits::BodyError::find(e) {
                let (resp, key) = cut.response();
                s.hub.errors.add(key);
                return resp;
            }
            s.hub.errors.add("http_413");
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {UP_MAX_BODY} bytes"),
            )
                .into_response();
        }
    };
    let frames = match split_prefixed(&bytes) {
        Ok(f) => f,
        Err(e) => {
            s.hub.errors.add("http_400_framing");
            return bad_request(format!("body is not length-prefixed frames: {e}"));
        }
    };
    for f in frames {
        s.hub.on_frame(id, f, Reply::Http).await;
    }
    StatusCode::NO_CONTENT.into_response()
}
