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
use mars_core::tree::DELETED;

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

/// The original's 39 complex macros as this implementation writes them
/// (`marsadm/macros/*.tpl`): what `view` and `view-<name>` evaluate unless a `<name>.tpl`
/// on the search path replaces one; `dump-macros` writes them out for editing.
pub const COMPLEX: &[(&str, &str)] = &[
    ("1and1", include_str!("../../macros/1and1.tpl")),
    ("comminfo", include_str!("../../macros/comminfo.tpl")),
    ("commstate", include_str!("../../macros/commstate.tpl")),
    ("cstate", include_str!("../../macros/cstate.tpl")),
    ("default-footer", include_str!("../../macros/default-footer.tpl")),
    ("default-global", include_str!("../../macros/default-global.tpl")),
    ("default-header", include_str!("../../macros/default-header.tpl")),
    ("default-resource", include_str!("../../macros/default-resource.tpl")),
    ("default", include_str!("../../macros/default.tpl")),
    ("device-info", include_str!("../../macros/device-info.tpl")),
    ("device-stats", include_str!("../../macros/device-stats.tpl")),
    ("diskstate-1and1", include_str!("../../macros/diskstate-1and1.tpl")),
    ("diskstate", include_str!("../../macros/diskstate.tpl")),
    ("dstate", include_str!("../../macros/dstate.tpl")),
    ("fetch-line-1and1", include_str!("../../macros/fetch-line-1and1.tpl")),
    ("fetch-line", include_str!("../../macros/fetch-line.tpl")),
    ("flags-1and1", include_str!("../../macros/flags-1and1.tpl")),
    ("flags", include_str!("../../macros/flags.tpl")),
    ("outdated-flags-1and1", include_str!("../../macros/outdated-flags-1and1.tpl")),
    ("outdated-flags", include_str!("../../macros/outdated-flags.tpl")),
    ("primarynode-1and1", include_str!("../../macros/primarynode-1and1.tpl")),
    ("primarynode", include_str!("../../macros/primarynode.tpl")),
    ("replay-line-1and1", include_str!("../../macros/replay-line-1and1.tpl")),
    ("replay-line", include_str!("../../macros/replay-line.tpl")),
    ("replinfo-1and1", include_str!("../../macros/replinfo-1and1.tpl")),
    ("replinfo", include_str!("../../macros/replinfo.tpl")),
    ("replstate-1and1", include_str!("../../macros/replstate-1and1.tpl")),
    ("replstate", include_str!("../../macros/replstate.tpl")),
    ("resource-errors-1and1", include_str!("../../macros/resource-errors-1and1.tpl")),
    ("resource-errors", include_str!("../../macros/resource-errors.tpl")),
    ("role-1and1", include_str!("../../macros/role-1and1.tpl")),
    ("role", include_str!("../../macros/role.tpl")),
    ("state", include_str!("../../macros/state.tpl")),
    ("status", include_str!("../../macros/status.tpl")),
    ("sync-line-1and1", include_str!("../../macros/sync-line-1and1.tpl")),
    ("sync-line", include_str!("../../macros/sync-line.tpl")),
    ("syncinfo-1and1", include_str!("../../macros/syncinfo-1and1.tpl")),
    ("syncinfo", include_str!("../../macros/syncinfo.tpl")),
    ("todo-role", include_str!("../../macros/todo-role.tpl")),
];

/// The built-in complex macro `name`.
fn complex(name: &str) -> Option<&'static str> {
    COMPLEX.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
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

impl<'c> ViewWorld<'c> {
    fn new(ctx: &'c Context, res: &str, path: Vec<PathBuf>, here: vocabulary::Here<'c>) -> ViewWorld<'c> {
        ViewWorld { ctx, res: res.to_owned(), path, found: BTreeMap::new(), here }
    }
}

impl World for ViewWorld<'_> {
    fn find_macro(&mut self, name: &str) -> Option<Rc<macrolang::Source>> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return None;
        }
        if let Some(s) = self.found.get(name) {
            return s.clone();
        }
        let src = self
            .path
            .iter()
            .find_map(|dir| {
                let file = dir.join(format!("{name}.tpl"));
                let text = std::fs::read(&file).ok()?;
                Some(Rc::new(macrolang::Source::written(name, &file.display().to_string(), &String::from_utf8_lossy(&text))))
            })
            .or_else(|| complex(name).map(|t| Rc::new(macrolang::Source::written(name, &format!("<built-in {name}.tpl>"), t))));
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

    fn glob(&mut self, pattern: &str) -> std::result::Result<Vec<String>, String> {
        glob_in(&self.ctx.tree, pattern)
    }

    fn timeout(&self) -> Option<f64> {
        crate::context::globals().timeout.map(|t| t as f64)
    }
}

