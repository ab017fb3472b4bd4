//! Workloads, written once against the [`Transport`] trait: no per-transport branches.
//!
//! One module per workload (`echo`, `push`, `bulk` for download and upload, `connect`, `relay`,
//! `collab`, `idle`, `flap`; `origin-limit` runs in the browser only), each owning
//! its client half (run by the client agent, `wirebench drive`), its server commands (run by
//! the server agent on the orchestrator's command), its orchestration steps
//! ([`prepare`] → [`arm`] → [`finish`], driven through [`ServerControl`]) and its scoring
//! (agent reports → cell figures, [`score`]). This module only dispatches on [`WorkloadSpec`];
//! the ground floor below the workloads is [`params`], [`spec`], [`report`], [`schedule`],
//! [`score`](mod@score) and [`orchestrate`].
//!
//! Latency is measured from the **intended** send time of an open-loop schedule
//! (coordinated-omission corrected) into HdrHistogram (µs, 3 significant digits); samples from
//! the warm-up are recorded apart and excluded.

use std::sync::Arc;

use wirebench_reports::model::Cell;

use crate::clock::now_ns;
use crate::frame::{Kind, HEADER_LEN};
use crate::transport::{Connection, Target, Transport, TransportError};

pub mod bulk;
pub mod catalogue;
pub mod collab;
pub mod connect;
pub mod echo;
pub mod flap;
pub mod idle;
pub mod network;
pub mod orchestrate;
pub mod params;
pub mod push;
pub mod receive;
pub mod relay;
pub mod report;
pub mod schedule;
pub mod score;
pub mod spec;

pub use bulk::{server_download, BULK_STALL};
pub use orchestrate::{Mark, ServerControl, ServerReport};
pub use params::{HttpVersion, Params};
pub use push::server_push;
pub use report::{new_histogram, ClientReport, SeqTracker, MAX_LATENCY_US};
pub use schedule::{CONNECT_TIMEOUT, DRAIN};
pub use spec::{WorkloadSpec, ALL_IDS};

/// What the orchestrator measured around a workload that needs marks (idle, flap).
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks {
    /// The idle workload's instants.
    pub idle: Option<idle::IdleMarks>,
    /// The flap workload's instants.
    pub flap: Option<flap::FlapMarks>,
}

/// The workload's step before its clients connect (idle: keep-alive settings and a first mark;
/// upload: the server's warm-up).
pub async fn prepare(
    spec: &WorkloadSpec,
    ctl: &mut impl ServerControl,
    server_nofile: Option<u64>,
) -> anyhow::Result<Marks> {
    let mut marks = Marks::default();
    match spec {
        WorkloadSpec::Idle(p) => marks.idle = Some(idle::prepare(p, ctl, server_nofile).await?),
        WorkloadSpec::Upload(p) => ctl.send(&bulk::upload_command(p)).await?,
        _ => {}
    }
    Ok(marks)
}

/// The workload's step once every client is connected: what the server must know or start
/// (relay pairs, collab order recording, push and download schedules, idle's quiet window and
/// notifications, flap's stream and cut).
pub async fn arm(
    spec: &WorkloadSpec,
    ctl: &mut impl ServerControl,
    clients: Vec<u32>,
    peer_to_peer: bool,
    marks: &mut Marks,
) -> anyhow::Result<()> {
    match spec {
        WorkloadSpec::Relay(p) => relay::arm(p, ctl, peer_to_peer).await,
        WorkloadSpec::Collab(_) => collab::arm(ctl, clients).await,
        WorkloadSpec::Push(p) => ctl.send(&push::server_command(p, clients)).await,
        WorkloadSpec::Download(p) => ctl.send(&bulk::download_command(p, clients)).await,
        WorkloadSpec::Idle(p) => {
            let m = marks.idle.get_or_insert_with(Default::default);
            idle::arm(p, ctl, clients, m).await
        }
        WorkloadSpec::Flap(p) => {
            marks.flap = Some(flap::arm(p, ctl, clients).await?);
            Ok(())
        }
        WorkloadSpec::Echo(_)
        | WorkloadSpec::Upload(_)
        | WorkloadSpec::Connect(_)
        | WorkloadSpec::OriginLimit(_) => Ok(()),
    }
}

