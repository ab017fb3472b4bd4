//! `wirebench drive`: the client agent, on its own against a running server (echo or connect;
//! with `--out` a results file, with `--shard I/N` one shard of a cell: [`super::shard`]), or
//! under the orchestrator's control.

use std::net::SocketAddr;

use anyhow::{bail, Context as _};

use super::args::{DriveArgs, OutputFormat};
use crate::workload::{ClientReport, Params, WorkloadSpec};

/// Runs `wirebench drive`: the client agent, under the orchestrator (`--control`) or on its
/// own against a running server.
pub(crate) async fn cmd_drive(a: DriveArgs) -> anyhow::Result<u8> {
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
    let workload = workload_of(&a)?;
    let (first_client, clients) = match a.shard {
        Some(s) => s.block(a.client_id, a.clients)?,
        None => (a.client_id, a.clients),
    };
    let job = crate::agent::control::Job {
        transport: a.transport.clone(),
        implementation: a.implementation.clone(),
        addr: addr.to_string(),
        tls,
        cert_sha256: a.cert_sha256.clone(),
        first_client,
        clients: Some(clients),
        wait_start: false,
        workload,
        ice: None,
    };
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let report = crate::agent::drive::run_job_gated(&job, |_| {}, start_at(a.start_at)).await?;
    let Some(out) = &a.out else {
        print_report(&a, addr, &report)?;
        if let Some(e) = report.error {
            bail!("{e}");
        }
        return Ok(0);
    };
    let cell = super::shard::DriveCell {
        spec: &job.workload,
        transport: &a.transport,
        implementation: a.implementation.as_deref(),
        scenario: &a.scenario,
        profile: &a.profile,
        repeat: a.repeat,
        shard: a.shard,
        first_client,
        clients,
        started_at,
    };
    let results = super::shard::results_of(&cell, report)?;
    super::shard::write(&results, out)?;
    let failed = results
        .cells
        .iter()
        .any(|c| c.status != wirebench_reports::model::Status::Ok);
    Ok(if failed {
        super::run::EXIT_CELLS_FAILED
    } else {
        0
    })
}

/// The workload `drive` runs on its own, from its flags.
fn workload_of(a: &DriveArgs) -> anyhow::Result<WorkloadSpec> {
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
    Ok(match a.workload.as_str() {
        "echo" => WorkloadSpec::Echo(params),
        "connect" if a.shard.is_some() => bail!(
            "--workload connect with --shard: connect times one client's serial connections; \
             shard echo"
        ),
        "connect" => WorkloadSpec::Connect(params),
        w => bail!("--workload {w:?}: `drive` runs echo or connect on its own (push, download and upload need `wirebench run`)"),
    })
}

/// Resolves at `--start-at` (wall clock), at once without it. A time already past starts at
/// once, with a warning: the shards then do not start together.
async fn start_at(at: Option<f64>) {
    let Some(at) = at else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    if at <= now {
        eprintln!(
            "wirebench drive: --start-at {at} passed {:.3} s ago; starting now",
            now - at
        );
        return;
    }
    tokio::time::sleep(std::time::Duration::from_secs_f64(at - now)).await;
}

/// What a lone `drive` measured: JSON, or a few lines for a person.
fn print_report(a: &DriveArgs, addr: SocketAddr, report: &ClientReport) -> anyhow::Result<()> {
    if a.json || a.format == OutputFormat::Json {
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
    Ok(())
}
