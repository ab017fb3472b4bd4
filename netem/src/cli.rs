//! `wirebench netem …`: the command family as a library, mounted by the `wirebench` binary.
//!
//! The library parses ([`NetemCommand`]), runs ([`run`]) and hands what it finds, as it finds
//! it, to a [`CommandSink`]; the binary's sink prints it (`harness/src/netem_cmd.rs`).
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum Cmd {
//!     /// Link emulation tools.
//!     #[command(subcommand)]
//!     Netem(wirebench_netem::cli::NetemCommand),
//! }
//! // ...
//! Cmd::Netem(c) => std::process::exit(wirebench_netem::cli::run(c, &profiles, &mut printer)?),
//! ```

use crate::check::{baseline_rtt, check_profile, CheckOptions};
use crate::error::NetemError;
use crate::exec::exec;
pub use crate::findings::{CommandSink, QuietSink};
use crate::link::{BackendKind, PREFIX};
use crate::netns::{cleanup, install_signal_cleanup};
use crate::profile::{Profile, ProfileSet};

/// Profile overrides on the command line (applied on top of `--profile`, both directions).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// One-way delay, ms (overrides the profile's).
    #[arg(long)]
    pub delay_ms: Option<f64>,
    /// Jitter, ms.
    #[arg(long)]
    pub jitter_ms: Option<f64>,
    /// Random loss probability (0..1).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Rate, Mbit/s.
    #[arg(long)]
    pub rate_mbit: Option<f64>,
}

impl Overrides {
    fn is_empty(&self) -> bool {
        self.delay_ms.is_none()
            && self.jitter_ms.is_none()
            && self.loss.is_none()
            && self.rate_mbit.is_none()
    }

    /// The profile with these overrides applied (to the base keys and both directions).
    pub fn apply(&self, p: &Profile) -> Result<Profile, NetemError> {
        let mut p = p.clone();
        let check = |flag: &str, v: f64, max: f64| {
            if v.is_finite() && v >= 0.0 && v <= max {
                Ok(v)
            } else {
                Err(NetemError::Invalid(format!("--{flag} {v}: out of range")))
            }
        };
        if let Some(v) = self.delay_ms {
            p.delay_ms = check("delay-ms", v, 1e6)?;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.delay_ms = None;
            }
        }
        if let Some(v) = self.jitter_ms {
            p.jitter_ms = check("jitter-ms", v, 1e6)?;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.jitter_ms = None;
            }
        }
        if let Some(v) = self.loss {
            p.loss = check("loss", v, 1.0)?;
            p.gilbert_elliott = None;
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.loss = None;
                o.gilbert_elliott = None;
            }
        }
        if let Some(v) = self.rate_mbit {
            if !(v.is_finite() && v > 0.0) {
                return Err(NetemError::Invalid(format!(
                    "--rate-mbit {v}: must be above zero"
                )));
            }
            p.rate_mbit = Some(v);
            for o in [&mut p.up, &mut p.down].into_iter().flatten() {
                o.rate_mbit = None;
            }
        }
        if !self.is_empty() {
            p.description = format!("{} (with command-line overrides)", p.description);
        }
        Ok(p)
    }
}

