//! Node life cycle: disks, qemu processes, boot and readiness.
//!
//! A node is a directory `$MARS_TESTBED_DIR/nodeK/` holding its disks (raw sparse
//! files, kept across crash and start), `qemu.pid`, `mgmt.port` and `console.log`.
//! qemu runs in the host's network namespace with two NICs: a management NIC (qemu user
//! networking with `restrict=on`, one port forwarded from 127.0.0.1 to the guest agent)
//! and a replication NIC, a tap in the testbed's own namespace (see `net`).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::exec;
use crate::net;
use crate::state::{read_trimmed, Image, NodeId, Testbed};

/// Small third disk, /dev/vda: it fixes the data disk and /mars disk names to vdb and
/// vdc, and gives tests a second (too small) block device. /dev/vdd and /dev/vde are two
/// more of this size, for several resources per node.
const SCRATCH_MIB: u64 = 64;

pub fn up(tb: &Testbed, nodes: u8, data_mib: u64, mars_mib: u64, image: Image, kernel: &str) -> Result<(), String> {
    let _lock = tb.lock()?;
    check_artifacts(tb, image, kernel)?;
    let ids: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
    // Every node of a testbed boots the same image: switching means `down` first.
    for id in tb.nodes() {
        let have = tb.image_of(id)?;
        if have != image {
            return Err(format!(
                "{id} exists with image {}, not {}: testbed down first",
                have.name(),
                image.name()
            ));
        }
    }
    net::ensure(tb)?;
    for &id in &ids {
        create_disks(tb, id, data_mib, mars_mib, image, kernel)?;
        if running_pid(tb, id).is_none() {
            launch(tb, id)?;
        }
    }
    for &id in &ids {
        wait_ready(tb, id)?;
    }
    for &id in &ids {
        net::reapply_shape(tb, id)?;
    }
    Ok(())
}

pub fn start(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let _lock = tb.lock()?;
    if !tb.node_dir(id).is_dir() {
        return Err(format!("{id} does not exist (testbed up --nodes N creates it)"));
    }
    if running_pid(tb, id).is_some() {
        eprintln!("testbed: {id} is already running");
        return Ok(());
    }
    check_artifacts(tb, tb.image_of(id)?, &tb.kernel_of(id)?)?;
    net::ensure(tb)?;
    launch(tb, id)?;
    wait_ready(tb, id)?;
    net::reapply_shape(tb, id)
}

pub fn crash(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let _lock = tb.lock()?;
    match running_pid(tb, id) {
        Some(pid) => {
            kill_and_wait(pid)?;
            // The tap goes away once the last qemu thread has closed it.
            net::wait_tap_gone(tb, id)?;
        }
        None => eprintln!("testbed: {id} is not running"),
    }
    let dir = tb.node_dir(id);
    let _ = fs::remove_file(dir.join("qemu.pid"));
    let _ = fs::remove_file(dir.join("mgmt.port"));
    Ok(())
}

pub fn down(tb: &Testbed) -> Result<(), String> {
    if tb.dir.exists() {
        let _lock = tb.lock()?;
        for id in tb.nodes() {
            if let Some(pid) = running_pid(tb, id) {
                kill_and_wait(pid)?;
            }
        }
        // qemu processes whose pid file went missing: anything still using our files.
        for pid in processes_mentioning(&tb.dir) {
            kill_and_wait(pid)?;
        }
        fs::remove_dir_all(&tb.dir).map_err(|e| format!("remove {}: {e}", tb.dir.display()))?;
    }
    net::remove(tb)
}

pub fn status(tb: &Testbed) -> Result<(), String> {
    let mut text = String::new();
    for id in tb.nodes() {
        match running_pid(tb, id) {
            Some(pid) => {
                let port = read_trimmed(&tb.node_dir(id).join("mgmt.port")).unwrap_or_default();
                text += &format!("{id} running pid={pid} mgmt=127.0.0.1:{port} kernel={}\n", tb.kernel_of(id)?);
            }
            None => text += &format!("{id} stopped kernel={}\n", tb.kernel_of(id)?),
        }
    }
    // A reader that stops early (`status | grep -q`) is not an error.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}

/// The qemu pid of a running node, checked against /proc so a stale pid file or a
/// recycled pid never counts as running.
pub fn running_pid(tb: &Testbed, id: NodeId) -> Option<Pid> {
    let dir = tb.node_dir(id);
    let pid: i32 = read_trimmed(&dir.join("qemu.pid"))?.parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let needle = format!("{}/", dir.to_string_lossy());
    let mine = String::from_utf8_lossy(&cmdline).contains(&needle);
    mine.then(|| Pid::from_raw(pid))
}

/// qemu processes whose command line names a file under `dir` (the trailing slash keeps
/// `/var/tmp/mars-tb-h1` from matching the nodes of `/var/tmp/mars-tb-h10`).
fn processes_mentioning(dir: &Path) -> Vec<Pid> {
    let needle = format!("{}/", dir.to_string_lossy().trim_end_matches('/'));
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.starts_with("qemu-system") && cmd.contains(&needle)
        })
        .map(Pid::from_raw)
        .collect()
}

