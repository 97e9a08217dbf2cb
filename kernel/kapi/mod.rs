// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C kernel APIs that the Rust-for-Linux 6.12 `kernel` crate does
//! not cover. This is the only part of mars.ko that contains `unsafe`; every unsafe
//! block argues its soundness in a `// SAFETY:` comment from the type's invariants.
//!
//! Bindings for the C declarations come from `kernel::bindings`, extended by the
//! headers and helpers that `pre-patches/linux-6.12/` adds to the kernel tree.

pub(crate) mod bdev;
pub(crate) mod diskio;
pub(crate) mod file;
pub(crate) mod gendisk;
pub(crate) mod hash;
pub(crate) mod memalloc;
pub(crate) mod net;
pub(crate) mod random;
pub(crate) mod sysctl;
pub(crate) mod thread;
pub(crate) mod time;
pub(crate) mod vfs;
