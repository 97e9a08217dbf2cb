// SPDX-License-Identifier: GPL-2.0

//! Message digests by the kernel's crypto API (C: `crypto_alloc_shash`,
//! `crypto_shash_setkey`, `crypto_shash_tfm_digest`): unkeyed MD5 and SHA-1 for record
//! digests, keyed HMAC-SHA256 for peer authentication.

use core::ptr::NonNull;

use super::sys;
use kernel::error::{from_err_ptr, to_result};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

/// An allocated hash transform, freed on drop.
///
/// # Invariants
///
/// `tfm` came from a successful `crypto_alloc_shash` and has not been freed; a keyed
/// algorithm's key was set right after the allocation, before `Hash` was handed out.
pub(crate) struct Hash {
    tfm: NonNull<sys::crypto_shash>,
}

// SAFETY: a transform is never modified after allocation (and setting the key);
// `crypto_shash_tfm_digest` keeps its state in an on-stack descriptor, so the transform
// may be used from several threads at once and freed from any.
unsafe impl Send for Hash {}
// SAFETY: see `Send`.
unsafe impl Sync for Hash {}

impl Hash {
    /// Allocates the algorithm `name` (e.g. "md5", "sha1").
    pub(crate) fn new(name: &CStr) -> Result<Hash> {
        // SAFETY: `name` is NUL-terminated; type and mask 0 ask for any implementation.
        let tfm = from_err_ptr(unsafe { sys::crypto_alloc_shash(name.as_char_ptr(), 0, 0) })?;
        // INVARIANT: allocation succeeded.
        NonNull::new(tfm).map(|tfm| Hash { tfm }).ok_or(ENOMEM)
    }

    /// Allocates the keyed algorithm `name` (e.g. "hmac(sha256)") with `key`.
    pub(crate) fn keyed(name: &CStr, key: &[u8]) -> Result<Hash> {
        let hash = Hash::new(name)?;
        let len = u32::try_from(key.len()).map_err(|_| EINVAL)?;
        // SAFETY: the transform is alive and not yet shared (no other user can see it
        // while its key changes); `key` is readable for `len` bytes. The key is copied.
        to_result(unsafe { sys::crypto_shash_setkey(hash.tfm.as_ptr(), key.as_ptr(), len) })?;
        Ok(hash)
    }

    /// Length of the digest in bytes.
    pub(crate) fn digest_len(&self) -> usize {
        // SAFETY: the transform is alive (type invariant).
        unsafe { sys::mars_crypto_shash_digestsize(self.tfm.as_ptr()) as usize }
    }

    /// The name of the implementation the crypto API picked for this transform, e.g.
    /// "hmac(sha256-avx2)".
    pub(crate) fn driver_name(&self) -> &CStr {
        // SAFETY: the transform is alive (type invariant), so the name is its registered
        // algorithm's, which the transform holds a reference to until it is freed (after
        // `&self` ends): a NUL-terminated array set at registration and never changed.
        unsafe { CStr::from_char_ptr(sys::mars_crypto_shash_driver_name(self.tfm.as_ptr())) }
    }

    /// Writes the digest of `data` to the start of `out`, which must hold [`Hash::digest_len`] bytes.
    pub(crate) fn digest(&self, data: &[u8], out: &mut [u8]) -> Result {
        if out.len() < self.digest_len() || data.len() > u32::MAX as usize {
            return Err(EINVAL);
        }
        // SAFETY: the transform is alive; `data` is readable for its length; `out` has
        // room for the digest (checked above).
        to_result(unsafe { sys::crypto_shash_tfm_digest(self.tfm.as_ptr(), data.as_ptr(), data.len() as u32, out.as_mut_ptr()) })
    }
}

impl Drop for Hash {
    fn drop(&mut self) {
        // SAFETY: the transform is alive (type invariant) and freed once, here.
        unsafe { sys::mars_crypto_free_shash(self.tfm.as_ptr()) };
    }
}
