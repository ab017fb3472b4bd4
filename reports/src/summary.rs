//! `summary.md`: the Markdown summary of a run (also used for PR comments).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::format::fmt_opt;
pub use crate::format::{fmt_bps, fmt_us};
use crate::metrics::{self as m, Metric};
use crate::model::{Cell, Results, Status};

/// [`crate::stats::median`] of an owned list (kept for callers that collect into a vector).
pub fn median(v: Vec<f64>) -> Option<f64> {
    crate::stats::median(&v)
}

/// A cell key: (scenario, workload, transport, profile); see [`Cell::key`].
pub type Key = (String, String, String, String);

/// Groups ok cells by key (scenario, workload, transport, profile), keeping run order.
pub fn group_ok(r: &Results) -> Vec<(Key, Vec<&Cell>)> {
    let mut order = Vec::new();
    let mut groups: BTreeMap<Key, Vec<&Cell>> = BTreeMap::new();
    for c in r.cells.iter().filter(|c| c.status == Status::Ok) {
        let k = c.key();
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(c);
    }
    order
        .into_iter()
        .map(|k| {
            let v = groups.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// One summary row: figures are medians over the repeats of one cell key.
#[derive(Debug, Clone)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Workload id.
    pub workload: String,
    /// Transport id.
    pub transport: String,
    /// Profile name.
    pub profile: String,
    /// Repeats that succeeded.
    pub repeats: usize,
    /// Median p50 latency, µs.
    pub p50_us: Option<f64>,
    /// Median p99 latency, µs.
    pub p99_us: Option<f64>,
    /// Median goodput, bit/s.
    pub goodput_bps: Option<f64>,
    /// Median messages per second.
    pub msgs_per_s: Option<f64>,
    /// Median setup, ms.
    pub setup_ms: Option<f64>,
    /// Sum of lost frames over repeats.
    pub lost: Option<u64>,
    /// Frames lost among those the latency counts ([`crate::figures::lost_fraction`]).
    pub lost_fraction: Option<f64>,
    /// Why p50 is null in some or all repeats ([`crate::figures::gap`]).
    pub p50_gap: Option<String>,
    /// Why p99 is null in some or all repeats.
    pub p99_gap: Option<String>,
}

impl Row {
    /// The row's p50 as shown: [`latency_text`].
    pub fn p50_text(&self, notes: &mut Notes) -> String {
        latency_text(
            self.p50_us,
            self.p50_gap.as_deref(),
            self.lost_fraction,
            notes,
        )
    }

    /// The row's p99 as shown: [`latency_text`].
    pub fn p99_text(&self, notes: &mut Notes) -> String {
        latency_text(
            self.p99_us,
            self.p99_gap.as_deref(),
            self.lost_fraction,
            notes,
        )
    }
}

/// A latency figure as summary.md shows it: the value (`–` when null, marked with the note
/// that says why) and, for a lossy row, the loss beside it (`38.21 ms · 4.1 % lost`).
pub fn latency_text(
    us: Option<f64>,
    gap: Option<&str>,
    lost: Option<f64>,
    notes: &mut Notes,
) -> String {
    let mut s = fmt_opt(us, m::LATENCY_P50.format);
    if let Some(g) = gap {
        s.push_str(&notes.mark(g));
    }
    if let Some(f) = lost.filter(|f| *f > 0.0) {
        s.push_str(" · ");
        s.push_str(&crate::format::lost_pct(f));
    }
    s
}

/// The notes of a table: each distinct reason once, numbered, marked in the cells by its
/// superscript number and listed below the table.
#[derive(Debug, Default)]
pub struct Notes(Vec<String>);

impl Notes {
    /// The mark of `reason` (`¹`), adding it when new.
    pub fn mark(&mut self, reason: &str) -> String {
        let i = match self.0.iter().position(|r| r == reason) {
            Some(i) => i,
            None => {
                self.0.push(reason.to_string());
                self.0.len() - 1
            }
        };
        superscript(i + 1)
    }

    /// The notes as Markdown list items (`- ¹ – : reason`), nothing when there are none.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.0.is_empty() {
            s.push('\n');
        }
        for (i, r) in self.0.iter().enumerate() {
            let _ = writeln!(s, "- {} – : {r}", superscript(i + 1));
        }
        s
    }

    /// The reasons, in number order (the first is note ¹).
    pub fn reasons(&self) -> &[String] {
        &self.0
    }

    /// The mark of note `n` (from 1): `¹`.
    pub fn mark_number(&self, n: usize) -> String {
        superscript(n)
    }
}

