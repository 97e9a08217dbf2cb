//! Emergency mode: what a host does when `/mars` runs full (design reference §5.7,
//! docu/emergency.md). Pure decisions on numbers the module measures each round, shared
//! with marsadm, which shows them.
//!
//! `rest` is the free space of `/mars` minus what the RAM write buffers still have to
//! write into logfiles. Four reserves L1..L4 (`required_free_space_{1..4}_mb`) are stacked: the level
//! rises as `rest` falls below L4+L3+L2+L1, L4+L3+L2, L4+L3 and L4. It rises at once and
//! falls one step per round once space is back (if `mars_reset_emergency` allows).

/// Logfile numbers skipped when a primary ceases logging: the next logfile it writes is
/// numbered this much higher, so no secondary can move on past the point where the
/// primary's disk started to differ from its log (the "hole").
pub const HOLE: u32 = 10;

/// A reserve L1..L4 is at most this (the original's default of 2 GB each).
pub const AUTO_RESERVE_MAX: u64 = 2 << 30;

/// A reserve left at "auto" is `/mars`'s size divided by this (at most
/// [`AUTO_RESERVE_MAX`]): 1/16 each, so the last level starts with 1/16 still free.
pub const AUTO_RESERVE_DIVISOR: u64 = 16;

/// In `actual-<host>/` of a resource: "1" while the resource is in emergency on that
/// host (its primary ceased logging, or the host's level or the resource's limit says so).
pub const HAS_EMERGENCY: &str = "has-emergency";
/// In `actual-<host>/` (the host's directory, not a resource's): the host's level 0..4.
pub const EMERGENCY_LEVEL: &str = "emergency-level";
/// In `actual-<host>/`: `rest` in KiB, and the size of `/mars` in KiB.
pub const REST_SPACE_KB: &str = "rest-space-kb";
pub const TOTAL_SPACE_KB: &str = "total-space-kb";
/// In `todo-<host>/` of a resource: the per-resource limit in percent (0: none).
pub const EMERGENCY_LIMIT: &str = "emergency-limit";

/// The emergency levels (`/proc/sys/mars/mars_emergency_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Enough space.
    Normal = 0,
    /// `rest` < L4+L3+L2+L1: a warning.
    Low = 1,
    /// `rest` < L4+L3+L2: on resources this host is not designated primary of, logfiles
    /// it has replayed are deleted although other members may not have replayed them.
    Secondary = 2,
    /// `rest` < L4+L3: no full sync starts, running ones stop.
    NoSync = 3,
    /// `rest` < L4: every primary ceases logging (writes go straight to its disk).
    Jammed = 4,
}

impl Level {
    pub fn from_number(n: u8) -> Level {
        match n {
            0 => Level::Normal,
            1 => Level::Low,
            2 => Level::Secondary,
            3 => Level::NoSync,
            _ => Level::Jammed,
        }
    }

    /// What the level means, for log lines and `view`.
    pub fn describe(self) -> &'static str {
        match self {
            Level::Normal => "enough space",
            Level::Low => "space becoming low",
            Level::Secondary => "space low: deleting replayed logfiles of secondary resources",
            Level::NoSync => "space very low: no full syncs",
            Level::Jammed => "space exhausted: primaries ceased transaction logging",
        }
    }
}

/// The automatic reserve of each level in bytes for a `/mars` of `total` bytes.
pub fn auto_reserve(total: u64) -> u64 {
    (total / AUTO_RESERVE_DIVISOR).min(AUTO_RESERVE_MAX)
}

/// The reserves L1..L4 in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserves(pub [u64; 4]);

impl Reserves {
    /// From the tunables in MiB (index 0 = L1); a negative value means "auto".
    pub fn from_mib(mib: [i64; 4], total: u64) -> Reserves {
        let auto = auto_reserve(total);
        Reserves(mib.map(|m| if m < 0 { auto } else { (m as u64).saturating_mul(1 << 20) }))
    }

    /// Space below which the level is at least `level` (0 for [`Level::Normal`]).
    pub fn threshold(&self, level: Level) -> u64 {
        let [l1, l2, l3, l4] = self.0;
        match level {
            Level::Normal => 0,
            Level::Low => l4.saturating_add(l3).saturating_add(l2).saturating_add(l1),
            Level::Secondary => l4.saturating_add(l3).saturating_add(l2),
            Level::NoSync => l4.saturating_add(l3),
            Level::Jammed => l4,
        }
    }

    /// The level `rest` calls for.
    pub fn level(&self, rest: u64) -> Level {
        [Level::Jammed, Level::NoSync, Level::Secondary, Level::Low]
            .into_iter()
            .find(|&l| rest < self.threshold(l))
            .unwrap_or(Level::Normal)
    }
}

/// `rest`: free space minus what the RAM buffers still have to write into logfiles.
pub fn rest_space(free: u64, buffered: u64) -> u64 {
    free.saturating_sub(buffered)
}

