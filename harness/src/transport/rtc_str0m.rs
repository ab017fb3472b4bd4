//! str0m peers: one tokio task per peer owns the sans-IO [`Rtc`] and its UDP socket, feeding it
//! datagrams and timeouts and writing what it transmits. Used by the client transport and by the
//! server's `/rtc/offer` (the server answers as a peer, one UDP socket per session on the address
//! the request arrived on).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::api::{Connection, FrameSink, FrameStream, Target, TransportError};
use super::rtc::events::{
    ChannelWriter, Inbound, InboundTx, Message, PeerEvent, RtcChannel, ServerPeer,
};
use super::rtc::shared::{
    check_size, local_ip_for, send_window, setup_from, ChannelOpts, Negotiated, PhaseTx,
    CHANNEL_LABEL, MAX_BUFFERED, MAX_MESSAGE, NEGOTIATED_STREAM, OPEN_TIMEOUT,
};
use super::rtc::signal::{open_early, relay_answer, relay_take_offer, signal, Signal};

/// Frames queued towards a peer task before senders wait.
const QUEUE: usize = 1024;
/// Largest UDP datagram read.
const RECV_BUF: usize = 2048;
/// Datagrams fed to str0m per wake-up before polling its output again. str0m's DTLS receive
/// queue is small: feeding a burst without draining output in between fails the peer with
/// "DTLS error: receive queue full" under bulk load.
const RECV_BATCH: usize = 4;
/// Frames taken from the sender's queue per wake-up.
const SEND_BATCH: usize = 64;
/// How often str0m reports the ICE pair's round trip, which sizes the send window.
const STATS_INTERVAL: Duration = Duration::from_millis(200);

fn rtc_err(context: &str, e: RtcError) -> TransportError {
    TransportError::Protocol(format!("str0m {context}: {e}"))
}

/// A new peer; `snap`: SCTP INIT chunks go in the SDP (SNAP), so no SCTP handshake follows DTLS.
fn new_rtc(snap: bool) -> Rtc {
    Rtc::builder()
        .set_sctp_max_buffered_amount(MAX_BUFFERED + MAX_MESSAGE)
        .set_stats_interval(Some(STATS_INTERVAL))
        .set_snap_enabled(snap)
        .build(Instant::now())
}

/// The channel's configuration: in band (DCEP) unless `negotiated`, with stream id
/// [`NEGOTIATED_STREAM`] on both peers.
fn channel_config(reliable: bool, negotiated: bool) -> ChannelConfig {
    ChannelConfig {
        label: CHANNEL_LABEL.into(),
        ordered: reliable,
        reliability: if reliable {
            Reliability::Reliable
        } else {
            Reliability::MaxRetransmits { retransmits: 0 }
        },
        negotiated: negotiated.then_some(NEGOTIATED_STREAM),
        ..Default::default()
    }
}

/// A UDP socket on `ip` and a new peer ([`new_rtc`]) whose one host candidate is that
/// socket's address.
async fn bind_peer(ip: IpAddr, snap: bool) -> Result<(UdpSocket, Rtc), TransportError> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| TransportError::io(format!("binding a UDP socket on {ip}"), e))?;
    let addr = socket
        .local_addr()
        .map_err(|e| TransportError::io("peer socket", e))?;
    let mut rtc = new_rtc(snap);
    let cand = Candidate::host(addr, "udp")
        .map_err(|e| TransportError::Protocol(format!("host candidate {addr}: {e}")))?;
    rtc.add_local_candidate(cand);
    Ok((socket, rtc))
}

/// What a peer task does with channels and data.
enum Role {
    /// Client: one channel; data goes to the connection's stream.
    Client {
        inbound: mpsc::UnboundedSender<Bytes>,
        open: Option<oneshot::Sender<()>>,
        phases: PhaseTx,
    },
    /// Server: any channels, each reported as it opens; its data goes to its [`Inbound`].
    Server {
        events: mpsc::UnboundedSender<PeerEvent>,
        out: mpsc::Sender<(Option<ChannelId>, Bytes)>,
        inbound: HashMap<ChannelId, InboundTx>,
    },
}

