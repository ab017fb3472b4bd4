//! `wirebench drive --shard I/N --out FILE`: one shard of a cell's clients, run on one client
//! machine, written as a `wirebench/1` results file of one cell (docs/distributed.md).
//!
//! The split is by contiguous blocks of client ids: of `C` clients from id `F`, shard `I` of
//! `N` runs ids `F + ⌊I·C/N⌋ .. F + ⌊(I+1)·C/N⌋`. Every shard runs the workload with the
//! cell's whole `clients = C`, so each client's schedule phase, `(id mod C) · period / C`
//! ([`WorkloadSpec::client_start_ns`]), is the one it has in a single agent running all `C`.
//! The cell is scored by the runner's own scorer ([`crate::runner::score`]), as `wirebench
//! run` scores an agent's report.

use std::path::Path;

use anyhow::{bail, Context as _};
use wirebench_reports::model::{Cell, Results, Shard, Status, CLOCKS_PER_HOST};

use crate::runner::execute::{Collected, Ending, Execution};
use crate::runner::plan::{PlannedCell, Resolved};
use crate::runner::scenario::ClientKind;
use crate::workload::{ClientReport, Marks, ServerReport, WorkloadSpec};

/// `I/N` of `--shard`: shard index I (from 0) of N shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardArg {
    /// I, from 0.
    pub(crate) index: u32,
    /// N, at least 1.
    pub(crate) of: u32,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not I/N (e.g. 0/4)"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|e| format!("{s:?}: {what} {v:?}: {e}"))
        };
        let (index, of) = (parse(i, "index")?, parse(n, "count")?);
        if of == 0 {
            return Err(format!("{s:?}: N must be at least 1"));
        }
        if index >= of {
            return Err(format!("{s:?}: I must be below N (shards are 0 .. N-1)"));
        }
        Ok(Self { index, of })
    }
}

impl ShardArg {
    /// The shard's block of `clients` client ids from `first`: (first id, count). An error
    /// when the block is empty (more shards than clients).
    pub(crate) fn block(self, first: u32, clients: u32) -> anyhow::Result<(u32, u32)> {
        let (c, i, n) = (
            u64::from(clients),
            u64::from(self.index),
            u64::from(self.of),
        );
        let lo = i * c / n;
        let hi = (i + 1) * c / n;
        if hi == lo {
            bail!(
                "--shard {}/{}: {clients} clients in {} shards leave this one none \
                 (use at most {clients} shards)",
                self.index,
                self.of,
                self.of
            );
        }
        let first = u32::try_from(u64::from(first) + lo).context("--client-id: ids overflow")?;
        Ok((first, (hi - lo) as u32))
    }
}

/// What one `drive --out` ran: the labels its cell takes and the clients it ran.
pub(crate) struct DriveCell<'a> {
    /// The workload as run (its `clients` is the whole cell's).
    pub(crate) spec: &'a WorkloadSpec,
    /// Transport id and implementation.
    pub(crate) transport: &'a str,
    /// Implementation, where the transport has several.
    pub(crate) implementation: Option<&'a str>,
    /// Scenario, profile and repeat labels.
    pub(crate) scenario: &'a str,
    /// The network's name (drive does not shape it).
    pub(crate) profile: &'a str,
    /// Repeat index.
    pub(crate) repeat: u32,
    /// The shard, if the cell was split.
    pub(crate) shard: Option<ShardArg>,
    /// This agent's clients: first id and count.
    pub(crate) first_client: u32,
    /// How many.
    pub(crate) clients: u32,
    /// When it started, RFC 3339 UTC.
    pub(crate) started_at: String,
}

