//! The browser lane: headless Chromium as the client of every transport.
//!
//! A Rust client shows what a protocol costs; only a browser shows what users get (its
//! per-origin connection limit, its SCTP and QUIC stacks, its timers). For a browser cell the
//! orchestrator starts Chromium ([`chromium`]) where the Rust client agent would run (inside
//! the client's namespace on shaped profiles), loads the page the server under test serves at
//! `/client/` (`harness/assets/client/`, cross-origin isolated so `performance.now()` has 5 µs
//! resolution) and calls its workload runner over the DevTools protocol. Each client gets its
//! own page in its own browser context (its own connection pool, like a separate user). The
//! page returns raw samples in µs; here they become the same [`ClientReport`] (HdrHistogram,
//! µs, 3 significant digits) as the Rust client's, and the cell records
//! `client: "chromium <version>"`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use wirebench_reports::model::{BrowserFigures, ClockSync, OriginLimit, StreamStart};

use crate::workload::collab::Arrival;
use crate::workload::{flap, idle};
use crate::workload::{new_histogram, ClientReport, WorkloadSpec, MAX_LATENCY_US};

pub mod chromium;
pub mod error;
pub mod ice;

pub use chromium::{Chromium, LaunchOptions};
pub use error::BrowserError;

/// Why the browser client cannot run `transport`, if it cannot.
pub fn unsupported_transport(transport: &str) -> Option<&'static str> {
    match transport {
        "tcp" => Some("browsers have no raw TCP API: the tcp floor has Rust cells only"),
        _ => None,
    }
}

/// Most pages one browser cell opens: one page (and browser context, renderer process) per
/// client; beyond this Chromium's own memory and start-up (about 0.6 s per page here) would be
/// what the cell measures. Scale belongs to the Rust client.
pub const MAX_PAGES: u32 = 64;

/// Why the browser client cannot run `spec` over `transport`, if it cannot.
pub fn unsupported(spec: &WorkloadSpec, transport: &str) -> Option<String> {
    if let Some(why) = unsupported_transport(transport) {
        return Some(why.to_string());
    }
    let clients = spec.params().clients;
    if clients > MAX_PAGES && !matches!(spec, WorkloadSpec::OriginLimit(_)) {
        return Some(format!(
            "{clients} clients: the browser client opens one page per client, at most \
             {MAX_PAGES} (the Rust client measures scale)"
        ));
    }
    match spec {
        WorkloadSpec::Echo(_)
        | WorkloadSpec::Push(_)
        | WorkloadSpec::Download(_)
        | WorkloadSpec::Upload(_)
        | WorkloadSpec::Connect(_)
        | WorkloadSpec::Relay(_)
        | WorkloadSpec::Collab(_)
        | WorkloadSpec::Idle(_)
        | WorkloadSpec::Flap(_) => None,
        WorkloadSpec::OriginLimit(_) if matches!(transport, "sse" | "long-poll") => None,
        WorkloadSpec::OriginLimit(_) => Some(format!(
            "origin-limit measures HTTP streams (sse, long-poll), not {transport}"
        )),
    }
}

/// What a browser job needs to know about the server.
#[derive(Debug, Clone)]
pub struct PageJob<'a> {
    /// Transport id.
    pub transport: &'a str,
    /// The server's HTTP(S) address (port P): the page's origin.
    pub addr: SocketAddr,
    /// HTTPS (else plain HTTP).
    pub tls: bool,
    /// The certificate's SPKI SHA-256 (base64), for `--ignore-certificate-errors-spki-list`.
    pub spki_sha256: Option<String>,
    /// First client id.
    pub first_client: u32,
    /// The workload.
    pub workload: &'a WorkloadSpec,
    /// The cell's STUN/TURN servers and ICE policy (WebRTC cells with a `turn`), passed to the
    /// pages' `RTCPeerConnection`s.
    pub ice: Option<&'a crate::transport::rtc::ice::IceConfig>,
}

