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
    /// Whether this connection has returned a response: a reused connection may have been
    /// closed by the server while it sat idle.
    reused: bool,
}

impl HttpConn {
    /// Opens the connection (TCP + TLS per target), recording phases into `setup`.
    pub async fn open(target: &Target, setup: &mut Setup) -> Result<Self, TransportError> {
        let stream = connect_stream(target, target.addr, target.tls, &[b"http/1.1"], setup).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::protocol("HTTP handshake", &e))?;
        tokio::spawn(async move {
            // Ends when the connection closes; errors surface on the next request.
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host: target.addr.to_string(),
            target: target.clone(),
            reused: false,
        })
    }

    /// Sends a request and returns the response head with its streaming body.
    ///
    /// A server closes a keep-alive connection that sends no request within its idle limit
    /// (ours: the handshake timeout, 30 s by default), e.g. a poller's while thousands of
    /// clients are still connecting. If that has happened, the request goes on a new
    /// connection, as a browser's would: nothing was sent on the closed one, so this is not a
    /// retry. When the close crosses the request (a `GET` on a reused connection that ends
    /// before any response), the `GET` is sent once more on a new connection, as browsers and
    /// RFC 9112 §9.3.1 do for idempotent requests; `/poll?after=N` answers the same either way.
    /// Anything else (a bad response, a second failure, a lost `POST`) is an error.
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
        let reused = self.reused;
        let req = self.build(&method, path_and_query, headers, &body)?;
        match self.send_once(req).await {
            Err(e) if reused && method == Method::GET && closed_before_response(&e) => {
                *self = Self::open(&self.target, &mut Setup::default()).await?;
                let req = self.build(&method, path_and_query, headers, &body)?;
                self.send_once(req)
                    .await
                    .map_err(|e| TransportError::protocol(path_and_query, &e))
            }
            r => r.map_err(|e| TransportError::protocol(path_and_query, &e)),
        }
    }

    fn build(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &Bytes,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(hyper::header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(Full::new(body.clone()))
            .map_err(|e| TransportError::Protocol(format!("building request: {e}")))
    }

    /// One request on this connection.
    async fn send_once(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        self.reused = true;
        Ok(resp)
    }
}

/// Whether a request failed because its connection ended before any response: closed or
/// reset under it, or shut without TLS's close_notify. A malformed response is not this.
fn closed_before_response(e: &hyper::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    if e.is_canceled() || e.is_incomplete_message() || e.is_closed() {
        return true;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            );
        }
        cur = c.source();
    }
    false
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes, TransportError> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| TransportError::protocol("reading body", &e))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use hyper::{Method, StatusCode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::HttpConn;
    use crate::transport::api::{Setup, Target};

    /// Reads one request head (no body expected beyond `Content-Length: 0` or a short one).
    async fn read_head(s: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut b = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).await.unwrap();
            assert!(n > 0, "client closed before a whole request head");
            buf.extend_from_slice(&b[..n]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

    /// A server that answers the first request, then reads the second and closes the
    /// connection without answering (its idle close crossing the request), then answers every
    /// request on later connections. Returns how many connections it accepted.
    async fn closing_server(l: TcpListener) -> usize {
        let (mut s, _) = l.accept().await.unwrap();
        read_head(&mut s).await;
        s.write_all(NO_CONTENT).await.unwrap();
        read_head(&mut s).await;
        drop(s);
        let mut conns = 1;
        while let Ok(Ok((mut s, _))) =
            tokio::time::timeout(Duration::from_millis(500), l.accept()).await
        {
            conns += 1;
            read_head(&mut s).await;
            s.write_all(NO_CONTENT).await.unwrap();
        }
        conns
    }

    async fn conn(l: &TcpListener) -> HttpConn {
        let addr = l.local_addr().unwrap();
        let target = Target::new(addr, false, None, 1, Duration::from_secs(1));
        HttpConn::open(&target, &mut Setup::default())
            .await
            .unwrap()
    }

    /// A GET on a reused connection that the server closes under it goes once more on a new
    /// connection (RFC 9112 §9.3.1, as browsers do); a POST does not.
    #[tokio::test]
    async fn a_get_crossing_the_servers_close_is_sent_again_a_post_is_not() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = conn(&l).await;
        let server = tokio::spawn(closing_server(l));
        let r = c
            .request(Method::GET, "/poll?after=0", &[], Bytes::new())
            .await;
        assert_eq!(r.unwrap().status(), StatusCode::NO_CONTENT);
        let r = c
            .request(Method::GET, "/poll?after=0", &[], Bytes::new())
            .await;
        assert_eq!(r.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(
            server.await.unwrap(),
            2,
            "the GET went on a second connection"
        );

        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = conn(&l).await;
        let server = tokio::spawn(closing_server(l));
        let r = c.request(Method::POST, "/up", &[], Bytes::new()).await;
        assert_eq!(r.unwrap().status(), StatusCode::NO_CONTENT);
        let e = c
            .request(Method::POST, "/up", &[], Bytes::new())
            .await
            .expect_err("a POST whose connection closed under it is an error");
        assert!(e.to_string().starts_with("protocol: /up: "), "{e}");
        assert_eq!(server.await.unwrap(), 1, "the POST was not sent again");
    }
}
