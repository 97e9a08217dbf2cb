// SPDX-License-Identifier: GPL-2.0

//! Safe registration of a `/proc/sys/<dir>` table (C: `register_sysctl_sz`).
//!
//! Entries are described with [`Entry`] constructors that only accept data which lives
//! for the whole registration (`'static`), so the C side never sees a dangling pointer.

use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};
use core::sync::atomic::AtomicI32;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use super::sys;
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

/// Target of a write-only sysctl file (see [`Entry::action`]).
pub(crate) trait Action: Send + Sync + 'static {
    /// Called with the bytes written to the file.
    fn run(&self, input: &[u8]);
}

/// Source of a read-only sysctl file computed on each read (see [`Entry::show`]).
pub(crate) trait Show: Send + Sync + 'static {
    /// Writes the file's content (one line, without the newline) into `out`; returns
    /// the number of bytes written.
    fn show(&self, out: &mut [u8]) -> usize;
}

/// One file in a sysctl directory.
pub(crate) struct Entry {
    table: sys::ctl_table,
    /// A reference the table's `data` holds, released after unregistering.
    owned: Option<(*mut c_void, unsafe fn(*mut c_void))>,
}

unsafe extern "C" fn action_handler<T: Action>(
    table: *const sys::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut sys::loff_t,
) -> c_int {
    // SAFETY: the sysctl core calls handlers with a valid table, a kernel buffer of
    // `*lenp` bytes and valid `lenp`/`ppos`. `data` of tables using this handler is an
    // `Arc<T>` from `into_foreign` (see `Entry::action`), alive while registered.
    unsafe {
        if write == 0 {
            *lenp = 0;
            return 0;
        }
        let input = core::slice::from_raw_parts(buffer.cast::<u8>(), *lenp);
        <Arc<T> as ForeignOwnable>::borrow((*table).data).run(input);
        *ppos += *lenp as sys::loff_t;
    }
    0
}

unsafe extern "C" fn show_handler<T: Show>(
    table: *const sys::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut sys::loff_t,
) -> c_int {
    // SAFETY: as in `action_handler`; `data` of tables using this handler is an `Arc<T>`
    // from `into_foreign` (see `Entry::show`). The content is produced whole on the first
    // read (offset 0); later reads at an offset see the end of the file.
    unsafe {
        if write != 0 {
            return -(sys::EPERM as c_int);
        }
        if *ppos != 0 {
            *lenp = 0;
            return 0;
        }
        let mut line = [0u8; 96];
        let n = <Arc<T> as ForeignOwnable>::borrow((*table).data).show(&mut line[..95]).min(95);
        line[n] = b'\n';
        let count = (n + 1).min(*lenp);
        core::ptr::copy_nonoverlapping(line.as_ptr(), buffer.cast::<u8>(), count);
        *lenp = count;
        *ppos += count as sys::loff_t;
    }
    0
}

unsafe fn release_foreign<T: ForeignOwnable>(data: *mut c_void) {
    // SAFETY: the caller passes the pointer made by `into_foreign` in `Entry::action` or
    // `Entry::show`, once, after the table is unregistered.
    drop(unsafe { T::from_foreign(data) });
}

impl Entry {
    /// A read-only (0444) file whose content is `value`, served by `proc_dostring`.
    pub(crate) fn read_only_str(name: &'static CStr, value: &'static CStr) -> Self {
        let maxlen = value.to_bytes_with_nul().len();
        Entry {
            table: sys::ctl_table {
                procname: name.as_char_ptr(),
                // `proc_dostring` only writes through `data` on a write, and mode 0444 makes
                // the sysctl core refuse writes (even for root) before calling the handler,
                // so handing out a pointer to immutable static data is sound.
                data: value.as_char_ptr().cast_mut().cast(),
                maxlen: maxlen.try_into().unwrap_or(i32::MAX),
                mode: 0o444,
                proc_handler: Some(sys::proc_dostring),
                poll: ptr::null_mut(),
                extra1: ptr::null_mut(),
                extra2: ptr::null_mut(),
            },
            owned: None,
        }
    }

    /// A write-only (0200) file: every write calls `target.run(bytes)`.
    pub(crate) fn action<T: Action>(name: &'static CStr, target: Arc<T>) -> Self {
        let data = target.into_foreign() as *mut c_void;
        Entry {
            table: sys::ctl_table {
                procname: name.as_char_ptr(),
                data,
                maxlen: 0,
                mode: 0o200,
                proc_handler: Some(action_handler::<T>),
                poll: ptr::null_mut(),
                extra1: ptr::null_mut(),
                extra2: ptr::null_mut(),
            },
            owned: Some((data, release_foreign::<Arc<T>>)),
        }
    }

