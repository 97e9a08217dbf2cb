//! Split-brain analysis from version links (design reference §3.6 "Userspace split-brain
//! analysis", §5.6): did the logfile histories of two hosts diverge, where, and how much
//! log data each has beyond that point ("what choosing the other version would lose").
//!
//! Pure and allocation-free: the caller passes each host's version links as
//! `(nr, raw value)` pairs (`version-<nr:09>-<host>` → `<md5hex>,log-<nr>-<origin>,<pos>:
//! <prev_head>`) in any order, and compares one pair of hosts at a time.
//!
//! Rules for a pair of hosts A and B:
//!
//! 1. Only logfile numbers *both* have a link for are compared (older links may be deleted
//!    on one side, newer ones not written yet by a host that is behind). Without such a
//!    number nothing can be said ([`PairHistory::Disjoint`]).
//! 2. At the lowest compared number N where the links differ:
//!    - (a) different logfile (origin) or different `prev_head` (or only the digest
//!      differs, which means the chains differ further back): the histories diverged
//!      before N. Split point: the end of logfile N-1, the last one they share (its
//!      position from a link of N-1 if one is left).
//!    - (b) same logfile and `prev_head`, different position: the host with the smaller
//!      position is merely behind (still fetching or replaying) — no split — unless it
//!      has links numbered above N: then it went on without the rest of logfile N (a
//!      forced failover), and the split point is (N, the smaller position).
//! 3. Equal links at every compared number: no split ([`PairHistory::Compatible`]); one
//!    host may have more links (it is ahead, the other behind).
//! 4. A's links jump over a hole of emergency mode after N (its link of N + 10 names a
//!    logfile of the writer of its link of N, if that is left, and chains onto nothing)
//!    and B has a link numbered in between: diverged after A's end of N (A's disk took
//!    writes no logfile has, B went on without them). The lowest split point of rules 2
//!    and 4 counts.
//!
//! Bytes beyond a split point, per host ([`bytes_after`]): of the split logfile, its
//! position minus the split position if its link there names the same logfile (the whole
//! position if it names another origin's); plus the position of each of its links numbered
//! higher.
//!
//! Two logfiles with the same number from different hosts in one directory are a split
//! brain too, even before any version link shows it ([`duplicate_logfile`]); so is a
//! member whose links go on beyond the logfile an actual primary logs into
//! ([`beyond_primary`]), before the primary has logged anything that differs.

use super::emergency::HOLE;
use super::tree::{LogName, VersionLink};

/// Where two histories part: after position `pos` of logfile number `nr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPoint<'a> {
    /// Number of the last logfile the histories share (0: they differ from the first on).
    pub nr: u32,
    /// That logfile, if a link for it is left on either host (`None`: deleted, or nr 0).
    pub log: Option<LogName<'a>>,
    /// Bytes of it both histories contain; meaningful only when `log` is known.
    pub pos: u64,
}

/// A split between two hosts: the point and the bytes each has beyond it (same order as
/// the arguments of [`compare_histories`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divergence<'a> {
    pub split: SplitPoint<'a>,
    pub bytes_after: [u64; 2],
}

/// How the histories of two hosts relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairHistory<'a> {
    /// Equal as far as both go; one may be behind the other.
    Compatible,
    /// No logfile number both have a version link for: nothing to compare.
    Disjoint,
    /// The histories diverged: a split brain.
    Diverged(Divergence<'a>),
}

/// The parsed link numbered `nr` (unparsable links count as missing).
fn link_at<'a>(links: &[(u32, &'a str)], nr: u32) -> Option<VersionLink<'a>> {
    links.iter().find(|(n, _)| *n == nr).and_then(|(_, raw)| VersionLink::parse(raw).ok())
}

fn has_link_above(links: &[(u32, &str)], nr: u32) -> bool {
    links.iter().any(|(n, raw)| *n > nr && VersionLink::parse(raw).is_ok())
}

