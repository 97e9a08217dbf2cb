// SPDX-License-Identifier: GPL-2.0

//! Fast full sync, the client (design reference §6, docu/replication.md; the server is
//! `net::sync_server`).
//!
//! A member whose disk is not yet a copy (`syncstatus-<me>` below the resource size)
//! runs `mars_sync`: it asks the primary for MD5 digests of its disk block by block
//! ([`SYNC_BLOCK`]), compares them with digests of its own disk, and copies only the
//! blocks that differ. Progress goes to `syncstatus-<me>` (after flushing the local
//! disk), so an interrupted sync resumes there. At the end the primary reports its log
//! position, which becomes `syncpos-<me>`: the blocks were read while the primary went
//! on writing, so the copy is consistent only once replay (which starts where this
//! host's `replay-<me>` pointed when the sync began) has passed that position.

use core::iter::Peekable;
use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;

use crate::net::conn::{peer_warn, text, Conn};
use crate::net::sync_server::{block_digests, read_disk, MAX_PAYLOAD, SPAN};
use crate::mars_core::text::escaped;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::protocol_error;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::secondary::progress::RateMeter;
use crate::mars_core::backoff::Backoff;
use crate::mars_core::replication::{replay_after_sync, AfterSync};
use crate::mars_core::round;
use crate::mars_core::tree::{LogName, ReplayLink, ACTUAL_PREFIX, DELETED, RESOURCE_PREFIX, SYNCPOS_PREFIX, SYNCSTATUS_PREFIX, VERSION_PREFIX};
use crate::mars_core::syncruns::{self, Run, Runs, Start, SYNC_FROM, SYNC_REFUSED, SYNC_SOURCE};
use crate::mars_core::wire::{Message, MAX_SYNC_READ, SYNC_BLOCK, SYNC_DIGEST_LEN, SYNC_OFF_HISTORY};
use crate::context::Context;
use crate::tree::{host_name, path, DirLinks, Tree, ROOT};
use crate::tunables::{Traffic, SYNC_LIMIT_KB};

/// How often `syncstatus-<me>` is brought up to date.
const STATUS_INTERVAL_NS: u64 = 1_000_000_000;

/// A member's sync thread for one resource; stops when dropped.
pub(crate) struct Syncer {
    /// The primary it syncs from.
    pub(crate) primary: KVec<u8>,
    /// The resource size it syncs up to (a resize restarts the sync).
    pub(crate) size: u64,
    _thread: Thread,
}

/// Where a sync is and what it needs.
struct Job<'a> {
    ctx: &'a Context,
    res: &'a str,
    primary: &'a str,
    disk: &'a BlockDevice,
    size: u64,
    /// When the sync first waited for how its primary took over (`syncruns::start_at`).
    waiting_since: Option<u64>,
}

impl Syncer {
    pub(crate) fn start(ctx: Arc<Context>, res: &str, primary: &str, disk: Arc<BlockDevice>, size: u64) -> Result<Syncer> {
        let mut res_owned = KVec::new();
        res_owned.extend_from_slice(res.as_bytes(), GFP_KERNEL)?;
        let mut primary_owned = KVec::new();
        primary_owned.extend_from_slice(primary.as_bytes(), GFP_KERNEL)?;
        let mut primary_copy = KVec::new();
        primary_copy.extend_from_slice(primary.as_bytes(), GFP_KERNEL)?;
        let thread = Thread::spawn(kernel::c_str!("mars_sync"), move || {
            let _noio = NoIoScope::enter();
            let (res, primary) = (text(&res_owned).unwrap_or(""), text(&primary_owned).unwrap_or(""));
            let mut job = Job { ctx: &ctx, res, primary, disk: &disk, size, waiting_since: None };
            let mut backoff = Backoff::new();
            while !thread::should_stop() {
                match job.run() {
                    Ok(true) => {
                        pr_info!("resource {}: full sync from {} finished\n", res, primary);
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        if backoff.failed() {
                            pr_warn!("resource {}: sync from {} failed ({:?}); retrying with backoff\n", res, primary, e);
                        }
                    }
                }
                thread::sleep_ms(backoff.delay_ms(1000, 10_000));
            }
            // Done: idle until the strategy notices and stops us.
            while !thread::should_stop() {
                thread::sleep_ms(1000);
            }
        })?;
        Ok(Syncer { primary: primary_copy, size, _thread: thread })
    }
}

