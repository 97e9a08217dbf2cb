//! `view --macro TEXT` and `dump-macros` (docu/monitoring.md, "Macros"): the macro
//! processor of the unit templates (`crate::template`) over the values the `view-*`
//! commands print. Every `view-<name> RESOURCE` command is variable `<name>`, found by
//! parsing that command line with the real clap definition, so a new `view-*` command is
//! a variable too, with no list to keep in step.

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser};

use super::monitoring;
use super::primitives::{self, Prim};
use super::systemd;
use super::view::{self, Macro};
use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::template::{expand_with, MacroError};

/// Where a `view-*` command's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    View(Macro),
    Prim(Prim),
}

/// The value command `cmd` prints and the RESOURCE it names, if it is a `view-*` value.
pub fn variable_of(cmd: &Command) -> Option<(Source, &str)> {
    fn v(m: Macro, r: &str) -> Option<(Source, &str)> {
        Some((Source::View(m), r))
    }
    match cmd {
        Command::ViewIsEmergency { resource } => v(Macro::IsEmergency, resource),
        Command::ViewRestSpace { resource } => v(Macro::RestSpace, resource),
        Command::ViewTotalSpace { resource } => v(Macro::TotalSpace, resource),
        Command::ViewIsPrimary { resource } => v(Macro::IsPrimary, resource),
        Command::ViewIsAttached { resource } => v(Macro::IsAttached, resource),
        Command::ViewGetPrimary { resource } => v(Macro::GetPrimary, resource),
        Command::ViewResourceSize { resource } => v(Macro::ResourceSize, resource),
        Command::ViewFetchRest { resource } => v(Macro::FetchRest, resource),
        Command::ViewReplayRest { resource } => v(Macro::ReplayRest, resource),
        Command::ViewWritebackRest { resource } => v(Macro::WritebackRest, resource),
        Command::ViewSyncRest { resource } => v(Macro::SyncRest, resource),
        Command::ViewIsConsistent { resource } => v(Macro::IsConsistent, resource),
        Command::Role { resource } | Command::ViewRole { resource } => v(Macro::Role, resource),
        Command::State { resource } => v(Macro::State, resource),
        Command::ViewIsSplitBrain { resource } => v(Macro::IsSplitBrain, resource),
        Command::ViewActualPrimary { resource } => v(Macro::ActualPrimary, resource),
        Command::Monitoring(m) => monitoring::primitive_of(m).map(|(p, r)| (Source::Prim(p), r)),
        _ => None,
    }
}

/// Prints the value of `source` for each resource `which` names (`view-<name> RES`).
pub fn print(ctx: &Context, source: Source, which: &str) -> Result<()> {
    match source {
        Source::View(m) => view::view_macro(ctx, m, which),
        Source::Prim(p) => primitives::view_primitive(ctx, p, which),
    }
}

fn value(ctx: &Context, source: Source, res: &str) -> Result<String> {
    match source {
        Source::View(m) => view::macro_value(ctx, m, res),
        Source::Prim(p) => primitives::value(ctx, p, res),
    }
}

/// The source of variable `name`: `view-<name> RESOURCE` parsed as a command line.
fn source_of(name: &str) -> Option<Source> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    let cli = Cli::try_parse_from(["marsadm", &format!("view-{name}"), "r"]).ok()?;
    variable_of(&cli.command).map(|(s, _)| s)
}

/// The names of all value variables, sorted: every `view-*` subcommand that is one.
pub fn variable_names() -> Vec<String> {
    let mut names: Vec<String> = Cli::command()
        .get_subcommands()
        .filter_map(|c| c.get_name().strip_prefix("view-").map(str::to_owned))
        .filter(|n| source_of(n).is_some())
        .collect();
    names.sort();
    names
}

/// `view --macro TEXT RES`: TEXT expanded once per resource, each ending in a newline.
pub fn view_macro_text(ctx: &Context, text: &str, which: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    for res in view::selected(ctx, which)? {
        let out = expand_for(ctx, text, &res)?;
        if out.ends_with('\n') {
            print!("{out}");
        } else {
            println!("{out}");
        }
    }
    Ok(())
}

/// TEXT with the template variables of `res` (res, host, dev, devpath, mars) and the
/// value variables, each found once and only if used.
fn expand_for(ctx: &Context, text: &str, res: &str) -> Result<String> {
    let base = systemd::vars(ctx, Some(res))?;
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut failure: Option<Error> = None;
    let mut lookup = |name: &str| -> Option<String> {
        if let Some(v) = base.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = found.get(name) {
            return Some(v.clone());
        }
        let source = source_of(name)?;
        match value(ctx, source, res) {
            Ok(v) => {
                found.insert(name.to_owned(), v.clone());
                Some(v)
            }
            Err(e) => {
                failure.get_or_insert(e);
                Some(String::new())
            }
        }
    };
    let out = expand_with(text, &mut lookup);
    if let Some(e) = failure {
        return Err(e);
    }
    out.map_err(|e: MacroError| Error::Macro(e.to_string()))
}

/// `dump-macros`: every variable of `view --macro` and of unit templates, one a line.
pub fn dump_macros() -> Result<()> {
    println!("# Variables of `marsadm view --macro TEXT` (per resource; @{{name}} or %{{name}}),");
    println!("# also @escvar{{name}}, @esc{{text}}, @verbatim{{text}} as in unit templates.");
    for (name, what) in [
        ("res", "the resource (also in unit templates)"),
        ("host", "this host (also in unit templates)"),
        (
            "dev",
            "the resource's device name here (also in unit templates)",
        ),
        ("devpath", "/dev/mars/<dev> (also in unit templates)"),
        ("mars", "the /mars directory (also in unit templates)"),
    ] {
        println!("{name:<18} {what}");
    }
    for name in variable_names() {
        println!("{name:<18} what `marsadm view-{name} RESOURCE` prints");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_command_is_a_variable() {
        let names = variable_names();
        for n in [
            "role",
            "diskstate",
            "replstate",
            "is-split-brain",
            "is-emergency",
            "rest-space",
            "replay-remain",
            "get-primary",
            "alive-age",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
        // Every view-* subcommand with a RESOURCE argument is a variable, except the
        // whole-view formats: nothing is forgotten when a command is added.
        for c in Cli::command().get_subcommands() {
            let Some(n) = c.get_name().strip_prefix("view-") else {
                continue;
            };
            let takes_resource = c.get_arguments().any(|a| a.get_id() == "resource");
            if takes_resource && n != "1and1" {
                assert!(source_of(n).is_some(), "view-{n} is not a variable");
            }
        }
        assert_eq!(source_of("1and1"), None);
        assert_eq!(source_of("nonsense"), None);
        assert_eq!(source_of("../x"), None);
        assert_eq!(source_of(""), None);
    }
}
