//! Names and value formats of the `/mars` symlink tree (design reference §2), shared by
//! marsadm, which writes most of it, and the module, which acts on it and reports back.
//!
//! A symlink's target is its *value*, its mtime a Lamport stamp. Formatting is done with
//! `Display` types, so the module can write into fixed buffers and marsadm into Strings.

use core::fmt;

use super::names::{check_host_name, NameError};

/// Value meaning "nobody" (e.g. `primary` when no host is designated).
pub const NONE: &str = "(none)";
/// Value of a deleted entry; readers treat it as absent.
pub const DELETED: &str = ".deleted";

/// The temporary link a writer creates beside link `name`, with the new value and
/// stamp, and renames over it (so readers see the old link or the new one):
/// `.tmp-<writer>-<name>`. Hidden from listings and never exchanged (a leading dot);
/// `writer` keeps concurrent writers apart (marsadm: its process id; the module: its
/// thread's), and a writer removes a leftover of its own name before it writes; what a
/// crash leaves of other writers, `marsadm cron` removes after an hour
/// ([`TempLinkName::is_one`]).
#[derive(Debug, Clone, Copy)]
pub struct TempLinkName<'a> {
    pub writer: u32,
    pub name: &'a str,
}

impl TempLinkName<'_> {
    const PREFIX: &'static str = ".tmp-";

    /// Whether the directory entry `name` is such a temporary link (or file).
    pub fn is_one(name: &str) -> bool {
        name.starts_with(Self::PREFIX)
    }
}

impl fmt::Display for TempLinkName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}-{}", Self::PREFIX, self.writer, self.name)
    }
}

/// `/mars/uuid`: cluster identity.
pub const UUID: &str = "uuid";
/// Directory of per-resource state: `resource-<res>`.
pub const RESOURCE_PREFIX: &str = "resource-";
/// In a resource directory: logical size in bytes.
pub const SIZE: &str = "size";
/// In a resource directory: the designated primary host, or [`NONE`].
pub const PRIMARY: &str = "primary";
/// In a resource directory: `data-<host>` names the host's underlying disk.
pub const DATA_PREFIX: &str = "data-";
/// In a resource directory: `device-<host>` names `/dev/mars/<devname>` on that host.
pub const DEVICE_PREFIX: &str = "device-";
/// The directory under `/dev` a primary's devices appear in: the module names its disk
/// `<DEVICE_DIR>/<devname>`.
pub const DEVICE_DIR: &str = "mars";
/// In a resource directory: `replay-<host>`, writeback/replay progress (a [`ReplayLink`]).
pub const REPLAY_PREFIX: &str = "replay-";
/// In a resource directory: `todo-<host>/`, switches written by marsadm.
pub const TODO_PREFIX: &str = "todo-";
/// In a resource directory: `actual-<host>/`, state reported by the module.
pub const ACTUAL_PREFIX: &str = "actual-";
/// In a resource directory: `actsize-<host>`, the size in bytes of the host's underlying
/// disk as its module sees it while attached (what `marsadm resize` may grow to).
pub const ACTSIZE_PREFIX: &str = "actsize-";
/// In a resource directory: `syncstatus-<host>`, bytes of the disk synced.
pub const SYNCSTATUS_PREFIX: &str = "syncstatus-";
/// In a resource directory: `syncpos-<host>`, the log position a full sync ended at.
pub const SYNCPOS_PREFIX: &str = "syncpos-";
/// In a resource directory: `maxnr`, the first logfile number (written at create).
pub const MAXNR: &str = "maxnr";
/// In a resource directory: `rpo`, the recovery point objective in seconds that
/// `marsadm view` holds every secondary's lag to (cluster-wide, `marsadm set-rpo` on any
/// member; missing or 0: none).
pub const RPO: &str = "rpo";
/// In a resource directory: the systemd unit the designated primary starts once its
/// device is there (docu/systemd.md); set by `marsadm set-systemd-unit` on any member.
pub const SYSTEMD_START_UNIT: &str = "systemd-start-unit";
/// In a resource directory: the systemd unit a host that is not (or no longer) the
/// designated primary stops, so its device closes (docu/systemd.md).
pub const SYSTEMD_STOP_UNIT: &str = "systemd-stop-unit";
/// `/mars/systemd-trigger`: a regular file (never a link, never exchanged) the module
/// rewrites when systemd on this host has something to do: a merged `primary` or
/// `systemd-*` link of a resource, or a device of this host appeared or went away.
/// `mars-trigger.path` watches it and runs `marsadm systemd-trigger`.
pub const SYSTEMD_TRIGGER: &str = "systemd-trigger";

