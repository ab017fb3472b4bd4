//! The orchestrator behind `wirebench run`: plans cells, starts the agents for each cell, collects
//! their histograms and counters, and writes `results.json` after every cell.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use wirebench_netem::{
    BackendChoice, BackendKind, HostId, LinkCounters, PairDelay, Profile, ProfileSet, Topology,
    TopologySpec,
};
use wirebench_reports::model::{
    Cell, Delivery, FlapFigures, IdleFigures, Latency, Lateness, Resources, Results, Status,
    Throughput, Warmup, Wire,
};

use crate::agent::control::{DriveCommand, DriveEvent, Job, ServerCommand, ServerEvent};
use crate::clock::now_ns;
use crate::workload::{flap, idle, ClientReport, WorkloadSpec};

pub mod progress;
pub mod scenario;

use scenario::{ClientKind, Scenario};

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
}

impl PlannedCell {
    /// Whether the cell's transport promises delivery (unknown ids count as reliable, so a
    /// lost frame is never excused by a typo).
    fn reliable(&self) -> bool {
        crate::transport::by_id_impl(&self.transport, self.implementation.as_deref())
            .is_none_or(|t| t.guarantees().reliable)
    }

    /// Whether the cell's relay clients talk to each other directly (WebRTC), not via the
    /// server.
    fn peer_to_peer(&self) -> bool {
        crate::transport::by_id_impl(&self.transport, self.implementation.as_deref())
            .is_some_and(|t| t.peer_to_peer())
    }
}

