//! Who may change which entry of the `/mars` tree (docu/cluster.md, "Ownership"): the
//! rules a host applies to every symlink of a peer's listing before merging it.
//!
//! A host's own state (what its module and its marsadm write about itself) comes only
//! from that host; entries the operator sets cluster-wide go by Lamport rule from any
//! member; a host's address is learnt once from any member and changed only by the host
//! itself; everything else is dropped. The check is in two steps: [`classify`] looks at
//! the path alone (before anything on disk is touched for it), [`Rule::allows`] at the
//! sender, the value and whether a local entry exists.

use super::names::{check_host_name, check_resource_name, check_unit_name};
use super::tree::{
    ACTSIZE_PREFIX, ACTUAL_PREFIX, DATA_PREFIX, DELETED, DEVICE_PREFIX, IPS_DIR, IP_PREFIX, MAXNR, NONE, PRIMARY, RPO,
    REPLAY_PREFIX, RESOURCE_PREFIX, SIZE, SYNCPOS_PREFIX, SYSTEMD_START_UNIT, SYSTEMD_STOP_UNIT, SYNCSTATUS_PREFIX, TODO_PREFIX, USERSPACE_DIR, UUID, VERSION_PREFIX, MAX_USERSPACE_VALUE,
};
use super::emergency::EMERGENCY_LIMIT;
use super::merge::{remote_wins, LinkState};
use super::wire::parse_ipv4;

/// Who may change an entry, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule<'a> {
    /// State of host `.0`: only in a listing from that host, never for this host. In a
    /// resource directory (`.1`), a `.deleted` value for another host comes from any
    /// member: a member removed by the operator (`leave-resource --host`,
    /// `delete-resource --force`, `log-delete` of old version links). `.2`: the host is
    /// this one (every listing echoes this host's own state; a change is refused).
    Owner(&'a str, bool, bool),
    /// `data-<host>`: set only by the host itself (never taken for this host); deleted
    /// (membership ends) by any member, by Lamport rule, also for this host (`.1`: it is this host).
    Data(&'a str, bool),
    /// Set by the operator cluster-wide: from any member, by Lamport rule. The value
    /// must have the entry's shape.
    Cluster(Shape),
    /// `ips/ip-<host>`: taken from any member while this host has no address of
    /// `host`; changed or deleted only by `host` itself; never this host's own (`.1`:
    /// it is this host).
    Address(&'a str, bool),
}

/// The value shape of a cluster-wide entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A host name or `(none)`.
    Host,
    /// A decimal number.
    Number,
    /// A systemd unit name (`mars_core::names::check_unit_name`: never a path, nothing
    /// to quote). Which units a host actually starts or stops is its own decision
    /// (marsadm acts only on units it instantiated from a local template).
    Unit,
    /// A userspace link's text: printable ASCII, at most [`MAX_USERSPACE_VALUE`] bytes.
    Text,
}

/// Why an entry of a peer's listing is not merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No entry of the tree has this name (or a name in it is malformed).
    Unknown,
    /// `uuid`: the cluster identity is set by create/join only.
    Uuid,
    /// `log-*`: logfiles are regular files, a symlink of that name is never taken.
    Logfile,
    /// This host's own state: written here only.
    Mine,
    /// Another host's state, in a listing from a third host.
    NotOwner,
    /// An address already known here, from another host than its owner.
    AddressKnown,
    /// A value of the wrong shape.
    BadValue,
}

impl Refusal {
    /// A short description for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Unknown => "no such tree entry",
            Refusal::Uuid => "uuid is never merged",
            Refusal::Logfile => "a logfile name as a symlink",
            Refusal::Mine => "this host's own state",
            Refusal::NotOwner => "another host's state, not from that host",
            Refusal::AddressKnown => "an address known here, not from its host",
            Refusal::BadValue => "malformed value",
        }
    }
}

/// `<prefix><host>` with a valid host name.
fn per_host<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix).filter(|h| check_host_name(h).is_ok())
}

/// A link name as the module and marsadm write them: `[a-z0-9-_.]`, not starting with
/// `.` (temporary links) or `ignore`.
fn plain_entry(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.starts_with("ignore")
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.')
}