impl Job<'_> {
    /// Syncs from `syncstatus-<me>` to the end; `Ok(true)` once the sync is complete.
    fn run(&mut self) -> Result<bool> {
        let tree = Tree { clock: &self.ctx.clock };
        let me = host_name()?;
        let me = text(&me)?;
        let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, self.res))?;
        let status_name = path(fmt!("{}{}", SYNCSTATUS_PREFIX, me))?;
        let status_name = status_name.to_str().map_err(|_| EINVAL)?;
        let status = tree.read(&path(fmt!("{}/{}", &*dir, status_name))?)?;
        let status = status.as_deref().map(text).transpose()?.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if status >= self.size {
            return Ok(true);
        }
        let Some(replay) = tree.replay_link(&dir, me)? else { return Ok(false) };
        let replay = ReplayLink::parse(text(&replay)?).map_err(|_| EINVAL)?;
        let Some(mut conn) = Conn::connect_member(self.ctx, self.primary, Traffic::Sync, MAX_PAYLOAD)? else { return Ok(false) };
        let mut from = [0u8; 80];
        let from_log = crate::mars_core::text::format_into(&mut from, format_args!("{}", replay.log)).ok_or(EINVAL)?;
        conn.send(&Message::SyncStart { res: self.res, from_log, from_pos: replay.start })?;
        let actual = path(fmt!("{}/{}{}", &*dir, ACTUAL_PREFIX, me))?;
        let primary_at = match self.expect_pos(&mut conn) {
            // Off the primary's history: said where views show it, tried again later
            // (an invalidation ends this job).
            Err(e) if e == EACCES => {
                tree.write(&actual, SYNC_REFUSED, "1")?;
                return Err(e);
            }
            other => other?,
        };
        tree.write(&actual, SYNC_REFUSED, "0")?;
        // Blocks synced so far from another history (a failover during the sync) are
        // compared again: the status goes back to 0 before the source changes.
        let now = real_ns();
        let since = *self.waiting_since.get_or_insert(now);
        let links = DirLinks { tree: &tree, dir: &dir };
        let status = match round::sync_start(&links, me, self.primary, (now - since) / 1_000_000)? {
            (_, Start::Wait) => return Ok(false),
            (status, Start::At(0)) if status > 0 => {
                let source = tree.read(&path(fmt!("{}/{}", &*actual, SYNC_SOURCE))?)?;
                pr_info!("resource {}: restarting the full sync at 0: the {} bytes synced so far are from {}, another history than {}'s\n",
                    self.res, status, source.as_deref().map(text).transpose()?.unwrap_or(""), self.primary);
                tree.write(&dir, status_name, "0")?;
                0
            }
            (_, Start::At(s)) => s,
        };
        if status == 0 {
            // Where replay may go on once this pass over the whole disk completes.
            let at = LogName::parse(text(&primary_at.0)?).map_err(|_| protocol_error())?;
            let at = path(fmt!("{}", ReplayLink { log: at, start: primary_at.1, len: 0 }))?;
            tree.write(&actual, SYNC_FROM, at.to_str().map_err(|_| EINVAL)?)?;
        }
        self.waiting_since = None;
        tree.write(&actual, SYNC_SOURCE, self.primary)?;
        if status > 0 {
            pr_info!("resource {}: resuming the full sync at {} of {} bytes\n", self.res, status, self.size);
        }
        let mut local = KVVec::from_elem(0u8, MAX_SYNC_READ as usize, GFP_KERNEL)?;
        let mut mine = KVec::from_elem(0u8, (MAX_SYNC_READ / SYNC_BLOCK) as usize * SYNC_DIGEST_LEN, GFP_KERNEL)?;
        let sums_len = (SPAN / SYNC_BLOCK) as usize * SYNC_DIGEST_LEN;
        let (mut theirs, mut ahead) = (KVec::from_elem(0u8, sums_len, GFP_KERNEL)?, KVec::from_elem(0u8, sums_len, GFP_KERNEL)?);
        let mut slots = [Slot::new()?, Slot::new()?];
        let mut pos = status - status % u64::from(SYNC_BLOCK);
        let first = pos;
        let (started, mut copied, mut last_status) = (real_ns(), 0u64, real_ns());
        let mut rate = RateMeter::new("sync-rate");
        // The one `SyncSums` asked for and not yet answered: always the oldest request
        // outstanding, since it is sent before the reads of the span being copied.
        conn.send(&Message::SyncSums { offset: pos, len: self.span_at(pos) })?;
        let mut due = Some(pos);
        while pos < self.size {
            if thread::should_stop() {
                return Ok(false);
            }
            let span = self.span_at(pos);
            if due == Some(pos) {
                self.recv_sums(&mut conn, pos, span, &mut ahead)?;
                due = None;
            }
            core::mem::swap(&mut theirs, &mut ahead);
            // The primary digests the next span while this host compares this one.
            let next = pos + u64::from(span);
            if next < self.size {
                conn.send(&Message::SyncSums { offset: next, len: self.span_at(next) })?;
                due = Some(next);
            }
            // Compare a read's worth at a time.
            let mut differs = [false; (SPAN / SYNC_BLOCK) as usize];
            let mut at = 0u32;
            while at < span {
                let chunk = (span - at).min(MAX_SYNC_READ);
                read_disk(self.disk, pos + u64::from(at), &mut local[..chunk as usize])?;
                let m = block_digests(self.ctx, &local[..chunk as usize], &mut mine)?;
                let first = (at / SYNC_BLOCK) as usize;
                for (i, digest) in mine[..m].chunks(SYNC_DIGEST_LEN).enumerate() {
                    let j = (first + i) * SYNC_DIGEST_LEN;
                    differs[first + i] = digest != &theirs[j..j + SYNC_DIGEST_LEN];
                }
                at += chunk;
            }
            // Copy the runs of differing blocks: two batches of reads in flight, each
            // written to the disk in one go while the other one arrives.
            let mut runs = syncruns::runs(&differs, pos, next).peekable();
            for slot in &mut slots {
                slot.ask(&mut conn, &mut runs)?;
            }
            let mut cur = 0;
            while slots[cur].n > 0 {
                if let Some(offset) = due.take() {
                    // Answered before the reads that follow it.
                    let len = self.span_at(offset);
                    self.recv_sums(&mut conn, offset, len, &mut ahead)?;
                }
                copied += slots[cur].copy(self, &mut conn)?;
                slots[cur].ask(&mut conn, &mut runs)?;
                cur ^= 1;
            }
            pos = next;
            rate.add(u64::from(span));
            rate.tick(&tree, self.res);
            self.pace(started, pos - first);
            if real_ns().saturating_sub(last_status) >= STATUS_INTERVAL_NS || pos >= self.size {
                self.disk.flush()?;
                let value = path(fmt!("{}", pos.min(self.size)))?;
                if pos < self.size {
                    tree.write(&dir, status_name, value.to_str().map_err(|_| EINVAL)?)?;
                }
                last_status = real_ns();
            }
        }
        // Everything is copied and durable: the consistency point is the primary's log
        // position now; then the status says the sync is complete.
        conn.send(&Message::SyncEnd)?;
        let (log, at) = self.expect_pos(&mut conn)?;
        let from = tree.read(&path(fmt!("{}/{}", &*actual, SYNC_FROM))?)?;
        if let Some(from) = from.as_deref().and_then(|v| ReplayLink::parse(text(v).ok()?).ok()) {
            self.start_from(&tree, &dir, me, &replay, &from)?;
        }
        let syncpos = path(fmt!("{},{},0", text(&log)?, at))?;
        let pos_name = path(fmt!("{}{}", SYNCPOS_PREFIX, me))?;
        tree.write(&dir, pos_name.to_str().map_err(|_| EINVAL)?, syncpos.to_str().map_err(|_| EINVAL)?)?;
        let size = path(fmt!("{}", self.size))?;
        tree.write(&dir, status_name, size.to_str().map_err(|_| EINVAL)?)?;
        tree.write(&actual, SYNC_SOURCE, DELETED)?;
        tree.write(&actual, SYNC_FROM, DELETED)?;
        pr_info!("resource {}: synced {} bytes from {}, {} of them differed; consistent after replay to {}\n",
            self.res, self.size - status, self.primary, copied, &*syncpos);
        Ok(true)
    }

    /// A sync that compared the whole disk from its first block is complete: replay
    /// goes on from the primary's flushed writeback `at` when the sync began (its answer
    /// to `SyncStart`, kept in `actual-<me>/sync-from`) if that is beyond this host's
    /// replay start `start` (`replication::replay_after_sync`). Where the primary's version links
    /// the move needs are not here, replay goes on from `start`.
    fn start_from(&self, tree: &Tree<'_>, dir: &CString, me: &str, start: &ReplayLink<'_>, at: &ReplayLink<'_>) -> Result {
        let version_of = |nr: u32, host: &str| tree.read(&path(fmt!("{}/{}{:09}-{}", &**dir, VERSION_PREFIX, nr, host))?);
        let prev_nr = at.log.nr.saturating_sub(1);
        let (version, prev) = (version_of(at.log.nr, self.primary)?, version_of(prev_nr, self.primary)?);
        let AfterSync::Move { prev } = replay_after_sync(start, at, utf8(&version), utf8(&prev)) else { return Ok(()) };
        // The link before first: a crash in between leaves the older start, which
        // replay goes on from (it writes its own link of that logfile then).
        let prev_name = path(fmt!("{}{:09}-{}", VERSION_PREFIX, prev_nr, me))?;
        let prev_name = prev_name.to_str().map_err(|_| EINVAL)?;
        match prev {
            Some(v) => tree.write(dir, prev_name, v)?,
            None if version_of(prev_nr, me)?.is_some() => tree.write(dir, prev_name, DELETED)?,
            None => {}
        }
        tree.write_replay_link(dir, me, at)?;
        pr_info!("resource {}: replay goes on from {} after the full sync ({}'s writeback when it began; was {})\n", self.res, at, self.primary, start);
        Ok(())
    }

    /// Receives the primary's `SyncPos`: its logfile name and position.
    fn expect_pos(&self, conn: &mut Conn) -> Result<(KVec<u8>, u64)> {
        match conn.recv()? {
            Message::SyncPos { log, pos } => {
                let mut name = KVec::new();
                name.extend_from_slice(log.as_bytes(), GFP_KERNEL)?;
                Ok((name, pos))
            }
            Message::Error { code, message } => {
                peer_warn!(self.primary, "resource {}: sync: {} says: {}\n", self.res, self.primary, escaped(message));
                Err(if code == SYNC_OFF_HISTORY { EACCES } else { EAGAIN })
            }
            _ => Err(protocol_error()),
        }
    }

    /// Bytes of the `SyncSums` request at `pos`: a span, or what is left of the disk.
    fn span_at(&self, pos: u64) -> u32 {
        self.size.saturating_sub(pos).min(u64::from(SPAN)) as u32
    }

    /// Receives the primary's digests of `len` bytes at `offset` into `out`.
    fn recv_sums(&self, conn: &mut Conn, offset: u64, len: u32, out: &mut [u8]) -> Result {
        let n = len.div_ceil(SYNC_BLOCK) as usize * SYNC_DIGEST_LEN;
        match conn.recv()? {
            Message::Sums { offset: o, sums } if o == offset && sums.len() == n && n <= out.len() => {
                out[..n].copy_from_slice(sums);
                Ok(())
            }
            Message::Error { message, .. } => {
                peer_warn!(self.primary, "resource {}: sync: {} says: {}\n", self.res, self.primary, escaped(message));
                Err(EIO)
            }
            _ => Err(protocol_error()),
        }
    }

    /// Sleeps until the disk walked so far fits the sync rate limit: it bounds what
    /// the sync reads on both disks (the primary's load) and, with it, what it sends.
    fn pace(&self, started: u64, walked: u64) {
        let limit = u64::from(SYNC_LIMIT_KB.load(Ordering::Relaxed).max(0) as u32) * 1024;
        if limit == 0 {
            return;
        }
        let due = started.saturating_add(walked.saturating_mul(1_000_000_000) / limit);
        let now = real_ns();
        if due > now {
            thread::sleep_ms(((due - now) / 1_000_000).min(10_000) as u32);
        }
    }
}

