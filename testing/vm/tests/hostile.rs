//! `mars-hostile`'s attacks and fuzzer on loopback, against a server double that follows
//! the rules of the protocol with the same core code as the module
//! (`mars_core::auth`, `mars_core::wire`, `mars_core::negotiate`). Each protection of the double can be removed
//! ([`Weakness`]): the attack aimed at it must then report a breach, so no verdict
//! passes for want of trying. The real tests run against mars.ko in the VM scenario
//! 46-hostile-client.sh.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use mars_core::auth::{self, FrameMac, Side, FRAME_TAG_LEN, KEY_LEN, NONCE_LEN, SEQ_LEN};
use mars_core::negotiate::frame_version;
use mars_core::tree::parse_log_path;
use mars_core::wire::{self, Kind, Message, HEADER_LEN, MAX_PAYLOAD};
use mars_testbed::hostile::attacks::{self, Forbidden};
use mars_testbed::hostile::{frame, fuzz, random_bytes, Creds, HostMac, Target};

const UUID: &str = "node1_1795322132.428840219";
const LOG: &[u8] = b"this is the logfile's content, 64 bytes long, more or less.....";
const DISK: usize = 1 << 20;

/// A protection the double can leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weakness {
    None,
    /// The same server nonce every time: recorded sessions replay.
    FixedNonce,
    /// Frame tags are not checked.
    NoTagCheck,
    /// The old protocol: an untagged `Hello` (any) is answered with the uuid.
    OpenHello,
    /// Fetch serves any path the decoder lets through, not only logfiles.
    AnyFetchPath,
    /// Frames of any version spoken are taken, not only the connection's.
    AnyVersion,
}

#[derive(Clone, Copy)]
struct Double {
    key: [u8; KEY_LEN],
    weak: Weakness,
}

struct Conn {
    s: TcpStream,
    mac: Option<FrameMac<HostMac>>,
    sess: auth::Session,
    weak: Weakness,
    /// The connection's protocol version, from the client's first frame.
    version: Option<u16>,
}

impl Conn {
    /// One frame (and its tag when the session is up); `None` ends the connection.
    fn recv(&mut self) -> Option<(Kind, Vec<u8>)> {
        let mut head = [0u8; HEADER_LEN];
        self.s.read_exact(&mut head).ok()?;
        let h = wire::decode_header(&head).ok()?;
        let same = frame_version(self.version, self.mac.is_some(), h.version, h.kind);
        self.version = Some(same.or((self.weak == Weakness::AnyVersion).then_some(h.version))?);
        let tagged = self.mac.is_some();
        let mut body = vec![0u8; h.payload_len as usize + if tagged { FRAME_TAG_LEN } else { 0 }];
        self.s.read_exact(&mut body).ok()?;
        if let Some(mac) = &self.mac {
            let mut buf = vec![0u8; SEQ_LEN + HEADER_LEN + body.len()];
            buf[SEQ_LEN..SEQ_LEN + HEADER_LEN].copy_from_slice(&head);
            buf[SEQ_LEN + HEADER_LEN..].copy_from_slice(&body);
            let ok = self.sess.open(mac, &mut buf, HEADER_LEN + h.payload_len as usize).is_ok();
            if !ok && self.weak != Weakness::NoTagCheck {
                return None;
            }
            body.truncate(h.payload_len as usize);
        }
        wire::check_payload(&h, &body).ok()?;
        Message::decode(h.kind, &body).ok()?;
        Some((h.kind, body))
    }

    fn send(&mut self, m: &Message<'_>) -> Option<()> {
        let f = frame(m);
        let out = match &self.mac {
            Some(mac) => {
                let mut buf = vec![0u8; SEQ_LEN + f.len() + FRAME_TAG_LEN];
                buf[SEQ_LEN..SEQ_LEN + f.len()].copy_from_slice(&f);
                let n = self.sess.seal(mac, &mut buf, f.len()).ok()?;
                buf[SEQ_LEN..SEQ_LEN + n].to_vec()
            }
            None => f,
        };
        self.s.write_all(&out).ok()
    }
}

