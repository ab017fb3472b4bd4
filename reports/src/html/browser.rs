//! report.html's browser lane: the Rust client and the browser side by side, and the
//! per-origin connection limit.

use std::fmt::Write as _;

use crate::format::escape;
use crate::metrics as m;
use crate::model::{Cell, OriginLimit, Results};
use crate::summary::{origin_http, versus, Row, Versus};

use super::tables::latency_cell;

/// The browser lane section of report.html; nothing when the run had no browser cells.
pub(super) fn browser_lane(h: &mut String, r: &Results) {
    let v = versus(r);
    let limits: Vec<_> = r
        .cells
        .iter()
        .filter_map(|c| Some((c, c.browser.as_ref()?.origin_limit.as_ref()?)))
        .collect();
    if v.is_empty() && limits.is_empty() {
        return;
    }
    h.push_str("<section id=\"browser\"><h2>Rust vs browser</h2>\n");
    if !v.is_empty() {
        versus_table(h, &v);
    }
    if !limits.is_empty() {
        origin_limit_table(h, limits);
    }
    h.push_str("</section>\n");
}

/// The Rust vs browser table: the same key measured with both clients, side by side.
fn versus_table(h: &mut String, v: &[Versus]) {
    h.push_str(
        "<p class=\"note\">The same workload, transport and profile with the Rust client and \
         with headless Chromium; medians over repeats. The browser's figures include its \
         timers, network stack and connection pool. WebRTC's Rust figures are str0m on both \
         ends, the server the browser talks to.</p>\n<div class=\"wide\"><table \
         class=\"versus\"><tr><th>workload</th><th>transport</th><th>profile</th>\
         <th>p50 Rust</th><th>p50 browser</th><th>p99 Rust</th><th>p99 browser</th>\
         <th>goodput Rust</th><th>goodput browser</th>\
         <th>setup Rust</th><th>setup browser</th></tr>\n",
    );
    let td = |v: Option<f64>, f: &dyn Fn(f64) -> String| {
        format!(
            "<td class=\"num\">{}</td>",
            v.map_or("–".to_string(), |v| escape(&f(v)))
        )
    };
    let (bps, ms) = (m::GOODPUT.format, m::SETUP_MS.format);
    for x in v {
        let rust = |f: &dyn Fn(&Row) -> Option<f64>| x.rust.as_ref().and_then(f);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}{}{}{}{}{}{}{}</tr>",
            escape(&x.browser.workload),
            escape(&x.browser.transport),
            escape(&x.browser.profile),
            row_latency(x.rust.as_ref(), false),
            row_latency(Some(&x.browser), false),
            row_latency(x.rust.as_ref(), true),
            row_latency(Some(&x.browser), true),
            td(rust(&|r| r.goodput_bps), &bps),
            td(x.browser.goodput_bps, &bps),
            td(rust(&|r| r.setup_ms), &ms),
            td(x.browser.setup_ms, &ms),
        );
    }
    h.push_str("</table></div>\n");
}

/// A row's p50 (or p99) cell: the value, its loss, why it is null (hover).
fn row_latency(row: Option<&Row>, p99: bool) -> String {
    let (value, gap) = match row {
        Some(r) if p99 => (r.p99_us, r.p99_gap.as_deref()),
        Some(r) => (r.p50_us, r.p50_gap.as_deref()),
        None => (None, None),
    };
    latency_cell(
        value.map_or("–".to_string(), |v| escape(&m::LATENCY_P50.show(v))),
        gap,
        row.and_then(|r| r.lost_fraction),
    )
}

/// The per-origin connection limit table: one row per browser cell that measured it.
fn origin_limit_table(h: &mut String, limits: Vec<(&Cell, &OriginLimit)>) {
    h.push_str(
        "<h3>Per-origin connection limit</h3>\n<p class=\"note\">N streams opened at once \
         to one origin; time to each one's first event (sse) or response (long-poll). \
         <i>concurrent</i>: streams served before one was released. <i>HTTP</i>: the \
         version the browser negotiated (HTTP/1.1: six connections per origin; HTTP/2: one \
         connection, as many streams as the server allows).</p>\n<div class=\"wide\">\
         <table class=\"origin-limit\"><tr><th>transport</th><th>HTTP</th><th>profile</th>\
         <th>repeat</th>\
         <th>concurrent</th><th>hold</th><th>first event per stream</th></tr>\n",
    );
    for (c, ol) in limits {
        let firsts: Vec<String> = ol
            .per_stream
            .iter()
            .map(|s| match s.first_ms {
                Some(ms) => format!("{}: {ms:.0} ms", s.stream),
                None => format!("{}: never", s.stream),
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} of {}</td>\
             <td class=\"num\">{} ms</td><td>{}</td></tr>",
            escape(&c.transport_name()),
            escape(&origin_http(c, ol.protocol.as_deref())),
            escape(&c.profile),
            c.repeat,
            ol.concurrent,
            ol.streams,
            ol.hold_ms,
            escape(&firsts.join(", "))
        );
    }
    h.push_str("</table></div>\n");
}
