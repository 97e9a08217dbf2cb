// SPDX-License-Identifier: GPL-2.0

//! Payload digests of log records, computed by the kernel's own implementations.

use kernel::prelude::*;

use crate::kapi::crc;
use crate::mars_core::crc32c::crc32c as software_crc32c;
use crate::mars_core::log_record::{crc32c_digest, ChecksumAlgorithm, Digester, DIGEST_LEN};

/// The module's digester: CRC32C by the kernel (MD5 and SHA-1 are not used by the
/// module yet; records carrying them are refused as unsupported).
pub(crate) struct KernelDigests;

impl Digester for KernelDigests {
    fn digest(&self, algorithm: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
        match algorithm {
            ChecksumAlgorithm::Crc32c => Some(crc32c_digest(crc::crc32c(data))),
            ChecksumAlgorithm::Md5 | ChecksumAlgorithm::Sha1 => None,
        }
    }
}

/// Checks at load time that the kernel's CRC32C computes exactly the shared format's
/// value (otherwise logs written here could not be read elsewhere, or vice versa).
pub(crate) fn self_test() -> Result {
    let mut block = [0u8; 4096];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i.wrapping_mul(31) ^ (i >> 7)) as u8;
    }
    for data in [&b"123456789"[..], &[][..], &block[..], &block[1..4001]] {
        if crc::crc32c(data) != software_crc32c(data) {
            pr_err!("kernel crc32c differs from the log format's CRC32C: refusing to load\n");
            return Err(EINVAL);
        }
    }
    Ok(())
}
