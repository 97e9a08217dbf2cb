//! Resource membership: `create-resource`, `join-resource`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mars_core::emergency::EMERGENCY_LIMIT;
use mars_core::names::{check_device_name, check_resource_name};
use mars_core::replication::kept_at_leave;
use mars_core::splitbrain::{version_fate, VersionFate};
use mars_core::tree::{LogName, ReplayLink, ACTSIZE_PREFIX, DATA_PREFIX, DELETED, DEVICE_DIR, DEVICE_PREFIX, PRIMARY, REPLAY_PREFIX, RESOURCE_PREFIX, RPO, SIZE, SYNCPOS_PREFIX, SYNCSTATUS_PREFIX, TODO_PREFIX, VERSION_PREFIX};

use crate::context::{check_disk, Context};
use crate::error::{Error, Result};
use crate::progress::{Progress, Wait};

pub fn resource_dir(res: &str) -> String {
    format!("{RESOURCE_PREFIX}{res}")
}

/// Resources (names) that exist in the tree: those with a `size` link.
pub fn resources(ctx: &Context) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in ctx.tree.list("")? {
        if let Some(res) = name.strip_prefix(RESOURCE_PREFIX) {
            if ctx.tree.get(&format!("{name}/{SIZE}"))?.is_some() {
                out.push(res.to_owned());
            }
        }
    }
    Ok(out)
}

/// Checks shared by create-resource and join-resource: names, then /mars, module and
/// cluster membership.
fn prepare_member(ctx: &Context, res: &str, devname: &str) -> Result<()> {
    check_resource_name(res).map_err(|e| Error::Name { what: "resource", name: res.into(), reason: e.to_string() })?;
    check_device_name(devname).map_err(|e| Error::Name { what: "device", name: devname.into(), reason: e.to_string() })?;
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()
}

