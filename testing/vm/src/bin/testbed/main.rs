//! `testbed`: boots and controls a set of qemu nodes for testing MARS.
//!
//! The verbs and their meaning are a stable interface for other tools (docu/testbed.md).
//! Exit status: `exec` exits with the command's status; every error of the testbed itself
//! exits with 255, so the two can be told apart.

mod disk;
mod exec;
mod net;
mod node;
mod state;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use state::{Image, NodeId, Testbed};

/// Multi-node qemu testbed for MARS (see docu/testbed.md).
///
/// State lives in $MARS_TESTBED_DIR (default /var/tmp/mars-testbed); the replication
/// network lives in the network namespace `mars-testbed`. With $MARS_TESTBED_INSTANCE=NAME
/// a separate testbed: /var/tmp/mars-tb-NAME and namespace `mars-tb-NAME`. Kernels and
/// their initramfs come from the repository's build/kernels/ ($MARS_TESTBED_KERNELS); new
/// nodes boot $MARS_TESTBED_KERNEL (default 7.3) unless `up --kernel` names another.
#[derive(Debug, Parser)]
#[command(name = "testbed")]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Boot node1..nodeN (those not running yet) and wait until each answers.
    Up {
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=state::MAX_NODES as i64))]
        nodes: u8,
        /// Size of the data disk /dev/vdb of new nodes.
        #[arg(long, default_value_t = 512)]
        data_mib: u64,
        /// Size of the /mars disk /dev/vdc (ext4) of new nodes.
        #[arg(long, default_value_t = 1024)]
        mars_mib: u64,
        /// What the nodes boot: busybox (initramfs in RAM) or debian (Debian 13 with
        /// systemd on a root disk; `make debian-image`). All nodes boot the same.
        #[arg(long, value_enum, default_value_t = Image::Busybox)]
        image: Image,
        /// The kernel line the nodes this call creates boot (7.3: Debian's stock
        /// kernel; 6.12: the project's); nodes that exist keep theirs, so
        /// `up --nodes 1 --kernel 7.3` then `up --nodes 2 --kernel 6.12` gives a
        /// mixed cluster. Default: $MARS_TESTBED_KERNEL, else 7.3.
        #[arg(long, value_parser = state::check_kernel)]
        kernel: Option<String>,
    },
    /// Copy HOSTFILE into NODE as GUESTPATH (absolute), with its permission bits.
    Push { node: NodeId, hostfile: std::path::PathBuf, guestpath: String },
    /// Run CMD as root in NODE, stream its output and stdin, exit with its status.
    Exec {
        node: NodeId,
        #[arg(last = true, required = true, num_args = 1..)]
        cmd: Vec<String>,
    },
    /// Hard power-off NODE (kill its VM); its disks stay as they are.
    Crash { node: NodeId },
    /// Boot a stopped or crashed NODE again with the same disks, and wait until it answers.
    Start { node: NodeId },
    /// Replication network: cut, heal, shape.
    #[command(subcommand)]
    Net(NetVerb),
    /// Stop all nodes and remove every trace (processes, namespace, files).
    Down,
    /// One line per node: name, state, qemu pid, management port.
    Status,
    /// Print NODE's serial console log (kernel messages) of all its boots.
    Console { node: NodeId },
    /// Print the sha256 (hex) of NODE's disk image, read on the host (valid once the
    /// guest holds no unwritten data for it: after `marsadm down`, or `sync` and
    /// `blockdev --flushbufs`).
    DiskSum {
        node: NodeId,
        /// vda, vdd, vde (scratch), vdb (data) or vdc (/mars).
        disk: disk::Disk,
        /// Hash only the first N bytes (default: the whole disk).
        #[arg(long)]
        bytes: Option<u64>,
    },
    /// Make NODE's disk all zeros cheaply (punch out its image file on the host); refused
    /// while the disk is in use in the guest (mounted, held by mars).
    DiskZero {
        node: NodeId,
        /// vda, vdd, vde (scratch), vdb (data) or vdc (/mars).
        disk: disk::Disk,
    },
    /// Disk changes of a running node: grow.
    #[command(subcommand)]
    Disk(DiskVerb),
}

#[derive(Debug, Subcommand)]
enum DiskVerb {
    /// Grow NODE's disk to MIB MiB (new total size) while it runs: the image file on
    /// the host, then qemu's virtual disk (block_resize); returns once the guest sees
    /// the new size. Disks never shrink.
    Grow {
        node: NodeId,
        /// vda (scratch), vdb (data) or vdc (/mars).
        disk: disk::Disk,
        /// The new size in MiB.
        mib: u64,
    },
}

#[derive(Debug, Subcommand)]
enum NetVerb {
    /// Drop all replication traffic between A and B, both directions.
    Cut { a: NodeId, b: NodeId },
    /// Undo `net cut A B`.
    Heal { a: NodeId, b: NodeId },
    /// Delay, drop or rate-limit the replication traffic NODE sends (netem in the node).
    Shape {
        node: NodeId,
        /// Added one-way delay in milliseconds.
        #[arg(long)]
        delay: Option<u32>,
        /// Packet loss in percent.
        #[arg(long)]
        loss: Option<f64>,
        /// Rate limit in kbit/s.
        #[arg(long)]
        rate: Option<u64>,
    },
    /// Remove NODE's shaping.
    Unshape { node: NodeId },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 255 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli.verb) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("testbed: error: {e}");
            ExitCode::from(255)
        }
    }
}

fn run(verb: Verb) -> Result<u8, String> {
    let tb = Testbed::from_env()?;
    match verb {
        Verb::Up { nodes, data_mib, mars_mib, image, kernel } => {
            let kernel = kernel.unwrap_or_else(|| tb.default_kernel.clone());
            node::up(&tb, nodes, data_mib, mars_mib, image, &kernel)?
        }
        Verb::Push { node, hostfile, guestpath } => return exec::push(&tb, node, &hostfile, &guestpath),
        Verb::Exec { node, cmd } => return exec::exec(&tb, node, &cmd),
        Verb::Crash { node } => node::crash(&tb, node)?,
        Verb::Start { node } => node::start(&tb, node)?,
        Verb::Net(NetVerb::Cut { a, b }) => net::cut(&tb, a, b)?,
        Verb::Net(NetVerb::Heal { a, b }) => net::heal(&tb, a, b)?,
        Verb::Net(NetVerb::Shape { node, delay, loss, rate }) => {
            net::shape(&tb, node, net::Shape { delay_ms: delay, loss_pct: loss, rate_kbit: rate })?
        }
        Verb::Net(NetVerb::Unshape { node }) => net::unshape(&tb, node)?,
        Verb::Down => node::down(&tb)?,
        Verb::Status => node::status(&tb)?,
        Verb::DiskSum { node, disk, bytes } => disk::sum(&tb, node, disk, bytes)?,
        Verb::DiskZero { node, disk } => disk::zero(&tb, node, disk)?,
        Verb::Disk(DiskVerb::Grow { node, disk, mib }) => disk::grow(&tb, node, disk, mib)?,
        Verb::Console { node } => {
            let log = tb.node_dir(node).join("console.log");
            let text = std::fs::read(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            std::io::stdout().write_all(&text).map_err(|e| e.to_string())?;
        }
    }
    Ok(0)
}
