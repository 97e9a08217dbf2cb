// SPDX-License-Identifier: GPL-2.0

//! The underlying disk of a resource, opened exclusively (C: `bdev_file_open_by_path`,
//! `bdev_fput`): while a resource is attached, nobody else may write to its disk, and
//! marsadm's `O_EXCL` check reports the disk as in use.

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicI32, Ordering};

use super::sys;
use kernel::error::from_err_ptr;
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

/// An exclusively opened block device.
///
/// # Invariants
///
/// `file` was returned by a successful `bdev_file_open_by_path` with a non-null holder
/// and has not been released.
pub(crate) struct BlockDevice {
    file: NonNull<sys::file>,
    /// Errno of the last failed I/O or flush (negative), until a user of the disk saw
    /// its writes succeed again ([`BlockDevice::clear_error`]); 0: none.
    error: AtomicI32,
}

// SAFETY: the bdev file may be used and released from any thread.
unsafe impl Send for BlockDevice {}
// SAFETY: `&self` methods only read immutable properties or submit I/O, which the block
// layer allows concurrently.
unsafe impl Sync for BlockDevice {}

impl BlockDevice {
    /// Opens `path` for reading and writing, exclusively for `holder` (any address that
    /// is unique to the opener and stays valid while the device is open).
    pub(crate) fn open_exclusive(path: &CStr, holder: *mut c_void) -> Result<BlockDevice> {
        if holder.is_null() {
            return Err(EINVAL);
        }
        // The path must name a block device (a symlink to one, e.g. /dev/disk/by-id/*,
        // is fine: that is outside /mars); a file or anything else is ENOTBLK.
        let mut dev: sys::dev_t = 0;
        // SAFETY: `path` is NUL-terminated; `dev` is valid for writes.
        kernel::error::to_result(unsafe { sys::lookup_bdev(path.as_char_ptr(), &mut dev) })?;
        // Exclusive, and nobody else may write to the disk while we hold it (a stray
        // writer would change the disk behind the log's back).
        let mode = sys::BLK_OPEN_READ | sys::BLK_OPEN_WRITE | sys::BLK_OPEN_RESTRICT_WRITES;
        // SAFETY: `path` is NUL-terminated; a non-null holder makes the open exclusive;
        // no holder operations are needed.
        let file = from_err_ptr(unsafe {
            sys::bdev_file_open_by_path(path.as_char_ptr(), mode, holder, core::ptr::null())
        })?;
        // INVARIANT: the open succeeded.
        NonNull::new(file).map(|file| BlockDevice { file, error: AtomicI32::new(0) }).ok_or(EINVAL)
    }

    /// The C block device.
    pub(super) fn raw(&self) -> *mut sys::block_device {
        // SAFETY: the file is an open bdev file (type invariant).
        unsafe { sys::file_bdev(self.file.as_ptr()) }
    }

    /// Size in 512-byte sectors.
    pub(crate) fn sectors(&self) -> u64 {
        // SAFETY: the block device is valid while open; `bd_nr_sectors` is a plain field.
        unsafe { (*self.raw()).bd_nr_sectors }
    }

    /// Records a failed I/O or flush of the disk (shown as `disk-error` in the tree).
    pub(crate) fn note_error(&self, e: Error) {
        self.error.store(e.to_errno(), Ordering::Release);
    }

    /// The disk took writes again: its last error is over.
    pub(crate) fn clear_error(&self) {
        self.error.store(0, Ordering::Release);
    }

    /// Errno of the disk's last failed I/O, negative (0: none since it last worked).
    pub(crate) fn error(&self) -> i32 {
        self.error.load(Ordering::Acquire)
    }

    /// The device's queue limits, to be inherited by a device stacked on it.
    pub(super) fn limits(&self) -> sys::queue_limits {
        // SAFETY: an open block device has a disk with a live queue; the limits are plain
        // data, copied under no lock as stacking drivers do at setup time.
        unsafe { (*(*(*self.raw()).bd_disk).queue).limits }
    }
}

impl Drop for BlockDevice {
    fn drop(&mut self) {
        // SAFETY: the file is an open bdev file (type invariant), released once here.
        unsafe { sys::bdev_fput(self.file.as_ptr()) };
    }
}
