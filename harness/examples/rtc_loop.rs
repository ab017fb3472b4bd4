//! The WebRTC libraries' own bulk speed, as a yardstick for the harness's `download` and
//! `upload` figures (docs/throughput.md): two peers of one library in one process, each on its
//! own thread pinned to its own CPU (as `wirebench run --pin` pins the server agent to CPU 0 and
//! the client agent to CPU 1), a reliable ordered data channel between their UDP sockets on
//! loopback, one peer sending fixed-size binary messages as fast as the channel takes them
//! (1 MiB buffered at most, as the harness), the other counting what arrives.
//!
//! ```text
//! cargo run --release -p wirebench --example rtc_loop -- str0m|webrtc-rs [download|upload]
//!     [--size BYTES]... [--secs S] [--repeat N]
//! ```
//!
//! `download`: the answerer (the harness's server) sends to the offerer (its client);
//! `upload`: the other way. Prints one line per run: library, direction, size, Mbit/s of
//! message payload received over `--secs` after a 0.5 s warm-up.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

#[path = "loop_common/mod.rs"]
mod common;
use common::{pin, runtime_thread, Meter, PeerThread};

/// Most bytes a channel holds unacknowledged before the sender waits, unless
/// `RTC_LOOP_BUFFERED` says otherwise (an experiment knob).
fn max_buffered() -> usize {
    std::env::var("RTC_LOOP_BUFFERED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20)
}
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn main() -> Result<()> {
    let args = common::parse_args()?;
    let lib = match args.words.as_slice() {
        [w] if w == "str0m" || w == "webrtc-rs" => w.clone(),
        _ => bail!(
            "name the library: str0m or webrtc-rs (then download|upload, --size, --secs, --repeat)"
        ),
    };
    if let Some(s) = args.sizes.iter().find(|&&s| s > 65_536) {
        bail!("--size {s}: at most 65536 bytes (the SDP default max-message-size)");
    }
    let upload = args.upload;
    common::run_all(&args, &lib, |size, m| {
        if lib == "str0m" {
            str0m_loop::start(size, upload, m)
        } else {
            Ok(rtcrs_loop::start(size, upload, m))
        }
    })
}

/// str0m: each peer a blocking loop over its sans-IO `Rtc` and a UDP socket — after every input
/// (a datagram or a timeout) the sender hands SCTP what it takes and all output is drained.
mod str0m_loop {
    use super::*;
    use str0m::channel::{ChannelConfig, ChannelId, Reliability};
    use str0m::net::{Protocol, Receive};
    use str0m::{Candidate, Event, Input, Output, Rtc};

    fn peer() -> Result<(Rtc, UdpSocket)> {
        let sock = UdpSocket::bind((LOOPBACK, 0))?;
        sock.set_nonblocking(true)?;
        let mut rtc = Rtc::builder()
            .set_sctp_max_buffered_amount(max_buffered())
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(sock.local_addr()?, "udp")?);
        Ok((rtc, sock))
    }

    pub fn start(size: usize, upload: bool, m: Arc<Meter>) -> Result<Vec<PeerThread>> {
        let (mut offerer, osock) = peer()?;
        let (mut answerer, asock) = peer()?;
        let mut api = offerer.sdp_api();
        api.add_channel_with_config(ChannelConfig {
            label: "bulk".into(),
            ordered: true,
            reliability: Reliability::Reliable,
            ..Default::default()
        });
        let (offer, pending) = api.apply().ok_or_else(|| anyhow!("no offer"))?;
        let answer = answerer.sdp_api().accept_offer(offer)?;
        offerer.sdp_api().accept_answer(pending, answer)?;
        let m2 = m.clone();
        // The answerer is the harness's server (CPU 0), the offerer its client (CPU 1).
        let a =
            std::thread::spawn(move || drive(answerer, asock, (!upload).then_some(size), m2, 0));
        let o = std::thread::spawn(move || drive(offerer, osock, upload.then_some(size), m, 1));
        Ok(vec![a, o])
    }

    /// Waits until `sock` is readable or `wait` passes.
    fn wait_readable(sock: &UdpSocket, wait: Duration) {
        let mut fds = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd and a valid timespec, both on the stack; no signal mask.
        unsafe { libc::ppoll(&mut fds, 1, &ts, std::ptr::null()) };
    }

    fn drive(
        mut rtc: Rtc,
        sock: UdpSocket,
        send: Option<usize>,
        m: Arc<Meter>,
        cpu: usize,
    ) -> Result<()> {
        pin(cpu);
        let local = sock.local_addr()?;
        let frame = vec![0xa5u8; send.unwrap_or(1)];
        let mut buf = vec![0u8; 2048];
        let mut cid: Option<ChannelId> = None;
        while !m.stopped() {
            if let (Some(c), Some(_)) = (cid, send) {
                while let Some(mut ch) = rtc.channel(c) {
                    if !ch.write(true, &frame)? {
                        break;
                    }
                }
            }
            let deadline = loop {
                match rtc.poll_output()? {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = sock.send_to(&t.contents, t.destination);
                    }
                    Output::Event(Event::ChannelOpen(c, _)) => {
                        cid = Some(c);
                        if send.is_none() {
                            m.opened();
                        }
                    }
                    Output::Event(Event::ChannelData(d)) => m.count(d.data.len()),
                    Output::Event(_) => {}
                }
            };
            match sock.recv_from(&mut buf) {
                Ok((n, source)) => feed(&mut rtc, &buf[..n], source, local)?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        wait_readable(&sock, wait.min(Duration::from_millis(50)));
                    }
                    rtc.handle_input(Input::Timeout(Instant::now()))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn feed(rtc: &mut Rtc, data: &[u8], source: SocketAddr, local: SocketAddr) -> Result<()> {
        let Ok(contents) = data.try_into() else {
            return Ok(());
        };
        rtc.handle_input(Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: local,
                contents,
            },
        ))?;
        Ok(())
    }
}

