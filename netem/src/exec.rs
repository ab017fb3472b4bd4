//! `netem exec`: runs a program in client 1's namespace behind a profile (and optionally a server
//! command in the server's), with `WIREBENCH_SERVER_ADDR`/`WIREBENCH_CLIENT_ADDR` set, then
//! tears down. What it has to say ([`ExecStart`], [`ExecSummary`]) goes to the caller's
//! [`CommandSink`]; nothing here prints.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::NetemError;
use crate::findings::{CommandSink, ExecStart, ExecSummary};
use crate::link::{BackendKind, HostId, Offload, TopologySpec};
use crate::netns::{install_signal_cleanup, signalled};
use crate::profile::Profile;
use crate::topology::Topology;

/// Runs `command` in client 1's namespace behind `profile` (with `server` first in the server's
/// namespace, stopped at the end) and tears down; returns the program's exit code (128 + signal
/// when it was killed, or when this process was signalled).
pub fn exec(
    profile: &Profile,
    netem: BackendKind,
    server: Option<&str>,
    no_offload: bool,
    command: &[String],
    out: &mut dyn CommandSink,
) -> Result<i32, NetemError> {
    install_signal_cleanup()?;
    let mut spec = TopologySpec::star(profile, 1);
    if no_offload {
        spec.offload = Offload::Off;
    }
    let topo = Topology::up(netem, &spec)?;
    let started = Instant::now();
    let cpu0 = self_cpu_s();
    let start = ExecStart {
        choice: topo.choice().clone(),
        server: topo.server().clone(),
        client: topo.host(HostId::client(1))?.clone(),
    };
    out.exec_started(&start);
    let server_addr = start.server.addr.to_string();
    let client_addr = start.client.addr.to_string();
    let envs = [
        ("WIREBENCH_SERVER_ADDR", server_addr.as_str()),
        ("WIREBENCH_CLIENT_ADDR", client_addr.as_str()),
    ];
    let server_child = match server {
        Some(s) => Some(start_server(&topo, s, &envs)?),
        None => None,
    };
    let (prog, args) = command
        .split_first()
        .ok_or_else(|| NetemError::Invalid("exec: no command given".into()))?;
    let status = topo
        .command(HostId::client(1), prog)?
        .args(args)
        .envs(envs)
        .status()
        .map_err(|e| NetemError::io(format!("running {prog:?}"), e));
    if let Some(c) = server_child {
        stop_server(c);
    }
    let counters = topo.counters(HostId::client(1)).ok();
    out.exec_finished(&ExecSummary {
        counters,
        cpu_s: self_cpu_s() - cpu0,
        wall_s: started.elapsed().as_secs_f64(),
    });
    if let Some(sig) = signalled() {
        // The signal thread is tearing down and will end the process; don't race it.
        std::thread::sleep(Duration::from_secs(5));
        return Ok(128 + sig);
    }
    topo.teardown()?;
    Ok(exit_code(status?))
}

/// Starts `sh -c <command>` in the server namespace and gives it 300 ms to get ready.
fn start_server(
    topo: &Topology,
    command: &str,
    envs: &[(&str, &str)],
) -> Result<Child, NetemError> {
    let child = topo
        .command(HostId::SERVER, "sh")?
        .args(["-c", command])
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| NetemError::io(format!("starting server command {command:?}"), e))?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

/// SIGTERM, up to 2 s to exit, then SIGKILL; reaps the child.
fn stop_server(mut c: Child) {
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

/// A shell-style exit code: the program's, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(1))
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