/// Most paths one glob gives.
const MAX_GLOB: usize = 100_000;

/// `%get-glob{PATTERN}`: the paths under `root` (the tree: nothing outside it is listed)
/// that PATTERN (absolute within `root`, or relative to it) matches, with the shell's
/// `*`, `?`, `[...]` (`[!...]`) and `{a,b}`; a name starting with `.` only where the
/// pattern's does. Links whose value is `.deleted` are left out; a pattern without
/// wildcards is given back as it is, as the original's (Perl's glob).
pub fn glob_in(tree: &crate::tree::MarsTree, pattern: &str) -> std::result::Result<Vec<String>, String> {
    let rel = tree.relative(pattern).ok_or_else(|| format!("{pattern} is not under {}", tree.root().display()))?;
    let mut out = Vec::new();
    for alt in braces(rel)? {
        let mut at = vec![tree.root().to_path_buf()];
        for comp in alt.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            if !comp.contains(['*', '?', '[']) {
                next = at.into_iter().map(|p| p.join(comp)).collect();
            } else {
                let re = glob_regex(comp)?;
                for dir in at {
                    let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                    for name in entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()) {
                        if re.is_match(&name) && (comp.starts_with('.') || !name.starts_with('.')) {
                            next.push(dir.join(name));
                        }
                    }
                    if next.len() > MAX_GLOB {
                        return Err(format!("more than {MAX_GLOB} paths"));
                    }
                }
            }
            at = next;
        }
        let wild = alt.contains(['*', '?', '[']);
        for p in at {
            let deleted = std::fs::read_link(&p).is_ok_and(|v| v.as_os_str() == DELETED);
            if !deleted && (!wild || std::fs::symlink_metadata(&p).is_ok()) {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `{a,b}` expanded (nested too), at most 1024 patterns.
fn braces(p: &str) -> std::result::Result<Vec<String>, String> {
    let Some(open) = p.find('{') else { return Ok(vec![p.to_string()]) };
    let (mut depth, mut close, mut commas) = (0, None, vec![]);
    for (i, c) in p[open..].char_indices().map(|(i, c)| (i + open, c)) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let close = close.ok_or_else(|| format!("unbalanced {{ in {p}"))?;
    let mut out = Vec::new();
    let mut start = open + 1;
    for end in commas.into_iter().chain([close]) {
        for rest in braces(&format!("{}{}{}", &p[..open], &p[start..end], &p[close + 1..]))? {
            out.push(rest);
            if out.len() > 1024 {
                return Err("more than 1024 patterns from {...}".into());
            }
        }
        start = end + 1;
    }
    Ok(out)
}

/// One path component's pattern as an anchored regex.
fn glob_regex(comp: &str) -> std::result::Result<regex::Regex, String> {
    let mut re = String::from("^");
    let mut chars = comp.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                if !closed {
                    return Err(format!("unclosed [ in {comp}"));
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| e.to_string())
}

/// `view-NAME [RES|all|r1,r2]` (`view`: NAME `default`), as the original: for each
/// resource macro NAME's text (a `NAME.tpl` on the search path, else the built-in one),
/// ending in one newline; with several, each after a line `--------- resource
/// <default-resource>`, and with `all` NAME-header before and NAME-global and
/// NAME-footer after them, where those exist.
pub fn view_named(ctx: &Context, name: &str, which: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    if crate::module::loaded_version(&ctx.proc_sys)?.is_none() {
        eprintln!("WARNING: mars kernel module is not loaded: nothing runs on this host; what other hosts show is what they reported last");
    }
    let list = view::selected(ctx, which)?;
    let text_of = |n: &str| -> Option<Rc<macrolang::Source>> {
        let mut w = ViewWorld::new(ctx, "", search_path(), vocabulary::Here::new(ctx, ""));
        w.find_macro(n)
    };
    let src = text_of(name).ok_or_else(|| Error::Macro(format!("cannot find macro '{name}' (no {name}.tpl on the search path, and no built-in one)")))?;
    let show_with = |src: &Rc<macrolang::Source>, res: &str, here: vocabulary::Here<'_>| -> Result<()> {
        let out = evaluate_in(ctx, src, res, search_path(), here)?;
        if !out.is_empty() {
            println!("{}", out.strip_suffix('\n').unwrap_or(&out));
        }
        Ok(())
    };
    let show = |src: &Rc<macrolang::Source>, res: &str| show_with(src, res, vocabulary::Here::new(ctx, res));
    let all = which == "all";
    if all {
        if let Some(h) = text_of(&format!("{name}-header")) {
            show(&h, "")?;
        }
    }
    let several = all || which.contains(',');
    let separator = text_of("default-resource");
    for res in &list {
        // One state of the resource for the separator and the body.
        let mut here = vocabulary::Here::new(ctx, res);
        if several {
            here.state()?;
            let member = here.value("is-member", &[])? == "1";
            let what = match &separator {
                Some(s) => evaluate_in(ctx, s, res, search_path(), here.clone())?,
                None => res.clone(),
            };
            println!("--------- {} {}", if member { "resource" } else { "guest" }, what.trim_end());
        }
        show_with(&src, res, here)?;
    }
    if all {
        for part in ["global", "footer"] {
            if let Some(t) = text_of(&format!("{name}-{part}")) {
                show(&t, "")?;
            }
        }
    }
    Ok(())
}

/// `view-NAME [RES] [ARG] --json`: the value of NAME (a complex macro, one of the
/// original's primitives, or one of this implementation's values) for each resource
/// (`which`; `None`: a cluster-wide one), as `{"schema_version":1,"host":..,"name":..,
/// "values":[{"resource":..,"value":..}]}`. `own`: the value of a command of this
/// implementation that is no macro (`state`, `view-is-attached`, ...).
pub fn values_json(ctx: &Context, name: &str, which: Option<&str>, args: &[String], own: Option<Source>) -> Result<()> {
    ctx.require_mountpoint()?;
    let list: Vec<Option<String>> = match which {
        Some(w) => view::selected(ctx, w)?.into_iter().map(Some).collect(),
        None => vec![None],
    };
    let mut values = Vec::new();
    for res in &list {
        let r = res.as_deref().unwrap_or_default();
        let mut w = ViewWorld::new(ctx, r, search_path(), vocabulary::Here::new(ctx, r));
        let value = if let Some(source) = own {
            value(ctx, source, r)?
        } else if let Some(src) = w.find_macro(name) {
            evaluate(ctx, &src, r)?
        } else if vocabulary::find(name).is_some() {
            w.here.value(name, args)?
        } else if let Some(source) = source_of(name) {
            value(ctx, source, r)?
        } else {
            return Err(Error::Usage(format!("view-{name}: no such value (docu/view-primitives.md)")));
        };
        values.push(serde_json::json!({ "resource": res, "value": value.strip_suffix('\n').unwrap_or(&value) }));
    }
    println!("{}", serde_json::json!({ "schema_version": 1, "host": ctx.host, "name": name, "values": values }));
    Ok(())
}

/// Whether `view-NAME` is a complex macro (built in, or a `NAME.tpl` on the search path).
pub fn is_view_macro(name: &str) -> bool {
    complex(name).is_some() || search_path().iter().any(|d| d.join(format!("{name}.tpl")).is_file())
}

/// `src` evaluated for `res` with the original's variables (res, resdir, mars, host,
/// window, threshold, …) and the unit templates' (dev, devpath).
fn evaluate(ctx: &Context, src: &Rc<macrolang::Source>, res: &str) -> Result<String> {
    evaluate_in(ctx, src, res, search_path(), vocabulary::Here::new(ctx, res))
}

/// The original's words for resource `res` in state `s`, by the built-in macros (no
/// `.tpl` file changes them): `view --json`'s `original`.
pub fn original_words(ctx: &Context, s: Rc<view::ResourceState>) -> Result<view::OriginalWords> {
    let src = Rc::new(macrolang::Source::written("original", "<view --json>", "%diskstate{}\\n%replstate{}\\n%flags{}\\n%role{}"));
    let res = s.name.clone();
    let out = evaluate_in(ctx, &src, &res, Vec::new(), vocabulary::Here::with_state(ctx, s))?;
    let mut words = out.split('\n').map(str::to_owned);
    let mut next = || words.next().unwrap_or_default();
    Ok(view::OriginalWords { diskstate: next(), replstate: next(), flags: next(), role: next() })
}

/// `src` evaluated for `res` with macro files from `path` and the primitives of `here`.
fn evaluate_in(ctx: &Context, src: &Rc<macrolang::Source>, res: &str, path: Vec<PathBuf>, here: vocabulary::Here<'_>) -> Result<String> {
    let base = systemd::vars(ctx, Some(res).filter(|r| !r.is_empty()))?;
    let g = crate::context::globals();
    let mut given: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.clone())).collect();
    given.extend([
        ("cmd", "default".to_string()),
        ("res", res.to_owned()),
        ("resdir", if res.is_empty() { String::new() } else { format!("{}/resource-{res}", ctx.tree.root().display()) }),
        ("real_host", nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_else(|_| ctx.host.clone())),
        ("window", g.window.to_string()),
        ("threshold", g.threshold.to_string()),
        ("stuck_seconds", g.stuck_seconds.to_string()),
        ("verbose", g.verbose.to_string()),
    ]);
    let mut vars = macrolang::new_vars(&given);
    let mut world = ViewWorld::new(ctx, res, path, here);
    Interp::new(&mut world).run_top(src, &mut vars).map_err(|e| Error::Macro(e.to_string()))
}

