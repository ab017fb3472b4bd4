//! The userspace backend: a TUN device per host namespace and an in-process router that moves
//! IP packets between them through the emulator core ([`crate::core::LinkCore`]).
//!
//! Threads, per host: a reader (drains the host's TUN, routes by destination address, pushes the
//! packet through the host's `up` core and the destination's `down` core, delivering inline
//! whatever is due at once) and one release thread per direction that sleeps until the next
//! deadline of its core (timer slack 1 ns) and delivers what is due. Unshaped directions never
//! wake a release thread: packets cross in the reader's own call.
//!
//! TUN offloads (TSO/checksum, GSO super-packets) are on for a host only while every link its
//! packets can cross is unshaped and not cut, so rate and loss always see MTU-sized packets.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::LinkCore;
use crate::error::NetemError;
use crate::link::{
    addr_host, host_addr, ns_name, BackendKind, HostId, LinkBackend, LinkCounters, NetHost,
    Offload, TopologySpec,
};
use crate::netns::{create_netns, destroy_netns};
use crate::profile::{Direction, Profile};
use crate::sys::{self, VNET_HDR_LEN};

/// Name of the TUN device inside each host namespace.
pub const TUN_NAME: &str = "wb0";
/// On quiet links, release threads wake this long before a deadline and spin the rest (timer
/// wake-ups are late by tens of µs); busy links just sleep until the deadline.
const SPIN: Duration = Duration::from_micros(50);

/// Spinning is only worth its CPU on lightly used links: not within this long of the previous
/// release.
const SPIN_QUIET: Duration = Duration::from_millis(1);

/// Transmit queue length of the TUN devices (the default 500 drops under load).
pub const TXQUEUELEN: u32 = 5000;

#[derive(Clone)]
struct Pkt {
    buf: Vec<u8>,
    src: usize,
    dst: usize,
}

/// A stage of the router a release thread drives.
#[derive(Clone, Copy)]
enum Stage {
    /// Host h's up link: then the pair path (if any) or the destination's down link.
    Up(usize),
    /// Host h's down link: then its TUN.
    Down(usize),
    /// Extra pair path i: then the destination's down link.
    Path(usize),
}

struct DirState {
    core: LinkCore<Pkt>,
    /// Deadline the release thread sleeps until (None: awake, Some(MAX): idle).
    sleeping_until: Option<Duration>,
}

struct Dir {
    state: Mutex<DirState>,
    cv: Condvar,
}

impl Dir {
    fn lock(&self) -> MutexGuard<'_, DirState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers a packet; returns what is due at once. The time is read under the lock, so the
    /// core sees it in order.
    fn offer(&self, epoch: &Instant, pkt: Pkt, due: &mut Vec<Pkt>) {
        let len = pkt.buf.len().saturating_sub(VNET_HDR_LEN);
        let mut st = self.lock();
        let now = epoch.elapsed();
        if st.core.needs_flow_key() {
            // fq_codel only: drop-tail and codel links skip the parse.
            let flow = flow_key(&pkt.buf);
            st.core.send_flow(now, pkt, len, flow);
        } else {
            st.core.send(now, pkt, len);
        }
        while let Some(p) = st.core.poll_transmit(now) {
            due.push(p);
        }
        if let (Some(next), Some(sleep)) = (st.core.next_deadline(), st.sleeping_until) {
            if next < sleep {
                st.sleeping_until = None;
                self.cv.notify_one();
            }
        }
    }
}

struct HostLink {
    tun: OwnedFd,
    up: Dir,
    down: Dir,
    cut: AtomicBool,
    offload_on: AtomicBool,
    unroutable: AtomicU64,
    write_errors: AtomicU64,
}

struct PairPath {
    dir: Dir,
}

/// The pair paths and the index from (source, destination) host to path.
type PairPaths = (Vec<PairPath>, HashMap<(usize, usize), usize>);

