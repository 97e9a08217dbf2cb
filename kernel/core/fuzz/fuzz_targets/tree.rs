//! Names and tree values as read from `/mars` or a peer's listing: `LogName`,
//! `ReplayLink`, `VersionLink`, `parse_log_path`, the name checks, Lamport stamps,
//! addresses, wire paths, the ownership rules of a peer's entries (`classify`,
//! `Rule::allows`, `may_merge`, `decide`), unit names of `systemd-start-unit`/`-stop-unit`
//! (`check_unit_name`). What parses must print and parse to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mars_core::lamport::parse_stamp;
use mars_core::merge::LinkState;
use mars_core::ownership::{classify, decide, may_merge, Rule, Verdict};
use mars_core::names::{check_device_name, check_host_name, check_resource_name, check_unit_name, UNIT_SUFFIXES};
use mars_core::tree::{parse_log_path, LogName, ReplayLink, VersionLink};
use mars_core::wire::{check_tree_path, parse_ipv4};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = core::str::from_utf8(data) else { return };
    if let Ok(n) = LogName::parse(s) {
        let t = n.to_string();
        assert_eq!(LogName::parse(&t), Ok(n));
    }
    if let Ok(r) = ReplayLink::parse(s) {
        let t = r.to_string();
        assert_eq!(ReplayLink::parse(&t), Ok(r));
    }
    let _ = VersionLink::parse(s);
    if let Some((res, name)) = parse_log_path(s) {
        assert!(check_resource_name(res).is_ok() && check_host_name(name.host).is_ok());
        assert!(check_tree_path(s).is_ok(), "a log path must be a safe wire path: {s:?}");
    }
    let _ = (check_host_name(s), check_resource_name(s), check_device_name(s));
    // A unit name from a peer is never a path, never needs quoting, and names a unit.
    if check_unit_name(s).is_ok() {
        assert!(!s.contains('/') && !s.contains(char::is_whitespace) && !s.starts_with('-') && !s.starts_with('.'), "{s:?}");
        assert!(UNIT_SUFFIXES.iter().any(|x| s.ends_with(x) && s.len() > x.len()), "{s:?}");
    }
    let _ = parse_stamp(s);
    let _ = parse_ipv4(s);
    if check_tree_path(s).is_ok() {
        assert!(!s.starts_with('/') && !s.split('/').any(|c| c == ".." || c.is_empty()));
    }
    // A peer's listing entry: path, value, sender, this host (lines).
    let mut l = s.split('\n');
    let (path, value, from, me) = (l.next().unwrap_or(""), l.next().unwrap_or(""), l.next().unwrap_or("node2"), l.next().unwrap_or("node1"));
    if let Ok(rule) = classify(path, me) {
        let _ = rule.allows(from, value, value.len() % 2 == 0);
        let _ = rule.owner();
        // Whatever the stamps: a peer's value never replaces this host's own state.
        let local = (path.len() % 3 != 0).then_some(LinkState { value: from, stamp_ns: path.len() as u64 });
        let verdict = decide(rule, local, LinkState { value, stamp_ns: value.len() as u64 }, from);
        if let Rule::Owner(_, _, true) = rule {
            assert_ne!(verdict, Verdict::Merge, "{path:?} -> {value:?} from {from:?}");
        }
    }
    let _ = may_merge(path, value, from, me, path.len() % 2 == 0);
});
