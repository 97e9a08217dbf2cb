// SPDX-License-Identifier: GPL-2.0

//! Reads on a primary's device return the newest data: what the disk holds, overlaid
//! with the buffered writes not yet written back (oldest first, so the newest wins).
//!
//! Most reads overlap no buffered write and go straight to the disk (the bio is passed
//! on). A read entirely covered by buffered data is served from RAM at once. The rest
//! need the disk and the buffer: the `mars_reader` thread reads the disk, then overlays
//! the buffered writes it was given — all of which were collected before the disk read
//! started, so a write that reaches the disk meanwhile is still overlaid, and one that
//! left the buffer before was on the disk already.

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::sync::Arc;

use crate::primary::buffer::Pending;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::gendisk::{Bio, BioStatus};
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::mars_core::writeback::overlap;
use crate::primary::ring::Queue;
use crate::tunables::READS_FROM_BUFFER;

/// Reads waiting for the reader thread at most (submitters wait beyond).
const READ_SLOTS: usize = 256;

/// A read that needs the disk and buffered writes (oldest first).
struct ReadJob {
    bio: Bio,
    overlays: KVec<Arc<Pending>>,
}

/// The reads waiting for the reader thread.
pub(crate) struct ReadQueue {
    jobs: Arc<Queue<ReadJob>>,
}

impl ReadQueue {
    /// Serves `bio` given the buffered writes overlapping it, oldest first.
    pub(crate) fn read(&self, bio: Bio, overlays: KVec<Arc<Pending>>, lower: &BlockDevice) {
        if overlays.is_empty() {
            return bio.remap_to(lower);
        }
        let (pos, len) = (bio.pos(), bio.len() as u64);
        // The newest write covering the whole range makes the disk's data irrelevant.
        if let Some(i) = overlays.iter().rposition(|e| e.pos <= pos && e.pos + e.data.len() as u64 >= pos + len) {
            return complete(bio, None, &overlays[i..]);
        }
        if let Err(job) = self.jobs.push(ReadJob { bio, overlays }) {
            job.bio.end(BioStatus::IoError);
        }
    }
}

/// Fills `bio` from `disk` (its data at the bio's position, if any) overlaid with
/// `overlays` in order, and completes it.
fn complete(mut bio: Bio, disk: Option<KVVec<u8>>, overlays: &[Arc<Pending>]) {
    READS_FROM_BUFFER.fetch_add(1, Ordering::Relaxed);
    let (pos, len) = (bio.pos(), bio.len() as usize);
    let buf = match disk {
        Some(b) => Ok(b),
        None => KVVec::from_elem(0u8, len, GFP_KERNEL),
    };
    let Ok(mut buf) = buf else {
        return bio.end(BioStatus::IoError);
    };
    for e in overlays {
        if let Some((src, dst, n)) = overlap(pos, len as u64, e.pos, e.data.len() as u64) {
            buf[dst..dst + n].copy_from_slice(&e.data[src..src + n]);
        }
    }
    let status = if bio.copy_from(&buf).is_ok() { BioStatus::Ok } else { BioStatus::IoError };
    bio.end(status);
}

/// The reader thread of a primary; finishes queued reads and stops when dropped.
pub(crate) struct Reader {
    pub(crate) queue: Arc<ReadQueue>,
    _thread: Thread,
}

impl Reader {
    pub(crate) fn start(lower: Arc<BlockDevice>) -> Result<Reader> {
        let jobs = Queue::new(READ_SLOTS)?;
        let queue = Arc::new(ReadQueue { jobs: jobs.clone() }, GFP_KERNEL)?;
        let thread = Thread::spawn(kernel::c_str!("mars_reader"), move || {
            let _noio = NoIoScope::enter();
            loop {
                let Some(job) = jobs.pop_wait(1000) else {
                    if thread::should_stop() && jobs.is_empty() {
                        break;
                    }
                    continue;
                };
                let disk = KVVec::from_elem(0u8, job.bio.len() as usize, GFP_KERNEL).map_err(|_| ENOMEM).and_then(|mut buf| {
                    lower.io(|batch| batch.read(job.bio.pos(), &mut buf))?;
                    Ok(buf)
                });
                match disk {
                    Ok(buf) => complete(job.bio, Some(buf), &job.overlays),
                    Err(_) => job.bio.end(BioStatus::IoError),
                }
            }
        })?;
        Ok(Reader { queue, _thread: thread })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // No new reads (the device is gone); the thread serves what is queued and stops.
        self.queue.jobs.close();
    }
}
