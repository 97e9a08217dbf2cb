//! `marsadm metrics`: the view's state of every resource in the Prometheus text
//! exposition format (version 0.0.4), on stdout, atomically into a file for
//! node_exporter's textfile collector (`--output`), or served over HTTP (`--listen`).
//! Names, types, units and labels are documented in docu/monitoring.md.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::members::Member;
use super::primitives::{alive_age, progress, Work};
use super::view::{self, ResourceState, DISKSTATES, REPLSTATES, ROLES};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::liveness;
use crate::module;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metric families, written in order.
#[derive(Default)]
struct Exposition {
    text: String,
}

/// A sample's labels, as (name, value) pairs.
type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    /// A family with its HELP and TYPE lines and its samples.
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(Vec<(&str, &str)>, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    fn sample(&mut self, name: &str, labels: Labels<'_>, value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }
}

/// A sample value: integers without a fraction, NaN and infinities as the format spells them.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// What the exposition shows besides the resources: this host, versions, peers.
pub struct HostFacts {
    pub host: String,
    pub module_version: Option<String>,
    /// (peer, seconds since it was last heard from) of every host in /mars/ips.
    pub peers: Vec<(String, Option<f64>)>,
}

/// The exposition of `states` (each resource's view state on `facts.host`). `ages`
/// holds each resource's `view-alive-age` (seconds, `None`: unknown).
fn render(facts: &HostFacts, states: &[(ResourceState, Option<u64>)]) -> String {
    let mut x = Exposition::default();
    let marsadm = env!("CARGO_PKG_VERSION");
    let module = facts.module_version.as_deref().unwrap_or("");
    x.family(
        "mars_info",
        "gauge",
        "Always 1; labels: this host, the marsadm version, the loaded module's version (empty: not loaded).",
        &[(vec![("host", facts.host.as_str()), ("marsadm_version", marsadm), ("module_version", module)], 1.0)],
    );
    x.family("mars_module_loaded", "gauge", "1 if mars.ko is loaded here.", &[(vec![], flag(facts.module_version.is_some()))]);
    let peers: Vec<_> = facts.peers.iter().filter_map(|(p, a)| a.map(|a| (vec![("peer", p.as_str())], a))).collect();
    x.family("mars_peer_last_heard_seconds", "gauge", "Seconds since the peer's liveness link was last renewed here (the peer itself: this host).", &peers);
    let reachable: Vec<_> = facts.peers.iter().map(|(p, a)| (vec![("peer", p.as_str())], flag(a.is_some_and(|a| a <= liveness::UNREACHABLE_AFTER.as_secs_f64())))).collect();
    x.family("mars_peer_reachable", "gauge", "1 if the peer was heard from within 20 s.", &reachable);
    // Space and emergency level are the host's: the same in every resource's state.
    if let Some((s, _)) = states.first() {
        let e = &s.emergency;
        x.family("mars_emergency_level", "gauge", "Emergency level of this host's /mars, 0 (normal) to 4 (logging ceased).", &[(vec![], f64::from(e.level))]);
        if let Some(v) = e.rest_space {
            x.family("mars_space_rest_bytes", "gauge", "Space left in this host's /mars (free minus what RAM buffers still write).", &[(vec![], v as f64)]);
        }
        if let Some(v) = e.total_space {
            x.family("mars_space_total_bytes", "gauge", "Size of this host's /mars.", &[(vec![], v as f64)]);
        }
    }
    let per = |f: &dyn Fn(&ResourceState) -> f64| -> Vec<(Vec<(&str, &str)>, f64)> { states.iter().map(|(s, _)| (vec![("resource", s.name.as_str())], f(s))).collect() };
    x.family("mars_resource_size_bytes", "gauge", "Size of the resource.", &per(&|s| s.size as f64));
    let stateset = |values: &'static [&'static str], label: &'static str, get: &dyn Fn(&ResourceState) -> String| -> Vec<(Vec<(&'static str, String)>, f64)> {
        let mut out = Vec::new();
        for (s, _) in states {
            let current = get(s);
            for v in values {
                out.push((vec![("resource", s.name.clone()), (label, (*v).to_owned())], flag(current == *v)));
            }
        }
        out
    };
    let owned = |v: Vec<(Vec<(&'static str, String)>, f64)>, x: &mut Exposition, name: &str, help: &str| {
        let borrowed: Vec<(Vec<(&str, &str)>, f64)> = v.iter().map(|(l, n)| (l.iter().map(|(k, v)| (*k, v.as_str())).collect(), *n)).collect();
        x.family(name, "gauge", help, &borrowed);
    };
    owned(stateset(&ROLES, "role", &|s| s.role.to_owned()), &mut x, "mars_resource_role", "This host's role (view's role word): 1 for the current one, 0 for the others.");
    owned(stateset(&DISKSTATES, "diskstate", &|s| s.diskstate.clone()), &mut x, "mars_resource_diskstate", "This host's disk state (view's word): 1 for the current one, 0 for the others.");
    owned(stateset(&REPLSTATES, "replstate", &|s| s.replstate.to_owned()), &mut x, "mars_resource_replstate", "This host's replication state (view's word): 1 for the current one, 0 for the others.");
    let primary: Vec<_> = states.iter().filter_map(|(s, _)| s.primary.as_deref().map(|p| (vec![("resource", s.name.as_str()), ("primary", p)], 1.0))).collect();
    x.family("mars_resource_designated_primary", "gauge", "1, labelled with the designated primary (absent: none designated).", &primary);
    x.family("mars_resource_attached", "gauge", "1 if this host is attached (the module reports is-attached).", &per(&|s| flag(s.is_attached)));
    x.family("mars_resource_device_up", "gauge", "1 if the device is up here (the module reports is-primary).", &per(&|s| flag(s.is_primary)));
    x.family("mars_resource_device_openers", "gauge", "Openers of /dev/mars/<dev> here.", &per(&|s| f64::from(s.open_count)));
    x.family("mars_resource_device_requests_per_second", "gauge", "Requests per second to /dev/mars/<dev> here.", &per(&|s| s.device_ops_rate as f64));
    x.family("mars_resource_device_bytes_per_second", "gauge", "Bytes per second to /dev/mars/<dev> here.", &per(&|s| s.rates.device as f64));
    x.family("mars_resource_device_requests_in_flight", "gauge", "Requests /dev/mars/<dev> holds, received and not completed.", &per(&|s| s.device_in_flight as f64));
    x.family("mars_resource_device_wait_seconds", "gauge", "Seconds the oldest request in flight on /dev/mars/<dev> waits at most (0: none).", &per(&|s| s.device_wait_s));
    x.family("mars_resource_consistent", "gauge", "1 if this host's disk is a consistent copy.", &per(&|s| flag(s.is_consistent)));
    x.family("mars_resource_split_brain", "gauge", "1 if the members' logfile histories diverged.", &per(&|s| flag(s.split_brain.is_some())));
    x.family("mars_resource_replay_stopped", "gauge", "1 if the module's replay stopped here (split brain, hole): view's replay_stopped.", &per(&|s| flag(s.replay_stopped.is_some())));
    x.family("mars_resource_takeover_waiting", "gauge", "1 if this host is designated primary and its module does not take over yet: view's takeover_wait says why.", &per(&|s| flag(s.takeover_wait.is_some())));
    x.family("mars_resource_emergency", "gauge", "1 if the resource is in emergency mode here or on its designated primary.", &per(&|s| flag(s.emergency.is_emergency)));
    x.family("mars_resource_disk_error", "gauge", "1 if the resource's disk here refused I/O and has not taken a write since (view's disk_error).", &per(&|s| flag(s.disk_error != 0)));
    x.family("mars_resource_forced_primary", "gauge", "1 if this host took over by primary --force.", &per(&|s| flag(s.is_forced_primary)));
    x.family("mars_resource_sync_queued", "gauge", "1 if the full sync waits for /proc/sys/mars/sync_limit.", &per(&|s| flag(s.is_sync_queued)));
    x.family("mars_resource_actual_primaries", "gauge", "Number of hosts whose device is up; more than 1 is a split brain in the making.", &per(&|s| s.actual_primaries.len() as f64));
    x.family("mars_resource_error", "gauge", "Last errno the module reported for the resource (0: none).", &per(&|s| f64::from(s.error)));
    x.family("mars_resource_emergency_limit_ratio", "gauge", "This host's emergency-limit of the resource (0: none), as a ratio of /mars.", &per(&|s| f64::from(s.emergency.limit_percent) / 100.0));
    x.family("mars_resource_writeback_rest_bytes", "gauge", "Primary: bytes logged but not yet known to be on the disk.", &per(&|s| s.writeback_rest as f64));
    for (w, name) in Work::ALL {
        x.family(&format!("mars_resource_{name}_rest_bytes"), "gauge", &format!("Bytes the {name} has still to go here."), &per(&|s| progress(s, w).0 as f64));
        x.family(
            &format!("mars_resource_{name}_rate_bytes_per_second"),
            "gauge",
            &format!("Rate of the {name} the module reports, averaged over seconds."),
            &per(&|s| progress(s, w).2 as f64),
        );
    }
    let with_work = |f: &dyn Fn(&ResourceState, Work) -> bool| -> Vec<(Vec<(&str, &str)>, f64)> {
        let mut out = Vec::new();
        for (s, _) in states {
            for (w, name) in Work::ALL {
                out.push((vec![("resource", s.name.as_str()), ("work", name)], flag(f(s, w))));
            }
        }
        out
    };
    x.family("mars_resource_switch", "gauge", "1 if this host's switch for the work is on (todo-<host>/sync, connect, allow-replay).", &with_work(&|s, w| w.pick(s.switches.sync, s.switches.fetch, s.switches.replay)));
    x.family("mars_resource_running", "gauge", "1 if the module reports the work running here (is-syncing, is-fetching, is-replaying).", &with_work(&|s, w| w.pick(s.running.sync, s.running.fetch, s.running.replay)));
    let ages: Vec<_> = states.iter().filter_map(|(s, a)| a.map(|a| (vec![("resource", s.name.as_str())], a as f64))).collect();
    x.family("mars_resource_primary_last_heard_seconds", "gauge", "Seconds since the designated primary was last heard from here (view-alive-age; absent: unknown).", &ages);
    let mut split = Vec::new();
    for (s, _) in states {
        for h in s.split_brain.iter().flat_map(|sb| &sb.hosts) {
            split.push((vec![("resource", s.name.as_str()), ("peer", h.host.as_str())], h.bytes_after as f64));
        }
    }
    x.family("mars_resource_split_brain_bytes_after", "gauge", "Split brain: bytes of log the peer's history has beyond the split point.", &split);
    // Every member as this host's tree shows it (view's `members`).
    let member = |value: &dyn Fn(&Member) -> Option<f64>| -> Vec<(Vec<(&str, &str)>, f64)> {
        states.iter().flat_map(|(s, _)| s.members.iter().filter_map(move |m| Some((vec![("resource", s.name.as_str()), ("member", m.host.as_str())], value(m)?)))).collect()
    };
    x.family("mars_member_reachable", "gauge", "1 if the member was heard from within 20 s.", &member(&|m| Some(flag(m.reachable))));
    x.family("mars_member_fetching", "gauge", "1 if the member's module fetches the primary's logfiles.", &member(&|m| Some(flag(m.fetching))));
    x.family("mars_member_consistent", "gauge", "1 if the member's disk is a consistent copy (diskstate UpToDate or Outdated).", &member(&|m| Some(flag(matches!(m.diskstate, "UpToDate" | "Outdated")))));
    x.family("mars_member_sync_rest_bytes", "gauge", "Bytes of the member's disk its full sync has still to go.", &member(&|m| Some(m.sync_rest as f64)));
    x.family("mars_member_lag_bytes", "gauge", "Bytes of the primary's log the member has not replayed (absent: the primary itself, or none is up).", &member(&|m| m.lag_bytes.map(|b| b as f64)));
    x.family("mars_member_lag_seconds", "gauge", "Age of the oldest write the member has not applied: its recovery point (absent: unknown here).", &member(&|m| m.lag_seconds));
    let rpo: Vec<_> = states.iter().filter_map(|(s, _)| s.rpo_seconds.map(|r| (vec![("resource", s.name.as_str())], r as f64))).collect();
    x.family("mars_resource_rpo_seconds", "gauge", "The recovery point objective (marsadm set-rpo; absent: none).", &rpo);
    x.family("mars_member_beyond_rpo", "gauge", "1 if the member's lag_seconds is beyond the recovery point objective.", &member(&|m| Some(flag(m.beyond_rpo))));
    x.family("mars_member_last_heard_seconds", "gauge", "Seconds since the member was last heard from (absent: never).", &member(&|m| m.last_heard_ms.map(|ms| ms as f64 / 1000.0)));
    x.text
}

