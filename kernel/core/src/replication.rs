//! Rules of a secondary's replication (design reference §1.6, §1.8, §3.6, §6): which
//! logfile replay may move on to, and when a synced disk is consistent. Pure decisions
//! on values read from the tree, shared by the module (which acts on them) and marsadm
//! (which reports them).

use core::ops::Deref;

use super::emergency::HOLE;
use super::round::Host;
use super::tree::{LogName, ReplayLink, VersionLink, DELETED, VERSION_PREFIX};

/// Why replay cannot move on to the next logfile yet; it retries later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// No logfile numbered current + 1 is here yet.
    NoNextLogfile,
    /// This host's or the origin's version link of the current logfile is missing.
    NoVersionLink,
    /// The origin has not published the next logfile's version link yet.
    NextVersionNotYet,
    /// The current logfile is not yet completely fetched and replayed (the version
    /// links of this host and of the origin differ).
    NotYetComplete,
    /// The copy of the next logfile here is not confirmed to be its source's yet
    /// ([`check_copy`]).
    NextUnconfirmed,
}

/// Why replay must stop (until an administrator resolves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Two logfiles with the next number from different hosts: a split brain.
    DuplicateLogfile,
    /// Logfiles beyond current + 1 exist, but not current + 1.
    NotContiguous,
    /// The next logfile's history does not continue this host's: split brain.
    VersionMismatch,
}

/// What replay does after reaching the end of its current logfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switchover<'a> {
    /// Continue with this logfile from position 0.
    Switch(LogName<'a>),
    Wait(Wait),
    Stop(Stop),
}

/// `actual-<host>/replay-stopped`: why the module's replay stopped there (a [`Stop`]'s
/// [`Stop::word`]), `0` while it is not stopped. Written by the replay thread; read by
/// `marsadm view` and `events`.
pub const REPLAY_STOPPED: &str = "replay-stopped";

/// What `marsadm view` advises where replay stopped.
pub const REPLAY_STOPPED_HINT: &str = "replay stopped: this host's logfiles do not continue the designated primary's history (split brain, or a hole in the logfile sequence): keep the version you want as primary, `marsadm invalidate` here to copy it";

impl Stop {
    /// Its word in [`REPLAY_STOPPED`].
    pub fn word(self) -> &'static str {
        match self {
            Stop::DuplicateLogfile => "DuplicateLogfile",
            Stop::NotContiguous => "NotContiguous",
            Stop::VersionMismatch => "VersionMismatch",
        }
    }

    /// The stop a [`REPLAY_STOPPED`] value names (`None`: not stopped, or a word this
    /// version does not know).
    pub fn from_word(word: &str) -> Option<Stop> {
        [Stop::DuplicateLogfile, Stop::NotContiguous, Stop::VersionMismatch].into_iter().find(|s| s.word() == word)
    }
}

impl core::fmt::Display for Wait {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Wait::NoNextLogfile => "no next logfile yet",
            Wait::NoVersionLink => "version link of the current logfile missing",
            Wait::NextVersionNotYet => "version link of the next logfile not yet there",
            Wait::NextUnconfirmed => "the copy of the next logfile is not yet compared with its source's",
            Wait::NotYetComplete => "current logfile not yet completely replayed",
        })
    }
}

impl core::fmt::Display for Stop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Stop::DuplicateLogfile => "SPLIT BRAIN: several logfiles with the next sequence number",
            Stop::NotContiguous => "logfile sequence has a hole",
            Stop::VersionMismatch => "VERSION MISMATCH: the next logfile does not continue this host's history (split brain?)",
        })
    }
}

/// Log deletion (`marsadm log-delete`, `cron`), on each host for its own files: the
/// logfiles below the lowest one any member's replay link names, as this host's tree
/// tells (`replays`: each member's replay link's logfile number, `None` for a member
/// without a readable one: a joining member, nothing is deleted then). Returns that
/// lowest number (`None`: delete nothing); the host's newest logfile always stays.
pub fn delete_below(replays: impl IntoIterator<Item = Option<u32>>) -> Option<u32> {
    let mut lowest: Option<u32> = None;
    for nr in replays {
        let nr = nr?;
        lowest = Some(lowest.map_or(nr, |l| l.min(nr)));
    }
    lowest
}

/// Whether a deletion marks version link `nr` deleted (for every member: the mark
/// propagates), where `below` is [`delete_below`]'s bound and `oldest_kept` the oldest
/// logfile this host keeps: a member's switchover to a logfile checks the version link
/// before it, so only links below the one before both go. (Not below this host's oldest
/// logfile alone: a host that has no older logfiles for another reason, a full sync or
/// an invalidation, would delete the links a member far behind still needs, and a
/// split brain there would no longer show: found by the simulation.)
pub fn version_deletable(nr: u32, below: u32, oldest_kept: Option<u32>) -> bool {
    let keep = oldest_kept.map_or(below, |k| k.min(below));
    nr.saturating_add(1) < keep
}

/// Whether `host`'s version link `link` stays when `host` leaves the resource
/// (`leave-resource`): the links of logfiles it wrote, since every member's switchover
/// to such a logfile checks the writer's link, also after the writer left (log deletion
/// takes them once every member is past them); its links of others' logfiles go. (All
/// went before: a member still replaying a former primary's logfiles when that host
/// left waited forever; found by the simulation.)
pub fn kept_at_leave(host: &str, link: &str) -> bool {
    VersionLink::parse(link).is_ok_and(|l| l.log.host == host)
}

/// The logfile after `current` among `names` (all logfiles of the resource here).
pub fn next_logfile<'a>(current: LogName<'_>, names: impl IntoIterator<Item = LogName<'a>>) -> Result<Option<LogName<'a>>, Stop> {
    let mut next: Option<LogName<'a>> = None;
    let mut beyond = false;
    let Some(after) = current.next().map(|l| l.nr) else { return Ok(None) };
    for n in names {
        if n.nr == after {
            if next.is_some_and(|m| m.host != n.host) {
                return Err(Stop::DuplicateLogfile);
            }
            next = Some(n);
        } else if n.nr > after {
            beyond = true;
        }
    }
    match next {
        None if beyond => Err(Stop::NotContiguous),
        n => Ok(n),
    }
}

/// The logfile replay moves on to after `current`: [`next_logfile`] among `logs` (the
/// logfiles here) without the copies of a discarded history, and a stop where the
/// sequence has a hole ([`hole_after`]). `entries` lists the resource directory's
/// entry names, `read` gives a link's raw value by its name (a deleted link's mark
/// included; `None`: missing or unreadable).
pub fn next_in_sequence<'a, 'b, I, R>(current: LogName<'_>, logs: impl IntoIterator<Item = LogName<'a>>, entries: impl Fn() -> I, mut read: impl FnMut(&str) -> Option<R>) -> Result<Option<LogName<'a>>, Stop>
where
    I: IntoIterator<Item = &'b str>,
    R: Deref<Target = [u8]>,
{
    let next = next_logfile(current, logs.into_iter().filter(|n| n.nr <= current.nr || !discarded(*n, entries(), &mut read)))?;
    if next.is_none() && hole_after(current, entries(), &mut read) {
        return Err(Stop::NotContiguous);
    }
    Ok(next)
}

