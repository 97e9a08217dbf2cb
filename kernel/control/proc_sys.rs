// SPDX-License-Identifier: GPL-2.0

//! The `/proc/sys/mars` interface: version, trigger, tunables and counters (see
//! docu/proc-sys-mars.md).
//!
//! The directory exists exactly while the module is loaded; marsadm uses that to tell
//! whether the module is loaded (see `mars_core::version::PROC_SYS_DIR`).

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::kapi::sysctl::{Entry, Registration, Show};
use crate::mars_core::lamport::format_stamp;
use crate::mars_core::text::format_into;
use crate::mars_core::version::{PROC_SYS_LAMPORT_CLOCK_WITH_NUL, PROC_SYS_NAME_WITH_NUL, PROC_SYS_TREE_WRITE_ERROR_WITH_NUL, PROC_SYS_VERSION_WITH_NUL, VERSION_WITH_NUL};
use crate::context::Context;
use crate::tunables::*;

/// A shared `*_WITH_NUL` string as a C string, checked at compile time.
const fn shared_cstr(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("shared string is not a C string"),
    }
}

/// The registered `/proc/sys/mars` table; unregistered on drop.
pub(crate) struct ProcSys {
    /// Dropped first: the subdirectories before their parent.
    _tcp: KVec<Registration>,
    _registration: Registration,
}