/// Whether a change of the resource entry `name` concerns systemd on this host
/// ([`SYSTEMD_TRIGGER`]).
pub fn concerns_systemd(name: &str) -> bool {
    name == PRIMARY || name == SYSTEMD_START_UNIT || name == SYSTEMD_STOP_UNIT
}

/// Directory of host addresses: `ips/ip-<host>`.
pub const IPS_DIR: &str = "ips";
/// In [`IPS_DIR`]: `ip-<host>`.
pub const IP_PREFIX: &str = "ip-";

/// `log-<nr:09>-<host>`: a transaction logfile, numbered per resource, named after the
/// host that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogName<'a> {
    /// Sequence number of the logfile within its resource (first: 1).
    pub nr: u32,
    /// Host that created (wrote) the logfile.
    pub host: &'a str,
}

impl fmt::Display for LogName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "log-{:09}-{}", self.nr, self.host)
    }
}

/// Why a tree value could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not of the expected shape.
    Malformed,
    /// A host name inside is invalid.
    Host(NameError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed => write!(f, "malformed value"),
            ParseError::Host(e) => write!(f, "bad host name: {e}"),
        }
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Highest logfile number: names carry exactly 9 digits. A resource that reaches it
/// cannot rotate any more (at one logfile a second, after 31 years).
pub const MAX_LOG_NR: u32 = 999_999_999;

impl<'a> LogName<'a> {
    /// The next logfile of `host`; `None` after [`MAX_LOG_NR`].
    pub fn next(&self) -> Option<LogName<'a>> {
        Some(LogName { nr: self.nr.checked_add(1).filter(|&n| n <= MAX_LOG_NR)?, host: self.host })
    }

    /// Parses `log-<nr>-<host>` (exactly 9 digits, nr > 0).
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let rest = s.strip_prefix("log-").ok_or(ParseError::Malformed)?;
        let (nr, host) = rest.split_at_checked(9).ok_or(ParseError::Malformed)?;
        let host = host.strip_prefix('-').ok_or(ParseError::Malformed)?;
        let nr = digits(nr).filter(|&n| n > 0 && n <= u64::from(u32::MAX)).ok_or(ParseError::Malformed)?;
        check_host_name(host).map_err(ParseError::Host)?;
        Ok(LogName { nr: nr as u32, host })
    }
}

/// Value of `replay-<host>`: `log-<nr:09>-<origin>,<start>,<len>`.
///
/// On a primary, `start` is the log position up to which everything is written back to
/// the disk and `len` the part logged but maybe not yet written back (so `len > 0` means
/// the disk alone is not consistent). On a secondary, `start` is the replayed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayLink<'a> {
    /// The logfile being applied.
    pub log: LogName<'a>,
    /// Log position reached.
    pub start: u64,
    /// Bytes after `start` still to be applied.
    pub len: u64,
}

impl fmt::Display for ReplayLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.log, self.start, self.len)
    }
}

impl<'a> ReplayLink<'a> {
    /// Parses `log-<nr>-<host>,<start>,<len>`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let mut parts = s.split(',');
        let (Some(log), Some(start), Some(len), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::Malformed);
        };
        let log = LogName::parse(log)?;
        let start = digits(start).ok_or(ParseError::Malformed)?;
        let len = digits(len).ok_or(ParseError::Malformed)?;
        start.checked_add(len).ok_or(ParseError::Malformed)?;
        Ok(ReplayLink { log, start, len })
    }
}

/// `actual-<host>/time`: rewritten by the host's module every round (liveness).
pub const TIME: &str = "time";

/// `resource-<res>/actual-<host>/is-sync-queued`: 1 while the host's full sync of the
/// resource is wanted but waits for `/proc/sys/mars/sync_limit` (`syncgate`).
pub const IS_SYNC_QUEUED: &str = "is-sync-queued";

/// `userspace/<name>` and `resource-<res>/userspace/<name>`: the operator's own links
/// (`marsadm set-link`), cluster-wide by Lamport rule; the module never acts on them.
pub const USERSPACE_DIR: &str = "userspace";

/// Longest value of a userspace link.
pub const MAX_USERSPACE_VALUE: usize = 255;

/// `resource-<res>/actual-<host>/if-ops-rate`: requests per second to the host's
/// `/dev/mars/<dev>` over the last round (0 without a device).
pub const IF_OPS_RATE: &str = "if-ops-rate";

/// `resource-<res>/actual-<host>/if-amount-rate`: bytes per second of those requests.
pub const IF_AMOUNT_RATE: &str = "if-amount-rate";

/// `resource-<res>/actual-<host>/if-flying`: requests the device holds (received, not
/// completed yet; reads passed on to the disk below are the disk's).
pub const IF_FLYING: &str = "if-flying";

