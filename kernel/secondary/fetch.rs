// SPDX-License-Identifier: GPL-2.0

//! Logfile fetch, the client (design reference §1.6, docu/wire-protocol.md; the server
//! is `net::fetch_server`): a secondary's `mars_fetch` thread copies the logfiles of its source (the
//! designated primary, or the old one during a handover, `mars_core::handover`), from
//! the one its `replay-<me>` names up to the primary's current one, appending from the
//! local size: an interrupted fetch resumes where it stopped, and a logfile is complete
//! once the primary has moved on to the next and the sizes are equal.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

use crate::net::conn::{owned, peer_warn, text, Conn};
use crate::net::fetch_server::{CHUNK, MAX_PAYLOAD};
use crate::mars_core::text::escaped;
use crate::kapi::file::{File, OpenFlags};
use crate::kapi::vfs;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::protocol_error;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::mars_core::backoff::Backoff;
use crate::secondary::progress::RateMeter;
use crate::mars_core::replication::{check_copy, fetch_name, CopyCheck, COPY_HEAD};
use crate::mars_core::tree::{LogName, ReplayLink, VersionLink, REPLAY_PREFIX, RESOURCE_PREFIX, VERSION_PREFIX};
use crate::mars_core::wire::{Message, NO_SUCH_LOGFILE};
use crate::context::Context;
use crate::tree::{host_name, path, Logfile, Tree, ROOT};
use crate::tunables::{Traffic, FETCH_LIMIT_KB};

/// Requests a client keeps in flight on its connection (the server answers them in
/// order; pipelining hides the round trip).
const DEPTH: usize = 4;
/// Bytes one fetch round takes at most before the links are read again.
const ROUND_BYTES: u64 = 32 << 20;
/// How often a caught-up secondary asks for more when the server did not wait for the
/// log to grow (the fallback to the long poll).
const POLL_MS: u32 = 100;
/// An empty reply this late (ns after the request) was a long poll: ask again at once.
const LONG_POLLED_NS: u64 = 200_000_000;
/// A client connection unused for this long is replaced (the server closes a
/// connection silent for the socket timeout, 10 s by default).
const IDLE_NS: u64 = 5_000_000_000;
/// A client connection is replaced after this long in any case: both peers then prove
/// again that they hold a cluster key, so a key retired by `rotate-secret --finish`, or
/// removed, stops the fetching within a few seconds (docu/security.md).
const SESSION_NS: u64 = 5_000_000_000;

/// What the fetch and the replay thread of a resource tell each other: where replay
/// found the local copy of a logfile damaged (the fetch thread cuts the copy there and
/// fetches the rest again, design reference §1.6, "self-repair"), that new data has
/// arrived (replay need not wait for its next look), which copies the fetch confirmed
/// to be its source's logfiles (`replication::check_copy`; replay enters no other), and
/// that it cut a copy (what replay synced of it is gone).
#[pin_data]
pub(crate) struct Repair {
    #[pin]
    at: Mutex<Option<(u32, u64)>>,
    /// Counts the fetches that appended data.
    #[pin]
    arrivals: Mutex<u64>,
    #[pin]
    arrived: CondVar,
    /// Copies confirmed since the fetch started: numbers and writers.
    #[pin]
    confirmed: Mutex<KVec<(u32, KVec<u8>)>>,
    /// Counts the cuts of copies.
    cuts: AtomicU64,
    /// How far replay has applied logfile `.0` (the one its link names), flushed or
    /// not; held while replay applies and while the fetch decides on cutting a copy, so
    /// that no cut takes back what is on the disk already ([`Repair::apply`],
    /// [`Repair::judge`]).
    #[pin]
    applied: Mutex<Option<(u32, u64)>>,
}

impl Repair {
    pub(crate) fn new() -> Result<Arc<Repair>> {
        Arc::pin_init(
            pin_init!(Repair {
                at <- new_mutex!(None, "mars_repair"),
                arrivals <- new_mutex!(0, "mars_arrivals"),
                arrived <- new_condvar!("mars_arrived"),
                confirmed <- new_mutex!(KVec::new(), "mars_confirmed"),
                cuts: AtomicU64::new(0),
                applied <- new_mutex!(None, "mars_applied"),
            }),
            GFP_KERNEL,
        )
    }

    /// Asks for logfile `nr` to be fetched again from byte `at`.
    pub(crate) fn request(&self, nr: u32, at: u64) {
        *self.at.lock() = Some((nr, at));
    }

