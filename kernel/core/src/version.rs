//! Release version of MARS (module and tools), and the `/proc/sys/mars` interface facts
//! that marsadm relies on.

/// [`VERSION`] with a terminating NUL, for the kernel's C-string interfaces.
/// This is the one place the version is written down.
pub const VERSION_WITH_NUL: &str = "0.1.0\0";

/// Release version of this MARS implementation. marsadm's Cargo version must match
/// (checked by a unit test in marsadm), so a module and a marsadm of one release agree.
pub const VERSION: &str = strip_nul(VERSION_WITH_NUL);

/// Directory of the module's sysctl interface; it exists exactly while `mars.ko` is loaded.
pub const PROC_SYS_DIR: &str = "/proc/sys/mars";

/// Name of the read-only sysctl entry holding [`VERSION`] of the loaded module.
pub const PROC_SYS_VERSION: &str = "version";

const fn strip_nul(s: &'static str) -> &'static str {
    match s.as_bytes().split_last() {
        Some((0, rest)) => match core::str::from_utf8(rest) {
            Ok(v) => v,
            Err(_) => panic!("version is not UTF-8"),
        },
        _ => panic!("VERSION_WITH_NUL must end in NUL"),
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
    fn nul_form_matches() {
        assert_eq!(VERSION_WITH_NUL.strip_suffix('\0'), Some(VERSION));
        assert!(!VERSION.contains('\0'));
    }
}
