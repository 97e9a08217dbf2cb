// SPDX-License-Identifier: GPL-2.0

//! Replay of a logfile onto the disk: crash recovery of a primary (design reference
//! §1.7), and the secondaries' replay of fetched logfiles ([`Replayer`]). Records are applied strictly in log order
//! from a start position; applying a record twice is harmless (it writes the same data
//! to the same place), so starting at an older position is always safe.

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::net::conn::text;
use crate::digest::KernelDigests;
use crate::secondary::fetch::Repair;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::{direct_aligned, OpenFlags, DIRECT_ALIGN};
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::kapi::vfs;
use crate::secondary::progress::RateMeter;
use crate::mars_core::backoff::Backoff;
use crate::mars_core::text::format_into;
use crate::mars_core::log_record::{decode_header, next_window, LogScanner, RecordError, RecordKind, ScanEnd, HEADER_LEN, MAX_OVERHEAD, MAX_PAYLOAD};
use crate::mars_core::replication::{leaves_synced_history, next_in_sequence, replay_step, REPLAY_STOPPED, rewrite_version, stands_for_writer, switchover, Copy, NextCopy, ReplayStep, Stop, SwitchLinks, Switchover};
use crate::mars_core::tree::{LogName, ReplayLink, VersionLink, ACTUAL_PREFIX, RESOURCE_PREFIX, SYNCPOS_PREFIX, VERSION_PREFIX};
use crate::mars_core::writeback::Piece;
use crate::context::Context;
use crate::tree::{host_name, open_logfile, path, Logfile, Tree, ROOT};
use crate::primary::writeback::{write_pieces_while, DiskWrite};

/// A write record of a window being written to the disk.
struct Record<'a> {
    pos: u64,
    seq: u64,
    data: &'a [u8],
}

impl Piece for Record<'_> {
    fn pos(&self) -> u64 {
        self.pos
    }
    fn len(&self) -> u32 {
        self.data.len() as u32
    }
    fn order(&self) -> u64 {
        self.seq
    }
}

impl DiskWrite for Record<'_> {
    fn data(&self) -> &[u8] {
        self.data
    }
}

/// Bytes read from the logfile at a time (one record always fits). Replay holds two
/// windows: the disk writes the records of one while the next is read and checked.
const WINDOW: usize = 4 << 20;
const _: () = assert!(WINDOW >= MAX_PAYLOAD as usize + MAX_OVERHEAD);

/// The two windows of a replay.
struct Windows([KVVec<u8>; 2]);

impl Windows {
    fn new() -> Result<Windows> {
        Ok(Windows([KVVec::from_elem(0u8, WINDOW, GFP_KERNEL)?, KVVec::from_elem(0u8, WINDOW, GFP_KERNEL)?]))
    }
}

/// Result of replaying a logfile.
pub(crate) struct Replayed {
    /// Offset just after the last valid record: where the valid log ends.
    pub(crate) end: u64,
    /// Records applied to the disk.
    pub(crate) applied: u64,
    /// Size of the logfile (bytes after `end` are a torn tail or damage).
    pub(crate) size: u64,
    /// Everything after `end` is zeros (written ahead by the logger), not damage.
    pub(crate) zeros: bool,
}

/// A write record of a checked window, by where its payload lies in the window (so
/// that the list outlives the window's borrow while the other window is written).
struct Slot {
    pos: u64,
    seq: u64,
    /// Offset of the payload in the window.
    at: usize,
    len: usize,
}

/// What checking one window of a logfile found.
struct Scanned {
    /// Its valid write records at or after the start position, in log order.
    slots: KVec<Slot>,
    /// Bytes of valid records from the window's start.
    consumed: usize,
    /// Sequence number the next record must have.
    next_seq: u64,
    /// Why the scan stopped.
    end: Option<ScanEnd>,
}

