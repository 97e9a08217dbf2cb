// SPDX-License-Identifier: GPL-2.0

//! Wall-clock time (C: `ktime_get_real_ts64`) and monotonic time (C: `ktime_get`).

use super::sys;

/// Real (wall-clock) time in nanoseconds since the Unix epoch.
pub(crate) fn real_ns() -> u64 {
    let mut ts = sys::timespec64 { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is valid for writes.
    unsafe { sys::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec.max(0) as u64)
}

/// Monotonic time in nanoseconds since boot, for measuring intervals (it never steps back).
pub(crate) fn monotonic_ns() -> u64 {
    // SAFETY: `ktime_get` has no preconditions; it only reads the timekeeper.
    let t = unsafe { sys::ktime_get() };
    t.max(0) as u64
}
