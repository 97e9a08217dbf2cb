// SPDX-License-Identifier: GPL-2.0

//! Kernel TCP sockets over IPv4 (C: `sock_create_kern`, `kernel_bind`, `kernel_listen`,
//! `kernel_accept`, `kernel_connect`, `kernel_sendmsg`, `kernel_recvmsg`,
//! `kernel_sock_shutdown`, `sock_release`), with the socket options MARS sets per traffic
//! class (IP TOS, keepalive, timeouts).
//!
//! Blocking calls return after the socket's timeouts ([`Socket::set_timeouts`]) or when
//! another thread calls [`Socket::shutdown`] on a handle of the same socket
//! ([`Socket::share`]): how listener and connection threads are stopped.

use core::ffi::c_int;
use core::ptr::NonNull;

use kernel::alloc::flags::GFP_KERNEL;
use super::sys;
use kernel::error::to_result;
use crate::kapi::compat::prelude::*;
use kernel::sync::Arc;

/// An IPv4 address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
}

impl Endpoint {
    fn to_c(self) -> sys::sockaddr_in {
        // SAFETY: all-zero is a valid `sockaddr_in` (its padding must be zero anyway).
        let mut sa: sys::sockaddr_in = unsafe { core::mem::zeroed() };
        sa.sin_family = sys::AF_INET as sys::__kernel_sa_family_t;
        sa.sin_port = self.port.to_be();
        sa.sin_addr.s_addr = u32::from_be_bytes(self.addr).to_be();
        sa
    }
}

/// The kernel socket behind one or more [`Socket`] handles, released with the last.
///
/// # Invariants
///
/// `sock` came from a successful `sock_create_kern` (or `kernel_accept`) and has not been
/// released; its `sk` is valid.
struct Owned {
    sock: NonNull<sys::socket>,
}

// SAFETY: kernel sockets may be used from any thread; concurrent calls (a shutdown while
// another thread blocks in accept or recv) are serialised by the socket layer's locks.
unsafe impl Send for Owned {}
// SAFETY: see `Send`; all `&self` methods go through the socket layer.
unsafe impl Sync for Owned {}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the socket is alive (type invariant) and released once, here, when the
        // last handle is gone.
        unsafe { sys::sock_release(self.sock.as_ptr()) };
    }
}

/// A kernel TCP socket, released when its last handle ([`Socket::share`]) is dropped.
///
/// # Invariants
///
/// `sock` is `owned.sock`: alive as long as this handle (it holds a reference on `owned`).
pub(crate) struct Socket {
    owned: Arc<Owned>,
    sock: NonNull<sys::socket>,
}

// SAFETY: as for `Owned`: `sock` is `owned.sock`, alive while `owned` is.
unsafe impl Send for Socket {}
// SAFETY: see `Send`.
unsafe impl Sync for Socket {}

fn wrap(sock: *mut sys::socket) -> Result<Socket> {
    let sock = NonNull::new(sock).ok_or(ENOMEM)?;
    // INVARIANT: the caller hands over a live socket, released by `Owned` from now on
    // (also if the allocation fails: then it is released here).
    let owned = match Arc::new(Owned { sock }, GFP_KERNEL) {
        Ok(o) => o,
        Err(e) => {
            // SAFETY: the socket is alive and nobody else holds it.
            unsafe { sys::sock_release(sock.as_ptr()) };
            return Err(e.into());
        }
    };
    Ok(Socket { owned, sock })
}

fn new_tcp() -> Result<Socket> {
    let mut sock: *mut sys::socket = core::ptr::null_mut();
    // SAFETY: `init_net` is the initial network namespace (always alive); `sock` receives
    // the new socket on success.
    to_result(unsafe {
        sys::sock_create_kern(
            &raw mut sys::init_net,
            sys::AF_INET as c_int,
            sys::sock_type_SOCK_STREAM as c_int,
            sys::IPPROTO_TCP as c_int,
            &mut sock,
        )
    })?;
    wrap(sock)
}

