//! Writing report.html from results (rendering lives in `wirebench-reports`).

use std::path::Path;

use anyhow::Context as _;
use wirebench_reports::model::Results;

/// Writes the self-contained HTML report for `results` to `path`.
pub fn write_html(results: &Results, path: &Path) -> anyhow::Result<()> {
    let md = wirebench_reports::summary::markdown(results);
    let escaped = md
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>wirebench report</title><pre>{escaped}</pre>"
    );
    std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))
}
