//! Teaching help. Every subcommand's long help (`marsadm help <command>`, `marsadm
//! <command> --help`, its man page marsadm-<command>(8)) ends with what the command
//! needs before it runs, what makes it refuse, and an example. The texts live here, apart
//! from the clap definition in cli.rs, and say only what the checks in commands/*.rs do.
//!
//! Also the generator of the man pages and shell completions that the Debian package
//! ships (`marsadm generate-docs DIR`, hidden; scripts/build-deb.sh runs it).

use std::collections::HashMap;
use std::path::Path;

use clap::{Arg, ArgMatches, CommandFactory};

use crate::cli::Cli;

/// The hidden subcommand that writes man pages and completions.
pub const GENERATE: &str = "generate-docs";

// Preconditions most commands share (Context::require_* and resource::require_member).
const MARS: &str = "/mars is a mounted filesystem of its own";
const MEMBER: &str = "/mars is a mounted filesystem of its own; RESOURCE exists and this host is a member of it";
const MODULE: &str = "the module is loaded (`modprobe mars`)";
const CLUSTER: &str = "this host is a cluster member (create-cluster or join-cluster)";
const NOT_MEMBER: &str = "exit 5: RESOURCE does not exist, or this host is not a member of it";
const ONE: &str = "RESOURCE is one resource name (not `all`, not a list)";
const ALL: &str = "With `all` or a list (r0,r1) every resource is checked before any changes.";

