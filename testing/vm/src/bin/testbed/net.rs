//! The replication network: a bridge in the testbed's own network namespace, one tap
//! per node, nft bridge rules for `net cut`, and netem inside the node for `net shape`.
//!
//! Nothing here touches the host's own network namespace: the taps are created inside
//! the instance's namespace (the fd is opened there and handed to qemu), so replication traffic never
//! leaves it. Delay and loss are applied in the node (the host kernel has no netem).

use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

use crate::exec;
use crate::node::{run, running_pid};
use crate::state::{NodeId, Testbed};

/// nft table (family bridge) and chain holding the cut rules.
const NFT_TABLE: &str = "testbed";
const NFT_CHAIN: &str = "cut";

/// Interface name of the replication NIC inside every node (set by the guest's rc script).
pub const GUEST_REPL_IF: &str = "repl0";

pub fn repl_mac(id: NodeId) -> String {
    format!("52:54:00:77:00:{:02x}", id.0)
}

fn ip_netns(tb: &Testbed) -> Command {
    let mut c = Command::new("ip");
    c.args(["-n", &tb.netns]);
    c
}

fn nft(tb: &Testbed) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &tb.netns, "nft"]);
    c
}

fn netns_path(tb: &Testbed) -> String {
    format!("/run/netns/{}", tb.netns)
}

/// Creates the namespace, bridge and nft chain if they do not exist yet.
pub fn ensure(tb: &Testbed) -> Result<(), String> {
    if Path::new(&netns_path(tb)).exists() {
        return Ok(());
    }
    run(Command::new("ip").args(["netns", "add", &tb.netns]))?;
    run(ip_netns(tb).args(["link", "set", "lo", "up"]))?;
    run(ip_netns(tb).args(["link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"]))?;
    run(ip_netns(tb).args(["link", "set", "br0", "up"]))?;
    run(nft(tb).args(["add", "table", "bridge", NFT_TABLE]))?;
    run(nft(tb).args([
        "add", "chain", "bridge", NFT_TABLE, NFT_CHAIN,
        "{ type filter hook forward priority 0; policy accept; }",
    ]))
}

/// Deletes the namespace; the kernel removes its bridge, taps and rules with it.
pub fn remove(tb: &Testbed) -> Result<(), String> {
    if Path::new(&netns_path(tb)).exists() {
        run(Command::new("ip").args(["netns", "del", &tb.netns]))?;
    }
    Ok(())
}

