//! The attacks of `mars-hostile` (issue 10): each returns a [`Verdict`].
//!
//! What a server may answer an attacker: nothing (it closes the connection), an untagged
//! `Error` before authentication, an `AuthChallenge` to an `AuthHello` naming a key it
//! holds (nonce and key id are public), and to a member's bad request a tagged `Error`.
//! Anything else — a `Hello` (it carries the uuid), tree entries, log or disk bytes, bytes
//! named by [`Forbidden`] — is a breach, and so is a connection left open after a frame
//! that must end it.

use mars_core::auth::{FRAME_TAG_LEN, KEY_LEN};
use mars_core::tree::ReplayLink;
use mars_core::tree::ANY_CLUSTER;
use mars_core::wire::{Kind, Message, MAX_SYNC_READ, OLDEST_PROTOCOL_VERSION, SYNC_BLOCK};

use super::{fix_crcs, frame, random_bytes, with_version, Creds, Got, HandshakeError, HandshakeOpts, Link, Port, Session, Target, Verdict};

/// Byte strings that must never reach the attacker (the cluster uuid, file contents).
#[derive(Debug, Clone, Default)]
pub struct Forbidden(pub Vec<Vec<u8>>);

impl Forbidden {
    /// Always forbidden: the start of `/etc/passwd`, and of the testbed's `/etc/group`.
    pub fn with_defaults(mut extra: Vec<Vec<u8>>) -> Forbidden {
        extra.push(b"root:x:0:".to_vec());
        Forbidden(extra)
    }

    fn found_in(&self, bytes: &[u8]) -> Option<String> {
        self.0
            .iter()
            .find(|f| !f.is_empty() && bytes.windows(f.len()).any(|w| w == f.as_slice()))
            .map(|f| format!("received the forbidden bytes \"{}\"", String::from_utf8_lossy(f)))
    }
}

/// Records one attempt: `bad` (what it got that it should not have), and any forbidden
/// bytes among everything the link received.
fn judge(v: &mut Verdict, what: &str, link: &Link, forbidden: &Forbidden, bad: Option<String>) {
    v.attempts += 1;
    if let Some(b) = bad {
        v.breaches.push(format!("{what}: {b}"));
    } else if let Some(b) = forbidden.found_in(&link.received) {
        v.breaches.push(format!("{what}: {b}"));
    }
}

/// The first reply that is not allowed in `got`, given the allowed kinds; a silent
/// server counts as one that kept the connection open.
fn first_bad(got: &[Got], allowed: &[Kind]) -> Option<String> {
    for g in got {
        match g {
            Got::Closed => return None,
            Got::Frame { kind, .. } if allowed.contains(kind) => {}
            Got::Silent => return Some("the connection stayed open (silence until the timeout, no close)".into()),
            other => return Some(format!("got {}", other.describe())),
        }
    }
    None
}

/// The request a port serves, harmless and valid, for a member of a cluster with resource
/// `res` whose logfile `log` exists.
fn request<'a>(port: Port, res: &'a str, log: &'a str, log_path: &'a str) -> Message<'a> {
    match port {
        Port::Meta => Message::GetTree { dirs: "uuid|ips|resource-|actual-" },
        Port::Fetch => Message::FetchLog { path: log_path, offset: 0, max_len: 4096 },
        Port::Sync => Message::SyncStart { res, from_log: log, from_pos: 0 },
    }
}

