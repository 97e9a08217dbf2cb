// SPDX-License-Identifier: GPL-2.0

//! A bio-based block device `/dev/mars/<name>` (C: `__blk_alloc_disk`,
//! `device_add_disk`, `del_gendisk`), as stacking drivers like DRBD and md are: every
//! bio is handed, as a [`Bio`], to a [`BioHandler`] that completes it, passes it to the
//! underlying disk, or queues it (the transaction logger).

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use super::sys;
use kernel::error::{from_err_ptr, to_result};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::new_spinlock;
use kernel::sync::{Arc, SpinLock};
use kernel::types::ForeignOwnable;

use super::bdev::BlockDevice;

/// Operation of a bio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BioOp {
    /// Read data.
    Read,
    /// Write data (a write with no data and the preflush flag is a flush).
    Write,
    /// Discard a range.
    Discard,
    /// Anything else (write zeroes, zone operations, ...): refused.
    Other,
}

/// How a bio ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BioStatus {
    /// Done.
    Ok,
    /// The operation is not supported by this device.
    NotSupported,
    /// The data could not be read or written.
    IoError,
}

/// What the bios of one device did, counted where each starts and ends (for `marsadm
/// view`'s LocalDevice line: IOPS, requests in flight, hanging ones). The I/O path only
/// counts (no clock is read there); [`IoStats::sample`] makes the figures once a round.
pub(crate) struct IoStats {
    submitted: AtomicU64,
    /// Ended, or passed on to the disk below (which completes them itself).
    ended: AtomicU64,
    /// Bytes of the bios ended or passed on.
    bytes: AtomicU64,
    /// The sampler's: `ended`, `submitted`, `bytes` at the last sample, its real time,
    /// and the real time of the last sample that saw an end or none in flight.
    last_ended: AtomicU64,
    last_submitted: AtomicU64,
    last_bytes: AtomicU64,
    last_ns: AtomicU64,
    progress_ns: AtomicU64,
}

/// What [`IoStats::sample`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoSample {
    /// Bios per second and bytes per second since the sample before.
    pub(crate) ops_rate: u64,
    pub(crate) bytes_rate: u64,
    /// Bios the device holds (received, not ended nor passed on).
    pub(crate) flying: u64,
    /// Real time (ns) since which the oldest of them waits at most (to the sampling's
    /// granularity): the last sample that saw one end, or none in flight.
    pub(crate) progress_ns: u64,
}

impl IoStats {
    fn new() -> IoStats {
        let now = super::time::real_ns();
        let zero = || AtomicU64::new(0);
        IoStats {
            submitted: zero(),
            ended: zero(),
            bytes: zero(),
            last_ended: zero(),
            last_submitted: zero(),
            last_bytes: zero(),
            last_ns: AtomicU64::new(now),
            progress_ns: AtomicU64::new(now),
        }
    }

    fn started(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    fn ended(&self, bytes: u32) {
        self.bytes.fetch_add(u64::from(bytes), Ordering::Relaxed);
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    /// The figures since the last call (one caller: the strategy's report, each round).
    pub(crate) fn sample(&self) -> IoSample {
        let now = super::time::real_ns();
        let ended = self.ended.load(Ordering::Relaxed);
        let (submitted, bytes) = (self.submitted.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed));
        let flying = submitted.saturating_sub(ended);
        if flying == 0 || self.last_ended.swap(ended, Ordering::Relaxed) != ended {
            self.progress_ns.store(now, Ordering::Relaxed);
        }
        let ops = submitted.saturating_sub(self.last_submitted.swap(submitted, Ordering::Relaxed));
        let amount = bytes.saturating_sub(self.last_bytes.swap(bytes, Ordering::Relaxed));
        // Per millisecond first: no 128-bit division in the kernel.
        let ms = (now.saturating_sub(self.last_ns.swap(now, Ordering::Relaxed)) / 1_000_000).max(1);
        IoSample { ops_rate: ops.saturating_mul(1000) / ms, bytes_rate: amount.saturating_mul(1000) / ms, flying, progress_ns: self.progress_ns.load(Ordering::Relaxed) }
    }
}

/// A bio submitted to a MARS device. It must be ended exactly once: by [`Bio::end`], by
/// [`Bio::split_to_limits`] (which may end it), or else on drop, with an I/O error (a bug,
/// but never a hang).
///
/// # Invariants
///
/// `ptr` is a bio we received from the block layer and have not ended or passed on.
/// `stats` is its device's, counted as started; taken when the bio ends or is passed on.
pub(crate) struct Bio {
    ptr: NonNull<sys::bio>,
    stats: Option<Arc<IoStats>>,
}

// SAFETY: a bio may be completed or resubmitted from any thread (logger, writeback).
unsafe impl Send for Bio {}

impl Bio {
    fn opf(&self) -> u32 {
        // SAFETY: the bio is alive (type invariant); `bi_opf` is plain data.
        unsafe { (*self.ptr.as_ptr()).bi_opf }
    }

