// SPDX-License-Identifier: GPL-2.0

//! The module's reads and writes of the `/mars` symlink tree (design reference §2):
//! values are link targets, mtimes are Lamport stamps (`crate::clock`), `.deleted` means
//! absent; and the cluster keys kept beside them ([`keys`]).

pub(crate) mod keys;

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::KVec;
use crate::kapi::compat::prelude::*;
use kernel::str::{CStr, CString};

use crate::clock::Clock;
use crate::kapi::file::{direct_aligned, File, OpenFlags};
use crate::kapi::vfs;
use crate::digest::KernelDigests;
use crate::mars_core::round::Links;
use crate::mars_core::tree::{LogName, ReplayLink, VersionInput, VersionLink, DELETED, IPS_DIR, IP_PREFIX, REPLAY_PREFIX, SYSTEMD_TRIGGER, UUID, VERSION_PREFIX};

/// Root of the tree.
pub(crate) const ROOT: &str = "/mars";

/// This host's name as `uname -n` shows it (the `<host>` of the tree's per-host names).
/// Read each round, so a changed hostname is noticed.
pub(crate) fn host_name() -> Result<KVec<u8>> {
    let file = File::open(kernel::c_str!("/proc/sys/kernel/hostname"), OpenFlags::READ, 0)?;
    let mut buf = [0u8; 65];
    let n = file.read_at(&mut buf, 0)?;
    let name = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
    let mut out = KVec::new();
    out.extend_from_slice(name, kernel::alloc::flags::GFP_KERNEL)?;
    Ok(out)
}

/// Opens logfile `name` of the resource directory `dir` (`vfs::open_in_dir`: a regular
/// file in that directory, reached through no symlink).
pub(crate) fn open_logfile(dir: &CStr, name: LogName<'_>, flags: OpenFlags, mode: u16) -> Result<File> {
    let name = CString::try_from_fmt(fmt!("{}", name))?;
    vfs::open_in_dir(dir, name.to_str().map_err(|_| EINVAL)?, flags, mode)
}

/// A logfile opened through the page cache, and again for direct I/O where /mars allows
/// it. The logger and the fetch write records by direct I/O, so they are not in the page
/// cache: reading and writing aligned records directly saves the copy through it.
pub(crate) struct Logfile {
    file: File,
    direct: Option<File>,
    /// The disk refused direct I/O's alignment once (4 KiB sectors): not tried again.
    refused: AtomicBool,
}

impl Logfile {
    /// Opens logfile `name` of `dir` as [`open_logfile`] does, with `flags` and `mode`
    /// for the page-cache handle; the direct one is opened the same way, without
    /// creating.
    pub(crate) fn open(dir: &CStr, name: LogName<'_>, flags: OpenFlags, mode: u16) -> Result<Logfile> {
        let file = open_logfile(dir, name, flags, mode)?;
        let direct = open_logfile(dir, name, flags.no_create().direct(), 0).ok();
        Ok(Logfile { file, direct, refused: AtomicBool::new(false) })
    }

    /// The page-cache handle (size, truncation).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The page-cache handle, the direct one closed.
    pub(crate) fn into_file(self) -> File {
        self.file
    }

    /// Runs `io` on the direct handle where the I/O is `aligned` for it
    /// ([`direct_aligned`]), else on the page-cache one; also where the disk refuses the
    /// alignment (`EINVAL`: redoing the I/O there is harmless, the same bytes at the
    /// same place).
    fn either<R>(&self, aligned: bool, mut io: impl FnMut(&File) -> Result<R>) -> Result<R> {
        if let Some(d) = self.direct.as_ref().filter(|_| aligned && !self.refused.load(Ordering::Relaxed)) {
            match io(d) {
                Err(e) if e == EINVAL => self.refused.store(true, Ordering::Relaxed),
                r => return r,
            }
        }
        io(&self.file)
    }

    /// [`File::read_full_at`], by direct I/O where it can. (A direct read first writes
    /// back what the page cache holds dirty of its range, so it sees every write.)
    pub(crate) fn read_full_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        self.either(direct_aligned(pos, buf), |f| f.read_full_at(buf, pos))
    }

    /// Writes all of `data` at `pos`, by direct I/O where it can.
    pub(crate) fn write_all_at(&self, data: &[u8], pos: u64) -> Result {
        self.either(direct_aligned(pos, data), |f| f.write_all_vectored_at(&[data], pos))
    }
}

/// Access to the tree with the module's clock.
pub(crate) struct Tree<'a> {
    pub(crate) clock: &'a Clock,
}

/// The links of the resource directory `dir` in the tree (`mars_core::round`'s seam).
pub(crate) struct DirLinks<'a> {
    pub(crate) tree: &'a Tree<'a>,
    pub(crate) dir: &'a CStr,
}

impl Links for DirLinks<'_> {
    type Value = KVec<u8>;
    type Error = Error;

    fn stamped(&self, name: core::fmt::Arguments<'_>) -> Result<Option<(KVec<u8>, u64)>> {
        self.tree.read_stamped(&path(fmt!("{}/{}", self.dir, name))?)
    }

    fn names(&self, each: &mut dyn FnMut(&str)) -> Result {
        for name in vfs::list_dir(self.dir)? {
            if let Ok(name) = name.to_str() {
                each(name);
            }
        }
        Ok(())
    }
}

/// Makes a C path from format arguments, e.g. `path(fmt!("{}/resource-{}", ROOT, res))`.
pub(crate) fn path(args: core::fmt::Arguments<'_>) -> Result<CString> {
    CString::try_from_fmt(args).map_err(Error::from)
}

/// `/mars/ips`, the directory of the members' addresses.
pub(crate) fn ips_dir() -> Result<CString> {
    path(fmt!("{}/{}", ROOT, IPS_DIR))
}

