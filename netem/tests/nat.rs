//! NAT conformance: each [`Nat`] behaves as named, on real namespaces, conntrack and nftables
//! (need root; skipped with a message otherwise). UDP reflectors answer every datagram with the
//! address:port they saw it come from, which is the NAT's mapping (what a STUN server reports).
//! Every test has its own namespace prefix and asserts that nothing with it is left behind.

#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wirebench_netem::{
    cleanup, BackendChoice, BackendKind, HostId, Nat, Profile, Topology, TopologySpec,
};

/// Root, /dev/net/tun and nft: else the test is skipped, but in CI (`CI` set) a missing nft
/// fails it, so CI cannot pass without the NAT tests running.
fn root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("skipped: needs root and /dev/net/tun");
        return false;
    }
    let nft = std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !nft {
        assert!(
            std::env::var_os("CI").is_none(),
            "nft (Debian's nftables) is missing: the NAT tests need it"
        );
        eprintln!("skipped: needs nft (Debian's nftables)");
    }
    nft
}

fn backend(kind: BackendKind) -> BackendChoice {
    BackendChoice {
        kind,
        reason: "test".into(),
    }
}

/// A namespace prefix of this test alone.
fn prefix(tag: &str) -> String {
    format!("wb-tn{}{tag}-", std::process::id())
}

