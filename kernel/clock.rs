// SPDX-License-Identifier: GPL-2.0

//! The module's Lamport clock: one shared instance of `mars_core::lamport::LamportClock`
//! fed with the real time. Every link the module reads advances it; every link it
//! writes gets a fresh stamp.

use crate::kapi::compat::prelude::*;
use kernel::sync::SpinLock;
use kernel::new_spinlock;

use crate::kapi::time::real_ns;
use crate::mars_core::lamport::{LamportClock, Observed};
use crate::mars_core::ratelimit::{PeerLogLimit, Verdict};

/// Lines about bogus future stamps: 2 per minute.
static FUTURE_LOG: PeerLogLimit<1> = PeerLogLimit::new(60_000_000_000, 2);

/// The module's Lamport clock.
#[pin_data]
pub(crate) struct Clock {
    #[pin]
    state: SpinLock<LamportClock>,
}

impl Clock {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Clock { state <- new_spinlock!(LamportClock::new(), "mars_lamport") })
    }

    /// A fresh stamp, later than everything seen so far.
    pub(crate) fn stamp(&self) -> u64 {
        self.state.lock().stamp(real_ns())
    }

    /// The current Lamport time, without handing out a stamp.
    pub(crate) fn peek(&self) -> u64 {
        self.state.lock().peek(real_ns())
    }

    /// Records a stamp read from the tree or received; a bogus future stamp is ignored
    /// (and said at most twice a minute: peers can send any number of them).
    pub(crate) fn observe(&self, stamp_ns: u64) {
        let now = real_ns();
        if self.state.lock().observe(stamp_ns, now) == Observed::TooFarInFuture {
            if let Verdict::Print { suppressed } = FUTURE_LOG.check(0, now) {
                pr_warn!("ignoring a timestamp more than 30 days in the future ({} more not shown)\n", suppressed);
            }
        }
    }
}
