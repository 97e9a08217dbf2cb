//! Transaction log records: the one definition of the on-disk format of
//! `/mars/resource-<res>/log-<nr>-<host>`, used by the module to write and replay logs and
//! by `marsadm cat` to decode and verify them. Documented in docu/log-format.md.
//!
//! A logfile is a plain sequence of records with no file header. Two record layouts
//! exist; each record says which one it has (its format version), and readers take both:
//!
//! ```text
//! version 2, aligned (written since issue 11): every record a multiple of 512 bytes
//! head    (512 bytes) the common header (below), then the payload digest (20 bytes),
//!                     then zeros
//! payload (payload length bytes, a multiple of 512; nothing for a discard)
//!
//! version 1, packed (written before): no padding, no alignment
//! header  (56 bytes)  the common header
//! payload (payload length bytes; the written data, or nothing for a discard)
//! trailer (40 bytes)  magic "MARS-END", sequence number again, total record length,
//!                     payload digest (20 bytes, algorithm from the flags)
//!
//! common header (56 bytes): magic "MARS-REC", version, header length, flags, sequence
//! number, Lamport stamp, device position, data length, payload length, CRC32C of the
//! header
//! ```
//!
//! All integers are little-endian. A record is valid only if the header checksum, the
//! magics, the zero padding (version 2), the repeated sequence number and length (version
//! 1) and the payload digest all agree, so a torn write (head without payload, trailer
//! of an older record, partly written payload) is always detected. Version 2 records
//! start and end on 512-byte boundaries, so the logger writes them with direct I/O
//! straight from where the data is, and replay writes payloads to the disk the same way.

use core::fmt;

use super::crc32c::crc32c;

/// First bytes of every record.
pub const START_MAGIC: [u8; 8] = *b"MARS-REC";
/// First bytes of every record trailer.
pub const END_MAGIC: [u8; 8] = *b"MARS-END";
/// Size of the common record header (of both versions).
pub const HEADER_LEN: usize = 56;
/// Size of a version 1 record's trailer.
pub const TRAILER_LEN: usize = 40;
/// Bytes a version 1 record adds to its payload.
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// Size of a version 2 record's head: the common header, the digest, zero padding.
pub const HEAD_LEN: usize = 512;
/// Most bytes a record of either version adds to its payload.
pub const MAX_OVERHEAD: usize = if HEAD_LEN > OVERHEAD { HEAD_LEN } else { OVERHEAD };
/// Where the payload digest sits in a version 2 head.
const HEAD_DIGEST_AT: usize = HEADER_LEN;
/// Largest payload of one record (a write larger than this is split into records).
pub const MAX_PAYLOAD: u32 = 1 << 20;
/// Device positions and lengths are multiples of this (the logical block size floor).
pub const SECTOR: u64 = 512;
/// Size of the digest field in the trailer; shorter digests are zero-padded.
pub const DIGEST_LEN: usize = 20;

/// A record's layout, named by the format version in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Version 1: header, payload, trailer, no alignment.
    Packed,
    /// Version 2: a 512-byte head, then the payload; records are 512-byte aligned.
    Aligned,
}

impl Format {
    /// The version number in the header.
    pub const fn version(self) -> u16 {
        match self {
            Format::Packed => 1,
            Format::Aligned => 2,
        }
    }

    /// The header length field of this version.
    const fn header_len(self) -> usize {
        match self {
            Format::Packed => HEADER_LEN,
            Format::Aligned => HEAD_LEN,
        }
    }

    /// Where the payload starts in a record of this layout.
    pub const fn payload_offset(self) -> usize {
        self.header_len()
    }

    /// Bytes a record of this layout adds to its payload.
    pub const fn overhead(self) -> usize {
        match self {
            Format::Packed => OVERHEAD,
            Format::Aligned => HEAD_LEN,
        }
    }

    fn from_version(v: u16) -> Option<Format> {
        match v {
            1 => Some(Format::Packed),
            2 => Some(Format::Aligned),
            _ => None,
        }
    }
}

/// What a record does to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// Payload = new data for `[pos, pos + data_len)`.
    Write,
    /// No payload: `[pos, pos + data_len)` was discarded.
    Discard,
}

/// Payload digest algorithm of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// CRC32C, 4 bytes little-endian (default).
    Crc32c,
    /// MD5, 16 bytes.
    Md5,
    /// SHA-1, 20 bytes.
    Sha1,
    /// XXH64 (seed 0), 8 bytes little-endian.
    Xxh64,
}

impl ChecksumAlgorithm {
    const fn code(self) -> u32 {
        match self {
            ChecksumAlgorithm::Crc32c => 1,
            ChecksumAlgorithm::Md5 => 2,
            ChecksumAlgorithm::Sha1 => 3,
            ChecksumAlgorithm::Xxh64 => 4,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(ChecksumAlgorithm::Crc32c),
            2 => Some(ChecksumAlgorithm::Md5),
            3 => Some(ChecksumAlgorithm::Sha1),
            4 => Some(ChecksumAlgorithm::Xxh64),
            _ => None,
        }
    }

    /// Name as used in `/proc/sys/mars` and marsadm output.
    pub const fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32c => "crc32c",
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Xxh64 => "xxh64",
        }
    }

    /// Length of the digest in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Md5 => 16,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Xxh64 => 8,
        }
    }
}

// flags: bits 0..8 kind, bits 8..16 checksum algorithm, all other bits must be zero.
const KIND_WRITE: u32 = 1;
const KIND_DISCARD: u32 = 2;

