//! report.html's tables: figures with spreads, workload figures, cells not ok, setup round
//! trips, delivery.

use std::fmt::Write as _;

pub(super) use crate::figures::variant;
use crate::figures::{self, KeyCells, Spread};
use crate::format::{escape, lost_pct};
use crate::metrics::{self as m, Metric};
use crate::model::Status;
use crate::plots::{self};

/// White stripes over a swatch of a variant other than 0, as over its bars.
const HATCH_CSS: &str =
    "repeating-linear-gradient(135deg,transparent 0 3px,rgba(255,255,255,.75) 3px 5px)";

/// A transport's colour swatch: solid for variant 0, hatched for the others ([`variant`]).
pub(super) fn swatch(transport: &str, variant: usize) -> String {
    let c = plots::css_color(plots::transport_color(transport));
    if variant == 0 {
        format!("<i class=\"sw\" style=\"background:{c}\"></i>")
    } else {
        format!("<i class=\"sw hatched\" style=\"background:{HATCH_CSS} {c}\"></i>")
    }
}

/// A short line in the transport's colour, solid, dashed or dotted as its chart lines.
pub(super) fn line_sample(transport: &str, variant: usize) -> String {
    let c = plots::css_color(plots::transport_color(transport));
    let style = match variant {
        0 => "solid",
        1 => "dashed",
        _ => "dotted",
    };
    format!(
        "<i class=\"ln\" style=\"display:inline-block;width:20px;height:0;vertical-align:4px;\
         margin-right:5px;border-top:2px {style} {c}\"></i>"
    )
}

