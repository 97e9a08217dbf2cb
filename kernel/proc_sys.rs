// SPDX-License-Identifier: GPL-2.0

//! The `/proc/sys/mars` interface: version, and (in later stages) tunables and counters.
//!
//! The directory exists exactly while the module is loaded; marsadm uses that to tell
//! whether the module is loaded (see `mars_core::version::PROC_SYS_DIR`).

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::kapi::sysctl::{Entry, Registration};
use crate::strategy::Main;
use crate::mars_core::version::{PROC_SYS_NAME_WITH_NUL, PROC_SYS_VERSION_WITH_NUL, VERSION_WITH_NUL};

/// A shared `*_WITH_NUL` string as a C string, checked at compile time.
const fn shared_cstr(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("shared string is not a C string"),
    }
}

/// The registered `/proc/sys/mars` table; unregistered on drop.
pub(crate) struct ProcSys {
    _registration: Registration,
}

impl ProcSys {
    /// Creates `/proc/sys/mars` with its entries: `version` (read-only) and `trigger`
    /// (write anything: the strategy thread runs a round at once).
    pub(crate) fn register(main: Arc<Main>) -> Result<Self> {
        let mut entries = KVec::new();
        entries.push(
            Entry::read_only_str(shared_cstr(PROC_SYS_VERSION_WITH_NUL), shared_cstr(VERSION_WITH_NUL)),
            GFP_KERNEL,
        )?;
        entries.push(Entry::action(kernel::c_str!("trigger"), main), GFP_KERNEL)?;
        let registration = Registration::new(shared_cstr(PROC_SYS_NAME_WITH_NUL), entries)?;
        Ok(ProcSys { _registration: registration })
    }
}
