//! The network wire format between MARS hosts (docu/wire-protocol.md): framed, versioned,
//! length-prefixed, checksummed, explicitly little-endian. Shared by the module (which
//! speaks it on ports 7777-7779) and by host tests and fuzzing.
//!
//! A frame is a 24-byte header followed by a payload:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MRSW` |
//! | 4 | 2 | protocol version ([`PROTOCOL_VERSION`] or [`OLDEST_PROTOCOL_VERSION`]) |
//! | 6 | 2 | message kind ([`Kind`]) |
//! | 8 | 4 | payload length (≤ [`MAX_PAYLOAD`]) |
//! | 12 | 4 | CRC32C of the payload |
//! | 16 | 4 | reserved, zero |
//! | 20 | 4 | CRC32C of bytes 0..20 |
//!
//! Payload fields are fixed-size little-endian integers and length-prefixed strings
//! (`u16` length, UTF-8, no NUL); a message's payload has exactly its fields, nothing
//! more. Decoding validates everything and borrows strings from the input: a frame that
//! fails any check is an error, never a panic, and the connection is closed.
//!
//! A connection speaks one version, the client's choice: a server answers in the version
//! of the client's first frame if it speaks it, else with an [`UNSUPPORTED_VERSION`]
//! error in its own newest one; a client falls back to an older version it speaks
//! (`negotiate`), so a host talks to hosts of the previous protocol (N-1) and a cluster
//! upgrades one host at a time.

use super::auth::NONCE_LEN;
use super::crc32c::crc32c;
use super::tree::LogName;

/// Frame magic.
pub const MAGIC: [u8; 4] = *b"MRSW";
/// The newest protocol version this code speaks, the one it offers first. Version 5:
/// version 4's frames, and the negotiation of the module doc.
pub const PROTOCOL_VERSION: u16 = 5;
/// The oldest protocol version this code still speaks (N-1): hosts of the previous
/// release talk to this one.
pub const OLDEST_PROTOCOL_VERSION: u16 = 4;

/// Whether this code speaks protocol `version`.
pub const fn speaks(version: u16) -> bool {
    version >= OLDEST_PROTOCOL_VERSION && version <= PROTOCOL_VERSION
}
/// Frame header length.
pub const HEADER_LEN: usize = 24;
/// Where the data of a `LogData` payload starts (after `offset` and `file_size`).
pub const LOG_DATA_AT: usize = 16;
/// Largest payload accepted (a 1 MiB log chunk plus its fields).
pub const MAX_PAYLOAD: u32 = (1 << 20) + 4096;
/// Longest string field.
pub const MAX_STRING: usize = 4096;

/// Hello flag: the sender counts itself a member (its `ips/ip-<host>` exists): a server
/// that does not know its address (or has it deleted) records the connection's.
pub const HELLO_REGISTER: u32 = 1;

/// Full sync compares and copies the disk in blocks of this many bytes (the last block
/// of a disk may be shorter).
pub const SYNC_BLOCK: u32 = 64 << 10;
/// Length of a block digest in `Sums` (MD5).
pub const SYNC_DIGEST_LEN: usize = 16;
/// Most bytes one `SyncSums` or `SyncRead` may ask for.
pub const MAX_SYNC_REQUEST: u32 = 64 << 20;
/// Most bytes one `SyncRead` may ask for (one reply frame).
pub const MAX_SYNC_READ: u32 = 1 << 20;

/// Base TCP port; metadata, log fetch and sync use base, base + 1, base + 2.
pub const DEFAULT_BASE_PORT: u16 = 7777;