/// `n` in superscript digits (`12` → `¹²`).
fn superscript(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .filter_map(|d| d.to_digit(10).map(|d| DIGITS[d as usize]))
        .collect()
}

/// The summary row of one cell key's repeats.
fn row_of((scenario, workload, transport, profile): Key, cells: &[&Cell]) -> Row {
    let pick = |m: &Metric| median(cells.iter().filter_map(|c| (m.extract)(c)).collect());
    let lost: Vec<u64> = cells
        .iter()
        .filter_map(|c| c.delivery.as_ref().map(|d| d.lost))
        .collect();
    Row {
        scenario,
        workload,
        transport,
        profile,
        repeats: cells.len(),
        p50_us: pick(m::LATENCY_P50),
        p99_us: pick(m::LATENCY_P99),
        goodput_bps: pick(m::GOODPUT),
        msgs_per_s: pick(m::MSGS_PER_S),
        setup_ms: pick(m::SETUP_MS),
        lost: (!lost.is_empty()).then(|| lost.iter().sum()),
        lost_fraction: crate::figures::lost_fraction(cells),
        p50_gap: crate::figures::gap(cells, m::LATENCY_P50),
        p99_gap: crate::figures::gap(cells, m::LATENCY_P99),
    }
}

/// Summary rows, one per cell key, in run order.
pub fn rows(r: &Results) -> Vec<Row> {
    group_ok(r)
        .into_iter()
        .map(|(k, cells)| row_of(k, &cells))
        .collect()
}

/// The Rust client and the browser client on the same workload, transport and profile.
#[derive(Debug, Clone)]
pub struct Versus {
    /// The browser cells' row (its transport names the browser, e.g. `websocket (chromium)`).
    pub browser: Row,
    /// The Rust cells' row: the transport's default implementation (the one the browser's
    /// server runs), or none when the run had no Rust cells there.
    pub rust: Option<Row>,
}

/// Rust vs browser, one entry per browser cell key with ok cells, in run order.
pub fn versus(r: &Results) -> Vec<Versus> {
    let groups = group_ok(r);
    let first = |cells: &[&Cell]| cells.first().map(|c| (*c).clone());
    groups
        .iter()
        .filter_map(|(k, cells)| {
            let b = first(cells)?;
            b.client.as_ref()?;
            // The Rust counterpart: same scenario, workload name, transport and profile, no
            // client; with several implementations the first run (the default) is taken.
            let rust = groups.iter().find(|(_, rc)| {
                rc.first().is_some_and(|c| {
                    c.client.is_none()
                        && c.scenario == b.scenario
                        && c.workload_name() == b.workload_name()
                        && c.transport == b.transport
                        && c.profile == b.profile
                })
            });
            Some(Versus {
                browser: row_of(k.clone(), cells),
                rust: rust.map(|(rk, rc)| row_of(rk.clone(), rc)),
            })
        })
        .collect()
}

/// The browser as the run's cells name it: the first `chromium <version>` (a cell skipped
/// before the browser started says only `chromium`), else `chromium`.
pub fn browser_client(r: &Results) -> &str {
    let clients = || r.cells.iter().filter_map(|c| c.client.as_deref());
    clients()
        .find(|c| c.split_whitespace().nth(1).is_some())
        .or_else(|| clients().next())
        .unwrap_or("chromium")
}

