//! Merging symlinks received from a peer into the local tree (design reference §4.5):
//! when a remote link replaces the local one (the newer Lamport stamp wins; equal stamps
//! are decided by value, so that every host decides the same way and the cluster
//! converges). Which remote entries a host takes at all, and from whom: `ownership`.

use super::tree::DELETED;

/// A symlink's value and Lamport mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState<'a> {
    pub value: &'a str,
    pub stamp_ns: u64,
}

/// Whether the link `new` replaces `old` in a tree (`None`: no link there): the newer
/// Lamport stamp wins; equal stamps are decided by value, so that every host decides
/// the same way. The tree's one overwrite rule: marsadm's writes follow it, the
/// module's merge of what peers send too ([`remote_wins`]), and the module's own writes
/// take a stamp newer than any it has seen, so they always win by it.
pub fn replaces(old: Option<LinkState<'_>>, new: LinkState<'_>) -> bool {
    match old {
        None => true,
        Some(l) if new.stamp_ns != l.stamp_ns => new.stamp_ns > l.stamp_ns,
        Some(l) => new.value > l.value,
    }
}

/// Whether the remote link replaces the local one (`None`: no local link), by
/// [`replaces`]. A remote `.deleted` only replaces an existing, older link: deleting
/// nothing creates nothing.
pub fn remote_wins(local: Option<LinkState<'_>>, remote: LinkState<'_>) -> bool {
    (local.is_some() || remote.value != DELETED) && replaces(local, remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(value: &str, stamp_ns: u64) -> LinkState<'_> {
        LinkState { value, stamp_ns }
    }

    #[test]
    fn newer_wins_and_ties_converge() {
        assert!(replaces(None, l(DELETED, 5)));
        assert!(replaces(Some(l("a", 5)), l("a", 6)));
        assert!(!replaces(Some(l("b", 5)), l("a", 5)));
        assert!(!replaces(Some(l("a", 5)), l("a", 5)));
        assert!(remote_wins(None, l("node1", 5)));
        assert!(!remote_wins(None, l(DELETED, 5)));
        assert!(remote_wins(Some(l("a", 5)), l("b", 6)));
        assert!(!remote_wins(Some(l("a", 6)), l("b", 5)));
        assert!(remote_wins(Some(l("a", 5)), l(DELETED, 6)));
        assert!(!remote_wins(Some(l("a", 6)), l(DELETED, 6)));
        // A tie is decided the same way on both hosts: exactly one side takes the other's.
        let (x, y) = (l("node1", 7), l("node2", 7));
        assert_ne!(remote_wins(Some(x), y), remote_wins(Some(y), x));
        assert!(!remote_wins(Some(x), x));
    }
}
