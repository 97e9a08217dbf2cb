// SPDX-License-Identifier: GPL-2.0

//! Writeback of a primary (design reference §1.5 phases 1-3): the `mars_writeback`
//! thread takes the logged writes from the [`WriteBuffer`], sorted by position, and
//! writes them to the disk with direct I/O, later writes winning (the plan comes from
//! `mars_core::writeback`). The logfile is made durable first, so the disk never holds a
//! write the log could lose. About once a second, after flushing the disk, the progress
//! goes to `replay-<me>` = `log-<nr>-<me>,<pos>,0`: everything in the log before `<pos>`
//! is on the disk; `version-<nr>-<me>` follows (§3.6). [`write_pieces`] is shared with recovery (`replay`).


use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;

use crate::primary::buffer::{Pending, WriteBuffer};
use crate::kapi::bdev::BlockDevice;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::primary::log::{CurrentLog, Log};
use crate::mars_core::tree::{LogName, ReplayLink, REPLAY_PREFIX};
use crate::mars_core::writeback::{overlap, Extent, Extents, Piece};
use crate::context::Context;
use crate::tree::Tree;

/// How often the replay link is brought up to date while writes flow.
const PROGRESS_INTERVAL_NS: u64 = 1_000_000_000;

/// Pause before writing again what the disk refused.
const RETRY_MS: u32 = 1000;

/// A write to apply to the disk: a [`Piece`] with its data.
pub(crate) trait DiskWrite: Piece {
    fn data(&self) -> &[u8];
}

impl DiskWrite for Arc<Pending> {
    fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Writes `pieces` (sorted by position, then order) to `disk`, later writes winning,
/// and waits for all of it. Pieces whose data is suitably aligned for direct I/O are
/// written from their own buffers unless `copy_all`; everything else goes through an
/// aligned buffer per extent.
pub(crate) fn write_pieces<P: DiskWrite>(disk: &BlockDevice, pieces: &[P], copy_all: bool) -> Result {
    write_pieces_while(disk, pieces, copy_all, || ())
}

/// [`write_pieces`] that runs `meanwhile` while the disk writes (replay reads and checks
/// the next part of its logfile then).
pub(crate) fn write_pieces_while<P: DiskWrite, R>(disk: &BlockDevice, pieces: &[P], copy_all: bool, meanwhile: impl FnOnce() -> R) -> Result<R> {
    // Buffers for merged extents, built before the I/O so they outlive it.
    let mut merged: KVec<(u64, KVVec<u8>)> = KVec::new();
    for extent in Extents::new(pieces) {
        let (first, last, start, end) = match extent {
            Extent::Single { .. } if !copy_all => continue,
            Extent::Single { piece, .. } => (piece, piece + 1, pieces[piece].pos(), pieces[piece].end()),
            Extent::Merge { first, last, start, end } => (first, last, start, end),
        };
        let mut buf = KVVec::from_elem(0u8, (end - start) as usize, GFP_KERNEL)?;
        let mut run = KVec::with_capacity(last - first, GFP_KERNEL)?;
        for p in &pieces[first..last] {
            run.push(p, GFP_KERNEL)?;
        }
        run.sort_unstable_by_key(|p| p.order());
        for p in run.iter() {
            if let Some((src, dst, n)) = overlap(start, end - start, p.pos(), p.len() as u64) {
                buf[dst..dst + n].copy_from_slice(&p.data()[src..src + n]);
            }
        }
        merged.push((start, buf), GFP_KERNEL)?;
    }
    let written = disk.io_while(
        |batch| {
            let mut next_merged = merged.iter();
            for extent in Extents::new(pieces) {
                match extent {
                    Extent::Single { piece, .. } if !copy_all => batch.write(pieces[piece].pos(), pieces[piece].data())?,
                    _ => {
                        let Some((start, buf)) = next_merged.next() else { return Err(EINVAL) };
                        batch.write(*start, buf)?;
                    }
                }
            }
            Ok(())
        },
        meanwhile,
    );
    if written.is_ok() {
        // The disk takes writes (again): a read or write error before is over.
        disk.clear_error();
    }
    written
}

/// Starts the `mars_writeback` thread of a primary; `start` is the log position the
/// disk is known to hold everything before.
pub(crate) fn start(ctx: Arc<Context>, buffer: Arc<WriteBuffer>, lower: Arc<BlockDevice>, current: Arc<CurrentLog>, start: u64) -> Result<Thread> {
    Thread::spawn(kernel::c_str!("mars_writeback"), move || {
        // On the I/O path of the device: allocations must not recurse into it.
        let _noio = NoIoScope::enter();
        let mut log = current.get();
        let mut p = Progress::at(start);
        loop {
            let mut entries = KVec::new();
            match buffer.take_logged(&mut entries) {
                Ok(Some((nr, log_pos))) => {
                    // The batch ends in this thread's logfile or, after a rotation, in
                    // the next one (the logger made the old one durable before it left).
                    let Some(end) = current.numbered(nr) else {
                        // Cannot happen: the logger rotates again only once this thread
                        // left the logfile before the current one.
                        pr_err!("writeback: logged writes of logfile {} while writing back {}\n", nr, log.nr);
                        if let Err(e) = write_pieces(&lower, &entries, false) {
                            pr_err!("writeback to the disk failed: {:?}\n", e);
                        }
                        buffer.written(entries);
                        continue;
                    };
                    // A logfile that cannot be made durable makes logging cease
                    // (emergency mode); the disk gets the data anyway, since the
                    // logger waits for it before writes bypass the log.
                    if let Err(e) = end.sync_to(log_pos) {
                        if !current.failed() {
                            pr_err!("cannot sync the logfile before writeback: {:?}; logging ceases\n", e);
                        }
                        current.note_failure();
                    }
                    match write_pieces(&lower, &entries, false) {
                        Ok(()) => {
                            if p.failed {
                                pr_info!("writeback to the disk works again\n");
                                buffer.refused(false);
                            }
                            // The batch held every logged write still buffered, the
                            // refused ones too: the disk has every logfile before `end`
                            // whole, and `end` before `log_pos`.
                            p.failed = false;
                            while log.nr != end.nr {
                                let left = log.nr;
                                p.written = p.written.max(log.appended());
                                p.leave(&ctx, &lower, &current, &mut log);
                                if log.nr == left {
                                    break;
                                }
                            }
                            p.written = log_pos;
                            log.written_to(log_pos);
                            buffer.written(entries);
                        }
                        Err(e) => {
                            // The writes stay buffered (reads find them) and are written
                            // again after a pause; the log keeps them too: recovery
                            // re-applies them from `replay-<me>`, which stays where it is.
                            if !p.failed {
                                pr_err!("writeback to the disk failed: {:?}; retrying every second, replay-<me> stays behind\n", e);
                            }
                            p.failed = true;
                            drop(entries);
                            buffer.refused(true);
                            if thread::should_stop() {
                                // Given up: the log has it all (recovery at the next attach).
                                pr_err!("writeback stopped with {} bytes the disk refused; recovery re-applies them from the log\n", buffer.bytes());
                                break;
                            }
                            thread::sleep_ms(RETRY_MS);
                        }
                    }
                }
                Ok(None) => {
                    if thread::should_stop() && buffer.is_empty() {
                        p.follow(&ctx, &lower, &current, &mut log);
                        break;
                    }
                }
                Err(e) => pr_err!("writeback: out of memory ({:?}), retrying\n", e),
            }
            p.follow(&ctx, &lower, &current, &mut log);
            let due = real_ns().saturating_sub(p.last_report) >= PROGRESS_INTERVAL_NS || log.report_asked();
            if p.written != p.reported && due {
                p.report(&ctx, &lower, &log, false);
                log.report_made();
            }
        }
        p.report(&ctx, &lower, &log, false);
    })
}

struct Progress {
    /// Everything in the log before this is written to the disk (maybe not flushed).
    written: u64,
    /// The position `replay-<me>` holds.
    reported: u64,
    last_report: u64,
    /// A disk write failed: the replay link must not move on.
    failed: bool,
}

impl Progress {
    /// At position `written` of a logfile, reported there already.
    fn at(written: u64) -> Progress {
        Progress { written, reported: written, last_report: 0, failed: false }
    }

