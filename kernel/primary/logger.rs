// SPDX-License-Identifier: GPL-2.0

//! The transaction logger of a primary (design reference §1.5, docu/data-path.md).
//!
//! A primary's data path is three threads around the [`WriteBuffer`]:
//! - `mars_logger` (here) takes queued writes in batches, encodes one record per write
//!   (shared codec, digest per `log_digest`, Lamport stamp, sequence number), appends
//!   the batch to the logfile with one write, completes the requests that only wait for
//!   that, and marks the batch logged;
//! - `mars_logsync` (here) completes the requests that need durability: one fdatasync
//!   covers everything appended before it (group commit), while the logger goes on;
//! - `mars_writeback` (`writeback`) writes logged writes to the disk, sorted, and records
//!   the progress in `replay-<me>`;
//! - `mars_reader` (`reader`) serves reads that need both the disk and buffered data.

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::primary::buffer::{Request, WriteBuffer, QUEUE_SLOTS};
use crate::primary::log::{CurrentLog, Log};
use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::{direct_aligned, File, OpenFlags};
use crate::kapi::gendisk::{Bio, BioStatus};
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::kapi::vfs;
use crate::mars_core::emergency::after_hole;
use crate::mars_core::tree::LogName;
use crate::mars_core::log_record::{encode_head, Format, RecordError, RecordHeader, RecordKind, HEAD_LEN};
use crate::primary::reader::Reader;
use crate::primary::ring::{Queue, Ring};
use crate::context::Context;
use crate::tree::open_logfile;
use crate::tunables;
use crate::primary::writeback::{self, write_pieces};

/// Size of the buffer the record heads of one batch are encoded into.
const FRAMES: usize = QUEUE_SLOTS * HEAD_LEN;
/// The logger keeps the logfile written with zeros this far (at least) beyond its end,
/// in steps of this size: records then overwrite allocated blocks, so an fdatasync of
/// the logfile has no metadata to commit (no journal commit, only the disk's flush).
const PREALLOC_STEP: usize = 1 << 20;

/// How long a rotation waits for the writeback of the old logfile before giving up
/// (the disk is failing, say); the logger then goes on in the old logfile.
const ROTATE_TIMEOUT_MS: u32 = 60_000;

/// Where the logger appends: the log, its size, the next record's sequence number, and
/// how far it has written zeros ahead.
pub(crate) struct LogTarget {
    pub(crate) log: Arc<Log>,
    pub(crate) pos: u64,
    pub(crate) next_seq: u64,
    zeroed: u64,
}

impl LogTarget {
    /// The start of `log`, a new (empty) logfile.
    pub(crate) fn new(log: Arc<Log>) -> LogTarget {
        LogTarget { log, pos: 0, next_seq: 1, zeroed: 0 }
    }

    /// Makes the logfile extend with zeros at least to `end` and a step beyond, by
    /// direct I/O from `zeros`. Never writes below `pos` (the records). A failure (say,
    /// `/mars` is full) only means records are appended to a growing file instead.
    fn preallocate(&mut self, end: u64, zeros: &[u8]) {
        let Some(direct) = &self.log.direct else { return };
        if self.zeroed >= end {
            return;
        }
        let step = zeros.len() as u64;
        let mut at = self.zeroed.max(self.pos);
        let want = end.div_ceil(step).saturating_add(1).saturating_mul(step);
        while at < want {
            let len = (want - at).min(step - at % step) as usize;
            if direct.write_all_vectored_at(&[&zeros[..len]], at).is_err() {
                break;
            }
            at += len as u64;
        }
        self.zeroed = at;
    }
}

/// A running data path: its threads finish what is buffered and stop when dropped
/// (fields drop in order: the logger first, then the writeback, then the reader).
pub(crate) struct Logger {
    buffer: Arc<WriteBuffer>,
    _logger: Thread,
    _syncer: Thread,
    _writeback: Thread,
    _reader: Reader,
}

/// Requests waiting until the logfile is durable up to a position (group commit: one
/// fdatasync covers everything appended before it, while the logger appends on).
type SyncQueue = Queue<(Bio, u64)>;

