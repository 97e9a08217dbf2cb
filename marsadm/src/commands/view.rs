//! `view` and the `view-<macro>` primitives. Every state shown is computed once, in
//! [`resource_state`], and printed by both the text and the JSON form.

use mars_core::emergency::{self as em, Level};
use mars_core::handover::{fetch_source, Wait, TAKEOVER_WAIT};
use mars_core::log_record::headers_end;
use mars_core::replication::{discarded, is_consistent, stuck_before_hole, Stop, REPLAY_STOPPED, REPLAY_STOPPED_HINT};
use mars_core::splitbrain::{beyond_primary, bytes_after, compare_histories, duplicate_logfile, earlier, PairHistory, SplitPoint};
use mars_core::syncruns::{SYNC_REFUSED, SYNC_REFUSED_HINT};
use mars_core::tree::{
    IF_AMOUNT_RATE, IF_COMPLETION_STAMP, IF_FLYING, IF_OPS_RATE,
    LogName, ReplayLink, VersionLink, ACTUAL_PREFIX, DATA_PREFIX, DISK_ERROR, IS_SYNC_QUEUED, NONE, PRIMARY, REPLAY_PREFIX, SIZE,
    SYNCPOS_PREFIX, SYNCSTATUS_PREFIX, TODO_PREFIX, VERSION_PREFIX,
};
use serde::Serialize;

use super::members::{any_secondary_connected, members, rpo_seconds, unapplied_age, Member};
use super::resource::{device_path, resource_dir, resources};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::liveness;
use crate::module;

/// JSON schema version of `view --json` (docu/marsadm-json.md).
pub(crate) const SCHEMA_VERSION: u32 = 8;

/// Every word [`role_word`] gives.
pub const ROLES: [&str; 6] = ["Primary", "ForcedPrimary", "RemainsPrimary", "NotYetPrimary", "Secondary", "None"];
/// Every disk state [`resource_state`] gives.
pub const DISKSTATES: [&str; 9] = ["DISK_ERROR", "Detached", "Inconsistent", "Outdated", "Outdated[F]", "Outdated[R]", "Outdated[FR]", "WriteBack", "UpToDate"];
/// Every replication state [`resource_state`] gives.
pub const REPLSTATES: [&str; 14] = [
    "ModuleNotLoaded",
    "NotStarted",
    "Replicating",
    "NoSecondaryConnected",
    "EmergencyMode",
    "PrimaryUnreachable",
    "Syncing",
    "SyncQueued",
    "PausedSync",
    "PausedFetch",
    "PausedReplay",
    "NoPrimaryDesignated",
    "Orphan",
    "Replaying",
];

/// The state of a resource on this host.
#[derive(Debug, Serialize)]
pub struct ResourceState {
    pub name: String,
    pub size: u64,
    /// Designated primary (`null`: none).
    pub primary: Option<String>,
    /// This host's role ([`role_word`]): `Primary`, `ForcedPrimary`, `RemainsPrimary`,
    /// `NotYetPrimary`, `Secondary`, `None`.
    pub role: &'static str,
    /// `DISK_ERROR` (the disk refused I/O: see `disk_error`), `Detached`; on a secondary `Inconsistent` (not a consistent copy yet: sync not
    /// complete or replay not past the sync's end), `Outdated[F]`, `Outdated[R]`,
    /// `Outdated[FR]` (fetch and/or replay behind), `UpToDate`; on the primary
    /// `WriteBack` (logged data not yet on the disk) or `UpToDate`.
    pub diskstate: String,
    /// `ModuleNotLoaded` (mars.ko is not loaded here: nothing runs, whatever it reported
    /// last), `NotStarted` (detached), `Replicating`, `NoSecondaryConnected` (no secondary is
    /// reachable and fetching) or `EmergencyMode` (primary; logging ceased), or on a
    /// secondary `PrimaryUnreachable`, `Syncing`, `SyncQueued`,
    /// `PausedSync`, `PausedFetch`, `PausedReplay`, `NoPrimaryDesignated`, `Orphan`
    /// (stopped at a hole in the logfile sequence: the primary ceased logging),
    /// `Replaying`.
    pub replstate: &'static str,
    pub is_attached: bool,
    pub is_primary: bool,
    /// The disk is a consistent copy (see `view-is-consistent`).
    pub is_consistent: bool,
    /// The full sync is wanted but waits for `/proc/sys/mars/sync_limit`
    /// (`actual-<me>/is-sync-queued`).
    pub is_sync_queued: bool,
    pub device: String,
    pub open_count: u32,
    /// Requests per second to the device here (`actual-<me>/if-ops-rate`; bytes per
    /// second: `rates.device`).
    pub device_ops_rate: u64,
    /// Requests the device holds, received and not completed (`if-flying`).
    pub device_in_flight: u64,
    /// Seconds the oldest of them waits at most (from `if-completion-stamp`; 0 without).
    pub device_wait_s: f64,
    /// Bytes logged but not yet known to be on the disk (primary; 0 elsewhere).
    pub writeback_rest: u64,
    /// Bytes of the disk the full sync has still to go (0 when synced).
    pub sync_rest: u64,
    /// Bytes of the primary's logfiles not yet fetched here (secondary; 0 elsewhere),
    /// as far as the primary's version and replay links tell.
    pub fetch_rest: u64,
    /// Bytes fetched here but not yet replayed (secondary; 0 elsewhere).
    pub replay_rest: u64,
    /// Bytes of the logfile this host's replay link names that are replayed here
    /// (secondary; 0 elsewhere): with `replay_rest` and `fetch_rest` the progress of
    /// replay and fetch (`view-replay-percent`, `view-fetch-percent`).
    pub replay_pos: u64,
    /// The todo switches of this host: attach, sync, fetch (`connect`), replay
    /// (`allow-replay`).
    pub switches: Switches,
    /// What the module reports running here: its full sync (only while `syncstatus-<host>`
    /// is below the size), fetch and replay (`actual-<host>/is-syncing`, `is-fetching`,
    /// `is-replaying`).
    pub running: Running,
    /// Rates reported by the module, bytes per second (averaged over seconds).
    pub rates: Rates,
    /// Last error the module reported for this resource (0: none).
    pub error: i32,
    /// Errno (negative) of the last failed I/O of the disk here, until it works again
    /// (`actual-<me>/disk-error`; 0: none).
    pub disk_error: i32,
    /// The module reports this host took over by force (`actual-<me>/forced-primary`).
    pub is_forced_primary: bool,
    /// Hosts whose module reports `is-primary` = 1, sorted; more than one is worth a look.
    pub actual_primaries: Vec<String>,
    /// Milliseconds since the designated primary was last heard from (`null`: none
    /// designated, this host, or never heard from).
    pub primary_age_ms: Option<u64>,
    /// The histories of some members diverged (`null`: no split brain seen).
    pub split_brain: Option<SplitBrain>,
    /// Why the module's replay stopped here (`replication::Stop::word`:
    /// `DuplicateLogfile`, `NotContiguous`, `VersionMismatch`), while it runs; `null`:
    /// not stopped.
    pub replay_stopped: Option<&'static str>,
    /// Why this host, designated primary, does not take over yet
    /// (`actual-<host>/takeover-wait`, `handover::Wait::word`: `NotConsistent`,
    /// `NotCaughtUp`, `OldPrimaryActive`, `NoFinalPosition`), while its role is
    /// `NotYetPrimary`; `null` otherwise.
    pub takeover_wait: Option<&'static str>,
    /// Space in this host's /mars and emergency mode (docu/emergency.md).
    pub emergency: Emergency,
    /// The recovery point objective in seconds (`marsadm set-rpo`; `null`: none).
    pub rpo_seconds: Option<u64>,
    /// Every member of the resource (this host too), as the links here show them:
    /// role, disk, contact, lag behind the primary in bytes and seconds.
    pub members: Vec<Member>,
}

/// Emergency mode as seen here.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct Emergency {
    /// The resource is in emergency mode here or on its designated primary
    /// (`view-is-emergency`).
    pub is_emergency: bool,
    /// The designated primary ceased transaction logging (`has-emergency` there while it
    /// is primary).
    pub primary_ceased: bool,
    /// This host's emergency level 0..4 (`/proc/sys/mars/mars_emergency_mode`).
    pub level: u8,
    /// What the level means.
    pub level_text: &'static str,
    /// Space left in this host's /mars (free minus what RAM buffers still write) and its
    /// size, in bytes (`null`: not reported yet).
    pub rest_space: Option<u64>,
    pub total_space: Option<u64>,
    /// This host's `emergency-limit` of the resource in percent (0: none).
    pub limit_percent: u8,
    /// /mars takes no writes here (mounted read-only, or the module's writes into it fail:
    /// `/proc/sys/mars/tree_write_error`): nothing is logged, and what the module reports
    /// in the tree is stale.
    pub mars_unwritable: bool,
    /// The operator's next step (`null`: nothing to do).
    pub hint: Option<&'static str>,
}

