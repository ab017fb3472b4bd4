//! The client side of a cell, one trait with two implementations: Rust client agents
//! (`wirebench drive --control`, one per client host) and headless Chromium (one browser per
//! client host, one page per client). Both connect every client, let the workload arm the
//! server once all are connected, release gated schedules, and return the merged report.

use std::path::Path;

use anyhow::Context as _;
use wirebench_netem::{HostId, Topology};
use wirebench_reports::model::{BrowserFigures, MeasuredWindow};

use super::agent::AgentProcess;
use super::plan::{client_groups, PlannedCell};
use super::server::{Ready, ServerAgent};
use super::window::{self, Probe};
use crate::agent::control::{DriveCommand, DriveEvent, Job};
use crate::browser::{self, BrowserError, Chromium};
use crate::transport::rtc::ice::IceConfig;
use crate::workload::{self, ClientReport, Marks};

/// Where a cell's execution has got to: the reason of a cell that runs out of time says it.
#[derive(Debug, Default)]
pub(crate) struct CellStage(std::sync::Mutex<String>);

impl CellStage {
    /// Records what the cell is doing now.
    pub fn set(&self, what: impl Into<String>) {
        if let Ok(mut s) = self.0.lock() {
            *s = what.into();
        }
    }

    /// What the cell was doing last.
    pub fn get(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// What the client side may use of the running cell: the server to arm, the marks to keep.
pub(crate) struct CellRun<'a, 't> {
    /// The cell.
    pub pc: &'a PlannedCell,
    /// Its server agent.
    pub server: &'a mut ServerAgent<'t>,
    /// What the workload's steps measured.
    pub marks: &'a mut Marks,
    /// Progress, for the time-out reason.
    pub stage: &'a CellStage,
    /// The measured window's resource figures, when the client side took them.
    pub window: Option<MeasuredWindow>,
}

impl CellRun<'_, '_> {
    /// The workload's step once `clients` are all connected.
    async fn arm(&mut self, clients: Vec<u32>) -> anyhow::Result<()> {
        workload::arm(
            &self.pc.spec,
            self.server,
            clients,
            self.pc.peer_to_peer,
            self.marks,
        )
        .await
    }
}

/// What a browser cell adds to the client's report.
#[derive(Debug)]
pub(crate) struct BrowserCell {
    /// `chromium <version>`.
    pub version: String,
    /// Browser-only figures.
    pub figures: BrowserFigures,
}

/// The client side of a cell.
#[allow(async_fn_in_trait)] // static dispatch only, within the crate
pub(crate) trait ClientSide {
    /// Connects the cell's clients, arms the server once all are connected, runs the workload
    /// and returns the clients' merged report.
    async fn run(&mut self, cell: &mut CellRun<'_, '_>) -> anyhow::Result<ClientReport>;

    /// Ends the clients; adds what only the end can measure to `report` (a browser's CPU and
    /// memory), and what a browser cell adds to the cell.
    async fn close(self, report: &mut ClientReport) -> anyhow::Result<Option<BrowserCell>>;
}

/// Rust client agents, one per client host.
pub(crate) struct RustAgents<'a> {
    exe: &'a Path,
    topo: Option<&'a Topology>,
    cpu: Option<usize>,
    job: Job,
    drives: Vec<AgentProcess>,
}

impl<'a> RustAgents<'a> {
    /// Client agents of `exe` for `pc` against the server that said `ready`.
    pub fn new(
        pc: &PlannedCell,
        ready: &Ready,
        tls: bool,
        exe: &'a Path,
        topo: Option<&'a Topology>,
        cpu: Option<usize>,
    ) -> Self {
        let job = Job {
            transport: pc.transport.clone(),
            implementation: pc.implementation.clone(),
            addr: ready.addr.clone(),
            tls,
            cert_sha256: Some(ready.cert_sha256.clone()),
            first_client: 1,
            clients: None,
            wait_start: pc.spec.gated(),
            workload: pc.spec.clone(),
            ice: None,
        };
        Self {
            exe,
            topo,
            cpu,
            job,
            drives: Vec::new(),
        }
    }

    /// The agents' clients use `ice` (the cell's STUN/TURN servers and policy).
    pub fn with_ice(mut self, ice: Option<IceConfig>) -> Self {
        self.job.ice = ice;
        self
    }

