// SPDX-License-Identifier: GPL-2.0

//! The RAM write buffer of a primary (design reference §1.5): every write to
//! `/dev/mars/<dev>` lives here from submission until it is on the disk.
//!
//! A write is copied out of its bio into a [`Pending`], entered into a position index
//! (so reads find the newest data) and queued for the logger, which appends it to the
//! logfile and then marks it logged. The writeback thread takes logged writes sorted by
//! position, writes them to the disk, and only then removes them from the index. The
//! buffer is bounded (`mem_limit_mb` and the queue's slots): a writer waits while it is
//! full; nothing is dropped. A write the disk refused stays buffered (reads keep finding
//! it) and is written again; while the disk refuses writes, a writer that would wait for
//! room fails instead (as it would without MARS, its disk having failed).
//!
//! Entries written back are kept for reuse (up to [`SPARE_BYTES`]), with their index
//! nodes: in steady state a write allocates nothing, it is copied into a spare entry.

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use core::pin::Pin;

use kernel::sync::{Arc, CondVar, Mutex, UniqueArc};
use kernel::page::PAGE_SIZE;
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

use crate::kapi::gendisk::{Bio, BioStatus};
use crate::mars_core::writeback::Piece;
use crate::primary::ring::Ring;
use crate::tunables::{self, Completion, MEM_USED, UNLOGGED};

/// Requests the logger queue holds at most.
pub(crate) const QUEUE_SLOTS: usize = 4096;
/// Spare entries (and index nodes) kept for reuse at most.
const SPARE_ENTRIES: usize = 1024;
/// Data capacity the spare entries may hold together.
const SPARE_BYTES: usize = 16 << 20;

type IndexNode = RBTreeNodeReservation<(u64, u64), Arc<Pending>>;

/// A buffered write: `data` for the disk at byte `pos`; `order` is its place in the log.
pub(crate) struct Pending {
    pub(crate) pos: u64,
    pub(crate) order: u64,
    pub(crate) data: KVVec<u8>,
}

impl Piece for Arc<Pending> {
    fn pos(&self) -> u64 {
        self.pos
    }
    fn len(&self) -> u32 {
        self.data.len() as u32
    }
    fn order(&self) -> u64 {
        self.order
    }
}

/// A request for the logger.
pub(crate) enum Request {
    /// Log this write. `bio`, unless completed already, completes once the record is in
    /// the logfile — durably if `durable`.
    Write { entry: Arc<Pending>, bio: Option<Bio>, durable: bool },
    /// A flush: completes once everything logged before it is durable.
    Flush { bio: Bio },
}

impl Request {
    /// Fails the request's bio (if it still has one).
    pub(crate) fn fail(self) {
        match self {
            Request::Write { bio: Some(bio), .. } | Request::Flush { bio } => bio.end(BioStatus::IoError),
            Request::Write { bio: None, .. } => {}
        }
    }
}

struct State {
    queue: Ring<Request>,
    /// Buffered writes by `(pos, order)`.
    index: RBTree<(u64, u64), Arc<Pending>>,
    /// Length of the longest write in `index` (bounds the overlap search).
    longest: u64,
    /// Payload bytes in `index`.
    bytes: usize,
    next_order: u64,
    /// Every write up to this order is in the logfile numbered `logged_nr`, which then
    /// ends at `logged_pos`.
    logged_order: u64,
    logged_nr: u32,
    logged_pos: u64,
    /// Writes up to this order were handed to the writeback (which takes one batch at a
    /// time and hands it back with `written` before taking the next).
    taken_order: u64,
    /// The disk refused the last writeback: writers fail rather than wait for room.
    failing: bool,
    stopping: bool,
    /// Written-back entries for reuse (their data overwritten by the next write), with
    /// the capacity they hold,
    /// and index nodes (rings allocated once, at the start).
    spare: Ring<Pin<UniqueArc<Pending>>>,
    spare_bytes: usize,
    spare_nodes: Ring<IndexNode>,
}