/// A split brain among the members' version-link histories (`mars_core::splitbrain`).
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct SplitBrain {
    /// Number of the last logfile the diverged histories share (0: none).
    pub logfile: u32,
    /// That logfile's name, if a version link for it is left (`null`: deleted).
    pub log: Option<String>,
    /// Bytes of it all diverged histories contain (`null` when the logfile is unknown).
    pub pos: Option<u64>,
    /// The lowest number of which several hosts' logfiles are here (`null`: none).
    pub duplicate_logfile: Option<u32>,
    /// The hosts whose history diverged from another's, sorted by name.
    pub hosts: Vec<SplitHost>,
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct SplitHost {
    pub host: String,
    /// Its role as seen here ([`role_word`]).
    pub role: &'static str,
    /// Bytes of log data its history has beyond the split point: what making another
    /// host's version the surviving one would lose.
    pub bytes_after: u64,
    /// Whether it has been heard from recently ([`liveness::is_reachable`]).
    pub reachable: bool,
}

/// What decides a host's role word.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleLinks {
    /// `actual-<host>/is-attached` = 1.
    pub is_attached: bool,
    /// `actual-<host>/is-primary` = 1: the device is up there.
    pub is_primary: bool,
    /// `actual-<host>/forced-primary` = 1: it became primary by `primary --force`.
    pub is_forced: bool,
    /// `primary` names this host.
    pub is_designated: bool,
}

/// The role of a host: `Primary` (device up, designated), `ForcedPrimary` (the same after
/// a forced takeover), `RemainsPrimary` (device still up but another host, or none, is
/// designated: it waits for the device to be closed), `NotYetPrimary` (designated and
/// attached, device not up yet: the old primary has not finished, or the rest of the log
/// is being replayed), `Secondary` (attached), `None` (detached).
pub fn role_word(r: RoleLinks) -> &'static str {
    match (r.is_primary, r.is_designated) {
        (true, true) if r.is_forced => "ForcedPrimary",
        (true, true) => "Primary",
        (true, false) => "RemainsPrimary",
        (false, true) if r.is_attached => "NotYetPrimary",
        (false, _) if r.is_attached => "Secondary",
        (false, _) => "None",
    }
}

/// The role of `host` in `res` as far as its links have arrived here.
pub(crate) fn host_role(ctx: &Context, res: &str, host: &str, primary: Option<&str>) -> Result<&'static str> {
    let dir = resource_dir(res);
    let on = |name: &str| -> Result<bool> { Ok(link(ctx, &format!("{dir}/{ACTUAL_PREFIX}{host}/{name}"))?.as_deref() == Some("1")) };
    Ok(role_word(RoleLinks {
        is_attached: on("is-attached")?,
        is_primary: on("is-primary")?,
        is_forced: on("forced-primary")?,
        is_designated: primary == Some(host),
    }))
}

/// Hosts of `res` whose module reports `is-primary` = 1.
fn actual_primaries(ctx: &Context, res: &str) -> Result<Vec<String>> {
    let dir = resource_dir(res);
    let mut out = Vec::new();
    for name in ctx.tree.list(&dir)? {
        if let Some(host) = name.strip_prefix(ACTUAL_PREFIX) {
            if link(ctx, &format!("{dir}/{name}/is-primary"))?.as_deref() == Some("1") {
                out.push(host.to_owned());
            }
        }
    }
    Ok(out)
}

/// `version-<nr:09>-<host>` → (nr, host).
fn parse_version_name(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix(VERSION_PREFIX)?;
    let (nr, host) = rest.split_at_checked(9)?;
    let host = host.strip_prefix('-').filter(|h| !h.is_empty())?;
    nr.bytes().all(|b| b.is_ascii_digit()).then(|| nr.parse().ok())?.map(|nr| (nr, host))
}

