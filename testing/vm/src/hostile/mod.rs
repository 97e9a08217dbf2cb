//! A hostile MARS peer for tests (`mars-hostile`): it speaks the wire protocol of
//! docu/wire-protocol.md (version 2, authenticated) with `mars_core::wire` and
//! `mars_core::auth`, and tries what an attacker on the replication network, or a
//! malicious member, would try. Each attack yields a [`Verdict`]: whether the server gave
//! it anything it should not have.
//!
//! Test-only: it ships in the testbed nodes' initramfs, never with MARS.

pub mod attacks;
pub mod fuzz;
pub mod server;

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use mars_core::auth::{self, FrameMac, Side, FRAME_TAG_LEN, KEY_LEN, NONCE_LEN, SEQ_LEN, TAG_LEN};
use mars_core::wire::{self, Kind, Message, HEADER_LEN, MAX_PAYLOAD, PROTOCOL_VERSION};
use mars_core::crc32c::crc32c;
use sha2::Sha256;

/// HMAC-SHA256 by the RustCrypto crates.
pub struct HostMac(pub [u8; KEY_LEN]);

impl auth::Mac for HostMac {
    fn tag(&self, msg: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        m.update(msg);
        Some(m.finalize().into_bytes().into())
    }
}

/// `n` bytes from the kernel's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).expect("/dev/urandom");
    b
}

/// The three ports of a MARS host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Meta,
    Fetch,
    Sync,
}

impl Port {
    pub const ALL: [Port; 3] = [Port::Meta, Port::Fetch, Port::Sync];

    pub fn name(self) -> &'static str {
        match self {
            Port::Meta => "meta",
            Port::Fetch => "fetch",
            Port::Sync => "sync",
        }
    }

    fn offset(self) -> u16 {
        match self {
            Port::Meta => 0,
            Port::Fetch => 1,
            Port::Sync => 2,
        }
    }
}

/// The server under attack.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: Ipv4Addr,
    pub base_port: u16,
    /// Bound on every connect and read (a silent server ends an attempt, it is no verdict).
    pub timeout: Duration,
}

impl Target {
    pub fn connect(&self, port: Port) -> io::Result<Link> {
        let to = SocketAddr::from((self.addr, self.base_port + port.offset()));
        let stream = TcpStream::connect_timeout(&to, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        stream.set_nodelay(true)?;
        Ok(Link { stream, sent: Vec::new(), received: Vec::new() })
    }
}

/// What a member knows: the cluster key, the cluster's uuid, its own name.
#[derive(Debug, Clone)]
pub struct Creds {
    pub key: [u8; KEY_LEN],
    pub cluster: String,
    pub host: String,
}

impl Creds {
    pub fn key_id(&self) -> u64 {
        auth::key_id(&HostMac(self.key)).expect("HMAC")
    }
}

/// The key id of `key`.
pub fn key_id_of(key: &[u8; KEY_LEN]) -> u64 {
    auth::key_id(&HostMac(*key)).expect("HMAC")
}

/// Encodes `m` as a whole frame.
pub fn frame(m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER_LEN + MAX_PAYLOAD as usize];
    let n = m.encode(PROTOCOL_VERSION, &mut buf).expect("encodable message");
    buf.truncate(n);
    buf
}

/// Recomputes both checksums of a frame in place (after a deliberate change): what
/// remains wrong is only what the change made wrong, not the CRCs.
pub fn fix_crcs(f: &mut [u8]) {
    if f.len() < HEADER_LEN {
        return;
    }
    let c = crc32c(&f[HEADER_LEN..]);
    f[12..16].copy_from_slice(&c.to_le_bytes());
    let c = crc32c(&f[..20]);
    f[20..24].copy_from_slice(&c.to_le_bytes());
}

/// `f` with another protocol version in its header (checksums fixed).
pub fn with_version(mut f: Vec<u8>, version: u16) -> Vec<u8> {
    f[4..6].copy_from_slice(&version.to_le_bytes());
    fix_crcs(&mut f);
    f
}

/// What came back from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// A frame that decodes (kind, payload), with the tag that followed it if one was
    /// expected.
    Frame { kind: Kind, payload: Vec<u8> },
    /// Bytes that are not a valid frame.
    Garbage(usize),
    /// The server closed the connection (or reset it).
    Closed,
    /// Nothing within the timeout.
    Silent,
}

impl Got {
    pub fn describe(&self) -> String {
        match self {
            Got::Frame { kind, payload } => match Message::decode(*kind, payload) {
                Ok(Message::Error { code, message }) => format!("Error {code} \"{message}\""),
                Ok(Message::Hello { cluster, host, .. }) => format!("Hello from {host} with cluster {cluster}"),
                _ => format!("{kind:?} ({} bytes)", payload.len()),
            },
            Got::Garbage(n) => format!("{n} bytes that are no frame"),
            Got::Closed => "closed".into(),
            Got::Silent => "silence".into(),
        }
    }
}

/// One TCP connection to the server, recording every byte both ways.
pub struct Link {
    pub stream: TcpStream,
    pub sent: Vec<u8>,
    pub received: Vec<u8>,
}

