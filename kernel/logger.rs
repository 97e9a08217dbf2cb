// SPDX-License-Identifier: GPL-2.0

//! The transaction logger of a primary (design reference §1.5, docu/log-format.md).
//!
//! Writes to `/dev/mars/<dev>` are queued here (the submitter waits while the queue is
//! full: nothing is dropped). The logger thread takes the queue in batches and for each
//! batch
//!   1. encodes one record per write (shared codec, CRC32C, Lamport stamp, sequence
//!      number) and appends them to the logfile with one write;
//!   2. if any request needs durability (REQ_PREFLUSH, REQ_FUA, REQ_SYNC, or a
//!      flush-only request) fdatasyncs the logfile, so such a request completes only
//!      once its record is durable;
//!   3. writes the data back to the underlying disk, in log order, through its page
//!      cache (the kernel writes it out sorted by position);
//!   4. completes the requests, and serves queued reads in queue order.
//! About once a second it makes the disk durable and records the progress in
//! `replay-<me>` = `log-<nr>-<me>,<start>,<len>`: everything before `start` is on the
//! disk; `len` bytes after it may still only be in the log. Recovery replays from
//! `start` (see `replay`).

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex, pin_init};

use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::File;
use crate::kapi::gendisk::{Bio, BioStatus};
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::digest::KernelDigests;
use crate::mars_core::log_record::{encode_record, ChecksumAlgorithm, RecordHeader, RecordKind};
use crate::mars_core::tree::{LogName, ReplayLink, REPLAY_PREFIX};
use crate::strategy::Main;
use crate::tree::Tree;

/// Requests the queue holds at most.
const QUEUE_SLOTS: usize = 4096;
/// Payload bytes the queue holds at most before writers wait.
const QUEUE_BYTES: usize = 32 << 20;
/// Size of the buffer one batch of records is encoded into.
const LOG_BUFFER: usize = 4 << 20;
/// How often the replay link is brought up to date while writes flow.
const PROGRESS_INTERVAL_NS: u64 = 1_000_000_000;

/// One queued request.
pub(crate) enum Request {
    /// Data for `[pos, pos + data.len())`; `durable`: complete only once logged durably.
    Write { pos: u64, data: KVec<u8>, bio: Bio, durable: bool },
    /// A flush: complete once everything before it is durable in the log.
    Flush { bio: Bio },
    /// A read: served after every write queued before it has reached the disk. (Reads
    /// cannot be served in the submitter's context: the disk I/O they need would wait
    /// behind the submitter's own bio list.)
    Read { bio: Bio },
}

impl Request {
    fn payload(&self) -> usize {
        match self {
            Request::Write { data, .. } => data.len(),
            Request::Flush { .. } | Request::Read { .. } => 0,
        }
    }
}

/// A fixed ring of request slots, allocated once: queueing never allocates.
struct Ring {
    slots: KVec<Option<Request>>,
    head: usize,
    count: usize,
    bytes: usize,
    stopping: bool,
}

/// The queue between the device (producers) and the logger thread (consumer).
#[pin_data]
pub(crate) struct LogQueue {
    #[pin]
    ring: Mutex<Ring>,
    #[pin]
    filled: CondVar,
    #[pin]
    drained: CondVar,
}

fn empty_slots() -> Result<KVec<Option<Request>>> {
    let mut v = KVec::with_capacity(QUEUE_SLOTS, GFP_KERNEL)?;
    for _ in 0..QUEUE_SLOTS {
        v.push(None, GFP_KERNEL)?;
    }
    Ok(v)
}