impl PageJob<'_> {
    /// The page's origin: the server under test.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The page's URL: `/client/` on the server under test.
    pub fn page_url(&self) -> String {
        format!("{}/client/", self.origin())
    }

    /// What every page's `run()` of client `id` starts from: transport, client, workload and
    /// the ICE configuration (`RTCConfiguration`) when the cell has one.
    fn call(&self, id: u32) -> serde_json::Value {
        let mut call = json!({
            "transport": self.transport,
            "client": id,
            "workload": self.workload,
        });
        if let Some(ice) = self.ice {
            call["ice"] = ice::rtc_configuration(ice);
        }
        call
    }

    /// Launch settings for this server: its certificate accepted by SPKI, its address
    /// reachable, loopback WebRTC candidates when it is on loopback, and (for plain HTTP on a non-loopback address) its origin treated as secure,
    /// since WebTransport and cross-origin isolation need a secure context.
    pub fn launch_options(&self, cpu: Option<usize>) -> LaunchOptions {
        let mut args = Vec::new();
        if let Some(spki) = &self.spki_sha256 {
            args.push(format!("--ignore-certificate-errors-spki-list={spki}"));
        }
        if !self.tls && !self.addr.ip().is_loopback() {
            args.push(format!(
                "--unsafely-treat-insecure-origin-as-secure=http://{}",
                self.addr
            ));
        }
        // Loopback WebRTC candidates only for a server on loopback: in a topology a loopback
        // network is no way to any peer, and Chromium's gathering would wait on its TURN
        // allocations over UDP (which cannot leave loopback) until they time out.
        if self.addr.ip().is_loopback() {
            args.push("--allow-loopback-in-peer-connection".into());
        }
        let ip = self.addr.ip().to_string();
        LaunchOptions {
            args,
            reachable: if ip == "127.0.0.1" { vec![] } else { vec![ip] },
            cpu,
        }
    }
}

/// What a browser run gives back.
#[derive(Debug, Default)]
pub struct BrowserRun {
    /// The clients' merged report, as the Rust client agent's.
    pub report: ClientReport,
    /// Browser-only figures for the cell.
    pub figures: BrowserFigures,
}

/// One client's report as the page returns it: raw samples in µs.
#[derive(Debug, Deserialize)]
struct PageReport {
    latency_us: Vec<f64>,
    warmup_samples: u64,
    setup_us: Vec<u64>,
    setup_phases_us: BTreeMap<String, u64>,
    sent: u64,
    received: u64,
    duplicated: u64,
    reordered: u64,
    bytes_received: u64,
    frames_received: u64,
    recv_span_ns: u64,
    bytes_sent: u64,
    bytes_received_total: u64,
    errors: BTreeMap<String, u64>,
    send_lateness_us: Option<Vec<f64>>,
    clock: Option<PageClock>,
    #[serde(default)]
    error: Option<String>,
    /// relay with a deadline: frames that arrived after it.
    #[serde(default)]
    late: u64,
    /// collab: this client's arrivals after warm-up.
    #[serde(default)]
    arrivals: Option<PageArrivals>,
    /// flap: downstreams resumed in place, new connections, failed attempts.
    #[serde(default)]
    resumes: u64,
    #[serde(default)]
    reconnects: u64,
    #[serde(default)]
    failed_attempts: u64,
    /// flap: the longest silence between two frames, server clock (ns).
    #[serde(default)]
    gap_start_ns: Option<f64>,
    #[serde(default)]
    gap_end_ns: Option<f64>,
    /// WebRTC: the path each setup's selected candidate pair took, with its count.
    #[serde(default)]
    ice_paths: BTreeMap<String, u64>,
}

/// A collab client's arrivals as parallel arrays (op id, intended send time, arrival; ns on
/// the shared clock).
#[derive(Debug, Default, Deserialize)]
struct PageArrivals {
    op: Vec<f64>,
    sent_ns: Vec<f64>,
    recv_ns: Vec<f64>,
}

