//! The Lamport clock (design reference §4.6): timestamps of log records and symlink
//! mtimes. It never falls behind real time, never runs backwards, and hands out strictly
//! increasing stamps, so "later" in the symlink tree and in the logs means later.
//!
//! This is the pure state machine; the module keeps one instance under a lock and feeds
//! it the real time, marsadm reads the module's clock from `/proc/sys/mars`.

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Stamps more than this far ahead of real time are refused as bogus (a corrupt file or
/// a wrong hardware clock on a peer), as in the original (30 days).
pub const MAX_FUTURE_NS: u64 = 30 * 24 * 3600 * NS_PER_SEC;

/// Lamport clock state: the last stamp handed out or observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LamportClock {
    last_ns: u64,
}

/// Outcome of [`LamportClock::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The clock was advanced to the stamp (or was already past it).
    Accepted,
    /// The stamp lies more than [`MAX_FUTURE_NS`] in the future and was ignored.
    TooFarInFuture,
}

impl LamportClock {
    /// A clock that has seen nothing yet.
    pub const fn new() -> Self {
        LamportClock { last_ns: 0 }
    }

    /// Current Lamport time without consuming a stamp: `max(real, last)`.
    pub fn peek(&self, real_ns: u64) -> u64 {
        real_ns.max(self.last_ns)
    }

    /// A new stamp, strictly greater than every stamp handed out or observed before.
    pub fn stamp(&mut self, real_ns: u64) -> u64 {
        let t = real_ns.max(self.last_ns.saturating_add(1));
        self.last_ns = t;
        t
    }

    /// Advances the clock to a stamp seen elsewhere (a symlink's mtime, a peer's message).
    pub fn observe(&mut self, stamp_ns: u64, real_ns: u64) -> Observed {
        if stamp_ns > real_ns.saturating_add(MAX_FUTURE_NS) {
            return Observed::TooFarInFuture;
        }
        self.last_ns = self.last_ns.max(stamp_ns);
        Observed::Accepted
    }
}

/// Writes `ns` as `<sec>.<nsec:09>`, the text form of stamps in the symlink tree and in
/// `/proc/sys/mars/lamport_clock`. Returns the used part of `buf`.
pub fn format_stamp(ns: u64, buf: &mut [u8; 32]) -> &str {
    // 20 + 1 + 9 characters at most: always fits.
    super::text::format_into(buf, format_args!("{}.{:09}", ns / NS_PER_SEC, ns % NS_PER_SEC)).unwrap_or("")
}

/// Parses `<sec>.<nsec>` (nsec 1 to 9 digits, read as a decimal fraction) or `<sec>`.
pub fn parse_stamp(s: &str) -> Option<u64> {
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if sec.is_empty() || !sec.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: u64 = sec.parse().ok()?;
    let mut nsec: u64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        nsec += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    sec.checked_mul(NS_PER_SEC)?.checked_add(nsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase_even_if_real_time_stalls_or_jumps_back() {
        let mut c = LamportClock::new();
        let a = c.stamp(1000);
        let b = c.stamp(1000);
        let d = c.stamp(500);
        assert_eq!(a, 1000);
        assert!(b > a && d > b);
        assert_eq!(c.stamp(5000), 5000);
    }

    #[test]
    fn observing_advances_but_never_rewinds() {
        let mut c = LamportClock::new();
        c.stamp(1000);
        assert_eq!(c.observe(9000, 1000), Observed::Accepted);
        assert_eq!(c.peek(1000), 9000);
        assert!(c.stamp(1000) > 9000);
        assert_eq!(c.observe(10, 1000), Observed::Accepted);
        assert!(c.peek(0) > 9000);
    }

    #[test]
    fn far_future_stamps_are_refused() {
        let mut c = LamportClock::new();
        let now = 1_700_000_000 * NS_PER_SEC;
        assert_eq!(c.observe(now + MAX_FUTURE_NS + 1, now), Observed::TooFarInFuture);
        assert_eq!(c.peek(now), now);
        assert_eq!(c.observe(now + MAX_FUTURE_NS, now), Observed::Accepted);
    }

    #[test]
    fn text_form_round_trips() {
        let mut buf = [0u8; 32];
        assert_eq!(format_stamp(1_700_000_000_000_000_042, &mut buf), "1700000000.000000042");
        assert_eq!(parse_stamp("1700000000.000000042"), Some(1_700_000_000_000_000_042));
        assert_eq!(parse_stamp("12.5"), Some(12 * NS_PER_SEC + 500_000_000));
        assert_eq!(parse_stamp("12"), Some(12 * NS_PER_SEC));
        for bad in ["", ".5", "1.2.3", "x", "1.1234567890", "-1", "1.-2", "99999999999999999999"] {
            assert_eq!(parse_stamp(bad), None, "{bad:?}");
        }
        for ns in [0, 1, NS_PER_SEC - 1, u64::MAX] {
            assert_eq!(parse_stamp(format_stamp(ns, &mut buf)), Some(ns));
        }
    }
}