/// `resource-<res>/actual-<host>/if-completion-stamp`: real time in nanoseconds since
/// which the oldest request in flight waits at most, to a round (about a second): the
/// last round that saw a request complete or none in flight; `0` without a device.
pub const IF_COMPLETION_STAMP: &str = "if-completion-stamp";

/// `resource-<res>/actual-<host>/disk-error`: errno (negative) of the last failed I/O of
/// the resource's disk there, `0` while the disk works.
pub const DISK_ERROR: &str = "disk-error";

/// Value of `uuid` on a host that is joining a cluster and has not heard from it yet:
/// it may read the cluster's tree, and adopts the cluster's uuid from it.
pub const ANY_CLUSTER: &str = "(any)";

/// Splits `resource-<res>/log-<nr>-<host>` (a logfile path relative to `/mars`, as
/// fetch requests name them) into the resource and the logfile; `None` for anything
/// else (a peer must not read other files through fetch).
pub fn parse_log_path(p: &str) -> Option<(&str, LogName<'_>)> {
    let (dir, name) = p.split_once('/')?;
    let res = dir.strip_prefix(RESOURCE_PREFIX).filter(|r| super::names::check_resource_name(r).is_ok())?;
    Some((res, LogName::parse(name).ok()?))
}

/// Prefix of `version-<nr:09>-<host>` links.
pub const VERSION_PREFIX: &str = "version-";

/// Value of `version-<nr:09>-<host>` (design reference §3.6): the hash-chained history
/// of the logfiles `host` has processed, `<md5hex>,log-<nr>-<origin>,<pos>:<prev_head>`.
///
/// The digest is the MD5 of [`VersionInput`] — number, origin and length of this logfile
/// plus the *whole* previous version link of the same host — so two hosts with equal
/// `version-N` links have processed identical logfile histories up to N. `prev_head` is
/// the previous link's part before its `:` (empty for the first logfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionLink<'a> {
    /// MD5 of the [`VersionInput`].
    pub digest: [u8; 16],
    /// The logfile.
    pub log: LogName<'a>,
    /// Its length (primary: logged; secondary: replayed).
    pub pos: u64,
    /// The head of the previous version link.
    pub prev_head: &'a str,
}

impl fmt::Display for VersionLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.digest {
            write!(f, "{b:02x}")?;
        }
        write!(f, ",{},{}:{}", self.log, self.pos, self.prev_head)
    }
}

/// The text whose MD5 is a version link's digest: `<nr>,<origin>,<pos>:<prev>`.
#[derive(Debug, Clone, Copy)]
pub struct VersionInput<'a> {
    pub log: LogName<'a>,
    pub pos: u64,
    /// The whole previous version link of the same host ("" for none).
    pub prev: &'a str,
}

impl fmt::Display for VersionInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}:{}", self.log.nr, self.log.host, self.pos, self.prev)
    }
}

impl<'a> VersionLink<'a> {
    /// The link for `input`, given the MD5 of its text.
    pub fn new(input: &VersionInput<'a>, digest: [u8; 16]) -> Self {
        let prev_head = input.prev.split(':').next().unwrap_or("");
        VersionLink { digest, log: input.log, pos: input.pos, prev_head }
    }

    /// Parses `<md5hex>,log-<nr>-<origin>,<pos>:<prev_head>`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let (head, prev_head) = s.split_once(':').ok_or(ParseError::Malformed)?;
        let mut parts = head.split(',');
        let (Some(hex), Some(log), Some(pos), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::Malformed);
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::Malformed);
        }
        let mut digest = [0u8; 16];
        // Byte pairs, no string slicing (nothing here can panic).
        let nibble = |c: Option<&u8>| c.and_then(|&c| (c as char).to_digit(16)).map(|v| v as u8).ok_or(ParseError::Malformed);
        for (i, d) in digest.iter_mut().enumerate() {
            *d = (nibble(hex.as_bytes().get(2 * i))? << 4) | nibble(hex.as_bytes().get(2 * i + 1))?;
        }
        if prev_head.contains(':') {
            return Err(ParseError::Malformed);
        }
        Ok(VersionLink { digest, log: LogName::parse(log)?, pos: digits(pos).ok_or(ParseError::Malformed)?, prev_head })
    }

    /// The logfile the previous link names (from `prev_head`; `None`: there is none).
    pub fn prev_log(&self) -> Option<LogName<'a>> {
        head_log(self.prev_head)
    }
}