/// `version-<nr:09>-<host>`: the host.
fn version_owner(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(VERSION_PREFIX)?;
    let (nr, host) = rest.split_at_checked(9)?;
    if !nr.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    host.strip_prefix('-').filter(|h| check_host_name(h).is_ok())
}

/// The rule for the symlink at `path` (relative to `/mars`) of a peer's listing, from
/// its path alone; `me` is this host.
pub fn classify<'a>(path: &'a str, me: &str) -> Result<Rule<'a>, Refusal> {
    let mut parts = path.split('/');
    let (a, b, c, d) = (parts.next(), parts.next(), parts.next(), parts.next());
    let owner = |h: &'a str, in_resource: bool| Ok(Rule::Owner(h, in_resource, h == me));
    match (a, b, c, d) {
        (Some(UUID), None, ..) => Err(Refusal::Uuid),
        (Some(IPS_DIR), Some(name), None, None) => match per_host(name, IP_PREFIX) {
            Some(h) => Ok(Rule::Address(h, h == me)),
            None => Err(Refusal::Unknown),
        },
        (Some(USERSPACE_DIR), Some(name), None, None) if plain_entry(name) => Ok(Rule::Cluster(Shape::Text)),
        (Some(dir), Some(entry), None, None) if dir.starts_with(ACTUAL_PREFIX) => match per_host(dir, ACTUAL_PREFIX) {
            Some(h) if plain_entry(entry) => owner(h, false),
            _ => Err(Refusal::Unknown),
        },
        (Some(res), Some(entry), sub, None) => {
            if res.strip_prefix(RESOURCE_PREFIX).is_none_or(|r| check_resource_name(r).is_err()) {
                return Err(Refusal::Unknown);
            }
            match sub {
                None => resource_entry(entry, me),
                Some(name) => {
                    if !plain_entry(name) {
                        return Err(Refusal::Unknown);
                    }
                    if let Some(h) = per_host(entry, TODO_PREFIX) {
                        // A host's emergency-limit is about its own /mars (docu/emergency.md):
                        // set, and deleted, only by that host. The switches are the
                        // operator's, from any member.
                        if name == EMERGENCY_LIMIT {
                            owner(h, false)
                        } else {
                            Ok(Rule::Cluster(Shape::Number))
                        }
                    } else if let Some(h) = per_host(entry, ACTUAL_PREFIX) {
                        owner(h, true)
                    } else if entry == USERSPACE_DIR {
                        Ok(Rule::Cluster(Shape::Text))
                    } else {
                        Err(Refusal::Unknown)
                    }
                }
            }
        }
        _ => Err(Refusal::Unknown),
    }
}

fn resource_entry<'a>(entry: &'a str, me: &str) -> Result<Rule<'a>, Refusal> {
    if entry.starts_with("log-") {
        return Err(Refusal::Logfile);
    }
    match entry {
        PRIMARY => return Ok(Rule::Cluster(Shape::Host)),
        SIZE | MAXNR | RPO => return Ok(Rule::Cluster(Shape::Number)),
        SYSTEMD_START_UNIT | SYSTEMD_STOP_UNIT => return Ok(Rule::Cluster(Shape::Unit)),
        _ => {}
    }
    if let Some(h) = per_host(entry, DATA_PREFIX) {
        return Ok(Rule::Data(h, h == me));
    }
    let owned = [DEVICE_PREFIX, REPLAY_PREFIX, SYNCSTATUS_PREFIX, SYNCPOS_PREFIX, ACTSIZE_PREFIX]
        .iter()
        .find_map(|p| per_host(entry, p))
        .or_else(|| version_owner(entry));
    match owned {
        Some(h) => Ok(Rule::Owner(h, true, h == me)),
        None => Err(Refusal::Unknown),
    }
}

fn shape_ok(shape: Shape, value: &str) -> bool {
    match shape {
        Shape::Host => value == NONE || check_host_name(value).is_ok(),
        Shape::Number => !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit()),
        Shape::Unit => check_unit_name(value).is_ok(),
        Shape::Text => !value.is_empty() && value.len() <= MAX_USERSPACE_VALUE && value.bytes().all(|b| (0x20..0x7f).contains(&b)),
    }
}

