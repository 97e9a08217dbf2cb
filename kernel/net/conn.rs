// SPDX-License-Identifier: GPL-2.0

//! Framed, authenticated connections between MARS hosts (docu/wire-protocol.md,
//! docu/security.md) and the listeners that accept them: one accepting thread per port,
//! a thread per connection (bounded per port and per peer address), each connection
//! closed when silent for the traffic class's socket timeout, all of them shut down at
//! once when the listener stops.
//!
//! Every connection starts with the key exchange of `mars_core::auth`; from then on
//! every frame both ways carries a tag, checked before the frame is decoded. The
//! client's first frame sets the protocol version of the connection (`mars_core::
//! negotiate`): a client falls back to the previous version for a peer that does not
//! speak its newest.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;


use crate::kapi::file::DIRECT_ALIGN;
use crate::kapi::memalloc::NoIoScope;
use crate::kapi::net::{closed, is_addr_not_available, is_closed, protocol_error, Endpoint, Socket};
use crate::kapi::random;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::tree::keys::{KeyedMac, Keys};
use crate::mars_core::auth::{self, FrameMac, Session, Side, FRAME_TAG_LEN, NONCE_LEN, SEQ_LEN};
use crate::mars_core::connlimit::{admit, Admission, MAX_PER_PORT};
use crate::mars_core::negotiate::{fall_back, frame_version, Answer, PeerVersions, REMEMBER_NS};
use crate::mars_core::ratelimit::PeerLogLimit;
use crate::mars_core::text::escaped;
use crate::mars_core::wire::{
    check_payload, decode_header, encode_log_data_in_place, parse_ipv4, Message, WireError, HEADER_LEN, LOG_DATA_AT, OLDEST_PROTOCOL_VERSION,
    PROTOCOL_VERSION, UNSUPPORTED_VERSION,
};
use crate::context::Context;
use crate::tree::{address_link, host_name, Tree};
use crate::tunables::Traffic;

/// Log lines a peer can trigger, rate-limited per peer address (`mars_core::ratelimit`):
/// 5 lines per 10 s per bucket, 16 buckets.
pub(crate) static PEER_LOG: PeerLogLimit<16> = PeerLogLimit::new(10_000_000_000, 5);

/// `pr_warn!` for a line a peer triggered, rate-limited per peer by [`PEER_LOG`]; the
/// first argument names the peer (its address `[u8; 4]`, or its host name). Peer strings
/// in the line go through `mars_core::text::Escaped`.
macro_rules! peer_warn {
    ($addr:expr, $($arg:tt)*) => {
        match $crate::net::conn::PEER_LOG.check(
            $crate::mars_core::ratelimit::peer_key(AsRef::<[u8]>::as_ref(&$addr)),
            $crate::kapi::time::real_ns(),
        ) {
            $crate::mars_core::ratelimit::Verdict::Print { suppressed } => {
                if suppressed > 0 {
                    pr_warn!("({} similar lines about peers suppressed)\n", suppressed);
                }
                pr_warn!($($arg)*);
            }
            $crate::mars_core::ratelimit::Verdict::Suppress => {}
        }
    };
}
pub(crate) use peer_warn;

/// Peers that answered in an older protocol version after a fallback, offered that
/// version first for a while (`mars_core::negotiate`).
static PEER_VERSIONS: PeerVersions<16> = PeerVersions::new();

/// A connection speaking framed messages of one traffic class.
pub(crate) struct Conn {
    pub(crate) sock: Socket,
    /// [`LEAD`], then room for a sequence number, a frame header, the largest payload,
    /// and a tag (the layout `auth::Session` works on).
    buf: KVec<u8>,
    max_payload: usize,
    class: Traffic,
    what: &'static str,
    /// The protocol version of every frame both ways: the client's choice; on a server
    /// `None` until the client's first frame has come.
    version: Option<u16>,
    /// The version of the last frame received: the connection's, or (before the key
    /// exchange) that of a server's `UNSUPPORTED_VERSION` error.
    peer_version: u16,
    /// The session MAC and frame counters, once the key exchange is done.
    auth: Option<(FrameMac<KeyedMac>, Session)>,
    /// Until the peer has proven itself (its first tagged frame checked): the payload
    /// limit afterwards, and when the proof must have arrived. Before, the buffer holds
    /// only handshake frames, so an unproven peer costs about a kilobyte for at most
    /// [`HANDSHAKE_S`].
    unproven: Option<(usize, u64)>,
    /// When every receive ends at the latest (real time), if set: bounds a whole
    /// exchange, not only the silence between two frames.
    until: Option<u64>,
}

