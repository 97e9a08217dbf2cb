//! systemd as the cluster manager (docu/systemd.md): `set-systemd-unit`,
//! `get-systemd-unit`, `systemd-trigger`, the unit instances made from templates, and
//! what handover and failover ask of systemd.
//!
//! The tree holds two cluster-wide links per resource, `systemd-start-unit` and
//! `systemd-stop-unit` (`mars_core::tree`). Each host decides for itself from the
//! designated primary: the designated primary starts the start unit once its device is
//! there; every other host stops the stop unit (so its device closes and a handover
//! goes on). A host acts only on units marsadm instantiated here from a local template:
//! a member can name units, never make another host start an arbitrary one.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mars_core::names::{check_unit_name, UNIT_SUFFIXES};
use mars_core::tree::{DATA_PREFIX, DELETED, NONE, PRIMARY, SYSTEMD_START_UNIT, SYSTEMD_STOP_UNIT, SYSTEMD_TRIGGER};
use serde_json::json;

use super::resource::{device_dir, device_name, require_member, resource_dir, resource_list};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::liveness;
use crate::template::{expand, has_macro, Vars};

/// Where templates are looked up, in this order (the first file of a name wins).
pub const TEMPLATE_DIRS: [&str; 2] = ["/etc/mars/systemd-templates", "/usr/share/mars/systemd-templates"];
/// Where instances are written (runtime units: gone at reboot, made again by
/// `mars.service`).
pub const UNIT_DIR: &str = "/run/systemd/system";
/// The second line of every instance; marks the files marsadm owns in [`UNIT_DIR`].
const MARKER: &str = "# X-MARS-Generated-From: ";
/// How long an automatic start waits to hear from every other member of the resource
/// (each must be heard from anew: a host back from a crash must first learn whether
/// another one became primary meanwhile).
const HEARD_WAIT: Duration = Duration::from_secs(30);
/// How often `systemd-trigger` goes round again when the trigger file changed while it
/// ran (a path unit does not queue a second start of a running service).
const TRIGGER_ROUNDS: usize = 5;

fn err(what: impl Into<String>) -> Error {
    Error::Systemd(what.into())
}

/// A refusal: nothing was started or stopped (exit status 1, not a system error).
fn refuse(what: impl Into<String>) -> Error {
    Error::SystemdRefused(what.into())
}

/// The one way marsadm talks to systemd: `systemctl ARGS`, `Ok(true)` on exit status 0.
pub trait Systemctl {
    fn run(&self, args: &[&str]) -> Result<bool>;
}

/// The real `systemctl`.
pub struct RealSystemctl;

impl Systemctl for RealSystemctl {
    fn run(&self, args: &[&str]) -> Result<bool> {
        // Only questions under --dry-run.
        if !matches!(args.first(), Some(&("is-active" | "is-failed" | "is-enabled" | "show" | "status" | "cat" | "is-system-running"))) {
            crate::context::changing()?;
        }
        let status = Command::new("systemctl").args(args).status().map_err(|e| err(format!("cannot run systemctl: {e}")))?;
        Ok(status.success())
    }
}

/// Template and unit directories, and how to reach systemd.
pub struct Systemd<'a> {
    pub templates: Vec<PathBuf>,
    pub units: PathBuf,
    /// Where the resources' devices appear (`/dev/mars`).
    pub devices: PathBuf,
    pub ctl: &'a dyn Systemctl,
}

/// What [`Systemd::instantiate`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    /// Templates that could not be expanded (a message each); the others are done.
    pub problems: Vec<String>,
}

/// The variables of a template for resource `res` (or none) on this host.
pub fn vars(ctx: &Context, res: Option<&str>) -> Result<Vars> {
    let mut v = Vars::new();
    v.insert("host", ctx.host.clone());
    v.insert("mars", ctx.tree.root().display().to_string());
    if let Some(res) = res {
        let dev = device_name(ctx, res)?;
        v.insert("res", res.to_owned());
        v.insert("devpath", device_dir().join(&dev).display().to_string());
        v.insert("dev", dev);
    }
    Ok(v)
}