/// The level after this round: up at once to what `rest` calls for; down one step per
/// round, and only if `reset` (`mars_reset_emergency`) allows it.
pub fn next_level(current: Level, wanted: Level, reset: bool) -> Level {
    if wanted >= current {
        wanted
    } else if reset {
        Level::from_number(current as u8 - 1)
    } else {
        current
    }
}

/// Whether a resource with `limit` percent (`emergency-limit`, 0: none) is over it: the
/// free space of `/mars` is below `limit` percent of its size.
pub fn over_limit(rest: u64, total: u64, limit: u8) -> bool {
    limit > 0 && (rest as u128) * 100 < (limit as u128) * (total as u128)
}

/// What a resource on this host is to do about space, from the host's level and the
/// resource's own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceEmergency {
    /// In emergency: a primary ceases (or does not resume) logging.
    pub emergency: bool,
    /// A primary that ceased logging may resume now.
    pub may_resume: bool,
    /// Full syncs may run.
    pub may_sync: bool,
    /// Replayed logfiles are deleted (not the designated primary).
    pub delete_replayed: bool,
}

/// The decisions for one resource. A ceased primary resumes only once the level is at
/// most [`Level::Secondary`] (room for L3 of logging before it would cease again) and
/// the resource is under its limit.
pub fn for_resource(level: Level, over_limit: bool, designated_primary: bool) -> ResourceEmergency {
    ResourceEmergency {
        emergency: level >= Level::Jammed || over_limit,
        may_resume: level <= Level::Secondary && !over_limit,
        may_sync: level < Level::NoSync && !over_limit,
        delete_replayed: level >= Level::Secondary && !designated_primary,
    }
}

/// After a failed write or sync of a logfile, logging resumes only with at least this
/// much `rest` (and the rules of [`ResourceEmergency::may_resume`]): otherwise a `/mars`
/// that is full while no reserve is set would cease and resume every round.
pub const RESUME_AFTER_FAILURE_MIN: u64 = 64 << 20;

/// Rounds (seconds) the conditions to resume logging must hold before a primary that
/// ceased logging resumes: the RAM buffer it no longer fills counts as space again, and
/// without this pause it would resume and cease again at once, leaving hole after hole.
pub const RESUME_CALM_ROUNDS: u32 = 10;

/// Whether a primary logs, ceases, or stays ceased, round by round (its logger's state:
/// `ceased` logging, a logfile write or sync `failed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Rounds in a row the conditions to resume held.
    calm: u32,
}

impl Resume {
    /// Whether logging is to cease (or stay ceased) after this round.
    pub fn cease(&mut self, e: &ResourceEmergency, ceased: bool, failed: bool, rest: u64) -> bool {
        if e.emergency {
            self.calm = 0;
            return true;
        }
        if !(ceased || failed) {
            self.calm = 0;
            return false;
        }
        if e.may_resume && (!failed || rest >= RESUME_AFTER_FAILURE_MIN) {
            self.calm = self.calm.saturating_add(1);
        } else {
            self.calm = 0;
        }
        self.calm < RESUME_CALM_ROUNDS
    }
}

/// The next logfile number after a hole, from the current logfile's number.
pub fn after_hole(nr: u32) -> Option<u32> {
    nr.checked_add(HOLE).filter(|&n| n <= super::tree::MAX_LOG_NR)
}

/// The operator's next step for a resource in emergency, as `view` shows it.
pub fn hint(primary_ceased: bool, level: Level) -> &'static str {
    match (primary_ceased, level) {
        (true, Level::Jammed) => "free space in the primary's /mars (grow it, remove other files, or `marsadm invalidate` each secondary and then `marsadm log-delete-all` on the primary); logging resumes by itself",
        (true, _) => "logging resumes by itself once the primary's level is at most 2, the resource is under its emergency-limit and, after a failed logfile write, 64 MiB are free; then `marsadm invalidate` on each secondary that stopped at the hole",
        (false, Level::Normal) => "`marsadm invalidate` on each secondary that stopped at the hole",
        (false, _) => "free space in /mars (grow it, remove other files, or `marsadm log-delete-all`)",
    }
}

