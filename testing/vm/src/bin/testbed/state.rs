//! Where the testbed keeps its state, and how nodes are named.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nix::fcntl::{Flock, FlockArg};

/// Upper bound on nodes; every node's /etc/hosts names all of them.
pub const MAX_NODES: u8 = 8;
/// Network namespace of the default instance (bridge, taps, cut rules); instance NAME
/// uses `mars-tb-NAME`.
pub const NETNS: &str = "mars-testbed";
/// State directory of the default instance; instance NAME uses `/var/tmp/mars-tb-NAME`.
///
/// Instances are not named `mars-testbed-NAME`: a testbed binary from before instances
/// existed finds stray qemu processes by the substring `/var/tmp/mars-testbed` (and
/// the old scenario runner greps `ip netns list` for the word `mars-testbed`), so such
/// a binary, run for the default instance, would kill or report another instance's nodes.
pub const DEFAULT_DIR: &str = "/var/tmp/mars-testbed";

/// A node number, 1..=MAX_NODES; written `nodeK` (plain `K` is accepted on input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeId(pub u8);

impl FromStr for NodeId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix("node").unwrap_or(s);
        match digits.parse::<u8>() {
            Ok(n) if (1..=MAX_NODES).contains(&n) => Ok(NodeId(n)),
            _ => Err(format!("bad node name {s:?}: expected node1..node{MAX_NODES}")),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

impl NodeId {
    /// Name of the node's tap device inside the instance's network namespace.
    pub fn tap(self) -> String {
        format!("tap{}", self.0)
    }
}

/// What a node boots (docu/testbed.md, "Images"); chosen when the node is created and
/// kept in its directory (file `image`), so `start` boots the same. Its kernel is chosen
/// and kept the same way (file `kernel`, see [`Testbed::kernel_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Image {
    /// A kernel with the busybox initramfs built for it (`build/kernels/<kernel>/initramfs.cpio`)
    /// as root, in RAM.
    Busybox,
    /// Debian's stock kernel with systemd as PID 1 and a minimal Debian 13 as root: the
    /// cached image `build/debian/root.img` under a per-node qcow2 overlay, booted with
    /// the kernel and initrd installed in it (`build/debian/vmlinuz`, `initrd.img`).
    Debian,
}

impl Image {
    pub fn name(self) -> &'static str {
        match self {
            Image::Busybox => "busybox",
            Image::Debian => "debian",
        }
    }
}

impl FromStr for Image {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "busybox" => Ok(Image::Busybox),
            "debian" => Ok(Image::Debian),
            _ => Err(format!("unknown image {s:?}: expected busybox or debian")),
        }
    }
}

/// Paths and settings of the testbed.
pub struct Testbed {
    /// Network namespace of the replication network.
    pub netns: String,
    pub dir: PathBuf,
    /// One directory per kernel the nodes can boot, named by its kernel line (`7.3`,
    /// `6.12`): `vmlinuz` and the busybox nodes' `initramfs.cpio` (with that kernel's
    /// modules and mars.ko).
    pub kernels: PathBuf,
    /// The kernel of nodes created without `--kernel`.
    pub default_kernel: String,
    /// Debian nodes: the root image (a symlink into the cache), the seed disk with this
    /// checkout's agent and marsadm, and the kernel installed in the image (`vmlinuz`,
    /// `initrd.img`, and its line in `kernel`), all in this directory.
    pub debian: PathBuf,
    pub debian_root: PathBuf,
    pub debian_seed: PathBuf,
    pub mem_mib: u32,
    pub cpus: u32,
    pub boot_timeout_s: u64,
}

fn env_or<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|_| format!("bad value {v:?} in ${name}")),
        Err(_) => Ok(default),
    }
}

impl Testbed {
    pub fn from_env() -> Result<Self, String> {
        let repo = std::env::var_os("MARS_REPO").map(PathBuf::from).unwrap_or_else(|| ".".into());
        let path = |var: &str, default: PathBuf| std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
        let instance = match std::env::var("MARS_TESTBED_INSTANCE") {
            Ok(name) if !name.is_empty() => Some(check_instance(&name)?),
            _ => None,
        };
        let (netns, dir) = match &instance {
            Some(name) => (format!("mars-tb-{name}"), PathBuf::from(format!("/var/tmp/mars-tb-{name}"))),
            None => (NETNS.to_owned(), PathBuf::from(DEFAULT_DIR)),
        };
        Ok(Testbed {
            netns,
            dir: path("MARS_TESTBED_DIR", dir),
            kernels: path("MARS_TESTBED_KERNELS", repo.join("build/kernels")),
            default_kernel: check_kernel(&std::env::var("MARS_TESTBED_KERNEL").unwrap_or_else(|_| DEFAULT_KERNEL.to_owned()))?,
            debian: repo.join("build/debian"),
            debian_root: path("MARS_TESTBED_DEBIAN_ROOT", repo.join("build/debian/root.img")),
            debian_seed: path("MARS_TESTBED_DEBIAN_SEED", repo.join("build/debian/seed.img")),
            mem_mib: env_or("MARS_TESTBED_MEM_MIB", 1024)?,
            cpus: env_or("MARS_TESTBED_CPUS", 2)?,
            boot_timeout_s: env_or("MARS_TESTBED_BOOT_TIMEOUT", 300)?,
        })
    }

