//! `wirebench netem …`: the command family as a library, mounted by the `wirebench` binary.
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum Cmd {
//!     /// Link emulation tools.
//!     #[command(subcommand)]
//!     Netem(wirebench_netem::cli::NetemCommand),
//! }
//! // ...
//! Cmd::Netem(c) => std::process::exit(wirebench_netem::cli::run(c, &profiles)?),
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::choose_backend;
use crate::error::NetemError;
use crate::link::{BackendKind, HostId, Offload, TopologySpec, PREFIX};
use crate::netns::{cleanup, install_signal_cleanup, signalled};
use crate::profile::{Direction, LinkParams, Profile, ProfileSet};
use crate::topology::Topology;

/// Profile overrides on the command line (applied on top of `--profile`, both directions).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// One-way delay, ms (overrides the profile's).
    #[arg(long)]
    pub delay_ms: Option<f64>,
    /// Jitter, ms.
    #[arg(long)]
    pub jitter_ms: Option<f64>,
    /// Random loss probability (0..1).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Rate, Mbit/s.
    #[arg(long)]
    pub rate_mbit: Option<f64>,
}

impl Overrides {
    fn is_empty(&self) -> bool {
        self.delay_ms.is_none()
            && self.jitter_ms.is_none()
            && self.loss.is_none()
            && self.rate_mbit.is_none()
    }

    /// The profile with these overrides applied (to the base keys and both directions).
    pub fn apply(&self, p: &Profile) -> Result<Profile, NetemError> {
        let mut p = p.clone();
        let check = |flag: &str, v: f64, max: f64| {
            if v.is_finite() && v >= 0.0 && v <= max {
                Ok(v)
            } else {
                Err(NetemError::Invalid(format!("--{flag} {v}: out of range")))
            }
        };
        if let Some(v) = self.delay_ms {
            p.delay_ms = check("delay-ms", v, 1e6)?;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.delay_ms = None;
            }
        }
        if let Some(v) = self.jitter_ms {
            p.jitter_ms = check("jitter-ms", v, 1e6)?;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.jitter_ms = None;
            }
        }
        if let Some(v) = self.loss {
            p.loss = check("loss", v, 1.0)?;
            p.gilbert_elliott = None;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.loss = None;
                o.gilbert_elliott = None;
            }
        }
        if let Some(v) = self.rate_mbit {
            if !(v.is_finite() && v > 0.0) {
                return Err(NetemError::Invalid(format!(
                    "--rate-mbit {v}: must be above zero"
                )));
            }
            p.rate_mbit = Some(v);
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.rate_mbit = None;
            }
        }
        if !self.is_empty() {
            p.description = format!("{} (with command-line overrides)", p.description);
        }
        Ok(p)
    }
}

