// SPDX-License-Identifier: GPL-2.0

//! A fixed-capacity FIFO allocated once: queueing on the I/O path never allocates.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;

/// A FIFO of at most `capacity` items.
pub(crate) struct Ring<T> {
    slots: KVec<Option<T>>,
    head: usize,
    count: usize,
}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(Ring { slots, head: 0, count: 0 })
    }

    pub(crate) fn is_full(&self) -> bool {
        self.count == self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `item`, or gives it back if the ring is full.
    pub(crate) fn push(&mut self, item: T) -> core::result::Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        let at = (self.head + self.count) % self.slots.len();
        self.slots[at] = Some(item);
        self.count += 1;
        Ok(())
    }

    /// Removes the oldest item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.count == 0 {
            return None;
        }
        let item = self.slots[self.head].take();
        self.head = (self.head + 1) % self.slots.len();
        self.count -= 1;
        item
    }
}

impl<T> Ring<T> {
    /// The items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let len = self.slots.len();
        (0..self.count).filter_map(move |i| self.slots[(self.head + i) % len].as_ref())
    }
}
