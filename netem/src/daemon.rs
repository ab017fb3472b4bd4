//! The network's own daemons (nginx in front of the server, [`crate::proxy`]; coturn for
//! WebRTC, [`crate::turn`]): a process started on a host of the topology in a process group of
//! its own, waited for until a probe says it serves, and stopped with its whole group when the
//! cell ends, fails or is dropped (the runner drops a cell's future on Ctrl-C, so stopping in
//! `Drop` covers that too).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{IoContext as _, NetemError};
use crate::link::HostId;
use crate::topology::Topology;

/// How long a daemon may take to stop after SIGTERM before its process group is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Where program `name` is installed, if it is: `$PATH`, then the system directories a
/// non-root `$PATH` may lack (Debian puts daemons such as nginx in `/usr/sbin`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/sbin",
                "/usr/local/sbin",
                "/sbin",
                "/usr/bin",
                "/usr/local/bin",
            ]
            .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A running daemon. Dropping it stops it.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
}

/// A command for `exe` on `host` of `topo` (on this host's network when there is none).
pub fn command(topo: Option<&Topology>, host: HostId, exe: &Path) -> Result<Command, NetemError> {
    Ok(match topo {
        Some(t) => t.command(host, exe)?,
        None => Command::new(exe),
    })
}

/// Runs `f` on `host` of `topo` (its sockets live in that host's namespace), or here when
/// there is no topology: the daemons' probes and port picks.
pub fn run_on<T: Send>(
    topo: Option<&Topology>,
    host: HostId,
    f: impl FnOnce() -> T + Send,
) -> Result<T, NetemError> {
    match topo {
        Some(t) => t.run_in(host, f),
        None => Ok(f()),
    }
}

impl Daemon {
    /// Spawns `cmd` in the foreground in its own process group, stdin and stdout closed, its
    /// stderr into `stderr_log`; it gets SIGTERM if wirebench dies.
    pub fn spawn(mut cmd: Command, stderr_log: &Path) -> Result<Self, NetemError> {
        let log = std::fs::File::create(stderr_log)
            .ctx(|| format!("creating {}", stderr_log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGTERM as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .ctx(|| format!("starting {:?}", cmd.get_program()))?;
        Ok(Self { child: Some(child) })
    }

    /// The daemon's pid (its process group's id), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How it ended, if it has (then it is forgotten).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }

    /// Waits until `ready` says the daemon serves, polling every 10 ms for at most `timeout`;
    /// an error naming `name` if it ends first or does not get ready in time, with `log_tail`
    /// (what it said) in the message.
    pub async fn wait_ready(
        &mut self,
        name: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
        what: &str,
        log_tail: impl Fn() -> String,
    ) -> Result<(), NetemError> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                let reason = format!("exited ({status}): {}", log_tail());
                return Err(NetemError::daemon(name, reason));
            }
            if ready() {
                return Ok(());
            }
            if t0.elapsed() > timeout {
                let reason = format!("not {what} after {} s: {}", timeout.as_secs(), log_tail());
                return Err(NetemError::daemon(name, reason));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the daemon: SIGTERM to its process group, then SIGKILL if it has not ended
    /// within [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals that process group, which the daemon
        // leads (it was started with process_group(0)) and which only it and its children are
        // in.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < STOP_TIMEOUT {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: as above; SIGKILL whatever of the group is left (nothing, normally).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of the files `names` in `dir`, in that order, joined with ` | `.
pub fn log_tail(dir: &Path, names: &[&str], lines: usize) -> String {
    let log: String = names
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .collect();
    let tail: Vec<&str> = log.lines().rev().take(lines).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if tail.is_empty() {
        "nothing in its log".into()
    } else {
        tail.join(" | ")
    }
}
