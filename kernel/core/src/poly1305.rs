//! Poly1305 (RFC 8439 §2.5), the one-time authenticator under the frame tags of protocol
//! version 3 (`auth::FrameMac`). Plain Rust in 26-bit limbs, as poly1305-donna: 25
//! 32×32-bit multiplications per 16 bytes, no tables, no secret-dependent branches or
//! memory accesses. Under an emulator it runs far faster than SHA-256 (docu/security.md).

/// Length of a Poly1305 key (`r` and `s`) and of its tag.
pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;

const MASK: u32 = 0x3ff_ffff;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Poly1305 state for one message.
pub struct Poly1305 {
    r: [u32; 5],
    /// `5 × r[1..]`, for the reduction modulo 2^130 − 5.
    s: [u32; 4],
    h: [u32; 5],
    pad: [u8; 16],
    /// Bytes of an unfinished block in `buf`.
    buf: [u8; 16],
    buffered: usize,
}

impl Poly1305 {
    /// Starts a tag under `key` (`r` ‖ `s`); `r` is clamped as the RFC says.
    pub fn new(key: &[u8; KEY_LEN]) -> Poly1305 {
        let r = [
            le32(key, 0) & 0x3ff_ffff,
            (le32(key, 3) >> 2) & 0x3ff_ff03,
            (le32(key, 6) >> 4) & 0x3ff_c0ff,
            (le32(key, 9) >> 6) & 0x3f0_3fff,
            (le32(key, 12) >> 8) & 0x00f_ffff,
        ];
        let mut pad = [0u8; 16];
        pad.copy_from_slice(&key[16..]);
        Poly1305 { r, s: [r[1] * 5, r[2] * 5, r[3] * 5, r[4] * 5], h: [0; 5], pad, buf: [0; 16], buffered: 0 }
    }

    /// Adds one 16-byte block; `hibit` is 2^128 for full blocks, 0 for the padded last one.
    fn block(&mut self, m: &[u8], hibit: u32) {
        let [r0, r1, r2, r3, r4] = self.r.map(u64::from);
        let [s1, s2, s3, s4] = self.s.map(u64::from);
        let h0 = u64::from(self.h[0] + (le32(m, 0) & MASK));
        let h1 = u64::from(self.h[1] + ((le32(m, 3) >> 2) & MASK));
        let h2 = u64::from(self.h[2] + ((le32(m, 6) >> 4) & MASK));
        let h3 = u64::from(self.h[3] + ((le32(m, 9) >> 6) & MASK));
        let h4 = u64::from(self.h[4] + ((le32(m, 12) >> 8) | hibit));
        let d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
        let mut d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
        let mut d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
        let mut d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
        let mut d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
        // Partial reduction: every limb back below 2^26 (h0 and h1 a little above).
        d1 += d0 >> 26;
        d2 += d1 >> 26;
        d3 += d2 >> 26;
        d4 += d3 >> 26;
        let mut h0 = (d0 as u32 & MASK) + (d4 >> 26) as u32 * 5;
        let h1 = (d1 as u32 & MASK) + (h0 >> 26);
        h0 &= MASK;
        self.h = [h0, h1, d2 as u32 & MASK, d3 as u32 & MASK, d4 as u32 & MASK];
    }

