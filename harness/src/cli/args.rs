//! The command line's arguments (clap): one struct per command.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Every command's exit codes (the README has the same table).
const EXIT_CODES: &str = "Exit codes:
  0  success: every cell ok; nothing regressed and something was judged; a ranking
  1  error: bad scenario file, flag, value or profile; unreadable results
  2  a metric regressed beyond the threshold (compare, run --ab)
  3  the run completed with failed cells (run)
  4  nothing could be judged: every metric noisy or no cell in common (compare, run --ab);
     nothing to rank (recommend)
 99  a scenario's [thresholds] limit crossed (run; compare, on the current file), above 2-4";

/// wirebench: which real-time web transport for this workload on this network? Measured.
#[derive(Debug, Parser)]
#[command(
    name = "wirebench",
    version = env!("WIREBENCH_VERSION"),
    about,
    long_about = None,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run scenarios (default: the embedded default suite) and write results, summary and report.
    ///
    /// Exit code 0 when every cell succeeded, 3 when the run completed with failed cells, 1 on
    /// an error (bad scenario, unwritable output, interrupted); with --ab, 2 on a regression
    /// and 4 when nothing could be judged.
    Run(RunArgs),
    /// Run the server agent only (for external or remote clients).
    Serve(ServeArgs),
    /// Run the client agent only, against a running server (with --shard I/N --out FILE:
    /// one shard of a cell's clients, for runs across client machines).
    Drive(DriveArgs),
    /// Merge the shards of one cell (`drive --shard I/N --out FILE`, one file each) into one
    /// results file: histograms added, counters summed, each shard's own figures kept.
    ///
    /// Refuses files of different cells, parameters or versions, a shard twice, and missing
    /// shards (exit 1, naming the file and the field). Exit 3 when a shard failed.
    Merge(MergeArgs),
    /// Render report.html and summary.md from a results file (and, with --export, other formats). FAQ
    /// verdicts are recomputed with this build's rules.
    Report(ReportArgs),
    /// Compare two results files: ratio per cell and metric with a bootstrap 95 % interval.
    ///
    /// Exit code 0 when nothing regressed, 2 when something regressed, 4 when nothing could
    /// be judged (every metric noisy), 1 on an error.
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
    /// Exit code 0 with a ranking, 4 when the results hold nothing to rank, 1 on an error.
    Recommend(RecommendArgs),
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell).
    ///
    /// bash: `wirebench completions bash > ~/.local/share/bash-completion/completions/wirebench`;
    /// zsh: into a directory of $fpath as `_wirebench`; fish: `~/.config/fish/completions/wirebench.fish`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, or with --out write one page per command into DIR.
    ///
    /// `wirebench man | man -l -` reads it; `wirebench man --out DIR` writes wirebench.1,
    /// wirebench-run.1, … for `MANPATH`.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write one page per command (wirebench.1, wirebench-run.1, …) into this directory
    /// instead of the main page to stdout.
    #[arg(long, short, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `--format` of the commands that print data: text for people (the default) or one JSON
/// document for programs. Either goes to stdout; progress, "wrote …" lines and warnings go to
/// stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people: tables and lines.
    Text,
    /// One JSON document.
    Json,
}

/// `--topology` of `wirebench recommend`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum TopologyArg {
    /// Messages between peers, no central source of truth.
    P2p,
    /// A server holds the truth and relays.
    Server,
}

#[derive(Debug, Args)]
pub(crate) struct RecommendArgs {
    /// Where the messages flow: between peers (p2p) or through a server that holds the truth.
    #[arg(long, value_enum, default_value_t = TopologyArg::Server)]
    pub(crate) topology: TopologyArg,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    pub(crate) clients: u32,
    /// Messages per second per client.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) rate: f64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 256)]
    pub(crate) size: u64,
    /// Long quiet periods between messages (notifications).
    #[arg(long)]
    pub(crate) quiet_periods: bool,
    /// Messages may be lost (media, telemetry): unreliable transports qualify.
    #[arg(long)]
    pub(crate) loss_tolerant: bool,
    /// Network profile to judge on (default: every profile measured).
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// A results.json to read instead of running the scenarios.
    #[arg(long)]
    pub(crate) results: Option<PathBuf>,
    /// Where the scenario run goes when there is no --results (default:
    /// wirebench-out/recommend-<timestamp>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Link emulation for the scenario run (see `wirebench run --netem`).
    #[arg(long, value_enum, default_value_t = wirebench_netem::BackendKind::Auto)]
    pub(crate) netem: wirebench_netem::BackendKind,
    /// Output format of the ranking on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
}

