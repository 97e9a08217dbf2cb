// SPDX-License-Identifier: GPL-2.0

//! Logfile fetch on port base + 1 (design reference §1.6, docu/wire-protocol.md).
//!
//! Server side: members may read logfiles (`resource-<res>/log-<nr>-<host>`) in chunks.
//! Client side: a secondary's `mars_fetch` thread copies the logfiles of its source (the
//! designated primary, or the old one during a handover, `mars_core::handover`), from
//! the one its `replay-<me>` names up to the primary's current one, appending from the
//! local size: an interrupted fetch resumes where it stopped, and a logfile is complete
//! once the primary has moved on to the next and the sizes are equal.

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};
use kernel::{new_mutex, pin_init};

use crate::conn::{peer_warn, text, Conn, Listener};
use crate::mars_core::text::escaped;
use crate::kapi::file::OpenFlags;
use crate::kapi::vfs;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::{protocol_error, Socket};
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::mars_core::backoff::Backoff;
use crate::progress::RateMeter;
use crate::mars_core::tree::{parse_log_path, LogName, ReplayLink, VersionLink, REPLAY_PREFIX, RESOURCE_PREFIX, VERSION_PREFIX};
use crate::mars_core::wire::Message;
use crate::strategy::Main;
use crate::tree::{host_name, open_logfile, path, Tree, ROOT};
use crate::tunables::{Traffic, FETCH_LIMIT_KB};

/// Bytes of a logfile per request.
const CHUNK: u32 = 1 << 20;
/// Chunks one fetch round takes at most.
const ROUND_CHUNKS: u32 = 32;
/// How often a caught-up secondary asks for more.
const POLL_MS: u32 = 100;
/// Frame payload room: a chunk plus the message's fields.
const MAX_PAYLOAD: usize = CHUNK as usize + 64;

fn owned(s: &str) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(s.as_bytes(), GFP_KERNEL)?;
    Ok(v)
}


/// Starts the fetch listener (base port + 1).
pub(crate) fn start_server(main: Arc<Main>, at: [u8; 4]) -> Result<Listener> {
    Listener::start(main, Traffic::Replication, kernel::c_str!("mars_listen_fetch"), at, serve)
}

