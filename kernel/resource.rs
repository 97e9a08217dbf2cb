// SPDX-License-Identifier: GPL-2.0

//! A resource running on this host: its underlying disk (held exclusively while
//! attached) and, in the primary role, its device `/dev/mars/<devname>`.

use core::sync::atomic::AtomicU64;

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;

use crate::device::Device;
use crate::fetch::{Fetcher, Repair};
use crate::sync::Syncer;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::{File, OpenFlags};
use crate::kapi::gendisk::Disk;
use crate::buffer::WriteBuffer;
use crate::logger::{CurrentLog, Log, LogTarget, Logger};
use crate::reader::Reader;
use crate::mars_core::role::Role;
use crate::mars_core::tree::{LogName, ReplayLink, REPLAY_PREFIX};
use crate::replay::{replay, Replayer};
use crate::strategy::{Main, Served};
use crate::tree::{path, Tree};

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
    /// On a secondary: the thread replaying the fetched logfiles.
    replayer: Option<Replayer>,
    /// Damage replay found in a fetched logfile, for the fetch thread to repair.
    repair: Arc<Repair>,
    main: Arc<Main>,
    lower: Arc<BlockDevice>,
    /// Unique address identifying us as the exclusive holder of `lower`.
    _holder: KBox<u8>,
}

/// What the tree says a resource should look like on this host.
pub(crate) struct Setup<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) data_path: &'a CStr,
    pub(crate) devname: &'a str,
    pub(crate) size: u64,
}

