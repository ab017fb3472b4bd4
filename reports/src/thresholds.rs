//! Absolute thresholds, k6-style: a scenario's `[thresholds]` table sets pass/fail limits on
//! its figures, such as `"echo.websocket.p99_us" = "< 2000"`. `run` stores them in
//! results.json (`thresholds`, [`ThresholdSpec`]) and checks them at the end; `compare` checks
//! the current file's. Any limit crossed ends the command with [`EXIT_THRESHOLDS`] (99, as k6)
//! and a table of what failed.
//!
//! **Key**: `WORKLOAD.TRANSPORT[.PROFILE].METRIC`. WORKLOAD is the workload's name in the
//! scenario; TRANSPORT a transport id (every implementation and client of it) or `*`; PROFILE,
//! when given, limits it to one profile (else every profile the scenario ran). METRIC is a
//! latency shorthand (`p50_us`, `p90_us`, `p99_us`, `p999_us`, `max_us`), an id of the metric
//! catalogue (`goodput_bps`, `setup_ms`, `server_rss_per_conn_bytes`, …; `wirebench list`) or a
//! `compare --metric` id (`p99`, `goodput`, `rss_per_conn`). **Condition**: `< N`, `<= N`,
//! `> N` or `>= N`, N in the metric's unit.
//!
//! Each cell key the threshold names is checked on its median over ok repeats (the figure every
//! table shows). A key with no figure — failed, skipped, or a percentile the delivered fraction
//! cannot give — fails its threshold, and so does a threshold that names no cell: a gate that
//! checks nothing must not pass.

use std::fmt::Write as _;

use crate::figures::{self, KeyCells};
use crate::metrics::{self, Metric};
use crate::model::{Results, ThresholdSpec};

/// Exit code when a threshold is crossed (k6's).
pub const EXIT_THRESHOLDS: u8 = 99;

/// A threshold that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    /// The key is not `WORKLOAD.TRANSPORT[.PROFILE].METRIC` or names an unknown metric.
    #[error("threshold `{key}`: {msg}")]
    Key {
        /// The key as written.
        key: String,
        /// What is wrong.
        msg: String,
    },
    /// The condition is not `< N`, `<= N`, `> N` or `>= N`.
    #[error("threshold `{key}`: condition `{condition}`: expected `< N`, `<= N`, `> N` or `>= N` (N a number in the metric's unit, {unit})")]
    Condition {
        /// The key as written.
        key: String,
        /// The condition as written.
        condition: String,
        /// The metric's unit.
        unit: String,
    },
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, v: f64, limit: f64) -> bool {
        match self {
            Self::Lt => v < limit,
            Self::Le => v <= limit,
            Self::Gt => v > limit,
            Self::Ge => v >= limit,
        }
    }
}

/// A threshold, read.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// As written.
    pub spec: ThresholdSpec,
    /// Workload name.
    pub workload: String,
    /// Transport id, or `*`.
    pub transport: String,
    /// Profile, when limited to one.
    pub profile: Option<String>,
    /// The figure checked.
    pub metric: &'static Metric,
    /// The comparison.
    pub op: Op,
    /// The limit, in the metric's unit.
    pub limit: f64,
}

/// The metric a threshold key's last part names.
pub fn metric_named(name: &str) -> Option<&'static Metric> {
    let latency = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
        .contains(&name)
        .then(|| metrics::by_id(&format!("latency_{name}")))
        .flatten();
    latency.or_else(|| metrics::by_id(name)).or_else(|| {
        metrics::ALL
            .iter()
            .copied()
            .find(|m| m.compare_id() == name)
    })
}

/// Every metric name a threshold accepts (for error messages).
fn known_metrics() -> String {
    let mut names: Vec<String> = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    names.extend(metrics::ALL.iter().map(|m| m.id.to_string()));
    names.join(", ")
}

