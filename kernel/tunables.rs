// SPDX-License-Identifier: GPL-2.0

//! Module-wide tunables and counters, shown in `/proc/sys/mars/` (see `proc_sys`) and
//! documented in docu/proc-sys-mars.md.

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::mars_core::log_record::ChecksumAlgorithm;
use crate::mars_core::wire::DEFAULT_BASE_PORT;

/// When an ordinary write (no REQ_PREFLUSH/REQ_FUA) completes:
/// 0 = once copied into the RAM buffer, 1 = once its record is written to the logfile
/// (not yet synced), 2 = once its record is durable. Writes that ask for durability
/// always complete only once their record is durable, whatever this says.
pub(crate) static LOGGER_COMPLETION_SEMANTICS: AtomicI32 = AtomicI32::new(1);
pub(crate) static LOGGER_COMPLETION_SEMANTICS_MIN: i32 = 0;
pub(crate) static LOGGER_COMPLETION_SEMANTICS_MAX: i32 = 2;

/// 1: a write with REQ_SYNC also completes only once its record is durable, as in the
/// original. 0 (default): REQ_SYNC only says that someone waits (the kernel sets it on
/// every O_DIRECT write); only REQ_PREFLUSH and REQ_FUA ask for durability, the
/// block-layer contract (docu/data-path.md).
pub(crate) static LOGGER_SYNC_IS_DURABLE: AtomicI32 = AtomicI32::new(0);

/// What writes do while logging has ceased and `/mars` could not record that (its disk
/// fails writes, docu/emergency.md): 0 (default) = they go straight to the disk, the
/// application goes on; 1 = they fail (EIO), and a write asking for durability fails
/// unless its record is durable in the logfile, so that a crash before `/mars` is
/// repaired cannot lose an acknowledged write to recovery replaying older records.
pub(crate) static MARS_BROKEN_FAILS_WRITES: AtomicI32 = AtomicI32::new(0);

/// For tests only (scenario 60): milliseconds the merge of a peer's link waits between
/// deciding on the local link and replacing it, which widens the window in which an
/// operator's marsadm may write that link meanwhile. 0 (default): no wait.
pub(crate) static MERGE_DELAY_MS: AtomicI32 = AtomicI32::new(0);
pub(crate) static MERGE_DELAY_MS_MAX: i32 = 60_000;

/// RAM (MiB, all resources together) that buffered writes may hold until they are on
/// the disk; writers wait beyond it.
pub(crate) static MEM_LIMIT_MB: AtomicI32 = AtomicI32::new(128);
pub(crate) static MEM_LIMIT_MB_MIN: i32 = 1;
pub(crate) static MEM_LIMIT_MB_MAX: i32 = 1 << 20;

/// Payload digest of new log records: 0 = CRC32C, 1 = MD5, 2 = SHA-1 (every kind is
/// verified when reading).
pub(crate) static LOG_DIGEST: AtomicI32 = AtomicI32::new(0);
pub(crate) static LOG_DIGEST_MIN: i32 = 0;
pub(crate) static LOG_DIGEST_MAX: i32 = 3;

/// Fetch rate limit per secondary resource in KiB/s (0: unlimited).
pub(crate) static FETCH_LIMIT_KB: AtomicI32 = AtomicI32::new(0);
pub(crate) static FETCH_LIMIT_KB_MAX: i32 = i32::MAX;

/// Full sync rate limit per syncing resource in KiB/s of disk compared (0: unlimited).
pub(crate) static SYNC_LIMIT_KB: AtomicI32 = AtomicI32::new(0);

/// Space reserves L1..L4 of emergency mode in MiB (`required_free_space_{1..4}_mb`,
/// `mars_core::emergency`); negative: not set yet, the first round sets it to the
/// automatic value (1/16 of `/mars`, at most 2 GiB).
pub(crate) static REQUIRED_FREE_SPACE_MB: [AtomicI32; 4] = [AtomicI32::new(-1), AtomicI32::new(-1), AtomicI32::new(-1), AtomicI32::new(-1)];
pub(crate) static REQUIRED_FREE_SPACE_MB_MAX: i32 = 1 << 30;