/// Unused bytes before the frame layout in `Conn::buf`: with them, the data of a
/// `LogData` frame lands on a [`DIRECT_ALIGN`] boundary of the buffer (whose start is
/// page-aligned once it holds full frames), so the fetch client can write it to its
/// copy of the logfile with direct I/O, without copying it.
const LEAD: usize = (DIRECT_ALIGN - (SEQ_LEN + HEADER_LEN + LOG_DATA_AT) % DIRECT_ALIGN) % DIRECT_ALIGN;
/// Where a frame starts in `Conn::buf` (after the lead and the sequence number's room).
const FRAME: usize = LEAD + SEQ_LEN;

/// Seconds from connect or accept until the peer has proven it holds the cluster key.
const HANDSHAKE_S: u64 = 10;
/// Largest payload before that (the Auth messages, a Hello, an Error).
const HANDSHAKE_PAYLOAD: usize = 1024;

impl Conn {
    /// Wraps `sock`, applying the class's TCP tunables; frames up to `max_payload` of
    /// `version` (a server: `None`, the client's).
    fn new(sock: Socket, class: Traffic, max_payload: usize, version: Option<u16>) -> Result<Conn> {
        let t = class.tuning();
        let get = |a: &AtomicI32| a.load(Ordering::Relaxed);
        sock.set_timeouts(i64::from(get(&t.tcp_timeout)));
        sock.set_tos(get(&t.ip_tos) as u8);
        sock.set_keepalive(get(&t.tcp_keepidle), get(&t.tcp_keepintvl), get(&t.tcp_keepcnt));
        if get(&t.tcp_nodelay) != 0 {
            sock.set_nodelay();
        }
        let what = class_name(class);
        let small = max_payload.min(HANDSHAKE_PAYLOAD);
        let buf = KVec::from_elem(0u8, LEAD + SEQ_LEN + HEADER_LEN + small + FRAME_TAG_LEN, GFP_KERNEL)?;
        let deadline = real_ns().saturating_add(HANDSHAKE_S * 1_000_000_000);
        Ok(Conn {
            sock,
            buf,
            max_payload: small,
            class,
            what,
            version,
            peer_version: version.unwrap_or(PROTOCOL_VERSION),
            auth: None,
            unproven: Some((max_payload, deadline)),
            until: None,
        })
    }

    /// The peer's first tagged frame checked out: full frames and the class's idle
    /// timeout from now on.
    fn proven(&mut self) -> Result {
        if let Some((max_payload, _)) = self.unproven.take() {
            let more = (LEAD + SEQ_LEN + HEADER_LEN + max_payload + FRAME_TAG_LEN).saturating_sub(self.buf.len());
            self.buf.extend_with(more, 0, GFP_KERNEL)?;
            self.max_payload = max_payload;
            self.sock.set_timeouts(i64::from(self.class.tuning().tcp_timeout.load(Ordering::Relaxed)));
        }
        Ok(())
    }

    /// Connects to `to` and authenticates (client side of `mars_core::auth`); `Ok(None)`
    /// while this host has no cluster key. Offers the newest protocol version, or the
    /// older one `to` answered in lately, and falls back as `mars_core::negotiate` says.
    pub(crate) fn connect(to: Endpoint, class: Traffic, max_payload: usize) -> Result<Option<Conn>> {
        let Some(keys) = Keys::load()? else { return Ok(None) };
        let offered = PEER_VERSIONS.offer(to.addr, real_ns());
        let mut version = offered;
        loop {
            let answer = match Conn::handshake(to, class, max_payload, &keys, version)? {
                Ok(conn) => {
                    if version != offered {
                        let [a, b, c, d] = to.addr;
                        peer_warn!(to.addr, "{}: {}.{}.{}.{} speaks protocol {}, not {}: talking {} with it (offering {} again in {} s)\n",
                            conn.what, a, b, c, d, version, offered, version, PROTOCOL_VERSION, REMEMBER_NS / 1_000_000_000);
                        PEER_VERSIONS.fell_back(to.addr, version, real_ns());
                    }
                    return Ok(Some(conn));
                }
                Err(answer) => answer,
            };
            match (fall_back(version, answer), answer) {
                (Some(older), _) => version = older,
                (None, Answer::Closed) => return Err(closed()),
                (None, Answer::Unsupported { newest }) => {
                    let [a, b, c, d] = to.addr;
                    peer_warn!(to.addr, "{}: {}.{}.{}.{} speaks protocol {} at most; this host speaks {} to {}\n",
                        class_name(class), a, b, c, d, newest, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION);
                    return Err(protocol_error());
                }
            }
        }
    }

