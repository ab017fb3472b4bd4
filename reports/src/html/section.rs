//! One section of report.html per (scenario, workload): latency spectrum and CDF, metric bar
//! charts and their tick formatters.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::figures::{self, distinct, KeyCells};
use crate::format::{escape, fmt_bps, lost_pct};
use crate::metrics::{self as m, Metric, MetricKind};
use crate::plots::{self, BarRow, BarValue, Bars, Line};

use super::error::ReportError;
use super::tables::*;

pub(super) fn figure(h: &mut String, id: &str, svg: &str) {
    figure_titled(h, id, "", svg);
}

/// A chart with a hover text (`title`, left out when empty): what the chart cannot show, such
/// as the loss beside a lossy transport's latency and why a percentile is null.
pub(super) fn figure_titled(h: &mut String, id: &str, title: &str, svg: &str) {
    let title = if title.is_empty() {
        String::new()
    } else {
        format!(" title=\"{}\"", escape(title))
    };
    let _ = writeln!(
        h,
        "<figure class=\"chart\" data-chart=\"{}\"{title}>{svg}</figure>",
        escape(id)
    );
}

/// Merged histogram of a key's ok repeats; decode failures are returned as messages.
pub(super) fn merged(k: &KeyCells<'_>) -> (Option<Histogram<u64>>, Vec<String>) {
    let mut errors = Vec::new();
    let mut acc: Option<Histogram<u64>> = None;
    for c in &k.ok {
        let Some(l) = c.latency_us.as_ref() else {
            continue;
        };
        match l.histogram() {
            Ok(hist) => {
                let target = match acc.as_mut() {
                    Some(a) => a,
                    None => match Histogram::<u64>::new(3) {
                        Ok(a) => acc.insert(a),
                        Err(e) => {
                            errors.push(format!("{e:?}"));
                            continue;
                        }
                    },
                };
                if let Err(e) = target.add(&hist) {
                    errors.push(format!("repeat {}: {e:?}", c.repeat));
                }
            }
            Err(e) => errors.push(format!("repeat {}: {e}", c.repeat)),
        }
    }
    (acc.filter(|a| !a.is_empty()), errors)
}

/// Percentile spectrum points (1/(1−p), µs), 20 per decade, ending at the maximum of the
/// delivered frames. `lost` frames (never arrived) rank after every delivered one: with loss
/// the percentiles are over all frames and the line ends where the delivered fraction does.
pub(super) fn spectrum_points(h: &Histogram<u64>, lost: u64) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    let total = n + lost as f64;
    // Where the delivered frames end on the 1/(1−p) axis (all frames counted).
    let end = if lost == 0 { n } else { total / lost as f64 };
    let mut pts = Vec::new();
    for k in 0..=200 {
        let x = 10f64.powf(f64::from(k) / 20.0);
        if x > end.min(total) {
            break;
        }
        let q = 1.0 - 1.0 / x;
        let q = if lost == 0 {
            q
        } else {
            (q * total / n).min(1.0)
        };
        pts.push((x, h.value_at_quantile(q) as f64));
    }
    if n > 1.0 {
        pts.push((end.min(total), h.max() as f64));
    }
    pts
}

/// CDF points (µs, % of frames ≤): with `lost` frames the curve tops out at the delivered
/// share.
pub(super) fn cdf_points(h: &Histogram<u64>, lost: u64) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    let share = if lost == 0 {
        1.0
    } else {
        n / (n + lost as f64)
    };
    let mut pts = vec![(h.min() as f64, 0.0)];
    for i in 0..=200 {
        let q = f64::from(i) / 200.0;
        pts.push((h.value_at_quantile(q) as f64, q * 100.0 * share));
    }
    pts
}

/// Frames lost over a key's ok repeats that have a latency.
fn lost_frames(k: &KeyCells<'_>) -> u64 {
    k.ok.iter()
        .filter_map(|c| c.latency_us.as_ref())
        .map(|l| l.lost)
        .sum()
}

/// `name · profile` (the profile only with several) with the key's loss: `(4.1 % lost)`.
fn lossy_name(k: &KeyCells<'_>, name: String) -> String {
    match k.lost_fraction().filter(|f| *f > 0.0) {
        Some(f) => format!("{name} ({})", lost_pct(f)),
        None => name,
    }
}

