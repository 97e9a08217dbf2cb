// SPDX-License-Identifier: GPL-2.0

//! Metadata exchange on the base port (design reference §4.5, docu/wire-protocol.md):
//! the server side answers peers' `GetTree` requests with this host's symlinks; the
//! `mars_peers` thread pulls every known peer's tree (`ips/ip-<host>`) and merges it by
//! Lamport time (`mars_core::merge`).
//!
//! Membership: the first message both ways is `Hello` with the cluster uuid. A peer with
//! a different uuid is refused (logged, connection closed); one that has not joined yet
//! (`(any)`) may read but is not registered. A member whose `ips/ip-<host>` is unknown
//! here is registered with the address it connects from — that is how a joining host
//! becomes known to the cluster.
//!
//! Ownership (`mars_core::ownership`, docu/cluster.md): a pull knows which peer it asked
//! (the host of the `ips/ip-<host>` it connected to); a listing whose `Hello` names
//! another host is dropped whole. Each entry is merged only if that peer may set it;
//! refused entries are counted (`/proc/sys/mars/dropped_tree_entries`) and logged,
//! rate-limited per peer (`conn::peer_warn`).

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::CString;
use kernel::sync::Arc;

use crate::kapi::memalloc::NoIoScope;
use crate::net::conn::{peer_warn, Conn, Listener};
use crate::kapi::net::{protocol_error, Endpoint, Socket};
use crate::kapi::thread::{self, Thread};
use crate::kapi::vfs::{self, Expect};
use crate::kapi::time::real_ns;
use crate::mars_core::backoff::Backoff;
use crate::mars_core::text::escaped;
use crate::mars_core::merge::LinkState;
use crate::mars_core::ownership::{classify, decide, refused_path, Refusal, Rule, Verdict};
use crate::mars_core::tree::{concerns_systemd, ANY_CLUSTER, DELETED, IP_PREFIX, RESOURCE_PREFIX, UUID};
use crate::mars_core::wire::{parse_ipv4, Message, HELLO_REGISTER};
use crate::clock::Clock;
use crate::context::Context;
use crate::tunables::{Traffic, DROPPED_TREE_ENTRIES, MERGE_DELAY_MS};
use crate::tree::{address_link, host_name, ips_dir, path, Tree, ROOT};

/// Largest metadata frame payload we accept.
const META_PAYLOAD: usize = 16 << 10;
/// Top-level entries a peer pull asks for.
const PULL_PREFIXES: &str = "uuid|ips|resource-|actual-|userspace";


/// Starts the metadata listener (base port).
pub(crate) fn start_server(ctx: Arc<Context>, at: [u8; 4]) -> Result<Listener> {
    Listener::start(ctx, Traffic::Meta, kernel::c_str!("mars_listen_meta"), at, serve)
}

/// Serves one peer connection.
fn serve(ctx: &Context, sock: Socket) -> Result {
    let peer = sock.peer()?;
    let mut conn = Conn::accept(sock, Traffic::Meta, META_PAYLOAD)?;
    let tree = Tree { clock: &ctx.clock };
    let me = host_name()?;
    let me = core::str::from_utf8(&me).map_err(|_| EINVAL)?;
    let Some(ours) = tree.cluster_uuid()? else { return Err(ENOENT) };
    let ours = core::str::from_utf8(&ours).map_err(|_| EINVAL)?.trim_end();
    let (member, host) = match conn.recv()? {
        Message::Hello { cluster, host, lamport_ns, flags } => {
            ctx.clock.observe(lamport_ns);
            if cluster != ours && cluster != ANY_CLUSTER {
                let [a, b, c, d] = peer.addr;
                peer_warn!(peer.addr, "refusing {} at {}.{}.{}.{}: foreign cluster {} (ours: {})\n", escaped(host), a, b, c, d, escaped(cluster), ours);
                let _ = conn.send(&Message::Error { code: 1, message: "foreign cluster" });
                return Err(EPERM);
            }
            let mut h = KVec::new();
            h.extend_from_slice(host.as_bytes(), GFP_KERNEL)?;
            (cluster == ours && flags & HELLO_REGISTER != 0, h)
        }
        _ => return Err(protocol_error()),
    };
    let host = core::str::from_utf8(&host).map_err(|_| EINVAL)?;
    if member && host != me {
        register(&tree, host, peer)?;
    }
    conn.send(&Message::Hello { cluster: ours, host: me, lamport_ns: ctx.clock.peek(), flags: 0 })?;
    loop {
        let prefixes = match conn.recv() {
            Ok(Message::GetTree { dirs }) => {
                let mut p = KVec::new();
                p.extend_from_slice(dirs.as_bytes(), GFP_KERNEL)?;
                p
            }
            Ok(_) => return Err(protocol_error()),
            Err(e) => return Err(e),
        };
        let prefixes = core::str::from_utf8(&prefixes).map_err(|_| EINVAL)?;
        send_tree(&mut conn, prefixes)?;
        conn.send(&Message::TreeEnd { lamport_ns: ctx.clock.peek() })?;
    }
}

