//! One file per command family; [`run`] dispatches the parsed command line.

mod version;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Version { json } => version::exec(json),
    }
}