struct Shared {
    links: Vec<HostLink>,
    /// Extra delay stages between pairs of hosts (one per direction).
    paths: Vec<PairPath>,
    /// (src, dst) → index in `paths`.
    path_index: HashMap<(usize, usize), usize>,
    stop: AtomicBool,
    stop_fd: OwnedFd,
    epoch: Instant,
    offload: Offload,
    realtime: bool,
}

impl Shared {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn enter_up(&self, src: usize, pkt: Pkt) {
        let mut due = Vec::new();
        self.links[src].up.offer(&self.epoch, pkt, &mut due);
        for p in due {
            self.enter_path(p);
        }
    }

    fn enter_path(&self, pkt: Pkt) {
        let Some(i) = self.path_index.get(&(pkt.src, pkt.dst)).copied() else {
            return self.enter_down(pkt);
        };
        let mut due = Vec::new();
        self.paths[i].dir.offer(&self.epoch, pkt, &mut due);
        for p in due {
            self.enter_down(p);
        }
    }

    fn enter_down(&self, pkt: Pkt) {
        let dst = pkt.dst;
        let Some(link) = self.links.get(dst) else {
            return;
        };
        let mut due = Vec::new();
        link.down.offer(&self.epoch, pkt, &mut due);
        for p in due {
            self.deliver(dst, &p);
        }
    }

    /// Fast path: both links unshaped and idle, no pair path: count the packet through both
    /// cores and let the caller write it straight from its buffer (no copy, no heap).
    fn try_passthrough(&self, src: usize, dst: usize, frame_len: usize) -> bool {
        if self.path_index.contains_key(&(src, dst)) {
            return false;
        }
        let (Some(a), Some(b)) = (self.links.get(src), self.links.get(dst)) else {
            return false;
        };
        let len = frame_len.saturating_sub(VNET_HDR_LEN);
        let mut up = a.up.lock();
        if !up.core.is_passthrough() {
            return false;
        }
        let mut down = b.down.lock();
        if !down.core.is_passthrough() {
            return false;
        }
        up.core.record_passthrough(len);
        down.core.record_passthrough(len);
        true
    }