/// Checks the records of `window` (logfile bytes from `base`), the first numbered
/// `next_seq`, and lists the writes among them that start at or after `from`.
fn scan_window(window: &[u8], base: u64, from: u64, next_seq: u64, digests: &KernelDigests) -> Result<Scanned> {
    let mut scanner = LogScanner::resume(window, 0, next_seq, digests);
    let mut slots = KVec::new();
    for (offset, rec) in scanner.by_ref() {
        if base.saturating_add(offset as u64) >= from && rec.header.kind == RecordKind::Write {
            let at = offset + rec.header.format.payload_offset();
            // The payload is where the format puts it: the slot names the same bytes.
            if !core::ptr::eq(window[at..].as_ptr(), rec.payload.as_ptr()) {
                return Err(EINVAL);
            }
            slots.push(Slot { pos: rec.header.pos, seq: rec.header.seq, at, len: rec.payload.len() }, GFP_KERNEL)?;
        }
    }
    Ok(Scanned { slots, consumed: scanner.offset(), next_seq: scanner.next_seq(), end: scanner.end() })
}

/// Writes the records `scanned` lists of `window` to `disk` as one sorted batch, later
/// records winning, and runs `meanwhile` while the disk writes.
fn write_scanned<R>(disk: &BlockDevice, window: &[u8], scanned: &Scanned, meanwhile: impl FnOnce() -> R) -> Result<R> {
    let mut pieces = KVec::with_capacity(scanned.slots.len(), GFP_KERNEL)?;
    for s in scanned.slots.iter() {
        let data = window.get(s.at..s.at + s.len).ok_or(EINVAL)?;
        pieces.push(Record { pos: s.pos, seq: s.seq, data }, GFP_KERNEL)?;
    }
    pieces.sort_unstable_by_key(|r| (r.pos, r.seq));
    // Payloads of aligned records (format version 2) in a window read from a record's
    // start are sector-aligned in memory: the bios take them from the window. Packed
    // records (version 1) go through aligned copies.
    let aligned = pieces.iter().all(|r| direct_aligned(0, r.data));
    write_pieces_while(disk, &pieces, !aligned, meanwhile)
}

/// How far [`apply_windows`] got.
struct Run {
    /// Offset just after the last valid record: where the valid log ends, or the run
    /// stopped.
    end: u64,
    /// Records written to the disk.
    applied: u64,
    /// Why the scan of the last window stopped.
    stop: Option<ScanEnd>,
    /// Bytes of the last window after its valid records.
    left_over: usize,
}

/// Applies the valid write records of `log` (of `size` bytes) from `base` on, the
/// first numbered `first_seq`, window by window: while the disk writes the records of
/// one window, the next is read and checked. Records before `from` are checked, not
/// applied. A window follows only while `go_on(bytes applied so far)`. Nothing is
/// flushed; a crash half-way leaves the replay position where it was, and replaying
/// again is harmless.
fn apply_windows(
    log: &Logfile,
    size: u64,
    base: u64,
    first_seq: u64,
    from: u64,
    disk: &BlockDevice,
    digests: &KernelDigests,
    windows: &mut Windows,
    mut go_on: impl FnMut(u64) -> bool,
) -> Result<Run> {
    let want = |at: u64| size.saturating_sub(at).min(WINDOW as u64) as usize;
    let [a, b] = &mut windows.0;
    let (mut this, mut other) = (&mut a[..], &mut b[..]);
    let mut at = base;
    let mut got = read_window(log, this, at, want(at))?;
    let mut scanned = scan_window(&this[..got], at, from, first_seq, digests)?;
    let mut applied = 0u64;
    loop {
        let next = next_window(at, got, scanned.consumed, size, scanned.end).filter(|&n| go_on(n - base));
        let next_seq = scanned.next_seq;
        let ahead = write_scanned(disk, &this[..got], &scanned, || -> Result<Option<(u64, usize, Scanned)>> {
            let Some(n) = next else { return Ok(None) };
            let g = read_window(log, other, n, want(n))?;
            Ok(Some((n, g, scan_window(&other[..g], n, from, next_seq, digests)?)))
        })??;
        applied += scanned.slots.len() as u64;
        match ahead {
            Some((n, g, s)) => {
                (at, got, scanned) = (n, g, s);
                core::mem::swap(&mut this, &mut other);
            }
            None => {
                let end = at + scanned.consumed as u64;
                return Ok(Run { end, applied, stop: scanned.end, left_over: got - scanned.consumed });
            }
        }
    }
}