    /// A read-only (0444) file whose content `source.show` produces on each read.
    pub(crate) fn show<T: Show>(name: &'static CStr, source: Arc<T>) -> Self {
        let data = source.into_foreign() as *mut c_void;
        Entry {
            table: sys::ctl_table {
                procname: name.as_char_ptr(),
                data,
                maxlen: 0,
                mode: 0o444,
                proc_handler: Some(show_handler::<T>),
                poll: ptr::null_mut(),
                extra1: ptr::null_mut(),
                extra2: ptr::null_mut(),
            },
            owned: Some((data, release_foreign::<Arc<T>>)),
        }
    }

    /// A read-write (0644) integer tunable `value`, accepting only `min..=max` (C:
    /// `proc_dointvec_minmax`). Readers of the tunable load it atomically.
    pub(crate) fn int(name: &'static CStr, value: &'static AtomicI32, min: &'static i32, max: &'static i32) -> Self {
        Entry {
            table: sys::ctl_table {
                procname: name.as_char_ptr(),
                // The sysctl core reads and writes the int through `data` (an aligned
                // 32-bit store, like the atomic's own); the bounds are static constants.
                data: value.as_ptr().cast(),
                maxlen: core::mem::size_of::<i32>() as i32,
                mode: 0o644,
                proc_handler: Some(sys::proc_dointvec_minmax),
                poll: ptr::null_mut(),
                extra1: (min as *const i32).cast_mut().cast(),
                extra2: (max as *const i32).cast_mut().cast(),
            },
            owned: None,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some((data, release)) = self.owned.take() {
            // SAFETY: an entry still owning its reference was never registered (or its
            // registration has released the table already, see `Registration::drop`).
            unsafe { release(data) };
        }
    }
}

/// A registered sysctl directory; it is unregistered when this is dropped.
///
/// # Invariants
///
/// `header` was returned by a successful `register_sysctl_sz` for the table stored in
/// `table`, and has not been unregistered. `table`'s heap buffer is never modified or
/// reallocated while registered, and every pointer in it refers to `'static` data.
pub(crate) struct Registration {
    header: NonNull<sys::ctl_table_header>,
    _table: KVec<sys::ctl_table>,
    /// References held by the registered table, released after unregistering.
    owned: KVec<(*mut c_void, unsafe fn(*mut c_void))>,
}

// SAFETY: the registration is only an owner of the header, the table and references to
// `Send + Sync` targets; the kernel's sysctl core synchronises all access to them
// internally, and unregistering (in `drop`) may happen from any thread.
unsafe impl Send for Registration {}
// SAFETY: `Registration` has no methods taking `&self` that touch the C objects.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `entries` as files of `/proc/sys/<path>`.
    pub(crate) fn new(path: &'static CStr, entries: KVec<Entry>) -> Result<Self> {
        let mut table = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        let mut owned = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for entry in &entries {
            table.push(entry.table, GFP_KERNEL)?;
        }
        // From here on the registration owns the references (entries release nothing).
        for mut entry in entries {
            if let Some(o) = entry.owned.take() {
                owned.push(o, GFP_KERNEL)?;
            }
        }
        // SAFETY: `path` is a valid NUL-terminated string that outlives the registration.
        // `table` points to `table.len()` initialised entries whose pointers refer to
        // `'static` data (guaranteed by the `Entry` constructors); its heap buffer stays
        // in place until `drop`, which unregisters first.
        let header = unsafe {
            sys::register_sysctl_sz(path.as_char_ptr(), table.as_mut_ptr(), table.len())
        };
        let Some(header) = NonNull::new(header) else {
            for (data, release) in owned {
                // SAFETY: registration failed, so nothing else uses the references.
                unsafe { release(data) };
            }
            return Err(ENOMEM);
        };
        // INVARIANT: registration succeeded for `table`, which we now own unchanged.
        Ok(Registration { header, _table: table, owned })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `header` is registered and not yet unregistered;
        // unregistering waits for running handlers, so afterwards the table and the
        // references its entries hold are no longer used and can be released.
        unsafe { sys::unregister_sysctl_table(self.header.as_ptr()) };
        for (data, release) in core::mem::replace(&mut self.owned, KVec::new()) {
            // SAFETY: each reference is released once, after unregistering.
            unsafe { release(data) };
        }
    }
}