    /// One attempt of [`Conn::connect`] in protocol `version`: the authenticated
    /// connection, or what the server answered instead of a challenge that may mean
    /// another version (`mars_core::negotiate::Answer`).
    fn handshake(to: Endpoint, class: Traffic, max_payload: usize, keys: &Keys, version: u16) -> Result<core::result::Result<Conn, Answer>> {
        let mut conn = Conn::new(Socket::connect(to, 2)?, class, max_payload, Some(version))?;
        let mut ours = [0u8; NONCE_LEN];
        random::fill(&mut ours)?;
        let [id, alt] = keys.offered();
        let what = conn.what;
        conn.send(&Message::AuthHello { nonce: &ours, key_id: id, alt_key_id: alt })?;
        let (theirs, key_id) = match conn.recv() {
            Ok(Message::AuthChallenge { nonce, key_id }) if key_id == id || key_id == alt => (*nonce, key_id),
            Ok(Message::Error { code: UNSUPPORTED_VERSION, .. }) => return Ok(Err(Answer::Unsupported { newest: conn.peer_version })),
            Ok(Message::Error { message, .. }) => {
                let [a, b, c, d] = to.addr;
                peer_warn!(to.addr, "{}: {}.{}.{}.{} refused us: {}\n", what, a, b, c, d, escaped(message));
                return Err(EPERM);
            }
            Ok(_) => return Err(protocol_error()),
            Err(e) if is_closed(e) => return Ok(Err(Answer::Closed)),
            Err(e) => return Err(e),
        };
        let key = keys.get(key_id).ok_or(EPERM)?;
        let session = auth::session_key(key, &ours, &theirs, key_id).map_err(|_| EINVAL)?;
        conn.auth = Some((FrameMac::new(KeyedMac::new(&session)?).map_err(|_| EINVAL)?, Session::new(Side::Client)));
        Ok(Ok(conn))
    }

    /// Server side of [`Conn::connect`]: a host without a key this host holds gets
    /// nothing but the refusal; without a key of its own this host refuses everyone.
    pub(crate) fn accept(sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
        let Some(keys) = Keys::load()? else { return Err(EACCES) };
        let peer = peer_addr(&sock);
        let mut conn = Conn::new(sock, class, max_payload, None)?;
        let (theirs, offered) = match conn.recv()? {
            Message::AuthHello { nonce, key_id, alt_key_id } => (*nonce, [key_id, alt_key_id]),
            _ => return Err(protocol_error()),
        };
        let Some(key_id) = auth::choose_key(offered, &keys.ids()) else {
            let [a, b, c, d] = peer;
            peer_warn!(peer, "{}: refusing {}.{}.{}.{}: it holds none of our cluster keys\n", conn.what, a, b, c, d);
            let _ = conn.send(&Message::Error { code: 1, message: "no shared key" });
            return Err(EPERM);
        };
        let key = keys.get(key_id).ok_or(EPERM)?;
        let mut ours = [0u8; NONCE_LEN];
        random::fill(&mut ours)?;
        conn.send(&Message::AuthChallenge { nonce: &ours, key_id })?;
        let session = auth::session_key(key, &theirs, &ours, key_id).map_err(|_| EINVAL)?;
        conn.auth = Some((FrameMac::new(KeyedMac::new(&session)?).map_err(|_| EINVAL)?, Session::new(Side::Server)));
        Ok(conn)
    }

    /// Connects to cluster member `host` (address from `ips/ip-<host>`) on the class's
    /// port and exchanges `Hello`s; `Ok(None)` while the address is unknown. Used by the
    /// fetch and sync clients (members only, unlike the metadata exchange).
    pub(crate) fn connect_member(ctx: &Context, host: &str, class: Traffic, max_payload: usize) -> Result<Option<Conn>> {
        let tree = Tree { clock: &ctx.clock };
        let Some(addr) = tree.read(&address_link(host)?)? else { return Ok(None) };
        let addr = parse_ipv4(text(&addr)?).ok_or(EINVAL)?;
        let Some(ours) = tree.cluster_uuid()? else { return Ok(None) };
        let me = host_name()?;
        let to = Endpoint { addr, port: class.port() };
        let Some(mut conn) = Conn::connect(to, class, max_payload)? else { return Ok(None) };
        let what = conn.what;
        conn.send(&Message::Hello { cluster: text(&ours)?, host: text(&me)?, lamport_ns: ctx.clock.peek(), flags: 0 })?;
        match conn.recv()? {
            Message::Hello { lamport_ns, .. } => ctx.clock.observe(lamport_ns),
            Message::Error { message, .. } => {
                peer_warn!(addr, "{}: {} refused us: {}\n", what, host, escaped(message));
                return Err(EPERM);
            }
            _ => return Err(protocol_error()),
        }
        Ok(Some(conn))
    }

