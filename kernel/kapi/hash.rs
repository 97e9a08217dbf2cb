// SPDX-License-Identifier: GPL-2.0

//! Unkeyed message digests by the kernel's crypto API (C: `crypto_alloc_shash`,
//! `crypto_shash_tfm_digest`), for MD5 and SHA-1 record digests.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;
use kernel::str::CStr;

/// An allocated hash transform, freed on drop.
///
/// # Invariants
///
/// `tfm` came from a successful `crypto_alloc_shash` of an unkeyed algorithm and has
/// not been freed.
pub(crate) struct Hash {
    tfm: NonNull<bindings::crypto_shash>,
}

// SAFETY: an unkeyed transform is never modified after allocation;
// `crypto_shash_tfm_digest` keeps its state in an on-stack descriptor, so the transform
// may be used from several threads at once and freed from any.
unsafe impl Send for Hash {}
// SAFETY: see `Send`.
unsafe impl Sync for Hash {}

impl Hash {
    /// Allocates the algorithm `name` (e.g. "md5", "sha1").
    pub(crate) fn new(name: &CStr) -> Result<Hash> {
        // SAFETY: `name` is NUL-terminated; type and mask 0 ask for any implementation.
        let tfm = from_err_ptr(unsafe { bindings::crypto_alloc_shash(name.as_char_ptr(), 0, 0) })?;
        // INVARIANT: allocation succeeded.
        NonNull::new(tfm).map(|tfm| Hash { tfm }).ok_or(ENOMEM)
    }

    /// Length of the digest in bytes.
    pub(crate) fn digest_len(&self) -> usize {
        // SAFETY: the transform is alive (type invariant).
        unsafe { bindings::crypto_shash_digestsize(self.tfm.as_ptr()) as usize }
    }

    /// Writes the digest of `data` to the start of `out`, which must hold [`Hash::digest_len`] bytes.
    pub(crate) fn digest(&self, data: &[u8], out: &mut [u8]) -> Result {
        if out.len() < self.digest_len() || data.len() > u32::MAX as usize {
            return Err(EINVAL);
        }
        // SAFETY: the transform is alive; `data` is readable for its length; `out` has
        // room for the digest (checked above).
        to_result(unsafe { bindings::crypto_shash_tfm_digest(self.tfm.as_ptr(), data.as_ptr(), data.len() as u32, out.as_mut_ptr()) })
    }
}

impl Drop for Hash {
    fn drop(&mut self) {
        // SAFETY: the transform is alive (type invariant) and freed once, here.
        unsafe { bindings::crypto_free_shash(self.tfm.as_ptr()) };
    }
}
