//! The commands that read results or the build's own tables: `report`, `compare`, `list`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::{json, Value};
use wirebench_reports::model::Results;

use super::args::{CompareArgs, ListArgs, OutputFormat, ReportArgs};
use super::io::{emit, emit_json, load_profiles, outputs_json, thresholds_code, write_summary};
use crate::runner::scenario;

/// Runs `wirebench report`: report.html, summary.md (and exports) from a results file, verdicts
/// recomputed with this build's rules. On stdout what was asked for: the verdicts (text), one
/// JSON document (`--format json`) or the HTML itself (`-o -`, the verdicts then on stderr);
/// the files written are said on stderr.
pub(crate) fn cmd_report(a: ReportArgs) -> anyhow::Result<u8> {
    let html_to_stdout = a.out.as_deref() == Some(Path::new("-"));
    if html_to_stdout && a.format == OutputFormat::Json {
        bail!("-o - and --format json both write to stdout: choose one");
    }
    let mut results = Results::load(&a.results)?;
    // The FAQ verdicts as this build's rules judge the cells.
    let verdicts = wirebench_reports::verdicts::evaluate(&results);
    if !verdicts.is_empty() {
        results.verdicts = wirebench_reports::verdicts::stored(&verdicts);
    }
    let beside_results = a.results.parent().unwrap_or_else(|| Path::new("."));
    let mut files: Vec<(&str, PathBuf)> = Vec::new();
    let dir = if html_to_stdout {
        emit(&wirebench_reports::html::render(&results)?)?;
        beside_results.to_path_buf()
    } else {
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| beside_results.join("report.html"));
        wirebench_reports::html::write(&results, &out)?;
        let dir = out.parent().unwrap_or_else(|| Path::new(".")).to_path_buf();
        // summary.md too, so both readers' views follow this build's rules.
        let summary = write_summary(&results, &dir)?;
        files.push(("report", out));
        files.push(("summary", summary));
        dir
    };
    let mut exports = Vec::new();
    for f in &a.export {
        exports.extend(wirebench_reports::export::write(&results, *f, &dir)?);
    }
    for p in files.iter().map(|(_, p)| p).chain(&exports) {
        eprintln!("wirebench: wrote {}", p.display());
    }
    let verdict_text = wirebench_reports::verdicts::terminal(&verdicts);
    match a.format {
        OutputFormat::Json => {
            let mut doc = wirebench_reports::terminal::json(&results);
            let named: Vec<(&str, &Path)> = files.iter().map(|(n, p)| (*n, p.as_path())).collect();
            doc["outputs"] = outputs_json(&named, &exports);
            emit_json(&doc)?;
        }
        OutputFormat::Text if html_to_stdout => eprint!("{verdict_text}"),
        OutputFormat::Text => emit(&verdict_text)?,
    }
    Ok(0)
}

/// Runs `wirebench compare`: the regression verdict between two results files.
pub(crate) fn cmd_compare(a: CompareArgs) -> anyhow::Result<u8> {
    use wirebench_reports::compare::{compare, CompareMetric, CompareOptions};
    let base = Results::load(&a.baseline)?;
    let cur = Results::load(&a.current)?;
    let opts = CompareOptions {
        threshold_pct: a.threshold,
        metrics: CompareMetric::parse_list(&a.metric.join(","))?,
        paired: a.paired,
        ..CompareOptions::default()
    };
    let cmp = compare(&base, &cur, &opts)?;
    if a.format == "json" {
        emit(&format!("{}\n", cmp.json()?))?;
    } else {
        emit(&cmp.markdown())?;
    }
    // The current file's absolute limits gate too, above any relative verdict.
    if let Some(c) = thresholds_code(&cur)? {
        return Ok(c);
    }
    Ok(u8::try_from(cmp.exit_code()).unwrap_or(1))
}

/// One entry of `wirebench list`: a name and the first line of its description.
type Entry = (String, String);

/// What `wirebench list` lists: transports, workloads, profiles and embedded scenarios.
struct Listing {
    transports: Vec<Entry>,
    workloads: Vec<Entry>,
    profiles: Vec<Entry>,
    scenarios: Vec<Entry>,
}

/// Runs `wirebench list`: transports, workloads and their parameters, profiles, scenarios, as
/// text or one JSON document.
pub(crate) fn cmd_list(a: ListArgs) -> anyhow::Result<u8> {
    let l = listing(a.profiles.as_deref())?;
    if a.format == OutputFormat::Json {
        let entries = |v: &[Entry], key: &str| -> Value {
            v.iter()
                .map(|(name, d)| json!({ key: name, "description": d }))
                .collect()
        };
        emit_json(&json!({
            "transports": entries(&l.transports, "id"),
            "workloads": entries(&l.workloads, "id"),
            "parameters": crate::workload::catalogue::list_json(),
            "profiles": entries(&l.profiles, "name"),
            "scenarios": entries(&l.scenarios, "name"),
        }))?;
        return Ok(0);
    }
    use std::fmt::Write as _;
    let section = |o: &mut String, title: &str, v: &[Entry]| {
        let _ = writeln!(o, "{title}");
        for (name, d) in v {
            let _ = writeln!(o, "  {name:<24} {d}");
        }
    };
    let mut o = String::new();
    section(&mut o, "transports:", &l.transports);
    section(&mut o, "\nworkloads:", &l.workloads);
    o.push('\n');
    o.push_str(&crate::workload::catalogue::list_text());
    section(&mut o, "\nprofiles:", &l.profiles);
    section(
        &mut o,
        "\nscenarios (embedded; `wirebench run NAME`):",
        &l.scenarios,
    );
    emit(&o)?;
    Ok(0)
}

/// The entries of `wirebench list`, profiles from `profiles` (default: the embedded file).
fn listing(profiles: Option<&Path>) -> anyhow::Result<Listing> {
    let profiles = load_profiles(profiles)?;
    let first = |d: &str| d.lines().next().unwrap_or("").to_string();
    let transports = crate::transport::ALL_IDS
        .iter()
        .map(|id| (id.to_string(), crate::transport::describe(id).to_string()))
        .collect();
    let workloads = crate::workload::ALL_IDS
        .iter()
        .map(|(id, d)| (id.to_string(), d.to_string()))
        .collect();
    let listed = profiles
        .profiles
        .iter()
        .map(|(name, p)| (name.clone(), first(&p.description)))
        .collect();
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    let mut scenarios = Vec::new();
    for name in scenario::embedded_names() {
        let Some(texts) = scenario::embedded(&name) else {
            continue;
        };
        if let [(origin, text)] = texts.as_slice() {
            let s = scenario::parse(text, origin, &names)?;
            scenarios.push((name, first(&s.description)));
        } else {
            scenarios.push((name, "every FAQ scenario below".to_string()));
        }
    }
    Ok(Listing {
        transports,
        workloads,
        profiles: listed,
        scenarios,
    })
}