impl Rule<'_> {
    /// Whether the entry with `value` in a listing from host `from` may be merged (by
    /// Lamport rule, `mars_core::merge::remote_wins`); `local_exists`: this host has a
    /// link there that is not `.deleted`.
    pub fn allows(&self, from: &str, value: &str, local_exists: bool) -> Result<(), Refusal> {
        let deleted = value == DELETED;
        match *self {
            Rule::Owner(_, _, true) | Rule::Address(_, true) => Err(Refusal::Mine),
            Rule::Owner(h, in_resource, false) => {
                if from == h || (deleted && in_resource) {
                    Ok(())
                } else {
                    Err(Refusal::NotOwner)
                }
            }
            Rule::Data(_, true) if !deleted => Err(Refusal::Mine),
            Rule::Data(h, _) => {
                if deleted || from == h {
                    Ok(())
                } else {
                    Err(Refusal::NotOwner)
                }
            }
            Rule::Cluster(shape) => {
                if deleted || shape_ok(shape, value) {
                    Ok(())
                } else {
                    Err(Refusal::BadValue)
                }
            }
            Rule::Address(h, false) => {
                if !deleted && parse_ipv4(value).is_none() {
                    Err(Refusal::BadValue)
                } else if from == h || (!local_exists && !deleted) {
                    Ok(())
                } else {
                    Err(Refusal::AddressKnown)
                }
            }
        }
    }

    /// The host whose state the entry is (for `data-<host>` and the owner rule).
    pub fn owner(&self) -> Option<&str> {
        match *self {
            Rule::Owner(h, ..) | Rule::Data(h, _) | Rule::Address(h, _) => Some(h),
            Rule::Cluster(_) => None,
        }
    }
}

/// What to do with an entry of a peer's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Replace (or create) the local link.
    Merge,
    /// Nothing changes: the local link is as new (every listing echoes what the peer
    /// has of everyone, this host's own state included), or `uuid`.
    Ignore,
    /// It would change the local tree, and the sender may not: count and log it. (A
    /// third host's state relayed by the sender is ignored instead: [`decide`].)
    Drop(Refusal),
    /// A newer value (not `.deleted`) of this host's own state than this host has: a
    /// link of this host as peers saw it before a crash here took it back (shown before
    /// it was durable), or a forgery. Never taken; this host writes what it has (`.deleted` if nothing)
    /// again with a fresh stamp, so that every peer replaces its copy.
    Reassert,
}

/// The verdict for an entry whose path passed [`classify`] (`rule`), given the local
/// link (`None`: none here) and the remote one, from host `from`. Only what would win
/// by Lamport rule (`merge::remote_wins`) and change the value is judged; an echo of
/// an older or equal link is ignored whoever sent it.
pub fn decide(rule: Rule<'_>, local: Option<LinkState<'_>>, remote: LinkState<'_>, from: &str) -> Verdict {
    if !remote_wins(local, remote) {
        return Verdict::Ignore;
    }
    // A `.deleted` is another member's removal of this host (leave-resource --host,
    // delete-resource --force, log-delete): judged by the rules below, never reasserted.
    if let Rule::Owner(_, _, true) = rule {
        if remote.value != DELETED {
            return if local.is_some_and(|l| l.value == remote.value) { Verdict::Ignore } else { Verdict::Reassert };
        }
    }
    match rule.allows(from, remote.value, local.is_some_and(|l| l.value != DELETED)) {
        Ok(()) => Verdict::Merge,
        // Every listing carries the sender's copies of third hosts' state. One newer than
        // the copy here is routine whenever the sender pulled that host more recently
        // (a slower link or a busier host on this side): the owner's own listing brings
        // it here. Not taken; counting and logging it would make routine look like an
        // attack (a forged one changes nothing here either).
        Err(Refusal::NotOwner) => Verdict::Ignore,
        // The same value with another stamp (e.g. this host's address as the peer
        // registered it): nothing would change.
        Err(_) if local.is_some_and(|l| l.value == remote.value) => Verdict::Ignore,
        Err(r) => Verdict::Drop(r),
    }
}

/// The verdict for a path [`classify`] refused: `uuid` is in every listing and simply
/// not merged; anything else is dropped.
pub fn refused_path(r: Refusal) -> Verdict {
    match r {
        Refusal::Uuid => Verdict::Ignore,
        r => Verdict::Drop(r),
    }
}

