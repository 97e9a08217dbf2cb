//! `marsadm cat <logfile>`: decode and verify a transaction logfile.
//!
//! Uses the shared record codec and scanner (`mars_core::log_record`), so marsadm judges
//! a log exactly as the module's replay does. The file is memory-mapped (a snapshot of
//! its current size), so logs of any size are read without copying.

use std::fs::File;
use std::path::Path;

use mars_core::lamport::format_stamp;
use mars_core::log_record::{LogScanner, RecordError, RecordKind, ScanEnd};
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

/// Scans `data` (a whole logfile) and builds the report.
fn scan(data: &[u8], with_records: bool) -> (Option<Vec<RecordLine>>, Summary) {
    let digester = AllDigests;
    let mut scanner = LogScanner::new(data, &digester);
    let mut lines = with_records.then(Vec::new);
    let (mut records, mut data_bytes) = (0u64, 0u64);
    for (offset, rec) in scanner.by_ref() {
        records += 1;
        data_bytes += u64::from(rec.header.data_len);
        if let Some(lines) = lines.as_mut() {
            let mut buf = [0u8; 32];
            lines.push(RecordLine {
                seq: rec.header.seq,
                offset,
                stamp: format_stamp(rec.header.stamp_ns, &mut buf).to_owned(),
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
    let (status, problem) = match scanner.end() {
        Some(ScanEnd::Clean) | None => (LogStatus::Clean, None),
        Some(ScanEnd::Bad { offset, expected_seq, error }) => {
            let status = match error {
                RecordError::Truncated { .. } => LogStatus::Incomplete,
                _ => LogStatus::Bad,
            };
            (status, Some(Problem { offset, expected_seq, message: error.to_string() }))
        }
        Some(ScanEnd::SequenceGap { offset, expected, found }) => (
            LogStatus::Bad,
            Some(Problem {
                offset,
                expected_seq: expected,
                message: format!("valid record with sequence number {found}, expected {expected}"),
            }),
        ),
    };
    let summary = Summary { records, data_bytes, valid_bytes: scanner.offset(), file_bytes: data.len(), status, problem };
    (lines, summary)
}

/// Maps a logfile read-only; an empty file maps to an empty slice.
struct Mapped {
    ptr: Option<std::ptr::NonNull<std::ffi::c_void>>,
    len: usize,
}

impl Mapped {
    fn open(path: &Path) -> Result<Mapped> {
        let read_err = |source| Error::Read { path: path.to_owned(), source };
        let file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(Error::NotAFile(path.to_owned()));
        }
        let len = usize::try_from(meta.len()).map_err(|_| Error::NotAFile(path.to_owned()))?;
        let Some(nz) = std::num::NonZeroUsize::new(len) else {
            return Ok(Mapped { ptr: None, len: 0 });
        };
        // SAFETY: a fresh private read-only mapping of a regular file we opened; it is
        // only read through `bytes()`, and unmapped in `drop`.
        let ptr = unsafe {
            nix::sys::mman::mmap(None, nz, nix::sys::mman::ProtFlags::PROT_READ, nix::sys::mman::MapFlags::MAP_PRIVATE, &file, 0)
        }
        .map_err(|e| read_err(e.into()))?;
        Ok(Mapped { ptr: Some(ptr), len })
    }

    fn bytes(&self) -> &[u8] {
        match self.ptr {
            // SAFETY: the mapping covers `len` readable bytes for the lifetime of `self`.
            // (A file truncated by someone else while mapped would fault; logfiles are
            // only ever appended to, and deleted by replacing them with a symlink.)
            Some(p) => unsafe { std::slice::from_raw_parts(p.as_ptr().cast::<u8>(), self.len) },
            None => &[],
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(p) = self.ptr {
            // SAFETY: `p`/`len` are exactly the mapping made in `open`, unmapped once.
            let _ = unsafe { nix::sys::mman::munmap(p, self.len) };
        }
    }
}

pub fn exec(path: &Path, summary_only: bool, json: bool) -> Result<()> {
    let map = Mapped::open(path)?;
    let (records, summary) = scan(map.bytes(), !summary_only);
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
            let (lines, s) = scan(&data, true);
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
        let (_, s) = scan(&data[..data.len() - 5], false);
        assert_eq!(s.status, LogStatus::Incomplete);
        assert_eq!(s.records, 2);
        assert_eq!(s.problem.unwrap().offset, 2 * rec_len);

        let mut bad = data.clone();
        bad[rec_len + HEADER_LEN + 7] ^= 0x10;
        let (_, s) = scan(&bad, false);
        assert_eq!(s.status, LogStatus::Bad);
        assert_eq!(s.records, 1);
        let p = s.problem.unwrap();
        assert_eq!((p.offset, p.expected_seq), (rec_len, 2));
        assert!(p.message.contains("payload checksum"), "{}", p.message);
    }

    #[test]
    fn empty_file_is_clean() {
        let (_, s) = scan(&[], true);
        assert_eq!((s.status, s.records), (LogStatus::Clean, 0));
    }
}
