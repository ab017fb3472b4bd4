//! The orchestrator behind `wirebench run`: plans cells, starts the agents for each cell, collects
//! their histograms and counters, and writes `results.json` after every cell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use wirebench_netem::ProfileSet;
use wirebench_reports::model::{
    Cell, Delivery, Latency, Lateness, Resources, Results, Status, Throughput, Warmup, Wire,
};

use crate::agent::control::{DriveEvent, Job, ServerCommand, ServerEvent};
use crate::workload::{ClientReport, WorkloadSpec};

pub mod progress;
pub mod scenario;

use scenario::Scenario;

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
    /// Profile name.
    pub profile: String,
    /// Repeat index from 1.
    pub repeat: u32,
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
                        cells.push(PlannedCell {
                            scenario: s.name.clone(),
                            name: w.name.clone(),
                            spec: w.spec.clone(),
                            transport: t.clone(),
                            profile: p.clone(),
                            repeat: rep,
                        });
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
    /// Hidden: delay each echo reply by this many µs.
    pub inject_delay_us: u64,
    /// The agent binary (normally this executable).
    pub agent_exe: PathBuf,
    /// Pin the server agent to CPU 0 and the client agent to CPU 1 (steadier figures on small
    /// machines; needs at least 2 CPUs).
    pub pin: bool,
}

/// Runs every cell, writing `results.json` after each; returns the results.
pub async fn run(cells: Vec<PlannedCell>, opts: &RunOptions) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating {}", opts.out_dir.display()))?;
    let results_path = opts.out_dir.join("results.json");
    let mut results = Results {
        schema: wirebench_reports::SCHEMA.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git: option_env!("WIREBENCH_GIT").map(str::to_string),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        host: crate::host::host_facts(),
        netem_backend: "none".to_string(),
        cells: Vec::new(),
        verdicts: Vec::new(),
    };
    let mut bar = progress::Progress::new(opts.progress, cells.len());
    for (i, pc) in cells.iter().enumerate() {
        bar.start_cell(i, pc);
        let started = Instant::now();
        let cell = tokio::select! {
            c = run_cell(pc, opts) => c,
            _ = tokio::signal::ctrl_c() => {
                bar.finish();
                results.save_atomic(&results_path)?;
                bail!(
                    "interrupted after {} of {} cells; partial results in {}",
                    i,
                    cells.len(),
                    results_path.display()
                );
            }
        };
        bar.end_cell(i, pc, &cell, started.elapsed());
        results.cells.push(cell);
        results
            .save_atomic(&results_path)
            .with_context(|| format!("writing {}", results_path.display()))?;
    }
    bar.finish();
    Ok(results)
}

fn base_cell(pc: &PlannedCell) -> Cell {
    let mut params = match serde_json::to_value(pc.spec.params()) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    params.insert("latency".into(), pc.spec.latency_kind().into());
    if !matches!(pc.spec, WorkloadSpec::Echo(_) | WorkloadSpec::Push(_)) {
        params.remove("rate");
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
        implementation: None,
        client: None,
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
    }
}

