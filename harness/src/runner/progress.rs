//! Progress while a run goes: a bar on a terminal, plain lines otherwise, nothing with --quiet.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use wirebench_reports::model::{Cell, Status};
use wirebench_reports::summary::fmt_us;

use super::plan::PlannedCell;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bar if stderr is a terminal, plain lines if not.
    Auto,
    /// Nothing.
    Quiet,
}

/// Progress display for a run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: usize,
}

fn label(pc: &PlannedCell) -> String {
    format!(
        "{}/{}/{}/{} #{}",
        pc.scenario, pc.name, pc.transport, pc.profile, pc.repeat
    )
}

fn tag(variant: &str) -> String {
    if variant.is_empty() {
        String::new()
    } else {
        format!("[{variant}] ")
    }
}

fn outcome(cell: &Cell) -> String {
    match cell.status {
        Status::Ok => match (&cell.latency_us, &cell.throughput) {
            (Some(l), _) if matches!(cell.workload.as_str(), "echo" | "push") => {
                format!(
                    "ok  p50 {}  p99 {}",
                    l.p50.map_or("–".to_string(), |v| fmt_us(v as f64)),
                    l.p99.map_or("–".to_string(), |v| fmt_us(v as f64))
                )
            }
            (_, Some(t)) if t.goodput_bps.is_some() => format!(
                "ok  {}",
                wirebench_reports::summary::fmt_bps(t.goodput_bps.unwrap_or(0.0))
            ),
            _ => match cell.setup_ms {
                Some(ms) => format!("ok  setup {ms:.2} ms"),
                None => "ok".into(),
            },
        },
        Status::Failed => format!("FAILED: {}", cell.error.as_deref().unwrap_or("?")),
        Status::Skipped => format!("skipped: {}", cell.error.as_deref().unwrap_or("?")),
    }
}

impl Progress {
    /// A display for `total` cells.
    pub fn new(mode: Mode, total: usize) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (mode == Mode::Auto && tty).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} (eta {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self {
            bar,
            plain: mode == Mode::Auto && !tty,
            total,
        }
    }

    /// A cell starts (`variant` names the build in an A/B run, else empty).
    pub fn start_cell(&mut self, _i: usize, pc: &PlannedCell, variant: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{}{}", tag(variant), label(pc)));
        }
    }

    /// A cell ended.
    pub fn end_cell(
        &mut self,
        i: usize,
        pc: &PlannedCell,
        variant: &str,
        cell: &Cell,
        took: Duration,
    ) {
        let line = format!(
            "[{}/{}] {}{}: {} ({:.1} s)",
            i + 1,
            self.total,
            tag(variant),
            label(pc),
            outcome(cell),
            took.as_secs_f64()
        );
        if let Some(b) = &self.bar {
            if cell.status != Status::Ok {
                b.println(line);
            }
            b.inc(1);
        } else if self.plain {
            eprintln!("{line}");
        }
    }

    /// The run ended.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