fn serve(d: Double, port: usize, s: TcpStream) -> Option<()> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut c = Conn { s, mac: None, sess: auth::Session::new(Side::Server), weak: d.weak, version: None };
    let (kind, p) = c.recv()?;
    let (nonce_c, offered) = match Message::decode(kind, &p).ok()? {
        Message::AuthHello { nonce, key_id, alt_key_id } => (*nonce, [key_id, alt_key_id]),
        Message::Hello { .. } if d.weak == Weakness::OpenHello => {
            return c.send(&Message::Hello { cluster: UUID, host: "node1", lamport_ns: 1, flags: 0 });
        }
        _ => return None,
    };
    let ours = auth::key_id(&HostMac(d.key)).ok()?;
    let Some(id) = auth::choose_key(offered, &[ours]) else {
        return c.send(&Message::Error { code: 13, message: "no shared key" });
    };
    let nonce_s: [u8; NONCE_LEN] = if d.weak == Weakness::FixedNonce { [7; NONCE_LEN] } else { random_bytes() };
    c.send(&Message::AuthChallenge { nonce: &nonce_s, key_id: id })?;
    c.mac = Some(FrameMac::new(HostMac(auth::session_key(&HostMac(d.key), &nonce_c, &nonce_s, id).ok()?)).ok()?);
    let (kind, p) = c.recv()?;
    match Message::decode(kind, &p).ok()? {
        Message::Hello { cluster, .. } if cluster == UUID => {}
        Message::Hello { .. } => return c.send(&Message::Error { code: 1, message: "foreign cluster" }),
        _ => return None,
    }
    c.send(&Message::Hello { cluster: UUID, host: "node1", lamport_ns: 1, flags: 0 })?;
    let disk = vec![0x5au8; DISK];
    let mut syncing = false;
    loop {
        let (kind, p) = c.recv()?;
        match (port, Message::decode(kind, &p).ok()?) {
            (0, Message::GetTree { .. }) => {
                for (path, value) in [("uuid", UUID), ("ips/ip-node1", "10.77.0.1"), ("resource-r0/size", "1048576"), ("resource-r0/replay-node1", "log-000000001-node1,64,0")] {
                    c.send(&Message::TreeEntry { path, value, stamp_ns: 1 })?;
                }
                c.send(&Message::TreeEnd { lamport_ns: 1 })?;
            }
            (1, Message::FetchLog { path, offset, max_len }) => {
                let is_log = parse_log_path(path).is_some_and(|(r, n)| r == "r0" && n.nr == 1 && n.host == "node1");
                let data: &[u8] = if is_log {
                    LOG
                } else if d.weak == Weakness::AnyFetchPath {
                    b"root:x:0:0:root:/root:/bin/sh\n"
                } else {
                    return c.send(&Message::Error { code: 2, message: "not a logfile" });
                };
                let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
                    return c.send(&Message::Error { code: 3, message: "offset beyond the end of the logfile" });
                };
                let n = rest.len().min(max_len as usize);
                c.send(&Message::LogData { offset, file_size: data.len() as u64, data: &rest[..n] })?;
            }
            (2, Message::SyncStart { res, .. }) if !syncing => {
                if res != "r0" {
                    return c.send(&Message::Error { code: 2, message: "this host is not the primary of that resource" });
                }
                syncing = true;
                c.send(&Message::SyncPos { log: "log-000000001-node1", pos: 64 })?;
            }
            (2, Message::SyncSums { offset, len }) | (2, Message::SyncRead { offset, len }) if syncing && len <= 4 << 20 => {
                let end = offset.checked_add(u64::from(len)).filter(|e| *e <= DISK as u64);
                let Some(end) = end else {
                    return c.send(&Message::Error { code: 3, message: "range beyond the end of the resource" });
                };
                let data = &disk[offset as usize..end as usize];
                if kind == Kind::SyncRead {
                    c.send(&Message::SyncData { offset, data })?;
                } else {
                    let sums = vec![0u8; data.len().div_ceil(wire::SYNC_BLOCK as usize) * wire::SYNC_DIGEST_LEN];
                    c.send(&Message::Sums { offset, sums: &sums })?;
                }
            }
            (2, Message::SyncEnd) if syncing => {
                c.send(&Message::SyncPos { log: "log-000000001-node1", pos: 64 })?;
                return Some(());
            }
            _ => return None,
        }
    }
}

/// Starts a double on three consecutive loopback ports; returns the base port.
fn start(d: Double) -> u16 {
    for base in (20000u16..60000).step_by(97).skip(usize::from(random_bytes::<1>()[0])) {
        let ls: Vec<_> = (0..3).filter_map(|i| TcpListener::bind((Ipv4Addr::LOCALHOST, base + i)).ok()).collect();
        if ls.len() < 3 {
            continue;
        }
        for (port, l) in ls.into_iter().enumerate() {
            thread::spawn(move || {
                for s in l.incoming().flatten() {
                    thread::spawn(move || serve(d, port, s));
                }
            });
        }
        return base;
    }
    panic!("no three free loopback ports");
}

fn setup(weak: Weakness) -> (Target, Creds) {
    let key: [u8; KEY_LEN] = random_bytes();
    let base = start(Double { key, weak });
    // A weakened double leaves connections open that a sound one closes: each costs a
    // timeout, so keep it short there.
    let timeout = Duration::from_secs(if weak == Weakness::None { 3 } else { 1 });
    let t = Target { addr: Ipv4Addr::LOCALHOST, base_port: base, timeout };
    (t, Creds { key, cluster: UUID.into(), host: "node2".into() })
}

