//! One section of report.html per (scenario, workload): latency spectrum and CDF, metric bar
//! charts and their tick formatters.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::figures::{self, distinct, KeyCells};
use crate::format::{escape, fmt_bps};
use crate::metrics::{self as m, Metric};
use crate::plots::{self, BarRow, BarValue, Bars, Line};

use super::error::ReportError;
use super::tables::*;

pub(super) fn figure(h: &mut String, id: &str, svg: &str) {
    let _ = writeln!(
        h,
        "<figure class=\"chart\" data-chart=\"{}\">{svg}</figure>",
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

/// Percentile spectrum points (1/(1−p), µs), 20 per decade, ending at the maximum.
pub(super) fn spectrum_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len() as f64;
    let mut pts = Vec::new();
    for k in 0..=200 {
        let x = 10f64.powf(f64::from(k) / 20.0);
        if x > n {
            break;
        }
        pts.push((x, h.value_at_quantile(1.0 - 1.0 / x) as f64));
    }
    if n > 1.0 {
        pts.push((n, h.max() as f64));
    }
    pts
}

/// CDF points (µs, % of samples ≤).
pub(super) fn cdf_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts = vec![(h.min() as f64, 0.0)];
    for i in 0..=200 {
        let q = f64::from(i) / 200.0;
        pts.push((h.value_at_quantile(q) as f64, q * 100.0));
    }
    pts
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
            let back = back.and_then(|b| k.spread(b)).map(BarValue::from);
            any |= value.is_some() || back.is_some();
            BarRow {
                label: row_label(k, profiles),
                color: plots::transport_color(k.transport),
                value,
                back,
                note: Some(note_for(k)),
                marker: if predicted {
                    figures::predicted_setup(k.transport, k.plaintext()).map(|p| p.rtts)
                } else {
                    None
                },
            }
        })
        .collect();
    (rows, any)
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
    let mut latency_figs = String::new();
    for p in profiles {
        let (lines_s, lines_c) = latency_lines(keys, p, &mut notes);
        if lines_s.is_empty() {
            continue;
        }
        let t = format!("{title} · {p}: latency percentile spectrum");
        figure(
            &mut latency_figs,
            &format!("{aid}-spectrum-{p}"),
            &plots::spectrum(&t, &lines_s)?,
        );
        let t = format!("{title} · {p}: latency CDF");
        figure(
            &mut latency_figs,
            &format!("{aid}-cdf-{p}"),
            &plots::cdf(&t, &lines_c)?,
        );
    }
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
        figure(&mut bars_figs, &format!("{aid}-p50p99"), &svg);
    }
    h.push_str("<h3>Latency</h3>\n");
    if latency_figs.is_empty() && bars_figs.is_empty() {
        h.push_str("<p class=\"note\">No latency recorded in this scenario (–).</p>\n");
    } else {
        let _ = writeln!(h, "<div class=\"grid\">{latency_figs}{bars_figs}</div>");
    }
    let nothing = latency_figs.is_empty() && bars_figs.is_empty();
    for n in notes
        .iter()
        .filter(|n| !nothing || n.contains("not readable"))
    {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(n));
    }
    Ok(())
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
                lines_s.push(Line {
                    name: k.transport_name(),
                    color,
                    points: spectrum_points(&hist),
                });
                lines_c.push(Line {
                    name: k.transport_name(),
                    color,
                    points: cdf_points(&hist),
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
