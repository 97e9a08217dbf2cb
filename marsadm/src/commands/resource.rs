//! Resource membership: `create-resource`.

use std::path::Path;

use mars_core::names::{check_device_name, check_resource_name};
use mars_core::tree::{LogName, ReplayLink, DATA_PREFIX, DEVICE_PREFIX, PRIMARY, REPLAY_PREFIX, RESOURCE_PREFIX, SIZE, TODO_PREFIX};

use crate::context::{check_disk, Context};
use crate::error::{Error, Result};

pub fn resource_dir(res: &str) -> String {
    format!("{RESOURCE_PREFIX}{res}")
}

/// Resources (names) that exist in the tree: those with a `size` link.
pub fn resources(ctx: &Context) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in ctx.tree.list("")? {
        if let Some(res) = name.strip_prefix(RESOURCE_PREFIX) {
            if ctx.tree.get(&format!("{name}/{SIZE}"))?.is_some() {
                out.push(res.to_owned());
            }
        }
    }
    Ok(out)
}

pub fn create_resource(ctx: &Context, res: &str, disk: &Path, devname: Option<&str>) -> Result<()> {
    let devname = devname.unwrap_or(res);
    check_resource_name(res).map_err(|e| Error::Name { what: "resource", name: res.into(), reason: e.to_string() })?;
    check_device_name(devname).map_err(|e| Error::Name { what: "device", name: devname.into(), reason: e.to_string() })?;
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()?;
    let me = ctx.host.as_str();
    let existing = resources(ctx)?;
    if existing.iter().any(|r| r == res) {
        return Err(Error::ResourceExists(res.into()));
    }
    for other in &existing {
        let dir = resource_dir(other);
        if ctx.tree.get(&format!("{dir}/{DEVICE_PREFIX}{me}"))?.is_some_and(|l| l.value == devname) {
            return Err(Error::DeviceNameTaken { devname: devname.into(), res: other.clone() });
        }
        if ctx.tree.get(&format!("{dir}/{DATA_PREFIX}{me}"))?.is_some_and(|l| Path::new(&l.value) == disk) {
            return Err(Error::DiskTaken { disk: disk.to_owned(), res: other.clone() });
        }
    }
    let disk = check_disk(disk)?;

    // All checks passed: write the resource. `todo-<me>/attach` comes last, because it
    // is what makes the module act.
    let dir = resource_dir(res);
    let stamp = ctx.stamp(&["", &dir])?;
    let log = LogName { nr: 1, host: me };
    let replay = ReplayLink { log, start: 0, len: 0 };
    let disk_str = disk.path.to_string_lossy();
    let links: [(String, String); 10] = [
        (format!("{dir}/{SIZE}"), disk.size.to_string()),
        (format!("{dir}/{DATA_PREFIX}{me}"), disk_str.into_owned()),
        (format!("{dir}/{DEVICE_PREFIX}{me}"), devname.to_owned()),
        (format!("{dir}/{PRIMARY}"), me.to_owned()),
        (format!("{dir}/{REPLAY_PREFIX}{me}"), replay.to_string()),
        (format!("{dir}/syncstatus-{me}"), disk.size.to_string()),
        (format!("{dir}/maxnr"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/connect"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/sync"), "1".to_owned()),
        (format!("{dir}/{TODO_PREFIX}{me}/allow-replay"), "1".to_owned()),
    ];
    for (rel, value) in &links {
        ctx.tree.set(rel, value, stamp)?;
    }
    let log_path = ctx.tree.path(&format!("{dir}/{log}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&log_path)
        .map_err(|e| Error::Tree { path: log_path.clone(), what: "create logfile", source: e })?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/attach"), "1", stamp + 1)?;
    ctx.trigger();
    println!("created resource {res} on {} ({} bytes), device /dev/mars/{devname}", disk.path.display(), disk.size);
    Ok(())
}
