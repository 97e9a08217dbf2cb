//! One file per command family; [`run`] dispatches the parsed command line.

mod cat;
mod version;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Cat { logfile, summary, json } => cat::exec(&logfile, summary, json),
        Command::Version { json } => version::exec(json),
    }
}
