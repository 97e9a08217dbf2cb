//! CRC32C (Castagnoli), the default payload checksum of log records and the checksum of
//! record headers. Table-driven software implementation: the module may use the kernel's
//! (hardware-accelerated) `crc32c()` instead, which computes the same function; a unit
//! test pins the standard check value so both sides stay in agreement.

const POLY_REFLECTED: u32 = 0x82f6_3b78;

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Continues a CRC32C over `data`. Start with `crc32c_update(0, ..)`; the function takes
/// and returns the finished (post-inverted) value, like the kernel's `crc32c(~0 ^ ..)`
/// convention wrapped by [`crc32c`].
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
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

    #[test]
    fn update_is_incremental() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let (a, b) = data.split_at(17);
        assert_eq!(crc32c_update(crc32c(a), b), crc32c(data));
    }
}
