// SPDX-License-Identifier: GPL-2.0

//! The `/mars` symlink tree from inside the kernel: read a link and its mtime, replace a
//! link atomically with a given mtime, create directories, list a directory, unlink.
//!
//! The rules (ordered writes, `.deleted`, Lamport mtimes) live in the strategy code; this
//! file only performs single VFS operations safely. `/mars` is never an idmapped mount,
//! so every operation uses the identity mapping (`nop_mnt_idmap`).
//!
//! No path is resolved through a symlink (docu/cluster.md, "Paths"): lookups use
//! `LOOKUP_NO_SYMLINKS` (a symlink on the way is `ELOOP`; a final symlink is the link
//! itself), a directory operated in must be a directory (`ENOTDIR`, so a symlink dentry
//! never reaches a name lookup in it), and files are opened with `O_NOFOLLOW` and checked
//! after the open to be regular files in the directory looked up.
//!
//! Creating, renaming and removing entries is done by C helpers (kapi/sys.c, "Compat"):
//! their locking protocol is what changed most between the supported kernels.

use core::ffi::c_int;
use core::ptr;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use super::sys;
use kernel::error::{from_err_ptr, to_result};
use crate::kapi::compat::prelude::*;
use kernel::str::{CStr, CString};

use super::file::{File, OpenFlags};
use crate::mars_core::tree::TempLinkName;

const NS_PER_SEC: u64 = 1_000_000_000;

fn idmap() -> *mut sys::mnt_idmap {
    // `nop_mnt_idmap` is a static object of the kernel that lives forever; taking its
    // address does not access it (and needs no `unsafe`).
    ptr::addr_of_mut!(sys::nop_mnt_idmap)
}

/// A looked-up path (mount and dentry references), released on drop.
///
/// # Invariants
///
/// `path` was filled by a successful `kern_path` and has not been put.
struct Path {
    path: sys::path,
}

impl Path {
    /// Looks `name` up through no symlink (`ELOOP` if one is on the way); a final symlink
    /// is returned as the link itself.
    fn lookup(name: &CStr) -> Result<Path> {
        let mut path = sys::path { mnt: ptr::null_mut(), dentry: ptr::null_mut() };
        // SAFETY: `name` is NUL-terminated; `path` is valid for writes.
        to_result(unsafe { sys::kern_path(name.as_char_ptr(), sys::LOOKUP_NO_SYMLINKS, &mut path) })?;
        // INVARIANT: kern_path succeeded and filled `path` with references.
        Ok(Path { path })
    }

    /// Looks up the directory `name` like [`Path::lookup`]; `ENOTDIR` if it is anything
    /// else (a symlink, a file).
    fn lookup_dir(name: &CStr) -> Result<Path> {
        let p = Path::lookup(name)?;
        if file_type(p.inode()) != sys::S_IFDIR {
            return Err(ENOTDIR);
        }
        Ok(p)
    }

    fn dentry(&self) -> *mut sys::dentry {
        self.path.dentry
    }

    /// The inode; never null for a successfully looked-up path.
    fn inode(&self) -> *mut sys::inode {
        // SAFETY: the dentry is referenced (type invariant); a positive dentry returned by
        // kern_path keeps its inode for as long as we hold the reference.
        unsafe { (*self.path.dentry).d_inode }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: the references were taken by kern_path (type invariant), released once.
        unsafe { sys::path_put(&self.path) };
    }
}

/// A symlink's value and its mtime in ns since the epoch.
pub(crate) struct Link {
    /// The link target.
    pub(crate) value: KVec<u8>,
    /// The mtime (a Lamport stamp in the `/mars` tree).
    pub(crate) stamp_ns: u64,
    /// Its inode: a link replaced by rename is another inode, even with the same value
    /// and stamp.
    ino: u64,
}

/// What [`replace_link_if`] must still find at the link's name: what a decision to
/// replace it was made on.
#[derive(Clone, Copy)]
pub(crate) enum Expect {
    /// No link (nor anything else).
    Absent,
    /// This link, unchanged since it was read.
    Same { ino: u64, stamp_ns: u64 },
}

