//! Stage 1, *plan*: scenarios × filters → cells, with every fact a cell's execution needs
//! resolved once (reliability, peer to peer, link, topology, time limit) or the reason it is
//! skipped. Pure but for the look-up of Chromium, so it is unit-tested without processes.

use wirebench_netem::{
    BackendChoice, BackendKind, Direction, HostId, PairDelay, Profile, ProfileSet, TopologySpec,
};
use wirebench_reports::model::Status;

use super::scenario::{ClientKind, Scenario};
use crate::network::{Choice as _, TurnPlace};
use crate::workload::network;
use crate::workload::WorkloadSpec;

/// One planned cell.
#[derive(Debug, Clone)]
pub struct PlannedCell {
    /// Scenario name.
    pub scenario: String,
    /// Workload name in the scenario.
    pub name: String,
    /// Workload and parameters.
    pub spec: WorkloadSpec,
    /// Transport id.
    pub transport: String,
    /// Implementation, for transports with several (each runs as its own cell).
    pub implementation: Option<String>,
    /// Profile name.
    pub profile: String,
    /// Repeat index from 1.
    pub repeat: u32,
    /// Run at the scenario's CI scale (`--quick`); recorded as `params.quick = true`.
    pub quick: bool,
    /// Which client runs the client side.
    pub client: ClientKind,
    /// Whether the transport promises delivery (unknown ids count as reliable, so a lost frame
    /// is never excused by a typo).
    pub reliable: bool,
    /// Whether relay clients talk to each other directly (WebRTC), not via the server.
    pub peer_to_peer: bool,
}

impl PlannedCell {
    /// A cell of `spec` over `transport` (its facts resolved from the transport's registry).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scenario: &str,
        name: &str,
        spec: &WorkloadSpec,
        transport: &str,
        implementation: Option<String>,
        profile: &str,
        repeat: u32,
        quick: bool,
        client: ClientKind,
    ) -> Self {
        let t = crate::transport::by_id_impl(transport, implementation.as_deref());
        Self {
            scenario: scenario.to_string(),
            name: name.to_string(),
            spec: spec.clone(),
            transport: transport.to_string(),
            reliable: t.as_ref().is_none_or(|t| t.guarantees().reliable),
            peer_to_peer: t.as_ref().is_some_and(|t| t.peer_to_peer()),
            implementation,
            profile: profile.to_string(),
            repeat,
            quick,
            client,
        }
    }
}

