//! The measurements behind `netem check`, over a live [`Topology`]: UDP round trips through an
//! echo server, paced UDP streams (what arrives, receive-side goodput) and bulk TCP goodput.
//! They return numbers; [`crate::check`] compares them with what the profile promises.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::NetemError;
use crate::link::HostId;
use crate::topology::Topology;

/// UDP round trips: probes sent, and the RTT of each that came back, ms.
pub(crate) struct RttResult {
    pub(crate) sent: u64,
    pub(crate) rtts: Vec<f64>,
}

/// A UDP echo responder in the server namespace until `stop`.
fn echo_server(
    topo: &Topology,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, NetemError> {
    let sock = topo
        .run_in(HostId::SERVER, move || UdpSocket::bind(addr))?
        .map_err(|e| NetemError::io(format!("binding UDP {addr} in the server namespace"), e))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    Ok(std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(&buf[..n], from);
            }
        }
    }))
}

/// Sends `probes` UDP probes (64 bytes, every 10 ms) from client 1 to an echo server at
/// `server_ip` and times the replies.
pub(crate) fn measure_rtt(
    topo: &Topology,
    server_ip: std::net::IpAddr,
    probes: u32,
) -> Result<RttResult, NetemError> {
    let addr = SocketAddr::new(server_ip, 9001);
    let stop = Arc::new(AtomicBool::new(false));
    let echo = echo_server(topo, addr, Arc::clone(&stop))?;
    let sock = topo
        .run_in(HostId::client(1), || UdpSocket::bind("0.0.0.0:0"))?
        .map_err(|e| NetemError::io("binding UDP in the client namespace", e))?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    let epoch = Instant::now();
    let recv_sock = sock
        .try_clone()
        .map_err(|e| NetemError::io("cloning a socket", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = Arc::clone(&done);
    let receiver = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut rtts = Vec::new();
        let mut buf = [0u8; 128];
        while !done2.load(Ordering::Relaxed) {
            if let Ok(n) = recv_sock.recv(&mut buf) {
                let now = epoch.elapsed().as_nanos() as u64;
                if n == 64 {
                    let sent = u64::from_le_bytes(buf[8..16].try_into().unwrap_or([0; 8]));
                    rtts.push(now.saturating_sub(sent) as f64 / 1e6);
                }
            }
        }
        rtts
    });
    let sender = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut payload = [0u8; 64];
        let gap = crate::check_jitter::PROBE_GAP;
        for i in 0..probes as u64 {
            let target = gap * i as u32;
            let el = epoch.elapsed();
            if target > el {
                std::thread::sleep(target - el);
            }
            payload[..8].copy_from_slice(&i.to_le_bytes());
            payload[8..16].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
            let _ = sock.send_to(&payload, addr);
        }
    });
    let _ = sender.join();
    // Wait for stragglers: up to 3 s (satellite RTT is 0.6 s).
    std::thread::sleep(Duration::from_millis(1500));
    done.store(true, Ordering::Relaxed);
    let rtts = receiver.join().unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    Ok(RttResult {
        sent: probes as u64,
        rtts,
    })
}

/// A UDP stream: datagrams that arrived, and the receive-side goodput, Mbit/s.
pub(crate) struct StreamResult {
    pub(crate) packets: u64,
    pub(crate) goodput_mbit: f64,
}

