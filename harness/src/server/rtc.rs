//! WHIP-style WebRTC signalling: `POST /rtc/offer?client=<id>[&impl=str0m|webrtc-rs]
//! [&channel=negotiated|snap[&unreliable=1]]` with a complete SDP offer (`channel`: the server
//! creates the client's pre-negotiated channel too, see docs/protocol.md) → `201 Created`, `Location: /rtc/session/<sid>`, body = the complete answer
//! (candidates gathered first, no trickle); `DELETE /rtc/session/<sid>` closes the peer.
//!
//! The server is a peer: one UDP socket per session, with a host candidate on the local address
//! of the connection the offer arrived on (never taken from the `Host` header). One server peer
//! per client id (a new offer closes the client's earlier peer), at most [`MAX_PEERS`] at once,
//! and a peer whose first channel has not opened within the server's connect timeout is closed.
//!
//! Peer-to-peer signalling for the relay workload, the same way: `POST /rtc/relay/offer?client=A
//! &peer=B` with A's complete offer waits for B's answer; B long-polls `GET /rtc/relay/offer?
//! client=B` for offers addressed to it and answers with `POST /rtc/relay/session/<sid>?client=B`.
//! The server only passes the two descriptions along; the peers then talk directly.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, Notify};

use super::hub::{Hub, Reply};
use super::outq;
use crate::transport::rtc::events::{Message, PeerEvent, RtcChannel};
use crate::transport::rtc::{self as engine, check_size, Negotiated, RtcImpl};

/// Largest SDP offer accepted.
pub const MAX_OFFER: usize = 64 * 1024;
/// Server peers open at once, all clients; an offer beyond is answered `503`.
pub const MAX_PEERS: usize = 1024;
/// Default for how long a server peer may take to open its first channel (ICE, DTLS, SCTP,
/// the channel's open) before it is closed: WebRTC setup here is 9 round trips, 2.7 s at a
/// 300 ms RTT.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The local address of the connection a request arrived on (set per connection by the
/// server): where a server peer puts its candidate.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);
/// How long a relay offer waits for its peer's answer.
pub const RELAY_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long `GET /rtc/relay/offer` waits for an offer before answering 204.
pub const RELAY_POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(25);

/// An offer waiting for its peer: (session id, offering client, SDP).
type RelayOffer = (u64, u32, String);

/// An open server peer: its client and the switch that closes it.
#[derive(Debug)]
struct Session {
    client: u32,
    close: oneshot::Sender<()>,
}

/// A refused request: status and reason (the body).
#[derive(Debug)]
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn refuse(msg: String) -> Refused {
    Refused(StatusCode::BAD_REQUEST, msg)
}

/// Relay signalling: offers passed from one client to another.
#[derive(Debug, Default)]
struct RelaySignals {
    /// Offers addressed to each client, oldest first: (sid, from, SDP).
    offers: Mutex<HashMap<u32, VecDeque<RelayOffer>>>,
    /// Offerers waiting for an answer, by session: (addressed client, where the answer goes).
    waiting: Mutex<HashMap<u64, (u32, oneshot::Sender<String>)>>,
    /// Woken when an offer arrives.
    arrived: Notify,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps: a panic elsewhere cannot leave them half-updated in a way that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Signalling state: open sessions by id.
#[derive(Debug)]
pub struct RtcState {
    hub: Arc<Hub>,
    /// Candidate address for a request that carries no [`LocalAddr`] (the bind address, or
    /// loopback).
    fallback_ip: IpAddr,
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, Session>>,
    relay: RelaySignals,
    connect_timeout: std::time::Duration,
}

impl RtcState {
    /// New state for a server bound to `bind`, closing peers that have not opened a channel
    /// within `connect_timeout`.
    pub fn new(hub: Arc<Hub>, bind: SocketAddr, connect_timeout: std::time::Duration) -> Arc<Self> {
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
            relay: RelaySignals::default(),
            connect_timeout,
        })
    }

    /// Sessions whose peer is still running.
    pub fn open_sessions(&self) -> usize {
        let mut m = locked(&self.sessions);
        m.retain(|_, s| !s.close.is_closed());
        m.len()
    }

    /// Closes session `sid`; false if there is none.
    fn close_session(&self, sid: u64) -> bool {
        match locked(&self.sessions).remove(&sid) {
            Some(s) => {
                let _ = s.close.send(());
                true
            }
            None => false,
        }
    }

    /// Makes room for a new peer of `client`: closes the client's earlier peers, and says
    /// whether the server is below [`MAX_PEERS`].
    fn make_room(&self, client: u32) -> bool {
        let mut m = locked(&self.sessions);
        m.retain(|_, s| !s.close.is_closed());
        for (_, old) in m.extract_if(|_, s| s.client == client) {
            let _ = old.close.send(());
            self.hub.events.add("rtc_peer_replaced");
        }
        m.len() < MAX_PEERS
    }
}