impl PageArrivals {
    fn into_arrivals(self) -> Result<Vec<Arrival>, BrowserError> {
        let n = self.op.len();
        if self.sent_ns.len() != n || self.recv_ns.len() != n {
            return Err(BrowserError::Page(format!(
                "collab arrivals of unequal lengths ({n}, {}, {})",
                self.sent_ns.len(),
                self.recv_ns.len()
            )));
        }
        let or0 = |v: f64| ns(v).unwrap_or(0);
        Ok(self
            .op
            .iter()
            .zip(&self.sent_ns)
            .zip(&self.recv_ns)
            .map(|((&op, &sent), &recv)| Arrival {
                op: or0(op),
                sent_ns: or0(sent),
                recv_ns: or0(recv),
            })
            .collect())
    }
}

/// A page's clock relation to the server's (`syncClock()` / `sharedClock()` in the page), sent
/// back to the pages of a relay or collab cell as their shared clock.
#[derive(Debug, Deserialize, serde::Serialize)]
struct PageClock {
    offset_ns: f64,
    uncertainty_us: f64,
    probes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    estimate_offset_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    estimate_uncertainty_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch_ms: Option<f64>,
}

impl PageClock {
    /// What the results record of it.
    fn sync(&self) -> ClockSync {
        ClockSync {
            probes: self.probes,
            uncertainty_us: self.uncertainty_us,
            method: self.method.clone(),
            estimate_error_us: self
                .estimate_offset_ns
                .map(|e| (e - self.offset_ns).abs() / 1000.0),
            estimate_uncertainty_us: self.estimate_uncertainty_us,
        }
    }
}

/// A page's nanosecond instant (a JSON number), if it is one.
fn ns(v: f64) -> Option<u64> {
    (v.is_finite() && v > 0.0).then(|| v.round() as u64)
}

fn record_all(samples: &[f64]) -> hdrhistogram::Histogram<u64> {
    let mut h = new_histogram();
    for &us in samples {
        if us.is_finite() {
            let _ = h.record((us.round() as u64).clamp(1, MAX_LATENCY_US));
        }
    }
    h
}

impl PageReport {
    fn into_report(
        self,
    ) -> Result<(ClientReport, Option<PageClock>, Option<PageArrivals>), BrowserError> {
        let enc = |h: &hdrhistogram::Histogram<u64>| {
            wirebench_reports::encode_histogram(h).map_err(|e| BrowserError::Page(e.to_string()))
        };
        let hist = record_all(&self.latency_us);
        let late = self.send_lateness_us.as_deref().map(record_all);
        Ok((
            ClientReport {
                error: self.error,
                latency_hdr: Some(enc(&hist)?),
                warmup_samples: self.warmup_samples,
                setup_us: self.setup_us,
                setup_phases_us: self.setup_phases_us,
                sent: self.sent,
                received: self.received,
                duplicated: self.duplicated,
                reordered: self.reordered,
                bytes_received: self.bytes_received,
                frames_received: self.frames_received,
                recv_span_ns: self.recv_span_ns,
                bytes_sent: self.bytes_sent,
                bytes_received_total: self.bytes_received_total,
                errors: self.errors,
                send_lateness_us: late
                    .filter(|h| !h.is_empty())
                    .map(|h| [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()]),
                cpu_s: None,
                rss_peak_bytes: None,
                late: self.late,
                resumes: self.resumes,
                reconnects: self.reconnects,
                failed_attempts: self.failed_attempts,
                gap_start_ns: self.gap_start_ns.and_then(ns),
                gap_end_ns: self.gap_end_ns.and_then(ns),
                ice_paths: self.ice_paths,
                ..ClientReport::default()
            },
            self.clock,
            self.arrivals,
        ))
    }
}

