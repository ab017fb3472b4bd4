//! Stage 3, *score*: the agents' reports and the orchestrator's marks → the cell's figures.
//! Pure: no processes, no clock, so every rule is unit-tested on made-up reports.

use std::collections::BTreeMap;

use wirebench_reports::model::{
    Cell, EmulatorFigures, HarnessBound, Latency, Lateness, Resources, Status, Warmup, Wire,
    EMULATOR_LATENESS_BOUND_US,
};

use super::execute::{Collected, Ending, Execution};
use super::plan::{NotRun, PlannedCell, Resolved};
use super::scenario::ClientKind;
use crate::workload::{self, WorkloadSpec};

/// The cell's identity and parameters, before anything ran: `params` holds the workload's
/// parameters that apply to this workload and transport, and `no_idle` when the run kept CPUs
/// out of idle states.
pub(crate) fn blank_cell(pc: &PlannedCell, no_idle: bool) -> Cell {
    let mut params = match serde_json::to_value(pc.spec.params()) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    params.insert("latency".into(), pc.spec.latency_kind().into());
    if pc.quick {
        params.insert("quick".into(), true.into());
    }
    if !matches!(
        pc.spec,
        WorkloadSpec::Echo(_)
            | WorkloadSpec::Push(_)
            | WorkloadSpec::Relay(_)
            | WorkloadSpec::Collab(_)
            | WorkloadSpec::Flap(_)
    ) {
        params.remove("rate");
    }
    keep_applicable(pc, &mut params);
    if no_idle {
        params.insert("no_idle".into(), true.into());
    }
    Cell {
        scenario: pc.scenario.clone(),
        workload: pc.spec.id().to_string(),
        label: (pc.name != pc.spec.id()).then(|| pc.name.clone()),
        transport: pc.transport.clone(),
        profile: pc.profile.clone(),
        repeat: pc.repeat,
        status: Status::Ok,
        error: None,
        params,
        implementation: pc.implementation.clone(),
        // The version is filled in once the browser has told it.
        client: (pc.client == ClientKind::Browser).then(|| "chromium".to_string()),
        latency_us: None,
        setup_ms: None,
        setup_rtts: None,
        throughput: None,
        delivery: None,
        wire: None,
        resources: None,
        warmup: None,
        send_lateness_us: None,
        harness_bound: None,
        emulator: None,
        // The Rust agents stagger their clients, and so do relay and collab pages (one shared
        // start); browser echo pages each start their own schedule when connected.
        phase_step_ns: (pc.client != ClientKind::Browser
            || matches!(pc.spec, WorkloadSpec::Relay(_) | WorkloadSpec::Collab(_)))
        .then(|| pc.spec.phase_step_ns())
        .flatten(),
        setup_phases_ms: BTreeMap::new(),
        errors: BTreeMap::new(),
        browser: None,
        idle: None,
        flap: None,
        shards: Vec::new(),
    }
}

/// Keeps in `params` the parameters that apply to this cell's transport and workload, and says
/// when a proxy was bypassed.
fn keep_applicable(pc: &PlannedCell, params: &mut serde_json::Map<String, serde_json::Value>) {
    // Each transport's keep-alive setting only where it applies.
    for (key, transports) in [
        ("ws_ping_ms", &["websocket"][..]),
        ("sse_heartbeat_ms", &["sse"][..]),
        ("long_poll_hold_ms", &["long-poll"][..]),
        (
            "quic_keepalive_ms",
            &["webtransport", "webtransport-datagram"][..],
        ),
    ] {
        if !transports.contains(&pc.transport.as_str()) {
            params.remove(key);
        }
    }
    if pc.transport != "poll" {
        params.remove("poll_interval_ms");
    }
    if !matches!(pc.spec, WorkloadSpec::Connect(_)) {
        params.remove("connects");
    }
    // WebTransport, WebRTC and raw tcp cannot go through an HTTP proxy: they run direct.
    if params.contains_key("proxy") && !crate::proxy::goes_through(&pc.transport) {
        params.insert("proxy_bypassed".into(), true.into());
    }
    crate::workload::network::trim_cell_params(&pc.transport, pc.spec.params(), params);
}

/// A cell that did not run: skipped (or failed) with the reason.
pub(crate) fn not_run(mut cell: Cell, why: NotRun) -> Cell {
    if let Some(link) = &why.link {
        insert_link(&mut cell, link);
    }
    cell.status = why.status;
    cell.error = Some(why.reason);
    cell
}

