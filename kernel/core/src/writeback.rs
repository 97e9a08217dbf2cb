//! Planning the writeback of buffered writes (and the replay of a window of log records)
//! to the disk: sorted by position, later writes win, nothing written out of order where
//! writes overlap. Also the overlay of buffered writes onto a read.
//!
//! The writer side (kernel/primary/writeback.rs, kernel/secondary/replay.rs) holds pieces — buffered writes
//! `(pos, len, order)`, `order` being log order — sorted by `(pos, order)`. [`Extents`]
//! cuts that sorted list into *extents*: maximal runs of pieces that overlap each other
//! transitively. Extents are disjoint, so they may be written concurrently and in any
//! order (the block layer merges adjacent ones). Inside an extent the newest piece wins
//! byte by byte: when one piece covers the whole extent and is the newest that touches
//! it, it alone is written (the common case of a block rewritten while buffered);
//! otherwise the pieces are applied in `order` to one buffer of the extent's length,
//! which is then written.

/// A buffered write: `len` bytes at byte `pos` of the disk, `order` its place in the log.
pub trait Piece {
    /// First byte on the disk.
    fn pos(&self) -> u64;
    /// Number of bytes.
    fn len(&self) -> u32;
    /// Log order: a larger order is a later write.
    fn order(&self) -> u64;
    /// One past the last byte.
    fn end(&self) -> u64 {
        self.pos() + self.len() as u64
    }
}

/// How to write one extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extent {
    /// Write this piece (index into the sorted slice) as it is; the other pieces of the
    /// extent (`skipped`) are older and entirely covered by it.
    Single { piece: usize, skipped: usize },
    /// Apply the pieces `first..last` (indices into the sorted slice) in `order` to a
    /// buffer for `[start, end)`, then write the buffer.
    Merge { first: usize, last: usize, start: u64, end: u64 },
}

/// Iterator over the extents of pieces sorted by `(pos, order)` (see the module doc).
pub struct Extents<'a, P: Piece> {
    pieces: &'a [P],
    next: usize,
}

impl<'a, P: Piece> Extents<'a, P> {
    /// `pieces` must be sorted by `(pos, order)`; [`is_sorted`] checks that.
    pub fn new(pieces: &'a [P]) -> Self {
        Extents { pieces, next: 0 }
    }
}

/// Whether `pieces` is sorted by `(pos, order)`, as [`Extents`] needs.
pub fn is_sorted<P: Piece>(pieces: &[P]) -> bool {
    pieces.windows(2).all(|w| (w[0].pos(), w[0].order()) <= (w[1].pos(), w[1].order()))
}

impl<P: Piece> Iterator for Extents<'_, P> {
    type Item = Extent;

    fn next(&mut self) -> Option<Extent> {
        let first = self.next;
        let head = self.pieces.get(first)?;
        let (start, mut end) = (head.pos(), head.end());
        let mut newest = first;
        let mut last = first + 1;
        while let Some(p) = self.pieces.get(last) {
            if p.pos() >= end {
                break;
            }
            end = end.max(p.end());
            if p.order() > self.pieces[newest].order() {
                newest = last;
            }
            last += 1;
        }
        self.next = last;
        let n = &self.pieces[newest];
        Some(if n.pos() == start && n.end() == end {
            Extent::Single { piece: newest, skipped: last - first - 1 }
        } else {
            Extent::Merge { first, last, start, end }
        })
    }
}