/// Runs one cell; failures become a failed cell with the reason, never an error of the run.
pub async fn run_cell(pc: &PlannedCell, opts: &RunOptions) -> Cell {
    let mut cell = base_cell(pc);
    let profile = match opts.profiles.get(&pc.profile) {
        Ok(p) => p.clone(),
        Err(e) => {
            cell.status = Status::Failed;
            cell.error = Some(e.to_string());
            return cell;
        }
    };
    if !profile.is_unshaped() {
        cell.status = Status::Skipped;
        cell.error = Some(format!(
            "profile {:?} needs link emulation, which this build does not run yet (backend none)",
            pc.profile
        ));
        return cell;
    }
    let limit = pc.spec.time_limit();
    match tokio::time::timeout(limit, drive_cell(pc, opts)).await {
        Ok(Ok((report, stats))) => fill_cell(&mut cell, pc, report, stats, profile.rtt_ms()),
        Ok(Err(e)) => {
            cell.status = Status::Failed;
            cell.error = Some(format!("{e:#}"));
        }
        Err(_) => {
            cell.status = Status::Failed;
            cell.error = Some(format!("timed out after {} s", limit.as_secs()));
        }
    }
    cell
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
        exe: &Path,
        args: &[&str],
        name: &'static str,
        cpu: Option<usize>,
    ) -> anyhow::Result<Self> {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: the closure runs in the child between fork and exec and only calls prctl and
        // sched_setaffinity on a stack-local cpu_set_t, which are async-signal-safe; it
        // allocates nothing and touches no locks.
        unsafe {
            cmd.pre_exec(move || {
                // The agent dies with the orchestrator, whatever kills it.
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                if let Some(cpu) = cpu {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(cpu, &mut set);
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
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

struct ServerStats {
    cpu_s: Option<f64>,
    rss_peak_bytes: Option<u64>,
    data: Vec<(u32, crate::server::hub::DataCount)>,
    errors: BTreeMap<String, u64>,
}

async fn drive_cell(
    pc: &PlannedCell,
    opts: &RunOptions,
) -> anyhow::Result<(ClientReport, ServerStats)> {
    let delay = opts.inject_delay_us.to_string();
    let mut server_args = vec!["serve", "--bind", "127.0.0.1:0", "--control"];
    if opts.plaintext {
        server_args.push("--plaintext");
    }
    if opts.inject_delay_us > 0 {
        server_args.extend(["--inject-delay-us", &delay]);
    }
    let (server_cpu, client_cpu) = if opts.pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let mut server = Agent::spawn(&opts.agent_exe, &server_args, "server", server_cpu)?;
    let (addr, cert) = match server.recv::<ServerEvent>().await? {
        ServerEvent::Ready { addr, cert_sha256 } => (addr, cert_sha256),
        other => bail!("server agent: expected ready, got {other:?}"),
    };
    let p = pc.spec.params().clone();
    if let WorkloadSpec::Upload(_) = pc.spec {
        server
            .send(&ServerCommand::UploadWarmup {
                warmup_ms: p.warmup_ms,
            })
            .await?;
    }
    let mut drive = Agent::spawn(
        &opts.agent_exe,
        &["drive", "--control"],
        "client",
        client_cpu,
    )?;
    drive
        .send(&Job {
            transport: pc.transport.clone(),
            addr,
            tls: !opts.plaintext,
            cert_sha256: Some(cert),
            first_client: 1,
            workload: pc.spec.clone(),
        })
        .await?;
    let report = loop {
        match drive.recv::<DriveEvent>().await? {
            DriveEvent::Connected { clients } => match &pc.spec {
                WorkloadSpec::Push(p) => {
                    let count =
                        (p.rate * (p.warmup_ms + p.duration_ms) as f64 / 1000.0).ceil() as u64;
                    server
                        .send(&ServerCommand::Push {
                            clients,
                            rate: p.rate,
                            size: p.size,
                            count,
                        })
                        .await?;
                }
                WorkloadSpec::Download(p) => {
                    server
                        .send(&ServerCommand::Download {
                            clients,
                            size: p.size,
                            duration_ms: p.warmup_ms + p.duration_ms,
                        })
                        .await?;
                }
                _ => {}
            },
            DriveEvent::Result(r) => break *r,
        }
    };
    drive.shutdown().await;
    server.send(&ServerCommand::Stats).await?;
    let stats = loop {
        match server.recv::<ServerEvent>().await? {
            ServerEvent::Stats {
                cpu_s,
                rss_peak_bytes,
                data,
                errors,
            } => {
                break ServerStats {
                    cpu_s,
                    rss_peak_bytes,
                    data,
                    errors,
                }
            }
            ServerEvent::Error { message } => bail!("server agent: {message}"),
            _ => continue,
        }
    };
    let _ = server.send(&ServerCommand::Shutdown).await;
    server.shutdown().await;
    Ok((report, stats))
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
        WorkloadSpec::Echo(_) | WorkloadSpec::Push(_) => Some(Throughput {
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
        WorkloadSpec::Connect(_) => None,
    };
    cell.delivery = match &pc.spec {
        WorkloadSpec::Echo(_) | WorkloadSpec::Push(_) => Some(Delivery {
            sent: r.sent,
            received: r.received,
            lost: r.sent.saturating_sub(r.received),
            duplicated: r.duplicated,
            reordered: r.reordered,
        }),
        _ => None,
    };
    if cell.status == Status::Ok {
        if let Some(d) = &cell.delivery {
            // Reliable transports must deliver everything; losing frames is a failure of the cell.
            if d.lost > 0 {
                cell.status = Status::Failed;
                cell.error = Some(format!(
                    "{} of {} frames never arrived on a reliable transport",
                    d.lost, d.sent
                ));
            }
        }
    }
    cell.wire = Some(Wire::default());
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
    if !r.setup_us.is_empty() {
        let n = r.setup_us.len() as f64;
        cell.setup_phases_ms = r
            .setup_phases_us
            .iter()
            .map(|(k, v)| (k.clone(), (*v as f64 / n).round() / 1000.0))
            .collect();
    }
}
