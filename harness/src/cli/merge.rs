//! `wirebench merge FILE... --out FILE`: the shards of one cell (`drive --shard I/N`, one
//! results file each) combined into one results file, exactly: latency histograms added and
//! the percentiles recomputed from the sum, counters summed, each shard's own entry (host,
//! resources, sender lateness, setup histogram) kept in `shards`. Files that are not all the
//! shards of one cell are refused, naming the file and what differs (docs/distributed.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use wirebench_reports::model::{
    Cell, Delivery, HarnessBound, Latency, Lateness, Resources, Results, Shard, Status, Throughput,
    Warmup,
};

use super::args::MergeArgs;

/// Runs `wirebench merge`: exit 0 when the merged cell is ok, 3 when a shard failed.
pub(crate) fn cmd_merge(a: MergeArgs) -> anyhow::Result<u8> {
    let mut inputs = Vec::with_capacity(a.files.len());
    for f in &a.files {
        inputs.push((f.clone(), Results::load(f)?));
    }
    let merged = merge(&inputs)?;
    super::shard::write(&merged, &a.out)?;
    let ok = merged.cells.iter().all(|c| c.status == Status::Ok);
    Ok(if ok { 0 } else { super::run::EXIT_CELLS_FAILED })
}

/// One input: its path and what it holds.
type Input = (PathBuf, Results);

/// The shards of one cell, merged; an error naming the file and the field when they are not.
pub(crate) fn merge(inputs: &[Input]) -> anyhow::Result<Results> {
    let Some(first) = inputs.first() else {
        bail!("no results files to merge");
    };
    let mut shards: Vec<(&Path, &Cell, &Shard)> = Vec::with_capacity(inputs.len());
    for (path, r) in inputs {
        let (cell, shard) = the_shard(path, r)?;
        same_cell(first, (path, r))?;
        shards.push((path, cell, shard));
    }
    shards.sort_by_key(|(_, _, s)| s.index);
    complete(&shards)?;
    let cells: Vec<&Cell> = shards.iter().map(|(_, c, _)| *c).collect();
    let cell = merge_cells(&cells).with_context(|| format!("merging {}", paths(inputs)))?;
    let mut out = first.1.clone();
    out.started_at = inputs
        .iter()
        .map(|(_, r)| r.started_at.clone())
        .min()
        .unwrap_or_default();
    out.cells = vec![cell];
    out.verdicts.clear();
    Ok(out)
}

fn paths(inputs: &[Input]) -> String {
    let v: Vec<String> = inputs
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    v.join(", ")
}

/// The one cell of a shard's file and its shard entry.
fn the_shard<'a>(path: &Path, r: &'a Results) -> anyhow::Result<(&'a Cell, &'a Shard)> {
    let p = path.display();
    let [cell] = r.cells.as_slice() else {
        bail!(
            "{p}: holds {} cells; merge combines the shards of one cell (each file from \
             `wirebench drive --shard I/N --out FILE`)",
            r.cells.len()
        );
    };
    let label = cell.params.get("shard").and_then(|v| v.as_str());
    let (Some(label), [shard]) = (label, cell.shards.as_slice()) else {
        bail!("{p}: not a shard's file (no params.shard and one `shards` entry; `wirebench drive --shard I/N --out FILE` writes one)");
    };
    if shard.label() != label {
        bail!(
            "{p}: params.shard is {label:?} but its shards entry is {:?}",
            shard.label()
        );
    }
    Ok((cell, shard))
}

/// Refuses a file whose envelope or cell differs from the first file's, naming the field.
fn same_cell(first: &Input, other: (&PathBuf, &Results)) -> anyhow::Result<()> {
    let (a, b) = (&first.1, other.1);
    let (ca, cb) = (&a.cells[0], &b.cells[0]);
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let fields: [(&str, String, String); 13] = [
        ("schema", show(&a.schema), show(&b.schema)),
        ("version", show(&a.version), show(&b.version)),
        (
            "netem_backend",
            show(&a.netem_backend),
            show(&b.netem_backend),
        ),
        ("cell.scenario", show(&ca.scenario), show(&cb.scenario)),
        ("cell.workload", show(&ca.workload), show(&cb.workload)),
        ("cell.label", show(&ca.label), show(&cb.label)),
        ("cell.transport", show(&ca.transport), show(&cb.transport)),
        (
            "cell.impl",
            show(&ca.implementation),
            show(&cb.implementation),
        ),
        ("cell.profile", show(&ca.profile), show(&cb.profile)),
        ("cell.repeat", show(&ca.repeat), show(&cb.repeat)),
        ("cell.client", show(&ca.client), show(&cb.client)),
        (
            "cell.phase_step_ns",
            show(&ca.phase_step_ns),
            show(&cb.phase_step_ns),
        ),
        (
            "shards[0].of",
            show(&ca.shards[0].of),
            show(&cb.shards[0].of),
        ),
    ];
    let differs = |field: &str, x: &str, y: &str| {
        anyhow::anyhow!(
            "{}: {field} is {y}, but {} has {x}: not a shard of the same cell",
            other.0.display(),
            first.0.display()
        )
    };
    for (field, x, y) in &fields {
        if x != y {
            return Err(differs(field, x, y));
        }
    }
    let names: std::collections::BTreeSet<&String> =
        ca.params.keys().chain(cb.params.keys()).collect();
    for n in names.into_iter().filter(|n| n.as_str() != "shard") {
        let (x, y) = (ca.params.get(n), cb.params.get(n));
        if x != y {
            let s = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
            return Err(differs(&format!("params.{n}"), &s(x), &s(y)));
        }
    }
    Ok(())
}