impl LogQueue {
    pub(crate) fn new() -> Result<Arc<LogQueue>> {
        let ring = Ring { slots: empty_slots()?, head: 0, count: 0, bytes: 0, stopping: false };
        Arc::pin_init(
            pin_init!(LogQueue {
                ring <- new_mutex!(ring, "mars_log_queue"),
                filled <- new_condvar!("mars_log_filled"),
                drained <- new_condvar!("mars_log_drained"),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues a request, waiting while the queue is full. A request that arrives after
    /// the logger has stopped fails with an I/O error.
    pub(crate) fn push(&self, req: Request) {
        let size = req.payload();
        let mut ring = self.ring.lock();
        while !ring.stopping && (ring.count == QUEUE_SLOTS || (ring.count > 0 && ring.bytes + size > QUEUE_BYTES)) {
            self.drained.wait(&mut ring);
        }
        if ring.stopping {
            drop(ring);
            fail(req);
            return;
        }
        let at = (ring.head + ring.count) % QUEUE_SLOTS;
        ring.slots[at] = Some(req);
        ring.count += 1;
        ring.bytes += size;
        drop(ring);
        self.filled.notify_one();
    }
}

fn fail(req: Request) {
    match req {
        Request::Write { bio, .. } | Request::Flush { bio } | Request::Read { bio } => bio.end(BioStatus::IoError),
    }
}

/// Where the logger appends, and what it reports.
pub(crate) struct LogTarget {
    /// The open logfile.
    pub(crate) file: File,
    /// Its number (`log-<nr>-<me>`).
    pub(crate) nr: u32,
    /// Append position (its size).
    pub(crate) pos: u64,
    /// Next record sequence number.
    pub(crate) next_seq: u64,
    /// Resource directory, for the replay link.
    pub(crate) dir: CString,
    /// This host.
    pub(crate) me: KVec<u8>,
}

/// A running logger: its thread drains the queue and stops when dropped.
pub(crate) struct Logger {
    queue: Arc<LogQueue>,
    _thread: Thread,
}

impl Logger {
    pub(crate) fn start(main: Arc<Main>, queue: Arc<LogQueue>, lower: Arc<BlockDevice>, target: LogTarget) -> Result<Logger> {
        let mut batch = empty_slots()?;
        let mut buf = KVec::from_elem(0u8, LOG_BUFFER, GFP_KERNEL)?;
        let q = queue.clone();
        let thread = Thread::spawn(kernel::c_str!("mars_logger"), move || {
            // The logger is on the I/O path of the device for its whole life.
            let _noio = NoIoScope::enter();
            let mut target = target;
            let mut synced_pos = target.pos;
            let mut last_progress = 0u64;
            loop {
                let n = take_batch(&q, &mut batch);
                if n == 0 {
                    if thread::should_stop() {
                        break;
                    }
                } else {
                    log_batch(&main, &lower, &mut target, &mut batch[..n], &mut buf);
                }
                let now = real_ns();
                if target.pos != synced_pos && now.saturating_sub(last_progress) >= PROGRESS_INTERVAL_NS {
                    synced_pos = report_progress(&main, &lower, &target);
                    last_progress = now;
                }
            }
            report_progress(&main, &lower, &target);
        })?;
        Ok(Logger { queue, _thread: thread })
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        // New requests fail from now on; the thread drains what is queued, then stops.
        self.queue.ring.lock().stopping = true;
        self.queue.drained.notify_all();
        self.queue.filled.notify_all();
    }
}

/// Moves up to all queued requests into `batch`; waits up to a second for some.
fn take_batch(q: &LogQueue, batch: &mut KVec<Option<Request>>) -> usize {
    let mut ring = q.ring.lock();
    if ring.count == 0 && !thread::should_stop() {
        let _ = q.filled.wait_interruptible_timeout(&mut ring, msecs_to_jiffies(1000));
    }
    let n = ring.count;
    for slot in batch.iter_mut().take(n) {
        let head = ring.head;
        *slot = ring.slots[head].take();
        ring.head = (head + 1) % QUEUE_SLOTS;
    }
    ring.count = 0;
    ring.bytes = 0;
    drop(ring);
    q.drained.notify_all();
    n
}

/// Logs, syncs, writes back and completes one batch.
fn log_batch(main: &Main, lower: &BlockDevice, t: &mut LogTarget, batch: &mut [Option<Request>], buf: &mut KVec<u8>) {
    let mut ok = true;
    let mut durable = false;
    let mut used = 0usize;
    for req in batch.iter() {
        match req {
            Some(Request::Write { pos, data, durable: d, .. }) => {
                durable |= *d;
                let header = RecordHeader {
                    seq: t.next_seq,
                    stamp_ns: main.clock.stamp(),
                    pos: *pos,
                    data_len: data.len() as u32,
                    kind: RecordKind::Write,
                    checksum: ChecksumAlgorithm::Crc32c,
                };
                let len = header.record_len();
                if used + len > buf.len() {
                    ok &= append(t, &buf[..used]);
                    used = 0;
                }
                match encode_record(&header, data, &KernelDigests, &mut buf[used..used + len]) {
                    Ok(()) => {
                        used += len;
                        t.next_seq += 1;
                    }
                    Err(e) => {
                        pr_err!("cannot encode a record at {}: {}\n", pos, e);
                        ok = false;
                    }
                }
            }
            Some(Request::Flush { .. }) => durable = true,
            Some(Request::Read { .. }) | None => {}
        }
    }
    ok &= append(t, &buf[..used]);
    if ok && durable {
        if let Err(e) = t.file.sync(true) {
            pr_err!("cannot sync the logfile: {:?}\n", e);
            ok = false;
        }
    }
    for slot in batch.iter_mut() {
        match slot.take() {
            Some(Request::Write { pos, data, bio, .. }) => {
                let written = ok && lower.write_at(&data, pos).is_ok();
                if ok && !written {
                    pr_err!("writeback to the disk failed at {}\n", pos);
                }
                bio.end(if written { BioStatus::Ok } else { BioStatus::IoError });
            }
            Some(Request::Flush { bio }) => bio.end(if ok { BioStatus::Ok } else { BioStatus::IoError }),
            Some(Request::Read { bio }) => serve_read(lower, bio),
            None => {}
        }
    }
}

/// Reads from the disk through its page cache, which every completed write has reached.
fn serve_read(lower: &BlockDevice, mut bio: Bio) {
    let Ok(mut buf) = KVec::from_elem(0u8, bio.len() as usize, GFP_KERNEL) else {
        return bio.end(BioStatus::IoError);
    };
    let ok = lower.read_at(&mut buf, bio.pos()).is_ok() && bio.copy_from(&buf).is_ok();
    bio.end(if ok { BioStatus::Ok } else { BioStatus::IoError });
}

fn append(t: &mut LogTarget, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    match t.file.write_all_at(bytes, t.pos) {
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

/// Makes the disk durable, then records in `replay-<me>` that everything logged so far
/// is on the disk. Returns the position recorded.
fn report_progress(main: &Main, lower: &BlockDevice, t: &LogTarget) -> u64 {
    let pos = t.pos;
    if let Err(e) = lower.sync() {
        pr_err!("cannot sync the disk: {:?}\n", e);
        return 0;
    }
    let me = core::str::from_utf8(&t.me).unwrap_or("");
    let link = ReplayLink { log: LogName { nr: t.nr, host: me }, start: pos, len: 0 };
    let name = CString::try_from_fmt(fmt!("{}{}", REPLAY_PREFIX, me));
    let value = CString::try_from_fmt(fmt!("{}", link));
    let tree = Tree { clock: &main.clock };
    match (name, value) {
        (Ok(n), Ok(v)) => {
            if let Err(e) = tree.write(&t.dir, n.to_str().unwrap_or(""), v.to_str().unwrap_or("")) {
                pr_err!("cannot update the replay link: {:?}\n", e);
            }
        }
        _ => pr_err!("out of memory updating the replay link\n"),
    }
    pos
}