/// `clients` unshaped clients (or on `profile`) behind `nat`, under `prefix`.
fn spec(prefix: &str, profile: &Profile, clients: u32, nat: &[Nat]) -> TopologySpec {
    let mut s = TopologySpec::star(profile, clients);
    s.prefix = prefix.to_string();
    s.nat = nat.to_vec();
    s
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left(prefix: &str) {
    let left = namespaces_with(prefix);
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// A UDP socket bound in `id`'s namespace (behind a NAT: its LAN namespace).
fn udp(topo: &Topology, id: HostId, port: u16) -> UdpSocket {
    let s = topo
        .run_in(id, move || UdpSocket::bind(("0.0.0.0", port)))
        .unwrap()
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

/// Answers every datagram on its socket with the sender's address:port, as text, until
/// dropped. `socket` is a clone of its socket, to send unsolicited packets from the same port.
struct Reflector {
    addr: SocketAddr,
    socket: UdpSocket,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reflector {
    fn start(topo: &Topology, id: HostId, port: u16) -> Self {
        let sock = udp(topo, id, port);
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let socket = sock.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((_, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(from.to_string().as_bytes(), from);
                }
            }
        });
        Self {
            addr: SocketAddr::new(topo.host(id).unwrap().addr, port),
            socket,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The address:port `target` (a reflector) saw `sock`'s datagram come from.
fn seen_by(sock: &UdpSocket, target: SocketAddr) -> SocketAddr {
    let mut buf = [0u8; 128];
    for _ in 0..5 {
        sock.send_to(b"probe", target).unwrap();
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == target => {
                    return std::str::from_utf8(&buf[..n]).unwrap().parse().unwrap();
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    panic!("no answer from the reflector at {target}");
}

/// Whatever arrives on `sock` within `wait`: (sender, payload) pairs.
fn received(sock: &UdpSocket, wait: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1500];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            got.push((from, buf[..n].to_vec()));
        }
    }
    got
}

fn public_ip(topo: &Topology, id: HostId) -> IpAddr {
    topo.host(id).unwrap().addr
}

/// Client 1 to 3: `none`, `endpoint-independent`, `symmetric`; client 4 a second destination;
/// client 5 a third host that was never contacted.
#[test]
fn udp_mapping_and_filtering_per_nat_type() {
    if !root() {
        return;
    }
    let pre = prefix("m");
    {
        let nats = [Nat::None, Nat::EndpointIndependent, Nat::Symmetric];
        let s = spec(&pre, &Profile::default(), 5, &nats);
        let topo = Topology::up_with(backend(BackendKind::Userspace), &s).unwrap();
        let server = Reflector::start(&topo, HostId::SERVER, 9000);
        let peer = Reflector::start(&topo, HostId::client(4), 9000);
        let stranger = udp(&topo, HostId::client(5), 9000);
        let server_other_port = udp(&topo, HostId::SERVER, 9001);
        for (k, nat) in (1..).zip(nats) {
            let id = HostId::client(k);
            let host = topo.host(id).unwrap().clone();
            let sock = udp(&topo, id, 40_000);
            let a = seen_by(&sock, server.addr);
            let b = seen_by(&sock, peer.addr);
            eprintln!("{nat}: the server saw {a}, client 4 saw {b}");
            assert_eq!(a.ip(), host.addr, "{nat}: not the public address");
            assert_eq!(b.ip(), host.addr, "{nat}: not the public address");
            match nat {
                Nat::None => {
                    assert!(host.nat.is_none());
                    assert_eq!((a.port(), b.port()), (40_000, 40_000));
                    continue;
                }
                Nat::EndpointIndependent => {
                    assert_eq!(a.port(), b.port(), "{nat}: a mapping per destination");
                    assert_eq!(a.port(), 40_000, "{nat}: the port was not preserved");
                }
                Nat::Symmetric => {
                    assert_ne!(
                        a.port(),
                        b.port(),
                        "{nat}: one mapping for both destinations"
                    );
                }
            }
            let nat_host = host.nat.clone().unwrap();
            assert_eq!(nat_host.kind, nat);
            assert_ne!(IpAddr::V4(nat_host.inside_addr), host.addr);
            assert_eq!(host.netns.as_deref(), Some(nat_host.lan_netns.as_str()));
            // Filtering by address and port: neither a stranger nor the server from another
            // port gets in; the server from the contacted port does, unasked.
            stranger.send_to(b"stranger", a).unwrap();
            server_other_port.send_to(b"other port", a).unwrap();
            let got = received(&sock, Duration::from_millis(300));
            assert!(got.is_empty(), "{nat}: unsolicited packets got in: {got:?}");
            server.socket.send_to(b"later", a).unwrap();
            let got = received(&sock, Duration::from_millis(300));
            assert_eq!(got, vec![(server.addr, b"later".to_vec())], "{nat}");
        }
        check_namespaces_and_tables(&topo);
        topo.teardown().unwrap();
    }
    assert_nothing_left(&pre);
}

/// `Topology::command` runs in the LAN namespace; the router namespace holds the nft table
/// (and the initial namespace none).
fn check_namespaces_and_tables(topo: &Topology) {
    let host = topo.host(HostId::client(2)).unwrap();
    let nat = host.nat.clone().unwrap();
    let out = topo
        .command(HostId::client(2), "ip")
        .unwrap()
        .args(["-o", "-4", "addr", "show", "dev", "eth0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}/24", nat.inside_addr)),
        "command not in the LAN namespace: {text}"
    );
    let table = std::process::Command::new("ip")
        .args(["netns", "exec", &nat.router_netns, "nft", "list", "table"])
        .args(["ip", "wirebench_nat"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&table.stdout);
    assert!(rules.contains("masquerade"), "{rules}");
    let init = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&init.stdout).contains("wirebench_nat"));
}

/// TCP through each NAT, both ways, 2 MB each: the server sees the public address.
fn tcp_through(topo: &Topology, id: HostId) {
    const N: usize = 2 << 20;
    let listener = topo
        .run_in(HostId::SERVER, || TcpListener::bind("0.0.0.0:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(format!("{peer} {}\n", got.len()).as_bytes())
            .unwrap();
        s.write_all(&vec![7u8; N]).unwrap();
    });
    let target = SocketAddr::new(topo.server().addr, port);
    let mut c = topo
        .run_in(id, move || {
            TcpStream::connect_timeout(&target, Duration::from_secs(5))
        })
        .unwrap()
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(&vec![1u8; N]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    server.join().unwrap();
    let nl = back.iter().position(|b| *b == b'\n').unwrap();
    let head = String::from_utf8_lossy(&back[..nl]).to_string();
    let (peer, count) = head.split_once(' ').unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    assert_eq!(peer.ip(), public_ip(topo, id), "{id}: {head}");
    assert_eq!(count, N.to_string(), "{id}: upload cut short");
    assert_eq!(back.len() - nl - 1, N, "{id}: download cut short");
}

/// TCP and UDP through both NAT kinds (and none) on one backend and profile.
fn tcp_and_udp_through_nats(kind: BackendKind, profile: &Profile, tag: &str) {
    let pre = prefix(tag);
    {
        let nats = [Nat::EndpointIndependent, Nat::Symmetric, Nat::None];
        let topo = Topology::up_with(backend(kind), &spec(&pre, profile, 3, &nats)).unwrap();
        let server = Reflector::start(&topo, HostId::SERVER, 9000);
        for k in 1..=3 {
            let id = HostId::client(k);
            tcp_through(&topo, id);
            let seen = seen_by(&udp(&topo, id, 0), server.addr);
            assert_eq!(seen.ip(), public_ip(&topo, id));
        }
        drop(server);
        topo.teardown().unwrap();
    }
    assert_nothing_left(&pre);
}

#[test]
fn tcp_and_udp_through_nats_userspace_with_offloads() {
    if root() {
        // Unshaped: the TUN devices take TSO super-packets.
        tcp_and_udp_through_nats(BackendKind::Userspace, &Profile::default(), "to");
    }
}

#[test]
fn tcp_and_udp_through_nats_userspace_shaped() {
    if root() {
        let p = Profile {
            delay_ms: 1.0,
            rate_mbit: Some(200.0),
            ..Profile::default()
        };
        tcp_and_udp_through_nats(BackendKind::Userspace, &p, "ts");
    }
}

#[test]
fn tcp_and_udp_through_nats_kernel_backend() {
    if root() {
        // Unshaped links need no sch_netem, so this runs on these machines too.
        tcp_and_udp_through_nats(BackendKind::Kernel, &Profile::default(), "tk");
    }
}

/// Both peers learn their mapping from the server (as STUN would), then send to each other's
/// for a while, `b` starting 200 ms after `a` (so `a`'s first packets reach `b`'s NAT before
/// `b` has sent anything: they must not spoil `b`'s mapping): did each hear the other?
fn punch(topo: &Topology, a: HostId, b: HostId, server: SocketAddr) -> (bool, bool) {
    let sa = udp(topo, a, 41_000);
    let sb = udp(topo, b, 41_000);
    let (ma, mb) = (seen_by(&sa, server), seen_by(&sb, server));
    let run = |sock: UdpSocket, to: SocketAddr, after_ms: u64| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(after_ms));
            sock.set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = [0u8; 64];
            let mut heard = false;
            let deadline = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < deadline {
                let _ = sock.send_to(b"punch", to);
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    heard |= from == to && &buf[..n] == b"punch";
                }
            }
            heard
        })
    };
    let (ta, tb) = (run(sa, mb, 0), run(sb, ma, 200));
    (ta.join().unwrap(), tb.join().unwrap())
}