/// Whether the copy of logfile `log` here belongs to a discarded history: its writer's
/// version link is marked deleted and no other link of its number names it. Above a
/// member's replay position only an invalidation of the writer deletes it (log deletion
/// stays below every member's replay link); a copy fetched before that waited forever for
/// a link that never comes, even when the primary's logging had a hole right there
/// (found by the simulation, seed 25892). A link another host wrote when its history went
/// through `log` keeps the copy (`stands_for_writer`).
pub fn discarded<'b, R: Deref<Target = [u8]>>(log: LogName<'_>, entries: impl IntoIterator<Item = &'b str>, mut read: impl FnMut(&str) -> Option<R>) -> bool {
    let mut writer_deleted = false;
    for name in entries {
        let Some(rest) = name.strip_prefix(VERSION_PREFIX) else { continue };
        let Some((nr, host)) = rest.split_once('-') else { continue };
        if nr.len() != 9 || !nr.bytes().all(|b| b.is_ascii_digit()) || nr.parse::<u32>() != Ok(log.nr) {
            continue;
        }
        let Some(raw) = read(name) else { continue };
        if host == log.host {
            writer_deleted = &*raw == DELETED.as_bytes();
        } else if core::str::from_utf8(&raw).is_ok_and(|t| VersionLink::parse(t).is_ok_and(|l| l.log == log)) {
            return false;
        }
    }
    writer_deleted
}

/// Whether the logfile sequence has a hole after `current` although no logfile beyond
/// it is here: among the entry names of the resource directory, the version links of
/// `current`'s writer (`version-<nr>-<writer>`) name logfiles beyond current + 1, and no
/// version link of current + 1 chains onto `current` (`read` gives a link's value by its
/// name; `None`: missing or unreadable). That is what a primary that ceased logging
/// leaves (emergency mode, docu/emergency.md). Only links that belong to `current`'s
/// history count: a host that diverged elsewhere (forced out while its logging had
/// ceased) keeps its links past its own hole, a deleted link is a discarded history, and
/// a link of current + 1 that does not chain onto `current` says nothing about whether
/// `current` goes on; counting them, every replay stopped at the end of the current
/// primary's logfile, or never stopped before a real hole (found by the simulation,
/// docu/simulation.md).
pub fn hole_after<'a, R: Deref<Target = [u8]>>(current: LogName<'_>, names: impl IntoIterator<Item = &'a str>, mut read: impl FnMut(&str) -> Option<R>) -> bool {
    let Some(next) = current.nr.checked_add(1) else { return false };
    let (mut beyond, mut found) = (false, false);
    for name in names {
        let Some(rest) = name.strip_prefix(VERSION_PREFIX) else { continue };
        let digits = rest.get(..9).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let Some(nr) = digits.and_then(|d| d.parse::<u32>().ok()) else { continue };
        if nr == next && !found {
            found = read(name).is_some_and(|raw| chains_onto(&raw, current));
        } else if nr > next && !beyond && rest.get(9..).and_then(|h| h.strip_prefix('-')) == Some(current.host) {
            // (Not a deleted one: a history an invalidation discarded there.)
            beyond = read(name).is_some_and(|raw| core::str::from_utf8(&raw).is_ok_and(|t| VersionLink::parse(t).is_ok_and(|l| l.log.nr == nr)));
        }
    }
    beyond && !found
}

/// Whether the version link `raw` chains onto logfile `log`: the head of its
/// predecessor names it.
fn chains_onto(raw: &[u8], log: LogName<'_>) -> bool {
    let Ok(text) = core::str::from_utf8(raw) else { return false };
    VersionLink::parse(text).is_ok_and(|l| l.prev_log() == Some(log))
}

/// Whether a secondary's recovery is stuck: its disk is not a consistent copy, and a
/// hole in the logfile sequence follows the logfile its replay starts in (`hole_after`
/// on the resource's entries). It can never become consistent from there: its sync
/// is refused while the primary's logging has ceased, and a copy synced later would
/// still need replay across the hole. Meanwhile its replay position keeps the logfile
/// before the hole from being deleted (here and on the primary), which can keep the
/// primary's `/mars` full and its logging ceased. An `invalidate` that starts replay
/// after the hole gets it out.
pub fn stuck_before_hole<'a, R: Deref<Target = [u8]>>(consistent: bool, replay: LogName<'_>, names: impl IntoIterator<Item = &'a str>, read: impl FnMut(&str) -> Option<R>) -> bool {
    !consistent && hole_after(replay, names, read)
}

/// The version links that decide a switchover from logfile N (of origin O) to N + 1
/// (of origin P), as raw link values.
#[derive(Debug, Clone, Copy)]
pub struct SwitchLinks<'a> {
    /// `version-N-<me>`.
    pub mine: Option<&'a str>,
    /// `version-N-O`.
    pub origin: Option<&'a str>,
    /// `version-(N+1)-P`.
    pub next: Option<&'a str>,
    /// The local copy of logfile N + 1, if there is one (its `confirmed`: the fetch
    /// compared it with its source's, or it is this host's own).
    pub next_copy: Option<NextCopy>,
    /// `syncpos-<me>`: where the primary was when this host's full sync ended.
    pub syncpos: Option<&'a str>,
    /// The next logfile is off the history that leads to `syncpos`'s logfile, as far as
    /// the version links tell ([`leaves_synced_history`]).
    pub off_synced_history: bool,
}

/// The switchover check of a secondary that has replayed `replay` to the end of its
/// local copy (§3.6, `is_switchover_possible` of the original, with positions compared
/// as numbers): `next` is [`next_logfile`]'s answer.
///
/// The next logfile's version link names the head of its writer's version link of the
/// current logfile: if that equals this host's, both have the identical history up to
/// here, so replay moves on — also when the current logfile's origin wrote more that
/// this host never got (a forced failover elsewhere whose new primary had what this
/// host has: it follows the new primary). Otherwise, while the origin's link shows more
/// than this host replayed, the rest is still to come; when it shows the same, the next
/// logfile continues another history: a split brain.
///
/// Replay enters a copy with data only once it is confirmed to be its source's logfile
/// (`NextCopy::confirmed`, [`check_copy`]): one of a discarded history under the same name
/// is cut by the fetch first. (A copy already entered replay goes on with, also after a
/// crash: its disk may hold records of it beyond the replay link. So a secondary that
/// restarts while its source is unreachable replays the logfile it is in to its end,
/// and the next ones only once the source answers.)
///
/// A host whose full sync ended at `syncpos` has on its disk what the primary had
/// logged up to there: a next logfile that continues another history than the one
/// through `syncpos` (it goes on from an earlier position of that logfile, enters
/// another logfile of its number, or jumps over its number) is one this host's disk
/// has diverged from, although the version links agree: a stop. (A forced failover to
/// a host that had less of the logfile than the sync copied; replay followed it and
/// the links called the mix consistent.)
pub fn switchover<'a>(replay: &ReplayLink<'_>, next: Option<LogName<'a>>, links: &SwitchLinks<'_>) -> Switchover<'a> {
    let Some(next) = next else { return Switchover::Wait(Wait::NoNextLogfile) };
    let Some(mine_raw) = links.mine else { return Switchover::Wait(Wait::NoVersionLink) };
    let Ok(mine) = VersionLink::parse(mine_raw) else { return Switchover::Wait(Wait::NoVersionLink) };
    let Some(next_link) = links.next.and_then(|v| VersionLink::parse(v).ok()) else {
        return Switchover::Wait(Wait::NextVersionNotYet);
    };
    if mine.log != replay.log || replay.start < mine.pos {
        return Switchover::Wait(Wait::NotYetComplete);
    }
    if next_link.log == next && next_link.prev_head == head(mine_raw) {
        if links.next_copy.is_some_and(|c| c.size > 0 && !c.confirmed) {
            return Switchover::Wait(Wait::NextUnconfirmed);
        }
        if links.off_synced_history || links.syncpos.and_then(|p| ReplayLink::parse(p).ok()).is_some_and(|p| off_synced(replay, next, &p)) {
            return Switchover::Stop(Stop::VersionMismatch);
        }
        return Switchover::Switch(next);
    }
    match links.origin.and_then(|v| VersionLink::parse(v).ok()) {
        Some(origin) if origin != mine && origin.pos > mine.pos => Switchover::Wait(Wait::NotYetComplete),
        _ => Switchover::Stop(Stop::VersionMismatch),
    }
}