/// Parses `wirebench run` arguments on their own (for `recommend`'s scenario run).
#[derive(Debug, Parser)]
#[command(name = "wirebench run")]
pub(crate) struct RunOnly {
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Scenario files or directories of them, or embedded scenarios by name: `default`, `faq`
    /// (every FAQ scenario), `faq/peer` (default: the embedded default suite).
    pub(crate) scenarios: Vec<PathBuf>,
    /// Only these transports (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub(crate) transport: Vec<String>,
    /// Only these profiles (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub(crate) profile: Vec<String>,
    /// Repeats of each cell (overrides the scenarios).
    #[arg(long)]
    pub(crate) repeat: Option<u32>,
    /// CI scale: apply each scenario's `[quick]` overrides (fewer clients, shorter runs, fewer
    /// profiles and repeats); without it scenarios run at their full scale.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Output directory (default: wirebench-out/<timestamp>). One that already holds a
    /// results.json is refused unless --force.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Overwrite the results of an earlier run in --out.
    #[arg(long)]
    pub(crate) force: bool,
    /// Profiles file (default: the embedded scenarios/profiles.toml).
    #[arg(long)]
    pub(crate) profiles: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS for the HTTP transports.
    #[arg(long)]
    pub(crate) plaintext: bool,
    /// Which client runs the workloads' client side: the Rust agent, headless Chromium (the
    /// page served at /client/, driven over DevTools; needs Debian's `chromium`), or both, side
    /// by side (overrides the scenarios' `client` key).
    #[arg(long, value_parser = ["rust", "browser", "both"])]
    pub(crate) client: Option<String>,
    /// No progress output (and, with the text format, no end-of-run table).
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// The end-of-run summary on stdout: text (the table, the verdicts, where the files are)
    /// or json (per cell key the table's medians, cells by outcome, verdicts, output paths;
    /// printed even with --quiet).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    /// Pin the server agent to CPU 0 and the client agent to CPU 1 (steadier latency figures).
    #[arg(long)]
    pub(crate) pin: bool,
    /// Keep CPUs out of idle states during the run (holds /dev/cpu_dma_latency at 0 µs, as
    /// tuned's latency-performance profile does; needs root). On a VM this removes the vCPU
    /// wake-up time from latency figures; recorded in each cell's params.
    #[arg(long)]
    pub(crate) no_idle: bool,
    /// Before the first cell, wait up to SECS for the machine to settle: timer wake-ups late by
    /// at most the harness-bound floor (100 µs at p99). Every run probes once (1 s) and says
    /// when the machine is busy; with 0 it does not wait. Recorded as host.settle.
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub(crate) settle: u64,
    /// Link emulation for shaped profiles: auto picks kernel netem, else the userspace
    /// emulator, else none (shaped cells are then skipped with the reason).
    #[arg(long, value_enum, default_value_t = wirebench_netem::BackendKind::Auto)]
    pub(crate) netem: wirebench_netem::BackendKind,
    /// A/B run: run every cell with BASELINE_BINARY's agents and this build's, interleaved,
    /// then compare (exit 2 on a regression, 4 when nothing could be judged). Results go to OUT/baseline and OUT/current.
    #[arg(long, value_name = "BASELINE_BINARY")]
    pub(crate) ab: Option<PathBuf>,
    /// Regression threshold for --ab, percent.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) threshold: f64,
    /// Also write these formats beside results.json (csv, github-action-benchmark, bencher, openmetrics).
    #[arg(long, value_delimiter = ',')]
    pub(crate) export: Vec<wirebench_reports::export::Format>,
    /// Delay every echo reply by N µs (for testing regression detection). With --ab it
    /// applies to the current build's server agents only, never the baseline's, so the A/B
    /// comparison sees an injected regression of N µs.
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) inject_delay_us: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to bind: HTTPS on TCP P, raw tcp on TCP P+1, HTTP/3 on UDP P. Port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:4433")]
    pub(crate) bind: SocketAddr,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    pub(crate) plaintext: bool,
    /// Offer HTTP/2 too (ALPN `h2`, then `http/1.1`; up to 100 concurrent streams per
    /// connection). TLS only. Without it the server speaks HTTP/1.1 only.
    #[arg(long, conflicts_with = "plaintext")]
    pub(crate) http2: bool,
    /// How long a long-poll waits before answering 204, seconds (1–3600).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) poll_timeout: u64,
    /// Seconds a TLS handshake, an HTTP/1.1 request head (or a keep-alive connection's idle
    /// wait for the next one) and a raw-TCP hello may each take before the connection is
    /// closed (1–3600).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) handshake_timeout: u64,
    /// Seconds a request body (or a raw-TCP frame still arriving) may make no progress before
    /// it is abandoned: 408, or the raw-TCP connection closed (1–3600).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) body_timeout: u64,
    /// MiB of request bodies (and raw-TCP frames beyond 1 MiB each) all clients may have in
    /// flight at once; beyond, 503 with Retry-After, or the raw-TCP connection closed (1–65536).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub(crate) body_budget_mib: u64,
    /// Seconds a WebRTC server peer may take to open its first data channel before it is
    /// closed (1–3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) rtc_connect_timeout: u64,
    /// Take commands on stdin and report on stdout (used by `wirebench run`).
    #[arg(long, hide = true)]
    pub(crate) control: bool,
    /// Write the certificate and its key as PEM (`cert.pem`, `key.pem`, mode 0600) into this
    /// directory, so a reverse proxy in front (nginx) can terminate TLS with them.
    #[arg(long, value_name = "DIR")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    /// Delay every echo reply by N µs (for testing regression detection).
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) inject_delay_us: u64,
}