/// Sends `n` UDP datagrams of `size` payload bytes from one host to another at `pps` (in bursts
/// of `burst`); counts what arrives and the receive-side goodput.
pub(crate) fn udp_stream(
    topo: &Topology,
    from: HostId,
    to: HostId,
    size: usize,
    pps: f64,
    n: u64,
    burst: u64,
) -> Result<StreamResult, NetemError> {
    let to_addr = SocketAddr::new(topo.host(to)?.addr, 9002);
    let rx = topo
        .run_in(to, move || UdpSocket::bind(to_addr))?
        .map_err(|e| NetemError::io(format!("binding UDP {to_addr}"), e))?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    let tx = topo
        .run_in(from, || UdpSocket::bind("0.0.0.0:0"))?
        .map_err(|e| NetemError::io("binding UDP sender", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = Arc::clone(&done);
    set_rcvbuf(&rx, 8 << 20);
    let received = Arc::new(AtomicU64::new(0));
    let received2 = Arc::clone(&received);
    let receiver = std::thread::spawn(move || count_arrivals(&rx, &done2, &received2));
    let sender = std::thread::spawn(move || send_paced(&tx, to_addr, size, pps, n, burst));
    let _ = sender.join();
    // Drain: until everything arrived, or 3 s (delay line + a full 3G queue, with room for a
    // stalled machine).
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && received.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    done.store(true, Ordering::Relaxed);
    let (packets, goodput_mbit) = receiver.join().unwrap_or((0, 0.0));
    Ok(StreamResult {
        packets,
        goodput_mbit,
    })
}

/// Receives until `done`: (datagrams, goodput in Mbit/s from the first arrival to the last),
/// keeping `received` up to date.
fn count_arrivals(rx: &UdpSocket, done: &AtomicBool, received: &AtomicU64) -> (u64, f64) {
    crate::sys::set_realtime();
    let mut buf = vec![0u8; 65536];
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        if let Ok(len) = rx.recv(&mut buf) {
            let now = Instant::now();
            if first.is_none() {
                first = Some(now);
            } else {
                bytes += len as u64;
            }
            count += 1;
            received.store(count, Ordering::Relaxed);
            last = now;
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    (
        count,
        if secs > 0.0 {
            bytes as f64 * 8.0 / secs / 1e6
        } else {
            0.0
        },
    )
}

/// Sends `n` datagrams of `size` bytes to `to` at `pps`, in bursts of `burst`.
fn send_paced(tx: &UdpSocket, to: SocketAddr, size: usize, pps: f64, n: u64, burst: u64) {
    crate::sys::set_realtime();
    let payload = vec![0u8; size];
    let mut start = Instant::now();
    let burst = burst.max(1);
    let mut sent = 0u64;
    while sent < n {
        let target = Duration::from_secs_f64(sent as f64 / pps);
        let el = start.elapsed();
        if target > el {
            std::thread::sleep(target - el);
        } else if el - target > Duration::from_millis(5) {
            // Stalled (busy machine): drop the schedule debt instead of bursting it into the
            // bottleneck queue, which would turn into queue drops counted as loss.
            start = Instant::now() - target;
        }
        for _ in 0..burst.min(n - sent) {
            let _ = tx.send_to(&payload, to);
            sent += 1;
        }
    }
}

/// Best effort: a larger socket receive buffer (SO_RCVBUFFORCE, we are root; else SO_RCVBUF).
fn set_rcvbuf(sock: &UdpSocket, bytes: i32) {
    use std::os::fd::AsRawFd;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt with a live i32 and its size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// Bulk TCP from one host to another for `secs`; goodput over the second half, Mbit/s.
pub(crate) fn tcp_goodput(
    topo: &Topology,
    from: HostId,
    to: HostId,
    secs: f64,
) -> Result<f64, NetemError> {
    let to_addr = SocketAddr::new(topo.host(to)?.addr, 9003);
    let listener = topo
        .run_in(to, move || TcpListener::bind(to_addr))?
        .map_err(|e| NetemError::io(format!("listening on {to_addr}"), e))?;
    let total = Duration::from_secs_f64(secs);
    let received = Arc::new(AtomicU64::new(0));
    let rx_count = Arc::clone(&received);
    let receiver = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            rx_count.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let stream = topo
        .run_in(from, move || {
            TcpStream::connect_timeout(&to_addr, Duration::from_secs(10))
        })?
        .map_err(|e| NetemError::io(format!("connecting to {to_addr}"), e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let sender = std::thread::spawn(move || {
        let mut s = stream;
        let buf = vec![0u8; 128 * 1024];
        while !stop2.load(Ordering::Relaxed) {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let start = Instant::now();
    std::thread::sleep(total / 2);
    let b0 = received.load(Ordering::Relaxed);
    let t0 = start.elapsed();
    std::thread::sleep(total / 2);
    let b1 = received.load(Ordering::Relaxed);
    let t1 = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    let _ = receiver.join();
    Ok((b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e6)
}
