// SPDX-License-Identifier: GPL-2.0

//! Random bytes from the kernel's CSPRNG (C: `wait_for_random_bytes`,
//! `get_random_bytes`), for nonces: their uniqueness is what keeps recorded frames from
//! being replayed, so none is handed out before the pool is seeded.

use super::sys;
use kernel::error::to_result;
use crate::kapi::compat::prelude::*;

/// Fills `buf` with cryptographically secure random bytes, waiting (interruptibly) until
/// the CSPRNG is seeded; at once afterwards.
pub(crate) fn fill(buf: &mut [u8]) -> Result {
    // SAFETY: no arguments; it sleeps until the CRNG is ready or a signal (kthread_stop)
    // interrupts it, and returns 0 or a negative errno.
    to_result(unsafe { sys::wait_for_random_bytes() })?;
    // SAFETY: `buf` is writable for its length; with the CRNG seeded, the bytes are
    // cryptographically secure.
    unsafe { sys::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
    Ok(())
}
