//! `wirebench run`: scenarios → filters → plan → variants and link backend → run → verdicts
//! and outputs → exit code (and, with `--ab`, the regression verdict).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use wirebench_netem::{BackendChoice, BackendKind, ProfileSet};
use wirebench_reports::model::{Results, Status};

use super::args::{OutputFormat, RunArgs};
use super::io::{
    emit, emit_json, load_profiles, outputs_json, scenario_files, thresholds_code, write_outputs,
};
use crate::runner::{self, progress, scenario, PlannedCell};

/// Exit code of `wirebench run` when it completed but some cells failed.
pub const EXIT_CELLS_FAILED: u8 = 3;

/// Refuses an output directory holding an earlier run's results (`--force` overwrites them).
fn refuse_earlier_results(out_dir: &Path) -> anyhow::Result<()> {
    let earlier = [
        out_dir.join("results.json"),
        out_dir.join("current/results.json"),
    ];
    if let Some(p) = earlier.iter().find(|p| p.exists()) {
        bail!(
            "{} holds the results of an earlier run: pass --force to overwrite them, or choose \
             another --out",
            p.display()
        );
    }
    Ok(())
}

/// Runs `wirebench run`; its exit code.
pub(crate) async fn cmd_run(a: RunArgs) -> anyhow::Result<u8> {
    let profiles = load_profiles(a.profiles.as_deref())?;
    let mut scenarios = read_scenarios(&a, &profiles)?;
    check_filters(&a, &profiles)?;
    apply_filters(&a, &mut scenarios);
    warn_poll_phases(&scenarios);
    let cells = runner::plan(&scenarios, a.repeat);
    if cells.is_empty() {
        bail!("nothing to run: the filters leave no cell (check --transport and --profile)");
    }
    let out_dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("wirebench-out")
            .join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string())
    });
    if !a.force {
        refuse_earlier_results(&out_dir)?;
    }
    let variants = variants(a.ab.as_deref(), &out_dir)?;
    let shaped = cells.iter().any(|c| {
        profiles
            .get(&c.profile)
            .is_ok_and(|p| runner::needs_topology(&c.spec, p))
    });
    let netem = link_backend(&a, shaped);
    if !a.quiet {
        announce(&a, &cells, scenarios.len(), variants.len(), &out_dir);
        if shaped {
            match &netem {
                Ok(c) => eprintln!("wirebench: link emulation: {c}"),
                Err(e) => eprintln!(
                    "wirebench: link emulation unavailable, shaped cells will be skipped: {e}"
                ),
            }
        }
    }
    let _no_idle = if a.no_idle {
        Some(crate::clock::NoIdle::request().context(
            "--no-idle: cannot hold /dev/cpu_dma_latency at 0 (needs root and a kernel with PM QoS)",
        )?)
    } else {
        None
    };
    let opts = runner::RunOptions {
        out_dir: out_dir.clone(),
        plaintext: a.plaintext,
        profiles,
        progress: if a.quiet {
            progress::Mode::Quiet
        } else {
            progress::Mode::Auto
        },
        inject_delay_us: a.inject_delay_us,
        variants,
        netem,
        pin: a.pin,
        no_idle: a.no_idle,
        settle: Some(std::time::Duration::from_secs(a.settle)),
    };
    let mut all = runner::run(cells, &opts).await?;
    let thresholds: Vec<_> = scenarios
        .iter()
        .flat_map(|s| s.thresholds.clone())
        .collect();
    let mut exports = Vec::new();
    for (results, v) in all.iter_mut().zip(&opts.variants) {
        results.thresholds = thresholds.clone();
        exports = write_everything(results, &v.out_dir, &a)?;
    }
    let dir = opts.variants.last().map_or(&out_dir, |v| &v.out_dir);
    finish(&a, &all, dir, &out_dir, &exports)
}

