// SPDX-License-Identifier: GPL-2.0

//! A primary's logfiles as its data path shares them: [`Log`], one logfile and how far
//! each thread has got in it, and [`CurrentLog`], the one being written now (and the
//! one before it while the writeback has not left it).
//!
//! # Positions
//! Four positions of a logfile, each only growing:
//!
//! | position   | advanced by | meaning |
//! |------------|-------------|---------|
//! | `appended` | `mars_logger` (`logger`) | records are written to the logfile up to here |
//! | `durable`  | `mars_logsync` (`logger`), the writeback before it writes data back, a rotation | the logfile is durable (fdatasync'ed) up to here |
//! | `written`  | `mars_writeback` (`writeback`) | every write logged before here is on the disk (maybe not flushed) |
//! | `reported` | `mars_writeback` (`writeback`) | `replay-<me>` says so, after a flush of the disk |
//!
//! and at all times `appended >= durable >= written >= reported`: nothing is written
//! back before its record is durable (recovery replays the log from `replay-<me>`, so
//! the log must hold everything the disk may have), nothing is reported before it is
//! written back. The fetch server serves a current logfile only up to `durable`; a full
//! sync starts from `written`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, CondVar, CondVarTimeoutResult, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

use crate::kapi::file::{File, OpenFlags};
use crate::mars_core::tree::{LogName, RESOURCE_PREFIX};
use crate::tree::{open_logfile, path, ROOT};

/// The current logfile, shared by the logger (appends) and the writeback (syncs it
/// before writing data back, and names it in the replay link).
pub(crate) struct Log {
    /// The open logfile.
    pub(crate) file: File,
    /// The same file opened for direct I/O, which the logger writes records with (from
    /// where their data is, no copy into the page cache); `None` if `/mars` does not
    /// support direct I/O (then records go through `file`).
    pub(crate) direct: Option<File>,
    /// Its number (`log-<nr>-<me>`).
    pub(crate) nr: u32,
    /// Resource directory, for the replay link.
    pub(crate) dir: CString,
    /// This host.
    pub(crate) me: KVec<u8>,
    /// The positions (module documentation, "Positions").
    appended: AtomicU64,
    durable: AtomicU64,
    written: AtomicU64,
    reported: AtomicU64,
    /// The logger waits for `reported`: the writeback records its progress at once.
    report_now: AtomicBool,
    /// The writeback's last attempt to record its progress in `replay-<me>` failed.
    report_failed: AtomicBool,
    /// Wakes the fetch server's long polls when `durable` grows.
    grown: Arc<Growth>,
}

/// Where the fetch server's long polls wait for a logfile to grow (`Log::wait_durable_beyond`).
#[pin_data]
struct Growth {
    #[pin]
    lock: Mutex<()>,
    #[pin]
    cond: CondVar,
}

impl Log {
    /// The log of logfile `nr` of this host in resource directory `dir`, open in `file`.
    pub(crate) fn new(file: File, nr: u32, dir: &CStr, me: &str) -> Result<Log> {
        let mut me_bytes = KVec::new();
        me_bytes.extend_from_slice(me.as_bytes(), GFP_KERNEL)?;
        let zero = || AtomicU64::new(0);
        let direct = match open_logfile(dir, LogName { nr, host: me }, OpenFlags::READ_WRITE.direct(), 0) {
            // Records are multiples of 512 bytes at such positions: a disk under /mars
            // with 4 KiB logical blocks would refuse them (EINVAL, logging would cease).
            Ok(f) if f.direct_align_ok() => Some(f),
            Ok(_) => {
                pr_info!("{}: logfile {}: direct I/O on /mars needs more than 512-byte alignment; writing it through the page cache\n", dir, nr);
                None
            }
            Err(e) => {
                pr_warn!("{}: logfile {} cannot be opened for direct I/O ({:?}); writing it through the page cache\n", dir, nr, e);
                None
            }
        };
        let grown = Arc::pin_init(pin_init!(Growth { lock <- new_mutex!((), "mars_log_grown"), cond <- new_condvar!("mars_log_grown") }), GFP_KERNEL)?;
        Ok(Log { file, direct, nr, dir: path(fmt!("{}", dir))?, me: me_bytes, appended: zero(), durable: zero(), written: zero(), reported: zero(), report_now: AtomicBool::new(false), report_failed: AtomicBool::new(false), grown })
    }

