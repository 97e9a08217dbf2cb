//! When another host was last heard from, for decisions that need the peer alive (view's
//! `PrimaryUnreachable`, a handover's precondition).
//!
//! Every member's module rewrites `/mars/actual-<host>/time` each strategy round (about
//! once a second), stamped with its Lamport clock; the link travels with the metadata
//! pulls, which every host makes of every peer every 2 s (`kernel/net/meta.rs`, `PULL_MS`).
//! Its stamp seen here is therefore at most about 3 s old while the host is reachable
//! (a round, a pull interval, the pull itself). A failed pull is retried after 2 s, then
//! with growing backoff, so [`UNREACHABLE_AFTER`] (20 s) tolerates a few lost pulls in a
//! row and cannot trigger in normal operation. Stamps are Lamport times: a peer whose
//! clock lags is pushed forward by what it has observed from us, and one running ahead
//! just looks freshly heard from; keep clocks in sync (NTP) anyway.

use std::time::Duration;

use mars_core::tree::{ACTUAL_PREFIX, TIME};

use crate::context::Context;
use crate::error::Result;
use crate::tree::real_time_ns;

/// A host not heard from for longer than this is considered unreachable.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(20);

/// How long ago `host`'s liveness link was stamped (0 if its stamp is in our future);
/// `None` if it has never been heard from here.
pub fn last_heard(ctx: &Context, host: &str) -> Result<Option<Duration>> {
    Ok(ctx.tree.get(&format!("{ACTUAL_PREFIX}{host}/{TIME}"))?.map(|l| age(real_time_ns(), l.stamp_ns)))
}

/// Whether `host` has been heard from within [`UNREACHABLE_AFTER`]. This host always is.
pub fn is_reachable(ctx: &Context, host: &str) -> Result<bool> {
    if host == ctx.host {
        return Ok(true);
    }
    Ok(last_heard(ctx, host)?.is_some_and(|a| a <= UNREACHABLE_AFTER))
}

/// Whether `host` is heard from *now*: reachable by [`is_reachable`] and its liveness
/// link arrives anew within `within` (it is rewritten every second and pulled every
/// 2 s, so a live host's link changes within a few seconds). Unlike the age alone, this
/// does not depend on the two hosts' clocks agreeing: under load, emulated or
/// overcommitted machines drift by seconds. For decisions that must not be taken on a
/// host that just went away (a planned handover).
pub fn heard_anew(ctx: &Context, host: &str, within: Duration) -> Result<bool> {
    if host == ctx.host {
        return Ok(true);
    }
    if !is_reachable(ctx, host)? {
        return Ok(false);
    }
    let stamp = || -> Result<Option<u64>> { Ok(ctx.tree.get(&format!("{ACTUAL_PREFIX}{host}/{TIME}"))?.map(|l| l.stamp_ns)) };
    let first = stamp()?;
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        if stamp()? != first {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a complete listing of `host` has been merged here since this call began:
/// its liveness link arrives anew twice within `within`. A pull merges a listing entry
/// by entry, in the peer's directory order, so the first new stamp may come with a
/// listing whose other entries are still on their way; the second comes with the next
/// pull, which starts only after that one ended. A host found fresh counts as fresh for
/// the rest of the command. For decisions taken from another host's links (its replay
/// position): after a partition the links here are what it said before, and the first
/// pulls after the heal may come only after the backoff.
pub fn fresh_view(ctx: &Context, host: &str, within: Duration) -> Result<bool> {
    // Once per command: a listing holds every resource (`invalidate all`).
    static FRESH: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let known = || FRESH.lock().map(|f| f.iter().any(|h| h == host)).unwrap_or(false);
    if host == ctx.host || known() {
        return Ok(true);
    }
    let stamp = || -> Result<Option<u64>> { Ok(ctx.tree.get(&format!("{ACTUAL_PREFIX}{host}/{TIME}"))?.map(|l| l.stamp_ns)) };
    let (mut last, mut changes) = (stamp()?, 0);
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let now = stamp()?;
        if now != last {
            changes += 1;
            if changes == 2 {
                if let Ok(mut f) = FRESH.lock() {
                    f.push(host.to_owned());
                }
                return Ok(true);
            }
            last = now;
        }
    }
    Ok(false)
}

fn age(now_ns: u64, stamp_ns: u64) -> Duration {
    Duration::from_nanos(now_ns.saturating_sub(stamp_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    #[test]
    fn age_of_the_liveness_link_decides() {
        let t = ScratchTree::new("liveness", "node1");
        let c = &t.ctx;
        let now = real_time_ns();
        assert_eq!(last_heard(&c, "node2").unwrap(), None);
        assert!(!is_reachable(&c, "node2").unwrap());
        assert!(is_reachable(&c, "node1").unwrap(), "this host is always reachable");
        c.tree.set("actual-node2/time", "x", now - 3_000_000_000).unwrap();
        let a = last_heard(&c, "node2").unwrap().unwrap();
        assert!(a >= Duration::from_secs(3) && a < Duration::from_secs(10), "{a:?}");
        assert!(is_reachable(&c, "node2").unwrap());
        c.tree.set("actual-node3/time", "x", now - 60_000_000_000).unwrap();
        assert!(!is_reachable(&c, "node3").unwrap());
        assert_eq!(age(5, 9), Duration::ZERO, "a stamp ahead of our clock is fresh");
    }
}