/// The exposition of the resources `which` names, as this host sees them now.
pub fn collect(ctx: &Context, which: &str) -> Result<String> {
    ctx.require_mountpoint()?;
    let mut states = Vec::new();
    for res in view::selected(ctx, which)? {
        let s = view::resource_state(ctx, &res)?;
        let age = alive_age(ctx, &s)?;
        states.push((s, age));
    }
    let mut peers = Vec::new();
    for name in ctx.tree.list(mars_core::tree::IPS_DIR)? {
        if let Some(peer) = name.strip_prefix(mars_core::tree::IP_PREFIX) {
            if ctx.tree.get(&format!("{}/{name}", mars_core::tree::IPS_DIR))?.is_some() {
                peers.push((peer.to_owned(), liveness::last_heard(ctx, peer)?.map(|d| d.as_secs_f64())));
            }
        }
    }
    let facts = HostFacts { host: ctx.host.clone(), module_version: module::loaded_version(&ctx.proc_sys)?, peers };
    Ok(render(&facts, &states))
}

/// Writes `text` to `path` atomically: a temporary file in the same directory (not named
/// `*.prom`, which node_exporter would read), synced, then renamed over `path`.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::NotAFile(path.to_owned()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let fail = |what: &'static str| move |source| Error::Tree { path: path.to_owned(), what, source };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail("write"))
}