/// The end of a run: the summary on stdout (text: the table, verdicts and paths, unless
/// --quiet; json: one document, always), failed cells said on stderr, the --ab verdict; the
/// exit code. `dir` holds the current build's outputs, `exports` the files --export wrote there.
fn finish(
    a: &RunArgs,
    all: &[Results],
    dir: &Path,
    out_dir: &Path,
    exports: &[PathBuf],
) -> anyhow::Result<u8> {
    let current = all.last().context("no results")?;
    let text = a.format == OutputFormat::Text;
    if text && !a.quiet {
        print_end(current, dir)?;
    }
    let mut code = failed_cells_code(all);
    let mut compared = None;
    if a.ab.is_some() {
        let cmp = ab_compare(&all[0], current, a.threshold, out_dir)?;
        if text {
            emit(&format!("\n{}\n", cmp.markdown()))?;
        }
        let c = cmp.exit_code();
        if c != wirebench_reports::compare::EXIT_OK {
            code = u8::try_from(c).unwrap_or(2);
        }
        compared = Some(serde_json::to_value(&cmp).context("the comparison as JSON")?);
    }
    if !text {
        let mut doc = wirebench_reports::terminal::json(current);
        doc["outputs"] = outputs_json(
            &[
                ("results", &dir.join("results.json")),
                ("summary", &dir.join("summary.md")),
                ("report", &dir.join("report.html")),
            ],
            exports,
        );
        if let Some(c) = compared {
            doc["compare"] = c;
        }
        emit_json(&doc)?;
    }
    if let Some(c) = thresholds_code(current)? {
        code = c;
    }
    Ok(code)
}

/// The scenarios to run: the files given, or the embedded default suite.
fn read_scenarios(a: &RunArgs, profiles: &ProfileSet) -> anyhow::Result<Vec<scenario::Scenario>> {
    let names: Vec<String> = profiles.profiles.keys().cloned().collect();
    let mut scenarios = Vec::new();
    if a.scenarios.is_empty() {
        for (origin, text) in scenario::embedded("default").unwrap_or_default() {
            scenarios.push(scenario::parse_scaled(text, &origin, &names, a.quick)?);
        }
        return Ok(scenarios);
    }
    for arg in &a.scenarios {
        // A file or directory by that name wins; else an embedded scenario's name.
        let named = (!arg.exists())
            .then(|| arg.to_str().and_then(scenario::embedded))
            .flatten();
        if let Some(named) = named {
            for (origin, text) in named {
                scenarios.push(scenario::parse_scaled(text, &origin, &names, a.quick)?);
            }
            continue;
        }
        for f in scenario_files(std::slice::from_ref(arg))? {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            scenarios.push(scenario::parse_scaled(
                &text,
                &f.display().to_string(),
                &names,
                a.quick,
            )?);
        }
    }
    Ok(scenarios)
}

/// The filter flags name things that exist, and the run settings make sense here.
fn check_filters(a: &RunArgs, profiles: &ProfileSet) -> anyhow::Result<()> {
    for t in &a.transport {
        if crate::transport::by_id(t).is_none() {
            bail!(
                "--transport: unknown transport {t:?} (known: {})",
                crate::transport::ALL_IDS.join(", ")
            );
        }
    }
    for p in &a.profile {
        profiles
            .get(p)
            .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    }
    if a.repeat == Some(0) {
        bail!("--repeat: must be at least 1");
    }
    if a.pin && std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        bail!("--pin needs at least 2 CPUs (server on CPU 0, client on CPU 1)");
    }
    Ok(())
}

/// `--transport`, `--profile` and `--client` applied to every workload.
fn apply_filters(a: &RunArgs, scenarios: &mut [scenario::Scenario]) {
    let client = a
        .client
        .as_deref()
        .and_then(scenario::ClientKind::parse_choice);
    for w in scenarios.iter_mut().flat_map(|s| &mut s.workloads) {
        if !a.transport.is_empty() {
            w.transports.retain(|t| a.transport.contains(t));
        }
        if !a.profile.is_empty() {
            w.profiles = a.profile.clone();
        }
        if let Some(c) = &client {
            w.client = c.clone();
        }
    }
}

/// Says on stderr which workloads' poll cells have an interval locked to their send period
/// ([`scenario::WorkloadPlan::poll_phase_warning`]); the run goes on.
fn warn_poll_phases(scenarios: &[scenario::Scenario]) {
    for s in scenarios {
        for w in &s.workloads {
            if let Some(msg) = w.poll_phase_warning() {
                eprintln!(
                    "wirebench: warning: {}, workload {:?}: {msg}",
                    s.name, w.name
                );
            }
        }
    }
}