/// `/mars/ips/ip-<host>`: how to reach `host`.
pub(crate) fn address_link(host: &str) -> Result<CString> {
    path(fmt!("{}/{}/{}{}", ROOT, IPS_DIR, IP_PREFIX, host))
}

impl Tree<'_> {
    /// The value of the link at `p`, or `None` if missing, deleted or not a link.
    pub(crate) fn read(&self, p: &CStr) -> Result<Option<KVec<u8>>> {
        Ok(self.read_stamped(p)?.map(|(value, _)| value))
    }

    /// The link's value as it is, a deleted link's mark ([`DELETED`]) included.
    pub(crate) fn read_raw(&self, p: &CStr) -> Result<Option<KVec<u8>>> {
        Ok(self.read_any(p)?.map(|(value, _)| value))
    }

    /// [`Tree::read`] with the link's stamp.
    pub(crate) fn read_stamped(&self, p: &CStr) -> Result<Option<(KVec<u8>, u64)>> {
        Ok(self.read_any(p)?.filter(|(value, _)| value.as_slice() != DELETED.as_bytes()))
    }

    /// A link's value (deleted or not) and stamp.
    fn read_any(&self, p: &CStr) -> Result<Option<(KVec<u8>, u64)>> {
        match vfs::read_link(p) {
            Ok(Some(link)) => {
                self.clock.observe(link.stamp_ns);
                Ok(Some((link.value, link.stamp_ns)))
            }
            Ok(None) => Ok(None),
            // A regular file or directory where a link is expected counts as absent.
            Err(e) if e == EINVAL => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `replay-<host>` of the resource directory `dir` (missing or deleted: `None`);
    /// parse it with `ReplayLink::parse`.
    pub(crate) fn replay_link(&self, dir: &CStr, host: &str) -> Result<Option<KVec<u8>>> {
        self.read(&path(fmt!("{}/{}{}", dir, REPLAY_PREFIX, host))?)
    }

    /// Writes this host's (`me`) `replay-<me>` of `dir` ([`Tree::write`]).
    pub(crate) fn write_replay_link(&self, dir: &CStr, me: &str, link: &ReplayLink<'_>) -> Result {
        let name = path(fmt!("{}{}", REPLAY_PREFIX, me))?;
        let value = path(fmt!("{}", link))?;
        self.write(&path(fmt!("{}", dir))?, name.to_str().map_err(|_| EINVAL)?, value.to_str().map_err(|_| EINVAL)?)
    }

    /// This host's cluster uuid (`/mars/uuid`), if it is in a cluster.
    pub(crate) fn cluster_uuid(&self) -> Result<Option<KVec<u8>>> {
        self.read(&path(fmt!("{}/{}", ROOT, UUID))?)
    }

    /// Writes `version-<nr>-<me>` for logfile `log` processed up to `pos`, chained to
    /// this host's link of the previous logfile (design reference §3.6).
    pub(crate) fn write_version_link(&self, digests: &KernelDigests, dir: &CStr, log: LogName<'_>, me: &str, pos: u64) -> Result {
        let prev = match log.nr {
            0 | 1 => None,
            nr => self.read(&path(fmt!("{}/{}{:09}-{}", dir, VERSION_PREFIX, nr - 1, me))?)?,
        };
        let prev = core::str::from_utf8(prev.as_deref().unwrap_or(b"")).map_err(|_| EINVAL)?.trim_end();
        let input = VersionInput { log, pos, prev };
        let text = CString::try_from_fmt(fmt!("{}", input))?;
        let link = VersionLink::new(&input, digests.md5(text.to_bytes())?);
        let name = path(fmt!("{}{:09}-{}", VERSION_PREFIX, log.nr, me))?;
        let value = path(fmt!("{}", link))?;
        self.write(&path(fmt!("{}", dir))?, name.to_str().map_err(|_| EINVAL)?, value.to_str().map_err(|_| EINVAL)?)
    }

    /// Sets `<dir>/<name>` to `value` with a fresh stamp, creating `dir` if needed,
    /// unless it has that value already (the tree is not churned every round).
    pub(crate) fn write(&self, dir: &CString, name: &str, value: &str) -> Result {
        let full = path(fmt!("{}/{}", &**dir, name))?;
        if let Some(old) = self.read(&full)? {
            if old.as_slice() == value.as_bytes() {
                return Ok(());
            }
        }
        let written = vfs::mkdir(dir).and_then(|_| vfs::replace_link(dir, name, value, self.clock.stamp()));
        let errno = written.as_ref().err().map_or(0, |e| e.to_errno());
        crate::tunables::TREE_WRITE_ERROR.store(errno, core::sync::atomic::Ordering::Relaxed);
        written
    }

    /// Rewrites `/mars/systemd-trigger` (a regular file of this host, never exchanged)
    /// with the current stamp: `mars-trigger.path` sees it closed after writing and runs
    /// `marsadm systemd-trigger` (docu/systemd.md). Failures are logged, never fatal.
    pub(crate) fn touch_systemd_trigger(&self) {
        let mut buf = [0u8; 32];
        let stamp = crate::mars_core::lamport::format_stamp(self.clock.peek(), &mut buf);
        let root = kernel::c_str!("/mars");
        let result = vfs::open_in_dir(root, SYSTEMD_TRIGGER, OpenFlags::READ_WRITE.create(), 0o600).and_then(|f| {
            f.write_all_vectored_at(&[stamp.as_bytes(), b"\n"], 0)?;
            f.truncate(stamp.len() as u64 + 1)
        });
        if let Err(e) = result {
            pr_warn!("cannot write /mars/{}: {:?}\n", SYSTEMD_TRIGGER, e);
        }
    }
}