/// The logfile a version link's head (`<md5hex>,log-<nr>-<origin>,<pos>`) names.
pub fn head_log(head: &str) -> Option<LogName<'_>> {
    head.split(',').nth(1).and_then(|log| LogName::parse(log).ok())
}

/// `<prefix><host>`, e.g. `replay-node1`.
#[derive(Debug, Clone, Copy)]
pub struct PerHost<'a> {
    /// One of the `*_PREFIX` constants.
    pub prefix: &'a str,
    /// The host.
    pub host: &'a str,
}

impl fmt::Display for PerHost<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfile_numbers_stay_within_nine_digits() {
        // Every number a name can carry must survive a round trip through the name.
        for nr in [1, 999_999_999, 1_000_000_000, u32::MAX] {
            let name = std::format!("{}", LogName { nr, host: "h" });
            assert_eq!(LogName::parse(&name).ok().map(|l| l.nr), (nr <= MAX_LOG_NR).then_some(nr), "{name}");
        }
        assert_eq!(LogName { nr: 7, host: "h" }.next(), Some(LogName { nr: 8, host: "h" }));
        assert_eq!(LogName { nr: MAX_LOG_NR, host: "h" }.next(), None);
        assert_eq!(LogName { nr: u32::MAX, host: "h" }.next(), None);
    }

    #[test]
    fn log_paths() {
        assert_eq!(parse_log_path("resource-r0/log-000000003-node1"), Some(("r0", LogName { nr: 3, host: "node1" })));
        for bad in [
            "resource-r0/replay-node1",
            "resource-r0/../uuid",
            "resource-/log-000000003-node1",
            "resource-r0/log-000000003-node1/x",
            "uuid",
            "resource-r0",
            "ips/log-000000003-node1",
        ] {
            assert_eq!(parse_log_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn version_links_chain() {
        let first = VersionInput { log: LogName { nr: 1, host: "node1" }, pos: 4096, prev: "" };
        assert_eq!(first.to_string(), "1,node1,4096:");
        let v1 = VersionLink::new(&first, [0xab; 16]);
        let v1_text = v1.to_string();
        assert_eq!(v1_text, format!("{},log-000000001-node1,4096:", "ab".repeat(16)));
        assert_eq!(VersionLink::parse(&v1_text), Ok(v1));
        let second = VersionInput { log: LogName { nr: 2, host: "node2" }, pos: 0, prev: &v1_text };
        assert_eq!(second.to_string(), format!("2,node2,0:{v1_text}"));
        let v2 = VersionLink::new(&second, [1; 16]);
        let head = v1_text.split(':').next().unwrap();
        assert_eq!(v2.prev_head, head);
        let v2_text = v2.to_string();
        assert_eq!(VersionLink::parse(&v2_text), Ok(v2));
        for bad in [
            "",
            "ab,log-000000001-node1,1:",
            &format!("{},log-000000001-node1,1", "ab".repeat(16)),
            &format!("{},log-000000001-node1,x:", "ab".repeat(16)),
            &format!("{},log-1-node1,1:", "ab".repeat(16)),
            &format!("{},log-000000001-node1,1:a:b", "ab".repeat(16)),
            &format!("{},log-000000001-node1,1:", "zz".repeat(16)),
        ] {
            assert!(VersionLink::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn log_names() {
        let n = LogName { nr: 42, host: "node1" };
        assert_eq!(n.to_string(), "log-000000042-node1");
        assert_eq!(LogName::parse("log-000000042-node1"), Ok(n));
        assert_eq!(LogName::parse("log-000000042-db-7").unwrap().host, "db-7");
        for bad in [
            "log-42-node1",
            "log-000000000-node1",
            "log-00000004x-node1",
            "log-000000042node1",
            "log-000000042-",
            "lag-000000042-node1",
            "log-0000000042-node1",
            "log-",
            "",
        ] {
            assert!(LogName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(LogName::parse("log-000000001-Node"), Err(ParseError::Host(NameError::BadStart)));
    }

    #[test]
    fn replay_links() {
        let r = ReplayLink { log: LogName { nr: 3, host: "node2" }, start: 4096, len: 100 };
        assert_eq!(r.to_string(), "log-000000003-node2,4096,100");
        assert_eq!(ReplayLink::parse("log-000000003-node2,4096,100"), Ok(r));
        for bad in [
            "log-000000003-node2,4096",
            "log-000000003-node2,4096,100,1",
            "log-000000003-node2,-1,0",
            "log-000000003-node2,,0",
            "log-000000003-node2,18446744073709551615,1",
            "(none)",
        ] {
            assert!(ReplayLink::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn per_host_names() {
        assert_eq!(PerHost { prefix: REPLAY_PREFIX, host: "node1" }.to_string(), "replay-node1");
    }
}