/// Bytes of the reads one [`Slot`] holds: two of them are in flight at most.
const BATCH: u32 = 2 << 20;
/// Runs one batch holds at most (each at least one block).
const BATCH_RUNS: usize = (BATCH / SYNC_BLOCK) as usize;

/// One batch of `SyncRead`s asked for: their runs in order and room for their data.
struct Slot {
    runs: [Run; BATCH_RUNS],
    /// Runs asked for (the first ones of `runs`).
    n: usize,
    data: KVVec<u8>,
}

impl Slot {
    fn new() -> Result<Slot> {
        Ok(Slot { runs: [Run { offset: 0, len: 0 }; BATCH_RUNS], n: 0, data: KVVec::from_elem(0u8, BATCH as usize, GFP_KERNEL)? })
    }

    /// Asks for the next batch of `runs` (none if no run is left).
    fn ask(&mut self, conn: &mut Conn, runs: &mut Peekable<Runs<'_>>) -> Result {
        let (slots, n) = (&mut self.runs, &mut self.n);
        *n = 0;
        syncruns::take_batch(runs, BATCH, |run| -> Result {
            // A batch holds at most BATCH_RUNS runs, each at least a block (or the end).
            *slots.get_mut(*n).ok_or(EINVAL)? = run;
            *n += 1;
            conn.send(&Message::SyncRead { offset: run.offset, len: run.len })
        })?;
        Ok(())
    }

