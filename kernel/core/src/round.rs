//! What the strategy decides for one resource in one round, from the links of the
//! resource's directory as this host has them. The links are read through [`Links`],
//! the seam to a tree store: the module's (kernel/control/strategy.rs, which then performs the
//! decisions), marsadm's (which explains them before it changes anything), a
//! simulation's. One reading of the tree for all of them.

use core::fmt;

use super::emergency::HOLE;
use super::handover::{fetch_source, takeover, Here, OldPrimary, Stamps, Takeover};
use super::names::MAX_NAME_LEN;
use super::replication::is_consistent;
use super::role::{switch_on, Role};
use super::syncruns::{start_at, Start, SYNC_SOURCE, TOOK_OVER};
use super::tree::{head_log, ReplayLink, VersionLink, ACTUAL_PREFIX, DATA_PREFIX, PRIMARY, REPLAY_PREFIX, SYNCPOS_PREFIX, SYNCSTATUS_PREFIX, TODO_PREFIX, VERSION_PREFIX};

/// The links of one resource directory, as a tree store has them.
pub trait Links {
    /// A link's value (the bytes of its target).
    type Value: core::ops::Deref<Target = [u8]>;
    type Error;

    /// Link `name` of the directory (`replay-node1`, `todo-node1/sync`): its value and
    /// its stamp (ns), or `None` when it is missing or deleted.
    fn stamped(&self, name: fmt::Arguments<'_>) -> Result<Option<(Self::Value, u64)>, Self::Error>;

    /// Calls `each` with the name of every entry of the directory.
    fn names(&self, each: &mut dyn FnMut(&str)) -> Result<(), Self::Error>;

    /// [`Links::stamped`] without the stamp.
    fn read(&self, name: fmt::Arguments<'_>) -> Result<Option<Self::Value>, Self::Error> {
        Ok(self.stamped(name)?.map(|(v, _)| v))
    }
}

/// A value as text: up to the first invalid byte is not trusted, so invalid UTF-8 is
/// empty; trailing white space (a value written with `echo`) is not part of it.
pub fn text(value: &[u8]) -> &str {
    core::str::from_utf8(value).unwrap_or("").trim_end()
}

fn number<V: core::ops::Deref<Target = [u8]>>(value: Option<V>) -> Option<u64> {
    value.and_then(|v| text(&v).parse().ok())
}

/// What a host does with a resource this round: the resource's state machine on one
/// host, every transition in one place. The state is the role the resource has here
/// (`current`: [`Role::Detached`] when the disk is not held), the input the role the
/// tree asks for (`want`, `role::desired_role`) and whether the device is open:
///
/// | here, asked | detached | secondary | primary |
/// |---|---|---|---|
/// | detached | [`Step::Idle`] | [`Step::Attach`] | [`Step::Attach`] |
/// | secondary | [`Step::Detach`] | [`Step::Follow`] | [`Step::TakeOver`] |
/// | primary | [`Step::Detach`] | [`Step::Remain`] while open, else [`Step::Follow`] | [`Step::StayPrimary`] |
///
/// After [`Step::Attach`] the host is a secondary and takes that row's step in the same
/// round. A host back from a crash as primary (its `actual-<me>/is-primary` = 1, no
/// device) is a secondary here: [`Step::TakeOver`] recovers its own log
/// (`handover::Mode::Own`), [`Step::Follow`] recovers it first and then follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Detached, and asked to stay so: nothing.
    Idle,
    /// Detached, asked to be attached: the disk is opened (exclusively), then the
    /// step of a secondary.
    Attach,
    /// Primary, and designated: goes on (emergency mode, log rotation, growth).
    StayPrimary,
    /// Designated, not primary yet: takes over when [`takeover_here`] says so, and
    /// follows meanwhile.
    TakeOver,
    /// Designated elsewhere, still primary with the device open: the device goes once
    /// nobody has it open (an application is never cut off).
    Remain,
    /// A secondary: leaves the primary role if it has it, then [`follow`]s.
    Follow,
    /// Attached, asked to be detached: the device goes (refused while it is open), then
    /// the disk is closed.
    Detach,
}

/// The [`Step`] of a host whose resource has the role `current` here and the tree asks
/// for `want` (`open`: its device is open).
pub fn step(want: Role, current: Role, open: bool) -> Step {
    match (current, want) {
        (Role::Detached, Role::Detached) => Step::Idle,
        (Role::Detached, _) => Step::Attach,
        (_, Role::Detached) => Step::Detach,
        (Role::Primary, Role::Primary) => Step::StayPrimary,
        (_, Role::Primary) => Step::TakeOver,
        (Role::Primary, _) if open => Step::Remain,
        _ => Step::Follow,
    }
}

