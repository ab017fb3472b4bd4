//! What the server spends on one peer before that peer has earned it: how long a TLS
//! handshake, a request head, a request body or a raw-TCP hello may take, and how many bytes
//! of request bodies may be in flight at once. A peer past a limit is cut off or refused with
//! a clear status; well-behaved clients never meet these limits (`docs/security.md`).

use std::error::Error as StdError;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

/// Default for [`Limits::handshake`].
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Limits::body_stall`].
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Limits::body_budget`]: 64 MiB of request bodies in flight, all clients.
pub const BODY_BUDGET: u64 = 64 << 20;

/// The server's per-peer timeouts and its in-flight body budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A TLS handshake, then each HTTP/1.1 request head (and the time a keep-alive connection
    /// may sit idle between requests), and a raw-TCP client's hello frame, must each complete
    /// within this.
    pub handshake: Duration,
    /// A request body that makes no progress for this long is abandoned (`408`).
    pub body_stall: Duration,
    /// Bytes of request bodies all clients may have in flight at once; beyond, `503` with
    /// `Retry-After`.
    pub body_budget: u64,
    /// A WebRTC server peer must open its first data channel within this, or it is closed.
    pub rtc_connect: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake: HANDSHAKE_TIMEOUT,
            body_stall: BODY_STALL_TIMEOUT,
            body_budget: BODY_BUDGET,
            rtc_connect: super::rtc::CONNECT_TIMEOUT,
        }
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// No bytes arrived for this long.
    #[error("request body made no progress for {0:?}")]
    Stalled(Duration),
    /// The server's in-flight body budget is spent.
    #[error("server busy: {0} bytes of request bodies in flight already")]
    OverBudget(u64),
}

impl BodyError {
    /// The body error behind a body-reading error, if that is what it was.
    pub fn find(e: &(dyn StdError + 'static)) -> Option<BodyError> {
        let mut cur = Some(e);
        while let Some(e) = cur {
            if let Some(b) = e.downcast_ref::<BodyError>() {
                return Some(*b);
            }
            cur = e.source();
        }
        None
    }
}

impl BodyError {
    /// The answer to a request whose body was cut off (`408`, or `503` + `Retry-After`), and
    /// the server's error-counter key for it.
    pub fn response(self) -> (Response, &'static str) {
        use axum::http::{header, StatusCode};
        use axum::response::IntoResponse as _;
        match self {
            Self::Stalled(_) => (
                (StatusCode::REQUEST_TIMEOUT, self.to_string()).into_response(),
                "http_408_body_stalled",
            ),
            Self::OverBudget(_) => (
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1")],
                    self.to_string(),
                )
                    .into_response(),
                "http_503_body_budget",
            ),
        }
    }
}

/// Bytes of request bodies in flight, against a limit shared by every connection.
#[derive(Debug)]
pub struct BodyBudget {
    used: AtomicU64,
    limit: u64,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(0),
            limit,
        })
    }

    /// Takes `n` bytes, or none when that would go over the limit.
    fn take(&self, n: u64) -> bool {
        let was = self.used.fetch_add(n, Ordering::Relaxed);
        if was.saturating_add(n) > self.limit {
            self.used.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Bytes in flight now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// The bytes one reader (a request body, a raw-TCP frame being received) holds of a
/// [`BodyBudget`]; given back as the reader's need shrinks and when it is dropped.
#[derive(Debug)]
pub struct Held {
    budget: Arc<BodyBudget>,
    n: u64,
}

impl Held {
    /// Holds nothing yet.
    pub fn new(budget: Arc<BodyBudget>) -> Self {
        Self { budget, n: 0 }
    }

    /// Holds `n` bytes in all, taking or giving back the difference; when the budget cannot
    /// cover the growth, holds what it held and returns the error to answer with.
    pub fn set(&mut self, n: u64) -> Result<(), BodyError> {
        if n > self.n {
            if !self.budget.take(n - self.n) {
                return Err(BodyError::OverBudget(self.budget.limit));
            }
        } else {
            self.budget.release(self.n - n);
        }
        self.n = n;
        Ok(())
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.n
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.release(self.n);
    }
}

/// A request body held to [`Limits::body_stall`] and the shared [`BodyBudget`]: what it
/// has read counts against the budget until it is dropped.
struct GuardedBody {
    inner: Body,
    stall: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    held: Held,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    let n = this.held.bytes() + d.len() as u64;
                    if let Err(e) = this.held.set(n) {
                        return Poll::Ready(Some(Err(e.into())));
                    }
                }
                let next = tokio::time::Instant::now() + this.stall;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(this.stall).into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What [`guard_bodies`] needs: the stall timeout and the shared budget.
#[derive(Debug, Clone)]
pub struct BodyGuard {
    /// See [`Limits::body_stall`].
    pub stall: Duration,
    /// Shared by every connection of the server.
    pub budget: Arc<BodyBudget>,
}

/// Middleware: every request body read through it is held to the stall timeout and the
/// budget (a handler reading it sees the [`BodyError`] as a body error).
pub async fn guard_bodies(
    axum::extract::State(g): axum::extract::State<BodyGuard>,
    req: Request,
    next: Next,
) -> Response {
    let req = req.map(|inner| {
        Body::new(GuardedBody {
            inner,
            stall: g.stall,
            timer: Box::pin(tokio::time::sleep(g.stall)),
            held: Held::new(g.budget.clone()),
        })
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_budget_refuses_what_would_go_over_and_gets_back_what_is_released() {
        let b = BodyBudget::new(100);
        assert!(b.take(60));
        assert!(!b.take(41));
        assert_eq!(b.used(), 60);
        assert!(b.take(40));
        b.release(60);
        assert_eq!(b.used(), 40);
    }

    #[tokio::test]
    async fn a_body_that_stops_sending_is_cut_off_and_releases_its_bytes() {
        use futures_util::StreamExt as _;
        let budget = BodyBudget::new(1 << 20);
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
            b"0123456789",
        ))])
        .chain(futures_util::stream::pending());
        let body = GuardedBody {
            inner: Body::from_stream(stream),
            stall: Duration::from_millis(200),
            timer: Box::pin(tokio::time::sleep(Duration::from_millis(200))),
            held: Held::new(budget.clone()),
        };
        let err = axum::body::to_bytes(Body::new(body), 1 << 20)
            .await
            .unwrap_err();
        let e: &(dyn StdError + 'static) = &err;
        assert_eq!(
            BodyError::find(e),
            Some(BodyError::Stalled(Duration::from_millis(200)))
        );
        assert_eq!(budget.used(), 0);
    }
}
