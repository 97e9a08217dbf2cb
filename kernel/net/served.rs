// SPDX-License-Identifier: GPL-2.0

//! The resources this host is primary of, as the fetch and sync servers see them: the
//! strategy registers a resource when it becomes primary here and withdraws it when it
//! leaves that role; the servers only look up.

use crate::kapi::compat::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::new_mutex;

use crate::context::Context;
use crate::kapi::bdev::BlockDevice;
use crate::primary::log::CurrentLog;

/// A resource this host is primary of: what the fetch and sync servers read and report.
#[derive(Clone)]
pub(crate) struct Served {
    /// The underlying disk.
    pub(crate) disk: Arc<BlockDevice>,
    /// The logfile being written.
    pub(crate) log: Arc<CurrentLog>,
    /// The resource size.
    pub(crate) size: u64,
}

/// The registry of [`Served`] resources, by name.
#[pin_data]
pub(crate) struct Primaries {
    #[pin]
    served: Mutex<KVec<Option<(KVec<u8>, Served)>>>,
}

impl Primaries {
    pub(crate) fn new() -> Result<Arc<Primaries>> {
        Arc::pin_init(pin_init!(Primaries { served <- new_mutex!(KVec::new(), "mars_served") }), GFP_KERNEL)
    }

    /// Makes resource `name`, primary here, available to the servers (replacing an
    /// older entry).
    pub(crate) fn serve(&self, name: &[u8], s: Served) -> Result {
        let mut owned = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        owned.extend_from_slice(name, GFP_KERNEL)?;
        let mut served = self.served.lock();
        let slot = served.iter().position(|o| o.as_ref().is_some_and(|(n, _)| n.as_slice() == name));
        match slot.or_else(|| served.iter().position(Option::is_none)) {
            Some(i) => served[i] = Some((owned, s)),
            None => served.push(Some((owned, s)), GFP_KERNEL)?,
        }
        Ok(())
    }

    /// Withdraws resource `name` from the servers.
    pub(crate) fn unserve(&self, name: &[u8]) {
        for slot in self.served.lock().iter_mut() {
            if slot.as_ref().is_some_and(|(n, _)| n.as_slice() == name) {
                *slot = None;
            }
        }
    }

    /// The primary resource `name`, if this host is its primary (no allocation: the
    /// servers look it up for every request).
    pub(crate) fn get(&self, name: &[u8]) -> Option<Served> {
        let served = self.served.lock();
        served.iter().flatten().find(|(n, _)| n.as_slice() == name).map(|(_, s)| s.clone())
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
