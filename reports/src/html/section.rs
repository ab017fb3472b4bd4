//! One section of report.html per (scenario, workload): latency spectrum and CDF, metric bar
//! charts and their tick formatters.

use std::fmt::Write as _;

use crate::figures::{distinct, KeyCells};
use crate::format::{escape, lost_pct};
use crate::metrics::{self as m, Metric, MetricKind};
use crate::plots::{self, BarRow, BarValue, Bars, Line};

use super::error::ReportError;
use super::tables::*;

mod points;
mod units;

pub(super) use points::spectrum_points;
use points::{cdf_points, lost_frames, merged, spectrum_samples};
use units::*;

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
                    k.predicted_setup().map(|p| p.rtts)
                } else {
                    None
                },
                suffix: latency_suffix(k, metric, back, value.is_some() && back_value.is_none()),
                variant: variant(keys, k),
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
    if latency_is_setup(keys) {
        // One chart of the setup time: the bars under Connection setup.
        h.push_str(
            "<h3>Latency</h3>\n<p class=\"note\">This workload's latency is the connection \
             setup time: see Connection setup.</p>\n",
        );
    } else {
        latency_part(h, &title, &aid, &profiles, keys)?;
    }
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
    let failed: usize = keys.iter().map(|k| k.failed.len()).sum();
    let skipped: usize = keys.iter().map(|k| k.skipped.len()).sum();
    let _ = writeln!(
        h,
        "<div class=\"legend\">{}</div><p class=\"meta\">{}{}{}</p>",
        section_legend_html(keys),
        escape(&repeats_line(keys)),
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

/// The section's repeat count in the form of the figures table's `repeats ok` column
/// (`ok/total` per row): `repeats ok: 3/3 in each of 22 rows`, or the sums when rows differ
/// (`repeats ok: 5/6 over 2 rows`).
pub(super) fn repeats_line(keys: &[&KeyCells<'_>]) -> String {
    let per_row: Vec<(usize, usize)> = keys
        .iter()
        .map(|k| (k.ok.len(), k.ok.len() + k.failed.len() + k.skipped.len()))
        .collect();
    let rows = match per_row.len() {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    };
    match per_row.first() {
        Some(&(ok, total)) if per_row.iter().all(|r| *r == (ok, total)) => {
            format!("repeats ok: {ok}/{total} in each of {rows}")
        }
        _ => {
            let (ok, total) = per_row.iter().fold((0, 0), |(a, b), (o, t)| (a + o, b + t));
            format!("repeats ok: {ok}/{total} over {rows}")
        }
    }
}

/// Whether the section's latency is the connection setup time (`params.latency = "setup"`,
/// the connect workload): its spectrum and CDF would repeat the setup time chart.
fn latency_is_setup(keys: &[&KeyCells<'_>]) -> bool {
    keys.iter()
        .flat_map(|k| k.ok.first())
        .any(|c| c.params.get("latency").and_then(|v| v.as_str()) == Some("setup"))
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
            tick_unit: None,
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
                let variant = variant(keys, k);
                let few = hist.len() < plots::MIN_LINE_SAMPLES;
                lines_s.push(Line {
                    name: if few {
                        format!("{name} · {} samples", hist.len())
                    } else {
                        name.clone()
                    },
                    color,
                    points: if few {
                        spectrum_samples(&hist, lost)
                    } else {
                        spectrum_points(&hist, lost)
                    },
                    variant,
                    markers: few,
                });
                lines_c.push(Line {
                    name,
                    color,
                    points: cdf_points(&hist, lost),
                    variant,
                    markers: false,
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
            (
                m::GOODPUT,
                "goodput",
                false,
                fmt_bps_tick,
                AxisUnit::BitsPerS,
            ),
            (
                m::MSGS_PER_S,
                "messages per second",
                false,
                msgs_tick,
                AxisUnit::PerS("msg/s"),
            ),
        ],
    ),
    (
        "Connection setup",
        &[
            (
                m::SETUP_MS,
                "setup time",
                false,
                ms_tick,
                AxisUnit::Fixed("ms"),
            ),
            (
                m::SETUP_RTTS,
                "round trips · black tick: protocol's prediction",
                false,
                rtt_tick,
                AxisUnit::Fixed("RTT"),
            ),
        ],
    ),
    (
        "Resources and wire",
        &[
            (
                m::SERVER_CPU,
                "server CPU time",
                false,
                s_tick,
                AxisUnit::Fixed("s"),
            ),
            (
                m::SERVER_RSS_PER_CONN,
                "server peak RSS per connection",
                false,
                plots::bytes,
                AxisUnit::Bytes,
            ),
            (
                m::OVERHEAD,
                "wire bytes / payload bytes",
                false,
                ratio_tick,
                AxisUnit::Fixed("×"),
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
        for (metric, quantity, log, fmt, unit) in metrics.iter() {
            let (rows, any) = metric_bars(keys, metric, None, np);
            if !any {
                continue;
            }
            let (div, unit) = unit.scale(rows_max(&rows));
            let x_desc = format!("{quantity} ({unit})");
            let t = format!("{title}: {}", metric.label);
            let svg = plots::bars(&Bars {
                title: &t,
                x_desc: &x_desc,
                log: *log,
                fmt,
                tick_unit: Some(div),
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

/// A legend of transport ids (the environment table's): one solid swatch per id.
pub(super) fn legend_html(transports: &[&str]) -> String {
    let mut s = String::from("<span class=\"legend\">");
    for t in transports {
        let _ = write!(s, "<span>{}{}</span>", swatch(t, 0), escape(t));
    }
    s.push_str("</span>");
    s
}

/// A section's legend: one entry per transport as shown (`webrtc (webrtc-rs)`), its swatch
/// hatched and its line sample dashed as the charts draw it ([`variant`]).
pub(super) fn section_legend_html(keys: &[&KeyCells<'_>]) -> String {
    let mut s = String::from("<span class=\"legend\">");
    let mut seen: Vec<String> = Vec::new();
    for k in keys {
        let name = k.transport_name();
        if seen.contains(&name) {
            continue;
        }
        let v = variant(keys, k);
        let _ = write!(
            s,
            "<span>{}{}{}</span>",
            swatch(k.transport, v),
            line_sample(k.transport, v),
            escape(&name)
        );
        seen.push(name);
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
