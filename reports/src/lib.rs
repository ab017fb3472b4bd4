//! `wirebench-reports`: the results model and what is made from it.
//!
//! The results model ([`model`]) is wirebench's public contract: `results.json`, schema
//! `wirebench/1`. Everything people read (summary Markdown, HTML report, exports, comparisons)
//! is derived from it and from nothing else, so this crate never depends on the runtime: a
//! results file from any machine or version can be re-rendered anywhere.

pub mod compare;
pub mod export;
pub mod figures;
pub mod format;
pub mod html;
pub mod model;
pub mod plots;
pub mod recommend;
pub mod stats;
pub mod summary;
pub mod terminal;
pub mod verdicts;

pub use model::*;