    /// Waits until the logfile is durable beyond `pos`, for at most `timeout_ms` or
    /// until the thread is asked to stop; returns how far it is durable then.
    pub(crate) fn wait_durable_beyond(&self, pos: u64, timeout_ms: u32) -> u64 {
        let mut guard = self.grown.lock.lock();
        let mut left = msecs_to_jiffies(timeout_ms);
        loop {
            let durable = self.durable.load(Ordering::Acquire);
            if durable > pos {
                return durable;
            }
            match self.grown.cond.wait_interruptible_timeout(&mut guard, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                _ => return self.durable.load(Ordering::Acquire),
            }
        }
    }

    /// Cuts the zeros the logger wrote ahead off the logfile (which then ends at `end`,
    /// after its last record) and makes that durable: a logfile the logger leaves has
    /// its exact length, as secondaries fetch it (`fetch`) and marsadm shows it.
    pub(crate) fn trim(&self, end: u64) {
        if self.file.size() <= end {
            return;
        }
        if let Err(e) = self.file.truncate(end).and_then(|()| self.file.sync(true)) {
            pr_warn!("resource {}: cannot cut logfile {} to its end {}: {:?}\n", self.res(), self.nr, end, e);
        }
    }

    /// The resource's name, for log lines.
    pub(crate) fn res(&self) -> &str {
        let dir = self.dir.to_str().unwrap_or("");
        dir.strip_prefix(ROOT).and_then(|d| d.strip_prefix('/')).and_then(|d| d.strip_prefix(RESOURCE_PREFIX)).unwrap_or(dir)
    }

    /// How far the logger has appended records.
    pub(crate) fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// How far the logfile is durable.
    pub(crate) fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// How far every logged write is on the disk (maybe not flushed).
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// How far `replay-<me>` says the logfile is on the disk.
    pub(crate) fn reported(&self) -> u64 {
        self.reported.load(Ordering::Acquire)
    }

    /// For the logger: records are appended up to `pos`.
    pub(crate) fn appended_to(&self, pos: u64) {
        self.appended.fetch_max(pos, Ordering::AcqRel);
    }

    /// For the writeback: every write logged before `pos` is on the disk; its records
    /// are durable (the writeback synced the logfile before writing them back).
    pub(crate) fn written_to(&self, pos: u64) {
        self.written.fetch_max(pos, Ordering::AcqRel);
    }

    /// For the writeback: `replay-<me>` now says `pos` (or recording it failed, `None`).
    pub(crate) fn reported_to(&self, pos: Option<u64>) {
        match pos {
            Some(pos) => {
                self.reported.fetch_max(pos, Ordering::AcqRel);
                self.report_failed.store(false, Ordering::Release);
            }
            None => self.report_failed.store(true, Ordering::Release),
        }
    }

    /// The writeback's last attempt to record its progress failed.
    pub(crate) fn report_failed(&self) -> bool {
        self.report_failed.load(Ordering::Acquire)
    }

    /// For the logger: asks the writeback to record its progress at once.
    pub(crate) fn ask_report(&self) {
        self.report_now.store(true, Ordering::Release);
    }

    /// For the writeback: whether the logger asked for a report.
    pub(crate) fn report_asked(&self) -> bool {
        self.report_now.load(Ordering::Acquire)
    }

    /// For the writeback: the report asked for is made.
    pub(crate) fn report_made(&self) {
        self.report_now.store(false, Ordering::Release);
    }

    /// Makes the logfile durable at least up to `pos` (its size when the caller looked).
    pub(crate) fn sync_to(&self, pos: u64) -> Result {
        if self.durable.load(Ordering::Acquire) >= pos {
            return Ok(());
        }
        self.file.sync(true)?;
        self.durable.fetch_max(pos, Ordering::AcqRel);
        // Under the lock: a waiter checks `durable` and sleeps under it, so it cannot
        // miss this.
        let _guard = self.grown.lock.lock();
        self.grown.cond.notify_all();
        Ok(())
    }
}

/// The logfile a primary's data path writes now; a rotation (`marsadm log-rotate`)
/// replaces it. The logger switches once the old logfile is durable and nobody waits
/// for its durability, so a logfile is complete once the next one is in use. The
/// writeback may still be writing the old one back: it follows at most one logfile
/// behind (a rotation waits until it left the one before), records the old one's final
/// length and moves `replay-<me>` on.
#[pin_data]
pub(crate) struct CurrentLog {
    #[pin]
    logs: Mutex<Logs>,
    /// A rotation asked for and not yet carried out: the next logfile.
    #[pin]
    next: Mutex<Option<Arc<Log>>>,
    /// Emergency mode (docu/emergency.md): the strategy wants logging to cease (or the
    /// logger met a write error on the logfile).
    cease: AtomicBool,
    /// Logging has ceased: writes go straight to the disk.
    ceased: AtomicBool,
    /// A write or sync of the logfile failed since logging last (re)started.
    failed: AtomicBool,
}