fn forbid_uuid() -> Forbidden {
    Forbidden::with_defaults(vec![UUID.as_bytes().to_vec()])
}

#[test]
fn every_attack_is_refused_by_a_sound_server() {
    let (t, c) = setup(Weakness::None);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    assert_eq!((k.log.as_str(), k.size, k.server.as_str()), ("log-000000001-node1", 1 << 20, "node1"));
    let f = Forbidden::with_defaults(vec![]);
    for v in [
        attacks::no_key(&t, &forbid_uuid()),
        attacks::wrong_key(&t, &c, &forbid_uuid()),
        attacks::replay(&t, &c, &k, &forbid_uuid()),
        attacks::tamper(&t, &c, &k, &f),
        attacks::member(&t, &c, &k, &f),
    ] {
        assert!(v.ok(), "{}", v.line());
        assert!(v.attempts >= 3, "{}", v.line());
    }
}

#[test]
fn the_old_open_hello_is_a_breach() {
    let (t, _) = setup(Weakness::OpenHello);
    let v = attacks::no_key(&t, &forbid_uuid());
    assert_eq!(v.status(), 1, "{}", v.line());
    assert!(v.line().contains("Hello from node1"), "{}", v.line());
}

#[test]
fn a_fixed_server_nonce_lets_the_replay_through() {
    let (t, c) = setup(Weakness::FixedNonce);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    let v = attacks::replay(&t, &c, &k, &forbid_uuid());
    assert_eq!(v.status(), 1, "{}", v.line());
    // The replayed sessions got the uuid, tree entries, log bytes, disk sums.
    for port in ["meta", "fetch", "sync"] {
        assert!(v.breaches.iter().any(|b| b.starts_with(port)), "{port}: {}", v.line());
    }
}

#[test]
fn unchecked_tags_are_breaches_of_tamper_and_wrong_key() {
    let (t, c) = setup(Weakness::NoTagCheck);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    let v = attacks::tamper(&t, &c, &k, &Forbidden::with_defaults(vec![]));
    assert_eq!(v.status(), 1, "{}", v.line());
    let v = attacks::wrong_key(&t, &c, &forbid_uuid());
    assert_eq!(v.status(), 1, "{}", v.line());
}

#[test]
fn a_frame_of_another_version_taken_is_a_breach_of_tamper() {
    let (t, c) = setup(Weakness::AnyVersion);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    let v = attacks::tamper(&t, &c, &k, &Forbidden::with_defaults(vec![]));
    assert_eq!(v.status(), 1, "{}", v.line());
    assert_eq!(v.breaches.len(), 3, "{}", v.line());
    assert!(v.breaches.iter().all(|b| b.contains("other protocol version")), "{}", v.line());
}

#[test]
fn serving_any_path_is_a_breach_of_member() {
    let (t, c) = setup(Weakness::AnyFetchPath);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    let v = attacks::member(&t, &c, &k, &Forbidden::with_defaults(vec![]));
    assert_eq!(v.status(), 1, "{}", v.line());
    assert!(v.line().contains("fetch \"cluster.key\": got LogData"), "{}", v.line());
}

#[test]
fn a_wrong_key_file_makes_member_attacks_inconclusive() {
    let (t, mut c) = setup(Weakness::None);
    c.key = random_bytes();
    assert!(attacks::learn(&t, &c, "r0").is_err());
    let v = attacks::wrong_key(&t, &c, &forbid_uuid());
    assert_eq!(v.status(), 2, "{}", v.line());
}

#[test]
fn fuzzing_a_sound_server_reaches_all_ports_and_finds_nothing() {
    let (t, c) = setup(Weakness::None);
    let k = attacks::learn(&t, &c, "r0").unwrap();
    let st = fuzz::run(&t, Some(&c), Some(&k), Duration::from_secs(3), 42);
    assert!(st.breaches.is_empty(), "{:?}", st.breaches);
    for p in &st.ports {
        assert!(p.connections > 10 && p.authenticated > 3 && p.frames_received > 0, "{}", st.line(42));
    }
    // The double stays sound after it.
    let v = attacks::member(&t, &c, &k, &Forbidden::with_defaults(vec![]));
    assert!(v.ok(), "{}", v.line());
}

#[test]
fn fuzzing_finds_the_open_hello() {
    let (t, _) = setup(Weakness::OpenHello);
    let st = fuzz::run(&t, None, None, Duration::from_secs(3), 7);
    assert!(!st.breaches.is_empty(), "{}", st.line(7));
}

#[test]
fn payload_limit_is_the_wire_limit() {
    // The client reads whole frames of the largest size the protocol allows.
    assert!(frame(&Message::LogData { offset: 0, file_size: 1 << 20, data: &vec![0; 1 << 20] }).len() <= HEADER_LEN + MAX_PAYLOAD as usize);
}