/// The signalling routes (CORS is applied by the caller, with the other endpoints').
pub fn router(state: Arc<RtcState>) -> Router {
    Router::new()
        .route("/rtc/offer", post(offer))
        .route("/rtc/session/{sid}", delete(close))
        .route("/rtc/relay/offer", post(relay_offer).get(relay_take_offer))
        .route(
            "/rtc/relay/session/{sid}",
            post(relay_answer).delete(relay_withdraw),
        )
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct OfferQuery {
    client: Option<String>,
    #[serde(rename = "impl")]
    implementation: Option<String>,
    /// `negotiated` or `snap`: the client's channel is pre-negotiated (the fast setup paths).
    channel: Option<String>,
    /// `1`: that channel is unordered without retransmissions.
    unreliable: Option<String>,
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

/// A client id from the query (`name` = `client` or `peer`): a u32, not 0.
fn parse_id(raw: Option<&str>, name: &str) -> Result<u32, Refused> {
    match raw.map(str::parse::<u32>) {
        None => Err(refuse(format!("missing ?{name}=<id> (a u32, not 0)"))),
        Some(Ok(0)) | Some(Err(_)) => Err(refuse(format!(
            "invalid ?{name}={:?}: must be a u32, not 0",
            raw.unwrap_or_default()
        ))),
        Some(Ok(id)) => Ok(id),
    }
}

/// Refuses a body that is not a complete SDP description of acceptable size.
fn check_sdp(body: &str, what: &str) -> Result<(), Refused> {
    if body.len() > MAX_OFFER {
        return Err(Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("SDP {what} over 64 KiB"),
        ));
    }
    if !body.starts_with("v=0") {
        return Err(refuse(format!(
            "body must be a complete SDP {what} (application/sdp)"
        )));
    }
    Ok(())
}

async fn offer(
    State(s): State<Arc<RtcState>>,
    Query(q): Query<OfferQuery>,
    local: Option<axum::Extension<LocalAddr>>,
    body: String,
) -> Response {
    let client = match parse_id(q.client.as_deref(), "client") {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let imp = match q.implementation.as_deref() {
        None | Some("") => RtcImpl::Str0m,
        Some(name) => match RtcImpl::parse(name) {
            Some(i) => i,
            None => return bad(format!("unknown impl={name:?}: use str0m or webrtc-rs")),
        },
    };
    let negotiated = match Negotiated::from_query(q.channel.as_deref(), q.unreliable.as_deref()) {
        Ok(n) => n,
        Err(why) => return bad(why),
    };
    if negotiated.is_some_and(|n| n.snap) && imp != RtcImpl::Str0m {
        return bad(format!(
            "channel=snap needs impl=str0m: {} does not exchange SCTP INIT in the SDP",
            imp.name()
        ));
    }
    if let Err(r) = check_sdp(&body, "offer") {
        return r.into_response();
    }
    if !s.make_room(client) {
        s.hub.errors.add("rtc_503_peers_full");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            format!("server full: {MAX_PEERS} WebRTC peers open"),
        )
            .into_response();
    }
    let ip = local.map_or(s.fallback_ip, |l| l.0 .0.ip().to_canonical());
    let (close_tx, close_rx) = oneshot::channel();
    match engine::accept(imp, &body, ip, close_rx, negotiated).await {
        Ok(peer) => {
            let sid = s.next.fetch_add(1, Ordering::Relaxed);
            locked(&s.sessions).insert(
                sid,
                Session {
                    client,
                    close: close_tx,
                },
            );
            tokio::spawn(serve_peer(s.clone(), sid, client, peer.events));
            s.hub.events.add("rtc_offer");
            (
                StatusCode::CREATED,
                [
                    (header::LOCATION, format!("/rtc/session/{sid}")),
                    (header::CONTENT_TYPE, "application/sdp".to_string()),
                ],
                peer.answer,
            )
                .into_response()
        }
        Err(e) => bad(format!("offer refused: {e}")),
    }
}

/// Serves a server peer's channels from the hub, whichever engine runs it: its first channel
/// becomes `client`'s downstream (server-originated frames) until the peer ends; every
/// channel's frames go to [`Hub::on_frame`], with replies back on that channel. A peer that
/// failed is counted as `rtc_peer_failed: <reason>`.
async fn serve_peer(
    s: Arc<RtcState>,
    sid: u64,
    client: u32,
    mut events: mpsc::UnboundedReceiver<PeerEvent>,
) {
    let hub = s.hub.clone();
    let failed = |failure: Option<crate::transport::TransportError>| {
        if let Some(e) = failure {
            // The reason goes into the counter's key, so a failed cell says why.
            hub.errors.add(&format!("rtc_peer_failed: {e}"));
        }
    };
    // The first channel must open within the connect timeout; a peer that never completes
    // ICE (an offer without usable candidates, say) does not hold its socket for long.
    let attachment = match tokio::time::timeout(s.connect_timeout, events.recv()).await {
        Ok(Some(PeerEvent::Opened(channel))) => {
            let tx = serve_channel(&hub, client, channel);
            Some(hub.attach_channel(client, tx))
        }
        Ok(Some(PeerEvent::Closed(failure))) => {
            failed(failure);
            None
        }
        Ok(None) => None,
        Err(_) => {
            hub.errors.add("rtc_peer_connect_timeout");
            None
        }
    };
    if attachment.is_some() {
        while let Some(event) = events.recv().await {
            match event {
                PeerEvent::Opened(channel) => {
                    serve_channel(&hub, client, channel);
                }
                PeerEvent::Closed(failure) => {
                    failed(failure);
                    break;
                }
            }
        }
    }
    s.close_session(sid);
}

/// Runs one channel: a writer task sends what the hub queues for it (frames over
/// [`MAX_MESSAGE`](crate::transport::rtc::MAX_MESSAGE) are dropped and counted as
/// `rtc_frame_too_large`), a reader task hands what arrives to the hub one frame at a time.
/// Returns the channel's queue, for the hub to send server-originated frames on.
fn serve_channel(hub: &Arc<Hub>, client: u32, channel: RtcChannel) -> outq::FrameTx {
    let RtcChannel {
        mut writer,
        mut inbound,
    } = channel;
    let (tx, mut rx) = outq::channel(outq::QUEUE_FRAMES);
    let h = hub.clone();
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if check_size(&f).is_err() {
                h.errors.add("rtc_frame_too_large");
                continue;
            }
            if writer.write(f).await.is_err() {
                break;
            }
        }
    });
    let (h, reply) = (hub.clone(), tx.clone());
    tokio::spawn(async move {
        while let Some(m) = inbound.next().await {
            for _ in 0..inbound.take_dropped() {
                h.errors.add("rtc_inbound_queue_full");
            }
            match m {
                Message::Binary(f) => h.on_frame(client, f, Reply::Channel(&reply)).await,
                Message::Text => h.errors.add("frame_text"),
            }
        }
    });
    tx
}

