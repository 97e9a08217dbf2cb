//! Every member of a resource as this host's tree shows it (`view`'s `members`): from
//! any host, the primary included, an operator sees each member's role, disk, contact
//! and how far behind the primary it is, in bytes and in seconds.
//!
//! Everything comes from the members' links, which every host has (they propagate with
//! the metadata exchange, a few seconds late); the age of the oldest write a member has
//! not applied comes from the stamp of that write's log record, where this host has the
//! logfile (the primary always has it, a secondary if it is ahead of that member).

use std::os::unix::fs::FileExt;

use mars_core::handover::Wait;
use mars_core::log_record::{aligned_record_ending_at, decode_header, HEADER_LEN, HEAD_LEN, MAX_PAYLOAD};
use mars_core::replication::{Stop, REPLAY_STOPPED};
use mars_core::tree::{LogName, ReplayLink, VersionLink, ACTUAL_PREFIX, DATA_PREFIX, DISK_ERROR, REPLAY_PREFIX, RPO, SYNCSTATUS_PREFIX, TODO_PREFIX, VERSION_PREFIX};
use serde::Serialize;

use super::handover::View;
use super::view::UPTODATE_WITHIN_NS;
use super::resource::resource_dir;
use crate::context::Context;
use crate::error::Result;
use crate::liveness;
use crate::module;

/// One member of a resource, as the tree here shows it.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Member {
    pub host: String,
    /// Its role, by its links here (`view`'s role words).
    pub role: &'static str,
    /// `Detached`, `DISK_ERROR`, `Inconsistent` (not a consistent copy: full sync or its
    /// replay unfinished), `Outdated` (behind the primary: `lag_bytes` > 0, and not
    /// following within 10 s: its fetch or replay off, or `lag_seconds` more or unknown),
    /// `UpToDate` (a primary: its device is up).
    pub diskstate: &'static str,
    /// Heard from within 20 s (this host always is).
    pub reachable: bool,
    /// Its module fetches the primary's logfiles (`actual-<host>/is-fetching`).
    pub fetching: bool,
    /// Milliseconds since it was last heard from (`null`: never; 0 for this host).
    pub last_heard_ms: Option<u64>,
    /// Bytes of its disk its full sync has still to go.
    pub sync_rest: u64,
    /// Bytes of the primary's log beyond its replay position, as far as the links here
    /// tell (the primary's replay link and version links); `null` on the primary, or
    /// when no host is primary.
    pub lag_bytes: Option<u64>,
    /// Seconds since the oldest write it has not applied yet was made (the stamp of its
    /// log record); 0 when it has applied everything the links here tell of; `null`
    /// when this host does not have that record, on the primary, or when no host is
    /// primary.
    pub lag_seconds: Option<f64>,
    /// Its `lag_seconds` are beyond the resource's recovery point objective
    /// (`marsadm set-rpo`); false without one, or where the lag is not known here.
    pub beyond_rpo: bool,
    /// Why its replay stopped (`view`'s `replay_stopped`), while it runs.
    pub replay_stopped: Option<&'static str>,
    /// Why it does not take over yet while it is `NotYetPrimary` (`view`'s
    /// `takeover_wait`).
    pub takeover_wait: Option<&'static str>,
}

