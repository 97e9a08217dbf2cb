// SPDX-License-Identifier: GPL-2.0

//! Fixed-capacity FIFOs allocated once: queueing on the I/O path never allocates.
//! [`Ring`] for one thread, [`Queue`] between threads.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

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

/// A bounded FIFO shared between threads: producers wait while it is full, the consumer
/// waits (with a timeout) while it is empty. After [`Queue::close`] pushes fail and hand
/// the item back; what is queued can still be taken.
#[pin_data]
pub(crate) struct Queue<T> {
    #[pin]
    state: Mutex<(Ring<T>, bool)>,
    #[pin]
    queued: CondVar,
    #[pin]
    room: CondVar,
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Result<Arc<Queue<T>>> {
        let ring = Ring::new(capacity)?;
        Arc::pin_init(
            pin_init!(Queue {
                state <- new_mutex!((ring, false), "mars_queue"),
                queued <- new_condvar!("mars_queue_queued"),
                room <- new_condvar!("mars_queue_room"),
            }),
            GFP_KERNEL,
        )
    }

    /// Appends `item`, waiting for room; gives it back if the queue is closed.
    pub(crate) fn push(&self, item: T) -> core::result::Result<(), T> {
        let mut st = self.state.lock();
        while !st.1 && st.0.is_full() {
            self.room.wait(&mut st);
        }
        if st.1 {
            return Err(item);
        }
        let pushed = st.0.push(item);
        drop(st);
        self.queued.notify_one();
        pushed
    }

    /// Waits up to `ms` milliseconds for an item, then takes the oldest, if any. Never
    /// spins: an empty queue is always waited on (kthread_stop wakes the waiter).
    pub(crate) fn pop_wait(&self, ms: u32) -> Option<T> {
        let mut st = self.state.lock();
        if st.0.is_empty() {
            let _ = self.queued.wait_interruptible_timeout(&mut st, msecs_to_jiffies(ms));
        }
        let item = st.0.pop();
        drop(st);
        if item.is_some() {
            self.room.notify_one();
        }
        item
    }

    /// Moves items from the head into `out` while `take` says so and `out` has room.
    pub(crate) fn pop_while(&self, take: impl Fn(&T) -> bool, out: &mut Ring<T>) {
        let mut st = self.state.lock();
        while !out.is_full() && st.0.iter().next().is_some_and(&take) {
            if let Some(item) = st.0.pop() {
                let _ = out.push(item);
            }
        }
        drop(st);
        self.room.notify_all();
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.state.lock().0.is_empty()
    }

    /// Pushes fail from now on; wakes all waiters.
    pub(crate) fn close(&self) {
        self.state.lock().1 = true;
        self.room.notify_all();
        self.queued.notify_all();
    }
}
