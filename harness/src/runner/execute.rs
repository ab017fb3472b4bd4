//! Stage 2, *execute* one cell: bring up its topology, start the server agent and the client
//! side, run the workload's steps, collect both sides' reports, tear everything down. What it
//! gives back is data ([`Execution`]) for the scoring stage.

use std::path::Path;

use wirebench_netem::proxy::{site_dir, Nginx};
use wirebench_netem::turn::turn_dir;
use wirebench_netem::{HostId, Topology};

use anyhow::Context as _;

use super::clients::{BrowserCell, CellRun, CellStage, ChromiumPages, ClientSide, RustAgents};
use super::cross::{CrossFigures, CrossTraffic};
use super::options::RunOptions;
use super::plan::{PlannedCell, Resolved};
use super::scenario::ClientKind;
use super::server::{Ready, ServerAgent, ServerSettings};
use super::turn;
use crate::workload::{self, ClientReport, Marks, ServerReport};

/// What both sides reported for a cell that ran to the end.
#[derive(Debug)]
pub(crate) struct Collected {
    /// The clients' merged report.
    pub report: ClientReport,
    /// The server agent's report.
    pub server: ServerReport,
    /// What the workload's steps measured around it.
    pub marks: Marks,
    /// What a browser cell adds.
    pub browser: Option<BrowserCell>,
    /// What the competing bulk flows achieved, when the cell had some (`cross_traffic`).
    pub cross: Option<CrossFigures>,
    /// The TURN server's CPU seconds over the cell, when there was one.
    pub turn_cpu_s: Option<f64>,
    /// The measured window's resource figures, when the client side took them.
    pub window: Option<wirebench_reports::model::MeasuredWindow>,
}

/// How a cell's execution ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// Both sides reported.
    Ran(Box<Collected>),
    /// The execution failed (topology, agents, protocol): the reason.
    Failed(String),
    /// It ran out of its time limit: the limit and where it had got to.
    TimedOut {
        /// The limit, s.
        limit_s: u64,
        /// What the cell was doing.
        stage: String,
    },
}

/// What executing a cell gave.
#[derive(Debug)]
pub(crate) struct Execution {
    /// How it ended.
    pub ending: Ending,
    /// Wire bytes (up, down) of every client host's access link, when it ran on a topology.
    pub wire_bytes: Option<(u64, u64)>,
    /// The link backend it used, if any.
    pub backend: Option<&'static str>,
    /// The emulator's counters summed over every host's access link, when it ran on one.
    pub emulator: Option<wirebench_netem::core::CoreStats>,
    /// Why the topology's teardown failed, if it did.
    pub teardown_error: Option<String>,
}

/// Executes a resolved cell.
pub(crate) async fn execute(
    pc: &PlannedCell,
    resolved: &Resolved,
    opts: &RunOptions,
    exe: &Path,
    inject_delay_us: u64,
) -> Execution {
    let mut execution = Execution {
        ending: Ending::Failed(String::new()),
        wire_bytes: None,
        backend: None,
        emulator: None,
        teardown_error: None,
    };
    let topo = match &resolved.topology {
        None => None,
        Some((choice, spec)) => match Topology::up_with(choice.clone(), spec) {
            Ok(t) => Some(t),
            Err(e) => {
                execution.ending = Ending::Failed(format!("bringing up the emulated link: {e}"));
                return execution;
            }
        },
    };
    execution.backend = topo.as_ref().map(|t| t.backend_name());
    let limit = pc.spec.time_limit();
    let stage = CellStage::default();
    let drive = drive(pc, opts, exe, topo.as_ref(), inject_delay_us, &stage);
    execution.ending = match tokio::time::timeout(limit, drive).await {
        Ok(Ok(collected)) => {
            // A TURN host of its own relays the peers' bytes: not a client's wire bytes.
            let turn_host = super::plan::turn_host(&pc.spec).filter(|h| *h != HostId::SERVER);
            let figures = topo.as_ref().and_then(|t| link_figures(t, turn_host));
            execution.wire_bytes = figures.map(|f| f.0);
            execution.emulator = figures.map(|f| f.1);
            Ending::Ran(Box::new(collected))
        }
        Ok(Err(e)) => Ending::Failed(format!("{e:#}")),
        Err(_) => Ending::TimedOut {
            limit_s: limit.as_secs(),
            stage: stage.get(),
        },
    };
    if let Some(t) = topo {
        execution.teardown_error = t.teardown().err().map(|e| e.to_string());
    }
    execution
}

/// What a cell's links counted, read once from every host at the end: the clients' wire
/// bytes (up, down) and the emulator's counters summed over every host (server included),
/// both directions, the largest lateness kept.
fn link_figures(
    t: &Topology,
    not_client: Option<HostId>,
) -> Option<((u64, u64), wirebench_netem::core::CoreStats)> {
    let wire = super::window::client_wire(t, not_client)?;
    let mut sum = wirebench_netem::core::CoreStats::default();
    for k in 0..=t.client_count() {
        let id = if k == 0 {
            HostId::SERVER
        } else {
            HostId::client(k)
        };
        let c = t.counters(id).ok()?;
        for d in [c.up, c.down] {
            sum.packets_out += d.packets_out;
            sum.queue_drops += d.queue_drops;
            sum.aqm_drops += d.aqm_drops;
            sum.max_sojourn_ns = sum.max_sojourn_ns.max(d.max_sojourn_ns);
            sum.lateness_ns_sum += d.lateness_ns_sum;
            sum.lateness_ns_max = sum.lateness_ns_max.max(d.lateness_ns_max);
        }
    }
    Some((wire, sum))
}