/// Compares the version-link histories of every pair of members of `res` (and looks for
/// duplicate logfile numbers); the split point reported is the earliest of any pair.
pub fn split_brain(ctx: &Context, res: &str, primary: Option<&str>) -> Result<Option<SplitBrain>> {
    let dir = resource_dir(res);
    let names = ctx.tree.list(&dir)?;
    let mut histories: Vec<(String, Vec<(u32, String)>)> = Vec::new();
    for name in &names {
        if let Some(host) = name.strip_prefix(DATA_PREFIX) {
            if ctx.tree.get(&format!("{dir}/{name}"))?.is_some() {
                histories.push((host.to_owned(), Vec::new()));
            }
        }
    }
    for name in &names {
        let Some((nr, host)) = parse_version_name(name) else { continue };
        let Some(h) = histories.iter_mut().find(|(m, _)| m == host) else { continue };
        if let Some(l) = link(ctx, &format!("{dir}/{name}"))? {
            h.1.push((nr, l));
        }
    }
    let duplicate = duplicate_logfile(&names);
    if let Some(d) = duplicate {
        // A writer of a duplicate is involved even without (matching) version links.
        for host in d.hosts {
            if !histories.iter().any(|(m, _)| m == host) {
                histories.push((host.to_owned(), Vec::new()));
            }
        }
    }
    let views: Vec<Vec<(u32, &str)>> = histories.iter().map(|(_, l)| l.iter().map(|(n, v)| (*n, v.as_str())).collect()).collect();
    let mut split: Option<SplitPoint<'_>> = None;
    let mut involved = vec![false; views.len()];
    for i in 0..views.len() {
        for j in i + 1..views.len() {
            if let PairHistory::Diverged(d) = compare_histories(&views[i], &views[j]) {
                split = Some(split.map_or(d.split, |s| earlier(s, d.split)));
                involved[i] = true;
                involved[j] = true;
            }
        }
    }
    // A member gone on beyond the logfile the actual primary logs into, on a logfile of
    // another host (`splitbrain::beyond_primary`).
    let actual_primary = match primary {
        Some(p) if link(ctx, &format!("{dir}/actual-{p}/is-primary"))?.as_deref() == Some("1") => Some(p),
        _ => None,
    };
    if let Some(p) = actual_primary {
        let current = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{p}"))?.and_then(|v| ReplayLink::parse(&v).ok().map(|l| l.log.nr));
        if let (Some(current), Some(pi)) = (current, histories.iter().position(|(m, _)| m == p)) {
            for (k, view) in views.iter().enumerate() {
                if let Some(sp) = beyond_primary(p, current, view).filter(|_| k != pi) {
                    split = Some(split.map_or(sp, |s| earlier(s, sp)));
                    involved[k] = true;
                    involved[pi] = true;
                }
            }
        }
    }
    if let (None, Some(d)) = (split, duplicate) {
        // Both went on from the logfile before; how far they share it, its links tell.
        let nr = d.nr - 1;
        let common = views.iter().flatten().find(|(n, _)| *n == nr).and_then(|(_, raw)| VersionLink::parse(raw).ok());
        split = Some(SplitPoint { nr, log: common.map(|l| l.log), pos: common.map_or(0, |l| l.pos) });
        for (k, (m, _)) in histories.iter().enumerate() {
            involved[k] = d.hosts.contains(&m.as_str());
        }
    }
    let Some(split) = split else { return Ok(None) };
    let mut hosts = Vec::new();
    for (k, (host, _)) in histories.iter().enumerate().filter(|(k, _)| involved[*k]) {
        hosts.push(SplitHost {
            host: host.clone(),
            role: host_role(ctx, res, host, primary)?,
            bytes_after: bytes_after(&views[k], &split),
            reachable: liveness::is_reachable(ctx, host)?,
        });
    }
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(Some(SplitBrain {
        logfile: split.nr,
        log: split.log.map(|l| l.to_string()),
        pos: split.log.map(|_| split.pos),
        duplicate_logfile: duplicate.map(|d| d.nr),
        hosts,
    }))
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    pub attach: bool,
    pub sync: bool,
    pub fetch: bool,
    pub replay: bool,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    pub sync: bool,
    pub fetch: bool,
    pub replay: bool,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct Rates {
    pub sync: u64,
    pub fetch: u64,
    pub replay: u64,
    /// Bytes per second to the device here (`if-amount-rate`).
    pub device: u64,
}

/// Where the records from `start` on end in the logfile at `path` (of `size` bytes): the
/// primary's logger writes zeros ahead of its current logfile's last record (docu/data-
/// path.md), so its size says nothing.
fn records_end(path: &std::path::Path, start: u64, size: u64) -> u64 {
    use std::os::unix::fs::FileExt;
    let Ok(f) = std::fs::File::open(path) else { return size };
    headers_end(start, size, |at, head| f.read_exact_at(head, at).is_ok())
}

fn link(ctx: &Context, rel: &str) -> Result<Option<String>> {
    Ok(ctx.tree.get(rel)?.map(|l| l.value))
}

pub fn resource_state(ctx: &Context, res: &str) -> Result<ResourceState> {
    let dir = resource_dir(res);
    let me = &ctx.host;
    let actual = |name: &str| link(ctx, &format!("{dir}/actual-{me}/{name}"));
    let switch = |name: &str| -> Result<bool> { Ok(link(ctx, &format!("{dir}/{TODO_PREFIX}{me}/{name}"))?.as_deref() == Some("1")) };
    let number = |v: Option<String>| v.and_then(|v| v.parse::<u64>().ok());
    // Without the module nothing runs here, whatever it reported last.
    let module_loaded = module::loaded_version(&ctx.proc_sys)?.is_some();
    let is_attached = module_loaded && actual("is-attached")?.as_deref() == Some("1");
    let is_primary = module_loaded && actual("is-primary")?.as_deref() == Some("1");
    let is_sync_queued = actual(IS_SYNC_QUEUED)?.as_deref() == Some("1");
    let primary = link(ctx, &format!("{dir}/{PRIMARY}"))?.filter(|p| p != NONE);
    let size: u64 = number(link(ctx, &format!("{dir}/{SIZE}"))?).unwrap_or(0);
    let log_size = |name: &str| std::fs::metadata(ctx.tree.path(&format!("{dir}/{name}"))).map(|m| m.len()).unwrap_or(0);
    let mine_raw = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{me}"))?;
    let mine = mine_raw.as_deref().and_then(|v| ReplayLink::parse(v).ok());
    // A joined disk is a copy only once its full sync has reached the end.
    let synced = number(link(ctx, &format!("{dir}/{SYNCSTATUS_PREFIX}{me}"))?).unwrap_or(size);
    let syncpos_raw = link(ctx, &format!("{dir}/{SYNCPOS_PREFIX}{me}"))?;
    let syncpos = syncpos_raw.as_deref().and_then(|v| ReplayLink::parse(v).ok());
    let (mut writeback_rest, mut fetch_rest, mut replay_rest, mut replay_pos) = (0, 0, 0, 0);
    let secondary = is_attached && !is_primary;
    // Where a secondary fetches from (`handover::fetch_source`): the designated primary,
    // or, on the designated host not primary yet, the old primary it replays.
    let source = mine.as_ref().zip(primary.as_deref()).and_then(|(r, p)| fetch_source(Some(p), me, r.log));
    match (&mine, source) {
        // A secondary: its replay link names the primary's logfile it replays.
        (Some(r), Some(p)) if secondary => {
            replay_pos = r.start;
            let theirs = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{p}"))?;
            let current = theirs.as_deref().and_then(|v| ReplayLink::parse(v).ok()).map_or(r.log.nr, |t| t.log.nr);
            let names = ctx.tree.list(&dir)?;
            let raw = |name: &str| ctx.tree.get_raw(&format!("{dir}/{name}")).ok().flatten().map(|l| l.value.into_bytes());
            for nr in r.log.nr..=current.max(r.log.nr) {
                let log = LogName { nr, host: p };
                let name = log.to_string();
                let local = log_size(&name);
                let version = link(ctx, &format!("{dir}/{VERSION_PREFIX}{nr:09}-{p}"))?;
                // A hole in the logfile sequence: replay stops before it, nothing after
                // it is to be fetched (a copy of a discarded history is no logfile).
                if nr > r.log.nr && version.is_none() && (local == 0 || discarded(log, names.iter().map(String::as_str), raw)) {
                    break;
                }
                let remote = version.as_deref().and_then(|v| VersionLink::parse(v).ok()).map_or(0, |v| v.pos);
                fetch_rest += remote.saturating_sub(local);
                replay_rest += if nr == r.log.nr { local.saturating_sub(r.start) } else { local };
            }
        }
        // The module rewrites the replay link only when the disk is synced, so what is
        // not known to be on the disk is everything the logfile holds beyond the start.
        (Some(r), _) if !secondary => {
            let path = ctx.tree.path(&format!("{dir}/{}", r.log));
            let end = records_end(&path, r.start, log_size(&r.log.to_string()));
            writeback_rest = r.len.max(end.saturating_sub(r.start));
        }
        _ => {}
    }
    let switches = Switches { attach: switch("attach")?, sync: switch("sync")?, fetch: switch("connect")?, replay: switch("allow-replay")? };
    // A sync that has reached the size is finished, although its thread may wait for the
    // module's next round to be stopped: `sync-finished` comes no later than UpToDate.
    let on = |name: &str| -> Result<bool> { Ok(module_loaded && actual(name)?.as_deref() == Some("1")) };
    let running = Running { sync: synced < size && on("is-syncing")?, fetch: on("is-fetching")?, replay: on("is-replaying")? };
    let is_consistent = if is_primary {
        writeback_rest == 0
    } else {
        mine.as_ref().is_some_and(|r| is_consistent(size, synced, syncpos.as_ref(), r))
    };
    let disk_error = number(actual(DISK_ERROR)?.filter(|v| v != "0").map(|v| v.trim_start_matches('-').to_owned())).map_or(0, |e| -(e.min(4095) as i32));
    let diskstate = if !is_attached {
        "Detached".to_owned()
    } else if disk_error != 0 {
        "DISK_ERROR".to_owned()
    } else if is_primary {
        if writeback_rest > 0 { "WriteBack" } else { "UpToDate" }.to_owned()
    } else if !is_consistent {
        "Inconsistent".to_owned()
    } else if (fetch_rest > 0 || replay_rest > 0) && !following_closely(ctx, &dir, mine.as_ref(), source, switches.fetch && switches.replay)? {
        format!("Outdated[{}{}]", if fetch_rest > 0 { "F" } else { "" }, if replay_rest > 0 { "R" } else { "" })
    } else {
        "UpToDate".to_owned()
    };
    let primary_elsewhere = primary.as_deref().filter(|p| *p != me.as_str());
    let primary_age_ms = match primary_elsewhere {
        Some(p) => liveness::last_heard(ctx, p)?.map(|a| a.as_millis().min(u128::from(u64::MAX)) as u64),
        None => None,
    };
    let primary_reachable = match primary_elsewhere {
        Some(p) => liveness::is_reachable(ctx, p)?,
        None => true,
    };
    let members = members(ctx, res, primary.as_deref(), size, crate::tree::real_time_ns())?;
    let replstate = if !module_loaded {
        "ModuleNotLoaded"
    } else if !is_attached {
        "NotStarted"
    } else if is_primary && !any_secondary_connected(&members, me) {
        "NoSecondaryConnected"
    } else if is_primary {
        "Replicating"
    } else if switches.fetch && !primary_reachable {
        // Before the sync states: a sync cannot progress without the primary either.
        "PrimaryUnreachable"
    } else if synced < size {
        if !switches.sync {
            "PausedSync"
        } else if is_sync_queued {
            "SyncQueued"
        } else {
            "Syncing"
        }
    } else if !switches.fetch {
        "PausedFetch"
    } else if !switches.replay {
        "PausedReplay"
    } else if primary.is_none() {
        "NoPrimaryDesignated"
    } else {
        "Replaying"
    };
    let rate = |name: &str| -> Result<u64> { Ok(number(actual(name)?).unwrap_or(0)) };
    let device_in_flight = rate(IF_FLYING)?;
    let since = rate(IF_COMPLETION_STAMP)?;
    let device_wait_s = if device_in_flight > 0 && since > 0 { (crate::tree::real_time_ns().saturating_sub(since) as f64 / 1e9 * 1000.0).round() / 1000.0 } else { 0.0 };
    let emergency = emergency_state(ctx, res, primary.as_deref(), is_primary)?;
    let orphan = secondary && mine.as_ref().is_some_and(|r| primary.as_deref().is_some_and(|p| is_orphan(ctx, res, r, p).unwrap_or(false)));
    let replstate = match replstate {
        "Replicating" | "NoSecondaryConnected" if emergency.primary_ceased => "EmergencyMode",
        // Stopped there: everything before the hole is fetched and replayed.
        "Replaying" | "NoPrimaryDesignated" if orphan && fetch_rest == 0 && replay_rest == 0 => "Orphan",
        other => other,
    };
    let stopped_at_hole = replstate == "Orphan";
    // Consistent, but the primary's disk has writes no logfile has.
    let diskstate = if stopped_at_hole { "Outdated".to_owned() } else { diskstate };
    let names = ctx.tree.list(&dir)?;
    let value = |name: &str| ctx.tree.get(&format!("{dir}/{name}")).ok().flatten().map(|l| l.value.into_bytes());
    let stuck = secondary && mine.as_ref().is_some_and(|r| stuck_before_hole(is_consistent, r.log, names.iter().map(String::as_str), value));
    // The primary refuses its full sync (its replay start is off the primary's history).
    let sync_refused = secondary && synced < size && actual(SYNC_REFUSED)?.as_deref() == Some("1");
    // (What a replay thread that is gone wrote last says nothing.)
    let is_forced_primary = actual("forced-primary")?.as_deref() == Some("1");
    let replay_stopped = if running.replay { actual(REPLAY_STOPPED)?.as_deref().and_then(Stop::from_word) } else { None };
    let role = role_word(RoleLinks { is_attached, is_primary, is_forced: is_forced_primary, is_designated: primary.as_deref() == Some(me.as_str()) });
    // (What a module that is gone wrote last says nothing: only while it waits.)
    let takeover_wait = if role == "NotYetPrimary" { actual(TAKEOVER_WAIT)?.as_deref().and_then(Wait::from_word) } else { None };
    let hint = if stuck {
        Some(em::STUCK_HINT)
    } else if sync_refused {
        Some(SYNC_REFUSED_HINT)
    } else if replay_stopped.is_some_and(|s| s != Stop::NotContiguous) {
        // (At a hole: Orphan, the emergency hint below.)
        Some(REPLAY_STOPPED_HINT)
    } else if let Some(wait) = takeover_wait {
        Some(wait.hint())
    } else {
        emergency.hint.or(stopped_at_hole.then(|| em::hint(false, Level::Normal)))
    };
    let emergency = Emergency { hint, ..emergency };
    let split_brain = split_brain(ctx, res, primary.as_deref())?;
    Ok(ResourceState {
        name: res.to_owned(),
        size,
        role,
        diskstate,
        replstate,
        is_attached,
        is_primary,
        is_consistent,
        is_sync_queued,
        device: device_path(ctx, res)?.display().to_string(),
        open_count: if module_loaded { actual("open-count")?.and_then(|v| v.parse().ok()).unwrap_or(0) } else { 0 },
        device_ops_rate: rate(IF_OPS_RATE)?,
        device_in_flight,
        device_wait_s,
        writeback_rest,
        sync_rest: size.saturating_sub(synced),
        fetch_rest,
        replay_rest,
        replay_pos,
        switches,
        running,
        rates: Rates { sync: rate("sync-rate")?, fetch: rate("fetch-rate")?, replay: rate("replay-rate")?, device: rate(IF_AMOUNT_RATE)? },
        error: actual("error")?.and_then(|v| v.parse().ok()).unwrap_or(0),
        disk_error,
        is_forced_primary,
        actual_primaries: actual_primaries(ctx, res)?,
        primary_age_ms,
        split_brain,
        replay_stopped: replay_stopped.map(Stop::word),
        rpo_seconds: rpo_seconds(ctx, res)?,
        members,
        takeover_wait: takeover_wait.map(Wait::word),
        primary,
        emergency,
    })
}

/// How far an asynchronous secondary may be behind and still be `UpToDate`: it has
/// applied every write the primary made more than this long ago (and keeps doing so:
/// its fetch and replay are on). Without it, a busy secondary's disk state flapped
/// between `UpToDate` and `Outdated` with every write in flight.
pub(crate) const UPTODATE_WITHIN_NS: u64 = 10_000_000_000;

/// Whether a secondary that is behind (some of `source`'s log after replay position
/// `at` not applied) follows within [`UPTODATE_WITHIN_NS`]: `following` (its fetch and
/// replay are on) and the oldest write it has not applied is that recent: its record's
/// stamp where it is here; where it is not (not fetched yet), the last applied
/// record's, which is older (`members::unapplied_age`).
pub(crate) fn following_closely(ctx: &Context, dir: &str, at: Option<&ReplayLink<'_>>, source: Option<&str>, following: bool) -> Result<bool> {
    let (Some(at), Some(source), true) = (at, source, following) else { return Ok(false) };
    let now = crate::tree::real_time_ns();
    Ok(unapplied_age(ctx, dir, at, source, now)?.at_most.is_some_and(|age| age <= UPTODATE_WITHIN_NS))
}

/// Emergency mode of resource `res` as the tree shows it here.
fn emergency_state(ctx: &Context, res: &str, primary: Option<&str>, is_primary: bool) -> Result<Emergency> {
    let dir = resource_dir(res);
    let me = &ctx.host;
    let flag = |host: &str| -> Result<bool> { Ok(link(ctx, &format!("{dir}/{ACTUAL_PREFIX}{host}/{}", em::HAS_EMERGENCY))?.as_deref() == Some("1")) };
    let host_value = |name: &str| -> Result<Option<u64>> { Ok(link(ctx, &format!("{ACTUAL_PREFIX}{me}/{name}"))?.and_then(|v| v.parse().ok())) };
    let mine = flag(me)?;
    let level_of = |host: &str| -> Result<Level> {
        let v = link(ctx, &format!("{ACTUAL_PREFIX}{host}/{}", em::EMERGENCY_LEVEL))?.and_then(|v| v.parse::<u8>().ok());
        Ok(Level::from_number(v.unwrap_or(0).min(4)))
    };
    // A /mars that takes no writes (its filesystem shut down or read-only after I/O
    // errors of its disk) takes no log records, and the module cannot say so in the
    // tree either.
    let read_only = mars_unwritable(ctx);
    let mine = mine || read_only;
    let primary_ceased = match primary {
        Some(p) if p == me.as_str() => mine && is_primary,
        Some(p) => flag(p)? && link(ctx, &format!("{dir}/{ACTUAL_PREFIX}{p}/is-primary"))?.as_deref() == Some("1"),
        None => false,
    };
    let level = level_of(me)?;
    let limit_percent = link(ctx, &format!("{dir}/{TODO_PREFIX}{me}/{}", em::EMERGENCY_LIMIT))?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let is_emergency = mine || primary_ceased;
    Ok(Emergency {
        is_emergency,
        primary_ceased,
        level: level as u8,
        level_text: level.describe(),
        rest_space: host_value(em::REST_SPACE_KB)?.map(|k| k.saturating_mul(1024)),
        total_space: host_value(em::TOTAL_SPACE_KB)?.map(|k| k.saturating_mul(1024)),
        limit_percent,
        // What to do depends on the primary's /mars when it ceased logging.
        mars_unwritable: read_only,
        hint: match primary {
            _ if read_only => Some(UNWRITABLE_HINT[is_primary as usize]),
            Some(p) if primary_ceased => Some(em::hint(true, level_of(p)?)),
            _ => (is_emergency || level >= Level::Low).then(|| em::hint(false, level)),
        },
    })
}

/// What to do about a read-only /mars.
const UNWRITABLE_HINT: [&str; 2] = [
    "/mars here takes no writes (I/O errors on its disk?): nothing is fetched or recorded here. Unload mars, replace the disk and make a new /mars, then join the cluster and the resources again (full sync)",
    "/mars here takes no writes (I/O errors on its disk?): nothing is logged, writes go straight to the disk (or fail, under mars_broken_fails_writes), and the module cannot record its state. `marsadm down` the resources (or unload mars), replace the disk and make a new /mars, then create the resources again; their secondaries join again (full sync). After a crash first, do the same: never start a resource from this /mars again",
];

/// /mars takes no writes: mounted read-only, or the module's writes into it fail.
fn mars_unwritable(ctx: &Context) -> bool {
    use nix::sys::statvfs::{statvfs, FsFlags};
    statvfs(ctx.tree.root()).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) || crate::module::tree_write_error(&ctx.proc_sys) != 0
}