/// The `mars_logsync` thread: makes the logfile durable for whoever waits, and
/// completes them. If the logfile cannot be made durable, logging ceases, and the
/// requests complete once their data is durable on the disk instead.
fn run_syncer(current: &CurrentLog, lower: &BlockDevice, q: &SyncQueue, done: &mut Ring<(Bio, u64)>) {
    loop {
        let Some(first) = q.pop_wait(1000) else {
            if thread::should_stop() && q.is_empty() {
                break;
            }
            continue;
        };
        // Everyone waiting now was queued after their records were appended (to the
        // current logfile: a rotation waits until nobody waits here).
        let log = current.get();
        let target = log.appended();
        let status = match log.sync_to(target) {
            Ok(()) => BioStatus::Ok,
            Err(e) => {
                pr_err!("resource {}: cannot sync the logfile: {:?}; logging ceases\n", log.res(), e);
                current.note_failure();
                if tunables::mars_broken_fails_writes() {
                    BioStatus::IoError
                } else {
                    durable_on_disk(&log, lower, target)
                }
            }
        };
        let _ = done.push(first);
        q.pop_while(|(_, pos)| *pos <= target, done);
        while let Some((bio, _)) = done.pop() {
            bio.end(status);
        }
    }
}

/// Polls `done` every 10 ms until it holds (`true`), for at most [`ROTATE_TIMEOUT_MS`]
/// or until the thread is asked to stop (`false`): the logger's waits for the writeback.
fn wait_for_writeback(done: impl Fn() -> bool) -> bool {
    let mut waited = 0;
    while !done() {
        if waited >= ROTATE_TIMEOUT_MS || thread::should_stop() {
            return false;
        }
        thread::sleep_ms(10);
        waited += 10;
    }
    true
}

/// Waits until the writeback has written everything of `log` before `pos` to the disk,
/// then flushes the disk: the data is durable there, whatever the logfile is.
fn durable_on_disk(log: &Log, lower: &BlockDevice, pos: u64) -> BioStatus {
    if !wait_for_writeback(|| log.written() >= pos) {
        pr_err!("resource {}: writeback did not reach {} within {} s\n", log.res(), pos, ROTATE_TIMEOUT_MS / 1000);
        return BioStatus::IoError;
    }
    match lower.flush() {
        Ok(()) => BioStatus::Ok,
        Err(_) => BioStatus::IoError,
    }
}

impl Logger {
    /// Starts the threads of a primary's data path.
    pub(crate) fn start(
        ctx: Arc<Context>,
        buffer: Arc<WriteBuffer>,
        reader: Reader,
        lower: Arc<BlockDevice>,
        current: Arc<CurrentLog>,
        target: LogTarget,
    ) -> Result<Logger> {
        let mut batch = Ring::new(QUEUE_SLOTS)?;
        let mut done = Ring::new(QUEUE_SLOTS)?;
        let mut frames = KVec::from_elem(0u8, FRAMES, GFP_KERNEL)?;
        let writeback = writeback::start(ctx.clone(), buffer.clone(), lower.clone(), current.clone(), target.pos)?;
        let syncs = SyncQueue::new(QUEUE_SLOTS)?;
        let (c, q, l) = (current.clone(), syncs.clone(), lower.clone());
        let syncer = Thread::spawn(kernel::c_str!("mars_logsync"), move || {
            let _noio = NoIoScope::enter();
            run_syncer(&c, &l, &q, &mut done);
        })?;
        let (b, q) = (buffer.clone(), syncs.clone());
        let logger = Thread::spawn(kernel::c_str!("mars_logger"), move || {
            // The logger is on the I/O path of the device for its whole life.
            let _noio = NoIoScope::enter();
            let mut target = target;
            let (mut direct, mut hole_made, mut recorded) = (false, true, true);
            let zeros = KVec::from_elem(0u8, PREALLOC_STEP, GFP_KERNEL).unwrap_or_default();
            loop {
                let cease = current.cease_asked();
                if !direct && cease {
                    (hole_made, recorded) = cease_logging(&b, &current, &q, &mut target);
                    direct = true;
                } else if direct && !cease {
                    direct = !resume_logging(&current, &mut target, &mut hole_made);
                }
                if !direct && current.rotating() {
                    rotate(&current, &q, &mut target);
                }
                if b.take(&mut batch) > 0 {
                    let bytes = batch_bytes(&batch);
                    if !direct && !log_batch(&ctx, &b, &q, &mut target, &mut batch, &mut frames, &zeros) {
                        // The logfile cannot take the batch: from now on writes go
                        // straight to the disk (or fail, if /mars cannot record that
                        // and `mars_broken_fails_writes` says so).
                        current.note_failure();
                        (hole_made, recorded) = cease_logging(&b, &current, &q, &mut target);
                        direct = true;
                    }
                    if direct {
                        write_direct(&b, &lower, &mut batch, !recorded && tunables::mars_broken_fails_writes());
                    }
                    // In the logfile or on the disk now: nothing of it is still to go to /mars.
                    tunables::UNLOGGED.fetch_sub(bytes, Ordering::Relaxed);
                } else if thread::should_stop() && b.queue_is_empty() {
                    break;
                }
            }
            if !direct {
                target.log.trim(target.pos);
            }
        })?;
        Ok(Logger { buffer, _logger: logger, _syncer: syncer, _writeback: writeback, _reader: reader })
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        // New requests fail from now on; the threads drain what is buffered, then stop
        // (the syncer after the logger: it completes what the logger handed it).
        self.buffer.stop();
    }
}

