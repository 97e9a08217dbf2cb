// SPDX-License-Identifier: GPL-2.0

//! What every service may use, and nothing more: the module's clock, the kernel's record
//! digests, and the triggers that make the strategy thread run a round now and the
//! metadata thread pull now. Services
//! (the data path, replay, fetch, sync, metadata) get this, never the strategy itself.

use crate::kapi::compat::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

use crate::clock::Clock;
use crate::digest::KernelDigests;
use crate::kapi::sysctl::Action;

/// The module's shared context (one per loaded module).
#[pin_data]
pub(crate) struct Context {
    #[pin]
    pub(crate) clock: Clock,
    /// Record digests (CRC32C, MD5, SHA-1) by the kernel.
    pub(crate) digests: KernelDigests,
    #[pin]
    triggered: Mutex<bool>,
    #[pin]
    wake: CondVar,
    /// The metadata thread is asked to pull every peer's tree now.
    #[pin]
    pull: Mutex<bool>,
    #[pin]
    pull_wake: CondVar,
}

impl Context {
    pub(crate) fn new() -> Result<Arc<Context>> {
        let digests = KernelDigests::new()?;
        Arc::pin_init(
            pin_init!(Context {
                clock <- Clock::new(),
                digests,
                triggered <- new_mutex!(false, "mars_trigger"),
                wake <- new_condvar!("mars_wake"),
                pull <- new_mutex!(false, "mars_pull"),
                pull_wake <- new_condvar!("mars_pull_wake"),
            }),
            GFP_KERNEL,
        )
    }

    /// Makes the strategy thread run a round now.
    pub(crate) fn trigger(&self) {
        *self.triggered.lock() = true;
        self.wake.notify_all();
    }

    /// Waits until triggered or `ms` have passed (the strategy thread, between rounds).
    pub(crate) fn wait_trigger(&self, ms: u32) {
        let mut triggered = self.triggered.lock();
        if !*triggered {
            let _ = self.wake.wait_interruptible_timeout(&mut triggered, msecs_to_jiffies(ms));
        }
        *triggered = false;
    }

    /// Makes the metadata thread pull every peer's tree now, also one it backs off from.
    pub(crate) fn trigger_pull(&self) {
        *self.pull.lock() = true;
        self.pull_wake.notify_all();
    }

    /// Waits until a pull is asked for or `ms` have passed (the metadata thread, between
    /// its pulls); true if one was asked for.
    pub(crate) fn wait_pull(&self, ms: u32) -> bool {
        let mut pull = self.pull.lock();
        if !*pull {
            let _ = self.pull_wake.wait_interruptible_timeout(&mut pull, msecs_to_jiffies(ms));
        }
        core::mem::replace(&mut *pull, false)
    }
}

/// `/proc/sys/mars/trigger`: any write makes the strategy thread run a round now; `2`
/// also makes the metadata thread pull every peer's tree at once (`marsadm
/// update-cluster`).
impl Action for Context {
    fn run(&self, input: &[u8]) {
        if input.trim_ascii() == b"2" {
            self.trigger_pull();
        }
        self.trigger();
    }
}
