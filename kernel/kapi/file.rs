// SPDX-License-Identifier: GPL-2.0

//! Files opened by the kernel (C: `filp_open`, `kernel_read`, `kernel_write`,
//! `vfs_fsync`, `filp_close`): transaction logfiles and the symlink tree on `/mars`.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;
use kernel::str::CStr;

/// Open flags (a subset of `O_*`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenFlags(u32);

impl OpenFlags {
    /// Read only.
    pub(crate) const READ: OpenFlags = OpenFlags(bindings::O_RDONLY);
    /// Read and write.
    pub(crate) const READ_WRITE: OpenFlags = OpenFlags(bindings::O_RDWR);

    /// Also create the file if missing.
    pub(crate) const fn create(self) -> Self {
        OpenFlags(self.0 | bindings::O_CREAT)
    }

    /// Together with `create`: fail if the file exists.
    pub(crate) const fn exclusive(self) -> Self {
        OpenFlags(self.0 | bindings::O_EXCL)
    }

    /// Must be a directory.
    pub(crate) const fn directory(self) -> Self {
        OpenFlags(self.0 | bindings::O_DIRECTORY)
    }
}

/// An open file.
///
/// # Invariants
///
/// `ptr` is a file reference returned by a successful `filp_open` and not yet closed.
pub(crate) struct File {
    ptr: NonNull<bindings::file>,
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

/// Writes all of `buf` at `pos` of an open `struct file`.
///
/// # Safety
///
/// `file` must be an open file for the whole call.
unsafe fn write_all_at(file: *mut bindings::file, mut buf: &[u8], mut pos: u64) -> Result {
    while !buf.is_empty() {
        let mut off = pos as bindings::loff_t;
        // SAFETY: `file` is open (caller); `buf` is valid for reads of `buf.len()`
        // bytes; `off` lives across the call.
        let n = to_len(unsafe { bindings::kernel_write(file, buf.as_ptr().cast(), buf.len(), &mut off) })?;
        if n == 0 {
            return Err(EIO);
        }
        buf = &buf[n..];
        pos += n as u64;
    }
    Ok(())
}

/// One `kernel_read` at `pos`; returns the bytes read (0 at end of file).
///
/// # Safety
///
/// `file` must be an open file for the whole call.
unsafe fn read_at_once(file: *mut bindings::file, buf: &mut [u8], pos: u64) -> Result<usize> {
    let mut off = pos as bindings::loff_t;
    // SAFETY: `file` is open (caller); `buf` is valid for writes of `buf.len()` bytes;
    // `off` lives across the call.
    to_len(unsafe { bindings::kernel_read(file, buf.as_mut_ptr().cast(), buf.len(), &mut off) })
}

/// `fsync` (or `fdatasync`) of an open file.
///
/// # Safety
///
/// `file` must be an open file for the whole call.
unsafe fn sync(file: *mut bindings::file, datasync: bool) -> Result {
    // SAFETY: `file` is open (caller).
    to_result(unsafe { bindings::vfs_fsync(file, datasync as i32) })
}

impl File {
    /// Opens `path` with `flags`; `mode` applies when the file is created.
    pub(crate) fn open(path: &CStr, flags: OpenFlags, mode: u16) -> Result<File> {
        // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
        let ptr = from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags.0 as i32, mode) })?;
        // INVARIANT: `filp_open` succeeded, so `ptr` is an open file reference.
        NonNull::new(ptr).map(|ptr| File { ptr }).ok_or(EINVAL)
    }

    /// Writes all of `buf` at byte offset `pos`.
    pub(crate) fn write_all_at(&self, buf: &[u8], pos: u64) -> Result {
        // SAFETY: the file is open (type invariant).
        unsafe { write_all_at(self.ptr.as_ptr(), buf, pos) }
    }

    /// Reads up to `buf.len()` bytes at `pos`; returns how many (0 at end of file).
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        // SAFETY: the file is open (type invariant).
        unsafe { read_at_once(self.ptr.as_ptr(), buf, pos) }
    }

    /// Makes written data durable (`datasync`: data and the metadata needed to read it).
    pub(crate) fn sync(&self, datasync: bool) -> Result {
        // SAFETY: the file is open (type invariant).
        unsafe { sync(self.ptr.as_ptr(), datasync) }
    }

    /// Current size of the file in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: the file is open (type invariant), so its inode is valid.
        let size = unsafe { bindings::i_size_read(bindings::file_inode(self.ptr.as_ptr())) };
        size.max(0) as u64
    }

    /// The raw file, for other wrappers in `kapi` (directory iteration).
    pub(super) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr.as_ptr()
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: the file is open (type invariant) and closed exactly once, here.
        unsafe { bindings::filp_close(self.ptr.as_ptr(), core::ptr::null_mut()) };
    }
}