/// The text appended to each subcommand's long help.
fn texts() -> Vec<(String, String)> {
    let t: Vec<(&str, String)> = vec![
        (
            "cat",
            teach(
                &["LOGFILE is readable (no module, cluster or /mars mount needed: it works on a copy too)"],
                &[
                    "LOGFILE is not a regular file (exit 8 if it cannot be read)",
                    "a record is damaged or out of sequence (the report names its offset)",
                    "exit 3: the last record is incomplete (a log being written or fetched, or cut off by a crash)",
                ],
                &["marsadm cat --summary /mars/resource-r0/log-000000001-node1"],
            ),
        ),
        (
            "lowlevel-set-host-ip",
            teach(
                &[CLUSTER, "HOST is a cluster member (/mars/ips/ip-HOST)"],
                &["exit 5: HOST is no cluster member here", "another member has address IP already"],
                &["marsadm lowlevel-set-host-ip node2 192.168.2.10"],
            ),
        ),
        (
            "create-cluster",
            teach(
                &[MARS, "this host is in no cluster yet", "this host's address is in /etc/hosts, or given with --ip"],
                &[
                    "/mars is not a filesystem of its own",
                    "this host is already member of a cluster (/mars/uuid exists)",
                    "no IPv4 address for this host in /etc/hosts and no --ip",
                ],
                &["marsadm create-cluster --ip 192.168.1.10"],
            ),
        ),
        (
            "join-cluster",
            teach(
                &[
                    MARS,
                    MODULE,
                    "this host is in no cluster yet",
                    "a copy of a member's /mars/cluster.key (--secret-file FILE, or - for stdin)",
                    "PEER is a member, its module loaded, its port 7777 reachable",
                ],
                &[
                    "no --secret-file, or FILE does not hold a cluster secret (64 hex digits)",
                    "PEER is not a valid host name, or is this host",
                    "this host is already member of a cluster, or holds another cluster's secret",
                    "no address of PEER or of this host in /etc/hosts and none given",
                    "no answer from PEER within --timeout (default 30 s); the secret and the addresses stay installed, a second try continues",
                ],
                &["marsadm join-cluster node1 --secret-file /root/cluster.key"],
            ),
        ),
        (
            "leave-cluster",
            teach(
                &[MARS, MODULE, CLUSTER, "this host is member of no resource (leave-resource or delete-resource first)"],
                &[
                    "this host is still member of a resource (the message names them)",
                    "some member has not pulled the deletion within --timeout (default 30 s)",
                ],
                &["marsadm leave-cluster && rmmod mars"],
            ),
        ),
        (
            "rotate-secret",
            teach(
                &[MARS, CLUSTER, "this host holds the current secret (/mars/cluster.key)"],
                &[
                    "/mars/cluster.key is missing or does not hold a secret",
                    "--generate FILE: FILE exists already",
                    "--generate or --secret-file while another rotation is in progress here (finish it first)",
                    "--finish while some member does not show the new key yet (--force: they are gone)",
                ],
                &[
                    "marsadm rotate-secret --generate /root/new.key",
                    "marsadm rotate-secret --secret-file /root/new.key",
                    "marsadm rotate-secret --finish",
                ],
            ),
        ),
        (
            "wait-cluster",
            teach(
                &[MARS, MODULE, CLUSTER],
                &["exit 6: some member not heard from within --timeout (default 30 s); the message names them"],
                &["marsadm wait-cluster --timeout 60"],
            ),
        ),
        (
            "update-cluster",
            teach(
                &[MARS, MODULE, CLUSTER],
                &["exit 6: some member not heard from within --timeout (default 30 s); the message names them"],
                &["marsadm update-cluster && marsadm view r0"],
            ),
        ),
        (
            "create-resource",
            teach(
                &[
                    "RESOURCE and DEVNAME are valid names (a-z, 0-9, '-', starting with a letter)",
                    MARS,
                    MODULE,
                    CLUSTER,
                    "DISK is an absolute path of a block device nobody holds (not mounted, no other driver or resource)",
                ],
                &[
                    "a resource of that name exists (--force re-creates it only if none of its members is reachable and it is not attached here)",
                    "DEVNAME is the device of another resource on this host",
                    "DISK belongs to another resource, is not a block device, or is in use",
                ],
                &["marsadm create-resource r0 /dev/vg/r0"],
            ),
        ),
        (
            "join-resource",
            teach(
                &[
                    "RESOURCE and DEVNAME are valid names",
                    MARS,
                    MODULE,
                    CLUSTER,
                    "RESOURCE exists (created elsewhere, known here through the cluster) and has a designated primary whose replay position is known here",
                    "DISK is an unused block device at least the resource's size",
                ],
                &[
                    "exit 5: RESOURCE does not exist here (yet: `marsadm wait-cluster` first)",
                    "this host is a member already (--force: join again; the resource must be down here, and this host must not be its designated primary)",
                    "the resource has no primary to join from",
                    "DISK is smaller than the resource, not a block device, or in use",
                ],
                &["marsadm join-resource r0 /dev/vg/r0"],
            ),
        ),
        (
            "leave-resource",
            teach(
                &[MEMBER, ONE, "without --host: the resource is down here (`marsadm down RESOURCE`)", "the host to remove is not the designated primary"],
                &[
                    NOT_MEMBER,
                    "the resource is still attached here",
                    "the host to remove (this one, or H) is the designated primary (make another host primary first)",
                    "--host H: H is not a member, or is reachable (run it there, or add --force)",
                ],
                &["marsadm down r0 && marsadm leave-resource r0", "marsadm leave-resource r0 --host node3"],
            ),
        ),
        (
            "wait-resource",
            teach(
                &[MARS, "with --until: none more (RESOURCE may appear while it waits); with CONDITION: RESOURCE exists and this host is a member"],
                &[
                    "an unknown CONDITION word; with CONDITION: RESOURCE does not exist or this host is not a member",
                    "exit 6: the condition did not hold within --timeout (default 60 s)",
                ],
                &["marsadm wait-resource r0 --until uptodate --timeout 600", "marsadm wait-resource r0 is-device-on"],
            ),
        ),
        (
            "attach",
            teach(
                &[MEMBER, MODULE],
                &[NOT_MEMBER, "the module is not loaded", "exit 6: the module did not attach within --timeout (default 60 s; dmesg says why); the switch stays on"],
                &["marsadm attach r0"],
            ),
        ),
        (
            "detach",
            teach(
                &[MEMBER, MODULE, "/dev/mars/<dev> is not open here (not mounted)"],
                &[NOT_MEMBER, "the device is open (umount it first)", "exit 6: the module did not detach within --timeout (default 60 s); the switch stays off"],
                &["umount /mnt/r0; marsadm detach r0"],
            ),
        ),
        (
            "up",
            teach(
                &[MEMBER, MODULE],
                &[NOT_MEMBER, "the module is not loaded", "exit 6: the module did not attach within --timeout (default 60 s; dmesg says why); the switch stays on"],
                &["marsadm up all"],
            ),
        ),
        (
            "down",
            teach(
                &[MEMBER, MODULE, "/dev/mars/<dev> is not open here (not mounted)"],
                &[NOT_MEMBER, "the device is open (umount it first)", "exit 6: the module did not detach within --timeout (default 60 s); the switch stays off"],
                &["umount /mnt/r0; marsadm down r0"],
            ),
        ),
        (
            "set-emergency-limit",
            teach(
                &[MEMBER],
                &[NOT_MEMBER, "exit 2: PERCENT is not a number from 0 to 100"],
                &["marsadm set-emergency-limit r-batch 40"],
            ),
        ),
        (
            "set-link",
            teach(
                &[CLUSTER, "PATH is /mars/userspace/NAME or /mars/resource-<res>/userspace/NAME"],
                &["exit 2: PATH is elsewhere in the tree, NAME or VALUE malformed"],
                &["marsadm set-link moving-to-node3 /mars/resource-r0/userspace/migration"],
            ),
        ),
        (
            "get-link",
            teach(&["PATH is under /mars"], &["exit 2: PATH is outside /mars"], &["marsadm get-link /mars/resource-r0/userspace/migration"]),
        ),
        (
            "delete-file",
            teach(
                &[CLUSTER, "PATH is a userspace link (see set-link) that exists"],
                &["exit 2: PATH is elsewhere in the tree, or no such link"],
                &["marsadm delete-file /mars/resource-r0/userspace/migration"],
            ),
        ),
        (
            "get-emergency-limit",
            teach(&[MEMBER], &[NOT_MEMBER], &["marsadm get-emergency-limit all"]),
        ),
        (
            "set-global-sync-limit-value",
            teach(&[MODULE], &["exit 2: N is not a number from 0 to 1048576"], &["marsadm set-global-sync-limit-value 2"]),
        ),
        (
            "get-global-sync-limit-value",
            teach(&[MODULE], &["exit 7: the module is not loaded"], &["marsadm get-global-sync-limit-value"]),
        ),
        (
            "merge-cluster",
            teach(
                &[
                    MARS,
                    MODULE,
                    CLUSTER,
                    "a copy of the other cluster's /mars/cluster.key (--secret-file FILE, or - for stdin)",
                    "PEER is a member of the other cluster, its module loaded, its base port reachable",
                ],
                &[
                    "no --secret-file, or FILE does not hold a cluster secret",
                    "PEER is not a valid host name, or is this host; no address of PEER in /etc/hosts and none given",
                    "exit 6: PEER's tree cannot be read (no answer, or FILE is not its cluster's secret)",
                    "a resource name both clusters use for different resources, or a host with two addresses",
                    "a secret rotation is in progress here (finish it first)",
                    "exit 6: the module has not pulled PEER's tree within --timeout (default 30 s); the secret and uuid stay installed, a second try continues",
                ],
                &["marsadm merge-cluster node1 --secret-file /root/other-cluster.key"],
            ),
        ),
        (
            "merge-cluster-check",
            teach(
                &[MARS, MODULE, CLUSTER, "a copy of the other cluster's /mars/cluster.key (--secret-file FILE)"],
                &["exit 6: PEER's tree cannot be read", "conflicts: the resource names or hosts merge-cluster would refuse"],
                &["marsadm merge-cluster-check node1 --secret-file /root/other-cluster.key"],
            ),
        ),
        (
            "merge-cluster-list",
            teach(&[CLUSTER], &["this host is in no cluster"], &["marsadm merge-cluster-list"]),
        ),
        (
            "lowlevel-ls-host-ips",
            teach(&[CLUSTER], &["this host is in no cluster"], &["marsadm lowlevel-ls-host-ips"]),
        ),
        (
            "lowlevel-delete-host",
            teach(
                &[CLUSTER, "HOST is a cluster member here and member of no resource"],
                &["exit 5: HOST is no cluster member here", "HOST is this host (leave-cluster)", "HOST is member of a resource"],
                &["marsadm lowlevel-delete-host node9"],
            ),
        ),
        (
            "set-rpo",
            teach(
                &[MEMBER],
                &[NOT_MEMBER, "exit 2: SECONDS is not a number from 0 to 31536000"],
                &["marsadm set-rpo r0 60", "marsadm set-rpo r0 0"],
            ),
        ),
        (
            "primary",
            teach(
                &[
                    MEMBER,
                    MODULE,
                    "the resource is attached here (`marsadm up RESOURCE`) and this host's disk is a consistent copy (UpToDate in `marsadm view`)",
                    "this host is not in emergency mode",
                    "planned: fetch and replay are on here; the old primary is reachable, not in emergency mode, its device closed; no split brain",
                    "forced (--force): fetch is paused here (`marsadm pause-fetch RESOURCE`)",
                ],
                &[
                    NOT_MEMBER,
                    "not attached here, or the disk is not a consistent copy (full sync or its replay unfinished)",
                    "this host, or the old primary, is in emergency mode",
                    "planned: fetch or replay paused here, the old primary unreachable or its device open, a split brain",
                    "forced: fetch is not paused",
                    "exit 6: not caught up with the old primary, or the device not up, within --timeout (default 60 s); the old primary is designated again",
                ],
                &["marsadm primary r0", "marsadm pause-fetch r0 && marsadm primary --force r0"],
            ),
        ),
        (
            "invalidate",
            teach(
                &[MEMBER, MODULE, "another host is designated primary and its replay position is known here", "the device is not open here"],
                &[
                    NOT_MEMBER,
                    "no host is designated primary (make the surviving host primary first)",
                    "this host is the designated primary",
                    "this host's device is still open",
                    "the primary's replay link is not known here yet (`marsadm wait-cluster`)",
                    "exit 6: the module did not detach within --timeout (default 60 s)",
                ],
                &["marsadm invalidate r0"],
            ),
        ),
        (
            "fake-sync",
            teach(
                &[MEMBER, MODULE, "another host is designated primary and its replay position is known here", "the disks are known to be equal, e.g. both zeroed before create-resource (nothing checks it)"],
                &[
                    NOT_MEMBER,
                    "no host is designated primary",
                    "this host is the primary",
                    "the primary's replay link is not known here yet (`marsadm wait-cluster`)",
                    "exit 6: the module did not stop the sync within --timeout (default 60 s)",
                    "exit 0 with nothing changed: the sync is finished already",
                ],
                &["marsadm join-resource r0 /dev/vdb && marsadm fake-sync r0"],
            ),
        ),
        (
            "secondary",
            teach(
                &[MEMBER, MODULE, "/dev/mars/<dev> is not open here (not mounted)"],
                &[NOT_MEMBER, "the device is open (umount it first)", "exit 6: the device did not go away within --timeout (default 60 s)"],
                &["umount /mnt/r0; marsadm secondary r0"],
            ),
        ),
        (
            "delete-resource",
            teach(
                &[MEMBER, ONE, "the resource is not attached here (`marsadm down RESOURCE`)", "no other member (they left; --force if they are gone for good)"],
                &[NOT_MEMBER, "the resource is still attached here", "other hosts are still members (the message names them)"],
                &["marsadm down r0 && marsadm delete-resource r0"],
            ),
        ),
        (
            "log-purge-all",
            teach(&[MEMBER, ONE], &[NOT_MEMBER], &["marsadm log-purge-all r0 --force"]),
        ),
        (
            "view",
            teach(
                &[MARS, "each RESOURCE named exists (`all`: every resource known here)"],
                &["a RESOURCE named does not exist", "--macro TEXT calling an unknown macro, dividing by zero or reaching %die{...} (exit 2, with the macro, file, line and column)"],
                &["marsadm view all", "marsadm view r0 --json", "marsadm view --macro '%{res}:%{diskstate}:%{replstate}:%{replay-rest}' all"],
            ),
        ),
        (
            "dump-macros",
            teach(
                &["the current directory is writable (not with --list)"],
                &["a file cannot be written or renamed (exit 8)"],
                &["cd /etc/marsadm && marsadm dump-macros", "marsadm dump-macros --list", "marsadm view --macro '%{host}=%role{}' r0"],
            ),
        ),
        (
            "dump-all-macros",
            teach(&["the current directory is writable"], &["a file cannot be written or renamed (exit 8)"], &["cd /tmp/m && marsadm dump-all-macros"]),
        ),
        (
            "view-1and1",
            teach(&[MARS, "each RESOURCE named exists"], &["a RESOURCE named does not exist"], &["marsadm view-1and1 all"]),
        ),
        (
            "resize",
            teach(
                &[
                    MEMBER,
                    ONE,
                    MODULE,
                    "this host is the designated and actual primary (its device is up)",
                    "every member's disk has grown and its size is known (each attached once: actsize-<host>)",
                ],
                &[
                    NOT_MEMBER,
                    "another host (or none) is designated primary, or the device is not up here yet",
                    "a member's disk size is unknown",
                    "SIZE is smaller than the current size, larger than a member's disk, or not a multiple of 512",
                    "exit 2: SIZE is not a size (e.g. 640M, 1.5G)",
                    "exit 6: the device did not grow within --timeout (default 60 s)",
                ],
                &["marsadm resize r0 200G"],
            ),
        ),
        (
            "log-rotate",
            teach(
                &[MARS, "RESOURCE exists and this host is its actual primary (with `all`: only those are rotated)"],
                &["exit 5: RESOURCE does not exist", "this host is not its actual primary", "another host's logfile has the highest number"],
                &["marsadm log-rotate r0"],
            ),
        ),
        (
            "log-delete",
            teach(&[MARS, "RESOURCE exists (this host need not be a member)"], &["exit 5: RESOURCE does not exist"], &["marsadm log-delete r0"]),
        ),
        (
            "log-delete-all",
            teach(&[MARS, "RESOURCE exists (this host need not be a member)"], &["exit 5: RESOURCE does not exist"], &["marsadm log-delete-all all"]),
        ),
        (
            "link-purge-all",
            teach(&[MARS], &["none"], &["marsadm link-purge-all"]),
        ),
        (
            "log-delete-one",
            teach(&[MARS, "RESOURCE exists (this host need not be a member)"], &["exit 5: RESOURCE does not exist"], &["marsadm log-delete-one r0"]),
        ),
        (
            "wait-umount",
            teach(
                &[MARS, "RESOURCE exists"],
                &["exit 5: RESOURCE does not exist", "exit 6: the device is still open after --timeout seconds"],
                &["umount /mnt/r0; marsadm wait-umount r0 --timeout 30"],
            ),
        ),
        (
            "cron",
            teach(
                &[MARS, "run on every member, every few minutes (the mars-tools package's timer, or a cron job)"],
                &[
                    "/mars is not a filesystem of its own",
                    "a step fails for one resource (e.g. log-rotate refused; exit status that step's): the resources before it are done",
                ],
                &["marsadm cron"],
            ),
        ),
        (
            "events",
            teach(
                &[MARS, "each RESOURCE named exists (`all`, the default: every resource, also those created later)"],
                &[
                    "/mars is not a filesystem of its own",
                    "a RESOURCE named does not exist",
                    "exit 2: --interval below 50 ms",
                    "none later: a look at the tree that fails is repeated at the next --interval",
                ],
                &["marsadm events --json", "marsadm events r0 --count 1"],
            ),
        ),
        (
            "metrics",
            teach(
                &[MARS, "each RESOURCE named exists (`all`, the default: every resource known here)"],
                &[
                    "/mars is not a filesystem of its own",
                    "a RESOURCE named does not exist",
                    "--output FILE: FILE's directory does not exist or cannot be written (FILE is left as it was)",
                    "--listen ADDR:PORT: the address cannot be bound (in use, or not an address of this host)",
                    "exit 2: --output and --listen together",
                ],
                &[
                    "marsadm metrics --output /var/lib/prometheus/node-exporter/mars.prom",
                    "marsadm metrics --listen 127.0.0.1:9775",
                ],
            ),
        ),
        (
            "view-my-resources",
            teach(&[MARS], &["/mars is not a filesystem of its own"], &["marsadm view-my-resources"]),
        ),
        (
            "version",
            teach(
                &["none: without the module it prints marsadm's version only"],
                &["none (exit 0)"],
                &["marsadm version --json"],
            ),
        ),
        (
            "set-systemd-unit",
            teach(
                &[
                    MEMBER,
                    "where systemd runs here: both units are instances marsadm made from a template in /etc/mars/systemd-templates or /usr/share/mars/systemd-templates",
                ],
                &[
                    NOT_MEMBER,
                    "a name that is no unit name (only A-Z a-z 0-9 : _ . - \\ @, ending in .service, .mount, .target, .path, .timer, .socket or .automount)",
                    "a unit no template made here (e.g. reboot.target): marsadm starts and stops only its own instances",
                    "exit 8: systemctl start or stop of the unit failed (the links are written)",
                ],
                &["marsadm set-systemd-unit r0 'mars-app-@escvar{res}.service' 'mnt-mars-@escvar{res}.mount'", "marsadm set-systemd-unit r0 ''"],
            ),
        ),
        (
            "get-systemd-unit",
            teach(&["RESOURCE exists"], &["exit 5: RESOURCE does not exist"], &["marsadm get-systemd-unit --json r0"]),
        ),
        (
            "systemd-trigger",
            teach(
                &["none: without systemd running here it does nothing (exit 0)"],
                &[
                    "a unit was not made here from a template, or (for a start) another member was not heard from within 30 s", "exit 8: systemctl start or stop failed",
                ],
                &["marsadm systemd-trigger", "marsadm systemd-trigger r0"],
            ),
        ),
    ];
    let mut t: Vec<(String, String)> = t.into_iter().map(|(name, text)| (name.to_owned(), text)).collect();
    for what in ["fetch", "sync", "replay"] {
        for (verb, global) in [("pause", ""), ("pause", "-global"), ("resume", ""), ("resume", "-global")] {
            let name = format!("{verb}-{what}{global}");
            let example = format!("marsadm {name} r0");
            t.push((name, teach(&[MEMBER], &[NOT_MEMBER], &[&example])));
        }
    }
    for name in [
        "view-is-emergency",
        "view-rest-space",
        "view-total-space",
        "view-is-primary",
        "view-is-attached",
        "view-get-primary",
        "view-resource-size",
        "view-writeback-rest",
        "view-fetch-rest",
        "view-replay-rest",
        "view-sync-rest",
        "view-is-consistent",
        "role",
        "state",
        "view-is-split-brain",
        "view-role",
        "view-actual-primary",
        // docu/monitoring.md
        "view-is-attach",
        "view-is-sync",
        "view-is-fetch",
        "view-is-replay",
        "view-is-secondary",
        "view-todo-attach",
        "view-todo-sync",
        "view-todo-fetch",
        "view-todo-replay",
        "view-todo-primary",
        "view-todo-secondary",
        "view-is-orphan",
        "view-diskstate",
        "view-replstate",
        "view-device-opened",
        "view-sync-rate",
        "view-fetch-rate",
        "view-replay-rate",
        "view-sync-remain",
        "view-fetch-remain",
        "view-replay-remain",
        "view-sync-percent",
        "view-fetch-percent",
        "view-replay-percent",
        "view-alive-age",
        "view-get-disk",
        "view-get-device",
        "view-resource-members",
    ] {
        let example = format!("marsadm {name} r0");
        t.push((name.to_owned(), teach(&[MARS, "each RESOURCE named exists (`all`: every resource known here; one value per resource after a `--------- resource R` line)"], &["a RESOURCE named does not exist"], &[&example])));
    }
    // The commands that run through commands::each (all checks first, then the changes).
    for (name, text) in t.iter_mut() {
        if EACH.contains(&name.as_str()) || name.starts_with("pause-") || name.starts_with("resume-") {
            *text = text.replace("\nExample:", &format!("  {ALL}\n\nExample:"));
        }
    }
    t
}

