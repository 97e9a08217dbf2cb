//! marsadm: the administration tool of MARS.
//!
//! Arguments are parsed once into the typed [`cli::Cli`]; each command lives in its own
//! file under `commands/`; every failure becomes one [`error::Error`], printed once here
//! as a single line, with an exit code scripts can rely on (see `error::Error::exit_code`).

mod cli;
mod commands;
mod context;
mod digest;
mod error;
mod liveness;
mod module;
mod template;
mod tree;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("marsadm: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
