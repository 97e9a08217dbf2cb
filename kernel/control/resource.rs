// SPDX-License-Identifier: GPL-2.0

//! A resource running on this host: its underlying disk (held exclusively while
//! attached) and, in the primary role, its device `/dev/mars/<devname>`.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::primary::device::Device;
use crate::secondary::fetch::{Fetcher, Repair};
use crate::secondary::sync::Syncer;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::{File, OpenFlags};
use crate::kapi::gendisk::{Disk, IoStats};
use crate::kapi::vfs;
use crate::primary::buffer::WriteBuffer;
use crate::primary::log::{CurrentLog, Log};
use crate::primary::logger::{create_log, LogTarget, Logger};
use crate::primary::reader::Reader;
use crate::mars_core::emergency::{ResourceEmergency, Resume};
use crate::mars_core::handover::{Mode, Wait};
use crate::mars_core::role::Role;
use crate::mars_core::syncgate::Place;
use crate::mars_core::tree::{LogName, ReplayLink, DEVICE_DIR};
use crate::secondary::replay::{replay, Replayed, Replayer};
use crate::context::Context;
use crate::net::served::{Primaries, Served};
use crate::tree::{open_logfile, path, Logfile, Tree};

/// A resource this host is attached to.
pub(crate) struct Resource {
    /// Resource name (the `<res>` of `resource-<res>`).
    pub(crate) name: KVec<u8>,
    /// Dropped first: no new requests after the device is gone.
    device: Option<Disk<Device>>,
    /// Dropped next: the logger finishes what is queued, then stops.
    logger: Option<Logger>,
    /// On the primary: the logfile being written (for rotation).
    current: Option<Arc<CurrentLog>>,
    /// On a secondary: the thread fetching the primary's logfiles.
    fetcher: Option<Fetcher>,
    /// On a secondary whose disk is not a copy yet: the full sync thread.
    syncer: Option<Syncer>,
    /// The sync is wanted but waits for `sync_limit`: its place in the queue.
    sync_queued: Option<Place>,
    /// On a secondary: the thread replaying the fetched logfiles.
    replayer: Option<Replayer>,
    /// Damage replay found in a fetched logfile, for the fetch thread to repair.
    repair: Arc<Repair>,
    /// Why this host, designated primary, does not take over yet (logged when it changes).
    waiting: Option<Wait>,
    /// Designated elsewhere, but the device is open: it stays primary (logged once).
    remains: bool,
    /// On the primary: when logging that ceased resumes.
    resume: Resume,
    /// A `size` this host cannot follow (smaller than the device, or larger than the
    /// disk): logged once, 0 when there is none.
    size_refused: u64,
    ctx: Arc<Context>,
    /// Where it is registered for the servers while primary here.
    primaries: Arc<Primaries>,
    lower: Arc<BlockDevice>,
    /// Unique address identifying us as the exclusive holder of `lower`.
    _holder: KBox<u8>,
}

/// Source of the sync queue's `Place::seq` (unique, growing).
static QUEUE_STAMP: AtomicU64 = AtomicU64::new(0);

/// What the tree says a resource should look like on this host.
pub(crate) struct Setup<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) data_path: &'a CStr,
    pub(crate) devname: &'a str,
    pub(crate) size: u64,
}

impl Resource {
    /// Attaches: opens the underlying disk exclusively.
    pub(crate) fn attach(setup: &Setup<'_>, ctx: &Arc<Context>, primaries: &Arc<Primaries>) -> Result<Resource> {
        let holder = KBox::new(0u8, GFP_KERNEL)?;
        let holder_ptr = (&*holder as *const u8).cast_mut().cast();
        let lower = BlockDevice::open_exclusive(setup.data_path, holder_ptr)?;
        if lower.sectors().saturating_mul(512) < setup.size {
            pr_err!("disk {} is smaller than the resource ({} bytes)\n", setup.data_path, setup.size);
            return Err(ENOSPC);
        }
        let mut name = KVec::with_capacity(setup.name.len(), GFP_KERNEL)?;
        name.extend_from_slice(setup.name, GFP_KERNEL)?;
        Ok(Resource {
            name,
            device: None,
            logger: None,
            current: None,
            fetcher: None,
            syncer: None,
            sync_queued: None,
            replayer: None,
            repair: Repair::new()?,
            waiting: None,
            remains: false,
            resume: Resume::default(),
            size_refused: 0,
            ctx: ctx.clone(),
            primaries: primaries.clone(),
            lower: Arc::new(lower, GFP_KERNEL)?,
            _holder: holder,
        })
    }

