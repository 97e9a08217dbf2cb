// SPDX-License-Identifier: GPL-2.0

//! Framed, authenticated connections between MARS hosts (docu/wire-protocol.md,
//! docu/security.md) and the listeners that accept them: one listener thread per port,
//! connections served one at a time (each bounded by the traffic class's socket timeout).
//!
//! Every connection starts with the key exchange of `mars_core::auth`; from then on
//! every frame both ways carries a tag, checked before the frame is decoded.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use kernel::fmt;

use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::{protocol_error, Endpoint, Socket};
use crate::kapi::random;
use crate::kapi::thread::{self, Thread};
use crate::keys::{KeyedMac, Keys};
use crate::mars_core::auth::{self, Session, Side, NONCE_LEN, SEQ_LEN, TAG_LEN};
use crate::mars_core::wire::{check_payload, decode_header, parse_ipv4, Message, HEADER_LEN};
use crate::strategy::Main;
use crate::tree::{host_name, path, Tree, ROOT};
use crate::tunables::Traffic;

/// A connection speaking framed messages of one traffic class.
pub(crate) struct Conn {
    pub(crate) sock: Socket,
    /// Room for a sequence number, a frame header, the largest payload, and a tag
    /// (the layout `auth::Session` works on).
    buf: KVec<u8>,
    max_payload: usize,
    class: Traffic,
    what: &'static str,
    /// The session MAC and frame counters, once the key exchange is done.
    auth: Option<(KeyedMac, Session)>,
}

impl Conn {
    /// Wraps `sock`, applying the class's TCP tunables; frames up to `max_payload`.
    fn new(sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
        let t = class.tuning();
        let get = |a: &AtomicI32| a.load(Ordering::Relaxed);
        sock.set_timeouts(i64::from(get(&t.tcp_timeout)));
        sock.set_tos(get(&t.ip_tos) as u8);
        sock.set_keepalive(get(&t.tcp_keepidle), get(&t.tcp_keepintvl), get(&t.tcp_keepcnt));
        if get(&t.tcp_nodelay) != 0 {
            sock.set_nodelay();
        }
        let what = match class {
            Traffic::Meta => "metadata",
            Traffic::Replication => "fetch",
            Traffic::Sync => "sync",
        };
        let buf = KVec::from_elem(0u8, SEQ_LEN + HEADER_LEN + max_payload + TAG_LEN, GFP_KERNEL)?;
        Ok(Conn { sock, buf, max_payload, class, what, auth: None })
    }

    /// Connects to `to` and authenticates (client side of `mars_core::auth`); `Ok(None)`
    /// while this host has no cluster key.
    pub(crate) fn connect(to: Endpoint, class: Traffic, max_payload: usize) -> Result<Option<Conn>> {
        let Some(keys) = Keys::load()? else { return Ok(None) };
        let mut conn = Conn::new(Socket::connect(to, 2)?, class, max_payload)?;
        let mut ours = [0u8; NONCE_LEN];
        random::fill(&mut ours);
        let [id, alt] = keys.offered();
        let what = conn.what;
        conn.send(&Message::AuthHello { nonce: &ours, key_id: id, alt_key_id: alt })?;
        let (theirs, key_id) = match conn.recv()? {
            Message::AuthChallenge { nonce, key_id } if key_id == id || key_id == alt => (*nonce, key_id),
            Message::Error { message, .. } => {
                pr_warn!("{}: {:?} refused us: {}\n", what, to.addr, message);
                return Err(EPERM);
            }
            _ => return Err(protocol_error()),
        };
        let key = keys.get(key_id).ok_or(EPERM)?;
        let session = auth::session_key(key, &ours, &theirs, key_id).map_err(|_| EINVAL)?;
        conn.auth = Some((KeyedMac::new(&session)?, Session::new(Side::Client)));
        Ok(Some(conn))
    }

    /// Server side of [`Conn::connect`]: a host without a key this host holds gets
    /// nothing but the refusal; without a key of its own this host refuses everyone.
    pub(crate) fn accept(sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
        let Some(keys) = Keys::load()? else { return Err(EACCES) };
        let [a, b, c, d] = sock.peer()?.addr;
        let mut conn = Conn::new(sock, class, max_payload)?;
        let (theirs, offered) = match conn.recv()? {
            Message::AuthHello { nonce, key_id, alt_key_id } => (*nonce, [key_id, alt_key_id]),
            _ => return Err(protocol_error()),
        };
        let Some(key_id) = auth::choose_key(offered, &keys.ids()) else {
            pr_warn!("{}: refusing {}.{}.{}.{}: it holds none of our cluster keys\n", conn.what, a, b, c, d);
            let _ = conn.send(&Message::Error { code: 1, message: "no shared key" });
            return Err(EPERM);
        };
        let key = keys.get(key_id).ok_or(EPERM)?;
        let mut ours = [0u8; NONCE_LEN];
        random::fill(&mut ours);
        conn.send(&Message::AuthChallenge { nonce: &ours, key_id })?;
        let session = auth::session_key(key, &theirs, &ours, key_id).map_err(|_| EINVAL)?;
        conn.auth = Some((KeyedMac::new(&session)?, Session::new(Side::Server)));
        Ok(conn)
    }

