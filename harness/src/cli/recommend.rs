//! `wirebench recommend`: transports ranked for a workload's traits, from a results file or
//! from the FAQ scenarios it needs, run at CI scale first.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Parser as _;
use wirebench_reports::model::Results;
use wirebench_reports::recommend::{self, Connectivity, Traits};

use super::args::{OutputFormat, RecommendArgs, RunOnly, TopologyArg};
use super::io::{emit, load_profiles};
use super::run::cmd_run;
use crate::runner::scenario;

/// `recommend`'s exit code when the results hold nothing to rank for the traits: `compare`'s
/// "nothing could be judged".
pub const EXIT_NOTHING_TO_RANK: u8 = wirebench_reports::compare::EXIT_NOTHING_JUDGED as u8;

/// Runs `wirebench recommend`: ranks transports for the traits given.
pub(crate) async fn cmd_recommend(a: RecommendArgs) -> anyhow::Result<u8> {
    if a.clients == 0 {
        bail!("--clients: must be at least 1");
    }
    if !(a.rate.is_finite() && a.rate > 0.0) {
        bail!(
            "--rate {}: must be a positive number of messages per second",
            a.rate
        );
    }
    if a.size < crate::frame::HEADER_LEN as u64 || a.size > crate::frame::MAX_FRAME as u64 {
        bail!(
            "--size {}: must be between {} and {} bytes",
            a.size,
            crate::frame::HEADER_LEN,
            crate::frame::MAX_FRAME
        );
    }
    if let Some(p) = &a.profile {
        load_profiles(None)?
            .get(p)
            .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    }
    let traits = Traits {
        topology: match a.topology {
            TopologyArg::P2p => Connectivity::P2p,
            TopologyArg::Server => Connectivity::Server,
        },
        clients: a.clients,
        rate: a.rate,
        size: a.size,
        quiet_periods: a.quiet_periods,
        loss_tolerant: a.loss_tolerant,
        profile: a.profile.clone(),
    };
    let results = match &a.results {
        Some(path) => Results::load(path)?,
        None => run_needed(&a, &traits).await?,
    };
    let rec = recommend::recommend(&results, &traits);
    if a.format == OutputFormat::Json {
        emit(&format!("{}\n", rec.json()?))?;
    } else {
        emit(&rec.text())?;
    }
    if !rec.ranked_any() {
        eprintln!("wirebench recommend: nothing to rank (see the notes above)");
        return Ok(EXIT_NOTHING_TO_RANK);
    }
    Ok(0)
}

/// Runs the FAQ scenarios `traits` need at CI scale (`--quick`) into `--out` (or a fresh
/// folder) and reads their results.
async fn run_needed(a: &RecommendArgs, traits: &Traits) -> anyhow::Result<Results> {
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("wirebench-out").join(format!(
            "recommend-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ))
    });
    let dir = out.join("scenarios");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for name in recommend::needed_scenarios(traits) {
        let stem = name.trim_start_matches("faq-");
        match scenario::FAQ_SCENARIOS
            .iter()
            .find(|(f, _)| f.strip_suffix(".toml") == Some(stem))
        {
            Some((file, text)) => {
                let path = dir.join(file);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                files.push(path);
            }
            None => missing.push(name),
        }
    }
    if files.is_empty() {
        bail!(
            "the scenarios these traits need ({}) are not in this build; pass --results",
            missing.join(", ")
        );
    }
    eprintln!(
        "wirebench recommend: no --results; running {} at CI scale (--quick) into {}",
        files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        out.display()
    );
    let mut argv: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--quick".into(),
        "--quiet".into(),
        "--out".into(),
        out.clone().into(),
        "--netem".into(),
        clap::ValueEnum::to_possible_value(&a.netem)
            .map_or("auto".to_string(), |v| v.get_name().to_string())
            .into(),
    ];
    argv.extend(files.into_iter().map(Into::into));
    let run = RunOnly::try_parse_from(argv).context("building the scenario run")?;
    Box::pin(cmd_run(run.run)).await?;
    Ok(Results::load(&out.join("results.json"))?)
}
