//! CRC32C (Castagnoli), the default payload checksum of log records and the checksum of
//! record headers and network frames. Table-driven software implementation (slicing by
//! 8); the module computes record payload digests with the fastest of the kernel's
//! implementations instead (kernel/digest.rs), the same function: a unit test pins the
//! standard check value so both sides stay in agreement.

const POLY_REFLECTED: u32 = 0x82f6_3b78;

/// Eight tables for slicing by 8 (as the kernel's lib/crc32.c does): `TABLES[0]` is the
/// classic byte table; `TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes.
/// Under an emulator this runs several times as fast as a byte at a time.
const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Continues a CRC32C over `data`. Start with `crc32c_update(0, ..)`; the function takes
/// and returns the finished (post-inverted) value, like the kernel's `crc32c(~0 ^ ..)`
/// convention wrapped by [`crc32c`].
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut c = !crc;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let lo = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        c = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in words.remainder() {
        c = t[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value() {
        // The catalogue check value of CRC-32C (iSCSI): crc("123456789").
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    /// The plain bit-at-a-time definition.
    fn reference(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY_REFLECTED } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn slicing_matches_the_definition() {
        let data: std::vec::Vec<u8> = (0..1100u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        // Every length around the 8-byte steps, at every alignment of the start.
        for start in 0..8 {
            for len in (0..40).chain([255, 256, 257, 1024, 1091]) {
                let d = &data[start..start + len];
                assert_eq!(crc32c(d), reference(d), "start {start} len {len}");
            }
        }
    }

    #[test]
    fn update_is_incremental() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let (a, b) = data.split_at(17);
        assert_eq!(crc32c_update(crc32c(a), b), crc32c(data));
    }
}