/// Message kinds. Numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// First message in both directions: who is speaking, in which cluster.
    Hello = 1,
    /// The peer refuses or failed: code and message; the connection closes.
    Error = 2,
    /// Request the symlinks under some directories of the peer's tree.
    GetTree = 3,
    /// One symlink of the reply to `GetTree`.
    TreeEntry = 4,
    /// End of the reply to `GetTree`.
    TreeEnd = 5,
    /// Request bytes of a logfile.
    FetchLog = 6,
    /// Bytes of a logfile (reply to `FetchLog`).
    LogData = 7,
    /// Start of a full sync of a resource from the primary (port 7779).
    SyncStart = 8,
    /// Request block digests of the primary's disk.
    SyncSums = 9,
    /// Block digests (reply to `SyncSums`).
    Sums = 10,
    /// Request blocks of the primary's disk.
    SyncRead = 11,
    /// Blocks of the primary's disk (reply to `SyncRead`).
    SyncData = 12,
    /// End of a full sync.
    SyncEnd = 13,
    /// The primary's flushed writeback position, its replay link (reply to
    /// `SyncStart`, since protocol 4), or its log position (reply to `SyncEnd`).
    SyncPos = 14,
    /// First message of a connection (client → server, untagged): a fresh nonce and
    /// the ids of the keys the client holds (`mars_core::auth`).
    AuthHello = 15,
    /// The server's answer (untagged): its fresh nonce and the key both hold.
    AuthChallenge = 16,
}

impl Kind {
    fn from_u16(v: u16) -> Option<Kind> {
        Some(match v {
            1 => Kind::Hello,
            2 => Kind::Error,
            3 => Kind::GetTree,
            4 => Kind::TreeEntry,
            5 => Kind::TreeEnd,
            6 => Kind::FetchLog,
            7 => Kind::LogData,
            8 => Kind::SyncStart,
            9 => Kind::SyncSums,
            10 => Kind::Sums,
            11 => Kind::SyncRead,
            12 => Kind::SyncData,
            13 => Kind::SyncEnd,
            14 => Kind::SyncPos,
            15 => Kind::AuthHello,
            16 => Kind::AuthChallenge,
            _ => return None,
        })
    }
}

/// Why a frame or payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// Not a MARS frame.
    BadMagic,
    /// A protocol version we do not speak.
    UnsupportedVersion(u16),
    /// Unknown message kind.
    UnknownKind(u16),
    /// Payload longer than [`MAX_PAYLOAD`].
    TooLarge(u32),
    /// Header checksum mismatch.
    HeaderChecksum,
    /// Payload checksum mismatch.
    PayloadChecksum,
    /// Reserved bits set.
    Reserved,
    /// A string is too long, not UTF-8, or contains NUL.
    BadString,
    /// A field value is out of range (e.g. an unsafe path).
    BadField,
    /// Bytes left over after the last field.
    TrailingBytes,
    /// The output buffer is too small (encoding).
    NoSpace,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Truncated => write!(f, "truncated"),
            WireError::BadMagic => write!(f, "bad magic"),
            WireError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            WireError::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            WireError::TooLarge(n) => write!(f, "payload of {n} bytes too large"),
            WireError::HeaderChecksum => write!(f, "header checksum mismatch"),
            WireError::PayloadChecksum => write!(f, "payload checksum mismatch"),
            WireError::Reserved => write!(f, "reserved field not zero"),
            WireError::BadString => write!(f, "bad string field"),
            WireError::BadField => write!(f, "field out of range"),
            WireError::TrailingBytes => write!(f, "trailing bytes after the last field"),
            WireError::NoSpace => write!(f, "output buffer too small"),
        }
    }
}

/// Parses a dotted IPv4 address (`ips/ip-<host>` values), e.g. `10.77.0.1`.
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A sync request's range: block-aligned start, sector-aligned length of at most `max`.
fn check_sync_range(offset: u64, len: u32, max: u32) -> Result<(), WireError> {
    if offset % u64::from(SYNC_BLOCK) != 0 || len == 0 || len % 512 != 0 || len > max || offset.checked_add(u64::from(len)).is_none() {
        return Err(WireError::BadField);
    }
    Ok(())
}

/// A checked frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// A version this code speaks ([`speaks`]).
    pub version: u16,
    pub kind: Kind,
    pub payload_len: u32,
    pub payload_crc: u32,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes and checks a frame header (the first [`HEADER_LEN`] bytes of `buf`).
