//! The commands that read results or the build's own tables: `report`, `compare`, `list`.

use std::path::Path;

use anyhow::Context as _;
use wirebench_reports::model::Results;

use super::args::{CompareArgs, ListArgs, ReportArgs};
use super::io::{emit, load_profiles, thresholds_code};
use crate::runner::scenario;

/// Runs `wirebench report`: report.html (and exports) from a results file, verdicts
/// recomputed with this build's rules.
pub(crate) fn cmd_report(a: ReportArgs) -> anyhow::Result<u8> {
    let mut results = Results::load(&a.results)?;
    // The FAQ verdicts as this build's rules judge the cells.
    let verdicts = wirebench_reports::verdicts::evaluate(&results);
    if !verdicts.is_empty() {
        results.verdicts = wirebench_reports::verdicts::stored(&verdicts);
        eprint!("{}", wirebench_reports::verdicts::terminal(&verdicts));
    }
    let out = a.out.unwrap_or_else(|| {
        a.results
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("report.html")
    });
    wirebench_reports::html::write(&results, &out)?;
    println!("{}", out.display());
    let dir = out.parent().unwrap_or_else(|| Path::new("."));
    // summary.md too, so both readers' views follow this build's rules.
    let summary = dir.join("summary.md");
    std::fs::write(&summary, wirebench_reports::summary::markdown(&results))
        .with_context(|| format!("writing {}", summary.display()))?;
    println!("{}", summary.display());
    for f in &a.export {
        for p in wirebench_reports::export::write(&results, *f, dir)? {
            println!("{}", p.display());
        }
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

/// Runs `wirebench list`: transports, workloads and their parameters, profiles, scenarios.
pub(crate) fn cmd_list(a: ListArgs) -> anyhow::Result<u8> {
    use std::fmt::Write as _;
    let profiles = load_profiles(a.profiles.as_deref())?;
    let mut o = String::from("transports:\n");
    for id in crate::transport::ALL_IDS {
        let _ = writeln!(o, "  {id:<24} {}", crate::transport::describe(id));
    }
    o.push_str("\nworkloads:\n");
    for (id, d) in crate::workload::ALL_IDS {
        let _ = writeln!(o, "  {id:<24} {d}");
    }
    o.push('\n');
    o.push_str(&crate::workload::catalogue::list_text());
    o.push_str("\nprofiles:\n");
    for (name, p) in &profiles.profiles {
        let first = p.description.lines().next().unwrap_or("");
        let _ = writeln!(o, "  {name:<24} {first}");
    }
    o.push_str("\nscenarios (embedded; `wirebench run NAME`):\n");
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    for name in scenario::embedded_names() {
        let Some(texts) = scenario::embedded(&name) else {
            continue;
        };
        if let [(origin, text)] = texts.as_slice() {
            let s = scenario::parse(text, origin, &names)?;
            let first = s.description.lines().next().unwrap_or("");
            let _ = writeln!(o, "  {name:<24} {first}");
        } else {
            let _ = writeln!(o, "  {name:<24} every FAQ scenario below");
        }
    }
    emit(&o)?;
    Ok(0)
}