/// The results file of one `drive --out`: the report scored as `wirebench run` scores a cell
/// (without the server's figures: `drive` does not control the server), with the shard's
/// entry and `params.shard` / `params.clocks`.
pub(crate) fn results_of(d: &DriveCell<'_>, report: ClientReport) -> anyhow::Result<Results> {
    let implementation = d.implementation.map(str::to_string).or_else(|| {
        crate::transport::implementations(d.transport)
            .first()
            .map(|s| s.to_string())
    });
    let pc = PlannedCell::new(
        d.scenario,
        d.spec.id(),
        d.spec,
        d.transport,
        implementation,
        d.profile,
        d.repeat,
        false,
        ClientKind::Rust,
    );
    let resolved = Resolved {
        link: wirebench_netem::Profile::default(),
        topology: None,
        rtt_ms: None,
    };
    let setup_us_hdr = setup_histogram(&report.setup_us)?;
    let execution = Execution {
        ending: Ending::Ran(Box::new(Collected {
            report,
            server: ServerReport::default(),
            marks: Marks::default(),
            browser: None,
            cross: None,
            turn_cpu_s: None,
            window: None,
        })),
        wire_bytes: None,
        backend: None,
        emulator: None,
        teardown_error: None,
    };
    let blank = crate::runner::score::blank_cell(&pc, false);
    let mut cell = crate::runner::score::score(blank, &pc, &resolved, execution);
    label_cell(&mut cell, d, setup_us_hdr);
    let mut results = Results::of_cells(vec![cell]);
    results.version = env!("CARGO_PKG_VERSION").to_string();
    results.git = option_env!("WIREBENCH_GIT").map(str::to_string);
    results.started_at = d.started_at.clone();
    results.host = crate::host::host_facts();
    results.netem_backend = "none".to_string();
    Ok(results)
}

/// What a drive cell records beyond the runner's figures: no link of its own (the network
/// between the machines is not wirebench's), the clocks' caveat, and the shard.
fn label_cell(cell: &mut Cell, d: &DriveCell<'_>, setup_us_hdr: Option<String>) {
    // The scorer records the (unshaped) link it was given; drive shapes nothing, so the
    // profile is only the name the user gave the network.
    cell.params.remove("link");
    cell.params.remove("queue");
    cell.params.insert("clocks".into(), CLOCKS_PER_HOST.into());
    let Some(s) = d.shard else { return };
    let shard = Shard {
        index: s.index,
        of: s.of,
        first_client: d.first_client,
        clients: d.clients,
        hostname: crate::host::host_facts().hostname,
        started_at: d.started_at.clone(),
        status: cell.status,
        error: cell.error.clone(),
        resources: cell.resources.clone(),
        send_lateness_us: cell.send_lateness_us.clone(),
        setup_us_hdr,
    };
    cell.params.insert("shard".into(), shard.label().into());
    cell.shards = vec![shard];
}

/// The connections' setup times as a histogram (µs), for an exact merge; None without any.
fn setup_histogram(setup_us: &[u64]) -> anyhow::Result<Option<String>> {
    if setup_us.is_empty() {
        return Ok(None);
    }
    let mut h = crate::workload::new_histogram();
    for &us in setup_us {
        h.record(us.clamp(1, crate::workload::MAX_LATENCY_US))
            .context("recording a setup time")?;
    }
    Ok(Some(wirebench_reports::encode_histogram(&h)?))
}

/// Writes `results` to `out`, saying where on stderr; `-`: stdout, the JSON document on one
/// line, so it can be picked out of a log that interleaves stderr (`kubectl logs | grep '^{'`).
pub(crate) fn write(results: &Results, out: &Path) -> anyhow::Result<()> {
    if out == Path::new("-") {
        let text = serde_json::to_string(results).context("serialising the results")?;
        return super::io::emit(&format!("{text}\n"));
    }
    results.save_atomic(out)?;
    let cell = results.cells.first();
    let status = cell.map_or("no cell", |c| match c.status {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    });
    eprintln!("wirebench: wrote {} (cell {status})", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_args_parse_and_refuse_with_the_reason() {
        let s: ShardArg = "2/4".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, ShardArg { index: 2, of: 4 });
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<ShardArg>().is_err(), "{bad} accepted");
        }
    }

    /// Contiguous blocks cover every id once, in order, however C and N divide.
    #[test]
    fn blocks_partition_the_ids() {
        for (c, n) in [(10, 3), (7, 7), (100, 4), (5, 2), (1, 1)] {
            let mut next = 5;
            for i in 0..n {
                let (first, k) = ShardArg { index: i, of: n }
                    .block(5, c)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(first, next, "{c} clients, shard {i}/{n}");
                assert!(k > 0);
                next = first + k;
            }
            assert_eq!(next, 5 + c);
        }
        let err = ShardArg { index: 0, of: 3 }.block(1, 2);
        assert!(err.is_err_and(|e| e.to_string().contains("at most 2 shards")));
    }
}
