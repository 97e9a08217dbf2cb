//! Network fuzzing (`mars-hostile fuzz`): for a given time and seed, random and mutated
//! frames at the three ports of a running server — garbage before authentication, and,
//! with the cluster key, authenticated sessions whose later frames are mutated but
//! correctly tagged, so they reach the decoders and request handlers behind the
//! authentication. The same seed gives the same frames (nonces aside).
//!
//! Before authentication the server may only close, send an untagged `Error`, or
//! challenge a valid `AuthHello`; anything else is counted as a breach.

use std::net::Shutdown;
use std::time::{Duration, Instant};

use mars_core::splitmix::SplitMix64;
use mars_core::wire::{Kind, Message, HEADER_LEN, MAX_SYNC_READ, SYNC_BLOCK};

use super::attacks::Known;
use super::{fix_crcs, frame, random_bytes, Creds, Got, HandshakeOpts, Port, Session, Target};

/// Random choices of the fuzzer (and the crash states): mars-core's SplitMix64.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Counts of one port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortStats {
    pub connections: u64,
    pub authenticated: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub connect_failures: u64,
}

/// The result of a fuzz run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ports: [PortStats; 3],
    /// What the server said before authentication that it must not have.
    pub breaches: Vec<String>,
    pub elapsed: Duration,
}

impl Stats {
    pub fn line(&self, seed: u64) -> String {
        let per: Vec<String> = Port::ALL
            .iter()
            .zip(&self.ports)
            .map(|(p, s)| {
                format!(
                    "{} {} connections ({} authenticated, {} failed to connect), {} frames sent, {} received",
                    p.name(),
                    s.connections,
                    s.authenticated,
                    s.connect_failures,
                    s.frames_sent,
                    s.frames_received
                )
            })
            .collect();
        format!("fuzz: seed {seed}, {} s: {}; {} breaches", self.elapsed.as_secs(), per.join("; "), self.breaches.len())
    }
}

/// Field values that make handlers work hard or go wrong.
struct Dict {
    paths: Vec<String>,
    resources: Vec<String>,
    logs: Vec<String>,
    offsets: Vec<u64>,
    lens: Vec<u32>,
}

impl Dict {
    fn new(k: Option<&Known>) -> Dict {
        let (res, log, size) = k.map(|k| (k.res.clone(), k.log.clone(), k.size)).unwrap_or(("r0".into(), "log-000000001-node1".into(), 64 << 20));
        let lp = format!("resource-{res}/{log}");
        Dict {
            paths: vec![
                lp.clone(),
                format!("resource-{res}/log-000000001-node1"),
                format!("resource-{res}/log-999999999-node2"),
                format!("resource-{res}/../../etc/shadow"),
                "../etc/passwd".into(),
                "/etc/passwd".into(),
                "uuid".into(),
                "cluster.key".into(),
                "ips".into(),
                "resource-".into(),
                "actual-".into(),
                "uuid|ips|resource-|actual-".into(),
                format!("resource-{res}"),
                format!("resource-{res}/size"),
                "a".repeat(4096),
                format!("{lp}/x"),
                String::new(),
            ],
            resources: vec![res, "nosuch".into(), "../x".into(), String::new(), "r".repeat(200)],
            logs: vec![log, "log-000000001-node1".into(), "log-999999999-node1".into(), "log-1-x".into(), "log-4294967295-node1".into()],
            offsets: vec![0, 1, 512, 4096, 65536, size, size.saturating_sub(65536), size + 65536, 1 << 62, u64::MAX, u64::MAX - 65535, 1 << 32],
            lens: vec![0, 1, 512, 4096, SYNC_BLOCK, 2 * SYNC_BLOCK, MAX_SYNC_READ, MAX_SYNC_READ + 512, 64 << 20, u32::MAX, 1 << 31],
        }
    }

    fn offset(&self, r: &mut Rng) -> u64 {
        if r.chance(80) {
            *r.pick(&self.offsets)
        } else {
            r.next_u64()
        }
    }