/// The HTTP version of an origin-limit cell, as shown: what the browser negotiated (its ALPN
/// id), else what the server offered (`params.http`; absent = HTTP/1.1 only).
pub fn origin_http(c: &Cell, negotiated: Option<&str>) -> String {
    match negotiated {
        Some("h2") => "2 (h2)".into(),
        Some("http/1.1") => "1.1".into(),
        Some(other) => other.to_string(),
        None => c
            .params
            .get("http")
            .and_then(|v| v.as_str())
            .map_or("1.1".into(), |v| format!("{v} (offered)")),
    }
}

/// Markdown tables of the browser lane: Rust vs browser, and the per-origin limit; empty when
/// the run had no browser cells.
pub fn browser_markdown(r: &Results) -> String {
    let mut s = String::new();
    versus_markdown(&mut s, r);
    origin_limit_markdown(&mut s, r);
    s
}

/// The Rust vs browser table: the same key measured with both clients, side by side.
fn versus_markdown(s: &mut String, r: &Results) {
    let v = versus(r);
    if !v.is_empty() {
        let _ = writeln!(
            s,
            "\n## Rust vs browser\n\nThe same workload, transport and profile with the Rust client \
             and with headless Chromium (`{}`); medians over repeats. The browser's figures \
             include what users get: its timers, its network stack, its connection pool. \
             WebRTC's Rust column is str0m on both ends, the server the browser talks to.\n",
            browser_client(r)
        );
        let _ = writeln!(
            s,
            "| workload | transport | profile | p50 Rust | p50 browser | p99 Rust | p99 browser | goodput Rust | goodput browser | setup Rust | setup browser |"
        );
        let _ = writeln!(s, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        let mut notes = Notes::default();
        for x in &v {
            let rust = |f: &dyn Fn(&Row) -> Option<f64>| x.rust.as_ref().and_then(f);
            let rust_text = |f: &dyn Fn(&Row, &mut Notes) -> String, n: &mut Notes| {
                x.rust.as_ref().map_or("–".into(), |r| f(r, n))
            };
            let (bps, ms) = (m::GOODPUT.format, m::SETUP_MS.format);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                x.browser.workload,
                x.rust
                    .as_ref()
                    .map_or(x.browser.transport.as_str(), |r| r.transport.as_str()),
                x.browser.profile,
                rust_text(&Row::p50_text, &mut notes),
                x.browser.p50_text(&mut notes),
                rust_text(&Row::p99_text, &mut notes),
                x.browser.p99_text(&mut notes),
                fmt_opt(rust(&|r| r.goodput_bps), bps),
                fmt_opt(x.browser.goodput_bps, bps),
                fmt_opt(rust(&|r| r.setup_ms), ms),
                fmt_opt(x.browser.setup_ms, ms),
            );
        }
        s.push_str(&notes.markdown());
    }
}

/// The per-origin connection limit table of the browser lane: one row per cell.
fn origin_limit_markdown(s: &mut String, r: &Results) {
    let limits: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.browser.as_ref().is_some_and(|b| b.origin_limit.is_some()))
        .collect();
    if !limits.is_empty() {
        let _ = writeln!(
            s,
            "\n## Per-origin connection limit (browser)\n\nN streams opened at once to one \
             origin; time to each one's first event (sse) or response (long-poll), ms. \
             `concurrent`: streams served before one was released. HTTP: the version the \
             browser negotiated (HTTP/1.1: six connections per origin; HTTP/2: one connection, \
             as many streams as the server allows).\n"
        );
        let _ = writeln!(
            s,
            "| transport | HTTP | profile | repeat | concurrent | hold | first event per stream (ms) |"
        );
        let _ = writeln!(s, "|---|---|---|--:|--:|--:|---|");
        for c in limits {
            if let Some(ol) = c.browser.as_ref().and_then(|b| b.origin_limit.as_ref()) {
                let firsts: Vec<String> = ol
                    .per_stream
                    .iter()
                    .map(|st| {
                        st.first_ms
                            .map_or("never".into(), |ms| format!("{}: {ms:.0}", st.stream))
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} of {} | {} ms | {} |",
                    c.transport_name(),
                    origin_http(c, ol.protocol.as_deref()),
                    c.profile,
                    c.repeat,
                    ol.concurrent,
                    ol.streams,
                    ol.hold_ms,
                    firsts.join(", ")
                );
            }
        }
    }
}