impl Role {
    fn phase(&self, name: &'static str) {
        if let Role::Client { phases, .. } = self {
            let _ = phases.send((name, Instant::now()));
        }
    }

    /// The client's channel can carry frames: its channel is open and DTLS is up. With SNAP
    /// str0m opens a negotiated channel before DTLS completes (the association needs no
    /// handshake), and a frame written then waits for DTLS: setup ends when both are done.
    fn ready(&mut self) {
        if let Role::Client { open, .. } = self {
            if let Some(o) = open.take() {
                let _ = o.send(());
            }
        }
    }

    fn channel_open(&mut self, cid: ChannelId) {
        match self {
            Role::Client { .. } => {}
            Role::Server {
                events,
                out,
                inbound,
            } => {
                let (tx, rx) = Inbound::channel();
                let writer = Str0mWriter {
                    cid,
                    out: out.clone(),
                };
                let _ = events.send(PeerEvent::Opened(RtcChannel {
                    writer: Box::new(writer),
                    inbound: rx,
                }));
                inbound.insert(cid, tx);
            }
        }
    }

    fn data(&mut self, cid: ChannelId, binary: bool, data: Vec<u8>) {
        match self {
            Role::Client { inbound, .. } => {
                if binary {
                    let _ = inbound.send(Bytes::from(data));
                }
            }
            Role::Server { inbound, .. } => {
                if let Some(tx) = inbound.get(&cid) {
                    tx.push(if binary {
                        Message::Binary(Bytes::from(data))
                    } else {
                        Message::Text
                    });
                }
            }
        }
    }
}

/// What a peer task remembers between events.
#[derive(Default)]
struct PeerState {
    /// The first channel opened: `None`-addressed frames go to it, and it closing ends the peer.
    primary: Option<ChannelId>,
    ice_done: bool,
    /// DTLS is up (str0m's `Connected`).
    dtls_done: bool,
    /// The primary channel closed: end once what is queued is handed over.
    closing: bool,
    /// The selected ICE pair's least round trip so far ([`send_window`]).
    rtt: Option<Duration>,
}

impl PeerState {
    /// Applies one str0m event; true when the peer is over (ICE disconnected, or closed).
    fn on_event(&mut self, e: Event, role: &mut Role) -> bool {
        match e {
            Event::IceConnectionStateChange(s) => match s {
                IceConnectionState::Connected | IceConnectionState::Completed if !self.ice_done => {
                    self.ice_done = true;
                    role.phase("ice");
                }
                IceConnectionState::Disconnected => return true,
                _ => {}
            },
            Event::Connected => {
                self.dtls_done = true;
                role.phase("dtls");
                if self.primary.is_some() {
                    role.ready();
                }
            }
            Event::ChannelOpen(cid, _label) => {
                if self.primary.is_none() {
                    self.primary = Some(cid);
                    role.phase("channel");
                }
                role.channel_open(cid);
                if self.dtls_done {
                    role.ready();
                }
            }
            Event::ChannelData(d) => role.data(d.id, d.binary, d.data),
            Event::ChannelClose(cid) if Some(cid) == self.primary => {
                self.closing = true;
            }
            Event::Closed => return true,
            Event::PeerStats(s) => {
                if let Some(rtt) = s
                    .selected_candidate_pair
                    .and_then(|p| p.current_round_trip_time)
                {
                    // The least seen: the path's own, without the queueing a bulk load adds.
                    self.rtt = Some(self.rtt.map_or(rtt, |r| r.min(rtt)));
                }
            }
            _ => {}
        }
        false
    }
}

/// Hands queued frames to SCTP while their channel holds less than `window` bytes (frames for
/// a channel gone are dropped).
fn write_queued(
    rtc: &mut Rtc,
    outq: &mut VecDeque<(ChannelId, Bytes)>,
    window: usize,
) -> Result<(), TransportError> {
    while let Some((cid, f)) = outq.front() {
        let Some(mut ch) = rtc.channel(*cid) else {
            outq.pop_front();
            continue;
        };
        if ch.buffered_amount() >= window {
            break;
        }
        if ch.write(true, f).map_err(|e| rtc_err("write", e))? {
            outq.pop_front();
        } else {
            break;
        }
    }
    Ok(())
}

