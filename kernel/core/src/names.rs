//! Names of hosts and resources (design reference §2.1), checked identically by marsadm
//! (before it writes anything) and by the module (before it acts on the tree).

use core::fmt;

/// Longest host or resource name: both become parts of file names in `/mars`
/// (`resource-<res>`, `log-<nr>-<host>`); 63 is also the DNS label limit.
pub const MAX_NAME_LEN: usize = 63;

/// Longest device name: the kernel's disk name buffer holds 32 bytes including the
/// `mars/` prefix and the terminating NUL.
pub const MAX_DEVICE_NAME_LEN: usize = 26;

/// Names that mean something else where a host or resource name is expected.
pub const RESERVED: &[&str] =
    &["none", "all", "any", "full", "empty", "undefined", "remote", "local", "localhost"];

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The empty string.
    Empty,
    /// Longer than allowed; carries the limit.
    TooLong(usize),
    /// Must start with a lower-case letter.
    BadStart,
    /// A character other than `a-z`, `0-9`, `-`.
    BadChar(char),
    /// One of [`RESERVED`].
    Reserved,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "name is empty"),
            NameError::TooLong(max) => write!(f, "name is longer than {max} characters"),
            NameError::BadStart => write!(f, "name must start with a lower-case letter a-z"),
            NameError::BadChar(c) => {
                write!(f, "character {c:?} not allowed (only a-z, 0-9 and '-')")
            }
            NameError::Reserved => write!(f, "name is reserved (none, all, any, full, empty, undefined, remote, local, localhost)"),
        }
    }
}

fn check(name: &str, max: usize) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if name.len() > max {
        return Err(NameError::TooLong(max));
    }
    if !first.is_ascii_lowercase() {
        return Err(NameError::BadStart);
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(NameError::BadChar(c));
    }
    if RESERVED.contains(&name) {
        return Err(NameError::Reserved);
    }
    Ok(())
}

/// Checks a host name: `[a-z][-a-z0-9]*`, not reserved, at most [`MAX_NAME_LEN`].
pub fn check_host_name(name: &str) -> Result<(), NameError> {
    check(name, MAX_NAME_LEN)
}

/// Checks a resource name: same rules as host names.
pub fn check_resource_name(name: &str) -> Result<(), NameError> {
    check(name, MAX_NAME_LEN)
}

/// Checks a device name (`/dev/mars/<name>`): same rules, at most [`MAX_DEVICE_NAME_LEN`].
pub fn check_device_name(name: &str) -> Result<(), NameError> {
    check(name, MAX_DEVICE_NAME_LEN)
}

/// Longest systemd unit name (systemd's `UNIT_NAME_MAX`).
pub const MAX_UNIT_NAME_LEN: usize = 255;

/// Unit types a resource's systemd unit may have (`systemd-start-unit`,
/// `systemd-stop-unit`, docu/systemd.md).
pub const UNIT_SUFFIXES: &[&str] = &[".service", ".mount", ".target", ".path", ".timer", ".socket", ".automount"];

/// Why a unit name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitNameError {
    /// Empty, or longer than [`MAX_UNIT_NAME_LEN`].
    Length,
    /// A character systemd does not allow in a unit name (only `A-Z a-z 0-9 : _ . - \ @`).
    BadChar(char),
    /// Starts with `.` or `-`, or has no name before the suffix.
    BadStart,
    /// Does not end in one of [`UNIT_SUFFIXES`].
    Suffix,
}

impl fmt::Display for UnitNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitNameError::Length => write!(f, "unit name is empty or longer than {MAX_UNIT_NAME_LEN} characters"),
            UnitNameError::BadChar(c) => write!(f, "character {c:?} not allowed in a unit name (only A-Z, a-z, 0-9, ':', '_', '.', '-', '\\', '@')"),
            UnitNameError::BadStart => write!(f, "unit name must not start with '.' or '-'"),
            UnitNameError::Suffix => write!(f, "unit name must end in .service, .mount, .target, .path, .timer, .socket or .automount"),
        }
    }
}

/// Checks a systemd unit name as a resource's `systemd-start-unit` / `systemd-stop-unit`
/// may hold it: the characters systemd allows (so the value is never a path and never
/// needs quoting), a known suffix.
pub fn check_unit_name(name: &str) -> Result<(), UnitNameError> {
    if name.is_empty() || name.len() > MAX_UNIT_NAME_LEN {
        return Err(UnitNameError::Length);
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-' | '\\' | '@'))) {
        return Err(UnitNameError::BadChar(c));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(UnitNameError::BadStart);
    }
    match UNIT_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        Some(s) if name.len() > s.len() => Ok(()),
        Some(_) => Err(UnitNameError::BadStart),
        None => Err(UnitNameError::Suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        for n in ["mnt-mars-r0.mount", "mars-db\\x2dprod-app.service", "getty@tty1.service", "a.target", "x:y_z.timer"] {
            assert_eq!(check_unit_name(n), Ok(()), "{n}");
        }
        assert_eq!(check_unit_name(""), Err(UnitNameError::Length));
        assert_eq!(check_unit_name(&format!("{}.service", "a".repeat(250))), Err(UnitNameError::Length));
        assert_eq!(check_unit_name("../etc/passwd.service"), Err(UnitNameError::BadChar('/')));
        assert_eq!(check_unit_name("a b.service"), Err(UnitNameError::BadChar(' ')));
        assert_eq!(check_unit_name("a;reboot.service"), Err(UnitNameError::BadChar(';')));
        assert_eq!(check_unit_name("-x.service"), Err(UnitNameError::BadStart));
        assert_eq!(check_unit_name(".service"), Err(UnitNameError::BadStart));
        assert_eq!(check_unit_name("mars"), Err(UnitNameError::Suffix));
        assert_eq!(check_unit_name("dev-sda.device"), Err(UnitNameError::Suffix));
    }

    #[test]
    fn accepts_ordinary_names() {
        for n in ["node1", "a", "db-prod-7", "x0-"] {
            assert_eq!(check_host_name(n), Ok(()), "{n}");
            assert_eq!(check_resource_name(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(check_host_name(""), Err(NameError::Empty));
        assert_eq!(check_host_name("1node"), Err(NameError::BadStart));
        assert_eq!(check_host_name("-x"), Err(NameError::BadStart));
        assert_eq!(check_host_name("Node"), Err(NameError::BadStart));
        assert_eq!(check_host_name("no_de"), Err(NameError::BadChar('_')));
        assert_eq!(check_host_name("a.b"), Err(NameError::BadChar('.')));
        assert_eq!(check_host_name("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(check_resource_name("ä"), Err(NameError::BadStart));
        for r in RESERVED {
            assert_eq!(check_resource_name(r), Err(NameError::Reserved));
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(check_host_name(&long), Err(NameError::TooLong(MAX_NAME_LEN)));
        assert_eq!(check_host_name(&long[1..]), Ok(()));
        assert_eq!(check_device_name(&"d".repeat(27)), Err(NameError::TooLong(MAX_DEVICE_NAME_LEN)));
    }
}
