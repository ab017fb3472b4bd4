//! `netem check`: what each profile really gives, configured vs measured with pass/fail.
//!
//! [`baseline_rtt`] measures the unshaped path through the backend once; [`check_profile`]
//! brings one profile up, measures RTT, loss each way and goodput ([`crate::measure`]), and
//! returns a [`CheckReport`]. Nothing here prints: the binary prints the reports.

use crate::backend::choose_backend;
use crate::error::NetemError;
use crate::findings::{Baseline, CheckLine, CheckReport};
use crate::link::{BackendKind, HostId, TopologySpec};
use crate::measure::{measure_rtt, tcp_goodput, udp_stream};
use crate::profile::{Direction, LinkParams, Profile};
use crate::topology::Topology;

/// How hard `check` measures (already clamped to sane ranges by the command line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// Seconds per goodput measurement (longer on long-RTT profiles).
    pub seconds: f64,
    /// Number of RTT probes.
    pub probes: u32,
    /// Whether to measure TCP and UDP goodput.
    pub goodput: bool,
    /// Seed of the emulator's random choices.
    pub seed: u64,
}

/// Time to serialize `bytes` at the link's rate, ms (0 without a rate).
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

/// Variance inflation of loss counts under Gilbert-Elliott bursts (1 for independent loss).
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
pub fn baseline_rtt(netem: BackendKind, opts: &CheckOptions) -> Result<Baseline, NetemError> {
    let choice = choose_backend(netem, true).or_else(|_| choose_backend(netem, false))?;
    let topo = Topology::up_with(choice, &TopologySpec::star(&Profile::default(), 1))?;
    let ip = topo.server().addr;
    let mut r = measure_rtt(&topo, ip, opts.probes)?.rtts;
    topo.teardown()?;
    if r.is_empty() {
        return Ok(Baseline {
            mean_ms: 0.0,
            median_ms: 0.0,
        });
    }
    r.sort_by(f64::total_cmp);
    Ok(Baseline {
        mean_ms: r.iter().sum::<f64>() / r.len() as f64,
        median_ms: r[r.len() / 2],
    })
}

/// Brings `profile` up on one client and measures it: RTT against `baseline_ms`, loss each way
/// and (with `opts.goodput`) TCP and UDP goodput down. Errors `Unsupported`/`Unavailable` mean
/// the backend cannot emulate this profile.
pub fn check_profile(
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
    let expected = rtt_lines(&topo, &up, &down, opts, baseline_ms, &mut lines)?;
    // One-way loss, each direction: small UDP packets well below the rate.
    for (dir, params, from, to) in [
        (Direction::Down, &down, HostId::SERVER, HostId::client(1)),
        (Direction::Up, &up, HostId::client(1), HostId::SERVER),
    ] {
        one_way_loss_lines(&topo, dir, params, (from, to), opts, &mut lines)?;
    }
    if opts.goodput {
        goodput_lines(&topo, &up, &down, expected, opts, &mut lines)?;
    }
    let backend = topo.choice().to_string();
    topo.teardown()?;
    Ok(CheckReport {
        profile: name.to_string(),
        backend,
        lines,
    })
}

/// RTT (mean, added over the baseline, min/p99) and round-trip loss of UDP probes of 64 payload
/// bytes (92-byte IP packets), client -> server -> client. Returns the expected RTT, ms.
fn rtt_lines(
    topo: &Topology,
    up: &LinkParams,
    down: &LinkParams,
    opts: &CheckOptions,
    baseline_ms: f64,
    lines: &mut Vec<CheckLine>,
) -> Result<f64, NetemError> {
    let server_ip = topo.server().addr;
    let probe_ip_len = 64 + 28;
    let expected = up.delay_ms
        + down.delay_ms
        + serialization_ms(up, probe_ip_len)
        + serialization_ms(down, probe_ip_len);
    let rtt = measure_rtt(topo, server_ip, opts.probes)?;
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
        lines.extend(crate::check_jitter::jitter_lines(up, down, &v, opts.seed));
    }
    let rt_loss = 1.0 - (1.0 - up.mean_loss()) * (1.0 - down.mean_loss());
    let (lo, hi) = binomial_ci(rt_loss, rtt.sent, vif(up).max(vif(down)));
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
    Ok(expected)
}

/// Loss one way (`dir`, `from` → `to`): paced UDP packets of 100 bytes, the measured share lost
/// against the binomial interval, and the emulator's own drop counts when it has them.
fn one_way_loss_lines(
    topo: &Topology,
    dir: Direction,
    params: &LinkParams,
    (from, to): (HostId, HostId),
    opts: &CheckOptions,
    lines: &mut Vec<CheckLine>,
) -> Result<(), NetemError> {
    let size = 100usize;
    let pps = params.rate_mbit.map_or(2000.0, |r| {
        (0.4 * r * 1e6 / ((size + 28) as f64 * 8.0)).min(2000.0)
    });
    // At least 2000 packets (up to ~7 s on the slowest links) for a usable interval.
    let n = ((pps * opts.seconds.min(3.0)) as u64).clamp(2000, 6000);
    let before = link_drops(topo, dir);
    let got = udp_stream(topo, from, to, size, pps, n, 1)?;
    let after = link_drops(topo, dir);
    let loss = 1.0 - got.packets as f64 / n as f64;
    let (lo, hi) = binomial_ci(params.mean_loss(), n, vif(params));
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
    Ok(())
}

/// Goodput down: bulk TCP (judged only on loss-free profiles with a rate) and, with a rate,
/// UDP paced at 110 % of it.
fn goodput_lines(
    topo: &Topology,
    up: &LinkParams,
    down: &LinkParams,
    expected_rtt_ms: f64,
    opts: &CheckOptions,
    lines: &mut Vec<CheckLine>,
) -> Result<(), NetemError> {
    // TCP down: long enough to leave slow start on long-RTT links.
    let rtt_s = expected_rtt_ms / 1000.0;
    let secs = opts.seconds.max(20.0 * rtt_s).min(30.0);
    let tcp = tcp_goodput(topo, HostId::SERVER, HostId::client(1), secs)?;
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
        let got = udp_stream(topo, HostId::SERVER, HostId::client(1), size, pps, n, 8)?;
        let expect = r * size as f64 / (size + 28) as f64 * (1.0 - down.mean_loss());
        let err = (got.goodput_mbit - expect) / expect;
        lines.push(CheckLine {
            metric: "udp goodput down Mbit/s".into(),
            configured: format!("{expect:.3} ±3%"),
            measured: format!("{:.3} ({:+.1}%)", got.goodput_mbit, err * 100.0),
            pass: Some(err.abs() <= 0.03),
        });
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_interval_contains_p() {
        let (lo, hi) = binomial_ci(0.01, 1000, 1.0);
        assert!(lo < 0.01 && hi > 0.01 && hi < 0.02);
        assert_eq!(binomial_ci(0.0, 1000, 1.0).0, 0.0);
    }
}
