// SPDX-License-Identifier: GPL-2.0

//! Payload digests of log records, computed by the kernel's own implementations through
//! the crypto API: CRC32C, MD5 and SHA-1. Which one new records use is the tunable
//! `log_digest`; records of every kind are verified.
//!
//! Where the kernel has several implementations of one algorithm, [`fastest`] times them
//! at load time and takes the fastest, as the kernel picks its RAID6 and XOR code at boot:
//! the crypto API's priorities assume hardware, and an emulator turns them upside down.
//! Under qemu's TCG (the testbed) the plain C CRC32C runs 4 × and plain SHA-256 1.5 × as
//! fast as the code with the CRC32 and AVX2 instructions, which TCG runs in helper
//! functions (docu/data-path.md, "Checksums").

use core::fmt;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;

use crate::kapi::hash::Hash;
use crate::kapi::time::monotonic_ns;
use crate::mars_core::crc32c::crc32c as software_crc32c;
use crate::mars_core::log_record::{crc32c_digest, xxh64_digest, ChecksumAlgorithm, Digester, DIGEST_LEN};
use crate::mars_core::text::format_into;

/// CRC32C by the crypto API's pick (with the SSE4.2 instruction on x86), then the plain
/// C one (slice-by-8 tables).
const CRC32C_IMPLEMENTATIONS: [&CStr; 2] = [kernel::c_str!("crc32c"), kernel::c_str!("crc32c-generic")];

/// The module's digester, allocated at load time.
pub(crate) struct KernelDigests {
    crc32c: Hash,
    md5: Hash,
    sha1: Hash,
}

impl KernelDigests {
    /// Allocates the hash transforms and checks every algorithm against the shared
    /// format's expectations (otherwise logs written here could not be read elsewhere).
    pub(crate) fn new() -> Result<KernelDigests> {
        // The check value of CRC-32C (RFC 3720), as the crypto API writes it: little-endian.
        let crc32c = fastest("CRC32C", &CRC32C_IMPLEMENTATIONS, None, (b"123456789", &0xe306_9283u32.to_le_bytes()))?.hash;
        let d = KernelDigests { crc32c, md5: Hash::new(kernel::c_str!("md5"))?, sha1: Hash::new(kernel::c_str!("sha1"))? };
        d.self_test()?;
        Ok(d)
    }

    fn self_test(&self) -> Result {
        let mut block = [0u8; 4096];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i.wrapping_mul(31) ^ (i >> 7)) as u8;
        }
        for data in [&b"123456789"[..], &[][..], &block[..], &block[1..4001]] {
            if self.crc32c(data) != Some(software_crc32c(data)) {
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
    /// CRC-32C of `data` in the standard form (initial and final inversion).
    fn crc32c(&self, data: &[u8]) -> Option<u32> {
        let mut out = [0u8; 4];
        self.crc32c.digest(data, &mut out).ok()?;
        Some(u32::from_le_bytes(out))
    }

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
            ChecksumAlgorithm::Crc32c => return self.crc32c(data).map(crc32c_digest),
            ChecksumAlgorithm::Xxh64 => return Some(xxh64_digest(data)),
            ChecksumAlgorithm::Md5 => &self.md5,
            ChecksumAlgorithm::Sha1 => &self.sha1,
        };
        let mut out = [0u8; DIGEST_LEN];
        hash.digest(data, &mut out).ok()?;
        Some(out)
    }
}

/// Bytes hashed per call while timing, and the least time one timing takes: the guests'
/// only clocksource may be jiffies, in 4 ms steps.
const SAMPLE_LEN: usize = 64 * 1024;
const TIMING_NS: u64 = 32_000_000;

/// The implementation [`fastest`] picked, and its index in the names it was given.
pub(crate) struct Picked {
    pub(crate) index: usize,
    pub(crate) hash: Hash,
}

