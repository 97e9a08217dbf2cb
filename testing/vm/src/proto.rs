//! Wire protocol between `testbed exec` (host) and `testbed-agent` (guest), carried over
//! the node's management link (qemu user networking, forwarded from 127.0.0.1 only).
//!
//! ```text
//! request  (host -> guest): "MTB1", u32 argc, argc x (u32 len, bytes)
//! frames   (both ways):     u8 kind, u32 len, len bytes
//!   guest -> host: STDOUT, STDERR (data), EXIT (i32 exit status; 128+N for signal N)
//!   host -> guest: STDIN (data), STDIN_EOF (empty)
//! ```
//! All integers are little-endian. Lengths are bounded so a corrupt peer cannot make
//! either side allocate without limit.

use std::io::{self, Read, Write};

pub const MAGIC: &[u8; 4] = b"MTB1";
/// TCP port the agent listens on inside the guest (management interface only).
pub const AGENT_PORT: u16 = 7700;
pub const MAX_ARGS: u32 = 4096;
pub const MAX_ARG_LEN: u32 = 1 << 20;
pub const MAX_FRAME: u32 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Stdout = 1,
    Stderr = 2,
    Exit = 3,
    Stdin = 4,
    StdinEof = 5,
}

impl Kind {
    fn from_u8(v: u8) -> io::Result<Kind> {
        Ok(match v {
            1 => Kind::Stdout,
            2 => Kind::Stderr,
            3 => Kind::Exit,
            4 => Kind::Stdin,
            5 => Kind::StdinEof,
            _ => return Err(invalid(format!("unknown frame kind {v}"))),
        })
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

pub fn write_request(w: &mut impl Write, argv: &[String]) -> io::Result<()> {
    let mut buf = Vec::new();
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(argv.len() as u32).to_le_bytes());
    for a in argv {
        buf.extend_from_slice(&(a.len() as u32).to_le_bytes());
        buf.extend_from_slice(a.as_bytes());
    }
    w.write_all(&buf)
}

pub fn read_request(r: &mut impl Read) -> io::Result<Vec<String>> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(invalid(format!("bad magic {magic:?}")));
    }
    let argc = read_u32(r)?;
    if argc == 0 || argc > MAX_ARGS {
        return Err(invalid(format!("argument count {argc} out of range")));
    }
    let mut argv = Vec::with_capacity(argc as usize);
    for _ in 0..argc {
        let len = read_u32(r)?;
        if len > MAX_ARG_LEN {
            return Err(invalid(format!("argument length {len} too large")));
        }
        let mut b = vec![0u8; len as usize];
        r.read_exact(&mut b)?;
        argv.push(String::from_utf8(b).map_err(|e| invalid(e.to_string()))?);
    }
    Ok(argv)
}

pub fn write_frame(w: &mut impl Write, kind: Kind, data: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + data.len());
    buf.push(kind as u8);
    buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
    buf.extend_from_slice(data);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut k = [0u8; 1];
    match r.read(&mut k)? {
        0 => return Ok(None),
        _ => {}
    }
    let kind = Kind::from_u8(k[0])?;
    let len = read_u32(r)?;
    if len > MAX_FRAME {
        return Err(invalid(format!("frame length {len} too large")));
    }
    let mut data = vec![0u8; len as usize];
    r.read_exact(&mut data)?;
    Ok(Some((kind, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo hi; exit 3".into(), String::new()];
        let mut buf = Vec::new();
        write_request(&mut buf, &argv).unwrap();
        assert_eq!(read_request(&mut &buf[..]).unwrap(), argv);
    }

    #[test]
    fn request_rejects_bad_magic_and_sizes() {
        assert!(read_request(&mut &b"XXXX\x01\0\0\0"[..]).is_err());
        assert!(read_request(&mut &b"MTB1\0\0\0\0"[..]).is_err());
        let mut huge = b"MTB1\x01\0\0\0".to_vec();
        huge.extend_from_slice(&(MAX_ARG_LEN + 1).to_le_bytes());
        assert!(read_request(&mut &huge[..]).is_err());
    }

    #[test]
    fn frames_round_trip_and_end() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Stdout, b"hello").unwrap();
        write_frame(&mut buf, Kind::Exit, &7i32.to_le_bytes()).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((Kind::Stdout, b"hello".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((Kind::Exit, 7i32.to_le_bytes().to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn frame_rejects_unknown_kind_and_truncation() {
        assert!(read_frame(&mut &[9u8, 0, 0, 0, 0][..]).is_err());
        assert!(read_frame(&mut &[1u8, 5, 0, 0, 0, b'a'][..]).is_err());
    }
}
