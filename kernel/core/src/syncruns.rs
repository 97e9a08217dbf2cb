//! Which reads a full sync asks for (docu/replication.md, "Fast full sync"): the
//! differing [`SYNC_BLOCK`]s of a stretch of disk, adjacent ones merged into one
//! `SyncRead` of at most [`MAX_SYNC_READ`] bytes, and those reads grouped into batches
//! whose data is written to the disk together.

use super::wire::{MAX_SYNC_READ, SYNC_BLOCK};

/// In a resource's `actual-<host>/`: the host whose disk the blocks of the host's
/// unfinished full sync were copied from (deleted when the sync completes).
pub const SYNC_SOURCE: &str = "sync-source";

/// In a resource's `actual-<host>/`: the source's flushed writeback position (a replay
/// link) when the host's unfinished full sync began to compare the disk from its first
/// block; once the sync completes, replay goes on from there (`replication::replay_after_sync`).
pub const SYNC_FROM: &str = "sync-from";

/// In a resource's `actual-<host>/`: 1 while the primary refuses the host's full sync
/// because the host's replay start is not on the primary's history
/// (`wire::SYNC_OFF_HISTORY`: a forced failover after the host's invalidation), 0 once a
/// sync was accepted. Views show [`SYNC_REFUSED_HINT`].
pub const SYNC_REFUSED: &str = "sync-refused";

/// What to do about [`SYNC_REFUSED`].
pub const SYNC_REFUSED_HINT: &str = "sync refused: the primary's history does not pass through this host's replay start (a forced failover since it was invalidated), so no full sync from it can make this disk consistent: `marsadm invalidate` again here";

/// In a resource's `actual-<host>/`: how the host last became primary and from whom,
/// `<mode>,<old host>` (`mars_core::handover::Mode::word`), written before its device
/// and sync server start.
pub const TOOK_OVER: &str = "took-over";

/// How long a sync whose source changed waits for the new primary's [`TOOK_OVER`] to
/// arrive before it starts again at 0 anyway.
pub const TAKEOVER_WAIT_MS: u64 = 30_000;

/// Where a full sync from `primary` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    At(u64),
    /// Not yet: how `primary` took over is not known here yet.
    Wait,
}

/// Where a full sync from `primary` starts, `syncstatus-<me>` being `status` and the
/// blocks below it copied from `source` (none: the disk below `status` is a complete
/// copy, e.g. the old size after `resize`, or the sync was begun by a module that did
/// not record its source). `took_over`: `primary`'s [`TOOK_OVER`] if written after its
/// designation (else `None`), `waited_ms` since the sync first asked.
///
/// From the same source, or from a host that took over from it by a planned handover
/// (it has replayed everything the source logged), the sync resumes at `status`. After
/// a forced failover the new primary's disk lacks what the old one wrote after the
/// split; blocks copied from the old one are never compared again by a sync that
/// resumes, and the replay of the new primary's logfiles does not rewrite them either:
/// the copy would count as consistent with another history's blocks. So in every other
/// case it starts at 0 (every block is compared; only differing ones are copied).
pub fn start_at(status: u64, source: Option<&str>, primary: &str, took_over: Option<&str>, waited_ms: u64) -> Start {
    let Some(source) = source.filter(|s| *s != primary) else { return Start::At(status) };
    match took_over.map(|v| v.split_once(',')) {
        Some(Some(("planned", from))) if from == source => Start::At(status),
        Some(_) => Start::At(0),
        None if waited_ms < TAKEOVER_WAIT_MS => Start::Wait,
        None => Start::At(0),
    }
}

/// One read: `len` bytes of the disk from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub offset: u64,
    pub len: u32,
}

/// The runs of differing blocks of the stretch `start..end` of a disk, in order: block
/// `i` is `start + i * SYNC_BLOCK` up to the next block or `end` (the last block of a
/// disk may be shorter), and differs if `differs[i]`. `start` is block-aligned; blocks
/// past `end` and flags past the stretch's blocks are ignored.
pub struct Runs<'a> {
    differs: &'a [bool],
    start: u64,
    end: u64,
    next: usize,
}

/// Blocks one run holds at most.
const RUN_BLOCKS: usize = (MAX_SYNC_READ / SYNC_BLOCK) as usize;

/// The runs of `differs` over `start..end` (see [`Runs`]).
pub fn runs(differs: &[bool], start: u64, end: u64) -> Runs<'_> {
    Runs { differs, start, end, next: 0 }
}

impl Runs<'_> {
    /// Where block `i` starts, if it starts before `end`.
    fn block_at(&self, i: usize) -> Option<u64> {
        let at = u64::try_from(i).ok()?.checked_mul(u64::from(SYNC_BLOCK))?.checked_add(self.start)?;
        (at < self.end).then_some(at)
    }
}

impl Iterator for Runs<'_> {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        // The first differing block from `next`.
        let first = self.next + self.differs.get(self.next..)?.iter().position(|&d| d)?;
        let offset = self.block_at(first)?;
        let mut last = first;
        while last + 1 < first + RUN_BLOCKS && self.differs.get(last + 1) == Some(&true) && self.block_at(last + 1).is_some() {
            last += 1;
        }
        self.next = last + 1;
        // The run ends at the next block or at `end`; at most RUN_BLOCKS blocks, so the
        // length fits in u32.
        let stop = self.block_at(last + 1).unwrap_or(self.end);
        Some(Run { offset, len: (stop - offset) as u32 })
    }
}

