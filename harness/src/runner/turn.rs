//! The TURN server of WebRTC cells with a `turn` key: which cells want one, a real coturn
//! ([`wirebench_netem::turn`]) started on its host of the topology (the server's, or a host of
//! its own near the peers, see [`super::plan::turn_host`]) with the run's certificate (which the
//! server agent writes into coturn's directory with `--cert-dir`), the ICE configuration the
//! cell's clients get from it, and what the cell records of it (the ICE path, coturn's CPU).
//! Which cells cannot use it is said at plan time ([`crate::workload::network::skip_reason`]).

use anyhow::Context as _;
use wirebench_netem::turn::{Coturn, PORT, TLS_PORT};
use wirebench_netem::Topology;

use super::plan::PlannedCell;
use crate::network::{uses_ice, IcePolicy, TurnPlace, TurnTransport};
use crate::transport::rtc::ice::{IceConfig, IceServer};
use crate::workload::Params;

/// Whether cell `pc` runs a TURN server: a WebRTC cell with `turn` set.
pub(crate) fn wanted(pc: &PlannedCell) -> bool {
    uses_ice(&pc.transport) && pc.spec.params().turn != TurnPlace::None
}

/// Starts the cell's coturn on its host when the cell wants one (`dir` is then its directory).
pub(crate) async fn start(
    pc: &PlannedCell,
    topo: Option<&Topology>,
    dir: Option<&tempfile::TempDir>,
    stage: &super::clients::CellStage,
) -> anyhow::Result<Option<CellTurn>> {
    let (Some(dir), Some(host)) = (dir, super::plan::turn_host(&pc.spec)) else {
        return Ok(None);
    };
    let topo =
        topo.context("a TURN server runs on a host of the cell's topology, and it has none")?;
    stage.set(format!("starting coturn on {host}"));
    let coturn = Coturn::start(topo, host, dir.path()).await?;
    let cpu_at_start = coturn.pid().and_then(cpu_of);
    Ok(Some(CellTurn {
        coturn,
        cpu_at_start,
    }))
}

/// How far a path is from direct, for ties: relayed, then server-reflexive, peer-reflexive,
/// host.
fn relayedness(path: &str) -> u8 {
    match path.split('/').next().unwrap_or_default() {
        "relay" => 3,
        "srflx" => 2,
        "prflx" => 1,
        _ => 0,
    }
}

/// What ICE and the TURN server add to a cell that ran: the path the clients' selected
/// candidate pairs took (`params.ice_path`; when connections differ, every path with its count
/// in `params.ice_paths` and the most common as `ice_path`, the more relayed one on a tie, so
/// a relay pair whose two ends see different local types counts as relayed), coturn's CPU
/// seconds (`params.turn_cpu_s`) and, when the path was relayed, its CPU per gigabit that
/// crossed the clients' links over the same whole cell (`params.turn_cpu_s_per_gbit`: cores
/// per Gbit/s; `wire_bytes` = the clients' links' bytes up and down).
pub(crate) fn record(
    cell: &mut wirebench_reports::model::Cell,
    ice_paths: &std::collections::BTreeMap<String, u64>,
    turn_cpu_s: Option<f64>,
    wire_bytes: Option<(u64, u64)>,
) {
    let path = ice_paths
        .iter()
        .max_by_key(|(p, n)| (**n, relayedness(p)))
        .map(|(p, _)| p.as_str());
    if let Some(path) = path {
        cell.params.insert("ice_path".into(), path.into());
        if ice_paths.len() > 1 {
            let counts: serde_json::Map<String, serde_json::Value> = ice_paths
                .iter()
                .map(|(k, v)| (k.clone(), (*v).into()))
                .collect();
            cell.params.insert("ice_paths".into(), counts.into());
        }
    }
    let Some(cpu) = turn_cpu_s else {
        return;
    };
    let ms = (cpu * 1000.0).round() / 1000.0;
    cell.params.insert("turn_cpu_s".into(), ms.into());
    if let (Some(path), Some((up, down))) = (path, wire_bytes) {
        let gbit = (up + down) as f64 * 8.0 / 1e9;
        // Below a megabyte, coturn's fixed costs (allocation, permissions, keep-alives) are
        // all the figure would say.
        if path.starts_with("relay") && up + down >= 1_000_000 {
            let per = (cpu / gbit * 1000.0).round() / 1000.0;
            cell.params.insert("turn_cpu_s_per_gbit".into(), per.into());
        }
    }
}

