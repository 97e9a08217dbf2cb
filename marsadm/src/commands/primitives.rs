//! The `view-<primitive>` commands monitoring scripts of the original marsadm use
//! (`is-`/`todo-` families, progress rates, remaining time and percentages, liveness,
//! disks and devices, membership lists). Every value comes from the view's one
//! computation of a resource's state ([`view::resource_state`]); the few that are
//! configuration rather than state (`get-disk`, membership) read their link directly.
//! The older primitives (`view-is-primary`, `view-sync-rest`, ...) live in view.rs.

use mars_core::tree::{DATA_PREFIX, NONE};

use super::resource::{members, resource_dir, resource_list};
use super::view::{self, ResourceState};
use crate::context::Context;
use crate::error::Result;
use crate::liveness;
use crate::macrolang::format_number;

/// One of the three activities a secondary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Sync,
    Fetch,
    Replay,
}

impl Work {
    /// All three, with the names metrics and commands use for them.
    pub const ALL: [(Work, &'static str); 3] = [(Work::Sync, "sync"), (Work::Fetch, "fetch"), (Work::Replay, "replay")];

    /// This activity's one of three values given in the order sync, fetch, replay
    /// (e.g. the view's `running` or `switches` flags).
    pub fn pick<T>(self, sync: T, fetch: T, replay: T) -> T {
        match self {
            Work::Sync => sync,
            Work::Fetch => fetch,
            Work::Replay => replay,
        }
    }
}

/// A primitive added here (docu/monitoring.md lists them with their meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `is-{attach,sync,fetch,replay,primary,secondary}`: what the module reports.
    IsAttach,
    IsRunning(Work),
    IsSecondary,
    /// `todo-{attach,sync,fetch,replay,primary,secondary}`: the switches.
    TodoAttach,
    Todo(Work),
    TodoPrimary,
    TodoSecondary,
    IsOrphan,
    DiskState,
    ReplState,
    DeviceOpened,
    Rate(Work),
    Rest(Work),
    Remain(Work),
    Percent(Work),
    AliveAge,
    GetDisk,
    GetDevice,
    ResourceMembers,
}

/// Seconds the rest takes at `rate` bytes/s, with fractions as the original: 0 with
/// nothing left, `None` while nothing moves (printed as -1, as the original).
pub fn remain_seconds(rest: u64, rate: u64) -> Option<f64> {
    match (rest, rate) {
        (0, _) => Some(0.0),
        (_, 0) => None,
        (rest, rate) => Some(rest as f64 / rate as f64),
    }
}

/// Percent of `done` out of `total` as the original computes it: `100.5 * done / total`,
/// at most 100 (100 when there is nothing to do).
pub fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        return 100.0;
    }
    (100.5 * done as f64 / total as f64).min(100.0)
}

/// The (bytes left, bytes done, rate) of one activity as the view computed them.
pub fn progress(s: &ResourceState, w: Work) -> (u64, u64, u64) {
    match w {
        Work::Sync => (s.sync_rest, s.size.saturating_sub(s.sync_rest), s.rates.sync),
        // What is fetched of the logfiles from the replay link's on: the replayed part
        // of its logfile and what waits for replay.
        Work::Fetch => (s.fetch_rest, s.replay_pos.saturating_add(s.replay_rest), s.rates.fetch),
        Work::Replay => (s.replay_rest, s.replay_pos, s.rates.replay),
    }
}

fn bit(b: bool) -> String {
    u8::from(b).to_string()
}

/// The value of `p` for `res` on this host, as printed.
pub fn value(ctx: &Context, p: Prim, res: &str) -> Result<String> {
    match p {
        Prim::GetDisk => {
            let link = ctx.tree.get(&format!("{}/{DATA_PREFIX}{}", resource_dir(res), ctx.host))?;
            return Ok(link.map(|l| l.value).unwrap_or_default());
        }
        Prim::ResourceMembers => return Ok(members(ctx, res)?.join("\n")),
        _ => {}
    }
    value_of(ctx, &view::resource_state(ctx, res)?, p)
}