    /// Server side of [`Conn::connect_member`]: accepts only members of our cluster.
    pub(crate) fn accept_member(ctx: &Context, sock: Socket, class: Traffic, max_payload: usize) -> Result<Conn> {
        let tree = Tree { clock: &ctx.clock };
        let Some(ours) = tree.cluster_uuid()? else { return Err(ENOENT) };
        let me = host_name()?;
        let peer = peer_addr(&sock);
        let mut conn = Conn::accept(sock, class, max_payload)?;
        let what = conn.what;
        match conn.recv()? {
            Message::Hello { cluster, host, lamport_ns, .. } => {
                ctx.clock.observe(lamport_ns);
                if cluster != text(&ours)? {
                    let [a, b, c, d] = peer;
                    peer_warn!([a, b, c, d], "{}: refusing {} at {}.{}.{}.{}: cluster {} is not ours\n", what, escaped(host), a, b, c, d, escaped(cluster));
                    let _ = conn.send(&Message::Error { code: 1, message: "foreign cluster" });
                    return Err(EPERM);
                }
            }
            _ => return Err(protocol_error()),
        }
        conn.send(&Message::Hello { cluster: text(&ours)?, host: text(&me)?, lamport_ns: ctx.clock.peek(), flags: 0 })?;
        Ok(conn)
    }

    /// Sends an error reply (best effort: the connection is closed next anyway).
    pub(crate) fn refuse(&mut self, code: u32, message: &str) {
        peer_warn!(peer_addr(&self.sock), "{}: refusing request: {}\n", self.what, message);
        let _ = self.send(&Message::Error { code, message });
    }

    /// The protocol version of the frames sent: the connection's (a server's newest
    /// before the client's first frame).
    fn send_version(&self) -> u16 {
        self.version.unwrap_or(PROTOCOL_VERSION)
    }

    /// Sends one frame, tagged once the connection is authenticated.
    pub(crate) fn send(&mut self, m: &Message<'_>) -> Result {
        let version = self.send_version();
        let n = m.encode(version, &mut self.buf[FRAME..]).map_err(|_| EINVAL)?;
        self.seal_and_send(n)
    }

    /// Sends a `LogData` reply for `offset` without copying its data: `read` fills the
    /// room for it in the frame buffer (at most `max` bytes, starting at a [`DIRECT_ALIGN`]
    /// boundary, for direct I/O) and returns how many bytes it put there;
    /// `file_size(n)` is the size to report with them.
    pub(crate) fn send_log_data(&mut self, offset: u64, max: usize, read: impl FnOnce(&mut [u8]) -> Result<usize>, file_size: impl FnOnce(usize) -> u64) -> Result {
        const DATA: usize = FRAME + HEADER_LEN + LOG_DATA_AT;
        let room = self.buf.len().saturating_sub(DATA + FRAME_TAG_LEN).min(max);
        let n = read(&mut self.buf[DATA..DATA + room])?;
        if n > room {
            return Err(EINVAL);
        }
        let version = self.send_version();
        let len = encode_log_data_in_place(&mut self.buf[FRAME..], version, offset, file_size(n), n).map_err(|_| EINVAL)?;
        self.seal_and_send(len)
    }

    /// Tags the frame of `n` bytes at [`FRAME`] once the connection is authenticated,
    /// and sends it.
    fn seal_and_send(&mut self, mut n: usize) -> Result {
        if let Some((mac, session)) = &mut self.auth {
            n = session.seal(mac, &mut self.buf[LEAD..], n).map_err(|_| EINVAL)?;
        }
        self.sock.send_all(&self.buf[FRAME..FRAME + n])
    }

    /// Receives from now on end at `at_ns` (real time) at the latest, with `ETIMEDOUT`.
    pub(crate) fn receive_until(&mut self, at_ns: u64) {
        self.until = Some(at_ns);
    }