    /// The role this resource currently has.
    pub(crate) fn role(&self) -> Role {
        if self.device.is_some() {
            Role::Primary
        } else {
            Role::Secondary
        }
    }

    /// Becomes primary (`mars_core::handover`): first brings the disk up to date from
    /// the log its replay link names — its own logfiles after a crash (`Mode::Own`), or
    /// the rest of the old primary's logfile it replays (`Planned`, `Forced`) — then
    /// starts the next logfile of its own (never appending to one with content), starts
    /// the logger, and only then creates `/dev/mars/<devname>`.
    pub(crate) fn make_primary(&mut self, setup: &Setup<'_>, dir: &CStr, me: &str, module: &'static ThisModule, mode: Mode) -> Result {
        if self.device.is_some() {
            return Ok(());
        }
        // The size may have grown since the disk was attached (marsadm resize).
        if self.disk_bytes() < setup.size {
            pr_err!("resource {}: disk {} ({} bytes) is smaller than the resource ({} bytes): not becoming primary\n",
                core::str::from_utf8(setup.name).unwrap_or(""), setup.data_path, self.disk_bytes(), setup.size);
            return Err(ENOSPC);
        }
        self.fetcher = None;
        self.syncer = None;
        self.sync_queued = None;
        self.replayer = None;
        let ctx = &self.ctx;
        let tree = Tree { clock: &ctx.clock };
        let value = tree.replay_link(dir, me)?.ok_or(EINVAL)?;
        let text = core::str::from_utf8(&value).map_err(|_| EINVAL)?.trim_end();
        let link = ReplayLink::parse(text).map_err(|_| EINVAL)?;
        let (log, nr) = if link.log.host == me {
            recover_own(&tree, ctx, &self.lower, dir, me, &link)?
        } else {
            finish_foreign(&tree, ctx, &self.lower, dir, me, &link, mode)?
        };
        if nr != link.log.nr || link.log.host != me {
            let fresh = ReplayLink { log: LogName { nr, host: me }, start: 0, len: 0 };
            tree.write_replay_link(dir, me, &fresh)?;
        }
        let log = Arc::new(Log::new(log, nr, dir, me)?, GFP_KERNEL)?;
        let buffer = WriteBuffer::new()?;
        let reader = Reader::start(self.lower.clone())?;
        let handler = Arc::new(Device { buffer: buffer.clone(), reads: reader.queue.clone(), lower: self.lower.clone(), ctx: ctx.clone() }, GFP_KERNEL)?;
        // The new logfile's version link exists at once, so secondaries can move on to it.
        tree.write_version_link(&ctx.digests, dir, LogName { nr, host: me }, me, 0)?;
        let current = CurrentLog::new(log.clone())?;
        let served = Served { disk: self.lower.clone(), log: current.clone(), size: setup.size };
        let logger = Logger::start(ctx.clone(), buffer, reader, self.lower.clone(), current.clone(), LogTarget::new(log))?;
        let name = path(fmt!("{}/{}", DEVICE_DIR, setup.devname))?;
        self.device = Some(Disk::new(&name, setup.size / 512, &self.lower, handler, module)?);
        self.logger = Some(logger);
        self.current = Some(current);
        self.primaries.serve(&self.name, served)?;
        pr_info!("{}: primary now, logging to {}\n", dir, LogName { nr, host: me });
        Ok(())
    }

