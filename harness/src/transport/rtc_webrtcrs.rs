//! webrtc-rs peers (crate `webrtc`, classic 0.17 line), client and server.
//!
//! ICE is restricted to one local address (loopback stays on loopback), UDP only, with mDNS
//! off, so no packet leaves for another interface or a multicast group. A client given the
//! cell's STUN/TURN servers ([`Target::ice`]) gathers server-reflexive and relayed candidates
//! too (relayed over UDP only: webrtc-rs 0.17 allocates no TURN over TCP or TLS), under the
//! cell's policy; the server's peers, on the public side, gather host candidates only. The
//! selected pair's local candidate type is read back from the ICE transport ([`Setup::ice_path`]).
//!
//! Channels are detached once open ([`SettingEngine::detach_data_channels`]) and read here with
//! a buffer of the whole SDP `max-message-size` ([`READ_BUFFER`]): webrtc-rs's own read loop
//! reads into 65,535 bytes and closes the channel on a 64 KiB message.
//!
//! [`Setup::ice_path`]: super::api::Setup::ice_path

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Notify};
use webrtc::api::media_engine::MediaEngine;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{APIBuilder, API};
use webrtc::data::data_channel::DataChannel;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::ice_transport::ice_connection_state::RTCIceConnectionState;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use super::api::{Connection, FrameSink, FrameStream, Target, TransportError};
use super::rtc::events::{
    ChannelWriter, Inbound, InboundTx, Message, PeerEvent, RtcChannel, ServerPeer,
};
use super::rtc::ice::{pair_path, IceConfig};
use super::rtc::shared::{
    check_size, local_ip_towards, setup_from, ChannelOpts, Negotiated, CHANNEL_LABEL, MAX_BUFFERED,
    NEGOTIATED_STREAM, OPEN_TIMEOUT, WEBRTC_RS_MAX_MESSAGE,
};
use super::rtc::signal::{open_early, relay_answer, relay_take_offer, signal, Signal};

fn err(context: &str, e: webrtc::Error) -> TransportError {
    TransportError::Protocol(format!("webrtc-rs {context}: {e}"))
}

/// The bytes a detached channel reads a message into: the largest message a peer may send to
/// webrtc-rs. Its SDP carries no `a=max-message-size`, so peers keep to the RFC 8841 default,
/// 65,536 bytes, which its SCTP stream reassembles whole (its receive window is 1 MiB); a larger
/// message fails the read and closes the channel.
const READ_BUFFER: usize = WEBRTC_RS_MAX_MESSAGE;

fn api(local_ip: IpAddr) -> API {
    let mut s = SettingEngine::default();
    // Channels are read by `spawn_reader`, not by webrtc-rs's 65,535-byte read loop.
    s.detach_data_channels();
    s.set_include_loopback_candidate(true);
    s.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    s.set_ip_filter(Box::new(move |ip| ip == local_ip));
    s.set_network_types(vec![if local_ip.is_ipv4() {
        NetworkType::Udp4
    } else {
        NetworkType::Udp6
    }]);
    APIBuilder::new()
        .with_media_engine(MediaEngine::default())
        .with_setting_engine(s)
        .build()
}

/// The peer connection's configuration: the ICE servers and policy of `ice`, if any.
fn configuration(ice: Option<&IceConfig>) -> RTCConfiguration {
    let Some(ice) = ice else {
        return RTCConfiguration::default();
    };
    RTCConfiguration {
        ice_servers: ice
            .servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect(),
        ice_transport_policy: if ice.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..RTCConfiguration::default()
    }
}

async fn peer(
    local_ip: IpAddr,
    ice: Option<&IceConfig>,
) -> Result<Arc<RTCPeerConnection>, TransportError> {
    Ok(Arc::new(
        api(local_ip)
            .new_peer_connection(configuration(ice))
            .await
            .map_err(|e| err("creating the peer", e))?,
    ))
}