/// A cell's running coturn, and its CPU seconds when it got ready. Dropping it stops coturn.
#[derive(Debug)]
pub(crate) struct CellTurn {
    coturn: Coturn,
    cpu_at_start: Option<f64>,
}

impl CellTurn {
    /// The ICE configuration of the cell's WebRTC clients: coturn as STUN server and as TURN
    /// server over the cell's `turn_transport`, with the credential; `ice = "relay"` as the
    /// relay-only policy.
    pub fn ice_config(&self, p: &Params) -> IceConfig {
        let ip = self.coturn.ip;
        let turn = match p.turn_transport {
            TurnTransport::Udp => format!("turn:{ip}:{PORT}?transport=udp"),
            TurnTransport::Tcp => format!("turn:{ip}:{PORT}?transport=tcp"),
            TurnTransport::Tls => format!("turns:{ip}:{TLS_PORT}?transport=tcp"),
        };
        IceConfig {
            servers: vec![
                IceServer {
                    urls: vec![format!("stun:{ip}:{PORT}")],
                    ..IceServer::default()
                },
                IceServer {
                    urls: vec![turn],
                    username: self.coturn.user().to_owned(),
                    credential: self.coturn.password().to_owned(),
                },
            ],
            relay_only: p.ice == IcePolicy::Relay,
        }
    }

    /// CPU seconds coturn has used since it was ready.
    pub fn cpu_s(&self) -> Option<f64> {
        let now = cpu_of(self.coturn.pid()?)?;
        Some((now - self.cpu_at_start?).max(0.0))
    }
}

