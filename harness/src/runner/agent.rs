//! A child agent (`wirebench serve --control` or `wirebench drive --control`) with its control
//! pipes: JSON lines to its stdin, events from its stdout, its stderr's tail kept for errors.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A child agent with its control pipes. Dropping it kills the process.
pub(crate) struct AgentProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    name: &'static str,
    stderr: tokio::task::JoinHandle<String>,
}

impl AgentProcess {
    pub(crate) fn spawn(
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

    /// The agent's pid, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(crate) async fn send<T: serde::Serialize>(&mut self, msg: &T) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(msg)?;
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("{} agent's stdin is closed", self.name))?;
        let written = match stdin.write_all(line.as_bytes()).await {
            Ok(()) => stdin.flush().await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => Ok(()),
            // A dead agent: say how it ended and what it said, not only "Broken pipe".
            Err(e) => {
                Err(self.exited().await).context(format!("writing to the {} agent: {e}", self.name))
            }
        }
    }

    /// How the agent ended (waiting at most 2 s for it), with the tail of its stderr.
    async fn exited(&mut self) -> anyhow::Error {
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        let stderr = std::mem::replace(&mut self.stderr, tokio::spawn(async { String::new() }));
        let tail = tokio::time::timeout(Duration::from_secs(2), stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        anyhow!(
            "{} agent exited ({}){}{}",
            self.name,
            status.map_or("still running or unknown status".into(), |s| s.to_string()),
            if tail.trim().is_empty() { "" } else { ": " },
            tail.trim()
        )
    }

    pub(crate) async fn recv<T: serde::de::DeserializeOwned>(&mut self) -> anyhow::Result<T> {
        match self.lines.next_line().await? {
            Some(l) => serde_json::from_str(&l)
                .with_context(|| format!("bad message from the {} agent: {l:?}", self.name)),
            None => Err(self.exited().await),
        }
    }

    pub(crate) async fn shutdown(mut self) {
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