/// The buffer, shared by the device (producers), the logger and the writeback.
#[pin_data]
pub(crate) struct WriteBuffer {
    #[pin]
    state: Mutex<State>,
    /// The logger waits here for requests.
    #[pin]
    queued: CondVar,
    /// The writeback waits here for logged writes.
    #[pin]
    logged: CondVar,
    /// Writers wait here for room.
    #[pin]
    room: CondVar,
}

/// Optional write throttling before the last emergency level (off by default,
/// `write_throttle_start_percent`): a large write waits as long as writing it at
/// `write_throttle_ratelimit_kb` takes, at most a second.
fn throttle(len: usize) {
    use core::sync::atomic::Ordering::Relaxed;
    if !tunables::THROTTLING.load(Relaxed) || len < (tunables::WRITE_THROTTLE_SIZE_KB.load(Relaxed).max(0) as usize) << 10 {
        return;
    }
    let rate = (tunables::WRITE_THROTTLE_RATELIMIT_KB.load(Relaxed).max(1) as u64) << 10;
    let ms = ((len as u64).saturating_mul(1000) / rate).clamp(1, 1000);
    tunables::THROTTLED_WRITES.fetch_add(1, Relaxed);
    crate::kapi::thread::sleep_ms(ms as u32);
}

impl WriteBuffer {
    pub(crate) fn new() -> Result<Arc<WriteBuffer>> {
        let state = State {
            queue: Ring::new(QUEUE_SLOTS)?,
            index: RBTree::new(),
            longest: 0,
            bytes: 0,
            next_order: 1,
            logged_order: 0,
            logged_nr: 0,
            logged_pos: 0,
            taken_order: 0,
            failing: false,
            stopping: false,
            spare: Ring::new(SPARE_ENTRIES)?,
            spare_bytes: 0,
            spare_nodes: Ring::new(SPARE_ENTRIES)?,
        };
        Arc::pin_init(
            pin_init!(WriteBuffer {
                state <- new_mutex!(state, "mars_buffer"),
                queued <- new_condvar!("mars_buffer_queued"),
                logged <- new_condvar!("mars_buffer_logged"),
                room <- new_condvar!("mars_buffer_room"),
            }),
            GFP_KERNEL,
        )
    }

    /// Takes a write bio: copies its data into the buffer (waiting for room) and queues
    /// it for the logger. It completes per `logger_completion_semantics`; a write with
    /// REQ_PREFLUSH or REQ_FUA (or REQ_SYNC, under `logger_sync_is_durable`) only once
    /// its record is durable.
    pub(crate) fn write(&self, bio: Bio) {
        let len = bio.len() as usize;
        let Ok((mut entry, node)) = self.reserve(len) else {
            return bio.end(BioStatus::IoError);
        };
        let pending = Pin::get_mut(entry.as_mut());
        if bio.copy_into(&mut pending.data).is_err() {
            return bio.end(BioStatus::IoError);
        }
        throttle(len);
        let pos = bio.pos();
        pending.pos = pos;
        let asks_durable = tunables::asks_durable(bio.is_preflush(), bio.is_fua(), bio.is_sync());
        let mode = tunables::completion();
        let mut st = self.state.lock();
        let full = |st: &State| st.queue.is_full() || (st.bytes > 0 && MEM_USED.load(Ordering::Relaxed) + len > tunables::mem_limit());
        while !st.stopping && !st.failing && full(&st) {
            self.room.wait(&mut st);
        }
        if st.stopping || (st.failing && full(&st)) {
            drop(st);
            return bio.end(BioStatus::IoError);
        }
        let order = st.next_order;
        Pin::get_mut(entry.as_mut()).order = order;
        let entry: Arc<Pending> = entry.into();
        st.next_order += 1;
        st.index.insert(node.into_node((pos, order), entry.clone()));
        st.longest = st.longest.max(len as u64);
        st.bytes += len;
        MEM_USED.fetch_add(len, Ordering::Relaxed);
        UNLOGGED.fetch_add(len, Ordering::Relaxed);
        let early = !asks_durable && mode == Completion::Buffered;
        let durable = asks_durable || mode == Completion::Durable;
        let (queued_bio, completed) = if early { (None, Some(bio)) } else { (Some(bio), None) };
        // The queue has room: checked above under the same lock.
        let pushed = st.queue.push(Request::Write { entry, bio: queued_bio, durable });
        drop(st);
        if let Err(req) = pushed {
            req.fail();
        }
        self.queued.notify_one();
        if let Some(bio) = completed {
            bio.end(BioStatus::Ok);
        }
    }

