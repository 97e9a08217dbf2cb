//! Role changes of a resource (design reference §1.7, §5.3, §5.4, docu/failover.md):
//! whom a secondary fetches from, and when a host designated primary may take over.
//! Pure decisions on values read from the tree, shared by the module (which acts on
//! them) and marsadm (which explains them).
//!
//! A host designated primary whose replay link names another host's logfile takes over
//! in one of two ways:
//! - **planned** (its fetch switch is on): it goes on fetching and replaying the old
//!   primary's logfiles until the old primary has left the primary role (its device
//!   closed, its final replay link written, known to be final by its stamp) and this
//!   host has replayed everything up to that final position with an equal version link.
//!   No acknowledged write is lost.
//! - **forced** (fetch switched off by `marsadm pause-fetch`): it takes over at once
//!   with what it has fetched and verified. If the old primary wrote more, or still
//!   writes, the two histories diverge: a split brain, which the version links show.

use super::tree::{LogName, ReplayLink};

/// The host a secondary fetches logfiles from: the designated primary, or while there
/// is none or this host is the designated one (and not primary yet), the host whose
/// logfile it replays now (the old primary during a handover).
pub fn fetch_source<'a>(designated: Option<&'a str>, me: &str, replaying: LogName<'a>) -> Option<&'a str> {
    match designated {
        Some(p) if p != me => Some(p),
        _ => Some(replaying.host).filter(|h| *h != me),
    }
}

/// How a host becomes primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Its replay link names its own logfile: recovery of its own log (after a crash,
    /// a reboot, or when it was primary before).
    Own,
    /// The old primary finished and everything it logged is replayed here.
    Planned,
    /// Fetch is off: what is here is used, the rest of the old primary's log is not.
    Forced,
}

impl Mode {
    /// The mode in `actual-<host>/took-over` (`syncruns::TOOK_OVER`).
    pub fn word(self) -> &'static str {
        match self {
            Mode::Own => "own",
            Mode::Planned => "planned",
            Mode::Forced => "forced",
        }
    }
}

/// Why a designated primary does not take over yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The disk is not a consistent copy yet: the full sync has not finished, or replay
    /// has not passed its end (refused even when forced).
    NotConsistent,
    /// The old primary still has the primary role (its device is open, or it has not
    /// heard of the change yet).
    OldPrimaryActive,
    /// The old primary's final replay link or version link is not here yet.
    NoFinalPosition,
    /// Not everything the old primary logged is fetched and replayed here yet.
    NotCaughtUp,
}

impl core::fmt::Display for Wait {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Wait::NotConsistent => "the disk is not a consistent copy yet (full sync or its replay unfinished)",
            Wait::OldPrimaryActive => "the old primary has not left the primary role yet",
            Wait::NoFinalPosition => "the old primary's final log position is not known here yet",
            Wait::NotCaughtUp => "not everything the old primary logged is replayed here yet",
        })
    }
}

/// `resource-<res>/actual-<host>/takeover-wait`: why the module of `host`, designated
/// primary, does not take over yet ([`Wait::word`]), or `0`: it does not wait.
pub const TAKEOVER_WAIT: &str = "takeover-wait";

impl Wait {
    /// Every reason, in the order [`takeover`] asks.
    pub const ALL: [Wait; 4] = [Wait::NotConsistent, Wait::NotCaughtUp, Wait::OldPrimaryActive, Wait::NoFinalPosition];

    /// Its word in [`TAKEOVER_WAIT`].
    pub fn word(self) -> &'static str {
        match self {
            Wait::NotConsistent => "NotConsistent",
            Wait::OldPrimaryActive => "OldPrimaryActive",
            Wait::NoFinalPosition => "NoFinalPosition",
            Wait::NotCaughtUp => "NotCaughtUp",
        }
    }

    /// The reason a [`TAKEOVER_WAIT`] value names (`None`: not waiting, or a word this
    /// version does not know).
    pub fn from_word(word: &str) -> Option<Wait> {
        Wait::ALL.into_iter().find(|w| w.word() == word)
    }

    /// What an operator can do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Wait::NotConsistent => "designated primary, but the disk here is not a consistent copy yet: let its full sync (or the replay after it) finish, or designate a host that has one (`marsadm primary` there); `--force` does not skip this",
            Wait::OldPrimaryActive => "designated primary, but the old primary has not left the role yet: stop what uses its device there (umount); if that host is gone for good, `marsadm primary --force` here",
            Wait::NoFinalPosition => "designated primary, but the old primary's final log position has not arrived here: check the connection to it; if that host is gone for good, `marsadm primary --force` here",
            Wait::NotCaughtUp => "designated primary, fetching and replaying the rest of the old primary's log: it takes over once that is done (fetch and replay rest above)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    Now(Mode),
    Wait(Wait),
}

/// What this host knows of the old primary: the origin of the logfile it replays.
#[derive(Debug, Clone, Copy)]
pub struct OldPrimary<'a> {
    /// `actual-<old>/is-primary` ("1": still primary; missing: unknown).
    pub is_primary: Option<bool>,
    /// `replay-<old>`: where its writeback stopped.
    pub replay: Option<ReplayLink<'a>>,
    /// `version-<nr>-<old>` of the logfile its replay link names.
    pub version: Option<&'a str>,
    /// The Lamport stamps of those three links here (0: missing).
    pub stamps: Stamps,
}