/// The cell's agents: the server, the workload's steps, the client side.
async fn drive(
    pc: &PlannedCell,
    opts: &RunOptions,
    exe: &Path,
    topo: Option<&Topology>,
    inject_delay_us: u64,
    stage: &CellStage,
) -> anyhow::Result<Collected> {
    stage.set("starting the server agent");
    let (server_cpu, client_cpu) = if opts.pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    // A WebRTC cell with `turn`: coturn's directory gets the run's certificate.
    let turn_dir = turn::wanted(pc).then(turn_dir).transpose()?;
    let cert_dir = turn_dir.as_ref().map(|d| d.path());
    let (mut server, ready, _proxy) = start_server(
        pc,
        opts,
        exe,
        topo,
        inject_delay_us,
        server_cpu,
        stage,
        cert_dir,
    )
    .await?;
    let coturn = turn::start(pc, topo, turn_dir.as_ref(), stage).await?;
    let ice = coturn.as_ref().map(|c| c.ice_config(pc.spec.params()));
    let cross = match (pc.spec.params().cross_traffic, topo) {
        (Some(flows), Some(t)) if flows > 0 => {
            stage.set("starting the competing bulk flows");
            Some(CrossTraffic::start(t, flows)?)
        }
        _ => None,
    };
    stage.set("preparing the server");
    let mut marks = workload::prepare(&pc.spec, &mut server, ready.nofile_limit).await?;
    let tls = !opts.plaintext;
    let mut cell = CellRun {
        pc,
        server: &mut server,
        marks: &mut marks,
        stage,
        window: None,
    };
    let (report, browser) = match pc.client {
        ClientKind::Browser => {
            let pages = ChromiumPages::new(&ready, tls, topo)?.with_ice(ice);
            run_clients(pages, &mut cell).await?
        }
        ClientKind::Rust => {
            let agents = RustAgents::new(pc, &ready, tls, exe, topo, client_cpu).with_ice(ice);
            run_clients(agents, &mut cell).await?
        }
    };
    let window = cell.window.take();
    let cross = cross.map(CrossTraffic::stop);
    stage.set("the clients had reported; collecting the server's statistics");
    let server = server.stats_and_stop().await?;
    Ok(Collected {
        report,
        server,
        marks,
        browser,
        cross,
        turn_cpu_s: coturn.and_then(|c| c.cpu_s()),
        window,
    })
}

/// A proxy in front of the server agent: nginx and its directory (the certificate, the
/// configuration, the logs), both removed when dropped (nginx first).
type Front = (Nginx, tempfile::TempDir);

/// Starts the server agent and, for a proxied cell, nginx in front of it. The `Ready` returned
/// is what the clients connect to: nginx's address when there is one. A proxied cell's server
/// agent speaks plain HTTP/1.x behind nginx, which terminates TLS (and HTTP/2) with the
/// server's certificate. The agent writes its certificate into `cert_dir` too (coturn's).
#[allow(clippy::too_many_arguments)]
async fn start_server<'t>(
    pc: &PlannedCell,
    opts: &RunOptions,
    exe: &Path,
    topo: Option<&'t Topology>,
    inject_delay_us: u64,
    cpu: Option<usize>,
    stage: &CellStage,
    cert_dir: Option<&Path>,
) -> anyhow::Result<(ServerAgent<'t>, Ready, Option<Front>)> {
    let params = pc.spec.params();
    let http2 = !params.http.is_http1();
    let dir = (!params.proxy.is_none() && crate::proxy::goes_through(&pc.transport))
        .then(site_dir)
        .transpose()?;
    let settings = ServerSettings {
        plaintext: opts.plaintext || dir.is_some(),
        http2: http2 && dir.is_none(),
        inject_delay_us,
        cpu,
        cert_dir: dir
            .as_ref()
            .map(|d| d.path())
            .or(cert_dir)
            .map(Path::to_path_buf),
    };
    let (server, mut ready) = ServerAgent::start(exe, topo, settings).await?;
    let Some(dir) = dir else {
        return Ok((server, ready, None));
    };
    stage.set("starting nginx in front of the server");
    let upstream = ready
        .addr
        .parse()
        .with_context(|| format!("server address {:?}", ready.addr))?;
    let tls = !opts.plaintext;
    let nginx = Nginx::start(topo, params.proxy, upstream, dir.path(), tls, http2).await?;
    ready.addr = nginx.addr.to_string();
    Ok((server, ready, Some((nginx, dir))))
}

/// Runs the client side, then the workload's last step, then ends the clients.
async fn run_clients(
    mut side: impl ClientSide,
    cell: &mut CellRun<'_, '_>,
) -> anyhow::Result<(ClientReport, Option<BrowserCell>)> {
    let mut report = side.run(cell).await?;
    workload::finish(cell.server, cell.marks).await?;
    let browser = side.close(&mut report).await?;
    Ok((report, browser))
}
