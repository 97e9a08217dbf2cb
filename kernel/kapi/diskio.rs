// SPDX-License-Identifier: GPL-2.0

//! Direct I/O between kernel buffers and a block device with our own bios (C:
//! `bio_alloc_bioset`, `bio_add_page`, `submit_bio`, `blkdev_issue_flush`), bypassing the
//! device's page cache: writeback, recovery and the reads that need the disk all go this
//! way, so the page cache never holds a stale copy we would read back.
//!
//! I/O is issued in batches: [`BlockDevice::io`] hands a [`IoBatch`] to a closure that
//! queues reads and writes (all submitted at once, under a plug so the block layer merges
//! adjacent ones), and returns only after every one of them has completed. Buffers are
//! borrowed for the whole call, so none can be freed or reused while the disk uses it.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use super::sys;
use kernel::error::to_result;
use crate::kapi::compat::prelude::*;
use kernel::types::Opaque;

use super::bdev::BlockDevice;

/// Sector size of bio addressing; buffers and positions must be multiples of it.
const SECTOR: usize = 512;
/// Pages one bio carries at most (C: BIO_MAX_VECS).
const MAX_VECS: usize = 256;
const PAGE: usize = sys::PAGE_SIZE;

/// Completion state shared with the bios of one batch.
struct Waiter {
    done: Opaque<sys::completion>,
    /// Bios in flight, plus one held by the batch itself until it waits.
    pending: AtomicU32,
    failed: AtomicBool,
}

/// Reads and writes queued for one [`BlockDevice::io`] call. `'a` is the lifetime of the
/// buffers: they stay borrowed until every bio has completed.
pub(crate) struct IoBatch<'a> {
    bdev: *mut sys::block_device,
    waiter: *const Waiter,
    _buffers: PhantomData<&'a mut [u8]>,
}

unsafe extern "C" fn end_io(bio: *mut sys::bio) {
    // SAFETY: this is the `bi_end_io` of bios made by `IoBatch::submit`, whose
    // `bi_private` is the batch's `Waiter`; `BlockDevice::io` keeps the waiter alive until
    // `pending` drops to zero and the completion is signalled, which happens below, after
    // the last access to the bio. The bio is ours to put.
    unsafe {
        let waiter = (*bio).bi_private as *const Waiter;
        if (*bio).bi_status != sys::BLK_STS_OK as sys::blk_status_t {
            (*waiter).failed.store(true, Ordering::Relaxed);
        }
        sys::bio_put(bio);
        if (*waiter).pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            sys::complete((*waiter).done.get());
        }
    }
}

impl<'a> IoBatch<'a> {
    /// Writes `buf` at byte `pos` of the disk.
    pub(crate) fn write(&mut self, pos: u64, buf: &'a [u8]) -> Result {
        self.submit(sys::req_op_REQ_OP_WRITE, pos, buf.as_ptr().cast_mut(), buf.len())
    }

    /// Reads `buf.len()` bytes at byte `pos` of the disk into `buf`.
    pub(crate) fn read(&mut self, pos: u64, buf: &'a mut [u8]) -> Result {
        self.submit(sys::req_op_REQ_OP_READ, pos, buf.as_mut_ptr(), buf.len())
    }