/// The members of `res` (hosts with a `data-<host>` link), sorted by name. `primary`:
/// the designated primary; `now_ns`: the time to measure ages against.
pub(crate) fn members(ctx: &Context, res: &str, primary: Option<&str>, size: u64, now_ns: u64) -> Result<Vec<Member>> {
    let dir = resource_dir(res);
    let link = |rel: &str| -> Result<Option<String>> { Ok(ctx.tree.get(&format!("{dir}/{rel}"))?.map(|l| l.value)) };
    let view = View::new(ctx, res);
    // The host whose log the others follow: the one whose device is up and designated
    // (a handover in between: the designated one once it is up).
    let writer = primary.filter(|p| link(&format!("{ACTUAL_PREFIX}{p}/is-primary")).ok().flatten().as_deref() == Some("1"));
    let mut hosts: Vec<String> = ctx.tree.list(&dir)?.iter().filter_map(|n| n.strip_prefix(DATA_PREFIX)).map(str::to_owned).collect();
    hosts.sort();
    let module_here = module::loaded_version(&ctx.proc_sys)?.is_some();
    let rpo = rpo_seconds(ctx, res)?;
    let mut out = Vec::with_capacity(hosts.len());
    for host in hosts {
        // Without the module here, nothing runs here, whatever it reported last.
        let stale = host == ctx.host && !module_here;
        let actual = |name: &str| link(&format!("{ACTUAL_PREFIX}{host}/{name}"));
        let on = |name: &str| -> Result<bool> { Ok(!stale && actual(name)?.as_deref() == Some("1")) };
        let role = if stale { "None" } else { super::view::host_role(ctx, res, &host, primary)? };
        let (is_attached, is_primary) = (on("is-attached")?, on("is-primary")?);
        let synced = link(&format!("{SYNCSTATUS_PREFIX}{host}"))?.and_then(|v| v.parse::<u64>().ok()).unwrap_or(size);
        let replay = link(&format!("{REPLAY_PREFIX}{host}"))?;
        let replay = replay.as_deref().and_then(|v| ReplayLink::parse(v).ok());
        // (within: the oldest write it lacks is at most UPTODATE_WITHIN_NS old.)
        let (lag_bytes, lag_seconds, within) = match (writer, &replay) {
            (Some(w), Some(r)) if w != host => {
                let bytes = view.rest_after(r, w)?;
                if bytes == 0 {
                    (Some(0), Some(0.0), true)
                } else {
                    let age = unapplied_age(ctx, &dir, r, w, now_ns)?;
                    (Some(bytes), age.exact.map(|ns| ns as f64 / 1e9), age.at_most.is_some_and(|ns| ns <= UPTODATE_WITHIN_NS))
                }
            }
            _ => (None, None, true),
        };
        let disk_error = actual(DISK_ERROR)?.is_some_and(|v| v != "0");
        let switch = |name: &str| -> Result<bool> { Ok(link(&format!("{TODO_PREFIX}{host}/{name}"))?.as_deref() == Some("1")) };
        let following = switch("connect")? && switch("allow-replay")?;
        let diskstate = if !is_attached {
            "Detached"
        } else if disk_error {
            "DISK_ERROR"
        } else if is_primary {
            "UpToDate"
        } else if !view.consistent_at(&host)? {
            "Inconsistent"
        } else if lag_bytes.is_some_and(|b| b > 0) && !(following && within) {
            "Outdated"
        } else {
            "UpToDate"
        };
        let last_heard = if host == ctx.host { Some(std::time::Duration::ZERO) } else { liveness::last_heard(ctx, &host)? };
        out.push(Member {
            reachable: liveness::is_reachable(ctx, &host)?,
            fetching: on("is-fetching")?,
            last_heard_ms: last_heard.map(|a| a.as_millis().min(u128::from(u64::MAX)) as u64),
            sync_rest: size.saturating_sub(synced),
            lag_bytes,
            lag_seconds,
            beyond_rpo: rpo.zip(lag_seconds).is_some_and(|(rpo, lag)| lag > rpo as f64),
            replay_stopped: if on("is-replaying")? { actual(REPLAY_STOPPED)?.as_deref().and_then(Stop::from_word).map(Stop::word) } else { None },
            takeover_wait: if role == "NotYetPrimary" { actual(mars_core::handover::TAKEOVER_WAIT)?.as_deref().and_then(Wait::from_word).map(Wait::word) } else { None },
            role,
            diskstate,
            host,
        });
    }
    Ok(out)
}

/// The stamp of the first log record after replay position `at` on `writer`'s history,
/// if this host has it: in the logfile `at` names, or, where `at` is at its end, in the
/// logfiles after it that `writer`'s version links name (a few at most).
fn oldest_unapplied(ctx: &Context, dir: &str, at: &ReplayLink<'_>, writer: &str) -> Result<Option<u64>> {
    let (mut name, mut start) = (at.log.to_string(), at.start);
    for nr in at.log.nr..at.log.nr.saturating_add(4) {
        if nr > at.log.nr {
            let version = ctx.tree.get(&format!("{dir}/{VERSION_PREFIX}{nr:09}-{writer}"))?.map(|l| l.value);
            let next = match version.as_deref().and_then(|v| VersionLink::parse(v).ok()) {
                Some(v) => v.log.to_string(),
                // The writer's current logfile has no version link yet.
                None => LogName { nr, host: writer }.to_string(),
            };
            (name, start) = (next, 0);
        }
        let Ok(file) = std::fs::File::open(ctx.tree.path(&format!("{dir}/{name}"))) else { return Ok(None) };
        // A record there (not the end of the records, nor the zeros the primary's
        // logger writes ahead): its stamp; else the next logfile.
        let mut head = [0u8; HEADER_LEN];
        if file.read_exact_at(&mut head, start).is_ok() {
            if let Ok(h) = decode_header(&head) {
                return Ok(Some(h.stamp_ns));
            }
        }
    }
    Ok(None)
}