    /// Connects to cluster member `host` (address from `ips/ip-<host>`) on the class's
    /// port and exchanges `Hello`s; `Ok(None)` while the address is unknown. Used by the
    /// fetch and sync clients (members only, unlike the metadata exchange).
    pub(crate) fn connect_member(main: &Main, host: &str, class: Traffic, max_payload: usize) -> Result<Option<Conn>> {
        let tree = Tree { clock: &main.clock };
        let Some(addr) = tree.read(&path(fmt!("{}/ips/ip-{}", ROOT, host))?)? else { return Ok(None) };
        let addr = parse_ipv4(text(&addr)?).ok_or(EINVAL)?;
        let Some(ours) = tree.cluster_uuid()? else { return Ok(None) };
        let me = host_name()?;
        let to = Endpoint { addr, port: class.port() };
        let Some(mut conn) = Conn::connect(to, class, max_payload)? else { return Ok(None) };
        let what = conn.what;
        conn.send(&Message::Hello { cluster: text(&ours)?, host: text(&me)?, lamport_ns: main.clock.peek(), flags: 0 })?;
        match conn.recv()? {
            Message::Hello { lamport_ns, .. } => main.clock.observe(lamport_ns),
            Message::Error { message, .. } => {
                pr_warn!("{}: {} refused us: {}\n", what, host, message);
                return Err(EPERM);
            }
            _ => return Err(protocol_error()),
        }
        Ok(Some(conn))
    }

    /// Server side of [`Conn::connect_member`]: accepts only members of our cluster.
    pub(crate) fn accept_member(main: &Main, sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
        let tree = Tree { clock: &main.clock };
        let Some(ours) = tree.cluster_uuid()? else { return Err(ENOENT) };
        let me = host_name()?;
        let mut conn = Conn::accept(sock, class, max_payload)?;
        let what = conn.what;
        match conn.recv()? {
            Message::Hello { cluster, host, lamport_ns, .. } => {
                main.clock.observe(lamport_ns);
                if cluster != text(&ours)? {
                    pr_warn!("{}: refusing {}: cluster {} is not ours\n", what, host, cluster);
                    let _ = conn.send(&Message::Error { code: 1, message: "foreign cluster" });
                    return Err(EPERM);
                }
            }
            _ => return Err(protocol_error()),
        }
        conn.send(&Message::Hello { cluster: text(&ours)?, host: text(&me)?, lamport_ns: main.clock.peek(), flags: 0 })?;
        Ok(conn)
    }

    /// Sends an error reply (best effort: the connection is closed next anyway).
    pub(crate) fn refuse(&mut self, code: u32, message: &str) {
        pr_warn!("{}: refusing request: {}\n", self.what, message);
        let _ = self.send(&Message::Error { code, message });
    }

    /// Sends one frame, tagged once the connection is authenticated.
    pub(crate) fn send(&mut self, m: &Message<'_>) -> Result {
        let mut n = m.encode(&mut self.buf[SEQ_LEN..]).map_err(|_| EINVAL)?;
        if let Some((mac, session)) = &mut self.auth {
            n = session.seal(mac, &mut self.buf, n).map_err(|_| EINVAL)?;
        }
        self.sock.send_all(&self.buf[SEQ_LEN..SEQ_LEN + n])
    }

    /// Receives and validates one frame; a bad one is logged and an error (the caller
    /// closes the connection).
    pub(crate) fn recv(&mut self) -> Result<Message<'_>> {
        const H: usize = SEQ_LEN;
        self.sock.recv_exact(&mut self.buf[H..H + HEADER_LEN])?;
        let header = decode_header(&self.buf[H..]).map_err(|e| {
            pr_warn!("{}: bad frame header: {}\n", self.what, e);
            protocol_error()
        })?;
        let len = header.payload_len as usize;
        if len > self.max_payload {
            pr_warn!("{}: frame of {} bytes too large\n", self.what, len);
            return Err(protocol_error());
        }
        let tag = if self.auth.is_some() { TAG_LEN } else { 0 };
        self.sock.recv_exact(&mut self.buf[H + HEADER_LEN..H + HEADER_LEN + len + tag])?;
        self.class.received().fetch_add((HEADER_LEN + len + tag) as u64, Ordering::Relaxed);
        if let Some((mac, session)) = &mut self.auth {
            // Nothing of a frame is used before its tag is checked.
            session.open(mac, &mut self.buf, HEADER_LEN + len).map_err(|e| {
                pr_warn!("{}: {}: closing the connection\n", self.what, e);
                protocol_error()
            })?;
        }
        let payload = &self.buf[H + HEADER_LEN..H + HEADER_LEN + len];
        check_payload(&header, payload).and_then(|()| Message::decode(header.kind, payload)).map_err(|e| {
            pr_warn!("{}: bad message: {}\n", self.what, e);
            protocol_error()
        })
    }
}

/// A tree value as text (without the trailing newline some tools add).
pub(crate) fn text(v: &[u8]) -> Result<&str> {
    core::str::from_utf8(v).map(str::trim_end).map_err(|_| EINVAL)
}

/// A listener on the class's port, serving each connection with `serve`; stops when
/// dropped.
pub(crate) struct Listener {
    socket: Arc<Socket>,
    stopping: Arc<AtomicBool>,
    _thread: Thread,
}

impl Listener {
    pub(crate) fn start(main: Arc<Main>, class: Traffic, name: &CStr, serve: fn(&Main, Socket) -> Result) -> Result<Listener> {
        let port = class.port();
        let socket = Arc::new(Socket::listen(port, 16)?, GFP_KERNEL)?;
        let stopping = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
        let (l, s) = (socket.clone(), stopping.clone());
        let thread = Thread::spawn(name, move || {
            let _noio = NoIoScope::enter();
            while !s.load(Ordering::Acquire) && !thread::should_stop() {
                if let Ok(sock) = l.accept() {
                    if let Err(e) = serve(&main, sock) {
                        pr_debug!("connection ended: {:?}\n", e);
                    }
                }
            }
        })?;
        Ok(Listener { socket, stopping, _thread: thread })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // accept() returns once the socket is shut down; the thread then sees the flag.
        self.stopping.store(true, Ordering::Release);
        self.socket.shutdown();
    }
}
