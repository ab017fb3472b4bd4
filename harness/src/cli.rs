//! The command line (contract in DESIGN.md): `run`, `serve`, `drive`, `report`, `compare`,
//! `list`. Errors end as one clear message and exit code 1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use wirebench_netem::ProfileSet;
use wirebench_reports::model::{Results, Status};

use crate::runner::{self, progress, scenario};
use crate::workload::{Params, WorkloadSpec};

/// Exit code of `wirebench run` when it completed but some cells failed.
pub const EXIT_CELLS_FAILED: u8 = 3;

/// wirebench: which real-time web transport for this workload on this network? Measured.
#[derive(Debug, Parser)]
#[command(name = "wirebench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios (default: the embedded default suite) and write results, summary and report.
    ///
    /// Exit code 0 when every cell succeeded, 3 when the run completed with failed cells, 1 on
    /// an error (bad scenario, unwritable output, interrupted).
    Run(RunArgs),
    /// Run the server agent only (for external or remote clients).
    Serve(ServeArgs),
    /// Run the client agent only, against a running server.
    Drive(DriveArgs),
    /// Render report.html from a results file (and, with --export, other formats). FAQ
    /// verdicts are recomputed with this build's rules.
    Report(ReportArgs),
    /// Compare two results files: ratio per cell and metric with a bootstrap 95 % interval.
    ///
    /// Exit code 0 when nothing regressed, 2 when something regressed, 1 on an error.
    Compare(CompareArgs),
    /// Link emulation tools: check profiles, run programs on an emulated link, clean up.
    #[command(subcommand)]
    Netem(wirebench_netem::cli::NetemCommand),
    /// List transports, workloads, profiles and scenarios.
    List(ListArgs),
    /// Rank transports for a workload described by its traits, with the measured evidence.
    ///
    /// Reads --results (a run of the FAQ scenarios, `wirebench run scenarios/faq`), or, without
    /// it, first runs the FAQ scenarios the traits need at CI scale (`--quick`) into --out.
    Recommend(RecommendArgs),
}

/// `--topology` of `wirebench recommend`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TopologyArg {
    /// Messages between peers, no central source of truth.
    P2p,
    /// A server holds the truth and relays.
    Server,
}

