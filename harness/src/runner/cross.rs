//! Competing traffic (workload key `cross_traffic`): bulk TCP uploads from the first client host
//! to the server's host over the same emulated access link as the cell's own traffic, for the
//! whole cell, so the workload's messages share the bottleneck's queue with them (the
//! bufferbloat case: a backup or a video upload on the same uplink as a chat).
//!
//! The flows are plain kernel TCP sockets (the machine's congestion control, cubic by default)
//! opened inside the hosts' namespaces; threads write and discard as fast as the link lets
//! them. Nothing is spawned as a process.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wirebench_netem::{HostId, Topology};

/// Bytes per write of a bulk flow.
const CHUNK: usize = 64 * 1024;
/// How long a blocked write or read waits before looking at the stop flag again.
const POLL: Duration = Duration::from_millis(100);

/// What the competing flows achieved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CrossFigures {
    /// Flows run.
    pub flows: u32,
    /// Their goodput together, Mbit/s (bytes the server's side read over the time they ran).
    pub goodput_mbit: f64,
}

/// Running bulk flows; dropping them stops them.
pub(crate) struct CrossTraffic {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
    flows: u32,
    started: Instant,
}

impl std::fmt::Debug for CrossTraffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrossTraffic")
            .field("flows", &self.flows)
            .finish()
    }
}

impl CrossTraffic {
    /// Starts `flows` bulk TCP uploads from client host 1 to the server's host.
    pub fn start(topo: &Topology, flows: u32) -> anyhow::Result<Self> {
        let server_ip = topo.server().addr;
        let listener = topo
            .run_in(HostId::SERVER, || {
                TcpListener::bind(SocketAddr::new(server_ip, 0))
            })?
            .context("cross traffic: listening on the server's host")?;
        let addr = listener.local_addr()?;
        let mut me = Self {
            stop: Arc::new(AtomicBool::new(false)),
            received: Arc::new(AtomicU64::new(0)),
            threads: Vec::new(),
            flows,
            started: Instant::now(),
        };
        for i in 0..flows {
            let up = topo
                .run_in(HostId::client(1), || TcpStream::connect(addr))?
                .with_context(|| format!("cross traffic: connecting flow {} to {addr}", i + 1))?;
            let (down, _) = listener
                .accept()
                .context("cross traffic: accepting a flow")?;
            for s in [&up, &down] {
                s.set_write_timeout(Some(POLL))?;
                s.set_read_timeout(Some(POLL))?;
            }
            me.threads.push(sender(up, Arc::clone(&me.stop)));
            me.threads
                .push(sink(down, Arc::clone(&me.stop), Arc::clone(&me.received)));
        }
        me.started = Instant::now();
        Ok(me)
    }

    /// Stops the flows and says what they achieved.
    pub fn stop(mut self) -> CrossFigures {
        self.halt();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        CrossFigures {
            flows: self.flows,
            goodput_mbit: self.received.load(Ordering::Relaxed) as f64 * 8.0 / secs / 1e6,
        }
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for CrossTraffic {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Writes zeros as fast as the connection takes them, until stopped or the peer goes.
fn sender(mut s: TcpStream, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let buf = vec![0u8; CHUNK];
        while !stop.load(Ordering::Relaxed) {
            match s.write(&buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
    })
}

/// Reads and discards, counting bytes, until stopped or the sender closes.
fn sink(mut s: TcpStream, stop: Arc<AtomicBool>, received: Arc<AtomicU64>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        while !stop.load(Ordering::Relaxed) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    received.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
    })
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