impl Threshold {
    /// Reads one threshold.
    pub fn parse(spec: &ThresholdSpec) -> Result<Self, ThresholdError> {
        let key_err = |msg: String| ThresholdError::Key {
            key: spec.key.clone(),
            msg,
        };
        let parts: Vec<&str> = spec.key.split('.').collect();
        let (workload, transport, profile, metric) = match parts.as_slice() {
            [w, t, m] => (*w, *t, None, *m),
            [w, t, p, m] => (*w, *t, Some(*p), *m),
            _ => {
                return Err(key_err(
                    "expected WORKLOAD.TRANSPORT.METRIC or WORKLOAD.TRANSPORT.PROFILE.METRIC"
                        .into(),
                ))
            }
        };
        if [workload, transport, metric].iter().any(|p| p.is_empty()) {
            return Err(key_err("an empty part".into()));
        }
        if transport != "*" && !crate::model::TRANSPORT_IDS.contains(&transport) {
            return Err(key_err(format!(
                "unknown transport `{transport}` (one of {}, or *)",
                crate::model::TRANSPORT_IDS.join(", ")
            )));
        }
        let metric = metric_named(metric).ok_or_else(|| {
            key_err(format!(
                "unknown metric `{metric}` (one of {})",
                known_metrics()
            ))
        })?;
        let (op, limit) = condition(&spec.condition).ok_or_else(|| ThresholdError::Condition {
            key: spec.key.clone(),
            condition: spec.condition.clone(),
            unit: metric.unit.to_string(),
        })?;
        Ok(Self {
            spec: spec.clone(),
            workload: workload.to_string(),
            transport: transport.to_string(),
            profile: profile.map(str::to_string),
            metric,
            op,
            limit,
        })
    }

    fn names(&self, k: &KeyCells<'_>) -> bool {
        k.scenario == self.spec.scenario
            && k.workload == self.workload
            && (self.transport == "*" || k.transport == self.transport)
            && self.profile.as_deref().is_none_or(|p| p == k.profile)
    }
}

/// `< 2000` → (Lt, 2000).
fn condition(s: &str) -> Option<(Op, f64)> {
    let s = s.trim();
    let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        .iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))?;
    let limit: f64 = rest.trim().parse().ok()?;
    limit.is_finite().then_some((op, limit))
}

/// One threshold checked on one cell key (or on nothing, when it names no cell).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// `echo.websocket.p99_us < 2000`.
    pub threshold: String,
    /// `scenario/workload/transport/profile`, or `–` when no cell matched.
    pub cell: String,
    /// The median checked, as shown (with unit), or why there is none.
    pub value: String,
    /// Whether it passed.
    pub passed: bool,
}

/// Checks every threshold of `r` on its cells; `Err` when one cannot be read.
pub fn check(r: &Results) -> Result<Vec<Check>, ThresholdError> {
    let keys = figures::keys(r);
    let mut out = Vec::new();
    for spec in &r.thresholds {
        let t = Threshold::parse(spec)?;
        let name = format!("{} {}", spec.key, spec.condition.trim());
        let matched: Vec<&KeyCells<'_>> = keys.iter().filter(|k| t.names(k)).collect();
        if matched.is_empty() {
            out.push(Check {
                threshold: name.clone(),
                cell: "–".into(),
                value: format!("no cell of scenario {} matches", spec.scenario),
                passed: false,
            });
        }
        for k in matched {
            let cell = k.cell_name();
            let (value, passed) = match k.spread(t.metric) {
                Some(s) => (t.metric.show(s.median), t.op.holds(s.median, t.limit)),
                None if k.ok.is_empty() => (
                    format!("no ok repeat: {}", k.reason().unwrap_or("not run")),
                    false,
                ),
                None => (
                    format!(
                        "no figure{}",
                        k.gap(t.metric)
                            .map(|g| format!(": {g}"))
                            .unwrap_or_default()
                    ),
                    false,
                ),
            };
            out.push(Check {
                threshold: name.clone(),
                cell,
                value,
                passed,
            });
        }
    }
    Ok(out)
}

/// What the checks say, for the terminal and summary.md: a headline, then a Markdown table of
/// the crossed ones (all of them with `all`).
pub fn markdown(checks: &[Check], all: bool) -> String {
    let crossed = checks.iter().filter(|c| !c.passed).count();
    let mut s = if crossed == 0 {
        format!("thresholds: all {} passed\n", checks.len())
    } else {
        format!(
            "thresholds: {crossed} of {} crossed (exit {EXIT_THRESHOLDS})\n",
            checks.len()
        )
    };
    let rows: Vec<&Check> = checks.iter().filter(|c| all || !c.passed).collect();
    if !rows.is_empty() {
        s.push_str("\n| threshold | cell | median | result |\n|---|---|--:|---|\n");
        for c in rows {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                c.threshold,
                c.cell,
                crate::format::md_cell(&c.value),
                if c.passed {
                    "✅ passed"
                } else {
                    "❌ crossed"
                }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests;