/// Reads at most `len` bytes of `log` at `at` into `window`: whole sectors, so that a
/// window at a record of format version 2 goes by direct I/O (the bytes past `len` are
/// not looked at).
fn read_window(log: &Logfile, window: &mut [u8], at: u64, len: usize) -> Result<usize> {
    let room = len.next_multiple_of(DIRECT_ALIGN).min(window.len());
    Ok(log.read_full_at(&mut window[..room], at)?.min(len))
}

/// Applies every valid record of `log` that starts at or after `start` to `disk` (with
/// direct I/O, see `writeback::write_pieces`), then makes the disk durable. Stops at the
/// first invalid record (a torn tail after a crash); what follows it is reported, never
/// applied.
pub(crate) fn replay(log: &Logfile, disk: &BlockDevice, start: u64, digests: &KernelDigests) -> Result<Replayed> {
    let size = log.file().size();
    let mut windows = Windows::new()?;
    let run = apply_windows(log, size, 0, 1, start, disk, digests, &mut windows, |_| true)?;
    // Only zeros after the last record: those the logger wrote ahead.
    let zeros = matches!(run.stop, Some(ScanEnd::Clean));
    if run.end < size && !zeros {
        pr_warn!("log ends at {} of {} bytes: {:?}\n", run.end, size, run.stop);
    }
    disk.flush()?;
    Ok(Replayed { end: run.end, applied: run.applied, size, zeros })
}

/// How long a caught-up replay thread waits for news of fetched data before looking
/// again. The fetch thread wakes it when data arrives; what else it waits for comes
/// with the metadata exchange (a version link that allows the switch to the next
/// logfile; pulled every 2 s), or with a new thread (the strategy's). Each look reads
/// the replay link, the logfile and the resource directory: at 100 ms, an idle
/// secondary's replay took more emulated CPU than all its other threads together.
const IDLE_MS: u32 = 1000;
/// While data flows, the disk is flushed and the replay link moved on about this often
/// (as the primary's writeback does), and when replay has caught up.
const FLUSH_INTERVAL_NS: u64 = 1_000_000_000;
/// ... or when this much was applied since the last flush.
const FLUSH_BYTES: u64 = 64 << 20;

/// A secondary's replay thread for one resource (design reference §1.6): applies the
/// fetched logfiles to the disk strictly in order, records the progress in
/// `replay-<me>` and `version-<nr>-<me>` (after flushing the disk: about once a second
/// while data flows, and when it has caught up), and moves on to the next logfile only
/// when the version chain allows it (`mars_core::replication`). Stops when dropped.
pub(crate) struct Replayer {
    _thread: Thread,
}

/// What one replay step did.
enum Step {
    /// Replayed something, or moved to the next logfile: go on at once.
    Progress,
    /// Nothing to do now.
    Idle,
}

/// What a run of replay did.
enum Outcome {
    Applied,
    Nothing,
    /// The local copy is damaged here.
    Damaged(u64),
}

/// Records applied to the disk but not flushed yet, so not named by the replay link:
/// the link still says `from` of logfile `nr` of `host`; replay goes on at `end`.
struct Unflushed {
    nr: u32,
    host: KVec<u8>,
    from: u64,
    end: u64,
    /// The logfile's size when last looked at (for the link's length).
    size: u64,
    /// When the first of them was applied.
    since: u64,
}

/// How far the local copy of a logfile is durable (replay synced it that far).
struct Synced {
    nr: u32,
    host: KVec<u8>,
    size: u64,
}

