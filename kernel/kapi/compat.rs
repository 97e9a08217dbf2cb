// SPDX-License-Identifier: GPL-2.0

//! The one place where the kernels mars.ko supports differ (docu/install.md, "Supported
//! kernels"), in the spirit of DRBD's compat layer: the rest of the module is written
//! against the newest kernel's Rust API, and what an older kernel lacks is provided here
//! under its old name. The C API's differences live in kapi/sys.c ("Compat"), behind
//! helpers that have one signature on every kernel.
//!
//! kernel/Kbuild sets the cfg `mars_api_7` for the 7.x API (tested: 7.3); without it the
//! 6.12 API is assumed (tested: 6.12). A kernel between the two may fail to build; the
//! error then names the item this file would need.
//!
//! What differs, 6.12 → 7.3:
//! - `CStr` became `core::ffi::CStr`: `to_bytes`/`to_bytes_with_nul` (was `as_bytes`…),
//!   `as_char_ptr` from the trait `kernel::str::CStrExt` (6.12: [`CStrExt`] here);
//! - `fmt!` (and so every `pr_*!`) needs the kernel's own `kernel::fmt::Display`, not
//!   `core::fmt::Display`: [`display_as_core!`] forwards one to the other for the
//!   shared `mars_core` types, which implement only core's (marsadm uses them too);
//! - `fmt!` is in the prelude (6.12: `kernel::fmt`, re-exported by [`prelude`]);
//! - `module!` takes `authors: [..]` (6.12: `author:`): [`module_compat!`];
//! - `KVec::set_len` is gone ([`set_len`]);
//! - `RBTree::cursor_lower_bound` gives a cursor that cannot move; the moving one is
//!   `cursor_lower_bound_mut` (6.12: [`RBTreeExt`]);
//! - `static_lock_class!` gives `Pin<&'static LockClassKey>` ([`static_key`]).

use kernel::sync::LockClassKey;

/// What every file of the module imports instead of `kernel::prelude::*`: the kernel's
/// prelude plus the names of this file an older kernel needs.
pub(crate) mod prelude {
    pub(crate) use kernel::prelude::*;

    #[cfg(not(mars_api_7))]
    pub(crate) use super::{CStrExt as _, RBTreeExt as _};
    #[cfg(not(mars_api_7))]
    pub(crate) use kernel::fmt;
}

/// The 7.x methods of `CStr`, on 6.12's `kernel::str::CStr`.
#[cfg(not(mars_api_7))]
pub(crate) trait CStrExt {
    /// The bytes without the terminating NUL.
    fn to_bytes(&self) -> &[u8];
    /// The bytes with the terminating NUL.
    fn to_bytes_with_nul(&self) -> &[u8];
}

#[cfg(not(mars_api_7))]
impl CStrExt for kernel::str::CStr {
    fn to_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn to_bytes_with_nul(&self) -> &[u8] {
        self.as_bytes_with_nul()
    }
}

/// 7.x's `cursor_lower_bound_mut` on 6.12's tree, whose `cursor_lower_bound` moves.
#[cfg(not(mars_api_7))]
pub(crate) trait RBTreeExt<K, V> {
    /// A cursor at the first node whose key is not below `key`.
    fn cursor_lower_bound_mut(&mut self, key: &K) -> Option<kernel::rbtree::Cursor<'_, K, V>>;
}

#[cfg(not(mars_api_7))]
impl<K: Ord, V> RBTreeExt<K, V> for kernel::rbtree::RBTree<K, V> {
    fn cursor_lower_bound_mut(&mut self, key: &K) -> Option<kernel::rbtree::Cursor<'_, K, V>> {
        self.cursor_lower_bound(key)
    }
}

/// Makes `v` hold exactly its first `len` elements.
///
/// # Safety
///
/// `len` is at most the capacity of `v`, and its first `len` elements are initialised.
pub(crate) unsafe fn set_len<T: Copy, A: kernel::alloc::Allocator>(v: &mut kernel::alloc::Vec<T, A>, len: usize) {
    #[cfg(not(mars_api_7))]
    // SAFETY: the caller's guarantee is `set_len`'s.
    unsafe {
        v.set_len(len)
    };
    #[cfg(mars_api_7)]
    {
        // Elements are `Copy`: clearing drops nothing.
        v.clear();
        // SAFETY: `v` is empty now; the caller guarantees `len` fits in the capacity and
        // that those elements are initialised.
        unsafe { v.inc_len(len) };
    }
}

/// A lock class key made by `kernel::static_lock_class!()`, as a plain reference.
#[cfg(mars_api_7)]
pub(crate) fn static_key(key: core::pin::Pin<&'static LockClassKey>) -> &'static LockClassKey {
    key.get_ref()
}

/// A lock class key made by `kernel::static_lock_class!()`, as a plain reference.
#[cfg(not(mars_api_7))]
pub(crate) fn static_key(key: &'static LockClassKey) -> &'static LockClassKey {
    key
}

/// `kernel::prelude::module!` with the author key each kernel's macro takes.
macro_rules! module_compat {
    (type: $ty:ident, name: $name:tt, author: $author:tt, description: $desc:tt, license: $lic:tt $(,)?) => {
        #[cfg(mars_api_7)]
        kernel::prelude::module! {
            type: $ty,
            name: $name,
            authors: [$author],
            description: $desc,
            license: $lic,
        }
        #[cfg(not(mars_api_7))]
        kernel::prelude::module! {
            type: $ty,
            name: $name,
            author: $author,
            description: $desc,
            license: $lic,
        }
    };
}
pub(crate) use module_compat;

/// Implements the kernel's `Display` by core's for types that have only core's: 7.x's
/// `fmt!` takes only the former (a no-op before 7.x, where it takes core's).
macro_rules! display_as_core {
    ($($ty:ty),* $(,)?) => {
        $(
            #[cfg(mars_api_7)]
            impl kernel::fmt::Display for $ty {
                fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
                    core::fmt::Display::fmt(self, f)
                }
            }
        )*
    };
}

// The shared types the module prints (mars_core implements core's Display only).
display_as_core!(
    crate::mars_core::auth::AuthError,
    crate::mars_core::handover::Wait,
    crate::mars_core::log_record::RecordError,
    crate::mars_core::names::NameError,
    crate::mars_core::names::UnitNameError,
    crate::mars_core::replication::Wait,
    crate::mars_core::replication::Stop,
    crate::mars_core::text::Escaped<'_>,
    crate::mars_core::tree::LogName<'_>,
    crate::mars_core::tree::ParseError,
    crate::mars_core::tree::ReplayLink<'_>,
    crate::mars_core::tree::VersionLink<'_>,
    crate::mars_core::tree::VersionInput<'_>,
    crate::mars_core::tree::PerHost<'_>,
    crate::mars_core::tree::TempLinkName<'_>,
    crate::mars_core::wire::WireError,
);
