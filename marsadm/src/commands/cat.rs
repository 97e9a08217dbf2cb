//! `marsadm cat <logfile>`: decode and verify a transaction logfile.
//!
//! Uses the shared record codec and scanner (`mars_core::log_record`), so marsadm judges
//! a log exactly as the module's replay does. The file is read window by window (pread),
//! so logs of any size are read in bounded memory; it is never mapped: a logfile that
//! fetch cuts back while it is read (a repaired tail) gives a shorter result, where a
//! mapping's reader would die of SIGBUS.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use mars_core::lamport::format_stamp;
use mars_core::log_record::{next_window, LogScanner, RecordError, RecordKind, ScanEnd};
use serde::Serialize;

use crate::digest::AllDigests;
use crate::error::{Error, Result};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct RecordLine {
    seq: u64,
    offset: usize,
    stamp: String,
    pos: u64,
    len: u32,
    kind: &'static str,
    checksum: &'static str,
}

/// How the log ends.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum LogStatus {
    /// Every byte belongs to a valid record (or to a zero-filled tail).
    Clean,
    /// The last record is not complete yet (still being written or fetched, or cut off
    /// by a crash); everything before it is valid.
    Incomplete,
    /// A damaged or out-of-sequence record.
    Bad,
}

#[derive(Debug, Serialize)]
struct Problem {
    offset: usize,
    expected_seq: u64,
    message: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    records: u64,
    data_bytes: u64,
    /// Offset just after the last valid record.
    valid_bytes: usize,
    file_bytes: usize,
    status: LogStatus,
    problem: Option<Problem>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    schema_version: u32,
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    records: Option<Vec<RecordLine>>,
    summary: Summary,
}

/// Bytes read at once (a window grows while one record does not fit).
const WINDOW: usize = 16 << 20;