/// The state of a replay thread.
struct Follower {
    ctx: Arc<Context>,
    res: KVec<u8>,
    disk: Arc<BlockDevice>,
    repair: Arc<Repair>,
    windows: Windows,
    unflushed: Option<Unflushed>,
    synced: Option<Synced>,
    /// The fetch's cuts of copies when `synced` was last valid ([`Repair::cuts`]).
    cuts: u64,
    /// The last problem reported (so each is logged once).
    reported: Option<Problem>,
    /// What `actual-<me>/replay-stopped` says as far as this thread wrote it (`None`:
    /// not yet written: a value left by an earlier thread is cleared first).
    shown: Option<Option<Stop>>,
    rate: RateMeter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Problem {
    Damaged { nr: u32, at: u64 },
    Stopped(Stop),
}

impl Replayer {
    pub(crate) fn start(ctx: Arc<Context>, res: &str, disk: Arc<BlockDevice>, repair: Arc<Repair>) -> Result<Replayer> {
        let mut name = KVec::new();
        name.extend_from_slice(res.as_bytes(), GFP_KERNEL)?;
        let windows = Windows::new()?;
        let mut f = Follower { ctx, res: name, disk, repair, windows, unflushed: None, synced: None, cuts: 0, reported: None, shown: None, rate: RateMeter::new("replay-rate") };
        let thread = Thread::spawn(kernel::c_str!("mars_replay"), move || {
            let _noio = NoIoScope::enter();
            let mut backoff = Backoff::new();
            while !thread::should_stop() {
                let seen = f.repair.arrivals();
                let step = f.step();
                if let Ok(res) = text(&f.res) {
                    f.rate.tick(&Tree { clock: &f.ctx.clock }, res);
                }
                match step {
                    Ok(Step::Progress) => {
                        backoff.succeeded();
                    }
                    Ok(Step::Idle) => f.repair.wait_arrival(seen, IDLE_MS),
                    Err(e) => {
                        if backoff.failed() {
                            pr_warn!("resource {}: replay failed ({:?}); retrying\n", text(&f.res).unwrap_or(""), e);
                        }
                        thread::sleep_ms(backoff.delay_ms(1000, 10_000));
                    }
                }
            }
            // What is applied goes to the links before the thread ends.
            if let Err(e) = f.flush_now() {
                pr_warn!("resource {}: cannot record the replay progress: {:?}\n", text(&f.res).unwrap_or(""), e);
            }
        })?;
        Ok(Replayer { _thread: thread })
    }
}

impl Follower {
    fn step(&mut self) -> Result<Step> {
        let ctx = self.ctx.clone();
        let tree = Tree { clock: &ctx.clock };
        let mut res_buf = [0u8; 64];
        let res = format_into(&mut res_buf, format_args!("{}", text(&self.res)?)).ok_or(EINVAL)?;
        let me = host_name()?;
        let me = text(&me)?;
        let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
        if self.shown.is_none() {
            self.show_stop(&tree, &dir, me, None)?;
        }
        let Some(link) = tree.replay_link(&dir, me)? else { return Ok(Step::Idle) };
        let replay = ReplayLink::parse(text(&link)?).map_err(|_| EINVAL)?;
        let start = self.resume_at(&replay);
        let log = match Logfile::open(&dir, replay.log, OpenFlags::READ, 0) {
            Ok(l) => Some(l),
            // Not fetched yet.
            Err(e) if e == ENOENT => None,
            Err(e) => return Err(e),
        };
        // What the fetch cut, replay syncs again.
        let cuts = self.repair.cuts();
        if cuts != self.cuts {
            (self.synced, self.cuts) = (None, cuts);
        }
        let size = log.as_ref().map_or(0, |l| l.file().size());
        let copy = log.as_ref().map(|_| Copy { size, synced: self.synced_size(&replay.log) });
        match (replay_step(start, self.unflushed.is_some(), copy), log) {
            (ReplayStep::SyncCopy, Some(log)) => {
                log.file().sync(true)?;
                self.note_synced(&replay.log, size)?;
                Ok(Step::Progress)
            }
            (ReplayStep::Apply { from }, Some(log)) => {
                let outcome = self.replay_run(&replay, from, &log, size)?;
                let due = self.unflushed.as_ref().is_some_and(|u| {
                    !matches!(outcome, Outcome::Applied)
                        || real_ns().saturating_sub(u.since) >= FLUSH_INTERVAL_NS
                        || u.end.saturating_sub(u.from) >= FLUSH_BYTES
                });
                if due {
                    self.flush(&tree, &dir, me, &replay)?;
                }
                match outcome {
                    Outcome::Applied => Ok(Step::Progress),
                    Outcome::Nothing => Ok(Step::Idle),
                    Outcome::Damaged(at) => self.damaged(&replay, at),
                }
            }
            (ReplayStep::SyncCopy | ReplayStep::Apply { .. }, None) => Ok(Step::Idle),
            (ReplayStep::Flush, _) => {
                // Caught up: the links say so now.
                self.flush(&tree, &dir, me, &replay)?;
                Ok(Step::Progress)
            }
            (ReplayStep::AtEnd, _) => self.at_end(&tree, &dir, res, me, &replay),
        }
    }

