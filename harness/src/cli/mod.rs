//! The command line (contract in DESIGN.md): `run`, `serve`, `drive`, `merge`, `report`, `compare`,
//! `list`, `recommend`, `netem`, `completions`, `man`. Errors end as one clear message and exit code 1. One file per
//! command family; [`args`] holds every command's arguments, [`io`] what they share.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

mod args;
mod drive;
mod io;
mod manual;
mod merge;
mod read;
mod recommend;
mod run;
mod shard;

pub use args::Cli;
use args::Command;
pub use run::EXIT_CELLS_FAILED;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // A usage error exits 1, like every other error: clap's own 2 would read as "regressed".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    // Not root? Commands that may build emulated links become root over a private user
    // namespace first; this must happen before any thread starts (the runtime's included).
    let wants_links = match &cli.command {
        Command::Run(a) => a.netem != wirebench_netem::BackendKind::None,
        Command::Netem(c) => c.needs_links(),
        _ => false,
    };
    if wants_links {
        if let Err(e) = wirebench_netem::rootless::enter() {
            eprintln!("wirebench: error: {e}");
            return ExitCode::from(1);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wirebench: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("wirebench: error: {}", said_once(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause its context already quotes
/// (an error that shows its source would otherwise print the OS error twice).
fn said_once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Runs the command; its exit code.
async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(a) => run::cmd_run(a).await,
        Command::Serve(a) => {
            crate::agent::serve::run(crate::agent::serve::ServeOptions {
                bind: a.bind,
                plaintext: a.plaintext,
                http2: a.http2,
                poll_timeout: Duration::from_secs(a.poll_timeout),
                limits: crate::server::limits::Limits {
                    handshake: Duration::from_secs(a.handshake_timeout),
                    body_stall: Duration::from_secs(a.body_timeout),
                    body_budget: a.body_budget_mib << 20,
                    rtc_connect: Duration::from_secs(a.rtc_connect_timeout),
                },
                control: a.control,
                cert_dir: a.cert_dir,
                inject_delay_us: a.inject_delay_us,
            })
            .await?;
            Ok(0)
        }
        Command::Drive(a) => drive::cmd_drive(a).await,
        Command::Merge(a) => merge::cmd_merge(a),
        Command::Report(a) => read::cmd_report(a),
        Command::Compare(a) => read::cmd_compare(a),
        Command::Netem(c) => {
            let profiles = io::load_profiles(None)?;
            let code = crate::netem_cmd::run(c, &profiles)?;
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Command::List(a) => read::cmd_list(a),
        Command::Recommend(a) => recommend::cmd_recommend(a).await,
        Command::Completions(a) => manual::cmd_completions(a),
        Command::Man(a) => manual::cmd_man(a),
    }
}