/// Payload bytes of the writes in `batch`.
fn batch_bytes(batch: &Ring<Request>) -> usize {
    batch.iter().map(|r| match r {
        Request::Write { entry, .. } => entry.data.len(),
        Request::Flush { .. } => 0,
    }).sum()
}

/// Logs one batch: appends its records, completes the requests that only waited for
/// that, hands those that need durability to the syncer, marks the batch logged;
/// leaves `batch` empty. If the logfile cannot take the batch, nothing is completed
/// and `false` is returned (the batch is still there).
fn log_batch(ctx: &Context, b: &WriteBuffer, syncs: &SyncQueue, t: &mut LogTarget, batch: &mut Ring<Request>, frames: &mut KVec<u8>, zeros: &[u8]) -> bool {
    if let Err(e) = append_records(ctx, t, batch, frames, zeros) {
        pr_err!("resource {}: cannot write the logfile: {:?}; logging ceases\n", t.log.res(), e);
        // A torn batch may have reached the file: cut it back to the last whole one.
        if let Err(e) = t.log.file.truncate(t.pos) {
            pr_err!("resource {}: cannot cut logfile {} back to {}: {:?}\n", t.log.res(), t.log.nr, t.pos, e);
        }
        return false;
    }
    t.log.appended_to(t.pos);
    let last_order = batch.iter().filter_map(|r| match r {
        Request::Write { entry, .. } => Some(entry.order),
        Request::Flush { .. } => None,
    }).last();
    while let Some(req) = batch.pop() {
        match req {
            Request::Write { bio: Some(bio), durable: true, .. } | Request::Flush { bio } => {
                if let Err((bio, _)) = syncs.push((bio, t.pos)) {
                    bio.end(BioStatus::IoError);
                }
            }
            Request::Write { bio: Some(bio), .. } => bio.end(BioStatus::Ok),
            Request::Write { bio: None, .. } => {}
        }
    }
    if let Some(order) = last_order {
        b.mark_logged(order, t.log.nr, t.pos);
    }
    true
}

/// Ceases logging (emergency mode, docu/emergency.md): waits until everything logged is
/// on the disk and recorded in `replay-<me>` (so recovery never replays old records
/// over writes that bypassed the log), then continues in a fresh logfile numbered
/// `mars_core::emergency::HOLE` higher. That hole stops every secondary where the
/// disk still equals the log. From now on writes go straight to the disk. Returns
/// whether the logfile after the hole exists, and whether `/mars` recorded all that
/// durably (`replay-<me>` at the end of the log, the hole) before any write bypasses
/// the log: else a crash before `/mars` is repaired would let recovery replay older
/// records over those writes (`mars_broken_fails_writes`).
fn cease_logging(b: &WriteBuffer, current: &CurrentLog, syncs: &SyncQueue, t: &mut LogTarget) -> (bool, bool) {
    let appended = t.log.appended();
    t.log.ask_report();
    b.wake_writeback();
    // Everything logged on the disk and recorded so; or on the disk, and `/mars` refuses
    // the record (no use waiting for it).
    let on_disk = |progress: u64| !current.behind() && syncs.is_empty() && progress >= appended;
    let mut recorded = wait_for_writeback(|| on_disk(t.log.reported()) || (t.log.report_failed() && on_disk(t.log.written())))
        && on_disk(t.log.reported());
    if !recorded {
        pr_err!("resource {}: replay-<me> does not record the end of logfile {}: /mars takes no writes, or the disk none within {} s\n", t.log.res(), t.log.nr, ROTATE_TIMEOUT_MS / 1000);
    }
    current.note_ceased();
    t.log.trim(appended);
    let hole_made = match hole_log(&t.log) {
        Ok(hole) => {
            pr_warn!("resource {}: ceased transaction logging (emergency mode): writes go straight to the disk; secondaries stop after logfile {}; logging resumes in {}\n",
                t.log.res(), t.log.nr, hole.nr);
            *t = LogTarget::new(hole.clone());
            current.switch(hole);
            true
        }
        Err(e) => {
            pr_err!("resource {}: ceased transaction logging; cannot create the logfile after the hole: {:?} (retried before logging resumes)\n", t.log.res(), e);
            false
        }
    };
    // The links and the hole must survive a crash before the first write bypasses the log.
    recorded &= hole_made && vfs::sync_dir(&t.log.dir).is_ok();
    if !recorded && tunables::mars_broken_fails_writes() {
        pr_err!("resource {}: /mars cannot record that logging ceased: writes fail until logging resumes (mars_broken_fails_writes)\n", t.log.res());
    }
    (hole_made, recorded)
}