    /// A host that was primary when it crashed and is not designated any more: before it
    /// says it left the role (`is-primary` = 0, which a host taking over acts on), its
    /// own log is recovered as a takeover would (replayed to its end, torn tail cut) and
    /// its replay link names that end. Otherwise it would publish the position it had
    /// reported before the crash as its final one, and the new primary would take over
    /// there without the writes logged after it (found by the simulation,
    /// docu/simulation.md).
    pub(crate) fn recover_left(&mut self, dir: &CStr, me: &str) -> Result {
        let tree = Tree { clock: &self.ctx.clock };
        let Some(value) = tree.replay_link(dir, me)? else { return Ok(()) };
        let text = core::str::from_utf8(&value).map_err(|_| EINVAL)?.trim_end();
        let link = ReplayLink::parse(text).map_err(|_| EINVAL)?;
        if link.log.host != me {
            return Ok(());
        }
        // Nothing else writes the disk meanwhile.
        self.replayer = None;
        self.syncer = None;
        // (It flushes the disk.)
        let (_, nr, end) = replay_own(&tree, &self.ctx, &self.lower, dir, me, &link)?;
        if (nr, end) != (link.log.nr, link.start) {
            let at = ReplayLink { log: LogName { nr, host: me }, start: end, len: 0 };
            tree.write_replay_link(dir, me, &at)?;
            pr_info!("{}: recovered this host's log to {} before leaving the primary role\n", dir, at);
        }
        Ok(())
    }

    /// On a secondary: fetches `primary`'s logfiles (restarted when the primary changes),
    /// or stops fetching (`None`).
    pub(crate) fn fetch_from(&mut self, res: &str, primary: Option<&str>) -> Result {
        let Some(primary) = primary else {
            self.fetcher = None;
            return Ok(());
        };
        if self.fetcher.as_ref().is_some_and(|f| f.source.as_slice() == primary.as_bytes()) {
            return Ok(());
        }
        self.fetcher = None;
        self.fetcher = Some(Fetcher::start(self.ctx.clone(), res, primary, self.repair.clone())?);
        Ok(())
    }

    /// On a secondary: runs the full sync from `primary` (restarted when the primary
    /// changes), or stops it (`None`).
    pub(crate) fn sync_from(&mut self, res: &str, primary: Option<&str>, size: u64) -> Result {
        let Some(primary) = primary else {
            self.syncer = None;
            return Ok(());
        };
        if self.syncer.as_ref().is_some_and(|s| s.primary.as_slice() == primary.as_bytes() && s.size == size) {
            return Ok(());
        }
        self.syncer = None;
        // After a resize (the size link grew), this disk may not have grown yet.
        if self.disk_bytes() < size {
            if self.size_refused != size {
                pr_err!("resource {}: disk has {} bytes, the resource {}: not syncing until the disk is grown\n", res, self.disk_bytes(), size);
                self.size_refused = size;
            }
            return Ok(());
        }
        self.syncer = Some(Syncer::start(self.ctx.clone(), res, primary, self.lower.clone(), size)?);
        Ok(())
    }

    /// Whether its full sync runs (also one that has finished and waits to be stopped).
    pub(crate) fn is_syncing(&self) -> bool {
        self.syncer.is_some()
    }

    /// Its place in the queue of syncs waiting for `sync_limit` (`None`: not queued).
    pub(crate) fn sync_queued(&self) -> Option<Place> {
        self.sync_queued
    }

    /// Queues its wanted sync, asked for at stamp `asked` (it keeps its place while it
    /// stays queued), or takes it out of the queue (`None`: started, or no longer
    /// wanted).
    pub(crate) fn queue_sync(&mut self, res: &str, asked: Option<u64>) {
        match asked {
            None => self.sync_queued = None,
            Some(asked) if self.sync_queued.is_none() => {
                pr_info!("resource {}: full sync waits for sync_limit\n", res);
                self.sync_queued = Some(Place { asked, seq: QUEUE_STAMP.fetch_add(1, Ordering::Relaxed) });
            }
            Some(_) => {}
        }
    }

