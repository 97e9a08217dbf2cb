//! The replication rules on tree values from disk and peers: `next_in_sequence`
//! (`next_logfile`, `hole_after`, `discarded`), `switchover`, `leaves_synced_history`, `sync_serving`, `stands_for_writer`, `is_consistent`, `replay_after_sync`, the split-brain
//! analysis (`compare_histories`, `beyond_primary`, `version_fate`) and the strategy's
//! takeover and follow decisions (`round::takeover_here`, `round::follow`: their
//! `superseding`, `went_on_unseen`, `skipped_by_hole`). Lines of the input: the replay
//! link, three version links (mine, origin's, next's), then entry names, each followed
//! by its value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt;

use mars_core::replication::{is_consistent, leaves_synced_history, next_in_sequence, stands_for_writer, switchover, sync_serving, replay_after_sync, NextCopy, SwitchLinks};
use mars_core::round::{follow, takeover_here, Activity, Links};
use mars_core::splitbrain::{beyond_primary, compare_histories, version_fate};
use mars_core::tree::{LogName, ReplayLink};

/// A resource directory from the input: each entry name with the line after it as its
/// value, its position as its stamp.
struct Dir<'a>(&'a [&'a str]);

impl Links for Dir<'_> {
    type Value = Vec<u8>;
    type Error = ();
    fn stamped(&self, name: fmt::Arguments<'_>) -> Result<Option<(Vec<u8>, u64)>, ()> {
        let name = fmt::format(name);
        let at = self.0.iter().position(|n| *n == name);
        Ok(at.and_then(|i| Some((self.0.get(i + 1)?.as_bytes().to_vec(), i as u64))))
    }
    fn names(&self, each: &mut dyn FnMut(&str)) -> Result<(), ()> {
        self.0.iter().for_each(|n| each(n));
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = core::str::from_utf8(data) else { return };
    let mut lines = s.split('\n');
    let Some(replay) = lines.next().and_then(|l| ReplayLink::parse(l).ok()) else { return };
    let mut link = || lines.next().filter(|v| !v.is_empty());
    let (mine, origin, next) = (link(), link(), link());
    // The next logfile's local copy: its size and whether the fetch confirmed it, from
    // the input's length (any value must be judged).
    let next_copy = (data.len() % 3 != 0).then(|| NextCopy { size: data.len() as u64, confirmed: data.len() % 3 == 1 });
    let names: Vec<&str> = lines.collect();
    let links = SwitchLinks { mine, origin, next, next_copy, syncpos: names.first().copied(), off_synced_history: data.len() % 5 == 0 };
    // A name's value: the line after it (any text must be judged).
    let value = |name: &str| names.iter().position(|n| *n == name).and_then(|i| names.get(i + 1)).map(|v| v.as_bytes());
    let logs = names.iter().filter_map(|n| LogName::parse(n).ok());
    let next = next_in_sequence(replay.log, logs, || names.iter().copied(), value).ok().flatten();
    let _ = switchover(&replay, next, &links);
    let _ = sync_serving(&replay, LogName { nr: replay.log.nr.wrapping_add(data.len() as u32 % 3), host: "node1" }, (replay.log.nr, data.len() as u64), mine);
    if let (Some(n), Some(synced)) = (next, names.first().and_then(|p| ReplayLink::parse(p).ok())) {
        let _ = leaves_synced_history(n, synced.log, |l| value(&format!("version-{:09}-{}", l.nr, l.host)));
    }
    if let Some(n) = next {
        for v in &names {
            let _ = stands_for_writer(v, n, mine);
        }
    }
    // Version links of two hosts from the entries (`version-<nr>-<host>` = value).
    let versions = |host: &str| -> Vec<(u32, &str)> {
        let links = names.iter().enumerate().filter_map(|(i, n)| {
            let (nr, h) = n.strip_prefix("version-")?.split_once('-')?;
            (h == host).then(|| Some((nr.parse().ok()?, *names.get(i + 1)?))).flatten()
        });
        links.collect()
    };
    let (a, b) = (versions(replay.log.host), versions("node2"));
    let _ = compare_histories(&a, &b);
    let _ = beyond_primary(replay.log.host, replay.log.nr, &b);
    for &(nr, _) in &b {
        let _ = version_fate("node2", nr, &b, &a);
    }
    let dir = Dir(&names);
    for me in ["node1", "node2", replay.log.host] {
        let _ = takeover_here(&dir, me, data.len() as u64, data.len() % 2 == 0);
        let on = Activity { connected: true, syncing: false, sync_slot_free: true, space_allows_sync: true };
        let _ = follow(&dir, me, Some(me), data.len() as u64, on);
    }
    let syncpos = names.first().and_then(|n| ReplayLink::parse(n).ok());
    let _ = is_consistent(replay.start, replay.len, syncpos.as_ref(), &replay);
    // A primary's answer to `SyncStart` (the first entry as its replay link) and its
    // version links as they came.
    if let Some(at) = &syncpos {
        let _ = replay_after_sync(&replay, at, links.origin, links.mine);
    }
});
