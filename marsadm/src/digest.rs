//! Payload digests for log records: CRC32C and XXH64 from the shared core, MD5 and SHA-1 from the
//! RustCrypto crates (the module uses the kernel's crypto API for the same algorithms).

use mars_core::log_record::{crc32c_digest, xxh64_digest, ChecksumAlgorithm, Digester, DIGEST_LEN};
use md5::Digest as _;

/// Computes every digest a log record may use.
pub struct AllDigests;

impl Digester for AllDigests {
    fn digest(&self, algorithm: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
        let mut out = [0u8; DIGEST_LEN];
        match algorithm {
            ChecksumAlgorithm::Crc32c => return Some(crc32c_digest(mars_core::crc32c::crc32c(data))),
            ChecksumAlgorithm::Md5 => out[..16].copy_from_slice(&md5::Md5::digest(data)),
            ChecksumAlgorithm::Sha1 => out.copy_from_slice(&sha1::Sha1::digest(data)),
            ChecksumAlgorithm::Xxh64 => return Some(xxh64_digest(data)),
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        let d = AllDigests;
        assert_eq!(hex(&d.digest(ChecksumAlgorithm::Md5, b"abc").unwrap()[..16]), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(&d.digest(ChecksumAlgorithm::Sha1, b"abc").unwrap()), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(&d.digest(ChecksumAlgorithm::Crc32c, b"123456789").unwrap()[..4], &0xe306_9283u32.to_le_bytes());
        assert_eq!(&d.digest(ChecksumAlgorithm::Xxh64, b"abc").unwrap()[..8], &0x44bc_2cf5_ad77_0999u64.to_le_bytes());
    }
}