fn serve(main: &Main, sock: Socket) -> Result {
    let mut conn = Conn::accept_member(main, sock, Traffic::Replication, MAX_PAYLOAD)?;
    let mut data = KVec::from_elem(0u8, CHUNK as usize, GFP_KERNEL)?;
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
        let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
        let file = match open_logfile(&dir, name, OpenFlags::READ, 0) {
            Ok(f) => f,
            // A symlink or anything but a regular file in the resource directory.
            Err(e) if vfs::is_symlink_refusal(e) || e == EINVAL || e == ENOTDIR => {
                conn.refuse(4, "not a regular file");
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let size = file.size().min(durable_end(main, res, name));
        if offset > size {
            conn.refuse(3, "offset beyond the end of the logfile");
            return Err(EINVAL);
        }
        let want = (size - offset).min(u64::from(max_len.min(CHUNK))) as usize;
        let mut got = 0;
        while got < want {
            let n = file.read_at(&mut data[got..want], offset + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        conn.send(&Message::LogData { offset, file_size: size.max(offset + got as u64), data: &data[..got] })?;
    }
}

/// How far logfile `name` of `res` may be served: a primary's current logfile only as
/// far as it is durable, so nothing a secondary has can be lost by a crash of the
/// primary (its recovery would cut it, and the histories would differ); everything else
/// wholly.
fn durable_end(main: &Main, res: &str, name: LogName<'_>) -> u64 {
    let Some(served) = main.served(res.as_bytes()) else { return u64::MAX };
    let log = served.log.get();
    if log.nr == name.nr && log.me.as_slice() == name.host.as_bytes() {
        log.durable.load(Ordering::Acquire)
    } else {
        u64::MAX
    }
}

/// Where replay found the local copy of a logfile damaged: the fetch thread cuts the
/// copy there and fetches the rest again (design reference §1.6, "self-repair").
#[pin_data]
pub(crate) struct Repair {
    #[pin]
    at: Mutex<Option<(u32, u64)>>,
}

impl Repair {
    pub(crate) fn new() -> Result<Arc<Repair>> {
        Arc::pin_init(pin_init!(Repair { at <- new_mutex!(None, "mars_repair") }), GFP_KERNEL)
    }

    /// Asks for logfile `nr` to be fetched again from byte `at`.
    pub(crate) fn request(&self, nr: u32, at: u64) {
        *self.at.lock() = Some((nr, at));
    }

    /// The position to cut logfile `nr` at, if a repair of it was asked for.
    fn take_for(&self, nr: u32) -> Option<u64> {
        let mut at = self.at.lock();
        match *at {
            Some((n, pos)) if n == nr => {
                *at = None;
                Some(pos)
            }
            _ => None,
        }
    }
}

/// A secondary's fetch thread for one resource; stops when dropped.
pub(crate) struct Fetcher {
    /// The source it fetches from.
    pub(crate) source: KVec<u8>,
    _thread: Thread,
}

impl Fetcher {
    pub(crate) fn start(main: Arc<Main>, res: &str, source: &str, repair: Arc<Repair>) -> Result<Fetcher> {
        let (res_owned, source_owned) = (owned(res)?, owned(source)?);
        let thread = Thread::spawn(kernel::c_str!("mars_fetch"), move || {
            let _noio = NoIoScope::enter();
            let (res, source) = (text(&res_owned).unwrap_or(""), text(&source_owned).unwrap_or(""));
            let mut backoff = Backoff::new();
            let mut rate = RateMeter::new("fetch-rate");
            while !thread::should_stop() {
                let round = fetch_round(&main, res, source, &repair, &mut rate);
                rate.tick(&Tree { clock: &main.clock }, res);
                let pause = match round {
                    Ok(fetched) => {
                        if backoff.succeeded() {
                            pr_info!("resource {}: fetching from {} again\n", res, source);
                        }
                        // Caught up: look again soon (this bounds the replication lag).
                        if fetched > 0 { 1 } else { POLL_MS }
                    }
                    Err(e) => {
                        if backoff.failed() {
                            pr_warn!("resource {}: fetch from {} failed ({:?}); retrying with backoff\n", res, source, e);
                        }
                        backoff.delay_ms(1000, 10_000)
                    }
                };
                thread::sleep_ms(pause);
            }
        })?;
        Ok(Fetcher { source: owned(source)?, _thread: thread })
    }
}


/// Fetches what is missing of `source`'s logfiles (`mars_core::handover::fetch_source`:
/// the designated primary, or the old one during a handover), from the one `replay-<me>`
/// names to the one `replay-<source>` names, at most [`ROUND_CHUNKS`] chunks (the server
/// serves one connection at a time: other secondaries get their turn); returns the bytes
/// fetched. Logfiles in between are named by `source`'s version links, so logfiles of
/// any origin (after handovers) are fetched; this host's own logfiles never are.
fn fetch_round(main: &Main, res: &str, source: &str, repair: &Repair, rate: &mut RateMeter) -> Result<u64> {
    let tree = Tree { clock: &main.clock };
    let me = host_name()?;
    let me = text(&me)?;
    let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
    let read = |p: CString| -> Result<Option<KVec<u8>>> { tree.read(&p) };
    let Some(theirs) = read(path(fmt!("{}/{}{}", &*dir, REPLAY_PREFIX, source))?)? else { return Ok(0) };
    let Some(mine) = read(path(fmt!("{}/{}{}", &*dir, REPLAY_PREFIX, me))?)? else { return Ok(0) };
    let theirs = ReplayLink::parse(text(&theirs)?).map_err(|_| EINVAL)?;
    let mine = ReplayLink::parse(text(&mine)?).map_err(|_| EINVAL)?;
    if mine.log.nr > theirs.log.nr {
        return Ok(0);
    }
    let Some(mut conn) = Conn::connect_member(main, source, Traffic::Replication, MAX_PAYLOAD)? else { return Ok(0) };
    let (started, mut fetched) = (real_ns(), 0u64);
    for nr in mine.log.nr..=theirs.log.nr {
        let version = read(path(fmt!("{}/{}{:09}-{}", &*dir, VERSION_PREFIX, nr, source))?)?;
        let named = version.as_deref().and_then(|v| VersionLink::parse(text(v).ok()?).ok()).map(|v| v.log);
        let Some(name) = (if nr == theirs.log.nr { Some(theirs.log) } else { named.or((nr == mine.log.nr).then_some(mine.log)) }) else {
            // Not known yet which logfile `source` has with this number.
            return Ok(fetched);
        };
        if name.host == me {
            continue;
        }
        let rel = CString::try_from_fmt(fmt!("{}{}/{}", RESOURCE_PREFIX, res, name))?;
        let file = match open_logfile(&dir, name, OpenFlags::READ_WRITE.create(), 0o600) {
            Ok(f) => f,
            Err(e) if vfs::is_symlink_refusal(e) || e == EINVAL || e == ENOTDIR => {
                // Rate-limited like the lines a peer triggers: the name came from it.
                peer_warn!(source.as_bytes(), "resource {}: {} here is not a regular file; not fetching into it\n", res, name);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        loop {
            if fetched >= u64::from(ROUND_CHUNKS) * u64::from(CHUNK) {
                return Ok(fetched);
            }
            if let Some(at) = repair.take_for(nr) {
                // Replay found damage here: fetch the rest again.
                pr_warn!("resource {}: {} is damaged at {}; fetching it again from there\n", res, name, at);
                file.truncate(at)?;
            }
            let offset = file.size();
            let limit = u64::from(FETCH_LIMIT_KB.load(Ordering::Relaxed).max(0) as u32) * 1024;
            // Under a rate limit, chunks of a quarter second's worth keep the pace smooth.
            let max_len = if limit == 0 { CHUNK } else { (limit / 4).clamp(4096, u64::from(CHUNK)) as u32 };
            conn.send(&Message::FetchLog { path: rel.to_str().map_err(|_| EINVAL)?, offset, max_len })?;
            match conn.recv()? {
                Message::LogData { offset: at, data, .. } if at == offset => {
                    if data.is_empty() {
                        break;
                    }
                    file.write_all_vectored_at(&[data], offset)?;
                    fetched += data.len() as u64;
                    rate.add(data.len() as u64);
                    rate.tick(&tree, res);
                    if limit > 0 {
                        // Sleep until the bytes so far fit the limit.
                        let due = started.saturating_add(fetched.saturating_mul(1_000_000_000) / limit);
                        let now = real_ns();
                        if due > now {
                            thread::sleep_ms(((due - now) / 1_000_000).min(10_000) as u32);
                        }
                    }
                }
                Message::Error { message, .. } => {
                    peer_warn!(source, "fetch of {} from {}: {}\n", &*rel, source, escaped(message));
                    return Err(EIO);
                }
                _ => return Err(protocol_error()),
            }
        }
    }
    Ok(fetched)
}