    /// Whether a repair of logfile `nr` is asked for.
    fn wanted_for(&self, nr: u32) -> bool {
        matches!(*self.at.lock(), Some((n, _)) if n == nr)
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

    /// Whether the fetch confirmed the copy of `name` to be its source's logfile.
    pub(crate) fn is_confirmed(&self, name: LogName<'_>) -> bool {
        self.confirmed.lock().iter().any(|(nr, host)| *nr == name.nr && host.as_slice() == name.host.as_bytes())
    }

    /// The copy of `name` is its source's logfile; confirmations of logfiles before
    /// `from` (behind replay) are dropped.
    fn confirm(&self, name: LogName<'_>, from: u32) -> Result {
        let mut host = KVec::new();
        host.extend_from_slice(name.host.as_bytes(), GFP_KERNEL)?;
        let mut confirmed = self.confirmed.lock();
        // (The oldest kernels' KVec has no `retain`.)
        for (nr, host) in core::mem::take(&mut *confirmed) {
            if nr >= from {
                confirmed.push((nr, host), GFP_KERNEL)?;
            }
        }
        confirmed.push((name.nr, host), GFP_KERNEL)?;
        Ok(())
    }

    /// How many copies were cut so far.
    pub(crate) fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Acquire)
    }

    /// Cuts `copy` to `len` bytes.
    fn cut(&self, copy: &File, len: u64) -> Result {
        copy.truncate(len)?;
        self.cuts.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Replay applies records of logfile `nr` (its link's): `apply` returns what it
    /// returns and how far it applied. No cut of the fetch comes between, and the fetch
    /// learns how far that is (after an error: anywhere, so nothing is cut).
    pub(crate) fn apply<T>(&self, nr: u32, apply: impl FnOnce() -> Result<(T, u64)>) -> Result<T> {
        let mut applied = self.applied.lock();
        let before = match *applied {
            Some((n, end)) if n == nr => end,
            _ => 0,
        };
        let result = apply();
        let end = result.as_ref().map_or(u64::MAX, |(_, end)| *end);
        *applied = Some((nr, before.max(end)));
        result.map(|(t, _)| t)
    }

    /// Judges the copy of logfile `nr` (`check`, given how far replay applied it: at
    /// least `replayed`, the position of the replay link if it names the copy) with
    /// replay's applies held off, and cuts it to 0 where that says `Refetch`. Returns
    /// the verdict and the applied position it was made with.
    fn judge(&self, copy: &File, nr: u32, replayed: Option<u64>, check: impl FnOnce(u64) -> CopyCheck) -> Result<(CopyCheck, u64)> {
        let applied = self.applied.lock();
        let replayed = match (replayed, *applied) {
            (Some(link), Some((n, end))) if n == nr => link.max(end),
            (Some(link), _) => link,
            (None, _) => 0,
        };
        let verdict = check(replayed);
        if verdict == CopyCheck::Refetch {
            self.cut(copy, 0)?;
        }
        drop(applied);
        Ok((verdict, replayed))
    }

    /// Data was appended to a local logfile copy: wakes the replay thread.
    fn arrived(&self) {
        let mut n = self.arrivals.lock();
        *n = n.wrapping_add(1);
        self.arrived.notify_all();
    }

    /// How many appends there were so far (for [`Repair::wait_arrival`]).
    pub(crate) fn arrivals(&self) -> u64 {
        *self.arrivals.lock()
    }

    /// Waits until data arrives after `seen` = [`Repair::arrivals`] was read, for at
    /// most `ms` or until the thread is asked to stop.
    pub(crate) fn wait_arrival(&self, seen: u64, ms: u32) {
        let mut n = self.arrivals.lock();
        if *n == seen {
            let _ = self.arrived.wait_interruptible_timeout(&mut n, msecs_to_jiffies(ms));
        }
    }
}

/// A secondary's fetch thread for one resource; stops when dropped.
pub(crate) struct Fetcher {
    /// The source it fetches from.
    pub(crate) source: KVec<u8>,
    _thread: Thread,
}

/// The fetch thread's connection to its source, kept across rounds.
struct Link {
    conn: Conn,
    /// When it was last used.
    used: u64,
    /// When it was opened (authenticated).
    opened: u64,
}

/// What one fetch round did.
struct Round {
    fetched: u64,
    /// It ended with a request the server held until its long poll ran out.
    long_polled: bool,
}

impl Fetcher {
    pub(crate) fn start(ctx: Arc<Context>, res: &str, source: &str, repair: Arc<Repair>) -> Result<Fetcher> {
        let (res_owned, source_owned) = (owned(res)?, owned(source)?);
        // Copies are confirmed against this source anew.
        *repair.confirmed.lock() = KVec::new();
        let thread = Thread::spawn(kernel::c_str!("mars_fetch"), move || {
            let _noio = NoIoScope::enter();
            let (res, source) = (text(&res_owned).unwrap_or(""), text(&source_owned).unwrap_or(""));
            let mut backoff = Backoff::new();
            let mut rate = RateMeter::new("fetch-rate");
            let mut link = None;
            while !thread::should_stop() {
                let round = fetch_round(&ctx, res, source, &repair, &mut rate, &mut link);
                rate.tick(&Tree { clock: &ctx.clock }, res);
                let pause = match round {
                    Ok(round) => {
                        if backoff.succeeded() {
                            pr_info!("resource {}: fetching from {} again\n", res, source);
                        }
                        // Caught up: the server's long poll told us when to ask again;
                        // without one, look again soon (this bounds the replication lag).
                        if round.fetched > 0 || round.long_polled { 0 } else { POLL_MS }
                    }
                    Err(e) => {
                        link = None;
                        if backoff.failed() {
                            pr_warn!("resource {}: fetch from {} failed ({:?}); retrying with backoff\n", res, source, e);
                        }
                        backoff.delay_ms(1000, 10_000)
                    }
                };
                if pause > 0 {
                    thread::sleep_ms(pause);
                }
            }
        })?;
        Ok(Fetcher { source: owned(source)?, _thread: thread })
    }
}

/// A request in flight.
#[derive(Clone, Copy, Default)]
struct Asked {
    offset: u64,
    len: u32,
    sent: u64,
}

/// The requests in flight on a connection, oldest first.
#[derive(Default)]
struct Flight {
    asked: [Asked; DEPTH],
    first: usize,
    len: usize,
}

impl Flight {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, a: Asked) {
        if self.len < DEPTH {
            self.asked[(self.first + self.len) % DEPTH] = a;
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<Asked> {
        (self.len > 0).then(|| {
            let a = self.asked[self.first];
            self.first = (self.first + 1) % DEPTH;
            self.len -= 1;
            a
        })
    }
}

/// Fetches what is missing of `source`'s logfiles (`mars_core::handover::fetch_source`:
/// the designated primary, or the old one during a handover), from the one `replay-<me>`
/// names to the one `replay-<source>` names, at most [`ROUND_BYTES`] (then the links are
/// read again); returns the bytes fetched. Logfiles in between are named by `source`'s
/// version links, so logfiles of any origin (after handovers) are fetched; this host's
/// own logfiles never are. `link` is the connection, made here when there is none (or
/// it was idle too long), kept for the next round.
fn fetch_round(ctx: &Context, res: &str, source: &str, repair: &Repair, rate: &mut RateMeter, link: &mut Option<Link>) -> Result<Round> {
    let tree = Tree { clock: &ctx.clock };
    let mut round = Round { fetched: 0, long_polled: false };
    let me = host_name()?;
    let me = text(&me)?;
    let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
    let read = |p: CString| -> Result<Option<KVec<u8>>> { tree.read(&p) };
    let Some(theirs) = read(path(fmt!("{}/{}{}", &*dir, REPLAY_PREFIX, source))?)? else { return Ok(round) };
    let Some(mine) = read(path(fmt!("{}/{}{}", &*dir, REPLAY_PREFIX, me))?)? else { return Ok(round) };
    let theirs = ReplayLink::parse(text(&theirs)?).map_err(|_| EINVAL)?;
    let mine = ReplayLink::parse(text(&mine)?).map_err(|_| EINVAL)?;
    if mine.log.nr > theirs.log.nr {
        return Ok(round);
    }
    let now = real_ns();
    if link.as_ref().is_some_and(|l| now.saturating_sub(l.used) >= IDLE_NS || now.saturating_sub(l.opened) >= SESSION_NS) {
        *link = None;
    }
    if link.is_none() {
        let Some(conn) = Conn::connect_member(ctx, source, Traffic::Replication, MAX_PAYLOAD)? else { return Ok(round) };
        *link = Some(Link { conn, used: now, opened: now });
    }
    let Some(Link { conn, used, .. }) = link.as_mut() else { return Err(EINVAL) };
    let started = real_ns();
    // The resource directory, listed once a round where needed.
    let mut listed = None;
    for nr in mine.log.nr..=theirs.log.nr {
        let version = read(path(fmt!("{}/{}{:09}-{}", &*dir, VERSION_PREFIX, nr, source))?)?;
        let named = version.as_deref().and_then(|v| VersionLink::parse(text(v).ok()?).ok()).map(|v| v.log);
        let name = match fetch_name(nr, mine.log, theirs.log, named) {
            Some(name) => name,
            None => {
                // Not known which logfile `source` has with this number (not yet, or
                // never: a source that was synced past it). The one copy of that
                // number here, not yet confirmed, is compared with the source's file
                // of that name (which may be missing there: then it stands as it is).
                if listed.is_none() {
                    listed = Some(vfs::list_dir(&dir)?);
                }
                match listed.as_deref().and_then(|names| only_copy(names, nr, me)) {
                    Some(copy) if !repair.is_confirmed(copy) => copy,
                    _ => return Ok(round),
                }
            }
        };
        if name.host == me {
            continue;
        }
        let rel = CString::try_from_fmt(fmt!("{}{}/{}", RESOURCE_PREFIX, res, name))?;
        let rel = rel.to_str().map_err(|_| EINVAL)?;
        // Replies go in by direct I/O from the connection's buffer where they can (no
        // copy into the page cache): aligned data at an aligned offset, as the records
        // of format version 2 are; anything else through the page cache.
        let copy = match Logfile::open(&dir, name, OpenFlags::READ_WRITE.create(), 0o600) {
            Ok(f) => f,
            Err(e) if vfs::is_symlink_refusal(e) || e == EINVAL || e == ENOTDIR => {
                // Rate-limited like the lines a peer triggers: the name came from it.
                peer_warn!(source.as_bytes(), "resource {}: {} here is not a regular file; not fetching into it\n", res, name);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let file = copy.file();
        if !repair.is_confirmed(name) {
            let replayed = (name == mine.log).then_some(mine.start);
            let there = check_head(conn, &copy, rel, res, source, name, replayed, repair)?;
            // Missing at the source: the copy stands as it is if the source's history
            // is past that number (it never writes it again); its current one it may
            // not have yet.
            if there || nr < theirs.log.nr {
                repair.confirm(name, mine.log.nr)?;
            }
            if !there {
                continue;
            }
        }
        // Requests in flight, oldest first; `asked` is where the next one starts, and
        // `served` how much of the logfile the server had when it last answered: more
        // requests are sent only below that, so each is answered in full (its start is
        // never beyond the end) and the replies are contiguous.
        let mut flight = Flight::default();
        let mut offset = file.size();
        let (mut asked, mut served) = (offset, offset);
        loop {
            if flight.is_empty() {
                if let Some(at) = repair.take_for(nr) {
                    // Replay found damage here: fetch the rest again.
                    pr_warn!("resource {}: {} is damaged at {}; fetching it again from there\n", res, name, at);
                    repair.cut(file, at)?;
                }
                if round.fetched >= ROUND_BYTES {
                    return Ok(round);
                }
                offset = file.size();
                asked = offset;
                served = served.max(offset);
            }
            let limit = u64::from(FETCH_LIMIT_KB.load(Ordering::Relaxed).max(0) as u32) * 1024;
            // Under a rate limit, one request at a time, of a quarter second's worth,
            // keeps the pace smooth.
            // (Whole pages: replies of aligned records stay aligned, see `kapi::file::direct_aligned`.)
            let (depth, max_len) = if limit == 0 { (DEPTH, CHUNK) } else { (1, (limit / 4).clamp(4096, u64::from(CHUNK)) as u32 & !4095) };
            let hold = round.fetched >= ROUND_BYTES || repair.wanted_for(nr);
            while flight.len < depth && (flight.is_empty() || (asked < served && !hold)) {
                conn.send(&Message::FetchLog { path: rel, offset: asked, max_len })?;
                flight.push(Asked { offset: asked, len: max_len, sent: real_ns() });
                asked = asked.saturating_add(u64::from(max_len));
            }
            let first = flight.pop().ok_or(EINVAL)?;
            let reply = conn.recv()?;
            *used = real_ns();
            match reply {
                Message::LogData { offset: at, file_size, data } if at == offset && at == first.offset && data.len() <= first.len as usize => {
                    served = served.max(file_size);
                    if data.is_empty() {
                        // At the end of what the server has: nothing else is in flight.
                        round.long_polled = real_ns().saturating_sub(first.sent) >= LONG_POLLED_NS;
                        if !flight.is_empty() {
                            return Err(protocol_error());
                        }
                        break;
                    }
                    copy.write_all_at(data, offset)?;
                    offset += data.len() as u64;
                    round.fetched += data.len() as u64;
                    repair.arrived();
                    rate.add(data.len() as u64);
                    rate.tick(&tree, res);
                    // Under a limit: sleep until the bytes so far fit it.
                    if let Some(pace) = round.fetched.saturating_mul(1_000_000_000).checked_div(limit) {
                        let due = started.saturating_add(pace);
                        let now = real_ns();
                        if due > now {
                            thread::sleep_ms(((due - now) / 1_000_000).min(10_000) as u32);
                        }
                    }
                }
                Message::Error { code: NO_SUCH_LOGFILE, .. } => {
                    // Not at the source: the copy here stands as it is. The requests
                    // still in flight are answered alike.
                    while flight.pop().is_some() {
                        if !matches!(conn.recv()?, Message::Error { code: NO_SUCH_LOGFILE, .. } | Message::LogData { .. }) {
                            return Err(protocol_error());
                        }
                    }
                    break;
                }
                Message::Error { message, .. } => {
                    peer_warn!(source, "fetch of {} from {}: {}\n", rel, source, escaped(message));
                    return Err(EIO);
                }
                _ => return Err(protocol_error()),
            }
        }
    }
    Ok(round)
}

/// The one logfile numbered `nr` among `names` (a resource directory's) that another
/// host than `me` wrote, if there is exactly one.
fn only_copy<'a>(names: &'a [CString], nr: u32, me: &str) -> Option<LogName<'a>> {
    let mut found = None;
    for name in names {
        let Ok(log) = LogName::parse(name.to_str().unwrap_or("")) else { continue };
        if log.nr == nr && log.host != me {
            if found.is_some() {
                return None;
            }
            found = Some(log);
        }
    }
    found
}

/// Compares the head of the local copy of logfile `name` with its source's before the
/// fetch appends to it (`replication::check_copy`): a copy of another logfile of that
/// name (of a discarded history) is cut and fetched anew; into one that replay applied
/// some of (as far as its link says, `replayed` where it names the copy, or beyond,
/// unflushed: `Repair::judge`), nothing more is fetched. False if the source has no
/// such logfile, or only an empty file of another host's.
#[allow(clippy::too_many_arguments)]
fn check_head(conn: &mut Conn, copy: &Logfile, rel: &str, res: &str, source: &str, name: LogName<'_>, replayed: Option<u64>, repair: &Repair) -> Result<bool> {
    let size = copy.file().size();
    if size == 0 {
        return Ok(true);
    }
    let mut ours = KVec::from_elem(0u8, COPY_HEAD, GFP_KERNEL)?;
    let n = copy.read_full_at(&mut ours[..(size.min(COPY_HEAD as u64) as usize)], 0)?;
    conn.send(&Message::FetchLog { path: rel, offset: 0, max_len: COPY_HEAD as u32 })?;
    let (check, replayed) = match conn.recv()? {
        Message::LogData { offset: 0, data, .. } if data.len() <= COPY_HEAD => {
            repair.judge(copy.file(), name.nr, replayed, |replayed| check_copy(&ours[..n], data, replayed, name.host == source))?
        }
        Message::Error { code: NO_SUCH_LOGFILE, .. } => return Ok(false),
        Message::Error { message, .. } => {
            peer_warn!(source, "fetch of {} from {}: {}\n", rel, source, escaped(message));
            return Err(EIO);
        }
        _ => return Err(protocol_error()),
    };
    match check {
        CopyCheck::Same => Ok(true),
        // An empty file of another host's logfile there: as if missing.
        CopyCheck::NotThere => Ok(false),
        CopyCheck::Refetch => {
            pr_warn!("resource {}: the copy of {} here is another logfile than {}'s of that name (of a discarded history); fetching it anew\n", res, name, source);
            Ok(true)
        }
        CopyCheck::Diverged => {
            peer_warn!(source, "resource {}: the copy of {} here, replayed to {}, is another logfile than {}'s of that name: this host's history went another way (split brain); not fetching it\n", res, name, replayed, source);
            Err(EIO)
        }
    }
}