fn insert_link(cell: &mut Cell, link: &wirebench_netem::Profile) {
    use wirebench_netem::Direction;
    cell.params.insert(
        "link".into(),
        serde_json::to_value(link).unwrap_or(serde_json::Value::Null),
    );
    // The bottleneck's queue discipline, where the link has a bottleneck (a rate).
    let rated = [Direction::Up, Direction::Down]
        .into_iter()
        .any(|d| link.direction(d).rate_mbit.is_some());
    if rated {
        cell.params
            .insert("queue".into(), link.queue_label().into());
    }
}

/// Scores an executed cell.
pub(crate) fn score(mut cell: Cell, pc: &PlannedCell, resolved: &Resolved, ex: Execution) -> Cell {
    insert_link(&mut cell, &resolved.link);
    match ex.ending {
        Ending::Ran(c) => score_ran(&mut cell, pc, *c, resolved.rtt_ms, ex.wire_bytes),
        Ending::Failed(why) => {
            cell.status = Status::Failed;
            cell.error = Some(why);
        }
        Ending::TimedOut { limit_s, stage } => {
            cell.status = Status::Failed;
            cell.error = Some(format!("timed out after {limit_s} s, {stage}"));
        }
    }
    if cell.status == Status::Failed {
        cell.error = cell.error.take().map(|why| through_proxy(pc, why));
    }
    if let Some(e) = ex.teardown_error {
        cell.errors.insert(format!("netem_teardown: {e}"), 1);
    }
    cell.emulator = ex
        .emulator
        .zip(ex.backend)
        .map(|(c, b)| emulator_figures(b, &c));
    cell
}

/// A failed cell's reason, saying which proxy its traffic went through, if any (a proxy's
/// buffering or missing upgrade headers show up as the client's timeouts and HTTP errors).
fn through_proxy(pc: &PlannedCell, why: String) -> String {
    let proxy = pc.spec.params().proxy;
    if proxy.is_none() || !crate::proxy::goes_through(&pc.transport) {
        return why;
    }
    format!("through nginx ({}): {why}", proxy.as_str())
}

/// The emulator's figures of a cell (issue 15 item 8): release lateness from the userspace
/// emulator's counters (the kernel's netem keeps none), drops, and the 1 ms flag.
fn emulator_figures(backend: &str, c: &wirebench_netem::core::CoreStats) -> EmulatorFigures {
    let timed = backend == "userspace" && c.packets_out > 0;
    let mean = timed.then(|| c.lateness_ns_sum as f64 / c.packets_out as f64 / 1000.0);
    let max = timed.then(|| c.lateness_ns_max as f64 / 1000.0);
    EmulatorFigures {
        backend: backend.to_string(),
        semantics: wirebench_netem::EMULATOR_SEMANTICS,
        packets: c.packets_out,
        release_lateness_mean_us: mean.map(|v| (v * 10.0).round() / 10.0),
        release_lateness_max_us: max,
        queue_drops: c.queue_drops,
        aqm_drops: c.aqm_drops,
        max_sojourn_ms: (c.max_sojourn_ns > 0).then(|| c.max_sojourn_ns as f64 / 1e6),
        over_bound: max.is_some_and(|m| m > EMULATOR_LATENESS_BOUND_US),
    }
}

