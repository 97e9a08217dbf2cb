//! Rate limits for log lines a peer can trigger (a refused connection, a bad frame, an
//! error message it sends): a peer that misbehaves in a loop must not flood the kernel
//! log. Lock-free (atomics only), so a limiter can be a `static` shared by all
//! connection threads of the module.
//!
//! [`PeerLogLimit`] keeps `N` buckets; a peer (keyed by its address, [`peer_key`])
//! always lands in the same bucket, so it gets at most `burst` lines per `interval_ns`,
//! and all peers together at most `N * burst`. Peers whose keys share a bucket share its
//! budget (an attacker can crowd out another peer's lines, never add lines). The first
//! line printed after a suppression reports how many were suppressed.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What to do with a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Print it; `suppressed` lines of this bucket were dropped before it.
    Print {
        /// Lines dropped since the last printed one.
        suppressed: u32,
    },
    /// Drop it (counted).
    Suppress,
}

struct Bucket {
    /// Start of the current window (ns); 0: never used.
    window_ns: AtomicU64,
    /// Lines asked for in the window.
    count: AtomicU32,
    /// Lines dropped since the last printed one.
    suppressed: AtomicU32,
}

impl Bucket {
    const fn new() -> Self {
        Bucket { window_ns: AtomicU64::new(0), count: AtomicU32::new(0), suppressed: AtomicU32::new(0) }
    }
}

/// Per-peer log rate limit (module doc). Races between threads can let a line more or
/// less through; they never panic or block.
pub struct PeerLogLimit<const N: usize> {
    buckets: [Bucket; N],
    interval_ns: u64,
    burst: u32,
}

fn saturating_inc(a: &AtomicU32) -> u32 {
    match a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_add(1))) {
        Ok(v) | Err(v) => v,
    }
}

impl<const N: usize> PeerLogLimit<N> {
    /// At most `burst` lines per peer bucket in each `interval_ns`.
    pub const fn new(interval_ns: u64, burst: u32) -> Self {
        PeerLogLimit { buckets: [const { Bucket::new() }; N], interval_ns, burst }
    }

    /// Whether a line about peer `key` may be printed at `now_ns` (any monotonic or
    /// wall clock; a clock going back starts a new window).
    pub fn check(&self, key: u64, now_ns: u64) -> Verdict {
        if N == 0 {
            return Verdict::Print { suppressed: 0 };
        }
        let b = &self.buckets[(key % N as u64) as usize];
        let now = now_ns.max(1);
        let start = b.window_ns.load(Ordering::Relaxed);
        let expired = start == 0 || now < start || now - start >= self.interval_ns;
        if expired && b.window_ns.compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            b.count.store(1, Ordering::Relaxed);
            return Verdict::Print { suppressed: b.suppressed.swap(0, Ordering::Relaxed) };
        }
        if saturating_inc(&b.count) < self.burst {
            return Verdict::Print { suppressed: b.suppressed.swap(0, Ordering::Relaxed) };
        }
        saturating_inc(&b.suppressed);
        Verdict::Suppress
    }
}

/// Key of a peer for [`PeerLogLimit::check`]: its IPv4 address, or a host name's
/// bytes (FNV-1a, spread over the buckets).
pub fn peer_key(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_peer_gets_its_burst_per_interval_then_a_count() {
        let l = PeerLogLimit::<8>::new(10 * S, 3);
        let k = peer_key(&[10, 77, 0, 1]);
        let verdicts: Vec<Verdict> = (0..10).map(|i| l.check(k, 100 * S + i)).collect();
        assert_eq!(&verdicts[..3], &[Verdict::Print { suppressed: 0 }; 3]);
        assert!(verdicts[3..].iter().all(|v| *v == Verdict::Suppress));
        // Next window: printed again, with the count of what was dropped.
        assert_eq!(l.check(k, 110 * S), Verdict::Print { suppressed: 7 });
        assert_eq!(l.check(k, 110 * S + 1), Verdict::Print { suppressed: 0 });
    }

    #[test]
    fn peers_are_limited_separately_and_in_total() {
        let l = PeerLogLimit::<4>::new(10 * S, 2);
        let (a, b) = (peer_key(b"node1"), peer_key(b"node2"));
        assert_ne!(a % 4, b % 4, "test keys must land in different buckets");
        for _ in 0..100 {
            l.check(a, S);
        }
        assert_eq!(l.check(b, S), Verdict::Print { suppressed: 0 });
        // However many peers: at most N * burst lines per interval.
        let printed = (0..10_000u64).filter(|&i| l.check(peer_key(&i.to_le_bytes()), S + 1) != Verdict::Suppress).count();
        assert!(printed <= 4 * 2, "{printed}");
    }

    #[test]
    fn extreme_clocks_and_counts_do_not_overflow() {
        let l = PeerLogLimit::<1>::new(u64::MAX, u32::MAX);
        for now in [0, 1, u64::MAX, 5, u64::MAX] {
            let _ = l.check(u64::MAX, now);
        }
        let l = PeerLogLimit::<1>::new(0, 0);
        assert_eq!(l.check(1, 7), Verdict::Print { suppressed: 0 });
        let zero = PeerLogLimit::<0>::new(S, 1);
        assert_eq!(zero.check(1, 1), Verdict::Print { suppressed: 0 });
        // A bucket's counter saturates instead of wrapping back into "print".
        let l = PeerLogLimit::<1>::new(u64::MAX, 1);
        l.check(0, 1);
        l.buckets[0].count.store(u32::MAX - 1, Ordering::Relaxed);
        for _ in 0..3 {
            assert_eq!(l.check(0, 2), Verdict::Suppress);
        }
    }
}