    /// After a rotation (or when logging ceased or resumed): once everything logged in
    /// `log` is on the disk, records its final length and moves on to the next logfile.
    fn follow(&mut self, ctx: &Context, lower: &BlockDevice, current: &CurrentLog, log: &mut Arc<Log>) {
        if !self.failed && current.after(log).nr != log.nr && self.written >= log.appended() {
            self.leave(ctx, lower, current, log);
            self.report(ctx, lower, log, true);
        }
    }

    /// Everything of `log` is on the disk (up to `written`, its end): records that (the
    /// old logfile's final length goes to the links) and continues at the start of the
    /// next logfile.
    fn leave(&mut self, ctx: &Context, lower: &BlockDevice, current: &CurrentLog, log: &mut Arc<Log>) {
        log.written_to(self.written);
        self.report(ctx, lower, log, true);
        current.left(log);
        *log = current.after(log);
        *self = Progress::at(0);
    }

    /// Flushes the disk, then records in `replay-<me>` that everything logged before
    /// `written` is on the disk (`force`: even if that is what it says already).
    fn report(&mut self, ctx: &Context, lower: &BlockDevice, log: &Log, force: bool) {
        self.last_report = real_ns();
        if self.failed || (self.written == self.reported && !force) {
            return;
        }
        if let Err(e) = lower.flush() {
            pr_err!("cannot flush the disk: {:?}\n", e);
            return;
        }
        let me = core::str::from_utf8(&log.me).unwrap_or("");
        let tree = Tree { clock: &ctx.clock };
        let link = ReplayLink { log: LogName { nr: log.nr, host: me }, start: self.written, len: 0 };
        match write_link(&tree, log, fmt!("{}{}", REPLAY_PREFIX, me), fmt!("{}", link)) {
            Ok(()) => {
                self.reported = self.written;
                log.reported_to(Some(self.written));
            }
            Err(e) => {
                pr_err!("cannot update the replay link: {:?}\n", e);
                log.reported_to(None);
            }
        }
        if let Err(e) = tree.write_version_link(&ctx.digests, &log.dir, link.log, me, self.written) {
            pr_err!("cannot update the version link: {:?}\n", e);
        }
    }
}

fn write_link(tree: &Tree<'_>, log: &Log, name: core::fmt::Arguments<'_>, value: core::fmt::Arguments<'_>) -> Result {
    let name = CString::try_from_fmt(name)?;
    let value = CString::try_from_fmt(value)?;
    tree.write(&log.dir, name.to_str().map_err(|_| EINVAL)?, value.to_str().map_err(|_| EINVAL)?)
}