/// Expands scenarios into cells: repeats outermost, so every transport's repeats are spread
/// over the whole run (interleaved) instead of back to back.
pub fn plan(scenarios: &[Scenario], repeat_override: Option<u32>) -> Vec<PlannedCell> {
    let mut cells = Vec::new();
    let max_rep = scenarios
        .iter()
        .map(|s| repeat_override.unwrap_or(s.repeat))
        .max()
        .unwrap_or(1);
    for rep in 1..=max_rep {
        for s in scenarios {
            if rep > repeat_override.unwrap_or(s.repeat) {
                continue;
            }
            for w in &s.workloads {
                for p in &w.profiles {
                    for t in &w.transports {
                        for &client in &w.client {
                            // A browser brings its own stack: one cell, against the server's
                            // default implementation.
                            let impls = match client {
                                ClientKind::Rust => crate::transport::implementations(t),
                                ClientKind::Browser => &[],
                            };
                            let impls: Vec<Option<String>> = if impls.is_empty() {
                                vec![None]
                            } else {
                                impls.iter().map(|i| Some(i.to_string())).collect()
                            };
                            for implementation in impls {
                                cells.push(PlannedCell {
                                    scenario: s.name.clone(),
                                    name: w.name.clone(),
                                    spec: w.spec.clone(),
                                    transport: t.clone(),
                                    implementation,
                                    profile: p.clone(),
                                    repeat: rep,
                                    quick: s.quick,
                                    client,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    cells
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory (created).
    pub out_dir: PathBuf,
    /// Plain HTTP instead of HTTPS.
    pub plaintext: bool,
    /// Network profiles.
    pub profiles: ProfileSet,
    /// Progress display.
    pub progress: progress::Mode,
    /// Hidden: delay each echo reply by this many µs, in the server agents of the variants
    /// whose [`Variant::inject_delay`] is set.
    pub inject_delay_us: u64,
    /// The builds to run, each into its own results (one for a plain run; baseline and
    /// current for `--ab`, interleaved cell by cell).
    pub variants: Vec<Variant>,
    /// Link-emulation backend for shaped profiles, once chosen (None: shaping unavailable, and
    /// the reason).
    pub netem: Result<BackendChoice, String>,
    /// Pin the server agent to CPU 0 and the client agent to CPU 1 (steadier figures on small
    /// machines; needs at least 2 CPUs).
    pub pin: bool,
    /// CPUs kept out of idle states during the run (`--no-idle`, [`crate::clock::NoIdle`]);
    /// recorded as `params.no_idle` so runs measured differently are never compared.
    pub no_idle: bool,
}

impl RunOptions {
    /// Options for running cells one by one with `exe`'s agents ([`run_cell`] from tests and
    /// calibration scripts): TLS, no progress display, no pinning, no output directory.
    pub fn single(
        exe: PathBuf,
        profiles: ProfileSet,
        netem: Result<BackendChoice, String>,
    ) -> Self {
        Self {
            out_dir: PathBuf::new(),
            plaintext: false,
            profiles,
            progress: progress::Mode::Quiet,
            inject_delay_us: 0,
            variants: vec![Variant {
                name: String::new(),
                exe,
                out_dir: PathBuf::new(),
                inject_delay: false,
            }],
            netem,
            pin: false,
            no_idle: false,
        }
    }
}

/// One build whose agents run the cells, and where its results go.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Name shown in progress lines (`current`, `baseline`); empty for a plain run.
    pub name: String,
    /// The agent binary.
    pub exe: PathBuf,
    /// Directory of its results.json.
    pub out_dir: PathBuf,
    /// Whether [`RunOptions::inject_delay_us`] applies to this variant's server agents (with
    /// `--ab`, only the current build's, so the injected regression is what compare sees).
    pub inject_delay: bool,
}

/// Runs every cell with every variant (alternating which variant goes first, so order effects
/// cancel), writing each variant's `results.json` after every cell; returns the results in
/// variant order. Ctrl-C stops the run, tears down what the current cell set up, and keeps the
/// results of the cells finished so far.
pub async fn run(cells: Vec<PlannedCell>, opts: &RunOptions) -> anyhow::Result<Vec<Results>> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = crate::host::host_facts();
    let mut all = Vec::new();
    for v in &opts.variants {
        std::fs::create_dir_all(&v.out_dir)
            .with_context(|| format!("creating {}", v.out_dir.display()))?;
        all.push(Results {
            schema: wirebench_reports::SCHEMA.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git: option_env!("WIREBENCH_GIT").map(str::to_string),
            started_at: started_at.clone(),
            host: host.clone(),
            netem_backend: "none".to_string(),
            cells: Vec::new(),
            verdicts: Vec::new(),
        });
    }
    let n = opts.variants.len();
    let total = cells.len() * n;
    let mut bar = progress::Progress::new(opts.progress, total);
    let mut done = 0;
    for (i, pc) in cells.iter().enumerate() {
        for k in 0..n {
            // A B, B A, A B, ...: each variant goes first half the time.
            let vi = if i % 2 == 0 { k } else { n - 1 - k };
            let v = &opts.variants[vi];
            bar.start_cell(done, pc, &v.name);
            let started = Instant::now();
            let delay = if v.inject_delay {
                opts.inject_delay_us
            } else {
                0
            };
            let outcome = tokio::select! {
                c = run_cell(pc, opts, &v.exe, delay) => Some(c),
                _ = shutdown_signal() => None,
            };
            let Some((cell, backend)) = outcome else {
                bar.finish();
                for (r, v) in all.iter().zip(&opts.variants) {
                    r.save_atomic(&v.out_dir.join("results.json"))?;
                }
                bail!(
                    "interrupted after {done} of {total} cells; partial results in {}",
                    opts.variants[0].out_dir.join("results.json").display()
                );
            };
            bar.end_cell(done, pc, &v.name, &cell, started.elapsed());
            done += 1;
            let results = &mut all[vi];
            if let Some(b) = backend {
                results.netem_backend = b.to_string();
            }
            results.cells.push(cell);
            let path = v.out_dir.join("results.json");
            results
                .save_atomic(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    bar.finish();
    Ok(all)
}

/// Resolves on SIGINT, SIGTERM or SIGHUP, so every way of stopping a run tears down what it
/// set up (namespaces, child agents) before exiting.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let hup = async {
        match hup.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = hup => {}
    }
}

fn base_cell(pc: &PlannedCell) -> Cell {
    let mut params = match serde_json::to_value(pc.spec.params()) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    params.insert("latency".into(), pc.spec.latency_kind().into());
    if pc.quick {
        params.insert("quick".into(), true.into());
    }
    if !matches!(
        pc.spec,
        WorkloadSpec::Echo(_)
            | WorkloadSpec::Push(_)
            | WorkloadSpec::Relay(_)
            | WorkloadSpec::Collab(_)
            | WorkloadSpec::Flap(_)
    ) {
        params.remove("rate");
    }
    // Each transport's keep-alive setting only where it applies.
    for (key, transports) in [
        ("ws_ping_ms", &["websocket"][..]),
        ("sse_heartbeat_ms", &["sse"][..]),
        ("long_poll_hold_ms", &["long-poll"][..]),
        (
            "quic_keepalive_ms",
            &["webtransport", "webtransport-datagram"][..],
        ),
    ] {
        if !transports.contains(&pc.transport.as_str()) {
            params.remove(key);
        }
    }
    if pc.transport != "poll" {
        params.remove("poll_interval_ms");
    }
    if !matches!(pc.spec, WorkloadSpec::Connect(_)) {
        params.remove("connects");
    }
    Cell {
        scenario: pc.scenario.clone(),
        workload: pc.spec.id().to_string(),
        label: (pc.name != pc.spec.id()).then(|| pc.name.clone()),
        transport: pc.transport.clone(),
        profile: pc.profile.clone(),
        repeat: pc.repeat,
        status: Status::Ok,
        error: None,
        params,
        implementation: pc.implementation.clone(),
        // The version is filled in once the browser has told it.
        client: (pc.client == ClientKind::Browser).then(|| "chromium".to_string()),
        latency_us: None,
        setup_ms: None,
        setup_rtts: None,
        throughput: None,
        delivery: None,
        wire: None,
        resources: None,
        warmup: None,
        send_lateness_us: None,
        setup_phases_ms: BTreeMap::new(),
        errors: BTreeMap::new(),
        browser: None,
        idle: None,
        flap: None,
    }
}

/// Runs one cell with the agents of `exe`; failures become a failed (or skipped) cell with the
/// reason, never an error of the run. Returns the cell and the link backend it used, if any.
/// A shaped profile gets a fresh namespace topology, torn down when the cell ends (or when
/// this future is dropped, e.g. on Ctrl-C).
/// `inject_delay_us` is the hidden echo-reply delay for this cell's server agent (0 = none).
pub async fn run_cell(
    pc: &PlannedCell,
    opts: &RunOptions,
    exe: &Path,
    inject_delay_us: u64,
) -> (Cell, Option<&'static str>) {
    let mut cell = base_cell(pc);
    if opts.no_idle {
        cell.params.insert("no_idle".into(), true.into());
    }
    if !pc.reliable() && matches!(pc.spec, WorkloadSpec::Upload(_)) {
        cell.status = Status::Skipped;
        cell.error = Some(
            "upload measures goodput under backpressure, which an unreliable transport does not \
             have (its send queue drops datagrams); measure it with echo or push at a paced \
             rate, whose delivery counts show the loss"
                .into(),
        );
        return (cell, None);
    }
    if opts.plaintext && !pc.spec.params().http.is_http1() {
        cell.status = Status::Skipped;
        cell.error = Some(
            "http = \"2\" needs TLS (HTTP/2 is negotiated with ALPN `h2`; browsers speak it \
             over TLS only), and the run is --plaintext"
                .into(),
        );
        return (cell, None);
    }
    if let Some(why) = client_cannot_run(pc) {
        cell.status = Status::Skipped;
        cell.error = Some(why);
        return (cell, None);
    }
    let profile = match opts.profiles.get(&pc.profile) {
        Ok(p) => p.clone(),
        Err(e) => {
            cell.status = Status::Failed;
            cell.error = Some(e.to_string());
            return (cell, None);
        }
    };
    cell.params.insert(
        "link".into(),
        serde_json::to_value(&profile).unwrap_or(serde_json::Value::Null),
    );
    if matches!(pc.spec, WorkloadSpec::Flap(_)) && !needs_topology(&pc.spec, &profile) {
        cell.status = Status::Skipped;
        cell.error = Some(format!(
            "flap cuts the client's link, which needs link emulation: profile {:?} is unshaped \
             (loopback has no link to cut); use a shaped profile",
            pc.profile
        ));
        return (cell, None);
    }
    let mut topo = None;
    let p = pc.spec.params();
    let server_link = p.server_delay_ms.map(|d| Profile {
        delay_ms: d,
        ..Profile::default()
    });
    if needs_topology(&pc.spec, &profile) {
        let choice = match &opts.netem {
            Ok(c) if c.kind != BackendKind::None => c.clone(),
            Ok(c) => {
                cell.status = Status::Skipped;
                cell.error = Some(format!(
                    "profile {:?} (with this workload's delays) needs link emulation; {c}",
                    pc.profile
                ));
                return (cell, None);
            }
            Err(why) => {
                cell.status = Status::Skipped;
                cell.error = Some(format!(
                    "profile {:?} needs link emulation, unavailable here: {why}",
                    pc.profile
                ));
                return (cell, None);
            }
        };
        match Topology::up_with(choice, &topology_spec(&pc.spec, &profile, server_link)) {
            Ok(t) => topo = Some(t),
            Err(e) => {
                cell.status = Status::Failed;
                cell.error = Some(format!("bringing up the emulated link: {e}"));
                return (cell, None);
            }
        }
    }
    let backend = topo.as_ref().map(|t| t.backend_name());
    let limit = pc.spec.time_limit();
    // The client <-> server round trip: both access links, both ways.
    let rtt_ms = Some(profile.rtt_ms().unwrap_or(0.0) + 2.0 * p.server_delay_ms.unwrap_or(0.0))
        .filter(|&r| r > 0.0);
    let stage = Stage::default();
    match tokio::time::timeout(
        limit,
        drive_cell(pc, opts, exe, topo.as_ref(), inject_delay_us, &stage),
    )
    .await
    {
        Ok(Ok((report, stats, browser))) => {
            // Wire bytes of every client host's access link.
            let counters = topo.as_ref().and_then(|t| {
                (1..=t.client_count())
                    .map(|k| t.counters(HostId::client(k)).ok())
                    .try_fold((0, 0), |(up, down), c| {
                        c.map(|c| (up + c.up.bytes_in, down + c.down.bytes_out))
                    })
            });
            fill_cell(&mut cell, pc, report, stats, rtt_ms);
            if let Some(b) = browser {
                cell.client = Some(b.version);
                if let Some(ol) = &b.figures.origin_limit {
                    // Not echo frames: what counts is when each stream got going.
                    cell.delivery = None;
                    if cell.status == Status::Ok && ol.concurrent == 0 {
                        cell.status = Status::Failed;
                        cell.error = Some("no stream got its first event".into());
                    }
                }
                if b.figures != Default::default() {
                    cell.browser = Some(b.figures);
                }
            }
            if let (Some((up, down)), Some(w)) = (counters, cell.wire.as_mut()) {
                w.bytes_up = Some(up);
                w.bytes_down = Some(down);
            }
        }
        Ok(Err(e)) => {
            cell.status = Status::Failed;
            cell.error = Some(format!("{e:#}"));
        }
        Err(_) => {
            cell.status = Status::Failed;
            cell.error = Some(format!(
                "timed out after {} s, {}",
                limit.as_secs(),
                stage.get()
            ));
        }
    }
    if let Some(t) = topo {
        if let Err(e) = t.teardown() {
            cell.errors.insert(format!("netem_teardown: {e}"), 1);
        }
    }
    if let Some(w) = cell.wire.as_mut() {
        let payload = cell
            .params
            .get("payload_bytes")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if let (Some(up), Some(down)) = (w.bytes_up, w.bytes_down) {
            if payload > 0 {
                w.overhead_ratio = Some((up + down) as f64 / payload as f64);
            }
        }
    }
    cell.params.remove("payload_bytes");
    (cell, backend)
}

/// A child agent with its control pipes. Dropping it kills the process.
struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    name: &'static str,
    stderr: tokio::task::JoinHandle<String>,
}

impl Agent {
    fn spawn(
        cmd: std::process::Command,
        args: &[&str],
        name: &'static str,
        cpu: Option<usize>,
    ) -> anyhow::Result<Self> {
        let exe = PathBuf::from(cmd.get_program());
        let mut cmd = Command::from(cmd);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // `child_setup`, which is async-signal-safe (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || crate::agent::child_setup(cpu));
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {} agent ({})", name, exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("{name} agent has no stdout"))?;
        let stderr = child.stderr.take();
        let stderr = tokio::spawn(async move {
            let mut tail = String::new();
            if let Some(e) = stderr {
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    tail.push_str(&l);
                    tail.push('\n');
                    if tail.len() > 4096 {
                        tail.drain(..tail.len() - 4096);
                    }
                }
            }
            tail
        });
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            name,
            stderr,
        })
    }

    async fn send<T: serde::Serialize>(&mut self, msg: &T) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(msg)?;
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("{} agent's stdin is closed", self.name))?;
        stdin
            .write_all(line.as_bytes())
            .await
            .with_context(|| format!("writing to the {} agent", self.name))?;
        stdin.flush().await?;
        Ok(())
    }

    async fn recv<T: serde::de::DeserializeOwned>(&mut self) -> anyhow::Result<T> {
        match self.lines.next_line().await? {
            Some(l) => serde_json::from_str(&l)
                .with_context(|| format!("bad message from the {} agent: {l:?}", self.name)),
            None => {
                let status = self.child.wait().await.ok();
                let stderr =
                    std::mem::replace(&mut self.stderr, tokio::spawn(async { String::new() }));
                let tail = stderr.await.unwrap_or_default();
                bail!(
                    "{} agent exited ({}){}{}",
                    self.name,
                    status.map_or("unknown status".into(), |s| s.to_string()),
                    if tail.trim().is_empty() { "" } else { ": " },
                    tail.trim()
                )
            }
        }
    }

    async fn shutdown(mut self) {
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Why this cell's client cannot run it here (it is then skipped with the reason).
fn client_cannot_run(pc: &PlannedCell) -> Option<String> {
    match pc.client {
        ClientKind::Rust => matches!(pc.spec, WorkloadSpec::OriginLimit(_))
            .then(|| "origin-limit is a browser-only workload (client = \"browser\")".into()),
        ClientKind::Browser => crate::browser::unsupported(&pc.spec, &pc.transport).or_else(|| {
            crate::browser::chromium::find()
                .is_none()
                .then(|| crate::browser::BrowserError::NotFound.to_string())
        }),
    }
}

/// What a browser cell adds to the client's report.
struct BrowserCell {
    version: String,
    figures: wirebench_reports::model::BrowserFigures,
}

/// The command that starts a server-driven workload once its clients are connected.
fn start_command(spec: &WorkloadSpec, clients: Vec<u32>) -> Option<ServerCommand> {
    match spec {
        WorkloadSpec::Push(p) => {
            let count = (p.rate * (p.warmup_ms + p.duration_ms) as f64 / 1000.0).ceil() as u64;
            Some(ServerCommand::Push {
                clients,
                rate: p.rate,
                size: p.size,
                count,
            })
        }
        WorkloadSpec::Download(p) => Some(ServerCommand::Download {
            clients,
            size: p.size,
            duration_ms: p.warmup_ms + p.duration_ms,
        }),
        WorkloadSpec::Idle(p) => Some(ServerCommand::Push {
            clients,
            rate: 1000.0 / idle::notify_interval_ms(p) as f64,
            size: p.size,
            count: idle::notifications(p),
        }),
        WorkloadSpec::Flap(p) => Some(ServerCommand::Push {
            clients,
            rate: p.rate,
            size: p.size,
            count: flap::frames(p),
        }),
        _ => None,
    }
}

/// Starts a server-driven workload once its clients are connected: [`start_command`], after
/// the idle workload's warm-up and keep-alive-only window (marked), and followed by the flap
/// workload's cut of the client's link.
async fn start_workload(
    server: &mut Agent,
    spec: &WorkloadSpec,
    clients: Vec<u32>,
    topo: Option<&Topology>,
    around: &mut Around,
) -> anyhow::Result<()> {
    if let WorkloadSpec::Idle(p) = spec {
        // Warm-up, then the keep-alive-only window, then the notifications.
        tokio::time::sleep(Duration::from_millis(p.warmup_ms)).await;
        let connected = mark(server, topo).await?;
        tokio::time::sleep(Duration::from_millis(p.quiet_ms.unwrap_or(0))).await;
        let quiet_end = mark(server, topo).await?;
        if let Some(m) = around.idle.as_mut() {
            m.connected = connected;
            m.quiet_end = quiet_end;
        }
    }
    if let Some(cmd) = start_command(spec, clients) {
        server.send(&cmd).await?;
    }
    if let WorkloadSpec::Flap(p) = spec {
        let push_ns = now_ns();
        let t = topo.context("flap needs an emulated link to cut")?;
        let at = p.warmup_ms + p.cut_at_ms.unwrap_or(flap::defaults::CUT_AT_MS);
        tokio::time::sleep(Duration::from_millis(at)).await;
        t.cut(HostId::client(1))
            .context("cutting the client's link")?;
        let cut_ns = now_ns();
        let cut = p.cut_ms.unwrap_or(flap::defaults::CUT_MS);
        tokio::time::sleep(Duration::from_millis(cut)).await;
        t.restore(HostId::client(1))
            .context("restoring the client's link")?;
        around.flap = Some(FlapMarks {
            push_ns,
            cut_ns,
            restore_ns: now_ns(),
        });
    }
    Ok(())
}

struct ServerStats {
    cpu_s: Option<f64>,
    rss_peak_bytes: Option<u64>,
    data: Vec<(u32, crate::server::hub::DataCount)>,
    errors: BTreeMap<String, u64>,
    /// Data frames the server forwarded between relay peers.
    relayed: u64,
    /// The server's global broadcast order (collab).
    order: Vec<u64>,
    /// What the orchestrator measured around an idle or flap workload.
    around: Around,
}

/// Whether a cell runs in a namespace topology: a shaped profile, or delays on the server's
/// link or between relay peers.
pub fn needs_topology(spec: &WorkloadSpec, profile: &Profile) -> bool {
    let p = spec.params();
    !profile.is_unshaped() || p.server_delay_ms.is_some() || p.pair_delay_ms.is_some()
}

/// Which client agents run which clients: (host, first client id, clients). Relay peers run on
/// two client hosts when there is a topology (every sender on client host 1, every receiver
/// on client host 2, so the peer path crosses the emulated network); everything else runs in
/// one agent on client host 1.
fn client_groups(spec: &WorkloadSpec, topology: bool) -> Vec<(HostId, u32, u32)> {
    let p = spec.params();
    match spec {
        WorkloadSpec::Relay(_) if topology => {
            let n = p.clients / 2;
            vec![(HostId::client(1), 1, n), (HostId::client(2), n + 1, n)]
        }
        _ => vec![(HostId::client(1), 1, p.clients.max(1))],
    }
}

/// The topology of a shaped cell: one client host per client agent on `profile`, the server's
/// link on `server_link` (unshaped if none), and the relay's pair delay between the two
/// peers' hosts.
fn topology_spec(
    spec: &WorkloadSpec,
    profile: &Profile,
    server_link: Option<Profile>,
) -> TopologySpec {
    let hosts = client_groups(spec, true).len() as u32;
    let mut t = TopologySpec::star(profile, hosts);
    if let Some(s) = server_link {
        t.server = s;
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

/// Tells the server what the cell needs once its clients are connected: relay pairs (through
/// the server; peer-to-peer relay needs nothing), collab order recording (both confirmed before
/// this returns, so the clients' schedules may start), or a server-driven schedule
/// ([`start_workload`]: idle and flap also mark and cut around it).
async fn arm_server(
    server: &mut Agent,
    pc: &PlannedCell,
    clients: Vec<u32>,
    topo: Option<&Topology>,
    around: &mut Around,
) -> anyhow::Result<()> {
    match &pc.spec {
        WorkloadSpec::Relay(p) => {
            if !pc.peer_to_peer() {
                server
                    .send(&ServerCommand::Relay {
                        pairs: crate::workload::relay::pairs(p.clients),
                    })
                    .await?;
                server_done(server).await?;
            }
        }
        WorkloadSpec::Collab(_) => {
            server.send(&ServerCommand::Collab { clients }).await?;
            server_done(server).await?;
        }
        spec => start_workload(server, spec, clients, topo, around).await?,
    }
    Ok(())
}

/// Waits for the server agent's `done` (or `error`) after a command that answers with one.
async fn server_done(server: &mut Agent) -> anyhow::Result<()> {
    loop {
        match server.recv::<ServerEvent>().await? {
            ServerEvent::Done => return Ok(()),
            ServerEvent::Error { message } => bail!("server agent: {message}"),
            _ => continue,
        }
    }
}

/// A server probe with the client link's counters, at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    at_ns: u64,
    rss_bytes: Option<u64>,
    cpu_s: Option<f64>,
    attached: usize,
    counters: Option<LinkCounters>,
}

/// The instants of an idle workload: before connecting, connected (after the warm-up, = quiet
/// window start), quiet window end (= notifications start), client agent done.
#[derive(Debug, Clone, Copy, Default)]
struct IdleMarks {
    before: Mark,
    connected: Mark,
    quiet_end: Mark,
    done: Mark,
    server_nofile: Option<u64>,
}

/// The instants of a flap workload (monotonic ns).
#[derive(Debug, Clone, Copy, Default)]
struct FlapMarks {
    push_ns: u64,
    cut_ns: u64,
    restore_ns: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Around {
    idle: Option<IdleMarks>,
    flap: Option<FlapMarks>,
}

/// Asks the server agent for a probe and takes the client link's counters.
async fn mark(server: &mut Agent, topo: Option<&Topology>) -> anyhow::Result<Mark> {
    server.send(&ServerCommand::Probe).await?;
    loop {
        match server.recv::<ServerEvent>().await? {
            ServerEvent::Probe {
                rss_bytes,
                cpu_s,
                attached,
            } => {
                return Ok(Mark {
                    at_ns: now_ns(),
                    rss_bytes,
                    cpu_s,
                    attached,
                    counters: topo.and_then(|t| t.counters(HostId::client(1)).ok()),
                })
            }
            ServerEvent::Error { message } => bail!("server agent: {message}"),
            _ => continue,
        }
    }
}

/// Where a cell's drive has got to: the reason of a cell that runs out of time says it.
#[derive(Debug, Default)]
struct Stage(std::sync::Mutex<String>);

impl Stage {
    fn set(&self, what: impl Into<String>) {
        if let Ok(mut s) = self.0.lock() {
            *s = what.into();
        }
    }

    fn get(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn drive_cell(
    pc: &PlannedCell,
    opts: &RunOptions,
    exe: &Path,
    topo: Option<&Topology>,
    inject_delay_us: u64,
    stage: &Stage,
) -> anyhow::Result<(ClientReport, ServerStats, Option<BrowserCell>)> {
    stage.set("starting the server agent");
    let delay = inject_delay_us.to_string();
    let (server_cmd, bind) = match topo {
        Some(t) => (
            t.command(HostId::SERVER, exe)?,
            SocketAddr::new(t.server().addr, 0).to_string(),
        ),
        None => (std::process::Command::new(exe), "127.0.0.1:0".to_string()),
    };
    let mut server_args = vec!["serve", "--bind", &bind, "--control"];
    if opts.plaintext {
        server_args.push("--plaintext");
    }
    if !pc.spec.params().http.is_http1() {
        server_args.push("--http2");
    }
    if inject_delay_us > 0 {
        server_args.extend(["--inject-delay-us", &delay]);
    }
    let (server_cpu, client_cpu) = if opts.pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let mut server = Agent::spawn(server_cmd, &server_args, "server", server_cpu)?;
    let (addr, cert, spki, server_nofile) = match server.recv::<ServerEvent>().await? {
        ServerEvent::Ready {
            addr,
            cert_sha256,
            spki_sha256,
            nofile_limit,
        } => (addr, cert_sha256, spki_sha256, nofile_limit),
        other => bail!("server agent: expected ready, got {other:?}"),
    };
    let p = pc.spec.params().clone();
    let mut around = Around::default();
    stage.set("preparing the server");
    if let WorkloadSpec::Idle(p) = &pc.spec {
        use idle::defaults as D;
        server
            .send(&ServerCommand::KeepAlive {
                ws_ping_ms: p.ws_ping_ms.unwrap_or(D::WS_PING_MS),
                sse_heartbeat_ms: p.sse_heartbeat_ms.unwrap_or(D::SSE_HEARTBEAT_MS),
                long_poll_hold_ms: p.long_poll_hold_ms.unwrap_or(D::LONG_POLL_HOLD_MS),
            })
            .await?;
        around.idle = Some(IdleMarks {
            before: mark(&mut server, topo).await?,
            server_nofile,
            ..IdleMarks::default()
        });
    }
    if let WorkloadSpec::Upload(_) = pc.spec {
        server
            .send(&ServerCommand::UploadWarmup {
                warmup_ms: p.warmup_ms,
            })
            .await?;
    }
    let mut browser_cell = None;
    // Relay and collab hold their schedules until the server (and every other client) is
    // ready.
    let gated = matches!(pc.spec, WorkloadSpec::Relay(_) | WorkloadSpec::Collab(_));
    let report = if pc.client == ClientKind::Browser {
        let chromium =
            crate::browser::chromium::find().ok_or(crate::browser::BrowserError::NotFound)?;
        let job = crate::browser::Job {
            transport: &pc.transport,
            addr: addr
                .parse()
                .with_context(|| format!("server address {addr:?}"))?,
            tls: !opts.plaintext,
            spki_sha256: spki,
            first_client: 1,
            workload: &pc.spec,
        };
        // One browser per client host, where the Rust client agents would run (relay on a
        // topology: senders' pages on client host 1, receivers' on client host 2).
        // Chromium is never pinned: its browser, network and renderer processes on one CPU
        // (with a page that spins before each send) inflated browser RTTs twentyfold.
        let mut browsers = Vec::new();
        stage.set("launching Chromium");
        for (host, _, _) in client_groups(&pc.spec, topo.is_some()) {
            let cmd = match topo {
                Some(t) => t.command(host, &chromium)?,
                None => std::process::Command::new(&chromium),
            };
            browsers.push(crate::browser::Chromium::launch(cmd, &job.launch_options(None)).await?);
        }
        let refs: Vec<&crate::browser::Chromium> = browsers.iter().collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (start_tx, start_rx) = tokio::sync::oneshot::channel::<()>();
        let mut start_tx = Some(start_tx);
        stage.set(format!(
            "in the browser pages: connecting {} client(s), then the workload",
            p.clients.max(1)
        ));
        let outcome = {
            let run = async {
                if gated {
                    let start = async {
                        let _ = start_rx.await;
                    };
                    crate::browser::run_gated(&refs, &job, tx, start).await
                } else {
                    crate::browser::run(refs[0], &job, tx).await
                }
            };
            tokio::pin!(run);
            loop {
                tokio::select! {
                    r = &mut run => break r?,
                    Some(clients) = rx.recv() => {
                        stage.set(format!(
                            "every page connected ({}), running the workload",
                            clients.len()
                        ));
                        arm_server(&mut server, pc, clients, topo, &mut around).await?;
                        if let Some(go) = start_tx.take() {
                            let _ = go.send(());
                        }
                    }
                }
            }
        };
        if let Some(m) = around.idle.as_mut() {
            m.done = mark(&mut server, topo).await?;
        }
        let mut report = outcome.report;
        for b in &browsers {
            // Several browsers: their processes' CPU time and peak memory add up.
            let (cpu_s, rss_peak_bytes) = b.resources();
            report.merge(ClientReport {
                cpu_s,
                rss_peak_bytes,
                ..ClientReport::default()
            })?;
        }
        browser_cell = Some(BrowserCell {
            version: browsers[0].version.clone(),
            figures: outcome.figures,
        });
        for b in browsers {
            b.close().await;
        }
        report
    } else {
        let groups = client_groups(&pc.spec, topo.is_some());
        let mut drives = Vec::with_capacity(groups.len());
        stage.set(format!(
            "connecting {} client(s) (none reported connected yet)",
            p.clients.max(1)
        ));
        for &(host, first_client, count) in &groups {
            let cmd = match topo {
                Some(t) => t.command(host, exe)?,
                None => std::process::Command::new(exe),
            };
            let mut drive = Agent::spawn(cmd, &["drive", "--control"], "client", client_cpu)?;
            drive
                .send(&Job {
                    transport: pc.transport.clone(),
                    implementation: pc.implementation.clone(),
                    addr: addr.clone(),
                    tls: !opts.plaintext,
                    cert_sha256: Some(cert.clone()),
                    first_client,
                    clients: (groups.len() > 1).then_some(count),
                    wait_start: gated,
                    workload: pc.spec.clone(),
                })
                .await?;
            drives.push(drive);
        }
        // Every agent reports its clients connected, or ends early with a failure.
        let mut clients = Vec::new();
        let mut early: Option<ClientReport> = None;
        for drive in &mut drives {
            match drive.recv::<DriveEvent>().await? {
                DriveEvent::Connected { clients: c } => clients.extend(c),
                DriveEvent::Result(r) => {
                    early.get_or_insert_with(ClientReport::default).merge(*r)?
                }
            }
        }
        let report = if let Some(r) = early {
            r
        } else {
            let n = clients.len();
            stage.set(format!(
                "all {n} client(s) connected; starting the workload"
            ));
            arm_server(&mut server, pc, clients, topo, &mut around).await?;
            stage.set(format!(
                "all {n} client(s) connected; the workload was running, no client agent had \
                 reported its results"
            ));
            if gated {
                for drive in &mut drives {
                    drive.send(&DriveCommand::Start).await?;
                }
            }
            let mut report = ClientReport::default();
            for drive in &mut drives {
                loop {
                    if let DriveEvent::Result(r) = drive.recv::<DriveEvent>().await? {
                        report.merge(*r)?;
                        break;
                    }
                }
            }
            report
        };
        if let Some(m) = around.idle.as_mut() {
            m.done = mark(&mut server, topo).await?;
        }
        for drive in drives {
            drive.shutdown().await;
        }
        report
    };
    stage.set("the clients had reported; collecting the server's statistics");
    server.send(&ServerCommand::Stats).await?;
    let stats = loop {
        match server.recv::<ServerEvent>().await? {
            ServerEvent::Stats {
                cpu_s,
                rss_peak_bytes,
                data,
                errors,
                relayed,
                order,
            } => {
                break ServerStats {
                    cpu_s,
                    rss_peak_bytes,
                    data,
                    errors,
                    relayed,
                    order,
                    around,
                }
            }
            ServerEvent::Error { message } => bail!("server agent: {message}"),
            _ => continue,
        }
    };
    let _ = server.send(&ServerCommand::Shutdown).await;
    server.shutdown().await;
    Ok((report, stats, browser_cell))
}

fn median_u64(v: &[u64]) -> Option<f64> {
    wirebench_reports::summary::median(v.iter().map(|&x| x as f64).collect())
}

fn fill_cell(
    cell: &mut Cell,
    pc: &PlannedCell,
    r: ClientReport,
    s: ServerStats,
    rtt_ms: Option<f64>,
) {
    let p = pc.spec.params();
    if let Some(e) = &r.error {
        cell.status = Status::Failed;
        cell.error = Some(e.clone());
    }
    for (k, v) in r.errors.iter().chain(s.errors.iter()) {
        *cell.errors.entry(k.clone()).or_default() += v;
    }
    if let Some(e) = cell.error.as_mut() {
        // What the server counted often explains a client-side failure (frames too large for
        // the transport, refused requests): say it in the reason.
        if !s.errors.is_empty() {
            let counts: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            e.push_str(&format!(" (server counted: {})", counts.join(", ")));
        }
    }
    if let Some(h) = &r.latency_hdr {
        match wirebench_reports::decode_histogram(h).and_then(|h| Latency::from_histogram(&h)) {
            Ok(l) if l.count > 0 => cell.latency_us = Some(l),
            Ok(_) => {}
            Err(e) => {
                cell.status = Status::Failed;
                cell.error
                    .get_or_insert(format!("histogram from client agent: {e}"));
            }
        }
    }
    cell.setup_ms = median_u64(&r.setup_us).map(|us| us / 1000.0);
    cell.setup_rtts = match (cell.setup_ms, rtt_ms) {
        (Some(ms), Some(rtt)) => Some(ms / rtt),
        _ => None,
    };
    let measured_s = p.duration_ms as f64 / 1000.0;
    cell.throughput = match &pc.spec {
        WorkloadSpec::Echo(_)
        | WorkloadSpec::Push(_)
        | WorkloadSpec::Relay(_)
        | WorkloadSpec::Collab(_) => Some(Throughput {
            msgs_per_s: Some(r.frames_received as f64 / measured_s),
            goodput_bps: Some(r.bytes_received as f64 * 8.0 / measured_s),
        }),
        WorkloadSpec::Download(_) => {
            let span = r.recv_span_ns as f64 / 1e9;
            (span > 0.0).then(|| Throughput {
                msgs_per_s: Some(r.frames_received as f64 / span),
                goodput_bps: Some(r.bytes_received as f64 * 8.0 / span),
            })
        }
        WorkloadSpec::Upload(_) => {
            let bytes: u64 = s.data.iter().map(|(_, d)| d).map(|d| d.bytes).sum();
            let frames: u64 = s.data.iter().map(|(_, d)| d).map(|d| d.frames).sum();
            let first = s.data.iter().map(|(_, d)| d).map(|d| d.first_ns).min();
            let last = s.data.iter().map(|(_, d)| d).map(|d| d.last_ns).max();
            match (first, last) {
                (Some(f), Some(l)) if l > f => {
                    let span = (l - f) as f64 / 1e9;
                    Some(Throughput {
                        msgs_per_s: Some(frames as f64 / span),
                        goodput_bps: Some(bytes as f64 * 8.0 / span),
                    })
                }
                _ => {
                    if cell.status == Status::Ok {
                        cell.status = Status::Failed;
                        cell.error =
                            Some("the server counted no uploaded data after the warm-up".into());
                    }
                    None
                }
            }
        }
        WorkloadSpec::Connect(_)
        | WorkloadSpec::OriginLimit(_)
        | WorkloadSpec::Idle(_)
        | WorkloadSpec::Flap(_) => None,
    };
    if cell.status == Status::Ok
        && matches!(
            pc.spec,
            WorkloadSpec::Download(_)
                | WorkloadSpec::Push(_)
                | WorkloadSpec::Relay(_)
                | WorkloadSpec::Collab(_)
        )
        && r.frames_received + r.late == 0
    {
        cell.status = Status::Failed;
        cell.error = Some("no frame arrived after the warm-up".into());
    }
    let relay = matches!(pc.spec, WorkloadSpec::Relay(_));
    let collab = matches!(pc.spec, WorkloadSpec::Collab(_));
    cell.delivery = match &pc.spec {
        WorkloadSpec::Echo(_)
        | WorkloadSpec::Push(_)
        | WorkloadSpec::Relay(_)
        | WorkloadSpec::Collab(_)
        | WorkloadSpec::Idle(_)
        | WorkloadSpec::Flap(_) => Some(Delivery {
            sent: r.sent,
            received: r.received,
            lost: r.sent.saturating_sub(r.received),
            duplicated: r.duplicated,
            reordered: r.reordered,
            late: p.deadline_ms.filter(|_| relay).map(|_| r.late),
            order_violations: collab.then(|| {
                // Against the server's single order; without one (a server that does not
                // report it), against the first client's.
                let reference = match (s.order.is_empty(), r.arrival_orders.first()) {
                    (true, Some(first)) => first.as_slice(),
                    _ => s.order.as_slice(),
                };
                crate::workload::collab::order_violations(reference, &r.arrival_orders)
            }),
            per_client_received: collab.then(|| r.per_client_received.clone()),
        }),
        _ => None,
    };
    if relay && cell.status == Status::Ok && pc.peer_to_peer() {
        // Peer to peer means the server carried none of the data.
        let via_server = s.relayed + s.data.iter().map(|(_, d)| d.frames).sum::<u64>();
        if via_server > 0 {
            cell.status = Status::Failed;
            cell.error = Some(format!(
                "peer-to-peer relay: the server saw {via_server} data frames"
            ));
        }
    }
    // Reliable transports must deliver everything; losing frames fails the cell (frames that
    // arrived after a relay deadline did arrive: the deadline is the application's choice).
    // Unreliable ones (datagrams, maxRetransmits = 0) may lose frames: counted in `delivery`,
    // never silent. flap measures what a cut loses: the cell reports it.
    let loss_fails = pc.reliable() && !matches!(pc.spec, WorkloadSpec::Flap(_));
    if cell.status == Status::Ok && loss_fails {
        if let Some(d) = &cell.delivery {
            let lost = d.lost - d.late.unwrap_or(0).min(d.lost);
            if lost > 0 {
                cell.status = Status::Failed;
                cell.error = Some(format!(
                    "{} of {} frames had not arrived {} s after the schedule ended, on a \
                     reliable transport (lost, or the transport fell behind the offered rate)",
                    lost,
                    d.sent,
                    crate::workload::DRAIN.as_secs()
                ));
            }
        }
    }
    cell.wire = Some(Wire::default());
    // Every frame byte the client sent or received, warm-up included: the denominator of the
    // wire overhead ratio (removed from params once used).
    cell.params.insert(
        "payload_bytes".into(),
        (r.bytes_sent + r.bytes_received_total).into(),
    );
    cell.resources = Some(Resources {
        server_cpu_s: s.cpu_s,
        server_rss_peak_bytes: s.rss_peak_bytes,
        client_cpu_s: r.cpu_s,
        client_rss_peak_bytes: r.rss_peak_bytes,
    });
    cell.send_lateness_us = r
        .send_lateness_us
        .map(|[p50, p99, max]| Lateness { p50, p99, max });
    cell.warmup = Some(Warmup {
        duration_ms: p.warmup_ms,
        samples: r.warmup_samples,
    });
    if let Some(m) = &s.around.idle {
        cell.idle = Some(idle_figures(m, &r));
    }
    if let Some(m) = &s.around.flap {
        cell.flap = Some(flap_figures(m, &r));
    }
    if !r.setup_us.is_empty() {
        let n = r.setup_us.len() as f64;
        cell.setup_phases_ms = r
            .setup_phases_us
            .iter()
            .map(|(k, v)| (k.clone(), (*v as f64 / n).round() / 1000.0))
            .collect();
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The idle figures from the orchestrator's marks and the client agent's report.
fn idle_figures(m: &IdleMarks, r: &ClientReport) -> IdleFigures {
    let conns = r.setup_us.len() as u64;
    let per_conn = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if conns > 0 => Some((b as f64 - a as f64) / conns as f64),
        _ => None,
    };
    let cpu = |a: &Mark, b: &Mark| match (a.cpu_s, b.cpu_s) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    // (bytes up, bytes down, packets) between two marks, from the emulator's counters.
    let wire = |a: &Mark, b: &Mark| match (a.counters, b.counters) {
        (Some(a), Some(b)) => Some((
            b.up.bytes_in.saturating_sub(a.up.bytes_in),
            b.down.bytes_out.saturating_sub(a.down.bytes_out),
            b.up.packets_in.saturating_sub(a.up.packets_in)
                + b.down.packets_out.saturating_sub(a.down.packets_out),
        )),
        _ => None,
    };
    // A window between two marks, if both were taken (a failed cell stops early).
    let span = |a: &Mark, b: &Mark| (a.at_ns > 0 && b.at_ns >= a.at_ns).then(|| b.at_ns - a.at_ns);
    let quiet_ns = span(&m.connected, &m.quiet_end);
    let notify_ns = span(&m.quiet_end, &m.done);
    let quiet_wire = wire(&m.connected, &m.quiet_end);
    let per_conn_hour = |x: u64| match quiet_ns {
        Some(q) if conns > 0 && q > 0 => Some(x as f64 / conns as f64 / (q as f64 / 3.6e12)),
        _ => None,
    };
    IdleFigures {
        connections: conns,
        server_attached: quiet_ns.map(|_| m.connected.attached as u64),
        server_rss_before_bytes: m.before.rss_bytes,
        server_rss_connected_bytes: m.connected.rss_bytes,
        server_rss_per_connection_bytes: per_conn(m.before.rss_bytes, m.connected.rss_bytes),
        client_rss_per_connection_bytes: per_conn(
            r.rss_before_connect_bytes,
            r.rss_connected_bytes,
        ),
        quiet_ms: quiet_ns.map(ms),
        keepalive_bytes_up: quiet_wire.map(|w| w.0),
        keepalive_bytes_down: quiet_wire.map(|w| w.1),
        keepalive_packets: quiet_wire.map(|w| w.2),
        keepalive_bytes_per_connection_hour: quiet_wire.and_then(|w| per_conn_hour(w.0 + w.1)),
        keepalive_packets_per_connection_hour: quiet_wire.and_then(|w| per_conn_hour(w.2)),
        server_cpu_quiet_s: cpu(&m.connected, &m.quiet_end),
        notify_window_ms: notify_ns.map(ms),
        server_cpu_notify_s: cpu(&m.quiet_end, &m.done),
        bytes_per_client_per_min: match (wire(&m.quiet_end, &m.done), notify_ns) {
            (Some(w), Some(n)) if conns > 0 && n > 0 => {
                Some((w.0 + w.1) as f64 / conns as f64 / (n as f64 / 6e10))
            }
            _ => None,
        },
        server_nofile_limit: m.server_nofile,
        client_nofile_limit: r.nofile_limit,
    }
}

/// The flap figures from the cut's instants and the clients' longest silences.
fn flap_figures(m: &FlapMarks, r: &ClientReport) -> FlapFigures {
    FlapFigures {
        cut_at_ms: Some(ms(m.cut_ns.saturating_sub(m.push_ns))),
        cut_ms: Some(ms(m.restore_ns.saturating_sub(m.cut_ns))),
        recovery_ms: r
            .gap_end_ns
            .filter(|&e| e >= m.restore_ns)
            .map(|e| ms(e - m.restore_ns)),
        outage_ms: match (r.gap_start_ns, r.gap_end_ns) {
            (Some(a), Some(b)) => Some(ms(b.saturating_sub(a))),
            _ => None,
        },
        resumes: r.resumes,
        reconnects: r.reconnects,
        failed_attempts: r.failed_attempts,
    }
}