/// Picks the fastest on this CPU of the crypto API's implementations `names` of one
/// algorithm (keyed with `key` if given). Each must give the `known` answer (data,
/// digest) and the same digest of a sample as the first; one that does not is left out
/// with a warning, and a first one that does not fails (the module then refuses to load).
/// Names this kernel lacks are skipped. Another than the first is taken only if it is
/// 1.25 × as fast, so that a noisy timing does not flip the choice on hardware.
pub(crate) fn fastest(algorithm: &str, names: &[&CStr], key: Option<&[u8]>, known: (&[u8], &[u8])) -> Result<Picked> {
    let mut sample = KVec::from_elem(0u8, SAMPLE_LEN, GFP_KERNEL)?;
    for (i, b) in sample.iter_mut().enumerate() {
        *b = (i.wrapping_mul(131) ^ (i >> 9)) as u8;
    }
    let alloc = |name: &CStr| match key {
        Some(key) => Hash::keyed(name, key),
        None => Hash::new(name),
    };
    let mut reference = [0u8; 64];
    let mut best: Option<(usize, Hash, u64)> = None;
    let mut rates: [(usize, u64); 8] = [(0, 0); 8];
    // The driver the first name stands for, for the log line.
    let mut default_driver = [0u8; 64];
    for (index, &name) in names.iter().enumerate().take(rates.len()) {
        let hash = match alloc(name) {
            Ok(hash) => hash,
            Err(e) if index == 0 => {
                pr_err!("{}: no implementation ({:?}): refusing to load\n", algorithm, e);
                return Err(e);
            }
            Err(_) => continue,
        };
        let len = hash.digest_len();
        let mut out = [0u8; 64];
        let known_ok = len <= out.len() && hash.digest(known.0, &mut out).is_ok() && out.get(..len) == Some(known.1);
        if index == 0 {
            let driver = hash.driver_name().to_bytes();
            let n = driver.len().min(default_driver.len());
            default_driver[..n].copy_from_slice(&driver[..n]);
            if !known_ok || hash.digest(&sample, &mut reference).is_err() {
                pr_err!("{} fails its known answer: refusing to load\n", hash.driver_name());
                return Err(EINVAL);
            }
        } else if !known_ok || hash.digest(&sample, &mut out).is_err() || out[..len] != reference[..len] {
            pr_warn!("{} differs from {}'s answers: not using it\n", hash.driver_name(), names[0]);
            continue;
        }
        let rate = rate(&hash, &sample)?;
        rates[index] = (index, rate);
        let better = match &best {
            None => true,
            Some((_, _, best_rate)) => rate > *best_rate && rate.saturating_mul(4) > rates[0].1.saturating_mul(5),
        };
        if better {
            best = Some((index, hash, rate));
        }
    }
    let (index, hash, _) = best.ok_or(EINVAL)?;
    let mut text = [0u8; 256];
    let default_driver = core::str::from_utf8(&default_driver).unwrap_or("?").trim_end_matches('\0');
    let shown = Rates { names, default_driver, rates: &rates[..names.len().min(rates.len())] };
    let line = format_into(&mut text, format_args!("{}", shown)).unwrap_or("");
    pr_info!("{} by {} (MB/s: {})\n", algorithm, hash.driver_name(), line);
    Ok(Picked { index, hash })
}

/// MB/s of `hash` over `data`, timed for at least [`TIMING_NS`].
fn rate(hash: &Hash, data: &[u8]) -> Result<u64> {
    let mut out = [0u8; 64];
    // Once untimed: an emulator translates the code on its first run.
    hash.digest(data, &mut out)?;
    let start = monotonic_ns();
    let mut bytes: u64 = 0;
    loop {
        hash.digest(data, &mut out)?;
        bytes = bytes.saturating_add(data.len() as u64);
        let elapsed = monotonic_ns().saturating_sub(start);
        if elapsed >= TIMING_NS {
            // Bytes per microsecond are MB/s.
            return Ok(bytes.saturating_mul(1000) / elapsed);
        }
    }
}

/// "name rate, ..." of the implementations that were timed.
struct Rates<'a> {
    names: &'a [&'a CStr],
    default_driver: &'a str,
    rates: &'a [(usize, u64)],
}

impl fmt::Display for Rates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for &(index, rate) in self.rates.iter().filter(|r| r.1 > 0) {
            let sep = if first { "" } else { ", " };
            first = false;
            let name = if index == 0 { self.default_driver } else { self.names[index].to_str().unwrap_or("?") };
            write!(f, "{}{} {}", sep, name, rate)?;
        }
        Ok(())
    }
}