/// `dump-macros` (`all`: `dump-all-macros`): the complex macros (and with `all` one per
/// primitive) as `NAME.tpl` files in the current directory, an existing one renamed to
/// `NAME.tpl.oldN` first.
pub fn dump_macros(all: bool) -> Result<()> {
    let mut files: Vec<(String, String)> = COMPLEX.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    if all {
        files.extend(vocabulary::PRIMITIVES.iter().map(|p| (p.name.to_owned(), format!("%primitive-{}{{%{{1}}}}\\\n", p.name))));
    }
    crate::context::changing()?;
    fn io<'p>(path: &'p std::path::Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'p {
        move |source| Error::Tree { what, path: path.to_owned(), source }
    }
    for (name, text) in &files {
        let path = PathBuf::from(format!("{name}.tpl"));
        if path.exists() {
            let old = (0..).map(|n| PathBuf::from(format!("{name}.tpl.old{n}"))).find(|p| !p.exists()).expect("a free name");
            std::fs::rename(&path, &old).map_err(io(&path, "rename"))?;
        }
        std::fs::write(&path, text).map_err(io(&path, "write"))?;
    }
    let dir = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| ".".into());
    println!("wrote {} macros to {dir} as NAME.tpl: edit one and put it into ~/.marsadm or /etc/marsadm to change view", files.len());
    Ok(())
}

