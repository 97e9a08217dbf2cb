// SPDX-License-Identifier: GPL-2.0

//! The `/proc/sys/mars` interface: version, and (in later stages) tunables and counters.
//!
//! The directory exists exactly while the module is loaded; marsadm uses that to tell
//! whether the module is loaded (see `mars_core::version::PROC_SYS_DIR`).

use kernel::prelude::*;
use kernel::{c_str, str::CStr};

use crate::kapi::sysctl::{Entry, Registration};
use crate::mars_core::version::VERSION_WITH_NUL;

/// The shared version as a C string (evaluated at compile time).
const VERSION_CSTR: &CStr = match CStr::from_bytes_with_nul(VERSION_WITH_NUL.as_bytes()) {
    Ok(v) => v,
    Err(_) => panic!("VERSION_WITH_NUL is not a C string"),
};

/// The registered `/proc/sys/mars` table; unregistered on drop.
pub(crate) struct ProcSys {
    _registration: Registration,
}

impl ProcSys {
    /// Creates `/proc/sys/mars` with its entries.
    pub(crate) fn register() -> Result<Self> {
        let entries = [Entry::read_only_str(c_str!("version"), VERSION_CSTR)];
        let registration = Registration::new(c_str!("mars"), &entries)?;
        Ok(ProcSys { _registration: registration })
    }
}
