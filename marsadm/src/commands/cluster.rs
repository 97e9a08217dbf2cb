//! Cluster membership: `create-cluster`, `join-cluster`, `leave-cluster`, `wait-cluster`,
//! `lowlevel-set-host-ip`, `merge-cluster`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use mars_core::lamport::format_stamp;
use mars_core::names::{check_host_name, check_resource_name};
use mars_core::tree::{ACTUAL_PREFIX, ANY_CLUSTER, DATA_PREFIX, DELETED, IPS_DIR, IP_PREFIX, RESOURCE_PREFIX, TIME, UUID};

use mars_core::wire::DEFAULT_BASE_PORT;

use super::{probe, secret};
use crate::context::Context;
use crate::error::{Error, Result};

/// `/mars/ips/ip-<host>`: the address peers use to reach `<host>`.
fn ip_link(host: &str) -> String {
    format!("{IPS_DIR}/{IP_PREFIX}{host}")
}

/// This host's address from /etc/hosts: the first IPv4 address, not loopback, listed for
/// `host`. (marsadm is static and does not use NSS; give `--ip` if the name is elsewhere.)
fn address_from_hosts(hosts: &str, host: &str) -> Option<Ipv4Addr> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let mut fields = line.split_whitespace();
        let ip: Ipv4Addr = fields.next()?.parse().ok()?;
        (!ip.is_loopback() && fields.any(|name| name == host)).then_some(ip)
    })
}

pub fn create_cluster(ctx: &Context, ip: Option<Ipv4Addr>) -> Result<()> {
    ctx.require_mountpoint()?;
    if let Some(uuid) = ctx.tree.get(UUID)? {
        return Err(Error::AlreadyCluster(uuid.value));
    }
    let ip = match ip {
        Some(ip) => ip,
        None => {
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            address_from_hosts(&hosts, &ctx.host).ok_or_else(|| Error::NoAddress(ctx.host.clone()))?
        }
    };
    ctx.commit()?;
    let key = secret::generate()?;
    let stamp = ctx.stamp(&["", "ips"])?;
    let mut buf = [0u8; 32];
    let uuid = format!("{}_{}", ctx.host, format_stamp(stamp, &mut buf));
    secret::install(ctx, &key)?;
    ctx.tree.set(&ip_link(&ctx.host), &ip.to_string(), stamp)?;
    let actual = ctx.tree.path(&format!("{ACTUAL_PREFIX}{}", ctx.host));
    crate::context::changing()?;
    std::fs::create_dir_all(&actual).map_err(|e| Error::Tree { path: actual, what: "create directory", source: e })?;
    // The uuid last: its presence means "this host is a cluster member".
    ctx.tree.set(UUID, &uuid, stamp)?;
    ctx.trigger();
    println!("created cluster {uuid} with {} at {ip}", ctx.host);
    Ok(())
}

/// `lowlevel-set-host-ip HOST IP`: the address this host reaches member HOST at
/// (docu/cluster.md, "Moving a member to another address"). Each member takes a host's
/// address only from that host itself or from its own marsadm, so it is run on every
/// member; on HOST, the module moves its listeners to IP.
pub fn set_host_ip(ctx: &Context, host: &str, ip: Ipv4Addr) -> Result<()> {
    ctx.require_cluster()?;
    let link = ip_link(host);
    let old = match ctx.tree.get(&link)? {
        Some(l) if l.value != DELETED => l.value,
        _ => return Err(Error::NoHost(host.into())),
    };
    let new = ip.to_string();
    if old == new {
        println!("{host} is at {new} here already");
        return Ok(());
    }
    for other in ctx.tree.list(IPS_DIR)? {
        let Some(other) = other.strip_prefix(IP_PREFIX) else { continue };
        if other != host && ctx.tree.get(&ip_link(other))?.is_some_and(|l| l.value == new) {
            return Err(Error::AddressTaken { ip: new, host: other.into() });
        }
    }
    ctx.commit()?;
    let stamp = ctx.stamp(&["ips"])?;
    ctx.tree.set(&link, &new, stamp)?;
    ctx.pull_now();
    println!("{host}: {old} -> {new} on {}", ctx.host);
    println!(
        "run `marsadm lowlevel-set-host-ip {host} {new}` on every other member too (any order); {}then `marsadm update-cluster` there shows they hear {host}",
        if host == ctx.host { "the module here listens on it now; " } else { "" }
    );
    Ok(())
}

