// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C kernel APIs that the Rust-for-Linux `kernel` crate does not
//! cover. This is the only part of mars.ko that contains `unsafe`; every unsafe block
//! argues its soundness in a `// SAFETY:` comment from the type's invariants.
//!
//! The C declarations come from [`sys`]: `kernel::bindings` extended by bindgen's output
//! for kapi/sys.h and the C helpers of kapi/sys.c, both built with the module.

pub(crate) mod bdev;
pub(crate) mod compat;
pub(crate) mod diskio;
pub(crate) mod file;
pub(crate) mod gendisk;
pub(crate) mod hash;
pub(crate) mod memalloc;
pub(crate) mod net;
pub(crate) mod random;
pub(crate) mod sys;
pub(crate) mod sysctl;
pub(crate) mod thread;
pub(crate) mod time;
pub(crate) mod vfs;