/// Compares the version-link histories of two hosts (module doc: the rules).
pub fn compare_histories<'a>(a: &[(u32, &'a str)], b: &[(u32, &'a str)]) -> PairHistory<'a> {
    let diverged = |split: SplitPoint<'a>| PairHistory::Diverged(Divergence { split, bytes_after: [bytes_after(a, &split), bytes_after(b, &split)] });
    // Rule 4, and the lowest split of all rules.
    let hole = match (hole_fork(a, b), hole_fork(b, a)) {
        (Some(x), Some(y)) => Some(if x.nr <= y.nr { x } else { y }),
        (x, y) => x.or(y),
    };
    match by_links(a, b) {
        PairHistory::Diverged(d) if hole.is_none_or(|h| d.split.nr <= h.nr) => PairHistory::Diverged(d),
        other => hole.map_or(other, diverged),
    }
}

/// Rule 4: `x`'s history jumps over a hole of emergency mode (its link of N + `HOLE`
/// chains onto nothing and names a logfile of the writer of its link of N, if that is
/// left: the writer ceased logging after N, its disk took writes no logfile has) while `y` has
/// a link numbered in between: `y` went on from N through logfiles `x`'s history never
/// had. The split point is the end of N as `x` has it. (Found by the simulation: a
/// primary failed over from by force while its logging had ceased showed no split brain.)
fn hole_fork<'a>(x: &[(u32, &'a str)], y: &[(u32, &str)]) -> Option<SplitPoint<'a>> {
    let mut lowest: Option<SplitPoint<'a>> = None;
    for &(m, _) in x {
        let (Some(after), Some(n)) = (link_at(x, m), m.checked_sub(HOLE)) else { continue };
        // (The link of N may be deleted already: log-delete goes by replay positions.)
        let before = link_at(x, n);
        if after.log.nr != m || !after.prev_head.is_empty() || before.is_some_and(|b| b.log.host != after.log.host) {
            continue;
        }
        let between = y.iter().any(|(k, raw)| *k > n && *k < m && VersionLink::parse(raw).is_ok());
        if between && lowest.is_none_or(|l| n < l.nr) {
            lowest = Some(SplitPoint { nr: n, log: before.map(|b| b.log), pos: before.map_or(0, |b| b.pos) });
        }
    }
    lowest
}

/// Rules 1 to 3.
fn by_links<'a>(a: &[(u32, &'a str)], b: &[(u32, &'a str)]) -> PairHistory<'a> {
    let mut compared = false;
    // The lowest number both have where the links differ, found without sorting.
    let mut first_diff: Option<(u32, VersionLink<'a>, VersionLink<'a>)> = None;
    for &(nr, _) in a {
        let (Some(la), Some(lb)) = (link_at(a, nr), link_at(b, nr)) else { continue };
        compared = true;
        if la != lb && first_diff.is_none_or(|(m, _, _)| nr < m) {
            first_diff = Some((nr, la, lb));
        }
    }
    let Some((nr, la, lb)) = first_diff else {
        return if compared { PairHistory::Compatible } else { PairHistory::Disjoint };
    };
    // Equal logfile, length and predecessor with a different digest: the chains differ
    // further back, like a different predecessor.
    let split = if la.log != lb.log || la.prev_head != lb.prev_head || la.pos == lb.pos {
        // Rule 2(a): they share logfile nr-1 at most.
        // (A link numbered 0 has no predecessor: they differ from the first on.)
        let prev = nr.checked_sub(1);
        let common = prev.and_then(|p| link_at(a, p).or_else(|| link_at(b, p)));
        SplitPoint { nr: prev.unwrap_or(0), log: common.map(|l| l.log), pos: common.map_or(0, |l| l.pos) }
    } else {
        // Rule 2(b): the shorter one diverged only if it went on to later logfiles.
        let (short, short_links) = if la.pos < lb.pos { (la, a) } else { (lb, b) };
        if !has_link_above(short_links, nr) {
            return PairHistory::Compatible;
        }
        SplitPoint { nr, log: Some(short.log), pos: short.pos }
    };
    PairHistory::Diverged(Divergence { split, bytes_after: [bytes_after(a, &split), bytes_after(b, &split)] })
}

/// A member's history gone on beyond the primary's. `primary` is primary now and logs
/// into logfile number `current`: its history goes on from there, so a member's link of
/// a later number that names a logfile of another host is a fork (that host was primary
/// beside it: a forced failover it did not learn of in time), even while the primary has
/// logged nothing that would make the links differ (rule 3 sees one host ahead). A link
/// of the primary's own later logfile is only news the tree here lacks of the primary.
/// Returns where the member left the primary's history: its link of `current`, if any
/// (found by the simulation: a host that took over by a planned handover and logged was
/// failed over from at once, by force, to a host that had not heard of it).
pub fn beyond_primary<'a>(primary: &str, current: u32, links: &[(u32, &'a str)]) -> Option<SplitPoint<'a>> {
    let forked = links.iter().any(|(nr, raw)| *nr > current && VersionLink::parse(raw).is_ok_and(|l| l.log.host != primary));
    forked.then(|| {
        let at = link_at(links, current);
        SplitPoint { nr: current, log: at.map(|l| l.log), pos: at.map_or(0, |l| l.pos) }
    })
}