    /// On the primary: grows `/dev/mars/<dev>` to `size` bytes when the `size` link grew
    /// (`marsadm resize`), and lets the sync server serve the new area. Only growth: a
    /// smaller size, or one the underlying disk cannot hold, is refused (logged once) and
    /// the device stays as it is.
    pub(crate) fn grow(&mut self, res: &str, size: u64) -> Result {
        let disk = self.disk_bytes();
        let (Some(device), Some(current)) = (self.device.as_mut(), self.current.as_ref()) else { return Ok(()) };
        let now = device.sectors();
        let want = size / 512;
        if want == now {
            self.size_refused = 0;
            return Ok(());
        }
        let log = self.size_refused != size;
        self.size_refused = size;
        let now_bytes = now.saturating_mul(512);
        if want < now {
            if log {
                pr_err!("resource {}: size {} is smaller than the device ({} bytes): refused, a resource only grows\n", res, size, now_bytes);
            }
            return Err(EINVAL);
        }
        if disk < size {
            if log {
                pr_err!("resource {}: cannot grow to {} bytes: the underlying disk has {} bytes; the device stays at {} bytes\n", res, size, disk, now_bytes);
            }
            return Err(ENOSPC);
        }
        let served = Served { disk: self.lower.clone(), log: current.clone(), size };
        self.primaries.serve(&self.name, served)?;
        device.set_sectors(want);
        self.size_refused = 0;
        pr_info!("resource {}: device grown from {} to {} bytes\n", res, now_bytes, size);
        Ok(())
    }

    /// Errno of the disk's last failed I/O (negative), 0 if it works.
    pub(crate) fn disk_error(&self) -> i32 {
        self.lower.error()
    }

    /// Size in bytes of the underlying disk as it is now (it may grow while attached).
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.lower.sectors().saturating_mul(512)
    }

    /// On a secondary: replays the fetched logfiles (`on`) or stops replaying. Never
    /// together with the sync (the caller decides).
    pub(crate) fn replay(&mut self, res: &str, on: bool) -> Result {
        if !on {
            self.replayer = None;
        } else if self.replayer.is_none() {
            self.replayer = Some(Replayer::start(self.ctx.clone(), res, self.lower.clone(), self.repair.clone())?);
        }
        Ok(())
    }

    /// On the primary: if `marsadm log-rotate` created the next logfile (empty), the
    /// logger continues in it.
    pub(crate) fn rotate_if_asked(&self, dir: &CStr, me: &str) -> Result {
        let Some(current) = &self.current else { return Ok(()) };
        // Logging has ceased: the next logfile is the one after the hole.
        if current.rotating() || current.ceased() {
            return Ok(());
        }
        let now = current.get();
        // The highest logfile number has no next one: the logger stays in it.
        let Some(next) = (LogName { nr: now.nr, host: me }).next() else { return Ok(()) };
        let file = match open_logfile(dir, next, OpenFlags::READ_WRITE, 0) {
            Ok(f) => f,
            Err(e) if e == ENOENT => return Ok(()),
            Err(e) => return Err(e),
        };
        if file.size() != 0 {
            pr_err!("{}: {} is not empty; not rotating into it\n", dir, next);
            return Err(EEXIST);
        }
        let log = Log::new(file, next.nr, dir, me)?;
        current.rotate_to(Arc::new(log, GFP_KERNEL)?);
        Ok(())
    }

    /// On the primary: ceases logging (emergency mode) or resumes it, as
    /// `mars_core::emergency::Resume` decides from this round's space.
    pub(crate) fn follow_emergency(&mut self, e: &ResourceEmergency, rest: u64) {
        if let Some(current) = &self.current {
            current.set_cease(self.resume.cease(e, current.ceased(), current.failed(), rest));
        }
    }

    /// On the primary: (logging has ceased, a logfile write or sync failed).
    pub(crate) fn emergency(&self) -> (bool, bool) {
        self.current.as_ref().map_or((false, false), |c| (c.ceased(), c.failed()))
    }

    /// Why a takeover waits (`None`: it does not), as last recorded.
    pub(crate) fn waiting(&self) -> Option<Wait> {
        self.waiting
    }

    /// Records why a takeover waits (`None`: it does not), logging each new reason.
    pub(crate) fn note_wait(&mut self, res: &str, why: Option<Wait>) {
        if why != self.waiting {
            if let Some(w) = why {
                pr_info!("resource {}: designated primary, not taking over yet: {}\n", res, w);
            }
            self.waiting = why;
        }
    }

    /// Records that the device stays because it is open although another host is
    /// designated primary (logged once).
    pub(crate) fn note_remains(&mut self, res: &str, remains: bool) {
        if remains && !self.remains {
            pr_info!("resource {}: another host is designated primary; the device stays until it is closed ({} openers)\n", res, self.open_count());
        }
        self.remains = remains;
    }

    /// Which secondary activities run: (fetch, sync, replay).
    pub(crate) fn activity(&self) -> (bool, bool, bool) {
        (self.fetcher.is_some(), self.syncer.is_some(), self.replayer.is_some())
    }

    /// Openers of the device (0 without a device).
    pub(crate) fn open_count(&self) -> i32 {
        self.device.as_ref().map_or(0, |d| d.open_count())
    }

    /// What the device's requests did (without a device: none).
    pub(crate) fn io_stats(&self) -> Option<&IoStats> {
        self.device.as_ref().map(|d| d.io_stats())
    }

    /// Gives up the primary role (removes the device); refused while it is open.
    pub(crate) fn make_secondary(&mut self) -> Result {
        if self.open_count() > 0 {
            return Err(EBUSY);
        }
        let was_primary = self.device.is_some();
        // No new requests, then the logger writes back everything and leaves the final
        // replay and version links of its logfile, cut to its last record: served until
        // then as the current logfile (only as far as durable), never with the zeros
        // the logger wrote ahead.
        self.device = None;
        self.logger = None;
        self.primaries.unserve(&self.name);
        self.current = None;
        if was_primary {
            pr_info!("resource {}: left the primary role\n", core::str::from_utf8(&self.name).unwrap_or(""));
        }
        Ok(())
    }
}

