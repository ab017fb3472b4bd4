//! The settings of a run: output, link emulation, pinning, and the builds (variants) whose
//! agents run the cells.

use std::path::PathBuf;

use wirebench_netem::{BackendChoice, ProfileSet};

use super::progress;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory (created).
    pub out_dir: PathBuf,
    /// Plain HTTP instead of HTTPS.
    pub plaintext: bool,
    /// Network profiles.
    pub profiles: ProfileSet,
    /// Progress display.
    pub progress: progress::Mode,
    /// Hidden: delay each echo reply by this many µs, in the server agents of the variants
    /// whose [`Variant::inject_delay`] is set.
    pub inject_delay_us: u64,
    /// The builds to run, each into its own results (one for a plain run; baseline and
    /// current for `--ab`, interleaved cell by cell).
    pub variants: Vec<Variant>,
    /// Link-emulation backend for shaped profiles, once chosen (None: shaping unavailable, and
    /// the reason).
    pub netem: Result<BackendChoice, String>,
    /// Pin the server agent to CPU 0 and the client agent to CPU 1 (steadier figures on small
    /// machines; needs at least 2 CPUs).
    pub pin: bool,
    /// CPUs kept out of idle states during the run (`--no-idle`, [`crate::clock::NoIdle`]);
    /// recorded as `params.no_idle` so runs measured differently are never compared.
    pub no_idle: bool,
    /// Probe the machine's timer lateness before the first cell and wait up to this long for
    /// it to settle ([`super::settle`]; zero: probe once, never wait); `None`: no probe.
    pub settle: Option<std::time::Duration>,
}

impl RunOptions {
    /// Options for running cells one by one with `exe`'s agents ([`super::run_cell`] from tests and
    /// calibration scripts): TLS, no progress display, no pinning, no output directory.
    pub fn single(
        exe: PathBuf,
        profiles: ProfileSet,
        netem: Result<BackendChoice, String>,
    ) -> Self {
        Self {
            out_dir: PathBuf::new(),
            plaintext: false,
            profiles,
            progress: progress::Mode::Quiet,
            inject_delay_us: 0,
            variants: vec![Variant {
                name: String::new(),
                exe,
                out_dir: PathBuf::new(),
                inject_delay: false,
            }],
            netem,
            pin: false,
            no_idle: false,
            settle: None,
        }
    }
}

/// One build whose agents run the cells, and where its results go.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Name shown in progress lines (`current`, `baseline`); empty for a plain run.
    pub name: String,
    /// The agent binary.
    pub exe: PathBuf,
    /// Directory of its results.json.
    pub out_dir: PathBuf,
    /// Whether [`RunOptions::inject_delay_us`] applies to this variant's server agents (with
    /// `--ab`, only the current build's, so the injected regression is what compare sees).
    pub inject_delay: bool,
}