    /// How far the local copy of `log` is durable, as far as this thread knows.
    fn synced_size(&self, log: &LogName<'_>) -> u64 {
        match &self.synced {
            Some(s) if s.nr == log.nr && s.host.as_slice() == log.host.as_bytes() => s.size,
            _ => 0,
        }
    }

    fn note_synced(&mut self, log: &LogName<'_>, size: u64) -> Result {
        match &mut self.synced {
            Some(s) if s.nr == log.nr && s.host.as_slice() == log.host.as_bytes() => s.size = size,
            _ => {
                let mut host = KVec::new();
                host.extend_from_slice(log.host.as_bytes(), GFP_KERNEL)?;
                self.synced = Some(Synced { nr: log.nr, host, size });
            }
        }
        Ok(())
    }

    /// The local copy is replayed to its end and flushed: may replay move on to the
    /// next logfile?
    fn at_end(&mut self, tree: &Tree<'_>, dir: &CStr, res: &str, me: &str, replay: &ReplayLink<'_>) -> Result<Step> {
        let entries = vfs::list_dir(dir)?;
        let names = || entries.iter().filter_map(|e| e.to_str().ok());
        // (Deleted links' marks included: they tell a discarded history's copies.)
        let raw = |name: &str| tree.read_raw(&path(fmt!("{}/{}", &*dir, name)).ok()?).ok().flatten();
        let next = match next_in_sequence(replay.log, names().filter_map(|n| LogName::parse(n).ok()), names, raw) {
            Ok(next) => next,
            Err(stop) => return self.stopped(tree, dir, me, res, stop),
        };
        let version = |nr: u32, host: &str| tree.read(&path(fmt!("{}/{}{:09}-{}", &*dir, VERSION_PREFIX, nr, host))?);
        let mut mine = version(replay.log.nr, me)?;
        let stale = match mine.as_deref() {
            None => true,
            Some(v) => text(v).is_ok_and(|v| rewrite_version(Some(v), replay)),
        };
        if stale {
            // Missing or behind the replay link (`replication::rewrite_version`): this
            // host's history of the logfile ends at the replay position.
            tree.write_version_link(&self.ctx.digests, dir, replay.log, me, replay.start)?;
            mine = version(replay.log.nr, me)?;
        }
        let origin = version(replay.log.nr, replay.log.host)?;
        let mut next_version = match next {
            Some(n) => version(n.nr, n.host)?,
            None => None,
        };
        if let Some(n) = next.filter(|_| next_version.as_deref().and_then(|v| text(v).ok()).is_none_or(|v| VersionLink::parse(v).is_err())) {
            // The writer's link is missing or deleted: another host's that names the
            // next logfile and chains onto this host's (`stands_for_writer`).
            let prefix = path(fmt!("{}{:09}-", VERSION_PREFIX, n.nr))?;
            let prefix = prefix.to_str().map_err(|_| EINVAL)?;
            let mine_text = mine.as_deref().and_then(|v| text(v).ok());
            for name in names().filter(|name| name.starts_with(prefix)) {
                let Some(v) = tree.read(&path(fmt!("{}/{}", &*dir, name))?)? else { continue };
                if text(&v).is_ok_and(|t| stands_for_writer(t, n, mine_text)) {
                    next_version = Some(v);
                    break;
                }
            }
        }
        let next_copy = match next {
            // Confirmed (its size does not matter then) before the size is read: the
            // fetch cuts a copy before it confirms it.
            Some(n) if n.host == me || self.repair.is_confirmed(n) => Some(NextCopy { size: 0, confirmed: true }),
            Some(n) => match open_logfile(dir, n, OpenFlags::READ, 0) {
                Ok(f) => Some(NextCopy { size: f.size(), confirmed: false }),
                Err(e) if e == ENOENT => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let syncpos = tree.read(&path(fmt!("{}/{}{}", &*dir, SYNCPOS_PREFIX, me))?)?;
        let syncpos = syncpos.as_deref().and_then(|v| text(v).ok());
        let synced = syncpos.and_then(|p| ReplayLink::parse(p).ok());
        let off_synced_history = match (next, synced) {
            (Some(n), Some(s)) => leaves_synced_history(n, s.log, |l| version(l.nr, l.host).ok().flatten()),
            _ => false,
        };
        let links = SwitchLinks {
            mine: mine.as_deref().and_then(|v| text(v).ok()),
            origin: origin.as_deref().and_then(|v| text(v).ok()),
            next: next_version.as_deref().and_then(|v| text(v).ok()),
            next_copy,
            syncpos,
            off_synced_history,
        };
        let decision = switchover(replay, next, &links);
        if !matches!(decision, Switchover::Stop(_)) && matches!(self.reported, Some(Problem::Stopped(_))) {
            // The links that stopped it changed: no stop any more.
            self.reported = None;
            self.show_stop(tree, dir, me, None)?;
        }
        match decision {
            Switchover::Switch(next) => {
                let fresh = ReplayLink { log: next, start: 0, len: 0 };
                tree.write_replay_link(dir, me, &fresh)?;
                pr_info!("resource {}: replay continues with {}\n", res, next);
                Ok(Step::Progress)
            }
            Switchover::Wait(_) => Ok(Step::Idle),
            Switchover::Stop(stop) => self.stopped(tree, dir, me, res, stop),
        }
    }

    /// Where replay goes on in the logfile `replay` names: after what is applied but not
    /// yet in the link, if the link still says what it said then (else someone moved it,
    /// and the link wins).
    fn resume_at(&mut self, replay: &ReplayLink<'_>) -> u64 {
        match &self.unflushed {
            Some(u) if u.nr == replay.log.nr && u.host.as_slice() == replay.log.host.as_bytes() && u.from == replay.start => u.end,
            Some(_) => {
                self.unflushed = None;
                replay.start
            }
            None => replay.start,
        }
    }

    /// Applies what the local copy holds from `start` up to its `size` to the
    /// disk, window by window, until a flush is due (`FLUSH_INTERVAL_NS`, `FLUSH_BYTES`)
    /// or the thread is asked to stop; does not flush.
    fn replay_run(&mut self, replay: &ReplayLink<'_>, start: u64, log: &Logfile, size: u64) -> Result<Outcome> {
        // The sequence number continues from the record at the replay position.
        let mut head = [0u8; HEADER_LEN];
        let got = log.file().read_full_at(&mut head, start)?;
        let first_seq = match decode_header(&head[..got]) {
            Ok(header) => header.seq,
            // Still being fetched.
            Err(RecordError::Truncated { .. }) => return Ok(Outcome::Nothing),
            Err(_) => return Ok(Outcome::Damaged(start)),
        };
        let since = self.unflushed.as_ref().map_or_else(real_ns, |u| u.since);
        let pending = self.unflushed.as_ref().map_or(0, |u| u.end.saturating_sub(u.from));
        let go_on = |done: u64| {
            real_ns().saturating_sub(since) < FLUSH_INTERVAL_NS && pending.saturating_add(done) < FLUSH_BYTES && !thread::should_stop()
        };
        let (disk, digests, windows) = (&self.disk, &self.ctx.digests, &mut self.windows);
        let run = self.repair.apply(replay.log.nr, || {
            let run = apply_windows(log, size, start, first_seq, start, disk, digests, windows, go_on)?;
            let end = run.end;
            Ok((run, end))
        })?;
        let damaged = match run.stop {
            Some(ScanEnd::Bad { error: RecordError::Truncated { .. }, .. }) => false,
            // Zeros after the last record: nothing a fetch appends looks like this.
            Some(ScanEnd::Clean) => run.left_over > 0,
            Some(_) => true,
            None => false,
        };
        if run.end > start {
            match &mut self.unflushed {
                Some(u) => {
                    u.end = run.end;
                    u.size = size;
                }
                None => {
                    let mut host = KVec::new();
                    host.extend_from_slice(replay.log.host.as_bytes(), GFP_KERNEL)?;
                    self.unflushed = Some(Unflushed { nr: replay.log.nr, host, from: replay.start, end: run.end, size, since });
                }
            }
            self.rate.add(run.end - start);
            if matches!(self.reported, Some(Problem::Damaged { .. })) {
                self.reported = None;
            }
        }
        Ok(if damaged {
            Outcome::Damaged(run.end)
        } else if run.end > start {
            Outcome::Applied
        } else {
            Outcome::Nothing
        })
    }

    /// Flushes the disk, then records in the links that everything applied is on it
    /// (unless the replay link no longer says what it said when that was applied).
    fn flush(&mut self, tree: &Tree<'_>, dir: &CStr, me: &str, replay: &ReplayLink<'_>) -> Result {
        let Some(u) = self.unflushed.take() else { return Ok(()) };
        if u.nr != replay.log.nr || u.host.as_slice() != replay.log.host.as_bytes() || u.from != replay.start {
            return Ok(());
        }
        // The disk holds the records before the links say so.
        self.disk.flush()?;
        let at = ReplayLink { log: replay.log, start: u.end, len: u.size.saturating_sub(u.end) };
        tree.write_replay_link(dir, me, &at)?;
        tree.write_version_link(&self.ctx.digests, dir, replay.log, me, u.end)
    }

    /// [`Follower::flush`] with the replay link as it is now.
    fn flush_now(&mut self) -> Result {
        if self.unflushed.is_none() {
            return Ok(());
        }
        let ctx = self.ctx.clone();
        let tree = Tree { clock: &ctx.clock };
        let me = host_name()?;
        let me = text(&me)?;
        let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, text(&self.res)?))?;
        let Some(link) = tree.replay_link(&dir, me)? else { return Ok(()) };
        let replay = ReplayLink::parse(text(&link)?).map_err(|_| EINVAL)?;
        self.flush(&tree, &dir, me, &replay)
    }

