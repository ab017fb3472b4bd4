//! The ranking criteria the traits select (see the table in the parent module's docs).

use super::traits::{Connectivity, Traits, FEW_CLIENTS};
use crate::metrics::{self, Metric};
use crate::verdicts;

/// One figure a ranking criterion reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Criterion {
    pub(super) scenario: &'static str,
    pub(super) workload: &'static str,
    /// Which workload names qualify: all, or the one with `params.clients` nearest the traits'.
    pub(super) nearest_clients: bool,
    /// Only this workload name.
    pub(super) name: Option<&'static str>,
    pub(super) metric: &'static Metric,
    pub(super) weight: f64,
    pub(super) label: &'static str,
    pub(super) eps: f64,
}

/// Where a criterion's figures come from (scenario, workload, which names), so each
/// criterion of a scenario is stated as one line.
#[derive(Clone, Copy)]
struct Source {
    scenario: &'static str,
    workload: &'static str,
    name: Option<&'static str>,
    nearest_clients: bool,
}

impl Source {
    /// The criterion reading `metric` from this source, with its weight, label and floor.
    fn read(
        self,
        metric: &'static Metric,
        weight: f64,
        label: &'static str,
        eps: f64,
    ) -> Criterion {
        Criterion {
            scenario: self.scenario,
            workload: self.workload,
            name: self.name,
            nearest_clients: self.nearest_clients,
            metric,
            weight,
            label,
            eps,
        }
    }
}

/// The criteria the traits select, in ranking order.
pub(super) fn criteria(t: &Traits) -> Vec<Criterion> {
    let mut out = match t.topology {
        Connectivity::P2p => peer(t),
        Connectivity::Server if t.quiet_periods => quiet(),
        Connectivity::Server if t.clients <= FEW_CLIENTS => collab(),
        Connectivity::Server => refresh(),
    };
    if t.loss_tolerant {
        let echo = Source {
            scenario: verdicts::HOL,
            workload: "echo",
            name: None,
            nearest_clients: false,
        };
        // Over every echo sent, lost ones included: the same figure for reliable and
        // unreliable candidates (a percentile over the delivered ones would flatter the
        // transport that drops what is late).
        let label = "echoes missed at 3 RTT under loss";
        out.push(echo.read(metrics::MISSED_3RTT, 1.0, label, 0.005));
    }
    out
}

/// Peer to peer (faq-peer): relay latency, and media frames missed when loss is tolerated.
fn peer(t: &Traits) -> Vec<Criterion> {
    let relay = Source {
        scenario: verdicts::PEER,
        workload: "relay",
        name: Some("relay"),
        nearest_clients: false,
    };
    let mut out = vec![
        relay.read(metrics::LATENCY_P50, 1.0, "relay p50", 100.0),
        relay.read(metrics::LATENCY_P99, 0.5, "relay p99", 100.0),
    ];
    if t.loss_tolerant {
        let media = Source {
            name: Some("media"),
            ..relay
        };
        let label = "media frames missed at 150 ms";
        out.push(media.read(metrics::MISSED_150MS, 1.0, label, 0.005));
    }
    out
}

/// Server authority with quiet periods (faq-quiet): notification latency and idle cost.
fn quiet() -> Vec<Criterion> {
    let idle = Source {
        scenario: verdicts::QUIET,
        workload: "idle",
        name: None,
        nearest_clients: true,
    };
    vec![
        idle.read(metrics::LATENCY_P50, 1.0, "notification p50", 100.0),
        idle.read(
            metrics::WIRE_BYTES_PER_CONN_HOUR,
            0.5,
            "wire bytes per connection-hour",
            1.0,
        ),
        idle.read(
            metrics::SERVER_BYTES_PER_CONN,
            0.5,
            "server memory per connection",
            1.0,
        ),
    ]
}

/// Server authority, few clients (faq-collab): op → all latency.
fn collab() -> Vec<Criterion> {
    let collab = Source {
        scenario: verdicts::COLLAB,
        workload: "collab",
        name: None,
        nearest_clients: true,
    };
    vec![
        collab.read(metrics::LATENCY_P50, 1.0, "op → all p50", 100.0),
        collab.read(metrics::LATENCY_P99, 0.5, "op → all p99", 100.0),
    ]
}

/// Server authority, many clients (faq-refresh): server and wire cost per client.
fn refresh() -> Vec<Criterion> {
    let push = Source {
        scenario: verdicts::REFRESH,
        workload: "push",
        name: None,
        nearest_clients: true,
    };
    vec![
        push.read(
            metrics::SERVER_BYTES_PER_CLIENT,
            1.0,
            "server memory per client",
            1.0,
        ),
        push.read(
            metrics::SERVER_CPU_MS_PER_CLIENT_MIN,
            1.0,
            "server CPU per client-minute",
            0.01,
        ),
        push.read(
            metrics::WIRE_BYTES_PER_CLIENT_MIN,
            0.5,
            "wire bytes per client-minute",
            1.0,
        ),
    ]
}
