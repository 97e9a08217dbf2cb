//! Cluster membership: `create-cluster`.

use std::net::Ipv4Addr;

use mars_core::lamport::format_stamp;
use mars_core::tree::{ACTUAL_PREFIX, UUID};

use crate::context::Context;
use crate::error::{Error, Result};

/// `/mars/ips/ip-<host>`: the address peers use to reach `<host>`.
fn ip_link(host: &str) -> String {
    format!("ips/ip-{host}")
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
    let stamp = ctx.stamp(&["", "ips"])?;
    let mut buf = [0u8; 32];
    let uuid = format!("{}_{}", ctx.host, format_stamp(stamp, &mut buf));
    ctx.tree.set(&ip_link(&ctx.host), &ip.to_string(), stamp)?;
    let actual = ctx.tree.path(&format!("{ACTUAL_PREFIX}{}", ctx.host));
    std::fs::create_dir_all(&actual).map_err(|e| Error::Tree { path: actual, what: "create directory", source: e })?;
    // The uuid last: its presence means "this host is a cluster member".
    ctx.tree.set(UUID, &uuid, stamp)?;
    ctx.trigger();
    println!("created cluster {uuid} with {} at {ip}", ctx.host);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_own_address_in_hosts() {
        let hosts = "127.0.0.1 localhost\n127.0.1.1 node1\n# 10.0.0.9 node1\n10.77.0.1 node1 node1.example\n10.77.0.2 node2\n";
        assert_eq!(address_from_hosts(hosts, "node1"), Some(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(address_from_hosts(hosts, "node2"), Some(Ipv4Addr::new(10, 77, 0, 2)));
        assert_eq!(address_from_hosts(hosts, "node3"), None);
        assert_eq!(address_from_hosts("127.0.0.1 node4\n", "node4"), None);
    }
}