    /// The operation.
    pub(crate) fn op(&self) -> BioOp {
        let op = self.opf() & sys::REQ_OP_MASK;
        match op {
            sys::req_op_REQ_OP_READ => BioOp::Read,
            sys::req_op_REQ_OP_WRITE => BioOp::Write,
            sys::req_op_REQ_OP_DISCARD => BioOp::Discard,
            _ => BioOp::Other,
        }
    }

    /// The request asks for a cache flush before it (REQ_PREFLUSH).
    pub(crate) fn is_preflush(&self) -> bool {
        self.opf() & sys::REQ_PREFLUSH != 0
    }

    /// The write must be durable when it completes (REQ_FUA).
    pub(crate) fn is_fua(&self) -> bool {
        self.opf() & sys::REQ_FUA != 0
    }

    /// The submitter waits for this request (REQ_SYNC).
    pub(crate) fn is_sync(&self) -> bool {
        self.opf() & sys::REQ_SYNC != 0
    }

    /// First byte on the device.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: the bio is alive (type invariant).
        unsafe { (*self.ptr.as_ptr()).bi_iter.bi_sector << 9 }
    }

    /// Number of bytes.
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: the bio is alive (type invariant).
        unsafe { (*self.ptr.as_ptr()).bi_iter.bi_size }
    }

    /// Makes `buf` hold exactly the bio's data, replacing what it held; its capacity
    /// must be enough already (no allocation, and no zero fill before the copy).
    pub(crate) fn copy_into(&self, buf: &mut KVVec<u8>) -> Result {
        let len = self.len() as usize;
        if buf.capacity() < len {
            return Err(EINVAL);
        }
        // SAFETY: the bio is alive; the vector's allocation has room for at least the
        // bio's bytes (checked above).
        unsafe { sys::mars_bio_copy_to_buf(self.ptr.as_ptr(), buf.as_mut_ptr().cast()) };
        // SAFETY: the copy initialised the first `len` bytes, which fit in the capacity.
        unsafe { super::compat::set_len(buf, len) };
        Ok(())
    }

    /// Fills the bio's data pages from `buf`, which must be exactly [`Bio::len`] bytes.
    pub(crate) fn copy_from(&mut self, buf: &[u8]) -> Result {
        if buf.len() != self.len() as usize {
            return Err(EINVAL);
        }
        // SAFETY: the bio is alive; `buf` holds exactly the bio's bytes.
        unsafe { sys::mars_bio_copy_from_buf(self.ptr.as_ptr(), buf.as_ptr().cast()) };
        Ok(())
    }

    /// Passes the bio on to `lower`, unchanged (same position and data): the lower disk
    /// completes it. Used for reads that no buffered write overlaps.
    pub(crate) fn remap_to(mut self, lower: &BlockDevice) {
        self.count_end();
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        // SAFETY: we own the bio (consumed here). `lower` is open; its completion goes
        // straight to the submitter and never touches our structures, so it may still be
        // in flight after our device and `lower` are closed (the disk stays present).
        unsafe {
            sys::mars_bio_set_dev(ptr, lower.raw());
            sys::submit_bio_noacct(ptr);
        }
    }

    /// Completes the bio with `status`.
    pub(crate) fn end(mut self, status: BioStatus) {
        self.count_end();
        let status = match status {
            BioStatus::Ok => sys::BLK_STS_OK as sys::blk_status_t,
            BioStatus::NotSupported => sys::BLK_STS_NOTSUPP,
            BioStatus::IoError => sys::BLK_STS_IOERR,
        };
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        // SAFETY: we own the bio (type invariant, consumed here); it is ended once.
        unsafe {
            (*ptr).bi_status = status;
            sys::bio_endio(ptr);
        }
    }

    /// Splits off what exceeds the device's limits (the rest is resubmitted by the
    /// block layer); `None` if the bio was invalid and has been ended already.
    pub(crate) fn split_to_limits(mut self) -> Option<Bio> {
        let (ptr, stats) = (self.ptr.as_ptr(), self.stats.take());
        core::mem::forget(self);
        // SAFETY: we own the bio (consumed here); bio_split_to_limits returns the part to
        // handle now (owned by us), or NULL after ending the bio itself. The rest, if
        // split off, comes back through `submit_bio` as a bio of its own.
        let part = unsafe { sys::bio_split_to_limits(ptr) };
        match NonNull::new(part) {
            // INVARIANT: a bio handed to us, not yet ended, counted as started.
            Some(ptr) => Some(Bio { ptr, stats }),
            None => {
                if let Some(s) = stats {
                    s.ended(0);
                }
                None
            }
        }
    }

    fn count_end(&mut self) {
        if let Some(s) = self.stats.take() {
            s.ended(self.len());
        }
    }
}