/// Runs `job`'s client side in `browser`: one page per client, each in its own browser
/// context. `connected` is told the client ids once every page is connected (server-driven
/// workloads start then). Page failures become the report's `error`; only a browser that
/// cannot be driven at all is an `Err`.
pub async fn run(
    browser: &Chromium,
    job: &PageJob<'_>,
    connected: mpsc::UnboundedSender<Vec<u32>>,
) -> Result<BrowserRun, BrowserError> {
    match job.workload {
        WorkloadSpec::OriginLimit(_) => return origin_limit(browser, job).await,
        // No barrier: for a server already set up (pairs made, order recording).
        WorkloadSpec::Relay(_) | WorkloadSpec::Collab(_) => {
            return run_gated(&[browser], job, connected, async {}).await
        }
        _ => {}
    }
    let p = job.workload.params();
    let n = match job.workload {
        WorkloadSpec::Connect(_) => 1,
        _ => p.clients.max(1),
    };
    let ids: Vec<u32> = (0..n).map(|k| job.first_client + k).collect();
    let pages = open_pages(browser, job, ids.len()).await?;
    let events = browser.cdp.events();
    let limit = job.workload.time_limit();
    let runs = pages.iter().zip(&ids).map(|(page, &id)| {
        let expr = format!("window.wirebench.run({})", page_call(job, id));
        async move { page.evaluate(&expr, limit).await }
    });
    let all = futures_util::future::join_all(runs);
    let sessions: Vec<&str> = pages.iter().map(|p| p.session.as_str()).collect();
    let results = tell_when_connected(all, events, &sessions, || {
        let _ = connected.send(ids.clone());
    })
    .await;
    let mut out = BrowserRun::default();
    out.figures.clock_sync = merge_pages(results, &ids, &mut out.report)?.0;
    Ok(out)
}

/// `n` pages on the server's page, each with the `wbConnected` binding it calls once
/// connected. A client namespace has no default route: without media permission Chromium
/// gathers no ICE candidate there (see `grant_media`), so WebRTC pages off loopback get it.
async fn open_pages<'b>(
    browser: &'b Chromium,
    job: &PageJob<'_>,
    n: usize,
) -> Result<Vec<chromium::Page<'b>>, BrowserError> {
    let url = job.page_url();
    let grant = job.transport.starts_with("webrtc") && !job.addr.ip().is_loopback();
    let mut pages = Vec::with_capacity(n);
    for _ in 0..n {
        let page = browser.new_page(true).await?;
        if grant {
            page.grant_media(&job.origin()).await?;
        }
        page.navigate(&url).await?;
        page.call(
            "Runtime.addBinding",
            json!({"name": "wbConnected"}),
            Duration::from_secs(10),
        )
        .await?;
        pages.push(page);
    }
    Ok(pages)
}

/// What the page's `run()` of client `id` is called with: the job, and for idle and flap the
/// schedule as the Rust client derives it.
fn page_call(job: &PageJob<'_>, id: u32) -> serde_json::Value {
    let mut call = job.call(id);
    match job.workload {
        WorkloadSpec::Idle(p) => call["idle"] = idle::page_schedule(p),
        WorkloadSpec::Flap(p) => call["flap"] = flap::page_schedule(p),
        _ => {}
    }
    call
}

/// Awaits `all` (the pages' runs) while watching DevTools events: once every page of
/// `sessions` has called `wbConnected`, `tell` runs (once).
async fn tell_when_connected<T>(
    all: impl std::future::Future<Output = T>,
    mut events: tokio::sync::broadcast::Receiver<serde_json::Value>,
    sessions: &[&str],
    tell: impl FnOnce(),
) -> T {
    tokio::pin!(all);
    let mut announced = std::collections::BTreeSet::new();
    let mut tell = Some(tell);
    loop {
        tokio::select! {
            r = &mut all => return r,
            ev = events.recv() => {
                let Ok(ev) = ev else { continue };
                if ev["method"] == "Runtime.bindingCalled"
                    && ev["params"]["name"] == "wbConnected"
                    && ev["sessionId"].as_str().is_some_and(|s| sessions.contains(&s))
                {
                    announced.insert(ev["sessionId"].as_str().unwrap_or_default().to_string());
                    if announced.len() == sessions.len() {
                        if let Some(tell) = tell.take() {
                            tell();
                        }
                    }
                }
            }
        }
    }
}

/// Each collab client's arrivals, by client id.
type ClientArrivals = Vec<(u32, Vec<Arrival>)>;

