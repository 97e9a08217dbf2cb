//! Formatting into a fixed buffer, without allocation (symlink values, sysctl lines),
//! and escaping of untrusted text for log lines.

use core::fmt;

/// Most bytes of an untrusted string [`Escaped`] prints; the rest is counted, not shown.
pub const MAX_ESCAPED: usize = 64;

/// Untrusted bytes (a peer's host name, cluster id, path or error message) made safe for
/// a log line: printable ASCII as is, a backslash as `\\`, every other byte (control
/// characters, newlines, escape sequences, non-ASCII) as `\xNN`; at most
/// [`MAX_ESCAPED`] bytes, then `...(+N bytes)`.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

/// [`Escaped`] of a string.
pub fn escaped(s: &str) -> Escaped<'_> {
    Escaped(s.as_bytes())
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(MAX_ESCAPED)];
        for &b in shown {
            match b {
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => fmt::Write::write_char(f, char::from(b))?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        if self.0.len() > shown.len() {
            write!(f, "...(+{} bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Formats `args` into `buf`; returns the text written, or `None` if it does not fit.
pub fn format_into<'a>(buf: &'a mut [u8], args: core::fmt::Arguments<'_>) -> Option<&'a str> {
    let mut w = Writer { buf, len: 0 };
    core::fmt::write(&mut w, args).ok()?;
    let len = w.len;
    core::str::from_utf8(&buf[..len]).ok()
}

struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_untrusted_bytes() {
        let show = |b: &[u8]| std::format!("{}", Escaped(b));
        assert_eq!(show(b"node-1 (any)"), "node-1 (any)");
        assert_eq!(show(b"a\nb\x1b[31m\\\x00"), "a\\x0ab\\x1b[31m\\\\\\x00");
        assert_eq!(show("ä".as_bytes()), "\\xc3\\xa4");
        assert_eq!(show(&[0x7f, 0xff]), "\\x7f\\xff");
        let long = [b'x'; MAX_ESCAPED + 10];
        assert_eq!(show(&long), std::format!("{}...(+10 bytes)", "x".repeat(MAX_ESCAPED)));
        assert_eq!(show(&long[..MAX_ESCAPED]), "x".repeat(MAX_ESCAPED));
        assert_eq!(std::format!("{:?}", escaped("a\"b")), "\"a\"b\"");
        // Nothing of a hostile string can end the line or start a terminal sequence.
        let all: std::vec::Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(MAX_ESCAPED) {
            assert!(show(chunk).bytes().all(|c| (0x20..=0x7e).contains(&c)));
        }
    }

    #[test]
    fn formats_and_refuses_overflow() {
        let mut buf = [0u8; 8];
        assert_eq!(format_into(&mut buf, format_args!("{}-{}", 12, "ab")), Some("12-ab"));
        assert_eq!(format_into(&mut buf, format_args!("{}", 123456789)), None);
    }
}