/// Whether `me`, designated primary and not primary yet, takes over now
/// (`handover::takeover` on what the links here say; `fetch_on`: its fetch switch).
/// `None`: it has no replay link it could take over from.
pub fn takeover_here<L: Links>(links: &L, me: &str, size: u64, fetch_on: bool) -> Result<Option<Takeover>, L::Error> {
    let Some(replay_raw) = links.read(format_args!("{REPLAY_PREFIX}{me}"))? else { return Ok(None) };
    let Ok(replay) = ReplayLink::parse(text(&replay_raw)) else { return Ok(None) };
    let mine = links.read(format_args!("{VERSION_PREFIX}{:09}-{me}", replay.log.nr))?;
    let consistent = consistent_at(links, me, size, &replay)?;
    let superseded = superseding(links, me, replay.log.host, replay.log.nr)?.is_some() || went_on_unseen(links, me, replay.log.nr)?;
    let here = Here { replay, version: mine.as_ref().map(|v| text(v)), fetch_on, consistent, superseded };
    let old_host = replay.log.host;
    // With their stamps (`Stamps::final_links`); a deleted link counts as missing.
    let split = |l: Option<(L::Value, u64)>| match l {
        Some((v, stamp)) => (Some(v), stamp),
        None => (None, 0),
    };
    let (is_primary, is_primary_stamp) = split(links.stamped(format_args!("{ACTUAL_PREFIX}{old_host}/is-primary"))?);
    let (old_replay_raw, replay_stamp) = split(links.stamped(format_args!("{REPLAY_PREFIX}{old_host}"))?);
    let old_replay = old_replay_raw.as_ref().and_then(|v| ReplayLink::parse(text(v)).ok());
    let (old_version, version_stamp) = match old_replay {
        Some(l) => split(links.stamped(format_args!("{VERSION_PREFIX}{:09}-{old_host}", l.log.nr))?),
        None => (None, 0),
    };
    let designated = links.stamped(format_args!("{PRIMARY}"))?.map_or(0, |(_, stamp)| stamp);
    let old = OldPrimary {
        is_primary: is_primary.as_ref().map(|v| text(v) == "1"),
        replay: old_replay,
        version: old_version.as_ref().map(|v| text(v)),
        stamps: Stamps { is_primary: is_primary_stamp, replay: replay_stamp, version: version_stamp, designated },
    };
    Ok(Some(takeover(me, &here, &old)))
}

/// The host that went on after `origin`, the writer of logfile `nr` that `me` replays
/// (`handover::Here::superseded`): a host other than these two whose `is-primary` = 1 is
/// newer than `origin`'s `is-primary` (it took over after `origin`), or comes with another
/// version of logfile `nr` than `me`'s (it took over by force), or with a `took-over`
/// that names `origin` (it took over from `origin`: `origin` may have written its
/// `is-primary` = 0 again since, after a crash took it back there, which made it look
/// newer; found by the simulation, docu/simulation.md), or the writer of a
/// logfile `nr` + 1 that continues `me`'s history (its version link chains onto `me`'s
/// version link of `nr`; the logfiles of a diverged host do not) or, where `origin` is
/// another host, that went on from the same logfile `nr` at another position and took
/// over after `origin` did (its `took-over` is newer: it took over by force there while
/// `origin` wrote on, `me` followed `origin`'s branch, and a planned takeover on it, once
/// `origin` had left, lost what that host logged afterwards; found by the simulation,
/// docu/simulation.md), or that took over after `origin` and has left again with its
/// own logfile `nr` (`forked_after`). (On its own logfile, the designation has chosen
/// `me`'s branch.) A link that cannot be read counts as such a host: `me` waits rather
/// than guess.
pub fn superseding<L: Links>(links: &L, me: &str, origin: &str, nr: u32) -> Result<Option<Host>, L::Error> {
    let since = links.stamped(format_args!("{ACTUAL_PREFIX}{origin}/is-primary"))?.map_or(0, |(_, stamp)| stamp);
    let mine = links.read(format_args!("{VERSION_PREFIX}{nr:09}-{me}"))?;
    let head = mine.as_ref().map(|v| text(v).split(':').next().unwrap_or(""));
    let Some(next) = nr.checked_add(1) else { return Ok(None) };
    let mut found: Option<Host> = None;
    links.names(&mut |name| {
        if found.is_some() {
            return;
        }
        if let Some(host) = name.strip_prefix(ACTUAL_PREFIX).filter(|h| *h != me && *h != origin) {
            // Primary since `origin`'s time, or primary on another version of logfile
            // `nr` than `me`'s (a forced failover: `origin` may have left after it).
            let went_on = match links.stamped(format_args!("{ACTUAL_PREFIX}{host}/is-primary")) {
                Ok(Some((v, stamp))) if text(&v) == "1" => {
                    stamp > since
                        || match links.read(format_args!("{VERSION_PREFIX}{nr:09}-{host}")) {
                            Ok(theirs) => theirs.is_some_and(|t| mine.as_ref().is_none_or(|m| text(&t) != text(m))),
                            Err(_) => true,
                        }
                        || match links.read(format_args!("{ACTUAL_PREFIX}{host}/{TOOK_OVER}")) {
                            Ok(took) => took.is_some_and(|t| text(&t).split_once(',').is_some_and(|(_, from)| from == origin)),
                            Err(_) => true,
                        }
                }
                Ok(Some((_, left))) => left_unseen(links, host, origin, left) || (origin != me && forked_after(links, host, origin, nr)),
                Ok(None) => false,
                Err(_) => true,
            };
            found = Host::new(host).filter(|_| went_on);
        } else if let Some((digits, host)) = name.strip_prefix(VERSION_PREFIX).and_then(|r| r.split_once('-')) {
            if host == me || digits.parse::<u32>().ok() != Some(next) || digits.len() != 9 {
                return;
            }
            found = match links.read(format_args!("{name}")) {
                Ok(None) => None,
                Ok(Some(v)) => VersionLink::parse(text(&v))
                    .ok()
                    .filter(|l| {
                        l.log.nr == next
                            && l.log.host != me
                            && head.is_some_and(|h| l.prev_head == h || (origin != me && same_logfile(l.prev_head, h) && took_over_after(links, l.log.host, origin)))
                    })
                    .and_then(|l| Host::new(l.log.host)),
                Err(_) => Host::new(host),
            };
        }
    })?;
    Ok(found)
}