/// Whether moving on from `replay` (at the end of its logfile) to `next` leaves the
/// history through `synced`, the position a full sync ended at ([`switchover`]).
fn off_synced(replay: &ReplayLink<'_>, next: LogName<'_>, synced: &ReplayLink<'_>) -> bool {
    (synced.log == replay.log && replay.start < synced.start)
        || (synced.log.nr == next.nr && synced.log != next)
        || (replay.log.nr < synced.log.nr && synced.log.nr < next.nr)
}

/// How many logfiles [`leaves_synced_history`] walks down at most.
const HISTORY_WALK: u32 = 64;

/// Whether logfile `next` is off the history that leads to `synced`, the logfile a full
/// sync ended in (`syncpos`), as far as the version links tell: walking down from
/// `synced` by each logfile's writer's version link (`read`: the raw value of
/// `version-<nr>-<writer>` of a logfile), that history has another logfile of `next`'s
/// number, or jumps over the number (a hole of emergency mode: a link that chains onto
/// nothing continues its writer's logfile [`HOLE`] numbers lower). Replay that moves on
/// to such a logfile never passes `syncpos`, so the disk never becomes consistent
/// (found by the simulation, seed 3799: a forced failover to a host that had gone on
/// from before a hole; replay followed it and showed Inconsistent for good). A link
/// missing, deleted or unreadable, or more than `HISTORY_WALK` logfiles to walk, says
/// nothing; so does a `next` at or beyond `synced`'s number (replay has got there: the
/// rest is [`switchover`]'s own syncpos rule).
pub fn leaves_synced_history<R: Deref<Target = [u8]>>(next: LogName<'_>, synced: LogName<'_>, mut read: impl FnMut(LogName<'_>) -> Option<R>) -> bool {
    if next.nr >= synced.nr {
        return false;
    }
    let Some(mut host) = Host::new(synced.host) else { return false };
    let mut nr = synced.nr;
    for _ in 0..HISTORY_WALK {
        let log = LogName { nr, host: host.as_str() };
        if nr == next.nr {
            return log != next;
        }
        if nr < next.nr {
            return true;
        }
        let Some(raw) = read(log) else { return false };
        let Ok(link) = core::str::from_utf8(&raw).map_err(|_| ()).and_then(|t| VersionLink::parse(t).map_err(|_| ())) else { return false };
        if link.log != log {
            return false;
        }
        match link.prev_log() {
            Some(prev) if prev.nr < nr => match Host::new(prev.host) {
                Some(h) => (nr, host) = (prev.nr, h),
                None => return false,
            },
            Some(_) => return false,
            // A hole: the writer's logfile `HOLE` lower went on here (none below it: the
            // first logfile).
            None if link.prev_head.is_empty() => match nr.checked_sub(HOLE).filter(|&n| n > 0) {
                Some(before) if before < next.nr => return true,
                Some(before) => nr = before,
                None => return false,
            },
            None => return false,
        }
    }
    false
}

/// Whether `link`, another host's version link of logfile `next`, stands in for the
/// writer's in [`switchover`] when the writer's own is missing or deleted: it names
/// `next` and chains onto this host's link `mine` (that host moved on from the same
/// history to `next` by the same check). The writer's own goes when the writer is
/// invalidated before it has heard of the primary's link of that number (its own is off
/// the history it discards), and every member still before `next` waited for it forever
/// (found by the simulation, docu/simulation.md).
pub fn stands_for_writer(link: &str, next: LogName<'_>, mine: Option<&str>) -> bool {
    mine.is_some_and(|m| VersionLink::parse(link).is_ok_and(|l| l.log == next && l.prev_head == head(m)))
}

/// A version link's part before its predecessor reference.
fn head(link: &str) -> &str {
    link.split(':').next().unwrap_or("")
}

/// Whether a secondary's disk is a consistent copy (§1.8, `is-consistent`): the full
/// sync reached the size, and replay has passed the primary's position recorded when
/// the sync ended (`syncpos`; absent if the disk never needed a sync).
pub fn is_consistent(size: u64, syncstatus: u64, syncpos: Option<&ReplayLink<'_>>, replay: &ReplayLink<'_>) -> bool {
    syncstatus >= size && syncpos.is_none_or(|p| (replay.log.nr, replay.start) >= (p.log.nr, p.start))
}

/// Whether a primary serves a full sync to a host whose replay link is `start` (the
/// position its replay goes on from once the copy is complete): only if `start` lies on
/// the primary's history, in its current logfile `current` or in the logfile its own
/// version link of that number (`version`) names, at or before that link's position.
/// After a forced failover during a sync, the new primary may be on another history
/// than the one the invalidation took the replay start from: a copy of its disk with
/// the old history's records replayed on top would be a mix that its links call
/// consistent (found by the simulation, seed 1817 with `--invalidate`). The host is
/// invalidated again instead (the primary's Error says so).
pub fn serves_sync(start: &ReplayLink<'_>, current: LogName<'_>, version: Option<&str>) -> bool {
    start.log == current || version.and_then(|v| VersionLink::parse(v).ok()).is_some_and(|v| v.log == start.log && v.pos >= start.start)
}

/// What a primary answers a host that asks for a full sync ([`sync_serving`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncServing {
    Serve,
    /// The primary's writeback has not reached the host's replay start yet.
    NotYet,
    /// The start is not on the primary's history ([`serves_sync`]): the host must be
    /// invalidated again.
    Never,
}