impl Expect {
    /// `link` as read ([`read_link`]; `None`: nothing there).
    pub(crate) fn of(link: Option<&Link>) -> Expect {
        link.map_or(Expect::Absent, |l| Expect::Same { ino: l.ino, stamp_ns: l.stamp_ns })
    }
}

/// The `S_IFMT` bits of `inode`'s mode.
fn file_type(inode: *const sys::inode) -> u32 {
    // SAFETY: callers pass the inode of a referenced dentry (or of an open file), which
    // stays valid while that reference is held; `i_mode` is a plain field.
    let mode = u32::from(unsafe { (*inode).i_mode });
    mode & sys::S_IFMT
}

fn is_symlink(inode: *const sys::inode) -> bool {
    file_type(inode) == sys::S_IFLNK
}

fn mtime_ns(inode: *const sys::inode) -> u64 {
    // SAFETY: callers pass the inode of a referenced dentry; the fields are plain values.
    let (sec, nsec) = unsafe { ((*inode).i_mtime_sec, (*inode).i_mtime_nsec) };
    (sec.max(0) as u64).saturating_mul(NS_PER_SEC).saturating_add(u64::from(nsec))
}

/// Reads the symlink at `name`; `Ok(None)` if nothing exists there, `EINVAL` if the
/// path is not a symlink.
pub(crate) fn read_link(name: &CStr) -> Result<Option<Link>> {
    let path = match Path::lookup(name) {
        Ok(p) => p,
        Err(e) if e == ENOENT => return Ok(None),
        Err(e) => return Err(e),
    };
    let inode = path.inode();
    if !is_symlink(inode) {
        return Err(EINVAL);
    }
    let stamp_ns = mtime_ns(inode);
    // SAFETY: `inode` belongs to the referenced dentry; `i_ino` is a plain field
    // (`unsigned long` on 6.12, `u64` on 7.x: the same 64 bits here).
    #[allow(clippy::unnecessary_cast)]
    let ino = unsafe { (*inode).i_ino } as u64;
    let mut done = sys::delayed_call { fn_: None, arg: ptr::null_mut() };
    // SAFETY: the dentry is a referenced symlink; `done` is valid for writes and is run
    // below, after the returned string has been copied.
    let target = from_err_ptr(unsafe { sys::vfs_get_link(path.dentry(), &mut done) }.cast_mut())?;
    // SAFETY: on success `target` is a NUL-terminated string valid until `done` runs.
    let bytes = unsafe { CStr::from_char_ptr(target) }.to_bytes();
    let mut value = KVec::new();
    let copied = value.extend_from_slice(bytes, GFP_KERNEL);
    // SAFETY: `done` was set up by vfs_get_link; running it releases the string, which
    // is not used after this point.
    unsafe { sys::mars_do_delayed_call(&mut done) };
    copied?;
    Ok(Some(Link { value, stamp_ns, ino }))
}

/// Creates the symlink `name` -> `value` (which must not exist yet).
fn create_symlink(name: &CStr, value: &CStr) -> Result {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    to_result(unsafe { sys::mars_vfs_symlink(name.as_char_ptr(), value.as_char_ptr()) })
}

/// Sets the mtime (and atime) of the link `name` itself.
fn set_link_mtime(name: &CStr, stamp_ns: u64) -> Result {
    let path = Path::lookup(name)?;
    let ts = sys::timespec64 { tv_sec: (stamp_ns / NS_PER_SEC) as _, tv_nsec: (stamp_ns % NS_PER_SEC) as _ };
    // SAFETY: `iattr` is plain old data for which all-zero is a valid (empty) value.
    let mut attr: sys::iattr = unsafe { core::mem::zeroed() };
    attr.ia_valid = sys::ATTR_MTIME | sys::ATTR_MTIME_SET | sys::ATTR_ATIME | sys::ATTR_ATIME_SET;
    attr.ia_mtime = ts;
    attr.ia_atime = ts;
    let inode = path.inode();
    // SAFETY: notify_change requires the inode lock, taken and released around it; the
    // dentry is referenced by `path`; no delegation can exist on a local /mars.
    let ret = unsafe {
        sys::mars_inode_lock(inode);
        let ret = sys::notify_change(idmap(), path.dentry(), &mut attr, ptr::null_mut());
        sys::mars_inode_unlock(inode);
        ret
    };
    to_result(ret)
}