/// `/proc/sys/mars/tcp_tuning_<n>_<name>_traffic/` for every traffic class.
fn register_tcp() -> Result<KVec<Registration>> {
    let dirs: [(&'static CStr, Traffic); 3] = [
        (kernel::c_str!("mars/tcp_tuning_0_meta_traffic"), Traffic::Meta),
        (kernel::c_str!("mars/tcp_tuning_1_replication_traffic"), Traffic::Replication),
        (kernel::c_str!("mars/tcp_tuning_2_sync_traffic"), Traffic::Sync),
    ];
    let mut regs = KVec::new();
    for (dir, class) in dirs {
        let t = class.tuning();
        let mut e = KVec::new();
        e.push(Entry::int(kernel::c_str!("ip_tos"), &t.ip_tos, &ZERO, &BYTE_MAX), GFP_KERNEL)?;
        e.push(Entry::int(kernel::c_str!("tcp_timeout"), &t.tcp_timeout, &ONE, &TCP_SECONDS_MAX), GFP_KERNEL)?;
        e.push(Entry::int(kernel::c_str!("tcp_keepidle"), &t.tcp_keepidle, &ONE, &TCP_SECONDS_MAX), GFP_KERNEL)?;
        e.push(Entry::int(kernel::c_str!("tcp_keepintvl"), &t.tcp_keepintvl, &ONE, &TCP_SECONDS_MAX), GFP_KERNEL)?;
        e.push(Entry::int(kernel::c_str!("tcp_keepcnt"), &t.tcp_keepcnt, &ONE, &TCP_COUNT_MAX), GFP_KERNEL)?;
        e.push(Entry::int(kernel::c_str!("tcp_nodelay"), &t.tcp_nodelay, &ZERO, &ONE), GFP_KERNEL)?;
        regs.push(Registration::new(dir, e)?, GFP_KERNEL)?;
    }
    Ok(regs)
}

/// `lamport_clock`: the module's Lamport time (`<seconds>.<nanoseconds>`), which marsadm
/// uses as the lower bound for the stamps it writes.
struct LamportClock(Arc<Context>);

impl Show for LamportClock {
    fn show(&self, out: &mut [u8]) -> usize {
        let mut buf = [0u8; 32];
        copy_str(format_stamp(self.0.clock.peek(), &mut buf), out)
    }
}

/// `mem_used_kb`: RAM held by buffered writes.
struct MemUsed;

impl Show for MemUsed {
    fn show(&self, out: &mut [u8]) -> usize {
        let kib = MEM_USED.load(Ordering::Relaxed) / 1024;
        format_into(out, format_args!("{}", kib)).map_or(0, str::len)
    }
}

/// A counter, e.g. `reads_from_buffer` (since load) or `sync_nr` (now).
struct Counter(&'static AtomicU64);

impl Show for Counter {
    fn show(&self, out: &mut [u8]) -> usize {
        format_into(out, format_args!("{}", self.0.load(Ordering::Relaxed))).map_or(0, str::len)
    }
}

/// A read-only number, e.g. `mars_emergency_mode`.
struct Number(&'static AtomicI32);

impl Show for Number {
    fn show(&self, out: &mut [u8]) -> usize {
        format_into(out, format_args!("{}", self.0.load(Ordering::Relaxed))).map_or(0, str::len)
    }
}

fn copy_str(s: &str, out: &mut [u8]) -> usize {
    let n = s.len().min(out.len());
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    n
}

impl ProcSys {
    /// Creates `/proc/sys/mars` with its entries.
    pub(crate) fn register(ctx: Arc<Context>) -> Result<Self> {
        let mut entries = KVec::new();
        entries.push(
            Entry::read_only_str(shared_cstr(PROC_SYS_VERSION_WITH_NUL), shared_cstr(VERSION_WITH_NUL)),
            GFP_KERNEL,
        )?;
        entries.push(Entry::action(kernel::c_str!("trigger"), ctx.clone()), GFP_KERNEL)?;
        entries.push(Entry::show(shared_cstr(PROC_SYS_LAMPORT_CLOCK_WITH_NUL), Arc::new(LamportClock(ctx), GFP_KERNEL)?), GFP_KERNEL)?;
        entries.push(Entry::show(kernel::c_str!("mem_used_kb"), Arc::new(MemUsed, GFP_KERNEL)?), GFP_KERNEL)?;
        let counters: [(&'static CStr, &'static AtomicU64); 10] = [
            (kernel::c_str!("write_throttle_count"), &THROTTLED_WRITES),
            (kernel::c_str!("dropped_tree_entries"), &DROPPED_TREE_ENTRIES),
            (kernel::c_str!("remaining_space_kb"), &REMAINING_SPACE_KB),
            (kernel::c_str!("total_space_kb"), &TOTAL_SPACE_KB),
            (kernel::c_str!("reads_from_buffer"), &READS_FROM_BUFFER),
            (kernel::c_str!("sync_nr"), &SYNC_NR),
            (kernel::c_str!("sync_wanted"), &SYNC_WANTED),
            (kernel::c_str!("received_bytes_0_meta"), Traffic::Meta.received()),
            (kernel::c_str!("received_bytes_1_replication"), Traffic::Replication.received()),
            (kernel::c_str!("received_bytes_2_sync"), Traffic::Sync.received()),
        ];
        for (name, counter) in counters {
            entries.push(Entry::show(name, Arc::new(Counter(counter), GFP_KERNEL)?), GFP_KERNEL)?;
        }
        entries.push(
            Entry::int(
                kernel::c_str!("logger_completion_semantics"),
                &LOGGER_COMPLETION_SEMANTICS,
                &LOGGER_COMPLETION_SEMANTICS_MIN,
                &LOGGER_COMPLETION_SEMANTICS_MAX,
            ),
            GFP_KERNEL,
        )?;
        entries.push(Entry::int(kernel::c_str!("logger_sync_is_durable"), &LOGGER_SYNC_IS_DURABLE, &ZERO, &ONE), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("mars_broken_fails_writes"), &MARS_BROKEN_FAILS_WRITES, &ZERO, &ONE), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("log_digest"), &LOG_DIGEST, &LOG_DIGEST_MIN, &LOG_DIGEST_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("fetch_limit_kb"), &FETCH_LIMIT_KB, &ZERO, &FETCH_LIMIT_KB_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("base_port"), &BASE_PORT, &BASE_PORT_MIN, &BASE_PORT_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("sync_limit_kb"), &SYNC_LIMIT_KB, &ZERO, &FETCH_LIMIT_KB_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("sync_limit"), &SYNC_LIMIT, &ZERO, &SYNC_LIMIT_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("mem_limit_mb"), &MEM_LIMIT_MB, &MEM_LIMIT_MB_MIN, &MEM_LIMIT_MB_MAX), GFP_KERNEL)?;
        entries.push(Entry::show(kernel::c_str!("mars_emergency_mode"), Arc::new(Number(&EMERGENCY_LEVEL), GFP_KERNEL)?), GFP_KERNEL)?;
        entries.push(Entry::show(shared_cstr(PROC_SYS_TREE_WRITE_ERROR_WITH_NUL), Arc::new(Number(&TREE_WRITE_ERROR), GFP_KERNEL)?), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("mars_reset_emergency"), &RESET_EMERGENCY, &ZERO, &ONE), GFP_KERNEL)?;
        let reserves: [&'static CStr; 4] = [
            kernel::c_str!("required_free_space_1_mb"),
            kernel::c_str!("required_free_space_2_mb"),
            kernel::c_str!("required_free_space_3_mb"),
            kernel::c_str!("required_free_space_4_mb"),
        ];
        for (name, value) in reserves.into_iter().zip(&REQUIRED_FREE_SPACE_MB) {
            entries.push(Entry::int(name, value, &ZERO, &REQUIRED_FREE_SPACE_MB_MAX), GFP_KERNEL)?;
        }
        entries.push(Entry::int(kernel::c_str!("write_throttle_start_percent"), &WRITE_THROTTLE_START_PERCENT, &ZERO, &PERCENT_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("write_throttle_ratelimit_kb"), &WRITE_THROTTLE_RATELIMIT_KB, &ONE, &FETCH_LIMIT_KB_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("write_throttle_size_kb"), &WRITE_THROTTLE_SIZE_KB, &ZERO, &FETCH_LIMIT_KB_MAX), GFP_KERNEL)?;
        entries.push(Entry::int(kernel::c_str!("test_merge_delay_ms"), &MERGE_DELAY_MS, &ZERO, &MERGE_DELAY_MS_MAX), GFP_KERNEL)?;
        let registration = Registration::new(shared_cstr(PROC_SYS_NAME_WITH_NUL), entries)?;
        Ok(ProcSys { _tcp: register_tcp()?, _registration: registration })
    }
}