/// Records `ips/ip-<host>` for a member that connected from `from`, unless known (a
/// deleted link counts as unknown: the host has joined again).
fn register(tree: &Tree<'_>, host: &str, from: Endpoint) -> Result {
    let link = address_link(host)?;
    if tree.read(&link)?.is_some() {
        return Ok(());
    }
    let [a, b, c, d] = from.addr;
    pr_info!("cluster member {} registered at {}.{}.{}.{}\n", escaped(host), a, b, c, d);
    tree.write(&ips_dir()?, &CString::try_from_fmt(fmt!("{}{}", IP_PREFIX, host))?.to_str().map_err(|_| EINVAL)?, &CString::try_from_fmt(fmt!("{}.{}.{}.{}", a, b, c, d))?.to_str().map_err(|_| EINVAL)?)
}

/// Sends the symlinks of the top-level entries starting with one of `prefixes` (and of
/// their subdirectories, two levels deep).
fn send_tree(conn: &mut Conn, prefixes: &str) -> Result {
    let root = path(fmt!("{}", ROOT))?;
    for top in vfs::list_dir(&root)?.iter() {
        let top = top.to_str().map_err(|_| EINVAL)?;
        if prefixes.split('|').any(|p| top.starts_with(p)) {
            send_entry(conn, top, 2)?;
        }
    }
    Ok(())
}

fn send_entry(conn: &mut Conn, rel: &str, depth: u32) -> Result {
    let full = path(fmt!("{}/{}", ROOT, rel))?;
    match vfs::read_link(&full) {
        Ok(Some(link)) => {
            let value = core::str::from_utf8(&link.value).map_err(|_| EINVAL)?;
            return conn.send(&Message::TreeEntry { path: rel, value, stamp_ns: link.stamp_ns });
        }
        Ok(None) => return Ok(()),
        // Not a symlink: a directory (listed below) or a regular file (skipped).
        Err(_) => {}
    }
    if depth == 0 {
        return Ok(());
    }
    let Ok(names) = vfs::list_dir(&full) else { return Ok(()) };
    for name in names.iter() {
        let name = name.to_str().map_err(|_| EINVAL)?;
        let sub = CString::try_from_fmt(fmt!("{}/{}", rel, name))?;
        send_entry(conn, sub.to_str().map_err(|_| EINVAL)?, depth - 1)?;
    }
    Ok(())
}

/// Pull interval, and the longest wait for an unreachable peer.
const PULL_MS: u32 = 2000;
const PULL_MAX_MS: u32 = 30_000;
/// One pull (connect to the end of the listing) may take this long and bring this many
/// entries; beyond, it is cut off as failed (the peer backs off): the one thread that
/// pulls every peer's tree goes on to the others. Far above a real listing (tens of
/// entries per resource and member).
const PULL_LIMIT_S: u64 = 20;
const PULL_MAX_ENTRIES: u32 = 1 << 18;

/// Retry state of one peer: its backoff and when it is due next.
struct PeerState {
    host: KVec<u8>,
    backoff: Backoff,
    due_ns: u64,
}

