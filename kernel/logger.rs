// SPDX-License-Identifier: GPL-2.0

//! The transaction logger of a primary (design reference §1.5, docu/data-path.md).
//!
//! A primary's data path is three threads around the [`WriteBuffer`]:
//! - `mars_logger` (here) takes queued writes in batches, encodes one record per write
//!   (shared codec, CRC32C, Lamport stamp, sequence number), appends the batch to the
//!   logfile with one write, fdatasyncs it if a request needs durability, completes the
//!   requests waiting for that, and marks the batch logged;
//! - `mars_writeback` (`writeback`) writes logged writes to the disk, sorted, and records
//!   the progress in `replay-<me>`;
//! - `mars_reader` (`reader`) serves reads that need both the disk and buffered data.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;

use crate::buffer::{Request, WriteBuffer, QUEUE_SLOTS};
use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::File;
use crate::kapi::gendisk::BioStatus;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::mars_core::log_record::{encode_record, RecordHeader, RecordKind};
use crate::reader::Reader;
use crate::ring::Ring;
use crate::strategy::Main;
use crate::tunables;
use crate::writeback;

/// Size of the buffer one batch of records is encoded into.
const LOG_BUFFER: usize = 4 << 20;

/// The current logfile, shared by the logger (appends) and the writeback (syncs it
/// before writing data back, and names it in the replay link).
pub(crate) struct Log {
    /// The open logfile.
    pub(crate) file: File,
    /// Its number (`log-<nr>-<me>`).
    pub(crate) nr: u32,
    /// Resource directory, for the replay link.
    pub(crate) dir: CString,
    /// This host.
    pub(crate) me: KVec<u8>,
    /// The logfile is durable up to here.
    pub(crate) durable: AtomicU64,
}

impl Log {
    /// Makes the logfile durable at least up to `pos` (its size when the caller looked).
    pub(crate) fn sync_to(&self, pos: u64) -> Result {
        if self.durable.load(Ordering::Acquire) >= pos {
            return Ok(());
        }
        self.file.sync(true)?;
        self.durable.fetch_max(pos, Ordering::AcqRel);
        Ok(())
    }
}

/// Where the logger appends: the log, its size, the next record's sequence number.
pub(crate) struct LogTarget {
    pub(crate) log: Arc<Log>,
    pub(crate) pos: u64,
    pub(crate) next_seq: u64,
}

/// A running data path: its threads finish what is buffered and stop when dropped
/// (fields drop in order: the logger first, then the writeback, then the reader).
pub(crate) struct Logger {
    buffer: Arc<WriteBuffer>,
    _logger: Thread,
    _writeback: Thread,
    _reader: Reader,
}

impl Logger {
    /// Starts the threads of a primary's data path.
    pub(crate) fn start(main: Arc<Main>, buffer: Arc<WriteBuffer>, reader: Reader, lower: Arc<BlockDevice>, target: LogTarget) -> Result<Logger> {
        let mut batch = Ring::new(QUEUE_SLOTS)?;
        let mut buf = KVec::from_elem(0u8, LOG_BUFFER, GFP_KERNEL)?;
        let writeback = writeback::start(main.clone(), buffer.clone(), lower, target.log.clone(), target.pos)?;
        let b = buffer.clone();
        let logger = Thread::spawn(kernel::c_str!("mars_logger"), move || {
            // The logger is on the I/O path of the device for its whole life.
            let _noio = NoIoScope::enter();
            let mut target = target;
            loop {
                if b.take(&mut batch) > 0 {
                    log_batch(&main, &b, &mut target, &mut batch, &mut buf);
                } else if thread::should_stop() && b.queue_is_empty() {
                    break;
                }
            }
        })?;
        Ok(Logger { buffer, _logger: logger, _writeback: writeback, _reader: reader })
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        // New requests fail from now on; the threads drain what is buffered, then stop.
        self.buffer.stop();
    }
}

/// Logs one batch, completes the requests that waited for it, marks it logged; leaves
/// `batch` empty.
fn log_batch(main: &Main, b: &WriteBuffer, t: &mut LogTarget, batch: &mut Ring<Request>, buf: &mut KVec<u8>) {
    let mut ok = true;
    let mut durable = false;
    let mut used = 0usize;
    let mut last_order = None;
    let digest = tunables::log_digest();
    for req in batch.iter() {
        match req {
            Request::Write { entry, durable: d, .. } => {
                durable |= *d;
                last_order = Some(entry.order);
                let header = RecordHeader {
                    seq: t.next_seq,
                    stamp_ns: main.clock.stamp(),
                    pos: entry.pos,
                    data_len: entry.data.len() as u32,
                    kind: RecordKind::Write,
                    checksum: digest,
                };
                let len = header.record_len();
                if used + len > buf.len() {
                    ok &= append(t, &buf[..used]);
                    used = 0;
                }
                match encode_record(&header, &entry.data, &main.digests, &mut buf[used..used + len]) {
                    Ok(()) => {
                        used += len;
                        t.next_seq += 1;
                    }
                    Err(e) => {
                        pr_err!("cannot encode a record at {}: {}\n", entry.pos, e);
                        ok = false;
                    }
                }
            }
            Request::Flush { .. } => durable = true,
        }
    }
    ok &= append(t, &buf[..used]);
    if ok && durable {
        if let Err(e) = t.log.sync_to(t.pos) {
            pr_err!("cannot sync the logfile: {:?}\n", e);
            ok = false;
        }
    }
    let status = if ok { BioStatus::Ok } else { BioStatus::IoError };
    while let Some(req) = batch.pop() {
        match req {
            Request::Write { bio: Some(bio), .. } | Request::Flush { bio } => bio.end(status),
            Request::Write { bio: None, .. } => {}
        }
    }
    // Written back even if logging failed: the disk then shows what the device showed
    // (a write that failed may leave any content); the error is in the kernel log.
    if let Some(order) = last_order {
        b.mark_logged(order, t.pos);
    }
}

fn append(t: &mut LogTarget, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    match t.log.file.write_all_at(bytes, t.pos) {
        Ok(()) => {
            t.pos += bytes.len() as u64;
            true
        }
        Err(e) => {
            pr_err!("cannot write the logfile: {:?}\n", e);
            false
        }
    }
}
