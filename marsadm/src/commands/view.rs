//! `view` and the `view-<macro>` primitives. Every state shown is computed once, in
//! [`resource_state`], and printed by both the text and the JSON form.

use mars_core::tree::{ReplayLink, DEVICE_PREFIX, NONE, PRIMARY, REPLAY_PREFIX, SIZE};
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
    /// Bytes logged but not yet known to be on the disk (primary).
    pub writeback_rest: u64,
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
    // The module rewrites the replay link only when the disk is synced, so what is not
    // known to be on the disk is everything the logfile holds beyond the link's start.
    let writeback_rest = match link(ctx, &format!("{dir}/{REPLAY_PREFIX}{me}"))? {
        Some(v) => match ReplayLink::parse(&v) {
            Ok(r) => {
                let log_size = std::fs::metadata(ctx.tree.path(&format!("{dir}/{}", r.log))).map(|m| m.len()).unwrap_or(0);
                r.len.max(log_size.saturating_sub(r.start))
            }
            Err(_) => 0,
        },
        None => 0,
    };
    let devname = link(ctx, &format!("{dir}/{DEVICE_PREFIX}{me}"))?.unwrap_or_else(|| res.to_owned());
    let size: u64 = link(ctx, &format!("{dir}/{SIZE}"))?.and_then(|v| v.parse().ok()).unwrap_or(0);
    // A joined disk is a copy only once its full sync has reached the end.
    let synced: u64 = link(ctx, &format!("{dir}/syncstatus-{me}"))?.and_then(|v| v.parse().ok()).unwrap_or(size);
    let sync_incomplete = synced < size;
    Ok(ResourceState {
        name: res.to_owned(),
        size,
        primary: link(ctx, &format!("{dir}/{PRIMARY}"))?.filter(|p| p != NONE),
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
        println!(
            "{} {} {} {} open={} writeback-rest={}{}",
            ctx.host,
            s.diskstate,
            s.role,
            if s.is_primary { s.device.as_str() } else { "-" },
            s.open_count,
            s.writeback_rest,
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
    };
    println!("{out}");
    Ok(())
}
