//! `view` and the `view-<macro>` primitives. Every state shown is computed once, in
//! [`resource_state`], and printed by both the text and the JSON form.

use mars_core::tree::{LogName, ReplayLink, VersionLink, DEVICE_PREFIX, NONE, PRIMARY, REPLAY_PREFIX, SIZE, VERSION_PREFIX};
use serde::Serialize;

use super::resource::{resource_dir, resources};
use crate::context::Context;
use crate::error::{Error, Result};

/// JSON schema version of `view --json` (docu/marsadm-json.md).
const SCHEMA_VERSION: u32 = 1;

/// The state of a resource on this host.
#[derive(Debug, Serialize)]
pub struct ResourceState {
    pub name: String,
    pub size: u64,
    /// Designated primary (`null`: none).
    pub primary: Option<String>,
    /// This host's actual role: `Primary`, `Secondary` (attached, no device), `None`.
    pub role: &'static str,
    /// `Detached`, `Inconsistent` (full sync not complete), `UpToDate`, or `WriteBack`
    /// (logged data not yet on the disk).
    pub diskstate: &'static str,
    pub is_attached: bool,
    pub is_primary: bool,
    pub device: String,
    pub open_count: u32,
    /// Bytes logged but not yet known to be on the disk (primary; 0 elsewhere).
    pub writeback_rest: u64,
    /// Bytes of the primary's logfiles not yet fetched here (secondary; 0 elsewhere),
    /// as far as the primary's version and replay links tell.
    pub fetch_rest: u64,
    /// Bytes fetched here but not yet replayed (secondary; 0 elsewhere).
    pub replay_rest: u64,
    /// Last error the module reported for this resource (0: none).
    pub error: i32,
}

fn link(ctx: &Context, rel: &str) -> Result<Option<String>> {
    Ok(ctx.tree.get(rel)?.map(|l| l.value))
}

pub fn resource_state(ctx: &Context, res: &str) -> Result<ResourceState> {
    let dir = resource_dir(res);
    let me = &ctx.host;
    let actual = |name: &str| link(ctx, &format!("{dir}/actual-{me}/{name}"));
    let is_attached = actual("is-attached")?.as_deref() == Some("1");
    let is_primary = actual("is-primary")?.as_deref() == Some("1");
    let primary = link(ctx, &format!("{dir}/{PRIMARY}"))?.filter(|p| p != NONE);
    let log_size = |name: &str| std::fs::metadata(ctx.tree.path(&format!("{dir}/{name}"))).map(|m| m.len()).unwrap_or(0);
    let mine = link(ctx, &format!("{dir}/{REPLAY_PREFIX}{me}"))?;
    let mine = mine.as_deref().and_then(|v| ReplayLink::parse(v).ok());
    let (mut writeback_rest, mut fetch_rest, mut replay_rest) = (0, 0, 0);
    match (&mine, primary.as_deref()) {
        // A secondary: its replay link names the primary's logfile it replays.
        (Some(r), Some(p)) if p != me.as_str() && is_attached && !is_primary => {
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
        (Some(r), _) => writeback_rest = r.len.max(log_size(&r.log.to_string()).saturating_sub(r.start)),
        (None, _) => {}
    }
    let devname = link(ctx, &format!("{dir}/{DEVICE_PREFIX}{me}"))?.unwrap_or_else(|| res.to_owned());
    let size: u64 = link(ctx, &format!("{dir}/{SIZE}"))?.and_then(|v| v.parse().ok()).unwrap_or(0);
    // A joined disk is a copy only once its full sync has reached the end.
    let synced: u64 = link(ctx, &format!("{dir}/syncstatus-{me}"))?.and_then(|v| v.parse().ok()).unwrap_or(size);
    let sync_incomplete = synced < size;
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
        diskstate: if !is_attached {
            "Detached"
        } else if sync_incomplete {
            "Inconsistent"
        } else if writeback_rest > 0 {
            "WriteBack"
        } else {
            "UpToDate"
        },
        is_attached,
        is_primary,
        device: format!("/dev/mars/{devname}"),
        open_count: actual("open-count")?.and_then(|v| v.parse().ok()).unwrap_or(0),
        writeback_rest,
        fetch_rest,
        replay_rest,
        error: actual("error")?.and_then(|v| v.parse().ok()).unwrap_or(0),
    })
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
    let all = resources(ctx)?;
    let names: Vec<String> = if which == "all" {
        all
    } else if all.iter().any(|r| r == which) {
        vec![which.to_owned()]
    } else {
        return Err(Error::NoResource(which.into()));
    };
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
            format!("fetch-rest={} replay-rest={}", s.fetch_rest, s.replay_rest)
        } else {
            format!("writeback-rest={}", s.writeback_rest)
        };
        println!(
            "{} {} {} {} open={} {}{}",
            ctx.host,
            s.diskstate,
            s.role,
            if s.is_primary { s.device.as_str() } else { "-" },
            s.open_count,
            progress,
            if s.error != 0 { format!(" error={}", s.error) } else { String::new() }
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
    };
    println!("{out}");
    Ok(())
}
