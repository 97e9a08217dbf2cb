//! Errors of marsadm, each with an actionable message and a stable exit code.

use std::path::PathBuf;

/// Everything that can make a marsadm command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode JSON output: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Tree {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} should be a symlink in the /mars tree but is not; it was not made by MARS, remove or rename it")]
    NotALink(PathBuf),
    #[error("cannot determine this host's name: {0}")]
    Host(String),
    #[error("this host's name {host:?} cannot be used by MARS: {reason}; set a hostname of a-z, 0-9 and '-'")]
    HostName { host: String, reason: String },
    #[error("{0} is not a mounted filesystem of its own: MARS keeps its logs there; mount a dedicated filesystem (ext4 or xfs) on it")]
    NoMars(PathBuf),
    #[error("the kernel module is not loaded: run `modprobe mars`")]
    ModuleNotLoaded,
    #[error("this host is not member of a cluster: run `marsadm create-cluster` (or join-cluster)")]
    NoCluster,
    #[error("{0} is not a cluster member here (no /mars/ips/ip-{0}; ls /mars/ips lists them)")]
    NoHost(String),
    #[error("{host} has address {ip} already: two members cannot share one")]
    AddressTaken { ip: String, host: String },
    /// Not a failure: `--dry-run` stopped the command before its first change
    /// (commands::run reports it and exits 0).
    #[error("dry run: every check passed, nothing changed")]
    DryRun,
    #[error("this host is already member of cluster {0}")]
    AlreadyCluster(String),
    #[error("cannot find an IPv4 address for {0} in /etc/hosts: give it with --ip")]
    NoAddress(String),
    #[error("no answer from {peer} at {ip} within {secs} s: is the module loaded there, is it a cluster member, and is its base port (/proc/sys/mars/base_port, the same on all members) reachable?")]
    JoinTimeout { peer: String, ip: String, secs: u64 },
    #[error("cannot read {peer}'s tree at {ip}: {reason}")]
    Probe { peer: String, ip: String, reason: String },
    #[error("{host} is member of resource(s) {resources}: remove it there first (marsadm leave-resource RES --host {host})")]
    HostInResources { host: String, resources: String },
    #[error("hook {hook} failed ({status}): nothing changed (--force runs the command anyway)")]
    HookFailed { hook: String, status: String },
    #[error("this cluster cannot merge with {peer}'s: {conflicts}; rename or remove one side's (merge-cluster-list on both sides shows them)")]
    MergeConflicts { peer: String, conflicts: String },
    #[error("this host is still member of resource(s) {0}: leave them first (leave-resource, or delete-resource)")]
    StillMember(String),
    #[error("not heard from {hosts} within {secs} s: check that their module is loaded and their base port (/proc/sys/mars/base_port) is reachable")]
    Silent { hosts: String, secs: u64 },
    #[error("bad {what} name {name:?}: {reason}")]
    Name { what: &'static str, name: String, reason: String },
    #[error("resource {0} exists already (marsadm view {0}); to replace the remains of one whose members are all gone: create-resource --force")]
    ResourceExists(String),
    #[error("device name {devname} is used by resource {res} on this host: give another one")]
    DeviceNameTaken { devname: String, res: String },
    #[error("disk {disk} belongs to resource {res} already")]
    DiskTaken { disk: PathBuf, res: String },
    #[error("cannot use {path} as disk: {reason}")]
    Disk { path: PathBuf, reason: String },
    #[error("{host} is already a member of resource {res}")]
    AlreadyMember { res: String, host: String },
    #[error("resource {0} has no primary to join from")]
    NoPrimary(String),
    #[error("resource {0} does not exist (marsadm view all lists the resources)")]
    NoResource(String),
    #[error("{host} is not a member of resource {res}")]
    NotMember { res: String, host: String },
    #[error("resource {res}: {what} did not happen within {secs} s (the module reports: {error}; dmesg says more)")]
    Timeout { res: String, what: String, secs: u64, error: String },
    #[error("resource {res}: /dev/mars device is open by {openers} user(s) (mounted?): close it before {what}")]
    DeviceOpen { res: String, what: String, openers: u32 },
    #[error("resource {res}: refused: {why}")]
    Refused { res: String, why: String },
    #[error("resource {0} is still attached here: run marsadm down {0} first")]
    StillAttached(String),
    #[error("resource {res} has other members ({hosts}): they must leave it first (if they are gone for good: delete-resource --force)")]
    OtherMembers { res: String, hosts: String },
    #[error("{0}: damaged or out-of-sequence record (see the report above)")]
    LogBad(String),
    #[error("systemd: {0}")]
    Systemd(String),
    #[error("systemd: {0}")]
    SystemdRefused(String),
    #[error("{0}")]
    Usage(String),
    #[error("--macro: {0}")]
    Macro(String),
    #[error("{0}: the last record is incomplete (being written or fetched, or cut off by a crash)")]
    LogIncomplete(String),
    #[error("resource {0}: this host is not its actual primary; log-rotate runs on the primary")]
    NotPrimary(String),
    #[error("resource {0}: this host is its designated primary; make another host primary first")]
    IsPrimary(String),
    #[error("resource {res}: not {what} within {secs} s (marsadm view {res} shows why)")]
    WaitTimeout { res: String, what: String, secs: u64 },
    #[error("resource {res}: the size link says {size} bytes, but {dev} did not grow to it within {secs} s (the module reports: {error}; dmesg says more)")]
    ResizeTimeout { res: String, dev: String, size: u64, secs: u64, error: String },
    #[error("{0} does not hold a cluster secret (64 hex digits): copy /mars/cluster.key of a member unchanged")]
    BadSecret(PathBuf),
    #[error("join-cluster needs the cluster's secret: copy /mars/cluster.key from a member (e.g. with scp) and give --secret-file FILE, or --secret-file - to read it from stdin")]
    SecretNeeded,
    #[error("{0} holds another secret already: this host belongs to another cluster (leave-cluster first)")]
    SecretPresent(PathBuf),
    #[error("{0} is missing: this host has no cluster secret; copy it from a member (join-cluster --secret-file)")]
    NoSecret(PathBuf),
    #[error("a rotation is in progress here (/mars/cluster.key.old exists): finish it first with `marsadm rotate-secret --finish`")]
    RotationPending,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("another marsadm on this host has been changing things for {secs} s: try again once it has finished")]
    Busy { secs: u64 },
    #[error("not every member holds the new key {id} yet ({hosts}): run `marsadm rotate-secret --secret-file F` there first (or --force if they are gone)")]
    RotationBehind { hosts: String, id: String },
}