#[test]
fn hole_punching_works_through_endpoint_independent_nats_only() {
    if !root() {
        return;
    }
    let pre = prefix("h");
    {
        let nats = [
            Nat::EndpointIndependent,
            Nat::EndpointIndependent,
            Nat::Symmetric,
            Nat::Symmetric,
        ];
        let s = spec(&pre, &Profile::default(), 4, &nats);
        let topo = Topology::up_with(backend(BackendKind::Userspace), &s).unwrap();
        let server = Reflector::start(&topo, HostId::SERVER, 3478);
        let eim = punch(&topo, HostId::client(1), HostId::client(2), server.addr);
        assert_eq!(
            eim,
            (true, true),
            "endpoint-independent NATs: no direct path"
        );
        let sym = punch(&topo, HostId::client(3), HostId::client(4), server.addr);
        assert_eq!(
            sym,
            (false, false),
            "symmetric NATs let a direct path through"
        );
        drop(server);
        topo.teardown().unwrap();
    }
    assert_nothing_left(&pre);
}

/// A bring-up that fails half-way (the second LAN namespace's name is taken) leaves nothing of
/// its own: not the first LAN namespace, not the backend's.
#[test]
fn failed_bring_up_removes_the_partial_topology() {
    if !root() {
        return;
    }
    let pre = prefix("f");
    let run = format!("P{}_f1", std::process::id());
    let taken = format!("{pre}{run}-c2n");
    let add = std::process::Command::new("ip")
        .args(["netns", "add", &taken])
        .status()
        .unwrap();
    assert!(add.success());
    let mut s = spec(&pre, &Profile::default(), 2, &[Nat::Symmetric; 2]);
    s.run_id = Some(run);
    let r = Topology::up_with(backend(BackendKind::Userspace), &s);
    let left = namespaces_with(&pre);
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &taken])
        .status();
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains(&taken),
        "the error does not name the namespace: {e}"
    );
    assert_eq!(left, vec![taken], "partial topology left behind");
    assert_nothing_left(&pre);
}

