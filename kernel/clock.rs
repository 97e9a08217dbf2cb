// SPDX-License-Identifier: GPL-2.0

//! The module's Lamport clock: one shared instance of `mars_core::lamport::LamportClock`
//! fed with the real time. Every link the module reads advances it; every link it
//! writes gets a fresh stamp.

use kernel::prelude::*;
use kernel::sync::SpinLock;
use kernel::{new_spinlock, pin_init};

use crate::kapi::time::real_ns;
use crate::mars_core::lamport::{LamportClock, Observed};

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

    /// Records a stamp read from the tree; a bogus future stamp is ignored.
    pub(crate) fn observe(&self, stamp_ns: u64) {
        if self.state.lock().observe(stamp_ns, real_ns()) == Observed::TooFarInFuture {
            pr_warn!("ignoring a timestamp more than 30 days in the future\n");
        }
    }
}