/// Whether `host` took over after `origin` did (the stamps of their `took-over` links;
/// none: never). A link that cannot be read says yes.
fn took_over_after<L: Links>(links: &L, host: &str, origin: &str) -> bool {
    let stamp = |h: &str| links.stamped(format_args!("{ACTUAL_PREFIX}{h}/{TOOK_OVER}")).map(|l| l.map_or(0, |(_, s)| s));
    match (stamp(host), stamp(origin)) {
        (Ok(a), Ok(b)) => a > b,
        _ => true,
    }
}

/// Whether `host` took over after `origin` did and its history has another logfile
/// numbered `nr` than `origin`'s (its version link of `nr` names another writer's): it
/// forked the branch `origin` wrote on, and what it logged on its own branch, before it
/// left the primary role again, is the newer history. A planned takeover on `origin`'s
/// branch lost it (found by the simulation, seed 123 with resizes: node3 failed over by
/// force from node2, wrote its own logfile 6, handed over to node1, which had replayed
/// node2's logfile 6 and took over on it). A link that cannot be read says yes.
fn forked_after<L: Links>(links: &L, host: &str, origin: &str, nr: u32) -> bool {
    match links.read(format_args!("{VERSION_PREFIX}{nr:09}-{host}")) {
        Ok(Some(v)) => VersionLink::parse(text(&v)).is_ok_and(|l| l.log.nr == nr && l.log.host != origin) && took_over_after(links, host, origin),
        Ok(None) => false,
        Err(_) => true,
    }
}

/// Whether member `host`, whose `is-primary` = 0 is stamped `left`, took over after
/// `origin` did and has left the primary role since, and its final replay link (written
/// again after `is-primary` = 0, `Stamps::final_links`) has not arrived here: what it
/// logged is not known yet. A listing is merged entry by entry, and `actual-<host>/`
/// comes before `replay-<host>`: a designated host that had merged its predecessor's
/// `is-primary` = 0 but not yet its last links took over on its own logfile and lost
/// what that host had logged after it (found by the simulation, seed 11108). A link
/// that cannot be read says yes.
fn left_unseen<L: Links>(links: &L, host: &str, origin: &str, left: u64) -> bool {
    let stamp = |name: fmt::Arguments<'_>| links.stamped(name).map(|l| l.map(|(_, s)| s));
    let member = links.read(format_args!("{DATA_PREFIX}{host}")).map(|d| d.is_some());
    let took = (stamp(format_args!("{ACTUAL_PREFIX}{host}/{TOOK_OVER}")), stamp(format_args!("{ACTUAL_PREFIX}{origin}/{TOOK_OVER}")));
    match (member, took, stamp(format_args!("{REPLAY_PREFIX}{host}"))) {
        // (A replay link deleted: the host left the resource.)
        (Ok(false), ..) | (Ok(true), _, Ok(None)) => false,
        (Ok(true), (Ok(Some(took)), Ok(theirs)), Ok(Some(replay))) => took > theirs.unwrap_or(0) && took < left && replay < left,
        (Ok(true), (Ok(None), Ok(_)), Ok(Some(_))) => false,
        _ => true,
    }
}

/// Whether two version-link heads (`<md5>,<logfile>,<pos>`) name the same logfile.
fn same_logfile(a: &str, b: &str) -> bool {
    head_log(a).is_some_and(|log| head_log(b) == Some(log))
}

/// Whether another host's replay link is beyond logfile `nr` while no version link of
/// `nr` + 1 (of a host other than `me`) is known here: the history went on, and whether
/// it continues `me`'s cannot be told yet ([`superseding`] tells it once the version
/// link is here). A host designated primary on its own logfile `nr` waits then: a crash
/// can take back what it had merged of its peers' links (found by the simulation, seed
/// 518 with `--invalidate`: it took over on its own logfile and lost the writes of the
/// primary after it). A link that cannot be read counts as beyond; a replay link whose
/// history went past a hole spanning `nr` + 1 does not ([`skipped_by_hole`]).
pub fn went_on_unseen<L: Links>(links: &L, me: &str, nr: u32) -> Result<bool, L::Error> {
    let Some(next) = nr.checked_add(1) else { return Ok(false) };
    let (mut next_known, mut beyond) = (false, false);
    links.names(&mut |name| {
        if let Some(host) = name.strip_prefix(REPLAY_PREFIX).filter(|h| *h != me) {
            beyond |= match links.read(format_args!("{name}")) {
                Ok(v) => v.is_some_and(|v| {
                    ReplayLink::parse(text(&v)).is_ok_and(|l| l.log.nr > nr && !skipped_by_hole(links, host, l.log.nr, next).unwrap_or(false))
                }),
                Err(_) => true,
            };
        } else if let Some((digits, host)) = name.strip_prefix(VERSION_PREFIX).and_then(|r| r.split_once('-')) {
            next_known |= host != me && digits.len() == 9 && digits.parse::<u32>().ok() == Some(next);
        }
    })?;
    Ok(beyond && !next_known)
}