    pub fn node_dir(&self, node: NodeId) -> PathBuf {
        self.dir.join(node.to_string())
    }

    /// The image NODE was created with (a node from before images existed: busybox).
    pub fn image_of(&self, node: NodeId) -> Result<Image, String> {
        match read_trimmed(&self.node_dir(node).join("image")) {
            None => Ok(Image::Busybox),
            Some(name) => name.parse().map_err(|e| format!("{node}: {e}")),
        }
    }

    /// The kernel line NODE was created with (a node from before kernels were chosen:
    /// the default).
    pub fn kernel_of(&self, node: NodeId) -> Result<String, String> {
        match read_trimmed(&self.node_dir(node).join("kernel")) {
            None => Ok(self.default_kernel.clone()),
            Some(name) => check_kernel(&name).map_err(|e| format!("{node}: {e}")),
        }
    }

    /// Kernel image and root filesystem of a node booting `image` with kernel `kernel`.
    pub fn boot_files(&self, image: Image, kernel: &str) -> Result<BootFiles, String> {
        match image {
            Image::Busybox => {
                let dir = self.kernels.join(kernel);
                Ok(BootFiles { kernel: dir.join("vmlinuz"), initrd: dir.join("initramfs.cpio"), target: "make" })
            }
            Image::Debian => {
                let have = read_trimmed(&self.debian.join("kernel")).unwrap_or_default();
                if have != kernel {
                    return Err(format!(
                        "the Debian image boots kernel {have:?}, not {kernel:?}: Debian nodes run only that kernel"
                    ));
                }
                Ok(BootFiles {
                    kernel: self.debian.join("vmlinuz"),
                    initrd: self.debian.join("initrd.img"),
                    target: "make debian-image",
                })
            }
        }
    }

    /// Nodes that have been created (have a directory), in order.
    pub fn nodes(&self) -> Vec<NodeId> {
        (1..=MAX_NODES).map(NodeId).filter(|n| self.node_dir(*n).is_dir()).collect()
    }

    /// Serialises state-changing verbs (up, start, crash, down, net) across shells.
    /// The lock is on the state directory itself, so `down` leaves no lock file behind.
    pub fn lock(&self) -> Result<Flock<File>, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let f = File::open(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| format!("lock {}: {e}", self.dir.display()))
    }
}

/// Files a node boots, and the make target that builds them.
pub struct BootFiles {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub target: &'static str,
}

/// The kernel of new nodes unless `--kernel` or $MARS_TESTBED_KERNEL names another:
/// Debian's stock kernel (docu/install.md, "Supported kernels").
pub const DEFAULT_KERNEL: &str = "7.3";

/// Kernel line names: 1 to 16 characters, a version of 0-9 and '.' starting with a digit
/// (`7.3`, `6.12`), optionally followed by '-' and a variant of a-z (`7.3-debug`).
pub fn check_kernel(name: &str) -> Result<String, String> {
    let (version, variant) = name.split_once('-').unwrap_or((name, "a"));
    let ok = (1..=16).contains(&name.len())
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !variant.is_empty()
        && variant.bytes().all(|b| b.is_ascii_lowercase());
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!("bad kernel {name:?}: a kernel line such as 7.3, 6.12 or 7.3-debug"))
    }
}

/// Instance names: 1 to 8 of a-z, 0-9 (the namespace name stays short and plain).
fn check_instance(name: &str) -> Result<String, String> {
    let ok = (1..=8).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!("bad $MARS_TESTBED_INSTANCE {name:?}: 1 to 8 characters a-z, 0-9"))
    }
}

pub fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert_eq!("node3".parse::<NodeId>(), Ok(NodeId(3)));
        assert_eq!("8".parse::<NodeId>(), Ok(NodeId(8)));
        assert!("node0".parse::<NodeId>().is_err());
        assert!("node9".parse::<NodeId>().is_err());
        assert!("nodex".parse::<NodeId>().is_err());
        assert_eq!(NodeId(2).to_string(), "node2");
        assert_eq!(NodeId(2).tap(), "tap2");
    }

    #[test]
    fn kernel_names() {
        assert_eq!(check_kernel("7.3"), Ok("7.3".to_owned()));
        assert_eq!(check_kernel("6.12"), Ok("6.12".to_owned()));
        assert!(check_kernel("").is_err());
        assert!(check_kernel("../x").is_err());
        assert!(check_kernel("v7").is_err());
        assert!(check_kernel("12345678901234567").is_err());
        assert_eq!(check_kernel("7.3-debug"), Ok("7.3-debug".to_owned()));
        assert!(check_kernel("7.3-").is_err());
        assert!(check_kernel("7.3-Debug").is_err());
        assert!(check_kernel("7.3-debug-x").is_err());
        assert!(check_kernel("-debug").is_err());
    }

    #[test]
    fn instance_names() {
        assert_eq!(check_instance("h1"), Ok("h1".to_owned()));
        assert!(check_instance("").is_err());
        assert!(check_instance("H1").is_err());
        assert!(check_instance("a-b").is_err());
        assert!(check_instance("../x").is_err());
        assert!(check_instance("123456789").is_err());
    }
}
