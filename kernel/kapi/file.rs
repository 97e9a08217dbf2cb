// SPDX-License-Identifier: GPL-2.0

//! Files opened by the kernel (C: `filp_open`, `kernel_read`, `kernel_write`,
//! `vfs_fsync`, `filp_close`): transaction logfiles and the symlink tree on `/mars`.

use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use super::sys;
use kernel::error::{from_err_ptr, to_result};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

/// What direct I/O needs at least of file positions, lengths and buffer addresses: 512
/// bytes, the smallest logical block size. A disk with coarser sectors (4 KiB) refuses
/// with `EINVAL`; callers then go through the page cache.
pub(crate) const DIRECT_ALIGN: usize = 512;

/// Whether `buf` at file position `pos` suits direct I/O ([`DIRECT_ALIGN`]).
pub(crate) fn direct_aligned(pos: u64, buf: &[u8]) -> bool {
    pos % DIRECT_ALIGN as u64 == 0 && (buf.as_ptr() as usize | buf.len()) % DIRECT_ALIGN == 0
}

/// Open flags (a subset of `O_*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenFlags(u32);

impl OpenFlags {
    /// Read only.
    pub(crate) const READ: OpenFlags = OpenFlags(sys::O_RDONLY);
    /// Read and write.
    pub(crate) const READ_WRITE: OpenFlags = OpenFlags(sys::O_RDWR);

    /// Also create the file if missing.
    pub(crate) const fn create(self) -> Self {
        OpenFlags(self.0 | sys::O_CREAT)
    }

    /// Without `create` (and `exclusive`).
    pub(crate) const fn no_create(self) -> Self {
        OpenFlags(self.0 & !(sys::O_CREAT | sys::O_EXCL))
    }

    /// Together with `create`: fail if the file exists.
    pub(crate) const fn exclusive(self) -> Self {
        OpenFlags(self.0 | sys::O_EXCL)
    }

    /// Do not wait when opening (a fifo opens at once; reads of regular files are not
    /// affected).
    pub(crate) const fn non_blocking(self) -> Self {
        OpenFlags(self.0 | sys::O_NONBLOCK)
    }

    /// Direct I/O (`O_DIRECT`): reads and writes bypass the page cache; file positions,
    /// lengths and buffer addresses must be aligned to the disk's logical block size.
    pub(crate) const fn direct(self) -> Self {
        OpenFlags(self.0 | sys::O_DIRECT)
    }

    /// Must be a directory.
    pub(crate) const fn directory(self) -> Self {
        OpenFlags(self.0 | sys::O_DIRECTORY)
    }
}

/// An open file.
///
/// # Invariants
///
/// `ptr` is a file reference returned by a successful `filp_open` and not yet closed.
pub(crate) struct File {
    ptr: NonNull<sys::file>,
}

// SAFETY: a `struct file` reference may be used and closed from any thread; the VFS
// serialises what needs it (e.g. the file position is never used: all I/O is positional).
unsafe impl Send for File {}
// SAFETY: all methods taking `&self` call VFS functions that are safe to call
// concurrently on one file (positional reads and writes, fsync).
unsafe impl Sync for File {}

fn to_len(ret: isize) -> Result<usize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// One `kernel_read` at `pos`; returns the bytes read (0 at end of file).
///
/// # Safety
///
/// `file` must be an open file for the whole call.
unsafe fn read_at_once(file: *mut sys::file, buf: &mut [u8], pos: u64) -> Result<usize> {
    let mut off = pos as sys::loff_t;
    // SAFETY: `file` is open (caller); `buf` is valid for writes of `buf.len()` bytes;
    // `off` lives across the call.
    to_len(unsafe { sys::kernel_read(file, buf.as_mut_ptr().cast(), buf.len(), &mut off) })
}

/// `fsync` (or `fdatasync`) of an open file.
///
/// # Safety
///
/// `file` must be an open file for the whole call.
unsafe fn sync(file: *mut sys::file, datasync: bool) -> Result {
    // SAFETY: `file` is open (caller).
    to_result(unsafe { sys::vfs_fsync(file, datasync as i32) })
}

/// Flags of every open: no symlink as the last component, and files past 2 GiB
/// (`O_LARGEFILE`, which the system calls add on 64-bit machines and `filp_open` does
/// not: without it, a logfile's writes past 2 GiB fail and logging ceases).
const ALWAYS: u32 = sys::O_NOFOLLOW | sys::O_LARGEFILE;

impl File {
    /// Opens `path` with `flags`; `mode` applies when the file is created. A symlink as
    /// the last component is never followed (`O_NOFOLLOW`: `ELOOP`); files in `/mars`
    /// are opened with `vfs::open_in_dir`, which checks the rest of the path too.
    pub(crate) fn open(path: &CStr, flags: OpenFlags, mode: u16) -> Result<File> {
        let flags = flags.0 | ALWAYS;
        // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
        let ptr = from_err_ptr(unsafe { sys::filp_open(path.as_char_ptr(), flags as i32, mode) })?;
        // INVARIANT: `filp_open` succeeded, so `ptr` is an open file reference.
        NonNull::new(ptr).map(|ptr| File { ptr }).ok_or(EINVAL)
    }