pub fn create_resource(ctx: &Context, res: &str, disk: &Path, devname: Option<&str>, force: bool) -> Result<()> {
    let devname = devname.unwrap_or(res);
    prepare_member(ctx, res, devname)?;
    let me = ctx.host.as_str();
    let existing = resources(ctx)?;
    let recreate = existing.iter().any(|r| r == res);
    if recreate && !force {
        return Err(Error::ResourceExists(res.into()));
    }
    if recreate {
        // Only the remains of a resource whose members are all gone may be replaced.
        if actual(ctx, res, "is-attached")?.as_deref() == Some("1") {
            return Err(Error::StillAttached(res.into()));
        }
        for host in members(ctx, res)? {
            if host != me && crate::liveness::is_reachable(ctx, &host)? {
                return Err(Error::Refused { res: res.into(), why: format!("{host} is a reachable member: join it (join-resource) instead of re-creating it") });
            }
        }
    }
    for other in existing.iter().filter(|r| !(recreate && *r == res)) {
        let dir = resource_dir(other);
        if ctx.tree.get(&format!("{dir}/{DEVICE_PREFIX}{me}"))?.is_some_and(|l| l.value == devname) {
            return Err(Error::DeviceNameTaken { devname: devname.into(), res: other.clone() });
        }
        if ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{me}"))?.is_some_and(|l| Path::new(&l.value) == disk) {
            return Err(Error::DiskTaken { disk: disk.to_owned(), res: other.clone() });
        }
    }
    let disk = check_disk(disk)?;

    // All checks passed: write the resource. `todo-<me>/attach` comes last, because it
    // is what makes the module act.
    let dir = resource_dir(res);
    let mut stamp = ctx.stamp(&["", &dir])?;
    // Re-created: the old links go, and numbering goes on after the old logfiles, so no
    // copy of an old logfile anywhere is ever taken for a new one.
    let mut first = 1u32;
    if recreate {
        for name in ctx.tree.list(&dir)? {
            let nr = LogName::parse(&name).ok().map(|l| l.nr).or_else(|| {
                let rest = name.strip_prefix(VERSION_PREFIX)?;
                rest.get(..9)?.parse::<u32>().ok()
            });
            first = first.max(nr.map_or(1, |n| n.saturating_add(1)));
        }
        delete_tree(ctx, &dir, stamp)?;
        remove_logfiles(ctx, res, |_| true)?;
        stamp += 1;
        println!("re-creating resource {res}: its old links are deleted, logfiles start at {first}");
    }
    let log = LogName { nr: first, host: me };
    let replay = ReplayLink { log, start: 0, len: 0 };
    let disk_str = disk.path.to_string_lossy();
    let links: [(String, String); 10] = [
        (format!("{dir}/{SIZE}"), disk.size.to_string()),
        (format!("{dir}/{DATA_PREFIX}{me}"), disk_str.into_owned()),
        (format!("{dir}/{DEVICE_PREFIX}{me}"), devname.to_owned()),
        (format!("{dir}/{PRIMARY}"), me.to_owned()),
        (format!("{dir}/{REPLAY_PREFIX}{me}"), replay.to_string()),
        (format!("{dir}/{SYNCSTATUS_PREFIX}{me}"), disk.size.to_string()),
        (format!("{dir}/maxnr"), first.to_string()),
        (format!("{dir}/{TODO_PREFIX}{me}/connect"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/sync"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/allow-replay"), "1".to_owned()),
    ];
    for (rel, value) in &links {
        ctx.tree.set(rel, value, stamp)?;
    }
    let log_path = ctx.tree.path(&format!("{dir}/{log}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&log_path)
        .map_err(|e| Error::Tree { path: log_path.clone(), what: "create logfile", source: e })?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/attach"), "1", stamp + 1)?;
    ctx.trigger();
    println!("created resource {res} on {} ({} bytes), device /dev/mars/{devname}", disk.path.display(), disk.size);
    Ok(())
}

/// `join-resource`: become a secondary of an existing resource (see the command's help).
pub fn join_resource(ctx: &Context, res: &str, disk: &Path, devname: Option<&str>, force: bool) -> Result<()> {
    let devname = devname.unwrap_or(res);
    prepare_member(ctx, res, devname)?;
    let me = ctx.host.as_str();
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    let dir = resource_dir(res);
    let rejoin = ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{me}"))?.is_some();
    if rejoin && !force {
        return Err(Error::AlreadyMember { res: res.into(), host: me.into() });
    }
    if rejoin && actual(ctx, res, "is-attached")?.as_deref() == Some("1") {
        return Err(Error::StillAttached(res.into()));
    }
    let primary = ctx.tree.get(&format!("{dir}/{PRIMARY}"))?.map(|l| l.value).filter(|p| p != mars_core::tree::NONE);
    let primary = primary.ok_or_else(|| Error::NoPrimary(res.into()))?;
    let size: u64 = ctx.tree.get(&format!("{dir}/{SIZE}"))?.and_then(|l| l.value.parse().ok()).ok_or_else(|| Error::NoResource(res.into()))?;
    let theirs = ctx.tree.get(&format!("{dir}/{REPLAY_PREFIX}{primary}"))?.ok_or_else(|| Error::NoPrimary(res.into()))?;
    let theirs = ReplayLink::parse(&theirs.value).map_err(|_| Error::NoPrimary(res.into()))?;
    let disk = check_disk(disk)?;
    if disk.size < size {
        return Err(Error::Disk { path: disk.path, reason: format!("{} bytes, the resource needs {size}", disk.size) });
    }
    if primary == me {
        return Err(Error::IsPrimary(res.into()));
    }
    let stamp = ctx.stamp(&["", &dir])?;
    // A fresh start: leftovers of an earlier membership (history, logfiles) go.
    let removed = discard_history(ctx, res, &primary, theirs.log.nr, stamp)?;
    if removed > 0 || rejoin {
        println!("discarded this host's old version of {res} ({removed} bytes of logfiles)");
    }
    let stamp = stamp + 1;
    // Replication starts at the primary's current logfile.
    let replay = ReplayLink { log: LogName { nr: theirs.log.nr, host: &primary }, start: 0, len: 0 };
    // `data-<me>` (membership: a second join-resource refuses) comes last, with
    // `attach` after it: a join-resource killed before it can simply be run again.
    let links: [(String, String); 6] = [
        (format!("{dir}/{DEVICE_PREFIX}{me}"), devname.to_owned()),
        (format!("{dir}/{REPLAY_PREFIX}{me}"), replay.to_string()),
        (format!("{dir}/{SYNCSTATUS_PREFIX}{me}"), "0".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/connect"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/sync"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/allow-replay"), "1".to_owned()),
    ];
    for (rel, value) in &links {
        ctx.tree.set(rel, value, stamp)?;
    }
    // This host's history starts where the primary's current logfile does: its version
    // link of the logfile before is the primary's (design reference §3.6), so the
    // version links this host writes chain exactly like the primary's.
    if theirs.log.nr > 1 {
        let prev = theirs.log.nr - 1;
        if let Some(v) = ctx.tree.get(&format!("{dir}/{VERSION_PREFIX}{prev:09}-{primary}"))? {
            ctx.tree.set(&format!("{dir}/{VERSION_PREFIX}{prev:09}-{me}"), &v.value, stamp)?;
        }
    }
    ctx.tree.set(&format!("{dir}/{DATA_PREFIX}{me}"), &disk.path.to_string_lossy(), stamp)?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/attach"), "1", stamp + 1)?;
    ctx.trigger();
    println!("joined resource {res} as a secondary of {primary} on {}", disk.path.display());
    println!("a full sync (port 7779) copies what differs, then the logfiles from log-{:09} on are replayed;", theirs.log.nr);
    println!("{} is a consistent copy once `marsadm view {res}` shows UpToDate (or view-is-consistent prints 1)", disk.path.display());
    Ok(())
}

/// `resource-<res>/actual-<me>/<name>`, as reported by the module.
pub(super) fn actual(ctx: &Context, res: &str, name: &str) -> Result<Option<String>> {
    Ok(ctx.tree.get(&format!("{}/actual-{}/{name}", resource_dir(res), ctx.host))?.map(|l| l.value))
}

/// The device name of `res` on this host: `device-<me>`, else the resource's name.
pub fn device_name(ctx: &Context, res: &str) -> Result<String> {
    Ok(ctx.tree.get(&format!("{}/{DEVICE_PREFIX}{}", resource_dir(res), ctx.host))?.map_or_else(|| res.to_owned(), |l| l.value))
}

/// `/dev/mars/<dev>` of `res` on this host.
pub fn device_path(ctx: &Context, res: &str) -> Result<PathBuf> {
    Ok(device_dir().join(device_name(ctx, res)?))
}

/// `/dev/mars`, where a primary's devices appear.
pub fn device_dir() -> PathBuf {
    Path::new("/dev").join(DEVICE_DIR)
}

/// This host is the actual primary of `res` and its device is there. `is-primary` = 1
/// alone is not enough: after a crash it still says so (the protocol needs that: this
/// host has not left the role) until the module has recovered and taken over again.
pub fn device_up(ctx: &Context, res: &str) -> Result<bool> {
    Ok(actual(ctx, res, "is-primary")?.as_deref() == Some("1") && device_path(ctx, res)?.exists())
}

/// Requires resource `res` to exist and this host to be a member of it.
pub fn require_member(ctx: &Context, res: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    if ctx.tree.get(&format!("{}/{DATA_PREFIX}{}", resource_dir(res), ctx.host))?.is_none() {
        return Err(Error::NotMember { res: res.into(), host: ctx.host.clone() });
    }
    Ok(())
}

/// How long commands wait for the module to carry out a change, unless `--timeout` says
/// otherwise ([`set_module_wait`]).
const WAIT: Duration = Duration::from_secs(60);

static MODULE_WAIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// `--timeout` for the waits of attach, detach, up, down and secondary (set once, before
/// a command runs).
pub fn set_module_wait(wait: Duration) {
    let _ = MODULE_WAIT.set(wait);
}

fn module_wait() -> Duration {
    MODULE_WAIT.get().copied().unwrap_or(WAIT)
}

/// Waits until `actual-<me>/<name>` has value `want` (the module reports it).
fn wait_actual(ctx: &Context, res: &str, name: &str, want: &str, what: &str) -> Result<()> {
    let wait = module_wait();
    let deadline = Instant::now() + wait;
    loop {
        if actual(ctx, res, name)?.as_deref() == Some(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let error = actual(ctx, res, "error")?.and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
            return Err(Error::Timeout { res: res.into(), what: what.into(), secs: wait.as_secs(), error: crate::error::errno_text(error) });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The device must not be open (mounted, or used by a program) for `what`. The module
/// reports `open-count` once per round, so a non-zero value is re-checked after asking
/// for a fresh report (the module itself also refuses while the device is open).
fn require_closed(ctx: &Context, res: &str, what: &str) -> Result<()> {
    let open = || -> Result<u32> { Ok(actual(ctx, res, "open-count")?.and_then(|v| v.parse().ok()).unwrap_or(0)) };
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n = open()?;
        if n == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::DeviceOpen { res: res.into(), what: what.into(), openers: n });
        }
        ctx.trigger();
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn set_todo(ctx: &Context, res: &str, switch: &str, on: bool) -> Result<()> {
    set_todo_of(ctx, res, &ctx.host, switch, on)
}

/// Sets `todo-<host>/<switch>` of `res` (the module of `<host>` follows it).
pub(super) fn set_todo_of(ctx: &Context, res: &str, host: &str, switch: &str, on: bool) -> Result<()> {
    let dir = resource_dir(res);
    let stamp = ctx.stamp(&[&dir, &format!("{dir}/{TODO_PREFIX}{host}")])?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{host}/{switch}"), if on { "1" } else { "0" }, stamp)?;
    Ok(())
}

/// `set-emergency-limit RES PERCENT`: this host's per-resource limit (docu/emergency.md).
pub fn set_emergency_limit(ctx: &Context, res: &str, percent: u8) -> Result<()> {
    let dir = resource_dir(res);
    let me = &ctx.host;
    let stamp = ctx.stamp(&[&dir, &format!("{dir}/{TODO_PREFIX}{me}")])?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/{EMERGENCY_LIMIT}"), &percent.to_string(), stamp)?;
    ctx.trigger();
    Ok(())
}

/// `/proc/sys/mars/sync_limit`.
pub const SYNC_LIMIT: &str = "sync_limit";

/// `get-emergency-limit RES|all`: this host's limit in percent (0: none); with several
/// resources, `RES PERCENT` lines.
pub fn get_emergency_limit(ctx: &Context, spec: &str) -> Result<()> {
    let list = resource_list(ctx, spec)?;
    for res in &list {
        require_member(ctx, res)?;
        let link = format!("{}/{TODO_PREFIX}{}/{EMERGENCY_LIMIT}", resource_dir(res), ctx.host);
        let percent = ctx.tree.get(&link)?.map(|l| l.value).unwrap_or_else(|| "0".into());
        match list.len() {
            1 => println!("{percent}"),
            _ => println!("{res} {percent}"),
        }
    }
    Ok(())
}

/// `set-global-sync-limit-value N`: `/proc/sys/mars/sync_limit` (docu/proc-sys-mars.md).
pub fn set_sync_limit(ctx: &Context, value: u32) -> Result<()> {
    ctx.require_module()?;
    ctx.commit()?;
    let path = ctx.proc_sys.join(SYNC_LIMIT);
    std::fs::write(&path, value.to_string()).map_err(|source| Error::Tree { path, what: "write", source })?;
    println!("sync limit {value} on {} (until the module is unloaded: mars.sync_limit = {value} in /etc/sysctl.d/60-mars.conf keeps it)", ctx.host);
    Ok(())
}

/// `get-global-sync-limit-value`.
pub fn get_sync_limit(ctx: &Context) -> Result<()> {
    ctx.require_module()?;
    let path = ctx.proc_sys.join(SYNC_LIMIT);
    let value = std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })?;
    println!("{}", value.trim());
    Ok(())
}

/// `set-rpo RES SECONDS`: the resource's recovery point objective, cluster-wide
/// (docu/monitoring.md); 0 removes it.
pub fn set_rpo(ctx: &Context, res: &str, seconds: u64) -> Result<()> {
    let dir = resource_dir(res);
    let value = if seconds == 0 { DELETED.to_owned() } else { seconds.to_string() };
    ctx.tree.set(&format!("{dir}/{RPO}"), &value, ctx.stamp(&[&dir])?)?;
    ctx.trigger();
    Ok(())
}

/// A secondary activity that can be paused and resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Fetch,
    Sync,
    Replay,
}

impl Activity {
    /// Its switch in `todo-<host>/`.
    pub fn switch(self) -> &'static str {
        match self {
            Activity::Fetch => "connect",
            Activity::Sync => "sync",
            Activity::Replay => "allow-replay",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activity::Fetch => "fetch",
            Activity::Sync => "sync",
            Activity::Replay => "replay",
        }
    }
}