/// marsadm's exit statuses, one per class of failure, so that a script can tell them
/// apart without parsing the message (docu/architecture.md, "marsadm exit codes").
pub mod exit {
    /// A check refused the command; nothing was changed.
    pub const REFUSED: u8 = 1;
    /// Bad command line (clap's own message), or a `--macro` text that does not expand.
    pub const USAGE: u8 = 2;
    /// `cat`: the logfile's last record is incomplete.
    pub const INCOMPLETE: u8 = 3;
    /// Another marsadm on this host kept changing things (nothing was changed).
    pub const BUSY: u8 = 4;
    /// The resource or file named does not exist, or this host (or the host named) is no
    /// member.
    pub const NOT_FOUND: u8 = 5;
    /// The change was asked for but the module or the cluster did not carry it out within
    /// `--timeout`: the message says whether it was undone or stays asked for.
    pub const TIMEOUT: u8 = 6;
    /// mars.ko is not loaded here (`/proc/sys/mars` is missing).
    pub const NO_MODULE: u8 = 7;
    /// The system failed: reading or writing /mars or a file, systemctl, a socket.
    pub const SYSTEM: u8 = 8;

    /// Each status with what it means, as `marsadm --help` lists them.
    pub const MEANING: &[(u8, &str)] = &[
        (0, "success"),
        (REFUSED, "refused, nothing changed"),
        (USAGE, "bad command line"),
        (INCOMPLETE, "incomplete last record (cat)"),
        (BUSY, "another marsadm kept changing things here, nothing changed"),
        (NOT_FOUND, "no such resource, member or file"),
        (TIMEOUT, "not done within --timeout (each command's help says what stays)"),
        (NO_MODULE, "mars.ko not loaded"),
        (SYSTEM, "system error (I/O on /mars or a file, systemctl)"),
    ];
}