/// The emergency level 0..4 of this host (`mars_emergency_mode`, read-only).
pub(crate) static EMERGENCY_LEVEL: AtomicI32 = AtomicI32::new(0);

/// 1: the level falls by itself once space is back (one step per round); 0: it stays
/// until this is set to 1 again.
pub(crate) static RESET_EMERGENCY: AtomicI32 = AtomicI32::new(1);

/// Free space of `/mars` minus what RAM buffers still write, and its size, in KiB, as
/// of the last round (`remaining_space_kb`, `total_space_kb`).
pub(crate) static REMAINING_SPACE_KB: AtomicU64 = AtomicU64::new(0);
pub(crate) static TOTAL_SPACE_KB: AtomicU64 = AtomicU64::new(0);

/// Write throttling before the last level (`write_throttle_start_percent`, 0: off):
/// once `/mars` is this full, writes of at least `write_throttle_size_kb` are delayed
/// so that the application writes at most `write_throttle_ratelimit_kb` KiB/s.
pub(crate) static WRITE_THROTTLE_START_PERCENT: AtomicI32 = AtomicI32::new(0);
pub(crate) static WRITE_THROTTLE_RATELIMIT_KB: AtomicI32 = AtomicI32::new(10 * 1024);
pub(crate) static WRITE_THROTTLE_SIZE_KB: AtomicI32 = AtomicI32::new(64);
pub(crate) static PERCENT_MAX: i32 = 100;
/// Writes delayed by the throttling, since load (`write_throttle_count`).
pub(crate) static THROTTLED_WRITES: AtomicU64 = AtomicU64::new(0);
/// `dropped_tree_entries`: entries of peers' listings not merged (ownership rules,
/// `mars_core::ownership`, or an unsafe local path), and listings dropped whole, since load.
pub(crate) static DROPPED_TREE_ENTRIES: AtomicU64 = AtomicU64::new(0);
/// Whether writes are throttled now (set each round from the fill level).
pub(crate) static THROTTLING: AtomicBool = AtomicBool::new(false);

/// How many full syncs may run at once on this host (0: no limit); further wanted
/// syncs wait (`mars_core::syncgate`).
pub(crate) static SYNC_LIMIT: AtomicI32 = AtomicI32::new(0);
pub(crate) static SYNC_LIMIT_MAX: i32 = 1 << 20;

/// Full syncs running on this host, and running plus queued (wanted), as of the
/// strategy's last round.
pub(crate) static SYNC_NR: AtomicU64 = AtomicU64::new(0);
pub(crate) static SYNC_WANTED: AtomicU64 = AtomicU64::new(0);

/// Reads answered (in part or whole) from buffered writes, since load.
pub(crate) static READS_FROM_BUFFER: AtomicU64 = AtomicU64::new(0);

/// Bytes of buffered writes right now, all resources together.
/// `tree_write_error`: errno of the last failed write into /mars, 0 after a success.
pub(crate) static TREE_WRITE_ERROR: AtomicI32 = AtomicI32::new(0);
pub(crate) static MEM_USED: AtomicUsize = AtomicUsize::new(0);

/// Of those, the bytes not yet in a logfile: what `/mars` still has to take (emergency
/// mode counts them against its free space; the rest is in the logfiles already).
pub(crate) static UNLOGGED: AtomicUsize = AtomicUsize::new(0);

/// How ordinary writes complete (see [`LOGGER_COMPLETION_SEMANTICS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// Once in the RAM buffer.
    Buffered,
    /// Once written to the logfile.
    Logged,
    /// Once durable in the logfile.
    Durable,
}

pub(crate) fn completion() -> Completion {
    match LOGGER_COMPLETION_SEMANTICS.load(Ordering::Relaxed) {
        0 => Completion::Buffered,
        1 => Completion::Logged,
        _ => Completion::Durable,
    }
}

/// Whether a write with these flags must be durable when it completes.
pub(crate) fn asks_durable(preflush: bool, fua: bool, sync: bool) -> bool {
    preflush || fua || (sync && LOGGER_SYNC_IS_DURABLE.load(Ordering::Relaxed) != 0)
}