/// Whether a secondary replaying `replay` is stuck at a hole: the primary is past the
/// next logfile number, and no member has a logfile of that number (a deleted version
/// link or a copy of a discarded history, `replication::discarded`, is none).
fn is_orphan(ctx: &Context, res: &str, replay: &ReplayLink<'_>, primary: &str) -> Result<bool> {
    let dir = resource_dir(res);
    let theirs = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{primary}"))?;
    let Some(theirs) = theirs.as_deref().and_then(|v| ReplayLink::parse(v).ok()) else { return Ok(false) };
    let Some(next) = replay.log.nr.checked_add(1) else { return Ok(false) };
    if theirs.log.nr <= next {
        return Ok(false);
    }
    let prefix = format!("{VERSION_PREFIX}{next:09}-");
    let names = ctx.tree.list(&dir)?;
    let raw = |name: &str| ctx.tree.get_raw(&format!("{dir}/{name}")).ok().flatten().map(|l| l.value.into_bytes());
    for name in &names {
        let live_link = name.starts_with(&prefix) && link(ctx, &format!("{dir}/{name}"))?.is_some();
        let live_copy = LogName::parse(name).is_ok_and(|l| l.nr == next && !discarded(l, names.iter().map(String::as_str), raw));
        if live_link || live_copy {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `1.5 GiB`-style sizes for the progress lines.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut u) = (bytes as f64, 0);
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.3} {}", UNITS[u]) }
}

