// SPDX-License-Identifier: GPL-2.0

//! The logfile fetch server on port base + 1 (design reference §1.6,
//! docu/wire-protocol.md): members may read logfiles (`resource-<res>/log-<nr>-<host>`)
//! in chunks; a primary's current logfile only as far as it is durable. The client is
//! a secondary's `mars_fetch` thread (`secondary::fetch`).

use core::sync::atomic::Ordering;

use kernel::alloc::KVec;
use crate::kapi::compat::prelude::*;
use kernel::sync::Arc;

use crate::context::Context;
use crate::kapi::file::OpenFlags;
use crate::kapi::net::{protocol_error, Socket};
use crate::kapi::vfs;
use crate::mars_core::tree::{parse_log_path, LogName, RESOURCE_PREFIX};
use crate::mars_core::wire::{Message, NO_SUCH_LOGFILE};
use crate::net::conn::{owned, text, Conn, Listener};
use crate::net::served::{Primaries, Serving};
use crate::primary::log::Log;
use crate::tree::{path, Logfile, ROOT};
use crate::tunables::Traffic;

/// Bytes of a logfile per request at most.
pub(crate) const CHUNK: u32 = 1 << 20;
/// Frame payload room: a chunk plus the message's fields.
pub(crate) const MAX_PAYLOAD: usize = CHUNK as usize + 64;
/// How long the server holds a request at the durable end of a primary's current
/// logfile until the log grows (the long poll; at most half the socket timeout).
const LONG_POLL_MS: u32 = 1000;

/// Starts the fetch listener (base port + 1).
pub(crate) fn start_server(ctx: Arc<Context>, primaries: Arc<Primaries>, at: [u8; 4]) -> Result<Listener> {
    Listener::start(Serving::new(ctx, primaries)?, Traffic::Replication, kernel::c_str!("mars_listen_fetch"), at, serve)
}

/// Serves the requests of one connection in order. The logfile of the last request stays
/// open (reopened when a request names another one). A request at the durable end of
/// the primary's current logfile waits up to [`LONG_POLL_MS`] for the log to grow.
fn serve(s: &Serving, sock: Socket) -> Result {
    let mut conn = Conn::accept_member(&s.ctx, sock, Traffic::Replication, MAX_PAYLOAD)?;
    let mut open: Option<(KVec<u8>, Logfile)> = None;
    loop {
        let (p, offset, max_len) = match conn.recv()? {
            Message::FetchLog { path: p, offset, max_len } => (owned(p)?, offset, max_len),
            _ => return Err(protocol_error()),
        };
        let p = text(&p)?;
        let Some((res, name)) = parse_log_path(p) else {
            conn.refuse(2, "not a logfile");
            return Err(EPERM);
        };
        if !open.as_ref().is_some_and(|(n, _)| n.as_slice() == p.as_bytes()) {
            let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
            let log = match Logfile::open(&dir, name, OpenFlags::READ, 0) {
                Ok(f) => f,
                // A symlink or anything but a regular file in the resource directory.
                Err(e) if vfs::is_symlink_refusal(e) || e == EINVAL || e == ENOTDIR => {
                    conn.refuse(4, "not a regular file");
                    return Err(e);
                }
                // Not here (never fetched, or deleted): said, and the connection goes on.
                Err(e) if e == ENOENT => {
                    conn.send(&Message::Error { code: NO_SUCH_LOGFILE, message: "no such logfile" })?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            open = Some((owned(p)?, log));
        }
        let Some((_, log)) = &open else { return Err(EINVAL) };
        let file = log.file();
        // A primary's current logfile is served only as far as it is durable, so nothing
        // a secondary has can be lost by a crash of the primary (its recovery would cut
        // it, and the histories would differ); everything else wholly.
        let current = current_log(&s.primaries, res, name);
        let durable_end = || current.as_ref().map_or(u64::MAX, |log| log.durable());
        let mut size = file.size().min(durable_end());
        if offset == size {
            if let Some(current) = &current {
                let socket_s = Traffic::Replication.tuning().tcp_timeout.load(Ordering::Relaxed).max(1) as u32;
                current.wait_durable_beyond(offset, LONG_POLL_MS.min(socket_s.saturating_mul(500)));
                size = file.size().min(durable_end());
            }
        }
        if offset > size {
            conn.refuse(3, "offset beyond the end of the logfile");
            return Err(EINVAL);
        }
        let want = (size - offset).min(u64::from(max_len.min(CHUNK))) as usize;
        // Logfile data goes from the disk into the frame (by direct I/O where aligned).
        let read = |buf: &mut [u8]| -> Result<usize> { log.read_full_at(buf.get_mut(..want).ok_or(EINVAL)?, offset) };
        conn.send_log_data(offset, want, read, |got| size.max(offset + got as u64))?;
    }
}

/// The log of logfile `name` of `res` if it is this host's current logfile as primary.
fn current_log(primaries: &Primaries, res: &str, name: LogName<'_>) -> Option<Arc<Log>> {
    let served = primaries.get(res.as_bytes())?;
    let log = served.log.get();
    (log.nr == name.nr && log.me.as_slice() == name.host.as_bytes()).then_some(log)
}
