//! Client-side WebRTC signalling over the server's HTTPS port (WHIP-style, no trickle): a
//! complete offer to the server's peer (`/rtc/offer`), or through the server to another client
//! (`/rtc/relay/…`, peer to peer). Shared by both engines.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use super::shared::{ChannelOpts, RtcImpl};
use crate::network::RtcSignalling;
use crate::transport::api::{Setup, Target, TransportError};
use crate::transport::http::{read_body, HttpConn};

/// Where a peer's offer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// To the server, which answers as a peer with this stack (`/rtc/offer`).
    Server(RtcImpl),
    /// Through the server to this client, which answers (`/rtc/relay/offer`, peer to peer).
    Peer(u32),
}

/// One signalling request carrying an SDP body (or none): (status, `Location`, body as text).
async fn sdp_request(
    conn: &mut HttpConn,
    method: Method,
    path: &str,
    sdp: Option<String>,
) -> Result<(hyper::StatusCode, String, String), TransportError> {
    let headers: &[(&str, &str)] = if sdp.is_some() {
        &[("content-type", "application/sdp")]
    } else {
        &[]
    };
    let resp = conn
        .request(
            method,
            path,
            headers,
            sdp.map(Bytes::from).unwrap_or_default(),
        )
        .await?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = read_body(resp).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| TransportError::Protocol(format!("{path}: the body is not UTF-8")))?;
    Ok((status, location, text))
}

/// The signalling connection a client opens before its timed setup starts when `opts` say
/// the signalling is reused (a page that already talks to its origin); None: [`signal`] opens
/// a fresh one, inside the timed setup.
pub async fn open_early(
    target: &Target,
    opts: &ChannelOpts,
) -> Result<Option<HttpConn>, TransportError> {
    if opts.signalling == RtcSignalling::Fresh {
        return Ok(None);
    }
    Ok(Some(HttpConn::open(target, &mut Setup::default()).await?))
}

/// Posts a complete offer, on `early` if given (see [`open_early`]) else on a new connection,
/// and returns (answer SDP, session path). An offer to the server asks for the pre-negotiated
/// channel `opts` want, if any.
pub async fn signal(
    target: &Target,
    offer: String,
    to: Signal,
    opts: &ChannelOpts,
    early: Option<HttpConn>,
) -> Result<(String, String), TransportError> {
    let mut conn = match early {
        Some(c) => c,
        None => HttpConn::open(target, &mut Setup::default()).await?,
    };
    let path = match to {
        Signal::Server(server) => format!(
            "/rtc/offer?client={}&impl={}{}",
            target.client_id,
            server.name(),
            opts.negotiated().map(|n| n.query()).unwrap_or_default()
        ),
        Signal::Peer(peer) => format!("/rtc/relay/offer?client={}&peer={peer}", target.client_id),
    };
    let (status, location, text) = sdp_request(&mut conn, Method::POST, &path, Some(offer)).await?;
    if status != hyper::StatusCode::CREATED {
        return Err(TransportError::Protocol(format!(
            "POST {path}: {status}: {}",
            text.trim()
        )));
    }
    Ok((text, location))
}

/// How long a relay answerer waits for its peer's offer.
pub const RELAY_OFFER_WAIT: Duration = Duration::from_secs(30);

/// Relay answerer: waits for an offer addressed to `target.client_id` (long-polling
/// `GET /rtc/relay/offer`, at most [`RELAY_OFFER_WAIT`]); returns (offer SDP, session path).
pub async fn relay_take_offer(target: &Target) -> Result<(String, String), TransportError> {
    let mut conn = HttpConn::open(target, &mut Setup::default()).await?;
    let path = format!("/rtc/relay/offer?client={}", target.client_id);
    let give_up = Instant::now() + RELAY_OFFER_WAIT;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout(format!(
                "no relay offer for client {} within {} s",
                target.client_id,
                RELAY_OFFER_WAIT.as_secs()
            )));
        }
        let (status, location, text) =
            tokio::time::timeout(left, sdp_request(&mut conn, Method::GET, &path, None))
                .await
                .map_err(|_| TransportError::Timeout(format!("GET {path}")))??;
        match status {
            hyper::StatusCode::NO_CONTENT => continue,
            hyper::StatusCode::OK if location.starts_with("/rtc/relay/session/") => {
                return Ok((text, location))
            }
            _ => {
                return Err(TransportError::Protocol(format!(
                    "GET {path}: {status}: {}",
                    text.trim()
                )))
            }
        }
    }
}

/// Relay answerer: hands the complete answer for `session` (a `Location` from
/// [`relay_take_offer`]) to the waiting offerer.
pub async fn relay_answer(
    target: &Target,
    session: &str,
    answer: String,
) -> Result<(), TransportError> {
    let mut conn = HttpConn::open(target, &mut Setup::default()).await?;
    let path = format!("{session}?client={}", target.client_id);
    let (status, _, text) = sdp_request(&mut conn, Method::POST, &path, Some(answer)).await?;
    if status != hyper::StatusCode::NO_CONTENT {
        return Err(TransportError::Protocol(format!(
            "POST {path}: {status}: {}",
            text.trim()
        )));
    }
    Ok(())
}
