//! The statistics every output shares: the metrics they show (entries of the catalogue,
//! [`crate::metrics`]), grouped by cell key, with the median and the spread (min–max) over
//! repeats.
//!
//! summary.md, report.html, CSV and the CI exports all read their numbers from here (the median
//! is [`crate::stats::median`], the one summary.md uses), so the same cell shows the same
//! figure everywhere.

use std::collections::BTreeMap;

use crate::format::count;
use crate::model::{Cell, Delivery, Results, Status};
use crate::stats::median;

use crate::metrics::{self as m};
pub use crate::metrics::{clients, Better, Metric, MetricKind};

/// Whether the cell ran without TLS (`params.plaintext = true` or `params.tls = false`).
pub fn plaintext(c: &Cell) -> bool {
    c.params.get("plaintext").and_then(|v| v.as_bool()) == Some(true)
        || c.params.get("tls").and_then(|v| v.as_bool()) == Some(false)
}

/// Every metric the reports' tables and exports show, in display order (entries of the
/// catalogue, [`crate::metrics`]).
pub const METRICS: &[&Metric] = &[
    m::LATENCY_P50,
    m::LATENCY_P90,
    m::LATENCY_P99,
    m::LATENCY_P999,
    m::LATENCY_MAX,
    m::MSGS_PER_S,
    m::GOODPUT,
    m::SETUP_MS,
    m::SETUP_RTTS,
    m::LOSS_RATIO,
    m::SERVER_CPU,
    m::CLIENT_CPU,
    m::SERVER_RSS_PEAK,
    m::SERVER_RSS_PER_CONN,
    m::OVERHEAD,
];

/// Looks a metric of [`METRICS`] up by id.
pub fn metric(id: &str) -> Option<&'static Metric> {
    METRICS.iter().copied().find(|m| m.id == id)
}

/// Median and spread of one metric over the repeats of a cell key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median over repeats ([`crate::stats::median`]).
    pub median: f64,
    /// Smallest repeat.
    pub min: f64,
    /// Largest repeat.
    pub max: f64,
    /// Repeats that had the figure.
    pub n: usize,
}

impl Spread {
    /// Spread of a set of per-repeat values; `None` when there are none. Non-finite values
    /// are ignored.
    pub fn of(values: Vec<f64>) -> Option<Self> {
        let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        let n = values.len();
        Some(Self {
            median: median(&values)?,
            min,
            max,
            n,
        })
    }
}

/// All cells of one key (scenario, workload, transport, profile), by outcome.
#[derive(Debug, Clone)]
pub struct KeyCells<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Workload name: the second part of [`Cell::key`] (the workload id, or its label in the
    /// scenario when the model has one).
    pub workload: String,
    /// Transport id.
    pub transport: &'a str,
    /// Profile name.
    pub profile: &'a str,
    /// Repeats with status `ok`, in run order.
    pub ok: Vec<&'a Cell>,
    /// Repeats that failed.
    pub failed: Vec<&'a Cell>,
    /// Repeats that were skipped.
    pub skipped: Vec<&'a Cell>,
}

impl<'a> KeyCells<'a> {
    /// The transport as shown: the id with the implementation and a non-Rust client in
    /// parentheses ([`Cell::transport_name`]), so two WebRTC implementations get two names.
    pub fn transport_name(&self) -> String {
        self.ok
            .iter()
            .chain(&self.failed)
            .chain(&self.skipped)
            .next()
            .map_or_else(|| self.transport.to_string(), |c| c.transport_name())
    }

