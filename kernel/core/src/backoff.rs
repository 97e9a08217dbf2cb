//! Retrying a peer after failures: exponential backoff, and telling when a series of
//! failures starts and ends (so an outage is logged once, not every second).

/// Failure counter of one peer connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const fn new() -> Self {
        Backoff { failures: 0 }
    }

    /// Records a failure; `true` if it starts a series (the moment to log it).
    pub fn failed(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.failures == 1
    }

    /// Records a success; `true` if it ends a series of failures (log the recovery).
    pub fn succeeded(&mut self) -> bool {
        let was = self.failures > 0;
        self.failures = 0;
        was
    }

    /// Milliseconds to wait before the next attempt: `base_ms` while all is well, then
    /// doubling per failure, at most `max_ms`.
    pub fn delay_ms(&self, base_ms: u32, max_ms: u32) -> u32 {
        let shift = self.failures.saturating_sub(1).min(16);
        base_ms.saturating_mul(1 << shift).min(max_ms).max(base_ms.min(max_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_reported_once_and_delays_grow_to_a_cap() {
        let mut b = Backoff::new();
        assert_eq!(b.delay_ms(1000, 10_000), 1000);
        assert!(b.failed());
        assert_eq!(b.delay_ms(1000, 10_000), 1000);
        assert!(!b.failed());
        assert_eq!(b.delay_ms(1000, 10_000), 2000);
        assert!(!b.failed());
        assert_eq!(b.delay_ms(1000, 10_000), 4000);
        for _ in 0..100 {
            b.failed();
        }
        assert_eq!(b.delay_ms(1000, 10_000), 10_000);
        assert!(b.succeeded());
        assert!(!b.succeeded());
        assert_eq!(b.delay_ms(1000, 10_000), 1000);
    }
}