/// Closes DTLS politely and sends what that produces.
async fn close_and_flush(rtc: &mut Rtc, socket: &UdpSocket) {
    let _ = rtc.close();
    while let Ok(Output::Transmit(t)) = rtc.poll_output() {
        let _ = socket.send_to(&t.contents, t.destination).await;
    }
}

/// Drives one peer until it closes: a state machine over str0m's outputs (transmit, timeout,
/// events) and its inputs (datagrams, timeouts, frames to send, the close signal).
async fn drive(
    mut rtc: Rtc,
    socket: UdpSocket,
    mut role: Role,
    mut out_rx: mpsc::Receiver<(Option<ChannelId>, Bytes)>,
    mut close_rx: oneshot::Receiver<()>,
) -> Result<(), TransportError> {
    let local = socket
        .local_addr()
        .map_err(|e| TransportError::io("peer socket", e))?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut outq: VecDeque<(ChannelId, Bytes)> = VecDeque::new();
    let mut st = PeerState::default();
    let mut held = Held::default();
    loop {
        write_queued(&mut rtc, &mut outq, send_window(st.rtt))?;
        let deadline = loop {
            match rtc.poll_output().map_err(|e| rtc_err("poll", e))? {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    // UDP: a failed send is a lost packet, which the protocols handle.
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(e) => {
                    if st.on_event(e, &mut role) {
                        return Ok(());
                    }
                }
            }
        };
        if held.retry(&mut rtc, local)? {
            continue;
        }
        if !rtc.is_alive() || (st.closing && outq.is_empty()) {
            return Ok(());
        }
        let primary = st.primary;
        let can_take = outq.is_empty() && primary.is_some();
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, source) = r.map_err(|e| TransportError::io("peer socket recv", e))?;
                held.feed(&mut rtc, &buf[..n], source, local)?;
                for _ in 1..RECV_BATCH {
                    if held.is_some() {
                        break;
                    }
                    match socket.try_recv_from(&mut buf) {
                        Ok((n, source)) => held.feed(&mut rtc, &buf[..n], source, local)?,
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                rtc.handle_input(Input::Timeout(Instant::now())).map_err(|e| rtc_err("timeout", e))?;
            }
            f = out_rx.recv(), if can_take => {
                let Some((cid, f)) = f else {
                    // The client dropped its sink: close DTLS politely, flush, end.
                    close_and_flush(&mut rtc, &socket).await;
                    return Ok(());
                };
                if let Some(c) = cid.or(primary) {
                    outq.push_back((c, f));
                }
                while outq.len() < SEND_BATCH {
                    match out_rx.try_recv() {
                        Ok((cid, f)) => if let Some(c) = cid.or(primary) { outq.push_back((c, f)) },
                        Err(_) => break,
                    }
                }
                rtc.handle_input(Input::Timeout(Instant::now())).map_err(|e| rtc_err("timeout", e))?;
            }
            _ = &mut close_rx => {
                close_and_flush(&mut rtc, &socket).await;
                return Ok(());
            }
        }
    }
}

/// A datagram str0m did not take, fed again once its output has been drained. The ICE
/// agent nominates its pair while its output is polled, and until then str0m refuses DTLS
/// from the peer's address: a ClientHello that arrives in the same batch as the nominating
/// STUN check was dropped, and the handshake waited for DTLS's 1 s retransmission (str0m's
/// in-band setup on loopback took ~1 s instead of ~5 ms in the agents).
#[derive(Default)]
struct Held(Option<(Vec<u8>, SocketAddr)>);

impl Held {
    fn is_some(&self) -> bool {
        self.0.is_some()
    }