/// Lamport stamps of the old primary's links as they are here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    pub is_primary: u64,
    pub replay: u64,
    pub version: u64,
    /// The `primary` link's stamp here: the designation in force.
    pub designated: u64,
}

impl Stamps {
    /// Whether the replay and version links are the final ones: written after
    /// `is-primary` = 0 and after the designation in force. A host leaving the primary role writes its final links, then
    /// `is-primary` = 0, then both links again (same values, newer stamps). A peer
    /// merges a listing entry by entry, in directory order, so `is-primary` = 0 may
    /// arrive here with links read before the final ones were written; links stamped
    /// after it cannot be from before. The old primary writes them again at every
    /// round until they are (a crash between `is-primary` = 0 and the second write), so
    /// a host taking over waits for them however long a partition holds them back.
    /// (Until 2026-12-06 they also counted as final 20 s after `is-primary` = 0: with the
    /// old primary's listings cut one way for longer, a planned takeover went on from
    /// links read before the old primary's last writes and lost them: found by the
    /// simulation.)
    ///
    /// After the designation too: the old primary's final links answer *this*
    /// designation, so it has given way to it and does not take the role back. A host
    /// that left on a designation it saw on its own (old → new) and then merged an
    /// older one naming itself (→ old, written before it left but pulled after) took
    /// over again on its own logfile while the new primary, designated once more by
    /// `marsadm primary`, took over from the links it had written before: two logfiles
    /// of one number, a fork (scenario 30 on mixed kernels, 2026-12-07). The old primary
    /// writes its links again when a newer designation arrives (the module's
    /// `restamp_final_links`), so the new one waits at most a pull round for that.
    pub fn final_links(&self) -> bool {
        let after = self.is_primary.max(self.designated);
        self.replay > after && self.version > after
    }
}

/// What this host has.
#[derive(Debug, Clone, Copy)]
pub struct Here<'a> {
    /// `replay-<me>`.
    pub replay: ReplayLink<'a>,
    /// `version-<nr>-<me>` of the logfile `replay` names.
    pub version: Option<&'a str>,
    /// `todo-<me>/connect` is on.
    pub fetch_on: bool,
    /// The disk is a consistent copy (`replication::is_consistent`: the full sync has
    /// finished and replay has passed the sync's end).
    pub consistent: bool,
    /// Another host went on after the origin of the logfile `replay` names (this host
    /// or the old primary): it is primary now (its `is-primary` = 1 is newer than the
    /// origin's `is-primary`), or it has a version link of a logfile numbered above the
    /// one `replay` names.
    pub superseded: bool,
}