/// Dropping the topology removes the LAN namespaces and kills what runs in them.
#[test]
fn drop_removes_lan_namespaces_and_their_processes() {
    if !root() {
        return;
    }
    let pre = prefix("d");
    let mut child;
    {
        let s = spec(&pre, &Profile::default(), 1, &[Nat::EndpointIndependent]);
        let topo = Topology::up_with(backend(BackendKind::Userspace), &s).unwrap();
        assert_eq!(namespaces_with(&pre).len(), 3, "server, client, LAN");
        child = topo
            .command(HostId::client(1), "sleep")
            .unwrap()
            .arg("30")
            .spawn()
            .unwrap();
    }
    assert_nothing_left(&pre);
    assert!(
        !child.wait().unwrap().success(),
        "process inside not killed"
    );
}

/// A process holding a NATed topology is interrupted (SIGINT: the signal teardown) or killed
/// (SIGKILL: `cleanup --prefix` afterwards); either way the LAN namespace goes too.
#[test]
fn ctrl_c_and_cleanup_remove_lan_namespaces() {
    if !root() {
        return;
    }
    for (sig, tag) in [(libc::SIGINT, "i"), (libc::SIGKILL, "k")] {
        let pre = prefix(tag);
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "helper_hold_nat_topology", "--ignored"])
            .env("WB_NAT_HELPER_PREFIX", &pre)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while namespaces_with(&pre).len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut made = namespaces_with(&pre);
        made.sort();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, sig) };
        child.wait().unwrap();
        assert_eq!(made.len(), 3, "helper did not build its topology: {made:?}");
        assert!(made.iter().any(|n| n.ends_with("-c1n")), "{made:?}");
        if sig == libc::SIGKILL {
            assert_eq!(namespaces_with(&pre).len(), 3, "nothing left to clean");
            let mut removed = cleanup(&pre).unwrap();
            removed.sort();
            assert_eq!(removed, made);
        }
        assert_nothing_left(&pre);
    }
}

/// Helper for `ctrl_c_and_cleanup_remove_lan_namespaces`: holds a NATed topology until
/// signalled.
#[test]
#[ignore = "helper process, run by ctrl_c_and_cleanup_remove_lan_namespaces"]
fn helper_hold_nat_topology() {
    let Ok(pre) = std::env::var("WB_NAT_HELPER_PREFIX") else {
        return;
    };
    wirebench_netem::install_signal_cleanup().unwrap();
    let s = spec(&pre, &Profile::default(), 1, &[Nat::Symmetric]);
    let topo = Topology::up_with(backend(BackendKind::Userspace), &s).unwrap();
    std::thread::sleep(Duration::from_secs(60));
    drop(topo);
}

/// What the NAT hop costs: UDP RTT (µs) client → server on unshaped links, without and
/// behind a NAT. `cargo test --release -p wirebench-netem --test nat -- --ignored
/// --nocapture measure_nat_hop`.
#[test]
#[ignore = "measurement, run by hand"]
fn measure_nat_hop() {
    if !root() {
        return;
    }
    let pre = prefix("x");
    {
        let nats = [Nat::None, Nat::EndpointIndependent, Nat::Symmetric];
        let s = spec(&pre, &Profile::default(), 3, &nats);
        let topo = Topology::up_with(backend(BackendKind::Userspace), &s).unwrap();
        let server = Reflector::start(&topo, HostId::SERVER, 9000);
        let socks: Vec<UdpSocket> = (1..=3).map(|k| udp(&topo, HostId::client(k), 0)).collect();
        // Interleaved, so a busy machine weighs on the three alike.
        let mut rtts = vec![Vec::new(); 3];
        for _ in 0..5000 {
            for (sock, r) in socks.iter().zip(&mut rtts) {
                let t = Instant::now();
                seen_by(sock, server.addr);
                r.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        for (nat, mut r) in nats.into_iter().zip(rtts) {
            r.sort_by(f64::total_cmp);
            let q = |p: f64| r[((r.len() - 1) as f64 * p) as usize];
            eprintln!(
                "{nat:>22}: RTT p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
                q(0.5),
                q(0.9),
                q(0.99)
            );
        }
        drop(server);
        topo.teardown().unwrap();
    }
    assert_nothing_left(&pre);
}