impl Drop for Bio {
    fn drop(&mut self) {
        self.count_end();
        pr_err!("bio dropped without completion: failing it\n");
        // SAFETY: not ended yet (type invariant; `end` and `split_to_limits` forget `self`).
        unsafe {
            (*self.ptr.as_ptr()).bi_status = sys::BLK_STS_IOERR;
            sys::bio_endio(self.ptr.as_ptr());
        }
    }
}

/// What a MARS device does with its bios.
pub(crate) trait BioHandler: Send + Sync + 'static {
    /// Takes a bio submitted to the device; called in the submitter's context (may
    /// sleep, must not block for long).
    fn submit(&self, bio: Bio);

    /// Called after an opener closed the device (its open count is already lower).
    fn released(&self) {}
}

/// What a gendisk's `fops` and `private_data` point to. It lives until the gendisk's last
/// reference goes (`free_disk`), not only until [`Disk`] is dropped: an opener that got
/// the device just before `del_gendisk` closes it later, and its `release` (and the
/// block layer's `module_put(fops->owner)`) still read `fops` then (C drivers such as
/// loop and nbd free their private data in `free_disk` for the same reason).
#[pin_data]
struct Shared<T: BioHandler> {
    fops: sys::block_device_operations,
    /// The handler while the device exists; taken when it is removed, so that a late
    /// release neither reaches a resource that is gone nor keeps its disk open.
    #[pin]
    handler: SpinLock<Option<Arc<T>>>,
    stats: Arc<IoStats>,
}

// SAFETY: `fops` is written once before the disk is added and only read afterwards (by
// the block layer, from any thread); the handler is behind a lock and `T` is Send + Sync.
unsafe impl<T: BioHandler> Send for Shared<T> {}
// SAFETY: as for Send.
unsafe impl<T: BioHandler> Sync for Shared<T> {}

/// The handler of `disk`, one of ours, if the device has not been removed yet.
///
/// # Safety
///
/// `disk` is a gendisk made by [`Disk::new`] whose last reference has not gone.
unsafe fn handler_of<T: BioHandler>(disk: *mut sys::gendisk) -> Option<Arc<T>> {
    // SAFETY: as the caller guarantees.
    unsafe { handler_and_stats_of::<T>(disk) }.0
}

/// [`handler_of`], and the disk's [`IoStats`].
///
/// # Safety
///
/// As for [`handler_of`].
unsafe fn handler_and_stats_of<T: BioHandler>(disk: *mut sys::gendisk) -> (Option<Arc<T>>, Arc<IoStats>) {
    // SAFETY: `private_data` of our disks holds a reference of an `Arc<Shared<T>>` (made by
    // `into_foreign` in `Disk::new`), released only in `free_disk_callback`, i.e. after
    // the disk's last reference went; the caller guarantees that has not happened.
    let shared = unsafe { <Arc<Shared<T>> as ForeignOwnable>::borrow((*disk).private_data) };
    let handler = shared.handler.lock().clone();
    (handler, shared.stats.clone())
}

/// The block layer's `release` of one of our disks.
///
/// # Safety
///
/// `disk` is a gendisk made by [`Disk::new`] for handler type `T`, held by the closing opener.
unsafe extern "C" fn release_callback<T: BioHandler>(disk: *mut sys::gendisk) {
    // SAFETY: the block layer passes one of our disks, which the closing opener still
    // holds a reference of.
    if let Some(handler) = unsafe { handler_of::<T>(disk) } {
        handler.released();
    }
}

