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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Most bytes a channel holds unacknowledged before the sender waits, unless
/// `RTC_LOOP_BUFFERED` says otherwise (an experiment knob).
fn max_buffered() -> usize {
    std::env::var("RTC_LOOP_BUFFERED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20)
}
const WARMUP: Duration = Duration::from_millis(500);
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// What both peers of one run share: the receiver's byte count, the stop switch, and whether
/// the channel is open at the receiver.
#[derive(Default)]
struct Meter {
    received: AtomicU64,
    open: AtomicBool,
    stop: AtomicBool,
}

#[derive(Clone, Copy, PartialEq)]
enum Lib {
    Str0m,
    WebrtcRs,
}

struct Args {
    lib: Lib,
    upload: bool,
    sizes: Vec<usize>,
    secs: f64,
    repeat: u32,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        lib: Lib::Str0m,
        upload: false,
        sizes: vec![],
        secs: 3.0,
        repeat: 1,
    };
    let mut lib = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match a.as_str() {
            "str0m" => lib = Some(Lib::Str0m),
            "webrtc-rs" => lib = Some(Lib::WebrtcRs),
            "download" => args.upload = false,
            "upload" => args.upload = true,
            "--size" => args.sizes.push(value("--size")?.parse().context("--size")?),
            "--secs" => args.secs = value("--secs")?.parse().context("--secs")?,
            "--repeat" => args.repeat = value("--repeat")?.parse().context("--repeat")?,
            other => bail!("unknown argument {other:?} (str0m|webrtc-rs, download|upload, --size, --secs, --repeat)"),
        }
    }
    args.lib = lib.ok_or_else(|| anyhow!("name the library: str0m or webrtc-rs"))?;
    if args.sizes.is_empty() {
        args.sizes = vec![1024, 16384, 65536];
    }
    if let Some(s) = args.sizes.iter().find(|&&s| s == 0 || s > 65_536) {
        bail!("--size {s}: 1 to 65536 bytes (the SDP default max-message-size)");
    }
    Ok(args)
}

/// Pins the calling thread to `cpu` (ignored where the machine has fewer CPUs).
fn pin(cpu: usize) {
    // SAFETY: sched_setaffinity reads the stack-local, fully initialised cpu_set_t whose size
    // it is given; 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Waits for the receiver's channel, then measures `secs` after the warm-up: Mbit/s received.
fn measure(m: &Meter, secs: f64) -> Result<f64> {
    let t = Instant::now();
    while !m.open.load(Ordering::Relaxed) {
        if t.elapsed() > Duration::from_secs(10) || m.stop.load(Ordering::Relaxed) {
            m.stop.store(true, Ordering::Relaxed);
            bail!("the channel did not open within 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let (b0, t0) = (m.received.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (b1, t1) = (m.received.load(Ordering::Relaxed), Instant::now());
    m.stop.store(true, Ordering::Relaxed);
    Ok((b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e6)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    for &size in &args.sizes {
        for _ in 0..args.repeat {
            let meter = Arc::new(Meter::default());
            let peers = match args.lib {
                Lib::Str0m => str0m_loop::start(size, args.upload, meter.clone())?,
                Lib::WebrtcRs => rtcrs_loop::start(size, args.upload, meter.clone()),
            };
            let rate = measure(&meter, args.secs);
            for p in peers {
                p.join()
                    .map_err(|_| anyhow!("a peer thread panicked"))?
                    .context("peer")?;
            }
            let name = if args.lib == Lib::Str0m {
                "str0m"
            } else {
                "webrtc-rs"
            };
            let dir = if args.upload { "upload" } else { "download" };
            println!("{name} {dir} size={size} mbit_s={:.1}", rate?);
        }
    }
    Ok(())
}

type PeerThread = std::thread::JoinHandle<Result<()>>;

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
        while !m.stop.load(Ordering::Relaxed) {
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
                            m.open.store(true, Ordering::Relaxed);
                        }
                    }
                    Output::Event(Event::ChannelData(d)) => {
                        m.received.fetch_add(d.data.len() as u64, Ordering::Relaxed);
                    }
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
        while !m.stop.load(Ordering::Relaxed) {
            if let Err(e) = dc.write(&frame).await {
                // The other peer may close first once the run is over.
                return if m.stop.load(Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err(e.into())
                };
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
        m.open.store(true, Ordering::Relaxed);
        let counted = m.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n @ 1..) = dc.read(&mut buf).await {
                counted.received.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
        while !m.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn runtime_thread<F>(cpu: usize, f: F) -> PeerThread
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        std::thread::spawn(move || {
            pin(cpu);
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(f)
        })
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
        let offerer = runtime_thread(1, async move {
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
        let answerer = runtime_thread(0, async move {
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
