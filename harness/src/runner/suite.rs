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
    // Caught from here on: a signal that arrives while the first cell is setting up, or
    // between cells, still tears down what exists (a listener made per cell missed both).
    let mut shutdown = Shutdown::install()?;
    reap_orphans(opts);
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut host = crate::host::host_facts();
    if let Some(wait) = opts.settle {
        let quiet = opts.progress == progress::Mode::Quiet;
        tokio::select! {
            s = super::settle::settle(wait, quiet) => host.settle = Some(s),
            _ = shutdown.recv() => bail!("interrupted while waiting for the machine to settle"),
        }
    }
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
            thresholds: Vec::new(),
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
                _ = shutdown.recv() => None,
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

/// SIGINT, SIGTERM and SIGHUP, caught from the moment this is made until it is dropped, so
/// every way of stopping a run tears down what it set up (namespaces, child agents) before
/// exiting, whenever the signal comes.
#[derive(Debug)]
pub struct Shutdown {
    signals: Vec<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Installs the handlers (the default action, exiting at once, no longer applies).
    pub fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let signals = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .into_iter()
        .map(|k| signal(k).context("installing the Ctrl-C / SIGTERM / SIGHUP handler"))
        .collect::<anyhow::Result<_>>()?;
        Ok(Self { signals })
    }

    /// Resolves when one of the signals arrives (or has arrived since the last call).
    pub async fn recv(&mut self) {
        let waits = self.signals.iter_mut().map(|s| Box::pin(s.recv()));
        futures_util::future::select_all(waits).await;
    }
}

/// Removes the namespaces of earlier runs whose process no longer exists (killed with
/// SIGKILL, say), saying so; a live run's namespaces are never touched.
fn reap_orphans(opts: &RunOptions) {
    if opts.netem.is_err() {
        return;
    }
    match wirebench_netem::reap_orphans() {
        Ok(removed) if !removed.is_empty() => eprintln!(
            "wirebench: removed {} namespace(s) left by runs that no longer exist: {}",
            removed.len(),
            removed.join(", ")
        ),
        Ok(_) => {}
        Err(e) => eprintln!("wirebench: could not remove namespaces left by earlier runs: {e}"),
    }
}
