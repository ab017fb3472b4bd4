//! Stand-alone `netem` tool (the same commands as `wirebench netem …`), for benchmarks and
//! debugging: `cargo run --release -p wirebench-netem --example wb-netem -- check`.

use clap::Parser;
use wirebench_netem::cli::{run, CommandSink, NetemCommand};
use wirebench_netem::{Baseline, CheckReport, ExecStart, ExecSummary, NetemError, ProfileSet};

#[derive(Parser)]
#[command(about = "wirebench link emulation tools")]
struct Cli {
    /// Profiles file (default: the built-in scenarios/profiles.toml).
    #[arg(long)]
    profiles: Option<std::path::PathBuf>,
    #[command(subcommand)]
    cmd: NetemCommand,
}

fn main() {
    let cli = Cli::parse();
    let profiles = match &cli.profiles {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: reading {}: {e}", path.display());
                    std::process::exit(1);
                }
            };
            match ProfileSet::parse(&text, &path.display().to_string()) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        None => ProfileSet::builtin(),
    };
    match run(cli.cmd, &profiles, &mut Printer) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints what the commands find, as `wirebench netem` does (harness/src/netem_cmd.rs).
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