/// Where a piece lands in a buffer for `[start, start + len)`: `(offset in the piece,
/// offset in the buffer, byte count)`, or `None` if they do not overlap.
pub fn overlap(start: u64, len: u64, piece_pos: u64, piece_len: u64) -> Option<(usize, usize, usize)> {
    let from = start.max(piece_pos);
    let to = (start + len).min(piece_pos + piece_len);
    if from >= to {
        return None;
    }
    Some(((from - piece_pos) as usize, (from - start) as usize, (to - from) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct W {
        pos: u64,
        data: Vec<u8>,
        order: u64,
    }

    impl Piece for W {
        fn pos(&self) -> u64 {
            self.pos
        }
        fn len(&self) -> u32 {
            self.data.len() as u32
        }
        fn order(&self) -> u64 {
            self.order
        }
    }

    /// The disk after applying `writes` one by one in log order.
    fn in_order(disk: &[u8], writes: &[W]) -> Vec<u8> {
        let mut d = disk.to_vec();
        let mut w = writes.to_vec();
        w.sort_by_key(|w| w.order);
        for w in &w {
            d[w.pos as usize..w.end() as usize].copy_from_slice(&w.data);
        }
        d
    }

    /// The disk after executing the plan, extents in reverse (any order must do).
    fn planned(disk: &[u8], writes: &[W]) -> Vec<u8> {
        let mut sorted = writes.to_vec();
        sorted.sort_by_key(|w| (w.pos, w.order));
        assert!(is_sorted(&sorted));
        let extents: Vec<Extent> = Extents::new(&sorted).collect();
        let mut d = disk.to_vec();
        for e in extents.iter().rev() {
            match *e {
                Extent::Single { piece, .. } => {
                    let w = &sorted[piece];
                    d[w.pos as usize..w.end() as usize].copy_from_slice(&w.data);
                }
                Extent::Merge { first, last, start, end } => {
                    let mut buf: Vec<Option<u8>> = vec![None; (end - start) as usize];
                    let mut run = sorted[first..last].to_vec();
                    run.sort_by_key(|w| w.order);
                    for w in &run {
                        let (src, dst, n) = overlap(start, end - start, w.pos, w.len() as u64).unwrap();
                        for (b, v) in buf[dst..dst + n].iter_mut().zip(&w.data[src..src + n]) {
                            *b = Some(*v);
                        }
                    }
                    // A merged extent is fully covered: no byte may be left unset.
                    let buf: Vec<u8> = buf.iter().map(|b| b.unwrap_or_else(|| panic!("hole in {e:?}"))).collect();
                    d[start as usize..end as usize].copy_from_slice(&buf);
                }
            }
        }
        d
    }

    fn w(pos: u64, len: usize, order: u64) -> W {
        W { pos, data: vec![order as u8; len], order }
    }

    #[test]
    fn disjoint_pieces_are_single_extents() {
        let ws = [w(0, 8, 1), w(8, 8, 2), w(32, 4, 3)];
        let e: Vec<_> = Extents::new(&ws).collect();
        assert_eq!(
            e,
            [
                Extent::Single { piece: 0, skipped: 0 },
                Extent::Single { piece: 1, skipped: 0 },
                Extent::Single { piece: 2, skipped: 0 }
            ]
        );
    }

    #[test]
    fn rewritten_block_writes_only_the_newest() {
        let ws = [w(16, 8, 1), w(16, 8, 5), w(16, 8, 9)];
        assert_eq!(Extents::new(&ws).collect::<Vec<_>>(), [Extent::Single { piece: 2, skipped: 2 }]);
    }

    #[test]
    fn newer_covering_piece_hides_older_inner_piece() {
        let mut ws = vec![w(0, 16, 7), w(4, 4, 3)];
        ws.sort_by_key(|w| (w.pos, w.order));
        assert_eq!(Extents::new(&ws).collect::<Vec<_>>(), [Extent::Single { piece: 0, skipped: 1 }]);
    }

    #[test]
    fn older_covering_piece_needs_a_merge() {
        let ws = [w(0, 16, 1), w(4, 4, 3)];
        assert_eq!(Extents::new(&ws).collect::<Vec<_>>(), [Extent::Merge { first: 0, last: 2, start: 0, end: 16 }]);
        let disk = vec![0u8; 32];
        assert_eq!(planned(&disk, &ws), in_order(&disk, &ws));
    }

    #[test]
    fn chained_overlaps_form_one_extent() {
        let ws = [w(0, 8, 3), w(6, 8, 1), w(12, 8, 2), w(40, 1, 4)];
        let e: Vec<_> = Extents::new(&ws).collect();
        assert_eq!(e, [Extent::Merge { first: 0, last: 3, start: 0, end: 20 }, Extent::Single { piece: 3, skipped: 0 }]);
    }

    #[test]
    fn empty_input_has_no_extents() {
        let ws: [W; 0] = [];
        assert_eq!(Extents::new(&ws).count(), 0);
    }

    #[test]
    fn overlap_cases() {
        assert_eq!(overlap(100, 10, 0, 100), None);
        assert_eq!(overlap(100, 10, 110, 5), None);
        assert_eq!(overlap(100, 10, 95, 10), Some((5, 0, 5)));
        assert_eq!(overlap(100, 10, 105, 10), Some((0, 5, 5)));
        assert_eq!(overlap(100, 10, 90, 40), Some((10, 0, 10)));
        assert_eq!(overlap(100, 10, 102, 3), Some((0, 2, 3)));
    }

    /// A small deterministic generator, so this test needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % below
        }
    }

    #[test]
    fn plan_equals_applying_in_log_order_randomised() {
        let mut rng = Lcg(42);
        for round in 0..2000 {
            let disk: Vec<u8> = (0..256).map(|i| i as u8).collect();
            let n = 1 + rng.next(12) as usize;
            let ws: Vec<W> = (0..n)
                .map(|i| {
                    let len = 1 + rng.next(64) as usize;
                    let pos = rng.next(256 - len as u64);
                    W { pos, data: (0..len).map(|_| rng.next(250) as u8 + 1).collect(), order: i as u64 + round }
                })
                .collect();
            assert_eq!(planned(&disk, &ws), in_order(&disk, &ws), "round {round}: {ws:?}");
        }
    }
}
