//! What the commands share: profiles and scenario files read, outputs written, stdout.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use wirebench_netem::ProfileSet;
use wirebench_reports::model::Results;

use crate::runner::scenario;

/// The profiles of `path`, or the embedded `scenarios/profiles.toml`.
pub(crate) fn load_profiles(path: Option<&Path>) -> anyhow::Result<ProfileSet> {
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(ProfileSet::parse(&text, &p.display().to_string())?)
        }
        None => Ok(ProfileSet::parse(
            scenario::DEFAULT_PROFILES,
            "scenarios/profiles.toml (embedded)",
        )?),
    }
}

/// The scenario files `paths` name: files as they are, directories' `*.toml` (but
/// `profiles.toml`) in name order.
pub(crate) fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().is_some_and(|e| e == "toml")
                        && f.file_name().is_some_and(|n| n != "profiles.toml")
                })
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "{}: no scenario files (*.toml) in this directory",
                    p.display()
                );
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!(
                "{}: no such scenario file or directory, nor an embedded scenario ({})",
                p.display(),
                crate::runner::scenario::embedded_names().join(", ")
            );
        }
    }
    Ok(files)
}

/// Writes summary.md and report.html beside results.json.
pub(crate) fn write_outputs(results: &Results, dir: &Path) -> anyhow::Result<()> {
    write_summary(results, dir)?;
    let html = dir.join("report.html");
    wirebench_reports::html::write(results, &html)?;
    Ok(())
}

/// Writes summary.md into `dir`; its path.
pub(crate) fn write_summary(results: &Results, dir: &Path) -> anyhow::Result<PathBuf> {
    let summary = dir.join("summary.md");
    std::fs::write(&summary, wirebench_reports::summary::markdown(results))
        .with_context(|| format!("writing {}", summary.display()))?;
    Ok(summary)
}

/// Writes `text` to stdout. A reader that went away (`wirebench list | head`) is not an
/// error: the output simply ends there, as with any Unix filter.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}

/// Checks the thresholds stored in `r` (its scenarios' `[thresholds]`): the headline and the
/// table of crossed ones on stderr, and [`EXIT_THRESHOLDS`] when any was crossed.
///
/// [`EXIT_THRESHOLDS`]: wirebench_reports::thresholds::EXIT_THRESHOLDS
pub(crate) fn thresholds_code(r: &Results) -> anyhow::Result<Option<u8>> {
    use wirebench_reports::thresholds::{check, markdown, EXIT_THRESHOLDS};
    if r.thresholds.is_empty() {
        return Ok(None);
    }
    let checks = check(r)?;
    eprint!("wirebench: {}", markdown(&checks, false));
    Ok(checks.iter().any(|c| !c.passed).then_some(EXIT_THRESHOLDS))
}

/// One JSON document on stdout, pretty-printed, ending with a line feed.
pub(crate) fn emit_json(doc: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(doc).context("serialising the JSON output")?;
    emit(&format!("{text}\n"))
}

/// The files a command wrote, for its JSON output: `{"<name>": path, …, "exports": [path, …]}`.
pub(crate) fn outputs_json(files: &[(&str, &Path)], exports: &[PathBuf]) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    for (name, p) in files {
        o.insert((*name).into(), p.display().to_string().into());
    }
    let exports: serde_json::Value = exports.iter().map(|p| p.display().to_string()).collect();
    o.insert("exports".into(), exports);
    serde_json::Value::Object(o)
}
