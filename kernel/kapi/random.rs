// SPDX-License-Identifier: GPL-2.0

//! Random bytes from the kernel's CSPRNG (C: `get_random_bytes`), for nonces.

use kernel::bindings;

/// Fills `buf` with cryptographically secure random bytes.
pub(crate) fn fill(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length; `get_random_bytes` never fails (before
    // the CSPRNG is seeded it still returns the best bytes it has; by the time a module
    // is loaded and networking, the pool is initialised).
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
