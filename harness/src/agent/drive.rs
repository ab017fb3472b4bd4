//! `wirebench drive`: the client agent.

use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::control::{DriveCommand, DriveEvent, Job};
use crate::transport::{self, Target};
use crate::workload::{self, ClientReport};

/// Runs one job and returns the merged report of its clients. `on_connected` is told the
/// client ids once all are connected.
pub async fn run_job(
    job: &Job,
    on_connected: impl FnOnce(Vec<u32>),
) -> anyhow::Result<ClientReport> {
    run_job_gated(job, on_connected, async {}).await
}

/// [`run_job`], holding the schedules until `start` resolves (after `on_connected`).
pub async fn run_job_gated(
    job: &Job,
    on_connected: impl FnOnce(Vec<u32>),
    start: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ClientReport> {
    crate::clock::tighten_timer_slack();
    let nofile_limit = super::procstat::raise_nofile_limit();
    let t = transport::by_id_impl(&job.transport, job.implementation.as_deref()).with_context(
        || {
            format!(
                "unknown transport {:?} (implementation {:?})",
                job.transport, job.implementation
            )
        },
    )?;
    let addr = job
        .addr
        .parse()
        .with_context(|| format!("invalid server address {:?}", job.addr))?;
    let cert_sha256 = match &job.cert_sha256 {
        Some(h) => Some(crate::tls::parse_hash(h)?),
        None => None,
    };
    if job.first_client == 0 {
        bail!("client ids start at 1 (0 is the server)");
    }
    let mut target = Target::new(
        addr,
        job.tls,
        cert_sha256,
        job.first_client,
        Duration::from_millis(job.workload.params().poll_interval_ms.max(1)),
    );
    target.poll_slots = job.workload.params().clients.max(1);
    target.ice = job.ice.clone();
    target.rtc_channel = job.workload.params().rtc_channel;
    target.rtc_signalling = job.workload.params().rtc_signalling;
    let mut report = workload::run_clients_gated(
        t,
        target,
        job.workload.clone(),
        job.first_client,
        job.clients,
        on_connected,
        start,
    )
    .await;
    report.nofile_limit = nofile_limit;
    Ok(report)
}

/// Control mode: read one [`Job`] line from stdin, report `connected` and then the result on
/// stdout as JSON lines.
pub async fn run_control() -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let line = lines
        .next_line()
        .await
        .context("reading the job from stdin")?
        .context("no job on stdin")?;
    let job: Job = serde_json::from_str(&line).context("parsing the job")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(ev) = rx.recv().await {
            let mut s = serde_json::to_string(&ev).unwrap_or_default();
            s.push('\n');
            if out.write_all(s.as_bytes()).await.is_err() || out.flush().await.is_err() {
                break;
            }
        }
    });
    let tx2 = tx.clone();
    // With `wait_start`, the next line is the orchestrator's `start`; stdin closing instead
    // means the orchestrator is gone, and the agent ends without starting.
    let wait_start = job.wait_start;
    let start = async move {
        if !wait_start {
            return;
        }
        loop {
            match lines.next_line().await {
                Ok(Some(l)) if l.trim().is_empty() => continue,
                Ok(Some(l)) => match serde_json::from_str::<DriveCommand>(&l) {
                    Ok(DriveCommand::Start) => return,
                    Err(e) => eprintln!("wirebench drive: ignoring bad command {l:?}: {e}"),
                },
                Ok(None) | Err(_) => std::process::exit(1),
            }
        }
    };
    let report = match run_job_gated(
        &job,
        move |clients| {
            let _ = tx2.send(DriveEvent::Connected { clients });
        },
        start,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => ClientReport {
            error: Some(format!("{e:#}")),
            ..ClientReport::default()
        },
    };
    let _ = tx.send(DriveEvent::Result(Box::new(report)));
    drop(tx);
    let _ = writer.await;
    Ok(())
}
