//! `marsadm events [RES|all] [--json]`: a stream of state changes. Each poll computes
//! every resource's view state ([`view::resource_state`], the same words `view` prints)
//! and prints the differences to the previous poll, one line each; there is no second
//! vocabulary. The JSON form is versioned ([`SCHEMA_VERSION`], docu/marsadm-json.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use super::view::{self, ResourceState, Running};
use crate::context::Context;
use crate::error::Result;

/// JSON schema version of `events --json` (docu/marsadm-json.md).
pub const SCHEMA_VERSION: u32 = 1;

/// What the stream watches of a resource: the view's words and flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watched {
    pub role: &'static str,
    pub primary: Option<String>,
    pub diskstate: String,
    pub replstate: &'static str,
    pub is_split_brain: bool,
    pub is_emergency: bool,
    pub running: Running,
    /// Why replay stopped here (`null`: it did not).
    pub replay_stopped: Option<&'static str>,
    /// Why this host, designated primary, does not take over yet (`null`: it does not
    /// wait).
    pub takeover_wait: Option<&'static str>,
    /// The other members' roles, disk states and reachability (`view`'s `members`).
    pub members: Vec<WatchedMember>,
}

/// What the stream watches of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchedMember {
    pub host: String,
    pub role: &'static str,
    pub diskstate: &'static str,
    pub reachable: bool,
    /// Its lag is beyond the recovery point objective (`view`'s `members[].beyond_rpo`).
    pub beyond_rpo: bool,
}

impl Watched {
    /// What `me` watches of state `s`: the other members apart from its own state.
    fn of(s: &ResourceState, me: &str) -> Self {
        Watched {
            role: s.role,
            primary: s.primary.clone(),
            diskstate: s.diskstate.clone(),
            replstate: s.replstate,
            is_split_brain: s.split_brain.is_some(),
            is_emergency: s.emergency.is_emergency,
            running: s.running,
            replay_stopped: s.replay_stopped,
            takeover_wait: s.takeover_wait,
            members: s.members.iter().filter(|m| m.host != me).map(|m| WatchedMember { host: m.host.clone(), role: m.role, diskstate: m.diskstate, reachable: m.reachable, beyond_rpo: m.beyond_rpo }).collect(),
        }
    }
}

/// One change of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `state` (the whole watched state: at the start and when a resource appears),
    /// `removed`, `primary`, `role`, `diskstate`, `replstate`, `split-brain`,
    /// `emergency`, `replay-stopped`, `takeover-wait` (with `old` and `new`),
    /// `{sync,fetch,replay}-{started,finished}`.
    pub event: &'static str,
    /// The member a `member-*` event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Watched>,
}

impl Event {
    fn change(event: &'static str, old: impl Into<Value>, new: impl Into<Value>) -> Event {
        Event { event, member: None, old: Some(old.into()), new: Some(new.into()), state: None }
    }

    fn bare(event: &'static str) -> Event {
        Event { event, member: None, old: None, state: None, new: None }
    }

    fn of_member(event: &'static str, member: &str, old: impl Into<Value>, new: impl Into<Value>) -> Event {
        Event { member: Some(member.to_owned()), ..Event::change(event, old, new) }
    }
}

