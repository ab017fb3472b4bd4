//! The end-of-run table `wirebench run` prints on the terminal: one row per cell key (medians
//! over repeats, as in summary.md), the loss beside the latencies, why a latency is null, then
//! one line per failed or skipped cell; and the same figures as JSON ([`json`]).

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::figures::{self, KeyCells};
use crate::metrics as m;
use crate::model::{Results, Status};
use crate::summary::{latency_text, rows, Notes};

/// The end-of-run table for the terminal.
pub fn table(r: &Results) -> String {
    let dash = || "–".to_string();
    let mut notes = Notes::default();
    let mut grid: Vec<Vec<String>> = vec![[
        "workload",
        "transport",
        "profile",
        "n",
        "p50",
        "p99",
        "lost",
        "msgs/s",
        "goodput",
        "setup",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect()];
    for row in rows(r) {
        grid.push(vec![
            row.workload.clone(),
            row.transport.clone(),
            row.profile.clone(),
            row.repeats.to_string(),
            latency_text(row.p50_us, row.p50_gap.as_deref(), None, &mut notes),
            latency_text(row.p99_us, row.p99_gap.as_deref(), None, &mut notes),
            row.lost_fraction.map(lost_column).unwrap_or_else(dash),
            row.msgs_per_s
                .map(m::MSGS_PER_S.format)
                .unwrap_or_else(dash),
            row.goodput_bps.map(m::GOODPUT.format).unwrap_or_else(dash),
            row.setup_ms.map(m::SETUP_MS.format).unwrap_or_else(dash),
        ]);
    }
    let mut s = String::from("\n");
    s.push_str(&aligned(&grid, 3));
    for (i, reason) in notes.reasons().iter().enumerate() {
        let _ = writeln!(s, "{} – : {reason}", notes.mark_number(i + 1));
    }
    for l in crate::summary::harness_bound_lines(r) {
        let _ = writeln!(s, "harness-bound {l}");
    }
    for c in r.cells.iter().filter(|c| c.status != Status::Ok) {
        let _ = writeln!(
            s,
            "{} {}/{}/{} #{}: {}",
            if c.status == Status::Failed {
                "FAILED "
            } else {
                "skipped"
            },
            c.workload_name(),
            c.transport,
            c.profile,
            c.repeat,
            c.error.as_deref().unwrap_or("")
        );
    }
    s
}

/// `grid` as text columns sized to their widest cell: the first `left` columns aligned left,
/// the rest (figures) right, two spaces apart, no trailing blanks.
fn aligned(grid: &[Vec<String>], left: usize) -> String {
    let width = crate::format::column_widths(grid.iter());
    let mut s = String::new();
    for row in grid {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| crate::format::pad(c, width[i], i >= left))
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
    }
    s
}

/// The figures of the end-of-run table as one JSON document (`wirebench run --format json`,
/// `wirebench report --format json`): `cells` by outcome (`ok`, `failed`, `skipped`); `keys`,
/// one per cell key in run order, with the figures the table prints — the medians over the ok
/// repeats, named by metric id as in the CSV export (`latency_p50_us`, `latency_p99_us`,
/// `msgs_per_s`, `goodput_bps`, `setup_ms`; `null` when not measured), `lost_fraction`, the
/// repeats by outcome, `gaps` (why a latency is null) and `error` (the first failure's reason);
/// the stored FAQ `verdicts`; and `thresholds`, each `{threshold, cell, value, passed}`.
pub fn json(r: &Results) -> Value {
    let count = |s: Status| r.cells.iter().filter(|c| c.status == s).count();
    let keys: Vec<Value> = figures::keys(r).iter().map(key_json).collect();
    json!({
        "schema": r.schema,
        "version": r.version,
        "git": r.git,
        "cells": {
            "ok": count(Status::Ok),
            "failed": count(Status::Failed),
            "skipped": count(Status::Skipped),
        },
        "keys": keys,
        "verdicts": serde_json::to_value(&r.verdicts).unwrap_or(Value::Null),
        // Each threshold on each cell it names; an error string when one cannot be read.
        "thresholds": match crate::thresholds::check(r) {
            Ok(checks) => serde_json::to_value(checks).unwrap_or(Value::Null),
            Err(e) => Value::String(e.to_string()),
        },
    })
}

/// One cell key of [`json`].
fn key_json(k: &KeyCells<'_>) -> Value {
    let mut o = Map::new();
    o.insert("scenario".into(), k.scenario.into());
    o.insert("workload".into(), k.workload.as_str().into());
    o.insert("transport".into(), k.transport_name().into());
    o.insert("transport_id".into(), k.transport.into());
    o.insert("profile".into(), k.profile.into());
    o.insert(
        "repeats".into(),
        json!({"ok": k.ok.len(), "failed": k.failed.len(), "skipped": k.skipped.len()}),
    );
    let mut gaps = Map::new();
    for metric in [
        m::LATENCY_P50,
        m::LATENCY_P99,
        m::MSGS_PER_S,
        m::GOODPUT,
        m::SETUP_MS,
    ] {
        let median = k.spread(metric).map(|s| s.median);
        o.insert(metric.id.into(), median.into());
        if let Some(why) = k.gap(metric) {
            gaps.insert(metric.id.into(), why.into());
        }
    }
    o.insert("lost_fraction".into(), k.lost_fraction().into());
    o.insert("gaps".into(), Value::Object(gaps));
    o.insert("error".into(), k.reason().into());
    Value::Object(o)
}

/// The `lost` column: the fraction of frames the latency counts that never arrived.
fn lost_column(f: f64) -> String {
    if f == 0.0 {
        "0 %".into()
    } else {
        crate::format::lost_pct(f)
            .trim_end_matches(" lost")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{test_cell, Cell, Latency, Throughput};

    fn echo(transport: &str, imp: Option<&str>, us: u64, msgs: f64) -> Cell {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        h.record_n(us, 2000).unwrap();
        let mut c = test_cell("echo", transport, "loopback", 1);
        c.implementation = imp.map(str::to_string);
        c.latency_us = Some(Latency::from_histogram(&h).unwrap());
        c.throughput = Some(Throughput {
            msgs_per_s: Some(msgs),
            goodput_bps: None,
        });
        c
    }

    /// Long transport names widen their column instead of shifting the rest; counts carry
    /// thousands separators.
    #[test]
    fn columns_are_sized_to_their_contents() {
        let r = Results::of_cells(vec![
            echo("tcp", None, 50, 114_983.0),
            echo("webrtc-unreliable", Some("webrtc-rs"), 314, 1000.0),
        ]);
        let t = table(&r);
        let lines: Vec<&str> = t.lines().filter(|l| !l.is_empty()).take(3).collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[1].contains("114,983"), "{t}");
        // The p50 column ends at the same character on every line.
        let end = |l: &str, needle: &str| {
            l.find(needle)
                .map(|i| l[..i + needle.len()].chars().count())
        };
        let p50_end = end(lines[0], "p50").unwrap();
        assert_eq!(end(lines[1], "50 µs"), Some(p50_end), "{t}");
        assert_eq!(end(lines[2], "314 µs"), Some(p50_end), "{t}");
        assert!(lines[2].contains("webrtc-unreliable (webrtc-rs)"), "{t}");
    }
}