pub fn decode_header(buf: &[u8]) -> Result<FrameHeader, WireError> {
    let h = buf.get(..HEADER_LEN).ok_or(WireError::Truncated)?;
    if h[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    if crc32c(&h[..20]) != le32(h, 20) {
        return Err(WireError::HeaderChecksum);
    }
    let version = le16(h, 4);
    if !speaks(version) {
        return Err(WireError::UnsupportedVersion(version));
    }
    let kind = Kind::from_u16(le16(h, 6)).ok_or(WireError::UnknownKind(le16(h, 6)))?;
    let payload_len = le32(h, 8);
    if payload_len > MAX_PAYLOAD {
        return Err(WireError::TooLarge(payload_len));
    }
    if le32(h, 16) != 0 {
        return Err(WireError::Reserved);
    }
    Ok(FrameHeader { version, kind, payload_len, payload_crc: le32(h, 12) })
}

/// Checks a payload against its header.
pub fn check_payload(header: &FrameHeader, payload: &[u8]) -> Result<(), WireError> {
    if payload.len() != header.payload_len as usize {
        return Err(WireError::Truncated);
    }
    if crc32c(payload) != header.payload_crc {
        return Err(WireError::PayloadChecksum);
    }
    Ok(())
}

/// A path under `/mars` as sent on the wire: relative, `/`-separated, made of letters,
/// digits, `.`, `_`, `-`, no empty, `.` or `..` component.
pub fn check_tree_path(p: &str) -> Result<(), WireError> {
    if p.is_empty() {
        return Err(WireError::BadField);
    }
    for comp in p.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return Err(WireError::BadField);
        }
        if !comp.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
            return Err(WireError::BadField);
        }
    }
    Ok(())
}

/// The Error code of a fetch server that has no logfile of the requested name: the
/// only Error after which the connection stays open (the client asks for the next
/// logfile; a copy it has of this one stands as it is).
pub const NO_SUCH_LOGFILE: u32 = 5;

/// The Error code of a primary that does not serve a full sync whose replay start is
/// not on its history (`replication::serves_sync`).
pub const SYNC_OFF_HISTORY: u32 = 14;

/// The Error code of a server whose client's first frame has a version it does not
/// speak (since protocol 5): the error frame is in the server's newest version.
pub const UNSUPPORTED_VERSION: u32 = 15;