#[derive(Debug, Args)]
struct RecommendArgs {
    /// Where the messages flow: between peers (p2p) or through a server that holds the truth.
    #[arg(long, value_enum, default_value_t = TopologyArg::Server)]
    topology: TopologyArg,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    clients: u32,
    /// Messages per second per client.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 256)]
    size: u64,
    /// Long quiet periods between messages (notifications).
    #[arg(long)]
    quiet_periods: bool,
    /// Messages may be lost (media, telemetry): unreliable transports qualify.
    #[arg(long)]
    loss_tolerant: bool,
    /// Network profile to judge on (default: every profile measured).
    #[arg(long)]
    profile: Option<String>,
    /// A results.json to read instead of running the scenarios.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Where the scenario run goes when there is no --results (default:
    /// wirebench-out/recommend-<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Link emulation for the scenario run (see `wirebench run --netem`).
    #[arg(long, value_enum, default_value_t = wirebench_netem::BackendKind::Auto)]
    netem: wirebench_netem::BackendKind,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// Parses `wirebench run` arguments on their own (for `recommend`'s scenario run).
#[derive(Debug, Parser)]
#[command(name = "wirebench run")]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files or directories of them (default: the embedded default suite).
    scenarios: Vec<PathBuf>,
    /// Only these transports (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    transport: Vec<String>,
    /// Only these profiles (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    profile: Vec<String>,
    /// Repeats of each cell (overrides the scenarios).
    #[arg(long)]
    repeat: Option<u32>,
    /// CI scale: apply each scenario's `[quick]` overrides (fewer clients, shorter runs, fewer
    /// profiles and repeats); without it scenarios run at their full scale.
    #[arg(long)]
    quick: bool,
    /// Output directory (default: wirebench-out/<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Profiles file (default: the embedded scenarios/profiles.toml).
    #[arg(long)]
    profiles: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS for the HTTP transports.
    #[arg(long)]
    plaintext: bool,
    /// Which client runs the workloads' client side: the Rust agent, headless Chromium (the
    /// page served at /client/, driven over DevTools; needs Debian's `chromium`), or both, side
    /// by side (overrides the scenarios' `client` key).
    #[arg(long, value_parser = ["rust", "browser", "both"])]
    client: Option<String>,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// Pin the server agent to CPU 0 and the client agent to CPU 1 (steadier latency figures).
    #[arg(long)]
    pin: bool,
    /// Keep CPUs out of idle states during the run (holds /dev/cpu_dma_latency at 0 µs, as
    /// tuned's latency-performance profile does; needs root). On a VM this removes the vCPU
    /// wake-up time from latency figures; recorded in each cell's params.
    #[arg(long)]
    no_idle: bool,
    /// Link emulation for shaped profiles: auto picks kernel netem, else the userspace
    /// emulator, else none (shaped cells are then skipped with the reason).
    #[arg(long, value_enum, default_value_t = wirebench_netem::BackendKind::Auto)]
    netem: wirebench_netem::BackendKind,
    /// A/B run: run every cell with BASELINE_BINARY's agents and this build's, interleaved,
    /// then compare (exit 2 on a regression). Results go to OUT/baseline and OUT/current.
    #[arg(long, value_name = "BASELINE_BINARY")]
    ab: Option<PathBuf>,
    /// Regression threshold for --ab, percent.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// Also write these formats beside results.json (csv, github-action-benchmark, bencher).
    #[arg(long, value_delimiter = ',')]
    export: Vec<wirebench_reports::export::Format>,
    /// Delay every echo reply by N µs (for testing regression detection). With --ab it
    /// applies to the current build's server agents only, never the baseline's, so the A/B
    /// comparison sees an injected regression of N µs.
    #[arg(long, hide = true, default_value_t = 0)]
    inject_delay_us: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to bind: HTTPS on TCP P, raw tcp on TCP P+1, HTTP/3 on UDP P. Port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:4433")]
    bind: SocketAddr,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    plaintext: bool,
    /// Offer HTTP/2 too (ALPN `h2`, then `http/1.1`; up to 100 concurrent streams per
    /// connection). TLS only. Without it the server speaks HTTP/1.1 only.
    #[arg(long, conflicts_with = "plaintext")]
    http2: bool,
    /// How long a long-poll waits before answering 204, seconds.
    #[arg(long, default_value_t = 25)]
    poll_timeout: u64,
    /// Take commands on stdin and report on stdout (used by `wirebench run`).
    #[arg(long, hide = true)]
    control: bool,
    /// Delay every echo reply by N µs (for testing regression detection).
    #[arg(long, hide = true, default_value_t = 0)]
    inject_delay_us: u64,
}

#[derive(Debug, Args)]
struct DriveArgs {
    /// Server URL, e.g. https://127.0.0.1:4433.
    #[arg(long, required_unless_present = "control")]
    target: Option<String>,
    /// SHA-256 of the server certificate (hex), as `wirebench serve` prints and `/cert-hash` returns.
    #[arg(long)]
    cert_sha256: Option<String>,
    /// Transport id.
    #[arg(long, default_value = "websocket")]
    transport: String,
    /// Implementation, for transports with several (webrtc: str0m or webrtc-rs).
    #[arg(long = "impl")]
    implementation: Option<String>,
    /// Workload: echo or connect (push, download and upload need the orchestrator).
    #[arg(long, default_value = "echo")]
    workload: String,
    /// Messages per second per client.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Message size in bytes, header included.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Measured duration, ms.
    #[arg(long, default_value_t = 3000)]
    duration_ms: u64,
    /// Warm-up, ms.
    #[arg(long, default_value_t = 500)]
    warmup_ms: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 1)]
    clients: u32,
    /// First client id.
    #[arg(long, default_value_t = 1)]
    client_id: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Read a job on stdin and report on stdout (used by `wirebench run`).
    #[arg(long, hide = true)]
    control: bool,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// A results.json.
    results: PathBuf,
    /// Output HTML file (default: report.html beside the results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write these formats beside the report (csv, github-action-benchmark, bencher).
    #[arg(long, value_delimiter = ',')]
    export: Vec<wirebench_reports::export::Format>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The baseline results.json.
    baseline: PathBuf,
    /// The current results.json.
    current: PathBuf,
    /// A change counts as a regression when its whole 95 % interval lies this many percent
    /// beyond no-change in the bad direction.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// Only these metrics (p50, p99, goodput, msgs_per_s, setup_ms, server_cpu_s, rss_per_conn).
    #[arg(long, value_delimiter = ',')]
    metric: Vec<String>,
    /// Output format.
    #[arg(long, default_value = "md", value_parser = ["md", "json"])]
    format: String,
    /// Pair repeat i of both files (right only for the two halves of one `run --ab`, whose
    /// repeats ran interleaved): the machine's drift cancels within each pair.
    #[arg(long)]
    paired: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Profiles file (default: the embedded one).
    #[arg(long)]
    profiles: Option<PathBuf>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Not root? Commands that may build emulated links become root over a private user
    // namespace first; this must happen before any thread starts (the runtime's included).
    let wants_links = match &cli.command {
        Command::Run(a) => a.netem != wirebench_netem::BackendKind::None,
        Command::Netem(c) => c.needs_links(),
        _ => false,
    };
    if wants_links {
        if let Err(e) = wirebench_netem::rootless::enter() {
            eprintln!("wirebench: error: {e}");
            return ExitCode::from(1);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wirebench: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wirebench: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(a) => cmd_run(a).await,
        Command::Serve(a) => {
            crate::agent::serve::run(crate::agent::serve::ServeOptions {
                bind: a.bind,
                plaintext: a.plaintext,
                http2: a.http2,
                poll_timeout: Duration::from_secs(a.poll_timeout),
                control: a.control,
                inject_delay_us: a.inject_delay_us,
            })
            .await?;
            Ok(0)
        }
        Command::Drive(a) => cmd_drive(a).await,
        Command::Report(a) => cmd_report(a),
        Command::Compare(a) => cmd_compare(a),
        Command::Netem(c) => {
            let profiles = load_profiles(None)?;
            let code = crate::netem_cmd::run(c, &profiles)?;
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Command::List(a) => cmd_list(a),
        Command::Recommend(a) => cmd_recommend(a).await,
    }
}

fn load_profiles(path: Option<&Path>) -> anyhow::Result<ProfileSet> {
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(ProfileSet::parse(&text, &p.display().to_string())?)
        }
        None => Ok(ProfileSet::parse(
            scenario::DEFAULT_PROFILES,
            "scenarios/profiles.toml (embedded)",
        )?),
    }
}

fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().is_some_and(|e| e == "toml")
                        && f.file_name().is_some_and(|n| n != "profiles.toml")
                })
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "{}: no scenario files (*.toml) in this directory",
                    p.display()
                );
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such scenario file or directory", p.display());
        }
    }
    Ok(files)
}

async fn cmd_recommend(a: RecommendArgs) -> anyhow::Result<u8> {
    use wirebench_reports::recommend::{self, Connectivity, Traits};
    if a.clients == 0 {
        bail!("--clients: must be at least 1");
    }
    if !(a.rate.is_finite() && a.rate > 0.0) {
        bail!(
            "--rate {}: must be a positive number of messages per second",
            a.rate
        );
    }
    if a.size < crate::frame::HEADER_LEN as u64 || a.size > crate::frame::MAX_FRAME as u64 {
        bail!(
            "--size {}: must be between {} and {} bytes",
            a.size,
            crate::frame::HEADER_LEN,
            crate::frame::MAX_FRAME
        );
    }
    if let Some(p) = &a.profile {
        load_profiles(None)?
            .get(p)
            .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    }
    let traits = Traits {
        topology: match a.topology {
            TopologyArg::P2p => Connectivity::P2p,
            TopologyArg::Server => Connectivity::Server,
        },
        clients: a.clients,
        rate: a.rate,
        size: a.size,
        quiet_periods: a.quiet_periods,
        loss_tolerant: a.loss_tolerant,
        profile: a.profile.clone(),
    };
    let results = match &a.results {
        Some(path) => Results::load(path)?,
        None => {
            let out = a.out.clone().unwrap_or_else(|| {
                PathBuf::from("wirebench-out").join(format!(
                    "recommend-{}",
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                ))
            });
            let dir = out.join("scenarios");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut files = Vec::new();
            let mut missing = Vec::new();
            for name in recommend::needed_scenarios(&traits) {
                let stem = name.trim_start_matches("faq-");
                match scenario::FAQ_SCENARIOS
                    .iter()
                    .find(|(f, _)| f.strip_suffix(".toml") == Some(stem))
                {
                    Some((file, text)) => {
                        let path = dir.join(file);
                        std::fs::write(&path, text)
                            .with_context(|| format!("writing {}", path.display()))?;
                        files.push(path);
                    }
                    None => missing.push(name),
                }
            }
            if files.is_empty() {
                bail!(
                    "the scenarios these traits need ({}) are not in this build; pass --results",
                    missing.join(", ")
                );
            }
            eprintln!(
                "wirebench recommend: no --results; running {} at CI scale (--quick) into {}",
                files
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
                out.display()
            );
            let mut argv: Vec<std::ffi::OsString> = vec![
                "run".into(),
                "--quick".into(),
                "--quiet".into(),
                "--out".into(),
                out.clone().into(),
                "--netem".into(),
                clap::ValueEnum::to_possible_value(&a.netem)
                    .map_or("auto".to_string(), |v| v.get_name().to_string())
                    .into(),
            ];
            argv.extend(files.into_iter().map(Into::into));
            let run = RunOnly::try_parse_from(argv).context("building the scenario run")?;
            Box::pin(cmd_run(run.run)).await?;
            Results::load(&out.join("results.json"))?
        }
    };
    let rec = recommend::recommend(&results, &traits);
    if a.format == "json" {
        emit(&format!("{}\n", rec.json()?))?;
    } else {
        emit(&rec.text())?;
    }
    Ok(0)
}