    /// The local copy of the replayed logfile is damaged at `at`: the fetch thread cuts
    /// it there and fetches the rest again.
    fn damaged(&mut self, replay: &ReplayLink<'_>, at: u64) -> Result<Step> {
        let problem = Problem::Damaged { nr: replay.log.nr, at };
        if self.reported != Some(problem) {
            pr_warn!("resource {}: {} is damaged at byte {}; it will be fetched again from there\n", text(&self.res)?, replay.log, at);
            self.reported = Some(problem);
        }
        // The fetch cuts the copy there: what it appends again is not synced.
        if let Some(s) = self.synced.as_mut().filter(|s| s.nr == replay.log.nr && s.host.as_slice() == replay.log.host.as_bytes()) {
            s.size = s.size.min(at);
        }
        self.repair.request(replay.log.nr, at);
        Ok(Step::Idle)
    }

    /// Replay cannot go on without an administrator: say so once.
    fn stopped(&mut self, tree: &Tree<'_>, dir: &CStr, me: &str, res: &str, stop: Stop) -> Result<Step> {
        if self.reported != Some(Problem::Stopped(stop)) {
            pr_err!("resource {}: replay stopped: {}\n", res, stop);
            self.reported = Some(Problem::Stopped(stop));
        }
        self.show_stop(tree, dir, me, Some(stop))?;
        Ok(Step::Idle)
    }

    /// Says in `actual-<me>/replay-stopped` why replay stopped (`0`: it is not), for
    /// `marsadm view` and `events` (`replication::REPLAY_STOPPED`).
    fn show_stop(&mut self, tree: &Tree<'_>, dir: &CStr, me: &str, stop: Option<Stop>) -> Result {
        if self.shown == Some(stop) {
            return Ok(());
        }
        let actual = path(fmt!("{}/{}{}", dir, ACTUAL_PREFIX, me))?;
        tree.write(&actual, REPLAY_STOPPED, stop.map_or("0", Stop::word))?;
        self.shown = Some(stop);
        Ok(())
    }
}
