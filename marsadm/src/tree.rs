//! The one place where marsadm reads and writes the `/mars` symlink tree.
//!
//! Rules (design reference §2.1, shared names in `mars_core::tree`): a link's value is its
//! target, its mtime a Lamport stamp. Writes are atomic (a temporary link,
//! `mars_core::tree::TempLinkName`, renamed over the old one) and ordered by the tree's
//! one overwrite rule (`mars_core::merge::replaces`): a link is never replaced by one
//! with an older stamp.
//! Deleting a link writes the value `.deleted`, which readers treat as absent, so the
//! deletion itself carries a stamp and propagates like any other change.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mars_core::merge::{replaces, LinkState};
use mars_core::tree::{TempLinkName, DELETED};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use crate::error::{Error, Result};

/// A link's value and its Lamport stamp (ns since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub value: String,
    pub stamp_ns: u64,
}

/// The `/mars` tree rooted at `root`.
pub struct MarsTree {
    root: PathBuf,
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Tree { path: path.to_owned(), what, source }
}

fn stamp_of(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .unwrap_or(0)
}

impl MarsTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MarsTree { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the root: given absolute within it, or relative already
    /// (`None`: outside, or a `..` in it). Nothing given on a command line or in a macro
    /// reaches beyond the tree.
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        let root = self.root.to_str()?;
        let rel = match path.strip_prefix(root) {
            Some(r) if r.is_empty() || r.starts_with('/') => r,
            _ if path.starts_with('/') => return None,
            _ => path,
        };
        let rel = rel.trim_start_matches('/');
        (!rel.split('/').any(|c| c == "..")).then_some(rel)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Reads a link; `None` if it does not exist or is deleted.
    pub fn get(&self, rel: &str) -> Result<Option<Link>> {
        Ok(self.get_raw(rel)?.filter(|l| l.value != DELETED))
    }

    /// Reads a link including `.deleted` values.
    pub fn get_raw(&self, rel: &str) -> Result<Option<Link>> {
        let path = self.path(rel);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, "read")(e)),
        };
        if !meta.file_type().is_symlink() {
            return Err(Error::NotALink(path));
        }
        let target = std::fs::read_link(&path).map_err(io_err(&path, "read"))?;
        let value = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
        Ok(Some(Link { value, stamp_ns: stamp_of(&meta) }))
    }

    /// Sets `rel` to `value` with Lamport stamp `stamp_ns`, atomically, creating missing
    /// parent directories. Returns `false` (and changes nothing) if the existing link
    /// wins over it (`mars_core::merge::replaces`: a newer stamp, or the same stamp and
    /// a value not smaller).
    pub fn set(&self, rel: &str, value: &str, stamp_ns: u64) -> Result<bool> {
        // The last line of defence of `--dry-run`: a command that reaches a write has
        // passed its checks (and missed its `Context::commit`).
        crate::context::changing()?;
        let old = self.get_raw(rel)?;
        let state = |value, stamp_ns| LinkState { value, stamp_ns };
        if !replaces(old.as_ref().map(|o| state(&o.value, o.stamp_ns)), state(value, stamp_ns)) {
            return Ok(false);
        }
        let path = self.path(rel);
        let dir = path.parent().ok_or_else(|| Error::NotALink(path.clone()))?;
        std::fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
        let name = path.file_name().unwrap_or(OsStr::new("link")).to_string_lossy();
        let tmp = dir.join(TempLinkName { writer: std::process::id(), name: &name }.to_string());
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(value, &tmp).map_err(io_err(&tmp, "create link"))?;
        let ts = TimeSpec::from_duration(Duration::from_nanos(stamp_ns));
        let set_time = utimensat(None, &tmp, &ts, &ts, UtimensatFlags::NoFollowSymlink);
        if let Err(e) = set_time {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&tmp, "set time of")(e.into()));
        }
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(&path, "replace")(e)
        })?;
        Ok(true)
    }

    /// Names in directory `rel` (not starting with '.'), sorted; empty if it does not exist.
    pub fn list(&self, rel: &str) -> Result<Vec<String>> {
        let dir = self.path(rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir, "list")(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir, "list"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The newest stamp of any link directly in `rel` (0 if none): a lower bound for the
    /// next stamp marsadm hands out, so its writes are ordered after what it has seen.
    pub fn newest_stamp(&self, rel: &str) -> Result<u64> {
        let mut newest = 0;
        for name in self.list(rel)? {
            let p = self.path(rel).join(&name);
            if let Ok(meta) = std::fs::symlink_metadata(&p) {
                newest = newest.max(stamp_of(&meta));
            }
        }
        Ok(newest)
    }
}

/// Real time in ns since the epoch.
pub fn real_time_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    #[test]
    fn set_get_with_stamps_and_parents() {
        let dir = ScratchDir::new("tree-set");
        let t = MarsTree::new(&*dir);
        assert_eq!(t.get("resource-r0/size").unwrap(), None);
        assert!(t.set("resource-r0/size", "1048576", 1_700_000_000_123_456_789).unwrap());
        let l = t.get("resource-r0/size").unwrap().unwrap();
        assert_eq!(l.value, "1048576");
        assert_eq!(l.stamp_ns, 1_700_000_000_123_456_789);
        // newer stamp replaces
        assert!(t.set("resource-r0/size", "2097152", 1_700_000_001_000_000_000).unwrap());
        assert_eq!(t.get("resource-r0/size").unwrap().unwrap().value, "2097152");
        // no temporary links left behind
        assert_eq!(std::fs::read_dir(t.path("resource-r0")).unwrap().count(), 1);
    }

    #[test]
    fn older_stamp_never_overwrites() {
        let dir = ScratchDir::new("tree-order");
        let t = MarsTree::new(&*dir);
        t.set("primary", "node1", 2000).unwrap();
        assert!(!t.set("primary", "node2", 1000).unwrap());
        assert_eq!(t.get("primary").unwrap().unwrap().value, "node1");
    }

    #[test]
    fn deletion_is_a_stamped_value() {
        let dir = ScratchDir::new("tree-del");
        let t = MarsTree::new(&*dir);
        t.set("ips/ip-node1", "10.0.0.1", 1000).unwrap();
        assert!(t.set("ips/ip-node1", DELETED, 2000).unwrap());
        assert_eq!(t.get("ips/ip-node1").unwrap(), None);
        assert_eq!(t.get_raw("ips/ip-node1").unwrap().unwrap(), Link { value: DELETED.into(), stamp_ns: 2000 });
        assert_eq!(t.list("ips").unwrap(), ["ip-node1"]);
        assert_eq!(t.newest_stamp("ips").unwrap(), 2000);
    }

    #[test]
    fn a_regular_file_is_not_a_link() {
        let dir = ScratchDir::new("tree-file");
        let t = MarsTree::new(&*dir);
        std::fs::write(t.path("uuid"), "x").unwrap();
        assert!(matches!(t.get("uuid"), Err(Error::NotALink(_))));
    }
}