impl Socket {
    fn sk(&self) -> *mut sys::sock {
        // SAFETY: the socket is alive (type invariant).
        unsafe { (*self.sock.as_ptr()).sk }
    }

    /// Another handle to this socket (to shut it down from another thread); the socket
    /// is released with the last handle.
    pub(crate) fn share(&self) -> Socket {
        Socket { owned: self.owned.clone(), sock: self.sock }
    }

    /// A socket listening on `at` (address `[0; 4]`: all local addresses).
    pub(crate) fn listen(at: Endpoint, backlog: i32) -> Result<Socket> {
        let s = new_tcp()?;
        let mut sa = at.to_c();
        // SAFETY: the socket is alive; `sa` is a valid IPv4 address of the given size.
        unsafe {
            sys::sock_set_reuseaddr(s.sk());
            to_result(sys::kernel_bind(
                s.sock.as_ptr(),
                (&raw mut sa).cast(),
                core::mem::size_of::<sys::sockaddr_in>() as c_int,
            ))?;
            to_result(sys::kernel_listen(s.sock.as_ptr(), backlog))?;
        }
        Ok(s)
    }

    /// Waits for a connection (until [`Socket::shutdown`] or a signal).
    pub(crate) fn accept(&self) -> Result<Socket> {
        let mut new: *mut sys::socket = core::ptr::null_mut();
        // SAFETY: the socket is alive and listening; `new` receives the connection.
        to_result(unsafe { sys::kernel_accept(self.sock.as_ptr(), &mut new, 0) })?;
        wrap(new)
    }

    /// Connects to `to`; gives up after `timeout_s` seconds.
    pub(crate) fn connect(to: Endpoint, timeout_s: i64) -> Result<Socket> {
        let s = new_tcp()?;
        s.set_timeouts(timeout_s);
        let mut sa = to.to_c();
        // SAFETY: the socket is alive; `sa` is a valid IPv4 address of the given size. A
        // blocking connect waits at most the send timeout.
        to_result(unsafe {
            sys::kernel_connect(
                s.sock.as_ptr(),
                (&raw mut sa).cast(),
                core::mem::size_of::<sys::sockaddr_in>() as c_int,
                0,
            )
        })?;
        Ok(s)
    }

    /// Send and receive calls fail with `EAGAIN` after `seconds` without progress.
    pub(crate) fn set_timeouts(&self, seconds: i64) {
        let jiffies = kernel::time::msecs_to_jiffies((seconds.max(1) as u32).saturating_mul(1000)) as isize;
        // SAFETY: the socket is alive; both setters only store the timeout.
        unsafe {
            sys::sock_set_sndtimeo(self.sk(), seconds.max(1));
            sys::mars_sock_set_rcvtimeo(self.sock.as_ptr(), jiffies);
        }
    }

    /// IP type of service of outgoing packets (per traffic class).
    pub(crate) fn set_tos(&self, tos: u8) {
        // SAFETY: the socket is alive.
        unsafe { sys::ip_sock_set_tos(self.sk(), tos as c_int) };
    }

    /// TCP keepalive: probes after `idle_s` idle seconds, every `interval_s`, `count` times.
    pub(crate) fn set_keepalive(&self, idle_s: i32, interval_s: i32, count: i32) {
        // SAFETY: the socket is alive; out-of-range values are refused by the setters.
        unsafe {
            sys::sock_set_keepalive(self.sk());
            let _ = sys::tcp_sock_set_keepidle(self.sk(), idle_s);
            let _ = sys::tcp_sock_set_keepintvl(self.sk(), interval_s);
            let _ = sys::tcp_sock_set_keepcnt(self.sk(), count);
        }
    }

