// SPDX-License-Identifier: GPL-2.0

//! Framed connections between MARS hosts (docu/wire-protocol.md) and the listeners that
//! accept them: one listener thread per port, connections served one at a time (each
//! bounded by the traffic class's socket timeout).

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use kernel::fmt;

use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::{protocol_error, Endpoint, Socket};
use crate::kapi::thread::{self, Thread};
use crate::mars_core::wire::{check_payload, decode_header, parse_ipv4, Message, HEADER_LEN};
use crate::strategy::Main;
use crate::tree::{host_name, path, Tree, ROOT};
use crate::tunables::Traffic;

/// A connection speaking framed messages of one traffic class.
pub(crate) struct Conn {
    pub(crate) sock: Socket,
    buf: KVec<u8>,
    max_payload: usize,
    class: Traffic,
    what: &'static str,
}

impl Conn {
    /// Wraps `sock`, applying the class's TCP tunables; frames up to `max_payload`.
    pub(crate) fn new(sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
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
        Ok(Conn { sock, buf: KVec::from_elem(0u8, HEADER_LEN + max_payload, GFP_KERNEL)?, max_payload, class, what })
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
        let mut conn = Conn::new(Socket::connect(to, 2)?, class, max_payload)?;
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
        let mut conn = Conn::new(sock, class, max_payload)?;
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

    pub(crate) fn send(&mut self, m: &Message<'_>) -> Result {
        let n = m.encode(&mut self.buf).map_err(|_| EINVAL)?;
        self.sock.send_all(&self.buf[..n])
    }

    /// Receives and validates one frame; a bad one is logged and an error (the caller
    /// closes the connection).
    pub(crate) fn recv(&mut self) -> Result<Message<'_>> {
        self.sock.recv_exact(&mut self.buf[..HEADER_LEN])?;
        let header = decode_header(&self.buf).map_err(|e| {
            pr_warn!("{}: bad frame header: {}\n", self.what, e);
            protocol_error()
        })?;
        let len = header.payload_len as usize;
        if len > self.max_payload {
            pr_warn!("{}: frame of {} bytes too large\n", self.what, len);
            return Err(protocol_error());
        }
        self.sock.recv_exact(&mut self.buf[HEADER_LEN..HEADER_LEN + len])?;
        self.class.received().fetch_add((HEADER_LEN + len) as u64, Ordering::Relaxed);
        let payload = &self.buf[HEADER_LEN..HEADER_LEN + len];
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
