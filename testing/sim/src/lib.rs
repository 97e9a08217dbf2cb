//! A deterministic simulation of the replication protocol (docu/simulation.md).
//!
//! Hosts run `mars-core`'s decisions — the strategy's round (`round`), takeover
//! (`handover`), replay's switchover between logfiles (`replication`), the merge of
//! peers' tree listings (`ownership`, `merge`), version links (`tree`), replay's steps
//! (`replication::replay_step`) and split-brain analysis (`splitbrain`) — over simulated
//! trees, logfiles and disks, a simulated network (delay, reordering, duplication, loss,
//! partitions also one way), skewed clocks and host crashes (a power loss: what was not
//! synced or flushed is lost, partly; the tree comes back as a prefix of its journal).
//! What the module's threads do with the decisions (append, sync, write back, fetch,
//! apply, flush) is carried out here in a few lines each. An operator writes, rotates
//! logfiles, hands over and fails over by force, all chosen by one seed: a seed
//! reproduces a run exactly.
//!
//! The checker, after every step of the world: every host's disk holds exactly the
//! records of the logfile chain it went through (nothing skipped, nothing applied
//! twice); that chain is a prefix of the chain of the logfile's writer (anytime
//! consistency: a secondary is always an older copy of one primary's history, never a
//! mix); a planned takeover has everything the old primary logged. At the end, with the
//! faults healed: hosts whose histories diverged show it (`splitbrain`), and all others
//! converge to the primary's disk.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use mars_core::emergency::after_hole;
use mars_core::handover::{Mode, Stamps, Takeover};
use mars_core::merge::LinkState;
use mars_core::ownership::{classify, decide, refused_path, Verdict};
use mars_core::replication::{check_copy, delete_below, fetch_name, kept_at_leave, leaves_synced_history, sync_serving, SyncServing, replay_after_sync, AfterSync, next_in_sequence, stands_for_writer, version_deletable, replay_step, rewrite_version, switchover, Copy, CopyCheck, NextCopy, ReplayStep, Stop, SwitchLinks, Switchover};
use mars_core::role::{desired_role, switch_on, ResourceLinks, Role};
use mars_core::round::{self, follow, step, takeover_here, text, Activity, Links, Step};
use mars_core::splitbrain::{beyond_primary, compare_histories, version_fate, PairHistory, VersionFate};
use mars_core::splitmix::SplitMix64;
use mars_core::syncruns::{Start, SYNC_FROM, SYNC_SOURCE};
use mars_core::tree::{LogName, ReplayLink, VersionInput, VersionLink, DELETED, NONE, PRIMARY, RESOURCE_PREFIX, SYNCPOS_PREFIX, SYNCSTATUS_PREFIX};
use mars_core::xxh64::xxh64;

/// The one resource of the simulation.
const RES: &str = "r0";
/// Blocks of each host's disk (the resource may be smaller until a resize grows it).
const BLOCKS: u32 = 16;
/// What a block holds after a crash tore the write to it (no write writes this).
const TORN: u64 = u64::MAX;

/// The simulation's random choices: mars-core's SplitMix64, from the run's seed.
#[derive(Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed ^ 0x6a09_e667_f3bc_c909))
    }

    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    /// True with probability `p` per mille.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// A logfile, by number and origin (the host that wrote it).
type LogKey = (u32, String);

/// One logged write: block and the value written (unique per write).
type Record = (u32, u64);

/// A host's Lamport clock over its skewed real-time clock (ns).
struct Clock {
    skew: i64,
    last: u64,
}

impl Clock {
    fn stamp(&mut self, now_ms: u64) -> u64 {
        let real = (now_ms as i64 * 1_000_000 + self.skew).max(1) as u64;
        self.last = real.max(self.last + 1);
        self.last
    }

    fn observe(&mut self, stamp: u64) {
        self.last = self.last.max(stamp);
    }
}

/// A host's `/mars` tree: path relative to `/mars` -> (value, stamp).
type Tree = BTreeMap<String, (String, u64)>;

/// The resource directory of a tree, for `mars_core::round`.
struct DirLinks<'a>(&'a Tree);

impl Links for DirLinks<'_> {
    type Value = Vec<u8>;
    type Error = ();

    fn stamped(&self, name: fmt::Arguments<'_>) -> Result<Option<(Vec<u8>, u64)>, ()> {
        let path = format!("{RESOURCE_PREFIX}{RES}/{name}");
        Ok(self.0.get(&path).filter(|(v, _)| v != DELETED).map(|(v, s)| (v.as_bytes().to_vec(), *s)))
    }

    fn names(&self, each: &mut dyn FnMut(&str)) -> Result<(), ()> {
        // The directory's entries: links, and the `actual-<host>` directories.
        let prefix = format!("{RESOURCE_PREFIX}{RES}/");
        let mut last = "";
        for path in self.0.keys() {
            let Some(rest) = path.strip_prefix(&prefix) else { continue };
            let name = rest.split('/').next().unwrap_or(rest);
            if name != last {
                each(name);
                last = name;
            }
        }
        Ok(())
    }
}

struct Host {
    name: String,
    tree: Tree,
    clock: Clock,
    role: Role,
    /// The application has the device open (it writes while primary).
    open: bool,
    /// The disk as reads see it, and as of its last flush, and the writes since then.
    disk: Vec<u64>,
    flushed: Vec<u64>,
    unflushed: Vec<(u32, u64)>,
    /// Local logfiles: written here (primary) or fetched, and how far each is durable.
    logs: BTreeMap<LogKey, Vec<Record>>,
    synced: BTreeMap<LogKey, usize>,
    /// The `/mars` filesystem's journal since its last commit, each entry what undoes a
    /// change (a crash keeps a prefix of it: xfs and ext4 commit metadata in order, and
    /// every fsync commits all before it).
    journal: Vec<Undo>,
    /// Replay: records of the logfile the replay link names applied from its position
    /// (`from`) up to `end`, not flushed yet.
    applied: Option<(LogKey, usize, usize)>,
    /// The primary's writeback: how far its current logfile is written to the disk.
    written: usize,
    /// Down after a crash until then (ms).
    down_until: u64,
    /// The application ran here when it crashed: it starts again once primary.
    restart_app: bool,
    /// Truth: after a crash, the chain its disk had gone through, while its disk is a
    /// mix (replay has not re-applied all of it yet).
    dirty: Option<Vec<(LogKey, usize)>>,
    /// Truth: the last write the application was told is durable (fsync), per logfile.
    acked: Option<(LogKey, usize)>,
    /// Truth: invalidated, its disk a full sync's mix until the links say consistent.
    resync: bool,
    /// The sync thread asked for the primary's log position (the copy is complete).
    sync_ending: bool,
    /// How often the last blocks were written (the position must answer the end asked
    /// for after the last of them: the module asks once, after everything).
    sync_seq: u64,
    /// When the sync first waited for how its source took over (`syncruns::start_at`).
    sync_waiting: Option<u64>,
    /// The primary refused the sync (the replay start is not on its history).
    sync_refused: bool,
    /// The module's fetch session (a new one after a detach or a crash).
    session: u64,
    /// Copies the fetch confirmed to be its source's logfiles (`replication::check_copy`)
    /// since it started: for which session and source.
    confirmed: BTreeSet<LogKey>,
    confirmed_for: Option<(u64, String)>,
    /// Truth kept by the simulation, not by the host: the records its disk went through,
    /// per logfile, in order (the checker compares against it).
    chain: Vec<(LogKey, usize)>,
    /// Why replay stopped the last time it ran (a split brain it found), if it did.
    stopped: Option<Stop>,
    /// Emergency mode: the primary's logging has ceased, writes go straight to the disk.
    ceased: bool,
    /// Truth: where the writes that bypass the log are kept (a pseudo-logfile no host
    /// has, `<host>!direct`, numbered as the logfile before the hole), and whether some
    /// of them are not flushed yet (a crash may lose them).
    direct: Option<LogKey>,
    direct_unflushed: bool,
}

/// What undoes one change of a host's `/mars` at a crash.
enum Undo {
    /// A link set: its value before (none: it did not exist).
    Link(String, Option<(String, u64)>),
    /// A logfile created.
    Created(LogKey),
}

impl Host {
    fn new(name: &str, skew: i64) -> Host {
        Host {
            name: name.into(),
            tree: Tree::new(),
            clock: Clock { skew, last: 0 },
            role: Role::Secondary,
            open: false,
            disk: vec![0; BLOCKS as usize],
            flushed: vec![0; BLOCKS as usize],
            unflushed: Vec::new(),
            logs: BTreeMap::new(),
            synced: BTreeMap::new(),
            journal: Vec::new(),
            applied: None,
            written: 0,
            down_until: 0,
            restart_app: false,
            dirty: None,
            acked: None,
            resync: false,
            sync_ending: false,
            sync_seq: 0,
            sync_waiting: None,
            sync_refused: false,
            session: 0,
            confirmed: BTreeSet::new(),
            confirmed_for: None,
            chain: Vec::new(),
            stopped: None,
            ceased: false,
            direct: None,
            direct_unflushed: false,
        }
    }

    fn link(&self, name: &str) -> Option<&str> {
        self.tree.get(&format!("{RESOURCE_PREFIX}{RES}/{name}")).map(|(v, _)| v.as_str()).filter(|v| *v != DELETED)
    }

    /// `host`'s version links in this host's tree, `(nr, value)`, deleted ones left out.
    fn version_links(&self, host: &str) -> Vec<(u32, &str)> {
        let prefix = format!("{RESOURCE_PREFIX}{RES}/version-");
        self.tree
            .iter()
            .filter(|(_, (v, _))| v != DELETED)
            .filter_map(|(k, (v, _))| {
                let (nr, owner) = k.strip_prefix(&prefix)?.split_once('-')?;
                (owner == host).then(|| Some((nr.parse().ok()?, v.as_str()))).flatten()
            })
            .collect()
    }

    /// A member of the resource, as its own tree says (`data-<me>`).
    fn member(&self) -> bool {
        self.link(&format!("data-{}", self.name)).is_some()
    }

    /// Sets a link of the resource directory with a fresh stamp, unless it has the value
    /// already (`force`: also then, a restamp).
    fn set(&mut self, now: u64, name: &str, value: &str, force: bool) {
        let path = format!("{RESOURCE_PREFIX}{RES}/{name}");
        if !force && self.tree.get(&path).is_some_and(|(v, _)| v == value) {
            return;
        }
        let stamp = self.clock.stamp(now);
        self.put(path, value.into(), stamp);
    }

    /// marsadm sets a link: stamped after every link in the directory (its
    /// `Tree::newest_stamp`), whatever the module's clock says; durable when it returns.
    fn marsadm_set(&mut self, now: u64, name: &str, value: &str) {
        let newest = self.tree.values().map(|(_, s)| *s).max().unwrap_or(0);
        self.clock.observe(newest);
        self.set(now, name, value, false);
        // It syncs the filesystem before it returns (its lock's syncfs).
        self.journal.clear();
    }

    /// The module's `restamp_final_links`: its replay link and the version link of the
    /// logfile it names written again with newer stamps.
    fn restamp_final_links(&mut self, now: u64) {
        let me = self.name.clone();
        // Stamped after the designation in force (`Stamps::final_links`).
        if let Some((_, designated)) = self.tree.get(&format!("{RESOURCE_PREFIX}{RES}/primary")) {
            let designated = *designated;
            self.clock.observe(designated);
        }
        if let Some((log, _)) = self.replay_link() {
            for name in [format!("replay-{me}"), format!("version-{:09}-{me}", log.0)] {
                if let Some(value) = self.link(&name).map(str::to_string) {
                    self.set(now, &name, &value, true);
                }
            }
        }
    }

    /// Writes a link of the tree (journaled).
    fn put(&mut self, path: String, value: String, stamp: u64) {
        let old = self.tree.insert(path.clone(), (value, stamp));
        self.journal.push(Undo::Link(path, old));
    }

    /// Creates an empty logfile (journaled), unless it exists.
    fn create_log(&mut self, key: &LogKey) {
        if !self.logs.contains_key(key) {
            self.logs.insert(key.clone(), Vec::new());
            self.journal.push(Undo::Created(key.clone()));
        }
    }

    /// fdatasync of a logfile: it is durable to its end, and the journal is committed.
    fn sync_log(&mut self, key: &LogKey) {
        let len = self.logs.get(key).map_or(0, Vec::len);
        self.synced.insert(key.clone(), len);
        self.journal.clear();
    }

    fn disk_write(&mut self, block: u32, value: u64) {
        self.disk[block as usize] = value;
        self.unflushed.push((block, value));
    }

    fn flush_disk(&mut self) {
        self.flushed.copy_from_slice(&self.disk);
        self.unflushed.clear();
        self.direct_unflushed = false;
    }

    /// Applies records `from..to` of logfile `log` here to the disk.
    fn apply(&mut self, log: &LogKey, from: usize, to: usize) {
        let recs: Vec<Record> = self.logs[log][from..to].to_vec();
        for (b, v) in &recs {
            self.disk_write(*b, *v);
        }
        self.note_applied(log, recs.len());
    }

    fn replay_link(&self) -> Option<(LogKey, u64)> {
        let raw = self.link(&format!("replay-{}", self.name))?;
        let l = ReplayLink::parse(text(raw.as_bytes())).ok()?;
        Some(((l.log.nr, l.log.host.to_string()), l.start))
    }

    /// Writes `replay-<me>` at `pos` of `log` and the version link of `log` chained to
    /// this host's link of the logfile before.
    fn report(&mut self, now: u64, log: &LogKey, pos: u64) {
        let name = LogName { nr: log.0, host: &log.1 };
        let me = self.name.clone();
        self.set(now, &format!("replay-{me}"), &format!("{name},{pos},0"), false);
        self.write_version(now, log, pos);
    }