    /// An empty entry with room for `len` bytes and an index node: spare ones if there
    /// are, else new ones. The data's capacity is whole pages, so the allocation is
    /// page-aligned (kmalloc's power-of-two sizes, the page allocator, vmalloc) and the
    /// logger writes it by direct I/O from where it is.
    fn reserve(&self, len: usize) -> Result<(Pin<UniqueArc<Pending>>, IndexNode)> {
        let cap = len.next_multiple_of(PAGE_SIZE);
        let (entry, node) = {
            let mut st = self.state.lock();
            let entry = st.spare.pop();
            if let Some(e) = &entry {
                st.spare_bytes -= e.data.capacity();
            }
            (entry, st.spare_nodes.pop())
        };
        let node = match node {
            Some(n) => n,
            None => RBTreeNodeReservation::new(GFP_KERNEL)?,
        };
        let entry = match entry {
            Some(mut e) => {
                let data = &mut Pin::get_mut(e.as_mut()).data;
                // Reused only if it fits, and not much too large: a small write never
                // holds a large write's memory.
                if data.capacity() < cap || data.capacity() > 2 * cap {
                    *data = KVVec::with_capacity(cap, GFP_KERNEL)?;
                }
                e
            }
            None => {
                let data = KVVec::with_capacity(cap, GFP_KERNEL)?;
                UniqueArc::new(Pending { pos: 0, order: 0, data }, GFP_KERNEL)?.into()
            }
        };
        Ok((entry, node))
    }

    /// Takes a flush: completes once everything before it is durable in the log.
    pub(crate) fn flush(&self, bio: Bio) {
        let mut st = self.state.lock();
        while !st.stopping && st.queue.is_full() {
            self.room.wait(&mut st);
        }
        if st.stopping {
            drop(st);
            return bio.end(BioStatus::IoError);
        }
        let pushed = st.queue.push(Request::Flush { bio });
        drop(st);
        if let Err(req) = pushed {
            req.fail();
        }
        self.queued.notify_one();
    }

    /// The buffered writes overlapping `[pos, pos + len)`, oldest first (empty: the disk
    /// has the newest data of the whole range).
    pub(crate) fn overlapping(&self, pos: u64, len: u64) -> Result<KVec<Arc<Pending>>> {
        let end = pos + len;
        let mut found = KVec::new();
        {
            let mut st = self.state.lock();
            let from = pos.saturating_sub(st.longest);
            let mut cursor = st.index.cursor_lower_bound_mut(&(from, 0));
            while let Some(c) = cursor {
                let (&(p, _), e) = c.current();
                if p >= end {
                    break;
                }
                if p + e.data.len() as u64 > pos {
                    found.push(e.clone(), GFP_KERNEL)?;
                }
                cursor = c.move_next();
            }
        }
        found.sort_unstable_by_key(|e| e.order);
        Ok(found)
    }

    /// For the logger: moves queued requests into `batch` (as many as it has room
    /// for), waiting up to a second for the first one. Returns how many.
    pub(crate) fn take(&self, batch: &mut Ring<Request>) -> usize {
        let mut st = self.state.lock();
        // Waits even when stopping: a thread must never spin (kthread_stop wakes it).
        if st.queue.is_empty() {
            let _ = self.queued.wait_interruptible_timeout(&mut st, msecs_to_jiffies(1000));
        }
        let mut n = 0;
        while !batch.is_full() {
            let Some(req) = st.queue.pop() else { break };
            // Not full: the push succeeds.
            let _ = batch.push(req);
            n += 1;
        }
        drop(st);
        if n > 0 {
            self.room.notify_all();
        }
        n
    }