/// `wirebench netem …` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NetemCommand {
    /// Measure what each profile really gives (RTT, loss, TCP and UDP goodput) and print
    /// configured vs measured with pass/fail. Exit code 1 when a check fails.
    Check {
        /// Profiles to check (comma-separated or repeated); default: all.
        #[arg(long, value_delimiter = ',')]
        profile: Vec<String>,
        /// Backend.
        #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
        netem: BackendKind,
        /// Seconds per goodput measurement (longer on long-RTT profiles).
        #[arg(long, default_value_t = 4.0)]
        seconds: f64,
        /// Number of RTT probes.
        #[arg(long, default_value_t = 200)]
        probes: u32,
        /// Skip the goodput (TCP/UDP) measurements.
        #[arg(long)]
        no_goodput: bool,
        /// Seed of the emulator's random choices (loss, jitter); vary it for independent samples.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Profile overrides.
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Run a program in the client namespace behind a profile (and optionally one in the server
    /// namespace), with WIREBENCH_SERVER_ADDR set; tear down when it exits.
    Exec {
        /// Profile of the client's link.
        #[arg(long, default_value = "loopback")]
        profile: String,
        /// Backend.
        #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
        netem: BackendKind,
        /// Shell command to run in the server namespace first (killed at the end).
        #[arg(long)]
        server: Option<String>,
        /// Disable TUN offloads even on unshaped links (userspace backend).
        #[arg(long)]
        no_offload: bool,
        /// Profile overrides.
        #[command(flatten)]
        overrides: Overrides,
        /// The program and its arguments.
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Remove namespaces (and the processes in them) left behind by killed runs.
    Cleanup {
        /// Name prefix of what to remove (must start with `wb-`).
        #[arg(long, default_value = PREFIX)]
        prefix: String,
    },
}

impl NetemCommand {
    /// Whether the subcommand builds namespaces and links (so an unprivileged caller should
    /// enter rootless mode first, see [`crate::rootless`]).
    pub fn needs_links(&self) -> bool {
        match self {
            Self::Check { netem, .. } | Self::Exec { netem, .. } => *netem != BackendKind::None,
            Self::Cleanup { .. } => false,
        }
    }
}

/// Runs a subcommand; returns the process exit code.
pub fn run(cmd: NetemCommand, profiles: &ProfileSet) -> Result<i32, NetemError> {
    match cmd {
        NetemCommand::Cleanup { prefix } => {
            let removed = cleanup(&prefix)?;
            if removed.is_empty() {
                println!("nothing to clean (prefix {prefix})");
            }
            for n in removed {
                println!("removed namespace {n}");
            }
            Ok(0)
        }
        NetemCommand::Exec {
            profile,
            netem,
            server,
            no_offload,
            overrides,
            command,
        } => {
            let p = overrides.apply(profiles.get(&profile)?)?;
            exec(&p, netem, server.as_deref(), no_offload, &command)
        }
        NetemCommand::Check {
            profile,
            netem,
            seconds,
            probes,
            no_goodput,
            seed,
            overrides,
        } => {
            let names: Vec<String> = if profile.is_empty() {
                profiles.profiles.keys().cloned().collect()
            } else {
                profile
            };
            install_signal_cleanup()?;
            let opts = CheckOptions {
                seconds: seconds.clamp(0.5, 120.0),
                probes: probes.clamp(10, 100_000),
                goodput: !no_goodput,
                seed,
            };
            let mut failed = 0;
            let baseline = baseline_rtt(netem, &opts)?;
            println!(
                "baseline: unshaped RTT through the same backend, mean {:.3} ms (median {:.3}); \
                 `added` = mean - baseline is what the emulator adds",
                baseline.0, baseline.1
            );
            for name in names {
                let p = overrides.apply(profiles.get(&name)?)?;
                match check_profile(&name, &p, netem, &opts, baseline.0) {
                    Ok(report) => {
                        print!("{report}");
                        failed += report.failures();
                    }
                    Err(e @ (NetemError::Unsupported { .. } | NetemError::Unavailable { .. })) => {
                        println!("profile {name} — skipped: {e}");
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
    }
}

fn exec(
    profile: &Profile,
    netem: BackendKind,
    server: Option<&str>,
    no_offload: bool,
    command: &[String],
) -> Result<i32, NetemError> {
    install_signal_cleanup()?;
    let mut spec = TopologySpec::star(profile, 1);
    if no_offload {
        spec.offload = Offload::Off;
    }
    let topo = Topology::up(netem, &spec)?;
    let started = Instant::now();
    let cpu0 = self_cpu_s();
    eprintln!(
        "wirebench netem: {}; server {} ({}), client {} ({})",
        topo.choice(),
        topo.server().addr,
        topo.server().netns.as_deref().unwrap_or("-"),
        topo.host(HostId::client(1))?.addr,
        topo.host(HostId::client(1))?
            .netns
            .as_deref()
            .unwrap_or("-"),
    );
    let server_addr = topo.server().addr.to_string();
    let client_addr = topo.host(HostId::client(1))?.addr.to_string();
    let mut server_child: Option<Child> = None;
    if let Some(s) = server {
        let child = topo
            .command(HostId::SERVER, "sh")?
            .args(["-c", s])
            .env("WIREBENCH_SERVER_ADDR", &server_addr)
            .env("WIREBENCH_CLIENT_ADDR", &client_addr)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| NetemError::io(format!("starting server command {s:?}"), e))?;
        server_child = Some(child);
        std::thread::sleep(Duration::from_millis(300));
    }
    let (prog, args) = command
        .split_first()
        .ok_or_else(|| NetemError::Invalid("exec: no command given".into()))?;
    let status = topo
        .command(HostId::client(1), prog)?
        .args(args)
        .env("WIREBENCH_SERVER_ADDR", &server_addr)
        .env("WIREBENCH_CLIENT_ADDR", &client_addr)
        .status()
        .map_err(|e| NetemError::io(format!("running {prog:?}"), e));
    if let Some(mut c) = server_child {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
    if let Ok(c) = topo.counters(HostId::client(1)) {
        for (dir, d) in [("up", &c.up), ("down", &c.down)] {
            eprintln!(
                "wirebench netem: client link {dir}: release lateness mean {:.1} µs, max {:.1} µs",
                d.lateness_ns_sum as f64 / d.packets_out.max(1) as f64 / 1e3,
                d.lateness_ns_max as f64 / 1e3
            );
        }
        eprintln!(
            "wirebench netem: client link up {} pkts/{} B in, {} out, {} lost, {} queue drops; down {} pkts/{} B in, {} out, {} lost, {} queue drops",
            c.up.packets_in, c.up.bytes_in, c.up.packets_out, c.up.lost, c.up.queue_drops,
            c.down.packets_in, c.down.bytes_in, c.down.packets_out, c.down.lost, c.down.queue_drops
        );
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = self_cpu_s() - cpu0;
    eprintln!(
        "wirebench netem: emulator CPU {cpu:.2} s over {wall:.2} s = {:.0}% of a core",
        100.0 * cpu / wall.max(1e-9)
    );
    if let Some(sig) = signalled() {
        // The signal thread is tearing down and will end the process; don't race it.
        std::thread::sleep(Duration::from_secs(5));
        return Ok(128 + sig);
    }
    topo.teardown()?;
    let status = status?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(1)))
}

/// CPU time (user + system) of this process, its children excluded: the emulator's cost.
fn self_cpu_s() -> f64 {
    // SAFETY: getrusage writes into a zeroed, live rusage struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

// ---- check ----

struct CheckOptions {
    seconds: f64,
    probes: u32,
    goodput: bool,
    seed: u64,
}

/// One line of a check report.
#[derive(Debug, Clone)]
pub struct CheckLine {
    /// What is measured.
    pub metric: String,
    /// Configured / expected value, as text.
    pub configured: String,
    /// Measured value, as text.
    pub measured: String,
    /// Some(true) pass, Some(false) fail, None informational.
    pub pass: Option<bool>,
}

/// The result of checking one profile.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Profile name.
    pub profile: String,
    /// Backend and why.
    pub backend: String,
    /// Lines.
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    /// Number of failed lines.
    pub fn failures(&self) -> usize {
        self.lines.iter().filter(|l| l.pass == Some(false)).count()
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "profile {} — {}", self.profile, self.backend)?;
        writeln!(
            f,
            "  {:<26} {:>22} {:>30}  result",
            "metric", "configured", "measured"
        )?;
        for l in &self.lines {
            let r = match l.pass {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "-",
            };
            writeln!(
                f,
                "  {:<26} {:>22} {:>30}  {r}",
                l.metric, l.configured, l.measured
            )?;
        }
        Ok(())
    }
}

fn serialization_ms(p: &LinkParams, bytes: usize) -> f64 {
    p.rate_mbit
        .map_or(0.0, |r| bytes as f64 * 8.0 / (r * 1e6) * 1000.0)
}

/// 95 % binomial interval (normal approximation, widened by `vif`) around `p` for `n` trials.
fn binomial_ci(p: f64, n: u64, vif: f64) -> (f64, f64) {
    let n = n.max(1) as f64;
    let half = 1.96 * (p * (1.0 - p) / n * vif).sqrt() + 0.5 / n;
    ((p - half).max(0.0), (p + half).min(1.0))
}

fn vif(p: &LinkParams) -> f64 {
    match p.gilbert_elliott {
        Some(ge) => {
            let rho = (1.0 - ge.p - ge.r).clamp(0.0, 0.99);
            (1.0 + rho) / (1.0 - rho)
        }
        None => 1.0,
    }
}

/// Mean and median RTT of an unshaped topology on the same backend (the path's own latency).
fn baseline_rtt(netem: BackendKind, opts: &CheckOptions) -> Result<(f64, f64), NetemError> {
    let choice = choose_backend(netem, true).or_else(|_| choose_backend(netem, false))?;
    let topo = Topology::up_with(choice, &TopologySpec::star(&Profile::default(), 1))?;
    let ip = topo.server().addr;
    let mut r = measure_rtt(&topo, ip, opts.probes)?.rtts;
    topo.teardown()?;
    if r.is_empty() {
        return Ok((0.0, 0.0));
    }
    r.sort_by(f64::total_cmp);
    Ok((r.iter().sum::<f64>() / r.len() as f64, r[r.len() / 2]))
}

fn check_profile(
    name: &str,
    profile: &Profile,
    netem: BackendKind,
    opts: &CheckOptions,
    baseline_ms: f64,
) -> Result<CheckReport, NetemError> {
    let mut spec = TopologySpec::star(profile, 1);
    spec.seed = opts.seed;
    let choice = choose_backend(netem, !profile.is_unshaped())?;
    let topo = Topology::up_with(choice, &spec)?;
    let mut lines = Vec::new();
    let up = profile.direction(Direction::Up);
    let down = profile.direction(Direction::Down);
    let server_ip = topo.server().addr;

    // Delay: UDP probes of 64 payload bytes (92-byte IP packets), client -> server -> client.
    let probe_ip_len = 64 + 28;
    let expected = up.delay_ms
        + down.delay_ms
        + serialization_ms(&up, probe_ip_len)
        + serialization_ms(&down, probe_ip_len);
    let rtt = measure_rtt(&topo, server_ip, opts.probes)?;
    let tol = 0.3 + 0.25 * (up.jitter_ms + down.jitter_ms);
    if rtt.rtts.is_empty() {
        lines.push(CheckLine {
            metric: "rtt mean ms".into(),
            configured: format!("{expected:.2}"),
            measured: "no reply".into(),
            pass: Some(false),
        });
    } else {
        let mut v = rtt.rtts.clone();
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let p99 = v[((v.len() as f64 * 0.99) as usize).min(v.len() - 1)];
        let median = v[v.len() / 2];
        let added = mean - baseline_ms;
        lines.push(CheckLine {
            metric: "rtt mean ms".into(),
            configured: format!("{expected:.2}"),
            measured: format!("{mean:.3} (median {median:.3})"),
            pass: None,
        });
        lines.push(CheckLine {
            metric: "rtt added (mean-baseline)".into(),
            configured: format!("{expected:.2} ±{tol:.2}"),
            measured: format!("{added:.3} (err {:+.3})", added - expected),
            pass: Some((added - expected).abs() <= tol),
        });
        lines.push(CheckLine {
            metric: "rtt min / p99 ms".into(),
            configured: format!(
                "≥{:.2}",
                (expected - up.jitter_ms - down.jitter_ms).max(0.0)
            ),
            measured: format!("{:.3} / {:.3}", v[0], p99),
            pass: Some(v[0] >= expected - up.jitter_ms - down.jitter_ms - 0.05),
        });
    }
    let rt_loss = 1.0 - (1.0 - up.mean_loss()) * (1.0 - down.mean_loss());
    let (lo, hi) = binomial_ci(rt_loss, rtt.sent, vif(&up).max(vif(&down)));
    let measured = 1.0 - rtt.rtts.len() as f64 / rtt.sent.max(1) as f64;
    lines.push(CheckLine {
        metric: "loss round trip (probes)".into(),
        configured: format!("{:.2}%", rt_loss * 100.0),
        measured: format!(
            "{:.2}% of {} [{:.2}..{:.2}]",
            measured * 100.0,
            rtt.sent,
            lo * 100.0,
            hi * 100.0
        ),
        pass: Some(measured >= lo && measured <= hi),
    });

    // One-way loss, each direction: small UDP packets well below the rate.
    for (dir, params, from, to) in [
        (Direction::Down, down, HostId::SERVER, HostId::client(1)),
        (Direction::Up, up, HostId::client(1), HostId::SERVER),
    ] {
        let size = 100usize;
        let pps = params.rate_mbit.map_or(2000.0, |r| {
            (0.4 * r * 1e6 / ((size + 28) as f64 * 8.0)).min(2000.0)
        });
        // At least 2000 packets (up to ~7 s on the slowest links) for a usable interval.
        let n = ((pps * opts.seconds.min(3.0)) as u64).clamp(2000, 6000);
        let before = link_drops(&topo, dir);
        let got = udp_stream(&topo, from, to, size, pps, n, 1)?;
        let after = link_drops(&topo, dir);
        let loss = 1.0 - got.packets as f64 / n as f64;
        let (lo, hi) = binomial_ci(params.mean_loss(), n, vif(&params));
        lines.push(CheckLine {
            metric: format!("loss {dir} (one-way)"),
            configured: format!("{:.2}%", params.mean_loss() * 100.0),
            measured: format!(
                "{:.2}% of {n} [{:.2}..{:.2}]",
                loss * 100.0,
                lo * 100.0,
                hi * 100.0
            ),
            pass: Some(loss >= lo && loss <= hi),
        });
        if let (Some(b), Some(a)) = (before, after) {
            lines.push(CheckLine {
                metric: format!("  emulator drops {dir}"),
                configured: String::new(),
                measured: format!(
                    "loss model {}, queue {}",
                    a.0.saturating_sub(b.0),
                    a.1.saturating_sub(b.1)
                ),
                pass: None,
            });
        }
    }

    if opts.goodput {
        // TCP down: long enough to leave slow start on long-RTT links.
        let rtt_s = expected / 1000.0;
        let secs = opts.seconds.max(20.0 * rtt_s).min(30.0);
        let tcp = tcp_goodput(&topo, HostId::SERVER, HostId::client(1), secs)?;
        let mss_eff = 1448.0 / 1500.0;
        match down.rate_mbit {
            Some(r) => {
                let expect = r * mss_eff;
                let err = (tcp - expect) / expect;
                let judged = down.mean_loss() == 0.0 && up.mean_loss() == 0.0;
                lines.push(CheckLine {
                    metric: "tcp goodput down Mbit/s".into(),
                    configured: format!("{expect:.3} ±3%"),
                    measured: format!("{tcp:.3} ({:+.1}%)", err * 100.0),
                    // With loss, TCP is loss-limited: informational only.
                    pass: judged.then_some(err.abs() <= 0.03),
                });
            }
            None => lines.push(CheckLine {
                metric: "tcp goodput down Mbit/s".into(),
                configured: "unlimited".into(),
                measured: format!("{tcp:.1}"),
                pass: None,
            }),
        }
        if let Some(r) = down.rate_mbit {
            // UDP down: paced at 110 % of the rate; goodput = what the bottleneck lets through.
            let size = 1200usize;
            let pps = 1.1 * r * 1e6 / ((size + 28) as f64 * 8.0);
            let secs = opts.seconds.min(5.0);
            let n = (pps * secs) as u64;
            let got = udp_stream(&topo, HostId::SERVER, HostId::client(1), size, pps, n, 8)?;
            let expect = r * size as f64 / (size + 28) as f64 * (1.0 - down.mean_loss());
            let err = (got.goodput_mbit - expect) / expect;
            lines.push(CheckLine {
                metric: "udp goodput down Mbit/s".into(),
                configured: format!("{expect:.3} ±3%"),
                measured: format!("{:.3} ({:+.1}%)", got.goodput_mbit, err * 100.0),
                pass: Some(err.abs() <= 0.03),
            });
        }
    }

    let backend = topo.choice().to_string();
    topo.teardown()?;
    Ok(CheckReport {
        profile: name.to_string(),
        backend,
        lines,
    })
}

/// (lost by the loss model, queue drops) on client 1's link in one direction, when the backend
/// counts them.
fn link_drops(topo: &Topology, dir: Direction) -> Option<(u64, u64)> {
    let c = topo.counters(HostId::client(1)).ok()?;
    let d = match dir {
        Direction::Up => c.up,
        Direction::Down => c.down,
    };
    Some((d.lost, d.queue_drops))
}

struct RttResult {
    sent: u64,
    rtts: Vec<f64>,
}

/// A UDP echo responder in the server namespace until `stop`.
fn echo_server(
    topo: &Topology,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, NetemError> {
    let sock = topo
        .run_in(HostId::SERVER, move || UdpSocket::bind(addr))?
        .map_err(|e| NetemError::io(format!("binding UDP {addr} in the server namespace"), e))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    Ok(std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(&buf[..n], from);
            }
        }
    }))
}

fn measure_rtt(
    topo: &Topology,
    server_ip: std::net::IpAddr,
    probes: u32,
) -> Result<RttResult, NetemError> {
    let addr = SocketAddr::new(server_ip, 9001);
    let stop = Arc::new(AtomicBool::new(false));
    let echo = echo_server(topo, addr, Arc::clone(&stop))?;
    let sock = topo
        .run_in(HostId::client(1), || UdpSocket::bind("0.0.0.0:0"))?
        .map_err(|e| NetemError::io("binding UDP in the client namespace", e))?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    let epoch = Instant::now();
    let recv_sock = sock
        .try_clone()
        .map_err(|e| NetemError::io("cloning a socket", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = Arc::clone(&done);
    let receiver = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut rtts = Vec::new();
        let mut buf = [0u8; 128];
        while !done2.load(Ordering::Relaxed) {
            if let Ok(n) = recv_sock.recv(&mut buf) {
                let now = epoch.elapsed().as_nanos() as u64;
                if n == 64 {
                    let sent = u64::from_le_bytes(buf[8..16].try_into().unwrap_or([0; 8]));
                    rtts.push(now.saturating_sub(sent) as f64 / 1e6);
                }
            }
        }
        rtts
    });
    let sender = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut payload = [0u8; 64];
        let gap = Duration::from_millis(10);
        for i in 0..probes as u64 {
            let target = gap * i as u32;
            let el = epoch.elapsed();
            if target > el {
                std::thread::sleep(target - el);
            }
            payload[..8].copy_from_slice(&i.to_le_bytes());
            payload[8..16].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
            let _ = sock.send_to(&payload, addr);
        }
    });
    let _ = sender.join();
    // Wait for stragglers: up to 3 s (satellite RTT is 0.6 s).
    std::thread::sleep(Duration::from_millis(1500));
    done.store(true, Ordering::Relaxed);
    let rtts = receiver.join().unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    Ok(RttResult {
        sent: probes as u64,
        rtts,
    })
}

