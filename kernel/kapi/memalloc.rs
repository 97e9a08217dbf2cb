// SPDX-License-Identifier: GPL-2.0

//! Allocation scopes (C: `memalloc_noio_save`, `memalloc_noio_restore`).
//!
//! Code on the I/O path of `/dev/mars/*` must not allocate memory in a way that can
//! start I/O for reclaim: that I/O could be a write to our own device, waiting behind
//! the allocation that started it. Inside a [`NoIoScope`] every allocation of the
//! current task behaves as `GFP_NOIO`, including `KVec`'s `GFP_KERNEL` ones.

use super::sys;

/// While alive, the current task allocates as if with `GFP_NOIO`. Not `Send`: the
/// scope belongs to the task that entered it and must end on that task.
pub(crate) struct NoIoScope {
    saved: u32,
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl NoIoScope {
    /// Enters the scope for the current task.
    pub(crate) fn enter() -> NoIoScope {
        // SAFETY: only changes flags of the current task; restored in `drop`, on the same
        // task (the type is not `Send`).
        let saved = unsafe { sys::mars_memalloc_noio_save() };
        NoIoScope { saved, _not_send: core::marker::PhantomData }
    }
}

impl Drop for NoIoScope {
    fn drop(&mut self) {
        // SAFETY: `saved` came from the matching `memalloc_noio_save` on this task;
        // scopes nest and are dropped in reverse order (they are stack values).
        unsafe { sys::mars_memalloc_noio_restore(self.saved) };
    }
}
