//! The cluster key file (`parse_key`) and the frame tag check on received bytes
//! (`Session::open`, with any frame length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mars_core::auth::{format_key, parse_key, FrameMac, Mac, Session, Side, FRAME_TAG_LEN, SEQ_LEN, TAG_LEN};

/// A stand-in for HMAC (the fuzzer looks for panics in the layout and in Poly1305 on
/// any bytes, not for HMAC breaks).
struct Sum;

impl Mac for Sum {
    fn tag(&self, msg: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut t = [0u8; TAG_LEN];
        for (i, b) in msg.iter().enumerate() {
            t[i % TAG_LEN] = t[i % TAG_LEN].wrapping_add(*b);
        }
        Some(t)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = parse_key(data) {
        assert_eq!(parse_key(&format_key(&k)), Ok(k));
    }
    if data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let mut buf = data[2..].to_vec();
        let side = if len % 2 == 0 { Side::Client } else { Side::Server };
        let mac = FrameMac::new(Sum).expect("Sum never fails");
        let ok = Session::new(side).open(&mac, &mut buf, len).is_ok();
        if ok {
            assert!(SEQ_LEN + len + FRAME_TAG_LEN <= buf.len());
        }
    }
});