/// The figures of a cell whose agents both reported.
fn score_ran(
    cell: &mut Cell,
    pc: &PlannedCell,
    c: Collected,
    rtt_ms: Option<f64>,
    wire_bytes: Option<(u64, u64)>,
) {
    let (r, s) = (&c.report, &c.server);
    super::turn::record(cell, &r.ice_paths, c.turn_cpu_s, wire_bytes);
    if let Some(e) = &r.error {
        cell.status = Status::Failed;
        cell.error = Some(e.clone());
    }
    for (k, v) in r.errors.iter().chain(s.errors.iter()) {
        *cell.errors.entry(k.clone()).or_default() += v;
    }
    if let Some(e) = cell.error.as_mut() {
        // What the server counted often explains a client-side failure (frames too large for
        // the transport, refused requests): say it in the reason.
        if !s.errors.is_empty() {
            let counts: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            e.push_str(&format!(" (server counted: {})", counts.join(", ")));
        }
    }
    if let Some(x) = c.cross {
        cell.params.insert(
            "cross_traffic_mbit".into(),
            ((x.goodput_mbit * 100.0).round() / 100.0).into(),
        );
    }
    score_latency(cell, r.latency_hdr.as_deref());
    cell.setup_ms = median_u64(&r.setup_us).map(|us| us / 1000.0);
    cell.setup_rtts = match (cell.setup_ms, rtt_ms) {
        (Some(ms), Some(rtt)) => Some(ms / rtt),
        _ => None,
    };
    workload::score(&pc.spec, cell, r, s, &c.marks, pc.peer_to_peer);
    count_lost_in_latency(cell);
    if pc.reliable && !pc.spec.measures_loss() {
        fail_on_loss(cell);
    }
    cell.resources = Some(Resources {
        server_cpu_s: s.cpu_s,
        server_rss_peak_bytes: s.rss_peak_bytes,
        client_cpu_s: r.cpu_s,
        client_rss_peak_bytes: r.rss_peak_bytes,
        window: c.window.clone(),
    });
    cell.send_lateness_us = r
        .send_lateness_us
        .map(|[p50, p99, max]| Lateness { p50, p99, max });
    flag_harness_bound(cell);
    cell.warmup = Some(Warmup {
        duration_ms: pc.spec.params().warmup_ms,
        samples: r.warmup_samples,
    });
    if !r.setup_us.is_empty() {
        let n = r.setup_us.len() as f64;
        cell.setup_phases_ms = r
            .setup_phases_us
            .iter()
            .map(|(k, v)| (k.clone(), (*v as f64 / n).round() / 1000.0))
            .collect();
    }
    // Every frame byte the client sent or received, warm-up included: the denominator of the
    // wire overhead ratio.
    let payload = r.bytes_sent + r.bytes_received_total;
    cell.wire = Some(wire(wire_bytes, payload));
    if let Some(b) = c.browser {
        score_browser(cell, b);
    }
}

/// Flags the cell `harness_bound` when its open-loop sender's lateness p99 exceeds
/// max(100 µs, 10 % of the latency p50): the load generator, not the transport, set the pace,
/// and verdicts must not read its figures as the transport's (issue 15 item 4).
fn flag_harness_bound(cell: &mut Cell) {
    let Some(late) = &cell.send_lateness_us else {
        return;
    };
    let p50 = cell.latency_us.as_ref().and_then(|l| l.p50);
    cell.harness_bound = HarnessBound::check(late.p99, p50);
}

/// The latency figures from the clients' merged histogram.
fn score_latency(cell: &mut Cell, hdr: Option<&str>) {
    let Some(h) = hdr else { return };
    match wirebench_reports::decode_histogram(h).and_then(|h| Latency::from_histogram(&h)) {
        Ok(l) if l.count > 0 => cell.latency_us = Some(l),
        Ok(_) => {}
        Err(e) => {
            cell.status = Status::Failed;
            cell.error
                .get_or_insert(format!("histogram from client agent: {e}"));
        }
    }
}

/// Frames that never arrived (`delivery.lost` less the relay's late ones, whose latency is in
/// the histogram) join the latency figures as later than any delivered frame, so a lossy
/// transport's percentiles are over every frame sent after warm-up, as a reliable one's are.
fn count_lost_in_latency(cell: &mut Cell) {
    let Some(d) = &cell.delivery else { return };
    let never = d.lost - d.late.unwrap_or(0).min(d.lost);
    if never == 0 {
        return;
    }
    let h = match &cell.latency_us {
        Some(l) => l.histogram(),
        None => Ok(workload::new_histogram()),
    };
    match h.and_then(|h| Latency::with_lost(&h, never)) {
        Ok(l) => cell.latency_us = Some(l),
        Err(e) => {
            cell.status = Status::Failed;
            cell.error
                .get_or_insert(format!("latency with lost frames: {e}"));
        }
    }
}

/// Reliable transports must deliver everything; losing frames fails the cell (frames that
/// arrived after a relay deadline did arrive: the deadline is the application's choice).
/// Unreliable ones (datagrams, maxRetransmits = 0) may lose frames: counted in `delivery`,
/// never silent.
fn fail_on_loss(cell: &mut Cell) {
    if cell.status != Status::Ok {
        return;
    }
    let Some(d) = &cell.delivery else { return };
    let lost = d.lost - d.late.unwrap_or(0).min(d.lost);
    if lost > 0 {
        cell.status = Status::Failed;
        cell.error = Some(format!(
            "{} of {} frames had not arrived {} s after the schedule ended, on a \
             reliable transport (lost, or the transport fell behind the offered rate)",
            lost,
            d.sent,
            workload::DRAIN.as_secs()
        ));
    }
}