/// `pause-<activity>`/`resume-<activity>` (`-global`: on every member): the switch in
/// `todo-<host>/`, which the module of `<host>` follows.
pub fn set_activity(ctx: &Context, res: &str, what: Activity, on: bool, global: bool) -> Result<()> {
    require_member(ctx, res)?;
    let hosts: Vec<String> = if global { members(ctx, res)? } else { vec![ctx.host.clone()] };
    for h in &hosts {
        set_todo_of(ctx, res, h, what.switch(), on)?;
    }
    ctx.trigger();
    println!("{} {} of {res} on {}", if on { "resumed" } else { "paused" }, what.name(), hosts.join(", "));
    Ok(())
}

/// The members of `res` (hosts with a `data-<host>` link).
pub(super) fn members(ctx: &Context, res: &str) -> Result<Vec<String>> {
    let dir = resource_dir(res);
    let mut out = Vec::new();
    for name in ctx.tree.list(&dir)? {
        if let Some(h) = name.strip_prefix(DATA_PREFIX) {
            if ctx.tree.get(&format!("{dir}/{name}"))?.is_some() {
                out.push(h.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `attach`: open the disk (and, if this host is primary, bring up the device).
pub fn attach(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    set_todo(ctx, res, "attach", true)?;
    ctx.trigger();
    wait_actual(ctx, res, "is-attached", "1", "attach")
}

/// `detach`: release the disk; refused while the device is open.
pub fn detach(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    require_closed(ctx, res, "detach")?;
    set_todo(ctx, res, "attach", false)?;
    ctx.trigger();
    wait_actual(ctx, res, "is-attached", "0", "detach")
}

/// `up`: attach and allow fetch, sync and replay.
pub fn up(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    for switch in ["connect", "sync", "allow-replay"] {
        set_todo(ctx, res, switch, true)?;
    }
    attach(ctx, res)
}

/// The checks of `down`: a member, its device closed.
pub fn check_down(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    require_closed(ctx, res, "down")
}

/// The checks of `detach`: a member, its device closed.
pub fn check_detach(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    require_closed(ctx, res, "detach")
}

/// Requires resource `res` to exist (this host need not be a member).
pub fn require_exists(ctx: &Context, res: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    Ok(())
}

/// The checks of `secondary`: a member, its device closed.
pub fn check_secondary(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    require_closed(ctx, res, "secondary")
}

/// The resources a command's argument names: `all` (every resource this host is a
/// member of) or a comma-separated list (each must exist: the command's checks say so).
pub fn resource_list(ctx: &Context, spec: &str) -> Result<Vec<String>> {
    if spec == "all" {
        let mut mine = Vec::new();
        for res in resources(ctx)? {
            if ctx.tree.get(&format!("{}/{DATA_PREFIX}{}", resource_dir(&res), ctx.host))?.is_some() {
                mine.push(res);
            }
        }
        return Ok(mine);
    }
    let mut list: Vec<String> = Vec::new();
    for res in spec.split(',') {
        check_resource_name(res).map_err(|e| Error::Name { what: "resource", name: res.into(), reason: e.to_string() })?;
        if !list.iter().any(|r| r == res) {
            list.push(res.to_owned());
        }
    }
    Ok(list)
}

/// `down`: pause replay, sync and fetch, then detach.
pub fn down(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    require_closed(ctx, res, "down")?;
    for switch in ["allow-replay", "sync", "connect"] {
        set_todo(ctx, res, switch, false)?;
    }
    detach(ctx, res)
}

/// `secondary`: give up the primary role (no host is primary afterwards).
pub fn secondary(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    require_closed(ctx, res, "secondary")?;
    let dir = resource_dir(res);
    ctx.tree.set(&format!("{dir}/{PRIMARY}"), mars_core::tree::NONE, ctx.stamp(&[&dir])?)?;
    ctx.trigger();
    wait_actual(ctx, res, "is-primary", "0", "secondary")
}

/// `delete-resource`: remove a resource that is down on this (its only) host. Every
/// link becomes `.deleted` (stamped, so the deletion wins everywhere) and the logfiles
/// are removed; the disk keeps its content.
pub fn delete_resource(ctx: &Context, res: &str, force: bool) -> Result<()> {
    require_member(ctx, res)?;
    if actual(ctx, res, "is-attached")?.as_deref() == Some("1") {
        return Err(Error::StillAttached(res.into()));
    }
    let dir = resource_dir(res);
    let members: Vec<String> = members(ctx, res)?.into_iter().filter(|h| h != &ctx.host).collect();
    if !members.is_empty() && !force {
        return Err(Error::OtherMembers { res: res.into(), hosts: members.join(", ") });
    }
    let stamp = ctx.stamp(&[&dir])?;
    delete_tree(ctx, &dir, stamp)?;
    ctx.trigger();
    println!("deleted resource {res}; the disk keeps its content");
    Ok(())
}

fn delete_tree(ctx: &Context, rel: &str, stamp: u64) -> Result<()> {
    for name in ctx.tree.list(rel)? {
        let child = format!("{rel}/{name}");
        let path = ctx.tree.path(&child);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::Tree { path: path.clone(), what: "read", source: e })?;
        if meta.is_dir() {
            delete_tree(ctx, &child, stamp)?;
        } else if meta.file_type().is_symlink() {
            ctx.tree.set(&child, mars_core::tree::DELETED, stamp)?;
        } else {
            crate::context::changing()?;
            std::fs::remove_file(&path).map_err(|e| Error::Tree { path, what: "remove", source: e })?;
        }
    }
    Ok(())
}

/// `leave-resource`: this host stops being a member of `res` (it must be down and not
/// the primary). Its per-host links are marked deleted (so the others stop counting it,
/// e.g. for log-delete), and its copies of the logfiles are removed; the disk keeps
/// its content.
pub fn leave_resource(ctx: &Context, res: &str, host: Option<&str>, force: bool) -> Result<()> {
    require_member(ctx, res)?;
    let dir = resource_dir(res);
    let me = ctx.host.as_str();
    let host = host.unwrap_or(me);
    if host == me {
        if actual(ctx, res, "is-attached")?.as_deref() == Some("1") {
            return Err(Error::StillAttached(res.into()));
        }
    } else {
        if ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{host}"))?.is_none() {
            return Err(Error::NotMember { res: res.into(), host: host.into() });
        }
        if !force && crate::liveness::is_reachable(ctx, host)? {
            return Err(Error::Refused { res: res.into(), why: format!("{host} is reachable: run `marsadm leave-resource {res}` there (or add --force)") });
        }
    }
    if ctx.tree.get(&format!("{dir}/{PRIMARY}"))?.is_some_and(|l| l.value == host) {
        return Err(Error::IsPrimary(res.into()));
    }
    let stamp = ctx.stamp(&[&dir])?;
    forget_member(ctx, res, host, stamp)?;
    if host == me {
        remove_logfiles(ctx, res, |_| true)?;
    }
    ctx.trigger();
    if host == me {
        println!("left resource {res}; the disk keeps its content");
    } else {
        println!("removed {host} from resource {res}; its disk keeps its content");
    }
    Ok(())
}

/// Marks every link of `host` in `res` deleted: membership, positions, switches and
/// version history (no split-brain analysis counts a non-member), except the version
/// links of logfiles it wrote, which the others' switchover still checks
/// (`replication::kept_at_leave`).
fn forget_member(ctx: &Context, res: &str, host: &str, stamp: u64) -> Result<()> {
    let dir = resource_dir(res);
    for name in [DATA_PREFIX, DEVICE_PREFIX, REPLAY_PREFIX, SYNCSTATUS_PREFIX, SYNCPOS_PREFIX, ACTSIZE_PREFIX] {
        let rel = format!("{dir}/{name}{host}");
        if ctx.tree.get(&rel)?.is_some() {
            ctx.tree.set(&rel, mars_core::tree::DELETED, stamp)?;
        }
    }
    forget_versions(ctx, res, host, stamp)?;
    delete_tree(ctx, &format!("{dir}/{TODO_PREFIX}{host}"), stamp)
}

/// Whether `cron` may remove the old `.deleted` mark at `rel` (relative to `/mars`).
/// Not the mark of a membership (`resource-<r>/data-<host>`), nor of a link owned by a
/// host that is no member of the resource (any more): a host removed by
/// `leave-resource --host` while it was away still has its links, older than the
/// marks; once a mark is gone, its link would win again when it comes back, and it
/// would be a member again. A host that joins again writes newer links.
pub(super) fn may_purge_mark(ctx: &Context, rel: &str) -> Result<bool> {
    let Some((dir, entry)) = rel.split_once('/') else { return Ok(true) };
    if !dir.starts_with(RESOURCE_PREFIX) || entry.contains('/') {
        return Ok(true);
    }
    if entry.starts_with(DATA_PREFIX) {
        return Ok(false);
    }
    let owner = mars_core::ownership::classify(rel, &ctx.host).ok().and_then(|r| r.owner().map(str::to_owned));
    match owner {
        Some(h) => Ok(ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{h}"))?.is_some()),
        None => Ok(true),
    }
}

/// Discards this host's history of `res` before it becomes a fresh copy of `primary`
/// from logfile `from` on (join, invalidate): its version links that differ from the
/// primary's are marked deleted, and its logfiles go except copies of `primary`'s history from `from` on (still
/// valid, they need not be fetched again). Returns the bytes of logfiles removed.
pub(super) fn discard_history(ctx: &Context, res: &str, primary: &str, from: u32, stamp: u64) -> Result<u64> {
    let dir = resource_dir(res);
    let me = ctx.host.as_str();
    forget_versions_off(ctx, res, me, primary, stamp)?;
    let on_history = |name: LogName<'_>| -> bool {
        let v = ctx.tree.get(&format!("{dir}/{VERSION_PREFIX}{:09}-{primary}", name.nr)).ok().flatten();
        v.is_some_and(|v| mars_core::tree::VersionLink::parse(&v.value).is_ok_and(|v| v.log == name))
    };
    remove_logfiles(ctx, res, |log| log.nr < from || log.host == me || !on_history(log))
}

/// Marks this host's version links of `res` deleted where they are not on `primary`'s
/// history, and where the primary's of a number names a logfile this host wrote, this
/// host's link becomes the primary's (`splitbrain::version_fate`: links the primary has
/// no more stay where a later one proves them shared; without the writer's link, a host
/// still before that logfile waited forever, and one that had diverged before it never
/// stopped with a split brain: found by the simulation).
fn forget_versions_off(ctx: &Context, res: &str, me: &str, primary: &str, stamp: u64) -> Result<()> {
    let dir = resource_dir(res);
    let links = |host: &str| -> Result<Vec<(u32, String)>> {
        let mut out = Vec::new();
        for name in ctx.tree.list(&dir)? {
            let Some(rest) = name.strip_prefix(VERSION_PREFIX) else { continue };
            let Some((nr, owner)) = rest.split_at_checked(9).and_then(|(nr, h)| Some((nr.parse::<u32>().ok()?, h.strip_prefix('-')?))) else { continue };
            if owner == host {
                if let Some(link) = ctx.tree.get(&format!("{dir}/{name}"))? {
                    out.push((nr, link.value));
                }
            }
        }
        Ok(out)
    };
    let (mine, theirs) = (links(me)?, links(primary)?);
    fn view(l: &[(u32, String)]) -> Vec<(u32, &str)> {
        l.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }
    let (mine_v, theirs_v) = (view(&mine), view(&theirs));
    for &(nr, _) in &mine_v {
        let rel = format!("{dir}/{VERSION_PREFIX}{nr:09}-{me}");
        match version_fate(me, nr, &mine_v, &theirs_v) {
            VersionFate::Keep => {}
            VersionFate::Replace(value) => {
                ctx.tree.set(&rel, value, stamp)?;
            }
            VersionFate::Delete => {
                ctx.tree.set(&rel, mars_core::tree::DELETED, stamp)?;
            }
        }
    }
    Ok(())
}

/// Marks `host`'s version links of `res` deleted, but those of its own logfiles.
fn forget_versions(ctx: &Context, res: &str, host: &str, stamp: u64) -> Result<()> {
    let dir = resource_dir(res);
    for name in ctx.tree.list(&dir)? {
        let Some(rest) = name.strip_prefix(VERSION_PREFIX) else { continue };
        let owner = rest.split_at_checked(9).and_then(|(_, h)| h.strip_prefix('-'));
        let rel = format!("{dir}/{name}");
        if owner != Some(host) {
            continue;
        }
        if ctx.tree.get(&rel)?.is_some_and(|l| !kept_at_leave(host, &l.value)) {
            ctx.tree.set(&rel, mars_core::tree::DELETED, stamp)?;
        }
    }
    Ok(())
}

/// Removes this host's logfiles of `res` (its own and its copies of others') for which
/// `remove` says so; returns the bytes removed.
pub(super) fn remove_logfiles(ctx: &Context, res: &str, mut remove: impl FnMut(LogName<'_>) -> bool) -> Result<u64> {
    let dir = resource_dir(res);
    let mut bytes = 0;
    for name in ctx.tree.list(&dir)? {
        let path = ctx.tree.path(&format!("{dir}/{name}"));
        let Ok(log) = LogName::parse(&name) else { continue };
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_file() && remove(log) {
            bytes += meta.len();
            crate::context::changing()?;
            std::fs::remove_file(&path).map_err(|e| Error::Tree { path, what: "remove", source: e })?;
        }
    }
    Ok(bytes)
}

/// What `wait-resource` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Condition {
    /// The resource is known here (e.g. after another host created it).
    Exists,
    /// This host is attached to it.
    Attached,
    /// This host is its actual primary (the device is up: `device_up`).
    Primary,
    /// This host's disk is a consistent copy.
    Consistent,
    /// This host's disk is up to date and caught up: `view` says UpToDate, and nothing is
    /// left to sync, fetch or replay as far as the links here tell.
    Uptodate,
}

/// The original's condition words of `wait-resource RES [is-|todo-]NAME[-on|-off]`:
/// `is-` (or nothing) waits for the module's report, `todo-` for the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// `actual-<me>/<link>` or `todo-<me>/<link>` (`None` with `todo-primary`: the
    /// designation).
    actual: bool,
    link: Option<&'static str>,
    on: bool,
}

/// Parses `[is-|todo-]{attach,primary,device,fetch,connect,sync,replay}[-on|-off]`.
pub fn parse_switch(word: &str) -> Option<Switch> {
    let (actual, rest) = match word.strip_prefix("todo-") {
        Some(rest) => (false, rest),
        None => (true, word.strip_prefix("is-").unwrap_or(word)),
    };
    let (name, on) = match rest.rsplit_once('-') {
        Some((name, "on")) => (name, true),
        Some((name, "off")) => (name, false),
        _ => (rest, true),
    };
    let link = match (actual, name) {
        (true, "attach") | (true, "attached") => Some("is-attached"),
        (true, "primary") | (true, "device") => Some("is-primary"),
        (true, "fetch") | (true, "connect") => Some("is-fetching"),
        (true, "sync") => Some("is-syncing"),
        (true, "replay") => Some("is-replaying"),
        (false, "attach") => Some("attach"),
        (false, "primary") => None,
        (false, "fetch") | (false, "connect") => Some("connect"),
        (false, "sync") => Some("sync"),
        (false, "replay") | (false, "allow-replay") => Some("allow-replay"),
        _ => return None,
    };
    Some(Switch { actual, link, on })
}

/// `wait-resource RES WORD`: waits until the switch or report `word` names holds.
pub fn wait_switch(ctx: &Context, res: &str, word: &str, timeout_s: u64) -> Result<()> {
    let Some(sw) = parse_switch(word) else {
        return Err(Error::Refused { res: res.into(), why: format!("unknown condition {word:?}: use [is-|todo-]{{attach,primary,device,fetch,sync,replay}}[-on|-off], or --until") });
    };
    require_member(ctx, res)?;
    let dir = resource_dir(res);
    let me = ctx.host.as_str();
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let mut progress = Progress::new();
    loop {
        let value = match (sw.actual, sw.link) {
            (true, Some(link)) => actual(ctx, res, link)?.as_deref() == Some("1"),
            (false, Some(link)) => ctx.tree.get(&format!("{dir}/{TODO_PREFIX}{me}/{link}"))?.is_some_and(|l| l.value == "1"),
            (_, None) => ctx.tree.get(&format!("{dir}/{PRIMARY}"))?.is_some_and(|l| l.value == me),
        };
        if value == sw.on {
            return Ok(());
        }
        progress.show(&format!("{res}: {word}").into());
        if Instant::now() > deadline {
            return Err(Error::WaitTimeout { res: res.into(), what: word.into(), secs: timeout_s });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `wait-umount RES`: waits until the device is not open here (or not up at all).
pub fn wait_umount(ctx: &Context, res: &str, timeout_s: u64) -> Result<()> {
    require_exists(ctx, res)?;
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let mut progress = Progress::new();
    loop {
        let up = actual(ctx, res, "is-primary")?.as_deref() == Some("1");
        let openers: u64 = actual(ctx, res, "open-count")?.and_then(|v| v.parse().ok()).unwrap_or(0);
        if !up || openers == 0 {
            return Ok(());
        }
        progress.show(&format!("{res}: the device has {openers} opener(s)").into());
        if Instant::now() > deadline {
            return Err(Error::WaitTimeout { res: res.into(), what: "closed".into(), secs: timeout_s });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `wait-resource RES [--until C]`: waits until condition `until` holds here.
pub fn wait_resource(ctx: &Context, res: &str, until: Condition, timeout_s: u64) -> Result<()> {
    ctx.require_mountpoint()?;
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let word = format!("{until:?}").to_lowercase();
    let mut progress = Progress::new();
    loop {
        let known = resources(ctx)?.iter().any(|r| r == res);
        let holds = known
            && match until {
                Condition::Exists => true,
                Condition::Attached => actual(ctx, res, "is-attached")?.as_deref() == Some("1"),
                Condition::Primary => device_up(ctx, res)?,
                Condition::Consistent | Condition::Uptodate => {
                    let s = super::view::resource_state(ctx, res)?;
                    // Uptodate: caught up, not only within `view`'s UpToDate tolerance: a
                    // script that waits for it goes on with a complete copy.
                    let holds = if until == Condition::Consistent {
                        s.is_consistent
                    } else {
                        s.diskstate == "UpToDate" && s.fetch_rest == 0 && s.replay_rest == 0
                    };
                    if !holds {
                        // What is still to go, with rate and time left.
                        progress.show(&if s.sync_rest > 0 {
                            Wait { why: format!("{res}: full sync"), rest: Some(s.sync_rest) }
                        } else if s.fetch_rest + s.replay_rest > 0 {
                            Wait { why: format!("{res}: log to fetch and replay"), rest: Some(s.fetch_rest + s.replay_rest) }
                        } else {
                            format!("{res}: {word} ({} {})", s.diskstate, s.replstate).into()
                        });
                    }
                    holds
                }
            };
        if holds {
            return Ok(());
        }
        if !known || !matches!(until, Condition::Consistent | Condition::Uptodate) {
            progress.show(&format!("{res}: {word}").into());
        }
        if Instant::now() > deadline {
            return Err(Error::WaitTimeout { res: res.into(), what: word, secs: timeout_s });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod switch_tests {
    use super::*;

    #[test]
    fn condition_words() {
        assert_eq!(parse_switch("is-primary-on"), Some(Switch { actual: true, link: Some("is-primary"), on: true }));
        assert_eq!(parse_switch("device-off"), Some(Switch { actual: true, link: Some("is-primary"), on: false }));
        assert_eq!(parse_switch("attach"), Some(Switch { actual: true, link: Some("is-attached"), on: true }));
        assert_eq!(parse_switch("todo-replay-off"), Some(Switch { actual: false, link: Some("allow-replay"), on: false }));
        assert_eq!(parse_switch("todo-primary"), Some(Switch { actual: false, link: None, on: true }));
        assert_eq!(parse_switch("is-sync-on"), Some(Switch { actual: true, link: Some("is-syncing"), on: true }));
        assert_eq!(parse_switch("frobnicate"), None);
        assert_eq!(parse_switch("is-attach-maybe"), None);
    }
}

#[cfg(test)]
mod device_tests {
    use super::*;
    use crate::scratch::ScratchTree;

    #[test]
    fn is_primary_without_a_device_is_not_up() {
        // Back after a crash: `is-primary` = 1 from before it, no device yet (19's race:
        // `wait-resource --until primary` returned before recovery).
        let mut t = ScratchTree::node1_primary("device-up", "node1");
        t.set("resource-r0/device-node1", "mars-test-no-such-device");
        assert_eq!(device_path(&t.ctx, "r0").unwrap(), Path::new("/dev/mars/mars-test-no-such-device"));
        assert!(!device_up(&t.ctx, "r0").unwrap());
        assert_eq!(device_path(&t.seen_from("node2"), "r0").unwrap(), Path::new("/dev/mars/r0"));
    }
}

#[cfg(test)]
mod dry_run_tests {
    use super::*;
    use crate::scratch::ScratchTree;

    /// Every entry of the tree with its target and time.
    fn snapshot(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            out.push(format!("{} {:?} {:?}", e.path().display(), std::fs::read_link(e.path()).ok(), meta.modified().ok()));
            if meta.is_dir() {
                out.extend(snapshot(&e.path()));
            }
        }
        out.sort();
        out
    }

    /// Under --dry-run a command that reaches a change stops there, also without its
    /// own `Context::commit`: the tree's writer refuses.
    #[test]
    fn a_dry_run_changes_nothing() {
        let mut t = ScratchTree::node1_primary("dry-run", "node1");
        t.set(mars_core::tree::UUID, "node1_1");
        t.set("ips/ip-node1", "10.0.0.1");
        let before = snapshot(t.ctx.tree.root());
        let change = |ctx: &Context| {
            [
                set_todo_of(ctx, "r0", "node1", "connect", false),
                super::super::cluster::set_host_ip(ctx, "node1", "10.0.0.9".parse().unwrap()),
                super::super::secret::install(ctx, &[7; 32]),
            ]
        };
        crate::context::set_dry_run(true);
        let results = change(&t.ctx);
        crate::context::set_dry_run(false);
        for r in results {
            assert!(matches!(r, Err(Error::DryRun)), "{r:?}");
        }
        assert_eq!(snapshot(t.ctx.tree.root()), before);
        // And without --dry-run they do change it.
        for r in change(&t.ctx) {
            r.unwrap();
        }
        assert_ne!(snapshot(t.ctx.tree.root()), before);
    }
}