/// The path of the selected candidate pair, from the ICE transport's own state: its two
/// candidates' types ([`pair_path`]), and for a relayed local one `udp`, the only transport
/// webrtc-rs 0.17 allocates TURN over.
async fn selected_path(pc: &RTCPeerConnection) -> Option<String> {
    let pair = pc
        .sctp()
        .transport()
        .ice_transport()
        .get_selected_candidate_pair()
        .await?;
    let local = pair.local.typ;
    let relay = (local == RTCIceCandidateType::Relay).then_some("udp");
    Some(pair_path(
        &local.to_string(),
        relay,
        &pair.remote.typ.to_string(),
    ))
}

/// Sets the local description and waits for ICE gathering to finish (no trickle).
async fn complete_local(
    pc: &RTCPeerConnection,
    desc: RTCSessionDescription,
) -> Result<String, TransportError> {
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(desc)
        .await
        .map_err(|e| err("setting the local description", e))?;
    let _ = gathered.recv().await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| TransportError::Protocol("webrtc-rs has no local description".into()))
}

/// Applies a remote offer and answers it: the complete answer SDP (server peer and relay
/// receiver alike).
async fn answer_offer(
    pc: &RTCPeerConnection,
    offer: RTCSessionDescription,
) -> Result<String, TransportError> {
    pc.set_remote_description(offer)
        .await
        .map_err(|e| err("applying the offer", e))?;
    let ans = pc
        .create_answer(None)
        .await
        .map_err(|e| err("creating the answer", e))?;
    complete_local(pc, ans).await
}

/// Waits while a channel holds more than [`MAX_BUFFERED`] bytes, then sends.
async fn send_paced(dc: &DataChannel, low: &Notify, frame: &Bytes) -> Result<(), TransportError> {
    while dc.buffered_amount() > MAX_BUFFERED {
        // Bounded wait in case the low-water callback raced ahead of us.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(5), low.notified()).await;
    }
    dc.write_data_channel(frame, false)
        .await
        .map_err(|e| err("send", e.into()))?;
    Ok(())
}

/// Wakes a waiting sender when an open channel's buffered amount falls to half of
/// [`MAX_BUFFERED`]. Set on the detached channel itself: set on an accepted `RTCDataChannel`
/// before it opens, webrtc-rs 0.17 never passes the callback on.
fn watch_low(dc: &DataChannel) -> Arc<Notify> {
    let low = Arc::new(Notify::new());
    dc.set_buffered_amount_low_threshold(MAX_BUFFERED / 2);
    let l = low.clone();
    dc.on_buffered_amount_low(Box::new(move || {
        // A stored permit: a wake-up between the sender's check and its wait is not lost.
        l.notify_one();
        Box::pin(async {})
    }));
    low
}

/// Runs `opened` with the detached channel once `dc` opens (at once if it is open already).
fn on_open_detached<F, Fut>(dc: &Arc<RTCDataChannel>, opened: F)
where
    F: FnOnce(Arc<DataChannel>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Weak: the handler, kept by the channel until it opens, does not keep it alive.
    let weak = Arc::downgrade(dc);
    dc.on_open(Box::new(move || {
        Box::pin(async move {
            let Some(dc) = weak.upgrade() else {
                return;
            };
            if let Ok(detached) = dc.detach().await {
                opened(detached).await;
            }
        })
    }));
}

/// Reads `dc`'s messages into a [`READ_BUFFER`] until the channel closes (or a read fails),
/// handing each to `deliver`, which says whether to go on.
fn spawn_reader<F, Fut>(dc: Arc<DataChannel>, mut deliver: F)
where
    F: FnMut(Message) -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let m = match dc.read_data_channel(&mut buf).await {
                // The stream was reset or the association closed (as webrtc-rs's own loop,
                // which reads an empty binary message the same way).
                Ok((0, false)) | Err(_) => break,
                Ok((_, true)) => Message::Text,
                Ok((n, false)) => Message::Binary(Bytes::copy_from_slice(&buf[..n])),
            };
            if !deliver(m).await {
                break;
            }
        }
    });
}

/// Delivers a client-side channel's frames to `tx` (text messages are dropped).
fn read_frames(dc: Arc<DataChannel>, tx: mpsc::UnboundedSender<Bytes>) {
    spawn_reader(dc, move |m| {
        let more = match m {
            Message::Binary(frame) => tx.send(frame).is_ok(),
            Message::Text => true,
        };
        std::future::ready(more)
    });
}