/// The builds whose agents run the cells: this one, or with `--ab` the baseline and this one.
fn variants(ab: Option<&Path>, out_dir: &Path) -> anyhow::Result<Vec<runner::Variant>> {
    let me = std::env::current_exe().context("locating the wirebench executable")?;
    let Some(base) = ab else {
        return Ok(vec![runner::Variant {
            name: String::new(),
            exe: me,
            out_dir: out_dir.to_path_buf(),
            inject_delay: true,
        }]);
    };
    let base = base
        .canonicalize()
        .with_context(|| format!("--ab: {}: no such binary", base.display()))?;
    Ok(vec![
        runner::Variant {
            name: "baseline".into(),
            exe: base,
            out_dir: out_dir.join("baseline"),
            inject_delay: false,
        },
        runner::Variant {
            name: "current".into(),
            exe: me,
            out_dir: out_dir.join("current"),
            inject_delay: true,
        },
    ])
}

/// The link backend shaped cells run on (or why there is none); none needed when every
/// profile of the run is unshaped.
fn link_backend(a: &RunArgs, shaped: bool) -> Result<BackendChoice, String> {
    if shaped {
        wirebench_netem::choose_backend(a.netem, true).map_err(|e| e.to_string())
    } else {
        Ok(BackendChoice {
            kind: BackendKind::None,
            reason: "every profile of this run is unshaped".into(),
        })
    }
}

/// The first line of a run: how many cells, where the results go.
fn announce(a: &RunArgs, cells: &[PlannedCell], scenarios: usize, variants: usize, out_dir: &Path) {
    eprintln!(
        "wirebench: {} cells ({} scenario{}{}), writing {}",
        cells.len() * variants,
        scenarios,
        if scenarios == 1 { "" } else { "s" },
        if a.ab.is_some() { ", A/B" } else { "" },
        out_dir.display()
    );
}

/// The FAQ verdicts (for the FAQ scenarios among those run), summary.md, report.html and the
/// exports asked for, beside `results.json` in `dir`; the export files written.
fn write_everything(
    results: &mut Results,
    dir: &Path,
    a: &RunArgs,
) -> anyhow::Result<Vec<PathBuf>> {
    let verdicts = wirebench_reports::verdicts::evaluate(results);
    if !verdicts.is_empty() || !results.thresholds.is_empty() {
        results.verdicts = wirebench_reports::verdicts::stored(&verdicts);
        let path = dir.join("results.json");
        results
            .save_atomic(&path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    write_outputs(results, dir)?;
    let mut exports = Vec::new();
    for f in &a.export {
        exports.extend(wirebench_reports::export::write(results, *f, dir)?);
    }
    Ok(exports)
}

/// The end of a run on stdout: the table, the verdicts, where the files are.
fn print_end(current: &Results, dir: &Path) -> anyhow::Result<()> {
    emit(&format!(
        "{}{}\nresults: {}\nsummary: {}\nreport:  {}\n",
        wirebench_reports::terminal::table(current),
        wirebench_reports::verdicts::terminal(&wirebench_reports::verdicts::read(current)),
        dir.join("results.json").display(),
        dir.join("summary.md").display(),
        dir.join("report.html").display()
    ))
}

/// [`EXIT_CELLS_FAILED`] when a cell of any variant failed (said on stderr), else 0.
fn failed_cells_code(all: &[Results]) -> u8 {
    let failed = all
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| c.status == Status::Failed)
        .count();
    if failed > 0 {
        eprintln!("wirebench: {failed} cell(s) failed; see summary.md");
        EXIT_CELLS_FAILED
    } else {
        0
    }
}

/// `--ab`: compares the two builds' results (paired: repeat i of both ran back to back) and
/// writes compare.md and compare.json into `out_dir`.
fn ab_compare(
    baseline: &Results,
    current: &Results,
    threshold_pct: f64,
    out_dir: &Path,
) -> anyhow::Result<wirebench_reports::compare::Comparison> {
    use wirebench_reports::compare::{compare, CompareOptions};
    let cmp = compare(
        baseline,
        current,
        &CompareOptions {
            threshold_pct,
            // Repeat i of both builds ran back to back (A B A B …).
            paired: true,
            ..CompareOptions::default()
        },
    )?;
    let md = cmp.markdown();
    let path = out_dir.join("compare.md");
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    std::fs::write(out_dir.join("compare.json"), cmp.json()?)
        .with_context(|| format!("writing {}", out_dir.join("compare.json").display()))?;
    Ok(cmp)
}