/// The workload's step once the clients have reported (idle: the last mark).
pub async fn finish(ctl: &mut impl ServerControl, marks: &mut Marks) -> anyhow::Result<()> {
    if let Some(m) = marks.idle.as_mut() {
        m.done = ctl.mark().await?;
    }
    Ok(())
}

/// Scores the workload's own figures into `cell`: throughput, delivery, the checks only it
/// makes, and its figures (idle, flap).
pub fn score(
    spec: &WorkloadSpec,
    cell: &mut Cell,
    r: &ClientReport,
    s: &ServerReport,
    marks: &Marks,
    peer_to_peer: bool,
) {
    match spec {
        WorkloadSpec::Echo(p) => echo::score(p, cell, r),
        WorkloadSpec::Push(p) => push::score(p, cell, r),
        WorkloadSpec::Download(_) => bulk::score_download(cell, r),
        WorkloadSpec::Upload(_) => bulk::score_upload(cell, s),
        WorkloadSpec::Relay(p) => relay::score(p, cell, r, s, peer_to_peer),
        WorkloadSpec::Collab(p) => collab::score(p, cell, r, s),
        WorkloadSpec::Idle(_) => idle::score(cell, r, marks.idle.as_ref()),
        WorkloadSpec::Flap(_) => flap::score(cell, r, marks.flap.as_ref()),
        WorkloadSpec::Connect(_) | WorkloadSpec::OriginLimit(_) => {}
    }
}

/// Runs the client half of `spec` for clients `first_client ..` over `transport`.
/// `on_connected` is called once every client is connected (server-driven workloads start then).
pub async fn run_clients(
    transport: Arc<dyn Transport>,
    base: Target,
    spec: WorkloadSpec,
    first_client: u32,
    on_connected: impl FnOnce(Vec<u32>),
) -> ClientReport {
    run_clients_gated(
        transport,
        base,
        spec,
        first_client,
        None,
        on_connected,
        async {},
    )
    .await
}

/// [`run_clients`] for `count` clients (None: the workload's `clients`), holding every schedule
/// until `start` resolves after `on_connected`: the orchestrator's barrier when the server or
/// other client agents must be ready first (relay pairs, collab).
pub async fn run_clients_gated(
    transport: Arc<dyn Transport>,
    base: Target,
    spec: WorkloadSpec,
    first_client: u32,
    count: Option<u32>,
    on_connected: impl FnOnce(Vec<u32>),
    start: impl std::future::Future<Output = ()>,
) -> ClientReport {
    let p = spec.params().clone();
    let mut report = ClientReport::default();
    if p.size < HEADER_LEN {
        report.error = Some(format!(
            "message size {} is below the {HEADER_LEN}-byte frame header",
            p.size
        ));
        return report;
    }
    if let WorkloadSpec::Connect(_) = spec {
        let target = Target {
            client_id: first_client,
            ..base
        };
        connect::connect_workload(transport.as_ref(), &target, &p, &mut report).await;
        return with_resources(report);
    }
    if let WorkloadSpec::OriginLimit(_) = spec {
        report.error =
            Some("origin-limit runs in the browser client only (--client browser)".into());
        return report;
    }
    let relay = matches!(spec, WorkloadSpec::Relay(_));
    if relay {
        if let Err(e) = relay::check_pairs(p.clients) {
            report.error = Some(e);
            return report;
        }
    }
    let ids: Vec<u32> = (0..count.unwrap_or(p.clients).max(1))
        .map(|k| first_client + k)
        .collect();
    let conns = match connect_all(
        &transport,
        client_target(&spec, base),
        &spec,
        &ids,
        &mut report,
    )
    .await
    {
        Some(conns) => conns,
        None => return with_resources(report),
    };
    on_connected(ids);
    start.await;
    let start_ns = now_ns() + 5_000_000; // every client's schedule starts 5 ms from now
    let r = match &spec {
        WorkloadSpec::Collab(p) => {
            let conns = conns.into_iter().map(|(id, c, _)| (id, c)).collect();
            Ok(collab::run(&spec, p, conns, start_ns).await)
        }
        _ => run_each(&transport, &spec, conns, start_ns).await,
    };
    if let Err(e) = r.and_then(|r| report.merge(r).map_err(|e| e.to_string())) {
        report.error.get_or_insert(e);
    }
    with_resources(report)
}