/// How old the oldest write of `writer`'s log is that replay position `at` has not
/// applied, as far as this host can tell.
pub(crate) struct UnappliedAge {
    /// From its record, where that is here.
    pub exact: Option<u64>,
    /// At most: `exact`; where its record is not here (not fetched yet), the age of the
    /// last record applied, which is older (log order is time order).
    pub at_most: Option<u64>,
}

pub(crate) fn unapplied_age(ctx: &Context, dir: &str, at: &ReplayLink<'_>, writer: &str, now_ns: u64) -> Result<UnappliedAge> {
    let age = |stamp: u64| now_ns.saturating_sub(stamp);
    let exact = oldest_unapplied(ctx, dir, at, writer)?.map(age);
    let at_most = match exact {
        Some(a) => Some(a),
        None => newest_applied(ctx, dir, at)?.map(age),
    };
    Ok(UnappliedAge { exact, at_most })
}

/// The stamp of the record that ends at `at` (the last one applied), if this host has
/// it (`log_record::aligned_record_ending_at`; records of old, packed logfiles are not
/// looked for).
fn newest_applied(ctx: &Context, dir: &str, at: &ReplayLink<'_>) -> Result<Option<u64>> {
    let end = at.start;
    if end == 0 || !end.is_multiple_of(HEAD_LEN as u64) {
        return Ok(None);
    }
    let span = end.min((HEAD_LEN + MAX_PAYLOAD as usize) as u64);
    let Ok(file) = std::fs::File::open(ctx.tree.path(&format!("{dir}/{}", at.log))) else { return Ok(None) };
    let mut before = vec![0u8; span as usize];
    if file.read_exact_at(&mut before, end - span).is_err() {
        return Ok(None);
    }
    Ok(aligned_record_ending_at(&before).map(|h| h.stamp_ns))
}

/// The recovery point objective of `res` in seconds (`marsadm set-rpo`), if it has one.
pub(crate) fn rpo_seconds(ctx: &Context, res: &str) -> Result<Option<u64>> {
    Ok(ctx.tree.get(&format!("{}/{RPO}", resource_dir(res)))?.and_then(|l| l.value.parse().ok()).filter(|s| *s > 0))
}

