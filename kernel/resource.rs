// SPDX-License-Identifier: GPL-2.0

//! A resource running on this host: its underlying disk (held exclusively while
//! attached) and, in the primary role, its device `/dev/mars/<devname>`.

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::device::Device;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::gendisk::Disk;
use crate::mars_core::role::Role;
use crate::tree::path;

/// A resource this host is attached to.
pub(crate) struct Resource {
    /// Resource name (the `<res>` of `resource-<res>`).
    pub(crate) name: KVec<u8>,
    /// Dropped before `lower`: the device goes away first.
    device: Option<Disk<Device>>,
    lower: Arc<BlockDevice>,
    /// Unique address identifying us as the exclusive holder of `lower`.
    _holder: KBox<u8>,
}

/// What the tree says a resource should look like on this host.
pub(crate) struct Setup<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) data_path: &'a CStr,
    pub(crate) devname: &'a str,
    pub(crate) size: u64,
}

impl Resource {
    /// Attaches: opens the underlying disk exclusively.
    pub(crate) fn attach(setup: &Setup<'_>) -> Result<Resource> {
        let holder = KBox::new(0u8, GFP_KERNEL)?;
        let holder_ptr = (&*holder as *const u8).cast_mut().cast();
        let lower = BlockDevice::open_exclusive(setup.data_path, holder_ptr)?;
        if lower.sectors().saturating_mul(512) < setup.size {
            pr_err!("disk {} is smaller than the resource ({} bytes)\n", setup.data_path, setup.size);
            return Err(ENOSPC);
        }
        let mut name = KVec::with_capacity(setup.name.len(), GFP_KERNEL)?;
        name.extend_from_slice(setup.name, GFP_KERNEL)?;
        Ok(Resource { name, device: None, lower: Arc::new(lower, GFP_KERNEL)?, _holder: holder })
    }

    /// The role this resource currently has.
    pub(crate) fn role(&self) -> Role {
        if self.device.is_some() {
            Role::Primary
        } else {
            Role::Secondary
        }
    }

    /// Becomes primary: creates `/dev/mars/<devname>`.
    pub(crate) fn make_primary(&mut self, setup: &Setup<'_>, module: &'static ThisModule) -> Result {
        if self.device.is_some() {
            return Ok(());
        }
        let name = path(fmt!("mars/{}", setup.devname))?;
        let handler = Arc::new(Device { lower: self.lower.clone() }, GFP_KERNEL)?;
        self.device = Some(Disk::new(&name, setup.size / 512, &self.lower, handler, module)?);
        Ok(())
    }

    /// Openers of the device (0 without a device).
    pub(crate) fn open_count(&self) -> i32 {
        self.device.as_ref().map_or(0, |d| d.open_count())
    }

    /// Gives up the primary role (removes the device); refused while it is open.
    pub(crate) fn make_secondary(&mut self) -> Result {
        if self.open_count() > 0 {
            return Err(EBUSY);
        }
        self.device = None;
        Ok(())
    }
}