/// The logfile the logger appends to, and the one before it while the writeback has not
/// left it.
struct Logs {
    now: Arc<Log>,
    behind: Option<Arc<Log>>,
}

impl CurrentLog {
    pub(crate) fn new(log: Arc<Log>) -> Result<Arc<CurrentLog>> {
        Arc::pin_init(
            pin_init!(CurrentLog {
                logs <- new_mutex!(Logs { now: log, behind: None }, "mars_current_log"),
                next <- new_mutex!(None, "mars_next_log"),
                cease: AtomicBool::new(false),
                ceased: AtomicBool::new(false),
                failed: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// The logfile the logger appends to.
    pub(crate) fn get(&self) -> Arc<Log> {
        self.logs.lock().now.clone()
    }

    /// For the logger: continues in `next`; the writeback may still be in the old one.
    pub(crate) fn switch(&self, next: Arc<Log>) {
        let mut logs = self.logs.lock();
        let old = core::mem::replace(&mut logs.now, next);
        logs.behind = Some(old);
    }

    /// The writeback is in a logfile before the current one.
    pub(crate) fn behind(&self) -> bool {
        self.logs.lock().behind.is_some()
    }

    /// For the writeback: the logfile numbered `nr`, if it is the current one or the one
    /// before.
    pub(crate) fn numbered(&self, nr: u32) -> Option<Arc<Log>> {
        let logs = self.logs.lock();
        if logs.now.nr == nr {
            return Some(logs.now.clone());
        }
        logs.behind.as_ref().filter(|b| b.nr == nr).cloned()
    }

    /// For the writeback: the logfile after `log` (`log` itself if it is the current one).
    pub(crate) fn after(&self, log: &Log) -> Arc<Log> {
        let logs = self.logs.lock();
        match &logs.behind {
            Some(b) if b.nr > log.nr => b.clone(),
            _ => logs.now.clone(),
        }
    }

    /// For the writeback: everything of `log` is on the disk, and it moves on.
    pub(crate) fn left(&self, log: &Log) {
        let mut logs = self.logs.lock();
        if logs.behind.as_ref().is_some_and(|b| b.nr <= log.nr) {
            logs.behind = None;
        }
    }

    /// How far the writeback has written logged writes to the disk: the logfile and
    /// the position in it before which everything logged is there (maybe not flushed).
    pub(crate) fn written_back(&self) -> (u32, u64) {
        let logs = self.logs.lock();
        let log = logs.behind.as_ref().unwrap_or(&logs.now);
        (log.nr, log.written())
    }

    /// Asks the logger to continue in `next` (unless a rotation is pending already).
    pub(crate) fn rotate_to(&self, next: Arc<Log>) {
        let mut pending = self.next.lock();
        if pending.is_none() {
            *pending = Some(next);
        }
    }

    /// A rotation is asked for and not yet carried out.
    pub(crate) fn rotating(&self) -> bool {
        self.next.lock().is_some()
    }

    /// For the logger: a rotation asked for and not yet carried out.
    pub(crate) fn pending_rotation(&self) -> Option<Arc<Log>> {
        self.next.lock().clone()
    }

    /// For the logger: the rotation asked for is carried out or given up.
    pub(crate) fn rotation_done(&self) {
        *self.next.lock() = None;
    }

    /// For the logger: whether logging is to cease.
    pub(crate) fn cease_asked(&self) -> bool {
        self.cease.load(Ordering::Acquire)
    }

    /// For the logger: logging has ceased; a rotation asked for is dropped (the next
    /// logfile is the one after the hole).
    pub(crate) fn note_ceased(&self) {
        self.ceased.store(true, Ordering::Release);
        self.rotation_done();
    }

    /// For the logger: logging resumed (a failure before is forgotten).
    pub(crate) fn note_resumed(&self) {
        self.failed.store(false, Ordering::Release);
        self.ceased.store(false, Ordering::Release);
    }

    /// Asks the logger to cease logging (`true`) or to resume (`false`).
    pub(crate) fn set_cease(&self, cease: bool) {
        self.cease.store(cease, Ordering::Release);
    }

    /// Logging has ceased: the disk has writes no logfile has.
    pub(crate) fn ceased(&self) -> bool {
        self.ceased.load(Ordering::Acquire)
    }

    /// A logfile write or sync failed since logging last (re)started.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Records a failed write or sync of the logfile: logging ceases.
    pub(crate) fn note_failure(&self) {
        self.failed.store(true, Ordering::Release);
        self.cease.store(true, Ordering::Release);
    }
}