/// webrtc-rs: each peer on its own single-threaded tokio runtime (as an agent runs), its channel
/// detached once open and read into a 64 KiB buffer (webrtc-rs's own read loop stops at 65,535
/// bytes), the sender in the library's flow-control pattern (send; above the maximum, wait for
/// `bufferedamountlow` at half of it).
mod rtcrs_loop {
    use super::*;
    use tokio::sync::{oneshot, Notify};
    use webrtc::api::setting_engine::SettingEngine;
    use webrtc::api::APIBuilder;
    use webrtc::data::data_channel::DataChannel;
    use webrtc::data_channel::RTCDataChannel;
    use webrtc::ice::mdns::MulticastDnsMode;
    use webrtc::ice::network_type::NetworkType;
    use webrtc::peer_connection::configuration::RTCConfiguration;
    use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
    use webrtc::peer_connection::RTCPeerConnection;

    async fn peer() -> Result<Arc<RTCPeerConnection>> {
        let mut s = SettingEngine::default();
        s.set_include_loopback_candidate(true);
        s.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
        s.set_ip_filter(Box::new(|ip| ip == std::net::IpAddr::from(LOOPBACK)));
        s.set_network_types(vec![NetworkType::Udp4]);
        s.detach_data_channels();
        let api = APIBuilder::new().with_setting_engine(s).build();
        Ok(Arc::new(
            api.new_peer_connection(RTCConfiguration::default()).await?,
        ))
    }

    async fn complete_local(pc: &RTCPeerConnection, d: RTCSessionDescription) -> Result<String> {
        let mut gathered = pc.gathering_complete_promise().await;
        pc.set_local_description(d).await?;
        let _ = gathered.recv().await;
        Ok(pc
            .local_description()
            .await
            .ok_or_else(|| anyhow!("no local description"))?
            .sdp)
    }