/// The empty logfile after the hole, numbered `HOLE` higher than `log`.
fn hole_log(log: &Log) -> Result<Arc<Log>> {
    let me = core::str::from_utf8(&log.me).map_err(|_| EINVAL)?;
    let nr = after_hole(log.nr).ok_or(EINVAL)?;
    let file = create_log(&log.dir, LogName { nr, host: me })?;
    Ok(Arc::new(Log::new(file, nr, &log.dir, me)?, GFP_KERNEL)?)
}

/// Resumes logging after an emergency, in the logfile after the hole (created now if
/// that failed when logging ceased); `false` if it still cannot be created: writes keep
/// going straight to the disk, never into the logfile before the hole.
fn resume_logging(current: &CurrentLog, t: &mut LogTarget, hole_made: &mut bool) -> bool {
    if !*hole_made {
        match hole_log(&t.log) {
            Ok(hole) => {
                *t = LogTarget::new(hole.clone());
                current.switch(hole);
                *hole_made = true;
            }
            Err(_) => return false,
        }
    }
    current.note_resumed();
    pr_info!("resource {}: resumed transaction logging in logfile {}\n", t.log.res(), t.log.nr);
    true
}

/// Writes a batch straight to the disk (logging has ceased): sorted by position, later
/// writes winning; flushes the disk if a request asks for durability; completes them.
/// With `refuse`, every request still waiting for its completion fails instead and
/// its write leaves the buffer without reaching the disk (writes completed already,
/// under `logger_completion_semantics` = 0, are written: they were acknowledged).
fn write_direct(b: &WriteBuffer, lower: &BlockDevice, batch: &mut Ring<Request>, refuse: bool) {
    let mut entries = KVec::with_capacity(batch.iter().count(), GFP_KERNEL).unwrap_or_default();
    let mut refused = KVec::new();
    let mut durable = false;
    let mut ok = true;
    for req in batch.iter() {
        match req {
            Request::Write { entry, bio: Some(_), .. } if refuse => ok &= refused.push(entry.clone(), GFP_KERNEL).is_ok(),
            Request::Write { entry, durable: d, .. } => {
                durable |= *d;
                ok &= entries.push(entry.clone(), GFP_KERNEL).is_ok();
            }
            Request::Flush { .. } => durable |= !refuse,
        }
    }
    entries.sort_unstable_by_key(|e| (e.pos, e.order));
    let written = ok && write_pieces(lower, &entries, false).is_ok() && (!durable || lower.flush().is_ok());
    if !written {
        pr_err!("writing straight to the disk failed\n");
    }
    // Gone from the buffer before they fail: a read after the failure finds the disk.
    b.written(refused);
    let status = if written && !refuse { BioStatus::Ok } else { BioStatus::IoError };
    while let Some(req) = batch.pop() {
        match req {
            Request::Write { bio: Some(bio), .. } | Request::Flush { bio } => bio.end(status),
            Request::Write { bio: None, .. } => {}
        }
    }
    b.written(entries);
}