fn kill_and_wait(pid: Pid) -> Result<(), String> {
    let _ = kill(pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        // A zombie (if we happen to be its parent) counts as gone.
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("qemu pid {pid} did not die"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn check_artifacts(tb: &Testbed, image: Image, kernel: &str) -> Result<(), String> {
    let boot = tb.boot_files(image, kernel)?;
    let mut paths = vec![&boot.kernel, &boot.initrd];
    if image == Image::Debian {
        paths.extend([&tb.debian_root, &tb.debian_seed]);
    }
    let target = boot.target;
    for p in paths {
        if !p.is_file() {
            return Err(format!("{} missing: run `{target}` first", p.display()));
        }
    }
    Ok(())
}

fn create_disks(tb: &Testbed, id: NodeId, data_mib: u64, mars_mib: u64, image: Image, kernel: &str) -> Result<(), String> {
    let dir = tb.node_dir(id);
    let fresh = !dir.is_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if image == Image::Debian {
        // The root disk: a qcow2 overlay of the cached image (resolved, so the node keeps
        // its image even when build/debian/root.img names a newer one later), which qemu
        // opens read-only; everything the node writes stays in the overlay.
        let overlay = dir.join("root.qcow2");
        if !overlay.exists() {
            let base = fs::canonicalize(&tb.debian_root).map_err(|e| format!("{}: {e}", tb.debian_root.display()))?;
            let tmp = dir.join("root.qcow2.new");
            run(Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                .arg(&base)
                .arg(&tmp))?;
            fs::rename(&tmp, &overlay).map_err(|e| format!("{}: {e}", overlay.display()))?;
        }
    }
    if fresh {
        fs::write(dir.join("image"), format!("{}\n", image.name())).map_err(|e| e.to_string())?;
        fs::write(dir.join("kernel"), format!("{kernel}\n")).map_err(|e| e.to_string())?;
    }
    let disks = [
        ("scratch.img", SCRATCH_MIB),
        ("data.img", data_mib),
        ("mars.img", mars_mib),
        ("scratch2.img", SCRATCH_MIB),
        ("scratch3.img", SCRATCH_MIB),
    ];
    for (name, mib) in disks {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        let tmp = dir.join(format!("{name}.new"));
        let f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.set_len(mib << 20).map_err(|e| format!("{}: {e}", tmp.display()))?;
        drop(f);
        if name == "mars.img" {
            run(Command::new("mkfs.ext4").args(["-q", "-F", "-L", "mars"]).arg(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn free_loopback_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn launch(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let dir = tb.node_dir(id);
    let tap = net::open_tap(tb, id)?;
    let port = free_loopback_port()?;
    let k = id.0;
    let drive = |name: &str, idx: usize, slot: u8| {
        [
            "-drive".to_string(),
            format!("file={},if=none,id=d{idx},format=raw,cache=writeback,aio=threads", dir.join(name).display()),
            "-device".to_string(),
            format!("virtio-blk-pci,drive=d{idx},addr={slot:#x}"),
        ]
    };
    let image = tb.image_of(id)?;
    let boot = tb.boot_files(image, &tb.kernel_of(id)?)?;
    // bdev_allow_write_mounted=0: exclusive holders (a resource's disk) block other writers.
    // norandmaps: user space at the same addresses in every process. This qemu's TCG
    // finds translated code by virtual address, so a PIE program (marsadm, systemctl, the
    // shared libraries) mapped at a new random address had all its code translated anew
    // at every start: a `marsadm --version` cost 0.16 s of host CPU, 0.03 s without
    // (docu/testbed.md, "Speed under TCG"). The kernel's own randomization (KASLR) stays.
    let mut append =
        format!("console=ttyS0 panic=-1 oops=panic bdev_allow_write_mounted=0 norandmaps no_timer_check mars.node={k}");
    let mut cmd = Command::new("qemu-system-x86_64");
    // One host thread per node runs its vCPUs in turn (thread=single). With a thread per
    // vCPU, a vCPU could run code another vCPU had just patched (Debian's kernel patches
    // its jump labels at run time): "Oops: int3" at boot, seen once in 8 boots of 2
    // nodes. On this 2-core host the nodes together boot faster so, too (docu/testbed.md).
    cmd.args(["-name", &format!("mars-{id}"), "-accel", "tcg,thread=single", "-cpu", "max"])
        .args(["-smp", &tb.cpus.to_string(), "-m", &tb.mem_mib.to_string()])
        .args(["-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-no-reboot"])
        .args(["-rtc", "base=utc,clock=host"]);
    match image {
        Image::Busybox => {
            cmd.arg("-kernel").arg(&boot.kernel).arg("-initrd").arg(&boot.initrd);
        }
        Image::Debian => {
            // Root on vdf (slot 0xb, after vde), the seed disk vdg (0xc, read-only, shared
            // by all nodes): the names of vda..vde stay those of the busybox nodes.
            append += &format!(" root=/dev/vdf rootfstype=ext4 rw systemd.hostname={id}");
            cmd.arg("-kernel")
                .arg(&boot.kernel)
                .arg("-initrd")
                .arg(&boot.initrd)
                .arg("-drive")
                .arg(format!(
                    "file={},if=none,id=root,format=qcow2,cache=writeback,aio=threads",
                    dir.join("root.qcow2").display()
                ))
                .args(["-device", "virtio-blk-pci,drive=root,addr=0xb"])
                .arg("-drive")
                .arg(format!("file={},if=none,id=seed,format=raw,readonly=on", tb.debian_seed.display()))
                .args(["-device", "virtio-blk-pci,drive=seed,addr=0xc"]);
        }
    }
    cmd.args(["-append", &append])
        .arg("-chardev")
        .arg(format!("file,id=con,path={},append=on", dir.join("console.log").display()))
        .args(["-serial", "chardev:con", "-monitor", "none"])
        .args(["-netdev", &format!(
            "user,id=mgmt,restrict=on,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{port}-10.0.2.15:{}",
            mars_testbed::proto::AGENT_PORT
        )])
        .args(["-device", &format!("virtio-net-pci,netdev=mgmt,mac=52:54:00:00:00:{k:02x},addr=0x8")])
        .args(["-netdev", "tap,id=repl,fd=3"])
        .args(["-device", &format!("virtio-net-pci,netdev=repl,mac={},addr=0x9", net::repl_mac(id))])
        .args(drive("scratch.img", 0, 0x4))
        .args(drive("data.img", 1, 0x5))
        .args(drive("mars.img", 2, 0x6))
        // Probed in slot order after vdc (0x8 and 0x9 are the NICs): vdd, vde.
        .args(drive("scratch2.img", 3, 0x7))
        .args(drive("scratch3.img", 4, 0xa))
        .args(crate::disk::qmp_args(tb, id))
        .arg("-pidfile")
        .arg(dir.join("qemu.pid"))
        .arg("-daemonize")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let tap_fd = tap.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe dup2 is called; it installs
    // the tap as fd 3 (without CLOEXEC) for qemu's `-netdev tap,fd=3`.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(tap_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // With -daemonize the command returns once qemu is set up and running in the background.
    let out = cmd.output().map_err(|e| format!("cannot run qemu-system-x86_64: {e}"))?;
    drop(tap);
    if !out.status.success() {
        return Err(format!("qemu for {id} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    fs::write(dir.join("mgmt.port"), format!("{port}\n")).map_err(|e| e.to_string())?;
    net::attach_tap(tb, id)
}

fn wait_ready(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(tb.boot_timeout_s);
    loop {
        if running_pid(tb, id).is_none() {
            return Err(format!("{id} died while booting; console:\n{}", console_tail(tb, id)));
        }
        if exec::probe(tb, id) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{id} did not answer within {}s; console:\n{}", tb.boot_timeout_s, console_tail(tb, id)));
        }
        thread::sleep(Duration::from_millis(250));
    }
    // A Debian node answers early in sysinit; it is ready once systemd has finished
    // the boot (running, or degraded: a failed unit is the tests' to find).
    if tb.image_of(id)? == Image::Debian {
        let booted = ["sh", "-c", "case $(systemctl is-system-running) in initializing|starting) exit 1;; esac"];
        let booted: Vec<String> = booted.iter().map(|s| s.to_string()).collect();
        loop {
            if exec::run_quiet(tb, id, &booted) == Ok(0) {
                break;
            }
            if running_pid(tb, id).is_none() {
                return Err(format!("{id} died while booting; console:\n{}", console_tail(tb, id)));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{id}: systemd did not finish booting within {}s; console:\n{}",
                    tb.boot_timeout_s,
                    console_tail(tb, id)
                ));
            }
            thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(())
}

fn console_tail(tb: &Testbed, id: NodeId) -> String {
    let path = tb.node_dir(id).join("console.log");
    let Ok(mut f) = OpenOptions::new().read(true).open(&path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(3000)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}

pub fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}