struct StreamResult {
    packets: u64,
    goodput_mbit: f64,
}

/// Sends `n` UDP datagrams of `size` payload bytes from one host to another at `pps` (in bursts
/// of `burst`); counts what arrives and the receive-side goodput.
fn udp_stream(
    topo: &Topology,
    from: HostId,
    to: HostId,
    size: usize,
    pps: f64,
    n: u64,
    burst: u64,
) -> Result<StreamResult, NetemError> {
    let to_addr = SocketAddr::new(topo.host(to)?.addr, 9002);
    let rx = topo
        .run_in(to, move || UdpSocket::bind(to_addr))?
        .map_err(|e| NetemError::io(format!("binding UDP {to_addr}"), e))?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| NetemError::io("set_read_timeout", e))?;
    let tx = topo
        .run_in(from, || UdpSocket::bind("0.0.0.0:0"))?
        .map_err(|e| NetemError::io("binding UDP sender", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = Arc::clone(&done);
    set_rcvbuf(&rx, 8 << 20);
    let received = Arc::new(AtomicU64::new(0));
    let received2 = Arc::clone(&received);
    let receiver = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let mut buf = vec![0u8; 65536];
        let mut count = 0u64;
        let mut bytes = 0u64;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        while !done2.load(Ordering::Relaxed) {
            if let Ok(len) = rx.recv(&mut buf) {
                let now = Instant::now();
                if first.is_none() {
                    first = Some(now);
                } else {
                    bytes += len as u64;
                }
                count += 1;
                received2.store(count, Ordering::Relaxed);
                last = now;
            }
        }
        let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
        (
            count,
            if secs > 0.0 {
                bytes as f64 * 8.0 / secs / 1e6
            } else {
                0.0
            },
        )
    });
    let sender = std::thread::spawn(move || {
        crate::sys::set_realtime();
        let payload = vec![0u8; size];
        let mut start = Instant::now();
        let burst = burst.max(1);
        let mut sent = 0u64;
        while sent < n {
            let target = Duration::from_secs_f64(sent as f64 / pps);
            let el = start.elapsed();
            if target > el {
                std::thread::sleep(target - el);
            } else if el - target > Duration::from_millis(5) {
                // Stalled (busy machine): drop the schedule debt instead of bursting it into the
                // bottleneck queue, which would turn into queue drops counted as loss.
                start = Instant::now() - target;
            }
            for _ in 0..burst.min(n - sent) {
                let _ = tx.send_to(&payload, to_addr);
                sent += 1;
            }
        }
    });
    let _ = sender.join();
    // Drain: until everything arrived, or 3 s (delay line + a full 3G queue, with room for a
    // stalled machine).
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && received.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    done.store(true, Ordering::Relaxed);
    let (packets, goodput_mbit) = receiver.join().unwrap_or((0, 0.0));
    Ok(StreamResult {
        packets,
        goodput_mbit,
    })
}