impl Link {
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(bytes);
        self.stream.write_all(bytes)
    }

    pub fn send_plain(&mut self, m: &Message<'_>) -> io::Result<()> {
        self.send(&frame(m))
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean or reset close before the
    /// first byte, `Err` on a timeout.
    fn read_all(&mut self, buf: &mut [u8]) -> Result<bool, Got> {
        let mut at = 0;
        while at < buf.len() {
            match self.stream.read(&mut buf[at..]) {
                Ok(0) => return if at == 0 { Ok(false) } else { Err(Got::Garbage(at)) },
                Ok(n) => {
                    self.received.extend_from_slice(&buf[at..at + n]);
                    at += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(if at == 0 { Got::Silent } else { Got::Garbage(at) })
                }
                Err(_) => return if at == 0 { Ok(false) } else { Err(Got::Garbage(at)) },
            }
        }
        Ok(true)
    }

    /// Receives one frame, and its tag if `tagged` (returned separately).
    pub fn recv(&mut self, tagged: bool) -> (Got, Option<Vec<u8>>) {
        let mut head = [0u8; HEADER_LEN];
        match self.read_all(&mut head) {
            Ok(true) => {}
            Ok(false) => return (Got::Closed, None),
            Err(g) => return (g, None),
        }
        let header = match wire::decode_header(&head) {
            Ok(h) => h,
            Err(_) => {
                // Drain what else there is, so the caller sees how much came.
                let mut rest = [0u8; 4096];
                let n = self.stream.read(&mut rest).unwrap_or(0);
                self.received.extend_from_slice(&rest[..n]);
                return (Got::Garbage(HEADER_LEN + n), None);
            }
        };
        let mut body = vec![0u8; header.payload_len as usize + if tagged { FRAME_TAG_LEN } else { 0 }];
        match self.read_all(&mut body) {
            Ok(true) => {}
            Ok(false) | Err(_) => return (Got::Garbage(HEADER_LEN), None),
        }
        let tag = tagged.then(|| body.split_off(header.payload_len as usize));
        if wire::check_payload(&header, &body).is_err() || Message::decode(header.kind, &body).is_err() {
            return (Got::Garbage(HEADER_LEN + body.len()), None);
        }
        let mut whole = head.to_vec();
        whole.extend_from_slice(&body);
        (Got::Frame { kind: header.kind, payload: body }, tag.map(|t| [whole, t].concat()))
    }

    /// Everything the server says until it closes or falls silent (at most `limit` frames).
    pub fn drain(&mut self, tagged: bool, limit: usize) -> Vec<Got> {
        let mut out = Vec::new();
        while out.len() < limit {
            let (g, _) = self.recv(tagged);
            let end = matches!(g, Got::Closed | Got::Silent | Got::Garbage(_));
            out.push(g);
            if end {
                break;
            }
        }
        out
    }
}

/// An authenticated connection (client side).
pub struct Session {
    pub link: Link,
    mac: FrameMac<HostMac>,
    counters: auth::Session,
    /// The server's `Hello`, as proof of the session.
    pub server_host: String,
}

/// Why a handshake did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    Io(String),
    /// The server answered `AuthHello` with something else (`Error`, a close, ...).
    Refused(Got),
    /// The server's tagged `Hello` did not come, or its tag is wrong.
    NoHello(Got),
    BadServerTag,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "{e}"),
            HandshakeError::Refused(g) => write!(f, "AuthHello answered with {}", g.describe()),
            HandshakeError::NoHello(g) => write!(f, "tagged Hello answered with {}", g.describe()),
            HandshakeError::BadServerTag => write!(f, "the server's tag is wrong"),
        }
    }
}

/// Options of a handshake, for attacks that break one part of it.
#[derive(Debug, Clone, Default)]
pub struct HandshakeOpts {
    /// Tag with this key instead of the right one (the key id stays the right key's).
    pub tag_key: Option<[u8; KEY_LEN]>,
}

impl Session {
    /// Runs the handshake on `port` and exchanges `Hello`s.
    pub fn open(t: &Target, port: Port, creds: &Creds, opts: &HandshakeOpts) -> Result<Session, HandshakeError> {
        let mut link = t.connect(port).map_err(|e| HandshakeError::Io(format!("connect to {} port: {e}", port.name())))?;
        let nonce_c: [u8; NONCE_LEN] = random_bytes();
        let id = creds.key_id();
        link.send_plain(&Message::AuthHello { nonce: &nonce_c, key_id: id, alt_key_id: 0 }).map_err(|e| HandshakeError::Io(e.to_string()))?;
        let (got, _) = link.recv(false);
        let nonce_s = match &got {
            Got::Frame { kind: Kind::AuthChallenge, payload } => match Message::decode(Kind::AuthChallenge, payload) {
                Ok(Message::AuthChallenge { nonce, key_id }) if key_id == id => *nonce,
                _ => return Err(HandshakeError::Refused(got)),
            },
            _ => return Err(HandshakeError::Refused(got)),
        };
        let key = opts.tag_key.unwrap_or(creds.key);
        let s = auth::session_key(&HostMac(key), &nonce_c, &nonce_s, id).expect("HMAC");
        let mut sess = Session { link, mac: FrameMac::new(HostMac(s)).expect("HMAC"), counters: auth::Session::new(Side::Client), server_host: String::new() };
        sess.send(&Message::Hello { cluster: &creds.cluster, host: &creds.host, lamport_ns: 0, flags: 0 })
            .map_err(|e| HandshakeError::Io(e.to_string()))?;
        match sess.recv() {
            Ok((Got::Frame { kind: Kind::Hello, payload }, _)) => {
                if let Ok(Message::Hello { host, .. }) = Message::decode(Kind::Hello, &payload) {
                    sess.server_host = host.to_string();
                }
                Ok(sess)
            }
            Ok((g, _)) => Err(HandshakeError::NoHello(g)),
            Err(()) => Err(HandshakeError::BadServerTag),
        }
    }