/// The `mars_peers` thread: pulls every peer's tree about every two seconds (an
/// unreachable peer less often, with backoff; its outage is logged once), and at once
/// when asked (`Context::trigger_pull`).
pub(crate) fn start_peers(ctx: Arc<Context>) -> Result<Thread> {
    Thread::spawn(kernel::c_str!("mars_peers"), move || {
        let _noio = NoIoScope::enter();
        let mut peers: KVec<PeerState> = KVec::new();
        let mut asked = false;
        while !thread::should_stop() {
            if let Err(e) = pull_all(&ctx, &mut peers, asked) {
                pr_debug!("peer round failed: {:?}\n", e);
            }
            asked = ctx.wait_pull(PULL_MS);
        }
    })
}

fn peer_state<'a>(peers: &'a mut KVec<PeerState>, host: &str) -> Result<&'a mut PeerState> {
    let i = match peers.iter().position(|p| p.host.as_slice() == host.as_bytes()) {
        Some(i) => i,
        None => {
            let mut h = KVec::new();
            h.extend_from_slice(host.as_bytes(), GFP_KERNEL)?;
            peers.push(PeerState { host: h, backoff: Backoff::new(), due_ns: 0 }, GFP_KERNEL)?;
            peers.len() - 1
        }
    };
    Ok(&mut peers[i])
}

/// Pulls every peer's tree that is due (`asked`: every peer, also one backed off from:
/// `marsadm update-cluster`).
fn pull_all(ctx: &Context, peers: &mut KVec<PeerState>, asked: bool) -> Result {
    let tree = Tree { clock: &ctx.clock };
    let me = host_name()?;
    let me = core::str::from_utf8(&me).map_err(|_| EINVAL)?;
    let ips = ips_dir()?;
    let Ok(names) = vfs::list_dir(&ips) else { return Ok(()) };
    for name in names.iter() {
        let name = name.to_str().map_err(|_| EINVAL)?;
        let Some(host) = name.strip_prefix(IP_PREFIX) else { continue };
        if host == me {
            continue;
        }
        let Some(addr) = tree.read(&path(fmt!("{}/{}", &*ips, name))?)? else { continue };
        let Some(addr) = core::str::from_utf8(&addr).ok().and_then(|a| parse_ipv4(a.trim_end())) else { continue };
        let state = peer_state(peers, host)?;
        let now = real_ns();
        if now < state.due_ns && !asked {
            continue;
        }
        match pull(ctx, &tree, me, host, Endpoint { addr, port: Traffic::Meta.port() }) {
            Ok(()) => {
                if state.backoff.succeeded() {
                    pr_info!("peer {} reachable again\n", host);
                }
            }
            Err(e) => {
                if state.backoff.failed() {
                    pr_warn!("peer {} unreachable ({:?}); retrying with backoff\n", host, e);
                }
            }
        }
        // Due again after the backoff (the thread's own interval is added on top).
        let wait = state.backoff.delay_ms(PULL_MS, PULL_MAX_MS).saturating_sub(PULL_MS);
        state.due_ns = now.saturating_add(u64::from(wait) * 1_000_000);
    }
    Ok(())
}


/// Counts a dropped entry and logs it within the peer's rate limit.
fn dropped(from: &str, what: &str, why: &dyn core::fmt::Display) {
    DROPPED_TREE_ENTRIES.fetch_add(1, Ordering::Relaxed);
    // (Through `format_args!`: the kernel's formatting takes no `dyn core::fmt::Display`.)
    peer_warn!(from.as_bytes(), "dropped \"{}\" from {}: {}\n", escaped(what), from, format_args!("{}", why));
}

/// Counts and logs a listing cut off for `why`: not within the peer's log rate limit
/// (its dropped entries may have used that up), but at most once per pull, which backs
/// off after it.
fn cut_off(from: &str, why: core::fmt::Arguments<'_>) {
    DROPPED_TREE_ENTRIES.fetch_add(1, Ordering::Relaxed);
    pr_warn!("listing from {} cut off: {}; its next pull backs off\n", from, why);
}

