//! A small HTTP/1.1 client on one connection (hyper's connection-level API), shared by `sse`,
//! `long-poll` and `poll`, and the batching upstream sender for `POST /up`.
//!
//! One connection per role is deliberate: HTTP/1.1 has one request in flight per connection, so
//! a client holds a downstream connection (the event stream or the hanging poll) and an
//! upstream one, exactly as a browser would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use super::api::{FrameSink, Setup, Target, TransportError};
use super::net::connect_stream;
use crate::frame::put_prefixed;

/// Most bytes one `POST /up` body carries when the sender batches queued frames.
pub const UP_BATCH_BYTES: usize = 1 << 20;

/// One HTTP/1.1 connection to the server, reopened when the server has closed it while it sat
/// idle between requests (see [`HttpConn::request`]).
pub struct HttpConn {
    send: SendRequest<Full<Bytes>>,
    host: String,
    target: Target,
}

impl HttpConn {
    /// Opens the connection (TCP + TLS per target), recording phases into `setup`.
    pub async fn open(target: &Target, setup: &mut Setup) -> Result<Self, TransportError> {
        let stream = connect_stream(target, target.addr, target.tls, &[b"http/1.1"], setup).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Protocol(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            // Ends when the connection closes; errors surface on the next request.
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host: target.addr.to_string(),
            target: target.clone(),
        })
    }

    /// Sends a request and returns the response head with its streaming body.
    ///
    /// A server closes a keep-alive connection that sends no request within its idle limit
    /// (ours: the handshake timeout, 30 s by default), e.g. a poller's while thousands of
    /// clients are still connecting. If that has happened, the request goes on a new
    /// connection, as a browser's would: nothing was sent on the closed one, so this is not a
    /// retry. A connection lost in the middle of a request is still an error.
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response<Incoming>, TransportError> {
        if self.send.is_closed() {
            *self = Self::open(&self.target, &mut Setup::default()).await?;
        }
        self.send
            .ready()
            .await
            .map_err(|e| TransportError::Protocol(format!("connection lost: {e}")))?;
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| TransportError::Protocol(format!("building request: {e}")))?;
        self.send
            .send_request(req)
            .await
            .map_err(|e| TransportError::Protocol(format!("{path_and_query}: {e}")))
    }
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes, TransportError> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| TransportError::Protocol(format!("reading body: {e}")))
}

/// Sends frames with `POST /up`, batching whatever is queued while a request is in flight into
/// one length-prefixed body, honouring `503 Retry-After` (backpressure) by waiting and resending.
pub struct UpSink {
    tx: mpsc::Sender<Bytes>,
    failure: Arc<Mutex<Option<String>>>,
}

impl UpSink {
    /// Opens the upstream connection and starts its sender task.
    pub async fn open(target: &Target, setup: &mut Setup) -> Result<Self, TransportError> {
        let conn = HttpConn::open(target, setup).await?;
        Ok(Self::start(target, Some(conn)))
    }

    /// Starts the sender task without a connection: it opens one when the first frame is sent
    /// (as a browser's `fetch` does), so a listen-only client holds no upstream connection.
    pub fn lazy(target: &Target) -> Self {
        Self::start(target, None)
    }

    /// The upstream for `target`: lazy when [`Target::lazy_up`] asks for it, else opened now.
    pub async fn for_target(target: &Target, setup: &mut Setup) -> Result<Self, TransportError> {
        if target.lazy_up {
            Ok(Self::lazy(target))
        } else {
            Self::open(target, setup).await
        }
    }

    fn start(target: &Target, conn: Option<HttpConn>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        let failure = Arc::new(Mutex::new(None));
        let fail = failure.clone();
        let path = format!("/up?client={}", target.client_id);
        let target = target.clone();
        tokio::spawn(async move {
            let mut conn = conn;
            let mut body = BytesMut::new();
            while let Some(first) = rx.recv().await {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match HttpConn::open(&target, &mut Setup::default()).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            if let Ok(mut g) = fail.lock() {
                                *g = Some(format!("opening the upstream connection: {e}"));
                            }
                            return;
                        }
                    },
                };
                body.clear();
                put_prefixed(&mut body, &first);
                while body.len() < UP_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(f) => put_prefixed(&mut body, &f),
                        Err(_) => break,
                    }
                }
                let payload = body.split().freeze();
                if let Err(e) = post_until_accepted(c, &path, payload).await {
                    if let Ok(mut g) = fail.lock() {
                        *g = Some(e.to_string());
                    }
                    return;
                }
            }
        });
        Self { tx, failure }
    }
}

async fn post_until_accepted(
    conn: &mut HttpConn,
    path: &str,
    payload: Bytes,
) -> Result<(), TransportError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = conn
            .request(
                Method::POST,
                path,
                &[("content-type", "application/octet-stream")],
                payload.clone(),
            )
            .await?;
        let status = resp.status();
        let retry = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = read_body(resp).await?;
        match status {
            StatusCode::NO_CONTENT | StatusCode::OK => return Ok(()),
            StatusCode::SERVICE_UNAVAILABLE if Instant::now() < deadline => {
                // Backpressure: the server's queue for us is full. Retry-After is in seconds;
                // a 0 means "soon", so wait a little and try again.
                let wait = retry.map_or(Duration::from_millis(5), |s| {
                    Duration::from_millis((s * 1000).max(5))
                });
                tokio::time::sleep(wait).await;
            }
            s => {
                return Err(TransportError::Protocol(format!(
                    "POST /up answered {s}: {}",
                    String::from_utf8_lossy(&body)
                )))
            }
        }
    }
}

#[async_trait::async_trait]
impl FrameSink for UpSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        if self.tx.send(frame).await.is_err() {
            let why = self
                .failure
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .unwrap_or_else(|| "upstream sender stopped".into());
            return Err(TransportError::Protocol(why));
        }
        Ok(())
    }
}