/// Whether `me`, designated primary, takes over now (see the module documentation).
pub fn takeover(me: &str, here: &Here<'_>, old: &OldPrimary<'_>) -> Takeover {
    if here.replay.log.host == me {
        // Its own logfile is the newest: recovery. If another host went on after it (a
        // handover back before this host's replay moved on to the new primary's
        // logfile), taking over now would start a logfile beside that one and lose what
        // is in it: a planned takeover waits until replay has moved on (the rules below
        // then apply); a forced one does that on purpose.
        return match (here.superseded, here.fetch_on) {
            (false, _) => Takeover::Now(Mode::Own),
            (true, true) => Takeover::Wait(Wait::NotCaughtUp),
            (true, false) => Takeover::Now(Mode::Forced),
        };
    }
    if !here.consistent {
        return Takeover::Wait(Wait::NotConsistent);
    }
    if !here.fetch_on {
        return Takeover::Now(Mode::Forced);
    }
    // Another host took over after the old primary: its logfile comes first.
    if here.superseded {
        return Takeover::Wait(Wait::NotCaughtUp);
    }
    if old.is_primary != Some(false) {
        return Takeover::Wait(Wait::OldPrimaryActive);
    }
    let (Some(final_pos), Some(final_version)) = (old.replay, old.version) else {
        return Takeover::Wait(Wait::NoFinalPosition);
    };
    if !old.stamps.final_links() {
        return Takeover::Wait(Wait::NoFinalPosition);
    }
    // The old primary's last logfile is the one replayed here, to its final position,
    // with the same history (equal version links).
    let caught_up = final_pos.log == here.replay.log
        && final_pos.len == 0
        && here.replay.start >= final_pos.start
        && here.version == Some(final_version);
    if caught_up { Takeover::Now(Mode::Planned) } else { Takeover::Wait(Wait::NotCaughtUp) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(nr: u32, host: &str, start: u64) -> ReplayLink<'_> {
        ReplayLink { log: LogName { nr, host }, start, len: 0 }
    }

    #[test]
    fn fetch_from_the_designated_primary_or_the_old_one() {
        let log = LogName { nr: 3, host: "node1" };
        assert_eq!(fetch_source(Some("node1"), "node2", log), Some("node1"));
        // A third host follows the new primary, even while replaying the old one's log.
        assert_eq!(fetch_source(Some("node2"), "node3", log), Some("node2"));
        // Designated but not primary yet: the rest comes from the old primary.
        assert_eq!(fetch_source(Some("node2"), "node2", log), Some("node1"));
        assert_eq!(fetch_source(None, "node2", log), Some("node1"));
        // Its own logfile: nobody to fetch it from.
        assert_eq!(fetch_source(None, "node1", log), None);
        assert_eq!(fetch_source(Some("node1"), "node1", log), None);
    }

    #[test]
    fn takeover_rules() {
        let v = "aa,log-000000003-node1,1000:bb";
        let here = Here { replay: at(3, "node1", 1000), version: Some(v), fetch_on: true, consistent: true, superseded: false };
        let left = Stamps { is_primary: 10, replay: 11, version: 12, designated: 9 };
        let done = OldPrimary { is_primary: Some(false), replay: Some(at(3, "node1", 1000)), version: Some(v), stamps: left };
        assert_eq!(takeover("node2", &here, &done), Takeover::Now(Mode::Planned));
        // Own log: always (recovery).
        let own = Here { replay: at(3, "node2", 0), consistent: false, ..here };
        assert_eq!(takeover("node2", &own, &done), Takeover::Now(Mode::Own));
        // Unless another primary logged after it: it follows that logfile first.
        let handed_back = Here { superseded: true, ..own };
        assert_eq!(takeover("node2", &handed_back, &done), Takeover::Wait(Wait::NotCaughtUp));
        let forced_back = Here { fetch_on: false, ..handed_back };
        assert_eq!(takeover("node2", &forced_back, &done), Takeover::Now(Mode::Forced));
        // Another host took over after the old primary: not at the old one's position.
        let went_on = Here { superseded: true, ..here };
        assert_eq!(takeover("node2", &went_on, &done), Takeover::Wait(Wait::NotCaughtUp));
        // Never on an unfinished sync, not even forced.
        let unsynced = Here { consistent: false, fetch_on: false, ..here };
        assert_eq!(takeover("node2", &unsynced, &done), Takeover::Wait(Wait::NotConsistent));
        // Fetch off: forced, whatever the old primary does.
        let forced = Here { fetch_on: false, replay: at(2, "node1", 5), ..here };
        let active = OldPrimary { is_primary: Some(true), ..done };
        assert_eq!(takeover("node2", &forced, &active), Takeover::Now(Mode::Forced));
        // Planned: wait for the old primary to leave, then for its final position.
        assert_eq!(takeover("node2", &here, &active), Takeover::Wait(Wait::OldPrimaryActive));
        let unknown = OldPrimary { is_primary: None, ..done };
        assert_eq!(takeover("node2", &here, &unknown), Takeover::Wait(Wait::OldPrimaryActive));
        let no_version = OldPrimary { version: None, ..done };
        assert_eq!(takeover("node2", &here, &no_version), Takeover::Wait(Wait::NoFinalPosition));
        let behind = Here { replay: at(3, "node1", 999), ..here };
        assert_eq!(takeover("node2", &behind, &done), Takeover::Wait(Wait::NotCaughtUp));
        let other_history = Here { version: Some("cc,log-000000003-node1,1000:bb"), ..here };
        assert_eq!(takeover("node2", &other_history, &done), Takeover::Wait(Wait::NotCaughtUp));
        // `is-primary` = 0 arrived with links from before the old primary left (read
        // earlier in the same listing): not final, although everything matches.
        let early = OldPrimary { stamps: Stamps { replay: 9, ..left }, ..done };
        assert_eq!(takeover("node2", &here, &early), Takeover::Wait(Wait::NoFinalPosition));
        let early_version = OldPrimary { stamps: Stamps { version: 10, ..left }, ..done };
        assert_eq!(takeover("node2", &here, &early_version), Takeover::Wait(Wait::NoFinalPosition));
        // However long after: not final until written again after it.
        assert_eq!(takeover("node2", &here, &early), Takeover::Wait(Wait::NoFinalPosition));
        // Designated after the old primary left (it left on an earlier designation and
        // may take the role back on one naming itself): not final until it has written
        // its links again after this designation.
        let designated_later = OldPrimary { stamps: Stamps { designated: 13, ..left }, ..done };
        assert_eq!(takeover("node2", &here, &designated_later), Takeover::Wait(Wait::NoFinalPosition));
        let acknowledged = OldPrimary { stamps: Stamps { replay: 14, version: 15, designated: 13, ..left }, ..done };
        assert_eq!(takeover("node2", &here, &acknowledged), Takeover::Now(Mode::Planned));
        // The old primary went on to a later logfile: replay follows it first.
        let rotated = OldPrimary { replay: Some(at(4, "node1", 10)), ..done };
        assert_eq!(takeover("node2", &here, &rotated), Takeover::Wait(Wait::NotCaughtUp));
        // Its writeback was not finished (len > 0): not final.
        let dirty = OldPrimary { replay: Some(ReplayLink { len: 5, ..at(3, "node1", 1000) }), ..done };
        assert_eq!(takeover("node2", &here, &dirty), Takeover::Wait(Wait::NotCaughtUp));
    }
}