    /// `scenario/workload/transport/profile`, the transport as shown ([`Self::transport_name`]):
    /// how evidence, thresholds and notes name one cell key.
    pub fn cell_name(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.scenario,
            self.workload,
            self.transport_name(),
            self.profile
        )
    }

    /// The predicted setup round trips of this key's transport, stack and setup path
    /// ([`predicted_setup`]).
    pub fn predicted_setup(&self) -> Option<Predicted> {
        let path = self
            .ok
            .iter()
            .chain(self.not_ok())
            .next()
            .map(|c| RtcPath::of(c))
            .unwrap_or_default();
        predicted_setup(self.transport, self.plaintext(), path)
    }

    /// Median and spread of a metric over the ok repeats.
    pub fn spread(&self, m: &Metric) -> Option<Spread> {
        self.spread_of(m.extract)
    }

    /// Median and spread of any per-cell figure over the ok repeats.
    pub fn spread_of(&self, f: fn(&Cell) -> Option<f64>) -> Option<Spread> {
        Spread::of(self.ok.iter().filter_map(|c| f(c)).collect())
    }

    /// Frames lost among those the latency counts, over the ok repeats ([`lost_fraction`]).
    pub fn lost_fraction(&self) -> Option<f64> {
        lost_fraction(&self.ok)
    }

    /// Why a metric is null in some or all ok repeats ([`gap`]).
    pub fn gap(&self, m: &Metric) -> Option<String> {
        gap(&self.ok, m)
    }

    /// Delivery counters summed over the ok repeats that have them (summary.md's `lost` is
    /// this sum).
    pub fn delivery(&self) -> Option<Delivery> {
        let mut any = false;
        let mut t = Delivery::default();
        for d in self.ok.iter().filter_map(|c| c.delivery.as_ref()) {
            any = true;
            t.sent += d.sent;
            t.received += d.received;
            t.lost += d.lost;
            t.duplicated += d.duplicated;
            t.reordered += d.reordered;
        }
        any.then_some(t)
    }

    /// Cells that did not succeed (failed, then skipped).
    pub fn not_ok(&self) -> impl Iterator<Item = &&'a Cell> {
        self.failed.iter().chain(self.skipped.iter())
    }

    /// The first recorded reason among failed and skipped repeats.
    pub fn reason(&self) -> Option<&'a str> {
        self.not_ok().find_map(|c| c.error.as_deref())
    }

    /// Whether every repeat of the key ran without TLS.
    pub fn plaintext(&self) -> bool {
        let all: Vec<&&Cell> = self.ok.iter().chain(self.not_ok()).collect();
        !all.is_empty() && all.iter().all(|c| plaintext(c))
    }

    /// `scenario/transport/profile`, the benchmark name used by CI exports; the workload is
    /// added (`scenario.workload/transport/profile`) when `workload_in_name` is set because the
    /// scenario runs several workloads.
    pub fn bench_name(&self, workload_in_name: bool) -> String {
        if workload_in_name {
            format!(
                "{}.{}/{}/{}",
                self.scenario, self.workload, self.transport, self.profile
            )
        } else {
            format!("{}/{}/{}", self.scenario, self.transport, self.profile)
        }
    }
}

/// The fraction of frames lost among those the latency summaries of `cells` count (frames
/// that never arrived, ranked after every delivered one), summed over the cells: `Some(0.0)`
/// when none was lost, `None` when no cell has a latency summary.
pub fn lost_fraction(cells: &[&Cell]) -> Option<f64> {
    let (mut lost, mut count) = (0u64, 0u64);
    for l in cells.iter().filter_map(|c| c.latency_us.as_ref()) {
        lost += l.lost;
        count += l.count;
    }
    (count > 0).then(|| lost as f64 / count as f64)
}

/// Why metric `m` is null in `cells` that have the quantity (a latency percentile the
/// delivered fraction or the sample count cannot give): the first cell's reason, prefixed
/// with how many cells lack it when others have it (`1 of 3 repeats: …`); `None` when no
/// cell has such a reason.
pub fn gap(cells: &[&Cell], m: &Metric) -> Option<String> {
    let reasons: Vec<String> = cells
        .iter()
        .filter(|c| (m.extract)(c).is_none())
        .filter_map(|c| m.gap(c))
        .collect();
    let first = reasons.first()?;
    if reasons.len() == cells.len() {
        Some(first.clone())
    } else {
        Some(format!(
            "{} of {} repeats: {first}",
            reasons.len(),
            cells.len()
        ))
    }
}

