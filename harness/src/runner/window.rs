//! The measured window's own resource figures: the server agent's and the client agents' CPU
//! and resident set, and the clients' wire bytes, read at a mark when the warm-up is over and
//! at a mark when the measured duration is, so that what the workload cost is not mixed with
//! start-up, connection setup (thousands of TLS handshakes), warm-up and drain
//! (`resources.window`; the whole-cell figures stay beside them).
//!
//! The marks are the runner's timers from the moment the clients were released (the server
//! armed and, for gated workloads, `Start` sent): the clients' schedules start then, give or
//! take the control messages' few milliseconds.

use std::time::{Duration, Instant};

use wirebench_netem::{HostId, Topology};
use wirebench_reports::model::MeasuredWindow;

use crate::agent::procstat::{cpu_seconds_of, rss_bytes_of};
use crate::workload::WorkloadSpec;

/// What the marks read: the processes and the links.
#[derive(Debug, Clone)]
pub(crate) struct Probe<'t> {
    /// The cell's topology (no wire bytes without one: loopback has no link counters).
    pub topo: Option<&'t Topology>,
    /// The server agent.
    pub server: Option<u32>,
    /// The client agents.
    pub clients: Vec<u32>,
    /// A host of the topology that is not a client's (a TURN host of its own).
    pub not_client: Option<HostId>,
}

/// One mark's readings.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    server_cpu: Option<f64>,
    server_rss: Option<u64>,
    client_cpu: Option<f64>,
    client_rss: Option<u64>,
    wire: Option<(u64, u64)>,
}

/// The measured window of `spec`: (warm-up, duration) for the workloads that run one timed
/// schedule after their clients are released; `None` for the others (connect repeats setups,
/// idle and flap take their own marks, origin-limit is browser-only).
pub(crate) fn window_of(spec: &WorkloadSpec) -> Option<(Duration, Duration)> {
    use WorkloadSpec::{Collab, Download, Echo, Push, Relay, Upload};
    let timed = matches!(
        spec,
        Echo(_) | Push(_) | Download(_) | Upload(_) | Relay(_) | Collab(_)
    );
    let p = spec.params();
    timed.then(|| {
        (
            Duration::from_millis(p.warmup_ms),
            Duration::from_millis(p.duration_ms),
        )
    })
}

/// Bytes up (into the emulator from the clients) and down (out of it to the clients) on the
/// client hosts' links, `not_client` left out: both counted on the clients' side of any loss,
/// as the frames' bytes the clients sent and received are.
pub(crate) fn client_wire(t: &Topology, not_client: Option<HostId>) -> Option<(u64, u64)> {
    let mut wire = (0, 0);
    for k in 1..=t.client_count() {
        let id = HostId::client(k);
        if Some(id) == not_client {
            continue;
        }
        let c = t.counters(id).ok()?;
        wire = (wire.0 + c.up.bytes_in, wire.1 + c.down.bytes_out);
    }
    Some(wire)
}

/// The sum of `f` over `pids`; `None` if any reading fails (a process that ended).
fn sum_of<T: std::iter::Sum<T>>(pids: &[u32], f: impl Fn(&str) -> Option<T>) -> Option<T> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| f(&p.to_string())).sum()
}

impl Probe<'_> {
    fn read(&self) -> Reading {
        let server = self.server.map(|p| p.to_string());
        Reading {
            at: Instant::now(),
            server_cpu: server.as_deref().and_then(cpu_seconds_of),
            server_rss: server.as_deref().and_then(rss_bytes_of),
            client_cpu: sum_of(&self.clients, cpu_seconds_of),
            client_rss: sum_of(&self.clients, rss_bytes_of),
            wire: self.topo.and_then(|t| client_wire(t, self.not_client)),
        }
    }
}

/// Growth from `a` to `b`, bytes (negative when it shrank).
fn growth(a: Option<u64>, b: Option<u64>) -> Option<i64> {
    Some(i64::try_from(b?).ok()? - i64::try_from(a?).ok()?)
}

/// The figures between two readings.
fn between(a: &Reading, b: &Reading) -> MeasuredWindow {
    let round = |s: f64| (s * 1000.0).round() / 1000.0;
    let delta = |x: Option<f64>, y: Option<f64>| Some(round((y? - x?).max(0.0)));
    let wire = a.wire.zip(b.wire);
    MeasuredWindow {
        duration_ms: round(b.at.duration_since(a.at).as_secs_f64()) * 1000.0,
        server_cpu_s: delta(a.server_cpu, b.server_cpu),
        client_cpu_s: delta(a.client_cpu, b.client_cpu),
        server_rss_growth_bytes: growth(a.server_rss, b.server_rss),
        client_rss_growth_bytes: growth(a.client_rss, b.client_rss),
        wire_bytes_up: wire.map(|(x, y)| y.0.saturating_sub(x.0)),
        wire_bytes_down: wire.map(|(x, y)| y.1.saturating_sub(x.1)),
    }
}

/// Reads the marks of a window that starts `warmup` after now and lasts `duration`. Never
/// ends on its own terms before the window does: the caller races it against the clients'
/// reports and keeps it only if it finished (a cell that ends early has no window).
pub(crate) async fn sample(
    probe: Probe<'_>,
    warmup: Duration,
    duration: Duration,
) -> MeasuredWindow {
    tokio::time::sleep(warmup).await;
    let start = probe.read();
    tokio::time::sleep(duration).await;
    between(&start, &probe.read())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, cpu: f64, rss: u64, wire: (u64, u64)) -> Reading {
        Reading {
            at,
            server_cpu: Some(cpu),
            server_rss: Some(rss),
            client_cpu: Some(cpu / 2.0),
            client_rss: None,
            wire: Some(wire),
        }
    }

    /// The window's figures are differences between the marks; what one mark could not read
    /// stays `None`, and memory may shrink.
    #[test]
    fn figures_are_the_differences_between_the_marks() {
        let t0 = Instant::now();
        let a = reading(t0, 1.5, 50_000_000, (1_000, 2_000));
        let b = reading(
            t0 + Duration::from_millis(2_000),
            2.25,
            40_000_000,
            (6_000, 12_000),
        );
        let w = between(&a, &b);
        assert_eq!(w.duration_ms, 2000.0);
        assert_eq!(w.server_cpu_s, Some(0.75));
        assert_eq!(w.client_cpu_s, Some(0.375));
        assert_eq!(w.server_rss_growth_bytes, Some(-10_000_000));
        assert_eq!(w.client_rss_growth_bytes, None);
        assert_eq!(
            (w.wire_bytes_up, w.wire_bytes_down),
            (Some(5_000), Some(10_000))
        );
    }

    /// Timed workloads have a window; connect, idle and flap do not.
    #[test]
    fn only_timed_workloads_have_a_window() {
        let p = crate::workload::Params {
            warmup_ms: 500,
            duration_ms: 3000,
            ..Default::default()
        };
        assert_eq!(
            window_of(&WorkloadSpec::Echo(p.clone())),
            Some((Duration::from_millis(500), Duration::from_secs(3)))
        );
        assert_eq!(window_of(&WorkloadSpec::Connect(p.clone())), None);
        assert_eq!(window_of(&WorkloadSpec::Idle(p)), None);
    }
}