    fn len(&self, r: &mut Rng) -> u32 {
        if r.chance(80) {
            *r.pick(&self.lens)
        } else {
            r.next_u64() as u32
        }
    }
}

/// A message of any kind with field values from the dictionary, encoded.
fn message(r: &mut Rng, d: &Dict, port: Port) -> Vec<u8> {
    let path = r.pick(&d.paths).clone();
    let res = r.pick(&d.resources).clone();
    let log = r.pick(&d.logs).clone();
    let n = r.below(1024);
    let data = r.bytes(n);
    let nonce: [u8; 32] = r.bytes(32).try_into().unwrap();
    let (off, len) = (d.offset(r), d.len(r));
    // Mostly the port's own requests.
    let kind = if r.chance(70) {
        match port {
            Port::Meta => 3,
            Port::Fetch => 6,
            Port::Sync => *r.pick(&[8, 9, 11, 13]),
        }
    } else {
        1 + r.below(16)
    };
    let m = match kind {
        1 => Message::Hello { cluster: &res, host: "fuzz", lamport_ns: 0, flags: 0 },
        2 => Message::Error { code: r.next_u64() as u32, message: &path },
        3 => Message::GetTree { dirs: &path },
        4 => Message::TreeEntry { path: &path, value: &log, stamp_ns: off },
        5 => Message::TreeEnd { lamport_ns: 0 },
        6 => Message::FetchLog { path: &path, offset: off, max_len: len },
        7 => Message::LogData { offset: off, file_size: d.offset(r), data: &data },
        8 => Message::SyncStart { res: &res, from_log: &log, from_pos: off },
        9 => Message::SyncSums { offset: off, len },
        10 => Message::Sums { offset: off, sums: &data },
        11 => Message::SyncRead { offset: off, len },
        12 => Message::SyncData { offset: off, data: &data },
        13 => Message::SyncEnd,
        14 => Message::SyncPos { log: &log, pos: off },
        15 => Message::AuthHello { nonce: &nonce, key_id: r.next_u64(), alt_key_id: r.next_u64() },
        _ => Message::AuthChallenge { nonce: &nonce, key_id: r.next_u64() },
    };
    frame(&m)
}

/// Mutates a frame: bit flips, byte overwrites, cuts, insertions, a random kind; then,
/// mostly, makes the header's length and checksums fit again so the frame passes the
/// framing and reaches the message decoder.
fn mutate(r: &mut Rng, mut f: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + r.below(4) {
        match r.below(7) {
            0 if !f.is_empty() => {
                let i = r.below(f.len());
                f[i] ^= 1 << r.below(8);
            }
            1 if !f.is_empty() => {
                let i = r.below(f.len());
                let any = r.next_u64() as u8;
                f[i] = *r.pick(&[0, 0xff, 0x7f, 0x80, b'/', b'.', any]);
            }
            2 if f.len() > HEADER_LEN => {
                let keep = HEADER_LEN + r.below(f.len() - HEADER_LEN);
                f.truncate(keep);
            }
            3 => {
                let n = 1 + r.below(64);
                let extra = r.bytes(n);
                let at = HEADER_LEN.min(f.len()) + r.below(f.len().saturating_sub(HEADER_LEN) + 1);
                f.splice(at..at, extra);
            }
            4 if f.len() >= HEADER_LEN => {
                let k = (r.below(20) as u16).to_le_bytes();
                f[6..8].copy_from_slice(&k);
            }
            5 if f.len() > HEADER_LEN + 2 => {
                // A string length prefix at a random place set to something large.
                let i = HEADER_LEN + r.below(f.len() - HEADER_LEN - 1);
                let n = (*r.pick(&[0xffffu16, 4097, 4096, 0])).to_le_bytes();
                f[i..i + 2].copy_from_slice(&n);
            }
            _ => {}
        }
    }
    if f.len() >= HEADER_LEN && r.chance(85) {
        let len = (f.len() - HEADER_LEN) as u32;
        f[8..12].copy_from_slice(&len.to_le_bytes());
        if r.chance(90) {
            fix_crcs(&mut f);
        }
    }
    f
}

