//! Merging symlinks received from a peer into the local tree (design reference §4.5):
//! which remote paths a host takes over at all, and when a remote link replaces the
//! local one (the newer Lamport stamp wins; equal stamps are decided by value, so that
//! every host decides the same way and the cluster converges).

use super::names::{check_host_name, check_resource_name};
use super::tree::{ACTUAL_PREFIX, DELETED, RESOURCE_PREFIX, TODO_PREFIX};

/// A symlink's value and Lamport mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState<'a> {
    pub value: &'a str,
    pub stamp_ns: u64,
}

/// Whether the remote link replaces the local one (`None`: no local link). A remote
/// `.deleted` only replaces an existing, older link: deleting nothing creates nothing.
pub fn remote_wins(local: Option<LinkState<'_>>, remote: LinkState<'_>) -> bool {
    match local {
        None => remote.value != DELETED,
        Some(l) if remote.stamp_ns != l.stamp_ns => remote.stamp_ns > l.stamp_ns,
        Some(l) => remote.value > l.value,
    }
}

fn per_host<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix).filter(|h| check_host_name(h).is_ok())
}

fn plain_entry(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.starts_with("ignore")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Whether a symlink at `path` (relative to `/mars`) from a peer may be merged into the
/// tree of host `me`. Only cluster state is taken over: `ips/ip-<host>`, the entries of
/// resource directories and their `todo-<host>`/`actual-<host>` subdirectories, and
/// other hosts' `actual-<host>/` links. A host's own `actual-<me>` state is written by
/// itself alone; `uuid` is handled by the membership check, never merged blindly.
pub fn accept_remote_path(path: &str, me: &str) -> bool {
    let mut parts = path.split('/');
    let (a, b, c, d) = (parts.next(), parts.next(), parts.next(), parts.next());
    match (a, b, c, d) {
        (Some("ips"), Some(name), None, None) => per_host(name, "ip-").is_some(),
        (Some(dir), Some(entry), None, None) if dir.starts_with(ACTUAL_PREFIX) => {
            per_host(dir, ACTUAL_PREFIX).is_some_and(|h| h != me) && plain_entry(entry)
        }
        (Some(res), Some(entry), None, None) => {
            res.strip_prefix(RESOURCE_PREFIX).is_some_and(|r| check_resource_name(r).is_ok()) && plain_entry(entry)
        }
        (Some(res), Some(sub), Some(entry), None) => {
            let res_ok = res.strip_prefix(RESOURCE_PREFIX).is_some_and(|r| check_resource_name(r).is_ok());
            let sub_ok = per_host(sub, TODO_PREFIX).is_some() || per_host(sub, ACTUAL_PREFIX).is_some_and(|h| h != me);
            res_ok && sub_ok && plain_entry(entry)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(value: &str, stamp_ns: u64) -> LinkState<'_> {
        LinkState { value, stamp_ns }
    }

    #[test]
    fn newer_wins_and_ties_converge() {
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

    #[test]
    fn only_cluster_state_is_accepted() {
        for ok in [
            "ips/ip-node2",
            "resource-r0/primary",
            "resource-r0/replay-node2",
            "resource-r0/version-000000001-node2",
            "resource-r0/todo-node1/attach",
            "resource-r0/actual-node2/is-primary",
            "actual-node2/time",
        ] {
            assert!(accept_remote_path(ok, "node1"), "{ok}");
        }
        for bad in [
            "uuid",
            "ips/node2",
            "ips/ip-bad host",
            "actual-node1/time",
            "resource-r0/actual-node1/is-primary",
            "resource-r0/.tmp.primary",
            "resource-r0/.deleted-x",
            "resource-r0/ignore-x",
            "resource-r0/other-node2/x",
            "resource-r0/todo-node1/a/b",
            "resource-/primary",
            "etc/passwd",
            "resource-r0",
            "",
        ] {
            assert!(!accept_remote_path(bad, "node1"), "{bad}");
        }
    }
}