/// Opens (creating) the node's tap inside the instance's namespace and returns its fd for qemu.
/// The tap lives as long as some process holds the fd, so it vanishes with the VM.
pub fn open_tap(tb: &Testbed, id: NodeId) -> Result<OwnedFd, String> {
    let own = File::open("/proc/thread-self/ns/net").map_err(|e| format!("own netns: {e}"))?;
    let target = File::open(netns_path(tb)).map_err(|e| format!("{}: {e}", netns_path(tb)))?;
    setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| format!("enter {}: {e}", tb.netns))?;
    // A tun fd belongs to the namespace it was opened in, whatever thread uses it later.
    let opened = OpenOptions::new().read(true).write(true).open("/dev/net/tun");
    setns(&own, CloneFlags::CLONE_NEWNET).map_err(|e| format!("leave {}: {e}", tb.netns))?;
    let tun = opened.map_err(|e| format!("/dev/net/tun: {e}"))?;

    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let mut req = IfReq { name: [0; libc::IFNAMSIZ], flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short, _pad: [0; 22] };
    let name = id.tap();
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    // A just-killed qemu may still be closing the old tap: EBUSY for a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // SAFETY: `tun` is an open /dev/net/tun fd and `req` is a properly sized,
        // initialised `struct ifreq` that lives across the call.
        let rc = unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, &mut req) };
        if rc >= 0 {
            return Ok(tun.into());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EBUSY) || Instant::now() > deadline {
            return Err(format!("TUNSETIFF {name}: {err}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the node's tap has left the namespace (its last user closed it).
pub fn wait_tap_gone(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let present = ip_netns(tb).args(["link", "show", &id.tap()]).output().map(|o| o.status.success());
        if !matches!(present, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{} still exists 10 s after its qemu died", id.tap()));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Puts the node's tap (now held by qemu) on the bridge.
pub fn attach_tap(tb: &Testbed, id: NodeId) -> Result<(), String> {
    run(ip_netns(tb).args(["link", "set", &id.tap(), "master", "br0", "up"]))
}

fn cut_comment(a: NodeId, b: NodeId) -> String {
    format!("cut-{}-{}", a.0, b.0)
}

/// Rule handles of the cut between `a` and `b` (either direction).
fn cut_handles(tb: &Testbed, a: NodeId, b: NodeId) -> Result<Vec<String>, String> {
    let out = nft(tb)
        .args(["-a", "list", "chain", "bridge", NFT_TABLE, NFT_CHAIN])
        .output()
        .map_err(|e| format!("nft: {e}"))?;
    if !out.status.success() {
        return Err(format!("nft list failed (is the testbed up?): {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let wanted = [cut_comment(a, b), cut_comment(b, a)];
    Ok(text
        .lines()
        .filter(|l| wanted.iter().any(|c| l.contains(&format!("comment \"{c}\""))))
        .filter_map(|l| l.rsplit("# handle ").next().map(|h| h.trim().to_owned()))
        .collect())
}

pub fn cut(tb: &Testbed, a: NodeId, b: NodeId) -> Result<(), String> {
    if a == b {
        return Err("cannot cut a node from itself".into());
    }
    let _lock = tb.lock()?;
    if !cut_handles(tb, a, b)?.is_empty() {
        return Ok(()); // already cut
    }
    for (from, to) in [(a, b), (b, a)] {
        run(nft(tb).args([
            "add", "rule", "bridge", NFT_TABLE, NFT_CHAIN,
            "iifname", &from.tap(), "oifname", &to.tap(), "drop",
            "comment", &format!("\"{}\"", cut_comment(from, to)),
        ]))?;
    }
    Ok(())
}

pub fn heal(tb: &Testbed, a: NodeId, b: NodeId) -> Result<(), String> {
    let _lock = tb.lock()?;
    for h in cut_handles(tb, a, b)? {
        run(nft(tb).args(["delete", "rule", "bridge", NFT_TABLE, NFT_CHAIN, "handle", &h]))?;
    }
    Ok(())
}

/// Shaping of the traffic a node sends on its replication NIC.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Shape {
    pub delay_ms: Option<u32>,
    pub loss_pct: Option<f64>,
    pub rate_kbit: Option<u64>,
}

impl Shape {
    fn netem_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(d) = self.delay_ms {
            v.extend(["delay".to_string(), format!("{d}ms")]);
        }
        if let Some(l) = self.loss_pct {
            v.extend(["loss".to_string(), format!("{l}%")]);
        }
        if let Some(r) = self.rate_kbit {
            v.extend(["rate".to_string(), format!("{r}kbit")]);
        }
        v
    }

    fn to_line(self) -> String {
        self.netem_args().join(" ")
    }
}

fn shape_file(tb: &Testbed, id: NodeId) -> std::path::PathBuf {
    tb.node_dir(id).join("shape")
}

fn apply_netem(tb: &Testbed, id: NodeId, netem_args: &[String]) -> Result<(), String> {
    let mut argv: Vec<String> = ["tc", "qdisc", "replace", "dev", GUEST_REPL_IF, "root", "netem", "limit", "100000"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(netem_args.iter().cloned());
    match exec::run_quiet(tb, id, &argv)? {
        0 => Ok(()),
        code => Err(format!("{id}: tc failed with status {code}: {}", argv.join(" "))),
    }
}

pub fn shape(tb: &Testbed, id: NodeId, shape: Shape) -> Result<(), String> {
    if shape == Shape::default() {
        return Err("nothing to shape: give --delay, --loss or --rate (or use net unshape)".into());
    }
    if shape.loss_pct.is_some_and(|l| !(0.0..=100.0).contains(&l)) {
        return Err("--loss must be a percentage between 0 and 100".into());
    }
    let _lock = tb.lock()?;
    if running_pid(tb, id).is_none() {
        return Err(format!("{id} is not running"));
    }
    apply_netem(tb, id, &shape.netem_args())?;
    fs::write(shape_file(tb, id), shape.to_line()).map_err(|e| e.to_string())
}

pub fn unshape(tb: &Testbed, id: NodeId) -> Result<(), String> {
    let _lock = tb.lock()?;
    let _ = fs::remove_file(shape_file(tb, id));
    if running_pid(tb, id).is_some() {
        let argv: Vec<String> = ["sh", "-c", &format!("tc qdisc del dev {GUEST_REPL_IF} root 2>/dev/null; true")]
            .iter()
            .map(|s| s.to_string())
            .collect();
        exec::run_quiet(tb, id, &argv)?;
    }
    Ok(())
}

/// After a (re)boot: shaping lives in the node's kernel, so put it back.
pub fn reapply_shape(tb: &Testbed, id: NodeId) -> Result<(), String> {
    match fs::read_to_string(shape_file(tb, id)) {
        Ok(line) if !line.trim().is_empty() => {
            let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            apply_netem(tb, id, &args)
        }
        _ => Ok(()),
    }
}