    /// Writes the version link of `log` at `pos`, chained to this host's link of the
    /// logfile before.
    fn write_version(&mut self, now: u64, log: &LogKey, pos: u64) {
        let me = self.name.clone();
        let name = LogName { nr: log.0, host: &log.1 };
        let prev = match log.0 {
            0 | 1 => String::new(),
            nr => self.link(&format!("version-{:09}-{me}", nr - 1)).unwrap_or("").to_string(),
        };
        let input = VersionInput { log: name, pos, prev: &prev };
        let text = input.to_string();
        let h = |seed| xxh64(text.as_bytes(), seed).to_be_bytes();
        let mut digest = [0u8; 16];
        digest[..8].copy_from_slice(&h(1));
        digest[8..].copy_from_slice(&h(2));
        let link = VersionLink::new(&input, digest).to_string();
        self.set(now, &format!("version-{:09}-{me}", log.0), &link, false);
    }

    /// The resource's size in bytes as its tree says (`size`).
    fn size(&self) -> u64 {
        self.link("size").and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::from(BLOCKS) * 4096)
    }

    /// The resource's size in blocks (never beyond the disk).
    fn size_blocks(&self) -> u32 {
        (self.size() / 4096).min(u64::from(BLOCKS)) as u32
    }

    /// Whether its links say its disk is a consistent copy (`replication::is_consistent`).
    fn consistent(&self) -> bool {
        self.consistent_of(&self.name)
    }

    /// Whether its tree says `host`'s disk is a consistent copy (`round::consistent`).
    fn consistent_of(&self, host: &str) -> bool {
        round::consistent(&DirLinks(&self.tree), host, self.size()).unwrap_or(false)
    }

    /// The history its disk went through: after a crash, while replay goes through it
    /// again, what it had gone through before.
    fn history(&self) -> &[(LogKey, usize)] {
        match &self.dirty {
            Some(before) if prefix(&self.chain, before) => before,
            _ => &self.chain,
        }
    }

    fn note_applied(&mut self, log: &LogKey, n: usize) {
        match self.chain.last_mut() {
            Some((k, len)) if k == log => *len += n,
            _ => self.chain.push((log.clone(), n)),
        }
    }

    /// One step of replay (`replication::replay_step`), carried out: whether it did
    /// something.
    fn replay_once(&mut self, now: u64) -> bool {
        let Some((log, pos)) = self.replay_link() else { return false };
        let pos = pos as usize;
        let resume = match &self.applied {
            Some((k, from, end)) if *k == log && *from == pos => *end,
            _ => {
                self.applied = None;
                pos
            }
        };
        let copy = self.logs.get(&log).map(|r| Copy { size: r.len() as u64, synced: self.synced.get(&log).map_or(0, |s| *s as u64) });
        match replay_step(resume as u64, self.applied.is_some(), copy) {
            ReplayStep::SyncCopy => {
                self.sync_log(&log);
                true
            }
            ReplayStep::Apply { from } => {
                let to = self.logs[&log].len();
                self.apply(&log, from as usize, to);
                self.applied = Some((log, pos, to));
                true
            }
            ReplayStep::Flush => {
                self.flush_applied(now);
                true
            }
            ReplayStep::AtEnd => self.switch(now, &log, pos as u64),
        }
    }

    /// Flushes the disk, then moves the links to what replay applied (as the module's
    /// replay thread does when it ends, before a takeover).
    fn flush_applied(&mut self, now: u64) {
        if let Some((log, _, end)) = self.applied.take() {
            self.flush_disk();
            self.report(now, &log, end as u64);
        }
    }

    /// At the end of its copy of `log`: moves on to the next logfile where
    /// `replication::switchover` lets it.
    fn switch(&mut self, now: u64, log: &LogKey, pos: u64) -> bool {
        let names: Vec<LogName<'_>> = self.logs.keys().map(|(nr, h)| LogName { nr: *nr, host: h }).collect();
        let current = LogName { nr: log.0, host: &log.1 };
        let dir = format!("{RESOURCE_PREFIX}{RES}/");
        let entries = || self.tree.keys().filter_map(|k| k.strip_prefix(&dir));
        // (No next logfile here, but version links beyond it: the primary ceased logging
        // there, `hole_after`, and replay stops.)
        let next = match next_in_sequence(current, names, entries, |name| self.tree.get(&format!("{dir}{name}")).map(|(v, _)| v.as_bytes())) {
            Ok(n) => n.map(|n| (n.nr, n.host.to_string())),
            Err(stop) => {
                self.stopped = Some(stop);
                return false;
            }
        };
        let replay = ReplayLink { log: current, start: pos, len: 0 };
        let me = self.name.clone();
        let version = format!("version-{:09}-{me}", log.0);
        if rewrite_version(self.link(&version), &replay) {
            self.write_version(now, log, pos);
        }
        let mine = self.link(&version).map(str::to_string);
        let origin = self.link(&format!("version-{:09}-{}", log.0, log.1)).map(str::to_string);
        let writer = next.as_ref().and_then(|(nr, h)| self.link(&format!("version-{nr:09}-{h}"))).filter(|v| VersionLink::parse(v).is_ok());
        // The writer's link missing or deleted: another host's that stands in for it.
        let stand_in = || {
            let (nr, h) = next.as_ref()?;
            let name = LogName { nr: *nr, host: h };
            let prefix = format!("{RESOURCE_PREFIX}{RES}/version-{nr:09}-");
            self.tree.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, (v, _))| v.as_str()).find(|v| stands_for_writer(v, name, mine.as_deref()))
        };
        let next_link = writer.or_else(stand_in).map(str::to_string);
        let next_copy = next.as_ref().map(|k| NextCopy { size: self.logs[k].len() as u64, confirmed: k.1 == self.name || self.confirmed.contains(k) });
        let syncpos = self.link(&format!("{SYNCPOS_PREFIX}{me}")).map(str::to_string);
        let synced = syncpos.as_deref().and_then(|p| ReplayLink::parse(p).ok());
        let off_synced_history = match (&next, synced) {
            (Some((nr, h)), Some(s)) => leaves_synced_history(LogName { nr: *nr, host: h }, s.log, |l| self.link(&format!("version-{:09}-{}", l.nr, l.host)).map(str::as_bytes)),
            _ => false,
        };
        let links = SwitchLinks { mine: mine.as_deref(), origin: origin.as_deref(), next: next_link.as_deref(), next_copy, syncpos: syncpos.as_deref(), off_synced_history };
        match switchover(&replay, next.as_ref().map(|(nr, h)| LogName { nr: *nr, host: h }), &links) {
            Switchover::Switch(n) => {
                let key = (n.nr, n.host.to_string());
                self.report(now, &key, 0);
                true
            }
            Switchover::Wait(_) => false,
            Switchover::Stop(stop) => {
                self.stopped = Some(stop);
                false
            }
        }
    }

    /// The replay thread between two rounds: flushes and reports what it applied the
    /// last time, moves on, applies what is here (left unflushed until next time).
    fn replay(&mut self, now: u64) {
        // Evaluated anew each time, as the module does: a stop lasts while its cause does.
        self.stopped = None;
        for _ in 0..100 {
            let before = self.applied.as_ref().map(|a| a.2);
            if !self.replay_once(now) {
                return;
            }
            let after = self.applied.as_ref().map(|a| a.2);
            if after.is_some() && after != before {
                return;
            }
        }
    }

    /// Replays everything here and flushes (before a takeover of another's log).
    fn replay_all(&mut self, now: u64) {
        self.stopped = None;
        for _ in 0..1000 {
            if !self.replay_once(now) {
                return;
            }
        }
    }

    /// The primary's writeback: what is durable of its current logfile goes to the
    /// disk (never more: recovery replays the log from the replay link).
    fn write_back(&mut self) {
        let Some((log, _)) = self.replay_link() else { return };
        let durable = self.synced.get(&log).copied().unwrap_or(0);
        if durable > self.written {
            self.apply(&log, self.written, durable);
            self.written = durable;
        }
    }

    /// Recovery of its own log when it becomes primary again (the module's
    /// `recover_own`): every own logfile from the replay link's on is replayed to its
    /// end; logging goes on in the last if it is empty, else in the next number.
    fn recover_own(&mut self, now: u64, link: &LogKey, start: usize) -> LogKey {
        let me = self.name.clone();
        let numbers: Vec<LogKey> = self.logs.keys().filter(|(nr, h)| *h == me && *nr >= link.0).cloned().collect();
        let mut last = (link.clone(), 0);
        for key in &numbers {
            let from = if key == link { start } else { 0 };
            let len = self.logs[key].len();
            if from < len {
                self.apply(key, from, len);
            }
            last = (key.clone(), len);
        }
        self.flush_disk();
        for key in &numbers {
            let len = self.logs[key].len();
            if len > 0 {
                self.report(now, key, len as u64);
            }
        }
        let (key, len) = last;
        if len == 0 { key } else { (key.0 + 1, me) }
    }
}

/// Whether chain `a` is a prefix of chain `b`: `a` went through what `b` went through,
/// up to a point (its last logfile maybe only partly).
fn prefix(a: &[(LogKey, usize)], b: &[(LogKey, usize)]) -> bool {
    let Some(((last_key, last_n), init)) = a.split_last() else { return true };
    b.len() >= a.len() && init == &b[..init.len()] && {
        let (k, n) = &b[init.len()];
        k == last_key && last_n <= n
    }
}

/// A message between hosts.
#[derive(Clone)]
enum Msg {
    /// A piece of a host's tree (the metadata pull, answered), when the listing was
    /// sent, and whether it is the first piece.
    Listing(Vec<(String, String, u64)>, u64, bool),
    /// Fetch: what the sender has of each logfile numbered `from` and on.
    /// (`session`: the requester's fetch session, which its replies name: a fetch that
    /// ended, with a detach or a crash, gets no more data, as its connection is gone.)
    /// (`have`: each copy's length, and whether the fetch confirmed it already.)
    FetchReq { from: LogKey, have: Vec<(LogKey, usize, bool)>, session: u64 },
    /// Records of a logfile, starting at `start`; `head`: its first record (what the
    /// module's fetch compares its copy's head with).
    /// (`past`: the source's current logfile is beyond it: it never writes it again.)
    FetchData { log: LogKey, start: usize, recs: Vec<Record>, head: Option<Record>, past: bool, session: u64 },
    /// The source has no such logfile (`wire::NO_SUCH_LOGFILE`): the copy stands as it is.
    FetchMissing { log: LogKey, session: u64 },
    /// Full sync: blocks from `from` on, once the primary's writeback has passed
    /// `start` (the syncing host's replay link).
    SyncReq { from: u32, start: (LogKey, u64), session: u64 },
    /// Blocks of the primary's disk, and its replay link when it read them (the
    /// module's primary answers `SyncStart` with it); `start` and `session`: the
    /// request's (the module's sync asks on a connection of its own, which a crash or a
    /// detach ends: no answer to an older one arrives on it).
    SyncData { from: u32, values: Vec<u64>, at: (LogKey, u64), start: (LogKey, u64), session: u64 },
    /// The copy is complete: the primary's log position now (`seq`: which end).
    SyncEnd { seq: u64 },
    /// The primary does not serve the sync: the replay start is not on its history
    /// (`replication::serves_sync`, `wire::SYNC_OFF_HISTORY`).
    /// (`start`: the replay start it was asked for.)
    SyncRefused { start: (LogKey, u64) },
    SyncPos { log: LogKey, pos: usize, seq: u64 },
}

/// Blocks one sync request copies.
const SYNC_BLOCKS: u32 = 4;

struct Packet {
    at: u64,
    from: usize,
    to: usize,
    msg: Msg,
}

/// What went wrong: the checker's finding, with the step it was found at.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub at_ms: u64,
    pub what: String,
    /// The run had the operator's `invalidate` on.
    pub invalidate: bool,
    /// The run had its resizes taken out ([`World::without_resizes`]).
    pub no_resize: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = if self.invalidate { " --invalidate" } else { "" };
        let resize = if self.no_resize { " --no-resize" } else { "" };
        write!(f, "seed {} at {} ms: {}\n  replay: cargo run -q -p mars-sim --bin mars-sim -- --seed {} --verbose{flag}{resize}", self.seed, self.at_ms, self.what, self.seed)
    }
}

/// Counts of one run, for the figures.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub writes: u64,
    pub rotations: u64,
    pub handovers: u64,
    pub failovers: u64,
    pub partitions: u64,
    pub crashes: u64,
    pub invalidations: u64,
    pub split_brains: u64,
    /// Hosts whose disk is an older copy of the primary's but whose logfiles or version
    /// links are not the primary's (replay stopped, or the split brain shown): shown,
    /// resolved by the operator.
    pub stopped_bystanders: u64,
    pub aborted: u64,
    pub messages: u64,
    /// Copies of a logfile whose name its writer used again, fetched anew.
    pub refetched: u64,
    /// Logfiles deleted by `marsadm cron` (every member had replayed them).
    pub deleted: u64,
    /// Hosts that left the resource, and that joined it (again).
    pub leaves: u64,
    pub joins: u64,
    /// Times a primary ceased logging (emergency mode).
    pub emergencies: u64,
    /// Online resizes.
    pub resizes: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.writes += o.writes;
        self.rotations += o.rotations;
        self.handovers += o.handovers;
        self.failovers += o.failovers;
        self.partitions += o.partitions;
        self.crashes += o.crashes;
        self.invalidations += o.invalidations;
        self.split_brains += o.split_brains;
        self.stopped_bystanders += o.stopped_bystanders;
        self.aborted += o.aborted;
        self.messages += o.messages;
        self.refetched += o.refetched;
        self.deleted += o.deleted;
        self.leaves += o.leaves;
        self.joins += o.joins;
        self.emergencies += o.emergencies;
        self.resizes += o.resizes;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} writes, {} rotations, {} handovers ({} given up), {} forced failovers, {} partitions, {} crashes, {} invalidations, {} split brains shown, {} older copies held back by a split brain, {} copies of a reused logfile name fetched anew, {} logfiles deleted, {} leaves, {} joins, {} emergencies, {} resizes, {} messages",
            self.writes, self.rotations, self.handovers, self.aborted, self.failovers, self.partitions, self.crashes, self.invalidations, self.split_brains, self.stopped_bystanders, self.refetched, self.deleted, self.leaves, self.joins, self.emergencies, self.resizes, self.messages
        )
    }
}