/// Merges the pages' answers (client `ids[k]`'s in `results[k]`) into `report`: a page that
/// failed or answered something unusable becomes that client's error. Returns the worst clock
/// estimate of the pages that made one and each collab client's arrivals.
fn merge_pages(
    results: Vec<Result<serde_json::Value, BrowserError>>,
    ids: &[u32],
    report: &mut ClientReport,
) -> Result<(Option<ClockSync>, ClientArrivals), BrowserError> {
    let mut worst_clock: Option<ClockSync> = None;
    let mut arrivals = Vec::new();
    for (r, &id) in results.into_iter().zip(ids) {
        let rep = match r {
            Ok(v) => match serde_json::from_value::<PageReport>(v.clone()) {
                Ok(pr) => {
                    let (rep, clock, arr) = pr.into_report()?;
                    if let Some(c) = clock {
                        let c = c.sync();
                        match worst_clock.as_mut() {
                            Some(w) => w.merge(&c),
                            None => worst_clock = Some(c),
                        }
                    }
                    if let Some(a) = arr {
                        arrivals.push((id, a.into_arrivals()?));
                    }
                    rep
                }
                Err(e) => ClientReport {
                    error: Some(format!("client {id}: the page's report is unusable: {e}")),
                    ..ClientReport::default()
                },
            },
            Err(BrowserError::Page(msg)) => ClientReport {
                error: Some(format!("client {id}: {msg}")),
                ..ClientReport::default()
            },
            Err(e) => return Err(e),
        };
        report
            .merge(rep)
            .map_err(|e| BrowserError::Page(e.to_string()))?;
    }
    Ok((worst_clock, arrivals))
}