/// The sync server's answer to a host whose replay link is `start`, from a primary that
/// logs into `current` (its own logfile), whose flushed writeback is at `written_back`
/// (logfile number and position) and whose version link of `start`'s number is
/// `version`: [`serves_sync`] once the writeback has passed the start, and never for a
/// start in another host's logfile numbered at or above `current`: the primary's history
/// goes on in its own logfiles only. (It waited for its writeback to get there, and the
/// host waited with it for good when the primary wrote nothing more: found by the
/// simulation, seed 5193.)
pub fn sync_serving(start: &ReplayLink<'_>, current: LogName<'_>, written_back: (u32, u64), version: Option<&str>) -> SyncServing {
    if start.log.host != current.host && start.log.nr >= current.nr {
        SyncServing::Never
    } else if written_back < (start.log.nr, start.start) {
        SyncServing::NotYet
    } else if serves_sync(start, current, version) {
        SyncServing::Serve
    } else {
        SyncServing::Never
    }
}

/// Where a host's replay goes on after its full sync: [`replay_after_sync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSync<'a> {
    /// From where the host's replay link says.
    Stay,
    /// From the primary's position instead: the host's version link of the logfile
    /// before becomes `prev` (a copy of the primary's), or goes (`None`: the primary's
    /// history has none there, a hole).
    Move { prev: Option<&'a str> },
}

/// Where replay goes on after a full sync that compared and copied the whole disk from
/// its first block, from a primary whose flushed writeback was at `primary_at` when
/// that pass began: there if that is beyond the host's replay start `start` (every write
/// before it was on the disk the sync read), else at `start`. `version` and `prev` are
/// the primary's version links of that logfile and the one before, as this host's tree
/// has them: the host's own link before the new start must be the primary's, since
/// replay chains its links onto it (missing here: no move). The start that `invalidate`
/// or `join-resource` chose came from its view of the primary's replay link, which may
/// be stale: a member that deleted the version links below a newer bound, not knowing
/// the new member, left its replay waiting at a switchover forever (found by the
/// simulation, seeds 3051 and 3221 with `--invalidate`). The move is made when the
/// sync completes, not when it begins: `fake-sync` may end a sync that has copied
/// nothing, and that disk is a copy as of `start` only.
pub fn replay_after_sync<'a>(start: &ReplayLink<'_>, primary_at: &ReplayLink<'_>, version: Option<&str>, prev: Option<&'a str>) -> AfterSync<'a> {
    // (Both lie on the primary's history, `serves_sync`: one logfile per number.)
    let same_history = primary_at.log.nr != start.log.nr || primary_at.log == start.log;
    if !same_history || (primary_at.log.nr, primary_at.start) <= (start.log.nr, start.start) {
        return AfterSync::Stay;
    }
    let Some(version) = version.and_then(|v| VersionLink::parse(v).ok()).filter(|v| v.log == primary_at.log) else {
        return AfterSync::Stay;
    };
    if version.prev_head.is_empty() {
        return AfterSync::Move { prev: None };
    }
    match prev {
        Some(p) if VersionLink::parse(p).is_ok() && head(p) == version.prev_head => AfterSync::Move { prev: Some(p) },
        _ => AfterSync::Stay,
    }
}

/// A secondary's two writers of its disk: the full sync and replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskWriter {
    Sync,
    Replay,
}

/// In which order a strategy round brings the full sync and replay to what it wants
/// (`replay_on`: replay is to run; it never runs while a sync is wanted): the one that
/// stops goes first, so the two never write the disk at the same time. The sync reads
/// the replay link when it starts, and the primary serves it once its writeback has
/// passed that position; a replay still running then may apply a record beyond it that
/// the primary's disk does not have yet, the sync copies the block without it, and
/// replay, resuming after that record, never applies it again.
pub fn disk_order(replay_on: bool) -> [DiskWriter; 2] {
    if replay_on { [DiskWriter::Sync, DiskWriter::Replay] } else { [DiskWriter::Replay, DiskWriter::Sync] }
}

/// Whether replay, at the end of its copy with everything flushed, writes its version
/// link of the logfile (again) at the replay position before it asks [`switchover`]:
/// when the link is missing (nothing was applied of an empty logfile, so no flush wrote
/// it), or names a position before the replay link's. A flush writes the replay link
/// first and the version link after it; a crash in between can keep only the first
/// (each is a rename of its own), and the host then reasserts the older version link
/// against its peers' newer copies. Everything up to the replay position is on the disk.
/// A link that names another logfile, or a position beyond, is left as it is.
pub fn rewrite_version(mine: Option<&str>, replay: &ReplayLink<'_>) -> bool {
    match mine.map(VersionLink::parse) {
        None => true,
        Some(Ok(v)) => v.log == replay.log && v.pos < replay.start,
        Some(Err(_)) => false,
    }
}

/// A secondary's local copy of the logfile its replay link names: how long it is, and
/// how far it is durable (fdatasync'ed since it was last cut or created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    pub size: u64,
    pub synced: u64,
}

/// A secondary's local copy of the next logfile: how long it is, and whether it is
/// known to be its source's logfile (`confirmed`: the fetch compared its head with the
/// source's since the fetch started, [`check_copy`], or it is this host's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCopy {
    pub size: u64,
    pub confirmed: bool,
}

/// The logfile numbered `nr` that a fetch asks its source for, on the way from the one
/// this host replays (`mine`, its replay link's) to the one the source replays
/// (`theirs`): `theirs` at its number; else the one the source's version link of `nr`
/// names (`named`), so logfiles of any writer (after handovers) are fetched; else, at
/// `mine`'s number, `mine`. `None`: which logfile the source has with that number is
/// not known here (not yet, or never: a source synced past it), and the fetch goes no
/// further this round than a copy here of that number it has not compared yet. A name
/// whose writer is this host is skipped: its own logfiles are never fetched.
pub fn fetch_name<'a>(nr: u32, mine: LogName<'a>, theirs: LogName<'a>, named: Option<LogName<'a>>) -> Option<LogName<'a>> {
    if nr == theirs.nr {
        Some(theirs)
    } else {
        named.or((nr == mine.nr).then_some(mine))
    }
}

/// Bytes of the head of a logfile copy that the fetch compares with its source's.
pub const COPY_HEAD: usize = 4096;

/// What the fetch does with a local copy before it appends to it ([`check_copy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyCheck {
    /// The copy is the source's logfile (or empty): append to it.
    Same,
    /// The copy is another logfile of the same name, none of it applied: cut it to
    /// nothing and fetch the logfile anew.
    Refetch,
    /// The copy is another logfile of the same name and replay applied some of it: this
    /// host's disk went another way than its source's (a split brain); fetch no more of
    /// it.
    Diverged,
    /// The source has none of the logfile to compare with: an empty file of a logfile
    /// it did not write. Taken as missing there: the copy stands as it is.
    NotThere,
}