/// A connected client: its id, connection and the target it connected with.
type Connected = (u32, Connection, Target);

/// Connects every client first (concurrently, a few at a time to spread the handshakes; relay
/// peers all at once, since a peer-to-peer offer waits for its answerer), recording each
/// setup in `report`; None (the reason in `report`) when one fails.
async fn connect_all(
    transport: &Arc<dyn Transport>,
    base: Target,
    spec: &WorkloadSpec,
    ids: &[u32],
    report: &mut ClientReport,
) -> Option<Vec<Connected>> {
    let p = spec.params();
    let relay = matches!(spec, WorkloadSpec::Relay(_));
    let spread = matches!(spec, WorkloadSpec::Idle(_));
    if spread {
        report.rss_before_connect_bytes = crate::agent::procstat::rss_bytes();
    }
    let mut conns = Vec::with_capacity(ids.len());
    let chunk_len = if relay { ids.len() } else { 64 };
    for chunk in ids.chunks(chunk_len) {
        let futs = chunk.iter().map(|&id| {
            let mut target = Target {
                client_id: id,
                ..base.clone()
            };
            if spread {
                target.local_ip = idle::source_ip(target.addr, id);
            }
            let pair = relay.then(|| relay::peer_of(id, p.clients));
            connect_one(transport.clone(), target, pair)
        });
        for (r, target) in futures_util::future::join_all(futs).await {
            let id = target.client_id;
            match r {
                Ok(c) => {
                    report.setup_us.push(c.setup.total.as_micros() as u64);
                    if let Some(path) = &c.setup.ice_path {
                        *report.ice_paths.entry(path.clone()).or_default() += 1;
                    }
                    for (k, v) in &c.setup.phases {
                        *report.setup_phases_us.entry(k.to_string()).or_default() +=
                            v.as_micros() as u64;
                    }
                    conns.push((id, c, target));
                }
                Err(e) => {
                    report.error = Some(format!(
                        "client {id}: connect: {e} ({} of {} clients connected)",
                        conns.len(),
                        ids.len()
                    ));
                    return None;
                }
            }
        }
    }
    if spread {
        report.rss_connected_bytes = crate::agent::procstat::rss_bytes();
    }
    Some(conns)
}

/// One client's connection (to its relay peer, when `pair` is set), bounded: a server that
/// accepts no more (out of file descriptors) leaves a handshake hanging, and the cell fails
/// with the reason instead of its time limit.
async fn connect_one(
    t: Arc<dyn Transport>,
    target: Target,
    pair: Option<(u32, bool)>,
) -> (Result<Connection, TransportError>, Target) {
    let connect = async {
        match pair {
            Some((peer, sender)) => t.connect_relay(&target, peer, sender).await,
            None => t.connect(&target).await,
        }
    };
    (schedule::bounded_connect(connect).await, target)
}