/// The resource's units: (start, stop), if set.
pub fn units(ctx: &Context, res: &str) -> Result<Option<(String, String)>> {
    let dir = resource_dir(res);
    let start = ctx.tree.get(&format!("{dir}/{SYSTEMD_START_UNIT}"))?.map(|l| l.value);
    let stop = ctx.tree.get(&format!("{dir}/{SYSTEMD_STOP_UNIT}"))?.map(|l| l.value);
    Ok(start.map(|s| {
        let stop = stop.unwrap_or_else(|| s.clone());
        (s, stop)
    }))
}

fn is_unit_file(name: &str) -> bool {
    !name.starts_with('.') && UNIT_SUFFIXES.iter().any(|s| name.ends_with(s))
}

impl Systemd<'_> {
    /// The real host's directories and systemctl; `None` unless systemd runs here
    /// (`/run/systemd/system` exists, as `sd_booted()` checks).
    pub fn system() -> Option<Systemd<'static>> {
        static REAL: RealSystemctl = RealSystemctl;
        Path::new(UNIT_DIR).is_dir().then(|| Systemd {
            templates: TEMPLATE_DIRS.iter().map(PathBuf::from).collect(),
            units: UNIT_DIR.into(),
            devices: device_dir(),
            ctl: &REAL,
        })
    }

    /// Every template: (file name, path), the first directory's file of a name winning.
    pub fn templates(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.templates {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(err(format!("cannot list {}: {e}", dir.display()))),
            };
            let mut names: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            for name in names {
                if is_unit_file(&name) && !found.iter().any(|(n, _)| *n == name) {
                    found.push((name.clone(), dir.join(&name)));
                }
            }
        }
        Ok(found)
    }

    /// Writes the instances of every template: those with a macro in their name once
    /// per resource in `resources`, the others once; removes (after stopping) the
    /// instances of templates or resources that are gone; `daemon-reload` if anything
    /// changed.
    pub fn instantiate(&self, ctx: &Context, resources: &[String]) -> Result<Changes> {
        let mut changes = Changes::default();
        let mut wanted = BTreeSet::new();
        crate::context::changing()?;
        std::fs::create_dir_all(&self.units).map_err(|e| err(format!("cannot create {}: {e}", self.units.display())))?;
        for (name, path) in self.templates()? {
            let text = std::fs::read_to_string(&path).map_err(|e| err(format!("cannot read template {}: {e}", path.display())))?;
            let per_resource = has_macro(&name);
            let targets: Vec<Option<&str>> = if per_resource { resources.iter().map(|r| Some(r.as_str())).collect() } else { vec![None] };
            for res in targets {
                let v = vars(ctx, res)?;
                let for_what = res.map_or_else(String::new, |r| format!(" for resource {r}"));
                let unit = match expand(&name, &v) {
                    Ok(u) => u,
                    Err(e) => {
                        changes.problems.push(format!("template name {name}{for_what}: {e}"));
                        continue;
                    }
                };
                if let Err(e) = check_unit_name(&unit) {
                    changes.problems.push(format!("template {name}{for_what} gives unit name {unit:?}: {e}"));
                    continue;
                }
                let body = match expand(&text, &v) {
                    Ok(b) => b,
                    Err(e) => {
                        changes.problems.push(format!("template {}{for_what}: {e}", path.display()));
                        continue;
                    }
                };
                let content = format!(
                    "# Generated by marsadm from a template{for_what}: edit the template, not this file (docu/systemd.md).\n{MARKER}{}\n{body}",
                    path.display()
                );
                wanted.insert(unit.clone());
                if self.write_unit(&unit, &content)? {
                    changes.written.push(unit);
                }
            }
        }
        for unit in self.generated()? {
            if wanted.contains(&unit) {
                continue;
            }
            if self.is_active(&unit)? {
                println!("stopping {unit}: its template or resource is gone");
                self.ctl.run(&["stop", &unit])?;
            }
            let p = self.units.join(&unit);
            std::fs::remove_file(&p).map_err(|e| err(format!("cannot remove {}: {e}", p.display())))?;
            changes.removed.push(unit);
        }
        let changed = !(changes.written.is_empty() && changes.removed.is_empty());
        if changed && !self.ctl.run(&["daemon-reload"])? {
            return Err(err("systemctl daemon-reload failed"));
        }
        Ok(changes)
    }

    /// Writes `unit` atomically unless it has `content` already; `true` if written.
    fn write_unit(&self, unit: &str, content: &str) -> Result<bool> {
        let path = self.units.join(unit);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == content => return Ok(false),
            Ok(old) if !old.lines().nth(1).is_some_and(|l| l.starts_with(MARKER)) => {
                return Err(refuse(format!("{} exists and was not made by marsadm: remove or rename it", path.display())));
            }
            _ => {}
        }
        let tmp = self.units.join(format!(".{unit}.marsadm-{}", std::process::id()));
        std::fs::write(&tmp, content).map_err(|e| err(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(format!("cannot replace {}: {e}", path.display()))
        })?;
        Ok(true)
    }

    /// The units in the unit directory that marsadm made.
    pub fn generated(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.units) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(format!("cannot list {}: {e}", self.units.display()))),
        };
        let mut out = Vec::new();
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_unit_file(&name) && self.is_generated(&name) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether `unit` is an instance marsadm made here (the only units it starts or stops).
    pub fn is_generated(&self, unit: &str) -> bool {
        check_unit_name(unit).is_ok()
            && std::fs::read_to_string(self.units.join(unit)).is_ok_and(|t| t.lines().nth(1).is_some_and(|l| l.starts_with(MARKER)))
    }

    pub fn is_active(&self, unit: &str) -> Result<bool> {
        self.ctl.run(&["is-active", "--quiet", unit])
    }

    fn start(&self, unit: &str) -> Result<()> {
        println!("starting {unit}");
        if self.ctl.run(&["start", unit])? {
            Ok(())
        } else {
            Err(err(format!("systemctl start {unit} failed (systemctl status {unit}; journalctl -u {unit})")))
        }
    }

    fn stop(&self, unit: &str) -> Result<()> {
        println!("stopping {unit}");
        if self.ctl.run(&["stop", unit])? {
            Ok(())
        } else {
            Err(err(format!("systemctl stop {unit} failed (systemctl status {unit}; journalctl -u {unit})")))
        }
    }

    /// Refuses a unit marsadm did not make here.
    fn require_generated(&self, res: &str, unit: &str) -> Result<()> {
        if self.is_generated(unit) {
            Ok(())
        } else {
            Err(refuse(format!(
                "resource {res}: unit {unit} was not instantiated here from a template ({} or {}): marsadm starts and stops only those",
                TEMPLATE_DIRS[0], TEMPLATE_DIRS[1]
            )))
        }
    }
}