/// Commands (besides pause-*, resume-*) that take `all` or a list and check each
/// resource before they change any.
const EACH: &[&str] = &[
    "attach", "detach", "up", "down", "set-emergency-limit", "get-emergency-limit", "set-rpo", "primary", "invalidate", "fake-sync", "secondary", "log-rotate",
    "log-delete", "log-delete-one", "log-delete-all",
];

/// The three parts of a teaching text. Refusals without an exit status named exit with 1
/// and change nothing (commands check everything first).
fn teach(pre: &[&str], refusals: &[&str], examples: &[&str]) -> String {
    let mut s = String::from("Preconditions:\n");
    for p in pre {
        s += &item(p);
    }
    s += "\nRefusals (exit 1, nothing changed, unless the line says otherwise):\n";
    for r in refusals {
        s += &item(r);
    }
    s += "\nExample:\n";
    for e in examples {
        s += &format!("  {e}\n");
    }
    s
}

/// One list item, wrapped at 80 columns with a hanging indent (clap would wrap it to
/// the terminal's width without one).
fn item(text: &str) -> String {
    let mut out = String::from("  -");
    let mut col = 3;
    for word in text.split(' ') {
        if col + 1 + word.len() > 80 && col > 4 {
            out += "\n   ";
            col = 3;
        }
        out += " ";
        out += word;
        col += 1 + word.len();
    }
    out + "\n"
}