async fn close(State(s): State<Arc<RtcState>>, Path(sid): Path<String>) -> Response {
    let Ok(sid) = sid.parse::<u64>() else {
        return bad(format!("invalid session id {sid:?}"));
    };
    if s.close_session(sid) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no session {sid}")).into_response()
    }
}

#[derive(Debug, Deserialize)]
struct RelayQuery {
    client: Option<String>,
    peer: Option<String>,
    wait: Option<String>,
}

/// `POST /rtc/relay/offer?client=A&peer=B`: queues A's offer for B and waits for B's answer.
async fn relay_offer(
    State(s): State<Arc<RtcState>>,
    Query(q): Query<RelayQuery>,
    body: String,
) -> Result<Response, Refused> {
    let client = parse_id(q.client.as_deref(), "client")?;
    let peer = parse_id(q.peer.as_deref(), "peer")?;
    if peer == client {
        return Err(refuse(format!("peer={peer} is the offering client itself")));
    }
    check_sdp(&body, "offer")?;
    let sid = s.next.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    locked(&s.relay.waiting).insert(sid, (peer, tx));
    locked(&s.relay.offers)
        .entry(peer)
        .or_default()
        .push_back((sid, client, body));
    s.relay.arrived.notify_waiters();
    s.hub.events.add("rtc_relay_offer");
    let answer = tokio::time::timeout(RELAY_ANSWER_WAIT, rx).await;
    // Whatever is left of the session goes, answered or not.
    locked(&s.relay.waiting).remove(&sid);
    if let Some(q) = locked(&s.relay.offers).get_mut(&peer) {
        q.retain(|(id, _, _)| *id != sid);
    }
    match answer {
        Ok(Ok(sdp)) => Ok((
            StatusCode::CREATED,
            [
                (header::LOCATION, format!("/rtc/relay/session/{sid}")),
                (header::CONTENT_TYPE, "application/sdp".to_string()),
            ],
            sdp,
        )
            .into_response()),
        Ok(Err(_)) => Err(Refused(
            StatusCode::GONE,
            format!("relay session {sid} was withdrawn before client {peer} answered"),
        )),
        Err(_) => Err(Refused(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "client {peer} did not answer within {} s",
                RELAY_ANSWER_WAIT.as_secs()
            ),
        )),
    }
}

