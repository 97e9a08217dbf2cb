// SPDX-License-Identifier: GPL-2.0

//! The resources this host is primary of, as the fetch and sync servers see them: the
//! strategy registers a resource when it becomes primary here and withdraws it when it
//! leaves that role; the servers only look up.

use crate::kapi::compat::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::new_mutex;

use crate::context::Context;
use crate::kapi::bdev::BlockDevice;
use crate::log::CurrentLog;

/// A resource this host is primary of: what the sync server reads and reports.
pub(crate) struct Served {
    pub(crate) name: KVec<u8>,
    /// The underlying disk.
    pub(crate) disk: Arc<BlockDevice>,
    /// The logfile being written.
    pub(crate) log: Arc<CurrentLog>,
    /// The resource size.
    pub(crate) size: u64,
}

/// The registry of [`Served`] resources.
#[pin_data]
pub(crate) struct Primaries {
    #[pin]
    served: Mutex<KVec<Option<Served>>>,
}

impl Primaries {
    pub(crate) fn new() -> Result<Arc<Primaries>> {
        Arc::pin_init(pin_init!(Primaries { served <- new_mutex!(KVec::new(), "mars_served") }), GFP_KERNEL)
    }

    /// Makes a primary resource available to the servers (replacing an older entry).
    pub(crate) fn serve(&self, s: Served) -> Result {
        let mut served = self.served.lock();
        let slot = served.iter().position(|o| o.as_ref().is_some_and(|o| o.name == s.name));
        match slot.or_else(|| served.iter().position(Option::is_none)) {
            Some(i) => served[i] = Some(s),
            None => served.push(Some(s), GFP_KERNEL)?,
        }
        Ok(())
    }

    /// Withdraws resource `name` from the servers.
    pub(crate) fn unserve(&self, name: &[u8]) {
        for slot in self.served.lock().iter_mut() {
            if slot.as_ref().is_some_and(|s| s.name.as_slice() == name) {
                *slot = None;
            }
        }
    }

    /// The primary resource `name`, if this host is its primary.
    pub(crate) fn get(&self, name: &[u8]) -> Option<Served> {
        let served = self.served.lock();
        let s = served.iter().flatten().find(|s| s.name.as_slice() == name)?;
        let mut copy = KVec::new();
        copy.extend_from_slice(&s.name, GFP_KERNEL).ok()?;
        Some(Served { name: copy, disk: s.disk.clone(), log: s.log.clone(), size: s.size })
    }
}

/// What a fetch or sync server's connection threads get: the shared context and the
/// registry of what they serve.
pub(crate) struct Serving {
    pub(crate) ctx: Arc<Context>,
    pub(crate) primaries: Arc<Primaries>,
}

impl Serving {
    pub(crate) fn new(ctx: Arc<Context>, primaries: Arc<Primaries>) -> Result<Arc<Serving>> {
        Ok(Arc::new(Serving { ctx, primaries }, GFP_KERNEL)?)
    }
}
