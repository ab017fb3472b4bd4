//! Rendering a [`Comparison`]: the Markdown / terminal table and the JSON report.

use std::fmt::Write as _;

use crate::format::{pct, trim_float};

use super::*;

impl Comparison {
    /// Whether any metric of any cell regressed.
    pub fn regressed(&self) -> bool {
        self.counts.regressed > 0
    }

    /// Whether at least one metric got a verdict other than noisy.
    pub fn judged(&self) -> bool {
        let c = &self.counts;
        c.regressed + c.improved + c.unchanged > 0
    }

    /// The process exit code for this outcome: [`EXIT_REGRESSION`] (2) when anything
    /// regressed, [`EXIT_NOTHING_JUDGED`] (4) when no metric could be judged, else
    /// [`EXIT_OK`] (0). Errors ([`EXIT_ERROR`], 1) are the CLI's to report.
    pub fn exit_code(&self) -> i32 {
        if self.regressed() {
            EXIT_REGRESSION
        } else if !self.judged() {
            EXIT_NOTHING_JUDGED
        } else {
            EXIT_OK
        }
    }

    /// Every compared metric with its cell, in table order.
    pub fn rows(&self) -> impl Iterator<Item = (&CellKey, &MetricComparison)> {
        self.cells
            .iter()
            .flat_map(|c| c.metrics.iter().map(move |m| (&c.key, m)))
    }

    /// The regressed metrics with their cells.
    pub fn regressions(&self) -> impl Iterator<Item = (&CellKey, &MetricComparison)> {
        self.rows()
            .filter(|(_, m)| m.verdict == RegressionVerdict::Regressed)
    }

    /// Pretty-printed JSON of the whole comparison (infinite ratios become `null`).
    pub fn json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Markdown for a pull-request comment: a headline with the counts, a table of the
    /// regressed, improved and noisy metrics (in that order), the unchanged ones folded in a
    /// `<details>` block, then cells not compared and cells with failed repeats.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        self.headline(&mut s);
        self.tables(&mut s);
        self.lists(&mut s);
        s
    }

    /// The heading, versions and the headline with the counts and the method.
    fn headline(&self, s: &mut String) {
        let c = &self.counts;
        let _ = writeln!(s, "## wirebench compare\n");
        let _ = writeln!(
            s,
            "Baseline {} → current {}.\n",
            self.baseline_version, self.current_version
        );
        let headline = match c.regressed {
            0 if self.cells.is_empty() => {
                "⚠️ **nothing could be judged**: no cell is in both runs".to_string()
            }
            0 if !self.judged() => format!(
                "⚠️ **nothing could be judged**: every metric is noisy (fewer than {} ok \
                 repeats per side, or an interval wider than twice the threshold); run more \
                 repeats (`--repeat 5`)",
                self.min_repeats
            ),
            0 => "✅ **no regression**".to_string(),
            1 => "❌ **1 regression**".to_string(),
            n => format!("❌ **{n} regressions**"),
        };
        let _ = writeln!(
            s,
            "{headline} · {} improved · {} unchanged · {} noisy — threshold ±{}, {} % bootstrap \
             CI of {} ({} resamples, ≥ {} repeats per side).\n",
            c.improved,
            c.unchanged,
            c.noisy,
            fmt_threshold(self.threshold_pct),
            trim_float(self.confidence * 100.0),
            if self.paired {
                "the median per-pair ratio, repeats paired as run (A/B)"
            } else {
                "the ratio of medians over repeats"
            },
            self.resamples,
            self.min_repeats,
        );
    }

    /// The table of notable metrics (regressed, improved, noisy), then the unchanged ones
    /// folded in a `<details>` block.
    fn tables(&self, s: &mut String) {
        let mut notable: Vec<(&CellKey, &MetricComparison)> = self
            .rows()
            .filter(|(_, m)| m.verdict != RegressionVerdict::Unchanged)
            .collect();
        notable.sort_by_key(|(_, m)| m.verdict); // stable: keeps cell order within a verdict
        let unchanged: Vec<(&CellKey, &MetricComparison)> = self
            .rows()
            .filter(|(_, m)| m.verdict == RegressionVerdict::Unchanged)
            .collect();
        if !notable.is_empty() {
            self.table(s, &notable);
        }
        if !unchanged.is_empty() {
            if !notable.is_empty() {
                s.push('\n');
            }
            let _ = writeln!(
                s,
                "<details><summary>{} unchanged</summary>\n",
                unchanged.len()
            );
            self.table(s, &unchanged);
            let _ = writeln!(s, "\n</details>");
        }
    }

    /// The lists: one-sided metrics, cells not compared, cells with failed repeats.
    fn lists(&self, s: &mut String) {
        let one_sided: Vec<String> = self
            .cells
            .iter()
            .flat_map(|cell| {
                cell.one_sided.iter().map(move |o| {
                    format!(
                        "- {} {}: measured in the {} only",
                        cell.key,
                        o.metric.label(),
                        o.measured_in
                    )
                })
            })
            .collect();
        list_section(s, "Metrics measured on one side only", &one_sided);
        let keys = |v: &[CellKey]| v.iter().map(|k| format!("- {k}")).collect::<Vec<_>>();
        list_section(
            s,
            "Cells only in the baseline (not compared)",
            &keys(&self.only_in_baseline),
        );
        list_section(
            s,
            "Cells only in the current run (not compared)",
            &keys(&self.only_in_current),
        );
        let failures: Vec<String> = self
            .cells
            .iter()
            .filter(|c| c.baseline_repeats.failed + c.current_repeats.failed > 0)
            .map(|c| {
                format!(
                    "- {}: failed repeats {} in baseline, {} in current{}",
                    c.key,
                    c.baseline_repeats.failed,
                    c.current_repeats.failed,
                    if c.new_failures() { " ⚠️ new" } else { "" }
                )
            })
            .collect();
        list_section(
            s,
            "Cells with failed repeats (their figures are left out)",
            &failures,
        );
    }

    fn table(&self, s: &mut String, rows: &[(&CellKey, &MetricComparison)]) {
        let _ = writeln!(
            s,
            "| cell | metric | baseline | current | change | {} % CI | verdict |",
            trim_float(self.confidence * 100.0)
        );
        let _ = writeln!(s, "|---|---|--:|--:|--:|--:|---|");
        for (key, m) in rows {
            let ci = m.ci.map_or_else(
                || "–".to_string(),
                |ci| format!("{} … {}", pct(ci.low), pct(ci.high)),
            );
            let verdict = match m.verdict {
                RegressionVerdict::Regressed => "🔴 **regressed**".to_string(),
                RegressionVerdict::Improved => "🟢 improved".to_string(),
                RegressionVerdict::Unchanged => "⚪ unchanged".to_string(),
                RegressionVerdict::Noisy if m.ci.is_none() => {
                    "🟡 noisy (too few repeats)".to_string()
                }
                RegressionVerdict::Noisy => "🟡 noisy (CI too wide)".to_string(),
            };
            let _ = writeln!(
                s,
                "| {key} | {} | {} (n={}) | {} (n={}) | {} | {ci} | {verdict} |",
                m.metric.label(),
                m.metric.format(m.baseline.median),
                m.baseline.n,
                m.metric.format(m.current.median),
                m.current.n,
                pct(m.ratio),
            );
        }
    }
}

fn list_section(s: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n### {title}\n");
    for i in items {
        let _ = writeln!(s, "{i}");
    }
}