    /// Starts one agent per client host with its share of the clients.
    async fn spawn(&mut self, pc: &PlannedCell) -> anyhow::Result<()> {
        let mut groups = client_groups(&pc.spec, self.topo.is_some());
        if self.topo.is_none() && !pc.spec.gated() {
            groups = share_out(groups, crate::agent::procstat::clients_per_agent());
        }
        for &(host, first_client, count) in &groups {
            let cmd = match self.topo {
                Some(t) => t.command(host, self.exe)?,
                None => std::process::Command::new(self.exe),
            };
            let mut drive = AgentProcess::spawn(cmd, &["drive", "--control"], "client", self.cpu)?;
            drive
                .send(&Job {
                    first_client,
                    clients: (groups.len() > 1).then_some(count),
                    // Agents sharing one host's clients start their schedules together.
                    wait_start: self.job.wait_start || groups.len() > 1,
                    ..self.job.clone()
                })
                .await?;
            self.drives.push(drive);
        }
        Ok(())
    }

    /// Every agent reports its clients connected, or ends early with a failure: the clients,
    /// or the early report.
    async fn connected(&mut self) -> anyhow::Result<Result<Vec<u32>, ClientReport>> {
        let mut clients = Vec::new();
        let mut early: Option<ClientReport> = None;
        for drive in &mut self.drives {
            match drive.recv::<DriveEvent>().await? {
                DriveEvent::Connected { clients: c } => clients.extend(c),
                DriveEvent::Result(r) => {
                    early.get_or_insert_with(ClientReport::default).merge(*r)?
                }
            }
        }
        Ok(early.map_or(Ok(clients), Err))
    }
}

impl ClientSide for RustAgents<'_> {
    async fn run(&mut self, cell: &mut CellRun<'_, '_>) -> anyhow::Result<ClientReport> {
        let clients = cell.pc.spec.params().clients.max(1);
        cell.stage.set(format!(
            "connecting {clients} client(s) (none reported connected yet)"
        ));
        self.spawn(cell.pc).await?;
        let clients = match self.connected().await? {
            Ok(clients) => clients,
            Err(early) => return Ok(early),
        };
        let n = clients.len();
        cell.stage.set(format!(
            "all {n} client(s) connected; starting the workload"
        ));
        // Clients shared out over agents (open-file limit) start together once all are
        // connected, so the first agent's schedule does not run out while the last connects.
        if self.drives.len() > 1 && !cell.pc.spec.gated() {
            for drive in &mut self.drives {
                drive.send(&DriveCommand::Start).await?;
            }
        }
        cell.arm(clients).await?;
        cell.stage.set(format!(
            "all {n} client(s) connected; the workload was running, no client agent had \
             reported its results"
        ));
        if cell.pc.spec.gated() {
            for drive in &mut self.drives {
                drive.send(&DriveCommand::Start).await?;
            }
        }
        let probe = Probe {
            topo: self.topo,
            server: cell.server.pid(),
            clients: self.drives.iter().filter_map(AgentProcess::pid).collect(),
            not_client: super::plan::turn_host(&cell.pc.spec)
                .filter(|h| *h != wirebench_netem::HostId::SERVER),
        };
        let reports = collect(&mut self.drives);
        let Some((warmup, duration)) = window::window_of(&cell.pc.spec) else {
            return reports.await;
        };
        // The marks are read while the clients run; a cell whose clients report before the
        // window's end (a failure) has none.
        let marks = window::sample(probe, warmup, duration);
        tokio::pin!(reports, marks);
        loop {
            tokio::select! {
                r = &mut reports => return r,
                w = &mut marks, if cell.window.is_none() => cell.window = Some(w),
            }
        }
    }

    async fn close(self, _report: &mut ClientReport) -> anyhow::Result<Option<BrowserCell>> {
        for drive in self.drives {
            drive.shutdown().await;
        }
        Ok(None)
    }
}

/// Groups of at most `per_agent` clients (same host, consecutive ids): on loopback one
/// client agent holds at most its open-file limit's worth of connections (bench/scale.sh).
fn share_out(groups: Vec<(HostId, u32, u32)>, per_agent: u32) -> Vec<(HostId, u32, u32)> {
    let per_agent = per_agent.max(1);
    let mut out = Vec::new();
    for (host, first, count) in groups {
        let mut k = 0;
        while k < count {
            let n = per_agent.min(count - k);
            out.push((host, first + k, n));
            k += n;
        }
    }
    out
}

/// Every agent's result, merged.
async fn collect(drives: &mut [AgentProcess]) -> anyhow::Result<ClientReport> {
    let mut report = ClientReport::default();
    for drive in drives {
        loop {
            if let DriveEvent::Result(r) = drive.recv::<DriveEvent>().await? {
                report.merge(*r)?;
                break;
            }
        }
    }
    Ok(report)
}

