//! Log records as read from a logfile (or fetched from a peer): `decode_header`,
//! `decode_record`, `LogScanner`. Mode 0: the input is the logfile. Mode 1: the input
//! describes records (header fields, payload), which are encoded and then damaged at
//! input-chosen places, so the fuzzer reaches the checks behind the checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mars_core::log_record::{
    aligned_record_ending_at, decode_header, decode_record, encode_record, headers_end, ChecksumAlgorithm, Digester, Format, LogScanner, RecordHeader, RecordKind, SoftwareDigests, DIGEST_LEN,
};

/// Accepts every algorithm (digest: CRC32C, zero-padded), so records of any checksum
/// kind decode as far as the format allows.
struct AnyAlgorithm;

impl Digester for AnyAlgorithm {
    fn digest(&self, _: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
        SoftwareDigests.digest(ChecksumAlgorithm::Crc32c, data)
    }
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = d.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// Records from `d`: 24 bytes per record (seq delta, pos, len, flags), payload bytes
/// repeated; then the last bytes as (offset, xor) damage.
fn build(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for chunk in d.chunks(24).take(8) {
        seq = seq.wrapping_add(u64_at(chunk, 0) % 3);
        let h = RecordHeader {
            seq,
            stamp_ns: u64_at(chunk, 0),
            pos: u64_at(chunk, 8) % (1 << 40) * 512,
            data_len: ((u64_at(chunk, 16) % 64) as u32) * 512,
            kind: if chunk.get(20).copied().unwrap_or(0) & 1 == 0 { RecordKind::Write } else { RecordKind::Discard },
            checksum: [ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Xxh64][usize::from(chunk.get(21).copied().unwrap_or(0) % 4)],
            // Both layouts, mixed in one log.
            format: if chunk.get(20).copied().unwrap_or(0) & 2 == 0 { Format::Aligned } else { Format::Packed },
        };
        let payload = vec![chunk.get(22).copied().unwrap_or(0); h.payload_len() as usize];
        let mut rec = vec![0u8; h.record_len()];
        if encode_record(&h, &payload, &AnyAlgorithm, &mut rec).is_ok() {
            out.extend_from_slice(&rec);
        }
    }
    for pair in d.chunks(3).rev().take(4) {
        if pair.len() == 3 && !out.is_empty() {
            let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % out.len();
            out[at] ^= pair[2];
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let buf = if mode & 1 == 1 { build(rest) } else { rest.to_vec() };
    let _ = decode_header(&buf);
    let _ = decode_record(&buf, &SoftwareDigests);
    let mut s = LogScanner::new(&buf, &AnyAlgorithm);
    let mut last = 0;
    for (off, r) in s.by_ref() {
        assert!(off >= last && off + r.header.record_len() <= buf.len());
        last = off + r.header.record_len();
    }
    assert!(s.offset() <= buf.len());
    assert!(s.end().is_some());
    let at = (u64_at(rest, 0) as usize) % (buf.len() + 1);
    let mut s = LogScanner::resume(&buf, at, u64_at(rest, 8), &SoftwareDigests);
    for _ in s.by_ref() {}
    assert!(s.end().is_some());
    // The header-only walk ends within the file, at or after where it started.
    let size = buf.len() as u64;
    let end = headers_end(at as u64, size, |pos, head| {
        let pos = pos as usize;
        buf.get(pos..pos + head.len()).map(|h| head.copy_from_slice(h)).is_some()
    });
    assert!(end >= (at as u64).min(size) && end <= size);
    // The record ending at a position (backwards from it) is a whole aligned one there.
    if let Some(h) = aligned_record_ending_at(&buf[..at]) {
        assert!(h.record_len() <= at && h.record_len() % 512 == 0);
    }
});