    /// Adds `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.buffered > 0 {
            let n = (16 - self.buffered).min(data.len());
            self.buf[self.buffered..self.buffered + n].copy_from_slice(&data[..n]);
            self.buffered += n;
            data = &data[n..];
            if self.buffered < 16 {
                return;
            }
            let b = self.buf;
            self.block(&b, 1 << 24);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(16);
        for b in &mut blocks {
            self.block(b, 1 << 24);
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The tag: `h` fully reduced modulo 2^130 − 5, plus `s`, modulo 2^128.
    pub fn finish(mut self) -> [u8; TAG_LEN] {
        if self.buffered > 0 {
            let mut last = [0u8; 16];
            last[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
            last[self.buffered] = 1;
            self.block(&last, 0);
        }
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        let mut c = h1 >> 26;
        h1 &= MASK;
        h2 += c;
        c = h2 >> 26;
        h2 &= MASK;
        h3 += c;
        c = h3 >> 26;
        h3 &= MASK;
        h4 += c;
        c = h4 >> 26;
        h4 &= MASK;
        h0 += c * 5;
        c = h0 >> 26;
        h0 &= MASK;
        h1 += c;
        // g = h + 5 − 2^130: if it does not borrow, h ≥ p and g is the reduced value.
        let mut g0 = h0 + 5;
        c = g0 >> 26;
        g0 &= MASK;
        let mut g1 = h1 + c;
        c = g1 >> 26;
        g1 &= MASK;
        let mut g2 = h2 + c;
        c = g2 >> 26;
        g2 &= MASK;
        let mut g3 = h3 + c;
        c = g3 >> 26;
        g3 &= MASK;
        let g4 = (h4 + c).wrapping_sub(1 << 26);
        // All ones when g did not borrow (take g), zero when it did (keep h).
        let take_g = (g4 >> 31).wrapping_sub(1);
        let keep_h = !take_g;
        h0 = (h0 & keep_h) | (g0 & take_g);
        h1 = (h1 & keep_h) | (g1 & take_g);
        h2 = (h2 & keep_h) | (g2 & take_g);
        h3 = (h3 & keep_h) | (g3 & take_g);
        h4 = (h4 & keep_h) | (g4 & take_g);
        // h mod 2^128 as four 32-bit words, plus s.
        let words = [h0 | (h1 << 26), (h1 >> 6) | (h2 << 20), (h2 >> 12) | (h3 << 14), (h3 >> 18) | (h4 << 8)];
        let mut tag = [0u8; TAG_LEN];
        let mut carry = 0u64;
        for (i, w) in words.into_iter().enumerate() {
            let f = u64::from(w) + u64::from(le32(&self.pad, 4 * i)) + carry;
            tag[4 * i..4 * i + 4].copy_from_slice(&(f as u32).to_le_bytes());
            carry = f >> 32;
        }
        tag
    }
}

/// The Poly1305 tag of `msg` under `key`.
pub fn poly1305(key: &[u8; KEY_LEN], msg: &[u8]) -> [u8; TAG_LEN] {
    let mut p = Poly1305::new(key);
    p.update(msg);
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc_8439_example() {
        // §2.5.2.
        let key: [u8; 32] = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b").try_into().unwrap();
        let tag = poly1305(&key, b"Cryptographic Forum Research Group");
        assert_eq!(tag.to_vec(), hex("a8061dc1305136c6c22b8baf0c0127a9"));
    }

    #[test]
    fn rfc_8439_reduction_edge_cases() {
        // After Appendix A.3, vectors 6 to 11 (expected tags checked with OpenSSL): h
        // reaching p, 2^130 and beyond in the final reduction, and the carries of the
        // last addition.
        let r2 = "02000000000000000000000000000000";
        let cases = [
            (format!("{r2}ffffffffffffffffffffffffffffffff"), "02000000000000000000000000000000", "03000000000000000000000000000000"),
            (format!("{r2}02000000000000000000000000000000"), "ffffffffffffffffffffffffffffffff", "05000000000000000000000000000000"),
            (
                format!("01000000000000000000000000000000{}", "0".repeat(32)),
                "fffffffffffffffffffffffffffffffff0ffffffffffffffffffffffffffffff11000000000000000000000000000000",
                "05000000000000000000000000000000",
            ),
            (
                format!("01000000000000000000000000000000{}", "0".repeat(32)),
                "fffffffffffffffffffffffffffffffffbfefefefefefefefefefefefefefefe01010101010101010101010101010101",
                "00000000000000000000000000000000",
            ),
            (format!("{r2}{}", "0".repeat(32)), "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff"),
            (
                format!("01000000000000000400000000000000{}", "0".repeat(32)),
                "e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000",
                "14000000000000005500000000000000",
            ),
        ];
        for (i, (key, msg, tag)) in cases.iter().enumerate() {
            let key: [u8; 32] = hex(key).try_into().unwrap();
            assert_eq!(poly1305(&key, &hex(msg)).to_vec(), hex(tag), "vector {}", i + 6);
        }
    }

    include!("poly1305_vectors.rs");

    #[test]
    fn matches_openssl_on_random_keys_and_lengths() {
        for (key, msg, tag) in VECTORS {
            let key: [u8; 32] = hex(key).try_into().unwrap();
            let msg = hex(msg);
            assert_eq!(poly1305(&key, &msg).to_vec(), hex(tag), "length {}", msg.len());
            // Fed in pieces of every size, the same tag.
            for step in [1, 3, 16, 17] {
                let mut p = Poly1305::new(&key);
                msg.chunks(step).for_each(|c| p.update(c));
                assert_eq!(p.finish().to_vec(), hex(tag), "length {} in pieces of {step}", msg.len());
            }
        }
    }
}
