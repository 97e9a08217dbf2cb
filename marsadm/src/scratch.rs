//! Scratch `/mars` trees for the unit tests: real directories and symlinks under the system's
//! temporary directory, so the tests read the tree exactly as the commands do. Each is removed
//! when dropped.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::tree::{real_time_ns, MarsTree};

/// An empty directory of its own (`tag` names it; tests run in parallel), removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(tag: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("marsadm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tree at `dir` seen from `host`, without a module (`/proc/sys/mars` is absent).
pub fn context(dir: &Path, host: &str) -> Context {
    Context { tree: MarsTree::new(dir), host: host.into(), proc_sys: "/nonexistent".into() }
}

/// A scratch tree seen from `host`; [`ScratchTree::set`] writes links with rising stamps, so
/// each write replaces the one before as in the kernel's tree.
pub struct ScratchTree {
    pub ctx: Context,
    stamp: u64,
    _dir: ScratchDir,
    _proc_sys: ScratchDir,
}

impl ScratchTree {
    /// With a module loaded (a `/proc/sys/mars` of its own with a `version`); see
    /// [`ScratchTree::without_module`].
    pub fn new(tag: &str, host: &str) -> ScratchTree {
        let dir = ScratchDir::new(tag);
        let proc_sys = ScratchDir::new(&format!("{tag}-proc"));
        std::fs::write(proc_sys.as_ref().join("version"), "0.1.0-test\n").unwrap();
        let ctx = Context { proc_sys: proc_sys.as_ref().to_owned(), ..context(&dir, host) };
        ScratchTree { ctx, stamp: real_time_ns() - 1_000_000_000, _dir: dir, _proc_sys: proc_sys }
    }

    /// The module unloaded (`/proc/sys/mars` gone).
    pub fn without_module(&mut self) {
        self.ctx.proc_sys = "/nonexistent".into();
    }

    /// Resource r0 with members node1 and node2 (size 1 MiB, disk `/dev/vdb`, attached, the
    /// given `todo-` switches on), no primary yet, both heard from just now.
    pub fn with_pair(tag: &str, host: &str, switches: &[&str]) -> ScratchTree {
        let mut t = ScratchTree::new(tag, host);
        t.set("resource-r0/size", "1048576");
        for h in ["node1", "node2"] {
            t.set(&format!("resource-r0/data-{h}"), "/dev/vdb");
            t.set(&format!("resource-r0/actual-{h}/is-attached"), "1");
            t.set(&format!("resource-r0/actual-{h}/is-primary"), "0");
            for s in switches {
                t.set(&format!("resource-r0/todo-{h}/{s}"), "1");
            }
            t.heard(h, 0);
        }
        t
    }

    /// [`ScratchTree::with_pair`] with every switch on and node1 primary, designated and actual.
    pub fn node1_primary(tag: &str, host: &str) -> ScratchTree {
        let mut t = ScratchTree::with_pair(tag, host, &["attach", "connect", "sync", "allow-replay"]);
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t
    }

    pub fn set(&mut self, rel: &str, value: &str) {
        self.stamp += 1;
        self.ctx.tree.set(rel, value, self.stamp).unwrap();
    }

    /// `actual-<host>/time` (the liveness link) stamped `secs_ago` seconds ago.
    pub fn heard(&mut self, host: &str, secs_ago: u64) {
        // Removed first: the tree never replaces a link with an older stamp.
        let _ = std::fs::remove_file(self.ctx.tree.path(&format!("actual-{host}/time")));
        self.ctx.tree.set(&format!("actual-{host}/time"), "1.0", real_time_ns() - secs_ago * 1_000_000_000).unwrap();
    }

    /// A logfile at `rel` of 8 KiB with record headers (nothing else) at the given
    /// offsets with the given stamps (ns).
    pub fn logfile_with_records(&self, rel: &str, records: &[(u64, u64)]) {
        use mars_core::log_record::{ChecksumAlgorithm, Format, RecordHeader, RecordKind, HEADER_LEN};
        let mut bytes = vec![0u8; 8192];
        for (i, &(at, stamp_ns)) in records.iter().enumerate() {
            let h = RecordHeader { seq: i as u64 + 1, stamp_ns, pos: 0, data_len: 4096, kind: RecordKind::Write, checksum: ChecksumAlgorithm::Crc32c, format: Format::Aligned };
            let mut head = [0u8; HEADER_LEN];
            h.encode(&mut head);
            bytes[at as usize..at as usize + HEADER_LEN].copy_from_slice(&head);
        }
        std::fs::write(self.ctx.tree.path(rel), bytes).unwrap();
    }

    /// The same tree seen from another host.
    pub fn seen_from(&self, host: &str) -> Context {
        Context { proc_sys: self.ctx.proc_sys.clone(), ..context(self.ctx.tree.root(), host) }
    }
}