/// How a start is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// An operator's command (`primary`, `set-systemd-unit`): start at once.
    Now,
    /// The trigger (the module's role changes, a boot): start only once every other
    /// member of the resource has been heard from anew (waiting at most this long), so
    /// a host back from a crash learns first whether another one took over.
    AfterHearing(Duration),
}

/// The other members of `res` (their `data-<host>` links).
fn other_members(ctx: &Context, res: &str) -> Result<Vec<String>> {
    let dir = resource_dir(res);
    let mut out = Vec::new();
    for name in ctx.tree.list(&dir)? {
        if let Some(h) = name.strip_prefix(DATA_PREFIX) {
            if h != ctx.host && ctx.tree.get(&format!("{dir}/{name}"))?.is_some() {
                out.push(h.to_owned());
            }
        }
    }
    Ok(out)
}

/// Waits until every other member of `res` is heard from anew; the silent ones.
fn unheard(ctx: &Context, res: &str, within: Duration) -> Result<Vec<String>> {
    let deadline = Instant::now() + within;
    let mut silent = Vec::new();
    for host in other_members(ctx, res)? {
        loop {
            if liveness::heard_anew(ctx, &host, Duration::from_secs(5))? {
                break;
            }
            if Instant::now() > deadline {
                silent.push(host);
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(silent)
}

fn designated(ctx: &Context, res: &str) -> Result<Option<String>> {
    Ok(ctx.tree.get(&format!("{}/{PRIMARY}", resource_dir(res)))?.map(|l| l.value).filter(|p| p != NONE))
}

fn device_is_up(ctx: &Context, sys: &Systemd<'_>, res: &str) -> Result<bool> {
    let primary = ctx.tree.get(&format!("{}/actual-{}/is-primary", resource_dir(res), ctx.host))?;
    let dev = vars(ctx, Some(res))?.remove("dev").unwrap_or_default();
    Ok(primary.is_some_and(|l| l.value == "1") && sys.devices.join(dev).exists())
}

/// Brings `res`'s units on this host where the tree says: started on the designated
/// primary once its device is up, stopped everywhere else.
pub fn act(ctx: &Context, sys: &Systemd<'_>, res: &str, how: Start) -> Result<()> {
    let Some((start, stop)) = units(ctx, res)? else { return Ok(()) };
    let me = ctx.host.as_str();
    if designated(ctx, res)?.as_deref() != Some(me) {
        if !sys.is_generated(&stop) {
            eprintln!("WARNING: resource {res}: stop unit {stop} was not instantiated here from a template: not stopped");
        } else if sys.is_active(&stop)? {
            println!("{res}: {} is designated primary, not this host", designated(ctx, res)?.unwrap_or_else(|| NONE.into()));
            sys.stop(&stop)?;
        }
        return Ok(());
    }
    if !device_is_up(ctx, sys, res)? {
        println!("{res}: the device is not up here yet; {start} starts once it is");
        return Ok(());
    }
    sys.require_generated(res, &start)?;
    if sys.is_active(&start)? {
        return Ok(());
    }
    if let Start::AfterHearing(within) = how {
        let silent = unheard(ctx, res, within)?;
        if !silent.is_empty() && sys.is_active(&start)? {
            // Started meanwhile (by `marsadm primary` here): nothing to decide.
            return Ok(());
        }
        if !silent.is_empty() {
            return Err(refuse(format!(
                "resource {res}: not starting {start}: not heard from {} within {} s (one of them may be primary now); if they are down for good: systemctl start {start}",
                silent.join(", "),
                within.as_secs()
            )));
        }
        // What they said may have changed the designation.
        if designated(ctx, res)?.as_deref() != Some(me) {
            return act(ctx, sys, res, Start::Now);
        }
    }
    sys.start(&start)
}

/// The trigger file's content (to notice a change while the trigger runs).
fn trigger_stamp(ctx: &Context) -> Option<Vec<u8>> {
    std::fs::read(ctx.tree.path(SYSTEMD_TRIGGER)).ok()
}

/// `systemd-trigger [RES]`: instantiate the templates, then start or stop each
/// resource's units as the tree says (what `mars-trigger.service` runs).
pub fn trigger(ctx: &Context, spec: &str) -> Result<()> {
    let Some(sys) = Systemd::system() else {
        println!("systemd is not running here: nothing to do");
        return Ok(());
    };
    let mut failed = Vec::new();
    for _ in 0..TRIGGER_ROUNDS {
        let before = trigger_stamp(ctx);
        let changes = sys.instantiate(ctx, &resource_list(ctx, "all")?)?;
        report(&changes);
        failed.clear();
        for res in resource_list(ctx, spec)? {
            if let Err(e) = act(ctx, &sys, &res, Start::AfterHearing(HEARD_WAIT)) {
                eprintln!("marsadm: {e}");
                failed.push(res);
            }
        }
        if trigger_stamp(ctx) == before {
            break;
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(err(format!("resource(s) {}: see the messages above", failed.join(", "))))
    }
}

fn report(c: &Changes) {
    for u in &c.written {
        println!("instantiated {u}");
    }
    for u in &c.removed {
        println!("removed {u}");
    }
    for p in &c.problems {
        eprintln!("WARNING: {p}");
    }
}

/// After create-, join- or leave-resource: instances for the resources this host is a
/// member of now. A failure here is a warning: the membership changed anyway.
pub fn membership_changed(ctx: &Context) {
    let Some(sys) = Systemd::system() else { return };
    match resource_list(ctx, "all").and_then(|list| sys.instantiate(ctx, &list)) {
        Ok(c) => report(&c),
        Err(e) => eprintln!("WARNING: systemd units not updated: {e}"),
    }
}

/// Whether `res` is run by systemd (a planned handover then relies on the old
/// primary's systemd to close the device).
pub fn configured(ctx: &Context, res: &str) -> Result<bool> {
    Ok(units(ctx, res)?.is_some())
}

/// After `primary [--force]` succeeded here: start the start unit now.
pub fn started_primary(ctx: &Context, res: &str) -> Result<()> {
    if !configured(ctx, res)? {
        return Ok(());
    }
    let Some(sys) = Systemd::system() else {
        eprintln!("WARNING: {res} has systemd units, but systemd is not running here: start the application by hand");
        return Ok(());
    };
    sys.instantiate(ctx, &resource_list(ctx, "all")?).map(|c| report(&c))?;
    act(ctx, &sys, res, Start::Now)
}

/// `set-systemd-unit RES START [STOP]` (START empty: systemd no longer runs RES).
pub fn set_unit(ctx: &Context, res: &str, start: &str, stop: Option<&str>) -> Result<()> {
    require_member(ctx, res)?;
    let dir = resource_dir(res);
    let start_link = format!("{dir}/{SYSTEMD_START_UNIT}");
    let stop_link = format!("{dir}/{SYSTEMD_STOP_UNIT}");
    if start.is_empty() {
        let stamp = ctx.stamp(&[&dir])?;
        ctx.tree.set(&start_link, DELETED, stamp)?;
        ctx.tree.set(&stop_link, DELETED, stamp)?;
        ctx.trigger();
        println!("{res}: no systemd units any more (running units are left as they are)");
        return Ok(());
    }
    let v = vars(ctx, Some(res))?;
    let name = |given: &str| -> Result<String> {
        let unit = expand(given, &v).map_err(|e| refuse(format!("unit {given:?}: {e}")))?;
        check_unit_name(&unit).map_err(|e| Error::Name { what: "unit", name: unit.clone(), reason: e.to_string() })?;
        Ok(unit)
    };
    let start = name(start)?;
    let stop = name(stop.unwrap_or(&start))?;
    let sys = Systemd::system();
    if let Some(sys) = &sys {
        report(&sys.instantiate(ctx, &resource_list(ctx, "all")?)?);
        for unit in [&start, &stop] {
            sys.require_generated(res, unit)?;
        }
    }
    let stamp = ctx.stamp(&[&dir])?;
    ctx.tree.set(&start_link, &start, stamp)?;
    ctx.tree.set(&stop_link, &stop, stamp)?;
    ctx.trigger();
    println!("{res}: start unit {start}, stop unit {stop}");
    match &sys {
        Some(sys) => act(ctx, sys, res, Start::Now),
        None => {
            eprintln!("WARNING: systemd is not running here: this host starts and stops nothing");
            Ok(())
        }
    }
}

/// `get-systemd-unit RES [--json]`.
pub fn get_unit(ctx: &Context, res: &str, json: bool) -> Result<()> {
    super::resource::require_exists(ctx, res)?;
    let u = units(ctx, res)?;
    if json {
        let (start, stop) = u.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let out = json!({ "schema_version": 1, "resource": res, "start_unit": start, "stop_unit": stop });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if let Some((start, stop)) = u {
        println!("{start} {stop}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{self, ScratchDir};
    use std::cell::RefCell;

    /// Records what would go to systemctl; `active` answers is-active.
    struct Recorder {
        calls: RefCell<Vec<String>>,
        active: RefCell<BTreeSet<String>>,
    }

    impl Systemctl for Recorder {
        fn run(&self, args: &[&str]) -> Result<bool> {
            self.calls.borrow_mut().push(args.join(" "));
            Ok(match args {
                ["is-active", "--quiet", u] => self.active.borrow().contains(*u),
                ["start", u] => {
                    self.active.borrow_mut().insert((*u).to_owned());
                    true
                }
                ["stop", u] => {
                    self.active.borrow_mut().remove(*u);
                    true
                }
                _ => true,
            })
        }
    }

    struct Fixture {
        root: ScratchDir,
        ctx: Context,
        rec: Recorder,
    }

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let root = ScratchDir::new(&format!("systemd-{tag}"));
            for d in ["mars", "etc", "share", "run", "dev"] {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            let ctx = scratch::context(&root.join("mars"), "node1");
            Fixture { root, ctx, rec: Recorder { calls: RefCell::new(Vec::new()), active: RefCell::new(BTreeSet::new()) } }
        }

        fn sys(&self) -> Systemd<'_> {
            Systemd {
                templates: vec![self.root.join("etc"), self.root.join("share")],
                units: self.root.join("run"),
                devices: self.root.join("dev"),
                ctl: &self.rec,
            }
        }

        fn template(&self, dir: &str, name: &str, text: &str) {
            std::fs::write(self.root.join(dir).join(name), text).unwrap();
        }

        fn unit(&self, name: &str) -> String {
            std::fs::read_to_string(self.root.join("run").join(name)).unwrap()
        }

        fn calls(&self) -> Vec<String> {
            std::mem::take(&mut *self.rec.calls.borrow_mut())
        }
    }

    const MOUNT: &str = "[Mount]\nWhat=@{devpath}\nWhere=/mnt/mars/@{res}\n";

    #[test]
    fn instances_per_resource_with_reload_only_on_change() {
        let f = Fixture::new("inst");
        f.template("share", "mnt-mars-@escvar{res}.mount", MOUNT);
        f.template("share", "README", "not a unit");
        f.template("share", "mars-global.target", "[Unit]\nDescription=on %{host}\n");
        f.ctx.tree.set("resource-db-1/device-node1", "db1", 1).unwrap();
        let res = vec!["r0".to_owned(), "db-1".to_owned()];
        let c = f.sys().instantiate(&f.ctx, &res).unwrap();
        assert_eq!(c.written, ["mars-global.target", "mnt-mars-r0.mount", "mnt-mars-db\\x2d1.mount"]);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(f.calls(), ["daemon-reload"]);
        let u = f.unit("mnt-mars-db\\x2d1.mount");
        assert!(u.ends_with("[Mount]\nWhat=/dev/mars/db1\nWhere=/mnt/mars/db-1\n"), "{u}");
        assert!(u.lines().nth(1).unwrap().starts_with(MARKER));
        assert!(f.unit("mars-global.target").ends_with("Description=on node1\n"));
        // Unchanged: nothing written, no reload.
        let c = f.sys().instantiate(&f.ctx, &res).unwrap();
        assert_eq!(c, Changes::default());
        assert!(f.calls().is_empty());
        // /etc wins over the package's directory.
        f.template("etc", "mnt-mars-@escvar{res}.mount", "[Mount]\nWhat=@{devpath}\nWhere=/srv/@{res}\n");
        let c = f.sys().instantiate(&f.ctx, &res).unwrap();
        assert_eq!(c.written, ["mnt-mars-r0.mount", "mnt-mars-db\\x2d1.mount"]);
        assert!(f.unit("mnt-mars-r0.mount").ends_with("Where=/srv/r0\n"));
        assert_eq!(f.calls(), ["daemon-reload"]);
    }

    #[test]
    fn instances_of_a_left_resource_are_stopped_and_removed() {
        let f = Fixture::new("leave");
        f.template("share", "mnt-mars-@escvar{res}.mount", MOUNT);
        f.sys().instantiate(&f.ctx, &["r0".to_owned(), "r1".to_owned()]).unwrap();
        f.calls();
        f.rec.active.borrow_mut().insert("mnt-mars-r1.mount".into());
        // A unit file marsadm did not make is never touched.
        std::fs::write(f.root.join("run/other.service"), "[Service]\n").unwrap();
        let c = f.sys().instantiate(&f.ctx, &["r0".to_owned()]).unwrap();
        assert_eq!(c.removed, ["mnt-mars-r1.mount"]);
        assert_eq!(f.calls(), ["is-active --quiet mnt-mars-r1.mount", "stop mnt-mars-r1.mount", "daemon-reload"]);
        assert!(!f.root.join("run/mnt-mars-r1.mount").exists());
        assert!(f.root.join("run/other.service").exists());
        // A foreign file of an instance's name is not overwritten.
        std::fs::write(f.root.join("run/mnt-mars-r2.mount"), "mine\n").unwrap();
        assert!(f.sys().instantiate(&f.ctx, &["r2".to_owned()]).is_err());
        assert_eq!(std::fs::read_to_string(f.root.join("run/mnt-mars-r2.mount")).unwrap(), "mine\n");
    }

    #[test]
    fn the_shipped_mount_template() {
        let f = Fixture::new("shipped");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/templates");
        let sys = Systemd { templates: vec![shipped], units: f.root.join("run"), devices: f.root.join("dev"), ctl: &f.rec };
        let c = sys.instantiate(&f.ctx, &["db-1".to_owned()]).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.written, ["mnt-mars-db\\x2d1.mount"]);
        let u = f.unit("mnt-mars-db\\x2d1.mount");
        assert!(u.contains("\nWhat=/dev/mars/db-1\nWhere=/mnt/mars/db-1\n"), "{u}");
        assert!(u.contains("marsadm set-systemd-unit <res> mnt-mars-db\\x2d1.mount"), "{u}");
    }

    #[test]
    fn bad_templates_are_reported_and_skipped() {
        let f = Fixture::new("bad");
        f.template("share", "a-@{res}.service", "[Service]\nExecStart=/bin/true @{nope}\n");
        f.template("share", "b-@{res}.service", "[Service]\nExecStart=/bin/true\n");
        f.template("share", "c.service", "[Service]\nExecStart=/bin/echo @{res}\n");
        f.template("share", "d-@{res}.service", "[Service]\nExecStart=/bin/echo @{res\n");
        let c = f.sys().instantiate(&f.ctx, &["r0".to_owned()]).unwrap();
        assert_eq!(c.written, ["b-r0.service"]);
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        assert!(c.problems[0].contains("\"nope\""), "{:?}", c.problems);
    }

    fn resource(f: &Fixture, primary: &str, is_primary: bool) {
        let t = &f.ctx.tree;
        t.set("resource-r0/data-node1", "/dev/vdb", 1).unwrap();
        t.set("resource-r0/primary", primary, 2).unwrap();
        t.set("resource-r0/actual-node1/is-primary", if is_primary { "1" } else { "0" }, 2).unwrap();
        if is_primary {
            std::fs::write(f.root.join("dev/r0"), "").unwrap();
        }
        t.set("resource-r0/systemd-start-unit", "app-r0.service", 3).unwrap();
        t.set("resource-r0/systemd-stop-unit", "mnt-mars-r0.mount", 3).unwrap();
        f.template("share", "mnt-mars-@escvar{res}.mount", MOUNT);
        f.template("share", "app-@{res}.service", "[Unit]\nBindsTo=mnt-mars-@escvar{res}.mount\n");
        f.sys().instantiate(&f.ctx, &["r0".to_owned()]).unwrap();
        f.calls();
    }

    #[test]
    fn designated_primary_starts_others_stop() {
        let f = Fixture::new("act");
        resource(&f, "node1", true);
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert_eq!(f.calls(), ["is-active --quiet app-r0.service", "start app-r0.service"]);
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert_eq!(f.calls(), ["is-active --quiet app-r0.service"], "started once");
        // Another host designated: the stop unit goes.
        f.rec.active.borrow_mut().insert("mnt-mars-r0.mount".into());
        f.ctx.tree.set("resource-r0/primary", "node2", 4).unwrap();
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert_eq!(f.calls(), ["is-active --quiet mnt-mars-r0.mount", "stop mnt-mars-r0.mount"]);
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert_eq!(f.calls(), ["is-active --quiet mnt-mars-r0.mount"]);
    }

    #[test]
    fn no_start_without_the_device() {
        let f = Fixture::new("nodev");
        resource(&f, "node1", false);
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert!(f.calls().is_empty());
    }

    #[test]
    fn automatic_start_waits_to_hear_from_the_others() {
        let f = Fixture::new("hear");
        resource(&f, "node1", true);
        // node2 is a member and was last heard from long ago (this host was down).
        f.ctx.tree.set("resource-r0/data-node2", "/dev/vdb", 1).unwrap();
        f.ctx.tree.set("actual-node2/time", "x", 1).unwrap();
        let start = Instant::now();
        let e = act(&f.ctx, &f.sys(), "r0", Start::AfterHearing(Duration::from_secs(1))).unwrap_err();
        assert!(e.to_string().contains("not heard from node2"), "{e}");
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert_eq!(f.calls(), ["is-active --quiet app-r0.service", "is-active --quiet app-r0.service"], "nothing started");
        // An explicit start does not wait.
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert_eq!(f.calls(), ["is-active --quiet app-r0.service", "start app-r0.service"]);
    }

    #[test]
    fn only_generated_units_are_started_or_stopped() {
        let f = Fixture::new("foreign");
        resource(&f, "node1", true);
        // A member named a unit no local template made: refused, nothing run.
        f.ctx.tree.set("resource-r0/systemd-start-unit", "reboot.target", 5).unwrap();
        let e = act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap_err();
        assert!(e.to_string().contains("reboot.target was not instantiated here"), "{e}");
        assert!(f.calls().is_empty());
        f.ctx.tree.set("resource-r0/primary", "node2", 6).unwrap();
        f.ctx.tree.set("resource-r0/systemd-stop-unit", "sshd.service", 6).unwrap();
        f.rec.active.borrow_mut().insert("sshd.service".into());
        act(&f.ctx, &f.sys(), "r0", Start::Now).unwrap();
        assert!(f.calls().is_empty(), "sshd.service is not stopped");
    }
}