/// Renames `old_name` to `new_name`, both entries of directory `dir`, replacing a
/// `new_name` that exists (atomically, as rename(2) does).
fn rename_in_dir(dir: &CStr, old_name: &[u8], new_name: &[u8], expect: Option<Expect>) -> Result {
    check_component(old_name)?;
    check_component(new_name)?;
    let expect = expect.map(|e| match e {
        Expect::Absent => sys::mars_rename_expect { present: false, ino: 0, mtime_ns: 0 },
        Expect::Same { ino, stamp_ns } => {
            sys::mars_rename_expect { present: true, ino, mtime_ns: i64::try_from(stamp_ns).unwrap_or(i64::MAX) }
        }
    });
    let dir = Path::lookup_dir(dir)?;
    // SAFETY: the dentry is a referenced directory (checked: a directory inode, so a
    // lookup in it has a `lookup` operation to call) while `dir` lives; the names are
    // single components of the given lengths (checked above, so they fit in `u32`:
    // a component is at most a path long); `expect` is null or lives through the call.
    to_result(unsafe {
        sys::mars_vfs_rename_in(
            dir.dentry(),
            old_name.as_ptr().cast(),
            old_name.len() as u32,
            new_name.as_ptr().cast(),
            new_name.len() as u32,
            expect.as_ref().map_or(ptr::null(), ptr::from_ref),
        )
    })
}

/// Removes the entry `name` of directory `dir` (not a directory); `Ok(false)` if absent.
pub(crate) fn unlink(dir: &CStr, name: &[u8]) -> Result<bool> {
    check_component(name)?;
    let dir = Path::lookup_dir(dir)?;
    // SAFETY: as in `rename_in_dir`: a referenced directory dentry, one checked component.
    let ret = unsafe { sys::mars_vfs_unlink_in(dir.dentry(), name.as_ptr().cast(), name.len() as u32) };
    to_result(ret).map(|_| ret == 1)
}

/// The part of `name` before its last `/` (`EINVAL` if none).
fn parent_of(name: &CStr) -> Result<CString> {
    let bytes = name.to_bytes();
    let cut = bytes.iter().rposition(|&b| b == b'/').ok_or(EINVAL)?;
    let parent = core::str::from_utf8(&bytes[..cut.max(1)]).map_err(|_| EINVAL)?;
    CString::try_from_fmt(fmt!("{}", parent)).map_err(Error::from)
}

/// A single path component: not empty, no `/`, not `.` or `..`.
fn check_component(name: &[u8]) -> Result {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(EINVAL);
    }
    Ok(())
}