/// Which of its transport's implementations (or clients) a key is, in the order they first
/// appear in `keys`, keyed on [`Cell::implementation`](crate::Cell::implementation) and
/// [`Cell::client`](crate::Cell::client): 0 is drawn solid, 1 and beyond dashed (lines) or
/// hatched (bars and swatches).
pub fn variant(keys: &[&KeyCells<'_>], k: &KeyCells<'_>) -> usize {
    let mut seen: Vec<(Option<&str>, Option<&str>)> = Vec::new();
    for o in keys.iter().filter(|o| o.transport == k.transport) {
        let f = flavour(o);
        if !seen.contains(&f) {
            seen.push(f);
        }
    }
    let own = flavour(k);
    seen.iter().position(|f| *f == own).unwrap_or(0)
}

/// A key's implementation and client (from its first cell).
fn flavour<'a>(k: &KeyCells<'a>) -> (Option<&'a str>, Option<&'a str>) {
    k.ok.iter()
        .chain(&k.failed)
        .chain(&k.skipped)
        .next()
        .map_or((None, None), |c| {
            (c.implementation.as_deref(), c.client.as_deref())
        })
}

/// Whether the results come from a CI-scale (`--quick`) run: fewer clients and repeats,
/// shorter runs, so what is judged from them is indicative only.
pub fn quick_scale(r: &Results) -> bool {
    r.cells
        .iter()
        .any(|c| c.params.get("quick").and_then(|v| v.as_bool()) == Some(true))
}

/// Every cell key of a results file, ok or not, in the order the keys first appear.
pub fn keys(r: &Results) -> Vec<KeyCells<'_>> {
    let mut index: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut out: Vec<KeyCells<'_>> = Vec::new();
    for c in &r.cells {
        let k = c.key();
        let workload = k.1.clone();
        let i = *index.entry(k).or_insert_with(|| {
            out.push(KeyCells {
                scenario: c.scenario.as_str(),
                workload,
                transport: c.transport.as_str(),
                profile: c.profile.as_str(),
                ok: Vec::new(),
                failed: Vec::new(),
                skipped: Vec::new(),
            });
            out.len() - 1
        });
        let entry = &mut out[i];
        match c.status {
            Status::Ok => entry.ok.push(c),
            Status::Failed => entry.failed.push(c),
            Status::Skipped => entry.skipped.push(c),
        }
    }
    out
}

/// Scenarios that run more than one workload (their CI benchmark names include the workload).
pub fn multi_workload_scenarios(r: &Results) -> Vec<String> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &r.cells {
        let (scenario, workload, _, _) = c.key();
        let w = seen.entry(scenario).or_default();
        if !w.contains(&workload) {
            w.push(workload);
        }
    }
    seen.into_iter()
        .filter(|(_, w)| w.len() > 1)
        .map(|(s, _)| s)
        .collect()
}

/// What a transport's connection setup costs in round trips, as the protocol predicts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// Round trips this stack takes (as the harness connects: cold, no resumption).
    pub rtts: f64,
    /// Whether the count is approximate.
    pub approximate: bool,
    /// Where the round trips go, counted from the code.
    pub basis: String,
    /// The protocol's floor when it is below the stack's count: (round trips, what would get
    /// there). Reported beside the verdict, which judges the stack.
    pub floor: Option<(f64, &'static str)>,
}

/// How a cell's WebRTC client set up (the `rtc_channel` and `rtc_signalling` params; absent
/// means the default in-band channel over fresh signalling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcPath<'a> {
    /// The client's stack (`str0m`, `webrtc-rs`), if recorded.
    pub implementation: Option<&'a str>,
    /// `dcep`, `negotiated` or `snap`.
    pub channel: &'a str,
    /// The offer went over an HTTPS connection opened before the timed setup.
    pub reused: bool,
}

impl Default for RtcPath<'_> {
    /// An in-band channel over fresh signalling, stack unknown.
    fn default() -> Self {
        Self {
            implementation: None,
            channel: "dcep",
            reused: false,
        }
    }
}

impl<'a> RtcPath<'a> {
    /// The path a cell recorded.
    pub fn of(c: &'a Cell) -> Self {
        let param = |k: &str| c.params.get(k).and_then(|v| v.as_str());
        Self {
            implementation: c.implementation.as_deref(),
            channel: param("rtc_channel").unwrap_or("dcep"),
            reused: param("rtc_signalling") == Some("reused"),
        }
    }
}