/// What the latency charts cannot show, one line per lossy key and null p50 or p99 (the
/// bars'; p99.9's reasons are on the table's hover): their hover text.
fn latency_hover(keys: &[&KeyCells<'_>]) -> String {
    let mut lines = Vec::new();
    for k in keys {
        let who = format!("{} · {}", k.transport_name(), k.profile);
        if let Some(f) = k.lost_fraction().filter(|f| *f > 0.0) {
            lines.push(format!(
                "{who}: {} (ranked after every delivered frame)",
                lost_pct(f)
            ));
        }
        for m in [m::LATENCY_P50, m::LATENCY_P99] {
            if let Some(g) = k.gap(m) {
                lines.push(format!("{who}: {} – : {g}", m.label));
            }
        }
    }
    lines.join("\n")
}

/// A short reason for a bar drawn as `–`.
fn short_gap(gap: &str) -> &'static str {
    if gap.contains("needs at least") {
        "too few samples"
    } else {
        "beyond the lost frames"
    }
}

pub(super) fn row_label(k: &KeyCells<'_>, profiles: usize) -> String {
    if profiles > 1 {
        format!("{} · {}", k.transport_name(), k.profile)
    } else {
        k.transport_name()
    }
}

pub(super) fn note_for(k: &KeyCells<'_>) -> String {
    if k.ok.is_empty() {
        if !k.failed.is_empty() {
            "failed (see table)".into()
        } else {
            "skipped (see table)".into()
        }
    } else {
        "– (not measured)".into()
    }
}

