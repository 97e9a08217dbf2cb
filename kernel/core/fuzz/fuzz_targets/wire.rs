//! Network frames: `decode_header`, `check_payload`, `decode_frame`, `Message::decode`
//! of every kind. The first input byte picks a mode: raw bytes as received, or the
//! header's version, length and checksums made to fit (so the input reaches the payload
//! decoder); what decodes must encode and decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mars_core::crc32c::crc32c;
use mars_core::wire::{decode_frame, decode_header, Message, HEADER_LEN, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if mode & 1 == 1 && buf.len() >= HEADER_LEN {
        buf[..4].copy_from_slice(b"MRSW");
        // A version spoken here, by the mode's second bit.
        let version = if mode & 2 == 0 { PROTOCOL_VERSION } else { OLDEST_PROTOCOL_VERSION };
        buf[4..6].copy_from_slice(&version.to_le_bytes());
        let len = (buf.len() - HEADER_LEN) as u32;
        buf[8..12].copy_from_slice(&len.to_le_bytes());
        let c = crc32c(&buf[HEADER_LEN..]);
        buf[12..16].copy_from_slice(&c.to_le_bytes());
        buf[16..20].fill(0);
        let c = crc32c(&buf[..20]);
        buf[20..24].copy_from_slice(&c.to_le_bytes());
    }
    let _ = decode_header(&buf);
    if let Ok((v, m, n)) = decode_frame(&buf) {
        assert!(n <= buf.len());
        let mut out = vec![0u8; n + 16];
        let k = m.encode(v, &mut out).expect("a decoded message encodes");
        assert_eq!(decode_frame(&out[..k]), Ok((v, m, k)));
    }
    // The payload decoder of every kind, on the bytes after the header.
    if let Ok(h) = decode_header(&buf) {
        let _ = Message::decode(h.kind, buf.get(HEADER_LEN..).unwrap_or(&[]));
    }
});