/// The decoded (or to be encoded) header of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Position in its logfile's sequence; the first record of a logfile is 1.
    pub seq: u64,
    /// Lamport time of the write, nanoseconds since the Unix epoch.
    pub stamp_ns: u64,
    /// Byte offset on the device.
    pub pos: u64,
    /// Bytes of the device affected.
    pub data_len: u32,
    /// Write or discard.
    pub kind: RecordKind,
    /// Algorithm of the payload digest.
    pub checksum: ChecksumAlgorithm,
    /// The record's layout (format version).
    pub format: Format,
}

impl RecordHeader {
    /// Bytes of payload that follow the header.
    pub const fn payload_len(&self) -> u32 {
        match self.kind {
            RecordKind::Write => self.data_len,
            RecordKind::Discard => 0,
        }
    }

    /// Total bytes of the record: header (or head), payload, trailer (version 1).
    pub const fn record_len(&self) -> usize {
        self.format.overhead() + self.payload_len() as usize
    }

    fn flags(&self) -> u32 {
        let kind = match self.kind {
            RecordKind::Write => KIND_WRITE,
            RecordKind::Discard => KIND_DISCARD,
        };
        kind | (self.checksum.code() << 8)
    }

    /// Checks the rules every header must follow (also applied by the decoder).
    pub fn validate(&self) -> Result<(), RecordError> {
        // u64::MAX has no successor: refusing it keeps `seq + 1` of every valid record
        // in range (a logfile never gets near it; only damage or a hostile peer does).
        if self.seq == 0 || self.seq == u64::MAX {
            return Err(RecordError::BadSequence);
        }
        let len = u64::from(self.data_len);
        let bad_len = len == 0
            || len % SECTOR != 0
            || self.pos % SECTOR != 0
            || self.pos.checked_add(len).is_none()
            || (self.kind == RecordKind::Write && self.data_len > MAX_PAYLOAD);
        if bad_len {
            return Err(RecordError::BadLength);
        }
        Ok(())
    }

    /// Writes the common header, including its checksum.
    pub fn encode(&self, out: &mut [u8; HEADER_LEN]) {
        out[0..8].copy_from_slice(&START_MAGIC);
        out[8..10].copy_from_slice(&self.format.version().to_le_bytes());
        out[10..12].copy_from_slice(&(self.format.header_len() as u16).to_le_bytes());
        out[12..16].copy_from_slice(&self.flags().to_le_bytes());
        out[16..24].copy_from_slice(&self.seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.stamp_ns.to_le_bytes());
        out[32..40].copy_from_slice(&self.pos.to_le_bytes());
        out[40..44].copy_from_slice(&self.data_len.to_le_bytes());
        out[44..48].copy_from_slice(&self.payload_len().to_le_bytes());
        let crc = crc32c(&out[0..48]);
        out[48..52].copy_from_slice(&crc.to_le_bytes());
        out[52..56].copy_from_slice(&0u32.to_le_bytes());
    }

    /// Writes a version 2 head: the common header, the payload's digest, zeros.
    pub fn encode_head(&self, digest: &[u8; DIGEST_LEN], out: &mut [u8; HEAD_LEN]) {
        let (common, rest) = out.split_at_mut(HEADER_LEN);
        // Lengths are constants: the conversion cannot fail.
        if let Ok(common) = <&mut [u8; HEADER_LEN]>::try_from(common) {
            self.encode(common);
        }
        rest.fill(0);
        rest[..DIGEST_LEN].copy_from_slice(digest);
    }

    /// Writes the version 1 trailer for this header and the payload's digest (zero-padded).
    pub fn encode_trailer(&self, digest: &[u8; DIGEST_LEN], out: &mut [u8; TRAILER_LEN]) {
        out[0..8].copy_from_slice(&END_MAGIC);
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..20].copy_from_slice(&(self.record_len() as u32).to_le_bytes());
        out[20..40].copy_from_slice(digest);
    }
}

/// Why bytes are not a valid record. Ordered as the decoder checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than a header or than the record's length: the log ends here (or is
    /// still being written or fetched).
    Truncated {
        /// Bytes needed for the next check.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The header area is all zero: nothing was ever written here.
    Zeroed,
    /// The header does not start with the record magic; `repeated` is set when the area
    /// is one repeated byte (typical of media or pre-allocation patterns).
    BadMagic {
        /// The byte repeated over the whole header area, if so.
        repeated: Option<u8>,
    },
    /// A format version this implementation does not know.
    UnsupportedVersion(u16),
    /// A header length this version does not use.
    BadHeaderLength(u16),
    /// The header's CRC32C does not match: the header is damaged.
    HeaderChecksum,
    /// The padding of a version 2 head is not zero.
    BadHeadPadding,
    /// Unknown kind, checksum algorithm or reserved bits in the flags.
    BadFlags(u32),
    /// Sequence number 0 or 2^64 - 1 (which would have no successor).
    BadSequence,
    /// Position or length not sector-aligned, zero, too large, overflowing, or payload
    /// length inconsistent with the kind.
    BadLength,
    /// The trailer area is all zero: the record was torn (header written, trailer not).
    TornRecord,
    /// The trailer does not start with the end magic.
    BadTrailerMagic,
    /// The trailer's sequence number or length differ from the header's: the trailer
    /// belongs to another record (a torn overwrite).
    TrailerMismatch,
    /// The payload does not match its digest.
    PayloadChecksum,
    /// The payload digest uses an algorithm the reader cannot compute.
    UnsupportedChecksum(ChecksumAlgorithm),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Truncated { needed, available } => {
                write!(f, "truncated: {needed} bytes needed, {available} available")
            }
            RecordError::Zeroed => write!(f, "zeroed area, no record written here"),
            RecordError::BadMagic { repeated: Some(b) } => {
                write!(f, "bad record magic (area filled with byte 0x{b:02x})")
            }
            RecordError::BadMagic { repeated: None } => write!(f, "bad record magic"),
            RecordError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            RecordError::BadHeaderLength(l) => write!(f, "bad header length {l}"),
            RecordError::HeaderChecksum => write!(f, "header checksum mismatch"),
            RecordError::BadHeadPadding => write!(f, "record head padding not zero"),
            RecordError::BadFlags(x) => write!(f, "bad flags 0x{x:08x}"),
            RecordError::BadSequence => write!(f, "sequence number 0 or 2^64-1"),
            RecordError::BadLength => write!(f, "bad position or length"),
            RecordError::TornRecord => write!(f, "torn record: trailer missing"),
            RecordError::BadTrailerMagic => write!(f, "bad trailer magic"),
            RecordError::TrailerMismatch => write!(f, "trailer belongs to another record"),
            RecordError::PayloadChecksum => write!(f, "payload checksum mismatch"),
            RecordError::UnsupportedChecksum(a) => write!(f, "checksum {} not supported here", a.name()),
        }
    }
}

