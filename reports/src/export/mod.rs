//! Machine-readable exports of a results file: CSV, github-action-benchmark JSON, Bencher
//! Metric Format JSON and OpenMetrics text ([`openmetrics`]).
//!
//! Every export reads the same statistics as summary.md and report.html ([`crate::figures`]):
//! one entry per cell key (scenario, workload, transport, profile), the median over the ok
//! repeats, and the repeats' min–max as the spread. `null` measurements are left out (JSON) or
//! empty (CSV), never invented.
//!
//! Each format is an [`Exporter`] (one small trait, held as `Box<dyn Exporter>` by the CLI):
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wirebench_reports::{export, Results};
//! let r = Results::load(std::path::Path::new("results.json"))?;
//! let fmt: export::Format = "csv".parse()?;
//! let written = export::write(&r, fmt, std::path::Path::new("out"))?;
//! # let _ = written; Ok(()) }
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{json, Map, Value};

use crate::figures::{self, KeyCells, MetricKind, Spread, METRICS};
use crate::model::Results;

pub mod openmetrics;

/// Errors producing exports.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// `--export` named a format this version does not write.
    #[error(
        "unknown export format {0:?} (expected one of: csv, github-action-benchmark, bencher, \
         openmetrics)"
    )]
    UnknownFormat(String),
    /// A JSON document could not be serialised.
    #[error("{file}: {msg}")]
    Json {
        /// Export file at fault.
        file: String,
        /// What serde said.
        msg: String,
    },
    /// An export file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// File at fault.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// An export format (`--export NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `csv`: one row per cell key, median + min + max per metric.
    Csv,
    /// `github-action-benchmark`: two documents, `customSmallerIsBetter` (latencies, setup)
    /// and `customBiggerIsBetter` (throughput).
    GithubActionBenchmark,
    /// `bencher`: Bencher Metric Format, benchmark `scenario/transport/profile`.
    Bencher,
    /// `openmetrics`: OpenMetrics text (also valid Prometheus text format), `metrics.prom`:
    /// a latency histogram and gauges per cell key ([`openmetrics`]).
    OpenMetrics,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 4] = [
        Format::Csv,
        Format::GithubActionBenchmark,
        Format::Bencher,
        Format::OpenMetrics,
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::GithubActionBenchmark => "github-action-benchmark",
            Format::Bencher => "bencher",
            Format::OpenMetrics => "openmetrics",
        }
    }
}

impl FromStr for Format {
    type Err = ExportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "github-action-benchmark" | "github" | "gab" => Ok(Format::GithubActionBenchmark),
            "bencher" | "bmf" => Ok(Format::Bencher),
            "openmetrics" | "prometheus" => Ok(Format::OpenMetrics),
            _ => Err(ExportError::UnknownFormat(s.to_string())),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One file an exporter produces.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFile {
    /// Suggested file name (`results.csv`, `benchmark-smaller.json`, ...).
    pub name: &'static str,
    /// Contents.
    pub contents: String,
}

/// Turns results into one or more files of one format.
pub trait Exporter {
    /// The format written.
    fn format(&self) -> Format;
    /// The files, in memory.
    fn export(&self, r: &Results) -> Result<Vec<ExportFile>, ExportError>;
}

struct CsvExporter;
struct GabExporter;
struct BencherExporter;
struct OpenMetricsExporter;

impl Exporter for CsvExporter {
    fn format(&self) -> Format {
        Format::Csv
    }
    fn export(&self, r: &Results) -> Result<Vec<ExportFile>, ExportError> {
        Ok(vec![ExportFile {
            name: "results.csv",
            contents: csv(r),
        }])
    }
}

impl Exporter for GabExporter {
    fn format(&self) -> Format {
        Format::GithubActionBenchmark
    }
    fn export(&self, r: &Results) -> Result<Vec<ExportFile>, ExportError> {
        let (smaller, bigger) = github_action_benchmark(r);
        Ok(vec![
            ExportFile {
                name: "benchmark-smaller.json",
                contents: pretty("benchmark-smaller.json", &smaller)?,
            },
            ExportFile {
                name: "benchmark-bigger.json",
                contents: pretty("benchmark-bigger.json", &bigger)?,
            },
        ])
    }
}

impl Exporter for BencherExporter {
    fn format(&self) -> Format {
        Format::Bencher
    }
    fn export(&self, r: &Results) -> Result<Vec<ExportFile>, ExportError> {
        Ok(vec![ExportFile {
            name: "bencher.json",
            contents: pretty("bencher.json", &bencher(r))?,
        }])
    }
}

impl Exporter for OpenMetricsExporter {
    fn format(&self) -> Format {
        Format::OpenMetrics
    }
    fn export(&self, r: &Results) -> Result<Vec<ExportFile>, ExportError> {
        Ok(vec![ExportFile {
            name: openmetrics::FILE_NAME,
            contents: openmetrics::text(r),
        }])
    }
}

fn pretty(file: &str, v: &Value) -> Result<String, ExportError> {
    serde_json::to_string_pretty(v)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| ExportError::Json {
            file: file.to_string(),
            msg: e.to_string(),
        })
}

/// The exporter for a format.
pub fn exporter(f: Format) -> Box<dyn Exporter> {
    match f {
        Format::Csv => Box::new(CsvExporter),
        Format::GithubActionBenchmark => Box::new(GabExporter),
        Format::Bencher => Box::new(BencherExporter),
        Format::OpenMetrics => Box::new(OpenMetricsExporter),
    }
}

