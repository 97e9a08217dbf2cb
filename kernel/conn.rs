// SPDX-License-Identifier: GPL-2.0

//! Framed connections between MARS hosts (docu/wire-protocol.md) and the listeners that
//! accept them: one listener thread per port, connections served one at a time (each
//! bounded by the traffic class's socket timeout).

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::{protocol_error, Socket};
use crate::kapi::thread::{self, Thread};
use crate::mars_core::wire::{check_payload, decode_header, Message, DEFAULT_BASE_PORT, HEADER_LEN};
use crate::strategy::Main;
use crate::tunables::Traffic;

/// A connection speaking framed messages of one traffic class.
pub(crate) struct Conn {
    pub(crate) sock: Socket,
    buf: KVec<u8>,
    max_payload: usize,
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
        Ok(Conn { sock, buf: KVec::from_elem(0u8, HEADER_LEN + max_payload, GFP_KERNEL)?, max_payload, what })
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
        let payload = &self.buf[HEADER_LEN..HEADER_LEN + len];
        check_payload(&header, payload).and_then(|()| Message::decode(header.kind, payload)).map_err(|e| {
            pr_warn!("{}: bad message: {}\n", self.what, e);
            protocol_error()
        })
    }
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
        let socket = Arc::new(Socket::listen(DEFAULT_BASE_PORT + class as u16, 16)?, GFP_KERNEL)?;
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
