//! `wirebench netem check|exec|cleanup`: runs the command family of `wirebench-netem` and prints
//! what it finds. The library measures and returns typed findings ([`CheckReport`],
//! [`ExecStart`], [`ExecSummary`], …) through [`CommandSink`]; this module decides where they
//! go: `check` and `cleanup` to stdout, `exec`'s notes to stderr (stdout belongs to the program
//! it runs).

use wirebench_netem::cli::{CommandSink, NetemCommand};
use wirebench_netem::{Baseline, CheckReport, ExecStart, ExecSummary, NetemError, ProfileSet};

/// Runs a `netem` subcommand, printing as it goes; returns the process exit code.
pub fn run(cmd: NetemCommand, profiles: &ProfileSet) -> Result<i32, NetemError> {
    wirebench_netem::cli::run(cmd, profiles, &mut Printer)
}

/// Prints each finding the moment the library reports it (`check` runs for minutes).
struct Printer;

impl CommandSink for Printer {
    fn cleaned(&mut self, prefix: &str, removed: &[String]) {
        if removed.is_empty() {
            println!("nothing to clean (prefix {prefix})");
        }
        for n in removed {
            println!("removed namespace {n}");
        }
    }

    fn baseline(&mut self, baseline: &Baseline) {
        println!("{baseline}");
    }

    fn checked(&mut self, report: &CheckReport) {
        print!("{report}");
    }

    fn skipped(&mut self, profile: &str, why: &NetemError) {
        println!("profile {profile} — skipped: {why}");
    }

    fn exec_started(&mut self, start: &ExecStart) {
        eprintln!("{start}");
    }

    fn exec_finished(&mut self, summary: &ExecSummary) {
        eprint!("{summary}");
    }
}