/// The predicted setup round trips of a transport id as wirebench's stacks connect (cold: a
/// fresh connection, no session resumption), with the derivation and the protocol's floor
/// (`None` for unknown ids); a WebRTC prediction depends on the stack and setup path `rtc`
/// ([`RtcPath::default`]: the in-band channel over fresh signalling).
///
/// - tcp: the handshake, 1.
/// - websocket, sse, long-poll, poll: TCP 1 + TLS 1.3 1 + the first HTTP exchange 1 = 3
///   (2 in plaintext).
/// - webtransport(-datagram) with wtransport: QUIC/TLS handshake 1 + 1 more because the server
///   opens its HTTP/3 control stream only once the handshake completes (SETTINGS reach the
///   client at 2 RTT) + extended CONNECT 1 = 3; floor 2 (SETTINGS in 0.5-RTT data).
/// - webrtc(-unreliable): see [`predicted_webrtc`].
pub fn predicted_setup(transport: &str, plaintext: bool, rtc: RtcPath<'_>) -> Option<Predicted> {
    let p = |rtts, basis: &str, floor| {
        Some(Predicted {
            rtts,
            approximate: false,
            basis: basis.to_string(),
            floor,
        })
    };
    match transport {
        "tcp" => p(1.0, "TCP handshake", None),
        "websocket" | "sse" | "long-poll" | "poll" => {
            if plaintext {
                p(2.0, "TCP 1 + first HTTP exchange 1", None)
            } else {
                p(3.0, "TCP 1 + TLS 1.3 1 + first HTTP exchange 1", None)
            }
        }
        "webtransport" | "webtransport-datagram" => p(
            3.0,
            "QUIC/TLS 1.3 handshake 1 + HTTP/3 SETTINGS 1 (wtransport opens its control stream \
             only after the handshake) + extended CONNECT 1",
            Some((
                2.0,
                "SETTINGS in 0.5-RTT data, CONNECT right after the handshake",
            )),
        ),
        "webrtc" | "webrtc-unreliable" => Some(predicted_webrtc(rtc)),
        _ => None,
    }
}

/// WebRTC's setup round trips per stack and path, counted from the code and the phases
/// measured on rtt-50 (docs/faq.md):
///
/// - signalling: a fresh HTTPS connection (TCP 1 + TLS 1.3 1 + the offer/answer POST 1) = 3,
///   or the POST alone on a connection already open = 1;
/// - ICE: str0m 1 (its check carries the nomination); webrtc-rs 2 (a check, then the
///   nominating check: regular nomination);
/// - DTLS 1.2: 2;
/// - SCTP INIT/INIT-ACK + COOKIE-ECHO/ACK: 2, none with SNAP (INIT chunks in the SDP);
/// - DCEP OPEN/ACK: str0m waits for the ACK (1); webrtc-rs sends OPEN and opens at once (0);
///   a pre-negotiated channel has none.
///
/// So 9 for both stacks by default; str0m 8 negotiated, 6 with SNAP; webrtc-rs 9 negotiated;
/// 2 fewer each with the signalling connection open. The floor, 4 (str0m: SNAP, negotiated,
/// signalling open), is measured by faq-setup's `connect-fast`.
pub fn predicted_webrtc(rtc: RtcPath<'_>) -> Predicted {
    let rs = rtc.implementation == Some("webrtc-rs");
    let mut parts: Vec<(f64, &str)> = vec![if rtc.reused {
        (1.0, "offer/answer POST on an open HTTPS connection 1")
    } else {
        (
            3.0,
            "signalling over a fresh HTTPS connection (TCP 1 + TLS 1.3 1 + offer/answer POST 1)",
        )
    }];
    parts.push(if rs {
        (2.0, "ICE 2 (a check, then the nominating check)")
    } else {
        (1.0, "ICE check 1")
    });
    parts.push((2.0, "DTLS 1.2 2"));
    parts.push(match rtc.channel {
        "snap" => (0.0, "SCTP INIT in the SDP (SNAP) 0"),
        _ => (2.0, "SCTP INIT/COOKIE 2"),
    });
    parts.push(match (rtc.channel, rs) {
        ("dcep", false) => (1.0, "DCEP open/ACK 1"),
        ("dcep", true) => (0.0, "DCEP open 0 (webrtc-rs does not wait for the ACK)"),
        _ => (0.0, "pre-negotiated channel 0"),
    });
    let rtts = parts.iter().map(|p| p.0).sum();
    let basis = parts.iter().map(|p| p.1).collect::<Vec<_>>().join(" + ");
    let floor = (rtts > 4.0).then_some((
        4.0,
        "str0m with SNAP, a pre-negotiated channel and the signalling connection already \
         open (rtc_channel = \"snap\", rtc_signalling = \"reused\")",
    ));
    Predicted {
        rtts,
        approximate: false,
        basis,
        floor,
    }
}