/// Whether a secondary of `members` follows the primary `me` now: reachable, attached,
/// its fetch running.
pub(crate) fn any_secondary_connected(members: &[Member], me: &str) -> bool {
    members.iter().any(|m| m.host != me && m.reachable && m.fetching && m.role != "None")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;
    use crate::tree::real_time_ns;

    /// node1 primary, node2 and node3 its secondaries; seen from `me`.
    fn three(tag: &str, me: &str) -> ScratchTree {
        let mut t = ScratchTree::node1_primary(&format!("members-{tag}"), me);
        t.set("resource-r0/data-node3", "/dev/vdb");
        t.set("resource-r0/actual-node3/is-attached", "1");
        t.heard("node3", 0);
        for h in ["node1", "node2", "node3"] {
            t.set(&format!("resource-r0/syncstatus-{h}"), "1048576");
        }
        t
    }

    /// A secondary whose oldest missing write is not fetched yet: UpToDate while the last
    /// record it applied is recent (the missing one is younger), Outdated once that is
    /// older than the tolerance.
    #[test]
    fn unfetched_writes_after_a_recent_record_are_within_the_tolerance() {
        let now = real_time_ns();
        for (ago_s, want) in [(3, "UpToDate"), (30, "Outdated")] {
            let mut t = three(&format!("unfetched-{ago_s}"), "node2");
            t.set("resource-r0/replay-node1", "log-000000001-node1,8192,0");
            t.set("resource-r0/replay-node2", "log-000000001-node1,4608,0");
            t.set("resource-r0/replay-node3", "log-000000001-node1,8192,0");
            t.set("resource-r0/actual-node2/is-fetching", "1");
            // Here: the record at 0 (4608 bytes, applied); what follows is not fetched.
            t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - ago_s * 1_000_000_000)]);
            let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
            let node2 = m.iter().find(|m| m.host == "node2").unwrap();
            assert_eq!((node2.diskstate, node2.lag_bytes, node2.lag_seconds), (want, Some(3584), None), "{ago_s} s");
            let at = ReplayLink::parse("log-000000001-node1,4608,0").unwrap();
            assert_eq!(super::super::view::following_closely(&t.ctx, "resource-r0", Some(&at), Some("node1"), true).unwrap(), ago_s == 3);
        }
    }

    #[test]
    fn every_member_with_its_lag_in_bytes_and_seconds() {
        let now = real_time_ns();
        let mut t = three("lag", "node1");
        // node1 logged 8192 bytes of logfile 1 (its writeback is there); node2 replayed
        // 4608 of them, node3 all; the record at 4608 was written 5 s ago.
        t.set("resource-r0/replay-node1", "log-000000001-node1,8192,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,4608,0");
        t.set("resource-r0/replay-node3", "log-000000001-node1,8192,0");
        t.set("resource-r0/actual-node2/is-fetching", "1");
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 9_000_000_000), (4608, now - 5_000_000_000)]);
        let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
        let brief: Vec<_> = m.iter().map(|m| (m.host.as_str(), m.role, m.diskstate, m.lag_bytes)).collect();
        // (node2 follows within 10 s: UpToDate.)
        assert_eq!(brief, [("node1", "Primary", "UpToDate", None), ("node2", "Secondary", "UpToDate", Some(3584)), ("node3", "Secondary", "UpToDate", Some(0))]);
        assert_eq!((m[1].lag_seconds, m[2].lag_seconds, m[0].lag_seconds), (Some(5.0), Some(0.0), None));
        assert!(any_secondary_connected(&m, "node1"));
        // 20 s behind, or its replay paused: Outdated.
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 29_000_000_000), (4608, now - 20_000_000_000)]);
        assert_eq!(members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap()[1].diskstate, "Outdated");
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 9_000_000_000), (4608, now - 5_000_000_000)]);
        t.set("resource-r0/todo-node2/allow-replay", "0");
        assert_eq!(members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap()[1].diskstate, "Outdated");
        // A member at the end of a logfile: its next write is the first of the next one.
        t.set("resource-r0/replay-node1", "log-000000002-node1,4096,0");
        t.logfile_with_records("resource-r0/log-000000002-node1", &[(0, now - 2_000_000_000)]);
        t.set("resource-r0/replay-node3", "log-000000001-node1,8192,0");
        let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
        assert_eq!((m[2].lag_bytes, m[2].lag_seconds), (Some(4096), Some(2.0)));
        // node2 unreachable: the primary has no secondary following it (node3's fetch
        // does not run).
        t.heard("node2", 60);
        let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
        assert!(!m[1].reachable && m[1].last_heard_ms.is_some_and(|ms| ms >= 60_000), "{:?}", m[1]);
        assert!(!any_secondary_connected(&m, "node1"));
    }

    #[test]
    fn from_a_secondary_without_the_record_the_seconds_are_unknown() {
        let now = real_time_ns();
        let mut t = three("unknown", "node3");
        t.set("resource-r0/replay-node1", "log-000000001-node1,8192,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,4608,0");
        t.set("resource-r0/replay-node3", "log-000000001-node1,0,0");
        t.set("resource-r0/syncstatus-node3", "4096");
        let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
        assert_eq!((m[1].lag_bytes, m[1].lag_seconds), (Some(3584), None));
        assert_eq!((m[2].diskstate, m[2].sync_rest, m[2].last_heard_ms), ("Inconsistent", 1048576 - 4096, Some(0)));
        // No designated host with its device up: no lag to measure.
        t.set("resource-r0/actual-node1/is-primary", "0");
        let m = members(&t.ctx, "r0", Some("node1"), 1048576, now).unwrap();
        assert!(m.iter().all(|m| m.lag_bytes.is_none() && m.lag_seconds.is_none()), "{m:?}");
    }
}