fn cpu_of(pid: u32) -> Option<f64> {
    crate::agent::procstat::cpu_seconds_of(&pid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::plan::{plan, resolve, RunFacts};
    use wirebench_netem::{BackendChoice, BackendKind, HostId, Nat, ProfileSet};

    fn skip(c: &PlannedCell, coturn: fn() -> bool) -> Option<String> {
        let browser = c.client == crate::runner::scenario::ClientKind::Browser;
        let imp = c.implementation.as_deref();
        crate::workload::network::skip_reason(&c.transport, imp, browser, &c.spec, coturn)
    }

    fn cells(text: &str) -> Vec<PlannedCell> {
        let set = ProfileSet::parse(crate::runner::scenario::DEFAULT_PROFILES, "profiles.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = set.profiles.keys().cloned().collect();
        let s = crate::runner::scenario::parse(text, "t.toml", &names)
            .unwrap_or_else(|e| panic!("{e}"));
        plan(&[s], None)
    }

    fn facts<'a>(
        profiles: &'a ProfileSet,
        netem: &'a Result<BackendChoice, String>,
        coturn: fn() -> bool,
    ) -> RunFacts<'a> {
        RunFacts {
            profiles,
            netem,
            plaintext: false,
            chromium: || true,
            nginx: || true,
            coturn,
        }
    }

    /// A relay cell behind symmetric NATs with TURN near the peers gets both peers' hosts
    /// behind NATs and a third host, without one, on `turn_delay_ms`; coturn runs there.
    #[test]
    fn nat_and_turn_shape_the_topology() {
        let set = ProfileSet::parse(crate::runner::scenario::DEFAULT_PROFILES, "profiles.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let netem = Ok(BackendChoice {
            kind: BackendKind::Userspace,
            reason: "test".into(),
        });
        let text = "[[workload]]\nkind = \"relay\"\ntransports = [\"webrtc\", \"websocket\"]\n\
                    nat = \"symmetric\"\nturn = \"near-peers\"\nturn_delay_ms = 2.0\n";
        let all = cells(text);
        let rs = all
            .iter()
            .find(|c| c.implementation.as_deref() == Some("webrtc-rs"))
            .unwrap_or_else(|| panic!("no webrtc-rs cell"));
        assert!(wanted(rs));
        let r = resolve(rs, &facts(&set, &netem, || true)).unwrap_or_else(|e| panic!("{e:?}"));
        let (_, spec) = r
            .topology
            .unwrap_or_else(|| panic!("a NAT needs a topology"));
        assert_eq!(spec.clients.len(), 3);
        assert_eq!(spec.clients[2].delay_ms, 2.0);
        assert_eq!(spec.nat_of(HostId::client(1)), Nat::Symmetric);
        assert_eq!(spec.nat_of(HostId::client(2)), Nat::Symmetric);
        assert_eq!(spec.nat_of(HostId::client(3)), Nat::None);
        assert_eq!(
            crate::runner::plan::turn_host(&rs.spec),
            Some(HostId::client(3))
        );

        // str0m cannot cross the NATs; WebSocket runs without coturn; no coturn, no TURN cell.
        let str0m = all
            .iter()
            .find(|c| c.implementation.as_deref() == Some("str0m"))
            .unwrap_or_else(|| panic!("no str0m cell"));
        let e = resolve(str0m, &facts(&set, &netem, || true)).unwrap_err();
        assert!(e.reason.contains("str0m does no STUN or TURN"), "{e:?}");
        let ws = all.iter().find(|c| c.transport == "websocket");
        assert!(ws.is_some_and(|c| !wanted(c) && skip(c, || false).is_none()));
        let e = resolve(rs, &facts(&set, &netem, || false)).unwrap_err();
        assert!(e.reason.contains("apt-get install coturn"), "{e:?}");
    }

    /// webrtc-rs has no TURN over TCP or TLS, str0m no relayed candidates: said at plan time.
    #[test]
    fn stacks_that_cannot_are_skipped_with_the_reason() {
        let tcp = cells(
            "[[workload]]\nkind = \"connect\"\ntransports = [\"webrtc\"]\nturn = \"server\"\n\
             turn_transport = \"tcp\"\nice = \"relay\"\n",
        );
        for c in &tcp {
            let why = skip(c, || true).unwrap_or_default();
            match c.implementation.as_deref() {
                Some("webrtc-rs") => assert!(why.contains("TURN over UDP only"), "{why}"),
                _ => assert!(why.contains("no relayed candidate"), "{why}"),
            }
        }
    }

    /// coturn's CPU per gigabit is recorded for a relayed path that carried at least a
    /// megabyte, from the same whole-cell windows (CPU since coturn served, the links' bytes).
    #[test]
    fn cpu_per_gigabit_only_for_relayed_traffic() {
        let planned = cells("[[workload]]\nkind = \"download\"\ntransports = [\"webrtc\"]\n");
        let blank = || crate::runner::score::blank_cell(&planned[0], false);
        let mut relayed = blank();
        let paths = [("relay/udp".to_string(), 1u64)].into_iter().collect();
        record(
            &mut relayed,
            &paths,
            Some(0.5),
            Some((62_500_000, 62_500_000)),
        );
        assert_eq!(relayed.params["ice_path"], "relay/udp");
        assert_eq!(relayed.params["turn_cpu_s"], 0.5);
        assert_eq!(relayed.params["turn_cpu_s_per_gbit"], 0.5);
        let mut direct = blank();
        let paths = [("srflx".to_string(), 1u64)].into_iter().collect();
        record(
            &mut direct,
            &paths,
            Some(0.5),
            Some((62_500_000, 62_500_000)),
        );
        assert!(!direct.params.contains_key("turn_cpu_s_per_gbit"));
        let mut quiet = blank();
        let paths = [("relay/udp".to_string(), 1u64)].into_iter().collect();
        record(&mut quiet, &paths, Some(0.5), Some((1000, 1000)));
        assert!(!quiet.params.contains_key("turn_cpu_s_per_gbit"));
    }
}
