//! Formatting into a fixed buffer, without allocation (symlink values, sysctl lines).

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
    fn formats_and_refuses_overflow() {
        let mut buf = [0u8; 8];
        assert_eq!(format_into(&mut buf, format_args!("{}-{}", 12, "ab")), Some("12-ab"));
        assert_eq!(format_into(&mut buf, format_args!("{}", 123456789)), None);
    }
}