/// The value of `p` in state `s` of a resource here.
pub fn value_of(ctx: &Context, s: &ResourceState, p: Prim) -> Result<String> {
    match p {
        Prim::GetDisk | Prim::ResourceMembers => return value(ctx, p, &s.name),
        Prim::AliveAge => return Ok(alive_age(ctx, s)?.map_or("-1".to_owned(), |a| a.to_string())),
        _ => {}
    }
    let me = ctx.host.as_str();
    Ok(match p {
        Prim::IsAttach => bit(s.is_attached),
        Prim::IsRunning(w) => bit(w.pick(s.running.sync, s.running.fetch, s.running.replay)),
        Prim::IsSecondary => bit(s.is_attached && !s.is_primary),
        Prim::TodoAttach => bit(s.switches.attach),
        Prim::Todo(w) => bit(w.pick(s.switches.sync, s.switches.fetch, s.switches.replay)),
        Prim::TodoPrimary => bit(s.primary.as_deref() == Some(me)),
        Prim::TodoSecondary => bit(s.primary.as_deref() != Some(me)),
        Prim::IsOrphan => bit(s.replstate == "Orphan"),
        Prim::DiskState => s.diskstate.clone(),
        Prim::ReplState => s.replstate.to_owned(),
        Prim::DeviceOpened => s.open_count.to_string(),
        Prim::Rate(w) => progress(s, w).2.to_string(),
        Prim::Remain(w) => {
            let (rest, _, rate) = progress(s, w);
            remain_seconds(rest, rate).map_or("-1".to_owned(), format_number)
        }
        Prim::Percent(w) => {
            let (rest, done, _) = progress(s, w);
            format_number(percent(done, done.saturating_add(rest)))
        }
        Prim::Rest(w) => progress(s, w).0.to_string(),
        Prim::GetDevice => s.device.clone(),
        Prim::GetDisk | Prim::ResourceMembers | Prim::AliveAge => unreachable!("handled above"),
    })
}

/// Whole seconds since the designated primary of `s` was last heard from here (this
/// host included: its own liveness link); `None` when none is designated or it was never
/// heard from.
pub fn alive_age(ctx: &Context, s: &ResourceState) -> Result<Option<u64>> {
    match s.primary.as_deref() {
        Some(p) if p != NONE => Ok(liveness::last_heard(ctx, p)?.map(|d| d.as_secs())),
        _ => Ok(None),
    }
}

/// `view-<primitive> RES`: the value; for `all` or a list, each resource's value after a
/// line `--------- resource <res>`, as the older primitives.
pub fn view_primitive(ctx: &Context, p: Prim, which: &str) -> Result<()> {
    view::each_value(ctx, Some(which), |res| {
        let v = value(ctx, p, res)?;
        Ok(if v.is_empty() && p == Prim::ResourceMembers { v } else { v + "\n" })
    })
}

/// `view-my-resources`: the resources this host is a member of, one a line.
pub fn my_resources(ctx: &Context) -> Result<()> {
    ctx.require_mountpoint()?;
    for res in resource_list(ctx, "all")? {
        println!("{res}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;
    use mars_core::tree::{LogName, VersionLink};

    /// node2 replays node1's logfile 1: 100 bytes replayed, 300 fetched, 500 logged.
    #[test]
    fn progress_of_a_secondary_from_its_tree() {
        let mut t = ScratchTree::node1_primary("primitives", "node2");
        t.set("resource-r0/actual-node2/replay-rate", "50");
        t.set("resource-r0/actual-node2/is-replaying", "1");
        t.set("resource-r0/replay-node1", "log-000000001-node1,500,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,100,0");
        let v = VersionLink { digest: [7; 16], log: LogName { nr: 1, host: "node1" }, pos: 500, prev_head: "" }.to_string();
        t.set("resource-r0/version-000000001-node1", &v);
        std::fs::write(t.ctx.tree.path("resource-r0/log-000000001-node1"), [0u8; 300]).unwrap();
        t.heard("node1", 2);
        let get = |p| value(&t.ctx, p, "r0").unwrap();
        assert_eq!((get(Prim::Percent(Work::Fetch)), get(Prim::Percent(Work::Replay)), get(Prim::Percent(Work::Sync))), ("60.3".into(), "33.5".into(), "100".into()));
        assert_eq!((get(Prim::Remain(Work::Replay)), get(Prim::Remain(Work::Fetch)), get(Prim::Remain(Work::Sync))), ("4".into(), "-1".into(), "0".into()));
        assert_eq!((get(Prim::Rate(Work::Replay)), get(Prim::IsRunning(Work::Replay)), get(Prim::IsRunning(Work::Fetch))), ("50".into(), "1".into(), "0".into()));
        assert_eq!((get(Prim::DiskState), get(Prim::ReplState)), ("Outdated[FR]".into(), "Replaying".into()));
        assert_eq!((get(Prim::TodoPrimary), get(Prim::TodoSecondary), get(Prim::IsSecondary)), ("0".into(), "1".into(), "1".into()));
        assert_eq!((get(Prim::GetDisk), get(Prim::GetDevice), get(Prim::ResourceMembers)), ("/dev/vdb".into(), "/dev/mars/r0".into(), "node1\nnode2".into()));
        assert!(matches!(get(Prim::AliveAge).as_str(), "2" | "3"));
    }

    #[test]
    fn remaining_time_and_percent() {
        assert_eq!(remain_seconds(0, 0), Some(0.0));
        assert_eq!(remain_seconds(10, 0), None);
        assert_eq!(remain_seconds(10, 4), Some(2.5));
        assert_eq!(percent(0, 0), 100.0);
        assert_eq!(percent(1, 2), 50.25, "the original's 100.5 * done / total");
        assert_eq!(percent(u64::MAX, u64::MAX), 100.0);
    }
}