/// Computes payload digests. The core implements CRC32C in software; the module and
/// marsadm supply MD5 and SHA-1 from their own libraries.
pub trait Digester {
    /// The digest of `data`, zero-padded to [`DIGEST_LEN`], or `None` if `algorithm` is
    /// not available.
    fn digest(&self, algorithm: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]>;
}

/// Digester with the digests the core implements: CRC32C and XXH64, in software.
pub struct SoftwareDigests;

impl Digester for SoftwareDigests {
    fn digest(&self, algorithm: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
        match algorithm {
            ChecksumAlgorithm::Crc32c => Some(crc32c_digest(crc32c(data))),
            ChecksumAlgorithm::Xxh64 => Some(xxh64_digest(data)),
            _ => None,
        }
    }
}

/// The XXH64 (seed 0) of `data` in the digest layout.
pub fn xxh64_digest(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut d = [0u8; DIGEST_LEN];
    d[..8].copy_from_slice(&super::xxh64::xxh64(data, 0).to_le_bytes());
    d
}

/// A CRC32C value in the trailer's digest layout.
pub fn crc32c_digest(crc: u32) -> [u8; DIGEST_LEN] {
    let mut d = [0u8; DIGEST_LEN];
    d[..4].copy_from_slice(&crc.to_le_bytes());
    d
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn repeated_byte(area: &[u8]) -> Option<u8> {
    let first = *area.first()?;
    area.iter().all(|&b| b == first).then_some(first)
}

/// Decodes and checks the header at the start of `buf`.
pub fn decode_header(buf: &[u8]) -> Result<RecordHeader, RecordError> {
    if buf.len() < HEADER_LEN {
        // A short but all-zero tail is "nothing written", not a truncated record.
        if !buf.is_empty() && repeated_byte(buf) == Some(0) {
            return Err(RecordError::Zeroed);
        }
        return Err(RecordError::Truncated { needed: HEADER_LEN, available: buf.len() });
    }
    let h = &buf[..HEADER_LEN];
    if h[0..8] != START_MAGIC {
        return match repeated_byte(h) {
            Some(0) => Err(RecordError::Zeroed),
            repeated => Err(RecordError::BadMagic { repeated }),
        };
    }
    let version = le_u16(h, 8);
    let format = Format::from_version(version).ok_or(RecordError::UnsupportedVersion(version))?;
    let header_len = le_u16(h, 10);
    if usize::from(header_len) != format.header_len() {
        return Err(RecordError::BadHeaderLength(header_len));
    }
    if le_u32(h, 48) != crc32c(&h[0..48]) || le_u32(h, 52) != 0 {
        return Err(RecordError::HeaderChecksum);
    }
    let flags = le_u32(h, 12);
    let kind = match flags & 0xff {
        KIND_WRITE => RecordKind::Write,
        KIND_DISCARD => RecordKind::Discard,
        _ => return Err(RecordError::BadFlags(flags)),
    };
    let checksum = ChecksumAlgorithm::from_code((flags >> 8) & 0xff).ok_or(RecordError::BadFlags(flags))?;
    if flags >> 16 != 0 {
        return Err(RecordError::BadFlags(flags));
    }
    let header = RecordHeader {
        seq: le_u64(h, 16),
        stamp_ns: le_u64(h, 24),
        pos: le_u64(h, 32),
        data_len: le_u32(h, 40),
        kind,
        checksum,
        format,
    };
    if le_u32(h, 44) != header.payload_len() {
        return Err(RecordError::BadLength);
    }
    header.validate()?;
    Ok(header)
}

/// A valid record inside a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its header.
    pub header: RecordHeader,
    /// Its payload (empty for a discard).
    pub payload: &'a [u8],
}

/// Decodes and fully verifies the record at the start of `buf`.
pub fn decode_record<'a>(buf: &'a [u8], digester: &impl Digester) -> Result<Record<'a>, RecordError> {
    let header = decode_header(buf)?;
    let len = header.record_len();
    if buf.len() < len {
        return Err(RecordError::Truncated { needed: len, available: buf.len() });
    }
    let want = |payload: &[u8]| digester.digest(header.checksum, payload).ok_or(RecordError::UnsupportedChecksum(header.checksum));
    if header.format == Format::Aligned {
        let (head, payload) = buf[..len].split_at(HEAD_LEN);
        let (digest, padding) = head[HEAD_DIGEST_AT..].split_at(DIGEST_LEN);
        if padding.iter().any(|&b| b != 0) {
            return Err(RecordError::BadHeadPadding);
        }
        if digest != want(payload)? {
            return Err(RecordError::PayloadChecksum);
        }
        return Ok(Record { header, payload });
    }
    let payload = &buf[HEADER_LEN..HEADER_LEN + header.payload_len() as usize];
    let t = &buf[len - TRAILER_LEN..len];
    if t[0..8] != END_MAGIC {
        return Err(if repeated_byte(t) == Some(0) { RecordError::TornRecord } else { RecordError::BadTrailerMagic });
    }
    if le_u64(t, 8) != header.seq || le_u32(t, 16) as usize != len {
        return Err(RecordError::TrailerMismatch);
    }
    if t[20..40] != want(payload)? {
        return Err(RecordError::PayloadChecksum);
    }
    Ok(Record { header, payload })
}

