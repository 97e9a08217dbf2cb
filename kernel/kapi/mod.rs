// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C kernel APIs that the Rust-for-Linux 6.12 `kernel` crate does
//! not cover. This is the only part of mars.ko that contains `unsafe`; every unsafe
//! block argues its soundness in a `// SAFETY:` comment from the type's invariants.
//!
//! Bindings for the C declarations come from `kernel::bindings`, extended by the
//! headers that `pre-patches/linux-6.12/` adds to `rust/bindings/bindings_helper.h`.

pub(crate) mod sysctl;