/// Delivers a server-side channel's messages to `tx`, one at a time: the next is read only once
/// the server has handled the previous one, so the sender feels the backpressure.
fn read_inbound(dc: Arc<DataChannel>, tx: InboundTx) {
    spawn_reader(dc, move |m| {
        let tx = tx.clone();
        async move {
            tx.deliver(m).await;
            true
        }
    });
}

/// A server peer's channel, once open and detached: its messages go to an [`Inbound`] (read no
/// further until the server has handled each), and it is reported as [`PeerEvent::Opened`] with
/// a writer.
async fn server_channel(dc: Arc<DataChannel>, opened: mpsc::UnboundedSender<PeerEvent>) {
    let low = watch_low(&dc);
    let (tx, inbound) = Inbound::channel();
    read_inbound(dc.clone(), tx);
    let _ = opened.send(PeerEvent::Opened(RtcChannel {
        writer: Box::new(RtcRsWriter { dc, low }),
        inbound,
    }));
}

/// The client's channel options, and a server's for a pre-negotiated channel: reliable and
/// ordered, or unordered without retransmissions; in band unless `negotiated`.
fn channel_init(reliable: bool, negotiated: bool) -> RTCDataChannelInit {
    RTCDataChannelInit {
        ordered: Some(reliable),
        max_retransmits: if reliable { None } else { Some(0) },
        negotiated: negotiated.then_some(NEGOTIATED_STREAM),
        ..Default::default()
    }
}

/// Server side: answers a complete offer as a webrtc-rs peer on `local_ip`, creating the
/// client's pre-negotiated channel if it asked for one (SNAP is str0m's only: refused). The
/// peer runs until its connection fails, closes or disconnects, or `close` fires; its channels
/// and its end are reported as [`PeerEvent`]s.
pub async fn accept(
    offer_sdp: &str,
    local_ip: IpAddr,
    close: oneshot::Receiver<()>,
    negotiated: Option<Negotiated>,
) -> Result<ServerPeer, TransportError> {
    if negotiated.is_some_and(|n| n.snap) {
        return Err(TransportError::Protocol(
            "webrtc-rs does not exchange SCTP INIT in the SDP (SNAP): use the str0m server".into(),
        ));
    }
    let offer = RTCSessionDescription::offer(offer_sdp.to_string())
        .map_err(|e| err("invalid SDP offer", e))?;
    let pc = peer(local_ip, None).await?;
    let (ev_tx, events) = mpsc::unbounded_channel();
    let opened = ev_tx.clone();
    pc.on_data_channel(Box::new(move |dc: Arc<RTCDataChannel>| {
        let opened = opened.clone();
        on_open_detached(&dc, move |dc| server_channel(dc, opened));
        Box::pin(async {})
    }));
    if let Some(n) = negotiated {
        let dc = pc
            .create_data_channel(CHANNEL_LABEL, Some(channel_init(n.reliable, true)))
            .await
            .map_err(|e| err("creating the negotiated channel", e))?;
        let opened = ev_tx.clone();
        on_open_detached(&dc, move |dc| server_channel(dc, opened));
    }
    let (end_tx, end_rx) = oneshot::channel::<()>();
    let end_tx = Mutex::new(Some(end_tx));
    pc.on_peer_connection_state_change(Box::new(move |s| {
        if matches!(
            s,
            RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
                | RTCPeerConnectionState::Disconnected
        ) {
            if let Some(t) = end_tx.lock().ok().and_then(|mut g| g.take()) {
                let _ = t.send(());
            }
        }
        Box::pin(async {})
    }));
    let answer = answer_offer(&pc, offer).await?;
    tokio::spawn(async move {
        tokio::select! {
            _ = end_rx => {}
            _ = close => {}
        }
        let _ = pc.close().await;
        let _ = ev_tx.send(PeerEvent::Closed(None));
    });
    Ok(ServerPeer { answer, events })
}

