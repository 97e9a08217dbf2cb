//! `view` and the `view-<macro>` primitives. Every state shown is computed once, in
//! [`resource_state`], and printed by both the text and the JSON form.

use mars_core::replication::is_consistent;
use mars_core::tree::{LogName, ReplayLink, VersionLink, DEVICE_PREFIX, NONE, PRIMARY, REPLAY_PREFIX, SIZE, TODO_PREFIX, VERSION_PREFIX};
use serde::Serialize;

use super::resource::{resource_dir, resources};
use crate::context::Context;
use crate::error::{Error, Result};

/// JSON schema version of `view --json` (docu/marsadm-json.md).
const SCHEMA_VERSION: u32 = 2;

/// The state of a resource on this host.
#[derive(Debug, Serialize)]
pub struct ResourceState {
    pub name: String,
    pub size: u64,
    /// Designated primary (`null`: none).
    pub primary: Option<String>,
    /// This host's actual role: `Primary`, `Secondary` (attached, no device), `None`.
    pub role: &'static str,
    /// `Detached`; on a secondary `Inconsistent` (not a consistent copy yet: sync not
    /// complete or replay not past the sync's end), `Outdated[F]`, `Outdated[R]`,
    /// `Outdated[FR]` (fetch and/or replay behind), `UpToDate`; on the primary
    /// `WriteBack` (logged data not yet on the disk) or `UpToDate`.
    pub diskstate: String,
    /// `NotStarted` (detached), `Replicating` (primary), or on a secondary `Syncing`,
    /// `PausedSync`, `PausedFetch`, `PausedReplay`, `NoPrimaryDesignated`, `Replaying`.
    pub replstate: &'static str,
    pub is_attached: bool,
    pub is_primary: bool,
    /// The disk is a consistent copy (see `view-is-consistent`).
    pub is_consistent: bool,
    pub device: String,
    pub open_count: u32,
    /// Bytes logged but not yet known to be on the disk (primary; 0 elsewhere).
    pub writeback_rest: u64,
    /// Bytes of the disk the full sync has still to go (0 when synced).
    pub sync_rest: u64,
    /// Bytes of the primary's logfiles not yet fetched here (secondary; 0 elsewhere),
    /// as far as the primary's version and replay links tell.
    pub fetch_rest: u64,
    /// Bytes fetched here but not yet replayed (secondary; 0 elsewhere).
    pub replay_rest: u64,
    /// The todo switches of this host: sync, fetch (`connect`), replay (`allow-replay`).
    pub switches: Switches,
    /// Rates reported by the module, bytes per second (averaged over seconds).
    pub rates: Rates,
    /// Last error the module reported for this resource (0: none).
    pub error: i32,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct Switches {
    pub sync: bool,
    pub fetch: bool,
    pub replay: bool,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct Rates {
    pub sync: u64,
    pub fetch: u64,
    pub replay: u64,
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
    let is_attached = actual("is-attached")?.as_deref() == Some("1");
    let is_primary = actual("is-primary")?.as_deref() == Some("1");
    let primary = link(ctx, &format!("{dir}/{PRIMARY}"))?.filter(|p| p != NONE);
    let size: u64 = number(link(ctx, &format!("{dir}/{SIZE}"))?).unwrap_or(0);
    let log_size = |name: &str| std::fs::metadata(ctx.tree.path(&format!("{dir}/{name}"))).map(|m| m.len()).unwrap_or(0);
    let mine_raw = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{me}"))?;
    let mine = mine_raw.as_deref().and_then(|v| ReplayLink::parse(v).ok());
    // A joined disk is a copy only once its full sync has reached the end.
    let synced = number(link(ctx, &format!("{dir}/syncstatus-{me}"))?).unwrap_or(size);
    let syncpos_raw = link(ctx, &format!("{dir}/syncpos-{me}"))?;
    let syncpos = syncpos_raw.as_deref().and_then(|v| ReplayLink::parse(v).ok());
    let (mut writeback_rest, mut fetch_rest, mut replay_rest) = (0, 0, 0);
    let secondary = is_attached && !is_primary;
    match (&mine, primary.as_deref()) {
        // A secondary: its replay link names the primary's logfile it replays.
        (Some(r), Some(p)) if p != me.as_str() && secondary => {
            let theirs = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{p}"))?;
            let current = theirs.as_deref().and_then(|v| ReplayLink::parse(v).ok()).map_or(r.log.nr, |t| t.log.nr);
            for nr in r.log.nr..=current.max(r.log.nr) {
                let name = LogName { nr, host: p }.to_string();
                let local = log_size(&name);
                let version = link(ctx, &format!("{dir}/{VERSION_PREFIX}{nr:09}-{p}"))?;
                let remote = version.as_deref().and_then(|v| VersionLink::parse(v).ok()).map_or(0, |v| v.pos);
                fetch_rest += remote.saturating_sub(local);
                replay_rest += if nr == r.log.nr { local.saturating_sub(r.start) } else { local };
            }
        }
        // The module rewrites the replay link only when the disk is synced, so what is
        // not known to be on the disk is everything the logfile holds beyond the start.
        (Some(r), _) if !secondary => writeback_rest = r.len.max(log_size(&r.log.to_string()).saturating_sub(r.start)),
        _ => {}
    }
    let switches = Switches { sync: switch("sync")?, fetch: switch("connect")?, replay: switch("allow-replay")? };
    let is_consistent = if is_primary {
        writeback_rest == 0
    } else {
        mine.as_ref().is_some_and(|r| is_consistent(size, synced, syncpos.as_ref(), r))
    };
    let diskstate = if !is_attached {
        "Detached".to_owned()
    } else if is_primary {
        if writeback_rest > 0 { "WriteBack" } else { "UpToDate" }.to_owned()
    } else if !is_consistent {
        "Inconsistent".to_owned()
    } else if fetch_rest > 0 || replay_rest > 0 {
        format!("Outdated[{}{}]", if fetch_rest > 0 { "F" } else { "" }, if replay_rest > 0 { "R" } else { "" })
    } else {
        "UpToDate".to_owned()
    };
    let replstate = if !is_attached {
        "NotStarted"
    } else if is_primary {
        "Replicating"
    } else if synced < size {
        if switches.sync { "Syncing" } else { "PausedSync" }
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
    let devname = link(ctx, &format!("{dir}/{DEVICE_PREFIX}{me}"))?.unwrap_or_else(|| res.to_owned());
    Ok(ResourceState {
        name: res.to_owned(),
        size,
        primary,
        role: if is_primary {
            "Primary"
        } else if is_attached {
            "Secondary"
        } else {
            "None"
        },
        diskstate,
        replstate,
        is_attached,
        is_primary,
        is_consistent,
        device: format!("/dev/mars/{devname}"),
        open_count: actual("open-count")?.and_then(|v| v.parse().ok()).unwrap_or(0),
        writeback_rest,
        sync_rest: size.saturating_sub(synced),
        fetch_rest,
        replay_rest,
        switches,
        rates: Rates { sync: rate("sync-rate")?, fetch: rate("fetch-rate")?, replay: rate("replay-rate")? },
        error: actual("error")?.and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// `1.5 GiB`-style sizes for the progress lines.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut u) = (bytes as f64, 0);
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.3} {}", UNITS[u]) }
}

/// `hh:mm:ss` to go at `rate`, or `--:--:--` when nothing moves.
fn remaining(rest: u64, rate: u64) -> String {
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
    if s.role != "Secondary" {
        return out;
    }
    if s.sync_rest > 0 {
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
struct ViewReport {
    schema_version: u32,
    host: String,
    resources: Vec<ResourceState>,
}

/// `view [RES|all] [--json]`.
pub fn view(ctx: &Context, which: &str, json: bool) -> Result<()> {
    ctx.require_mountpoint()?;
    let names = selected(ctx, which)?;
    let states = names.iter().map(|r| resource_state(ctx, r)).collect::<Result<Vec<_>>>()?;
    if json {
        let report = ViewReport { schema_version: SCHEMA_VERSION, host: ctx.host.clone(), resources: states };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for s in &states {
        println!(
            "--------- resource {} ({} bytes), primary: {}",
            s.name,
            s.size,
            s.primary.as_deref().unwrap_or(NONE)
        );
        let progress = if s.role == "Secondary" {
            format!("sync-rest={} fetch-rest={} replay-rest={}", s.sync_rest, s.fetch_rest, s.replay_rest)
        } else {
            format!("writeback-rest={}", s.writeback_rest)
        };
        println!(
            "{} {} {} {} {} open={} {}{}",
            ctx.host,
            s.diskstate,
            s.replstate,
            s.role,
            if s.is_primary { s.device.as_str() } else { "-" },
            s.open_count,
            progress,
            if s.error != 0 { format!(" error={}", s.error) } else { String::new() }
        );
        for line in progress_lines(s) {
            println!("{line}");
        }
    }
    Ok(())
}

/// The names `view` and `view-1and1` accept: a resource or `all`.
fn selected(ctx: &Context, which: &str) -> Result<Vec<String>> {
    let all = resources(ctx)?;
    if which == "all" {
        Ok(all)
    } else if all.iter().any(|r| r == which) {
        Ok(vec![which.to_owned()])
    } else {
        Err(Error::NoResource(which.into()))
    }
}

/// `view-1and1 [RES|all]`: the compact line of the original's 1&1 variant (§7.3).
pub fn view_1and1(ctx: &Context, which: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    for res in selected(ctx, which)? {
        let s = resource_state(ctx, &res)?;
        let disk = match s.diskstate.as_str() {
            "UpToDate" | "WriteBack" => "Uptodate",
            d => d,
        };
        let flag = |on: bool, c: char| if on { c } else { '-' };
        println!(
            "  {} {} {} -{}{}{}- {} {}",
            s.name,
            disk,
            s.replstate,
            flag(s.switches.sync, 'S'),
            flag(s.switches.fetch, 'F'),
            flag(s.switches.replay, 'R'),
            s.role,
            s.primary.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// The `view-<macro>` primitives: one value on one line, for scripts.
#[derive(Debug, Clone, Copy)]
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
}

pub fn view_macro(ctx: &Context, m: Macro, res: &str) -> Result<()> {
    ctx.require_mountpoint()?;
    if !resources(ctx)?.iter().any(|r| r == res) {
        return Err(Error::NoResource(res.into()));
    }
    let s = resource_state(ctx, res)?;
    let out = match m {
        Macro::IsPrimary => (s.is_primary as u8).to_string(),
        Macro::IsAttached => (s.is_attached as u8).to_string(),
        Macro::GetPrimary => s.primary.unwrap_or_else(|| NONE.to_owned()),
        Macro::ResourceSize => s.size.to_string(),
        Macro::WritebackRest => s.writeback_rest.to_string(),
        Macro::FetchRest => s.fetch_rest.to_string(),
        Macro::ReplayRest => s.replay_rest.to_string(),
        Macro::SyncRest => s.sync_rest.to_string(),
        Macro::IsConsistent => (s.is_consistent as u8).to_string(),
    };
    println!("{out}");
    Ok(())
}