/// `hh:mm:ss` to go at `rate`, or `--:--:--` when nothing moves.
pub fn remaining(rest: u64, rate: u64) -> String {
    if rest == 0 {
        return "00:00:00".to_owned();
    }
    if rate == 0 {
        return "--:--:--".to_owned();
    }
    let s = rest.div_ceil(rate);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The progress lines of a secondary (design reference §7.3).
fn progress_lines(s: &ResourceState) -> Vec<String> {
    let mut out = Vec::new();
    if s.role != "Secondary" && s.role != "NotYetPrimary" {
        return out;
    }
    if s.sync_rest > 0 && s.is_sync_queued {
        out.push(format!("    sync queued: waiting for sync_limit ({} of {} synced)", human(s.size - s.sync_rest), human(s.size)));
    } else if s.sync_rest > 0 {
        let done = s.size - s.sync_rest;
        out.push(format!(
            "    syncing: {:6.2}% ({}/{}) rate: {}/s remaining: {}",
            done as f64 * 100.0 / s.size.max(1) as f64,
            human(done),
            human(s.size),
            human(s.rates.sync),
            remaining(s.sync_rest, s.rates.sync)
        ));
    }
    if s.fetch_rest > 0 || s.replay_rest > 0 {
        out.push(format!("      > fetch: {} rate: {}/s remaining: {}", human(s.fetch_rest), human(s.rates.fetch), remaining(s.fetch_rest, s.rates.fetch)));
        out.push(format!(
            "      > replay: {} rate: {}/s remaining: {}",
            human(s.replay_rest),
            human(s.rates.replay),
            remaining(s.replay_rest, s.rates.replay)
        ));
    }
    out
}

#[derive(Debug, Serialize)]
pub(crate) struct ViewReport<'s> {
    schema_version: u32,
    host: String,
    resources: Vec<JsonResource<'s>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct JsonResource<'s> {
    #[serde(flatten)]
    state: &'s ResourceState,
    original: OriginalWords,
}

/// The original's words for a resource here: what its complex macros `diskstate`,
/// `replstate`, `flags` and `role` print (docu/view-macros.md).
#[derive(Debug, Serialize, Clone, Default, PartialEq, Eq)]
pub struct OriginalWords {
    pub diskstate: String,
    pub replstate: String,
    pub flags: String,
    pub role: String,
}

/// `view [RES[,RES...]|all] --json`; `original` gives the original's words.
pub fn view_json(ctx: &Context, which: &str, original: impl Fn(std::rc::Rc<ResourceState>) -> Result<OriginalWords>) -> Result<()> {
    ctx.require_mountpoint()?;
    let mut states = Vec::new();
    for res in selected(ctx, which)? {
        let state = std::rc::Rc::new(resource_state(ctx, &res)?);
        states.push((original(state.clone())?, state));
    }
    let resources = states.iter().map(|(original, state)| JsonResource { state, original: original.clone() }).collect();
    let report = ViewReport { schema_version: SCHEMA_VERSION, host: ctx.host.clone(), resources };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// This implementation's own text form of a resource (`view-lines`; `view` printed it
/// before the original's shape): a sync-limit line, a header and a line of the words,
/// then what is worth knowing, a line each.
pub fn lines(ctx: &Context, s: &ResourceState) -> Vec<String> {
    let proc_number = |name: &str| std::fs::read_to_string(ctx.proc_sys.join(name)).ok().and_then(|v| v.trim().parse::<u64>().ok());
    let mut out = Vec::new();
    if let Some(limit) = proc_number("sync_limit").filter(|l| *l > 0) {
        let (nr, wanted) = (proc_number("sync_nr").unwrap_or(0), proc_number("sync_wanted").unwrap_or(0));
        out.push(format!("sync_limit={limit}: at most {limit} full sync(s) at a time here; {nr} running, {} queued", wanted.saturating_sub(nr)));
    }
    out.extend(text_lines(&ctx.host, s));
    out
}

/// The lines `view` adds to the original's shape: a split brain, and a line per member
/// when there are several.
pub fn split_brain_and_member_lines(host: &str, s: &ResourceState, members: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(sb), false) = (&s.split_brain, members) {
        out.extend(split_brain_lines(&s.name, sb));
    }
    if members && s.members.len() > 1 {
        out.extend(s.members.iter().map(|m| member_line(host, m)));
    }
    out
}

/// The text form of one resource's state on `host`.
fn text_lines(host: &str, s: &ResourceState) -> Vec<String> {
    let rpo = s.rpo_seconds.map_or(String::new(), |r| format!(", rpo: {r} s"));
    let mut out = vec![format!("--------- resource {} ({} bytes), primary: {}{rpo}", s.name, s.size, s.primary.as_deref().unwrap_or(NONE))];
    if let Some(sb) = &s.split_brain {
        out.extend(split_brain_lines(&s.name, sb));
    }
    if s.actual_primaries.len() > 1 {
        out.push(format!("WARNING: several hosts have the device up: {}", s.actual_primaries.join(", ")));
    }
    let progress = if s.role == "Secondary" || s.role == "NotYetPrimary" {
        format!("sync-rest={} fetch-rest={} replay-rest={}", s.sync_rest, s.fetch_rest, s.replay_rest)
    } else {
        format!("writeback-rest={}", s.writeback_rest)
    };
    out.push(format!(
        "{} {} {} {} {} open={} {}{}",
        host,
        s.diskstate,
        s.replstate,
        s.role,
        if s.is_primary { s.device.as_str() } else { "-" },
        s.open_count,
        progress,
        if s.error != 0 { format!(" error={}", crate::error::errno_text(s.error).split(' ').next().unwrap_or_default()) } else { String::new() }
    ));
    if let (Some(p), Some(ms)) = (&s.primary, s.primary_age_ms) {
        if s.replstate == "PrimaryUnreachable" {
            out.push(format!("    primary {p} not heard from for {} s", ms / 1000));
        }
    }
    if s.error != 0 {
        out.push(format!("    the module's last error here: {} (dmesg says more)", crate::error::errno_text(s.error)));
    }
    if s.replstate == "ModuleNotLoaded" {
        out.push("    mars.ko is not loaded here: nothing runs on this host (`modprobe mars`, or start mars.service); other hosts' lines are what they reported last".to_owned());
    }
    if s.disk_error != 0 {
        out.push(format!(
            "    DISK ERROR: the disk refused I/O (errno {}); {}",
            -s.disk_error,
            if s.is_primary {
                "the writes it refused stay in RAM and the log and are written again every second; nothing acknowledged is lost. Replace or repair the disk (or hand over to a secondary)"
            } else {
                "replay retries from where it stopped, nothing is skipped; it goes on by itself once the disk takes writes. Repair or replace the disk"
            }
        ));
    }
    if s.replstate == "Orphan" {
        out.push("    stopped at a hole in the logfile sequence: the primary ceased logging (emergency mode)".to_owned());
    } else if let Some(stop) = s.replay_stopped.and_then(Stop::from_word) {
        out.push(format!("    REPLAY STOPPED: {stop}"));
    }
    if let Some(wait) = s.takeover_wait.and_then(Wait::from_word) {
        out.push(format!("    not taking over yet: {wait}"));
    }
    let e = &s.emergency;
    if e.is_emergency || e.level > 0 {
        let mib = |v: Option<u64>| v.map_or("?".to_owned(), |b| (b >> 20).to_string());
        let what = match (e.primary_ceased, e.is_emergency) {
            _ if e.mars_unwritable => "EMERGENCY: /mars takes no writes; ",
            (true, _) => "EMERGENCY: the primary ceased transaction logging; ",
            (false, true) => "EMERGENCY: ",
            (false, false) => "",
        };
        out.push(format!(
            "    {what}/mars here: level {} ({}), {} of {} MiB left{}",
            e.level,
            e.level_text,
            mib(e.rest_space),
            mib(e.total_space),
            if e.limit_percent > 0 { format!(", emergency-limit {} %", e.limit_percent) } else { String::new() }
        ));
    }
    if let Some(h) = e.hint {
        out.push(format!("    next step: {h}"));
    }
    out.extend(progress_lines(s));
    if s.members.len() > 1 {
        out.extend(s.members.iter().map(|m| member_line(host, m)));
    }
    out
}

/// `    member node2: Secondary Outdated, behind 1.000 MiB (3.2 s), heard 1 s ago`.
fn member_line(me: &str, m: &Member) -> String {
    let mut line = format!("    member {}{}: {} {}", m.host, if m.host == me { " (here)" } else { "" }, m.role, m.diskstate);
    if m.sync_rest > 0 {
        line += &format!(", sync rest {}", human(m.sync_rest));
    }
    match (m.lag_bytes, m.lag_seconds) {
        (Some(0), _) => line += ", not behind",
        (Some(b), Some(secs)) => line += &format!(", behind {} ({secs:.1} s)", human(b)),
        (Some(b), None) => line += &format!(", behind {}", human(b)),
        (None, _) => {}
    }
    if m.host != me {
        match m.last_heard_ms {
            Some(ms) if m.reachable => line += &format!(", heard {} s ago", ms / 1000),
            Some(ms) => line += &format!(", UNREACHABLE: last heard {} s ago", ms / 1000),
            None => line += ", never heard from",
        }
    }
    if m.beyond_rpo {
        line += ", BEYOND THE RPO";
    }
    if let Some(w) = m.takeover_wait {
        line += &format!(", not taking over yet ({w})");
    }
    if let Some(stop) = m.replay_stopped {
        line += &format!(", REPLAY STOPPED ({stop})");
    }
    line
}

/// `SPLIT BRAIN of resource 'r0' after logfile N ...:` and a line per diverged host.
fn split_brain_lines(res: &str, sb: &SplitBrain) -> Vec<String> {
    let point = match (&sb.log, sb.pos) {
        (Some(log), Some(pos)) => format!("after logfile {} ({log}) at byte {pos}", sb.logfile),
        _ => format!("after logfile {}", sb.logfile),
    };
    let mut out = vec![format!("SPLIT BRAIN of resource '{res}' {point}:")];
    if let Some(nr) = sb.duplicate_logfile {
        out.push(format!("    several hosts wrote a logfile numbered {nr}"));
    }
    for h in &sb.hosts {
        out.push(format!(
            "    {} {}: {} bytes ({}) after the split point{}",
            h.host,
            h.role,
            h.bytes_after,
            human(h.bytes_after),
            if h.reachable { "" } else { ", not heard from recently" }
        ));
    }
    out
}

/// The names `view`, `view-1and1` and `view-<macro>` accept: `all` (every resource
/// known here), a resource, or a comma-separated list (each must exist).
pub(crate) fn selected(ctx: &Context, which: &str) -> Result<Vec<String>> {
    let all = resources(ctx)?;
    if which == "all" {
        return Ok(all);
    }
    let mut out: Vec<String> = Vec::new();
    for res in which.split(',') {
        if !all.iter().any(|r| r == res) {
            return Err(Error::NoResource(res.into()));
        }
        if !out.iter().any(|r| r == res) {
            out.push(res.to_owned());
        }
    }
    Ok(out)
}

/// The `view-<macro>` primitives: one value on one line, for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    IsPrimary,
    IsAttached,
    GetPrimary,
    ResourceSize,
    WritebackRest,
    FetchRest,
    ReplayRest,
    SyncRest,
    IsConsistent,
    // Split brain, roles and states (see the commands' help in cli.rs).
    Role,
    State,
    IsSplitBrain,
    ActualPrimary,
    // Emergency mode.
    IsEmergency,
    RestSpace,
    TotalSpace,
}