    /// The channel, detached, once it opens.
    fn detached(dc: &Arc<RTCDataChannel>) -> oneshot::Receiver<Arc<DataChannel>> {
        let (tx, rx) = oneshot::channel();
        let d = dc.clone();
        dc.on_open(Box::new(move || {
            Box::pin(async move {
                if let Ok(ch) = d.detach().await {
                    let _ = tx.send(ch);
                }
            })
        }));
        rx
    }

    /// Sends until stopped, holding at most [`max_buffered`] bytes in the channel.
    async fn send(dc: Arc<DataChannel>, size: usize, m: &Meter) -> Result<()> {
        let low = Arc::new(Notify::new());
        dc.set_buffered_amount_low_threshold(max_buffered() / 2);
        let l = low.clone();
        dc.on_buffered_amount_low(Box::new(move || {
            l.notify_one();
            Box::pin(async {})
        }));
        let frame = bytes::Bytes::from(vec![0xa5u8; size]);
        while !m.stopped() {
            if let Err(e) = dc.write(&frame).await {
                // The other peer may close first once the run is over.
                return if m.stopped() { Ok(()) } else { Err(e.into()) };
            }
            if dc.buffered_amount() > max_buffered() {
                let _ = tokio::time::timeout(Duration::from_millis(100), low.notified()).await;
            }
        }
        Ok(())
    }

    /// Counts what arrives on `dc` (in its own task, as webrtc-rs's read loop) until the run
    /// stops.
    async fn count(dc: Arc<DataChannel>, m: &Arc<Meter>) {
        m.opened();
        let counted = m.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n @ 1..) = dc.read(&mut buf).await {
                counted.count(n);
            }
        });
        m.until_stopped().await;
    }

    /// Sends (`send`) or counts on the open channel until the run stops.
    async fn run(ch: Arc<DataChannel>, send_size: Option<usize>, m: &Arc<Meter>) -> Result<()> {
        match send_size {
            Some(size) => send(ch, size, m).await,
            None => {
                count(ch, m).await;
                Ok(())
            }
        }
    }

    pub fn start(size: usize, upload: bool, m: Arc<Meter>) -> Vec<PeerThread> {
        let (offer_tx, offer_rx) = oneshot::channel::<String>();
        let (answer_tx, answer_rx) = oneshot::channel::<String>();
        let (dc_tx, dc_rx) = oneshot::channel();
        let mo = m.clone();
        let offerer = runtime_thread(1, m.clone(), async move {
            let pc = peer().await?;
            let dc = pc.create_data_channel("bulk", None).await?;
            let open = detached(&dc);
            let offer = pc.create_offer(None).await?;
            let _ = offer_tx.send(complete_local(&pc, offer).await?);
            let answer = answer_rx.await?;
            pc.set_remote_description(RTCSessionDescription::answer(answer)?)
                .await?;
            run(open.await?, upload.then_some(size), &mo).await?;
            pc.close().await?;
            Ok(())
        });
        let answerer = runtime_thread(0, m.clone(), async move {
            let pc = peer().await?;
            let dc_tx = std::sync::Mutex::new(Some(dc_tx));
            pc.on_data_channel(Box::new(move |dc: Arc<RTCDataChannel>| {
                if let Some(t) = dc_tx.lock().ok().and_then(|mut g| g.take()) {
                    let _ = t.send(detached(&dc));
                }
                Box::pin(async {})
            }));
            let offer = offer_rx.await?;
            pc.set_remote_description(RTCSessionDescription::offer(offer)?)
                .await?;
            let answer = pc.create_answer(None).await?;
            let _ = answer_tx.send(complete_local(&pc, answer).await?);
            let open = dc_rx.await?;
            run(open.await?, (!upload).then_some(size), &m).await?;
            pc.close().await?;
            Ok(())
        });
        vec![answerer, offerer]
    }
}