pub(super) fn metric_bars(
    keys: &[&KeyCells<'_>],
    metric: &Metric,
    back: Option<&Metric>,
    profiles: usize,
) -> (Vec<BarRow>, bool) {
    let predicted = metric.id == m::SETUP_RTTS.id;
    let mut any = false;
    let rows = keys
        .iter()
        .map(|k| {
            let value = k.spread(metric).map(BarValue::from);
            let back_value = back.and_then(|b| k.spread(b)).map(BarValue::from);
            any |= value.is_some() || back_value.is_some();
            let note = match k.gap(metric) {
                Some(g) if value.is_none() => format!("– ({})", short_gap(&g)),
                _ => note_for(k),
            };
            BarRow {
                label: row_label(k, profiles),
                color: plots::transport_color(k.transport),
                value,
                back: back_value,
                note: Some(note),
                marker: if predicted {
                    figures::predicted_setup(k.transport, k.plaintext()).map(|p| p.rtts)
                } else {
                    None
                },
                suffix: latency_suffix(k, metric, back, value.is_some() && back_value.is_none()),
            }
        })
        .collect();
    (rows, any)
}

/// The text after a latency bar's value: `p99 –` when the pale bar is null, and the key's
/// loss (`4.1 % lost`).
fn latency_suffix(
    k: &KeyCells<'_>,
    metric: &Metric,
    back: Option<&Metric>,
    back_missing: bool,
) -> Option<String> {
    if metric.kind != MetricKind::Latency {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(b) = back.filter(|b| back_missing && k.gap(b).is_some()) {
        parts.push(format!(
            "{} –",
            b.label.split(' ').next().unwrap_or(b.label)
        ));
    }
    if let Some(f) = k.lost_fraction().filter(|f| *f > 0.0) {
        parts.push(lost_pct(f));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// One section of report.html: header, tables, latency charts and the metric bar charts.
pub(super) fn section(
    h: &mut String,
    scenario: &str,
    workload: &str,
    keys: &[&KeyCells<'_>],
) -> Result<(), ReportError> {
    let title = section_title(scenario, workload);
    let profiles = distinct(keys.iter().map(|k| k.profile));
    section_header(h, scenario, workload, &title, keys);
    not_ok_table(h, keys);
    figures_table(h, keys);
    workload_tables(h, keys);
    // Below the figures it qualifies: a long list must not push the numbers out of view.
    harness_bound_table(h, keys);
    let aid = anchor(scenario, workload);
    latency_part(h, &title, &aid, &profiles, keys)?;
    metric_groups(h, &title, &aid, profiles.len(), keys)?;
    delivery_table(h, keys);
    h.push_str("</section>\n");
    Ok(())
}

/// Opens the section: title, the workload's scalar params, legend and repeat counts.
fn section_header(
    h: &mut String,
    scenario: &str,
    workload: &str,
    title: &str,
    keys: &[&KeyCells<'_>],
) {
    let transports = distinct(keys.iter().map(|k| k.transport));
    let first = keys
        .iter()
        .flat_map(|k| k.ok.iter().chain(k.not_ok()))
        .next();
    let _ = writeln!(
        h,
        "<section id=\"{}\"><h2>{}</h2>",
        anchor(scenario, workload),
        escape(title)
    );
    if let Some(c) = first {
        // Scalars only: structured params (the link profile's settings) differ per profile and
        // would overflow the line; the profile names are in the environment table.
        let params: Vec<String> = c
            .params
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, v)| format!("{}={}", k, json_text(Some(v))))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"meta\">workload <code>{}</code>{}{}</p>",
            escape(&c.workload),
            if params.is_empty() { "" } else { " · " },
            escape(&params.join(" · "))
        );
    }
    let ok: usize = keys.iter().map(|k| k.ok.len()).sum();
    let failed: usize = keys.iter().map(|k| k.failed.len()).sum();
    let skipped: usize = keys.iter().map(|k| k.skipped.len()).sum();
    let _ = writeln!(
        h,
        "<div class=\"legend\">{}</div><p class=\"meta\">{} ok repeats{}{}</p>",
        legend_html(&transports),
        ok,
        if failed > 0 {
            format!(", <span class=\"status-failed\">{failed} failed</span>")
        } else {
            String::new()
        },
        if skipped > 0 {
            format!(", <span class=\"status-skipped\">{skipped} skipped</span>")
        } else {
            String::new()
        },
    );
}

/// The Latency part: spectrum + CDF per profile, the p50/p99 bars, and notes on missing or
/// unreadable histograms.
fn latency_part(
    h: &mut String,
    title: &str,
    aid: &str,
    profiles: &[&str],
    keys: &[&KeyCells<'_>],
) -> Result<(), ReportError> {
    let mut notes: Vec<String> = Vec::new();
    let latency_figs = latency_charts(title, aid, profiles, keys, &mut notes)?;
    let np = profiles.len();
    let mut bars_figs = String::new();
    let (rows, any) = metric_bars(keys, m::LATENCY_P50, Some(m::LATENCY_P99), np);
    if any {
        let t = format!("{title}: p50 (solid) and p99 (pale) latency");
        let svg = plots::bars(&Bars {
            title: &t,
            x_desc: "latency (log) · whiskers: min–max over repeats",
            log: true,
            fmt: &plots::tick_us,
            rows: &rows,
        })?;
        let id = format!("{aid}-p50p99");
        figure_titled(&mut bars_figs, &id, &latency_hover(keys), &svg);
    }
    h.push_str("<h3>Latency</h3>\n");
    if latency_figs.is_empty() && bars_figs.is_empty() {
        h.push_str("<p class=\"note\">No latency recorded in this scenario (–).</p>\n");
    } else {
        let _ = writeln!(h, "<div class=\"grid\">{latency_figs}{bars_figs}</div>");
    }
    let nothing = latency_figs.is_empty() && bars_figs.is_empty();
    if !nothing {
        notes.extend(loss_note(keys));
    }
    for n in notes
        .iter()
        .filter(|n| !nothing || n.contains("not readable"))
    {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(n));
    }
    Ok(())
}

/// The percentile spectrum and the CDF of each profile, with the lossy keys and null
/// percentiles of that profile as their hover text.
fn latency_charts(
    title: &str,
    aid: &str,
    profiles: &[&str],
    keys: &[&KeyCells<'_>],
    notes: &mut Vec<String>,
) -> Result<String, ReportError> {
    let mut figs = String::new();
    for p in profiles {
        let (lines_s, lines_c) = latency_lines(keys, p, notes);
        if lines_s.is_empty() {
            continue;
        }
        let here: Vec<&KeyCells<'_>> = keys.iter().copied().filter(|k| k.profile == *p).collect();
        let hover = latency_hover(&here);
        let t = format!("{title} · {p}: latency percentile spectrum");
        let id = format!("{aid}-spectrum-{p}");
        figure_titled(&mut figs, &id, &hover, &plots::spectrum(&t, &lines_s)?);
        let t = format!("{title} · {p}: latency CDF");
        let id = format!("{aid}-cdf-{p}");
        figure_titled(&mut figs, &id, &hover, &plots::cdf(&t, &lines_c)?);
    }
    Ok(figs)
}

/// The note under the latency charts of a section with lossy keys: how lost frames count, and
/// each lossy key's loss.
fn loss_note(keys: &[&KeyCells<'_>]) -> Option<String> {
    let lossy: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            let f = k.lost_fraction().filter(|f| *f > 0.0)?;
            Some(format!(
                "{} · {} {}",
                k.transport_name(),
                k.profile,
                lost_pct(f)
            ))
        })
        .collect();
    (!lossy.is_empty()).then(|| {
        format!(
            "Lost frames rank after every delivered one: percentiles are over all frames \
             counted (– where the delivered fraction cannot reach them, the reason on hover) \
             and a lossy line of the CDF tops out at its delivered share. Lost: {}.",
            lossy.join(", ")
        )
    })
}

/// Spectrum and CDF lines of one profile's transports, noting histograms that are missing or
/// not readable.
fn latency_lines(
    keys: &[&KeyCells<'_>],
    p: &str,
    notes: &mut Vec<String>,
) -> (Vec<Line>, Vec<Line>) {
    let mut lines_s = Vec::new();
    let mut lines_c = Vec::new();
    for k in keys.iter().filter(|k| k.profile == p) {
        let (hist, errors) = merged(k);
        for e in errors {
            notes.push(format!(
                "{} · {}: histogram not readable ({e})",
                k.transport_name(),
                k.profile
            ));
        }
        match hist {
            Some(hist) => {
                let color = plots::transport_color(k.transport);
                let (name, lost) = (lossy_name(k, k.transport_name()), lost_frames(k));
                lines_s.push(Line {
                    name: name.clone(),
                    color,
                    points: spectrum_points(&hist, lost),
                });
                lines_c.push(Line {
                    name,
                    color,
                    points: cdf_points(&hist, lost),
                });
            }
            None if !k.ok.is_empty() => notes.push(format!(
                "{} · {}: no latency recorded",
                k.transport_name(),
                k.profile
            )),
            None => {}
        }
    }
    (lines_s, lines_c)
}

/// Throughput, setup, resources: the bar charts of each group, by heading.
const CHART_GROUPS: [(&str, &[ChartSpec]); 3] = [
    (
        "Throughput",
        &[
            (m::GOODPUT, "goodput (bit/s)", false, fmt_bps_tick),
            (
                m::MSGS_PER_S,
                "messages per second (msg/s)",
                false,
                plots::si,
            ),
        ],
    ),
    (
        "Connection setup",
        &[
            (m::SETUP_MS, "setup time (ms)", false, ms_tick),
            (
                m::SETUP_RTTS,
                "round trips of the profile · black tick: protocol's predicted count",
                false,
                rtt_tick,
            ),
        ],
    ),
    (
        "Resources and wire",
        &[
            (m::SERVER_CPU, "server CPU time (s)", false, s_tick),
            (
                m::SERVER_RSS_PER_CONN,
                "server peak RSS per connection (bytes)",
                false,
                plots::bytes,
            ),
            (
                m::OVERHEAD,
                "wire bytes / payload bytes (ratio)",
                false,
                ratio_tick,
            ),
        ],
    ),
];

/// Throughput, setup, resources: one bar chart per metric that has any data (the setup
/// heading and table always).
fn metric_groups(
    h: &mut String,
    title: &str,
    aid: &str,
    np: usize,
    keys: &[&KeyCells<'_>],
) -> Result<(), ReportError> {
    for (heading, metrics) in CHART_GROUPS {
        let mut figs = String::new();
        for (metric, x_desc, log, fmt) in metrics.iter() {
            let (rows, any) = metric_bars(keys, metric, None, np);
            if !any {
                continue;
            }
            let t = format!("{title}: {}", metric.label);
            let svg = plots::bars(&Bars {
                title: &t,
                x_desc,
                log: *log,
                fmt,
                rows: &rows,
            })?;
            figure(&mut figs, &format!("{aid}-{}", metric.id), &svg);
        }
        if heading == "Connection setup" {
            let _ = writeln!(h, "<h3>{heading}</h3>");
            if !figs.is_empty() {
                let _ = writeln!(h, "<div class=\"grid\">{figs}</div>");
            }
            setup_table(h, keys);
        } else if !figs.is_empty() {
            let _ = writeln!(h, "<h3>{heading}</h3>\n<div class=\"grid\">{figs}</div>");
        }
    }
    Ok(())
}

/// A bar chart of one metric: (metric, x axis description, log axis, tick formatter).
pub(super) type ChartSpec = (&'static Metric, &'static str, bool, fn(f64) -> String);

pub(super) fn fmt_bps_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        fmt_bps(v).replace(' ', "")
    }
}
pub(super) fn ms_tick(v: f64) -> String {
    format!("{}ms", plots::trim_num(v))
}
pub(super) fn s_tick(v: f64) -> String {
    format!("{}s", plots::trim_num(v))
}
pub(super) fn rtt_tick(v: f64) -> String {
    format!("{} RTT", plots::trim_num(v))
}
pub(super) fn ratio_tick(v: f64) -> String {
    format!("{}×", plots::trim_num(v))
}

pub(super) fn legend_html(transports: &[&str]) -> String {
    let mut s = String::from("<span class=\"legend\">");
    for t in transports {
        let _ = write!(
            s,
            "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
            plots::css_color(plots::transport_color(t)),
            escape(t)
        );
    }
    s.push_str("</span>");
    s
}

pub(super) fn section_title(scenario: &str, workload: &str) -> String {
    if scenario == workload {
        scenario.to_string()
    } else {
        format!("{scenario} · {workload}")
    }
}

pub(super) fn anchor(scenario: &str, workload: &str) -> String {
    let raw = format!("s-{scenario}-{workload}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