/// Whether a local copy of a logfile, whose head is `ours` (its first [`COPY_HEAD`]
/// bytes, or all of it), is the logfile its source has, whose head is `theirs`; replay
/// applied `replayed` bytes of it (its replay link's position if the link names it,
/// else 0).
///
/// A logfile's name (number and writer) can be used twice: a host whose logfiles from
/// some number on were discarded (a forced takeover by another, then `invalidate`)
/// writes the same numbers again once it is primary on the surviving history. A copy of
/// the discarded logfile elsewhere must not be extended with the new one, nor replayed.
/// Logfiles are only ever appended to, and their first record carries its Lamport
/// stamp, position and payload digest: two logfiles of one name differ in their heads.
/// An empty source logfile against a copy with data differs too, where the source
/// (`source_wrote`) wrote it; another host's empty file is only where its fetch would
/// put a copy, or what a full sync that moved its replay start past the logfile left:
/// cutting a good copy for it stranded a member behind (found by the simulation, seed
/// 2442). Where one head is shorter, the common part decides.
pub fn check_copy(ours: &[u8], theirs: &[u8], replayed: u64, source_wrote: bool) -> CopyCheck {
    let n = ours.len().min(theirs.len());
    if ours.is_empty() || (n > 0 && ours[..n] == theirs[..n]) {
        CopyCheck::Same
    } else if theirs.is_empty() && !source_wrote {
        CopyCheck::NotThere
    } else if replayed == 0 {
        CopyCheck::Refetch
    } else {
        CopyCheck::Diverged
    }
}

/// The next thing a secondary's replay does (one step of its loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayStep {
    /// Make the copy durable up to its size before applying any of it.
    SyncCopy,
    /// Apply the records from `from` on, up to the copy's size (durable to there).
    Apply { from: u64 },
    /// Everything here is applied: flush the disk, then move the links to what was
    /// applied.
    Flush,
    /// Applied to the end of the copy and flushed, or no copy here: ask [`switchover`]
    /// whether replay may move on to the next logfile.
    AtEnd,
}