pub struct World {
    seed: u64,
    rng: Rng,
    now: u64,
    hosts: Vec<Host>,
    net: VecDeque<Packet>,
    /// cut[a][b]: nothing gets from a to b.
    cut: Vec<Vec<bool>>,
    /// Faults on: loss, duplication, long delays.
    lossy: bool,
    next_value: u64,
    pub stats: Stats,
    pub verbose: bool,
    /// The operator invalidates hosts that show a split brain (during the faults, and
    /// after them, and then the run must end converged). Off by default: it shows open
    /// findings (docu/simulation.md, "Open").
    pub invalidate: bool,
    /// A handover under way: (old primary, new primary, forced).
    switching: Option<(usize, usize, bool)>,
    switch_since: u64,
    /// Hosts an operator failed over from by force: they may have diverged, and are
    /// never chosen again (invalidate is not simulated yet).
    forced_out: Vec<bool>,
    /// A planned handover asked for, waiting for its target to catch up: (old primary,
    /// new, since, with systemd).
    pending: Option<(usize, usize, u64, bool)>,
    /// heard[a][b]: when the newest listing of host b that host a began to merge was sent.
    heard: Vec<Vec<u64>>,
    /// A finding made during a step, reported by the checker after it.
    failure: Option<String>,
    /// Truth: every logfile's records as its writer wrote them (what a crash lost there
    /// cut off), also after the writer removed the file.
    truth: BTreeMap<LogKey, Vec<Record>>,
    /// Truth: the history each logfile continues, its writer's chain when it began it.
    lineage: BTreeMap<LogKey, Vec<(LogKey, usize)>>,
    /// Ghost names given so far ([`World::begin_logfile`]).
    ghosts: u64,
    /// The choices of emergency mode, apart from the others: a run without it goes as
    /// it went before emergency mode was simulated (the found seeds stay what they were).
    erng: Rng,
    /// Online resizes still to come, `(not before, new size in blocks)`, in order: a
    /// third of the runs start with a smaller resource and grow it twice (their choices
    /// apart from the others too; the other runs go as before).
    resizes: VecDeque<(u64, u32)>,
    no_resize: bool,
}

/// Length of a run's faults, of the phase without faults until the operator repairs
/// what shows a split brain (`invalidate`), and of the whole run (ms).
const RUN_MS: u64 = 120_000;
const SETTLE_MS: u64 = 60_000;
const END_MS: u64 = RUN_MS + SETTLE_MS + 90_000;
const TICK_MS: u64 = 50;
/// How often each host's `marsadm cron` deletes the logfiles every member replayed (ms).
const CRON_MS: u64 = 20_000;
/// How far behind the old primary `marsadm primary` designates a host when systemd
/// runs the application (marsadm's SYSTEMD_CATCH_UP_SLACK, in records here).
const SYSTEMD_SLACK: u64 = 20;

impl World {
    pub fn new(seed: u64) -> World {
        World::build(seed, true)
    }

    /// The run of `seed` as it went before resizes were simulated (the seeds found
    /// before keep replaying what they found).
    pub fn without_resizes(seed: u64) -> World {
        World::build(seed, false)
    }

    fn build(seed: u64, resize: bool) -> World {
        let mut rng = Rng::new(seed);
        let mut zrng = Rng::new(seed ^ 0x5be0_cd19_137e_2179);
        let resizes: VecDeque<(u64, u32)> = if zrng.below(3) == 0 && resize {
            let first = 5_000 + zrng.below(60_000);
            [(first, 13), (first + 1_000 + zrng.below(60_000), BLOCKS)].into()
        } else {
            VecDeque::new()
        };
        let size = u64::from(resizes.front().map_or(BLOCKS, |_| 10)) * 4096;
        let n = 2 + rng.below(2) as usize;
        let mut hosts: Vec<Host> = (0..n).map(|i| Host::new(&format!("node{}", i + 1), rng.below(4_000_000_000) as i64 - 2_000_000_000)).collect();
        // Every host a member from the start, node1 primary of logfile 1, all disks equal.
        // node1 created the resource: the cluster-wide links are its, and the others
        // have merged them (their clocks have seen its stamps); each host wrote its own.
        for h in &mut hosts {
            let me = h.name.clone();
            h.set(0, &format!("data-{me}"), "/dev/vda", false);
            for switch in ["attach", "connect", "sync", "allow-replay"] {
                h.set(0, &format!("todo-{me}/{switch}"), "1", false);
            }
            h.report(0, &(1, "node1".into()), 0);
            if !resizes.is_empty() {
                // (As `create-resource` and a join's sync leave it: the whole disk.)
                h.set(0, &format!("{SYNCSTATUS_PREFIX}{me}"), &size.to_string(), false);
            }
        }
        hosts[0].set(0, "size", &size.to_string(), false);
        hosts[0].set(0, PRIMARY, "node1", false);
        // (node1 took over when it created the resource: its `is-primary` = 1 is durable.)
        hosts[0].set(0, "actual-node1/is-primary", "1", false);
        // Every host knows the cluster-wide links and every member's membership and
        // replay link (the members joined before the run: `log-delete` counts them).
        let mut shared: Vec<(usize, String, (String, u64))> = Vec::new();
        for (i, h) in hosts.iter().enumerate() {
            let own = |k: &str| [format!("/data-{}", h.name), format!("/replay-{}", h.name), format!("/{SYNCSTATUS_PREFIX}{}", h.name)].iter().any(|end| k.ends_with(end));
            let cluster = |k: &str| i == 0 && (k.ends_with("/size") || k.ends_with("/primary"));
            shared.extend(h.tree.iter().filter(|(k, _)| own(k) || cluster(k)).map(|(k, v)| (i, k.clone(), v.clone())));
        }
        for (i, h) in hosts.iter_mut().enumerate() {
            for (from, k, (v, stamp)) in &shared {
                if *from != i {
                    h.clock.observe(*stamp);
                    h.tree.insert(k.clone(), (v.clone(), *stamp));
                }
            }
        }
        hosts[0].role = Role::Primary;
        hosts[0].open = true;
        hosts[0].create_log(&(1, "node1".into()));
        for h in &mut hosts {
            h.journal.clear();
        }
        World { seed, rng, now: 0, hosts, net: VecDeque::new(), cut: vec![vec![false; n]; n], lossy: false, next_value: 1, stats: Stats::default(), verbose: false, switching: None, switch_since: 0, pending: None, heard: vec![vec![0; n]; n], forced_out: vec![false; n], failure: None, invalidate: false, truth: BTreeMap::new(), lineage: BTreeMap::from([((1, "node1".into()), Vec::new())]), ghosts: 0, erng: Rng::new(seed ^ 0xe3e7_9e4c_a5d1_0f3b), resizes, no_resize: !resize }
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.verbose {
            println!("{:>7} ms  {}", self.now, what());
        }
    }

