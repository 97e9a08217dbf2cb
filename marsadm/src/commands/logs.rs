//! Logfile housekeeping (design reference §3.5, §5.8): `log-rotate`, `log-delete`,
//! `log-delete-all`, `cron`.
//!
//! Deleting is local: every member runs `cron` (or `log-delete`) itself and removes its
//! own copies of the logfiles that every member has replayed — a decision each host
//! takes alike from the replay links, which all members see. Version links older than
//! the oldest logfile kept are marked `.deleted` (which propagates), and `.deleted`
//! marks older than [`PURGE_AFTER`] are removed.

use std::time::Duration;

use mars_core::replication::{delete_below, version_deletable};
use mars_core::tree::{LogName, ReplayLink, TempLinkName, DATA_PREFIX, DELETED, REPLAY_PREFIX, VERSION_PREFIX};

use super::resource::{resource_dir, resources};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::tree::real_time_ns;

/// `.deleted` marks are removed once they are this old: every member has seen them.
pub const PURGE_AFTER: Duration = Duration::from_secs(3600);

/// The logfiles of `res` here, oldest first.
fn logfiles(ctx: &Context, res: &str) -> Result<Vec<(u32, String, u64)>> {
    let dir = resource_dir(res);
    let mut out = Vec::new();
    for name in ctx.tree.list(&dir)? {
        if let Ok(log) = LogName::parse(&name) {
            let size = std::fs::symlink_metadata(ctx.tree.path(&format!("{dir}/{name}"))).map(|m| m.len()).unwrap_or(0);
            out.push((log.nr, name.clone(), size));
        }
    }
    out.sort();
    Ok(out)
}

/// `log-rotate RES`: on the actual primary, start the next logfile (the module switches
/// to it at its next round; the writeback follows up to one logfile behind). Nothing to
/// do if the newest logfile is still empty.
pub fn log_rotate(ctx: &Context, res: &str) -> Result<()> {
    check_rotate(ctx, res)?;
    let dir = resource_dir(res);
    let own: Vec<_> = logfiles(ctx, res)?.into_iter().filter(|(_, n, _)| LogName::parse(n).is_ok_and(|l| l.host == ctx.host)).collect();
    let Some((nr, name, size)) = own.last().cloned() else { return Err(Error::NotPrimary(res.into())) };
    if size == 0 {
        println!("{name} is empty: nothing to rotate");
        return Ok(());
    }
    let Some(next) = (LogName { nr, host: &ctx.host }).next() else {
        return Err(Error::Refused { res: res.into(), why: format!("{name} has the highest logfile number; cannot rotate") });
    };
    let next = next.to_string();
    let path = ctx.tree.path(&format!("{dir}/{next}"));
    crate::context::changing()?;
    std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| Error::Tree {
        what: "create",
        path: path.clone(),
        source: e,
    })?;
    ctx.trigger();
    println!("rotated {res}: new writes go to {next} ({name} has {size} bytes now)");
    Ok(())
}

/// The checks of `log-rotate`: the resource exists and this host is its actual primary.
pub fn check_rotate(ctx: &Context, res: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    if !is_actual_primary(ctx, res)? {
        return Err(Error::NotPrimary(res.into()));
    }
    Ok(())
}

/// The module reports this host as the actual primary of `res`.
pub fn is_actual_primary(ctx: &Context, res: &str) -> Result<bool> {
    Ok(ctx.tree.get(&format!("{}/actual-{}/is-primary", resource_dir(res), ctx.host))?.map(|l| l.value).as_deref() == Some("1"))
}

/// A logfile's number and name.
type Logfile = (u32, String);

