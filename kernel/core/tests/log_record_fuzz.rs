//! Property-based fuzzing of the log record decoder and scanner: whatever bytes a
//! logfile holds (damaged disk, torn writes, a hostile peer's fetch), decoding never
//! panics, never accepts a damaged record, and never reads past its input.

use mars_core::log_record::{
    decode_record, encode_record, ChecksumAlgorithm, Format, LogScanner, RecordError, RecordHeader, RecordKind, ScanEnd,
    SoftwareDigests,
};
use proptest::prelude::*;

fn record(seq: u64, pos_sectors: u64, sectors: u32, fill: u8) -> Vec<u8> {
    let h = RecordHeader {
        seq,
        stamp_ns: 1_700_000_000_000_000_000 + seq,
        pos: pos_sectors * 512,
        data_len: sectors * 512,
        kind: RecordKind::Write,
        checksum: ChecksumAlgorithm::Crc32c,
        // Both layouts, mixed within a log as after an upgrade.
        format: if fill & 1 == 0 { Format::Aligned } else { Format::Packed },
    };
    let payload: Vec<u8> = (0..h.data_len).map(|i| fill.wrapping_add((i % 251) as u8)).collect();
    let mut out = vec![0u8; h.record_len()];
    encode_record(&h, &payload, &SoftwareDigests, &mut out).unwrap();
    out
}

fn log(specs: &[(u64, u32, u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (pos, sectors, fill)) in specs.iter().enumerate() {
        out.extend(record(i as u64 + 1, *pos, *sectors, *fill));
    }
    out
}

fn specs() -> impl Strategy<Value = Vec<(u64, u32, u8)>> {
    prop::collection::vec((0u64..1 << 20, 1u32..9, any::<u8>()), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn resuming_at_any_sequence_number_never_panics(seq in prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()], sectors in 1u32..4) {
        // A record carrying the number the scan expects, whatever it is (also u64::MAX).
        let h = RecordHeader { seq, stamp_ns: 1, pos: 0, data_len: sectors * 512, kind: RecordKind::Write, checksum: ChecksumAlgorithm::Crc32c, format: Format::Packed };
        let mut head = [0u8; 56];
        h.encode(&mut head);
        let payload = vec![3u8; h.data_len as usize];
        let mut tail = [0u8; 40];
        h.encode_trailer(&mars_core::log_record::crc32c_digest(mars_core::crc32c::crc32c(&payload)), &mut tail);
        let bytes = [&head[..], &payload, &tail[..]].concat();
        let mut s = LogScanner::resume(&bytes, 0, seq, &SoftwareDigests);
        let n = s.by_ref().count();
        prop_assert_eq!(n, usize::from(seq != 0 && seq != u64::MAX));
        prop_assert!(s.next_seq() >= seq);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_record(&bytes, &SoftwareDigests);
        let mut s = LogScanner::new(&bytes, &SoftwareDigests);
        let n = s.by_ref().count();
        prop_assert!(s.offset() <= bytes.len());
        prop_assert!(s.end().is_some());
        prop_assert!(n <= bytes.len() / 96);
    }

    #[test]
    fn any_corruption_of_a_log_is_caught_at_or_before_it(
        specs in specs(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
    ) {
        let good = log(&specs);
        let mut bad = good.clone();
        let mut first = usize::MAX;
        for (at, x) in &flips {
            let i = at.index(bad.len());
            bad[i] ^= x;
            first = first.min(i);
        }
        prop_assume!(bad != good);
        let mut s = LogScanner::new(&bad, &SoftwareDigests);
        let valid: Vec<(usize, usize)> = s.by_ref().map(|(o, r)| (o, r.header.record_len())).collect();
        // Every record accepted lies entirely before the first changed byte.
        for (o, len) in valid {
            prop_assert!(o + len <= first, "record at {o} (len {len}) accepted over a change at {first}");
        }
        prop_assert!(!matches!(s.end(), Some(ScanEnd::Clean)), "damaged log scanned clean");
    }

    #[test]
    fn a_cut_log_yields_exactly_the_complete_records(specs in specs(), cut in any::<prop::sample::Index>()) {
        let good = log(&specs);
        let at = cut.index(good.len());
        let mut s = LogScanner::new(&good[..at], &SoftwareDigests);
        let got: Vec<u64> = s.by_ref().map(|(_, r)| r.header.seq).collect();
        let mut ends = Vec::new();
        let mut off = 0;
        for (pos, sectors, fill) in &specs {
            off += record(1, *pos, *sectors, *fill).len();
            ends.push(off);
        }
        let complete = ends.iter().filter(|&&e| e <= at).count();
        prop_assert_eq!(got, (1..=complete as u64).collect::<Vec<_>>());
        if ends.contains(&at) || at == 0 {
            prop_assert_eq!(s.end(), Some(ScanEnd::Clean));
        } else {
            let truncated = matches!(
                s.end(),
                Some(ScanEnd::Bad { error: RecordError::Truncated { .. }, .. })
            );
            prop_assert!(truncated, "cut inside a record must read as truncated: {:?}", s.end());
        }
    }
}