/// The events that lead from `old` to `new` (`None`: the resource does not exist), in a
/// fixed order: designated primary, role, disk state, replication state, split brain,
/// emergency, replay stop, takeover wait, sync, fetch, replay, then the members by name
/// (role, disk state, reachability, recovery point objective).
pub fn diff(old: Option<&Watched>, new: Option<&Watched>) -> Vec<Event> {
    let (o, n) = match (old, new) {
        (None, None) => return Vec::new(),
        (_, None) => return vec![Event::bare("removed")],
        (None, Some(n)) => return vec![Event { state: Some(n.clone()), ..Event::bare("state") }],
        (Some(o), Some(n)) => (o, n),
    };
    let mut out = Vec::new();
    // The designation first: a role changes because of it.
    if o.primary != n.primary {
        out.push(Event::change("primary", o.primary.clone(), n.primary.clone()));
    }
    if o.role != n.role {
        out.push(Event::change("role", o.role, n.role));
    }
    if o.diskstate != n.diskstate {
        out.push(Event::change("diskstate", o.diskstate.clone(), n.diskstate.clone()));
    }
    if o.replstate != n.replstate {
        out.push(Event::change("replstate", o.replstate, n.replstate));
    }
    if o.is_split_brain != n.is_split_brain {
        out.push(Event::change("split-brain", o.is_split_brain, n.is_split_brain));
    }
    if o.is_emergency != n.is_emergency {
        out.push(Event::change("emergency", o.is_emergency, n.is_emergency));
    }
    if o.replay_stopped != n.replay_stopped {
        out.push(Event::change("replay-stopped", o.replay_stopped, n.replay_stopped));
    }
    if o.takeover_wait != n.takeover_wait {
        out.push(Event::change("takeover-wait", o.takeover_wait, n.takeover_wait));
    }
    let work = [
        (o.running.sync, n.running.sync, "sync-started", "sync-finished"),
        (o.running.fetch, n.running.fetch, "fetch-started", "fetch-finished"),
        (o.running.replay, n.running.replay, "replay-started", "replay-finished"),
    ];
    for (was, is, started, finished) in work {
        if was != is {
            out.push(Event::bare(if is { started } else { finished }));
        }
    }
    // The other members, by name (one that joins or leaves: from or to `null`).
    let hosts: std::collections::BTreeSet<&str> = o.members.iter().chain(&n.members).map(|m| m.host.as_str()).collect();
    for host in hosts {
        let (was, is) = (o.members.iter().find(|m| m.host == host), n.members.iter().find(|m| m.host == host));
        let values = |m: Option<&WatchedMember>| m.map_or([Value::Null, Value::Null, Value::Null, Value::Null], |m| [m.role.into(), m.diskstate.into(), m.reachable.into(), m.beyond_rpo.into()]);
        let events = ["member-role", "member-diskstate", "member-reachable", "member-beyond-rpo"];
        for ((event, old), new) in events.into_iter().zip(values(was)).zip(values(is)) {
            if old != new {
                out.push(Event::of_member(event, host, old, new));
            }
        }
    }
    out
}

/// A line of the JSON stream.
#[derive(Serialize)]
struct Line<'a> {
    schema_version: u32,
    /// UTC, RFC 3339 with milliseconds.
    time: String,
    host: &'a str,
    resource: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// `2026-12-02T10:11:12.345Z` for `t`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rest / 3600, rest / 60 % 60, rest % 60, d.subsec_millis())
}

/// The text form of an event: `<time> <host> <resource> <event> [old -> new | state]`.
fn text_line(time: &str, host: &str, res: &str, e: &Event) -> String {
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    };
    let what = match (&e.old, &e.new, &e.state) {
        (Some(o), Some(n), _) => format!(" {} -> {}", show(o), show(n)),
        (_, _, Some(s)) => format!(
            " role={} primary={} diskstate={} replstate={} split-brain={} emergency={} running={}{}{}",
            s.role,
            s.primary.as_deref().unwrap_or("(none)"),
            s.diskstate,
            s.replstate,
            u8::from(s.is_split_brain),
            u8::from(s.is_emergency),
            if s.running.sync { "S" } else { "-" },
            if s.running.fetch { "F" } else { "-" },
            if s.running.replay { "R" } else { "-" },
        ),
        _ => String::new(),
    };
    let member = e.member.as_deref().map_or(String::new(), |m| format!(" {m}"));
    format!("{time} {host} {res} {}{member}{what}", e.event)
}

