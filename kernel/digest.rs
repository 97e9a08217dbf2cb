// SPDX-License-Identifier: GPL-2.0

//! Payload digests of log records, computed by the kernel's own implementations:
//! CRC32C by `crc32c()`, MD5 and SHA-1 by the crypto API. Which one new records use is
//! the tunable `log_digest`; records of every kind are verified.

use kernel::prelude::*;

use crate::kapi::crc;
use crate::kapi::hash::Hash;
use crate::mars_core::crc32c::crc32c as software_crc32c;
use crate::mars_core::log_record::{crc32c_digest, xxh64_digest, ChecksumAlgorithm, Digester, DIGEST_LEN};

/// The module's digester, allocated at load time.
pub(crate) struct KernelDigests {
    md5: Hash,
    sha1: Hash,
}

impl KernelDigests {
    /// Allocates the hash transforms and checks every algorithm against the shared
    /// format's expectations (otherwise logs written here could not be read elsewhere).
    pub(crate) fn new() -> Result<KernelDigests> {
        let d = KernelDigests { md5: Hash::new(kernel::c_str!("md5"))?, sha1: Hash::new(kernel::c_str!("sha1"))? };
        d.self_test()?;
        Ok(d)
    }

    fn self_test(&self) -> Result {
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
        // Known answers (RFC 1321, FIPS 180): "abc".
        let md5_abc = *b"\x90\x01\x50\x98\x3c\xd2\x4f\xb0\xd6\x96\x3f\x7d\x28\xe1\x7f\x72";
        let sha1_abc = *b"\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9d";
        let md5 = self.digest(ChecksumAlgorithm::Md5, b"abc");
        let sha1 = self.digest(ChecksumAlgorithm::Sha1, b"abc");
        // XXH64 is the core's own code; its known answer (the kernel's lib/xxhash.c) also
        // catches a build for a big-endian machine reading words the wrong way.
        let xxh64_ok = xxh64_digest(b"abc")[..8] == 0x44bc_2cf5_ad77_0999u64.to_le_bytes();
        if md5.map(|d| d[..16] == md5_abc) != Some(true) || sha1 != Some(sha1_abc) || !xxh64_ok {
            pr_err!("md5/sha1/xxh64 self-test failed: refusing to load\n");
            return Err(EINVAL);
        }
        Ok(())
    }
}

impl KernelDigests {
    /// MD5 of `data` (version links).
    pub(crate) fn md5(&self, data: &[u8]) -> Result<[u8; 16]> {
        let mut out = [0u8; 16];
        self.md5.digest(data, &mut out)?;
        Ok(out)
    }
}

impl Digester for KernelDigests {
    fn digest(&self, algorithm: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
        let hash = match algorithm {
            ChecksumAlgorithm::Crc32c => return Some(crc32c_digest(crc::crc32c(data))),
            ChecksumAlgorithm::Xxh64 => return Some(xxh64_digest(data)),
            ChecksumAlgorithm::Md5 => &self.md5,
            ChecksumAlgorithm::Sha1 => &self.sha1,
        };
        let mut out = [0u8; DIGEST_LEN];
        hash.digest(data, &mut out).ok()?;
        Some(out)
    }
}
