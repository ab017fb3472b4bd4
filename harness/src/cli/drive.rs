//! `wirebench drive`: the client agent, on its own against a running server (echo or connect),
//! or under the orchestrator's control.

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
        ice: None,
    };
    let report = crate::agent::drive::run_job(&job, |_| {}).await?;
    print_report(&a, addr, &report)?;
    if let Some(e) = report.error {
        bail!("{e}");
    }
    Ok(0)
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
