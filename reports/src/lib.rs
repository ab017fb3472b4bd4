//! `wirebench-reports`: the results model and what is made from it.
//!
//! The results model ([`model`]) is wirebench's public contract: `results.json`, schema
//! `wirebench/1`. Everything people read (summary Markdown, HTML report, exports, comparisons)
//! is derived from it and from nothing else, so this crate never depends on the runtime: a
//! results file from any machine or version can be re-rendered anywhere.
//!
//! Layout, ground floor first (a module imports only modules listed above it; checked by
//! `tests/architecture.rs`):
//!
//! - [`model`] — the `results.json` types (`model/verdict.rs`: the stored FAQ verdict records).
//! - [`stats`] — median, percentiles, ratios, the seeded bootstrap.
//! - [`format`](mod@format) — formatting for people (µs, bit/s, bytes, values with a unit,
//!   HTML escape).
//! - [`metrics`] — the metric catalogue: every figure read from a cell, how it is named,
//!   judged and printed; used by figures, verdicts, compare and recommend.
//! - [`figures`] — the metrics the outputs show, figures grouped by cell key, spreads.
//! - [`plots`] — SVG charts (spectrum, CDF, bars) and transport colours.
//! - [`verdicts`] — the FAQ claims checked against results (`verdicts/`: one file per claim).
//! - [`recommend`] — ranking transports for an application's traits.
//! - [`answer`] — what report.html and summary.md open with: each workload × link ranked, and
//!   `recommend`'s ranking for the common cases.
//! - [`thresholds`] — a scenario's absolute pass/fail limits (`[thresholds]`), checked.
//! - [`summary`] — summary.md.
//! - [`terminal`] — the end-of-run table of `wirebench run`, and its figures as JSON.
//! - [`html`] — report.html (`html/`: browser lane, sections, tables, verdicts).
//! - [`export`] — CSV and CI benchmark exports.
//! - [`compare`] — the regression gate between two results files (`compare/`: metrics,
//!   rendering).

pub mod answer;
pub mod compare;
pub mod export;
pub mod figures;
pub mod format;
pub mod html;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod recommend;
pub mod stats;
pub mod summary;
pub mod terminal;
pub mod thresholds;
pub mod verdicts;

pub use model::*;