/// The logfiles of `res` here that every member has replayed, and the number they are
/// below (`replication::delete_below`; never the newest logfile here). `None` while a
/// member has no replay link.
fn deletable(ctx: &Context, res: &str) -> Result<Option<(u32, Vec<Logfile>)>> {
    let dir = resource_dir(res);
    let mut replays = Vec::new();
    for name in ctx.tree.list(&dir)? {
        let Some(host) = name.strip_prefix(DATA_PREFIX) else { continue };
        // A member removed (its `data-` link `.deleted`, kept forever) replays nothing.
        if ctx.tree.get(&format!("{dir}/{name}"))?.is_none() {
            continue;
        }
        let replay = ctx.tree.get(&format!("{dir}/{REPLAY_PREFIX}{host}"))?;
        replays.push(replay.and_then(|r| ReplayLink::parse(&r.value).ok().map(|l| l.log.nr)));
    }
    let Some(lowest) = delete_below(replays) else { return Ok(None) };
    let files = logfiles(ctx, res)?;
    let newest = files.last().map(|(nr, _, _)| *nr);
    Ok(Some((lowest, files.into_iter().filter(|(nr, _, _)| *nr < lowest && Some(*nr) != newest).map(|(nr, n, _)| (nr, n)).collect())))
}

/// `log-delete RES` (`all`: every deletable logfile, else the oldest one): removes this
/// host's copies of logfiles every member has replayed; returns the bytes freed.
pub fn log_delete(ctx: &Context, res: &str, all: bool, quiet: bool) -> Result<u64> {
    ctx.require_mountpoint()?;
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    let dir = resource_dir(res);
    let (below, victims) = deletable(ctx, res)?.unwrap_or_default();
    let mut freed = 0;
    let mut lowest_kept = None;
    for (i, (nr, name)) in victims.iter().enumerate() {
        if !all && i > 0 {
            lowest_kept = Some(*nr);
            break;
        }
        let path = ctx.tree.path(&format!("{dir}/{name}"));
        freed += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        crate::context::changing()?;
        std::fs::remove_file(&path).map_err(|e| Error::Tree { what: "delete", path: path.clone(), source: e })?;
        if !quiet {
            println!("deleted {}", path.display());
        }
    }
    if victims.is_empty() && !quiet {
        println!("{res}: no logfile is replayed by every member yet; nothing to delete");
    }
    // Version links below the one before the oldest logfile kept here and before
    // every member's replay (`replication::version_deletable`).
    if below > 0 {
        let oldest_kept = lowest_kept.or_else(|| logfiles(ctx, res).ok()?.first().map(|(nr, _, _)| *nr));
        let stamp = ctx.stamp(&[&dir])?;
        for name in ctx.tree.list(&dir)? {
            let Some(rest) = name.strip_prefix(VERSION_PREFIX) else { continue };
            let Some(nr) = rest.get(..9).and_then(|d| d.parse::<u32>().ok()) else { continue };
            if version_deletable(nr, below, oldest_kept) && ctx.tree.get(&format!("{dir}/{name}"))?.is_some() {
                ctx.tree.set(&format!("{dir}/{name}"), DELETED, stamp)?;
            }
        }
    }
    Ok(freed)
}

/// Removes `.deleted` marks older than [`PURGE_AFTER`] under `rel` (one level deep),
/// except those of removed members (`resource::may_purge_mark`).
fn purge_deleted(ctx: &Context, rel: &str) -> Result<usize> {
    let cutoff = real_time_ns().saturating_sub(PURGE_AFTER.as_nanos() as u64);
    let mut purged = 0;
    for name in ctx.tree.list(rel)? {
        let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        let path = ctx.tree.path(&child);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            if rel.is_empty() {
                purged += purge_deleted(ctx, &child)?;
            }
            continue;
        }
        if let Ok(Some(link)) = ctx.tree.get_raw(&child) {
            if link.value == DELETED && link.stamp_ns < cutoff && super::resource::may_purge_mark(ctx, &child)? {
                crate::context::changing()?;
                std::fs::remove_file(&path).map_err(|e| Error::Tree { what: "remove", path: path.clone(), source: e })?;
                purged += 1;
            }
        }
    }
    Ok(purged)
}

/// Removes temporary links (and files) older than [`PURGE_AFTER`] under `rel`, two
/// levels deep: what a writer killed between creating one and renaming it left
/// (`mars_core::tree::TempLinkName`; a writer in progress has just stamped its own).
fn purge_temp_links(ctx: &Context, rel: &str, depth: u32) -> Result<usize> {
    let cutoff = std::time::SystemTime::now().checked_sub(PURGE_AFTER).unwrap_or(std::time::UNIX_EPOCH);
    let dir = ctx.tree.path(rel);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
    let mut purged = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        if meta.is_dir() && depth > 0 && !name.starts_with('.') {
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            purged += purge_temp_links(ctx, &child, depth - 1)?;
        } else if !meta.is_dir() && TempLinkName::is_one(&name) && meta.modified().is_ok_and(|m| m < cutoff) {
            let path = entry.path();
            crate::context::changing()?;
            std::fs::remove_file(&path).map_err(|e| Error::Tree { what: "remove", path: path.clone(), source: e })?;
            purged += 1;
        }
    }
    Ok(purged)
}

