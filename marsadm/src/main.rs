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
mod help;
mod liveness;
mod lock;
mod macrolang;
mod module;
mod progress;
#[cfg(test)]
mod scratch;
mod template;
mod tree;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let matches = help::command().get_matches_from(cli::options_first(std::env::args_os().collect()));
    if let Some((help::GENERATE, m)) = matches.subcommand() {
        return match help::generate(m) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("marsadm: error: cannot write the documentation: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Under --json a failure is JSON on stdout too (docu/marsadm-json.md, "Errors").
    let json = matches.subcommand().is_some_and(|(_, m)| m.try_get_one::<bool>("json").ok().flatten() == Some(&true));
    // `marsadm view all | head`: a closed pipe ends marsadm quietly, as it does any other
    // command-line tool, instead of a panic in println!. `events` sees the closed pipe
    // itself and exits 0 (docu/monitoring.md).
    if !matches!(cli.command, cli::Command::Monitoring(commands::Monitoring::Events { .. })) {
        // SAFETY: single-threaded still (no thread is started before this), and the
        // default action installs no handler code that could run at a bad time.
        let _ = unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
    }
    match commands::run(cli, matches.subcommand_name().unwrap_or_default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("marsadm: error: {err}");
            // (An incomplete log's JSON is printed already: its status is the exit code.)
            if json && !matches!(err, error::Error::LogIncomplete(_)) {
                println!("{}", error::json_error(&err));
            }
            ExitCode::from(err.exit_code())
        }
    }
}
