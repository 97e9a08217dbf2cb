//! `view --macro TEXT` and `dump-macros` (docu/view-macros.md): the original's macro
//! language (`crate::macrolang`) over the values the `view-*` commands print. Every
//! `view-<name> RESOURCE` command is primitive `%<name>{}` (and variable `%{<name>}`
//! while no variable of that name is set), found by parsing that command line with the
//! real clap definition, so a new `view-*` command is one too, with no list to keep in
//! step. A `<name>.tpl` file on the search path is macro `%<name>{}`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use clap::{CommandFactory, Parser};

use super::monitoring;
use super::primitives::{self, Prim};
use super::systemd;
use super::view::{self, Macro};
use super::vocabulary;
use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::macrolang::{self, Interp, Vars, World};

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

/// `view --macro TEXT RES`: TEXT evaluated once per resource, each ending in a newline.
pub fn view_macro_text(ctx: &Context, text: &str, which: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    let src = Rc::new(macrolang::Source::written("default", "--macro", text));
    for res in view::selected(ctx, which)? {
        let out = evaluate(ctx, &src, &res)?;
        if out.ends_with('\n') {
            print!("{out}");
        } else {
            println!("{out}");
        }
    }
    Ok(())
}

/// Where `<name>.tpl` files are looked for: `$MARS_PATH` (`:`-separated), else the
/// original's directories.
pub fn search_path() -> Vec<PathBuf> {
    match std::env::var("MARS_PATH") {
        Ok(p) => p.split(':').map(PathBuf::from).collect(),
        Err(_) => {
            let home = std::env::var("HOME").unwrap_or_default();
            [".".into(), format!("{home}/.marsadm"), "/etc/marsadm".into(), "/usr/lib/marsadm".into(), "/usr/local/lib/marsadm".into()]
                .into_iter()
                .map(PathBuf::from)
                .collect()
        }
    }
}

/// The macro language's view of this host for resource `res`.
struct ViewWorld<'c> {
    ctx: &'c Context,
    res: String,
    path: Vec<PathBuf>,
    found: BTreeMap<String, Option<Rc<macrolang::Source>>>,
    here: vocabulary::Here<'c>,
}

impl World for ViewWorld<'_> {
    fn find_macro(&mut self, name: &str) -> Option<Rc<macrolang::Source>> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return None;
        }
        if let Some(s) = self.found.get(name) {
            return s.clone();
        }
        let src = self.path.iter().find_map(|dir| {
            let file = dir.join(format!("{name}.tpl"));
            let text = std::fs::read(&file).ok()?;
            Some(Rc::new(macrolang::Source::written(name, &file.display().to_string(), &String::from_utf8_lossy(&text))))
        });
        self.found.insert(name.to_owned(), src.clone());
        src
    }

    fn is_primitive(&self, name: &str) -> bool {
        vocabulary::find(name).is_some() || source_of(name).is_some()
    }

    fn primitive(&mut self, name: &str, args: &[String], vars: &Vars) -> std::result::Result<String, String> {
        // The resource: the variable `res` (which `%let{res}` or `%tmp{…}` may change).
        let res = vars.get("res").unwrap_or(&self.res).clone();
        if vocabulary::find(name).is_some() {
            // The original's primitive, with the original's arguments (a peer, a limit, ...).
            self.here.res = res;
            return self.here.value(name, args).map_err(|e| e.to_string());
        }
        let source = source_of(name).ok_or_else(|| format!("call to unknown macro '{name}'"))?;
        // One of this implementation's values: its argument, if any, is the resource.
        let res = args.first().filter(|a| !a.is_empty()).unwrap_or(&res).clone();
        value(self.ctx, source, &res).map_err(|e| e.to_string())
    }

    fn value(&mut self, name: &str, vars: &Vars) -> Option<std::result::Result<String, String>> {
        self.is_primitive(name).then(|| self.primitive(name, &[], vars))
    }

    fn warn(&mut self, message: &str) {
        eprintln!("marsadm: warning: {message}");
    }
}

/// `src` evaluated for `res` with the original's variables (res, resdir, mars, host,
/// window, threshold, …) and the unit templates' (dev, devpath).
fn evaluate(ctx: &Context, src: &Rc<macrolang::Source>, res: &str) -> Result<String> {
    let base = systemd::vars(ctx, Some(res))?;
    let g = crate::context::globals();
    let mut given: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.clone())).collect();
    given.extend([
        ("cmd", "default".to_string()),
        ("resdir", format!("{}/resource-{res}", ctx.tree.root().display())),
        ("real_host", nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_else(|_| ctx.host.clone())),
        ("window", g.window.to_string()),
        ("threshold", g.threshold.to_string()),
        ("stuck_seconds", g.stuck_seconds.to_string()),
        ("verbose", g.verbose.to_string()),
    ]);
    let mut vars = macrolang::new_vars(&given);
    let mut world = ViewWorld { ctx, res: res.to_owned(), path: search_path(), found: BTreeMap::new(), here: vocabulary::Here::new(ctx, res) };
    Interp::new(&mut world).run_top(src, &mut vars).map_err(|e| Error::Macro(e.to_string()))
}

/// `dump-macros`: every variable of `view --macro` and of unit templates, one a line.
pub fn dump_macros() -> Result<()> {
    println!("# Values of `marsadm view --macro TEXT` (per resource: %name{{}} or %{{name}};");
    println!("# docu/view-macros.md), and the variables of unit templates (@{{name}}).");
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