    fn deliver_raw(&self, dst: usize, frame: &[u8]) {
        if let Some(link) = self.links.get(dst) {
            if sys::write(link.tun.as_raw_fd(), frame).is_err() {
                link.write_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn deliver(&self, dst: usize, p: &Pkt) {
        if let Some(link) = self.links.get(dst) {
            if sys::write(link.tun.as_raw_fd(), &p.buf).is_err() {
                link.write_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn tune_thread(&self) {
        sys::set_timerslack_1ns();
        if self.realtime {
            sys::set_realtime();
        }
    }

    fn reader(&self, h: usize) {
        self.tune_thread();
        let link = &self.links[h];
        let fd = link.tun.as_raw_fd();
        let mut buf = vec![0u8; 65_536 + VNET_HDR_LEN + 256];
        while !self.stop.load(Ordering::Relaxed) {
            match sys::read(fd, &mut buf) {
                Ok(n) => {
                    let Some(dst) = route(&buf[..n]).filter(|d| *d < self.links.len() && *d != h)
                    else {
                        link.unroutable.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    if self.try_passthrough(h, dst, n) {
                        self.deliver_raw(dst, &buf[..n]);
                        continue;
                    }
                    self.enter_up(
                        h,
                        Pkt {
                            buf: buf[..n].to_vec(),
                            src: h,
                            dst,
                        },
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if sys::poll2(fd, self.stop_fd.as_raw_fd(), -1).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn releaser(&self, stage: Stage) {
        self.tune_thread();
        let d = match stage {
            Stage::Up(h) => &self.links[h].up,
            Stage::Down(h) => &self.links[h].down,
            Stage::Path(i) => &self.paths[i].dir,
        };
        let mut batch = Vec::new();
        let mut last_release = Duration::ZERO;
        loop {
            {
                let mut st = d.lock();
                loop {
                    if self.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let now = self.now();
                    while let Some(p) = st.core.poll_transmit(now) {
                        batch.push(p);
                    }
                    if !batch.is_empty() {
                        break;
                    }
                    let spin = if now.saturating_sub(last_release) > SPIN_QUIET {
                        SPIN
                    } else {
                        Duration::ZERO
                    };
                    match st.core.next_deadline() {
                        Some(t) if t.saturating_sub(now) <= spin => {
                            // Close enough: spin (without the lock) instead of paying a timer
                            // wake-up's latency.
                            drop(st);
                            while self.now() < t && !self.stop.load(Ordering::Relaxed) {
                                std::hint::spin_loop();
                            }
                            st = d.lock();
                            continue;
                        }
                        Some(t) => {
                            st.sleeping_until = Some(t);
                            st =
                                d.cv.wait_timeout(st, t.saturating_sub(now) - spin)
                                    .map(|(g, _)| g)
                                    .unwrap_or_else(|e| e.into_inner().0);
                        }
                        None => {
                            st.sleeping_until = Some(Duration::MAX);
                            st = d.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    st.sleeping_until = None;
                }
            }
            last_release = self.now();
            for p in batch.drain(..) {
                match stage {
                    Stage::Up(_) => self.enter_path(p),
                    Stage::Path(_) => self.enter_down(p),
                    Stage::Down(h) => self.deliver(h, &p),
                }
            }
        }
    }

    /// Offloads on for host h iff its up link and every other host's down link is unshaped and
    /// nothing is cut.
    fn update_offloads(&self) -> Result<(), NetemError> {
        let plain = |d: &Dir| {
            let st = d.lock();
            st.core.params().is_unshaped() && !st.core.is_cut()
        };
        let downs: Vec<bool> = self.links.iter().map(|l| plain(&l.down)).collect();
        for (h, link) in self.links.iter().enumerate() {
            let on = self.offload == Offload::Auto
                && plain(&link.up)
                && downs.iter().enumerate().all(|(j, ok)| j == h || *ok);
            if link.offload_on.swap(on, Ordering::Relaxed) != on {
                sys::tun_set_offload(&link.tun, on)?;
            }
        }
        Ok(())
    }
}

/// An independent seed for random stream `k` of a topology seeded with `seed` (SplitMix64 of
/// both), so no two cores share a random sequence.
fn stream_seed(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Destination host of a packet (virtio-net header + IPv4), if it is in the topology's /16.
fn route(frame: &[u8]) -> Option<usize> {
    let ip = frame.get(VNET_HDR_LEN..)?;
    if ip.first()? >> 4 != 4 {
        return None;
    }
    let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
    addr_host(dst)
}

/// FQ-CoDel's flow key of a packet (virtio-net header + IP): a fast non-cryptographic hash of
/// its 5-tuple — addresses, protocol, and the ports of TCP, UDP, UDP-Lite and SCTP (not of a
/// later IPv4 fragment, which carries none; IPv6 extension headers are not walked, so such
/// packets hash by addresses and next header). 0 for what is not IP.
fn flow_key(frame: &[u8]) -> u64 {
    let Some(ip) = frame.get(VNET_HDR_LEN..) else {
        return 0;
    };
    let Some(first) = ip.first().copied() else {
        return 0;
    };
    let (addrs, proto, l4) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            let frag = ip
                .get(6..8)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) & 0x1fff);
            let l4 = if frag == 0 { ip.get(ihl..) } else { None };
            (ip.get(12..20), ip.get(9).copied().unwrap_or(0), l4)
        }
        6 => (ip.get(8..40), ip.get(6).copied().unwrap_or(0), ip.get(40..)),
        _ => return 0,
    };
    let ports = match proto {
        6 | 17 | 132 | 136 => l4.and_then(|l| l.get(..4)),
        _ => None,
    };
    let mut h = u64::from(proto);
    for part in [addrs, ports].into_iter().flatten() {
        for chunk in part.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517C_C1B7_2722_0A95);
        }
    }
    // SplitMix64's finalizer: every input bit reaches the low bits the flow index uses.
    stream_seed(h, 0)
}

/// The extra delay stages of `spec.pair_delays` (one per direction) among `hosts` hosts, and
/// the index from (source, destination) to stage.
fn pair_paths(spec: &TopologySpec, hosts: usize) -> Result<PairPaths, NetemError> {
    let mut paths = Vec::new();
    let mut path_index = HashMap::new();
    for pd in &spec.pair_delays {
        let (a, b) = (pd.a.0 as usize, pd.b.0 as usize);
        if a >= hosts || b >= hosts || a == b || pd.delay_ms.is_nan() || pd.delay_ms < 0.0 {
            return Err(NetemError::Invalid(format!(
                "pair delay {}<->{} {} ms: hosts must differ and exist, delay ≥ 0",
                pd.a, pd.b, pd.delay_ms
            )));
        }
        for (src, dst) in [(a, b), (b, a)] {
            let params = crate::profile::LinkParams {
                delay_ms: pd.delay_ms,
                ..Default::default()
            };
            path_index.insert((src, dst), paths.len());
            paths.push(PairPath {
                dir: Dir {
                    state: Mutex::new(DirState {
                        core: LinkCore::new(
                            params,
                            stream_seed(spec.seed, (1 << 32) + paths.len() as u64),
                        ),
                        sleeping_until: None,
                    }),
                    cv: Condvar::new(),
                },
            });
        }
    }
    Ok((paths, path_index))
}

/// A live userspace topology.
pub(crate) struct UserspaceBackend {
    hosts: Vec<NetHost>,
    names: Vec<String>,
    shared: Option<Arc<Shared>>,
    threads: Vec<JoinHandle<()>>,
    torn_down: bool,
}

impl UserspaceBackend {
    /// Builds the hosts' namespaces and TUN devices and starts the router's threads.
    pub(crate) fn up(spec: &TopologySpec) -> Result<Self, NetemError> {
        let mut me = Self {
            hosts: Vec::new(),
            names: Vec::new(),
            shared: None,
            threads: Vec::new(),
            torn_down: false,
        };
        // On error, `me` is dropped and tears down what was made.
        me.build(spec)?;
        Ok(me)
    }

    /// Makes every host (namespace, TUN, link cores), the pair paths, and starts the threads.
    fn build(&mut self, spec: &TopologySpec) -> Result<(), NetemError> {
        let mut links = Vec::new();
        for h in 0..spec.host_count() {
            links.push(self.add_host(spec, h)?);
        }
        let (paths, path_index) = pair_paths(spec, links.len())?;
        let shared = Arc::new(Shared {
            links,
            paths,
            path_index,
            stop: AtomicBool::new(false),
            stop_fd: sys::eventfd()?,
            epoch: Instant::now(),
            offload: spec.offload,
            realtime: spec.realtime,
        });
        self.shared = Some(Arc::clone(&shared));
        shared.update_offloads()?;
        self.start_threads(&shared)
    }

    /// Host `h`: its namespace (recorded at once, so teardown finds it if a later step fails),
    /// its TUN device and address, and the two cores of its access link.
    fn add_host(&mut self, spec: &TopologySpec, h: usize) -> Result<HostLink, NetemError> {
        let name = ns_name(spec, h);
        let fd = create_netns(&name)?;
        self.names.push(name.clone());
        let tun = sys::in_netns(&fd, &name, || {
            let tun = sys::tun_create(TUN_NAME);
            // No IPv6 on the emulated link: no router solicitations or MLD noise.
            let _ = std::fs::write(
                format!("/proc/sys/net/ipv6/conf/{TUN_NAME}/disable_ipv6"),
                "1",
            );
            tun
        })??;
        sys::tun_set_offload(&tun, false)?;
        let addr = host_addr(h);
        sys::ip_batch(
            Some(&name),
            &[
                "link set lo up".to_string(),
                format!("link set {TUN_NAME} mtu 1500 txqueuelen {TXQUEUELEN}"),
                format!("addr add {addr}/16 dev {TUN_NAME}"),
                format!("link set {TUN_NAME} up"),
            ],
        )?;
        let profile = spec.profile(HostId(h as u32)).cloned().unwrap_or_default();
        let mk = |dir: Direction, s: u64| Dir {
            state: Mutex::new(DirState {
                core: LinkCore::new(profile.direction(dir), s),
                sleeping_until: None,
            }),
            cv: Condvar::new(),
        };
        let link = HostLink {
            tun,
            up: mk(Direction::Up, stream_seed(spec.seed, 2 * h as u64)),
            down: mk(Direction::Down, stream_seed(spec.seed, 2 * h as u64 + 1)),
            cut: AtomicBool::new(false),
            offload_on: AtomicBool::new(false),
            unroutable: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        };
        self.hosts.push(NetHost {
            id: HostId(h as u32),
            netns: Some(name),
            addr: addr.into(),
            nat: None,
            ns_fd: Some(Arc::new(fd)),
        });
        Ok(link)
    }

    /// The router's threads: a reader and two release threads per host, one per pair path.
    fn start_threads(&mut self, shared: &Arc<Shared>) -> Result<(), NetemError> {
        for h in 0..shared.links.len() {
            let s = Arc::clone(shared);
            self.spawn(format!("wb-rx-{h}"), move || s.reader(h))?;
            for (name, stage) in [("up", Stage::Up(h)), ("down", Stage::Down(h))] {
                let s = Arc::clone(shared);
                self.spawn(format!("wb-{name}-{h}"), move || s.releaser(stage))?;
            }
        }
        for i in 0..shared.paths.len() {
            let s = Arc::clone(shared);
            self.spawn(format!("wb-path-{i}"), move || s.releaser(Stage::Path(i)))?;
        }
        Ok(())
    }

    fn spawn(&mut self, name: String, f: impl FnOnce() + Send + 'static) -> Result<(), NetemError> {
        let t = std::thread::Builder::new()
            .name(name.clone())
            .spawn(f)
            .map_err(|e| NetemError::io(format!("spawning thread {name}"), e))?;
        self.threads.push(t);
        Ok(())
    }

    fn link(&self, id: HostId) -> Result<(&Shared, &HostLink), NetemError> {
        let shared = self
            .shared
            .as_deref()
            .ok_or_else(|| NetemError::NoSuchHost(format!("{id} (torn down)")))?;
        let link = shared
            .links
            .get(id.0 as usize)
            .ok_or_else(|| NetemError::NoSuchHost(id.to_string()))?;
        Ok((shared, link))
    }
}

impl LinkBackend for UserspaceBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Userspace
    }

    fn hosts(&self) -> &[NetHost] {
        &self.hosts
    }

    fn counters(&self, id: HostId) -> Result<LinkCounters, NetemError> {
        let (_, link) = self.link(id)?;
        Ok(LinkCounters {
            up: link.up.lock().core.stats(),
            down: link.down.lock().core.stats(),
            unroutable: link.unroutable.load(Ordering::Relaxed),
            write_errors: link.write_errors.load(Ordering::Relaxed),
        })
    }

    fn set_profile(&self, id: HostId, profile: &Profile) -> Result<(), NetemError> {
        let (shared, link) = self.link(id)?;
        for (dir, d) in [(Direction::Up, &link.up), (Direction::Down, &link.down)] {
            let mut st = d.lock();
            st.core.set_params(profile.direction(dir));
            d.cv.notify_one();
        }
        shared.update_offloads()
    }

    fn set_cut(&self, id: HostId, cut: bool) -> Result<(), NetemError> {
        let (shared, link) = self.link(id)?;
        link.cut.store(cut, Ordering::Relaxed);
        for d in [&link.up, &link.down] {
            let mut st = d.lock();
            st.core.set_cut(cut);
            d.cv.notify_one();
        }
        shared.update_offloads()
    }

    fn teardown(&mut self) -> Result<(), NetemError> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        if let Some(shared) = &self.shared {
            shared.stop.store(true, Ordering::Relaxed);
            sys::eventfd_signal(&shared.stop_fd);
            let dirs = shared
                .links
                .iter()
                .flat_map(|l| [&l.up, &l.down])
                .chain(shared.paths.iter().map(|p| &p.dir));
            for d in dirs {
                let _g = d.lock();
                d.cv.notify_all();
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Closing the TUN fds removes the devices.
        self.shared = None;
        for h in &mut self.hosts {
            h.ns_fd = None;
        }
        let mut first_err = None;
        for name in &self.names {
            if let Err(e) = destroy_netns(name) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for UserspaceBackend {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("wirebench-netem: userspace teardown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_seeds_differ() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20u64 {
            for k in 0..20u64 {
                assert!(seen.insert(stream_seed(seed, k)), "collision {seed} {k}");
            }
        }
    }

    /// A frame (virtio-net header + IP) of `version` with `proto`, addresses `a`/`b` and ports.
    fn frame(version: u8, proto: u8, a: u8, b: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; VNET_HDR_LEN];
        let mut ip = if version == 4 {
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[9] = proto;
            h[12..16].copy_from_slice(&[10, 77, 0, a]);
            h[16..20].copy_from_slice(&[10, 77, 0, b]);
            h
        } else {
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[6] = proto;
            h[23] = a;
            h[39] = b;
            h
        };
        ip.extend(sport.to_be_bytes());
        ip.extend(dport.to_be_bytes());
        ip.extend([0xAB; 32]);
        f.extend(ip);
        f
    }

    #[test]
    fn flow_keys_follow_the_five_tuple() {
        for v in [4, 6] {
            let k = flow_key(&frame(v, 6, 2, 1, 40_000, 443));
            // Same 5-tuple, different payload: same key.
            let mut other = frame(v, 6, 2, 1, 40_000, 443);
            if let Some(last) = other.last_mut() {
                *last = 0;
            }
            assert_eq!(flow_key(&other), k);
            // Any field of the tuple changes it.
            for f in [
                frame(v, 6, 2, 1, 40_001, 443),
                frame(v, 6, 2, 1, 40_000, 444),
                frame(v, 17, 2, 1, 40_000, 443),
                frame(v, 6, 3, 1, 40_000, 443),
                frame(v, 6, 2, 4, 40_000, 443),
            ] {
                assert_ne!(flow_key(&f), k);
            }
            // Ports are ignored for protocols without them (ICMP).
            assert_eq!(
                flow_key(&frame(v, 1, 2, 1, 1, 2)),
                flow_key(&frame(v, 1, 2, 1, 3, 4))
            );
        }
        // Spread over 1024 queues: 1000 UDP flows collide about as a random hash does.
        let buckets: std::collections::HashSet<u64> = (0..1000u16)
            .map(|p| flow_key(&frame(4, 17, 2, 1, 30_000 + p, 443)) % 1024)
            .collect();
        assert!(buckets.len() > 560, "{} buckets", buckets.len());
        // Not IP, or cut short: no panic.
        assert_eq!(flow_key(&[]), 0);
        let f = frame(4, 6, 2, 1, 1, 2);
        for n in 0..f.len() {
            let _ = flow_key(&f[..n]);
        }
        // A later IPv4 fragment carries no ports: hashed by addresses and protocol only.
        let mut frag = frame(4, 17, 2, 1, 5, 6);
        frag[VNET_HDR_LEN + 7] = 1;
        let mut frag2 = frame(4, 17, 2, 1, 7, 8);
        frag2[VNET_HDR_LEN + 7] = 1;
        assert_eq!(flow_key(&frag), flow_key(&frag2));
    }

    #[test]
    fn routes_ipv4_in_the_topology_only() {
        let mut f = vec![0u8; VNET_HDR_LEN + 20];
        f[VNET_HDR_LEN] = 0x45;
        f[VNET_HDR_LEN + 16..VNET_HDR_LEN + 20].copy_from_slice(&[10, 77, 0, 2]);
        assert_eq!(route(&f), Some(1));
        f[VNET_HDR_LEN + 17] = 78;
        assert_eq!(route(&f), None);
        f[VNET_HDR_LEN] = 0x60;
        assert_eq!(route(&f), None);
        assert_eq!(route(&f[..12]), None);
    }
}
