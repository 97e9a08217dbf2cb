//! The operator's own links, as the original's `set-link`, `get-link`, `delete-file`:
//! `/mars/userspace/<name>` for the cluster and `/mars/resource-<res>/userspace/<name>`
//! for a resource, set on any member and copied to every other by Lamport time (the
//! module never acts on them; mars_core::ownership says which values it takes).

use mars_core::ownership::{classify, Rule, Shape};
use mars_core::tree::{DELETED, MAX_USERSPACE_VALUE};

use crate::context::Context;
use crate::error::{Error, Result};

/// `PATH` relative to /mars: absolute within it, or relative already.
fn relative<'p>(ctx: &Context, path: &'p str) -> Result<&'p str> {
    match ctx.tree.relative(path) {
        Some(rel) if !rel.is_empty() && !rel.split('/').any(|c| c == "." || c.is_empty()) => Ok(rel),
        _ => Err(Error::Usage(format!("{path} is no link under {}", ctx.tree.root().display()))),
    }
}

/// A userspace link's path relative to /mars, or why `path` is none.
fn userspace_link<'p>(ctx: &Context, path: &'p str) -> Result<&'p str> {
    let rel = relative(ctx, path)?;
    match classify(rel, &ctx.host) {
        Ok(Rule::Cluster(Shape::Text)) => Ok(rel),
        _ => Err(Error::Usage(format!(
            "{path}: only links in /mars/userspace/ and /mars/resource-<res>/userspace/ are the operator's (names of a-z, 0-9, '-', '_', '.'); the rest of the tree is the module's and marsadm's own"
        ))),
    }
}

/// `set-link VALUE PATH`.
pub fn set_link(ctx: &Context, value: &str, path: &str) -> Result<()> {
    ctx.require_cluster()?;
    let rel = userspace_link(ctx, path)?;
    let rule = classify(rel, &ctx.host).map_err(|_| Error::Usage(format!("{path}: not a userspace link")))?;
    if value == DELETED || rule.allows(&ctx.host, value, true).is_err() {
        return Err(Error::Usage(format!("the value must be 1 to {MAX_USERSPACE_VALUE} printable ASCII characters")));
    }
    write(ctx, rel, value)
}

/// `delete-file PATH`: marks the userspace link deleted everywhere.
pub fn delete_link(ctx: &Context, path: &str) -> Result<()> {
    ctx.require_cluster()?;
    let rel = userspace_link(ctx, path)?;
    if ctx.tree.get(rel)?.is_none() {
        return Err(Error::Usage(format!("{path} does not exist")));
    }
    write(ctx, rel, DELETED)
}

fn write(ctx: &Context, rel: &str, value: &str) -> Result<()> {
    ctx.commit()?;
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let stamp = ctx.stamp(&[dir])?;
    ctx.tree.set(rel, value, stamp)?;
    ctx.trigger();
    Ok(())
}

/// `get-link PATH...`: the value of each link under /mars (any, not only userspace
/// ones: reading changes nothing), one a line; nothing for one that is missing or deleted.
pub fn get_links(ctx: &Context, paths: &[String]) -> Result<()> {
    for path in paths {
        let rel = relative(ctx, path)?;
        println!("{}", ctx.tree.get(rel)?.map(|l| l.value).unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    #[test]
    fn only_userspace_links_are_set() {
        let mut t = ScratchTree::node1_primary("userspace", "node2");
        t.set("uuid", "node1_1");
        let root = t.ctx.tree.root().to_string_lossy().into_owned();
        set_link(&t.ctx, "moving to node2", &format!("{root}/userspace/state")).unwrap();
        set_link(&t.ctx, "x", "resource-r0/userspace/note").unwrap();
        assert_eq!(t.ctx.tree.get("userspace/state").unwrap().unwrap().value, "moving to node2");
        assert_eq!(t.ctx.tree.get("resource-r0/userspace/note").unwrap().unwrap().value, "x");
        delete_link(&t.ctx, "resource-r0/userspace/note").unwrap();
        assert!(t.ctx.tree.get("resource-r0/userspace/note").unwrap().is_none());
        for (value, path) in [
            ("node2", "resource-r0/primary".to_string()),
            ("10.0.0.9", "ips/ip-node9".into()),
            ("x", "/etc/passwd".into()),
            ("x", "userspace/../uuid".into()),
            ("x", "userspace/a/b".into()),
            ("x", format!("{root}x/userspace/a")),
            ("two\nlines", "userspace/a".into()),
            (DELETED, "userspace/a".into()),
        ] {
            let e = set_link(&t.ctx, value, &path).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit::USAGE, "{path}: {e}");
        }
        assert_eq!(t.ctx.tree.get("resource-r0/primary").unwrap().unwrap().value, "node1");
    }
}