/// A column of a workload's own table (idle, flap) in summary.md and report.html.
pub struct Column {
    /// Header as printed.
    pub header: &'static str,
    /// The figure of one cell (one repeat), if it has it.
    pub extract: fn(&Cell) -> Option<f64>,
    /// How it is printed.
    pub fmt: fn(f64) -> String,
    /// For a latency column, its metric: renderers show the loss beside the figure and why
    /// it is null ([`gap`]).
    pub latency: Option<&'static Metric>,
}

/// The figures only a workload has, with the title and note of its table.
pub struct WorkloadTable {
    /// Section title.
    pub title: &'static str,
    /// What the figures are, for the reader.
    pub note: &'static str,
    /// The columns after transport and profile.
    pub columns: &'static [Column],
    /// Whether a cell belongs in this table.
    pub has: fn(&Cell) -> bool,
}

fn secs1(v: f64) -> String {
    format!("{:.1} s", v / 1000.0)
}

fn ms0(v: f64) -> String {
    format!("{v:.0} ms")
}

/// `idle` (quiet connections) and `flap` (link cut): the tables of their own figures.
pub const WORKLOAD_TABLES: &[WorkloadTable] = &[
    WorkloadTable {
        title: "Quiet connections (idle)",
        note: "Connections held open with only the transports' keep-alives, then notifications. \
               Keep-alive bytes and packets cross the client's emulated link in the quiet \
               window, per connection-hour (– on loopback, where no emulator counts them). \
               Client RSS per connection: the Rust agent's (a browser's memory is per page). \
               First drop: time from every client connected to the first connection lost while \
               idle (a proxy's idle timeout; – when none was).",
        columns: &[
            Column {
                header: "connections",
                extract: |c| Some(c.idle.as_ref()?.connections as f64),
                fmt: count,
                latency: None,
            },
            Column {
                header: "keep-alive / conn-hour",
                extract: |c| c.idle.as_ref()?.keepalive_bytes_per_connection_hour,
                fmt: crate::format::bytes,
                latency: None,
            },
            Column {
                header: "packets / conn-hour",
                extract: |c| c.idle.as_ref()?.keepalive_packets_per_connection_hour,
                fmt: count,
                latency: None,
            },
            Column {
                header: "server RSS / conn",
                extract: |c| c.idle.as_ref()?.server_rss_per_connection_bytes,
                fmt: crate::format::bytes,
                latency: None,
            },
            Column {
                header: "client RSS / conn",
                extract: |c| c.idle.as_ref()?.client_rss_per_connection_bytes,
                fmt: crate::format::bytes,
                latency: None,
            },
            Column {
                header: "first drop",
                extract: |c| c.idle.as_ref()?.first_drop_ms,
                fmt: secs1,
                latency: None,
            },
            Column {
                header: "notification p50",
                extract: m::LATENCY_P50.extract,
                fmt: crate::format::fmt_us,
                latency: Some(m::LATENCY_P50),
            },
            Column {
                header: "notification p99",
                extract: m::LATENCY_P99.extract,
                fmt: crate::format::fmt_us,
                latency: Some(m::LATENCY_P99),
            },
        ],
        has: |c| c.idle.is_some(),
    },
    WorkloadTable {
        title: "Link flap (flap)",
        note: "The client's link cut mid-stream. Recovery: from the link's return to the first \
               new frame. Longest silence: the longest gap between two frames. Lost: frames \
               that never arrived (the server wrote them into a connection given up). \
               Resumes: downstreams resumed in place (SSE, long-poll, poll); reconnects: new \
               connections.",
        columns: &[
            Column {
                header: "cut",
                extract: |c| c.flap.as_ref()?.cut_ms,
                fmt: ms0,
                latency: None,
            },
            Column {
                header: "recovery",
                extract: |c| c.flap.as_ref()?.recovery_ms,
                fmt: ms0,
                latency: None,
            },
            Column {
                header: "longest silence",
                extract: |c| c.flap.as_ref()?.outage_ms,
                fmt: ms0,
                latency: None,
            },
            Column {
                header: "lost",
                extract: |c| c.delivery.as_ref().map(|d| d.lost as f64),
                fmt: count,
                latency: None,
            },
            Column {
                header: "duplicated",
                extract: |c| c.delivery.as_ref().map(|d| d.duplicated as f64),
                fmt: count,
                latency: None,
            },
            Column {
                header: "resumes",
                extract: |c| Some(c.flap.as_ref()?.resumes as f64),
                fmt: count,
                latency: None,
            },
            Column {
                header: "reconnects",
                extract: |c| Some(c.flap.as_ref()?.reconnects as f64),
                fmt: count,
                latency: None,
            },
            Column {
                header: "failed attempts",
                extract: |c| Some(c.flap.as_ref()?.failed_attempts as f64),
                fmt: count,
                latency: None,
            },
        ],
        has: |c| c.flap.is_some(),
    },
];