/// What becomes of one of this host's version links when it discards its history to
/// become a copy of the primary's (`marsadm invalidate`, `join-resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionFate<'a> {
    /// It stays: the primary's history has it too.
    Keep,
    /// It becomes the primary's link of that number: the primary's names a logfile this
    /// host wrote (its history continued part of it after a failover), and the others
    /// chain to the writer's link when they move on to that logfile.
    Replace(&'a str),
    /// Marked deleted: history the primary does not share.
    Delete,
}

/// The fate of this host's (`me`) version link numbered `nr` (in `mine`, this host's
/// links), given the primary's links (`primary`, as this host's tree has them). Equal
/// links stay. Where the primary has no link of the number any more (a full sync or a
/// log deletion took it), this host's stays if a later number has equal links on both:
/// the links chain the whole history before them (each one's digest covers the one
/// before), so this one is on the primary's history, and it may be the only link of
/// that number left to show a third host's split brain there (found by the
/// simulation: after two repairs no member of the surviving history had one).
pub fn version_fate<'a>(me: &str, nr: u32, mine: &[(u32, &str)], primary: &[(u32, &'a str)]) -> VersionFate<'a> {
    let at = |links: &[(u32, &'a str)], n: u32| links.iter().find(|(m, _)| *m == n).map(|(_, v)| *v);
    let Some(own) = mine.iter().find(|(m, _)| *m == nr).map(|(_, v)| *v) else { return VersionFate::Keep };
    match at(primary, nr) {
        Some(theirs) if theirs == own => VersionFate::Keep,
        Some(theirs) if VersionLink::parse(theirs).is_ok_and(|l| l.log.host == me) => VersionFate::Replace(theirs),
        Some(_) => VersionFate::Delete,
        None => {
            let shared_later = mine.iter().any(|(m, v)| *m > nr && at(primary, *m) == Some(*v) && VersionLink::parse(v).is_ok());
            if shared_later { VersionFate::Keep } else { VersionFate::Delete }
        }
    }
}

/// Bytes of log data a host's links account for beyond `split` (module doc). Of the split
/// logfile, nothing is counted when it is unknown (its links are gone).
pub fn bytes_after(links: &[(u32, &str)], split: &SplitPoint<'_>) -> u64 {
    let mut total: u64 = 0;
    for &(nr, raw) in links {
        let Ok(link) = VersionLink::parse(raw) else { continue };
        let bytes = if nr > split.nr {
            link.pos
        } else if nr < split.nr {
            0
        } else {
            match split.log {
                Some(log) if log == link.log => link.pos.saturating_sub(split.pos),
                Some(_) => link.pos,
                None => 0,
            }
        };
        total = total.saturating_add(bytes);
    }
    total
}

/// Of two split points, the earlier (where the first divergence happened).
pub fn earlier<'a>(x: SplitPoint<'a>, y: SplitPoint<'a>) -> SplitPoint<'a> {
    if (y.nr, y.pos) < (x.nr, x.pos) { y } else { x }
}

/// Two logfiles with the same number from different hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateLogfile<'a> {
    pub nr: u32,
    /// Two of the hosts that wrote a logfile with that number (ordered as listed).
    pub hosts: [&'a str; 2],
}

/// The lowest-numbered duplicate among the names of a resource directory (other names
/// are ignored), or `None`.
pub fn duplicate_logfile<'a, S: AsRef<str>>(names: &'a [S]) -> Option<DuplicateLogfile<'a>> {
    let logs = || names.iter().filter_map(|n| LogName::parse(n.as_ref()).ok());
    let mut found: Option<DuplicateLogfile<'a>> = None;
    for (i, x) in logs().enumerate() {
        if found.is_some_and(|d| d.nr <= x.nr) {
            continue;
        }
        if let Some(y) = logs().skip(i + 1).find(|y| y.nr == x.nr && y.host != x.host) {
            found = Some(DuplicateLogfile { nr: x.nr, hosts: [x.host, y.host] });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// A host's chain of version links, built like the kernel does (made-up digests that
    /// still chain: each depends on the whole previous link).
    struct Chain {
        links: Vec<(u32, String)>,
    }

    impl Chain {
        fn new() -> Self {
            Chain { links: Vec::new() }
        }

        /// Appends the link of logfile `nr` from `origin` at `pos`, chained to the last.
        fn push(mut self, nr: u32, origin: &str, pos: u64) -> Self {
            let prev = self.links.last().map_or(String::new(), |(_, v)| v.clone());
            let prev_head = prev.split(':').next().unwrap_or("").to_string();
            let mut d = [0u8; 16];
            // A toy digest of (nr, origin, pos, prev): equal inputs, equal digests.
            for (i, b) in std::format!("{nr},{origin},{pos}:{prev}").bytes().enumerate() {
                d[i % 16] = d[i % 16].wrapping_mul(31).wrapping_add(b);
            }
            let link = VersionLink { digest: d, log: LogName { nr, host: origin }, pos, prev_head: &prev_head };
            self.links.push((nr, link.to_string()));
            self
        }

        /// Drops the links numbered below `nr` (deleted with their logfiles).
        fn without_below(mut self, nr: u32) -> Self {
            self.links.retain(|(n, _)| *n >= nr);
            self
        }

        fn view(&self) -> Vec<(u32, &str)> {
            // Reversed: the analysis must not depend on the order.
            self.links.iter().rev().map(|(n, v)| (*n, v.as_str())).collect()
        }
    }

    #[test]
    fn a_member_ahead_of_the_primary_on_a_logfile_of_its_own_has_forked() {
        // node2 took over at logfile 5 of node1's and logs into it; node1 went on with a
        // logfile 6 of its own after 5 (it had taken over, node2 was failed over to).
        let node1 = shared(4).push(5, "node2", 0).push(6, "node1", 8);
        let split = beyond_primary("node2", 5, &node1.view()).expect("forked");
        assert_eq!((split.nr, split.log, split.pos), (5, Some(log(5, "node2")), 0));
        // A later logfile of the primary's own: the tree here is behind the primary.
        let follower = shared(4).push(5, "node2", 0).push(6, "node2", 8);
        assert_eq!(beyond_primary("node2", 5, &follower.view()), None);
        assert_eq!(beyond_primary("node2", 6, &node1.view()), None);
    }

    #[test]
    fn an_invalidated_host_keeps_the_links_the_primary_no_longer_has_on_its_history() {
        // node3 and node1 share logfiles 1-4 of node1; node1 (primary) lost its links
        // below 3 (synced past them); node3 then went on with node1's 5.
        let node3 = shared(4).push(5, "node1", 10);
        let node1 = shared(4).push(5, "node1", 10).push(6, "node1", 30).without_below(3);
        let (mine, primary) = (node3.view(), node1.view());
        assert_eq!(version_fate("node3", 2, &mine, &primary), VersionFate::Keep);
        assert_eq!(version_fate("node3", 4, &mine, &primary), VersionFate::Keep);
        // Diverged after 4: its own 5 goes; 3 and 4 still prove 1 and 2.
        let node3 = shared(4).push(5, "node3", 7);
        let mine = node3.view();
        assert_eq!(version_fate("node3", 5, &mine, &primary), VersionFate::Delete);
        assert_eq!(version_fate("node3", 2, &mine, &primary), VersionFate::Keep);
        assert_eq!(version_fate("node3", 4, &mine, &primary), VersionFate::Keep);
        // With the primary's links below 5 gone too, nothing proves them: they go.
        let bare = shared(4).push(5, "node1", 10).push(6, "node1", 30).without_below(5);
        assert_eq!(version_fate("node3", 2, &mine, &bare.view()), VersionFate::Delete);
        // The primary's link names a logfile of this host's: it becomes this host's.
        let node1 = shared(4).push(5, "node3", 9).push(6, "node1", 3);
        let primary = node1.view();
        let theirs = primary.iter().find(|(n, _)| *n == 5).unwrap().1;
        assert_eq!(version_fate("node3", 5, &mine, &primary), VersionFate::Replace(theirs));
        // A number this host has no link of: nothing to do.
        assert_eq!(version_fate("node3", 9, &mine, &primary), VersionFate::Keep);
    }

    fn shared(upto: u32) -> Chain {
        (1..=upto).fold(Chain::new(), |c, nr| c.push(nr, "a", 1000 * u64::from(nr)))
    }

    fn log(nr: u32, host: &str) -> LogName<'_> {
        LogName { nr, host }
    }

    #[test]
    fn links_numbered_zero_do_not_underflow() {
        // Version link names come from peers: `version-000000000-x` must not crash.
        let la = VersionLink { digest: [1; 16], log: log(1, "a"), pos: 1, prev_head: "" }.to_string();
        let lb = VersionLink { digest: [2; 16], log: log(1, "b"), pos: 2, prev_head: "" }.to_string();
        match compare_histories(&[(0, &la)], &[(0, &lb)]) {
            PairHistory::Diverged(d) => assert_eq!(d.split, SplitPoint { nr: 0, log: None, pos: 0 }),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn equal_histories_do_not_diverge() {
        let (a, b) = (shared(3), shared(3));
        assert_eq!(compare_histories(&a.view(), &b.view()), PairHistory::Compatible);
        assert_eq!(compare_histories(&a.view(), &[]), PairHistory::Disjoint);
    }

    #[test]
    fn a_host_behind_within_a_logfile_is_no_split() {
        let primary = shared(2).push(3, "a", 5000);
        let behind = shared(2).push(3, "a", 1200);
        assert_eq!(compare_histories(&primary.view(), &behind.view()), PairHistory::Compatible);
        assert_eq!(compare_histories(&behind.view(), &primary.view()), PairHistory::Compatible);
        // Behind by whole logfiles: fewer links, equal ones.
        assert_eq!(compare_histories(&shared(3).view(), &shared(1).view()), PairHistory::Compatible);
        // The longer host going on to the next logfile does not change that.
        let rotated = shared(2).push(3, "a", 5000).push(4, "a", 70);
        assert_eq!(compare_histories(&rotated.view(), &behind.view()), PairHistory::Compatible);
    }

    #[test]
    fn forced_failover_splits_where_the_new_primary_stopped() {
        // A logged 5000 bytes of log 3 and went on in its own log 4 (partitioned, still
        // primary); B had replayed 3000 of log 3 and was forced primary: its own log 4.
        let a = shared(2).push(3, "a", 5000).push(4, "a", 800);
        let b = shared(2).push(3, "a", 3000).push(4, "b", 100);
        let split = SplitPoint { nr: 3, log: Some(log(3, "a")), pos: 3000 };
        assert_eq!(compare_histories(&a.view(), &b.view()), PairHistory::Diverged(Divergence { split, bytes_after: [2000 + 800, 100] }));
        assert_eq!(compare_histories(&b.view(), &a.view()), PairHistory::Diverged(Divergence { split, bytes_after: [100, 2800] }));
        // The same before A rotated: A's rest of log 3 is what choosing B loses.
        let a = shared(2).push(3, "a", 5000);
        assert_eq!(compare_histories(&a.view(), &b.view()), PairHistory::Diverged(Divergence { split, bytes_after: [2000, 100] }));
    }

    #[test]
    fn both_writing_their_own_next_logfile_splits_after_the_common_one() {
        let a = shared(2).push(3, "a", 900);
        let b = shared(2).push(3, "b", 400).push(4, "b", 50);
        let split = SplitPoint { nr: 2, log: Some(log(2, "a")), pos: 2000 };
        assert_eq!(compare_histories(&a.view(), &b.view()), PairHistory::Diverged(Divergence { split, bytes_after: [900, 450] }));
        let names = ["log-000000002-a", "version-000000003-a", "log-000000003-a", "log-000000003-b", "log-000000004-b", "x"];
        assert_eq!(duplicate_logfile(&names), Some(DuplicateLogfile { nr: 3, hosts: ["a", "b"] }));
        assert_eq!(duplicate_logfile(&["log-000000003-a", "log-000000004-b"]), None);
        let names = ["log-000000007-a", "log-000000007-c", "log-000000005-a", "log-000000005-b"];
        assert_eq!(duplicate_logfile(&names).map(|d| d.nr), Some(5));
    }

    #[test]
    fn a_differing_chain_is_a_split_even_for_the_same_logfile() {
        // Same logfile 3 of a, but B's log 2 was different (prev_head differs): the
        // split is after log 1.
        let a = shared(3);
        let b = shared(1).push(2, "b", 10).push(3, "a", 3000);
        fn only3(c: &Chain) -> Vec<(u32, &str)> {
            c.links.iter().filter(|(n, _)| *n >= 3).map(|(n, v)| (*n, v.as_str())).collect()
        }
        let PairHistory::Diverged(d) = compare_histories(&only3(&a), &only3(&b)) else { panic!() };
        // Log 2's links are not passed: the split logfile is unknown, its bytes uncounted.
        assert_eq!(d.split, SplitPoint { nr: 2, log: None, pos: 0 });
        assert_eq!(d.bytes_after, [3000, 3000]);
        let PairHistory::Diverged(d) = compare_histories(&a.view(), &b.view()) else { panic!() };
        assert_eq!(d.split, SplitPoint { nr: 1, log: Some(log(1, "a")), pos: 1000 });
        assert_eq!(d.bytes_after, [2000 + 3000, 10 + 3000]);
    }

    #[test]
    fn three_hosts_one_stopped_before_the_split() {
        let a = shared(2).push(3, "a", 5000).push(4, "a", 800);
        let b = shared(2).push(3, "a", 3000).push(4, "b", 100);
        let c = shared(2).push(3, "a", 2000);
        assert!(matches!(compare_histories(&a.view(), &b.view()), PairHistory::Diverged(_)));
        assert_eq!(compare_histories(&a.view(), &c.view()), PairHistory::Compatible);
        assert_eq!(compare_histories(&b.view(), &c.view()), PairHistory::Compatible);
        // A host stopped at the split position exactly is compatible with both, too.
        let at = shared(2).push(3, "a", 3000);
        assert_eq!(compare_histories(&a.view(), &at.view()), PairHistory::Compatible);
        assert_eq!(compare_histories(&b.view(), &at.view()), PairHistory::Compatible);
        // A host that followed A to the end diverges from B like A does.
        let follower = shared(2).push(3, "a", 5000).push(4, "a", 300);
        let PairHistory::Diverged(d) = compare_histories(&follower.view(), &b.view()) else { panic!() };
        assert_eq!(d.split, SplitPoint { nr: 3, log: Some(log(3, "a")), pos: 3000 });
        assert_eq!(d.bytes_after, [2300, 100]);
    }

    #[test]
    fn deleted_older_links_do_not_matter() {
        let a = shared(5).without_below(4);
        let b = shared(5).without_below(2);
        assert_eq!(compare_histories(&a.view(), &b.view()), PairHistory::Compatible);
        let a = shared(5).push(6, "a", 10).without_below(5);
        let b = shared(5).push(6, "b", 20).without_below(3);
        let PairHistory::Diverged(d) = compare_histories(&a.view(), &b.view()) else { panic!() };
        assert_eq!(d.split, SplitPoint { nr: 5, log: Some(log(5, "a")), pos: 5000 });
        assert_eq!(d.bytes_after, [10, 20]);
        // Nothing in common left: cannot tell.
        assert_eq!(compare_histories(&shared(5).without_below(5).view(), &shared(3).view()), PairHistory::Disjoint);
        // Only the digest differs: the chains differ further back.
        let a = shared(2);
        let mut b = shared(2);
        b.links[1].1.replace_range(0..2, "ff");
        let PairHistory::Diverged(d) = compare_histories(&a.view(), &b.view()) else { panic!() };
        assert_eq!(d.split, SplitPoint { nr: 1, log: Some(log(1, "a")), pos: 1000 });
        // Unparsable links count as missing.
        assert_eq!(compare_histories(&[(1, "garbage")], &shared(1).view()), PairHistory::Disjoint);
    }

    #[test]
    fn bytes_after_and_the_earlier_split() {
        let c = shared(2).push(3, "c", 700);
        let at2 = SplitPoint { nr: 2, log: Some(log(2, "a")), pos: 1500 };
        assert_eq!(bytes_after(&c.view(), &at2), 500 + 700);
        // Another origin's logfile at the split number counts whole.
        let at3 = SplitPoint { nr: 3, log: Some(log(3, "a")), pos: 100 };
        assert_eq!(bytes_after(&c.view(), &at3), 700);
        assert_eq!(earlier(at3, at2), at2);
        assert_eq!(earlier(at2, at3), at2);
    }
}