    /// Receives and validates one frame; a bad one is logged and an error (the caller
    /// closes the connection).
    pub(crate) fn recv(&mut self) -> Result<Message<'_>> {
        const H: usize = FRAME;
        let deadline = [self.unproven.map(|(_, d)| d), self.until].into_iter().flatten().min();
        self.sock.recv_exact_until(&mut self.buf[H..H + HEADER_LEN], deadline)?;
        let header = match decode_header(&self.buf[H..]) {
            Ok(header) => header,
            Err(WireError::UnsupportedVersion(v)) if self.version.is_none() => {
                // A client's first frame: tell it which versions are spoken here.
                peer_warn!(peer_addr(&self.sock), "{}: a client speaking protocol {}: refused (this host speaks {} to {})\n",
                    self.what, v, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION);
                let _ = self.send(&Message::Error { code: UNSUPPORTED_VERSION, message: "protocol version not spoken here" });
                return Err(protocol_error());
            }
            Err(e) => {
                peer_warn!(peer_addr(&self.sock), "{}: bad frame header: {}\n", self.what, e);
                return Err(protocol_error());
            }
        };
        let Some(version) = frame_version(self.version, self.auth.is_some(), header.version, header.kind) else {
            peer_warn!(peer_addr(&self.sock), "{}: a frame of protocol {} on a connection of {}\n", self.what, header.version, self.send_version());
            return Err(protocol_error());
        };
        self.version = Some(version);
        self.peer_version = header.version;
        let len = header.payload_len as usize;
        if len > self.max_payload {
            peer_warn!(peer_addr(&self.sock), "{}: frame of {} bytes too large\n", self.what, len);
            return Err(protocol_error());
        }
        let tag = if self.auth.is_some() { FRAME_TAG_LEN } else { 0 };
        self.sock.recv_exact_until(&mut self.buf[H + HEADER_LEN..H + HEADER_LEN + len + tag], deadline)?;
        self.class.received().fetch_add((HEADER_LEN + len + tag) as u64, Ordering::Relaxed);
        if let Some((mac, session)) = &mut self.auth {
            // Nothing of a frame is used before its tag is checked.
            session.open(mac, &mut self.buf[LEAD..], HEADER_LEN + len).map_err(|e| {
                peer_warn!(peer_addr(&self.sock), "{}: {}: closing the connection\n", self.what, e);
                protocol_error()
            })?;
        }
        if self.auth.is_some() {
            self.proven()?;
        }
        let payload = &self.buf[H + HEADER_LEN..H + HEADER_LEN + len];
        check_payload(&header, payload).and_then(|()| Message::decode(header.kind, payload)).map_err(|e| {
            peer_warn!(peer_addr(&self.sock), "{}: bad message: {}\n", self.what, e);
            protocol_error()
        })
    }
}

/// The traffic class as log lines name it.
fn class_name(class: Traffic) -> &'static str {
    match class {
        Traffic::Meta => "metadata",
        Traffic::Replication => "fetch",
        Traffic::Sync => "sync",
    }
}

/// A tree value as text (without the trailing newline some tools add).
pub(crate) fn text(v: &[u8]) -> Result<&str> {
    core::str::from_utf8(v).map(str::trim_end).map_err(|_| EINVAL)
}

/// A copy of `s` that outlives the frame it came in (or a thread's arguments).
pub(crate) fn owned(s: &str) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(s.as_bytes(), GFP_KERNEL)?;
    Ok(v)
}

/// Address of the other end of `sock` for log lines (`0.0.0.0` if unknown).
pub(crate) fn peer_addr(sock: &Socket) -> [u8; 4] {
    sock.peer().map_or([0; 4], |p| p.addr)
}

/// The address listeners bind to: this host's replication address (`ips/ip-<me>`), or
/// all addresses while it is unknown.
pub(crate) fn listen_address(ctx: &Context) -> [u8; 4] {
    let tree = Tree { clock: &ctx.clock };
    let own = || -> Result<Option<[u8; 4]>> {
        let me = host_name()?;
        let Some(addr) = tree.read(&address_link(text(&me)?)?)? else { return Ok(None) };
        Ok(parse_ipv4(text(&addr)?))
    };
    own().ok().flatten().unwrap_or([0; 4])
}

/// A connection being served by its own thread.
struct Open {
    addr: [u8; 4],
    /// Handle to shut the connection down when the listener stops.
    sock: Socket,
    /// Set by the thread when it has served the connection.
    done: Arc<AtomicBool>,
    _thread: Thread,
}

