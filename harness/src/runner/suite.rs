//! Running a whole plan: every cell with every variant (interleaved), progress, Ctrl-C, and
//! `results.json` written after every cell.

use std::time::Instant;

use anyhow::{bail, Context as _};
use wirebench_reports::model::Results;

use super::cell::run_cell;
use super::options::RunOptions;
use super::plan::PlannedCell;
use super::progress;

/// Runs every cell with every variant (alternating which variant goes first, so order effects
/// cancel), writing each variant's `results.json` after every cell; returns the results in
/// variant order. Ctrl-C stops the run, tears down what the current cell set up, and keeps the
/// results of the cells finished so far.
pub async fn run(cells: Vec<PlannedCell>, opts: &RunOptions) -> anyhow::Result<Vec<Results>> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = crate::host::host_facts();
    let mut all = Vec::new();
    for v in &opts.variants {
        std::fs::create_dir_all(&v.out_dir)
            .with_context(|| format!("creating {}", v.out_dir.display()))?;
        all.push(Results {
            schema: wirebench_reports::SCHEMA.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git: option_env!("WIREBENCH_GIT").map(str::to_string),
            started_at: started_at.clone(),
            host: host.clone(),
            netem_backend: "none".to_string(),
            emulator_semantics: None,
            cells: Vec::new(),
            verdicts: Vec::new(),
        });
    }
    let n = opts.variants.len();
    let total = cells.len() * n;
    let mut bar = progress::Progress::new(opts.progress, total);
    let mut done = 0;
    for (i, pc) in cells.iter().enumerate() {
        for k in 0..n {
            // A B, B A, A B, ...: each variant goes first half the time.
            let vi = if i % 2 == 0 { k } else { n - 1 - k };
            let v = &opts.variants[vi];
            bar.start_cell(done, pc, &v.name);
            let started = Instant::now();
            let delay = if v.inject_delay {
                opts.inject_delay_us
            } else {
                0
            };
            let outcome = tokio::select! {
                c = run_cell(pc, opts, &v.exe, delay) => Some(c),
                _ = shutdown_signal() => None,
            };
            let Some((cell, backend)) = outcome else {
                bar.finish();
                for (r, v) in all.iter().zip(&opts.variants) {
                    r.save_atomic(&v.out_dir.join("results.json"))?;
                }
                bail!(
                    "interrupted after {done} of {total} cells; partial results in {}",
                    opts.variants[0].out_dir.join("results.json").display()
                );
            };
            bar.end_cell(done, pc, &v.name, &cell, started.elapsed());
            done += 1;
            let results = &mut all[vi];
            if let Some(b) = backend {
                results.netem_backend = b.to_string();
                results.emulator_semantics = Some(wirebench_netem::EMULATOR_SEMANTICS);
            }
            results.cells.push(cell);
            let path = v.out_dir.join("results.json");
            results
                .save_atomic(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    bar.finish();
    Ok(all)
}

/// Resolves on SIGINT, SIGTERM or SIGHUP, so every way of stopping a run tears down what it
/// set up (namespaces, child agents) before exiting.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let term = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let hup = async {
        match hup.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = hup => {}
    }
}