/// The replay loop's order of I/O (design reference §1.6, docu/replication.md): replay
/// resumes at `resume` (the replay link's position, or beyond it what was applied and
/// not flushed yet, `unflushed`), in a copy that is `copy` here.
///
/// Nothing is applied that the copy could lose: after a power loss replay starts again
/// at the replay link and re-applies everything the disk may hold beyond it, so the copy
/// must still hold it, or the disk would be left a mix of older and newer writes (with
/// the primary gone, for good). The fetch does not sync its appends, and the disk's
/// flush does not reach `/mars`: the copy is synced whenever it grew since its last
/// sync, before anything is applied (a record may end only beyond what was synced, so
/// applying what is durable first could wait for it forever). Not when nothing new came.
///
/// No copy counts as an empty one: a host that took over by force before it had fetched
/// anything of the logfile continued its history at position 0, and a host that has
/// nothing of it either may follow it there (the version links decide, not the copy).
pub fn replay_step(resume: u64, unflushed: bool, copy: Option<Copy>) -> ReplayStep {
    let copy = copy.unwrap_or(Copy { size: 0, synced: 0 });
    if resume < copy.size {
        return if copy.synced >= copy.size { ReplayStep::Apply { from: resume } } else { ReplayStep::SyncCopy };
    }
    if unflushed { ReplayStep::Flush } else { ReplayStep::AtEnd }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_names_each_logfile_from_the_source_s_links() {
        let log = |nr, host| LogName { nr, host };
        let (mine, theirs) = (log(3, "node1"), log(6, "node2"));
        // Its own number: the source's replay link; a version link of the source's names
        // the others, of any writer; where it names none, this host's own logfile at its
        // replay link's number; else unknown.
        assert_eq!(fetch_name(6, mine, theirs, Some(log(6, "node1"))), Some(theirs));
        assert_eq!(fetch_name(4, mine, theirs, Some(log(4, "node3"))), Some(log(4, "node3")));
        assert_eq!(fetch_name(3, mine, theirs, None), Some(mine));
        assert_eq!(fetch_name(3, mine, theirs, Some(log(3, "node2"))), Some(log(3, "node2")));
        assert_eq!(fetch_name(5, mine, theirs, None), None);
    }
    use crate::tree::DELETED;

    fn log(nr: u32, host: &str) -> LogName<'_> {
        LogName { nr, host }
    }

    #[test]
    fn deletion_keeps_what_a_member_still_replays() {
        assert_eq!(delete_below([Some(5), Some(3), Some(7)]), Some(3));
        assert_eq!(delete_below([Some(5), None]), None);
        assert_eq!(delete_below(core::iter::empty()), None);
        assert!(version_deletable(1, 3, Some(3)));
        assert!(!version_deletable(2, 3, Some(3)));
        assert!(!version_deletable(u32::MAX, 3, None));
        // A member still at logfile 2 keeps the links from 1 on, whatever this host
        // holds; this host's oldest logfile keeps the one before it.
        assert!(!version_deletable(1, 2, Some(11)));
        assert!(version_deletable(0, 2, Some(11)));
        assert!(version_deletable(4, 9, Some(6)));
        assert!(!version_deletable(5, 9, Some(6)));
        let link = |host| VersionLink { digest: [7; 16], log: LogName { nr: 4, host }, pos: 9, prev_head: "00" }.to_string();
        assert!(kept_at_leave("node1", &link("node1")));
        assert!(!kept_at_leave("node1", &link("node2")));
        assert!(!kept_at_leave("node1", "garbage"));
    }

    #[test]
    fn a_version_link_behind_the_replay_link_is_written_again() {
        let replay = ReplayLink { log: log(4, "node2"), start: 3, len: 0 };
        let at = |pos: u64, host| VersionLink { digest: [7; 16], log: log(4, host), pos, prev_head: "00" }.to_string();
        assert!(rewrite_version(None, &replay));
        assert!(rewrite_version(Some(&at(0, "node2")), &replay));
        assert!(!rewrite_version(Some(&at(3, "node2")), &replay));
        assert!(!rewrite_version(Some(&at(5, "node2")), &replay));
        assert!(!rewrite_version(Some(&at(0, "node1")), &replay));
        assert!(!rewrite_version(Some("garbage"), &replay));
    }

    #[test]
    fn replay_applies_only_what_the_copy_holds_durably() {
        let copy = |size, synced| Some(Copy { size, synced });
        assert_eq!(replay_step(0, false, None), ReplayStep::AtEnd);
        assert_eq!(replay_step(0, false, copy(100, 0)), ReplayStep::SyncCopy);
        assert_eq!(replay_step(0, false, copy(100, 100)), ReplayStep::Apply { from: 0 });
        // Grown since the last sync: synced again before more is applied.
        assert_eq!(replay_step(40, true, copy(150, 100)), ReplayStep::SyncCopy);
        assert_eq!(replay_step(40, true, copy(150, 150)), ReplayStep::Apply { from: 40 });
        // Cut shorter than it was synced (a repair): what is left is durable.
        assert_eq!(replay_step(60, true, copy(80, 100)), ReplayStep::Apply { from: 60 });
        assert_eq!(replay_step(150, true, copy(150, 150)), ReplayStep::Flush);
        assert_eq!(replay_step(150, false, copy(150, 150)), ReplayStep::AtEnd);
    }

    #[test]
    fn a_sync_is_served_only_on_the_primary_s_history() {
        let start = ReplayLink { log: log(3, "node3"), start: 40, len: 0 };
        let v = |pos: u64, host| VersionLink { digest: [7; 16], log: log(3, host), pos, prev_head: "00" }.to_string();
        assert!(serves_sync(&start, log(3, "node3"), None));
        assert!(serves_sync(&start, log(5, "node1"), Some(&v(40, "node3"))));
        assert!(serves_sync(&start, log(5, "node1"), Some(&v(90, "node3"))));
        // The primary's history left that logfile before the start, went through
        // another logfile of that number, or is not known here.
        assert!(!serves_sync(&start, log(5, "node1"), Some(&v(39, "node3"))));
        assert!(!serves_sync(&start, log(5, "node1"), Some(&v(90, "node1"))));
        assert!(!serves_sync(&start, log(3, "node1"), None));
        assert!(!serves_sync(&start, log(5, "node1"), Some("garbage")));
        // The server's answer: not before its writeback has passed the start; never for
        // another host's logfile at or above its current one (seed 5193).
        assert_eq!(sync_serving(&start, log(5, "node1"), (5, 0), Some(&v(40, "node3"))), SyncServing::Serve);
        assert_eq!(sync_serving(&start, log(5, "node1"), (5, 0), Some(&v(39, "node3"))), SyncServing::Never);
        assert_eq!(sync_serving(&start, log(3, "node3"), (3, 39), None), SyncServing::NotYet);
        assert_eq!(sync_serving(&start, log(3, "node3"), (3, 40), None), SyncServing::Serve);
        assert_eq!(sync_serving(&start, log(2, "node1"), (2, 0), None), SyncServing::Never);
        assert_eq!(sync_serving(&start, log(3, "node1"), (3, 99), None), SyncServing::Never);
        let own = ReplayLink { log: log(4, "node1"), start: 0, len: 0 };
        assert_eq!(sync_serving(&own, log(3, "node1"), (3, 99), None), SyncServing::NotYet);
    }

    #[test]
    fn a_complete_sync_starts_replay_at_the_primary_s_writeback() {
        let start = ReplayLink { log: log(3, "node3"), start: 0, len: 0 };
        let at = ReplayLink { log: log(6, "node3"), start: 20, len: 0 };
        let prev = VersionLink { digest: [5; 16], log: log(5, "node3"), pos: 9, prev_head: "aa" }.to_string();
        let prev_head = prev.split(':').next().unwrap();
        let version = |nr, prev_head| VersionLink { digest: [7; 16], log: log(nr, "node3"), pos: 20, prev_head }.to_string();
        assert_eq!(replay_after_sync(&start, &at, Some(&version(6, prev_head)), Some(&prev)), AfterSync::Move { prev: Some(&prev) });
        // After a hole, there is no link before to copy.
        assert_eq!(replay_after_sync(&start, &at, Some(&version(6, "")), None), AfterSync::Move { prev: None });
        // The links have not arrived (or are older ones): no move.
        assert_eq!(replay_after_sync(&start, &at, None, Some(&prev)), AfterSync::Stay);
        assert_eq!(replay_after_sync(&start, &at, Some(&version(5, prev_head)), Some(&prev)), AfterSync::Stay);
        assert_eq!(replay_after_sync(&start, &at, Some(&version(6, prev_head)), None), AfterSync::Stay);
        assert_eq!(replay_after_sync(&start, &at, Some(&version(6, "00,log-000000005-node3,9")), Some(&prev)), AfterSync::Stay);
        assert_eq!(replay_after_sync(&start, &at, Some(&version(6, prev_head)), Some(DELETED)), AfterSync::Stay);
        // A primary not beyond the start, or on another logfile of its number: none.
        assert_eq!(replay_after_sync(&at, &start, None, None), AfterSync::Stay);
        assert_eq!(replay_after_sync(&at, &at, None, None), AfterSync::Stay);
        let other = ReplayLink { log: log(6, "node1"), start: 0, len: 0 };
        assert_eq!(replay_after_sync(&other, &at, Some(&version(6, prev_head)), Some(&prev)), AfterSync::Stay);
    }

    #[test]
    fn a_copy_of_another_logfile_of_the_same_name_is_found() {
        let head = b"MARS-REC first record";
        assert_eq!(check_copy(b"", b"", 0, true), CopyCheck::Same);
        assert_eq!(check_copy(b"", head, 0, true), CopyCheck::Same);
        assert_eq!(check_copy(head, head, 0, true), CopyCheck::Same);
        // The source has less, or the copy does: the common part decides.
        assert_eq!(check_copy(head, &head[..4], 0, true), CopyCheck::Same);
        assert_eq!(check_copy(&head[..4], head, 9, false), CopyCheck::Same);
        assert_eq!(check_copy(head, b"MARS-REC other record", 0, true), CopyCheck::Refetch);
        assert_eq!(check_copy(head, b"MARS-REC other record", 0, false), CopyCheck::Refetch);
        assert_eq!(check_copy(head, b"MARS-REC other record", 512, true), CopyCheck::Diverged);
        // The writer's empty logfile is another one of the name (it writes it anew);
        // another host's empty file says nothing about the copy (seed 2442).
        assert_eq!(check_copy(head, b"", 0, true), CopyCheck::Refetch);
        assert_eq!(check_copy(head, b"", 512, true), CopyCheck::Diverged);
        assert_eq!(check_copy(head, b"", 0, false), CopyCheck::NotThere);
        assert_eq!(check_copy(head, b"", 512, false), CopyCheck::NotThere);
    }

    #[test]
    fn the_next_logfile_is_contiguous_and_unique() {
        let cur = log(3, "node1");
        assert_eq!(next_logfile(cur, [log(2, "node1"), log(3, "node1")]), Ok(None));
        assert_eq!(next_logfile(cur, [log(3, "node1"), log(4, "node2")]), Ok(Some(log(4, "node2"))));
        assert_eq!(next_logfile(cur, [log(4, "node1"), log(4, "node1"), log(5, "node1")]), Ok(Some(log(4, "node1"))));
        assert_eq!(next_logfile(cur, [log(4, "node1"), log(4, "node2")]), Err(Stop::DuplicateLogfile));
        assert_eq!(next_logfile(cur, [log(3, "node1"), log(5, "node1")]), Err(Stop::NotContiguous));
    }

    /// `hole_after` on a directory of (name, value) entries.
    fn hole(cur: LogName<'_>, entries: &[(&str, String)]) -> bool {
        hole_after(cur, entries.iter().map(|(n, _)| *n), |name| entries.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes()))
    }

    #[test]
    fn a_hole_shows_in_the_version_links() {
        let cur = log(1, "node1");
        let v1 = version(1, 1, "node1", 100, "");
        let e = |name: &'static str| (name, String::new());
        // The writer's link after its hole (chaining onto nothing).
        let v11 = ("version-000000011-node1", version(11, 11, "node1", 0, ""));
        assert!(hole(cur, &[e("log-000000001-node1"), ("version-000000001-node1", v1.clone()), v11.clone()]));
        // Deleted (a history discarded there), or not a link of that number: no hole.
        assert!(!hole(cur, &[("version-000000011-node1", DELETED.into())]));
        assert!(!hole(cur, &[("version-000000011-node1", version(12, 12, "node1", 0, ""))]));
        // A link of logfile 2 that continues logfile 1: no hole (whoever wrote it).
        let v2 = version(2, 2, "node2", 0, &v1);
        assert!(!hole(cur, &[("version-000000002-node2", v2.clone()), v11.clone()]));
        assert!(!hole(cur, &[("version-000000001-node1", v1.clone()), ("version-000000002-node2", v2)]));
        assert!(!hole(cur, &[e("version-00000001x-node1"), e("log-000000011-node1")]));
        assert!(!hole(log(u32::MAX, "node1"), &[e("version-000000011-node1")]));
        // Names from peers may be anything: never a panic, never a hole from garbage.
        let garbage = ["version-", "version-1", "version-ää", "version-ääääää", "version-+00000011-x", "", "version-\u{1F600}00000011"];
        assert!(!hole(cur, &garbage.map(e)));
        assert!(hole(cur, &[("version-999999999-node1", version(9, 999_999_999, "node1", 0, ""))]));
        // Another host's links beyond (its own hole, after it diverged): no hole here.
        assert!(!hole(cur, &[("version-000000001-node1", v1.clone()), e("version-000000011-node2")]));
        assert!(!hole(cur, &[e("version-000000011-node12"), e("version-000000011-node")]));
        // A link of logfile 2 that does not continue logfile 1 (deleted, or another
        // history's): the hole stands.
        let other = version(2, 2, "node3", 0, &version(1, 1, "node3", 7, ""));
        assert!(hole(cur, &[("version-000000002-node3", other), ("version-000000002-node2", DELETED.into()), v11]));
    }

    #[test]
    fn copies_of_a_discarded_history_are_not_the_next_logfile() {
        // node2 wrote 9, 10 and 11, was invalidated (its links of 10 and 11 are marked
        // deleted), logged 9 again, ceased logging there and resumed in 19. node1 still
        // has copies of the old 10 and 11.
        let cur = log(9, "node2");
        let v9 = version(9, 9, "node2", 15, "");
        let v19 = version(19, 19, "node2", 50, "");
        let mut entries: Vec<(&str, String)> = vec![
            ("log-000000009-node2", String::new()),
            ("log-000000010-node2", String::new()),
            ("log-000000011-node2", String::new()),
            ("version-000000009-node2", v9.clone()),
            ("version-000000010-node2", DELETED.into()),
            ("version-000000011-node2", DELETED.into()),
        ];
        fn next<'a>(cur: LogName<'_>, entries: &'a [(&'a str, String)]) -> Result<Option<LogName<'a>>, Stop> {
            let logs = entries.iter().filter_map(|(n, _)| LogName::parse(n).ok());
            next_in_sequence(cur, logs, || entries.iter().map(|(n, _)| *n), |name| entries.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes()))
        }
        // Without the link after the hole: nothing to move on to yet.
        assert_eq!(next(cur, &entries), Ok(None));
        // With it: the hole stops replay (before, it waited at 10 forever).
        entries.push(("version-000000019-node2", v19));
        assert_eq!(next(cur, &entries), Err(Stop::NotContiguous));
        // Another host's history went through the old 10: its copy is the next logfile.
        entries.push(("version-000000010-node3", version(10, 10, "node2", 4, &v9)));
        assert_eq!(next(cur, &entries), Ok(Some(log(10, "node2"))));
        // The writer's link missing (not yet written: it still logs there), not deleted.
        let live = [("log-000000010-node2", String::new()), ("version-000000009-node2", v9)];
        assert_eq!(next(cur, &live), Ok(Some(log(10, "node2"))));
    }

    #[test]
    fn a_stop_s_word_reads_back() {
        for stop in [Stop::DuplicateLogfile, Stop::NotContiguous, Stop::VersionMismatch] {
            assert_eq!(Stop::from_word(stop.word()), Some(stop));
        }
        assert_eq!(Stop::from_word("0"), None);
        assert_eq!(Stop::from_word("versionmismatch"), None);
    }

    #[test]
    fn the_writer_that_stops_goes_first() {
        // A sync wanted (replay off): replay stops before the sync may start.
        assert_eq!(disk_order(false), [DiskWriter::Replay, DiskWriter::Sync]);
        // Synced: the sync thread is gone before replay starts.
        assert_eq!(disk_order(true), [DiskWriter::Sync, DiskWriter::Replay]);
    }

    #[test]
    fn a_copy_before_the_hole_is_stuck_until_it_is_consistent() {
        let names = ["log-000000001-node1", "version-000000001-node1", "version-000000011-node1"];
        let after_hole = version(11, 11, "node1", 0, "");
        let read = |name: &str| (name == "version-000000011-node1").then_some(after_hole.as_bytes());
        // Invalidated with a stale view of the primary: replay starts before the hole.
        assert!(stuck_before_hole(false, log(1, "node1"), names, read));
        // Consistent at the hole: Orphan, not stuck.
        assert!(!stuck_before_hole(true, log(1, "node1"), names, read));
        // Invalidated after the hole: it syncs and replays from there.
        assert!(!stuck_before_hole(false, log(11, "node1"), names, read));
    }

    /// A version link with a made-up digest (the rules compare, never recompute).
    fn version(d: u8, nr: u32, host: &str, pos: u64, prev: &str) -> String {
        let prev_head = prev.split(':').next().unwrap();
        VersionLink { digest: [d; 16], log: log(nr, host), pos, prev_head }.to_string()
    }

    #[test]
    fn another_link_of_the_next_logfile_stands_for_the_writers() {
        let v3 = version(3, 3, "node1", 1000, "");
        // node2's link of logfile 4 (node3's), moved on from node1's logfile 3 at 1000.
        let theirs = version(4, 4, "node3", 5, &v3);
        assert!(stands_for_writer(&theirs, log(4, "node3"), Some(&v3)));
        assert!(!stands_for_writer(&theirs, log(4, "node2"), Some(&v3)));
        assert!(!stands_for_writer(&theirs, log(4, "node3"), Some(&version(3, 3, "node1", 900, ""))));
        assert!(!stands_for_writer(&theirs, log(4, "node3"), None));
        assert!(!stands_for_writer(DELETED, log(4, "node3"), Some(&v3)));
    }

    #[test]
    fn switchover_follows_the_version_chain() {
        let v2 = version(2, 2, "node1", 500, "");
        let v3 = version(3, 3, "node1", 1000, &v2);
        let v4 = version(4, 4, "node1", 0, &v3);
        let replay = ReplayLink { log: log(3, "node1"), start: 1000, len: 0 };
        let next = Some(log(4, "node1"));
        let links = SwitchLinks { mine: Some(&v3), origin: Some(&v3), next: Some(&v4), next_copy: None, syncpos: None, off_synced_history: false };
        assert_eq!(switchover(&replay, next, &links), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, None, &links), Switchover::Wait(Wait::NoNextLogfile));
        // A copy of the next logfile with data is entered once confirmed; an empty one
        // at once.
        let copy = |size, confirmed| SwitchLinks { next_copy: Some(NextCopy { size, confirmed }), ..links };
        assert_eq!(switchover(&replay, next, &copy(512, false)), Switchover::Wait(Wait::NextUnconfirmed));
        assert_eq!(switchover(&replay, next, &copy(512, true)), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, next, &copy(0, false)), Switchover::Switch(log(4, "node1")));
        let no_mine = SwitchLinks { mine: None, ..links };
        assert_eq!(switchover(&replay, next, &no_mine), Switchover::Wait(Wait::NoVersionLink));
        let no_next = SwitchLinks { next: None, ..links };
        assert_eq!(switchover(&replay, next, &no_next), Switchover::Wait(Wait::NextVersionNotYet));
        // The origin has logged more of logfile 3 than this host replayed, and its
        // logfile 4 continues that longer history: the rest of 3 is still to come.
        let longer = version(9, 3, "node1", 2000, &v2);
        let after_longer = version(4, 4, "node1", 0, &longer);
        let behind = SwitchLinks { origin: Some(&longer), next: Some(&after_longer), ..links };
        assert_eq!(switchover(&replay, next, &behind), Switchover::Wait(Wait::NotYetComplete));
        // A forced failover to node3, which had exactly what this host has: follow it,
        // although the old origin wrote more after (this host never replayed that).
        let v3_node3 = v3.clone();
        let forced4 = version(5, 4, "node3", 0, &v3_node3);
        let follow = SwitchLinks { origin: Some(&longer), next: Some(&forced4), ..links };
        assert_eq!(switchover(&replay, Some(log(4, "node3")), &follow), Switchover::Switch(log(4, "node3")));
        // The replay link has not reached the version link's position.
        let short = ReplayLink { start: 999, ..replay };
        assert_eq!(switchover(&short, next, &links), Switchover::Wait(Wait::NotYetComplete));
        // Logfile 4 continues a different history than this host's logfile 3.
        let other3 = version(7, 3, "node2", 1000, &v2);
        let foreign4 = version(4, 4, "node2", 0, &other3);
        let split = SwitchLinks { next: Some(&foreign4), ..links };
        assert_eq!(switchover(&replay, Some(log(4, "node2")), &split), Switchover::Stop(Stop::VersionMismatch));
        // The next version link must name the logfile found.
        assert_eq!(switchover(&replay, Some(log(4, "node2")), &links), Switchover::Stop(Stop::VersionMismatch));
        // A full sync copied logfile 3 up to 1001, the next logfile goes on from 1000:
        // the disk has a write that history has not (a forced failover to a host that
        // had less). Up to 1000, or a sync that ended before or after, is fine.
        let synced = |p: &'static str| SwitchLinks { syncpos: Some(p), ..links };
        assert_eq!(switchover(&replay, next, &synced("log-000000003-node1,1001,0")), Switchover::Stop(Stop::VersionMismatch));
        assert_eq!(switchover(&replay, next, &synced("log-000000003-node1,1000,0")), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, next, &synced("log-000000002-node1,9000,0")), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, next, &synced("log-000000004-node1,10,0")), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, next, &synced("log-000000005-node2,10,0")), Switchover::Switch(log(4, "node1")));
        assert_eq!(switchover(&replay, next, &synced("garbage")), Switchover::Switch(log(4, "node1")));
        // The sync ended in another logfile of the next number, or in one the next
        // logfile jumps over (a hole).
        assert_eq!(switchover(&replay, next, &synced("log-000000004-node2,10,0")), Switchover::Stop(Stop::VersionMismatch));
        let v13 = version(4, 13, "node1", 0, &v3);
        let hole = SwitchLinks { next: Some(&v13), ..links };
        assert_eq!(switchover(&replay, Some(log(13, "node1")), &hole), Switchover::Switch(log(13, "node1")));
        let hole = SwitchLinks { syncpos: Some("log-000000005-node2,10,0"), ..hole };
        assert_eq!(switchover(&replay, Some(log(13, "node1")), &hole), Switchover::Stop(Stop::VersionMismatch));
        // Off the history to the sync's end further down (leaves_synced_history).
        let off = SwitchLinks { off_synced_history: true, ..links };
        assert_eq!(switchover(&replay, next, &off), Switchover::Stop(Stop::VersionMismatch));
    }

    /// `leaves_synced_history` over (name, value) version links.
    fn leaves(next: LogName<'_>, synced: LogName<'_>, links: &[(&str, String)]) -> bool {
        leaves_synced_history(next, synced, |l| {
            let name = format!("version-{:09}-{}", l.nr, l.host);
            links.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes().to_vec())
        })
    }

    #[test]
    fn the_history_to_the_sync_s_end() {
        // node3: 11-node3, ceased (a hole), 21-node3 where the sync ended; node2 went on
        // from 11-node3 with 12-node2 (seed 3799).
        let v10 = version(10, 10, "node2", 31, "");
        let v11 = version(11, 11, "node3", 3, &v10);
        let v21 = version(21, 21, "node3", 33, "");
        let links = [("version-000000010-node2", v10.clone()), ("version-000000011-node3", v11), ("version-000000021-node3", v21.clone())];
        assert!(leaves(log(12, "node2"), log(21, "node3"), &links), "12 is in the hole of that history");
        assert!(!leaves(log(21, "node3"), log(21, "node3"), &links));
        assert!(!leaves(log(11, "node3"), log(21, "node3"), &links));
        assert!(leaves(log(11, "node2"), log(21, "node3"), &links));
        assert!(!leaves(log(10, "node2"), log(21, "node3"), &links));
        // Replay at or past the sync's end: nothing to say (a member synced long ago
        // that replays on).
        assert!(!leaves(log(22, "node1"), log(21, "node3"), &links));
        assert!(!leaves(log(21, "node2"), log(21, "node3"), &links), "switchover's own rule");
        // A chain without holes: another logfile of the number, or the same.
        let v22 = version(22, 22, "node1", 5, &v21);
        let links = [("version-000000021-node3", v21), ("version-000000022-node1", v22)];
        assert!(!leaves(log(21, "node3"), log(22, "node1"), &links));
        assert!(leaves(log(21, "node1"), log(22, "node1"), &links));
        // Missing, deleted or garbage links, a walk too long: nothing said.
        assert!(!leaves(log(20, "node1"), log(22, "node1"), &[]));
        assert!(!leaves(log(20, "node1"), log(22, "node1"), &[("version-000000022-node1", DELETED.into())]));
        assert!(!leaves(log(20, "node1"), log(22, "node1"), &[("version-000000022-node1", v10)]));
        assert!(!leaves(log(1, "node1"), log(1000, "node1"), &[]));
    }

    #[test]
    fn consistency_needs_the_sync_and_replay_past_syncpos() {
        let at = |nr, start| ReplayLink { log: log(nr, "node1"), start, len: 0 };
        assert!(is_consistent(100, 100, None, &at(1, 0)));
        assert!(!is_consistent(100, 99, None, &at(1, 0)));
        let pos = at(2, 500);
        assert!(!is_consistent(100, 100, Some(&pos), &at(2, 499)));
        assert!(!is_consistent(100, 100, Some(&pos), &at(1, 9999)));
        assert!(is_consistent(100, 100, Some(&pos), &at(2, 500)));
        assert!(is_consistent(100, 100, Some(&pos), &at(3, 0)));
    }
}