/// The block layer's `free_disk` of one of our disks.
///
/// # Safety
///
/// `disk` is a gendisk made by [`Disk::new`] for handler type `T` and added; called once,
/// when its last reference went.
unsafe extern "C" fn free_disk_callback<T: BioHandler>(disk: *mut sys::gendisk) {
    // SAFETY: called once, when the last reference of one of our (added) disks went;
    // nothing reads `private_data` or `fops` after this callback returns (the block layer
    // frees the gendisk next), so the `Arc<Shared<T>>` reference stored there by
    // `Disk::new` is given back here.
    drop(unsafe { <Arc<Shared<T>> as ForeignOwnable>::from_foreign((*disk).private_data) });
}

/// The block layer's `submit_bio` of one of our disks.
///
/// # Safety
///
/// `bio` is a valid bio, not yet ended, of a gendisk made by [`Disk::new`] for handler
/// type `T`.
unsafe extern "C" fn submit_bio_callback<T: BioHandler>(bio: *mut sys::bio) {
    // SAFETY: the block layer passes a valid, non-null bio of one of our disks, which
    // is alive while the bio is submitted.
    let (disk, bio) = unsafe { ((*(*bio).bi_bdev).bd_disk, NonNull::new_unchecked(bio)) };
    // SAFETY: one of our disks, referenced by the bio. `del_gendisk` waits for running
    // `submit_bio` calls before `Disk::drop` takes the handler, so it is there; if not,
    // the bio fails (dropping a `Bio` ends it with an I/O error).
    let (handler, stats) = unsafe { handler_and_stats_of::<T>(disk) };
    stats.started();
    // INVARIANT: a bio received from the block layer, not yet ended, counted as started.
    let bio = Bio { ptr: bio, stats: Some(stats) };
    if let Some(handler) = handler {
        handler.submit(bio);
    }
}

/// A MARS device, removed on drop.
///
/// # Invariants
///
/// `gendisk` was allocated by `__blk_alloc_disk` and added with `device_add_disk`; its
/// `fops` points to `shared.fops`, its `private_data` holds a reference of `shared`
/// (converted by `into_foreign`), given back by `free_disk_callback`.
pub(crate) struct Disk<T: BioHandler> {
    gendisk: NonNull<sys::gendisk>,
    shared: Arc<Shared<T>>,
}

// SAFETY: the gendisk may be removed from any thread; `T` is Send + Sync.
unsafe impl<T: BioHandler> Send for Disk<T> {}
// SAFETY: `&self` methods only read counters.
unsafe impl<T: BioHandler> Sync for Disk<T> {}