/// Writes a complete record (header, payload, trailer) into `out`, which must be
/// exactly `header.record_len()` bytes; `payload` must be `header.payload_len()` bytes.
pub fn encode_record(
    header: &RecordHeader,
    payload: &[u8],
    digester: &impl Digester,
    out: &mut [u8],
) -> Result<(), RecordError> {
    if out.len() != header.record_len() {
        return Err(RecordError::BadLength);
    }
    if header.format == Format::Aligned {
        let (head, body) = out.split_at_mut(HEAD_LEN);
        encode_head(header, payload, digester, head.try_into().map_err(|_| RecordError::BadLength)?)?;
        body.copy_from_slice(payload);
        return Ok(());
    }
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let (body, tail) = rest.split_at_mut(rest.len() - TRAILER_LEN);
    encode_frame(
        header,
        payload,
        digester,
        head.try_into().map_err(|_| RecordError::BadLength)?,
        tail.try_into().map_err(|_| RecordError::BadLength)?,
    )?;
    body.copy_from_slice(payload);
    Ok(())
}

/// Writes the head of the version 2 record for `payload` (which must be
/// `header.payload_len()` bytes); the record on disk is `head`, then `payload`. For
/// writers that write the payload from where it is (vectored direct I/O).
pub fn encode_head(
    header: &RecordHeader,
    payload: &[u8],
    digester: &impl Digester,
    head: &mut [u8; HEAD_LEN],
) -> Result<(), RecordError> {
    header.validate()?;
    if header.format != Format::Aligned || payload.len() != header.payload_len() as usize {
        return Err(RecordError::BadLength);
    }
    let digest = digester.digest(header.checksum, payload).ok_or(RecordError::UnsupportedChecksum(header.checksum))?;
    header.encode_head(&digest, head);
    Ok(())
}

/// Writes the header and trailer of the version 1 record for `payload` (which must be
/// `header.payload_len()` bytes); the record on disk is `head`, `payload`, `tail`.
pub fn encode_frame(
    header: &RecordHeader,
    payload: &[u8],
    digester: &impl Digester,
    head: &mut [u8; HEADER_LEN],
    tail: &mut [u8; TRAILER_LEN],
) -> Result<(), RecordError> {
    header.validate()?;
    if header.format != Format::Packed {
        return Err(RecordError::BadLength);
    }
    if payload.len() != header.payload_len() as usize {
        return Err(RecordError::BadLength);
    }
    let digest = digester.digest(header.checksum, payload).ok_or(RecordError::UnsupportedChecksum(header.checksum))?;
    header.encode(head);
    header.encode_trailer(&digest, tail);
    Ok(())
}

/// Where a scan of a logfile stopped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// All bytes were valid records (or the log ends in a zeroed area).
    Clean,
    /// The bytes at `offset` are not a valid record.
    Bad {
        /// Byte offset of the bad record in the scanned buffer.
        offset: usize,
        /// Sequence number the record there should have had.
        expected_seq: u64,
        /// What is wrong.
        error: RecordError,
    },
    /// A valid record with an unexpected sequence number.
    SequenceGap {
        /// Byte offset of the record.
        offset: usize,
        /// Sequence number expected.
        expected: u64,
        /// Sequence number found.
        found: u64,
    },
}

/// Iterates the valid records of a logfile image in order, checking that sequence
/// numbers run 1, 2, 3, ...; after the iterator ends, [`LogScanner::end`] tells why.
pub struct LogScanner<'a, D: Digester> {
    buf: &'a [u8],
    offset: usize,
    next_seq: u64,
    digester: &'a D,
    end: Option<ScanEnd>,
}

impl<'a, D: Digester> LogScanner<'a, D> {
    /// Scans `buf` from its start, expecting the first record to have sequence number 1.
    pub fn new(buf: &'a [u8], digester: &'a D) -> Self {
        Self::resume(buf, 0, 1, digester)
    }

    /// Scans `buf` from `offset`, expecting sequence number `next_seq` there.
    pub fn resume(buf: &'a [u8], offset: usize, next_seq: u64, digester: &'a D) -> Self {
        LogScanner { buf, offset, next_seq, digester, end: None }
    }

    /// Offset just after the last valid record returned.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The sequence number the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Why the scan ended (`None` while records remain).
    pub fn end(&self) -> Option<ScanEnd> {
        self.end
    }
}

impl<'a, D: Digester> Iterator for LogScanner<'a, D> {
    /// Byte offset of the record and the record.
    type Item = (usize, Record<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.end.is_some() {
            return None;
        }
        let rest = &self.buf[self.offset.min(self.buf.len())..];
        if rest.is_empty() {
            self.end = Some(ScanEnd::Clean);
            return None;
        }
        match decode_record(rest, self.digester) {
            Ok(rec) if rec.header.seq == self.next_seq => {
                // Valid records are below u64::MAX (`validate`), and within `buf`.
                let (Some(offset), Some(next_seq)) =
                    (self.offset.checked_add(rec.header.record_len()), self.next_seq.checked_add(1))
                else {
                    self.end = Some(ScanEnd::Bad { offset: self.offset, expected_seq: self.next_seq, error: RecordError::BadSequence });
                    return None;
                };
                let at = self.offset;
                self.offset = offset;
                self.next_seq = next_seq;
                Some((at, rec))
            }
            Ok(rec) => {
                self.end = Some(ScanEnd::SequenceGap { offset: self.offset, expected: self.next_seq, found: rec.header.seq });
                None
            }
            Err(RecordError::Zeroed) if repeated_byte(rest) == Some(0) => {
                self.end = Some(ScanEnd::Clean);
                None
            }
            Err(error) => {
                self.end = Some(ScanEnd::Bad { offset: self.offset, expected_seq: self.next_seq, error });
                None
            }
        }
    }
}

