// SPDX-License-Identifier: GPL-2.0

//! The full-sync server on port base + 2 (design reference §6, docu/replication.md):
//! it serves the disk of a resource this host is primary of to a syncing member (the
//! client, `secondary::sync`): MD5 digests of its blocks, the blocks themselves, and
//! the log position at the start and at the end. It serves only once its writeback has
//! passed the syncing host's replay start: every write before that is then on the disk
//! being copied, and every later one is replayed.

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use crate::kapi::compat::prelude::*;
use kernel::sync::Arc;

use crate::context::Context;
use crate::kapi::bdev::BlockDevice;
use crate::kapi::net::{protocol_error, Socket};
use crate::mars_core::replication::{sync_serving, SyncServing};
use crate::mars_core::tree::{LogName, ReplayLink, RESOURCE_PREFIX, VERSION_PREFIX};
use crate::mars_core::wire::{Message, MAX_SYNC_READ, SYNC_BLOCK, SYNC_DIGEST_LEN, SYNC_OFF_HISTORY};
use crate::net::conn::{owned, text, Conn, Listener};
use crate::tree::{path, Tree, ROOT};
use crate::net::served::{Primaries, Serving};
use crate::tunables::Traffic;

/// Bytes of disk one `SyncSums` request covers.
pub(crate) const SPAN: u32 = 16 << 20;
/// Frame payload room: a block read plus the message's fields.
pub(crate) const MAX_PAYLOAD: usize = MAX_SYNC_READ as usize + 64;

/// Refusal while the primary's logging has ceased (emergency mode).
const CEASED: &str = "the primary ceased transaction logging (emergency mode); the sync waits until it resumes";

/// Starts the sync listener (base port + 2).
pub(crate) fn start_server(ctx: Arc<Context>, primaries: Arc<Primaries>, at: [u8; 4]) -> Result<Listener> {
    Listener::start(Serving::new(ctx, primaries)?, Traffic::Sync, kernel::c_str!("mars_listen_sync"), at, serve)
}

/// Reads `buf.len()` bytes of `disk` at `pos`.
pub(crate) fn read_disk(disk: &BlockDevice, pos: u64, buf: &mut [u8]) -> Result {
    disk.io(|batch| batch.read(pos, buf))
}

/// The MD5 digests of the blocks of `data`, one after the other into `out`; returns
/// the bytes written.
pub(crate) fn block_digests(ctx: &Context, data: &[u8], out: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    for block in data.chunks(SYNC_BLOCK as usize) {
        out.get_mut(n..n + SYNC_DIGEST_LEN).ok_or(EINVAL)?.copy_from_slice(&ctx.digests.md5(block)?);
        n += SYNC_DIGEST_LEN;
    }
    Ok(n)
}

fn log_name<'a>(log: LogName<'_>, buf: &'a mut [u8; 80]) -> Result<&'a str> {
    crate::mars_core::text::format_into(buf, format_args!("{}", log)).ok_or(EINVAL)
}

/// What a syncing host asks for.
enum Request {
    Sums { offset: u64, len: u32 },
    Read { offset: u64, len: u32 },
    End,
}

