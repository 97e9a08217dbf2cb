//! How many full syncs run at once on a host (design reference §6, "sync-limit").
//!
//! With `/proc/sys/mars/sync_limit` = n > 0 at most n of this host's resources sync at
//! once; further wanted syncs wait in a queue, in the order they were asked for (see
//! [`Place`]), and the first of them starts when a running one ends. 0 means no limit.
//! A sync that runs is never stopped for the limit (lowering it lets the running ones
//! finish).

/// What the other resources of this host do with their full syncs, as seen by one
/// resource whose sync is wanted and not running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncSlots {
    /// Syncs running now.
    pub running: usize,
    /// Wanted syncs queued before this one.
    pub ahead: usize,
}

/// Whether a wanted sync that is not running may start now under `limit`.
pub fn may_start(limit: u32, slots: SyncSlots) -> bool {
    limit == 0 || slots.running.saturating_add(slots.ahead) < limit as usize
}

/// A queued sync's place: first by `asked`, the stamp of the operator's last request
/// that made it wanted (the newer of the host's `todo-<host>/attach` and
/// `todo-<host>/sync` links), then by `seq`, the order the module queued it in. So
/// `marsadm invalidate all` queues the syncs in the order it asked for them (resource
/// name order), also when its requests reach the module in different rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub asked: u64,
    pub seq: u64,
}

/// Whether a sync queued at `theirs` comes before one queued at `mine` (`None`: not
/// queued yet, so it goes last). Places are unique (`seq` is).
pub fn queued_before(theirs: Place, mine: Option<Place>) -> bool {
    match mine {
        Some(m) => theirs < m,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(running: usize, ahead: usize) -> SyncSlots {
        SyncSlots { running, ahead }
    }

    #[test]
    fn no_limit_starts_everything() {
        assert!(may_start(0, slots(100, 100)));
    }

    #[test]
    fn limit_counts_running_and_queued_before() {
        assert!(may_start(1, slots(0, 0)));
        assert!(!may_start(1, slots(1, 0)));
        assert!(!may_start(1, slots(0, 1)));
        assert!(may_start(3, slots(1, 1)));
        assert!(!may_start(3, slots(2, 1)));
        assert!(may_start(1, slots(0, 0)) && !may_start(1, slots(usize::MAX, usize::MAX)));
    }

    #[test]
    fn queue_order_is_by_request_then_arrival_newcomers_last() {
        let at = |asked, seq| Place { asked, seq };
        assert!(queued_before(at(1, 3), Some(at(1, 5))));
        assert!(!queued_before(at(1, 5), Some(at(1, 3))));
        // Asked for earlier, queued later (its request reached a later round): first.
        assert!(queued_before(at(1, 9), Some(at(2, 5))));
        assert!(!queued_before(at(2, 5), Some(at(1, 9))));
        assert!(queued_before(at(7, 7), None));
    }
}
