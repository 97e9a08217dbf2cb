//! What marsadm can learn about the kernel module from `/proc/sys/mars`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use mars_core::version::{without_nul, PROC_SYS_DIR, PROC_SYS_TREE_WRITE_ERROR_WITH_NUL, PROC_SYS_VERSION_WITH_NUL};

use crate::error::{Error, Result};

/// Version of the loaded mars.ko, or `None` if the module is not loaded.
///
/// `proc_sys` is normally [`PROC_SYS_DIR`]; tests pass a directory of their own.
pub fn loaded_version(proc_sys: &Path) -> Result<Option<String>> {
    let path: PathBuf = proc_sys.join(without_nul(PROC_SYS_VERSION_WITH_NUL));
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s.trim_end().to_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound && !proc_sys.exists() => Ok(None),
        Err(source) => Err(Error::Read { path, source }),
    }
}

/// Errno (negative) of the loaded module's last failed write into /mars, 0 if the last
/// one succeeded or the module is not loaded.
pub fn tree_write_error(proc_sys: &Path) -> i32 {
    std::fs::read_to_string(proc_sys.join(without_nul(PROC_SYS_TREE_WRITE_ERROR_WITH_NUL)))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The real `/proc/sys/mars`.
pub fn proc_sys_dir() -> &'static Path {
    Path::new(PROC_SYS_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_loaded_when_directory_missing() {
        let dir = std::env::temp_dir().join(format!("marsadm-test-missing-{}", std::process::id()));
        assert_eq!(loaded_version(&dir).unwrap(), None);
    }

    #[test]
    fn reads_and_trims_version() {
        let dir = std::env::temp_dir().join(format!("marsadm-test-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("version"), "0.1.0\n").unwrap();
        assert_eq!(loaded_version(&dir).unwrap().as_deref(), Some("0.1.0"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn directory_without_version_is_an_error() {
        let dir = std::env::temp_dir().join(format!("marsadm-test-noversion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = loaded_version(&dir).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