/// Headless Chromium, one browser per client host (where the Rust client agents would run:
/// relay on a topology puts the senders' pages on client host 1, the receivers' on client
/// host 2). Chromium is never pinned: its browser, network and renderer processes on one CPU
/// (with a page that spins before each send) inflated browser RTTs twentyfold.
pub(crate) struct ChromiumPages<'a> {
    topo: Option<&'a Topology>,
    addr: std::net::SocketAddr,
    tls: bool,
    spki_sha256: Option<String>,
    browsers: Vec<Chromium>,
    figures: BrowserFigures,
    ice: Option<IceConfig>,
}

impl<'a> ChromiumPages<'a> {
    /// Chromium pages for the server that said `ready`.
    pub fn new(ready: &Ready, tls: bool, topo: Option<&'a Topology>) -> anyhow::Result<Self> {
        Ok(Self {
            topo,
            addr: ready
                .addr
                .parse()
                .with_context(|| format!("server address {:?}", ready.addr))?,
            tls,
            spki_sha256: ready.spki_sha256.clone(),
            browsers: Vec::new(),
            figures: BrowserFigures::default(),
            ice: None,
        })
    }

    /// The pages' WebRTC connections use `ice` (the cell's STUN/TURN servers and policy).
    pub fn with_ice(mut self, ice: Option<IceConfig>) -> Self {
        self.ice = ice;
        self
    }

    fn job<'j>(&self, pc: &'j PlannedCell, ice: Option<&'j IceConfig>) -> browser::PageJob<'j> {
        browser::PageJob {
            transport: &pc.transport,
            addr: self.addr,
            tls: self.tls,
            spki_sha256: self.spki_sha256.clone(),
            first_client: 1,
            workload: &pc.spec,
            ice,
        }
    }

    /// Launches one browser per client host.
    async fn launch(&mut self, pc: &PlannedCell, stage: &CellStage) -> anyhow::Result<()> {
        let chromium = browser::chromium::find().ok_or(BrowserError::NotFound)?;
        let options = self.job(pc, None).launch_options(None);
        stage.set("launching Chromium");
        for (host, _, _) in client_groups(&pc.spec, self.topo.is_some()) {
            let cmd = match self.topo {
                Some(t) => t.command(host, &chromium)?,
                None => std::process::Command::new(&chromium),
            };
            self.browsers.push(Chromium::launch(cmd, &options).await?);
        }
        Ok(())
    }
}

impl ClientSide for ChromiumPages<'_> {
    async fn run(&mut self, cell: &mut CellRun<'_, '_>) -> anyhow::Result<ClientReport> {
        let pc = cell.pc;
        self.launch(pc, cell.stage).await?;
        let ice = self.ice.clone();
        let job = self.job(pc, ice.as_ref());
        let refs: Vec<&Chromium> = self.browsers.iter().collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (start_tx, start_rx) = tokio::sync::oneshot::channel::<()>();
        let mut start_tx = Some(start_tx);
        cell.stage.set(format!(
            "in the browser pages: connecting {} client(s), then the workload",
            pc.spec.params().clients.max(1)
        ));
        let run = async {
            if pc.spec.gated() {
                let start = async {
                    let _ = start_rx.await;
                };
                browser::run_gated(&refs, &job, tx, start).await
            } else {
                browser::run(refs[0], &job, tx).await
            }
        };
        tokio::pin!(run);
        let outcome = loop {
            tokio::select! {
                r = &mut run => break r?,
                Some(clients) = rx.recv() => {
                    cell.stage.set(format!(
                        "every page connected ({}), running the workload",
                        clients.len()
                    ));
                    cell.arm(clients).await?;
                    if let Some(go) = start_tx.take() {
                        let _ = go.send(());
                    }
                }
            }
        };
        self.figures = outcome.figures;
        Ok(outcome.report)
    }

    async fn close(self, report: &mut ClientReport) -> anyhow::Result<Option<BrowserCell>> {
        for b in &self.browsers {
            // Several browsers: their processes' CPU time and peak memory add up.
            let (cpu_s, rss_peak_bytes) = b.resources();
            report.merge(ClientReport {
                cpu_s,
                rss_peak_bytes,
                ..ClientReport::default()
            })?;
        }
        let version = self
            .browsers
            .first()
            .map(|b| b.version.clone())
            .unwrap_or_default();
        for b in self.browsers {
            b.close().await;
        }
        Ok(Some(BrowserCell {
            version,
            figures: self.figures,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_shared_out_by_the_per_agent_limit() {
        let h = HostId::client(1);
        assert_eq!(share_out(vec![(h, 1, 10)], 10), vec![(h, 1, 10)]);
        assert_eq!(
            share_out(vec![(h, 1, 25)], 10),
            vec![(h, 1, 10), (h, 11, 10), (h, 21, 5)]
        );
    }
}