/// (a) No key: the old protocol's open door (`Hello` with cluster `(any)`), requests
/// before authentication, and an `AuthHello` with key ids the server cannot hold.
pub fn no_key(t: &Target, forbidden: &Forbidden) -> Verdict {
    let mut v = Verdict::new("no-key");
    let (res, log) = ("r0", "log-000000001-node1");
    let log_path = "resource-r0/log-000000001-node1";
    for port in Port::ALL {
        let p = port.name();
        let hello_any = Message::Hello { cluster: ANY_CLUSTER, host: "intruder", lamport_ns: 0, flags: 0 };
        let attempts: Vec<(String, Vec<u8>)> = vec![
            (format!("{p}: v1 Hello (any) + request"), [with_version(frame(&hello_any), 1), with_version(frame(&request(port, res, log, log_path)), 1)].concat()),
            (format!("{p}: v2 untagged Hello (any)"), frame(&hello_any)),
            (format!("{p}: v2 untagged request"), frame(&request(port, res, log, log_path))),
            (format!("{p}: random bytes"), random_bytes::<512>().to_vec()),
        ];
        for (what, bytes) in attempts {
            let Ok(mut link) = t.connect(port) else {
                v.inconclusive = Some(format!("cannot connect to the {p} port"));
                return v;
            };
            let _ = link.send(&bytes);
            let got = link.drain(false, 8);
            let bad = first_bad(&got, &[Kind::Error]);
            judge(&mut v, &what, &link, forbidden, bad);
        }
        // An AuthHello with ids of keys nobody holds; then carry on as if accepted.
        let stranger: [u8; KEY_LEN] = random_bytes();
        let other: [u8; KEY_LEN] = random_bytes();
        let (id, alt) = (super::key_id_of(&stranger), super::key_id_of(&other));
        for (what, alt) in [(format!("{p}: AuthHello with an unknown key id"), 0), (format!("{p}: AuthHello with two unknown key ids"), alt)] {
            let Ok(mut link) = t.connect(port) else { continue };
            let nonce: [u8; 32] = random_bytes();
            let _ = link.send_plain(&Message::AuthHello { nonce: &nonce, key_id: id, alt_key_id: alt });
            let (first, _) = link.recv(false);
            let bad = match first {
                Got::Closed => None,
                Got::Frame { kind: Kind::Error, .. } => first_bad(&link.drain(false, 4), &[]),
                other => Some(format!("got {} to unknown key ids", other.describe())),
            };
            judge(&mut v, &what, &link, forbidden, bad);
        }
    }
    v
}

/// (b) The right key id, tags made with a wrong key: the server may challenge, then must
/// close at the first tagged frame.
pub fn wrong_key(t: &Target, creds: &Creds, forbidden: &Forbidden) -> Verdict {
    let mut v = Verdict::new("wrong-key");
    let wrong: [u8; KEY_LEN] = random_bytes();
    let opts = HandshakeOpts { tag_key: Some(wrong) };
    for port in Port::ALL {
        match Session::open(t, port, creds, &opts) {
            Ok(mut s) => {
                let _ = s.send(&request(port, "r0", "log-000000001-node1", "resource-r0/log-000000001-node1"));
                let got = s.link.drain(true, 4);
                let bad = Some(format!("the server accepted our Hello ({}), then {}", s.server_host, got.first().map(Got::describe).unwrap_or_default()));
                judge(&mut v, &format!("{}: Hello tagged with a wrong key", port.name()), &s.link, forbidden, bad);
            }
            Err(HandshakeError::NoHello(Got::Closed)) => v.attempts += 1,
            Err(HandshakeError::Refused(g)) => {
                v.inconclusive = Some(format!("{}: the server did not challenge the right key id (got {}): is the key file the cluster's?", port.name(), g.describe()));
                return v;
            }
            Err(e) => {
                v.attempts += 1;
                v.breaches.push(format!("{}: after a wrongly tagged Hello: {e}", port.name()));
            }
        }
    }
    v
}

/// What a member learns from the primary's tree: its name, the resource's size and the
/// logfile its replay link names.
#[derive(Debug, Clone)]
pub struct Known {
    pub server: String,
    pub res: String,
    pub log: String,
    pub size: u64,
}

impl Known {
    pub fn log_path(&self) -> String {
        format!("resource-{}/{}", self.res, self.log)
    }
}

