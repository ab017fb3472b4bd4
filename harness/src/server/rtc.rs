//! WHIP-style WebRTC signalling: `POST /rtc/offer?client=<id>[&impl=str0m|webrtc-rs]` with a
//! complete SDP offer → `201 Created`, `Location: /rtc/session/<sid>`, body = the complete answer
//! (candidates gathered first, no trickle); `DELETE /rtc/session/<sid>` closes the peer.
//!
//! The server is a peer: one UDP socket per session, with a host candidate on the address the
//! request was sent to (the `Host` header; loopback included).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::oneshot;

use super::hub::Hub;
use crate::transport::rtc::RtcImpl;
use crate::transport::{rtc_str0m, rtc_webrtcrs};

/// Largest SDP offer accepted.
pub const MAX_OFFER: usize = 64 * 1024;

/// Signalling state: open sessions by id.
#[derive(Debug)]
pub struct RtcState {
    hub: Arc<Hub>,
    /// Address used when a request's `Host` names no IP (the bind address, or loopback).
    fallback_ip: IpAddr,
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

impl RtcState {
    /// New state for a server bound to `bind`.
    pub fn new(hub: Arc<Hub>, bind: SocketAddr) -> Arc<Self> {
        let fallback_ip = if bind.ip().is_unspecified() {
            if bind.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            }
        } else {
            bind.ip()
        };
        Arc::new(Self {
            hub,
            fallback_ip,
            next: AtomicU64::new(1),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// Sessions whose peer is still running.
    pub fn open_sessions(&self) -> usize {
        self.sessions
            .lock()
            .map(|mut m| {
                m.retain(|_, s| !s.is_closed());
                m.len()
            })
            .unwrap_or(0)
    }
}

/// The signalling routes (CORS is applied by the caller, with the other endpoints').
pub fn router(state: Arc<RtcState>) -> Router {
    Router::new()
        .route("/rtc/offer", post(offer))
        .route("/rtc/session/{sid}", delete(close))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct OfferQuery {
    client: Option<String>,
    #[serde(rename = "impl")]
    implementation: Option<String>,
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

/// The IP the client addressed, from `Host` (`1.2.3.4:P`, `[::1]:P`, `localhost:P`).
fn host_ip(headers: &HeaderMap, fallback: IpAddr) -> IpAddr {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return fallback;
    };
    if let Ok(sa) = host.parse::<SocketAddr>() {
        return sa.ip();
    }
    let bare = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) if bare.eq_ignore_ascii_case("localhost") => {
            if fallback.is_loopback() {
                fallback
            } else {
                std::net::Ipv4Addr::LOCALHOST.into()
            }
        }
        Err(_) => fallback,
    }
}

async fn offer(
    State(s): State<Arc<RtcState>>,
    Query(q): Query<OfferQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let client = match q.client.as_deref().map(str::parse::<u32>) {
        None => return bad("missing ?client=<id> (a u32, not 0)".into()),
        Some(Ok(0)) | Some(Err(_)) => {
            return bad(format!(
                "invalid ?client={:?}: must be a u32, not 0",
                q.client.unwrap_or_default()
            ))
        }
        Some(Ok(id)) => id,
    };
    let imp = match q.implementation.as_deref() {
        None | Some("") => RtcImpl::Str0m,
        Some(name) => match RtcImpl::parse(name) {
            Some(i) => i,
            None => return bad(format!("unknown impl={name:?}: use str0m or webrtc-rs")),
        },
    };
    if body.len() > MAX_OFFER {
        return (StatusCode::PAYLOAD_TOO_LARGE, "SDP offer over 64 KiB").into_response();
    }
    if !body.starts_with("v=0") {
        return bad("body must be a complete SDP offer (application/sdp)".into());
    }
    let ip = host_ip(&headers, s.fallback_ip);
    let (close_tx, close_rx) = oneshot::channel();
    let answer = match imp {
        RtcImpl::Str0m => rtc_str0m::answer(&body, ip, s.hub.clone(), client, close_rx).await,
        RtcImpl::WebrtcRs => rtc_webrtcrs::answer(&body, ip, s.hub.clone(), client, close_rx).await,
    };
    match answer {
        Ok(sdp) => {
            let sid = s.next.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut m) = s.sessions.lock() {
                m.retain(|_, tx| !tx.is_closed());
                m.insert(sid, close_tx);
            }
            s.hub.events.add("rtc_offer");
            (
                StatusCode::CREATED,
                [
                    (header::LOCATION, format!("/rtc/session/{sid}")),
                    (header::CONTENT_TYPE, "application/sdp".to_string()),
                ],
                sdp,
            )
                .into_response()
        }
        Err(e) => bad(format!("offer refused: {e}")),
    }
}

async fn close(State(s): State<Arc<RtcState>>, Path(sid): Path<String>) -> Response {
    let Ok(sid) = sid.parse::<u64>() else {
        return bad(format!("invalid session id {sid:?}"));
    };
    let tx = s.sessions.lock().ok().and_then(|mut m| m.remove(&sid));
    match tx {
        Some(tx) => {
            let _ = tx.send(());
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no session {sid}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_gives_the_candidate_address() {
        let fb: IpAddr = "10.9.9.9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut h = HeaderMap::new();
        assert_eq!(host_ip(&h, fb), fb);
        h.insert(header::HOST, "127.0.0.1:4433".parse().expect("header"));
        assert_eq!(host_ip(&h, fb).to_string(), "127.0.0.1");
        h.insert(header::HOST, "[::1]:4433".parse().expect("header"));
        assert_eq!(host_ip(&h, fb).to_string(), "::1");
        h.insert(header::HOST, "localhost:4433".parse().expect("header"));
        assert_eq!(host_ip(&h, fb).to_string(), "127.0.0.1");
        h.insert(header::HOST, "example.test".parse().expect("header"));
        assert_eq!(host_ip(&h, fb), fb);
    }
}