/// `metrics [--output FILE | --listen ADDR:PORT]`.
pub fn metrics(ctx: &Context, which: &str, output: Option<&Path>, listen: Option<SocketAddr>) -> Result<()> {
    if let Some(addr) = listen {
        return serve(ctx, which, addr);
    }
    let text = collect(ctx, which)?;
    match output {
        Some(path) => write_atomically(path, &text),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// A small HTTP/1.0 server: `GET /metrics` answers the exposition, computed anew for
/// each request, one connection at a time (a scraper asks every few seconds).
fn serve(ctx: &Context, which: &str, addr: SocketAddr) -> Result<()> {
    ctx.require_mountpoint()?;
    let listener = TcpListener::bind(addr).map_err(|source| Error::Listen { addr, source })?;
    eprintln!("marsadm: serving metrics on http://{}/metrics", listener.local_addr().unwrap_or(addr));
    serve_on(&listener, &|| collect(ctx, which));
    Ok(())
}

/// Answers the requests that arrive at `listener`, with `produce`'s exposition.
fn serve_on(listener: &TcpListener, produce: &dyn Fn() -> Result<String>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if let Err(e) = answer(stream, produce) {
            eprintln!("marsadm: metrics request: {e}");
        }
    }
}

/// The request line's method and path: reads the head of the request (up to 8 KiB).
fn request_target(stream: &mut TcpStream) -> std::io::Result<(String, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    Ok((words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned()))
}

fn answer(mut stream: TcpStream, produce: &dyn Fn() -> Result<String>) -> std::io::Result<()> {
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let (method, target) = request_target(&mut stream)?;
    let path = target.split('?').next().unwrap_or("");
    let (status, kind, body) = match (method.as_str(), path) {
        ("GET" | "HEAD", "/metrics") => match produce() {
            Ok(text) => ("200 OK", CONTENT_TYPE, text),
            Err(e) => ("500 Internal Server Error", "text/plain; charset=utf-8", format!("{e}\n")),
        },
        ("GET" | "HEAD", "/") => ("200 OK", "text/plain; charset=utf-8", "MARS metrics: /metrics\n".to_owned()),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_owned()),
    };
    write!(stream, "HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{ScratchDir, ScratchTree};

    fn tree(tag: &str) -> ScratchTree {
        let mut t = ScratchTree::node1_primary(&format!("metrics-{tag}"), "node2");
        for h in ["node1", "node2"] {
            t.set(&format!("ips/ip-{h}"), "10.0.0.1");
        }
        t.set("resource-r0/syncstatus-node2", "262144");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.set("resource-r0/actual-node2/sync-rate", "4096");
        t.set("resource-r0/actual-node2/is-syncing", "1");
        t.set("actual-node2/rest-space-kb", "1000");
        t.set("actual-node2/total-space-kb", "2000");
        t.heard("node1", 3);
        t
    }

    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_owned(), v.parse().unwrap())).unwrap()).collect()
    }

    fn get(text: &str, key: &str) -> f64 {
        samples(text).into_iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no sample {key} in\n{text}")).1
    }

    /// A syncing secondary's exposition carries the view's values.
    #[test]
    fn a_syncing_secondary() {
        let t = tree("sync");
        let ctx = &t.ctx;
        let text = collect_without_mountpoint(&ctx);
        let s = view::resource_state(&ctx, "r0").unwrap();
        assert_eq!((s.diskstate.as_str(), s.replstate), ("Inconsistent", "Syncing"));
        assert_eq!(get(&text, r#"mars_resource_size_bytes{resource="r0"}"#), 1048576.0);
        assert_eq!(get(&text, r#"mars_resource_sync_rest_bytes{resource="r0"}"#), s.sync_rest as f64);
        assert_eq!(get(&text, r#"mars_resource_sync_rate_bytes_per_second{resource="r0"}"#), 4096.0);
        assert_eq!(get(&text, r#"mars_resource_replstate{resource="r0",replstate="Syncing"}"#), 1.0);
        assert_eq!(get(&text, r#"mars_resource_replstate{resource="r0",replstate="Replaying"}"#), 0.0);
        assert_eq!(get(&text, r#"mars_resource_diskstate{resource="r0",diskstate="Inconsistent"}"#), 1.0);
        assert_eq!(get(&text, r#"mars_resource_role{resource="r0",role="Secondary"}"#), 1.0);
        assert_eq!(get(&text, r#"mars_resource_running{resource="r0",work="sync"}"#), 1.0);
        assert_eq!(get(&text, r#"mars_resource_designated_primary{resource="r0",primary="node1"}"#), 1.0);
        assert_eq!(get(&text, "mars_space_rest_bytes"), 1000.0 * 1024.0);
        assert_eq!(get(&text, r#"mars_peer_reachable{peer="node1"}"#), 1.0);
        assert!((3.0..10.0).contains(&get(&text, r#"mars_resource_primary_last_heard_seconds{resource="r0"}"#)));
        // Each state set has exactly one 1 per resource.
        for family in ["mars_resource_role{", "mars_resource_diskstate{", "mars_resource_replstate{"] {
            let ones: f64 = samples(&text).iter().filter(|(k, _)| k.starts_with(family)).map(|(_, v)| v).sum();
            assert_eq!(ones, 1.0, "{family}");
        }
        // Every family has HELP and TYPE, every name follows the conventions.
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split_whitespace().nth(2).unwrap();
            assert!(name.starts_with("mars_") && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            let doc = include_str!("../../../docu/monitoring.md");
            assert!(doc.contains(&format!("`{name}`")), "{name} is not documented in docu/monitoring.md");
        }
    }

    /// promtool (Debian's prometheus package, installed by scripts/setup.sh) accepts it.
    #[test]
    fn promtool_accepts_the_exposition() {
        let t = tree("promtool");
        let text = collect_without_mountpoint(&t.ctx);
        let child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("promtool not installed (scripts/setup.sh installs it): not checked");
            return;
        };
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "promtool: {}{}\n{text}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// The metric names an expression refers to.
    fn metric_names(expr: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = expr;
        while let Some(i) = rest.find("mars_") {
            let name: String = rest[i..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit()).collect();
            rest = &rest[i + name.len()..];
            out.push(name);
        }
        out
    }

    /// The alert rules (packaging/prometheus) and the Grafana dashboard (packaging/grafana)
    /// ask only for metrics marsadm exports (those docu/monitoring.md lists; every exported
    /// one is listed, `a_syncing_secondary`); promtool accepts the rules and their unit
    /// tests pass.
    #[test]
    fn alert_rules_and_dashboard() {
        let doc = include_str!("../../../docu/monitoring.md");
        let known = |name: &str| doc.contains(&format!("| `{name}` |"));
        let rules = include_str!("../../../packaging/prometheus/mars.rules.yml");
        let exprs: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("expr:")).collect();
        assert_eq!(exprs.len(), rules.matches("- alert:").count());
        let dashboard: serde_json::Value = serde_json::from_str(include_str!("../../../packaging/grafana/mars-dashboard.json")).expect("the dashboard is JSON");
        assert_eq!(dashboard["uid"], "mars-replication");
        let panels = dashboard["panels"].as_array().expect("panels");
        let mut queries: Vec<String> = panels.iter().flat_map(|p| p["targets"].as_array().into_iter().flatten()).map(|t| t["expr"].as_str().expect("expr").to_owned()).collect();
        assert!(panels.iter().all(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty())), "a panel without a query");
        queries.extend(exprs.iter().map(|e| e.to_string()));
        queries.push(dashboard["templating"]["list"][1]["definition"].as_str().expect("resource variable").to_owned());
        for q in &queries {
            let names = metric_names(q);
            assert!(!names.is_empty(), "no metric in {q}");
            for name in names {
                assert!(known(&name), "{name} (in {q}) is no metric marsadm exports");
            }
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/prometheus");
        for args in [&["check", "rules", "mars.rules.yml"][..], &["test", "rules", "mars.rules.test.yml"]] {
            let Ok(out) = std::process::Command::new("promtool").args(args).current_dir(dir).output() else {
                eprintln!("promtool not installed (scripts/setup.sh installs it): not checked");
                return;
            };
            assert!(out.status.success(), "promtool {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
    }

    /// `collect` without the mountpoint check (the test tree is a plain directory).
    fn collect_without_mountpoint(ctx: &Context) -> String {
        let s = view::resource_state(ctx, "r0").unwrap();
        let age = alive_age(ctx, &s).unwrap();
        let peers = vec![("node1".to_owned(), liveness::last_heard(ctx, "node1").unwrap().map(|d| d.as_secs_f64())), ("node2".to_owned(), None)];
        render(&HostFacts { host: ctx.host.clone(), module_version: None, peers }, &[(s, age)])
    }

    /// The HTTP server on loopback: /metrics, 404, 405, HEAD.
    #[test]
    fn http_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || serve_on(&listener, &|| Ok("mars_x 1\n".to_owned())));
        let ask = |request: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let ok = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
        assert!(ok.contains(&format!("\r\nContent-Type: {CONTENT_TYPE}\r\n")), "{ok}");
        assert!(ok.ends_with("\r\nContent-Length: 9\r\nConnection: close\r\n\r\nmars_x 1\n"), "{ok}");
        assert!(ask("GET /metrics?x=1 HTTP/1.0\n\n").ends_with("mars_x 1\n"));
        assert!(ask("GET /other HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404 "));
        assert!(ask("POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 405 "));
        assert!(ask("HEAD /metrics HTTP/1.0\r\n\r\n").ends_with("\r\n\r\n"), "no body for HEAD");
    }

    #[test]
    fn escaping_and_numbers() {
        let mut x = Exposition::default();
        x.family("mars_x", "gauge", "a\\b", &[(vec![("l", "a\"b\\c\nd")], 0.5)]);
        assert_eq!(x.text, "# HELP mars_x a\\\\b\n# TYPE mars_x gauge\nmars_x{l=\"a\\\"b\\\\c\\nd\"} 0.5\n");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1e20), "100000000000000000000");
    }

    #[test]
    fn the_textfile_is_replaced_atomically() {
        let dir = ScratchDir::new("metrics-out");
        let path = dir.join("mars.prom");
        write_atomically(&path, "a 1\n").unwrap();
        write_atomically(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
    }
}