async fn cmd_run(a: RunArgs) -> anyhow::Result<u8> {
    let profiles = load_profiles(a.profiles.as_deref())?;
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    let mut scenarios = Vec::new();
    if a.scenarios.is_empty() {
        scenarios.push(scenario::parse_scaled(
            scenario::DEFAULT_SUITE,
            "scenarios/default.toml (embedded)",
            &names,
            a.quick,
        )?);
    } else {
        for f in scenario_files(&a.scenarios)? {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            scenarios.push(scenario::parse_scaled(
                &text,
                &f.display().to_string(),
                &names,
                a.quick,
            )?);
        }
    }
    for t in &a.transport {
        if crate::transport::by_id(t).is_none() {
            bail!(
                "--transport: unknown transport {t:?} (known: {})",
                crate::transport::ALL_IDS.join(", ")
            );
        }
    }
    for p in &a.profile {
        profiles
            .get(p)
            .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    }
    if a.repeat == Some(0) {
        bail!("--repeat: must be at least 1");
    }
    if a.pin && std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        bail!("--pin needs at least 2 CPUs (server on CPU 0, client on CPU 1)");
    }
    for s in &mut scenarios {
        for w in &mut s.workloads {
            if !a.transport.is_empty() {
                w.transports.retain(|t| a.transport.contains(t));
            }
            if !a.profile.is_empty() {
                w.profiles = a.profile.clone();
            }
            if let Some(c) = a
                .client
                .as_deref()
                .and_then(scenario::ClientKind::parse_choice)
            {
                w.client = c;
            }
        }
    }
    let cells = runner::plan(&scenarios, a.repeat);
    if cells.is_empty() {
        bail!("nothing to run: the filters leave no cell (check --transport and --profile)");
    }
    let out_dir = a.out.unwrap_or_else(|| {
        PathBuf::from("wirebench-out")
            .join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string())
    });
    let me = std::env::current_exe().context("locating the wirebench executable")?;
    let variants = match &a.ab {
        None => vec![runner::Variant {
            name: String::new(),
            exe: me,
            out_dir: out_dir.clone(),
            inject_delay: true,
        }],
        Some(base) => {
            let base = base
                .canonicalize()
                .with_context(|| format!("--ab: {}: no such binary", base.display()))?;
            vec![
                runner::Variant {
                    name: "baseline".into(),
                    exe: base,
                    out_dir: out_dir.join("baseline"),
                    inject_delay: false,
                },
                runner::Variant {
                    name: "current".into(),
                    exe: me,
                    out_dir: out_dir.join("current"),
                    inject_delay: true,
                },
            ]
        }
    };
    let shaped = cells.iter().any(|c| {
        profiles
            .get(&c.profile)
            .is_ok_and(|p| crate::runner::needs_topology(&c.spec, p))
    });
    let netem = if shaped {
        wirebench_netem::choose_backend(a.netem, true).map_err(|e| e.to_string())
    } else {
        Ok(wirebench_netem::BackendChoice {
            kind: wirebench_netem::BackendKind::None,
            reason: "every profile of this run is unshaped".into(),
        })
    };
    if !a.quiet {
        eprintln!(
            "wirebench: {} cells ({} scenario{}{}), writing {}",
            cells.len() * variants.len(),
            scenarios.len(),
            if scenarios.len() == 1 { "" } else { "s" },
            if a.ab.is_some() { ", A/B" } else { "" },
            out_dir.display()
        );
        if shaped {
            match &netem {
                Ok(c) => eprintln!("wirebench: link emulation: {c}"),
                Err(e) => eprintln!(
                    "wirebench: link emulation unavailable, shaped cells will be skipped: {e}"
                ),
            }
        }
    }
    let _no_idle = if a.no_idle {
        Some(crate::clock::NoIdle::request().context(
            "--no-idle: cannot hold /dev/cpu_dma_latency at 0 (needs root and a kernel with PM QoS)",
        )?)
    } else {
        None
    };
    let opts = runner::RunOptions {
        out_dir: out_dir.clone(),
        plaintext: a.plaintext,
        profiles,
        progress: if a.quiet {
            progress::Mode::Quiet
        } else {
            progress::Mode::Auto
        },
        inject_delay_us: a.inject_delay_us,
        variants,
        netem,
        pin: a.pin,
        no_idle: a.no_idle,
    };
    let mut all = runner::run(cells, &opts).await?;
    for (results, v) in all.iter_mut().zip(&opts.variants) {
        // FAQ verdicts, for the FAQ scenarios among those run.
        let verdicts = wirebench_reports::verdicts::evaluate(results);
        if !verdicts.is_empty() {
            results.verdicts = wirebench_reports::verdicts::stored(&verdicts);
            let path = v.out_dir.join("results.json");
            results
                .save_atomic(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        write_outputs(results, &v.out_dir)?;
        for f in &a.export {
            wirebench_reports::export::write(results, *f, &v.out_dir)?;
        }
    }
    let current = all.last().context("no results")?;
    if !a.quiet {
        let last = &opts.variants[opts.variants.len() - 1].out_dir;
        emit(&format!(
            "{}{}\nresults: {}\nsummary: {}\nreport:  {}\n",
            wirebench_reports::terminal::table(current),
            wirebench_reports::verdicts::terminal(&wirebench_reports::verdicts::read(current)),
            last.join("results.json").display(),
            last.join("summary.md").display(),
            last.join("report.html").display()
        ))?;
    }
    let failed = all
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| c.status == Status::Failed)
        .count();
    let mut code = 0;
    if failed > 0 {
        eprintln!("wirebench: {failed} cell(s) failed; see summary.md");
        code = EXIT_CELLS_FAILED;
    }
    if a.ab.is_some() {
        use wirebench_reports::compare::{compare, CompareOptions};
        let cmp = compare(
            &all[0],
            current,
            &CompareOptions {
                threshold_pct: a.threshold,
                // Repeat i of both builds ran back to back (A B A B …).
                paired: true,
                ..CompareOptions::default()
            },
        )?;
        let md = cmp.markdown();
        let path = out_dir.join("compare.md");
        std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
        std::fs::write(out_dir.join("compare.json"), cmp.json()?)
            .with_context(|| format!("writing {}", out_dir.join("compare.json").display()))?;
        emit(&format!("\n{md}\n"))?;
        if cmp.regressed() {
            code = u8::try_from(cmp.exit_code()).unwrap_or(2);
        }
    }
    Ok(code)
}

