//! `resize`: grow a resource online (design reference §5.9, docu/resize.md).
//!
//! On the designated and actual primary, after every member's disk has grown (each
//! module reports its disk's size as `actsize-<host>`): `syncstatus-<me>` = new size
//! first (the primary's data is authoritative for the new area), then `size`. The
//! primary's module grows /dev/mars/<dev>; every secondary then has `syncstatus` below
//! `size` and syncs from there on, i.e. only the new area. marsadm waits until the
//! device has the new size. The filesystem is grown afterwards by the operator.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use mars_core::tree::{ACTSIZE_PREFIX, NONE, PRIMARY, SIZE, SYNCSTATUS_PREFIX};

use super::resource::{actual, device_path, device_up, members, require_member, resource_dir};
use crate::context::Context;
use crate::error::{Error, Result};

fn refused(res: &str, why: impl Into<String>) -> Error {
    Error::Refused { res: res.into(), why: why.into() }
}

/// The new size of a resource of `old` bytes whose members' disks have the sizes
/// `actsizes` (`None`: not reported), given `requested` (default: the smallest disk).
/// `Err` says why not.
pub fn new_size(old: u64, requested: Option<u64>, actsizes: &[(String, Option<u64>)]) -> std::result::Result<u64, String> {
    let mut smallest: Option<(&str, u64)> = None;
    for (host, size) in actsizes {
        let Some(size) = *size else {
            return Err(format!("the size of {host}'s disk is unknown (actsize-{host} missing): attach the resource there (marsadm up) and retry"));
        };
        if smallest.is_none_or(|(_, s)| size < s) {
            smallest = Some((host, size));
        }
    }
    let Some((small_host, small)) = smallest else { return Err("the resource has no members".into()) };
    let new = requested.unwrap_or(small);
    if new < old {
        return Err(format!("{new} bytes is smaller than the current size {old}: a resource can only grow"));
    }
    if !new.is_multiple_of(512) {
        return Err(format!("{new} bytes is not a multiple of 512 (a device has whole sectors)"));
    }
    if new > small {
        return Err(format!(
            "{new} bytes is more than {small_host}'s disk has ({small} bytes): grow the disks of all members first (lvresize)"
        ));
    }
    Ok(new)
}

/// The size in bytes of block device `dev` as the kernel sees it now
/// (`/sys/dev/block/<major>:<minor>/size`), `None` if it does not exist.
fn device_bytes(dev: &Path) -> Option<u64> {
    let meta = std::fs::metadata(dev).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    let rdev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    let sectors = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/size")).ok()?;
    sectors.trim().parse::<u64>().ok()?.checked_mul(512)
}

pub fn resize(ctx: &Context, res: &str, requested: Option<u64>, timeout: Duration) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    let me = ctx.host.as_str();
    let dir = resource_dir(res);
    let link = |name: &str| -> Result<Option<String>> { Ok(ctx.tree.get(&format!("{dir}/{name}"))?.map(|l| l.value)) };
    let designated = link(PRIMARY)?.filter(|p| p != NONE);
    if designated.as_deref() != Some(me) {
        let who = designated.unwrap_or_else(|| "no host".into());
        return Err(refused(res, format!("{who} is its designated primary, not this host: resize runs on the primary")));
    }
    if !device_up(ctx, res)? {
        return Err(refused(res, "this host is designated but not yet the actual primary (no /dev/mars device here yet): retry when it is"));
    }
    let old: u64 = link(SIZE)?.and_then(|v| v.parse().ok()).ok_or_else(|| Error::NoResource(res.into()))?;
    let mut actsizes = Vec::new();
    for host in members(ctx, res)? {
        let size = link(&format!("{ACTSIZE_PREFIX}{host}"))?.and_then(|v| v.parse::<u64>().ok());
        actsizes.push((host, size));
    }
    let new = new_size(old, requested, &actsizes).map_err(|why| refused(res, why))?;
    let dev = device_path(ctx, res)?;
    if new == old {
        println!("resource {res} has {old} bytes already (the smallest member disk): nothing to grow");
        return Ok(());
    }

    // All checks passed. The primary's data is authoritative for the new area, so its
    // sync status covers it before the size says it exists.
    let stamp = ctx.stamp(&[&dir])?;
    ctx.tree.set(&format!("{dir}/{SYNCSTATUS_PREFIX}{me}"), &new.to_string(), stamp)?;
    ctx.tree.set(&format!("{dir}/{SIZE}"), &new.to_string(), stamp + 1)?;
    ctx.trigger();
    let deadline = Instant::now() + timeout;
    loop {
        if device_bytes(&dev) == Some(new) {
            break;
        }
        if Instant::now() > deadline {
            let error = crate::error::errno_text(actual(ctx, res, "error")?.and_then(|v| v.parse().ok()).unwrap_or(0));
            return Err(Error::ResizeTimeout { res: res.into(), dev: dev.display().to_string(), size: new, secs: timeout.as_secs(), error });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("resource {res} grown from {old} to {new} bytes: {} has the new size", dev.display());
    println!("the secondaries sync the new area now (marsadm view {res}); grow the filesystem on {} (e.g. xfs_growfs)", dev.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(sizes: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
        sizes.iter().map(|(h, s)| (h.to_string(), *s)).collect()
    }

    #[test]
    fn default_is_the_smallest_disk() {
        let m = members(&[("node1", Some(3 << 20)), ("node2", Some(2 << 20))]);
        assert_eq!(new_size(1 << 20, None, &m), Ok(2 << 20));
        assert_eq!(new_size(1 << 20, Some(3 << 19), &m), Ok(3 << 19));
        // The same size: nothing to grow, not an error.
        assert_eq!(new_size(2 << 20, None, &m), Ok(2 << 20));
    }

    #[test]
    fn refusals_name_the_reason() {
        let m = members(&[("node1", Some(3 << 20)), ("node2", Some(2 << 20))]);
        let e = new_size(1 << 20, Some(3 << 20), &m).unwrap_err();
        assert!(e.contains("node2's disk has (2097152 bytes)"), "{e}");
        let e = new_size(2 << 20, Some(1 << 20), &m).unwrap_err();
        assert!(e.contains("can only grow"), "{e}");
        let e = new_size(1 << 20, Some((1 << 20) + 1000), &m).unwrap_err();
        assert!(e.contains("multiple of 512"), "{e}");
        let e = new_size(1 << 20, None, &members(&[("node1", Some(3 << 20)), ("node2", None)])).unwrap_err();
        assert!(e.contains("node2's disk is unknown"), "{e}");
        assert!(new_size(1 << 20, None, &[]).is_err());
    }
}