/// `view-<macro> RES`: the value; for `all` or a list, each resource's value after a
/// line `--------- resource <res>` (as the original).
pub fn view_macro(ctx: &Context, m: Macro, which: &str) -> Result<()> {
    each_value(ctx, Some(which), |res| Ok(format!("{}\n", macro_value(ctx, m, res)?)))
}

/// What a `view-<value>` command prints: `text(res)` for each resource of `which` (`all`,
/// a list, one), after a line `--------- resource <res>` where there are several; `None`:
/// a value of the cluster, once (`res` empty).
pub fn each_value(ctx: &Context, which: Option<&str>, mut text: impl FnMut(&str) -> Result<String>) -> Result<()> {
    ctx.require_mountpoint()?;
    let names = match which {
        Some(w) => selected(ctx, w)?,
        None => vec![String::new()],
    };
    let headers = which.is_some_and(|w| w == "all" || w.contains(','));
    for res in &names {
        if headers {
            println!("--------- resource {res}");
        }
        print!("{}", text(res)?);
    }
    Ok(())
}

pub(crate) fn macro_value(ctx: &Context, m: Macro, res: &str) -> Result<String> {
    Ok(macro_value_of(&resource_state(ctx, res)?, m))
}

/// The value of `m` in state `s`.
pub(crate) fn macro_value_of(s: &ResourceState, m: Macro) -> String {
    match m {
        Macro::IsPrimary => (s.is_primary as u8).to_string(),
        Macro::IsAttached => (s.is_attached as u8).to_string(),
        // (Empty for none, as the original.)
        Macro::GetPrimary => s.primary.clone().unwrap_or_default(),
        Macro::ResourceSize => s.size.to_string(),
        Macro::WritebackRest => s.writeback_rest.to_string(),
        Macro::FetchRest => s.fetch_rest.to_string(),
        Macro::ReplayRest => s.replay_rest.to_string(),
        Macro::SyncRest => s.sync_rest.to_string(),
        Macro::IsConsistent => (s.is_consistent as u8).to_string(),
        Macro::Role => s.role.to_owned(),
        Macro::State => format!("{} {}", s.diskstate, s.replstate),
        Macro::IsSplitBrain => (s.split_brain.is_some() as u8).to_string(),
        Macro::ActualPrimary => s.actual_primaries.join(","),
        Macro::IsEmergency => (s.emergency.is_emergency as u8).to_string(),
        Macro::RestSpace => s.emergency.rest_space.unwrap_or(0).to_string(),
        Macro::TotalSpace => s.emergency.total_space.unwrap_or(0).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    /// A synthetic `/mars` of resource r0 with members node1 and node2, seen from `me`.
    struct Synthetic(ScratchTree);

    impl std::ops::Deref for Synthetic {
        type Target = ScratchTree;
        fn deref(&self) -> &ScratchTree {
            &self.0
        }
    }

    impl std::ops::DerefMut for Synthetic {
        fn deref_mut(&mut self) -> &mut ScratchTree {
            &mut self.0
        }
    }

    impl Synthetic {
        fn new(tag: &str, me: &str) -> Self {
            let mut t = ScratchTree::with_pair(&format!("view-{tag}"), me, &["connect", "sync", "allow-replay"]);
            for h in ["node1", "node2"] {
                t.set(&format!("resource-r0/syncstatus-{h}"), "1048576");
            }
            Synthetic(t)
        }

        /// Writes `host`'s version links for `logs` (nr, origin, pos), chained.
        fn history(&mut self, host: &str, logs: &[(u32, &str, u64)]) {
            let mut prev = String::new();
            for &(nr, origin, pos) in logs {
                let head = prev.split(':').next().unwrap_or("").to_owned();
                let mut d = [0u8; 16];
                for (i, b) in format!("{nr},{origin},{pos}:{prev}").bytes().enumerate() {
                    d[i % 16] = d[i % 16].wrapping_mul(31).wrapping_add(b);
                }
                let v = VersionLink { digest: d, log: LogName { nr, host: origin }, pos, prev_head: &head }.to_string();
                self.set(&format!("resource-r0/version-{nr:09}-{host}"), &v);
                prev = v;
            }
        }

        fn logfile(&self, name: &str) {
            std::fs::write(self.ctx.tree.path(&format!("resource-r0/{name}")), b"").unwrap();
        }

        fn state(&self) -> ResourceState {
            resource_state(&self.ctx, "r0").unwrap()
        }

        /// The state as another member sees the same tree.
        fn state_on(&self, host: &str) -> ResourceState {
            resource_state(&self.seen_from(host), "r0").unwrap()
        }
    }

    #[test]
    fn role_words() {
        let r = |is_attached, is_primary, is_forced, is_designated| role_word(RoleLinks { is_attached, is_primary, is_forced, is_designated });
        assert_eq!(r(true, true, false, true), "Primary");
        assert_eq!(r(true, true, true, true), "ForcedPrimary");
        assert_eq!(r(true, true, false, false), "RemainsPrimary");
        assert_eq!(r(true, true, true, false), "RemainsPrimary");
        assert_eq!(r(true, false, false, true), "NotYetPrimary");
        assert_eq!(r(true, false, false, false), "Secondary");
        assert_eq!(r(false, false, false, true), "None");
        assert_eq!(r(false, false, false, false), "None");
    }

    #[test]
    fn version_link_names() {
        assert_eq!(parse_version_name("version-000000003-node1"), Some((3, "node1")));
        for bad in ["version-3-node1", "version-000000003-", "version-00000000x-node1", "replay-node1"] {
            assert_eq!(parse_version_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_healthy_pair_has_no_split_brain() {
        let mut t = Synthetic::new("healthy", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000002-node1,100,0");
        t.history("node1", &[(1, "node1", 1000), (2, "node1", 500)]);
        t.history("node2", &[(1, "node1", 1000), (2, "node1", 100)]);
        let s = t.state();
        assert_eq!((s.role, s.replstate, s.split_brain.clone()), ("Secondary", "Replaying", None));
        assert_eq!(s.actual_primaries, ["node1"]);
        assert!(s.primary_age_ms.is_some_and(|ms| ms < 10_000));
    }

    #[test]
    fn forced_failover_shows_the_split_on_both_hosts() {
        let mut t = Synthetic::new("forced", "node2");
        // node2 took over by force after replaying 3000 bytes of node1's log 3; node1,
        // partitioned, logged 5000 bytes of it and went on in its own log 4.
        t.set("resource-r0/primary", "node2");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/actual-node2/is-primary", "1");
        t.set("resource-r0/actual-node2/forced-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000004-node2,0,100");
        t.history("node1", &[(2, "node1", 2000), (3, "node1", 5000), (4, "node1", 800)]);
        t.history("node2", &[(2, "node1", 2000), (3, "node1", 3000), (4, "node2", 100)]);
        t.heard("node1", 60);
        t.logfile("log-000000004-node1");
        t.logfile("log-000000004-node2");
        let s = t.state();
        assert_eq!(s.role, "ForcedPrimary");
        assert_eq!(s.actual_primaries, ["node1", "node2"]);
        let sb = s.split_brain.clone().expect("split brain");
        assert_eq!((sb.logfile, sb.log.as_deref(), sb.pos, sb.duplicate_logfile), (3, Some("log-000000003-node1"), Some(3000), Some(4)));
        let hosts: Vec<_> = sb.hosts.iter().map(|h| (h.host.as_str(), h.role, h.bytes_after, h.reachable)).collect();
        assert_eq!(hosts, [("node1", "RemainsPrimary", 2800, false), ("node2", "ForcedPrimary", 100, true)]);
        let text = text_lines("node2", &s).join("\n");
        assert!(text.contains("\nSPLIT BRAIN of resource 'r0' after logfile 3 (log-000000003-node1) at byte 3000:\n"), "{text}");
        assert!(text.contains("\n    node1 RemainsPrimary: 2800 bytes (2.734 KiB) after the split point, not heard from recently\n"), "{text}");
        assert!(text.contains("\n    node2 ForcedPrimary: 100 bytes (100 B) after the split point\n"), "{text}");
        assert!(text.contains("WARNING: several hosts have the device up: node1, node2"), "{text}");
        // The same, as node1 sees it.
        let s1 = t.state_on("node1");
        assert_eq!(s1.role, "RemainsPrimary");
        assert_eq!(s1.split_brain.map(|sb| sb.hosts.len()), Some(2));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["split_brain"]["logfile"], 3);
        assert_eq!(json["split_brain"]["pos"], 3000);
        assert_eq!(json["split_brain"]["hosts"][0]["bytes_after"], 2800);
        assert_eq!(json["is_forced_primary"], true);
    }

    #[test]
    fn a_secondary_behind_is_no_split_brain_but_a_silent_primary_is_unreachable() {
        let mut t = Synthetic::new("behind", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000003-node1,1000,0");
        t.history("node1", &[(2, "node1", 2000), (3, "node1", 5000), (4, "node1", 10)]);
        t.history("node2", &[(2, "node1", 2000), (3, "node1", 1000)]);
        t.heard("node1", 25);
        let s = t.state();
        assert_eq!((s.replstate, s.split_brain.is_none()), ("PrimaryUnreachable", true));
        assert!(s.primary_age_ms.is_some_and(|ms| ms >= 25_000));
        assert!(text_lines("node2", &s).iter().any(|l| l == "    primary node1 not heard from for 25 s"));
        // Fetch paused: the primary's silence is expected, the pause is what to show.
        t.set("resource-r0/todo-node2/connect", "0");
        assert_eq!(t.state().replstate, "PausedFetch");
        t.set("resource-r0/todo-node2/connect", "1");
        t.heard("node1", 2);
        assert_eq!(t.state().replstate, "Replaying");
    }

    #[test]
    fn a_member_ahead_on_a_logfile_of_its_own_is_a_split_brain() {
        // node2 was failed over to by force at node1's empty logfile 5, which it now logs
        // into; node1 had taken over meanwhile and logged 800 bytes into a logfile 6 of
        // its own. No link of a common number differs (yet).
        let mut t = Synthetic::new("ahead", "node1");
        t.set("resource-r0/primary", "node2");
        t.set("resource-r0/actual-node2/is-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000005-node1,0,0");
        t.history("node2", &[(4, "node2", 1000), (5, "node1", 0)]);
        t.history("node1", &[(4, "node2", 1000), (5, "node1", 0), (6, "node1", 800)]);
        let sb = t.state().split_brain.expect("split brain");
        assert_eq!((sb.logfile, sb.log.as_deref(), sb.pos), (5, Some("log-000000005-node1"), Some(0)));
        assert_eq!(sb.hosts.iter().map(|h| (h.host.as_str(), h.bytes_after)).collect::<Vec<_>>(), [("node1", 800), ("node2", 0)]);
        // Ahead on the primary's own later logfile: only this tree is behind.
        let mut t = Synthetic::new("ahead-news", "node1");
        t.set("resource-r0/primary", "node2");
        t.set("resource-r0/actual-node2/is-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000005-node2,0,0");
        t.history("node2", &[(4, "node2", 1000), (5, "node2", 0)]);
        t.history("node1", &[(4, "node2", 1000), (5, "node2", 70), (6, "node2", 800)]);
        assert_eq!(t.state().split_brain, None);
    }

    #[test]
    fn duplicate_logfiles_alone_are_a_split_brain() {
        let mut t = Synthetic::new("dup", "node1");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.history("node1", &[(1, "node1", 1000)]);
        t.history("node2", &[(1, "node1", 1000)]);
        t.logfile("log-000000002-node1");
        t.logfile("log-000000002-node2");
        let sb = t.state().split_brain.expect("split brain");
        assert_eq!((sb.logfile, sb.pos, sb.duplicate_logfile), (1, Some(1000), Some(2)));
        assert_eq!(sb.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(), ["node1", "node2"]);
        assert_eq!(split_brain_lines("r0", &sb)[1], "    several hosts wrote a logfile numbered 2");
    }

    #[test]
    fn a_designated_primary_not_yet_up() {
        let mut t = Synthetic::new("notyet", "node2");
        t.set("resource-r0/primary", "node2");
        t.set("resource-r0/actual-node1/is-primary", "1");
        let s = t.state();
        assert_eq!((s.role, s.actual_primaries.as_slice()), ("NotYetPrimary", ["node1".to_owned()].as_slice()));
        assert_eq!(s.primary_age_ms, None, "this host is the designated primary");
    }

    #[test]
    fn why_a_designated_primary_waits_and_what_it_still_replays() {
        let mut t = Synthetic::new("waits", "node2");
        t.set("resource-r0/primary", "node2");
        t.set("resource-r0/actual-node1/is-primary", "0");
        t.history("node1", &[(1, "node1", 0), (2, "node1", 3000)]);
        t.set("resource-r0/replay-node1", "log-000000002-node1,3000,0");
        t.set("resource-r0/replay-node2", "log-000000002-node1,1000,0");
        t.set("resource-r0/actual-node2/takeover-wait", "NotCaughtUp");
        let s = t.state();
        assert_eq!((s.role, s.takeover_wait, s.emergency.hint), ("NotYetPrimary", Some("NotCaughtUp"), Some(Wait::NotCaughtUp.hint())), "{s:?}");
        // The rest of the old primary's log, as on a secondary of it.
        assert_eq!((s.fetch_rest, s.diskstate.as_str()), (3000, "Outdated[F]"), "{s:?}");
        let lines = text_lines("node2", &s);
        assert!(lines.iter().any(|l| l.contains("fetch-rest=3000")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains(&format!("not taking over yet: {}", Wait::NotCaughtUp))), "{lines:?}");
        // It does not wait, or the module that wrote it is gone (detached): nothing.
        t.set("resource-r0/actual-node2/takeover-wait", "0");
        assert_eq!(t.state().takeover_wait, None);
        t.set("resource-r0/actual-node2/takeover-wait", "NotConsistent");
        t.set("resource-r0/actual-node2/is-attached", "0");
        assert_eq!(t.state().takeover_wait, None);
    }

    #[test]
    fn a_secondary_that_follows_within_10_s_is_up_to_date() {
        let now = crate::tree::real_time_ns();
        let mut t = Synthetic::new("within", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/replay-node1", "log-000000001-node1,8192,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        // Fetched, not yet replayed: the oldest of it written 2 s ago.
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 2_000_000_000)]);
        let s = t.state();
        assert_eq!((s.diskstate.as_str(), s.replay_rest), ("UpToDate", 8192), "{s:?}");
        // Written 20 s ago and still not applied: behind.
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 20_000_000_000)]);
        assert_eq!(t.state().diskstate, "Outdated[R]");
        // Fresh, but replay is paused: it does not follow.
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 2_000_000_000)]);
        t.set("resource-r0/todo-node2/allow-replay", "0");
        assert_eq!(t.state().diskstate, "Outdated[R]");
    }

    #[test]
    fn without_the_module_nothing_runs_here() {
        let mut t = Synthetic::new("nomodule", "node1");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/actual-node1/is-fetching", "1");
        assert_eq!(t.state().role, "Primary");
        // What the module reported before it went stays in the tree: it says nothing.
        t.without_module();
        let s = t.state();
        assert_eq!((s.role, s.diskstate.as_str(), s.replstate, s.is_primary, s.running.fetch), ("None", "Detached", "ModuleNotLoaded", false, false), "{s:?}");
        assert_eq!(s.members.iter().find(|m| m.host == "node1").map(|m| m.role), Some("None"));
        assert!(text_lines("node1", &s).iter().any(|l| l.contains("mars.ko is not loaded here")));
    }

    #[test]
    fn a_queued_sync_is_shown_as_such() {
        let mut t = Synthetic::new("queued", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/syncstatus-node2", "4096");
        t.set("resource-r0/actual-node2/is-sync-queued", "1");
        let s = t.state();
        assert_eq!((s.replstate, s.is_sync_queued, s.sync_rest), ("SyncQueued", true, 1048576 - 4096));
        assert!(progress_lines(&s)[0].contains("sync queued: waiting for sync_limit"), "{:?}", progress_lines(&s));
        t.set("resource-r0/todo-node2/sync", "0");
        assert_eq!(t.state().replstate, "PausedSync", "a paused sync is paused, queued or not");
        t.set("resource-r0/todo-node2/sync", "1");
        t.set("resource-r0/actual-node2/is-sync-queued", "0");
        assert_eq!(t.state().replstate, "Syncing");
    }

    #[test]
    fn a_refused_sync_says_invalidate_again() {
        let mut t = Synthetic::new("refused", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/replay-node2", "log-000000003-node3,40,0");
        t.set("resource-r0/syncstatus-node2", "0");
        t.set("resource-r0/actual-node2/sync-refused", "1");
        let s = t.state();
        assert_eq!(s.emergency.hint, Some(SYNC_REFUSED_HINT), "{s:?}");
        assert!(text_lines("node2", &s).iter().any(|l| l.contains("sync refused")), "{:?}", text_lines("node2", &s));
        assert_eq!(serde_json::to_value(&s).unwrap()["emergency"]["hint"], SYNC_REFUSED_HINT);
        // Accepted (the module writes 0), or the sync is complete: no hint.
        t.set("resource-r0/actual-node2/sync-refused", "0");
        assert_eq!(t.state().emergency.hint, None);
        t.set("resource-r0/actual-node2/sync-refused", "1");
        t.set("resource-r0/syncstatus-node2", "1048576");
        assert_eq!(t.state().emergency.hint, None);
    }

    #[test]
    fn a_recovery_stuck_before_the_hole_says_so() {
        // node2 invalidated while its view of node1 was stale: replay from logfile 1,
        // which a hole follows (node1 ceased logging and logs into 11).
        let mut t = Synthetic::new("stuck", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.set("resource-r0/actual-node1/has-emergency", "1");
        t.history("node1", &[(1, "node1", 5000), (11, "node1", 0)]);
        t.set("resource-r0/replay-node1", "log-000000011-node1,0,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.set("resource-r0/syncstatus-node2", "0");
        let s = t.state();
        assert!(!s.is_consistent);
        assert_eq!(s.emergency.hint, Some(em::STUCK_HINT), "{s:?}");
        assert!(text_lines("node2", &s).iter().any(|l| l.contains("recovery stuck")), "{:?}", text_lines("node2", &s));
        // Started after the hole: no stuck recovery.
        t.set("resource-r0/replay-node2", "log-000000011-node1,0,0");
        assert_ne!(t.state().emergency.hint, Some(em::STUCK_HINT));
    }

    #[test]
    fn a_secondary_at_the_hole_is_orphan_also_once_the_primary_logs_after_it() {
        // node1 ceased logging after logfile 1 and logs into 11 again; node2 replayed
        // logfile 1 to its end and can go no further.
        let mut t = Synthetic::new("hole", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.history("node1", &[(1, "node1", 0), (11, "node1", 4096)]);
        t.history("node2", &[(1, "node1", 0)]);
        t.set("resource-r0/replay-node1", "log-000000011-node1,4096,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.logfile("log-000000001-node1");
        let s = t.state();
        assert_eq!((s.replstate, s.diskstate.as_str(), s.fetch_rest), ("Orphan", "Outdated", 0), "{s:?}");
    }

    #[test]
    fn a_replay_stop_shows_while_replay_runs() {
        let mut t = Synthetic::new("stopped", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.set("resource-r0/actual-node2/is-replaying", "1");
        t.set("resource-r0/actual-node2/replay-stopped", "VersionMismatch");
        let s = t.state();
        assert_eq!((s.replay_stopped, s.emergency.hint), (Some("VersionMismatch"), Some(REPLAY_STOPPED_HINT)), "{s:?}");
        assert!(text_lines("node2", &s).iter().any(|l| l.contains("REPLAY STOPPED: VERSION MISMATCH")), "{:?}", text_lines("node2", &s));
        // Not stopped, or the replay thread that wrote it is gone: nothing.
        t.set("resource-r0/actual-node2/replay-stopped", "0");
        assert_eq!(t.state().replay_stopped, None);
        t.set("resource-r0/actual-node2/replay-stopped", "VersionMismatch");
        t.set("resource-r0/actual-node2/is-replaying", "0");
        assert_eq!(t.state().replay_stopped, None);
    }

    #[test]
    fn a_copy_of_a_discarded_history_is_no_logfile_after_the_hole() {
        // node2 fetched node1's logfile 2 before node1 was invalidated (its link of 2 is
        // marked deleted); node1 then logged 1 again, ceased logging and resumes in 11.
        let mut t = Synthetic::new("discarded", "node2");
        t.set("resource-r0/primary", "node1");
        t.set("resource-r0/actual-node1/is-primary", "1");
        t.history("node1", &[(1, "node1", 0), (11, "node1", 4096)]);
        t.history("node2", &[(1, "node1", 0)]);
        t.set("resource-r0/version-000000002-node1", mars_core::tree::DELETED);
        t.set("resource-r0/replay-node1", "log-000000011-node1,4096,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.logfile("log-000000001-node1");
        std::fs::write(t.ctx.tree.path("resource-r0/log-000000002-node1"), [0u8; 512]).unwrap();
        let s = t.state();
        assert_eq!((s.replstate, s.diskstate.as_str(), s.fetch_rest, s.replay_rest), ("Orphan", "Outdated", 0, 0), "{s:?}");
        // Another member's history went through it: the copy is the next logfile.
        t.history("node3", &[(1, "node1", 0), (2, "node1", 512)]);
        let s = t.state();
        assert_eq!((s.replstate, s.replay_rest), ("Replaying", 512), "{s:?}");
    }

    /// docu/marsadm-json.md's `view --json` example has exactly the fields and schema
    /// version marsadm prints.
    #[test]
    fn json_documentation_matches() {
        let doc = include_str!("../../../docu/marsadm-json.md");
        let section = doc.split("## `marsadm view").nth(1).expect("view section");
        let example = section.split("```json").nth(1).and_then(|b| b.split("```").next()).expect("view example");
        let example: serde_json::Value = serde_json::from_str(example).expect("the example is JSON");
        assert_eq!(example["schema_version"], SCHEMA_VERSION);
        assert!(section.contains(&format!("(schema_version {SCHEMA_VERSION})")));
        let t = Synthetic::new("jsondoc", "node2");
        let state = t.state();
        let resources = vec![JsonResource { state: &state, original: OriginalWords::default() }];
        let report = ViewReport { schema_version: SCHEMA_VERSION, host: "node2".into(), resources };
        let printed = serde_json::to_value(&report).unwrap();
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&example), keys(&printed));
        assert_eq!(keys(&example["resources"][0]), keys(&printed["resources"][0]));
        assert_eq!(keys(&example["resources"][0]["members"][0]), keys(&printed["resources"][0]["members"][0]));
        for field in keys(&printed["resources"][0]) {
            assert!(section.contains(&format!("`{field}`")), "field {field} is not described");
        }
    }

    #[test]
    fn resource_lists() {
        let t = Synthetic::new("lists", "node2");
        assert_eq!(selected(&t.ctx, "all").unwrap(), ["r0"]);
        assert_eq!(selected(&t.ctx, "r0,r0").unwrap(), ["r0"]);
        assert!(matches!(selected(&t.ctx, "r0,r9"), Err(Error::NoResource(r)) if r == "r9"));
    }
}
