// SPDX-License-Identifier: GPL-2.0

//! CRC-32C by the kernel's `crc32c()` (hardware-accelerated where the CPU can).

use kernel::bindings;

/// CRC-32C of `data` in the standard form (initial and final inversion): the same value
/// as `mars_core::crc32c::crc32c`, which the module checks at load time.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for chunk in data.chunks(u32::MAX as usize) {
        // SAFETY: `chunk` is valid for reads of its length, which fits in a `c_uint`.
        crc = unsafe { bindings::crc32c(crc, chunk.as_ptr().cast(), chunk.len() as u32) };
    }
    !crc
}