/// Pulls the primary's tree as a member and finds resource `res`'s logfile and size.
pub fn learn(t: &Target, creds: &Creds, res: &str) -> Result<Known, String> {
    let mut s = Session::open(t, Port::Meta, creds, &HandshakeOpts::default()).map_err(|e| format!("meta session: {e}"))?;
    s.send(&Message::GetTree { dirs: "resource-" }).map_err(|e| e.to_string())?;
    let (mut log, mut size) = (None, None);
    let dir = format!("resource-{res}/");
    for g in s.recv_until_not(Kind::TreeEntry, 100_000) {
        let Got::Frame { kind, payload } = g else { return Err(format!("tree listing ended with {}", g.describe())) };
        match Message::decode(kind, &payload) {
            Ok(Message::TreeEntry { path, value, .. }) => {
                let Some(name) = path.strip_prefix(&dir) else { continue };
                if name == format!("replay-{}", s.server_host) {
                    log = ReplayLink::parse(value).ok().map(|r| r.log.to_string());
                } else if name == "size" {
                    size = value.trim().parse().ok();
                }
            }
            Ok(Message::TreeEnd { .. }) => break,
            _ => return Err(format!("tree listing: unexpected {kind:?}")),
        }
    }
    Ok(Known {
        server: s.server_host.clone(),
        res: res.into(),
        log: log.ok_or_else(|| format!("no resource-{res}/replay-{} in the primary's tree", s.server_host))?,
        size: size.ok_or_else(|| format!("no resource-{res}/size in the primary's tree"))?,
    })
}

/// A legitimate exchange on `port`: the request and the reply it must get.
fn legit(s: &mut Session, port: Port, k: &Known) -> Result<(), String> {
    let lp = k.log_path();
    s.send(&request(port, &k.res, &k.log, &lp)).map_err(|e| e.to_string())?;
    let want = match port {
        Port::Meta => Kind::TreeEnd,
        Port::Fetch => Kind::LogData,
        Port::Sync => Kind::SyncPos,
    };
    let got = s.recv_until_not(Kind::TreeEntry, 100_000);
    match got.last() {
        Some(Got::Frame { kind, .. }) if *kind == want => {}
        other => return Err(format!("{}: legitimate request answered with {}", port.name(), other.map(Got::describe).unwrap_or_default())),
    }
    if port == Port::Sync {
        s.send(&Message::SyncSums { offset: 0, len: SYNC_BLOCK }).map_err(|e| e.to_string())?;
        match s.recv() {
            Ok((Got::Frame { kind: Kind::Sums, .. }, _)) => {}
            Ok((g, _)) => return Err(format!("sync: SyncSums answered with {}", g.describe())),
            Err(()) => return Err("sync: bad tag from the server".into()),
        }
    }
    Ok(())
}

/// (c) Replay: a member's whole conversation on each port, recorded and sent again
/// verbatim on a new connection. The server may challenge again (a fresh nonce), then
/// must close.
pub fn replay(t: &Target, creds: &Creds, k: &Known, forbidden: &Forbidden) -> Verdict {
    let mut v = Verdict::new("replay");
    for port in Port::ALL {
        let p = port.name();
        let recorded = match Session::open(t, port, creds, &HandshakeOpts::default()) {
            Ok(mut s) => match legit(&mut s, port, k) {
                Ok(()) => s.link.sent.clone(),
                Err(e) => {
                    v.inconclusive = Some(e);
                    return v;
                }
            },
            Err(e) => {
                v.inconclusive = Some(format!("{p}: a member's session failed: {e}"));
                return v;
            }
        };
        for (what, bytes) in [(format!("{p}: recorded session replayed"), recorded.clone()), (format!("{p}: recorded session replayed twice in one go"), [recorded.clone(), recorded].concat())] {
            let Ok(mut link) = t.connect(port) else { continue };
            let _ = link.send(&bytes);
            let (first, _) = link.recv(false);
            let bad = match first {
                Got::Closed => None,
                Got::Frame { kind: Kind::AuthChallenge | Kind::Error, .. } => first_bad(&link.drain(true, 4), &[]),
                other => Some(format!("got {}", other.describe())),
            };
            judge(&mut v, &what, &link, forbidden, bad);
        }
    }
    v
}