/// Every shard 0 .. N-1 once, their client blocks tiling the cell's clients in order.
fn complete(shards: &[(&Path, &Cell, &Shard)]) -> anyhow::Result<()> {
    let n = shards.first().map_or(0, |(_, _, s)| s.of);
    for w in shards.windows(2) {
        if w[0].2.index == w[1].2.index {
            bail!(
                "{} and {} are both shard {}: each shard once",
                w[0].0.display(),
                w[1].0.display(),
                w[0].2.label()
            );
        }
    }
    let have: Vec<u32> = shards.iter().map(|(_, _, s)| s.index).collect();
    let missing: Vec<String> = (0..n)
        .filter(|i| !have.contains(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shards missing: {} (have {})",
            missing.join(", "),
            have.iter()
                .map(|i| format!("{i}/{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for w in shards.windows(2) {
        let (a, b) = (w[0].2, w[1].2);
        if a.first_client + a.clients != b.first_client {
            bail!(
                "{}: shard {} runs clients from {}, but shard {} ended at {}: not one cell's split",
                w[1].0.display(),
                b.label(),
                b.first_client,
                a.label(),
                a.first_client + a.clients - 1
            );
        }
    }
    Ok(())
}

/// The cell of the shards (index order) combined. Figures a shard's cell may hold that have
/// no exact combination (a link emulator's, a browser's, idle and flap figures) are refused.
fn merge_cells(cells: &[&Cell]) -> anyhow::Result<Cell> {
    let first = cells[0];
    for c in cells {
        for (field, present) in [
            ("emulator", c.emulator.is_some()),
            ("browser", c.browser.is_some()),
            ("idle", c.idle.is_some()),
            ("flap", c.flap.is_some()),
        ] {
            if present {
                bail!("the cells hold `{field}` figures, which merge does not combine");
            }
        }
    }
    let n = cells.len();
    let mut cell = first.clone();
    cell.params
        .insert("shard".into(), format!("all/{n}").into());
    cell.shards = cells.iter().flat_map(|c| c.shards.clone()).collect();
    merge_status(&mut cell, cells);
    cell.latency_us = merge_latency(cells)?;
    cell.delivery = sum_some(cells, |c| c.delivery.as_ref(), add_delivery);
    cell.throughput = sum_some(cells, |c| c.throughput.as_ref(), add_throughput);
    cell.wire = merge_wire(cells);
    cell.resources = sum_some(
        cells,
        |c| c.resources.as_ref(),
        |a, b| Resources {
            server_cpu_s: None,
            server_rss_peak_bytes: None,
            client_cpu_s: add_opt(a.client_cpu_s, b.client_cpu_s),
            client_rss_peak_bytes: a.client_rss_peak_bytes.max(b.client_rss_peak_bytes),
            // `drive` reads no marks: a shard has no measured window to add.
            window: None,
        },
    );
    cell.warmup = sum_some(
        cells,
        |c| c.warmup.as_ref(),
        |a, b| Warmup {
            duration_ms: a.duration_ms,
            samples: a.samples + b.samples,
        },
    );
    cell.send_lateness_us = sum_some(
        cells,
        |c| c.send_lateness_us.as_ref(),
        |a, b| Lateness {
            p50: a.p50.max(b.p50),
            p99: a.p99.max(b.p99),
            max: a.max.max(b.max),
        },
    );
    let p50 = cell.latency_us.as_ref().and_then(|l| l.p50);
    cell.harness_bound = cell
        .send_lateness_us
        .as_ref()
        .and_then(|l| HarnessBound::check(l.p99, p50));
    cell.errors = BTreeMap::new();
    for c in cells {
        for (k, v) in &c.errors {
            *cell.errors.entry(k.clone()).or_default() += v;
        }
    }
    merge_setup(&mut cell, cells)?;
    Ok(cell)
}

/// Ok when every shard is; otherwise failed, each failed shard's reason named.
fn merge_status(cell: &mut Cell, cells: &[&Cell]) {
    let failed: Vec<String> = cells
        .iter()
        .filter(|c| c.status != Status::Ok)
        .map(|c| {
            let label = c.shards.first().map(Shard::label).unwrap_or_default();
            format!("shard {label}: {}", c.error.as_deref().unwrap_or("failed"))
        })
        .collect();
    if failed.is_empty() {
        cell.status = Status::Ok;
        cell.error = None;
    } else {
        cell.status = Status::Failed;
        cell.error = Some(failed.join("; "));
    }
}

/// The shards' delivered-frame histograms added, their lost frames summed, the figures
/// recomputed from the sum.
fn merge_latency(cells: &[&Cell]) -> anyhow::Result<Option<Latency>> {
    let mut sum: Option<Histogram<u64>> = None;
    let mut lost = 0;
    for l in cells.iter().filter_map(|c| c.latency_us.as_ref()) {
        let h = l.histogram()?;
        lost += l.lost;
        match sum.as_mut() {
            None => sum = Some(h),
            Some(s) => s
                .add(&h)
                .map_err(|e| anyhow::anyhow!("adding histograms: {e:?}"))?,
        }
    }
    Ok(match sum {
        Some(h) => Some(Latency::with_lost(&h, lost)?),
        None => None,
    })
}

/// The setup median from the shards' setup histograms added, and each phase's mean weighted
/// by the shards' connections.
fn merge_setup(cell: &mut Cell, cells: &[&Cell]) -> anyhow::Result<()> {
    let mut sum: Option<Histogram<u64>> = None;
    let mut phases: BTreeMap<String, f64> = BTreeMap::new();
    for c in cells {
        let Some(hdr) = c.shards.first().and_then(|s| s.setup_us_hdr.as_deref()) else {
            continue;
        };
        let h = wirebench_reports::decode_histogram(hdr)?;
        for (k, mean_ms) in &c.setup_phases_ms {
            *phases.entry(k.clone()).or_default() += mean_ms * h.len() as f64;
        }
        match sum.as_mut() {
            None => sum = Some(h),
            Some(s) => s
                .add(&h)
                .map_err(|e| anyhow::anyhow!("adding setup histograms: {e:?}"))?,
        }
    }
    let Some(h) = sum.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let n = h.len() as f64;
    cell.setup_ms = Some(h.value_at_quantile(0.5) as f64 / 1000.0);
    cell.setup_rtts = None;
    cell.setup_phases_ms = phases
        .into_iter()
        .map(|(k, total)| (k, (total / n * 1000.0).round() / 1000.0))
        .collect();
    Ok(())
}

/// Wire bytes summed when every shard has them; the overhead ratio over the summed payload.
fn merge_wire(cells: &[&Cell]) -> Option<wirebench_reports::model::Wire> {
    let mut w = wirebench_reports::model::Wire::default();
    let (mut up, mut down, mut payload) = (Some(0), Some(0), Some(0.0));
    for c in cells {
        let cw = c.wire.as_ref();
        up = up.zip(cw.and_then(|w| w.bytes_up)).map(|(a, b)| a + b);
        down = down.zip(cw.and_then(|w| w.bytes_down)).map(|(a, b)| a + b);
        let p = cw.and_then(|w| {
            let bytes = w.bytes_up? + w.bytes_down?;
            w.overhead_ratio.map(|r| bytes as f64 / r)
        });
        payload = payload.zip(p).map(|(a, b)| a + b);
    }
    if cells.iter().all(|c| c.wire.is_none()) {
        return None;
    }
    (w.bytes_up, w.bytes_down) = (up, down);
    w.overhead_ratio = up
        .zip(down)
        .zip(payload)
        .filter(|(_, p)| *p > 0.0)
        .map(|((u, d), p)| (u + d) as f64 / p);
    Some(w)
}

/// The shards' values of a figure folded with `add`; None when no shard has it.
fn sum_some<T: Clone>(
    cells: &[&Cell],
    get: impl Fn(&Cell) -> Option<&T>,
    add: impl Fn(&T, &T) -> T,
) -> Option<T> {
    cells
        .iter()
        .filter_map(|c| get(c))
        .fold(None, |acc: Option<T>, v| {
            Some(acc.map_or_else(|| v.clone(), |a| add(&a, v)))
        })
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    }
}

fn add_delivery(a: &Delivery, b: &Delivery) -> Delivery {
    let opt = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    Delivery {
        sent: a.sent + b.sent,
        received: a.received + b.received,
        lost: a.lost + b.lost,
        duplicated: a.duplicated + b.duplicated,
        reordered: a.reordered + b.reordered,
        late: opt(a.late, b.late),
        order_violations: opt(a.order_violations, b.order_violations),
        per_client_received: match (&a.per_client_received, &b.per_client_received) {
            (Some(x), Some(y)) => Some(x.iter().chain(y).copied().collect()),
            (x, y) => x.clone().or_else(|| y.clone()),
        },
    }
}

fn add_throughput(a: &Throughput, b: &Throughput) -> Throughput {
    Throughput {
        msgs_per_s: add_opt(a.msgs_per_s, b.msgs_per_s),
        goodput_bps: add_opt(a.goodput_bps, b.goodput_bps),
    }
}