#[derive(Debug, Args)]
pub(crate) struct DriveArgs {
    /// Server URL, e.g. https://127.0.0.1:4433.
    #[arg(long, required_unless_present = "control")]
    pub(crate) target: Option<String>,
    /// SHA-256 of the server certificate (hex), as `wirebench serve` prints and `/cert-hash` returns.
    #[arg(long)]
    pub(crate) cert_sha256: Option<String>,
    /// Transport id.
    #[arg(long, default_value = "websocket")]
    pub(crate) transport: String,
    /// Implementation, for transports with several (webrtc: str0m or webrtc-rs).
    #[arg(long = "impl")]
    pub(crate) implementation: Option<String>,
    /// Workload: echo or connect (push, download and upload need the orchestrator).
    #[arg(long, default_value = "echo")]
    pub(crate) workload: String,
    /// Messages per second per client.
    #[arg(long, default_value_t = 1000.0)]
    pub(crate) rate: f64,
    /// Message size in bytes, header included.
    #[arg(long, default_value_t = 64)]
    pub(crate) size: usize,
    /// Measured duration, ms.
    #[arg(long, default_value_t = 3000)]
    pub(crate) duration_ms: u64,
    /// Warm-up, ms.
    #[arg(long, default_value_t = 500)]
    pub(crate) warmup_ms: u64,
    /// Concurrent clients (with --shard: of the whole cell, all shards together).
    #[arg(long, default_value_t = 1)]
    pub(crate) clients: u32,
    /// First client id (with --shard: of the whole cell).
    #[arg(long, default_value_t = 1)]
    pub(crate) client_id: u32,
    /// Output format of what was measured, on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    /// Same as --format json (the older spelling).
    #[arg(long, hide = true)]
    pub(crate) json: bool,
    /// Run shard I of N of the clients (I from 0): a contiguous block of the --clients ids,
    /// each client on the schedule phase it has in one agent running them all. Needs --out;
    /// `wirebench merge` combines the shards' files (docs/distributed.md).
    #[arg(long, value_name = "I/N", requires = "out")]
    pub(crate) shard: Option<super::shard::ShardArg>,
    /// Write what was measured as a wirebench/1 results file of one cell (`-`: stdout)
    /// instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Scenario name the results cell records (--out).
    #[arg(long, default_value = "drive")]
    pub(crate) scenario: String,
    /// Profile name the results cell records (--out): a label for the network between the
    /// client and the server, which `drive` does not shape.
    #[arg(long, default_value = "external")]
    pub(crate) profile: String,
    /// Repeat index the results cell records (--out).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) repeat: u32,
    /// Once every client is connected, hold the schedules until this wall-clock time (Unix
    /// seconds, fractions allowed), so shards on several machines start together (as closely
    /// as their clocks agree).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub(crate) start_at: Option<f64>,
    /// Read a job on stdin and report on stdout (used by `wirebench run`).
    #[arg(long, hide = true)]
    pub(crate) control: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shards' results files (each from `wirebench drive --shard I/N --out FILE`).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// The merged results file (`-`: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A results.json.
    pub(crate) results: PathBuf,
    /// Output HTML file (default: report.html beside the results, summary.md beside it); `-`
    /// writes the HTML to stdout (and no summary.md).
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Also write these formats beside the report, or beside the results with `-o -` (csv,
    /// github-action-benchmark, bencher, openmetrics).
    #[arg(long, value_delimiter = ',')]
    pub(crate) export: Vec<wirebench_reports::export::Format>,
    /// What goes to stdout: text (the FAQ verdicts) or json (per cell key the medians, cells by
    /// outcome, verdicts, the files written).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline results.json.
    pub(crate) baseline: PathBuf,
    /// The current results.json.
    pub(crate) current: PathBuf,
    /// A change counts as a regression when its whole 95 % interval lies this many percent
    /// beyond no-change in the bad direction.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) threshold: f64,
    /// Only these metrics (p50, p99, goodput, msgs_per_s, setup_ms, server_cpu_s, rss_per_conn).
    #[arg(long, value_delimiter = ',')]
    pub(crate) metric: Vec<String>,
    /// Output format.
    #[arg(long, default_value = "md", value_parser = ["md", "json"])]
    pub(crate) format: String,
    /// Pair repeat i of both files (right only for the two halves of one `run --ab`, whose
    /// repeats ran interleaved): the machine's drift cancels within each pair.
    #[arg(long)]
    pub(crate) paired: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Profiles file (default: the embedded one).
    #[arg(long)]
    pub(crate) profiles: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
}
