//! `wirebench completions SHELL` and `wirebench man`: the command line described for shells and
//! for `man`, generated from the same clap definitions as the parser.

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::args::{Cli, CompletionsArgs, ManArgs};
use super::io::emit;

/// Runs `wirebench completions`: the completion script on stdout.
pub(crate) fn cmd_completions(a: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "wirebench", &mut script);
    emit(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Runs `wirebench man`: the main page on stdout, or every command's page into `--out`.
pub(crate) fn cmd_man(a: ManArgs) -> anyhow::Result<u8> {
    let cmd = Cli::command();
    let Some(dir) = a.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .context("rendering the man page")?;
        emit(&String::from_utf8_lossy(&page))?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, &dir)
        .with_context(|| format!("writing the man pages into {}", dir.display()))?;
    eprintln!("wirebench: wrote the man pages into {}", dir.display());
    Ok(0)
}