/// The clap command with the teaching texts and the hidden generator subcommand.
pub fn command() -> clap::Command {
    taught().subcommand(
        clap::Command::new(GENERATE)
            .hide(true)
            .about("Write the man pages (DIR/man8) and shell completions (DIR/completions)")
            .arg(Arg::new("dir").required(true).value_parser(clap::value_parser!(std::path::PathBuf))),
    )
}

/// The commands by task, in the order `marsadm --help` lists them. Every visible
/// command is in exactly one group (test `every_command_in_one_group`); the `view-*`
/// values come last but one, under their own heading.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Cluster",
        &["create-cluster", "join-cluster", "leave-cluster", "wait-cluster", "update-cluster", "rotate-secret", "merge-cluster", "merge-cluster-check", "merge-cluster-list"],
    ),
    (
        "Resources",
        &[
            "create-resource", "join-resource", "leave-resource", "delete-resource", "wait-resource", "wait-umount", "resize", "set-rpo",
            "set-emergency-limit", "get-emergency-limit",
        ],
    ),
    ("Roles", &["primary", "secondary", "invalidate", "fake-sync"]),
    (
        "Replication control",
        &[
            "up", "down", "attach", "detach", "pause-fetch", "resume-fetch", "pause-fetch-global", "resume-fetch-global", "pause-sync",
            "resume-sync", "pause-sync-global", "resume-sync-global", "pause-replay", "resume-replay", "pause-replay-global",
            "resume-replay-global",
        ],
    ),
    ("Logs", &["log-rotate", "log-delete", "log-delete-one", "log-delete-all", "log-purge-all", "link-purge-all", "cron", "cat"]),
    ("Monitoring", &["view", "state", "role", "events", "metrics", "dump-macros", "dump-all-macros", "version"]),
    ("systemd", &["set-systemd-unit", "get-systemd-unit", "systemd-trigger"]),
    (
        "Low-level",
        &[
            "lowlevel-set-host-ip", "lowlevel-ls-host-ips", "lowlevel-delete-host", "set-global-sync-limit-value", "get-global-sync-limit-value",
            "set-link", "get-link", "delete-file",
        ],
    ),
    ("Values for scripts (one value per line)", &[]),
];