impl Drop for Resource {
    fn drop(&mut self) {
        // The sync server must not read a disk that is about to be released.
        self.primaries.unserve(&self.name);
    }
}

/// Recovery of this host's own log (design reference §1.7): replays every own logfile
/// from the replay link's on (a rotation may have started the next one before the link
/// moved; after an emergency the next one is past the hole), each from where the disk
/// is; cuts a torn tail at the last valid record (so secondaries can finish the logfile)
/// and repairs the version link to the real end. Returns the logfile to log into: the
/// last one if empty, else a new next one.
fn recover_own(tree: &Tree<'_>, ctx: &Context, disk: &BlockDevice, dir: &CStr, me: &str, link: &ReplayLink<'_>) -> Result<(File, u32)> {
    let (log, last_nr, last_size) = replay_own(tree, ctx, disk, dir, me, link)?;
    if last_size == 0 {
        return Ok((log, last_nr));
    }
    let next = LogName { nr: last_nr, host: me }.next().ok_or(EINVAL)?;
    Ok((create_log(dir, next)?, next.nr))
}

/// Replays this host's own logfiles from the one `link` names (from its position) to
/// their ends, cuts torn tails and writes their version links at the ends; returns the
/// last logfile, its number and its valid length.
fn replay_own(tree: &Tree<'_>, ctx: &Context, disk: &BlockDevice, dir: &CStr, me: &str, link: &ReplayLink<'_>) -> Result<(File, u32, u64)> {
    let numbers = own_logfiles(dir, me, link.log.nr)?;
    if numbers.first() != Some(&link.log.nr) {
        pr_err!("{}: {} named by the replay link is missing\n", dir, link.log);
        return Err(ENOENT);
    }
    let mut last: Option<(File, u32, u64)> = None;
    for &nr in numbers.iter() {
        let start = if nr == link.log.nr { link.start } else { 0 };
        let name = LogName { nr, host: me };
        let log = Logfile::open(dir, name, OpenFlags::READ_WRITE, 0)?;
        let r = replay(&log, disk, start, &ctx.digests)?;
        if r.applied > 0 || r.end < r.size {
            pr_info!("{}: recovery applied {} records of logfile {} from {} (valid log {} of {} bytes)\n", dir, r.applied, nr, start, r.end, r.size);
        }
        cut_tail(log.file(), dir, name, &r)?;
        if r.size > 0 {
            tree.write_version_link(&ctx.digests, dir, name, me, r.end)?;
        }
        last = Some((log.into_file(), nr, r.end));
    }
    last.ok_or(EINVAL)
}

