//! A look at another cluster's tree (`merge-cluster`, `merge-cluster-check`): marsadm
//! connects to a host's metadata port as a joining host's module does
//! (docu/wire-protocol.md: key exchange, `Hello` with cluster `(any)`, one `GetTree`),
//! reads the listing and hangs up. A host presenting `(any)` is not registered, so the
//! look changes nothing on the other side.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use mars_core::auth::{self, FrameMac, Side, FRAME_TAG_LEN, KEY_LEN, NONCE_LEN, SEQ_LEN};
use mars_core::tree::ANY_CLUSTER;
use mars_core::wire::{self, Kind, Message, HEADER_LEN, PROTOCOL_VERSION};

use super::secret::HostMac;

/// What the listing asks for: addresses and resources (a merge needs no more).
const PREFIXES: &str = "ips|resource-";
/// Largest payload taken (the module's metadata limit).
const MAX_PAYLOAD: usize = 16 << 10;
/// Most entries taken (the module's limit for one pull).
const MAX_ENTRIES: usize = 1 << 18;

/// One symlink of the other host's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub value: String,
}

/// What the other host said.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Its cluster's uuid, from its `Hello`.
    pub uuid: String,
    pub entries: Vec<Entry>,
}

struct Conn {
    stream: TcpStream,
    tagged: Option<(FrameMac<HostMac>, auth::Session)>,
}

impl Conn {
    fn send(&mut self, m: &Message<'_>) -> Result<(), String> {
        let mut buf = vec![0u8; SEQ_LEN + HEADER_LEN + MAX_PAYLOAD + FRAME_TAG_LEN];
        let n = m.encode(PROTOCOL_VERSION, &mut buf[SEQ_LEN..]).map_err(|e| format!("cannot encode: {e:?}"))?;
        let n = match &mut self.tagged {
            Some((mac, session)) => session.seal(mac, &mut buf, n).map_err(|e| format!("cannot tag: {e:?}"))?,
            None => n,
        };
        self.stream.write_all(&buf[SEQ_LEN..SEQ_LEN + n]).map_err(|e| format!("cannot send: {e}"))
    }

    /// The next frame: its kind and payload (tag checked when the session has one).
    fn recv(&mut self) -> Result<(Kind, Vec<u8>), String> {
        let closed = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "it closed the connection".to_string(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "no answer in time".to_string(),
            _ => format!("cannot receive: {e}"),
        };
        let mut buf = vec![0u8; SEQ_LEN + HEADER_LEN];
        self.stream.read_exact(&mut buf[SEQ_LEN..]).map_err(closed)?;
        let header = wire::decode_header(&buf[SEQ_LEN..]).map_err(|e| format!("bad frame header: {e:?}"))?;
        let len = header.payload_len as usize;
        if len > MAX_PAYLOAD {
            return Err(format!("a frame of {len} bytes (at most {MAX_PAYLOAD} taken)"));
        }
        let tag = if self.tagged.is_some() { FRAME_TAG_LEN } else { 0 };
        buf.resize(SEQ_LEN + HEADER_LEN + len + tag, 0);
        self.stream.read_exact(&mut buf[SEQ_LEN + HEADER_LEN..]).map_err(closed)?;
        if let Some((mac, session)) = &mut self.tagged {
            session.open(mac, &mut buf, HEADER_LEN + len).map_err(|_| "a frame with a wrong tag".to_string())?;
        }
        let payload = buf[SEQ_LEN + HEADER_LEN..SEQ_LEN + HEADER_LEN + len].to_vec();
        wire::check_payload(&header, &payload).map_err(|e| format!("bad frame: {e:?}"))?;
        Ok((header.kind, payload))
    }
}

/// What an `Error` frame or an unexpected one says.
fn unexpected(kind: Kind, payload: &[u8], waiting_for: &str) -> String {
    match Message::decode(kind, payload) {
        Ok(Message::Error { message, .. }) => format!("it refused: {message}"),
        _ => format!("{kind:?} where {waiting_for} was expected"),
    }
}

/// Whether `uuid` has the shape of one `create-cluster` makes (`<host>_<stamp>`): it is
/// written into /mars/uuid and printed, so nothing else is taken.
fn plausible_uuid(uuid: &str) -> bool {
    (1..=128).contains(&uuid.len()) && uuid != ANY_CLUSTER && uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Reads the tree of the host at `addr:port` with cluster key `key`, presenting `me`.
pub fn look(addr: Ipv4Addr, port: u16, key: &[u8; KEY_LEN], me: &str, timeout: Duration) -> Result<Listing, String> {
    let stream = TcpStream::connect_timeout(&SocketAddr::from((addr, port)), timeout).map_err(|e| format!("cannot connect to port {port}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut conn = Conn { stream, tagged: None };
    let mut nonce_c = [0u8; NONCE_LEN];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut nonce_c)).map_err(|e| format!("/dev/urandom: {e}"))?;
    let id = auth::key_id(&HostMac(*key)).map_err(|e| format!("{e:?}"))?;
    conn.send(&Message::AuthHello { nonce: &nonce_c, key_id: id, alt_key_id: 0 })?;
    let (kind, payload) = conn.recv().map_err(|e| format!("key exchange: {e} (a host that holds none of our keys says nothing: is the secret file that cluster's?)"))?;
    let nonce_s = match Message::decode(kind, &payload) {
        Ok(Message::AuthChallenge { nonce, key_id }) if key_id == id => *nonce,
        _ => return Err(unexpected(kind, &payload, "the key exchange")),
    };
    let session = auth::session_key(&HostMac(*key), &nonce_c, &nonce_s, id).map_err(|e| format!("{e:?}"))?;
    conn.tagged = Some((FrameMac::new(HostMac(session)).map_err(|e| format!("{e:?}"))?, auth::Session::new(Side::Client)));
    conn.send(&Message::Hello { cluster: ANY_CLUSTER, host: me, lamport_ns: 0, flags: 0 })?;
    let (kind, payload) = conn.recv()?;
    let uuid = match Message::decode(kind, &payload) {
        Ok(Message::Hello { cluster, .. }) if plausible_uuid(cluster) => cluster.to_string(),
        Ok(Message::Hello { .. }) => return Err("its cluster uuid is not one create-cluster makes".into()),
        _ => return Err(unexpected(kind, &payload, "Hello")),
    };
    conn.send(&Message::GetTree { dirs: PREFIXES })?;
    let mut entries = Vec::new();
    loop {
        let (kind, payload) = conn.recv()?;
        match Message::decode(kind, &payload) {
            Ok(Message::TreeEntry { path, value, .. }) if entries.len() < MAX_ENTRIES => {
                entries.push(Entry { path: path.into(), value: value.into() })
            }
            Ok(Message::TreeEnd { .. }) => return Ok(Listing { uuid, entries }),
            Ok(Message::TreeEntry { .. }) => return Err(format!("more than {MAX_ENTRIES} entries")),
            _ => return Err(unexpected(kind, &payload, "the tree")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuids_as_create_cluster_makes_them() {
        assert!(plausible_uuid("node1_1796684864.030794924"));
        for bad in ["", ANY_CLUSTER, "../x", "a/b", "x\u{1b}[2J", "a b", &"x".repeat(129)] {
            assert!(!plausible_uuid(bad), "{bad:?}");
        }
    }
}