/// The distinct strings of `it`, in first-seen order.
pub fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_summary_median() {
        let s = Spread::of(vec![3.0, 1.0, 2.0, 10.0]).expect("values");
        assert_eq!(s.median, 2.5);
        assert_eq!((s.min, s.max, s.n), (1.0, 10.0, 4));
        assert!(Spread::of(vec![]).is_none());
        assert!(Spread::of(vec![f64::NAN]).is_none());
    }

    #[test]
    fn predictions_follow_the_protocols() {
        let r = |t, p| predicted_setup(t, p, RtcPath::default()).map(|x| x.rtts);
        assert_eq!(r("tcp", false), Some(1.0));
        assert_eq!(r("websocket", false), Some(3.0));
        assert_eq!(r("long-poll", true), Some(2.0));
        assert_eq!(r("webtransport", true), Some(3.0));
        assert_eq!(r("webrtc-unreliable", false), Some(9.0));
        let floor = |t| {
            predicted_setup(t, false, RtcPath::default())
                .and_then(|x| x.floor)
                .map(|f| f.0)
        };
        assert_eq!(
            (floor("webtransport"), floor("webrtc"), floor("tcp")),
            (Some(2.0), Some(4.0), None)
        );
        assert_eq!(r("carrier-pigeon", false), None);
        // Per stack and path, as measured on rtt-50.
        let w = |implementation, channel, reused| {
            predicted_webrtc(RtcPath {
                implementation,
                channel,
                reused,
            })
            .rtts
        };
        let (s, rs) = (Some("str0m"), Some("webrtc-rs"));
        assert_eq!(
            [
                w(s, "dcep", false),
                w(s, "negotiated", false),
                w(s, "snap", false)
            ],
            [9.0, 8.0, 6.0]
        );
        assert_eq!(w(s, "snap", true), 4.0);
        assert_eq!(
            [w(rs, "dcep", false), w(rs, "negotiated", true)],
            [9.0, 7.0]
        );
        let rs_basis = predicted_webrtc(RtcPath {
            implementation: rs,
            channel: "dcep",
            reused: false,
        })
        .basis;
        assert!(
            rs_basis.contains("ICE 2") && rs_basis.contains("DCEP open 0"),
            "{rs_basis}"
        );
        assert!(predicted_webrtc(RtcPath {
            implementation: s,
            channel: "snap",
            reused: true
        })
        .floor
        .is_none());
    }

    #[test]
    fn metric_ids_are_unique() {
        for (i, m) in METRICS.iter().enumerate() {
            assert!(METRICS[i + 1..].iter().all(|o| o.id != m.id), "{}", m.id);
        }
    }
}