/// Whether the history of `host`, replaying logfile `nr`, skipped logfile `skipped` (<
/// `nr`) at a hole of emergency mode: going down its version links from `nr` (from a
/// link that chains onto nothing, the one `HOLE` numbers below, where its writer ceased
/// logging), one chains onto nothing and comes `HOLE` numbers after a logfile below
/// `skipped`. A host whose history went
/// past a hole never went through the logfiles in it: one that ceased logging and was
/// then failed over from (diverged) kept its replay link beyond, and the designated
/// primary that crashed on its own older logfile waited for it forever (found by the
/// simulation, docu/simulation.md). A missing link, or more than `MAX_WALK` of them,
/// says no.
fn skipped_by_hole<L: Links>(links: &L, host: &str, nr: u32, skipped: u32) -> Result<bool, L::Error> {
    const MAX_WALK: u32 = 64;
    let mut k = nr;
    for _ in 0..MAX_WALK {
        if k <= skipped {
            return Ok(false);
        }
        let Some(raw) = links.read(format_args!("{VERSION_PREFIX}{k:09}-{host}"))? else { return Ok(false) };
        let Ok(link) = VersionLink::parse(text(&raw)) else { return Ok(false) };
        if link.log.nr != k {
            return Ok(false);
        }
        k = match (link.prev_head.is_empty(), k.checked_sub(HOLE)) {
            // A hole: the writer ceased logging in `start`.
            (true, Some(start)) if start < skipped => return Ok(true),
            (true, Some(start)) => start,
            (true, None) => return Ok(false),
            (false, _) => k - 1,
        };
    }
    Ok(false)
}

/// The sync status a primary whose device has `size` records for its own disk: `size`
/// where its `syncstatus-<me>` is below it (`None`: as it is). A primary's disk is the
/// resource's copy, also in an area a resize added, as `marsadm resize` declares it on
/// the primary; a host failed over to by force that heard of a resize only after it
/// had taken over (its status the old size) was a primary no link called consistent:
/// no host could take over from it again, not even itself after leaving the role
/// (found by the simulation, seed 5151). It never synced the new area (a status below
/// the size is no consistent copy, nothing takes over with it): that area holds what
/// its disk had there and every write made there, logged and replayed.
pub fn primary_status<L: Links>(links: &L, me: &str, size: u64) -> Result<Option<u64>, L::Error> {
    let status = number(links.read(format_args!("{SYNCSTATUS_PREFIX}{me}"))?);
    Ok(status.filter(|s| *s < size).map(|_| size))
}

/// Where `me`'s full sync from `source` starts (`syncruns::start_at` on what the links
/// here say: `syncstatus-<me>`, the source the blocks below it came from, recorded in
/// `actual-<me>/sync-source`, and `actual-<source>/took-over` where it is newer than the
/// `primary` link, so about this designation); `waited_ms`: how long the sync has waited
/// to learn how `source` took over. Returns the status too.
pub fn sync_start<L: Links>(links: &L, me: &str, source: &str, waited_ms: u64) -> Result<(u64, Start), L::Error> {
    let status = number(links.read(format_args!("{SYNCSTATUS_PREFIX}{me}"))?).unwrap_or(0);
    let recorded = links.read(format_args!("{ACTUAL_PREFIX}{me}/{SYNC_SOURCE}"))?;
    let designated = links.stamped(format_args!("{PRIMARY}"))?.map_or(0, |(_, stamp)| stamp);
    let took_over = links.stamped(format_args!("{ACTUAL_PREFIX}{source}/{TOOK_OVER}"))?.filter(|(_, stamp)| *stamp > designated);
    let start = start_at(status, recorded.as_deref().map(text), source, took_over.as_ref().map(|(v, _)| text(v)), waited_ms);
    Ok((status, start))
}

/// Whether `me`'s disk is a consistent copy (`replication::is_consistent`); false
/// without a replay link.
pub fn consistent<L: Links>(links: &L, me: &str, size: u64) -> Result<bool, L::Error> {
    let Some(raw) = links.read(format_args!("{REPLAY_PREFIX}{me}"))? else { return Ok(false) };
    match ReplayLink::parse(text(&raw)) {
        Ok(replay) => consistent_at(links, me, size, &replay),
        Err(_) => Ok(false),
    }
}

fn consistent_at<L: Links>(links: &L, me: &str, size: u64, replay: &ReplayLink<'_>) -> Result<bool, L::Error> {
    let synced = number(links.read(format_args!("{SYNCSTATUS_PREFIX}{me}"))?).unwrap_or(size);
    let syncpos_raw = links.read(format_args!("{SYNCPOS_PREFIX}{me}"))?;
    let syncpos = syncpos_raw.as_ref().and_then(|v| ReplayLink::parse(text(v)).ok());
    Ok(is_consistent(size, synced, syncpos.as_ref(), replay))
}