/// Fills `buf` with what `read` (a positional read, as pread) gives at `pos`, fewer bytes
/// only where the file ends; returns how many.
fn read_full(read: &mut impl FnMut(&mut [u8], u64) -> io::Result<usize>, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match read(&mut buf[got..], pos + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Scans a logfile of `size` bytes, read by `read` in windows of `window` bytes, and
/// builds the report. A file that turns out shorter than `size` (cut while it is read)
/// is judged as far as it goes.
fn scan(mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>, size: u64, window: usize, with_records: bool) -> io::Result<(Option<Vec<RecordLine>>, Summary)> {
    let digester = AllDigests;
    let mut lines = with_records.then(Vec::new);
    let (mut records, mut data_bytes) = (0u64, 0u64);
    let (mut base, mut next_seq, mut want) = (0u64, 1u64, window);
    let mut buf = Vec::new();
    // The file's real end, where a read came up short.
    let mut file_end = size;
    let (end, valid) = loop {
        let len = usize::try_from(size.saturating_sub(base)).unwrap_or(usize::MAX).min(want);
        buf.resize(len, 0);
        let got = read_full(&mut read, &mut buf, base)?;
        if got < len {
            file_end = base + got as u64;
        }
        let mut scanner = LogScanner::resume(&buf[..got], 0, next_seq, &digester);
        for (offset, rec) in scanner.by_ref() {
            records += 1;
            data_bytes += u64::from(rec.header.data_len);
            if let Some(lines) = lines.as_mut() {
                let mut stamp = [0u8; 32];
                lines.push(RecordLine {
                    seq: rec.header.seq,
                    offset: (base as usize).saturating_add(offset),
                    stamp: format_stamp(rec.header.stamp_ns, &mut stamp).to_owned(),
                    pos: rec.header.pos,
                    len: rec.header.data_len,
                    kind: match rec.header.kind {
                        RecordKind::Write => "write",
                        RecordKind::Discard => "discard",
                    },
                    checksum: rec.header.checksum.name(),
                });
            }
        }
        let (consumed, end) = (scanner.offset(), scanner.end());
        next_seq = scanner.next_seq();
        if let Some(next) = next_window(base, got, consumed, file_end, end) {
            (base, want) = (next, window);
            continue;
        }
        let truncated = matches!(end, Some(ScanEnd::Bad { error: RecordError::Truncated { .. }, .. }));
        if consumed == 0 && truncated && base + (got as u64) < file_end {
            // One record larger than the window: read more of it at once.
            want = want.saturating_mul(2);
            continue;
        }
        let valid = base + consumed as u64;
        // Zeros after the last record end the log only if nothing but zeros follows (as
        // a scan of the whole file judges it).
        if end == Some(ScanEnd::Clean) && consumed < got {
            let mut at = base + got as u64;
            while at < file_end {
                buf.resize(usize::try_from(file_end - at).unwrap_or(usize::MAX).min(window), 0);
                let n = read_full(&mut read, &mut buf, at)?;
                if buf[..n].iter().any(|&b| b != 0) {
                    break;
                }
                if n < buf.len() {
                    file_end = at + n as u64;
                }
                at += n as u64;
                if n == 0 {
                    break;
                }
            }
            if at < file_end {
                let bad = ScanEnd::Bad { offset: 0, expected_seq: next_seq, error: RecordError::Zeroed };
                break (Some(bad), valid);
            }
        }
        break (end, valid);
    };
    let valid_bytes = usize::try_from(valid).unwrap_or(usize::MAX);
    let (status, problem) = match end {
        Some(ScanEnd::Clean) | None => (LogStatus::Clean, None),
        Some(ScanEnd::Bad { expected_seq, error, .. }) => {
            let status = match error {
                RecordError::Truncated { .. } => LogStatus::Incomplete,
                _ => LogStatus::Bad,
            };
            (status, Some(Problem { offset: valid_bytes, expected_seq, message: error.to_string() }))
        }
        Some(ScanEnd::SequenceGap { expected, found, .. }) => (
            LogStatus::Bad,
            Some(Problem {
                offset: valid_bytes,
                expected_seq: expected,
                message: format!("valid record with sequence number {found}, expected {expected}"),
            }),
        ),
    };
    let file_bytes = usize::try_from(file_end).unwrap_or(usize::MAX);
    let summary = Summary { records, data_bytes, valid_bytes, file_bytes, status, problem };
    Ok((lines, summary))
}

pub fn exec(path: &Path, summary_only: bool, json: bool) -> Result<()> {
    let read_err = |source| Error::Read { path: path.to_owned(), source };
    let file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(Error::NotAFile(path.to_owned()));
    }
    let (records, summary) = scan(|buf, pos| file.read_at(buf, pos), meta.len(), WINDOW, !summary_only).map_err(read_err)?;
    let status = summary.status;
    let name = path.display().to_string();
    if json {
        let report = Report { schema_version: SCHEMA_VERSION, file: &name, records, summary };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(lines) = &records {
            println!("{:>8} {:>12} {:>21} {:>14} {:>8} {:<7} checksum", "seq", "offset", "stamp", "pos", "len", "kind");
            for r in lines {
                println!(
                    "{:>8} {:>12} {:>21} {:>14} {:>8} {:<7} {}",
                    r.seq, r.offset, r.stamp, r.pos, r.len, r.kind, r.checksum
                );
            }
        }
        println!(
            "{name}: {} records, {} bytes of data, {} of {} bytes valid: {}",
            summary.records,
            summary.data_bytes,
            summary.valid_bytes,
            summary.file_bytes,
            match status {
                LogStatus::Clean => "clean",
                LogStatus::Incomplete => "incomplete last record",
                LogStatus::Bad => "BAD RECORD",
            }
        );
        if let Some(p) = &summary.problem {
            println!("{name}: at offset {} (record {}): {}", p.offset, p.expected_seq, p.message);
        }
    }
    match status {
        LogStatus::Clean => Ok(()),
        LogStatus::Incomplete => Err(Error::LogIncomplete(name)),
        LogStatus::Bad => Err(Error::LogBad(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mars_core::log_record::{encode_record, ChecksumAlgorithm, Format, RecordHeader, HEADER_LEN};

    /// A positional reader of `data`.
    fn reader(data: &[u8]) -> impl FnMut(&mut [u8], u64) -> io::Result<usize> + '_ {
        move |buf, pos| {
            let rest = data.get(pos as usize..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
    }

    fn scan_all(data: &[u8], with_records: bool) -> (Option<Vec<RecordLine>>, Summary) {
        scan(reader(data), data.len() as u64, WINDOW, with_records).unwrap()
    }

    fn log(n: u64, checksum: ChecksumAlgorithm) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in 1..=n {
            let h = RecordHeader { seq, stamp_ns: seq, pos: seq * 4096, data_len: 4096, kind: RecordKind::Write, checksum, format: Format::Packed };
            let mut rec = vec![0u8; h.record_len()];
            encode_record(&h, &[seq as u8; 4096], &AllDigests, &mut rec).unwrap();
            out.extend(rec);
        }
        out
    }

    #[test]
    fn clean_log_with_every_checksum() {
        for alg in [ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Xxh64] {
            let data = log(4, alg);
            let (lines, s) = scan_all(&data, true);
            assert_eq!(s.status, LogStatus::Clean, "{alg:?}");
            assert_eq!(s.records, 4);
            assert_eq!(s.data_bytes, 4 * 4096);
            assert_eq!(lines.unwrap()[3].checksum, alg.name());
        }
    }

    #[test]
    fn cut_off_log_is_incomplete_and_damage_is_bad_at_the_exact_record() {
        let data = log(3, ChecksumAlgorithm::Crc32c);
        let rec_len = data.len() / 3;
        let (_, s) = scan_all(&data[..data.len() - 5], false);
        assert_eq!(s.status, LogStatus::Incomplete);
        assert_eq!(s.records, 2);
        assert_eq!(s.problem.unwrap().offset, 2 * rec_len);

        let mut bad = data.clone();
        bad[rec_len + HEADER_LEN + 7] ^= 0x10;
        let (_, s) = scan_all(&bad, false);
        assert_eq!(s.status, LogStatus::Bad);
        assert_eq!(s.records, 1);
        let p = s.problem.unwrap();
        assert_eq!((p.offset, p.expected_seq), (rec_len, 2));
        assert!(p.message.contains("payload checksum"), "{}", p.message);
    }

    #[test]
    fn empty_file_is_clean() {
        let (_, s) = scan_all(&[], true);
        assert_eq!((s.status, s.records), (LogStatus::Clean, 0));
    }
    #[test]
    fn windows_of_any_size_judge_as_one_read() {
        let data = log(12, ChecksumAlgorithm::Crc32c);
        let rec_len = data.len() / 12;
        let mut damaged = data.clone();
        damaged[5 * rec_len + HEADER_LEN + 9] ^= 1;
        let cut = data[..data.len() - 5].to_vec();
        let mut zero_tail = data.clone();
        zero_tail.extend(vec![0u8; 3 * rec_len]);
        let mut zeros_then_data = zero_tail.clone();
        let last = zeros_then_data.len() - 1;
        zeros_then_data[last] = 1;
        for (what, bytes) in [("clean", &data), ("damaged", &damaged), ("cut", &cut), ("zero tail", &zero_tail), ("zeros then data", &zeros_then_data)] {
            let (lines, whole) = scan(reader(bytes), bytes.len() as u64, WINDOW, true).unwrap();
            let offsets: Vec<usize> = lines.unwrap().iter().map(|r| r.offset).collect();
            // Windows smaller than a record, and not aligned to records.
            for window in [rec_len / 3, rec_len + 7, 2 * rec_len + 1, 5 * rec_len] {
                let (l, s) = scan(reader(bytes), bytes.len() as u64, window, true).unwrap();
                let got = (s.status, s.records, s.valid_bytes, s.file_bytes, s.problem.map(|p| (p.offset, p.expected_seq)));
                let want = (whole.status, whole.records, whole.valid_bytes, whole.file_bytes, whole.problem.as_ref().map(|p| (p.offset, p.expected_seq)));
                assert_eq!(got, want, "{what}, window {window}");
                assert_eq!(l.unwrap().iter().map(|r| r.offset).collect::<Vec<_>>(), offsets, "{what}, window {window}");
            }
        }
        assert_eq!(scan_all(&damaged, false).1.status, LogStatus::Bad);
        assert_eq!(scan_all(&cut, false).1.status, LogStatus::Incomplete);
        assert_eq!(scan_all(&zero_tail, false).1.status, LogStatus::Clean);
        assert_eq!(scan_all(&zeros_then_data, false).1.status, LogStatus::Bad);
    }

    /// A logfile cut back (fetch repairing its tail) while marsadm reads it: judged as far
    /// as it goes; never a crash (a mapping of it would die of SIGBUS past the new end).
    #[test]
    fn file_cut_while_read_gives_a_shorter_result() {
        let data = log(40, ChecksumAlgorithm::Crc32c);
        let rec_len = data.len() / 40;
        let path = std::env::temp_dir().join(format!("marsadm-cat-cut-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let size = file.metadata().unwrap().len();
        let mut reads = 0;
        let result = scan(
            |buf, pos| {
                reads += 1;
                if reads == 2 {
                    // After the first window: cut to 10 records and a half.
                    file.set_len((10 * rec_len + rec_len / 2) as u64).unwrap();
                }
                file.read_at(buf, pos)
            },
            size,
            4 * rec_len + 100,
            false,
        );
        std::fs::remove_file(&path).unwrap();
        let (_, s) = result.unwrap();
        assert_eq!(s.status, LogStatus::Incomplete);
        assert_eq!(s.records, 10);
        assert_eq!(s.valid_bytes, 10 * rec_len);
        assert_eq!(s.file_bytes, 10 * rec_len + rec_len / 2);
    }
}