/// The tables of the workloads with figures of their own (idle, flap): one row per cell key,
/// medians over repeats.
fn workload_markdown(r: &Results) -> String {
    let mut s = String::new();
    let groups = group_ok(r);
    for t in crate::figures::WORKLOAD_TABLES {
        let rows: Vec<_> = groups
            .iter()
            .filter(|(_, cells)| cells.iter().any(|c| (t.has)(c)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n## {}\n\n{} Medians over repeats.\n", t.title, t.note);
        let heads: Vec<&str> = t.columns.iter().map(|c| c.header).collect();
        let _ = writeln!(
            s,
            "| scenario | workload | transport | profile | n | {} |",
            heads.join(" | ")
        );
        let _ = writeln!(s, "|---|---|---|---|--:|{}", "--:|".repeat(heads.len()));
        let mut notes = Notes::default();
        for ((scenario, workload, transport, profile), cells) in rows {
            let vals: Vec<String> = t
                .columns
                .iter()
                .map(|col| {
                    let v = median(cells.iter().filter_map(|c| (col.extract)(c)).collect());
                    match col.latency {
                        Some(lm) => latency_text(
                            v,
                            crate::figures::gap(cells, lm).as_deref(),
                            crate::figures::lost_fraction(cells),
                            &mut notes,
                        ),
                        None => fmt_opt(v, col.fmt),
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "| {scenario} | {workload} | {transport} | {profile} | {} | {} |",
                cells.len(),
                vals.join(" | ")
            );
        }
        s.push_str(&notes.markdown());
    }
    s
}

/// Renders the Markdown summary: one table row per cell key (medians over repeats), then
/// failed and skipped cells with their reasons, never hidden.
pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    header_markdown(&mut s, r);
    s.push_str(&crate::answer::Answer::of(r).markdown());
    s.push_str(&crate::verdicts::markdown(&crate::verdicts::read(r)));
    thresholds_markdown(&mut s, r);
    rows_markdown(&mut s, r);
    s.push_str(&workload_markdown(r));
    s.push_str(&browser_markdown(r));
    failures_markdown(&mut s, r);
    harness_bound_markdown(&mut s, r);
    crate::format::pad_tables(&s)
}

/// The scenarios' `[thresholds]`, each checked on every cell it names.
fn thresholds_markdown(s: &mut String, r: &Results) {
    if r.thresholds.is_empty() {
        return;
    }
    s.push_str("\n## Thresholds\n\n");
    match crate::thresholds::check(r) {
        Ok(checks) => s.push_str(&crate::thresholds::markdown(&checks, true)),
        Err(e) => {
            let _ = writeln!(s, "The thresholds cannot be read: {e}");
        }
    }
}

/// `scenario/workload/transport/profile #repeat`: one repeat of a cell as the lists name it.
fn repeat_label(c: &Cell) -> String {
    let (scenario, workload, transport, profile) = c.key();
    format!("{scenario}/{workload}/{transport}/{profile} #{}", c.repeat)
}

/// The ok cells whose open-loop sender could not keep its schedule, with the figures, so a
/// reader knows which latencies measure the load generator; verdicts do not read them.
pub fn harness_bound_lines(r: &Results) -> Vec<String> {
    r.cells
        .iter()
        .filter_map(|c| {
            let b = c.harness_bound.as_ref()?;
            Some(format!("{}: {}", repeat_label(c), b.reason))
        })
        .collect()
}

/// The cells whose link emulator released a packet more than 1 ms late
/// ([`crate::model::EmulatorFigures::over_bound`]), with its figures.
pub fn emulator_over_bound_lines(r: &Results) -> Vec<String> {
    r.cells
        .iter()
        .filter_map(|c| {
            let e = c.emulator.as_ref().filter(|e| e.over_bound)?;
            Some(format!(
                "{}: release lateness mean {:.1} µs, max {:.0} µs over {} packets",
                repeat_label(c),
                e.release_lateness_mean_us.unwrap_or(0.0),
                e.release_lateness_max_us.unwrap_or(0.0),
                e.packets
            ))
        })
        .collect()
}

fn harness_bound_markdown(s: &mut String, r: &Results) {
    let lines = harness_bound_lines(r);
    if !lines.is_empty() {
        let _ = writeln!(
            s,
            "\n## Harness-bound cells\n\nThe load generator, not the transport, set these \
             cells' pace; their figures are in the table above and no verdict reads them.\n"
        );
        if let Some(st) = r.host.settle.as_ref().filter(|st| !st.settled) {
            let _ = writeln!(
                s,
                "The machine was busy when the run started: timer wake-ups {} µs late at p99 \
                 (limit {} µs). `wirebench run --settle SECS` waits for it to quiet down.\n",
                st.timer_lateness_p99_us, st.limit_us
            );
        }
        for l in lines {
            let _ = writeln!(s, "- {l}");
        }
    }
    let lines = emulator_over_bound_lines(r);
    if !lines.is_empty() {
        let _ = writeln!(
            s,
            "\n## Emulator timing over 1 ms\n\nThe link emulator released some packet of \
             these cells more than 1 ms after its time: that error is part of their tails.\n"
        );
        for l in lines {
            let _ = writeln!(s, "- {l}");
        }
    }
}

/// The title, the run's provenance and the cell counts.
fn header_markdown(s: &mut String, r: &Results) {
    let _ = writeln!(s, "# wirebench results\n");
    let _ = writeln!(
        s,
        "wirebench {} ({}), started {}, host {} ({} CPUs, kernel {}{}), netem backend `{}`.\n",
        r.version,
        r.git.as_deref().unwrap_or("unknown git"),
        r.started_at,
        r.host.hostname.as_deref().unwrap_or("?"),
        r.host.cpus,
        r.host.kernel.as_deref().unwrap_or("?"),
        r.host
            .tcp_congestion_control
            .as_deref()
            .map(|cc| format!(", TCP congestion control `{cc}`"))
            .unwrap_or_default(),
        r.netem_backend
    );
    let ok = r.cells.iter().filter(|c| c.status == Status::Ok).count();
    let _ = writeln!(
        s,
        "{} cells: {} ok, {} failed, {} skipped. Figures are medians over repeats.\n",
        r.cells.len(),
        ok,
        r.cells
            .iter()
            .filter(|c| c.status == Status::Failed)
            .count(),
        r.cells
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count()
    );
}

/// The main table: one row per cell key, medians over repeats.
fn rows_markdown(s: &mut String, r: &Results) {
    let rows = rows(r);
    if !rows.is_empty() {
        let _ = writeln!(
            s,
            "\n## Every cell key\n\nMedians over repeats.\n\n\
             | scenario | workload | transport | profile | n | p50 | p99 | msgs/s | goodput | setup | lost |"
        );
        let _ = writeln!(s, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|");
        let mut notes = Notes::default();
        for row in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                row.workload,
                row.transport,
                row.profile,
                row.repeats,
                row.p50_text(&mut notes),
                row.p99_text(&mut notes),
                fmt_opt(row.msgs_per_s, m::MSGS_PER_S.format),
                fmt_opt(row.goodput_bps, m::GOODPUT.format),
                fmt_opt(row.setup_ms, m::SETUP_MS.format),
                row.lost
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "–".into()),
            );
        }
        s.push_str(&notes.markdown());
    }
}

/// Failed and skipped cells with their reasons, never hidden.
fn failures_markdown(s: &mut String, r: &Results) {
    let bad: Vec<&Cell> = r.cells.iter().filter(|c| c.status != Status::Ok).collect();
    if !bad.is_empty() {
        let _ = writeln!(s, "\n## Failed and skipped cells\n");
        for c in bad {
            let _ = writeln!(
                s,
                "- {} {}/{}/{}/{} #{}: {}",
                match c.status {
                    Status::Failed => "FAILED",
                    _ => "skipped",
                },
                c.scenario,
                c.workload_name(),
                c.transport,
                c.profile,
                c.repeat,
                c.error.as_deref().unwrap_or("no reason recorded")
            );
        }
    }
}