    /// For the logger: every write up to `order` is in logfile `nr`, which ends at
    /// `log_pos` (the logger calls this in log order).
    pub(crate) fn mark_logged(&self, order: u64, nr: u32, log_pos: u64) {
        let mut st = self.state.lock();
        st.logged_order = st.logged_order.max(order);
        st.logged_nr = nr;
        st.logged_pos = log_pos;
        drop(st);
        self.logged.notify_all();
    }

    /// Wakes the writeback if it waits for logged writes (it then records its progress).
    pub(crate) fn wake_writeback(&self) {
        self.logged.notify_all();
    }

    /// For the writeback: collects the logged writes (sorted by position, then order)
    /// into `out`, waiting up to a second for some. Returns the logfile number and the
    /// position up to which they cover it, or `None` if there were none.
    pub(crate) fn take_logged(&self, out: &mut KVec<Arc<Pending>>) -> Result<Option<(u32, u64)>> {
        let mut st = self.state.lock();
        if !Self::has_logged(&st) {
            let _ = self.logged.wait_interruptible_timeout(&mut st, msecs_to_jiffies(1000));
        }
        if !Self::has_logged(&st) {
            return Ok(None);
        }
        let upto = st.logged_order;
        for e in st.index.values() {
            if e.order <= upto {
                out.push(e.clone(), GFP_KERNEL)?;
            }
        }
        st.taken_order = upto;
        Ok(Some((st.logged_nr, st.logged_pos)))
    }

    /// For the writeback: the disk refused `entries` (they stay buffered) or took them
    /// again (`failing` false). After a refusal the next [`take_logged`] takes every
    /// logged write still buffered, the refused ones with the newer.
    ///
    /// [`take_logged`]: WriteBuffer::take_logged
    pub(crate) fn refused(&self, failing: bool) {
        let mut st = self.state.lock();
        st.failing = failing;
        if failing {
            st.taken_order = 0;
        }
        drop(st);
        // Writers waiting for room fail now rather than wait for a disk that refuses.
        self.room.notify_all();
    }

    fn has_logged(st: &State) -> bool {
        st.logged_order > st.taken_order
    }

    /// For the writeback: `entries` are on the disk; they leave the buffer (and
    /// `entries`), and are kept for reuse unless a reader still holds one.
    pub(crate) fn written(&self, entries: KVec<Arc<Pending>>) {
        let mut st = self.state.lock();
        let mut freed = 0;
        for e in entries {
            if let Some(node) = st.index.remove_node(&(e.pos, e.order)) {
                freed += e.data.len();
                // Dropped if the ring is full.
                let _ = st.spare_nodes.push(node.into_reservation());
            }
            if let Some(spare) = Arc::into_unique_or_drop(e) {
                let cap = spare.data.capacity();
                if !st.spare.is_full() && st.spare_bytes + cap <= SPARE_BYTES {
                    st.spare_bytes += cap;
                    let _ = st.spare.push(spare);
                }
            }
        }
        st.bytes -= freed;
        if st.bytes == 0 {
            st.longest = 0;
        }
        MEM_USED.fetch_sub(freed, Ordering::Relaxed);
        drop(st);
        self.room.notify_all();
    }

    /// From now on new requests fail; the logger and the writeback finish what is
    /// buffered. Wakes everybody waiting.
    pub(crate) fn stop(&self) {
        self.state.lock().stopping = true;
        self.room.notify_all();
        self.queued.notify_all();
        self.logged.notify_all();
    }

    /// Nothing is queued for the logger.
    pub(crate) fn queue_is_empty(&self) -> bool {
        self.state.lock().queue.is_empty()
    }

    /// Payload bytes buffered.
    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Nothing is buffered any more.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes() == 0
    }
}
