//! Disk verbs on the host: `disk-sum` hashes a node's disk image file, `disk-zero`
//! empties it (docu/testbed.md says when the results are valid), `disk grow` makes it
//! larger while the node runs (qemu's `block_resize` through the node's QMP socket).
//!
//! qemu opens the raw image files with cache=writeback, aio=threads: every write the
//! guest has submitted to the virtio disk lands in the host file (through the host's
//! page cache, which our reads share), so the host sees what the guest's disk holds
//! once nothing in the guest still holds unwritten data for it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::thread;
use std::time::{Duration, Instant};

use crate::exec;
use crate::node::running_pid;
use crate::state::{NodeId, Testbed};

/// A node's disk, named as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disk {
    Vda,
    Vdb,
    Vdc,
    Vdd,
    Vde,
}

impl FromStr for Disk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix("/dev/").unwrap_or(s) {
            "vda" => Ok(Disk::Vda),
            "vdb" => Ok(Disk::Vdb),
            "vdc" => Ok(Disk::Vdc),
            "vdd" => Ok(Disk::Vdd),
            "vde" => Ok(Disk::Vde),
            _ => Err(format!("bad disk {s:?}: expected vda, vdd, vde (scratch), vdb (data) or vdc (/mars)")),
        }
    }
}

impl Disk {
    pub fn guest_name(self) -> &'static str {
        match self {
            Disk::Vda => "vda",
            Disk::Vdb => "vdb",
            Disk::Vdc => "vdc",
            Disk::Vdd => "vdd",
            Disk::Vde => "vde",
        }
    }

    /// The image file in the node's directory (see `node::create_disks`).
    pub fn image(self, tb: &Testbed, id: NodeId) -> PathBuf {
        let file = match self {
            Disk::Vda => "scratch.img",
            Disk::Vdb => "data.img",
            Disk::Vdc => "mars.img",
            Disk::Vdd => "scratch2.img",
            Disk::Vde => "scratch3.img",
        };
        tb.node_dir(id).join(file)
    }
}

fn open_image(tb: &Testbed, id: NodeId, disk: Disk, write: bool) -> Result<(File, PathBuf, u64), String> {
    let path = disk.image(tb, id);
    if !tb.node_dir(id).is_dir() {
        return Err(format!("{id} does not exist (testbed up --nodes N creates it)"));
    }
    let f = OpenOptions::new().read(true).write(write).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = f.metadata().map_err(|e| format!("{}: {e}", path.display()))?.len();
    Ok((f, path, len))
}