/// A message, borrowing its strings and data from the decoded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// `cluster`: the sender's `/mars/uuid`; `host`: its name; `lamport_ns`: its clock;
    /// `flags`: [`HELLO_REGISTER`] or 0.
    Hello { cluster: &'a str, host: &'a str, lamport_ns: u64, flags: u32 },
    /// `code`: an errno-like number; `message`: for the log.
    Error { code: u32, message: &'a str },
    /// The directories (relative to `/mars`, `|`-separated) whose symlinks to list,
    /// each directory itself and one level below it.
    GetTree { dirs: &'a str },
    /// One symlink: `path` relative to `/mars`, its `value`, its Lamport mtime.
    TreeEntry { path: &'a str, value: &'a str, stamp_ns: u64 },
    /// End of a tree listing; `lamport_ns`: the sender's clock.
    TreeEnd { lamport_ns: u64 },
    /// Up to `max_len` bytes of the logfile `path` from `offset`.
    FetchLog { path: &'a str, offset: u64, max_len: u32 },
    /// `data` of the logfile at `offset`; `file_size`: the file's size when read.
    LogData { offset: u64, file_size: u64, data: &'a [u8] },
    /// Sync resource `res` from the primary, whose writeback must have passed `from_pos`
    /// of logfile `from_log` (where the syncing host's replay starts).
    SyncStart { res: &'a str, from_log: &'a str, from_pos: u64 },
    /// Digests of the [`SYNC_BLOCK`]s of `len` bytes of the disk from `offset`.
    SyncSums { offset: u64, len: u32 },
    /// One [`SYNC_DIGEST_LEN`]-byte digest per block, from `offset`.
    Sums { offset: u64, sums: &'a [u8] },
    /// `len` bytes of the disk from `offset`.
    SyncRead { offset: u64, len: u32 },
    /// `data` of the disk at `offset`.
    SyncData { offset: u64, data: &'a [u8] },
    /// The sync has copied everything; the primary answers with its log position.
    SyncEnd,
    /// The primary's logfile `log` and the position logged so far in it.
    SyncPos { log: &'a str, pos: u64 },
    /// The client's nonce and key ids (`alt_key_id` 0: none).
    AuthHello { nonce: &'a [u8; NONCE_LEN], key_id: u64, alt_key_id: u64 },
    /// The server's nonce and the chosen key.
    AuthChallenge { nonce: &'a [u8; NONCE_LEN], key_id: u64 },
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(le32(b, 0))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        let mut x = [0u8; 8];
        x.copy_from_slice(b);
        Ok(u64::from_le_bytes(x))
    }
    fn str(&mut self) -> Result<&'a str, WireError> {
        let n = self.u16()? as usize;
        if n > MAX_STRING {
            return Err(WireError::BadString);
        }
        let s = core::str::from_utf8(self.take(n)?).map_err(|_| WireError::BadString)?;
        if s.contains('\0') {
            return Err(WireError::BadString);
        }
        Ok(s)
    }
    fn nonce(&mut self) -> Result<&'a [u8; NONCE_LEN], WireError> {
        self.take(NONCE_LEN)?.try_into().map_err(|_| WireError::Truncated)
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    fn end(&self) -> Result<(), WireError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self.pos.checked_add(bytes.len()).ok_or(WireError::NoSpace)?;
        self.buf.get_mut(self.pos..end).ok_or(WireError::NoSpace)?.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
    fn str(&mut self, s: &str) -> Result<(), WireError> {
        if s.len() > MAX_STRING || s.contains('\0') {
            return Err(WireError::BadString);
        }
        self.put(&(s.len() as u16).to_le_bytes())?;
        self.put(s.as_bytes())
    }
}

impl<'a> Message<'a> {
    /// The kind of this message.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Hello { .. } => Kind::Hello,
            Message::Error { .. } => Kind::Error,
            Message::GetTree { .. } => Kind::GetTree,
            Message::TreeEntry { .. } => Kind::TreeEntry,
            Message::TreeEnd { .. } => Kind::TreeEnd,
            Message::FetchLog { .. } => Kind::FetchLog,
            Message::LogData { .. } => Kind::LogData,
            Message::SyncStart { .. } => Kind::SyncStart,
            Message::SyncSums { .. } => Kind::SyncSums,
            Message::Sums { .. } => Kind::Sums,
            Message::SyncRead { .. } => Kind::SyncRead,
            Message::SyncData { .. } => Kind::SyncData,
            Message::SyncEnd => Kind::SyncEnd,
            Message::SyncPos { .. } => Kind::SyncPos,
            Message::AuthHello { .. } => Kind::AuthHello,
            Message::AuthChallenge { .. } => Kind::AuthChallenge,
        }
    }

    /// Decodes and validates the payload of a frame of `kind` (already checked with
    /// [`check_payload`]).
    pub fn decode(kind: Kind, payload: &'a [u8]) -> Result<Message<'a>, WireError> {
        let mut r = Reader { buf: payload, pos: 0 };
        let m = match kind {
            Kind::Hello => {
                let (cluster, host, lamport_ns, flags) = (r.str()?, r.str()?, r.u64()?, r.u32()?);
                if cluster.is_empty() || super::names::check_host_name(host).is_err() || flags & !HELLO_REGISTER != 0 {
                    return Err(WireError::BadField);
                }
                Message::Hello { cluster, host, lamport_ns, flags }
            }
            Kind::Error => Message::Error { code: r.u32()?, message: r.str()? },
            Kind::GetTree => {
                let dirs = r.str()?;
                for d in dirs.split('|') {
                    check_tree_path(d)?;
                }
                Message::GetTree { dirs }
            }
            Kind::TreeEntry => {
                let (path, value, stamp_ns) = (r.str()?, r.str()?, r.u64()?);
                check_tree_path(path)?;
                Message::TreeEntry { path, value, stamp_ns }
            }
            Kind::TreeEnd => Message::TreeEnd { lamport_ns: r.u64()? },
            Kind::FetchLog => {
                let (path, offset, max_len) = (r.str()?, r.u64()?, r.u32()?);
                check_tree_path(path)?;
                if max_len == 0 || max_len > MAX_PAYLOAD - 64 {
                    return Err(WireError::BadField);
                }
                Message::FetchLog { path, offset, max_len }
            }
            Kind::LogData => {
                let (offset, file_size) = (r.u64()?, r.u64()?);
                let data = r.rest();
                if offset.checked_add(data.len() as u64).is_none_or(|end| end > file_size) {
                    return Err(WireError::BadField);
                }
                Message::LogData { offset, file_size, data }
            }
            Kind::SyncStart => {
                let (res, from_log, from_pos) = (r.str()?, r.str()?, r.u64()?);
                if super::names::check_resource_name(res).is_err() || LogName::parse(from_log).is_err() {
                    return Err(WireError::BadField);
                }
                Message::SyncStart { res, from_log, from_pos }
            }
            Kind::SyncSums => {
                let (offset, len) = (r.u64()?, r.u32()?);
                check_sync_range(offset, len, MAX_SYNC_REQUEST)?;
                Message::SyncSums { offset, len }
            }
            Kind::Sums => {
                let offset = r.u64()?;
                let sums = r.rest();
                if offset % u64::from(SYNC_BLOCK) != 0 || sums.len() % SYNC_DIGEST_LEN != 0 {
                    return Err(WireError::BadField);
                }
                Message::Sums { offset, sums }
            }
            Kind::SyncRead => {
                let (offset, len) = (r.u64()?, r.u32()?);
                check_sync_range(offset, len, MAX_SYNC_READ)?;
                Message::SyncRead { offset, len }
            }
            Kind::SyncData => {
                let offset = r.u64()?;
                let data = r.rest();
                if offset % 512 != 0 || data.len() % 512 != 0 || offset.checked_add(data.len() as u64).is_none() {
                    return Err(WireError::BadField);
                }
                Message::SyncData { offset, data }
            }
            Kind::SyncEnd => Message::SyncEnd,
            Kind::SyncPos => {
                let (log, pos) = (r.str()?, r.u64()?);
                LogName::parse(log).map_err(|_| WireError::BadField)?;
                Message::SyncPos { log, pos }
            }
            Kind::AuthHello => {
                let (nonce, key_id, alt_key_id) = (r.nonce()?, r.u64()?, r.u64()?);
                if key_id == 0 || alt_key_id == key_id {
                    return Err(WireError::BadField);
                }
                Message::AuthHello { nonce, key_id, alt_key_id }
            }
            Kind::AuthChallenge => {
                let (nonce, key_id) = (r.nonce()?, r.u64()?);
                if key_id == 0 {
                    return Err(WireError::BadField);
                }
                Message::AuthChallenge { nonce, key_id }
            }
        };
        r.end()?;
        Ok(m)
    }

    fn encode_payload(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        match *self {
            Message::Hello { cluster, host, lamport_ns, flags } => {
                w.str(cluster)?;
                w.str(host)?;
                w.put(&lamport_ns.to_le_bytes())?;
                w.put(&flags.to_le_bytes())
            }
            Message::Error { code, message } => {
                w.put(&code.to_le_bytes())?;
                w.str(message)
            }
            Message::GetTree { dirs } => w.str(dirs),
            Message::TreeEntry { path, value, stamp_ns } => {
                w.str(path)?;
                w.str(value)?;
                w.put(&stamp_ns.to_le_bytes())
            }
            Message::TreeEnd { lamport_ns } => w.put(&lamport_ns.to_le_bytes()),
            Message::FetchLog { path, offset, max_len } => {
                w.str(path)?;
                w.put(&offset.to_le_bytes())?;
                w.put(&max_len.to_le_bytes())
            }
            Message::LogData { offset, file_size, data } => {
                w.put(&offset.to_le_bytes())?;
                w.put(&file_size.to_le_bytes())?;
                debug_assert_eq!(w.pos, LOG_DATA_AT);
                w.put(data)
            }
            Message::SyncStart { res, from_log, from_pos } => {
                w.str(res)?;
                w.str(from_log)?;
                w.put(&from_pos.to_le_bytes())
            }
            Message::SyncSums { offset, len } | Message::SyncRead { offset, len } => {
                w.put(&offset.to_le_bytes())?;
                w.put(&len.to_le_bytes())
            }
            Message::Sums { offset, sums: data } | Message::SyncData { offset, data } => {
                w.put(&offset.to_le_bytes())?;
                w.put(data)
            }
            Message::SyncEnd => Ok(()),
            Message::SyncPos { log, pos } => {
                w.str(log)?;
                w.put(&pos.to_le_bytes())
            }
            Message::AuthHello { nonce, key_id, alt_key_id } => {
                w.put(nonce)?;
                w.put(&key_id.to_le_bytes())?;
                w.put(&alt_key_id.to_le_bytes())
            }
            Message::AuthChallenge { nonce, key_id } => {
                w.put(nonce)?;
                w.put(&key_id.to_le_bytes())
            }
        }
    }

    /// Encodes the whole frame (header and payload) of protocol `version` into `out`;
    /// returns its length. The result decodes to `self` (checked by the tests).
    pub fn encode(&self, version: u16, out: &mut [u8]) -> Result<usize, WireError> {
        let (head, body) = out.split_at_mut_checked(HEADER_LEN).ok_or(WireError::NoSpace)?;
        let mut w = Writer { buf: body, pos: 0 };
        self.encode_payload(&mut w)?;
        let len = w.pos;
        write_header(head, version, self.kind(), &body[..len])
    }
}

/// Writes the header of a frame of `version` and `kind` with `payload` into `head`;
/// returns the frame's length.
fn write_header(head: &mut [u8], version: u16, kind: Kind, payload: &[u8]) -> Result<usize, WireError> {
    let len = payload.len();
    if !speaks(version) {
        return Err(WireError::UnsupportedVersion(version));
    }
    if len > MAX_PAYLOAD as usize {
        return Err(WireError::TooLarge(len as u32));
    }
    let payload_crc = crc32c(payload);
    head[..4].copy_from_slice(&MAGIC);
    head[4..6].copy_from_slice(&version.to_le_bytes());
    head[6..8].copy_from_slice(&(kind as u16).to_le_bytes());
    head[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    head[12..16].copy_from_slice(&payload_crc.to_le_bytes());
    head[16..20].copy_from_slice(&0u32.to_le_bytes());
    let header_crc = crc32c(&head[..20]);
    head[20..24].copy_from_slice(&header_crc.to_le_bytes());
    Ok(HEADER_LEN + len)
}

/// Encodes a `LogData` frame into `out` around its data, already in place: `data_len`
/// bytes at `HEADER_LEN + LOG_DATA_AT` (the fetch server reads logfile data straight into
/// its frame buffer). Returns the frame's length; the frame is the one
/// [`Message::encode`] makes of the same message in the same `version`.
pub fn encode_log_data_in_place(out: &mut [u8], version: u16, offset: u64, file_size: u64, data_len: usize) -> Result<usize, WireError> {
    let end = (HEADER_LEN + LOG_DATA_AT).checked_add(data_len).ok_or(WireError::NoSpace)?;
    let (head, body) = out.get_mut(..end).ok_or(WireError::NoSpace)?.split_at_mut(HEADER_LEN);
    body[..8].copy_from_slice(&offset.to_le_bytes());
    body[8..LOG_DATA_AT].copy_from_slice(&file_size.to_le_bytes());
    write_header(head, version, Kind::LogData, body)
}

/// Decodes one complete frame from the start of `buf`; returns its version, the message
/// and the frame's length.
pub fn decode_frame(buf: &[u8]) -> Result<(u16, Message<'_>, usize), WireError> {
    let header = decode_header(buf)?;
    let end = HEADER_LEN + header.payload_len as usize;
    let payload = buf.get(HEADER_LEN..end).ok_or(WireError::Truncated)?;
    check_payload(&header, payload)?;
    Ok((header.version, Message::decode(header.kind, payload)?, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_data_in_place_is_the_encoded_frame() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut want = vec![0u8; HEADER_LEN + LOG_DATA_AT + data.len()];
        let n = Message::LogData { offset: 4096, file_size: 1 << 20, data: &data }.encode(PROTOCOL_VERSION, &mut want).unwrap();
        assert_eq!(n, want.len());
        assert_eq!(&want[HEADER_LEN + LOG_DATA_AT..], &data[..]);
        let mut got = vec![0xeeu8; n + 3];
        got[HEADER_LEN + LOG_DATA_AT..n].copy_from_slice(&data);
        assert_eq!(encode_log_data_in_place(&mut got, PROTOCOL_VERSION, 4096, 1 << 20, data.len()), Ok(n));
        assert_eq!(&got[..n], &want[..]);
        assert_eq!(encode_log_data_in_place(&mut got[..n - 1], PROTOCOL_VERSION, 4096, 1 << 20, data.len()), Err(WireError::NoSpace));
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(parse_ipv4("10.77.0.1"), Some([10, 77, 0, 1]));
        for bad in ["10.77.0", "10.77.0.1.2", "10.77.0.256", "10.77..1", "+1.2.3.4", "a.b.c.d", ""] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
    }

    pub(crate) fn samples() -> Vec<Message<'static>> {
        vec![
            Message::Hello { cluster: "node1_1795322132.428840219", host: "node1", lamport_ns: 42, flags: 0 },
            Message::Hello { cluster: "(any)", host: "node2", lamport_ns: 43, flags: HELLO_REGISTER },
            Message::Error { code: 13, message: "foreign cluster" },
            Message::GetTree { dirs: "ips|resource-r0|actual-node1" },
            Message::TreeEntry { path: "resource-r0/primary", value: "node1", stamp_ns: 7 },
            Message::TreeEnd { lamport_ns: u64::MAX },
            Message::FetchLog { path: "resource-r0/log-000000001-node1", offset: 4096, max_len: 1 << 20 },
            Message::LogData { offset: 10, file_size: 13, data: b"abc" },
            Message::LogData { offset: 0, file_size: 0, data: b"" },
            Message::SyncStart { res: "r0", from_log: "log-000000001-node1", from_pos: 4096 },
            Message::SyncSums { offset: 1 << 20, len: 4 << 20 },
            Message::Sums { offset: 0, sums: &[7; 32] },
            Message::AuthHello { nonce: &[0xa5; 32], key_id: 1, alt_key_id: 0 },
            Message::AuthHello { nonce: &[0; 32], key_id: u64::MAX, alt_key_id: 7 },
            Message::AuthChallenge { nonce: &[1; 32], key_id: 9 },
            Message::SyncRead { offset: 64 << 10, len: 64 << 10 },
            Message::SyncData { offset: 512, data: &[1; 1024] },
            Message::SyncEnd,
            Message::SyncPos { log: "log-000000002-node1", pos: 123 },
        ]
    }

    #[test]
    fn round_trip_in_every_version_spoken() {
        for version in OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION {
            for m in samples() {
                let mut buf = vec![0u8; 8192];
                let n = m.encode(version, &mut buf).unwrap();
                assert_eq!(decode_frame(&buf[..n]), Ok((version, m, n)));
            }
        }
        // A host speaks its version and the one before (docu/wire-protocol.md, "Versions").
        assert_eq!(OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION - 1);
        let mut buf = vec![0u8; 8192];
        for version in [0, 1, 2, 3, PROTOCOL_VERSION + 1, u16::MAX] {
            assert_eq!(Message::SyncEnd.encode(version, &mut buf), Err(WireError::UnsupportedVersion(version)));
            let mut f = frame(Kind::SyncEnd as u16, &[]);
            f[4..6].copy_from_slice(&version.to_le_bytes());
            let c = crc32c(&f[..20]);
            f[20..24].copy_from_slice(&c.to_le_bytes());
            assert_eq!(decode_header(&f), Err(WireError::UnsupportedVersion(version)));
        }
    }

    #[test]
    fn every_single_byte_corruption_is_detected() {
        for m in samples() {
            let mut buf = vec![0u8; 8192];
            let n = m.encode(PROTOCOL_VERSION, &mut buf).unwrap();
            for i in 0..n {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = buf[..n].to_vec();
                    bad[i] ^= flip;
                    assert!(decode_frame(&bad).is_err(), "{m:?}: byte {i} ^ {flip:#x} undetected");
                }
            }
            for cut in 0..n {
                assert!(decode_frame(&buf[..cut]).is_err(), "{m:?}: truncation to {cut} undetected");
            }
        }
    }

    fn frame(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..4].copy_from_slice(&MAGIC);
        h[4..6].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        h[6..8].copy_from_slice(&kind.to_le_bytes());
        h[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&crc32c(payload).to_le_bytes());
        let c = crc32c(&h[..20]);
        h[20..24].copy_from_slice(&c.to_le_bytes());
        h.extend_from_slice(payload);
        h
    }

    fn s(x: &str) -> Vec<u8> {
        let mut v = (x.len() as u16).to_le_bytes().to_vec();
        v.extend_from_slice(x.as_bytes());
        v
    }

    #[test]
    fn well_checksummed_but_invalid_payloads_are_refused() {
        let unsafe_paths = ["../etc/passwd", "/abs", "a//b", "a/./b", "x y", "", "a/"];
        for p in unsafe_paths {
            let mut payload = s(p);
            payload.extend_from_slice(&0u64.to_le_bytes());
            payload.extend_from_slice(&1u32.to_le_bytes());
            assert_eq!(decode_frame(&frame(Kind::FetchLog as u16, &payload)).unwrap_err(), WireError::BadField, "{p:?}");
        }
        let mut hello = s("uuid");
        hello.extend(s("bad host!"));
        hello.extend_from_slice(&0u64.to_le_bytes());
        hello.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(decode_frame(&frame(1, &hello)).unwrap_err(), WireError::BadField);
        let mut flags = s("uuid");
        flags.extend(s("node1"));
        flags.extend_from_slice(&0u64.to_le_bytes());
        flags.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(decode_frame(&frame(1, &flags)).unwrap_err(), WireError::BadField);
        let mut trailing = 5u64.to_le_bytes().to_vec();
        trailing.push(0);
        assert_eq!(decode_frame(&frame(5, &trailing)).unwrap_err(), WireError::TrailingBytes);
        assert_eq!(decode_frame(&frame(99, &[])).unwrap_err(), WireError::UnknownKind(99));
        let auth = |id: u64, alt: u64| [&[3u8; 32][..], &id.to_le_bytes(), &alt.to_le_bytes()].concat();
        assert_eq!(decode_frame(&frame(Kind::AuthHello as u16, &auth(0, 0))).unwrap_err(), WireError::BadField);
        assert_eq!(decode_frame(&frame(Kind::AuthHello as u16, &auth(4, 4))).unwrap_err(), WireError::BadField);
        assert_eq!(decode_frame(&frame(Kind::AuthHello as u16, &auth(4, 5)[1..])).unwrap_err(), WireError::Truncated);
        assert_eq!(decode_frame(&frame(Kind::AuthChallenge as u16, &auth(0, 0)[..40])).unwrap_err(), WireError::BadField);
        let mut beyond = 10u64.to_le_bytes().to_vec();
        beyond.extend_from_slice(&11u64.to_le_bytes());
        beyond.extend_from_slice(b"ab");
        assert_eq!(decode_frame(&frame(7, &beyond)).unwrap_err(), WireError::BadField);
        let mut long = ((MAX_STRING + 1) as u16).to_le_bytes().to_vec();
        long.extend(vec![b'a'; MAX_STRING + 1]);
        assert_eq!(decode_frame(&frame(3, &long)).unwrap_err(), WireError::BadString);
        let mut big = frame(5, &0u64.to_le_bytes());
        big[8..12].copy_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
        let c = crc32c(&big[..20]);
        big[20..24].copy_from_slice(&c.to_le_bytes());
        assert_eq!(decode_header(&big).unwrap_err(), WireError::TooLarge(MAX_PAYLOAD + 1));
        let range = |off: u64, len: u32| {
            let mut p = off.to_le_bytes().to_vec();
            p.extend_from_slice(&len.to_le_bytes());
            p
        };
        for (off, len) in [(1, 4096), (0, 0), (0, 100), (0, MAX_SYNC_READ + 512), (u64::MAX - 65535, 128 << 10)] {
            assert_eq!(decode_frame(&frame(Kind::SyncRead as u16, &range(off, len))).unwrap_err(), WireError::BadField, "{off} {len}");
        }
        assert!(decode_frame(&frame(Kind::SyncSums as u16, &range(0, MAX_SYNC_READ + 512))).is_ok());
        let mut sums = 0u64.to_le_bytes().to_vec();
        sums.extend_from_slice(&[0; 15]);
        assert_eq!(decode_frame(&frame(Kind::Sums as u16, &sums)).unwrap_err(), WireError::BadField);
        let mut start = s("r0");
        start.extend(s("log-1-node1"));
        start.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(decode_frame(&frame(Kind::SyncStart as u16, &start)).unwrap_err(), WireError::BadField);
    }
}