/// `wirebench netem …` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NetemCommand {
    /// Measure what each profile really gives (RTT, loss, TCP and UDP goodput) and print
    /// configured vs measured with pass/fail. Exit code 1 when a check fails.
    Check {
        /// Profiles to check (comma-separated or repeated); default: all.
        #[arg(long, value_delimiter = ',')]
        profile: Vec<String>,
        /// Backend.
        #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
        netem: BackendKind,
        /// Seconds per goodput measurement (longer on long-RTT profiles).
        #[arg(long, default_value_t = 4.0)]
        seconds: f64,
        /// Number of RTT probes.
        #[arg(long, default_value_t = 200)]
        probes: u32,
        /// Skip the goodput (TCP/UDP) measurements.
        #[arg(long)]
        no_goodput: bool,
        /// Seed of the emulator's random choices (loss, jitter); vary it for independent samples.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Profile overrides.
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Run a program in the client namespace behind a profile (and optionally one in the server
    /// namespace), with WIREBENCH_SERVER_ADDR set; tear down when it exits.
    Exec {
        /// Profile of the client's link.
        #[arg(long, default_value = "loopback")]
        profile: String,
        /// Backend.
        #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
        netem: BackendKind,
        /// Shell command to run in the server namespace first (killed at the end).
        #[arg(long)]
        server: Option<String>,
        /// Disable TUN offloads even on unshaped links (userspace backend).
        #[arg(long)]
        no_offload: bool,
        /// Profile overrides.
        #[command(flatten)]
        overrides: Overrides,
        /// The program and its arguments.
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Remove namespaces (and the processes in them) left behind by killed runs.
    Cleanup {
        /// Name prefix of what to remove (must start with `wb-`).
        #[arg(long, default_value = PREFIX)]
        prefix: String,
    },
}

impl NetemCommand {
    /// Whether the subcommand builds namespaces and links (so an unprivileged caller should
    /// enter rootless mode first, see [`crate::rootless`]).
    pub fn needs_links(&self) -> bool {
        match self {
            Self::Check { netem, .. } | Self::Exec { netem, .. } => *netem != BackendKind::None,
            Self::Cleanup { .. } => false,
        }
    }
}

/// Runs a subcommand, handing its findings to `out`; returns the process exit code (`check`:
/// 1 when a line failed; `exec`: the program's).
pub fn run(
    cmd: NetemCommand,
    profiles: &ProfileSet,
    out: &mut dyn CommandSink,
) -> Result<i32, NetemError> {
    match cmd {
        NetemCommand::Cleanup { prefix } => {
            let removed = cleanup(&prefix)?;
            out.cleaned(&prefix, &removed);
            Ok(0)
        }
        NetemCommand::Exec {
            profile,
            netem,
            server,
            no_offload,
            overrides,
            command,
        } => {
            let p = overrides.apply(profiles.get(&profile)?)?;
            exec(&p, netem, server.as_deref(), no_offload, &command, out)
        }
        NetemCommand::Check {
            profile,
            netem,
            seconds,
            probes,
            no_goodput,
            seed,
            overrides,
        } => {
            let opts = CheckOptions {
                seconds: seconds.clamp(0.5, 120.0),
                probes: probes.clamp(10, 100_000),
                goodput: !no_goodput,
                seed,
            };
            check(profile, netem, &opts, &overrides, profiles, out)
        }
    }
}

/// [`run`] with a [`QuietSink`]: only the exit code comes back.
pub fn run_quiet(cmd: NetemCommand, profiles: &ProfileSet) -> Result<i32, NetemError> {
    run(cmd, profiles, &mut QuietSink)
}

/// `check`: the baseline, then each profile (all when `names` is empty); 1 when a line failed.
fn check(
    names: Vec<String>,
    netem: BackendKind,
    opts: &CheckOptions,
    overrides: &Overrides,
    profiles: &ProfileSet,
    out: &mut dyn CommandSink,
) -> Result<i32, NetemError> {
    let names: Vec<String> = if names.is_empty() {
        profiles.profiles.keys().cloned().collect()
    } else {
        names
    };
    install_signal_cleanup()?;
    let mut failed = 0;
    let baseline = baseline_rtt(netem, opts)?;
    out.baseline(&baseline);
    for name in names {
        let p = overrides.apply(profiles.get(&name)?)?;
        match check_profile(&name, &p, netem, opts, baseline.mean_ms) {
            Ok(report) => {
                out.checked(&report);
                failed += report.failures();
            }
            Err(e @ (NetemError::Unsupported { .. } | NetemError::Unavailable { .. })) => {
                out.skipped(&name, &e);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Direction;
    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    struct TestCli {
        #[command(subcommand)]
        cmd: TestTop,
    }
    #[derive(Subcommand)]
    enum TestTop {
        #[command(subcommand)]
        Netem(NetemCommand),
    }

    #[test]
    fn parses_the_documented_command_lines() {
        let cli = TestCli::try_parse_from([
            "wirebench",
            "netem",
            "exec",
            "--profile",
            "3g",
            "--server",
            "iperf3 -s",
            "--",
            "iperf3",
            "-c",
            "x",
        ])
        .unwrap();
        let TestTop::Netem(NetemCommand::Exec {
            profile,
            server,
            command,
            ..
        }) = cli.cmd
        else {
            panic!("not exec");
        };
        assert_eq!(profile, "3g");
        assert_eq!(server.as_deref(), Some("iperf3 -s"));
        assert_eq!(command, ["iperf3", "-c", "x"]);
        let cli = TestCli::try_parse_from([
            "wirebench",
            "netem",
            "check",
            "--profile",
            "lan,3g",
            "--netem",
            "userspace",
        ])
        .unwrap();
        let TestTop::Netem(NetemCommand::Check { profile, netem, .. }) = cli.cmd else {
            panic!("not check");
        };
        assert_eq!(profile, ["lan", "3g"]);
        assert_eq!(netem, BackendKind::Userspace);
        assert!(TestCli::try_parse_from(["wirebench", "netem", "cleanup"]).is_ok());
    }

    #[test]
    fn overrides_replace_direction_values() {
        let set = ProfileSet::builtin();
        let p = Overrides {
            delay_ms: Some(25.0),
            rate_mbit: Some(10.0),
            ..Overrides::default()
        }
        .apply(set.get("broadband").unwrap())
        .unwrap();
        assert_eq!(p.rtt_ms(), Some(50.0));
        assert_eq!(p.direction(Direction::Down).rate_mbit, Some(10.0));
        assert_eq!(p.direction(Direction::Up).rate_mbit, Some(10.0));
        assert!(Overrides {
            loss: Some(2.0),
            ..Overrides::default()
        }
        .apply(&Profile::default())
        .is_err());
    }
}