impl<T: BioHandler> Disk<T> {
    /// Creates `/dev/<name>` (e.g. `mars/r0`) of `sectors` sectors, stacked on `lower`
    /// (its block sizes and transfer limits are inherited), sending bios to `handler`.
    pub(crate) fn new(name: &CStr, sectors: u64, lower: &BlockDevice, handler: Arc<T>, module: &'static ThisModule) -> Result<Self> {
        let bytes = name.to_bytes_with_nul();
        let lower_lim = lower.limits();
        // SAFETY: all fields of `queue_limits` are valid when zeroed.
        let mut lim: sys::queue_limits = unsafe { core::mem::zeroed() };
        lim.logical_block_size = lower_lim.logical_block_size;
        lim.physical_block_size = lower_lim.physical_block_size;
        lim.io_min = lower_lim.io_min;
        lim.io_opt = lower_lim.io_opt;
        // Requests are copied into kernel buffers: keep them moderate (256 KiB).
        lim.max_hw_sectors = lower_lim.max_hw_sectors.min(512);
        // We complete flushes and FUA writes honestly, so let filesystems send them.
        lim.features = sys::BLK_FEAT_WRITE_CACHE | sys::BLK_FEAT_FUA;

        let fops = sys::block_device_operations {
            submit_bio: Some(submit_bio_callback::<T>),
            release: Some(release_callback::<T>),
            free_disk: Some(free_disk_callback::<T>),
            // Holding the module while the device is open: rmmod is refused then.
            owner: module.as_ptr(),
            // SAFETY: the remaining fields are optional callbacks and pointers, for
            // which zero (None / null) means "not provided".
            ..unsafe { core::mem::zeroed() }
        };
        let stats = Arc::new(IoStats::new(), GFP_KERNEL)?;
        let shared = Arc::pin_init(
            pin_init!(Shared { fops, handler <- new_spinlock!(Some(handler), "mars_disk_handler"), stats }),
            GFP_KERNEL,
        )?;

        let key = super::compat::static_key(kernel::static_lock_class!());
        // SAFETY: `lim` is initialised. `LockClassKey` is `repr(transparent)` over the C
        // `lock_class_key` (via `Opaque`), so the pointer cast is valid; the key is static.
        let gendisk = from_err_ptr(unsafe {
            sys::__blk_alloc_disk(
                &mut lim,
                sys::NUMA_NO_NODE,
                (key as *const kernel::sync::LockClassKey).cast_mut().cast(),
            )
        })?;
        let gendisk = NonNull::new(gendisk).ok_or(ENOMEM)?;
        let g = gendisk.as_ptr();
        // SAFETY: `g` is a new, not yet added gendisk we exclusively own. The name fits
        // (checked) into `disk_name`. `fops` lives in `shared`, which `private_data` keeps
        // alive until `free_disk` (or, if adding fails, which is given back here).
        unsafe {
            if bytes.len() > (*g).disk_name.len() {
                sys::put_disk(g);
                return Err(EINVAL);
            }
            for (dst, src) in (*g).disk_name.iter_mut().zip(bytes) {
                *dst = *src as _;
            }
            // major 0 and no minors: the block layer assigns a dynamic device number.
            // No partition scanning: the device carries a filesystem, not a table.
            (*g).minors = 0;
            (*g).flags |= sys::GENHD_FL_NO_PART as i32;
            (*g).fops = &shared.fops;
            (*g).private_data = shared.clone().into_foreign() as *mut c_void;
            sys::set_capacity(g, sectors);
            let ret = sys::device_add_disk(core::ptr::null_mut(), g, core::ptr::null_mut());
            if let Err(e) = to_result(ret) {
                // Not added: `free_disk` is not called, `put_disk` frees the disk.
                let private = (*g).private_data;
                sys::put_disk(g);
                drop(<Arc<Shared<T>> as ForeignOwnable>::from_foreign(private));
                return Err(e);
            }
        }
        // INVARIANT: allocated, set up and added as documented.
        Ok(Disk { gendisk, shared })
    }

    /// How many times the device is open right now.
    pub(crate) fn open_count(&self) -> i32 {
        // SAFETY: the disk is added (type invariant), so `part0` is valid; `bd_openers`
        // is an atomic counter read without a lock, as `disk_openers()` does.
        unsafe { (*(*self.gendisk.as_ptr()).part0).bd_openers.counter }
    }

    /// What the device's bios did.
    pub(crate) fn io_stats(&self) -> &IoStats {
        &self.shared.stats
    }

    /// The device's size in 512-byte sectors (C: `get_capacity`).
    pub(crate) fn sectors(&self) -> u64 {
        // SAFETY: the disk is added (type invariant), so `part0` is valid; `bd_nr_sectors`
        // is a plain field, read without a lock as `get_capacity()` does.
        unsafe { (*(*self.gendisk.as_ptr()).part0).bd_nr_sectors }
    }

    /// Sets the device's size to `sectors` while it is in use, and tells userspace (a
    /// "RESIZE=1" change uevent), as a disk whose capacity changed does (C:
    /// `set_capacity_and_notify`). Bios beyond the old end were refused by the block layer
    /// before; from now on they reach the handler.
    pub(crate) fn set_sectors(&mut self, sectors: u64) {
        // SAFETY: the disk is added and not deleted yet (type invariant: `del_gendisk` runs
        // only in drop). `set_capacity_and_notify` takes the size lock itself and may be
        // called on a live disk with bios in flight, as drivers do on a capacity change.
        unsafe { sys::set_capacity_and_notify(self.gendisk.as_ptr(), sectors) };
    }
}

impl<T: BioHandler> Drop for Disk<T> {
    fn drop(&mut self) {
        let g = self.gendisk.as_ptr();
        // SAFETY: the disk was added (type invariant). `del_gendisk` removes it (no new
        // opener gets it) and waits until no `submit_bio` call runs any more; an opener
        // that has it open keeps its own reference, so `put_disk` may leave the disk (and
        // `shared`) to `free_disk` at that opener's last close.
        unsafe { sys::del_gendisk(g) };
        // From now on a late release finds no handler (and holds no resource open).
        let handler = self.shared.handler.lock().take();
        drop(handler);
        // SAFETY: our reference from `__blk_alloc_disk`, put once.
        unsafe { sys::put_disk(g) };
    }
}