/// Sends a server peer's frames on one channel, waiting while it holds more than
/// [`MAX_BUFFERED`] bytes.
struct RtcRsWriter {
    dc: Arc<DataChannel>,
    low: Arc<Notify>,
}

#[async_trait]
impl ChannelWriter for RtcRsWriter {
    async fn write(&mut self, frame: Bytes) -> Result<(), TransportError> {
        send_paced(&self.dc, &self.low, &frame).await
    }
}

type Phases = (
    mpsc::UnboundedSender<(&'static str, Instant)>,
    mpsc::UnboundedReceiver<(&'static str, Instant)>,
);

/// Reports the `ice` and `dtls` phases of a client-side peer.
fn watch_phases(pc: &RTCPeerConnection) -> Phases {
    let (ph_tx, ph_rx) = mpsc::unbounded_channel::<(&'static str, Instant)>();
    let p = ph_tx.clone();
    pc.on_ice_connection_state_change(Box::new(move |s| {
        if s == RTCIceConnectionState::Connected {
            let _ = p.send(("ice", Instant::now()));
        }
        Box::pin(async {})
    }));
    let p = ph_tx.clone();
    pc.on_peer_connection_state_change(Box::new(move |s| {
        // webrtc-rs reports Connected once ICE and DTLS are both up.
        if s == RTCPeerConnectionState::Connected {
            let _ = p.send(("dtls", Instant::now()));
        }
        Box::pin(async {})
    }));
    (ph_tx, ph_rx)
}

/// Client side: offers one channel, signals (to the server, or through it to a peer), and waits
/// for the channel to open.
pub async fn connect(
    target: &Target,
    opts: ChannelOpts,
    to: Signal,
) -> Result<Connection, TransportError> {
    let negotiated = opts.negotiated();
    if negotiated.is_some_and(|n| n.snap) {
        return Err(TransportError::Protocol(
            "webrtc-rs does not exchange SCTP INIT in the SDP (SNAP); str0m does".into(),
        ));
    }
    let early = open_early(target, &opts).await?;
    let t0 = Instant::now();
    // webrtc-rs gathers host candidates from interface addresses only, so a spread loopback
    // source (127.0.0.2, … which lo routes but does not list) is not used.
    let pc = peer(local_ip_towards(target.addr)?, target.ice.as_ref()).await?;
    let (ph_tx, mut ph_rx) = watch_phases(&pc);
    let init = channel_init(opts.reliable, negotiated.is_some());
    let dc = pc
        .create_data_channel(CHANNEL_LABEL, Some(init))
        .await
        .map_err(|e| err("creating the channel", e))?;
    let (open_tx, open_rx) = oneshot::channel::<Arc<DataChannel>>();
    let p = ph_tx.clone();
    on_open_detached(&dc, move |dc| {
        let _ = p.send(("channel", Instant::now()));
        let _ = open_tx.send(dc);
        std::future::ready(())
    });
    let offer = pc
        .create_offer(None)
        .await
        .map_err(|e| err("creating the offer", e))?;
    let sdp = complete_local(&pc, offer).await?;
    // Candidate gathering (STUN binding, TURN allocation) ends before the offer goes out.
    let _ = ph_tx.send(("gather", Instant::now()));
    let (answer, session) = signal(target, sdp, to, &opts, early).await?;
    let signalled = Instant::now();
    let answer = RTCSessionDescription::answer(answer).map_err(|e| err("invalid SDP answer", e))?;
    pc.set_remote_description(answer)
        .await
        .map_err(|e| err("applying the answer", e))?;
    let dc = match tokio::time::timeout(OPEN_TIMEOUT, open_rx).await {
        Ok(Ok(dc)) => dc,
        _ => {
            let _ = pc.close().await;
            return Err(TransportError::Timeout(format!(
                "data channel open ({} s) after signalling to {session}",
                OPEN_TIMEOUT.as_secs()
            )));
        }
    };
    let mut setup = setup_from(t0, signalled, &mut ph_rx);
    setup.ice_path = selected_path(&pc).await;
    Ok(client_connection(pc, dc, setup))
}

/// Relay receiver: takes the offer addressed to this client, answers it through the server,
/// and waits for the offerer's channel (peer to peer).
pub async fn accept_peer(target: &Target) -> Result<Connection, TransportError> {
    let (offer, session) = relay_take_offer(target).await?;
    let t0 = Instant::now();
    let offer = RTCSessionDescription::offer(offer).map_err(|e| err("invalid SDP offer", e))?;
    let pc = peer(local_ip_towards(target.addr)?, target.ice.as_ref()).await?;
    let (ph_tx, mut ph_rx) = watch_phases(&pc);
    let gathered = ph_tx.clone();
    let (open_tx, open_rx) = oneshot::channel::<Arc<DataChannel>>();
    let open_tx = Arc::new(Mutex::new(Some(open_tx)));
    pc.on_data_channel(Box::new(move |dc: Arc<RTCDataChannel>| {
        // The offerer's first channel is the one; later ones are ignored.
        if let Some(tx) = open_tx.lock().ok().and_then(|mut g| g.take()) {
            let p = ph_tx.clone();
            on_open_detached(&dc, move |dc| {
                let _ = p.send(("channel", Instant::now()));
                let _ = tx.send(dc);
                std::future::ready(())
            });
        }
        Box::pin(async {})
    }));
    let sdp = answer_offer(&pc, offer).await?;
    let _ = gathered.send(("gather", Instant::now()));
    relay_answer(target, &session, sdp).await?;
    let signalled = Instant::now();
    let dc = match tokio::time::timeout(OPEN_TIMEOUT, open_rx).await {
        Ok(Ok(dc)) => dc,
        _ => {
            let _ = pc.close().await;
            return Err(TransportError::Timeout(format!(
                "data channel open ({} s) after answering {session}",
                OPEN_TIMEOUT.as_secs()
            )));
        }
    };
    let mut setup = setup_from(t0, signalled, &mut ph_rx);
    setup.ice_path = selected_path(&pc).await;
    Ok(client_connection(pc, dc, setup))
}

/// The connection of a client-side peer whose channel is open (and detached).
fn client_connection(
    pc: Arc<RTCPeerConnection>,
    dc: Arc<DataChannel>,
    setup: super::api::Setup,
) -> Connection {
    let low = watch_low(&dc);
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    read_frames(dc.clone(), in_tx);
    // The peer connection lives as long as the sink; the stream ends when it closes.
    let closed_pc = pc.clone();
    let in_done = Arc::new(Notify::new());
    let done = in_done.clone();
    closed_pc.on_peer_connection_state_change(Box::new(move |s| {
        if matches!(
            s,
            RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
                | RTCPeerConnectionState::Disconnected
        ) {
            done.notify_one();
        }
        Box::pin(async {})
    }));
    Connection {
        sink: Box::new(RtcRsSink {
            dc,
            pc: Some(pc),
            low,
        }),
        stream: Box::new(RtcRsStream {
            rx: in_rx,
            done: in_done,
        }),
        setup,
    }
}

struct RtcRsSink {
    dc: Arc<DataChannel>,
    pc: Option<Arc<RTCPeerConnection>>,
    low: Arc<Notify>,
}

#[async_trait]
impl FrameSink for RtcRsSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        if self.pc.is_none() {
            return Err(TransportError::Closed);
        }
        check_size(&frame)?;
        send_paced(&self.dc, &self.low, &frame).await
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        if let Some(pc) = self.pc.take() {
            pc.close().await.map_err(|e| err("close", e))?;
        }
        Ok(())
    }
}

impl Drop for RtcRsSink {
    fn drop(&mut self) {
        if let Some(pc) = self.pc.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = pc.close().await;
                });
            }
        }
    }
}

struct RtcRsStream {
    rx: mpsc::UnboundedReceiver<Bytes>,
    done: Arc<Notify>,
}

#[async_trait]
impl FrameStream for RtcRsStream {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        tokio::select! {
            biased;
            f = self.rx.recv() => Ok(f),
            _ = self.done.notified() => Ok(self.rx.try_recv().ok()),
        }
    }
}