/// Writes a format's files into `dir` (created if missing), each atomically; returns the paths.
pub fn write(r: &Results, f: Format, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| ExportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut out = Vec::new();
    for file in exporter(f).export(r)? {
        let path = dir.join(file.name);
        let tmp = dir.join(format!("{}.tmp", file.name));
        std::fs::write(&tmp, file.contents.as_bytes()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        out.push(path);
    }
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// CSV: a header, then one row per cell key in run order (failed and skipped keys included,
/// with empty figures and the first recorded reason). For every metric of
/// [`figures::METRICS`]: `<id>` (median over ok repeats), `<id>_min`, `<id>_max`; delivery
/// counters are sums over ok repeats (summary.md's `lost`).
pub fn csv(r: &Results) -> String {
    let mut s = String::new();
    let mut header: Vec<String> = [
        "scenario",
        "workload",
        "transport",
        "profile",
        "repeats",
        "ok",
        "failed",
        "skipped",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    for m in METRICS {
        header.push(m.id.to_string());
        header.push(format!("{}_min", m.id));
        header.push(format!("{}_max", m.id));
    }
    for h in [
        "sent",
        "received",
        "lost",
        "duplicated",
        "reordered",
        "predicted_setup_rtts",
        "error",
    ] {
        header.push(h.to_string());
    }
    let _ = writeln!(s, "{}", header.join(","));
    for k in figures::keys(r) {
        let mut row: Vec<String> = vec![
            csv_field(k.scenario),
            csv_field(&k.workload),
            csv_field(k.transport),
            csv_field(k.profile),
            (k.ok.len() + k.failed.len() + k.skipped.len()).to_string(),
            k.ok.len().to_string(),
            k.failed.len().to_string(),
            k.skipped.len().to_string(),
        ];
        for m in METRICS {
            let sp = k.spread(m);
            row.push(num(sp.map(|s| s.median)));
            row.push(num(sp.map(|s| s.min)));
            row.push(num(sp.map(|s| s.max)));
        }
        let d = k.delivery();
        for v in [
            d.as_ref().map(|d| d.sent),
            d.as_ref().map(|d| d.received),
            d.as_ref().map(|d| d.lost),
            d.as_ref().map(|d| d.duplicated),
            d.as_ref().map(|d| d.reordered),
        ] {
            row.push(v.map(|v| v.to_string()).unwrap_or_default());
        }
        row.push(num(k.predicted_setup().map(|p| p.rtts)));
        row.push(csv_field(k.reason().unwrap_or("")));
        let _ = writeln!(s, "{}", row.join(","));
    }
    s
}

fn names<'a>(r: &'a Results) -> impl Fn(&KeyCells<'a>) -> String + 'a {
    let multi = figures::multi_workload_scenarios(r);
    move |k| k.bench_name(multi.iter().any(|s| s == k.scenario))
}

fn gab_entry(name: &str, m: &figures::Metric, s: Spread) -> Value {
    json!({
        "name": format!("{name} {}", m.label),
        "unit": m.unit,
        "value": s.median,
        "range": format!("± {}", (s.max - s.min) / 2.0),
        "extra": format!(
            "median of {} repeats; min {} max {}",
            s.n, s.min, s.max
        ),
    })
}

/// github-action-benchmark documents: (`customSmallerIsBetter` with latency percentiles and
/// setup time, `customBiggerIsBetter` with messages/s and goodput). Entry names are
/// `<benchmark> <metric label>`, values the medians over repeats, `range` ± half the repeats'
/// min–max spread.
pub fn github_action_benchmark(r: &Results) -> (Value, Value) {
    let name = names(r);
    let mut smaller = Vec::new();
    let mut bigger = Vec::new();
    for k in figures::keys(r) {
        let bench = name(&k);
        for m in METRICS {
            let Some(s) = k.spread(m) else { continue };
            match m.kind {
                MetricKind::Latency | MetricKind::Setup if m.id != "setup_rtts" => {
                    smaller.push(gab_entry(&bench, m, s))
                }
                MetricKind::Throughput => bigger.push(gab_entry(&bench, m, s)),
                _ => {}
            }
        }
    }
    (Value::Array(smaller), Value::Array(bigger))
}

/// Bencher Metric Format: `{ "<scenario>/<transport>/<profile>": { "<measure>": { "value",
/// "lower_value", "upper_value" } } }`, measures named by metric id in kebab case
/// (`latency-p50-us`), value the median over repeats, bounds the repeats' min and max. Keys
/// with no ok repeat are left out (Bencher has no way to say "failed").
pub fn bencher(r: &Results) -> Value {
    let name = names(r);
    let mut doc = Map::new();
    for k in figures::keys(r) {
        let mut measures = Map::new();
        for m in METRICS {
            if let Some(s) = k.spread(m) {
                measures.insert(
                    m.id.replace('_', "-"),
                    json!({"value": s.median, "lower_value": s.min, "upper_value": s.max}),
                );
            }
        }
        if !measures.is_empty() {
            doc.insert(name(&k), Value::Object(measures));
        }
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_name_themselves() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
        }
        let e = "xml".parse::<Format>().expect_err("xml is not a format");
        assert!(e.to_string().contains("\"xml\""), "{e}");
    }

    #[test]
    fn csv_fields_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(num(Some(f64::NAN)), "");
        assert_eq!(num(Some(1.5)), "1.5");
    }
}