/// `cron`: for every resource this host is a member of, rotate the logfile (on the
/// primary) and delete what every member has replayed; then purge old `.deleted`
/// marks and leftover temporary links. Meant to run every few minutes from cron or a
/// systemd timer on every member.
pub fn cron(ctx: &Context) -> Result<()> {
    ctx.require_mountpoint()?;
    for res in resources(ctx)? {
        let dir = resource_dir(&res);
        if ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{}", ctx.host))?.is_none() {
            continue;
        }
        if is_actual_primary(ctx, &res)? {
            log_rotate(ctx, &res)?;
        }
        let freed = log_delete(ctx, &res, true, true)?;
        println!("{res}: deleted {freed} bytes of logfiles every member has replayed");
    }
    link_purge_all(ctx)
}

/// `link-purge-all` (and the last step of `cron`): removes `.deleted` marks every member
/// has seen and temporary links left by interrupted writers, both older than
/// [`PURGE_AFTER`].
pub fn link_purge_all(ctx: &Context) -> Result<()> {
    ctx.require_mountpoint()?;
    let purged = purge_deleted(ctx, "")?;
    if purged > 0 {
        println!("purged {purged} .deleted marks older than {} s", PURGE_AFTER.as_secs());
    }
    let temps = purge_temp_links(ctx, "", 2)?;
    if temps > 0 {
        println!("removed {temps} temporary links older than {} s (left by interrupted writers)", PURGE_AFTER.as_secs());
    }
    Ok(())
}