/// (d) Tampering inside a member's session: a changed frame under its old tag, a flipped
/// tag bit, two frames swapped, a frame tagged for the other direction, a frame without
/// tag, a frame sent twice, a rightly tagged frame of another protocol version than the
/// session's. Each must close the connection with nothing more said.
pub fn tamper(t: &Target, creds: &Creds, k: &Known, forbidden: &Forbidden) -> Verdict {
    let mut v = Verdict::new("tamper");
    let lp = k.log_path();
    for port in Port::ALL {
        let p = port.name();
        let req = frame(&request(port, &k.res, &k.log, &lp));
        let other = match port {
            Port::Meta => frame(&Message::GetTree { dirs: "uuid|ipt|resource-|actual-" }),
            Port::Fetch => frame(&Message::FetchLog { path: &lp, offset: 1, max_len: 4096 }),
            Port::Sync => frame(&Message::SyncStart { res: &k.res, from_log: &k.log, from_pos: 1 }),
        };
        type Tampering = fn(&mut Session, &[u8], &[u8]) -> Vec<u8>;
        let cases: [(&str, Tampering); 7] = [
            ("another valid frame under this one's tag", |s, req, other| {
                // `other` is a valid request of the same length: only the tag is wrong.
                let mut sealed = s.seal(req);
                sealed[..other.len()].copy_from_slice(other);
                sealed
            }),
            ("a flipped bit in the tag", |s, req, _| {
                let mut sealed = s.seal(req);
                let at = sealed.len() - FRAME_TAG_LEN / 2;
                sealed[at] ^= 0x10;
                sealed
            }),
            ("two frames swapped", |s, req, other| {
                let first = s.seal(other);
                let second = s.seal(req);
                [second, first].concat()
            }),
            ("a frame tagged as the server's", |s, req, _| s.seal_as_server(req)),
            ("frames without tags", |_, req, other| [req, other, req].concat()),
            ("the same frame twice", |s, req, _| {
                let sealed = s.seal(req);
                [sealed.clone(), sealed].concat()
            }),
            ("a frame of the other protocol version, tagged", |s, req, _| {
                // The session speaks the newest version; this frame's tag is right.
                s.seal(&with_version(req.to_vec(), OLDEST_PROTOCOL_VERSION))
            }),
        ];
        for (what, tampering) in cases {
            let what = format!("{p}: {what}");
            let mut s = match Session::open(t, port, creds, &HandshakeOpts::default()) {
                Ok(s) => s,
                Err(e) => {
                    v.inconclusive = Some(format!("{what}: a member's session failed: {e}"));
                    return v;
                }
            };
            let bytes = tampering(&mut s, &req, &other);
            let _ = s.link.send(&bytes);
            let got = s.link.drain(true, 200);
            // "The same frame twice": the first copy is legitimate and answered.
            let got: Vec<Got> = if what.ends_with("twice") { skip_answer(port, got) } else { got };
            let bad = first_bad(&got, &[]);
            judge(&mut v, &what, &s.link, forbidden, bad);
        }
    }
    v
}

/// `got` without the answer to one legitimate request on `port`.
fn skip_answer(port: Port, got: Vec<Got>) -> Vec<Got> {
    let end = match port {
        Port::Meta => Kind::TreeEnd,
        Port::Fetch => Kind::LogData,
        Port::Sync => Kind::SyncPos,
    };
    match got.iter().position(|g| matches!(g, Got::Frame { kind, .. } if *kind == end)) {
        Some(i) => got[i + 1..].to_vec(),
        None => got,
    }
}