/// Runs every connected client's half of the workload as its own task; their reports merged.
async fn run_each(
    transport: &Arc<dyn Transport>,
    spec: &WorkloadSpec,
    conns: Vec<Connected>,
    start_ns: u64,
) -> Result<ClientReport, String> {
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(id, conn, target)| {
            let spec = spec.clone();
            let transport = transport.clone();
            let start_ns = spec.client_start_ns(start_ns, id);
            tokio::spawn(async move { run_one(spec, id, conn, start_ns, transport, target).await })
        })
        .collect();
    let mut report = ClientReport::default();
    for t in tasks {
        match t.await {
            Ok(r) => {
                if let Err(e) = report.merge(r) {
                    report.error.get_or_insert(e.to_string());
                }
            }
            Err(e) => {
                report.error.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    Ok(report)
}

/// The target a workload's clients connect with: listen-only clients (idle, push) open no
/// HTTP upstream until they send, which they never do, so 10,000 of them hold 10,000
/// connections at the server rather than 20,000 (twice the open-file limit's worth, once).
fn client_target(spec: &WorkloadSpec, base: Target) -> Target {
    match spec {
        WorkloadSpec::Idle(p) => idle::client_target(p, base),
        WorkloadSpec::Push(_) => Target {
            lazy_up: true,
            ..base
        },
        _ => base,
    }
}

fn with_resources(mut r: ClientReport) -> ClientReport {
    r.cpu_s = crate::agent::procstat::cpu_seconds();
    r.rss_peak_bytes = crate::agent::procstat::rss_peak_bytes();
    r
}

async fn run_one(
    spec: WorkloadSpec,
    id: u32,
    conn: Connection,
    start_ns: u64,
    transport: Arc<dyn Transport>,
    target: Target,
) -> ClientReport {
    let mut rep = ClientReport::default();
    if let WorkloadSpec::Flap(p) = &spec {
        if let Err(e) = flap::client(p, conn, transport.as_ref(), &target, &mut rep).await {
            rep.error = Some(format!("client {id}: {e}"));
        }
        return rep;
    }
    let Connection { sink, stream, .. } = conn;
    let res = match &spec {
        WorkloadSpec::Echo(p) => echo::echo(p, id, sink, stream, start_ns, &mut rep).await,
        WorkloadSpec::Push(p) => {
            receive::receive_server_frames(p, Kind::Push, stream, &mut rep).await
        }
        WorkloadSpec::Download(p) => {
            let _keep = sink; // keep the upstream open while downloading
            receive::receive_server_frames(p, Kind::Data, stream, &mut rep).await
        }
        WorkloadSpec::Upload(p) => bulk::upload(p, id, sink, stream, start_ns, &mut rep).await,
        WorkloadSpec::Relay(p) => match relay::peer_of(id, p.clients) {
            (peer, true) => relay::send(p, id, peer, sink, stream, start_ns, &mut rep).await,
            (peer, false) => relay::receive(p, peer, sink, stream, start_ns, &mut rep).await,
        },
        WorkloadSpec::Idle(p) => {
            let _keep = sink; // a dropped sink may close the connection (tcp: FIN)
            idle::client(p, stream, start_ns, &mut rep).await
        }
        WorkloadSpec::Connect(_)
        | WorkloadSpec::Collab(_)
        | WorkloadSpec::OriginLimit(_)
        | WorkloadSpec::Flap(_) => Ok(()),
    };
    if let Err(e) = res {
        rep.error = Some(format!("client {id}: {e}"));
    }
    rep
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Listen-only clients (push, idle) open no HTTP upstream; clients that send do.
    #[test]
    fn only_senders_open_an_upstream_at_once() {
        let base = Target::new(
            "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!()),
            true,
            None,
            1,
            Duration::from_millis(50),
        );
        let p = Params {
            rate: 10.0,
            size: 64,
            duration_ms: 1000,
            clients: 1,
            connects: 1,
            poll_interval_ms: 50,
            ..Params::default()
        };
        assert!(client_target(&WorkloadSpec::Push(p.clone()), base.clone()).lazy_up);
        assert!(client_target(&WorkloadSpec::Idle(p.clone()), base.clone()).lazy_up);
        assert!(!client_target(&WorkloadSpec::Echo(p.clone()), base.clone()).lazy_up);
        assert!(!client_target(&WorkloadSpec::Upload(p), base).lazy_up);
    }

    /// A cell's time limit grows with its client count, so 10,000 clients connecting through
    /// the emulator before the schedule starts don't time a sound cell out.
    #[test]
    fn time_limit_grows_with_clients() {
        let push = |clients| {
            WorkloadSpec::Push(Params {
                clients,
                warmup_ms: 10_000,
                duration_ms: 60_000,
                ..Params::default()
            })
            .time_limit()
        };
        assert_eq!(push(1), Duration::from_millis(130_010));
        assert_eq!(push(10_000), Duration::from_secs(230));
    }
}
