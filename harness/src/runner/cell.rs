//! One cell through the three stages: [`super::plan::resolve`] → [`super::execute::execute`]
//! → [`super::score::score`].

use std::path::Path;

use wirebench_reports::model::Cell;

use super::execute::execute;
use super::options::RunOptions;
use super::plan::{resolve, PlannedCell, RunFacts};
use super::score;

/// Runs one cell with the agents of `exe`: plan's resolution, execution, scoring. Failures
/// become a failed (or skipped) cell with the reason, never an error of the run. Returns the
/// cell and the link backend it used, if any. A shaped profile gets a fresh namespace
/// topology, torn down when the cell ends (or when this future is dropped, e.g. on Ctrl-C).
/// `inject_delay_us` is the hidden echo-reply delay for this cell's server agent (0 = none).
pub async fn run_cell(
    pc: &PlannedCell,
    opts: &RunOptions,
    exe: &Path,
    inject_delay_us: u64,
) -> (Cell, Option<&'static str>) {
    let cell = score::blank_cell(pc, opts.no_idle);
    let facts = RunFacts {
        profiles: &opts.profiles,
        netem: &opts.netem,
        plaintext: opts.plaintext,
        chromium: || crate::browser::chromium::find().is_some(),
        nginx: wirebench_netem::proxy::available,
        coturn: wirebench_netem::turn::available,
    };
    let resolved = match resolve(pc, &facts) {
        Ok(r) => r,
        Err(why) => return (score::not_run(cell, why), None),
    };
    let execution = execute(pc, &resolved, opts, exe, inject_delay_us).await;
    let backend = execution.backend;
    (score::score(cell, pc, &resolved, execution), backend)
}
