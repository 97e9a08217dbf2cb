// SPDX-License-Identifier: GPL-2.0

//! Safe registration of a `/proc/sys/<dir>` table (C: `register_sysctl_sz`).
//!
//! Entries are described with [`Entry`] constructors that only accept data which lives
//! for the whole registration (`'static`), so the C side never sees a dangling pointer.

use core::ptr::{self, NonNull};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CStr;

/// One file in a sysctl directory.
pub(crate) struct Entry {
    table: bindings::ctl_table,
}

impl Entry {
    /// A read-only (0444) file whose content is `value`, served by `proc_dostring`.
    pub(crate) fn read_only_str(name: &'static CStr, value: &'static CStr) -> Self {
        let maxlen = value.len_with_nul();
        Entry {
            table: bindings::ctl_table {
                procname: name.as_char_ptr(),
                // `proc_dostring` only writes through `data` on a write, and mode 0444 makes
                // the sysctl core refuse writes (even for root) before calling the handler,
                // so handing out a pointer to immutable static data is sound.
                data: value.as_char_ptr().cast_mut().cast(),
                maxlen: maxlen.try_into().unwrap_or(i32::MAX),
                mode: 0o444,
                proc_handler: Some(bindings::proc_dostring),
                poll: ptr::null_mut(),
                extra1: ptr::null_mut(),
                extra2: ptr::null_mut(),
            },
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
    header: NonNull<bindings::ctl_table_header>,
    _table: KVec<bindings::ctl_table>,
}

// SAFETY: the registration is only an owner of the header and the table; the kernel's
// sysctl core synchronises all access to them internally, and unregistering (in `drop`)
// may happen from any thread.
unsafe impl Send for Registration {}
// SAFETY: `Registration` has no methods taking `&self` that touch the C objects.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `entries` as files of `/proc/sys/<path>`.
    pub(crate) fn new(path: &'static CStr, entries: &[Entry]) -> Result<Self> {
        let mut table = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for entry in entries {
            table.push(entry.table, GFP_KERNEL)?;
        }
        // SAFETY: `path` is a valid NUL-terminated string that outlives the registration.
        // `table` points to `table.len()` initialised entries whose pointers refer to
        // `'static` data (guaranteed by the `Entry` constructors); its heap buffer stays
        // in place until `drop`, which unregisters first.
        let header = unsafe {
            bindings::register_sysctl_sz(path.as_char_ptr(), table.as_mut_ptr(), table.len())
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        // INVARIANT: registration succeeded for `table`, which we now own unchanged.
        Ok(Registration { header, _table: table })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `header` is registered and not yet unregistered;
        // after this call the table is no longer referenced and may be freed with `self`.
        unsafe { bindings::unregister_sysctl_table(self.header.as_ptr()) };
    }
}