/// The shared clock's record, with every page's own view of it: each page relates its wall
/// clock (`performance.timeOrigin + performance.now()`) to the server's (`syncClock(8, 0)`), and
/// the worst |estimate − exact| over the pages goes into `estimate_error_us`. The shared clock
/// assumes every page's `timeOrigin` is the same wall clock; a page whose origin were off would
/// show here as an estimate error beyond its bound.
async fn pages_agree(
    pages: &[chromium::Page<'_>],
    shared: &PageClock,
    t: Duration,
) -> Result<ClockSync, BrowserError> {
    let mut sync = shared.sync();
    for page in pages {
        let own: PageClock =
            serde_json::from_value(page.evaluate("window.wirebench.syncClock(8, 0)", t).await?)
                .map_err(|e| BrowserError::Page(format!("syncClock(): {e}")))?;
        let mut own = own.sync();
        own.probes = sync.probes;
        sync.merge(&own);
    }
    Ok(sync)
}

/// Runs a `relay` or `collab` job: one page per client (relay on two browsers: every sender
/// in `browsers[0]`, every receiver in `browsers[1]`, so the peers' traffic crosses the path
/// between their hosts; otherwise all in `browsers[0]`). Every page connects first (relay over
/// WebRTC: A offers to B through the server's `/rtc/relay/` signalling, then they talk
/// directly); `connected` is told the client ids, and the schedules start only once `start`
/// resolves (the orchestrator's barrier: relay pairs made at the server, collab order
/// recording), all from one instant on the pages' shared clock.
///
/// One-way latency between pages uses the machine's wall clock (`performance.timeOrigin +
/// performance.now()`, shared by every page and browser process on the machine), converted to
/// the server's `CLOCK_MONOTONIC` with one offset that the first page takes from `/clock` (exact
/// on one machine, else estimated);
/// its uncertainty is the cell's `browser.clock_sync` and cancels out of the latency, since
/// sender and receiver apply the same offset.
pub async fn run_gated(
    browsers: &[&Chromium],
    job: &PageJob<'_>,
    connected: mpsc::UnboundedSender<Vec<u32>>,
    start: impl std::future::Future<Output = ()>,
) -> Result<BrowserRun, BrowserError> {
    let mut out = BrowserRun::default();
    let p = job.workload.params();
    let relay = matches!(job.workload, WorkloadSpec::Relay(_));
    if !relay && !matches!(job.workload, WorkloadSpec::Collab(_)) {
        return Err(BrowserError::Page(format!(
            "run_gated runs relay and collab, not {}",
            job.workload.id()
        )));
    }
    if relay {
        if let Err(e) = crate::workload::relay::check_pairs(p.clients) {
            out.report.error = Some(e);
            return Ok(out);
        }
    }
    let first = browsers
        .first()
        .ok_or_else(|| BrowserError::Launch("no browser to run the pages in".into()))?;
    let ids: Vec<u32> = (0..p.clients.max(1))
        .map(|k| job.first_client + k)
        .collect();
    let (pages, mut calls) = open_peer_pages(browsers, first, job, &ids, relay).await?;
    let t = Duration::from_secs(30);
    let clock: PageClock = serde_json::from_value(
        pages[0]
            .evaluate("window.wirebench.sharedClock()", t)
            .await?,
    )
    .map_err(|e| BrowserError::Page(format!("sharedClock(): {e}")))?;
    out.figures.clock_sync = Some(pages_agree(&pages, &clock, t).await?);
    if let Some(failed) = prepare_pages(&pages, &mut calls, &ids, json!(clock)).await? {
        out.report.error = Some(failed);
        return Ok(out);
    }
    let _ = connected.send(ids.clone());
    start.await;
    // One start, a little ahead so each page has it in time; each page's schedule offset from
    // it by its client's phase (`WorkloadSpec::client_start_ns`), as the Rust agents stagger
    // theirs, so N pages never send N frames at one instant.
    let now_ns = pages[0]
        .evaluate("window.wirebench.sharedNow()", t)
        .await?
        .as_f64()
        .ok_or_else(|| BrowserError::Page("sharedNow() is not a number".into()))?;
    let start_ns = now_ns + 20e6 + 2e6 * pages.len() as f64;
    let limit = job.workload.time_limit();
    let results = futures_util::future::join_all(pages.iter().zip(&ids).map(|(page, &id)| {
        let phase = job.workload.client_start_ns(0, id) as f64;
        let expr = format!("window.wirebench.go({})", start_ns + phase);
        async move { page.evaluate(&expr, limit).await }
    }))
    .await;
    let (_, arrivals) = merge_pages(results, &ids, &mut out.report)?;
    if !relay {
        crate::workload::collab::delivered_to_all(p, ids.len() as u64, arrivals, &mut out.report);
    }
    Ok(out)
}

/// One page per client of a relay or collab job, each with what its `prepare()` is called
/// with: relay senders in the first browser and receivers in the second (when there are
/// two), each told its peer; collab clients all in the first, told every peer.
async fn open_peer_pages<'b>(
    browsers: &[&'b Chromium],
    first: &'b Chromium,
    job: &PageJob<'_>,
    ids: &[u32],
    relay: bool,
) -> Result<(Vec<chromium::Page<'b>>, Vec<serde_json::Value>), BrowserError> {
    let p = job.workload.params();
    let url = job.page_url();
    let mut pages = Vec::with_capacity(ids.len());
    let mut calls = Vec::with_capacity(ids.len());
    for &id in ids {
        let mut call = job.call(id);
        let browser = if relay {
            let (peer, sender) =
                crate::workload::relay::peer_of(id - job.first_client + 1, p.clients);
            call["peer"] = json!(peer + job.first_client - 1);
            call["sender"] = json!(sender);
            match browsers.get(1) {
                Some(b) if !sender => b,
                _ => first,
            }
        } else {
            call["peers"] = json!(ids);
            first
        };
        let page = browser.new_page(true).await?;
        if relay && job.transport.starts_with("webrtc") {
            page.grant_media(&job.origin()).await?;
        }
        page.navigate(&url).await?;
        pages.push(page);
        calls.push(call);
    }
    Ok((pages, calls))
}

/// Connects every page (`prepare()` with the shared clock); the clients that failed, if any,
/// with every page's connection aborted.
async fn prepare_pages(
    pages: &[chromium::Page<'_>],
    calls: &mut [serde_json::Value],
    ids: &[u32],
    clock: serde_json::Value,
) -> Result<Option<String>, BrowserError> {
    let t = Duration::from_secs(30);
    let prepared =
        futures_util::future::join_all(pages.iter().zip(calls.iter_mut()).map(|(page, call)| {
            call["clock"] = clock.clone();
            let expr = format!("window.wirebench.prepare({call})");
            async move { page.evaluate(&expr, t).await }
        }))
        .await;
    let mut failed = Vec::new();
    for (r, id) in prepared.into_iter().zip(ids) {
        match r {
            Ok(_) => {}
            Err(BrowserError::Page(msg)) => failed.push(format!("client {id}: connect: {msg}")),
            Err(e) => return Err(e),
        }
    }
    if !failed.is_empty() {
        for page in pages {
            let _ = page.evaluate("window.wirebench.abort()", t).await;
        }
        return Ok(Some(failed.join("; ")));
    }
    Ok(None)
}

#[derive(Debug, Deserialize)]
struct PageOriginLimit {
    hold_ms: f64,
    concurrent: u32,
    #[serde(default)]
    protocol: Option<String>,
    per_stream: Vec<PageStream>,
}

#[derive(Debug, Deserialize)]
struct PageStream {
    stream: u32,
    opened_ms: Option<f64>,
    first_ms: Option<f64>,
}

/// `origin-limit`: N streams from one page to one origin (the page's own).
async fn origin_limit(browser: &Chromium, job: &PageJob<'_>) -> Result<BrowserRun, BrowserError> {
    let p = job.workload.params();
    let page = browser.new_page(true).await?;
    page.navigate(&job.page_url()).await?;
    let call = json!({
        "transport": job.transport,
        "streams": p.clients,
        "holdMs": p.duration_ms,
        "firstClient": job.first_client,
    });
    let v = page
        .evaluate(
            &format!("window.wirebench.originLimit({call})"),
            job.workload.time_limit(),
        )
        .await;
    let mut out = BrowserRun::default();
    let v = match v {
        Ok(v) => v,
        Err(BrowserError::Page(msg)) => {
            out.report.error = Some(msg);
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    let r: PageOriginLimit = serde_json::from_value(v.clone())
        .map_err(|e| BrowserError::Page(format!("origin-limit result {v}: {e}")))?;
    let firsts: Vec<f64> = r
        .per_stream
        .iter()
        .filter_map(|s| s.first_ms.map(|ms| ms * 1000.0))
        .collect();
    let hist = record_all(&firsts);
    out.report.latency_hdr = Some(
        wirebench_reports::encode_histogram(&hist)
            .map_err(|e| BrowserError::Page(e.to_string()))?,
    );
    out.report.sent = p.clients as u64;
    out.report.received = firsts.len() as u64;
    if firsts.len() < p.clients as usize {
        out.report.error = Some(format!(
            "{} of {} streams never got their first event",
            p.clients as usize - firsts.len(),
            p.clients
        ));
    }
    out.figures.origin_limit = Some(OriginLimit {
        streams: p.clients,
        hold_ms: r.hold_ms.round() as u64,
        concurrent: r.concurrent,
        protocol: r.protocol,
        per_stream: r
            .per_stream
            .into_iter()
            .map(|s| StreamStart {
                stream: s.stream,
                opened_ms: s.opened_ms.map(round3),
                first_ms: s.first_ms.map(round3),
            })
            .collect(),
    });
    Ok(out)
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Params;

    fn params(clients: u32) -> Params {
        Params {
            rate: 10.0,
            size: 64,
            duration_ms: 1000,
            clients,
            connects: 1,
            poll_interval_ms: 50,
            ..Params::default()
        }
    }

    #[test]
    fn browser_runs_every_workload_but_raw_tcp_and_crowds() {
        let idle = WorkloadSpec::Idle(params(MAX_PAGES));
        assert_eq!(unsupported(&idle, "sse"), None);
        assert_eq!(unsupported(&WorkloadSpec::Flap(params(1)), "webrtc"), None);
        assert!(unsupported(&idle, "tcp").is_some_and(|w| w.contains("raw TCP")));
        let crowd = WorkloadSpec::Idle(params(MAX_PAGES + 1));
        assert!(unsupported(&crowd, "sse").is_some_and(|w| w.contains("one page per client")));
        // origin-limit's clients are streams of one page.
        let streams = WorkloadSpec::OriginLimit(params(110));
        assert_eq!(unsupported(&streams, "sse"), None);
        assert!(unsupported(&streams, "websocket").is_some());
    }
}