    /// Opens `name`, a single path component, in the directory `root` (C:
    /// `file_open_root`), never following a symlink: nothing on the way is looked up again.
    ///
    /// # Safety
    ///
    /// `root` must point to a `struct path` whose references are held for the duration of
    /// the call, and `name` must contain no `/`.
    pub(super) unsafe fn open_in(root: *const sys::path, name: &CStr, flags: OpenFlags, mode: u16) -> Result<File> {
        let flags = flags.0 | ALWAYS;
        // SAFETY: `root` is a referenced path (the caller's guarantee); `name` is a valid
        // NUL-terminated string of one component for the duration of the call.
        let ptr = from_err_ptr(unsafe { sys::file_open_root(root, name.as_char_ptr(), flags as i32, mode) })?;
        // INVARIANT: `file_open_root` succeeded, so `ptr` is an open file reference.
        NonNull::new(ptr).map(|ptr| File { ptr }).ok_or(EINVAL)
    }


    /// Writes the concatenation of `parts` at `pos` with as few calls as possible (C:
    /// `vfs_iter_write` over a kvec iterator): the bytes are copied once, into the
    /// page cache, from wherever they are.
    pub(crate) fn write_all_vectored_at(&self, parts: &[&[u8]], mut pos: u64) -> Result {
        // At most this many segments per call (the kernel's UIO_MAXIOV).
        const MAX_SEGS: usize = 1024;
        for chunk in parts.chunks(MAX_SEGS) {
            let mut vecs = KVec::with_capacity(chunk.len(), GFP_KERNEL)?;
            let mut total = 0usize;
            for p in chunk {
                vecs.push(sys::kvec { iov_base: p.as_ptr().cast_mut().cast(), iov_len: p.len() }, GFP_KERNEL)?;
                total += p.len();
            }
            // SAFETY: all-zero is a valid value for the iterator, which `iov_iter_kvec`
            // initialises before use.
            let mut iter: sys::iov_iter = unsafe { core::mem::zeroed() };
            // SAFETY: `vecs` describes `chunk.len()` readable buffers of `total` bytes that
            // stay borrowed for the whole loop below.
            unsafe { sys::iov_iter_kvec(&mut iter, sys::ITER_SOURCE, vecs.as_ptr(), vecs.len() as _, total) };
            let mut done = 0usize;
            while done < total {
                let mut off = pos as sys::loff_t;
                // SAFETY: the file is open (type invariant); `iter` is a valid source
                // iterator that the write advances past what it consumed; `off` lives
                // across the call.
                let n = to_len(unsafe { sys::vfs_iter_write(self.ptr.as_ptr(), &mut iter, &mut off, 0) })?;
                if n == 0 {
                    return Err(EIO);
                }
                done += n;
                pos += n as u64;
            }
        }
        Ok(())
    }

    /// Reads up to `buf.len()` bytes at `pos`; returns how many (0 at end of file).
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        // SAFETY: the file is open (type invariant).
        unsafe { read_at_once(self.ptr.as_ptr(), buf, pos) }
    }

    /// Reads `buf.len()` bytes at `pos`, fewer only where the file ends; returns how many.
    pub(crate) fn read_full_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.read_at(&mut buf[got..], pos + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }

    /// Makes written data durable (`datasync`: data and the metadata needed to read it).
    pub(crate) fn sync(&self, datasync: bool) -> Result {
        // SAFETY: the file is open (type invariant).
        unsafe { sync(self.ptr.as_ptr(), datasync) }
    }

    /// Cuts the file to `len` bytes.
    pub(crate) fn truncate(&self, len: u64) -> Result {
        let len = sys::loff_t::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: the file is open (type invariant), so its `f_path` is valid for the
        // call; `vfs_truncate` takes its own references and locks.
        let ret = unsafe { sys::vfs_truncate(sys::mars_file_path(self.ptr.as_ptr()), len) };
        to_result(ret as i32)
    }

    /// Whether direct I/O on this file takes what [`direct_aligned`] allows (positions,
    /// lengths and addresses aligned to [`DIRECT_ALIGN`]): false where the disk under it
    /// has coarser logical blocks (4 KiB), or the filesystem does not tell.
    pub(crate) fn direct_align_ok(&self) -> bool {
        let (mut offset, mut mem) = (0u32, 0u32);
        // SAFETY: the file is open (type invariant); the two out-pointers are valid.
        unsafe { sys::mars_file_dio_align(self.ptr.as_ptr(), &mut offset, &mut mem) };
        let fits = |a: u32| a != 0 && DIRECT_ALIGN as u32 % a == 0;
        fits(offset) && fits(mem)
    }

    /// Current size of the file in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the file is open (type invariant), so its inode is valid.
        let size = unsafe { sys::mars_i_size_read(sys::mars_file_inode(self.ptr.as_ptr())) };
        size.max(0) as u64
    }

    /// The file's inode, for checks in `kapi` (valid while the file is open).
    pub(super) fn inode(&self) -> *mut sys::inode {
        // SAFETY: the file is open (type invariant), so its inode is valid.
        unsafe { sys::mars_file_inode(self.ptr.as_ptr()) }
    }

    /// The raw file, for other wrappers in `kapi` (directory iteration).
    pub(super) fn as_ptr(&self) -> *mut sys::file {
        self.ptr.as_ptr()
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: the file is open (type invariant) and closed exactly once, here.
        unsafe { sys::filp_close(self.ptr.as_ptr(), core::ptr::null_mut()) };
    }
}
