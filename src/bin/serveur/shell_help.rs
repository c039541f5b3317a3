//! `--completions SHELL` and `--man`: the shell's help, generated from the same clap command
//! as `--help`, so every flag (and every flag added later) is in them with no work of its own.

use std::io::{self, Write};

use clap::Command;
use clap_complete::Shell;

/// Writes `shell`'s completion script for `command` to stdout.
pub(crate) fn completions(shell: Shell, mut command: Command) -> io::Result<()> {
    let mut out = io::stdout().lock();
    clap_complete::generate(shell, &mut command, "serveur", &mut out);
    out.flush()
}

/// Writes the man page (section 1, roff) for `command` to stdout.
pub(crate) fn man(command: Command) -> io::Result<()> {
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(command).render(&mut out)?;
    out.flush()
}