/// Where a reader that checks a logfile window by window reads next: the window of
/// `got` bytes read at `base` of a file of `size` bytes held valid records up to
/// `consumed`, and its scan ended with `end`. The records may go on after the window if
/// the scan ran into its end, inside a record (`Truncated`) or exactly at the end of one
/// (`Clean` with nothing left over: not zeros). Returns `None` where the valid log ends
/// in this window, or nothing of it could be used (no record fits).
pub fn next_window(base: u64, got: usize, consumed: usize, size: u64, end: Option<ScanEnd>) -> Option<u64> {
    let ran_into_end = match end {
        Some(ScanEnd::Bad { error: RecordError::Truncated { .. }, .. }) => true,
        Some(ScanEnd::Clean) => consumed == got,
        _ => false,
    };
    let more_in_file = base.checked_add(got as u64).is_some_and(|window_end| window_end < size);
    if ran_into_end && more_in_file && consumed > 0 {
        base.checked_add(consumed as u64)
    } else {
        None
    }
}

/// The version 2 record that ends where `before` ends: `before` holds the bytes of a
/// logfile up to a 512-byte boundary of it (a replay position), and the record's head
/// sits on a 512-byte boundary at most one record back. Judged by the head alone (no
/// payload digest): for an estimate a reader shows (`marsadm view`: how old the last
/// applied write is), never for a decision: a payload can imitate a head.
pub fn aligned_record_ending_at(before: &[u8]) -> Option<RecordHeader> {
    let most = before.len().min(HEAD_LEN + MAX_PAYLOAD as usize) / HEAD_LEN;
    (1..=most).find_map(|k| {
        let len = k * HEAD_LEN;
        let h = decode_header(&before[before.len() - len..]).ok()?;
        (h.format == Format::Aligned && h.record_len() == len).then_some(h)
    })
}

