// SPDX-License-Identifier: GPL-2.0

//! Replay of a logfile onto the disk: crash recovery of a primary (design reference
//! §1.7), and later the secondaries' replay. Records are applied strictly in log order
//! from a start position; applying a record twice is harmless (it writes the same data
//! to the same place), so starting at an older position is always safe.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;

use crate::kapi::bdev::BlockDevice;
use crate::kapi::file::File;
use crate::digest::KernelDigests;
use crate::mars_core::log_record::{LogScanner, RecordError, RecordKind, ScanEnd, MAX_PAYLOAD, OVERHEAD};
use crate::mars_core::writeback::Piece;
use crate::writeback::{write_pieces, DiskWrite};

/// A record of the window being replayed.
struct Record<'a> {
    pos: u64,
    seq: u64,
    data: &'a [u8],
}

impl Piece for Record<'_> {
    fn pos(&self) -> u64 {
        self.pos
    }
    fn len(&self) -> u32 {
        self.data.len() as u32
    }
    fn order(&self) -> u64 {
        self.seq
    }
}

impl DiskWrite for Record<'_> {
    fn data(&self) -> &[u8] {
        self.data
    }
}

/// Bytes read from the logfile at a time (one record always fits).
const WINDOW: usize = 4 << 20;

/// Result of replaying a logfile.
pub(crate) struct Replayed {
    /// Offset just after the last valid record: where the valid log ends.
    pub(crate) end: u64,
    /// Records applied to the disk.
    pub(crate) applied: u64,
    /// Size of the logfile (bytes after `end` are a torn tail or damage).
    pub(crate) size: u64,
}

/// Applies every valid record of `log` that starts at or after `start` to `disk` (with
/// direct I/O, see `writeback::write_pieces`), then makes the disk durable. Stops at the
/// first invalid record (a torn tail after a crash); what follows it is reported, never
/// applied.
pub(crate) fn replay(log: &File, disk: &BlockDevice, start: u64, digests: &KernelDigests) -> Result<Replayed> {
    const _: () = assert!(WINDOW >= MAX_PAYLOAD as usize + OVERHEAD);
    let size = log.size();
    let mut window = KVec::from_elem(0u8, WINDOW, GFP_KERNEL)?;
    let (mut base, mut next_seq, mut applied) = (0u64, 1u64, 0u64);
    loop {
        let want = (size - base).min(WINDOW as u64) as usize;
        let mut got = 0;
        while got < want {
            let n = log.read_at(&mut window[got..want], base + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let mut scanner = LogScanner::resume(&window[..got], 0, next_seq, digests);
        let mut pieces = KVec::new();
        for (offset, rec) in scanner.by_ref() {
            if base + offset as u64 >= start && rec.header.kind == RecordKind::Write {
                pieces.push(Record { pos: rec.header.pos, seq: rec.header.seq, data: rec.payload }, GFP_KERNEL)?;
            }
            next_seq = rec.header.seq + 1;
        }
        // The window's records as one sorted batch, later records winning. A crash
        // half-way leaves the replay position where it was: replaying again is harmless.
        pieces.sort_unstable_by_key(|r| (r.pos, r.seq));
        write_pieces(disk, &pieces, true)?;
        applied += pieces.len() as u64;
        let consumed = scanner.offset() as u64;
        let more_in_file = base + (got as u64) < size;
        match scanner.end() {
            // The window ended inside a record: read on from that record.
            Some(ScanEnd::Bad { error: RecordError::Truncated { .. }, .. }) if more_in_file && consumed > 0 => {
                base += consumed;
            }
            end => {
                let end_pos = base + consumed;
                if end_pos < size {
                    pr_warn!("log ends at {} of {} bytes: {:?}\n", end_pos, size, end);
                }
                disk.flush()?;
                return Ok(Replayed { end: end_pos, applied, size });
            }
        }
    }
}