/// `join-cluster`: become a member of PEER's cluster (docu/cluster.md).
pub fn join_cluster(ctx: &Context, peer: &str, peer_ip: Option<Ipv4Addr>, ip: Option<Ipv4Addr>, secret_file: Option<&std::path::Path>, timeout_s: u64) -> Result<()> {
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    let key = secret::read_secret_file(secret_file.ok_or(Error::SecretNeeded)?)?;
    check_host_name(peer).map_err(|e| Error::Name { what: "host", name: peer.into(), reason: e.to_string() })?;
    if peer == ctx.host {
        return Err(Error::Name { what: "peer host", name: peer.into(), reason: "that is this host".into() });
    }
    if let Some(uuid) = ctx.tree.get(UUID)? {
        if uuid.value != ANY_CLUSTER {
            return Err(Error::AlreadyCluster(uuid.value));
        }
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let peer_ip = match peer_ip {
        Some(a) => a,
        None => address_from_hosts(&hosts, peer).ok_or_else(|| Error::NoAddress(peer.into()))?,
    };
    let ip = match ip {
        Some(a) => a,
        None => address_from_hosts(&hosts, &ctx.host).ok_or_else(|| Error::NoAddress(ctx.host.clone()))?,
    };
    ctx.commit()?;
    secret::install(ctx, &key)?;
    // Preliminary stamps (one second after the epoch): whatever the cluster says wins.
    const PRELIMINARY: u64 = 1_000_000_000;
    ctx.tree.set(&ip_link(peer), &peer_ip.to_string(), PRELIMINARY)?;
    let stamp = ctx.stamp(&["", "ips"])?;
    ctx.tree.set(&ip_link(&ctx.host), &ip.to_string(), stamp)?;
    let actual = ctx.tree.path(&format!("{ACTUAL_PREFIX}{}", ctx.host));
    crate::context::changing()?;
    std::fs::create_dir_all(&actual).map_err(|e| Error::Tree { path: actual, what: "create directory", source: e })?;
    ctx.tree.set(UUID, ANY_CLUSTER, PRELIMINARY)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
    loop {
        ctx.trigger();
        if let Some(uuid) = ctx.tree.get(UUID)? {
            if uuid.value != ANY_CLUSTER {
                println!("joined cluster {} via {peer} at {peer_ip}", uuid.value);
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::JoinTimeout { peer: peer.into(), ip: peer_ip.to_string(), secs: timeout_s });
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `leave-cluster`: stop being a member (see the command's help).
pub fn leave_cluster(ctx: &Context, timeout_s: u64) -> Result<()> {
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()?;
    let mut resources = Vec::new();
    for name in ctx.tree.list("")? {
        if let Some(res) = name.strip_prefix(RESOURCE_PREFIX) {
            if ctx.tree.get(&format!("{name}/{DATA_PREFIX}{}", ctx.host))?.is_some() {
                resources.push(res.to_string());
            }
        }
    }
    if !resources.is_empty() {
        return Err(Error::StillMember(resources.join(", ")));
    }
    let stamp = ctx.stamp(&["ips"])?;
    ctx.tree.set(&ip_link(&ctx.host), DELETED, stamp)?;
    // Peers pull every two seconds: once each has been heard from with a stamp two
    // pull rounds after the deletion, it has pulled the deletion too.
    wait_heard(ctx, stamp + 4_000_000_000, timeout_s, false, None)?;
    let uuid = ctx.tree.path(UUID);
    crate::context::changing()?;
    std::fs::remove_file(&uuid).map_err(|e| Error::Tree { path: uuid, what: "remove", source: e })?;
    secret::remove(ctx)?;
    ctx.trigger();
    println!("{} left the cluster", ctx.host);
    Ok(())
}

/// `wait-cluster`: wait until every other member's liveness link is newer than the
/// start of the command.
/// `update-cluster`: [`wait_cluster`] after asking the module to pull every peer's tree
/// at once (an unreachable peer's backoff, up to 30 s, is not waited for).
pub fn update_cluster(ctx: &Context, timeout_s: u64) -> Result<()> {
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()?;
    let peers = wait_heard(ctx, ctx.stamp(&[])?, timeout_s, true, None)?;
    println!("heard from all {peers} other member(s)");
    Ok(())
}

pub fn wait_cluster(ctx: &Context, timeout_s: u64) -> Result<()> {
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()?;
    // After the module's Lamport clock, not only after real time: a member whose clock
    // runs ahead stamps its links in our future, and one such link pulled before the
    // command started must not count as heard since.
    let peers = wait_heard(ctx, ctx.stamp(&[])?, timeout_s, false, None)?;
    println!("heard from all {peers} other member(s)");
    Ok(())
}

/// Waits until every other member's (or `only` that one's) `actual-<host>/time` is
/// stamped `since` or later;
/// returns how many members there are. `pull`: asks the module to pull every peer's tree
/// at once, again each second until all are heard (a peer whose module is just
/// starting may refuse the first).
fn wait_heard(ctx: &Context, since: u64, timeout_s: u64, pull: bool, only: Option<&str>) -> Result<usize> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
    let mut asked: Option<std::time::Instant> = None;
    loop {
        if pull && asked.is_none_or(|a| a.elapsed() >= std::time::Duration::from_secs(1)) {
            ctx.pull_now();
            asked = Some(std::time::Instant::now());
        } else {
            ctx.trigger();
        }
        let mut silent = Vec::new();
        let mut peers = 0;
        for name in ctx.tree.list(IPS_DIR)? {
            let Some(host) = name.strip_prefix(IP_PREFIX) else { continue };
            if host == ctx.host || only.is_some_and(|o| o != host) || ctx.tree.get(&format!("ips/{name}"))?.is_none() {
                continue;
            }
            peers += 1;
            let heard = ctx.tree.get(&format!("{ACTUAL_PREFIX}{host}/{TIME}"))?.is_some_and(|l| l.stamp_ns >= since);
            if !heard {
                silent.push(host.to_string());
            }
        }
        if silent.is_empty() {
            return Ok(peers);
        }
        if std::time::Instant::now() > deadline {
            silent.sort();
            return Err(Error::Silent { hosts: silent.join(", "), secs: timeout_s });
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `lowlevel-ls-host-ips`: `HOST ADDRESS` of every member known here.
pub fn ls_host_ips(ctx: &Context) -> Result<()> {
    ctx.require_cluster()?;
    for (host, ip) in our_side(ctx)?.addresses {
        println!("{host} {ip}");
    }
    Ok(())
}

/// `lowlevel-delete-host`: this host forgets member `host` (see the command's help).
pub fn delete_host(ctx: &Context, host: &str) -> Result<()> {
    ctx.require_cluster()?;
    if host == ctx.host {
        return Err(Error::Name { what: "host", name: host.into(), reason: "that is this host: leave-cluster removes it".into() });
    }
    let side = our_side(ctx)?;
    if !side.addresses.contains_key(host) {
        return Err(Error::NoHost(host.into()));
    }
    let resources: Vec<&str> = side.resources.iter().filter(|(_, m)| m.contains(host)).map(|(r, _)| r.as_str()).collect();
    if !resources.is_empty() {
        return Err(Error::HostInResources { host: host.into(), resources: resources.join(", ") });
    }
    ctx.commit()?;
    let stamp = ctx.stamp(&["ips"])?;
    ctx.tree.set(&ip_link(host), DELETED, stamp)?;
    ctx.trigger();
    println!("{host} deleted on {}; run `marsadm lowlevel-delete-host {host}` on every other member too", ctx.host);
    Ok(())
}

/// What one side of a cluster merge knows: its live addresses and, per resource, its
/// members (hosts with a live `data-<host>`; none for the remains of a deleted one).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Side {
    pub addresses: BTreeMap<String, String>,
    pub resources: BTreeMap<String, BTreeSet<String>>,
}

impl Side {
    /// From `(path, value)` pairs as a listing has them. Only valid host and resource
    /// names and addresses count (a listing comes from the network, and the conflicts
    /// are printed).
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Side {
        let mut side = Side::default();
        for (path, value) in entries {
            if let Some(host) = path.strip_prefix(IPS_DIR).and_then(|p| p.strip_prefix('/')).and_then(|p| p.strip_prefix(IP_PREFIX)) {
                if check_host_name(host).is_ok() && value.parse::<Ipv4Addr>().is_ok() {
                    side.addresses.insert(host.into(), value.into());
                }
            } else if let Some((res, rest)) = path.strip_prefix(RESOURCE_PREFIX).and_then(|p| p.split_once('/')) {
                if check_resource_name(res).is_err() {
                    continue;
                }
                let members = side.resources.entry(res.into()).or_default();
                if let Some(host) = rest.strip_prefix(DATA_PREFIX).filter(|h| value != DELETED && check_host_name(h).is_ok()) {
                    members.insert(host.into());
                }
            }
        }
        side
    }
}

/// Why two clusters cannot be merged (empty: they can). A resource of the same name on
/// both sides is one resource only if a host is its member on both (a host is in one
/// cluster, so the first host of a cluster that merged carries its resources over, and
/// the others find them on the other side already); else merging the trees would mix
/// two resources' links. A host known on both sides must have one address.
pub fn merge_conflicts(ours: &Side, theirs: &Side) -> Vec<String> {
    let names = |m: &BTreeSet<String>| if m.is_empty() { "none (deleted)".to_string() } else { m.iter().cloned().collect::<Vec<_>>().join(", ") };
    let mut out = Vec::new();
    for (res, here) in &ours.resources {
        if let Some(there) = theirs.resources.get(res) {
            if here.is_disjoint(there) {
                out.push(format!("resource {res} is in both clusters (members here: {}; there: {})", names(here), names(there)));
            }
        }
    }
    for (host, here) in &ours.addresses {
        if let Some(there) = theirs.addresses.get(host).filter(|a| *a != here) {
            out.push(format!("host {host} is at {here} here and at {there} there"));
        }
    }
    out
}

/// This host's side of a merge, from its tree.
fn our_side(ctx: &Context) -> Result<Side> {
    let mut entries = Vec::new();
    for name in ctx.tree.list(IPS_DIR)? {
        let path = format!("{IPS_DIR}/{name}");
        if let Some(l) = ctx.tree.get(&path)? {
            entries.push((path, l.value));
        }
    }
    for top in ctx.tree.list("")? {
        if !top.starts_with(RESOURCE_PREFIX) {
            continue;
        }
        entries.push((format!("{top}/"), String::new()));
        for name in ctx.tree.list(&top)?.into_iter().filter(|n| n.starts_with(DATA_PREFIX)) {
            let path = format!("{top}/{name}");
            if let Some(l) = ctx.tree.get(&path)? {
                entries.push((path, l.value));
            }
        }
    }
    Ok(Side::from_entries(entries.iter().map(|(p, v)| (p.as_str(), v.as_str()))))
}

/// What `merge-cluster` and `merge-cluster-check` find out before changing anything
/// (`None`: the same cluster already; an error: conflicts).
struct MergePlan {
    key: [u8; secret::KEY_LEN],
    peer_ip: Ipv4Addr,
    ours: String,
    theirs: String,
    /// Members of this cluster the other one does not know: they run merge-cluster too.
    to_follow: Vec<String>,
}

fn plan_merge(ctx: &Context, peer: &str, peer_ip: Option<Ipv4Addr>, secret_file: Option<&std::path::Path>) -> Result<Option<MergePlan>> {
    ctx.require_mountpoint()?;
    ctx.require_module()?;
    ctx.require_cluster()?;
    let key = secret::read_secret_file(secret_file.ok_or(Error::SecretNeeded)?)?;
    check_host_name(peer).map_err(|e| Error::Name { what: "host", name: peer.into(), reason: e.to_string() })?;
    if peer == ctx.host {
        return Err(Error::Name { what: "peer host", name: peer.into(), reason: "that is this host".into() });
    }
    let peer_ip = match peer_ip {
        Some(a) => a,
        None => address_from_hosts(&std::fs::read_to_string("/etc/hosts").unwrap_or_default(), peer).ok_or_else(|| Error::NoAddress(peer.into()))?,
    };
    let ours = ctx.tree.get(UUID)?.map(|l| l.value).unwrap_or_default();
    let port = std::fs::read_to_string(ctx.proc_sys.join("base_port")).ok().and_then(|p| p.trim().parse().ok()).unwrap_or(DEFAULT_BASE_PORT);
    let timeout = std::time::Duration::from_secs(crate::context::globals().timeout.unwrap_or(10).max(1));
    let listing = probe::look(peer_ip, port, &key, &ctx.host, timeout).map_err(|reason| Error::Probe { peer: peer.into(), ip: peer_ip.to_string(), reason })?;
    let mine = our_side(ctx)?;
    let other = Side::from_entries(listing.entries.iter().map(|e| (e.path.as_str(), e.value.as_str())));
    if listing.uuid == ours {
        println!("{peer} is in this cluster ({ours}) already");
        return Ok(None);
    }
    let conflicts = merge_conflicts(&mine, &other);
    if !conflicts.is_empty() {
        return Err(Error::MergeConflicts { peer: peer.into(), conflicts: conflicts.join("; ") });
    }
    let to_follow = mine.addresses.keys().filter(|h| **h != ctx.host && !other.addresses.contains_key(*h)).cloned().collect();
    Ok(Some(MergePlan { key, peer_ip, ours, theirs: listing.uuid, to_follow }))
}

/// `merge-cluster-check`: whether this host's cluster and PEER's can be merged.
pub fn merge_cluster_check(ctx: &Context, peer: &str, peer_ip: Option<Ipv4Addr>, secret_file: Option<&std::path::Path>) -> Result<()> {
    if let Some(plan) = plan_merge(ctx, peer, peer_ip, secret_file)? {
        println!("this cluster ({}) can merge into {peer}'s ({}): no resource or host conflicts", plan.ours, plan.theirs);
    }
    Ok(())
}

/// `merge-cluster`: this host leaves its cluster's identity for PEER's, keeping its
/// resources (docu/cluster.md, "Merging two clusters").
pub fn merge_cluster(ctx: &Context, peer: &str, peer_ip: Option<Ipv4Addr>, secret_file: Option<&std::path::Path>, timeout_s: u64) -> Result<()> {
    let Some(plan) = plan_merge(ctx, peer, peer_ip, secret_file)? else { return Ok(()) };
    secret::check_adoptable(ctx, &plan.key)?;
    ctx.commit()?;
    let since = ctx.stamp(&["", "ips"])?;
    secret::adopt(ctx, &plan.key)?;
    if ctx.tree.get(&ip_link(peer))?.is_none() {
        ctx.tree.set(&ip_link(peer), &plan.peer_ip.to_string(), since)?;
    }
    ctx.tree.set(UUID, &plan.theirs, since)?;
    println!("{}: cluster {} -> {}", ctx.host, plan.ours, plan.theirs);
    wait_heard(ctx, since, timeout_s, true, Some(peer))?;
    println!("merged: {peer}'s tree is here; {peer} pulls this host's within seconds (`marsadm wait-resource RES` there waits for one)");
    if !plan.to_follow.is_empty() {
        println!(
            "next, without delay (replication between them and this host pauses until then): `marsadm merge-cluster {peer} --secret-file F` on {}",
            plan.to_follow.join(", ")
        );
    }
    println!("when every host of the old cluster has merged: `marsadm rotate-secret --finish` on each of them");
    Ok(())
}

/// `merge-cluster-list`: this cluster's identity, members and resources, to compare
/// with another's by hand.
pub fn merge_cluster_list(ctx: &Context) -> Result<()> {
    ctx.require_cluster()?;
    let side = our_side(ctx)?;
    println!("uuid {}", ctx.tree.get(UUID)?.map(|l| l.value).unwrap_or_default());
    for (host, ip) in &side.addresses {
        println!("host {host} {ip}");
    }
    for (res, members) in &side.resources {
        println!("resource {res} {}", members.iter().cloned().collect::<Vec<_>>().join(","));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    #[test]
    fn a_member_moves_to_another_address() {
        let mut t = ScratchTree::new("set-host-ip", "node1");
        t.set(UUID, "node1_1");
        t.set(&ip_link("node1"), "10.77.0.1");
        t.set(&ip_link("node2"), "10.77.0.2");
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        set_host_ip(&t.ctx, "node2", ip("10.77.0.12")).unwrap();
        assert_eq!(t.ctx.tree.get(&ip_link("node2")).unwrap().unwrap().value, "10.77.0.12");
        // The same again changes nothing.
        let stamp = t.ctx.tree.get(&ip_link("node2")).unwrap().unwrap().stamp_ns;
        set_host_ip(&t.ctx, "node2", ip("10.77.0.12")).unwrap();
        assert_eq!(t.ctx.tree.get(&ip_link("node2")).unwrap().unwrap().stamp_ns, stamp);
        assert!(matches!(set_host_ip(&t.ctx, "node2", ip("10.77.0.1")), Err(Error::AddressTaken { .. })));
        assert!(matches!(set_host_ip(&t.ctx, "node3", ip("10.77.0.3")), Err(Error::NoHost(_))));
        t.set(&ip_link("node3"), DELETED);
        assert!(matches!(set_host_ip(&t.ctx, "node3", ip("10.77.0.3")), Err(Error::NoHost(_))));
    }

    #[test]
    fn finds_own_address_in_hosts() {
        let hosts = "127.0.0.1 localhost\n127.0.1.1 node1\n# 10.0.0.9 node1\n10.77.0.1 node1 node1.example\n10.77.0.2 node2\n";
        assert_eq!(address_from_hosts(hosts, "node1"), Some(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(address_from_hosts(hosts, "node2"), Some(Ipv4Addr::new(10, 77, 0, 2)));
        assert_eq!(address_from_hosts(hosts, "node3"), None);
        assert_eq!(address_from_hosts("127.0.0.1 node4\n", "node4"), None);
    }

    fn side(entries: &[(&str, &str)]) -> Side {
        Side::from_entries(entries.iter().copied())
    }

    #[test]
    fn clusters_merge_only_without_conflicts() {
        let a = side(&[("ips/ip-node1", "10.0.0.1"), ("resource-r0/data-node1", "/dev/vdb"), ("resource-r0/size", "1")]);
        let b = side(&[("ips/ip-node2", "10.0.0.2"), ("ips/ip-node3", "10.0.0.3"), ("resource-r1/data-node2", "/dev/vdb"), ("resource-r1/data-node3", "/dev/vdb")]);
        assert!(merge_conflicts(&b, &a).is_empty());
        // node2 has merged: the other cluster knows r1 and node3 through it; node3 follows.
        let a2 = side(&[
            ("ips/ip-node1", "10.0.0.1"),
            ("ips/ip-node2", "10.0.0.2"),
            ("ips/ip-node3", "10.0.0.3"),
            ("resource-r0/data-node1", "/dev/vdb"),
            ("resource-r1/data-node2", "/dev/vdb"),
            ("resource-r1/data-node3", "/dev/vdb"),
        ]);
        assert!(merge_conflicts(&b, &a2).is_empty());
        // Two resources of one name: never merged, deleted remains included.
        let c = side(&[("ips/ip-node4", "10.0.0.4"), ("resource-r0/data-node4", "/dev/vdb")]);
        assert_eq!(merge_conflicts(&c, &a), ["resource r0 is in both clusters (members here: node4; there: node1)"]);
        let gone = side(&[("resource-r0/data-node4", DELETED), ("resource-r0/size", DELETED)]);
        assert_eq!(merge_conflicts(&gone, &a), ["resource r0 is in both clusters (members here: none (deleted); there: node1)"]);
        // One host, two addresses.
        let d = side(&[("ips/ip-node1", "10.0.0.99"), ("ips/ip-node5", "10.0.0.5")]);
        assert_eq!(merge_conflicts(&d, &a), ["host node1 is at 10.0.0.99 here and at 10.0.0.1 there"]);
        // A deleted address is no address; what is no name or address does not count.
        let e = side(&[("ips/ip-node1", DELETED)]);
        assert!(merge_conflicts(&e, &a).is_empty());
        let hostile = side(&[("ips/ip-node1", "\u{1b}[2J"), ("ips/ip-Node1", "10.0.0.7"), ("resource-R0/data-node1", "/dev/vdb"), ("resource-r0/data-x y", "/dev/vdb")]);
        assert_eq!(hostile, side(&[("resource-r0/size", "1")]));
    }

}