/// Numbers of this host's logfiles in `dir` from `from` on, ascending.
fn own_logfiles(dir: &CStr, me: &str, from: u32) -> Result<KVec<u32>> {
    let mut numbers = KVec::new();
    for entry in vfs::list_dir(dir)? {
        let Ok(name) = entry.to_str() else { continue };
        if let Ok(log) = LogName::parse(name) {
            if log.host == me && log.nr >= from {
                numbers.push(log.nr, GFP_KERNEL)?;
            }
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Emergency level 2 on a resource this host is not designated primary of: deletes the
/// logfiles before the one its replay link names (replayed here, maybe not yet by other
/// members). Returns the bytes freed.
pub(crate) fn delete_replayed(dir: &CStr, res: &str, replay_nr: u32) -> Result<u64> {
    let mut freed = 0u64;
    for entry in vfs::list_dir(dir)? {
        let Ok(name) = entry.to_str() else { continue };
        let Ok(log) = LogName::parse(name) else { continue };
        if log.nr >= replay_nr {
            continue;
        }
        let size = open_logfile(dir, log, OpenFlags::READ, 0).map_or(0, |f| f.size());
        if vfs::unlink(dir, name.as_bytes())? {
            pr_warn!("resource {}: emergency: deleted replayed logfile {} ({} KiB) to free space in /mars\n", res, name, size / 1024);
            freed = freed.saturating_add(size);
        }
    }
    Ok(freed)
}

/// Takeover of another host's log (planned or forced, `mars_core::handover`): replays
/// the rest of the logfile the replay link names, as far as it is valid here; a torn or
/// damaged tail (forced: the rest was never fetched) is cut and reported. This host's
/// replay and version links then record where its history of that logfile ends, and
/// the next logfile number is its own.
fn finish_foreign(tree: &Tree<'_>, ctx: &Context, disk: &BlockDevice, dir: &CStr, me: &str, link: &ReplayLink<'_>, mode: Mode) -> Result<(File, u32)> {
    let end = match Logfile::open(dir, link.log, OpenFlags::READ_WRITE, 0) {
        Ok(log) => {
            let r = replay(&log, disk, link.start, &ctx.digests)?;
            pr_info!("{}: {:?} takeover: replayed {} records of {} from {} to {}\n", dir, mode, r.applied, link.log, link.start, r.end);
            cut_tail(log.file(), dir, link.log, &r)?;
            r.end
        }
        // Nothing of it fetched yet (a forced takeover right after the sync).
        Err(e) if e == ENOENT && link.start == 0 => 0,
        Err(e) => return Err(e),
    };
    if end < link.start {
        pr_err!("{}: {} ends at {} before the replay position {}\n", dir, link.log, end, link.start);
        return Err(EINVAL);
    }
    let at = ReplayLink { log: link.log, start: end, len: 0 };
    tree.write_replay_link(dir, me, &at)?;
    tree.write_version_link(&ctx.digests, dir, link.log, me, end)?;
    let next = LogName { nr: link.log.nr, host: me }.next().ok_or(EINVAL)?;
    Ok((create_log(dir, next)?, next.nr))
}

/// Cuts logfile `name` after its last valid record (`r.end`): a torn tail, or the zeros
/// the logger wrote ahead before a crash.
fn cut_tail(log: &File, dir: &CStr, name: LogName<'_>, r: &Replayed) -> Result {
    if r.end < r.size {
        if r.zeros {
            pr_info!("{}: {}: cut the {} bytes of zeros after its last record at {}\n", dir, name, r.size - r.end, r.end);
        } else {
            pr_warn!("{}: {} has {} bytes after its last valid record at {}: dropped\n", dir, name, r.size - r.end, r.end);
        }
        log.truncate(r.end)?;
    }
    Ok(())
}