    /// Feeds a datagram, holding it if str0m does not take it yet (one at most: a second is
    /// dropped, as UDP may).
    fn feed(
        &mut self,
        rtc: &mut Rtc,
        data: &[u8],
        source: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), TransportError> {
        if !feed(rtc, data, source, local)? && self.0.is_none() {
            self.0 = Some((data.to_vec(), source));
        }
        Ok(())
    }

    /// Feeds the held datagram again (dropped if str0m still refuses it); true if there was
    /// one, so the caller polls the output it produced.
    fn retry(&mut self, rtc: &mut Rtc, local: SocketAddr) -> Result<bool, TransportError> {
        let Some((data, source)) = self.0.take() else {
            return Ok(false);
        };
        feed(rtc, &data, source, local)?;
        Ok(true)
    }
}

/// Hands one datagram to str0m; false when str0m does not take it (yet): see [`Held`].
fn feed(
    rtc: &mut Rtc,
    data: &[u8],
    source: SocketAddr,
    local: SocketAddr,
) -> Result<bool, TransportError> {
    // Datagrams str0m cannot parse (not STUN/DTLS/RTP) are dropped.
    let Ok(contents) = data.try_into() else {
        return Ok(true);
    };
    let input = Input::Receive(
        Instant::now(),
        Receive {
            proto: Protocol::Udp,
            source,
            destination: local,
            contents,
        },
    );
    if !rtc.accepts(&input) {
        return Ok(false);
    }
    rtc.handle_input(input).map_err(|e| rtc_err("input", e))?;
    Ok(true)
}

/// Server side: answers a complete offer as a str0m peer whose host candidate is on `local_ip`,
/// creating the client's pre-negotiated channel if it asked for one. The peer runs until the
/// client closes, ICE fails, or `close` fires; its channels and its end are reported as
/// [`PeerEvent`]s.
pub async fn accept(
    offer_sdp: &str,
    local_ip: IpAddr,
    close: oneshot::Receiver<()>,
    negotiated: Option<Negotiated>,
) -> Result<ServerPeer, TransportError> {
    let offer = SdpOffer::from_sdp_string(offer_sdp)
        .map_err(|e| TransportError::Protocol(format!("invalid SDP offer: {e}")))?;
    let snap = negotiated.is_some_and(|n| n.snap);
    let (socket, mut rtc) = bind_peer(local_ip, snap).await?;
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| rtc_err("accepting the offer", e))?;
    if let Some(n) = negotiated {
        rtc.direct_api()
            .create_data_channel(channel_config(n.reliable, true));
    }
    let (out_tx, out_rx) = mpsc::channel(QUEUE);
    let (ev_tx, events) = mpsc::unbounded_channel();
    let role = Role::Server {
        events: ev_tx.clone(),
        out: out_tx,
        inbound: HashMap::new(),
    };
    tokio::spawn(async move {
        let ended = drive(rtc, socket, role, out_rx, close).await;
        let _ = ev_tx.send(PeerEvent::Closed(ended.err()));
    });
    Ok(ServerPeer {
        answer: answer.to_sdp_string(),
        events,
    })
}

/// Sends a server peer's frames on one channel, through the peer task's queue (which hands
/// them to SCTP while it holds less than [`MAX_BUFFERED`]).
struct Str0mWriter {
    cid: ChannelId,
    out: mpsc::Sender<(Option<ChannelId>, Bytes)>,
}

#[async_trait]
impl ChannelWriter for Str0mWriter {
    async fn write(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.out
            .send((Some(self.cid), frame))
            .await
            .map_err(|_| TransportError::Closed)
    }
}

/// A new str0m peer with a UDP socket and its host candidate on `target`'s local address, else
/// the one towards its server (in a topology, this host's own address; on loopback, loopback):
/// [`local_ip_for`].
async fn client_peer(target: &Target, snap: bool) -> Result<(Rtc, UdpSocket), TransportError> {
    let ip = local_ip_for(target)?;
    let (socket, rtc) = bind_peer(ip, snap).await?;
    Ok((rtc, socket))
}