/// `dump-macros --list`: every variable of `view --macro` and of unit templates, one a line.
pub fn list_values() -> Result<()> {
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
    use crate::scratch::ScratchTree;

    fn builtin(name: &str) -> Rc<macrolang::Source> {
        Rc::new(macrolang::Source::written(name, name, complex(name).unwrap()))
    }

    /// Every built-in macro evaluates on a pair of hosts, on either side.
    #[test]
    fn globs_within_the_tree() {
        let mut t = ScratchTree::node1_primary("glob", "node2");
        t.set("resource-r0/data-node2", DELETED);
        t.set("resource-r1/data-node1", "/dev/vdd");
        t.set("resource-r1/.hidden-x", "1");
        let tree = &t.ctx.tree;
        let root = tree.root().to_string_lossy().into_owned();
        let rel = |v: Vec<String>| v.into_iter().map(|p| p.strip_prefix(&root).unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(rel(glob_in(tree, &format!("{root}/resource-*/data-*")).unwrap()), ["/resource-r0/data-node1", "/resource-r1/data-node1"]);
        assert_eq!(rel(glob_in(tree, "resource-r{0,1}/data-node[!2]").unwrap()), ["/resource-r0/data-node1", "/resource-r1/data-node1"]);
        assert_eq!(rel(glob_in(tree, "resource-r1/*").unwrap()), ["/resource-r1/data-node1"]);
        assert_eq!(rel(glob_in(tree, "resource-r1/.h*").unwrap()), ["/resource-r1/.hidden-x"]);
        assert_eq!(rel(glob_in(tree, "resource-r9/none").unwrap()), ["/resource-r9/none"]);
        for bad in ["/etc/*", "resource-r0/../../*", "x{a,b", "resource-[r0"] {
            assert!(glob_in(tree, bad).is_err(), "{bad}");
        }
        assert!(glob_in(tree, &format!("{root}x/*")).is_err());
    }

    #[test]
    fn the_complex_macros_evaluate() {
        let mut t = ScratchTree::node1_primary("complex", "node2");
        t.set("resource-r0/replay-node1", "log-000000001-node1,500,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,100,0");
        t.heard("node1", 1);
        t.set("ips/ip-node1", "10.0.0.1");
        t.set("ips/ip-node2", "10.0.0.2");
        // (A disk that is not here: NotPresent, role None.)
        t.set("resource-r0/data-node2", "/dev/no-such-disk-here");
        for host in ["node1", "node2"] {
            let ctx = t.seen_from(host);
            for (name, _) in COMPLEX {
                let out = evaluate(&ctx, &builtin(name), "r0");
                assert!(out.is_ok(), "{name} on {host}: {out:?}");
            }
        }
        let node2 = t.seen_from("node2");
        let out = evaluate(&node2, &builtin("default"), "r0").unwrap();
        let line = out.lines().find(|l| l.starts_with("  r0 ")).unwrap_or_else(|| panic!("{out}"));
        assert!(line.starts_with("  r0 [2/2] "), "{out}");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[2], words[3], words[4], words[5], words[6]), ("NotPresent", "Replaying", "--ASFR", "None", "node1"), "{out}");
        assert!(out.contains("    member node2 (here): Secondary Outdated, behind 400 B"), "{out}");
        let one = evaluate(&node2, &builtin("1and1"), "r0").unwrap();
        assert!(one.starts_with("  r0 "), "{one}");
    }

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