/// `GET /rtc/relay/offer?client=B[&wait=0]`: the oldest offer addressed to B, waiting up to
/// [`RELAY_POLL_WAIT`] for one (`wait=0`: answer at once); `204` when there is none.
async fn relay_take_offer(
    State(s): State<Arc<RtcState>>,
    Query(q): Query<RelayQuery>,
) -> Result<Response, Refused> {
    let client = parse_id(q.client.as_deref(), "client")?;
    let wait = q.wait.as_deref() != Some("0");
    let deadline = tokio::time::Instant::now() + RELAY_POLL_WAIT;
    loop {
        let arrived = s.relay.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let next = locked(&s.relay.offers)
            .get_mut(&client)
            .and_then(|q| q.pop_front());
        if let Some((sid, from, sdp)) = next {
            return Ok((
                StatusCode::OK,
                [
                    (header::LOCATION, format!("/rtc/relay/session/{sid}")),
                    (header::CONTENT_TYPE, "application/sdp".to_string()),
                    (
                        header::HeaderName::from_static("wirebench-peer"),
                        from.to_string(),
                    ),
                ],
                sdp,
            )
                .into_response());
        }
        if !wait || tokio::time::timeout_at(deadline, arrived).await.is_err() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
}

/// `POST /rtc/relay/session/<sid>?client=B`: B's complete answer, handed to the waiting offerer.
async fn relay_answer(
    State(s): State<Arc<RtcState>>,
    Path(sid): Path<String>,
    Query(q): Query<RelayQuery>,
    body: String,
) -> Result<Response, Refused> {
    let client = parse_id(q.client.as_deref(), "client")?;
    let sid = sid
        .parse::<u64>()
        .map_err(|_| refuse(format!("invalid session id {sid:?}")))?;
    check_sdp(&body, "answer")?;
    let mut waiting = locked(&s.relay.waiting);
    let Some((to, tx)) = waiting.remove(&sid) else {
        return Err(Refused(
            StatusCode::NOT_FOUND,
            format!("no relay session {sid} is waiting for an answer"),
        ));
    };
    if to != client {
        waiting.insert(sid, (to, tx));
        return Err(Refused(
            StatusCode::FORBIDDEN,
            format!("relay session {sid} is addressed to client {to}, not {client}"),
        ));
    }
    drop(waiting);
    if tx.send(body).is_err() {
        return Err(Refused(
            StatusCode::GONE,
            format!("the offerer of relay session {sid} is gone"),
        ));
    }
    s.hub.events.add("rtc_relay_answer");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /rtc/relay/session/<sid>`: withdraws an offer not answered yet (the offerer's
/// request ends with `410`). An answered session is the peers' own: `404`.
async fn relay_withdraw(State(s): State<Arc<RtcState>>, Path(sid): Path<String>) -> Response {
    let Ok(sid) = sid.parse::<u64>() else {
        return bad(format!("invalid session id {sid:?}"));
    };
    let found = locked(&s.relay.waiting).remove(&sid);
    match found {
        Some((to, _tx)) => {
            if let Some(q) = locked(&s.relay.offers).get_mut(&to) {
                q.retain(|(id, _, _)| *id != sid);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no relay session {sid} waiting"),
        )
            .into_response(),
    }
}