/// Client side: offers one channel, signals (to the server, or through it to a peer), and waits
/// for the channel to open.
pub async fn connect(
    target: &Target,
    opts: ChannelOpts,
    to: Signal,
) -> Result<Connection, TransportError> {
    let early = open_early(target, &opts).await?;
    let t0 = Instant::now();
    let negotiated = opts.negotiated();
    let snap = negotiated.is_some_and(|n| n.snap);
    let (mut rtc, socket) = client_peer(target, snap).await?;
    let mut api = rtc.sdp_api();
    api.add_channel_with_config(channel_config(opts.reliable, negotiated.is_some()));
    let (offer, pending) = api
        .apply()
        .ok_or_else(|| TransportError::Protocol("str0m made no offer".into()))?;
    let (answer, session) = signal(target, offer.to_sdp_string(), to, &opts, early).await?;
    let signalled = Instant::now();
    let answer = SdpAnswer::from_sdp_string(&answer)
        .map_err(|e| TransportError::Protocol(format!("invalid SDP answer: {e}")))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| rtc_err("accepting the answer", e))?;
    open_client(rtc, socket, t0, signalled, &session).await
}

/// Relay receiver: takes the offer addressed to this client, answers it through the server,
/// and waits for the offerer's channel to open (peer to peer).
pub async fn accept_peer(target: &Target) -> Result<Connection, TransportError> {
    let (offer, session) = relay_take_offer(target).await?;
    let t0 = Instant::now();
    let offer = SdpOffer::from_sdp_string(&offer)
        .map_err(|e| TransportError::Protocol(format!("invalid SDP offer: {e}")))?;
    let (mut rtc, socket) = client_peer(target, false).await?;
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| rtc_err("accepting the offer", e))?;
    relay_answer(target, &session, answer.to_sdp_string()).await?;
    let signalled = Instant::now();
    open_client(rtc, socket, t0, signalled, &session).await
}

/// Runs a client-side peer whose descriptions are settled and waits for its first channel.
async fn open_client(
    rtc: Rtc,
    socket: UdpSocket,
    t0: Instant,
    signalled: Instant,
    session: &str,
) -> Result<Connection, TransportError> {
    let (out_tx, out_rx) = mpsc::channel(QUEUE);
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let (ph_tx, mut ph_rx) = mpsc::unbounded_channel();
    let (open_tx, open_rx) = oneshot::channel();
    let (close_tx, close_rx) = oneshot::channel();
    let role = Role::Client {
        inbound: in_tx,
        open: Some(open_tx),
        phases: ph_tx,
    };
    let (fail_tx, fail_rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Err(e) = drive(rtc, socket, role, out_rx, close_rx).await {
            let _ = fail_tx.send(e);
        }
    });
    match tokio::time::timeout(OPEN_TIMEOUT, open_rx).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            return Err(match fail_rx.await {
                Ok(e) => e,
                Err(_) => {
                    TransportError::Protocol("str0m peer ended before the channel opened".into())
                }
            })
        }
        Err(_) => {
            return Err(TransportError::Timeout(format!(
                "data channel open ({} s) after signalling to {session}",
                OPEN_TIMEOUT.as_secs()
            )))
        }
    }
    let setup = setup_from(t0, signalled, &mut ph_rx);
    Ok(Connection {
        sink: Box::new(Str0mSink {
            tx: Some(out_tx),
            close: Some(close_tx),
        }),
        stream: Box::new(Str0mStream { rx: in_rx }),
        setup,
    })
}

struct Str0mSink {
    tx: Option<mpsc::Sender<(Option<ChannelId>, Bytes)>>,
    close: Option<oneshot::Sender<()>>,
}

#[async_trait]
impl FrameSink for Str0mSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        let tx = self.tx.as_ref().ok_or(TransportError::Closed)?;
        check_size(&frame)?;
        tx.send((None, frame))
            .await
            .map_err(|_| TransportError::Closed)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.tx = None;
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
        Ok(())
    }
}

struct Str0mStream {
    rx: mpsc::UnboundedReceiver<Bytes>,
}

#[async_trait]
impl FrameStream for Str0mStream {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.rx.recv().await)
    }
}