/// Creates the empty logfile `name` in resource directory `dir`; an empty one of this
/// name is used as it is, one with content is never appended to.
pub(crate) fn create_log(dir: &CStr, name: LogName<'_>) -> Result<File> {
    match open_logfile(dir, name, OpenFlags::READ_WRITE.create().exclusive(), 0o600) {
        Err(e) if e == EEXIST => {
            let f = open_logfile(dir, name, OpenFlags::READ_WRITE, 0)?;
            if f.size() != 0 {
                pr_err!("{}: {} exists and is not empty; not logging into it\n", dir, name);
                return Err(EEXIST);
            }
            Ok(f)
        }
        other => other,
    }
}

/// Carries out a rotation asked for: once nobody waits for the old logfile's durability
/// (the syncer serves the current one) and the writeback has left the logfile before
/// it, the old one is made durable and new records go to the next logfile. The
/// writeback finishes the old one meanwhile; the logger does not wait for it.
fn rotate(current: &CurrentLog, syncs: &SyncQueue, t: &mut LogTarget) {
    let Some(next) = current.pending_rotation() else { return };
    let appended = t.log.appended();
    if !wait_for_writeback(|| !current.behind() && syncs.is_empty()) {
        pr_err!("logfile {}: the writeback is still in the logfile before; not rotating within {} s\n", t.log.nr, ROTATE_TIMEOUT_MS / 1000);
        current.rotation_done();
        return;
    }
    if t.log.sync_to(appended).is_err() {
        pr_err!("logfile {}: cannot make it durable; not rotating\n", t.log.nr);
        current.rotation_done();
        return;
    }
    t.log.trim(appended);
    pr_info!("rotated from logfile {} ({} bytes) to {}\n", t.log.nr, appended, next.nr);
    *t = LogTarget::new(next.clone());
    current.switch(next);
    current.rotation_done();
}

/// Encodes a record for every write of `batch` — its head into `frames`, the payload
/// stays where it is — and appends them all with one vectored write: by direct I/O
/// when every payload is suitably aligned (they are: `buffer` allocates them so), else
/// through the page cache. Records of format version 2 are multiples of 512 bytes, so
/// the logfile's end stays aligned either way.
fn append_records(ctx: &Context, t: &mut LogTarget, batch: &Ring<Request>, frames: &mut KVec<u8>, zeros: &[u8]) -> Result {
    let digest = tunables::log_digest();
    let (mut n, mut seq) = (0usize, t.next_seq);
    for req in batch.iter() {
        let Request::Write { entry, .. } = req else { continue };
        let header = RecordHeader {
            seq,
            stamp_ns: ctx.clock.stamp(),
            pos: entry.pos,
            data_len: entry.data.len() as u32,
            kind: RecordKind::Write,
            checksum: digest,
            format: Format::Aligned,
        };
        let head = frames.get_mut(n * HEAD_LEN..(n + 1) * HEAD_LEN).ok_or(ENOSPC)?;
        let encoded = match head.try_into() {
            Ok(head) => encode_head(&header, &entry.data, &ctx.digests, head),
            Err(_) => Err(RecordError::BadLength),
        };
        if let Err(e) = encoded {
            pr_err!("cannot encode a record at {}: {}\n", entry.pos, e);
            return Err(EINVAL);
        }
        n += 1;
        seq += 1;
    }
    if n == 0 {
        return Ok(());
    }
    let mut parts = KVec::with_capacity(2 * n, GFP_KERNEL)?;
    let (mut bytes, mut aligned) = (0u64, true);
    for (i, req) in batch.iter().filter(|r| matches!(r, Request::Write { .. })).enumerate() {
        let Request::Write { entry, .. } = req else { continue };
        let head = &frames[i * HEAD_LEN..(i + 1) * HEAD_LEN];
        // (Records of format version 2 start at aligned file positions.)
        aligned &= direct_aligned(0, head) && direct_aligned(0, &entry.data);
        parts.push(head, GFP_KERNEL)?;
        parts.push(&entry.data[..], GFP_KERNEL)?;
        bytes += (HEAD_LEN + entry.data.len()) as u64;
    }
    // Part of the batch may reach the file and fail: the caller cuts it off again.
    let log = t.log.clone();
    match &log.direct {
        Some(direct) if aligned => {
            t.preallocate(t.pos + bytes, zeros);
            direct.write_all_vectored_at(&parts, t.pos)?;
        }
        _ => log.file.write_all_vectored_at(&parts, t.pos)?,
    }
    t.pos += bytes;
    t.next_seq = seq;
    Ok(())
}