/// `log-purge-all RES [--force]` (design reference §5.6): removes this host's logfiles
/// of `res` that no member needs (see `marsadm log-purge-all --help`).
pub fn log_purge_all(ctx: &Context, res: &str, force: bool) -> Result<()> {
    super::resource::require_member(ctx, res)?;
    let dir = resource_dir(res);
    let me = ctx.host.clone();
    let primary = ctx.tree.get(&format!("{dir}/{}", mars_core::tree::PRIMARY))?.map(|l| l.value).filter(|p| p != mars_core::tree::NONE);
    // Every member's replay link.
    let mut replays: Vec<(String, String)> = Vec::new();
    for name in ctx.tree.list(&dir)? {
        let Some(host) = name.strip_prefix(DATA_PREFIX) else { continue };
        if ctx.tree.get(&format!("{dir}/{name}"))?.is_none() {
            continue;
        }
        if let Some(l) = ctx.tree.get(&format!("{dir}/{REPLAY_PREFIX}{host}"))? {
            replays.push((host.to_owned(), l.value));
        }
    }
    let links: Vec<(&str, ReplayLink<'_>)> = replays.iter().filter_map(|(h, v)| Some((h.as_str(), ReplayLink::parse(v).ok()?))).collect();
    let lowest = links.iter().map(|(_, l)| l.log.nr).min().unwrap_or(0);
    let mine = links.iter().find(|(h, _)| *h == me).map(|(_, l)| l.log.nr);
    let on_primary_history = |log: LogName<'_>| -> bool {
        let Some(p) = primary.as_deref() else { return false };
        let v = ctx.tree.get(&format!("{dir}/{VERSION_PREFIX}{:09}-{p}", log.nr)).ok().flatten();
        v.is_some_and(|v| mars_core::tree::VersionLink::parse(&v.value).is_ok_and(|v| v.log == log))
    };
    let needed = |log: LogName<'_>| -> bool {
        links.iter().any(|(_, l)| l.log == log)
            || (log.nr >= lowest && on_primary_history(log))
            // Its own current logfile, and the next one a log-rotate may have created.
            || (log.host == me && mine.is_some_and(|m| log.nr == m || Some(log.nr) == m.checked_add(1)))
    };
    let mut removed = Vec::new();
    let bytes = super::resource::remove_logfiles(ctx, res, |log| {
        let go = !needed(log) && (force || log.host == me);
        if go {
            removed.push(log.to_string());
        }
        go
    })?;
    for name in &removed {
        println!("removed {name}");
    }
    println!("{res}: {} logfile(s) removed ({bytes} bytes)", removed.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;
    use mars_core::merge::LinkState;
    use mars_core::ownership::{classify, decide, Verdict};

    #[test]
    fn deletion_waits_for_every_member_but_a_removed_one() {
        let mut t = ScratchTree::with_pair("deletable", "node1", &[]);
        t.set("resource-r0/replay-node1", "log-000000003-node1,0,0");
        t.set("resource-r0/replay-node2", "log-000000002-node1,0,0");
        for nr in 1..=3 {
            std::fs::write(t.ctx.tree.path(&format!("resource-r0/log-{nr:09}-node1")), b"").unwrap();
        }
        let first = Some((2, vec![(1, "log-000000001-node1".to_owned())]));
        assert_eq!(deletable(&t.ctx, "r0").unwrap(), first);
        // A member removed by leave-resource (its marks stay for good) holds nothing back.
        t.set("resource-r0/data-node3", DELETED);
        t.set("resource-r0/replay-node3", DELETED);
        assert_eq!(deletable(&t.ctx, "r0").unwrap(), first);
        // A member still joining (no replay link yet) holds everything back.
        t.set("resource-r0/data-node4", "/dev/vdb");
        assert_eq!(deletable(&t.ctx, "r0").unwrap(), None);
    }

    #[test]
    fn cron_removes_old_temporary_links_only() {
        let t = ScratchTree::node1_primary("temps", "node1");
        let tree = &t.ctx.tree;
        let then = real_time_ns() - 2 * PURGE_AFTER.as_nanos() as u64;
        let now = real_time_ns();
        std::fs::create_dir_all(tree.path("resource-r0/actual-node1")).unwrap();
        for (rel, stamp) in [("resource-r0/actual-node1/.tmp-77-is-primary", then), ("resource-r0/.tmp-78-primary", now), (".tmp-79-uuid", then)] {
            let path = tree.path(rel);
            std::os::unix::fs::symlink("1", &path).unwrap();
            let ts = nix::sys::time::TimeSpec::from_duration(std::time::Duration::from_nanos(stamp));
            nix::sys::stat::utimensat(None, &path, &ts, &ts, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();
        }
        assert_eq!(purge_temp_links(&t.ctx, "", 2).unwrap(), 2);
        assert!(tree.path("resource-r0/.tmp-78-primary").symlink_metadata().is_ok(), "a write in progress stays");
        assert!(tree.path("resource-r0/actual-node1/.tmp-77-is-primary").symlink_metadata().is_err());
        assert!(tree.get("resource-r0/primary").unwrap().is_some(), "links stay");
    }

    #[test]
    fn a_removed_host_stays_removed_after_the_purge() {
        let t = ScratchTree::node1_primary("purge", "node1");
        let tree = &t.ctx.tree;
        // node3 removed by `leave-resource --host node3` while away, two hours ago; an
        // old version link of node1 deleted by log-delete at the same time.
        let then = real_time_ns() - 2 * PURGE_AFTER.as_nanos() as u64;
        for rel in ["resource-r0/data-node3", "resource-r0/replay-node3", "resource-r0/version-000000001-node1"] {
            tree.set(rel, DELETED, then).unwrap();
        }
        purge_deleted(&t.ctx, "").unwrap();
        assert!(tree.get_raw("resource-r0/version-000000001-node1").unwrap().is_none(), "a member's old mark goes");
        for rel in ["resource-r0/data-node3", "resource-r0/replay-node3"] {
            let mark = tree.get_raw(rel).unwrap().unwrap_or_else(|| panic!("{rel} purged"));
            assert_eq!(mark.value, DELETED);
            // node3 comes back with its links from before its removal: not merged.
            let local = LinkState { value: &mark.value, stamp_ns: mark.stamp_ns };
            let back = LinkState { value: "/dev/vdb", stamp_ns: then - 1_000_000_000 };
            assert_eq!(decide(classify(rel, "node1").unwrap(), Some(local), back, "node3"), Verdict::Ignore, "{rel}");
        }
    }
}