/// (e) A malicious member: paths outside the logfiles, unknown resources, ranges beyond
/// the disk, huge lengths. Allowed answers: a tagged `Error`, or a close; the server must
/// still serve members afterwards.
pub fn member(t: &Target, creds: &Creds, k: &Known, forbidden: &Forbidden) -> Verdict {
    let mut v = Verdict::new("member");
    let res = &k.res;
    let log_path = k.log_path();
    let fetch_paths = [
        format!("resource-{res}/../../etc/passwd"),
        format!("resource-{res}/{}/../../../etc/passwd", k.log),
        "/etc/passwd".into(),
        format!("/mars/{log_path}"),
        "../etc/passwd".into(),
        "cluster.key".into(),
        "uuid".into(),
        format!("resource-{res}/size"),
        format!("resource-{res}/replay-{}", k.server),
        format!("resource-{res}/data-{}", k.server),
        format!("resource-{res}/log-1-{}", k.server),
        format!("resource-{res}/{}.tmp", k.log),
        format!("resource-{res}//{}", k.log),
        format!("resource-nosuch/{}", k.log),
        format!("resource-{res}/log-000000000-{}", k.server),
        format!("resource-{res}"),
        // (a NUL, which the encoder refuses: written as '~', replaced below)
        format!("{log_path}~"),
    ];
    for p in &fetch_paths {
        let mut f = frame(&Message::FetchLog { path: p, offset: 0, max_len: 4096 });
        if let Some(at) = f.iter().position(|&b| b == b'~') {
            f[at] = 0;
            fix_crcs(&mut f);
        }
        attempt(t, creds, &mut v, forbidden, Port::Fetch, &format!("fetch {:?}", p.replace('~', "\\0")), &f, &[Kind::Error]);
    }
    for (what, offset, max_len) in [("fetch the log from offset 2^64-1", u64::MAX, 4096), ("fetch the log from offset 2^63", 1 << 63, 4096)] {
        attempt(t, creds, &mut v, forbidden, Port::Fetch, what, &frame(&Message::FetchLog { path: &log_path, offset, max_len }), &[Kind::Error]);
    }
    // Lengths the decoder refuses (beyond a frame): a log chunk of the allowed size at most.
    attempt(t, creds, &mut v, forbidden, Port::Fetch, "fetch the log with max_len 2^32-1", &frame(&Message::FetchLog { path: &log_path, offset: 0, max_len: u32::MAX }), &[Kind::Error, Kind::LogData]);
    for (what, r) in [("sync start of an unknown resource", "nosuch"), ("sync start of resource \"../etc\"", "../etc"), ("sync start of resource \"\"", "")] {
        attempt(t, creds, &mut v, forbidden, Port::Sync, what, &frame(&Message::SyncStart { res: r, from_log: &k.log, from_pos: 0 }), &[Kind::Error]);
    }
    let block = u64::from(SYNC_BLOCK);
    let end = k.size.div_ceil(block) * block;
    let reads: [(&str, Message<'_>); 9] = [
        ("sync read of the block after the disk's end", Message::SyncRead { offset: end, len: SYNC_BLOCK }),
        ("sync read across the disk's end", Message::SyncRead { offset: end - block, len: 2 * SYNC_BLOCK }),
        ("sync read at 2^62", Message::SyncRead { offset: 1 << 62, len: SYNC_BLOCK }),
        ("sync read at the last block of 2^64", Message::SyncRead { offset: u64::MAX - (block - 1), len: SYNC_BLOCK }),
        ("sync read of 2^32-1 bytes", Message::SyncRead { offset: 0, len: u32::MAX }),
        ("sync read of one sector more than allowed", Message::SyncRead { offset: 0, len: MAX_SYNC_READ + 512 }),
        ("sync read of 0 bytes", Message::SyncRead { offset: 0, len: 0 }),
        ("sync sums after the disk's end", Message::SyncSums { offset: end, len: SYNC_BLOCK }),
        ("sync sums of 2^32-512 bytes", Message::SyncSums { offset: 0, len: u32::MAX - 511 }),
    ];
    for (what, m) in reads {
        let start = frame(&Message::SyncStart { res, from_log: &k.log, from_pos: 0 });
        sync_attempt(t, creds, &mut v, forbidden, what, &start, &frame(&m));
    }
    // A header announcing a payload of 4 GiB (checksums right): the server must not wait
    // for it or allocate it.
    let mut huge = frame(&Message::GetTree { dirs: "uuid" });
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let c = mars_core::crc32c::crc32c(&huge[..20]);
    huge[20..24].copy_from_slice(&c.to_le_bytes());
    for port in Port::ALL {
        attempt(t, creds, &mut v, forbidden, port, &format!("{}: a frame header announcing 4 GiB", port.name()), &huge, &[]);
    }
    // Still serving members?
    for port in Port::ALL {
        let ok = Session::open(t, port, creds, &HandshakeOpts::default()).map_err(|e| e.to_string()).and_then(|mut s| legit(&mut s, port, k));
        if let Err(e) = ok {
            v.breaches.push(format!("after the attacks the {} port no longer serves a member: {e}", port.name()));
        }
    }
    v
}

/// One request as a member on a fresh session; its answers must be of `allowed` kinds
/// (tagged `Error` always is) and must end in a close if one is not a regular answer.
#[allow(clippy::too_many_arguments)]
fn attempt(t: &Target, creds: &Creds, v: &mut Verdict, forbidden: &Forbidden, port: Port, what: &str, req: &[u8], allowed: &[Kind]) {
    let mut s = match Session::open(t, port, creds, &HandshakeOpts::default()) {
        Ok(s) => s,
        Err(e) => {
            v.inconclusive = Some(format!("{what}: a member's session failed: {e}"));
            return;
        }
    };
    let sealed = s.seal(req);
    let _ = s.link.send(&sealed);
    let mut got = vec![match s.recv() {
        Ok((g, _)) => g,
        Err(()) => Got::Garbage(0),
    }];
    match &got[0] {
        // A regular answer: the server then waits for the next request.
        Got::Frame { kind, .. } if *kind != Kind::Error && allowed.contains(kind) => {}
        // A refusal: the server must close after it.
        Got::Frame { kind: Kind::Error, .. } => got.extend(s.link.drain(true, 2)),
        _ => {}
    }
    if let Some(Got::Frame { kind, .. }) = got.first() {
        if *kind != Kind::Error && allowed.contains(kind) {
            return judge(v, what, &s.link, forbidden, None);
        }
    }
    let mut allowed = allowed.to_vec();
    allowed.push(Kind::Error);
    judge(v, what, &s.link, forbidden, first_bad(&got, &allowed));
}

/// A legitimate `SyncStart`, then `req`: only `Error` or a close may follow.
fn sync_attempt(t: &Target, creds: &Creds, v: &mut Verdict, forbidden: &Forbidden, what: &str, start: &[u8], req: &[u8]) {
    let mut s = match Session::open(t, Port::Sync, creds, &HandshakeOpts::default()) {
        Ok(s) => s,
        Err(e) => {
            v.inconclusive = Some(format!("{what}: a member's session failed: {e}"));
            return;
        }
    };
    let sealed = s.seal(start);
    let _ = s.link.send(&sealed);
    match s.recv() {
        Ok((Got::Frame { kind: Kind::SyncPos, .. }, _)) => {}
        Ok((g, _)) => {
            v.inconclusive = Some(format!("{what}: a legitimate SyncStart was answered with {}", g.describe()));
            return;
        }
        Err(()) => {
            v.inconclusive = Some(format!("{what}: bad tag from the server"));
            return;
        }
    }
    let sealed = s.seal(req);
    let _ = s.link.send(&sealed);
    let got = s.link.drain(true, 4);
    judge(v, what, &s.link, forbidden, first_bad(&got, &[Kind::Error]));
}
