//! What `netem check` and `netem exec` find, as data, and the [`CommandSink`] they hand it to.
//!
//! Nothing here prints: the binary's sink does (`harness/src/netem_cmd.rs`). The types render
//! as the text `wirebench netem` prints (their `Display`), so every binary prints them alike.

use crate::backend::BackendChoice;
use crate::error::NetemError;
use crate::link::{LinkCounters, NetHost};

/// The unshaped path's own round trip through a backend, which `check` subtracts to get what
/// the emulator adds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Mean RTT, ms (0 when no probe came back).
    pub mean_ms: f64,
    /// Median RTT, ms.
    pub median_ms: f64,
}

/// The `baseline: …` line `check` prints before the profiles.
impl std::fmt::Display for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "baseline: unshaped RTT through the same backend, mean {:.3} ms (median {:.3}); \
             `added` = mean - baseline is what the emulator adds",
            self.mean_ms, self.median_ms
        )
    }
}

/// One line of a check report: one quantity, configured vs measured.
#[derive(Debug, Clone)]
pub struct CheckLine {
    /// What is measured.
    pub metric: String,
    /// Configured / expected value, as text.
    pub configured: String,
    /// Measured value, as text.
    pub measured: String,
    /// Some(true) pass, Some(false) fail, None informational.
    pub pass: Option<bool>,
}

/// The result of checking one profile.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Profile name.
    pub profile: String,
    /// Backend and why.
    pub backend: String,
    /// Lines.
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    /// Number of failed lines.
    pub fn failures(&self) -> usize {
        self.lines.iter().filter(|l| l.pass == Some(false)).count()
    }
}

/// The report as a table: a title line, a header and one line per [`CheckLine`], each ending
/// in a newline.
impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "profile {} — {}", self.profile, self.backend)?;
        // Columns sized to their contents (characters, not bytes: `≥`, `±`).
        let width = |head: &str, get: fn(&CheckLine) -> &str, min: usize| {
            self.lines
                .iter()
                .map(|l| get(l).chars().count())
                .chain([head.chars().count(), min])
                .max()
                .unwrap_or(min)
        };
        let wm = width("metric", |l| &l.metric, 26);
        let wc = width("configured", |l| &l.configured, 12);
        let wv = width("measured", |l| &l.measured, 12);
        writeln!(
            f,
            "  {:<wm$} {:>wc$} {:>wv$}  result",
            "metric", "configured", "measured"
        )?;
        for l in &self.lines {
            let r = match l.pass {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "-",
            };
            writeln!(
                f,
                "  {:<wm$} {:>wc$} {:>wv$}  {r}",
                l.metric, l.configured, l.measured
            )?;
        }
        Ok(())
    }
}

/// The topology `exec` brought up, before any program starts.
#[derive(Debug, Clone)]
pub struct ExecStart {
    /// The backend and why.
    pub choice: BackendChoice,
    /// The server host.
    pub server: NetHost,
    /// Client 1, where the program runs.
    pub client: NetHost,
}

/// `wirebench netem: <backend>; server <addr> (<netns>), client <addr> (<netns>)`.
impl std::fmt::Display for ExecStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wirebench netem: {}; server {} ({}), client {} ({})",
            self.choice,
            self.server.addr,
            self.server.netns.as_deref().unwrap_or("-"),
            self.client.addr,
            self.client.netns.as_deref().unwrap_or("-"),
        )
    }
}

/// What `exec`'s run cost and carried, once the program exited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecSummary {
    /// Client 1's link counters (None when the backend does not count, e.g. `none`).
    pub counters: Option<LinkCounters>,
    /// CPU time of this process (the emulator), s.
    pub cpu_s: f64,
    /// Wall time from topology up to the program's exit, s.
    pub wall_s: f64,
}

/// The release lateness of each direction and the link counters (when counted), then the
/// emulator's CPU share; one line each, each ending in a newline.
impl std::fmt::Display for ExecSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = &self.counters {
            for (dir, d) in [("up", &c.up), ("down", &c.down)] {
                writeln!(
                    f,
                    "wirebench netem: client link {dir}: release lateness mean {:.1} µs, max {:.1} µs",
                    d.lateness_ns_sum as f64 / d.packets_out.max(1) as f64 / 1e3,
                    d.lateness_ns_max as f64 / 1e3
                )?;
            }
            writeln!(
                f,
                "wirebench netem: client link up {} pkts/{} B in, {} out, {} lost, {} queue drops; down {} pkts/{} B in, {} out, {} lost, {} queue drops",
                c.up.packets_in, c.up.bytes_in, c.up.packets_out, c.up.lost, c.up.queue_drops,
                c.down.packets_in, c.down.bytes_in, c.down.packets_out, c.down.lost, c.down.queue_drops
            )?;
        }
        writeln!(
            f,
            "wirebench netem: emulator CPU {:.2} s over {:.2} s = {:.0}% of a core",
            self.cpu_s,
            self.wall_s,
            100.0 * self.cpu_s / self.wall_s.max(1e-9)
        )
    }
}

/// Receives what a `netem` subcommand finds, as it finds it. The binary implements it to print
/// (`check` to stdout, `exec` to stderr); [`QuietSink`] drops everything.
pub trait CommandSink {
    /// `cleanup` is done: the namespaces it removed (none: nothing to clean).
    fn cleaned(&mut self, prefix: &str, removed: &[String]);
    /// `check` measured the unshaped path, before any profile.
    fn baseline(&mut self, baseline: &Baseline);
    /// `check` measured a profile.
    fn checked(&mut self, report: &CheckReport);
    /// `check` skipped a profile the backend cannot emulate here.
    fn skipped(&mut self, profile: &str, why: &NetemError);
    /// `exec` brought its topology up; the programs start next.
    fn exec_started(&mut self, start: &ExecStart);
    /// `exec`'s program exited; teardown comes next.
    fn exec_finished(&mut self, summary: &ExecSummary);
}

/// A [`CommandSink`] that drops everything (tests, embedding).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietSink;

impl CommandSink for QuietSink {
    fn cleaned(&mut self, _prefix: &str, _removed: &[String]) {}
    fn baseline(&mut self, _baseline: &Baseline) {}
    fn checked(&mut self, _report: &CheckReport) {}
    fn skipped(&mut self, _profile: &str, _why: &NetemError) {}
    fn exec_started(&mut self, _start: &ExecStart) {}
    fn exec_finished(&mut self, _summary: &ExecSummary) {}
}
