//! A log-line rate limit: at most a few lines per window, and how many were suppressed
//! (said with the next line that is let through). One per peer, kept by its user.

/// Lines let through per window.
pub const BURST: u32 = 3;
/// Window length: one minute.
pub const WINDOW_NS: u64 = 60_000_000_000;

/// The state of one limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    window_start_ns: u64,
    in_window: u32,
    suppressed: u64,
}

impl RateLimit {
    /// A limit with nothing logged yet.
    pub const fn new() -> Self {
        RateLimit { window_start_ns: 0, in_window: 0, suppressed: 0 }
    }

    /// Whether a line may be logged at `now_ns`: `Some(n)` with the number of lines
    /// suppressed since the last one let through, `None` if this one is suppressed.
    pub fn allow(&mut self, now_ns: u64) -> Option<u64> {
        if self.in_window == 0 || now_ns.saturating_sub(self.window_start_ns) >= WINDOW_NS || now_ns < self.window_start_ns {
            self.window_start_ns = now_ns;
            self.in_window = 0;
        }
        if self.in_window >= BURST {
            self.suppressed = self.suppressed.saturating_add(1);
            return None;
        }
        self.in_window += 1;
        Some(core::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_quiet_then_counts_what_was_suppressed() {
        let mut r = RateLimit::new();
        let t0 = 5 * WINDOW_NS;
        for i in 0..BURST as u64 {
            assert_eq!(r.allow(t0 + i), Some(0));
        }
        for i in 0..10 {
            assert_eq!(r.allow(t0 + 100 + i), None);
        }
        assert_eq!(r.allow(t0 + WINDOW_NS - 1), None);
        assert_eq!(r.allow(t0 + WINDOW_NS), Some(11));
        assert_eq!(r.allow(t0 + WINDOW_NS + 1), Some(0));
    }

    #[test]
    fn a_clock_going_back_starts_a_new_window() {
        let mut r = RateLimit::new();
        for _ in 0..BURST {
            r.allow(WINDOW_NS * 2);
        }
        assert_eq!(r.allow(WINDOW_NS * 2), None);
        assert_eq!(r.allow(1), Some(1));
        assert_eq!(r.allow(u64::MAX), Some(0));
    }
}