/// Both steps at once (for tests and callers that know `local_exists` up front).
pub fn may_merge(path: &str, value: &str, from: &str, me: &str, local_exists: bool) -> Result<(), Refusal> {
    classify(path, me)?.allows(from, value, local_exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "node1";

    fn ok(path: &str, value: &str, from: &str) {
        assert_eq!(may_merge(path, value, from, ME, true), Ok(()), "{path} -> {value} from {from}");
    }

    fn refused(path: &str, value: &str, from: &str, why: Refusal) {
        assert_eq!(may_merge(path, value, from, ME, true), Err(why), "{path} -> {value} from {from}");
    }

    #[test]
    fn own_state_only_from_its_host_and_never_mine() {
        for e in [
            "resource-r0/replay-node2",
            "resource-r0/syncstatus-node2",
            "resource-r0/syncpos-node2",
            "resource-r0/device-node2",
            "resource-r0/actsize-node2",
            "resource-r0/version-000000001-node2",
            "resource-r0/actual-node2/is-primary",
            "actual-node2/time",
        ] {
            ok(e, "1", "node2");
            refused(e, "1", "node3", Refusal::NotOwner);
            let mine = e.replace("node2", ME);
            refused(&mine, "1", "node2", Refusal::Mine);
            refused(&mine, "1", ME, Refusal::Mine);
            refused(&mine, DELETED, "node2", Refusal::Mine);
        }
    }

    #[test]
    fn removed_members_are_deleted_by_anyone_in_resources_only() {
        ok("resource-r0/replay-node3", DELETED, "node2");
        ok("resource-r0/version-000000004-node3", DELETED, "node2");
        ok("resource-r0/actual-node3/is-attached", DELETED, "node2");
        refused("actual-node3/time", DELETED, "node2", Refusal::NotOwner);
    }

    #[test]
    fn data_link_set_by_its_host_deleted_by_anyone() {
        ok("resource-r0/data-node2", "/dev/vdb", "node2");
        refused("resource-r0/data-node2", "/dev/vdb", "node3", Refusal::NotOwner);
        // The attack: a peer names this host's disk.
        refused("resource-r0/data-node1", "/dev/vdc", "node2", Refusal::Mine);
        refused("resource-r0/data-node1", "/dev/vdb", ME, Refusal::Mine);
        // leave-resource --host node1 on node2: this host is no member any more.
        ok("resource-r0/data-node1", DELETED, "node2");
        ok("resource-r0/data-node3", DELETED, "node2");
    }

    #[test]
    fn cluster_wide_entries_by_lamport_from_anyone() {
        for from in ["node2", "node3"] {
            ok("resource-r0/primary", "node2", from);
            ok("resource-r0/primary", NONE, from);
            ok("resource-r0/primary", DELETED, from);
            ok("resource-r0/size", "1048576", from);
            ok("resource-r0/maxnr", "1", from);
            ok("resource-r0/rpo", "60", from);
            ok("resource-r0/todo-node1/attach", "0", from);
            ok("resource-r0/todo-node2/connect", "1", from);
        }
        refused("resource-r0/primary", "/etc/passwd", "node2", Refusal::BadValue);
        refused("resource-r0/primary", "../node2", "node2", Refusal::BadValue);
        refused("resource-r0/primary", "", "node2", Refusal::BadValue);
        for unit in ["resource-r0/systemd-start-unit", "resource-r0/systemd-stop-unit"] {
            for from in ["node1", "node2", "node3"] {
                ok(unit, "mnt-mars-r0.mount", from);
                ok(unit, "mars-r0-app.service", from);
                ok(unit, DELETED, from);
            }
            refused(unit, "/etc/systemd/system/x.service", "node2", Refusal::BadValue);
            refused(unit, "x.service; reboot", "node2", Refusal::BadValue);
            refused(unit, "r0", "node2", Refusal::BadValue);
            refused(unit, "", "node2", Refusal::BadValue);
        }
        refused("resource-r0/size", "-1", "node2", Refusal::BadValue);
        refused("resource-r0/rpo", "1 minute", "node2", Refusal::BadValue);
        refused("resource-r0/size", "99999999999999999999999", "node2", Refusal::BadValue);
        refused("resource-r0/todo-node1/attach", "/dev/vdc", "node2", Refusal::BadValue);
    }

    #[test]
    fn userspace_links_by_lamport_from_anyone() {
        for path in ["userspace/football-state", "resource-r0/userspace/note"] {
            for from in ["node2", "node3"] {
                ok(path, "moving to node3 at 12:00", from);
                ok(path, DELETED, from);
            }
            refused(path, "", "node2", Refusal::BadValue);
            refused(path, "x\ny", "node2", Refusal::BadValue);
            refused(path, "\u{1b}[2J", "node2", Refusal::BadValue);
            refused(path, &"x".repeat(MAX_USERSPACE_VALUE + 1), "node2", Refusal::BadValue);
        }
        refused("userspace/.tmp", "x", "node2", Refusal::Unknown);
        refused("userspace/a/b", "x", "node2", Refusal::Unknown);
        refused("resource-r0/userspace/a/b", "x", "node2", Refusal::Unknown);
    }

    #[test]
    fn emergency_limit_only_from_its_host() {
        // The attack: node2 switches node1's (this host's) or node3's limit.
        refused("resource-r0/todo-node1/emergency-limit", "1", "node2", Refusal::Mine);
        refused("resource-r0/todo-node1/emergency-limit", DELETED, "node2", Refusal::Mine);
        refused("resource-r0/todo-node3/emergency-limit", "1", "node2", Refusal::NotOwner);
        refused("resource-r0/todo-node3/emergency-limit", DELETED, "node2", Refusal::NotOwner);
        // A host's own limit, as its marsadm set it, is copied from it.
        ok("resource-r0/todo-node3/emergency-limit", "20", "node3");
        ok("resource-r0/todo-node3/emergency-limit", DELETED, "node3");
        // The switches stay the operator's, from any member.
        ok("resource-r0/todo-node1/attach", "0", "node2");
    }

    #[test]
    fn addresses_first_registration_then_only_their_host() {
        assert_eq!(may_merge("ips/ip-node3", "10.0.0.3", "node2", ME, false), Ok(()));
        assert_eq!(may_merge("ips/ip-node3", "10.0.0.9", "node2", ME, true), Err(Refusal::AddressKnown));
        assert_eq!(may_merge("ips/ip-node3", DELETED, "node2", ME, true), Err(Refusal::AddressKnown));
        assert_eq!(may_merge("ips/ip-node3", DELETED, "node2", ME, false), Err(Refusal::AddressKnown));
        assert_eq!(may_merge("ips/ip-node3", "10.0.0.9", "node3", ME, true), Ok(()));
        assert_eq!(may_merge("ips/ip-node3", DELETED, "node3", ME, true), Ok(()));
        assert_eq!(may_merge("ips/ip-node1", "10.0.0.66", "node2", ME, true), Err(Refusal::Mine));
        assert_eq!(may_merge("ips/ip-node1", "10.0.0.66", "node2", ME, false), Err(Refusal::Mine));
        assert_eq!(may_merge("ips/ip-node3", "/etc/passwd", "node3", ME, false), Err(Refusal::BadValue));
        assert_eq!(may_merge("ips/ip-node3", "10.0.0.300", "node3", ME, false), Err(Refusal::BadValue));
    }

    #[test]
    fn never_merged() {
        refused("uuid", "x", "node2", Refusal::Uuid);
        refused("resource-r0/log-000000001-node2", "/etc/passwd", "node2", Refusal::Logfile);
        refused("resource-r0/log-000000001-x", "/etc/passwd", "node2", Refusal::Logfile);
        // The systemd trigger is a local file; a unit per host is no entry.
        refused("systemd-trigger", "x", "node2", Refusal::Unknown);
        refused("resource-r0/systemd-trigger", "x", "node2", Refusal::Unknown);
        refused("resource-r0/systemd-want", "node2", "node2", Refusal::Unknown);
        refused("resource-r0/systemd-start-unit-node2", "x.service", "node2", Refusal::Unknown);
        refused("resource-r0/log-", "x", "node2", Refusal::Logfile);
    }

    #[test]
    fn echoes_are_ignored_changes_judged() {
        let l = |value, stamp_ns| LinkState { value, stamp_ns };
        // An echo of this host's own link is no attack; a newer value is.
        let mine = classify("resource-r0/replay-node1", ME).unwrap();
        assert_eq!(decide(mine, Some(l("a", 5)), l("a", 5), "node2"), Verdict::Ignore);
        assert_eq!(decide(mine, Some(l("a", 5)), l("b", 6), "node2"), Verdict::Reassert);
        assert_eq!(decide(mine, None, l("b", 6), "node2"), Verdict::Reassert);
        assert_eq!(decide(mine, Some(l("a", 5)), l("a", 6), "node2"), Verdict::Ignore);
        assert_eq!(decide(mine, Some(l("a", 5)), l("b", 4), "node2"), Verdict::Ignore);
        // Another member's removal of this host is no lost link of it.
        assert_eq!(decide(mine, Some(l("a", 5)), l(DELETED, 6), "node2"), Verdict::Drop(Refusal::Mine));
        let ip = classify("ips/ip-node1", ME).unwrap();
        assert_eq!(decide(ip, Some(l("10.0.0.1", 5)), l("10.0.0.1", 5), "node2"), Verdict::Ignore);
        assert_eq!(decide(ip, Some(l("10.0.0.1", 5)), l("10.0.0.9", 6), "node2"), Verdict::Drop(Refusal::Mine));
        // The peer registered this host's address later, with the same value.
        assert_eq!(decide(ip, Some(l("10.0.0.1", 5)), l("10.0.0.1", 9), "node2"), Verdict::Ignore);
        let rule = classify("resource-r0/replay-node2", ME).unwrap();
        assert_eq!(decide(rule, Some(l("a", 5)), l("a", 5), "node3"), Verdict::Ignore);
        assert_eq!(decide(rule, Some(l("a", 5)), l("b", 4), "node3"), Verdict::Ignore);
        assert_eq!(decide(rule, Some(l("a", 5)), l("b", 6), "node3"), Verdict::Ignore);
        assert_eq!(decide(rule, None, l("b", 6), "node3"), Verdict::Ignore);
        assert_eq!(decide(rule, Some(l("a", 5)), l("b", 6), "node2"), Verdict::Merge);
        assert_eq!(decide(rule, None, l("b", 1), "node2"), Verdict::Merge);
        assert_eq!(decide(rule, None, l(DELETED, 1), "node2"), Verdict::Ignore);
        let ip = classify("ips/ip-node3", ME).unwrap();
        assert_eq!(decide(ip, None, l("10.0.0.3", 1), "node2"), Verdict::Merge);
        assert_eq!(decide(ip, Some(l(DELETED, 1)), l("10.0.0.3", 2), "node2"), Verdict::Merge);
        assert_eq!(decide(ip, Some(l("10.0.0.3", 1)), l("10.0.0.4", 2), "node2"), Verdict::Drop(Refusal::AddressKnown));
        assert_eq!(refused_path(Refusal::Uuid), Verdict::Ignore);
        assert_eq!(refused_path(Refusal::Logfile), Verdict::Drop(Refusal::Logfile));
        assert_eq!(refused_path(Refusal::Mine), Verdict::Drop(Refusal::Mine));
    }

    #[test]
    fn hostile_names_are_unknown() {
        for bad in [
            "",
            "/",
            "etc/passwd",
            "resource-r0",
            "resource-/primary",
            "resource-R0/primary",
            "resource-r0/../uuid",
            "resource-r0/./primary",
            "resource-r0//primary",
            "resource-r0/primary/",
            "resource-r0/.tmp-primary",
            "resource-r0/.deleted-x",
            "resource-r0/ignore-x",
            "resource-r0/other",
            "resource-r0/replay-",
            "resource-r0/replay-Node2",
            "resource-r0/replay-node2/x",
            "resource-r0/data-../../etc",
            "resource-r0/version-1-node2",
            "resource-r0/version-00000000x-node2",
            "resource-r0/todo-node1/a/b",
            "resource-r0/todo-node1/..",
            "resource-r0/todo-node1/.tmp-attach",
            "resource-r0/todo-node1/",
            "resource-r0/other-node2/x",
            "resource-r0/actual-node2/a b",
            "actual-node2",
            "actual-node2/..",
            "actual-node2/x/y",
            "actual-/time",
            "ips",
            "ips/node2",
            "ips/ip-bad host",
            "ips/ip-node2/x",
            "ips/../uuid",
            "uuid/x",
        ] {
            assert_eq!(classify(bad, ME), Err(Refusal::Unknown), "{bad:?}");
        }
    }
}