/// Writes fail while logging has ceased unrecorded ([`MARS_BROKEN_FAILS_WRITES`]).
pub(crate) fn mars_broken_fails_writes() -> bool {
    MARS_BROKEN_FAILS_WRITES.load(Ordering::Relaxed) != 0
}

/// The memory limit in bytes.
pub(crate) fn mem_limit() -> usize {
    (MEM_LIMIT_MB.load(Ordering::Relaxed).max(1) as usize) << 20
}

/// The digest new records get.
pub(crate) fn log_digest() -> ChecksumAlgorithm {
    match LOG_DIGEST.load(Ordering::Relaxed) {
        1 => ChecksumAlgorithm::Md5,
        2 => ChecksumAlgorithm::Sha1,
        3 => ChecksumAlgorithm::Xxh64,
        _ => ChecksumAlgorithm::Crc32c,
    }
}

/// Network traffic classes, each with its own port offset and TCP tunables
/// (`/proc/sys/mars/tcp_tuning_<n>_<name>_traffic/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traffic {
    /// Symlink tree exchange (base port).
    Meta = 0,
    /// Logfile fetch (base port + 1).
    Replication = 1,
    /// Full sync (base port + 2).
    Sync = 2,
}

/// TCP tunables of one traffic class.
pub(crate) struct TcpTuning {
    pub(crate) ip_tos: AtomicI32,
    /// Send/receive timeout in seconds: a connection without progress for this long fails.
    pub(crate) tcp_timeout: AtomicI32,
    pub(crate) tcp_keepidle: AtomicI32,
    pub(crate) tcp_keepintvl: AtomicI32,
    pub(crate) tcp_keepcnt: AtomicI32,
    pub(crate) tcp_nodelay: AtomicI32,
}

impl TcpTuning {
    const fn new(tos: i32) -> Self {
        TcpTuning {
            ip_tos: AtomicI32::new(tos),
            tcp_timeout: AtomicI32::new(10),
            tcp_keepidle: AtomicI32::new(4),
            tcp_keepintvl: AtomicI32::new(3),
            tcp_keepcnt: AtomicI32::new(3),
            tcp_nodelay: AtomicI32::new(0),
        }
    }
}

/// Per class: IPTOS_LOWDELAY, IPTOS_RELIABILITY, IPTOS_MINCOST (as the original).
pub(crate) static TCP_TUNING: [TcpTuning; 3] = [TcpTuning::new(0x10), TcpTuning::new(0x04), TcpTuning::new(0x02)];
pub(crate) static ZERO: i32 = 0;
pub(crate) static ONE: i32 = 1;
pub(crate) static BYTE_MAX: i32 = 255;
pub(crate) static TCP_SECONDS_MAX: i32 = 3600;
pub(crate) static TCP_COUNT_MAX: i32 = 127;

/// TCP port of the metadata exchange; fetch and sync use the next two. Must be the same
/// on every member. A change moves this host's listeners at once.
pub(crate) static BASE_PORT: AtomicI32 = AtomicI32::new(DEFAULT_BASE_PORT as i32);
pub(crate) static BASE_PORT_MIN: i32 = 1024;
pub(crate) static BASE_PORT_MAX: i32 = 65533;

/// Bytes received per class (frames, headers included), since load.
pub(crate) static RECEIVED: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

impl Traffic {
    pub(crate) fn tuning(self) -> &'static TcpTuning {
        &TCP_TUNING[self as usize]
    }

    /// The class's TCP port: base port + class.
    pub(crate) fn port(self) -> u16 {
        let base = BASE_PORT.load(Ordering::Relaxed).clamp(BASE_PORT_MIN, BASE_PORT_MAX);
        base as u16 + self as u16
    }

    /// Counter of the bytes received in this class (`/proc/sys/mars/received_bytes_*`).
    pub(crate) fn received(self) -> &'static AtomicU64 {
        &RECEIVED[self as usize]
    }
}
