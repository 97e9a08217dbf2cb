//! A hostile member as a server: the host whose tree a MARS host pulls (its address is
//! in the puller's `ips/`) and whose listing never ends. It speaks the server side of
//! the handshake with the cluster key, answers `Hello`, and sends `TreeEntry` frames
//! for names no tree has (refused by the puller without touching its disk) until the
//! puller closes the connection.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use mars_core::auth::{self, FrameMac, Side, FRAME_TAG_LEN, NONCE_LEN, SEQ_LEN};
use mars_core::wire::{Kind, Message};

use super::{frame, random_bytes, Creds, Got, HostMac, Link};

/// Serves endless listings on `addr:port` (one thread per connection) until killed;
/// `delay` between two entries (zero: as fast as the puller takes them).
pub fn endless_tree(addr: Ipv4Addr, port: u16, creds: &Creds, delay: Duration) -> io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((addr, port)))?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let creds = creds.clone();
        thread::spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            match serve(stream, &creds, delay) {
                Ok(n) => eprintln!("endless-tree: {peer}: closed after {n} entries"),
                Err(e) => eprintln!("endless-tree: {peer}: {e}"),
            }
        });
    }
    Ok(())
}

/// The server side of one connection; returns how many entries were sent.
fn serve(stream: TcpStream, creds: &Creds, delay: Duration) -> io::Result<u64> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    stream.set_nodelay(true)?;
    let mut link = Link { stream, sent: Vec::new(), received: Vec::new() };
    let id = creds.key_id();
    let nonce_c = match link.recv(false).0 {
        Got::Frame { kind: Kind::AuthHello, payload } => match Message::decode(Kind::AuthHello, &payload) {
            Ok(Message::AuthHello { nonce, key_id, alt_key_id }) if key_id == id || alt_key_id == id => *nonce,
            _ => return Err(bad("AuthHello without our key")),
        },
        g => return Err(bad(&format!("expected AuthHello, got {}", g.describe()))),
    };
    let nonce_s: [u8; NONCE_LEN] = random_bytes();
    link.send_plain(&Message::AuthChallenge { nonce: &nonce_s, key_id: id })?;
    let key = auth::session_key(&HostMac(creds.key), &nonce_c, &nonce_s, id).map_err(|_| bad("HMAC"))?;
    let mac = FrameMac::new(HostMac(key)).map_err(|_| bad("HMAC"))?;
    let mut counters = auth::Session::new(Side::Server);
    let recv = |link: &mut Link, counters: &mut auth::Session| -> io::Result<Kind> {
        let (got, whole) = link.recv(true);
        let (Got::Frame { kind, .. }, Some(whole)) = (got.clone(), whole) else {
            return Err(bad(&format!("expected a frame, got {}", got.describe())));
        };
        let mut buf = vec![0u8; SEQ_LEN + whole.len()];
        buf[SEQ_LEN..].copy_from_slice(&whole);
        counters.open(&mac, &mut buf, whole.len() - FRAME_TAG_LEN).map_err(|_| bad("wrong tag"))?;
        Ok(kind)
    };
    let send = |link: &mut Link, counters: &mut auth::Session, m: &Message<'_>| -> io::Result<()> {
        let f = frame(m);
        let mut buf = vec![0u8; SEQ_LEN + f.len() + FRAME_TAG_LEN];
        buf[SEQ_LEN..SEQ_LEN + f.len()].copy_from_slice(&f);
        let n = counters.seal(&mac, &mut buf, f.len()).map_err(|_| bad("seal"))?;
        // (Straight to the stream: `Link::send` would keep a copy of an endless listing.)
        io::Write::write_all(&mut link.stream, &buf[SEQ_LEN..SEQ_LEN + n])
    };
    if recv(&mut link, &mut counters)? != Kind::Hello {
        return Err(bad("expected Hello"));
    }
    send(&mut link, &mut counters, &Message::Hello { cluster: &creds.cluster, host: &creds.host, lamport_ns: 0, flags: 0 })?;
    if recv(&mut link, &mut counters)? != Kind::GetTree {
        return Err(bad("expected GetTree"));
    }
    let mut n = 0u64;
    loop {
        let path = format!("endless-{n}/x");
        if send(&mut link, &mut counters, &Message::TreeEntry { path: &path, value: "1", stamp_ns: 1 }).is_err() {
            return Ok(n);
        }
        n += 1;
        if !delay.is_zero() {
            thread::sleep(delay);
        }
    }
}