fn serve(s: &Serving, sock: Socket) -> Result {
    let mut conn = Conn::accept_member(&s.ctx, sock, Traffic::Sync, MAX_PAYLOAD)?;
    let (res, from_log, from_pos) = match conn.recv()? {
        Message::SyncStart { res, from_log, from_pos } => {
            LogName::parse(from_log).map_err(|_| EINVAL)?;
            (owned(res)?, owned(from_log)?, from_pos)
        }
        _ => return Err(protocol_error()),
    };
    let from = LogName::parse(text(&from_log)?).map_err(|_| EINVAL)?;
    let Some(served) = s.primaries.get(&res) else {
        conn.refuse(2, "this host is not the primary of that resource");
        return Err(ENOENT);
    };
    if served.log.ceased() {
        conn.refuse(12, CEASED);
        return Err(EAGAIN);
    }
    let mut name = [0u8; 80];
    let log = served.log.get();
    let me = text(&log.me)?;
    let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, text(&res)?))?;
    let version = Tree { clock: &s.ctx.clock }.read(&path(fmt!("{}/{}{:09}-{}", &*dir, VERSION_PREFIX, from.nr, me))?)?;
    let start = ReplayLink { log: from, start: from_pos, len: 0 };
    match sync_serving(&start, LogName { nr: log.nr, host: me }, served.log.written_back(), version.as_deref().and_then(|v| text(v).ok())) {
        SyncServing::Serve => {}
        SyncServing::NotYet => {
            conn.refuse(11, "the primary's writeback has not reached the syncing host's replay start yet");
            return Err(EAGAIN);
        }
        SyncServing::Never => {
            conn.refuse(SYNC_OFF_HISTORY, "the syncing host's replay start is not on this primary's history (a forced failover since its invalidation): invalidate it again");
            return Err(EAGAIN);
        }
    }
    // Where this host's flushed writeback is (its replay link): every write before it is
    // on the disk the sync reads, so the syncing host's replay may go on from there
    // once its sync is complete (`replication::replay_after_sync`).
    let tree = Tree { clock: &s.ctx.clock };
    let at = tree.replay_link(&dir, me)?;
    let Some(at) = at.as_deref().and_then(|v| ReplayLink::parse(text(v).ok()?).ok()) else {
        conn.refuse(11, "the primary's replay link is not written yet");
        return Err(EAGAIN);
    };
    conn.send(&Message::SyncPos { log: log_name(at.log, &mut name)?, pos: at.start })?;
    // The disk is held only while a request is served (below), never while waiting for
    // the next one: a detach must find it free once its requests are done.
    let current = served.log.clone();
    drop(served);
    let mut data = KVVec::from_elem(0u8, MAX_SYNC_READ as usize, GFP_KERNEL)?;
    let mut sums = KVec::from_elem(0u8, (SPAN / SYNC_BLOCK) as usize * SYNC_DIGEST_LEN, GFP_KERNEL)?;
    loop {
        let request = match conn.recv()? {
            Message::SyncSums { offset, len } if len <= SPAN => Request::Sums { offset, len },
            Message::SyncRead { offset, len } => Request::Read { offset, len },
            Message::SyncEnd => Request::End,
            _ => return Err(protocol_error()),
        };
        // Still the primary of the resource, in the same term (detached, or primary
        // again since, the sync starts over).
        let served = match s.primaries.get(&res) {
            Some(s) if Arc::ptr_eq(&s.log, &current) => s,
            _ => {
                conn.refuse(2, "this host is no longer the primary of that resource");
                return Err(ENOENT);
            }
        };
        // Writes that bypass the log would never reach the copy: nothing is served
        // once logging has ceased (the sync retries, and a copy that spans the hole
        // never becomes consistent, since replay cannot cross it).
        if served.log.ceased() {
            conn.refuse(12, CEASED);
            return Err(EAGAIN);
        }
        match request {
            Request::Sums { offset, len } | Request::Read { offset, len }
                if offset.checked_add(u64::from(len)).is_none_or(|end| end > served.size) =>
            {
                conn.refuse(3, "range beyond the end of the resource");
                return Err(EINVAL);
            }
            Request::Sums { offset, len } => {
                // No overflow: checked above.
                let (mut at, end, mut n) = (offset, offset.saturating_add(u64::from(len)), 0);
                while at < end {
                    let chunk = (end - at).min(u64::from(MAX_SYNC_READ)) as usize;
                    read_disk(&served.disk, at, &mut data[..chunk])?;
                    n += block_digests(&s.ctx, &data[..chunk], &mut sums[n..])?;
                    at += chunk as u64;
                }
                conn.send(&Message::Sums { offset, sums: &sums[..n] })?;
            }
            Request::Read { offset, len } => {
                read_disk(&served.disk, offset, &mut data[..len as usize])?;
                conn.send(&Message::SyncData { offset, data: &data[..len as usize] })?;
            }
            Request::End => {
                // Everything read so far was written back, so it was logged before this
                // (in this logfile or an earlier one).
                let log = served.log.get();
                let me = text(&log.me)?;
                conn.send(&Message::SyncPos { log: log_name(LogName { nr: log.nr, host: me }, &mut name)?, pos: log.appended() })?;
                return Ok(());
            }
        }
    }
}
