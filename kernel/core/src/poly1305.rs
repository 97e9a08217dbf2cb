//! Poly1305 (RFC 8439 §2.5), the one-time authenticator under the frame tags of protocol
//! version 3 (`auth::FrameMac`). Plain Rust in three limbs of 44, 44 and 42 bits, as
//! poly1305-donna-64: 9 multiplications of 64 by 64 bits per 16 bytes (into u128, which
//! compiles to one `mul` each), no tables, no secret-dependent branches or memory
//! accesses. Under an emulator it runs far faster than SHA-256 (docu/security.md).

/// Length of a Poly1305 key (`r` and `s`) and of its tag.
pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;

const MASK44: u64 = 0xfff_ffff_ffff;
const MASK42: u64 = 0x3ff_ffff_ffff;

fn le64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// `a × b` in full (one `mul` on x86-64).
fn mul(a: u64, b: u64) -> u128 {
    u128::from(a).wrapping_mul(u128::from(b))
}

/// Poly1305 state for one message.
pub struct Poly1305 {
    r: [u64; 3],
    /// `20 × r[1..]`: the limbs' weights put `h2 × r1` and the like at 2^132 = 4 × 2^130,
    /// and 2^130 ≡ 5 modulo 2^130 − 5.
    s: [u64; 2],
    h: [u64; 3],
    pad: [u8; 16],
    /// Bytes of an unfinished block in `buf`.
    buf: [u8; 16],
    buffered: usize,
}

impl Poly1305 {
    /// Starts a tag under `key` (`r` ‖ `s`); `r` is clamped as the RFC says.
    pub fn new(key: &[u8; KEY_LEN]) -> Poly1305 {
        let (t0, t1) = (le64(key, 0), le64(key, 8));
        let r = [t0 & 0xffc_0fff_ffff, ((t0 >> 44) | (t1 << 20)) & 0xfff_ffc0_ffff, (t1 >> 24) & 0x00f_ffff_fc0f];
        let mut pad = [0u8; 16];
        pad.copy_from_slice(&key[16..]);
        Poly1305 { r, s: [r[1] * 20, r[2] * 20], h: [0; 3], pad, buf: [0; 16], buffered: 0 }
    }

    /// Adds one 16-byte block; `hibit` is 2^128 (in the top limb: 1 << 40) for full
    /// blocks, 0 for the padded last one. The limbs stay far from overflowing (h below
    /// 2^45 each, products below 2^97, their sums below 2^99): the arithmetic wraps
    /// rather than being checked, which kernel builds would do on every operation of
    /// this, the loop every byte of a frame goes through.
    fn block(&mut self, m: &[u8], hibit: u64) {
        let [r0, r1, r2] = self.r;
        let [s1, s2] = self.s;
        let (t0, t1) = (le64(m, 0), le64(m, 8));
        let h0 = self.h[0].wrapping_add(t0 & MASK44);
        let h1 = self.h[1].wrapping_add(((t0 >> 44) | (t1 << 20)) & MASK44);
        let h2 = self.h[2].wrapping_add(((t1 >> 24) & MASK42) | hibit);
        let d0 = mul(h0, r0).wrapping_add(mul(h1, s2)).wrapping_add(mul(h2, s1));
        let d1 = mul(h0, r1).wrapping_add(mul(h1, r0)).wrapping_add(mul(h2, s2));
        let d2 = mul(h0, r2).wrapping_add(mul(h1, r1)).wrapping_add(mul(h2, r0));
        // Partial reduction: every limb back to its width (h1 a little above).
        let d1 = d1.wrapping_add(d0 >> 44);
        let d2 = d2.wrapping_add(d1 >> 44);
        let h0 = (d0 as u64 & MASK44).wrapping_add(((d2 >> 42) as u64).wrapping_mul(5));
        let h1 = (d1 as u64 & MASK44).wrapping_add(h0 >> 44);
        self.h = [h0 & MASK44, h1, d2 as u64 & MASK42];
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
            self.block(&b, 1 << 40);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(16);
        for b in &mut blocks {
            self.block(b, 1 << 40);
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
        let [mut h0, mut h1, mut h2] = self.h;
        // Two rounds of carries bring every limb to its width, h below 2^130 + a little.
        for _ in 0..2 {
            let c = h1 >> 44;
            h1 &= MASK44;
            h2 += c;
            let c = h2 >> 42;
            h2 &= MASK42;
            h0 += c * 5;
            let c = h0 >> 44;
            h0 &= MASK44;
            h1 += c;
        }
        // g = h + 5 − 2^130: if it does not borrow, h ≥ p and g is the reduced value.
        let mut g0 = h0 + 5;
        let c = g0 >> 44;
        g0 &= MASK44;
        let mut g1 = h1 + c;
        let c = g1 >> 44;
        g1 &= MASK44;
        let g2 = (h2 + c).wrapping_sub(1 << 42);
        // All ones when g did not borrow (take g), zero when it did (keep h).
        let take_g = (g2 >> 63).wrapping_sub(1);
        let keep_h = !take_g;
        h0 = (h0 & keep_h) | (g0 & take_g);
        h1 = (h1 & keep_h) | (g1 & take_g);
        h2 = (h2 & keep_h) | (g2 & take_g);
        // h + s modulo 2^128.
        let (t0, t1) = (le64(&self.pad, 0), le64(&self.pad, 8));
        h0 += t0 & MASK44;
        let c = h0 >> 44;
        h0 &= MASK44;
        h1 += (((t0 >> 44) | (t1 << 20)) & MASK44) + c;
        let c = h1 >> 44;
        h1 &= MASK44;
        h2 = (h2 + ((t1 >> 24) & MASK42) + c) & MASK42;
        let lo = h0 | (h1 << 44);
        let hi = (h1 >> 20) | (h2 << 24);
        let mut tag = [0u8; TAG_LEN];
        tag[..8].copy_from_slice(&lo.to_le_bytes());
        tag[8..].copy_from_slice(&hi.to_le_bytes());
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
