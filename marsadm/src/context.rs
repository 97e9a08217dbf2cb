//! What every command needs to know about this host: its name, the `/mars` tree, the
//! module's state, and a Lamport stamp for writes. Precondition checks live here so each
//! is written once and every command reports a failed one the same way.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mars_core::lamport::parse_stamp;
use mars_core::names::check_host_name;
use mars_core::tree;
use mars_core::version::{without_nul, PROC_SYS_LAMPORT_CLOCK_WITH_NUL};

use crate::error::{Error, Result};
use crate::module;
use crate::tree::{real_time_ns, MarsTree};

/// Where the tree lives on every MARS host.
pub const MARS_ROOT: &str = "/mars";

thread_local! {
    static DRY_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `--dry-run`: commands check everything and stop where they would change something
/// ([`Context::commit`]); set once, before a command runs.
pub fn set_dry_run(on: bool) {
    DRY_RUN.with(|d| d.set(on));
}

pub fn dry_run() -> bool {
    DRY_RUN.with(|d| d.get())
}

/// Before any change of a file or of systemd: under `--dry-run` a command never gets
/// past it (the net under [`Context::commit`]).
pub fn changing() -> Result<()> {
    if dry_run() {
        return Err(Error::DryRun);
    }
    Ok(())
}

/// The original's global options that change what commands show or how they go about
/// it (cli.rs says what each means), set once before a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub window: u64,
    pub threshold: u64,
    pub stuck_seconds: u64,
    pub verbose: u8,
    /// `--parallel[=N]`: `Some(0)` all at once.
    pub parallel: Option<usize>,
    /// `--host H`: the host commands that only read act as.
    pub host: Option<String>,
    /// `--timeout S`, if given.
    pub timeout: Option<u64>,
}

impl Default for Globals {
    fn default() -> Self {
        Globals { window: 60, threshold: 10 << 20, stuck_seconds: 3600, verbose: 0, parallel: None, host: None, timeout: None }
    }
}

static GLOBALS: std::sync::OnceLock<Globals> = std::sync::OnceLock::new();

/// Sets the global options (once; later calls change nothing).
pub fn set_globals(g: Globals) {
    let _ = GLOBALS.set(g);
}

pub fn globals() -> &'static Globals {
    GLOBALS.get_or_init(Globals::default)
}

pub struct Context {
    pub tree: MarsTree,
    pub host: String,
    pub proc_sys: PathBuf,
}

impl Context {
    /// The real host: `/mars`, `/proc/sys/mars`, the kernel's node name.
    pub fn from_system() -> Result<Context> {
        let uts = nix::sys::utsname::uname().map_err(|e| Error::Host(e.to_string()))?;
        let host = globals().host.clone().unwrap_or_else(|| uts.nodename().to_string_lossy().into_owned());
        check_host_name(&host).map_err(|e| Error::HostName { host: host.clone(), reason: e.to_string() })?;
        Ok(Context { tree: MarsTree::new(MARS_ROOT), host, proc_sys: module::proc_sys_dir().to_owned() })
    }

    /// `/mars` must be a filesystem of its own (logs must not fill the root filesystem).
    pub fn require_mountpoint(&self) -> Result<()> {
        let root = self.tree.root();
        let me = std::fs::metadata(root).map_err(|_| Error::NoMars(root.to_owned()))?;
        let parent = std::fs::metadata(root.join("..")).map_err(|_| Error::NoMars(root.to_owned()))?;
        if !me.is_dir() || me.dev() == parent.dev() {
            return Err(Error::NoMars(root.to_owned()));
        }
        Ok(())
    }

    pub fn require_module(&self) -> Result<()> {
        match module::loaded_version(&self.proc_sys)? {
            Some(_) => Ok(()),
            None => Err(Error::ModuleNotLoaded),
        }
    }

    pub fn require_cluster(&self) -> Result<()> {
        match self.tree.get(tree::UUID)? {
            Some(_) => Ok(()),
            None => Err(Error::NoCluster),
        }
    }

    /// A Lamport stamp for the next write: after real time, after the module's Lamport
    /// clock (if it is loaded), and after every stamp in the directories given (so
    /// marsadm's writes are ordered after what it and the module have seen).
    pub fn stamp(&self, dirs: &[&str]) -> Result<u64> {
        let module_clock = std::fs::read_to_string(self.proc_sys.join(without_nul(PROC_SYS_LAMPORT_CLOCK_WITH_NUL)))
            .ok()
            .and_then(|s| parse_stamp(s.trim()));
        let mut t = real_time_ns().max(module_clock.map_or(0, |c| c.saturating_add(1)));
        for d in dirs {
            t = t.max(self.tree.newest_stamp(d)?.saturating_add(1));
        }
        Ok(t)
    }

    /// Where a command's checks end and its changes begin: under `--dry-run` the command
    /// stops here ([`Error::DryRun`]), having changed nothing.
    pub fn commit(&self) -> Result<()> {
        changing()
    }

    /// Asks the module to act on the tree now (if it is loaded).
    pub fn trigger(&self) {
        let _ = std::fs::write(self.proc_sys.join("trigger"), "1\n");
    }

    /// Asks the module to pull every peer's tree now, also from a peer it backs off from
    /// after an outage (and to act on the tree).
    pub fn pull_now(&self) {
        let _ = std::fs::write(self.proc_sys.join("trigger"), "2\n");
    }
}

/// A block device checked to be usable as a resource's underlying disk.
pub struct Disk {
    pub path: PathBuf,
    pub size: u64,
}

/// Smallest disk accepted for a resource.
pub const MIN_DISK_SIZE: u64 = 1 << 20;

/// Checks that `path` is an absolute path to a block device nobody else uses (opened
/// with `O_EXCL`, which fails while it is mounted or held by another driver), of at
/// least [`MIN_DISK_SIZE`] bytes.
pub fn check_disk(path: &Path) -> Result<Disk> {
    if !path.is_absolute() {
        return Err(Error::Disk { path: path.to_owned(), reason: "give an absolute path, e.g. /dev/vg/r0".into() });
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::Disk { path: path.to_owned(), reason: e.to_string() })?;
    if !meta.file_type().is_block_device() {
        return Err(Error::Disk { path: path.to_owned(), reason: "not a block device".into() });
    }
    let mut f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_excl())
        .open(path)
        .map_err(|e| Error::Disk {
            path: path.to_owned(),
            reason: if e.raw_os_error() == Some(nix::libc::EBUSY) {
                "in use (mounted, or held by another driver or resource)".into()
            } else {
                e.to_string()
            },
        })?;
    let size = f.seek(SeekFrom::End(0)).map_err(|e| Error::Disk { path: path.to_owned(), reason: e.to_string() })?;
    if size < MIN_DISK_SIZE {
        return Err(Error::Disk {
            path: path.to_owned(),
            reason: format!("too small: {size} bytes, at least {MIN_DISK_SIZE} needed"),
        });
    }
    Ok(Disk { path: path.to_owned(), size })
}

fn libc_o_excl() -> i32 {
    nix::libc::O_EXCL
}
