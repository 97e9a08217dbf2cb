// SPDX-License-Identifier: GPL-2.0

//! The kernel's C API as kapi sees it: `kernel::bindings` plus what kapi/sys.h adds
//! (bound by bindgen at module build time from the target kernel's headers, see
//! kernel/Kbuild). Where both have an item, the one from kapi/sys.h shadows the other.

#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all
)]

pub(crate) use kernel::bindings::*;

include!("sys_generated.rs");