/// Wire bytes of the client hosts' links and their overhead over the frames' bytes.
fn wire(bytes: Option<(u64, u64)>, payload: u64) -> Wire {
    let mut w = Wire::default();
    if let Some((up, down)) = bytes {
        w.bytes_up = Some(up);
        w.bytes_down = Some(down);
        if payload > 0 {
            w.overhead_ratio = Some((up + down) as f64 / payload as f64);
        }
    }
    w
}

/// What a browser cell adds: its client's version and the browser-only figures.
fn score_browser(cell: &mut Cell, b: super::clients::BrowserCell) {
    cell.client = Some(b.version);
    if let Some(ol) = &b.figures.origin_limit {
        // Not echo frames: what counts is when each stream got going.
        cell.delivery = None;
        if cell.status == Status::Ok && ol.concurrent == 0 {
            cell.status = Status::Failed;
            cell.error = Some("no stream got its first event".into());
        }
    }
    if b.figures != Default::default() {
        cell.browser = Some(b.figures);
    }
}

fn median_u64(v: &[u64]) -> Option<f64> {
    wirebench_reports::summary::median(v.iter().map(|&x| x as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::DataCount;
    use crate::workload::{ClientReport, Marks, Params, ServerReport};

    fn cell_of(spec: WorkloadSpec, transport: &str) -> PlannedCell {
        let implementation = crate::transport::implementations(transport)
            .first()
            .map(|i| i.to_string());
        PlannedCell::new(
            "s",
            spec.id(),
            &spec,
            transport,
            implementation,
            "loopback",
            1,
            false,
            ClientKind::Rust,
        )
    }

    fn params() -> Params {
        Params {
            rate: 10.0,
            size: 100,
            duration_ms: 1000,
            warmup_ms: 100,
            clients: 2,
            ..Params::default()
        }
    }

    fn resolved(rtt_ms: Option<f64>) -> Resolved {
        Resolved {
            link: wirebench_netem::Profile::default(),
            topology: None,
            rtt_ms,
        }
    }

    fn ran(
        report: ClientReport,
        server: ServerReport,
        wire_bytes: Option<(u64, u64)>,
    ) -> Execution {
        Execution {
            ending: Ending::Ran(Box::new(Collected {
                report,
                server,
                marks: Marks::default(),
                browser: None,
                cross: None,
                turn_cpu_s: None,
                window: None,
            })),
            wire_bytes,
            backend: None,
            emulator: None,
            teardown_error: None,
        }
    }

    fn scored(pc: &PlannedCell, r: ClientReport, s: ServerReport) -> Cell {
        score(blank_cell(pc, false), pc, &resolved(None), ran(r, s, None))
    }

    /// `frames` sent and `received` after the warm-up, each `size` bytes.
    fn delivered(sent: u64, received: u64) -> ClientReport {
        ClientReport {
            sent,
            received,
            frames_received: received,
            bytes_received: received * 100,
            ..ClientReport::default()
        }
    }

    /// A reliable transport that loses frames fails the cell with the count; an unreliable
    /// one reports the loss and stays ok; flap measures loss and never fails for it.
    #[test]
    fn loss_fails_only_reliable_transports_outside_flap() {
        let lossy = || delivered(10, 9);
        let ws = scored(
            &cell_of(WorkloadSpec::Echo(params()), "websocket"),
            lossy(),
            ServerReport::default(),
        );
        assert_eq!(ws.status, Status::Failed);
        assert!(
            ws.error
                .as_deref()
                .is_some_and(|e| e.starts_with("1 of 10 frames had not arrived")),
            "{:?}",
            ws.error
        );
        let dgram = scored(
            &cell_of(WorkloadSpec::Echo(params()), "webtransport-datagram"),
            lossy(),
            ServerReport::default(),
        );
        assert_eq!(dgram.status, Status::Ok);
        assert_eq!(dgram.delivery.map(|d| d.lost), Some(1));
        let flap = scored(
            &cell_of(WorkloadSpec::Flap(params()), "websocket"),
            lossy(),
            ServerReport::default(),
        );
        assert_eq!(flap.status, Status::Ok);
        let echo = scored(
            &cell_of(WorkloadSpec::Echo(params()), "websocket"),
            delivered(10, 10),
            ServerReport::default(),
        );
        assert_eq!(echo.status, Status::Ok);
        let t = echo.throughput.unwrap_or_else(|| panic!("no throughput"));
        assert_eq!((t.msgs_per_s, t.goodput_bps), (Some(10.0), Some(8000.0)));
    }

    /// Frames that never arrived rank after every delivered one: an unreliable transport's
    /// percentiles are over all frames sent, the delivered-only summary beside them.
    #[test]
    fn lost_frames_count_in_latency() {
        let mut h = workload::new_histogram();
        for v in 1..=1900u64 {
            h.record(v).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut r = delivered(2000, 1900);
        r.latency_hdr =
            Some(wirebench_reports::encode_histogram(&h).unwrap_or_else(|e| panic!("{e}")));
        let c = scored(
            &cell_of(WorkloadSpec::Echo(params()), "webtransport-datagram"),
            r,
            ServerReport::default(),
        );
        let l = c.latency_us.unwrap_or_else(|| panic!("no latency"));
        assert_eq!((l.count, l.lost), (2000, 100));
        assert_eq!((l.p50, l.p90, l.p99), (Some(1000), Some(1800), None));
        assert_eq!(l.delivered.map(|d| d.p50), Some(Some(950)));
    }

    /// A sender late by more than max(100 µs, 10 % of the latency p50) at p99 flags the cell
    /// harness-bound; one within the limit does not.
    #[test]
    fn a_late_sender_flags_the_cell_harness_bound() {
        let echo = |late_p99: u64| {
            let mut h = workload::new_histogram();
            for _ in 0..2000 {
                h.record(5_000).unwrap_or_else(|e| panic!("{e}"));
            }
            let mut r = delivered(2000, 2000);
            r.latency_hdr =
                Some(wirebench_reports::encode_histogram(&h).unwrap_or_else(|e| panic!("{e}")));
            r.send_lateness_us = Some([20, late_p99, late_p99 * 2]);
            scored(
                &cell_of(WorkloadSpec::Echo(params()), "websocket"),
                r,
                ServerReport::default(),
            )
        };
        // p50 ≈ 5 ms: the limit is 10 % of it, about 500 µs.
        let c = echo(2_000);
        let hb = c.harness_bound.unwrap_or_else(|| panic!("not flagged"));
        assert_eq!(hb.send_lateness_p99_us, 2_000);
        assert!((495..=505).contains(&hb.limit_us), "{hb:?}");
        assert!(echo(400).harness_bound.is_none());
        // A fast transport: the 100 µs floor.
        assert_eq!(HarnessBound::limit_us(Some(300)), 100);
    }

    /// The userspace emulator's lateness becomes the cell's mean and max in µs, flagged over
    /// 1 ms; the kernel's netem records packets and drops but no timing.
    #[test]
    fn emulator_figures_from_the_counters() {
        let c = wirebench_netem::core::CoreStats {
            packets_out: 1000,
            lateness_ns_sum: 20_000_000,
            lateness_ns_max: 1_500_000,
            queue_drops: 3,
            ..Default::default()
        };
        let e = emulator_figures("userspace", &c);
        assert_eq!(e.release_lateness_mean_us, Some(20.0));
        assert_eq!(e.release_lateness_max_us, Some(1500.0));
        assert_eq!((e.packets, e.queue_drops, e.over_bound), (1000, 3, true));
        assert_eq!(e.semantics, wirebench_netem::EMULATOR_SEMANTICS);
        let k = emulator_figures("kernel", &c);
        assert_eq!((k.release_lateness_max_us, k.over_bound), (None, false));
    }

    /// A client's failure carries what the server counted; a push with nothing after the
    /// warm-up fails; an upload is measured where the data landed.
    #[test]
    fn failures_say_why() {
        let server = ServerReport {
            errors: [("frame_too_large".to_string(), 3)].into(),
            ..ServerReport::default()
        };
        let failed = ClientReport {
            error: Some("client 1: closed".into()),
            ..ClientReport::default()
        };
        let c = scored(
            &cell_of(WorkloadSpec::Echo(params()), "websocket"),
            failed,
            server,
        );
        assert_eq!(
            c.error.as_deref(),
            Some("client 1: closed (server counted: frame_too_large ×3)")
        );
        assert_eq!(c.errors.get("frame_too_large"), Some(&3));

        let push = scored(
            &cell_of(WorkloadSpec::Push(params()), "sse"),
            delivered(10, 0),
            ServerReport::default(),
        );
        assert_eq!(
            push.error.as_deref(),
            Some("no frame arrived after the warm-up")
        );

        let upload = cell_of(WorkloadSpec::Upload(params()), "tcp");
        let none = scored(&upload, ClientReport::default(), ServerReport::default());
        assert_eq!(
            none.error.as_deref(),
            Some("the server counted no uploaded data after the warm-up")
        );
        let data = ServerReport {
            data: vec![(
                1,
                DataCount {
                    frames: 500,
                    bytes: 1_000_000,
                    first_ns: 1_000_000_000,
                    last_ns: 1_500_000_000,
                    ..DataCount::default()
                },
            )],
            ..ServerReport::default()
        };
        let ok = scored(&upload, ClientReport::default(), data);
        assert_eq!(ok.status, Status::Ok);
        assert_eq!(ok.throughput.and_then(|t| t.goodput_bps), Some(16e6));
    }

    /// Peer-to-peer relay fails when the server carried data; a relay deadline's late frames
    /// are counted apart and don't count as lost on a reliable transport.
    #[test]
    fn relay_is_scored_as_peer_to_peer_with_its_deadline() {
        let p = Params {
            deadline_ms: Some(150),
            ..params()
        };
        let relayed = ServerReport {
            relayed: 4,
            ..ServerReport::default()
        };
        let c = scored(
            &cell_of(WorkloadSpec::Relay(p.clone()), "webrtc"),
            delivered(10, 10),
            relayed,
        );
        assert_eq!(
            c.error.as_deref(),
            Some("peer-to-peer relay: the server saw 4 data frames")
        );
        let late = ClientReport {
            late: 2,
            ..delivered(10, 8)
        };
        let c = scored(
            &cell_of(WorkloadSpec::Relay(p), "websocket"),
            late,
            ServerReport::default(),
        );
        assert_eq!(c.status, Status::Ok, "{:?}", c.error);
        assert_eq!(c.delivery.and_then(|d| d.late), Some(2));
    }

    /// Setup in round trips of the link, wire overhead over the frames' bytes, timeouts and
    /// teardown errors recorded.
    #[test]
    fn setup_wire_and_ends_are_recorded() {
        let pc = cell_of(WorkloadSpec::Connect(params()), "tcp");
        let r = ClientReport {
            setup_us: vec![1000, 3000, 2000],
            setup_phases_us: [("tcp".to_string(), 6000)].into(),
            bytes_sent: 500,
            bytes_received_total: 500,
            ..ClientReport::default()
        };
        let c = score(
            blank_cell(&pc, true),
            &pc,
            &resolved(Some(0.5)),
            ran(r, ServerReport::default(), Some((1500, 500))),
        );
        assert_eq!((c.setup_ms, c.setup_rtts), (Some(2.0), Some(4.0)));
        assert_eq!(c.setup_phases_ms.get("tcp"), Some(&2.0));
        assert_eq!(c.wire.and_then(|w| w.overhead_ratio), Some(2.0));
        assert_eq!(
            c.params.get("no_idle"),
            Some(&serde_json::Value::Bool(true))
        );
        assert!(c.params.contains_key("link") && !c.params.contains_key("payload_bytes"));

        let timed_out = Execution {
            ending: Ending::TimedOut {
                limit_s: 61,
                stage: "connecting 2 client(s)".into(),
            },
            wire_bytes: None,
            backend: None,
            emulator: None,
            teardown_error: Some("busy".into()),
        };
        let c = score(blank_cell(&pc, false), &pc, &resolved(None), timed_out);
        assert_eq!(
            c.error.as_deref(),
            Some("timed out after 61 s, connecting 2 client(s)")
        );
        assert_eq!(c.errors.get("netem_teardown: busy"), Some(&1));
    }

    /// Params record what applies: rate only for paced workloads, a transport's own
    /// keep-alive and poll settings only on that transport.
    #[test]
    fn params_record_what_applies() {
        let p = Params {
            ws_ping_ms: Some(30_000),
            sse_heartbeat_ms: Some(15_000),
            connects: 5,
            ..params()
        };
        let echo = blank_cell(&cell_of(WorkloadSpec::Echo(p.clone()), "websocket"), false);
        assert!(echo.params.contains_key("rate") && echo.params.contains_key("ws_ping_ms"));
        assert!(
            !echo.params.contains_key("sse_heartbeat_ms") && !echo.params.contains_key("connects")
        );
        assert!(!echo.params.contains_key("poll_interval_ms"));
        let connect = blank_cell(&cell_of(WorkloadSpec::Connect(p), "poll"), false);
        assert!(!connect.params.contains_key("rate") && connect.params.contains_key("connects"));
        assert!(connect.params.contains_key("poll_interval_ms"));
        assert_eq!(
            connect.params.get("latency"),
            Some(&serde_json::Value::from("setup"))
        );
    }
}
