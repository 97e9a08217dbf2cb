//! One state-changing marsadm at a time on a host. Every command that changes something
//! (all but the views, `cat`, the waits, monitoring and `systemd-trigger`) holds an
//! exclusive `flock` on the `/mars` directory until it ends: two commands started at
//! once (an operator's and a script's, say) run one after the other, each deciding from
//! the state the other left. A killed marsadm's lock goes with its process. Readers
//! never wait. Each single change is atomic anyway (a symlink renamed into place), so
//! a marsadm killed half-way leaves a tree the next command reads and completes. When
//! the lock goes, /mars is made durable first (`syncfs`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// The lock, held until dropped.
#[derive(Debug)]
pub struct HostLock(Flock<File>);

impl Drop for HostLock {
    /// What the command changed is made durable (`syncfs` of /mars) before the lock
    /// goes: a power loss right after a command returned does not take it back (an
    /// operator, a script or a peer may already act on it). The module's own changes
    /// go along.
    fn drop(&mut self) {
        if let Err(e) = nix::unistd::syncfs(self.0.as_raw_fd()) {
            eprintln!("marsadm: warning: cannot make /mars durable (syncfs: {e}); a power loss now may undo this command");
        }
    }
}

/// Takes the lock on `root`, waiting up to `wait` for another marsadm to finish (saying
/// so once on stderr). `None` if `root` cannot be opened: the command's own checks then
/// say what is wrong with /mars.
pub fn exclusive(root: &Path, wait: Duration) -> Result<Option<HostLock>> {
    let Ok(mut dir) = File::open(root) else { return Ok(None) };
    let start = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Some(HostLock(lock))),
            Err((back, Errno::EWOULDBLOCK)) => dir = back,
            Err((_, e)) => return Err(Error::Tree { path: root.to_owned(), what: "lock", source: e.into() }),
        }
        if start.elapsed() >= wait {
            return Err(Error::Busy { secs: wait.as_secs() });
        }
        if !told {
            eprintln!("marsadm: waiting for another marsadm on this host to finish");
            told = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_gives_up() {
        let dir = std::env::temp_dir().join(format!("marsadm-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = exclusive(&dir, Duration::ZERO).unwrap();
        assert!(first.is_some());
        let start = Instant::now();
        let second = exclusive(&dir, Duration::from_millis(300));
        assert!(matches!(second, Err(Error::Busy { .. })), "{second:?}");
        assert!(start.elapsed() >= Duration::from_millis(300));
        drop(first);
        assert!(exclusive(&dir, Duration::ZERO).unwrap().is_some());
        assert!(exclusive(&dir.join("missing"), Duration::ZERO).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