/// Where the records from `start` on end in a logfile of `size` bytes, judged by their
/// headers alone: `read_header` reads the [`HEADER_LEN`] bytes at a position (`false`
/// where it cannot). For a reader that needs the end cheaply and checks no payload
/// (`marsadm view`: how far a primary's current logfile holds records, whose logger
/// writes zeros ahead of the last one); whoever uses the records scans them with
/// [`LogScanner`]. Stops at the first header that is not one.
pub fn headers_end(start: u64, size: u64, mut read_header: impl FnMut(u64, &mut [u8; HEADER_LEN]) -> bool) -> u64 {
    let (mut at, mut head) = (start, [0u8; HEADER_LEN]);
    while at < size && read_header(at, &mut head) {
        match decode_header(&head) {
            Ok(h) => at = at.saturating_add(h.record_len() as u64),
            Err(_) => break,
        }
    }
    at.min(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seq: u64, pos: u64, len: u32) -> RecordHeader {
        header_in(Format::Packed, seq, pos, len)
    }

    fn header_in(format: Format, seq: u64, pos: u64, len: u32) -> RecordHeader {
        RecordHeader {
            seq,
            stamp_ns: 1_700_000_000_123_456_789u64.wrapping_add(seq),
            pos,
            data_len: len,
            kind: RecordKind::Write,
            checksum: ChecksumAlgorithm::Crc32c,
            format,
        }
    }

    #[test]
    fn the_aligned_record_that_ends_at_a_position() {
        let (a, b) = (header_in(Format::Aligned, 1, 0, 4096), header_in(Format::Aligned, 2, 4096, 512));
        let mut log = record(&a, 0x11);
        log.extend(record(&b, 0x22));
        assert_eq!(aligned_record_ending_at(&log), Some(b));
        assert_eq!(aligned_record_ending_at(&log[..HEAD_LEN + 4096]), Some(a));
        // Not at a record's end, nothing before it, or an old packed record: none.
        assert_eq!(aligned_record_ending_at(&log[..HEAD_LEN + 2048]), None);
        assert_eq!(aligned_record_ending_at(&[]), None);
        assert_eq!(aligned_record_ending_at(&record(&header(1, 0, 512), 0x33)), None);
    }

    #[test]
    fn aligned_records_round_trip_and_stay_aligned() {
        for h in [header_in(Format::Aligned, 7, 4096 * 3, 4096), RecordHeader { kind: RecordKind::Discard, ..header_in(Format::Aligned, 8, 0, 1 << 30) }] {
            let bytes = record(&h, 0x5a);
            assert_eq!(bytes.len() % 512, 0);
            assert_eq!(bytes.len(), HEAD_LEN + h.payload_len() as usize);
            let rec = decode_record(&bytes, &SoftwareDigests).unwrap();
            assert_eq!(rec.header, h);
            assert_eq!(rec.payload, &bytes[HEAD_LEN..]);
            // The head alone, as the logger writes it before the payload in place.
            let mut head = [0u8; HEAD_LEN];
            encode_head(&h, rec.payload, &SoftwareDigests, &mut head).unwrap();
            assert_eq!(&head[..], &bytes[..HEAD_LEN]);
        }
        // Each encoder writes only its own layout.
        let v1 = header(1, 0, 512);
        assert!(encode_head(&v1, &[0u8; 512], &SoftwareDigests, &mut [0u8; HEAD_LEN]).is_err());
        let v2 = header_in(Format::Aligned, 1, 0, 512);
        assert!(encode_frame(&v2, &[0u8; 512], &SoftwareDigests, &mut [0u8; HEADER_LEN], &mut [0u8; TRAILER_LEN]).is_err());
    }

    #[test]
    fn aligned_single_byte_corruption_and_torn_records_are_detected() {
        let h = header_in(Format::Aligned, 3, 512, 1024);
        let good = record(&h, 1);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                assert!(decode_record(&bad, &SoftwareDigests).is_err(), "corruption at byte {i} (xor {flip:#x}) not detected");
            }
        }
        for cut in [1, HEADER_LEN, HEAD_LEN - 1, HEAD_LEN, good.len() - 1] {
            assert!(matches!(decode_record(&good[..cut], &SoftwareDigests), Err(RecordError::Truncated { .. })), "cut at {cut}");
        }
        // Head written, payload not (still the zeros of a preallocated logfile).
        let mut torn = good.clone();
        torn[HEAD_LEN..].fill(0);
        assert_eq!(decode_record(&torn, &SoftwareDigests), Err(RecordError::PayloadChecksum));
        let mut padded = good.clone();
        padded[HEAD_LEN - 1] = 1;
        assert_eq!(decode_record(&padded, &SoftwareDigests), Err(RecordError::BadHeadPadding));
    }

    #[test]
    fn a_log_may_change_format_between_records_and_end_in_zeros() {
        // An upgraded primary writes version 2 after version 1 records (of an older
        // logfile in practice; the scanner does not care).
        let mut log = Vec::new();
        for seq in 1..=4u64 {
            let format = if seq % 2 == 0 { Format::Aligned } else { Format::Packed };
            log.extend(record(&header_in(format, seq, seq * 4096, 512 * seq as u32), seq as u8));
        }
        let end = log.len();
        log.extend(vec![0u8; 1 << 16]); // preallocated zeros after the last record
        let mut s = LogScanner::new(&log, &SoftwareDigests);
        assert_eq!(s.by_ref().map(|(_, r)| r.header.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(s.end(), Some(ScanEnd::Clean));
        assert_eq!(s.offset(), end);
    }

    fn record(h: &RecordHeader, fill: u8) -> Vec<u8> {
        let payload: Vec<u8> = (0..h.payload_len()).map(|i| fill.wrapping_add(i as u8)).collect();
        let mut out = vec![0u8; h.record_len()];
        encode_record(h, &payload, &SoftwareDigests, &mut out).unwrap();
        out
    }

    #[test]
    fn last_sequence_number_ends_the_scan_without_overflow() {
        // A record numbered u64::MAX (a damaged or hostile logfile) has no successor:
        // it is refused, and scanning on from it must not overflow.
        let h = header(u64::MAX, 0, 512);
        let mut bytes = vec![0u8; h.record_len()];
        h.encode(bytes[..HEADER_LEN].as_mut().try_into().unwrap());
        let payload: Vec<u8> = vec![7u8; 512];
        bytes[HEADER_LEN..HEADER_LEN + 512].copy_from_slice(&payload);
        let mut tail = [0u8; TRAILER_LEN];
        h.encode_trailer(&crc32c_digest(crc32c(&payload)), &mut tail);
        let n = bytes.len();
        bytes[n - TRAILER_LEN..].copy_from_slice(&tail);
        assert_eq!(decode_record(&bytes, &SoftwareDigests).unwrap_err(), RecordError::BadSequence);
        let mut s = LogScanner::resume(&bytes, 0, u64::MAX, &SoftwareDigests);
        assert_eq!(s.next(), None);
        assert!(matches!(s.end(), Some(ScanEnd::Bad { error: RecordError::BadSequence, .. })));
        assert_eq!(s.next_seq(), u64::MAX);
        // The last valid number still decodes, and the scanner's next is one more.
        let ok = record(&header(u64::MAX - 1, 0, 512), 1);
        let mut s = LogScanner::resume(&ok, 0, u64::MAX - 1, &SoftwareDigests);
        assert!(s.next().is_some());
        assert_eq!(s.next_seq(), u64::MAX);
        assert_eq!(s.next(), None);
    }

    #[test]
    fn frame_plus_payload_is_the_record() {
        for h in [header(3, 512, 4096), RecordHeader { kind: RecordKind::Discard, ..header(4, 0, 1 << 20) }] {
            let payload: Vec<u8> = (0..h.payload_len()).map(|i| 0x11u8.wrapping_add(i as u8)).collect();
            let (mut head, mut tail) = ([0u8; HEADER_LEN], [0u8; TRAILER_LEN]);
            encode_frame(&h, &payload, &SoftwareDigests, &mut head, &mut tail).unwrap();
            let framed = [&head[..], &payload, &tail[..]].concat();
            assert_eq!(framed, record(&h, 0x11));
            assert!(encode_frame(&h, &payload[..payload.len().saturating_sub(1)], &SoftwareDigests, &mut head, &mut tail).is_err() || payload.is_empty());
        }
    }

    #[test]
    fn round_trip_write_and_discard() {
        let h = header(7, 4096 * 3, 4096);
        let bytes = record(&h, 0x5a);
        let rec = decode_record(&bytes, &SoftwareDigests).unwrap();
        assert_eq!(rec.header, h);
        assert_eq!(rec.payload.len(), 4096);
        assert_eq!(rec.payload[1], 0x5b);

        let d = RecordHeader { kind: RecordKind::Discard, data_len: 1 << 30, ..h };
        let bytes = record(&d, 0);
        assert_eq!(bytes.len(), OVERHEAD);
        assert_eq!(decode_record(&bytes, &SoftwareDigests).unwrap().header, d);
    }

    #[test]
    fn every_single_byte_corruption_is_detected() {
        let h = header(3, 512, 1024);
        let good = record(&h, 1);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                assert!(
                    decode_record(&bad, &SoftwareDigests).is_err(),
                    "corruption at byte {i} (xor {flip:#x}) not detected"
                );
            }
        }
    }

    #[test]
    fn torn_records_are_detected() {
        let h = header(1, 0, 4096);
        let good = record(&h, 9);
        // The log ends in the middle of the record.
        for cut in [1, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 100, good.len() - 1] {
            assert!(matches!(decode_record(&good[..cut], &SoftwareDigests), Err(RecordError::Truncated { .. })), "cut at {cut}");
        }
        // Header and payload written, trailer never (zeros).
        let mut torn = good.clone();
        let n = torn.len();
        torn[n - TRAILER_LEN..].fill(0);
        assert_eq!(decode_record(&torn, &SoftwareDigests), Err(RecordError::TornRecord));
        // Trailer of another record of the same length: sequence differs.
        let other = record(&header(2, 0, 4096), 9);
        let mut mixed = good.clone();
        mixed[n - TRAILER_LEN..].copy_from_slice(&other[n - TRAILER_LEN..]);
        assert_eq!(decode_record(&mixed, &SoftwareDigests), Err(RecordError::TrailerMismatch));
        // Payload only partly written (tail of payload still zero).
        let mut partial = good.clone();
        partial[HEADER_LEN + 2048..HEADER_LEN + 4096].fill(0);
        assert_eq!(decode_record(&partial, &SoftwareDigests), Err(RecordError::PayloadChecksum));
    }

    #[test]
    fn zero_and_pattern_areas() {
        assert_eq!(decode_record(&[0u8; 200], &SoftwareDigests), Err(RecordError::Zeroed));
        assert_eq!(decode_record(&[0u8; 10], &SoftwareDigests), Err(RecordError::Zeroed));
        assert_eq!(decode_record(&[0xa5u8; 200], &SoftwareDigests), Err(RecordError::BadMagic { repeated: Some(0xa5) }));
    }

    #[test]
    fn header_rules() {
        let ok = header(1, 0, 512);
        assert!(ok.validate().is_ok());
        for bad in [
            RecordHeader { seq: 0, ..ok },
            RecordHeader { data_len: 0, ..ok },
            RecordHeader { data_len: 100, ..ok },
            RecordHeader { pos: 1, ..ok },
            RecordHeader { data_len: MAX_PAYLOAD + 512, ..ok },
            RecordHeader { pos: u64::MAX - 511, ..ok },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
            let mut out = vec![0u8; OVERHEAD + bad.payload_len() as usize];
            let payload = vec![0u8; bad.payload_len() as usize];
            assert!(encode_record(&bad, &payload, &SoftwareDigests, &mut out).is_err());
        }
    }

    #[test]
    fn unknown_flags_and_versions_are_rejected() {
        let good = record(&header(1, 0, 512), 0);
        let mut v3 = good.clone();
        v3[8] = 3;
        assert_eq!(decode_header(&v3), Err(RecordError::UnsupportedVersion(3)));
        // Version 2 with version 1's header length.
        let mut v2 = good.clone();
        v2[8] = 2;
        assert_eq!(decode_header(&v2), Err(RecordError::BadHeaderLength(HEADER_LEN as u16)));
        // A flag change with a recomputed header checksum is still refused.
        let mut f = good.clone();
        f[14] = 1; // a reserved flag bit
        let crc = crc32c(&f[0..48]);
        f[48..52].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode_header(&f), Err(RecordError::BadFlags(_))));
    }

    #[test]
    fn other_digests_need_a_digester_that_has_them() {
        struct Fake;
        impl Digester for Fake {
            fn digest(&self, _: ChecksumAlgorithm, data: &[u8]) -> Option<[u8; DIGEST_LEN]> {
                let mut d = [0u8; DIGEST_LEN];
                d[0] = data.len() as u8;
                Some(d)
            }
        }
        let h = RecordHeader { checksum: ChecksumAlgorithm::Sha1, ..header(1, 0, 512) };
        let mut out = vec![0u8; h.record_len()];
        encode_record(&h, &[7u8; 512], &Fake, &mut out).unwrap();
        assert_eq!(decode_record(&out, &Fake).unwrap().header.checksum, ChecksumAlgorithm::Sha1);
        assert_eq!(decode_record(&out, &SoftwareDigests), Err(RecordError::UnsupportedChecksum(ChecksumAlgorithm::Sha1)));
    }

    #[test]
    fn scanner_walks_a_log_and_reports_where_it_breaks() {
        let mut log = Vec::new();
        let mut offsets = Vec::new();
        for seq in 1..=5u64 {
            offsets.push(log.len());
            log.extend(record(&header(seq, seq * 4096, 512 * seq as u32), seq as u8));
        }
        let clean_len = log.len();
        log.extend([0u8; 300]); // preallocated tail
        let mut s = LogScanner::new(&log, &SoftwareDigests);
        let seen: Vec<u64> = s.by_ref().map(|(_, r)| r.header.seq).collect();
        assert_eq!(seen, [1, 2, 3, 4, 5]);
        assert_eq!(s.end(), Some(ScanEnd::Clean));
        assert_eq!(s.offset(), clean_len);

        // Damage record 4's payload: the scan stops exactly there.
        let mut bad = log.clone();
        bad[offsets[3] + HEADER_LEN + 10] ^= 1;
        let mut s = LogScanner::new(&bad, &SoftwareDigests);
        assert_eq!(s.by_ref().count(), 3);
        assert_eq!(
            s.end(),
            Some(ScanEnd::Bad { offset: offsets[3], expected_seq: 4, error: RecordError::PayloadChecksum })
        );

        // A log that skips sequence number 3.
        let mut gap = Vec::new();
        for seq in [1u64, 2, 4] {
            gap.extend(record(&header(seq, 0, 512), 0));
        }
        let mut s = LogScanner::new(&gap, &SoftwareDigests);
        assert_eq!(s.by_ref().count(), 2);
        assert!(matches!(s.end(), Some(ScanEnd::SequenceGap { expected: 3, found: 4, .. })));

        // Resuming in the middle.
        let s = LogScanner::resume(&log, offsets[2], 3, &SoftwareDigests);
        assert_eq!(s.map(|(_, r)| r.header.seq).collect::<Vec<_>>(), [3, 4, 5]);
    }

    #[test]
    fn headers_end_skips_payloads_and_stops_at_the_zeros() {
        let mut log = Vec::new();
        let mut offsets = Vec::new();
        for seq in 1..=3u64 {
            offsets.push(log.len() as u64);
            log.extend(record(&header(seq, 0, 512 * seq as u32), seq as u8));
        }
        let records = log.len() as u64;
        log.extend([0u8; 4096]); // the logger's zeros ahead
        let read = |log: &[u8]| {
            let log = log.to_vec();
            move |at: u64, head: &mut [u8; HEADER_LEN]| {
                let at = at as usize;
                log.get(at..at + HEADER_LEN).map(|h| head.copy_from_slice(h)).is_some()
            }
        };
        let size = log.len() as u64;
        assert_eq!(headers_end(0, size, read(&log)), records);
        assert_eq!(headers_end(offsets[1], size, read(&log)), records);
        // A payload's damage is not seen (no payload is read); a header's is.
        let mut bad = log.clone();
        bad[offsets[1] as usize + HEADER_LEN + 1] ^= 1;
        assert_eq!(headers_end(0, size, read(&bad)), records);
        bad[offsets[2] as usize + 3] ^= 1;
        assert_eq!(headers_end(0, size, read(&bad)), offsets[2]);
        // Never past the size given, nor where no header can be read.
        assert_eq!(headers_end(0, offsets[1] + 10, read(&log)), offsets[1] + 10);
        assert_eq!(headers_end(0, size, |_, _| false), 0);
    }

    /// Scans `log` window by window as replay does; returns the sequence numbers found
    /// and where the valid records end.
    fn scan_in_windows(log: &[u8], window: usize) -> (Vec<u64>, u64) {
        let (mut base, mut next_seq, mut seqs) = (0u64, 1u64, Vec::new());
        loop {
            let got = (log.len() - base as usize).min(window);
            let buf = &log[base as usize..base as usize + got];
            let mut scanner = LogScanner::resume(buf, 0, next_seq, &SoftwareDigests);
            seqs.extend(scanner.by_ref().map(|(_, rec)| rec.header.seq));
            next_seq = scanner.next_seq();
            match next_window(base, got, scanner.offset(), log.len() as u64, scanner.end()) {
                Some(next) => base = next,
                None => return (seqs, base + scanner.offset() as u64),
            }
        }
    }

    #[test]
    fn windows_find_every_record_wherever_they_cut_the_log() {
        // Records of different sizes, then the zeros a logger writes ahead.
        let mut log = Vec::new();
        for (i, len) in [4096u32, 512, 65536, 1024, 8192, 512, 32768, 4096].into_iter().enumerate() {
            log.extend(record(&header_in(Format::Aligned, i as u64 + 1, 0, len), i as u8));
        }
        let valid = log.len() as u64;
        log.extend(vec![0u8; 4096]);
        // Window sizes from the largest record on: every multiple of 512 (records are
        // 512-byte aligned, so these include each size that ends a window exactly at a
        // record's end, where the scan ends "clean"), and some in between.
        let sizes = ((65536 + HEAD_LEN)..=log.len()).step_by(512).flat_map(|w| [w, w + 1, w + 511]);
        for window in sizes.filter(|&w| w <= log.len()) {
            let (seqs, end) = scan_in_windows(&log, window);
            assert_eq!(seqs, (1..=8).collect::<Vec<u64>>(), "window of {window} bytes");
            assert_eq!(end, valid, "window of {window} bytes");
        }
    }

    #[test]
    fn next_window_stops_where_the_valid_log_ends() {
        let truncated = Some(ScanEnd::Bad { offset: 100, expected_seq: 2, error: RecordError::Truncated { needed: 600, available: 412 } });
        let damaged = Some(ScanEnd::Bad { offset: 100, expected_seq: 2, error: RecordError::PayloadChecksum });
        // A record cut by the window, or the window ending at a record's end: read on.
        assert_eq!(next_window(1000, 512, 100, 5000, truncated), Some(1100));
        assert_eq!(next_window(1000, 512, 512, 5000, Some(ScanEnd::Clean)), Some(1512));
        // ... unless the file ends there, or not one record fitted.
        assert_eq!(next_window(1000, 512, 512, 1512, Some(ScanEnd::Clean)), None);
        assert_eq!(next_window(1000, 512, 100, 1512, truncated), None);
        assert_eq!(next_window(1000, 512, 0, 5000, truncated), None);
        // Zeros after the records, or a bad record: the valid log ends here.
        assert_eq!(next_window(1000, 512, 100, 5000, Some(ScanEnd::Clean)), None);
        assert_eq!(next_window(1000, 512, 100, 5000, damaged), None);
        assert_eq!(next_window(1000, 512, 100, 5000, Some(ScanEnd::SequenceGap { offset: 100, expected: 2, found: 5 })), None);
        assert_eq!(next_window(u64::MAX - 10, 512, 512, u64::MAX, Some(ScanEnd::Clean)), None);
    }
}