/// One pull from peer `from` at `to`: hello, tree listing, merge.
fn pull(ctx: &Context, tree: &Tree<'_>, me: &str, from: &str, to: Endpoint) -> Result {
    let ours = tree.cluster_uuid()?;
    let ours = match &ours {
        Some(v) => core::str::from_utf8(v).map_err(|_| EINVAL)?.trim_end(),
        None => return Ok(()),
    };
    // A member (own address link present) asks to be registered; a leaving host not.
    let flags = if tree.read(&address_link(me)?)?.is_some() { HELLO_REGISTER } else { 0 };
    let deadline = real_ns().saturating_add(PULL_LIMIT_S * 1_000_000_000);
    let Some(mut conn) = Conn::connect(to, Traffic::Meta, META_PAYLOAD)? else { return Ok(()) };
    conn.receive_until(deadline);
    conn.send(&Message::Hello { cluster: ours, host: me, lamport_ns: ctx.clock.peek(), flags })?;
    let theirs = match conn.recv()? {
        Message::Hello { cluster, lamport_ns, host, .. } => {
            if host != from {
                // Not the host whose address we dialled: nothing it says is taken.
                dropped(from, "listing", &fmt!("the peer at {}.{}.{}.{} says it is {}", to.addr[0], to.addr[1], to.addr[2], to.addr[3], escaped(host)));
                return Err(EPERM);
            }
            ctx.clock.observe(lamport_ns);
            let mut v = KVec::new();
            v.extend_from_slice(cluster.as_bytes(), GFP_KERNEL)?;
            v
        }
        Message::Error { message, .. } => {
            let [a, b, c, d] = to.addr;
            peer_warn!(to.addr, "peer refused us: {} (at {}.{}.{}.{})\n", escaped(message), a, b, c, d);
            return Err(EPERM);
        }
        _ => return Err(protocol_error()),
    };
    let theirs = core::str::from_utf8(&theirs).map_err(|_| EINVAL)?;
    if theirs != ours {
        if ours != ANY_CLUSTER || theirs == ANY_CLUSTER {
            let [a, b, c, d] = to.addr;
            peer_warn!(to.addr, "peer at {}.{}.{}.{} is in a foreign cluster {} (ours: {})\n", a, b, c, d, escaped(theirs), ours);
            return Err(EPERM);
        }
        // Joining: adopt the cluster's identity.
        pr_info!("joined cluster {}\n", escaped(theirs));
        tree.write(&path(fmt!("{}", ROOT))?, UUID, theirs)?;
    }
    conn.send(&Message::GetTree { dirs: PULL_PREFIXES })?;
    // A merged role or unit change gives systemd here something to do (docu/systemd.md).
    let mut for_systemd = false;
    let mut entries = 0u32;
    loop {
        let message = match conn.recv() {
            Ok(m) => m,
            Err(e) => {
                if real_ns() >= deadline {
                    cut_off(from, fmt!("not complete within {} s", PULL_LIMIT_S));
                }
                return Err(e);
            }
        };
        match message {
            Message::TreeEntry { .. } if entries >= PULL_MAX_ENTRIES => {
                cut_off(from, fmt!("more than {} entries", PULL_MAX_ENTRIES));
                return Err(E2BIG);
            }
            Message::TreeEntry { path: p, value, stamp_ns } => {
                entries += 1;
                // Only what may be merged moves the clock: a dropped entry changes nothing.
                match merge_one(p, value, stamp_ns, from, me, &ctx.clock) {
                    Ok(merged) => {
                        ctx.clock.observe(stamp_ns);
                        for_systemd |= merged && concerns_systemd_path(p);
                    }
                    Err(Dropped::Rule(r)) => dropped(from, p, &r.describe()),
                    Err(Dropped::Local(e)) => dropped(from, p, &fmt!("not merged here: {:?}", e)),
                }
            }
            Message::TreeEnd { lamport_ns } => {
                ctx.clock.observe(lamport_ns);
                if for_systemd {
                    tree.touch_systemd_trigger();
                }
                return Ok(());
            }
            _ => return Err(protocol_error()),
        }
    }
}

/// Why an entry of a listing was not merged.
enum Dropped {
    /// The ownership rules refuse it.
    Rule(Refusal),
    /// It may be merged, but not into what is here (e.g. a symlink where its directory
    /// should be: `ELOOP`, `ENOTDIR`).
    Local(Error),
}

impl From<Error> for Dropped {
    fn from(e: Error) -> Self {
        Dropped::Local(e)
    }
}