    /// Receives the batch's data, in the order asked for, and writes it onto the local
    /// disk in one go; returns its bytes.
    fn copy(&mut self, job: &Job<'_>, conn: &mut Conn) -> Result<u64> {
        let mut n = 0usize;
        for run in &self.runs[..self.n] {
            let len = run.len as usize;
            let room = self.data.get_mut(n..n + len).ok_or(EINVAL)?;
            match conn.recv()? {
                Message::SyncData { offset, data } if offset == run.offset && data.len() == len => room.copy_from_slice(data),
                Message::Error { message, .. } => {
                    peer_warn!(job.primary, "resource {}: sync: {} says: {}\n", job.res, job.primary, escaped(message));
                    return Err(EIO);
                }
                _ => return Err(protocol_error()),
            }
            n += len;
        }
        let (runs, data) = (&self.runs[..self.n], &self.data);
        job.disk.io(|batch| {
            let mut n = 0usize;
            for run in runs {
                let len = run.len as usize;
                batch.write(run.offset, &data[n..n + len])?;
                n += len;
            }
            Ok(())
        })?;
        self.n = 0;
        Ok(n as u64)
    }
}

/// A link value as text (`None`: absent, or not UTF-8, as a hostile peer may send).
fn utf8(v: &Option<KVec<u8>>) -> Option<&str> {
    v.as_deref().and_then(|v| text(v).ok())
}