/// A host name held by value (a decision that outlives the links it was read from).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Host {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Host {
    /// `None` if longer than any valid host name.
    pub fn new(name: &str) -> Option<Host> {
        let mut bytes = [0; MAX_NAME_LEN];
        bytes.get_mut(..name.len())?.copy_from_slice(name.as_bytes());
        Some(Host { bytes, len: name.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        // Copied from a `&str` whole: always valid.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What a secondary's disk and connections are doing here, for [`follow`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// `todo-<me>/connect` is on.
    pub connected: bool,
    /// A full sync runs here now.
    pub syncing: bool,
    /// The host's sync limit lets another full sync start now (`syncgate::may_start`).
    pub sync_slot_free: bool,
    /// `/mars` has room for a full sync (below emergency level 3, the resource within
    /// its limit: `emergency::ResourceEmergency::may_sync`).
    pub space_allows_sync: bool,
}

/// A secondary's work this round (also of a designated primary that waits to take
/// over): see [`follow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// Whom to fetch logfiles from (`handover::fetch_source`, while connected).
    pub fetch: Option<Host>,
    /// From whom a full sync is wanted (the designated primary): the disk is not a
    /// copy yet, the sync switch is on and `/mars` has room.
    pub sync_wanted: Option<Host>,
    /// The wanted sync runs (it does, or a slot is free).
    pub sync_runs: bool,
    /// When the sync was asked for: the newer stamp of `todo-<me>/attach` and
    /// `todo-<me>/sync` (its place in the queue, `syncgate::Place::asked`).
    pub sync_asked: u64,
    /// Replay runs: only on a synced disk, never together with the sync.
    pub replay_on: bool,
}

impl Follow {
    /// The wanted sync waits for a slot: when it was asked for (it keeps its place in
    /// the queue).
    pub fn sync_queued(&self) -> Option<u64> {
        Some(self.sync_asked).filter(|_| self.sync_wanted.is_some() && !self.sync_runs)
    }

    /// The sync to run: from whom.
    pub fn sync_from(&self) -> Option<&str> {
        self.sync_wanted.as_ref().filter(|_| self.sync_runs).map(Host::as_str)
    }
}

/// A secondary's work: fetch from `handover::fetch_source` while connected; a disk that
/// is not a copy yet is synced first from the designated primary `primary` (once a slot
/// is free, else it is queued); replay runs only on a synced disk.
pub fn follow<L: Links>(links: &L, me: &str, primary: Option<&str>, size: u64, here: Activity) -> Result<Follow, L::Error> {
    let replay = links.read(format_args!("{REPLAY_PREFIX}{me}"))?;
    let replaying = replay.as_ref().and_then(|v| ReplayLink::parse(text(v)).ok());
    let mut fetch = replaying.and_then(|l| fetch_source(primary, me, l.log)).and_then(Host::new);
    if let Some(l) = replaying.filter(|_| primary == Some(me)) {
        // Designated, and another host went on after the writer of the logfile it
        // replays (a handover back, or on): what it has to catch up with comes from there.
        fetch = superseding(links, me, l.log.host, l.log.nr)?.or(fetch);
    }
    let fetch = fetch.filter(|_| here.connected);
    let synced = number(links.read(format_args!("{SYNCSTATUS_PREFIX}{me}"))?).unwrap_or(size);
    let sync_switch = links.stamped(format_args!("{TODO_PREFIX}{me}/sync"))?;
    let sync_on = switch_on(sync_switch.as_ref().map(|(v, _)| &**v));
    let sync_wanted = primary.filter(|p| *p != me && synced < size && sync_on && here.space_allows_sync).and_then(Host::new);
    let attached = links.stamped(format_args!("{TODO_PREFIX}{me}/attach"))?;
    let sync_asked = [sync_switch, attached].iter().flatten().map(|(_, stamp)| *stamp).max().unwrap_or(0);
    let sync_runs = sync_wanted.is_some() && (here.syncing || here.sync_slot_free);
    let replay_switch = links.read(format_args!("{TODO_PREFIX}{me}/allow-replay"))?;
    let replay_on = synced >= size && switch_on(replay_switch.as_deref());
    Ok(Follow { fetch, sync_wanted, sync_runs, sync_asked, replay_on })
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::handover::{Mode, Wait};
    use super::super::tree::DELETED;
    use std::collections::BTreeMap;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// A resource directory in memory: name -> (value, stamp).
    #[derive(Default)]
    struct Dir(BTreeMap<String, (String, u64)>);

    impl Dir {
        fn set(&mut self, name: &str, value: &str, stamp: u64) -> &mut Self {
            self.0.insert(name.to_string(), (value.to_string(), stamp));
            self
        }
    }

    impl Links for Dir {
        type Value = Vec<u8>;
        type Error = ();
        fn stamped(&self, name: fmt::Arguments<'_>) -> Result<Option<(Vec<u8>, u64)>, ()> {
            Ok(self.0.get(&std::fmt::format(name)).filter(|(v, _)| v != DELETED).map(|(v, s)| (v.as_bytes().to_vec(), *s)))
        }

        fn names(&self, each: &mut dyn FnMut(&str)) -> Result<(), ()> {
            let entries: std::collections::BTreeSet<&str> = self.0.keys().map(|k| k.split('/').next().unwrap_or(k)).collect();
            entries.into_iter().for_each(each);
            Ok(())
        }
    }

    const V: &str = "aa,log-000000003-node1,1000:bb";

    /// node2, designated, has replayed node1's logfile 3 to its end; node1 has left the
    /// primary role and written its final links after that.
    const V3_NODE2: &str = "00112233445566778899aabbccddeeff,log-000000003-node2,7:0123456789abcdef0123456789abcdef,log-000000002-node1,70";

    fn handed_over() -> Dir {
        let mut d = Dir::default();
        d.set("replay-node2", "log-000000003-node1,1000,0", 5)
            .set("version-000000003-node2", V, 5)
            .set("actual-node1/is-primary", "0", 10)
            .set("replay-node1", "log-000000003-node1,1000,0", 11)
            .set("version-000000003-node1", V, 12);
        d
    }

    #[test]
    fn takeover_from_the_links() {
        let d = handed_over();
        assert_eq!(takeover_here(&d, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Planned))));
        assert_eq!(takeover_here(&d, "node2", 100, false), Ok(Some(Takeover::Now(Mode::Forced))));
        // node3 went on from an earlier position of logfile 3 (failed over to by force
        // while node1 wrote on, and node2 followed node1): wait, else what node3 logged
        // is lost (found by the simulation).
        let mut forked = handed_over();
        forked.set("version-000000004-node3", "fedcba9876543210fedcba9876543210,log-000000004-node3,10:0123456789abcdef0123456789abcdef,log-000000003-node1,900", 13);
        forked.set("actual-node3/took-over", "forced,node1", 6);
        assert_eq!(takeover_here(&forked, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        // Unless node1 took over after node3 did (node3's branch is the older one).
        forked.set("actual-node1/took-over", "forced,node3", 7);
        assert_eq!(takeover_here(&forked, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Planned))));
        // node3 took over by force after node1 did, wrote its own logfile 3 (node2 followed
        // node1's) and has left the primary role since, its final links here: wait, else
        // what node3 logged is lost (found by the simulation, seed 123 with resizes).
        let mut sibling = handed_over();
        sibling.set("actual-node1/took-over", "planned,node4", 2).set("actual-node3/took-over", "forced,node1", 6);
        sibling.set("actual-node3/is-primary", "0", 7).set("replay-node3", "log-000000003-node3,40,0", 8);
        sibling.set("version-000000003-node3", "fedcba9876543210fedcba9876543210,log-000000003-node3,40:0123456789abcdef0123456789abcdef,log-000000002-node1,70", 8);
        assert_eq!(takeover_here(&sibling, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        // Not when it took over before node1 did: node1's branch is the newer one.
        sibling.set("actual-node3/took-over", "forced,node1", 1);
        assert_eq!(takeover_here(&sibling, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Planned))));
        // Nor on this host's own logfile: the designation chose its branch (two forced
        // failovers whose stamps do not tell which came first).
        let mut mine = Dir::default();
        mine.set("replay-node2", "log-000000003-node2,7,0", 5).set("version-000000003-node2", V3_NODE2, 5);
        mine.set("actual-node2/took-over", "forced,node1", 3).set("actual-node3/took-over", "own,node3", 4);
        mine.set("actual-node3/is-primary", "0", 6).set("replay-node3", "log-000000003-node3,40,0", 7);
        mine.set("version-000000003-node3", "fedcba9876543210fedcba9876543210,log-000000003-node3,40:0123456789abcdef0123456789abcdef,log-000000002-node1,70", 7);
        assert_eq!(takeover_here(&mine, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // node3 primary, took over from node1 (node1's is-primary = 0 written again after
        // a crash, newer than node3's): wait.
        let mut on = handed_over();
        on.set("actual-node3/is-primary", "1", 8).set("actual-node3/took-over", "planned,node1", 7);
        assert_eq!(takeover_here(&on, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        on.set("actual-node3/took-over", "forced,node4", 7);
        assert_eq!(takeover_here(&on, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Planned))));
        // No replay link here, or one that does not parse: nothing to take over from.
        assert_eq!(takeover_here(&d, "node3", 100, true), Ok(None));
        let mut bad = handed_over();
        bad.set("replay-node2", "log-x", 5);
        assert_eq!(takeover_here(&bad, "node2", 100, true), Ok(None));
        // The final links' stamps count: read before is-primary = 0, they are not final.
        let mut early = handed_over();
        early.set("replay-node1", "log-000000003-node1,1000,0", 9);
        assert_eq!(takeover_here(&early, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NoFinalPosition))));
        // An unfinished sync: never, not even forced.
        let mut unsynced = handed_over();
        unsynced.set("syncstatus-node2", "50", 5);
        assert_eq!(takeover_here(&unsynced, "node2", 100, false), Ok(Some(Takeover::Wait(Wait::NotConsistent))));
        // Its own logfile: recovery at once, unless another primary logged after it
        // (handed back before its replay moved on to that logfile: found by the
        // simulation, seed 17).
        let mut own = Dir::default();
        let mine = "0123456789abcdef0123456789abcdef,log-000000002-node2,77:";
        own.set("replay-node2", "log-000000002-node2,77,0", 5).set("version-000000002-node2", mine, 5);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("version-000000002-node1", mine, 6);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // Another host primary now, after this host's time (its is-primary newer than
        // this host's): wait. A stale one (this host took over after it): recovery.
        own.set("actual-node2/is-primary", "0", 4).set("actual-node1/is-primary", "1", 6);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        own.set("actual-node2/is-primary", "1", 7);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // Unless it is primary on another version of this host's logfile (it took over
        // by force from this host): this host has the older copy, it waits.
        own.set("version-000000002-node1", "0123456789abcdef0123456789abcdef,log-000000002-node2,70:", 7);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        own.set("actual-node1/is-primary", "0", 8);
        // A logfile after its own that continues its history (chained onto its version
        // link): wait. A deleted one, or one of another history (a diverged host's): not.
        let after = |prev: &str| std::format!("fedcba9876543210fedcba9876543210,log-000000003-node1,5:{prev}");
        own.set("version-000000003-node1", &after("00000000000000000000000000000000,log-000000002-node1,9"), 7);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("version-000000003-node1", DELETED, 8);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("version-000000003-node1", &after("0123456789abcdef0123456789abcdef,log-000000002-node2,77"), 9);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        // A logfile after it that went on from another position of its own logfile:
        // the designation chose this host's branch (a forced failover back to it).
        own.set("version-000000003-node1", &after("0123456789abcdef0123456789abcdef,log-000000002-node2,70"), 10);
        own.set("actual-node1/took-over", "forced,node2", 9);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // Another host's replay link beyond its logfile, and no version link of the
        // next number known (a crash took it back here): wait. Once the version link
        // is here, it decides.
        let mut own = Dir::default();
        own.set("replay-node2", "log-000000002-node2,77,0", 5).set("version-000000002-node2", mine, 5);
        own.set("replay-node1", "log-000000003-node1,5,0", 6);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        own.set("version-000000003-node1", &after("00000000000000000000000000000000,log-000000002-node1,9"), 7);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("replay-node1", "log-000000002-node2,77,0", 8).set("version-000000003-node1", DELETED, 8);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // A member that took over after this host and has left the primary role since,
        // whose final replay link has not arrived here (its is-primary = 0 has): wait
        // (found by the simulation, seed 11108). Once it is here, it decides.
        let mut own = Dir::default();
        own.set("replay-node2", "log-000000002-node2,77,0", 5).set("version-000000002-node2", mine, 5);
        own.set("data-node1", "/dev/vdb", 1).set("replay-node1", "log-000000002-node2,77,0", 4);
        own.set("actual-node1/took-over", "planned,node2", 6).set("actual-node1/is-primary", "0", 9);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::NotCaughtUp))));
        own.set("replay-node1", "log-000000002-node2,77,0", 10);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // Not when it took over before this host did, left the resource, or is primary
        // now only by a crash before its takeover was written.
        own.set("replay-node1", "log-000000002-node2,77,0", 4);
        own.set("actual-node2/took-over", "forced,node1", 7);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("actual-node2/took-over", DELETED, 7).set("data-node1", DELETED, 11).set("replay-node1", DELETED, 11);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        own.set("data-node1", "/dev/vdb", 12).set("replay-node1", "log-000000002-node2,77,0", 4).set("actual-node1/is-primary", "0", 5);
        assert_eq!(takeover_here(&own, "node2", 100, true), Ok(Some(Takeover::Now(Mode::Own))));
        // The old primary's links missing: it has not left.
        let mut d = Dir::default();
        d.set("replay-node2", "log-000000003-node1,1000,0", 5);
        assert_eq!(takeover_here(&d, "node2", 100, true), Ok(Some(Takeover::Wait(Wait::OldPrimaryActive))));
    }

    #[test]
    fn consistency_from_the_links() {
        let mut d = Dir::default();
        assert_eq!(consistent(&d, "node2", 100), Ok(false));
        d.set("replay-node2", "log-000000003-node1,1000,0", 1);
        assert_eq!(consistent(&d, "node2", 100), Ok(true));
        d.set("syncstatus-node2", "99", 1);
        assert_eq!(consistent(&d, "node2", 100), Ok(false));
        d.set("syncstatus-node2", "100", 1).set("syncpos-node2", "log-000000003-node1,2000,0", 1);
        assert_eq!(consistent(&d, "node2", 100), Ok(false));
        d.set("replay-node2", "log-000000003-node1,2000,0", 1);
        assert_eq!(consistent(&d, "node2", 100), Ok(true));
    }

    #[test]
    fn a_primary_owns_the_area_a_resize_added() {
        let mut d = Dir::default();
        // Created with the resource, or synced whole: as it is.
        assert_eq!(primary_status(&d, "node2", 100), Ok(None));
        d.set("syncstatus-node2", "100", 1);
        assert_eq!(primary_status(&d, "node2", 100), Ok(None));
        // A resize it heard of after it took over (seed 5151): the grown size.
        assert_eq!(primary_status(&d, "node2", 160), Ok(Some(160)));
    }

    #[test]
    fn a_sync_starts_where_the_links_say() {
        let mut d = Dir::default();
        // Never synced: at 0, at once.
        assert_eq!(sync_start(&d, "node2", "node1", 0), Ok((0, Start::At(0))));
        d.set("syncstatus-node2", "4096", 1).set("actual-node2/sync-source", "node1", 1).set("primary", "node3", 5);
        // Its blocks are node1's, node3 is primary now: how node3 took over decides,
        // told by a took-over newer than the designation; an older one is about another.
        d.set("actual-node3/took-over", "planned,node1", 4);
        assert_eq!(sync_start(&d, "node2", "node3", 0), Ok((4096, Start::Wait)));
        d.set("actual-node3/took-over", "planned,node1", 6);
        assert_eq!(sync_start(&d, "node2", "node3", 0), Ok((4096, Start::At(4096))));
        d.set("actual-node3/took-over", "forced,node1", 7);
        assert_eq!(sync_start(&d, "node2", "node3", 0), Ok((4096, Start::At(0))));
        // From the same source: resumed.
        assert_eq!(sync_start(&d, "node2", "node1", 0), Ok((4096, Start::At(4096))));
    }

    #[test]
    fn steps() {
        for want in [Role::Detached, Role::Secondary, Role::Primary] {
            assert_eq!(step(want, Role::Detached, false), if want == Role::Detached { Step::Idle } else { Step::Attach });
        }
        assert_eq!(step(Role::Detached, Role::Secondary, false), Step::Detach);
        // Refused while open, by whoever performs it (an application is never cut off).
        assert_eq!(step(Role::Detached, Role::Primary, true), Step::Detach);
        assert_eq!(step(Role::Primary, Role::Primary, true), Step::StayPrimary);
        assert_eq!(step(Role::Primary, Role::Secondary, false), Step::TakeOver);
        assert_eq!(step(Role::Secondary, Role::Primary, true), Step::Remain);
        assert_eq!(step(Role::Secondary, Role::Primary, false), Step::Follow);
        assert_eq!(step(Role::Secondary, Role::Secondary, false), Step::Follow);
    }

    #[test]
    fn follow_fetches_syncs_replays() {
        let on = Activity { connected: true, syncing: false, sync_slot_free: true, space_allows_sync: true };
        let mut d = Dir::default();
        d.set("replay-node2", "log-000000003-node1,0,0", 1).set("todo-node2/sync", "1", 1).set("todo-node2/allow-replay", "1", 1);
        let f = follow(&d, "node2", Some("node1"), 100, on).unwrap();
        assert_eq!(f.fetch.map(|h| h.as_str().to_string()), Some("node1".into()));
        assert_eq!((f.sync_wanted, f.sync_runs, f.replay_on), (None, false, true));
        // Disconnected: no fetch.
        assert_eq!(follow(&d, "node2", Some("node1"), 100, Activity { connected: false, ..on }).unwrap().fetch, None);
        // An unfinished sync: from the designated primary, and no replay meanwhile.
        d.set("syncstatus-node2", "10", 1);
        let f = follow(&d, "node2", Some("node1"), 100, on).unwrap();
        assert_eq!((f.sync_from(), f.sync_queued(), f.replay_on), (Some("node1"), None, false));
        // No slot free: queued, at the stamp of the newer of the attach and sync
        // switches; a sync that runs keeps running.
        let f = follow(&d, "node2", Some("node1"), 100, Activity { sync_slot_free: false, ..on }).unwrap();
        assert_eq!((f.sync_from(), f.sync_queued()), (None, Some(1)));
        d.set("todo-node2/attach", "1", 4);
        let f = follow(&d, "node2", Some("node1"), 100, Activity { sync_slot_free: false, ..on }).unwrap();
        assert_eq!(f.sync_queued(), Some(4));
        let f = follow(&d, "node2", Some("node1"), 100, Activity { sync_slot_free: false, syncing: true, ..on }).unwrap();
        assert_eq!((f.sync_from(), f.sync_queued()), (Some("node1"), None));
        // No room in /mars, the sync switch off, no designated primary, or this host
        // designated: no sync.
        assert_eq!(follow(&d, "node2", Some("node1"), 100, Activity { space_allows_sync: false, ..on }).unwrap().sync_wanted, None);
        assert_eq!(follow(&d, "node2", None, 100, on).unwrap().sync_wanted, None);
        assert_eq!(follow(&d, "node2", Some("node2"), 100, on).unwrap().sync_wanted, None);
        d.set("todo-node2/sync", "0", 2);
        assert_eq!(follow(&d, "node2", Some("node1"), 100, on).unwrap().sync_wanted, None);
        // Replay switched off.
        d.set("syncstatus-node2", "100", 2).set("todo-node2/allow-replay", "0", 2);
        assert!(!follow(&d, "node2", Some("node1"), 100, on).unwrap().replay_on);
    }

    #[test]
    fn host_names_by_value() {
        assert_eq!(Host::new("node1").map(|h| h.as_str().to_string()), Some("node1".into()));
        assert!(Host::new(&"x".repeat(MAX_NAME_LEN)).is_some());
        assert!(Host::new(&"x".repeat(MAX_NAME_LEN + 1)).is_none());
    }
}