/// The watched states of the resources `which` names (`all`: those known now; a named
/// one that is gone is simply absent).
fn poll(ctx: &Context, which: &str) -> Result<BTreeMap<String, Watched>> {
    let known = super::resource::resources(ctx)?;
    let names: Vec<String> = if which == "all" { known } else { which.split(',').filter(|r| known.iter().any(|k| k == r)).map(str::to_owned).collect() };
    let mut out = BTreeMap::new();
    for res in names {
        out.insert(res.clone(), Watched::of(&view::resource_state(ctx, &res)?, &ctx.host));
    }
    Ok(out)
}

/// `events`: prints the state of each resource, then every change, polling every
/// `interval`; ends after `count` events (if given) or when stdout is closed.
pub fn events(ctx: &Context, which: &str, json: bool, interval: Duration, count: Option<u64>) -> Result<()> {
    ctx.require_mountpoint()?;
    if which != "all" {
        view::selected(ctx, which)?;
    }
    let mut seen: BTreeMap<String, Watched> = BTreeMap::new();
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    loop {
        // A look that fails (a link replaced while it is read) is repeated at the next.
        let now = match poll(ctx, which) {
            Ok(now) => now,
            Err(e) => {
                eprintln!("marsadm: events: {e}; trying again");
                std::thread::sleep(interval);
                continue;
            }
        };
        let time = rfc3339(SystemTime::now());
        let names: std::collections::BTreeSet<&String> = seen.keys().chain(now.keys()).collect();
        let mut lines = Vec::new();
        for res in names {
            for e in diff(seen.get(res), now.get(res)) {
                lines.push(if json {
                    serde_json::to_string(&Line { schema_version: SCHEMA_VERSION, time: time.clone(), host: &ctx.host, resource: res, event: &e })?
                } else {
                    text_line(&time, &ctx.host, res, &e)
                });
            }
        }
        let mut out = stdout.lock();
        for line in lines {
            // A closed pipe (the reader went away) ends the stream.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
            printed += 1;
            if count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
        }
        drop(out);
        seen = now;
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    /// A real `/mars` tree of resource r0 (node1 primary, node2 secondary), seen from node2.
    fn tree(tag: &str) -> ScratchTree {
        let mut t = ScratchTree::node1_primary(&format!("events-{tag}"), "node2");
        t.set("resource-r0/syncstatus-node1", "1048576");
        t.set("resource-r0/replay-node1", "log-000000001-node1,0,0");
        t
    }

    fn watched(t: &ScratchTree) -> Watched {
        Watched::of(&view::resource_state(&t.ctx, "r0").unwrap(), &t.ctx.host)
    }

    fn names(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.event).collect()
    }

    /// A join: the sync starts and runs, then replay takes over and the copy is UpToDate;
    /// then a handover makes node2 primary.
    #[test]
    fn a_join_and_a_handover_as_events() {
        let mut t = tree("join");
        t.set("resource-r0/syncstatus-node2", "0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        let s0 = watched(&t);
        assert_eq!(names(&diff(None, Some(&s0))), ["state"]);
        assert_eq!((s0.diskstate.as_str(), s0.replstate), ("Inconsistent", "Syncing"));

        t.set("resource-r0/actual-node2/is-syncing", "1");
        t.set("resource-r0/actual-node2/is-fetching", "1");
        let s1 = watched(&t);
        assert_eq!(names(&diff(Some(&s0), Some(&s1))), ["sync-started", "fetch-started"]);

        // The sync has reached the size; its thread waits for the module's next round to be
        // stopped (is-syncing still 1): the sync is finished in the same look as UpToDate.
        t.set("resource-r0/syncstatus-node2", "1048576");
        t.set("resource-r0/actual-node2/is-replaying", "1");
        let s2 = watched(&t);
        let d = diff(Some(&s1), Some(&s2));
        assert_eq!(names(&d), ["diskstate", "replstate", "sync-finished", "replay-started"]);
        assert_eq!(d[0], Event::change("diskstate", "Inconsistent", "UpToDate"));
        assert_eq!(d[1], Event::change("replstate", "Syncing", "Replaying"));
        assert!(diff(Some(&s2), Some(&watched(&t))).is_empty(), "nothing changed, nothing printed");
        t.set("resource-r0/actual-node2/is-syncing", "0");
        assert!(diff(Some(&s2), Some(&watched(&t))).is_empty(), "the thread's stop is no second sync-finished");

        t.set("resource-r0/todo-node2/allow-replay", "0");
        let s3 = watched(&t);
        assert_eq!(diff(Some(&s2), Some(&s3)), [Event::change("replstate", "Replaying", "PausedReplay")]);

        // Handover: node2 designated, then its device comes up, node1's goes.
        t.set("resource-r0/todo-node2/allow-replay", "1");
        t.set("resource-r0/primary", "node2");
        let s4 = watched(&t);
        let d = diff(Some(&s3), Some(&s4));
        assert_eq!(names(&d), ["primary", "role", "replstate", "member-role"]);
        assert_eq!(d[0], Event::change("primary", "node1", "node2"));
        assert_eq!(d[1], Event::change("role", "Secondary", "NotYetPrimary"));
        // node1 keeps its device until it is closed.
        assert_eq!(d[3], Event::of_member("member-role", "node1", "Primary", "RemainsPrimary"));
        // Its module says why it waits, then that it does not.
        t.set("resource-r0/actual-node2/takeover-wait", "OldPrimaryActive");
        let s4b = watched(&t);
        assert_eq!(diff(Some(&s4), Some(&s4b)), [Event::change("takeover-wait", None::<&str>, Some("OldPrimaryActive"))]);
        t.set("resource-r0/actual-node2/takeover-wait", "0");
        assert_eq!(diff(Some(&s4b), Some(&watched(&t))), [Event::change("takeover-wait", Some("OldPrimaryActive"), None::<&str>)]);
        t.set("resource-r0/actual-node1/is-primary", "0");
        t.set("resource-r0/actual-node2/is-primary", "1");
        t.set("resource-r0/actual-node2/is-fetching", "0");
        t.set("resource-r0/actual-node2/is-replaying", "0");
        // node1 follows node2: its fetch runs.
        t.set("resource-r0/actual-node1/is-fetching", "1");
        let s5 = watched(&t);
        let d = diff(Some(&s4), Some(&s5));
        assert_eq!(names(&d), ["role", "replstate", "fetch-finished", "replay-finished", "member-role"]);
        assert_eq!(d[0], Event::change("role", "NotYetPrimary", "Primary"));
        assert_eq!(d[4], Event::of_member("member-role", "node1", "RemainsPrimary", "Secondary"));
        assert_eq!(d[1], Event::change("replstate", "Replaying", "Replicating"));
        // Its fetch stops: the primary has no secondary following it.
        t.set("resource-r0/actual-node1/is-fetching", "0");
        assert_eq!(diff(Some(&s5), Some(&watched(&t))), [Event::change("replstate", "Replicating", "NoSecondaryConnected")]);
        // node1 not heard from any more; a third member joins.
        t.heard("node1", 60);
        t.set("resource-r0/data-node3", "/dev/vdb");
        let d = diff(Some(&s5), Some(&watched(&t)));
        assert_eq!(names(&d), ["replstate", "member-reachable", "member-role", "member-diskstate", "member-reachable", "member-beyond-rpo"], "{d:?}");
        assert_eq!(d[1], Event::of_member("member-reachable", "node1", true, false));
        assert_eq!(d[2], Event::of_member("member-role", "node3", Value::Null, "None"));
        assert_eq!(text_line("T", "node2", "r0", &d[1]), "T node2 r0 member-reachable node1 true -> false");
        // An objective of 1 s: node1's replay link is at the start of logfile 1, whose
        // record here is 5 s old (node2 has it).
        let now = crate::tree::real_time_ns();
        t.logfile_with_records("resource-r0/log-000000001-node1", &[(0, now - 5_000_000_000)]);
        t.set("resource-r0/replay-node2", "log-000000001-node1,8192,0");
        let s6 = watched(&t);
        t.set("resource-r0/rpo", "1");
        let d = diff(Some(&s6), Some(&watched(&t)));
        assert_eq!(d, [Event::of_member("member-beyond-rpo", "node1", false, true)], "{d:?}");
        assert_eq!(names(&diff(Some(&s5), None)), ["removed"]);
    }

    #[test]
    fn a_split_brain_and_emergency_as_events() {
        let mut t = tree("split");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        let s0 = watched(&t);
        // Both wrote a logfile numbered 2: the view calls it a split brain.
        std::fs::write(t.ctx.tree.path("resource-r0/log-000000002-node1"), b"").unwrap();
        std::fs::write(t.ctx.tree.path("resource-r0/log-000000002-node2"), b"").unwrap();
        t.set("resource-r0/actual-node2/has-emergency", "1");
        let s1 = watched(&t);
        let d = diff(Some(&s0), Some(&s1));
        assert_eq!(d, [Event::change("split-brain", false, true), Event::change("emergency", false, true)]);
    }

    #[test]
    fn a_replay_stop_as_events() {
        let mut t = tree("stop");
        t.set("resource-r0/replay-node2", "log-000000001-node1,0,0");
        t.set("resource-r0/actual-node2/is-replaying", "1");
        t.set("resource-r0/actual-node2/replay-stopped", "0");
        let s0 = watched(&t);
        t.set("resource-r0/actual-node2/replay-stopped", "VersionMismatch");
        let s1 = watched(&t);
        assert_eq!(diff(Some(&s0), Some(&s1)), [Event::change("replay-stopped", None::<&str>, Some("VersionMismatch"))]);
        // What a replay thread that has ended wrote last is no stop.
        t.set("resource-r0/actual-node2/is-replaying", "0");
        let s2 = watched(&t);
        assert_eq!(diff(Some(&s1), Some(&s2)), [Event::change("replay-stopped", Some("VersionMismatch"), None::<&str>), Event::bare("replay-finished")]);
    }

    /// The documented JSON line has exactly the fields marsadm prints.
    #[test]
    fn json_lines_and_documentation() {
        let t = tree("json");
        let s = watched(&t);
        let e = diff(None, Some(&s)).remove(0);
        let line = Line { schema_version: SCHEMA_VERSION, time: "2026-12-02T10:11:12.345Z".into(), host: "node2", resource: "r0", event: &e };
        let printed: Value = serde_json::to_value(&line).unwrap();
        let doc = include_str!("../../../docu/marsadm-json.md");
        let section = doc.split("## `marsadm events").nth(1).expect("events section");
        assert!(section.contains(&format!("(schema_version {SCHEMA_VERSION})")));
        let examples: Vec<Value> = section
            .split("```json")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("events example")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("each example line is JSON"))
            .collect();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&examples[0]), keys(&printed));
        assert_eq!(keys(&examples[0]["state"]), keys(&printed["state"]));
        let change = Line { event: &Event::change("role", "Secondary", "Primary"), ..line };
        assert!(examples.iter().any(|x| keys(x) == keys(&serde_json::to_value(&change).unwrap())));
        for kind in ["state", "removed", "role", "primary", "diskstate", "replstate", "split-brain", "emergency", "sync-started", "replay-finished"] {
            assert!(section.contains(&format!("`{kind}`")), "event {kind} is not described");
        }
    }

    #[test]
    fn text_lines() {
        let t = tree("text");
        let state = diff(None, Some(&watched(&t))).remove(0);
        assert_eq!(
            text_line("T", "node2", "r0", &state),
            "T node2 r0 state role=Secondary primary=node1 diskstate=Inconsistent replstate=Replaying split-brain=0 emergency=0 running=---"
        );
        assert_eq!(text_line("T", "node2", "r0", &Event::change("primary", Some("node1"), None::<&str>)), "T node2 r0 primary node1 -> (none)");
        assert_eq!(text_line("T", "node2", "r0", &Event::bare("sync-started")), "T node2 r0 sync-started");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_709_210_096_789)), "2024-02-29T12:34:56.789Z");
    }
}