/// Prints the sha256 (hex) of the first `bytes` bytes of the disk (default: all of it).
pub fn sum(tb: &Testbed, id: NodeId, disk: Disk, bytes: Option<u64>) -> Result<(), String> {
    let (mut f, path, len) = open_image(tb, id, disk, false)?;
    let n = bytes.unwrap_or(len);
    if n > len {
        return Err(format!("{id} {}: --bytes {n} is more than the disk's {len} bytes", disk.guest_name()));
    }
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run sha256sum: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("sha256sum: no stdin")?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let got = f.read(&mut buf[..want]).map_err(|e| format!("{}: {e}", path.display()))?;
        if got == 0 {
            return Err(format!("{}: ends before {n} bytes", path.display()));
        }
        stdin.write_all(&buf[..got]).map_err(|e| format!("sha256sum: {e}"))?;
        left -= got as u64;
    }
    drop(stdin);
    let out = child.wait_with_output().map_err(|e| format!("sha256sum: {e}"))?;
    if !out.status.success() {
        return Err(format!("sha256sum failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().ok_or("sha256sum printed nothing")?;
    let _ = writeln!(std::io::stdout(), "{hex}");
    Ok(())
}

/// Guest-side check and flush before zeroing: exit 3..5 names the user of the disk.
fn guest_flush_script(dev: &str) -> String {
    format!(
        "d={dev}
[ -z \"$(ls /sys/block/$d/holders 2>/dev/null)\" ] || exit 3
grep -q \"^/dev/$d \" /proc/mounts && exit 4
grep -q \"^/dev/$d \" /proc/swaps && exit 4
# An exclusive holder (a mounted filesystem, mars's attached resource disk) makes any
# open for writing fail: bdev_allow_write_mounted=0 on the kernel command line.
{{ true; }} 3<>/dev/$d 2>/dev/null || exit 5
sync && blockdev --flushbufs /dev/$d"
    )
}

fn guest(tb: &Testbed, id: NodeId, script: &str) -> Result<u8, String> {
    exec::run_quiet(tb, id, &["sh".to_string(), "-c".to_string(), script.to_string()])
}

/// Makes the disk all zeros: flush the guest's caches, punch the whole image file out on
/// the host (same file, same size: qemu keeps it open), drop the guest's caches again.
pub fn zero(tb: &Testbed, id: NodeId, disk: Disk) -> Result<(), String> {
    let dev = disk.guest_name();
    let (f, path, len) = open_image(tb, id, disk, true)?;
    // Not while a crash or start of the node is under way.
    let _lock = tb.lock()?;
    let running = running_pid(tb, id).is_some();
    if running {
        match guest(tb, id, &guest_flush_script(dev))? {
            0 => {}
            3 => return Err(format!("{id}: /dev/{dev} is in use (holders: /sys/block/{dev}/holders)")),
            4 => return Err(format!("{id}: /dev/{dev} is mounted or a swap device")),
            5 => {
                return Err(format!(
                    "{id}: /dev/{dev} is held exclusively (a mounted filesystem, or a mars resource attached to it: marsadm down first)"
                ))
            }
            code => return Err(format!("{id}: flushing /dev/{dev} in the guest failed with status {code}")),
        }
    }
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: fallocate on an open fd with a valid range; no memory is passed.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), mode, 0, len as libc::off_t) };
    if rc != 0 {
        // A filesystem without hole punching: cut the file to nothing and back (same inode).
        f.set_len(0).and_then(|_| f.set_len(len)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    f.sync_all().map_err(|e| format!("{}: {e}", path.display()))?;
    if running {
        // Anything the guest read meanwhile (udev, a partition scan) is stale now.
        match guest(tb, id, &format!("blockdev --flushbufs /dev/{dev}"))? {
            0 => {}
            code => return Err(format!("{id}: blockdev --flushbufs /dev/{dev} failed with status {code}")),
        }
    }
    Ok(())
}

/// The node's QMP (qemu monitor protocol) socket; see [`qmp_args`].
pub fn qmp_socket(tb: &Testbed, id: NodeId) -> PathBuf {
    tb.node_dir(id).join("qmp.sock")
}

/// qemu arguments for the node's QMP socket (a unix socket in the node's directory,
/// which qemu listens on without waiting for a client).
pub fn qmp_args(tb: &Testbed, id: NodeId) -> [String; 2] {
    ["-qmp".to_string(), format!("unix:{},server=on,wait=off", qmp_socket(tb, id).display())]
}

/// Runs one QMP command (`execute` with JSON `arguments`) on the node's qemu; `Err`
/// carries qemu's error reply.
fn qmp(tb: &Testbed, id: NodeId, execute: &str, arguments: &str) -> Result<(), String> {
    let path = qmp_socket(tb, id);
    let stream = UnixStream::connect(&path).map_err(|e| format!("{id}: QMP socket {}: {e}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    // One JSON object per line: the greeting ("QMP"), then per command its reply
    // ("return" or "error"), with asynchronous events ("timestamp", "event") in between.
    let mut reply = |what: &str| -> Result<String, String> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| format!("{id}: QMP {what}: {e}"))? == 0 {
                return Err(format!("{id}: QMP {what}: qemu closed the connection"));
            }
            if ["{\"QMP\"", "{\"return\"", "{\"error\""].iter().any(|p| line.starts_with(p)) {
                return Ok(line);
            }
        }
    };
    reply("greeting")?;
    for (cmd, args) in [("qmp_capabilities", "{}"), (execute, arguments)] {
        writeln!(writer, "{{\"execute\":\"{cmd}\",\"arguments\":{args}}}").map_err(|e| format!("{id}: QMP {cmd}: {e}"))?;
        let line = reply(cmd)?;
        if !line.starts_with("{\"return\"") {
            return Err(format!("{id}: QMP {cmd} failed: {}", line.trim()));
        }
    }
    Ok(())
}

/// qemu's name of the drive (`-drive id=...` in `node::launch`).
fn drive_id(disk: Disk) -> &'static str {
    match disk {
        Disk::Vda => "d0",
        Disk::Vdb => "d1",
        Disk::Vdc => "d2",
        Disk::Vdd => "d3",
        Disk::Vde => "d4",
    }
}

/// Grows the disk to `mib` MiB: the image file on the host, then (node running) qemu's
/// virtual disk (`block_resize`), which tells the guest (a virtio-blk capacity change);
/// returns once the guest's /sys/block/vdX/size shows the new size. Never shrinks.
pub fn grow(tb: &Testbed, id: NodeId, disk: Disk, mib: u64) -> Result<(), String> {
    let dev = disk.guest_name();
    let (f, path, len) = open_image(tb, id, disk, true)?;
    let bytes = mib.checked_mul(1 << 20).ok_or_else(|| format!("{mib} MiB is too large"))?;
    if bytes < len {
        return Err(format!("{id} {dev}: {mib} MiB is smaller than the disk ({len} bytes): disks only grow"));
    }
    // Not while a crash or start of the node is under way.
    let _lock = tb.lock()?;
    f.set_len(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    drop(f);
    if running_pid(tb, id).is_none() {
        // The next boot sees the new size.
        return Ok(());
    }
    qmp(tb, id, "block_resize", &format!("{{\"device\":\"{}\",\"size\":{bytes}}}", drive_id(disk)))?;
    let sectors = bytes / 512;
    let check = format!("[ \"$(cat /sys/block/{dev}/size)\" = {sectors} ]");
    let deadline = Instant::now() + Duration::from_secs(60);
    while guest(tb, id, &check)? != 0 {
        if Instant::now() > deadline {
            return Err(format!("{id}: /sys/block/{dev}/size does not show {sectors} sectors 60 s after block_resize"));
        }
        thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names() {
        assert_eq!("vdb".parse::<Disk>(), Ok(Disk::Vdb));
        assert_eq!("/dev/vda".parse::<Disk>(), Ok(Disk::Vda));
        assert_eq!("vde".parse::<Disk>(), Ok(Disk::Vde));
        assert!("vdf".parse::<Disk>().is_err());
        assert_eq!(Disk::Vdc.guest_name(), "vdc");
    }
}