    fn fail(&self, what: String) -> Failure {
        Failure { seed: self.seed, at_ms: self.now, what, invalidate: self.invalidate, no_resize: self.no_resize }
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        self.stats.messages += 1;
        if self.cut[from][to] || (self.lossy && self.rng.chance(50)) {
            return;
        }
        let copies = if self.lossy && self.rng.chance(30) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = 1 + self.rng.below(if self.lossy { 3000 } else { 200 });
            self.net.push_back(Packet { at: self.now + delay, from, to, msg: msg.clone() });
        }
    }

    /// Runs the seed to its end; the first finding of the checker ends it.
    pub fn run(&mut self) -> Result<Stats, Failure> {
        let mut settled = RUN_MS + SETTLE_MS;
        let mut end = if self.invalidate { END_MS } else { settled };
        while self.now < end {
            // A `marsadm primary` still waiting (it gives up after its timeout) gets
            // 10 s after it ended to settle (seed 7710: it gave the role back 2 s
            // before the end, and the end found no primary yet).
            let waiting = self.pending.is_some() || self.switching.is_some_and(|(_, _, forced)| !forced);
            if waiting && self.now + 10_000 > settled {
                let later = self.now + 10_000 - settled;
                settled += later;
                end += later;
            }
            let faults = self.now < RUN_MS;
            if faults {
                self.operator();
                self.faults();
            } else {
                // (marsadm primary runs on; `/mars` has space again; the operator
                // repairs once settled.)
                self.marsadm_primary();
                if let Some(p) = self.hosts.iter().position(|h| h.ceased) {
                    self.resume(p);
                }
                if self.now == settled {
                    // Settled: every divergence is shown; the operator repairs it.
                    self.check_shown()?;
                    self.repair_all();
                } else if self.now == settled + 30_000 {
                    self.repair_all();
                } else if self.now == RUN_MS + 10_000 && (self.invalidate || self.stats.resizes > 0) {
                    // (After a resize also without repairs: a host failed over to by
                    // force before it heard of the resize is no copy of the grown
                    // resource until it synced the new area, and waits for good.)
                    self.designate_if_none();
                } else if self.lossy || self.cut.iter().flatten().any(|c| *c) {
                    self.log(|| "faults healed".into());
                    self.lossy = false;
                    for row in &mut self.cut {
                        row.fill(false);
                    }
                }
            }
            self.deliver();
            for i in 0..self.hosts.len() {
                if self.hosts[i].down_until > self.now {
                    continue;
                }
                self.threads(i);
                // Rounds once a second, at a phase of its own; listings every 2 s.
                if (self.now + 137 * i as u64) % 1000 < TICK_MS {
                    self.round(i);
                }
                if (self.now + 311 * i as u64) % 2000 < TICK_MS {
                    self.pull(i);
                }
                if (self.now + 7_919 * i as u64) % CRON_MS < TICK_MS {
                    self.cron(i);
                }
            }
            self.check()?;
            self.now += TICK_MS;
        }
        if self.invalidate {
            self.check_converged()?;
        } else {
            self.check_shown()?;
        }
        Ok(self.stats)
    }

    /// What a host's threads do between rounds: a primary's log-sync and writeback;
    /// the filesystem's journal commit every 5 s.
    fn threads(&mut self, i: usize) {
        let sync = self.rng.chance(200);
        let h = &mut self.hosts[i];
        if h.role == Role::Primary {
            if sync {
                if let Some((log, _)) = h.replay_link() {
                    h.sync_log(&log);
                }
            }
            h.write_back();
        }
        if (self.now + 733 * i as u64) % 5000 < TICK_MS {
            h.journal.clear();
        }
    }

    /// `marsadm cron` on host `i`: its logfiles below the lowest one any member's replay
    /// link names, as its tree tells (`replication::delete_below`), go, never its
    /// newest; and the version links below the one before that bound and before the
    /// oldest logfile it keeps are marked deleted (`replication::version_deletable`), as
    /// `marsadm log-delete` does. Durable when it returns (marsadm's lock syncs the filesystem).
    fn cron(&mut self, i: usize) {
        let now = self.now;
        let h = &mut self.hosts[i];
        // (Only for resources this host is a member of.)
        if !h.member() {
            return;
        }
        let dir = format!("{RESOURCE_PREFIX}{RES}/");
        let members: Vec<String> = h
            .tree
            .iter()
            .filter(|(_, (v, _))| v != DELETED)
            .filter_map(|(k, _)| k.strip_prefix(&dir)?.strip_prefix("data-").map(str::to_owned))
            .collect();
        let replays = members.iter().map(|m| h.link(&format!("replay-{m}")).and_then(|v| ReplayLink::parse(v).ok()).map(|l| l.log.nr));
        let Some(lowest) = delete_below(replays.collect::<Vec<_>>()) else { return };
        let newest = h.logs.keys().map(|k| k.0).max();
        let victims: Vec<LogKey> = h.logs.keys().filter(|k| k.0 < lowest && Some(k.0) != newest).cloned().collect();
        for k in &victims {
            h.logs.remove(k);
            h.synced.remove(k);
        }
        let oldest_kept = h.logs.keys().map(|k| k.0).min();
        let old: Vec<String> = h
            .tree
            .iter()
            .filter(|(_, (v, _))| v != DELETED)
            .filter_map(|(k, _)| {
                let rest = k.strip_prefix(&dir)?.strip_prefix("version-")?;
                let nr: u32 = rest.get(..9)?.parse().ok()?;
                version_deletable(nr, lowest, oldest_kept).then(|| format!("version-{rest}"))
            })
            .collect();
        for name in &old {
            h.marsadm_set(now, name, DELETED);
        }
        h.journal.clear();
        if !victims.is_empty() || !old.is_empty() {
            self.stats.deleted += victims.len() as u64;
            let name = self.hosts[i].name.clone();
            self.log(|| format!("{name} cron: deleted {victims:?} (below {lowest}), version links {old:?}"));
        }
    }

    /// A host crashes (a power loss): what was not durable is lost, partly; it comes
    /// back after a few seconds with the module loaded afresh.
    fn crash(&mut self, i: usize) {
        let now = self.now;
        let down = 1000 + self.rng.below(9000);
        let keep = self.rng.below(self.hosts[i].journal.len() as u64 + 1) as usize;
        let mut draws: Vec<u64> = (0..64).map(|_| self.rng.next()).collect();
        let mut draw = move |n: u64| draws.pop().map_or(0, |d| d % n.max(1));
        let h = &mut self.hosts[i];
        let direct_unflushed = h.direct_unflushed;
        // The filesystem: a prefix of its journal since the last commit.
        for undo in h.journal.drain(keep..).rev() {
            match undo {
                Undo::Link(path, Some(old)) => {
                    h.tree.insert(path, old);
                }
                Undo::Link(path, None) => {
                    h.tree.remove(&path);
                }
                Undo::Created(key) => {
                    h.logs.remove(&key);
                    h.synced.remove(&key);
                    if key.1 == h.name {
                        self.truth.remove(&key);
                        self.lineage.remove(&key);
                    }
                }
            }
        }
        h.journal.clear();
        // Logfiles: what was synced, and maybe some more (a torn record is cut); what
        // is there after the crash is on stable storage.
        for (key, recs) in h.logs.iter_mut() {
            let synced = h.synced.get(key).copied().unwrap_or(0).min(recs.len());
            let len = synced + draw((recs.len() - synced) as u64 + 1) as usize;
            recs.truncate(len);
            h.synced.insert(key.clone(), len);
            if key.1 == h.name {
                if let Some(t) = self.truth.get_mut(key) {
                    t.truncate(len);
                }
            }
        }
        // The disk: each block its flushed value or one of the writes to it since, or torn.
        let mut disk = h.flushed.clone();
        for b in 0..BLOCKS {
            let writes: Vec<u64> = h.unflushed.iter().filter(|(x, _)| *x == b).map(|(_, v)| *v).collect();
            if writes.is_empty() {
                continue;
            }
            let pick = draw(writes.len() as u64 + 2) as usize;
            disk[b as usize] = match pick {
                0 => h.flushed[b as usize],
                p if p > writes.len() => TORN,
                p => writes[p - 1],
            };
        }
        h.disk = disk;
        h.flush_disk();
        // The module starts afresh: no role, no threads, a Lamport clock from zero.
        h.restart_app = h.role == Role::Primary && h.open;
        h.role = Role::Secondary;
        h.open = false;
        h.applied = None;
        h.stopped = None;
        h.written = 0;
        h.session += 1;
        h.confirmed.clear();
        // (It observes the stamps of the links it reads: of its tree, first thing.)
        h.clock.last = h.tree.values().map(|(_, s)| *s).max().unwrap_or(0);
        h.down_until = now + down;
        // Truth: its disk went through its chain up to the replay link (it must: the
        // link says only what was flushed), and is a mix beyond until replay has
        // re-applied what it had gone through.
        let before = h.history().to_vec();
        let link = h.replay_link();
        let mut cut = Vec::new();
        if let Some((log, pos)) = &link {
            for (k, n) in &before {
                if k == log {
                    if *pos as usize > *n {
                        let what = format!("{} crashed with its replay link at {:?} {} beyond what its disk went through: {:?}", h.name, log, pos, before);
                        self.found(what);
                        return;
                    }
                    if *pos > 0 {
                        cut.push((k.clone(), *pos as usize));
                    }
                    break;
                }
                cut.push((k.clone(), *n));
            }
        }
        // Writes that bypassed the log and were not flushed: each block they wrote holds
        // what the crash left there (nothing replays them).
        let lost_direct = direct_unflushed.then(|| format!("{}!direct", h.name)).and_then(|tag| cut.iter().rposition(|(k, _)| k.1 == tag));
        h.chain = cut;
        h.dirty = Some(before);
        self.end_direct(i);
        if let Some(at) = lost_direct {
            self.direct_survived(i, at);
        }
        self.stats.crashes += 1;
        self.log(|| {
            let h = &self.hosts[i];
            let logs: Vec<String> = h.logs.iter().map(|(k, r)| format!("{}-{}:{}", k.0, k.1, r.len())).collect();
            format!("{} CRASHES (down for {down} ms); comes back with replay link {:?}, logfiles {}, chain {:?}", h.name, link, logs.join(" "), h.dirty)
        });
    }

    /// Truth after host `i` crashed with writes that bypassed the log unflushed: the
    /// pseudo-logfile at `at` in its chain becomes what the crash left of it (each block
    /// it wrote, as the disk has it now), under a name of its own; its chain, the chain
    /// its disk had gone through and the lineage of the logfiles after it say so.
    fn direct_survived(&mut self, i: usize, at: usize) {
        let h = &self.hosts[i];
        let (key, n) = h.chain[at].clone();
        let blocks: BTreeSet<u32> = self.origin_copy(&key)[..n].iter().map(|(b, _)| *b).collect();
        let survived: Vec<Record> = blocks.iter().map(|&b| (b, h.disk[b as usize])).collect();
        let new = (key.0, format!("{}!survived{}", h.name, self.ghosts));
        self.ghosts += 1;
        let lineage = self.lineage.get(&key).cloned().unwrap_or_default();
        let len = survived.len();
        self.truth.insert(new.clone(), survived);
        self.lineage.insert(new.clone(), lineage);
        let rename = |chain: &mut Vec<(LogKey, usize)>| chain.iter_mut().filter(|(k, m)| *k == key && *m == n).for_each(|e| *e = (new.clone(), len));
        self.lineage.values_mut().for_each(rename);
        // (Also the chains of hosts invalidated meanwhile: their full sync copies this
        // host's disk as it is now.)
        for (j, h) in self.hosts.iter_mut().enumerate() {
            if j == i || h.resync {
                rename(&mut h.chain);
                h.dirty.iter_mut().for_each(rename);
            }
        }
    }

    /// Host `p`'s writes that bypass the log end here (logging resumes, or it leaves the
    /// primary role, or crashes). Truth: a host invalidated meanwhile gets all of them
    /// with its full sync (which waits until logging resumes).
    fn end_direct(&mut self, p: usize) {
        let h = &mut self.hosts[p];
        h.ceased = false;
        let Some(direct) = h.direct.take() else { return };
        let Some(n) = h.chain.iter().find(|(k, _)| *k == direct).map(|(_, n)| *n) else { return };
        for o in self.hosts.iter_mut().filter(|o| o.resync) {
            o.chain.iter_mut().filter(|(k, _)| *k == direct).for_each(|e| e.1 = n);
        }
    }

    /// `marsadm invalidate` on host `x` (as marsadm does it: detached, this host's
    /// version links and logfiles off the designated primary's history gone, replay from
    /// the primary's current logfile after a full sync); refused as marsadm refuses.
    fn invalidate(&mut self, x: usize) -> bool {
        self.hosts[x].member() && self.resync(x, false)
    }

    /// `marsadm join-resource` on host `x`, a member no more: as `invalidate`, and the
    /// membership (`data-<me>`) written last.
    fn join(&mut self, x: usize) -> bool {
        !self.hosts[x].member() && self.resync(x, true)
    }

    /// `marsadm down` and `leave-resource` on host `x` (not the primary): the module
    /// detaches (replay flushes what it applied), every link of the member is marked
    /// deleted but the version links of its own logfiles (`forget_member`,
    /// `replication::kept_at_leave`), its logfiles go; its disk keeps its content.
    fn leave(&mut self, x: usize) -> bool {
        let now = self.now;
        let h = &mut self.hosts[x];
        let me = h.name.clone();
        if !h.member() || h.down_until > now || h.role == Role::Primary || h.link(PRIMARY) == Some(me.as_str()) || h.link(&format!("actual-{me}/is-primary")) == Some("1") {
            return false;
        }
        h.flush_applied(now);
        h.session += 1;
        h.sync_ending = false;
        h.sync_refused = false;
        let newest = h.tree.values().map(|(_, s)| *s).max().unwrap_or(0);
        h.clock.observe(newest);
        let dir = format!("{RESOURCE_PREFIX}{RES}/");
        let own: Vec<String> = h
            .tree
            .iter()
            .filter(|(_, (v, _))| v != DELETED)
            .filter(|(k, (v, _))| {
                let Some(k) = k.strip_prefix(&dir) else { return false };
                [format!("data-{me}"), format!("replay-{me}"), format!("{SYNCSTATUS_PREFIX}{me}"), format!("{SYNCPOS_PREFIX}{me}")].contains(&k.to_string())
                    || k.starts_with(&format!("todo-{me}/"))
                    || (k.starts_with("version-") && k.ends_with(&format!("-{me}")) && !kept_at_leave(&me, v))
            })
            .filter_map(|(k, _)| k.strip_prefix(&dir).map(str::to_owned))
            .collect();
        for name in &own {
            h.set(now, name, DELETED, false);
        }
        h.logs.clear();
        h.synced.clear();
        h.confirmed.clear();
        h.applied = None;
        h.stopped = None;
        h.journal.clear();
        self.forced_out[x] = false;
        self.stats.leaves += 1;
        self.log(|| format!("{me} LEAVES the resource"));
        true
    }

    fn resync(&mut self, x: usize, join: bool) -> bool {
        let now = self.now;
        let h = &self.hosts[x];
        let me = h.name.clone();
        let Some(p) = h.link(PRIMARY).and_then(|p| self.hosts.iter().position(|o| o.name == p)) else { return false };
        if p == x || h.role == Role::Primary || h.down_until > now || h.link(&format!("actual-{me}/is-primary")) == Some("1") {
            return false;
        }
        // The primary's replay link, from a listing heard within 45 s.
        if self.heard[x][p] + 45_000 < now {
            return false;
        }
        let pname = self.hosts[p].name.clone();
        let Some(theirs) = h.link(&format!("replay-{pname}")).and_then(|v| ReplayLink::parse(v).ok()).map(|l| ((l.log.nr, l.log.host.to_string()), l.start)) else { return false };
        let ((nr, _), _) = &theirs;
        let nr = *nr;
        // (marsadm refuses while the primary still replays a logfile of this host's.)
        if theirs.0 .1 == me {
            return false;
        }
        let h = &mut self.hosts[x];
        // The module detaches: its threads end (replay flushes what it applied).
        h.flush_applied(now);
        h.sync_ending = false;
        h.sync_refused = false;
        h.session += 1;
        let newest = h.tree.values().map(|(_, s)| *s).max().unwrap_or(0);
        h.clock.observe(newest);
        h.set(now, &format!("todo-{me}/attach"), "0", false);
        // Its version links off the primary's history go, as marsadm's
        // `forget_versions_off` decides (`splitbrain::version_fate`).
        let (mine_v, theirs_v) = (h.version_links(&me), h.version_links(&pname));
        let changes: Vec<(String, String)> = mine_v
            .iter()
            .filter_map(|&(nr, _)| {
                let value = match version_fate(&me, nr, &mine_v, &theirs_v) {
                    VersionFate::Keep => return None,
                    VersionFate::Replace(v) => v.to_string(),
                    VersionFate::Delete => DELETED.to_string(),
                };
                Some((format!("{RESOURCE_PREFIX}{RES}/version-{nr:09}-{me}"), value))
            })
            .collect();
        for (path, value) in changes {
            let stamp = h.clock.stamp(now);
            h.put(path, value, stamp);
        }
        let on_history = |h: &Host, key: &LogKey| {
            h.link(&format!("version-{:09}-{pname}", key.0)).and_then(|v| VersionLink::parse(v).ok()).is_some_and(|v| v.log.nr == key.0 && v.log.host == key.1)
        };
        let gone: Vec<LogKey> = h.logs.keys().filter(|k| k.0 < nr || k.1 == me || !on_history(h, k)).cloned().collect();
        for k in gone {
            h.logs.remove(&k);
            h.synced.remove(&k);
        }
        h.set(now, &format!("replay-{me}"), &format!("{},0,0", LogName { nr, host: &theirs.0 .1 }), false);
        h.set(now, &format!("{SYNCSTATUS_PREFIX}{me}"), "0", false);
        if h.link(&format!("{SYNCPOS_PREFIX}{me}")).is_some() {
            h.set(now, &format!("{SYNCPOS_PREFIX}{me}"), DELETED, false);
        }
        if nr > 1 {
            if let Some(v) = h.link(&format!("version-{:09}-{pname}", nr - 1)).map(str::to_string) {
                h.set(now, &format!("version-{:09}-{me}", nr - 1), &v, false);
            }
        }
        for switch in ["connect", "sync", "allow-replay", "attach"] {
            h.set(now, &format!("todo-{me}/{switch}"), "1", false);
        }
        if join {
            h.set(now, &format!("data-{me}"), "/dev/vda", false);
        }
        // marsadm syncs the filesystem before it returns (its lock's syncfs).
        h.journal.clear();
        h.applied = None;
        h.stopped = None;
        h.dirty = None;
        h.resync = true;
        // Truth: what its application was told is durable here belongs to the history
        // the operator discards (a later planned takeover need not keep it).
        h.acked = None;
        // Truth: its disk becomes the primary's history up to the start of that logfile,
        // and replay goes on from there.
        let history: Vec<(LogKey, usize)> = self.hosts[p].history().iter().filter(|(k, _)| k.0 < nr).cloned().collect();
        self.hosts[x].chain = history;
        self.forced_out[x] = false;
        if join {
            self.stats.joins += 1;
        } else {
            self.stats.invalidations += 1;
        }
        self.log(|| format!("{me} {}: full sync from {pname}, replay from logfile {nr}", if join { "JOINS" } else { "INVALIDATED" }));
        true
    }

    /// The end of a full sync on host `x` from primary `p` that compared the whole disk
    /// from its first block, when `p`'s replay link was `at` (`replication::replay_after_sync`):
    /// replay goes on from there if that is beyond the host's start.
    fn replay_after_sync(&mut self, x: usize, p: usize, at: (LogKey, u64)) {
        let now = self.now;
        let pname = self.hosts[p].name.clone();
        let h = &mut self.hosts[x];
        let Some(start) = h.replay_link() else { return };
        let me = h.name.clone();
        let link = |(log, pos): &(LogKey, u64)| format!("{},{pos},0", LogName { nr: log.0, host: &log.1 });
        let (start_text, at_text) = (link(&start), link(&at));
        let (start_link, at_link) = (ReplayLink::parse(&start_text).expect("written here"), ReplayLink::parse(&at_text).expect("written here"));
        let version = h.link(&format!("version-{:09}-{pname}", at.0 .0)).map(str::to_string);
        let prev_name = format!("version-{:09}-{me}", at.0 .0.saturating_sub(1));
        let prev = h.link(&format!("version-{:09}-{pname}", at.0 .0.saturating_sub(1))).map(str::to_string);
        match replay_after_sync(&start_link, &at_link, version.as_deref(), prev.as_deref()) {
            AfterSync::Stay => return,
            AfterSync::Move { prev: Some(v) } => h.set(now, &prev_name, v, false),
            AfterSync::Move { prev: None } => {
                if h.link(&prev_name).is_some() {
                    h.set(now, &prev_name, DELETED, false);
                }
            }
        }
        h.set(now, &format!("replay-{me}"), &at_text, false);
        // Truth: its disk becomes the primary's history up to there.
        let mut chain = self.lineage.get(&at.0).cloned().unwrap_or_default();
        if at.1 > 0 {
            chain.push((at.0.clone(), at.1 as usize));
        }
        self.hosts[x].chain = chain;
        self.log(|| format!("{me} sync: replay goes on from {at_text}, {pname}'s writeback when the sync began (was {start_text})"));
    }

    /// Nobody primary once the faults are over (say a handover was given up with the
    /// old primary invalidated): the operator designates the consistent host whose
    /// replay got furthest, as `view` shows them.
    fn designate_if_none(&mut self) {
        // (Not while a planned handover is under way: its new primary takes over soon,
        // seed 966.)
        if self.hosts.iter().any(|h| h.role == Role::Primary) || self.pending.is_some() || self.switching.is_some_and(|(_, _, forced)| !forced) {
            return;
        }
        let best = (0..self.hosts.len())
            .filter(|&i| self.hosts[i].member() && self.hosts[i].consistent() && self.hosts[i].stopped.is_none())
            .max_by_key(|&i| self.hosts[i].replay_link().map(|((nr, _), pos)| (nr, pos)));
        if let Some(i) = best {
            let (now, name) = (self.now, self.hosts[i].name.clone());
            self.hosts[i].marsadm_set(now, PRIMARY, &name);
            // A forced failover that never took over: its target fetches again.
            if let Some((_, new, true)) = self.switching.filter(|s| s.1 != i) {
                let target = self.hosts[new].name.clone();
                self.hosts[new].marsadm_set(now, &format!("todo-{target}/connect"), "1");
            }
            self.switching = None;
            self.log(|| format!("no primary: the operator designates {name}"));
        }
    }

    /// The operator's repairs at the end: every host that shows a split brain (or is
    /// held back) is invalidated, every host that left joins again.
    fn repair_all(&mut self) {
        for x in self.to_repair() {
            self.invalidate(x);
        }
        for x in 0..self.hosts.len() {
            if !self.hosts[x].member() {
                self.join(x);
            }
        }
    }

    /// Hosts the operator would invalidate: not the primary, and diverged from it or
    /// held back (replay stopped, a split brain shown, failed over from, the sync
    /// refused).
    fn to_repair(&self) -> Vec<usize> {
        let Some(p) = self.hosts.iter().position(|h| h.role == Role::Primary) else { return Vec::new() };
        (0..self.hosts.len())
            .filter(|&i| {
                i != p
                    && self.hosts[i].member()
                    && (self.forced_out[i]
                        || self.hosts[i].stopped.is_some()
                        || self.hosts[i].sync_refused
                        || self.split_brain_shown(i, i, p)
                        || self.stranded(i, p)
                        || !prefix(&self.hosts[i].chain, self.hosts[p].history()))
            })
            .collect()
    }

    /// Whether host `i`'s replay needs a logfile its source, the primary `p`, does not
    /// have (any more: an invalidation removes a host's logfiles before the primary's
    /// current one, and its own): its fetch fails and says so; invalidate repairs it.
    fn stranded(&self, i: usize, p: usize) -> bool {
        let h = &self.hosts[i];
        h.replay_link().is_some_and(|(log, pos)| {
            // (More of it to come, as the origin's version link there tells.)
            let more = h.link(&format!("version-{:09}-{}", log.0, log.1)).and_then(|v| VersionLink::parse(v).ok()).is_some_and(|v| v.pos > pos);
            log.1 != h.name && more && h.logs.get(&log).is_none_or(|r| r.len() as u64 <= pos) && !self.hosts[p].logs.contains_key(&log)
        })
    }

    fn primary(&self) -> Option<usize> {
        self.hosts.iter().position(|h| h.role == Role::Primary && h.open)
    }

    /// `marsadm resize` on the primary, if it may run now (marsadm/src/commands/resize.rs):
    /// there, where it is the designated and the actual primary (device up), every
    /// member's disk holds the new size (they all do here); `syncstatus-<me>` first, then
    /// `size`. The primary's module grows the device when it sees the size (the writes
    /// may go there from then on), every secondary syncs the new area.
    fn resize(&mut self) {
        let Some(p) = self.primary() else { return };
        let h = &self.hosts[p];
        if h.down_until > self.now || h.link(PRIMARY) != Some(h.name.as_str()) {
            return;
        }
        let Some((_, blocks)) = self.resizes.pop_front() else { return };
        if blocks <= h.size_blocks() {
            return;
        }
        let (now, size) = (self.now, (u64::from(blocks) * 4096).to_string());
        let h = &mut self.hosts[p];
        let me = h.name.clone();
        h.marsadm_set(now, &format!("{SYNCSTATUS_PREFIX}{me}"), &size);
        h.marsadm_set(now, "size", &size);
        self.stats.resizes += 1;
        self.log(|| format!("{me} RESIZES the resource to {blocks} blocks"));
    }

    /// Emergency mode on primary `p` (the module's `cease_logging`): everything logged
    /// written back, flushed and recorded in `replay-<me>`, then the empty logfile
    /// `HOLE` numbers higher becomes the current one, the directory synced (the links
    /// and the hole survive a crash); from then on writes go straight to the disk.
    fn cease(&mut self, p: usize) {
        let now = self.now;
        let h = &mut self.hosts[p];
        let (log, _) = h.replay_link().expect("a primary has a replay link");
        let Some(nr) = after_hole(log.0) else { return };
        h.sync_log(&log);
        h.write_back();
        h.flush_disk();
        h.report(now, &log, h.written as u64);
        let hole = (nr, h.name.clone());
        h.create_log(&hole);
        h.written = 0;
        h.report(now, &hole, 0);
        h.journal.clear();
        h.ceased = true;
        let direct = (log.0, format!("{}!direct", h.name));
        h.direct = Some(direct.clone());
        let chain = h.chain.clone();
        self.begin_logfile(&direct, chain.clone());
        self.begin_logfile(&hole, chain);
        self.stats.emergencies += 1;
        self.log(|| format!("{} CEASES logging (emergency mode): logfile {} ends, logging resumes in {nr}", self.hosts[p].name, log.0));
    }

    /// Space is back on primary `p`: logging resumes in the logfile after the hole,
    /// which continues the history with the writes that bypassed the log.
    fn resume(&mut self, p: usize) {
        self.end_direct(p);
        let h = &self.hosts[p];
        let (hole, _) = h.replay_link().expect("a primary has a replay link");
        let chain = h.chain.clone();
        self.lineage.insert(hole.clone(), chain);
        self.log(|| format!("{} resumes logging in logfile {}", self.hosts[p].name, hole.0));
    }

    /// `marsadm primary` while it runs: waits until the new primary has caught up and
    /// designates it, or gives up; then waits for the module's takeover, or gives the
    /// role back. Whether it is still waiting for the catch-up (the operator does
    /// nothing else meanwhile). It runs on after the faults, as marsadm does.
    fn marsadm_primary(&mut self) -> bool {
        if let Some((old, new, _, _)) = self.pending.filter(|p| self.hosts[p.1].down_until > self.now) {
            // marsadm died with its host: nothing designated; the application goes on.
            self.hosts[old].open = self.hosts[old].role == Role::Primary;
            self.pending = None;
            self.stats.aborted += 1;
            self.log(|| format!("handover to {} given up: marsadm died with its host", self.hosts[new].name));
        }
        if let Some((old, new, since, systemd)) = self.pending {
            // `marsadm primary` waits until this host has caught up with the old primary
            // as far as its tree tells (with systemd: to within a slack, the old
            // primary's application writes until its systemd stops it), then designates
            // it; or gives up.
            let h = &self.hosts[new];
            let position = |host: &str| h.link(&format!("replay-{host}")).and_then(|v| {
                let l = ReplayLink::parse(v).ok()?;
                Some((l.log.nr, l.log.host.to_string(), l.start))
            });
            let (theirs, mine) = (position(&self.hosts[old].name), position(&h.name));
            let caught_up = match (&theirs, &mine) {
                (Some(t), Some(m)) if systemd => t.0 == m.0 && t.1 == m.1 && t.2.saturating_sub(m.2) <= SYSTEMD_SLACK,
                (Some(t), Some(m)) => t == m,
                _ => false,
            };
            // (It has heard from the old primary since the command began: marsadm's
            // `liveness::heard_anew`, the first piece of a listing, not all of it.)
            let fresh = self.heard[new][old] > since;
            // marsadm refuses while it shows a split brain.
            let split = self.split_brain_anywhere(new);
            if fresh && h.stopped.is_none() && !split && caught_up {
                let now = self.now;
                let name = h.name.clone();
                self.hosts[new].marsadm_set(now, PRIMARY, &name);
                self.pending = None;
                self.switching = Some((old, new, false));
                self.switch_since = now;
                self.stats.handovers += 1;
                self.log(|| format!("handover {} -> {name}: designated", self.hosts[old].name));
            } else if self.now - since > 30_000 {
                self.hosts[old].open = true;
                self.pending = None;
                self.stats.aborted += 1;
                self.log(|| format!("handover to {} given up: not caught up", self.hosts[new].name));
            }
            return true;
        }
        if let Some((old, new, false)) = self.switching {
            // `marsadm primary` gives up waiting for the module after a while and gives
            // the role back to the old primary (it designates it again).
            if self.now.saturating_sub(self.switch_since) > 60_000 && self.hosts[new].role != Role::Primary {
                let now = self.now;
                let name = self.hosts[old].name.clone();
                self.switching = None;
                self.stats.aborted += 1;
                // (Not to a host that is no consistent copy any more: invalidated
                // meanwhile.)
                if self.hosts[new].down_until <= now && !self.hosts[new].consistent_of(&name) {
                    self.log(|| format!("handover to {} aborted: {name} is no consistent copy, not designated again", self.hosts[new].name));
                    return false;
                }
                self.hosts[new].marsadm_set(now, PRIMARY, &name);
                self.hosts[old].open = true;
                self.log(|| format!("handover to {} aborted: primary is {name} again", self.hosts[new].name));
            }
        }
        false
    }

    /// The operator: writes on the primary's device, log rotation, planned handovers
    /// and forced failovers.
    fn operator(&mut self) {
        if self.resizes.front().is_some_and(|(at, _)| *at <= self.now) {
            self.resize();
        }
        if let Some(p) = self.primary() {
            // Emergency mode (its own choices): `/mars` runs full and logging ceases;
            // space comes back and it resumes.
            if self.hosts[p].ceased {
                if self.erng.below(200) == 0 {
                    self.resume(p);
                }
            } else if self.erng.below(2400) == 0 {
                self.cease(p);
            }
            if self.rng.chance(300) {
                // (Within the device: the primary's module grows it to `size`.)
                let block = self.rng.below(u64::from(self.hosts[p].size_blocks())) as u32;
                let value = self.next_value;
                self.next_value += 1;
                let fsync = self.rng.chance(300);
                let h = &mut self.hosts[p];
                if let Some(direct) = h.direct.clone().filter(|_| h.ceased) {
                    // Straight to the disk, flushed if the write asks for durability.
                    h.disk_write(block, value);
                    h.direct_unflushed = true;
                    h.note_applied(&direct, 1);
                    if fsync {
                        h.flush_disk();
                    }
                    self.truth.entry(direct).or_default().push((block, value));
                } else {
                    let (log, _) = h.replay_link().expect("a primary has a replay link");
                    h.logs.entry(log.clone()).or_default().push((block, value));
                    self.truth.entry(log.clone()).or_default().push((block, value));
                    if fsync {
                        // The write is acknowledged durable once the log is.
                        h.sync_log(&log);
                        h.acked = Some((log.clone(), h.logs[&log].len()));
                    }
                }
                self.stats.writes += 1;
            }
            // (No rotation while logging has ceased.)
            if self.rng.chance(3) && !self.hosts[p].ceased {
                let now = self.now;
                let h = &mut self.hosts[p];
                let (log, _) = h.replay_link().expect("a primary has a replay link");
                // The old logfile durable, written back, flushed, reported; then the next.
                h.sync_log(&log);
                h.write_back();
                h.flush_disk();
                h.report(now, &log, h.written as u64);
                let next = (log.0 + 1, h.name.clone());
                h.create_log(&next);
                h.written = 0;
                h.report(now, &next, 0);
                let chain = h.chain.clone();
                self.begin_logfile(&next, chain);
                self.stats.rotations += 1;
                self.log(|| format!("{} rotates to logfile {}", self.hosts[p].name, next.0));
            }
        }
        if self.marsadm_primary() {
            return;
        }
        if self.invalidate && self.rng.chance(2) {
            // A member leaves (not one a handover is about), or a host that left joins again.
            let x = self.rng.below(self.hosts.len() as u64) as usize;
            // (The operator knows the cluster: not the designated primary in any host's
            // tree, and only while another host is primary.)
            let name = self.hosts[x].name.clone();
            let designated = self.hosts.iter().any(|h| h.link(PRIMARY) == Some(name.as_str()));
            let other_primary = self.hosts.iter().enumerate().any(|(i, h)| i != x && h.role == Role::Primary);
            let busy = designated
                || !other_primary
                || self.pending.is_some_and(|p| p.0 == x || p.1 == x)
                || self.switching.is_some_and(|s| s.0 == x || s.1 == x);
            if self.hosts[x].member() {
                if !busy {
                    self.leave(x);
                }
            } else {
                self.join(x);
            }
        }
        if self.invalidate && self.rng.chance(3) {
            let repair = self.to_repair();
            if !repair.is_empty() {
                let x = repair[self.rng.below(repair.len() as u64) as usize];
                self.invalidate(x);
            }
        }
        if self.switching.is_none() && self.rng.chance(12) {
            // Only with one primary (after a forced failover, once the old one has left).
            let primaries: Vec<usize> = (0..self.hosts.len()).filter(|&i| self.hosts[i].role == Role::Primary).collect();
            let [old] = primaries[..] else { return };
            let new = (old + 1 + self.rng.below(self.hosts.len() as u64 - 1) as usize) % self.hosts.len();
            // Not to a host whose history is not the primary's, or whose replay stopped
            // (marsadm refuses, view shows the split brain), nor to one failed over from.
            // (marsadm runs there: not while it is down; not to a disk that is no copy yet.)
            if self.forced_out[new] || !self.hosts[new].member() || self.hosts[new].down_until > self.now || !self.hosts[new].consistent() || self.hosts[new].stopped.is_some() || !prefix(&self.hosts[new].chain, &self.hosts[old].chain) {
                return;
            }
            let forced = self.rng.chance(300);
            let now = self.now;
            let name = self.hosts[new].name.clone();
            if forced {
                self.forced_out[old] = true;
                // pause-fetch, then primary --force: the old primary's application goes
                // on until its host hears of the new one.
                self.hosts[new].marsadm_set(now, &format!("todo-{name}/connect"), "0");
                self.stats.failovers += 1;
                self.hosts[new].marsadm_set(now, PRIMARY, &name);
                self.switching = Some((old, new, true));
                self.switch_since = now;
                self.log(|| format!("FORCED failover {} -> {name}", self.hosts[old].name));
            } else {
                // A planned handover: the application stops first (umount), or with
                // systemd once the old primary's host hears of the new primary.
                let systemd = self.rng.chance(500);
                if !systemd {
                    self.hosts[old].open = false;
                }
                self.pending = Some((old, new, now, systemd));
                self.log(|| format!("handover {} -> {name} asked{}", self.hosts[old].name, if systemd { " (systemd)" } else { "" }));
            }
        }
    }

    /// Network faults: partitions (also one way) come and go; loss, duplication and
    /// long delays on and off.
    fn faults(&mut self) {
        let n = self.hosts.len();
        if self.rng.chance(5) {
            let (a, b) = (self.rng.below(n as u64) as usize, self.rng.below(n as u64) as usize);
            if a != b {
                let both = self.rng.chance(500);
                self.cut[a][b] = true;
                if both {
                    self.cut[b][a] = true;
                }
                self.stats.partitions += 1;
                self.log(|| format!("cut {} -> {}{}", self.hosts[a].name, self.hosts[b].name, if both { " and back" } else { "" }));
            }
        }
        if self.rng.chance(8) {
            for row in &mut self.cut {
                row.fill(false);
            }
            self.log(|| "partitions healed".into());
        }
        if self.rng.chance(5) {
            self.lossy = !self.lossy;
        }
        if self.rng.chance(2) {
            let i = self.rng.below(n as u64) as usize;
            if self.hosts[i].down_until <= self.now {
                self.crash(i);
            }
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let (due, rest): (Vec<Packet>, Vec<Packet>) = self.net.drain(..).partition(|p| p.at <= now);
        self.net = rest.into();
        for p in due {
            // A host that is down gets nothing (its connections broke).
            if self.hosts[p.to].down_until <= now {
                self.receive(p);
            }
        }
    }

    fn receive(&mut self, p: Packet) {
        let from_name = self.hosts[p.from].name.clone();
        match p.msg {
            Msg::Listing(entries, sent, first) => {
                // marsadm's `liveness::heard_anew` sees the liveness link change, which
                // comes with a listing's first piece (`actual-` sorts first).
                if first {
                    self.heard[p.to][p.from] = self.heard[p.to][p.from].max(sent);
                }
                let h = &mut self.hosts[p.to];
                let me = h.name.clone();
                for (path, value, stamp) in entries {
                    let verdict = match classify(&path, &me) {
                        Ok(rule) => {
                            let local = h.tree.get(&path).map(|(v, s)| LinkState { value: v, stamp_ns: *s });
                            decide(rule, local, LinkState { value: &value, stamp_ns: stamp }, &from_name)
                        }
                        Err(r) => refused_path(r),
                    };
                    match verdict {
                        Verdict::Merge => {
                            h.clock.observe(stamp);
                            h.put(path, value, stamp);
                        }
                        Verdict::Reassert => {
                            h.clock.observe(stamp);
                            let now = self.now;
                            let own = h.tree.get(&path).map_or(DELETED.to_string(), |(v, _)| v.clone());
                            let stamp = h.clock.stamp(now);
                            h.put(path, own, stamp);
                        }
                        Verdict::Ignore | Verdict::Drop(_) => {}
                    }
                }
            }
            Msg::FetchReq { from, have, session } => {
                // What the module's fetch asks for: from the logfile the requester
                // replays to the one the source replays, each named by the source's
                // version link of its number (the first also by the requester's link).
                let h = &self.hosts[p.to];
                let Some((cur, _)) = h.replay_link() else { return };
                let mut names = Vec::new();
                for nr in from.0..=cur.0 {
                    let named = h.link(&format!("version-{nr:09}-{}", h.name)).and_then(|v| VersionLink::parse(v).ok()).map(|v| v.log);
                    let name = fetch_name(nr, LogName { nr: from.0, host: &from.1 }, LogName { nr: cur.0, host: &cur.1 }, named).map(|n| (n.nr, n.host.to_string()));
                    match name {
                        Some(n) if n.1 != self.hosts[p.from].name => names.push(n),
                        Some(_) => {}
                        None => break,
                    }
                }
                let mut replies = Vec::new();
                // A copy not yet confirmed is compared with the file of its name here,
                // also where this host's version links do not name it (the module's
                // fetch asks for the one copy of a number this host names no logfile
                // of); missing here, the copy stands as it is.
                // (Missing here counts only before this host's current logfile: its
                // history passed that number, it never writes it again.)
                let last = names.last().map_or(from.0, |k| k.0);
                for (key, n, _) in have.iter().filter(|(k, n, confirmed)| *n > 0 && !confirmed && k.0 <= cur.0 && (names.contains(k) || k.0 > last)) {
                    match h.logs.get(key) {
                        None if key.0 < cur.0 => replies.push(Msg::FetchMissing { log: key.clone(), session }),
                        None => {}
                        Some(recs) if !names.contains(key) => {
                            let start = (*n).min(recs.len());
                            replies.push(Msg::FetchData { log: key.clone(), start, recs: recs[start..].to_vec(), head: recs.first().copied(), past: key.0 < cur.0, session });
                        }
                        Some(_) => {}
                    }
                }
                for (key, recs) in names.iter().filter_map(|k| Some((k, h.logs.get(k)?))) {
                    // Its own logfiles only as far as they are durable (the module: the
                    // current one; the others are durable to their end).
                    let recs = if key.1 == h.name { &recs[..h.synced.get(key).copied().unwrap_or(0).min(recs.len())] } else { &recs[..] };
                    // (An empty logfile too, once: the copy exists, replay can move on.)
                    let had = have.iter().find(|(k, _, _)| k == key);
                    let start = had.map_or(0, |(_, n, _)| *n).min(recs.len());
                    if start < recs.len() || had.is_none_or(|(_, _, confirmed)| !confirmed) {
                        replies.push(Msg::FetchData { log: key.clone(), start, recs: recs[start..].to_vec(), head: recs.first().copied(), past: key.0 < cur.0, session });
                    }
                }
                for m in replies {
                    self.send(p.to, p.from, m);
                }
            }
            Msg::FetchData { log, start, recs, head, past, session } => {
                let source_wrote = self.hosts[p.from].name == log.1;
                let h = &mut self.hosts[p.to];
                if session != h.session {
                    return;
                }
                // The origin writes its own logfiles; nobody else's copy replaces them.
                if log.1 == h.name {
                    return;
                }
                h.create_log(&log);
                if !h.confirmed.contains(&log) {
                    // The copy's head against the source's before anything is appended.
                    let bytes = |r: Option<&Record>| r.map_or(Vec::new(), |(b, v)| [&b.to_le_bytes()[..], &v.to_le_bytes()].concat());
                    // How far replay applied it: its link's position, or beyond, not
                    // flushed yet (the module's `Repair::judge`).
                    let unflushed = h.applied.as_ref().filter(|(k, _, _)| *k == log).map_or(0, |(_, _, end)| *end as u64);
                    let replayed = h.replay_link().filter(|(k, _)| *k == log).map_or(0, |(_, pos)| pos.max(unflushed));
                    match check_copy(&bytes(h.logs[&log].first()), &bytes(head.as_ref()), replayed, source_wrote) {
                        CopyCheck::Same => {}
                        // As if missing there (the module's fetch): the copy stands,
                        // confirmed where the source's history is past it.
                        CopyCheck::NotThere => {
                            if past {
                                h.confirmed.insert(log);
                            }
                            return;
                        }
                        CopyCheck::Refetch => {
                            let name = h.name.clone();
                            h.logs.insert(log.clone(), Vec::new());
                            h.synced.insert(log.clone(), 0);
                            self.stats.refetched += 1;
                            self.log(|| format!("{name}'s copy of {log:?} is another logfile of that name: fetched anew"));
                        }
                        CopyCheck::Diverged => return,
                    }
                    let h = &mut self.hosts[p.to];
                    h.confirmed.insert(log.clone());
                }
                let h = &mut self.hosts[p.to];
                let local = h.logs.get_mut(&log).expect("just created");
                if start == local.len() {
                    local.extend(recs);
                }
            }
            Msg::FetchMissing { log, session } => {
                let h = &mut self.hosts[p.to];
                if session == h.session {
                    h.confirmed.insert(log);
                }
            }
            Msg::SyncReq { from, start, session } => {
                // The sync server: only a primary serves, once its writeback has passed
                // the syncing host's replay start (every write before it is on the disk
                // being copied, every later one is replayed there).
                let h = &self.hosts[p.to];
                // (Nor while its logging has ceased: the sync waits until it resumes.)
                if h.role != Role::Primary || h.ceased {
                    return;
                }
                let Some((cur, _)) = h.replay_link() else { return };
                let link = ReplayLink { log: LogName { nr: start.0 .0, host: &start.0 .1 }, start: start.1, len: 0 };
                let version = h.link(&format!("version-{:09}-{}", start.0 .0, h.name));
                match sync_serving(&link, LogName { nr: cur.0, host: &cur.1 }, (cur.0, h.written as u64), version) {
                    SyncServing::Serve => {}
                    SyncServing::NotYet => return,
                    SyncServing::Never => {
                        self.send(p.to, p.from, Msg::SyncRefused { start });
                        return;
                    }
                }
                // (Not beyond the size it serves: the module refuses, the sync retries.)
                let to = (from + SYNC_BLOCKS).min(h.size_blocks());
                if from >= to {
                    return;
                }
                let values = h.disk[from as usize..to as usize].to_vec();
                let at = h.replay_link().expect("checked above");
                self.send(p.to, p.from, Msg::SyncData { from, values, at, start, session });
            }
            Msg::SyncRefused { start } => {
                let h = &mut self.hosts[p.to];
                // (Not an answer to a request from before an invalidation.)
                if h.resync && !h.sync_refused && h.replay_link() == Some(start) {
                    h.sync_refused = true;
                    let name = h.name.clone();
                    self.log(|| format!("{name}: the sync is refused (its replay start is not on the primary's history): to be invalidated again"));
                }
            }
            Msg::SyncData { from, values, at, start, session } => {
                let sender = self.hosts[p.from].name.clone();
                let h = &mut self.hosts[p.to];
                let status = h.link(&format!("{SYNCSTATUS_PREFIX}{}", h.name)).and_then(|v| v.parse::<u64>().ok());
                // (Nor blocks asked for with another replay start: the module's sync
                // asks for blocks only on the connection whose start it went by.)
                let source = h.link(&format!("actual-{}/{SYNC_SOURCE}", h.name));
                if status != Some(u64::from(from) * 4096) || h.replay_link() != Some(start) || source != Some(sender.as_str()) || session != h.session {
                    return;
                }
                if from == 0 {
                    // Where replay may go on once this pass over the whole disk completes.
                    let me = h.name.clone();
                    let from = format!("{},{},0", LogName { nr: at.0 .0, host: &at.0 .1 }, at.1);
                    h.set(self.now, &format!("actual-{me}/{SYNC_FROM}"), &from, false);
                    self.log(|| format!("{me} sync: a pass from block 0, {sender}'s writeback at {from}"));
                }
                let h = &mut self.hosts[p.to];
                // (The module's sync asks for blocks up to the size it syncs to.)
                let values = &values[..values.len().min(h.size_blocks().saturating_sub(from) as usize)];
                for (k, v) in values.iter().enumerate() {
                    h.disk_write(from + k as u32, *v);
                }
                // Truth: a sync's mix (also of the area a resize added) until the links
                // say consistent.
                h.resync = true;
                self.log(|| format!("{} sync: blocks {from}.. from {}: {values:?}", self.hosts[p.to].name, self.hosts[p.from].name));
                let h = &mut self.hosts[p.to];
                h.flush_disk();
                let next = from + values.len() as u32;
                if next < h.size_blocks() {
                    let me = h.name.clone();
                    h.set(self.now, &format!("{SYNCSTATUS_PREFIX}{me}"), &(u64::from(next) * 4096).to_string(), false);
                } else {
                    h.sync_ending = true;
                    h.sync_seq += 1;
                    let seq = h.sync_seq;
                    self.send(p.to, p.from, Msg::SyncEnd { seq });
                }
            }
            Msg::SyncEnd { seq } => {
                let h = &self.hosts[p.to];
                // (Not while its logging has ceased either, as the module refuses.)
                if h.role != Role::Primary || h.ceased {
                    return;
                }
                let Some((cur, _)) = h.replay_link() else { return };
                let pos = h.logs.get(&cur).map_or(0, Vec::len);
                self.send(p.to, p.from, Msg::SyncPos { log: cur, pos, seq });
            }
            Msg::SyncPos { log, pos, seq } => {
                let now = self.now;
                let h = &mut self.hosts[p.to];
                if seq != h.sync_seq || !std::mem::take(&mut h.sync_ending) {
                    return;
                }
                let me = h.name.clone();
                if let Some(from) = h.link(&format!("actual-{me}/{SYNC_FROM}")).and_then(|v| ReplayLink::parse(v).ok()).map(|l| ((l.log.nr, l.log.host.to_string()), l.start)) {
                    self.replay_after_sync(p.to, p.from, from);
                }
                let h = &mut self.hosts[p.to];
                h.set(now, &format!("actual-{me}/{SYNC_FROM}"), DELETED, false);
                let name = LogName { nr: log.0, host: &log.1 };
                h.set(now, &format!("{SYNCPOS_PREFIX}{me}"), &format!("{name},{pos},0"), false);
                let size = h.size().to_string();
                h.set(now, &format!("{SYNCSTATUS_PREFIX}{me}"), &size, false);
                self.log(|| format!("{me} synced; consistent once replay passes {name},{pos}"));
            }
        }
    }

    /// The metadata pull: every peer gets this host's whole tree.
    /// A listing arrives in pieces, in order, and is merged entry by entry as it comes
    /// (the module does the same): a round may run between two pieces. A connection that
    /// breaks (faults on) ends it early.
    fn pull(&mut self, i: usize) {
        let entries: Vec<(String, String, u64)> = self.hosts[i].tree.iter().map(|(k, (v, s))| (k.clone(), v.clone(), *s)).collect();
        for j in 0..self.hosts.len() {
            if j == i || self.cut[i][j] {
                continue;
            }
            self.stats.messages += 1;
            let mut at = self.now + 1 + self.rng.below(if self.lossy { 3000 } else { 200 });
            let pieces = 1 + self.rng.below(4) as usize;
            let size = entries.len().div_ceil(pieces).max(1);
            for (k, piece) in entries.chunks(size).enumerate() {
                if self.lossy && self.rng.chance(50) {
                    break;
                }
                let msg = Msg::Listing(piece.to_vec(), self.now, k == 0);
                self.net.push_back(Packet { at, from: i, to: j, msg });
                at += self.rng.below(800);
            }
        }
    }

    /// One round of host `i`'s strategy: the decisions of `mars_core::round`, carried out.
    fn round(&mut self, i: usize) {
        let now = self.now;
        let h = &mut self.hosts[i];
        let me = h.name.clone();
        let primary = h.link(PRIMARY).filter(|p| *p != NONE).map(str::to_string);
        let has_data = h.link(&format!("data-{me}")).is_some();
        let attach = switch_on(h.link(&format!("todo-{me}/attach")).map(str::as_bytes));
        let connected = switch_on(h.link(&format!("todo-{me}/connect")).map(str::as_bytes));
        let want = desired_role(&ResourceLinks { has_data, attach, primary: primary.as_deref() }, &me);
        if want == Role::Detached {
            return;
        }
        let size = h.size();
        let activity = Activity { connected, syncing: false, sync_slot_free: true, space_allows_sync: true };
        let mut follows = false;
        match step(want, h.role, h.open) {
            Step::StayPrimary => {
                // The writeback's report: the disk flushed, then the replay link.
                if let Some((log, _)) = h.replay_link() {
                    h.flush_disk();
                    h.report(now, &log, h.written as u64);
                }
                // The device grown to the size: the area a resize added is this disk's.
                if let Ok(Some(status)) = round::primary_status(&DirLinks(&h.tree), &me, size) {
                    h.set(now, &format!("{SYNCSTATUS_PREFIX}{me}"), &status.to_string(), false);
                }
            }
            Step::TakeOver => match takeover_here(&DirLinks(&h.tree), &me, size, connected) {
                Ok(Some(Takeover::Now(mode))) => {
                    h.flush_applied(now);
                    // (The fetch stops.)
                    h.session += 1;
                    // took-over (mode, the writer of the logfile it replays), then
                    // is-primary = 1, durable, before the device takes a write.
                    let (log, _) = h.replay_link().expect("takeover needs a replay link");
                    h.set(now, &format!("actual-{me}/took-over"), &format!("{},{}", mode.word(), log.1), true);
                    h.set(now, &format!("actual-{me}/is-primary"), "1", true);
                    h.journal.clear();
                    let (log, pos) = h.replay_link().expect("takeover needs a replay link");
                    let next = if mode == Mode::Own {
                        h.recover_own(now, &log, pos as usize)
                    } else {
                        // What is here of the current logfile is replayed first, then
                        // this host logs into the next number.
                        h.replay_all(now);
                        let (log, _) = h.replay_link().expect("takeover needs a replay link");
                        (log.0 + 1, me.clone())
                    };
                    let fresh = !h.logs.contains_key(&next);
                    h.create_log(&next);
                    h.report(now, &next, 0);
                    h.written = 0;
                    h.role = Role::Primary;
                    if std::mem::take(&mut h.restart_app) {
                        h.open = true;
                    }
                    h.stopped = None;
                    let chain = h.chain.clone();
                    if fresh {
                        self.begin_logfile(&next, chain);
                    } else if self.truth.get(&next).is_none_or(Vec::is_empty) {
                        // An empty logfile of its own (after the hole of emergency
                        // mode): its first record continues what this host has now.
                        self.lineage.insert(next.clone(), chain);
                    }
                    self.log(|| {
                        let h = &self.hosts[i];
                        let links: Vec<String> = h.tree.iter().filter(|(k, _)| k.contains("replay-") || k.contains("is-primary") || k.contains("version-")).map(|(k, (v, s))| format!("{k}={v}@{s}")).collect();
                        format!("{me} takes over ({mode:?}); its links: {}", links.join(" "))
                    });
                    let taken = self.hosts[i].chain.clone();
                    // The operator's `resume-fetch` after `primary --force` (the only
                    // `pause-fetch` here).
                    if self.hosts[i].link(&format!("todo-{me}/connect")) == Some("0") {
                        self.hosts[i].marsadm_set(now, &format!("todo-{me}/connect"), "1");
                    }
                    if let Some((old, new, forced)) = self.switching.take() {
                        if new == i {
                            self.hosts[i].open = true;
                            let o = &self.hosts[old];
                            // Planned: everything the old primary logged is here (after
                            // a crash there: all it had written back, and every write
                            // acknowledged durable).
                            let acked = o.acked.as_ref().is_none_or(|(log, n)| taken.iter().any(|(k, m)| k == log && m >= n) || taken.iter().any(|(k, _)| k.0 > log.0));
                            let all = if o.dirty.is_some() { prefix(o.history(), &taken) } else { o.chain == taken };
                            if !forced && !(all && acked) {
                                return self.found(format!("planned takeover by {me} without all of {}'s log: has {:?}, old primary {:?} (acknowledged durable {:?})", o.name, taken, o.history(), o.acked));
                            }
                        } else {
                            self.switching = Some((old, new, forced));
                        }
                    }
                    return;
                }
                Ok(_) => follows = true,
                Err(()) => {}
            },
            // The application there is stopped once its host hears of the new primary
            // (systemd does it, docu/systemd.md): next round it leaves.
            Step::Remain => h.open = false,
            // (The simulated hosts stay attached: none detaches.)
            Step::Idle | Step::Attach | Step::Detach => return,
            Step::Follow => {
                h.restart_app = false;
                let was_primary = h.role == Role::Primary || h.link(&format!("actual-{me}/is-primary")) == Some("1");
                if h.role == Role::Primary {
                    // Leaving the primary role: the log durable and written back, the
                    // disk flushed, the final links.
                    let (log, _) = h.replay_link().expect("a primary has a replay link");
                    h.sync_log(&log);
                    h.write_back();
                    h.flush_disk();
                    h.report(now, &log, h.written as u64);
                    h.role = Role::Secondary;
                    h.open = false;
                    self.end_direct(i);
                    self.log(|| format!("{me} leaves the primary role"));
                }
                let h = &mut self.hosts[i];
                if was_primary && h.role != Role::Primary {
                    // Back after a crash as primary, designated secondary now: its own
                    // log recovered first (the module's `recover_left`).
                    if let Some((log, pos)) = h.replay_link().filter(|(l, _)| l.1 == me) {
                        // What replay applied meanwhile (it ran while this host waited
                        // designated primary) is applied again, the same records: the
                        // truth counts them once.
                        if let Some((key, from, _)) = h.applied.take() {
                            if h.chain.last().is_some_and(|(k, _)| *k == key) {
                                if from == 0 {
                                    h.chain.pop();
                                } else if let Some(last) = h.chain.last_mut() {
                                    last.1 = from;
                                }
                            }
                        }
                        h.recover_own(now, &log, pos as usize);
                    }
                }
                if was_primary {
                    // What a host taking over relies on is durable (sync of the
                    // directory), then is-primary = 0, then the final links again with
                    // newer stamps (the module's `restamp_final_links`).
                    let h = &mut self.hosts[i];
                    h.journal.clear();
                    h.set(now, &format!("actual-{me}/is-primary"), "0", false);
                    h.restamp_final_links(now);
                } else {
                    // Written again at any round where they are not final (a crash came
                    // between is-primary = 0 and the restamp).
                    let h = &mut self.hosts[i];
                    let stamp = |name: &str| h.tree.get(&format!("{RESOURCE_PREFIX}{RES}/{name}")).filter(|(v, _)| v != DELETED).map(|(_, s)| *s);
                    if let Some((log, _)) = h.replay_link().filter(|(l, _)| l.1 == me) {
                        let (is_primary, replay, version) = (stamp(&format!("actual-{me}/is-primary")), stamp(&format!("replay-{me}")), stamp(&format!("version-{:09}-{me}", log.0)));
                        let designated = h.tree.get(&format!("{RESOURCE_PREFIX}{RES}/primary")).map_or(0, |(_, s)| *s);
                        if let (Some(replay), Some(version)) = (replay, version) {
                            if !(Stamps { is_primary: is_primary.unwrap_or(0), replay, version, designated }).final_links() {
                                h.restamp_final_links(now);
                            }
                        }
                    }
                }
                follows = true;
            }
        }
        if !follows {
            return;
        }
        let h = &mut self.hosts[i];
        let Ok(plan) = follow(&DirLinks(&h.tree), &me, primary.as_deref(), size, activity) else { return };
        // A fetch that starts (a new source, or after a detach or a crash) confirms the
        // copies anew.
        if let Some(source) = &plan.fetch {
            let fetch = Some((h.session, source.as_str().to_string()));
            if h.confirmed_for != fetch {
                h.confirmed.clear();
                h.confirmed_for = fetch;
            }
        }
        if plan.replay_on {
            h.replay(now);
        }
        if let Some(source) = plan.sync_wanted.filter(|_| plan.sync_runs) {
            // The sync thread: the next blocks from where the status says, from 0 if
            // the blocks below it came from a host the source did not take over from
            // by a planned handover (the module's `syncruns::start_at`).
            let since = *h.sync_waiting.get_or_insert(now);
            let status = match round::sync_start(&DirLinks(&h.tree), &me, source.as_str(), now - since) {
                // (Only the sync waits: fetch goes on, a thread of its own.)
                Ok((_, Start::Wait)) | Err(_) => None,
                Ok((status, Start::At(0))) if status > 0 => {
                    h.set(now, &format!("{SYNCSTATUS_PREFIX}{me}"), "0", false);
                    Some(0)
                }
                Ok((status, Start::At(_))) => Some(status),
            };
            if let Some(status) = status {
                h.sync_waiting = None;
                h.set(now, &format!("actual-{me}/{SYNC_SOURCE}"), source.as_str(), false);
                let src = self.hosts.iter().position(|x| x.name == source.as_str());
                if let (Some(src), Some(start)) = (src, self.hosts[i].replay_link()) {
                    // (The last blocks again until the position arrives: the status says
                    // complete only with it.)
                    let session = self.hosts[i].session;
                    self.send(i, src, Msg::SyncReq { from: (status / 4096) as u32, start, session });
                }
            }
        }
        let Some(source) = plan.fetch else { return };
        let Some(src) = self.hosts.iter().position(|x| x.name == source.as_str()) else { return };
        let h = &self.hosts[i];
        let Some((log, _)) = h.replay_link() else { return };
        let have: Vec<(LogKey, usize, bool)> = h.logs.range((log.0, String::new())..).map(|(k, v)| (k.clone(), v.len(), h.confirmed.contains(k))).collect();
        let session = h.session;
        self.send(i, src, Msg::FetchReq { from: log, have, session });
    }

    /// Whether host `at`'s tree shows a split brain between hosts `a` and `b`
    /// (`splitbrain::compare_histories` on their version links there).
    fn split_brain_shown(&self, at: usize, a: usize, b: usize) -> bool {
        let tree = &self.hosts[at].tree;
        let (na, nb) = (&self.hosts[a].name, &self.hosts[b].name);
        let (la, lb) = (self.hosts[at].version_links(na), self.hosts[at].version_links(nb));
        // Either of them primary (as this tree says) and the other gone on beyond the
        // logfile it logs into (`splitbrain::beyond_primary`, as marsadm's view checks).
        let link = |name: String| tree.get(&format!("{RESOURCE_PREFIX}{RES}/{name}")).map(|(v, _)| v.as_str()).filter(|v| *v != DELETED);
        let beyond = |primary: &str, other: &[(u32, &str)]| {
            link(format!("actual-{primary}/is-primary")) == Some("1")
                && link(format!("replay-{primary}")).and_then(|v| ReplayLink::parse(v).ok()).is_some_and(|r| beyond_primary(primary, r.log.nr, other).is_some())
        };
        matches!(compare_histories(&la, &lb), PairHistory::Diverged(_)) || beyond(na, &lb) || beyond(nb, &la)
    }

    /// The members as host `at`'s tree lists them (`data-<host>`), which marsadm's view
    /// compares pairwise.
    fn members_at(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.hosts.len()).filter(move |&x| self.hosts[at].link(&format!("data-{}", self.hosts[x].name)).is_some())
    }

    /// Whether host `at`'s view lists host `b` among the hosts of a split brain: `b`
    /// diverged from any member there, not only from the primary (a primary whose old
    /// version links are deleted shares no logfile number with `b`, a third member's
    /// links still show the fork: seed 29926).
    fn split_brain_involves(&self, at: usize, b: usize) -> bool {
        self.hosts[at].link(&format!("data-{}", self.hosts[b].name)).is_some() && self.members_at(at).any(|a| a != b && self.split_brain_shown(at, a, b))
    }

    /// Whether host `at`'s view shows a split brain at all (marsadm refuses a handover then).
    fn split_brain_anywhere(&self, at: usize) -> bool {
        self.members_at(at).any(|b| self.split_brain_involves(at, b))
    }

    /// The records of logfile `key` as its origin wrote them.
    fn origin_copy(&self, key: &LogKey) -> &[Record] {
        self.truth.get(key).map_or(&[], Vec::as_slice)
    }

    /// Truth: logfile `key` begins, continuing `lineage` (its writer's chain). A name
    /// its writer used before, in a history an invalidation discarded there, is another
    /// logfile: the earlier one's records and lineage move to a ghost name
    /// (`<host>~<n>`), and so does every chain that went through it. The checker tells
    /// the two apart; the hosts only by their contents (`replication::check_copy`).
    fn begin_logfile(&mut self, key: &LogKey, lineage: Vec<(LogKey, usize)>) {
        if let Some(recs) = self.truth.remove(key) {
            let ghost = (key.0, format!("{}~{}", key.1, self.ghosts));
            self.ghosts += 1;
            self.truth.insert(ghost.clone(), recs);
            if let Some(l) = self.lineage.remove(key) {
                self.lineage.insert(ghost.clone(), l);
            }
            let rename = |chain: &mut Vec<(LogKey, usize)>| chain.iter_mut().filter(|(k, _)| k == key).for_each(|(k, _)| *k = ghost.clone());
            self.lineage.values_mut().for_each(rename);
            for h in &mut self.hosts {
                rename(&mut h.chain);
                h.dirty.iter_mut().for_each(rename);
                if let Some((k, _)) = h.acked.as_mut().filter(|(k, _)| k == key) {
                    *k = ghost.clone();
                }
            }
        }
        self.truth.insert(key.clone(), Vec::new());
        self.lineage.insert(key.clone(), lineage);
    }

    /// Whether `copy` is a prefix of logfile `key` as its origin wrote it, or of an
    /// earlier logfile of that name ([`World::begin_logfile`]).
    fn copy_of_origin(&self, key: &LogKey, copy: &[Record]) -> bool {
        let ghosts = self.truth.range((key.0, format!("{}~", key.1))..(key.0, format!("{}\u{7f}", key.1)));
        std::iter::once(self.origin_copy(key)).chain(ghosts.map(|(_, r)| r.as_slice())).any(|o| o.starts_with(copy))
    }


    /// After every step: each disk holds exactly its chain's records, every fetched
    /// copy is a prefix of its origin's logfile, and each chain is one history with the
    /// chain of the origin of its last logfile (anytime consistency).
    fn check(&mut self) -> Result<(), Failure> {
        if let Some(what) = self.failure.take() {
            return Err(self.fail(what));
        }
        // A crashed host's disk is what its chain wrote again once replay went through
        // everything it had gone through before.
        for h in &mut self.hosts {
            if h.dirty.as_ref().is_some_and(|before| prefix(before, &h.chain)) {
                h.dirty = None;
            }
            // A status below the size: the disk is a sync's mix (also after a crash took
            // back the end of a sync, seed 15314, and in the area a resize added) until
            // the links say consistent.
            let me = h.name.clone();
            if h.link(&format!("{SYNCSTATUS_PREFIX}{me}")).and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s < h.size()) {
                h.resync = true;
            }
            if h.resync && h.down_until <= self.now && h.consistent() {
                h.resync = false;
                if self.verbose {
                    println!("{:>7} ms  {} consistent again (replay at {:?})", self.now, h.name, h.replay_link());
                }
            }
        }
        for h in &self.hosts {
            for (key, recs) in &h.logs {
                if key.1 != h.name && !self.copy_of_origin(key, recs) {
                    return Err(self.fail(format!("{}'s copy of logfile {:?} is not a prefix of its origin's", h.name, key)));
                }
            }
            let mut disk = vec![0u64; BLOCKS as usize];
            for (key, n) in &h.chain {
                let recs = self.origin_copy(key);
                let Some(applied) = recs.get(..*n) else {
                    return Err(self.fail(format!("{} applied {} records of {:?}, its origin has {}", h.name, n, key, recs.len())));
                };
                for (b, v) in applied {
                    disk[*b as usize] = *v;
                }
            }
            if h.resync {
                // A full sync's mix until the links say consistent (then checked below).
            } else if let Some(before) = &h.dirty {
                // Replay at the end of what it has here, with nothing to move on to: its
                // view says its disk is a consistent copy. It must be.
                let idle = h.down_until <= self.now && h.role != Role::Primary && h.applied.is_none() && h.replay_link().is_some_and(|(log, pos)| {
                    pos as usize == h.logs.get(&log).map_or(0, Vec::len) && !h.logs.keys().any(|k| k.0 > log.0)
                });
                if idle && disk != h.disk {
                    return Err(self.fail(format!(
                        "MIXED DISK after a crash: {} replayed all its copies hold (chain {:?}), its disk still holds writes it went through before (chain {:?})",
                        h.name, h.chain, before
                    )));
                }
            } else if disk[..h.size_blocks() as usize] != h.disk[..h.size_blocks() as usize] {
                // (Blocks beyond the size its tree says are no part of its copy yet: a
                // crash may have taken back the `size` a resize wrote, and what a sync
                // copied there is synced again once it arrives.)
                let diff: Vec<(usize, u64, u64)> = (0..h.size_blocks() as usize).filter(|&b| disk[b] != h.disk[b]).map(|b| (b, h.disk[b], disk[b])).collect();
                return Err(self.fail(format!("{}'s disk is not what its chain {:?} wrote (block, has, should have): {diff:?}", h.name, h.chain)));
            }
            // A replay stop where the next logfile continues exactly the history its disk
            // went through, on the primary's history, is a false alarm: that host would
            // wait for an invalidation it does not need (a stop rule that also hit members
            // whose sync ended long ago went unnoticed while the operator's repairs
            // covered it).
            let primary = self.hosts.iter().find(|p| p.role == Role::Primary).map(Host::history);
            if h.stopped == Some(Stop::VersionMismatch) && !h.resync && h.dirty.is_none() && h.down_until <= self.now {
                // (Replay in the chain's last logfile: not in an empty one of its own
                // after it, a fork, however empty.)
                let in_last = |last: &LogKey| h.replay_link().is_some_and(|(k, _)| k == *last);
                if let (Some(((last, _), _)), Some(primary)) = (h.chain.split_last().filter(|((l, _), _)| in_last(l)), primary) {
                    let on_primary = |k: &LogKey| primary.iter().any(|(p, _)| p == k);
                    // (The only logfile of its number here: with another one beside it,
                    // replay may have decided on that one, rightly.)
                    let alone = |k: &LogKey| h.logs.keys().filter(|o| o.0 == k.0).count() == 1;
                    if let Some(next) = h.logs.keys().find(|k| k.0 > last.0 && on_primary(k) && alone(k) && self.lineage.get(*k).is_some_and(|l| *l == h.chain)) {
                        return Err(self.fail(format!("FALSE STOP: {}'s replay stopped (version mismatch) before {next:?}, which continues its chain {:?}", h.name, h.chain)));
                    }
                }
            }
            // Its chain is the history its last logfile continues, and part of that.
            let Some(((last, _), init)) = h.chain.split_last() else { continue };
            let lineage = self.lineage.get(last);
            if lineage.is_none_or(|l| l[..] != *init) {
                return Err(self.fail(format!(
                    "ANYTIME CONSISTENCY: {}'s disk mixes histories: its chain {:?}, the history logfile {:?} continues {:?}",
                    h.name, h.chain, last, lineage
                )));
            }
        }
        Ok(())
    }

    /// After the faults healed and the cluster settled: a host whose history is the
    /// primary's has the primary's disk; one whose history diverged shows it (its
    /// version links and the primary's compare as diverged).
    fn check_shown(&mut self) -> Result<(), Failure> {
        for h in &self.hosts {
            self.log(|| format!("end: {} {:?} open {} replay {:?} stopped {:?} chain {:?}", h.name, h.role, h.open, h.replay_link(), h.stopped, h.chain));
            self.log(|| {
                let links: Vec<String> = h.tree.iter().filter(|(k, _)| k.contains("replay-") || k.contains("is-primary") || k.contains("took-over") || k.contains("version-") || k.contains("todo-") || k.contains("sync") || k.ends_with("/primary")).map(|(k, (v, s))| format!("{k}={v}@{s}")).collect();
                let logs: Vec<String> = h.logs.iter().map(|(k, r)| format!("{}-{}:{}/{}", k.0, k.1, r.len(), h.synced.get(k).copied().unwrap_or(0))).collect();
                let t = takeover_here(&DirLinks(&h.tree), &h.name, h.size(), true);
                format!("   {} takeover {:?} logs {} links {}", h.name, t, logs.join(" "), links.join(" "))
            });
        }
        let Some(p) = self.hosts.iter().position(|h| h.role == Role::Primary) else {
            return Err(self.fail("no primary at the end".into()));
        };
        let primary = &self.hosts[p];
        for (i, h) in self.hosts.iter().enumerate() {
            // (A host that left the resource is no copy of anything.)
            if i == p || !h.member() {
                continue;
            }
            let shown = self.split_brain_shown(p, p, i);
            // On the primary's history (behind or equal): it must have caught up.
            let on_history = prefix(&h.chain, &primary.chain);
            if on_history && (h.stopped.is_some() || shown) && h.disk != primary.disk {
                // Its disk is an older copy, but its logfiles or version links are not
                // the primary's (a logfile of its own, even an empty one, or two
                // logfiles of one number here): shown, for the operator to resolve.
                self.stats.stopped_bystanders += 1;
            } else if on_history && (self.stranded(i, p) || h.sync_refused) {
                // Held back: what it needs is gone from its source (its fetch says so),
                // or its sync is refused (the primary says: invalidate it again).
                self.stats.stopped_bystanders += 1;
            } else if on_history {
                if h.disk != primary.disk {
                    return Err(self.fail(format!(
                        "NOT CONVERGED: {} (chain {:?}, stopped {:?}) differs from the primary {} (chain {:?})",
                        h.name, h.chain, h.stopped, primary.name, primary.chain
                    )));
                }
            } else if !self.split_brain_involves(p, i) && h.stopped.is_none() && h.consistent() {
                // (Shown on the primary by the version links of any two members, or on
                // the host itself by its replay's stop, or by its links: no consistent
                // copy, a full sync under way or refused.)
                return Err(self.fail(format!(
                    "SILENT DIVERGENCE: {} (chain {:?}) and the primary {} (chain {:?}) diverged, the version links do not show it",
                    h.name, h.chain, primary.name, primary.chain
                )));
            } else {
                self.stats.split_brains += 1;
            }
        }
        Ok(())
    }

    /// At the end, after the operator's repairs: every host has the primary's disk, and
    /// its links say it is a consistent copy.
    fn check_converged(&mut self) -> Result<(), Failure> {
        let Some(p) = self.hosts.iter().position(|h| h.role == Role::Primary) else {
            return Err(self.fail("no primary at the end".into()));
        };
        for (i, h) in self.hosts.iter().enumerate() {
            if i != p && (h.disk != self.hosts[p].disk || !h.consistent() || h.stopped.is_some()) {
                return Err(self.fail(format!(
                    "NOT CONVERGED after repair: {} (chain {:?}, stopped {:?}, consistent {}, logfiles {:?}) differs from the primary {} (chain {:?})",
                    h.name, h.chain, h.stopped, h.consistent(), h.logs.iter().map(|(k, r)| (k, r.len())).collect::<Vec<_>>(), self.hosts[p].name, self.hosts[p].chain
                )));
            }
        }
        Ok(())
    }

    fn found(&mut self, what: String) {
        if self.failure.is_none() {
            self.failure = Some(what);
        }
    }
}