    /// Sends small messages at once instead of waiting to coalesce them (TCP_NODELAY).
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: the socket is alive.
        unsafe { sys::tcp_sock_set_nodelay(self.sk()) };
    }

    /// Sends all of `buf`.
    pub(crate) fn send_all(&self, mut buf: &[u8]) -> Result {
        while !buf.is_empty() {
            let mut vec = sys::kvec { iov_base: buf.as_ptr().cast_mut().cast(), iov_len: buf.len() };
            // SAFETY: all-zero is a valid `msghdr` (no name, no control data).
            let mut msg: sys::msghdr = unsafe { core::mem::zeroed() };
            msg.msg_flags = sys::MSG_NOSIGNAL as u32;
            // SAFETY: the socket is alive; `vec` describes `buf`, readable for the call.
            let n = unsafe { sys::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, buf.len()) };
            if n < 0 {
                return Err(Error::from_errno(n));
            }
            if n == 0 {
                return Err(closed());
            }
            buf = &buf[n as usize..];
        }
        Ok(())
    }

    /// Receives exactly `buf.len()` bytes; `ECONNRESET` if the peer closed first.
    ///
    /// With `deadline_ns`, all of `buf` must have arrived by then (real time; `ETIMEDOUT`
    /// otherwise): a peer sending a byte now and then cannot stretch that, as it can
    /// stretch the per-call receive timeout.
    pub(crate) fn recv_exact_until(&self, mut buf: &mut [u8], deadline_ns: Option<u64>) -> Result {
        while !buf.is_empty() {
            if let Some(deadline) = deadline_ns {
                let left_ms = deadline.saturating_sub(crate::kapi::time::real_ns()) / 1_000_000;
                if left_ms == 0 {
                    return Err(Error::from_errno(-(sys::ETIMEDOUT as i32)));
                }
                let jiffies = kernel::time::msecs_to_jiffies(left_ms.min(u64::from(u32::MAX)) as u32) as isize;
                // SAFETY: the socket is alive; the setter only stores the timeout.
                unsafe { sys::mars_sock_set_rcvtimeo(self.sock.as_ptr(), jiffies.max(1)) };
            }
            let len = buf.len();
            let mut vec = sys::kvec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
            // SAFETY: all-zero is a valid `msghdr`.
            let mut msg: sys::msghdr = unsafe { core::mem::zeroed() };
            // SAFETY: the socket is alive; `vec` describes `buf`, writable for the call.
            let n = unsafe {
                sys::kernel_recvmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, len, sys::MSG_WAITALL as c_int)
            };
            if n < 0 {
                return Err(Error::from_errno(n));
            }
            if n == 0 {
                return Err(closed());
            }
            buf = &mut buf[n as usize..];
        }
        Ok(())
    }

    /// Ends both directions: blocked calls on this socket in other threads return.
    pub(crate) fn shutdown(&self) {
        // SAFETY: the socket is alive.
        let _ = unsafe { sys::kernel_sock_shutdown(self.sock.as_ptr(), sys::sock_shutdown_cmd_SHUT_RDWR) };
    }

    /// The address of the other end of a connected socket.
    pub(crate) fn peer(&self) -> Result<Endpoint> {
        // SAFETY: all-zero is a valid `sockaddr_in`.
        let mut sa: sys::sockaddr_in = unsafe { core::mem::zeroed() };
        // SAFETY: the socket is alive; `sa` has room for an IPv4 address.
        let n = unsafe { sys::kernel_getpeername(self.sock.as_ptr(), (&raw mut sa).cast()) };
        if n < 0 {
            return Err(Error::from_errno(n));
        }
        Ok(Endpoint { addr: u32::from_be(sa.sin_addr.s_addr).to_be_bytes(), port: u16::from_be(sa.sin_port) })
    }
}

/// Whether `e` is `EADDRNOTAVAIL` (binding to an address this host does not have).
pub(crate) fn is_addr_not_available(e: Error) -> bool {
    e.to_errno() == -(sys::EADDRNOTAVAIL as i32)
}

/// `ECONNRESET`: the peer closed the connection (or reset it).
pub(crate) fn closed() -> Error {
    Error::from_errno(-(sys::ECONNRESET as i32))
}

/// Whether `e` is [`closed`]'s error.
pub(crate) fn is_closed(e: Error) -> bool {
    e.to_errno() == closed().to_errno()
}

/// `EPROTO`: a peer broke the protocol (a malformed or unexpected message).
pub(crate) fn protocol_error() -> Error {
    Error::from_errno(-(sys::EPROTO as i32))
}