/// The heading of a command in `--help` ([`GROUPS`]; `view-*`: the values).
fn group_of(name: &str) -> Option<usize> {
    GROUPS.iter().position(|(_, names)| names.contains(&name)).or_else(|| name.starts_with("view-").then_some(GROUPS.len() - 1))
}

/// The command list of `marsadm --help`, by task.
fn grouped(cmd: &clap::Command) -> String {
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    let width = subs.iter().map(|c| c.get_name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for (i, (heading, _)) in GROUPS.iter().enumerate() {
        out += &format!("{heading}:\n");
        let mut members: Vec<&&clap::Command> = subs.iter().filter(|c| group_of(c.get_name()) == Some(i)).collect();
        if let Some((_, order)) = GROUPS.get(i).filter(|(_, names)| !names.is_empty()) {
            members.sort_by_key(|c| order.iter().position(|n| *n == c.get_name()));
        }
        for c in members {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            let aliases: Vec<&str> = c.get_visible_aliases().collect();
            let aliases = if aliases.is_empty() { String::new() } else { format!(" [alias: {}]", aliases.join(", ")) };
            out += &format!("  {:width$} ", c.get_name());
            // Wrapped at 100 columns, the continuation under the text.
            let mut col = width + 3;
            for word in format!("{about}{aliases}").split(' ') {
                if col + 1 + word.len() > 100 && col > width + 3 {
                    out += &format!("\n  {:width$} ", "");
                    col = width + 3;
                }
                out += " ";
                out += word;
                col += 1 + word.len();
            }
            out += "\n";
        }
        out += "\n";
    }
    out
}

/// The clap command with the teaching texts and the command list by task.
fn taught() -> clap::Command {
    let statuses: Vec<String> = crate::error::exit::MEANING.iter().map(|(code, what)| format!("{code} {what}")).collect();
    let mut cmd = Cli::command().after_long_help(format!(
        "Every command's long help (`marsadm help COMMAND`) says what it needs, what makes it refuse and gives an example.\n\
         Exit status: {}.\n\
         Example:\n  marsadm view all",
        statuses.join("; ")
    ));
    // In place: `mut_subcommand` per text moved the whole subcommand list each time,
    // most of the start-up time of every marsadm call (docu/testbed.md, "Speed under TCG").
    let mut texts: HashMap<String, String> = texts().into_iter().collect();
    cmd = cmd.mut_subcommands(|c| match texts.remove(c.get_name()) {
        Some(text) => c.after_long_help(text),
        None => c,
    });
    if let Some(name) = texts.keys().next() {
        panic!("teaching text for `{name}`, which is no command");
    }
    let list = grouped(&cmd);
    cmd.help_template(format!("{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{list}Options:\n{{options}}{{after-help}}"))
}

/// `marsadm generate-docs DIR`: marsadm.8 and marsadm-<command>.8 for each visible
/// command in DIR/man8, bash and zsh completions in DIR/completions.
pub fn generate(m: &ArgMatches) -> std::io::Result<()> {
    let dir: &std::path::PathBuf = m.get_one("dir").expect("required");
    let cmd = public_command();
    let man = dir.join("man8");
    std::fs::create_dir_all(&man)?;
    write_man(&cmd, &man)?;
    for sub in cmd.get_subcommands() {
        write_man(sub, &man)?;
    }
    let comp = dir.join("completions");
    std::fs::create_dir_all(&comp)?;
    // Completions offer `help COMMAND` too.
    let mut full = taught();
    let mut bash = std::fs::File::create(comp.join("marsadm"))?;
    clap_complete::generate(clap_complete::Shell::Bash, &mut full, "marsadm", &mut bash);
    let mut zsh = std::fs::File::create(comp.join("_marsadm"))?;
    clap_complete::generate(clap_complete::Shell::Zsh, &mut full, "marsadm", &mut zsh);
    Ok(())
}

/// The command as users see it: without the hidden generator and clap's `help`
/// subcommand (each command has its own page), built so subcommands know their names.
fn public_command() -> clap::Command {
    let mut cmd = taught().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn write_man(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let page = clap_mangen::Man::new(cmd.clone()).section("8").manual("MARS");
    let mut out = std::fs::File::create(dir.join(page.get_filename()))?;
    page.render(&mut out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn visible() -> Vec<clap::Command> {
        public_command().get_subcommands().filter(|c| !c.is_hide_set()).cloned().collect()
    }

    #[test]
    fn every_command_in_one_group() {
        for sub in visible() {
            let name = sub.get_name();
            let n = GROUPS.iter().filter(|(_, names)| names.contains(&name)).count();
            assert!(n + usize::from(name.starts_with("view-")) == 1, "{name} is in {n} groups of marsadm --help");
        }
        let help = public_command().render_long_help().to_string();
        assert!(help.find("Cluster:\n  create-cluster") < help.find("Values for scripts"), "{help}");
        assert!(help.contains("  view-is-primary "), "{help}");
        assert!(!help.contains("Commands:"), "{help}");
    }

    #[test]
    fn every_command_teaches() {
        for mut sub in visible() {
            let help = sub.render_long_help().to_string();
            let name = sub.get_name().to_owned();
            assert!(help.contains("Preconditions:"), "{name}: no preconditions in its long help");
            assert!(help.contains("Refusals"), "{name}: no refusals in its long help");
            assert!(help.contains("Example:"), "{name}: no example in its long help");
        }
    }

    /// Every example is a command line marsadm accepts, naming the command it teaches.
    #[test]
    fn examples_parse() {
        for (name, text) in texts() {
            let name = name.as_str();
            let examples = text.split("Example:\n").nth(1).expect("example section");
            let mut own = false;
            for line in examples.lines() {
                for part in line.split(['|', ';']).flat_map(|p| p.split("&&")) {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    if words.first() != Some(&"marsadm") {
                        continue;
                    }
                    own |= words.get(1) == Some(&name);
                    if let Err(e) = Cli::try_parse_from(&words) {
                        panic!("{name}: example {part:?} does not parse: {e}");
                    }
                }
            }
            assert!(own, "{name}: no example runs `marsadm {name}`");
        }
    }

    #[test]
    fn help_subcommand_prints_the_teaching_text() {
        let err = command().try_get_matches_from(["marsadm", "help", "primary"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let text = err.to_string();
        assert!(text.contains("Refusals") && text.contains("marsadm primary --force r0"), "{text}");
    }

    #[test]
    fn generator_is_hidden() {
        assert!(visible().iter().all(|c| c.get_name() != GENERATE));
        assert!(command().try_get_matches_from(["marsadm", GENERATE, "/tmp/x"]).is_ok());
    }

    #[test]
    fn man_pages_and_completions() {
        let dir = std::env::temp_dir().join(format!("marsadm-docs-{}", std::process::id()));
        let m = command().get_matches_from(["marsadm", GENERATE, dir.to_str().unwrap()]);
        generate(m.subcommand_matches(GENERATE).unwrap()).unwrap();
        let page = std::fs::read_to_string(dir.join("man8/marsadm-primary.8")).unwrap();
        assert!(page.contains(".TH marsadm-primary 8"), "{}", &page[..200.min(page.len())]);
        assert!(page.contains("Refusals"));
        assert_eq!(std::fs::read_dir(dir.join("man8")).unwrap().count(), visible().len() + 1);
        let bash = std::fs::read_to_string(dir.join("completions/marsadm")).unwrap();
        assert!(bash.contains("complete -F _marsadm") && !bash.contains(GENERATE));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