/// `resource-<res>/<name>` where a change of `name` concerns systemd
/// (`mars_core::tree::concerns_systemd`).
fn concerns_systemd_path(rel: &str) -> bool {
    match rel.split_once('/') {
        Some((res, name)) => res.starts_with(RESOURCE_PREFIX) && concerns_systemd(name),
        None => false,
    }
}

/// How often [`merge_one`] decides again when the local link changed under it.
const MERGE_ATTEMPTS: u32 = 3;

/// Applies a remote symlink from peer `from` if it is newer than ours (with its own
/// stamp) and the ownership rules let `from` set it (`mars_core::ownership`; an echo
/// of an older or equal link changes nothing and is no drop, whoever sent it).
/// `Ok(true)`: the local link was replaced by the remote one. A newer copy of one of
/// this host's own links gets this host's link a newer stamp (`Verdict::Reassert`).
fn merge_one(rel: &str, value: &str, stamp_ns: u64, from: &str, me: &str, clock: &Clock) -> core::result::Result<bool, Dropped> {
    // The path's shape first: nothing on disk is touched for a refused name.
    let rule = match classify(rel, me) {
        Ok(rule) => rule,
        Err(r) => return match refused_path(r) {
            Verdict::Drop(r) => Err(Dropped::Rule(r)),
            _ => Ok(false),
        },
    };
    let full = path(fmt!("{}/{}", ROOT, rel))?;
    let (dir_rel, name) = rel.rsplit_once('/').ok_or(EINVAL)?;
    let dir = path(fmt!("{}/{}", ROOT, dir_rel))?;
    // Decided on the local link as read; replaced only if it is still that link (an
    // operator's marsadm may write a newer one meanwhile, which must stay): else read
    // and decided again. A link that keeps changing is left to the next listing.
    for _ in 0..MERGE_ATTEMPTS {
        let local = match vfs::read_link(&full) {
            Ok(l) => l,
            // Something else (a file, a directory) is in the way: leave it.
            Err(e) if e == EINVAL => return Ok(false),
            Err(e) => return Err(Dropped::Local(e)),
        };
        let local_value = local.as_ref().map(|l| core::str::from_utf8(&l.value).unwrap_or(""));
        let local_state = local.as_ref().zip(local_value).map(|(l, v)| LinkState { value: v, stamp_ns: l.stamp_ns });
        let reassert = match decide(rule, local_state, LinkState { value, stamp_ns }, from) {
            Verdict::Merge => false,
            Verdict::Ignore => return Ok(false),
            Verdict::Drop(r) => return Err(Dropped::Rule(r)),
            Verdict::Reassert => true,
        };
        // Parent directories (at most two levels) may be new here; each must be a
        // directory reached through no symlink (vfs::mkdir checks).
        let mut at = 0;
        while let Some(i) = dir_rel[at..].find('/').map(|i| i + at) {
            vfs::mkdir(&path(fmt!("{}/{}", ROOT, &dir_rel[..i]))?)?;
            at = i + 1;
        }
        vfs::mkdir(&dir)?;
        if reassert {
            peer_warn!(from.as_bytes(), "{} has a newer \"{}\" than this host, its owner (lost here in a crash?): this host's own stamped anew\n", from, escaped(rel));
            // Later than the peer's copy, so that the peer takes this host's link. Only
            // the stamp changes: a value written here meanwhile is never undone.
            clock.observe(stamp_ns);
            vfs::restamp_link(&dir, name, DELETED, clock.stamp())?;
            return Ok(false);
        }
        // Tests only: an entry that marsadm on any member writes waits here (scenario 60).
        let delay = MERGE_DELAY_MS.load(Ordering::Relaxed);
        if delay > 0 && matches!(rule, Rule::Cluster(_)) {
            pr_info!("merge of \"{}\" from {} waits {} ms (test_merge_delay_ms)\n", escaped(rel), from, delay);
            thread::sleep_ms(delay as u32);
        }
        if vfs::replace_link_if(&dir, name, value, stamp_ns, Expect::of(local.as_ref()))? {
            return Ok(true);
        }
    }
    Ok(false)
}