/// One connection without authentication.
fn pre_auth(t: &Target, r: &mut Rng, d: &Dict, port: Port, creds: Option<&Creds>, st: &mut Stats) {
    let Ok(mut link) = t.connect(port) else {
        st.ports[port as usize].connect_failures += 1;
        return;
    };
    let ps = &mut st.ports[port as usize];
    ps.connections += 1;
    let mut bytes = Vec::new();
    let frames = 1 + r.below(3);
    for _ in 0..frames {
        let f = match r.below(4) {
            0 => {
                let n = r.below(1024);
                r.bytes(n)
            }
            1 => {
                let m = message(r, d, port);
                mutate(r, m)
            }
            2 => {
                let nonce: [u8; 32] = random_bytes();
                let id = match creds {
                    Some(c) if r.chance(50) => c.key_id(),
                    _ => r.next_u64() | 1,
                };
                let f = frame(&Message::AuthHello { nonce: &nonce, key_id: id, alt_key_id: 0 });
                if r.chance(50) {
                    mutate(r, f)
                } else {
                    f
                }
            }
            _ => message(r, d, port),
        };
        bytes.extend_from_slice(&f);
        ps.frames_sent += 1;
    }
    let _ = link.send(&bytes);
    let _ = link.stream.shutdown(Shutdown::Write);
    let (first, _) = link.recv(false);
    let mut answers = vec![first];
    if matches!(answers[0], Got::Frame { kind: Kind::AuthChallenge, .. }) {
        // Challenged: what follows is tagged, and after our untagged garbage it must be
        // nothing but the close.
        answers.extend(link.drain(true, 4));
    }
    for g in &answers {
        match g {
            Got::Frame { kind: Kind::Error, .. } => ps.frames_received += 1,
            Got::Frame { kind: Kind::AuthChallenge, .. } if std::ptr::eq(g, &answers[0]) => ps.frames_received += 1,
            Got::Frame { .. } | Got::Garbage(_) => {
                ps.frames_received += 1;
                st.breaches.push(format!("{}: before authentication the server sent {}", port.name(), g.describe()));
                if st.breaches.len() > 20 {
                    st.breaches.truncate(20);
                }
            }
            Got::Closed | Got::Silent => {}
        }
    }
}

/// One authenticated session whose requests are mutated, correctly tagged.
fn authenticated(t: &Target, r: &mut Rng, d: &Dict, port: Port, creds: &Creds, st: &mut Stats) {
    let ps = &mut st.ports[port as usize];
    let mut s = match Session::open(t, port, creds, &HandshakeOpts::default()) {
        Ok(s) => s,
        Err(_) => {
            ps.connect_failures += 1;
            return;
        }
    };
    ps.connections += 1;
    ps.authenticated += 1;
    for _ in 0..1 + r.below(6) {
        let f = message(r, d, port);
        let f = if r.chance(60) { mutate(r, f) } else { f };
        let sealed = s.seal(&f);
        if s.link.send(&sealed).is_err() {
            break;
        }
        ps.frames_sent += 1;
        // Read the answer (a tree listing ends with TreeEnd).
        let mut end = false;
        loop {
            match s.recv() {
                Ok((Got::Frame { kind, .. }, _)) => {
                    ps.frames_received += 1;
                    if kind != Kind::TreeEntry {
                        break;
                    }
                }
                _ => {
                    end = true;
                    break;
                }
            }
        }
        if end {
            break;
        }
    }
}

/// Fuzzes `t` for `duration`. With `creds`, half of the connections are authenticated.
pub fn run(t: &Target, creds: Option<&Creds>, known: Option<&Known>, duration: Duration, seed: u64) -> Stats {
    let mut r = Rng::new(seed);
    let d = Dict::new(known);
    let mut st = Stats::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        let port = *r.pick(&Port::ALL);
        match creds {
            Some(c) if r.chance(50) => authenticated(t, &mut r, &d, port, c, &mut st),
            _ => pre_auth(t, &mut r, &d, port, creds, &mut st),
        }
    }
    st.elapsed = start.elapsed();
    st
}