/// Takes from `runs` the runs of one batch of at most `max` bytes (at least one run if
/// any is left; a run is never longer than [`MAX_SYNC_READ`]), calling `each` for every
/// one; returns the batch's bytes.
pub fn take_batch<E>(runs: &mut core::iter::Peekable<Runs<'_>>, max: u32, mut each: impl FnMut(Run) -> Result<(), E>) -> Result<u32, E> {
    let mut bytes = 0u32;
    while let Some(run) = runs.next_if(|r| bytes == 0 || bytes.checked_add(r.len).is_some_and(|b| b <= max)) {
        each(run)?;
        bytes = bytes.saturating_add(run.len);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_resumes_only_within_one_history() {
        assert_eq!(start_at(4096, Some("node1"), "node1", None, 0), Start::At(4096));
        // No source: the disk below the status is a complete copy (resize).
        assert_eq!(start_at(4096, None, "node1", None, 0), Start::At(4096));
        // A planned handover node1 -> node2 during the sync: node2 has all of node1's log.
        assert_eq!(start_at(4096, Some("node1"), "node2", Some("planned,node1"), 0), Start::At(4096));
        // A forced failover to node3 during the sync: every block is compared again.
        assert_eq!(start_at(4096, Some("node1"), "node3", Some("forced,node1"), 0), Start::At(0));
        // Planned, but from another host than the blocks came from.
        assert_eq!(start_at(4096, Some("node1"), "node3", Some("planned,node2"), 0), Start::At(0));
        assert_eq!(start_at(4096, Some("node1"), "node3", Some("garbage"), 0), Start::At(0));
        // How node3 took over is not known here yet: wait, then start again anyway.
        assert_eq!(start_at(4096, Some("node1"), "node3", None, 0), Start::Wait);
        assert_eq!(start_at(4096, Some("node1"), "node3", None, TAKEOVER_WAIT_MS), Start::At(0));
    }
    use std::vec::Vec;

    const B: u64 = SYNC_BLOCK as u64;

    fn all(differs: &[bool], start: u64, end: u64) -> Vec<(u64, u32)> {
        runs(differs, start, end).map(|r| (r.offset, r.len)).collect()
    }

    #[test]
    fn merges_adjacent_blocks() {
        let d = [false, true, true, false, true, false, false, true];
        let start = 16 * B;
        assert_eq!(all(&d, start, start + 8 * B), [(start + B, 2 * B as u32), (start + 4 * B, B as u32), (start + 7 * B, B as u32)]);
        assert_eq!(all(&[false; 8], start, start + 8 * B), []);
        assert_eq!(all(&[true; 3], 0, 3 * B), [(0, 3 * B as u32)]);
    }

    #[test]
    fn splits_at_the_read_limit() {
        let d = [true; 40];
        let r = all(&d, 0, 40 * B);
        let n = RUN_BLOCKS as u64;
        assert_eq!(r, [(0, MAX_SYNC_READ), (n * B, MAX_SYNC_READ), (2 * n * B, (40 - 2 * n) as u32 * SYNC_BLOCK)]);
    }

    #[test]
    fn last_block_is_short_and_nothing_goes_past_the_end() {
        // A disk of 3 blocks and 4 KiB; flags beyond it are ignored.
        let end = 3 * B + 4096;
        assert_eq!(all(&[false, false, true, true, true, true], 0, end), [(2 * B, B as u32 + 4096)]);
        assert_eq!(all(&[false, false, false, true, true], 0, end), [(3 * B, 4096)]);
        assert_eq!(all(&[true; 4], 0, 2 * B), [(0, 2 * B as u32)]);
    }

    #[test]
    fn every_differing_block_is_covered_once() {
        // Pseudo-random patterns: the runs cover exactly the differing blocks, in order.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..400 {
            // Sparse to dense, so runs beyond the read limit come up too.
            let density = round % 8 + 1;
            let n = (x % 300) as usize + 1;
            let d: Vec<bool> = (0..n).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x % 9 < density }).collect();
            let end = n as u64 * B - (x % 128) * 512;
            let mut covered = vec![false; n];
            let mut last_end = 0;
            for r in runs(&d, 0, end) {
                assert!(r.offset >= last_end && r.len > 0 && r.len <= MAX_SYNC_READ && r.offset + u64::from(r.len) <= end);
                last_end = r.offset + u64::from(r.len);
                for b in (r.offset / B)..(last_end.div_ceil(B)) {
                    assert!(!covered[b as usize]);
                    covered[b as usize] = true;
                }
            }
            assert_eq!(covered, d);
        }
    }

    #[test]
    fn batches_stay_within_their_size() {
        let d = [true, true, false, true, false, true, true, true];
        let mut r = runs(&d, 0, 8 * B).peekable();
        let mut got = Vec::new();
        assert_eq!(take_batch::<()>(&mut r, 3 * SYNC_BLOCK, |run| {
            got.push(run.offset);
            Ok(())
        }), Ok(3 * SYNC_BLOCK));
        assert_eq!(got, [0, 3 * B]);
        assert_eq!(take_batch::<()>(&mut r, SYNC_BLOCK, |_| Ok(())), Ok(3 * SYNC_BLOCK), "one run at least");
        assert_eq!(take_batch::<()>(&mut r, SYNC_BLOCK, |_| Ok(())), Ok(0));
        assert_eq!(take_batch(&mut runs(&d, 0, 8 * B).peekable(), 8 * SYNC_BLOCK, |_| Err(7)), Err(7));
    }
}