/// Writes summary.md and report.html beside results.json.
fn write_outputs(results: &Results, dir: &Path) -> anyhow::Result<()> {
    let summary = dir.join("summary.md");
    std::fs::write(&summary, wirebench_reports::summary::markdown(results))
        .with_context(|| format!("writing {}", summary.display()))?;
    let html = dir.join("report.html");
    wirebench_reports::html::write(results, &html)?;
    Ok(())
}

async fn cmd_drive(a: DriveArgs) -> anyhow::Result<u8> {
    if a.control {
        crate::agent::drive::run_control().await?;
        return Ok(0);
    }
    let target = a.target.as_deref().unwrap_or_default();
    let url = url::Url::parse(target).with_context(|| format!("--target {target:?}: not a URL"))?;
    let tls = match url.scheme() {
        "https" => true,
        "http" => false,
        s => bail!("--target: scheme {s:?} is not http or https"),
    };
    let host = url
        .host_str()
        .with_context(|| format!("--target {target:?}: no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addr: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("--target: resolving {host}"))?
        .next()
        .with_context(|| format!("--target: {host} has no address"))?;
    if tls && a.cert_sha256.is_none() {
        bail!("--cert-sha256 is required for https targets (wirebench serve prints it; GET /cert-hash returns it)");
    }
    let params = Params {
        rate: a.rate,
        size: a.size,
        duration_ms: a.duration_ms,
        warmup_ms: a.warmup_ms,
        clients: a.clients,
        connects: 20,
        poll_interval_ms: 50,
        ..Params::default()
    };
    let workload = match a.workload.as_str() {
        "echo" => WorkloadSpec::Echo(params),
        "connect" => WorkloadSpec::Connect(params),
        w => bail!("--workload {w:?}: `drive` runs echo or connect on its own (push, download and upload need `wirebench run`)"),
    };
    let job = crate::agent::control::Job {
        transport: a.transport.clone(),
        implementation: a.implementation.clone(),
        addr: addr.to_string(),
        tls,
        cert_sha256: a.cert_sha256.clone(),
        first_client: a.client_id,
        clients: None,
        wait_start: false,
        workload,
    };
    let report = crate::agent::drive::run_job(&job, |_| {}).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(h) = &report.latency_hdr {
            let h = wirebench_reports::decode_histogram(h)?;
            println!(
                "{} {} to {}: {} samples, p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
                a.transport,
                a.workload,
                addr,
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.max()
            );
        }
        println!(
            "sent {}, received {}, duplicated {}, reordered {}",
            report.sent, report.received, report.duplicated, report.reordered
        );
        if let Some([p50, p99, max]) = report.send_lateness_us {
            println!(
                "sends left late against the schedule by p50 {p50} µs, p99 {p99} µs, max {max} µs"
            );
        }
    }
    if let Some(e) = report.error {
        bail!("{e}");
    }
    Ok(0)
}

fn cmd_report(a: ReportArgs) -> anyhow::Result<u8> {
    let mut results = Results::load(&a.results)?;
    // The FAQ verdicts as this build's rules judge the cells.
    let verdicts = wirebench_reports::verdicts::evaluate(&results);
    if !verdicts.is_empty() {
        results.verdicts = wirebench_reports::verdicts::stored(&verdicts);
        eprint!("{}", wirebench_reports::verdicts::terminal(&verdicts));
    }
    let out = a.out.unwrap_or_else(|| {
        a.results
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("report.html")
    });
    wirebench_reports::html::write(&results, &out)?;
    println!("{}", out.display());
    let dir = out.parent().unwrap_or_else(|| Path::new("."));
    for f in &a.export {
        for p in wirebench_reports::export::write(&results, *f, dir)? {
            println!("{}", p.display());
        }
    }
    Ok(0)
}

fn cmd_compare(a: CompareArgs) -> anyhow::Result<u8> {
    use wirebench_reports::compare::{compare, CompareMetric, CompareOptions};
    let base = Results::load(&a.baseline)?;
    let cur = Results::load(&a.current)?;
    let opts = CompareOptions {
        threshold_pct: a.threshold,
        metrics: CompareMetric::parse_list(&a.metric.join(","))?,
        paired: a.paired,
        ..CompareOptions::default()
    };
    let cmp = compare(&base, &cur, &opts)?;
    if a.format == "json" {
        emit(&format!("{}\n", cmp.json()?))?;
    } else {
        emit(&cmp.markdown())?;
    }
    Ok(u8::try_from(cmp.exit_code()).unwrap_or(1))
}

fn cmd_list(a: ListArgs) -> anyhow::Result<u8> {
    use std::fmt::Write as _;
    let profiles = load_profiles(a.profiles.as_deref())?;
    let mut o = String::from("transports:\n");
    for id in crate::transport::ALL_IDS {
        let _ = writeln!(o, "  {id:<24} {}", crate::transport::describe(id));
    }
    o.push_str("\nworkloads:\n");
    for (id, d) in crate::workload::ALL_IDS {
        let _ = writeln!(o, "  {id:<24} {d}");
    }
    o.push('\n');
    o.push_str(&crate::workload::catalogue::list_text());
    o.push_str("\nprofiles:\n");
    for (name, p) in &profiles.profiles {
        let first = p.description.lines().next().unwrap_or("");
        let _ = writeln!(o, "  {name:<24} {first}");
    }
    o.push_str("\nscenarios (embedded):\n");
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    let s = scenario::parse(scenario::DEFAULT_SUITE, "default.toml", &names)?;
    let _ = writeln!(o, "  {:<24} {}", s.name, s.description);
    emit(&o)?;
    Ok(0)
}

/// Writes `text` to stdout. A reader that went away (`wirebench list | head`) is not an
/// error: the output simply ends there, as with any Unix filter.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}