/// Expands scenarios into cells: repeats outermost, so every transport's repeats are spread
/// over the whole run (interleaved) instead of back to back.
pub fn plan(scenarios: &[Scenario], repeat_override: Option<u32>) -> Vec<PlannedCell> {
    let repeats = |s: &Scenario| repeat_override.unwrap_or(s.repeat);
    let max_rep = scenarios.iter().map(repeats).max().unwrap_or(1);
    let mut cells = Vec::new();
    for rep in 1..=max_rep {
        for s in scenarios.iter().filter(|s| rep <= repeats(s)) {
            for w in &s.workloads {
                for p in &w.profiles {
                    for t in &w.transports {
                        for &client in &w.client {
                            for implementation in implementations(t, client) {
                                cells.push(PlannedCell::new(
                                    &s.name,
                                    &w.name,
                                    &w.spec,
                                    t,
                                    implementation,
                                    p,
                                    rep,
                                    s.quick,
                                    client,
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    cells
}

/// The implementations a client runs `transport` with, each its own cell: every one for the
/// Rust client; a browser brings its own stack (one cell, against the server's default).
fn implementations(transport: &str, client: ClientKind) -> Vec<Option<String>> {
    let impls = match client {
        ClientKind::Rust => crate::transport::implementations(transport),
        ClientKind::Browser => &[],
    };
    if impls.is_empty() {
        vec![None]
    } else {
        impls.iter().map(|i| Some(i.to_string())).collect()
    }
}

/// What the run offers every cell: the facts a cell's resolution depends on.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// Network profiles by name.
    pub profiles: &'a ProfileSet,
    /// The link-emulation backend (or why there is none).
    pub netem: &'a Result<BackendChoice, String>,
    /// Plain HTTP instead of HTTPS.
    pub plaintext: bool,
    /// Whether a Chromium was found (asked only for browser cells).
    pub chromium: fn() -> bool,
    /// Whether nginx was found (asked only for cells with a `proxy`).
    pub nginx: fn() -> bool,
    /// Whether coturn was found (asked only for WebRTC cells with a `turn`).
    pub coturn: fn() -> bool,
}

/// A cell ready to execute: its link and topology resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The client hosts' access link profile.
    pub link: Profile,
    /// The namespace topology and its backend, when the cell needs one.
    pub topology: Option<(BackendChoice, TopologySpec)>,
    /// The client ↔ server round trip of the links, ms (None when unshaped).
    pub rtt_ms: Option<f64>,
}

/// Why a cell does not execute: skipped (or failed) before anything starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NotRun {
    /// `skipped`, or `failed` for an unknown profile.
    pub status: Status,
    /// The reason, shown in the cell.
    pub reason: String,
    /// The link, when it was resolved before the reason was found (recorded in params).
    pub link: Option<Box<Profile>>,
}

impl NotRun {
    fn skipped(reason: String, link: Option<&Profile>) -> Self {
        Self {
            status: Status::Skipped,
            reason,
            link: link.map(|l| Box::new(l.clone())),
        }
    }
}

/// Resolves `pc` against the run's facts: the link and topology it runs on, or why it cannot
/// run here.
pub fn resolve(pc: &PlannedCell, facts: &RunFacts<'_>) -> Result<Resolved, NotRun> {
    if let Some(why) = skip_reason(pc, facts) {
        return Err(NotRun::skipped(why, None));
    }
    let link = facts.profiles.get(&pc.profile).map_err(|e| NotRun {
        status: Status::Failed,
        reason: e.to_string(),
        link: None,
    })?;
    if pc.spec.params().cross_traffic.is_some() && !has_bottleneck(link) {
        let why = format!(
            "cross_traffic competes for a bottleneck, and profile {:?} has no rate (rate_mbit): \
             use a profile with one",
            pc.profile
        );
        return Err(NotRun::skipped(why, Some(link)));
    }
    if matches!(pc.spec, WorkloadSpec::Flap(_)) && !needs_topology(&pc.spec, link) {
        let why = format!(
            "flap cuts the client's link, which needs link emulation: profile {:?} is unshaped \
             (loopback has no link to cut); use a shaped profile",
            pc.profile
        );
        return Err(NotRun::skipped(why, Some(link)));
    }
    let p = pc.spec.params();
    let topology = if needs_topology(&pc.spec, link) {
        let choice = match facts.netem {
            Ok(c) if c.kind != BackendKind::None => c.clone(),
            Ok(c) => {
                let why = format!(
                    "profile {:?} (with this workload's delays) needs link emulation; {c}",
                    pc.profile
                );
                return Err(NotRun::skipped(why, Some(link)));
            }
            Err(why) => {
                let why = format!(
                    "profile {:?} needs link emulation, unavailable here: {why}",
                    pc.profile
                );
                return Err(NotRun::skipped(why, Some(link)));
            }
        };
        let server_link = p.server_delay_ms.map(|d| Profile {
            delay_ms: d,
            ..Profile::default()
        });
        Some((choice, topology_spec(&pc.spec, link, server_link)))
    } else {
        None
    };
    // The client <-> server round trip: both access links, both ways.
    let rtt_ms = Some(link.rtt_ms().unwrap_or(0.0) + 2.0 * p.server_delay_ms.unwrap_or(0.0))
        .filter(|&r| r > 0.0);
    Ok(Resolved {
        link: link.clone(),
        topology,
        rtt_ms,
    })
}

/// Why the cell is skipped whatever its link: a workload the transport cannot measure, a
/// setting the run excludes, a client that cannot run it.
fn skip_reason(pc: &PlannedCell, facts: &RunFacts<'_>) -> Option<String> {
    if !pc.reliable && matches!(pc.spec, WorkloadSpec::Upload(_)) {
        return Some(
            "upload measures goodput under backpressure, which an unreliable transport does not \
             have (its send queue drops datagrams); measure it with echo or push at a paced \
             rate, whose delivery counts show the loss"
                .into(),
        );
    }
    let size = pc.spec.params().size;
    if pc.transport == "webtransport-datagram" && size > crate::transport::MAX_QUIC_UDP_PAYLOAD {
        return Some(format!(
            "a {size}-byte frame cannot fit one WebTransport datagram: QUIC packets here carry at \
             most {} bytes of UDP payload (quinn's path-MTU ceiling), less QUIC and HTTP/3 \
             framing (1,400-byte frames measured to fit on loopback); use webtransport \
             (streams) for larger frames",
            crate::transport::MAX_QUIC_UDP_PAYLOAD
        ));
    }
    if pc.transport.starts_with("webrtc") {
        let imp = pc.implementation.as_deref();
        if let Some(why) = crate::transport::rtc::size_skip_reason(imp, size) {
            return Some(why);
        }
    }
    if facts.plaintext && !pc.spec.params().http.is_http1() {
        return Some(
            "http = \"2\" needs TLS (HTTP/2 is negotiated with ALPN `h2`; browsers speak it \
             over TLS only), and the run is --plaintext"
                .into(),
        );
    }
    let proxy = pc.spec.params().proxy;
    if !proxy.is_none() && crate::proxy::goes_through(&pc.transport) && !(facts.nginx)() {
        return Some(format!(
            "proxy = {:?} runs a real nginx, which is not installed here (apt-get install nginx)",
            proxy.as_str()
        ));
    }
    let browser = pc.client == ClientKind::Browser;
    let (t, imp) = (&pc.transport, pc.implementation.as_deref());
    if let Some(why) = network::skip_reason(t, imp, browser, &pc.spec, facts.coturn) {
        return Some(why);
    }
    match pc.client {
        ClientKind::Rust => matches!(pc.spec, WorkloadSpec::OriginLimit(_))
            .then(|| "origin-limit is a browser-only workload (client = \"browser\")".into()),
        ClientKind::Browser => crate::browser::unsupported(&pc.spec, &pc.transport).or_else(|| {
            (!(facts.chromium)()).then(|| crate::browser::BrowserError::NotFound.to_string())
        }),
    }
}

/// Whether the client's link has a bottleneck (a rate, either way) for competing flows to
/// fill.
fn has_bottleneck(link: &Profile) -> bool {
    [Direction::Up, Direction::Down]
        .into_iter()
        .any(|d| link.direction(d).rate_mbit.is_some())
}

/// Whether a cell runs in a namespace topology: a shaped profile, delays on the server's
/// link or between relay peers, cross traffic, a NAT in front of the clients, or a TURN server
/// (which runs on a host of the topology).
pub fn needs_topology(spec: &WorkloadSpec, profile: &Profile) -> bool {
    let p = spec.params();
    !profile.is_unshaped()
        || p.server_delay_ms.is_some()
        || p.pair_delay_ms.is_some()
        || p.cross_traffic.is_some()
        || !p.nat.is_default()
        || p.turn != TurnPlace::None
}

/// Which client agents run which clients: (host, first client id, clients). Relay peers run on
/// two client hosts when there is a topology (every sender on client host 1, every receiver
/// on client host 2, so the peer path crosses the emulated network); everything else runs in
/// one agent on client host 1.
pub fn client_groups(spec: &WorkloadSpec, topology: bool) -> Vec<(HostId, u32, u32)> {
    let p = spec.params();
    match spec {
        WorkloadSpec::Relay(_) if topology => {
            let n = p.clients / 2;
            vec![(HostId::client(1), 1, n), (HostId::client(2), n + 1, n)]
        }
        _ => vec![(HostId::client(1), 1, p.clients.max(1))],
    }
}

/// The host the cell's TURN server runs on, on a topology: the server's, or (near the peers)
/// one client host past the client agents' hosts.
pub fn turn_host(spec: &WorkloadSpec) -> Option<HostId> {
    match spec.params().turn {
        TurnPlace::None => None,
        TurnPlace::Server => Some(HostId::SERVER),
        TurnPlace::NearPeers => Some(HostId::client(client_groups(spec, true).len() as u32 + 1)),
    }
}

/// The topology of a shaped cell: one client host per client agent on `profile`, each behind
/// the cell's NAT, the server's link on `server_link` (unshaped if none), the relay's pair
/// delay between the two peers' hosts, and a host of its own for a TURN server near the peers
/// (no NAT, its access link `turn_delay_ms` one way).
fn topology_spec(
    spec: &WorkloadSpec,
    profile: &Profile,
    server_link: Option<Profile>,
) -> TopologySpec {
    let hosts = client_groups(spec, true).len() as u32;
    let mut t = TopologySpec::star(profile, hosts);
    t.nat = vec![spec.params().nat.0; hosts as usize];
    if let Some(s) = server_link {
        t.server = s;
    }
    if spec.params().turn == TurnPlace::NearPeers {
        t.clients.push(Profile {
            delay_ms: spec.params().turn_delay_ms.unwrap_or(0.0),
            ..Profile::default()
        });
    }
    if let (WorkloadSpec::Relay(p), true) = (spec, hosts == 2) {
        if let Some(d) = p.pair_delay_ms {
            t.pair_delays.push(PairDelay {
                a: HostId::client(1),
                b: HostId::client(2),
                delay_ms: d,
            });
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::scenario;

    fn profiles() -> ProfileSet {
        ProfileSet::parse(scenario::DEFAULT_PROFILES, "profiles.toml")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn scenario(text: &str) -> Scenario {
        let names: Vec<String> = profiles().profiles.keys().cloned().collect();
        scenario::parse(text, "plan.toml", &names).unwrap_or_else(|e| panic!("{e}"))
    }

    fn facts<'a>(
        profiles: &'a ProfileSet,
        netem: &'a Result<BackendChoice, String>,
        plaintext: bool,
    ) -> RunFacts<'a> {
        RunFacts {
            profiles,
            netem,
            plaintext,
            chromium: || true,
            nginx: || true,
            coturn: || true,
        }
    }

    fn userspace() -> Result<BackendChoice, String> {
        Ok(BackendChoice {
            kind: BackendKind::Userspace,
            reason: "test".into(),
        })
    }

    /// Repeats are outermost (interleaved), every WebRTC implementation is its own Rust cell,
    /// a browser cell runs once against the default, and reliability and peer-to-peer are
    /// resolved from the transport once.
    #[test]
    fn cells_interleave_repeats_and_resolve_transport_facts() {
        let s = scenario(
            "repeat = 2\n[[workload]]\nkind = \"echo\"\ntransports = [\"websocket\", \"webrtc\", \
             \"webrtc-unreliable\"]\nclient = \"both\"\n",
        );
        let cells = plan(&[s], None);
        let rust_rtc = crate::transport::implementations("webrtc").len();
        let per_repeat = 2 + 2 * rust_rtc + 2;
        assert_eq!(cells.len(), 2 * per_repeat);
        assert!(cells[..per_repeat].iter().all(|c| c.repeat == 1));
        assert!(cells[per_repeat..].iter().all(|c| c.repeat == 2));
        let browser_rtc: Vec<_> = cells
            .iter()
            .filter(|c| c.transport == "webrtc" && c.client == ClientKind::Browser)
            .collect();
        assert_eq!(browser_rtc.len(), 2);
        assert!(browser_rtc.iter().all(|c| c.implementation.is_none()));
        for c in &cells {
            assert_eq!(
                c.reliable,
                c.transport != "webrtc-unreliable",
                "{}",
                c.transport
            );
            assert_eq!(
                c.peer_to_peer,
                c.transport.starts_with("webrtc"),
                "{}",
                c.transport
            );
        }
        assert_eq!(
            plan(
                &[scenario(
                    "[[workload]]\nkind = \"echo\"\ntransports = [\"tcp\"]\n"
                )],
                Some(4)
            )
            .len(),
            4
        );
    }

    /// Every reason a cell cannot run is found before anything starts, with the link recorded
    /// once it is known.
    #[test]
    fn cells_that_cannot_run_are_resolved_with_the_reason() {
        let (p, ok, none) = (profiles(), userspace(), Err("no TUN".to_string()));
        let one = |text: &str| plan(&[scenario(text)], None).remove(0);
        let upload =
            one("[[workload]]\nkind = \"upload\"\ntransports = [\"webtransport-datagram\"]\n");
        let e = resolve(&upload, &facts(&p, &ok, false)).unwrap_err();
        assert_eq!(e.status, Status::Skipped);
        assert!(
            e.reason.contains("backpressure") && e.link.is_none(),
            "{e:?}"
        );

        // A frame no QUIC datagram can carry is refused at plan time, not after a 30 s wait.
        let big = one(
            "[[workload]]\nkind = \"download\"\nsize = 65536\ntransports = [\"webtransport-datagram\"]\n",
        );
        let e = resolve(&big, &facts(&p, &ok, false)).unwrap_err();
        assert_eq!(e.status, Status::Skipped);
        assert!(e.reason.contains("65536-byte frame cannot fit"), "{e:?}");
        let fits = one(
            "[[workload]]\nkind = \"push\"\nsize = 1400\ntransports = [\"webtransport-datagram\"]\n",
        );
        assert!(resolve(&fits, &facts(&p, &ok, false)).is_ok());

        let h2 = one("[[workload]]\nkind = \"echo\"\nhttp = \"2\"\ntransports = [\"sse\"]\n");
        assert!(resolve(&h2, &facts(&p, &ok, true))
            .unwrap_err()
            .reason
            .contains("--plaintext"));
        assert!(resolve(&h2, &facts(&p, &ok, false)).is_ok());

        let origin = one("[[workload]]\nkind = \"origin-limit\"\ntransports = [\"sse\"]\n");
        assert!(resolve(&origin, &facts(&p, &ok, false))
            .unwrap_err()
            .reason
            .contains("browser-only"));

        let flap =
            one("[[workload]]\nkind = \"flap\"\nduration_ms = 5000\ntransports = [\"sse\"]\n");
        let e = resolve(&flap, &facts(&p, &ok, false)).unwrap_err();
        assert!(
            e.reason.contains("loopback has no link to cut") && e.link.is_some(),
            "{e:?}"
        );

        let shaped = one(
            "[[workload]]\nkind = \"echo\"\ntransports = [\"tcp\"]\nprofiles = [\"broadband\"]\n",
        );
        let e = resolve(&shaped, &facts(&p, &none, false)).unwrap_err();
        assert!(
            e.reason.contains("unavailable here: no TUN") && e.link.is_some(),
            "{e:?}"
        );
        let mut unknown = shaped.clone();
        unknown.profile = "nowhere".into();
        assert_eq!(
            resolve(&unknown, &facts(&p, &ok, false))
                .unwrap_err()
                .status,
            Status::Failed
        );
    }

    /// A shaped cell gets a star of client hosts on its profile and the round trip of both
    /// access links; relay's peers get two hosts with the pair delay between them.
    #[test]
    fn shaped_cells_get_their_topology_and_round_trip() {
        let (p, ok) = (profiles(), userspace());
        let one = |text: &str| plan(&[scenario(text)], None).remove(0);
        let echo = one("[[workload]]\nkind = \"echo\"\ntransports = [\"tcp\"]\nprofiles = [\"broadband\"]\nserver_delay_ms = 10.0\n");
        let r = resolve(&echo, &facts(&p, &ok, false)).unwrap_or_else(|e| panic!("{e:?}"));
        let (choice, spec) = r.topology.unwrap_or_else(|| panic!("no topology"));
        assert_eq!(choice.kind, BackendKind::Userspace);
        assert_eq!(spec.clients.len(), 1);
        assert_eq!(spec.server.delay_ms, 10.0);
        let link_rtt = p
            .get("broadband")
            .map(|l| l.rtt_ms().unwrap_or(0.0))
            .unwrap_or(0.0);
        assert_eq!(r.rtt_ms, Some(link_rtt + 20.0));

        let relay = one("[[workload]]\nkind = \"relay\"\nclients = 4\ntransports = [\"webrtc\"]\npair_delay_ms = 5.0\n");
        let r = resolve(&relay, &facts(&p, &ok, false)).unwrap_or_else(|e| panic!("{e:?}"));
        let (_, spec) = r.topology.unwrap_or_else(|| panic!("no topology"));
        assert_eq!(spec.clients.len(), 2);
        assert_eq!(spec.pair_delays.len(), 1);
        assert_eq!(
            client_groups(&relay.spec, true),
            vec![(HostId::client(1), 1, 2), (HostId::client(2), 3, 2)]
        );

        let local = one("[[workload]]\nkind = \"echo\"\ntransports = [\"tcp\"]\n");
        let r = resolve(&local, &facts(&p, &ok, false)).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(r.topology.is_none() && r.rtt_ms.is_none());
    }
}
