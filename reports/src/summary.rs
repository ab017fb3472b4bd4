//! `summary.md`: the Markdown summary of a run (also used for PR comments).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Cell, Results, Status};

/// Median of a list of values (mean of the two middle ones for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
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

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "–".to_string())
}

/// Formats microseconds for people: `87 µs`, `1.25 ms`, `3.2 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// Formats bits per second: `940 Mbit/s`.
pub fn fmt_bps(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.1} Mbit/s", bps / 1e6)
    } else {
        format!("{:.1} kbit/s", bps / 1e3)
    }
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
}

/// Summary rows, one per cell key, in run order.
pub fn rows(r: &Results) -> Vec<Row> {
    group_ok(r)
        .into_iter()
        .map(|((scenario, workload, transport, profile), cells)| {
            let pick = |f: &dyn Fn(&Cell) -> Option<f64>| {
                median(cells.iter().filter_map(|c| f(c)).collect())
            };
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
                p50_us: pick(&|c| c.latency_us.as_ref().map(|l| l.p50 as f64)),
                p99_us: pick(&|c| c.latency_us.as_ref().map(|l| l.p99 as f64)),
                goodput_bps: pick(&|c| c.throughput.as_ref().and_then(|t| t.goodput_bps)),
                msgs_per_s: pick(&|c| c.throughput.as_ref().and_then(|t| t.msgs_per_s)),
                setup_ms: pick(&|c| c.setup_ms),
                lost: (!lost.is_empty()).then(|| lost.iter().sum()),
            }
        })
        .collect()
}

/// Renders the Markdown summary: one table row per cell key (medians over repeats), then
/// failed and skipped cells with their reasons, never hidden.
pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# wirebench results\n");
    let _ = writeln!(
        s,
        "wirebench {} ({}), started {}, host {} ({} CPUs, kernel {}), netem backend `{}`.\n",
        r.version,
        r.git.as_deref().unwrap_or("unknown git"),
        r.started_at,
        r.host.hostname.as_deref().unwrap_or("?"),
        r.host.cpus,
        r.host.kernel.as_deref().unwrap_or("?"),
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
    s.push_str(&crate::verdicts::markdown(&crate::verdicts::read(r)));
    let rows = rows(r);
    if !rows.is_empty() {
        let _ = writeln!(
            s,
            "| scenario | workload | transport | profile | n | p50 | p99 | msgs/s | goodput | setup | lost |"
        );
        let _ = writeln!(s, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|");
        for row in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                row.workload,
                row.transport,
                row.profile,
                row.repeats,
                fmt_opt(row.p50_us, fmt_us),
                fmt_opt(row.p99_us, fmt_us),
                fmt_opt(row.msgs_per_s, |v| format!("{v:.0}")),
                fmt_opt(row.goodput_bps, fmt_bps),
                fmt_opt(row.setup_ms, |v| format!("{v:.2} ms")),
                row.lost
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "–".into()),
            );
        }
    }
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
    s
}