impl Error {
    /// Exit status for this error ([`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => exit::NOT_FOUND,
            Error::Read { .. } | Error::Json(_) | Error::Tree { .. } | Error::Host(_) | Error::Systemd(_) | Error::Listen { .. } => exit::SYSTEM,
            Error::ModuleNotLoaded => exit::NO_MODULE,
            Error::NoResource(_) | Error::NotMember { .. } | Error::NoHost(_) => exit::NOT_FOUND,
            Error::JoinTimeout { .. } | Error::Probe { .. } | Error::Silent { .. } | Error::Timeout { .. } | Error::WaitTimeout { .. } | Error::ResizeTimeout { .. } => {
                exit::TIMEOUT
            }
            Error::NotAFile(_)
            | Error::LogBad(_)
            | Error::NotALink(_)
            | Error::HostName { .. }
            | Error::NoMars(_)
            | Error::NoCluster
            | Error::AlreadyCluster(_)
            | Error::AddressTaken { .. }
            | Error::NoAddress(_)
            | Error::StillMember(_)
            | Error::MergeConflicts { .. }
            | Error::HostInResources { .. }
            | Error::HookFailed { .. }
            | Error::Name { .. }
            | Error::ResourceExists(_)
            | Error::DeviceNameTaken { .. }
            | Error::DiskTaken { .. }
            | Error::Disk { .. }
            | Error::AlreadyMember { .. }
            | Error::NoPrimary(_)
            | Error::DeviceOpen { .. }
            | Error::Refused { .. }
            | Error::StillAttached(_)
            | Error::OtherMembers { .. }
            | Error::NotPrimary(_)
            | Error::IsPrimary(_)
            | Error::BadSecret(_)
            | Error::SecretNeeded
            | Error::SecretPresent(_)
            | Error::NoSecret(_)
            | Error::RotationPending
            | Error::RotationBehind { .. }
            | Error::SystemdRefused(_) => exit::REFUSED,
            // A text that does not expand is a command-line error, as clap's own.
            Error::Macro(_) | Error::Usage(_) => exit::USAGE,
            Error::LogIncomplete(_) => exit::INCOMPLETE,
            Error::Busy { .. } => exit::BUSY,
            Error::DryRun => 0,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A failure as `--json` prints it on stdout: `{"schema_version":1,"error":{"message":
/// ...,"exit_status":N}}` (docu/marsadm-json.md).
pub fn json_error(err: &Error) -> String {
    serde_json::json!({ "schema_version": 1, "error": { "message": err.to_string(), "exit_status": err.exit_code() } }).to_string()
}

/// An errno the module reports (negative, as `actual-<host>/error` has it; 0: none) as
/// words: `EBUSY (Device or resource busy)`.
pub fn errno_text(errno: i32) -> String {
    if errno == 0 {
        return "no error".to_owned();
    }
    let e = nix::errno::Errno::from_raw(errno.saturating_abs());
    if e == nix::errno::Errno::UnknownErrno {
        format!("error {errno}")
    } else {
        format!("{e:?} ({})", e.desc())
    }
}

#[cfg(test)]
mod errno_tests {
    #[test]
    fn errno_as_words() {
        assert_eq!(super::errno_text(-16), "EBUSY (Device or resource busy)");
        assert_eq!(super::errno_text(0), "no error");
        assert_eq!(super::errno_text(-99999), "error -99999");
    }
}

#[cfg(test)]
mod exit_tests {
    use super::{exit, Error};

    #[test]
    fn each_class_its_own_status() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        for (err, want) in [
            (Error::Refused { res: "r0".into(), why: "split brain".into() }, exit::REFUSED),
            (Error::Macro("x".into()), exit::USAGE),
            (Error::LogIncomplete("f".into()), exit::INCOMPLETE),
            (Error::Busy { secs: 1 }, exit::BUSY),
            (Error::NoResource("r9".into()), exit::NOT_FOUND),
            (Error::Read { path: "/x".into(), source: missing }, exit::NOT_FOUND),
            (Error::WaitTimeout { res: "r0".into(), what: "primary".into(), secs: 1 }, exit::TIMEOUT),
            (Error::ModuleNotLoaded, exit::NO_MODULE),
            (Error::Read { path: "/x".into(), source: denied }, exit::SYSTEM),
        ] {
            assert_eq!(err.exit_code(), want, "{err}");
        }
    }
}
