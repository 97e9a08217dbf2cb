//! The replication rules on tree values from disk and peers: `next_logfile`,
//! `hole_after`, `switchover`, `is_consistent`. Lines of the input: the replay link,
//! three version links (mine, origin's, next's), then logfile and entry names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mars_core::replication::{hole_after, is_consistent, next_logfile, switchover, NextCopy, SwitchLinks};
use mars_core::tree::{LogName, ReplayLink};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = core::str::from_utf8(data) else { return };
    let mut lines = s.split('\n');
    let Some(replay) = lines.next().and_then(|l| ReplayLink::parse(l).ok()) else { return };
    let mut link = || lines.next().filter(|v| !v.is_empty());
    let (mine, origin, next) = (link(), link(), link());
    // The next logfile's local copy: its size and whether the fetch confirmed it, from
    // the input's length (any value must be judged).
    let next_copy = (data.len() % 3 != 0).then(|| NextCopy { size: data.len() as u64, confirmed: data.len() % 3 == 1 });
    let links = SwitchLinks { mine, origin, next, next_copy };
    let names: Vec<&str> = lines.collect();
    let logs = names.iter().filter_map(|n| LogName::parse(n).ok());
    let next = next_logfile(replay.log, logs).ok().flatten();
    // A name's value: the line after it (any text must be judged).
    let value = |name: &str| names.iter().position(|n| *n == name).and_then(|i| names.get(i + 1)).map(|v| v.as_bytes());
    let _ = hole_after(replay.log, names.iter().copied(), value);
    let _ = switchover(&replay, next, &links);
    let syncpos = names.first().and_then(|n| ReplayLink::parse(n).ok());
    let _ = is_consistent(replay.start, replay.len, syncpos.as_ref(), &replay);
});
