//! Command-line definition (clap derive). Help texts here are the user documentation
//! that `marsadm --help` and `marsadm <command> --help` print.

use clap::{Parser, Subcommand};

/// Administration tool for MARS, asynchronous long-distance block-level replication.
///
/// MARS keeps a primary's block device /dev/mars/<resource> replicated to any number of
/// secondaries: every write is appended to a transaction logfile under /mars, which the
/// secondaries fetch and replay in order, so each secondary always holds a consistent
/// (maybe older) copy. All state lives in the symlink tree under /mars; marsadm changes
/// it and the kernel module mars.ko acts on it.
///
/// Where a command takes a RESOURCE, `all` (every resource this host is a member of; for
/// view and view-*: every resource known here) or a comma-separated list (r0,r1) works
/// too; commands that change something check every resource named before they change
/// any.
#[derive(Debug, Parser)]
#[command(name = "marsadm", version, propagate_version = true)]
pub struct Cli {
    /// Seconds a command waits for the cluster or the module before it gives up
    /// (default: 30 for the cluster commands, 60 for the others).
    #[arg(long, global = true, value_name = "S")]
    pub timeout: Option<u64>,
    /// Run every check of a command that changes something, say what it would do, and
    /// change nothing (exit status as the command's: 0 if it would go ahead).
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// view-<name> and the other commands that print a value: print it as JSON,
    /// {"schema_version":1,"host":..,"name":..,"values":[{"resource":..,"value":..}]}
    /// (docu/marsadm-json.md); commands with a --json of their own say what they print.
    #[arg(long, global = true)]
    pub json: bool,
    /// Skip a command's safety checks where it has a --force (see its help); accepted
    /// before the command as in the original, ignored by commands without one.
    #[arg(long, short = 'f', global = true)]
    pub force: bool,
    /// Act as host H: view and view-* show what H's links say (from this host's tree);
    /// leave-resource removes member H. Other commands refuse it.
    #[arg(long = "host", id = "act_as", global = true, value_name = "H")]
    pub host: Option<String>,
    /// view and view-*: print TEXT for each resource instead, evaluated in the original's
    /// macro language (docu/view-macros.md): %diskstate{} or %{diskstate}, ...,
    /// %if{c}{then}{else}, %let, %foreach, <name>.tpl files on $MARS_PATH, e.g.
    /// --macro '%{res} %role{} %if{%is-primary{}}{}{%replay-rest{} to replay}'.
    #[arg(long = "macro", global = true, value_name = "TEXT")]
    pub macro_text: Option<String>,
    /// Seconds without news after which a host counts as not alive in view's macros
    /// (%{window}, is-alive, commstate; default 60).
    #[arg(long, global = true, value_name = "S", default_value_t = 60)]
    pub window: u64,
    /// Bytes of log a secondary may be behind and still count as having reached it
    /// (%{threshold}, *-threshold-reached; default 10M; suffixes as resize).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size, default_value = "10M")]
    pub threshold: u64,
    /// Seconds after which view's macros call a replay that does not move stuck
    /// (%{stuck_seconds}; default 3600).
    #[arg(long, global = true, value_name = "S", default_value_t = 3600)]
    pub stuck_seconds: u64,
    /// More detail (repeat for more): view's macros see it as %{verbose}.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Accepted as in the original: a handover here never refuses because a secondary
    /// is syncing (its sync goes on from the new primary).
    #[arg(long, global = true)]
    pub ignore_sync: bool,
    /// With several resources (all, or a list): act on N of them at once (no N: all at
    /// once) instead of one after the other, once every check has passed.
    #[arg(long, global = true, value_name = "N", num_args = 0..=1, default_missing_value = "0", require_equals = true)]
    pub parallel: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode and verify a transaction logfile, record by record.
    ///
    /// Prints one line per record (sequence number, offset in the file, Lamport stamp,
    /// device position, length, kind, checksum algorithm) and a summary. Every record is
    /// fully checked (header checksum, trailer, sequence, payload digest) exactly as the
    /// module's replay checks it; the first bad record is reported with its offset.
    /// Exit status 0: clean; 1: a damaged or out-of-sequence record; 3: the last record
    /// is incomplete (a log being written or fetched, or cut off by a crash).
    #[command(visible_alias = "log-dump")]
    Cat {
        /// The logfile, e.g. /mars/resource-r0/log-000000001-node1.
        logfile: std::path::PathBuf,
        /// Print only the summary, not one line per record.
        #[arg(long)]
        summary: bool,
        /// Print JSON (schema in docu/marsadm-json.md) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make this host the first member of a new cluster.
    ///
    /// Generates the cluster secret (/mars/cluster.key, mode 0600: every member needs a
    /// copy, see join-cluster; it never crosses the network), and writes the cluster
    /// identity (/mars/uuid) and this host's address (/mars/ips/ip-<host>) into the /mars
    /// tree. /mars must be a filesystem of its own. The address is taken from /etc/hosts
    /// unless given with --ip.
    CreateCluster {
        /// IPv4 address other members use to reach this host.
        #[arg(long)]
        ip: Option<std::net::Ipv4Addr>,
    },
    /// Join the cluster that PEER is a member of.
    ///
    /// Needs the module loaded here and on PEER, this host in no cluster yet, and the
    /// cluster's secret: copy /mars/cluster.key from any member (scp, or your
    /// configuration management) and give it with --secret-file. Installs the secret,
    /// writes this host's and PEER's addresses into /mars/ips, then waits until the
    /// module has fetched the cluster's tree from PEER (port 7777) and adopted its uuid.
    /// Addresses come from /etc/hosts unless given.
    ///
    /// Example: ssh node1 cat /mars/cluster.key | marsadm join-cluster node1 --secret-file -
    JoinCluster {
        /// A host that is a member of the cluster.
        peer: String,
        /// The cluster secret (a copy of a member's /mars/cluster.key; - reads stdin).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
        /// PEER's IPv4 address.
        peer_ip: Option<std::net::Ipv4Addr>,
        /// IPv4 address other members use to reach this host.
        #[arg(long)]
        ip: Option<std::net::Ipv4Addr>,
    },
    /// Merge this host's cluster into PEER's, keeping every resource as it is.
    ///
    /// Run it on each host of the cluster that gives up its identity, naming a host of
    /// the other cluster and giving that cluster's secret (a copy of its
    /// /mars/cluster.key). marsadm first reads PEER's tree (port 7777, as a joining host
    /// does; nothing changes there) and refuses if a resource name is used by both
    /// clusters for different resources or a host has two addresses. Then it installs
    /// the secret as in a rotation (the old one stays accepted), takes PEER's cluster
    /// uuid and waits until the module has PEER's tree. Replication between this host
    /// and the hosts of its old cluster pauses until they have merged too: run it on
    /// all of them one after the other, then `rotate-secret --finish` on each.
    ///
    /// Example: node3# marsadm merge-cluster node1 --secret-file /root/node1-cluster.key
    #[command(verbatim_doc_comment)]
    MergeCluster {
        /// A host of the other cluster.
        peer: String,
        /// The other cluster's secret (a copy of its /mars/cluster.key; - reads stdin).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
        /// PEER's IPv4 address (default: from /etc/hosts).
        peer_ip: Option<std::net::Ipv4Addr>,
    },
    /// Check whether merge-cluster with PEER would work (changes nothing).
    ///
    /// Reads PEER's tree as merge-cluster does and lists what conflicts: a resource
    /// name both clusters use for different resources, a host with two addresses.
    /// Exit 0: it can merge (or is in this cluster already); 1: conflicts.
    MergeClusterCheck {
        /// A host of the other cluster.
        peer: String,
        /// The other cluster's secret (a copy of its /mars/cluster.key; - reads stdin).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
        /// PEER's IPv4 address (default: from /etc/hosts).
        peer_ip: Option<std::net::Ipv4Addr>,
    },
    /// List this cluster's uuid, hosts and resources (with their members).
    ///
    /// For comparing two clusters by hand before merge-cluster.
    MergeClusterList,
    /// Leave the cluster (this host must be member of no resource).
    ///
    /// Marks this host's address deleted (/mars/ips/ip-<host> = .deleted), waits until
    /// every other member has pulled that (heard from twice since), then removes the
    /// cluster identity (/mars/uuid) and the secret here. Afterwards `rmmod mars` is safe.
    LeaveCluster,
    /// Replace the cluster secret on a running cluster, without downtime.
    ///
    /// Three steps (docu/security.md):
    ///   1. on one member:         rotate-secret --generate FILE
    ///      writes a new secret to FILE and installs it; the old one stays accepted
    ///   2. on every other member: rotate-secret --secret-file FILE   (a copy of FILE)
    ///   3. on every member:       rotate-secret --finish
    ///      drops the old secret; refused while a member does not show the new key yet
    ///
    /// While both are installed, connections use the newest key both ends hold. Each
    /// host shows the ids of its keys (never the keys) in /mars/actual-<host>/keys.
    #[command(verbatim_doc_comment, group(clap::ArgGroup::new("step").required(true).args(["generate", "secret_file", "finish"])))]
    RotateSecret {
        /// Generate the new secret, write it to FILE (mode 0600, must not exist), install it.
        #[arg(long, value_name = "FILE")]
        generate: Option<std::path::PathBuf>,
        /// Install the new secret from FILE (- reads stdin).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
        /// Drop the old secret.
        #[arg(long)]
        finish: bool,
        /// With --finish: even if some members do not show the new key (they are gone).
        #[arg(long, requires = "finish")]
        force: bool,
    },
    /// Wait until the device of RESOURCE is closed here (not mounted, no opener).
    ///
    /// Exit status 0 once /dev/mars/<dev> is not open here (or not up), 6 after
    /// --timeout seconds (default 60).
    WaitUmount { resource: String },
    /// Wait until every other cluster member has been heard from.
    ///
    /// Succeeds once each host in /mars/ips has exchanged metadata with this host since
    /// the command started (its actual-<host>/time link arrived here newer than that).
    /// Fails after --timeout seconds, naming the hosts not heard from.
    #[command(visible_alias = "wait-connect")]
    WaitCluster,
    /// Create a resource on this host, which becomes its primary.
    ///
    /// DISK (an unused block device, e.g. /dev/vg/r0) is replicated; its content is kept
    /// and becomes the resource's content. The device /dev/mars/DEVNAME (default: the
    /// resource name) appears when the module has started the resource. Needs the module
    /// loaded and a cluster (create-cluster).
    CreateResource {
        /// Resource name: a-z, 0-9 and '-', starting with a letter.
        resource: String,
        /// The underlying disk.
        disk: std::path::PathBuf,
        /// Name of the device under /dev/mars/ (default: the resource name).
        devname: Option<String>,
        /// Re-create a resource of this name whose members are all gone (none
        /// reachable, not attached here): its old links are deleted and logfile
        /// numbers continue after the old ones.
        #[arg(long)]
        force: bool,
    },
    /// Join an existing resource as a secondary, replicating onto DISK.
    ///
    /// DISK (unused, at least the resource's size) will receive the primary's data: a
    /// fast full sync (port 7779) compares block digests with the primary's disk and
    /// copies only what differs, while the primary's logfiles are fetched (port 7778)
    /// from its current one on; after the sync they are replayed in order. DISK is a
    /// consistent copy once `marsadm view RESOURCE` shows UpToDate.
    JoinResource {
        /// The resource (created on another host, known here through the cluster).
        resource: String,
        /// The underlying disk on this host.
        disk: std::path::PathBuf,
        /// Name of the device under /dev/mars/ should this host become primary
        /// (default: the resource name).
        devname: Option<String>,
        /// Join again although this host is (still) a member, e.g. after a split brain
        /// with a fresh disk: its old replay position, version history and logfiles are
        /// discarded first (the resource must be down here).
        #[arg(long)]
        force: bool,
    },
    /// Leave a resource this host is a secondary member of (after `down`), or remove a
    /// dead member with --host.
    ///
    /// Marks the host's links of the resource deleted (the other members stop waiting
    /// for it, e.g. to delete logfiles, and forget its version history) and, for this
    /// host, removes its copies of the logfiles. The disk keeps its content. Refused for
    /// the designated primary. With --host H a survivor removes H, which must be
    /// unreachable (--force: also a reachable one; its module then detaches).
    LeaveResource {
        resource: String,
        /// With --host H: remove H even though it is reachable.
        #[arg(long)]
        force: bool,
    },
    /// Set the address at which this host reaches member HOST (the original's
    /// lowlevel-set-host-ip): to move a member to a new address.
    ///
    /// Writes /mars/ips/ip-HOST here. A member takes a host's address only from that host
    /// itself or from its own marsadm (docu/cluster.md, "Ownership"), so run it on every
    /// member, in any order, HOST included: there the module moves its listeners to IP
    /// (all addresses while IP is not on the host yet). Members that have it reach HOST
    /// at IP at their next pull; `marsadm update-cluster` shows that each is heard.
    LowlevelSetHostIp {
        /// The member that moves (this host or another).
        host: String,
        /// Its new IPv4 address.
        ip: std::net::Ipv4Addr,
    },
    /// List the cluster's members and their addresses, as this host knows them.
    LowlevelLsHostIps,
    /// Remove member HOST from the cluster here: for a host that is gone for good.
    ///
    /// Marks /mars/ips/ip-HOST deleted here, so this host stops pulling from it. HOST must
    /// be member of no resource (leave-resource --host HOST RES first); a host that can
    /// still run commands leaves with leave-cluster instead. As with lowlevel-set-host-ip,
    /// a member takes a host's address only from that host or its own marsadm: run it on
    /// every member. A host that still runs registers again at its next pull (so does a
    /// host that comes back): for one that runs, leave-cluster there is the way.
    LowlevelDeleteHost {
        /// The member to remove (not this host).
        host: String,
    },
    /// Set an operator's link, cluster-wide: /mars/userspace/NAME or
    /// /mars/resource-<res>/userspace/NAME.
    ///
    /// For scripts that keep their own state in the tree, as with the original: every
    /// member takes the newest value (Lamport time); the module never acts on these
    /// links. NAME: a-z, 0-9, '-', '_', '.'; VALUE: 1 to 255 printable ASCII characters.
    /// The rest of the tree is the module's and marsadm's own: refused there.
    SetLink {
        value: String,
        /// /mars/userspace/NAME or /mars/resource-<res>/userspace/NAME (or relative to /mars).
        path: String,
    },
    /// Print the value of each link under /mars (nothing for a missing or deleted one).
    GetLink {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Delete an operator's link (see set-link), cluster-wide.
    DeleteFile { path: String },
    /// Wait until a condition holds for RESOURCE on this host.
    ///
    /// With `all` or a list: until it holds for each, all within --timeout.
    /// Exit status 0 once it holds, 6 after --timeout seconds.
    WaitResource {
        resource: String,
        /// The original's form, instead of --until: [is-|todo-]NAME[-on|-off] with NAME
        /// one of attach, primary, device, fetch, sync, replay: `is-` (or nothing)
        /// waits for what the module reports here, `todo-` for the switch (todo-primary:
        /// this host designated); -on is the default.
        condition: Option<String>,
        /// What to wait for.
        #[arg(long, value_enum, default_value = "exists", conflicts_with = "condition")]
        until: crate::commands::Condition,
    },
    /// Exchange metadata with every other member now and wait until each has answered.
    ///
    /// Like wait-cluster, after asking the module to pull every peer's tree at once;
    /// use it before decisions that need the newest state of the others.
    UpdateCluster,
    /// Attach this host to a resource: open its disk (and, on the primary, start it).
    Attach { resource: String },
    /// Detach: release the disk. Refused while /dev/mars/<dev> is open.
    Detach { resource: String },
    /// Attach and allow fetch, sync and replay (what create/join leave on).
    Up { resource: String },
    /// Pause replay, sync and fetch, then detach. Refused while the device is open.
    Down { resource: String },
    /// Set this host's emergency limit of RESOURCE, in percent (0: none).
    ///
    /// With a limit, RESOURCE goes into emergency mode on its own as soon as the free
    /// space of /mars is below PERCENT of its size, before the host-wide levels
    /// (docu/emergency.md): a primary then ceases logging for this resource only, so one
    /// runaway resource cannot push the others into emergency. Give the resources that
    /// matter least the highest limits. Example: `marsadm set-emergency-limit r-batch 40`.
    SetEmergencyLimit {
        resource: String,
        /// 0..100.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Print this host's emergency limit of RESOURCE in percent (0: none).
    #[command(visible_alias = "emergency-limit")]
    GetEmergencyLimit { resource: String },
    /// Set how many full syncs may run at once on this host (0: any number).
    ///
    /// Writes /proc/sys/mars/sync_limit (docu/proc-sys-mars.md); further syncs wait
    /// their turn. The module forgets it when unloaded: to keep it, put
    /// `mars.sync_limit = N` into /etc/sysctl.d/60-mars.conf.
    #[command(visible_alias = "set-sync-limit-value")]
    SetGlobalSyncLimitValue {
        #[arg(value_parser = clap::value_parser!(u32).range(0..=1048576))]
        value: u32,
    },
    /// Print how many full syncs may run at once on this host (0: any number).
    #[command(visible_alias = "get-sync-limit-value")]
    GetGlobalSyncLimitValue,
    /// Set RESOURCE's recovery point objective: how many seconds of writes a secondary
    /// may lack (0: none). Cluster-wide (any member; it propagates).
    ///
    /// `marsadm view` marks each member whose lag (the age of the oldest write it has not
    /// applied) is beyond it, `events` reports each crossing (member-rpo), and `metrics`
    /// carries the objective (mars_resource_rpo_seconds) and the marks
    /// (mars_member_beyond_rpo) for alerts (docu/monitoring.md). Example: `marsadm
    /// set-rpo r0 60`.
    SetRpo {
        resource: String,
        /// Seconds, 0 to 31536000 (a year); 0 removes the objective.
        #[arg(value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
        seconds: u64,
    },
    /// Pause fetching RESOURCE's logfiles onto this host (the primary logs on; nothing
    /// is lost: fetch resumes where it stopped).
    #[command(visible_alias = "pause-fetch-local", visible_alias = "disconnect")]
    PauseFetch { resource: String },
    /// Pause fetching on every member of RESOURCE (the switch propagates).
    PauseFetchGlobal { resource: String },
    /// Resume fetching RESOURCE's logfiles onto this host.
    #[command(visible_alias = "resume-fetch-local", visible_alias = "connect")]
    ResumeFetch { resource: String },
    /// Resume fetching on every member of RESOURCE.
    ResumeFetchGlobal { resource: String },
    /// Pause the full sync of RESOURCE onto this host (it resumes where it stopped).
    #[command(visible_alias = "pause-sync-local")]
    PauseSync { resource: String },
    /// Pause the full sync on every member of RESOURCE.
    PauseSyncGlobal { resource: String },
    /// Resume the full sync of RESOURCE onto this host.
    #[command(visible_alias = "resume-sync-local")]
    ResumeSync { resource: String },
    /// Resume the full sync on every member of RESOURCE.
    ResumeSyncGlobal { resource: String },
    /// Pause replaying RESOURCE's fetched logfiles onto this host's disk (fetch goes
    /// on; the disk stays a consistent, older copy).
    #[command(visible_alias = "pause-replay-local")]
    PauseReplay { resource: String },
    /// Pause replay on every member of RESOURCE.
    PauseReplayGlobal { resource: String },
    /// Resume replaying RESOURCE's logfiles onto this host's disk.
    #[command(visible_alias = "resume-replay-local")]
    ResumeReplay { resource: String },
    /// Resume replay on every member of RESOURCE.
    ResumeReplayGlobal { resource: String },
    /// Make this host the primary: planned handover, or with --force a failover.
    ///
    /// Planned (the old primary is reachable): refused, with nothing changed, while the
    /// old primary's device is open ("umount it there first"), while this host's disk
    /// is not a consistent copy, or while its fetch or replay is paused. Otherwise it
    /// waits until this host has fetched and replayed everything the old primary
    /// logged, designates this host, and waits until the old primary has left its role
    /// (written back, final links written) and /dev/mars/<dev> is up here. No
    /// acknowledged write is lost. If that does not happen within --timeout, the old
    /// primary is designated again.
    ///
    /// Forced (`marsadm pause-fetch RES` first; the old primary may be gone): this host
    /// becomes primary at once with what it has fetched and verified; a torn tail of
    /// the old primary's logfile is cut (dmesg says how many bytes). If the old
    /// primary wrote more, or still writes (network partition), that is a split brain,
    /// shown by `marsadm view` and resolved with `marsadm invalidate` on the host whose
    /// version is discarded (docu/failover.md). Refused on a disk whose full sync is
    /// unfinished.
    ///
    /// Already primary here: exit 0.
    Primary {
        resource: String,
        /// Failover: take over with what is here (fetch must be paused).
        #[arg(long)]
        force: bool,
    },
    /// Discard this host's version of RESOURCE and copy the designated primary's.
    ///
    /// The cure of a split brain on every host whose version is not kept, and of a
    /// secondary that stopped (e.g. a hole in the log sequence): this host detaches,
    /// forgets its replay position, its version links and its own logfiles, then
    /// attaches again; a fast full sync copies the blocks that differ from the
    /// primary's disk and replay continues from the primary's current logfile. Refused
    /// on the designated primary and while this host's device is open.
    Invalidate {
        resource: String,
    },
    /// Experts: declare this host's disk a copy of the primary's without a full sync.
    ///
    /// For disks known to be equal, e.g. both zeroed before create-resource and
    /// join-resource: the sync (paused first, then restored) is marked finished, and the
    /// disk counts as consistent once replay reaches the primary's log position of now.
    /// Nothing checks that the disks are equal: if they are not, this host holds a
    /// corrupt copy that `marsadm view` shows as UpToDate. When in doubt, let the
    /// fast full sync run (it copies only the blocks that differ).
    FakeSync {
        resource: String,
    },
    /// Give up the primary role: the device goes away. Refused while it is open.
    Secondary { resource: String },
    /// Delete a resource that is down and has no other members (its disk keeps its data).
    DeleteResource {
        resource: String,
        /// Delete it although other hosts are still listed as members (they are gone).
        #[arg(long)]
        force: bool,
    },
    /// Remove logfiles no member needs any more (leftovers of a split brain).
    ///
    /// A logfile is needed while a member's replay link names it, or it is on the
    /// designated primary's history (its version links) from the lowest replay link
    /// on, or it is this host's own current one (or the next, after a log-rotate). Without
    /// --force only this host's own unneeded logfiles go; with --force also its
    /// copies of other hosts' logfiles. Prints what it removes.
    LogPurgeAll {
        resource: String,
        #[arg(long)]
        force: bool,
    },
    /// Show the state of a resource (or of all), in the original's shape.
    ///
    ///   LocalDevice /dev/mars/r0 [Opened, /mnt/r0, openers: 1]
    ///   r0 [2/2] UpToDate Replicating DCASFR Primary node1
    ///
    /// The LocalDevice line where the device is up; the resource line: members and
    /// configured hosts, disk state (UpToDate, OutDated[F|R|FR], InConsistent,
    /// WriteBack[..], Detached, ...), replication state (Replicating, Replaying, Syncing,
    /// PausedReplay, PrimaryUnreachable, ModuleNotLoaded, ...), six flags (Disk and
    /// device, Consistent, Attached, Sync, Fetch, Replay: upper case done, lower case
    /// wanted, - neither), role, designated primary, and how long it has not been heard
    /// from once that is --window or more; then hints, the progress of a sync, fetch or
    /// replay, the ERRORS and WARNINGS of every member, a split brain, and a line per
    /// member (role, disk state, how far behind in bytes and seconds, when last heard
    /// from). It is the macro `default` of the original's macro language: a default.tpl
    /// in ~/.marsadm or /etc/marsadm replaces it (docu/view-macros.md, dump-macros).
    /// view-lines prints this implementation's earlier form, --json the same state for
    /// scripts (schema in docu/marsadm-json.md). `status` is the same command, for DRBD
    /// users.
    #[command(verbatim_doc_comment)]
    #[command(visible_alias = "status")]
    View {
        /// A resource name, a comma-separated list, or "all" (one block per resource).
        #[arg(default_value = "all")]
        resource: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the complex macros (default, diskstate, flags, 1and1, ...) as editable
    /// NAME.tpl files into the current directory.
    ///
    /// An existing NAME.tpl is renamed to NAME.tpl.oldN first. Edit a file and move it to
    /// ~/.marsadm, /etc/marsadm (or a directory of $MARS_PATH): `view` and `view-NAME`
    /// then use it instead of the built-in one (docu/view-macros.md). With --list: print
    /// the values and variables a macro text can use instead, one a line.
    DumpMacros {
        /// Print the values and variables instead of writing files.
        #[arg(long)]
        list: bool,
    },
    /// Write every macro as NAME.tpl into the current directory: the complex ones and
    /// one per primitive (%primitive-NAME{%{1}}), as dump-macros.
    DumpAllMacros,
    /// `view-<name> [RESOURCE] [ARG]` for each of the original's primitives that has no
    /// command above (docu/view-primitives.md lists all 236 names).
    #[command(external_subcommand)]
    External(Vec<String>),
    /// Print 1 if RESOURCE is in emergency mode (docu/emergency.md), else 0.
    ///
    /// 1 when /mars of this host or of the designated primary is so full that the
    /// primary ceased transaction logging (or is about to): its secondaries stop at the
    /// hole in the logfile sequence and need `marsadm invalidate` once space is back.
    #[command(name = "view-is-emergency")]
    ViewIsEmergency { resource: String },
    /// Print the space left in this host's /mars in bytes (free space minus what RAM
    /// buffers still write), as the module measured it last.
    #[command(name = "view-rest-space")]
    ViewRestSpace { resource: String },
    /// Print the size of this host's /mars in bytes.
    #[command(name = "view-total-space")]
    ViewTotalSpace { resource: String },
    /// Print 1 if this host is the actual primary of RESOURCE, else 0.
    #[command(name = "view-is-primary")]
    ViewIsPrimary { resource: String },
    /// Print 1 if this host is attached to RESOURCE, else 0.
    #[command(name = "view-is-attached")]
    ViewIsAttached { resource: String },
    /// Print the designated primary of RESOURCE, or (none).
    #[command(name = "view-get-primary")]
    ViewGetPrimary { resource: String },
    /// Print the size of RESOURCE in bytes.
    #[command(name = "view-resource-size")]
    ViewResourceSize { resource: String },
    /// Print the bytes logged but not yet known to be written back (0 when consistent).
    #[command(name = "view-writeback-rest")]
    ViewWritebackRest { resource: String },
    /// Print the bytes of the primary's logfiles not yet fetched here (secondary).
    #[command(name = "view-fetch-rest")]
    ViewFetchRest { resource: String },
    /// Print the bytes fetched here but not yet replayed (secondary).
    #[command(name = "view-replay-rest")]
    ViewReplayRest { resource: String },
    /// Print the bytes of the disk the full sync has still to compare (0 when synced).
    #[command(name = "view-sync-rest")]
    ViewSyncRest { resource: String },
    /// Print 1 if this host's disk is a consistent copy (sync complete and replayed past
    /// the sync's end position; on the primary: everything logged is on the disk).
    #[command(name = "view-is-consistent")]
    ViewIsConsistent { resource: String },
    /// The compact status line of the original's 1&1 variant, one per resource:
    /// `<res> <disk state> <replication state> -<S|-><F|-><R|->- <role> <primary|->`,
    /// where the -SFR- field shows the sync/fetch/replay switches (not progress).
    #[command(name = "view-1and1")]
    View1and1 {
        #[arg(default_value = "all")]
        resource: String,
    },
    // ---- Roles, states and split brains (view.rs); kept together to ease merging. ----
    /// Print this host's role in RESOURCE, one word.
    ///
    /// Primary: the device is up here and this host is the designated primary.
    /// ForcedPrimary: the same, after a forced takeover (`primary --force`); the old
    /// primary may still be writing its own history: check `view-is-split-brain`.
    /// RemainsPrimary: the device is still up here but another host (or none) is
    /// designated; it goes away once it is closed (`view` shows the open count).
    /// NotYetPrimary: designated here, device not up yet: the old primary has not
    /// finished, or the rest of its log is being replayed. Secondary: attached, replicating
    /// from the primary. None: detached.
    Role { resource: String },
    /// Print this host's disk state and replication state of RESOURCE, e.g.
    /// `UpToDate Replaying`.
    ///
    /// Disk state: Detached, Inconsistent (not a usable copy yet: sync incomplete, or replay
    /// not past the end of the sync), Outdated[F|R|FR] (fetch and/or replay behind by more
    /// than 10 s, or paused), WriteBack (primary: logged data not yet on the disk),
    /// UpToDate (a secondary: following within 10 s). Replication state:
    /// ModuleNotLoaded (mars.ko is not loaded here: exit status 7), NotStarted,
    /// Replicating (primary), NoSecondaryConnected (primary, no secondary
    /// reachable and fetching), PrimaryUnreachable (fetch is on but the
    /// designated primary has not been heard from for 20 s), Syncing, SyncQueued (the
    /// sync waits for /proc/sys/mars/sync_limit), PausedSync,
    /// PausedFetch, PausedReplay, NoPrimaryDesignated, Replaying.
    State { resource: String },
    /// Print 1 if the members' logfile histories of RESOURCE diverged (split brain), else 0.
    ///
    /// Compares the version links (hash chain of each host's logfile history) of every
    /// pair of members, and looks for two logfiles with the same number from different
    /// hosts. `view` says where the histories part and how many bytes each host has beyond
    /// that point (what making another host's version survive would lose). Resolve it by
    /// making the surviving host primary and invalidating the others.
    #[command(name = "view-is-split-brain")]
    ViewIsSplitBrain { resource: String },
    /// Print this host's role in RESOURCE (the same as `marsadm role`).
    #[command(name = "view-role")]
    ViewRole { resource: String },
    /// Print the host(s) whose device of RESOURCE is up, comma-separated, or (none).
    ///
    /// This is the actual primary as the modules report it (`actual-<host>/is-primary`),
    /// which may differ from the designated one (view-get-primary) during a handover.
    /// More than one host means several devices take writes: a split brain in the making.
    #[command(name = "view-actual-primary")]
    ViewActualPrimary { resource: String },
    // ---- end of roles, states and split brains ----
    /// Grow RESOURCE (and /dev/mars/<dev>) online, to SIZE or to the smallest member disk.
    ///
    /// Preconditions: run it on the designated primary whose device is up; every
    /// member's underlying disk has grown first (each attached module reports its
    /// disk's size as /mars/resource-<res>/actsize-<host>). Only growth: a smaller
    /// SIZE, one larger than some member's disk, a member whose disk size is unknown
    /// (never attached) are refused with nothing changed. SIZE is bytes, or a number
    /// with a suffix: k, m, g, t, p = powers of 1000, K, M, G, T, P = powers of 1024
    /// (e.g. 640M, 1.5G); it must be a multiple of 512. The default is the minimum of
    /// all members' disks.
    ///
    /// The primary's data counts for the new area (its syncstatus is set to the new
    /// size first); the secondaries then sync only the new area (Syncing in
    /// `marsadm view`), and are UpToDate again afterwards. marsadm waits (--timeout)
    /// until the device has the new size. The filesystem on it is grown afterwards,
    /// also while mounted. Example, resource r0 on /dev/vg/r0 with xfs on /mnt/r0:
    ///
    ///   on every member:   lvresize -L 200G /dev/vg/r0
    ///   on the primary:    marsadm resize r0
    ///                      xfs_growfs /mnt/r0
    #[command(verbatim_doc_comment)]
    Resize {
        resource: String,
        /// New size (default: the smallest member disk), e.g. 214748364800, 200G.
        #[arg(value_parser = parse_size)]
        size: Option<u64>,
    },
    /// Start a new logfile for RESOURCE (on its primary).
    ///
    /// Creates the next, empty logfile log-<nr+1>-<host>; the module continues in it at
    /// once (a second rotation waits until the disk has every write of the logfile
    /// before the current one). Does nothing while the newest logfile is empty. `cron`
    /// does this regularly. `all`: every resource this host is the actual primary of.
    LogRotate { resource: String },
    /// Delete all of this host's logfiles of RESOURCE that every member has replayed
    /// (as the original's log-delete).
    ///
    /// A logfile is deletable when its number is below the logfile every member's
    /// replay link names; the newest logfile is never deleted. Each member deletes its
    /// own copies (run it, or `cron`, on every member).
    #[command(visible_alias = "log-delete-all-replayed")]
    LogDelete { resource: String },
    /// Delete this host's oldest logfile of RESOURCE that every member has replayed.
    LogDeleteOne { resource: String },
    /// The same as log-delete (the original's name for it in cron jobs).
    LogDeleteAll { resource: String },
    /// Housekeeping for every resource of this host: log-rotate (on the primary),
    /// log-delete-all, and removal of `.deleted` marks older than an hour.
    ///
    /// Run it every few minutes on every member (cron job or systemd timer), so /mars
    /// holds only what some member still needs.
    Cron,
    /// Remove old `.deleted` marks and temporary links from /mars (the last step of cron).
    ///
    /// A deleted link stays as a `.deleted` mark until every member has had time to see
    /// it; marks older than an hour go, as do temporary links an interrupted writer left.
    LinkPurgeAll,
    /// Monitoring: events, metrics, view-<primitive> (commands/monitoring.rs).
    #[command(flatten)]
    Monitoring(crate::commands::Monitoring),
    /// Show the versions of marsadm and of the loaded kernel module.
    ///
    /// Prints marsadm's version and, if mars.ko is loaded, the module's version from
    /// /proc/sys/mars/version. A differing pair still works within one release line but
    /// is worth a look after an upgrade.
    Version {
        /// Print JSON (schema in docu/marsadm-json.md) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Let systemd run RESOURCE's application: START_UNIT on the primary, STOP_UNIT elsewhere.
    ///
    /// Stores the unit names for the whole cluster (docu/systemd.md). From then on the
    /// designated primary starts START_UNIT once /dev/mars/<dev> is up there, and every
    /// other member stops STOP_UNIT (default: START_UNIT), so a planned handover
    /// (`primary`) stops the application on the old primary, hands over and starts it
    /// on the new one. Both must be units marsadm instantiated here from a template in
    /// /etc/mars/systemd-templates or /usr/share/mars/systemd-templates; macros such as
    /// @escvar{res} are expanded (mnt-mars-@escvar{res}.mount). An empty START_UNIT ('')
    /// ends it (running units are left alone).
    SetSystemdUnit {
        resource: String,
        start_unit: String,
        stop_unit: Option<String>,
    },
    /// Print RESOURCE's systemd units: "<start-unit> <stop-unit>" (nothing if none).
    GetSystemdUnit {
        resource: String,
        /// Print JSON (schema in docu/marsadm-json.md) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Bring systemd here in line with the tree (what mars-trigger.service runs).
    ///
    /// Instantiates the unit templates for every resource this host is a member of
    /// (into /run/systemd/system, with daemon-reload when something changed), removes
    /// instances of resources it left, then for RESOURCE (default: all) starts the start
    /// unit if this host is the designated primary and its device is up, once every
    /// other member has been heard from anew, and stops the stop unit otherwise.
    SystemdTrigger {
        #[arg(default_value = "all")]
        resource: String,
    },
}

/// The command line with the global options that follow a `view-<primitive>` word moved
/// before it: clap hands everything after an unknown (external) command to it as is, and
/// the original takes options anywhere (`marsadm view-is-alive r0 node1 --window=30`).
pub fn options_first(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let known = |w: &str| cmd.get_subcommands().any(|c| c.get_name() == w || c.get_all_aliases().any(|a| a == w));
    let takes_value = |o: &str| ["--window", "--threshold", "--stuck-seconds", "--host", "--macro", "--timeout"].contains(&o);
    // The command word: the first that is no option and no option's value.
    let mut at = 1;
    while let Some(w) = args.get(at).and_then(|a| a.to_str()) {
        match w {
            o if takes_value(o) => at += 2,
            o if o.starts_with('-') => at += 1,
            w if known(w) => return args,
            _ => break,
        }
    }
    if at >= args.len() {
        return args;
    }
    let (mut before, mut after) = (args[..at].to_vec(), vec![args[at].clone()]);
    let mut rest = args[at + 1..].iter();
    while let Some(a) = rest.next() {
        match a.to_str() {
            Some(o) if o.starts_with("--") || matches!(o, "-v" | "-f" | "-vv") => {
                before.push(a.clone());
                if takes_value(o) {
                    before.extend(rest.next().cloned());
                }
            }
            _ => after.push(a.clone()),
        }
    }
    before.extend(after);
    before
}

/// A size argument: bytes, or a number (with an optional fraction) followed by a
/// suffix as in the original marsadm: k, m, g, t, p are powers of 1000; K, M, G, T, P
/// powers of 1024. The result must be a whole number of bytes.
pub fn parse_size(arg: &str) -> Result<u64, String> {
    let bad = || format!("bad size {arg:?}: give bytes or a number with a suffix k, m, g, t, p (powers of 1000) or K, M, G, T, P (powers of 1024), e.g. 640M");
    let (number, suffix) = match arg.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&arg[..i], Some(c)),
        _ => (arg, None),
    };
    let unit: u128 = match suffix {
        None => 1,
        Some(c) => {
            let power = "kmgtp".find(c.to_ascii_lowercase()).ok_or_else(bad)? as u32 + 1;
            if c.is_ascii_lowercase() { 1000u128.pow(power) } else { 1024u128.pow(power) }
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 20;
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) {
        return Err(bad());
    }
    let scale = 10u128.pow(fraction.len() as u32);
    let parts = whole.parse::<u128>().ok().zip(if fraction.is_empty() { Some(0) } else { fraction.parse::<u128>().ok() });
    let (w, f) = parts.ok_or_else(bad)?;
    let bytes = (w * scale + f).checked_mul(unit).ok_or_else(bad)?;
    if bytes % scale != 0 {
        return Err(format!("bad size {arg:?}: not a whole number of bytes"));
    }
    u64::try_from(bytes / scale).map_err(|_| format!("bad size {arg:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// (Unknown words reach `commands::external`, which refuses all but the original's
    /// view-<primitive> names: its test `unknown_command_is_a_usage_error`.)
    #[test]
    fn unknown_words_are_external() {
        let cli = Cli::try_parse_from(["marsadm", "view-fetch-lognr", "r0"]).unwrap();
        assert!(matches!(&cli.command, Command::External(w) if w == &["view-fetch-lognr", "r0"]));
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("640M"), Ok(640 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2k"), Ok(2000));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("3g"), Ok(3_000_000_000));
        for bad in ["", "M", "1.2.3M", "12X", "-1", "1 M", "0.0001K", "99999999999P", "1e9"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let cli = Cli::try_parse_from(["marsadm", "resize", "r0", "640M"]).unwrap();
        assert!(matches!(cli.command, Command::Resize { size: Some(s), .. } if s == 640 << 20));
        assert!(Cli::try_parse_from(["marsadm", "resize", "r0", "lots"]).is_err());
    }

    /// The original's global options work before the command (its Nagios check:
    /// `marsadm --macro=... --window=N view RES`) and after it.
    #[test]
    fn global_options_before_and_after_the_command() {
        for args in [
            &["marsadm", "--macro=%rest-space{}", "--window=120", "--threshold=1M", "-v", "-v", "view", "r0"][..],
            &["marsadm", "view", "r0", "--macro", "%rest-space{}", "--window", "120", "--threshold", "1M", "--verbose", "-v"][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!((cli.macro_text.as_deref(), cli.window, cli.threshold, cli.verbose), (Some("%rest-space{}"), 120, 1 << 20, 2), "{args:?}");
        }
        let cli = Cli::try_parse_from(["marsadm", "--force", "primary", "r0"]).unwrap();
        assert!(cli.force || matches!(cli.command, Command::Primary { force: true, .. }), "{cli:?}");
        let cli = Cli::try_parse_from(["marsadm", "primary", "r0", "--force"]).unwrap();
        assert!(matches!(cli.command, Command::Primary { force: true, .. }));
        let cli = Cli::try_parse_from(["marsadm", "--host=node2", "--ignore-sync", "--parallel", "view", "all"]).unwrap();
        assert_eq!((cli.host.as_deref(), cli.ignore_sync, cli.parallel), (Some("node2"), true, Some(0)));
        let cli = Cli::try_parse_from(["marsadm", "up", "all", "--parallel=4", "--stuck-seconds=10"]).unwrap();
        assert_eq!((cli.parallel, cli.stuck_seconds), (Some(4), 10));
        let cli = Cli::try_parse_from(["marsadm", "--host", "node2", "leave-resource", "r0"]).unwrap();
        assert!(matches!(cli.command, Command::LeaveResource { .. }) && cli.host.as_deref() == Some("node2"));
        let cli = Cli::try_parse_from(["marsadm", "leave-resource", "r0", "--host", "node2", "--force"]).unwrap();
        assert!(matches!(cli.command, Command::LeaveResource { force: true, .. }) && cli.host.as_deref() == Some("node2"));
        // (A command's own argument named host is not the global option.)
        let cli = Cli::try_parse_from(["marsadm", "lowlevel-set-host-ip", "node1", "10.0.0.1"]).unwrap();
        assert_eq!(cli.host, None);
        assert!(Cli::try_parse_from(["marsadm", "--threshold=lots", "view", "r0"]).is_err());
        assert!(Cli::try_parse_from(["marsadm", "--window=-1", "view", "r0"]).is_err());
    }

    /// Global options after a view-<primitive> word are parsed as such (values included).
    #[test]
    fn options_after_an_external_command() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let moved = options_first(args(&["marsadm", "view-is-alive", "r0", "node1", "--window", "30", "--json", "-2"]));
        assert_eq!(moved, args(&["marsadm", "--window", "30", "--json", "view-is-alive", "r0", "node1", "-2"]));
        let cli = Cli::try_parse_from(moved).unwrap();
        assert!(cli.json && cli.window == 30 && matches!(&cli.command, Command::External(w) if w == &["view-is-alive", "r0", "node1", "-2"]));
        // Known commands are left to clap.
        let same = args(&["marsadm", "view", "r0", "--json"]);
        assert_eq!(options_first(same.clone()), same);
        let same = args(&["marsadm", "--timeout", "5", "primary", "r0"]);
        assert_eq!(options_first(same.clone()), same);
    }

    #[test]
    fn version_takes_json_flag() {
        let cli = Cli::try_parse_from(["marsadm", "version", "--json"]).unwrap();
        assert!(matches!(cli.command, Command::Version { json: true }));
    }
}