pub(super) fn status_class(k: &KeyCells<'_>) -> &'static str {
    if !k.ok.is_empty() {
        ""
    } else if !k.failed.is_empty() {
        " class=\"failed\""
    } else {
        " class=\"skipped\""
    }
}

/// A table cell with the median and, when repeats differ, the min–max range below it.
pub(super) fn spread_td(s: Option<Spread>, f: &dyn Fn(f64) -> String) -> String {
    format!("<td class=\"num\">{}</td>", spread_html(s, f))
}

/// The content of [`spread_td`]: the median (`–` when none) and the range when repeats differ.
pub(super) fn spread_html(s: Option<Spread>, f: &dyn Fn(f64) -> String) -> String {
    match s {
        None => "–".into(),
        Some(s) if f(s.max) != f(s.min) => format!(
            "{}<small>{}</small>",
            escape(&f(s.median)),
            escape(&range_text(&f(s.min), &f(s.max)))
        ),
        Some(s) => escape(&f(s.median)),
    }
}

/// A latency table cell: `inner` (HTML), the loss of a lossy row below it (`4.1 % lost`), and
/// why the figure is null as the cell's hover text (`title`, the cell underlined dotted).
pub(super) fn latency_cell(inner: String, gap: Option<&str>, lost: Option<f64>) -> String {
    let loss = lost
        .filter(|f| *f > 0.0)
        .map(|f| format!("<small class=\"lost\">{}</small>", escape(&lost_pct(f))))
        .unwrap_or_default();
    match gap {
        Some(g) => format!(
            "<td class=\"num gap\" title=\"{}\">{inner}{loss}</td>",
            escape(&format!("– : {g}"))
        ),
        None => format!("<td class=\"num\">{inner}{loss}</td>"),
    }
}

/// A latency percentile of a key: median and range, the key's loss, why it is null.
pub(super) fn latency_td(k: &KeyCells<'_>, metric: &Metric) -> String {
    latency_cell(
        spread_html(k.spread(metric), &metric.format),
        k.gap(metric).as_deref(),
        k.lost_fraction(),
    )
}

/// A table cell of one metric of a key: its median and spread, printed as the catalogue says.
pub(super) fn metric_td(k: &KeyCells<'_>, metric: &Metric) -> String {
    spread_td(k.spread(metric), &metric.format)
}

/// `54.1–56.1 ms` rather than `54.1 ms–56.1 ms` when both ends carry the same unit.
pub(super) fn range_text(lo: &str, hi: &str) -> String {
    match (lo.rsplit_once(' '), hi.rsplit_once(' ')) {
        (Some((a, ua)), Some((_, ub))) if ua == ub => format!("{a}–{hi}"),
        _ => format!("{lo}–{hi}"),
    }
}

pub(super) fn figures_table(h: &mut String, keys: &[&KeyCells<'_>]) {
    h.push_str(
        "<div class=\"wide\"><table class=\"figures\"><tr><th>transport</th><th>profile</th>\
         <th>repeats ok</th><th>p50</th><th>p99</th><th>p99.9</th><th>msgs/s</th>\
         <th>goodput</th><th>setup</th><th>lost</th><th>server CPU</th><th>RSS / conn</th>\
         <th>overhead</th></tr>\n",
    );
    for k in keys {
        let total = k.ok.len() + k.failed.len() + k.skipped.len();
        let lost = k
            .delivery()
            .map(|d| d.lost.to_string())
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            h,
            "<tr{}><td>{}{}</td><td>{}</td>\
             <td class=\"num\">{}/{}</td>{}{}{}{}{}{}<td class=\"num\">{}</td>{}{}{}</tr>",
            status_class(k),
            swatch(k.transport, variant(keys, k)),
            escape(&k.transport_name()),
            escape(k.profile),
            k.ok.len(),
            total,
            latency_td(k, m::LATENCY_P50),
            latency_td(k, m::LATENCY_P99),
            latency_td(k, m::LATENCY_P999),
            metric_td(k, m::MSGS_PER_S),
            metric_td(k, m::GOODPUT),
            metric_td(k, m::SETUP_MS),
            lost,
            metric_td(k, m::SERVER_CPU),
            metric_td(k, m::SERVER_RSS_PER_CONN),
            metric_td(k, m::OVERHEAD),
        );
    }
    h.push_str("</table></div>\n");
}

/// The tables of the figures only idle and flap have ([`figures::WORKLOAD_TABLES`]).
pub(super) fn workload_tables(h: &mut String, keys: &[&KeyCells<'_>]) {
    for t in figures::WORKLOAD_TABLES {
        let rows: Vec<_> = keys
            .iter()
            .filter(|k| k.ok.iter().any(|c| (t.has)(c)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h3>{}</h3>\n<p class=\"note\">{}</p>\n<div class=\"wide\"><table \
             class=\"workload\"><tr><th>transport</th><th>profile</th>",
            escape(t.title),
            escape(t.note)
        );
        for col in t.columns {
            let _ = write!(h, "<th>{}</th>", escape(col.header));
        }
        h.push_str("</tr>\n");
        for k in rows {
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td>{}</td>",
                status_class(k),
                escape(&k.transport_name()),
                escape(k.profile)
            );
            for col in t.columns {
                h.push_str(&match col.latency {
                    Some(lm) => latency_cell(
                        spread_html(k.spread_of(col.extract), &col.fmt),
                        k.gap(lm).as_deref(),
                        k.lost_fraction(),
                    ),
                    None => spread_td(k.spread_of(col.extract), &col.fmt),
                });
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n");
    }
}

pub(super) fn not_ok_table(h: &mut String, keys: &[&KeyCells<'_>]) {
    let cells: Vec<_> = keys.iter().flat_map(|k| k.not_ok()).collect();
    if cells.is_empty() {
        return;
    }
    h.push_str(
        "<h3>Failed and skipped cells</h3>\n<div class=\"wide\"><table class=\"not-ok\"><tr>\
         <th>transport</th><th>profile</th><th>repeat</th><th>status</th><th>reason</th>\
         <th>errors by kind</th></tr>\n",
    );
    for c in cells {
        let (class, word) = match c.status {
            Status::Failed => ("failed", "FAILED"),
            _ => ("skipped", "skipped"),
        };
        let errors: Vec<String> = c.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(
            h,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"status-{class}\">{word}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.transport),
            escape(&c.profile),
            c.repeat,
            escape(c.error.as_deref().unwrap_or("no reason recorded")),
            if errors.is_empty() {
                "–".into()
            } else {
                escape(&errors.join(", "))
            }
        );
    }
    h.push_str("</table></div>\n");
}

/// Cells whose load generator, not the transport, set the pace ([`Cell::harness_bound`]):
/// their figures are shown but no verdict reads them.
pub(super) fn harness_bound_table(h: &mut String, keys: &[&KeyCells<'_>]) {
    let cells: Vec<_> = keys
        .iter()
        .flat_map(|k| k.ok.iter().filter(|c| c.is_harness_bound()))
        .collect();
    if cells.is_empty() {
        return;
    }
    h.push_str(
        "<h3>Harness-bound cells</h3>\n<p class=\"note\">The open-loop sender could not keep \
         its schedule: these figures measure the load generator as much as the transport, and \
         verdicts treat them as inconclusive.</p>\n<div class=\"wide\"><table class=\"not-ok\">\
         <tr><th>transport</th><th>profile</th><th>repeat</th><th>reason</th></tr>\n",
    );
    for c in cells {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&c.transport_name()),
            escape(&c.profile),
            c.repeat,
            escape(c.harness_bound.as_ref().map_or("", |b| b.reason.as_str())),
        );
    }
    h.push_str("</table></div>\n");
}

pub(super) fn setup_table(h: &mut String, keys: &[&KeyCells<'_>]) {
    let any = keys
        .iter()
        .any(|k| k.spread(m::SETUP_MS).is_some() || k.spread(m::SETUP_RTTS).is_some());
    if !any {
        h.push_str("<p class=\"note\">No setup time recorded in this scenario (–).</p>\n");
        return;
    }
    h.push_str(
        "<div class=\"wide\"><table class=\"setup\"><tr><th>transport</th><th>profile</th>\
         <th>setup</th><th>measured round trips</th><th>protocol predicts</th><th>where the \
         round trips go</th></tr>\n",
    );
    for k in keys {
        let pred = k.predicted_setup();
        let _ = writeln!(
            h,
            "<tr{}><td>{}</td><td>{}</td>{}{}<td class=\"num\">{}</td><td>{}</td></tr>",
            status_class(k),
            escape(&k.transport_name()),
            escape(k.profile),
            metric_td(k, m::SETUP_MS),
            metric_td(k, m::SETUP_RTTS),
            pred.as_ref()
                .map(|p| format!("{}{}", if p.approximate { "≈ " } else { "" }, p.rtts))
                .unwrap_or_else(|| "–".into()),
            pred.as_ref()
                .map(|p| escape(&p.basis))
                .unwrap_or_else(|| "–".into()),
        );
    }
    h.push_str(
        "</table></div><p class=\"note\">Measured round trips = setup time / the profile's \
         configured RTT (– on an unshaped link). The prediction is what the protocol needs, \
         not a measurement.</p>\n",
    );
}

pub(super) fn delivery_table(h: &mut String, keys: &[&KeyCells<'_>]) {
    let rows: Vec<_> = keys
        .iter()
        .filter_map(|k| k.delivery().map(|d| (k, d)))
        .collect();
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<h3>Delivery</h3>\n<div class=\"wide\"><table class=\"delivery\"><tr><th>transport</th>\
         <th>profile</th><th>sent</th><th>received</th><th>lost</th><th>duplicated</th>\
         <th>reordered</th></tr>\n",
    );
    for (k, d) in rows {
        let pct = |v: u64| {
            if d.sent > 0 && v > 0 {
                format!("{v}<small>{:.3}%</small>", v as f64 * 100.0 / d.sent as f64)
            } else {
                v.to_string()
            }
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&k.transport_name()),
            escape(k.profile),
            d.sent,
            d.received,
            pct(d.lost),
            pct(d.duplicated),
            pct(d.reordered)
        );
    }
    h.push_str(
        "</table></div><p class=\"note\">Summed over the ok repeats, warm-up excluded; \
         percentages of frames sent.</p>\n",
    );
}

pub(super) fn json_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "–".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}