/// Creates directory `name` (mode 0755); `Ok(false)` if it exists already. Its parent
/// must be a directory reached through no symlink, and an existing `name` must be a
/// directory (`ENOTDIR` for a symlink or a file in its place).
pub(crate) fn mkdir(name: &CStr) -> Result<bool> {
    // kern_path_create resolves the parent with the caller's flags ignored: the parent
    // is checked first (the tree below /mars is changed by this module and root only).
    drop(Path::lookup_dir(&parent_of(name)?)?);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    match to_result(unsafe { sys::mars_vfs_mkdir(name.as_char_ptr(), 0o755) }) {
        Ok(()) => Ok(true),
        Err(e) if e == EEXIST => {
            drop(Path::lookup_dir(name)?);
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Replaces (or creates) the symlink `<dir>/<name>` with value `value` and mtime
/// `stamp_ns`, atomically: a temporary link ([`TempLinkName`] of this thread) gets the
/// value and the mtime and is then renamed over the old link, so readers see either
/// the old or the new link.
pub(crate) fn replace_link(dir: &CStr, name: &str, value: &str, stamp_ns: u64) -> Result {
    replace(dir, name, value, stamp_ns, None)
}

/// [`replace_link`] only if `<dir>/<name>` is still what `expect` says (checked and
/// renamed under the directory's lock): `Ok(false)` and nothing changed if another
/// writer (marsadm) replaced or created it since it was read.
pub(crate) fn replace_link_if(dir: &CStr, name: &str, value: &str, stamp_ns: u64, expect: Expect) -> Result<bool> {
    match replace(dir, name, value, stamp_ns, Some(expect)) {
        Ok(()) => Ok(true),
        Err(e) if e == EAGAIN => Ok(false),
        Err(e) => Err(e),
    }
}

fn replace(dir: &CStr, name: &str, value: &str, stamp_ns: u64, expect: Option<Expect>) -> Result {
    check_component(name.as_bytes())?;
    // The temporary link is created by path (kern_path_create): its directory must be
    // one, reached through no symlink.
    drop(Path::lookup_dir(dir)?);
    let tmp = TempLinkName { writer: super::thread::current_id(), name };
    let tmp_name = CString::try_from_fmt(fmt!("{}", tmp))?;
    let tmp_path = CString::try_from_fmt(fmt!("{}/{}", dir, tmp))?;
    let value = CString::try_from_fmt(fmt!("{}", value))?;
    // A leftover of this thread's from an interrupted earlier attempt.
    unlink(dir, tmp_name.to_bytes())?;
    create_symlink(&tmp_path, &value)?;
    let result = set_link_mtime(&tmp_path, stamp_ns).and_then(|_| rename_in_dir(dir, tmp_name.to_bytes(), name.as_bytes(), expect));
    if result.is_err() {
        let _ = unlink(dir, tmp_name.to_bytes());
    }
    result
}

/// Gives the link `<dir>/<name>` the mtime `stamp_ns` and keeps its value (whatever
/// was written last, also by a concurrent writer); a missing link is created with
/// `value_if_missing` first (unless one was created meanwhile).
pub(crate) fn restamp_link(dir: &CStr, name: &str, value_if_missing: &str, stamp_ns: u64) -> Result {
    check_component(name.as_bytes())?;
    drop(Path::lookup_dir(dir)?);
    let full = CString::try_from_fmt(fmt!("{}/{}", dir, name))?;
    if read_link(&full)?.is_none() {
        let value = CString::try_from_fmt(fmt!("{}", value_if_missing))?;
        match create_symlink(&full, &value) {
            Err(e) if e == EEXIST => {}
            other => other?,
        }
    }
    set_link_mtime(&full, stamp_ns)
}

/// Names in directory `dir` that do not start with '.', in no particular order.
pub(crate) fn list_dir(dir: &CStr) -> Result<KVec<CString>> {
    #[repr(C)]
    struct Collector {
        // Must be first: the actor receives a pointer to it and casts back.
        ctx: sys::dir_context,
        names: KVec<CString>,
        error: Option<Error>,
    }

    unsafe extern "C" fn actor(
        ctx: *mut sys::dir_context,
        name: *const u8,
        len: c_int,
        _offset: sys::loff_t,
        _ino: u64,
        _d_type: u32,
    ) -> bool {
        // SAFETY: `ctx` is the first field of the `Collector` passed to iterate_dir below
        // (`repr(C)`), which is alive and exclusively ours during the iteration.
        let c = unsafe { &mut *ctx.cast::<Collector>() };
        // SAFETY: iterate_dir passes `len` valid bytes at `name`.
        let bytes = unsafe { core::slice::from_raw_parts(name, len.max(0) as usize) };
        if bytes.first() == Some(&b'.') {
            return true;
        }
        let entry = core::str::from_utf8(bytes)
            .map_err(|_| EINVAL)
            .and_then(|s| CString::try_from_fmt(fmt!("{}", s)).map_err(Error::from));
        match entry.and_then(|n| c.names.push(n, GFP_KERNEL).map_err(Error::from)) {
            Ok(()) => true,
            Err(e) => {
                c.error = Some(e);
                false
            }
        }
    }

    let looked_up = Path::lookup_dir(dir)?;
    let file = File::open(dir, OpenFlags::READ.directory(), 0)?;
    if file.inode() != looked_up.inode() {
        // Replaced between the lookup and the open.
        return Err(EAGAIN);
    }
    // SAFETY: `dir_context` is plain old data for which all-zero is valid (no actor,
    // position 0, and on 7.x a count of 0, "unknown").
    let mut ctx: sys::dir_context = unsafe { core::mem::zeroed() };
    ctx.actor = Some(actor);
    let mut c = Collector { ctx, names: KVec::new(), error: None };
    // SAFETY: `file` is an open directory; `c.ctx` is a valid dir_context whose actor
    // expects to be embedded in `c`, which outlives the call.
    to_result(unsafe { sys::iterate_dir(file.as_ptr(), &mut c.ctx) })?;
    match c.error {
        Some(e) => Err(e),
        None => Ok(c.names),
    }
}

/// Size and free space of a filesystem, in bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Space {
    pub(crate) total: u64,
    /// Free for unprivileged users (`f_bavail`): the root reserve is not counted.
    pub(crate) free: u64,
}

/// The size and free space of the filesystem `name` is on (`vfs_statfs`).
pub(crate) fn space(name: &CStr) -> Result<Space> {
    let p = Path::lookup(name)?;
    // SAFETY: all fields of `kstatfs` are integers, valid when zeroed.
    let mut st: sys::kstatfs = unsafe { core::mem::zeroed() };
    // SAFETY: `p.path` is a referenced path (type invariant); `st` is a writable
    // `struct kstatfs`.
    to_result(unsafe { sys::vfs_statfs(&p.path, &mut st) })?;
    let bsize = u64::try_from(st.f_bsize).map_err(|_| EINVAL)?;
    Ok(Space { total: st.f_blocks.saturating_mul(bsize), free: st.f_bavail.saturating_mul(bsize) })
}

/// Whether `e` is `ELOOP`: a symlink where none is followed (`O_NOFOLLOW`,
/// `LOOKUP_NO_SYMLINKS`).
pub(crate) fn is_symlink_refusal(e: Error) -> bool {
    e.to_errno() == -(sys::ELOOP as i32)
}

/// Makes the entries of directory `dir` durable (`fsync` of the directory, reached
/// through no symlink): links created, replaced or removed in it so far survive a
/// power loss, not only a crash of this kernel.
pub(crate) fn sync_dir(dir: &CStr) -> Result {
    let d = Path::lookup_dir(dir)?;
    // SAFETY: `d` holds its path's references until it is dropped, after the call;
    // "." is one component.
    let file = unsafe { File::open_in(&d.path, kernel::c_str!("."), OpenFlags::READ, 0) }?;
    file.sync(false)
}

/// Opens `name` in directory `dir` (docu/cluster.md, "Paths"): `dir` is reached through
/// no symlink and is a directory, `name` is one path component opened relative to the
/// directory found (`file_open_root`, so nothing is looked up twice) with `O_NOFOLLOW`
/// (a symlink is `ELOOP`), and the open file must be a regular file (`EINVAL`
/// otherwise: a directory, a device, a fifo).
pub(crate) fn open_in_dir(dir: &CStr, name: &str, flags: OpenFlags, mode: u16) -> Result<File> {
    check_component(name.as_bytes())?;
    let d = Path::lookup_dir(dir)?;
    let name = CString::try_from_fmt(fmt!("{}", name))?;
    // SAFETY: `d` holds its path's references until it is dropped, after the call;
    // `name` is one component (checked above).
    let file = unsafe { File::open_in(&d.path, &name, flags, mode) }?;
    if file_type(file.inode()) != sys::S_IFREG {
        return Err(EINVAL);
    }
    Ok(file)
}