    /// `frame` (any bytes) with the next tag of this connection appended.
    pub fn seal(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; SEQ_LEN + frame.len() + FRAME_TAG_LEN];
        buf[SEQ_LEN..SEQ_LEN + frame.len()].copy_from_slice(frame);
        let n = self.counters.seal(&self.mac, &mut buf, frame.len()).expect("seal");
        buf[SEQ_LEN..SEQ_LEN + n].to_vec()
    }

    /// `frame` tagged as the server would tag its next frame (wrong direction).
    pub fn seal_as_server(&self, frame: &[u8]) -> Vec<u8> {
        let mut s = auth::Session::new(Side::Server);
        let mut buf = vec![0u8; SEQ_LEN + frame.len() + FRAME_TAG_LEN];
        buf[SEQ_LEN..SEQ_LEN + frame.len()].copy_from_slice(frame);
        let n = s.seal(&self.mac, &mut buf, frame.len()).expect("seal");
        buf[SEQ_LEN..SEQ_LEN + n].to_vec()
    }

    pub fn send(&mut self, m: &Message<'_>) -> io::Result<()> {
        let sealed = self.seal(&frame(m));
        self.link.send(&sealed)
    }

    /// Receives one tagged frame and checks its tag; `Err` for a wrong tag.
    #[allow(clippy::result_unit_err)]
    pub fn recv(&mut self) -> Result<(Got, Vec<u8>), ()> {
        let (got, whole) = self.link.recv(true);
        let Some(whole) = whole else { return Ok((got, Vec::new())) };
        let frame_len = whole.len().saturating_sub(FRAME_TAG_LEN);
        let mut buf = vec![0u8; SEQ_LEN + whole.len()];
        buf[SEQ_LEN..].copy_from_slice(&whole);
        self.counters.open(&self.mac, &mut buf, frame_len).map_err(|_| ())?;
        Ok((got, whole))
    }

    /// Frames until one that is not `kind` (returned last), or the end.
    pub fn recv_until_not(&mut self, kind: Kind, limit: usize) -> Vec<Got> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.recv() {
                Ok((g, _)) => {
                    let more = matches!(&g, Got::Frame { kind: k, .. } if *k == kind);
                    out.push(g);
                    if !more {
                        break;
                    }
                }
                Err(()) => {
                    out.push(Got::Garbage(0));
                    break;
                }
            }
        }
        out
    }
}

/// The outcome of one attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub attack: String,
    /// Attempts made.
    pub attempts: usize,
    /// What the server gave that it should not have (empty: every attempt was refused).
    pub breaches: Vec<String>,
    /// Why the attack could not be judged (its legitimate part failed).
    pub inconclusive: Option<String>,
}

impl Verdict {
    pub fn new(attack: &str) -> Verdict {
        Verdict { attack: attack.into(), attempts: 0, breaches: Vec::new(), inconclusive: None }
    }

    pub fn ok(&self) -> bool {
        self.breaches.is_empty() && self.inconclusive.is_none()
    }

    /// The one-line verdict.
    pub fn line(&self) -> String {
        if let Some(why) = &self.inconclusive {
            format!("{}: INCONCLUSIVE after {} attempts: {}", self.attack, self.attempts, why)
        } else if self.breaches.is_empty() {
            format!("{}: refused: all {} attempts got nothing", self.attack, self.attempts)
        } else {
            format!("{}: BREACH in {} of {} attempts: {}", self.attack, self.breaches.len(), self.attempts, self.breaches.join("; "))
        }
    }

    /// Exit status: 0 refused, 1 breach, 2 inconclusive.
    pub fn status(&self) -> i32 {
        if !self.breaches.is_empty() {
            1
        } else if self.inconclusive.is_some() {
            2
        } else {
            0
        }
    }
}

/// The protocol version of `f`'s header (for tests).
pub fn version_of(f: &[u8]) -> u16 {
    u16::from_le_bytes([f[4], f[5]])
}

/// The version this client speaks.
pub const VERSION: u16 = PROTOCOL_VERSION;