impl Resource {
    /// Attaches: opens the underlying disk exclusively.
    pub(crate) fn attach(setup: &Setup<'_>, main: &Arc<Main>) -> Result<Resource> {
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
            replayer: None,
            repair: Repair::new()?,
            main: main.clone(),
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

    /// Becomes primary: recovers the disk from the current logfile (replay from the
    /// writeback position in `replay-<me>`), starts a fresh logfile unless the current
    /// one is empty, starts the logger, and only then creates `/dev/mars/<devname>`.
    pub(crate) fn make_primary(&mut self, setup: &Setup<'_>, main: &Arc<Main>, dir: &CStr, me: &str, module: &'static ThisModule) -> Result {
        if self.device.is_some() {
            return Ok(());
        }
        self.fetcher = None;
        self.syncer = None;
        self.replayer = None;
        let tree = Tree { clock: &main.clock };
        let replay_name = path(fmt!("{}{}", REPLAY_PREFIX, me))?;
        let value = tree.read(&path(fmt!("{}/{}", dir, &*replay_name))?)?.ok_or(EINVAL)?;
        let text = core::str::from_utf8(&value).map_err(|_| EINVAL)?.trim_end();
        let link = ReplayLink::parse(text).map_err(|_| EINVAL)?;
        if link.log.host != me {
            // Taking over another host's log comes with replication (handover).
            pr_err!("{}: replay link names a log of {}, not of this host\n", dir, link.log.host);
            return Err(EINVAL);
        }
        // Recovery: every own logfile from the replay link's on (a rotation may have
        // started the next one before the link moved), each from where the disk is.
        let (mut nr, mut start) = (link.log.nr, link.start);
        let mut last: Option<(File, u32, u64)> = None;
        loop {
            let log_path = path(fmt!("{}/{}", dir, LogName { nr, host: me }))?;
            let log = match File::open(&log_path, OpenFlags::READ_WRITE, 0) {
                Ok(f) => f,
                Err(e) if e == ENOENT && last.is_some() => break,
                Err(e) => return Err(e),
            };
            let r = replay(&log, &self.lower, start, &main.digests)?;
            if r.applied > 0 || r.end < r.size {
                pr_info!("{}: recovery applied {} records of logfile {} from {} (valid log {} of {} bytes)\n", dir, r.applied, nr, start, r.end, r.size);
            }
            last = Some((log, nr, r.size));
            (nr, start) = (nr + 1, 0);
        }
        let Some((log, last_nr, last_size)) = last else { return Err(EINVAL) };
        let mut me_bytes = KVec::new();
        me_bytes.extend_from_slice(me.as_bytes(), GFP_KERNEL)?;
        // Never append to a logfile that has content: start the next one.
        let (file, nr) = if last_size == 0 {
            (log, last_nr)
        } else {
            let next = LogName { nr: last_nr + 1, host: me };
            (File::open(&path(fmt!("{}/{}", dir, next))?, OpenFlags::READ_WRITE.create().exclusive(), 0o600)?, next.nr)
        };
        if nr != link.log.nr {
            let fresh = ReplayLink { log: LogName { nr, host: me }, start: 0, len: 0 };
            tree.write(&path(fmt!("{}", dir))?, replay_name.to_str().map_err(|_| EINVAL)?, &CString::try_from_fmt(fmt!("{}", fresh))?.to_str().map_err(|_| EINVAL)?)?;
        }
        let log = Arc::new(Log { file, nr, dir: path(fmt!("{}", dir))?, me: me_bytes, appended: AtomicU64::new(0), durable: AtomicU64::new(0), written: AtomicU64::new(0) }, GFP_KERNEL)?;
        let buffer = WriteBuffer::new()?;
        let reader = Reader::start(self.lower.clone())?;
        let handler = Arc::new(Device { buffer: buffer.clone(), reads: reader.queue.clone(), lower: self.lower.clone(), main: main.clone() }, GFP_KERNEL)?;
        // The new logfile's version link exists at once, so secondaries can move on to it.
        tree.write_version_link(&main.digests, dir, LogName { nr, host: me }, me, 0)?;
        let current = CurrentLog::new(log.clone())?;
        let served = Served { name: owned(&self.name)?, disk: self.lower.clone(), log: current.clone(), size: setup.size };
        let logger = Logger::start(main.clone(), buffer, reader, self.lower.clone(), current.clone(), LogTarget { log, pos: 0, next_seq: 1 })?;
        let name = path(fmt!("mars/{}", setup.devname))?;
        self.device = Some(Disk::new(&name, setup.size / 512, &self.lower, handler, module)?);
        self.logger = Some(logger);
        self.current = Some(current);
        main.serve(served)?;
        Ok(())
    }

    /// On a secondary: fetches `primary`'s logfiles (restarted when the primary changes),
    /// or stops fetching (`None`).
    pub(crate) fn fetch_from(&mut self, main: &Arc<Main>, res: &str, primary: Option<&str>) -> Result {
        let Some(primary) = primary else {
            self.fetcher = None;
            return Ok(());
        };
        if self.fetcher.as_ref().is_some_and(|f| f.primary.as_slice() == primary.as_bytes()) {
            return Ok(());
        }
        self.fetcher = None;
        self.fetcher = Some(Fetcher::start(main.clone(), res, primary, self.repair.clone())?);
        Ok(())
    }

    /// On a secondary: runs the full sync from `primary` (restarted when the primary
    /// changes), or stops it (`None`).
    pub(crate) fn sync_from(&mut self, main: &Arc<Main>, res: &str, primary: Option<&str>, size: u64) -> Result {
        let Some(primary) = primary else {
            self.syncer = None;
            return Ok(());
        };
        if self.syncer.as_ref().is_some_and(|s| s.primary.as_slice() == primary.as_bytes()) {
            return Ok(());
        }
        self.syncer = None;
        self.syncer = Some(Syncer::start(main.clone(), res, primary, self.lower.clone(), size)?);
        Ok(())
    }

    /// On a secondary: replays the fetched logfiles (`on`) or stops replaying. Never
    /// together with the sync (the caller decides).
    pub(crate) fn replay(&mut self, main: &Arc<Main>, res: &str, on: bool) -> Result {
        if !on {
            self.replayer = None;
        } else if self.replayer.is_none() {
            self.replayer = Some(Replayer::start(main.clone(), res, self.lower.clone(), self.repair.clone())?);
        }
        Ok(())
    }

    /// On the primary: if `marsadm log-rotate` created the next logfile (empty), the
    /// logger continues in it.
    pub(crate) fn rotate_if_asked(&self, dir: &CStr, me: &str) -> Result {
        let Some(current) = &self.current else { return Ok(()) };
        if current.rotating() {
            return Ok(());
        }
        let now = current.get();
        let next = LogName { nr: now.nr + 1, host: me };
        let file = match File::open(&path(fmt!("{}/{}", dir, next))?, OpenFlags::READ_WRITE, 0) {
            Ok(f) => f,
            Err(e) if e == ENOENT => return Ok(()),
            Err(e) => return Err(e),
        };
        if file.size() != 0 {
            pr_err!("{}: {} is not empty; not rotating into it\n", dir, next);
            return Err(EEXIST);
        }
        let log = Log {
            file,
            nr: next.nr,
            dir: path(fmt!("{}", dir))?,
            me: owned(me.as_bytes())?,
            appended: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            written: AtomicU64::new(0),
        };
        current.rotate_to(Arc::new(log, GFP_KERNEL)?);
        Ok(())
    }

    /// Which secondary activities run: (fetch, sync, replay).
    pub(crate) fn activity(&self) -> (bool, bool, bool) {
        (self.fetcher.is_some(), self.syncer.is_some(), self.replayer.is_some())
    }

    /// Openers of the device (0 without a device).
    pub(crate) fn open_count(&self) -> i32 {
        self.device.as_ref().map_or(0, |d| d.open_count())
    }

    /// Gives up the primary role (removes the device); refused while it is open.
    pub(crate) fn make_secondary(&mut self) -> Result {
        if self.open_count() > 0 {
            return Err(EBUSY);
        }
        self.main.unserve(&self.name);
        self.device = None;
        self.logger = None;
        self.current = None;
        Ok(())
    }
}

impl Drop for Resource {
    fn drop(&mut self) {
        // The sync server must not read a disk that is about to be released.
        self.main.unserve(&self.name);
    }
}

fn owned(v: &[u8]) -> Result<KVec<u8>> {
    let mut out = KVec::new();
    out.extend_from_slice(v, GFP_KERNEL)?;
    Ok(out)
}