    fn submit(&mut self, op: sys::blk_opf_t, pos: u64, ptr: *mut u8, len: usize) -> Result {
        if pos % SECTOR as u64 != 0 || len % SECTOR != 0 || (ptr as usize) % SECTOR != 0 {
            return Err(EINVAL);
        }
        let mut done = 0usize;
        while done < len {
            let first_page = (ptr as usize + done) / PAGE;
            let last_page = (ptr as usize + len - 1) / PAGE;
            let vecs = (last_page - first_page + 1).min(MAX_VECS);
            // SAFETY: `bdev` is open for the whole batch (`BlockDevice::io` borrows it);
            // `fs_bio_set` is the kernel's general bio set. Allocation may sleep; we are
            // not inside a `submit_bio` of our own device (batches run in our threads).
            let bio = unsafe {
                sys::bio_alloc_bioset(self.bdev, vecs as u16, op, sys::GFP_NOIO, &raw mut sys::fs_bio_set)
            };
            if bio.is_null() {
                return Err(ENOMEM);
            }
            let start = done;
            while done < len {
                // SAFETY: `ptr + done` lies inside the caller's buffer of `len` bytes.
                let addr = unsafe { ptr.add(done) };
                let offset = addr as usize % PAGE;
                let n = (PAGE - offset).min(len - done);
                // SAFETY: `addr` is a kernel address of a kmalloc'ed or vmalloc'ed buffer
                // (our only buffers); the helper maps either kind to its page, which
                // stays allocated while the buffer is borrowed ('a). On x86 DMA is cache
                // coherent, so vmalloc'ed buffers need no extra cache maintenance.
                let added = unsafe {
                    let page = sys::mars_addr_to_page(addr.cast());
                    sys::bio_add_page(bio, page, n as u32, offset as u32)
                };
                if added as usize != n {
                    break;
                }
                done += n;
            }
            if done == start {
                // SAFETY: the bio is ours and was never submitted.
                unsafe { sys::bio_put(bio) };
                return Err(EIO);
            }
            // SAFETY: the bio is ours; it is set up and handed to the block layer, which
            // calls `end_io` exactly once. `pending` counts it before it can complete.
            unsafe {
                (*bio).bi_iter.bi_sector = (pos + start as u64) / SECTOR as u64;
                (*bio).bi_end_io = Some(end_io);
                (*bio).bi_private = self.waiter.cast_mut().cast();
                (*self.waiter).pending.fetch_add(1, Ordering::AcqRel);
                sys::submit_bio(bio);
            }
        }
        Ok(())
    }
}

impl BlockDevice {
    /// Runs `queue`, which queues reads and writes of buffers living at least as long as
    /// this call, and waits until all of them have completed. Returns the first error
    /// of `queue`, else `EIO` if any I/O failed.
    pub(crate) fn io<'a>(&self, queue: impl FnOnce(&mut IoBatch<'a>) -> Result) -> Result {
        self.io_while(queue, || ())
    }

    /// [`BlockDevice::io`] that runs `meanwhile` after submitting the queued I/O and
    /// before waiting for it, so that CPU work overlaps the disk's (`meanwhile` must not
    /// touch the buffers of the batch; they are borrowed). `meanwhile` is not run if
    /// `queue` failed.
    pub(crate) fn io_while<'a, R>(&self, queue: impl FnOnce(&mut IoBatch<'a>) -> Result, meanwhile: impl FnOnce() -> R) -> Result<R> {
        let waiter = KBox::new(
            Waiter { done: Opaque::uninit(), pending: AtomicU32::new(1), failed: AtomicBool::new(false) },
            GFP_KERNEL,
        )?;
        // SAFETY: the completion lives in a heap allocation that does not move and is
        // initialised before any bio can refer to it.
        unsafe { sys::mars_init_completion(waiter.done.get()) };
        let mut batch = IoBatch { bdev: self.raw(), waiter: &*waiter, _buffers: PhantomData };
        // SAFETY: an all-zero plug is valid input for `blk_start_plug`, which initialises
        // it; it stays on this stack frame until `blk_finish_plug` below.
        let mut plug: sys::blk_plug = unsafe { core::mem::zeroed() };
        // SAFETY: `plug` is valid for the duration of the plugged section.
        unsafe { sys::blk_start_plug(&mut plug) };
        let queued = queue(&mut batch);
        // SAFETY: ends the plug started above (submits what it holds).
        unsafe { sys::blk_finish_plug(&mut plug) };
        let result = queued.is_ok().then(meanwhile);
        if waiter.pending.fetch_sub(1, Ordering::AcqRel) != 1 {
            // SAFETY: bios are in flight; the last one to complete signals the
            // completion, after which no bio touches the waiter again.
            unsafe { sys::wait_for_completion_io(waiter.done.get()) };
        }
        queued?;
        if waiter.failed.load(Ordering::Relaxed) {
            self.note_error(EIO);
            return Err(EIO);
        }
        result.ok_or(EINVAL)
    }

    /// Flushes the disk's volatile write cache: everything completed before is durable.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: the device is open (type invariant of `BlockDevice`).
        let r = to_result(unsafe { sys::blkdev_issue_flush(self.raw()) });
        if let Err(e) = r {
            self.note_error(e);
        }
        r
    }
}