/// A listener on the class's port: one thread accepts, each connection is served by a
/// thread of its own (at most `connlimit::MAX_PER_PORT`, `MAX_PER_PEER` per address;
/// more are closed at once), and a connection silent for the class's `tcp_timeout` is
/// closed (the socket's receive timeout). Dropping the listener stops it at once: the
/// listening socket and every open connection are shut down, the threads joined.
pub(crate) struct Listener {
    socket: Socket,
    stopping: Arc<AtomicBool>,
    _thread: Thread,
}

impl Listener {
    /// Listens on `class`'s port of `wanted`; each connection is served by `serve` with
    /// the server's `state`.
    pub(crate) fn start<T: Send + Sync + 'static>(state: Arc<T>, class: Traffic, name: &CStr, wanted: [u8; 4], serve: fn(&T, Socket) -> Result) -> Result<Listener> {
        let port = class.port();
        let socket = match Socket::listen(Endpoint { addr: wanted, port }, 16) {
            Err(e) if is_addr_not_available(e) && wanted != [0; 4] => {
                // Our address as the others know it is not on this host (NAT).
                let [a, b, c, d] = wanted;
                pr_warn!("{}.{}.{}.{} is not a local address: listening on port {} of all addresses\n", a, b, c, d, port);
                Socket::listen(Endpoint { addr: [0; 4], port }, 16)?
            }
            other => other?,
        };
        let stopping = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
        let (l, s) = (socket.share(), stopping.clone());
        let what = class_name(class);
        // Shown by `ps` (15 characters at most): mars_srv_metadata is cut, still clear.
        let conn_name = CString::try_from_fmt(fmt!("mars_srv_{}", what))?;
        let thread = Thread::spawn(name, move || {
            let _noio = NoIoScope::enter();
            // The slots of the connections served (fewer if memory is short).
            let mut open: KVec<Option<Open>> = KVec::new();
            for _ in 0..MAX_PER_PORT {
                if open.push(None, GFP_KERNEL).is_err() {
                    break;
                }
            }
            while !s.load(Ordering::Acquire) && !thread::should_stop() {
                let sock = match l.accept() {
                    Ok(sock) => sock,
                    Err(_) => {
                        // Stopped (the loop ends), or out of memory for a moment.
                        thread::sleep_ms(10);
                        continue;
                    }
                };
                // Threads that have served their connection are joined (at once: done).
                for slot in open.iter_mut() {
                    if slot.as_ref().is_some_and(|o| o.done.load(Ordering::Acquire)) {
                        *slot = None;
                    }
                }
                let addr = peer_addr(&sock);
                let verdict = admit(open.iter().flatten().map(|o| &o.addr), addr);
                let Some(free) = open.iter_mut().find(|o| o.is_none()).filter(|_| verdict == Admission::Admit) else {
                    let [a, b, c, d] = addr;
                    let why = if verdict == Admission::PeerFull { "too many open from this address" } else { "too many open connections" };
                    peer_warn!(addr, "{}: closing a connection from {}.{}.{}.{}: {}\n", what, a, b, c, d, why);
                    continue;
                };
                // Idle deadline from the first byte on (the serving `Conn` sets it again).
                sock.set_timeouts(i64::from(class.tuning().tcp_timeout.load(Ordering::Relaxed)));
                let Ok(done) = Arc::new(AtomicBool::new(false), GFP_KERNEL) else { continue };
                let (handle, own, flag, state) = (sock.share(), sock.share(), done.clone(), state.clone());
                let served = Thread::spawn(&conn_name, move || {
                    let _noio = NoIoScope::enter();
                    if let Err(e) = serve(&state, sock) {
                        pr_debug!("connection ended: {:?}\n", e);
                    }
                    // The slot's handle keeps the socket until the next accept: end the
                    // connection now, so the peer sees the close at once (scenario 46).
                    own.shutdown();
                    flag.store(true, Ordering::Release);
                });
                match served {
                    Ok(t) => *free = Some(Open { addr, sock: handle, done, _thread: t }),
                    Err(e) => peer_warn!(addr, "{}: cannot start a thread for a connection: {:?}\n", what, e),
                }
            }
            // Stop: end every connection at once, then join their threads.
            for o in open.iter().flatten() {
                o.sock.shutdown();
            }
            drop(open);
        })?;
        Ok(Listener { socket, stopping, _thread: thread })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // accept() returns once the socket is shut down; the thread then sees the flag,
        // shuts down the open connections and joins their threads (dropping `_thread`
        // waits for all that).
        self.stopping.store(true, Ordering::Release);
        self.socket.shutdown();
    }
}
