//! How many full syncs run at once on a host (design reference §6, "sync-limit").
//!
//! With `/proc/sys/mars/sync_limit` = n > 0 at most n of this host's resources sync at
//! once; further wanted syncs wait in a queue, in the order they became wanted, and the
//! first of them starts when a running one ends. 0 means no limit. A sync that runs is
//! never stopped for the limit (lowering it lets the running ones finish).

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

/// Whether a sync queued at `theirs` comes before one queued at `mine` (`None`: not
/// queued yet, so it goes last). Queue stamps are unique and grow.
pub fn queued_before(theirs: u64, mine: Option<u64>) -> bool {
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
    fn queue_order_is_by_stamp_newcomers_last() {
        assert!(queued_before(3, Some(5)));
        assert!(!queued_before(5, Some(3)));
        assert!(queued_before(7, None));
    }
}
