//! Release version of MARS (module and tools), and the `/proc/sys/mars` names that the
//! module registers and marsadm reads.
//!
//! Strings the kernel hands to C carry their terminating NUL here (`*_WITH_NUL`); the
//! plain `&str` forms are derived from them at compile time, so each is written once.

/// [`VERSION`] with a terminating NUL. This is the one place the version is written down.
pub const VERSION_WITH_NUL: &str = "0.2.0\0";

/// Release version of this MARS implementation. marsadm's Cargo version must match
/// (checked by a unit test in marsadm), so a module and a marsadm of one release agree.
pub const VERSION: &str = without_nul(VERSION_WITH_NUL);

/// Name of the module's directory under `/proc/sys`, with NUL. It exists exactly while
/// `mars.ko` is loaded; marsadm uses that to tell whether the module is loaded.
pub const PROC_SYS_NAME_WITH_NUL: &str = "mars\0";

/// Read-only entry in that directory holding the loaded module's [`VERSION`], with NUL.
pub const PROC_SYS_VERSION_WITH_NUL: &str = "version\0";

/// Read-only entry with the module's Lamport clock (`<sec>.<nsec>`), with NUL; marsadm
/// stamps its writes after it.
pub const PROC_SYS_LAMPORT_CLOCK_WITH_NUL: &str = "lamport_clock\0";

/// Read-only entry with the errno (negative) of the module's last failed write into
/// `/mars`, 0 once one succeeded again, with NUL: while it is not 0 nothing the module
/// knows reaches the tree (a filesystem shut down after I/O errors answers EROFS).
pub const PROC_SYS_TREE_WRITE_ERROR_WITH_NUL: &str = "tree_write_error\0";

/// `/proc/sys/<name>` as marsadm sees it.
pub const PROC_SYS_DIR: &str = "/proc/sys/mars";

/// `s` without its terminating NUL, evaluated at compile time.
pub const fn without_nul(s: &'static str) -> &'static str {
    match s.as_bytes().split_last() {
        Some((0, rest)) => match core::str::from_utf8(rest) {
            Ok(v) => v,
            Err(_) => panic!("not UTF-8"),
        },
        _ => panic!("string must end in NUL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_semver_triple() {
        let parts: Vec<&str> = VERSION.split('.').collect();
        assert_eq!(parts.len(), 3, "VERSION must be MAJOR.MINOR.PATCH: {VERSION}");
        for p in parts {
            assert!(p.parse::<u32>().is_ok(), "non-numeric version part {p:?}");
        }
    }

    #[test]
    fn nul_forms_match() {
        assert_eq!(VERSION_WITH_NUL.strip_suffix('\0'), Some(VERSION));
        assert!(!VERSION.contains('\0'));
        assert_eq!(PROC_SYS_DIR, format!("/proc/sys/{}", without_nul(PROC_SYS_NAME_WITH_NUL)));
    }
}