/// Best effort: a larger socket receive buffer (SO_RCVBUFFORCE, we are root; else SO_RCVBUF).
fn set_rcvbuf(sock: &UdpSocket, bytes: i32) {
    use std::os::fd::AsRawFd;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt with a live i32 and its size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// Bulk TCP from one host to another for `secs`; goodput over the second half, Mbit/s.
fn tcp_goodput(topo: &Topology, from: HostId, to: HostId, secs: f64) -> Result<f64, NetemError> {
    let to_addr = SocketAddr::new(topo.host(to)?.addr, 9003);
    let listener = topo
        .run_in(to, move || TcpListener::bind(to_addr))?
        .map_err(|e| NetemError::io(format!("listening on {to_addr}"), e))?;
    let total = Duration::from_secs_f64(secs);
    let received = Arc::new(AtomicU64::new(0));
    let rx_count = Arc::clone(&received);
    let receiver = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            rx_count.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let stream = topo
        .run_in(from, move || {
            TcpStream::connect_timeout(&to_addr, Duration::from_secs(10))
        })?
        .map_err(|e| NetemError::io(format!("connecting to {to_addr}"), e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let sender = std::thread::spawn(move || {
        let mut s = stream;
        let buf = vec![0u8; 128 * 1024];
        while !stop2.load(Ordering::Relaxed) {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let start = Instant::now();
    std::thread::sleep(total / 2);
    let b0 = received.load(Ordering::Relaxed);
    let t0 = start.elapsed();
    std::thread::sleep(total / 2);
    let b1 = received.load(Ordering::Relaxed);
    let t1 = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    let _ = receiver.join();
    Ok((b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Top,
    }
    #[derive(Subcommand)]
    enum Top {
        #[command(subcommand)]
        Netem(NetemCommand),
    }

    #[test]
    fn parses_the_documented_command_lines() {
        let cli = Cli::try_parse_from([
            "wirebench",
            "netem",
            "exec",
            "--profile",
            "3g",
            "--server",
            "iperf3 -s",
            "--",
            "iperf3",
            "-c",
            "x",
        ])
        .unwrap();
        let Top::Netem(NetemCommand::Exec {
            profile,
            server,
            command,
            ..
        }) = cli.cmd
        else {
            panic!("not exec");
        };
        assert_eq!(profile, "3g");
        assert_eq!(server.as_deref(), Some("iperf3 -s"));
        assert_eq!(command, ["iperf3", "-c", "x"]);
        let cli = Cli::try_parse_from([
            "wirebench",
            "netem",
            "check",
            "--profile",
            "lan,3g",
            "--netem",
            "userspace",
        ])
        .unwrap();
        let Top::Netem(NetemCommand::Check { profile, netem, .. }) = cli.cmd else {
            panic!("not check");
        };
        assert_eq!(profile, ["lan", "3g"]);
        assert_eq!(netem, BackendKind::Userspace);
        assert!(Cli::try_parse_from(["wirebench", "netem", "cleanup"]).is_ok());
    }

    #[test]
    fn overrides_replace_direction_values() {
        let set = ProfileSet::builtin();
        let p = Overrides {
            delay_ms: Some(25.0),
            rate_mbit: Some(10.0),
            ..Overrides::default()
        }
        .apply(set.get("broadband").unwrap())
        .unwrap();
        assert_eq!(p.rtt_ms(), Some(50.0));
        assert_eq!(p.direction(Direction::Down).rate_mbit, Some(10.0));
        assert_eq!(p.direction(Direction::Up).rate_mbit, Some(10.0));
        assert!(Overrides {
            loss: Some(2.0),
            ..Overrides::default()
        }
        .apply(&Profile::default())
        .is_err());
    }

    #[test]
    fn binomial_interval_contains_p() {
        let (lo, hi) = binomial_ci(0.01, 1000, 1.0);
        assert!(lo < 0.01 && hi > 0.01 && hi < 0.02);
        assert_eq!(binomial_ci(0.0, 1000, 1.0).0, 0.0);
    }
}