/// The operator's next step for a secondary whose recovery is stuck before the hole
/// (`replication::stuck_before_hole`), as `view` shows it.
pub const STUCK_HINT: &str = "recovery stuck: this host's replay starts before the hole in the logfile sequence, so its copy can never become consistent, and it keeps the logfile before the hole from being deleted: `marsadm invalidate` again here (it starts after the hole)";

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn levels_are_stacked_reserves() {
        let r = Reserves::from_mib([10, 20, 30, 40], 0);
        assert_eq!(r.threshold(Level::Jammed), 40 * MIB);
        assert_eq!(r.threshold(Level::NoSync), 70 * MIB);
        assert_eq!(r.threshold(Level::Secondary), 90 * MIB);
        assert_eq!(r.threshold(Level::Low), 100 * MIB);
        assert_eq!(r.level(100 * MIB), Level::Normal);
        assert_eq!(r.level(100 * MIB - 1), Level::Low);
        assert_eq!(r.level(90 * MIB - 1), Level::Secondary);
        assert_eq!(r.level(70 * MIB - 1), Level::NoSync);
        assert_eq!(r.level(40 * MIB - 1), Level::Jammed);
        assert_eq!(r.level(0), Level::Jammed);
        // No reserves: never an emergency.
        assert_eq!(Reserves::from_mib([0; 4], 0).level(0), Level::Normal);
    }

    #[test]
    fn auto_reserves_scale_with_mars() {
        let small = Reserves::from_mib([-1; 4], 1024 * MIB);
        assert_eq!(small.0, [64 * MIB; 4]);
        let big = Reserves::from_mib([-1, -1, 5, -1], 1 << 40);
        assert_eq!(big.0, [2 << 30, 2 << 30, 5 * MIB, 2 << 30]);
        // Huge values saturate instead of overflowing.
        let huge = Reserves::from_mib([i64::MAX; 4], 0);
        assert_eq!(huge.threshold(Level::Low), u64::MAX);
    }

    #[test]
    fn level_rises_at_once_and_falls_step_by_step() {
        assert_eq!(next_level(Level::Normal, Level::Jammed, true), Level::Jammed);
        assert_eq!(next_level(Level::Jammed, Level::Normal, true), Level::NoSync);
        assert_eq!(next_level(Level::NoSync, Level::Normal, true), Level::Secondary);
        assert_eq!(next_level(Level::Jammed, Level::Normal, false), Level::Jammed);
        assert_eq!(next_level(Level::Low, Level::Low, false), Level::Low);
    }

    #[test]
    fn rest_subtracts_what_ram_still_writes() {
        assert_eq!(rest_space(100, 30), 70);
        assert_eq!(rest_space(10, 30), 0);
    }

    #[test]
    fn per_resource_limit_is_percent_of_mars_free() {
        assert!(!over_limit(0, 1000, 0));
        assert!(over_limit(399, 1000, 40));
        assert!(!over_limit(400, 1000, 40));
        assert!(over_limit(u64::MAX - 1, u64::MAX, 100));
        assert!(!over_limit(u64::MAX, u64::MAX, 100));
    }

    #[test]
    fn decisions_per_resource() {
        let normal = for_resource(Level::Normal, false, true);
        assert_eq!(normal, ResourceEmergency { emergency: false, may_resume: true, may_sync: true, delete_replayed: false });
        let sec = for_resource(Level::Secondary, false, false);
        assert!(sec.delete_replayed && sec.may_sync && sec.may_resume && !sec.emergency);
        let nosync = for_resource(Level::NoSync, false, false);
        assert!(!nosync.may_sync && !nosync.may_resume && !nosync.emergency);
        assert!(for_resource(Level::Jammed, false, true).emergency);
        let over = for_resource(Level::Normal, true, true);
        assert!(over.emergency && !over.may_resume && !over.may_sync && !over.delete_replayed);
    }

    /// Rounds until a ceased primary resumes (`None`: not within 100).
    fn rounds_to_resume(e: &ResourceEmergency, failed: bool, rest: u64) -> Option<u32> {
        let mut r = Resume::default();
        (1..=100).find(|_| !r.cease(e, true, failed, rest))
    }

    #[test]
    fn ceased_logging_resumes_with_room_only() {
        let normal = for_resource(Level::Normal, false, true);
        assert!(!Resume::default().cease(&normal, false, false, 0));
        assert!(Resume::default().cease(&for_resource(Level::Jammed, false, true), false, false, 0));
        // Level 3 keeps a ceased primary ceased, but does not make a running one cease.
        let nosync = for_resource(Level::NoSync, false, true);
        assert_eq!(rounds_to_resume(&nosync, false, 0), None);
        assert!(!Resume::default().cease(&nosync, false, false, 0));
        // At level 2 it resumes, after the calm rounds.
        let secondary = for_resource(Level::Secondary, false, true);
        assert_eq!(rounds_to_resume(&secondary, false, 0), Some(RESUME_CALM_ROUNDS));
        // After a write failure: only with room.
        assert_eq!(rounds_to_resume(&normal, true, RESUME_AFTER_FAILURE_MIN - 1), None);
        assert_eq!(rounds_to_resume(&normal, true, RESUME_AFTER_FAILURE_MIN), Some(RESUME_CALM_ROUNDS));
        assert!(Resume::default().cease(&normal, false, true, 0));
        // A round without room starts the count again.
        let mut r = Resume::default();
        for _ in 1..RESUME_CALM_ROUNDS {
            assert!(r.cease(&normal, true, false, 0));
        }
        assert!(r.cease(&nosync, true, false, 0));
        assert!(r.cease(&normal, true, false, 0));
    }

    #[test]
    fn hole_numbers_are_checked() {
        assert_eq!(after_hole(5), Some(15));
        assert_eq!(after_hole(u32::MAX - 5), None);
    }
}
